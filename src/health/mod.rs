//! The health monitor: system figures, component checks, the health
//! report, and the one decision health takes for trading (hold it in `Reducing`).
//!
//! ```text
//!  SystemSampler (sysinfo, /proc/self) ─► classify (pure) ─┐
//!  ComponentRegistry (async checks, timeout, latency) ─────┼─► build_report (pure) ─► watch<Arc<HealthReport>>
//!                                                          │          └─► hold_reasons + HoldLatch (pure)
//!                                                          │                 └─► watch<Option<HealthAction>>
//!  report loop ─► one JSON event per report_interval on target `whale_trader::health`
//! ```
//!
//! Wiring, in the daemon:
//! ```no_run
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! # use whale_trader::clock::{Clock, SystemClock};
//! # use whale_trader::config::HealthConfig;
//! # use whale_trader::health::*;
//! # async fn wire() -> Result<(), HealthError> {
//! let clock: Arc<dyn Clock> = Arc::new(SystemClock);
//! let directories = vec![WatchedDirectory::new("data", "data"), WatchedDirectory::new("logs", "logs")];
//! let monitor = HealthMonitor::new(HealthConfig::default(), directories, clock.clone());
//!
//! // The engine marks progress every loop turn; its check must see it advance within 60 s.
//! let engine_progress = ProgressTracker::new(clock.now());
//! let rule = FreshnessRule::within(Duration::from_secs(60), HealthStatus::Critical)?;
//! let engine_check = progress_check(engine_progress.clone(), "engine loop progress", rule, clock.clone());
//! monitor.registry().register("engine", engine_check)?;
//!
//! let reports = monitor.reports(); // for GET /health and /metrics
//! let mut actions = monitor.actions(); // for the engine: hold in Reducing / release
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let task = monitor.spawn(cancel.clone())?;
//! # Ok(()) }
//! ```

mod checks;
mod classify;
mod component;
mod error;
mod history;
mod hold;
mod json_number;
mod metrics;
mod monitor;
mod proc_self;
mod report;
mod sampler;
mod snapshot;
mod status;

pub use checks::{
    CounterWatch, FreshnessRule, OutcomeRule, OutcomeTracker, ProgressTracker, counter_check, outcome_check,
    progress_check,
};
pub use classify::{Resource, SystemHealth, Thresholds, assess_system, classify};
pub use component::{ComponentHealth, ComponentRegistry, ComponentReport, millis_with_micros};
pub use error::HealthError;
pub use history::{SystemAverages, SystemHistory};
pub use hold::{HealthAction, HealthHold, HoldLatch, hold_reasons};
pub use metrics::{
    DirectoryDisk, LoadAverage, NetworkTotals, ProcessFigures, SpaceUsage, SystemMetrics, WatchedDirectory, percent_of,
};
pub use monitor::{HealthMonitor, LOG_TARGET};
pub use proc_self::{process_cpu_time, read_process_figures, status_number, thread_cpu_time};
pub use report::{HealthReport, ReportInputs, build_report};
pub use sampler::{SystemSampler, containing_mount, file_system_usage};
pub use snapshot::{ComponentSnapshot, DiskSnapshot, HealthMetricsSnapshot};
pub use status::HealthStatus;
