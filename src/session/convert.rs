//! `whale-trader convert`: a JSON session written again in the compact format (see
//! [`super::binary`]), line for line, so that replays of it read an order of magnitude faster.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::binary::{BinaryError, BinaryHeader, BinaryWriter, FLAG_TICKS, MAGIC};
use super::event::{ReplayEvent, parse_line};
use super::file::SessionLines;
use super::reader::{compact_twin, file_stamp};
use crate::engine::Input;

/// Why a conversion could not finish. The output is written under a temporary name and renamed
/// only when complete, so a failed conversion leaves no half-written session behind.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is already a compact session")]
    AlreadyCompact { path: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{path} changed while it was being converted; convert it again")]
    Changed { path: String },
}

/// What a conversion wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub output: PathBuf,
    pub lines: u64,
    /// Lines written in the compact book form; the rest are kept as their text.
    pub books: u64,
    pub carries_ticks: bool,
    pub input_bytes: u64,
    pub output_bytes: u64,
}

/// Converts the JSON session at `input` into a compact one at `output` (default: its twin,
/// `<input>.wtb`, which replays of `input` then read while `input` is unchanged).
pub fn convert(input: &Path, output: Option<&Path>) -> Result<Converted, ConvertError> {
    let read_error =
        |e: &dyn std::fmt::Display| ConvertError::Read { path: input.display().to_string(), reason: e.to_string() };
    let output = output.map_or_else(|| compact_twin(input), Path::to_path_buf);
    let write_error =
        |e: &dyn std::fmt::Display| ConvertError::Write { path: output.display().to_string(), reason: e.to_string() };
    let stamp = file_stamp(input).map_err(|e| read_error(&e))?;
    let mut file = File::open(input).map_err(|e| read_error(&e))?;
    match BinaryHeader::read(&mut file) {
        Ok(None) => {}
        // A damaged or newer compact file is still not JSON to convert.
        Ok(Some(_)) | Err(BinaryError::Truncated | BinaryError::Version(_)) => {
            return Err(ConvertError::AlreadyCompact { path: input.display().to_string() });
        }
        Err(e) => return Err(read_error(&e)),
    }
    file.rewind().map_err(|e| read_error(&e))?;

    let partial = PathBuf::from(format!("{}.partial", output.display()));
    let out = File::create(&partial).map_err(|e| write_error(&e))?;
    let header = BinaryHeader { flags: 0, source_len: stamp.0, source_mtime_ns: stamp.1 };
    let mut writer = BinaryWriter::new(BufWriter::with_capacity(1 << 20, out), header).map_err(|e| write_error(&e))?;
    let mut converted = Converted {
        output: output.clone(),
        lines: 0,
        books: 0,
        carries_ticks: false,
        input_bytes: stamp.0,
        output_bytes: 0,
    };
    let result = (|| {
        for line in SessionLines::new(BufReader::with_capacity(1 << 20, file)) {
            let line = line.map_err(|e| read_error(&e))?;
            converted.lines += 1;
            let parsed = line.text.as_deref().ok().map(parse_line);
            match parsed {
                Some(Ok(Some(ReplayEvent { at, input: Input::Book(book) }))) => {
                    converted.books += 1;
                    writer.book(at.millis(), &book)
                }
                Some(Ok(Some(ReplayEvent { input: Input::Tick, .. }))) => {
                    converted.carries_ticks = true;
                    writer.text(&line.text)
                }
                // Everything else, refusals and malformed lines included, is kept as it was read,
                // to be read (or refused) by the same parser when replayed.
                _ => writer.text(&line.text),
            }
            .map_err(|e| write_error(&e))?;
        }
        let mut out = writer.finish().map_err(|e| write_error(&e))?.into_inner().map_err(|e| write_error(&e))?;
        if converted.carries_ticks {
            out.seek(SeekFrom::Start(MAGIC.len() as u64 + 1)).map_err(|e| write_error(&e))?;
            out.write_all(&[FLAG_TICKS]).map_err(|e| write_error(&e))?;
        }
        out.sync_all().map_err(|e| write_error(&e))?;
        if file_stamp(input).map_err(|e| read_error(&e))? != stamp {
            return Err(ConvertError::Changed { path: input.display().to_string() });
        }
        std::fs::rename(&partial, &output).map_err(|e| write_error(&e))?;
        converted.output_bytes = std::fs::metadata(&output).map_err(|e| write_error(&e))?.len();
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.map(|()| converted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::reader::{SessionFormat, SessionReader};

    const BOOK: &str = r#"{"ts":1767607200001,"type":"book","book":{"market":"0xm","asset_id":"7","timestamp":"1767607200001","hash":"ab","bids":[{"price":"0.500","size":"10"}],"asks":[{"price":"0.501","size":"10"}],"min_order_size":"5","tick_size":"0.001","neg_risk":false,"last_trade_price":"0.500"}}"#;
    const CROSSED: &str = r#"{"ts":1767607200002,"type":"book","book":{"market":"0xm","asset_id":"7","timestamp":"1767607200002","bids":[{"price":"0.6","size":"10"}],"asks":[{"price":"0.5","size":"10"}],"min_order_size":"5","tick_size":"0.01"}}"#;

    fn lines_of(path: &Path) -> (SessionFormat, Vec<String>) {
        let mut reader = SessionReader::open(path).unwrap_or_else(|e| panic!("{e}"));
        let format = reader.source().format;
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap_or_else(|e| panic!("{e}")) {
            out.push(format!("{} {:?}", line.number, line.parsed));
        }
        (format, out)
    }

    #[test]
    fn a_converted_session_reads_as_the_same_lines_and_is_read_in_place_of_its_source() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let json = dir.path().join("s.jsonl");
        let text = [BOOK, "", "not json", CROSSED, r#"{"ts":1767607200003,"type":"tick"}"#, BOOK].join("\n");
        std::fs::write(&json, &text).unwrap_or_else(|e| panic!("{e}"));
        let (format, expected) = lines_of(&json);
        assert_eq!(format, SessionFormat::Json);

        let converted = convert(&json, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((converted.lines, converted.books, converted.carries_ticks), (6, 2, true));
        assert!(converted.output_bytes < converted.input_bytes);
        let (format, read) = lines_of(&json);
        assert_eq!(format, SessionFormat::Compact, "the twin is read in place of the JSON");
        assert_eq!(read, expected);
        assert_eq!(lines_of(&converted.output).1, expected);
        assert!(crate::session::carries_ticks(&json).unwrap_or_else(|e| panic!("{e}")));

        // Once the JSON changes, its twin no longer stands for it.
        std::fs::write(&json, format!("{text}\n{BOOK}")).unwrap_or_else(|e| panic!("{e}"));
        let (format, read) = lines_of(&json);
        assert_eq!((format, read.len()), (SessionFormat::Json, 7));

        match convert(&converted.output, None) {
            Err(ConvertError::AlreadyCompact { .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_twin_of_another_format_version_is_passed_over_for_its_json_and_refused_by_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let json = dir.path().join("s.jsonl");
        std::fs::write(&json, BOOK).unwrap_or_else(|e| panic!("{e}"));
        let converted = convert(&json, None).unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = std::fs::read(&converted.output).unwrap_or_else(|e| panic!("{e}"));
        bytes[MAGIC.len()] = 1;
        std::fs::write(&converted.output, &bytes).unwrap_or_else(|e| panic!("{e}"));
        // The twin's own timestamp changed, not the JSON's: only the version sets it aside.
        let (format, read) = lines_of(&json);
        assert_eq!((format, read.len()), (SessionFormat::Json, 1));
        match SessionReader::open(&converted.output) {
            Err(e) => assert!(e.to_string().contains("version 1") && e.to_string().contains("convert"), "{e}"),
            Ok(_) => panic!("a version 1 file was opened"),
        }
    }
}
