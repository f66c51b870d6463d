//! A market's trading parameters: its tokens, tick size, smallest order and fee curve.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::fees::FeeCurve;
use crate::clock::Timestamp;

/// The trading parameters of a market, from `GET /clob-markets/{condition_id}` (short keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClobMarketInfo {
    pub condition_id: String,
    /// (token id, outcome label) in the market's order.
    pub tokens: Vec<(String, String)>,
    pub min_order_size: Decimal,
    pub tick_size: Decimal,
    pub neg_risk: bool,
    pub accepting_orders: bool,
    pub fees: FeeCurve,
    /// When the market is scheduled to end. `/clob-markets` does not say; the feed fills it in from
    /// the market's `end_date_iso` (`GET /markets/{condition_id}`), a recording from its `end_date`.
    #[serde(default)]
    pub end_date: Option<Timestamp>,
}
