//! Telemetry: typed events of what the daemon did (signals, orders, fills, closes, trading
//! states) exported off the trading path, and the analytics of the trade plans.
//!
//! | file | job |
//! | --- | --- |
//! | `events` | [`TelemetryEvent`]: the kinds, their one JSON-lines form, from plan decisions and closes |
//! | `copy` | [`CopyTelemetry`]: the copy-trading engine's events as telemetry, named as a person reads them |
//! | `exporters` | [`TelemetrySender`] (bounded, never blocks; drops counted), the exporter task, the rotated file and the HTTP NDJSON sink |
//! | `analytics` | [`SignalAnalytics`]: plans by outcome, tier and regime, mean R:R, hit rate and mean R (pure) |
//! | `config` | `[telemetry]` |
//!
//! Telemetry is lossy by design: nothing that must not be lost travels on it (orders, fills and
//! positions are in the store; decisions in the audit trail).

mod analytics;
mod config;
mod copy;
mod events;
pub mod exporters;

pub use analytics::{RegimePerformance, SignalAnalytics, SignalAnalyticsSnapshot, SignalCount};
pub use config::{HttpSinkConfig, JsonlConfig, TelemetryConfig};
pub use copy::{CopyTelemetry, EngineNames};
pub use events::{
    EventKind, OrderCancelled, OrderFilled, OrderRef, OrderSubmitted, Origin, Payload, PositionClosed, SignalGenerated,
    SignalRejected, StateChange, Subject, TelemetryEvent,
};
pub use exporters::{DropCause, TelemetryCounters, TelemetryCountersSnapshot, TelemetrySender};
