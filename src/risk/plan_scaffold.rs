//! SCAFFOLD (deleted when the plan book merges).
use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::ReasonCode;
use crate::plans::{PlanClose, PlanSize, SignalsConfig, StagedOrder, TradePlan};

use super::{RiskError, RiskManager};

#[derive(Debug, Clone, PartialEq)]
pub struct PlanApproved {
    size: PlanSize,
    order: StagedOrder,
}

impl PlanApproved {
    pub fn size(&self) -> &PlanSize {
        &self.size
    }
    pub fn order(&self) -> &StagedOrder {
        &self.order
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlanCheck {
    Approved(PlanApproved),
    Rejected { code: ReasonCode, detail: String },
}

impl RiskManager {
    pub fn check_plan(&mut self, plan: &TradePlan, config: &SignalsConfig, mode: Mode, _now: Timestamp) -> PlanCheck {
        match crate::plans::size_plan(plan, self.equity(), config, self.config().compliance.max_leverage) {
            Ok(size) => PlanCheck::Approved(PlanApproved {
                size,
                order: StagedOrder {
                    client_order_id: format!("plan-{}", plan.plan_id),
                    symbol: plan.symbol.clone(),
                    side: "buy".into(),
                    price: plan.entry.near,
                    units: size.units,
                    stop: plan.stop,
                    targets: plan.targets.clone(),
                    leverage: plan.leverage,
                    mode,
                },
            }),
            Err(e) => PlanCheck::Rejected { code: ReasonCode::InvalidPlan, detail: e.to_string() },
        }
    }

    pub fn close_plan(&mut self, plan_id: &str, _exit: Decimal, _now: Timestamp) -> Result<PlanClose, RiskError> {
        Err(RiskError::InvalidState(plan_id.to_owned()))
    }
}
