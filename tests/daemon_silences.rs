//! Silences against a running daemon, as an operator uses them: `silence add` on a whale through the
//! CLI, the sample session replayed, and on a loopback Slack stand-in the whale's everyday alerts
//! are missing while the other whale's, its losing closes and the breaker's still arrive. The
//! silence counts what it held back, survives a restart and ends with `silence expire`.

mod support;

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::chat::{ChatHook, field};
use support::venue::http_get_with_token;
use support::{Workspace, repo_path, signal, wait_until, wait_with_limit};

const TOKEN: &str = "silence-token-41d9";
const ALPHA: &str = "alpha (synthetic)";
const BRAVO: &str = "bravo (synthetic)";

/// The sample session's market lines only: a daemon that starts, has nothing to trade and waits.
fn quiet_session(ws: &Workspace) -> String {
    let sample = std::fs::read_to_string(repo_path("data/sample_session.jsonl")).expect("sample session");
    let markets: Vec<&str> = sample.lines().filter(|l| l.contains(r#""type":"market""#)).collect();
    assert!(!markets.is_empty());
    let path = ws.path().join("quiet_session.jsonl");
    std::fs::write(&path, markets.join("\n") + "\n").expect("write the session");
    path.display().to_string()
}

fn start(ws: &Workspace, session: &str) -> std::process::Child {
    let daemon = ws.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", session)]);
    let up = wait_until(Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", ws.api_port)).is_ok()
            && http_get_with_token(ws.api_port, "/silences", Some(TOKEN)).starts_with("HTTP/1.1 200")
    });
    assert!(up, "the daemon's API did not answer; logs:\n{}", ws.all_logs());
    daemon
}

fn stop(ws: &Workspace, mut daemon: std::process::Child) {
    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(30));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn listed(ws: &Workspace) -> Vec<Value> {
    let output = ws.output(&["silence", "list", "--json"]);
    assert!(output.status.success(), "{}", text(&output));
    serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)))
}

/// Who an alert on Slack is about: its `Whale` field or, failing that, its text.
fn about(attachment: &Value, whale: &str) -> bool {
    attachment.to_string().contains(whale)
}

fn title(attachment: &Value) -> String {
    attachment["title"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_silenced_whale_is_quiet_on_slack_while_what_must_reach_still_does_and_the_silence_outlives_a_restart() {
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
            // No throttle in the way: what is missing on Slack is missing because of the silence.
            "WHALE_TRADER__ALERTS__THROTTLE__MAX_ALERTS_PER_WINDOW=1000".into(),
            String::new(),
        ]
        .join("\n"),
    );
    let quiet = quiet_session(&ws);

    // Bad input is named before anything is sent, and with no daemon `add` refuses.
    let typo = ws.output(&["silence", "add", "--match", "wale=alpha", "--for", "2h"]);
    assert_eq!(typo.status.code(), Some(2), "{}", text(&typo));
    assert!(text(&typo).contains("\"wale\"") && text(&typo).contains("whale, market, kind"), "{}", text(&typo));
    let offline = ws.output(&["silence", "add", "--match", &format!("whale={ALPHA}"), "--for", "2h"]);
    assert_eq!(offline.status.code(), Some(1), "{}", text(&offline));
    assert!(text(&offline).contains("no daemon is running"), "{}", text(&offline));

    // 1. A daemon with nothing to trade yet: the silence goes in through the CLI.
    let daemon = start(&ws, &quiet);
    let whale = format!("whale={ALPHA}");
    let added = ws.output(&["silence", "add", "--match", &whale, "--for", "2h", "--reason", "known noisy", "--json"]);
    assert!(added.status.success(), "{}", text(&added));
    let reply: Value = serde_json::from_slice(&added.stdout).expect("JSON reply");
    assert_eq!(reply["silence"]["id"], "S0001", "{reply}");
    assert_eq!(reply["silence"]["created_by"], "cli", "{reply}");
    let audit = ws.read("logs/trade_audit.log");
    assert!(audit.contains("silence_added") && audit.contains("S0001"), "not audited:\n{audit}");
    stop(&ws, daemon);

    // 2. After a restart, the sample session: the silence was loaded from the store.
    let daemon = start(&ws, &repo_path("data/sample_session.jsonl").display().to_string());
    let replayed = wait_until(Duration::from_secs(90), || ws.read("logs/main.log").contains("replay finished"));
    assert!(replayed, "the session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    let breaker = |a: &Value| title(a).contains("Circuit Breaker Tripped");
    let settled = wait_until(Duration::from_secs(30), || slack.attachments().iter().any(breaker));
    assert!(settled, "the breaker alert did not reach Slack: {:?}", slack.attachments());
    let silenced = listed(&ws)[0]["hits"].as_u64().unwrap_or_default();
    assert!(silenced > 0, "the silence held nothing back: {:?}", listed(&ws));
    let on_slack = slack.attachments();
    let alpha: Vec<String> = on_slack.iter().filter(|a| about(a, ALPHA)).map(|a| a.to_string()).collect();
    // Alpha's opens and rejections are held back; what must reach (a losing close) still does.
    for a in on_slack.iter().filter(|a| about(a, ALPHA)) {
        let losing_close = title(a).ends_with("Trade Closed") && field(a, "P&L").is_some_and(|p| p.starts_with('-'));
        assert!(losing_close, "a silenced alpha alert reached Slack: {a}");
    }
    assert!(
        on_slack.iter().any(|a| about(a, BRAVO) && title(a).ends_with("Trade Opened")),
        "bravo's alerts are missing"
    );
    // `/metrics` reads the dispatcher's counters as published once a second.
    let expected = format!("whale_trader_alerts_silenced_total {silenced}");
    let mut counted = String::new();
    let published = wait_until(Duration::from_secs(10), || {
        let metrics = http_get_with_token(ws.api_port, "/metrics", Some(TOKEN));
        counted = metrics.lines().find(|l| l.starts_with("whale_trader_alerts_silenced_total ")).unwrap_or("").into();
        counted == expected
    });
    assert!(published, "{counted:?}, expected {expected:?}; alpha on Slack: {alpha:?}");
    // Hit counts reach the store within a second or so.
    let db = ws.path().join("data/whale-trader.paper.replay.db");
    let stored_hits = || -> Option<u64> {
        let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
        conn.query_row("SELECT hits FROM silences WHERE id = 'S0001'", [], |r| r.get::<_, i64>(0))
            .ok()
            .map(|h| h as u64)
    };
    let kept = wait_until(Duration::from_secs(10), || stored_hits() == Some(silenced));
    assert!(kept, "the store holds {:?} hits, the daemon counted {silenced}", stored_hits());
    stop(&ws, daemon);

    // With the daemon stopped, `list` reads the store: the hit count was kept.
    let stored = listed(&ws);
    assert_eq!((stored.len(), stored[0]["hits"].as_u64()), (1, Some(silenced)), "{stored:?}");
    let human = ws.output(&["silence", "list"]);
    assert!(text(&human).contains("S0001") && text(&human).contains(&whale), "{}", text(&human));

    // 3. Back up: it is still in force; `expire` ends it, once.
    let daemon = start(&ws, &quiet);
    assert_eq!(listed(&ws)[0]["id"], "S0001");
    let expired = ws.output(&["silence", "expire", "S0001"]);
    assert!(expired.status.success(), "{}", text(&expired));
    assert!(
        text(&expired).contains("S0001") && text(&expired).contains(&format!("{silenced} hit")),
        "{}",
        text(&expired)
    );
    assert!(listed(&ws).is_empty());
    let again = ws.output(&["silence", "expire", "S0001"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("404") && text(&again).contains("S0001"), "{}", text(&again));
    assert!(ws.read("logs/trade_audit.log").contains("silence_expired"));
    stop(&ws, daemon);
    assert!(listed(&ws).is_empty(), "an expired silence stays expired in the store");
}
