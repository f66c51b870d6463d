//! The one error type of the alert system.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while building channels or delivering a message.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// A channel's settings cannot be turned into a working client (validation should prevent it).
    #[error("alert channel {channel}: {field} = {value}: {rule}")]
    InvalidChannel { channel: &'static str, field: &'static str, value: String, rule: String },
    /// The provider may accept the message later: network error, 5xx, 429.
    #[error("{channel}: temporary failure: {reason}")]
    Temporary { channel: String, reason: String, retry_after: Option<Duration> },
    /// The provider refused the message for good (bad token, malformed request): no retry.
    #[error("{channel}: rejected: {reason}")]
    Rejected { channel: String, reason: String },
    /// One attempt took longer than `delivery.attempt_timeout_secs`.
    #[error("{channel}: no answer within {after:?}")]
    Timeout { channel: String, after: Duration },
    #[error("cannot write {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    /// Shutdown's drain deadline passed before the message could be delivered.
    #[error("{channel}: shutdown before delivery")]
    ShutDown { channel: String },
}

impl AlertError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, AlertError::Temporary { .. } | AlertError::Timeout { .. } | AlertError::Io { .. })
    }

    /// The wait the provider asked for (429 `Retry-After`, Telegram's `parameters.retry_after`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AlertError::Temporary { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
