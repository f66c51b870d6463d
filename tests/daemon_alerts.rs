//! Alerts from a running daemon as a person receives them, on a loopback Slack stand-in: the
//! breaker alert carries the figures of the trip (the same `/status` reports), and a run in which
//! the throttle engages still delivers every trade close, in a digest if not on its own.

mod support;

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;
use support::chat::{ChatHook, field};
use support::venue::http_get_with_token;
use support::{Workspace, json_lines, repo_path, signal, wait_until, wait_with_limit};

const TOKEN: &str = "alerts-token-7c2b";

fn status_json(ws: &Workspace) -> Value {
    let response = http_get_with_token(ws.api_port, "/status", Some(TOKEN));
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn decimal(value: &Value) -> Decimal {
    value.as_str().and_then(|s| Decimal::from_str(s).ok()).unwrap_or_else(|| panic!("not a decimal: {value}"))
}

/// `-$329.49`, as alerts write money.
fn usd(amount: Decimal) -> String {
    let rounded = amount.round_dp(2);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() { "-" } else { "" };
    format!("{sign}${:.2}", rounded.abs())
}

/// The sample session up to (and including) the second at which the breaker trips with wide stops,
/// so that nothing after the trip moves the figures `/status` shows.
fn session_until_the_trip(ws: &Workspace) -> std::path::PathBuf {
    let sample = std::fs::read_to_string(repo_path("data/sample_session.jsonl")).expect("sample session");
    const TRIP_MS: i64 = 1_767_608_002_000; // 2026-01-05T10:13:22Z
    let lines: Vec<&str> = sample
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).ok().and_then(|v| v["ts"].as_i64()).is_some_and(|ts| ts <= TRIP_MS)
        })
        .collect();
    let path = ws.path().join("trip_session.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the session");
    path
}

#[test]
fn the_breaker_alert_carries_the_figures_of_the_trip_that_status_shows() {
    let slack = ChatHook::start();
    let ws = Workspace::with_default_config("");
    let session = session_until_the_trip(&ws);
    ws.write(
        ".env",
        &[
            format!("WHALE_TRADER__API__TOKEN={TOKEN}"),
            "WHALE_TRADER__ALERTS__SLACK__ENABLED=true".into(),
            "WHALE_TRADER__ALERTS__SLACK__MIN_PRIORITY=critical".into(),
            "WHALE_TRADER__ALERTS__SLACK__MIN_INTERVAL_MS=0".into(),
            format!("WHALE_TRADER__ALERTS__SLACK__WEBHOOK_URL={}", slack.url()),
            // Positions stay open through the loss: the breaker trips on their marks alone.
            "WHALE_TRADER__RISK__STOPS__STOP_LOSS_PERCENT=90".into(),
            "WHALE_TRADER__RISK__STOPS__TRAILING_STOP_PERCENT=0".into(),
            String::new(),
        ]
        .join("\n"),
    );
    let session = session.display().to_string();
    let mut daemon = ws.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", session.as_str())]);

    let tripped = |a: &Value| a["title"].as_str().is_some_and(|t| t.contains("Circuit Breaker Tripped"));
    let alerted = wait_until(Duration::from_secs(60), || slack.attachments().iter().any(tripped));
    assert!(alerted, "no breaker alert reached Slack: {:?}\nlogs:\n{}", slack.bodies(), ws.all_logs());
    let replayed = wait_until(Duration::from_secs(30), || ws.read("logs/main.log").contains("replay finished"));
    assert!(replayed, "the session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    let alert = slack.attachments().into_iter().find(tripped).unwrap();
    let shown = (field(&alert, "Daily P&L"), field(&alert, "Drawdown"), field(&alert, "Positions"));

    // The trip is the session's last event: what `/status` settles on is the state at the trip.
    let expected = |status: &Value| {
        let positions = status["open_positions"].as_array().map_or(0, Vec::len);
        let limit = status["limits"]["limits"]["max_total_positions"].as_u64().unwrap_or_default();
        (
            Some(usd(decimal(&status["daily_pnl"]))),
            Some(format!("{}%", decimal(&status["drawdown_percent"]).round_dp(2).normalize())),
            Some(format!("{positions}/{limit}")),
        )
    };
    let mut status = Value::Null;
    let settled = wait_until(Duration::from_secs(10), || {
        status = status_json(&ws);
        !status.is_null() && expected(&status) == shown
    });
    assert!(settled, "the breaker alert shows {shown:?}, /status {:?}: {status}", expected(&status));
    assert_eq!(status["trading_state"], "reducing", "{status}");
    let pnl = decimal(&status["daily_pnl"]);
    assert!(pnl < Decimal::from(-300), "the trip is below the -300 threshold: {pnl}");
    assert!(status["open_positions"].as_array().is_some_and(|p| !p.is_empty()), "positions are open at the trip");
    // The text and the figures agree: the detail names the same P&L.
    let text = alert["text"].as_str().unwrap_or_default();
    let in_text = text.split("P&L ").nth(1).and_then(|rest| rest.split_whitespace().next()).map(Decimal::from_str);
    assert_eq!(in_text, Some(Ok(pnl)), "the alert's text {text:?} names another P&L than {pnl}");

    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

/// One close as a person reads it: its P&L and its reason.
fn close_of(pnl: &str, reason: &str) -> String {
    format!("{pnl} {reason}")
}

/// The closes Slack received: alone (fields P&L and Reason) or listed in a digest.
fn closes_on_slack(slack: &ChatHook) -> Vec<String> {
    let mut closes = Vec::new();
    for a in slack.attachments() {
        let title = a["title"].as_str().unwrap_or_default();
        if title.contains("Trade Closed") {
            closes.push(close_of(&field(&a, "P&L").unwrap_or_default(), &field(&a, "Reason").unwrap_or_default()));
        } else if title.contains("Alerts Held Back by the Throttle") {
            for line in a["text"].as_str().unwrap_or_default().lines().filter(|l| l.starts_with("Closed ")) {
                // "Closed <market> (whale <w>): P&L <usd>, <reason> at <time>"
                let rest = line.split("): P&L ").nth(1).unwrap_or_default();
                let (pnl, rest) = rest.split_once(", ").unwrap_or_default();
                let reason = rest.split(" at ").next().unwrap_or_default();
                closes.push(close_of(pnl, reason));
            }
        }
    }
    closes.sort();
    closes
}

#[test]
fn a_throttled_run_still_delivers_every_close_to_slack_in_a_digest() {
    let slack = ChatHook::start();
    let ws = Workspace::with_default_config("");
    ws.write(
        ".env",
        &[
            format!("WHALE_TRADER__API__TOKEN={TOKEN}"),
            "WHALE_TRADER__ALERTS__SLACK__ENABLED=true".into(),
            "WHALE_TRADER__ALERTS__SLACK__MIN_PRIORITY=info".into(),
            "WHALE_TRADER__ALERTS__SLACK__MIN_INTERVAL_MS=0".into(),
            format!("WHALE_TRADER__ALERTS__SLACK__WEBHOOK_URL={}", slack.url()),
            // Three messages a minute: the session's opens use them up at once.
            "WHALE_TRADER__ALERTS__THROTTLE__MAX_ALERTS_PER_WINDOW=3".into(),
            "WHALE_TRADER__ALERTS__THROTTLE__WINDOW_MINUTES=1".into(),
            String::new(),
        ]
        .join("\n"),
    );
    let mut daemon = ws.spawn_daemon(&[]);
    let replayed = wait_until(Duration::from_secs(60), || ws.read("logs/main.log").contains("replay finished"));
    assert!(replayed, "the sample session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    let audit_closes = || {
        let mut closes: Vec<String> = json_lines(&ws.read("logs/trade_audit.log"))
            .iter()
            .filter(|l| l["event"] == "trade_closed")
            .map(|l| close_of(&usd(decimal(&l["pnl_usd"])), l["reason"].as_str().unwrap_or_default()))
            .collect();
        closes.sort();
        closes
    };
    let written = wait_until(Duration::from_secs(30), || audit_closes().len() >= 8);
    assert!(written, "the session's closes were not audited: {:?}", audit_closes());
    let closes = audit_closes();

    // When the window reopens, the digest brings the rest: every close reached Slack once.
    let all = wait_until(Duration::from_secs(90), || closes_on_slack(&slack) == closes);
    assert!(all, "Slack has closes {:?}, the audit trail {closes:?}", closes_on_slack(&slack));
    let alone: Vec<String> = slack
        .attachments()
        .iter()
        .filter(|a| a["title"].as_str().is_some_and(|t| t.contains("Trade Closed")))
        .map(|a| close_of(&field(a, "P&L").unwrap_or_default(), &field(a, "Reason").unwrap_or_default()))
        .collect();
    assert!(alone.len() < closes.len(), "the throttle never engaged: every close was sent alone");
    let losing: Vec<&String> = closes.iter().filter(|c| c.starts_with('-')).collect();
    assert!(!losing.is_empty());
    for close in losing {
        assert!(alone.contains(close), "the losing close {close} waited for the digest; alone: {alone:?}");
    }
    let digest = slack
        .attachments()
        .into_iter()
        .find(|a| a["title"].as_str().is_some_and(|t| t.contains("Alerts Held Back")))
        .expect("a digest");
    let text = digest["text"].as_str().unwrap_or_default();
    assert!(text.lines().next().is_some_and(|l| l.contains(" opened, ") && l.contains(" closed")), "{text}");

    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}
