//! Alerts: the store-backed outbox for critical alerts, the dispatcher (its heartbeat follows the
//! engine's progress, SIGHUP reloads its section), and what start-up itself has to say: that the
//! daemon came back and with what, and the critical alerts no channel delivered before a restart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::alerts::{Alert, AlertCountersSnapshot, AlertSender, AlertsBuilder, AlertsHandle};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::runtime::alert_outbox::{StoreOutbox, undelivered_alerts};
use crate::runtime::failpoints::with_failpoint;
use crate::runtime::silences::{SilenceControl, book_from_store};
use crate::runtime::supervisor::{Supervisor, TaskResult};

use super::store::StoreParts;
use super::{StartError, Stops};

pub(super) struct AlertsStart {
    pub sender: AlertSender,
    /// Delivery counters per channel, for `/metrics` and the channels' health checks.
    pub counters: watch::Receiver<AlertCountersSnapshot>,
    /// The engine's progress, for the heartbeat: the watchdog publishes it.
    pub progress: watch::Sender<u64>,
    /// Adds, lists and ends the silences the dispatcher applies.
    pub silences: SilenceControl,
    /// Raised once every component is up.
    pub startup: StartupAlerts,
}

/// What start-up itself has to say: the recovery summary and the critical alerts a restart left
/// undelivered.
pub(super) struct StartupAlerts {
    alerts: Vec<Alert>,
    /// How many of them are critical alerts sent again.
    resent: usize,
}

impl StartupAlerts {
    pub fn raise(self, sender: &AlertSender) {
        if self.resent > 0 {
            tracing::warn!(count = self.resent, "sending again the critical alerts not delivered before the restart");
        }
        for alert in self.alerts {
            sender.raise(alert);
        }
    }
}

pub(super) fn start(
    config: &Config,
    config_tx: &watch::Sender<Arc<Config>>,
    store: &StoreParts,
    supervisor: &mut Supervisor,
    stops: &Stops,
) -> Result<AlertsStart, StartError> {
    let (progress, progress_rx) = watch::channel(0u64);
    let (outbox, outbox_forwarder) = StoreOutbox::new(store.handle.clone());
    supervisor.spawn("alert-outbox", with_failpoint("alert-outbox", outbox_forwarder));
    let book = book_from_store(store.silences.clone());
    let silences = SilenceControl::new(book.clone(), store.handle.clone());
    supervisor
        .spawn("silence-hits", with_failpoint("silence-hits", silences.clone().keep_hits_stored(stops.sinks.clone())));
    let alerts = AlertsBuilder::new(config.alerts.clone(), config.logging.dir.clone())
        .outbox(outbox)
        .silences(book)
        .engine_progress(progress_rx)
        .spawn(stops.sinks.clone())?;
    let sender = alerts.sender();
    let mut startup = Vec::new();
    if store.restored {
        // The owner hears that the daemon came back, and with what.
        startup.push(Alert::recovery_summary(store.open_positions, store.pending_orders, SystemClock.now()));
    }
    // Critical alerts no remote channel delivered before the restart go out again.
    let resent = undelivered_alerts(&store.recovered.undelivered_alerts);
    let resent_count = resent.len();
    startup.extend(resent);
    let (counters_tx, counters) = watch::channel(alerts.counters());
    supervisor.spawn(
        "alerts",
        with_failpoint("alerts", run_alerts(alerts, config_tx.subscribe(), counters_tx, stops.sinks.clone())),
    );
    Ok(AlertsStart {
        sender,
        counters,
        progress,
        silences,
        startup: StartupAlerts { alerts: startup, resent: resent_count },
    })
}

/// The alert dispatcher lives until `sinks` is cancelled, then drains. Meanwhile SIGHUP reloads its
/// settings and its counters are published for `/metrics`.
async fn run_alerts(
    alerts: AlertsHandle,
    mut config: watch::Receiver<Arc<Config>>,
    counters: watch::Sender<AlertCountersSnapshot>,
    sinks: CancellationToken,
) -> TaskResult {
    let mut current = config.borrow().alerts.clone();
    let mut publish = tokio::time::interval(Duration::from_secs(1));
    let mut config_open = true;
    loop {
        tokio::select! {
            () = sinks.cancelled() => {
                alerts.join().await;
                tracing::info!("alert dispatcher stopped; queued alerts delivered or dead-lettered");
                return Ok(());
            }
            _ = publish.tick() => {
                counters.send_replace(alerts.counters());
            }
            changed = config.changed(), if config_open => {
                if changed.is_err() {
                    config_open = false;
                    continue;
                }
                let new = config.borrow_and_update().alerts.clone();
                if new != current {
                    alerts.update_config(new.clone());
                    current = new;
                }
            }
        }
    }
}
