//! Why a venue call failed. A venue's refusal keeps its own code and message (they go to the
//! audit trail as they were) beside the cause in our words, so that the engine can act on the
//! cause (a clock skew is retried after a resync, a balance refusal ends the plan) without parsing
//! text.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rules::RuleBreach;

/// What a venue's refusal means, whichever venue said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// Not enough balance or margin for the order.
    InsufficientBalance,
    /// A symbol filter refused it (price tick, lot size, notional, percent price).
    FilterFailure,
    /// The signature did not verify (wrong secret, or a request altered on the way).
    InvalidSignature,
    /// The API key is unknown, lacks the permission, or the IP is not allowed.
    Unauthorized,
    /// The request's timestamp is outside the receive window (our clock or the network).
    TimestampOutsideRecvWindow,
    /// Too many requests; the venue says when to come back.
    RateLimited,
    /// The venue has no order with that id.
    UnknownOrder,
    /// A reduce-only order would not reduce a position.
    ReduceOnlyRejected,
    /// The symbol is unknown or not trading.
    SymbolUnavailable,
    /// Any other refusal (its code and message say what).
    Other,
}

impl RefusalReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::InsufficientBalance => "insufficient_balance",
            RefusalReason::FilterFailure => "filter_failure",
            RefusalReason::InvalidSignature => "invalid_signature",
            RefusalReason::Unauthorized => "unauthorized",
            RefusalReason::TimestampOutsideRecvWindow => "timestamp_outside_recv_window",
            RefusalReason::RateLimited => "rate_limited",
            RefusalReason::UnknownOrder => "unknown_order",
            RefusalReason::ReduceOnlyRejected => "reduce_only_rejected",
            RefusalReason::SymbolUnavailable => "symbol_unavailable",
            RefusalReason::Other => "other",
        }
    }
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a venue call failed. Messages never carry a key, a secret or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The venue answered and said no.
    #[error("{venue} refused ({reason}): code {code}: {message}")]
    Refused { venue: &'static str, reason: RefusalReason, code: i64, message: String },
    /// 429: the request weight or order rate is used up; nothing is sent before `retry_after`.
    #[error("{venue}: rate limited (429), backing off {}s", .retry_after.as_secs_f32().ceil())]
    RateLimited { venue: &'static str, retry_after: Duration },
    /// 418: the IP is banned for repeating after 429s; nothing is sent before `retry_after`.
    #[error("{venue}: IP banned (418) for {}s after repeated rate limits", .retry_after.as_secs_f32().ceil())]
    Banned { venue: &'static str, retry_after: Duration },
    /// Not sent: an earlier 429/418 holds every call until its time is up.
    #[error("{venue}: not sent, backing off {}s more after: {cause}", .wait.as_secs_f32().ceil())]
    BackingOff { venue: &'static str, wait: Duration, cause: String },
    /// The request did not get an answer (DNS, refused, reset, TLS, timeout): it may or may not
    /// have reached the venue, so an order is asked about, never sent again.
    #[error("{venue} {endpoint}: {detail}")]
    Transport { venue: &'static str, endpoint: String, detail: String },
    /// An HTTP status without the venue's error payload.
    #[error("{venue} {endpoint}: HTTP {status}: {body}")]
    Status { venue: &'static str, endpoint: String, status: u16, body: String },
    /// The answer was not in the venue's documented shape.
    #[error("{venue} {endpoint}: unexpected answer: {detail}")]
    Malformed { venue: &'static str, endpoint: String, detail: String },
    #[error("{venue} {endpoint}: the answer is larger than the {limit} bytes allowed (venues.*.max_response_bytes)")]
    TooLarge { venue: &'static str, endpoint: String, limit: usize },
    /// The order breaks the symbol's rules; it was not sent.
    #[error("not sent: {0}")]
    Rules(#[from] RuleBreach),
    #[error("{venue}: {detail}")]
    Config { venue: &'static str, detail: String },
}

impl VenueError {
    /// The refusal's cause, when the venue refused.
    pub fn refusal(&self) -> Option<RefusalReason> {
        match self {
            VenueError::Refused { reason, .. } => Some(*reason),
            VenueError::RateLimited { .. } | VenueError::Banned { .. } | VenueError::BackingOff { .. } => {
                Some(RefusalReason::RateLimited)
            }
            VenueError::Rules(_) => Some(RefusalReason::FilterFailure),
            _ => None,
        }
    }

    /// The kind of failure, to count failures by (the message carries waits, codes and counts).
    pub fn cause(&self) -> &'static str {
        match self {
            VenueError::Refused { reason, .. } => reason.as_str(),
            VenueError::RateLimited { .. } => "rate_limited",
            VenueError::Banned { .. } => "banned",
            VenueError::BackingOff { .. } => "backing_off",
            VenueError::Transport { .. } => "transport",
            VenueError::Status { .. } => "status",
            VenueError::Malformed { .. } => "malformed",
            VenueError::TooLarge { .. } => "too_large",
            VenueError::Rules(_) => "rules",
            VenueError::Config { .. } => "config",
        }
    }

    /// The request may have reached the venue without us hearing the answer: an order must be
    /// asked about by its client order id before anything else is decided.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, VenueError::Transport { .. } | VenueError::Malformed { .. } | VenueError::TooLarge { .. })
            || matches!(self, VenueError::Status { status, .. } if *status >= 500)
    }
}
