//! systemd notification (`Type=notify`): READY once start-up is complete, STATUS text, WATCHDOG
//! pings while the engine makes progress, STOPPING on shutdown. Outside systemd (no
//! `NOTIFY_SOCKET`) every call is a cheap no-op.

use std::time::Duration;

use sd_notify::NotifyState;

/// Sends notifications to the service manager, when there is one.
#[derive(Debug, Clone, Copy)]
pub struct Systemd {
    enabled: bool,
}

impl Systemd {
    pub fn from_env() -> Self {
        Self { enabled: std::env::var_os("NOTIFY_SOCKET").is_some() }
    }

    /// Not under systemd: every call is a no-op (tests, and runs outside a unit).
    pub fn disabled() -> Self {
        Self { enabled: false }
    }

    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    pub fn stopping(&self, status: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    pub fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// The watchdog interval systemd expects (`WatchdogSec=`), if any.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        if self.enabled { sd_notify::watchdog_enabled() } else { None }
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if self.enabled
            && let Err(e) = sd_notify::notify(states)
        {
            tracing::warn!(error = %e, "could not notify systemd");
        }
    }
}
