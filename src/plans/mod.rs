//! The signal path: trade plans from outside (the control API and an inbox directory), checked
//! for completeness and consistency, sized by the risk formula, put through the same risk manager
//! as copy trading, staged with an executor, and announced.
//!
//! | file | job |
//! | --- | --- |
//! | `plan` | the plan as it arrives ([`PlanWire`], bounded) and complete ([`TradePlan`]) |
//! | `validate` | [`validate_trade_plan`]: every field present, stop and targets on their sides |
//! | `sizing` | [`size_plan`]: equity × risk % ÷ \|entry − stop\| × leverage, ATR-scaled, min/max |
//! | `decision` | [`PlanDecision`]: approved with its size and staged order, or refused with a code |
//! | `execution` | [`PlanOrder`] (written ahead, then sent) and [`PlanOrderReport`] (its cumulative state at the venue) |
//! | `position` | [`PlanPosition`]: a plan's position managed by its stop and targets (pure) |
//! | `config` | `[signals]` |
//! | `format` | the signal message, its JSON, the batch summary, per medium |
//!
//! Everything here is pure: the engine calls it with the time as a parameter.

mod config;
mod decision;
mod execution;
pub mod format;
mod plan;
mod position;
#[cfg(test)]
pub(crate) mod sample;
mod sizing;
mod validate;

pub use config::{PlanVenue, SignalsConfig, SummaryConfig};
pub use decision::{PlanClose, PlanDecision, PlanOutcome, PlanSource, StagedOrder};
pub use execution::{
    ExitReason, PlanOrder, PlanOrderKind, PlanOrderRefusal, PlanOrderReport, PlanQuote, plan_client_order_id,
};
pub use format::{Announcement, BatchSummary, Signal};
pub use plan::{
    Atr, ConfluenceFactor, Direction, EntryWire, EntryZone, MAX_PLAN_BYTES, PlanParseError, PlanRegime, PlanWire,
    QualityTier, TradePlan,
};
pub use position::{PlanPosition, PositionAction, PositionError, PositionResult, ReportApplied, TrackedOrder};
pub use sizing::{PlanSize, PlanSizeError, size_plan};
pub use validate::{PlanRefusal, is_plan_id, validate_trade_plan};
