//! The CLOB V2 taker fee curve.
//!
//! ```text
//! fee = shares × r × (p × (1 − p))^e
//! ```
//! with `r` (rate), `e` (exponent) and the taker-only flag read per market from
//! `/clob-markets/{condition_id}` `fd {r, e, to}` or Gamma `feeSchedule {rate, exponent, takerOnly}`.
//! Makers pay nothing. Examples: r = 0.05, e = 1 (the Fed-decision and weather markets): a taker
//! selling 100 shares at 0.06 pays 100 × 0.05 × 0.06 × 0.94 = 0.282, exactly the gap between
//! `size × price` and `usdcSize` in `data_api_v1_activity_user_compact.json`. r = 0.25, e = 2 (the
//! 5-minute BTC market): 100 shares at 0.5 pay 100 × 0.25 × 0.25² = 1.5625 (the SDK's test).
//!
//! Computed exactly in `Decimal`; the exponent is a small whole number so the power is repeated
//! multiplication, never a float `powf`.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

/// Largest exponent accepted (observed: 1 and 2).
const MAX_EXPONENT: u32 = 8;

/// A fee curve that cannot be right.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FeeError {
    #[error("fee rate = {0}: must be between 0 and 1")]
    Rate(Decimal),
    #[error("fee exponent = {0}: must be a whole number between 0 and 8")]
    Exponent(Decimal),
}

/// A market's fee schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeCurve {
    pub rate: Decimal,
    pub exponent: u32,
    /// Only takers pay (every market seen so far).
    pub taker_only: bool,
}

impl FeeCurve {
    /// A market without fees.
    pub const FREE: FeeCurve = FeeCurve { rate: Decimal::ZERO, exponent: 1, taker_only: true };

    pub fn new(rate: Decimal, exponent: Decimal, taker_only: bool) -> Result<Self, FeeError> {
        if rate < Decimal::ZERO || rate > Decimal::ONE {
            return Err(FeeError::Rate(rate));
        }
        let whole = exponent
            .fract()
            .is_zero()
            .then(|| exponent.to_u32())
            .flatten()
            .filter(|e| *e <= MAX_EXPONENT)
            .ok_or(FeeError::Exponent(exponent))?;
        Ok(Self { rate, exponent: whole, taker_only })
    }

    /// The fee a taker pays for `shares` filled at `price`, exact.
    pub fn taker_fee(&self, shares: Decimal, price: Decimal) -> Decimal {
        let base = price * (Decimal::ONE - price);
        let mut curve = Decimal::ONE;
        for _ in 0..self.exponent {
            curve *= base;
        }
        shares * self.rate * curve
    }

    /// The fee a maker pays: nothing on a taker-only curve.
    pub fn maker_fee(&self, shares: Decimal, price: Decimal) -> Decimal {
        if self.taker_only { Decimal::ZERO } else { self.taker_fee(shares, price) }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn reproduces_the_fees_seen_on_real_activity_rows() {
        let curve = FeeCurve::new(dec!(0.05), dec!(1), true).unwrap();
        // compact fixture, SELL 100 @ 0.06: usdcSize 5.718 = 6 − fee.
        assert_eq!(curve.taker_fee(dec!(100), dec!(0.06)), dec!(0.282));
        // compact fixture, SELL 100 @ 0.01: usdcSize 0.9505 = 1 − fee.
        assert_eq!(curve.taker_fee(dec!(100), dec!(0.01)), dec!(0.0495));
        // v2 activity, BUY 22.84 @ 0.52: usdc_size 12.16184 = 11.8768 + 0.2850432 (shown to 5 decimals).
        assert_eq!(curve.taker_fee(dec!(22.84), dec!(0.52)), dec!(0.2850432));
        assert_eq!(curve.maker_fee(dec!(100), dec!(0.06)), Decimal::ZERO);
    }

    #[test]
    fn exponent_two_matches_the_sdk_example() {
        let curve = FeeCurve::new(dec!(0.25), dec!(2), true).unwrap();
        assert_eq!(curve.taker_fee(dec!(100), dec!(0.5)), dec!(1.5625));
    }

    #[test]
    fn bad_curves_are_refused() {
        assert_eq!(FeeCurve::new(dec!(-0.1), dec!(1), true), Err(FeeError::Rate(dec!(-0.1))));
        assert_eq!(FeeCurve::new(dec!(0.1), dec!(1.5), true), Err(FeeError::Exponent(dec!(1.5))));
        assert_eq!(FeeCurve::new(dec!(0.1), dec!(9), true), Err(FeeError::Exponent(dec!(9))));
        assert_eq!(FeeCurve::new(dec!(0.1), dec!(2.0), true).unwrap().exponent, 2);
    }
}
