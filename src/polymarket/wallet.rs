//! Reading our own wallet (live mode): its collateral balance from the CLOB
//! (`GET /balance-allowance`, L2, see [`super::ClobTradingClient::collateral_balance`]) and its
//! positions from the Data API (`GET /v2/positions?user=<funder>`, public, cursor pages).
//!
//! Bodies are bounded, numbers are parsed exactly (never through a float), and a malformed
//! position row is counted and skipped with its reason; only a page that is not the expected JSON,
//! or more pages than allowed, fails a reading (a partial list would look like missing positions).

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::exact_decimal;
use super::http::{HttpClient, HttpError, endpoint};
use crate::market::VenuePosition;

/// Longest `/balance-allowance` answer read (a balance and a few allowances).
pub const MAX_BALANCE_BODY_BYTES: usize = 64 * 1024;
/// Longest `/v2/positions` page read (a full page of 500 rows is about 700 KB).
pub const MAX_POSITIONS_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Rows asked for per `/v2/positions` page.
pub const POSITIONS_PAGE_SIZE: u32 = 500;
/// Pages read at most per reading: 10,000 positions.
pub const MAX_POSITIONS_PAGES: usize = 20;
/// A balance has at most this many digits (10^24 units is 10^18 pUSD, far above any wallet).
const MAX_BALANCE_DIGITS: usize = 24;
/// Collateral amounts are 6-decimal fixed-point integers.
const COLLATERAL_DECIMALS: u32 = 6;

/// A reading of the wallet that failed, naming the field, the value and the rule.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WalletError {
    #[error("balance-allowance: {field} = {value}: {rule}")]
    BadBalance { field: &'static str, value: String, rule: &'static str },
    #[error("the /v2/positions page is not the expected JSON ({0})")]
    MalformedPage(String),
    #[error("/v2/positions still had more after {pages} pages of {page_size}: refusing a partial list")]
    TooManyPositions { pages: usize, page_size: u32 },
    #[error("positions: {0}")]
    Http(#[from] HttpError),
    #[error("balance: {0}")]
    Balance(String),
}

/// One `/v2/positions` page, its rows parsed one by one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PositionsPage {
    pub positions: Vec<VenuePosition>,
    /// Rows in the payload, malformed ones included.
    pub raw_count: usize,
    pub malformed: usize,
    /// The reason of the first malformed row, for the one log line per reading.
    pub first_malformed: Option<String>,
    pub next_cursor: Option<String>,
}

/// Every position of one wallet.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PositionsReading {
    pub positions: Vec<VenuePosition>,
    pub pages: usize,
    pub malformed: usize,
    pub first_malformed: Option<String>,
}

#[derive(Deserialize)]
struct BalanceBody<'a> {
    #[serde(borrow)]
    balance: &'a RawValue,
}

/// The collateral balance of a `/balance-allowance` answer, in pUSD: `"2000000000"` is 2,000.
pub fn parse_balance(body: &[u8]) -> Result<Decimal, WalletError> {
    let parsed: BalanceBody<'_> = serde_json::from_slice(body).map_err(|e| WalletError::BadBalance {
        field: "balance",
        value: String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned(),
        rule: if e.is_data() { "must be present" } else { "the answer must be a JSON object" },
    })?;
    let raw = parsed.balance.get().trim();
    let digits = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
    let bad = |rule| WalletError::BadBalance { field: "balance", value: raw.chars().take(40).collect(), rule };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("must be a non-negative integer of 10^-6 pUSD units"));
    }
    if digits.len() > MAX_BALANCE_DIGITS {
        return Err(bad("has more than 24 digits"));
    }
    let units: i128 = digits.parse().map_err(|_| bad("must be a non-negative integer of 10^-6 pUSD units"))?;
    Decimal::try_from_i128_with_scale(units, COLLATERAL_DECIMALS)
        .map(|d| d.normalize())
        .map_err(|_| bad("is too large for a decimal"))
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct Pagination {
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Row<'a> {
    #[serde(default)]
    proxy_wallet: String,
    #[serde(default)]
    token_id: String,
    #[serde(default)]
    condition_id: String,
    /// Kept raw so that a bad number is reported with its field's name.
    #[serde(borrow)]
    current_size: Option<&'a RawValue>,
    #[serde(borrow, default)]
    avg_price: Option<&'a RawValue>,
    #[serde(default)]
    redeemable: bool,
}

/// A decimal field of a row, exactly; an error names the field.
fn decimal_field(name: &str, raw: Option<&RawValue>) -> Result<Option<Decimal>, String> {
    match raw.map(|r| r.get().trim()) {
        None | Some("null") => Ok(None),
        Some(text) => exact_decimal::decimal_from_json_text(text).map(Some).map_err(|e| format!("{name}: {e}")),
    }
}

/// Parses one `/v2/positions` page of `user`'s positions. Rows of another wallet (a filter the API
/// ignored) and rows with no shares left are not ours to compare.
pub fn parse_positions_page(body: &[u8], user: &str) -> Result<PositionsPage, WalletError> {
    let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|e| WalletError::MalformedPage(e.to_string()))?;
    let mut page = PositionsPage { raw_count: envelope.data.len(), ..PositionsPage::default() };
    for raw in envelope.data {
        match parse_row(raw.get(), user) {
            Ok(Some(position)) => page.positions.push(position),
            Ok(None) => {}
            Err(reason) => {
                page.malformed += 1;
                page.first_malformed.get_or_insert(reason);
            }
        }
    }
    page.next_cursor = envelope.pagination.filter(|p| p.has_more).and_then(|p| p.next_cursor).filter(|c| !c.is_empty());
    Ok(page)
}

fn parse_row(json: &str, user: &str) -> Result<Option<VenuePosition>, String> {
    let row: Row<'_> = serde_json::from_str(json).map_err(|e| format!("position row does not parse: {e}"))?;
    let current_size =
        decimal_field("current_size", row.current_size)?.ok_or_else(|| "current_size is missing".to_owned())?;
    let avg_price = decimal_field("avg_price", row.avg_price)?.unwrap_or_default();
    if !row.proxy_wallet.eq_ignore_ascii_case(user) {
        return Err(format!("proxy_wallet {:?} is not the wallet asked for", row.proxy_wallet));
    }
    if row.token_id.is_empty() || row.token_id.len() > 100 || !row.token_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("token_id {:?} must be a decimal token id", row.token_id));
    }
    if row.condition_id.is_empty() || row.condition_id.len() > 100 {
        return Err(format!("condition_id {:?} must be a condition id", row.condition_id));
    }
    if current_size < Decimal::ZERO {
        return Err(format!("current_size {current_size} must not be negative"));
    }
    if avg_price < Decimal::ZERO || avg_price > Decimal::ONE {
        return Err(format!("avg_price {avg_price} must be in [0, 1]"));
    }
    if current_size.is_zero() {
        return Ok(None);
    }
    Ok(Some(VenuePosition {
        token_id: row.token_id,
        condition_id: row.condition_id.to_ascii_lowercase(),
        size: current_size,
        avg_price,
        redeemable: row.redeemable,
    }))
}

/// Every position of `user` (the funder wallet), page after page: `GET /v2/positions?user=…&limit=…`
/// then `&cursor=…`, at most `MAX_POSITIONS_PAGES` pages.
pub async fn read_positions(
    http: &HttpClient,
    data_api_url: &str,
    user: &str,
) -> Result<PositionsReading, WalletError> {
    let mut reading = PositionsReading::default();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_POSITIONS_PAGES {
        let mut url = endpoint(data_api_url, "v2/positions")?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("user", user).append_pair("limit", &POSITIONS_PAGE_SIZE.to_string());
            if let Some(c) = &cursor {
                query.append_pair("cursor", c);
            }
        }
        let body = http.get(&url).await?;
        let page = parse_positions_page(&body, user)?;
        reading.pages += 1;
        reading.malformed += page.malformed;
        if reading.first_malformed.is_none() {
            reading.first_malformed = page.first_malformed;
        }
        reading.positions.extend(page.positions);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(reading),
        }
    }
    Err(WalletError::TooManyPositions { pages: MAX_POSITIONS_PAGES, page_size: POSITIONS_PAGE_SIZE })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    const USER: &str = "0x379a410a36c101e3b8dfb6c90d1176eb0def4b1a";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_balance_is_six_decimal_fixed_point_as_a_string_or_a_number() {
        assert_eq!(parse_balance(br#"{"balance":"2000000000","allowances":{"0xE111":"0"}}"#), Ok(dec!(2000)));
        assert_eq!(parse_balance(br#"{"balance":"1234567"}"#), Ok(dec!(1.234567)));
        assert_eq!(parse_balance(br#"{"balance":0}"#), Ok(Decimal::ZERO));
    }

    #[test]
    fn a_bad_balance_names_the_field_the_value_and_the_rule() {
        let err = |body: &[u8]| parse_balance(body).unwrap_err().to_string();
        assert_eq!(
            err(br#"{"balance":"-5"}"#),
            "balance-allowance: balance = \"-5\": must be a non-negative integer of 10^-6 pUSD units"
        );
        assert!(err(br#"{"balance":"12.5"}"#).contains("must be a non-negative integer"));
        assert!(err(br#"{"balance":"1000000000000000000000000000"}"#).contains("more than 24 digits"));
        assert!(err(br#"{"allowances":{}}"#).contains("balance") && err(br#"{"allowances":{}}"#).contains("present"));
        assert!(err(b"<html>").contains("JSON object"));
    }

    #[test]
    fn the_captured_positions_page_parses_exactly_with_its_cursor() {
        let page = parse_positions_page(&fixture("data_api_v2_positions_user.json"), USER).unwrap();
        assert_eq!((page.raw_count, page.malformed, page.positions.len()), (2, 0, 2));
        let first = &page.positions[0];
        assert_eq!(first.token_id, "56134520934827987450354834210862718136281318820368118025608831884832419413779");
        assert_eq!(first.condition_id, "0x21f6ce98ea79b65ec014ed5a13eafbc6730afcdd3f2cc958984cc618785e2758");
        assert_eq!((first.size, first.avg_price, first.redeemable), (dec!(28.09), dec!(0.6699), false));
        assert!(page.next_cursor.as_deref().is_some_and(|c| c.starts_with("eyJ")));
    }

    #[test]
    fn malformed_rows_are_counted_and_skipped_and_closed_ones_dropped() {
        let row = |fields: &str| format!(r#"{{"proxy_wallet":"{USER}","condition_id":"0xc",{fields}}}"#);
        let body = format!(
            r#"{{"data":[{},{},{},{},{},{}],"pagination":{{"has_more":false,"next_cursor":"x"}}}}"#,
            row(r#""token_id":"1","current_size":10,"avg_price":0.5"#),
            row(r#""token_id":"2","current_size":"abc","avg_price":0.5"#),
            row(r#""token_id":"0x3","current_size":1,"avg_price":0.5"#),
            row(r#""token_id":"4","current_size":1,"avg_price":1.5"#),
            row(r#""token_id":"5","current_size":0,"avg_price":0.5"#),
            r#"{"proxy_wallet":"0xsomeoneelse","token_id":"6","condition_id":"0xc","current_size":1}"#,
        );
        let page = parse_positions_page(body.as_bytes(), USER).unwrap();
        assert_eq!((page.raw_count, page.malformed, page.positions.len()), (6, 4, 1));
        assert_eq!(page.next_cursor, None, "has_more false ends the walk");
        assert!(page.first_malformed.is_some_and(|r| r.contains("current_size")));
        assert!(matches!(parse_positions_page(b"[]", USER), Err(WalletError::MalformedPage(_))));
    }
}
