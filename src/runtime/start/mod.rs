//! Start-up: builds the daemon's tasks from the configuration and connects them.
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
//! [`start`] reads as the runbook: each subsystem has one small builder here ([`store`],
//! [`alerts`], [`telemetry`], [`engine`], [`feeds`], [`health`], [`control`]) that spawns its tasks under the
//! supervisor and hands back what the later ones need, and fails with its own typed error.
//!
//! Stop order: the `intake` token stops the sources, the API and the engine (which drains its
//! queue); when the engine's event stream ends, the recorder drains it and cancels `sinks`, so the
//! store writer, the alert dispatcher and the health monitor finish last.

mod alerts;
mod control;
mod engine;
mod feeds;
mod health;
mod store;
mod telemetry;

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::EngineMsg;
use super::executors::{LiveUnavailable, refuse_live_unless_ready};
use super::observe::Observed;
use super::supervisor::Supervisor;
use super::systemd::Systemd;
use crate::alerts::{Alert, AlertSender};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, FeedSource, Mode};

/// Why the daemon could not start; nothing was decided or sent.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("live trading refused: {0}")]
    Live(#[from] LiveUnavailable),
    #[error("{0}")]
    PlanVenue(#[from] super::executors::PlanVenueUnavailable),
    #[error("the control API cannot start: {0}")]
    Api(#[from] crate::api::ApiError),
    #[error("the store cannot be used: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the store cannot be used: {0}")]
    Recovery(#[from] super::recovery::RecoveryError),
    #[error("the alert dispatcher cannot start: {0}")]
    Alerts(#[from] crate::alerts::AlertError),
    #[error("the health monitor cannot start: {0}")]
    Health(#[from] crate::health::HealthError),
    #[error("feed.source = \"polymarket\": {0}")]
    Feed(#[from] super::feeds::FeedsError),
    #[error("telemetry cannot start: {0}")]
    TelemetryFile(#[from] crate::telemetry::exporters::JsonlError),
    #[error("telemetry cannot start: {0}")]
    TelemetrySink(#[from] crate::telemetry::exporters::HttpSinkError),
    #[error("the engine's queue refused the start-up reconciliation")]
    EngineQueue,
}

impl StartError {
    /// A refusal to trade live is a usage or configuration problem (exit 2: restarting cannot fix
    /// it); anything else is a runtime failure (exit 1).
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Live(_) => crate::cli::exit::BAD_CONFIG,
            StartError::PlanVenue(super::executors::PlanVenueUnavailable::Executor(_)) => crate::cli::exit::FAILURE,
            StartError::PlanVenue(_) => crate::cli::exit::BAD_CONFIG,
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

/// The two stop tokens every builder hands its tasks.
#[derive(Clone)]
struct Stops {
    /// Sources, the control API and the engine: cancelled first.
    intake: CancellationToken,
    /// The store writer, alerts and health: cancelled once the engine's events are recorded.
    sinks: CancellationToken,
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
    let stops = Stops { intake: CancellationToken::new(), sinks: CancellationToken::new() };
    let started = start_tasks(config_tx, live, supervisor, systemd, &stops).await;
    if started.is_err() {
        stops.intake.cancel();
        stops.sinks.cancel();
    }
    started
}

async fn start_tasks(
    config_tx: &watch::Sender<Arc<Config>>,
    live: bool,
    supervisor: &mut Supervisor,
    systemd: Systemd,
    stops: &Stops,
) -> Result<Wired, StartError> {
    let config = config_tx.borrow().clone();
    if config.daemon.mode == Mode::Live || live {
        refuse_live_unless_ready(&config, live)?;
    }

    // The control API's port first: taken by something else, the start fails before the store is
    // opened or anything else is built.
    let listener = control::bind(&config).await?;

    // The store of this mode and feed, and the engine resumed exactly where its last durable
    // checkpoint left it.
    let store = store::start(&config, supervisor, stops)?;

    // Alerts, with the heartbeat driven by engine progress; what start-up itself has to say is
    // raised only once every component is up (a start that fails later sends nothing).
    let alerts = alerts::start(&config, config_tx, &store.parts, supervisor, stops)?;

    // Telemetry's queue and exporters: the engine task emits on it, never waiting.
    let telemetry = telemetry::start(&config, &alerts, supervisor, stops)?;

    // The executor, the engine task and the recorder behind it.
    let outlets = engine::Outlets { alerts: &alerts, telemetry: telemetry.clone() };
    let engine = engine::start(&config, config_tx, store.resumed, &store.parts, outlets, supervisor, stops)?;

    // What feeds the engine: the session or the live feeds, the wallet (live), the timers.
    let feeds = feeds::start(&config, &store.parts, &engine, supervisor, stops)?;

    // Health: system figures and component checks; a hold moves trading to Reducing.
    let health = health::start(&config, &store.parts, &engine, &feeds, &alerts, supervisor, stops)?;

    // Observers: /status and /metrics read these.
    let observed = Observed {
        config: config_tx.subscribe(),
        engine: engine.status.clone(),
        view: engine.view.clone(),
        recorded: engine.recorded.clone(),
        health: health.reports,
        alerts: alerts.counters.clone(),
        feeds: feeds.observed,
        store: store.parts.view.clone(),
        book_refusals: feeds.book_refusals,
        wallet: feeds.wallet,
        recording: engine.recording.clone(),
        telemetry: telemetry.is_enabled().then(|| telemetry.counters()),
    };

    // The control API, the watchdog and SIGHUP reloads.
    control::start(control::ControlStart {
        config: &config,
        config_tx,
        listener,
        observed,
        engine: &engine,
        health_config: health.config_updates,
        engine_progress: health.engine_progress,
        progress: alerts.progress,
        silences: alerts.silences.clone(),
        alerts: alerts.sender.clone(),
        systemd,
        supervisor,
        stops,
    });

    // Orders whose outcome a restart lost are reconciled before anything new: a replayed session
    // asks for it after its warm-up; live feeds have no warm-up, so it is the engine's first
    // message. Sent last, once every component is up: every other sender still waits at the
    // start barrier, so it is still first in the queue.
    if config.feed.source != FeedSource::Replay && engine.inputs.try_send(EngineMsg::Reconcile { at: None }).is_err() {
        return Err(StartError::EngineQueue);
    }
    alerts.startup.raise(&alerts.sender);
    Ok(Wired { intake: stops.intake.clone(), alerts: alerts.sender })
}
