//! Size-based rotation of the JSON log files: the retention count holds, and no line is lost or
//! torn across a rotation.

use std::collections::BTreeSet;
use std::path::Path;

use tracing_subscriber::prelude::*;
use whale_trader::config::LogFileConfig;
use whale_trader::logging::rotating_writer;

/// Writes `count` numbered events through the daemon's rotating writer and returns the files.
fn write_events(dir: &Path, rotation: &LogFileConfig, count: u64) -> Vec<(String, String)> {
    let (writer, guard) = rotating_writer(dir, "main.log", rotation).expect("rotating writer");
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_writer(writer));
    tracing::subscriber::with_default(subscriber, || {
        for seq in 0..count {
            tracing::info!(seq, padding = "some text to make the lines a realistic length", "event");
        }
    });
    drop(guard); // flushes the background writer
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("read log dir")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).expect("read")))
        .collect();
    files.sort();
    files
}

fn sequence_numbers(files: &[(String, String)]) -> Vec<u64> {
    let mut seqs = Vec::new();
    for (name, text) in files {
        for line in text.lines() {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("torn or invalid line in {name} ({e}): {line}"));
            seqs.push(value["seq"].as_u64().expect("seq field"));
        }
    }
    seqs
}

#[test]
fn rotation_respects_the_retention_count_and_keeps_lines_whole() {
    let dir = tempfile::tempdir().unwrap();
    let rotation = LogFileConfig { max_size_bytes: 16 * 1024, keep: 3 };
    let files = write_events(dir.path(), &rotation, 5_000);

    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 4, "active file plus 3 kept: {names:?}");
    for (name, text) in &files {
        assert!(text.len() as u64 <= rotation.max_size_bytes + 512, "{name} is {} bytes", text.len());
    }
    // What survives is the newest events, contiguous, ending with the last one written.
    let survivors: BTreeSet<u64> = sequence_numbers(&files).into_iter().collect();
    let first = *survivors.first().unwrap();
    assert_eq!(*survivors.last().unwrap(), 4_999);
    assert_eq!(survivors.len() as u64, 5_000 - first, "a gap inside the retained window");
}

#[test]
fn no_line_is_lost_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let rotation = LogFileConfig { max_size_bytes: 16 * 1024, keep: 1_000 };
    let files = write_events(dir.path(), &rotation, 5_000);
    assert!(files.len() > 10, "expected many rotations, got {}", files.len());
    let mut seqs = sequence_numbers(&files);
    seqs.sort_unstable();
    assert_eq!(seqs, (0..5_000).collect::<Vec<_>>());
}
