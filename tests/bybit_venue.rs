//! The Bybit v5 client against the loopback stand-in: signing and the clock, symbol rules, orders
//! through their fills and cancels, refusals with the venue's code and message, rate limits and
//! bans held without asking the venue, and no secret in any error or log line.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use support::venues::bybit::{BybitVenue, Failure};
use support::venues::{Captured, config, limit, market, refusal};
use whale_trader::clock::SystemClock;
use whale_trader::config::Secret;
use whale_trader::domain::Side;
use whale_trader::venues::{
    BybitClient, OrderRequest, OrderStatus, RefusalReason, VenueApi, VenueConfig, VenueError, VenueMarket,
};

const KEY: &str = "XXXXXXXXXXkey0001";
const SECRET: &str = "t7T0YlFnYXk0Fx3JswQsDrViLg1Gh3DUU5Mr";

fn client_with(venue: &BybitVenue, market: VenueMarket, secret: &str) -> BybitClient {
    BybitClient::new(&config(venue.url(), market, KEY, secret), Arc::new(SystemClock)).unwrap_or_else(|e| panic!("{e}"))
}

fn client(venue: &BybitVenue, market: VenueMarket) -> BybitClient {
    client_with(venue, market, SECRET)
}

#[tokio::test]
async fn a_skewed_venue_clock_is_resynced_once_and_a_venue_that_keeps_refusing_is_named() {
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    venue.set_clock_offset_ms(-60_000);
    let bybit = client(&venue, VenueMarket::Futures);

    // Our clock is a minute ahead of the venue's: the first placement is refused for its
    // timestamp, the client reads the server time and sends it once more.
    let state = bybit.place_order(&limit("skew-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap();
    assert_eq!(state.status, OrderStatus::New);
    assert_eq!(venue.orders_received("skew-1"), 2);
    let requests = venue.requests();
    assert_eq!(&requests[..3], ["POST /v5/order/create", "GET /v5/market/time", "POST /v5/order/create"]);
    let offset = bybit.sync_time().await.unwrap();
    assert!((-61_000..=-59_000).contains(&offset), "offset {offset}");

    // Refused once whatever the stamp: the retry goes through.
    venue.fail_next(Failure::RecvWindow);
    bybit.place_order(&limit("skew-2", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap();
    assert_eq!(venue.orders_received("skew-2"), 2);

    // Refused twice: the second refusal is the caller's.
    venue.fail_next(Failure::RecvWindow);
    venue.fail_next(Failure::RecvWindow);
    let err = bybit.place_order(&limit("skew-3", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    let (reason, code, message) = refusal(&err);
    assert_eq!((reason, code), (RefusalReason::TimestampOutsideRecvWindow, 10002));
    assert!(message.contains("recv_window"), "{message}");
    assert_eq!(venue.orders_received("skew-3"), 2);
    assert!(venue.order("skew-3").is_none());
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_signature_and_an_unknown_key_is_unauthorized() {
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let wrong = client_with(&venue, VenueMarket::Futures, "not-the-secret");
    let err = wrong.balances().await.unwrap_err();
    let (reason, code, message) = refusal(&err);
    assert_eq!((reason, code), (RefusalReason::InvalidSignature, 10004));
    // The venue echoes the signed string, key included; none of it is kept.
    assert!(message.starts_with("error sign!"), "{message}");
    assert!(!err.to_string().contains(KEY) && !format!("{err:?}").contains(KEY), "{err:?}");

    let other = BybitVenue::start(VenueMarket::Futures, "another-key", SECRET);
    let err = client(&other, VenueMarket::Futures).balances().await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::Unauthorized);
    assert_eq!(refusal(&err).1, 10003);
}

#[tokio::test]
async fn symbol_rules_of_both_markets_are_read() {
    let linear = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let rules = client(&linear, VenueMarket::Futures).symbol_rules("BTCUSDT").await.unwrap();
    assert_eq!((rules.tick_size, rules.step_size, rules.min_notional), (dec!(0.10), dec!(0.001), dec!(5)));
    assert_eq!(rules.max_leverage, Some(dec!(100)));
    let spot = BybitVenue::start(VenueMarket::Spot, KEY, SECRET);
    let bybit = client(&spot, VenueMarket::Spot);
    let rules = bybit.symbol_rules("BTCUSDT").await.unwrap();
    assert_eq!((rules.tick_size, rules.step_size, rules.min_quantity), (dec!(0.01), dec!(0.000001), dec!(0.000048)));
    assert_eq!(rules.max_leverage, None);
    let err = bybit.symbol_rules("NOPEUSDT").await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::SymbolUnavailable);
    assert!(spot.requests().contains(&"GET /v5/market/instruments-info".to_owned()));
}

#[tokio::test]
async fn a_limit_order_fills_in_parts_and_the_query_is_cumulative() {
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let bybit = client(&venue, VenueMarket::Futures);
    bybit.set_leverage("BTCUSDT", dec!(5)).await.unwrap();
    // Setting the same leverage again is the venue's "not modified": not a failure.
    bybit.set_leverage("BTCUSDT", dec!(5)).await.unwrap();
    let order = OrderRequest {
        stop_loss: Some(dec!(15000)),
        take_profit: Some(dec!(18000)),
        ..limit("entry-1", Side::Buy, dec!(0.010), dec!(16000.0))
    };
    let placed = bybit.place_order(&order).await.unwrap();
    assert_eq!((placed.status, placed.filled_quantity), (OrderStatus::New, Decimal::ZERO));
    assert!(!placed.venue_order_id.is_empty());
    let held = venue.order("entry-1").unwrap();
    assert_eq!((held.stop_loss, held.take_profit), (Some(dec!(15000)), Some(dec!(18000))));

    venue.fill("entry-1", dec!(0.004), dec!(16000));
    let part = bybit.query_order("BTCUSDT", "entry-1").await.unwrap();
    assert_eq!(
        (part.status, part.filled_quantity, part.average_price),
        (OrderStatus::PartiallyFilled, dec!(0.004), dec!(16000))
    );
    venue.fill("entry-1", dec!(0.006), dec!(15990));
    let full = bybit.query_order("BTCUSDT", "entry-1").await.unwrap();
    assert_eq!((full.status, full.filled_quantity), (OrderStatus::Filled, dec!(0.010)));
    assert_eq!(full.average_price, dec!(15994));
    // Maker fee 0.02 % of 159.94 USDT, in USDT.
    assert_eq!(full.fee, dec!(0.031988));
    assert!(bybit.open_orders("BTCUSDT").await.unwrap().is_empty());

    let position = bybit.position("BTCUSDT", "BTC").await.unwrap();
    assert_eq!((position.quantity, position.entry_price), (dec!(0.010), dec!(15994)));
    let usdt = bybit.balances().await.unwrap().into_iter().find(|b| b.asset == "USDT").unwrap();
    assert_eq!(usdt.free, dec!(100000) - dec!(0.031988));
}

#[tokio::test]
async fn a_cancel_keeps_what_filled() {
    let venue = BybitVenue::start(VenueMarket::Spot, KEY, SECRET);
    let bybit = client(&venue, VenueMarket::Spot);
    bybit.place_order(&limit("rest-1", Side::Buy, dec!(0.5), dec!(20000.00))).await.unwrap();
    venue.fill("rest-1", dec!(0.2), dec!(20000.00));
    let open = bybit.open_orders("BTCUSDT").await.unwrap();
    assert_eq!(open.iter().map(|o| o.client_order_id.as_str()).collect::<Vec<_>>(), ["rest-1"]);
    let usdt = bybit.balances().await.unwrap().into_iter().find(|b| b.asset == "USDT").unwrap();
    // 0.3 BTC still bid at 20 000: 6 000 USDT locked.
    assert_eq!(usdt.locked, dec!(6000));

    let cancelled = bybit.cancel_order("BTCUSDT", "rest-1").await.unwrap();
    assert_eq!((cancelled.status, cancelled.filled_quantity), (OrderStatus::Cancelled, dec!(0.2)));
    assert!(bybit.open_orders("BTCUSDT").await.unwrap().is_empty());
    let balances = bybit.balances().await.unwrap();
    let usdt = balances.iter().find(|b| b.asset == "USDT").unwrap();
    assert_eq!((usdt.free, usdt.locked), (dec!(96000), dec!(0)));
    // A spot buy's fee is taken from the base coin received: 0.2 less 0.02 %.
    let btc = balances.iter().find(|b| b.asset == "BTC").unwrap();
    assert_eq!(btc.free, dec!(0.19996));
    assert_eq!(bybit.position("BTCUSDT", "BTC").await.unwrap().quantity, dec!(0.19996));
    assert_eq!(cancelled.fee, Decimal::ZERO, "a spot buy's fee is not in the quote coin");

    // Cancelling again: the venue has no open order by that id, the query shows it final.
    let again = bybit.cancel_order("BTCUSDT", "rest-1").await.unwrap();
    assert_eq!(again.status, OrderStatus::Cancelled);
}

#[tokio::test]
async fn a_market_reduce_only_exit_closes_the_position_and_a_second_is_refused() {
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let bybit = client(&venue, VenueMarket::Futures);
    venue.set_quote("BTCUSDT", dec!(16000.0), dec!(16000.5));
    let entry = bybit.place_order(&market("in-1", Side::Buy, dec!(0.020), false)).await.unwrap();
    assert_eq!((entry.status, entry.average_price), (OrderStatus::Filled, dec!(16000.5)));
    assert_eq!(venue.position("BTCUSDT"), dec!(0.020));

    venue.set_quote("BTCUSDT", dec!(16100.0), dec!(16100.5));
    let exit = bybit.place_order(&market("out-1", Side::Sell, dec!(0.020), true)).await.unwrap();
    assert_eq!(
        (exit.status, exit.filled_quantity, exit.average_price),
        (OrderStatus::Filled, dec!(0.020), dec!(16100))
    );
    assert_eq!(venue.position("BTCUSDT"), Decimal::ZERO);
    assert_eq!(bybit.position("BTCUSDT", "BTC").await.unwrap().quantity, Decimal::ZERO);
    // Realised 0.02 × 99.5 = 1.99 USDT, less both taker fees.
    let fees = entry.fee + exit.fee;
    assert!(fees > Decimal::ZERO);
    let usdt = bybit.balances().await.unwrap().into_iter().find(|b| b.asset == "USDT").unwrap();
    assert_eq!(usdt.free, dec!(100000) + dec!(1.99) - fees);

    let err = bybit.place_order(&market("out-2", Side::Sell, dec!(0.020), true)).await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::ReduceOnlyRejected);
    assert_eq!(refusal(&err).1, 110017);
}

#[tokio::test]
async fn balance_and_filter_refusals_keep_the_venue_code_and_message() {
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let bybit = client(&venue, VenueMarket::Futures);
    venue.set_balance("USDT", dec!(10));
    let err = bybit.place_order(&limit("big-1", Side::Buy, dec!(1.000), dec!(16000.0))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::InsufficientBalance, 110007, "ab not enough for new order".into()));
    assert!(err.to_string().contains("110007") && err.to_string().contains("ab not enough"), "{err}");

    let err = bybit.place_order(&limit("tick-1", Side::Buy, dec!(0.001), dec!(16000.05))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::FilterFailure, 110003, "Order price is out of permissible range".into()));
    assert!(venue.order("tick-1").is_none());

    let spot = BybitVenue::start(VenueMarket::Spot, KEY, SECRET);
    let bybit = client(&spot, VenueMarket::Spot);
    let err = bybit.place_order(&limit("tiny-1", Side::Buy, dec!(0.000001), dec!(20000.00))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::FilterFailure, 170136, "Order quantity exceeded lower limit.".into()));
    let err = bybit.place_order(&market("sell-1", Side::Sell, dec!(0.1), false)).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::InsufficientBalance, 170131, "Insufficient balance.".into()));
    spot.fail_next(Failure::FilterFailure);
    let err = bybit.place_order(&limit("ok-1", Side::Buy, dec!(0.1), dec!(20000.00))).await.unwrap_err();
    assert_eq!(refusal(&err).1, 170136);
    // A duplicate client order id is refused, and the first order stands.
    bybit.place_order(&limit("dup-1", Side::Buy, dec!(0.1), dec!(20000.00))).await.unwrap();
    let err = bybit.place_order(&limit("dup-1", Side::Buy, dec!(0.1), dec!(20000.00))).await.unwrap_err();
    assert_eq!(refusal(&err).1, 170141);
    assert_eq!(spot.orders_received("dup-1"), 2);
}

#[tokio::test]
async fn a_429_holds_every_call_without_asking_the_venue() {
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let bybit = client(&venue, VenueMarket::Futures);
    venue.fail_next(Failure::RateLimited { retry_after_secs: 1 });
    let err = bybit.place_order(&limit("rl-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    assert!(
        matches!(err, VenueError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(1)),
        "{err:?}"
    );
    let seen = venue.requests().len();
    let err = bybit.book_ticker("BTCUSDT").await.unwrap_err();
    assert!(matches!(err, VenueError::BackingOff { .. }), "{err:?}");
    assert_eq!(venue.requests().len(), seen, "nothing reaches the venue during the hold");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    bybit.book_ticker("BTCUSDT").await.unwrap();
    assert_eq!(venue.requests().len(), seen + 1);

    // retCode 10006 holds until the window's reset timestamp.
    venue.fail_next(Failure::TooManyVisits { reset_in_ms: 800 });
    let err = bybit.place_order(&limit("rl-2", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    assert!(
        matches!(err, VenueError::RateLimited { retry_after, .. } if retry_after <= Duration::from_millis(800)),
        "{err:?}"
    );
    let seen = venue.requests().len();
    assert!(matches!(bybit.balances().await, Err(VenueError::BackingOff { .. })));
    assert_eq!(venue.requests().len(), seen);
    tokio::time::sleep(Duration::from_millis(900)).await;

    // With a tenth of the window left, the client waits for the reset before the venue must say no.
    venue.set_limit_status(10, 1, 700);
    bybit.balances().await.unwrap();
    let seen = venue.requests().len();
    assert!(matches!(bybit.balances().await, Err(VenueError::BackingOff { .. })));
    assert_eq!(venue.requests().len(), seen);
}

#[tokio::test]
async fn a_403_ban_holds_every_call_and_a_418_is_a_ban_too() {
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let bybit = client(&venue, VenueMarket::Futures);
    venue.fail_next(Failure::Banned { retry_after_secs: 30 });
    let err = bybit.place_order(&limit("ban-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    assert!(matches!(err, VenueError::Banned { retry_after, .. } if retry_after == Duration::from_secs(30)), "{err:?}");
    let seen = venue.requests().len();
    let err = bybit.query_order("BTCUSDT", "ban-1").await.unwrap_err();
    assert!(matches!(err, VenueError::BackingOff { .. }), "{err:?}");
    assert_eq!(venue.requests().len(), seen);

    // A server error leaves the order's fate unknown: the caller asks about it.
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let bybit = client(&venue, VenueMarket::Futures);
    venue.fail_next(Failure::ServerError);
    let err = bybit.place_order(&limit("5xx-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    assert!(matches!(err, VenueError::Status { status: 500, .. }) && err.outcome_unknown(), "{err:?}");
    let err = bybit.query_order("BTCUSDT", "5xx-1").await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::UnknownOrder);
}

#[tokio::test]
async fn a_418_from_the_venue_path_bans_too() {
    // The shared HTTP path treats a 418 as a ban whichever venue says it; Bybit's own ban is the
    // 403 above, so this checks the same hold through a bare loopback answer.
    let app = axum::Router::new().fallback(|| async {
        axum::response::Response::builder()
            .status(418)
            .header("Retry-After", "20")
            .body(axum::body::Body::empty())
            .unwrap()
    });
    let server = support::stand_in::StandIn::serve(app, "418");
    let config = VenueConfig { testnet_rest_url: server.url(), ..VenueConfig::default() };
    let bybit = BybitClient::new(&config, Arc::new(SystemClock)).unwrap();
    let err = bybit.book_ticker("BTCUSDT").await.unwrap_err();
    assert!(matches!(err, VenueError::Banned { retry_after, .. } if retry_after == Duration::from_secs(20)), "{err:?}");
    assert!(matches!(bybit.book_ticker("BTCUSDT").await, Err(VenueError::BackingOff { .. })));
}

#[tokio::test]
async fn unknown_orders_are_named_and_the_book_ticker_is_the_venues() {
    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    let bybit = client(&venue, VenueMarket::Futures);
    let err = bybit.query_order("BTCUSDT", "never-sent").await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::UnknownOrder);
    assert!(err.to_string().contains("never-sent"), "{err}");
    let err = bybit.cancel_order("BTCUSDT", "never-sent").await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::UnknownOrder, 110001, "order not exists or too late to cancel".into()));

    venue.set_quote("BTCUSDT", dec!(42000.1), dec!(42000.2));
    let quote = bybit.book_ticker("BTCUSDT").await.unwrap();
    assert_eq!((quote.bid, quote.ask), (dec!(42000.1), dec!(42000.2)));
    let err = bybit.book_ticker("NOPEUSDT").await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::SymbolUnavailable);
}

#[tokio::test]
async fn no_error_or_log_line_carries_the_key_or_the_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let venue = BybitVenue::start(VenueMarket::Futures, KEY, SECRET);
    venue.set_clock_offset_ms(-30_000);
    let bybit = client(&venue, VenueMarket::Futures);
    let mut texts = Vec::new();
    let placed = bybit.place_order(&limit("log-1", Side::Buy, dec!(0.010), dec!(16000.0))).await;
    texts.push(format!("{placed:?}"));
    let wrong = client_with(&venue, VenueMarket::Futures, "wrong-secret-value");
    let err = wrong.balances().await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    venue.fail_next(Failure::RateLimited { retry_after_secs: 1 });
    let err = bybit.place_order(&limit("log-2", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    let config = VenueConfig { api_key: Secret::new(KEY), api_secret: Secret::new(SECRET), ..VenueConfig::default() };
    texts.push(format!("{config:?}"));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("resynced"), "the resync is logged: {logs}");
    for text in texts.iter().chain([&logs]) {
        for secret in [KEY, SECRET, "wrong-secret-value"] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }
}
