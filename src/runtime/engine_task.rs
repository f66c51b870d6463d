//! The engine task: the thin async actor around [`Engine::process`]. One bounded input queue, no
//! locks around trading state.
//!
//! - inputs arrive on an `mpsc` of [`EngineMsg`] (feeds, control API, timers, live fills);
//! - after each input, its events and a checkpoint of the engine go to the store writer as one
//!   atomic group ([`crate::engine::journal`]); when the input produced orders, the task waits until that
//!   group is durable (write-ahead) and only then hands the orders to the executor; the outcome of
//!   each order (fills, positions) is written durably the same way before anything else happens;
//! - steps that record nothing (most price updates) write nothing, apart from a checkpoint every
//!   [`Persistence::checkpoint_every`], so that marks and trailing stops survive a restart too;
//! - the events then go out on a bounded `mpsc` (`send().await`: back-pressure, never dropped) to
//!   the recorder (metrics and alerts); each also goes, as telemetry, to the exporters' queue,
//!   which never makes the task wait (a full queue drops it, counted);
//! - observers read a `watch` of [`EngineStatus`] and the systemd watchdog a progress counter;
//! - after a restart, market data from before the checkpoint comes back as [`EngineMsg::WarmUp`],
//!   then [`EngineMsg::Reconcile`] asks the executor about the orders whose outcome was lost
//!   (never sending them again);
//! - a store failure stops the task with an error (fail-stop: the daemon exits 1 and restarts
//!   from its last durable checkpoint rather than trade on state it cannot persist);
//! - on cancellation the task stops taking new work, drains what is already queued, writes a final
//!   checkpoint, logs how many inputs it drained and returns.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, Timestamp};
use crate::market::WhaleTrade;
use crate::polymarket::PriceEvent;
use crate::store::{DurableReceipt, StoreCommand, StoreHandle};

use super::session_recorder::InputRecorder;
use crate::telemetry::CopyTelemetry;

use crate::engine::journal::{Journal, any_recorded, client_order_id_text};
use crate::engine::{
    DryRunPlanExecutor, Engine, EngineError, EngineEvent, EngineStatus, EngineView, ExecutionReport, Executor, Input,
    MarketView, Outputs, PlanExecutor, ReplayReport,
};

/// One message on the engine's queue.
#[derive(Debug, Clone)]
pub enum EngineMsg {
    /// Something happened, at `at` (replay stamps every event; live sources leave it to the task's
    /// clock). `seq` numbers the messages of a replayed session: the checkpoint remembers the last
    /// one applied, so that a restart resumes after it.
    Input { input: Input, at: Option<Timestamp>, seq: Option<u64> },
    /// Market data from before the checkpoint, fed again after a restart (see [`Engine::warm_up`]).
    WarmUp { input: Input, at: Timestamp },
    /// Ask the executor about every order written ahead whose outcome was lost in a restart, at
    /// `at` (replay: the time the warm-up reached) or the task clock's now.
    Reconcile { at: Option<Timestamp> },
    /// An order's *cumulative* outcome at the venue, as a live executor learns it (after sending or
    /// when reconciling): the task applies only the part the engine does not know yet, so fills
    /// recorded before a restart are never counted twice.
    VenueOutcome(ExecutionReport),
    /// Proves the task is alive (the watchdog's progress) without touching the engine.
    Liveness,
    /// The replayed session has no more lines: the task publishes a fresh view, then passes the
    /// feed's report on behind every event the session caused.
    SessionEnded(Box<ReplayReport>),
}

impl EngineMsg {
    /// An input at the task clock's "now".
    pub fn now(input: Input) -> Self {
        Self::Input { input, at: None, seq: None }
    }

    /// An input that happened at `at`.
    pub fn at(input: Input, at: Timestamp) -> Self {
        Self::Input { input, at: Some(at), seq: None }
    }

    /// Message `seq` of a replayed session, which happened at `at`.
    pub fn replayed(input: Input, at: Timestamp, seq: u64) -> Self {
        Self::Input { input, at: Some(at), seq: Some(seq) }
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
    /// Orders whose outcome was lost in a restart, reconciled with the executor (never resent).
    pub orders_reconciled: u64,
}

/// The engine task's link to the store.
#[derive(Debug)]
pub struct Persistence {
    pub store: StoreHandle,
    pub journal: Journal,
    /// The cursor of the checkpoint the engine was restored from (a replay resumes after it).
    pub cursor: Option<u64>,
    /// How often a step that records nothing still writes a checkpoint.
    pub checkpoint_every: Duration,
    /// `[record]`: every input stepped goes to the session recorder first, with its time.
    pub recording: Option<InputRecorder>,
    /// `[telemetry]`: the step's events as telemetry, named here where the engine's interner is.
    pub telemetry: Option<CopyTelemetry>,
}

impl Persistence {
    /// One checkpoint per second bounds what a crash can lose of price-driven state (marks, trailing
    /// stops, peak equity) without a write per price update.
    pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

    pub fn new(store: StoreHandle, journal: Journal, cursor: Option<u64>) -> Self {
        Self { store, journal, cursor, checkpoint_every: Self::CHECKPOINT_EVERY, recording: None, telemetry: None }
    }

    /// Records every input the engine steps through `recorder` (`[record]`).
    pub fn with_recording(mut self, recorder: Option<InputRecorder>) -> Self {
        self.recording = recorder;
        self
    }

    /// Emits the engine's events as telemetry (`[telemetry]`), without ever waiting for it.
    pub fn with_telemetry(mut self, telemetry: CopyTelemetry) -> Self {
        self.telemetry = Some(telemetry);
        self
    }
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
    pub task: JoinHandle<Result<EngineRunSummary, EngineError>>,
}

/// The executors the engine task hands orders to: the copy path's (`daemon.mode`) and the trade
/// plans' (a dry run, or the venue of `signals.venue`).
pub struct Executors {
    pub orders: Box<dyn Executor>,
    pub plans: Box<dyn PlanExecutor>,
}

impl From<Box<dyn Executor>> for Executors {
    fn from(orders: Box<dyn Executor>) -> Self {
        Self { orders, plans: Box::new(DryRunPlanExecutor) }
    }
}

impl<E: Executor + 'static> From<Box<E>> for Executors {
    fn from(orders: Box<E>) -> Self {
        Self { orders, plans: Box::new(DryRunPlanExecutor) }
    }
}

/// Spawns the engine task. `events` is where every [`EngineEvent`] goes once persisted (the
/// recorder's queue); `capacity` is `daemon.engine_queue_capacity`; without `persistence` nothing
/// is written (tests, benchmarks of the engine alone).
pub fn spawn_engine_task(
    engine: Engine,
    executors: impl Into<Executors>,
    clock: Arc<dyn Clock>,
    capacity: usize,
    events: mpsc::Sender<EngineEvent>,
    persistence: Option<Persistence>,
    cancel: CancellationToken,
) -> EngineHandle {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let (status_tx, status_rx) = watch::channel(engine.status());
    let (view_tx, view_rx) = watch::channel(Arc::new(engine.view()));
    let progress = Arc::new(AtomicU64::new(0));
    let Executors { orders: executor, plans: plan_executor } = executors.into();
    let actor = EngineActor {
        cursor: persistence.as_ref().and_then(|p| p.cursor),
        engine,
        executor,
        plan_executor,
        clock,
        events,
        persistence,
        receipts: VecDeque::new(),
        last_checkpoint: crate::clock::monotonic(),
        changed_since_checkpoint: false,
        reconciled: false,
        written_ahead: 0,
        status: status_tx,
        view: view_tx,
        view_published: crate::clock::monotonic(),
        progress: progress.clone(),
    };
    let task = tokio::spawn(actor.run(rx, cancel));
    EngineHandle { inputs: tx, status: status_rx, view: view_rx, progress, task }
}

/// Receipts of groups sent without waiting, checked as they complete; beyond this many the task
/// waits for the oldest (the writer is far behind: back-pressure).
const MAX_UNCONFIRMED: usize = 1024;

struct EngineActor {
    engine: Engine,
    executor: Box<dyn Executor>,
    plan_executor: Box<dyn PlanExecutor>,
    clock: Arc<dyn Clock>,
    events: mpsc::Sender<EngineEvent>,
    persistence: Option<Persistence>,
    /// Groups handed to the writer without waiting, oldest first.
    receipts: VecDeque<DurableReceipt>,
    /// The last replayed message applied.
    cursor: Option<u64>,
    last_checkpoint: Instant,
    changed_since_checkpoint: bool,
    reconciled: bool,
    /// Orders written ahead in this run (the crash tests abort at a given count).
    written_ahead: u64,
    status: watch::Sender<EngineStatus>,
    view: watch::Sender<Arc<EngineView>>,
    view_published: Instant,
    progress: Arc<AtomicU64>,
}

/// How urgently a step's records must reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Before anything else happens (orders about to be sent, fills just applied).
    Wait,
    /// In order, without waiting (decisions, state changes).
    Queue,
    /// After a batch of messages: a checkpoint if one is due, without waiting.
    Periodic,
    /// A checkpoint now, whatever changed, and wait for it (a clean stop).
    Final,
}

/// Messages taken from the queue at once: status, view and the periodic checkpoint are looked at
/// once per batch, and a busy queue costs one wake-up per batch instead of one per message.
const BATCH: usize = 256;

impl EngineActor {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<EngineMsg>,
        cancel: CancellationToken,
    ) -> Result<EngineRunSummary, EngineError> {
        let mut out = Outputs::new();
        let mut reports = Vec::new();
        let mut summary = EngineRunSummary::default();
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let received = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                received = rx.recv_many(&mut batch, BATCH) => received,
            };
            if received == 0 {
                break;
            }
            for msg in batch.drain(..) {
                self.handle(msg, &mut out, &mut reports, &mut summary).await?;
                summary.inputs_processed += 1;
            }
            self.after_batch().await?;
        }
        // Stop taking new inputs, then finish what is already queued: nothing accepted is lost.
        rx.close();
        while let Some(msg) = rx.recv().await {
            self.handle(msg, &mut out, &mut reports, &mut summary).await?;
            summary.inputs_processed += 1;
            summary.drained_on_stop += 1;
        }
        self.final_checkpoint().await?;
        self.status.send_replace(self.engine.status());
        self.view.send_replace(Arc::new(self.engine.view()));
        tracing::info!(
            drained = summary.drained_on_stop,
            processed = summary.inputs_processed,
            "engine stopped; drained {} queued inputs, final checkpoint written",
            summary.drained_on_stop
        );
        Ok(summary)
    }

    async fn handle(
        &mut self,
        msg: EngineMsg,
        out: &mut Outputs,
        reports: &mut Vec<ExecutionReport>,
        summary: &mut EngineRunSummary,
    ) -> Result<(), EngineError> {
        match msg {
            EngineMsg::Liveness => {}
            EngineMsg::SessionEnded(report) => {
                self.view.send_replace(Arc::new(self.engine.view()));
                self.view_published = crate::clock::monotonic();
                let mut ended = Outputs::new();
                ended.events.push(EngineEvent::SessionEnded(report));
                self.flush_events(&mut ended).await;
            }
            EngineMsg::WarmUp { input, at } => self.engine.warm_up(input, at),
            EngineMsg::Reconcile { at } => {
                let now = at.unwrap_or_else(|| self.clock.now());
                summary.orders_reconciled += self.reconcile(now, out, reports).await?;
            }
            EngineMsg::VenueOutcome(report) => {
                let now = self.clock.now();
                match self.engine.unapplied_part(&report) {
                    Some(part) => self.step(Input::Execution(part), now, None, out, reports).await?,
                    None => {
                        tracing::info!(order = %report.client_order_id, "outcome of an order already finished; ignored")
                    }
                }
            }
            EngineMsg::Input { input, at, seq } => {
                let now = at.unwrap_or_else(|| self.clock.now());
                self.record(now, &input).await;
                self.step(input, now, seq, out, reports).await?;
            }
        }
        self.progress.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Hands the input to the session recorder, stamped with the time it is stepped at, so that a
    /// replay of the recording steps it at the same time. Inputs a restart feeds again (warm-up)
    /// and venue outcomes (the replay's executor makes its own) are not inputs of this kind.
    async fn record(&mut self, now: Timestamp, input: &Input) {
        let Some(persistence) = self.persistence.as_mut() else { return };
        let Some(recorder) = persistence.recording.as_ref() else { return };
        if !recorder.record(now, input).await {
            // The writer has stopped and said why (error log, status); trading goes on.
            persistence.recording = None;
        }
    }

    /// Once per batch: observers see the new status, and a checkpoint is written if one is due.
    async fn after_batch(&mut self) -> Result<(), EngineError> {
        self.publish();
        let now = self.engine.status().last_input_at.unwrap_or_else(|| self.clock.now());
        self.commit(&Outputs::new(), now, Durability::Periodic).await
    }

    /// One input: decide, persist (write-ahead), then execute the orders it produced.
    async fn step(
        &mut self,
        input: Input,
        now: Timestamp,
        seq: Option<u64>,
        out: &mut Outputs,
        reports: &mut Vec<ExecutionReport>,
    ) -> Result<(), EngineError> {
        out.clear();
        self.engine.process(input, now, out);
        if seq.is_some() {
            self.cursor = seq;
        }
        self.changed_since_checkpoint = true;
        // Orders about to be sent and fills just applied are durable before anything else happens;
        // decisions and state changes are queued in order (a later order waits for them too).
        // A redemption request is written ahead like an order: durable before the redeemer sees it.
        // An approved plan's decision (and the plan book holding it) is durable before its order
        // is handed over, like a copy order; so is a plan's close before anyone is told.
        let urgent = out.events.iter().any(|e| {
            matches!(
                e,
                EngineEvent::FillApplied { .. }
                    | EngineEvent::RedemptionRequested(_)
                    | EngineEvent::PlanClosed(_)
                    | EngineEvent::PlanOrderReported(_)
            )
        });
        let durability =
            if out.intents.is_empty() && out.plan_orders.is_empty() && out.plan_cancels.is_empty() && !urgent {
                Durability::Queue
            } else {
                Durability::Wait
            };
        self.commit(out, now, durability).await?;
        self.written_ahead += out.intents.len() as u64;
        super::failpoints::after_write_ahead(self.written_ahead);
        self.flush_events(out).await;
        // A plan order is handed over only once written ahead (the commit above waited for it).
        if !out.plan_cancels.is_empty() {
            self.plan_executor.cancel(&out.plan_cancels, now);
            out.plan_cancels.clear();
        }
        for order in out.plan_orders.drain(..) {
            super::failpoints::before_plan_order_sent();
            self.plan_executor.submit(&order, now);
        }
        self.execute(0, now, out, reports).await
    }

    /// Hands the step's cancels to the executor, then sends `out.intents[from..]` (and every order
    /// their outcomes produce), each only once its record is durable, and records each outcome
    /// durably before going on.
    async fn execute(
        &mut self,
        from: usize,
        now: Timestamp,
        out: &mut Outputs,
        reports: &mut Vec<ExecutionReport>,
    ) -> Result<(), EngineError> {
        // Working orders the step stopped (the kill switch's entries) go first: the sooner a cancel
        // reaches the venue, the less of the order can still fill.
        if !out.cancels.is_empty() {
            reports.clear();
            self.executor.cancel(&out.cancels, now, reports);
            out.cancels.clear();
            if !reports.is_empty() {
                for report in reports.drain(..) {
                    self.engine.process(Input::Execution(report), now, out);
                }
                self.commit(out, now, Durability::Wait).await?;
                self.flush_events(out).await;
            }
        }
        let mut sent = from;
        while sent < out.intents.len() {
            let Some(order) = out.intents.get(sent).copied() else { break };
            sent += 1;
            let intent = order.order();
            let market =
                MarketView { book: self.engine.book(intent.token), rules: self.engine.venue_rules(intent.market) };
            reports.clear();
            self.executor.submit(&order, market, now, reports);
            tracing::info!(
                order = %client_order_id_text(intent.client_order_id),
                side = %intent.side,
                size = %intent.size,
                price = %intent.price,
                "order submitted to the executor"
            );
            for report in reports.drain(..) {
                self.engine.process(Input::Execution(report), now, out);
            }
            self.commit(out, now, Durability::Wait).await?;
            self.flush_events(out).await;
        }
        Ok(())
    }

    /// Orders written ahead whose outcome was lost (the engine restarted between writing an order
    /// and recording its outcome): ask the executor what became of each, apply the part not known
    /// yet, and never send them again. Runs once, after the warm-up.
    async fn reconcile(
        &mut self,
        now: Timestamp,
        out: &mut Outputs,
        reports: &mut Vec<ExecutionReport>,
    ) -> Result<u64, EngineError> {
        if std::mem::replace(&mut self.reconciled, true) {
            return Ok(0);
        }
        let orders = self.engine.pending_orders();
        out.clear();
        for intent in &orders {
            let market =
                MarketView { book: self.engine.book(intent.token), rules: self.engine.venue_rules(intent.market) };
            reports.clear();
            self.executor.reconcile(intent, market, now, reports);
            tracing::warn!(
                order = %client_order_id_text(intent.client_order_id),
                answers = reports.len(),
                "order written ahead before the restart, outcome unknown: reconciled with the executor, not sent again"
            );
            for report in reports.drain(..) {
                if let Some(part) = self.engine.unapplied_part(&report) {
                    self.engine.process(Input::Execution(part), now, out);
                }
            }
        }
        // Plan orders the restart left working: the venue is asked about each by its client order
        // id; what it says comes back through the queue.
        let plans = self.engine.risk().working_plan_orders();
        if !plans.is_empty() {
            tracing::warn!(
                orders = plans.len(),
                "plan orders written ahead before the restart: asking their venue, not sending them again"
            );
            self.plan_executor.reconcile(&plans, now);
        }
        if !orders.is_empty() {
            self.changed_since_checkpoint = true;
            self.commit(out, now, Durability::Wait).await?;
            self.flush_events(out).await;
            // Outcomes can produce orders of their own (a fill that trips a kill flattens the rest).
            self.execute(0, now, out, reports).await?;
        }
        Ok(orders.len() as u64)
    }

    /// Writes the records of the events in `out` and a checkpoint, as one atomic group, when the
    /// step recorded something or a periodic checkpoint is due.
    async fn commit(&mut self, out: &Outputs, now: Timestamp, durability: Durability) -> Result<(), EngineError> {
        let Some(persistence) = &self.persistence else { return Ok(()) };
        let recorded = any_recorded(&out.events);
        let due = self.changed_since_checkpoint
            && match durability {
                Durability::Final => true,
                Durability::Periodic => self.last_checkpoint.elapsed() >= persistence.checkpoint_every,
                Durability::Wait | Durability::Queue => false,
            };
        if !recorded && !due {
            return Ok(());
        }
        let mut commands = Vec::new();
        persistence.journal.record(&self.engine, &out.events, &mut commands);
        commands.extend(persistence.journal.checkpoint(&self.engine, self.cursor, now)?);
        let receipt =
            persistence.store.submit_durable(StoreCommand::Atomic(commands)).await.map_err(EngineError::Store)?;
        self.last_checkpoint = crate::clock::monotonic();
        self.changed_since_checkpoint = false;
        self.receipts.push_back(receipt);
        match durability {
            Durability::Wait | Durability::Final => self.confirm_all().await,
            Durability::Queue | Durability::Periodic => self.confirm_finished().await,
        }
    }

    /// Waits until every group sent so far is durable; the first refusal stops the engine.
    async fn confirm_all(&mut self) -> Result<(), EngineError> {
        while let Some(receipt) = self.receipts.pop_front() {
            receipt.durable().await.map_err(EngineError::Store)?;
        }
        Ok(())
    }

    /// Checks the groups the writer has finished with, without waiting (unless far too many wait).
    async fn confirm_finished(&mut self) -> Result<(), EngineError> {
        while let Some(receipt) = self.receipts.front_mut() {
            match receipt.try_outcome() {
                Some(outcome) => {
                    self.receipts.pop_front();
                    outcome.map_err(EngineError::Store)?;
                }
                None if self.receipts.len() > MAX_UNCONFIRMED => {
                    if let Some(oldest) = self.receipts.pop_front() {
                        oldest.durable().await.map_err(EngineError::Store)?;
                    }
                }
                None => break,
            }
        }
        Ok(())
    }

    /// At a clean stop: the latest checkpoint, durably.
    async fn final_checkpoint(&mut self) -> Result<(), EngineError> {
        let now = self.clock.now();
        self.commit(&Outputs::new(), now, Durability::Final).await?;
        self.confirm_all().await
    }

    /// Hands the step's events to the recorder, in order, waiting when its queue is full.
    async fn flush_events(&mut self, out: &mut Outputs) {
        let mut consumer_gone = false;
        let mut telemetry = self.persistence.as_mut().and_then(|p| p.telemetry.as_mut());
        for event in out.events.drain(..) {
            if let Some(telemetry) = telemetry.as_mut() {
                telemetry.observe(&self.engine, &event);
            }
            if !consumer_gone && self.events.send(event).await.is_err() {
                consumer_gone = true;
                tracing::error!("the engine's event consumer is gone; alerts and metrics miss these events");
            }
        }
    }

    /// Status after every message; the (allocating) view at most every [`VIEW_EVERY`] and on every
    /// trading-state change.
    fn publish(&mut self) {
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
            self.view_published = crate::clock::monotonic();
        }
    }
}

/// How often, at most, the observers' [`EngineView`] is rebuilt.
pub const VIEW_EVERY: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::OrderBook;
    use crate::polymarket::BookUpdate;

    #[test]
    fn price_feed_books_become_stamped_inputs_and_staleness_notices_do_not() {
        let json = r#"{"market":"m","asset_id":"t","timestamp":"1000","bids":[],"asks":[],"min_order_size":"5","tick_size":"0.01"}"#;
        let book = OrderBook::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        let at = Timestamp::from_secs(42);
        let msg = price_event_msg(PriceEvent::Book(BookUpdate { token_id: "t".into(), book, received_at: at }));
        assert!(
            matches!(msg, Some(EngineMsg::Input { input: Input::Book(_), at: Some(stamp), seq: None }) if stamp == at)
        );
        assert!(price_event_msg(PriceEvent::Stale { token_id: "t".into(), last_update: None }).is_none());
        assert!(price_event_msg(PriceEvent::Recovered { token_id: "t".into() }).is_none());
    }
}
