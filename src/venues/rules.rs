//! A symbol's trading rules as the venue publishes them (Binance `exchangeInfo` filters, Bybit
//! `instruments-info`), and what they ask of an order: the price on the tick, the quantity on the
//! step (rounded down, never up: an order never grows beyond what risk sized), and the minimums.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::domain::Side;

/// One symbol's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolRules {
    /// The venue's symbol (`BTCUSDT`).
    pub symbol: String,
    pub base_asset: String,
    pub quote_asset: String,
    /// Price increment.
    pub tick_size: Decimal,
    /// Quantity increment.
    pub step_size: Decimal,
    pub min_quantity: Decimal,
    /// 0 = no maximum published.
    pub max_quantity: Decimal,
    /// Smallest price × quantity (0 = none published).
    pub min_notional: Decimal,
    /// Highest leverage the symbol allows (futures); `None` on spot.
    pub max_leverage: Option<Decimal>,
    /// The venue lists the symbol as trading now.
    pub trading: bool,
}

/// Why an order cannot be sent under a symbol's rules, before the venue is asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleBreach {
    #[error("{symbol} is not trading at the venue now")]
    NotTrading { symbol: String },
    #[error("quantity {quantity} is below {symbol}'s minimum {min} (after rounding down to the step {step})")]
    BelowMinQuantity { symbol: String, quantity: Decimal, min: Decimal, step: Decimal },
    #[error("quantity {quantity} is above {symbol}'s maximum {max}")]
    AboveMaxQuantity { symbol: String, quantity: Decimal, max: Decimal },
    #[error("notional {notional} is below {symbol}'s minimum {min}")]
    BelowMinNotional { symbol: String, notional: Decimal, min: Decimal },
    #[error("leverage {leverage} is above {symbol}'s maximum {max}")]
    LeverageTooHigh { symbol: String, leverage: Decimal, max: Decimal },
    #[error("{symbol} is a spot symbol: leverage {leverage} needs the venue's futures market")]
    NoLeverageOnSpot { symbol: String, leverage: Decimal },
    #[error("price {price} is not positive")]
    BadPrice { price: Decimal },
}

impl SymbolRules {
    /// `price` on the tick, rounded in the order's favour of being filled no worse than asked: a
    /// buy's limit down, a sell's up.
    pub fn round_price(&self, side: Side, price: Decimal) -> Decimal {
        let strategy = match side {
            Side::Buy => RoundingStrategy::ToNegativeInfinity,
            Side::Sell => RoundingStrategy::ToPositiveInfinity,
        };
        round_to(price, self.tick_size, strategy)
    }

    /// `quantity` rounded down to the step.
    pub fn round_quantity(&self, quantity: Decimal) -> Decimal {
        round_to(quantity, self.step_size, RoundingStrategy::ToNegativeInfinity)
    }

    /// Checks an already rounded order: minimum and maximum quantity, and the minimum notional
    /// at `price` (for a market order, the price it is expected to fill near).
    pub fn check(&self, price: Decimal, quantity: Decimal) -> Result<(), RuleBreach> {
        let symbol = || self.symbol.clone();
        if !self.trading {
            return Err(RuleBreach::NotTrading { symbol: symbol() });
        }
        if price <= Decimal::ZERO {
            return Err(RuleBreach::BadPrice { price });
        }
        if quantity <= Decimal::ZERO || quantity < self.min_quantity {
            return Err(RuleBreach::BelowMinQuantity {
                symbol: symbol(),
                quantity,
                min: self.min_quantity,
                step: self.step_size,
            });
        }
        if self.max_quantity > Decimal::ZERO && quantity > self.max_quantity {
            return Err(RuleBreach::AboveMaxQuantity { symbol: symbol(), quantity, max: self.max_quantity });
        }
        let notional = price * quantity;
        if notional < self.min_notional {
            return Err(RuleBreach::BelowMinNotional { symbol: symbol(), notional, min: self.min_notional });
        }
        Ok(())
    }

    /// Checks a plan's leverage against the symbol: any leverage above 1 needs a futures symbol
    /// and at most its maximum.
    pub fn check_leverage(&self, leverage: Decimal) -> Result<(), RuleBreach> {
        match self.max_leverage {
            None if leverage > Decimal::ONE => {
                Err(RuleBreach::NoLeverageOnSpot { symbol: self.symbol.clone(), leverage })
            }
            Some(max) if leverage > max => {
                Err(RuleBreach::LeverageTooHigh { symbol: self.symbol.clone(), leverage, max })
            }
            _ => Ok(()),
        }
    }
}

/// A spot market has no leverage: 1 is all it takes.
pub fn spot_leverage(symbol: &str, leverage: Decimal) -> Result<(), RuleBreach> {
    if leverage == Decimal::ONE {
        Ok(())
    } else {
        Err(RuleBreach::NoLeverageOnSpot { symbol: symbol.to_owned(), leverage })
    }
}

/// `value` to a multiple of `increment` (unchanged when the increment is 0 or negative).
fn round_to(value: Decimal, increment: Decimal, strategy: RoundingStrategy) -> Decimal {
    if increment <= Decimal::ZERO {
        return value;
    }
    ((value / increment).round_dp_with_strategy(0, strategy) * increment).normalize()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn btc() -> SymbolRules {
        SymbolRules {
            symbol: "BTCUSDT".into(),
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
            tick_size: dec!(0.10),
            step_size: dec!(0.001),
            min_quantity: dec!(0.001),
            max_quantity: dec!(1000),
            min_notional: dec!(100),
            max_leverage: Some(dec!(125)),
            trading: true,
        }
    }

    #[test]
    fn prices_round_to_the_tick_in_the_cautious_direction_and_sizes_down_to_the_step() {
        let rules = btc();
        assert_eq!(rules.round_price(Side::Buy, dec!(42200.17)), dec!(42200.1));
        assert_eq!(rules.round_price(Side::Sell, dec!(42200.11)), dec!(42200.2));
        assert_eq!(rules.round_price(Side::Buy, dec!(42200.1)), dec!(42200.1));
        assert_eq!(rules.round_quantity(dec!(0.22222222)), dec!(0.222));
        assert_eq!(rules.round_quantity(dec!(0.0009)), dec!(0));
    }

    #[test]
    fn each_minimum_and_maximum_is_named() {
        let rules = btc();
        assert!(rules.check(dec!(42200), dec!(0.222)).is_ok());
        assert!(matches!(rules.check(dec!(42200), dec!(0)), Err(RuleBreach::BelowMinQuantity { .. })));
        assert!(matches!(rules.check(dec!(42200), dec!(2000)), Err(RuleBreach::AboveMaxQuantity { .. })));
        let err = rules.check(dec!(42200), dec!(0.002)).unwrap_err();
        assert_eq!(err.to_string(), "notional 84.400 is below BTCUSDT's minimum 100");
        assert!(rules.check_leverage(dec!(10)).is_ok());
        assert!(matches!(rules.check_leverage(dec!(200)), Err(RuleBreach::LeverageTooHigh { .. })));
        let spot = SymbolRules { max_leverage: None, ..btc() };
        assert!(spot.check_leverage(dec!(1)).is_ok());
        assert!(matches!(spot.check_leverage(dec!(3)), Err(RuleBreach::NoLeverageOnSpot { .. })));
        let halted = SymbolRules { trading: false, ..btc() };
        assert!(matches!(halted.check(dec!(1), dec!(1)), Err(RuleBreach::NotTrading { .. })));
    }
}
