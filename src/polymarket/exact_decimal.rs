//! Exact decimals from JSON, whatever form the venue chose: a number with float noise
//! (`0.7671607282693813`, `2538.2661200000002`), an exponent (`9e-6`) or a decimal string (`"0.43"`).
//!
//! Why not `Decimal`'s own `Deserialize`: without serde_json's `arbitrary_precision` (which changes
//! number handling for the whole dependency graph, see dependencies.md) a JSON number reaches a
//! visitor as an `f64`, and the decimal is rebuilt from the f64's shortest text. That is usually the
//! same digits, but not a guarantee we want under a dedupe key. Instead the field is captured as a
//! [`serde_json::value::RawValue`] — the exact bytes of the number in the payload — and those bytes
//! are parsed as a decimal. Nothing passes through a float.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Parses the JSON text of a number or a string holding a number into a `Decimal`, exactly.
pub fn decimal_from_json_text(raw: &str) -> Result<Decimal, String> {
    let text = raw.trim();
    let unquoted = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text).trim();
    if unquoted.is_empty() {
        return Err(format!("{text} is not a number"));
    }
    if unquoted.contains(['e', 'E']) {
        Decimal::from_scientific(unquoted).map_err(|e| format!("{text} is not a decimal number ({e})"))
    } else {
        unquoted.parse::<Decimal>().map_err(|e| format!("{text} is not a decimal number ({e})"))
    }
}

/// `#[serde(deserialize_with = "exact_decimal::required")]`
pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let raw = <&RawValue>::deserialize(deserializer)?;
    decimal_from_json_text(raw.get()).map_err(serde::de::Error::custom)
}

/// `#[serde(default, deserialize_with = "exact_decimal::optional")]`: `null` or absent is `None`
/// (the v2 API: "missing/null numeric = unknown, never zero").
pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
    let raw = <&RawValue>::deserialize(deserializer)?;
    if raw.get().trim() == "null" {
        return Ok(None);
    }
    decimal_from_json_text(raw.get()).map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[derive(Deserialize)]
    struct Row {
        #[serde(deserialize_with = "required")]
        x: Decimal,
        #[serde(default, deserialize_with = "optional")]
        y: Option<Decimal>,
    }

    fn x(json: &str) -> Result<Decimal, serde_json::Error> {
        serde_json::from_str::<Row>(json).map(|r| r.x)
    }

    #[test]
    fn float_noise_is_kept_digit_for_digit() {
        assert_eq!(x(r#"{"x": 0.7671607282693813}"#).unwrap().to_string(), "0.7671607282693813");
        assert_eq!(x(r#"{"x": 2538.2661200000002}"#).unwrap().to_string(), "2538.2661200000002");
        assert_eq!(x(r#"{"x": 0.30000000000000004}"#).unwrap(), dec!(0.30000000000000004));
    }

    #[test]
    fn strings_integers_and_exponents_parse() {
        assert_eq!(x(r#"{"x": "0.430"}"#).unwrap(), dec!(0.43));
        assert_eq!(x(r#"{"x": 100}"#).unwrap(), dec!(100));
        assert_eq!(x(r#"{"x": 9e-6}"#).unwrap(), dec!(0.000009));
        assert_eq!(x(r#"{"x": 1.5E2}"#).unwrap(), dec!(150));
    }

    #[test]
    fn null_and_absent_are_unknown_but_garbage_is_an_error() {
        assert_eq!(serde_json::from_str::<Row>(r#"{"x": 1, "y": null}"#).unwrap().y, None);
        assert_eq!(serde_json::from_str::<Row>(r#"{"x": 1}"#).unwrap().y, None);
        assert_eq!(serde_json::from_str::<Row>(r#"{"x": 1, "y": "0.5"}"#).unwrap().y, Some(dec!(0.5)));
        assert!(x(r#"{"x": "abc"}"#).is_err());
        assert!(x(r#"{"x": ""}"#).is_err());
        assert!(x(r#"{"x": true}"#).is_err());
        assert!(x(r#"{"x": null}"#).is_err());
    }
}
