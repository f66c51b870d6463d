//! Wording shared by every channel: the headline, the fields, the plain-text body of an
//! email, and the JSON record of the file channel, webhook and dead-letter file.

use serde_json::{Value, json};

use super::alert::Alert;
use super::notification::{Notice, Notification};

/// `CRITICAL: Trading Halted`, with the grouping or resolution spelled out.
pub fn headline(notification: &Notification) -> String {
    let alert = &notification.alert;
    match notification.notice {
        Notice::Single => format!("{}: {}", alert.priority, alert.title),
        Notice::Grouped { count } => format!("{}: {} (×{count} more)", alert.priority, alert.title),
        Notice::Repeat { count } => format!("{}: {} (still active, ×{count})", alert.priority, alert.title),
        Notice::Resolved { .. } => format!("RESOLVED: {}", alert.title),
    }
}

/// What the grouping adds to the message, if anything.
pub fn occurrence_line(notice: Notice) -> Option<String> {
    match notice {
        Notice::Single => None,
        Notice::Grouped { count } => Some(format!("{count} more occurrence(s) in the group window")),
        Notice::Repeat { count } => Some(format!("Still active: {count} occurrence(s) since the last notice")),
        Notice::Resolved { count: 0 } => None,
        Notice::Resolved { count } => Some(format!("Cleared after {count} occurrence(s)")),
    }
}

/// The context followed by the labels that identify the subject: the fields of Slack and Discord.
pub fn fields(alert: &Alert) -> Vec<(String, String)> {
    let mut fields = alert.context.clone();
    if let Some(whale) = &alert.labels.whale {
        fields.push(("Whale".into(), whale.clone()));
    }
    if let Some(market) = &alert.labels.market {
        fields.push(("Market".into(), market.clone()));
    }
    fields
}

/// The message with the occurrence line appended.
pub fn message_text(notification: &Notification) -> String {
    match occurrence_line(notification.notice) {
        Some(line) => format!("{}\n{line}", notification.alert.message),
        None => notification.alert.message.clone(),
    }
}

/// `[CRITICAL] Circuit Breaker Tripped`: the subject line.
pub fn email_subject(notification: &Notification) -> String {
    let alert = &notification.alert;
    match notification.notice {
        Notice::Resolved { .. } => format!("[RESOLVED] {}", alert.title),
        Notice::Single => format!("[{}] {}", alert.priority, alert.title),
        Notice::Grouped { count } | Notice::Repeat { count } => {
            format!("[{}] {} (×{count})", alert.priority, alert.title)
        }
    }
}

/// The plain-text email body.
pub fn plain_text_body(notification: &Notification) -> String {
    let alert = &notification.alert;
    let mut body = format!(
        "Whale Trader Risk Alert\n\nPriority: {}\nTimestamp: {}\n\n{}\n",
        alert.priority,
        alert.at.to_datetime().format("%Y-%m-%d %H:%M:%S UTC"),
        message_text(notification)
    );
    let fields = fields(alert);
    if !fields.is_empty() {
        body.push_str("\nMetrics:\n");
        for (key, value) in fields {
            body.push_str(&format!("- {key}: {value}\n"));
        }
    }
    body
}

/// One human line for the console.
pub fn console_line(notification: &Notification) -> String {
    let mut line =
        format!("{} {}: {}", notification.alert.priority.emoji(), headline(notification), message_text(notification));
    for (key, value) in fields(&notification.alert) {
        line.push_str(&format!(" | {key}: {value}"));
    }
    line.replace('\n', " ")
}

/// The alert as a JSON object with its context in order (`[{key, value}]`), and the payload of
/// the signal or summary it announces (`announcement`, see `crate::plans::format`), if any.
pub fn alert_json(notification: &Notification) -> Value {
    let alert = &notification.alert;
    let context: Vec<Value> = alert.context.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
    let mut record = json!({
        "at": alert.at.to_rfc3339(),
        "priority": alert.priority,
        "title": alert.title,
        "message": alert.message,
        "context": context,
        "dedup_key": alert.dedup_key,
        "labels": alert.labels,
        "resolves": alert.resolves,
        "notice": notification.notice.as_str(),
        "count": notification.notice.count(),
    });
    // A signal or summary keeps its whole payload (the file channel, the dead-letter file).
    if let (Some(announcement), Some(object)) = (&alert.announcement, record.as_object_mut()) {
        object.insert("announcement".into(), announcement.format_json());
    }
    record
}

/// Cuts `text` to at most `max` characters, ending with `…` when it was longer.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::alerts::alert::RiskFigures;
    use crate::clock::Timestamp;

    fn breaker() -> Notification {
        let metrics = RiskFigures {
            daily_pnl_usd: dec!(-523.45),
            drawdown_percent: dec!(12.3),
            open_positions: 8,
            max_positions: 10,
        };
        Notification::single(Alert::circuit_breaker_tripped(
            "Trading halted due to excessive losses: $523.45 (5.2%)",
            metrics,
            Timestamp::from_millis(1_762_097_445_000),
        ))
    }

    #[test]
    fn email_has_the_subject_and_body_layout() {
        let n = breaker();
        assert_eq!(email_subject(&n), "[CRITICAL] Circuit Breaker Tripped");
        assert_eq!(
            plain_text_body(&n),
            "Whale Trader Risk Alert\n\nPriority: CRITICAL\nTimestamp: 2025-11-02 15:30:45 UTC\n\n\
             Trading halted due to excessive losses: $523.45 (5.2%)\n\nMetrics:\n- Daily P&L: -$523.45\n\
             - Drawdown: 12.3%\n- Positions: 8/10\n"
        );
    }

    #[test]
    fn the_json_record_keeps_an_announcements_payload_and_adds_nothing_otherwise() {
        let decisions = crate::plans::format::summary_tests::hundred();
        let signal = Alert::signal(&decisions[0]).unwrap_or_else(|| panic!("approved"));
        let record = alert_json(&Notification::single(signal));
        assert_eq!(record["announcement"]["type"], "signal");
        assert_eq!(record["announcement"]["plan_id"], "plan-000");
        assert!(alert_json(&breaker()).get("announcement").is_none());
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("ééééé", 3), "éé…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }
}
