//! The market's regime at a moment, classified from the recent path of a token's mid price.
//!
//! The tracker keeps the first mid of each [`BUCKET_MS`] bucket over the last [`WINDOW_BUCKETS`]
//! buckets (ten minutes) in a fixed array: constant memory per token, nothing allocated when a
//! price arrives. The rule, over the mids of the window in time order:
//!
//! - fewer than [`MIN_POINTS`] mids: `unknown`;
//! - `volatile` when the range (highest − lowest) is at least [`VOLATILE_RANGE_PERCENT`] of the
//!   window's first mid;
//! - `trend` when the net move (|last − first|) is at least [`TREND_SHARE_PERCENT`] of the range
//!   (and the range is not zero);
//! - otherwise `range`.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::clock::Timestamp;

/// One sample bucket: 30 seconds.
pub const BUCKET_MS: i64 = 30_000;
/// The window: 20 buckets, ten minutes.
pub const WINDOW_BUCKETS: usize = 20;
/// Mids needed before a regime is named.
pub const MIN_POINTS: usize = 4;
/// A range at least this share of the first mid, in percent, is `volatile`.
pub const VOLATILE_RANGE_PERCENT: Decimal = dec!(10);
/// A net move at least this share of the range, in percent, is a `trend`.
pub const TREND_SHARE_PERCENT: Decimal = dec!(60);

/// What the recent price path looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    Unknown,
    Range,
    Trend,
    Volatile,
}

impl Regime {
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Unknown => "unknown",
            Regime::Range => "range",
            Regime::Trend => "trend",
            Regime::Volatile => "volatile",
        }
    }
}

/// The last mid of each bucket of the window, in a ring indexed by bucket number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegimeTracker {
    mids: [Option<Decimal>; WINDOW_BUCKETS],
    /// The bucket of the newest mid; `None` before the first.
    last_bucket: Option<i64>,
}

impl Default for RegimeTracker {
    fn default() -> Self {
        Self { mids: [None; WINDOW_BUCKETS], last_bucket: None }
    }
}

impl RegimeTracker {
    /// Takes the price at `at` when it opens a new bucket: the first of a bucket stands, so that a
    /// price update inside a bucket costs one comparison. `mid` is asked for only then. A price
    /// older than the newest bucket is ignored (prices arrive in time order).
    #[inline]
    pub fn observe(&mut self, at: Timestamp, mid: impl FnOnce() -> Option<Decimal>) {
        let bucket = at.millis().div_euclid(BUCKET_MS);
        if self.last_bucket.is_some_and(|last| bucket <= last) {
            return;
        }
        let Some(mid) = mid() else { return };
        match self.last_bucket {
            Some(last) if bucket > last => {
                // Clear the buckets skipped since the last mid (at most the whole ring).
                let skipped = (bucket - last).min(WINDOW_BUCKETS as i64);
                for b in (bucket - skipped + 1)..=bucket {
                    self.mids[slot(b)] = None;
                }
            }
            _ => {}
        }
        self.mids[slot(bucket)] = Some(mid);
        self.last_bucket = Some(bucket);
    }

    /// The regime of the window ending at `now`.
    pub fn classify(&self, now: Timestamp) -> Regime {
        let Some(last) = self.last_bucket else { return Regime::Unknown };
        let now_bucket = now.millis().div_euclid(BUCKET_MS).max(last);
        let oldest = now_bucket - WINDOW_BUCKETS as i64 + 1;
        let (mut first, mut newest, mut low, mut high, mut points) = (None, None, None, None, 0usize);
        for b in oldest.max(last - WINDOW_BUCKETS as i64 + 1)..=last {
            let Some(mid) = self.mids[slot(b)] else { continue };
            points += 1;
            first = first.or(Some(mid));
            newest = Some(mid);
            low = Some(low.map_or(mid, |l: Decimal| l.min(mid)));
            high = Some(high.map_or(mid, |h: Decimal| h.max(mid)));
        }
        let (Some(first), Some(newest), Some(low), Some(high)) = (first, newest, low, high) else {
            return Regime::Unknown;
        };
        classify_path(points, first, newest, low, high)
    }
}

/// The rule itself, on a window's summary: its number of mids, first and last mid, low and high.
pub fn classify_path(points: usize, first: Decimal, last: Decimal, low: Decimal, high: Decimal) -> Regime {
    if points < MIN_POINTS || first <= Decimal::ZERO {
        return Regime::Unknown;
    }
    let range = high - low;
    if range * Decimal::ONE_HUNDRED >= VOLATILE_RANGE_PERCENT * first {
        Regime::Volatile
    } else if range > Decimal::ZERO && (last - first).abs() * Decimal::ONE_HUNDRED >= TREND_SHARE_PERCENT * range {
        Regime::Trend
    } else {
        Regime::Range
    }
}

#[inline]
fn slot(bucket: i64) -> usize {
    bucket.rem_euclid(WINDOW_BUCKETS as i64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_607_200_000;

    fn path(mids: &[Decimal]) -> RegimeTracker {
        let mut tracker = RegimeTracker::default();
        for (i, mid) in mids.iter().enumerate() {
            tracker.observe(Timestamp::from_millis(T0 + i as i64 * BUCKET_MS), || Some(*mid));
        }
        tracker
    }

    fn at_bucket(i: i64) -> Timestamp {
        Timestamp::from_millis(T0 + i * BUCKET_MS)
    }

    #[test]
    fn too_few_mids_are_unknown() {
        assert_eq!(RegimeTracker::default().classify(at_bucket(0)), Regime::Unknown);
        assert_eq!(path(&[dec!(0.5), dec!(0.6), dec!(0.7)]).classify(at_bucket(2)), Regime::Unknown);
    }

    #[test]
    fn a_steady_climb_is_a_trend() {
        let tracker = path(&[dec!(0.50), dec!(0.505), dec!(0.51), dec!(0.515), dec!(0.52)]);
        assert_eq!(tracker.classify(at_bucket(4)), Regime::Trend);
        let falling = path(&[dec!(0.52), dec!(0.515), dec!(0.51), dec!(0.508), dec!(0.50)]);
        assert_eq!(falling.classify(at_bucket(4)), Regime::Trend);
    }

    #[test]
    fn back_and_forth_within_a_narrow_band_is_a_range() {
        let tracker = path(&[dec!(0.50), dec!(0.52), dec!(0.50), dec!(0.52), dec!(0.505)]);
        assert_eq!(tracker.classify(at_bucket(4)), Regime::Range);
        let flat = path(&[dec!(0.5); 6]);
        assert_eq!(flat.classify(at_bucket(5)), Regime::Range);
    }

    #[test]
    fn a_wide_swing_is_volatile_whatever_its_direction() {
        // Range 0.06 on a first mid of 0.50: 12%.
        let tracker = path(&[dec!(0.50), dec!(0.56), dec!(0.51), dec!(0.55), dec!(0.50)]);
        assert_eq!(tracker.classify(at_bucket(4)), Regime::Volatile);
        let crash = path(&[dec!(0.50), dec!(0.49), dec!(0.40), dec!(0.30)]);
        assert_eq!(crash.classify(at_bucket(3)), Regime::Volatile);
    }

    #[test]
    fn only_the_first_mid_of_a_bucket_counts_and_old_buckets_leave_the_window() {
        let mut tracker = RegimeTracker::default();
        // Within one bucket: a later spike is not taken (nor even computed).
        tracker.observe(at_bucket(0), || Some(dec!(0.50)));
        tracker.observe(Timestamp::from_millis(T0 + 10_000), || panic!("asked for a second mid in one bucket"));
        for (i, mid) in [dec!(0.505), dec!(0.51), dec!(0.515)].into_iter().enumerate() {
            tracker.observe(at_bucket(i as i64 + 1), || Some(mid));
        }
        assert_eq!(tracker.classify(at_bucket(3)), Regime::Trend);
        // Much later, the window holds nothing: unknown again; new mids start a new path.
        assert_eq!(tracker.classify(at_bucket(3 + WINDOW_BUCKETS as i64)), Regime::Unknown);
        for i in 0..4 {
            tracker.observe(at_bucket(100 + i), || Some(dec!(0.5)));
        }
        assert_eq!(tracker.classify(at_bucket(103)), Regime::Range);
        // A mid from before the newest bucket is ignored; a quote without both sides gives none.
        tracker.observe(at_bucket(50), || Some(dec!(0.1)));
        tracker.observe(at_bucket(104), || None);
        assert_eq!(tracker.classify(at_bucket(103)), Regime::Range);
    }

    #[test]
    fn a_window_sliding_past_a_swing_forgets_it() {
        let mut mids = vec![dec!(0.30), dec!(0.50)];
        mids.extend(std::iter::repeat_n(dec!(0.50), WINDOW_BUCKETS));
        let within = path(&mids[..WINDOW_BUCKETS]);
        assert_eq!(within.classify(at_bucket(WINDOW_BUCKETS as i64 - 1)), Regime::Volatile);
        let past = path(&mids);
        assert_eq!(past.classify(at_bucket(mids.len() as i64 - 1)), Regime::Range);
    }
}
