//! Unix signals as daemon events: SIGTERM / SIGINT ask for a stop, SIGHUP for a config reload.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks the daemon to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    /// SIGTERM or SIGINT.
    Stop(&'static str),
    /// SIGHUP.
    Reload,
}

/// The daemon's signal listeners, installed once at start so no signal is missed.
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal. Pending forever if every stream has closed.
    pub async fn next(&mut self) -> SignalEvent {
        tokio::select! {
            Some(()) = self.term.recv() => SignalEvent::Stop("SIGTERM"),
            Some(()) = self.int.recv() => SignalEvent::Stop("SIGINT"),
            Some(()) = self.hup.recv() => SignalEvent::Reload,
            else => std::future::pending().await,
        }
    }
}
