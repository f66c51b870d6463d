//! Configuration: typed sections, loaded from TOML, `.env` and `WHALE_TRADER__SECTION__KEY`
//! environment overrides, then validated as a whole so that every problem is reported at once.
//!
//! Each subsystem owns the struct of its own section (`risk::RiskConfig`, `alerts::AlertsConfig`,
//! …) and its validation rules; this module composes them and owns the daemon-wide sections.

mod aliases;
mod issues;
mod load;
mod secret;
mod sections;

pub use issues::{ConfigIssue, Issues, join};
pub use load::{ConfigError, ENV_PREFIX, LoadOptions, load};
pub use secret::{REDACTED, Secret};
pub use sections::{
    ApiConfig, ConsoleFormat, CopyConfig, CopySizing, DaemonConfig, ExitMode, FeedConfig, FeedSource, HealthConfig,
    LogFileConfig, LoggingConfig, Mode, WhaleConfig, is_wallet_address,
};

use serde::{Deserialize, Serialize};

use crate::alerts::AlertsConfig;
use crate::plans::SignalsConfig;
use crate::polymarket::PolymarketConfig;
use crate::risk::RiskConfig;
use crate::session::RecordConfig;
use crate::store::StoreConfig;
use crate::telemetry::TelemetryConfig;

/// The whole configuration of one daemon.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub logging: LoggingConfig,
    pub feed: FeedConfig,
    pub copy: CopyConfig,
    pub risk: RiskConfig,
    pub polymarket: PolymarketConfig,
    pub store: StoreConfig,
    pub alerts: AlertsConfig,
    pub health: HealthConfig,
    pub api: ApiConfig,
    pub record: RecordConfig,
    pub signals: SignalsConfig,
    pub telemetry: TelemetryConfig,
    pub venues: crate::venues::VenuesConfig,
}

impl Config {
    /// Every rule of every section; an empty result means the config may be used.
    pub fn validate(&self) -> Vec<ConfigIssue> {
        let mut issues = Issues::new();
        self.daemon.validate("daemon", &mut issues);
        self.logging.validate("logging", &mut issues);
        self.feed.validate("feed", &mut issues);
        self.copy.validate("copy", &mut issues);
        self.risk.validate("risk", &mut issues);
        self.polymarket.validate("polymarket", &mut issues);
        self.store.validate("store", &mut issues);
        self.alerts.validate("alerts", &mut issues);
        self.health.validate("health", &mut issues);
        self.api.validate("api", &mut issues);
        self.record.validate("record", &mut issues);
        self.signals.validate("signals", &mut issues);
        self.telemetry.validate("telemetry", &mut issues);
        self.venues.validate("venues", &mut issues);
        issues.into_vec()
    }

    /// The effective configuration as TOML, with every secret shown as `***`.
    pub fn to_redacted_toml(&self) -> String {
        // Secrets serialize as `***`, so plain serialization is already redacted.
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# could not render the config: {e}\n"))
    }
}
