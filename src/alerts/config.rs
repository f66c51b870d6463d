//! Configuration of this module: `[alerts]` in the TOML file.
//!
//! Every channel has `enabled` and `min_priority`; secrets (webhook URLs, tokens, passwords) are
//! [`Secret`]s left empty in the file and filled from `WHALE_TRADER__ALERTS__<CHANNEL>__<KEY>`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::alert::Priority;
use crate::config::{Issues, Secret, join};

/// Every key of `[alerts]`, with their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Non-critical alerts waiting for the dispatcher; beyond it the oldest is dropped and counted.
    pub queue_capacity: usize,
    /// Alerts with the same dedup key inside this window are merged into one message with a count.
    pub group_window_secs: u64,
    /// A still-active condition (same dedup key, not resolved) is sent again only after this long.
    pub repeat_interval_minutes: u64,
    /// JSON lines of deliveries that finally failed, relative to the log directory unless absolute.
    pub dead_letter_file: PathBuf,
    /// Channels that carry every approved trade signal and batch summary whatever their
    /// `min_priority` (announcements are INFO, and a channel set to `info` for them would carry
    /// every other INFO alert too).
    pub announce_on: Vec<String>,
    pub throttle: ThrottleConfig,
    pub delivery: DeliveryConfig,
    pub console: ConsoleChannelConfig,
    pub file: FileChannelConfig,
    pub slack: WebhookChannelConfig,
    pub discord: WebhookChannelConfig,
    pub webhook: GenericWebhookConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub telegram: TelegramConfig,
    pub heartbeat: HeartbeatConfig,
}

/// The channels by name, as `announce_on`, silences and the metrics name them.
pub const CHANNEL_NAMES: [&str; 8] = ["console", "file", "slack", "discord", "webhook", "email", "sms", "telegram"];

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            group_window_secs: 60,
            repeat_interval_minutes: 60,
            dead_letter_file: PathBuf::from("alerts-dead-letter.jsonl"),
            announce_on: vec!["telegram".to_owned()],
            throttle: ThrottleConfig::default(),
            delivery: DeliveryConfig::default(),
            console: ConsoleChannelConfig::default(),
            file: FileChannelConfig::default(),
            slack: WebhookChannelConfig::default(),
            discord: WebhookChannelConfig::default(),
            webhook: GenericWebhookConfig::default(),
            email: EmailConfig::default(),
            sms: SmsConfig::default(),
            telegram: TelegramConfig::default(),
            heartbeat: HeartbeatConfig::default(),
        }
    }
}

/// The throttle: at most N alerts per window per channel; CRITICAL always passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    pub max_alerts_per_window: u32,
    pub window_minutes: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self { max_alerts_per_window: 10, window_minutes: 15 }
    }
}

/// How each channel worker delivers: retries, timeouts, queue size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Retries after the first attempt before a delivery is dead-lettered.
    pub max_retries: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Each attempt (one HTTP request, one SMTP session) is abandoned after this long.
    pub attempt_timeout_secs: u64,
    /// Messages waiting for one channel; beyond it the oldest non-critical one is dropped and counted.
    pub channel_queue_capacity: usize,
    /// On shutdown, how long channels may keep delivering before the rest is dead-lettered.
    pub drain_timeout_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
            attempt_timeout_secs: 10,
            channel_queue_capacity: 256,
            drain_timeout_secs: 5,
        }
    }
}

/// `[alerts.console]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleChannelConfig {
    pub enabled: bool,
    pub min_priority: Priority,
}

impl Default for ConsoleChannelConfig {
    fn default() -> Self {
        Self { enabled: true, min_priority: Priority::Info }
    }
}

/// `[alerts.file]`: one JSON object per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileChannelConfig {
    pub enabled: bool,
    pub min_priority: Priority,
    /// Relative to the log directory unless absolute.
    pub path: PathBuf,
    /// Size at which the file is rotated (`alerts.log.1` is the newest old file), in bytes.
    pub max_size_bytes: u64,
    /// How many rotated files are kept.
    pub keep: usize,
}

impl Default for FileChannelConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_priority: Priority::Info,
            path: PathBuf::from("alerts.log"),
            max_size_bytes: 50 * 1024 * 1024,
            keep: 5,
        }
    }
}

/// `[alerts.slack]` and `[alerts.discord]`: an incoming-webhook URL, which is itself the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookChannelConfig {
    pub enabled: bool,
    pub min_priority: Priority,
    pub webhook_url: Secret,
    /// Minimum spacing between two posts (Slack allows about 1/s, Discord 5 per 2 s per webhook).
    pub min_interval_ms: u64,
}

impl Default for WebhookChannelConfig {
    fn default() -> Self {
        Self { enabled: false, min_priority: Priority::Warning, webhook_url: Secret::default(), min_interval_ms: 1000 }
    }
}

/// `[alerts.webhook]`: the alert as a JSON body, with an optional bearer token or header secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenericWebhookConfig {
    pub enabled: bool,
    pub min_priority: Priority,
    pub url: Secret,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub bearer_token: Secret,
    /// A custom header (e.g. `X-Webhook-Secret`) carrying `header_value`, when both are set.
    pub header_name: String,
    pub header_value: Secret,
}

impl Default for GenericWebhookConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            min_priority: Priority::Warning,
            url: Secret::default(),
            bearer_token: Secret::default(),
            header_name: String::new(),
            header_value: Secret::default(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption at all: only for a local relay or tests.
    Plain,
}

/// `[alerts.email]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    pub enabled: bool,
    pub min_priority: Priority,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub security: SmtpSecurity,
    /// Empty means no authentication.
    pub username: String,
    pub password: Secret,
    pub from: String,
    pub to: Vec<String>,
    /// A PEM file with an extra certificate authority to trust for STARTTLS / TLS (a private
    /// relay's); empty means the system's roots only.
    pub ca_file: PathBuf,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            min_priority: Priority::Error,
            smtp_host: String::new(),
            smtp_port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: Secret::default(),
            from: String::new(),
            to: Vec::new(),
            ca_file: PathBuf::new(),
        }
    }
}

/// `[alerts.sms]`: Twilio's REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    pub enabled: bool,
    pub min_priority: Priority,
    pub api_base: String,
    pub account_sid: Secret,
    pub auth_token: Secret,
    pub from: String,
    pub to: Vec<String>,
    /// A long alert is cut into 160-character segments, at most this many per recipient.
    pub max_segments: usize,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            min_priority: Priority::Critical,
            api_base: "https://api.twilio.com".into(),
            account_sid: Secret::default(),
            auth_token: Secret::default(),
            from: String::new(),
            to: Vec::new(),
            max_segments: 3,
        }
    }
}

/// `[alerts.telegram]`: the Bot API's `sendMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramConfig {
    pub enabled: bool,
    pub min_priority: Priority,
    pub api_base: String,
    pub bot_token: Secret,
    pub chat_id: Secret,
    /// Telegram allows about one message per second to one chat.
    pub per_chat_interval_ms: u64,
    /// And about 30 messages per second for the whole bot.
    pub max_messages_per_second: u32,
    /// Two-way control: the bot long-polls `getUpdates` and obeys commands from the chat (and the
    /// allowed chats); needs the bot token and chat id, not `enabled`.
    pub control: bool,
    /// How long one `getUpdates` long poll waits for a command.
    pub poll_timeout_secs: u64,
    /// More chats obeyed besides `chat_id`: chat ids separated by commas (a secret, like the chat id).
    pub allowed_chat_ids: Secret,
}

impl TelegramConfig {
    /// Every chat whose commands are obeyed: `chat_id` and the allowed list (validated as integers).
    pub fn control_chat_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = std::iter::once(self.chat_id.expose())
            .chain(self.allowed_chat_ids.expose().split(','))
            .filter_map(|id| id.trim().parse::<i64>().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            min_priority: Priority::Warning,
            api_base: "https://api.telegram.org".into(),
            bot_token: Secret::default(),
            chat_id: Secret::default(),
            per_chat_interval_ms: 1000,
            max_messages_per_second: 30,
            control: false,
            poll_timeout_secs: 30,
            allowed_chat_ids: Secret::default(),
        }
    }
}

/// HTTP method of the heartbeat ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatMethod {
    #[default]
    Get,
    Post,
}

/// `[alerts.heartbeat]`: a dead man's switch (healthchecks.io, Cronitor, Uptime Kuma push…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeartbeatConfig {
    pub enabled: bool,
    /// The ping URL usually embeds a token, so it is a secret.
    pub url: Secret,
    pub method: HeartbeatMethod,
    pub interval_secs: u64,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self { enabled: false, url: Secret::default(), method: HeartbeatMethod::Get, interval_secs: 60 }
    }
}

impl AlertsConfig {
    /// Adds every problem found under `prefix` to `issues`.
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        let key = |k: &str| join(prefix, k);
        issues.check(self.queue_capacity == 0, key("queue_capacity"), self.queue_capacity, "must be at least 1");
        issues.check(
            self.group_window_secs > 86_400,
            key("group_window_secs"),
            self.group_window_secs,
            "must be between 0 and 86400 seconds",
        );
        issues.check(
            self.repeat_interval_minutes == 0 || self.repeat_interval_minutes > 10_080,
            key("repeat_interval_minutes"),
            self.repeat_interval_minutes,
            "must be between 1 and 10080 minutes (one week)",
        );
        issues.check(self.dead_letter_file.as_os_str().is_empty(), key("dead_letter_file"), "\"\"", "must name a file");
        for name in &self.announce_on {
            issues.check(
                !CHANNEL_NAMES.contains(&name.as_str()),
                key("announce_on"),
                format!("{name:?}"),
                "must list channel names: console, file, slack, discord, webhook, email, sms, telegram",
            );
        }
        self.throttle.validate(&key("throttle"), issues);
        self.delivery.validate(&key("delivery"), issues);
        issues.check(
            self.file.max_size_bytes < 1024,
            key("file.max_size_bytes"),
            self.file.max_size_bytes,
            "must be at least 1024 bytes",
        );
        issues.check(
            self.file.keep == 0 || self.file.keep > 1000,
            key("file.keep"),
            self.file.keep,
            "must be between 1 and 1000",
        );
        if self.file.enabled && self.file.path.as_os_str().is_empty() {
            issues.push(key("file.path"), "\"\"", "must name a file when the file channel is enabled");
        }
        self.slack.validate(&key("slack"), issues);
        self.discord.validate(&key("discord"), issues);
        self.webhook.validate(&key("webhook"), issues);
        self.email.validate(&key("email"), issues);
        self.sms.validate(&key("sms"), issues);
        self.telegram.validate(&key("telegram"), issues);
        self.heartbeat.validate(&key("heartbeat"), issues);
    }
}

/// Reports an enabled channel whose secret is missing, naming the environment variable to set.
fn require_secret(enabled: bool, secret: &Secret, prefix: &str, name: &str, issues: &mut Issues) {
    if enabled && !secret.is_set() {
        let key = join(prefix, name);
        let env = format!("WHALE_TRADER__{}", key.replace('.', "__").to_uppercase());
        issues.push(key, "\"\"", format!("must be set (from the environment: {env}) when the channel is enabled"));
    }
}

/// Checks a URL that is itself a secret (webhook URLs embed their token): an http(s) URL with a
/// host. Reports the rule, never the value.
fn require_secret_url(enabled: bool, secret: &Secret, prefix: &str, name: &str, issues: &mut Issues) {
    if enabled && secret.is_set() {
        let valid = reqwest::Url::parse(secret.expose().trim())
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()));
        if !valid {
            issues.push(join(prefix, name), crate::config::REDACTED, "must be an http:// or https:// URL with a host");
        }
    }
}

fn require_text(enabled: bool, value: &str, prefix: &str, name: &str, issues: &mut Issues) {
    if enabled && value.trim().is_empty() {
        issues.push(join(prefix, name), "\"\"", "must be set when the channel is enabled");
    }
}

fn require_http_url(value: &str, prefix: &str, name: &str, issues: &mut Issues) {
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        issues.push(join(prefix, name), format!("{value:?}"), "must be an http:// or https:// URL");
    }
}

impl ThrottleConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(
            self.max_alerts_per_window == 0,
            join(prefix, "max_alerts_per_window"),
            self.max_alerts_per_window,
            "must be at least 1 (CRITICAL alerts always pass anyway)",
        );
        issues.check(
            self.window_minutes == 0 || self.window_minutes > 1440,
            join(prefix, "window_minutes"),
            self.window_minutes,
            "must be between 1 and 1440 minutes",
        );
    }
}

impl DeliveryConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(self.max_retries > 20, join(prefix, "max_retries"), self.max_retries, "must be at most 20");
        issues.check(
            self.initial_backoff_ms == 0,
            join(prefix, "initial_backoff_ms"),
            self.initial_backoff_ms,
            "must be at least 1 ms",
        );
        issues.check(
            self.max_backoff_ms < self.initial_backoff_ms,
            join(prefix, "max_backoff_ms"),
            self.max_backoff_ms,
            "must be at least initial_backoff_ms",
        );
        issues.check(
            self.attempt_timeout_secs == 0 || self.attempt_timeout_secs > 300,
            join(prefix, "attempt_timeout_secs"),
            self.attempt_timeout_secs,
            "must be between 1 and 300 seconds",
        );
        issues.check(
            self.channel_queue_capacity == 0,
            join(prefix, "channel_queue_capacity"),
            self.channel_queue_capacity,
            "must be at least 1",
        );
        issues.check(
            self.drain_timeout_secs > 600,
            join(prefix, "drain_timeout_secs"),
            self.drain_timeout_secs,
            "must be at most 600 seconds",
        );
    }
}

impl WebhookChannelConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        require_secret(self.enabled, &self.webhook_url, prefix, "webhook_url", issues);
        require_secret_url(self.enabled, &self.webhook_url, prefix, "webhook_url", issues);
    }
}

impl GenericWebhookConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        require_secret(self.enabled, &self.url, prefix, "url", issues);
        require_secret_url(self.enabled, &self.url, prefix, "url", issues);
        if self.header_name.trim().is_empty() == self.header_value.is_set() && self.enabled {
            issues.push(
                join(prefix, "header_name"),
                format!("{:?}", self.header_name),
                "header_name and header_value must be set together",
            );
        }
        if !self.header_name.is_empty() && reqwest::header::HeaderName::from_bytes(self.header_name.as_bytes()).is_err()
        {
            issues.push(
                join(prefix, "header_name"),
                format!("{:?}", self.header_name),
                "is not a valid HTTP header name",
            );
        }
    }
}

impl EmailConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        require_text(self.enabled, &self.smtp_host, prefix, "smtp_host", issues);
        require_text(self.enabled, &self.from, prefix, "from", issues);
        issues.check(self.enabled && self.smtp_port == 0, join(prefix, "smtp_port"), self.smtp_port, "must not be 0");
        if self.enabled && self.to.is_empty() {
            issues.push(join(prefix, "to"), "[]", "must list at least one recipient when the channel is enabled");
        }
        if !self.username.is_empty() {
            require_secret(self.enabled, &self.password, prefix, "password", issues);
        }
        if self.enabled && !self.from.is_empty() && self.from.parse::<lettre::message::Mailbox>().is_err() {
            issues.push(join(prefix, "from"), format!("{:?}", self.from), "is not a valid email address");
        }
        for (i, to) in self.to.iter().enumerate() {
            if to.parse::<lettre::message::Mailbox>().is_err() {
                issues.push(join(prefix, &format!("to[{i}]")), format!("{to:?}"), "is not a valid email address");
            }
        }
        if self.enabled && !self.ca_file.as_os_str().is_empty() {
            let value = format!("{:?}", self.ca_file.display().to_string());
            if self.security == SmtpSecurity::Plain {
                issues.push(join(prefix, "ca_file"), value, "is only used with security = \"starttls\" or \"tls\"");
            } else if !self.ca_file.is_file() {
                issues.push(join(prefix, "ca_file"), value, "must be a readable PEM file");
            }
        }
    }
}

impl SmsConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        require_secret(self.enabled, &self.account_sid, prefix, "account_sid", issues);
        require_secret(self.enabled, &self.auth_token, prefix, "auth_token", issues);
        require_text(self.enabled, &self.from, prefix, "from", issues);
        if self.enabled {
            require_http_url(&self.api_base, prefix, "api_base", issues);
            if self.to.is_empty() {
                issues.push(
                    join(prefix, "to"),
                    "[]",
                    "must list at least one phone number when the channel is enabled",
                );
            }
        }
        issues.check(
            self.max_segments == 0 || self.max_segments > 10,
            join(prefix, "max_segments"),
            self.max_segments,
            "must be between 1 and 10",
        );
    }
}

impl TelegramConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        let used = self.enabled || self.control;
        require_secret(used, &self.bot_token, prefix, "bot_token", issues);
        require_secret(used, &self.chat_id, prefix, "chat_id", issues);
        if self.control {
            // Only numeric chat ids can be matched against an update's chat; the values stay secret.
            if self.chat_id.is_set() && self.chat_id.expose().trim().parse::<i64>().is_err() {
                issues.push(
                    join(prefix, "chat_id"),
                    crate::config::REDACTED,
                    "must be a numeric chat id when control = true",
                );
            }
            let bad = self
                .allowed_chat_ids
                .expose()
                .split(',')
                .filter(|id| !id.trim().is_empty())
                .any(|id| id.trim().parse::<i64>().is_err());
            if bad {
                issues.push(
                    join(prefix, "allowed_chat_ids"),
                    crate::config::REDACTED,
                    "must be numeric chat ids separated by commas",
                );
            }
        }
        issues.check(
            !(1..=50).contains(&self.poll_timeout_secs),
            join(prefix, "poll_timeout_secs"),
            self.poll_timeout_secs,
            "must be between 1 and 50 seconds",
        );
        if used {
            require_http_url(&self.api_base, prefix, "api_base", issues);
        }
        issues.check(
            self.max_messages_per_second == 0 || self.max_messages_per_second > 30,
            join(prefix, "max_messages_per_second"),
            self.max_messages_per_second,
            "must be between 1 and 30 (Telegram's bot limit)",
        );
    }
}

impl HeartbeatConfig {
    fn validate(&self, prefix: &str, issues: &mut Issues) {
        require_secret(self.enabled, &self.url, prefix, "url", issues);
        require_secret_url(self.enabled, &self.url, prefix, "url", issues);
        issues.check(
            self.interval_secs == 0 || self.interval_secs > 86_400,
            join(prefix, "interval_secs"),
            self.interval_secs,
            "must be between 1 and 86400 seconds",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(config: &AlertsConfig) -> Vec<String> {
        let mut issues = Issues::new();
        config.validate("alerts", &mut issues);
        issues.into_vec().into_iter().map(|i| i.key).collect()
    }

    #[test]
    fn announce_on_names_known_channels_only() {
        let config = AlertsConfig { announce_on: vec!["telegram".into(), "pager".into()], ..AlertsConfig::default() };
        assert_eq!(keys(&config), ["alerts.announce_on"]);
    }

    #[test]
    fn defaults_are_valid() {
        assert!(keys(&AlertsConfig::default()).is_empty());
    }

    #[test]
    fn an_enabled_channel_without_its_secret_names_the_key_and_env_var() {
        let mut config = AlertsConfig::default();
        config.telegram.enabled = true;
        config.slack.enabled = true;
        let mut issues = Issues::new();
        config.validate("alerts", &mut issues);
        let all = issues.into_vec();
        let found: Vec<&str> = all.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(found, ["alerts.slack.webhook_url", "alerts.telegram.bot_token", "alerts.telegram.chat_id"]);
        assert!(all[1].rule.contains("WHALE_TRADER__ALERTS__TELEGRAM__BOT_TOKEN"), "{}", all[1].rule);
    }

    #[test]
    fn telegram_control_needs_numeric_chat_ids_and_a_bounded_poll_without_showing_them() {
        let mut config = AlertsConfig::default();
        config.telegram.control = true;
        assert_eq!(keys(&config), ["alerts.telegram.bot_token", "alerts.telegram.chat_id"]);
        config.telegram.bot_token = Secret::new("1:abc");
        config.telegram.chat_id = Secret::new("@channel");
        config.telegram.allowed_chat_ids = Secret::new("222, x7");
        config.telegram.poll_timeout_secs = 51;
        let mut issues = Issues::new();
        config.validate("alerts", &mut issues);
        let all = issues.into_vec();
        let found: Vec<(&str, &str)> = all.iter().map(|i| (i.key.as_str(), i.value.as_str())).collect();
        assert_eq!(
            found,
            [
                ("alerts.telegram.chat_id", crate::config::REDACTED),
                ("alerts.telegram.allowed_chat_ids", crate::config::REDACTED),
                ("alerts.telegram.poll_timeout_secs", "51"),
            ]
        );
        config.telegram.chat_id = Secret::new("-100123");
        config.telegram.allowed_chat_ids = Secret::new(" 222 ,333,,");
        config.telegram.poll_timeout_secs = 50;
        assert!(keys(&config).is_empty());
        assert_eq!(config.telegram.control_chat_ids(), [-100123, 222, 333]);
    }

    #[test]
    fn email_needs_host_sender_recipients_and_valid_addresses() {
        let mut config = AlertsConfig::default();
        config.email.enabled = true;
        config.email.to = vec!["not an address".into()];
        config.email.username = "bot".into();
        assert_eq!(
            keys(&config),
            ["alerts.email.smtp_host", "alerts.email.from", "alerts.email.password", "alerts.email.to[0]"]
        );
    }

    #[test]
    fn throttle_and_delivery_bounds() {
        let mut config = AlertsConfig::default();
        config.throttle.max_alerts_per_window = 0;
        config.delivery.max_backoff_ms = 1;
        config.queue_capacity = 0;
        assert_eq!(
            keys(&config),
            ["alerts.queue_capacity", "alerts.throttle.max_alerts_per_window", "alerts.delivery.max_backoff_ms"]
        );
    }

    #[test]
    fn round_trips_through_toml() {
        let config = AlertsConfig::default();
        let text = toml::to_string(&config).unwrap();
        let back: AlertsConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn secret_urls_are_checked_alike_and_never_shown() {
        let mut config = AlertsConfig::default();
        config.slack.enabled = true;
        config.slack.webhook_url = Secret::new("zz-hook-no-scheme");
        config.webhook.enabled = true;
        config.webhook.url = Secret::new("ftp://example.com/zz-hook");
        config.heartbeat.enabled = true;
        config.heartbeat.url = Secret::new("https://");
        let mut issues = Issues::new();
        config.validate("alerts", &mut issues);
        let all = issues.into_vec();
        let found: Vec<&str> = all.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(found, ["alerts.slack.webhook_url", "alerts.webhook.url", "alerts.heartbeat.url"]);
        assert!(all.iter().all(|i| i.value == "***" && !i.to_string().contains("zz-hook")), "{all:?}");
        config.heartbeat.url = Secret::new("http://127.0.0.1:9/ping/uuid");
        config.webhook.url = Secret::new("https://hooks.example.com/x");
        config.slack.webhook_url = Secret::new("https://hooks.slack.com/services/T/B/X");
        assert!(keys(&config).is_empty());
    }
}
