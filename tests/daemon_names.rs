//! Names everywhere, end to end: the real binary in paper mode with `feed.source = "polymarket"`
//! against the local stand-in of the Data API, the CLOB and Gamma. A copied position's market is
//! named by the whale trade at once and by Gamma's question as soon as Gamma answers; the names show
//! in `/status`, `whale-trader status` (text and JSON, from the daemon and from the store), the
//! audit trail and the alerts, ids beside them; they are cached in the store, so a restart while
//! Gamma is down still shows them; and a Gamma outage never holds up a copy.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::venue::*;
use support::{Workspace, wait_until};

const API_TOKEN: &str = "names-api-token";
const QUESTION_A: &str = "Will the stand-in name market A?";
/// The label of `WHALE` in `config/default.toml`.
const LABEL: &str = "alpha (synthetic)";
/// The title the captured Data API row (every `trade_row`) carries.
const TRADE_TITLE: &str = "Will the highest temperature in Dallas be between 100-101°F on September 14?";

fn workspace() -> Workspace {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={API_TOKEN}\n"));
    ws
}

/// `whale-trader <args>` with the API token and the daemon's feed source (which names the store
/// read when no daemon runs); its stdout.
fn cli(ws: &Workspace, args: &[&str]) -> String {
    let out = ws
        .command(args)
        .env("WHALE_TRADER__API__TOKEN", API_TOKEN)
        .env("WHALE_TRADER__FEED__SOURCE", "polymarket")
        .output()
        .expect("run the CLI");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `whale-trader status --json`, parsed (`Null` when it does not parse).
fn status_json(ws: &Workspace) -> Value {
    let out = ws
        .command(&["status", "--json"])
        .env("WHALE_TRADER__API__TOKEN", API_TOKEN)
        .env("WHALE_TRADER__FEED__SOURCE", "polymarket")
        .output()
        .expect("status");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The open position of `token` in a status JSON.
fn position<'a>(status: &'a Value, token: &str) -> Option<&'a Value> {
    status["open_positions"].as_array()?.iter().find(|p| p["token"] == token)
}

fn store_text(ws: &Workspace, sql: &str) -> Option<String> {
    let path = ws.path().join(PAPER_STORE);
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row(sql, [], |row| row.get(0)).ok()
}

fn metric(ws: &Workspace, name: &str) -> Option<f64> {
    std::net::TcpStream::connect(("127.0.0.1", ws.api_port)).ok()?;
    let metrics = http_get(ws.api_port, "/metrics");
    metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn names_from_gamma_show_in_status_alerts_and_the_audit_trail_and_survive_a_restart_without_gamma() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
        v.books.insert(TOKEN_B.into(), book(TOKEN_B, MARKET_B));
        v.gamma.insert(MARKET_A.into(), gamma_market(MARKET_A, QUESTION_A, TOKEN_A, TOKEN_NO));
    });
    let ws = workspace();
    let daemon = start_daemon(&ws, &venue);

    // The whale buys: the copy is named by the trade's own title at once.
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1")));
    let copied = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_A) == 1);
    assert!(copied, "no copy; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
    let opened = records(&ws, "trade_opened").remove(0);
    assert_eq!(opened["whale_label"], LABEL, "{opened}");
    assert_eq!(opened["market_title"], TRADE_TITLE, "{opened}");
    assert_eq!((opened["market_id"].as_str(), opened["whale_address"].as_str()), (Some(MARKET_A), Some(WHALE)));
    let alerted = wait_until(LIMIT, || ws.read("logs/alerts.log").contains("Trade Opened"));
    assert!(alerted, "{}", ws.read("logs/alerts.log"));
    let alerts = ws.read("logs/alerts.log");
    assert!(
        alerts.contains(LABEL) && alerts.contains(TRADE_TITLE),
        "the opening alert names whale and market: {alerts}"
    );

    // Gamma names the held market: its question replaces the trade's title, ids stay beside it.
    let named =
        wait_until(LIMIT, || position(&status_json(&ws), TOKEN_A).is_some_and(|p| p["market_title"] == QUESTION_A));
    assert!(named, "gamma's name never reached status: {}\nlogs:\n{}", status_json(&ws), ws.all_logs());
    assert!(venue.with(|v| v.seen.iter().any(|s| s == &format!("GET /gamma/markets {MARKET_A}"))));
    let status = status_json(&ws);
    let held = position(&status, TOKEN_A).cloned().unwrap_or_default();
    assert_eq!(held["whale_label"], LABEL, "{held}");
    assert_eq!((held["market"].as_str(), held["whale"].as_str()), (Some(MARKET_A), Some(WHALE)), "{held}");
    assert_eq!(held["outcome"], "Yes", "{held}");
    let whale = status["whales"].as_array().and_then(|w| w.iter().find(|w| w["wallet"] == WHALE)).cloned();
    assert_eq!(whale.map(|w| w["whale_label"].clone()), Some(Value::from(LABEL)), "{status}");
    let api = http_get_with_token(ws.api_port, "/status", Some(API_TOKEN));
    assert!(api.contains(&format!("\"market_title\":\"{QUESTION_A}\"")), "{api}");
    let text = cli(&ws, &["status"]);
    assert!(
        text.contains(&format!("{QUESTION_A} (0x2583be…dca4) (whale {LABEL} (0xc6ef18…1aca))")),
        "status names the position, short ids beside: {text}"
    );

    // Cached in the store through the engine's writer.
    let cached = wait_until(LIMIT, || {
        store_text(
            &ws,
            &format!("SELECT question || '|' || source FROM market_names WHERE condition_id = '{MARKET_A}'"),
        ) == Some(format!("{QUESTION_A}|gamma"))
    });
    assert!(cached, "{:?}", store_text(&ws, "SELECT question FROM market_names"));
    stop_daemon(&ws, daemon);

    // With the daemon stopped, `status` reads the names from the store.
    let offline = cli(&ws, &["status"]);
    assert!(offline.contains("from the store") && offline.contains(QUESTION_A), "{offline}");

    // Gamma goes down; a restart still names the market, from the store.
    venue.with(|v| v.gamma_down = true);
    let daemon = start_daemon(&ws, &venue);
    let answered = wait_until(LIMIT, || status_json(&ws)["source"] == "daemon");
    assert!(answered, "the restarted daemon's status: {}\nlogs:\n{}", status_json(&ws), ws.all_logs());
    let status = status_json(&ws);
    assert_eq!(position(&status, TOKEN_A).map(|p| p["market_title"].clone()), Some(Value::from(QUESTION_A)));

    // A Gamma outage holds up nothing: a new trade is copied and named by its own title.
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_B, MARKET_B, now_secs(), 400.0, 0.5, "0xb1")));
    let copied = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_B) == 1);
    assert!(copied, "no copy while gamma is down; logs:\n{}", ws.all_logs());
    let opened_b = records(&ws, "trade_opened").into_iter().find(|r| r["token_id"] == TOKEN_B).unwrap_or_default();
    assert_eq!(opened_b["market_title"], TRADE_TITLE, "{opened_b}");
    let failed = wait_until(LIMIT, || metric(&ws, "whale_trader_gamma_failures_total").is_some_and(|n| n >= 1.0));
    assert!(failed, "the outage is counted: {}", http_get(ws.api_port, "/metrics"));
    assert!(ws.all_logs().contains("gamma did not name the markets"), "the outage is logged");

    // The whale sells: the close names the whale and Gamma's question (the trade id is not the market).
    venue.with(|v| v.rows.push(trade_row("SELL", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.49, "0xa2")));
    let closed = wait_until(LIMIT, || !records(&ws, "trade_closed").is_empty());
    assert!(closed, "not closed; audit:\n{}\nlogs:\n{}", ws.read("logs/trade_audit.log"), ws.all_logs());
    let record = records(&ws, "trade_closed").remove(0);
    assert_eq!(
        (&record["whale_label"], &record["market_title"], &record["market_id"], &record["outcome"]),
        (&Value::from(LABEL), &Value::from(QUESTION_A), &Value::from(MARKET_A), &Value::from("Yes")),
        "{record}"
    );
    let alerted = wait_until(LIMIT, || ws.read("logs/alerts.log").contains("Trade Closed"));
    assert!(alerted, "{}", ws.read("logs/alerts.log"));
    let alerts = ws.read("logs/alerts.log");
    let line = alerts.lines().find(|l| l.contains("Trade Closed")).unwrap_or_default();
    assert!(line.contains(QUESTION_A) && line.contains(LABEL), "the close alert names market and whale: {line}");
    stop_daemon(&ws, daemon);
}
