//! Exits that end, end to end: the real binary on the live Polymarket feeds (paper mode, and live
//! under the `live` feature) against the local stand-in of the Data API and the CLOB. A market on
//! the 0.001 tick is copied and its stop fires after the venue moves it to a finer tick; a stop on a
//! thin book sells only down to its bound, rests, is sent again, widens and ends flat; a kill
//! flattens through the venue's refusals.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::venue::*;
use support::{Workspace, wait_until};

fn closed_with(ws: &Workspace, reason: &str) -> Option<Value> {
    records(ws, "trade_closed").into_iter().find(|l| l["reason"] == reason)
}

fn decimal(value: &Value) -> f64 {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// Waits until the whale's BUY of `token` is copied (its book served first).
fn copy_a_buy(ws: &Workspace, venue: &LocalVenue, token: &str, market: &str, price: f64) {
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", token, market, now_secs(), 400.0, price, "0xa1")));
    let copied = wait_until(LIMIT, || count(ws, "trade_opened", token) == 1);
    assert!(copied, "no copy; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
}

#[test]
fn a_market_on_the_thousandth_tick_is_copied_and_its_stop_exits_on_the_finer_tick_it_moved_to() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.tick_sizes.insert(MARKET_A.into(), 0.001);
        v.books
            .insert(TOKEN_A.into(), book_with(TOKEN_A, MARKET_A, &[("0.954", "1000")], &[("0.955", "1000")], "0.001"));
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__RISK__EXITS__RETRY_AFTER_SECS", "1")]);
    copy_a_buy(&ws, &venue, TOKEN_A, MARKET_A, 0.955);
    let opened = records(&ws, "trade_opened").remove(0);
    assert_eq!(decimal(&opened["price"]), 0.955, "{opened}");

    // Falling through the stop (−10 % is 0.8595), the market moves to the 0.0001 tick.
    venue.with(|v| {
        v.books.insert(
            TOKEN_A.into(),
            book_with(TOKEN_A, MARKET_A, &[("0.8501", "1000")], &[("0.8502", "1000")], "0.0001"),
        );
    });
    let exited = wait_until(LIMIT, || closed_with(&ws, "stop_loss").is_some());
    assert!(exited, "the stop did not exit; audit:\n{}", ws.read("logs/trade_audit.log"));
    let order = records(&ws, "exit_order").remove(0);
    assert_eq!(decimal(&order["limit_price"]), 0.8075, "5 % below 0.8501 on the new grid: {order}");
    assert_eq!(decimal(&closed_with(&ws, "stop_loss").unwrap()["exit_price"]), 0.8501);
    assert!(!ws.read("logs/main.log").contains("refused an exit"), "{}", ws.read("logs/main.log"));
    stop_daemon(&ws, daemon);
}

#[test]
fn a_stop_on_a_thin_book_rests_at_its_bound_is_sent_again_widens_and_ends_flat() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__RISK__EXITS__RETRY_AFTER_SECS", "1")]);
    copy_a_buy(&ws, &venue, TOKEN_A, MARKET_A, 0.5);
    let size = decimal(&records(&ws, "trade_opened").remove(0)["size"]);

    // The bid drops to 0.44 (a stop-loss) with 20 shares there and nothing else until 0.30.
    venue.with(|v| {
        v.books.insert(
            TOKEN_A.into(),
            book_with(TOKEN_A, MARKET_A, &[("0.44", "20"), ("0.3", "1000")], &[("0.45", "1000")], "0.01"),
        );
    });
    let flat = wait_until(LIMIT, || closed_with(&ws, "stop_loss").is_some());
    assert!(flat, "the exit never ended; audit:\n{}", ws.read("logs/trade_audit.log"));
    let orders = records(&ws, "exit_order");
    let attempts: Vec<i64> = orders.iter().map(|o| o["attempt"].as_i64().unwrap_or(-1)).collect();
    let tries = (size / 20.0).ceil() as i64;
    assert!((5..=6).contains(&tries), "a $50 copy at about 0.5 is about 94 shares: {size}");
    assert_eq!(attempts, (1..=tries).collect::<Vec<_>>(), "{orders:?}");
    // Three tries at 5 % below the bid (0.418 → 0.41), then 10 % (0.396 → 0.39): never lower.
    let limits: Vec<f64> = orders.iter().map(|o| decimal(&o["limit_price"])).collect();
    assert_eq!(&limits[..4], &[0.41, 0.41, 0.41, 0.39], "{orders:?}");
    assert_eq!(records(&ws, "exit_escalated").len(), 1, "{}", ws.read("logs/trade_audit.log"));
    assert_eq!(decimal(&closed_with(&ws, "stop_loss").unwrap()["exit_price"]), 0.44, "sold at 0.44 only");
    // The engine publishes its counters once per batch of inputs: they may trail the audit line.
    let retries = format!("whale_trader_exit_retries_total {}", tries - 1);
    let counted = wait_until(LIMIT, || {
        let metrics = http_get(ws.api_port, "/metrics");
        metrics.contains(&retries) && metrics.contains("whale_trader_exit_widenings_total 1")
    });
    assert!(counted, "{}", http_get(ws.api_port, "/metrics"));
    // The alert is written by the dispatcher's own task: it may trail the audit and the counters.
    let alerted = wait_until(LIMIT, || ws.read("logs/alerts.log").contains("Exit Not Filled"));
    assert!(alerted, "the widening was not alerted: {}", ws.read("logs/alerts.log"));
    stop_daemon(&ws, daemon);
}

#[cfg(feature = "live")]
#[test]
fn in_live_mode_a_kill_flattens_through_the_venue_s_refusals() {
    const TOKEN: &str = "control-token-exits";
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let daemon = start_live_daemon(&ws, &venue, &[("WHALE_TRADER__RISK__EXITS__RETRY_AFTER_SECS", "1")]);
    copy_a_buy(&ws, &venue, TOKEN_A, MARKET_A, 0.5);

    // The venue refuses the next four orders (a balance error); the kill's exit keeps going.
    venue.with(|v| v.refuse_orders = 4);
    let out = ws.command(&["kill", "--reason", "drill"]).env("WHALE_TRADER__API__TOKEN", TOKEN).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let flat = wait_until(LIMIT, || closed_with(&ws, "kill").is_some());
    assert!(flat, "the kill did not flatten; logs:\n{}", ws.all_logs());
    let sells: Vec<Value> =
        venue.with(|v| v.orders.iter().filter(|(b, _)| b["order"]["side"] == "SELL").map(|(b, _)| b.clone()).collect());
    assert_eq!(sells.len(), 5, "four refused, the fifth matched: {sells:?}");
    let orders = records(&ws, "exit_order");
    assert_eq!(orders.iter().map(|o| o["attempt"].as_i64().unwrap_or(-1)).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert!(orders.iter().all(|o| o["reason"] == "kill"), "{orders:?}");
    assert_eq!(records(&ws, "exit_escalated").len(), 1);
    assert!(has_state_change(&ws, "killed", "kill_switch"));
    stop_daemon(&ws, daemon);
}
