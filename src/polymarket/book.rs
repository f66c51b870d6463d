//! CLOB order books (`GET /book`, `POST /books`) and market parameters (`GET /clob-markets/{id}`).
//!
//! On the wire, bids are ascending and asks descending: the best level is the LAST element of
//! each array (the docs claim the opposite). [`OrderBook`] sorts defensively and stores both sides
//! best first, so nothing downstream depends on the wire order.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::exact_decimal;
use super::fees::FeeCurve;
use crate::clock::Timestamp;

/// A book or market-info payload that cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BookError {
    #[error("book payload does not parse: {0}")]
    Parse(String),
    #[error("book {asset_id}: {field} = {value}: {rule}")]
    Invalid { asset_id: String, field: &'static str, value: String, rule: &'static str },
}

/// One price level: shares resting at a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceLevel {
    pub price: Decimal,
    pub size: Decimal,
}

/// A token's order book, both sides best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderBook {
    /// Condition id of the market.
    pub market: String,
    /// The token (outcome) this book trades.
    pub asset_id: String,
    /// Server time of the snapshot (the wire gives milliseconds).
    pub timestamp: Timestamp,
    pub hash: String,
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

    /// Parses one `GET /book` payload (or one element of `POST /books`).
    pub fn from_json(json: &str) -> Result<Self, BookError> {
        let wire: BookWire = serde_json::from_str(json).map_err(|e| BookError::Parse(e.to_string()))?;
        wire.into_book()
    }
}

/// Parses a `POST /books` answer: each book on its own; a malformed one is logged and skipped.
pub fn parse_books(body: &[u8]) -> Result<Vec<OrderBook>, BookError> {
    let raw: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| BookError::Parse(e.to_string()))?;
    Ok(raw
        .into_iter()
        .filter_map(|one| match OrderBook::from_json(one.get()) {
            Ok(book) => Some(book),
            Err(e) => {
                tracing::warn!(error = %e, "skipping a malformed order book");
                None
            }
        })
        .collect())
}

#[derive(Deserialize)]
struct LevelWire {
    #[serde(deserialize_with = "exact_decimal::required")]
    price: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    size: Decimal,
}

#[derive(Deserialize)]
struct BookWire {
    #[serde(default)]
    market: String,
    asset_id: String,
    #[serde(deserialize_with = "exact_decimal::required")]
    timestamp: Decimal,
    #[serde(default)]
    hash: String,
    #[serde(default)]
    bids: Vec<LevelWire>,
    #[serde(default)]
    asks: Vec<LevelWire>,
    #[serde(deserialize_with = "exact_decimal::required")]
    min_order_size: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    tick_size: Decimal,
    #[serde(default)]
    neg_risk: bool,
    #[serde(default, deserialize_with = "exact_decimal::optional")]
    last_trade_price: Option<Decimal>,
}

impl BookWire {
    fn into_book(self) -> Result<OrderBook, BookError> {
        let asset_id = self.asset_id;
        let invalid = |field: &'static str, value: String, rule: &'static str| BookError::Invalid {
            asset_id: asset_id.clone(),
            field,
            value,
            rule,
        };
        let millis = i64::try_from(self.timestamp.trunc().mantissa())
            .ok()
            .filter(|ms| *ms > 0 && self.timestamp.scale() == 0)
            .ok_or_else(|| invalid("timestamp", self.timestamp.to_string(), "must be positive whole milliseconds"))?;
        if self.tick_size <= Decimal::ZERO || self.tick_size >= Decimal::ONE {
            return Err(invalid("tick_size", self.tick_size.to_string(), "must be between 0 and 1"));
        }
        if self.min_order_size < Decimal::ZERO {
            return Err(invalid("min_order_size", self.min_order_size.to_string(), "must not be negative"));
        }
        let levels = |side: Vec<LevelWire>, field: &'static str| -> Result<Vec<PriceLevel>, BookError> {
            let mut out = Vec::with_capacity(side.len());
            for level in side {
                if level.price <= Decimal::ZERO || level.price >= Decimal::ONE {
                    return Err(invalid(field, level.price.to_string(), "level price must be between 0 and 1"));
                }
                if level.size < Decimal::ZERO {
                    return Err(invalid(field, level.size.to_string(), "level size must not be negative"));
                }
                if level.size > Decimal::ZERO {
                    out.push(PriceLevel { price: level.price, size: level.size });
                }
            }
            Ok(out)
        };
        let mut bids = levels(self.bids, "bids")?;
        let mut asks = levels(self.asks, "asks")?;
        bids.sort_by_key(|level| std::cmp::Reverse(level.price));
        asks.sort_by_key(|level| level.price);
        Ok(OrderBook {
            market: self.market,
            asset_id: asset_id.clone(),
            timestamp: Timestamp::from_millis(millis),
            hash: self.hash,
            bids,
            asks,
            min_order_size: self.min_order_size,
            tick_size: self.tick_size,
            neg_risk: self.neg_risk,
            last_trade_price: self.last_trade_price,
        })
    }
}

/// The trading parameters of a market, from `GET /clob-markets/{condition_id}` (short keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClobMarketInfo {
    pub condition_id: String,
    /// (token id, outcome label) in the market's order.
    pub tokens: Vec<(String, String)>,
    pub min_order_size: Decimal,
    pub tick_size: Decimal,
    pub neg_risk: bool,
    pub accepting_orders: bool,
    pub fees: FeeCurve,
}

#[derive(Deserialize)]
struct MarketInfoWire {
    c: String,
    #[serde(default)]
    t: Vec<TokenWire>,
    #[serde(deserialize_with = "exact_decimal::required")]
    mos: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    mts: Decimal,
    #[serde(default)]
    nr: bool,
    #[serde(default)]
    ao: bool,
    #[serde(default)]
    fd: Option<FeeWire>,
}

#[derive(Deserialize)]
struct TokenWire {
    t: String,
    #[serde(default)]
    o: String,
}

#[derive(Deserialize)]
struct FeeWire {
    #[serde(deserialize_with = "exact_decimal::required")]
    r: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    e: Decimal,
    #[serde(default)]
    to: bool,
}

impl ClobMarketInfo {
    pub fn from_json(json: &str) -> Result<Self, BookError> {
        let wire: MarketInfoWire = serde_json::from_str(json).map_err(|e| BookError::Parse(e.to_string()))?;
        let fees = match wire.fd {
            // No fee details: the market charges no fee.
            None => FeeCurve::FREE,
            Some(fd) => FeeCurve::new(fd.r, fd.e, fd.to).map_err(|e| BookError::Invalid {
                asset_id: wire.c.clone(),
                field: "fd",
                value: e.to_string(),
                rule: "must be a valid fee curve",
            })?,
        };
        Ok(Self {
            condition_id: wire.c,
            tokens: wire.t.into_iter().map(|t| (t.t, t.o)).collect(),
            min_order_size: wire.mos,
            tick_size: wire.mts,
            neg_risk: wire.nr,
            accepting_orders: wire.ao,
            fees,
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    pub(crate) fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn best_levels_are_the_last_wire_elements() {
        let book = OrderBook::from_json(&fixture("clob_book.json")).unwrap();
        assert_eq!(book.best_bid(), Some(PriceLevel { price: dec!(0.3), size: dec!(60.25) }));
        assert_eq!(book.best_ask(), Some(PriceLevel { price: dec!(0.43), size: dec!(8.37) }));
        assert_eq!(book.mid(), Some(dec!(0.365)));
        assert_eq!(book.spread(), Some(dec!(0.13)));
        assert_eq!(book.timestamp, Timestamp::from_millis(1_788_636_850_933));
        assert_eq!((book.tick_size, book.min_order_size, book.neg_risk), (dec!(0.01), dec!(5), true));
        assert_eq!(book.last_trade_price, Some(dec!(0.43)));
        assert_eq!(book.bids.len(), 11);
        assert_eq!(book.asks.len(), 19);
        assert!(book.asks.windows(2).all(|w| w[0].price < w[1].price));
        assert!(book.bids.windows(2).all(|w| w[0].price > w[1].price));
    }

    #[test]
    fn batched_books_parse_and_mirror() {
        let books = parse_books(fixture("clob_books_post_negrisk.json").as_bytes()).unwrap();
        assert_eq!(books.len(), 10);
        // Yes and No of the first neg-risk market mirror: Yes bid 0.005 ↔ No ask 0.995.
        assert_eq!(books[0].best_bid().map(|l| l.price), Some(dec!(0.005)));
        assert_eq!(books[1].best_ask().map(|l| l.price), Some(dec!(0.995)));
        assert_eq!(books[0].tick_size, dec!(0.001));
    }

    #[test]
    fn a_bad_book_in_a_batch_is_skipped_and_errors_name_the_field() {
        let body = r#"[{"asset_id":"1","timestamp":"1","bids":[],"asks":[],"min_order_size":"5","tick_size":"0.01"},
                      {"asset_id":"2","timestamp":"1","bids":[{"price":"1.5","size":"1"}],"asks":[],"min_order_size":"5","tick_size":"0.01"}]"#;
        let books = parse_books(body.as_bytes()).unwrap();
        assert_eq!(books.len(), 1);
        let err = OrderBook::from_json(
            r#"{"asset_id":"9","timestamp":"17.5","bids":[],"asks":[],"min_order_size":"5","tick_size":"0.01"}"#,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "book 9: timestamp = 17.5: must be positive whole milliseconds");
        assert!(parse_books(b"{}").is_err());
    }

    #[test]
    fn clob_market_info_gives_tick_min_size_neg_risk_and_fees() {
        let text = fixture("clob_clob_markets_info.json");
        let all: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
        let info = ClobMarketInfo::from_json(all[0].get()).unwrap();
        assert_eq!(info.condition_id, "0xdde06286a7b9464d344f410ab0b3d2ebc6469904e72c27fd982f65fdbf78768d");
        assert_eq!(
            (info.tick_size, info.min_order_size, info.neg_risk, info.accepting_orders),
            (dec!(0.001), dec!(5), true, true)
        );
        assert_eq!(info.fees, FeeCurve::new(dec!(0.05), dec!(1), true).unwrap());
        assert_eq!(info.tokens[1].1, "No");
    }
}
