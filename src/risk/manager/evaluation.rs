//! Market data: a price moves the stops of the positions on its token, then equity is evaluated
//! against the circuit breaker, the daily loss limit and the drawdown protector.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{ExitReason, ReasonCode, TokenId, TradingState, exact};
use crate::risk::breaker::{BreakerSignal, CircuitBreaker};
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
        // A zero change is not added: a zero of another scale added to a zero total would change
        // the total's bits, though not its value, and with them the evaluation's key.
        let change = book.refresh_unrealised();
        if !change.is_zero() {
            self.unrealised_total += change;
        }
        self.evaluate(now);
        &self.exits
    }

    /// Evaluates the breaker, the daily loss limit and drawdown against the current equity; skipped
    /// when none of what they read has changed since the last evaluation (see [`LimitInputs`]).
    #[inline]
    pub(super) fn evaluate(&mut self, now: Timestamp) {
        if self.evaluated == Some(self.limit_inputs()) {
            return;
        }
        self.evaluate_limits(now);
        self.evaluated = Some(self.limit_inputs());
    }

    /// What the loss limits read, as they are now.
    #[inline]
    fn limit_inputs(&self) -> LimitInputs {
        let [peak, halt_floor, emergency_floor] = self.drawdown.levels();
        LimitInputs {
            decimals: [
                Decimal::serialize(&self.unrealised_total),
                Decimal::serialize(&self.realised_total),
                Decimal::serialize(&self.equity_base()),
                Decimal::serialize(&self.start_of_day_equity),
                Decimal::serialize(&self.derived.breaker_threshold),
                Decimal::serialize(&self.derived.breaker_warning),
                Decimal::serialize(&self.derived.daily_loss_limit),
                Decimal::serialize(&peak),
                Decimal::serialize(&halt_floor),
                Decimal::serialize(&emergency_floor),
            ],
            breaker_enabled: self.config.circuit_breaker.enabled,
            breaker: self.breaker,
            state: self.state.state(),
        }
    }

    fn evaluate_limits(&mut self, now: Timestamp) {
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

/// Everything the loss limits decide on: equity's parts, the start-of-day equity and the limits
/// derived from it, the drawdown protector's peak and floors, the breaker and the trading state.
/// The time only stamps what fires. An evaluation on the inputs a previous one left fires nothing:
/// each firing moves the breaker, the peak or the state, and the moved state stands (an open
/// breaker stays quiet, a state does not escalate to itself). So while the inputs are what the last
/// evaluation left, the next is skipped: every price of a token nothing is held in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LimitInputs {
    /// The decimals bit for bit ([`Decimal::serialize`]): the same bits are the same value, and a
    /// value written another way (`1.0`, `1.00`) only costs an evaluation.
    decimals: [[u8; 16]; 10],
    breaker_enabled: bool,
    breaker: CircuitBreaker,
    state: TradingState,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::{ClientOrderId, MarketId, Side};
    use crate::risk::{Fill, OrderIntent, RiskConfig};

    const T0: Timestamp = Timestamp::from_secs(1_700_006_400);

    /// Limits a few cents of price move away, so that random prices trip the breaker, warn, halt
    /// on the daily loss and reach both drawdown floors.
    fn config(breaker_usd: Decimal, breaker_enabled: bool) -> RiskConfig {
        let mut c = RiskConfig { starting_balance_usd: dec!(1000), ..Default::default() };
        c.circuit_breaker.loss_threshold_usd = breaker_usd;
        c.circuit_breaker.enabled = breaker_enabled;
        c.circuit_breaker.cooldown_minutes = 30;
        c.daily_loss.max_daily_loss_usd = dec!(60);
        c.drawdown.max_drawdown_percent = dec!(8);
        c.drawdown.emergency_drawdown_percent = dec!(12);
        c.limits.max_position_size_usd = dec!(200);
        c.limits.max_total_exposure_usd = dec!(600);
        c.limits.max_total_exposure_percent = dec!(90);
        c.limits.max_per_asset_exposure_percent = dec!(50);
        c
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// An entry on token `token` (market `token` too), filled whole at its limit if approved.
        Buy {
            token: u32,
            cents: i64,
            size: i64,
        },
        /// A price of a token; tokens 3 and 4 are never bought, so only watched.
        Price {
            token: u32,
            cents: i64,
        },
        /// The oldest open position closed outside the order flow, with this P&L.
        Close(i64),
        Advance {
            minutes: i64,
        },
        NextDay,
        Halt,
        Resume,
        Reconfigure {
            breaker_usd: i64,
            enabled: bool,
        },
        WalletCash(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u32..3, 20i64..80, 50i64..300).prop_map(|(token, cents, size)| Op::Buy { token, cents, size }),
            10 => (0u32..5, 1i64..99).prop_map(|(token, cents)| Op::Price { token, cents }),
            1 => (-40i64..40).prop_map(Op::Close),
            2 => (0i64..90).prop_map(|minutes| Op::Advance { minutes }),
            1 => Just(Op::NextDay),
            1 => Just(Op::Halt),
            2 => Just(Op::Resume),
            1 => (10i64..50, prop::bool::weighted(0.8))
                .prop_map(|(breaker_usd, enabled)| Op::Reconfigure { breaker_usd, enabled }),
            1 => (500i64..1500).prop_map(Op::WalletCash),
        ]
    }

    /// Applies `op` at `now` and says what came out of it, events included.
    fn apply(rm: &mut RiskManager, op: &Op, now: Timestamp, next_id: &mut u64) -> String {
        let out = match *op {
            Op::Buy { token, cents, size } => {
                *next_id += 1;
                let price = Decimal::new(cents, 2);
                let intent = OrderIntent::entry(
                    ClientOrderId(*next_id),
                    MarketId(token),
                    TokenId(token),
                    Side::Buy,
                    price,
                    Decimal::from(size),
                );
                let decision = rm.check(&intent, now);
                let fill = decision.approved().map(|approved| {
                    let order = approved.order();
                    let fill =
                        Fill { client_order_id: order.client_order_id, price, size: order.size, fee: Decimal::ZERO };
                    rm.on_fill(&fill, now).map(|o| (o.realised_pnl, o.closed)).map_err(|e| e.to_string())
                });
                format!("{decision:?} {fill:?}")
            }
            Op::Price { token, cents } => format!("{:?}", rm.on_price(TokenId(token), Decimal::new(cents, 2), now)),
            Op::Close(pnl) => {
                let oldest = rm.positions().map(|p| p.id).min();
                format!("{:?}", oldest.map(|id| rm.on_close(id, Decimal::from(pnl), now).map(|o| o.realised_pnl)))
            }
            Op::Advance { .. } => String::new(),
            Op::NextDay => format!("{}", rm.roll_over(now)),
            Op::Halt => format!("{:?}", rm.halt("test", now)),
            Op::Resume => format!("{:?}", rm.resume(now)),
            Op::Reconfigure { breaker_usd, enabled } => {
                format!("{:?}", rm.set_config(config(Decimal::from(breaker_usd), enabled)))
            }
            Op::WalletCash(usd) => format!("{:?}", rm.on_wallet_cash(Decimal::from(usd), now)),
        };
        let events: Vec<_> = rm.drain_events().collect();
        format!("{out} {events:?} {:?} {:?}", rm.trading_state(), rm.snapshot())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// The skipped evaluations change nothing: a manager that skips them and one made to
        /// evaluate on every call give the same decisions, exits, events, states and figures
        /// through any sequence of entries, prices of held and watched tokens, closes, cooldowns,
        /// day roll-overs, halts and resumes, reloaded limits and wallet readings.
        #[test]
        fn skipping_an_evaluation_on_unchanged_inputs_changes_nothing(ops in prop::collection::vec(op(), 1..120)) {
            let initial = config(dec!(25), true);
            let mut skipping = RiskManager::new(initial.clone(), T0).unwrap_or_else(|e| panic!("{e}"));
            let mut always = RiskManager::new(initial, T0).unwrap_or_else(|e| panic!("{e}"));
            let (mut now, mut ids_skipping, mut ids_always) = (T0, 0, 0);
            for (i, op) in ops.iter().enumerate() {
                match *op {
                    Op::Advance { minutes } => now = now.plus_millis(minutes * 60_000),
                    Op::NextDay => now = Timestamp((now.millis() / 86_400_000 + 1) * 86_400_000),
                    _ => {}
                }
                always.evaluated = None;
                let a = apply(&mut skipping, op, now, &mut ids_skipping);
                let b = apply(&mut always, op, now, &mut ids_always);
                prop_assert_eq!(a, b, "after op {} ({:?})", i, op);
            }
        }
    }
}
