//! Market resolution on the live feeds, end to end: the real binary in paper mode with
//! `feed.source = "polymarket"` against the local stand-in of the Data API and the CLOB, which
//! answers `GET /markets/{condition_id}` as the test decides. A copied position's book disappears
//! (404 on `GET /book`, absent from `POST /books`), then its market resolves: the position is
//! settled at 1 (our outcome won) or 0 (the other did) within two status polls, trading stays
//! `active` and the exposure is released. A market that closes before its resolution sends no exit
//! orders, holds nothing in `reducing`, survives a restart, and settles once its winner is known.

mod support;

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;
use support::venue::*;
use support::{Workspace, wait_until};

fn decimal(value: &Value) -> Decimal {
    value.as_str().and_then(|s| Decimal::from_str(s).ok()).unwrap_or_else(|| panic!("not a decimal: {value}"))
}

/// One text column of the first row `sql` returns from the paper store (`None` for no row or NULL).
fn store_text(ws: &Workspace, sql: &str) -> Option<String> {
    let path = ws.path().join(PAPER_STORE);
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).ok()
}

/// Waits until the store's answer to `sql` is `expected` (the audit line is written as the engine
/// decides; the store commits its records a moment later).
fn assert_store(ws: &Workspace, sql: &str, expected: &str) {
    let reached = wait_until(LIMIT, || store_text(ws, sql).as_deref() == Some(expected));
    assert!(reached, "{sql}: {:?}, expected {expected}", store_text(ws, sql));
}

/// The whale buys `TOKEN_A` at 0.50 after start-up; our copy fills at the served book's best ask.
/// Returns the `trade_opened` record.
fn copy_a_buy(ws: &Workspace, venue: &LocalVenue) -> Value {
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1")));
    let copied = wait_until(LIMIT, || count(ws, "trade_opened", TOKEN_A) == 1);
    assert!(copied, "no copy; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
    // The price feed and the watcher follow the new position.
    let followed = wait_until(LIMIT, || {
        venue.with(|v| {
            v.seen.iter().any(|s| s == "POST /books") && v.seen.iter().any(|s| s == &format!("GET /markets {MARKET_A}"))
        })
    });
    let recent: Vec<String> = venue.with(|v| v.seen.iter().rev().take(20).cloned().collect());
    assert!(followed, "the position's book and market were not followed; latest requests: {recent:?}");
    records(ws, "trade_opened").remove(0)
}

/// The book of `TOKEN_A` disappears (404 on `GET /book`, absent from `POST /books`); waits until
/// the price feed has noticed (it confirms with `GET /book`).
fn book_disappears(ws: &Workspace, venue: &LocalVenue) {
    let asked_before = venue.with(|v| {
        v.books.remove(TOKEN_A);
        v.seen.iter().filter(|s| *s == &format!("GET /book {TOKEN_A}")).count()
    });
    let noticed = wait_until(LIMIT, || {
        venue.with(|v| v.seen.iter().filter(|s| *s == &format!("GET /book {TOKEN_A}")).count()) > asked_before
    });
    assert!(noticed, "the price feed never confirmed the missing book");
    let counted = wait_until(LIMIT, || metric(ws, "whale_trader_price_feed_missing_books_total") == Some(1.0));
    assert!(counted, "{}", http_get(ws.api_port, "/metrics"));
}

/// The value of one sample in `/metrics` (`name` with its labels, if any); `None` while the API
/// does not answer yet (a restarted daemon).
fn metric(ws: &Workspace, name: &str) -> Option<f64> {
    std::net::TcpStream::connect(("127.0.0.1", ws.api_port)).ok()?;
    let metrics = http_get(ws.api_port, "/metrics");
    metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The market's status answer from now on; returns how many status checks of it were made so far.
fn market_becomes(venue: &LocalVenue, status: Value) -> usize {
    venue.with(|v| {
        v.markets.insert(MARKET_A.into(), status);
        v.seen.iter().filter(|s| *s == &format!("GET /markets {MARKET_A}")).count()
    })
}

fn checks_since(venue: &LocalVenue, before: usize) -> usize {
    venue.with(|v| v.seen.iter().filter(|s| *s == &format!("GET /markets {MARKET_A}")).count()) - before
}

/// Waits for the settlement and checks it: exit price, P&L = (price − entry) × size − fees (the
/// entry's fee from the store's fills), the store's closed position, no exit order.
fn assert_settled_at(ws: &Workspace, opened: &Value, price: Decimal) -> Value {
    let settled = wait_until(LIMIT, || !records(ws, "trade_closed").is_empty());
    assert!(settled, "not settled; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
    let closed = records(ws, "trade_closed").remove(0);
    assert_eq!(closed["reason"], "market_resolved", "{closed}");
    assert_eq!(closed["trade_id"], opened["trade_id"]);
    assert_eq!(decimal(&closed["exit_price"]), price, "{closed}");
    let (entry, size) = (decimal(&opened["price"]), decimal(&opened["size"]));
    let fee = decimal(&Value::String(store_text(ws, "SELECT fee FROM fills").unwrap_or_default()));
    assert!(fee > Decimal::ZERO, "the paper fill pays the market's taker fee");
    assert_eq!(decimal(&closed["pnl_usd"]), ((price - entry) * size - fee).round_dp(6), "{closed} fee {fee}");
    assert!(records(ws, "exit_order").is_empty(), "a settlement sends no order");
    let trade_id = opened["trade_id"].as_str().unwrap_or_default();
    let row = format!("SELECT status || ' ' || exit_reason FROM positions WHERE position_id = '{trade_id}'");
    assert_store(ws, &row, "closed market_resolved");
    closed
}

const API_TOKEN: &str = "resolution-api-token";

/// A workspace whose daemon has an API token (its `/status` is read).
fn workspace() -> Workspace {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={API_TOKEN}\n"));
    ws
}

/// Trading is `active`, every `stale_feed` hold was released, no position and no exposure is left.
fn assert_active_and_flat(ws: &Workspace) {
    let released = wait_until(LIMIT, || {
        metric(ws, "whale_trader_trading_state{state=\"active\"}") == Some(1.0)
            && metric(ws, "whale_trader_open_positions") == Some(0.0)
            && metric(ws, "whale_trader_total_exposure_usd") == Some(0.0)
    });
    assert!(released, "{}", http_get(ws.api_port, "/metrics"));
    let changes = records(ws, "trading_state_changed");
    let held = changes.iter().filter(|c| c["reason"] == "stale_feed" && c["to"] == "reducing").count();
    let freed = changes.iter().filter(|c| c["reason"] == "stale_feed" && c["to"] == "active").count();
    assert_eq!(held, freed, "a stale-feed hold was not released: {changes:?}");
    assert!(changes.iter().all(|c| c["reason"] == "stale_feed"), "{changes:?}");
    let status = http_get_with_token(ws.api_port, "/status", Some(API_TOKEN));
    assert!(status.contains("\"trading_state\":\"active\""), "{status}");
    assert!(status.contains("\"open_positions\":[]"), "{status}");
}

#[test]
fn a_position_whose_outcome_wins_is_settled_at_one_and_its_exposure_released() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = workspace();
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__POLYMARKET__RESOLUTION__POLL_INTERVAL_SECS", "1")]);
    let opened = copy_a_buy(&ws, &venue);
    assert_eq!(decimal(&opened["price"]), Decimal::new(5, 1));

    book_disappears(&ws, &venue);
    let before = market_becomes(&venue, market_status(MARKET_A, TOKEN_A, TOKEN_NO, true, false, Some(TOKEN_A)));
    assert_settled_at(&ws, &opened, Decimal::ONE);
    assert!(checks_since(&venue, before) <= 2, "settled on the first or second status poll after the resolution");
    assert_active_and_flat(&ws);
    // The alert is written by the dispatcher's own task: it may trail the audit trail.
    let alerted = wait_until(LIMIT, || {
        let alerts = ws.read("logs/alerts.log");
        alerts.contains("Trade Closed") && alerts.contains("market_resolved")
    });
    assert!(alerted, "not alerted: {}", ws.read("logs/alerts.log"));
    stop_daemon(&ws, daemon);
}

#[test]
fn a_position_whose_outcome_loses_is_settled_at_zero() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = workspace();
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__POLYMARKET__RESOLUTION__POLL_INTERVAL_SECS", "1")]);
    let opened = copy_a_buy(&ws, &venue);

    book_disappears(&ws, &venue);
    let before = market_becomes(&venue, market_status(MARKET_A, TOKEN_A, TOKEN_NO, true, false, Some(TOKEN_NO)));
    let closed = assert_settled_at(&ws, &opened, Decimal::ZERO);
    assert!(decimal(&closed["pnl_usd"]) < -decimal(&opened["notional_usd"]) + Decimal::ONE, "lost the stake: {closed}");
    assert!(checks_since(&venue, before) <= 2, "settled on the first or second status poll after the resolution");
    assert_active_and_flat(&ws);
    stop_daemon(&ws, daemon);
}

#[test]
fn a_market_closed_before_its_resolution_sends_no_exit_holds_nothing_and_settles_when_it_resolves() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = workspace();
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__POLYMARKET__RESOLUTION__POLL_INTERVAL_SECS", "1")]);
    let opened = copy_a_buy(&ws, &venue);

    // The book goes, then the market says it closed, without a winner yet.
    book_disappears(&ws, &venue);
    market_becomes(&venue, market_status(MARKET_A, TOKEN_A, TOKEN_NO, true, false, None));
    let closed = wait_until(LIMIT, || !records(&ws, "market_closed").is_empty());
    assert!(closed, "no market_closed; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
    let record = records(&ws, "market_closed").remove(0);
    assert_eq!(
        (record["market_id"].as_str(), record["trade_ids"].as_str()),
        (Some(MARKET_A), opened["trade_id"].as_str())
    );
    let alerted = wait_until(LIMIT, || ws.read("logs/alerts.log").contains("Market Closed"));
    assert!(alerted, "the closure was not alerted: {}", ws.read("logs/alerts.log"));

    // The whale's sale (indexed late) would exit our copy: not in a closed market.
    venue.with(|v| v.rows.push(trade_row("SELL", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.49, "0xa2")));
    assert_store(&ws, "SELECT CAST(COUNT(*) AS TEXT) FROM seen_whale_trades", "2");
    // Longer than stale_after_secs (2) with no book at all: no hold, no exit order.
    std::thread::sleep(Duration::from_secs(4));
    assert!(records(&ws, "exit_order").is_empty(), "{}", ws.read("logs/trade_audit.log"));
    assert_eq!(store_text(&ws, "SELECT CAST(COUNT(*) AS TEXT) FROM orders").as_deref(), Some("1"), "only the entry");
    assert!(records(&ws, "trade_closed").is_empty());
    let metrics = http_get(ws.api_port, "/metrics");
    assert_eq!(metric(&ws, "whale_trader_trading_state{state=\"active\"}"), Some(1.0), "{metrics}");
    assert_eq!(metric(&ws, "whale_trader_open_positions"), Some(1.0), "{metrics}");
    assert_eq!(metric(&ws, "whale_trader_resolution_inputs_total{kind=\"market_closed\"}"), Some(1.0), "{metrics}");
    let changes = records(&ws, "trading_state_changed");
    let held = changes.iter().filter(|c| c["to"] == "reducing").count();
    let freed = changes.iter().filter(|c| c["to"] == "active").count();
    assert_eq!(held, freed, "a hold is left: {changes:?}");

    // A restart remembers the closure (from the engine's checkpoint): nothing is said twice.
    stop_daemon(&ws, daemon);
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__POLYMARKET__RESOLUTION__POLL_INTERVAL_SECS", "1")]);
    let rechecked = wait_until(LIMIT, || metric(&ws, "whale_trader_resolution_checks_total").is_some_and(|n| n >= 2.0));
    assert!(rechecked, "{}", http_get(ws.api_port, "/metrics"));
    assert_eq!(records(&ws, "market_closed").len(), 1, "{}", ws.read("logs/trade_audit.log"));

    // The winner is known: settled.
    market_becomes(&venue, market_status(MARKET_A, TOKEN_A, TOKEN_NO, true, false, Some(TOKEN_A)));
    assert_settled_at(&ws, &opened, Decimal::ONE);
    assert_active_and_flat(&ws);
    stop_daemon(&ws, daemon);
}
