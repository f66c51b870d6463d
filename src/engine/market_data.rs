//! The engine's view of the market: the latest book of every token it has heard about, when it was
//! last refreshed, and each market's venue rules (tick, minimum size, fee curve).
//!
//! Books are kept best-first on both sides (the CLOB sends bids ascending and asks descending, with
//! the best level LAST; [`BookSnapshot::from_clob`] sorts defensively so the order on the wire never
//! matters).

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::Deserialize;

use crate::clock::Timestamp;
use crate::domain::{IdHashMap, MarketId, TokenId};

use super::EngineError;

/// One price level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub price: Decimal,
    pub size: Decimal,
}

/// An order book of one outcome token, best level first on each side.
#[derive(Debug, Clone, PartialEq)]
pub struct BookSnapshot {
    pub condition_id: String,
    pub token_id: String,
    /// Highest price first.
    pub bids: Vec<Level>,
    /// Lowest price first.
    pub asks: Vec<Level>,
    pub tick_size: Option<Decimal>,
    pub min_order_size: Option<Decimal>,
    /// The venue's own timestamp of the book.
    pub timestamp: Timestamp,
}

/// The CLOB `GET /book` object, as it is on the wire (decimal strings, millisecond string timestamp).
#[derive(Debug, Deserialize)]
struct ClobBook {
    market: String,
    asset_id: String,
    timestamp: String,
    bids: Vec<ClobLevel>,
    asks: Vec<ClobLevel>,
    #[serde(default)]
    min_order_size: Option<String>,
    #[serde(default)]
    tick_size: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ClobLevel {
    price: String,
    size: String,
}

fn parse_decimal(field: &'static str, text: &str) -> Result<Decimal, EngineError> {
    text.trim().parse::<Decimal>().map_err(|_| EngineError::BadField {
        field,
        value: text.to_owned(),
        rule: "a decimal",
    })
}

impl BookSnapshot {
    /// Parses a CLOB `/book` object (`serde_json::Value` or raw text already split out of a line).
    pub fn from_clob_json(json: &str) -> Result<Self, EngineError> {
        let raw: ClobBook = serde_json::from_str(json).map_err(|e| EngineError::BadField {
            field: "book",
            value: e.to_string(),
            rule: "a CLOB /book object",
        })?;
        let level = |l: &ClobLevel| -> Result<Level, EngineError> {
            let price = parse_decimal("book.price", &l.price)?;
            let size = parse_decimal("book.size", &l.size)?;
            if price <= Decimal::ZERO || price >= Decimal::ONE {
                return Err(EngineError::BadField {
                    field: "book.price",
                    value: l.price.clone(),
                    rule: "inside (0, 1)",
                });
            }
            if size < Decimal::ZERO {
                return Err(EngineError::BadField { field: "book.size", value: l.size.clone(), rule: "not negative" });
            }
            Ok(Level { price, size })
        };
        let mut bids = raw.bids.iter().map(level).collect::<Result<Vec<_>, _>>()?;
        let mut asks = raw.asks.iter().map(level).collect::<Result<Vec<_>, _>>()?;
        bids.sort_by_key(|l| std::cmp::Reverse(l.price));
        asks.sort_by_key(|l| l.price);
        let timestamp_ms = raw.timestamp.trim().parse::<i64>().map_err(|_| EngineError::BadField {
            field: "book.timestamp",
            value: raw.timestamp.clone(),
            rule: "milliseconds since the epoch",
        })?;
        Ok(Self {
            condition_id: raw.market,
            token_id: raw.asset_id,
            bids,
            asks,
            tick_size: raw.tick_size.as_deref().map(|t| parse_decimal("book.tick_size", t)).transpose()?,
            min_order_size: raw
                .min_order_size
                .as_deref()
                .map(|t| parse_decimal("book.min_order_size", t))
                .transpose()?,
            timestamp: Timestamp::from_millis(timestamp_ms),
        })
    }

    pub fn best_bid(&self) -> Option<Decimal> {
        self.bids.first().map(|l| l.price)
    }

    pub fn best_ask(&self) -> Option<Decimal> {
        self.asks.first().map(|l| l.price)
    }
}

/// A market's taker fee curve: fee per fill = shares × rate × (p × (1 − p))^exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeCurve {
    pub rate: Decimal,
    pub exponent: u32,
    pub taker_only: bool,
}

impl Default for FeeCurve {
    /// Observed on most Polymarket markets (`fd {r: 0.05, e: 1, to: true}`).
    fn default() -> Self {
        Self { rate: dec!(0.05), exponent: 1, taker_only: true }
    }
}

impl FeeCurve {
    pub const FREE: FeeCurve = FeeCurve { rate: Decimal::ZERO, exponent: 1, taker_only: true };

    /// The taker fee for `shares` filled at `price`, in USD.
    pub fn taker_fee(&self, shares: Decimal, price: Decimal) -> Decimal {
        let base = price * (Decimal::ONE - price);
        let mut factor = Decimal::ONE;
        for _ in 0..self.exponent {
            factor *= base;
        }
        shares * self.rate * factor
    }
}

/// Venue rules of one market (`GET /clob-markets/{condition_id}`).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketInfo {
    pub condition_id: String,
    /// `(token id, outcome label)` for each outcome.
    pub tokens: Vec<(String, String)>,
    pub tick_size: Decimal,
    pub min_order_size: Decimal,
    pub fee: FeeCurve,
}

#[derive(Debug, Deserialize)]
struct ClobMarketInfo {
    c: String,
    #[serde(default)]
    t: Vec<ClobMarketToken>,
    #[serde(default)]
    mts: Option<serde_json::Number>,
    #[serde(default)]
    mos: Option<serde_json::Number>,
    #[serde(default)]
    fd: Option<ClobFee>,
}

#[derive(Debug, Deserialize)]
struct ClobMarketToken {
    t: String,
    #[serde(default)]
    o: String,
}

#[derive(Debug, Deserialize)]
struct ClobFee {
    r: serde_json::Number,
    e: u32,
    #[serde(default = "yes")]
    to: bool,
}

fn yes() -> bool {
    true
}

fn number(field: &'static str, n: &serde_json::Number) -> Result<Decimal, EngineError> {
    // The JSON text of the number, parsed as a decimal: no float round trip.
    let text = n.to_string();
    let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(&text).ok() } else { text.parse().ok() };
    parsed.ok_or(EngineError::BadField { field, value: text, rule: "a decimal number" })
}

impl MarketInfo {
    /// Parses a CLOB `/clob-markets/{condition_id}` object (short keys).
    pub fn from_clob_json(json: &str) -> Result<Self, EngineError> {
        let raw: ClobMarketInfo = serde_json::from_str(json).map_err(|e| EngineError::BadField {
            field: "market",
            value: e.to_string(),
            rule: "a CLOB /clob-markets object",
        })?;
        let fee = match raw.fd {
            Some(fd) => FeeCurve { rate: number("market.fd.r", &fd.r)?, exponent: fd.e, taker_only: fd.to },
            None => FeeCurve::FREE,
        };
        Ok(Self {
            condition_id: raw.c,
            tokens: raw.t.into_iter().map(|t| (t.t, t.o)).collect(),
            tick_size: raw.mts.as_ref().map(|n| number("market.mts", n)).transpose()?.unwrap_or(dec!(0.01)),
            min_order_size: raw.mos.as_ref().map(|n| number("market.mos", n)).transpose()?.unwrap_or(dec!(5)),
            fee,
        })
    }
}

/// What the engine knows about one token's prices.
#[derive(Debug, Clone, Default)]
pub struct TokenPrices {
    pub best_bid: Option<Decimal>,
    pub best_ask: Option<Decimal>,
    /// When the engine last received a price for this token (its own clock, not the venue's).
    pub updated_at: Option<Timestamp>,
    /// The latest full book, for the paper executor.
    pub book: Option<BookSnapshot>,
    /// When that book arrived; a later quote-only update makes it out of date.
    pub book_at: Option<Timestamp>,
}

impl TokenPrices {
    /// The book, if no quote-only update arrived after it (its depth would be out of date).
    pub fn current_book(&self) -> Option<&BookSnapshot> {
        self.book.as_ref().filter(|_| self.book_at.is_some() && self.book_at == self.updated_at)
    }

    /// Whether a price newer than `max_age_ms` exists at `now`.
    pub fn is_fresh(&self, now: Timestamp, max_age_ms: i64) -> bool {
        self.updated_at.is_some_and(|at| now.millis_since(at) <= max_age_ms)
    }
}

/// Venue rules the engine applies to a market, with the defaults of a typical Polymarket market for
/// markets whose info has not arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VenueRules {
    pub tick_size: Decimal,
    pub min_order_size: Decimal,
    pub fee: FeeCurve,
}

impl Default for VenueRules {
    fn default() -> Self {
        Self { tick_size: dec!(0.01), min_order_size: dec!(5), fee: FeeCurve::default() }
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

    pub fn set_rules(&mut self, market: MarketId, rules: VenueRules) {
        self.rules.insert(market, rules);
    }

    pub fn set_outcome_label(&mut self, token: TokenId, label: &str) {
        self.outcome_labels.insert(token, label.to_owned());
    }

    pub fn outcome_label(&self, token: TokenId) -> Option<&str> {
        self.outcome_labels.get(&token).map(String::as_str)
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
    pub fn update_book(&mut self, token: TokenId, book: BookSnapshot, now: Timestamp) {
        self.update_quote(token, book.best_bid(), book.best_ask(), now);
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
    fn real_book_is_sorted_best_first() {
        let book = BookSnapshot::from_clob_json(FIXTURE_BOOK).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(book.best_bid(), Some(dec!(0.3)));
        assert_eq!(book.best_ask(), Some(dec!(0.43)));
        assert_eq!(book.asks.get(1).map(|l| l.price), Some(dec!(0.53)));
        assert_eq!(book.timestamp, Timestamp::from_millis(1_788_636_850_933));
        assert_eq!(book.tick_size, Some(dec!(0.01)));
    }

    #[test]
    fn bad_prices_are_named() {
        let json = r#"{"market":"m","asset_id":"a","timestamp":"1","bids":[{"price":"1.5","size":"1"}],"asks":[]}"#;
        let err = BookSnapshot::from_clob_json(json).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("book.price") && err.contains("1.5"), "{err}");
    }

    #[test]
    fn fee_curve_matches_the_sdk_examples() {
        // r = 0.25, e = 2: 100 shares at 0.5 pay 1.5625 (SDK test platform_fee_0_25_exp_2_at_midprice).
        let curve = FeeCurve { rate: dec!(0.25), exponent: 2, taker_only: true };
        assert_eq!(curve.taker_fee(dec!(100), dec!(0.5)), dec!(1.5625));
        // r = 0.05, e = 1: 100 shares at 0.4 pay 100 × 0.05 × 0.24 = 1.2.
        assert_eq!(FeeCurve::default().taker_fee(dec!(100), dec!(0.4)), dec!(1.2));
    }

    #[test]
    fn market_info_parses_the_short_keys() {
        let json = r#"{"c":"0xabc","t":[{"t":"1","o":"Yes"},{"t":"2","o":"No"}],"mts":0.001,"mos":5,"fd":{"r":0.05,"e":1,"to":true}}"#;
        let info = MarketInfo::from_clob_json(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.tick_size, dec!(0.001));
        assert_eq!(info.min_order_size, dec!(5));
        assert_eq!(info.fee, FeeCurve::default());
        assert_eq!(info.tokens, vec![("1".to_owned(), "Yes".to_owned()), ("2".to_owned(), "No".to_owned())]);
    }
}
