//! The bounded queue between the daemon and the exporters, and the exporters themselves.
//!
//! [`TelemetrySender::emit`] never waits: the engine must not slow down for telemetry, so a full
//! queue drops the event and counts it. One task ([`ExporterTask`]) drains the queue to each enabled
//! exporter: a size-rotated JSON-lines file ([`JsonlFile`]) and an HTTP NDJSON sink ([`HttpSink`]),
//! which sends batches and drops (and counts) a batch it could not deliver after its retries.
//! Drops of any cause are alerted, at most once per interval.

mod counters;
mod http;
mod jsonl;
mod task;

use std::sync::Arc;

use tokio::sync::mpsc;

pub use counters::{DropCause, TelemetryCounters, TelemetryCountersSnapshot};
pub use http::{HttpSink, HttpSinkError};
pub use jsonl::{JsonlError, JsonlFile};
pub use task::{ExporterTask, HttpBatching};

use super::events::TelemetryEvent;

/// The daemon's handle on the queue: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct TelemetrySender {
    queue: Option<mpsc::Sender<TelemetryEvent>>,
    counters: Arc<TelemetryCounters>,
}

impl TelemetrySender {
    /// The queue of `capacity` events and its one receiver.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<TelemetryEvent>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { queue: Some(tx), counters: Arc::default() }, rx)
    }

    /// Telemetry off (`telemetry.enabled = false`): nothing is queued or counted.
    pub fn disabled() -> Self {
        Self { queue: None, counters: Arc::default() }
    }

    pub fn is_enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `event` for the exporters, or drops and counts it when the queue is full (or the
    /// exporters have stopped).
    pub fn emit(&self, event: TelemetryEvent) {
        let Some(queue) = &self.queue else { return };
        match queue.try_send(event) {
            Ok(()) => self.counters.count_emitted(),
            Err(mpsc::error::TrySendError::Full(_)) => self.counters.count_dropped(DropCause::QueueFull, 1),
            Err(mpsc::error::TrySendError::Closed(_)) => self.counters.count_dropped(DropCause::ExporterStopped, 1),
        }
    }

    /// A plan's decision: SIGNAL_GENERATED and ORDER_SUBMITTED, or SIGNAL_REJECTED.
    pub fn emit_plan_decision(&self, decision: &crate::plans::PlanDecision, mode: crate::config::Mode) {
        if self.is_enabled() {
            TelemetryEvent::from_plan_decision(decision, mode).into_iter().for_each(|e| self.emit(e));
        }
    }

    /// A plan's close: POSITION_CLOSED.
    pub fn emit_plan_close(&self, close: &crate::plans::PlanClose, mode: crate::config::Mode) {
        if self.is_enabled() {
            self.emit(TelemetryEvent::from_plan_close(close, mode));
        }
    }

    pub fn counters(&self) -> Arc<TelemetryCounters> {
        Arc::clone(&self.counters)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::config::Mode;
    use crate::telemetry::events::{Payload, StateChange};

    pub(crate) fn state_event(n: i64) -> TelemetryEvent {
        TelemetryEvent::new(
            Timestamp::from_millis(n),
            Mode::Paper,
            Payload::TradingStateChanged(StateChange {
                from: "active",
                to: "halted",
                reason: "manual_halt",
                detail: format!("event {n}"),
                daily_pnl_usd: rust_decimal::Decimal::ZERO,
                drawdown_percent: rust_decimal::Decimal::ZERO,
                open_positions: 0,
            }),
        )
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (sender, mut rx) = TelemetrySender::channel(2);
        for n in 0..5 {
            sender.emit(state_event(n));
        }
        let counts = sender.counters().snapshot();
        assert_eq!(counts.emitted, 2);
        assert_eq!(counts.dropped(DropCause::QueueFull), 3);
        assert_eq!(rx.try_recv().unwrap().at.millis(), 0, "the oldest events are kept, in order");
        drop(rx);
        sender.emit(state_event(9));
        assert_eq!(sender.counters().snapshot().dropped(DropCause::ExporterStopped), 1);
    }

    #[test]
    fn a_disabled_sender_queues_and_counts_nothing() {
        let sender = TelemetrySender::disabled();
        sender.emit(state_event(1));
        assert!(!sender.is_enabled());
        assert_eq!(sender.counters().snapshot(), TelemetryCountersSnapshot::default());
    }
}
