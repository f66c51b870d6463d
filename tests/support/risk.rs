//! Builders for the risk manager's scenarios: a whale's entry, an entry approved and filled whole
//! at its limit, and an order approved for the code downstream of risk (executors).

use rust_decimal::Decimal;
use whale_trader::clock::Timestamp;
use whale_trader::domain::{ClientOrderId, MarketId, Side, TokenId, WhaleId};
use whale_trader::risk::{Approved, Fill, FillOutcome, OrderIntent, PositionId, RiskConfig, RiskManager};

/// A buy copying `whale`: order `id` for `size` shares of `token` in `market` at `price`.
pub fn whale_entry(id: u64, whale: u32, market: u32, token: u32, price: Decimal, size: Decimal) -> OrderIntent {
    let mut intent = OrderIntent::entry(ClientOrderId(id), MarketId(market), TokenId(token), Side::Buy, price, size);
    intent.whale = Some(WhaleId(whale));
    intent
}

/// `order` filled whole at its own price, without a fee.
pub fn fill_at_limit(rm: &mut RiskManager, order: &OrderIntent, now: Timestamp) -> FillOutcome {
    let fill =
        Fill { client_order_id: order.client_order_id, price: order.price, size: order.size, fee: Decimal::ZERO };
    rm.on_fill(&fill, now).unwrap_or_else(|e| panic!("fill of {}: {e}", order.client_order_id))
}

/// Approves and fully fills an entry; returns the position it opened.
pub fn open(rm: &mut RiskManager, intent: OrderIntent, now: Timestamp) -> PositionId {
    let decision = rm.check(&intent, now);
    let approved = decision.approved().unwrap_or_else(|| panic!("entry rejected: {decision:?}"));
    let order = *approved.order();
    fill_at_limit(rm, &order, now);
    PositionId::from(order.client_order_id)
}

/// `intent` approved by a fresh risk manager with the default limits at `now`: the only way an
/// order reaches an executor.
pub fn approved(intent: &OrderIntent, now: Timestamp) -> Approved {
    approved_under(RiskConfig::default(), intent, now)
}

/// `intent` approved by a fresh risk manager with the limits of `config` at `now`.
pub fn approved_under(config: RiskConfig, intent: &OrderIntent, now: Timestamp) -> Approved {
    let mut rm = RiskManager::new(config, now).unwrap_or_else(|e| panic!("risk manager: {e}"));
    let decision = rm.check(intent, now);
    *decision.approved().unwrap_or_else(|| panic!("{} rejected: {decision:?}", intent.client_order_id))
}
