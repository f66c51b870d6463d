//! What became of one plan: where it came from, and approved with its size and staged order, or
//! refused with a reason code. The engine makes one per plan; the store, the audit trail, the
//! announcement, telemetry and the batch summary all read this one shape.

use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::{ReasonCode, Side};

use super::execution::{PlanOrder, PlanOrderKind};
use super::plan::{Direction, TradePlan};
use super::sizing::PlanSize;

/// How a plan reached the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "via")]
pub enum PlanSource {
    /// `POST /signals`.
    Api,
    /// A file in the inbox directory (its name).
    Inbox { file: String },
}

impl fmt::Display for PlanSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanSource::Api => f.write_str("api"),
            PlanSource::Inbox { file } => write!(f, "inbox:{file}"),
        }
    }
}

/// The order an approved plan stages: what the executor is asked to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedOrder {
    /// `plan-<plan id>`: the client order id a venue would see.
    pub client_order_id: String,
    pub symbol: String,
    /// Buy for a long, sell for a short.
    pub side: Side,
    /// Limit price: the near entry.
    pub price: Decimal,
    pub units: Decimal,
    pub stop: Decimal,
    pub targets: Vec<Decimal>,
    pub leverage: Decimal,
    /// Where the order goes: `dry-run` (staged and logged only), or the venue's `paper` (testnet) or `live`.
    pub mode: Mode,
}

impl StagedOrder {
    /// The order a plan stages for `units`: `plan-<plan id>`, a buy for a long (a sell for a
    /// short) limited at the near entry, with the plan's stop, targets and leverage.
    pub fn for_plan(plan: &TradePlan, units: Decimal, mode: Mode) -> Self {
        Self {
            client_order_id: format!("plan-{}", plan.plan_id),
            symbol: plan.symbol.clone(),
            side: plan.direction.side(),
            price: plan.entry.near,
            units,
            stop: plan.stop,
            targets: plan.targets.clone(),
            leverage: plan.leverage,
            mode,
        }
    }
}

impl StagedOrder {
    /// The entry order it sends: a limit at the near entry, with the plan's stop and first target
    /// for a venue that holds them with the order.
    pub fn to_plan_order(&self, plan_id: &str, at: Timestamp) -> PlanOrder {
        PlanOrder {
            client_order_id: self.client_order_id.clone(),
            plan_id: plan_id.to_owned(),
            symbol: self.symbol.clone(),
            side: self.side,
            kind: PlanOrderKind::Entry,
            price: Some(self.price),
            units: self.units,
            reduce_only: false,
            stop_loss: Some(self.stop),
            take_profit: self.targets.first().copied(),
            leverage: self.leverage,
            at,
        }
    }
}

/// The decision on one plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum PlanOutcome {
    /// The order is boxed: it would make every refusal as large as an approval otherwise.
    Approved {
        size: PlanSize,
        order: Box<StagedOrder>,
    },
    Rejected {
        code: ReasonCode,
        detail: String,
    },
}

/// One plan's decision, as every sink reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDecision {
    /// The plan's id, or `""` when it had none.
    pub plan_id: String,
    /// The symbol as given (upper-cased once valid), if any.
    pub symbol: Option<String>,
    pub direction: Option<Direction>,
    pub source: PlanSource,
    pub at: Timestamp,
    /// The complete plan, when it passed validation.
    pub plan: Option<Arc<TradePlan>>,
    /// Flat in JSON: `"outcome": "approved"` with `size` and `order`, or `"outcome": "rejected"`
    /// with `code` and `detail`.
    #[serde(flatten)]
    pub outcome: PlanOutcome,
}

impl PlanDecision {
    pub fn is_approved(&self) -> bool {
        matches!(self.outcome, PlanOutcome::Approved { .. })
    }

    pub fn reason(&self) -> Option<ReasonCode> {
        match &self.outcome {
            PlanOutcome::Approved { .. } => None,
            PlanOutcome::Rejected { code, .. } => Some(*code),
        }
    }
}

/// An open plan closed by its outcome (an operator's report, or in time a venue's fills).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanClose {
    pub plan_id: String,
    pub symbol: String,
    pub direction: Direction,
    pub entry: Decimal,
    pub exit_price: Decimal,
    pub units: Decimal,
    /// `(exit − entry) × units × sign`, in the quote currency.
    pub pnl_usd: Decimal,
    /// The result in multiples of the plan's initial risk.
    pub r_multiple: Decimal,
    pub at: Timestamp,
}
