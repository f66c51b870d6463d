//! The recorder: the one consumer of the engine's events. It persists decisions and trading-state
//! changes through the store writer (waiting for queue space, never dropping) and turns trades and
//! state changes into alerts (a non-blocking hand-off to the dispatcher).

use tokio::sync::mpsc;

use super::supervisor::TaskResult;
use crate::alerts::{Alert, AlertSender, Priority};
use crate::clock::Timestamp;
use crate::config::Mode;
use crate::engine::{AuditRecord, EngineEvent};
use crate::store::{Decision, DecisionRecord, StoreCommand, StoreHandle, TradingStateChange};

pub struct Recorder {
    store: StoreHandle,
    alerts: AlertSender,
    mode: Mode,
}

impl Recorder {
    pub fn new(store: StoreHandle, alerts: AlertSender, mode: Mode) -> Self {
        Self { store, alerts, mode }
    }

    /// Runs until the engine's event stream ends (the engine has stopped), recording every event.
    pub async fn run(self, mut events: mpsc::Receiver<EngineEvent>) -> TaskResult {
        let mut recorded = 0u64;
        while let Some(event) = events.recv().await {
            self.record(event).await;
            recorded += 1;
        }
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "the store could not commit the last engine events");
        }
        tracing::info!(recorded, "recorder stopped: every engine event recorded");
        Ok(())
    }

    async fn record(&self, event: EngineEvent) {
        match event {
            EngineEvent::Audit(record) => self.record_audit(record).await,
            EngineEvent::StateChanged(transition) => {
                let change = TradingStateChange {
                    from_state: transition.from.as_str().to_string(),
                    to_state: transition.to.as_str().to_string(),
                    reason: transition.reason.as_str().to_string(),
                    detail: Some(transition.detail.clone()).filter(|d| !d.is_empty()),
                    changed_at: transition.at,
                };
                self.persist(StoreCommand::RecordTradingStateChange(change)).await;
            }
            EngineEvent::BreakerWarning { daily_pnl, threshold, at } => {
                let alert = Alert::new(
                    Priority::Warning,
                    "Circuit Breaker Warning",
                    format!("Today's P&L {} is at 80% of the breaker threshold -{}", daily_pnl.round_dp(2), threshold),
                    at,
                )
                .with_dedup_key("circuit_breaker_warning");
                self.alerts.raise(alert);
            }
            EngineEvent::OrderIntentRecorded { .. }
            | EngineEvent::FillApplied { .. }
            | EngineEvent::WhaleTradeSeen { .. } => {}
        }
    }

    async fn record_audit(&self, record: AuditRecord) {
        match record {
            AuditRecord::TradeOpened(t) => {
                let at = parse_timestamp(&t.timestamp);
                self.alerts.raise(Alert::trade_opened(
                    &t.whale_address,
                    &t.market_id,
                    &t.side,
                    t.notional_usd,
                    t.price,
                    at,
                ));
                let decision = DecisionRecord {
                    whale_trade_key: t.trade_id.clone(),
                    wallet: t.whale_address,
                    market_id: t.market_id,
                    token_id: t.token_id,
                    decision: Decision::Approved,
                    reason_code: "copied".into(),
                    detail: Some(format!("{} {} @ {} ({})", t.side, t.size, t.price, self.mode)),
                    decided_at: at,
                };
                self.persist(StoreCommand::RecordDecision(decision)).await;
            }
            AuditRecord::TradeClosed(t) => {
                let at = parse_timestamp(&t.timestamp);
                self.alerts.raise(Alert::trade_closed("-", &t.trade_id, t.pnl_usd, &t.reason, at));
            }
            AuditRecord::TradeRejected(t) => {
                let at = parse_timestamp(&t.timestamp);
                self.alerts.raise(Alert::trade_rejected(&t.whale_address, &t.market_id, &t.reason, at));
                let decision = DecisionRecord {
                    whale_trade_key: t.whale_trade_id,
                    wallet: t.whale_address,
                    market_id: t.market_id,
                    token_id: t.token_id,
                    decision: Decision::Rejected,
                    reason_code: t.reason,
                    detail: Some(t.detail),
                    decided_at: at,
                };
                self.persist(StoreCommand::RecordDecision(decision)).await;
            }
            AuditRecord::TradingStateChanged(change) => {
                let at = parse_timestamp(&change.timestamp);
                let text = format!("{} → {}: {} ({})", change.from, change.to, change.reason, change.detail);
                let priority = if change.to == "active" { Priority::Warning } else { Priority::Critical };
                let alert = Alert::new(priority, format!("Trading {}", change.to), text, at)
                    .with_context("From", change.from)
                    .with_context("Reason", change.reason);
                self.alerts.raise(alert);
            }
        }
    }

    /// Waits for queue space (back-pressure); a store failure is logged, never swallowed silently.
    async fn persist(&self, command: StoreCommand) {
        if let Err(e) = self.store.send(command).await {
            tracing::error!(error = %e, "could not queue an engine event for the store");
        }
    }
}

fn parse_timestamp(text: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Timestamp::from(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}
