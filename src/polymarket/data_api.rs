//! Data API wire types (v1 camelCase bare arrays, v2 snake_case `{data, pagination}`) and their
//! normalisation into [`WhaleTrade`].
//!
//! A page is parsed in two steps: first into raw rows (the exact bytes of each row), then each row
//! on its own. A malformed row is counted under its cause and skipped; it never fails the page (the
//! caller logs one summary line per cause and poll, see [`SkippedRows`]). Only a page that is not
//! JSON at all (or has no row array) is an error.
//!
//! A page never yields more rows than were asked for: the rows past `limit` are skipped without
//! being kept (each only syntax-checked) and counted in [`ActivityPage::cut`], so that an answer of
//! millions of rows costs no more memory than the rows asked for.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::exact_decimal;
use crate::clock::Timestamp;
use crate::domain::Side;
use crate::market::WhaleTrade;

/// The outcome index the API uses for "could not be labeled".
const UNLABELED_OUTCOME_INDEX: u32 = 999;

/// A Data API timestamp at or above this is not seconds (it would be after the year 5000).
const MAX_PLAUSIBLE_SECONDS: i64 = 100_000_000_000;

/// The Data API gave a page this adapter cannot read at all.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum DataApiError {
    #[error("the {version} page is not the expected JSON ({detail})")]
    MalformedPage { version: &'static str, detail: String },
}

/// A v1 `/trades` or `/activity` row (camelCase). `/trades` rows have no `type` or `usdcSize`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V1Row {
    #[serde(default)]
    pub proxy_wallet: String,
    pub timestamp: i64,
    #[serde(default)]
    pub condition_id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub size: Decimal,
    #[serde(default, deserialize_with = "exact_decimal::optional")]
    pub usdc_size: Option<Decimal>,
    #[serde(default)]
    pub transaction_hash: String,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub price: Decimal,
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub side: String,
    #[serde(default)]
    pub outcome_index: Option<u32>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub outcome: String,
}

/// A v2 `/v2/trades` or `/v2/activity` row (snake_case).
#[derive(Debug, Deserialize)]
pub struct V2Row {
    #[serde(default)]
    pub proxy_wallet: String,
    pub timestamp: i64,
    #[serde(default)]
    pub condition_id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub size: Decimal,
    #[serde(default, deserialize_with = "exact_decimal::optional")]
    pub usdc_size: Option<Decimal>,
    #[serde(default)]
    pub transaction_hash: String,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub price: Decimal,
    #[serde(default)]
    pub token_id: String,
    #[serde(default)]
    pub side: String,
    #[serde(default)]
    pub outcome_index: Option<u32>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub outcome: String,
}

/// The fields both generations share, by meaning.
struct CommonRow {
    wallet: String,
    timestamp_secs: i64,
    condition_id: String,
    kind: Option<String>,
    size: Decimal,
    usdc_size: Option<Decimal>,
    transaction_hash: String,
    price: Decimal,
    asset: String,
    side: String,
    outcome_index: Option<u32>,
    title: String,
    slug: String,
    outcome: String,
}

impl From<V1Row> for CommonRow {
    fn from(r: V1Row) -> Self {
        Self {
            wallet: r.proxy_wallet,
            timestamp_secs: r.timestamp,
            condition_id: r.condition_id,
            kind: r.kind,
            size: r.size,
            usdc_size: r.usdc_size,
            transaction_hash: r.transaction_hash,
            price: r.price,
            asset: r.asset,
            side: r.side,
            outcome_index: r.outcome_index,
            title: r.title,
            slug: r.slug,
            outcome: r.outcome,
        }
    }
}

impl From<V2Row> for CommonRow {
    fn from(r: V2Row) -> Self {
        Self {
            wallet: r.proxy_wallet,
            timestamp_secs: r.timestamp,
            condition_id: r.condition_id,
            kind: r.kind,
            size: r.size,
            usdc_size: r.usdc_size,
            transaction_hash: r.transaction_hash,
            price: r.price,
            asset: r.token_id,
            side: r.side,
            outcome_index: r.outcome_index,
            title: r.title,
            slug: r.slug,
            outcome: r.outcome,
        }
    }
}

/// A redemption of a resolved market's position (`REDEEM` activity): the payout is
/// `usdc_size` (0 for the losing side). Kept for replay and resolution hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub wallet: String,
    pub condition_id: String,
    pub payout_usdc: Decimal,
    pub transaction_hash: String,
    pub timestamp: Timestamp,
}

/// What one well-formed row turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityRow {
    Trade(WhaleTrade),
    Redeem(Redemption),
    /// REWARD, MAKER_REBATE, SPLIT, MERGE, … : nothing to copy.
    Other {
        kind: String,
        timestamp: Timestamp,
    },
}

impl ActivityRow {
    pub fn timestamp(&self) -> Timestamp {
        match self {
            ActivityRow::Trade(t) => t.timestamp,
            ActivityRow::Redeem(r) => r.timestamp,
            ActivityRow::Other { timestamp, .. } => *timestamp,
        }
    }
}

/// One page, its rows parsed one by one.
#[derive(Debug, Default)]
pub struct ActivityPage {
    /// Well-formed rows in page order.
    pub rows: Vec<ActivityRow>,
    /// Rows read from the payload, malformed ones included, at most the limit asked for (v1
    /// offset paging counts these).
    pub raw_count: usize,
    /// Malformed rows that were skipped (the total of `skipped`).
    pub malformed: usize,
    /// The skipped rows by cause, each with its first example, for one summary line per poll.
    pub skipped: SkippedRows,
    /// Rows beyond the limit asked for: the venue answered a longer page than asked; not read.
    pub cut: usize,
    /// v2 only: the cursor of the next page, `None` on the last one.
    pub next_cursor: Option<String>,
}

/// Why a row was skipped: a stable `cause` (one summary line each) and the specific detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub cause: &'static str,
    pub detail: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The longest example a summary line quotes (a row comes from outside).
const MAX_EXAMPLE_CHARS: usize = 300;

/// Skipped rows by cause: how many, and the first one's reason. A poll gathers its pages' tallies
/// and logs one line per cause, so that a page of a million bad rows costs one log line, not a
/// million.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkippedRows {
    causes: BTreeMap<&'static str, SkipCause>,
}

/// One cause's tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipCause {
    pub count: u64,
    /// The first skipped row's reason, cut to a few hundred characters.
    pub first_example: String,
}

impl SkippedRows {
    /// Counts one skipped row; its reason is kept only if it is the cause's first.
    pub fn add(&mut self, cause: &'static str, example: impl fmt::Display) {
        self.causes
            .entry(cause)
            .or_insert_with(|| SkipCause { count: 0, first_example: cut_example(&example.to_string()) })
            .count += 1;
    }

    /// Adds another tally (a later page's), keeping the earlier first examples.
    pub fn merge(&mut self, other: SkippedRows) {
        for (cause, tally) in other.causes {
            let entry = self.causes.entry(cause).or_insert(SkipCause { count: 0, first_example: tally.first_example });
            entry.count += tally.count;
        }
    }

    pub fn total(&self) -> u64 {
        self.causes.values().map(|c| c.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.causes.is_empty()
    }

    /// Each cause with its tally, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &SkipCause)> {
        self.causes.iter().map(|(cause, tally)| (*cause, tally))
    }
}

fn cut_example(text: &str) -> String {
    match text.char_indices().nth(MAX_EXAMPLE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The first `limit` rows of a JSON array, kept as raw text, and how many more there were.
struct FirstRows<'a> {
    rows: Vec<&'a RawValue>,
    cut: usize,
}

/// Reads a JSON array keeping at most `limit` elements; the rest are only checked for syntax.
#[derive(Clone, Copy)]
struct FirstRowsSeed {
    limit: usize,
}

impl<'de> DeserializeSeed<'de> for FirstRowsSeed {
    type Value = FirstRows<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FirstRowsSeed {
    type Value = FirstRows<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Never trust a size hint from outside for an allocation.
        let mut rows = Vec::with_capacity(self.limit.min(1_024));
        while rows.len() < self.limit {
            match seq.next_element::<&'de RawValue>()? {
                Some(row) => rows.push(row),
                None => return Ok(FirstRows { rows, cut: 0 }),
            }
        }
        let mut cut = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            cut += 1;
        }
        Ok(FirstRows { rows, cut })
    }
}

/// Reads a v2 envelope `{data: [...], pagination: {...}}`, its rows through [`FirstRowsSeed`].
struct V2EnvelopeSeed {
    limit: usize,
}

struct V2Envelope<'a> {
    data: FirstRows<'a>,
    pagination: Option<V2Pagination>,
}

impl<'de> Visitor<'de> for V2EnvelopeSeed {
    type Value = V2Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a data array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut data = None;
        let mut pagination = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "data" if data.is_some() => return Err(serde::de::Error::duplicate_field("data")),
                "data" => data = Some(map.next_value_seed(FirstRowsSeed { limit: self.limit })?),
                "pagination" if pagination.is_some() => {
                    return Err(serde::de::Error::duplicate_field("pagination"));
                }
                "pagination" => pagination = Some(map.next_value::<Option<V2Pagination>>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let data = data.ok_or_else(|| serde::de::Error::missing_field("data"))?;
        Ok(V2Envelope { data, pagination: pagination.flatten() })
    }
}

fn read_whole<'de, T>(
    body: &'de [u8],
    read: impl FnOnce(&mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>) -> serde_json::Result<T>,
) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = read(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

#[derive(Deserialize)]
struct V2Pagination {
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// Parses a v1 page: a bare JSON array of camelCase rows, keeping at most `limit` of them.
pub fn parse_v1_page(body: &[u8], limit: usize) -> Result<ActivityPage, DataApiError> {
    let raw = read_whole(body, |d| FirstRowsSeed { limit }.deserialize(d))
        .map_err(|e| DataApiError::MalformedPage { version: "v1", detail: e.to_string() })?;
    let mut page = ActivityPage { raw_count: raw.rows.len(), cut: raw.cut, ..ActivityPage::default() };
    for row in raw.rows {
        push_row(&mut page, v1_row(row.get()));
    }
    Ok(page)
}

/// Parses a v2 page: `{data: [snake_case rows], pagination: {has_more, next_cursor}}`, keeping at
/// most `limit` rows.
pub fn parse_v2_page(body: &[u8], limit: usize) -> Result<ActivityPage, DataApiError> {
    let envelope = read_whole(body, |d| serde::Deserializer::deserialize_map(d, V2EnvelopeSeed { limit }))
        .map_err(|e| DataApiError::MalformedPage { version: "v2", detail: e.to_string() })?;
    let mut page =
        ActivityPage { raw_count: envelope.data.rows.len(), cut: envelope.data.cut, ..ActivityPage::default() };
    for row in envelope.data.rows {
        push_row(&mut page, v2_row(row.get()));
    }
    // `has_more` is exact (v2 openapi); a cursor without it would loop on the last page.
    page.next_cursor = envelope.pagination.filter(|p| p.has_more).and_then(|p| p.next_cursor).filter(|c| !c.is_empty());
    Ok(page)
}

fn push_row(page: &mut ActivityPage, parsed: Result<ActivityRow, RowError>) {
    match parsed {
        Ok(row) => page.rows.push(row),
        Err(error) => {
            page.malformed += 1;
            page.skipped.add(error.cause, &error.detail);
        }
    }
}

/// Parses and normalises one v1 row (also the replay format's whale-trade line).
pub fn parse_v1_row(json: &str) -> Result<ActivityRow, String> {
    v1_row(json).map_err(|e| e.detail)
}

/// Parses and normalises one v2 row.
pub fn parse_v2_row(json: &str) -> Result<ActivityRow, String> {
    v2_row(json).map_err(|e| e.detail)
}

fn v1_row(json: &str) -> Result<ActivityRow, RowError> {
    let row: V1Row = serde_json::from_str(json)
        .map_err(|e| RowError { cause: "unreadable", detail: format!("v1 row does not parse: {e}") })?;
    normalise(row.into())
}

fn v2_row(json: &str) -> Result<ActivityRow, RowError> {
    let row: V2Row = serde_json::from_str(json)
        .map_err(|e| RowError { cause: "unreadable", detail: format!("v2 row does not parse: {e}") })?;
    normalise(row.into())
}

fn normalise(row: CommonRow) -> Result<ActivityRow, RowError> {
    let timestamp = seconds_to_timestamp(row.timestamp_secs)?;
    let kind = row.kind.as_deref().unwrap_or("TRADE").to_ascii_uppercase();
    match kind.as_str() {
        "TRADE" => normalise_trade(row, timestamp).map(ActivityRow::Trade),
        "REDEEM" => Ok(ActivityRow::Redeem(Redemption {
            wallet: row.wallet.to_ascii_lowercase(),
            condition_id: row.condition_id,
            payout_usdc: row.usdc_size.unwrap_or(row.size),
            transaction_hash: row.transaction_hash.to_ascii_lowercase(),
            timestamp,
        })),
        _ => Ok(ActivityRow::Other { kind, timestamp }),
    }
}

fn normalise_trade(row: CommonRow, timestamp: Timestamp) -> Result<WhaleTrade, RowError> {
    let side = Side::parse(&row.side)
        .ok_or_else(|| RowError { cause: "side", detail: format!("side {:?} must be BUY or SELL", row.side) })?;
    require(!row.transaction_hash.is_empty(), "transaction_hash", &row.transaction_hash, "must not be empty")?;
    require(!row.wallet.is_empty(), "proxy_wallet", &row.wallet, "must not be empty")?;
    require(!row.condition_id.is_empty(), "condition_id", &row.condition_id, "must not be empty")?;
    require(
        !row.asset.is_empty() && row.asset.bytes().all(|b| b.is_ascii_digit()),
        "asset",
        &row.asset,
        "must be a decimal token id",
    )?;
    require(row.size > Decimal::ZERO, "size", &row.size.to_string(), "must be positive")?;
    require(
        row.price > Decimal::ZERO && row.price <= Decimal::ONE,
        "price",
        &row.price.to_string(),
        "must be in (0, 1]",
    )?;
    Ok(WhaleTrade {
        transaction_hash: row.transaction_hash.to_ascii_lowercase(),
        wallet: row.wallet.to_ascii_lowercase(),
        condition_id: row.condition_id.to_ascii_lowercase(),
        asset: row.asset,
        outcome: row.outcome,
        outcome_index: row.outcome_index.filter(|i| *i != UNLABELED_OUTCOME_INDEX),
        side,
        size: row.size,
        price: row.price,
        usdc_size: row.usdc_size,
        timestamp,
        title: row.title,
        slug: row.slug,
    })
}

/// `field` is the cause: one summary line per offending field.
fn require(ok: bool, field: &'static str, value: &str, rule: &str) -> Result<(), RowError> {
    if ok { Ok(()) } else { Err(RowError { cause: field, detail: format!("{field} {value:?} {rule}") }) }
}

/// The Data API gives seconds; a 13-digit value would be milliseconds and is refused, not guessed.
fn seconds_to_timestamp(secs: i64) -> Result<Timestamp, RowError> {
    let refuse = |detail| Err(RowError { cause: "timestamp", detail });
    if secs <= 0 {
        return refuse(format!("timestamp {secs} must be positive seconds since the epoch"));
    }
    if secs >= MAX_PLAUSIBLE_SECONDS {
        return refuse(format!("timestamp {secs} looks like milliseconds; the Data API gives seconds"));
    }
    Ok(Timestamp::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn trades(page: &ActivityPage) -> Vec<&WhaleTrade> {
        page.rows.iter().filter_map(|r| if let ActivityRow::Trade(t) = r { Some(t) } else { None }).collect()
    }

    #[test]
    fn v1_activity_rows_keep_float_noise_exactly_and_use_seconds() {
        let page = parse_v1_page(&fixture("data_api_v1_activity_user_trades.json"), 500).unwrap();
        assert_eq!((page.raw_count, page.malformed, page.rows.len()), (10, 0, 10));
        let t = trades(&page);
        assert_eq!(t[2].price.to_string(), "0.7671607282693813");
        assert_eq!(t[3].size.to_string(), "2538.2661200000002");
        assert_eq!(t[0].timestamp, Timestamp::from_millis(1_777_091_978_000));
        assert_eq!(t[0].usdc_size, Some(dec!(614.285714)));
        assert_eq!(t[0].wallet, "0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee");
        assert_eq!(t[0].outcome_index, Some(1));
        assert_eq!(t[0].side, Side::Buy);
        assert_eq!(t[0].outcome, "Ducks");
        assert_eq!(t[0].asset, "31580298928034717121287201018973507946553544207612680382558768593005033869136");
    }

    #[test]
    fn v1_trades_rows_have_no_type_and_no_usdc_size() {
        let page = parse_v1_page(&fixture("data_api_v1_trades_recent.json"), 500).unwrap();
        let t = trades(&page);
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].price, dec!(0.5699998232997013));
        assert_eq!(t[1].usdc_size, None);
        assert_eq!(t[2].side, Side::Sell);
    }

    #[test]
    fn non_trade_rows_are_recognised_and_redeems_kept() {
        let page = parse_v1_page(&fixture("data_api_v1_activity_user_mixed.json"), 500).unwrap();
        assert_eq!(page.malformed, 0);
        assert_eq!(trades(&page).len(), 42);
        let redeems: Vec<_> =
            page.rows.iter().filter_map(|r| if let ActivityRow::Redeem(r) = r { Some(r) } else { None }).collect();
        assert_eq!(redeems.len(), 2);
        assert_eq!(redeems[0].payout_usdc, dec!(10980911.728675));
        let others = page.rows.iter().filter(|r| matches!(r, ActivityRow::Other { .. })).count();
        assert_eq!(others, 6);
    }

    #[test]
    fn v2_page_rows_and_cursor() {
        let page = parse_v2_page(&fixture("data_api_v2_activity_user.json"), 500).unwrap();
        let t = trades(&page);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].outcome_index, None, "999 means unlabeled");
        assert_eq!(t[0].usdc_size, Some(dec!(12.16184)));
        assert_eq!(t[1].asset, "110891621175623911123262418934389066157020231116267817028449905194275827971468");
        assert!(page.next_cursor.as_deref().is_some_and(|c| c.starts_with("eyJ")));
        let trades_page = parse_v2_page(&fixture("data_api_v2_trades.json"), 500).unwrap();
        assert_eq!(trades(&trades_page).len(), 2);
        assert_eq!(trades(&trades_page)[1].size, dec!(5.0));
    }

    #[test]
    fn last_page_has_no_cursor_even_if_one_is_sent() {
        let body = br#"{"data": [], "pagination": {"has_more": false, "next_cursor": "abc"}}"#;
        assert_eq!(parse_v2_page(body, 500).unwrap().next_cursor, None);
    }

    #[test]
    fn malformed_rows_are_skipped_with_a_reason_not_fatal() {
        let body = br#"[
            {"proxyWallet":"0xa","timestamp":1777091978,"conditionId":"0xc","type":"TRADE","size":"abc","price":0.5,"asset":"1","side":"BUY","transactionHash":"0x1"},
            {"proxyWallet":"0xa","timestamp":1777091978000,"conditionId":"0xc","type":"TRADE","size":1,"price":0.5,"asset":"1","side":"BUY","transactionHash":"0x1"},
            {"proxyWallet":"0xa","timestamp":1777091978,"conditionId":"0xc","type":"TRADE","size":1,"price":1.5,"asset":"1","side":"BUY","transactionHash":"0x1"},
            {"proxyWallet":"0xa","timestamp":1777091978,"conditionId":"0xc","type":"TRADE","size":1,"price":0.5,"asset":"1","side":"HOLD","transactionHash":"0x1"},
            {"proxyWallet":"0xa","timestamp":1777091978,"conditionId":"0xc","type":"TRADE","size":1,"price":0.5,"asset":"1","side":"BUY","transactionHash":"0x1"}
        ]"#;
        let page = parse_v1_page(body, 500).unwrap();
        assert_eq!((page.raw_count, page.malformed, page.rows.len()), (5, 4, 1));
        let causes: Vec<_> = page.skipped.iter().map(|(cause, tally)| (cause, tally.count)).collect();
        assert_eq!(causes, [("price", 1), ("side", 1), ("timestamp", 1), ("unreadable", 1)]);
        let (_, price) = page.skipped.iter().find(|(cause, _)| *cause == "price").unwrap();
        assert_eq!(price.first_example, "price \"1.5\" must be in (0, 1]");
        assert!(
            parse_v1_row(r#"{"timestamp":1777091978000,"size":1,"price":0.5}"#).unwrap_err().contains("milliseconds")
        );
    }

    #[test]
    fn a_page_longer_than_asked_is_cut_to_the_limit_and_the_excess_counted() {
        let row = r#"{"proxyWallet":"0xa","timestamp":1777091978,"conditionId":"0xc","size":1,"price":0.5,"asset":"1","side":"BUY","transactionHash":"0x1"}"#;
        let rows = [row; 7].join(",");
        let v1 = parse_v1_page(format!("[{rows}]").as_bytes(), 3).unwrap();
        assert_eq!((v1.raw_count, v1.rows.len(), v1.cut), (3, 3, 4));
        let v2 = format!(r#"{{"pagination":{{"has_more":true,"next_cursor":"n"}},"data":[{rows}],"extra":[1,{{}}]}}"#);
        let v2 = parse_v2_page(v2.as_bytes(), 5).unwrap();
        assert_eq!((v2.raw_count, v2.cut, v2.next_cursor.as_deref()), (5, 2, Some("n")));
        // The excess is still checked for syntax: a broken tail is a broken page.
        assert!(parse_v1_page(format!("[{rows},{{]").as_bytes(), 3).is_err());
        assert!(parse_v2_page(br#"{"data":[],"data":[]}"#, 3).is_err());
        assert!(parse_v2_page(br#"{"data":[]} x"#, 3).is_err());
    }

    #[test]
    fn skipped_rows_merge_keeping_the_first_example_and_cut_long_ones() {
        let mut first = SkippedRows::default();
        first.add("price", "a");
        let mut second = SkippedRows::default();
        second.add("price", "b");
        second.add("side", "x".repeat(1_000));
        first.merge(second);
        assert_eq!(first.total(), 3);
        let tallies: Vec<_> = first.iter().map(|(c, t)| (c, t.count, t.first_example.chars().count())).collect();
        assert_eq!(tallies, [("price", 2, 1), ("side", 1, MAX_EXAMPLE_CHARS + 1)]);
    }

    #[test]
    fn a_page_that_is_not_json_is_an_error() {
        assert!(matches!(parse_v1_page(b"<html>", 500), Err(DataApiError::MalformedPage { version: "v1", .. })));
        assert!(matches!(parse_v2_page(b"[]", 500), Err(DataApiError::MalformedPage { version: "v2", .. })));
    }
}
