//! Fills: execution reports move the trade, the risk manager's books and the store's position;
//! finished orders open trades, leave exits to retry, or close trades.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::ExitReason;
use crate::engine::audit::{AuditRecord, TradeClosed, TradeOpened};
use crate::engine::exit_policy::ExitPlan;
use crate::engine::io::{EngineEvent, ExecutionReport, Outputs, PositionClose, PositionUpdate};
use crate::engine::portfolio::OrderPurpose;
use crate::risk::{Fill, PositionId};

use super::Engine;

impl Engine {
    pub(super) fn on_execution(&mut self, report: &ExecutionReport, now: Timestamp, out: &mut Outputs) {
        let Some(pending) = self.portfolio.pending.get_mut(&report.client_order_id) else {
            tracing::warn!(order = %report.client_order_id, "execution report for an order not in flight, ignored");
            return;
        };
        let position = pending.position;
        let purpose = pending.purpose;
        let ordered = pending.intent.size;
        if report.filled_size > Decimal::ZERO {
            pending.filled += report.filled_size;
            pending.filled_notional += report.filled_size * report.avg_price;
            pending.fills += 1;
            let fill_seq = pending.fills;
            let fill = Fill {
                client_order_id: report.client_order_id,
                price: report.avg_price,
                size: report.filled_size,
                fee: report.fee,
            };
            let outcome = self.risk.on_fill(&fill, now);
            if let Err(e) = &outcome {
                tracing::error!(order = %report.client_order_id, error = %e, "the risk manager refused a fill");
            }
            let realised = outcome.as_ref().map(|o| o.realised_pnl).unwrap_or_default();
            let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
            let notional = report.avg_price * report.filled_size;
            trade.fees += report.fee;
            match purpose {
                OrderPurpose::Entry => {
                    trade.entry_size += report.filled_size;
                    trade.entry_cost += notional;
                    trade.opened_at.get_or_insert(now);
                }
                OrderPurpose::Exit(_) => {
                    trade.exit_size += report.filled_size;
                    trade.exit_proceeds += notional;
                    trade.exiting = (trade.exiting - report.filled_size).max(Decimal::ZERO);
                }
            }
            let closed = matches!(purpose, OrderPurpose::Exit(_)) && trade.open_size() <= Decimal::ZERO;
            out.events.push(EngineEvent::FillApplied {
                report: report.clone(),
                trade_id: trade.trade_id.clone(),
                fill_seq,
                realised_pnl: realised,
                position_closed: closed,
            });
            if let (true, OrderPurpose::Exit(reason)) = (closed, purpose) {
                self.close_trade(position, reason, now, out);
            } else if let Some(update) = self.position_update(position, None) {
                out.events.push(EngineEvent::PositionUpdated(Box::new(update)));
            }
        }
        if report.done {
            let finished = self.portfolio.pending.remove(&report.client_order_id);
            if let Some(order) = &finished {
                self.portfolio.order_ended(order.intent.token, now);
            }
            let filled = finished.map(|p| p.filled).unwrap_or_default();
            out.events.push(EngineEvent::OrderFinished {
                client_order_id: report.client_order_id,
                filled,
                ordered,
                at: now,
            });
            // A fully filled order already left the risk manager's working orders with its last fill.
            if filled < ordered
                && let Err(e) = self.risk.on_order_done(report.client_order_id)
            {
                tracing::warn!(order = %report.client_order_id, error = %e, "the risk manager did not know the finished order");
            }
            match purpose {
                OrderPurpose::Entry => self.finish_entry(position, now, out),
                OrderPurpose::Exit(reason) => self.finish_exit_order(position, reason, ordered - filled, now),
            }
        }
    }

    /// An exit order is finished with `unsold` of its shares left: they are sent again after the
    /// policy's wait; an exit that sold everything it asked for is over.
    fn finish_exit_order(&mut self, position: PositionId, reason: ExitReason, unsold: Decimal, now: Timestamp) {
        let exits = &self.config.risk.exits;
        // A closed position is gone already: its exit ended with it.
        let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
        trade.exiting = (trade.exiting - unsold).max(Decimal::ZERO);
        if unsold > Decimal::ZERO {
            self.status.exits.unfilled += 1;
            let plan = trade.exit_plan.get_or_insert_with(|| ExitPlan::new(reason, exits));
            plan.unfilled(unsold, now, exits);
            tracing::info!(
                trade_id = %trade.trade_id,
                %unsold,
                attempts = plan.attempts,
                retry_in_secs = exits.retry_after_secs,
                "exit left shares unsold; sending them again"
            );
        } else if trade.exit_plan.is_some_and(|p| p.retry_at.is_none()) {
            trade.exit_plan = None;
        }
    }

    fn finish_entry(&mut self, position: PositionId, now: Timestamp, out: &mut Outputs) {
        let Some(trade) = self.portfolio.trades.get(&position) else { return };
        if trade.entry_size.is_zero() {
            tracing::info!(trade_id = %trade.trade_id, "entry finished without a fill; no position opened");
            self.portfolio.trades.remove(&position);
            return;
        }
        self.status.trades_opened += 1;
        let record = AuditRecord::TradeOpened(TradeOpened {
            trade_id: trade.trade_id.clone(),
            whale_trade_id: trade.whale_trade_id.clone(),
            whale_address: self.interner.whale_name(trade.whale).unwrap_or_default().to_owned(),
            market_id: self.interner.market_name(trade.market).unwrap_or_default().to_owned(),
            token_id: self.interner.token_name(trade.token).unwrap_or_default().to_owned(),
            whale_label: self.whale_label_of(trade.whale),
            market_title: self.market_title_of(trade.market),
            outcome: trade.outcome.clone(),
            side: trade.side.as_str().to_ascii_uppercase(),
            size: trade.entry_size,
            price: trade.avg_entry_price().round_dp(6),
            notional_usd: trade.entry_cost.round_dp(6),
            whale_price: trade.whale_price,
            whale_size: trade.whale_size,
            slippage_usd: trade.copy_slippage_usd().map(|s| s.round_dp(6)),
            mode: self.mode.as_str().to_owned(),
            timestamp: now.to_rfc3339(),
            risk_usd: Some(self.initial_risk(trade.entry_cost).round_dp(6)),
            context: Box::new(trade.decision.clone()),
        });
        self.emit_audit(record, out);
    }

    /// The store's view of a position; `close` when it has just ended.
    pub(super) fn position_update(&self, position: PositionId, close: Option<PositionClose>) -> Option<PositionUpdate> {
        let trade = self.portfolio.trades.get(&position)?;
        let opened_at = trade.opened_at?;
        Some(PositionUpdate {
            trade_id: trade.trade_id.clone(),
            whale: trade.whale,
            market: trade.market,
            token: trade.token,
            outcome: trade.outcome.clone(),
            side: trade.side,
            entry_size: trade.entry_size,
            open_size: trade.open_size(),
            avg_entry_price: trade.avg_entry_price(),
            opened_at,
            high_water: self.risk.position(position).map(|p| p.stops.best_price),
            close,
        })
    }

    pub(super) fn close_trade(&mut self, position: PositionId, reason: ExitReason, now: Timestamp, out: &mut Outputs) {
        let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
        trade.closed = true;
        let pnl = trade.realised_pnl();
        let close = PositionClose { exit_price: trade.avg_exit_price(), realised_pnl: pnl, closed_at: now, reason };
        if let Some(update) = self.position_update(position, Some(close)) {
            out.events.push(EngineEvent::PositionUpdated(Box::new(update)));
        }
        let Some(trade) = self.portfolio.trades.get(&position) else { return };
        let hold_ms = trade.opened_at.map_or(0, |at| now.millis_since(at));
        let slippage = trade.copy_slippage_usd();
        let record = AuditRecord::TradeClosed(TradeClosed {
            trade_id: trade.trade_id.clone(),
            whale_address: self.interner.whale_name(trade.whale).unwrap_or_default().to_owned(),
            whale_label: self.whale_label_of(trade.whale),
            market_id: self.interner.market_name(trade.market).unwrap_or_default().to_owned(),
            market_title: self.market_title_of(trade.market),
            outcome: self.outcome_of(trade.token, &trade.outcome),
            exit_price: trade.avg_exit_price().round_dp(6),
            pnl_usd: pnl.round_dp(6),
            slippage_usd: slippage.map(|s| s.round_dp(6)),
            whale_pnl_usd: slippage.map(|s| (pnl + trade.fees + s).round_dp(6)),
            hold_time_seconds: hold_ms / 1000,
            reason: reason.as_str().to_owned(),
            timestamp: now.to_rfc3339(),
        });
        self.status.trades_closed += 1;
        self.status.realised_pnl_usd += pnl;
        // Closed trades are dropped: the store keeps their history; the engine only needs the open ones.
        self.portfolio.trades.remove(&position);
        self.emit_audit(record, out);
    }
}
