//! Each copied whale as a unit of risk and of accounting: what copying it has earned (after our
//! costs, and what the whale's own prices would have earned on the same copies), and whether it may
//! still be copied.
//!
//! - **Ledger**: copies opened and closed, realised P&L (fees included), fees, wins, time held, and
//!   copy slippage — our average entry against the whale's fill price, per share and in USD.
//!   `whale_result` is what the same copies would have made at the whale's price and without fees:
//!   the gap between it and `realised` is the edge lost to latency and costs.
//! - **Whale breaker**: `mute_after_losses` losing copies in a row, or a loss today of
//!   `mute_after_loss_percent` of the whale's daily allocation, mutes the whale for `mute_hours`:
//!   new copies are refused (`whale_muted`), exits still mirror it. A human may lift it early.
//! - **Low-profit lock**: after at least `low_profit_min_trades` closed copies within
//!   `low_profit_lookback_days`, a rolling P&L below `low_profit_min_usd` locks the whale
//!   (`whale_low_profit`) until a later evaluation (at each close and each new trading day) finds it
//!   above again.
//! - **Copy edge** (`skip_negative_copy_edge`, off by default): once `copy_edge_min_copies` closed
//!   copies have a known whale price, a whale whose average slippage per copy (USD) exceeds its
//!   own average result per copy is skipped (`negative_copy_edge`): its edge does not survive the
//!   copying.
//!
//! Pure: time is a parameter, and [`WhaleBook::blocked`] (on the pre-trade path) only reads.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{IdHashMap, ReasonCode, WhaleId};

use super::config::WhalesConfig;

/// Closed copies remembered per whale for the low-profit lookback, at most: a bound on memory for a
/// whale that trades thousands of times a week (the oldest beyond it fall out of the window early).
pub const MAX_RECENT_COPIES: usize = 4096;

const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// One closed copy, as the ledger scores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedCopy {
    pub whale: WhaleId,
    /// Realised P&L of the copy, fees included.
    pub realised: Decimal,
    pub fees: Decimal,
    /// Shares bought.
    pub shares: Decimal,
    /// Our average entry price.
    pub entry_price: Decimal,
    /// The whale's fill price the entry copied, when known.
    pub whale_price: Option<Decimal>,
    /// `+1` for a long copy, `-1` for a short one.
    pub direction: Decimal,
    pub opened_at: Timestamp,
    pub closed_at: Timestamp,
}

/// Why a whale may not be copied now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// The whale breaker muted it (`cause`: `consecutive_losses` or `daily_loss_limit`) until `until`.
    Muted { cause: ReasonCode, until: Timestamp },
    /// Its rolling P&L over the lookback is below the floor.
    LowProfit,
    /// Copying it costs more in slippage per copy (USD) than its own trades gain per copy.
    NegativeEdge { slippage_per_copy: Decimal, gain_per_copy: Decimal },
}

impl Block {
    pub fn reason(self) -> ReasonCode {
        match self {
            Block::Muted { .. } => ReasonCode::WhaleMuted,
            Block::LowProfit => ReasonCode::WhaleLowProfit,
            Block::NegativeEdge { .. } => ReasonCode::NegativeCopyEdge,
        }
    }
}

/// A change of a whale's standing, for the audit trail and alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum WhaleChange {
    /// Muted by the whale breaker until `until`.
    Muted { whale: WhaleId, cause: ReasonCode, until: Timestamp, detail: String, at: Timestamp },
    /// The mute ended: its cooldown elapsed, or a human lifted it.
    Unmuted { whale: WhaleId, manual: bool, at: Timestamp },
    /// Locked for low profit over the lookback.
    Locked { whale: WhaleId, rolling_pnl: Decimal, copies: u32, at: Timestamp },
    /// The low-profit lock lifted: the rolling P&L is back above the floor (or too few copies).
    Unlocked { whale: WhaleId, rolling_pnl: Decimal, at: Timestamp },
}

/// One whale's ledger and standing. Persisted whole with the risk state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhaleLedger {
    pub whale: WhaleId,
    pub copies_opened: u64,
    pub copies_closed: u64,
    /// Closed copies with a positive realised P&L.
    pub wins: u64,
    /// Realised P&L of the closed copies, fees included.
    pub realised: Decimal,
    pub fees: Decimal,
    /// Time the closed copies were held, summed (milliseconds).
    pub held_ms: i64,
    /// Closed copies whose whale price is known: the ones the slippage figures cover.
    pub slippage_copies: u64,
    /// Our entry price minus the whale's, against us positive, summed per copy (USD per share).
    pub slippage_price_sum: Decimal,
    /// The same in USD: the per-share slippage times the shares bought, summed.
    pub slippage_usd: Decimal,
    /// What the closed copies would have made at the whale's price and without fees.
    pub whale_result: Decimal,
    pub consecutive_losses: u32,
    /// Realised today (trading day of the risk manager).
    pub realised_today: Decimal,
    pub muted_until: Option<Timestamp>,
    pub mute_cause: Option<ReasonCode>,
    pub low_profit: bool,
    /// Closed copies inside the lookback, oldest first: (closed at, realised).
    pub recent: VecDeque<(Timestamp, Decimal)>,
}

impl WhaleLedger {
    fn new(whale: WhaleId) -> Self {
        Self {
            whale,
            copies_opened: 0,
            copies_closed: 0,
            wins: 0,
            realised: Decimal::ZERO,
            fees: Decimal::ZERO,
            held_ms: 0,
            slippage_copies: 0,
            slippage_price_sum: Decimal::ZERO,
            slippage_usd: Decimal::ZERO,
            whale_result: Decimal::ZERO,
            consecutive_losses: 0,
            realised_today: Decimal::ZERO,
            muted_until: None,
            mute_cause: None,
            low_profit: false,
            recent: VecDeque::new(),
        }
    }

    /// Closed copies that made money, as a share of the closed copies (`None` before the first).
    pub fn hit_rate(&self) -> Option<Decimal> {
        (self.copies_closed > 0).then(|| Decimal::from(self.wins) / Decimal::from(self.copies_closed))
    }

    /// Average time a closed copy was held, in milliseconds.
    pub fn average_hold_ms(&self) -> Option<i64> {
        i64::try_from(self.copies_closed).ok().filter(|n| *n > 0).map(|n| self.held_ms / n)
    }

    /// Average copy slippage per share, against us positive.
    pub fn average_slippage(&self) -> Option<Decimal> {
        (self.slippage_copies > 0).then(|| self.slippage_price_sum / Decimal::from(self.slippage_copies))
    }

    /// Realised P&L over the closed copies still in the lookback.
    pub fn rolling_pnl(&self) -> Decimal {
        self.recent.iter().map(|(_, pnl)| *pnl).sum()
    }

    /// Average copy slippage in USD against the whale's own average result, per closed copy, once
    /// at least `min_copies` closed copies with a known whale price are in.
    pub fn copy_edge(&self, min_copies: u32) -> Option<(Decimal, Decimal)> {
        if min_copies == 0 || self.slippage_copies < u64::from(min_copies) || self.copies_closed == 0 {
            return None;
        }
        let slippage_per_copy = self.slippage_usd / Decimal::from(self.slippage_copies);
        let gain_per_copy = self.whale_result / Decimal::from(self.copies_closed);
        Some((slippage_per_copy, gain_per_copy))
    }

    /// Why the whale may not be copied at `now`, if it may not.
    pub fn block(&self, now: Timestamp, config: &WhalesConfig) -> Option<Block> {
        if let Some(until) = self.muted_until.filter(|until| now < *until) {
            let cause = self.mute_cause.unwrap_or(ReasonCode::ConsecutiveLosses);
            return Some(Block::Muted { cause, until });
        }
        if self.low_profit {
            return Some(Block::LowProfit);
        }
        self.negative_edge(config)
            .map(|(slippage_per_copy, gain_per_copy)| Block::NegativeEdge { slippage_per_copy, gain_per_copy })
    }

    /// The copy edge, when the copy-edge guard is on and finds it negative.
    pub fn negative_edge(&self, config: &WhalesConfig) -> Option<(Decimal, Decimal)> {
        config
            .skip_negative_copy_edge
            .then(|| self.copy_edge(config.copy_edge_min_copies))
            .flatten()
            .filter(|(slippage, gain)| slippage > gain)
    }

    /// Ends the mute and the losing streak behind it; answers whether a mute was running at `now`.
    fn lift_mute(&mut self, now: Timestamp) -> bool {
        let was_muted = self.muted_until.is_some_and(|until| now < until);
        self.muted_until = None;
        self.mute_cause = None;
        self.consecutive_losses = 0;
        was_muted
    }
}

/// Every copied whale's ledger.
#[derive(Debug, Clone, Default)]
pub struct WhaleBook {
    ledgers: IdHashMap<WhaleId, WhaleLedger>,
    /// The earliest end of a running mute, so that the timer's check is one comparison.
    next_mute_end: Option<Timestamp>,
}

impl WhaleBook {
    pub fn with_capacity(capacity: usize) -> Self {
        let mut ledgers = IdHashMap::default();
        ledgers.reserve(capacity);
        Self { ledgers, next_mute_end: None }
    }

    /// Rebuilt from persisted ledgers.
    pub fn restore(ledgers: Vec<WhaleLedger>) -> Self {
        let mut book = Self::with_capacity(ledgers.len().max(64));
        for ledger in ledgers {
            book.ledgers.insert(ledger.whale, ledger);
        }
        book.refresh_next_mute_end();
        book
    }

    /// Whether a running mute ends by `now` ([`WhaleBook::end_elapsed_mutes`] has work to do).
    #[inline]
    pub fn mute_ends_by(&self, now: Timestamp) -> bool {
        self.next_mute_end.is_some_and(|end| now >= end)
    }

    fn refresh_next_mute_end(&mut self) {
        self.next_mute_end = self.ledgers.values().filter_map(|l| l.muted_until).min();
    }

    /// Every ledger, by whale id (for persistence, status and metrics).
    pub fn ledgers(&self) -> Vec<WhaleLedger> {
        let mut all: Vec<WhaleLedger> = self.ledgers.values().cloned().collect();
        all.sort_by_key(|l| l.whale);
        all
    }

    pub fn ledger(&self, whale: WhaleId) -> Option<&WhaleLedger> {
        self.ledgers.get(&whale)
    }

    /// Why `whale` may not be copied at `now`. Reads only: the pre-trade path allocates nothing.
    #[inline]
    pub fn blocked(&self, whale: WhaleId, now: Timestamp, config: &WhalesConfig) -> Option<Block> {
        self.ledgers.get(&whale).and_then(|ledger| ledger.block(now, config))
    }

    /// An entry copying `whale` filled for the first time.
    pub fn copy_opened(&mut self, whale: WhaleId) {
        self.entry(whale).copies_opened += 1;
    }

    /// Scores a closed copy; the breaker and the lock react to it. `allocation` is the whale's daily
    /// allocation (USD), the base of the daily-loss mute.
    pub fn copy_closed(
        &mut self,
        copy: &ClosedCopy,
        allocation: Decimal,
        config: &WhalesConfig,
        changes: &mut Vec<WhaleChange>,
    ) {
        let ledger = self.entry(copy.whale);
        ledger.copies_closed += 1;
        if copy.realised > Decimal::ZERO {
            ledger.wins += 1;
        }
        ledger.realised += copy.realised;
        ledger.fees += copy.fees;
        ledger.held_ms = ledger.held_ms.saturating_add(copy.closed_at.millis_since(copy.opened_at).max(0));
        let mut slippage_usd = Decimal::ZERO;
        if let Some(whale_price) = copy.whale_price {
            let per_share = copy.direction * (copy.entry_price - whale_price);
            slippage_usd = per_share * copy.shares;
            ledger.slippage_copies += 1;
            ledger.slippage_price_sum += per_share;
            ledger.slippage_usd += slippage_usd;
        }
        ledger.whale_result += copy.realised + copy.fees + slippage_usd;
        ledger.realised_today += copy.realised;
        ledger.consecutive_losses = if copy.realised < Decimal::ZERO { ledger.consecutive_losses + 1 } else { 0 };
        ledger.recent.push_back((copy.closed_at, copy.realised));
        while ledger.recent.len() > MAX_RECENT_COPIES {
            ledger.recent.pop_front();
        }
        let now = copy.closed_at;
        let already_muted = ledger.muted_until.is_some_and(|until| now < until);
        let mut muted_until = None;
        if !already_muted && let Some((cause, detail)) = mute_cause(ledger, allocation, config) {
            let until = now.plus_millis(i64::from(config.mute_hours) * MS_PER_HOUR);
            ledger.muted_until = Some(until);
            ledger.mute_cause = Some(cause);
            muted_until = Some(until);
            changes.push(WhaleChange::Muted { whale: copy.whale, cause, until, detail, at: now });
        }
        evaluate_low_profit(ledger, now, config, changes);
        if let Some(until) = muted_until {
            self.next_mute_end = Some(self.next_mute_end.map_or(until, |end| end.min(until)));
        }
    }

    /// A new trading day: today's figures start again, ended mutes are announced, and every
    /// whale's low-profit standing is evaluated afresh.
    pub fn new_day(&mut self, now: Timestamp, config: &WhalesConfig, changes: &mut Vec<WhaleChange>) {
        for ledger in self.ledgers.values_mut() {
            ledger.realised_today = Decimal::ZERO;
            evaluate_low_profit(ledger, now, config, changes);
        }
        self.end_elapsed_mutes(now, changes);
    }

    /// Mutes whose cooldown ran out are cleared and announced (called on the timer).
    pub fn end_elapsed_mutes(&mut self, now: Timestamp, changes: &mut Vec<WhaleChange>) {
        for ledger in self.ledgers.values_mut() {
            if ledger.muted_until.is_some_and(|until| now >= until) {
                ledger.lift_mute(now);
                changes.push(WhaleChange::Unmuted { whale: ledger.whale, manual: false, at: now });
            }
        }
        self.refresh_next_mute_end();
    }

    /// A human lifts `whale`'s mute (and its losing streak). Answers whether it was muted.
    pub fn unmute(&mut self, whale: WhaleId, now: Timestamp, changes: &mut Vec<WhaleChange>) -> bool {
        let Some(ledger) = self.ledgers.get_mut(&whale) else { return false };
        let was_muted = ledger.lift_mute(now);
        if was_muted {
            changes.push(WhaleChange::Unmuted { whale, manual: true, at: now });
        }
        self.refresh_next_mute_end();
        was_muted
    }

    fn entry(&mut self, whale: WhaleId) -> &mut WhaleLedger {
        self.ledgers.entry(whale).or_insert_with(|| WhaleLedger::new(whale))
    }
}

/// Whether the whale's latest results trip its breaker, and how to say why.
fn mute_cause(ledger: &WhaleLedger, allocation: Decimal, config: &WhalesConfig) -> Option<(ReasonCode, String)> {
    let streak = ledger.consecutive_losses;
    if config.mute_after_losses > 0 && streak >= config.mute_after_losses {
        return Some((
            ReasonCode::ConsecutiveLosses,
            format!(
                "{streak} losing copies in a row reached risk.whales.mute_after_losses {}",
                config.mute_after_losses
            ),
        ));
    }
    let limit = allocation * config.mute_after_loss_percent / Decimal::ONE_HUNDRED;
    if config.mute_after_loss_percent > Decimal::ZERO && limit > Decimal::ZERO && -ledger.realised_today >= limit {
        return Some((
            ReasonCode::DailyLossLimit,
            format!(
                "lost {} today, at least {}% of its daily allocation {} (risk.whales.mute_after_loss_percent)",
                -ledger.realised_today, config.mute_after_loss_percent, allocation
            ),
        ));
    }
    None
}

/// Drops copies older than the lookback, then locks or unlocks the whale on its rolling P&L.
fn evaluate_low_profit(
    ledger: &mut WhaleLedger,
    now: Timestamp,
    config: &WhalesConfig,
    changes: &mut Vec<WhaleChange>,
) {
    let horizon = now.plus_millis(-i64::from(config.low_profit_lookback_days) * MS_PER_DAY);
    while ledger.recent.front().is_some_and(|(at, _)| *at < horizon) {
        ledger.recent.pop_front();
    }
    let copies = u32::try_from(ledger.recent.len()).unwrap_or(u32::MAX);
    let rolling_pnl = ledger.rolling_pnl();
    let lock = config.low_profit_min_trades > 0
        && copies >= config.low_profit_min_trades
        && rolling_pnl < config.low_profit_min_usd;
    if lock && !ledger.low_profit {
        ledger.low_profit = true;
        changes.push(WhaleChange::Locked { whale: ledger.whale, rolling_pnl, copies, at: now });
    } else if !lock && ledger.low_profit {
        ledger.low_profit = false;
        changes.push(WhaleChange::Unlocked { whale: ledger.whale, rolling_pnl, at: now });
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    const W: WhaleId = WhaleId(1);
    const T0: Timestamp = Timestamp::from_millis(1_767_607_200_000);

    fn config() -> WhalesConfig {
        WhalesConfig::default()
    }

    fn copy(realised: Decimal, closed_at: Timestamp) -> ClosedCopy {
        ClosedCopy {
            whale: W,
            realised,
            fees: dec!(0.1),
            shares: dec!(100),
            entry_price: dec!(0.52),
            whale_price: Some(dec!(0.50)),
            direction: Decimal::ONE,
            opened_at: closed_at.plus_millis(-60_000),
            closed_at,
        }
    }

    fn close(book: &mut WhaleBook, realised: Decimal, at: Timestamp, config: &WhalesConfig) -> Vec<WhaleChange> {
        let mut changes = Vec::new();
        book.copy_closed(&copy(realised, at), dec!(1000), config, &mut changes);
        changes
    }

    #[test]
    fn the_ledger_scores_slippage_and_the_whales_own_result() {
        let mut book = WhaleBook::default();
        book.copy_opened(W);
        close(&mut book, dec!(3), T0, &config());
        let l = book.ledger(W).cloned().unwrap_or_else(|| WhaleLedger::new(W));
        assert_eq!((l.copies_opened, l.copies_closed, l.wins), (1, 1, 1));
        assert_eq!(l.average_slippage(), Some(dec!(0.02)));
        assert_eq!(l.slippage_usd, dec!(2));
        // 3 realised + 0.1 fees + 2 slippage: the whale's prices would have made 5.1.
        assert_eq!(l.whale_result, dec!(5.1));
        assert_eq!(l.hit_rate(), Some(Decimal::ONE));
        assert_eq!(l.average_hold_ms(), Some(60_000));
    }

    #[test]
    fn the_breaker_mutes_at_the_losing_streak_and_not_one_before() {
        let c = config();
        let mut book = WhaleBook::default();
        for i in 0..c.mute_after_losses - 1 {
            assert!(close(&mut book, dec!(-1), T0.plus_millis(i64::from(i)), &c).is_empty());
        }
        assert_eq!(book.blocked(W, T0, &c), None, "one loss short of the streak");
        let changes = close(&mut book, dec!(-1), T0.plus_millis(10), &c);
        let until = T0.plus_millis(10 + i64::from(c.mute_hours) * MS_PER_HOUR);
        assert!(matches!(changes.as_slice(), [WhaleChange::Muted { cause: ReasonCode::ConsecutiveLosses, .. }]));
        assert_eq!(
            book.blocked(W, T0.plus_millis(11), &c),
            Some(Block::Muted { cause: ReasonCode::ConsecutiveLosses, until })
        );
        assert_eq!(book.blocked(W, until, &c), None, "the cooldown ends the mute");
        let mut changes = Vec::new();
        book.end_elapsed_mutes(until, &mut changes);
        assert_eq!(changes, vec![WhaleChange::Unmuted { whale: W, manual: false, at: until }]);
    }

    #[test]
    fn a_win_resets_the_streak() {
        let c = config();
        let mut book = WhaleBook::default();
        close(&mut book, dec!(-1), T0, &c);
        close(&mut book, dec!(-1), T0, &c);
        close(&mut book, dec!(0.5), T0, &c);
        close(&mut book, dec!(-1), T0, &c);
        assert_eq!(book.blocked(W, T0, &c), None);
        assert_eq!(book.ledger(W).map(|l| l.consecutive_losses), Some(1));
    }

    #[test]
    fn the_breaker_mutes_at_the_share_of_the_daily_allocation_lost() {
        // 50 % of a 1,000 allocation: 499.99 lost is not yet, 500 is.
        let c = WhalesConfig { mute_after_losses: 0, ..config() };
        let mut book = WhaleBook::default();
        assert!(close(&mut book, dec!(-499.99), T0, &c).is_empty());
        let changes = close(&mut book, dec!(-0.01), T0, &c);
        assert!(matches!(changes.as_slice(), [WhaleChange::Muted { cause: ReasonCode::DailyLossLimit, .. }]));
        // A new day starts the daily figure again; the mute runs its course.
        let mut changes = Vec::new();
        book.new_day(T0.plus_millis(MS_PER_DAY), &c, &mut changes);
        assert_eq!(book.ledger(W).map(|l| l.realised_today), Some(Decimal::ZERO));
    }

    #[test]
    fn a_human_lifts_a_mute_early() {
        let c = config();
        let mut book = WhaleBook::default();
        for _ in 0..c.mute_after_losses {
            close(&mut book, dec!(-1), T0, &c);
        }
        let mut changes = Vec::new();
        assert!(book.unmute(W, T0.plus_millis(1), &mut changes));
        assert_eq!(book.blocked(W, T0.plus_millis(1), &c), None);
        assert_eq!(changes, vec![WhaleChange::Unmuted { whale: W, manual: true, at: T0.plus_millis(1) }]);
        assert!(!book.unmute(W, T0.plus_millis(2), &mut changes), "not muted any more");
        assert!(!book.unmute(WhaleId(9), T0, &mut changes), "never seen");
    }

    #[test]
    fn the_low_profit_lock_needs_its_minimum_of_copies_and_lifts_when_the_window_moves_on() {
        let c = WhalesConfig { mute_after_losses: 0, mute_after_loss_percent: Decimal::ZERO, ..config() };
        let mut book = WhaleBook::default();
        for i in 0..c.low_profit_min_trades - 1 {
            assert!(close(&mut book, dec!(-0.01), T0.plus_millis(i64::from(i)), &c).is_empty());
        }
        assert_eq!(book.blocked(W, T0, &c), None, "one copy short of the minimum");
        let changes = close(&mut book, dec!(-0.01), T0.plus_millis(100), &c);
        assert!(matches!(changes.as_slice(), [WhaleChange::Locked { .. }]));
        assert_eq!(book.blocked(W, T0.plus_millis(101), &c), Some(Block::LowProfit));
        // After the lookback the losing copies fall out: the next day's evaluation lifts the lock.
        let later = T0.plus_millis(i64::from(c.low_profit_lookback_days) * MS_PER_DAY + 1_000);
        let mut changes = Vec::new();
        book.new_day(later, &c, &mut changes);
        assert!(matches!(changes.as_slice(), [WhaleChange::Unlocked { .. }]));
        assert_eq!(book.blocked(W, later, &c), None);
    }

    #[test]
    fn a_rolling_pnl_at_the_floor_is_not_locked() {
        let c = WhalesConfig { mute_after_losses: 0, ..config() };
        let mut book = WhaleBook::default();
        for i in 0..c.low_profit_min_trades {
            close(&mut book, Decimal::ZERO, T0.plus_millis(i64::from(i)), &c);
        }
        assert_eq!(book.blocked(W, T0.plus_millis(1_000), &c), None, "0 is not below the floor of 0");
    }

    #[test]
    fn the_copy_edge_guard_skips_a_whale_whose_slippage_outweighs_its_gain() {
        // Each copy: $2 of slippage (0.02 × 100 shares); the whale's own result is realised + fees
        // ($0.10) + slippage. At −0.10 realised the whale gains $2.00 a copy, exactly the slippage.
        let c = WhalesConfig {
            mute_after_losses: 0,
            mute_after_loss_percent: Decimal::ZERO,
            low_profit_min_trades: 0,
            skip_negative_copy_edge: true,
            ..config()
        };
        let mut even = WhaleBook::default();
        for i in 0..c.copy_edge_min_copies {
            close(&mut even, dec!(-0.10), T0.plus_millis(i64::from(i)), &c);
        }
        assert_eq!(even.blocked(W, T0, &c), None, "slippage equal to the gain is not negative");
        let mut worse = WhaleBook::default();
        for i in 0..c.copy_edge_min_copies - 1 {
            close(&mut worse, dec!(-0.11), T0.plus_millis(i64::from(i)), &c);
        }
        assert_eq!(worse.blocked(W, T0, &c), None, "one copy short of the minimum");
        close(&mut worse, dec!(-0.11), T0.plus_millis(100), &c);
        let block = worse.blocked(W, T0, &c);
        assert_eq!(block, Some(Block::NegativeEdge { slippage_per_copy: dec!(2), gain_per_copy: dec!(1.99) }));
        assert_eq!(block.map(Block::reason), Some(ReasonCode::NegativeCopyEdge));
        // Off by default.
        assert_eq!(worse.blocked(W, T0, &config()), None);
    }

    #[test]
    fn the_lookback_memory_is_bounded() {
        let c = WhalesConfig { mute_after_losses: 0, low_profit_min_trades: 0, ..config() };
        let mut book = WhaleBook::default();
        for i in 0..(MAX_RECENT_COPIES + 10) {
            close(&mut book, dec!(1), T0.plus_millis(i as i64), &c);
        }
        assert_eq!(book.ledger(W).map(|l| l.recent.len()), Some(MAX_RECENT_COPIES));
    }
}
