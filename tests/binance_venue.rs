//! The Binance client (spot and USDⓈ-M) against the loopback stand-in: signing and the clock,
//! symbol rules, orders through their fills and cancels, refusals with the venue's code and
//! message, rate limits and bans held without asking the venue, and no secret in any error or
//! log line.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use support::venues::binance::{BinanceVenue, Failure};
use support::venues::{Captured, config, limit, market, refusal};
use whale_trader::clock::{Clock, SystemClock};
use whale_trader::config::Secret;
use whale_trader::domain::Side;
use whale_trader::venues::{
    BinanceClient, OrderRequest, OrderStatus, RefusalReason, VenueApi, VenueConfig, VenueError, VenueMarket,
};

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

fn client_with(venue: &BinanceVenue, market: VenueMarket, secret: &str) -> BinanceClient {
    BinanceClient::new(&config(venue.url(), market, KEY, secret), Arc::new(SystemClock))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn client(venue: &BinanceVenue, market: VenueMarket) -> BinanceClient {
    client_with(venue, market, SECRET)
}

#[tokio::test]
async fn a_skewed_venue_clock_is_resynced_once_and_a_venue_that_keeps_refusing_is_named() {
    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    venue.set_clock_offset_ms(-60_000);
    let binance = client(&venue, VenueMarket::Futures);

    // Our clock is a minute ahead of the venue's: the first placement is refused with -1021,
    // the client reads the server time and sends it once more.
    let state = binance.place_order(&limit("skew-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap();
    assert_eq!(state.status, OrderStatus::New);
    assert_eq!(venue.orders_received("skew-1"), 2);
    let requests = venue.requests();
    assert_eq!(&requests[..3], ["POST /fapi/v1/order", "GET /fapi/v1/time", "POST /fapi/v1/order"]);
    let offset = binance.sync_time().await.unwrap();
    assert!((-61_000..=-59_000).contains(&offset), "offset {offset}");

    // Refused once whatever the stamp: the retry goes through.
    venue.fail_next(Failure::RecvWindow);
    binance.place_order(&limit("skew-2", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap();
    assert_eq!(venue.orders_received("skew-2"), 2);

    // Refused twice: the second refusal is the caller's.
    venue.fail_next(Failure::RecvWindow);
    venue.fail_next(Failure::RecvWindow);
    let err = binance.place_order(&limit("skew-3", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    let (reason, code, message) = refusal(&err);
    assert_eq!((reason, code), (RefusalReason::TimestampOutsideRecvWindow, -1021));
    assert_eq!(message, "Timestamp for this request is outside of the recvWindow.");
    assert_eq!(venue.orders_received("skew-3"), 2);
    assert!(venue.order("skew-3").is_none());
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_signature_and_an_unknown_key_is_unauthorized() {
    let venue = BinanceVenue::start(VenueMarket::Spot, KEY, SECRET);
    let wrong = client_with(&venue, VenueMarket::Spot, "not-the-secret");
    let err = wrong.balances().await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (RefusalReason::InvalidSignature, -1022, "Signature for this request is not valid.".into())
    );
    assert!(!err.to_string().contains(KEY) && !format!("{err:?}").contains(KEY), "{err:?}");
    // The right secret signs what the venue checks.
    client(&venue, VenueMarket::Spot).balances().await.unwrap();

    let other = BinanceVenue::start(VenueMarket::Futures, "another-key", SECRET);
    let err = client(&other, VenueMarket::Futures).balances().await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::Unauthorized);
    assert_eq!(refusal(&err).1, -2015);
}

#[tokio::test]
async fn symbol_rules_of_both_markets_are_read() {
    let futures = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    let rules = client(&futures, VenueMarket::Futures).symbol_rules("BTCUSDT").await.unwrap();
    assert_eq!(
        (rules.tick_size, rules.step_size, rules.min_quantity, rules.min_notional),
        (dec!(0.10), dec!(0.001), dec!(0.001), dec!(100))
    );
    assert_eq!(rules.max_leverage, Some(dec!(125)));
    assert!(rules.trading);
    assert!(futures.requests().contains(&"GET /fapi/v1/exchangeInfo".to_owned()));
    // A spot client at a futures host finds no spot paths there.
    let err = client(&futures, VenueMarket::Spot).symbol_rules("BTCUSDT").await.unwrap_err();
    assert!(matches!(err, VenueError::Status { status: 404, .. }), "{err:?}");

    let spot = BinanceVenue::start(VenueMarket::Spot, KEY, SECRET);
    let binance = client(&spot, VenueMarket::Spot);
    for symbol in ["BTCUSDT", "ETHUSDT"] {
        let rules = binance.symbol_rules(symbol).await.unwrap();
        assert_eq!(
            (rules.tick_size, rules.step_size, rules.min_quantity, rules.min_notional),
            (dec!(0.01), dec!(0.00001), dec!(0.00001), dec!(5)),
            "{symbol}"
        );
        assert_eq!(rules.max_leverage, None);
    }
    assert_eq!(binance.symbol_rules("ETHUSDT").await.unwrap().base_asset, "ETH");
    let err = binance.symbol_rules("NOPEUSDT").await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::SymbolUnavailable);
    assert!(spot.requests().contains(&"GET /api/v3/exchangeInfo".to_owned()));
}

#[tokio::test]
async fn a_limit_order_fills_in_parts_and_the_query_is_cumulative() {
    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Futures);
    binance.set_leverage("BTCUSDT", dec!(5)).await.unwrap();
    binance.set_leverage("BTCUSDT", dec!(5)).await.unwrap();
    let order = OrderRequest {
        stop_loss: Some(dec!(15000)),
        take_profit: Some(dec!(18000)),
        ..limit("entry-1", Side::Buy, dec!(0.010), dec!(16000.0))
    };
    let placed = binance.place_order(&order).await.unwrap();
    assert_eq!((placed.status, placed.filled_quantity), (OrderStatus::New, Decimal::ZERO));
    assert_eq!(placed.client_order_id, "entry-1");
    assert_eq!(placed.venue_order_id, venue.order("entry-1").unwrap().order_id.to_string());

    venue.fill("entry-1", dec!(0.004), dec!(16000));
    let part = binance.query_order("BTCUSDT", "entry-1").await.unwrap();
    assert_eq!(
        (part.status, part.filled_quantity, part.average_price),
        (OrderStatus::PartiallyFilled, dec!(0.004), dec!(16000))
    );
    // Reading it again counts nothing twice.
    assert_eq!(binance.query_order("BTCUSDT", "entry-1").await.unwrap(), part);
    venue.fill("entry-1", dec!(0.006), dec!(15990));
    let full = binance.query_order("BTCUSDT", "entry-1").await.unwrap();
    assert_eq!((full.status, full.filled_quantity), (OrderStatus::Filled, dec!(0.010)));
    assert_eq!(full.average_price, dec!(15994));
    // A USDⓈ-M order answer carries no commission.
    assert_eq!(full.fee, Decimal::ZERO);
    assert!(binance.open_orders("BTCUSDT").await.unwrap().is_empty());

    let position = binance.position("BTCUSDT", "BTC").await.unwrap();
    assert_eq!((position.quantity, position.entry_price), (dec!(0.010), dec!(15994)));
    let usdt = binance.balances().await.unwrap().into_iter().find(|b| b.asset == "USDT").unwrap();
    // Maker fee 0.02 % of 159.94 USDT; the position's margin at 5× (31.988) is held.
    assert_eq!((usdt.free, usdt.locked), (dec!(100000) - dec!(0.031988) - dec!(31.988), dec!(31.988)));
}

#[tokio::test]
async fn a_cancel_keeps_what_filled() {
    let venue = BinanceVenue::start(VenueMarket::Spot, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Spot);
    binance.place_order(&limit("rest-1", Side::Buy, dec!(0.5), dec!(20000.00))).await.unwrap();
    venue.fill("rest-1", dec!(0.2), dec!(20000.00));
    let open = binance.open_orders("BTCUSDT").await.unwrap();
    assert_eq!(open.iter().map(|o| o.client_order_id.as_str()).collect::<Vec<_>>(), ["rest-1"]);
    assert_eq!(open[0].filled_quantity, dec!(0.2));
    let usdt = binance.balances().await.unwrap().into_iter().find(|b| b.asset == "USDT").unwrap();
    // 0.3 BTC still bid at 20 000: 6 000 USDT locked.
    assert_eq!(usdt.locked, dec!(6000));

    let cancelled = binance.cancel_order("BTCUSDT", "rest-1").await.unwrap();
    assert_eq!((cancelled.status, cancelled.filled_quantity), (OrderStatus::Cancelled, dec!(0.2)));
    assert_eq!(cancelled.average_price, dec!(20000));
    assert_eq!(venue.order("rest-1").unwrap().status, "CANCELED");
    assert!(binance.open_orders("BTCUSDT").await.unwrap().is_empty());
    let balances = binance.balances().await.unwrap();
    let usdt = balances.iter().find(|b| b.asset == "USDT").unwrap();
    // 4 000 USDT spent and 0.02 % of it (0.8) in fees, in the quote asset.
    assert_eq!((usdt.free, usdt.locked), (dec!(95999.2), dec!(0)));
    let btc = balances.iter().find(|b| b.asset == "BTC").unwrap();
    assert_eq!(btc.free, dec!(0.2));
    assert_eq!(binance.position("BTCUSDT", "BTC").await.unwrap().quantity, dec!(0.2));

    // Cancelling again: the venue has no working order by that id (-2011), the query shows it final.
    let again = binance.cancel_order("BTCUSDT", "rest-1").await.unwrap();
    assert_eq!((again.status, again.filled_quantity), (OrderStatus::Cancelled, dec!(0.2)));
    assert_eq!(again.client_order_id, "rest-1");
}

#[tokio::test]
async fn a_spot_cancel_is_read_under_the_orders_own_client_order_id() {
    // Spot answers a cancel with the order's id in `origClientOrderId`; `clientOrderId` is the
    // cancel request's own.
    let venue = BinanceVenue::start(VenueMarket::Spot, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Spot);
    binance.place_order(&limit("rest-2", Side::Buy, dec!(0.5), dec!(20000.00))).await.unwrap();
    let cancelled = binance.cancel_order("BTCUSDT", "rest-2").await.unwrap();
    assert_eq!(cancelled.client_order_id, "rest-2");
}

#[tokio::test]
async fn a_market_reduce_only_exit_closes_the_position_and_a_second_is_refused() {
    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Futures);
    venue.set_quote("BTCUSDT", dec!(16000.0), dec!(16000.5));
    let entry = binance.place_order(&market("in-1", Side::Buy, dec!(0.020), false)).await.unwrap();
    assert_eq!((entry.status, entry.average_price), (OrderStatus::Filled, dec!(16000.5)));
    assert_eq!(venue.position("BTCUSDT"), dec!(0.020));

    venue.set_quote("BTCUSDT", dec!(16100.0), dec!(16100.5));
    let exit = binance.place_order(&market("out-1", Side::Sell, dec!(0.020), true)).await.unwrap();
    assert_eq!(
        (exit.status, exit.filled_quantity, exit.average_price),
        (OrderStatus::Filled, dec!(0.020), dec!(16100))
    );
    assert!(venue.order("out-1").unwrap().reduce_only);
    assert_eq!(venue.position("BTCUSDT"), Decimal::ZERO);
    assert_eq!(binance.position("BTCUSDT", "BTC").await.unwrap().quantity, Decimal::ZERO);
    // Realised 0.02 × 99.5 = 1.99 USDT, less both taker fees (0.05 % of 320.01 and of 322).
    let usdt = binance.balances().await.unwrap().into_iter().find(|b| b.asset == "USDT").unwrap();
    assert_eq!((usdt.free, usdt.locked), (dec!(100000) + dec!(1.99) - dec!(0.321005), Decimal::ZERO));

    let err = binance.place_order(&market("out-2", Side::Sell, dec!(0.020), true)).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::ReduceOnlyRejected, -2022, "ReduceOnly Order is rejected.".into()));
}

#[tokio::test]
async fn a_spot_market_buy_is_read_from_its_full_answer_with_the_quote_commission() {
    let venue = BinanceVenue::start(VenueMarket::Spot, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Spot);
    venue.set_quote("BTCUSDT", dec!(42199.99), dec!(42200.00));
    let state = binance.place_order(&market("mkt-1", Side::Buy, dec!(0.2), false)).await.unwrap();
    // Filled at the ask; the taker fee (0.05 % of 8 440) is in the answer's fills, in USDT.
    assert_eq!(
        (state.status, state.filled_quantity, state.average_price, state.fee),
        (OrderStatus::Filled, dec!(0.2), dec!(42200), dec!(4.22))
    );
    assert_eq!(venue.balance("USDT"), (dec!(100000) - dec!(8440) - dec!(4.22), Decimal::ZERO));
    assert_eq!(venue.position("BTCUSDT"), dec!(0.2));
    // The query carries no fills: what filled, not the fee.
    let queried = binance.query_order("BTCUSDT", "mkt-1").await.unwrap();
    assert_eq!((queried.filled_quantity, queried.average_price), (dec!(0.2), dec!(42200)));

    // The same id again once the first is done: the venue takes it (only a working order's id is
    // refused) and the query reads the newer order.
    binance.place_order(&limit("mkt-1", Side::Sell, dec!(0.1), dec!(43000.00))).await.unwrap();
    assert_eq!(binance.query_order("BTCUSDT", "mkt-1").await.unwrap().status, OrderStatus::New);
    assert_eq!(venue.orders_received("mkt-1"), 2);
}

#[tokio::test]
async fn balance_and_filter_refusals_keep_the_venue_code_and_message() {
    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Futures);
    venue.set_balance("USDT", dec!(10));
    let err = binance.place_order(&limit("big-1", Side::Buy, dec!(1.000), dec!(16000.0))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::InsufficientBalance, -2019, "Margin is insufficient.".into()));
    assert!(err.to_string().contains("-2019") && err.to_string().contains("Margin is insufficient"), "{err}");
    venue.set_balance("USDT", dec!(100000));
    let err = binance.place_order(&limit("tick-1", Side::Buy, dec!(0.010), dec!(16000.05))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::FilterFailure, -4014, "Price not increased by tick size.".into()));
    assert!(venue.order("tick-1").is_none());
    let err = binance.place_order(&limit("small-1", Side::Buy, dec!(0.001), dec!(16000.0))).await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::FilterFailure);
    assert_eq!(refusal(&err).1, -4164);
    let err = binance.place_order(&limit("step-1", Side::Buy, dec!(0.0101), dec!(16000.0))).await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (RefusalReason::FilterFailure, -1111, "Precision is over the maximum defined for this asset.".into())
    );
    binance.place_order(&limit("fdup-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap();
    let err = binance.place_order(&limit("fdup-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::Other, -4116, "ClientOrderId is duplicated.".into()));

    let spot = BinanceVenue::start(VenueMarket::Spot, KEY, SECRET);
    let binance = client(&spot, VenueMarket::Spot);
    let err = binance.place_order(&limit("tiny-1", Side::Buy, dec!(0.000001), dec!(20000.00))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::FilterFailure, -1013, "Filter failure: LOT_SIZE".into()));
    let err = binance.place_order(&limit("tiny-2", Side::Buy, dec!(0.0002), dec!(20000.00))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::FilterFailure, -1013, "Filter failure: NOTIONAL".into()));
    let err = binance.place_order(&limit("tick-2", Side::Buy, dec!(0.1), dec!(20000.001))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::FilterFailure, -1013, "Filter failure: PRICE_FILTER".into()));
    let err = binance.place_order(&market("sell-1", Side::Sell, dec!(0.1), false)).await.unwrap_err();
    assert_eq!(
        refusal(&err),
        (RefusalReason::InsufficientBalance, -2010, "Account has insufficient balance for requested action.".into())
    );
    spot.fail_next(Failure::FilterFailure);
    let err = binance.place_order(&limit("ok-1", Side::Buy, dec!(0.1), dec!(20000.00))).await.unwrap_err();
    assert_eq!(refusal(&err).1, -1013);
    spot.fail_next(Failure::InsufficientBalance);
    let err = binance.place_order(&limit("ok-2", Side::Buy, dec!(0.1), dec!(20000.00))).await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::InsufficientBalance);
    // A duplicate client order id of a working order is refused, and the first order stands.
    binance.place_order(&limit("dup-1", Side::Buy, dec!(0.1), dec!(20000.00))).await.unwrap();
    let err = binance.place_order(&limit("dup-1", Side::Buy, dec!(0.1), dec!(20000.00))).await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::Other, -2010, "Duplicate order sent.".into()));
    assert_eq!(spot.orders_received("dup-1"), 2);
    assert_eq!(spot.order("dup-1").unwrap().status, "NEW");
}

#[tokio::test]
async fn a_429_holds_every_call_without_asking_the_venue() {
    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Futures);
    venue.fail_next(Failure::RateLimited { retry_after_secs: 1 });
    let err = binance.place_order(&limit("rl-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    assert!(
        matches!(err, VenueError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(1)),
        "{err:?}"
    );
    let seen = venue.requests().len();
    let err = binance.book_ticker("BTCUSDT").await.unwrap_err();
    assert!(matches!(err, VenueError::BackingOff { .. }), "{err:?}");
    assert_eq!(venue.requests().len(), seen, "nothing reaches the venue during the hold");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    binance.book_ticker("BTCUSDT").await.unwrap();
    assert_eq!(venue.requests().len(), seen + 1);

    // The order is taken, but the answer says 95 % of the minute's weight is used: the client
    // holds every call until the next minute before the venue must say 429.
    venue.fail_next(Failure::TooManyVisits { reset_in_ms: 800 });
    binance.place_order(&limit("rl-2", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap();
    assert!(venue.order("rl-2").is_some());
    let seen = venue.requests().len();
    let err = binance.balances().await.unwrap_err();
    assert!(matches!(err, VenueError::BackingOff { .. }), "{err:?}");
    assert!(err.to_string().contains("request weight"), "{err}");
    assert_eq!(venue.requests().len(), seen);
}

#[tokio::test]
async fn a_418_ban_holds_every_call_and_a_server_error_leaves_the_order_unknown() {
    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Futures);
    venue.fail_next(Failure::Banned { retry_after_secs: 30 });
    let err = binance.place_order(&limit("ban-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    assert!(matches!(err, VenueError::Banned { retry_after, .. } if retry_after == Duration::from_secs(30)), "{err:?}");
    let seen = venue.requests().len();
    let err = binance.query_order("BTCUSDT", "ban-1").await.unwrap_err();
    assert!(matches!(err, VenueError::BackingOff { .. }), "{err:?}");
    assert_eq!(venue.requests().len(), seen);

    // A server error leaves the order's fate unknown: the caller asks about it.
    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Futures);
    venue.fail_next(Failure::ServerError);
    let err = binance.place_order(&limit("5xx-1", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
    assert!(matches!(err, VenueError::Status { status: 500, .. }) && err.outcome_unknown(), "{err:?}");
    let err = binance.query_order("BTCUSDT", "5xx-1").await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::UnknownOrder, -2013, "Order does not exist.".into()));
}

#[tokio::test]
async fn unknown_orders_are_named_and_the_book_ticker_is_the_venues() {
    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    let binance = client(&venue, VenueMarket::Futures);
    let err = binance.query_order("BTCUSDT", "never-sent").await.unwrap_err();
    assert_eq!(refusal(&err), (RefusalReason::UnknownOrder, -2013, "Order does not exist.".into()));
    // The cancel's -2011 sends the client to the query, which names the order unknown.
    let err = binance.cancel_order("BTCUSDT", "never-sent").await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::UnknownOrder);
    assert!(venue.requests().ends_with(&["DELETE /fapi/v1/order".to_owned(), "GET /fapi/v1/order".to_owned()]));

    venue.set_quote("BTCUSDT", dec!(42000.1), dec!(42000.2));
    let before = SystemClock.now().0;
    let quote = binance.book_ticker("BTCUSDT").await.unwrap();
    assert_eq!((quote.bid, quote.ask), (dec!(42000.1), dec!(42000.2)));
    assert!(quote.bid_quantity > Decimal::ZERO && quote.ask_quantity > Decimal::ZERO);
    // USDⓈ-M stamps its quote.
    assert!((before - 1_000..=before + 5_000).contains(&quote.at.0), "{:?}", quote.at);
    let err = binance.book_ticker("NOPEUSDT").await.unwrap_err();
    assert_eq!(refusal(&err).0, RefusalReason::SymbolUnavailable);

    let spot = BinanceVenue::start(VenueMarket::Spot, KEY, SECRET);
    spot.set_quote("ETHUSDT", dec!(2200.10), dec!(2200.11));
    let quote = client(&spot, VenueMarket::Spot).book_ticker("ETHUSDT").await.unwrap();
    assert_eq!((quote.bid, quote.ask), (dec!(2200.10), dec!(2200.11)));
    assert_eq!(spot.requests(), ["GET /api/v3/ticker/bookTicker"]);
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

    let venue = BinanceVenue::start(VenueMarket::Futures, KEY, SECRET);
    venue.set_clock_offset_ms(-30_000);
    let binance = client(&venue, VenueMarket::Futures);
    let mut texts = Vec::new();
    let placed = binance.place_order(&limit("log-1", Side::Buy, dec!(0.010), dec!(16000.0))).await;
    texts.push(format!("{placed:?}"));
    let wrong = client_with(&venue, VenueMarket::Futures, "wrong-secret-value");
    let err = wrong.balances().await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    venue.fail_next(Failure::RateLimited { retry_after_secs: 1 });
    let err = binance.place_order(&limit("log-2", Side::Buy, dec!(0.010), dec!(16000.0))).await.unwrap_err();
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
