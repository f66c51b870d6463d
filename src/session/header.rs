//! A session file's optional first line, `{"ts":…,"type":"header","header":{…}}`: where the
//! session came from and how its books were made. Metadata for people and reports; the parser
//! skips it, it is never an engine input.

use std::path::Path;

use serde::{Deserialize, Serialize};

use std::io::Seek;

use super::SessionError;
use super::binary::{BinaryHeader, BinaryLine, BinaryReader};
use super::file::SessionLines;

/// What a session's header line says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionHeader {
    pub source: String,
    /// The wallets whose trades the session holds, with their labels when the config names them.
    #[serde(default)]
    pub wallets: Vec<HeaderWallet>,
    /// The window the trades and prices were read for (RFC 3339).
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    /// How the books were made, in words, when they are not the venue's own.
    #[serde(default)]
    pub book_approximation: Option<String>,
    /// Seconds between two price points of a token, when the books are made from sparse prices.
    #[serde(default)]
    pub price_interval_secs: Option<u64>,
    /// When the fetch started (RFC 3339); a resumed fetch keeps the first run's.
    #[serde(default)]
    pub fetched_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderWallet {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Deserialize)]
struct HeaderLine {
    #[serde(rename = "type")]
    kind: String,
    header: Option<SessionHeader>,
}

/// The header of the session at `path`: its first line, when that is a header line.
pub fn read_header(path: &Path) -> Result<Option<SessionHeader>, SessionError> {
    let io = |e: std::io::Error| SessionError::Io { path: path.display().to_string(), reason: e.to_string() };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let text = if BinaryHeader::read(&mut file)
        .map_err(|e| SessionError::Io { path: path.display().to_string(), reason: e.to_string() })?
        .is_some()
    {
        // A compact session keeps its header line as text, first of its lines.
        match BinaryReader::new(std::io::BufReader::new(file)).next_line() {
            Ok(Some(BinaryLine::Text(Ok(text)))) => text,
            _ => return Ok(None),
        }
    } else {
        file.rewind().map_err(io)?;
        let Some(first) = SessionLines::new(std::io::BufReader::new(file)).next() else { return Ok(None) };
        let Ok(text) = first.map_err(io)?.text else { return Ok(None) };
        text
    };
    match serde_json::from_str::<HeaderLine>(&text) {
        Ok(HeaderLine { kind, header: Some(header) }) if kind == "header" => Ok(Some(header)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_read_from_the_first_line_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("s.jsonl");
        let header = r#"{"ts":1,"type":"header","header":{"source":"fetch-history","book_approximation":"made up"}}"#;
        std::fs::write(&path, format!("{header}\n")).unwrap_or_else(|e| panic!("{e}"));
        let read = read_header(&path).unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no header"));
        assert_eq!((read.source.as_str(), read.book_approximation.as_deref()), ("fetch-history", Some("made up")));
        std::fs::write(&path, format!("{{\"ts\":1,\"type\":\"resolution\"}}\n{header}\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_header(&path).unwrap_or_else(|e| panic!("{e}")), None);
    }

    #[test]
    fn a_header_line_is_no_engine_input_and_a_broken_one_is_malformed() {
        let good = r#"{"ts":1,"type":"header","header":{"source":"fetch-history"}}"#;
        assert!(matches!(super::super::parse_line(good), Ok(None)));
        for bad in [r#"{"ts":1,"type":"header"}"#, r#"{"ts":1,"type":"header","header":{"wallets":[]}}"#] {
            match super::super::parse_line(bad) {
                Err(SessionError::BadField { field: "header", .. }) => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
