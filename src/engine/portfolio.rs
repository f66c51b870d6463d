//! The engine's book-keeping of its own trades: one [`Trade`] per copied entry (named by the entry's
//! client order id, which is also the risk manager's position id) and the orders still in flight.
//!
//! The risk manager keeps the numbers its rules need (exposure, P&L, stops); the engine keeps what
//! the audit trail and the store need (whale, outcome label, entry and exit prices, hold time).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{ClientOrderId, ExitReason, IdHashMap, MarketId, Side, TokenId, WhaleId};
use crate::risk::{OrderIntent, PositionId};

use super::exit_policy::ExitPlan;

/// One copied position, from its entry order to its last exit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub position: PositionId,
    /// `T` + the entry's client order id: stable across restarts and unique per daemon.
    pub trade_id: String,
    pub whale: WhaleId,
    pub market: MarketId,
    pub token: TokenId,
    pub outcome: String,
    pub side: Side,
    /// The whale trade this position copied (its source id, as `trade_rejected` names a refused
    /// one), so that a copy and a refusal of the same whale trade can be told apart; empty for a
    /// position adopted from the wallet.
    #[serde(default)]
    pub whale_trade_id: String,
    /// The sizing and risk state when the copy was decided, for its `trade_opened` record.
    #[serde(default)]
    pub decision: crate::engine::audit::DecisionContext,
    pub whale_price: Decimal,
    pub whale_size: Decimal,
    /// Shares bought, their cost (price × size) and fees.
    pub entry_size: Decimal,
    pub entry_cost: Decimal,
    /// Shares sold and what they brought (price × size).
    pub exit_size: Decimal,
    pub exit_proceeds: Decimal,
    pub fees: Decimal,
    pub opened_at: Option<Timestamp>,
    /// Shares with an exit order in flight.
    pub exiting: Decimal,
    pub closed: bool,
    /// The exit under way, from its first order until the position is flat.
    #[serde(default)]
    pub exit_plan: Option<ExitPlan>,
}

impl Trade {
    /// What copying cost against the whale's own fill, in USD over the shares bought (positive: we
    /// paid more than the whale). `None` for a position that copied no fill (adopted from the wallet).
    pub fn copy_slippage_usd(&self) -> Option<Decimal> {
        (self.whale_price > Decimal::ZERO && self.entry_size > Decimal::ZERO).then(|| {
            let per_share = self.avg_entry_price() - self.whale_price;
            let direction = if self.side == Side::Buy { Decimal::ONE } else { Decimal::NEGATIVE_ONE };
            direction * per_share * self.entry_size
        })
    }

    pub fn open_size(&self) -> Decimal {
        self.entry_size - self.exit_size
    }

    pub fn avg_entry_price(&self) -> Decimal {
        if self.entry_size.is_zero() { Decimal::ZERO } else { self.entry_cost / self.entry_size }
    }

    pub fn avg_exit_price(&self) -> Decimal {
        if self.exit_size.is_zero() { Decimal::ZERO } else { self.exit_proceeds / self.exit_size }
    }

    /// Realised P&L of a long position: proceeds − cost of the shares sold − every fee paid.
    pub fn realised_pnl(&self) -> Decimal {
        self.exit_proceeds - self.avg_entry_price() * self.exit_size - self.fees
    }

    /// Whether the position holds shares nobody is selling yet.
    pub fn is_open(&self) -> bool {
        !self.closed && self.entry_size > Decimal::ZERO
    }
}

/// What an in-flight order is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderPurpose {
    Entry,
    Exit(ExitReason),
}

/// An order handed to the executor and not finished yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub intent: OrderIntent,
    pub position: PositionId,
    pub purpose: OrderPurpose,
    pub sent_at: Timestamp,
    /// Shares filled so far.
    pub filled: Decimal,
    /// Σ price × size of those fills (so that a venue's cumulative figures can be turned into the part
    /// not yet applied, when an order is reconciled after a restart).
    #[serde(default)]
    pub filled_notional: Decimal,
    /// Fills applied so far (the store names fills `<client order id>-<n>`).
    #[serde(default)]
    pub fills: u32,
}

impl PendingOrder {
    pub fn new(intent: OrderIntent, position: PositionId, purpose: OrderPurpose, sent_at: Timestamp) -> Self {
        Self { intent, position, purpose, sent_at, filled: Decimal::ZERO, filled_notional: Decimal::ZERO, fills: 0 }
    }
}

/// Trades and in-flight orders.
#[derive(Debug, Default)]
pub struct Portfolio {
    pub trades: IdHashMap<PositionId, Trade>,
    pub pending: IdHashMap<ClientOrderId, PendingOrder>,
    /// Shares we saw each whale buy minus sell, per token (for proportional exits).
    pub whale_holdings: std::collections::HashMap<(WhaleId, TokenId), Decimal>,
    /// When each token's last order finished (or a human adopted or dropped it): a wallet reading
    /// taken before that describes the token as it was, so it is not compared (not persisted: a
    /// restart takes new readings).
    pub order_ended_at: IdHashMap<TokenId, Timestamp>,
}

impl Portfolio {
    pub fn open_trades(&self) -> impl Iterator<Item = &Trade> {
        self.trades.values().filter(|t| t.is_open())
    }

    pub fn open_count(&self) -> usize {
        self.open_trades().count()
    }

    /// Open trades sorted by position id, so that anything derived from them is deterministic.
    pub fn open_positions_sorted(&self, mut keep: impl FnMut(&Trade) -> bool) -> Vec<PositionId> {
        let mut ids: Vec<PositionId> = self.open_trades().filter(|t| keep(t)).map(|t| t.position).collect();
        ids.sort_unstable();
        ids
    }

    /// An order of `token` finished at `at` (see [`Portfolio::order_ended_at`]).
    pub fn order_ended(&mut self, token: TokenId, at: Timestamp) {
        self.order_ended_at.insert(token, at);
    }

    pub fn trade_by_id(&self, trade_id: &str) -> Option<&Trade> {
        self.trades.values().find(|t| t.trade_id == trade_id)
    }
}

/// The trade id of the position opened by `entry`.
pub fn trade_id_of(entry: ClientOrderId) -> String {
    format!("T{:06}", entry.0)
}
