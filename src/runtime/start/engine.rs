//! The engine: the executor for `daemon.mode` (writing ahead through the store before it sees an
//! order), the engine task around the synchronous step, and the recorder that turns the engine's
//! events into metrics and alerts (and, live, hands resolved markets to the redeemer).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::{mpsc, watch};

use crate::api::RecordingView;
use crate::config::Config;
use crate::engine::journal::Journal;
use crate::engine::{Engine, EngineStatus, EngineView};
use crate::runtime::executors::{choose_executor, choose_plan_executor, start_redeemer};
use crate::runtime::failpoints::with_failpoint;
use crate::runtime::plans::analytics_from_store;
use crate::runtime::recorder::{Recorder, SharedStats};
use crate::runtime::session_recorder::start_recording;
use crate::runtime::supervisor::{Supervisor, TaskError};
use crate::runtime::{EngineHandle, EngineMsg, Executors, Persistence, spawn_engine_task};
use crate::telemetry::{CopyTelemetry, TelemetrySender};

use super::alerts::AlertsStart;
use super::store::StoreParts;
use super::{StartError, Stops};

/// Capacity of the engine → recorder event queue (back-pressure beyond it, never drops).
const EVENT_QUEUE: usize = 4096;

pub(super) struct EngineStart {
    /// The engine's one input queue.
    pub inputs: mpsc::Sender<EngineMsg>,
    pub status: watch::Receiver<EngineStatus>,
    pub view: watch::Receiver<Arc<EngineView>>,
    /// Inputs processed so far (the watchdog checks that it moves).
    pub progress: Arc<AtomicU64>,
    /// What the recorder counted, for `/metrics`.
    pub recorded: SharedStats,
    /// `[record]`: the session recorder's state, for `status`.
    pub recording: Option<watch::Receiver<RecordingView>>,
}

/// Where the engine's events go besides the store: alerts (through the recorder) and telemetry
/// (from the engine task, never waiting).
pub(super) struct Outlets<'a> {
    pub alerts: &'a AlertsStart,
    pub telemetry: TelemetrySender,
}

pub(super) fn start(
    config: &Config,
    config_tx: &watch::Sender<Arc<Config>>,
    engine: Engine,
    store: &StoreParts,
    outlets: Outlets<'_>,
    supervisor: &mut Supervisor,
    stops: &Stops,
) -> Result<EngineStart, StartError> {
    let Outlets { alerts, telemetry } = outlets;
    let (executor, executor_tasks) = choose_executor(config, &store.handle, &store.recovered)?;
    // Trade plans' orders: a venue's testnet (paper) or production (live), or a dry run. Orders
    // carry real time (the venues check signed timestamps), whatever the feed's clock.
    let (plan_executor, plan_tasks) = choose_plan_executor(config, Arc::new(crate::clock::SystemClock))?;
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    // The session recorder: its writer ends after the engine task, once every line is flushed.
    let (recorder, recording) = if config.record.enabled {
        let started = start_recording(&config.record);
        let writer = started.writer;
        let intake = stops.intake.clone();
        supervisor.spawn(
            "session_recorder",
            with_failpoint("session_recorder", async move {
                let ended = match writer {
                    Some(writer) => writer.await.map_err(|e| TaskError::new(format!("session recorder: {e}"))),
                    None => Ok(()),
                };
                // A recorder stopped by a write error has said so; the daemon trades on without it
                // until its stop, which is when this task ends.
                intake.cancelled().await;
                ended
            }),
        );
        (started.recorder, Some(started.status))
    } else {
        (None, None)
    };
    let EngineHandle { inputs, status, view, progress, task } = spawn_engine_task(
        engine,
        Executors { orders: executor, plans: plan_executor },
        store.clock.clone(),
        config.daemon.engine_queue_capacity,
        events_tx,
        Some(
            Persistence::new(store.handle.clone(), Journal::new(store.source.clone()), store.cursor)
                .with_recording(recorder)
                .with_telemetry(CopyTelemetry::new(telemetry)),
        ),
        stops.intake.clone(),
    );
    supervisor.spawn(
        "engine",
        with_failpoint("engine", async move {
            let summary = task
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
    let mut recorder = Recorder::new(alerts.sender.clone(), config_tx.subscribe(), view.clone());
    match analytics_from_store(std::path::Path::new(&store.view.path), config.store.busy_timeout()) {
        Ok(history) => recorder = recorder.with_signal_history(history),
        Err(e) => tracing::warn!(error = %e, "the plans' history cannot be read; the signal analytics start from zero"),
    }
    // Live mode: the redeemer takes the redemption requests the recorder hands on (each already
    // durable), and finishes those a restart left in the store.
    let redeemer =
        start_redeemer(config, &store.handle, &store.recovered, alerts.sender.clone(), stops.intake.clone())?;
    if let Some((requests, task)) = redeemer {
        recorder = recorder.with_redemptions(requests);
        supervisor.spawn("redeemer", with_failpoint("redeemer", task));
    }
    let recorded = recorder.stats();
    let sinks = stops.sinks.clone();
    supervisor.spawn(
        "recorder",
        with_failpoint("recorder", async move {
            let result = recorder.run(events_rx).await;
            sinks.cancel();
            result
        }),
    );

    // The executor's own tasks (live: execution reports back into the engine).
    for (name, task) in executor_tasks.map(|start| start(inputs.clone(), stops.intake.clone())).unwrap_or_default() {
        supervisor.spawn(name, with_failpoint(name, task));
    }
    let plan_tasks = plan_tasks.map(|start| start(inputs.clone(), view.clone(), stops.intake.clone()));
    for (name, task) in plan_tasks.unwrap_or_default() {
        supervisor.spawn(name, with_failpoint(name, task));
    }
    Ok(EngineStart { inputs, status, view, progress, recorded, recording })
}
