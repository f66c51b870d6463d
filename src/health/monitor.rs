//! The monitor task: a system loop, a component loop and a report loop (60 s / 30 s /
//! hourly by default, from `[health]`), publishing the latest report and the hold/release actions on `watch`
//! channels, until its `CancellationToken` is cancelled.
//!
//! The three loops run concurrently inside one task and share a small state behind a mutex that is
//! never held across an await. A system sample is ~1 ms of synchronous `/proc` reads, run inline.
//! Each sample and each round of component checks is timed into performance.log
//! (`health.system_sample`, `health.component_checks`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;

use super::classify::{SystemHealth, assess_system};
use super::component::{ComponentRegistry, ComponentReport};
use super::error::HealthError;
use super::history::SystemHistory;
use super::hold::{HealthAction, HealthHold, HoldLatch, hold_reasons};
use super::metrics::WatchedDirectory;
use super::report::{HealthReport, ReportInputs, build_report};
use super::sampler::SystemSampler;
use super::status::HealthStatus;
use crate::clock::{Clock, Timestamp};
use crate::config::HealthConfig;
use crate::logging::timed_operation;

/// The tracing target of the monitor's log events (the hourly report among them).
pub const LOG_TARGET: &str = "whale_trader::health";

/// The first system sample waits this long after start (capped at the interval), because a CPU
/// figure needs two readings at least 200 ms apart.
const FIRST_SAMPLE_DELAY: Duration = Duration::from_secs(1);

/// The health monitor. Build it, hand out [`HealthMonitor::registry`], [`HealthMonitor::reports`]
/// and [`HealthMonitor::actions`], then [`HealthMonitor::spawn`] it.
pub struct HealthMonitor {
    /// The cadence (intervals, timeout) is read once at start; thresholds are read at every use, so a
    /// reloaded config (see [`HealthMonitor::with_config_updates`]) applies from the next sample.
    config: watch::Receiver<HealthConfig>,
    directories: Vec<WatchedDirectory>,
    clock: Arc<dyn Clock>,
    started_at: Timestamp,
    registry: ComponentRegistry,
    reports: watch::Sender<Arc<HealthReport>>,
    actions: watch::Sender<Option<HealthAction>>,
    /// A hold in force when the daemon last stopped, for the first check to judge.
    restored_hold: Option<HealthHold>,
}

impl HealthMonitor {
    /// `directories` are the disks to watch (the data and log directories), `clock` gives every
    /// timestamp and the uptime. Until the first sample, the published report is `degraded` with
    /// "no system sample yet".
    pub fn new(config: HealthConfig, directories: Vec<WatchedDirectory>, clock: Arc<dyn Clock>) -> Self {
        let started_at = clock.now();
        let first = build_report(ReportInputs {
            started_at,
            now: started_at,
            system: None,
            averages: None,
            components: &BTreeMap::new(),
        });
        let (reports, _) = watch::channel(Arc::new(first));
        let (actions, _) = watch::channel(None);
        // Without updates the sender is dropped at once; the receiver keeps the value.
        let (_, config) = watch::channel(config);
        Self {
            config,
            directories,
            clock,
            started_at,
            registry: ComponentRegistry::new(),
            reports,
            actions,
            restored_hold: None,
        }
    }

    /// Trading was held by health when the daemon last stopped (its restored trading state says
    /// so). The first check that has a system sample (the disks) judges it: released at once if
    /// nothing holds trading any more, kept otherwise. Without this the engine would stay held by
    /// a cause nothing in this run remembers, and nothing would ever release it.
    pub fn with_restored_hold(mut self, reason: impl Into<String>) -> Self {
        self.restored_hold = Some(HealthHold { reason: reason.into(), since: self.started_at });
        self
    }

    /// Follows a reloaded `[health]` section (SIGHUP): new thresholds apply from the next system sample
    /// and report; new intervals and timeout apply only after a restart of the monitor.
    pub fn with_config_updates(mut self, updates: watch::Receiver<HealthConfig>) -> Self {
        self.config = updates;
        self
    }

    /// Where parts register their checks; clone it freely, also after the monitor started.
    pub fn registry(&self) -> &ComponentRegistry {
        &self.registry
    }

    /// The latest report, replaced after every system sample and every component round.
    pub fn reports(&self) -> watch::Receiver<Arc<HealthReport>> {
        self.reports.subscribe()
    }

    /// The latest hold/release decision: `None` until health first holds trading, then the last
    /// [`HealthAction`]. It changes only when the hold starts or ends, so `changed()` wakes the engine
    /// exactly then; trading is held by health while the value is `HoldReducing`.
    pub fn actions(&self) -> watch::Receiver<Option<HealthAction>> {
        self.actions.subscribe()
    }

    /// Opens the sysinfo sources and starts the loops on the current runtime.
    pub fn spawn(self, cancel: CancellationToken) -> Result<JoinHandle<()>, HealthError> {
        let sampler = SystemSampler::new(self.directories.clone())?;
        Ok(tokio::spawn(self.run_with(sampler, cancel)))
    }

    /// Runs the loops until `cancel` fires (for callers that drive the future themselves).
    pub async fn run(self, cancel: CancellationToken) -> Result<(), HealthError> {
        let sampler = SystemSampler::new(self.directories.clone())?;
        self.run_with(sampler, cancel).await;
        Ok(())
    }

    async fn run_with(self, sampler: SystemSampler, cancel: CancellationToken) {
        let config = self.config.borrow().clone();
        let system_interval = secs(config.system_interval_secs);
        let shared = Shared {
            cadence: config.clone(),
            state: Mutex::new(MonitorState {
                system: None,
                history: SystemHistory::covering(config.report_interval_secs, config.system_interval_secs),
                components: BTreeMap::new(),
                // A release needs the causes clear across at least one more system sample.
                latch: match self.restored_hold.clone() {
                    Some(hold) => HoldLatch::restored(hold, system_interval),
                    None => HoldLatch::new(system_interval),
                },
            }),
            monitor: self,
        };
        tracing::info!(target: LOG_TARGET, components = ?shared.monitor.registry.names(), "health monitor started");
        tokio::join!(shared.system_loop(sampler, &cancel), shared.component_loop(&cancel), shared.report_loop(&cancel));
        tracing::info!(target: LOG_TARGET, "health monitor stopped");
    }
}

struct MonitorState {
    system: Option<SystemHealth>,
    history: SystemHistory,
    components: BTreeMap<String, ComponentReport>,
    latch: HoldLatch,
}

struct Shared {
    monitor: HealthMonitor,
    /// The config at start: its intervals and timeout drive the loops.
    cadence: HealthConfig,
    state: Mutex<MonitorState>,
}

impl Shared {
    /// The latest config, for its thresholds.
    fn config(&self) -> HealthConfig {
        self.monitor.config.borrow().clone()
    }

    fn lock(&self) -> MutexGuard<'_, MonitorState> {
        // Every update replaces whole fields, so a state seen after a panic is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn system_loop(&self, mut sampler: SystemSampler, cancel: &CancellationToken) {
        let period = secs(self.cadence.system_interval_secs);
        let mut ticker = interval_at(Instant::now() + FIRST_SAMPLE_DELAY.min(period), period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let timer = timed_operation("health.system_sample");
            let metrics = sampler.sample(self.monitor.clock.now());
            timer.succeeded();
            let system = assess_system(metrics, &self.config());
            let mut state = self.lock();
            log_system_change(state.system.as_ref().map(|s| s.status), &system);
            state.history.record(&system.metrics);
            state.system = Some(system);
            self.publish(&mut state);
        }
    }

    async fn component_loop(&self, cancel: &CancellationToken) {
        let period = secs(self.cadence.component_interval_secs);
        let timeout = secs(self.cadence.component_timeout_secs);
        let mut ticker = interval_at(Instant::now(), period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let timer = timed_operation("health.component_checks");
            let round = self.monitor.registry.check_all(timeout, self.monitor.clock.as_ref());
            let components = tokio::select! {
                _ = cancel.cancelled() => return,
                components = round => components,
            };
            // The round succeeds when every check answered healthy; each one's own verdict and
            // latency are in the report.
            if components.values().all(|c| c.status == HealthStatus::Healthy) {
                timer.succeeded();
            } else {
                drop(timer);
            }
            let mut state = self.lock();
            log_component_changes(&state.components, &components);
            state.components = components;
            self.publish(&mut state);
        }
    }

    async fn report_loop(&self, cancel: &CancellationToken) {
        let period = secs(self.cadence.report_interval_secs);
        let mut ticker = interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let report = self.monitor.reports.borrow().clone();
            tracing::info!(
                target: LOG_TARGET,
                overall_status = %report.overall_status,
                report = %report.to_json(),
                "health report"
            );
        }
    }

    /// Rebuilds the report, publishes it, and publishes a hold/release action when that changes.
    fn publish(&self, state: &mut MonitorState) {
        let now = self.monitor.clock.now();
        let averages = state.history.averages();
        let report = build_report(ReportInputs {
            started_at: self.monitor.started_at,
            now,
            system: state.system.as_ref(),
            averages: averages.as_ref(),
            components: &state.components,
        });
        let reasons = hold_reasons(&report, &self.config());
        // A restored hold is judged on a full picture: before the first system sample the disks
        // are unknown, and their absence is not their recovery.
        let judge = state.system.is_some() || !state.latch.awaits_first_check();
        if let Some(action) = judge.then(|| state.latch.update(&reasons, now)).flatten() {
            match &action {
                HealthAction::HoldReducing { reason, .. } => {
                    tracing::warn!(target: LOG_TARGET, reason = %reason, "health holds trading in reducing")
                }
                HealthAction::Release { reason, .. } => {
                    tracing::info!(target: LOG_TARGET, reason = %reason, "health releases its hold on trading")
                }
            }
            self.monitor.actions.send_replace(Some(action));
        }
        let report = HealthReport { trading_hold: state.latch.current().cloned(), ..report };
        self.monitor.reports.send_replace(Arc::new(report));
    }
}

/// Logs each change of the system's status rather than each unhealthy reading, so a degraded machine is
/// one line, not one per minute.
fn log_system_change(previous: Option<HealthStatus>, system: &SystemHealth) {
    if previous == Some(system.status) {
        return;
    }
    if system.status == HealthStatus::Healthy {
        tracing::info!(target: LOG_TARGET, status = %system.status, "system health is healthy");
    } else {
        tracing::warn!(
            target: LOG_TARGET,
            status = %system.status,
            problems = ?system.problems,
            "system health changed"
        );
    }
}

fn log_component_changes(previous: &BTreeMap<String, ComponentReport>, current: &BTreeMap<String, ComponentReport>) {
    for (name, component) in current {
        let before = previous.get(name).map(|c| c.status);
        if before == Some(component.status) || (before.is_none() && component.status == HealthStatus::Healthy) {
            continue;
        }
        if component.status == HealthStatus::Healthy {
            tracing::info!(target: LOG_TARGET, component = %name, "component recovered");
        } else {
            tracing::warn!(
                target: LOG_TARGET,
                component = %name,
                status = %component.status,
                message = %component.message,
                latency_ms = %component.latency_ms,
                "component health changed"
            );
        }
    }
}

fn secs(value: u64) -> Duration {
    // Validation rejects 0; a zero interval would make `interval_at` panic, so clamp anyway.
    Duration::from_secs(value.max(1))
}
