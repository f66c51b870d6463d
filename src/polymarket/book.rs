//! CLOB order books (`GET /book`, `POST /books`) and market parameters (`GET /clob-markets/{id}`)
//! read from the wire into [`OrderBook`] and [`ClobMarketInfo`].
//!
//! On the wire, bids are ascending and asks descending: the best level is the LAST element of
//! each array (the docs claim the opposite). [`OrderBook`] stores both sides best first, so nothing
//! downstream depends on the wire order. Either direction is accepted, since the documented and the
//! observed order disagree, but never a mix (`unsorted`); every other rule a book must keep is
//! [`OrderBook::check_sane`]'s.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::exact_decimal;
use super::scan::Scan;
use crate::clock::Timestamp;
use crate::domain::exact;
use crate::market::{BookCause, BookError, ClobMarketInfo, FeeCurve, OrderBook, PriceLevel};

impl OrderBook {
    /// Parses one `GET /book` payload (or one element of `POST /books`).
    pub fn from_json(json: &str) -> Result<Self, BookError> {
        let mut scan = Scan::new(json);
        let wire = match BookWire::scan(&mut scan).filter(|_| scan.at_end()) {
            Some(wire) => wire,
            None => serde_json::from_str(json).map_err(|e| BookError::Parse(e.to_string()))?,
        };
        wire.into_book()
    }
}

/// A book object read by the scanner at `scan`; `None` when it is not in the plain shape (serde
/// then reads the whole payload). Replays read hundreds of thousands of these a second.
pub(crate) fn scan_book(scan: &mut Scan<'_>) -> Option<Result<OrderBook, BookError>> {
    BookWire::scan(scan).map(BookWire::into_book)
}

/// A `POST /books` answer: the books that can be used, and why each other one was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedBooks {
    pub books: Vec<OrderBook>,
    /// For the caller to count and log (rate-limited: see [`crate::market::BookRefusals`]).
    pub refused: Vec<BookError>,
}

/// Parses a `POST /books` answer: each book on its own, a refused one set aside with its reason.
/// Fails only when the answer as a whole is not a JSON array.
pub fn parse_books(body: &[u8]) -> Result<ParsedBooks, BookError> {
    let raw: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| BookError::Parse(e.to_string()))?;
    let mut parsed = ParsedBooks { books: Vec::with_capacity(raw.len()), refused: Vec::new() };
    for one in raw {
        match OrderBook::from_json(one.get()) {
            Ok(book) => parsed.books.push(book),
            Err(e) => parsed.refused.push(e),
        }
    }
    Ok(parsed)
}

/// What one wire side turned out to be, once checked.
struct WireSide {
    /// Prices go up the list (the best bid is last, the best ask first).
    ascending: bool,
    /// Some level has size zero (to be dropped).
    holds_empty_levels: bool,
}

/// Checks one wire side in a single pass: every level priced inside (0, 1), prices strictly
/// monotonic in either direction (see the module docs), no negative size. When several rules are
/// broken, the refusal names the first broken level of the first rule in that order.
fn check_wire_side(asset_id: &str, field: &'static str, side: &[PriceLevel]) -> Result<WireSide, BookError> {
    let mut out_of_range = None;
    let mut order_fault = None;
    let mut negative_size = None;
    let mut direction = None;
    let mut holds_empty_levels = false;
    for (i, level) in side.iter().enumerate() {
        if out_of_range.is_none() && !exact::inside_unit_interval(level.price) {
            out_of_range = Some(level.price);
        }
        if let Some(before) = i.checked_sub(1).map(|b| side[b].price)
            && order_fault.is_none()
        {
            let step = exact::cmp(level.price, before);
            order_fault = match (step, direction) {
                (std::cmp::Ordering::Equal, _) => Some((BookCause::RepeatedPrice, before, level.price)),
                (step, None) => {
                    direction = Some(step);
                    None
                }
                (step, Some(expected)) => (step != expected).then_some((BookCause::Unsorted, before, level.price)),
            };
        }
        if level.size.is_zero() {
            holds_empty_levels = true;
        } else if negative_size.is_none() && level.size.is_sign_negative() {
            negative_size = Some(level.size);
        }
    }
    if let Some(price) = out_of_range {
        return Err(BookError::Invalid {
            asset_id: asset_id.to_owned(),
            cause: BookCause::PriceOutOfRange,
            field,
            value: price.to_string(),
            rule: "level price must be between 0 and 1",
        });
    }
    if let Some((cause, before, after)) = order_fault {
        let rule = match cause {
            BookCause::RepeatedPrice => "a side may list a price only once",
            _ => "level prices must be strictly ascending or strictly descending",
        };
        let listed: Vec<String> = side.iter().take(MAX_LEVELS_QUOTED).map(|l| l.price.to_string()).collect();
        let more = if side.len() > MAX_LEVELS_QUOTED { ", …" } else { "" };
        return Err(BookError::Invalid {
            asset_id: asset_id.to_owned(),
            cause,
            field,
            value: format!("{after} after {before} in [{}{more}]", listed.join(", ")),
            rule,
        });
    }
    if let Some(size) = negative_size {
        return Err(BookError::Invalid {
            asset_id: asset_id.to_owned(),
            cause: BookCause::Malformed,
            field,
            value: size.to_string(),
            rule: "level size must not be negative",
        });
    }
    Ok(WireSide { ascending: direction == Some(std::cmp::Ordering::Greater), holds_empty_levels })
}

/// How many prices of an unsorted side a refusal quotes (a side can hold hundreds).
const MAX_LEVELS_QUOTED: usize = 8;

/// One level of a book as the wire states it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LevelWire {
    #[serde(deserialize_with = "exact_decimal::required")]
    pub(crate) price: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub(crate) size: Decimal,
}

/// A book's fields as the venue's JSON states them, before the rules a book must keep
/// ([`BookWire::into_book`] applies [`settle_wire_book`], which a session's compact records go
/// through as well).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BookWire {
    #[serde(default)]
    pub(crate) market: String,
    pub(crate) asset_id: String,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub(crate) timestamp: Decimal,
    #[serde(default)]
    pub(crate) hash: String,
    #[serde(default)]
    pub(crate) bids: Vec<LevelWire>,
    #[serde(default)]
    pub(crate) asks: Vec<LevelWire>,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub(crate) min_order_size: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub(crate) tick_size: Decimal,
    #[serde(default)]
    pub(crate) neg_risk: bool,
    #[serde(default, deserialize_with = "exact_decimal::optional")]
    pub(crate) last_trade_price: Option<Decimal>,
}

impl LevelWire {
    fn scan_side(scan: &mut Scan<'_>) -> Option<Vec<LevelWire>> {
        scan.eat(b'[')?;
        let mut side = Vec::new();
        if scan.eat_if(b']') {
            return Some(side);
        }
        loop {
            scan.eat(b'{')?;
            scan.expect_key("price")?;
            let price = scan.decimal()?;
            scan.eat(b',')?;
            scan.expect_key("size")?;
            let size = scan.decimal()?;
            scan.eat(b'}')?;
            side.push(LevelWire { price, size });
            if !scan.eat_if(b',') {
                break;
            }
        }
        scan.eat(b']')?;
        Some(side)
    }
}

impl BookWire {
    /// The scanner's reading of a book object: the fields serde's would read, each at most once,
    /// in any order; an unknown field sends the payload to serde.
    fn scan(scan: &mut Scan<'_>) -> Option<BookWire> {
        let (mut market, mut asset_id, mut timestamp, mut hash) = (None, None, None, None);
        let (mut bids, mut asks, mut min_order_size, mut tick_size) = (None, None, None, None);
        let (mut neg_risk, mut last_trade_price) = (None, None);
        fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
            if slot.is_some() {
                return None;
            }
            *slot = Some(value?);
            Some(())
        }
        scan.eat(b'{')?;
        if !scan.eat_if(b'}') {
            loop {
                match scan.key()? {
                    "market" => once(&mut market, scan.str().map(str::to_owned))?,
                    "asset_id" => once(&mut asset_id, scan.str().map(str::to_owned))?,
                    "timestamp" => once(&mut timestamp, scan.decimal())?,
                    "hash" => once(&mut hash, scan.str().map(str::to_owned))?,
                    "bids" => once(&mut bids, LevelWire::scan_side(scan))?,
                    "asks" => once(&mut asks, LevelWire::scan_side(scan))?,
                    "min_order_size" => once(&mut min_order_size, scan.decimal())?,
                    "tick_size" => once(&mut tick_size, scan.decimal())?,
                    "neg_risk" => once(&mut neg_risk, scan.bool())?,
                    "last_trade_price" => {
                        once(&mut last_trade_price, if scan.null() { Some(None) } else { scan.decimal().map(Some) })?
                    }
                    _ => return None,
                }
                if !scan.eat_if(b',') {
                    break;
                }
            }
            scan.eat(b'}')?;
        }
        Some(BookWire {
            market: market.unwrap_or_default(),
            asset_id: asset_id?,
            timestamp: timestamp?,
            hash: hash.unwrap_or_default(),
            bids: bids.unwrap_or_default(),
            asks: asks.unwrap_or_default(),
            min_order_size: min_order_size?,
            tick_size: tick_size?,
            neg_risk: neg_risk.unwrap_or_default(),
            last_trade_price: last_trade_price.flatten(),
        })
    }

    /// The book these fields describe, once it keeps the rules (or why it does not): the
    /// timestamp must be whole milliseconds here, the rest is [`settle_wire_book`]'s.
    pub(crate) fn into_book(self) -> Result<OrderBook, BookError> {
        let millis = i64::try_from(self.timestamp.trunc().mantissa())
            .ok()
            .filter(|_| self.timestamp.scale() == 0)
            .ok_or_else(|| BookError::Invalid {
                asset_id: self.asset_id.clone(),
                cause: BookCause::Malformed,
                field: "timestamp",
                value: self.timestamp.to_string(),
                rule: TIMESTAMP_RULE,
            })?;
        // Same layout: the wire's allocations become the book's.
        let level = |l: LevelWire| PriceLevel { price: l.price, size: l.size };
        let mut book = OrderBook {
            market: self.market,
            asset_id: self.asset_id,
            timestamp: Timestamp::from_millis(millis),
            hash: self.hash.into(),
            bids: self.bids.into_iter().map(level).collect(),
            asks: self.asks.into_iter().map(level).collect(),
            min_order_size: self.min_order_size,
            tick_size: self.tick_size,
            neg_risk: self.neg_risk,
            last_trade_price: self.last_trade_price,
        };
        settle_wire_book(&mut book)?;
        Ok(book)
    }
}

const TIMESTAMP_RULE: &str = "must be positive whole milliseconds";

/// Applies the rules a book from the wire must keep to `book`, whose fields are as an encoding
/// stated them (each side in the wire's order, either direction, sizes of zero included): checks
/// the timestamp, tick, minimum size and every level, drops the levels of size zero and puts each
/// side best first. One function for every encoding (the venue's JSON, a session's compact
/// records), so that a book is taken or refused, and for the same reason, whichever it came in.
pub(crate) fn settle_wire_book(book: &mut OrderBook) -> Result<(), BookError> {
    if is_settled(book) {
        return Ok(());
    }
    settle_in_full(book)
}

/// [`settle_wire_book`] for a book not known to be settled already: every rule checked level by
/// level, the fault named, each side turned best first.
fn settle_in_full(book: &mut OrderBook) -> Result<(), BookError> {
    let asset_id = book.asset_id.as_str();
    let invalid = |field: &'static str, value: String, rule: &'static str| BookError::Invalid {
        asset_id: asset_id.to_owned(),
        cause: BookCause::Malformed,
        field,
        value,
        rule,
    };
    if book.timestamp.millis() <= 0 {
        return Err(invalid("timestamp", book.timestamp.millis().to_string(), TIMESTAMP_RULE));
    }
    if !exact::inside_unit_interval(book.tick_size) {
        return Err(invalid("tick_size", book.tick_size.to_string(), "must be between 0 and 1"));
    }
    if book.min_order_size.is_sign_negative() && !book.min_order_size.is_zero() {
        return Err(invalid("min_order_size", book.min_order_size.to_string(), "must not be negative"));
    }
    let bids = check_wire_side(asset_id, "bids", &book.bids)?;
    let asks = check_wire_side(asset_id, "asks", &book.asks)?;
    // Strictly monotonic either way: best first (bids descending, asks ascending) is the wire
    // order or its reverse.
    let sides = [
        (&mut book.bids, bids.holds_empty_levels, bids.ascending),
        (&mut book.asks, asks.holds_empty_levels, !asks.ascending),
    ];
    for (side, holds_empty_levels, reverse) in sides {
        if holds_empty_levels {
            side.retain(|l| !l.size.is_zero());
        }
        if reverse {
            side.reverse();
        }
    }
    // Each side was range- and order-checked above; what is left is how the sides meet.
    book.check_touch()
}

/// Whether `book` keeps every rule [`settle_wire_book`] checks and is already in the form it
/// leaves a book in (best level first, no empty level), so that settling would change nothing: a
/// book read back from a compact session, where it was stored settled. One tight pass; any book
/// that fails it takes the full path, which names the fault or turns the book round.
fn is_settled(book: &OrderBook) -> bool {
    book.timestamp.millis() > 0
        && exact::inside_unit_interval(book.tick_size)
        && (book.min_order_size.is_sign_positive() || book.min_order_size.is_zero())
        && book.bids.iter().chain(&book.asks).all(|l| l.size.is_sign_positive() && !l.size.is_zero())
        && book.is_sane()
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
                cause: BookCause::Malformed,
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
            end_date: None,
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

    proptest::proptest! {
        /// A book the one-pass test calls settled is one the full rules take unchanged; every
        /// other book gets the full rules' answer, whichever way it is settled.
        #[test]
        fn a_book_taken_as_settled_is_one_settling_would_not_change(book in crate::market::arbitrary_book()) {
            let mut in_full = book.clone();
            let full = settle_in_full(&mut in_full);
            if is_settled(&book) {
                proptest::prop_assert_eq!(&full, &Ok(()));
                proptest::prop_assert_eq!(&in_full, &book);
            }
            let mut settled = book.clone();
            proptest::prop_assert_eq!(settle_wire_book(&mut settled), full);
            proptest::prop_assert_eq!(settled, in_full);
        }
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
        let parsed = parse_books(fixture("clob_books_post_negrisk.json").as_bytes()).unwrap();
        assert!(parsed.refused.is_empty(), "{:?}", parsed.refused);
        let books = parsed.books;
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
        let parsed = parse_books(body.as_bytes()).unwrap();
        assert_eq!(parsed.books.len(), 1);
        assert_eq!(parsed.refused.len(), 1);
        assert_eq!(parsed.refused[0].cause(), BookCause::PriceOutOfRange);
        assert_eq!(parsed.refused[0].to_string(), "book 2: bids = 1.5: level price must be between 0 and 1");
        let err = OrderBook::from_json(
            r#"{"asset_id":"9","timestamp":"17.5","bids":[],"asks":[],"min_order_size":"5","tick_size":"0.01"}"#,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "book 9: timestamp = 17.5: must be positive whole milliseconds");
        assert_eq!(err.cause(), BookCause::Malformed);
        assert!(parse_books(b"{}").is_err());
        let unparsable = parse_books(br#"[{"asset_id":"3"}]"#).unwrap();
        assert_eq!(unparsable.refused.iter().map(BookError::cause).collect::<Vec<_>>(), [BookCause::Malformed]);
    }

    /// A book with these wire sides (`(price, size)`, in wire order).
    fn wire_book(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> Result<OrderBook, BookError> {
        let side = |levels: &[(&str, &str)]| {
            serde_json::Value::Array(
                levels.iter().map(|(price, size)| serde_json::json!({"price": price, "size": size})).collect(),
            )
        };
        let json = serde_json::json!({
            "asset_id": "77", "market": "0xm", "timestamp": "1700000000000",
            "bids": side(bids), "asks": side(asks), "min_order_size": "5", "tick_size": "0.01"
        });
        OrderBook::from_json(&json.to_string())
    }

    fn refused(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> (BookCause, String) {
        let err = wire_book(bids, asks).expect_err("the book must be refused");
        (err.cause(), err.to_string())
    }

    #[test]
    fn a_crossed_book_is_refused_naming_both_prices() {
        let (cause, text) = refused(&[("0.80", "10"), ("0.90", "10")], &[("0.20", "10"), ("0.10", "10")]);
        assert_eq!(cause, BookCause::Crossed);
        assert_eq!(
            text,
            "book 77: best_bid = 0.90 above best ask 0.10: must be below the best ask (a crossed book is a corrupt price)"
        );
    }

    #[test]
    fn a_locked_book_is_refused() {
        let (cause, text) = refused(&[("0.40", "10"), ("0.50", "10")], &[("0.60", "10"), ("0.50", "10")]);
        assert_eq!(cause, BookCause::Locked);
        assert!(text.contains("best_bid = 0.50 equal to best ask 0.50"), "{text}");
        // An empty level is no price: a bid of 0.50 × 0 does not lock the book.
        let book = wire_book(&[("0.40", "10"), ("0.50", "0")], &[("0.60", "10"), ("0.50", "10")]).unwrap();
        assert_eq!(book.best_bid().map(|l| l.price), Some(dec!(0.40)));
    }

    #[test]
    fn a_level_priced_outside_zero_and_one_is_refused() {
        for price in ["0", "1", "1.5", "-0.1"] {
            let (cause, text) = refused(&[(price, "10")], &[("0.60", "10")]);
            assert_eq!(cause, BookCause::PriceOutOfRange, "{price}");
            assert!(text.contains(&format!("bids = {price}")), "{text}");
        }
        let (cause, _) = refused(&[("0.40", "10")], &[("0.60", "10"), ("1", "10")]);
        assert_eq!(cause, BookCause::PriceOutOfRange);
    }

    #[test]
    fn a_side_that_goes_up_and_down_is_refused_quoting_its_prices() {
        let (cause, text) = refused(&[("0.40", "10"), ("0.45", "10"), ("0.42", "10")], &[("0.60", "10")]);
        assert_eq!(cause, BookCause::Unsorted);
        assert_eq!(
            text,
            "book 77: bids = 0.42 after 0.45 in [0.40, 0.45, 0.42]: level prices must be strictly ascending or \
             strictly descending"
        );
        let (cause, _) = refused(&[("0.40", "10")], &[("0.60", "10"), ("0.70", "10"), ("0.65", "10")]);
        assert_eq!(cause, BookCause::Unsorted);
    }

    #[test]
    fn a_side_that_lists_a_price_twice_is_refused() {
        let (cause, text) = refused(&[("0.40", "10"), ("0.40", "5")], &[("0.60", "10")]);
        assert_eq!(cause, BookCause::RepeatedPrice);
        assert!(text.contains("bids = 0.40 after 0.40") && text.contains("only once"), "{text}");
        let (cause, _) = refused(&[("0.40", "10")], &[("0.70", "10"), ("0.60", "10"), ("0.60", "1")]);
        assert_eq!(cause, BookCause::RepeatedPrice);
    }

    #[test]
    fn sides_in_either_strict_order_are_held_best_first() {
        let wire_order = wire_book(&[("0.40", "1"), ("0.45", "2")], &[("0.60", "3"), ("0.55", "4")]).unwrap();
        let docs_order = wire_book(&[("0.45", "2"), ("0.40", "1")], &[("0.55", "4"), ("0.60", "3")]).unwrap();
        assert_eq!(wire_order, docs_order);
        assert_eq!(wire_order.best_bid(), Some(PriceLevel { price: dec!(0.45), size: dec!(2) }));
        assert_eq!(wire_order.best_ask(), Some(PriceLevel { price: dec!(0.55), size: dec!(4) }));
        // One side empty, or a single level: nothing to cross, nothing to order.
        assert!(wire_book(&[], &[("0.55", "4")]).is_ok());
        assert!(wire_book(&[("0.99", "1")], &[]).is_ok());
        assert!(wire_book(&[], &[]).is_ok());
    }

    #[test]
    fn check_sane_refuses_a_book_built_out_of_order_or_crossed() {
        let good = wire_book(&[("0.40", "1"), ("0.45", "2")], &[("0.60", "3"), ("0.55", "4")]).unwrap();
        assert_eq!(good.check_sane(), Ok(()));
        let mut unsorted = good.clone();
        unsorted.bids.reverse();
        assert_eq!(unsorted.check_sane().map_err(|e| e.cause()), Err(BookCause::Unsorted));
        let mut repeated = good.clone();
        repeated.asks[1].price = repeated.asks[0].price;
        assert_eq!(repeated.check_sane().map_err(|e| e.cause()), Err(BookCause::RepeatedPrice));
        let mut crossed = good.clone();
        crossed.bids[0].price = dec!(0.90);
        crossed.asks.truncate(1);
        crossed.asks[0].price = dec!(0.10);
        assert_eq!(crossed.check_sane().map_err(|e| e.cause()), Err(BookCause::Crossed));
        let mut outside = good;
        outside.asks[1].price = dec!(1);
        assert_eq!(outside.check_sane().map_err(|e| e.cause()), Err(BookCause::PriceOutOfRange));
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
