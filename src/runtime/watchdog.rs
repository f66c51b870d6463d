//! The dead man's switches that follow the engine loop: the systemd watchdog (`WATCHDOG=1`), the
//! alert heartbeat's progress signal and the engine's health check. All three move only when the
//! engine's progress counter has advanced since the last tick, so a wedged engine stops them all
//! and systemd restarts the daemon (`WatchdogSec=`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::supervisor::TaskResult;
use super::systemd::Systemd;
use crate::clock::{Clock, SystemClock};
use crate::health::ProgressTracker;

/// Checks `progress` every second (or half the systemd watchdog interval, if shorter) until `stop`.
pub async fn watchdog(
    systemd: Systemd,
    progress: Arc<AtomicU64>,
    progress_tx: watch::Sender<u64>,
    tracker: ProgressTracker,
    stop: CancellationToken,
) -> TaskResult {
    let period =
        systemd.watchdog_interval().map(|i| i / 2).unwrap_or(Duration::from_secs(1)).min(Duration::from_secs(1));
    let mut ticker = tokio::time::interval(period);
    let mut last_seen = progress.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = ticker.tick() => {
                let now = progress.load(Ordering::Relaxed);
                if now != last_seen {
                    last_seen = now;
                    systemd.watchdog();
                    progress_tx.send_replace(now);
                    tracker.mark(SystemClock.now());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    /// The systemd ping, the heartbeat signal and the health tracker share one branch; the tracker's
    /// count is the number of pings.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_engine_stops_every_ping_and_progress_resumes_them() {
        let progress = Arc::new(AtomicU64::new(0));
        let (progress_tx, progress_rx) = watch::channel(0u64);
        let tracker = ProgressTracker::new(Timestamp::from_millis(0));
        let stop = CancellationToken::new();
        let task = tokio::spawn(watchdog(
            Systemd::disabled(),
            Arc::clone(&progress),
            progress_tx,
            tracker.clone(),
            stop.clone(),
        ));
        let second = || tokio::time::sleep(Duration::from_millis(1_100));
        tokio::task::yield_now().await; // the watchdog starts and reads the counter at 0

        for turn in 1..=3 {
            progress.store(turn, Ordering::Relaxed); // the engine loop turns
            second().await;
        }
        assert_eq!(tracker.count(), 3, "one ping per second while the engine turns");
        assert_eq!(*progress_rx.borrow(), 3);

        for _ in 0..30 {
            second().await; // wedged: the counter stays at 3
        }
        assert_eq!(tracker.count(), 3, "no ping while the engine is wedged");

        progress.store(4, Ordering::Relaxed);
        second().await;
        assert_eq!(tracker.count(), 4, "pings resume with progress");
        assert_eq!(*progress_rx.borrow(), 4);

        stop.cancel();
        assert!(task.await.is_ok_and(|r| r.is_ok()));
    }
}
