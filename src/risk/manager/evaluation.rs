//! Market data: a price moves the stops of the positions on its token, then equity is evaluated
//! against the circuit breaker, the daily loss limit and the drawdown protector.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{ExitReason, ReasonCode, TokenId, TradingState, exact};
use crate::risk::breaker::BreakerSignal;
use crate::risk::daily_loss::is_breached;
use crate::risk::drawdown::DrawdownLevel;
use crate::risk::order::ExitIntent;
use crate::risk::positions::Position;

use super::{RiskEvent, RiskManager};

impl RiskManager {
    /// A new price for `token`: moves stops, updates unrealised P&L and evaluates the breaker, the
    /// daily loss limit and the drawdown protector. Returns the exits to send (stop-loss,
    /// take-profit, trailing stop, or every position after an emergency kill). Cost is
    /// O(positions on `token`). Prices outside (0, 1) are ignored and counted.
    pub fn on_price(&mut self, token: TokenId, price: Decimal, now: Timestamp) -> &[ExitIntent] {
        self.exits.clear();
        self.tick_clock(now);
        if !exact::inside_unit_interval(price) {
            self.ignored_prices += 1;
            return &self.exits;
        }
        let book = self.tokens.entry(token).or_default();
        book.mark = Some(price);
        book.marked_at = now;
        for position in book.positions.iter_mut() {
            if position.size.is_zero() || position.exit_signalled.is_some() {
                continue;
            }
            if let Some(reason) = position.stops.on_price(position.side, price) {
                let size = position.available();
                if size > Decimal::ZERO {
                    position.exit_signalled = Some(reason);
                    self.exits.push(exit_intent(position, size, price, reason, now));
                }
            }
        }
        self.unrealised_total += book.refresh_unrealised();
        self.evaluate(now);
        &self.exits
    }

    /// Evaluates the breaker, the daily loss limit and drawdown against the current equity.
    #[inline]
    pub(super) fn evaluate(&mut self, now: Timestamp) {
        let equity = self.equity();
        let daily = equity - self.start_of_day_equity;
        let threshold = self.derived.breaker_threshold;
        match self.breaker.evaluate(&self.config.circuit_breaker, daily, threshold, self.derived.breaker_warning, now) {
            BreakerSignal::Quiet => {}
            BreakerSignal::Warning => {
                self.events.push(RiskEvent::BreakerWarning { daily_pnl: daily, threshold_usd: threshold, at: now });
            }
            BreakerSignal::Tripped { until } => {
                self.escalate(TradingState::Reducing, ReasonCode::CircuitBreakerTripped, now, || {
                    format!("today's P&L {daily} is below -{threshold}; reducing until {until}")
                })
            }
            BreakerSignal::Latched => {
                self.escalate(TradingState::Halted, ReasonCode::CircuitBreakerTripped, now, || {
                    format!("second circuit-breaker trip today: P&L {daily} below -{threshold}; halted until resumed")
                })
            }
        }
        let limit = self.derived.daily_loss_limit;
        if is_breached(daily, limit) {
            self.escalate(TradingState::Halted, ReasonCode::DailyLossLimit, now, || {
                format!("today's P&L {daily} is below the daily loss limit -{limit}; halted until the next trading day")
            });
        }
        match self.drawdown.update(&self.config.drawdown, equity) {
            DrawdownLevel::Normal => {}
            DrawdownLevel::Halt => {
                let (dd, max) = (self.drawdown.drawdown_percent(equity), self.config.drawdown.max_drawdown_percent);
                self.escalate(TradingState::Halted, ReasonCode::MaxDrawdown, now, || {
                    format!("drawdown {}% reached max_drawdown_percent {max}%", dd.round_dp(2))
                });
            }
            DrawdownLevel::Emergency => {
                let (dd, max) =
                    (self.drawdown.drawdown_percent(equity), self.config.drawdown.emergency_drawdown_percent);
                let before = self.state.state();
                self.escalate(TradingState::Killed, ReasonCode::EmergencyDrawdown, now, || {
                    format!(
                        "drawdown {}% reached emergency_drawdown_percent {max}%: flattening everything",
                        dd.round_dp(2)
                    )
                });
                if before != TradingState::Killed {
                    self.push_kill_exits(now);
                }
            }
        }
    }

    pub(super) fn escalate(
        &mut self,
        to: TradingState,
        reason: ReasonCode,
        now: Timestamp,
        detail: impl FnOnce() -> String,
    ) {
        if let Some(t) = self.state.escalate(to, reason, detail, now) {
            self.events.push(RiskEvent::Transition(t));
        }
    }

    /// Appends an exit for every position that still has shares not being exited.
    pub(super) fn push_kill_exits(&mut self, now: Timestamp) {
        for book in self.tokens.values_mut() {
            let mark = book.mark;
            for position in book.positions.iter_mut() {
                let size = position.available();
                if size > Decimal::ZERO {
                    position.exit_signalled = Some(ExitReason::Kill);
                    let price = mark.unwrap_or(position.entry_price);
                    self.exits.push(exit_intent(position, size, price, ExitReason::Kill, now));
                }
            }
        }
        self.exits.sort_by_key(|e| e.position);
    }
}

pub(super) fn exit_intent(
    position: &Position,
    size: Decimal,
    price: Decimal,
    reason: ExitReason,
    now: Timestamp,
) -> ExitIntent {
    ExitIntent {
        position: position.id,
        whale: position.whale,
        market: position.market,
        token: position.token,
        side: position.side.opposite(),
        size,
        trigger_price: price,
        reason,
        at: now,
    }
}
