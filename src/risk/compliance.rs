//! Compliance: risk parameters validated before trading, the leverage cap and
//! opposing-position detection (holding one outcome of a market while buying another, or long and
//! short one token).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Side, TokenId};

use super::config::RiskConfig;
use super::error::RiskError;
use crate::domain::exact;

/// Refuses to trade with a configuration that breaks any rule.
pub fn validate_risk_parameters(config: &RiskConfig) -> Result<(), RiskError> {
    let issues = config.issues();
    if issues.is_empty() { Ok(()) } else { Err(RiskError::InvalidConfig(issues)) }
}

/// True when `leverage` is beyond the allowed maximum (or below 1, which is not a leverage).
/// Polymarket orders carry 1; venues with margin set [`super::OrderIntent::leverage`] from the
/// trade plan they execute, and a plan's own validation belongs with that signal path.
pub fn breaks_leverage_cap(leverage: Decimal, max_leverage: Decimal) -> bool {
    exact::gt(leverage, max_leverage) || exact::lt(leverage, Decimal::ONE)
}

/// One (token, side) combination held in a market, with how many positions hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Leg {
    token: TokenId,
    side: Side,
    positions: u32,
}

const LEGS: usize = 4;

/// The (token, side) combinations held in one market, in a fixed array so that tracking them never
/// allocates. A binary market has two tokens × two sides = four combinations; anything beyond is
/// counted in `overflow` (and is by definition a different combination).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarketLegs {
    legs: [Option<Leg>; LEGS],
    overflow: u32,
}

impl MarketLegs {
    /// True when the market holds any position other than (`token`, `side`).
    pub fn opposes(&self, token: TokenId, side: Side) -> bool {
        self.overflow > 0
            || self.legs.iter().flatten().any(|leg| leg.positions > 0 && (leg.token != token || leg.side != side))
    }

    pub fn add(&mut self, token: TokenId, side: Side) {
        if let Some(leg) = self.legs.iter_mut().flatten().find(|l| l.token == token && l.side == side) {
            leg.positions = leg.positions.saturating_add(1);
        } else if let Some(slot) = self.legs.iter_mut().find(|l| l.is_none_or(|leg| leg.positions == 0)) {
            *slot = Some(Leg { token, side, positions: 1 });
        } else {
            self.overflow = self.overflow.saturating_add(1);
        }
    }

    pub fn remove(&mut self, token: TokenId, side: Side) {
        if let Some(leg) =
            self.legs.iter_mut().flatten().find(|l| l.token == token && l.side == side && l.positions > 0)
        {
            leg.positions -= 1;
        } else {
            self.overflow = self.overflow.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn leverage_cap_boundaries() {
        assert!(!breaks_leverage_cap(dec!(1), dec!(1)));
        assert!(breaks_leverage_cap(dec!(1.01), dec!(1)));
        assert!(breaks_leverage_cap(dec!(0.5), dec!(3)));
        assert!(!breaks_leverage_cap(dec!(3), dec!(3)));
    }

    #[test]
    fn opposing_legs() {
        let (yes, no) = (TokenId(1), TokenId(2));
        let mut legs = MarketLegs::default();
        assert!(!legs.opposes(yes, Side::Buy));
        legs.add(yes, Side::Buy);
        legs.add(yes, Side::Buy);
        assert!(!legs.opposes(yes, Side::Buy), "adding to the same outcome is not opposing");
        assert!(legs.opposes(no, Side::Buy), "buying the other outcome");
        assert!(legs.opposes(yes, Side::Sell), "short the same token");
        legs.remove(yes, Side::Buy);
        legs.remove(yes, Side::Buy);
        assert!(!legs.opposes(no, Side::Buy));
        for token in 0..6 {
            legs.add(TokenId(token), Side::Buy);
        }
        assert!(legs.opposes(TokenId(0), Side::Buy), "overflowed legs still count");
    }

    #[test]
    fn default_config_passes_validation() {
        assert!(validate_risk_parameters(&RiskConfig::default()).is_ok());
        let bad = RiskConfig { starting_balance_usd: dec!(-1), ..Default::default() };
        assert!(matches!(validate_risk_parameters(&bad), Err(RiskError::InvalidConfig(issues)) if issues.len() == 1));
    }
}
