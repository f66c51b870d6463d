//! Health: the monitor with its checks (engine progress, the store writer, the live feeds, every
//! enabled alert channel), its alerts, and its holds and releases turned into engine controls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::alerts::AlertCountersSnapshot;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, HealthConfig};
use crate::engine::{Control, Input};
use crate::health::{
    ComponentHealth, FreshnessRule, HealthAction, HealthError, HealthMonitor, HealthReport, HealthStatus,
    ProgressTracker, WatchedDirectory, progress_check,
};
use crate::runtime::EngineMsg;
use crate::runtime::failpoints::with_failpoint;
use crate::runtime::feed_checks::register_feed_checks;
use crate::runtime::health_alerts;
use crate::runtime::supervisor::{Supervisor, TaskError, TaskResult};
use crate::store::StoreHandle;

use super::alerts::AlertsStart;
use super::engine::EngineStart;
use super::feeds::FeedsStarted;
use super::store::StoreParts;
use super::{StartError, Stops};

pub(super) struct HealthStart {
    pub reports: watch::Receiver<Arc<HealthReport>>,
    /// SIGHUP's new `[health]` thresholds go here.
    pub config_updates: watch::Sender<HealthConfig>,
    /// The engine loop's progress as the health check sees it (the watchdog moves it).
    pub engine_progress: ProgressTracker,
}

pub(super) fn start(
    config: &Config,
    store: &StoreParts,
    engine: &EngineStart,
    feeds: &FeedsStarted,
    alerts: &AlertsStart,
    supervisor: &mut Supervisor,
    stops: &Stops,
) -> Result<HealthStart, StartError> {
    let engine_progress = ProgressTracker::new(SystemClock.now());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (config_updates, config_rx) = watch::channel(config.health.clone());
    let monitor = HealthMonitor::new(
        config.health.clone(),
        vec![
            WatchedDirectory::new("data", &config.daemon.data_dir),
            WatchedDirectory::new("logs", &config.logging.dir),
        ],
        clock.clone(),
    )
    .with_config_updates(config_rx);
    let monitor = match store.health_held {
        true => monitor
            .with_restored_hold("trading was held by health when the daemon last stopped (restored from the store)"),
        false => monitor,
    };
    register_checks(&monitor, &engine_progress, &store.handle, clock.clone())?;
    if let Some(observed) = &feeds.observed {
        register_feed_checks(
            &monitor,
            observed,
            &config.polymarket.clob_url,
            config.polymarket.whale_feed.poll_interval(),
            clock,
        )?;
    }
    register_alert_channel_checks(&monitor, config, &alerts.counters)?;
    let reports = monitor.reports();
    let actions = monitor.actions();
    supervisor.spawn(
        "health-alerts",
        with_failpoint(
            "health-alerts",
            health_alerts::run(monitor.reports(), alerts.sender.clone(), stops.sinks.clone()),
        ),
    );
    let monitor_stop = stops.sinks.clone();
    supervisor.spawn(
        "health",
        with_failpoint("health", async move { monitor.run(monitor_stop).await.map_err(TaskError::new) }),
    );
    supervisor.spawn(
        "health-actions",
        with_failpoint("health-actions", apply_health(actions, engine.inputs.clone(), stops.intake.clone())),
    );
    Ok(HealthStart { reports, config_updates, engine_progress })
}

fn register_checks(
    monitor: &HealthMonitor,
    engine_progress: &ProgressTracker,
    store: &StoreHandle,
    clock: Arc<dyn Clock>,
) -> Result<(), HealthError> {
    let rule = FreshnessRule::within(Duration::from_secs(60), HealthStatus::Critical)?;
    monitor
        .registry()
        .register("engine", progress_check(engine_progress.clone(), "engine loop progress", rule, clock))?;
    let store = store.clone();
    monitor.registry().register("store", move || {
        let store = store.clone();
        async move {
            // A round trip through the writer: an empty atomic group resolves once committed.
            match store.flush().await {
                Ok(()) => ComponentHealth::healthy("store writer commits"),
                Err(e) => ComponentHealth::critical(format!("store: {e}")),
            }
        }
    })?;
    Ok(())
}

/// One check per enabled alert channel: unhealthy when deliveries ended in the dead-letter file
/// since the previous check (a channel that fails for good is worth knowing about), healthy
/// otherwise, with the delivery count.
fn register_alert_channel_checks(
    monitor: &HealthMonitor,
    config: &Config,
    counters: &watch::Receiver<AlertCountersSnapshot>,
) -> Result<(), HealthError> {
    let a = &config.alerts;
    let enabled = [
        ("console", a.console.enabled),
        ("file", a.file.enabled),
        ("slack", a.slack.enabled),
        ("discord", a.discord.enabled),
        ("webhook", a.webhook.enabled),
        ("email", a.email.enabled),
        ("sms", a.sms.enabled),
        ("telegram", a.telegram.enabled),
    ];
    for (channel, on) in enabled {
        if !on {
            continue;
        }
        let counters = counters.clone();
        let seen_failures = Arc::new(AtomicU64::new(0));
        monitor.registry().register(format!("alerts.{channel}"), move || {
            let snapshot = counters.borrow().channels.get(channel).cloned().unwrap_or_default();
            let before = seen_failures.swap(snapshot.dead_lettered, Ordering::Relaxed);
            let health = if snapshot.dead_lettered > before {
                ComponentHealth::unhealthy(format!(
                    "{} alert deliveries failed for good since the last check",
                    snapshot.dead_lettered - before
                ))
            } else {
                ComponentHealth::healthy(format!("{} delivered", snapshot.delivered))
            };
            std::future::ready(health)
        })?;
    }
    Ok(())
}

/// Health holds and releases become engine control inputs.
async fn apply_health(
    mut actions: watch::Receiver<Option<HealthAction>>,
    inputs: mpsc::Sender<EngineMsg>,
    stop: CancellationToken,
) -> TaskResult {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            changed = actions.changed() => {
                if changed.is_err() {
                    stop.cancelled().await;
                    return Ok(());
                }
                let action = actions.borrow_and_update().clone();
                let control = match action {
                    Some(action) if action.holds() => Control::HoldReducing { detail: action.reason().to_string() },
                    Some(action) => Control::ReleaseHold { detail: action.reason().to_string() },
                    None => continue,
                };
                if inputs.send(EngineMsg::now(Input::Control(control))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
