//! The JSON-lines exporter: one event per line, appended; before a line would take the file past
//! its limit, the file is rotated (`path` → `path.1` → … → `path.keep`, the oldest deleted), so a
//! line is never split across two files. Each line is one `write_all` on an unbuffered file: a
//! line counted as exported has reached the operating system.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the file could not be opened, written or rotated.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    #[error("telemetry file {path}: cannot open: {source}")]
    Open { path: String, source: std::io::Error },
    #[error("telemetry file {path}: cannot write: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("telemetry file {path}: cannot rotate: {source}")]
    Rotate { path: String, source: std::io::Error },
}

#[derive(Debug)]
pub struct JsonlFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    /// `None` after a failed write or rotation: reopened at the next line.
    file: Option<File>,
    size: u64,
}

impl JsonlFile {
    /// Opens (creating it and its directory) `path` for appending.
    pub fn open(path: &Path, max_bytes: u64, keep: u32) -> Result<Self, JsonlError> {
        let mut file = Self { path: path.to_owned(), max_bytes: max_bytes.max(1), keep, file: None, size: 0 };
        file.reopen()?;
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn reopen(&mut self) -> Result<(), JsonlError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JsonlError::Open { path: self.shown(), source })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|source| JsonlError::Open { path: self.shown(), source })?;
        self.size = file.metadata().map(|m| m.len()).unwrap_or(0);
        self.file = Some(file);
        Ok(())
    }

    /// Appends one line (newline included), rotating first when it would not fit.
    pub fn write_line(&mut self, line: &[u8]) -> Result<(), JsonlError> {
        if self.file.is_none() {
            self.reopen()?;
        }
        if self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let Some(file) = self.file.as_mut() else {
            return Err(JsonlError::Write { path: self.shown(), source: std::io::ErrorKind::NotFound.into() });
        };
        if let Err(source) = file.write_all(line) {
            self.file = None;
            return Err(JsonlError::Write { path: self.shown(), source });
        }
        self.size += line.len() as u64;
        Ok(())
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// `path.(keep-1)` → `path.keep`, …, `path` → `path.1`; with `keep = 0` the full file is removed.
    fn rotate(&mut self) -> Result<(), JsonlError> {
        self.file = None;
        let failed = |source| JsonlError::Rotate { path: self.shown(), source };
        if self.keep == 0 {
            std::fs::remove_file(&self.path).map_err(failed)?;
        } else {
            for n in (1..self.keep).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1)).map_err(failed)?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1)).map_err(failed)?;
        }
        self.reopen()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_before_a_line_would_pass_the_limit_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telemetry/events.jsonl");
        let mut file = JsonlFile::open(&path, 25, 2).unwrap();
        for n in 0..7 {
            // 10 bytes each: two lines fit in 25 bytes, a third does not.
            file.write_line(format!("{{\"n\":{n:04}}}\n").as_bytes()).unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&path), "{\"n\":0006}\n");
        assert_eq!(read(&dir.path().join("telemetry/events.jsonl.1")), "{\"n\":0004}\n{\"n\":0005}\n");
        assert_eq!(read(&dir.path().join("telemetry/events.jsonl.2")), "{\"n\":0002}\n{\"n\":0003}\n");
        assert!(!dir.path().join("telemetry/events.jsonl.3").exists(), "only `keep` old files stay");
    }

    #[test]
    fn appends_to_an_existing_file_counting_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"n\":0000}\n{\"n\":0001}\n").unwrap();
        let mut file = JsonlFile::open(&path, 25, 0).unwrap();
        file.write_line(b"{\"n\":0002}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":0002}\n", "keep = 0 removes the full file");
    }

    #[test]
    fn a_directory_in_the_way_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = JsonlFile::open(dir.path(), 100, 1).unwrap_err();
        assert!(error.to_string().starts_with("telemetry file "), "{error}");
    }
}
