//! What every HTTP channel shares: turning a provider's answer into "delivered", "try again
//! (maybe after N seconds)" or "refused for good", without ever printing the URL (it may hold a
//! token, as Slack and Discord webhook URLs and Telegram bot paths do).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::alerts::error::AlertError;
use crate::alerts::format::truncate_chars;
use crate::logging::record_http_call;

/// Sends a built request and classifies the answer.
/// Its latency goes to performance.log under the channel's name, never the (secret) URL.
pub async fn execute(channel: &str, request: reqwest::RequestBuilder) -> Result<(), AlertError> {
    let endpoint = format!("alerts:{channel}");
    let started = crate::clock::monotonic();
    let response = request.send().await.map_err(|e| {
        record_http_call("POST", &endpoint, None, started.elapsed());
        AlertError::Temporary {
            channel: channel.to_string(),
            // `without_url`: the URL may carry a token.
            reason: e.without_url().to_string(),
            retry_after: None,
        }
    })?;
    let status = response.status();
    record_http_call("POST", &endpoint, Some(status.as_u16()), started.elapsed());
    let headers = response.headers().clone();
    if status.is_success() {
        return Ok(());
    }
    let body = read_reply(response).await;
    Err(classify(channel, status, &headers, &body))
}

/// The most of a provider's error reply read: enough for its message and `retry_after`, never a
/// runaway answer held in memory.
pub const MAX_REPLY_BYTES: usize = 16 * 1024;

/// The first [`MAX_REPLY_BYTES`] of a reply body, read in chunks; the rest is never read (the
/// connection is dropped), and a reply cut short or unreadable simply says less.
async fn read_reply(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_REPLY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(MAX_REPLY_BYTES - body.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The error for a non-success answer.
pub fn classify(channel: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> AlertError {
    let reason = format!("HTTP {}: {}", status.as_u16(), truncate_chars(body.trim(), 200));
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        let retry_after = retry_after_header(headers).or_else(|| retry_after_body(body));
        AlertError::Temporary { channel: channel.to_string(), reason, retry_after }
    } else {
        AlertError::Rejected { channel: channel.to_string(), reason }
    }
}

/// `Retry-After: 3` or `Retry-After: 0.5` (seconds; the HTTP-date form is not used by these providers).
fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    seconds(text.trim().parse::<f64>().ok()?)
}

/// Telegram: `{"parameters":{"retry_after":3}}`; Discord: `{"retry_after":0.5}` (seconds).
fn retry_after_body(body: &str) -> Option<Duration> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    let value = json.pointer("/parameters/retry_after").or_else(|| json.get("retry_after"))?;
    seconds(value.as_f64()?)
}

fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn rate_limits_are_retryable_with_the_providers_wait() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        let err = classify("slack", StatusCode::TOO_MANY_REQUESTS, &headers, "");
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));

        let telegram = r#"{"ok":false,"error_code":429,"parameters":{"retry_after":7}}"#;
        let err = classify("telegram", StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), telegram);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));

        let discord = r#"{"message":"You are being rate limited.","retry_after":0.25,"global":false}"#;
        let err = classify("discord", StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), discord);
        assert_eq!(err.retry_after(), Some(Duration::from_millis(250)));
    }

    #[test]
    fn client_errors_are_final_and_server_errors_are_not() {
        assert!(!classify("x", StatusCode::UNAUTHORIZED, &HeaderMap::new(), "bad token").is_retryable());
        assert!(classify("x", StatusCode::BAD_GATEWAY, &HeaderMap::new(), "").is_retryable());
    }
}
