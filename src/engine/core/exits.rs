//! Exits: every exit follows the exit policy (a worst acceptable price, retried and widened for
//! what it leaves unsold, held when below the venue's minimum).

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{ExitReason, Side, TradingState};
use crate::engine::audit::{AuditRecord, ExitDeferred, ExitEscalated, ExitOrder};
use crate::engine::exit_policy::{self, ExitPlan};
use crate::engine::io::Outputs;
use crate::engine::portfolio::{OrderPurpose, Trade};
use crate::risk::{Decision, ExitIntent, PositionId};

use super::Engine;

impl Engine {
    /// Asks for an exit of `size` shares of `position`. The exit follows the exit policy
    /// ([`exit_policy`]): priced at a worst acceptable price, sent again for what it leaves unsold.
    /// A stop or a whale exit that arrives while an earlier try waits for its retry joins it; a kill
    /// or a human's close goes out at once.
    pub(super) fn request_exit(
        &mut self,
        position: PositionId,
        size: Decimal,
        reason: ExitReason,
        now: Timestamp,
        out: &mut Outputs,
    ) {
        let exits = &self.config.risk.exits;
        let Some(trade) = self.portfolio.trades.get_mut(&position) else {
            tracing::warn!(%position, "exit for a position the engine does not know");
            return;
        };
        let free = trade.open_size() - trade.exiting;
        let plan = trade.exit_plan.get_or_insert_with(|| ExitPlan::new(reason, exits));
        // A kill takes over whatever exit was under way; nothing takes over a kill.
        if plan.reason != ExitReason::Kill {
            plan.reason = reason;
        }
        if plan.deferred {
            return;
        }
        if self.closed_markets.contains(&trade.market) {
            // The venue refuses orders in a closed market: the exit waits (the retries skip closed
            // markets) and goes out if the market reopens; its resolution settles the position.
            plan.retry_size = (plan.retry_size + size).min(free);
            plan.retry_at.get_or_insert(now);
            return;
        }
        let urgent = matches!(reason, ExitReason::Kill | ExitReason::Manual);
        if plan.is_waiting(now) && !urgent {
            // Shares asked for now join those the last try left, never more than are held.
            plan.retry_size = (plan.retry_size + size).min(free);
            return;
        }
        self.send_exit(position, size, now, out);
    }

    /// Retries whose time has come (every timer tick): widened first when the tries at the current
    /// bound are used up. A kill's flattening stops when a human resumes.
    pub(super) fn retry_exits(&mut self, now: Timestamp, out: &mut Outputs) {
        let mut due: Vec<PositionId> = self
            .portfolio
            .trades
            .values()
            .filter(|t| t.exit_plan.is_some_and(|p| p.is_due(now)) && !self.closed_markets.contains(&t.market))
            .map(|t| t.position)
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort_unstable();
        let killed = self.risk.trading_state() == TradingState::Killed;
        for position in due {
            let Some(trade) = self.portfolio.trades.get_mut(&position) else { continue };
            let free = trade.open_size() - trade.exiting;
            let Some(plan) = trade.exit_plan.as_mut() else { continue };
            if plan.reason == ExitReason::Kill && !killed {
                tracing::info!(trade_id = %trade.trade_id, "trading resumed: the kill's flattening of this position stops");
                trade.exit_plan = None;
                continue;
            }
            let retry = plan.prepare_retry(&self.config.risk.exits);
            // A kill sells everything; other exits the shares their last try left.
            let size = if plan.reason == ExitReason::Kill { free } else { plan.retry_size.min(free) };
            let (reason, attempts, slippage) = (plan.reason, plan.attempts, plan.slippage_percent);
            if size <= Decimal::ZERO {
                trade.exit_plan = None;
                continue;
            }
            if retry.widened {
                self.status.exits.widenings += 1;
                let record = AuditRecord::ExitEscalated(ExitEscalated {
                    trade_id: trade.trade_id.clone(),
                    reason: reason.as_str().to_owned(),
                    attempts,
                    slippage_percent: slippage,
                    remaining: size,
                    timestamp: now.to_rfc3339(),
                });
                self.emit_audit(record, out);
            }
            self.status.exits.retries += 1;
            self.send_exit(position, size, now, out);
        }
    }

    /// Sends one order of a position's exit: a marketable order on the closing side limited at the
    /// plan's worst acceptable price, after the risk manager has seen it. Shares below the venue's
    /// minimum order size cannot be sold at all: such a rest is held until the market resolves.
    fn send_exit(&mut self, position: PositionId, size: Decimal, now: Timestamp, out: &mut Outputs) {
        let exits = self.config.risk.exits;
        let Some(trade) = self.portfolio.trades.get(&position) else { return };
        let free = trade.open_size() - trade.exiting;
        let rules = self.market.rules(trade.market);
        let Some(plan) = trade.exit_plan else { return };
        let size = match exit_policy::sellable(size.min(free), free, rules.min_order_size) {
            Some(size) => size,
            None if free > Decimal::ZERO => return self.defer_exit(position, free, rules.min_order_size, now, out),
            None => return,
        };
        let side = trade.side.opposite();
        let mark = self.exit_mark(trade, side);
        let limit =
            exit_policy::exit_limit(side, mark, rules.tick_size, plan.slippage_percent, exits.min_slippage_ticks);
        let exit = ExitIntent {
            position,
            whale: Some(trade.whale),
            market: trade.market,
            token: trade.token,
            side,
            size,
            trigger_price: mark,
            reason: plan.reason,
            at: now,
        };
        let order_id = self.next_client_order_id();
        let order = exit.to_order(order_id, limit);
        match self.risk.check(&order, now) {
            Decision::Approved(approved) => {
                let order = *approved.order();
                let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
                trade.exiting += order.size;
                let Some(plan) = trade.exit_plan.as_mut() else { return };
                plan.sent();
                let record = AuditRecord::ExitOrder(ExitOrder {
                    trade_id: trade.trade_id.clone(),
                    attempt: plan.attempts,
                    reason: plan.reason.as_str().to_owned(),
                    size: order.size,
                    limit_price: order.price,
                    mark,
                    slippage_percent: plan.slippage_percent,
                    timestamp: now.to_rfc3339(),
                });
                let reason = plan.reason;
                self.status.exits.orders += 1;
                self.emit_audit(record, out);
                self.send(approved, position, OrderPurpose::Exit(reason), None, now, out);
            }
            Decision::Rejected { reason: code, detail } => {
                self.status.exits.refused += 1;
                let Some(plan) = self.portfolio.trades.get_mut(&position).and_then(|t| t.exit_plan.as_mut()) else {
                    return;
                };
                plan.unfilled(size, now, &exits);
                if plan.refused() {
                    let refusals = plan.refusals;
                    tracing::warn!(%position, reason = %code, %detail, refusals, "the risk manager refused an exit; it is tried again later");
                }
            }
        }
    }

    /// The price an exit's bound is measured from: the best price on the closing side, else the
    /// last price the risk manager saw, else the entry.
    fn exit_mark(&self, trade: &Trade, closing: Side) -> Decimal {
        let prices = self.market.prices(trade.token);
        let best = match closing {
            Side::Sell => prices.and_then(|p| p.best_bid),
            Side::Buy => prices.and_then(|p| p.best_ask),
        };
        best.or_else(|| self.risk.mark(trade.token)).unwrap_or_else(|| trade.avg_entry_price())
    }

    /// What is left of a position is below the venue's minimum order size: the venue refuses any
    /// order for it, so it is held until its market resolves (said once, in the audit trail).
    fn defer_exit(&mut self, position: PositionId, rest: Decimal, minimum: Decimal, now: Timestamp, out: &mut Outputs) {
        let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
        let Some(plan) = trade.exit_plan.as_mut() else { return };
        if plan.deferred {
            return;
        }
        plan.deferred = true;
        plan.retry_at = None;
        let record = AuditRecord::ExitDeferred(ExitDeferred {
            trade_id: trade.trade_id.clone(),
            exit_reason: plan.reason.as_str().to_owned(),
            reason: "below_venue_minimum".to_owned(),
            size: rest,
            min_order_size: minimum,
            timestamp: now.to_rfc3339(),
        });
        self.status.exits.deferred += 1;
        self.emit_audit(record, out);
    }
}
