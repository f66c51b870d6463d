//! Fill accounting: fills, finished orders and outside closes move positions, exposure and P&L.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{ClientOrderId, ReasonCode, TokenId, TradingState};
use crate::risk::error::RiskError;
use crate::risk::order::{Fill, FillOutcome, PositionId, WorkingKind, WorkingOrder};
use crate::risk::safeguards::MAX_QUANTITY;
use crate::risk::stops::direction;
use crate::risk::whales::ClosedCopy;

use super::RiskManager;

impl RiskManager {
    /// An execution report for an approved order: updates the position, exposure and P&L, and
    /// re-evaluates the loss limits (a losing streak that reaches its limit halts trading).
    pub fn on_fill(&mut self, fill: &Fill, now: Timestamp) -> Result<FillOutcome, RiskError> {
        if fill.price <= Decimal::ZERO || fill.price >= Decimal::ONE {
            return Err(RiskError::input("fill.price", fill.price, "must be inside (0, 1)"));
        }
        if fill.size <= Decimal::ZERO || fill.size > MAX_QUANTITY {
            return Err(RiskError::input("fill.size", fill.size, "must be above 0 and at most 10^12"));
        }
        if fill.fee < Decimal::ZERO || fill.fee > MAX_QUANTITY {
            return Err(RiskError::input("fill.fee", fill.fee, "must be at least 0 and at most 10^12"));
        }
        self.tick_clock(now);
        let order = *self.orders.get(&fill.client_order_id).ok_or(RiskError::UnknownOrder(fill.client_order_id))?;
        let outcome = match order.kind {
            WorkingKind::Entry => self.fill_entry(&order, fill, now),
            WorkingKind::Exit => self.fill_exit(&order, fill, now),
        };
        let remaining = (order.remaining - fill.size).max(Decimal::ZERO);
        if remaining.is_zero() {
            self.orders.remove(&fill.client_order_id);
        } else if let Some(working) = self.orders.get_mut(&fill.client_order_id) {
            working.remaining = remaining;
        }
        let outcome = outcome?;
        self.evaluate(now);
        Ok(outcome)
    }

    fn fill_entry(&mut self, order: &WorkingOrder, fill: &Fill, now: Timestamp) -> Result<FillOutcome, RiskError> {
        let book = self.tokens.get_mut(&order.token).ok_or(RiskError::UnknownPosition(order.position))?;
        let position = book.find_mut(order.position).ok_or(RiskError::UnknownPosition(order.position))?;
        let cost = fill.size * fill.price;
        let released = (fill.size.min(position.pending_entry) * order.price).min(position.reserved);
        let first_fill = position.size.is_zero();
        position.size += fill.size;
        position.cost += cost;
        position.pending_entry = (position.pending_entry - fill.size).max(Decimal::ZERO);
        position.reserved -= released;
        position.realised -= fill.fee;
        position.bought += fill.size;
        position.fees += fill.fee;
        if let Some(average) = position.cost.checked_div(position.size) {
            position.entry_price = average;
        }
        let (side, entry) = (position.side, position.entry_price);
        if first_fill {
            position.stops.anchor(side, fill.price);
        } else {
            // Later partial fills move the levels with the volume-weighted entry.
            position.stops.reprice(side, entry);
        }
        let (whale, market) = (position.whale, position.market);
        if first_fill && let Some(whale) = whale {
            self.whales.copy_opened(whale);
        }
        let sign = direction(side);
        book.net_size += sign * fill.size;
        book.net_cost += sign * cost;
        if book.mark.is_none() {
            // Until the first tick, the fill is the freshest price we know.
            book.mark = Some(fill.price);
            book.marked_at = now;
        }
        self.unrealised_total += book.refresh_unrealised();
        self.book.change_exposure(whale, market, cost - released);
        self.book_realised(-fill.fee);
        Ok(FillOutcome { position: order.position, realised_pnl: -fill.fee, closed: false })
    }

    fn fill_exit(&mut self, order: &WorkingOrder, fill: &Fill, now: Timestamp) -> Result<FillOutcome, RiskError> {
        let book = self.tokens.get_mut(&order.token).ok_or(RiskError::UnknownPosition(order.position))?;
        let position = book.find_mut(order.position).ok_or(RiskError::UnknownPosition(order.position))?;
        let shares = fill.size.min(position.size);
        let cost_out = if shares == position.size { position.cost } else { shares * position.entry_price };
        let sign = direction(position.side);
        let pnl = sign * (shares * fill.price - cost_out) - fill.fee;
        position.size -= shares;
        position.cost -= cost_out;
        position.exiting = (position.exiting - fill.size).max(Decimal::ZERO);
        position.realised += pnl;
        position.fees += fill.fee;
        let (whale, market) = (position.whale, position.market);
        let done = position.size.is_zero() && position.pending_entry.is_zero();
        book.net_size -= sign * shares;
        book.net_cost -= sign * cost_out;
        self.unrealised_total += book.refresh_unrealised();
        self.book.change_exposure(whale, market, -cost_out);
        self.book_realised(pnl);
        if done {
            self.finish_position(order.token, order.position, now);
        }
        Ok(FillOutcome { position: order.position, realised_pnl: pnl, closed: done })
    }

    pub(super) fn book_realised(&mut self, pnl: Decimal) {
        self.realised_total += pnl;
        self.realised_today += pnl;
    }

    /// Removes a position that has no shares and nothing pending, and scores the closed trade.
    fn finish_position(&mut self, token: TokenId, id: PositionId, now: Timestamp) {
        let Some(position) = self.tokens.get_mut(&token).and_then(|b| b.remove(id)) else { return };
        self.position_tokens.remove(&id);
        if !position.reserved.is_zero() || !position.cost.is_zero() {
            self.book.change_exposure(position.whale, position.market, -(position.reserved + position.cost));
        }
        self.book.close(position.whale, position.market, position.token, position.side);
        if let Some(whale) = position.whale.filter(|_| !position.bought.is_zero()) {
            let copy = ClosedCopy {
                whale,
                realised: position.realised,
                fees: position.fees,
                shares: position.bought,
                entry_price: position.entry_price,
                whale_price: position.whale_price,
                direction: direction(position.side),
                opened_at: position.opened_at,
                closed_at: now,
            };
            let allocation = self.whale_allocation(Some(whale));
            self.whales.copy_closed(&copy, allocation, &self.config.whales, &mut self.whale_changes);
            self.queue_whale_changes();
        }
        if self.drawdown.record_trade(&self.config.drawdown, position.realised) {
            let (streak, max) = (self.drawdown.consecutive_losses, self.config.drawdown.max_consecutive_losses);
            self.escalate(TradingState::Halted, ReasonCode::ConsecutiveLosses, now, || {
                format!("{streak} losing trades in a row reached max_consecutive_losses {max}")
            });
        }
    }

    /// An approved order is finished with a part unfilled (cancelled, expired, refused by the
    /// venue, or partly filled and then done): the unfilled part of an entry gives back its
    /// reserved exposure and daily allocation (and an entry that never filled frees its position
    /// slot); an exit's unfilled part may be exited again. An order whose fills covered its whole
    /// size was already finished by its last [`RiskManager::on_fill`]: calling this for it
    /// answers [`RiskError::UnknownOrder`], so a caller that reports every "done" should skip
    /// fully filled orders (or treat that answer as expected for them).
    pub fn on_order_done(&mut self, order: ClientOrderId) -> Result<(), RiskError> {
        let working = self.orders.remove(&order).ok_or(RiskError::UnknownOrder(order))?;
        let Some(book) = self.tokens.get_mut(&working.token) else { return Ok(()) };
        let Some(position) = book.find_mut(working.position) else { return Ok(()) };
        match working.kind {
            WorkingKind::Entry => {
                let released = position.reserved;
                position.reserved = Decimal::ZERO;
                position.pending_entry = Decimal::ZERO;
                let (whale, market, empty) = (position.whale, position.market, position.size.is_zero());
                self.book.change_exposure(whale, market, -released);
                self.book.refund_allocation(whale, released);
                if empty {
                    // Never filled: not a trade, so it does not count for the losing streak.
                    if let Some(position) = book.remove(working.position) {
                        self.position_tokens.remove(&position.id);
                        self.book.close(position.whale, position.market, position.token, position.side);
                    }
                }
            }
            WorkingKind::Exit => {
                position.exiting = (position.exiting - working.remaining).max(Decimal::ZERO);
                position.exit_signalled = None;
            }
        }
        Ok(())
    }

    /// A position closed outside the order flow (market resolved and redeemed, or reconciled):
    /// books `realised_pnl` for it and removes it. Its working orders are forgotten (the engine
    /// cancels them; their late fills are reported as unknown orders).
    pub fn on_close(
        &mut self,
        id: PositionId,
        realised_pnl: Decimal,
        now: Timestamp,
    ) -> Result<FillOutcome, RiskError> {
        self.tick_clock(now);
        let token = *self.position_tokens.get(&id).ok_or(RiskError::UnknownPosition(id))?;
        let book = self.tokens.get_mut(&token).ok_or(RiskError::UnknownPosition(id))?;
        let position = book.find_mut(id).ok_or(RiskError::UnknownPosition(id))?;
        let sign = direction(position.side);
        let (size, cost, reserved) = (position.size, position.cost, position.reserved);
        let (whale, market) = (position.whale, position.market);
        position.realised += realised_pnl;
        position.size = Decimal::ZERO;
        position.cost = Decimal::ZERO;
        position.reserved = Decimal::ZERO;
        position.pending_entry = Decimal::ZERO;
        position.exiting = Decimal::ZERO;
        book.net_size -= sign * size;
        book.net_cost -= sign * cost;
        self.unrealised_total += book.refresh_unrealised();
        self.book.change_exposure(whale, market, -(cost + reserved));
        self.book_realised(realised_pnl);
        self.orders.retain(|_, o| o.position != id);
        self.finish_position(token, id, now);
        self.evaluate(now);
        Ok(FillOutcome { position: id, realised_pnl, closed: true })
    }
}
