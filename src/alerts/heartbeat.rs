//! The dead man's switch: a periodic ping to a monitoring URL, sent only while the engine keeps
//! making progress. If the engine loop stalls, the pings stop and the monitor raises the alarm —
//! which still works when this whole process is wedged or dead.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::config::{AlertsConfig, HeartbeatMethod};
use super::counters::{Counters, bump};
use super::error::AlertError;

/// Runs until `shutdown`. `progress` is any counter the engine advances on every loop iteration;
/// the first ping needs it to move past its value when the heartbeat was spawned. Settings are
/// re-read from `config` on every tick (hot reload).
pub fn spawn_heartbeat(
    client: reqwest::Client,
    config: watch::Receiver<AlertsConfig>,
    progress: watch::Receiver<u64>,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let baseline = *progress.borrow();
    tokio::spawn(run_heartbeat(client, config, progress, baseline, counters, shutdown))
}

async fn run_heartbeat(
    client: reqwest::Client,
    mut config: watch::Receiver<AlertsConfig>,
    progress: watch::Receiver<u64>,
    mut last_seen: u64,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
) {
    loop {
        let interval = Duration::from_secs(config.borrow_and_update().heartbeat.interval_secs.max(1));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let (heartbeat, timeout) = {
            let current = config.borrow();
            (current.heartbeat.clone(), Duration::from_secs(current.delivery.attempt_timeout_secs.max(1)))
        };
        if !heartbeat.enabled || !heartbeat.url.is_set() {
            continue;
        }
        let now = *progress.borrow();
        if now == last_seen {
            bump(&counters.heartbeats_skipped);
            tracing::warn!(progress = now, "engine made no progress since the last heartbeat; ping withheld");
            continue;
        }
        last_seen = now;
        let request = match heartbeat.method {
            HeartbeatMethod::Get => client.get(heartbeat.url.expose()),
            HeartbeatMethod::Post => client.post(heartbeat.url.expose()),
        };
        let outcome = match tokio::time::timeout(timeout, super::channels::execute_request("heartbeat", request)).await
        {
            Ok(result) => result,
            Err(_) => Err(AlertError::Timeout { channel: "heartbeat".into(), after: timeout }),
        };
        match outcome {
            Ok(()) => bump(&counters.heartbeats_sent),
            Err(error) => {
                bump(&counters.heartbeats_failed);
                tracing::warn!(%error, "heartbeat ping failed");
            }
        }
    }
}
