//! Copying a whale's buy: the copy rules plan the order, the risk manager checks it, and an
//! approved one opens a trade and goes out.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{Side, SourceTradeId};
use crate::engine::copy_rules::{self, CopyRejection, EntryInputs, RejectReason};
use crate::engine::io::{DecisionOutcome, Outputs, WhaleTradeDecision};
use crate::engine::portfolio::{OrderPurpose, Trade, trade_id_of};
use crate::market::WhaleTrade;
use crate::risk::{Decision, OrderIntent, PositionId};

use super::Engine;

impl Engine {
    pub(super) fn copy_entry(
        &mut self,
        trade: &WhaleTrade,
        decision: WhaleTradeDecision,
        source: SourceTradeId,
        now: Timestamp,
        out: &mut Outputs,
    ) {
        let (whale, market, token) = (decision.whale, decision.market, decision.token);
        let Some(whale_config) = self.whales.get(&whale) else { return };
        let risk_config = &self.config.risk;
        let plan = copy_rules::plan_entry(&EntryInputs {
            copy: &self.config.copy,
            whale: whale_config,
            whale_price: trade.price,
            whale_size: trade.size,
            whale_traded_at: trade.timestamp,
            end_date: self.market.end_date(market),
            prices: self.market.prices(token),
            rules: self.market.rules(market),
            stale_after_ms: self.stale_after_ms(),
            equity: self.risk.equity(),
            risk_per_trade_percent: risk_config.sizing.risk_per_trade_percent,
            stop_loss_percent: risk_config.stops.stop_loss_percent,
            now,
        });
        let plan = match plan {
            Ok(plan) => plan,
            Err(rejection) => return self.reject(trade, decision, source, rejection, now, out),
        };
        let order_id = self.next_client_order_id();
        let intent = OrderIntent::entry(order_id, market, token, Side::Buy, plan.limit_price, plan.size).copying(
            whale,
            source,
            trade.price,
        );
        match self.risk.check(&intent, now) {
            Decision::Rejected { reason, detail } => {
                let rejection = CopyRejection { reason: RejectReason::Code(reason), detail };
                self.reject(trade, decision, source, rejection, now, out)
            }
            Decision::Approved(approved) => {
                let order = *approved.order();
                let position = PositionId::from(order_id);
                let outcome = self.market.outcome_label(token).unwrap_or(&trade.outcome).to_owned();
                self.portfolio.trades.insert(
                    position,
                    Trade {
                        position,
                        trade_id: trade_id_of(order_id),
                        whale,
                        market,
                        token,
                        outcome,
                        side: Side::Buy,
                        whale_trade_id: source.to_string(),
                        whale_price: trade.price,
                        whale_size: trade.size,
                        entry_size: Decimal::ZERO,
                        entry_cost: Decimal::ZERO,
                        exit_size: Decimal::ZERO,
                        exit_proceeds: Decimal::ZERO,
                        fees: Decimal::ZERO,
                        opened_at: None,
                        exiting: Decimal::ZERO,
                        closed: false,
                        exit_plan: None,
                    },
                );
                let key = Arc::clone(&decision.key);
                let outcome =
                    DecisionOutcome::Copied { side: order.side, size: order.size, price: order.price, mode: self.mode };
                Self::decided(decision, outcome, out);
                self.send(approved, position, OrderPurpose::Entry, Some(key), now, out);
            }
        }
    }
}
