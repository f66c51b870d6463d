//! Copying a whale's buy: the copy rules plan the order, the risk manager checks it, and an
//! approved one opens a trade and goes out.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{Side, SourceTradeId, TokenId};
use crate::engine::audit::DecisionContext;
use crate::engine::copy_rules::{self, CopyRejection, EntryInputs, RejectReason};
use crate::engine::io::{DecisionOutcome, Outputs, WhaleTradeDecision};
use crate::engine::portfolio::{OrderPurpose, Trade, trade_id_of};
use crate::market::{Regime, WhaleTrade};
use crate::risk::{Decision, OrderIntent, PositionId};

use super::Engine;
use super::whale_trades::Refusal;

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
        let mut context = self.decision_context(token, now);
        let plan = match plan {
            Ok(plan) => plan,
            Err(rejection) => return self.reject(trade, decision, source, Refusal { rejection, context }, now, out),
        };
        context.sized_usd = Some(plan.sized_usd.round_dp(6));
        // Which limit would bind, measured before the check reserves this entry's notional.
        let capacity = self.risk.capacity(Some(whale), market);
        let order_id = self.next_client_order_id();
        let intent = OrderIntent::entry(order_id, market, token, Side::Buy, plan.limit_price, plan.size).copying(
            whale,
            source,
            trade.price,
        );
        match self.risk.check(&intent, now) {
            Decision::Rejected { reason, detail } => {
                let rejection = CopyRejection { reason: RejectReason::Code(reason), detail };
                context.size_cap = Some(if plan.whale_capped { "max_usd_per_trade" } else { "none" }.to_owned());
                self.reject(trade, decision, source, Refusal { rejection, context }, now, out)
            }
            Decision::Approved(approved) => {
                let order = *approved.order();
                let cap = if order.size < approved.requested_size() {
                    capacity.binding.as_str()
                } else if plan.whale_capped {
                    "max_usd_per_trade"
                } else {
                    "none"
                };
                context.size_cap = Some(cap.to_owned());
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
                        decision: context,
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

    /// The sizing rule and the risk state when a whale trade is decided, and the market's regime.
    fn decision_context(&self, token: TokenId, now: Timestamp) -> DecisionContext {
        let (mut open, mut exposure) = (0u64, Decimal::ZERO);
        for position in self.risk.positions() {
            open += 1;
            exposure += position.exposure();
        }
        let regime = self.market.prices(token).map_or(Regime::Unknown, |p| p.regime.classify(now));
        DecisionContext {
            equity_usd: Some(self.risk.equity().round_dp(6)),
            sizing_rule: Some(self.config.copy.sizing.as_str().to_owned()),
            sized_usd: None,
            size_cap: None,
            trading_state: Some(self.risk.trading_state().as_str().to_owned()),
            open_positions: Some(open),
            exposure_usd: Some(exposure.round_dp(6)),
            daily_pnl_usd: Some(self.risk.daily_pnl().round_dp(6)),
            drawdown_percent: Some(self.risk.drawdown_percent().round_dp(4)),
            regime: Some(regime.as_str().to_owned()),
        }
    }

    /// The initial risk of an entry costing `notional`: to the stop loss, or all of it without one.
    pub(super) fn initial_risk(&self, notional: Decimal) -> Decimal {
        use crate::risk::r_multiple::{initial_risk, stop_loss_fraction};
        initial_risk(notional, stop_loss_fraction(self.config.risk.stops.stop_loss_percent))
    }
}
