//! Data API wire types (v1 camelCase bare arrays, v2 snake_case `{data, pagination}`) and their
//! normalisation into [`WhaleTrade`].
//!
//! A page is parsed in two steps: first into raw rows (the exact bytes of each row), then each row
//! on its own. A malformed row is logged with its reason and skipped; it never fails the page.
//! Only a page that is not JSON at all (or has no row array) is an error.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::exact_decimal;
use super::trade::{Side, WhaleTrade};
use crate::clock::Timestamp;

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
    /// Rows in the payload, malformed ones included (v1 offset paging counts these).
    pub raw_count: usize,
    /// Malformed rows that were logged and skipped.
    pub malformed: usize,
    /// v2 only: the cursor of the next page, `None` on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct V2Envelope<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
    #[serde(default)]
    pagination: Option<V2Pagination>,
}

#[derive(Deserialize)]
struct V2Pagination {
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// Parses a v1 page: a bare JSON array of camelCase rows.
pub fn parse_v1_page(body: &[u8]) -> Result<ActivityPage, DataApiError> {
    let raw_rows: Vec<&RawValue> = serde_json::from_slice(body)
        .map_err(|e| DataApiError::MalformedPage { version: "v1", detail: e.to_string() })?;
    let mut page = ActivityPage { raw_count: raw_rows.len(), ..ActivityPage::default() };
    for raw in raw_rows {
        push_row(&mut page, parse_v1_row(raw.get()));
    }
    Ok(page)
}

/// Parses a v2 page: `{data: [snake_case rows], pagination: {has_more, next_cursor}}`.
pub fn parse_v2_page(body: &[u8]) -> Result<ActivityPage, DataApiError> {
    let envelope: V2Envelope<'_> = serde_json::from_slice(body)
        .map_err(|e| DataApiError::MalformedPage { version: "v2", detail: e.to_string() })?;
    let mut page = ActivityPage { raw_count: envelope.data.len(), ..ActivityPage::default() };
    for raw in envelope.data {
        push_row(&mut page, parse_v2_row(raw.get()));
    }
    // `has_more` is exact (v2 openapi); a cursor without it would loop on the last page.
    page.next_cursor = envelope.pagination.filter(|p| p.has_more).and_then(|p| p.next_cursor).filter(|c| !c.is_empty());
    Ok(page)
}

fn push_row(page: &mut ActivityPage, parsed: Result<ActivityRow, String>) {
    match parsed {
        Ok(row) => page.rows.push(row),
        Err(reason) => {
            page.malformed += 1;
            tracing::warn!(reason = %reason, "skipping a malformed Data API row");
        }
    }
}

/// Parses and normalises one v1 row (also the replay format's whale-trade line).
pub fn parse_v1_row(json: &str) -> Result<ActivityRow, String> {
    let row: V1Row = serde_json::from_str(json).map_err(|e| format!("v1 row does not parse: {e}"))?;
    normalise(row.into())
}

/// Parses and normalises one v2 row.
pub fn parse_v2_row(json: &str) -> Result<ActivityRow, String> {
    let row: V2Row = serde_json::from_str(json).map_err(|e| format!("v2 row does not parse: {e}"))?;
    normalise(row.into())
}

fn normalise(row: CommonRow) -> Result<ActivityRow, String> {
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

fn normalise_trade(row: CommonRow, timestamp: Timestamp) -> Result<WhaleTrade, String> {
    let side = Side::parse(&row.side).ok_or_else(|| format!("side {:?} must be BUY or SELL", row.side))?;
    require(!row.transaction_hash.is_empty(), "transaction hash", &row.transaction_hash, "must not be empty")?;
    require(!row.wallet.is_empty(), "proxy wallet", &row.wallet, "must not be empty")?;
    require(!row.condition_id.is_empty(), "condition id", &row.condition_id, "must not be empty")?;
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

fn require(ok: bool, field: &str, value: &str, rule: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(format!("{field} {value:?} {rule}")) }
}

/// The Data API gives seconds; a 13-digit value would be milliseconds and is refused, not guessed.
fn seconds_to_timestamp(secs: i64) -> Result<Timestamp, String> {
    if secs <= 0 {
        return Err(format!("timestamp {secs} must be positive seconds since the epoch"));
    }
    if secs >= MAX_PLAUSIBLE_SECONDS {
        return Err(format!("timestamp {secs} looks like milliseconds; the Data API gives seconds"));
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
        let page = parse_v1_page(&fixture("data_api_v1_activity_user_trades.json")).unwrap();
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
        let page = parse_v1_page(&fixture("data_api_v1_trades_recent.json")).unwrap();
        let t = trades(&page);
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].price, dec!(0.5699998232997013));
        assert_eq!(t[1].usdc_size, None);
        assert_eq!(t[2].side, Side::Sell);
    }

    #[test]
    fn non_trade_rows_are_recognised_and_redeems_kept() {
        let page = parse_v1_page(&fixture("data_api_v1_activity_user_mixed.json")).unwrap();
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
        let page = parse_v2_page(&fixture("data_api_v2_activity_user.json")).unwrap();
        let t = trades(&page);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].outcome_index, None, "999 means unlabeled");
        assert_eq!(t[0].usdc_size, Some(dec!(12.16184)));
        assert_eq!(t[1].asset, "110891621175623911123262418934389066157020231116267817028449905194275827971468");
        assert!(page.next_cursor.as_deref().is_some_and(|c| c.starts_with("eyJ")));
        let trades_page = parse_v2_page(&fixture("data_api_v2_trades.json")).unwrap();
        assert_eq!(trades(&trades_page).len(), 2);
        assert_eq!(trades(&trades_page)[1].size, dec!(5.0));
    }

    #[test]
    fn last_page_has_no_cursor_even_if_one_is_sent() {
        let body = br#"{"data": [], "pagination": {"has_more": false, "next_cursor": "abc"}}"#;
        assert_eq!(parse_v2_page(body).unwrap().next_cursor, None);
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
        let page = parse_v1_page(body).unwrap();
        assert_eq!((page.raw_count, page.malformed, page.rows.len()), (5, 4, 1));
        assert!(
            parse_v1_row(r#"{"timestamp":1777091978000,"size":1,"price":0.5}"#).unwrap_err().contains("milliseconds")
        );
    }

    #[test]
    fn a_page_that_is_not_json_is_an_error() {
        assert!(matches!(parse_v1_page(b"<html>"), Err(DataApiError::MalformedPage { version: "v1", .. })));
        assert!(matches!(parse_v2_page(b"[]"), Err(DataApiError::MalformedPage { version: "v2", .. })));
    }
}
