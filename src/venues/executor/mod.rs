//! The plan executor at a crypto venue: [`VenuePlanExecutor`] takes the engine's plan orders
//! (already written ahead in the store) without making it wait, and one task per order carries
//! each out through [`VenueApi`]: rounded to the symbol's rules, sent once, followed by polling
//! until it is done (an entry still working after `entry_timeout_secs` is cancelled), cancelled
//! when the engine asks. Every change comes back to the engine as a cumulative
//! `Input::PlanReport`, over a queue that never drops one. After a restart, `reconcile` asks the
//! venue about each order by its client order id and follows it the same way; an order the venue
//! never received ends unfilled and is never sent.
//!
//! | file | job |
//! | --- | --- |
//! | `order.rs` | one order's life: rules, leverage, place, follow, cancel, reconcile |
//! | `quotes.rs` | the book tickers of the open plans' symbols, checked for sanity and age, into the engine |

mod order;
mod quotes;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, Timestamp};
use crate::config::Mode;
use crate::engine::io::Input;
use crate::engine::{EngineView, PlanExecutor};
use crate::plans::{PlanOrder, PlanOrderReport};
use crate::risk::WorkingPlanOrder;
use crate::runtime::executors::forward_reports;
use crate::runtime::{EngineMsg, TaskResult};

use super::client::VenueApi;
use super::config::VenueConfig;
use super::rules::SymbolRules;

pub use quotes::{QuoteCheck, QuoteRefusal, check_quote};

/// Timings and bounds of following orders and prices, from `[venues.<name>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorSettings {
    pub order_poll: Duration,
    pub entry_timeout: Duration,
    pub quote_poll: Duration,
    pub max_quote_age_ms: i64,
    pub max_spread_percent: Decimal,
    /// Hand the plan's stop and first target to the venue with the entry.
    pub venue_stops: bool,
}

impl ExecutorSettings {
    pub fn from_config(config: &VenueConfig) -> Self {
        Self {
            order_poll: Duration::from_millis(config.order_poll_ms),
            entry_timeout: Duration::from_secs(config.entry_timeout_secs),
            quote_poll: Duration::from_millis(config.quote_poll_ms),
            max_quote_age_ms: i64::try_from(config.max_quote_age_ms).unwrap_or(i64::MAX),
            max_spread_percent: config.max_spread_percent,
            venue_stops: config.venue_stops,
        }
    }
}

/// What every order task shares.
struct Shared<V> {
    api: V,
    mode: Mode,
    settings: ExecutorSettings,
    clock: Arc<dyn Clock>,
    /// Symbol rules read so far, by venue symbol.
    rules: Mutex<HashMap<String, SymbolRules>>,
    /// Symbols whose leverage was set in this run.
    leverage_set: Mutex<HashSet<String>>,
    /// Orders being followed, each with the token its task watches for a cancel.
    orders: Mutex<HashMap<String, CancellationToken>>,
    reports: mpsc::UnboundedSender<PlanOrderReport>,
}

impl<V> Shared<V> {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn orders(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts following `client_order_id`: its cancel token, made before the order's task is
    /// spawned so that a cancel asked before the task runs is kept.
    fn follow(&self, client_order_id: &str) -> CancellationToken {
        self.orders().entry(client_order_id.to_owned()).or_default().clone()
    }

    fn forget(&self, client_order_id: &str) {
        self.orders().remove(client_order_id);
    }

    fn report(&self, report: PlanOrderReport) {
        if self.reports.send(report).is_err() {
            tracing::error!("the engine no longer takes plan order reports; this one is only in the log");
        }
    }
}

/// See the module documentation.
pub struct VenuePlanExecutor<V: VenueApi> {
    shared: Arc<Shared<V>>,
    runtime: tokio::runtime::Handle,
}

/// The tasks beside the executor: reports into the engine's queue, and the prices of open plans.
pub struct VenueTasks<V: VenueApi> {
    shared: Arc<Shared<V>>,
    reports: mpsc::UnboundedReceiver<PlanOrderReport>,
}

/// The executor could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plan executor must be created inside the tokio runtime")]
pub struct NoRuntime;

impl<V: VenueApi> VenuePlanExecutor<V> {
    pub fn new(
        api: V,
        mode: Mode,
        settings: ExecutorSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, VenueTasks<V>), NoRuntime> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NoRuntime)?;
        let (reports, reports_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            api,
            mode,
            settings,
            clock,
            rules: Mutex::new(HashMap::new()),
            leverage_set: Mutex::new(HashSet::new()),
            orders: Mutex::new(HashMap::new()),
            reports,
        });
        Ok((Self { shared: shared.clone(), runtime }, VenueTasks { shared, reports: reports_rx }))
    }
}

impl<V: VenueApi> PlanExecutor for VenuePlanExecutor<V> {
    fn mode(&self) -> Mode {
        self.shared.mode
    }

    fn submit(&mut self, order: &PlanOrder, _now: Timestamp) {
        let cancel = self.shared.follow(&order.client_order_id);
        tracing::info!(
            event = "ORDER_SUBMITTED",
            venue = %self.shared.api.venue(),
            mode = %self.shared.mode,
            client_order_id = %order.client_order_id,
            plan = %order.plan_id,
            symbol = %order.symbol,
            kind = %order.kind,
            side = %order.side,
            units = %order.units,
            price = order.price.map_or_else(|| "market".to_owned(), |p| p.to_string()),
            "plan order handed to the venue"
        );
        self.runtime.spawn(order::place(self.shared.clone(), order.clone(), cancel));
    }

    fn cancel(&mut self, orders: &[WorkingPlanOrder], _now: Timestamp) {
        for order in orders {
            tracing::info!(order = %order.client_order_id, plan = %order.plan_id, "cancelling a plan order");
            // The order's task cancels it at the venue (or never sends it, if it has not yet); an
            // order no task follows any more has finished, and its report is on its way.
            if let Some(token) = self.shared.orders().get(&order.client_order_id) {
                token.cancel();
            }
        }
    }

    fn reconcile(&mut self, orders: &[WorkingPlanOrder], _now: Timestamp) {
        for order in orders {
            let cancel = self.shared.follow(&order.client_order_id);
            self.runtime.spawn(order::reconcile(self.shared.clone(), order.clone(), cancel));
        }
        self.runtime.spawn(order::survey(self.shared.clone(), orders.to_vec()));
    }
}

impl<V: VenueApi> VenueTasks<V> {
    /// The tasks to supervise: reports into `inputs` (waiting for room, never dropping one) and
    /// the price poller reading the open plans from `view`, until `stop`.
    pub fn into_tasks(
        self,
        inputs: mpsc::Sender<EngineMsg>,
        view: watch::Receiver<Arc<EngineView>>,
        stop: CancellationToken,
    ) -> Vec<(&'static str, BoxFuture<'static, TaskResult>)> {
        let Self { shared, reports } = self;
        vec![
            ("plan-reports", forward_reports(reports, inputs.clone(), stop.clone(), plan_report).boxed()),
            ("plan-venue-clock", keep_time(shared.clone(), stop.clone()).boxed()),
            ("plan-quotes", quotes::poll(shared, inputs, view, stop).boxed()),
        ]
    }
}

/// How often the venue's clock is read again (signed requests carry its time).
const TIME_SYNC_EVERY: Duration = Duration::from_secs(600);

/// Keeps the offset to the venue's clock: at start, then every [`TIME_SYNC_EVERY`] (a refusal for
/// a timestamp outside the window also resyncs, inside the client).
async fn keep_time<V: VenueApi>(shared: Arc<Shared<V>>, stop: CancellationToken) -> TaskResult {
    loop {
        match shared.api.sync_time().await {
            Ok(offset_ms) => tracing::info!(venue = %shared.api.venue(), offset_ms, "venue clock read"),
            Err(e) => tracing::warn!(venue = %shared.api.venue(), error = %e, "the venue's clock cannot be read now"),
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(TIME_SYNC_EVERY) => {}
        }
    }
}

/// A plan order's report as the engine takes it.
fn plan_report(report: PlanOrderReport) -> EngineMsg {
    EngineMsg::now(Input::PlanReport(Box::new(report)))
}
