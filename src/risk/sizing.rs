//! Position sizing: how many shares to buy.
//!
//! - Risk-based: size = balance × risk% ÷ |entry − stop| × leverage: losing the
//!   distance to the stop on every share costs `risk%` of the balance.
//! - Volatility adjustment: scale by baseline ATR ÷ current ATR, never above the unadjusted size.
//! - Copy modes for whale trades: a fixed USD notional, a ratio of the whale's notional, or risk-based.
//! - Constraints: a size above the maximum notional is cut down to it; a size below the minimum is
//!   rejected, never upsized. [`fit_to_capacity`] applies the same rule to the remaining capacity.
//!
//! Every invalid input returns [`RiskError::InvalidInput`] naming the field, the value and the rule.

use rust_decimal::Decimal;

use crate::config::CopySizing;

use super::error::RiskError;

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

fn overflow() -> RiskError {
    RiskError::input("size", "overflow", "the inputs give a size too large for a decimal")
}

/// Shares to buy so that hitting the stop loses `risk_percent` of `balance`.
pub fn risk_based_size(
    balance: Decimal,
    risk_percent: Decimal,
    entry: Decimal,
    stop: Decimal,
    leverage: Decimal,
    max_leverage: Decimal,
) -> Result<Decimal, RiskError> {
    if balance <= Decimal::ZERO {
        return Err(RiskError::input("balance", balance, "must be greater than 0"));
    }
    if risk_percent <= Decimal::ZERO || risk_percent > HUNDRED {
        return Err(RiskError::input("risk_percent", risk_percent, "must be above 0 and at most 100"));
    }
    if entry <= Decimal::ZERO {
        return Err(RiskError::input("entry", entry, "must be greater than 0"));
    }
    if stop <= Decimal::ZERO {
        return Err(RiskError::input("stop", stop, "must be greater than 0"));
    }
    if entry == stop {
        return Err(RiskError::input("stop", stop, "must differ from the entry price"));
    }
    if leverage < Decimal::ONE || leverage > max_leverage {
        return Err(RiskError::InvalidInput {
            field: "leverage",
            value: leverage.to_string(),
            rule: "must be between 1 and risk.compliance.max_leverage",
        });
    }
    balance
        .checked_mul(risk_percent)
        .and_then(|x| x.checked_div(HUNDRED))
        .and_then(|at_risk| at_risk.checked_div((entry - stop).abs()))
        .and_then(|shares| shares.checked_mul(leverage))
        .ok_or_else(overflow)
}

/// Scales `size` by baseline ATR ÷ current ATR; calmer than usual never makes a position bigger.
pub fn volatility_adjusted(size: Decimal, baseline_atr: Decimal, current_atr: Decimal) -> Result<Decimal, RiskError> {
    if size < Decimal::ZERO {
        return Err(RiskError::input("size", size, "must not be negative"));
    }
    if baseline_atr <= Decimal::ZERO {
        return Err(RiskError::input("baseline_atr", baseline_atr, "must be greater than 0"));
    }
    if current_atr <= Decimal::ZERO {
        return Err(RiskError::input("current_atr", current_atr, "must be greater than 0"));
    }
    let factor = baseline_atr.checked_div(current_atr).ok_or_else(overflow)?.min(Decimal::ONE);
    size.checked_mul(factor).ok_or_else(overflow)
}

/// Cuts a notional above `max_usd` down to it; a notional below `min_usd` is an error (never upsized).
pub fn constrain_notional(notional: Decimal, min_usd: Decimal, max_usd: Decimal) -> Result<Decimal, RiskError> {
    if notional < Decimal::ZERO {
        return Err(RiskError::input("notional", notional, "must not be negative"));
    }
    let capped = notional.min(max_usd);
    if capped < min_usd {
        return Err(RiskError::InvalidInput {
            field: "notional",
            value: capped.to_string(),
            rule: "is below risk.sizing.min_position_usd (sizes are never raised to a minimum)",
        });
    }
    Ok(capped)
}

/// Inputs of a copy-trade size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopySizeInputs {
    pub mode: CopySizing,
    /// The whale's notional in USD (for `proportional`).
    pub whale_notional: Decimal,
    /// USD per copied trade (for `fixed_usd`).
    pub fixed_usd: Decimal,
    /// Fraction of the whale's notional (for `proportional`).
    pub ratio: Decimal,
    /// Our entry price.
    pub price: Decimal,
    /// Our stop price (for `risk_based`).
    pub stop: Decimal,
    pub balance: Decimal,
    pub risk_percent: Decimal,
    pub leverage: Decimal,
    pub max_leverage: Decimal,
    /// Optional volatility reading: (baseline ATR, current ATR).
    pub atr: Option<(Decimal, Decimal)>,
}

/// Shares to buy for a copied whale trade, before capacity limits.
pub fn copy_size(inputs: &CopySizeInputs) -> Result<Decimal, RiskError> {
    if inputs.price <= Decimal::ZERO || inputs.price >= Decimal::ONE {
        return Err(RiskError::input("price", inputs.price, "must be inside (0, 1)"));
    }
    let shares = match inputs.mode {
        CopySizing::FixedUsd => {
            if inputs.fixed_usd < Decimal::ZERO {
                return Err(RiskError::input("fixed_usd", inputs.fixed_usd, "must not be negative"));
            }
            inputs.fixed_usd.checked_div(inputs.price).ok_or_else(overflow)?
        }
        CopySizing::Proportional => {
            if inputs.whale_notional < Decimal::ZERO {
                return Err(RiskError::input("whale_notional", inputs.whale_notional, "must not be negative"));
            }
            if inputs.ratio < Decimal::ZERO {
                return Err(RiskError::input("ratio", inputs.ratio, "must not be negative"));
            }
            inputs
                .whale_notional
                .checked_mul(inputs.ratio)
                .and_then(|notional| notional.checked_div(inputs.price))
                .ok_or_else(overflow)?
        }
        CopySizing::RiskBased => risk_based_size(
            inputs.balance,
            inputs.risk_percent,
            inputs.price,
            inputs.stop,
            inputs.leverage,
            inputs.max_leverage,
        )?,
    };
    match inputs.atr {
        Some((baseline, current)) => volatility_adjusted(shares, baseline, current),
        None => Ok(shares),
    }
}

/// How an order relates to the capacity left for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Fits as requested.
    AsIs,
    /// Resized down to this many shares.
    Resized(Decimal),
    /// Does not fit (and resizing is off, or the fitted size is below the venue minimum).
    TooLarge,
}

/// Fits `size` shares at `price` into `capacity_usd`: resized down to the `size_step` grid when
/// `resize_to_fit`, never below `min_size` shares or `min_notional` (no upsizing past a cap).
pub fn fit_to_capacity(
    size: Decimal,
    price: Decimal,
    capacity_usd: Decimal,
    size_step: Decimal,
    min_size: Decimal,
    min_notional: Decimal,
    resize_to_fit: bool,
) -> Fit {
    match size.checked_mul(price) {
        Some(notional) if notional <= capacity_usd => return Fit::AsIs,
        _ => {}
    }
    if !resize_to_fit || price <= Decimal::ZERO || size_step <= Decimal::ZERO || capacity_usd <= Decimal::ZERO {
        return Fit::TooLarge;
    }
    let fitted = capacity_usd
        .checked_div(price)
        .and_then(|shares| shares.checked_div(size_step))
        .and_then(|steps| steps.floor().checked_mul(size_step))
        .map(|shares| shares.min(size));
    match fitted {
        Some(fitted)
            if fitted > Decimal::ZERO
                && fitted >= min_size
                && fitted.checked_mul(price).is_some_and(|notional| notional >= min_notional) =>
        {
            Fit::Resized(fitted)
        }
        _ => Fit::TooLarge,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn risk_based_formula() {
        // 10,000 × 1 % ÷ |0.50 − 0.45| × 1 = 2,000 shares.
        assert_eq!(risk_based_size(dec!(10000), dec!(1), dec!(0.50), dec!(0.45), dec!(1), dec!(1)), Ok(dec!(2000)));
        assert_eq!(risk_based_size(dec!(10000), dec!(1), dec!(0.45), dec!(0.50), dec!(2), dec!(3)), Ok(dec!(4000)));
    }

    #[test]
    fn risk_based_invalid_inputs_name_the_field() {
        let table = [
            ((dec!(0), dec!(1), dec!(0.5), dec!(0.4), dec!(1)), "balance"),
            ((dec!(-1), dec!(1), dec!(0.5), dec!(0.4), dec!(1)), "balance"),
            ((dec!(100), dec!(0), dec!(0.5), dec!(0.4), dec!(1)), "risk_percent"),
            ((dec!(100), dec!(1), dec!(0.5), dec!(0.5), dec!(1)), "stop"),
            ((dec!(100), dec!(1), dec!(0), dec!(0.5), dec!(1)), "entry"),
            ((dec!(100), dec!(1), dec!(0.5), dec!(0.4), dec!(0.99)), "leverage"),
            ((dec!(100), dec!(1), dec!(0.5), dec!(0.4), dec!(3.01)), "leverage"),
        ];
        for ((balance, risk, entry, stop, leverage), field) in table {
            let result = risk_based_size(balance, risk, entry, stop, leverage, dec!(3));
            assert!(matches!(&result, Err(RiskError::InvalidInput { field: f, .. }) if *f == field), "{result:?}");
        }
    }

    #[test]
    fn volatility_only_scales_down() {
        assert_eq!(volatility_adjusted(dec!(100), dec!(0.02), dec!(0.04)), Ok(dec!(50)));
        assert_eq!(volatility_adjusted(dec!(100), dec!(0.04), dec!(0.02)), Ok(dec!(100)));
        assert!(volatility_adjusted(dec!(100), dec!(0.04), dec!(0)).is_err());
        assert!(volatility_adjusted(dec!(-1), dec!(0.04), dec!(0.02)).is_err());
    }

    #[test]
    fn constraints_cut_down_but_never_raise() {
        assert_eq!(constrain_notional(dec!(700), dec!(1), dec!(500)), Ok(dec!(500)));
        assert_eq!(constrain_notional(dec!(1), dec!(1), dec!(500)), Ok(dec!(1)));
        assert!(constrain_notional(dec!(0.99), dec!(1), dec!(500)).is_err());
        assert!(constrain_notional(dec!(-5), dec!(1), dec!(500)).is_err());
    }

    #[test]
    fn copy_modes() {
        let base = CopySizeInputs {
            mode: CopySizing::FixedUsd,
            whale_notional: dec!(2000),
            fixed_usd: dec!(50),
            ratio: dec!(0.1),
            price: dec!(0.50),
            stop: dec!(0.45),
            balance: dec!(10000),
            risk_percent: dec!(1),
            leverage: dec!(1),
            max_leverage: dec!(1),
            atr: None,
        };
        assert_eq!(copy_size(&base), Ok(dec!(100)));
        assert_eq!(copy_size(&CopySizeInputs { mode: CopySizing::Proportional, ..base }), Ok(dec!(400)));
        assert_eq!(copy_size(&CopySizeInputs { mode: CopySizing::RiskBased, ..base }), Ok(dec!(2000)));
        let calm = CopySizeInputs { atr: Some((dec!(1), dec!(2))), ..base };
        assert_eq!(copy_size(&calm), Ok(dec!(50)));
        assert!(copy_size(&CopySizeInputs { price: dec!(1), ..base }).is_err());
        assert!(copy_size(&CopySizeInputs { fixed_usd: dec!(-1), ..base }).is_err());
    }

    #[test]
    fn fit_at_and_over_capacity() {
        let fit =
            |size, capacity, resize| fit_to_capacity(size, dec!(0.50), capacity, dec!(0.01), dec!(5), dec!(1), resize);
        assert_eq!(fit(dec!(1000), dec!(500), true), Fit::AsIs, "exactly at the cap");
        assert_eq!(fit(dec!(1000.02), dec!(500), true), Fit::Resized(dec!(1000)), "one cent over");
        assert_eq!(fit(dec!(1000.02), dec!(500), false), Fit::TooLarge);
        assert_eq!(fit(dec!(100), dec!(2.49), true), Fit::TooLarge, "4.98 shares is below the 5-share minimum");
        assert_eq!(fit(dec!(100), dec!(2.50), true), Fit::Resized(dec!(5)));
        assert_eq!(fit(dec!(100), dec!(0), true), Fit::TooLarge);
    }
}
