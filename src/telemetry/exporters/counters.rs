//! What became of the events: emitted onto the queue, exported by each exporter, dropped by cause.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::{MetricKind, PromText};

/// Why an event never reached an exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropCause {
    /// The queue was full when the daemon emitted it.
    QueueFull,
    /// The exporter task had already stopped.
    ExporterStopped,
    /// The JSON-lines file could not be written.
    JsonlFailed,
    /// The HTTP sink failed every try of the batch holding it.
    HttpFailed,
}

impl DropCause {
    pub const ALL: [DropCause; 4] =
        [DropCause::QueueFull, DropCause::ExporterStopped, DropCause::JsonlFailed, DropCause::HttpFailed];

    pub fn as_str(self) -> &'static str {
        match self {
            DropCause::QueueFull => "queue_full",
            DropCause::ExporterStopped => "exporter_stopped",
            DropCause::JsonlFailed => "jsonl_failed",
            DropCause::HttpFailed => "http_failed",
        }
    }
}

/// The exporters, by their `/metrics` label.
pub const EXPORTERS: [&str; 2] = ["jsonl", "http"];

/// Counters shared by the sender and the exporter task.
#[derive(Debug, Default)]
pub struct TelemetryCounters {
    emitted: AtomicU64,
    dropped: [AtomicU64; 4],
    exported: [AtomicU64; 2],
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TelemetryCountersSnapshot {
    pub emitted: u64,
    /// By [`DropCause`], in [`DropCause::ALL`] order.
    pub dropped: [u64; 4],
    /// By exporter, in [`EXPORTERS`] order.
    pub exported: [u64; 2],
}

impl TelemetryCounters {
    pub fn count_emitted(&self) {
        self.emitted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_dropped(&self, cause: DropCause, events: u64) {
        self.dropped[cause as usize].fetch_add(events, Ordering::Relaxed);
    }

    pub fn count_exported_jsonl(&self, events: u64) {
        self.exported[0].fetch_add(events, Ordering::Relaxed);
    }

    pub fn count_exported_http(&self, events: u64) {
        self.exported[1].fetch_add(events, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> TelemetryCountersSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TelemetryCountersSnapshot {
            emitted: read(&self.emitted),
            dropped: self.dropped.each_ref().map(read),
            exported: self.exported.each_ref().map(read),
        }
    }
}

impl TelemetryCountersSnapshot {
    pub fn dropped(&self, cause: DropCause) -> u64 {
        self.dropped[cause as usize]
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Every cause with a count, zeros left out: `queue full 3, http failed 2`.
    pub fn describe_drops(&self) -> String {
        let parts: Vec<String> = DropCause::ALL
            .iter()
            .filter(|c| self.dropped(**c) > 0)
            .map(|c| format!("{} {}", c.as_str().replace('_', " "), self.dropped(*c)))
            .collect();
        parts.join(", ")
    }

    /// The counts since `earlier`.
    pub fn since(&self, earlier: &TelemetryCountersSnapshot) -> TelemetryCountersSnapshot {
        let minus = |a: [u64; 4], b: [u64; 4]| std::array::from_fn(|i| a[i].saturating_sub(b[i]));
        TelemetryCountersSnapshot {
            emitted: self.emitted.saturating_sub(earlier.emitted),
            dropped: minus(self.dropped, earlier.dropped),
            exported: std::array::from_fn(|i| self.exported[i].saturating_sub(earlier.exported[i])),
        }
    }

    /// The `/metrics` lines, every cause and exporter listed (zeros included) so that a dashboard
    /// sees the families before the first drop.
    pub fn write_metrics(&self, text: &mut PromText) {
        text.single(
            "whale_trader_telemetry_events_total",
            MetricKind::Counter,
            "Telemetry events queued for the exporters.",
            self.emitted,
        );
        const DROPPED: &str = "whale_trader_telemetry_dropped_total";
        text.family(DROPPED, MetricKind::Counter, "Telemetry events dropped, by cause.");
        for cause in DropCause::ALL {
            text.sample(DROPPED, &[("cause", cause.as_str())], self.dropped(cause));
        }
        const EXPORTED: &str = "whale_trader_telemetry_exported_total";
        text.family(EXPORTED, MetricKind::Counter, "Telemetry events delivered, by exporter.");
        for (i, exporter) in EXPORTERS.iter().enumerate() {
            text.sample(EXPORTED, &[("exporter", exporter)], self.exported[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_described_by_cause_and_every_family_is_listed() {
        let counters = TelemetryCounters::default();
        counters.count_emitted();
        counters.count_dropped(DropCause::QueueFull, 3);
        counters.count_dropped(DropCause::HttpFailed, 2);
        counters.count_exported_jsonl(1);
        let now = counters.snapshot();
        assert_eq!(now.describe_drops(), "queue full 3, http failed 2");
        assert_eq!(now.since(&now).dropped_total(), 0);
        let mut text = PromText::new();
        now.write_metrics(&mut text);
        let body = text.finish();
        for line in [
            "whale_trader_telemetry_events_total 1\n",
            "whale_trader_telemetry_dropped_total{cause=\"queue_full\"} 3\n",
            "whale_trader_telemetry_dropped_total{cause=\"exporter_stopped\"} 0\n",
            "whale_trader_telemetry_dropped_total{cause=\"http_failed\"} 2\n",
            "whale_trader_telemetry_exported_total{exporter=\"jsonl\"} 1\n",
            "whale_trader_telemetry_exported_total{exporter=\"http\"} 0\n",
        ] {
            assert!(body.contains(line), "{line} missing from\n{body}");
        }
    }
}
