//! Operation timings for performance.log (the seeds' `timed_operation` and `log_api_call`).

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
    TimedOperation { name, started: Instant::now(), success: false }
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
