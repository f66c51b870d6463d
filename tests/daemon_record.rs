//! `[record]`: a paper daemon replaying the bundled sample session records every input its engine
//! stepped; `whale-trader replay --audit` of that recording, under the same config, takes the same
//! decisions as the daemon did (opened, rejected and closed trades: ids, reasons, sizes, prices,
//! P&L). A recorder that cannot write stops recording, says so in `status`, and trading goes on.

mod support;

use std::time::Duration;

use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

const TOKEN: &str = "record-test-token-0123456789abcdef";

/// The fields of a decision that must agree, in the order the decisions were taken.
fn decisions(records: &[serde_json::Value]) -> Vec<String> {
    let field = |r: &serde_json::Value, name: &str| r[name].as_str().unwrap_or_default().to_owned();
    records
        .iter()
        .filter_map(|r| {
            let fields: &[&str] = match r["event"].as_str()? {
                "trade_opened" => {
                    &["trade_id", "whale_address", "market_id", "token_id", "side", "size", "price", "notional_usd"]
                }
                "trade_rejected" => &["whale_trade_id", "whale_address", "reason"],
                "trade_closed" => &["trade_id", "reason", "exit_price", "pnl_usd"],
                _ => return None,
            };
            let values: Vec<String> = fields.iter().map(|f| format!("{f}={}", field(r, f))).collect();
            Some(format!("{} {}", r["event"].as_str()?, values.join(" ")))
        })
        .collect()
}

fn session_files(ws: &Workspace) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(ws.path().join("data/sessions"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_recorded_day_replays_to_the_daemons_own_decisions() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let mut daemon = ws.spawn_daemon(&[("WHALE_TRADER__RECORD__ENABLED", "true")]);
    let finished = wait_until(Duration::from_secs(90), || ws.read("logs/main.log").contains("replay finished"));
    assert!(finished, "the sample session did not finish: {}", ws.all_logs());
    let status = ws.command(&["status"]).env("WHALE_TRADER__API__TOKEN", TOKEN).output().expect("status");
    let status_text = String::from_utf8_lossy(&status.stdout).into_owned();
    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(30));
    assert!(exit.is_some_and(|s| s.success()), "the daemon did not stop cleanly: {exit:?}\n{}", ws.all_logs());
    assert!(
        status_text.contains("recording     : recording to data/sessions/session-2026-01-05.jsonl"),
        "status does not say where it records:\n{status_text}\n{}",
        String::from_utf8_lossy(&status.stderr)
    );

    // The sample session is one UTC day: one file, stamped with the session's day.
    let files = session_files(&ws);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("session-2026-01-05.jsonl"), "{files:?}");
    let recorded = std::fs::read_to_string(&files[0]).expect("the recording");
    let kinds: std::collections::BTreeSet<String> =
        json_lines(&recorded).iter().filter_map(|l| l["type"].as_str().map(str::to_owned)).collect();
    for kind in ["whale_trade", "book", "market", "resolution", "tick"] {
        assert!(kinds.contains(kind), "no {kind} line recorded: {kinds:?}");
    }

    let daemon_decisions = decisions(&json_lines(&ws.read("logs/trade_audit.log")));
    assert!(daemon_decisions.iter().any(|d| d.starts_with("trade_opened")), "{daemon_decisions:?}");
    assert!(daemon_decisions.iter().any(|d| d.starts_with("trade_rejected")), "{daemon_decisions:?}");
    assert!(daemon_decisions.iter().any(|d| d.starts_with("trade_closed")), "{daemon_decisions:?}");

    let file = files[0].to_str().expect("utf-8 path");
    let replay = ws.output(&["replay", "--audit", file]);
    assert!(replay.status.success(), "replay failed: {}", String::from_utf8_lossy(&replay.stderr));
    // The audit records, then the text summary.
    let stdout = String::from_utf8_lossy(&replay.stdout);
    let audit: String = stdout.lines().filter(|l| l.starts_with('{')).map(|l| format!("{l}\n")).collect();
    let replay_decisions = decisions(&json_lines(&audit));
    assert_eq!(replay_decisions, daemon_decisions, "the replay of the recording decided otherwise than the daemon");

    // The recording in the compact format: the same lines, the same ticks, the same decisions.
    let compact = ws.path().join("recording.wtb");
    let compact_path = compact.to_str().expect("utf-8 path");
    let converted = ws.output(&["convert", file, "--out", compact_path, "--json"]);
    assert!(converted.status.success(), "convert failed: {}", String::from_utf8_lossy(&converted.stderr));
    let converted: serde_json::Value =
        serde_json::from_slice(&converted.stdout).unwrap_or_else(|e| panic!("convert --json: {e}"));
    assert_eq!(converted["carries_ticks"], true, "{converted}");
    assert!(converted["books"].as_u64() > Some(0), "{converted}");
    let replay = ws.output(&["replay", "--audit", "--json", compact_path]);
    assert!(replay.status.success(), "replay failed: {}", String::from_utf8_lossy(&replay.stderr));
    let stdout = String::from_utf8_lossy(&replay.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary: serde_json::Value = serde_json::from_str(lines.pop().unwrap_or_default()).expect("summary json");
    assert_eq!(summary["format"], "compact", "{summary}");
    assert_eq!(summary["lines"], converted["lines"], "{summary}");
    let audit: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(decisions(&json_lines(&audit)), daemon_decisions, "the compact recording decided otherwise");

    // The daemon's own replay feed takes the recording too, with its recorded ticks.
    let again = Workspace::with_default_config("");
    let mut daemon = again.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", file)]);
    let finished = wait_until(Duration::from_secs(90), || again.read("logs/main.log").contains("replay finished"));
    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(30));
    assert!(finished && exit.is_some_and(|s| s.success()), "{exit:?}\n{}", again.all_logs());
    let fed_decisions = decisions(&json_lines(&again.read("logs/trade_audit.log")));
    assert_eq!(fed_decisions, daemon_decisions, "the daemon's replay of the recording decided otherwise");
}

#[test]
fn a_recorder_that_cannot_write_stops_recording_and_trading_goes_on() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    // A file where the directory should be: the recorder cannot create it.
    ws.write("data/sessions", "not a directory");
    let mut daemon = ws.spawn_daemon(&[("WHALE_TRADER__RECORD__ENABLED", "true")]);
    let finished = wait_until(Duration::from_secs(90), || ws.read("logs/main.log").contains("replay finished"));
    assert!(finished, "the sample session did not finish: {}", ws.all_logs());
    let status = ws.command(&["status", "--json"]).env("WHALE_TRADER__API__TOKEN", TOKEN).output().expect("status");
    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(30));
    assert!(exit.is_some_and(|s| s.success()), "the daemon did not stop cleanly: {exit:?}\n{}", ws.all_logs());

    let view: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json: {e}: {}{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        )
    });
    assert_eq!(view["recording"]["state"], "failed", "{view}");
    assert!(view["recording"]["detail"].as_str().is_some_and(|d| d.contains("data/sessions")), "{view}");
    let errors: Vec<_> = json_lines(&ws.read("logs/main.log"))
        .into_iter()
        .filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with("session recording stopped")))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {errors:?}");
    assert!(ws.read("logs/trade_audit.log").contains("\"trade_opened\""), "trading went on without the recording");
}

/// The live feeds: the daemon's own timer ticks on its own schedule, the feeds stamp books as they
/// arrive, the whale's trades carry their own age. The recording keeps every one of those times,
/// so its replay still decides the same: a copy, a refusal, a take-profit.
#[test]
fn a_day_recorded_from_the_polymarket_feeds_replays_to_the_same_decisions() {
    use support::venue::{
        LIMIT, LocalVenue, MARKET_A, TOKEN_A, audit, book, daemon_env, now_secs, start_daemon_with, stop_daemon,
        trade_row,
    };
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__RECORD__ENABLED", "true")]);
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| {
        v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1"));
        // $40 of a whale trade: below the minimum, refused.
        v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 80.0, 0.5, "0xa2"));
    });
    let copied = wait_until(LIMIT, || audit(&ws).iter().any(|l| l["event"] == "trade_opened"));
    assert!(copied, "no copy: {}", ws.read("logs/trade_audit.log"));
    // A bid of 0.70 on the 0.50 entry takes the profit.
    venue.with(|v| {
        let mut up = book(TOKEN_A, MARKET_A);
        up["bids"] = serde_json::json!([{"price": "0.69", "size": "1000"}, {"price": "0.7", "size": "1000"}]);
        up["asks"] = serde_json::json!([{"price": "0.72", "size": "1000"}, {"price": "0.71", "size": "1000"}]);
        v.books.insert(TOKEN_A.into(), up);
    });
    let closed = wait_until(LIMIT, || audit(&ws).iter().any(|l| l["event"] == "trade_closed"));
    assert!(closed, "no take-profit: {}", ws.read("logs/trade_audit.log"));
    // A few more seconds of ticks and books after the close.
    std::thread::sleep(Duration::from_millis(1_500));
    stop_daemon(&ws, daemon);

    let daemon_decisions = decisions(&audit(&ws));
    let kinds: Vec<&str> = daemon_decisions.iter().filter_map(|d| d.split(' ').next()).collect();
    assert_eq!(kinds, ["trade_opened", "trade_rejected", "trade_closed"], "{daemon_decisions:?}");

    // The day's file (two, should the test straddle midnight UTC: replayed as one session).
    let mut recorded = String::new();
    for file in session_files(&ws) {
        recorded.push_str(&std::fs::read_to_string(file).expect("the recording"));
    }
    assert!(recorded.contains(r#""type":"tick""#) && recorded.contains(r#""type":"whale_trade""#));
    let session = ws.path().join("recorded.jsonl");
    std::fs::write(&session, recorded).expect("write the session");
    let env = daemon_env(&venue);
    let replay = ws
        .command(&["replay", "--audit", session.to_str().expect("utf-8 path")])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("replay");
    assert!(replay.status.success(), "replay failed: {}", String::from_utf8_lossy(&replay.stderr));
    let stdout = String::from_utf8_lossy(&replay.stdout);
    let audit_lines: String = stdout.lines().filter(|l| l.starts_with('{')).map(|l| format!("{l}\n")).collect();
    assert_eq!(decisions(&json_lines(&audit_lines)), daemon_decisions, "the replay decided otherwise");
}
