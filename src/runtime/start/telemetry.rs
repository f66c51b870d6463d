//! Telemetry: the bounded queue the engine task emits on, and the exporter task draining it to
//! the rotated JSON-lines file and the HTTP NDJSON sink. `telemetry.enabled = false`: no queue, no
//! task, no file.

use std::time::Duration;

use crate::config::Config;
use crate::runtime::failpoints::with_failpoint;
use crate::runtime::supervisor::Supervisor;
use crate::telemetry::TelemetrySender;
use crate::telemetry::exporters::{ExporterTask, HttpBatching, HttpSink, JsonlFile};

use super::alerts::AlertsStart;
use super::{StartError, Stops};

/// Builds the sender and, when enabled, spawns the exporter task. It stops with the sinks (once
/// the engine's last events are recorded, so every event emitted is queued by then) and exports
/// what is still queued before it ends.
pub(super) fn start(
    config: &Config,
    alerts: &AlertsStart,
    supervisor: &mut Supervisor,
    stops: &Stops,
) -> Result<TelemetrySender, StartError> {
    let telemetry = &config.telemetry;
    if !telemetry.enabled {
        return Ok(TelemetrySender::disabled());
    }
    let (sender, queue) = TelemetrySender::channel(telemetry.queue_capacity);
    let mut task = ExporterTask::new(queue, sender.counters(), Duration::from_secs(telemetry.drop_alert_interval_secs))
        .with_alerts(alerts.sender.clone());
    if telemetry.jsonl.enabled {
        let jsonl = &telemetry.jsonl;
        task = task.with_jsonl(JsonlFile::open(&jsonl.path, jsonl.max_file_bytes(), jsonl.keep)?);
    }
    if telemetry.http.enabled {
        let http = &telemetry.http;
        task = task.with_http(HttpBatching {
            sink: HttpSink::new(http)?,
            batch_max: http.batch_max,
            flush_every: Duration::from_millis(http.flush_ms),
        });
    }
    let stop = stops.sinks.clone();
    supervisor.spawn(
        "telemetry",
        with_failpoint("telemetry", async move {
            task.run(stop).await;
            Ok(())
        }),
    );
    Ok(sender)
}
