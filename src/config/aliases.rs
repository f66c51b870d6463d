//! The trade-signal seed's environment names, accepted as aliases of the settings they mean. A
//! `WHALE_TRADER__…` variable for the same setting wins over its alias. The seed writes the risk
//! limits as fractions (`MAX_RISK_PER_TRADE=0.01`); the settings are percent (`1`), so those three
//! are converted.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::ConfigIssue;
use super::load::ENV_PREFIX;

/// How an alias's value becomes the setting's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    AsIs,
    /// A fraction in (0, 1], written as percent.
    FractionToPercent,
}

/// Every alias: its name, the setting's key path (`SECTION__KEY`), the conversion.
const ALIASES: [(&str, &str, Conversion); 14] = [
    ("DEFAULT_ACCOUNT_BALANCE", "RISK__STARTING_BALANCE_USD", Conversion::AsIs),
    ("MAX_RISK_PER_TRADE", "SIGNALS__RISK_PERCENT", Conversion::FractionToPercent),
    ("MAX_TOTAL_EXPOSURE", "SIGNALS__MAX_TOTAL_EXPOSURE_PERCENT", Conversion::FractionToPercent),
    ("MAX_PER_ASSET_EXPOSURE", "SIGNALS__MAX_PER_ASSET_EXPOSURE_PERCENT", Conversion::FractionToPercent),
    ("TELEGRAM_BOT_TOKEN", "ALERTS__TELEGRAM__BOT_TOKEN", Conversion::AsIs),
    ("TELEGRAM_CHAT_ID", "ALERTS__TELEGRAM__CHAT_ID", Conversion::AsIs),
    ("LOG_LEVEL", "LOGGING__LEVEL", Conversion::AsIs),
    ("ANALYTICS_ENABLED", "TELEMETRY__ENABLED", Conversion::AsIs),
    ("BINANCE_API_KEY", "VENUES__BINANCE__API_KEY", Conversion::AsIs),
    ("BINANCE_API_SECRET", "VENUES__BINANCE__API_SECRET", Conversion::AsIs),
    ("BINANCE_TESTNET", "VENUES__BINANCE__TESTNET", Conversion::AsIs),
    ("BYBIT_API_KEY", "VENUES__BYBIT__API_KEY", Conversion::AsIs),
    ("BYBIT_API_SECRET", "VENUES__BYBIT__API_SECRET", Conversion::AsIs),
    ("BYBIT_TESTNET", "VENUES__BYBIT__TESTNET", Conversion::AsIs),
];

/// The `WHALE_TRADER__…` variables the aliases set (name, value), for the ones whose own variable
/// is not set, and a problem for every alias value that cannot be converted. `lookup` reads the
/// environment (a parameter, so that tests need not change the process's environment).
pub(super) fn alias_variables(lookup: impl Fn(&str) -> Option<String>) -> (Vec<(String, String)>, Vec<ConfigIssue>) {
    let mut set = Vec::new();
    let mut issues = Vec::new();
    for (alias, key, conversion) in ALIASES {
        let Some(value) = lookup(alias) else { continue };
        let target = format!("{ENV_PREFIX}__{key}");
        if lookup(&target).is_some() {
            continue;
        }
        match convert(value.trim(), conversion) {
            Ok(value) => set.push((target, value)),
            Err(rule) => issues.push(ConfigIssue { key: alias.to_owned(), value, rule }),
        }
    }
    (set, issues)
}

fn convert(value: &str, conversion: Conversion) -> Result<String, String> {
    match conversion {
        Conversion::AsIs => Ok(value.to_owned()),
        Conversion::FractionToPercent => match Decimal::from_str(value) {
            Ok(fraction) if fraction > Decimal::ZERO && fraction <= Decimal::ONE => {
                Ok((fraction * Decimal::ONE_HUNDRED).normalize().to_string())
            }
            _ => Err("must be a fraction above 0 and at most 1 (0.01 = 1 %)".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn run(vars: &[(&str, &str)]) -> (Vec<(String, String)>, Vec<ConfigIssue>) {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        alias_variables(|name| vars.get(name).cloned())
    }

    #[test]
    fn seed_names_set_their_settings_with_fractions_as_percent() {
        let (set, issues) = run(&[
            ("DEFAULT_ACCOUNT_BALANCE", "10000.0"),
            ("MAX_RISK_PER_TRADE", "0.01"),
            ("MAX_TOTAL_EXPOSURE", "0.10"),
            ("MAX_PER_ASSET_EXPOSURE", "0.05"),
            ("TELEGRAM_CHAT_ID", "42"),
            ("LOG_LEVEL", "INFO"),
            ("ANALYTICS_ENABLED", "true"),
        ]);
        assert!(issues.is_empty(), "{issues:?}");
        let set: HashMap<_, _> = set.into_iter().collect();
        assert_eq!(set["WHALE_TRADER__RISK__STARTING_BALANCE_USD"], "10000.0");
        assert_eq!(set["WHALE_TRADER__SIGNALS__RISK_PERCENT"], "1");
        assert_eq!(set["WHALE_TRADER__SIGNALS__MAX_TOTAL_EXPOSURE_PERCENT"], "10");
        assert_eq!(set["WHALE_TRADER__SIGNALS__MAX_PER_ASSET_EXPOSURE_PERCENT"], "5");
        assert_eq!(set["WHALE_TRADER__ALERTS__TELEGRAM__CHAT_ID"], "42");
        assert_eq!(set["WHALE_TRADER__LOGGING__LEVEL"], "INFO");
        assert_eq!(set["WHALE_TRADER__TELEMETRY__ENABLED"], "true");
    }

    #[test]
    fn the_own_variable_wins_and_a_bad_fraction_is_named() {
        let (set, issues) = run(&[
            ("MAX_RISK_PER_TRADE", "1.5"),
            ("DEFAULT_ACCOUNT_BALANCE", "5"),
            ("WHALE_TRADER__RISK__STARTING_BALANCE_USD", "7"),
        ]);
        assert!(set.is_empty(), "{set:?}");
        assert_eq!(issues.len(), 1);
        assert_eq!((issues[0].key.as_str(), issues[0].value.as_str()), ("MAX_RISK_PER_TRADE", "1.5"));
        assert!(issues[0].rule.contains("fraction"), "{}", issues[0].rule);
    }
}
