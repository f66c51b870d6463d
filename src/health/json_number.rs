//! Decimal figures written as JSON numbers.
//!
//! The report keeps every percentage as a `Decimal` (exact threshold comparisons), but dashboards and
//! `jq` expect `"cpu_percent": 45.2`, not the string `"45.20"` that `rust_decimal` writes by default.
//! The figures are already rounded to two or three decimals, so the `f64` shortest text is exact
//! enough, and `Decimal`'s own `Deserialize` reads such a number back unchanged.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serializer;
use serde::ser::SerializeMap;

fn as_f64(value: &Decimal) -> f64 {
    value.to_f64().unwrap_or(f64::NAN)
}

pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(as_f64(value))
}

pub fn serialize_option<S: Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serializer.serialize_f64(as_f64(v)),
        None => serializer.serialize_none(),
    }
}

pub fn serialize_map<S: Serializer>(map: &BTreeMap<String, Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut out = serializer.serialize_map(Some(map.len()))?;
    for (key, value) in map {
        out.serialize_entry(key, &as_f64(value))?;
    }
    out.end()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Figures {
        #[serde(serialize_with = "serialize")]
        percent: Decimal,
        #[serde(serialize_with = "serialize_option")]
        maybe: Option<Decimal>,
        #[serde(serialize_with = "serialize_map")]
        map: BTreeMap<String, Decimal>,
    }

    #[test]
    fn decimals_round_trip_through_json_numbers() {
        let figures =
            Figures { percent: dec!(45.20), maybe: None, map: BTreeMap::from([("lag_secs".to_string(), dec!(1.5))]) };
        let json = serde_json::to_string(&figures).unwrap_or_default();
        assert_eq!(json, r#"{"percent":45.2,"maybe":null,"map":{"lag_secs":1.5}}"#);
        let back: Figures = serde_json::from_str(&json).unwrap_or(Figures {
            percent: Decimal::ZERO,
            maybe: Some(Decimal::ONE),
            map: BTreeMap::new(),
        });
        assert_eq!(back, figures);
    }
}
