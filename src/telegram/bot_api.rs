//! The Bot API calls the control loop makes, `getUpdates` and `sendMessage`, read into plain
//! types. Every answer is bounded in size; errors never carry the URL (it holds the bot token).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Secret;

/// Most bytes one `getUpdates` answer may hold (at most [`UPDATES_PER_POLL`] updates).
pub const MAX_UPDATES_BYTES: usize = 1 << 20;
/// Most bytes read of a `sendMessage` answer.
const MAX_SEND_ANSWER_BYTES: usize = 64 * 1024;
/// Updates asked for per poll.
pub const UPDATES_PER_POLL: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("the Bot API is not reachable: {0}")]
    Unreachable(String),
    #[error("the Bot API asks to wait {0} s (429)")]
    RetryAfter(u64),
    #[error("the Bot API answered {status}: {description}")]
    Refused { status: u16, description: String },
    #[error("the Bot API's answer exceeds {0} bytes")]
    TooLarge(usize),
    #[error("the Bot API's answer is not the expected JSON: {0}")]
    Malformed(String),
}

/// One update, as far as the control loop reads it. `chat_id` and `text` are absent for updates
/// that are not text messages (edits, joins, stickers), which are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub update_id: i64,
    pub chat_id: Option<i64>,
    pub text: Option<String>,
    /// When the message was sent (seconds since the epoch).
    pub date: Option<i64>,
}

/// One `getUpdates` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    pub updates: Vec<Update>,
    /// Items skipped for having no numeric `update_id`.
    pub malformed: usize,
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

pub struct BotApi {
    client: reqwest::Client,
    /// `{base}/bot{token}`.
    base: Secret,
}

impl BotApi {
    pub fn new(api_base: &str, bot_token: &Secret, poll_timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(poll_timeout + Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let base = Secret::new(format!("{}/bot{}", api_base.trim_end_matches('/'), bot_token.expose()));
        Self { client, base }
    }

    /// Updates from `offset` on, waiting up to `timeout_secs` for one. Asking with an offset confirms
    /// every update below it: Telegram never sends those again.
    /// An update without a numeric `update_id` cannot be moved past or answered: it is counted in
    /// [`Polled::malformed`] and skipped.
    pub async fn get_updates(&self, offset: Option<i64>, timeout_secs: u64, limit: u32) -> Result<Polled, BotError> {
        let mut url = format!("{}/getUpdates?timeout={timeout_secs}&limit={limit}", self.base.expose());
        if let Some(offset) = offset {
            url.push_str(&format!("&offset={offset}"));
        }
        let response = self.client.get(&url).send().await.map_err(unreachable)?;
        let result = envelope(response, MAX_UPDATES_BYTES).await?;
        let Value::Array(items) = result else {
            return Err(BotError::Malformed("getUpdates result is not a list".into()));
        };
        let updates: Vec<Update> = items.iter().filter_map(update_from).collect();
        Ok(Polled { malformed: items.len() - updates.len(), updates })
    }

    pub async fn send_message(&self, chat_id: i64, text: &str) -> Result<(), BotError> {
        let body = json!({ "chat_id": chat_id, "text": text, "disable_web_page_preview": true });
        let url = format!("{}/sendMessage", self.base.expose());
        let response = self.client.post(&url).json(&body).send().await.map_err(unreachable)?;
        envelope(response, MAX_SEND_ANSWER_BYTES).await.map(|_| ())
    }
}

/// An update needs its id (to move past it); the rest is read if it is there.
fn update_from(item: &Value) -> Option<Update> {
    let update_id = item["update_id"].as_i64()?;
    let message = &item["message"];
    Some(Update {
        update_id,
        chat_id: message["chat"]["id"].as_i64(),
        text: message["text"].as_str().map(str::to_owned),
        date: message["date"].as_i64(),
    })
}

async fn envelope(mut response: reqwest::Response, max: usize) -> Result<Value, BotError> {
    let status = response.status().as_u16();
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(BotError::TooLarge(max));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if bytes.len() + chunk.len() > max {
            return Err(BotError::TooLarge(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|e| {
        if (200..300).contains(&status) {
            BotError::Malformed(e.to_string())
        } else {
            BotError::Refused { status, description: format!("a body that is not JSON ({e})") }
        }
    })?;
    if status == 429 {
        let wait = envelope.parameters.and_then(|p| p.retry_after).unwrap_or(1);
        return Err(BotError::RetryAfter(wait.clamp(1, 3600)));
    }
    if !envelope.ok || !(200..300).contains(&status) {
        let description: String = envelope.description.unwrap_or_default().chars().take(200).collect();
        return Err(BotError::Refused { status, description });
    }
    Ok(envelope.result)
}

fn unreachable(e: reqwest::Error) -> BotError {
    BotError::Unreachable(e.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_read_from_the_bot_api_shapes_and_an_id_is_all_that_is_required() {
        let text = json!({
            "update_id": 7,
            "message": { "message_id": 1, "chat": { "id": -100_123, "type": "group" }, "date": 1_800_000_000, "text": "/status" }
        });
        assert_eq!(
            update_from(&text),
            Some(Update {
                update_id: 7,
                chat_id: Some(-100_123),
                text: Some("/status".into()),
                date: Some(1_800_000_000)
            })
        );
        let edited = json!({ "update_id": 8, "edited_message": { "chat": { "id": 1 }, "text": "/halt" } });
        assert_eq!(update_from(&edited), Some(Update { update_id: 8, chat_id: None, text: None, date: None }));
        assert_eq!(update_from(&json!({ "update_id": "9", "message": {} })), None);
        assert_eq!(update_from(&json!([1, 2])), None);
    }
}
