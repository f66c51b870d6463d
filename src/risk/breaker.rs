//! The circuit breaker: trips when today's P&L (realised plus unrealised, evaluated on every price
//! update) falls below minus the loss threshold. The threshold is the stricter of
//! `loss_threshold_usd` and `loss_threshold_percent` of start-of-day equity. A first trip asks for
//! `Reducing` during `cooldown_minutes`, after which the breaker re-arms by itself; a second trip on
//! the same trading day latches (`Halted` until a human resumes). A warning fires once per arming
//! when the loss reaches `warning_percent` of the threshold.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::exact;

use super::config::CircuitBreakerConfig;

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// What one evaluation of the breaker found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerSignal {
    Quiet,
    /// The loss reached the warning level (once per arming).
    Warning,
    /// First trip today: `Reducing` until `until`.
    Tripped {
        until: Timestamp,
    },
    /// Second trip today: `Halted` until a human resumes.
    Latched,
}

/// The breaker's state (persisted as part of the risk state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreaker {
    pub trips_today: u32,
    pub trips_total: u64,
    /// While `Some`, the breaker is open (cooling down) until this time.
    pub open_until: Option<Timestamp>,
    /// Latched by a second trip the same day; only a human resume clears it.
    pub latched: bool,
    /// The warning already fired for this arming.
    pub warned: bool,
}

/// The loss (a positive USD amount) beyond which the breaker trips: the stricter of the two limits.
pub fn loss_threshold(config: &CircuitBreakerConfig, start_of_day_equity: Decimal) -> Decimal {
    let by_percent = (start_of_day_equity * config.loss_threshold_percent / HUNDRED).max(Decimal::ZERO);
    config.loss_threshold_usd.min(by_percent)
}

impl CircuitBreaker {
    pub fn is_open(&self) -> bool {
        self.open_until.is_some() || self.latched
    }

    /// Re-arms the breaker when its cooldown is over; true when it just re-armed.
    pub fn poll_cooldown(&mut self, now: Timestamp) -> bool {
        match self.open_until {
            Some(until) if now >= until => {
                self.open_until = None;
                self.warned = false;
                true
            }
            _ => false,
        }
    }

    /// Evaluates today's P&L against the precomputed `threshold` (see [`loss_threshold`]) and
    /// `warning_level` (the loss at which the warning fires).
    pub fn evaluate(
        &mut self,
        config: &CircuitBreakerConfig,
        daily_pnl: Decimal,
        threshold: Decimal,
        warning_level: Decimal,
        now: Timestamp,
    ) -> BreakerSignal {
        if !config.enabled || self.is_open() {
            return BreakerSignal::Quiet;
        }
        let loss = -daily_pnl;
        // On every price: exact comparisons, without rescaling either side.
        if exact::gt(loss, threshold) {
            self.trips_today = self.trips_today.saturating_add(1);
            self.trips_total = self.trips_total.saturating_add(1);
            if self.trips_today >= 2 {
                self.latched = true;
                return BreakerSignal::Latched;
            }
            let until = now.plus_secs(i64::from(config.cooldown_minutes) * 60);
            self.open_until = Some(until);
            return BreakerSignal::Tripped { until };
        }
        if !self.warned && exact::le(warning_level, loss) && loss.is_sign_positive() && !loss.is_zero() {
            self.warned = true;
            return BreakerSignal::Warning;
        }
        BreakerSignal::Quiet
    }

    /// A new trading day: the trip count and warning start over (a latch stays until a human acts).
    pub fn new_day(&mut self) {
        self.trips_today = 0;
        self.warned = false;
    }

    /// A human resumed trading: the latch is cleared and the breaker re-armed.
    pub fn reset_by_human(&mut self) {
        self.latched = false;
        self.open_until = None;
        self.trips_today = 0;
        self.warned = false;
    }
}

/// The loss at which the warning fires: `warning_percent` of the threshold.
pub fn warning_level(config: &CircuitBreakerConfig, threshold: Decimal) -> Decimal {
    threshold * config.warning_percent / HUNDRED
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn eval(b: &mut CircuitBreaker, pnl: Decimal, now: i64) -> BreakerSignal {
        let config = CircuitBreakerConfig::default();
        let threshold = loss_threshold(&config, dec!(10000));
        b.evaluate(&config, pnl, threshold, warning_level(&config, threshold), Timestamp(now))
    }

    #[test]
    fn threshold_is_the_stricter_limit() {
        let config = CircuitBreakerConfig::default();
        assert_eq!(loss_threshold(&config, dec!(10000)), dec!(300)); // 3 % of 10k < $500
        assert_eq!(loss_threshold(&config, dec!(20000)), dec!(500)); // $500 < 3 % of 20k
        assert_eq!(loss_threshold(&config, dec!(-5)), dec!(0));
    }

    #[test]
    fn trips_one_cent_past_the_threshold_not_at_it() {
        let table = [
            (dec!(-239.99), BreakerSignal::Quiet),
            (dec!(-240), BreakerSignal::Warning), // 80 % of 300
            (dec!(-300), BreakerSignal::Quiet),   // at the threshold, warning already given
            (dec!(-300.01), BreakerSignal::Tripped { until: Timestamp(3_600_000) }),
        ];
        let mut b = CircuitBreaker::default();
        for (pnl, expected) in table {
            assert_eq!(eval(&mut b, pnl, 0), expected, "pnl {pnl}");
        }
        assert_eq!((b.trips_today, b.trips_total), (1, 1));
    }

    #[test]
    fn rearms_after_cooldown_and_latches_on_second_trip() {
        let mut b = CircuitBreaker::default();
        assert!(matches!(eval(&mut b, dec!(-400), 0), BreakerSignal::Tripped { .. }));
        assert_eq!(eval(&mut b, dec!(-900), 1000), BreakerSignal::Quiet, "open breakers do not trip again");
        assert!(!b.poll_cooldown(Timestamp(3_599_999)));
        assert!(b.poll_cooldown(Timestamp(3_600_000)));
        assert_eq!(eval(&mut b, dec!(-400), 3_600_000), BreakerSignal::Latched);
        assert!(b.is_open());
        b.new_day();
        assert!(b.latched, "a latch survives midnight");
        b.reset_by_human();
        assert!(!b.is_open());
    }

    #[test]
    fn disabled_breaker_never_trips() {
        let config = CircuitBreakerConfig { enabled: false, ..Default::default() };
        let mut b = CircuitBreaker::default();
        assert_eq!(b.evaluate(&config, dec!(-1e6), dec!(1), dec!(0.8), Timestamp(0)), BreakerSignal::Quiet);
    }
}
