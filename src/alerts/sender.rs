//! The engine's side: a cheap, cloneable handle whose [`AlertSender::raise`] never awaits and
//! never waits for a channel. It pushes onto the dispatcher's lane (see `lane` for why a lane
//! and not an mpsc) and returns; the dispatcher task does all the fan-out.

use std::sync::Arc;

use super::alert::{Alert, Priority};
use super::counters::{Counters, bump};
use super::lane::{Lane, Pushed};
use crate::clock::Timestamp;
use crate::plans::{BatchSummary, PlanDecision};

/// What [`AlertSender::raise`] did with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// Queued for the dispatcher.
    Queued,
    /// Queued; the queue was full, so the oldest non-critical alert was dropped (and counted).
    QueuedDroppingOldest,
    /// The dispatcher has shut down; the alert was not taken.
    Closed,
}

pub(crate) struct Inbox {
    pub lane: Lane<Alert>,
    pub counters: Arc<Counters>,
}

/// A handle for raising alerts. Clone it freely: every clone feeds the same dispatcher.
#[derive(Clone)]
pub struct AlertSender {
    inbox: Arc<Inbox>,
}

impl std::fmt::Debug for AlertSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSender").field("queued", &self.inbox.lane.len()).finish()
    }
}

impl AlertSender {
    pub(crate) fn new(inbox: Arc<Inbox>) -> Self {
        Self { inbox }
    }

    /// Hands the alert to the dispatcher. Never blocks on I/O, never awaits: one short lock, one
    /// push, one wake-up. On overflow the oldest non-critical alert goes; critical ones never do.
    pub fn raise(&self, alert: Alert) -> Handoff {
        match self.inbox.lane.push(alert) {
            Pushed::Queued => {
                bump(&self.inbox.counters.raised);
                Handoff::Queued
            }
            Pushed::DroppedOldest(_) => {
                bump(&self.inbox.counters.raised);
                bump(&self.inbox.counters.dropped_at_handoff);
                Handoff::QueuedDroppingOldest
            }
            Pushed::Closed(_) => Handoff::Closed,
        }
    }

    /// A custom alert: priority, title, message and context; time is a parameter.
    pub fn send_custom_alert(
        &self,
        priority: Priority,
        title: &str,
        message: &str,
        context: impl IntoIterator<Item = (String, String)>,
        at: Timestamp,
    ) -> Handoff {
        self.raise(Alert::new(priority, title, message, at).with_contexts(context))
    }

    /// Announces an approved trade plan in the seed's signal format ([`Alert::signal`]); a
    /// refused plan has nothing to announce (`None`).
    pub fn send_signal(&self, decision: &PlanDecision) -> Option<Handoff> {
        Alert::signal(decision).map(|alert| self.raise(alert))
    }

    /// Sends a window's batch summary ([`Alert::signal_summary`]).
    pub fn send_signal_summary(&self, summary: BatchSummary) -> Handoff {
        self.raise(Alert::signal_summary(summary))
    }
}
