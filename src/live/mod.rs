//! The live executor (cargo feature `live`): real orders on the Polymarket CLOB V2.
//!
//! The engine's [`Executor`] trait is synchronous and the engine task must never wait for the
//! network, so `submit` only prepares the order (or refuses it at once, e.g. no book, price off the
//! tick) and hands it to its own tokio task, which signs it (EIP-712 through the official SDK),
//! records its venue id durably, posts it once as FAK with L2 authentication to
//! `polymarket.clob_url`, follows it to its end and sends the outcome back into the engine's queue
//! as `Input::Execution`. `reconcile` asks the venue about an order whose outcome was lost, by the
//! venue id recorded before it was sent, and never sends it again.
//!
//! | file | job |
//! | --- | --- |
//! | `order.rs` | intent + book → unsigned V2 order (pure) |
//! | `journal.rs` | the venue id, durable before the order is sent (the store, or memory in tests) |
//! | `venue.rs` | one order's life: sign, record, post, follow, cancel; reconcile |
//! | `outcome.rs` | venue answers → execution reports, fees by the market's curve (pure) |
//! | `redeem/` | the redeemer: a resolved market's winning shares redeemed on chain (JSON-RPC) |
//!
//! Beside the executor the daemon runs [`LiveTasks`]: the reports into the engine's queue. The
//! engine's cancels on a kill (the entries still working) come through [`Executor::cancel`]: each
//! is cancelled at the venue (`DELETE /order`), or marked so that it is never sent if its task has
//! not sent it yet. Exits keep going: the kill's own exits flatten the positions.

mod journal;
mod order;
mod outcome;
pub mod redeem;
mod venue;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use journal::{MemoryJournal, OrderJournal, SentOrder, StoreJournal};
pub use order::{OrderIdentity, PreparedOrder, prepare};
pub use outcome::{VenueFill, VenueStatus};

use crate::clock::{Clock, Timestamp};
use crate::config::Mode;
use crate::domain::ClientOrderId;
use crate::engine::{ExecutionReport, Executor, MarketView};
use crate::polymarket::{
    ClobTradingClient, L2Credentials, OrderError, OrderSigner, PolymarketConfig, SignError, TradingError,
};
use crate::risk::{Approved, OrderIntent};
use crate::runtime::EngineMsg;
use crate::runtime::TaskResult;
use crate::runtime::executors::forward_reports;

/// Why the live executor cannot start, or why one order was refused before it was sent.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LiveError {
    #[error("no book of the order's token has arrived: the token cannot be named to the venue")]
    NoBook,
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Trading(#[from] TradingError),
    #[error(
        "polymarket.credentials.signature_type = 3: deposit wallets (POLY_1271) are not supported by this build's signer"
    )]
    DepositWallet,
    #[error("polymarket.credentials.funder_address = ***: must be 0x followed by 40 hex digits")]
    BadFunder,
    #[error("the live executor must be created inside the tokio runtime")]
    NoRuntime,
}

/// Timings of following an order; the defaults suit the real venue, tests shrink them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSettings {
    /// First wait between two status reads of a working order.
    pub status_poll: Duration,
    /// Longest wait between two status reads (the wait doubles after each read).
    pub max_status_backoff: Duration,
    /// An FAK order still working after this long is cancelled (under the async pipeline an FAK
    /// can come back `live` / `delayed`).
    pub max_resting: Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            status_poll: Duration::from_millis(500),
            max_status_backoff: Duration::from_secs(30),
            max_resting: Duration::from_secs(10),
        }
    }
}

/// What the executor knows of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tracked {
    venue_order_id: Option<String>,
    is_entry: bool,
    cancel_requested: bool,
}

impl Tracked {
    fn sent(venue_order_id: String, is_entry: bool) -> Self {
        Self { venue_order_id: Some(venue_order_id), is_entry, cancel_requested: false }
    }
}

/// The parts every order task shares.
struct Shared {
    client: ClobTradingClient,
    signer: OrderSigner,
    identity: OrderIdentity,
    /// The API key (`owner` of every order).
    owner: String,
    journal: Arc<dyn OrderJournal>,
    clock: Arc<dyn Clock>,
    settings: LiveSettings,
    /// Orders in flight (and, after a restart, orders the store says were sent), by client order id.
    orders: Mutex<HashMap<ClientOrderId, Tracked>>,
    reports: mpsc::UnboundedSender<ExecutionReport>,
}

impl Shared {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn orders(&self) -> std::sync::MutexGuard<'_, HashMap<ClientOrderId, Tracked>> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the venue id (keeping a cancel already asked for).
    fn track(&self, id: ClientOrderId, tracked: Tracked) {
        let mut orders = self.orders();
        let cancel = orders.get(&id).is_some_and(|t| t.cancel_requested);
        orders.insert(id, Tracked { cancel_requested: cancel, ..tracked });
    }

    fn venue_id(&self, id: ClientOrderId) -> Option<String> {
        self.orders().get(&id).and_then(|t| t.venue_order_id.clone())
    }

    fn cancel_requested(&self, id: ClientOrderId) -> bool {
        self.orders().get(&id).is_some_and(|t| t.cancel_requested)
    }

    /// The order is over: forget it and tell the engine.
    async fn finish(&self, id: ClientOrderId, report: ExecutionReport) {
        self.orders().remove(&id);
        tracing::info!(
            order = %id,
            filled = %report.filled_size,
            avg_price = %report.avg_price,
            fee = %report.fee,
            note = report.note.as_deref().unwrap_or(""),
            "live order finished"
        );
        if self.reports.send(report).is_err() {
            tracing::error!(order = %id, "the engine no longer takes execution reports; this outcome is only in the log");
        }
    }

    /// Of `ids`, the orders still followed and not yet asked to cancel: marked so that none is sent
    /// any more, each with its venue id once it has one.
    fn mark_for_cancel(&self, ids: &[ClientOrderId]) -> Vec<(ClientOrderId, Option<String>)> {
        let mut orders = self.orders();
        ids.iter()
            .filter_map(|id| {
                let tracked = orders.get_mut(id).filter(|t| !t.cancel_requested)?;
                tracked.cancel_requested = true;
                Some((*id, tracked.venue_order_id.clone()))
            })
            .collect()
    }
}

/// Everything the live executor needs at start.
pub struct LiveStart {
    pub polymarket: PolymarketConfig,
    pub journal: Arc<dyn OrderJournal>,
    pub clock: Arc<dyn Clock>,
    pub settings: LiveSettings,
    /// Orders sent before a restart whose outcome the engine may ask about: client order id text
    /// (`order#7`) → venue order id, from the store's recovery.
    pub sent_before: Vec<(String, String)>,
}

/// Real orders on the CLOB.
pub struct LiveExecutor {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
}

/// The tasks that run beside the live executor.
pub struct LiveTasks {
    reports: mpsc::UnboundedReceiver<ExecutionReport>,
}

impl LiveExecutor {
    /// Checks the credentials, derives the signer's address from the private key, and builds the
    /// L2 client for `polymarket.clob_url`. Secrets stay in `Secret`s and are never logged.
    pub fn new(start: LiveStart) -> Result<(Self, LiveTasks), LiveError> {
        let LiveStart { polymarket, journal, clock, settings, sent_before } = start;
        let credentials = &polymarket.credentials;
        if credentials.signature_type > 2 {
            return Err(LiveError::DepositWallet);
        }
        let funder = credentials.funder_address.expose().trim().to_owned();
        if !crate::config::is_wallet_address(&funder) {
            return Err(LiveError::BadFunder);
        }
        let signer = OrderSigner::from_private_key(&credentials.private_key)?;
        let l2 = L2Credentials::from_config(credentials, signer.address());
        let client = ClobTradingClient::new(&polymarket, l2, clock.clone())?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| LiveError::NoRuntime)?;
        let identity =
            OrderIdentity { maker: funder, signer: signer.address(), signature_type: credentials.signature_type };
        let orders = sent_before
            .into_iter()
            .filter_map(|(client_id, venue_id)| {
                let id = client_id.strip_prefix("order#")?.parse::<u64>().ok()?;
                // Followed only once the engine asks to reconcile them.
                Some((
                    ClientOrderId(id),
                    Tracked { venue_order_id: Some(venue_id), is_entry: false, cancel_requested: false },
                ))
            })
            .collect();
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            client,
            owner: credentials.api_key.expose().trim().to_owned(),
            signer,
            identity,
            journal,
            clock,
            settings,
            orders: Mutex::new(orders),
            reports: reports_tx,
        });
        tracing::info!(
            clob = %polymarket.clob_url,
            signer = %shared.identity.signer,
            signature_type = shared.identity.signature_type,
            "live executor ready"
        );
        Ok((Self { shared, runtime }, LiveTasks { reports: reports_rx }))
    }
}

impl Executor for LiveExecutor {
    fn mode(&self) -> Mode {
        Mode::Live
    }

    /// Prepares the order now (refusals are reported at once) and sends it from its own task.
    fn submit(&mut self, order: &Approved, market: MarketView<'_>, now: Timestamp, reports: &mut Vec<ExecutionReport>) {
        let intent = order.order();
        match prepare(intent, market, &self.shared.identity, now) {
            Ok(order) => {
                self.shared.track(
                    intent.client_order_id,
                    Tracked { venue_order_id: None, is_entry: order.is_entry, cancel_requested: false },
                );
                self.runtime.spawn(venue::place(self.shared.clone(), order));
            }
            Err(e) => {
                tracing::warn!(order = %intent.client_order_id, error = %e, "live order refused before sending");
                reports.push(ExecutionReport::unfilled(intent.client_order_id, format!("not sent: {e}"), now));
            }
        }
    }

    /// Cancels at the venue each order already sent; one its task has not sent yet is never sent.
    /// What a cancelled order had filled comes back through its task, as any outcome does.
    fn cancel(&mut self, orders: &[ClientOrderId], _now: Timestamp, _reports: &mut Vec<ExecutionReport>) {
        let marked = self.shared.mark_for_cancel(orders);
        tracing::warn!(orders = marked.len(), "cancelling the live orders still working");
        for (id, venue_id) in marked {
            if let Some(venue_id) = venue_id {
                let shared = self.shared.clone();
                self.runtime.spawn(async move { venue::cancel(&shared, id, &venue_id).await });
            }
        }
    }

    /// Asks the venue by the order's recorded venue id; an order without one was never sent (the
    /// id is recorded before sending), so it finished unfilled.
    fn reconcile(
        &mut self,
        intent: &OrderIntent,
        market: MarketView<'_>,
        now: Timestamp,
        reports: &mut Vec<ExecutionReport>,
    ) {
        let id = intent.client_order_id;
        match self.shared.venue_id(id) {
            Some(venue_id) => {
                // The report carries everything the venue filled for this order.
                self.runtime.spawn(venue::reconcile(self.shared.clone(), id, venue_id, market.rules.fee));
            }
            None => {
                reports.push(ExecutionReport::unfilled(id, "never sent: no venue order id was recorded for it", now))
            }
        }
    }
}

impl LiveTasks {
    /// The tasks to supervise: reports into `inputs`, until `stop`.
    pub fn into_tasks(
        self,
        inputs: mpsc::Sender<EngineMsg>,
        stop: CancellationToken,
    ) -> Vec<(&'static str, BoxFuture<'static, TaskResult>)> {
        vec![("live-reports", forward_reports(self.reports, inputs, stop, venue_outcome).boxed())]
    }
}

/// One report per order, stating its whole outcome at the venue: the engine applies the part it
/// does not know yet (all of it, unless the order was reconciled after a restart).
fn venue_outcome(report: ExecutionReport) -> EngineMsg {
    EngineMsg::VenueOutcome(report)
}
