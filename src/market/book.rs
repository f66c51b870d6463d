//! A token's order book, both sides best first, and the rules a book must keep to be used.
//!
//! A book is a price the position monitor acts on (stops, take-profits, the breaker's unrealised
//! P&L) and, live, the limit of real exits, so a corrupt one must never get in. Refused, each with
//! its [`BookCause`]: a payload that does not parse or breaks a field rule (`malformed`), a level
//! priced outside (0, 1) (`price_out_of_range`), a side whose prices are not strictly monotonic
//! (`unsorted`) or list a price twice (`repeated_price`), and a best bid above the best ask
//! (`crossed`) or equal to it (`locked`). The engine adds one rule that needs memory: a book older
//! than the last one it took for the token (`older_than_last`, see `engine::market_data`).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::BookHash;
use crate::clock::Timestamp;
use crate::domain::exact;

/// Why a book was refused: the `cause` label of `whale_trader_books_refused_total`. [`BookCause::ALL`]
/// lists the variants in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BookCause {
    /// The payload does not parse, or a field breaks its rule (timestamp, tick size, a size).
    Malformed,
    /// A level priced at or outside 0 or 1.
    PriceOutOfRange,
    /// A side whose prices go up and down.
    Unsorted,
    /// A side that lists one price twice.
    RepeatedPrice,
    /// Best bid above best ask.
    Crossed,
    /// Best bid equal to best ask.
    Locked,
    /// Older than the last book taken for the token (judged by the engine).
    OlderThanLast,
}

impl BookCause {
    pub const ALL: [BookCause; 7] = [
        BookCause::Malformed,
        BookCause::PriceOutOfRange,
        BookCause::Unsorted,
        BookCause::RepeatedPrice,
        BookCause::Crossed,
        BookCause::Locked,
        BookCause::OlderThanLast,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BookCause::Malformed => "malformed",
            BookCause::PriceOutOfRange => "price_out_of_range",
            BookCause::Unsorted => "unsorted",
            BookCause::RepeatedPrice => "repeated_price",
            BookCause::Crossed => "crossed",
            BookCause::Locked => "locked",
            BookCause::OlderThanLast => "older_than_last",
        }
    }
}

impl std::fmt::Display for BookCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A book or market-info payload that cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BookError {
    #[error("book payload does not parse: {0}")]
    Parse(String),
    #[error("book {asset_id}: {field} = {value}: {rule}")]
    Invalid { asset_id: String, cause: BookCause, field: &'static str, value: String, rule: &'static str },
}

impl BookError {
    /// Why the book was refused.
    pub fn cause(&self) -> BookCause {
        match self {
            BookError::Parse(_) => BookCause::Malformed,
            BookError::Invalid { cause, .. } => *cause,
        }
    }

    /// The token whose book was refused, when the payload got as far as naming it.
    pub fn asset_id(&self) -> Option<&str> {
        match self {
            BookError::Parse(_) => None,
            BookError::Invalid { asset_id, .. } => Some(asset_id),
        }
    }
}

/// One price level: shares resting at a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceLevel {
    pub price: Decimal,
    pub size: Decimal,
}

/// A token's order book, both sides best first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook {
    /// Condition id of the market.
    pub market: String,
    /// The token (outcome) this book trades.
    pub asset_id: String,
    /// Server time of the snapshot (the wire gives milliseconds).
    pub timestamp: Timestamp,
    pub hash: BookHash,
    /// Highest price first.
    pub bids: Vec<PriceLevel>,
    /// Lowest price first.
    pub asks: Vec<PriceLevel>,
    /// Smallest order, in shares.
    pub min_order_size: Decimal,
    pub tick_size: Decimal,
    pub neg_risk: bool,
    pub last_trade_price: Option<Decimal>,
}

impl OrderBook {
    pub fn best_bid(&self) -> Option<PriceLevel> {
        self.bids.first().copied()
    }

    pub fn best_ask(&self) -> Option<PriceLevel> {
        self.asks.first().copied()
    }

    /// Midpoint of the best bid and ask, when both exist.
    pub fn mid(&self) -> Option<Decimal> {
        Some((self.best_bid()?.price + self.best_ask()?.price) / Decimal::TWO)
    }

    pub fn spread(&self) -> Option<Decimal> {
        Some(self.best_ask()?.price - self.best_bid()?.price)
    }

    /// Whether the book can be acted on: every level priced inside (0, 1), both sides strictly best
    /// first (bids descending, asks ascending, no price twice), and, when both sides exist, the best
    /// bid below the best ask. A parsed book always is; the engine checks again every book it takes,
    /// so that one built any other way cannot slip past. Allocates only to describe a refusal.
    pub fn check_sane(&self) -> Result<(), BookError> {
        if self.is_sane() {
            return Ok(());
        }
        self.check_sane_in_full()
    }

    /// [`OrderBook::check_sane`] level by level, naming the first fault.
    fn check_sane_in_full(&self) -> Result<(), BookError> {
        for (field, side) in [("bids", &self.bids), ("asks", &self.asks)] {
            if let Some(level) = side.iter().find(|l| !exact::inside_unit_interval(l.price)) {
                return Err(self.refusal(
                    BookCause::PriceOutOfRange,
                    field,
                    level.price.to_string(),
                    "level price must be between 0 and 1",
                ));
            }
        }
        for pair in self.bids.windows(2) {
            if !exact::lt(pair[1].price, pair[0].price) {
                let (cause, rule) = order_fault(pair[0].price, pair[1].price, "bids must be held best (highest) first");
                return Err(self.refusal(cause, "bids", format!("{} then {}", pair[0].price, pair[1].price), rule));
            }
        }
        for pair in self.asks.windows(2) {
            if !exact::gt(pair[1].price, pair[0].price) {
                let (cause, rule) = order_fault(pair[0].price, pair[1].price, "asks must be held best (lowest) first");
                return Err(self.refusal(cause, "asks", format!("{} then {}", pair[0].price, pair[1].price), rule));
            }
        }
        self.check_touch()
    }

    /// Whether [`OrderBook::check_sane`] passes, in one tight pass that names no fault: what a
    /// sane book (nearly every one) costs to check, on every book a replay reads.
    #[inline]
    pub fn is_sane(&self) -> bool {
        let touch_below = match (self.bids.first(), self.asks.first()) {
            (Some(bid), Some(ask)) => exact::lt(bid.price, ask.price),
            _ => true,
        };
        touch_below && side_is_sane(&self.bids, exact::gt) && side_is_sane(&self.asks, exact::lt)
    }

    /// The part of [`OrderBook::check_sane`] that compares the two sides: when both exist, the best
    /// bid below the best ask. Enough for a book whose sides were already checked level by level.
    pub fn check_touch(&self) -> Result<(), BookError> {
        let (Some(bid), Some(ask)) = (self.best_bid(), self.best_ask()) else { return Ok(()) };
        match exact::cmp(bid.price, ask.price) {
            std::cmp::Ordering::Less => Ok(()),
            std::cmp::Ordering::Greater => Err(self.refusal(
                BookCause::Crossed,
                "best_bid",
                format!("{} above best ask {}", bid.price, ask.price),
                "must be below the best ask (a crossed book is a corrupt price)",
            )),
            std::cmp::Ordering::Equal => Err(self.refusal(
                BookCause::Locked,
                "best_bid",
                format!("{} equal to best ask {}", bid.price, ask.price),
                "must be below the best ask (a locked book is not a market)",
            )),
        }
    }

    fn refusal(&self, cause: BookCause, field: &'static str, value: String, rule: &'static str) -> BookError {
        BookError::Invalid { asset_id: self.asset_id.clone(), cause, field, value, rule }
    }
}

/// Every level priced inside (0, 1), each strictly `better` than the next.
#[inline]
fn side_is_sane(side: &[PriceLevel], better: impl Fn(Decimal, Decimal) -> bool) -> bool {
    let Some((first, rest)) = side.split_first() else { return true };
    let mut before = first.price;
    if !exact::inside_unit_interval(before) {
        return false;
    }
    for level in rest {
        if !exact::inside_unit_interval(level.price) || !better(before, level.price) {
            return false;
        }
        before = level.price;
    }
    true
}

/// A repeated price, or a step the wrong way, between two neighbouring levels.
fn order_fault(before: Decimal, after: Decimal, rule: &'static str) -> (BookCause, &'static str) {
    if before == after {
        (BookCause::RepeatedPrice, "a side may list a price only once")
    } else {
        (BookCause::Unsorted, rule)
    }
}

/// Books of up to four levels a side, priced from a small set (both ends of the unit interval,
/// out of range, equal prices at other scales), so that every rule is met and broken often.
#[cfg(test)]
pub(crate) mod arbitrary {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    fn price() -> impl Strategy<Value = Decimal> {
        proptest::sample::select(vec![
            dec!(0),
            dec!(0.01),
            dec!(0.010),
            dec!(0.3),
            dec!(0.30),
            dec!(0.42),
            dec!(0.5),
            dec!(0.501),
            dec!(0.99),
            dec!(1),
            dec!(1.5),
            dec!(-0.2),
        ])
    }

    fn size() -> impl Strategy<Value = Decimal> {
        proptest::sample::select(vec![dec!(0), -Decimal::ZERO, dec!(0.00), dec!(5), dec!(60.25), dec!(-1)])
    }

    fn side() -> impl Strategy<Value = Vec<PriceLevel>> {
        proptest::collection::vec((price(), size()).prop_map(|(price, size)| PriceLevel { price, size }), 0..5)
    }

    /// Levels at distinct prices inside (0, 1), lowest first: split, they make a sane book.
    fn ladder() -> impl Strategy<Value = Vec<PriceLevel>> {
        proptest::sample::subsequence(
            vec![dec!(0.01), dec!(0.3), dec!(0.42), dec!(0.5), dec!(0.501), dec!(0.99)],
            0..=6,
        )
        .prop_flat_map(|prices| {
            let n = prices.len();
            (Just(prices), proptest::collection::vec(size(), n))
        })
        .prop_map(|(prices, sizes)| {
            prices.into_iter().zip(sizes).map(|(price, size)| PriceLevel { price, size }).collect()
        })
    }

    /// Sides as they come (any order, any price) or from a ladder (best first, often sane).
    fn sides() -> impl Strategy<Value = (Vec<PriceLevel>, Vec<PriceLevel>)> {
        prop_oneof![
            (side(), side()),
            (ladder(), 0usize..=6).prop_map(|(mut ladder, split)| {
                let asks = ladder.split_off(split.min(ladder.len()));
                ladder.reverse();
                (ladder, asks)
            }),
        ]
    }

    pub(crate) fn book() -> impl Strategy<Value = OrderBook> {
        (sides(), 0i64..3, proptest::sample::select(vec![dec!(0.01), dec!(0.001), dec!(0), dec!(1)]), size()).prop_map(
            |((bids, asks), timestamp, tick_size, min_order_size)| OrderBook {
                asset_id: "77".into(),
                timestamp: Timestamp::from_millis(timestamp),
                bids,
                asks,
                tick_size,
                min_order_size,
                ..OrderBook::default()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-pass check and the one that names the fault agree on every book.
        #[test]
        fn the_quick_check_says_what_the_full_one_says(book in arbitrary::book()) {
            let quick = book.is_sane();
            proptest::prop_assert_eq!(quick, book.check_sane_in_full().is_ok(), "{:?}", book);
            proptest::prop_assert_eq!(book.check_sane(), book.check_sane_in_full());
        }
    }
}
