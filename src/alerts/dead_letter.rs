//! The dead-letter file: one JSON line per message that finally failed, so nothing is lost
//! silently and an operator can replay it by hand.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use serde_json::json;

use super::channels::Part;
use super::error::AlertError;
use super::format::alert_json;
use super::notification::Notification;
use crate::clock::{Clock, SystemClock};

#[derive(Debug)]
pub struct DeadLetter {
    path: Mutex<PathBuf>,
    /// One writer at a time, so lines from several workers never interleave.
    write: tokio::sync::Mutex<()>,
}

impl DeadLetter {
    pub fn new(path: PathBuf) -> Self {
        Self { path: Mutex::new(path), write: tokio::sync::Mutex::new(()) }
    }

    pub fn set_path(&self, path: PathBuf) {
        *self.path.lock().unwrap_or_else(PoisonError::into_inner) = path;
    }

    pub fn path(&self) -> PathBuf {
        self.path.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub async fn record(
        &self,
        channel: &str,
        notification: &Notification,
        part: &Part,
        error: &AlertError,
    ) -> Result<(), AlertError> {
        let line = json!({
            "failed_at": SystemClock.now().to_rfc3339(),
            "channel": channel,
            "error": error.to_string(),
            "to": part.to,
            "subject": part.subject,
            "body": part.body,
            "alert": alert_json(notification),
        });
        let _one_writer = self.write.lock().await;
        super::channels::append_line(&self.path(), &format!("{line}\n")).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::future::BoxFuture;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::alerts::alert::{Alert, Priority};
    use crate::alerts::channels::AlertChannel;
    use crate::alerts::config::DeliveryConfig;
    use crate::alerts::counters::ChannelCounters;
    use crate::alerts::lane::{Lane, Wake};
    use crate::alerts::worker::Worker;
    use crate::clock::Timestamp;

    /// A provider that refuses every message for good, counting the attempts.
    #[derive(Default)]
    struct Refusing {
        attempts: AtomicUsize,
    }

    impl AlertChannel for Refusing {
        fn name(&self) -> &str {
            "refusing"
        }

        fn render(&self, notification: &Notification) -> Vec<Part> {
            vec![Part::body(notification.alert.title.clone())]
        }

        fn send<'a>(&'a self, _part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(AlertError::Rejected { channel: "refusing".into(), reason: "HTTP 401: no".into() }) })
        }
    }

    /// The counter is what tests and `/metrics` watch: when it says "dead-lettered", the line must
    /// already be in the file. Holding the file's writer lock keeps the worker inside `record`; on
    /// this single-threaded runtime the worker runs only when the test yields, so the check below
    /// is deterministic.
    #[tokio::test]
    async fn a_dead_letter_is_counted_only_once_its_line_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("dead.jsonl");
        let dead_letter = Arc::new(DeadLetter::new(path.clone()));
        let busy = dead_letter.write.lock().await;
        let channel = Arc::new(Refusing::default());
        let lane = Arc::new(Lane::new(8, Wake::EveryPush));
        let counters = Arc::new(ChannelCounters::default());
        let delivery = DeliveryConfig { max_retries: 0, ..DeliveryConfig::default() };
        let worker = Worker {
            channel: channel.clone(),
            lane: Arc::clone(&lane),
            counters: Arc::clone(&counters),
            delivery,
            dead_letter: Arc::clone(&dead_letter),
            hurry: CancellationToken::new(),
            outbox: None,
        };
        let task = tokio::spawn(worker.run());
        lane.push(Notification::single(Alert::new(Priority::Critical, "Halted", "m", Timestamp::from_millis(0))));

        for _ in 0..1000 {
            if channel.attempts.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(channel.attempts.load(Ordering::SeqCst), 1, "the worker never tried the channel");
        for _ in 0..100 {
            tokio::task::yield_now().await; // every chance to run ahead to the counter
        }
        assert_eq!(counters.dead_lettered.load(Ordering::Acquire), 0, "counted before its line was written");

        drop(busy);
        // The write itself runs on tokio's blocking pool: wait for it, within a bound.
        let counted = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while counters.dead_lettered.load(Ordering::Acquire) == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        });
        assert!(counted.await.is_ok(), "the dead letter was never counted");
        let text = std::fs::read_to_string(&path).expect("dead-letter file");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("HTTP 401: no"), "{text}");
        lane.close();
        task.await.expect("worker ends once its lane is closed");
    }
}
