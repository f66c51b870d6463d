//! The daemon: builds its tasks (`start`), connects them with channels, supervises them, and
//! turns signals into an orderly stop or a config reload.
//!
//! Start-up: config (already validated) → the C allocator capped at two arenas while the process
//! has one thread (`malloc_arenas`) → the data directory's lock (a second daemon exits 2) →
//! logging → control API port → store and recovery → tasks, held at a start barrier → barrier
//! opened, the code only start-up needed released from the resident set (`working_set`),
//! `READY=1`. A step that fails aborts the waiting tasks: nothing decided, nothing sent.
//! Stop (SIGTERM / SIGINT): sources stop taking new work, the engine drains its queue to a safe
//! point, sinks (executor, store writer, alerts) drain theirs, logs are flushed; exit 0 within
//! `daemon.shutdown_grace_secs`. SIGHUP meanwhile is ignored; a second stop signal logs what it
//! abandons and exits 1 at once. A task that dies is logged, alerted as critical, and the daemon
//! stops with exit code 1 so that systemd restarts it.

mod alert_outbox;
mod closing_summary;
mod daemon;
pub mod engine_task;
pub(crate) mod executors;
mod failpoints;
mod feed_checks;
mod feeds;
mod health_alerts;
mod lock;
mod malloc_arenas;
mod observe;
pub mod plans;
mod recorder;
mod recovery;
mod reload;
pub mod replay_feed;
pub mod session_recorder;
mod signals;
pub mod silences;
mod start;
mod supervisor;
mod systemd;
mod wallet;
mod watchdog;
mod working_set;

pub use daemon::run;
pub use engine_task::{
    EngineHandle, EngineMsg, EngineRunSummary, Executors, Persistence, price_event_msg, spawn_engine_task,
    whale_trade_msg,
};
pub use lock::{DataDirLock, LOCK_FILE, LockError};
pub use reload::{ReloadOutcome, reload_summary};
pub use replay_feed::run_replay_feed;
pub use signals::{SignalEvent, Signals};
pub use silences::{SilenceCommand, SilenceControl, SilenceControlError, SilenceReply};
pub use supervisor::{Ended, Supervisor, TaskError, TaskExit, TaskResult};
pub use systemd::Systemd;
