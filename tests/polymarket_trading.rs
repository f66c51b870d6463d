//! Paper fills against the captured books (expected numbers worked out by hand in each test), and
//! the live trading client end to end against a local server that checks every L2 header, the
//! signature and the body, and answers with the docs' example responses.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sha2::Sha256;
use whale_trader::clock::{SimClock, Timestamp};
use whale_trader::config::Secret;
use whale_trader::domain::Side;
use whale_trader::market::{ClobMarketInfo, FeeCurve, FillRequest, OrderBook, simulate_fill};
use whale_trader::polymarket::{
    ClobTradingClient, L2Credentials, ListFilter, OrderType, PolymarketConfig, TradingError, UnsignedOrder,
    ZERO_BYTES32, limit_order_amounts, parse_books,
};
use wiremock::matchers::{body_json, method, path, query_param, query_param_is_missing};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fee_005() -> FeeCurve {
    FeeCurve::new(dec!(0.05), dec!(1), true).unwrap()
}

fn buy(limit_price: Decimal, size: Decimal) -> FillRequest {
    FillRequest { side: Side::Buy, limit_price, size, extra_slippage_bps: Decimal::ZERO }
}

// ---------------------------------------------------------------- paper fills on real books

#[test]
fn paper_buy_walks_the_asks_of_the_captured_book_with_fees() {
    let book = OrderBook::from_json(&fixture("clob_book.json")).unwrap();
    let fill = simulate_fill(&book, &buy(dec!(0.55), dec!(100)), &fee_005()).unwrap();
    // Asks from the best: 8.37 @ 0.43, 13.49 @ 0.53, 26.99 @ 0.54, then 51.15 of the 95 @ 0.55.
    let levels: Vec<(Decimal, Decimal)> = fill.fills.iter().map(|f| (f.price, f.size)).collect();
    assert_eq!(
        levels,
        vec![(dec!(0.43), dec!(8.37)), (dec!(0.53), dec!(13.49)), (dec!(0.54), dec!(26.99)), (dec!(0.55), dec!(51.15))]
    );
    // Notional: 3.5991 + 7.1497 + 14.5746 + 28.1325 = 53.4559.
    assert_eq!(fill.notional, dec!(53.4559));
    assert_eq!((fill.filled_size, fill.unfilled_size), (dec!(100), dec!(0)));
    assert_eq!(fill.average_price, Some(dec!(0.534559)));
    // Fees, shares × 0.05 × p × (1 − p):
    //   8.37 × 0.012255 = 0.10257435;  13.49 × 0.012455 = 0.16801795;
    //   26.99 × 0.01242 = 0.3352158;   51.15 × 0.012375 = 0.63298125;  sum 1.23878935.
    assert_eq!(fill.fills[0].fee, dec!(0.10257435));
    assert_eq!(fill.fee, dec!(1.23878935));
    assert_eq!(fill.cash_flow(), dec!(54.69468935));
    assert!(fill.is_complete());
}

#[test]
fn paper_buy_is_partial_when_depth_within_the_limit_runs_out() {
    let book = OrderBook::from_json(&fixture("clob_book.json")).unwrap();
    let fill = simulate_fill(&book, &buy(dec!(0.54), dec!(100)), &fee_005()).unwrap();
    // 8.37 + 13.49 + 26.99 = 48.85 filled; the 0.55 level is above the limit.
    assert_eq!((fill.filled_size, fill.unfilled_size), (dec!(48.85), dec!(51.15)));
    assert_eq!(fill.notional, dec!(25.3234));
    assert_eq!(fill.fee, dec!(0.6058081)); // 0.10257435 + 0.16801795 + 0.3352158
    assert_eq!(fill.average_price, Some(dec!(25.3234) / dec!(48.85)));
    assert!(!fill.is_complete());
}

#[test]
fn paper_sell_walks_the_bids_and_receives_notional_minus_fee() {
    let book = OrderBook::from_json(&fixture("clob_book.json")).unwrap();
    let request =
        FillRequest { side: Side::Sell, limit_price: dec!(0.28), size: dec!(400), extra_slippage_bps: dec!(0) };
    let fill = simulate_fill(&book, &request, &fee_005()).unwrap();
    // Bids from the best: 60.25 @ 0.30, 257.61 @ 0.29, then 82.14 of 135.39 @ 0.28.
    assert_eq!(fill.fills.iter().map(|f| f.size).collect::<Vec<_>>(), vec![dec!(60.25), dec!(257.61), dec!(82.14)]);
    // 18.075 + 74.7069 + 22.9992 = 115.7811
    assert_eq!(fill.notional, dec!(115.7811));
    // 60.25 × 0.0105 + 257.61 × 0.010295 + 82.14 × 0.01008 = 0.632625 + 2.65209495 + 0.8279712
    assert_eq!(fill.fee, dec!(4.11269115));
    assert_eq!(fill.cash_flow(), dec!(111.66840885));
}

#[test]
fn paper_slippage_moves_each_level_against_us() {
    let book = OrderBook::from_json(&fixture("clob_book.json")).unwrap();
    let request =
        FillRequest { side: Side::Buy, limit_price: dec!(0.60), size: dec!(20), extra_slippage_bps: dec!(50) };
    let fill = simulate_fill(&book, &request, &FeeCurve::FREE).unwrap();
    // 0.43 × 1.005 = 0.43215 and 0.53 × 1.005 = 0.53265; 8.37 × 0.43215 + 11.63 × 0.53265 = 3.6170955 + 6.1947195.
    assert_eq!(fill.fills.iter().map(|f| f.price).collect::<Vec<_>>(), vec![dec!(0.43215), dec!(0.53265)]);
    assert_eq!(fill.notional, dec!(9.811815));
    assert_eq!(fill.fee, dec!(0));
}

#[test]
fn paper_fill_on_a_neg_risk_book_with_the_markets_own_fee_curve() {
    let books = parse_books(fixture("clob_books_post_negrisk.json").as_bytes()).unwrap().books;
    let infos: Vec<Value> = serde_json::from_str(&fixture("clob_clob_markets_info.json")).unwrap();
    let info = ClobMarketInfo::from_json(&infos[0].to_string()).unwrap();
    assert_eq!(info.tokens[0].0, books[0].asset_id, "the fee curve belongs to this book's market");
    let fill = simulate_fill(&books[0], &buy(dec!(0.007), dec!(50000)), &info.fees).unwrap();
    // 10139.86 @ 0.006 + 29034.58 @ 0.007 = 60.83916 + 203.24206; the 0.008 level is above the limit.
    assert_eq!((fill.filled_size, fill.unfilled_size), (dec!(39174.44), dec!(10825.56)));
    assert_eq!(fill.notional, dec!(264.08122));
    // 10139.86 × 0.05 × 0.006 × 0.994 = 3.023706252; 29034.58 × 0.05 × 0.007 × 0.993 = 10.090968279.
    assert_eq!(fill.fee, dec!(13.114674531));
}

// ---------------------------------------------------------------- live client against 127.0.0.1

const API_SECRET: &str = "c2VjcmV0";
const API_KEY: &str = "f4f247b7-4ac7-ff29-a152-04fda0a8755a";
const PASSPHRASE: &str = "correct-horse";
const SIGNER: &str = "0x1234567890123456789012345678901234567890";
const NOW_SECS: i64 = 1_700_000_000;
const ORDER_ID: &str = "0xabcdef1234567890abcdef1234567890abcdef12";

/// Checks the five `POLY_*` headers and recomputes the HMAC over timestamp + method + path + body.
struct SignedByOurKey;

impl Match for SignedByOurKey {
    fn matches(&self, request: &Request) -> bool {
        let header =
            |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let message = format!(
            "{}{}{}{}",
            header("POLY_TIMESTAMP"),
            request.method.as_str(),
            request.url.path(),
            String::from_utf8_lossy(&request.body)
        );
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&URL_SAFE.decode(API_SECRET).unwrap()).unwrap();
        mac.update(message.as_bytes());
        let expected = URL_SAFE.encode(mac.finalize().into_bytes());
        header("POLY_SIGNATURE") == expected
            && header("POLY_TIMESTAMP") == NOW_SECS.to_string()
            && header("POLY_API_KEY") == API_KEY
            && header("POLY_PASSPHRASE") == PASSPHRASE
            && header("POLY_ADDRESS") == SIGNER
    }
}

fn credentials() -> L2Credentials {
    L2Credentials {
        address: SIGNER.into(),
        api_key: Secret::new(API_KEY),
        secret: Secret::new(API_SECRET),
        passphrase: Secret::new(PASSPHRASE),
    }
}

fn client(server: &MockServer) -> ClobTradingClient {
    let mut config = PolymarketConfig { clob_url: server.uri(), ..Default::default() };
    config.http.base_backoff_ms = 5;
    config.http.max_backoff_ms = 10;
    config.http.request_timeout_ms = 2_000;
    let clock = SimClock::starting_at(Timestamp::from_secs(NOW_SECS));
    ClobTradingClient::new(&config, credentials(), Arc::new(clock)).unwrap()
}

fn docs_response(name: &str) -> Value {
    let all: Value = serde_json::from_str(&fixture("clob_post_order_responses_docs_examples.json")).unwrap();
    all[name].clone()
}

fn fak_order() -> whale_trader::polymarket::PostOrderRequest {
    // A marketable BUY of 10 shares at 0.55 on a 0.01-tick market.
    let amounts = limit_order_amounts(Side::Buy, dec!(0.55), dec!(10), dec!(0.01), dec!(5)).unwrap();
    UnsignedOrder {
        salt: 42,
        maker: "0x9999999999999999999999999999999999999999".into(),
        signer: SIGNER.into(),
        token_id: "24098407321416745788627828656027763678598613197464854195771295502423714650576".into(),
        amounts,
        side: Side::Buy,
        signature_type: 2,
        timestamp_ms: NOW_SECS * 1000,
        expiration_secs: 0,
        metadata: ZERO_BYTES32.into(),
        builder: ZERO_BYTES32.into(),
        neg_risk: true,
    }
    .into_request("0xsigned".into(), API_KEY.into(), OrderType::Fak)
}

#[tokio::test]
async fn post_order_sends_a_signed_fak_body_and_reads_the_docs_answer() {
    let server = MockServer::start().await;
    // The body as the docs describe it, written out by hand: 10 shares × 0.55 = 5.5 pUSD.
    let expected_body = json!({
        "order": {
            "salt": 42,
            "maker": "0x9999999999999999999999999999999999999999",
            "signer": SIGNER,
            "tokenId": "24098407321416745788627828656027763678598613197464854195771295502423714650576",
            "makerAmount": "5500000",
            "takerAmount": "10000000",
            "side": "BUY",
            "expiration": "0",
            "signatureType": 2,
            "timestamp": "1700000000000",
            "metadata": ZERO_BYTES32,
            "builder": ZERO_BYTES32,
            "signature": "0xsigned"
        },
        "owner": API_KEY,
        "orderType": "FAK",
        "postOnly": false,
        "deferExec": false
    });
    Mock::given(method("POST"))
        .and(path("/order"))
        .and(SignedByOurKey)
        .and(body_json(&expected_body))
        .respond_with(ResponseTemplate::new(200).set_body_json(docs_response("matched_order")))
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server).post_order(&fak_order()).await.unwrap();
    assert!(answer.success);
    assert_eq!(answer.order_id, ORDER_ID);
    assert_eq!(answer.status, "matched");
    assert_eq!(answer.trade_ids, vec!["trade-123"]);
    assert_eq!(answer.transactions_hashes.len(), 1);
}

#[tokio::test]
async fn venue_refusals_are_typed_and_an_order_is_never_resent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(400).set_body_json(docs_response("error_400_invalid_order")))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("Retry-After", "79")
                .set_body_json(docs_response("error_503_post_only_mode")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let refused = client.post_order(&fak_order()).await.unwrap_err();
    assert_eq!(
        refused,
        TradingError::Rejected {
            status: 400,
            message: "order 0xabc... is invalid. Price (100) breaks minimum tick size rule: 0.1".into(),
            code: None
        }
    );
    // A 503 is retryable for reads, but an order is sent exactly once.
    let post_only = client.post_order(&fak_order()).await.unwrap_err();
    assert!(
        matches!(&post_only, TradingError::Rejected { status: 503, code: Some(c), .. } if c == "post_only_mode"),
        "{post_only:?}"
    );
}

#[tokio::test]
async fn cancel_is_signed_over_its_body_and_retried_on_5xx() {
    let server = MockServer::start().await;
    let cancels: Value = serde_json::from_str(&fixture("clob_cancel_order_docs_examples.json")).unwrap();
    Mock::given(method("DELETE"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/order"))
        .and(SignedByOurKey)
        .and(body_json(&cancels["request_DELETE_order"]))
        .respond_with(ResponseTemplate::new(200).set_body_json(&cancels["response_canceled"]))
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server).cancel_order(ORDER_ID).await.unwrap();
    assert_eq!(answer.canceled, vec![ORDER_ID]);
    assert!(answer.not_canceled.is_empty());

    server.reset().await;
    Mock::given(method("DELETE"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&cancels["response_not_canceled"]))
        .mount(&server)
        .await;
    let answer = client(&server).cancel_order(ORDER_ID).await.unwrap();
    assert_eq!(answer.not_canceled[ORDER_ID], "Order not found or already canceled");
    assert_eq!(client(&server).cancel_order("not-an-id").await, Err(TradingError::BadOrderId("not-an-id".into())));
}

fn open_order(id: &str, matched: &str) -> Value {
    json!({
        "id": id, "status": "LIVE", "owner": API_KEY, "maker_address": SIGNER,
        "market": "0x2583be7162d1e223505d91f9702c67da402385491ef84be2ae0b25822528dca4",
        "asset_id": "24098407321416745788627828656027763678598613197464854195771295502423714650576",
        "side": "BUY", "original_size": "10", "size_matched": matched, "price": "0.55",
        "associate_trades": null, "outcome": "No", "created_at": 1700000000, "expiration": "0", "order_type": "GTC"
    })
}

#[tokio::test]
async fn order_status_open_orders_and_trades_are_read_with_pagination() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/data/order/{ORDER_ID}")))
        .and(SignedByOurKey)
        .respond_with(ResponseTemplate::new(200).set_body_json(open_order(ORDER_ID, "4.5")))
        .mount(&server)
        .await;
    let asset = "24098407321416745788627828656027763678598613197464854195771295502423714650576";
    Mock::given(method("GET"))
        .and(path("/data/orders"))
        .and(SignedByOurKey)
        .and(query_param("asset_id", asset))
        .and(query_param_is_missing("next_cursor"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"data": [open_order("0x01", "0")], "next_cursor": "MQ==", "limit": 1, "count": 1}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/data/orders"))
        .and(query_param("next_cursor", "MQ=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": [open_order("0x02", "1.25")], "next_cursor": "LTE=", "limit": 1, "count": 1}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/data/trades"))
        .and(SignedByOurKey)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "trade-123", "taker_order_id": ORDER_ID, "market": "0x25", "asset_id": asset,
                      "side": "BUY", "size": "10", "fee_rate_bps": "0", "price": "0.55", "status": "CONFIRMED",
                      "match_time": "1700000000", "outcome": "No", "owner": API_KEY, "maker_address": SIGNER,
                      "transaction_hash": "0xfeed", "trader_side": "TAKER", "maker_orders": []}],
            "next_cursor": "LTE=", "limit": 100, "count": 1
        })))
        .mount(&server)
        .await;

    let client = client(&server);
    let status = client.order_status(ORDER_ID).await.unwrap();
    assert_eq!((status.size_matched, status.original_size, status.price), (dec!(4.5), dec!(10), dec!(0.55)));
    let filter = ListFilter { asset_id: Some(asset.into()), ..ListFilter::default() };
    let open = client.open_orders(&filter).await.unwrap();
    assert_eq!(open.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), vec!["0x01", "0x02"]);
    assert_eq!(open[1].size_matched, dec!(1.25));
    let trades = client.trades(&ListFilter::default()).await.unwrap();
    assert_eq!(
        (trades[0].id.as_str(), trades[0].status.as_str(), trades[0].size),
        ("trade-123", "CONFIRMED", dec!(10))
    );
}

#[tokio::test]
async fn a_client_without_full_credentials_refuses_to_start() {
    let config = PolymarketConfig::default();
    let clock = Arc::new(SimClock::default());
    let missing = L2Credentials { passphrase: Secret::default(), ..credentials() };
    let err = ClobTradingClient::new(&config, missing, clock).unwrap_err();
    assert_eq!(err.to_string(), "api_passphrase is missing");
}
