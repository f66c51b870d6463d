//! The store: opened for this mode and feed (the demo's state never leaks into a run on real
//! wallets), a damaged database refused before anything else starts, the engine resumed exactly
//! where its last durable checkpoint left it, and the writer task started.

use std::sync::Arc;

use crate::api::StoreView;
use crate::clock::{Clock, SimClock, SystemClock};
use crate::config::{Config, FeedSource};
use crate::domain::ReasonCode;
use crate::engine::{Engine, TracingAuditSink};
use crate::runtime::failpoints::with_failpoint;
use crate::runtime::recovery::{Resumed, resume_engine};
use crate::runtime::supervisor::{Supervisor, TaskError};
use crate::store::{RecoveredState, SqliteStore, Store, StoreHandle, spawn_writer};

use super::{StartError, Stops};

/// What the store hands the other subsystems.
pub(super) struct StoreParts {
    pub handle: StoreHandle,
    pub view: StoreView,
    pub recovered: RecoveredState,
    /// The engine's journal source: `replay:<path>` or `polymarket`.
    pub source: String,
    /// For a replayed session: the last message already applied (the feed resumes after it).
    pub cursor: Option<u64>,
    /// The engine's clock: simulated for a replayed session (the feed moves it), the system's
    /// otherwise.
    pub clock: Arc<dyn Clock>,
    pub sim_clock: SimClock,
    /// Whether the engine came from a checkpoint (false: a fresh start on an empty store).
    pub restored: bool,
    /// Trading held by health when the daemon stopped stays held until this run's health monitor
    /// judges the hold (it alone can release it).
    pub health_held: bool,
    /// Open positions and orders to reconcile, as restored (for the recovery alert).
    pub open_positions: usize,
    pub pending_orders: usize,
    /// The stored silences that may still be in force (the alert dispatcher applies them).
    pub silences: Vec<crate::alerts::Silence>,
}

pub(super) struct StoreStart {
    pub parts: StoreParts,
    /// The engine to run, as restored (moved into its task by the engine's builder).
    pub resumed: Engine,
}

pub(super) fn start(
    config: &Arc<Config>,
    supervisor: &mut Supervisor,
    stops: &Stops,
) -> Result<StoreStart, StartError> {
    let mode = config.daemon.mode;
    let mut store = SqliteStore::open_for(&config.store, mode, config.feed.source)?;
    let view = StoreView {
        path: store.path().display().to_string(),
        mode: mode.as_str().to_owned(),
        feed_source: config.feed.source.as_str().to_owned(),
    };
    tracing::info!(path = %view.path, mode = %mode, feed_source = %config.feed.source, "store opened");
    let recovered = store.load_recovery()?;
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
        resume_engine(config.clone(), Box::new(TracingAuditSink), &recovered, &source, clock.now())?;
    let pending_orders = engine.pending_orders().len();
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
    let silences = store.silences()?;
    let (handle, writer) = spawn_writer(store, (&config.store).into(), stops.sinks.clone())?;
    supervisor.spawn(
        "store-writer",
        with_failpoint("store-writer", async move {
            let stats = writer.join().await.map_err(TaskError::new)?;
            tracing::info!(
                transactions = stats.transactions,
                failed_transactions = stats.failed_transactions,
                commands_written = stats.commands_written,
                "store writer stopped; queued writes committed"
            );
            Ok(())
        }),
    );
    let parts = StoreParts {
        handle,
        view,
        recovered,
        source,
        cursor,
        clock,
        sim_clock,
        restored,
        health_held: engine.risk().reducing_holds().contains(&ReasonCode::HealthDegraded),
        open_positions: engine.portfolio().open_count(),
        pending_orders,
        silences,
    };
    Ok(StoreStart { parts, resumed: engine })
}
