//! A market's trading status from the CLOB (`GET /markets/{condition_id}`): whether it still takes
//! orders, whether it is closed, and which outcome won once it resolved.
//!
//! Only the fields the daemon acts on are read (`condition_id`, `closed`, `accepting_orders`,
//! `tokens[{token_id, winner}]`, plus `active`, `archived`, `question`, `outcome` and `price` for
//! logs); the rest of the large object is skipped. Each field is taken from the payload's exact
//! bytes, so a refusal names the field, its value and the rule, and a number is read as a decimal
//! whether the venue sent it as a JSON number or as a string.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;

use super::exact_decimal::decimal_from_json_text;
use crate::clock::Timestamp;

/// Longest `/markets/{condition_id}` answer accepted. The documented object is a few kilobytes
/// (the description is the longest field); anything far beyond is not a market.
pub const MAX_MARKET_BODY_BYTES: usize = 256 * 1024;

/// Most outcomes a market may list (Polymarket markets are binary; neg-risk events are many
/// binary markets).
const MAX_TOKENS: usize = 16;

/// Longest value quoted back in an error.
const MAX_SHOWN_CHARS: usize = 80;

/// A `/markets/{condition_id}` payload that cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MarketStatusError {
    #[error("market payload does not parse: {0}")]
    Parse(String),
    #[error("market {condition_id}: {field} is missing")]
    Missing { condition_id: String, field: String },
    #[error("market {condition_id}: {field} = {value}: {rule}")]
    Invalid { condition_id: String, field: String, value: String, rule: &'static str },
}

/// One outcome of a market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketToken {
    pub token_id: String,
    pub outcome: String,
    /// The venue's last price of the outcome (1 or 0 once resolved), when given.
    pub price: Option<Decimal>,
    /// True for the winning outcome of a resolved market.
    pub winner: bool,
}

/// What the daemon needs to know about a market's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketStatus {
    pub condition_id: String,
    pub question: String,
    pub active: bool,
    /// No more trading; resolved or waiting for its resolution.
    pub closed: bool,
    pub archived: bool,
    /// Whether the order book takes orders.
    pub accepting_orders: bool,
    /// When the market is scheduled to end (`end_date_iso`), if it says. An unreadable end date is
    /// kept as its error rather than refusing the whole status: the resolution watcher needs the
    /// rest, only the entry guard needs the date.
    #[serde(skip)]
    pub end_date: Result<Option<Timestamp>, MarketStatusError>,
    pub tokens: Vec<MarketToken>,
}

impl MarketStatus {
    /// The winning outcome's token, once the market resolved (`winner: true` on exactly one).
    pub fn winner(&self) -> Option<&MarketToken> {
        self.tokens.iter().find(|t| t.winner)
    }

    /// Parses one `GET /markets/{condition_id}` answer for the market `expected` (the condition
    /// id asked for; the answer must name it).
    pub fn from_json(body: &[u8], expected: &str) -> Result<Self, MarketStatusError> {
        let fields: HashMap<String, &RawValue> =
            serde_json::from_slice(body).map_err(|e| MarketStatusError::Parse(e.to_string()))?;
        let object = Fields { fields: &fields, prefix: String::new(), condition_id: expected };
        let condition_id = object.string("condition_id")?;
        if !condition_id.eq_ignore_ascii_case(expected) {
            return Err(object.invalid("condition_id", &condition_id, "must be the condition id asked for"));
        }
        let status = Self {
            question: object.optional_string("question")?.unwrap_or_default(),
            active: object.optional_bool("active")?.unwrap_or(false),
            closed: object.bool("closed")?,
            archived: object.optional_bool("archived")?.unwrap_or(false),
            accepting_orders: object.bool("accepting_orders")?,
            end_date: object.optional_date("end_date_iso"),
            tokens: object.tokens()?,
            condition_id,
        };
        let winners = status.tokens.iter().filter(|t| t.winner).count();
        if winners > 1 {
            return Err(object.invalid("tokens", &format!("{winners} winners"), "at most one outcome may win"));
        }
        Ok(status)
    }
}

/// The raw fields of one JSON object, read one by one with errors that name them.
struct Fields<'a> {
    fields: &'a HashMap<String, &'a RawValue>,
    /// `tokens[1].` inside an array element, empty at the top.
    prefix: String,
    condition_id: &'a str,
}

impl Fields<'_> {
    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn missing(&self, field: &str) -> MarketStatusError {
        MarketStatusError::Missing { condition_id: self.condition_id.to_string(), field: self.name(field) }
    }

    fn invalid(&self, field: &str, value: &str, rule: &'static str) -> MarketStatusError {
        let mut shown: String = value.chars().take(MAX_SHOWN_CHARS).collect();
        if shown.len() < value.len() {
            shown.push('…');
        }
        MarketStatusError::Invalid {
            condition_id: self.condition_id.to_string(),
            field: self.name(field),
            value: shown,
            rule,
        }
    }

    /// The raw value of `field`; absent and `null` are both `None`.
    fn raw(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(|raw| raw.get().trim()).filter(|text| *text != "null")
    }

    fn string(&self, field: &str) -> Result<String, MarketStatusError> {
        self.optional_string(field)?.filter(|s| !s.is_empty()).ok_or_else(|| self.missing(field))
    }

    fn optional_string(&self, field: &str) -> Result<Option<String>, MarketStatusError> {
        self.raw(field)
            .map(|text| serde_json::from_str::<String>(text).map_err(|_| self.invalid(field, text, "must be a string")))
            .transpose()
    }

    fn bool(&self, field: &str) -> Result<bool, MarketStatusError> {
        self.optional_bool(field)?.ok_or_else(|| self.missing(field))
    }

    fn optional_bool(&self, field: &str) -> Result<Option<bool>, MarketStatusError> {
        self.raw(field)
            .map(|text| match text {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(self.invalid(field, other, "must be true or false")),
            })
            .transpose()
    }

    fn optional_decimal(&self, field: &str) -> Result<Option<Decimal>, MarketStatusError> {
        self.raw(field)
            .map(|text| decimal_from_json_text(text).map_err(|_| self.invalid(field, text, "must be a decimal number")))
            .transpose()
    }

    /// An RFC 3339 time, or a bare `YYYY-MM-DD` read as that day's start in UTC (the earlier
    /// reading, so a guard against the end date errs on the safe side). Empty is absent.
    fn optional_date(&self, field: &str) -> Result<Option<Timestamp>, MarketStatusError> {
        let Some(text) = self.optional_string(field)?.filter(|t| !t.is_empty()) else { return Ok(None) };
        if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&text) {
            return Ok(Some(Timestamp::from(at.with_timezone(&chrono::Utc))));
        }
        chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .ok()
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|start| Some(Timestamp::from(start.and_utc())))
            .ok_or_else(|| self.invalid(field, &text, "must be an RFC 3339 time or a YYYY-MM-DD date"))
    }

    fn tokens(&self) -> Result<Vec<MarketToken>, MarketStatusError> {
        let text = self.raw("tokens").ok_or_else(|| self.missing("tokens"))?;
        let elements: Vec<HashMap<String, &RawValue>> =
            serde_json::from_str(text).map_err(|_| self.invalid("tokens", text, "must be an array of objects"))?;
        if elements.is_empty() || elements.len() > MAX_TOKENS {
            return Err(self.invalid("tokens", &format!("{} outcomes", elements.len()), "must list 1 to 16 outcomes"));
        }
        elements
            .iter()
            .enumerate()
            .map(|(i, fields)| {
                let token =
                    Fields { fields, prefix: format!("{}tokens[{i}].", self.prefix), condition_id: self.condition_id };
                let price = token.optional_decimal("price")?;
                if let Some(p) = price
                    && !(Decimal::ZERO..=Decimal::ONE).contains(&p)
                {
                    return Err(token.invalid("price", &p.to_string(), "must be between 0 and 1"));
                }
                Ok(MarketToken {
                    token_id: token.string("token_id")?,
                    outcome: token.optional_string("outcome")?.unwrap_or_default(),
                    price,
                    // Not flagged is not won: only an explicit `true` settles a position at 1.
                    winner: token.optional_bool("winner")?.unwrap_or(false),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    const CONDITION: &str = "0x2583be7162d1e223505d91f9702c67da402385491ef84be2ae0b25822528dca4";

    fn fixture() -> String {
        let path =
            format!("{}/tests/fixtures/polymarket/clob_market_resolved_docs_shape.json", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn market(closed: bool, accepting: bool, tokens: &str) -> String {
        format!(
            r#"{{"condition_id":"{CONDITION}","question":"Q?","active":true,"closed":{closed},"archived":false,"accepting_orders":{accepting},"tokens":{tokens}}}"#
        )
    }

    fn parse(json: &str) -> Result<MarketStatus, MarketStatusError> {
        MarketStatus::from_json(json.as_bytes(), CONDITION)
    }

    #[test]
    fn the_documented_shape_of_a_resolved_market_gives_its_winner() {
        let status = MarketStatus::from_json(fixture().as_bytes(), CONDITION).unwrap_or_else(|e| panic!("{e}"));
        assert!(status.closed && !status.accepting_orders && !status.archived);
        assert_eq!(status.tokens.len(), 2);
        let winner = status.winner().unwrap_or_else(|| panic!("no winner"));
        assert_eq!(winner.outcome, "Yes");
        assert_eq!(winner.price, Some(dec!(1)), "a JSON number, read exactly");
        assert_eq!(status.tokens[1].price, Some(dec!(0)));
        assert!(!status.tokens[1].winner);
        assert_eq!(status.end_date.map(|d| d.map(|t| t.to_rfc3339())), Ok(Some("2026-06-30T00:00:00.000Z".to_owned())));
    }

    #[test]
    fn the_end_date_reads_as_a_time_or_a_day_and_a_bad_one_is_named() {
        let with = |end: &str| {
            let json = market(false, true, r#"[{"token_id":"1","outcome":"Yes"}]"#).replacen(
                '{',
                &format!(r#"{{"end_date_iso":{end},"#),
                1,
            );
            parse(&json)
        };
        let end = |text: &str| with(text).map(|s| s.end_date.map(|d| d.map(|t| t.to_rfc3339())));
        assert_eq!(end(r#""2026-07-01""#), Ok(Ok(Some("2026-07-01T00:00:00.000Z".to_owned()))));
        assert_eq!(end("null"), Ok(Ok(None)));
        assert_eq!(end(r#""""#), Ok(Ok(None)));
        // A bad end date is named, and the rest of the status still reads.
        let bad = with(r#""next tuesday""#).unwrap_or_else(|e| panic!("{e}"));
        let error = bad.end_date.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("end_date_iso") && error.contains("next tuesday"), "{error}");
        assert_eq!(bad.tokens.len(), 1);
    }

    #[test]
    fn prices_parse_from_numbers_and_strings_without_floats() {
        let status =
            parse(&market(false, true, r#"[{"token_id":"1","outcome":"Yes","price":0.30000000000000004,"winner":false},{"token_id":"2","outcome":"No","price":"0.7","winner":false}]"#))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status.tokens[0].price, Some(dec!(0.30000000000000004)));
        assert_eq!(status.tokens[1].price, Some(dec!(0.7)));
        assert_eq!(status.winner(), None);
        assert!(!status.closed && status.accepting_orders);
    }

    #[test]
    fn a_closed_market_without_a_winner_has_none() {
        let status = parse(&market(true, false, r#"[{"token_id":"1","winner":false},{"token_id":"2"}]"#))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.closed);
        assert_eq!(status.winner(), None, "an absent flag is not a win");
        assert_eq!(status.tokens[1].price, None);
    }

    #[test]
    fn missing_and_wrong_fields_are_named_with_their_value() {
        let no_closed = format!(r#"{{"condition_id":"{CONDITION}","accepting_orders":true,"tokens":[]}}"#);
        assert_eq!(parse(&no_closed).unwrap_err().to_string(), format!("market {CONDITION}: closed is missing"));
        let err = parse(&market(true, false, r#"[{"token_id":"1","price":"abc"}]"#)).unwrap_err();
        assert_eq!(err.to_string(), format!("market {CONDITION}: tokens[0].price = \"abc\": must be a decimal number"));
        let err = parse(&market(true, false, r#"[{"token_id":"1","price":"1.5"}]"#)).unwrap_err();
        assert_eq!(err.to_string(), format!("market {CONDITION}: tokens[0].price = 1.5: must be between 0 and 1"));
        let err = parse(&market(true, false, r#"[{"outcome":"Yes"}]"#)).unwrap_err();
        assert_eq!(err.to_string(), format!("market {CONDITION}: tokens[0].token_id is missing"));
        let err = parse(&market(true, false, r#"[{"token_id":"1","winner":"yes"}]"#)).unwrap_err();
        assert_eq!(err.to_string(), format!("market {CONDITION}: tokens[0].winner = \"yes\": must be true or false"));
        let err = parse(&market(true, false, r#"[{"token_id":"1","winner":true},{"token_id":"2","winner":true}]"#))
            .unwrap_err();
        assert!(err.to_string().ends_with("tokens = 2 winners: at most one outcome may win"), "{err}");
        let err = parse(&market(true, false, "[]")).unwrap_err();
        assert!(err.to_string().contains("tokens = 0 outcomes"), "{err}");
        let err = parse(&market(true, false, "{}")).unwrap_err();
        assert!(err.to_string().contains("tokens = {}: must be an array of objects"), "{err}");
        let closed_text = format!(
            r#"{{"condition_id":"{CONDITION}","closed":"true","accepting_orders":true,"tokens":[{{"token_id":"1"}}]}}"#
        );
        assert!(parse(&closed_text).unwrap_err().to_string().contains("closed = \"true\": must be true or false"));
    }

    #[test]
    fn another_market_s_answer_and_garbage_are_refused() {
        let other = market(true, false, r#"[{"token_id":"1"}]"#).replace(CONDITION, "0xabc");
        let err = parse(&other).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("market {CONDITION}: condition_id = 0xabc: must be the condition id asked for")
        );
        assert!(matches!(parse("[1,2]"), Err(MarketStatusError::Parse(_))));
        assert!(matches!(parse(r#"{"error":"market not found"}"#), Err(MarketStatusError::Missing { .. })));
        let long = "9".repeat(500);
        let err = parse(&market(true, false, &format!(r#"[{{"token_id":"1","price":"{long}"}}]"#))).unwrap_err();
        assert!(err.to_string().len() < 300, "a long value is cut: {err}");
    }
}
