//! Reading the venues' answers: both send JSON with numbers as strings, and both need the same
//! few readers (a field as text, a decimal, an integer), one error naming the field that is not
//! what the documentation says, and the small pieces of a request every venue builds the same way.

use std::str::FromStr;

use reqwest::header::HeaderMap;
use rust_decimal::Decimal;
use serde_json::Value;

/// An answer outside the documented shape: which field, and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct WireError {
    pub field: String,
    pub detail: String,
}

pub fn wire(field: impl Into<String>, detail: impl Into<String>) -> WireError {
    WireError { field: field.into(), detail: detail.into() }
}

pub fn text<'a>(object: &'a Value, field: &str) -> Result<&'a str, WireError> {
    object.get(field).and_then(Value::as_str).ok_or_else(|| wire(field, "missing or not a string"))
}

/// A decimal given as a string (as both venues send prices and sizes) or, in a few answers, a number.
pub fn decimal(object: &Value, field: &str) -> Result<Decimal, WireError> {
    match object.get(field) {
        Some(Value::String(s)) => {
            Decimal::from_str(s.trim()).map_err(|_| wire(field, format!("{s:?} is not a decimal")))
        }
        Some(Value::Number(n)) => {
            Decimal::from_str(&n.to_string()).map_err(|_| wire(field, format!("{n} is not a decimal")))
        }
        _ => Err(wire(field, "missing or not a string")),
    }
}

pub fn integer(object: &Value, field: &str) -> Result<i64, WireError> {
    object.get(field).and_then(Value::as_i64).ok_or_else(|| wire(field, "missing or not an integer"))
}

/// `url?query`, or `url` alone when there is no query.
pub fn with_query(url: String, query: &str) -> String {
    if query.is_empty() { url } else { format!("{url}?{query}") }
}

/// A header read as an integer (the venues' rate-limit counters and reset times).
pub fn header_i64(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `message` with every secret in `secrets` cut out (a venue may echo what it was sent).
pub fn cut_secrets(message: &str, secrets: &[&str]) -> String {
    let mut out = message.to_owned();
    for secret in secrets.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        out = out.replace(secret, "…");
    }
    out
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use serde_json::json;

    use super::*;

    #[test]
    fn readers_name_the_field_that_is_wrong() {
        let answer = json!({"price": " 42200.5 ", "qty": 3, "bad": "x", "n": 7});
        assert_eq!(decimal(&answer, "price"), Ok(dec!(42200.5)));
        assert_eq!(decimal(&answer, "qty"), Ok(dec!(3)));
        assert_eq!(decimal(&answer, "bad").map_err(|e| e.to_string()), Err("bad: \"x\" is not a decimal".into()));
        assert_eq!(integer(&answer, "n"), Ok(7));
        assert!(text(&answer, "missing").is_err());
        assert_eq!(with_query("u".into(), ""), "u");
        assert_eq!(cut_secrets("key K1 secret S1", &["K1", "S1", ""]), "key … secret …");
    }
}
