//! The daemon's life: start, run until a signal or a task failure, stop in order.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::lock::{DataDirLock, LockError};
use super::reload::reload_summary;
use super::signals::{SignalEvent, Signals};
use super::start;
use super::supervisor::{Ended, Supervisor};
use super::systemd::Systemd;
use crate::alerts::Priority;
use crate::cli::exit;
use crate::config::{self, Config, LoadOptions};
use crate::logging;

/// Why the daemon is stopping.
#[derive(Debug)]
enum StopCause {
    Signal(&'static str),
    TaskDied(Ended),
}

/// Runs the daemon with a validated `config` until it stops; returns the process exit code.
pub fn run(config: Config, load_options: LoadOptions, live: bool) -> ExitCode {
    // While the process has one thread: arenas made before the cap stay.
    super::malloc_arenas::limit_malloc_arenas();
    // Before anything that writes or sends (logs, the API, the store, alerts): a second daemon on
    // the same store would re-send its alerts and race the first one's writes.
    let store_dir = store_directory(&config);
    let lock = match DataDirLock::acquire(&store_dir) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(match e {
                LockError::Held { .. } => exit::BAD_CONFIG,
                _ => exit::FAILURE,
            });
        }
    };
    let guards = match logging::init(&config.logging) {
        Ok(guards) => guards,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    tracing::info!(lock_file = %lock.path().display(), pid = std::process::id(), "data directory locked");
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("whale-trader").build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let ended = runtime.block_on(run_async(config, load_options, live));
    match ended {
        Stopped::Done(_) => {
            // Tasks have drained or been aborted; give blocking threads (store writer) a moment.
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
        // The operator asked to stop now: nothing more is waited for.
        Stopped::Cut(_) => runtime.shutdown_background(),
    }
    // Flush the log files by dropping their guards last (also when cut short: the reason for the
    // cut must reach the files).
    drop(guards);
    // Released last: the next daemon may start only once this one wrote everything.
    drop(lock);
    ExitCode::from(ended.code())
}

/// How `run_async` ended.
#[derive(Debug, Clone, Copy)]
enum Stopped {
    /// An orderly stop (or a failed start); the exit code.
    Done(u8),
    /// A second stop signal cut the drain short; the exit code.
    Cut(u8),
}

impl Stopped {
    fn code(self) -> u8 {
        match self {
            Stopped::Done(code) | Stopped::Cut(code) => code,
        }
    }
}

/// The directory of this mode's and feed's store file (relative to the working directory, like the
/// store itself).
fn store_directory(config: &Config) -> PathBuf {
    match config.store.path_for(config.daemon.mode, config.feed.source).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A failed start aborts its tasks: none has run a step (they wait at the start barrier), so
/// there is nothing to drain.
const FAILED_START_ABORT: Duration = Duration::from_secs(1);

async fn run_async(config: Config, load_options: LoadOptions, live: bool) -> Stopped {
    let systemd = Systemd::from_env();
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return Stopped::Done(exit::FAILURE);
        }
    };
    tracing::info!(mode = %config.daemon.mode, config = %load_options.config_path.display(), version = env!("CARGO_PKG_VERSION"), "whale-trader starting");

    let grace = Duration::from_secs(config.daemon.shutdown_grace_secs);
    let (config_tx, _) = watch::channel(Arc::new(config));
    // Every task waits at the start barrier until the whole daemon is up.
    let mut supervisor = Supervisor::gated();
    let wired = match start::start(&config_tx, live, &mut supervisor, systemd).await {
        Ok(wired) => wired,
        Err(e) => {
            tracing::error!(error = %e, "start-up failed; nothing was started");
            let stuck = supervisor.abort(FAILED_START_ABORT).await;
            if !stuck.is_empty() {
                tracing::error!(?stuck, "tasks did not stop after the failed start-up");
            }
            return Stopped::Done(e.exit_code());
        }
    };
    supervisor.open_gate();
    let released = super::working_set::release_start_up_code();
    tracing::debug!(released_kb = released / 1024, "start-up code released from the resident set");
    let status =
        format!("running in {} mode with {} task(s)", config_tx.borrow().daemon.mode, supervisor.running().len());
    tracing::info!(tasks = ?supervisor.running(), "{status}");
    systemd.ready(&status);

    let cause = loop {
        tokio::select! {
            event = signals.next() => match event {
                SignalEvent::Stop(name) => break StopCause::Signal(name),
                SignalEvent::Reload => reload(&load_options, &config_tx, &wired),
            },
            ended = supervisor.next_ended() => match ended {
                Some(ended) => break StopCause::TaskDied(ended),
                None => break StopCause::TaskDied(Ended { task: "all", exit: super::TaskExit::Finished }),
            },
        }
    };

    let mut code = match &cause {
        StopCause::Signal(name) => {
            tracing::info!(signal = name, grace_secs = grace.as_secs(), "stop requested: no new work, draining queues");
            exit::OK
        }
        StopCause::TaskDied(ended) => {
            let detail = format!("task {} {}", ended.task, ended.exit.describe());
            tracing::error!(task = ended.task, exit = %ended.exit.describe(), "a task ended while the daemon was running; stopping");
            wired.raise_critical(
                "Task failure",
                &format!("{detail}; the daemon is stopping and systemd will restart it"),
            );
            exit::FAILURE
        }
    };
    systemd.stopping("draining");
    wired.begin_shutdown();

    // The drain, one ended task at a time, so that a signal in between is seen with the tasks
    // still stopping at hand (waiting for a task to end is cancel-safe).
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        tokio::select! {
            next = tokio::time::timeout_at(deadline, supervisor.next_ended()) => match next {
                Ok(Some(e)) => tracing::info!(task = e.task, exit = %e.exit.describe(), "task stopped"),
                Ok(None) => break,
                Err(_) => {
                    let stuck = supervisor.running();
                    supervisor.abort(FAILED_START_ABORT).await;
                    tracing::error!(?stuck, grace_secs = grace.as_secs(), "grace period elapsed: tasks aborted");
                    code = exit::FAILURE;
                    break;
                }
            },
            event = signals.next() => match event {
                // A reload during the stop changes nothing that is still running: the new
                // configuration is read at the next start.
                SignalEvent::Reload => {
                    tracing::warn!("SIGHUP during the stop: ignored, the stop goes on; the configuration file is read at the next start");
                }
                SignalEvent::Stop(name) => {
                    tracing::error!(
                        signal = name,
                        still_stopping = ?supervisor.running(),
                        "second stop signal: cutting the drain short and exiting now with code 1. \
                         Abandoned: the tasks still stopping; alerts still queued for delivery are not sent \
                         (critical ones stay in the store's outbox and go out at the next start); store \
                         writes not yet committed are lost (the engine resumes from its last durable \
                         checkpoint, orders written ahead are reconciled)"
                    );
                    return Stopped::Cut(exit::FAILURE);
                }
            },
        }
    }
    tracing::info!(exit_code = code, "whale-trader stopped");
    Stopped::Done(code)
}

/// SIGHUP: a valid new configuration replaces the running one; an invalid one is rejected, logged
/// and alerted (the operator who sent it may not be watching the logs).
fn reload(load_options: &LoadOptions, config_tx: &watch::Sender<Arc<Config>>, wired: &start::Wired) {
    let timer = logging::timed_operation("config.reload");
    match config::load(load_options) {
        Ok(new) => {
            timer.succeeded();
            let outcome = reload_summary(&config_tx.borrow(), &new);
            tracing::info!(applied = ?outcome.applied, need_restart = ?outcome.need_restart, "SIGHUP: configuration reloaded");
            config_tx.send_replace(Arc::new(new));
        }
        Err(e) => {
            let problems: Vec<String> = e.issues().iter().map(ToString::to_string).collect();
            tracing::error!(error = %e, ?problems, "SIGHUP: the new configuration is invalid; keeping the running one");
            wired.raise(
                Priority::Error,
                "Configuration reload rejected",
                &format!(
                    "SIGHUP: the configuration in {} is invalid and was not applied; the daemon keeps running \
                     with the previous one. Problems: {}",
                    load_options.config_path.display(),
                    if problems.is_empty() { e.to_string() } else { problems.join("; ") }
                ),
            );
        }
    }
}
