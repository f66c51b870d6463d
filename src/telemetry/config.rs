//! `[telemetry]`: whether typed events are exported at all, the queue between the daemon and the
//! exporters, and each exporter (a rotated JSON-lines file, an HTTP NDJSON sink).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Issues, Secret, join};

/// Every key of `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Export events at all. Off: no queue, no exporter task, no files, no requests.
    pub enabled: bool,
    /// Events waiting for the exporters; beyond it an event is dropped (and counted), never waited for.
    pub queue_capacity: usize,
    /// At most one warning alert per this many seconds when events were dropped, naming the counts.
    pub drop_alert_interval_secs: u64,
    pub jsonl: JsonlConfig,
    pub http: HttpSinkConfig,
}

/// `[telemetry.jsonl]`: one JSON object per line in a size-rotated file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonlConfig {
    pub enabled: bool,
    /// The file written; rotated ones are `path.1` (newest) … `path.keep`.
    pub path: PathBuf,
    /// Rotate before a line would take the file past this many MB.
    pub max_file_mb: u64,
    /// Rotated files kept (0: the full file is deleted at rotation).
    pub keep: u32,
}

/// `[telemetry.http]`: batches POSTed as `application/x-ndjson`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSinkConfig {
    pub enabled: bool,
    /// The sink's URL, from `WHALE_TRADER__TELEMETRY__HTTP__URL` (never in the file).
    pub url: Secret,
    /// A batch goes out when it holds this many events …
    pub batch_max: usize,
    /// … or when its oldest event has waited this many milliseconds.
    pub flush_ms: u64,
    /// One request's limit.
    pub timeout_ms: u64,
    /// Tries after the first failed one (with doubling back-off); then the batch is dropped and counted.
    pub retries: u32,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            queue_capacity: 10_000,
            drop_alert_interval_secs: 300,
            jsonl: JsonlConfig::default(),
            http: HttpSinkConfig::default(),
        }
    }
}

impl Default for JsonlConfig {
    fn default() -> Self {
        Self { enabled: true, path: PathBuf::from("data/telemetry/events.jsonl"), max_file_mb: 50, keep: 5 }
    }
}

impl Default for HttpSinkConfig {
    fn default() -> Self {
        Self { enabled: false, url: Secret::default(), batch_max: 500, flush_ms: 2_000, timeout_ms: 5_000, retries: 3 }
    }
}

impl JsonlConfig {
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_mb.saturating_mul(1024 * 1024)
    }
}

impl TelemetryConfig {
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            !(1..=1_000_000).contains(&self.queue_capacity),
            join(prefix, "queue_capacity"),
            self.queue_capacity,
            "must be between 1 and 1000000",
        );
        issues.check(
            !(1..=86_400).contains(&self.drop_alert_interval_secs),
            join(prefix, "drop_alert_interval_secs"),
            self.drop_alert_interval_secs,
            "must be between 1 and 86400 (a day)",
        );
        let jsonl = join(prefix, "jsonl");
        issues.check(
            self.enabled && self.jsonl.enabled && self.jsonl.path.as_os_str().is_empty(),
            join(&jsonl, "path"),
            "\"\"",
            "must name a file when telemetry.jsonl.enabled = true",
        );
        issues.check(
            !(1..=10_240).contains(&self.jsonl.max_file_mb),
            join(&jsonl, "max_file_mb"),
            self.jsonl.max_file_mb,
            "must be between 1 and 10240",
        );
        issues.check(self.jsonl.keep > 100, join(&jsonl, "keep"), self.jsonl.keep, "must be at most 100");
        let http = join(prefix, "http");
        let url = self.http.url.expose();
        // An exporter of disabled telemetry is never built: its URL is not needed.
        if self.enabled && self.http.enabled && !url.starts_with("http://") && !url.starts_with("https://") {
            // The value is a secret: the rule says what is wrong without repeating it.
            let value = if url.is_empty() { "\"\"" } else { crate::config::REDACTED };
            issues.push(
                join(&http, "url"),
                value,
                "must be an http:// or https:// URL when telemetry.http.enabled = true \
                 (set WHALE_TRADER__TELEMETRY__HTTP__URL)",
            );
        }
        issues.check(
            !(1..=10_000).contains(&self.http.batch_max),
            join(&http, "batch_max"),
            self.http.batch_max,
            "must be between 1 and 10000",
        );
        issues.check(
            !(10..=600_000).contains(&self.http.flush_ms),
            join(&http, "flush_ms"),
            self.http.flush_ms,
            "must be between 10 and 600000",
        );
        issues.check(
            !(10..=120_000).contains(&self.http.timeout_ms),
            join(&http, "timeout_ms"),
            self.http.timeout_ms,
            "must be between 10 and 120000",
        );
        issues.check(self.http.retries > 10, join(&http, "retries"), self.http.retries, "must be at most 10");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues_of(config: &TelemetryConfig) -> Vec<String> {
        let mut issues = Issues::new();
        config.validate("telemetry", &mut issues);
        issues.into_vec().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert!(issues_of(&TelemetryConfig::default()).is_empty());
    }

    #[test]
    fn each_bad_value_names_its_key_value_and_rule() {
        let mut config = TelemetryConfig { queue_capacity: 0, drop_alert_interval_secs: 0, ..Default::default() };
        config.jsonl.max_file_mb = 0;
        config.jsonl.keep = 101;
        config.http.enabled = true;
        config.http.batch_max = 0;
        config.http.flush_ms = 5;
        config.http.timeout_ms = 1_000_000;
        config.http.retries = 11;
        let found = issues_of(&config);
        for expected in [
            "telemetry.queue_capacity = 0: must be between 1 and 1000000",
            "telemetry.drop_alert_interval_secs = 0: must be between 1 and 86400 (a day)",
            "telemetry.jsonl.max_file_mb = 0: must be between 1 and 10240",
            "telemetry.jsonl.keep = 101: must be at most 100",
            "telemetry.http.batch_max = 0: must be between 1 and 10000",
            "telemetry.http.flush_ms = 5: must be between 10 and 600000",
            "telemetry.http.timeout_ms = 1000000: must be between 10 and 120000",
            "telemetry.http.retries = 11: must be at most 10",
        ] {
            assert!(found.iter().any(|f| f == expected), "{expected} missing from {found:?}");
        }
        assert!(found.iter().any(|f| f.starts_with("telemetry.http.url = \"\": must be an http")), "{found:?}");
    }

    #[test]
    fn disabled_telemetry_needs_no_url() {
        let mut config = TelemetryConfig { enabled: false, ..Default::default() };
        config.http.enabled = true;
        assert!(issues_of(&config).is_empty());
    }

    #[test]
    fn a_bad_url_is_reported_without_its_value() {
        let mut config = TelemetryConfig::default();
        config.http.enabled = true;
        config.http.url = Secret::new("ftp://secret-host/token");
        let found = issues_of(&config);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].contains("secret-host"), "{found:?}");
    }
}
