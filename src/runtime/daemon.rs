//! The daemon's life: start, run until a signal or a task failure, stop in order.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::reload::reload_summary;
use super::signals::{SignalEvent, Signals};
use super::supervisor::{Ended, Supervisor};
use super::systemd::Systemd;
use super::wiring;
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
    let guards = match logging::init(&config.logging) {
        Ok(guards) => guards,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("whale-trader").build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let code = runtime.block_on(run_async(config, load_options, live));
    // Tasks have drained or been aborted; give blocking threads (store writer) a moment, then
    // flush the log files by dropping their guards last.
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(guards);
    ExitCode::from(code)
}

async fn run_async(config: Config, load_options: LoadOptions, live: bool) -> u8 {
    let systemd = Systemd::from_env();
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return exit::FAILURE;
        }
    };
    tracing::info!(mode = %config.daemon.mode, config = %load_options.config_path.display(), version = env!("CARGO_PKG_VERSION"), "whale-trader starting");

    let grace = Duration::from_secs(config.daemon.shutdown_grace_secs);
    let (config_tx, _) = watch::channel(Arc::new(config));
    let mut supervisor = Supervisor::new();
    let wired = match wiring::start(&config_tx, live, &mut supervisor, systemd).await {
        Ok(wired) => wired,
        Err(e) => {
            tracing::error!(error = %e, "start-up failed");
            let (_, stuck) = supervisor.drain(grace).await;
            if !stuck.is_empty() {
                tracing::error!(?stuck, "tasks did not stop after the failed start-up");
            }
            return e.exit_code();
        }
    };
    let status =
        format!("running in {} mode with {} task(s)", config_tx.borrow().daemon.mode, supervisor.running().len());
    tracing::info!(tasks = ?supervisor.running(), "{status}");
    systemd.ready(&status);

    let cause = loop {
        tokio::select! {
            event = signals.next() => match event {
                SignalEvent::Stop(name) => break StopCause::Signal(name),
                SignalEvent::Reload => reload(&load_options, &config_tx),
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

    tokio::select! {
        (ended, stuck) = supervisor.drain(grace) => {
            for e in &ended {
                tracing::info!(task = e.task, exit = %e.exit.describe(), "task stopped");
            }
            if !stuck.is_empty() {
                tracing::error!(?stuck, grace_secs = grace.as_secs(), "grace period elapsed: tasks aborted");
                code = exit::FAILURE;
            }
        }
        event = signals.next() => {
            if let SignalEvent::Stop(name) = event {
                tracing::warn!(signal = name, "second stop signal: exiting at once");
                std::process::exit(i32::from(exit::FAILURE));
            }
        }
    }
    tracing::info!(exit_code = code, "whale-trader stopped");
    code
}

/// SIGHUP: a valid new configuration replaces the running one; an invalid one is rejected.
fn reload(load_options: &LoadOptions, config_tx: &watch::Sender<Arc<Config>>) {
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
        }
    }
}
