//! A plan's size by the seed's formula: equity × risk % ÷ |entry − stop| × leverage, scaled down
//! by the ATR ratio when the plan gives one, then held between the minimum and maximum notional
//! (cut down to the maximum; below the minimum it is refused, never raised).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::risk::RiskError;
use crate::risk::sizing::{constrain_notional, risk_based_size, volatility_adjusted};

use super::config::SignalsConfig;
use super::plan::TradePlan;

/// What sizing decided, with every input a reader needs to redo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSize {
    /// Units of the base asset (BTC of BTC/USDT).
    pub units: Decimal,
    /// `units × entry.near`, in the quote currency (taken as USD).
    pub notional_usd: Decimal,
    /// What hitting the stop loses: `units × |entry − stop|`. The exposure limits count this.
    pub risk_usd: Decimal,
    /// The risk percent applied (the plan's own, or `signals.risk_percent`).
    pub risk_percent: Decimal,
    /// The equity the percent was taken of.
    pub equity_usd: Decimal,
    pub leverage: Decimal,
    /// `min(1, baseline ÷ current ATR)`; 1 without an ATR.
    pub atr_factor: Decimal,
    /// True when the maximum notional cut the size down.
    pub capped: bool,
}

/// Why a plan cannot be sized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanSizeError {
    /// The plan asks to risk more than `signals.max_risk_percent` allows.
    #[error("risk_percent = {asked}: above signals.max_risk_percent = {max}")]
    RiskAboveMax { asked: Decimal, max: Decimal },
    /// The formula's inputs or its result are outside their domain (named by field).
    #[error(transparent)]
    Input(#[from] RiskError),
}

/// Sizes `plan` on `equity`. `max_leverage` is `risk.compliance.max_leverage`.
pub fn size_plan(
    plan: &TradePlan,
    equity: Decimal,
    config: &SignalsConfig,
    max_leverage: Decimal,
) -> Result<PlanSize, PlanSizeError> {
    let risk_percent = plan.risk_percent.unwrap_or(config.risk_percent);
    if risk_percent > config.max_risk_percent {
        return Err(PlanSizeError::RiskAboveMax { asked: risk_percent, max: config.max_risk_percent });
    }
    let entry = plan.entry.near;
    let raw = risk_based_size(equity, risk_percent, entry, plan.stop, plan.leverage, max_leverage)?;
    let (scaled, atr_factor) = match plan.atr {
        Some(atr) => {
            let scaled = volatility_adjusted(raw, atr.baseline, atr.current)?;
            (scaled, if raw.is_zero() { Decimal::ONE } else { (scaled / raw).round_dp(6) })
        }
        None => (raw, Decimal::ONE),
    };
    let notional = scaled * entry;
    let kept = constrain_notional(notional, config.min_position_usd, config.max_position_usd)?;
    let capped = kept < notional;
    let units = if capped {
        (kept / entry).round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero)
    } else {
        scaled.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero)
    };
    Ok(PlanSize {
        units,
        notional_usd: (units * entry).round_dp(2),
        risk_usd: (units * plan.risk_per_unit()).round_dp(2),
        risk_percent,
        equity_usd: equity,
        leverage: plan.leverage,
        atr_factor,
        capped,
    })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::plans::plan::Atr;
    use crate::plans::sample::plan;

    fn config() -> SignalsConfig {
        SignalsConfig { max_position_usd: dec!(1_000_000), ..SignalsConfig::default() }
    }

    #[test]
    fn the_seed_formula_risks_the_percent_at_the_stop() {
        // 10,000 × 1 % = 100 at risk over 450 per unit.
        let size = size_plan(&plan(), dec!(10000), &config(), dec!(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(size.units, dec!(0.22222222));
        assert_eq!(size.risk_usd, dec!(100.00));
        assert_eq!(size.notional_usd, dec!(9377.78));
        assert!(!size.capped);
        let doubled = TradePlan { leverage: dec!(2), ..plan() };
        let size = size_plan(&doubled, dec!(10000), &config(), dec!(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(size.units, dec!(0.44444444), "× leverage");
    }

    #[test]
    fn a_wilder_atr_shrinks_the_size_and_a_calmer_one_never_grows_it() {
        let wild = TradePlan { atr: Some(Atr { current: dec!(500), baseline: dec!(250) }), ..plan() };
        let size = size_plan(&wild, dec!(10000), &config(), dec!(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((size.units, size.atr_factor), (dec!(0.11111111), dec!(0.5)));
        let calm = TradePlan { atr: Some(Atr { current: dec!(100), baseline: dec!(250) }), ..plan() };
        let size = size_plan(&calm, dec!(10000), &config(), dec!(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((size.units, size.atr_factor), (dec!(0.22222222), dec!(1)));
    }

    #[test]
    fn the_maximum_cuts_and_the_minimum_refuses() {
        let capped = SignalsConfig { max_position_usd: dec!(4220), ..config() };
        let size = size_plan(&plan(), dec!(10000), &capped, dec!(3)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((size.units, size.notional_usd, size.capped), (dec!(0.1), dec!(4220.00), true));
        let floor = SignalsConfig { min_position_usd: dec!(20000), ..config() };
        assert!(matches!(size_plan(&plan(), dec!(10000), &floor, dec!(3)), Err(PlanSizeError::Input(_))));
    }

    #[test]
    fn bad_inputs_are_errors_never_panics() {
        let too_risky = TradePlan { risk_percent: Some(dec!(5)), ..plan() };
        assert!(matches!(
            size_plan(&too_risky, dec!(10000), &config(), dec!(3)),
            Err(PlanSizeError::RiskAboveMax { .. })
        ));
        assert!(size_plan(&plan(), dec!(0), &config(), dec!(3)).is_err(), "no equity");
        let levered = TradePlan { leverage: dec!(10), ..plan() };
        assert!(size_plan(&levered, dec!(10000), &config(), dec!(3)).is_err(), "beyond max leverage");
    }
}
