//! One task per channel: takes notifications from the channel's own bounded lane, sends each
//! part with a per-attempt timeout and retries (exponential backoff with jitter, or the wait the
//! provider asked for), and dead-letters what finally fails. A slow or dead provider only ever
//! fills its own lane.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio_util::sync::CancellationToken;

use super::channels::{AlertChannel, Part};
use super::config::DeliveryConfig;
use super::counters::{ChannelCounters, bump};
use super::dead_letter::DeadLetter;
use super::error::AlertError;
use super::lane::Lane;
use super::notification::Notification;
use super::outbox::AlertOutbox;
use crate::clock::{Clock, SystemClock};

/// Longest wait honoured from a provider's `Retry-After`.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

pub struct Worker {
    pub channel: Arc<dyn AlertChannel>,
    pub lane: Arc<Lane<Notification>>,
    pub counters: Arc<ChannelCounters>,
    pub delivery: DeliveryConfig,
    pub dead_letter: Arc<DeadLetter>,
    /// Cancelled when the shutdown drain deadline passes: stop retrying, dead-letter the rest.
    pub hurry: CancellationToken,
    /// Told about each delivery of an alert that has an outbox row (remote channels only).
    pub outbox: Option<Arc<dyn AlertOutbox>>,
}

impl Worker {
    pub async fn run(self) {
        while let Some(notification) = self.lane.recv().await {
            for part in self.channel.render(&notification) {
                let outcome = if self.hurry.is_cancelled() {
                    Err(AlertError::ShutDown { channel: self.channel.name().to_string() })
                } else {
                    tokio::select! {
                        result = self.deliver(&part) => result,
                        _ = self.hurry.cancelled() => Err(AlertError::ShutDown { channel: self.channel.name().to_string() }),
                    }
                };
                match outcome {
                    Ok(()) => {
                        bump(&self.counters.delivered);
                        if let (Some(outbox), Some(id)) = (&self.outbox, &notification.alert.outbox_id) {
                            outbox.delivered(id, SystemClock.now());
                        }
                    }
                    Err(error) => self.give_up(&notification, &part, &error).await,
                }
            }
        }
    }

    async fn deliver(&self, part: &Part) -> Result<(), AlertError> {
        let timeout = Duration::from_secs(self.delivery.attempt_timeout_secs.max(1));
        let name = self.channel.name();
        let attempt = || async {
            match tokio::time::timeout(timeout, self.channel.send(part)).await {
                Ok(result) => result,
                Err(_) => Err(AlertError::Timeout { channel: name.to_string(), after: timeout }),
            }
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.delivery.initial_backoff_ms))
            .with_max_delay(Duration::from_millis(self.delivery.max_backoff_ms))
            .with_max_times(self.delivery.max_retries as usize)
            .with_jitter();
        attempt
            .retry(backoff)
            .when(AlertError::is_retryable)
            .adjust(|error, planned| {
                // `planned` is None once the retries are used up: then stop, whatever was asked.
                planned.map(|delay| error.retry_after().map_or(delay, |asked| asked.min(RETRY_AFTER_CAP).max(delay)))
            })
            .notify(|error, delay| {
                bump(&self.counters.retried);
                tracing::warn!(channel = name, %error, retry_in_ms = delay.as_millis() as u64, "alert delivery failed, retrying");
            })
            .await
    }

    async fn give_up(&self, notification: &Notification, part: &Part, error: &AlertError) {
        let name = self.channel.name();
        tracing::error!(channel = name, %error, title = %notification.alert.title, "alert delivery failed for good; dead-lettered");
        if let Err(write_error) = self.dead_letter.record(name, notification, part, error).await {
            tracing::error!(channel = name, error = %write_error, "cannot write the alert dead-letter file");
        }
        // Counted once its line is in the file (or the write failed and was logged), so a reader
        // that sees the counter move finds the line.
        bump(&self.counters.dead_lettered);
    }
}
