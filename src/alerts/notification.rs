//! What the dispatcher hands to channels: an alert plus how it relates to earlier ones.

use std::sync::Arc;

use super::alert::Alert;
use super::lane::Urgency;

/// How a notification relates to the condition (dedup key) it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The first occurrence, or an alert without a dedup key.
    Single,
    /// `count` further occurrences merged during the group window.
    Grouped { count: u64 },
    /// The condition is still active: `count` occurrences since the last message.
    Repeat { count: u64 },
    /// The condition cleared after `count` occurrences in total (0 when it was not being tracked).
    Resolved { count: u64 },
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Single => "single",
            Notice::Grouped { .. } => "grouped",
            Notice::Repeat { .. } => "repeat",
            Notice::Resolved { .. } => "resolved",
        }
    }

    pub fn count(self) -> u64 {
        match self {
            Notice::Single => 1,
            Notice::Grouped { count } | Notice::Repeat { count } | Notice::Resolved { count } => count,
        }
    }
}

/// One message to deliver. Cheap to clone: the alert is shared by every channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub alert: Arc<Alert>,
    pub notice: Notice,
}

impl Notification {
    pub fn single(alert: Alert) -> Self {
        Self { alert: Arc::new(alert), notice: Notice::Single }
    }
}

/// A full lane drops its oldest droppable item: never one that must reach the owner (a loss, a
/// state change, a digest of what the throttle held back), as never a CRITICAL one.
impl Urgency for Notification {
    fn is_critical(&self) -> bool {
        self.alert.must_reach()
    }
}

impl Urgency for Alert {
    fn is_critical(&self) -> bool {
        self.must_reach()
    }
}
