//! A chat service's incoming webhook (Slack, Discord): a JSON body posted to the channel's secret
//! URL, paced to the service's rate and held back by its `Retry-After`. The services differ only
//! in the body ([`super::slack_payload`], [`super::discord_payload`]; an announcement's
//! messages by [`super::slack_announcement`], [`super::discord_announcement`]).

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use super::http::execute;
use super::{AlertChannel, Pacer, Part, discord_announcement, discord_payload, slack_announcement, slack_payload};
use crate::alerts::config::WebhookChannelConfig;
use crate::alerts::error::AlertError;
use crate::alerts::notification::Notification;
use crate::config::Secret;
use crate::plans::format::Announcement;

pub struct ChatWebhookChannel {
    name: &'static str,
    client: reqwest::Client,
    url: Secret,
    pacer: Pacer,
    payload: fn(&Notification) -> Value,
    announce: fn(&Announcement) -> Vec<Value>,
}

impl ChatWebhookChannel {
    pub fn slack(client: reqwest::Client, config: &WebhookChannelConfig) -> Self {
        Self::new("slack", client, config, slack_payload, slack_announcement)
    }

    pub fn discord(client: reqwest::Client, config: &WebhookChannelConfig) -> Self {
        Self::new("discord", client, config, discord_payload, discord_announcement)
    }

    fn new(
        name: &'static str,
        client: reqwest::Client,
        config: &WebhookChannelConfig,
        payload: fn(&Notification) -> Value,
        announce: fn(&Announcement) -> Vec<Value>,
    ) -> Self {
        Self {
            name,
            client,
            url: config.webhook_url.clone(),
            pacer: Pacer::new(Duration::from_millis(config.min_interval_ms)),
            payload,
            announce,
        }
    }
}

impl AlertChannel for ChatWebhookChannel {
    fn name(&self) -> &str {
        self.name
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        if let Some(announcement) = &notification.alert.announcement {
            return (self.announce)(announcement).into_iter().map(|body| Part::body(body.to_string())).collect();
        }
        vec![Part::body((self.payload)(notification).to_string())]
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            self.pacer.ready().await;
            let request = self
                .client
                .post(self.url.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(part.body.clone());
            let result = execute(self.name, request).await;
            if let Some(wait) = result.as_ref().err().and_then(AlertError::retry_after) {
                self.pacer.defer(wait);
            }
            result
        })
    }
}
