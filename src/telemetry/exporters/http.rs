//! The HTTP NDJSON exporter: a batch of lines POSTed as `application/x-ndjson`, each try limited
//! by a timeout, failed tries repeated with a doubling back-off up to `retries` times. The URL is a
//! secret (it may carry a token): no error or log line shows it.

use std::time::Duration;

use crate::config::Secret;

use super::super::config::HttpSinkConfig;

/// First back-off after a failed try; doubled after each, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why a batch was not delivered (the last try's failure).
#[derive(Debug, thiserror::Error)]
pub enum HttpSinkError {
    #[error("the telemetry sink answered HTTP {0}")]
    Status(u16),
    #[error("the telemetry sink did not answer within {0} ms")]
    Timeout(u64),
    #[error("the telemetry sink cannot be reached: {0}")]
    Request(reqwest::Error),
    #[error("the telemetry sink's HTTP client cannot be built: {0}")]
    Client(reqwest::Error),
}

#[derive(Debug, Clone)]
pub struct HttpSink {
    client: reqwest::Client,
    url: Secret,
    timeout: Duration,
    retries: u32,
}

impl HttpSink {
    pub fn new(config: &HttpSinkConfig) -> Result<Self, HttpSinkError> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(HttpSinkError::Client)?;
        Ok(Self { client, url: config.url.clone(), timeout, retries: config.retries })
    }

    /// Delivers `body` (NDJSON lines), trying at most `1 + retries` times; `tries` limits it further
    /// (the final flush at a stop tries once, so that a dead sink cannot hold the stop).
    pub async fn deliver(&self, body: &[u8], tries: Option<u32>) -> Result<(), HttpSinkError> {
        let tries = tries.unwrap_or(u32::MAX).min(self.retries.saturating_add(1)).max(1);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.post(body).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt >= tries => return Err(error),
                Err(error) => {
                    tracing::debug!(attempt, %error, "telemetry batch not delivered; trying again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempt += 1;
                }
            }
        }
    }

    async fn post(&self, body: &[u8]) -> Result<(), HttpSinkError> {
        let request = self
            .client
            .post(self.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .body(body.to_vec());
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() { HttpSinkError::Timeout(timeout_ms) } else { HttpSinkError::Request(e.without_url()) }
        })?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(HttpSinkError::Status(status.as_u16())) }
    }
}
