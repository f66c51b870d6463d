//! The one way this module talks HTTP: a shared rate limiter (governor), a per-request timeout, and
//! retries with exponential backoff and jitter (backon) for the failures that are worth retrying —
//! 429 (honouring `Retry-After`), 425/5xx and timeouts. Other 4xx are returned at once. A call that
//! still fails after its retries opens an outage of its endpoint (see [`super::outage`]): one line
//! with the root cause, then a back-off across calls until it answers again.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::logging::record_http_call;
use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{RequestBuilder, StatusCode, Url};

use super::config::HttpConfig;
use super::outage::{Gate, Outages, endpoint_key, human_duration};

/// Longest error body kept for a log line or an error message.
const MAX_ERROR_BODY_CHARS: usize = 500;

/// Why a request failed (after its retries, when it was retryable).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    #[error("{url}: timed out")]
    Timeout { url: String },
    /// `detail` is the root cause, as [`root_cause`] finds it (DNS, refused, TLS, …).
    #[error("{url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("{url}: rate limited (429), retry after {retry_after:?}")]
    RateLimited { url: String, retry_after: Option<Duration> },
    #[error("{url}: server error {status}: {body}")]
    Server { url: String, status: u16, body: String, retry_after: Option<Duration> },
    #[error("{url}: request refused {status}: {body}")]
    Client { url: String, status: u16, body: String },
    #[error("invalid URL {url:?}: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("the request could not be built: {detail}")]
    Request { detail: String },
    /// `url` is the endpoint without query or credentials; the rest of the answer was not read.
    #[error(
        "{url}: the answer is larger than the {limit} bytes allowed for it (polymarket.http.max_response_bytes); abandoned unread"
    )]
    BodyTooLarge { url: String, limit: usize },
    /// Not sent: the endpoint failed its last calls and is backing off (the outage was logged).
    #[error("{endpoint}: not asked, backing off for {}s more after: {cause}", wait.as_secs_f32().ceil())]
    BackingOff { endpoint: String, wait: Duration, cause: String },
}

impl HttpError {
    /// Worth another attempt: the server may answer differently in a moment.
    pub fn is_retryable(&self) -> bool {
        matches!(self, HttpError::Timeout { .. } | HttpError::Transport { .. } | HttpError::RateLimited { .. })
            || matches!(self, HttpError::Server { .. })
    }

    /// The endpoint is down or overloaded (timeouts, transport failures, 429, 5xx, backing off),
    /// as opposed to refusing this request: the outage line already said it.
    pub fn is_outage(&self) -> bool {
        self.is_retryable() || matches!(self, HttpError::BackingOff { .. })
    }

    /// The root cause in a few words, for the outage's line.
    fn cause(&self) -> String {
        match self {
            HttpError::Timeout { .. } => "timed out".to_owned(),
            HttpError::Transport { detail, .. } => detail.clone(),
            HttpError::RateLimited { .. } => "rate limited (429)".to_owned(),
            HttpError::Server { status, .. } => format!("server error {status}"),
            other => other.to_string(),
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::RateLimited { .. } => Some(429),
            HttpError::Server { status, .. } | HttpError::Client { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Retry settings, from `[polymarket.http]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    pub fn from_config(config: &HttpConfig) -> Self {
        Self {
            max_attempts: config.max_attempts.max(1),
            base_backoff: Duration::from_millis(config.base_backoff_ms),
            max_backoff: Duration::from_millis(config.max_backoff_ms.max(config.base_backoff_ms)),
            max_retry_after: Duration::from_secs(config.max_retry_after_secs),
        }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.base_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }
}

/// A rate-limited, retrying HTTP client. Cheap to clone; clones share the limiter.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    limiter: Arc<DefaultDirectRateLimiter>,
    policy: RetryPolicy,
    /// Longest answer body read (`polymarket.http.max_response_bytes`, or less for an endpoint
    /// whose answers are small); a longer one is refused, not read. Error answers too: every byte
    /// from a venue is bounded.
    max_body_bytes: usize,
    /// The endpoints that stopped answering, shared by clones (every feed backs off together).
    outages: Arc<Mutex<Outages>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client allowing `requests_per_sec` (at least 1) with bursts of the same size.
    pub fn new(config: &HttpConfig, requests_per_sec: u32) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout())
            .user_agent(concat!("whale-trader/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Request { detail: format!("the HTTP client could not be built: {e}") })?;
        let rate = NonZeroU32::new(requests_per_sec).unwrap_or(NonZeroU32::MIN);
        Ok(Self {
            client,
            limiter: Arc::new(RateLimiter::direct(Quota::per_second(rate))),
            policy: RetryPolicy::from_config(config),
            max_body_bytes: config.max_response_bytes(),
            outages: Arc::new(Mutex::new(Outages::new(Duration::from_secs(config.max_outage_backoff_secs)))),
        })
    }

    /// The same client, refusing answers longer than `bytes` (read no further than that). Only
    /// ever tightens the configured bound.
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body_bytes = self.max_body_bytes.min(bytes);
        self
    }

    /// The longest answer body this client reads.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// The underlying reqwest client, for building requests.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// `GET url`, retried per the policy; returns the body of a 2xx answer.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, HttpError> {
        self.send_retried(|| Ok(self.client.get(url.clone()))).await
    }

    /// `GET url` like [`HttpClient::get`], with a tighter bound than the client's for this call
    /// (the smaller of the two applies).
    pub async fn get_bounded(&self, url: &Url, limit: usize) -> Result<Vec<u8>, HttpError> {
        let endpoint = endpoint_key("GET", url);
        self.retried(&endpoint, || self.send_once_bounded(self.client.get(url.clone()), Some(limit))).await
    }

    /// Sends the request `build` makes, retrying retryable failures with a freshly built request
    /// each time (so that a signed request gets a fresh timestamp).
    pub async fn send_retried<F>(&self, build: F) -> Result<Vec<u8>, HttpError>
    where
        F: Fn() -> Result<RequestBuilder, HttpError>,
    {
        let probe = build()?.build().map_err(|e| HttpError::Request { detail: e.to_string() })?;
        let endpoint = endpoint_key(probe.method().as_str(), probe.url());
        self.retried(&endpoint, || async { self.send_once(build()?).await }).await
    }

    /// One call to `endpoint`, tried per the retry policy inside its outage bookkeeping: not sent
    /// while the endpoint backs off, and its outcome opening or closing an outage.
    async fn retried<F, Fut>(&self, endpoint: &str, call: F) -> Result<Vec<u8>, HttpError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<u8>, HttpError>>,
    {
        self.gate(endpoint)?;
        let attempts = AtomicU32::new(0);
        let result = (|| {
            attempts.fetch_add(1, Ordering::Relaxed);
            call()
        })
        .retry(self.policy.backoff())
        .when(HttpError::is_retryable)
        .adjust(self.retry_after_adjuster())
        .notify(|error, wait| tracing::debug!(error = %error, wait_ms = wait.as_millis() as u64, "retrying request"))
        .await;
        self.after_call(endpoint, &result, attempts.into_inner());
        result
    }

    fn outages(&self) -> std::sync::MutexGuard<'_, Outages> {
        self.outages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A call to an endpoint that is backing off is not sent.
    fn gate(&self, endpoint: &str) -> Result<(), HttpError> {
        match self.outages().gate(endpoint, crate::clock::monotonic()) {
            Gate::Call => Ok(()),
            Gate::Skip(wait, cause) => Err(HttpError::BackingOff { endpoint: endpoint.to_owned(), wait, cause }),
        }
    }

    /// The failure that opens an outage and the success that ends one are the only lines logged
    /// about an endpoint's health (each retry in between is a debug line).
    fn after_call(&self, endpoint: &str, result: &Result<Vec<u8>, HttpError>, attempts: u32) {
        let now = crate::clock::monotonic();
        match result {
            Ok(_) => {
                if let Some(ended) = self.outages().succeeded(endpoint, now) {
                    tracing::info!(
                        endpoint = ended.endpoint,
                        failed_calls = ended.failures,
                        skipped_calls = ended.skipped,
                        "{} answers again after {} ({} failed call(s), {} skipped while backing off; last cause: {})",
                        ended.endpoint,
                        human_duration(ended.lasted),
                        ended.failures,
                        ended.skipped,
                        ended.cause
                    );
                }
            }
            Err(error) if error.is_retryable() => {
                if let Some(started) = self.outages().failed(endpoint, &error.cause(), attempts, now) {
                    tracing::warn!(
                        endpoint = started.endpoint,
                        attempts = started.attempts,
                        "{} is failing: {} ({} attempt(s)); asked again with a growing back-off (from {}, up to \
                         polymarket.http.max_outage_backoff_secs) until it answers",
                        started.endpoint,
                        started.cause,
                        started.attempts,
                        human_duration(started.backoff)
                    );
                }
            }
            Err(_) => {}
        }
    }

    /// The server said how long to wait (429, 503): wait that long (capped), unless attempts are used up.
    fn retry_after_adjuster(&self) -> impl Fn(&HttpError, Option<Duration>) -> Option<Duration> + use<> {
        let cap = self.policy.max_retry_after;
        move |error, backoff| match error {
            HttpError::RateLimited { retry_after: Some(wait), .. }
            | HttpError::Server { retry_after: Some(wait), .. } => backoff.map(|_| (*wait).min(cap)),
            _ => backoff,
        }
    }

    /// Sends once (after waiting for the rate limiter), without retries: for non-idempotent calls.
    pub async fn send_once(&self, request: RequestBuilder) -> Result<Vec<u8>, HttpError> {
        self.send_once_bounded(request, None).await
    }

    /// Every request goes through here, so that every answer body is read through
    /// [`read_bounded`]: a runaway answer never fills memory.
    async fn send_once_bounded(&self, request: RequestBuilder, limit: Option<usize>) -> Result<Vec<u8>, HttpError> {
        self.limiter.until_ready().await;
        let request = request.build().map_err(|e| HttpError::Request { detail: e.to_string() })?;
        let url = redact_query(request.url());
        let method = request.method().to_string();
        let endpoint = request.url().path().to_string();
        let started = crate::clock::monotonic();
        // Every call, failed or not, is timed into performance.log (endpoint without the query).
        let response = match self.client.execute(request).await {
            Ok(response) => response,
            Err(e) => {
                record_http_call(&method, &endpoint, None, started.elapsed());
                return Err(classify_transport(&url, &e));
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        // A call's own bound can only tighten the client's.
        let limit = limit.map_or(self.max_body_bytes, |call| call.min(self.max_body_bytes));
        let body = read_bounded(response, limit, &url).await;
        record_http_call(&method, &endpoint, Some(status.as_u16()), started.elapsed());
        classify_status(url, status, retry_after, body?)
    }
}

/// The body of `response`, at most `limit` bytes: a declared or actual length beyond it is refused
/// without reading the rest.
async fn read_bounded(mut response: reqwest::Response, limit: usize, url: &str) -> Result<Vec<u8>, HttpError> {
    let too_large = || HttpError::BodyTooLarge { url: url.to_string(), limit };
    if response.content_length().is_some_and(|declared| declared > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify_transport(url, &e))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify_status(
    url: String,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Vec<u8>,
) -> Result<Vec<u8>, HttpError> {
    if status.is_success() {
        return Ok(body);
    }
    let text: String = String::from_utf8_lossy(&body).chars().take(MAX_ERROR_BODY_CHARS).collect();
    Err(match status.as_u16() {
        429 => HttpError::RateLimited { url, retry_after },
        // 425: the matching engine is restarting (docs say retry with backoff).
        425 | 500..=599 => HttpError::Server { url, status: status.as_u16(), body: text, retry_after },
        code => HttpError::Client { url, status: code, body: text },
    })
}

fn classify_transport(url: &str, error: &reqwest::Error) -> HttpError {
    if error.is_timeout() {
        HttpError::Timeout { url: url.to_string() }
    } else {
        HttpError::Transport { url: url.to_string(), detail: root_cause(error) }
    }
}

/// What actually went wrong under reqwest's "error sending request for url …": the innermost
/// error of the chain, named by its kind when it has a well-known one.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    let mut io_kind = None;
    let mut chain = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        chain.push(e.to_string());
        innermost = e;
        current = e.source();
    }
    let text = chain.join(": ").to_lowercase();
    let detail = innermost.to_string();
    use std::io::ErrorKind;
    match io_kind {
        _ if text.contains("dns error") || text.contains("failed to lookup address") => {
            format!("DNS lookup failed ({detail})")
        }
        Some(ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
        Some(ErrorKind::ConnectionReset) => "connection reset by the server".to_owned(),
        Some(ErrorKind::TimedOut) => "timed out".to_owned(),
        _ if text.contains("certificate") || text.contains("tls") || text.contains("handshake") => {
            format!("TLS failed ({detail})")
        }
        _ if text.contains("connection closed") || text.contains("incomplete message") => {
            format!("connection closed by the server ({detail})")
        }
        _ => detail,
    }
}

/// `Retry-After` in seconds (the form the Data API and CLOB send); an HTTP date is ignored.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
}

/// The URL without its query string or any user info, for logs and errors (queries may carry
/// wallet filters and cursors, a base URL may carry credentials; keep lines short and stable).
fn redact_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Joins a configured base URL and an API path, keeping any path prefix of the base.
pub fn endpoint(base: &str, path: &str) -> Result<Url, HttpError> {
    let joined = format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'));
    Url::parse(&joined).map_err(|e| HttpError::BadUrl { url: joined, detail: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let ok = classify_status("u".into(), StatusCode::OK, None, b"x".to_vec());
        assert_eq!(ok.unwrap(), b"x");
        let limited = classify_status("u".into(), StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(3)), vec![]);
        assert_eq!(
            limited.unwrap_err(),
            HttpError::RateLimited { url: "u".into(), retry_after: Some(Duration::from_secs(3)) }
        );
        let server = classify_status("u".into(), StatusCode::BAD_GATEWAY, None, b"oops".to_vec()).unwrap_err();
        assert!(server.is_retryable());
        let client = classify_status("u".into(), StatusCode::BAD_REQUEST, None, b"bad".to_vec()).unwrap_err();
        assert!(!client.is_retryable());
        assert_eq!(client.status(), Some(400));
    }

    #[test]
    fn endpoint_keeps_base_prefix_and_avoids_double_slashes() {
        assert_eq!(endpoint("http://127.0.0.1:9/", "/v2/activity").unwrap().as_str(), "http://127.0.0.1:9/v2/activity");
        assert_eq!(endpoint("http://h/api", "book").unwrap().as_str(), "http://h/api/book");
        assert!(endpoint("nope", "book").is_err());
    }

    #[test]
    fn shown_urls_carry_no_query_or_credentials() {
        let url = Url::parse("http://user:secret@127.0.0.1:9/v2/activity?user=0xabc&cursor=tok#frag").unwrap();
        assert_eq!(redact_query(&url), "http://127.0.0.1:9/v2/activity");
    }

    #[test]
    fn a_call_bound_only_tightens_the_configured_one() {
        let config = HttpConfig { max_response_bytes: 100_000, ..HttpConfig::default() };
        let client = HttpClient::new(&config, 1).unwrap();
        assert_eq!(client.max_body_bytes(), 100_000);
        assert_eq!(client.clone().with_max_body(10).max_body_bytes(), 10);
        assert_eq!(client.with_max_body(1 << 30).max_body_bytes(), 100_000);
    }

    #[tokio::test]
    async fn a_refused_connection_is_named_and_the_endpoint_then_backs_off() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let config = HttpConfig { max_attempts: 2, base_backoff_ms: 1, max_backoff_ms: 2, ..HttpConfig::default() };
        let client = HttpClient::new(&config, 100).unwrap();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/v2/activity?user=0xabc")).unwrap();
        let error = client.get(&url).await.unwrap_err();
        assert_eq!(
            error,
            HttpError::Transport {
                url: format!("http://127.0.0.1:{port}/v2/activity"),
                detail: "connection refused".into()
            }
        );
        // The next poll within the back-off is not sent at all, and says why.
        let skipped = client.clone().get(&url).await.unwrap_err();
        assert!(
            matches!(&skipped, HttpError::BackingOff { endpoint, .. } if *endpoint == format!("GET 127.0.0.1:{port}/v2/activity")),
            "{skipped:?}"
        );
        assert!(skipped.is_outage() && !skipped.is_retryable());
    }

    /// An error with a message and an inner cause, as hyper and reqwest nest them.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<dyn std::error::Error + Send + Sync + 'static>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    fn chain(outer: &'static str, inner: impl std::error::Error + Send + Sync + 'static) -> Layer {
        Layer("error sending request for url (http://x/)", Some(Box::new(Layer(outer, Some(Box::new(inner))))))
    }

    #[test]
    fn the_root_cause_is_named_by_its_kind() {
        use std::io::{Error, ErrorKind};
        let dns = chain("dns error", Error::other("failed to lookup address information: Name or service not known"));
        assert_eq!(
            root_cause(&dns),
            "DNS lookup failed (failed to lookup address information: Name or service not known)"
        );
        let reset = chain("client error (Connect)", Error::from(ErrorKind::ConnectionReset));
        assert_eq!(root_cause(&reset), "connection reset by the server");
        let tls = chain("client error (Connect)", Layer("invalid peer certificate: UnknownIssuer", None));
        assert_eq!(root_cause(&tls), "TLS failed (invalid peer certificate: UnknownIssuer)");
        let other = chain("client error", Layer("something odd", None));
        assert_eq!(root_cause(&other), "something odd");
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
