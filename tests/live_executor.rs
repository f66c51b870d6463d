//! The live executor's whole path against a local CLOB on 127.0.0.1 (wiremock): submit (signed
//! FAK body in the docs' shape, the five L2 headers checked and the HMAC recomputed), the outcome
//! back into the engine's queue, the kill switch's cancel, a lost answer resolved without sending
//! again, and reconciliation of an order whose outcome was lost in a restart. Only with
//! `--features live` (the EIP-712 signer).
#![cfg(feature = "live")]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use whale_trader::clock::{SimClock, Timestamp};
use whale_trader::config::Secret;
use whale_trader::domain::{ClientOrderId, MarketId, Side, TokenId};
use whale_trader::engine::{ExecutionReport, Executor, MarketView, VenueRules};
use whale_trader::live::{LiveExecutor, LiveSettings, LiveStart, MemoryJournal, OrderIdentity, prepare};
use whale_trader::market::{FeeCurve, OrderBook};
use whale_trader::polymarket::{OrderSigner, OrderType, PolymarketConfig, ZERO_BYTES32, salt_for_client_order_id};
use whale_trader::risk::{Approved, OrderIntent, RiskConfig};
use whale_trader::runtime::EngineMsg;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

// Hardhat's well-known first test key; never funded on Polygon.
const PRIVATE_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const FUNDER: &str = "0x9999999999999999999999999999999999999999";
const API_KEY: &str = "f4f247b7-4ac7-ff29-a152-04fda0a8755a";
const API_SECRET: &str = "c2VjcmV0";
const PASSPHRASE: &str = "correct-horse";
const NOW_SECS: i64 = 1_700_000_000;
const TOKEN: &str = "24098407321416745788627828656027763678598613197464854195771295502423714650576";
const WAIT: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

fn signer_address() -> String {
    OrderSigner::from_private_key(&Secret::new(PRIVATE_KEY)).unwrap().address()
}

/// The five `POLY_*` headers, with the HMAC recomputed over timestamp + method + path + body.
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
        header("POLY_SIGNATURE") == URL_SAFE.encode(mac.finalize().into_bytes())
            && header("POLY_TIMESTAMP") == NOW_SECS.to_string()
            && header("POLY_API_KEY") == API_KEY
            && header("POLY_PASSPHRASE") == PASSPHRASE
            && header("POLY_ADDRESS") == signer_address()
    }
}

fn fee() -> FeeCurve {
    FeeCurve::new(dec!(0.05), dec!(1), true).unwrap()
}

fn book() -> OrderBook {
    let mut book = fixture("clob_book.json");
    book["neg_risk"] = json!(false);
    OrderBook::from_json(&book.to_string()).unwrap()
}

fn market(book: &OrderBook) -> MarketView<'_> {
    MarketView { book: Some(book), rules: VenueRules { tick_size: dec!(0.01), min_order_size: dec!(5), fee: fee() } }
}

fn buy(id: u64, price: Decimal, size: Decimal) -> OrderIntent {
    OrderIntent::entry(ClientOrderId(id), MarketId(0), TokenId(0), Side::Buy, price, size)
}

fn now() -> Timestamp {
    Timestamp::from_secs(NOW_SECS)
}

/// The order hash (the venue's order id) the executor will compute for `intent`.
async fn order_hash(intent: &OrderIntent) -> String {
    let identity = OrderIdentity { maker: FUNDER.into(), signer: signer_address(), signature_type: 2 };
    let book = book();
    let order = prepare(intent, market(&book), &identity, now()).unwrap();
    OrderSigner::from_private_key(&Secret::new(PRIVATE_KEY))
        .unwrap()
        .sign_order(&order.unsigned)
        .await
        .unwrap()
        .order_hash
}

struct Live {
    executor: LiveExecutor,
    reports: mpsc::Receiver<EngineMsg>,
    journal: MemoryJournal,
    stop: CancellationToken,
}

fn start(server: &MockServer, settings: LiveSettings, sent_before: Vec<(String, String)>) -> Live {
    let mut config = PolymarketConfig { clob_url: server.uri(), ..Default::default() };
    config.http.request_timeout_ms = 300;
    config.http.base_backoff_ms = 5;
    config.http.max_backoff_ms = 10;
    let credentials = &mut config.credentials;
    credentials.api_key = Secret::new(API_KEY);
    credentials.api_secret = Secret::new(API_SECRET);
    credentials.api_passphrase = Secret::new(PASSPHRASE);
    credentials.private_key = Secret::new(PRIVATE_KEY);
    credentials.funder_address = Secret::new(FUNDER);
    credentials.signature_type = 2;
    let journal = MemoryJournal::default();
    let (executor, tasks) = LiveExecutor::new(LiveStart {
        polymarket: config,
        journal: Arc::new(journal.clone()),
        clock: Arc::new(SimClock::starting_at(now())),
        settings,
        sent_before,
    })
    .unwrap();
    let (inputs, reports) = mpsc::channel(16);
    let stop = CancellationToken::new();
    for (_, task) in tasks.into_tasks(inputs, stop.clone()) {
        tokio::spawn(task);
    }
    Live { executor, reports, journal, stop }
}

fn fast() -> LiveSettings {
    LiveSettings {
        status_poll: Duration::from_millis(20),
        max_status_backoff: Duration::from_millis(50),
        max_resting: Duration::from_secs(60),
    }
}

impl Live {
    /// The next execution report the engine's queue receives.
    async fn report(&mut self) -> ExecutionReport {
        let msg = tokio::time::timeout(WAIT, self.reports.recv()).await.expect("a report in time").expect("open");
        match msg {
            EngineMsg::VenueOutcome(report) => report,
            other => panic!("not an order's outcome: {other:?}"),
        }
    }

    fn submit(&mut self, intent: &OrderIntent) -> Vec<ExecutionReport> {
        self.submit_approved(&support::risk::approved(intent, now()))
    }

    fn submit_approved(&mut self, order: &Approved) -> Vec<ExecutionReport> {
        let book = book();
        let mut immediate = Vec::new();
        self.executor.submit(order, market(&book), now(), &mut immediate);
        immediate
    }

    /// The engine's cancels of a step (the kill switch's working entries).
    fn cancel(&mut self, orders: &[ClientOrderId]) -> Vec<ExecutionReport> {
        let mut immediate = Vec::new();
        self.executor.cancel(orders, now(), &mut immediate);
        immediate
    }

    fn reconcile(&mut self, intent: &OrderIntent) -> Vec<ExecutionReport> {
        let book = book();
        let mut immediate = Vec::new();
        self.executor.reconcile(intent, market(&book), now(), &mut immediate);
        immediate
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn open_order(id: &str, status: &str, matched: &str, trades: &[&str]) -> Value {
    json!({
        "id": id, "status": status, "owner": API_KEY, "maker_address": FUNDER, "market": "0x25",
        "asset_id": TOKEN, "side": "BUY", "original_size": "10", "size_matched": matched, "price": "0.55",
        "associate_trades": trades, "outcome": "No", "created_at": NOW_SECS, "expiration": "0", "order_type": "FAK"
    })
}

fn trade(id: &str, order: &str, size: &str, price: &str) -> Value {
    json!({"data": [{"id": id, "taker_order_id": order, "market": "0x25", "asset_id": TOKEN, "side": "BUY",
        "size": size, "fee_rate_bps": "0", "price": price, "status": "MATCHED", "match_time": "1700000000",
        "outcome": "No", "owner": API_KEY, "maker_address": FUNDER, "transaction_hash": "", "trader_side": "TAKER",
        "maker_orders": []}], "next_cursor": "LTE=", "limit": 100, "count": 1})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_order_is_signed_posted_once_as_fak_and_its_fill_comes_back_to_the_engine() {
    let server = MockServer::start().await;
    let intent = buy(1, dec!(0.55), dec!(10));
    let hash = order_hash(&intent).await;
    let mut answer = fixture("clob_post_order_responses_docs_examples.json")["matched_order"].clone();
    answer["orderID"] = json!(hash);
    answer["makingAmount"] = json!("5500000");
    answer["takingAmount"] = json!("10000000");
    Mock::given(method("POST"))
        .and(path("/order"))
        .and(SignedByOurKey)
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(&server)
        .await;
    let mut live = start(&server, fast(), Vec::new());
    assert!(live.submit(&intent).is_empty(), "nothing is reported before the venue answers");
    let report = live.report().await;
    // 10 shares at 0.55; taker fee 10 × 0.05 × 0.55 × 0.45.
    assert_eq!(
        (report.client_order_id, report.filled_size, report.avg_price),
        (ClientOrderId(1), dec!(10), dec!(0.55))
    );
    assert_eq!((report.fee, report.done, report.note.clone()), (dec!(0.12375), true, None));
    assert_eq!(live.journal.recorded()["order#1"].venue_order_id, hash, "the venue id was recorded before sending");

    // The body, field for field, in the shape of the docs' example.
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let docs = fixture("clob_post_order_request_docs_example.json");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(&body), keys(&docs));
    assert_eq!(keys(&body["order"]), keys(&docs["order"]));
    let order = &body["order"];
    assert_eq!(order["salt"], json!(salt_for_client_order_id("order#1")), "a JSON number from the client order id");
    assert_eq!((order["maker"].as_str(), order["signer"].as_str()), (Some(FUNDER), Some(signer_address().as_str())));
    assert_eq!((order["tokenId"].as_str(), order["side"].as_str()), (Some(TOKEN), Some("BUY")));
    assert_eq!((order["makerAmount"].as_str(), order["takerAmount"].as_str()), (Some("5500000"), Some("10000000")));
    assert_eq!((order["expiration"].as_str(), order["timestamp"].as_str()), (Some("0"), Some("1700000000000")));
    assert_eq!((order["signatureType"].as_u64(), order["metadata"].as_str()), (Some(2), Some(ZERO_BYTES32)));
    let signature = order["signature"].as_str().unwrap();
    assert!(signature.starts_with("0x") && signature.len() == 132, "{signature}");
    assert_eq!(body["orderType"], json!(OrderType::Fak));
    assert_eq!((body["owner"].as_str(), body["postOnly"].as_bool()), (Some(API_KEY), Some(false)));
}

/// `GET /data/order/{id}`: working until the cancel arrives, then cancelled with 4 shares matched.
struct WorkingUntilCancelled(Arc<AtomicBool>, String);

impl Respond for WorkingUntilCancelled {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        match self.0.load(Ordering::SeqCst) {
            false => ResponseTemplate::new(200).set_body_json(open_order(&self.1, "LIVE", "0", &[])),
            true => ResponseTemplate::new(200).set_body_json(open_order(&self.1, "CANCELED", "4", &["t-2"])),
        }
    }
}

struct Cancels(Arc<AtomicBool>, String);

impl Respond for Cancels {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.store(true, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(json!({"canceled": [self.1], "not_canceled": {}}))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_cancels_a_resting_entry_at_the_venue_and_its_partial_fill_is_reported() {
    let server = MockServer::start().await;
    let intent = buy(2, dec!(0.55), dec!(10));
    let hash = order_hash(&intent).await;
    let mut answer = fixture("clob_post_order_responses_docs_examples.json")["live_order"].clone();
    answer["orderID"] = json!(hash);
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(&server)
        .await;
    let cancelled = Arc::new(AtomicBool::new(false));
    Mock::given(method("GET"))
        .and(path(format!("/data/order/{hash}")))
        .and(SignedByOurKey)
        .respond_with(WorkingUntilCancelled(cancelled.clone(), hash.clone()))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/order"))
        .and(SignedByOurKey)
        .and(body_json(json!({"orderID": hash})))
        .respond_with(Cancels(cancelled.clone(), hash.clone()))
        .expect(1..)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/data/trades"))
        .and(query_param("id", "t-2"))
        .and(SignedByOurKey)
        .respond_with(ResponseTemplate::new(200).set_body_json(trade("t-2", &hash, "4", "0.54")))
        .mount(&server)
        .await;

    let mut live = start(&server, fast(), Vec::new());
    live.submit(&intent);
    // The FAK came back `live`: it keeps working (no report) until the kill switch cancels it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(live.reports.try_recv().is_err(), "no report while the order works");
    assert!(!cancelled.load(Ordering::SeqCst));
    assert!(live.cancel(&[ClientOrderId(2)]).is_empty(), "the outcome comes from the venue, not at once");
    let report = live.report().await;
    assert!(cancelled.load(Ordering::SeqCst), "DELETE /order reached the venue");
    assert_eq!((report.client_order_id, report.filled_size, report.avg_price), (ClientOrderId(2), dec!(4), dec!(0.54)));
    assert_eq!(report.fee, dec!(4) * dec!(0.05) * dec!(0.54) * dec!(0.46));
    assert!(report.done && report.note.is_some_and(|n| n.contains("4 of 10")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_resolved_by_asking_never_by_sending_again() {
    let server = MockServer::start().await;
    let intent = buy(3, dec!(0.55), dec!(10));
    let hash = order_hash(&intent).await;
    // The order arrives, but the answer comes after the client's 300 ms timeout.
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(
            ResponseTemplate::new(200).set_delay(Duration::from_secs(2)).set_body_json(json!({"success": true})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/data/order/{hash}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(open_order(&hash, "MATCHED", "10", &["t-3"])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/data/trades"))
        .and(query_param("id", "t-3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(trade("t-3", &hash, "10", "0.53")))
        .mount(&server)
        .await;
    let mut live = start(&server, fast(), Vec::new());
    live.submit(&intent);
    let report = live.report().await;
    assert_eq!((report.filled_size, report.avg_price, report.done), (dec!(10), dec!(0.53), true));
    // wiremock checks on drop that POST /order came exactly once.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_after_a_restart_asks_the_venue_by_the_recorded_id_and_never_sends() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let known = "0x".to_string() + &"ab".repeat(32);
    let unknown_at_venue = "0x".to_string() + &"cd".repeat(32);
    Mock::given(method("GET"))
        .and(path(format!("/data/order/{known}")))
        .and(SignedByOurKey)
        .respond_with(ResponseTemplate::new(200).set_body_json(open_order(&known, "MATCHED", "10", &["t-4"])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/data/trades"))
        .and(query_param("id", "t-4"))
        .respond_with(ResponseTemplate::new(200).set_body_json(trade("t-4", &known, "10", "0.5")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/data/order/{unknown_at_venue}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "order not found"})))
        .mount(&server)
        .await;
    let sent_before = vec![("order#4".to_string(), known.clone()), ("order#5".to_string(), unknown_at_venue)];
    let mut live = start(&server, fast(), sent_before);

    // Recorded and known to the venue: its fills, from the venue's trades.
    assert!(live.reconcile(&buy(4, dec!(0.55), dec!(10))).is_empty());
    let report = live.report().await;
    assert_eq!((report.client_order_id, report.filled_size, report.avg_price), (ClientOrderId(4), dec!(10), dec!(0.5)));
    assert_eq!(report.fee, dec!(10) * dec!(0.05) * dec!(0.5) * dec!(0.5));
    // Recorded but unknown to the venue: it never arrived.
    live.reconcile(&buy(5, dec!(0.55), dec!(10)));
    let report = live.report().await;
    assert_eq!((report.client_order_id, report.filled_size, report.done), (ClientOrderId(5), dec!(0), true));
    // Never recorded: never sent (the id is recorded before sending), answered at once.
    let immediate = live.reconcile(&buy(6, dec!(0.55), dec!(10)));
    assert_eq!(immediate.len(), 1);
    assert_eq!((immediate[0].filled_size, immediate[0].done), (dec!(0), true));
    assert!(immediate[0].note.as_deref().is_some_and(|n| n.contains("never sent")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_or_at_the_venue_finish_the_order_unfilled_with_the_reason() {
    let server = MockServer::start().await;
    let refusal = fixture("clob_post_order_responses_docs_examples.json")["error_400_invalid_order"].clone();
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(400).set_body_json(refusal))
        .expect(1)
        .mount(&server)
        .await;
    let mut live = start(&server, fast(), Vec::new());
    // Off the market's tick (approved under a finer tick than the book now states): refused at
    // once, nothing sent.
    let mut finer_tick = RiskConfig::default();
    finer_tick.safeguards.tick_size = dec!(0.001);
    let immediate =
        live.submit_approved(&support::risk::approved_under(finer_tick, &buy(7, dec!(0.555), dec!(10)), now()));
    assert!(immediate.len() == 1 && immediate[0].note.as_deref().is_some_and(|n| n.contains("tick")), "{immediate:?}");
    // The venue refuses: the reason comes back.
    live.submit(&buy(8, dec!(0.55), dec!(10)));
    let report = live.report().await;
    assert_eq!((report.filled_size, report.done), (dec!(0), true));
    assert!(report.note.as_deref().is_some_and(|n| n.contains("breaks minimum tick size rule")), "{report:?}");
    // The venue id cannot be recorded first: not sent at all (POST was expected exactly once).
    live.journal.refuse_with("disk full");
    live.submit(&buy(9, dec!(0.55), dec!(10)));
    let report = live.report().await;
    assert!(report.note.as_deref().is_some_and(|n| n.contains("not sent") && n.contains("disk full")), "{report:?}");
}
