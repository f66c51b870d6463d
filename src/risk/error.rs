//! The one error type of the risk module: bad inputs named by field, value and rule.

use crate::config::ConfigIssue;
use crate::domain::ClientOrderId;

use super::order::PositionId;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RiskError {
    /// The configuration breaks one or more rules (every problem is listed).
    #[error("invalid risk configuration: {}", join_issues(.0))]
    InvalidConfig(Vec<ConfigIssue>),
    /// An input outside its domain: zero balance, entry equal to stop, negative size, …
    #[error("{field} = {value}: {rule}")]
    InvalidInput { field: &'static str, value: String, rule: &'static str },
    /// A fill or order update names an order the risk manager never approved (or already forgot).
    #[error("unknown order {0}")]
    UnknownOrder(ClientOrderId),
    /// A close names a position that is not open.
    #[error("unknown position {0}")]
    UnknownPosition(PositionId),
    /// A plan close names a plan that is not open.
    #[error("plan_id = {0}: no open plan has this id")]
    UnknownPlan(String),
    /// A venue's report of a plan order that cannot be true of it (an unknown order, fills going
    /// back or beyond the order).
    #[error("plan order report refused: {0}")]
    PlanReport(#[from] crate::plans::PositionError),
    /// An exported state that cannot be restored as it is.
    #[error("risk state cannot be restored: {0}")]
    InvalidState(String),
}

impl RiskError {
    pub(crate) fn input(field: &'static str, value: impl std::fmt::Display, rule: &'static str) -> Self {
        RiskError::InvalidInput { field, value: value.to_string(), rule }
    }
}

fn join_issues(issues: &[ConfigIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
