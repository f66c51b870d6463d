//! The alert outbox: critical alerts bound for a remote channel are written to the store before
//! any channel tries them, and marked delivered once one has. A crash in between, or a provider
//! down until the daemon stops, leaves the row undelivered: the next start sends it again
//! (at least once, never silently lost).

use super::alert::Alert;
use crate::clock::Timestamp;

/// Where the dispatcher records critical alerts and their delivery (the store, in the daemon).
/// Both calls must return at once: the dispatcher and its workers never wait for the disk.
pub trait AlertOutbox: Send + Sync {
    /// `alert` is about to be handed to the channels under `id`.
    fn enqueued(&self, id: &str, alert: &Alert);
    /// A remote channel delivered the alert `id` at `at` (called once per delivering channel).
    fn delivered(&self, id: &str, at: Timestamp);
}

/// Channels that stay on this machine: delivering to them does not tell the owner anything.
pub(crate) fn is_local_channel(name: &str) -> bool {
    matches!(name, "console" | "file")
}

/// A fresh outbox id: the alert's time and a random suffix (unique across restarts).
pub(crate) fn new_outbox_id(at: Timestamp) -> String {
    format!("alert-{}-{:08x}", at.millis(), rand::random::<u32>())
}
