//! The engine's view of the market: the latest book of every token it has heard about, when it was
//! last refreshed, and each market's venue rules (tick, minimum size, fee curve).
//!
//! Books and market info are the polymarket module's types ([`OrderBook`], best level first on
//! both sides; [`ClobMarketInfo`]); this module only remembers them per interned id.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{IdHashMap, MarketId, TokenId};
use crate::polymarket::{FeeCurve, OrderBook};

/// The fee curve observed on most Polymarket markets (`fd {r: 0.05, e: 1, to: true}`), used until a
/// market's own info arrives.
pub const TYPICAL_FEE: FeeCurve = FeeCurve { rate: dec!(0.05), exponent: 1, taker_only: true };

/// What the engine knows about one token's prices.
#[derive(Debug, Clone, Default)]
pub struct TokenPrices {
    pub best_bid: Option<Decimal>,
    pub best_ask: Option<Decimal>,
    /// When the engine last received a price for this token (its own clock, not the venue's).
    pub updated_at: Option<Timestamp>,
    /// The latest full book, for the paper executor.
    pub book: Option<OrderBook>,
    /// When that book arrived; a later quote-only update makes it out of date.
    pub book_at: Option<Timestamp>,
}

impl TokenPrices {
    /// The book, if no quote-only update arrived after it (its depth would be out of date).
    pub fn current_book(&self) -> Option<&OrderBook> {
        self.book.as_ref().filter(|_| self.book_at.is_some() && self.book_at == self.updated_at)
    }

    /// Whether a price newer than `max_age_ms` exists at `now`.
    pub fn is_fresh(&self, now: Timestamp, max_age_ms: i64) -> bool {
        self.updated_at.is_some_and(|at| now.millis_since(at) <= max_age_ms)
    }
}

/// Venue rules the engine applies to a market, with the defaults of a typical Polymarket market for
/// markets whose info has not arrived.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VenueRules {
    pub tick_size: Decimal,
    pub min_order_size: Decimal,
    pub fee: FeeCurve,
}

impl Default for VenueRules {
    fn default() -> Self {
        Self { tick_size: dec!(0.01), min_order_size: dec!(5), fee: TYPICAL_FEE }
    }
}

/// Prices per token and rules per market.
#[derive(Debug, Default)]
pub struct MarketData {
    prices: IdHashMap<TokenId, TokenPrices>,
    rules: IdHashMap<MarketId, VenueRules>,
    outcome_labels: IdHashMap<TokenId, String>,
    /// The last time any price arrived (for the whole-feed staleness check).
    pub last_price_at: Option<Timestamp>,
}

impl MarketData {
    pub fn prices(&self, token: TokenId) -> Option<&TokenPrices> {
        self.prices.get(&token)
    }

    pub fn rules(&self, market: MarketId) -> VenueRules {
        self.rules.get(&market).copied().unwrap_or_default()
    }

    /// The rules the venue has stated for `market`, if any arrived.
    pub fn known_rules(&self, market: MarketId) -> Option<VenueRules> {
        self.rules.get(&market).copied()
    }

    pub fn set_rules(&mut self, market: MarketId, rules: VenueRules) {
        self.rules.insert(market, rules);
    }

    pub fn set_outcome_label(&mut self, token: TokenId, label: &str) {
        self.outcome_labels.insert(token, label.to_owned());
    }

    pub fn outcome_label(&self, token: TokenId) -> Option<&str> {
        self.outcome_labels.get(&token).map(String::as_str)
    }

    /// Every market's rules, sorted (for the checkpoint).
    pub fn all_rules(&self) -> Vec<(MarketId, VenueRules)> {
        let mut rules: Vec<_> = self.rules.iter().map(|(m, r)| (*m, *r)).collect();
        rules.sort_by_key(|(m, _)| *m);
        rules
    }

    /// Every outcome label, sorted (for the checkpoint).
    pub fn all_outcome_labels(&self) -> Vec<(TokenId, String)> {
        let mut labels: Vec<_> = self.outcome_labels.iter().map(|(t, l)| (*t, l.clone())).collect();
        labels.sort_by_key(|(t, _)| *t);
        labels
    }

    /// Records a best bid / ask; no allocation once the token is known.
    pub fn update_quote(
        &mut self,
        token: TokenId,
        best_bid: Option<Decimal>,
        best_ask: Option<Decimal>,
        now: Timestamp,
    ) {
        let entry = self.prices.entry(token).or_default();
        entry.best_bid = best_bid;
        entry.best_ask = best_ask;
        entry.updated_at = Some(now);
        self.last_price_at = Some(now);
    }

    /// Records a full book (and its best levels).
    pub fn update_book(&mut self, token: TokenId, book: OrderBook, now: Timestamp) {
        self.update_quote(token, book.best_bid().map(|l| l.price), book.best_ask().map(|l| l.price), now);
        if let Some(entry) = self.prices.get_mut(&token) {
            entry.book = Some(book);
            entry.book_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_BOOK: &str = include_str!("../../tests/data/clob_book.json");

    #[test]
    fn a_quote_after_a_book_makes_the_book_out_of_date() {
        let book = OrderBook::from_json(FIXTURE_BOOK).unwrap_or_else(|e| panic!("{e}"));
        let mut data = MarketData::default();
        let token = TokenId(7);
        data.update_book(token, book, Timestamp::from_secs(10));
        let prices = data.prices(token).cloned().unwrap_or_default();
        assert_eq!((prices.best_bid, prices.best_ask), (Some(dec!(0.3)), Some(dec!(0.43))));
        assert!(prices.current_book().is_some());
        assert!(prices.is_fresh(Timestamp::from_secs(40), 30_000));
        assert!(!prices.is_fresh(Timestamp::from_secs(41), 30_000));
        data.update_quote(token, Some(dec!(0.31)), Some(dec!(0.42)), Timestamp::from_secs(11));
        assert!(data.prices(token).and_then(TokenPrices::current_book).is_none());
        assert_eq!(data.last_price_at, Some(Timestamp::from_secs(11)));
    }

    #[test]
    fn unknown_markets_get_typical_venue_rules() {
        let data = MarketData::default();
        assert_eq!(data.rules(MarketId(3)), VenueRules::default());
        assert_eq!(TYPICAL_FEE.taker_fee(dec!(100), dec!(0.4)), dec!(1.2));
    }
}
