//! The daemon-wide sections: `[daemon]`, `[logging]`, `[feed]`, `[copy]`, `[health]`, `[api]`.

use std::path::PathBuf;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use super::{Issues, Secret, join};

/// How orders are executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Decide and record the intent; never fill.
    DryRun,
    /// Fill against the real order book, in simulation.
    #[default]
    Paper,
    /// Real orders on Polymarket.
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry-run",
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[daemon]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    pub mode: Mode,
    /// Where the store and other state live.
    pub data_dir: PathBuf,
    /// How long SIGTERM may take to drain queues before the daemon gives up and exits.
    pub shutdown_grace_secs: u64,
    /// Capacity of the engine's input queue (back-pressure beyond it, never drops).
    pub engine_queue_capacity: usize,
    /// Paper mode: extra adverse slippage on every simulated fill, in basis points.
    pub paper_extra_slippage_bps: Decimal,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Paper,
            data_dir: PathBuf::from("data"),
            shutdown_grace_secs: 10,
            engine_queue_capacity: 4096,
            paper_extra_slippage_bps: Decimal::ZERO,
        }
    }
}

impl DaemonConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            self.shutdown_grace_secs == 0 || self.shutdown_grace_secs > 600,
            join(prefix, "shutdown_grace_secs"),
            self.shutdown_grace_secs,
            "must be between 1 and 600 seconds",
        );
        issues.check(
            self.engine_queue_capacity == 0,
            join(prefix, "engine_queue_capacity"),
            self.engine_queue_capacity,
            "must be at least 1",
        );
        issues.check(self.data_dir.as_os_str().is_empty(), join(prefix, "data_dir"), "\"\"", "must name a directory");
    }
}

/// Human-readable or JSON console output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsoleFormat {
    /// Human-readable on a terminal, JSON otherwise (journald).
    #[default]
    Auto,
    Human,
    Json,
    Off,
}

/// Rotation of one log file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogFileConfig {
    /// Size at which the file is rotated, in bytes.
    pub max_size_bytes: u64,
    /// How many rotated files are kept besides the active one.
    pub keep: usize,
}

impl LogFileConfig {
    const MB: u64 = 1024 * 1024;

    pub fn new(max_size_mb: u64, keep: usize) -> Self {
        Self { max_size_bytes: max_size_mb * Self::MB, keep }
    }

    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            self.max_size_bytes < 1024,
            join(prefix, "max_size_bytes"),
            self.max_size_bytes,
            "must be at least 1024 bytes",
        );
        issues.check(self.keep == 0 || self.keep > 1000, join(prefix, "keep"), self.keep, "must be between 1 and 1000");
    }
}

impl Default for LogFileConfig {
    fn default() -> Self {
        Self::new(100, 10)
    }
}

/// `[logging]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    pub dir: PathBuf,
    /// A tracing filter directive for main.log and the console, e.g. `info` or `info,whale_trader=debug`.
    pub level: String,
    pub console: ConsoleFormat,
    pub main: LogFileConfig,
    pub error: LogFileConfig,
    pub trade_audit: LogFileConfig,
    pub performance: LogFileConfig,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("logs"),
            level: "info".into(),
            console: ConsoleFormat::Auto,
            main: LogFileConfig::new(100, 10),
            error: LogFileConfig::new(50, 10),
            trade_audit: LogFileConfig::new(100, 10),
            performance: LogFileConfig::new(50, 5),
        }
    }
}

impl LoggingConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.level) {
            issues.push(join(prefix, "level"), format!("{:?}", self.level), format!("is not a valid log filter: {e}"));
        }
        self.main.validate(&join(prefix, "main"), issues);
        self.error.validate(&join(prefix, "error"), issues);
        self.trade_audit.validate(&join(prefix, "trade_audit"), issues);
        self.performance.validate(&join(prefix, "performance"), issues);
    }
}

/// Where whale trades and prices come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedSource {
    /// A recorded session (JSONL) driven through the simulated clock.
    #[default]
    Replay,
    /// The live Polymarket Data API and CLOB.
    Polymarket,
}

impl FeedSource {
    /// The name used in the config file, in store file names and in the store's metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedSource::Replay => "replay",
            FeedSource::Polymarket => "polymarket",
        }
    }
}

impl std::fmt::Display for FeedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[feed]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedConfig {
    pub source: FeedSource,
    /// The recorded session replayed when `source = "replay"`.
    pub replay_path: PathBuf,
    /// Replay speed: 0 replays as fast as possible, 1.0 in real time, 60 a minute per second. The
    /// default, 40, plays the bundled 40-minute sample session in about a minute: a first run a
    /// person can watch.
    pub replay_speed: Decimal,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            source: FeedSource::Replay,
            replay_path: PathBuf::from("data/sample_session.jsonl"),
            replay_speed: dec!(40),
        }
    }
}

impl FeedConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            self.replay_speed < Decimal::ZERO,
            join(prefix, "replay_speed"),
            self.replay_speed,
            "must be 0 (as fast as possible) or positive",
        );
        if self.source == FeedSource::Replay && self.replay_path.as_os_str().is_empty() {
            issues.push(join(prefix, "replay_path"), "\"\"", "must name a session file when source = \"replay\"");
        }
    }
}

/// How the size of a copied entry is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopySizing {
    /// A fixed USD notional per copied trade.
    #[default]
    FixedUsd,
    /// The whale's notional times `proportional_ratio`.
    Proportional,
    /// Balance × risk% ÷ distance to the stop (the risk manager's position sizing).
    RiskBased,
}

impl CopySizing {
    /// The name used in the config file (`copy.sizing`).
    pub fn as_str(self) -> &'static str {
        match self {
            CopySizing::FixedUsd => "fixed_usd",
            CopySizing::Proportional => "proportional",
            CopySizing::RiskBased => "risk_based",
        }
    }
}

/// What a whale's SELL of a token we copied does to our position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitMode {
    /// Sell the same fraction of our position as the whale sold of theirs.
    Proportional,
    /// Close our whole position.
    #[default]
    Full,
}

/// One followed wallet: `[[copy.whales]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhaleConfig {
    /// The wallet to follow (the proxy wallet that trades, 0x + 40 hex digits).
    pub address: String,
    pub label: Option<String>,
    /// Scales the copied size for this whale.
    pub multiplier: Decimal,
    pub max_usd_per_trade: Option<Decimal>,
    /// USD this whale may allocate per trading day (overrides the risk default).
    pub daily_allocation_usd: Option<Decimal>,
}

impl Default for WhaleConfig {
    fn default() -> Self {
        Self {
            address: String::new(),
            label: None,
            multiplier: dec!(1),
            max_usd_per_trade: None,
            daily_allocation_usd: None,
        }
    }
}

/// `[copy]`: the copy rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CopyConfig {
    pub whales: Vec<WhaleConfig>,
    pub sizing: CopySizing,
    /// Notional per copied trade with `sizing = "fixed_usd"`.
    pub fixed_usd: Decimal,
    /// Fraction of the whale's notional with `sizing = "proportional"`.
    pub proportional_ratio: Decimal,
    /// Whale trades smaller than this (USD) are ignored.
    pub min_whale_trade_usd: Decimal,
    /// Largest allowed move of the best price away from the whale's price, in percent.
    pub max_price_drift_percent: Decimal,
    /// Whale trades older than this when they reach the engine are not copied.
    pub max_signal_age_secs: u64,
    /// Widest bid-ask spread, in percent of the mid price, at which a trade is copied (0 = off).
    pub max_spread_percent: Decimal,
    /// Copy only when the book's asks up to our limit price hold our whole size.
    pub require_depth: bool,
    /// No new entry this many hours or less before the market's end date (0 = off).
    pub min_hours_to_resolution: Decimal,
    /// No new entry when the ask is this close to 0 or 1: the outcome is all but decided (0 = off).
    pub extreme_price_band: Decimal,
    pub exit_mode: ExitMode,
    /// Copy trades the whale made before the daemon started.
    pub copy_trades_before_start: bool,
}

impl Default for CopyConfig {
    fn default() -> Self {
        Self {
            whales: Vec::new(),
            sizing: CopySizing::FixedUsd,
            fixed_usd: dec!(50),
            proportional_ratio: dec!(0.1),
            min_whale_trade_usd: dec!(100),
            max_price_drift_percent: dec!(5),
            max_signal_age_secs: 120,
            max_spread_percent: dec!(10),
            require_depth: true,
            min_hours_to_resolution: dec!(1),
            extreme_price_band: dec!(0.02),
            exit_mode: ExitMode::Full,
            copy_trades_before_start: false,
        }
    }
}

/// `0x` followed by exactly 40 hexadecimal digits.
pub fn is_wallet_address(text: &str) -> bool {
    text.len() == 42 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl CopyConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        let mut seen = std::collections::HashSet::new();
        for (i, whale) in self.whales.iter().enumerate() {
            let at = format!("{}[{i}]", join(prefix, "whales"));
            if !is_wallet_address(&whale.address) {
                issues.push(
                    join(&at, "address"),
                    format!("{:?}", whale.address),
                    "must be 0x followed by 40 hex digits",
                );
            } else if !seen.insert(whale.address.to_ascii_lowercase()) {
                issues.push(join(&at, "address"), &whale.address, "is listed twice");
            }
            issues.check(
                whale.multiplier <= Decimal::ZERO,
                join(&at, "multiplier"),
                whale.multiplier,
                "must be positive",
            );
            for (key, value) in
                [("max_usd_per_trade", whale.max_usd_per_trade), ("daily_allocation_usd", whale.daily_allocation_usd)]
            {
                if let Some(v) = value {
                    issues.check(v <= Decimal::ZERO, join(&at, key), v, "must be positive when set");
                }
            }
        }
        issues.check(self.fixed_usd <= Decimal::ZERO, join(prefix, "fixed_usd"), self.fixed_usd, "must be positive");
        issues.check(
            self.proportional_ratio <= Decimal::ZERO || self.proportional_ratio > dec!(10),
            join(prefix, "proportional_ratio"),
            self.proportional_ratio,
            "must be above 0 and at most 10",
        );
        issues.check(
            self.min_whale_trade_usd < Decimal::ZERO,
            join(prefix, "min_whale_trade_usd"),
            self.min_whale_trade_usd,
            "must not be negative",
        );
        issues.check(
            self.max_price_drift_percent < Decimal::ZERO || self.max_price_drift_percent > dec!(100),
            join(prefix, "max_price_drift_percent"),
            self.max_price_drift_percent,
            "must be between 0 and 100",
        );
        issues.check(self.max_signal_age_secs == 0, join(prefix, "max_signal_age_secs"), 0, "must be at least 1");
        issues.check(
            self.max_spread_percent < Decimal::ZERO || self.max_spread_percent > dec!(200),
            join(prefix, "max_spread_percent"),
            self.max_spread_percent,
            "must be between 0 (off) and 200",
        );
        issues.check(
            self.min_hours_to_resolution < Decimal::ZERO,
            join(prefix, "min_hours_to_resolution"),
            self.min_hours_to_resolution,
            "must not be negative",
        );
        issues.check(
            self.extreme_price_band < Decimal::ZERO || self.extreme_price_band >= dec!(0.5),
            join(prefix, "extreme_price_band"),
            self.extreme_price_band,
            "must be at least 0 (off) and below 0.5",
        );
    }
}

/// `[health]`: the thresholds and the loops' cadence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    pub cpu_warning_percent: Decimal,
    pub cpu_critical_percent: Decimal,
    pub memory_warning_percent: Decimal,
    pub memory_critical_percent: Decimal,
    pub disk_warning_percent: Decimal,
    pub disk_critical_percent: Decimal,
    pub system_interval_secs: u64,
    pub component_interval_secs: u64,
    pub report_interval_secs: u64,
    pub component_timeout_secs: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            cpu_warning_percent: dec!(70),
            cpu_critical_percent: dec!(90),
            memory_warning_percent: dec!(75),
            memory_critical_percent: dec!(90),
            disk_warning_percent: dec!(80),
            disk_critical_percent: dec!(95),
            system_interval_secs: 60,
            component_interval_secs: 30,
            report_interval_secs: 3600,
            component_timeout_secs: 5,
        }
    }
}

impl HealthConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        for (name, warning, critical) in [
            ("cpu", self.cpu_warning_percent, self.cpu_critical_percent),
            ("memory", self.memory_warning_percent, self.memory_critical_percent),
            ("disk", self.disk_warning_percent, self.disk_critical_percent),
        ] {
            let warning_key = join(prefix, &format!("{name}_warning_percent"));
            let critical_key = join(prefix, &format!("{name}_critical_percent"));
            let bad_w = issues.check(!in_percent_range(warning), warning_key, warning, "must be between 0 and 100");
            let bad_c =
                issues.check(!in_percent_range(critical), critical_key.clone(), critical, "must be between 0 and 100");
            if !bad_w && !bad_c {
                issues.check(warning >= critical, critical_key, critical, "must be above the warning threshold");
            }
        }
        for (key, value) in [
            ("system_interval_secs", self.system_interval_secs),
            ("component_interval_secs", self.component_interval_secs),
            ("report_interval_secs", self.report_interval_secs),
            ("component_timeout_secs", self.component_timeout_secs),
        ] {
            issues.check(value == 0, join(prefix, key), value, "must be at least 1 second");
        }
    }
}

fn in_percent_range(value: Decimal) -> bool {
    (Decimal::ZERO..=dec!(100)).contains(&value)
}

/// `[api]`: the local control API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub enabled: bool,
    pub bind: String,
    pub port: u16,
    /// Binding to anything but loopback must be asked for explicitly.
    pub allow_non_loopback: bool,
    /// Bearer token for `/status` and the control routes; from the environment (`WHALE_TRADER__API__TOKEN`).
    pub token: Secret,
    /// Open connections at most; when full, the oldest connection not serving an authorized request
    /// is closed so a new one (the CLI's) always gets in.
    pub max_connections: usize,
    /// Seconds a client has to send a request's head once it has started it.
    pub header_timeout_secs: u64,
    /// Seconds an authorized client has to send a request's body.
    pub body_timeout_secs: u64,
    /// Seconds a connection may wait for its next request before it is closed.
    pub idle_timeout_secs: u64,
    /// Largest request body accepted (bytes); control bodies are a short JSON reason.
    pub max_body_bytes: usize,
    /// `Host` names the API answers to (with or without a port); anything else gets 421, which
    /// keeps a web page behind a rebound DNS name from reading the API through a browser.
    pub allowed_hosts: Vec<String>,
    /// Whether `/metrics` needs the bearer token too.
    pub metrics_require_token: bool,
}

/// Bounds of `[api] max_connections`: at least the CLI's connection plus one, and few enough that the
/// unit's `LimitNOFILE=4096` keeps ample descriptors for the store, logs and venue connections.
pub const API_MAX_CONNECTIONS: std::ops::RangeInclusive<usize> = 2..=1024;
/// Bounds of `[api] max_body_bytes` (the control bodies are a few dozen bytes).
pub const API_MAX_BODY_BYTES: std::ops::RangeInclusive<usize> = 64..=65_536;
/// Bounds of the `[api]` timeouts, seconds.
pub const API_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 1..=300;

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: "127.0.0.1".into(),
            port: 8787,
            allow_non_loopback: false,
            token: Secret::default(),
            max_connections: 128,
            header_timeout_secs: 5,
            body_timeout_secs: 5,
            idle_timeout_secs: 30,
            max_body_bytes: 4096,
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            metrics_require_token: false,
        }
    }
}

impl ApiConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        match self.bind.parse::<std::net::IpAddr>() {
            Err(_) => issues.push(join(prefix, "bind"), format!("{:?}", self.bind), "must be an IP address"),
            Ok(ip) if !ip.is_loopback() && !self.allow_non_loopback => issues.push(
                join(prefix, "bind"),
                &self.bind,
                "is not a loopback address; set api.allow_non_loopback = true to allow it",
            ),
            Ok(_) => {}
        }
        issues.check(
            !API_MAX_CONNECTIONS.contains(&self.max_connections),
            join(prefix, "max_connections"),
            self.max_connections,
            "must be between 2 and 1024 (the CLI needs a connection; the rest of the daemon needs descriptors)",
        );
        issues.check(
            !API_MAX_BODY_BYTES.contains(&self.max_body_bytes),
            join(prefix, "max_body_bytes"),
            self.max_body_bytes,
            "must be between 64 and 65536",
        );
        for (key, value) in [
            ("header_timeout_secs", self.header_timeout_secs),
            ("body_timeout_secs", self.body_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            issues.check(
                !API_TIMEOUT_SECS.contains(&value),
                join(prefix, key),
                value,
                "must be between 1 and 300 seconds",
            );
        }
        if self.allowed_hosts.is_empty() {
            issues.push(join(prefix, "allowed_hosts"), "[]", "must name at least one host (e.g. \"localhost\")");
        }
        for (i, host) in self.allowed_hosts.iter().enumerate() {
            if let Err(rule) = check_host_name(host) {
                issues.push(join(prefix, &format!("allowed_hosts[{i}]")), format!("{host:?}"), rule);
            }
        }
    }
}

/// An `allowed_hosts` entry is a bare host name or address as it appears in a `Host` header, without
/// a port: `localhost`, `127.0.0.1`, `[::1]`, `trader.internal`.
fn check_host_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() || host.len() > 253 {
        return Err("must be 1 to 253 characters");
    }
    if let Some(inner) = host.strip_prefix('[') {
        return match inner.strip_suffix(']').map(str::parse::<std::net::Ipv6Addr>) {
            Some(Ok(_)) => Ok(()),
            _ => Err("must be an IPv6 address in brackets, e.g. [::1]"),
        };
    }
    if host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
        Ok(())
    } else {
        Err("must be a host name or address without scheme, port or path (letters, digits, '-', '.')")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallet_addresses() {
        assert!(is_wallet_address("0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee"));
        assert!(!is_wallet_address("0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033e"));
        assert!(!is_wallet_address("6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee00"));
        assert!(!is_wallet_address("0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033eg"));
    }

    #[test]
    fn copy_rules_name_each_bad_whale() {
        let mut config = CopyConfig::default();
        config.whales.push(WhaleConfig { address: "0xnope".into(), multiplier: dec!(-1), ..WhaleConfig::default() });
        let mut issues = Issues::new();
        config.validate("copy", &mut issues);
        let keys: Vec<String> = issues.into_vec().into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["copy.whales[0].address", "copy.whales[0].multiplier"]);
    }

    #[test]
    fn health_thresholds_must_be_ordered() {
        let config = HealthConfig { cpu_warning_percent: dec!(95), ..HealthConfig::default() };
        let mut issues = Issues::new();
        config.validate("health", &mut issues);
        assert_eq!(issues.as_slice()[0].key, "health.cpu_critical_percent");
    }

    #[test]
    fn api_refuses_non_loopback_unless_allowed() {
        let mut config = ApiConfig { bind: "0.0.0.0".into(), ..ApiConfig::default() };
        let mut issues = Issues::new();
        config.validate("api", &mut issues);
        assert_eq!(issues.as_slice().len(), 1);
        config.allow_non_loopback = true;
        let mut issues = Issues::new();
        config.validate("api", &mut issues);
        assert!(issues.is_empty());
    }

    #[test]
    fn api_limits_and_host_names_are_checked() {
        let config = ApiConfig {
            max_connections: 1,
            idle_timeout_secs: 0,
            max_body_bytes: 10_000_000,
            allowed_hosts: vec!["localhost".into(), "http://evil".into(), "[::1]".into(), "[nope]".into()],
            ..ApiConfig::default()
        };
        let mut issues = Issues::new();
        config.validate("api", &mut issues);
        let keys: Vec<String> = issues.into_vec().into_iter().map(|i| i.key).collect();
        assert_eq!(
            keys,
            [
                "api.max_connections",
                "api.max_body_bytes",
                "api.idle_timeout_secs",
                "api.allowed_hosts[1]",
                "api.allowed_hosts[3]"
            ]
        );
        let mut issues = Issues::new();
        ApiConfig { allowed_hosts: vec![], ..ApiConfig::default() }.validate("api", &mut issues);
        assert_eq!(issues.as_slice().len(), 1);
        let mut issues = Issues::new();
        ApiConfig::default().validate("api", &mut issues);
        assert!(issues.is_empty());
    }
}
