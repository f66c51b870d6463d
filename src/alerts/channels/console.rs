//! The console: one human line per alert through `tracing`, so it also reaches `main.log`.

use futures::future::BoxFuture;

use super::{AlertChannel, Part};
use crate::alerts::alert::Priority;
use crate::alerts::error::AlertError;
use crate::alerts::format::console_line;
use crate::alerts::notification::{Notice, Notification};

#[derive(Debug, Default)]
pub struct ConsoleChannel;

impl AlertChannel for ConsoleChannel {
    fn name(&self) -> &str {
        "console"
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        // The subject carries the priority so that `send` can pick the log level. A resolved
        // notice is good news: it is logged at info, not at its condition's priority (which
        // would put it in error.log).
        let level = match notification.notice {
            Notice::Resolved { .. } => Priority::Info,
            _ => notification.alert.priority,
        };
        vec![Part { to: None, subject: Some(level.as_str().to_string()), body: console_line(notification) }]
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        let line = part.body.as_str();
        match part.subject.as_deref() {
            Some(p) if p == Priority::Critical.as_str() || p == Priority::Error.as_str() => {
                tracing::error!(target: "whale_trader::alerts", "{line}")
            }
            Some(p) if p == Priority::Warning.as_str() => tracing::warn!(target: "whale_trader::alerts", "{line}"),
            _ => tracing::info!(target: "whale_trader::alerts", "{line}"),
        }
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::alert::Alert;
    use crate::clock::Timestamp;

    #[test]
    fn the_level_follows_the_priority_except_for_good_news() {
        let halt = Alert::new(Priority::Critical, "Trading Halted", "m", Timestamp::from_millis(0));
        let level =
            |notice| ConsoleChannel.render(&Notification { alert: halt.clone().into(), notice })[0].subject.clone();
        assert_eq!(level(Notice::Single).as_deref(), Some("CRITICAL"));
        assert_eq!(level(Notice::Grouped { count: 2 }).as_deref(), Some("CRITICAL"));
        assert_eq!(level(Notice::Resolved { count: 1 }).as_deref(), Some("INFO"));
    }
}
