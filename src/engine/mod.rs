//! The copy-trading engine: see a whale trade, decide, execute, manage the position until
//! it exits.
//!
//! ```text
//!  Input ──► Engine::process(input, now, &mut Outputs) ──► Outputs { intents, events }
//!             │  copy_rules (pure) → RiskManager::check → order intent
//!             │  prices → RiskManager::on_price (stops, breaker) → exit intents
//!             │  fills → RiskManager::on_fill → trade opened / closed
//!             └─ every trade opened / closed / rejected and state change → AuditSink
//! ```
//!
//! | module | job |
//! | --- | --- |
//! | [`core`] | the [`Engine`]: the one synchronous step |
//! | [`copy_rules`] | pure entry / exit rules for whale trades |
//! | [`market_data`] | books, freshness, venue rules (tick, minimum size, fee curve) |
//! | [`portfolio`] | the engine's trades and in-flight orders |
//! | [`exit_policy`] | how an exit is priced, retried and widened until the position is flat |
//! | [`executor`] | dry-run, paper and the live start guard, behind [`Executor`] |
//! | [`audit`] | the trade audit trail and its sinks |
//! | [`checkpoint`] | the engine's state for the store, restored after a restart or a crash |
//! | [`journal`] | the engine's events as store commands (write-ahead orders, fills, positions, decisions) |
//! | [`replay`] | the engine stepped in a plain loop with a simulated clock and executor |
//! | [`io`] | [`Input`], [`Outputs`], [`EngineEvent`] |

pub mod audit;
pub mod checkpoint;
pub mod copy_rules;
pub mod core;
pub mod executor;
pub mod exit_policy;
pub mod io;
pub mod journal;
pub mod market_data;
pub mod portfolio;
pub mod replay;
pub mod view;

pub use audit::{AUDIT_TARGET, AuditRecord, AuditSink, DiscardAuditSink, MemoryAuditSink, TracingAuditSink};
pub use core::{Engine, EngineSettings};
pub use executor::{
    DryRunExecutor, DryRunPlanExecutor, Executor, LIVE_CONFIRM_ENV, LiveRefusal, LiveStartError, MarketView,
    PaperExecutor, PlanExecutor, check_live_start,
};
pub use io::{
    Control, ControlAnswer, ControlOutcome, DecisionOutcome, EngineEvent, EngineStatus, ExecutionReport, ExitCounters,
    Input, Outputs, PlanAnswer, PositionClose, PositionUpdate, Quote, RedemptionRequest, StateFigures, WalletReading,
    WhaleTradeDecision,
};
pub use market_data::{TYPICAL_FEE, TokenPrices, VenueRules};
pub use replay::{ReplayReport, SimulatedRun};
pub use view::{EngineView, Standing, WhaleView};

/// The engine module's one error type.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A field of the engine's stored state (a checkpoint, a restored record) breaks its rule.
    #[error("{field} = {value}: must be {rule}")]
    BadField { field: &'static str, value: String, rule: &'static str },
    #[error("the risk manager cannot start: {0}")]
    Risk(crate::risk::RiskError),
    /// The store refused or could not commit the engine's records: the engine stops rather than
    /// trade on state it cannot persist (systemd restarts it from the last durable checkpoint).
    #[error("the store could not record the engine's step: {0}")]
    Store(crate::store::StoreError),
}
