//! The whale as a unit of risk, end to end: the real binary in paper mode against the local
//! stand-in of the Data API and the CLOB. A market that ends within the hour is not entered; a
//! losing copy mutes its whale (whale breaker set to one loss), which `whales`, `/status` and
//! `/metrics` show and which refuses the whale's next trade `whale_muted`; `unmute` (token-guarded)
//! lets the following one through.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::venue::*;
use support::{Workspace, wait_until};

const TOKEN: &str = "control-token-whales";

fn cli(ws: &Workspace, args: &[&str]) -> (Option<i32>, String, String) {
    let out = ws.command(args).env("WHALE_TRADER__API__TOKEN", TOKEN).output().expect("run the CLI");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn whale_records(ws: &Workspace, change: &str) -> Vec<Value> {
    records(ws, "whale_standing_changed").into_iter().filter(|r| r["change"] == change).collect()
}

fn rejected(ws: &Workspace, token: &str, reason: &str) -> bool {
    records(ws, "trade_rejected").iter().any(|r| r["token_id"] == token && r["reason"] == reason)
}

/// `POST path` with an optional bearer token; the status line and body.
fn http_post(port: u16, path: &str, token: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the API");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

#[test]
fn a_market_near_its_end_is_not_entered_and_a_losing_whale_is_muted_until_a_human_unmutes_it() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
        v.books.insert(TOKEN_B.into(), book(TOKEN_B, MARKET_B));
        // Market B ends in 30 minutes: inside copy.min_hours_to_resolution (1 h by default).
        let mut ending = market_status(MARKET_B, TOKEN_B, TOKEN_NO, false, true, None);
        let end = chrono::DateTime::from_timestamp(now_secs() + 1_800, 0).unwrap_or_default();
        ending["end_date_iso"] = json!(end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        v.markets.insert(MARKET_B.into(), ending);
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon_with(
        &ws,
        &venue,
        &[
            ("WHALE_TRADER__API__TOKEN", TOKEN),
            ("WHALE_TRADER__RISK__WHALES__MUTE_AFTER_LOSSES", "1"),
            // The same market is bought again within minutes; that is not a double fire here.
            ("WHALE_TRADER__RISK__SAFEGUARDS__DOUBLE_FIRE_WINDOW_MINUTES", "0"),
        ],
    );
    std::thread::sleep(Duration::from_millis(1_200));

    // Resolution proximity, from the end date the market's GET /markets gave.
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_B, MARKET_B, now_secs(), 400.0, 0.5, "0xb1")));
    let refused = wait_until(LIMIT, || rejected(&ws, TOKEN_B, "near_resolution"));
    assert!(refused, "no near_resolution; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
    assert!(venue.with(|v| v.seen.iter().any(|s| s == &format!("GET /markets {MARKET_B}"))));

    // A copy, then its stop-loss: one losing copy mutes the whale.
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1")));
    assert!(wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_A) == 1), "{}", ws.read("logs/trade_audit.log"));
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book_with(TOKEN_A, MARKET_A, &[("0.30", "1000")], &[("0.31", "1000")], "0.01"))
    });
    let muted = wait_until(LIMIT, || !whale_records(&ws, "muted").is_empty());
    assert!(muted, "the losing copy did not mute the whale:\n{}", ws.read("logs/trade_audit.log"));
    let closed = records(&ws, "trade_closed").remove(0);
    assert_eq!((closed["reason"].as_str(), closed["whale_address"].as_str()), (Some("stop_loss"), Some(WHALE)));
    assert!(closed["whale_pnl_usd"].is_string() && closed["slippage_usd"].is_string(), "{closed}");
    let mute = whale_records(&ws, "muted").remove(0);
    assert_eq!((mute["whale_address"].as_str(), mute["reason"].as_str()), (Some(WHALE), Some("consecutive_losses")));
    assert!(mute["until"].as_str().is_some_and(|u| u.ends_with('Z')), "{mute}");

    // The standing, as the operator reads it (the daemon's view is published a moment later).
    let whale_row = || {
        let (code, out, err) = cli(&ws, &["whales", "--json"]);
        assert_eq!(code, Some(0), "{err}");
        let whales: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        whales.as_array().and_then(|w| w.iter().find(|w| w["wallet"] == WHALE)).cloned().unwrap_or_default()
    };
    let shown = wait_until(LIMIT, || whale_row()["standing"] == "muted");
    assert!(shown, "whales does not show the mute: {}", whale_row());
    let row = whale_row();
    assert_eq!(row["copies_closed"].as_u64(), Some(1), "{row}");
    assert_eq!(row["label"], "alpha (synthetic)", "{row}");
    let (_, text, _) = cli(&ws, &["whales"]);
    let line = text.lines().find(|l| l.starts_with(&format!("alpha (synthetic) ({WHALE})"))).unwrap_or_default();
    assert!(line.contains(" muted ") && line.contains("(consecutive_losses)"), "{text}");
    let metrics = http_get(ws.api_port, "/metrics");
    assert!(
        metrics.contains(&format!("whale_trader_whale_muted{{whale=\"{WHALE}\",label=\"alpha (synthetic)\"}} 1")),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "whale_trader_whale_copies_closed_total{{whale=\"{WHALE}\",label=\"alpha (synthetic)\"}} 1"
    )));

    // Muted: the whale's next BUY is refused, though nothing else stops it.
    venue.with(|v| v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A)));
    // Past the forwarder's refresh window (half of the 2 s staleness here), so that the next BUY
    // fetches this book rather than trusting the stop-loss's one.
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa2")));
    let refused = wait_until(LIMIT, || rejected(&ws, TOKEN_A, "whale_muted"));
    assert!(refused, "a muted whale was not refused:\n{}", ws.read("logs/trade_audit.log"));

    // The route is token-guarded; the CLI lifts the mute.
    let anonymous = http_post(ws.api_port, &format!("/unmute/{WHALE}"), None);
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    assert!(whale_records(&ws, "unmuted").is_empty());
    let (code, out, err) = cli(&ws, &["unmute", WHALE]);
    assert_eq!(code, Some(0), "{out}{err}");
    let lifted = wait_until(LIMIT, || !whale_records(&ws, "unmuted").is_empty());
    assert!(lifted, "{}", ws.read("logs/trade_audit.log"));
    assert_eq!(whale_records(&ws, "unmuted")[0]["reason"], "manual_resume");

    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa3")));
    let copied = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_A) == 2);
    assert!(copied, "the unmuted whale was not copied again:\n{}", ws.read("logs/trade_audit.log"));
    stop_daemon(&ws, daemon);
}
