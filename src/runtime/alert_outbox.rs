//! The store as the alert dispatcher's outbox (see [`crate::alerts::AlertOutbox`]): critical
//! alerts bound for a remote channel get an `alert_outbox` row before any channel tries them, and
//! `delivered_at` once one has. At start, rows still undelivered are raised again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::supervisor::TaskResult;
use crate::alerts::{Alert, AlertOutbox};
use crate::clock::Timestamp;
use crate::store::{AlertRecord, StoreCommand, StoreHandle};

/// Hands outbox writes to the store writer without making the dispatcher wait: an unbounded
/// queue (critical alerts are few) drained by [`StoreOutbox::forward`].
pub struct StoreOutbox {
    queue: mpsc::UnboundedSender<StoreCommand>,
    /// Ids already marked delivered in this run (several channels deliver the same alert).
    delivered: Mutex<HashSet<String>>,
}

impl StoreOutbox {
    /// The outbox and its forwarding task (run it until the outbox is dropped).
    pub fn new(store: StoreHandle) -> (Arc<Self>, impl Future<Output = TaskResult>) {
        let (queue, commands) = mpsc::unbounded_channel();
        (Arc::new(Self { queue, delivered: Mutex::default() }), Self::forward(commands, store))
    }

    async fn forward(mut commands: mpsc::UnboundedReceiver<StoreCommand>, store: StoreHandle) -> TaskResult {
        while let Some(command) = commands.recv().await {
            if let Err(e) = store.send(command).await {
                // The writer stops last, after the dispatcher: only a write in the last instant of
                // a shutdown can miss it, and then the alert is sent again at the next start.
                tracing::warn!(error = %e, "alert outbox write not queued");
                return Ok(());
            }
        }
        Ok(())
    }

    fn push(&self, command: StoreCommand) {
        if self.queue.send(command).is_err() {
            tracing::warn!("the alert outbox forwarder has stopped; the write is lost");
        }
    }
}

impl AlertOutbox for StoreOutbox {
    fn enqueued(&self, id: &str, alert: &Alert) {
        let body_json = match serde_json::to_string(alert) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(error = %e, title = %alert.title, "alert cannot be written to the outbox");
                return;
            }
        };
        self.push(StoreCommand::EnqueueAlert(AlertRecord {
            alert_id: id.to_owned(),
            priority: alert.priority.as_str().to_ascii_lowercase(),
            title: alert.title.clone(),
            body_json,
            created_at: alert.at,
            delivered_at: None,
        }));
    }

    fn delivered(&self, id: &str, at: Timestamp) {
        if self.delivered.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned()) {
            self.push(StoreCommand::MarkAlertDelivered { alert_id: id.to_owned(), at });
        }
    }
}

/// The alerts an earlier run raised but no remote channel delivered, ready to raise again under
/// their own outbox rows. A row that cannot be read is logged and skipped.
pub fn undelivered_alerts(rows: &[AlertRecord]) -> Vec<Alert> {
    rows.iter()
        .filter_map(|row| match serde_json::from_str::<Alert>(&row.body_json) {
            Ok(alert) => Some(
                Alert { outbox_id: Some(row.alert_id.clone()), ..alert }
                    .with_context("Re-sent", "not delivered before the daemon restarted"),
            ),
            Err(e) => {
                tracing::error!(alert_id = %row.alert_id, error = %e, "undelivered alert in the outbox cannot be read; skipped");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Priority;

    #[test]
    fn an_undelivered_row_comes_back_as_the_same_alert_under_its_own_id() {
        let alert = Alert::new(Priority::Critical, "Trading Killed", "Emergency stop", Timestamp(5))
            .with_context("Daily P&L", "-$523.45");
        let row = AlertRecord {
            alert_id: "alert-5-0000abcd".into(),
            priority: "critical".into(),
            title: alert.title.clone(),
            body_json: serde_json::to_string(&alert).unwrap_or_default(),
            created_at: Timestamp(5),
            delivered_at: None,
        };
        let broken = AlertRecord { alert_id: "x".into(), body_json: "{}".into(), ..row.clone() };
        let again = undelivered_alerts(&[row, broken]);
        assert_eq!(again.len(), 1, "the unreadable row is skipped");
        assert_eq!(again[0].outbox_id.as_deref(), Some("alert-5-0000abcd"));
        assert_eq!(
            (again[0].priority, again[0].title.as_str(), again[0].at),
            (Priority::Critical, "Trading Killed", Timestamp(5))
        );
        assert!(again[0].context.iter().any(|(k, _)| k == "Re-sent"));
    }

    #[test]
    fn an_undelivered_digest_comes_back_as_a_digest_that_must_reach_its_channels() {
        let mut digest = crate::alerts::Digest::default();
        let close = Alert::trade_closed("0xw", "m", rust_decimal::Decimal::TWO, "take_profit", Timestamp(1));
        digest.fold(&crate::alerts::Notification::single(close));
        let alert = digest.take(Timestamp(9)).expect("a digest");
        let row = AlertRecord {
            alert_id: "alert-9-00000001".into(),
            priority: alert.priority.as_str().to_ascii_lowercase(),
            title: alert.title.clone(),
            body_json: serde_json::to_string(&alert).unwrap_or_default(),
            created_at: Timestamp(9),
            delivered_at: None,
        };
        let again = undelivered_alerts(&[row]);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].labels.kind, crate::alerts::AlertKind::ThrottleDigest);
        assert!(again[0].must_reach(), "a re-sent digest is not held back by the throttle again");
        assert!(again[0].message.contains("Closed m (whale 0xw): P&L $2.00, take_profit"), "{}", again[0].message);
    }
}
