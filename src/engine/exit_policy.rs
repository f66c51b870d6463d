//! How an exit is priced and what happens when it does not fill.
//!
//! An exit is a marketable order limited at a worst acceptable price: `max_slippage_percent` beyond
//! the mark, and at least `min_slippage_ticks` ticks beyond it, on the market's tick grid. A stop
//! therefore never sells into an empty book down to the lowest tick. Whatever the book does not take
//! by then is sent again after `retry_after_secs`; after `widen_after_attempts` tries at one bound the
//! bound is widened by `widen_step_percent` (the engine alerts each widening), up to 100 % (any price
//! down to one tick), and the retries go on until the position is flat.
//!
//! Pure and synchronous: the engine keeps one [`ExitPlan`] per position that is being exited and asks
//! it what to do; time comes in as a parameter.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{ExitReason, Side};
use crate::risk::ExitsConfig;

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// The worst acceptable price of an exit on `side` (the closing side: `Sell` closes a long) from
/// `mark`: `slippage_percent` and at least `min_ticks` ticks beyond the mark, rounded away from the
/// mark onto the `tick` grid, and kept inside the venue's range `[tick, 1 − tick]`.
pub fn exit_limit(side: Side, mark: Decimal, tick: Decimal, slippage_percent: Decimal, min_ticks: u32) -> Decimal {
    let ticks = tick * Decimal::from(min_ticks);
    let room = (mark * slippage_percent / HUNDRED).max(ticks);
    let (raw, strategy) = match side {
        Side::Sell => (mark - room, RoundingStrategy::ToNegativeInfinity),
        Side::Buy => (mark + room, RoundingStrategy::ToPositiveInfinity),
    };
    let on_grid = (raw / tick).round_dp_with_strategy(0, strategy) * tick;
    on_grid.clamp(tick, Decimal::ONE - tick).normalize()
}

/// How many of `wanted` shares one exit order can sell when `free` shares are not being exited yet
/// and the venue refuses orders below `min_order_size`: at least the minimum, and everything when
/// less than the minimum would be left behind. `None` when even `free` is below the minimum.
pub fn sellable(wanted: Decimal, free: Decimal, min_order_size: Decimal) -> Option<Decimal> {
    if free <= Decimal::ZERO || free < min_order_size {
        return None;
    }
    let size = wanted.max(min_order_size).min(free);
    Some(if free - size < min_order_size { free } else { size })
}

/// The state of one position's exit, from the first order to flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitPlan {
    /// Why the position is being exited (a kill takes over any other reason).
    pub reason: ExitReason,
    /// Orders sent so far for this exit.
    pub attempts: u32,
    /// Orders sent at the current bound.
    pub attempts_at_bound: u32,
    /// The current bound, in percent beyond the mark.
    pub slippage_percent: Decimal,
    /// How often the bound was widened.
    pub widenings: u32,
    /// Shares the last attempt left unsold, to be sent again at `retry_at`.
    pub retry_size: Decimal,
    pub retry_at: Option<Timestamp>,
    /// The rest is below the venue's minimum order size: it cannot be sold, and waits for the
    /// market to resolve.
    pub deferred: bool,
    /// Tries the risk manager refused (logged at the 1st, 2nd, 4th, 8th… so that an exit refused for
    /// hours does not flood the log).
    #[serde(default)]
    pub refusals: u32,
}

/// What the engine should do about a plan whose retry is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The bound was widened before this try (alert it).
    pub widened: bool,
}

impl ExitPlan {
    pub fn new(reason: ExitReason, config: &ExitsConfig) -> Self {
        Self {
            reason,
            attempts: 0,
            attempts_at_bound: 0,
            slippage_percent: config.max_slippage_percent,
            widenings: 0,
            retry_size: Decimal::ZERO,
            retry_at: None,
            deferred: false,
            refusals: 0,
        }
    }

    /// The risk manager refused a try; returns whether this refusal is worth a log line.
    pub fn refused(&mut self) -> bool {
        self.refusals = self.refusals.saturating_add(1);
        self.refusals.is_power_of_two()
    }

    /// An order of this exit went out.
    pub fn sent(&mut self) {
        self.attempts += 1;
        self.attempts_at_bound += 1;
        self.retry_at = None;
        self.retry_size = Decimal::ZERO;
    }

    /// An order of this exit finished with `unsold` shares left (a thin book, a venue refusal), or
    /// could not be sent: they go again after `retry_after_secs`.
    pub fn unfilled(&mut self, unsold: Decimal, now: Timestamp, config: &ExitsConfig) {
        self.retry_size += unsold;
        self.retry_at = Some(now.plus_millis(i64::from(config.retry_after_secs) * 1000));
    }

    /// Whether a retry is waiting for its time.
    pub fn is_waiting(&self, now: Timestamp) -> bool {
        self.retry_at.is_some_and(|at| now < at)
    }

    /// Whether a retry is due at `now`.
    pub fn is_due(&self, now: Timestamp) -> bool {
        !self.deferred && self.retry_at.is_some_and(|at| now >= at)
    }

    /// Prepares a due retry: widens the bound once `widen_after_attempts` tries were made at the
    /// current one (and it is not already 100 %).
    pub fn prepare_retry(&mut self, config: &ExitsConfig) -> Retry {
        let widen = self.attempts_at_bound >= config.widen_after_attempts && self.slippage_percent < HUNDRED;
        if widen {
            self.slippage_percent = (self.slippage_percent + config.widen_step_percent).min(HUNDRED);
            self.attempts_at_bound = 0;
            self.widenings += 1;
        }
        Retry { widened: widen }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn the_limit_is_a_percent_below_the_mark_with_a_floor_in_ticks_on_the_grid() {
        // 5 % below 0.51 is 0.4845: floored onto the 0.01 grid.
        assert_eq!(exit_limit(Side::Sell, dec!(0.51), dec!(0.01), dec!(5), 2), dec!(0.48));
        // A cheap market: 5 % of 0.04 is less than two ticks, so two ticks it is.
        assert_eq!(exit_limit(Side::Sell, dec!(0.04), dec!(0.01), dec!(5), 2), dec!(0.02));
        // Never below one tick, never outside the venue's range.
        assert_eq!(exit_limit(Side::Sell, dec!(0.02), dec!(0.01), dec!(50), 5), dec!(0.01));
        assert_eq!(exit_limit(Side::Sell, dec!(0.9), dec!(0.01), dec!(100), 0), dec!(0.01));
        // On a 0.001 market near 1 the grid is finer.
        assert_eq!(exit_limit(Side::Sell, dec!(0.987), dec!(0.001), dec!(1), 2), dec!(0.977));
        // Closing a short buys: above the mark, rounded up, at most 1 − tick.
        assert_eq!(exit_limit(Side::Buy, dec!(0.50), dec!(0.01), dec!(5), 2), dec!(0.53));
        assert_eq!(exit_limit(Side::Buy, dec!(0.98), dec!(0.01), dec!(5), 2), dec!(0.99));
    }

    #[test]
    fn an_unfilled_exit_waits_then_retries_and_widens_after_n_tries_up_to_any_price() {
        let config = ExitsConfig {
            max_slippage_percent: dec!(5),
            min_slippage_ticks: 2,
            retry_after_secs: 10,
            widen_after_attempts: 2,
            widen_step_percent: dec!(40),
        };
        let mut plan = ExitPlan::new(ExitReason::StopLoss, &config);
        let t0 = Timestamp::from_secs(1_000);
        plan.sent();
        plan.unfilled(dec!(60), t0, &config);
        assert!(plan.is_waiting(t0.plus_millis(9_999)) && !plan.is_due(t0.plus_millis(9_999)));
        assert!(plan.is_due(t0.plus_millis(10_000)));
        assert_eq!(plan.retry_size, dec!(60));
        assert_eq!(plan.prepare_retry(&config), Retry { widened: false }, "one try at 5 % so far");
        plan.sent();
        assert_eq!(plan.retry_size, dec!(0));
        plan.unfilled(dec!(60), t0, &config);
        assert_eq!(plan.prepare_retry(&config), Retry { widened: true });
        assert_eq!(plan.slippage_percent, dec!(45));
        for _ in 0..2 {
            plan.sent();
        }
        assert_eq!(plan.prepare_retry(&config), Retry { widened: true });
        assert_eq!(plan.slippage_percent, dec!(85));
        for _ in 0..2 {
            plan.sent();
        }
        assert_eq!(plan.prepare_retry(&config), Retry { widened: true });
        assert_eq!(plan.slippage_percent, dec!(100), "capped: any price down to one tick");
        for _ in 0..2 {
            plan.sent();
        }
        assert_eq!(plan.prepare_retry(&config), Retry { widened: false }, "nothing left to widen");
        assert_eq!((plan.attempts, plan.widenings), (8, 3));
    }

    #[test]
    fn an_exit_never_leaves_or_sends_less_than_the_venue_minimum() {
        assert_eq!(sellable(dec!(100), dec!(100), dec!(5)), Some(dec!(100)));
        assert_eq!(sellable(dec!(3), dec!(100), dec!(5)), Some(dec!(5)), "raised to the minimum");
        assert_eq!(sellable(dec!(97), dec!(100), dec!(5)), Some(dec!(100)), "3 would be left: all of it");
        assert_eq!(sellable(dec!(4), dec!(4), dec!(5)), None, "dust the venue will not trade");
        assert_eq!(sellable(dec!(1), dec!(0), dec!(5)), None);
        assert_eq!(sellable(dec!(2), dec!(2), dec!(0)), Some(dec!(2)));
    }

    #[test]
    fn a_deferred_exit_is_never_due() {
        let config = ExitsConfig::default();
        let mut plan = ExitPlan::new(ExitReason::StopLoss, &config);
        plan.unfilled(dec!(3), Timestamp::from_secs(0), &config);
        plan.deferred = true;
        assert!(!plan.is_due(Timestamp::from_secs(1_000)));
    }
}
