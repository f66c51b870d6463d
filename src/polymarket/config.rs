//! Configuration of this module: `[polymarket]` in the TOML file.
//!
//! Hosts are config keys (real hosts by default) so that tests and staging can point them at
//! 127.0.0.1. Intervals that tests need to shrink are in milliseconds; windows measured against
//! trade timestamps (which the Data API gives in seconds) are in seconds.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Issues, Secret, is_wallet_address, join};

/// Which Data API generation the whale feed polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataApiVersion {
    /// `GET /v1/activity`-style legacy routes: camelCase bare arrays, offset paging (≤ 5,000).
    V1,
    /// `GET /v2/activity`: snake_case `{data, pagination}`, keyset cursors: sees maker fills, cached 15 s.
    #[default]
    V2,
}

/// Every key of `[polymarket]`, with their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolymarketConfig {
    /// Data API host (wallet activity).
    pub data_api_url: String,
    /// CLOB host (books, orders).
    pub clob_url: String,
    /// Gamma host (market metadata).
    pub gamma_url: String,
    pub whale_feed: WhaleFeedConfig,
    pub price_feed: PriceFeedConfig,
    pub resolution: ResolutionConfig,
    pub names: NamesConfig,
    pub http: HttpConfig,
    pub market_ws: MarketWsConfig,
    pub credentials: CredentialsConfig,
    pub wallet: WalletConfig,
    /// Polygon JSON-RPC endpoint for redeeming winning positions on chain (live mode).
    pub rpc_url: String,
    /// The chain the redeem transactions are signed for (137 Polygon, 80002 Amoy); checked against
    /// the endpoint's `eth_chainId` before anything is sent.
    pub chain_id: u64,
    pub redeem: RedeemConfig,
    pub fetch_history: FetchHistoryConfig,
}

impl Default for PolymarketConfig {
    fn default() -> Self {
        Self {
            data_api_url: "https://data-api.polymarket.com".into(),
            clob_url: "https://clob.polymarket.com".into(),
            gamma_url: "https://gamma-api.polymarket.com".into(),
            whale_feed: WhaleFeedConfig::default(),
            price_feed: PriceFeedConfig::default(),
            resolution: ResolutionConfig::default(),
            names: NamesConfig::default(),
            http: HttpConfig::default(),
            market_ws: MarketWsConfig::default(),
            credentials: CredentialsConfig::default(),
            wallet: WalletConfig::default(),
            rpc_url: "https://polygon-rpc.com".into(),
            chain_id: 137,
            redeem: RedeemConfig::default(),
            fetch_history: FetchHistoryConfig::default(),
        }
    }
}

/// `[polymarket.fetch_history]`: `whale-trader fetch-history`, which builds a replayable session
/// from wallets' public trades (read like the whale feed reads them: its route, page size and
/// overlap) and the markets' price history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchHistoryConfig {
    /// Requests per second to the Data API and the CLOB together.
    pub requests_per_sec: u32,
    /// Activity pages read per wallet at most; a wallet with more between the dates is an error
    /// (narrow the window) rather than a silently cut history.
    pub max_pages_per_wallet: u32,
    /// Price points kept per token at most; the rest of a longer answer is cut (and said so).
    pub max_points_per_token: u32,
    /// Minutes between two price points asked of `GET /prices-history`.
    pub fidelity_minutes: u32,
    /// Shares on each side of a book approximated from a price point.
    pub book_depth_shares: u64,
}

impl Default for FetchHistoryConfig {
    fn default() -> Self {
        Self {
            requests_per_sec: 5,
            max_pages_per_wallet: 1_000,
            max_points_per_token: 20_000,
            fidelity_minutes: 60,
            book_depth_shares: 10_000,
        }
    }
}

impl FetchHistoryConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            !(1..=50).contains(&self.requests_per_sec),
            join(prefix, "requests_per_sec"),
            self.requests_per_sec,
            "must be between 1 and 50 (the CLOB allows /prices-history about 100 requests per 10 s)",
        );
        issues.check(
            !(1..=100_000).contains(&self.max_pages_per_wallet),
            join(prefix, "max_pages_per_wallet"),
            self.max_pages_per_wallet,
            "must be between 1 and 100000",
        );
        issues.check(
            !(1..=1_000_000).contains(&self.max_points_per_token),
            join(prefix, "max_points_per_token"),
            self.max_points_per_token,
            "must be between 1 and 1000000",
        );
        issues.check(
            !(1..=1_440).contains(&self.fidelity_minutes),
            join(prefix, "fidelity_minutes"),
            self.fidelity_minutes,
            "must be between 1 and 1440 minutes (one day)",
        );
        issues.check(
            !(1..=1_000_000_000).contains(&self.book_depth_shares),
            join(prefix, "book_depth_shares"),
            self.book_depth_shares,
            "must be between 1 and 1000000000 shares",
        );
    }
}

/// `[polymarket.wallet]`: reading our own wallet in live mode (its cash and its positions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalletConfig {
    /// Time between two readings of the wallet's balance and positions (the first at start-up).
    pub reconcile_interval_secs: u64,
}

impl Default for WalletConfig {
    fn default() -> Self {
        Self { reconcile_interval_secs: 60 }
    }
}

impl WalletConfig {
    pub fn reconcile_interval(&self) -> Duration {
        Duration::from_secs(self.reconcile_interval_secs)
    }

    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            self.reconcile_interval_secs == 0 || self.reconcile_interval_secs > 3_600,
            join(prefix, "reconcile_interval_secs"),
            self.reconcile_interval_secs,
            "must be between 1 and 3600 seconds (equity and the position check are only as fresh as the last reading)",
        );
    }
}

/// `[polymarket.redeem]`: gas caps and timings of the on-chain redemption of winning positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedeemConfig {
    /// Most gas one redeem transaction may use (the node's estimate plus a fifth, capped here).
    pub max_gas_limit: u64,
    /// Cap of the fee per gas, in gwei: above it the redemption waits for cheaper blocks.
    pub max_fee_per_gas_gwei: u64,
    /// Cap of the priority fee (tip) per gas, in gwei.
    pub max_priority_fee_per_gas_gwei: u64,
    /// Time between two receipt reads of a sent transaction, in milliseconds.
    pub receipt_poll_ms: u64,
    /// Time between two attempts at a redemption that could not go out (node down, fees above the
    /// cap, condition not yet reported on chain), or a sent one still unmined, in seconds.
    pub retry_secs: u64,
    /// Timeout of one JSON-RPC request, in milliseconds.
    pub request_timeout_ms: u64,
}

impl Default for RedeemConfig {
    fn default() -> Self {
        Self {
            max_gas_limit: 500_000,
            max_fee_per_gas_gwei: 1_000,
            max_priority_fee_per_gas_gwei: 200,
            receipt_poll_ms: 2_000,
            retry_secs: 60,
            request_timeout_ms: 10_000,
        }
    }
}

impl RedeemConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            !(21_000..=10_000_000).contains(&self.max_gas_limit),
            join(prefix, "max_gas_limit"),
            self.max_gas_limit,
            "must be between 21000 and 10000000",
        );
        positive(issues, prefix, "max_fee_per_gas_gwei", self.max_fee_per_gas_gwei);
        issues.check(
            self.max_fee_per_gas_gwei > 100_000,
            join(prefix, "max_fee_per_gas_gwei"),
            self.max_fee_per_gas_gwei,
            "must be at most 100000 gwei",
        );
        positive(issues, prefix, "max_priority_fee_per_gas_gwei", self.max_priority_fee_per_gas_gwei);
        issues.check(
            self.max_priority_fee_per_gas_gwei > self.max_fee_per_gas_gwei,
            join(prefix, "max_priority_fee_per_gas_gwei"),
            self.max_priority_fee_per_gas_gwei,
            "must not exceed max_fee_per_gas_gwei",
        );
        positive(issues, prefix, "receipt_poll_ms", self.receipt_poll_ms);
        positive(issues, prefix, "retry_secs", self.retry_secs);
        positive(issues, prefix, "request_timeout_ms", self.request_timeout_ms);
    }

    pub fn receipt_poll(&self) -> Duration {
        Duration::from_millis(self.receipt_poll_ms)
    }

    pub fn retry(&self) -> Duration {
        Duration::from_secs(self.retry_secs)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// `[polymarket.whale_feed]`: polling the Data API for each followed wallet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhaleFeedConfig {
    pub api_version: DataApiVersion,
    /// Time between two polls of the same wallet.
    pub poll_interval_ms: u64,
    /// Rows per page (v2 ≤ 1,000; v1 `/activity` ≤ 500).
    pub page_size: u32,
    /// Pages read per wallet per poll at most; the rest is read on the next poll (nothing is skipped).
    pub max_pages_per_poll: u32,
    /// Each poll re-reads this far below the watermark, because the indexer publishes fills late
    /// (p50 ≈ 11 s, max seen 167 s) stamped with their block time.
    pub overlap_secs: u64,
    /// A wallet without saved state starts reading this far before start-up.
    pub initial_lookback_secs: u64,
    /// Wallets polled at the same time at most.
    pub max_concurrency: usize,
    /// Data API requests per second across all wallets (documented: `/trades` 200 per 10 s,
    /// `/v2/activity` clean at ≥ 400 per 10 s).
    pub requests_per_sec: u32,
}

impl Default for WhaleFeedConfig {
    fn default() -> Self {
        Self {
            api_version: DataApiVersion::V2,
            poll_interval_ms: 3_000,
            page_size: 500,
            max_pages_per_poll: 10,
            overlap_secs: 300,
            initial_lookback_secs: 300,
            max_concurrency: 8,
            requests_per_sec: 15,
        }
    }
}

/// `[polymarket.price_feed]`: polling CLOB books for the tokens the engine watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PriceFeedConfig {
    pub poll_interval_ms: u64,
    /// Tokens per `POST /books` request.
    pub books_batch_size: usize,
    /// A token without a fresh book for this long is stale: new entries on it are rejected.
    pub stale_after_secs: u64,
    /// CLOB book requests per second (documented: `/books` 500 per 10 s, `/book` 1,500 per 10 s).
    pub requests_per_sec: u32,
    /// Batches requested at the same time at most.
    pub max_concurrency: usize,
}

impl Default for PriceFeedConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1_000,
            books_batch_size: 50,
            stale_after_secs: 30,
            requests_per_sec: 25,
            max_concurrency: 4,
        }
    }
}

/// `[polymarket.resolution]`: watching the status of every market we hold or have orders in
/// (`GET /markets/{condition_id}` on the CLOB), to settle resolved markets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResolutionConfig {
    /// Time between two checks of the same market; a market whose book disappears is checked at once.
    pub poll_interval_secs: u64,
}

impl Default for ResolutionConfig {
    fn default() -> Self {
        Self { poll_interval_secs: 30 }
    }
}

impl ResolutionConfig {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs)
    }

    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            self.poll_interval_secs == 0 || self.poll_interval_secs > 3_600,
            join(prefix, "poll_interval_secs"),
            self.poll_interval_secs,
            "must be between 1 and 3600 seconds",
        );
    }
}

/// `[polymarket.names]`: market names (question, outcome names, end date) read from the Gamma API
/// for the markets we hold or have orders in, cached in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamesConfig {
    /// Names read from Gamma longer ago than this are read again.
    pub refresh_hours: u64,
    /// Gamma requests per second at most (documented: `/markets` 300 per 10 s).
    pub requests_per_sec: u32,
}

impl Default for NamesConfig {
    fn default() -> Self {
        Self { refresh_hours: 24, requests_per_sec: 2 }
    }
}

impl NamesConfig {
    pub fn refresh_ms(&self) -> i64 {
        i64::try_from(self.refresh_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX)
    }

    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            self.refresh_hours == 0 || self.refresh_hours > 720,
            join(prefix, "refresh_hours"),
            self.refresh_hours,
            "must be between 1 and 720 hours (30 days)",
        );
        issues.check(
            self.requests_per_sec == 0 || self.requests_per_sec > 30,
            join(prefix, "requests_per_sec"),
            self.requests_per_sec,
            "must be between 1 and 30 (Gamma allows 300 /markets requests per 10 s)",
        );
    }
}

/// `[polymarket.http]`: timeouts and the retry policy shared by every client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub request_timeout_ms: u64,
    /// Attempts per request, the first included (429, 5xx and timeouts are retried).
    pub max_attempts: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// A server's `Retry-After` longer than this is capped (a feed must not stall for an hour).
    pub max_retry_after_secs: u64,
    /// Longest answer body read from any venue endpoint; a longer one is cut off while streaming
    /// and the request fails, so that a runaway answer can neither fill memory nor the logs.
    pub max_response_bytes: u64,
    /// Longest back-off between two calls to an endpoint that keeps failing (an outage): it starts
    /// at one second and doubles with every failed call up to this.
    pub max_outage_backoff_secs: u64,
}

impl HttpConfig {
    /// The smallest `max_response_bytes` accepted: a full Data API page (500 rows) fits in it.
    pub const MIN_RESPONSE_BYTES: u64 = 64 * 1024;
    /// The largest `max_response_bytes` accepted.
    pub const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            request_timeout_ms: 10_000,
            max_attempts: 4,
            base_backoff_ms: 250,
            max_backoff_ms: 10_000,
            max_retry_after_secs: 60,
            max_response_bytes: 4 * 1024 * 1024,
            max_outage_backoff_secs: 60,
        }
    }
}

/// `[polymarket.market_ws]`: the optional CLOB market websocket (not used by this build's price feed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketWsConfig {
    pub enabled: bool,
    pub url: String,
}

impl Default for MarketWsConfig {
    fn default() -> Self {
        Self { enabled: false, url: "wss://ws-subscriptions-clob.polymarket.com/ws/market".into() }
    }
}

/// `[polymarket.credentials]`: L2 API credentials and the wallet, only for `mode = "live"`.
/// Left empty in TOML; filled from `WHALE_TRADER__POLYMARKET__CREDENTIALS__*`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CredentialsConfig {
    pub api_key: Secret,
    /// base64url, as returned by `POST /auth/api-key`.
    pub api_secret: Secret,
    pub api_passphrase: Secret,
    /// Hex private key of the signer (EOA) for EIP-712 order signatures.
    pub private_key: Secret,
    /// The funder (proxy / Safe / deposit wallet) that holds the collateral: the order's `maker`.
    pub funder_address: Secret,
    /// 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271 (deposit wallet).
    pub signature_type: u8,
}

impl CredentialsConfig {
    /// True when every secret needed to place an order is present.
    pub fn is_complete(&self) -> bool {
        [&self.api_key, &self.api_secret, &self.api_passphrase, &self.private_key, &self.funder_address]
            .iter()
            .all(|s| s.is_set())
    }

    /// The names of the credentials still missing (for "refuse to start live" messages).
    pub fn missing(&self) -> Vec<&'static str> {
        [
            ("api_key", &self.api_key),
            ("api_secret", &self.api_secret),
            ("api_passphrase", &self.api_passphrase),
            ("private_key", &self.private_key),
            ("funder_address", &self.funder_address),
        ]
        .into_iter()
        .filter(|(_, s)| !s.is_set())
        .map(|(name, _)| name)
        .collect()
    }
}

impl WhaleFeedConfig {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

impl PriceFeedConfig {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

impl PolymarketConfig {
    /// Adds every problem found under `prefix` to `issues`.
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        for (key, url) in
            [("data_api_url", &self.data_api_url), ("clob_url", &self.clob_url), ("gamma_url", &self.gamma_url)]
        {
            check_url(issues, &join(prefix, key), url, &["http", "https"]);
        }
        self.whale_feed.validate(&join(prefix, "whale_feed"), issues);
        self.price_feed.validate(&join(prefix, "price_feed"), issues);
        self.resolution.validate(&join(prefix, "resolution"), issues);
        self.names.validate(&join(prefix, "names"), issues);
        self.http.validate(&join(prefix, "http"), issues);
        if self.market_ws.enabled {
            check_url(issues, &join(&join(prefix, "market_ws"), "url"), &self.market_ws.url, &["ws", "wss"]);
        }
        self.credentials.validate(&join(prefix, "credentials"), issues);
        self.wallet.validate(&join(prefix, "wallet"), issues);
        self.fetch_history.validate(&join(prefix, "fetch_history"), issues);
        check_url(issues, &join(prefix, "rpc_url"), &self.rpc_url, &["http", "https"]);
        issues.check(
            self.chain_id == 0 || self.chain_id > u64::from(u32::MAX),
            join(prefix, "chain_id"),
            self.chain_id,
            "must be a chain id between 1 and 4294967295 (137 is Polygon)",
        );
        self.redeem.validate(&join(prefix, "redeem"), issues);
    }
}

impl WhaleFeedConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        positive(issues, prefix, "poll_interval_ms", self.poll_interval_ms);
        let page_cap = match self.api_version {
            DataApiVersion::V1 => 500,
            DataApiVersion::V2 => 1_000,
        };
        issues.check(
            self.page_size == 0 || self.page_size > page_cap,
            join(prefix, "page_size"),
            self.page_size,
            &format!("must be between 1 and {page_cap} for api_version {:?}", self.api_version),
        );
        positive(issues, prefix, "max_pages_per_poll", u64::from(self.max_pages_per_poll));
        issues.check(
            self.overlap_secs == 0 || self.overlap_secs > 86_400,
            join(prefix, "overlap_secs"),
            self.overlap_secs,
            "must be between 1 and 86400 seconds (the indexer publishes fills late)",
        );
        issues.check(
            self.initial_lookback_secs > 30 * 86_400,
            join(prefix, "initial_lookback_secs"),
            self.initial_lookback_secs,
            "must be at most 2592000 seconds (30 days)",
        );
        positive(issues, prefix, "max_concurrency", self.max_concurrency as u64);
        positive(issues, prefix, "requests_per_sec", u64::from(self.requests_per_sec));
        issues.check(
            self.requests_per_sec > 100,
            join(prefix, "requests_per_sec"),
            self.requests_per_sec,
            "must be at most 100 (the Data API allows 1,000 requests per 10 s in total)",
        );
    }
}

impl PriceFeedConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        positive(issues, prefix, "poll_interval_ms", self.poll_interval_ms);
        issues.check(
            self.books_batch_size == 0 || self.books_batch_size > 500,
            join(prefix, "books_batch_size"),
            self.books_batch_size,
            "must be between 1 and 500",
        );
        positive(issues, prefix, "stale_after_secs", self.stale_after_secs);
        issues.check(
            self.stale_after_secs.saturating_mul(1000) < self.poll_interval_ms,
            join(prefix, "stale_after_secs"),
            self.stale_after_secs,
            "must be at least one poll interval, or every token would always be stale",
        );
        positive(issues, prefix, "requests_per_sec", u64::from(self.requests_per_sec));
        issues.check(
            self.requests_per_sec > 50,
            join(prefix, "requests_per_sec"),
            self.requests_per_sec,
            "must be at most 50 (POST /books allows 500 requests per 10 s)",
        );
        positive(issues, prefix, "max_concurrency", self.max_concurrency as u64);
    }
}

impl HttpConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        positive(issues, prefix, "request_timeout_ms", self.request_timeout_ms);
        issues.check(
            self.max_attempts == 0 || self.max_attempts > 20,
            join(prefix, "max_attempts"),
            self.max_attempts,
            "must be between 1 and 20",
        );
        positive(issues, prefix, "base_backoff_ms", self.base_backoff_ms);
        issues.check(
            self.max_backoff_ms < self.base_backoff_ms,
            join(prefix, "max_backoff_ms"),
            self.max_backoff_ms,
            "must be at least base_backoff_ms",
        );
        issues.check(
            !(Self::MIN_RESPONSE_BYTES..=Self::MAX_RESPONSE_BYTES).contains(&self.max_response_bytes),
            join(prefix, "max_response_bytes"),
            self.max_response_bytes,
            "must be between 65536 (64 KiB) and 268435456 (256 MiB)",
        );
        issues.check(
            !(1..=3600).contains(&self.max_outage_backoff_secs),
            join(prefix, "max_outage_backoff_secs"),
            self.max_outage_backoff_secs,
            "must be between 1 and 3600 seconds",
        );
    }

    /// `max_response_bytes` as a length in memory.
    pub fn max_response_bytes(&self) -> usize {
        usize::try_from(self.max_response_bytes).unwrap_or(usize::MAX)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

impl CredentialsConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            self.signature_type > 3,
            join(prefix, "signature_type"),
            self.signature_type,
            "must be 0 (EOA), 1 (POLY_PROXY), 2 (POLY_GNOSIS_SAFE) or 3 (POLY_1271)",
        );
        // The funder address is public on-chain, but it lives beside the secrets; its value is
        // still never echoed, only the rule.
        if self.funder_address.is_set() && !is_wallet_address(self.funder_address.expose().trim()) {
            issues.push(
                join(prefix, "funder_address"),
                crate::config::REDACTED,
                "must be 0x followed by 40 hex digits",
            );
        }
    }
}

fn positive(issues: &mut Issues, prefix: &str, key: &str, value: u64) {
    issues.check(value == 0, join(prefix, key), value, "must be positive");
}

fn check_url(issues: &mut Issues, key: &str, url: &str, schemes: &[&str]) {
    match reqwest::Url::parse(url) {
        Ok(parsed) if schemes.contains(&parsed.scheme()) && parsed.host_str().is_some() => {}
        Ok(_) => issues.push(key, format!("{url:?}"), format!("must be an absolute {} URL", schemes.join("/"))),
        Err(e) => issues.push(key, format!("{url:?}"), format!("must be an absolute {} URL ({e})", schemes.join("/"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues_of(config: &PolymarketConfig) -> Vec<String> {
        let mut issues = Issues::new();
        config.validate("polymarket", &mut issues);
        issues.into_vec().into_iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn defaults_are_valid_and_point_at_the_real_hosts() {
        let config = PolymarketConfig::default();
        assert!(issues_of(&config).is_empty(), "{:?}", issues_of(&config));
        assert_eq!(config.data_api_url, "https://data-api.polymarket.com");
        assert_eq!(config.clob_url, "https://clob.polymarket.com");
    }

    #[test]
    fn fetch_history_limits_are_checked_with_key_value_and_rule() {
        let config = PolymarketConfig {
            fetch_history: FetchHistoryConfig {
                requests_per_sec: 0,
                max_pages_per_wallet: 0,
                max_points_per_token: 2_000_000,
                fidelity_minutes: 1_441,
                book_depth_shares: 0,
            },
            ..PolymarketConfig::default()
        };
        let found = issues_of(&config);
        let expect = [
            "polymarket.fetch_history.requests_per_sec = 0: must be between 1 and 50 (the CLOB allows /prices-history about 100 requests per 10 s)",
            "polymarket.fetch_history.max_pages_per_wallet = 0: must be between 1 and 100000",
            "polymarket.fetch_history.max_points_per_token = 2000000: must be between 1 and 1000000",
            "polymarket.fetch_history.fidelity_minutes = 1441: must be between 1 and 1440 minutes (one day)",
            "polymarket.fetch_history.book_depth_shares = 0: must be between 1 and 1000000000 shares",
        ];
        for line in expect {
            assert!(found.iter().any(|f| f == line), "missing {line:?} in {found:#?}");
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
    }

    #[test]
    fn every_broken_rule_is_reported_with_key_value_and_rule() {
        let mut config = PolymarketConfig {
            data_api_url: "ftp://example.com".into(),
            clob_url: "not a url".into(),
            ..PolymarketConfig::default()
        };
        config.whale_feed.poll_interval_ms = 0;
        config.whale_feed.page_size = 5_000;
        config.whale_feed.overlap_secs = 0;
        config.resolution.poll_interval_secs = 0;
        config.http.max_backoff_ms = 1;
        config.http.max_response_bytes = 1_000;
        config.credentials.signature_type = 9;
        config.credentials.funder_address = Secret::new("0xnope");
        config.wallet.reconcile_interval_secs = 0;
        let found = issues_of(&config);
        let expect = [
            "polymarket.data_api_url = \"ftp://example.com\": must be an absolute http/https URL",
            "polymarket.whale_feed.poll_interval_ms = 0: must be positive",
            "polymarket.whale_feed.page_size = 5000: must be between 1 and 1000 for api_version V2",
            "polymarket.whale_feed.overlap_secs = 0: must be between 1 and 86400 seconds (the indexer publishes fills late)",
            "polymarket.resolution.poll_interval_secs = 0: must be between 1 and 3600 seconds",
            "polymarket.http.max_backoff_ms = 1: must be at least base_backoff_ms",
            "polymarket.http.max_response_bytes = 1000: must be between 65536 (64 KiB) and 268435456 (256 MiB)",
            "polymarket.credentials.signature_type = 9: must be 0 (EOA), 1 (POLY_PROXY), 2 (POLY_GNOSIS_SAFE) or 3 (POLY_1271)",
            "polymarket.credentials.funder_address = ***: must be 0x followed by 40 hex digits",
            "polymarket.wallet.reconcile_interval_secs = 0: must be between 1 and 3600 seconds (equity and the position check are only as fresh as the last reading)",
        ];
        for line in expect {
            assert!(found.iter().any(|f| f == line), "missing {line:?} in {found:#?}");
        }
        assert!(found.iter().any(|f| f.starts_with("polymarket.clob_url = \"not a url\"")));
        assert!(!found.iter().any(|f| f.contains("0xnope")), "a credential value leaked: {found:?}");
    }

    #[test]
    fn the_names_refresh_is_bounded() {
        let mut config = PolymarketConfig::default();
        config.names.refresh_hours = 0;
        config.names.requests_per_sec = 31;
        let found = issues_of(&config);
        for line in [
            "polymarket.names.refresh_hours = 0: must be between 1 and 720 hours (30 days)",
            "polymarket.names.requests_per_sec = 31: must be between 1 and 30 (Gamma allows 300 /markets requests per 10 s)",
        ] {
            assert!(found.iter().any(|f| f == line), "missing {line:?} in {found:#?}");
        }
        config.names.refresh_hours = 721;
        assert!(issues_of(&config).iter().any(|f| f.starts_with("polymarket.names.refresh_hours = 721")));
        assert_eq!(NamesConfig::default().refresh_ms(), 24 * 3_600_000);
    }

    #[test]
    fn toml_section_round_trips_and_rejects_unknown_keys() {
        let text = "[whale_feed]\napi_version = \"v1\"\npage_size = 200\n[credentials]\napi_key = \"k\"\n";
        let parsed: PolymarketConfig = toml::from_str(text).unwrap();
        assert_eq!(parsed.whale_feed.api_version, DataApiVersion::V1);
        assert_eq!(parsed.whale_feed.page_size, 200);
        assert_eq!(parsed.credentials.missing(), vec!["api_secret", "api_passphrase", "private_key", "funder_address"]);
        assert!(toml::from_str::<PolymarketConfig>("bogus = 1").is_err());
        let rendered = toml::to_string(&parsed).unwrap();
        assert!(rendered.contains("api_key = \"***\""));
    }
}
