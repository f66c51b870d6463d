//! Operation timings for performance.log (each operation's and each API call's duration).

use std::future::Future;
use std::time::{Duration, Instant};

use super::PERF_TARGET;

/// Times an operation from creation to drop and records it, with its outcome, in performance.log.
/// An operation is a failure unless [`TimedOperation::succeeded`] was called.
#[must_use = "the operation is timed until this value is dropped"]
pub struct TimedOperation {
    name: &'static str,
    started: Instant,
    success: bool,
}

/// Starts timing `name`.
pub fn timed_operation(name: &'static str) -> TimedOperation {
    TimedOperation { name, started: crate::clock::monotonic(), success: false }
}

impl TimedOperation {
    pub fn succeeded(mut self) {
        self.success = true;
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for TimedOperation {
    fn drop(&mut self) {
        let duration_ms = millis(self.started.elapsed());
        tracing::info!(target: PERF_TARGET, operation = self.name, duration_ms, success = self.success, "operation timed");
    }
}

/// Awaits `future` and records its duration and whether it returned `Ok`.
pub async fn timed<T, E, F>(name: &'static str, future: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    let timer = timed_operation(name);
    let result = future.await;
    if result.is_ok() {
        timer.succeeded();
    }
    result
}

/// Records one HTTP call: endpoint (without query secrets), status code (none on a transport
/// error) and latency.
pub fn record_http_call(method: &str, endpoint: &str, status: Option<u16>, latency: Duration) {
    let duration_ms = millis(latency);
    match status {
        Some(status_code) => {
            tracing::info!(target: PERF_TARGET, method, endpoint, status_code, duration_ms, "http call")
        }
        None => tracing::info!(target: PERF_TARGET, method, endpoint, duration_ms, error = true, "http call"),
    }
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::prelude::*;

    use super::*;

    /// Collects what the JSON layer writes.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The JSON lines that `body` logs on the performance target.
    fn perf_lines(body: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .with_filter(tracing_subscriber::filter::Targets::new().with_target(PERF_TARGET, tracing::Level::TRACE));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), body);
        let text = buffer.0.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    }

    #[test]
    fn timed_operations_record_name_duration_and_outcome() {
        let lines = perf_lines(|| {
            timed_operation("fetch_trades").succeeded();
            drop(timed_operation("fetch_positions"));
            let ok: Result<u8, String> =
                futures::executor::block_on(timed("place_order", async { Err("refused".to_string()) }));
            assert!(ok.is_err());
            tracing::info!("not a timing: other targets stay out");
        });
        let seen: Vec<(String, bool)> = lines
            .iter()
            .map(|l| (l["operation"].as_str().unwrap_or_default().to_string(), l["success"] == true))
            .collect();
        assert_eq!(
            seen,
            [("fetch_trades".into(), true), ("fetch_positions".into(), false), ("place_order".into(), false)]
        );
        assert!(lines.iter().all(|l| l["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0)), "{lines:?}");
        assert!(lines.iter().all(|l| l["target"] == PERF_TARGET));
    }

    #[test]
    fn http_calls_record_endpoint_status_and_latency() {
        let lines = perf_lines(|| {
            record_http_call("GET", "/api/trades", Some(200), Duration::from_micros(234_200));
            record_http_call("POST", "alerts:slack", None, Duration::from_millis(5));
        });
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["endpoint"], "/api/trades");
        assert_eq!(lines[0]["status_code"], 200);
        assert_eq!(lines[0]["duration_ms"], 234.2);
        assert_eq!(lines[1]["error"], true);
        assert!(lines[1].get("status_code").is_none());
    }
}
