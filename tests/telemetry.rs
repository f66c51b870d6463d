//! Telemetry against the real binary: the bundled sample session replayed in paper mode with both
//! exporters on. Every order, fill and close reaches the rotated JSON-lines file and a loopback
//! NDJSON collector alike, in the same order; a collector that fails and a tiny queue lose events,
//! which are counted in `/metrics` and alerted once per interval, while trading goes on untouched.

mod support;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use support::stand_in::StandIn;
use support::venue::{http_get, records};
use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

const LIMIT: Duration = Duration::from_secs(60);
const TRADE_EVENTS: [&str; 3] = ["ORDER_SUBMITTED", "ORDER_FILLED", "POSITION_CLOSED"];

/// A loopback NDJSON collector: keeps every line it is sent (only from `application/x-ndjson`
/// bodies) and answers `status`.
#[derive(Clone, Default)]
struct Collector {
    lines: Arc<Mutex<Vec<String>>>,
    posts: Arc<Mutex<usize>>,
    status: Arc<AtomicU16>,
}

async fn collect(State(c): State<Collector>, headers: HeaderMap, body: String) -> StatusCode {
    *c.posts.lock().unwrap() += 1;
    let status = StatusCode::from_u16(c.status.load(Ordering::Relaxed)).unwrap();
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-ndjson") {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE;
    }
    if status.is_success() {
        c.lines.lock().unwrap().extend(body.lines().map(str::to_owned));
    }
    status
}

fn collector(status: u16) -> (Collector, StandIn) {
    let collector = Collector::default();
    collector.status.store(status, Ordering::Relaxed);
    let app = axum::Router::new().route("/ndjson", axum::routing::post(collect)).with_state(collector.clone());
    let server = StandIn::serve(app, "the NDJSON collector");
    (collector, server)
}

fn trade_events(lines: &[Value]) -> Vec<Value> {
    lines.iter().filter(|l| TRADE_EVENTS.iter().any(|k| l["event"] == *k)).cloned().collect()
}

/// The value of a `/metrics` sample, by its full name and labels.
fn metric(metrics: &str, sample: &str) -> Option<u64> {
    metrics.lines().find_map(|l| l.strip_prefix(&format!("{sample} "))).and_then(|v| v.trim().parse().ok())
}

fn replayed(ws: &Workspace) -> bool {
    wait_until(LIMIT, || ws.read("logs/main.log").contains("replay finished"))
}

fn stop(ws: &Workspace, mut daemon: std::process::Child) {
    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "the daemon did not stop cleanly:\n{}", ws.all_logs());
}

#[test]
fn orders_fills_and_closes_reach_the_file_and_the_collector_alike_in_order() {
    let (collector, server) = collector(200);
    let ws = Workspace::with_default_config("");
    let url = format!("{}/ndjson", server.url());
    let daemon = ws.spawn_daemon(&[
        ("WHALE_TRADER__TELEMETRY__HTTP__ENABLED", "true"),
        ("WHALE_TRADER__TELEMETRY__HTTP__URL", &url),
        ("WHALE_TRADER__TELEMETRY__HTTP__FLUSH_MS", "100"),
        ("WHALE_TRADER__TELEMETRY__HTTP__BATCH_MAX", "7"),
    ]);
    assert!(replayed(&ws), "the sample session did not finish:\n{}", ws.all_logs());
    let metrics = http_get(ws.api_port, "/metrics");
    let emitted = metric(&metrics, "whale_trader_telemetry_events_total").expect("the counter is shown");
    assert!(emitted > 0, "{metrics}");
    assert_eq!(metric(&metrics, "whale_trader_telemetry_dropped_total{cause=\"queue_full\"}"), Some(0));
    // The stop exports whatever is still queued or batched.
    stop(&ws, daemon);

    let file = json_lines(&ws.read("data/telemetry/events.jsonl"));
    let sent: Vec<Value> = collector.lines.lock().unwrap().iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(file.len() as u64, emitted, "every event emitted is in the file");
    assert_eq!(file, sent, "the file and the collector have the same events, in the same order");
    let trades = trade_events(&file);
    for kind in TRADE_EVENTS {
        assert!(trades.iter().any(|l| l["event"] == kind), "no {kind} in {trades:#?}");
    }
    let closed: Vec<&Value> = trades.iter().filter(|l| l["event"] == "POSITION_CLOSED").collect();
    let audit_closes = records(&ws, "trade_closed");
    assert_eq!(closed.len(), audit_closes.len(), "one POSITION_CLOSED per trade_closed in the audit trail");
    for (event, record) in closed.iter().zip(&audit_closes) {
        assert_eq!(event["trade_id"], record["trade_id"]);
        assert_eq!(event["pnl_usd"], record["pnl_usd"]);
        assert_eq!(event["whale_label"], record["whale_label"], "names as the audit record carries them");
        assert_eq!(event["market_title"], record["market_title"]);
    }
    for line in &trades {
        assert_eq!(line["mode"], "paper", "{line}");
        assert!(line["at"].is_string() && line["at_ms"].is_i64(), "{line}");
    }
    let entry = trades.iter().find(|l| l["event"] == "ORDER_SUBMITTED" && l["order_kind"] == "entry").unwrap();
    assert!(entry["whale_label"].is_string() && entry["whale"].is_string(), "a copy names its whale: {entry}");
    assert!(entry["market_title"].is_string() && entry["market_id"].is_string(), "and its market: {entry}");
    let submitted = trades.iter().filter(|l| l["event"] == "ORDER_SUBMITTED").count();
    let orders = records(&ws, "trade_opened").len();
    assert!(submitted >= orders, "{submitted} orders submitted for {orders} trades opened");
}

#[test]
fn a_failing_sink_and_a_tiny_queue_lose_events_counted_and_alerted_while_trading_goes_on() {
    let (collector, server) = collector(500);
    let ws = Workspace::with_default_config("");
    let url = format!("{}/ndjson", server.url());
    let daemon = ws.spawn_daemon(&[
        ("WHALE_TRADER__TELEMETRY__QUEUE_CAPACITY", "1"),
        ("WHALE_TRADER__TELEMETRY__DROP_ALERT_INTERVAL_SECS", "1"),
        ("WHALE_TRADER__TELEMETRY__HTTP__ENABLED", "true"),
        ("WHALE_TRADER__TELEMETRY__HTTP__URL", &url),
        ("WHALE_TRADER__TELEMETRY__HTTP__BATCH_MAX", "1"),
        ("WHALE_TRADER__TELEMETRY__HTTP__RETRIES", "2"),
    ]);
    assert!(replayed(&ws), "the sample session did not finish:\n{}", ws.all_logs());
    let dropped = |cause: &str| {
        metric(
            &http_get(ws.api_port, "/metrics"),
            &format!("whale_trader_telemetry_dropped_total{{cause=\"{cause}\"}}"),
        )
        .unwrap_or(0)
    };
    let counted = wait_until(LIMIT, || dropped("queue_full") > 0 && dropped("http_failed") > 0);
    assert!(counted, "drops not counted:\n{}", http_get(ws.api_port, "/metrics"));
    assert!(*collector.posts.lock().unwrap() >= 3, "each batch is tried again before it is dropped");

    // One warning names the counts by cause.
    let alerts = || -> Vec<Value> {
        json_lines(&ws.read("logs/alerts.log"))
            .into_iter()
            .filter(|a| a.to_string().contains("Telemetry Events Dropped"))
            .collect()
    };
    let alerted = wait_until(LIMIT, || {
        alerts().iter().any(|a| a.to_string().contains("queue full") && a.to_string().contains("http failed"))
    });
    assert!(alerted, "no drop alert naming both causes:\n{}", ws.read("logs/alerts.log"));
    let all = alerts();
    assert!(all.iter().all(|a| a["priority"] == "warning"), "warnings: {all:#?}");
    // At most one per interval (1 s here), however many events were dropped.
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> =
        all.iter().map(|a| chrono::DateTime::parse_from_rfc3339(a["at"].as_str().unwrap()).unwrap()).collect();
    assert!(times.windows(2).all(|w| (w[1] - w[0]).num_milliseconds() >= 900), "{all:#?}");

    // Trading went on as without telemetry: the whole session was copied and closed.
    let metrics = http_get(ws.api_port, "/metrics");
    let opened = metric(&metrics, "whale_trader_trades_opened_total").unwrap_or(0);
    assert!(opened > 0 && opened as usize == records(&ws, "trade_opened").len(), "{metrics}");
    assert!(!records(&ws, "trade_closed").is_empty(), "positions still close");
    stop(&ws, daemon);
    // Nothing was delivered, and the file still got every event that made it onto the queue.
    assert!(collector.lines.lock().unwrap().is_empty());
    assert!(!ws.read("data/telemetry/events.jsonl").is_empty());
}

#[test]
fn disabled_telemetry_writes_no_file_and_shows_no_counters() {
    let ws = Workspace::with_default_config("");
    let daemon = ws.spawn_daemon(&[("WHALE_TRADER__TELEMETRY__ENABLED", "false")]);
    assert!(replayed(&ws), "the sample session did not finish:\n{}", ws.all_logs());
    let metrics = http_get(ws.api_port, "/metrics");
    assert!(metric(&metrics, "whale_trader_trades_opened_total").is_some_and(|n| n > 0), "{metrics}");
    assert!(!metrics.contains("whale_trader_telemetry_"), "{metrics}");
    stop(&ws, daemon);
    assert!(!ws.path().join("data/telemetry").exists(), "no file, not even its directory");
}
