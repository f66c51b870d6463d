//! Where the whale feed is in one wallet's history: a watermark that never skips a trade, and a
//! bounded memory of the trades already emitted. Pure and synchronous; the poller drives it.
//!
//! Invariant: every trade with a timestamp at or below the watermark that the API had published
//! when it was read has been emitted (or deliberately held back because it predates start-up).
//! Each poll re-reads from `watermark − overlap`, because the indexer publishes fills late
//! stamped with their block time; the memory of seen keys covers exactly that overlap, so the
//! re-read rows are recognised and nothing is emitted twice.

use std::collections::BTreeSet;

use crate::clock::Timestamp;
use crate::market::{TradeKey, WhaleTrade};

/// What the feed should do with a row it just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Not seen before: emit it, then [`WalletCursor::record`] it.
    New,
    /// Already emitted (an overlapping window, a repeated page, a restart).
    Duplicate,
    /// Predates start-up and copying old trades is off: remember it, do not emit it.
    BeforeStart,
    /// Older than the dedupe memory reaches: it cannot be told apart from an emitted trade, so it
    /// is never emitted (the API should not return it: the window starts at the horizon).
    BelowHorizon,
}

/// A cursor's persistent form: what a restart needs to neither skip nor duplicate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CursorState {
    pub watermark: Timestamp,
    pub seen: Vec<TradeKey>,
}

impl CursorState {
    /// Rebuilds a wallet's state from the trades the daemon stored: the watermark is the newest
    /// one, and every stored trade counts as seen (older ones are pruned by the overlap).
    pub fn from_trades<'a>(trades: impl IntoIterator<Item = &'a WhaleTrade>) -> Option<Self> {
        let seen: Vec<TradeKey> = trades.into_iter().map(WhaleTrade::key).collect();
        let watermark = seen.iter().map(|k| k.timestamp).max()?;
        Some(Self { watermark, seen })
    }
}

/// One wallet's position in its trade history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletCursor {
    watermark: Timestamp,
    overlap_ms: i64,
    /// Ordered by timestamp first, so pruning is one split.
    seen: BTreeSet<TradeKey>,
    /// Trades before this are remembered but not emitted (`None`: emit everything new).
    emit_from: Option<Timestamp>,
}

impl WalletCursor {
    /// A wallet with no saved state: start `lookback_secs` before `now`; with `emit_from` set,
    /// trades before it (i.e. before start-up) are not emitted.
    pub fn fresh(now: Timestamp, lookback_secs: u64, overlap_secs: u64, emit_from: Option<Timestamp>) -> Self {
        Self {
            watermark: now.plus_secs(-(lookback_secs.min(i64::MAX as u64) as i64)),
            overlap_ms: secs_to_ms(overlap_secs),
            seen: BTreeSet::new(),
            emit_from,
        }
    }

    /// A wallet resumed from saved state: it continues at its watermark and emits what it missed.
    pub fn restored(state: CursorState, overlap_secs: u64) -> Self {
        let mut cursor = Self {
            watermark: state.watermark,
            overlap_ms: secs_to_ms(overlap_secs),
            seen: state.seen.into_iter().collect(),
            emit_from: None,
        };
        cursor.prune();
        cursor
    }

    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The oldest timestamp still remembered: the start of the next read window.
    pub fn horizon(&self) -> Timestamp {
        self.watermark.plus_millis(-self.overlap_ms)
    }

    /// The `start` parameter of the next poll, in whole seconds (rounded down: re-reading one more
    /// second is harmless, missing one is not).
    pub fn window_start_secs(&self) -> i64 {
        self.horizon().millis().div_euclid(1000).max(0)
    }

    /// Decides what to do with a trade just read; does not change the cursor.
    pub fn admit(&self, trade: &WhaleTrade) -> Admission {
        if trade.timestamp < self.horizon() {
            return Admission::BelowHorizon;
        }
        if self.seen.contains(&trade.key()) {
            return Admission::Duplicate;
        }
        match self.emit_from {
            Some(start) if trade.timestamp < start => Admission::BeforeStart,
            _ => Admission::New,
        }
    }

    /// Remembers a trade once it has been handed on (or deliberately held back).
    pub fn record(&mut self, trade: &WhaleTrade) {
        self.seen.insert(trade.key());
    }

    /// Moves the watermark forward to `read_up_to` (never back) and forgets keys that fell below
    /// the new horizon. Call only with the newest timestamp of rows that were *all* handled.
    pub fn advance(&mut self, read_up_to: Timestamp) {
        if read_up_to > self.watermark {
            self.watermark = read_up_to;
            self.prune();
        }
    }

    pub fn seen_len(&self) -> usize {
        self.seen.len()
    }

    /// The persistent form, for the store.
    pub fn state(&self) -> CursorState {
        CursorState { watermark: self.watermark, seen: self.seen.iter().cloned().collect() }
    }

    fn prune(&mut self) {
        let horizon = self.horizon();
        // Keys order by timestamp first: the first key at the horizon splits off everything older.
        let keep = match self.seen.iter().find(|k| k.timestamp >= horizon) {
            Some(first_kept) => self.seen.split_off(&first_kept.clone()),
            None => BTreeSet::new(),
        };
        self.seen = keep;
    }
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn trade(tx: &str, secs: i64) -> WhaleTrade {
        WhaleTrade::sample(tx, Timestamp::from_secs(secs))
    }

    #[test]
    fn fresh_cursor_holds_back_trades_before_start_and_emits_later_ones_once() {
        let start = Timestamp::from_secs(1_000);
        let mut cursor = WalletCursor::fresh(start, 60, 30, Some(start));
        assert_eq!(cursor.window_start_secs(), 910);
        let old = trade("0x1", 950);
        let new = trade("0x2", 1_001);
        assert_eq!(cursor.admit(&old), Admission::BeforeStart);
        cursor.record(&old);
        assert_eq!(cursor.admit(&old), Admission::Duplicate);
        assert_eq!(cursor.admit(&new), Admission::New);
        cursor.record(&new);
        assert_eq!(cursor.admit(&new), Admission::Duplicate);
    }

    #[test]
    fn advancing_prunes_keys_below_the_overlap_but_keeps_the_window() {
        let mut cursor = WalletCursor::fresh(Timestamp::from_secs(1_000), 0, 30, None);
        for (tx, t) in [("0x1", 1_000), ("0x2", 1_020), ("0x3", 1_050)] {
            cursor.record(&trade(tx, t));
        }
        cursor.advance(Timestamp::from_secs(1_060));
        // horizon 1030: 0x1 and 0x2 are forgotten, 0x3 is still a duplicate.
        assert_eq!(cursor.seen_len(), 1);
        assert_eq!(cursor.admit(&trade("0x3", 1_050)), Admission::Duplicate);
        assert_eq!(cursor.admit(&trade("0x2", 1_020)), Admission::BelowHorizon);
        assert_eq!(cursor.window_start_secs(), 1_030);
        cursor.advance(Timestamp::from_secs(900));
        assert_eq!(cursor.watermark(), Timestamp::from_secs(1_060), "a watermark never moves back");
    }

    #[test]
    fn restored_state_resumes_without_duplicates_or_start_cutoff() {
        let stored = [trade("0x1", 2_000), trade("0x2", 2_010)];
        let state = CursorState::from_trades(&stored).unwrap();
        assert_eq!(state.watermark, Timestamp::from_secs(2_010));
        let cursor = WalletCursor::restored(state.clone(), 60);
        assert_eq!(cursor.admit(&stored[0]), Admission::Duplicate);
        assert_eq!(cursor.admit(&trade("0x3", 2_011)), Admission::New);
        assert_eq!(cursor.state().seen.len(), 2);
        assert!(CursorState::from_trades(&[]).is_none());
    }

    #[test]
    fn same_hash_different_fill_is_a_different_trade() {
        let cursor = {
            let mut c = WalletCursor::fresh(Timestamp::from_secs(0), 0, 60, None);
            c.record(&trade("0xsame", 10));
            c
        };
        let mut other_fill = trade("0xsame", 10);
        other_fill.size = dec!(10.000001);
        assert_eq!(cursor.admit(&other_fill), Admission::New);
    }
}
