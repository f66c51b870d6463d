//! Slack incoming webhook: one attachment coloured by priority, with the context as fields.

use serde_json::{Value, json};

use crate::alerts::alert::Priority;
use crate::alerts::format::{fields, headline, message_text};
use crate::alerts::notification::{Notice, Notification};
use crate::plans::format::{Announcement, Medium};

/// The attachment colour of each priority (green, amber, orange, red).
pub fn slack_colour(priority: Priority, notice: Notice) -> &'static str {
    if matches!(notice, Notice::Resolved { .. }) {
        return "#36a64f";
    }
    match priority {
        Priority::Info => "#439fe0",
        Priority::Warning => "#ffcc00",
        Priority::Error => "#ff8c00",
        Priority::Critical => "#ff0000",
    }
}

/// The payload: `{"attachments":[{"color","title","text","fields":[{"title","value"}]}]}`.
pub fn slack_payload(notification: &Notification) -> Value {
    let alert = &notification.alert;
    let fields: Vec<Value> = fields(alert)
        .into_iter()
        .map(|(title, value)| json!({ "title": title, "value": value, "short": true }))
        .collect();
    json!({
        "attachments": [{
            "color": slack_colour(alert.priority, notification.notice),
            "title": headline(notification),
            "text": message_text(notification),
            "fields": fields,
            "ts": alert.at.millis() / 1000,
        }]
    })
}

/// An announcement as Slack messages: mrkdwn `text`, one body per part, in order.
pub fn slack_announcement(announcement: &Announcement) -> Vec<Value> {
    announcement.parts(Medium::Slack).into_iter().map(|text| json!({ "text": text })).collect()
}
