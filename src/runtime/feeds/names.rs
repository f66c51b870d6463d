//! The names refresher: market names from the Gamma API for every market we hold or have orders
//! in, handed to the engine (which keeps them in its catalogue and has the store cache them).
//!
//! A market is due when the engine's catalogue has no Gamma names for it, or has names older than
//! `polymarket.names.refresh_hours`. Markets are asked for in batches of [`GAMMA_BATCH`] as soon as
//! the engine starts watching them, and again every [`CHECK_EVERY`]; a market asked for is not asked
//! again for [`RETRY_AFTER_MS`], answered or not. Nothing waits for a name: the engine trades with
//! the names it has (the whale trade's own, or short ids), so a Gamma outage delays nothing.
//! Failed requests and malformed rows are counted for `/metrics` and logged at most once per cause
//! and [`RETRY_AFTER_MS`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::log_gate::LogGate;
use crate::clock::{Clock, Timestamp};
use crate::engine::{EngineView, Input};
use crate::polymarket::{GAMMA_BATCH, GammaClient, GammaError};
use crate::runtime::{EngineMsg, TaskResult};

/// How often every watched market is checked for due names (besides every change of the watched set).
pub const CHECK_EVERY: Duration = Duration::from_secs(60);

/// A market asked for is not asked again sooner; a cause is not logged again sooner.
pub const RETRY_AFTER_MS: i64 = 60_000;

/// What `/metrics` shows of the refresher.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NamesSnapshot {
    /// Markets named in the engine's catalogue.
    pub markets_named: usize,
    /// `GET /markets` requests answered, and those that failed (after their retries).
    pub requests_total: u64,
    pub failed_total: u64,
    /// Markets named by Gamma and handed to the engine.
    pub markets_fetched_total: u64,
    /// Rows of an answer that could not be used (skipped).
    pub malformed_rows_total: u64,
    pub last_error: Option<String>,
}

/// Of the `due` markets, those not asked for since `now - RETRY_AFTER_MS` (pure).
pub fn to_ask(due: Vec<String>, asked: &HashMap<String, Timestamp>, now: Timestamp) -> Vec<String> {
    due.into_iter().filter(|m| asked.get(m).is_none_or(|at| now.millis_since(*at) >= RETRY_AFTER_MS)).collect()
}

/// The refresher task's connections.
pub(super) struct NamesRefresher {
    pub gamma: GammaClient,
    pub inputs: mpsc::Sender<EngineMsg>,
    pub view: watch::Receiver<Arc<EngineView>>,
    pub clock: Arc<dyn Clock>,
    pub refresh_ms: i64,
    pub snapshot: watch::Sender<NamesSnapshot>,
}

/// The engine's queue closed or the daemon is stopping.
struct Stop;

impl NamesRefresher {
    /// Runs until `stop`.
    pub async fn run(mut self, stop: CancellationToken) -> TaskResult {
        let mut ticker = tokio::time::interval(CHECK_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut asked: HashMap<String, Timestamp> = HashMap::new();
        let mut log = LogGate::default();
        let mut view_open = true;
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                _ = ticker.tick() => {}
                changed = self.view.changed(), if view_open => {
                    if changed.is_err() {
                        view_open = false;
                        continue;
                    }
                }
            }
            let now = self.clock.now();
            let view = self.view.borrow_and_update().clone();
            self.snapshot.send_modify(|s| s.markets_named = view.names.len());
            let due = view.names.due_for_refresh(view.watched_markets.keys().map(String::as_str), now, self.refresh_ms);
            // What was asked and not answered stays out until its retry: a market Gamma does not
            // know is not asked for on every view change.
            asked.retain(|_, at| now.millis_since(*at) < RETRY_AFTER_MS);
            let ask = to_ask(due, &asked, now);
            for batch in ask.chunks(GAMMA_BATCH) {
                for market in batch {
                    asked.insert(market.clone(), now);
                }
                if self.fetch(batch, &mut log, &stop).await.is_err() {
                    stop.cancelled().await;
                    return Ok(());
                }
            }
        }
    }

    /// Asks Gamma for one batch and hands what it names to the engine.
    async fn fetch(&mut self, batch: &[String], log: &mut LogGate, stop: &CancellationToken) -> Result<(), Stop> {
        let answer = tokio::select! {
            answer = self.gamma.markets(batch, self.clock.now()) => answer,
            () = stop.cancelled() => return Err(Stop),
        };
        let now = self.clock.now();
        let page = match answer {
            Ok(page) => page,
            Err(e) => {
                self.failed(batch, &e, now, log);
                return Ok(());
            }
        };
        self.snapshot.send_modify(|s| {
            s.requests_total += 1;
            s.markets_fetched_total += page.names.len() as u64;
            s.malformed_rows_total += page.malformed.len() as u64;
        });
        for row in &page.malformed {
            if let Some(held) = log.admit(row.cause(), now) {
                tracing::warn!(error = %row, cause = row.cause(), held_back = held, "gamma market row skipped");
            }
        }
        // Only the markets asked for: an answer cannot name what we did not ask about.
        let names: Vec<_> = page.names.into_iter().filter(|n| batch.contains(&n.condition_id)).collect();
        if names.is_empty() {
            return Ok(());
        }
        for name in &names {
            tracing::info!(market = %name.condition_id, question = %name.question, "market named by gamma");
        }
        tokio::select! {
            sent = self.inputs.send(EngineMsg::now(Input::MarketNames(names))) => sent.map_err(|_| Stop),
            () = stop.cancelled() => Err(Stop),
        }
    }

    fn failed(&self, batch: &[String], error: &GammaError, now: Timestamp, log: &mut LogGate) {
        let text = error.to_string();
        self.snapshot.send_modify(|s| {
            s.failed_total += 1;
            s.last_error = Some(text.clone());
        });
        let cause = match error {
            GammaError::Http(_) => "http",
            GammaError::Parse(_) => "parse",
            GammaError::BadConditionId(_) => "condition_id",
        };
        if let Some(held) = log.admit(cause, now) {
            tracing::warn!(
                error = %text,
                markets = batch.len(),
                held_back = held,
                "gamma did not name the markets; their short ids stand in until the next try"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_market_asked_for_waits_for_its_retry() {
        let mut asked = HashMap::new();
        asked.insert("0xa".to_owned(), Timestamp(1_000));
        let due = vec!["0xa".to_owned(), "0xb".to_owned()];
        assert_eq!(to_ask(due.clone(), &asked, Timestamp(1_000 + RETRY_AFTER_MS - 1)), ["0xb"]);
        assert_eq!(to_ask(due, &asked, Timestamp(1_000 + RETRY_AFTER_MS)), ["0xa", "0xb"]);
    }

    #[test]
    fn each_cause_is_logged_once_per_interval_and_the_rest_counted() {
        let mut gate = LogGate::default();
        assert_eq!(gate.admit("http", Timestamp(0)), Some(0));
        assert_eq!(gate.admit("http", Timestamp(10)), None);
        assert_eq!(gate.admit("endDate", Timestamp(10)), Some(0));
        assert_eq!(gate.admit("http", Timestamp(20)), None);
        assert_eq!(gate.admit("http", Timestamp(RETRY_AFTER_MS)), Some(2));
    }
}
