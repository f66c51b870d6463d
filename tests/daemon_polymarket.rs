//! The daemon on the live Polymarket feeds, end to end: the real binary in paper mode with
//! `feed.source = "polymarket"`, against a local server on 127.0.0.1 that speaks the Data API
//! (`GET /v2/activity`) and the CLOB (`GET /book`, `POST /books`, `GET /clob-markets/{id}`) in the
//! shapes of the captured fixtures. A whale BUY is copied, a stale price feed moves trading to
//! `reducing` and back, the whale's SELL exits, SIGTERM stops with exit 0; a restart against the
//! same store copies the trade made while it was down and nothing twice.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::venue::*;
use support::{Workspace, json_lines, wait_until};

#[test]
fn whale_trades_are_copied_and_exited_from_the_live_feeds_and_a_restart_copies_nothing_twice() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
        v.books.insert(TOKEN_B.into(), book(TOKEN_B, MARKET_B));
        // Before start-up: held back (copy.copy_trades_before_start = false), never copied.
        v.rows.push(trade_row("BUY", TOKEN_B, MARKET_B, now_secs() - 60, 400.0, 0.5, "0x01"));
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon(&ws, &venue);

    // A whale BUY after start-up, on a token nobody watched: its book is fetched first, then copied.
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1")));
    let copied = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_A) == 1);
    assert!(copied, "no trade_opened for the whale's BUY; audit:\n{}", ws.read("logs/trade_audit.log"));
    let opened = audit(&ws).into_iter().find(|l| l["event"] == "trade_opened").unwrap();
    assert_eq!((opened["whale_address"].as_str(), opened["mode"].as_str()), (Some(WHALE), Some("paper")));
    let price: f64 = opened["price"].as_str().and_then(|p| p.parse().ok()).unwrap_or_default();
    assert_eq!(price, 0.5, "filled at the best ask of the served book: {opened}");
    let seen = venue.with(|v| v.seen.clone());
    assert!(seen.iter().any(|s| s == &format!("GET /book {TOKEN_A}")), "the book was not fetched: {seen:?}");
    assert!(seen.iter().any(|s| s == &format!("GET /clob-markets {MARKET_A}")), "{seen:?}");
    assert_eq!(count(&ws, "trade_rejected", TOKEN_A), 0, "{}", ws.read("logs/trade_audit.log"));
    assert_eq!(count(&ws, "trade_opened", TOKEN_B) + count(&ws, "trade_rejected", TOKEN_B), 0, "pre-start trade");

    // The position's token is now watched by the price feed; when its books stop, trading reduces.
    let polled = wait_until(LIMIT, || venue.with(|v| v.seen.iter().any(|s| s == "POST /books")));
    assert!(polled, "the price feed never polled the held token");
    venue.with(|v| v.books_down = true);
    let reduced = wait_until(LIMIT, || has_state_change(&ws, "reducing", "stale_feed"));
    assert!(reduced, "a stale price feed did not move trading to reducing:\n{}", ws.read("logs/trade_audit.log"));
    venue.with(|v| v.books_down = false);
    let recovered = wait_until(LIMIT, || has_state_change(&ws, "active", "stale_feed"));
    assert!(recovered, "fresh prices did not release the hold:\n{}", ws.read("logs/trade_audit.log"));

    // The whale sells: we exit.
    venue.with(|v| v.rows.push(trade_row("SELL", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.49, "0xa2")));
    let exited =
        wait_until(LIMIT, || audit(&ws).iter().any(|l| l["event"] == "trade_closed" && l["reason"] == "whale_exit"));
    assert!(exited, "the whale's SELL did not close our copy:\n{}", ws.read("logs/trade_audit.log"));

    // Feed lag per whale is in /metrics.
    let metrics = http_get(ws.api_port, "/metrics");
    assert!(metrics.contains(&format!("whale_trader_whale_feed_lag_seconds{{whale=\"{WHALE}\"")), "{metrics}");
    assert!(metrics.contains("whale_trader_whale_feed_trades_total{whale=\""), "{metrics}");
    stop_daemon(&ws, daemon);

    // What the store remembers: the decided trades and the held-back one, and a watermark.
    assert_eq!(sqlite_count(&ws, "SELECT COUNT(*) FROM seen_whale_trades"), 3);
    assert_eq!(sqlite_count(&ws, "SELECT COUNT(*) FROM seen_whale_trades WHERE decision = 'skipped'"), 1);
    assert_eq!(sqlite_count(&ws, &format!("SELECT COUNT(*) FROM whale_watermarks WHERE wallet = '{WHALE}'")), 1);

    // While the daemon is down the whale buys another token; then it restarts on the same store.
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_B, MARKET_B, now_secs(), 400.0, 0.5, "0xb1")));
    std::thread::sleep(Duration::from_millis(1_100));
    let daemon = start_daemon(&ws, &venue);
    let caught_up = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_B) == 1);
    assert!(caught_up, "the trade made while down was skipped:\n{}", ws.read("logs/trade_audit.log"));
    // A few more polls: nothing read again is decided again.
    let polls_before = venue.with(|v| v.seen.iter().filter(|s| s.starts_with("GET /v2/activity")).count());
    let polled_more = wait_until(LIMIT, || {
        venue.with(|v| v.seen.iter().filter(|s| s.starts_with("GET /v2/activity")).count()) >= polls_before + 6
    });
    assert!(polled_more);
    assert_eq!(count(&ws, "trade_opened", TOKEN_A), 1, "{}", ws.read("logs/trade_audit.log"));
    assert_eq!(count(&ws, "trade_opened", TOKEN_B), 1);
    assert_eq!(count(&ws, "trade_rejected", TOKEN_A) + count(&ws, "trade_rejected", TOKEN_B), 0);
    let resumed = json_lines(&ws.read("logs/main.log"))
        .iter()
        .any(|l| l["message"].as_str().is_some_and(|m| m.contains("3 of 3 wallet(s) resume from the store")));
    assert!(resumed, "the whale feed did not resume from the store");
    stop_daemon(&ws, daemon);
    assert_eq!(sqlite_count(&ws, "SELECT COUNT(*) FROM seen_whale_trades"), 4);
    // Nothing was decided twice (the store would refuse a second seen mark) and nothing failed.
    assert!(!ws.read("logs/main.log").contains("store refused a command"), "{}", ws.read("logs/main.log"));
    let errors: Vec<Value> =
        json_lines(&ws.read("logs/error.log")).into_iter().filter(|l| l["target"] != "whale_trader::alerts").collect();
    assert!(errors.is_empty(), "errors were logged (console alerts aside): {errors:?}");
}

#[cfg(feature = "live")]
#[test]
fn in_live_mode_the_copy_and_the_exit_are_signed_orders_at_the_clob() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_live_daemon(&ws, &venue, &[]);

    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1")));
    let copied = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_A) == 1);
    assert!(copied, "no live copy; logs:\n{}", ws.all_logs());
    let opened = audit(&ws).into_iter().find(|l| l["event"] == "trade_opened").unwrap();
    assert_eq!(opened["mode"], "live");
    venue.with(|v| v.rows.push(trade_row("SELL", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.49, "0xa2")));
    let exited =
        wait_until(LIMIT, || audit(&ws).iter().any(|l| l["event"] == "trade_closed" && l["reason"] == "whale_exit"));
    assert!(exited, "the whale's SELL did not close the live copy; logs:\n{}", ws.all_logs());
    stop_daemon(&ws, daemon);

    // Two signed FAK orders reached the CLOB, each with the five L2 headers.
    let orders = venue.with(|v| v.orders.clone());
    assert_eq!(orders.len(), 2, "{orders:?}");
    for (i, (body, headers)) in orders.iter().enumerate() {
        assert_eq!(body["orderType"], "FAK");
        assert_eq!(body["order"]["side"], if i == 0 { "BUY" } else { "SELL" });
        assert_eq!(body["order"]["tokenId"], TOKEN_A);
        assert_eq!(body["order"]["maker"], "0x9999999999999999999999999999999999999999");
        assert_eq!(body["order"]["signature"].as_str().map(str::len), Some(132));
        for header in ["POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_API_KEY", "POLY_PASSPHRASE"] {
            assert!(headers.iter().any(|h| h == header), "{header} missing: {headers:?}");
        }
    }
    // Each order's venue id was recorded in the store before it was sent.
    let path = ws.path().join("data/whale-trader.live.db");
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let ids: Vec<String> = conn
        .prepare("SELECT venue_order_id FROM orders ORDER BY client_order_id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.starts_with("0x") && id.len() == 66), "{ids:?}");
    // No secret reached a log or the console.
    let everything = format!("{}{}{}", ws.all_logs(), ws.read("console.out"), ws.read("console.err"));
    for (_, secret) in LIVE_SECRETS.iter().take(4) {
        assert!(!everything.contains(secret), "a secret leaked");
    }
}
