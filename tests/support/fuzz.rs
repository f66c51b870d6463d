//! The shared harness of the fuzz targets (`tests/fuzz_*.rs`): how many cases a run tries, and
//! generators of hostile input, from raw bytes to structure-aware JSON that is almost right.
//!
//! Each target is a proptest over a parser of outside input. CI runs a bounded number of cases
//! per target; `WHALE_TRADER_FUZZ_CASES=1000000 cargo test --release --test fuzz_<area>` runs a
//! long campaign locally. A parser passes when it returns (a value or a typed error) for every
//! input, without a panic, a hang or an allocation out of proportion to its input.

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per target when `WHALE_TRADER_FUZZ_CASES` is not set: enough to reach the parsers'
/// error paths in a debug build, few enough that every target together stays within a few
/// minutes of CI.
pub const CI_CASES: u32 = 4_000;

/// The proptest configuration of a fuzz target: the case count from `WHALE_TRADER_FUZZ_CASES`
/// (or [`CI_CASES`]), no shrinking time limit beyond proptest's own, no persisted failures file
/// (a failure prints its minimal input, which then becomes a unit test beside the parser).
pub fn config() -> Config {
    let cases = std::env::var("WHALE_TRADER_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CI_CASES);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Arbitrary bytes up to `max` long.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

/// Strings that numbers in venue JSON are made of, and the ways they go wrong.
pub fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-0".to_string()),
        Just("1e400".to_string()),
        Just("79228162514264337593543950336".to_string()),
        Just("0.0000000000000000000000000001".to_string()),
        Just(" 0.5".to_string()),
        "-?[0-9]{0,30}(\\.[0-9]{0,30})?(e-?[0-9]{1,4})?",
        any::<f64>().prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
    ]
}

/// Any JSON value, nested a few levels, with keys and strings drawn from `words` so that
/// objects often carry the fields a parser looks for, with the wrong types or values.
pub fn json_value(words: &'static [&'static str]) -> impl Strategy<Value = serde_json::Value> {
    let word = proptest::sample::select(words).prop_map(str::to_string);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)),
        number_text().prop_map(serde_json::Value::String),
        word.clone().prop_map(serde_json::Value::String),
        ".{0,40}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
            proptest::collection::vec((word.clone(), inner), 0..10)
                .prop_map(|fields| serde_json::Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// A valid `template` object with one field removed, retyped or replaced by a hostile value:
/// the near misses that reach a parser's validation rather than its JSON syntax check.
pub fn mutated_object(
    template: serde_json::Value,
    words: &'static [&'static str],
) -> impl Strategy<Value = serde_json::Value> {
    let keys: Vec<String> = template.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let keys = if keys.is_empty() { vec![String::new()] } else { keys };
    (proptest::sample::select(keys), proptest::option::of(json_value(words))).prop_map(move |(key, replacement)| {
        let mut value = template.clone();
        if let Some(object) = value.as_object_mut() {
            match replacement {
                Some(v) => {
                    object.insert(key, v);
                }
                None => {
                    object.remove(&key);
                }
            }
        }
        value
    })
}
