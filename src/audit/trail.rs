//! Reading the trade audit trail the daemon wrote: `trade_audit.log` and its rotated files
//! (`trade_audit.log.1` is the newest of them), oldest first, each line one JSON object.
//!
//! A line is the logging layer's JSON: its own `timestamp` first, then `level`, `message`, the
//! record's fields flat and `target`. The record's `timestamp` comes after the layer's and the
//! later key wins, so the record's time (the engine's, a replayed session's) is the one read. Only `trade_opened`, `trade_closed` and `trade_rejected` lines are taken;
//! other audit events are passed over. A line that cannot be read is counted per cause, its first
//! example kept, and skipped.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::AuditError;
use crate::engine::audit::AuditRecord;
use crate::session::{LineError, SessionLines};

/// The file the daemon writes the trail to, under `logging.dir`.
pub const TRAIL_FILE: &str = "trade_audit.log";

/// The longest trail line read: a decision record is well under a kilobyte.
pub const MAX_TRAIL_LINE_BYTES: usize = 64 * 1024;

/// The events a signal export reads.
const SIGNAL_EVENTS: [&str; 3] = ["trade_opened", "trade_closed", "trade_rejected"];

/// Lines skipped for one cause: how many, and where the first was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub count: u64,
    pub first: String,
}

/// The records read, and what was skipped.
#[derive(Debug, Default)]
pub struct Trail {
    pub files: Vec<PathBuf>,
    pub records: Vec<AuditRecord>,
    pub skipped: BTreeMap<&'static str, Skipped>,
}

impl Trail {
    fn skip(&mut self, cause: &'static str, file: &Path, line: usize, error: &dyn std::fmt::Display) {
        let entry = self.skipped.entry(cause).or_insert_with(|| Skipped {
            count: 0,
            first: format!("{}:{line}: {}", file.display(), error.to_string().chars().take(200).collect::<String>()),
        });
        entry.count += 1;
    }
}

/// The trail files under `dir`, oldest first: the highest rotation number first, the live file last.
pub fn trail_files(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| AuditError::Io { path: dir.display().to_string(), reason: e.to_string() })?;
    let mut rotated = Vec::new();
    let mut live = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == TRAIL_FILE {
            live = Some(entry.path());
        } else if let Some(n) =
            name.strip_prefix(TRAIL_FILE).and_then(|rest| rest.strip_prefix('.')).and_then(|n| n.parse::<u32>().ok())
        {
            rotated.push((n, entry.path()));
        }
    }
    rotated.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    files.extend(live);
    if files.is_empty() {
        return Err(AuditError::NoTrail { dir: dir.display().to_string() });
    }
    Ok(files)
}

/// Reads every trail file under `dir`.
pub fn read_trail(dir: &Path) -> Result<Trail, AuditError> {
    let mut trail = Trail { files: trail_files(dir)?, ..Trail::default() };
    for file in trail.files.clone() {
        let handle = std::fs::File::open(&file)
            .map_err(|e| AuditError::Io { path: file.display().to_string(), reason: e.to_string() })?;
        for line in SessionLines::with_limit(BufReader::new(handle), MAX_TRAIL_LINE_BYTES) {
            let line = line.map_err(|e| AuditError::Io { path: file.display().to_string(), reason: e.to_string() })?;
            let text = match line.text {
                Ok(text) => text,
                Err(e @ (LineError::TooLong { .. } | LineError::NotUtf8)) => {
                    trail.skip(e.cause(), &file, line.number, &e);
                    continue;
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            match parse_line(&text) {
                Ok(Some(record)) => trail.records.push(record),
                Ok(None) => {}
                Err((cause, e)) => trail.skip(cause, &file, line.number, &e),
            }
        }
    }
    Ok(trail)
}

/// One trail line: `Ok(None)` for an event a signal export does not read.
fn parse_line(text: &str) -> Result<Option<AuditRecord>, (&'static str, serde_json::Error)> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ("not_json", e))?;
    let Some(event) = value.get("event").and_then(serde_json::Value::as_str) else { return Ok(None) };
    if !SIGNAL_EVENTS.contains(&event) {
        return Ok(None);
    }
    serde_json::from_value(value).map(Some).map_err(|e| ("bad_record", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_files_come_oldest_first_and_bad_lines_are_counted_per_cause() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let rejected = |id: &str| {
            format!(
                r#"{{"timestamp":"2026-12-04T11:00:00Z","level":"INFO","message":"trade rejected","event":"trade_rejected","whale_trade_id":"{id}","whale_address":"0xa","market_id":"0xm","token_id":"1","reason":"price_moved","detail":"d","timestamp":"2026-01-05T10:00:00.000Z","target":"whale_trader::audit"}}"#
            )
        };
        std::fs::write(dir.path().join("trade_audit.log.2"), rejected("oldest") + "\n")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("trade_audit.log.1"),
            rejected("older") + "\nnot json\n{\"event\":\"trade_rejected\"}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("trade_audit.log"), rejected("newest") + "\n{\"event\":\"recovery\"}\n")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("main.log"), rejected("elsewhere")).unwrap_or_else(|e| panic!("{e}"));
        let trail = read_trail(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = trail
            .records
            .iter()
            .filter_map(|r| match r {
                AuditRecord::TradeRejected(r) => Some(r.whale_trade_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["oldest", "older", "newest"]);
        assert_eq!(trail.skipped["not_json"].count, 1);
        assert_eq!(trail.skipped["bad_record"].count, 1);
        assert!(trail.skipped["bad_record"].first.contains("trade_audit.log.1:3"), "{:?}", trail.skipped);
        // The record's own time wins over the logging layer's.
        match &trail.records[0] {
            AuditRecord::TradeRejected(r) => assert_eq!(r.timestamp, "2026-01-05T10:00:00.000Z"),
            other => panic!("{other:?}"),
        }
        let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(read_trail(empty.path()), Err(AuditError::NoTrail { .. })));
    }
}
