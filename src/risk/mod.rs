//! The risk manager: every pre-trade and position check as pure, synchronous code the engine owns.
//!
//! # How the pieces fit
//!
//! [`RiskManager`] is a plain struct: no tokio, no I/O, no clock reads (`now` is a parameter).
//! The engine calls it at five points:
//!
//! 1. **Before an order** — [`RiskManager::check`] runs, in order: the trading state
//!    ([`state`]: entries only in `Active`; exits pass in `Reducing`/`Halted`, and in `Killed` only
//!    when they flatten a position), the copied whale's standing ([`whales`]: muted, locked for low
//!    profit, or skipped for a negative copy edge), order sanity ([`safeguards`]: price in (0, 1) on the tick grid,
//!    size, minimums), the leverage cap ([`compliance`]), duplicates and double fire
//!    ([`safeguards`]), price drift and staleness, opposing positions ([`compliance`]), count limits
//!    and notional capacity ([`limits`]: USD and percent caps, the stricter wins), and finally
//!    [`sizing::fit_to_capacity`] (resize down or reject, never upsize). The answer is
//!    [`Decision::Approved`] — an [`Approved`] only this module can build, carrying the possibly
//!    resized order — or [`Decision::Rejected`] with a stable [`ReasonCode`] and a detail naming
//!    the limit and the value. An approved entry reserves its notional at once, so two quick
//!    approvals cannot overshoot a cap together.
//! 2. **On fills and order completion** — [`RiskManager::on_fill`], [`RiskManager::on_order_done`]
//!    and [`RiskManager::on_close`] move positions, exposure and realised P&L; closed trades feed
//!    the losing streak ([`drawdown`]) and their whale's ledger, breaker and lock ([`whales`]).
//! 3. **On every price** — [`RiskManager::on_price`] moves the stops of the positions on that token
//!    ([`stops`], positions indexed by token in [`positions`]) and returns exit intents, then
//!    re-evaluates equity (starting balance + realised + unrealised) against the circuit breaker
//!    ([`breaker`]), the daily loss limit ([`daily_loss`]) and the drawdown protector
//!    ([`drawdown`]), which may move the trading state and, at the emergency level, flatten
//!    everything. An evaluation whose inputs are what the last one left is skipped: it would fire
//!    nothing (a price of a token nothing is held in, most prices of a replay).
//! 4. **On control** — [`RiskManager::halt`], [`RiskManager::resume`], [`RiskManager::kill`],
//!    [`RiskManager::reduce`] return [`Transition`] records; automatic transitions and breaker
//!    warnings queue as [`RiskEvent`]s for [`RiskManager::drain_events`]. Day roll-over happens
//!    by itself on the first call of a new trading day (or via [`RiskManager::roll_over`]).
//!
//! 5. **On a trade plan** — [`RiskManager::check_plan`] (trading state, duplicate plan id, leverage,
//!    double fire, opposing plan, sizing, open risk per asset and in total, kept in [`plan_book`])
//!    answers [`PlanCheck`]; [`RiskManager::close_plan`] releases a plan's risk with its P&L and R.
//!
//! [`RiskManager::snapshot`] gives the metrics; [`RiskManager::export`] / [`RiskManager::restore`]
//! persist the whole state as JSON. [`RiskManager::set_config`] applies a SIGHUP reload and keeps
//! the state. Wallets, markets and tokens are interned ids ([`crate::domain`]), so the hot paths
//! hash integers, not strings; `check` (approve path) and `on_price` do not allocate once warm.

pub mod breaker;
pub mod compliance;
mod config;
pub mod daily_loss;
pub mod drawdown;
mod error;
pub mod limits;
mod manager;
mod order;
pub mod plan_book;
pub mod positions;
pub mod r_multiple;
pub mod safeguards;
pub mod sizing;
mod snapshot;
pub mod state;
pub mod stops;
pub mod wallet;
pub mod whales;

pub use crate::domain::{ExitReason, ReasonCode, Side, TradingState};
pub use config::{
    CircuitBreakerConfig, ComplianceConfig, DailyLossConfig, DrawdownConfig, ExitsConfig, LimitsConfig, OpposingPolicy,
    RiskConfig, SafeguardsConfig, SizingConfig, StopsConfig, WhalesConfig,
};
pub use error::RiskError;
pub use limits::Capacity;
pub use manager::{
    Hold, KillOutcome, PlanActions, PlanApproved, PlanCheck, PlanEnd, PlanReportOutcome, RiskEvent, RiskManager,
    WorkingPlanOrder,
};
pub use order::{
    Approved, Decision, ExitIntent, Fill, FillOutcome, OrderIntent, OrderKind, PositionId, StopOverrides, WorkingKind,
};
pub use plan_book::{OpenPlan, PlanBook, PlanBookState, PlanFiring};
pub use positions::Position;
pub use snapshot::{Mark, MarketExposure, RiskSnapshot, RiskState, WhaleExposure, WhaleStanding, WorkingOrderRecord};
pub use state::Transition;
pub use wallet::{MismatchKind, OurHolding, PositionMismatch, VenueHolding, WalletBook};
pub use whales::{Block, ClosedCopy, WhaleBook, WhaleChange, WhaleLedger};
