//! `config/default.toml` is the configuration reference: it lists every setting that exists, each
//! with its built-in default (only the followed whales are filled in, for the sample session), and
//! loads through the daemon's own loader without a single problem.

use std::collections::BTreeSet;

use whale_trader::config::{Config, LoadOptions, load};

fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Every key path of a TOML table; array elements are described by their first element.
fn key_paths(value: &toml::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, child) in table {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                key_paths(child, &path, out);
            }
        }
        toml::Value::Array(items) if items.first().is_some_and(toml::Value::is_table) => {
            key_paths(&items[0], &format!("{prefix}[]"), out);
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn default_file() -> toml::Value {
    let text = std::fs::read_to_string(repo_path("config/default.toml")).expect("config/default.toml");
    toml::from_str(&text).expect("config/default.toml is TOML")
}

#[test]
fn the_default_file_loads_with_no_problem() {
    let options = LoadOptions { config_path: repo_path("config/default.toml"), env_file: None };
    let config = load(&options).unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.copy.whales.is_empty(), "the sample session's whales are configured");
}

#[test]
fn every_setting_is_listed_with_its_default() {
    let file = default_file();
    let mut from_file: Config = file.clone().try_into().expect("the file deserializes");
    // The whales are the one deliberate difference: the sample session's wallets.
    let whales = std::mem::take(&mut from_file.copy.whales);
    assert_eq!(from_file, Config::default(), "a value in config/default.toml differs from the built-in default");
    let mut defaults = Config::default();
    defaults.copy.whales = whales;

    let mut listed = BTreeSet::new();
    key_paths(&file, "", &mut listed);
    let mut known = BTreeSet::new();
    let rendered: toml::Value = toml::Value::try_from(&defaults).expect("defaults serialize");
    key_paths(&rendered, "", &mut known);
    // Optional settings (`label`, `max_usd_per_trade`, …) serialize only when set.
    let missing: Vec<&String> = known.difference(&listed).collect();
    assert!(missing.is_empty(), "settings missing from config/default.toml: {missing:?}");
}
