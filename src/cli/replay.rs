//! `whale-trader replay`: a recorded session through the engine, as fast as the CPU allows, for
//! review and what-if runs. Paper fills against the session's own books, the configured copy
//! rules and risk limits; nothing is written to the store, no alert is sent. With `--compare`,
//! the session twice, under this config and another, and the diff of what they decided.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::{self, Config, LoadOptions};
use crate::engine::audit::AuditRecord;
use crate::engine::{MemoryAuditSink, ReplayReport};
use crate::session::compare::{compare as diff_trails, render_text};
use crate::session::{SessionHeader, TimedReplay, replay_session, replay_session_timed};

use super::exit;

/// Replays `session` (default: `feed.replay_path`) under `config`; prints the audit records as
/// JSON lines when `audit`, then the summary (JSON with `json`); with `report`, also writes the
/// replay's report into `report_dir`.
pub fn replay(config: &Config, session: Option<&Path>, audit: bool, json: bool, report_dir: Option<&Path>) -> ExitCode {
    let path = session.unwrap_or(&config.feed.replay_path);
    let sink = MemoryAuditSink::new();
    let timed = match replay_session_timed(path, Arc::new(config.clone()), Box::new(sink.clone())) {
        Ok(timed) => timed,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let report = &timed.report;
    // A session says in its header when its books are not the venue's own; every summary repeats it.
    let header = match crate::session::read_header(path) {
        Ok(header) => header,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let records = sink.take_records();
    if audit {
        for record in &records {
            println!("{}", record.to_json_line());
        }
    }
    if json {
        let mut summary = summary_json(report, &records);
        add_timing(&mut summary, &timed);
        summary["source"] = header_json(header.as_ref());
        summary["source_warning"] = serde_json::json!(sparse_prices_warning(config, header.as_ref()));
        println!("{summary}");
    } else {
        print!("{}", summary_text(path, report));
        if timed.source.read != path {
            println!("read from         : {} ({})", timed.source.read.display(), timed.source.format.as_str());
        }
        print!("{}", header_text(header.as_ref()));
        if let Some(warning) = sparse_prices_warning(config, header.as_ref()) {
            println!("warning           : {warning}");
        }
    }
    match report_dir {
        Some(dir) => super::report::replay_report(config, path, &records, dir),
        None => ExitCode::from(exit::OK),
    }
}

/// Replays `session` under `config` (read from `base_path`) and under the config `other` names,
/// loaded and validated like the main one; prints the diff (JSON with `json`). A bad other config
/// is a config error naming that file.
pub fn compare(config: &Config, base_path: &Path, other: &LoadOptions, session: Option<&Path>, json: bool) -> ExitCode {
    let other_config = match config::load(other) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}: {e}", other.config_path.display());
            return ExitCode::from(exit::BAD_CONFIG);
        }
    };
    let path = session.unwrap_or(&config.feed.replay_path);
    let mut trails = Vec::with_capacity(2);
    for c in [config, &other_config] {
        let sink = MemoryAuditSink::new();
        if let Err(e) = replay_session(path, Arc::new(c.clone()), Box::new(sink.clone())) {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
        trails.push(sink.take_records());
    }
    let diff = diff_trails(&trails[0], &trails[1]);
    let (mut base_name, mut other_name) = (file_name(base_path), file_name(&other.config_path));
    if base_name == other_name {
        (base_name, other_name) = (base_path.display().to_string(), other.config_path.display().to_string());
    }
    if json {
        let value = serde_json::json!({
            "session": path.display().to_string(),
            "base_config": base_path.display().to_string(),
            "other_config": other.config_path.display().to_string(),
            "empty": diff.is_empty(),
            "diff": diff,
        });
        println!("{value}");
    } else {
        println!("replayed {} under {} and {}\n", path.display(), base_path.display(), other.config_path.display());
        print!("{}", render_text(&diff, &base_name, &other_name));
    }
    ExitCode::from(exit::OK)
}

/// Writes the JSON session `session` again in the compact format (see [`crate::session::convert`]).
pub fn convert(session: &Path, out: Option<&Path>, json: bool) -> ExitCode {
    match crate::session::convert(session, out) {
        Ok(done) => {
            if json {
                let value = serde_json::json!({
                    "output": done.output.display().to_string(),
                    "lines": done.lines,
                    "books": done.books,
                    "carries_ticks": done.carries_ticks,
                    "input_bytes": done.input_bytes,
                    "output_bytes": done.output_bytes,
                });
                println!("{value}");
            } else {
                println!(
                    "wrote {} ({} lines, {} of them books in the compact form; {} bytes from {})",
                    done.output.display(),
                    done.lines,
                    done.books,
                    done.output_bytes,
                    done.input_bytes
                );
                if done.output == crate::session::compact_twin(session) {
                    println!(
                        "replays of {} now read it instead, while {} is unchanged",
                        session.display(),
                        session.display()
                    );
                }
            }
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// Where the replay's time went, and which file it read: `parse_s` (the reading thread, reading
/// and parsing), `engine_s` (stepping the engine and the simulated executor).
fn add_timing(summary: &mut serde_json::Value, timed: &TimedReplay) {
    summary["parse_s"] = serde_json::json!(round_secs(timed.parse));
    summary["engine_s"] = serde_json::json!(round_secs(timed.engine));
    summary["read"] = serde_json::json!(timed.source.read.display().to_string());
    summary["format"] = serde_json::json!(timed.source.format.as_str());
}

fn round_secs(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

/// A config's file name for a column heading (the whole path when it has none).
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn summary_json(report: &ReplayReport, records: &[AuditRecord]) -> serde_json::Value {
    let mut reasons = std::collections::BTreeMap::<String, u64>::new();
    for record in records {
        if let (AuditRecord::TradeRejected(_) | AuditRecord::TradeClosed(_), Some(reason)) = (record, record.reason()) {
            *reasons.entry(format!("{}:{reason}", record.event_name())).or_default() += 1;
        }
    }
    serde_json::json!({
        "lines": report.lines,
        "malformed_lines": report.malformed_lines,
        "books_refused": report.books_refused,
        "inputs": report.inputs,
        "order_intents": report.order_intents,
        "whale_trades_seen": report.whale_trades_seen,
        "trades_opened": report.trades_opened,
        "trades_closed": report.trades_closed,
        "trades_rejected": report.trades_rejected,
        "realised_pnl_usd": report.realised_pnl_usd.round_dp(6).to_string(),
        "open_positions": report.open_positions,
        "final_state": report.final_state.as_str(),
        "by_reason": reasons,
    })
}

/// The longest piece of a header repeated in a summary (the header comes from a file).
const MAX_NOTE_CHARS: usize = 2_000;

fn note(text: &str) -> String {
    text.chars().take(MAX_NOTE_CHARS).collect()
}

/// Prices further apart than the feed's staleness limit halt entries between two points (the
/// stale-feed hold while positions are open, `stale_price` on entries): said beside the figures
/// so that nobody takes those rejections for the whale's or the limits' doing.
fn sparse_prices_warning(config: &Config, header: Option<&SessionHeader>) -> Option<String> {
    let interval = header?.price_interval_secs?;
    let stale_after = config.polymarket.price_feed.stale_after_secs;
    (interval > stale_after).then(|| {
        format!(
            "the session's prices are {interval} s apart, more than polymarket.price_feed.stale_after_secs = \
             {stale_after}: between two points the feed counts as stale and entries are refused; replay with \
             WHALE_TRADER__POLYMARKET__PRICE_FEED__STALE_AFTER_SECS={} to judge the whale rather than the gaps",
            interval + 60
        )
    })
}

/// Where the session came from, for the JSON summary: `null` without a header.
fn header_json(header: Option<&SessionHeader>) -> serde_json::Value {
    match header {
        None => serde_json::Value::Null,
        Some(h) => serde_json::json!({
            "source": note(&h.source),
            "wallets": h.wallets.iter().take(crate::cli::fetch_history::MAX_WALLETS).map(|w| serde_json::json!({
                "address": note(&w.address),
                "label": w.label.as_deref().map(note),
            })).collect::<Vec<_>>(),
            "since": note(&h.since),
            "until": note(&h.until),
            "fetched_at": note(&h.fetched_at),
            "book_approximation": h.book_approximation.as_deref().map(note),
            "price_interval_secs": h.price_interval_secs,
        }),
    }
}

fn header_text(header: Option<&SessionHeader>) -> String {
    let Some(h) = header else { return String::new() };
    let wallets: Vec<String> = h
        .wallets
        .iter()
        .take(crate::cli::fetch_history::MAX_WALLETS)
        .map(|w| match &w.label {
            Some(label) => format!("{} ({})", note(label), note(&w.address)),
            None => note(&w.address),
        })
        .collect();
    let mut text = format!(
        "source            : {} ({} to {}, fetched {})\n",
        note(&h.source),
        note(&h.since),
        note(&h.until),
        note(&h.fetched_at)
    );
    if !wallets.is_empty() {
        text.push_str(&format!("wallets           : {}\n", wallets.join(", ")));
    }
    if let Some(approximation) = &h.book_approximation {
        text.push_str(&format!("books             : {}\n", note(approximation)));
    }
    text
}

fn summary_text(path: &Path, r: &ReplayReport) -> String {
    format!(
        "replayed {} ({} lines, {} malformed, {} books refused)\n\
         whale trades seen : {}\n\
         trades opened     : {}\n\
         trades closed     : {}\n\
         trades rejected   : {}\n\
         order intents     : {}\n\
         realised P&L      : {}\n\
         open positions    : {}\n\
         final state       : {}\n",
        path.display(),
        r.lines,
        r.malformed_lines,
        r.books_refused,
        r.whale_trades_seen,
        r.trades_opened,
        r.trades_closed,
        r.trades_rejected,
        r.order_intents,
        crate::alerts::usd(r.realised_pnl_usd),
        r.open_positions,
        r.final_state.as_str(),
    )
}
