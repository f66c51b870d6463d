//! The console: one human line per alert through `tracing`, so it also reaches `main.log`.

use futures::future::BoxFuture;

use super::{AlertChannel, Part};
use crate::alerts::alert::Priority;
use crate::alerts::error::AlertError;
use crate::alerts::format::console_line;
use crate::alerts::notification::Notification;

#[derive(Debug, Default)]
pub struct ConsoleChannel;

impl AlertChannel for ConsoleChannel {
    fn name(&self) -> &str {
        "console"
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        // The subject carries the priority so that `send` can pick the log level.
        vec![Part {
            to: None,
            subject: Some(notification.alert.priority.as_str().to_string()),
            body: console_line(notification),
        }]
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
