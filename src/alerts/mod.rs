//! The alert dispatcher: the owner hears about a breaker trip at 3 a.m. within
//! seconds, once, on the right channel — and the engine never waits for it.
//!
//! ```text
//!  engine / health / supervisor
//!      │ AlertSender::raise(alert)      one short lock + push + wake; never awaits
//!      ▼
//!  lane (bounded for non-critical: oldest dropped and counted; critical never dropped)
//!      ▼
//!  dispatcher task ── silences (pure): held back, counted; never a must-reach alert
//!      │             ── Policy (pure): halt suppression, grouping, repeat, resolve
//!      │             └ per-channel route (min_priority) + Throttle (10 / 15 min, CRITICAL passes)
//!      ├─► lane ─► worker: console        each worker: per-attempt timeout, retries with
//!      ├─► lane ─► worker: file           exponential backoff + jitter (backon), provider
//!      ├─► lane ─► worker: slack          rate limits and Retry-After, dead-letter file
//!      ├─► lane ─► worker: discord
//!      ├─► lane ─► worker: webhook        a slow or dead channel only fills its own lane
//!      ├─► lane ─► worker: email (SMTP)
//!      ├─► lane ─► worker: sms (Twilio)
//!      └─► lane ─► worker: telegram
//!  heartbeat task: pings a dead man's switch while the engine's progress counter advances
//! ```
//!
//! Start it with [`AlertsBuilder`], raise with [`AlertSender`], read [`AlertCountersSnapshot`].

mod alert;
pub mod channels;
mod config;
mod counters;
mod dead_letter;
mod digest;
mod dispatcher;
mod error;
pub mod format;
mod heartbeat;
mod lane;
mod notification;
mod outbox;
mod policy;
mod sender;
mod silence;
mod worker;

pub use alert::{Alert, AlertKind, Labels, Priority, RiskFigures, usd};
pub use channels::{AlertChannel, Part};
pub use config::{
    AlertsConfig, ConsoleChannelConfig, DeliveryConfig, EmailConfig, FileChannelConfig, GenericWebhookConfig,
    HeartbeatConfig, HeartbeatMethod, SmsConfig, SmtpSecurity, TelegramConfig, ThrottleConfig, WebhookChannelConfig,
};
pub use counters::{AlertCountersSnapshot, ChannelCountersSnapshot};
pub use digest::{Digest, HeldClose, MAX_DIGEST_CLOSES};
pub use dispatcher::{AlertsBuilder, AlertsHandle};
pub use error::AlertError;
pub use notification::{Notice, Notification};
pub use outbox::AlertOutbox;
pub use policy::{Delivery, Held, Policy, PolicySettings, Throttle};
pub use sender::{AlertSender, Handoff};
pub use silence::{
    MAX_SILENCE_MILLIS, MatchKey, Matcher, Silence, SilenceBook, SilenceError, format_duration, parse_duration,
};
