//! Opening a session in either format and reading it as parsed lines: how both replays (the plain
//! loop and the daemon's paced feed) get at a session.
//!
//! A JSON session converted with `whale-trader convert` gets a compact twin beside it
//! (`<file>.wtb`, see [`super::binary`]). While the twin still matches the JSON file (its header
//! records the file's length and modification time), opening the JSON file reads the twin
//! instead: the same lines, parsed an order of magnitude faster. A twin that no longer matches is
//! ignored, with a warning, and the JSON is read.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek};
use std::path::{Path, PathBuf};

use super::SessionError;
use super::binary::{BinaryError, BinaryHeader, BinaryLine, BinaryReader};
use super::event::{ReplayEvent, parse_line, parse_session_line, session_time};
use super::file::SessionLines;
use super::read_ahead::ReadAhead;
use crate::engine::Input;
use crate::market::OrderBook;
use crate::polymarket::settle_wire_book;

/// The block size of [`scan_for_ticks`]' reads: large reads, few system calls.
const READ_BUFFER_BYTES: usize = 1 << 20;

/// One line of a session, parsed: its number (from 1) and what it is.
#[derive(Debug)]
pub struct ParsedLine {
    pub number: usize,
    pub parsed: Result<Option<ReplayEvent>, SessionError>,
}

/// Which file a session is read from, and in which format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSource {
    /// The file actually read: the session itself or its compact twin.
    pub read: PathBuf,
    pub format: SessionFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionFormat {
    Json,
    Compact,
}

impl SessionFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionFormat::Json => "json",
            SessionFormat::Compact => "compact",
        }
    }
}

/// The compact twin `convert` writes beside a JSON session.
pub fn compact_twin(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wtb");
    PathBuf::from(name)
}

/// A JSON file's length and modification time, as a compact twin records them.
pub fn file_stamp(path: &Path) -> std::io::Result<(u64, i64)> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Ok((meta.len(), mtime))
}

/// An open session, read line by line.
pub struct SessionReader {
    source: SessionSource,
    lines: Lines,
    carries_ticks: Option<bool>,
    number: usize,
}

enum Lines {
    Json(SessionLines<ReadAhead>),
    Compact(BinaryReader<ReadAhead>),
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> SessionError {
    SessionError::Io { path: path.display().to_string(), reason: e.to_string() }
}

impl SessionReader {
    /// Opens the session at `path`: a compact file, or a JSON one (read through its compact twin
    /// while the twin matches it).
    pub fn open(path: &Path) -> Result<Self, SessionError> {
        let mut file = File::open(path).map_err(|e| io_error(path, e))?;
        if let Some(header) = BinaryHeader::read(&mut file).map_err(|e| io_error(path, e))? {
            return Self::compact(path.to_path_buf(), file, header);
        }
        let twin = compact_twin(path);
        if let Some((twin_file, header)) = matching_twin(path, &twin)? {
            return Self::compact(twin, twin_file, header);
        }
        file.rewind().map_err(|e| io_error(path, e))?;
        Ok(Self {
            source: SessionSource { read: path.to_path_buf(), format: SessionFormat::Json },
            lines: Lines::Json(SessionLines::new(ReadAhead::new(file).map_err(|e| io_error(path, e))?)),
            carries_ticks: None,
            number: 0,
        })
    }

    fn compact(read: PathBuf, file: File, header: BinaryHeader) -> Result<Self, SessionError> {
        let lines = Lines::Compact(BinaryReader::new(ReadAhead::new(file).map_err(|e| io_error(&read, e))?));
        Ok(Self {
            source: SessionSource { read, format: SessionFormat::Compact },
            lines,
            carries_ticks: Some(header.carries_ticks()),
            number: 0,
        })
    }

    pub fn source(&self) -> &SessionSource {
        &self.source
    }

    /// Whether the session carries its own timer ticks, when that is known without reading it
    /// all: a compact file says so in its header. `None` for a JSON file: [`scan_for_ticks`].
    pub fn known_ticks(&self) -> Option<bool> {
        self.carries_ticks
    }

    /// Hands back books this reader returned, once their user is done with them: a compact
    /// session decodes its next books into them (a JSON one frees them).
    pub fn recycle(&mut self, books: impl Iterator<Item = Box<OrderBook>>) {
        if let Lines::Compact(reader) = &mut self.lines {
            books.for_each(|book| reader.recycle(book));
        }
    }

    /// The next line, parsed; `Ok(None)` at the end of the session. An error is the file's
    /// (unreadable, or a compact file cut short): nothing after it can be read.
    pub fn next_line(&mut self) -> Result<Option<ParsedLine>, SessionError> {
        let path = &self.source.read;
        let parsed = match &mut self.lines {
            Lines::Json(lines) => match lines.next() {
                None => return Ok(None),
                Some(line) => parse_session_line(line.map_err(|e| io_error(path, e))?.text),
            },
            Lines::Compact(reader) => match reader.next_line().map_err(|e| io_error(path, e))? {
                None => return Ok(None),
                Some(BinaryLine::Text(text)) => parse_session_line(text),
                Some(BinaryLine::Book { ts, book }) => book_line(ts, book),
                Some(BinaryLine::Bad(e)) => Err(SessionError::BadField {
                    field: "compact_record",
                    value: e.to_string(),
                    rule: "a record of the compact session format",
                }),
            },
        };
        self.number += 1;
        Ok(Some(ParsedLine { number: self.number, parsed }))
    }
}

/// A compact book line: the same event, or the same refusal, as its JSON line.
fn book_line(ts: i64, mut book: Box<OrderBook>) -> Result<Option<ReplayEvent>, SessionError> {
    let at = session_time(ts)?;
    settle_wire_book(&mut book).map_err(SessionError::BookRefused)?;
    Ok(Some(ReplayEvent { at, input: Input::Book(book) }))
}

/// The twin of the JSON session at `path`, open past its header, when it exists and matches.
fn matching_twin(path: &Path, twin: &Path) -> Result<Option<(File, BinaryHeader)>, SessionError> {
    let Ok(mut file) = File::open(twin) else { return Ok(None) };
    let header = match BinaryHeader::read(&mut file) {
        Ok(Some(header)) => header,
        Err(e @ BinaryError::Version(_)) => {
            tracing::warn!(twin = %twin.display(), error = %e, "reading the JSON session instead");
            return Ok(None);
        }
        Ok(None) | Err(_) => {
            tracing::warn!(twin = %twin.display(), "not a compact session: reading the JSON session instead");
            return Ok(None);
        }
    };
    let (len, mtime) = file_stamp(path).map_err(|e| io_error(path, e))?;
    if (header.source_len, header.source_mtime_ns) != (len, mtime) {
        tracing::warn!(session = %path.display(), twin = %twin.display(),
            "the compact twin was converted from another version of the session: reading the JSON; run `whale-trader convert` again");
        return Ok(None);
    }
    Ok(Some((file, header)))
}

/// Whether the session at `path` carries its own timer ticks (`tick` lines: a daemon's
/// recording). Such a session is replayed with exactly those ticks, at their times; any other gets
/// a tick every simulated second from its first event (see [`crate::engine::replay`]).
pub fn carries_ticks(path: &Path) -> Result<bool, SessionError> {
    let reader = SessionReader::open(path)?;
    match reader.known_ticks() {
        Some(known) => Ok(known),
        None => scan_for_ticks(&reader.source().read),
    }
}

/// Whether the JSON session at `path` holds a `tick` line. Read in large blocks and searched for
/// the quoted word; only a line holding it is parsed (every book has `"tick_size"`, which does not
/// match).
pub fn scan_for_ticks(path: &Path) -> Result<bool, SessionError> {
    let mut file = BufReader::with_capacity(READ_BUFFER_BYTES, File::open(path).map_err(|e| io_error(path, e))?);
    let finder = memchr::memmem::Finder::new(b"\"tick\"");
    // The unfinished last line of a block is carried into the next one.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let block = file.fill_buf().map_err(|e| io_error(path, e))?;
        if block.is_empty() {
            return Ok(!carry.is_empty() && is_tick_line(&carry));
        }
        let used = block.len();
        let Some(last_newline) = memchr::memrchr(b'\n', block) else {
            carry.extend_from_slice(block);
            file.consume(used);
            continue;
        };
        let (whole, rest) = block.split_at(last_newline + 1);
        if !carry.is_empty() {
            let first_end = memchr::memchr(b'\n', whole).unwrap_or(whole.len());
            carry.extend_from_slice(&whole[..first_end]);
            if is_tick_line(&carry) {
                return Ok(true);
            }
            carry.clear();
            if contains_tick_line(&finder, &whole[first_end..]) {
                return Ok(true);
            }
        } else if contains_tick_line(&finder, whole) {
            return Ok(true);
        }
        carry.extend_from_slice(rest);
        file.consume(used);
        if carry.len() > super::MAX_LINE_BYTES {
            // An over-long line is skipped by every reader: it cannot be a tick.
            carry.clear();
            skip_line(&mut file).map_err(|e| io_error(path, e))?;
        }
    }
}

fn contains_tick_line(finder: &memchr::memmem::Finder<'_>, block: &[u8]) -> bool {
    finder.find_iter(block).any(|at| {
        let start = memchr::memrchr(b'\n', &block[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |i| at + i);
        is_tick_line(&block[start..end])
    })
}

fn is_tick_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line)
        .is_ok_and(|text| matches!(parse_line(text), Ok(Some(ReplayEvent { input: Input::Tick, .. }))))
}

fn skip_line(file: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let block = file.fill_buf()?;
        if block.is_empty() {
            return Ok(());
        }
        match memchr::memchr(b'\n', block) {
            Some(i) => {
                file.consume(i + 1);
                return Ok(());
            }
            None => {
                let used = block.len();
                file.consume(used);
            }
        }
    }
}

#[cfg(test)]
fn scan_text(text: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("s.jsonl");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    scan_for_ticks(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_scan_finds_a_tick_line_anywhere_and_nothing_else() {
        let book = r#"{"ts":1,"type":"book","book":{"tick_size":"0.01"}}"#;
        let tick = r#"{"ts":2,"type":"tick"}"#;
        let fake = r#"{"ts":3,"type":"resolution","condition_id":"0x\"tick\"","winning_token_id":"1"}"#;
        assert!(!scan_text(format!("{book}\n{fake}\n").as_bytes()));
        assert!(scan_text(format!("{book}\n{tick}\n{book}\n").as_bytes()));
        assert!(scan_text(format!("{book}\n{tick}").as_bytes()), "a last line without its newline");
        assert!(scan_text(format!("{tick}\r\n").as_bytes()), "a line ending in CR LF");
        // A tick line that straddles two read blocks.
        let filler = "x".repeat(READ_BUFFER_BYTES - 10);
        assert!(scan_text(format!("{filler}\n{tick}\n").as_bytes()));
        assert!(!scan_text(format!("{filler}\n{book}\n").as_bytes()));
    }
}
