//! `[signals]`: whether trade plans are taken, how they are sized and limited, where the inbox
//! is and when the batch summary goes out. Percentages are Decimal percent (`1` = 1 %).

use std::path::PathBuf;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::config::{Issues, join};
use crate::venues::VenueKind;

use super::plan::MAX_PLAN_BYTES;

/// Where approved plans' orders go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanVenue {
    /// Nowhere: plans are decided, staged and logged (a dry run of the signal path).
    #[default]
    None,
    Binance,
    Bybit,
}

impl PlanVenue {
    pub fn kind(self) -> Option<VenueKind> {
        match self {
            PlanVenue::None => None,
            PlanVenue::Binance => Some(VenueKind::Binance),
            PlanVenue::Bybit => Some(VenueKind::Bybit),
        }
    }
}

/// Every key of `[signals]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsConfig {
    /// Take trade plans at all (`POST /signals` and the inbox).
    pub enabled: bool,
    /// The venue approved plans trade on (`none`, `binance`, `bybit`; its settings are
    /// `[venues.<name>]`): its testnet in `paper` mode, production in `live`, nothing in `dry-run`.
    pub venue: PlanVenue,
    /// Risk per plan in percent of equity, unless the plan asks for less (`MAX_RISK_PER_TRADE`,
    /// given there as a fraction: `0.01` = 1 %).
    pub risk_percent: Decimal,
    /// The most a plan may ask to risk, in percent of equity.
    pub max_risk_percent: Decimal,
    /// Smallest position notional; a smaller size is refused, never raised.
    pub min_position_usd: Decimal,
    /// Largest position notional; a bigger size is cut down to it.
    pub max_position_usd: Decimal,
    /// Open risk (loss at the stops) in one base asset, in percent of equity
    /// (`MAX_PER_ASSET_EXPOSURE`, a fraction there).
    pub max_per_asset_exposure_percent: Decimal,
    /// Open risk of every plan together, in percent of equity (`MAX_TOTAL_EXPOSURE`, a fraction there).
    pub max_total_exposure_percent: Decimal,
    /// The same symbol and direction again within this many minutes is a double fire (0 = off).
    pub double_fire_window_minutes: u32,
    /// How many plan ids are remembered to refuse a duplicate.
    pub duplicate_memory: u32,
    /// The largest plan accepted, in bytes (API body or inbox file).
    pub max_plan_bytes: usize,
    /// A directory watched for plan files (`*.json`); each ends in `done/` or `rejected/` (with a
    /// `.reason.txt` beside it). Empty: no inbox.
    pub inbox_dir: PathBuf,
    /// How often the inbox is looked at, in milliseconds.
    pub inbox_poll_ms: u64,
    pub summary: SummaryConfig,
}

/// `[signals.summary]`: the batch summary of the plans received since the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SummaryConfig {
    /// Minutes between scheduled summaries (0 = only on demand: CLI `signals summary`, `POST /signals/summary`).
    pub every_minutes: u32,
    /// How many plans, ranked by score, the summary lists.
    pub top_n: usize,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        Self { every_minutes: 60, top_n: 5 }
    }
}

impl Default for SignalsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            venue: PlanVenue::None,
            risk_percent: dec!(1),
            max_risk_percent: dec!(2),
            min_position_usd: dec!(10),
            max_position_usd: dec!(5000),
            max_per_asset_exposure_percent: dec!(5),
            max_total_exposure_percent: dec!(10),
            double_fire_window_minutes: 15,
            duplicate_memory: 10_000,
            max_plan_bytes: 16 * 1024,
            inbox_dir: PathBuf::from("data/signals/inbox"),
            inbox_poll_ms: 1_000,
            summary: SummaryConfig::default(),
        }
    }
}

impl SignalsConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        let hundred = Decimal::ONE_HUNDRED;
        let percent = |issues: &mut Issues, key: &str, value: Decimal| {
            issues.check(
                value <= Decimal::ZERO || value > hundred,
                join(prefix, key),
                value,
                "must be above 0 and at most 100",
            );
        };
        percent(issues, "risk_percent", self.risk_percent);
        percent(issues, "max_risk_percent", self.max_risk_percent);
        percent(issues, "max_per_asset_exposure_percent", self.max_per_asset_exposure_percent);
        percent(issues, "max_total_exposure_percent", self.max_total_exposure_percent);
        issues.check(
            self.risk_percent > self.max_risk_percent,
            join(prefix, "risk_percent"),
            self.risk_percent,
            "must not exceed signals.max_risk_percent",
        );
        issues.check(
            self.max_per_asset_exposure_percent > self.max_total_exposure_percent,
            join(prefix, "max_per_asset_exposure_percent"),
            self.max_per_asset_exposure_percent,
            "must not exceed signals.max_total_exposure_percent",
        );
        issues.check(
            self.min_position_usd < Decimal::ZERO,
            join(prefix, "min_position_usd"),
            self.min_position_usd,
            "must not be negative",
        );
        issues.check(
            self.max_position_usd <= self.min_position_usd,
            join(prefix, "max_position_usd"),
            self.max_position_usd,
            "must be greater than signals.min_position_usd",
        );
        issues.check(
            self.double_fire_window_minutes > 24 * 60,
            join(prefix, "double_fire_window_minutes"),
            self.double_fire_window_minutes,
            "must be at most 1440 (a day)",
        );
        issues.check(
            self.duplicate_memory == 0 || self.duplicate_memory > 1_000_000,
            join(prefix, "duplicate_memory"),
            self.duplicate_memory,
            "must be between 1 and 1000000",
        );
        issues.check(
            self.max_plan_bytes < 512 || self.max_plan_bytes > MAX_PLAN_BYTES,
            join(prefix, "max_plan_bytes"),
            self.max_plan_bytes,
            "must be between 512 and 65536",
        );
        issues.check(
            !(50..=60_000).contains(&self.inbox_poll_ms),
            join(prefix, "inbox_poll_ms"),
            self.inbox_poll_ms,
            "must be between 50 and 60000",
        );
        issues.check(
            self.summary.top_n == 0 || self.summary.top_n > 100,
            join(prefix, "summary.top_n"),
            self.summary.top_n,
            "must be between 1 and 100",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_each_rule_names_its_key() {
        let mut issues = Issues::new();
        SignalsConfig::default().validate("signals", &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.as_slice());
        let bad = SignalsConfig {
            risk_percent: dec!(3),
            max_per_asset_exposure_percent: dec!(20),
            max_position_usd: dec!(5),
            inbox_poll_ms: 1,
            ..SignalsConfig::default()
        };
        let mut issues = Issues::new();
        bad.validate("signals", &mut issues);
        let keys: Vec<&str> = issues.as_slice().iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "signals.risk_percent",
                "signals.max_per_asset_exposure_percent",
                "signals.max_position_usd",
                "signals.inbox_poll_ms"
            ]
        );
    }
}
