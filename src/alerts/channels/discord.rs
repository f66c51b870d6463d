//! Discord webhook: one embed coloured by priority, cut to Discord's limits (title 256,
//! description 4096, 25 fields of name 256 / value 1024, 6000 characters in all).

use serde_json::{Value, json};

use crate::alerts::alert::Priority;
use crate::alerts::format::{fields, headline, message_text, truncate_chars};
use crate::alerts::notification::{Notice, Notification};
use crate::plans::format::{Announcement, Medium};

const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELDS_MAX: usize = 25;
const FIELD_NAME_MAX: usize = 256;
const FIELD_VALUE_MAX: usize = 1024;
const EMBED_TOTAL_MAX: usize = 6000;
const FOOTER: &str = "whale-trader";

/// Embed colours as decimal RGB; CRITICAL is dark red 10038562.
pub fn discord_colour(priority: Priority, notice: Notice) -> u32 {
    if matches!(notice, Notice::Resolved { .. }) {
        return 3_066_993; // green
    }
    match priority {
        Priority::Info => 3_447_003,      // blue
        Priority::Warning => 16_776_960,  // yellow
        Priority::Error => 15_105_570,    // orange
        Priority::Critical => 10_038_562, // dark red
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The webhook body, within every Discord limit.
pub fn discord_payload(notification: &Notification) -> Value {
    let alert = &notification.alert;
    let title = truncate_chars(&headline(notification), TITLE_MAX);
    let mut fields: Vec<(String, String)> = fields(alert)
        .into_iter()
        .take(FIELDS_MAX)
        .map(|(name, value)| {
            // Discord refuses empty names and values.
            let name = if name.trim().is_empty() { "-".to_string() } else { truncate_chars(&name, FIELD_NAME_MAX) };
            let value = if value.trim().is_empty() { "-".to_string() } else { truncate_chars(&value, FIELD_VALUE_MAX) };
            (name, value)
        })
        .collect();
    let fixed = chars(&title) + chars(FOOTER);
    let field_total = |fields: &[(String, String)]| fields.iter().map(|(n, v)| chars(n) + chars(v)).sum::<usize>();
    while fixed + field_total(&fields) > EMBED_TOTAL_MAX {
        fields.pop();
    }
    let room = EMBED_TOTAL_MAX.saturating_sub(fixed + field_total(&fields)).min(DESCRIPTION_MAX);
    let description = truncate_chars(&message_text(notification), room);
    let fields: Vec<Value> =
        fields.into_iter().map(|(name, value)| json!({ "name": name, "value": value, "inline": true })).collect();
    json!({
        "embeds": [{
            "title": title,
            "description": description,
            "color": discord_colour(alert.priority, notification.notice),
            "fields": fields,
            "footer": { "text": FOOTER },
            "timestamp": alert.at.to_rfc3339(),
        }]
    })
}

/// An announcement as Discord messages: markdown `content` of at most 2,000 characters, one
/// body per part, in order. Mentions are never parsed, so a rationale cannot ping anyone.
pub fn discord_announcement(announcement: &Announcement) -> Vec<Value> {
    announcement
        .parts(Medium::Discord)
        .into_iter()
        .map(|content| json!({ "content": content, "allowed_mentions": { "parse": [] } }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::alert::Alert;
    use crate::clock::Timestamp;

    #[test]
    fn oversized_embeds_are_cut_to_discords_limits() {
        let mut alert = Alert::new(Priority::Critical, "T".repeat(400), "D".repeat(9000), Timestamp::from_secs(0));
        for i in 0..40 {
            alert = alert.with_context(format!("{i}{}", "n".repeat(300)), "v".repeat(2000));
        }
        let payload = discord_payload(&Notification::single(alert));
        let embed = &payload["embeds"][0];
        let title = embed["title"].as_str().unwrap_or_default();
        let description = embed["description"].as_str().unwrap_or_default();
        let fields = embed["fields"].as_array().cloned().unwrap_or_default();
        assert_eq!(chars(title), 256);
        assert!(chars(description) <= 4096);
        assert!(fields.len() <= 25);
        let mut total = chars(title) + chars(description) + chars(FOOTER);
        for field in &fields {
            let (name, value) = (field["name"].as_str().unwrap_or(""), field["value"].as_str().unwrap_or(""));
            assert!(chars(name) <= 256 && chars(value) <= 1024);
            total += chars(name) + chars(value);
        }
        assert!(total <= 6000, "total {total}");
        assert_eq!(embed["color"], 10_038_562);
    }
}
