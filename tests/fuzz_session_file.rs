//! Fuzz target of the session-file reader: the bounded line splitter (`SessionLines`), the line
//! parser (`parse_line`: whale trades, books, market info, resolutions) and a whole replay over a
//! file of hostile lines. Any bytes must give lines no longer than the bound (or a typed
//! too-long/not-UTF-8 error), any line a parsed event or a typed error, and a replay a report
//! that counts every line, never a panic.

mod support;

use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use serde_json::Value;
use support::fuzz::{bytes, config, json_value, mutated_object};
use support::repo_path;
use whale_trader::config::Config;
use whale_trader::engine::MemoryAuditSink;
use whale_trader::engine::io::Input;
use whale_trader::session::{SessionLines, parse_line, replay_session};

const WORDS: &[&str] = &[
    "ts",
    "type",
    "whale_trade",
    "book",
    "market",
    "resolution",
    "trade",
    "condition_id",
    "winning_token_id",
    "bids",
    "asks",
    "price",
    "size",
    "asset_id",
    "timestamp",
    "tick_size",
    "min_order_size",
    "side",
    "BUY",
    "SELL",
    "TRADE",
    "c",
    "t",
    "o",
    "mts",
    "mos",
];

/// The first line of each event type in the bundled sample session: real lines to mutate.
fn sample_lines() -> &'static [Value] {
    static LINES: OnceLock<Vec<Value>> = OnceLock::new();
    LINES.get_or_init(|| {
        let text = std::fs::read_to_string(repo_path("data/sample_session.jsonl")).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = Vec::new();
        let mut lines = Vec::new();
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("the sample session parses: {e}"));
            let kind = value["type"].as_str().unwrap_or_default().to_owned();
            if !seen.contains(&kind) {
                seen.push(kind);
                lines.push(value);
            }
        }
        assert_eq!(lines.len(), 4, "the sample session has whale trades, books, markets and a resolution");
        lines
    })
}

/// The payload field of a session line of each type (the object the venue sent).
fn payload_key(line: &Value) -> Option<&'static str> {
    match line["type"].as_str()? {
        "whale_trade" => Some("trade"),
        "book" => Some("book"),
        "market" => Some("market"),
        _ => None,
    }
}

/// A sample line with its envelope or its payload mutated.
fn near_miss_line() -> impl Strategy<Value = String> {
    (0..sample_lines().len(), any::<bool>()).prop_flat_map(|(index, in_payload)| {
        let line = sample_lines()[index].clone();
        match payload_key(&line).filter(|_| in_payload) {
            Some(key) => mutated_object(line[key].clone(), WORDS)
                .prop_map(move |payload| {
                    let mut line = line.clone();
                    line[key] = payload;
                    line.to_string()
                })
                .boxed(),
            None => mutated_object(line, WORDS).prop_map(|line| line.to_string()).boxed(),
        }
    })
}

/// Any line a session file may hold: raw text, any JSON, or a sample line nearly right.
fn hostile_line() -> impl Strategy<Value = String> {
    prop_oneof![".{0,200}", json_value(WORDS).prop_map(|v| v.to_string()), near_miss_line(), near_miss_line(),]
}

fn check_parsed(line: &str) -> Result<(), TestCaseError> {
    if let Ok(Some(event)) = parse_line(line) {
        // A book the parser accepts is one the engine may price against: never crossed.
        if let Input::Book(book) = &event.input
            && let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask())
        {
            prop_assert!(bid.price < ask.price, "an accepted book is crossed or locked: {line}");
        }
    }
    Ok(())
}

fn sample_config() -> Arc<Config> {
    static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let text = std::fs::read_to_string(repo_path("config/default.toml")).unwrap_or_else(|e| panic!("{e}"));
            Arc::new(toml::from_str(&text).unwrap_or_else(|e| panic!("config/default.toml does not parse: {e}")))
        })
        .clone()
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes split into lines: each line is at most the bound, or a typed error; the lines
    /// number one more than the newlines (a trailing newline ends the last line).
    #[test]
    fn lines_of_raw_bytes(body in bytes(2_048), max in 1usize..256) {
        let newlines = body.iter().filter(|b| **b == b'\n').count();
        let expected = newlines + usize::from(!body.is_empty() && body.last() != Some(&b'\n'));
        let mut count = 0;
        for line in SessionLines::with_limit(Cursor::new(&body), max) {
            let line = line.map_err(|e| TestCaseError::fail(format!("an in-memory read failed: {e}")))?;
            count += 1;
            prop_assert_eq!(line.number, count);
            if let Ok(text) = &line.text {
                prop_assert!(text.len() <= max, "a line of {} bytes passed a bound of {max}", text.len());
                check_parsed(text)?;
            }
        }
        prop_assert_eq!(count, expected);
    }

    /// Lines of the real event types with one field wrong, and arbitrary JSON.
    #[test]
    fn lines_near_the_sample(line in hostile_line()) {
        check_parsed(&line)?;
    }

    /// A whole replay of a file of hostile lines among real ones: it ends with a report that
    /// counts every line, whatever the lines held.
    #[test]
    fn replays_of_hostile_files(lines in proptest::collection::vec(hostile_line(), 1..12)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("session.jsonl");
        let mut text: Vec<String> = sample_lines().iter().map(Value::to_string).collect();
        text.extend(lines);
        // Every line ends in a newline, so an empty last line is still a line.
        std::fs::write(&path, text.join("\n") + "\n").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let report = replay_session(&path, sample_config(), Box::new(MemoryAuditSink::new()))
            .map_err(|e| TestCaseError::fail(format!("a replay of hostile lines failed: {e}")))?;
        prop_assert_eq!(report.lines, text.len() as u64);
    }
}
