//! Safeguards on every order: sanity (price inside (0, 1) and on the tick grid, positive size,
//! minimum size and notional), duplicate orders (same client order id or same source trade) and
//! double fire (same market and side within a window). The kill switch is the `Killed` trading
//! state (see [`super::state`]). Memory is bounded and preallocated, so the checks never allocate.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{ClientOrderId, IdHashMap, IdHashSet, MarketId, Side, SourceTradeId};

use super::config::SafeguardsConfig;
use crate::domain::exact;

/// The largest order or fill size accepted, in shares (and the largest USD amount accepted as a
/// fee or a realised P&L). Far beyond any real order, and small enough that sums of many of them
/// can never overflow a `Decimal`: bad input becomes a rejection, never a panic.
pub const MAX_QUANTITY: Decimal = rust_decimal_macros::dec!(1_000_000_000_000);

/// The grid and minimums one order is checked against: the market's own tick size and minimum
/// order size where the venue has told us (a market's tick changes as its price nears 0 or 1), the
/// configured ones for a market we know nothing about yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRules {
    pub tick_size: Decimal,
    pub min_order_size: Decimal,
    pub min_order_notional_usd: Decimal,
}

impl OrderRules {
    /// The configured rules, for markets whose own are not known.
    pub fn configured(config: &SafeguardsConfig) -> Self {
        Self {
            tick_size: config.tick_size,
            min_order_size: config.min_order_size,
            min_order_notional_usd: config.min_order_notional_usd,
        }
    }

    /// A market's rules: the venue's tick, and the larger of the venue's and the configured
    /// minimum size (a user may ask for bigger orders than the venue does, never smaller ones).
    pub fn for_market(config: &SafeguardsConfig, venue: &MarketRules) -> Self {
        Self {
            tick_size: venue.tick_size,
            min_order_size: venue.min_order_size.max(config.min_order_size),
            min_order_notional_usd: config.min_order_notional_usd,
        }
    }
}

/// What the venue says about one market's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketRules {
    pub tick_size: Decimal,
    pub min_order_size: Decimal,
}

impl MarketRules {
    /// Whether these rules can be used: a tick inside (0, 1) and a minimum that is not negative.
    pub fn is_valid(&self) -> bool {
        self.tick_size > Decimal::ZERO && self.tick_size < Decimal::ONE && self.min_order_size >= Decimal::ZERO
    }
}

/// What is wrong with an order's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanityViolation {
    PriceOutsideRange,
    PriceOffTick,
    SizeNotPositive,
    SizeTooLarge,
    BelowMinimumSize,
    BelowMinimumNotional,
}

impl SanityViolation {
    pub fn rule(self) -> &'static str {
        match self {
            SanityViolation::PriceOutsideRange => "price must be inside (0, 1)",
            SanityViolation::PriceOffTick => "price must be a multiple of the market's tick size",
            SanityViolation::SizeNotPositive => "size must be greater than 0",
            SanityViolation::SizeTooLarge => "size must be at most 10^12 shares",
            SanityViolation::BelowMinimumSize => {
                "size is below the market's minimum order size (or risk.safeguards.min_order_size)"
            }
            SanityViolation::BelowMinimumNotional => "notional is below risk.safeguards.min_order_notional_usd",
        }
    }
}

/// Checks price range, tick grid and size; `check_minimums` is off for exits, which must be able to
/// close a small remainder.
#[inline]
pub fn check_order(
    rules: &OrderRules,
    price: Decimal,
    size: Decimal,
    check_minimums: bool,
) -> Result<(), SanityViolation> {
    if check_minimums { check_entry_order(rules, price, size).map(|_| ()) } else { check_shape(rules, price, size) }
}

/// [`check_order`] with the minimums, for an entry; answers the order's notional (size × price),
/// which the minimum-notional rule computes and the capacity check and the reservation use again.
#[inline]
pub fn check_entry_order(rules: &OrderRules, price: Decimal, size: Decimal) -> Result<Decimal, SanityViolation> {
    check_shape(rules, price, size)?;
    if exact::lt(size, rules.min_order_size) {
        return Err(SanityViolation::BelowMinimumSize);
    }
    // Cannot overflow: the price is below 1 and the size at most `MAX_QUANTITY`.
    let notional = size * price;
    if exact::lt(notional, rules.min_order_notional_usd) {
        return Err(SanityViolation::BelowMinimumNotional);
    }
    Ok(notional)
}

/// Price range, tick grid and size bounds: the rules every order is held to.
#[inline]
fn check_shape(rules: &OrderRules, price: Decimal, size: Decimal) -> Result<(), SanityViolation> {
    if !exact::inside_unit_interval(price) {
        return Err(SanityViolation::PriceOutsideRange);
    }
    if !on_tick(price, rules.tick_size) {
        return Err(SanityViolation::PriceOffTick);
    }
    if exact::le(size, Decimal::ZERO) {
        return Err(SanityViolation::SizeNotPositive);
    }
    if exact::gt(size, MAX_QUANTITY) {
        return Err(SanityViolation::SizeTooLarge);
    }
    Ok(())
}

/// True when `price` is a multiple of `tick`. A price written with no more decimals than a
/// power-of-ten tick (0.50 on a 0.01 grid) is on the grid without any arithmetic; otherwise the
/// remainder decides.
#[inline]
fn on_tick(price: Decimal, tick: Decimal) -> bool {
    if tick.mantissa() == 1 && price.scale() <= tick.scale() {
        return true;
    }
    (price % tick).is_zero()
}

/// Which identity an order repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicate {
    ClientOrderId,
    SourceTrade,
}

/// Remembers the last `memory` client order ids and source trades (oldest forgotten first).
#[derive(Debug, Clone, Default)]
pub struct DuplicateGuard {
    orders: IdHashSet<ClientOrderId>,
    order_fifo: VecDeque<ClientOrderId>,
    trades: IdHashSet<SourceTradeId>,
    trade_fifo: VecDeque<SourceTradeId>,
    memory: usize,
}

impl DuplicateGuard {
    pub fn new(memory: u32) -> Self {
        let memory = memory.max(1) as usize;
        let mut orders = IdHashSet::default();
        orders.reserve(memory + 1);
        let mut trades = IdHashSet::default();
        trades.reserve(memory + 1);
        Self {
            orders,
            order_fifo: VecDeque::with_capacity(memory + 1),
            trades,
            trade_fifo: VecDeque::with_capacity(memory + 1),
            memory,
        }
    }

    #[inline]
    pub fn find(&self, order: ClientOrderId, source: Option<SourceTradeId>) -> Option<Duplicate> {
        if self.orders.contains(&order) {
            return Some(Duplicate::ClientOrderId);
        }
        match source {
            Some(trade) if self.trades.contains(&trade) => Some(Duplicate::SourceTrade),
            _ => None,
        }
    }

    pub fn remember(&mut self, order: ClientOrderId, source: Option<SourceTradeId>) {
        self.remember_order(order);
        if let Some(trade) = source {
            self.remember_trade(trade);
        }
    }

    fn remember_order(&mut self, order: ClientOrderId) {
        if self.orders.insert(order) {
            self.order_fifo.push_back(order);
            if self.order_fifo.len() > self.memory
                && let Some(old) = self.order_fifo.pop_front()
            {
                self.orders.remove(&old);
            }
        }
    }

    fn remember_trade(&mut self, trade: SourceTradeId) {
        if self.trades.insert(trade) {
            self.trade_fifo.push_back(trade);
            if self.trade_fifo.len() > self.memory
                && let Some(old) = self.trade_fifo.pop_front()
            {
                self.trades.remove(&old);
            }
        }
    }

    /// The remembered ids, oldest first (for export).
    pub fn export(&self) -> (Vec<ClientOrderId>, Vec<SourceTradeId>) {
        (self.order_fifo.iter().copied().collect(), self.trade_fifo.iter().copied().collect())
    }

    pub fn restore(memory: u32, orders: &[ClientOrderId], trades: &[SourceTradeId]) -> Self {
        let mut guard = Self::new(memory);
        orders.iter().for_each(|order| guard.remember_order(*order));
        trades.iter().for_each(|trade| guard.remember_trade(*trade));
        guard
    }

    /// A new memory size from a config reload (keeps the newest ids).
    pub fn resize(&mut self, memory: u32) {
        let (orders, trades) = self.export();
        *self = Self::restore(memory, &orders, &trades);
    }
}

/// The last time each (market, side) fired.
#[derive(Debug, Clone, Default)]
pub struct DoubleFireGuard {
    last: IdHashMap<(MarketId, Side), Timestamp>,
}

/// One remembered firing, for export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    pub market: MarketId,
    pub side: Side,
    pub at: Timestamp,
}

impl DoubleFireGuard {
    pub fn with_capacity(capacity: usize) -> Self {
        let mut last = IdHashMap::default();
        last.reserve(capacity);
        Self { last }
    }

    /// When the same market and side fired within `window_minutes` before `now`, that time.
    #[inline]
    pub fn find(&self, market: MarketId, side: Side, now: Timestamp, window_minutes: u32) -> Option<Timestamp> {
        if window_minutes == 0 {
            return None;
        }
        let window_ms = i64::from(window_minutes) * 60_000;
        self.last.get(&(market, side)).copied().filter(|at| now.millis_since(*at) < window_ms)
    }

    pub fn record(&mut self, market: MarketId, side: Side, now: Timestamp) {
        self.last.insert((market, side), now);
    }

    /// Forgets firings older than the window (called once per trading day).
    pub fn prune(&mut self, now: Timestamp, window_minutes: u32) {
        let window_ms = i64::from(window_minutes) * 60_000;
        self.last.retain(|_, at| now.millis_since(*at) < window_ms);
    }

    pub fn export(&self) -> Vec<Firing> {
        let mut all: Vec<Firing> =
            self.last.iter().map(|((market, side), at)| Firing { market: *market, side: *side, at: *at }).collect();
        all.sort_by_key(|f| (f.market, f.side));
        all
    }

    pub fn restore(firings: &[Firing]) -> Self {
        let mut guard = Self::with_capacity(firings.len().max(256));
        for f in firings {
            guard.record(f.market, f.side, f.at);
        }
        guard
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn sanity_table() {
        let rules = OrderRules::configured(&SafeguardsConfig::default());
        let table = [
            (dec!(0.50), dec!(10), Ok(())),
            (dec!(0), dec!(10), Err(SanityViolation::PriceOutsideRange)),
            (dec!(1), dec!(10), Err(SanityViolation::PriceOutsideRange)),
            (dec!(-0.5), dec!(10), Err(SanityViolation::PriceOutsideRange)),
            (dec!(0.505), dec!(10), Err(SanityViolation::PriceOffTick)),
            (dec!(0.5000), dec!(10), Ok(())),
            (dec!(0.5010), dec!(10), Err(SanityViolation::PriceOffTick)),
            (dec!(0.50), dec!(0), Err(SanityViolation::SizeNotPositive)),
            (dec!(0.50), dec!(-3), Err(SanityViolation::SizeNotPositive)),
            (dec!(0.50), dec!(1000000000000), Ok(())),
            (dec!(0.50), dec!(1000000000000.01), Err(SanityViolation::SizeTooLarge)),
            (dec!(0.50), dec!(4.99), Err(SanityViolation::BelowMinimumSize)),
            (dec!(0.50), dec!(5), Ok(())),
            (dec!(0.01), dec!(99), Err(SanityViolation::BelowMinimumNotional)),
            (dec!(0.01), dec!(100), Ok(())),
        ];
        for (price, size, expected) in table {
            assert_eq!(check_order(&rules, price, size, true), expected, "{price} × {size}");
        }
        assert_eq!(check_order(&rules, dec!(0.50), dec!(1), false), Ok(()), "exits may close a small remainder");
    }

    #[test]
    fn an_entry_s_notional_is_size_times_price() {
        let rules = OrderRules::configured(&SafeguardsConfig::default());
        assert_eq!(check_entry_order(&rules, dec!(0.50), dec!(10)), Ok(dec!(5.00)));
        assert_eq!(check_entry_order(&rules, dec!(0.01), dec!(99)), Err(SanityViolation::BelowMinimumNotional));
        assert_eq!(check_entry_order(&rules, dec!(1), dec!(10)), Err(SanityViolation::PriceOutsideRange));
    }

    #[test]
    fn tick_grid_other_than_powers_of_ten() {
        let rules = OrderRules::configured(&SafeguardsConfig { tick_size: dec!(0.05), ..Default::default() });
        assert_eq!(check_order(&rules, dec!(0.55), dec!(10), true), Ok(()));
        assert_eq!(check_order(&rules, dec!(0.56), dec!(10), true), Err(SanityViolation::PriceOffTick));
        let rules = OrderRules::configured(&SafeguardsConfig { tick_size: dec!(0.001), ..Default::default() });
        assert_eq!(check_order(&rules, dec!(0.505), dec!(10), true), Ok(()));
    }

    #[test]
    fn a_market_s_own_tick_replaces_the_configured_one_and_its_minimum_never_lowers_ours() {
        let config = SafeguardsConfig::default();
        let fine = OrderRules::for_market(&config, &MarketRules { tick_size: dec!(0.001), min_order_size: dec!(1) });
        assert_eq!(check_order(&fine, dec!(0.993), dec!(10), true), Ok(()));
        assert_eq!(fine.min_order_size, dec!(5), "the configured minimum of 5 still applies");
        let coarse = OrderRules::for_market(&config, &MarketRules { tick_size: dec!(0.1), min_order_size: dec!(15) });
        assert_eq!(check_order(&coarse, dec!(0.55), dec!(20), true), Err(SanityViolation::PriceOffTick));
        assert_eq!(check_order(&coarse, dec!(0.5), dec!(10), true), Err(SanityViolation::BelowMinimumSize));
        assert_eq!(check_order(&coarse, dec!(0.5), dec!(10), false), Ok(()), "exits are not held to minimums");
        assert!(!MarketRules { tick_size: dec!(0), min_order_size: dec!(5) }.is_valid());
        assert!(!MarketRules { tick_size: dec!(0.01), min_order_size: dec!(-1) }.is_valid());
    }

    #[test]
    fn duplicates_by_order_id_or_source_trade_with_bounded_memory() {
        let mut guard = DuplicateGuard::new(2);
        guard.remember(ClientOrderId(1), Some(SourceTradeId(10)));
        assert_eq!(guard.find(ClientOrderId(1), None), Some(Duplicate::ClientOrderId));
        assert_eq!(guard.find(ClientOrderId(2), Some(SourceTradeId(10))), Some(Duplicate::SourceTrade));
        assert_eq!(guard.find(ClientOrderId(2), Some(SourceTradeId(11))), None);
        guard.remember(ClientOrderId(2), None);
        guard.remember(ClientOrderId(3), None);
        assert_eq!(guard.find(ClientOrderId(1), None), None, "the oldest id is forgotten");
        let (orders, trades) = guard.export();
        let back = DuplicateGuard::restore(2, &orders, &trades);
        assert_eq!(back.find(ClientOrderId(3), None), Some(Duplicate::ClientOrderId));
        assert_eq!(back.find(ClientOrderId(9), Some(SourceTradeId(10))), Some(Duplicate::SourceTrade));
        assert_eq!(back.export(), guard.export());
    }

    #[test]
    fn double_fire_window_is_exclusive_at_its_end() {
        let mut guard = DoubleFireGuard::with_capacity(4);
        guard.record(MarketId(1), Side::Buy, Timestamp(0));
        let window = 15;
        assert_eq!(guard.find(MarketId(1), Side::Buy, Timestamp(899_999), window), Some(Timestamp(0)));
        assert_eq!(guard.find(MarketId(1), Side::Buy, Timestamp(900_000), window), None);
        assert_eq!(guard.find(MarketId(1), Side::Sell, Timestamp(1), window), None);
        assert_eq!(guard.find(MarketId(2), Side::Buy, Timestamp(1), window), None);
        assert_eq!(guard.find(MarketId(1), Side::Buy, Timestamp(1), 0), None, "0 turns it off");
        guard.prune(Timestamp(900_000), window);
        assert!(guard.export().is_empty());
    }
}
