//! Reading a session file: bounded lines, and malformed ones tallied rather than logged one by one.
//!
//! A session file comes from outside (a recording, a generator, an operator's edit), so it gets the
//! bounds of any outside input: a line longer than [`MAX_LINE_BYTES`] is skipped without being
//! held in memory, the file is streamed rather than read whole (a day's recording is tens of
//! megabytes), and a file of a million bad lines writes a handful of log lines, not a million.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::{Duration, Instant};

/// The longest line a session may hold. A book line with a deep book is a few kilobytes; a line
/// past this is not a recording of the venue's answers.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How often the count of malformed lines of one cause is logged after its first example.
pub const MALFORMED_SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Why a line could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("line is {len} bytes or more, over the {MAX_LINE_BYTES}-byte limit")]
    TooLong { len: usize },
    #[error("line is not UTF-8 text")]
    NotUtf8,
}

impl LineError {
    pub fn cause(&self) -> &'static str {
        match self {
            LineError::TooLong { .. } => "line_too_long",
            LineError::NotUtf8 => "not_utf8",
        }
    }
}

/// One line of a session file, numbered from 1.
#[derive(Debug)]
pub struct SessionLine {
    pub number: usize,
    pub text: Result<String, LineError>,
}

/// The lines of a session file, each bounded by `max` bytes.
pub struct SessionLines<R> {
    reader: R,
    max: usize,
    number: usize,
}

impl<R: BufRead> SessionLines<R> {
    pub fn new(reader: R) -> Self {
        Self::with_limit(reader, MAX_LINE_BYTES)
    }

    pub fn with_limit(reader: R, max: usize) -> Self {
        Self { reader, max, number: 0 }
    }

    /// Reads up to the next newline, keeping at most `max` bytes; `Ok(None)` at the end.
    fn read_line(&mut self) -> std::io::Result<Option<Result<String, LineError>>> {
        let mut kept = Vec::new();
        let mut len = 0usize;
        let mut any = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, found) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], true),
                None => (buf, false),
            };
            len = len.saturating_add(chunk.len());
            if len <= self.max {
                kept.extend_from_slice(chunk);
            }
            let used = chunk.len() + usize::from(found);
            self.reader.consume(used);
            if found {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if len > self.max {
            return Ok(Some(Err(LineError::TooLong { len })));
        }
        if kept.last() == Some(&b'\r') {
            kept.pop();
        }
        Ok(Some(String::from_utf8(kept).map_err(|_| LineError::NotUtf8)))
    }
}

impl<R: BufRead> Iterator for SessionLines<R> {
    type Item = std::io::Result<SessionLine>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.read_line() {
            Ok(Some(text)) => {
                self.number += 1;
                Some(Ok(SessionLine { number: self.number, text }))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// The malformed lines of one session, per cause: the first of each cause is logged with its line
/// number and error, later ones are counted and summarised at most once per
/// [`MALFORMED_SUMMARY_EVERY`], and [`MalformedLines::finish`] logs what is left.
#[derive(Debug)]
pub struct MalformedLines {
    path: String,
    causes: BTreeMap<&'static str, CauseTally>,
    total: u64,
}

#[derive(Debug)]
struct CauseTally {
    total: u64,
    unreported: u64,
    last_report: Instant,
}

/// The longest excerpt of a bad value that goes into a log line.
const EXAMPLE_CHARS: usize = 200;

impl MalformedLines {
    pub fn new(path: &std::path::Path) -> Self {
        Self { path: path.display().to_string(), causes: BTreeMap::new(), total: 0 }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counts a malformed line; logs it if it is the first of its cause, or a summary if the last
    /// one of this cause is older than the interval.
    pub fn record(&mut self, cause: &'static str, line: usize, error: &dyn std::fmt::Display) {
        self.total += 1;
        let now = crate::clock::monotonic();
        match self.causes.get_mut(cause) {
            None => {
                self.causes.insert(cause, CauseTally { total: 1, unreported: 0, last_report: now });
                let example: String = error.to_string().chars().take(EXAMPLE_CHARS).collect();
                tracing::warn!(path = %self.path, line, cause, error = %example,
                    "malformed replay line skipped (later ones of this cause are counted, not logged one by one)");
            }
            Some(tally) => {
                tally.total += 1;
                tally.unreported += 1;
                if now.duration_since(tally.last_report) >= MALFORMED_SUMMARY_EVERY {
                    tracing::warn!(path = %self.path, cause, skipped = tally.unreported, total = tally.total, last_line = line,
                        "malformed replay lines skipped");
                    tally.unreported = 0;
                    tally.last_report = now;
                }
            }
        }
    }

    /// Logs the counts not yet reported, one line per cause.
    pub fn finish(&mut self) {
        for (cause, tally) in &mut self.causes {
            if tally.unreported > 0 {
                tracing::warn!(path = %self.path, cause, skipped = tally.unreported, total = tally.total,
                    "malformed replay lines skipped");
                tally.unreported = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8], max: usize) -> Vec<Result<String, LineError>> {
        SessionLines::with_limit(text, max).map(|l| l.expect("in-memory reads do not fail").text).collect()
    }

    #[test]
    fn lines_are_split_on_newlines_with_or_without_a_final_one() {
        assert_eq!(
            lines(b"a\nbb\r\n\nccc", 10),
            vec![Ok("a".into()), Ok("bb".into()), Ok(String::new()), Ok("ccc".into())]
        );
        assert_eq!(lines(b"a\n", 10), vec![Ok("a".into())]);
        assert!(lines(b"", 10).is_empty());
    }

    #[test]
    fn an_over_long_line_is_skipped_whole_and_the_next_one_is_read() {
        let mut text = vec![b'x'; 25];
        text.extend_from_slice(b"\nok\n");
        // A tiny buffer makes the long line arrive in several chunks.
        let reader = std::io::BufReader::with_capacity(4, text.as_slice());
        let got: Vec<_> = SessionLines::with_limit(reader, 10).map(|l| l.unwrap()).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text, Err(LineError::TooLong { len: 25 }));
        assert_eq!((got[1].number, got[1].text.clone()), (2, Ok("ok".into())));
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept() {
        assert_eq!(lines(b"0123456789\n", 10), vec![Ok("0123456789".into())]);
    }

    #[test]
    fn bytes_that_are_not_utf8_make_a_malformed_line_not_an_error() {
        assert_eq!(lines(b"\xff\xfe\nok", 10), vec![Err(LineError::NotUtf8), Ok("ok".into())]);
    }

    #[test]
    fn malformed_lines_are_counted_per_cause() {
        let mut tally = MalformedLines::new(std::path::Path::new("s.jsonl"));
        for line in 1..=1000 {
            tally.record(if line % 2 == 0 { "line" } else { "type" }, line, &"bad");
        }
        assert_eq!(tally.total(), 1000);
        assert_eq!(tally.causes["line"].total, 500);
        assert_eq!(tally.causes["type"].unreported, 499);
        tally.finish();
        assert_eq!(tally.causes["type"].unreported, 0);
    }
}
