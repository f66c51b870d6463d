//! Slack incoming webhook: one attachment coloured by priority, with the context as fields.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::http::execute;
use super::{AlertChannel, Pacer, Part};
use crate::alerts::alert::Priority;
use crate::alerts::config::WebhookChannelConfig;
use crate::alerts::error::AlertError;
use crate::alerts::format::{fields, headline, message_text};
use crate::alerts::notification::{Notice, Notification};
use crate::config::Secret;

/// The attachment colour of each priority (green, amber, orange, red as in the seed).
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

/// The seed's payload: `{"attachments":[{"color","title","text","fields":[{"title","value"}]}]}`.
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

pub struct SlackChannel {
    client: reqwest::Client,
    url: Secret,
    pacer: Pacer,
}

impl SlackChannel {
    pub fn new(client: reqwest::Client, config: &WebhookChannelConfig) -> Self {
        Self {
            client,
            url: config.webhook_url.clone(),
            pacer: Pacer::new(Duration::from_millis(config.min_interval_ms)),
        }
    }
}

impl AlertChannel for SlackChannel {
    fn name(&self) -> &str {
        "slack"
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        vec![Part::body(slack_payload(notification).to_string())]
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            self.pacer.ready().await;
            let request = self
                .client
                .post(self.url.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(part.body.clone());
            let result = execute("slack", request).await;
            if let Some(wait) = result.as_ref().err().and_then(AlertError::retry_after) {
                self.pacer.defer(wait);
            }
            result
        })
    }
}
