//! The wallet as truth, end to end (feature `live`): the real binary trading live against the local
//! stand-in of the Data API and the CLOB, whose wallet balance and positions the test controls.
//! Equity is the wallet's cash plus the positions at their marks (not the configured balance), and
//! a percent limit follows it; a position the venue holds and the daemon does not, or one the
//! daemon holds and the venue does not, is reported once (audit, alert) and holds trading in
//! `reducing` until a human adopts or drops it and resumes.
#![cfg(feature = "live")]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::venue::*;
use support::{Workspace, wait_until};

const TOKEN: &str = "control-token-wallet";

/// A live daemon against `venue`, reading the wallet every second, with `extra` settings.
fn start_live(ws: &Workspace, venue: &LocalVenue, extra: &[(&str, &str)]) -> std::process::Child {
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let mut env = vec![("WHALE_TRADER__POLYMARKET__WALLET__RECONCILE_INTERVAL_SECS", "1")];
    env.extend_from_slice(extra);
    start_live_daemon(ws, venue, &env)
}

fn status(ws: &Workspace) -> Value {
    let response = http_get_with_token(ws.api_port, "/status", Some(TOKEN));
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn number(value: &Value) -> f64 {
    value.as_str().and_then(|s| s.parse().ok()).or_else(|| value.as_f64()).unwrap_or(f64::NAN)
}

fn records(ws: &Workspace, event: &str) -> Vec<Value> {
    audit(ws).into_iter().filter(|l| l["event"] == event).collect()
}

fn cli(ws: &Workspace, args: &[&str]) -> (Option<i32>, String, String) {
    let out = ws.command(args).env("WHALE_TRADER__API__TOKEN", TOKEN).output().expect("run the CLI");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn wallet_read(ws: &Workspace, venue: &LocalVenue) -> usize {
    let _ = venue;
    ws.read("logs/main.log").matches("\"wallet read\"").count()
}

/// Waits for two more wallet readings than now (the second one certainly started after the change).
fn two_more_readings(ws: &Workspace, venue: &LocalVenue) {
    let before = wallet_read(ws, venue);
    assert!(
        wait_until(LIMIT, || wallet_read(ws, venue) >= before + 2),
        "no new wallet reading; logs:\n{}",
        ws.all_logs()
    );
}

/// The whale buys `token`; waits until the copy opened.
fn copy_a_buy(ws: &Workspace, venue: &LocalVenue, token: &str, market: &str, size: f64) -> Value {
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", token, market, now_secs(), size, 0.5, "0xa1")));
    let copied = wait_until(LIMIT, || count(ws, "trade_opened", token) == 1);
    assert!(copied, "no copy; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
    records(ws, "trade_opened").remove(0)
}

fn mismatch_reported(ws: &Workspace, token: &str, kind: &str) -> bool {
    records(ws, "position_mismatch").iter().any(|r| r["token_id"] == token && r["kind"] == kind)
}

#[test]
fn equity_is_the_wallet_and_a_position_the_daemon_does_not_know_holds_trading_until_adopted() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
        v.balance_units = Some(2_000_000_000);
        // One row per page: the reader follows the cursors.
        v.positions_page_size = Some(1);
    });
    let ws = Workspace::with_default_config("");
    // A copy of $400 would fit under 5 % of the configured 10,000; under 5 % of 2,000 it cannot.
    let daemon = start_live(&ws, &venue, &[("WHALE_TRADER__COPY__FIXED_USD", "400")]);

    let read = wait_until(LIMIT, || number(&status(&ws)["equity"]) == 2000.0);
    assert!(read, "equity is not the wallet's 2,000: {}\nlogs:\n{}", status(&ws), ws.all_logs());
    let wallet = &status(&ws)["wallet"];
    assert_eq!(number(&wallet["cash_usd"]), 2000.0, "{wallet}");
    assert!(wallet["read_at"].as_str().is_some_and(|at| at.ends_with('Z')), "{wallet}");
    assert!(venue.with(|v| v.seen.iter().any(|s| s == "GET /balance-allowance COLLATERAL")));

    let opened = copy_a_buy(&ws, &venue, TOKEN_A, MARKET_A, 800.0);
    let notional = number(&opened["notional_usd"]);
    assert!(notional > 50.0 && notional <= 100.0, "the per-market 5 % of 2,000 caps the copy: {opened}");
    // The venue holds what we bought: readings after the fill agree, nothing is reported.
    two_more_readings(&ws, &venue);
    assert!(records(&ws, "position_mismatch").is_empty(), "{}", ws.read("logs/trade_audit.log"));
    assert_eq!(status(&ws)["trading_state"], "active");

    // A position appears that the daemon never opened (two rows per page from now on).
    venue.with(|v| {
        v.positions.push(position_row(TOKEN_B, MARKET_B, 120.0, 0.4));
        v.positions_page_size = Some(2);
    });
    let held = wait_until(LIMIT, || has_state_change(&ws, "reducing", "position_mismatch"));
    assert!(held, "no hold; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
    assert!(mismatch_reported(&ws, TOKEN_B, "unknown_to_us"));
    // The status is published by the engine, the audit by the recorder: it may lag a moment.
    wait_until(LIMIT, || status(&ws)["trading_state"] == "reducing");
    let now = status(&ws);
    assert_eq!(
        (now["trading_state"].as_str(), now["state_reason"].as_str()),
        (Some("reducing"), Some("position_mismatch"))
    );
    assert_eq!(now["wallet"]["mismatches"][0]["token"], TOKEN_B, "{now}");
    let alerted = wait_until(LIMIT, || ws.read("logs/alerts.log").contains("Position Mismatch"));
    assert!(alerted, "no alert: {}", ws.read("logs/alerts.log"));
    // Reported once, not at every reading.
    two_more_readings(&ws, &venue);
    assert_eq!(records(&ws, "position_mismatch").len(), 1, "{}", ws.read("logs/trade_audit.log"));

    // A resume cannot lift the hold while the mismatch stands; it says which one holds it.
    let (code, _, stderr) = cli(&ws, &["resume"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("position_mismatch") && stderr.contains(TOKEN_B), "{stderr}");
    assert_eq!(status(&ws)["trading_state"], "reducing");

    let (code, stdout, stderr) = cli(&ws, &["adopt", TOKEN_B, "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let reply: Value = serde_json::from_str(&stdout).expect("adopt --json is JSON");
    assert!(
        reply["message"].as_str().is_some_and(|m| m.contains("adopted") && m.contains("no position mismatch remains")),
        "{reply}"
    );
    let adopted = records(&ws, "position_adopted");
    assert_eq!(adopted.len(), 1, "{}", ws.read("logs/trade_audit.log"));
    assert_eq!((number(&adopted[0]["size"]), number(&adopted[0]["price"])), (120.0, 0.4), "{adopted:?}");
    let adopted_held = || {
        let positions = status(&ws)["open_positions"].as_array().cloned().unwrap_or_default();
        positions.iter().any(|p| p["token"] == TOKEN_B && p["whale"] == "adopted" && number(&p["size"]) == 120.0)
    };
    assert!(wait_until(LIMIT, adopted_held), "{}", status(&ws));

    let (code, stdout, stderr) = cli(&ws, &["resume"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("trading state: active"), "{stdout}");
    // The next readings agree with the books: the hold does not come back.
    two_more_readings(&ws, &venue);
    assert_eq!(status(&ws)["trading_state"], "active", "{}", ws.read("logs/trade_audit.log"));
    let metrics = http_get(ws.api_port, "/metrics");
    assert!(metrics.contains("whale_trader_position_mismatches 0"), "{metrics}");
    assert!(metrics.contains("whale_trader_wallet_reading_failures_total 0"), "{metrics}");
    stop_daemon(&ws, daemon);
}

#[test]
fn a_copy_the_venue_no_longer_holds_holds_trading_until_dropped() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
        v.balance_units = Some(5_000_000_000);
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_live(&ws, &venue, &[]);
    let opened = copy_a_buy(&ws, &venue, TOKEN_A, MARKET_A, 400.0);
    let trade_id = opened["trade_id"].as_str().unwrap_or_default().to_string();
    two_more_readings(&ws, &venue);
    assert_eq!(status(&ws)["trading_state"], "active", "{}", ws.read("logs/trade_audit.log"));

    // The shares leave the wallet behind the daemon's back.
    venue.with(|v| v.positions.clear());
    let held = wait_until(LIMIT, || has_state_change(&ws, "reducing", "position_mismatch"));
    assert!(held, "no hold; audit:\n{}", ws.read("logs/trade_audit.log"));
    let reported = records(&ws, "position_mismatch");
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert_eq!(
        (reported[0]["kind"].as_str(), reported[0]["token_id"].as_str()),
        (Some("missing_at_venue"), Some(TOKEN_A))
    );
    assert_eq!(reported[0]["trade_ids"], trade_id.as_str(), "{reported:?}");

    let (code, _, stderr) = cli(&ws, &["adopt", TOKEN_A]);
    assert_eq!(code, Some(1), "nothing to adopt when we hold more than the venue: {stderr}");

    let (code, stdout, stderr) = cli(&ws, &["drop", &trade_id]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("dropped") && stdout.contains("no position mismatch remains"), "{stdout}");
    let closed = records(&ws, "trade_closed");
    assert!(closed.iter().any(|c| c["trade_id"] == trade_id.as_str() && c["reason"] == "reconciled"), "{closed:?}");
    assert_eq!(records(&ws, "position_dropped").len(), 1);
    let flat = wait_until(LIMIT, || status(&ws)["open_positions"].as_array().is_some_and(Vec::is_empty));
    assert!(flat, "{}", status(&ws));

    let (code, stdout, stderr) = cli(&ws, &["resume", "--json"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let reply: Value = serde_json::from_str(&stdout).expect("resume --json is JSON");
    assert_eq!(reply["trading_state"], "active", "{reply}");
    two_more_readings(&ws, &venue);
    assert_eq!(status(&ws)["trading_state"], "active");
    stop_daemon(&ws, daemon);
}
