//! The engine's view of the market: the latest book of every token it has heard about, when it was
//! last refreshed, and each market's venue rules (tick, minimum size, fee curve).
//!
//! Books and market info are the polymarket module's types ([`OrderBook`], best level first on
//! both sides; [`crate::market::ClobMarketInfo`]); this module only remembers them per interned id.
//!
//! It is also the last gate before a price moves anything: [`MarketData::update_book`] refuses a
//! book that is not sane (crossed, locked, out of order, priced outside (0, 1): see
//! [`OrderBook::check_sane`]) or that is older than the last book it took for the token (the venue's
//! `timestamp`: a slow answer overtaken by a newer one, or a replayed file out of order). A refused
//! book changes nothing here — no mark, no freshness, no depth — so it never reaches a stop, a
//! take-profit or the breaker; it is counted per cause and logged at most once per cause a minute.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{IdHashMap, MarketId, TokenId};
use crate::market::{BookCause, BookError, BookRefusalCounts, BookRefusals, FeeCurve, OrderBook, RegimeTracker};

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
    pub book: Option<Box<OrderBook>>,
    /// When that book arrived; a later quote-only update makes it out of date.
    pub book_at: Option<Timestamp>,
    /// The recent mids, for the market regime a decision record names. Fed here, on the entry
    /// every price update touches anyway, so that tracking costs no lookup of its own.
    pub regime: RegimeTracker,
}

impl TokenPrices {
    /// The book, if no quote-only update arrived after it (its depth would be out of date).
    pub fn current_book(&self) -> Option<&OrderBook> {
        self.book.as_deref().filter(|_| self.book_at.is_some() && self.book_at == self.updated_at)
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
#[derive(Debug)]
pub struct MarketData {
    prices: IdHashMap<TokenId, TokenPrices>,
    rules: IdHashMap<MarketId, VenueRules>,
    outcome_labels: IdHashMap<TokenId, String>,
    /// When each market is scheduled to end, where the venue said.
    end_dates: IdHashMap<MarketId, Timestamp>,
    /// The last time any price arrived (for the whole-feed staleness check).
    pub last_price_at: Option<Timestamp>,
    /// Books refused, per cause (rate-limited warnings on the engine's clock).
    refusals: BookRefusals,
    /// Books replaced by newer ones, kept for whoever reads books to decode into again (a replay),
    /// when asked for with [`MarketData::keep_replaced_books`]; `None`: freed at once.
    // The boxes are what is reused: a book travels to the engine boxed (`Input::Book`).
    #[allow(clippy::vec_box)]
    replaced: Option<Vec<Box<OrderBook>>>,
}

/// How many replaced books are kept for reuse at most; more are freed.
const MAX_REPLACED_BOOKS: usize = 1_024;

impl Default for MarketData {
    fn default() -> Self {
        Self {
            prices: IdHashMap::default(),
            rules: IdHashMap::default(),
            outcome_labels: IdHashMap::default(),
            end_dates: IdHashMap::default(),
            last_price_at: None,
            refusals: BookRefusals::new("engine"),
            replaced: None,
        }
    }
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

    pub fn set_end_date(&mut self, market: MarketId, end: Timestamp) {
        self.end_dates.insert(market, end);
    }

    pub fn end_date(&self, market: MarketId) -> Option<Timestamp> {
        self.end_dates.get(&market).copied()
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
        // Bid + ask is twice the mid: the regime rule compares ratios of prices, so the scale
        // does not matter and the division is saved.
        entry.regime.observe(now, || Some(best_bid? + best_ask?));
        self.last_price_at = Some(now);
    }

    /// Records a full book (and its best levels), unless it is refused: not sane, or older than the
    /// last book taken for `token`. A refusal is counted and logged (rate-limited) here, changes
    /// nothing else, and is returned with its reason so that the caller acts on nothing.
    pub fn update_book(&mut self, token: TokenId, book: Box<OrderBook>, now: Timestamp) -> Result<(), BookError> {
        if let Err(refused) = self.check_book(token, &book) {
            self.refusals.record(&refused, now);
            return Err(refused);
        }
        self.update_quote(token, book.best_bid().map(|l| l.price), book.best_ask().map(|l| l.price), now);
        if let Some(entry) = self.prices.get_mut(&token) {
            let old = entry.book.replace(book);
            entry.book_at = Some(now);
            if let (Some(old), Some(replaced)) = (old, self.replaced.as_mut())
                && replaced.len() < MAX_REPLACED_BOOKS
            {
                replaced.push(old);
            }
        }
        Ok(())
    }

    /// From now on, keep the books that newer ones replace (up to a bound) for
    /// [`MarketData::take_replaced_books`], instead of freeing them: a replay decodes the next
    /// books into them and so allocates none.
    pub fn keep_replaced_books(&mut self) {
        self.replaced.get_or_insert_with(Vec::new);
    }

    /// The books kept since the last call (see [`MarketData::keep_replaced_books`]).
    pub fn take_replaced_books(&mut self) -> impl Iterator<Item = Box<OrderBook>> + '_ {
        self.replaced.iter_mut().flat_map(|books| books.drain(..))
    }

    fn check_book(&self, token: TokenId, book: &OrderBook) -> Result<(), BookError> {
        book.check_sane()?;
        // Equal is fine: the same snapshot polled twice.
        let last = self.prices.get(&token).and_then(|p| p.book.as_ref()).map(|b| b.timestamp);
        match last {
            Some(last) if book.timestamp < last => Err(BookError::Invalid {
                asset_id: book.asset_id.clone(),
                cause: BookCause::OlderThanLast,
                field: "timestamp",
                value: format!(
                    "{} ms, older than the last book taken at {} ms",
                    book.timestamp.millis(),
                    last.millis()
                ),
                rule: "must not be older than the last book taken for the token",
            }),
            _ => Ok(()),
        }
    }

    /// Books refused so far, per cause.
    pub fn book_refusals(&self) -> BookRefusalCounts {
        self.refusals.counts()
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
        data.update_book(token, Box::new(book), Timestamp::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
        let prices = data.prices(token).cloned().unwrap_or_default();
        assert_eq!((prices.best_bid, prices.best_ask), (Some(dec!(0.3)), Some(dec!(0.43))));
        assert!(prices.current_book().is_some());
        assert!(prices.is_fresh(Timestamp::from_secs(40), 30_000));
        assert!(!prices.is_fresh(Timestamp::from_secs(41), 30_000));
        data.update_quote(token, Some(dec!(0.31)), Some(dec!(0.42)), Timestamp::from_secs(11));
        assert!(data.prices(token).and_then(TokenPrices::current_book).is_none());
        assert_eq!(data.last_price_at, Some(Timestamp::from_secs(11)));
    }

    fn fixture_book(timestamp_ms: i64) -> Box<OrderBook> {
        let mut book = OrderBook::from_json(FIXTURE_BOOK).unwrap_or_else(|e| panic!("{e}"));
        book.timestamp = Timestamp::from_millis(timestamp_ms);
        Box::new(book)
    }

    /// What a refused book must leave alone: the quote, its freshness, the depth.
    fn snapshot(
        data: &MarketData,
        token: TokenId,
    ) -> (Option<Decimal>, Option<Decimal>, Option<Timestamp>, Option<Timestamp>) {
        let prices = data.prices(token).cloned().unwrap_or_default();
        (prices.best_bid, prices.best_ask, prices.updated_at, prices.current_book().map(|b| b.timestamp))
    }

    #[test]
    fn a_book_older_than_the_last_one_is_refused_and_changes_nothing() {
        let mut data = MarketData::default();
        let token = TokenId(7);
        data.update_book(token, fixture_book(5_000), Timestamp::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
        let before = snapshot(&data, token);
        let mut older = fixture_book(4_999);
        older.bids[0].price = dec!(0.35);
        let err = data.update_book(token, older, Timestamp::from_secs(11)).unwrap_err();
        assert_eq!(err.cause(), BookCause::OlderThanLast);
        assert!(err.to_string().contains("timestamp = 4999 ms, older than the last book taken at 5000 ms"), "{err}");
        assert_eq!(snapshot(&data, token), before);
        assert_eq!(data.last_price_at, Some(Timestamp::from_secs(10)));
        assert_eq!(data.book_refusals().older_than_last, 1);
        // The same snapshot again, or a newer one, is taken; another token has its own history.
        data.update_book(token, fixture_book(5_000), Timestamp::from_secs(12)).unwrap_or_else(|e| panic!("{e}"));
        data.update_book(token, fixture_book(6_000), Timestamp::from_secs(13)).unwrap_or_else(|e| panic!("{e}"));
        data.update_book(TokenId(8), fixture_book(1), Timestamp::from_secs(14)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.book_refusals().total(), 1);
    }

    #[test]
    fn a_crossed_locked_unsorted_or_out_of_range_book_is_refused_and_changes_nothing() {
        let mut data = MarketData::default();
        let token = TokenId(7);
        data.update_book(token, fixture_book(5_000), Timestamp::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
        let before = snapshot(&data, token);
        let mut crossed = fixture_book(6_000);
        crossed.bids[0].price = dec!(0.90);
        crossed.asks.truncate(1);
        crossed.asks[0].price = dec!(0.10);
        let mut locked = fixture_book(6_000);
        locked.bids.truncate(1);
        locked.bids[0].price = locked.asks[0].price;
        let mut unsorted = fixture_book(6_000);
        unsorted.asks.reverse();
        let mut repeated = fixture_book(6_000);
        repeated.bids[1].price = repeated.bids[0].price;
        let mut outside = fixture_book(6_000);
        outside.bids.last_mut().unwrap_or_else(|| panic!("bids")).price = Decimal::ZERO;
        let cases = [
            (crossed, BookCause::Crossed),
            (locked, BookCause::Locked),
            (unsorted, BookCause::Unsorted),
            (repeated, BookCause::RepeatedPrice),
            (outside, BookCause::PriceOutOfRange),
        ];
        for (i, (book, cause)) in cases.into_iter().enumerate() {
            let err = data.update_book(token, book, Timestamp::from_secs(11 + i as i64)).unwrap_err();
            assert_eq!(err.cause(), cause, "{err}");
            assert_eq!(snapshot(&data, token), before, "{cause} changed the market view");
            assert_eq!(data.book_refusals().get(cause), 1);
        }
        assert_eq!(data.last_price_at, Some(Timestamp::from_secs(10)));
        assert_eq!(data.book_refusals().total(), 5);
    }

    #[test]
    fn replaced_books_are_kept_for_reuse_only_when_asked_and_a_refused_one_is_not_among_them() {
        let mut data = MarketData::default();
        let token = TokenId(7);
        data.update_book(token, fixture_book(1_000), Timestamp::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
        data.update_book(token, fixture_book(2_000), Timestamp::from_secs(11)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.take_replaced_books().count(), 0, "freed unless asked for");
        data.keep_replaced_books();
        data.update_book(token, fixture_book(3_000), Timestamp::from_secs(12)).unwrap_or_else(|e| panic!("{e}"));
        assert!(data.update_book(token, fixture_book(2_500), Timestamp::from_secs(13)).is_err());
        let kept: Vec<_> = data.take_replaced_books().map(|b| b.timestamp.millis()).collect();
        assert_eq!(kept, [2_000], "the book replaced, not the refused one nor the current one");
        assert_eq!(data.take_replaced_books().count(), 0, "taken once");
        let current = data.prices(token).and_then(TokenPrices::current_book).map(|b| b.timestamp.millis());
        assert_eq!(current, Some(3_000));
    }

    #[test]
    fn unknown_markets_get_typical_venue_rules() {
        let data = MarketData::default();
        assert_eq!(data.rules(MarketId(3)), VenueRules::default());
        assert_eq!(TYPICAL_FEE.taker_fee(dec!(100), dec!(0.4)), dec!(1.2));
    }
}
