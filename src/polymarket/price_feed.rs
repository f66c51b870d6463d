//! The price feed: polls CLOB books (batched `POST /books`) for the tokens the engine watches —
//! every token with an open position or a pending order — and reports books and staleness.
//!
//! The engine owns the watch list and publishes it on a `watch` channel; a change triggers an
//! immediate poll (a new entry needs a book now, not at the next tick). Books and staleness
//! transitions go to the engine on a bounded mpsc (back-pressure, never dropped). A book the
//! venue answers with but that cannot be used (crossed, out of order, …) never reaches the engine: it
//! is counted and logged through the daemon's [`SharedBookRefusals`], and its token stays as stale
//! as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::book::OrderBook;
use super::book_refusals::SharedBookRefusals;
use super::config::{PolymarketConfig, PriceFeedConfig};
use super::market_data::{ClobMarketData, MarketDataError};
use super::staleness::{StalenessTracker, TokenFreshness};
use crate::clock::{Clock, Timestamp};

/// A fresh book for a watched token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookUpdate {
    pub token_id: String,
    pub book: OrderBook,
    /// When the feed received it (our clock); staleness counts from here.
    pub received_at: Timestamp,
}

/// What the price feed tells the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceEvent {
    Book(BookUpdate),
    /// No fresh book for `stale_after_secs`: new entries on this token must be rejected `stale_price`.
    Stale {
        token_id: String,
        last_update: Option<Timestamp>,
    },
    /// A fresh book arrived for a token that was stale (the `Book` event follows).
    Recovered {
        token_id: String,
    },
}

/// What the daemon can observe about the price feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PriceFeedSnapshot {
    pub tokens: BTreeMap<String, TokenFreshness>,
    pub stale_tokens: usize,
    pub last_poll_at: Option<Timestamp>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
}

/// The running price feed.
pub struct PriceFeedHandle {
    pub snapshot: watch::Receiver<PriceFeedSnapshot>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the price feed; it stops when `cancel` fires or the engine's queue closes. Books it
/// refuses are counted in `refusals`.
pub fn spawn_price_feed(
    config: &PolymarketConfig,
    watched: watch::Receiver<BTreeSet<String>>,
    clock: Arc<dyn Clock>,
    events: mpsc::Sender<PriceEvent>,
    refusals: SharedBookRefusals,
    cancel: CancellationToken,
) -> Result<PriceFeedHandle, MarketDataError> {
    let client = ClobMarketData::new(config)?;
    let (snapshot_tx, snapshot_rx) = watch::channel(PriceFeedSnapshot::default());
    let feed = PriceFeed {
        settings: config.price_feed.clone(),
        client,
        clock,
        events,
        snapshot: snapshot_tx,
        tracker: StalenessTracker::new(config.price_feed.stale_after_secs),
        refusals,
    };
    let task = tokio::spawn(feed.run(watched, cancel));
    Ok(PriceFeedHandle { snapshot: snapshot_rx, task })
}

struct PriceFeed {
    settings: PriceFeedConfig,
    client: ClobMarketData,
    clock: Arc<dyn Clock>,
    events: mpsc::Sender<PriceEvent>,
    snapshot: watch::Sender<PriceFeedSnapshot>,
    tracker: StalenessTracker,
    refusals: SharedBookRefusals,
}

/// The engine's queue closed or the feed was cancelled.
struct Stop;

impl PriceFeed {
    async fn run(mut self, mut watched: watch::Receiver<BTreeSet<String>>, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(self.settings.poll_interval());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut watch_open = true;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
                changed = watched.changed(), if watch_open => {
                    // A closed watch keeps its last list: keep polling it.
                    watch_open = changed.is_ok();
                }
            }
            let tokens = watched.borrow_and_update().clone();
            if self.poll(&tokens, &cancel).await.is_err() {
                return;
            }
        }
    }

    async fn poll(&mut self, tokens: &BTreeSet<String>, cancel: &CancellationToken) -> Result<(), Stop> {
        let started = self.clock.now();
        self.tracker.sync(tokens, started);
        let batches: Vec<Vec<String>> = tokens
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .chunks(self.settings.books_batch_size.max(1))
            .map(<[String]>::to_vec)
            .collect();
        let client = &self.client;
        let mut results = futures::stream::iter(batches)
            .map(|batch| async move { client.books(&batch).await })
            .buffer_unordered(self.settings.max_concurrency.max(1));

        let mut failure = None;
        loop {
            let next = tokio::select! {
                next = results.next() => next,
                _ = cancel.cancelled() => return Err(Stop),
            };
            let Some(result) = next else { break };
            match result {
                Ok(parsed) => {
                    if !parsed.refused.is_empty() {
                        let now = self.clock.now();
                        for refused in &parsed.refused {
                            self.refusals.record(refused, now);
                        }
                    }
                    for book in parsed.books {
                        // Only what the engine asked for (a batch answer could carry others).
                        if !tokens.contains(&book.asset_id) {
                            continue;
                        }
                        let received_at = self.clock.now();
                        let token_id = book.asset_id.clone();
                        if self.tracker.record_update(&token_id, received_at) {
                            send(&self.events, PriceEvent::Recovered { token_id: token_id.clone() }, cancel).await?;
                        }
                        send(&self.events, PriceEvent::Book(BookUpdate { token_id, book, received_at }), cancel)
                            .await?;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "price-feed batch failed");
                    failure = Some(e.to_string());
                }
            }
        }
        drop(results);

        let now = self.clock.now();
        for (token_id, last_update) in self.tracker.newly_stale(now) {
            tracing::warn!(token_id = %token_id, ?last_update, "price is stale");
            send(&self.events, PriceEvent::Stale { token_id, last_update }, cancel).await?;
        }
        let tracked = self.tracker.tokens().clone();
        self.snapshot.send_modify(|s| {
            s.stale_tokens = tracked.values().filter(|t| t.stale).count();
            s.tokens = tracked;
            s.last_poll_at = Some(started);
            match failure {
                None => {
                    s.consecutive_failures = 0;
                    s.last_error = None;
                }
                Some(e) => {
                    s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                    s.last_error = Some(e);
                }
            }
        });
        Ok(())
    }
}

async fn send(events: &mpsc::Sender<PriceEvent>, event: PriceEvent, cancel: &CancellationToken) -> Result<(), Stop> {
    tokio::select! {
        sent = events.send(event) => sent.map_err(|_| Stop),
        _ = cancel.cancelled() => Err(Stop),
    }
}
