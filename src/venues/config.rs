//! `[venues.binance]` and `[venues.bybit]`: where each venue is (production and testnet), which of
//! its markets plans trade, the timings of following orders and prices, the bounds on answers, and
//! the API keys (from the environment only: `BINANCE_API_KEY`, `BINANCE_API_SECRET`,
//! `BINANCE_TESTNET` and the `BYBIT_…` equivalents, or `WHALE_TRADER__VENUES__…`).
//!
//! `paper` mode trades on the venue's testnet and `live` on production; `testnet` must agree with
//! the mode (the daemon refuses to start otherwise), so a key for one can never be used on the
//! other by a forgotten setting.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{Issues, Secret, join};

use super::VenueKind;

/// Which of a venue's markets plans trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueMarket {
    /// Binance spot, Bybit spot: longs only, no leverage.
    Spot,
    /// Binance USDⓈ-M futures, Bybit linear (USDT perpetuals): longs and shorts, leverage.
    Futures,
}

impl VenueMarket {
    pub fn as_str(self) -> &'static str {
        match self {
            VenueMarket::Spot => "spot",
            VenueMarket::Futures => "futures",
        }
    }
}

impl fmt::Display for VenueMarket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[venues]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VenuesConfig {
    pub binance: VenueConfig,
    pub bybit: VenueConfig,
}

impl VenuesConfig {
    pub fn get(&self, venue: VenueKind) -> &VenueConfig {
        match venue {
            VenueKind::Binance => &self.binance,
            VenueKind::Bybit => &self.bybit,
        }
    }

    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        self.binance.validate(&join(prefix, "binance"), issues);
        self.bybit.validate(&join(prefix, "bybit"), issues);
    }
}

/// One venue's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VenueConfig {
    pub market: VenueMarket,
    /// Trade on the venue's testnet (`paper` mode needs `true`, `live` needs `false`).
    pub testnet: bool,
    /// Production REST base URL; empty = the venue's own for `market` (see [`VenueConfig::base_url`]).
    pub rest_url: String,
    /// Testnet REST base URL; empty = the venue's own testnet for `market`.
    pub testnet_rest_url: String,
    /// How long after its timestamp a signed request is still valid at the venue, in milliseconds.
    pub recv_window_ms: u64,
    /// Per-request timeout, in milliseconds.
    pub timeout_ms: u64,
    /// The largest answer read, in bytes.
    pub max_response_bytes: usize,
    /// How often a working order's status is read, in milliseconds.
    pub order_poll_ms: u64,
    /// How often the book ticker of a symbol with an open plan is read, in milliseconds.
    pub quote_poll_ms: u64,
    /// A quote older than this is stale: stops do not act on it, in milliseconds.
    pub max_quote_age_ms: u64,
    /// A quote whose spread is wider than this percent of its mid is refused as corrupt.
    pub max_spread_percent: rust_decimal::Decimal,
    /// An entry still working after this long is cancelled; what filled stays, in seconds.
    pub entry_timeout_secs: u64,
    /// Hand the plan's stop-loss and first target to the venue with the entry, where the venue
    /// takes them with an order (Bybit spot and linear, Binance futures as closing stop orders);
    /// the engine's own stops watch the position either way.
    pub venue_stops: bool,
    /// `BINANCE_API_KEY` / `BYBIT_API_KEY` (or `WHALE_TRADER__VENUES__<VENUE>__API_KEY`).
    pub api_key: Secret,
    /// `BINANCE_API_SECRET` / `BYBIT_API_SECRET`.
    pub api_secret: Secret,
}

impl Default for VenueConfig {
    fn default() -> Self {
        Self {
            market: VenueMarket::Futures,
            testnet: true,
            rest_url: String::new(),
            testnet_rest_url: String::new(),
            recv_window_ms: 5_000,
            timeout_ms: 10_000,
            max_response_bytes: 4 * 1024 * 1024,
            order_poll_ms: 1_000,
            quote_poll_ms: 1_000,
            max_quote_age_ms: 5_000,
            max_spread_percent: rust_decimal_macros::dec!(1),
            entry_timeout_secs: 300,
            venue_stops: true,
            api_key: Secret::default(),
            api_secret: Secret::default(),
        }
    }
}

impl VenueConfig {
    /// The names of the keys not set (for "refuse to start" messages).
    pub fn missing_credentials(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if !self.api_key.is_set() {
            missing.push("api_key");
        }
        if !self.api_secret.is_set() {
            missing.push("api_secret");
        }
        missing
    }

    /// The REST base URL to use: the configured one for production or testnet, or the venue's
    /// documented default for the market.
    pub fn base_url(&self, venue: VenueKind) -> &str {
        let configured = if self.testnet { &self.testnet_rest_url } else { &self.rest_url };
        if !configured.trim().is_empty() {
            return configured.trim();
        }
        match (venue, self.market, self.testnet) {
            (VenueKind::Binance, VenueMarket::Spot, false) => "https://api.binance.com",
            (VenueKind::Binance, VenueMarket::Spot, true) => "https://testnet.binance.vision",
            (VenueKind::Binance, VenueMarket::Futures, false) => "https://fapi.binance.com",
            (VenueKind::Binance, VenueMarket::Futures, true) => "https://testnet.binancefuture.com",
            (VenueKind::Bybit, _, false) => "https://api.bybit.com",
            (VenueKind::Bybit, _, true) => "https://api-testnet.bybit.com",
        }
    }

    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        for (key, url) in [("rest_url", &self.rest_url), ("testnet_rest_url", &self.testnet_rest_url)] {
            let url = url.trim();
            issues.check(
                !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")),
                join(prefix, key),
                url,
                "must be empty (the venue's own) or an http(s) URL",
            );
        }
        issues.check(
            !(1_000..=60_000).contains(&self.recv_window_ms),
            join(prefix, "recv_window_ms"),
            self.recv_window_ms,
            "must be between 1000 and 60000 (the venues' own limits)",
        );
        issues.check(
            !(100..=120_000).contains(&self.timeout_ms),
            join(prefix, "timeout_ms"),
            self.timeout_ms,
            "must be between 100 and 120000",
        );
        issues.check(
            !(4_096..=64 * 1024 * 1024).contains(&self.max_response_bytes),
            join(prefix, "max_response_bytes"),
            self.max_response_bytes,
            "must be between 4096 and 67108864",
        );
        for (key, value) in [
            ("order_poll_ms", self.order_poll_ms),
            ("quote_poll_ms", self.quote_poll_ms),
            ("max_quote_age_ms", self.max_quote_age_ms),
        ] {
            issues.check(!(50..=600_000).contains(&value), join(prefix, key), value, "must be between 50 and 600000");
        }
        issues.check(
            self.max_spread_percent <= rust_decimal::Decimal::ZERO
                || self.max_spread_percent > rust_decimal::Decimal::ONE_HUNDRED,
            join(prefix, "max_spread_percent"),
            self.max_spread_percent,
            "must be above 0 and at most 100",
        );
        issues.check(
            !(1..=7 * 24 * 3600).contains(&self.entry_timeout_secs),
            join(prefix, "entry_timeout_secs"),
            self.entry_timeout_secs,
            "must be between 1 and 604800 (a week)",
        );
    }
}

/// Why the plans' venue cannot be used in the daemon's mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueRefusal {
    #[error("signals.venue = \"{venue}\": {} not set ({})", .missing.join(", "), env_names(*.venue, .missing))]
    MissingKeys { venue: VenueKind, missing: Vec<&'static str> },
    #[error(
        "venues.{venue}.testnet = false in paper mode: paper trades on the venue's testnet \
         ({}_TESTNET=true)", .venue.as_str().to_uppercase()
    )]
    ProductionInPaper { venue: VenueKind },
    #[error(
        "venues.{venue}.testnet = true in live mode: live trading needs the production venue \
         ({}_TESTNET=false)", .venue.as_str().to_uppercase()
    )]
    TestnetInLive { venue: VenueKind },
}

fn env_names(venue: VenueKind, missing: &[&'static str]) -> String {
    let prefix = venue.as_str().to_uppercase();
    missing.iter().map(|key| format!("{prefix}_{}", key.to_uppercase())).collect::<Vec<_>>().join(", ")
}

impl VenueConfig {
    /// Every reason this venue cannot trade plans in `paper` (`live = false`) or `live` mode.
    pub fn refusals(&self, venue: VenueKind, live: bool) -> Vec<VenueRefusal> {
        let mut refusals = Vec::new();
        let missing = self.missing_credentials();
        if !missing.is_empty() {
            refusals.push(VenueRefusal::MissingKeys { venue, missing });
        }
        match (live, self.testnet) {
            (false, false) => refusals.push(VenueRefusal::ProductionInPaper { venue }),
            (true, true) => refusals.push(VenueRefusal::TestnetInLive { venue }),
            _ => {}
        }
        refusals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unmet_condition_is_named_with_its_environment_variable() {
        let config = VenueConfig::default();
        let paper: Vec<String> = config.refusals(VenueKind::Binance, false).iter().map(ToString::to_string).collect();
        assert_eq!(
            paper,
            ["signals.venue = \"binance\": api_key, api_secret not set (BINANCE_API_KEY, BINANCE_API_SECRET)"]
        );
        let live = config.refusals(VenueKind::Bybit, true);
        assert_eq!(live.len(), 2);
        assert!(live[1].to_string().contains("BYBIT_TESTNET=false"), "{}", live[1]);
        let keyed = VenueConfig {
            api_key: Secret::new("k"),
            api_secret: Secret::new("s"),
            testnet: false,
            ..VenueConfig::default()
        };
        assert!(keyed.refusals(VenueKind::Bybit, true).is_empty());
        assert!(matches!(keyed.refusals(VenueKind::Bybit, false)[..], [VenueRefusal::ProductionInPaper { .. }]));
    }

    #[test]
    fn default_urls_follow_the_market_and_the_testnet_setting() {
        let mut config = VenueConfig::default();
        assert_eq!(config.base_url(VenueKind::Binance), "https://testnet.binancefuture.com");
        config.market = VenueMarket::Spot;
        assert_eq!(config.base_url(VenueKind::Binance), "https://testnet.binance.vision");
        config.testnet = false;
        assert_eq!(config.base_url(VenueKind::Bybit), "https://api.bybit.com");
        config.rest_url = "http://127.0.0.1:9".into();
        assert_eq!(config.base_url(VenueKind::Binance), "http://127.0.0.1:9");
    }

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        let mut issues = Issues::new();
        VenuesConfig::default().validate("venues", &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.as_slice());
        let bad = VenueConfig { recv_window_ms: 90_000, rest_url: "ftp://x".into(), ..VenueConfig::default() };
        let mut issues = Issues::new();
        bad.validate("venues.bybit", &mut issues);
        let keys: Vec<&str> = issues.as_slice().iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["venues.bybit.rest_url", "venues.bybit.recv_window_ms"]);
    }
}
