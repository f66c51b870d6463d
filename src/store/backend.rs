//! The seam between the engine and a database: the [`Store`] trait, what recovery returns and what
//! `whale-trader status` shows. SQLite implements it today; a PostgreSQL backend can implement the
//! same trait and reuse the same writer, without the engine noticing.

use std::fmt;

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::market::MarketName;

use super::command::StoreCommand;
use super::error::StoreError;
use super::records::{
    AlertRecord, EngineCheckpointRecord, FillRecord, OrderRecord, PositionRecord, RedemptionRecord, RiskStateRecord,
    SeenWhaleTrade, TradingStateChange, WhaleWatermark,
};

/// A durable home for the daemon's state. Synchronous on purpose: the writer runs it on its own thread.
pub trait Store: Send {
    /// Applies `commands` in one transaction and commits once. Each command is all-or-nothing: the
    /// inner `Result`s say, in order, which ones were refused. The outer `Err` means the transaction
    /// as a whole failed and nothing was written.
    fn write_batch(&mut self, commands: &[&StoreCommand]) -> Result<Vec<Result<(), StoreError>>, StoreError>;

    /// Everything the engine needs to resume after a restart or a crash.
    fn load_recovery(&mut self) -> Result<RecoveredState, StoreError>;

    /// Positions, P&L and trading state, for `whale-trader status` (works while the daemon is stopped).
    fn status(&mut self) -> Result<StatusReport, StoreError>;

    /// Folds the write-ahead log back into the database; called once at shutdown.
    fn checkpoint(&mut self) -> Result<(), StoreError>;

    /// The writer's queue is empty: a moment for housekeeping that must not delay a commit.
    fn when_idle(&mut self) {}
}

/// Lets the daemon pick a backend at run time (`Box<dyn Store>`) and still use the same writer.
impl<S: Store + ?Sized> Store for Box<S> {
    fn write_batch(&mut self, commands: &[&StoreCommand]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        (**self).write_batch(commands)
    }

    fn load_recovery(&mut self) -> Result<RecoveredState, StoreError> {
        (**self).load_recovery()
    }

    fn status(&mut self) -> Result<StatusReport, StoreError> {
        (**self).status()
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        (**self).checkpoint()
    }

    fn when_idle(&mut self) {
        (**self).when_idle()
    }
}

/// An order that may still change, with every fill recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredOrder {
    pub order: OrderRecord,
    pub fills: Vec<FillRecord>,
}

/// What the engine restores at start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveredState {
    pub open_positions: Vec<PositionRecord>,
    pub risk_state: Option<RiskStateRecord>,
    /// The engine's own checkpoint, written in the same transactions as `risk_state`.
    pub engine_checkpoint: Option<EngineCheckpointRecord>,
    /// The newest trading-state transition: if it is newer than `risk_state`, it decides the state.
    pub last_trading_state_change: Option<TradingStateChange>,
    pub watermarks: Vec<WhaleWatermark>,
    /// Every whale trade still retained as seen (retention bounds how many).
    pub seen_trades: Vec<SeenWhaleTrade>,
    /// Orders whose outcome is not final (pending, submitted, partially filled, unknown): reconcile
    /// these, never send them again.
    pub non_final_orders: Vec<RecoveredOrder>,
    pub undelivered_alerts: Vec<AlertRecord>,
    /// Redemptions not yet confirmed or failed (`pending`, `sent`): the redeemer finishes these.
    pub open_redemptions: Vec<RedemptionRecord>,
    /// Every market's cached names (the engine starts with them).
    pub market_names: Vec<MarketName>,
}

impl RecoveredState {
    pub fn summary(&self) -> RecoverySummary {
        RecoverySummary {
            open_positions: self.open_positions.len(),
            non_final_orders: self.non_final_orders.len(),
            seen_trades: self.seen_trades.len(),
            watermarks: self.watermarks.len(),
            undelivered_alerts: self.undelivered_alerts.len(),
            trading_state: self.trading_state().map(str::to_owned),
        }
    }

    /// The trading state to resume in: the newer of the last transition and the risk snapshot.
    pub fn trading_state(&self) -> Option<&str> {
        latest_trading_state(self.risk_state.as_ref(), self.last_trading_state_change.as_ref()).map(|(s, _, _)| s)
    }

    /// True for a store that has never recorded anything the engine resumes from.
    pub fn is_empty(&self) -> bool {
        *self == RecoveredState::default()
    }
}

/// Counts for the "recovered" log line and audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySummary {
    pub open_positions: usize,
    pub non_final_orders: usize,
    pub seen_trades: usize,
    pub watermarks: usize,
    pub undelivered_alerts: usize,
    pub trading_state: Option<String>,
}

impl fmt::Display for RecoverySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recovered {} open positions, {} orders to reconcile, {} seen whale trades, {} watermarks, \
             {} undelivered alerts; trading state {}",
            self.open_positions,
            self.non_final_orders,
            self.seen_trades,
            self.watermarks,
            self.undelivered_alerts,
            self.trading_state.as_deref().unwrap_or("not recorded")
        )
    }
}

/// What `whale-trader status` prints when it reads the store directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub open_positions: Vec<PositionRecord>,
    /// Σ size × entry price over open positions.
    pub open_cost_basis: Decimal,
    pub closed_positions: u64,
    pub winning_positions: u64,
    pub losing_positions: u64,
    /// Σ realised P&L over closed positions.
    pub realised_pnl: Decimal,
    pub trading_state: Option<String>,
    pub trading_reason: Option<String>,
    pub trading_state_since: Option<Timestamp>,
    pub risk_state: Option<RiskStateRecord>,
    pub non_final_orders: u64,
    pub undelivered_alerts: u64,
    /// The mode the file is stamped with (`store_meta`).
    pub mode: Option<String>,
    /// The feed source the file is stamped with (`store_meta`).
    pub feed_source: Option<String>,
    /// Every market's cached names, for the positions shown.
    pub market_names: Vec<MarketName>,
}

/// The newer of a risk snapshot and a transition (the transition wins a tie): (state, reason, since).
pub(crate) fn latest_trading_state<'a>(
    risk: Option<&'a RiskStateRecord>,
    change: Option<&'a TradingStateChange>,
) -> Option<(&'a str, Option<&'a str>, Timestamp)> {
    let from_risk = risk.map(|r| (r.trading_state.as_str(), r.reason.as_deref(), r.updated_at));
    let from_change = change.map(|c| (c.to_state.as_str(), Some(c.reason.as_str()), c.changed_at));
    match (from_risk, from_change) {
        (Some(r), Some(c)) => Some(if r.2 > c.2 { r } else { c }),
        (r, c) => c.or(r),
    }
}
