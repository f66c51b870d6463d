//! How a signal and a batch summary read, in every medium: the seed's Markdown message, its JSON
//! payload, and the Telegram (MarkdownV2), Slack (mrkdwn), Discord (markdown) and plain-text
//! (email) renderings, each split at section boundaries into messages the medium accepts.
//!
//! | file | job |
//! | --- | --- |
//! | `doc` | a message as sections of lines, written per [`Medium`], and the splitting |
//! | `numbers` | prices with thousands separators, money, signed percents (Decimal only) |
//! | `signal` | [`Signal`]: one approved plan's message and JSON |
//! | `summary` | [`BatchSummary`]: a window's decisions summed up, ranked, and its message |
//!
//! Pure: the alert channels call [`Announcement::parts`] and friends when an alert carries one.

mod doc;
mod numbers;
mod signal;
mod summary;

#[cfg(test)]
pub(crate) use summary::tests as summary_tests;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use doc::{Line, Medium, Section, Span, render, render_parts};
pub use numbers::{grouped, money, percent_move, plain, price, signed_percent};
pub use signal::{Signal, direction_emoji};
pub use summary::{BatchSummary, RankedPlan, ReasonCount, RegimeSummary, TierCount};

/// What an announcement alert carries: the channels render it in their own medium instead of the
/// alert's plain title and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "announcement")]
pub enum Announcement {
    Signal(Signal),
    Summary(BatchSummary),
}

impl Announcement {
    /// The messages for `medium`, each within its limit.
    pub fn parts(&self, medium: Medium) -> Vec<String> {
        match self {
            Announcement::Signal(signal) => signal.parts(medium),
            Announcement::Summary(summary) => summary.parts(medium),
        }
    }

    /// The email subject.
    pub fn subject(&self) -> String {
        match self {
            Announcement::Signal(signal) => signal.subject(),
            Announcement::Summary(summary) => summary.subject(),
        }
    }

    /// The JSON payload (the webhook's body).
    pub fn format_json(&self) -> Value {
        match self {
            Announcement::Signal(signal) => signal.format_json(),
            Announcement::Summary(summary) => summary.format_json(),
        }
    }
}
