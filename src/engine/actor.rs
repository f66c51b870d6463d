//! The engine task: the thin async actor around [`Engine::process`]. One bounded input queue, no
//! locks around trading state.
//!
//! - inputs arrive on an `mpsc` of [`EngineMsg`] (feeds, control API, timers, live fills);
//! - after each input the orders it produced go to the executor at once (a simulated executor
//!   answers immediately and its reports are applied in the same iteration);
//! - events go out on a bounded `mpsc` (`send().await`: back-pressure, never dropped) to the store
//!   writer, which fans out to the audit log, analytics and alerts;
//! - observers read a `watch` of [`EngineStatus`] and the systemd watchdog a progress counter;
//! - on cancellation the task stops taking new work, drains what is already queued, logs how many
//!   inputs it drained and returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, Timestamp};
use crate::polymarket::{PriceEvent, WhaleTrade};

use super::core::Engine;
use super::executor::{Executor, MarketView};
use super::io::{EngineEvent, EngineStatus, ExecutionReport, Input, Outputs};
use super::view::EngineView;

/// One input for the engine task, optionally stamped with the time it happened (replay stamps every
/// event; live sources leave it to the task's clock).
#[derive(Debug, Clone)]
pub struct EngineMsg {
    pub input: Input,
    pub at: Option<Timestamp>,
}

impl EngineMsg {
    /// An input at the task clock's "now".
    pub fn now(input: Input) -> Self {
        Self { input, at: None }
    }

    /// An input that happened at `at`.
    pub fn at(input: Input, at: Timestamp) -> Self {
        Self { input, at: Some(at) }
    }
}

/// A whale feed trade as an engine input (stamped on arrival by the engine task's clock).
pub fn whale_trade_msg(trade: WhaleTrade) -> EngineMsg {
    EngineMsg::now(Input::WhaleTrade(Box::new(trade)))
}

/// A price feed event as an engine input: a book goes in stamped with the time the feed received
/// it. Staleness notices need no input: the engine checks each token's freshness before copying
/// (`stale_price`) and the feed as a whole on every tick (`stale_feed` → reducing).
pub fn price_event_msg(event: PriceEvent) -> Option<EngineMsg> {
    match event {
        PriceEvent::Book(update) => Some(EngineMsg::at(Input::Book(Box::new(update.book)), update.received_at)),
        PriceEvent::Stale { .. } | PriceEvent::Recovered { .. } => None,
    }
}

impl From<Input> for EngineMsg {
    fn from(input: Input) -> Self {
        Self::now(input)
    }
}

/// How the task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineRunSummary {
    pub inputs_processed: u64,
    /// Inputs that were still queued when the stop came, processed before returning.
    pub drained_on_stop: u64,
}

/// What the daemon keeps of a running engine task.
#[derive(Debug)]
pub struct EngineHandle {
    /// The engine's one input queue (bounded: senders wait when it is full).
    pub inputs: mpsc::Sender<EngineMsg>,
    /// The latest status (counters and trading state), updated after every input.
    pub status: watch::Receiver<EngineStatus>,
    /// The risk snapshot and open positions for `/status` and `/metrics`, refreshed at most every
    /// [`VIEW_EVERY`] and on every trading-state change (building it allocates, so not per event).
    pub view: watch::Receiver<Arc<EngineView>>,
    /// Inputs processed so far; the watchdog checks that it moves.
    pub progress: Arc<AtomicU64>,
    pub task: JoinHandle<EngineRunSummary>,
}

/// Spawns the engine task. `events` is where every [`EngineEvent`] goes (the store writer's queue);
/// `capacity` is `daemon.engine_queue_capacity`.
pub fn spawn_engine_task(
    engine: Engine,
    executor: Box<dyn Executor>,
    clock: Arc<dyn Clock>,
    capacity: usize,
    events: mpsc::Sender<EngineEvent>,
    cancel: CancellationToken,
) -> EngineHandle {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let (status_tx, status_rx) = watch::channel(engine.status());
    let (view_tx, view_rx) = watch::channel(Arc::new(engine.view()));
    let progress = Arc::new(AtomicU64::new(0));
    let actor = EngineActor {
        engine,
        executor,
        clock,
        events,
        status: status_tx,
        view: view_tx,
        view_published: std::time::Instant::now(),
        progress: progress.clone(),
    };
    let task = tokio::spawn(actor.run(rx, cancel));
    EngineHandle { inputs: tx, status: status_rx, view: view_rx, progress, task }
}

struct EngineActor {
    engine: Engine,
    executor: Box<dyn Executor>,
    clock: Arc<dyn Clock>,
    events: mpsc::Sender<EngineEvent>,
    status: watch::Sender<EngineStatus>,
    view: watch::Sender<Arc<EngineView>>,
    view_published: std::time::Instant,
    progress: Arc<AtomicU64>,
}

/// How often, at most, the observers' [`EngineView`] is rebuilt.
pub const VIEW_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl EngineActor {
    async fn run(mut self, mut rx: mpsc::Receiver<EngineMsg>, cancel: CancellationToken) -> EngineRunSummary {
        let mut out = Outputs::new();
        let mut reports = Vec::new();
        let mut summary = EngineRunSummary::default();
        loop {
            let msg = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                msg = rx.recv() => match msg {
                    Some(msg) => msg,
                    None => break,
                },
            };
            self.handle(msg, &mut out, &mut reports).await;
            summary.inputs_processed += 1;
        }
        // Stop taking new inputs, then finish what is already queued: nothing accepted is lost.
        rx.close();
        while let Some(msg) = rx.recv().await {
            self.handle(msg, &mut out, &mut reports).await;
            summary.inputs_processed += 1;
            summary.drained_on_stop += 1;
        }
        self.status.send_replace(self.engine.status());
        self.view.send_replace(Arc::new(self.engine.view()));
        tracing::info!(
            drained = summary.drained_on_stop,
            processed = summary.inputs_processed,
            "engine stopped; drained {} queued inputs",
            summary.drained_on_stop
        );
        summary
    }

    async fn handle(&mut self, msg: EngineMsg, out: &mut Outputs, reports: &mut Vec<ExecutionReport>) {
        let now = msg.at.unwrap_or_else(|| self.clock.now());
        out.clear();
        self.engine.process(msg.input, now, out);
        // Write-ahead: the events recorded so far (among them every order intent with its client
        // order id) are handed to the store writer before any order reaches the executor.
        self.flush_events(out).await;
        // Orders produced by this input (and by fills of those orders) go out now.
        let mut sent = 0;
        while sent < out.intents.len() {
            let Some(intent) = out.intents.get(sent).copied() else { break };
            sent += 1;
            let market =
                MarketView { book: self.engine.book(intent.token), rules: self.engine.venue_rules(intent.market) };
            reports.clear();
            self.executor.submit(&intent, market, now, reports);
            for report in reports.drain(..) {
                self.engine.process(Input::Execution(report), now, out);
            }
            self.flush_events(out).await;
        }
        for order in out.cancels.drain(..) {
            tracing::warn!(%order, "entry still working at kill: the executor must cancel it");
        }
        self.progress.fetch_add(1, Ordering::Relaxed);
        let status = self.engine.status();
        let state_changed = self.status.borrow().trading_state != status.trading_state;
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            if changed {
                *current = status;
            }
            changed
        });
        if state_changed || self.view_published.elapsed() >= VIEW_EVERY {
            self.view.send_replace(Arc::new(self.engine.view()));
            self.view_published = std::time::Instant::now();
        }
    }

    /// Sends the step's events to the consumer, in order, waiting when its queue is full.
    async fn flush_events(&mut self, out: &mut Outputs) {
        let mut consumer_gone = false;
        for event in out.events.drain(..) {
            if !consumer_gone && self.events.send(event).await.is_err() {
                consumer_gone = true;
                tracing::error!("the engine's event consumer is gone; events are no longer persisted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polymarket::{BookUpdate, OrderBook};

    #[test]
    fn price_feed_books_become_stamped_inputs_and_staleness_notices_do_not() {
        let json = r#"{"market":"m","asset_id":"t","timestamp":"1000","bids":[],"asks":[],"min_order_size":"5","tick_size":"0.01"}"#;
        let book = OrderBook::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        let at = Timestamp::from_secs(42);
        let msg = price_event_msg(PriceEvent::Book(BookUpdate { token_id: "t".into(), book, received_at: at }));
        assert!(matches!(msg, Some(EngineMsg { input: Input::Book(_), at: Some(stamp) }) if stamp == at));
        assert!(price_event_msg(PriceEvent::Stale { token_id: "t".into(), last_update: None }).is_none());
        assert!(price_event_msg(PriceEvent::Recovered { token_id: "t".into() }).is_none());
    }
}
