//! Which executor the engine gets (`daemon.mode`), and the refusal to trade live unless every
//! condition holds and this binary can.
//!
//! Live trading needs all four conditions of [`check_live_start`] (credentials, `mode = "live"`,
//! `run --live`, `WHALE_TRADER_LIVE_CONFIRM=yes`) and a build with the cargo feature `live`, which
//! brings the official SDK for EIP-712 order signing. A build without it refuses `mode = "live"`
//! at start-up and says how to get one.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::supervisor::TaskResult;
use crate::clock::Clock;
use crate::config::{Config, Mode};
use crate::engine::{
    DryRunExecutor, EngineMsg, EngineStatus, Executor, LIVE_CONFIRM_ENV, PaperExecutor, check_live_start,
};
use crate::store::{RecoveredState, StoreHandle};

/// Why this build cannot trade live.
pub const NO_LIVE_FEATURE: &str = "daemon.mode = \"live\" needs a build with the cargo feature `live` \
     (cargo build --release --features live); this binary was built without it";

/// The live preconditions: the feature first (nothing else matters without it), then every unmet
/// condition of [`check_live_start`], all named at once.
pub fn refuse_live_unless_ready(config: &Config, live_flag: bool) -> Result<(), String> {
    if !cfg!(feature = "live") && config.daemon.mode == Mode::Live {
        return Err(NO_LIVE_FEATURE.to_owned());
    }
    check_live_start(
        &config.polymarket.credentials.missing(),
        config.daemon.mode,
        live_flag,
        std::env::var(LIVE_CONFIRM_ENV).ok().as_deref(),
    )
    .map_err(|e| e.to_string())
}

/// Tasks that run beside the executor (only the live one has any).
pub type ExecutorTasks = Box<
    dyn FnOnce(
            mpsc::Sender<EngineMsg>,
            watch::Receiver<EngineStatus>,
            CancellationToken,
        ) -> Vec<(&'static str, BoxFuture<'static, TaskResult>)>
        + Send,
>;

/// The executor for `config.daemon.mode`, and its side tasks (to start once the engine runs).
pub fn choose_executor(
    config: &Config,
    store: &StoreHandle,
    recovered: &RecoveredState,
    clock: Arc<dyn Clock>,
) -> Result<(Box<dyn Executor>, Option<ExecutorTasks>), String> {
    match config.daemon.mode {
        Mode::DryRun => Ok((Box::new(DryRunExecutor), None)),
        Mode::Paper => Ok((Box::new(PaperExecutor::new(config.daemon.paper_extra_slippage_bps)), None)),
        Mode::Live => live_executor(config, store, recovered, clock),
    }
}

#[cfg(feature = "live")]
fn live_executor(
    config: &Config,
    store: &StoreHandle,
    recovered: &RecoveredState,
    clock: Arc<dyn Clock>,
) -> Result<(Box<dyn Executor>, Option<ExecutorTasks>), String> {
    use crate::live::{LiveExecutor, LiveSettings, LiveStart, StoreJournal};

    let sent_before = recovered
        .non_final_orders
        .iter()
        .filter_map(|o| Some((o.order.client_order_id.clone(), o.order.venue_order_id.clone()?)))
        .collect();
    let (executor, tasks) = LiveExecutor::new(LiveStart {
        polymarket: config.polymarket.clone(),
        journal: Arc::new(StoreJournal::new(store.clone())),
        clock,
        settings: LiveSettings::default(),
        sent_before,
    })
    .map_err(|e| e.to_string())?;
    let tasks: ExecutorTasks = Box::new(move |inputs, status, stop| tasks.into_tasks(inputs, status, stop));
    Ok((Box::new(executor), Some(tasks)))
}

#[cfg(not(feature = "live"))]
fn live_executor(
    _config: &Config,
    _store: &StoreHandle,
    _recovered: &RecoveredState,
    _clock: Arc<dyn Clock>,
) -> Result<(Box<dyn Executor>, Option<ExecutorTasks>), String> {
    Err(NO_LIVE_FEATURE.to_owned())
}
