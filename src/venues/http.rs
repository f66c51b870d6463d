//! The HTTP path both venues share: one `reqwest` client with a per-request timeout, answers read
//! within `max_response_bytes`, the server-time offset signed requests are stamped with, and the
//! hold a 429 or 418 puts on every call (`Retry-After` when the venue gives one; otherwise 1 s
//! doubling to a minute for 429s, two minutes for a 418 ban). Each venue's module signs requests
//! and reads its own error payloads; this one only moves bytes and keeps time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

use crate::clock::Clock;
use crate::polymarket::{retry_after, root_cause};

use super::error::VenueError;
use super::{VenueConfig, VenueKind};

/// Longest error body kept for an error message.
const MAX_ERROR_BODY_CHARS: usize = 500;
/// First hold after a 429 without `Retry-After`; each further 429 doubles it, up to a minute.
const FIRST_RATE_LIMIT_HOLD: Duration = Duration::from_secs(1);
const MAX_RATE_LIMIT_HOLD: Duration = Duration::from_secs(60);
/// Hold after a 418 (an IP ban) without `Retry-After`.
const BAN_HOLD: Duration = Duration::from_secs(120);

/// A venue's answer: status, headers (rate-limit counters) and the body as text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The body cut to a length fit for an error message.
    pub fn body_excerpt(&self) -> String {
        self.body.chars().take(MAX_ERROR_BODY_CHARS).collect()
    }
}

/// Calls held back after a 429 / 418, until `until`.
#[derive(Debug, Clone)]
struct Hold {
    until: Instant,
    cause: String,
    /// 429s in a row, for the doubling.
    strikes: u32,
}

/// See the module documentation.
pub struct VenueHttp {
    venue: &'static str,
    client: reqwest::Client,
    base: String,
    max_body: usize,
    clock: Arc<dyn Clock>,
    /// Server time minus ours, in milliseconds, from the last sync.
    offset_ms: AtomicI64,
    hold: Mutex<Option<Hold>>,
}

impl VenueHttp {
    pub fn new(
        venue: &'static str,
        base_url: &str,
        timeout: Duration,
        max_body: usize,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, VenueError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| VenueError::Config { venue, detail: format!("HTTP client: {e}") })?;
        let base = base_url.trim().trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&base).is_err() {
            return Err(VenueError::Config { venue, detail: format!("{base:?} is not a URL") });
        }
        Ok(Self { venue, client, base, max_body, clock, offset_ms: AtomicI64::new(0), hold: Mutex::new(None) })
    }

    /// The HTTP path of `kind` as `config` sets it up: its base URL for the market and network,
    /// its timeout and its answer bound.
    pub fn for_venue(kind: VenueKind, config: &VenueConfig, clock: Arc<dyn Clock>) -> Result<Self, VenueError> {
        Self::new(
            kind.as_str(),
            config.base_url(kind),
            Duration::from_millis(config.timeout_ms),
            config.max_response_bytes,
            clock,
        )
    }

    pub fn venue(&self) -> &'static str {
        self.venue
    }

    /// The client, to build requests with.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `path` on the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Our clock, moved by the offset to the server's: what a signed request is stamped with.
    pub fn server_now_ms(&self) -> i64 {
        self.clock.now().0 + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Our clock, unadjusted, in milliseconds (to time a server-time request).
    pub fn local_now_ms(&self) -> i64 {
        self.clock.now().0
    }

    /// Records the server's time `server_ms`, read by a request sent at `sent_ms` and answered at
    /// `received_ms` (both ours): the offset is taken against the middle of the round trip.
    pub fn set_server_time(&self, server_ms: i64, sent_ms: i64, received_ms: i64) -> i64 {
        let offset = server_ms - (sent_ms + (received_ms - sent_ms) / 2);
        self.offset_ms.store(offset, Ordering::Relaxed);
        offset
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Holds every call for `wait` (a venue's module does this when its used-weight counter nears
    /// the limit, before the venue has to say 429).
    pub fn hold_for(&self, wait: Duration, cause: impl Into<String>) {
        let until = crate::clock::monotonic() + wait;
        let mut hold = self.hold.lock().unwrap_or_else(PoisonError::into_inner);
        let strikes = hold.as_ref().map_or(0, |h| h.strikes);
        if hold.as_ref().is_none_or(|h| h.until < until) {
            *hold = Some(Hold { until, cause: cause.into(), strikes });
        }
    }

    /// Sends `request` (built from [`VenueHttp::client`]) unless a hold is on; `endpoint` names
    /// it in errors (a path, never a query: queries carry signatures).
    pub async fn send(&self, endpoint: &str, request: reqwest::RequestBuilder) -> Result<Answer, VenueError> {
        let venue = self.venue;
        if let Some((wait, cause)) = self.holding() {
            return Err(VenueError::BackingOff { venue, wait, cause });
        }
        let transport = |e: &reqwest::Error| VenueError::Transport {
            venue,
            endpoint: endpoint.to_owned(),
            detail: if e.is_timeout() { "timed out".to_owned() } else { root_cause(e) },
        };
        let mut response = request.send().await.map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let too_large = || VenueError::TooLarge { venue, endpoint: endpoint.to_owned(), limit: self.max_body };
        if response.content_length().is_some_and(|declared| declared > self.max_body as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
            if body.len() + chunk.len() > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let answer = Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() };
        match status {
            429 => {
                let retry_after = self.strike(retry_after(&answer.headers), "rate limited (429)");
                tracing::warn!(venue, endpoint, wait_s = retry_after.as_secs(), "venue rate limit: holding every call");
                Err(VenueError::RateLimited { venue, retry_after })
            }
            418 => {
                let retry_after = retry_after(&answer.headers).unwrap_or(BAN_HOLD);
                self.hold_for(retry_after, "IP banned (418)");
                tracing::error!(
                    venue,
                    endpoint,
                    wait_s = retry_after.as_secs(),
                    "venue banned this IP: holding every call"
                );
                Err(VenueError::Banned { venue, retry_after })
            }
            _ => {
                self.clear_strikes();
                Ok(answer)
            }
        }
    }

    /// The hold still on, if any: how long, and why.
    fn holding(&self) -> Option<(Duration, String)> {
        let hold = self.hold.lock().unwrap_or_else(PoisonError::into_inner);
        let h = hold.as_ref()?;
        let now = crate::clock::monotonic();
        (h.until > now).then(|| (h.until - now, h.cause.clone()))
    }

    /// A 429: hold for what the venue said, or for the doubling wait.
    fn strike(&self, said: Option<Duration>, cause: &str) -> Duration {
        let mut hold = self.hold.lock().unwrap_or_else(PoisonError::into_inner);
        let strikes = hold.as_ref().map_or(0, |h| h.strikes).saturating_add(1);
        let doubling = FIRST_RATE_LIMIT_HOLD.saturating_mul(1 << (strikes - 1).min(6)).min(MAX_RATE_LIMIT_HOLD);
        let wait = said.unwrap_or(doubling);
        *hold = Some(Hold { until: crate::clock::monotonic() + wait, cause: cause.to_owned(), strikes });
        wait
    }

    fn clear_strikes(&self) {
        let mut hold = self.hold.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = hold.as_mut() {
            h.strikes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{SimClock, Timestamp};

    fn http() -> VenueHttp {
        let clock = Arc::new(SimClock::starting_at(Timestamp(1_000_000)));
        VenueHttp::new("binance", "http://127.0.0.1:9/", Duration::from_secs(1), 4096, clock)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_offset_is_taken_against_the_middle_of_the_round_trip() {
        let http = http();
        assert_eq!(http.set_server_time(1_000_600, 1_000_000, 1_000_200), 500);
        assert_eq!(http.server_now_ms(), 1_000_500);
        assert_eq!(http.url("/api/v3/time"), "http://127.0.0.1:9/api/v3/time");
    }

    #[test]
    fn rate_limit_holds_double_without_retry_after_and_follow_it_when_given() {
        let http = http();
        assert_eq!(http.strike(None, "429"), Duration::from_secs(1));
        assert_eq!(http.strike(None, "429"), Duration::from_secs(2));
        assert_eq!(http.strike(None, "429"), Duration::from_secs(4));
        assert_eq!(http.strike(Some(Duration::from_secs(7)), "429"), Duration::from_secs(7));
        assert!(http.holding().is_some_and(|(wait, cause)| wait <= Duration::from_secs(7) && cause == "429"));
    }

    #[tokio::test]
    async fn a_held_venue_is_not_asked() {
        let http = http();
        http.hold_for(Duration::from_secs(30), "used weight 1190 of 1200");
        let request = http.client().get(http.url("/api/v3/time"));
        let err = http.send("/api/v3/time", request).await.unwrap_err();
        assert!(matches!(err, VenueError::BackingOff { .. }), "{err}");
        assert!(err.to_string().contains("used weight 1190 of 1200"), "{err}");
    }
}
