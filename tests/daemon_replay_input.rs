//! A hostile session file through the daemon's replay feed: hundreds of thousands of bad lines, a
//! line of megabytes and bytes that are not text are skipped and counted, the log stays a few lines
//! long and the good lines around them still trade.

mod support;

use std::io::Write;
use std::time::Duration;

use support::{Workspace, json_lines, repo_path, signal, wait_until, wait_with_limit};

const BAD_LINES: usize = 200_000;

#[test]
fn a_flood_of_malformed_session_lines_is_counted_in_a_few_log_lines_and_the_session_still_trades() {
    let ws = Workspace::with_default_config("");
    let sample = std::fs::read_to_string(repo_path("data/sample_session.jsonl")).expect("sample session");
    let path = ws.path().join("hostile.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("session file"));
    let mut good = sample.lines();
    // The sample's first lines (market listings, first books), then the flood, then the rest.
    for line in good.by_ref().take(20) {
        writeln!(file, "{line}").expect("write");
    }
    for i in 0..BAD_LINES {
        match i % 2 {
            0 => writeln!(file, "{{\"ts\":1767607200000,\"type\":\"bogus_{i}\"}}"),
            _ => writeln!(file, "not json {i}"),
        }
        .expect("write");
    }
    file.write_all(&vec![b'x'; 3 << 20]).expect("write");
    file.write_all(b"\n\xff\xfe\xfd\n").expect("write");
    for line in good {
        writeln!(file, "{line}").expect("write");
    }
    drop(file);

    let mut daemon = ws.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", path.to_str().expect("utf-8 path"))]);
    let finished = wait_until(Duration::from_secs(60), || ws.read("logs/main.log").contains("replay finished"));
    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    assert!(finished, "the replay did not finish: {}", ws.all_logs());
    assert!(status.is_some_and(|s| s.success()), "the daemon did not stop cleanly: {status:?}");

    let main_log = ws.read("logs/main.log");
    let records = json_lines(&main_log);
    let done = records.iter().find(|r| r["message"] == "replay finished; the feed stays idle until the daemon stops");
    let done = done.expect("the replay's closing line");
    assert_eq!(done["malformed"].as_u64(), Some(BAD_LINES as u64 + 2), "{done}");

    let about_malformed: Vec<_> = records
        .iter()
        .filter(|r| r["message"].as_str().is_some_and(|m| m.starts_with("malformed replay line")))
        .collect();
    // One example per cause (type, line, line_too_long, not_utf8) and one closing count per cause
    // with more than one line; a summary a minute at most while it runs.
    assert!(
        (4..=10).contains(&about_malformed.len()),
        "{} log lines about malformed lines: {:?}",
        about_malformed.len(),
        about_malformed.iter().take(12).collect::<Vec<_>>()
    );
    assert!(main_log.len() < 256 << 10, "main.log grew to {} bytes", main_log.len());
    let audit = ws.read("logs/trade_audit.log");
    assert!(audit.contains("\"trade_opened\""), "the sample's good lines after the flood still trade");
}
