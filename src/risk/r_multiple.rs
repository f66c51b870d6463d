//! The R multiple: a closed trade's P&L in units of the risk it took at entry. One definition for
//! the engine (`risk_usd` on `trade_opened`), the report and the audit summary, so that their
//! figures agree.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// The configured stop-loss (`risk.stops.stop_loss_percent`) as a fraction; `None` when it is 0
/// (no stop).
pub fn stop_loss_fraction(stop_loss_percent: Decimal) -> Option<Decimal> {
    (stop_loss_percent > Decimal::ZERO).then(|| stop_loss_percent / Decimal::ONE_HUNDRED)
}

/// The risk an entry costing `notional` takes: down to the stop-loss, or all of it without one.
pub fn initial_risk(notional: Decimal, stop_loss_fraction: Option<Decimal>) -> Decimal {
    notional * stop_loss_fraction.unwrap_or(Decimal::ONE)
}

/// `pnl` in units of `initial_risk`; `None` when the risk is zero (nothing was at stake).
pub fn r_multiple(pnl: Decimal, initial_risk: Decimal) -> Option<Decimal> {
    (initial_risk > Decimal::ZERO).then(|| pnl / initial_risk)
}

/// The bins of an R distribution: each one's upper bound (exclusive) and label; the last is
/// open-ended.
pub const R_BINS: [(Option<Decimal>, &str); 9] = [
    (Some(dec!(-2)), "< -2R"),
    (Some(dec!(-1)), "-2..-1R"),
    (Some(dec!(-0.5)), "-1..-0.5R"),
    (Some(dec!(0)), "-0.5..0R"),
    (Some(dec!(0.5)), "0..0.5R"),
    (Some(dec!(1)), "0.5..1R"),
    (Some(dec!(2)), "1..2R"),
    (Some(dec!(3)), "2..3R"),
    (None, ">= 3R"),
];

/// The index in [`R_BINS`] of the bin holding `r`.
pub fn r_bin(r: Decimal) -> usize {
    R_BINS.iter().position(|(upper, _)| upper.is_none_or(|u| r < u)).unwrap_or(R_BINS.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_is_to_the_stop_or_the_whole_entry_without_one() {
        assert_eq!(stop_loss_fraction(dec!(10)), Some(dec!(0.1)));
        assert_eq!(stop_loss_fraction(dec!(0)), None, "a stop-loss of 0 is no stop");
        assert_eq!(initial_risk(dec!(100), Some(dec!(0.1))), dec!(10));
        assert_eq!(initial_risk(dec!(100), None), dec!(100));
        assert_eq!(r_multiple(dec!(20), dec!(10)), Some(dec!(2)));
        assert_eq!(r_multiple(dec!(20), dec!(0)), None);
    }

    #[test]
    fn a_bound_belongs_to_the_bin_above_it() {
        assert_eq!(R_BINS[r_bin(dec!(-5))].1, "< -2R");
        assert_eq!(R_BINS[r_bin(dec!(-1))].1, "-1..-0.5R");
        assert_eq!(R_BINS[r_bin(dec!(0))].1, "0..0.5R");
        assert_eq!(R_BINS[r_bin(dec!(2.99))].1, "2..3R");
        assert_eq!(R_BINS[r_bin(dec!(40))].1, ">= 3R");
    }
}
