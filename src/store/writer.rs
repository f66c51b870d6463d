//! The single store writer: one thread, one bounded queue, group commit.
//!
//! ```text
//!  engine ──send / submit_durable──► mpsc (bounded: senders wait, nothing is dropped)
//!                                      │
//!  store-writer thread:  take one ─► drain what is queued (≤ max_batch_size, ≤ max_batch_delay)
//!                        ─► drop superseded snapshots ─► one transaction, one commit (one fsync)
//!                        ─► acknowledge each durable command with its own outcome
//! ```
//! While one batch is being fsynced, new commands pile up in the queue and go out together in the
//! next one, so the cost of durability per event falls as the load rises. On cancellation or when
//! every handle is dropped, the writer stops taking new commands, commits everything already queued,
//! checkpoints the WAL and closes the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::backend::Store;
use super::command::{StoreCommand, superseded};
use super::config::StoreConfig;
use super::error::StoreError;

/// How the writer batches; normally taken from [`StoreConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterSettings {
    pub max_batch_size: usize,
    pub max_batch_delay: Duration,
    pub queue_capacity: usize,
}

impl From<&StoreConfig> for WriterSettings {
    fn from(config: &StoreConfig) -> Self {
        Self {
            max_batch_size: config.max_batch_size,
            max_batch_delay: config.max_batch_delay(),
            queue_capacity: config.writer_queue_capacity,
        }
    }
}

type Ack = oneshot::Sender<Result<(), StoreError>>;

/// One queued command; `ack` is present when the sender waits for durability.
struct WriteRequest {
    command: StoreCommand,
    ack: Option<Ack>,
}

/// Counters the writer keeps as it works (cheap atomics, read at any time).
#[derive(Debug, Default)]
struct WriterStats {
    transactions: AtomicU64,
    failed_transactions: AtomicU64,
    commands_written: AtomicU64,
    commands_coalesced: AtomicU64,
    commands_refused: AtomicU64,
    largest_batch: AtomicU64,
    deepest_queue: AtomicU64,
}

/// A reading of the writer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStatsSnapshot {
    /// Committed transactions (= fsyncs of the WAL).
    pub transactions: u64,
    /// Transactions that failed as a whole (every command in them was reported failed).
    pub failed_transactions: u64,
    /// Commands applied and committed.
    pub commands_written: u64,
    /// Snapshots skipped because a later one in the same batch replaced them.
    pub commands_coalesced: u64,
    /// Commands refused on their own (duplicate id, unknown order, invalid record, …).
    pub commands_refused: u64,
    /// The most commands ever taken into one batch.
    pub largest_batch: u64,
    /// The most commands ever waiting when the writer looked: the queue plus the batch just taken from it
    /// (so at most `queue_capacity + max_batch_size`).
    pub deepest_queue: u64,
}

impl WriterStats {
    fn snapshot(&self) -> WriterStatsSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WriterStatsSnapshot {
            transactions: read(&self.transactions),
            failed_transactions: read(&self.failed_transactions),
            commands_written: read(&self.commands_written),
            commands_coalesced: read(&self.commands_coalesced),
            commands_refused: read(&self.commands_refused),
            largest_batch: read(&self.largest_batch),
            deepest_queue: read(&self.deepest_queue),
        }
    }
}

/// The engine's side of the writer. Cheap to clone; every clone feeds the same queue.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    queue: mpsc::Sender<WriteRequest>,
    stats: Arc<WriterStats>,
}

impl std::fmt::Debug for WriteRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteRequest")
            .field("command", &self.command.kind())
            .field("durable", &self.ack.is_some())
            .finish()
    }
}

impl StoreHandle {
    /// Queues `command` without waiting for it to be written (coalescible, high-rate state). Waits
    /// only for queue space: back-pressure, never a drop. Refusals are logged by the writer.
    pub async fn send(&self, command: StoreCommand) -> Result<(), StoreError> {
        self.queue.send(WriteRequest { command, ack: None }).await.map_err(|_| StoreError::WriterStopped)
    }

    /// Queues `command` and returns a receipt that resolves once it is committed, so the caller can
    /// keep working (or queue more) while the fsync runs.
    pub async fn submit_durable(&self, command: StoreCommand) -> Result<DurableReceipt, StoreError> {
        let (ack, receipt) = oneshot::channel();
        self.queue.send(WriteRequest { command, ack: Some(ack) }).await.map_err(|_| StoreError::WriterStopped)?;
        Ok(DurableReceipt(receipt))
    }

    /// Writes `command` and returns once it is durable on disk (or refused, with the reason).
    /// Use before an order reaches the executor, before a fill changes a position, before a
    /// trading-state change takes effect.
    pub async fn write_durable(&self, command: StoreCommand) -> Result<(), StoreError> {
        self.submit_durable(command).await?.durable().await
    }

    /// Returns once everything queued before this call is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.write_durable(StoreCommand::Atomic(Vec::new())).await
    }

    /// How many commands are waiting in the queue right now.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity().saturating_sub(self.queue.capacity())
    }

    pub fn stats(&self) -> WriterStatsSnapshot {
        self.stats.snapshot()
    }
}

/// Resolves when its command is committed, or with the reason it was not.
#[derive(Debug)]
pub struct DurableReceipt(oneshot::Receiver<Result<(), StoreError>>);

impl DurableReceipt {
    pub async fn durable(self) -> Result<(), StoreError> {
        self.0.await.unwrap_or(Err(StoreError::WriterStopped))
    }

    /// The outcome if the writer has already committed (or refused) the command; `None` while it is
    /// still queued. Lets a caller that does not wait still notice a refusal soon after.
    pub fn try_outcome(&mut self) -> Option<Result<(), StoreError>> {
        match self.0.try_recv() {
            Ok(outcome) => Some(outcome),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(StoreError::WriterStopped)),
        }
    }
}

/// The running writer thread. [`StoreWriter::join`] waits for its orderly end.
#[derive(Debug)]
pub struct StoreWriter {
    finished: oneshot::Receiver<Result<(), StoreError>>,
    stats: Arc<WriterStats>,
}

impl StoreWriter {
    /// Waits until the writer has committed everything queued, checkpointed and closed the database
    /// (after `cancel` fires or every handle is dropped). Returns its final counters.
    pub async fn join(self) -> Result<WriterStatsSnapshot, StoreError> {
        self.finished.await.unwrap_or(Err(StoreError::WriterStopped))?;
        Ok(self.stats.snapshot())
    }
}

/// Starts the writer thread on `store`. It runs until `cancel` fires or every [`StoreHandle`] is
/// dropped, and always drains and commits what was queued before it stops.
pub fn spawn_writer<S: Store + 'static>(
    store: S,
    settings: WriterSettings,
    cancel: CancellationToken,
) -> Result<(StoreHandle, StoreWriter), StoreError> {
    if settings.max_batch_size == 0 || settings.queue_capacity == 0 {
        return Err(StoreError::WriterStart {
            message: format!(
                "max_batch_size ({}) and queue_capacity ({}) must be at least 1",
                settings.max_batch_size, settings.queue_capacity
            ),
        });
    }
    let (queue, requests) = mpsc::channel(settings.queue_capacity);
    let stats = Arc::new(WriterStats::default());
    let (finished_tx, finished) = oneshot::channel();
    // A private single-threaded runtime: the thread blocks in SQLite anyway, and the runtime gives it
    // an async queue receive with a timeout (max_batch_delay) and the cancellation token.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| StoreError::WriterStart { message: e.to_string() })?;
    let loop_stats = Arc::clone(&stats);
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            let outcome = runtime.block_on(run(store, requests, settings, loop_stats, cancel));
            if let Err(e) = &outcome {
                tracing::error!(error = %e, "store writer stopped with an error");
            }
            // Nobody waiting for the end is not an error.
            let _ = finished_tx.send(outcome);
        })
        .map_err(|e| StoreError::WriterStart { message: e.to_string() })?;
    Ok((StoreHandle { queue, stats: Arc::clone(&stats) }, StoreWriter { finished, stats }))
}

async fn run<S: Store>(
    mut store: S,
    mut requests: mpsc::Receiver<WriteRequest>,
    settings: WriterSettings,
    stats: Arc<WriterStats>,
    cancel: CancellationToken,
) -> Result<(), StoreError> {
    let mut batch = Vec::with_capacity(settings.max_batch_size);
    loop {
        // `recv_many` takes everything queued (up to the limit) and frees that many queue slots at
        // once, so a producer waiting for space is woken once per batch, not once per command.
        let received = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            received = requests.recv_many(&mut batch, settings.max_batch_size) => received,
        };
        if received == 0 {
            break; // every handle dropped and the queue is empty
        }
        stats.deepest_queue.fetch_max(requests.len() as u64 + batch.len() as u64, Ordering::Relaxed);
        wait_for_stragglers(&mut requests, &mut batch, settings).await;
        commit(&mut store, &mut batch, &stats);
        if requests.is_empty() {
            store.when_idle();
        }
    }
    // Shutdown: refuse new commands, then write every command that was already accepted.
    requests.close();
    while requests.recv_many(&mut batch, settings.max_batch_size).await > 0 {
        commit(&mut store, &mut batch, &stats);
    }
    store.checkpoint()
}

/// With a batch delay configured, keeps adding to a part-full batch until the delay has passed.
async fn wait_for_stragglers(
    requests: &mut mpsc::Receiver<WriteRequest>,
    batch: &mut Vec<WriteRequest>,
    settings: WriterSettings,
) {
    if settings.max_batch_delay.is_zero() {
        return;
    }
    let deadline = tokio::time::Instant::now() + settings.max_batch_delay;
    while batch.len() < settings.max_batch_size {
        let room = settings.max_batch_size - batch.len();
        match tokio::time::timeout_at(deadline, requests.recv_many(batch, room)).await {
            Ok(received) if received > 0 => {}
            _ => break, // the delay is over, or the queue is closed
        }
    }
}

/// Writes one batch in one transaction and answers every durable request in it.
fn commit<S: Store>(store: &mut S, batch: &mut Vec<WriteRequest>, stats: &WriterStats) {
    let skip = superseded(batch.iter().map(|r| &r.command));
    let result = {
        let live: Vec<&StoreCommand> =
            batch.iter().zip(&skip).filter(|(_, skipped)| !**skipped).map(|(r, _)| &r.command).collect();
        store.write_batch(&live)
    };
    stats.largest_batch.fetch_max(batch.len() as u64, Ordering::Relaxed);
    let answers = match result {
        Ok(outcomes) => {
            stats.transactions.fetch_add(1, Ordering::Relaxed);
            settle(batch, skip, outcomes, stats)
        }
        Err(e) => {
            stats.failed_transactions.fetch_add(1, Ordering::Relaxed);
            stats.commands_refused.fetch_add(batch.len() as u64, Ordering::Relaxed);
            tracing::error!(commands = batch.len(), error = %e, "store batch failed; nothing in it was written");
            batch.drain(..).map(|request| (request.ack, Err(e.clone()))).collect()
        }
    };
    // Counters are updated above, before any caller wakes up and might read them.
    for (ack, outcome) in answers {
        if let Some(ack) = ack {
            // The caller may have stopped waiting; the command is written either way.
            let _ = ack.send(outcome);
        }
    }
}

/// Pairs each request of a committed batch with its outcome (a superseded snapshot counts as
/// written: the newer one replaced it in the same transaction), counting and logging refusals.
fn settle(
    batch: &mut Vec<WriteRequest>,
    skip: Vec<bool>,
    outcomes: Vec<Result<(), StoreError>>,
    stats: &WriterStats,
) -> Vec<(Option<Ack>, Result<(), StoreError>)> {
    let (mut written, mut coalesced, mut refused) = (0, 0, 0);
    let mut outcomes = outcomes.into_iter();
    let answers = batch
        .drain(..)
        .zip(skip)
        .map(|(request, skipped)| {
            let outcome = if skipped {
                coalesced += 1;
                Ok(())
            } else {
                let outcome = outcomes.next().unwrap_or_else(|| {
                    Err(StoreError::Sqlite {
                        context: "matching outcomes to commands",
                        message: "the backend returned fewer outcomes than commands".into(),
                    })
                });
                match &outcome {
                    Ok(()) => written += 1,
                    Err(e) => {
                        refused += 1;
                        tracing::warn!(command = request.command.kind(), error = %e, "store refused a command");
                    }
                }
                outcome
            };
            (request.ack, outcome)
        })
        .collect();
    stats.commands_written.fetch_add(written, Ordering::Relaxed);
    stats.commands_coalesced.fetch_add(coalesced, Ordering::Relaxed);
    stats.commands_refused.fetch_add(refused, Ordering::Relaxed);
    answers
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::store::backend::{RecoveredState, StatusReport};

    /// A store that records each batch it is given, and fails the batches it is told to.
    #[derive(Default, Clone)]
    struct RecordingStore {
        batches: Arc<Mutex<Vec<Vec<String>>>>,
        fail_next: Arc<Mutex<bool>>,
        checkpoints: Arc<AtomicU64>,
    }

    impl Store for RecordingStore {
        fn write_batch(&mut self, commands: &[&StoreCommand]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
            if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
                return Err(StoreError::Sqlite { context: "test", message: "disk full".into() });
            }
            self.batches.lock().unwrap().push(commands.iter().map(|c| format!("{c:?}")).collect());
            Ok(commands
                .iter()
                .map(|c| match c {
                    StoreCommand::MarkAlertDelivered { alert_id, .. } => {
                        Err(StoreError::UnknownAlert { alert_id: alert_id.clone() })
                    }
                    _ => Ok(()),
                })
                .collect())
        }
        fn load_recovery(&mut self) -> Result<RecoveredState, StoreError> {
            Ok(RecoveredState::default())
        }
        fn status(&mut self) -> Result<StatusReport, StoreError> {
            Err(StoreError::ReadOnly)
        }
        fn checkpoint(&mut self) -> Result<(), StoreError> {
            self.checkpoints.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    fn settings(max_batch_size: usize) -> WriterSettings {
        WriterSettings { max_batch_size, max_batch_delay: Duration::ZERO, queue_capacity: 64 }
    }

    fn delivered(id: &str) -> StoreCommand {
        StoreCommand::MarkAlertDelivered { alert_id: id.into(), at: crate::clock::Timestamp(1) }
    }

    #[tokio::test]
    async fn each_durable_caller_gets_its_own_outcome() {
        let store = RecordingStore::default();
        let (handle, writer) = spawn_writer(store.clone(), settings(16), CancellationToken::new()).unwrap();
        assert_eq!(
            handle.write_durable(delivered("a1")).await,
            Err(StoreError::UnknownAlert { alert_id: "a1".into() })
        );
        assert_eq!(handle.write_durable(StoreCommand::Atomic(vec![])).await, Ok(()));
        drop(handle);
        let stats = writer.join().await.unwrap();
        assert_eq!(stats.commands_refused, 1);
        assert_eq!(stats.commands_written, 1);
        assert_eq!(store.checkpoints.load(Ordering::Relaxed), 1, "checkpoint once at shutdown");
    }

    #[tokio::test]
    async fn a_failed_transaction_fails_every_waiting_caller_and_the_writer_goes_on() {
        let store = RecordingStore::default();
        *store.fail_next.lock().unwrap() = true;
        let (handle, writer) = spawn_writer(store.clone(), settings(16), CancellationToken::new()).unwrap();
        let err = handle.write_durable(StoreCommand::Atomic(vec![])).await.unwrap_err();
        assert!(matches!(err, StoreError::Sqlite { .. }));
        assert_eq!(handle.write_durable(StoreCommand::Atomic(vec![])).await, Ok(()));
        drop(handle);
        let stats = writer.join().await.unwrap();
        assert_eq!((stats.failed_transactions, stats.transactions), (1, 1));
    }

    #[tokio::test]
    async fn cancellation_still_commits_everything_already_queued() {
        let store = RecordingStore::default();
        let cancel = CancellationToken::new();
        let (handle, writer) = spawn_writer(store.clone(), settings(4), cancel.clone()).unwrap();
        let mut receipts = Vec::new();
        for _ in 0..20 {
            receipts.push(handle.submit_durable(StoreCommand::Atomic(vec![])).await.unwrap());
        }
        cancel.cancel();
        for receipt in receipts {
            assert_eq!(receipt.durable().await, Ok(()));
        }
        let stats = writer.join().await.unwrap();
        assert_eq!(stats.commands_written, 20);
        assert!(stats.largest_batch <= 4);
        assert_eq!(handle.send(StoreCommand::Atomic(vec![])).await, Err(StoreError::WriterStopped));
        let written: usize = store.batches.lock().unwrap().iter().map(Vec::len).sum();
        assert_eq!(written, 20);
    }

    #[tokio::test]
    async fn a_batch_delay_lets_stragglers_join_the_same_transaction() {
        let store = RecordingStore::default();
        let settings = WriterSettings { max_batch_delay: Duration::from_millis(500), ..settings(16) };
        let (handle, writer) = spawn_writer(store.clone(), settings, CancellationToken::new()).unwrap();
        let first = handle.submit_durable(StoreCommand::Atomic(vec![])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = handle.submit_durable(StoreCommand::Atomic(vec![])).await.unwrap();
        assert_eq!((first.durable().await, second.durable().await), (Ok(()), Ok(())));
        drop(handle);
        let stats = writer.join().await.unwrap();
        assert_eq!((stats.transactions, stats.largest_batch), (1, 2));
    }

    #[test]
    fn zero_sized_settings_are_refused() {
        let err = spawn_writer(RecordingStore::default(), settings(0), CancellationToken::new()).unwrap_err();
        assert!(matches!(err, StoreError::WriterStart { .. }));
    }
}
