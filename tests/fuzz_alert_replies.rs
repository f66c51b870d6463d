//! Fuzz target of the one parser of alert provider replies: an error answer of Slack, Discord,
//! Telegram, a generic webhook or the SMS gateway (status, `Retry-After`, body) turned into "try
//! again (maybe after N seconds)" or "refused for good". Any body and header must give one of
//! the two, with a bounded wait, and never panic.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use support::fuzz::{bytes, config, json_value, number_text};
use whale_trader::alerts::AlertError;
use whale_trader::alerts::channels::classify_reply;

const WORDS: &[&str] = &["ok", "error", "description", "parameters", "retry_after", "message", "code", "global"];

fn headers(retry_after: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(retry_after) {
        headers.insert(RETRY_AFTER, value);
    }
    headers
}

fn check(status: u16, retry_after: &[u8], body: &str) -> Result<(), TestCaseError> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    match classify_reply("slack", status, &headers(retry_after), body) {
        AlertError::Temporary { retry_after: Some(wait), .. } => {
            // A provider cannot park a channel for longer than an hour.
            prop_assert!(wait <= Duration::from_secs(3_600), "an unbounded wait {wait:?}");
        }
        AlertError::Temporary { .. } | AlertError::Rejected { .. } => {}
        other => prop_assert!(false, "an unexpected error kind: {other:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn replies_of_raw_bytes(status in 400u16..600, retry_after in bytes(24), body in bytes(2_048)) {
        check(status, &retry_after, &String::from_utf8_lossy(&body))?;
    }

    #[test]
    fn replies_that_carry_a_retry_after(
        status in prop_oneof![Just(429u16), Just(503), Just(500), Just(400)],
        header in number_text(),
        wait in json_value(WORDS),
        telegram in any::<bool>(),
    ) {
        let body = if telegram {
            serde_json::json!({"ok": false, "error_code": 429, "parameters": {"retry_after": wait}})
        } else {
            serde_json::json!({"message": "You are being rate limited.", "retry_after": wait, "global": false})
        };
        check(status, header.as_bytes(), &body.to_string())?;
    }
}
