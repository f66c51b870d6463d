//! One warning per cause per minute for the feeds that poll: what a gate holds back is counted and
//! said with the cause's next line, so a venue that fails every poll cannot flood the logs.

use std::collections::HashMap;

use crate::clock::Timestamp;

/// How often, at most, a feed logs one cause.
pub const LOG_EVERY_MS: i64 = 60_000;

/// Logs each cause at most once per [`LOG_EVERY_MS`].
#[derive(Debug, Default)]
pub struct LogGate {
    causes: HashMap<&'static str, (Timestamp, u64)>,
}

impl LogGate {
    /// `Some(held back since the last line)` when a line for `cause` may be written at `now`.
    pub fn admit(&mut self, cause: &'static str, now: Timestamp) -> Option<u64> {
        match self.causes.get_mut(cause) {
            Some((last, held)) if now.millis_since(*last) < LOG_EVERY_MS => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                *last = now;
                Some(std::mem::take(held))
            }
            None => {
                self.causes.insert(cause, (now, 0));
                Some(0)
            }
        }
    }
}
