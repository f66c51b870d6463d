//! Telegram Bot API: `POST {base}/bot{token}/sendMessage` with MarkdownV2 text, split into parts
//! of at most 4,096 characters, paced to ~30 messages/s per bot and 1/s per chat.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::json;

use super::http::execute;
use super::{AlertChannel, Pacer, Part};
use crate::alerts::alert::AlertKind;
use crate::alerts::config::TelegramConfig;
use crate::alerts::error::AlertError;
use crate::alerts::format::{fields, headline, message_text};
use crate::alerts::notification::Notification;
use crate::config::Secret;
use crate::plans::format::Medium;

/// Telegram's limit on one message's text.
pub const MESSAGE_MAX: usize = 4096;

/// Escapes every character MarkdownV2 reserves (and the backslash itself).
pub fn escape_markdown_v2(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '_' | '*'
                | '['
                | ']'
                | '('
                | ')'
                | '~'
                | '`'
                | '>'
                | '#'
                | '+'
                | '-'
                | '='
                | '|'
                | '{'
                | '}'
                | '.'
                | '!'
                | '\\'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The whole message, already escaped: a bold headline, the message, then the fields.
pub fn telegram_text(notification: &Notification) -> String {
    let alert = &notification.alert;
    let icon = if alert.labels.kind == AlertKind::BatchSummary { "📊" } else { alert.priority.emoji() };
    let mut text = format!(
        "{icon} *{}*\n{}",
        escape_markdown_v2(&headline(notification)),
        escape_markdown_v2(&message_text(notification))
    );
    let fields = fields(alert);
    if !fields.is_empty() {
        text.push('\n');
        for (key, value) in fields {
            text.push_str(&format!("\n• *{}:* {}", escape_markdown_v2(&key), escape_markdown_v2(&value)));
        }
    }
    text
}

/// Length as Telegram counts it (UTF-16 code units), which is never less than its own count.
fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Splits escaped text into parts of at most `max` units, preferring line breaks and never
/// separating an escape backslash from the character it escapes.
pub fn split_message(text: &str, max: usize) -> Vec<String> {
    let max = max.max(2);
    let mut parts = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if units(&current) + units(line) <= max {
            current.push_str(line);
            continue;
        }
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        if units(line) <= max {
            current.push_str(line);
            continue;
        }
        // A line longer than a whole message: cut it between escape units.
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            let mut unit = String::from(c);
            if c == '\\'
                && let Some(next) = chars.next()
            {
                unit.push(next);
            }
            if units(&current) + units(&unit) > max {
                parts.push(std::mem::take(&mut current));
            }
            current.push_str(&unit);
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts.into_iter().map(|p| p.trim_end_matches('\n').to_string()).filter(|p| !p.is_empty()).collect()
}

pub struct TelegramChannel {
    client: reqwest::Client,
    url: Secret,
    chat_id: Secret,
    per_bot: Pacer,
    per_chat: Pacer,
}

impl TelegramChannel {
    pub fn new(client: reqwest::Client, config: &TelegramConfig) -> Self {
        let url = format!("{}/bot{}/sendMessage", config.api_base.trim_end_matches('/'), config.bot_token.expose());
        let per_second = u64::from(config.max_messages_per_second.max(1));
        Self {
            client,
            url: Secret::new(url),
            chat_id: config.chat_id.clone(),
            per_bot: Pacer::new(Duration::from_millis(1000 / per_second)),
            per_chat: Pacer::new(Duration::from_millis(config.per_chat_interval_ms)),
        }
    }
}

impl AlertChannel for TelegramChannel {
    fn name(&self) -> &str {
        "telegram"
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        if let Some(announcement) = &notification.alert.announcement {
            return announcement.parts(Medium::Telegram).into_iter().map(Part::body).collect();
        }
        split_message(&telegram_text(notification), MESSAGE_MAX).into_iter().map(Part::body).collect()
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            self.per_chat.ready().await;
            self.per_bot.ready().await;
            let body = json!({
                "chat_id": self.chat_id.expose(),
                "text": part.body,
                "parse_mode": "MarkdownV2",
                "disable_web_page_preview": true,
            });
            let result = execute("telegram", self.client.post(self.url.expose()).json(&body)).await;
            if let Some(wait) = result.as_ref().err().and_then(AlertError::retry_after) {
                self.per_chat.defer(wait);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_are_escaped() {
        assert_eq!(escape_markdown_v2("P&L -$5.2 (x) [a] a_b!"), "P&L \\-$5\\.2 \\(x\\) \\[a\\] a\\_b\\!");
        assert_eq!(escape_markdown_v2("a\\b"), "a\\\\b");
    }

    #[test]
    fn long_messages_split_on_lines_within_the_limit() {
        let line = format!("{}\n", "a".repeat(1000));
        let text = line.repeat(9);
        let parts = split_message(&text, MESSAGE_MAX);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| units(p) <= MESSAGE_MAX));
        // Each part drops the line break it ended with.
        assert_eq!(parts.concat().len(), 9 * 1001 - 3);
    }

    #[test]
    fn a_huge_line_never_splits_an_escape() {
        let text = escape_markdown_v2(&".".repeat(5000));
        let parts = split_message(&text, MESSAGE_MAX);
        assert_eq!(parts.len(), 3);
        for part in &parts {
            assert!(units(part) <= MESSAGE_MAX);
            assert!(part.starts_with("\\.") && part.ends_with("\\."), "escape split");
        }
    }
}
