//! Nothing a venue answers can make the daemon unbounded: the real binary in paper mode on the
//! live feeds, against a local stand-in of the Data API on 127.0.0.1 that answers far more than
//! asked. A 16 MB `/v2/activity` answer is abandoned at `polymarket.http.max_response_bytes` while
//! the control API keeps answering, the logs stay small and memory stays flat; a page longer than
//! asked is cut to the page size and counted in `/metrics`; malformed rows cost one summary line
//! per poll and cause, never one line per row.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::venue::*;
use support::{Workspace, json_lines, wait_until};

/// The configured default of `polymarket.http.max_response_bytes`.
const DEFAULT_CAP: u64 = 4 * 1024 * 1024;

fn main_log_lines(ws: &Workspace) -> Vec<Value> {
    let mut lines = Vec::new();
    if let Ok(entries) = std::fs::read_dir(ws.path().join("logs")) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("main.log") {
                lines.extend(json_lines(&std::fs::read_to_string(entry.path()).unwrap_or_default()));
            }
        }
    }
    lines
}

fn with_message<'a>(lines: &'a [Value], message: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["message"] == message).collect()
}

/// The value of the first `/metrics` sample starting with `prefix` (`None` while there is none).
fn metric(port: u16, prefix: &str) -> Option<f64> {
    let text = http_get(port, "/metrics");
    text.lines().filter(|line| line.starts_with(prefix)).find_map(|line| line.rsplit(' ').next()?.trim().parse().ok())
}

/// The start of the sample of metric `name` for the followed whale.
fn whale_sample(name: &str) -> String {
    format!("{name}{{whale=\"{WHALE}\",")
}

/// A kB figure of `/proc/<pid>/status` (`VmHWM`: the peak resident set).
fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_16_mb_activity_answer_is_abandoned_at_the_cap_and_the_daemon_stays_responsive_and_quiet() {
    let venue = LocalVenue::start();
    let ws = Workspace::with_default_config("");
    // Polls every 100 ms, so that the poll failures alone outrun the log allowance of their call site.
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__POLYMARKET__WHALE_FEED__POLL_INTERVAL_MS", "100")]);
    let pid = daemon.id();
    let rss_before_kb = proc_status_kb(pid, "VmRSS");

    // Two million one-field rows (8 bytes each), asked for 500: every row would be malformed.
    let mut body = String::with_capacity(17_000_000);
    body.push_str(r#"{"data":["#);
    for _ in 0..2_000_000 {
        body.push_str(r#"{"x":1},"#);
    }
    body.push_str(r#"{"x":1}],"pagination":{"has_more":false,"next_cursor":null}}"#);
    assert!(body.len() > 16_000_000);
    venue.with(|v| v.activity_raw = Some(body.into()));

    // Through the flood, /health answers at once, every time.
    let flood_ends = whale_trader::clock::monotonic() + Duration::from_secs(12);
    let mut slowest = Duration::ZERO;
    while whale_trader::clock::monotonic() < flood_ends {
        let asked = whale_trader::clock::monotonic();
        let answer = http_get(ws.api_port, "/health");
        slowest = slowest.max(asked.elapsed());
        assert!(answer.starts_with("HTTP/1.1 "), "no HTTP answer from /health: {answer:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(slowest < Duration::from_secs(2), "/health took {slowest:?} during the flood");
    let polls = venue.with(|v| v.seen.iter().filter(|s| s.starts_with("GET /v2/activity")).count());
    assert!(polls > 130, "the flood was asked for only {polls} times");

    // The error names the endpoint and the cap, never the query (the wallet, the cursor).
    let failures = wait_until(LIMIT, || {
        metric(ws.api_port, &whale_sample("whale_trader_whale_feed_consecutive_failures")) >= Some(1.0)
    });
    assert!(failures, "the failed polls are not in /metrics");
    let peak_kb = proc_status_kb(pid, "VmHWM");
    stop_daemon(&ws, daemon);

    let lines = main_log_lines(&ws);
    let failed = with_message(&lines, "whale-feed poll failed; retrying next interval");
    let error = failed.first().map(|l| l["error"].as_str().unwrap_or_default().to_string()).unwrap_or_default();
    let expected = format!("{}/v2/activity: the answer is larger than the {DEFAULT_CAP} bytes allowed", venue.url());
    assert!(error.starts_with(&expected), "the poll failure does not name the cap: {error:?}");
    assert!(!error.contains("user=") && !error.contains("0x"), "the error shows the query: {error:?}");
    // The logs grew by a bounded number of lines, not one per row; the console likewise.
    assert!(lines.len() < 600, "main.log grew by {} lines in 12 s of flood", lines.len());
    assert!(with_message(&lines, "skipped malformed Data API rows this poll").is_empty(), "the body was parsed");
    // More polls failed than one call site may log in a minute: the rest were suppressed.
    assert!(failed.len() <= 120, "{} poll failures logged within a minute", failed.len());
    let console = std::fs::metadata(ws.path().join("console.out")).map(|m| m.len()).unwrap_or(0);
    assert!(console < 2_000_000, "the console got {console} bytes");
    eprintln!(
        "flood: {polls} answers of {} MB asked; /health slowest {slowest:?}; main.log {} lines; \
         {} poll failures logged; RSS {rss_before_kb} kB before, peak {peak_kb} kB",
        16,
        lines.len(),
        failed.len()
    );
    // Memory: at most a few caps' worth above the idle daemon (the whole body would be 16 MB,
    // its rows and their log lines hundreds more).
    assert!(rss_before_kb > 0 && peak_kb > 0, "no /proc figures");
    assert!(peak_kb < rss_before_kb + 48 * 1024, "peak RSS {peak_kb} kB against {rss_before_kb} kB before the flood");
}

#[test]
fn a_page_longer_than_asked_is_cut_to_the_page_size_and_counted() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
        // Twelve trades before start-up (held back, never copied), asked for five per page.
        for i in 0..12 {
            v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs() - 60, 10.0, 0.5, &format!("0xc{i:02}")));
        }
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon_with(&ws, &venue, &[("WHALE_TRADER__POLYMARKET__WHALE_FEED__PAGE_SIZE", "5")]);
    let sample = whale_sample("whale_trader_whale_feed_rows_cut_total");
    let counted = wait_until(LIMIT, || metric(ws.api_port, &sample) >= Some(14.0));
    let cut = metric(ws.api_port, &sample);
    let metrics = http_get(ws.api_port, "/metrics");
    stop_daemon(&ws, daemon);
    assert!(counted, "the cut rows are not counted in /metrics: {cut:?}\n{metrics}");
    let cut = cut.unwrap_or_default();
    assert_eq!(cut % 7.0, 0.0, "seven rows past the page size per poll: {cut}");

    let lines = main_log_lines(&ws);
    let told = with_message(
        &lines,
        "the Data API answered pages longer than asked; the rows past the page size were cut, not read",
    );
    let first = told.first().expect("the cut is not logged");
    assert_eq!((first["rows_cut"].as_u64(), first["page_size"].as_u64()), (Some(7), Some(5)), "{first}");
    assert_eq!(first["wallet"], WHALE);
    assert_eq!(count(&ws, "trade_opened", TOKEN_A), 0, "held-back trades were copied");
}

#[test]
fn malformed_rows_are_one_summary_line_per_poll_and_cause() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
        for i in 0..40 {
            v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs() - 60, 10.0, 1.5, &format!("0xp{i:02}")));
        }
        for i in 0..30 {
            v.rows.push(trade_row("HOLD", TOKEN_A, MARKET_A, now_secs() - 60, 10.0, 0.5, &format!("0xs{i:02}")));
        }
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon(&ws, &venue);
    let malformed = whale_sample("whale_trader_whale_feed_malformed_rows_total");
    let polled = wait_until(LIMIT, || metric(ws.api_port, &malformed) >= Some(3.0 * 70.0));
    assert!(polled, "three polls of 70 malformed rows were not counted:\n{}", http_get(ws.api_port, "/metrics"));
    stop_daemon(&ws, daemon);

    let lines = main_log_lines(&ws);
    let per_row =
        lines.iter().filter(|l| l["message"].as_str().is_some_and(|m| m.contains("malformed Data API row"))).count();
    let summaries = with_message(&lines, "skipped malformed Data API rows this poll");
    assert_eq!(per_row, summaries.len(), "a line per row rather than per poll");
    assert!(summaries.len() >= 6, "no summary lines: {}", summaries.len());
    for summary in &summaries {
        let (cause, count) = (summary["cause"].as_str().unwrap_or_default(), summary["count"].as_u64());
        match cause {
            "price" => {
                assert_eq!(count, Some(40), "{summary}");
                assert_eq!(summary["first_example"], "price \"1.5\" must be in (0, 1]", "{summary}");
            }
            "side" => assert_eq!(count, Some(30), "{summary}"),
            other => panic!("unexpected cause {other:?}: {summary}"),
        }
        assert_eq!(summary["level"], "WARN");
    }
    let prices = summaries.iter().filter(|s| s["cause"] == "price").count();
    let sides = summaries.iter().filter(|s| s["cause"] == "side").count();
    assert_eq!(prices, sides, "one line per cause and poll");
}
