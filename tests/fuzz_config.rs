//! Fuzz target: the config loader (`config::load`) with arbitrary TOML text, the real
//! `config/default.toml` with one value replaced by a hostile one, and hostile environment
//! overrides. It must return a config or a typed error: never panic, every problem names its key,
//! and no problem ever quotes a value that came from the environment.

mod support;

use std::sync::Mutex;

use proptest::prelude::*;
use whale_trader::config::{ConfigError, LoadOptions, load};

/// `load` reads the process environment: the cases that set `WHALE_TRADER__*` variables and
/// every other load in this file take turns.
static ENVIRONMENT: Mutex<()> = Mutex::new(());

/// Loading reads files: fewer cases than the harness default keep this target within seconds.
fn config() -> proptest::test_runner::Config {
    let mut config = support::fuzz::config();
    if std::env::var_os("WHALE_TRADER_FUZZ_CASES").is_none() {
        config.cases = 400;
    }
    config
}

fn default_toml() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        std::fs::read_to_string(support::repo_path("config/default.toml")).expect("config/default.toml")
    })
}

/// Loads `text` as the config file, with `env` set for the duration.
fn load_text(text: &str, env: &[(String, String)]) -> Result<(), ConfigError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write config");
    let _turn = ENVIRONMENT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for (key, value) in env {
        // SAFETY: every load in this test binary holds ENVIRONMENT, and nothing else in it reads
        // the environment while a case runs.
        unsafe { std::env::set_var(key, value) };
    }
    let result = load(&LoadOptions { config_path: path, env_file: None }).map(|_| ());
    for (key, _) in env {
        // SAFETY: as above.
        unsafe { std::env::remove_var(key) };
    }
    result
}

fn check_names_fields(result: &Result<(), ConfigError>) -> Result<(), TestCaseError> {
    if let Err(ConfigError::Invalid(issues)) = result {
        prop_assert!(!issues.is_empty());
        for issue in issues {
            prop_assert!(!issue.key.is_empty(), "a problem names no key: {issue}");
            prop_assert!(!issue.rule.is_empty(), "a problem gives no rule: {issue}");
        }
    }
    Ok(())
}

/// Values that go wrong in TOML: non-finite and huge numbers, wrong types, odd strings.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_string()),
        Just("+nan".to_string()),
        Just("-inf".to_string()),
        Just("inf".to_string()),
        Just("1e400".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("79228162514264337593543950336.5".to_string()),
        Just("0.00000000000000000000000000001".to_string()),
        Just("true".to_string()),
        Just("\"\"".to_string()),
        Just("\"\\u0000\\u001b[2J\"".to_string()),
        Just("[]".to_string()),
        Just("[1, \"a\", [2]]".to_string()),
        Just("{}".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("07:32:00".to_string()),
        "-?[0-9]{1,40}(\\.[0-9]{0,40})?(e-?[0-9]{1,4})?",
        "\"[^\"\\\\]{0,40}\"",
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<i64>().prop_map(|i| i.to_string()),
    ]
}

/// The default file with the value on its `line`-th `key = value` line replaced.
fn replace_value(text: &str, line: prop::sample::Index, value: &str) -> String {
    let assignments: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            !l.starts_with('#') && !l.starts_with('[') && l.contains(" = ")
        })
        .map(|(i, _)| i)
        .collect();
    let target = assignments[line.index(assignments.len())];
    text.lines()
        .enumerate()
        .map(|(i, l)| match l.split_once(" = ") {
            Some((key, _)) if i == target => format!("{key} = {value}"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Environment overrides worth aiming at: numbers, enums, free text, URLs, lists, tables, secrets.
const ENV_KEYS: &[&str] = &[
    "WHALE_TRADER__API__PORT",
    "WHALE_TRADER__API__BIND",
    "WHALE_TRADER__API__TOKEN",
    "WHALE_TRADER__DAEMON__MODE",
    "WHALE_TRADER__DAEMON__SHUTDOWN_GRACE_SECS",
    "WHALE_TRADER__LOGGING__LEVEL",
    "WHALE_TRADER__RISK__DRAWDOWN__MAX_DRAWDOWN_PERCENT",
    "WHALE_TRADER__COPY__WHALES",
    "WHALE_TRADER__COPY__FIXED_USD",
    "WHALE_TRADER__ALERTS__SLACK__WEBHOOK_URL",
    "WHALE_TRADER__ALERTS__WEBHOOK__URL",
    "WHALE_TRADER__ALERTS__HEARTBEAT__URL",
    "WHALE_TRADER__ALERTS__EMAIL__TO",
    "WHALE_TRADER__POLYMARKET__DATA_API_URL",
    "WHALE_TRADER__POLYMARKET__CREDENTIALS__PRIVATE_KEY",
    "WHALE_TRADER__POLYMARKET__CREDENTIALS__SIGNATURE_TYPE",
    "WHALE_TRADER__HEALTH",
    "WHALE_TRADER__API__TOKN",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_toml_text_never_panics(text in prop_oneof![
        ".{0,200}",
        "(\\[[a-z_.]{0,20}\\]\n)?([a-z_\"\\[\\].]{1,20} = [-+0-9a-z_.\"\\[\\]{}, ]{0,20}\n){0,6}",
    ]) {
        let result = load_text(&text, &[]);
        check_names_fields(&result)?;
    }

    #[test]
    fn the_default_file_with_one_hostile_value_is_reported_by_key(
        line in any::<prop::sample::Index>(),
        value in hostile_value(),
    ) {
        let text = replace_value(default_toml(), line, &value);
        let result = load_text(&text, &[]);
        check_names_fields(&result)?;
    }

    #[test]
    fn hostile_environment_values_are_never_echoed(
        overrides in proptest::collection::vec(
            (proptest::sample::select(ENV_KEYS), prop_oneof![
                Just(""), Just("0x"), Just("nan"), Just("-1"), Just("["), Just("{"), Just("https://"),
                Just("info,"), Just("="), Just("\"")
            ], "[a-z0-9]{6}"),
            1..4,
        ),
    ) {
        // Each value carries a marker no message could contain by chance.
        let env: Vec<(String, String)> = overrides
            .iter()
            .enumerate()
            .map(|(i, (key, prefix, tail))| (key.to_string(), format!("{prefix}zqx{i}{tail}")))
            .collect();
        let result = load_text(default_toml(), &env);
        check_names_fields(&result)?;
        if let Err(e) = &result {
            let message = e.to_string();
            for (key, value) in &env {
                let marker = &value[value.find("zqx").unwrap_or(0)..];
                prop_assert!(!message.contains(marker), "{key}'s value is echoed: {message}");
            }
        }
    }
}
