//! The drawdown protector: tracks peak equity and the losing streak. Drawdown is
//! (peak − equity) ÷ peak; at `max_drawdown_percent` trading is `Halted`, at
//! `emergency_drawdown_percent` it is `Killed` (every position flattened); `max_consecutive_losses`
//! losing trades in a row also halt. The hot path compares equity with precomputed equity floors
//! instead of dividing on every tick.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::config::DrawdownConfig;
use crate::domain::exact;

/// How bad the current drawdown is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawdownLevel {
    Normal,
    Halt,
    Emergency,
}

/// Peak equity, the equity floors derived from it, and the losing streak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawdownProtector {
    pub peak_equity: Decimal,
    pub consecutive_losses: u32,
    #[serde(skip)]
    halt_floor: Decimal,
    #[serde(skip)]
    emergency_floor: Decimal,
}

impl DrawdownProtector {
    pub fn new(config: &DrawdownConfig, peak_equity: Decimal) -> Self {
        let mut protector =
            Self { peak_equity, consecutive_losses: 0, halt_floor: Decimal::ZERO, emergency_floor: Decimal::ZERO };
        protector.refresh_floors(config);
        protector
    }

    /// Recomputes the equity floors (after a new peak, a restore or a config reload).
    pub fn refresh_floors(&mut self, config: &DrawdownConfig) {
        self.halt_floor = floor(self.peak_equity, config.max_drawdown_percent);
        self.emergency_floor = floor(self.peak_equity, config.emergency_drawdown_percent);
    }

    /// What [`DrawdownProtector::update`] compares equity with: the peak, the halt floor and the
    /// emergency floor.
    pub fn levels(&self) -> [Decimal; 3] {
        [self.peak_equity, self.halt_floor, self.emergency_floor]
    }

    /// Records the latest equity: raises the peak if needed and reports the drawdown level.
    pub fn update(&mut self, config: &DrawdownConfig, equity: Decimal) -> DrawdownLevel {
        // On every price: exact comparisons, without rescaling either side.
        if exact::gt(equity, self.peak_equity) {
            self.peak_equity = equity;
            self.refresh_floors(config);
        }
        if self.peak_equity.is_zero() || self.peak_equity.is_sign_negative() {
            return DrawdownLevel::Normal;
        }
        if exact::le(equity, self.emergency_floor) {
            DrawdownLevel::Emergency
        } else if exact::le(equity, self.halt_floor) {
            DrawdownLevel::Halt
        } else {
            DrawdownLevel::Normal
        }
    }

    /// Drawdown in percent, for metrics and details (divides; not on the hot path).
    pub fn drawdown_percent(&self, equity: Decimal) -> Decimal {
        if self.peak_equity <= Decimal::ZERO {
            return Decimal::ZERO;
        }
        ((self.peak_equity - equity) / self.peak_equity * Decimal::ONE_HUNDRED).max(Decimal::ZERO)
    }

    /// Records a closed trade; returns true when the losing streak reaches the limit.
    pub fn record_trade(&mut self, config: &DrawdownConfig, realised_pnl: Decimal) -> bool {
        if realised_pnl < Decimal::ZERO {
            self.consecutive_losses = self.consecutive_losses.saturating_add(1);
        } else {
            self.consecutive_losses = 0;
        }
        config.max_consecutive_losses > 0 && self.consecutive_losses >= config.max_consecutive_losses
    }

    /// A human resumed trading: the drawdown is acknowledged (peak rebased) and the streak reset.
    pub fn reset_by_human(&mut self, config: &DrawdownConfig, equity: Decimal) {
        self.peak_equity = equity;
        self.consecutive_losses = 0;
        self.refresh_floors(config);
    }
}

/// The equity at which drawdown from `peak` reaches `percent`.
fn floor(peak: Decimal, percent: Decimal) -> Decimal {
    peak * (Decimal::ONE_HUNDRED - percent) / Decimal::ONE_HUNDRED
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn levels_at_exact_boundaries() {
        let config = DrawdownConfig::default();
        let table = [
            (dec!(8500.01), DrawdownLevel::Normal), // 14.9999 %
            (dec!(8500), DrawdownLevel::Halt),      // exactly 15 %
            (dec!(8480), DrawdownLevel::Halt),      // 15.2 %
            (dec!(8000.01), DrawdownLevel::Halt),
            (dec!(8000), DrawdownLevel::Emergency), // exactly 20 %
        ];
        for (equity, level) in table {
            let mut p = DrawdownProtector::new(&config, dec!(10000));
            assert_eq!(p.update(&config, equity), level, "equity {equity}");
        }
        let p = DrawdownProtector::new(&config, dec!(10000));
        assert_eq!(p.drawdown_percent(dec!(8480)), dec!(15.2));
    }

    #[test]
    fn peak_only_rises() {
        let config = DrawdownConfig::default();
        let mut p = DrawdownProtector::new(&config, dec!(100));
        p.update(&config, dec!(120));
        p.update(&config, dec!(110));
        assert_eq!(p.peak_equity, dec!(120));
        assert_eq!(p.update(&config, dec!(102)), DrawdownLevel::Halt); // 15 % of 120 = 18
    }

    #[test]
    fn losing_streak_halts_at_the_limit() {
        let config = DrawdownConfig::default();
        let mut p = DrawdownProtector::new(&config, dec!(100));
        for _ in 0..4 {
            assert!(!p.record_trade(&config, dec!(-1)));
        }
        assert!(!p.record_trade(&config, dec!(0)), "a flat trade ends the streak");
        for _ in 0..4 {
            assert!(!p.record_trade(&config, dec!(-0.01)));
        }
        assert!(p.record_trade(&config, dec!(-0.01)));
    }
}
