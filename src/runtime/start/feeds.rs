//! What feeds the engine: the replayed session or the live Polymarket feeds, the wallet reader
//! (live), the timer and the store's retention.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{Config, FeedSource};
use crate::engine::Input;
use crate::market::SharedBookRefusals;
use crate::runtime::EngineMsg;
use crate::runtime::failpoints::with_failpoint;
use crate::runtime::feeds::{FeedsObserved, FeedsStart, start_polymarket_feeds};
use crate::runtime::replay_feed::run_replay_feed;
use crate::runtime::supervisor::{Supervisor, TaskError, TaskResult};
use crate::runtime::wallet::WalletReaderStatus;
use crate::store::{StoreCommand, StoreHandle};

use super::engine::EngineStart;
use super::store::StoreParts;
use super::{StartError, Stops};

/// How often the engine gets a timer tick (day roll-over, staleness, breaker cooldown).
const TICK_EVERY: Duration = Duration::from_secs(1);

/// How often old audit and seen-trade rows are pruned (`[store]` retention).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub(super) struct FeedsStarted {
    /// The live feeds' lag and staleness (`feed.source = "polymarket"`).
    pub observed: Option<FeedsObserved>,
    /// Books read from outside but refused (crossed, out of order, …), counted in one tally
    /// whichever feed reads them; the engine counts its own refusals.
    pub book_refusals: SharedBookRefusals,
    /// The wallet reader (live mode).
    pub wallet: Option<watch::Receiver<WalletReaderStatus>>,
}

pub(super) fn start(
    config: &Config,
    store: &StoreParts,
    engine: &EngineStart,
    supervisor: &mut Supervisor,
    stops: &Stops,
) -> Result<FeedsStarted, StartError> {
    let book_refusals = SharedBookRefusals::new("feed");
    let observed = match config.feed.source {
        FeedSource::Replay => {
            let (path, speed) = (config.feed.replay_path.clone(), config.feed.replay_speed);
            let (clock, inputs, stop) = (store.sim_clock.clone(), engine.inputs.clone(), stops.intake.clone());
            let (cursor, refusals) = (store.cursor, book_refusals.clone());
            supervisor.spawn(
                "feed",
                with_failpoint("feed", async move {
                    let report = run_replay_feed(&path, speed, clock, inputs, stop, cursor, refusals)
                        .await
                        .map_err(TaskError::new)?;
                    tracing::info!(lines = report.lines, sent = report.inputs, "replay feed stopped");
                    Ok(())
                }),
            );
            None
        }
        FeedSource::Polymarket => {
            let started = start_polymarket_feeds(FeedsStart {
                config,
                recovered: &store.recovered,
                clock: store.clock.clone(),
                inputs: engine.inputs.clone(),
                status: engine.status.clone(),
                view: engine.view.clone(),
                store: store.handle.clone(),
                refusals: book_refusals.clone(),
                stop: stops.intake.clone(),
            })?;
            for (name, task) in started.tasks {
                supervisor.spawn(name, with_failpoint(name, task));
            }
            Some(started.observed)
        }
    };
    // Live: the wallet's cash and positions, read on start and every reconcile interval.
    let wallet = start_wallet_reader(config, &engine.inputs, &stops.intake, supervisor)?;
    // A replayed session brings its own timer ticks in simulated time; the wall-clock ticker then
    // only proves the engine alive (watchdog), so that wall time never changes a replay's outcome.
    let timer = match config.feed.source {
        FeedSource::Replay => Timer::Liveness,
        FeedSource::Polymarket => Timer::Ticks,
    };
    supervisor.spawn("ticker", with_failpoint("ticker", ticker(timer, engine.inputs.clone(), stops.intake.clone())));
    supervisor.spawn(
        "retention",
        with_failpoint(
            "retention",
            prune_periodically(store.handle.clone(), config.store.clone(), store.clock.clone(), stops.intake.clone()),
        ),
    );
    Ok(FeedsStarted { observed, book_refusals, wallet })
}

/// The wallet reader of a live daemon (none in paper and dry-run, which keep their own ledger).
#[cfg(feature = "live")]
fn start_wallet_reader(
    config: &Config,
    inputs: &mpsc::Sender<EngineMsg>,
    intake: &CancellationToken,
    supervisor: &mut Supervisor,
) -> Result<Option<watch::Receiver<WalletReaderStatus>>, StartError> {
    if config.daemon.mode != crate::config::Mode::Live {
        return Ok(None);
    }
    let (task, status) = crate::runtime::wallet::start_wallet_reader(config, inputs.clone(), intake.clone())
        .map_err(|e| StartError::Live(e.into()))?;
    supervisor.spawn("wallet", with_failpoint("wallet", task));
    Ok(Some(status))
}

#[cfg(not(feature = "live"))]
fn start_wallet_reader(
    _config: &Config,
    _inputs: &mpsc::Sender<EngineMsg>,
    _intake: &CancellationToken,
    _supervisor: &mut Supervisor,
) -> Result<Option<watch::Receiver<WalletReaderStatus>>, StartError> {
    // A build without the feature refused live mode at start-up already.
    Ok(None)
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
    clock: std::sync::Arc<dyn Clock>,
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
