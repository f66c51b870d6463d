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
use crate::alerts::AlertSender;
use crate::clock::Clock;
use crate::config::{Config, FeedSource, Mode};
use crate::engine::{
    DryRunExecutor, DryRunPlanExecutor, EngineView, Executor, LIVE_CONFIRM_ENV, LiveRefusal, LiveStartError,
    PaperExecutor, PlanExecutor, RedemptionRequest, check_live_start,
};
use crate::runtime::EngineMsg;
use crate::store::{RecoveredState, StoreHandle};
use crate::venues::binance::BinanceClient;
use crate::venues::bybit::BybitClient;
use crate::venues::executor::{ExecutorSettings, VenuePlanExecutor};
use crate::venues::{VenueApi, VenueConfig, VenueKind, VenueRefusal};

/// Why the daemon does not trade live: a configuration, environment or build problem that a
/// restart cannot fix (exit 2), or a live component that cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum LiveUnavailable {
    #[error(
        "daemon.mode = \"live\" needs a build with the cargo feature `live` \
         (cargo build --release --features live); this binary was built without it"
    )]
    NoLiveFeature,
    #[error(transparent)]
    Refused(#[from] LiveStartError),

    /// Real orders from a replayed session would trade real money on recorded prices.
    #[error(
        "daemon.mode = \"live\" needs feed.source = \"polymarket\": \
         a replayed session would send real orders on recorded prices"
    )]
    ReplayedFeed,
    #[cfg(feature = "live")]
    #[error(transparent)]
    Executor(#[from] crate::live::LiveError),
    #[cfg(feature = "live")]
    #[error("redeemer: {0}")]
    Redeemer(#[from] crate::live::redeem::RedeemError),
    #[cfg(feature = "live")]
    #[error("wallet reader: {0}")]
    WalletReader(#[from] super::wallet::WalletReaderError),
}

/// The live preconditions: the feature first (nothing else matters without it), then every unmet
/// condition of [`check_live_start`], all named at once.
pub fn refuse_live_unless_ready(config: &Config, live_flag: bool) -> Result<(), LiveUnavailable> {
    live_refusal(
        cfg!(feature = "live"),
        config.daemon.mode,
        &config.polymarket.credentials.missing(),
        live_flag,
        std::env::var(LIVE_CONFIRM_ENV).ok().as_deref(),
        plan_venue_refusals(config, true),
    )?;
    if config.feed.source != FeedSource::Polymarket {
        return Err(LiveUnavailable::ReplayedFeed);
    }
    Ok(())
}

/// [`refuse_live_unless_ready`] with the build and the environment as parameters (testable in
/// either build).
fn live_refusal(
    built_with_live: bool,
    mode: Mode,
    missing_credentials: &[&'static str],
    live_flag: bool,
    confirm: Option<&str>,
    venue: Vec<VenueRefusal>,
) -> Result<(), LiveUnavailable> {
    if !built_with_live && mode == Mode::Live {
        return Err(LiveUnavailable::NoLiveFeature);
    }
    let mut refusals =
        check_live_start(missing_credentials, mode, live_flag, confirm).err().map(|e| e.0).unwrap_or_default();
    if mode == Mode::Live {
        refusals.extend(venue.into_iter().map(LiveRefusal::Venue));
    }
    if refusals.is_empty() { Ok(()) } else { Err(LiveStartError(refusals).into()) }
}

/// What keeps `signals.venue` from trading in the daemon's mode (`live` or paper); nothing when
/// plans go to no venue.
fn plan_venue_refusals(config: &Config, live: bool) -> Vec<VenueRefusal> {
    config.signals.venue.kind().map(|venue| config.venues.get(venue).refusals(venue, live)).unwrap_or_default()
}

/// Why trade plans cannot go to `signals.venue`: a configuration problem a restart cannot fix
/// (exit 2), named in full.
#[derive(Debug, thiserror::Error)]
pub enum PlanVenueUnavailable {
    /// Every reason the venue cannot be used in the daemon's mode (paper; in live mode they are
    /// named with the other live conditions before anything starts).
    #[error("trade plans cannot go to their venue: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NotReady(Vec<VenueRefusal>),
    #[error("trade plans' venue: {0}")]
    Client(#[from] crate::venues::VenueError),
    #[error("trade plans' executor: {0}")]
    Executor(#[from] crate::venues::executor::NoRuntime),
}

/// Tasks that run beside a venue's plan executor: its reports into the engine's queue, the prices
/// of the open plans (read from the engine's view) and the venue's clock.
pub type PlanExecutorTasks = Box<
    dyn FnOnce(
            mpsc::Sender<EngineMsg>,
            watch::Receiver<Arc<EngineView>>,
            CancellationToken,
        ) -> Vec<(&'static str, BoxFuture<'static, TaskResult>)>
        + Send,
>;

/// The plan executor for `signals.venue` in the daemon's mode: a dry run without a venue or in
/// `dry-run` mode, the venue's testnet in `paper`, production in `live` (armed like copy trading).
pub fn choose_plan_executor(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<(Box<dyn PlanExecutor>, Option<PlanExecutorTasks>), PlanVenueUnavailable> {
    let mode = config.daemon.mode;
    let Some(venue) = config.signals.venue.kind().filter(|_| mode != Mode::DryRun) else {
        return Ok((Box::new(DryRunPlanExecutor), None));
    };
    // Live refusals were named with the rest before anything started.
    let refusals = plan_venue_refusals(config, mode == Mode::Live);
    if !refusals.is_empty() {
        return Err(PlanVenueUnavailable::NotReady(refusals));
    }
    let settings = config.venues.get(venue);
    tracing::info!(
        %venue,
        market = %settings.market,
        %mode,
        url = settings.base_url(venue),
        "trade plans go to {venue} ({})",
        if settings.testnet { "testnet" } else { "production" }
    );
    match venue {
        VenueKind::Binance => venue_executor(BinanceClient::new(settings, clock.clone())?, mode, settings, clock),
        VenueKind::Bybit => venue_executor(BybitClient::new(settings, clock.clone())?, mode, settings, clock),
    }
}

fn venue_executor<V: VenueApi>(
    api: V,
    mode: Mode,
    settings: &VenueConfig,
    clock: Arc<dyn Clock>,
) -> Result<(Box<dyn PlanExecutor>, Option<PlanExecutorTasks>), PlanVenueUnavailable> {
    let (executor, tasks) = VenuePlanExecutor::new(api, mode, ExecutorSettings::from_config(settings), clock)?;
    let tasks: PlanExecutorTasks = Box::new(move |inputs, view, stop| tasks.into_tasks(inputs, view, stop));
    Ok((Box::new(executor), Some(tasks)))
}

/// Tasks that run beside the executor (only the live one has any).
pub type ExecutorTasks = Box<
    dyn FnOnce(mpsc::Sender<EngineMsg>, CancellationToken) -> Vec<(&'static str, BoxFuture<'static, TaskResult>)>
        + Send,
>;

/// The executor for `config.daemon.mode`, and its side tasks (to start once the engine runs).
pub fn choose_executor(
    config: &Config,
    store: &StoreHandle,
    recovered: &RecoveredState,
) -> Result<(Box<dyn Executor>, Option<ExecutorTasks>), LiveUnavailable> {
    match config.daemon.mode {
        Mode::DryRun => Ok((Box::new(DryRunExecutor), None)),
        Mode::Paper => Ok((Box::new(PaperExecutor::new(config.daemon.paper_extra_slippage_bps)), None)),
        Mode::Live => live_executor(config, store, recovered),
    }
}

#[cfg(feature = "live")]
fn live_executor(
    config: &Config,
    store: &StoreHandle,
    recovered: &RecoveredState,
) -> Result<(Box<dyn Executor>, Option<ExecutorTasks>), LiveUnavailable> {
    use crate::live::{LiveExecutor, LiveSettings, LiveStart, StoreJournal};

    let sent_before = recovered
        .non_final_orders
        .iter()
        .filter_map(|o| Some((o.order.client_order_id.clone(), o.order.venue_order_id.clone()?)))
        .collect();
    let (executor, tasks) = LiveExecutor::new(LiveStart {
        polymarket: config.polymarket.clone(),
        journal: Arc::new(StoreJournal::new(store.clone())),
        // Orders carry real time (the L2 timestamp, the order's own), whatever the feed's clock.
        clock: Arc::new(crate::clock::SystemClock),
        settings: LiveSettings::default(),
        sent_before,
    })?;
    let tasks: ExecutorTasks = Box::new(move |inputs, stop| tasks.into_tasks(inputs, stop));
    Ok((Box::new(executor), Some(tasks)))
}

#[cfg(not(feature = "live"))]
fn live_executor(
    _config: &Config,
    _store: &StoreHandle,
    _recovered: &RecoveredState,
) -> Result<(Box<dyn Executor>, Option<ExecutorTasks>), LiveUnavailable> {
    Err(LiveUnavailable::NoLiveFeature)
}

/// The redeemer (live mode): its queue, for the recorder, and its task. Other modes hold no tokens.
pub type RedeemerParts = (mpsc::Sender<RedemptionRequest>, BoxFuture<'static, TaskResult>);

/// Starts the redeemer when the daemon trades live, with the redemptions a restart left unfinished.
pub fn start_redeemer(
    config: &Config,
    store: &StoreHandle,
    recovered: &RecoveredState,
    alerts: AlertSender,
    stop: CancellationToken,
) -> Result<Option<RedeemerParts>, LiveUnavailable> {
    if config.daemon.mode != Mode::Live {
        return Ok(None);
    }
    live_redeemer(config, store, recovered, alerts, stop).map(Some)
}

#[cfg(feature = "live")]
fn live_redeemer(
    config: &Config,
    store: &StoreHandle,
    recovered: &RecoveredState,
    alerts: AlertSender,
    stop: CancellationToken,
) -> Result<RedeemerParts, LiveUnavailable> {
    use futures::FutureExt;

    use crate::live::redeem::{Redeemer, RedeemerStart};

    /// Requests waiting for the redeemer: each is one resolved market, and the redeemer takes them
    /// off the queue between transactions (it works from its own list), so the recorder waits only
    /// if hundreds of markets resolve within one transaction's time.
    const REDEMPTION_QUEUE: usize = 256;

    let redeemer = Redeemer::new(RedeemerStart {
        polymarket: config.polymarket.clone(),
        store: store.clone(),
        alerts: Arc::new(move |alert| {
            alerts.raise(alert);
        }),
        clock: Arc::new(crate::clock::SystemClock),
        open: recovered.open_redemptions.clone(),
    })?;
    let (tx, rx) = mpsc::channel(REDEMPTION_QUEUE);
    Ok((tx, redeemer.run(rx, stop).boxed()))
}

#[cfg(not(feature = "live"))]
fn live_redeemer(
    _config: &Config,
    _store: &StoreHandle,
    _recovered: &RecoveredState,
    _alerts: AlertSender,
    _stop: CancellationToken,
) -> Result<RedeemerParts, LiveUnavailable> {
    Err(LiveUnavailable::NoLiveFeature)
}

/// Hands an executor's reports to the engine's queue in order, waiting for room (a report is never
/// dropped while the engine runs); on stop, what already arrived is still offered while the
/// engine drains, and one that finds no room is left to the next start's reconciliation.
pub async fn forward_reports<T>(
    mut reports: mpsc::UnboundedReceiver<T>,
    inputs: mpsc::Sender<EngineMsg>,
    stop: CancellationToken,
    wrap: impl Fn(T) -> EngineMsg,
) -> TaskResult {
    loop {
        let report = tokio::select! {
            () = stop.cancelled() => break,
            report = reports.recv() => report,
        };
        let Some(report) = report else { break };
        if inputs.send(wrap(report)).await.is_err() {
            break;
        }
    }
    while let Ok(report) = reports.try_recv() {
        if inputs.try_send(wrap(report)).is_err() {
            tracing::warn!("an execution report arrived after the engine stopped; the next start reconciles it");
        }
    }
    stop.cancelled().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_without_the_feature_refuses_live_naming_it_before_anything_else() {
        let refused = live_refusal(false, Mode::Live, &[], true, Some("yes"), vec![]);
        assert!(matches!(refused, Err(LiveUnavailable::NoLiveFeature)), "{refused:?}");
        let said = LiveUnavailable::NoLiveFeature.to_string();
        assert!(said.contains("cargo feature `live`") && said.contains("--features live"), "{said}");
        // `--live` on a paper config is refused for what it is, in any build.
        let paper = live_refusal(false, Mode::Paper, &[], true, Some("yes"), vec![]).unwrap_err().to_string();
        assert!(paper.contains("daemon.mode = \"paper\""), "{paper}");
    }

    #[test]
    fn a_live_build_starts_only_when_all_four_conditions_hold() {
        assert!(live_refusal(true, Mode::Live, &[], true, Some("yes"), vec![]).is_ok());
        let venue = vec![VenueRefusal::TestnetInLive { venue: VenueKind::Bybit }];
        let refused = live_refusal(true, Mode::Live, &["private_key"], false, None, venue).unwrap_err().to_string();
        for named in ["private_key", "--live flag", "WHALE_TRADER_LIVE_CONFIRM", "BYBIT_TESTNET=false"] {
            assert!(refused.contains(named), "{named:?} not in {refused}");
        }
    }
}
