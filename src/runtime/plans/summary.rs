//! The batch summary of trade plans: every `signals.summary.every_minutes` (when plans arrived) and
//! whenever asked (`POST /signals/summary`, `whale-trader signals summary`), the decisions recorded
//! since the last summary (since the start, for the first) are read back from the store, summed
//! up and sent to the alert channels.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::alerts::{Alert, AlertSender};
use crate::api::SummaryReply;
use crate::clock::{Clock, Timestamp};
use crate::config::Config;
use crate::plans::PlanDecision;
use crate::plans::format::BatchSummary;
use crate::runtime::supervisor::TaskResult;
use crate::store::{SqliteStore, StoreError};

/// At most this many decisions go into one summary (the latest ones).
const MAX_DECISIONS: usize = 100_000;

/// Why no summary could be made.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("reading the plan decisions from the store: {0}")]
    Store(#[from] StoreError),
    #[error("the store read did not finish: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What the summary task reads and where it sends.
pub struct Summaries {
    pub config: watch::Receiver<Arc<Config>>,
    pub store_path: PathBuf,
    pub alerts: AlertSender,
    pub clock: Arc<dyn Clock>,
}

impl Summaries {
    /// The latest `limit` decisions recorded after the `after`-th, and the number of the last one.
    async fn decisions_after(&self, after: i64, limit: usize) -> Result<(Vec<PlanDecision>, i64), SummaryError> {
        let (path, timeout) = (self.store_path.clone(), self.config.borrow().store.busy_timeout());
        let read = tokio::task::spawn_blocking(move || {
            SqliteStore::open_read_only(&path, timeout).and_then(|store| store.plan_decisions_after(after, limit))
        });
        Ok(read.await??)
    }

    /// The summary of the decisions after the `after`-th, sent when `send_empty` or when it has
    /// any; with the number of the last decision it covers.
    async fn make(&self, after: i64, now: Timestamp, send_empty: bool) -> Result<(BatchSummary, i64), SummaryError> {
        let (decisions, last) = self.decisions_after(after, MAX_DECISIONS).await?;
        let summary = BatchSummary::from_decisions(&decisions, self.config.borrow().signals.summary.top_n, now);
        if send_empty || summary.received > 0 {
            self.alerts.raise(Alert::signal_summary(summary.clone()));
        }
        Ok((summary, last))
    }

    /// Runs until `stop`: a summary on schedule and one per request.
    pub async fn run(self, mut requests: mpsc::Receiver<SummaryReply>, stop: CancellationToken) -> TaskResult {
        // Decisions from before this start were summarised by the run that made them.
        let mut after = match self.decisions_after(0, 1).await {
            Ok((_, last)) => last,
            Err(e) => {
                tracing::warn!(error = %e, "the plan decisions before this start cannot be read; the first summary may repeat them");
                0
            }
        };
        loop {
            let every = self.config.borrow().signals.summary.every_minutes;
            let wait = if every == 0 { Duration::MAX } else { Duration::from_secs(u64::from(every) * 60) };
            let reply = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => None,
                request = requests.recv() => match request {
                    Some(reply) => Some(reply),
                    None => { stop.cancelled().await; return Ok(()); }
                },
            };
            let now = self.clock.now();
            let made = self.make(after, now, reply.is_some()).await;
            let made = match made {
                Ok((summary, last)) => {
                    tracing::info!(received = summary.received, approved = summary.approved, "plan batch summary made");
                    after = last;
                    Ok(summary)
                }
                Err(e) => {
                    tracing::error!(error = %e, "plan batch summary not made");
                    Err(e)
                }
            };
            if let Some(reply) = reply {
                let _ = reply.send(made.map(|s| serde_json::to_value(s).unwrap_or_default()));
            }
        }
    }
}
