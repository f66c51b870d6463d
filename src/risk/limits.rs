//! Position limits: how many positions and how much notional are open in total, per whale and per
//! market, and how much more may be opened. Counts: `max_total_positions`, `max_positions_per_whale`,
//! `max_positions_per_market`. Notional caps: `max_position_size_usd`, `max_total_exposure_usd`,
//! `max_total_exposure_percent` of equity, `max_per_asset_exposure_percent` of equity (per market)
//! and the whale's daily allocation. USD and percent caps all apply; the stricter wins.
//!
//! Exposure is the cost basis of open shares plus the notional reserved by approved entries that
//! have not filled yet, so two quick approvals can never overshoot a cap together.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{IdHashMap, MarketId, ReasonCode, Side, TokenId, WhaleId};

use super::compliance::MarketLegs;
use super::config::LimitsConfig;
use super::stops::fraction;
use crate::domain::exact;

/// Open positions and exposure of one whale.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WhaleBook {
    pub positions: u32,
    pub exposure: Decimal,
    /// Notional approved for this whale today (the daily allocation used).
    pub allocated_today: Decimal,
}

/// Open positions and exposure in one market.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MarketBook {
    pub positions: u32,
    pub exposure: Decimal,
    pub legs: MarketLegs,
}

/// The aggregate book the limits are checked against. Entries are kept once created (a whale or
/// market seen once is likely seen again), so updates never allocate after warm-up.
#[derive(Debug, Clone, Default)]
pub struct ExposureBook {
    pub total_positions: u32,
    pub total_exposure: Decimal,
    whales: IdHashMap<WhaleId, WhaleBook>,
    markets: IdHashMap<MarketId, MarketBook>,
}

/// The fractions (percent ÷ 100) of the percent caps, computed once per config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapFractions {
    pub total: Decimal,
    pub per_asset: Decimal,
}

impl CapFractions {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            total: fraction(config.max_total_exposure_percent),
            per_asset: fraction(config.max_per_asset_exposure_percent),
        }
    }
}

/// How much more notional may be opened, and which cap decides it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// USD that may still be opened (0 when a count limit is reached).
    pub notional_usd: Decimal,
    /// The binding limit.
    pub binding: ReasonCode,
    /// That limit's value (USD, or a count for count limits).
    pub limit: Decimal,
    /// How much of it is used.
    pub used: Decimal,
}

/// A count limit that is already reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountLimit {
    pub reason: ReasonCode,
    pub limit: u32,
    pub open: u32,
}

/// The books one order is checked against: its whale's (when it copies one) and its market's,
/// `None` where nothing was opened yet.
#[derive(Debug, Clone, Copy)]
pub struct OrderBooks<'a> {
    copies_whale: bool,
    whale: Option<&'a WhaleBook>,
    market: Option<&'a MarketBook>,
}

impl OrderBooks<'_> {
    /// True when the market holds any position other than (`token`, `side`).
    #[inline]
    pub fn opposes(&self, token: TokenId, side: Side) -> bool {
        self.market.is_some_and(|m| m.legs.opposes(token, side))
    }
}

impl ExposureBook {
    pub fn with_capacity(capacity: usize) -> Self {
        let mut whales = IdHashMap::default();
        whales.reserve(capacity);
        let mut markets = IdHashMap::default();
        markets.reserve(capacity);
        Self { total_positions: 0, total_exposure: Decimal::ZERO, whales, markets }
    }

    pub fn whale(&self, whale: WhaleId) -> WhaleBook {
        self.whales.get(&whale).copied().unwrap_or_default()
    }

    pub fn market(&self, market: MarketId) -> MarketBook {
        self.markets.get(&market).copied().unwrap_or_default()
    }

    /// A new position with `notional` reserved.
    pub fn open(&mut self, whale: Option<WhaleId>, market: MarketId, token: TokenId, side: Side, notional: Decimal) {
        self.total_positions = self.total_positions.saturating_add(1);
        self.total_exposure += notional;
        if let Some(whale) = whale {
            let book = self.whales.entry(whale).or_default();
            book.positions = book.positions.saturating_add(1);
            book.exposure += notional;
            book.allocated_today += notional;
        }
        let book = self.markets.entry(market).or_default();
        book.positions = book.positions.saturating_add(1);
        book.exposure += notional;
        book.legs.add(token, side);
    }

    /// Exposure moved by `delta` (a fill at another price than reserved, a release, an exit).
    pub fn change_exposure(&mut self, whale: Option<WhaleId>, market: MarketId, delta: Decimal) {
        self.total_exposure += delta;
        if let Some(book) = whale.and_then(|w| self.whales.get_mut(&w)) {
            book.exposure += delta;
        }
        if let Some(book) = self.markets.get_mut(&market) {
            book.exposure += delta;
        }
    }

    /// Gives back daily allocation that was reserved but never filled.
    pub fn refund_allocation(&mut self, whale: Option<WhaleId>, notional: Decimal) {
        if let Some(book) = whale.and_then(|w| self.whales.get_mut(&w)) {
            book.allocated_today = (book.allocated_today - notional).max(Decimal::ZERO);
        }
    }

    /// A position is gone (its exposure must already be zero).
    pub fn close(&mut self, whale: Option<WhaleId>, market: MarketId, token: TokenId, side: Side) {
        self.total_positions = self.total_positions.saturating_sub(1);
        if let Some(book) = whale.and_then(|w| self.whales.get_mut(&w)) {
            book.positions = book.positions.saturating_sub(1);
        }
        if let Some(book) = self.markets.get_mut(&market) {
            book.positions = book.positions.saturating_sub(1);
            book.legs.remove(token, side);
        }
    }

    /// A new trading day: every whale's daily allocation starts over.
    pub fn new_day(&mut self) {
        self.whales.values_mut().for_each(|book| book.allocated_today = Decimal::ZERO);
    }

    pub fn set_allocated_today(&mut self, whale: WhaleId, allocated: Decimal) {
        self.whales.entry(whale).or_default().allocated_today = allocated;
    }

    pub fn whales(&self) -> impl Iterator<Item = (WhaleId, WhaleBook)> + '_ {
        self.whales.iter().map(|(id, book)| (*id, *book))
    }

    pub fn markets(&self) -> impl Iterator<Item = (MarketId, MarketBook)> + '_ {
        self.markets.iter().map(|(id, book)| (*id, *book))
    }

    /// The books a new position for `whale` in `market` is checked against, each map read once.
    #[inline]
    pub fn order_books(&self, whale: Option<WhaleId>, market: MarketId) -> OrderBooks<'_> {
        OrderBooks {
            copies_whale: whale.is_some(),
            whale: whale.and_then(|w| self.whales.get(&w)),
            market: self.markets.get(&market),
        }
    }

    /// The first count limit a new position for `whale` in `market` would break.
    #[inline]
    pub fn count_limit(&self, config: &LimitsConfig, whale: Option<WhaleId>, market: MarketId) -> Option<CountLimit> {
        self.count_limit_in(config, &self.order_books(whale, market))
    }

    /// [`ExposureBook::count_limit`] on books already read.
    #[inline]
    pub fn count_limit_in(&self, config: &LimitsConfig, books: &OrderBooks<'_>) -> Option<CountLimit> {
        if self.total_positions >= config.max_total_positions {
            return Some(CountLimit {
                reason: ReasonCode::MaxTotalPositions,
                limit: config.max_total_positions,
                open: self.total_positions,
            });
        }
        if let Some(book) = books.whale
            && book.positions >= config.max_positions_per_whale
        {
            return Some(CountLimit {
                reason: ReasonCode::MaxPositionsPerWhale,
                limit: config.max_positions_per_whale,
                open: book.positions,
            });
        }
        if let Some(book) = books.market
            && book.positions >= config.max_positions_per_market
        {
            return Some(CountLimit {
                reason: ReasonCode::MaxPositionsPerMarket,
                limit: config.max_positions_per_market,
                open: book.positions,
            });
        }
        None
    }

    /// Whether `notional` fits under every notional cap: the same answer as comparing it with
    /// [`ExposureBook::notional_capacity`], without working out which cap binds and by how much
    /// (needed only when it does not fit). `notional ≤ max(room, 0)` is `notional ≤ room` or
    /// `notional ≤ 0`, so the rooms need no clamping.
    #[inline]
    pub fn admits(
        &self,
        config: &LimitsConfig,
        fractions: CapFractions,
        equity: Decimal,
        books: &OrderBooks<'_>,
        whale_allocation: Decimal,
        notional: Decimal,
    ) -> bool {
        if exact::gt(notional, config.max_position_size_usd) {
            return false;
        }
        if notional.is_zero() || notional.is_sign_negative() {
            return true;
        }
        let equity = equity.max(Decimal::ZERO);
        let fits = |limit: Decimal, used: Decimal| exact::le(notional, limit - used);
        fits(config.max_total_exposure_usd, self.total_exposure)
            && fits(equity * fractions.total, self.total_exposure)
            && fits(equity * fractions.per_asset, books.market.map_or(Decimal::ZERO, |m| m.exposure))
            && (!books.copies_whale || fits(whale_allocation, books.whale.map_or(Decimal::ZERO, |w| w.allocated_today)))
    }

    /// The notional a new position for `whale` in `market` may have: the minimum of every cap's
    /// remaining room. `whale_allocation` is the whale's daily allocation (USD).
    #[inline]
    pub fn notional_capacity(
        &self,
        config: &LimitsConfig,
        fractions: CapFractions,
        equity: Decimal,
        whale: Option<WhaleId>,
        market: MarketId,
        whale_allocation: Decimal,
    ) -> Capacity {
        let equity = equity.max(Decimal::ZERO);
        let mut best = Capacity {
            notional_usd: config.max_position_size_usd,
            binding: ReasonCode::MaxPositionSize,
            limit: config.max_position_size_usd,
            used: Decimal::ZERO,
        };
        let mut consider = |binding: ReasonCode, limit: Decimal, used: Decimal| {
            let room = (limit - used).max(Decimal::ZERO);
            if room < best.notional_usd {
                best = Capacity { notional_usd: room, binding, limit, used };
            }
        };
        consider(ReasonCode::MaxTotalExposure, config.max_total_exposure_usd, self.total_exposure);
        consider(ReasonCode::MaxTotalExposure, equity * fractions.total, self.total_exposure);
        let market_exposure = self.markets.get(&market).map_or(Decimal::ZERO, |m| m.exposure);
        consider(ReasonCode::PerAssetExposure, equity * fractions.per_asset, market_exposure);
        if let Some(whale) = whale {
            let used = self.whales.get(&whale).map_or(Decimal::ZERO, |w| w.allocated_today);
            consider(ReasonCode::DailyWhaleAllocation, whale_allocation, used);
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    const W: WhaleId = WhaleId(1);
    const M: MarketId = MarketId(1);
    const T: TokenId = TokenId(1);

    fn capacity(book: &ExposureBook, equity: Decimal) -> Capacity {
        let config = LimitsConfig::default();
        book.notional_capacity(&config, CapFractions::new(&config), equity, Some(W), M, dec!(1000))
    }

    #[test]
    fn count_limits_at_the_limit() {
        let config = LimitsConfig::default();
        let mut book = ExposureBook::default();
        book.open(Some(W), M, T, Side::Buy, dec!(10));
        assert_eq!(book.count_limit(&config, Some(W), M), None, "1 of 2 in the market");
        book.open(Some(W), M, T, Side::Buy, dec!(10));
        assert_eq!(book.count_limit(&config, Some(W), M).map(|l| l.reason), Some(ReasonCode::MaxPositionsPerMarket));
        book.open(Some(W), MarketId(2), T, Side::Buy, dec!(10));
        assert_eq!(
            book.count_limit(&config, Some(W), MarketId(3)).map(|l| (l.reason, l.limit, l.open)),
            Some((ReasonCode::MaxPositionsPerWhale, 3, 3))
        );
        for m in 10..17 {
            book.open(None, MarketId(m), T, Side::Buy, dec!(1));
        }
        assert_eq!(
            book.count_limit(&config, None, MarketId(99)).map(|l| (l.reason, l.open)),
            Some((ReasonCode::MaxTotalPositions, 10))
        );
        book.close(None, MarketId(10), T, Side::Buy);
        assert_eq!(book.count_limit(&config, None, MarketId(99)), None, "8 of 10 positions leaves room");
    }

    #[test]
    fn stricter_cap_wins() {
        let book = ExposureBook::default();
        // 10 % of 10k = 1,000 total; 5 % = 500 per market; $500 per position: position size binds first (ties keep the first).
        assert_eq!(capacity(&book, dec!(10000)).binding, ReasonCode::MaxPositionSize);
        // 5 % of 6,000 = 300 per market beats $500.
        let c = capacity(&book, dec!(6000));
        assert_eq!((c.binding, c.notional_usd), (ReasonCode::PerAssetExposure, dec!(300)));
        // With 100k equity the percent caps are loose, the USD total binds once exposure is high.
        let mut book = ExposureBook::default();
        book.open(None, MarketId(7), T, Side::Buy, dec!(4800));
        let c = capacity(&book, dec!(100000));
        assert_eq!((c.binding, c.notional_usd), (ReasonCode::MaxTotalExposure, dec!(200)));
        let c = capacity(&book, dec!(-5));
        assert_eq!(c.notional_usd, dec!(0), "negative equity leaves no room");
    }

    #[test]
    fn admits_exactly_what_fits_under_the_capacity() {
        let config = LimitsConfig::default();
        let fractions = CapFractions::new(&config);
        let mut book = ExposureBook::default();
        book.open(Some(W), M, T, Side::Buy, dec!(120));
        book.open(None, MarketId(2), T, Side::Buy, dec!(333.3));
        let notionals =
            [dec!(0), dec!(-1), dec!(0.01), dec!(5), dec!(99.99), dec!(100), dec!(380), dec!(500), dec!(501)];
        let equities = [dec!(-5), dec!(0), dec!(1000), dec!(6000), dec!(10000), dec!(1000000)];
        for whale in [None, Some(W), Some(WhaleId(9))] {
            for market in [M, MarketId(2), MarketId(3)] {
                let books = book.order_books(whale, market);
                for equity in equities {
                    for allocation in [dec!(0), dec!(150), dec!(1000)] {
                        let capacity = book.notional_capacity(&config, fractions, equity, whale, market, allocation);
                        for notional in notionals {
                            assert_eq!(
                                book.admits(&config, fractions, equity, &books, allocation, notional),
                                notional <= capacity.notional_usd,
                                "{whale:?} {market} equity {equity} allocation {allocation} notional {notional}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn daily_allocation_is_used_and_refunded() {
        let mut book = ExposureBook::default();
        book.open(Some(W), MarketId(5), T, Side::Buy, dec!(900));
        let c = capacity(&book, dec!(1_000_000));
        assert_eq!((c.binding, c.notional_usd), (ReasonCode::DailyWhaleAllocation, dec!(100)));
        book.refund_allocation(Some(W), dec!(400));
        assert_eq!(capacity(&book, dec!(1_000_000)).notional_usd, dec!(500));
        book.new_day();
        assert_eq!(book.whale(W).allocated_today, dec!(0));
        assert_eq!(book.whale(W).exposure, dec!(900), "exposure survives the day roll");
    }
}
