//! The one task that drains the queue to the exporters, batches for the HTTP sink, alerts drops
//! and, at the daemon's stop, exports what is still queued before it ends.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::counters::{DropCause, TelemetryCounters, TelemetryCountersSnapshot};
use super::http::HttpSink;
use super::jsonl::JsonlFile;
use crate::alerts::{Alert, AlertSender, Priority};
use crate::clock::{Clock, SystemClock};
use crate::telemetry::events::TelemetryEvent;

/// The HTTP sink with its batch being filled.
#[derive(Debug)]
pub struct HttpBatching {
    pub sink: HttpSink,
    pub batch_max: usize,
    pub flush_every: Duration,
}

pub struct ExporterTask {
    rx: mpsc::Receiver<TelemetryEvent>,
    counters: Arc<TelemetryCounters>,
    jsonl: Option<JsonlFile>,
    http: Option<HttpBatching>,
    alerts: Option<AlertSender>,
    alert_every: Duration,
    /// The NDJSON body being filled, the events in it, and when its first one came.
    batch: Vec<u8>,
    batched: usize,
    batch_since: Option<Instant>,
    /// The counters when drops were last alerted (or at the start).
    alerted: TelemetryCountersSnapshot,
    /// When a failure of the file, and of the sink, was last logged (one line per interval and
    /// cause, not one per event).
    jsonl_logged: Option<Instant>,
    http_logged: Option<Instant>,
}

impl ExporterTask {
    pub fn new(rx: mpsc::Receiver<TelemetryEvent>, counters: Arc<TelemetryCounters>, alert_every: Duration) -> Self {
        Self {
            rx,
            counters,
            jsonl: None,
            http: None,
            alerts: None,
            alert_every,
            batch: Vec::new(),
            batched: 0,
            batch_since: None,
            alerted: TelemetryCountersSnapshot::default(),
            jsonl_logged: None,
            http_logged: None,
        }
    }

    pub fn with_jsonl(mut self, file: JsonlFile) -> Self {
        self.jsonl = Some(file);
        self
    }

    pub fn with_http(mut self, http: HttpBatching) -> Self {
        self.http = Some(http);
        self
    }

    pub fn with_alerts(mut self, alerts: AlertSender) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Runs until `stop`, then exports every event still queued (the HTTP sink gets one try per
    /// batch then, so that a dead sink cannot hold the daemon's stop) and ends.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut alert_tick = tokio::time::interval_at(now() + self.alert_every, self.alert_every);
        alert_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let flush_at = self.flush_deadline();
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                event = self.rx.recv() => match event {
                    Some(event) => self.take(event, Some(&stop)).await,
                    None => break,
                },
                () = sleep_until(flush_at), if flush_at.is_some() => self.flush_http(Some(&stop)).await,
                _ = alert_tick.tick() => self.alert_drops(),
            }
        }
        // No new event can be queued once the receiver is closed; those already queued are exported.
        self.rx.close();
        let mut drained = 0u64;
        while let Some(event) = self.rx.recv().await {
            self.take(event, None).await;
            drained += 1;
        }
        self.flush_http(None).await;
        self.alert_drops();
        let counts = self.counters.snapshot();
        tracing::info!(
            drained_at_stop = drained,
            emitted = counts.emitted,
            exported_jsonl = counts.exported[0],
            exported_http = counts.exported[1],
            dropped = counts.dropped_total(),
            "telemetry exporters stopped"
        );
    }

    fn flush_deadline(&self) -> Option<Instant> {
        let http = self.http.as_ref()?;
        self.batch_since.map(|since| since + http.flush_every)
    }

    fn write_jsonl(&mut self, line: &[u8]) {
        let Some(file) = self.jsonl.as_mut() else { return };
        match file.write_line(line) {
            Ok(()) => self.counters.count_exported_jsonl(1),
            Err(error) => {
                self.counters.count_dropped(DropCause::JsonlFailed, 1);
                if log_due(&mut self.jsonl_logged, self.alert_every) {
                    tracing::warn!(%error, "telemetry events are not written to their file (counted as dropped)");
                }
            }
        }
    }

    /// Appends the line to the file and to the HTTP batch, and sends the batch once full.
    async fn take(&mut self, event: TelemetryEvent, stop: Option<&CancellationToken>) {
        let mut line = Vec::with_capacity(256);
        event.write_line(&mut line);
        self.write_jsonl(&line);
        let Some(http) = &self.http else { return };
        self.batch.extend_from_slice(&line);
        self.batched += 1;
        self.batch_since.get_or_insert_with(now);
        if self.batched >= http.batch_max {
            self.flush_http(stop).await;
        }
    }

    /// Sends the batch. While running (`stop` given): with the sink's retries, and a stop in the
    /// middle keeps the batch for the stop's own flush (the sink may then see it twice: delivery is
    /// at least once). At the stop (`None`): one try. A batch whose tries all fail is dropped and
    /// counted.
    async fn flush_http(&mut self, stop: Option<&CancellationToken>) {
        let Some(http) = &self.http else { return };
        if self.batched == 0 {
            return;
        }
        let delivered = match stop {
            Some(stop) => tokio::select! {
                delivered = http.sink.deliver(&self.batch, None) => delivered,
                () = stop.cancelled() => return,
            },
            None => http.sink.deliver(&self.batch, Some(1)).await,
        };
        let events = std::mem::take(&mut self.batched) as u64;
        self.batch_since = None;
        self.batch.clear();
        match delivered {
            Ok(()) => self.counters.count_exported_http(events),
            Err(error) => {
                self.counters.count_dropped(DropCause::HttpFailed, events);
                if log_due(&mut self.http_logged, self.alert_every) {
                    tracing::warn!(events, %error, "telemetry batch dropped after its tries (counted as dropped)");
                }
            }
        }
    }

    /// One warning when anything was dropped since the last one, naming the counts by cause.
    fn alert_drops(&mut self) {
        let now = self.counters.snapshot();
        let new = now.since(&self.alerted);
        if new.dropped_total() == 0 {
            return;
        }
        self.alerted = now;
        let message = format!(
            "{} telemetry event(s) dropped since the last report ({}); {} dropped since start ({}). \
             Trading is not affected.",
            new.dropped_total(),
            new.describe_drops(),
            now.dropped_total(),
            now.describe_drops(),
        );
        tracing::warn!(dropped = new.dropped_total(), "{message}");
        if let Some(alerts) = &self.alerts {
            alerts.raise(Alert::new(Priority::Warning, "Telemetry Events Dropped", message, SystemClock.now()));
        }
    }
}

/// Whether a failure of one cause is to be logged now: the first, then one per `every`.
fn log_due(last: &mut Option<Instant>, every: Duration) -> bool {
    let due = last.is_none_or(|at| now().saturating_duration_since(at) >= every);
    if due {
        *last = Some(now());
    }
    due
}

/// The monotonic clock (the crate's one reading of it), as tokio's instant.
fn now() -> Instant {
    Instant::from_std(crate::clock::monotonic())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU16, Ordering};

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};

    use super::*;
    use crate::config::Secret;
    use crate::telemetry::config::HttpSinkConfig;
    use crate::telemetry::exporters::TelemetrySender;
    use crate::telemetry::exporters::tests::state_event;

    /// A loopback NDJSON collector answering `status`, keeping each body it was sent.
    #[derive(Clone, Default)]
    struct Collector {
        bodies: Arc<Mutex<Vec<(String, String)>>>,
        status: Arc<AtomicU16>,
    }

    async fn collect(State(c): State<Collector>, headers: HeaderMap, body: String) -> StatusCode {
        let kind = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        c.bodies.lock().unwrap().push((kind, body));
        StatusCode::from_u16(c.status.load(Ordering::Relaxed)).unwrap()
    }

    async fn serve(status: u16) -> (Collector, String) {
        let collector = Collector::default();
        collector.status.store(status, Ordering::Relaxed);
        let app = axum::Router::new().route("/events", axum::routing::post(collect)).with_state(collector.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (collector, url)
    }

    fn http(url: &str, batch_max: usize, flush_ms: u64, retries: u32) -> HttpBatching {
        let config =
            HttpSinkConfig { enabled: true, url: Secret::new(url), batch_max, flush_ms, timeout_ms: 2_000, retries };
        HttpBatching { sink: HttpSink::new(&config).unwrap(), batch_max, flush_every: Duration::from_millis(flush_ms) }
    }

    fn details(body: &str) -> Vec<String> {
        body.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["detail"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn wait_for(mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("not reached within 5 s");
    }

    #[tokio::test]
    async fn batches_go_out_full_or_when_their_first_event_waited_and_the_file_gets_every_line() {
        let (collector, url) = serve(200).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let (sender, queue) = TelemetrySender::channel(16);
        for n in 0..5 {
            sender.emit(state_event(n));
        }
        let task = ExporterTask::new(queue, sender.counters(), Duration::from_secs(60))
            .with_jsonl(JsonlFile::open(&path, 1 << 20, 1).unwrap())
            .with_http(http(&url, 2, 100, 0));
        let stop = CancellationToken::new();
        let running = tokio::spawn(task.run(stop.clone()));
        let counters = sender.counters();
        // The fifth event is alone in its batch: it goes out when it has waited `flush_ms`.
        wait_for(|| counters.snapshot().exported[1] == 5).await;
        let bodies = collector.bodies.lock().unwrap().clone();
        let sizes: Vec<usize> = bodies.iter().map(|(_, b)| b.lines().count()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert!(bodies.iter().all(|(kind, _)| kind == "application/x-ndjson"), "{bodies:?}");
        let sent: Vec<String> = bodies.iter().flat_map(|(_, b)| details(b)).collect();
        assert_eq!(sent, ["event 0", "event 1", "event 2", "event 3", "event 4"]);
        assert_eq!(details(&std::fs::read_to_string(&path).unwrap()), sent, "the file has the same lines, in order");
        assert_eq!(counters.snapshot().exported[0], 5);
        stop.cancel();
        running.await.unwrap();
    }

    #[tokio::test]
    async fn a_failing_sink_is_tried_again_then_the_batch_is_dropped_and_counted() {
        let (collector, url) = serve(500).await;
        let (sender, queue) = TelemetrySender::channel(16);
        sender.emit(state_event(1));
        sender.emit(state_event(2));
        let task = ExporterTask::new(queue, sender.counters(), Duration::from_secs(60)).with_http(http(&url, 1, 50, 1));
        let stop = CancellationToken::new();
        let running = tokio::spawn(task.run(stop.clone()));
        let counters = sender.counters();
        wait_for(|| counters.snapshot().dropped(DropCause::HttpFailed) == 2).await;
        assert_eq!(collector.bodies.lock().unwrap().len(), 4, "each batch: the first try and one retry");
        assert_eq!(counters.snapshot().exported[1], 0);
        stop.cancel();
        running.await.unwrap();
    }

    #[tokio::test]
    async fn at_the_stop_what_is_queued_is_exported_before_the_task_ends() {
        let (collector, url) = serve(200).await;
        let (sender, queue) = TelemetrySender::channel(16);
        for n in 0..3 {
            sender.emit(state_event(n));
        }
        // A batch far from full and a flush far away: only the stop sends it.
        let task =
            ExporterTask::new(queue, sender.counters(), Duration::from_secs(60)).with_http(http(&url, 100, 600_000, 0));
        let stop = CancellationToken::new();
        stop.cancel();
        task.run(stop).await;
        let bodies = collector.bodies.lock().unwrap().clone();
        assert_eq!(bodies.len(), 1);
        assert_eq!(details(&bodies[0].1), ["event 0", "event 1", "event 2"]);
        assert_eq!(sender.counters().snapshot().exported[1], 3);
        sender.emit(state_event(9));
        assert_eq!(sender.counters().snapshot().dropped(DropCause::ExporterStopped), 1);
    }

    #[tokio::test]
    async fn a_hanging_sink_holds_the_stop_for_one_try_only() {
        // Accepts connections and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", silent.local_addr().unwrap());
        let (sender, queue) = TelemetrySender::channel(4);
        sender.emit(state_event(1));
        let config = HttpSinkConfig {
            enabled: true,
            url: Secret::new(url.as_str()),
            batch_max: 1,
            flush_ms: 50,
            timeout_ms: 300,
            retries: 5,
        };
        let hanging = HttpBatching {
            sink: HttpSink::new(&config).unwrap(),
            batch_max: 1,
            flush_every: Duration::from_millis(50),
        };
        let task = ExporterTask::new(queue, sender.counters(), Duration::from_secs(60)).with_http(hanging);
        let stop = CancellationToken::new();
        let running = tokio::spawn(task.run(stop.clone()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopped_at = crate::clock::monotonic();
        stop.cancel();
        running.await.unwrap();
        // Six tries of 300 ms with back-off would take over 3 s; the stop gives the batch one.
        let took = stopped_at.elapsed();
        assert!(took < Duration::from_millis(1_500), "the stop waited {took:?}");
        assert_eq!(sender.counters().snapshot().dropped(DropCause::HttpFailed), 1);
        drop(silent);
    }
}
