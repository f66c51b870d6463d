//! SMS through Twilio's REST API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with a
//! form body (To, From, Body) and basic auth `sid:token`. A long alert is cut into numbered
//! 160-character segments, each sent as its own message, at most `max_segments` of them.

use futures::future::BoxFuture;

use super::http::execute;
use super::{AlertChannel, Part};
use crate::alerts::config::SmsConfig;
use crate::alerts::error::AlertError;
use crate::alerts::format::{fields, headline, message_text};
use crate::alerts::notification::Notification;
use crate::config::Secret;

const SEGMENT: usize = 160;

/// The compact one-line text of an alert.
pub fn sms_text(notification: &Notification) -> String {
    let mut text = format!("{}: {}", headline(notification), message_text(notification));
    for (key, value) in fields(&notification.alert) {
        text.push_str(&format!(" | {key}: {value}"));
    }
    text.replace('\n', " ")
}

/// Cuts `text` into segments of at most 160 characters; when it takes more than one, each starts
/// with `(i/n) `. Beyond `max_segments`, the last segment ends with `…`.
pub fn sms_segments(text: &str, max_segments: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= SEGMENT {
        return vec![text.to_string()];
    }
    let max_segments = max_segments.max(1);
    // "(i/n) " takes 6 characters while n < 10 (max_segments is at most 10: "(10/10) " is 8).
    let prefix = if max_segments < 10 { 6 } else { 8 };
    let room = SEGMENT - prefix;
    let needed = chars.len().div_ceil(room);
    let count = needed.min(max_segments);
    (0..count)
        .map(|i| {
            let start = i * room;
            let end = (start + room).min(chars.len());
            let mut chunk: String = chars.get(start..end).map(|c| c.iter().collect()).unwrap_or_default();
            if i + 1 == count && needed > count {
                chunk = chunk.chars().take(room - 1).collect();
                chunk.push('…');
            }
            format!("({}/{count}) {chunk}", i + 1)
        })
        .collect()
}

pub struct SmsChannel {
    client: reqwest::Client,
    url: String,
    account_sid: Secret,
    auth_token: Secret,
    from: String,
    to: Vec<String>,
    max_segments: usize,
}

impl SmsChannel {
    pub fn new(client: reqwest::Client, config: &SmsConfig) -> Self {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            config.api_base.trim_end_matches('/'),
            config.account_sid.expose()
        );
        Self {
            client,
            url,
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.clone(),
            from: config.from.clone(),
            to: config.to.clone(),
            max_segments: config.max_segments,
        }
    }
}

impl AlertChannel for SmsChannel {
    fn name(&self) -> &str {
        "sms"
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        let segments = sms_segments(&sms_text(notification), self.max_segments);
        self.to
            .iter()
            .flat_map(|to| {
                segments.iter().map(move |segment| Part { to: Some(to.clone()), subject: None, body: segment.clone() })
            })
            .collect()
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        let to = part.to.clone().unwrap_or_default();
        let form = [("To", to.as_str()), ("From", self.from.as_str()), ("Body", part.body.as_str())];
        let request = self
            .client
            .post(&self.url)
            .basic_auth(self.account_sid.expose(), Some(self.auth_token.expose()))
            .form(&form);
        Box::pin(execute("sms", request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_segment() {
        assert_eq!(sms_segments("halted", 3), vec!["halted".to_string()]);
    }

    #[test]
    fn long_text_is_cut_into_numbered_160_character_segments() {
        let text = "x".repeat(300);
        let segments = sms_segments(&text, 3);
        assert_eq!(segments.len(), 2);
        assert!(segments.iter().all(|s| s.chars().count() <= 160));
        assert!(segments[0].starts_with("(1/2) ") && segments[1].starts_with("(2/2) "));
        let joined: String = segments.iter().map(|s| &s[6..]).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn beyond_max_segments_the_text_is_cut_with_an_ellipsis() {
        let segments = sms_segments(&"y".repeat(1000), 2);
        assert_eq!(segments.len(), 2);
        assert!(segments[1].ends_with('…'));
        assert!(segments.iter().all(|s| s.chars().count() <= 160));
    }
}
