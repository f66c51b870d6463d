//! Builds the daemon's tasks from the configuration and connects them (DESIGN.md's data flow).
//!
//! ```text
//!  replay / polymarket feed ─┐                                   ┌─► executor (inside the engine task;
//!                            │                                   │   live: its own tasks, reports back)
//!  control API  ─────────────┼─ mpsc<EngineMsg> ─► engine task ──┤
//!  health hold / release ────┤                                   └─ mpsc<EngineEvent> ─► recorder ─┬─► store writer
//!  timer ticks, SIGHUP ──────┘                                                                     └─► alerts
//!  health monitor ── watch<HealthReport> ──► /health, /metrics, health alerts
//!  watchdog ── systemd, heartbeat
//! ```
//!
//! Stop order: the `intake` token stops the sources, the API and the engine (which drains its
//! queue); when the engine's event stream ends, the recorder drains it and cancels `sinks`, so the
//! store writer, the alert dispatcher and the health monitor finish last.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::alert_outbox::{StoreOutbox, undelivered_alerts};
use super::feed_checks::register_feed_checks;
use super::health_alerts;
use super::observe::{self, Observed};
use super::recorder::Recorder;
use super::recovery::{Resumed, resume_engine};
use super::supervisor::{Supervisor, TaskError, TaskResult};
use super::systemd::Systemd;
use super::watchdog::watchdog;
use crate::alerts::{Alert, AlertSender, AlertsBuilder, AlertsHandle};
use crate::api::{self, ApiState, ControlOutcome, ControlReply, ControlRequest, StoreView};
use crate::clock::{Clock, SimClock, SystemClock};
use crate::config::{Config, FeedSource, Mode};
use crate::domain::ReasonCode;
use crate::engine::journal::Journal;
use crate::engine::{
    Control, EngineHandle, EngineMsg, Input, Persistence, TracingAuditSink, run_replay_feed, spawn_engine_task,
};
use crate::health::{
    FreshnessRule, HealthAction, HealthMonitor, HealthStatus, ProgressTracker, WatchedDirectory, progress_check,
};
use crate::polymarket::SharedBookRefusals;
use crate::store::{SqliteStore, Store, StoreCommand, StoreHandle, spawn_writer};

/// Environment variable that makes the daemon fail on purpose, for tests: a named task
/// (`WHALE_TRADER_FAILPOINT=panic:<task>` or `error:<task>`, for the supervisor), or the whole
/// process right after the n-th order's write-ahead (`abort-after-write-ahead:<n>`, for recovery).
pub const FAILPOINT_ENV: &str = "WHALE_TRADER_FAILPOINT";

/// How often the engine gets a timer tick (day roll-over, staleness, breaker cooldown).
const TICK_EVERY: Duration = Duration::from_secs(1);

/// How often old audit and seen-trade rows are pruned (`[store]` retention).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Capacity of the engine → recorder event queue (back-pressure beyond it, never drops).
const EVENT_QUEUE: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the store cannot be used: {0}")]
    Store(String),
    #[error("live trading refused: {0}")]
    Live(String),
    #[error("the alert dispatcher cannot start: {0}")]
    Alerts(String),
    #[error("the health monitor cannot start: {0}")]
    Health(String),
    #[error("the control API cannot start: {0}")]
    Api(String),
    #[error("feed.source = \"polymarket\": {0}")]
    Feed(String),
}

impl StartError {
    /// A refusal to trade live is a usage or configuration problem (exit 2: restarting cannot fix
    /// it); anything else is a runtime failure (exit 1).
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Live(_) => crate::cli::exit::BAD_CONFIG,
            _ => crate::cli::exit::FAILURE,
        }
    }
}

/// Handles the daemon keeps after start-up.
pub struct Wired {
    intake: CancellationToken,
    alerts: AlertSender,
}

impl Wired {
    /// Stop order: sources and engine first; sinks follow once the engine's events are recorded.
    pub fn begin_shutdown(&self) {
        self.intake.cancel();
    }

    /// A critical alert raised by the daemon itself (a task died).
    pub fn raise_critical(&self, title: &str, message: &str) {
        tracing::error!(alert = "critical", title, "{message}");
        self.raise(crate::alerts::Priority::Critical, title, message);
    }

    /// An alert raised by the daemon itself (a rejected reload, a task failure).
    pub fn raise(&self, priority: crate::alerts::Priority, title: &str, message: &str) {
        self.alerts.raise(Alert::new(priority, title, message, SystemClock.now()));
    }
}

/// Starts every task under `supervisor`, a gated one: the tasks wait at its start barrier, which
/// the caller opens once this returns `Ok` (every component is up). On `Err` the stop tokens are
/// cancelled, and the caller aborts the tasks, none of which has run a step.
pub async fn start(
    config_tx: &watch::Sender<Arc<Config>>,
    live: bool,
    supervisor: &mut Supervisor,
    systemd: Systemd,
) -> Result<Wired, StartError> {
    let intake = CancellationToken::new();
    let sinks = CancellationToken::new();
    let started = start_tasks(config_tx, live, supervisor, systemd, &intake, &sinks).await;
    if started.is_err() {
        intake.cancel();
        sinks.cancel();
    }
    started
}

async fn start_tasks(
    config_tx: &watch::Sender<Arc<Config>>,
    live: bool,
    supervisor: &mut Supervisor,
    systemd: Systemd,
    intake: &CancellationToken,
    sinks: &CancellationToken,
) -> Result<Wired, StartError> {
    let config = config_tx.borrow().clone();
    let mode = config.daemon.mode;
    if mode == Mode::Live || live {
        super::executors::refuse_live_unless_ready(&config, live).map_err(StartError::Live)?;
    }
    let (intake, sinks) = (intake.clone(), sinks.clone());

    // The control API's port first: taken by something else, the start fails before the store is
    // opened or anything else is built.
    let listener = match config.api.enabled {
        true => Some(api::bind(&config.api).await.map_err(|e| StartError::Api(e.to_string()))?),
        false => None,
    };

    // The store of this mode and feed (the demo's state never leaks into a run on real wallets):
    // refuse a damaged database before anything else starts, then resume the engine exactly where
    // its last durable checkpoint left it.
    let mut store =
        SqliteStore::open_for(&config.store, mode, config.feed.source).map_err(|e| StartError::Store(e.to_string()))?;
    let store_view = StoreView {
        path: store.path().display().to_string(),
        mode: mode.as_str().to_owned(),
        feed_source: config.feed.source.as_str().to_owned(),
    };
    tracing::info!(path = %store_view.path, mode = %mode, feed_source = %config.feed.source, "store opened");
    let recovered = store.load_recovery().map_err(|e| StartError::Store(e.to_string()))?;
    let sim_clock = SimClock::default();
    let clock: Arc<dyn Clock> = match config.feed.source {
        FeedSource::Replay => Arc::new(sim_clock.clone()),
        FeedSource::Polymarket => Arc::new(SystemClock),
    };
    let source = match config.feed.source {
        FeedSource::Replay => format!("replay:{}", config.feed.replay_path.display()),
        FeedSource::Polymarket => "polymarket".to_owned(),
    };
    let Resumed { engine, cursor, restored } =
        resume_engine(config.clone(), Box::new(TracingAuditSink), &recovered, &source, clock.now())
            .map_err(|e| StartError::Store(e.to_string()))?;
    let pending_orders = engine.pending_orders().len();
    // Trading held by health when the daemon stopped stays held until this run's health monitor
    // judges the hold (it alone can release it).
    let health_held = engine.risk().reducing_holds().contains(&ReasonCode::HealthDegraded);
    tracing::info!(
        target: crate::logging::AUDIT_TARGET,
        event = "recovery",
        summary = %recovered.summary(),
        restored,
        resume_after = cursor,
        orders_to_reconcile = pending_orders,
        "store recovered: {}{}",
        recovered.summary(),
        match (restored, cursor) {
            (false, _) => "; empty store, starting fresh".to_owned(),
            (true, Some(c)) => format!("; the replayed session resumes after message {c}"),
            (true, None) => "; feeds resume from the whale watermarks".to_owned(),
        }
    );
    let (store_handle, store_writer) =
        spawn_writer(store, (&config.store).into(), sinks.clone()).map_err(|e| StartError::Store(e.to_string()))?;
    supervisor.spawn(
        "store-writer",
        with_failpoint("store-writer", async move {
            let stats = store_writer.join().await.map_err(TaskError::new)?;
            tracing::info!(?stats, "store writer stopped; queued writes committed");
            Ok(())
        }),
    );

    // Alerts, with the heartbeat driven by engine progress.
    let (progress_tx, progress_rx) = watch::channel(0u64);
    let (outbox, outbox_forwarder) = StoreOutbox::new(store_handle.clone());
    supervisor.spawn("alert-outbox", with_failpoint("alert-outbox", outbox_forwarder));
    let alerts = AlertsBuilder::new(config.alerts.clone(), config.logging.dir.clone())
        .outbox(outbox)
        .engine_progress(progress_rx)
        .spawn(sinks.clone())
        .map_err(|e| StartError::Alerts(e.to_string()))?;
    let alert_sender = alerts.sender();
    // Raised only once every component is up (the end of this function): a start that fails later
    // sends nothing.
    let mut startup_alerts = Vec::new();
    if restored {
        // The owner hears that the daemon came back, and with what.
        let open_positions = engine.portfolio().open_count();
        startup_alerts.push(Alert::recovery_summary(open_positions, pending_orders, SystemClock.now()));
    }
    // Critical alerts no remote channel delivered before the restart go out again.
    let resent = undelivered_alerts(&recovered.undelivered_alerts);
    let resent_count = resent.len();
    startup_alerts.extend(resent);
    let (alert_counters_tx, alert_counters) = watch::channel(alerts.counters());

    // The executor; the engine writes ahead through the store writer before it sees an order.
    let (executor, executor_tasks) =
        super::executors::choose_executor(&config, &store_handle, &recovered).map_err(StartError::Live)?;
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let EngineHandle { inputs, status, view, progress, task: engine_task } = spawn_engine_task(
        engine,
        executor,
        clock.clone(),
        config.daemon.engine_queue_capacity,
        events_tx,
        Some(Persistence {
            abort_after_write_ahead: abort_after_write_ahead(),
            ..Persistence::new(store_handle.clone(), Journal::new(source), cursor)
        }),
        intake.clone(),
    );
    supervisor.spawn(
        "engine",
        with_failpoint("engine", async move {
            let summary = engine_task
                .await
                .map_err(|e| TaskError::new(format!("engine task: {e}")))?
                .map_err(|e| TaskError::new(format!("engine: {e}")))?;
            tracing::info!(
                processed = summary.inputs_processed,
                drained = summary.drained_on_stop,
                reconciled = summary.orders_reconciled,
                "engine task ended"
            );
            Ok(())
        }),
    );

    // The recorder: engine events → metrics and alerts; its end lets the sinks finish.
    let mut recorder = Recorder::new(alert_sender.clone(), config_tx.subscribe(), view.clone());
    // Live mode: the redeemer takes the redemption requests the recorder hands on (each already
    // durable), and finishes those a restart left in the store.
    if let Some((requests, task)) =
        super::executors::start_redeemer(&config, &store_handle, &recovered, alert_sender.clone(), intake.clone())
            .map_err(StartError::Live)?
    {
        recorder = recorder.with_redemptions(requests);
        supervisor.spawn("redeemer", with_failpoint("redeemer", task));
    }
    let recorded = recorder.stats();
    let sinks_after_recorder = sinks.clone();
    supervisor.spawn(
        "recorder",
        with_failpoint("recorder", async move {
            let result = recorder.run(events_rx).await;
            sinks_after_recorder.cancel();
            result
        }),
    );
    supervisor.spawn(
        "alerts",
        with_failpoint("alerts", run_alerts(alerts, config_tx.subscribe(), alert_counters_tx, sinks.clone())),
    );

    // The executor's own tasks (live: execution reports back into the engine, kill-switch cancels).
    for (name, task) in
        executor_tasks.map(|start| start(inputs.clone(), status.clone(), intake.clone())).unwrap_or_default()
    {
        supervisor.spawn(name, with_failpoint(name, task));
    }

    // The feed. Books read from outside but refused (crossed, out of order, …) are counted in one
    // tally whichever feed reads them; the engine counts its own refusals.
    let book_refusals = SharedBookRefusals::new("feed");
    let feeds = match config.feed.source {
        FeedSource::Replay => {
            let replay_path = config.feed.replay_path.clone();
            let replay_speed = config.feed.replay_speed;
            let feed_inputs = inputs.clone();
            let feed_stop = intake.clone();
            let refusals = book_refusals.clone();
            supervisor.spawn(
                "feed",
                with_failpoint("feed", async move {
                    let report = run_replay_feed(
                        &replay_path,
                        replay_speed,
                        sim_clock,
                        feed_inputs,
                        feed_stop,
                        cursor,
                        refusals,
                    )
                    .await
                    .map_err(TaskError::new)?;
                    tracing::info!(?report, "replay feed stopped");
                    Ok(())
                }),
            );
            None
        }
        FeedSource::Polymarket => {
            let started = super::feeds::start_polymarket_feeds(super::feeds::FeedsStart {
                config: &config,
                recovered: &recovered,
                clock: clock.clone(),
                inputs: inputs.clone(),
                status: status.clone(),
                view: view.clone(),
                store: store_handle.clone(),
                refusals: book_refusals.clone(),
                stop: intake.clone(),
            })
            .map_err(|e| StartError::Feed(e.to_string()))?;
            for (name, task) in started.tasks {
                supervisor.spawn(name, with_failpoint(name, task));
            }
            Some(started.observed)
        }
    };
    // Live: the wallet's cash and positions, read on start and every reconcile interval.
    let wallet = start_wallet_reader(&config, &inputs, &intake, supervisor)?;
    // A replayed session brings its own timer ticks in simulated time; the wall-clock ticker then
    // only proves the engine alive (watchdog), so that wall time never changes a replay's outcome.
    let timer = match config.feed.source {
        FeedSource::Replay => Timer::Liveness,
        FeedSource::Polymarket => Timer::Ticks,
    };
    supervisor.spawn("ticker", with_failpoint("ticker", ticker(timer, inputs.clone(), intake.clone())));
    supervisor.spawn(
        "retention",
        with_failpoint(
            "retention",
            prune_periodically(store_handle.clone(), config.store.clone(), clock.clone(), intake.clone()),
        ),
    );

    // Health: system figures and component checks; a hold moves trading to Reducing.
    let engine_progress = ProgressTracker::new(SystemClock.now());
    let health_clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (health_config_tx, health_config_rx) = watch::channel(config.health.clone());
    let monitor = HealthMonitor::new(
        config.health.clone(),
        vec![
            WatchedDirectory::new("data", &config.daemon.data_dir),
            WatchedDirectory::new("logs", &config.logging.dir),
        ],
        health_clock.clone(),
    )
    .with_config_updates(health_config_rx);
    let monitor = match health_held {
        true => monitor
            .with_restored_hold("trading was held by health when the daemon last stopped (restored from the store)"),
        false => monitor,
    };
    register_checks(&monitor, &engine_progress, &store_handle, health_clock.clone())?;
    if let Some(feeds) = &feeds {
        register_feed_checks(
            &monitor,
            feeds,
            &config.polymarket.clob_url,
            config.polymarket.whale_feed.poll_interval(),
            health_clock,
        )
        .map_err(|e| StartError::Health(e.to_string()))?;
    }
    register_alert_channel_checks(&monitor, &config, &alert_counters)?;
    let reports = monitor.reports();
    let actions = monitor.actions();
    supervisor.spawn(
        "health-alerts",
        with_failpoint("health-alerts", health_alerts::run(monitor.reports(), alert_sender.clone(), sinks.clone())),
    );
    let monitor_stop = sinks.clone();
    supervisor.spawn(
        "health",
        with_failpoint("health", async move { monitor.run(monitor_stop).await.map_err(TaskError::new) }),
    );
    supervisor.spawn(
        "health-actions",
        with_failpoint("health-actions", apply_health(actions, inputs.clone(), intake.clone())),
    );

    // Observers: /status and /metrics read these.
    let observed = Observed {
        config: config_tx.subscribe(),
        engine: status,
        view,
        recorded,
        health: reports,
        alerts: alert_counters,
        feeds,
        store: store_view,
        book_refusals,
        wallet,
    };

    // The control API.
    if let Some(listener) = listener {
        let (control_tx, control_rx) = mpsc::channel(16);
        let state = ApiState {
            token: config.api.token.clone(),
            status: Arc::new({
                let observed = observed.clone();
                move || observe::status_json(&observed)
            }),
            health: Arc::new({
                let observed = observed.clone();
                move || observe::health_json(&observed)
            }),
            metrics: Arc::new({
                let observed = observed.clone();
                move || observe::metrics_text(&observed)
            }),
            control: control_tx,
            limits: Arc::new(api::ApiLimits::from_config(&config.api)),
        };
        let api_stop = intake.clone();
        supervisor.spawn(
            "api",
            with_failpoint("api", async move { api::serve(listener, state, api_stop).await.map_err(TaskError::new) }),
        );
        supervisor.spawn(
            "control",
            with_failpoint(
                "control",
                forward_control(control_rx, inputs.clone(), observed.engine.clone(), intake.clone()),
            ),
        );
    }

    // systemd watchdog, alert heartbeat and the health check of the engine loop all follow progress.
    supervisor.spawn(
        "watchdog",
        with_failpoint("watchdog", watchdog(systemd, progress, progress_tx, engine_progress, sinks.clone())),
    );
    supervisor.spawn(
        "config-reload",
        with_failpoint(
            "config-reload",
            apply_reloads(config_tx.subscribe(), inputs.clone(), health_config_tx, intake.clone()),
        ),
    );

    // Orders whose outcome a restart lost are reconciled before anything new: a replayed session
    // asks for it after its warm-up; live feeds have no warm-up, so it is the engine's first
    // message. Sent last, once every component is up: every other sender still waits at the
    // start barrier, so it is still first in the queue.
    if config.feed.source != FeedSource::Replay && inputs.try_send(EngineMsg::Reconcile { at: None }).is_err() {
        return Err(StartError::Store("the engine's queue refused the start-up reconciliation".into()));
    }
    if resent_count > 0 {
        tracing::warn!(count = resent_count, "sending again the critical alerts not delivered before the restart");
    }
    for alert in startup_alerts {
        alert_sender.raise(alert);
    }
    Ok(Wired { intake, alerts: alert_sender })
}

/// The wallet reader of a live daemon (none in paper and dry-run, which keep their own ledger).
#[cfg(feature = "live")]
fn start_wallet_reader(
    config: &Config,
    inputs: &mpsc::Sender<EngineMsg>,
    intake: &CancellationToken,
    supervisor: &mut Supervisor,
) -> Result<Option<watch::Receiver<super::wallet::WalletReaderStatus>>, StartError> {
    if config.daemon.mode != Mode::Live {
        return Ok(None);
    }
    let (task, status) =
        super::wallet::start_wallet_reader(config, inputs.clone(), intake.clone()).map_err(StartError::Live)?;
    supervisor.spawn("wallet", with_failpoint("wallet", task));
    Ok(Some(status))
}

#[cfg(not(feature = "live"))]
fn start_wallet_reader(
    _config: &Config,
    _inputs: &mpsc::Sender<EngineMsg>,
    _intake: &CancellationToken,
    _supervisor: &mut Supervisor,
) -> Result<Option<watch::Receiver<super::wallet::WalletReaderStatus>>, StartError> {
    // A build without the feature refused live mode at start-up already.
    Ok(None)
}

/// The alert dispatcher lives until `sinks` is cancelled, then drains. Meanwhile SIGHUP reloads its
/// settings and its counters are published for `/metrics`.
async fn run_alerts(
    alerts: AlertsHandle,
    mut config: watch::Receiver<Arc<Config>>,
    counters: watch::Sender<crate::alerts::AlertCountersSnapshot>,
    sinks: CancellationToken,
) -> TaskResult {
    let mut current = config.borrow().alerts.clone();
    let mut publish = tokio::time::interval(Duration::from_secs(1));
    let mut config_open = true;
    loop {
        tokio::select! {
            () = sinks.cancelled() => {
                alerts.join().await;
                tracing::info!("alert dispatcher stopped; queued alerts delivered or dead-lettered");
                return Ok(());
            }
            _ = publish.tick() => {
                counters.send_replace(alerts.counters());
            }
            changed = config.changed(), if config_open => {
                if changed.is_err() {
                    config_open = false;
                    continue;
                }
                let new = config.borrow_and_update().alerts.clone();
                if new != current {
                    alerts.update_config(new.clone());
                    current = new;
                }
            }
        }
    }
}

/// What the wall-clock ticker sends.
#[derive(Debug, Clone, Copy)]
enum Timer {
    /// Timer ticks: day roll-over, staleness, breaker cooldown (live feeds).
    Ticks,
    /// Only a sign of life for the watchdog (a replay ticks in simulated time itself).
    Liveness,
}

/// Sends a timer message every second. A tick is only a reminder, so a full queue skips it rather
/// than waiting.
async fn ticker(timer: Timer, inputs: mpsc::Sender<EngineMsg>, stop: CancellationToken) -> TaskResult {
    let mut interval = tokio::time::interval(TICK_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = interval.tick() => {
                let msg = match timer {
                    Timer::Ticks => EngineMsg::now(Input::Tick),
                    Timer::Liveness => EngineMsg::Liveness,
                };
                let _ = inputs.try_send(msg);
            }
        }
    }
}

/// Prunes decision-audit and seen-trade rows older than the `[store]` retention, at start and then
/// hourly, by the engine's clock (a replay prunes by its simulated time). Open positions, unfinished
/// orders and the seen trades behind them are never pruned (see the store).
async fn prune_periodically(
    store: StoreHandle,
    config: crate::store::StoreConfig,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) -> TaskResult {
    let mut interval = tokio::time::interval(PRUNE_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = interval.tick() => {
                let now = clock.now();
                if now.millis() <= 0 {
                    continue; // a replay that has not started has no time yet
                }
                if store.send(StoreCommand::Prune(config.retention_cutoffs(now))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

fn register_checks(
    monitor: &HealthMonitor,
    engine_progress: &ProgressTracker,
    store: &StoreHandle,
    clock: Arc<dyn Clock>,
) -> Result<(), StartError> {
    let health = |e: crate::health::HealthError| StartError::Health(e.to_string());
    let rule = FreshnessRule::within(Duration::from_secs(60), HealthStatus::Critical).map_err(health)?;
    monitor
        .registry()
        .register("engine", progress_check(engine_progress.clone(), "engine loop progress", rule, clock))
        .map_err(health)?;
    let store = store.clone();
    monitor
        .registry()
        .register("store", move || {
            let store = store.clone();
            async move {
                // A round trip through the writer: an empty atomic group resolves once committed.
                match store.flush().await {
                    Ok(()) => crate::health::ComponentHealth::healthy("store writer commits"),
                    Err(e) => crate::health::ComponentHealth::critical(format!("store: {e}")),
                }
            }
        })
        .map_err(health)?;
    Ok(())
}

/// One check per enabled alert channel: unhealthy when deliveries ended in the dead-letter file
/// since the previous check (a channel that fails for good is worth knowing about), healthy
/// otherwise, with the delivery count.
fn register_alert_channel_checks(
    monitor: &HealthMonitor,
    config: &Config,
    counters: &watch::Receiver<crate::alerts::AlertCountersSnapshot>,
) -> Result<(), StartError> {
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
        monitor
            .registry()
            .register(format!("alerts.{channel}"), move || {
                let snapshot = counters.borrow().channels.get(channel).cloned().unwrap_or_default();
                let before = seen_failures.swap(snapshot.dead_lettered, Ordering::Relaxed);
                let health = if snapshot.dead_lettered > before {
                    crate::health::ComponentHealth::unhealthy(format!(
                        "{} alert deliveries failed for good since the last check",
                        snapshot.dead_lettered - before
                    ))
                } else {
                    crate::health::ComponentHealth::healthy(format!("{} delivered", snapshot.delivered))
                };
                std::future::ready(health)
            })
            .map_err(|e| StartError::Health(e.to_string()))?;
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

/// Control API requests become engine inputs; the reply is sent once the engine has processed it.
async fn forward_control(
    mut requests: mpsc::Receiver<(ControlRequest, oneshot::Sender<ControlReply>)>,
    inputs: mpsc::Sender<EngineMsg>,
    mut status: watch::Receiver<crate::engine::EngineStatus>,
    stop: CancellationToken,
) -> TaskResult {
    loop {
        let (request, reply) = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            next = requests.recv() => match next {
                Some(next) => next,
                None => { stop.cancelled().await; return Ok(()); }
            },
        };
        let (control, message) = match request {
            ControlRequest::Halt { reason } => (Control::Halt { detail: reason }, "trading halted"),
            ControlRequest::Resume => {
                (Control::Resume { detail: "resumed via the control API".into() }, "resume requested")
            }
            ControlRequest::Kill { reason } => {
                (Control::Kill { detail: reason }, "kill switch engaged: closing every position")
            }
            ControlRequest::Close { position } => (Control::ClosePosition { trade_id: position }, "close requested"),
            ControlRequest::Adopt { token } => (Control::Adopt { token_id: token }, "adopt requested"),
            ControlRequest::Drop { trade } => (Control::Drop { trade_id: trade }, "drop requested"),
        };
        // The engine handles inputs in order: once it has processed as many inputs as were queued
        // ahead of ours plus ours, our request has been applied. Human commands are numbered too,
        // and only this task sends them, so the answer numbered after the last one seen is ours.
        let target = status.borrow().inputs_processed + (inputs.max_capacity() - inputs.capacity()) as u64 + 1;
        let seq = status.borrow().human_controls + 1;
        if inputs.send(EngineMsg::now(Input::Control(control))).await.is_err() {
            return Ok(());
        }
        let applied = tokio::time::timeout(
            Duration::from_secs(10),
            status.wait_for(|s| s.inputs_processed >= target && s.human_controls >= seq),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        let (state, answer) = {
            let now = status.borrow();
            (now.trading_state.as_str().to_string(), now.control_answer.clone().filter(|a| a.seq == seq))
        };
        let reply_body = match (applied, answer) {
            (true, Some(answer)) => {
                ControlReply { outcome: answer.outcome, message: answer.message, trading_state: state }
            }
            (true, None) => {
                ControlReply { outcome: ControlOutcome::Done, message: message.to_string(), trading_state: state }
            }
            (false, _) => ControlReply {
                outcome: ControlOutcome::Refused,
                message: "the engine did not apply the request in time".into(),
                trading_state: state,
            },
        };
        let _ = reply.send(reply_body);
    }
}

/// SIGHUP: a new valid config reaches the engine (risk limits, copy rules) and the health monitor
/// (thresholds); the alert task applies its own section.
async fn apply_reloads(
    mut config: watch::Receiver<Arc<Config>>,
    inputs: mpsc::Sender<EngineMsg>,
    health: watch::Sender<crate::config::HealthConfig>,
    stop: CancellationToken,
) -> TaskResult {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            changed = config.changed() => {
                if changed.is_err() {
                    stop.cancelled().await;
                    return Ok(());
                }
                let new = config.borrow_and_update().clone();
                health.send_replace(new.health.clone());
                if inputs.send(EngineMsg::now(Input::Control(Control::SetConfig(new)))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// `WHALE_TRADER_FAILPOINT=abort-after-write-ahead:<n>`, if set.
fn abort_after_write_ahead() -> Option<u64> {
    let value = std::env::var(FAILPOINT_ENV).ok()?;
    let count = value.strip_prefix("abort-after-write-ahead:")?.parse().ok()?;
    tracing::warn!(failpoint = %value, "the process will abort after the write-ahead of order {count} (test failpoint)");
    Some(count)
}

/// Wraps a task so that `WHALE_TRADER_FAILPOINT` can make it fail on purpose.
async fn with_failpoint<F>(name: &'static str, task: F) -> TaskResult
where
    F: std::future::Future<Output = TaskResult>,
{
    match std::env::var(FAILPOINT_ENV).ok().as_deref().and_then(|v| v.split_once(':')) {
        Some((kind, target)) if target == name => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if kind == "panic" {
                panic!("failpoint {FAILPOINT_ENV}={kind}:{name} triggered");
            }
            Err(TaskError::new(format!("failpoint {FAILPOINT_ENV}={kind}:{name} triggered")))
        }
        _ => task.await,
    }
}
