//! A generic webhook: the alert as JSON, with an optional bearer token or a header secret.

use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};

use super::http::execute;
use super::{AlertChannel, Part};
use crate::alerts::config::GenericWebhookConfig;
use crate::alerts::error::AlertError;
use crate::alerts::format::alert_json;
use crate::alerts::notification::Notification;
use crate::config::Secret;

pub struct WebhookChannel {
    client: reqwest::Client,
    url: Secret,
    bearer: Option<Secret>,
    header: Option<(HeaderName, Secret)>,
}

impl WebhookChannel {
    pub fn new(client: reqwest::Client, config: &GenericWebhookConfig) -> Result<Self, AlertError> {
        let header = if config.header_name.trim().is_empty() || !config.header_value.is_set() {
            None
        } else {
            let name = HeaderName::from_bytes(config.header_name.trim().as_bytes()).map_err(|e| {
                AlertError::InvalidChannel {
                    channel: "webhook",
                    field: "header_name",
                    value: config.header_name.clone(),
                    rule: e.to_string(),
                }
            })?;
            Some((name, config.header_value.clone()))
        };
        Ok(Self {
            client,
            url: config.url.clone(),
            bearer: config.bearer_token.is_set().then(|| config.bearer_token.clone()),
            header,
        })
    }
}

impl AlertChannel for WebhookChannel {
    fn name(&self) -> &str {
        "webhook"
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        if let Some(announcement) = &notification.alert.announcement {
            return vec![Part::body(announcement.format_json().to_string())];
        }
        vec![Part::body(alert_json(notification).to_string())]
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        let mut request =
            self.client.post(self.url.expose()).header(CONTENT_TYPE, "application/json").body(part.body.clone());
        if let Some(token) = &self.bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        if let Some((name, value)) = &self.header {
            request = request.header(name.clone(), value.expose());
        }
        Box::pin(execute("webhook", request))
    }
}
