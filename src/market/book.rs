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

/// A repeated price, or a step the wrong way, between two neighbouring levels.
fn order_fault(before: Decimal, after: Decimal, rule: &'static str) -> (BookCause, &'static str) {
    if before == after {
        (BookCause::RepeatedPrice, "a side may list a price only once")
    } else {
        (BookCause::Unsorted, rule)
    }
}
