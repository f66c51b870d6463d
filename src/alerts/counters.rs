//! What happened to every alert, as counters that `/metrics` can read without touching the
//! dispatcher: plain atomics, written by whichever task made the decision.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// Counters of one channel.
#[derive(Debug, Default)]
pub struct ChannelCounters {
    pub(crate) queued: AtomicU64,
    pub(crate) suppressed: AtomicU64,
    pub(crate) digests: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
}

/// A consistent-enough reading of one channel's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ChannelCountersSnapshot {
    /// Handed to the channel's worker.
    pub queued: u64,
    /// Held back by the channel's throttle (each folded into its next digest).
    pub suppressed: u64,
    /// Digests of what the throttle held back, handed to the channel's worker.
    pub digests: u64,
    /// Lost because the channel's queue overflowed (oldest non-critical first).
    pub dropped: u64,
    /// Messages (parts) the provider accepted.
    pub delivered: u64,
    /// Attempts that failed and were retried.
    pub retried: u64,
    /// Messages that finally failed and went to the dead-letter file.
    pub dead_lettered: u64,
}

impl ChannelCounters {
    fn snapshot(&self) -> ChannelCountersSnapshot {
        ChannelCountersSnapshot {
            queued: self.queued.load(Ordering::Acquire),
            suppressed: self.suppressed.load(Ordering::Acquire),
            digests: self.digests.load(Ordering::Acquire),
            dropped: self.dropped.load(Ordering::Acquire),
            delivered: self.delivered.load(Ordering::Acquire),
            retried: self.retried.load(Ordering::Acquire),
            dead_lettered: self.dead_lettered.load(Ordering::Acquire),
        }
    }
}

/// Counters of the whole alert system.
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) raised: AtomicU64,
    pub(crate) dropped_at_handoff: AtomicU64,
    pub(crate) grouped: AtomicU64,
    pub(crate) repeat_suppressed: AtomicU64,
    pub(crate) halt_suppressed: AtomicU64,
    pub(crate) silenced: AtomicU64,
    pub(crate) resolved: AtomicU64,
    pub(crate) heartbeats_sent: AtomicU64,
    pub(crate) heartbeats_skipped: AtomicU64,
    pub(crate) heartbeats_failed: AtomicU64,
    channels: Mutex<BTreeMap<String, Arc<ChannelCounters>>>,
}

/// Everything at one instant, for `/metrics` and `status`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AlertCountersSnapshot {
    /// Alerts accepted by [`super::AlertSender::raise`].
    pub raised: u64,
    /// Non-critical alerts dropped because the dispatcher's queue was full.
    pub dropped_at_handoff: u64,
    /// Occurrences merged into a grouped message instead of being sent alone.
    pub grouped: u64,
    /// Occurrences of a still-active condition held back until `repeat_interval`.
    pub repeat_suppressed: u64,
    /// Trade rejections suppressed while trading was halted.
    pub halt_suppressed: u64,
    /// Alerts held back by a silence (each also counted on its silence).
    pub silenced: u64,
    /// Resolved notices sent.
    pub resolved: u64,
    pub heartbeats_sent: u64,
    /// Heartbeat ticks skipped because the engine made no progress.
    pub heartbeats_skipped: u64,
    pub heartbeats_failed: u64,
    pub channels: BTreeMap<String, ChannelCountersSnapshot>,
}

impl Counters {
    /// The counters of `channel`, created on first use and kept across reloads.
    pub fn channel(&self, channel: &str) -> Arc<ChannelCounters> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(channels.entry(channel.to_string()).or_default())
    }

    pub fn snapshot(&self) -> AlertCountersSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Acquire);
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        AlertCountersSnapshot {
            raised: load(&self.raised),
            dropped_at_handoff: load(&self.dropped_at_handoff),
            grouped: load(&self.grouped),
            repeat_suppressed: load(&self.repeat_suppressed),
            halt_suppressed: load(&self.halt_suppressed),
            silenced: load(&self.silenced),
            resolved: load(&self.resolved),
            heartbeats_sent: load(&self.heartbeats_sent),
            heartbeats_skipped: load(&self.heartbeats_skipped),
            heartbeats_failed: load(&self.heartbeats_failed),
            channels: channels.iter().map(|(name, c)| (name.clone(), c.snapshot())).collect(),
        }
    }
}

/// Release, so that a reader who sees the count (with `Acquire`) also sees what was done before
/// it, e.g. the dead-letter line written before `dead_lettered` moved.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Release);
}
