//! Per-position stops: stop-loss, take-profit and a trailing stop that only ratchets in the
//! favourable direction. Levels are prices computed once from the entry price (again when a partial
//! fill moves the average entry), so that a price tick costs a few comparisons and, on a new best
//! price, one multiplication.
//!
//! Why the trailing stop waits for a profit: armed at entry, a 5 % trail would always fire before a
//! 10 % stop-loss and turn the stop-loss into dead configuration. It arms once the best price is
//! more than `trailing_activation_percent` beyond the entry (default 0: any favourable move).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{ExitReason, Side};

use super::config::StopsConfig;
use super::order::StopOverrides;

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// The stop levels of one position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopLevels {
    pub stop_loss_percent: Decimal,
    pub take_profit_percent: Decimal,
    pub trailing_stop_percent: Decimal,
    pub activation_percent: Decimal,
    pub stop_loss_price: Decimal,
    pub take_profit_price: Decimal,
    /// The trailing stop arms once the best price is beyond this.
    pub activation_price: Decimal,
    /// The best price since entry: highest for a long, lowest for a short.
    pub best_price: Decimal,
    /// The trailing stop, once armed; it only ever tightens.
    pub trailing_stop_price: Option<Decimal>,
    /// best_price × this = the trailing stop candidate (precomputed: no division per tick).
    trail_factor: Decimal,
}

/// The multipliers of the entry price that give one side's stop levels for one set of percents.
/// Computing them costs four shifts and four decimal additions, so the configured stops' factors
/// are computed once per config ([`DefaultStops`]) and an entry only multiplies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopFactors {
    stop_loss: Decimal,
    take_profit: Decimal,
    activation: Decimal,
    trail: Decimal,
}

impl StopFactors {
    pub fn new(
        side: Side,
        stop_loss_percent: Decimal,
        take_profit_percent: Decimal,
        activation_percent: Decimal,
        trailing_stop_percent: Decimal,
    ) -> Self {
        let stop_loss = fraction(stop_loss_percent);
        let take_profit = fraction(take_profit_percent);
        let activation = fraction(activation_percent);
        let trail = fraction(trailing_stop_percent);
        // Multipliers of the entry price: losses are below it for a long, above it for a short.
        let (stop_loss, take_profit, activation, trail) = match side {
            Side::Buy => {
                (Decimal::ONE - stop_loss, Decimal::ONE + take_profit, Decimal::ONE + activation, Decimal::ONE - trail)
            }
            Side::Sell => {
                (Decimal::ONE + stop_loss, Decimal::ONE - take_profit, Decimal::ONE - activation, Decimal::ONE + trail)
            }
        };
        Self { stop_loss, take_profit, activation, trail }
    }
}

/// The factors of the configured (`[risk.stops]`) levels for both sides, computed once per config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultStops {
    buy: StopFactors,
    sell: StopFactors,
}

impl DefaultStops {
    pub fn new(config: &StopsConfig) -> Self {
        let factors = |side| {
            StopFactors::new(
                side,
                config.stop_loss_percent,
                config.take_profit_percent,
                config.trailing_activation_percent,
                config.trailing_stop_percent,
            )
        };
        Self { buy: factors(Side::Buy), sell: factors(Side::Sell) }
    }

    fn side(&self, side: Side) -> &StopFactors {
        match side {
            Side::Buy => &self.buy,
            Side::Sell => &self.sell,
        }
    }
}

impl StopLevels {
    pub fn new(config: &StopsConfig, overrides: &StopOverrides, side: Side, entry_price: Decimal) -> Self {
        let stop_loss_percent = overrides.stop_loss_percent.unwrap_or(config.stop_loss_percent);
        let take_profit_percent = overrides.take_profit_percent.unwrap_or(config.take_profit_percent);
        let trailing_stop_percent = overrides.trailing_stop_percent.unwrap_or(config.trailing_stop_percent);
        let activation_percent = config.trailing_activation_percent;
        let factors =
            StopFactors::new(side, stop_loss_percent, take_profit_percent, activation_percent, trailing_stop_percent);
        Self::from_factors(
            [stop_loss_percent, take_profit_percent, trailing_stop_percent, activation_percent],
            &factors,
            entry_price,
        )
    }

    /// The same levels as [`StopLevels::new`], from the factors computed once for `config`: used
    /// when the order overrides none of the configured stops. `defaults` must come from `config`.
    #[inline]
    pub fn new_with(
        config: &StopsConfig,
        defaults: &DefaultStops,
        overrides: &StopOverrides,
        side: Side,
        entry_price: Decimal,
    ) -> Self {
        if overrides.stop_loss_percent.is_some()
            || overrides.take_profit_percent.is_some()
            || overrides.trailing_stop_percent.is_some()
        {
            return Self::new(config, overrides, side, entry_price);
        }
        Self::from_factors(
            [
                config.stop_loss_percent,
                config.take_profit_percent,
                config.trailing_stop_percent,
                config.trailing_activation_percent,
            ],
            defaults.side(side),
            entry_price,
        )
    }

    /// `percents`: stop-loss, take-profit, trailing stop, trailing activation.
    #[inline]
    fn from_factors(percents: [Decimal; 4], factors: &StopFactors, entry_price: Decimal) -> Self {
        let [stop_loss_percent, take_profit_percent, trailing_stop_percent, activation_percent] = percents;
        let mut levels = Self {
            stop_loss_percent,
            take_profit_percent,
            trailing_stop_percent,
            activation_percent,
            stop_loss_price: Decimal::ZERO,
            take_profit_price: Decimal::ZERO,
            activation_price: Decimal::ZERO,
            best_price: entry_price,
            trailing_stop_price: None,
            trail_factor: Decimal::ONE,
        };
        levels.apply(factors, entry_price);
        levels
    }

    /// Recomputes the fixed levels from a (new) average entry price. The best price and the trailing
    /// stop are kept: a trailing stop never loosens.
    pub fn reprice(&mut self, side: Side, entry_price: Decimal) {
        let factors = StopFactors::new(
            side,
            self.stop_loss_percent,
            self.take_profit_percent,
            self.activation_percent,
            self.trailing_stop_percent,
        );
        self.apply(&factors, entry_price);
    }

    #[inline]
    fn apply(&mut self, factors: &StopFactors, entry_price: Decimal) {
        self.stop_loss_price = entry_price * factors.stop_loss;
        self.take_profit_price = entry_price * factors.take_profit;
        self.activation_price = entry_price * factors.activation;
        self.trail_factor = factors.trail;
        if self.best_price.is_zero() {
            self.best_price = entry_price;
        }
    }

    /// Starts the levels at a position's first fill. The best price so far is the price actually
    /// paid, not the entry order's limit (which may sit up to the allowed drift beyond it): a trail
    /// anchored at the limit would not arm until the price passed a level the position never traded at.
    pub fn anchor(&mut self, side: Side, fill_price: Decimal) {
        self.best_price = fill_price;
        self.trailing_stop_price = None;
        self.reprice(side, fill_price);
    }

    /// Moves the best price and trailing stop with `price`; returns the exit the price triggers.
    /// The stop-loss wins over the trailing stop when both are hit (it names the bigger loss).
    #[inline]
    pub fn on_price(&mut self, side: Side, price: Decimal) -> Option<ExitReason> {
        match side {
            Side::Buy => {
                if price > self.best_price {
                    self.best_price = price;
                    if self.trailing_stop_percent > Decimal::ZERO && price > self.activation_price {
                        let candidate = price * self.trail_factor;
                        if self.trailing_stop_price.is_none_or(|current| candidate > current) {
                            self.trailing_stop_price = Some(candidate);
                        }
                    }
                }
                if price <= self.stop_loss_price {
                    Some(ExitReason::StopLoss)
                } else if price >= self.take_profit_price {
                    Some(ExitReason::TakeProfit)
                } else if self.trailing_stop_price.is_some_and(|stop| price <= stop) {
                    Some(ExitReason::TrailingStop)
                } else {
                    None
                }
            }
            Side::Sell => {
                if price < self.best_price {
                    self.best_price = price;
                    if self.trailing_stop_percent > Decimal::ZERO && price < self.activation_price {
                        let candidate = price * self.trail_factor;
                        if self.trailing_stop_price.is_none_or(|current| candidate < current) {
                            self.trailing_stop_price = Some(candidate);
                        }
                    }
                }
                if price >= self.stop_loss_price {
                    Some(ExitReason::StopLoss)
                } else if price <= self.take_profit_price {
                    Some(ExitReason::TakeProfit)
                } else if self.trailing_stop_price.is_some_and(|stop| price >= stop) {
                    Some(ExitReason::TrailingStop)
                } else {
                    None
                }
            }
        }
    }
}

/// `percent / 100`, exactly and without a division (which costs several multiplications on the
/// approve path): the decimal point moves two places.
pub fn fraction(percent: Decimal) -> Decimal {
    let mut shifted = percent;
    match shifted.set_scale(percent.scale() + 2) {
        Ok(()) => shifted,
        Err(_) => percent / HUNDRED,
    }
}

/// +1 for a long (profits when the price rises), −1 for a short.
pub fn direction(side: Side) -> Decimal {
    match side {
        Side::Buy => Decimal::ONE,
        Side::Sell => Decimal::NEGATIVE_ONE,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn long(entry: Decimal) -> StopLevels {
        StopLevels::new(&StopsConfig::default(), &StopOverrides::default(), Side::Buy, entry)
    }

    #[test]
    fn long_levels_from_the_seed_defaults() {
        let s = long(dec!(0.50));
        assert_eq!((s.stop_loss_price, s.take_profit_price), (dec!(0.45), dec!(0.625)));
        assert_eq!(s.trailing_stop_price, None);
    }

    #[test]
    fn long_triggers_at_exact_levels() {
        let table = [
            (dec!(0.4501), None),
            (dec!(0.45), Some(ExitReason::StopLoss)),
            (dec!(0.40), Some(ExitReason::StopLoss)),
            (dec!(0.6249), None),
            (dec!(0.625), Some(ExitReason::TakeProfit)),
        ];
        for (price, expected) in table {
            assert_eq!(long(dec!(0.50)).on_price(Side::Buy, price), expected, "price {price}");
        }
    }

    #[test]
    fn trailing_arms_after_profit_and_never_loosens() {
        let mut s = long(dec!(0.50));
        assert_eq!(s.on_price(Side::Buy, dec!(0.49)), None, "not armed below the entry");
        assert_eq!(s.on_price(Side::Buy, dec!(0.60)), None);
        assert_eq!(s.trailing_stop_price, Some(dec!(0.57)));
        assert_eq!(s.on_price(Side::Buy, dec!(0.58)), None);
        assert_eq!(s.trailing_stop_price, Some(dec!(0.57)), "a lower price does not move the stop");
        s.reprice(Side::Buy, dec!(0.48));
        assert_eq!(s.trailing_stop_price, Some(dec!(0.57)), "repricing keeps the trail");
        assert_eq!(s.on_price(Side::Buy, dec!(0.57)), Some(ExitReason::TrailingStop));
    }

    #[test]
    fn stop_loss_wins_over_trailing() {
        let mut s = long(dec!(0.50));
        s.on_price(Side::Buy, dec!(0.52));
        assert_eq!(s.on_price(Side::Buy, dec!(0.44)), Some(ExitReason::StopLoss));
    }

    #[test]
    fn short_levels_mirror_the_long_ones() {
        let mut s = StopLevels::new(&StopsConfig::default(), &StopOverrides::default(), Side::Sell, dec!(0.50));
        assert_eq!((s.stop_loss_price, s.take_profit_price), (dec!(0.55), dec!(0.375)));
        assert_eq!(s.on_price(Side::Sell, dec!(0.40)), None);
        assert_eq!(s.trailing_stop_price, Some(dec!(0.42)));
        assert_eq!(s.on_price(Side::Sell, dec!(0.41)), None);
        assert_eq!(s.trailing_stop_price, Some(dec!(0.42)));
        assert_eq!(s.on_price(Side::Sell, dec!(0.42)), Some(ExitReason::TrailingStop));
        assert_eq!(s.on_price(Side::Sell, dec!(0.55)), Some(ExitReason::StopLoss));
    }

    #[test]
    fn fraction_shifts_the_decimal_point() {
        assert_eq!(fraction(dec!(10)), dec!(0.1));
        assert_eq!(fraction(dec!(2.5)), dec!(0.025));
        assert_eq!(fraction(dec!(0)), dec!(0));
        assert_eq!(fraction(dec!(0.0000000000000000000000000001)), dec!(0));
    }

    #[test]
    fn levels_from_the_factors_computed_once_equal_the_levels_computed_per_entry() {
        let configs = [
            StopsConfig::default(),
            StopsConfig {
                stop_loss_percent: dec!(7.5),
                take_profit_percent: dec!(33),
                trailing_stop_percent: dec!(0),
                trailing_activation_percent: dec!(2.25),
            },
        ];
        let overrides = [
            StopOverrides::default(),
            StopOverrides { stop_loss_percent: Some(dec!(20)), ..Default::default() },
            StopOverrides { trailing_stop_percent: Some(dec!(3)), ..Default::default() },
        ];
        for config in &configs {
            let defaults = DefaultStops::new(config);
            for over in &overrides {
                for side in [Side::Buy, Side::Sell] {
                    for entry in [dec!(0.5), dec!(0.013), dec!(0.999)] {
                        let once = StopLevels::new_with(config, &defaults, over, side, entry);
                        assert_eq!(
                            once,
                            StopLevels::new(config, over, side, entry),
                            "{config:?} {over:?} {side} {entry}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn overrides_replace_defaults() {
        let overrides = StopOverrides {
            stop_loss_percent: Some(dec!(20)),
            take_profit_percent: Some(dec!(50)),
            trailing_stop_percent: Some(dec!(0)),
        };
        let mut s = StopLevels::new(&StopsConfig::default(), &overrides, Side::Buy, dec!(0.50));
        assert_eq!((s.stop_loss_price, s.take_profit_price), (dec!(0.40), dec!(0.75)));
        s.on_price(Side::Buy, dec!(0.70));
        assert_eq!(s.trailing_stop_price, None, "trailing off");
    }
}
