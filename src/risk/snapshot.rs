//! What the risk manager shows ([`RiskSnapshot`], for metrics and status) and what it persists
//! ([`RiskState`], the whole state as JSON for the store).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{ClientOrderId, MarketId, ReasonCode, SourceTradeId, TokenId, TradingState, WhaleId};

use super::breaker::CircuitBreaker;
use super::drawdown::DrawdownProtector;
use super::order::PositionId;
use super::order::WorkingKind;
use super::plan_book::PlanBookState;
use super::positions::Position;
use super::safeguards::Firing;
use super::state::StateMachine;
use super::wallet::{PositionMismatch, WalletBook};
use super::whales::WhaleLedger;

/// Exposure of one whale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhaleExposure {
    pub whale: WhaleId,
    pub positions: u32,
    pub exposure_usd: Decimal,
    pub allocated_today_usd: Decimal,
}

/// Exposure in one market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketExposure {
    pub market: MarketId,
    pub positions: u32,
    pub exposure_usd: Decimal,
}

/// The risk metrics at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSnapshot {
    pub state: TradingState,
    pub state_cause: Option<ReasonCode>,
    pub state_since: Timestamp,
    pub equity: Decimal,
    pub start_of_day_equity: Decimal,
    /// Realised plus unrealised P&L since the start of the trading day.
    pub daily_pnl: Decimal,
    pub realised_today: Decimal,
    pub realised_total: Decimal,
    pub unrealised: Decimal,
    pub peak_equity: Decimal,
    pub drawdown_percent: Decimal,
    pub consecutive_losses: u32,
    pub total_exposure_usd: Decimal,
    pub open_positions: u32,
    pub working_orders: u32,
    pub exposure_per_whale: Vec<WhaleExposure>,
    pub exposure_per_market: Vec<MarketExposure>,
    pub breaker_trips_today: u32,
    pub breaker_trips_total: u64,
    pub breaker_open_until: Option<Timestamp>,
    pub breaker_latched: bool,
    pub approved_total: u64,
    pub rejected_total: u64,
    pub ignored_prices_total: u64,
    /// Live mode: the wallet's cash at its last reading, and when that was.
    pub wallet_cash: Option<Decimal>,
    pub wallet_read_at: Option<Timestamp>,
    /// Position mismatches holding trading until a human resolves them.
    pub position_mismatches: Vec<PositionMismatch>,
    /// Each copied whale's results and standing.
    pub whales: Vec<WhaleStanding>,
}

/// One copied whale's results and standing, as status and metrics show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhaleStanding {
    pub whale: WhaleId,
    pub copies_opened: u64,
    pub copies_closed: u64,
    pub open_positions: u32,
    pub realised: Decimal,
    /// Of the copies still open, at the last marks.
    pub unrealised: Decimal,
    pub fees: Decimal,
    pub hit_rate: Option<Decimal>,
    pub average_hold_ms: Option<i64>,
    /// Our entry against the whale's fill, per share on average and in USD in total (against us positive).
    pub average_slippage: Option<Decimal>,
    pub slippage_usd: Decimal,
    /// What the closed copies would have made at the whale's price and without fees.
    pub whale_result: Decimal,
    pub rolling_pnl: Decimal,
    pub consecutive_losses: u32,
    pub muted_until: Option<Timestamp>,
    pub mute_cause: Option<ReasonCode>,
    pub low_profit: bool,
    /// Skipped by the copy-edge guard: its copies' slippage outweighs its own gain.
    pub negative_edge: bool,
}

/// The last price of a token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub token: TokenId,
    pub price: Decimal,
    pub at: Timestamp,
}

/// An approved order not finished yet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorkingOrderRecord {
    pub client_order_id: ClientOrderId,
    pub position: PositionId,
    pub token: TokenId,
    pub kind: WorkingKind,
    pub remaining: Decimal,
    pub price: Decimal,
}

/// Everything needed to rebuild the risk manager after a restart: peak equity, daily P&L, breaker,
/// losing streak, trading state, positions, working orders and the duplicate memory. Ids are
/// interned ids: persist the [`crate::domain::Interner`] alongside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskState {
    pub version: u32,
    pub trading: StateMachine,
    pub breaker: CircuitBreaker,
    pub drawdown: DrawdownProtector,
    pub realised_total: Decimal,
    pub realised_today: Decimal,
    pub start_of_day_equity: Decimal,
    pub trading_day: i64,
    pub positions: Vec<Position>,
    pub working_orders: Vec<WorkingOrderRecord>,
    pub marks: Vec<Mark>,
    pub allocated_today: Vec<(WhaleId, Decimal)>,
    pub whale_allocations: Vec<(WhaleId, Decimal)>,
    pub seen_orders: Vec<ClientOrderId>,
    pub seen_trades: Vec<SourceTradeId>,
    pub firings: Vec<Firing>,
    pub approved_total: u64,
    pub rejected_total: u64,
    pub ignored_prices_total: u64,
    /// Live mode: the last wallet reading and the mismatches still open (absent in older checkpoints).
    #[serde(default)]
    pub wallet: WalletBook,
    /// Each copied whale's ledger and standing (absent in older checkpoints).
    #[serde(default)]
    pub whales: Vec<WhaleLedger>,
    /// Open trade plans, remembered plan ids and recent plan firings (absent in older checkpoints).
    #[serde(default)]
    pub plans: PlanBookState,
}

impl RiskState {
    /// Bumped whenever the layout changes incompatibly.
    pub const VERSION: u32 = 1;
}
