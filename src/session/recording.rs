//! Recording: the `[record]` section and the files a recording writes, one per UTC day of the
//! engine's time (`session-YYYY-MM-DD.jsonl`), bounded per file and in total.
//!
//! - A day's file that reaches `max_file_mb` stops taking lines until the next day's file begins
//!   (the rest of that day is not recorded; the caller warns once). A line is never cut in two.
//! - When the files together pass `max_total_mb`, the oldest days' files are deleted (never the
//!   one being written).
//! - A file already there for the day (a restarted daemon) is appended to.
//!
//! The day comes from the time the engine stepped the input, not the wall clock, so a replayed
//! session is recorded under its own days and a test can cross midnight without waiting.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::config::{Issues, join};

const MB: u64 = 1024 * 1024;

/// `[record]`: the daemon writes every input the engine stepped to a session file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordConfig {
    pub enabled: bool,
    /// Directory of the session files (created when missing).
    pub dir: PathBuf,
    /// A day's file stops growing at this size (MB); the rest of that day is not recorded.
    pub max_file_mb: u64,
    /// All session files together; past it the oldest days' files are deleted (MB).
    pub max_total_mb: u64,
}

impl Default for RecordConfig {
    fn default() -> Self {
        Self { enabled: false, dir: PathBuf::from("data/sessions"), max_file_mb: 512, max_total_mb: 10_240 }
    }
}

/// The largest size either bound may name, in MB (1 TB).
const MAX_MB: u64 = 1_048_576;

impl RecordConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(self.dir.as_os_str().is_empty(), join(prefix, "dir"), "\"\"", "must name a directory");
        issues.check(
            !(1..=MAX_MB).contains(&self.max_file_mb),
            join(prefix, "max_file_mb"),
            self.max_file_mb,
            "must be between 1 and 1048576",
        );
        issues.check(
            !(1..=MAX_MB).contains(&self.max_total_mb),
            join(prefix, "max_total_mb"),
            self.max_total_mb,
            "must be between 1 and 1048576",
        );
        issues.check(
            self.max_total_mb < self.max_file_mb,
            join(prefix, "max_total_mb"),
            self.max_total_mb,
            "must be at least max_file_mb (one day's file must fit)",
        );
    }

    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_mb.saturating_mul(MB)
    }

    pub fn max_total_bytes(&self) -> u64 {
        self.max_total_mb.saturating_mul(MB)
    }
}

/// Why a recording could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create the session directory {path}: {reason}")]
    CreateDir { path: String, reason: String },
    #[error("cannot list the session directory {path}: {reason}")]
    ListDir { path: String, reason: String },
    #[error("cannot open {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot delete the old session file {path}: {reason}")]
    Delete { path: String, reason: String },
}

/// What became of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Line,
    /// The day's file is full: this line and the rest of the day are not recorded. Returned once
    /// per day, for the one warning.
    FileFull {
        path: PathBuf,
    },
    /// The day's file was already full.
    Skipped,
}

/// The session file of the UTC day of `at`: `session-YYYY-MM-DD.jsonl`.
pub fn file_name(at: Timestamp) -> String {
    format!("session-{}.jsonl", at.to_datetime().format("%Y-%m-%d"))
}

/// Whether `name` is a session file this recorder wrote (`session-YYYY-MM-DD.jsonl`).
fn is_session_file(name: &str) -> bool {
    name.strip_prefix("session-")
        .and_then(|rest| rest.strip_suffix(".jsonl"))
        .is_some_and(|day| chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok())
}

/// The open day's file.
struct DayFile {
    name: String,
    path: PathBuf,
    out: BufWriter<File>,
    bytes: u64,
    full: bool,
}

/// The session files of one directory, written one line at a time.
pub struct SessionFiles {
    dir: PathBuf,
    max_file_bytes: u64,
    max_total_bytes: u64,
    /// The other days' files, by name (the name sorts by day), with their sizes.
    others: Vec<(String, u64)>,
    current: Option<DayFile>,
    lines: u64,
}

impl SessionFiles {
    /// Opens `dir` (creating it), counting the session files already there towards the total.
    pub fn open(dir: &Path, max_file_bytes: u64, max_total_bytes: u64) -> Result<Self, RecordError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| RecordError::CreateDir { path: dir.display().to_string(), reason: e.to_string() })?;
        let list_error =
            |e: std::io::Error| RecordError::ListDir { path: dir.display().to_string(), reason: e.to_string() };
        let mut others = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(list_error)? {
            let entry = entry.map_err(list_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_session_file(&name) {
                others.push((name, entry.metadata().map_err(list_error)?.len()));
            }
        }
        others.sort();
        Ok(Self { dir: dir.to_path_buf(), max_file_bytes, max_total_bytes, others, current: None, lines: 0 })
    }

    /// Lines written since opening.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The file being written, once the first line went in.
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|f| f.path.as_path())
    }

    /// Writes `line` (without its newline) into the file of `at`'s UTC day, buffered; the files of
    /// earlier days past the total bound are deleted first. Returns the deleted files as well.
    pub fn write(&mut self, at: Timestamp, line: &str) -> Result<(Written, Vec<PathBuf>), RecordError> {
        let name = file_name(at);
        if self.current.as_ref().is_none_or(|f| f.name != name) {
            self.switch_to(name)?;
        }
        let Some(file) = self.current.as_mut() else { return Ok((Written::Skipped, Vec::new())) };
        if file.full {
            return Ok((Written::Skipped, Vec::new()));
        }
        let size = line.len() as u64 + 1;
        if file.bytes + size > self.max_file_bytes {
            file.full = true;
            return Ok((Written::FileFull { path: file.path.clone() }, Vec::new()));
        }
        let write_error =
            |e: std::io::Error| RecordError::Write { path: file.path.display().to_string(), reason: e.to_string() };
        file.out.write_all(line.as_bytes()).map_err(write_error)?;
        file.out.write_all(b"\n").map_err(write_error)?;
        file.bytes += size;
        self.lines += 1;
        let deleted = self.enforce_total()?;
        Ok((Written::Line, deleted))
    }

    /// Pushes what is buffered to the file.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        match self.current.as_mut() {
            Some(file) => file
                .out
                .flush()
                .map_err(|e| RecordError::Write { path: file.path.display().to_string(), reason: e.to_string() }),
            None => Ok(()),
        }
    }

    fn switch_to(&mut self, name: String) -> Result<(), RecordError> {
        self.flush()?;
        if let Some(old) = self.current.take() {
            self.others.push((old.name, old.bytes));
            self.others.sort();
        }
        // A file of the day already there (a restart, or the engine's time went back to it).
        let existing = self.others.iter().position(|(n, _)| *n == name).map(|i| self.others.remove(i).1);
        let path = self.dir.join(&name);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| RecordError::Open { path: path.display().to_string(), reason: e.to_string() })?;
        let bytes = existing.unwrap_or(0);
        self.current = Some(DayFile {
            name,
            path,
            out: BufWriter::with_capacity(64 * 1024, file),
            bytes,
            full: bytes >= self.max_file_bytes,
        });
        Ok(())
    }

    /// Deletes the oldest other days' files while all of them together pass the total bound.
    fn enforce_total(&mut self) -> Result<Vec<PathBuf>, RecordError> {
        let current = self.current.as_ref().map_or(0, |f| f.bytes);
        let mut total = current + self.others.iter().map(|(_, b)| b).sum::<u64>();
        let mut deleted = Vec::new();
        while total > self.max_total_bytes && !self.others.is_empty() {
            let (name, bytes) = self.others.remove(0);
            let path = self.dir.join(&name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(RecordError::Delete { path: path.display().to_string(), reason: e.to_string() });
                }
            }
            total -= bytes;
            deleted.push(path);
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-04T23:59:59.000Z
    const LAST_SECOND: Timestamp = Timestamp::from_millis(1_796_428_799_000);

    fn read(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}")).lines().map(str::to_owned).collect()
    }

    fn write(files: &mut SessionFiles, at: Timestamp, line: &str) -> Written {
        files.write(at, line).unwrap_or_else(|e| panic!("{e}")).0
    }

    #[test]
    fn a_new_file_begins_at_the_utc_day_boundary() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut files = SessionFiles::open(dir.path(), MB, 10 * MB).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(write(&mut files, LAST_SECOND, "a"), Written::Line);
        assert_eq!(write(&mut files, LAST_SECOND.plus_millis(999), "b"), Written::Line);
        assert_eq!(write(&mut files, LAST_SECOND.plus_millis(1000), "c"), Written::Line);
        files.flush().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&dir.path().join("session-2026-12-04.jsonl")), ["a", "b"]);
        assert_eq!(read(&dir.path().join("session-2026-12-05.jsonl")), ["c"]);
        assert_eq!(files.lines(), 3);
        // A restart appends to the day's file.
        drop(files);
        let mut files = SessionFiles::open(dir.path(), MB, 10 * MB).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(write(&mut files, LAST_SECOND.plus_millis(2000), "d"), Written::Line);
        files.flush().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&dir.path().join("session-2026-12-05.jsonl")), ["c", "d"]);
    }

    #[test]
    fn a_full_file_stops_the_day_once_and_the_next_day_records_again() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // Three 9-byte lines (with the newline) fit in 30 bytes, a fourth does not.
        let mut files = SessionFiles::open(dir.path(), 30, 1000).unwrap_or_else(|e| panic!("{e}"));
        let day1 = LAST_SECOND.plus_millis(-10_000);
        for i in 0..3 {
            assert_eq!(write(&mut files, day1, &format!("line-{i:03}")), Written::Line);
        }
        let path = dir.path().join("session-2026-12-04.jsonl");
        assert_eq!(write(&mut files, day1, "line-003"), Written::FileFull { path: path.clone() });
        assert_eq!(
            write(&mut files, day1, "x"),
            Written::Skipped,
            "once full, even a short line waits for the next day"
        );
        assert_eq!(write(&mut files, LAST_SECOND.plus_millis(1000), "next-day"), Written::Line);
        files.flush().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&path), ["line-000", "line-001", "line-002"]);
        assert!(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) <= 30);
        // A restart on a full day's file does not grow it.
        drop(files);
        let mut files = SessionFiles::open(dir.path(), 30, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(write(&mut files, day1, "late"), Written::FileFull { .. }));
    }

    #[test]
    fn past_the_total_the_oldest_days_are_deleted_never_the_current_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "not a session").unwrap_or_else(|e| panic!("{e}"));
        let line = "x".repeat(99); // 100 bytes with the newline
        let mut files = SessionFiles::open(dir.path(), 300, 500).unwrap_or_else(|e| panic!("{e}"));
        let day = 86_400_000;
        let mut deleted = Vec::new();
        for d in 0..4 {
            for _ in 0..2 {
                let (_, gone) = files.write(LAST_SECOND.plus_millis(d * day), &line).unwrap_or_else(|e| panic!("{e}"));
                deleted.extend(gone);
            }
        }
        // Four days of 200 bytes: 800 > 500, so the two oldest went, each as the total passed.
        assert_eq!(deleted, [dir.path().join("session-2026-12-04.jsonl"), dir.path().join("session-2026-12-05.jsonl")]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        left.sort();
        assert_eq!(left, ["notes.txt", "session-2026-12-06.jsonl", "session-2026-12-07.jsonl"]);
        // Files already there at start count towards the total.
        drop(files);
        let mut files = SessionFiles::open(dir.path(), 300, 500).unwrap_or_else(|e| panic!("{e}"));
        let (_, gone) =
            files.write(LAST_SECOND.plus_millis(4 * day), &"y".repeat(199)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(gone, [dir.path().join("session-2026-12-06.jsonl")]);
    }

    #[test]
    fn bad_bounds_are_named() {
        let config = RecordConfig { dir: PathBuf::new(), max_file_mb: 0, max_total_mb: 0, enabled: true };
        let mut issues = Issues::new();
        config.validate("record", &mut issues);
        let keys: Vec<String> = issues.as_slice().iter().map(|i| i.key.clone()).collect();
        assert_eq!(keys, ["record.dir", "record.max_file_mb", "record.max_total_mb"]);
        let config = RecordConfig { max_file_mb: 100, max_total_mb: 50, ..RecordConfig::default() };
        let mut issues = Issues::new();
        config.validate("record", &mut issues);
        assert_eq!(
            issues.as_slice().iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["record.max_total_mb = 50: must be at least max_file_mb (one day's file must fit)"]
        );
        let mut issues = Issues::new();
        RecordConfig::default().validate("record", &mut issues);
        assert!(issues.is_empty());
    }
}
