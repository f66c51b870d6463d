//! Builds the daemon's tasks from the configuration and connects them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::supervisor::{Supervisor, TaskError, TaskResult};
use super::systemd::Systemd;
use crate::config::Config;

/// Environment variable that makes a named task fail on purpose, for tests of the supervisor:
/// `WHALE_TRADER_FAILPOINT=panic:<task>` or `error:<task>`.
pub const FAILPOINT_ENV: &str = "WHALE_TRADER_FAILPOINT";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Component(String),
}

/// Handles the daemon keeps after start-up.
pub struct Wired {
    /// Cancelled first on stop: sources stop taking new work.
    intake: CancellationToken,
    /// Cancelled once the engine has drained, so that sinks drain and finish.
    sinks: CancellationToken,
}

impl Wired {
    /// Stop order: sources first; sinks follow when the engine has stopped.
    pub fn begin_shutdown(&self) {
        self.intake.cancel();
        self.sinks.cancel();
    }

    /// A critical alert raised by the daemon itself (a task died).
    pub fn raise_critical(&self, title: &str, message: &str) {
        tracing::error!(alert = "critical", title, "{message}");
    }
}

/// Starts every task under `supervisor`.
pub async fn start(
    config_tx: &watch::Sender<Arc<Config>>,
    _live: bool,
    supervisor: &mut Supervisor,
    systemd: Systemd,
) -> Result<Wired, StartError> {
    let _config = config_tx.borrow().clone();
    let intake = CancellationToken::new();
    let sinks = CancellationToken::new();
    let progress = Arc::new(AtomicU64::new(0));

    supervisor.spawn("watchdog", with_failpoint("watchdog", watchdog(systemd, progress, sinks.clone())));
    Ok(Wired { intake, sinks })
}

/// Pings the systemd watchdog only while the engine's progress counter advances, so a wedged
/// engine stops the pings and systemd restarts the daemon.
async fn watchdog(systemd: Systemd, progress: Arc<AtomicU64>, stop: CancellationToken) -> TaskResult {
    let Some(interval) = systemd.watchdog_interval() else {
        stop.cancelled().await;
        return Ok(());
    };
    let mut ticker = tokio::time::interval(interval / 2);
    let mut last_seen = progress.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = ticker.tick() => {
                let now = progress.load(Ordering::Relaxed);
                if now != last_seen {
                    systemd.watchdog();
                    last_seen = now;
                } else {
                    tracing::warn!(progress = now, "engine made no progress since the last watchdog check");
                }
            }
        }
    }
}

/// Wraps a task so that `WHALE_TRADER_FAILPOINT` can make it fail on purpose.
async fn with_failpoint<F>(name: &'static str, task: F) -> TaskResult
where
    F: std::future::Future<Output = TaskResult>,
{
    match std::env::var(FAILPOINT_ENV).ok().as_deref().and_then(|v| v.split_once(':')) {
        Some((kind, target)) if target == name => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if kind == "panic" {
                panic!("failpoint {FAILPOINT_ENV}={kind}:{name} triggered");
            }
            Err(TaskError::new(format!("failpoint {FAILPOINT_ENV}={kind}:{name} triggered")))
        }
        _ => task.await,
    }
}
