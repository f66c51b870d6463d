//! `whale-trader audit export|summary` on the trail a daemon wrote: the sample session replayed by
//! the real binary, its `trade_audit.log` read independently here (plain JSON lines) and checked
//! against the export (one record per signal, its reason and outcome), the CSV against the JSON,
//! the `--since` / `--until` bounds, rotated files, and the summary's counts.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;
use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

/// A workspace whose daemon has replayed the sample session and stopped.
fn replayed_workspace() -> Workspace {
    let ws = Workspace::with_default_config("");
    let mut daemon = ws.spawn_daemon(&[]);
    let replayed = wait_until(Duration::from_secs(60), || ws.read("logs/main.log").contains("replay finished"));
    assert!(replayed, "the sample session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(30));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "the daemon did not stop cleanly");
    ws
}

fn run(ws: &Workspace, args: &[&str]) -> String {
    let out = ws.output(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn decimal(value: &Value) -> Option<Decimal> {
    value.as_str().map(|s| s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
}

fn millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap_or_else(|e| panic!("{rfc3339}: {e}")).timestamp_millis()
}

/// The decisions in the trail, read here without the crate: `(whale_trade_id, decision, reason,
/// time, closing record)` in file order.
fn decisions_in(trail: &[Value]) -> Vec<(String, String, String, String, Option<Value>)> {
    let closes: BTreeMap<&str, &Value> = trail
        .iter()
        .filter(|l| l["event"] == "trade_closed")
        .map(|l| (l["trade_id"].as_str().unwrap_or_default(), l))
        .collect();
    trail
        .iter()
        .filter_map(|l| {
            let id = l["whale_trade_id"].as_str().unwrap_or_default().to_owned();
            let at = l["timestamp"].as_str().unwrap_or_default().to_owned();
            match l["event"].as_str() {
                Some("trade_opened") => {
                    let close = closes.get(l["trade_id"].as_str().unwrap_or_default()).map(|c| (*c).clone());
                    Some((id, "opened".to_owned(), "copied".to_owned(), at, close))
                }
                Some("trade_rejected") => {
                    Some((id, "rejected".to_owned(), l["reason"].as_str().unwrap_or_default().to_owned(), at, None))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn the_export_holds_one_record_per_signal_with_its_outcome_and_the_summary_counts_them() {
    let ws = replayed_workspace();
    let trail = json_lines(&ws.read("logs/trade_audit.log"));
    let decisions = decisions_in(&trail);
    assert!(decisions.len() >= 10, "the sample session decides on more whale trades: {decisions:?}");

    // JSON lines: one per signal, the same whale trades, decisions and reasons, and the outcome
    // of each copy as its trade_closed record states it.
    run(&ws, &["audit", "export", "--format", "json", "--out", "signals.jsonl"]);
    let exported = json_lines(&ws.read("signals.jsonl"));
    assert_eq!(exported.len(), decisions.len());
    let mut expected = decisions.clone();
    expected.sort_by_key(|d| millis(&d.3));
    for (record, (id, decision, reason, at, close)) in exported.iter().zip(&expected) {
        assert_eq!(
            (&record["whale_trade_id"], &record["decision"], &record["reason"]),
            (&(*id).clone().into(), &(*decision).clone().into(), &(*reason).clone().into())
        );
        assert_eq!(record["decided_at"], at.as_str());
        assert!(record["whale_label"].as_str().is_some_and(|l| l.contains("(synthetic)")), "{record}");
        assert!(record["market_title"].as_str().is_some_and(|t| t.starts_with("Synthetic market")), "{record}");
        assert!(record["equity_usd"].is_string() && record["trading_state"].is_string(), "{record}");
        assert!(record["regime"].as_str().is_some_and(|r| ["trend", "range", "volatile", "unknown"].contains(&r)));
        match close {
            Some(close) => {
                assert_eq!(record["status"], "closed");
                assert_eq!(record["exit_reason"], close["reason"]);
                assert_eq!(decimal(&record["pnl_usd"]), decimal(&close["pnl_usd"]));
                assert_eq!(record["hold_time_seconds"].as_i64(), close["hold_time_seconds"].as_i64());
                let risk = decimal(&record["risk_usd"]).expect("an opened record has its risk");
                let r = decimal(&close["pnl_usd"]).expect("pnl") / risk;
                assert_eq!(decimal(&record["r_multiple"]), Some(r.round_dp(4)), "{record}");
            }
            None if decision == "opened" => assert_eq!(record["status"], "open"),
            None => assert_eq!(record["status"], ""),
        }
    }

    // CSV: a flat header, then the same records, field for field (decimals as the same text).
    let csv_text = run(&ws, &["audit", "export", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    assert_eq!(header.first().map(String::as_str), Some("decided_at"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    assert_eq!(rows.len(), exported.len());
    for (row, record) in rows.iter().zip(&exported) {
        for (column, cell) in header.iter().zip(row.iter()) {
            let expected = match &record[column] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell, expected, "column {column} of {record}");
        }
    }

    // Bounds: since is inclusive, until exclusive; a bare date for until includes its day.
    let times: Vec<i64> = expected.iter().map(|d| millis(&d.3)).collect();
    let (since, until) = (times[2], times[times.len() - 3]);
    let since_text = chrono::DateTime::from_timestamp_millis(since).expect("time").to_rfc3339();
    let until_text = chrono::DateTime::from_timestamp_millis(until).expect("time").to_rfc3339();
    let bounded =
        json_lines(&run(&ws, &["audit", "export", "--format", "json", "--since", &since_text, "--until", &until_text]));
    assert_eq!(bounded.len(), times.iter().filter(|t| **t >= since && **t < until).count());
    assert!(bounded.len() < exported.len() && !bounded.is_empty());
    let day = &expected[0].3[..10];
    assert_eq!(json_lines(&run(&ws, &["audit", "export", "--format", "json", "--until", day])).len(), exported.len());
    let before = run(&ws, &["audit", "export", "--format", "csv", "--until", "2025-12-31"]);
    assert_eq!(before.lines().collect::<Vec<_>>(), csv_text.lines().take(1).collect::<Vec<_>>(), "only the header");
    let bad = ws.output(&["audit", "export", "--format", "csv", "--until", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("until = soon"));

    // The summary's counts, from the trail read here.
    let summary: Value = serde_json::from_str(&run(&ws, &["audit", "summary", "--json"])).expect("summary JSON");
    let opened = decisions.iter().filter(|d| d.1 == "opened").count() as u64;
    let rejected = decisions.len() as u64 - opened;
    let closes: Vec<Decimal> =
        decisions.iter().filter_map(|d| d.4.as_ref()).filter_map(|c| decimal(&c["pnl_usd"])).collect();
    let wins = closes.iter().filter(|p| **p > Decimal::ZERO).count() as u64;
    assert_eq!(summary["signals"].as_u64(), Some(decisions.len() as u64));
    assert_eq!((summary["opened"].as_u64(), summary["rejected"].as_u64()), (Some(opened), Some(rejected)));
    assert_eq!((summary["closed"].as_u64(), summary["wins"].as_u64()), (Some(closes.len() as u64), Some(wins)));
    assert_eq!(
        decimal(&summary["hit_rate"]),
        Some((Decimal::from(wins) / Decimal::from(closes.len() as u64)).round_dp(4))
    );
    assert_eq!(decimal(&summary["pnl_usd"]), Some(closes.iter().sum()));
    let mut reasons = BTreeMap::<String, u64>::new();
    for d in decisions.iter().filter(|d| d.1 == "rejected") {
        *reasons.entry(d.2.clone()).or_default() += 1;
    }
    assert_eq!(summary["rejected_by_reason"], serde_json::to_value(&reasons).expect("json"));
    let bucketed: u64 =
        summary["r_distribution"].as_array().expect("buckets").iter().filter_map(|b| b[1].as_u64()).sum();
    assert_eq!(bucketed, closes.len() as u64);
    let by_regime: u64 =
        summary["by_regime"].as_object().expect("regimes").values().filter_map(|f| f["signals"].as_u64()).sum();
    assert_eq!(by_regime, decisions.len() as u64);
    let text = run(&ws, &["audit", "summary"]);
    assert!(text.contains("hit rate") && text.contains("by market regime"), "{text}");

    // A rotated trail reads the same: the older half moved to trade_audit.log.1.
    let whole = ws.read("logs/trade_audit.log");
    let lines: Vec<&str> = whole.lines().collect();
    let (older, newer) = lines.split_at(lines.len() / 2);
    ws.write("logs/trade_audit.log.1", &(older.join("\n") + "\n"));
    ws.write("logs/trade_audit.log", &(newer.join("\n") + "\nnot a record\n"));
    let out = ws.output(&["audit", "export", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&String::from_utf8_lossy(&out.stdout)), exported);
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 1 unreadable audit line(s) (not_json)"));
}

#[test]
fn no_trail_is_a_clear_error() {
    let ws = Workspace::with_default_config("");
    std::fs::create_dir_all(ws.path().join("logs")).expect("logs dir");
    let out = ws.output(&["audit", "summary"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no trade audit trail (trade_audit.log) in logs"));
}
