//! The channels: each turns a [`Notification`] into provider requests and sends one of them.
//!
//! A channel only knows its provider. Retries, timeouts, dead-lettering and queueing belong to
//! the worker (`super::worker`) that drives it, so every channel gets them the same way.

mod chat_webhook;
mod console;
mod discord;
mod email;
pub(crate) mod file;
mod http;
mod slack;
mod sms;
mod telegram;
mod webhook;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

pub use chat_webhook::ChatWebhookChannel;
pub use console::ConsoleChannel;
pub use discord::{discord_announcement, discord_payload};
pub use email::EmailChannel;
pub use file::FileChannel;
pub(crate) use file::append_line;
/// How a provider's error reply is read (status, `Retry-After`, body); the one parser of provider replies.
pub use http::classify as classify_reply;
pub(crate) use http::execute as execute_request;
pub use slack::{slack_announcement, slack_payload};
pub use sms::{SmsChannel, sms_segments};
pub use telegram::{TelegramChannel, escape_markdown_v2, split_message, telegram_text};
pub use webhook::WebhookChannel;

use super::error::AlertError;
use super::notification::Notification;

/// One request a channel makes for a notification: a Telegram message part, one SMS segment to
/// one number, one webhook body. Retried and dead-lettered one by one, so a retry never re-sends
/// a part the provider already accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The recipient, for channels that address people one by one (SMS).
    pub to: Option<String>,
    /// The subject line, for email.
    pub subject: Option<String>,
    pub body: String,
}

impl Part {
    pub fn body(body: impl Into<String>) -> Self {
        Self { to: None, subject: None, body: body.into() }
    }
}

/// A destination for alerts. Implement it to add a channel with [`super::AlertsBuilder::channel`].
pub trait AlertChannel: Send + Sync + 'static {
    /// Stable name, used in counters, logs and the dead-letter file.
    fn name(&self) -> &str;

    /// The requests this notification takes (usually one).
    fn render(&self, notification: &Notification) -> Vec<Part>;

    /// Sends one part, once. No retry here: the worker retries retryable errors.
    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>>;
}

/// Spaces requests at least `interval` apart (provider rate limits), on tokio's clock.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next_free: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(interval: Duration) -> Self {
        Self { interval, next_free: Mutex::new(None) }
    }

    /// Waits for this caller's slot.
    pub async fn ready(&self) {
        let slot = {
            let mut next_free = self.next_free.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            let slot = next_free.map_or(now, |t| t.max(now));
            *next_free = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// The provider asked us to wait (429): nobody goes before `now + wait`.
    pub fn defer(&self, wait: Duration) {
        let mut next_free = self.next_free.lock().unwrap_or_else(PoisonError::into_inner);
        let until = Instant::now() + wait;
        *next_free = Some(next_free.map_or(until, |t| t.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_spaces_requests_and_honours_a_deferral() {
        let pacer = Pacer::new(Duration::from_secs(1));
        let start = Instant::now();
        pacer.ready().await;
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        pacer.defer(Duration::from_secs(5));
        pacer.ready().await;
        assert_eq!(start.elapsed(), Duration::from_secs(6));
    }
}
