//! An endpoint that stops answering is one outage, told in one line with its root cause, and asked
//! less and less often until it answers again.
//!
//! Each endpoint (method, host and path, with ids in the path folded to `{id}`) has a state: while
//! its calls succeed nothing is kept. The first call that fails after its retries opens an outage
//! and is the one line logged (root cause, attempts). From then on the endpoint is skipped, without
//! a network call, for a back-off that doubles with every failed call — 1 s, 2 s, 4 s, … up to
//! `polymarket.http.max_outage_backoff_secs` — so that every feed polling it slows down together.
//! The first success closes the outage with a second line: how long it lasted and how many calls
//! failed. Pure state: time comes in as a parameter.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The first skip after a failed call; it doubles with each further one.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Endpoints tracked at most (paths with ids are folded, so a handful in practice).
const MAX_ENDPOINTS: usize = 256;

/// One endpoint's outage.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outage {
    started: Instant,
    /// Calls that failed (after their retries) since it started.
    failures: u64,
    /// Calls skipped while backing off.
    skipped: u64,
    /// No call before this.
    next_call: Instant,
    cause: String,
}

/// What the HTTP client should do now with a call to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Call,
    /// Skip it: the endpoint is backing off for this much longer, after this cause.
    Skip(Duration, String),
}

/// The one line an outage gets when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageStarted {
    pub endpoint: String,
    pub cause: String,
    pub attempts: u32,
    pub backoff: Duration,
}

/// The line it gets when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageEnded {
    pub endpoint: String,
    pub lasted: Duration,
    pub failures: u64,
    pub skipped: u64,
    pub cause: String,
}

/// The outages of every endpoint one HTTP client calls.
#[derive(Debug)]
pub struct Outages {
    max_backoff: Duration,
    open: HashMap<String, Outage>,
}

impl Outages {
    pub fn new(max_backoff: Duration) -> Self {
        Self { max_backoff: max_backoff.max(FIRST_BACKOFF), open: HashMap::new() }
    }

    /// Whether a call to `endpoint` may go out at `now`; a skipped one is counted.
    pub fn gate(&mut self, endpoint: &str, now: Instant) -> Gate {
        match self.open.get_mut(endpoint) {
            Some(outage) if now < outage.next_call => {
                outage.skipped += 1;
                Gate::Skip(outage.next_call - now, outage.cause.clone())
            }
            _ => Gate::Call,
        }
    }

    /// A call to `endpoint` failed after `attempts` tries with `cause`: backs the endpoint off, and
    /// returns the line to log when this failure opens an outage.
    pub fn failed(&mut self, endpoint: &str, cause: &str, attempts: u32, now: Instant) -> Option<OutageStarted> {
        if let Some(outage) = self.open.get_mut(endpoint) {
            outage.failures += 1;
            outage.cause = cause.to_owned();
            outage.next_call = now + backoff_after(outage.failures, self.max_backoff);
            return None;
        }
        if self.open.len() >= MAX_ENDPOINTS {
            // Bounded: the oldest outage makes room (its end will not be told, its start was).
            if let Some(oldest) = self.open.iter().min_by_key(|(_, o)| o.started).map(|(k, _)| k.clone()) {
                self.open.remove(&oldest);
            }
        }
        let backoff = backoff_after(1, self.max_backoff);
        let outage =
            Outage { started: now, failures: 1, skipped: 0, next_call: now + backoff, cause: cause.to_owned() };
        self.open.insert(endpoint.to_owned(), outage);
        Some(OutageStarted { endpoint: endpoint.to_owned(), cause: cause.to_owned(), attempts, backoff })
    }

    /// A call to `endpoint` succeeded: returns the line to log when it ends an outage.
    pub fn succeeded(&mut self, endpoint: &str, now: Instant) -> Option<OutageEnded> {
        let outage = self.open.remove(endpoint)?;
        Some(OutageEnded {
            endpoint: endpoint.to_owned(),
            lasted: now.saturating_duration_since(outage.started),
            failures: outage.failures,
            skipped: outage.skipped,
            cause: outage.cause,
        })
    }
}

/// The skip after the `failures`-th failed call in a row: 1 s doubled each time, capped.
fn backoff_after(failures: u64, cap: Duration) -> Duration {
    let doublings = u32::try_from(failures.saturating_sub(1)).unwrap_or(u32::MAX).min(16);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(cap)
}

/// `GET host/path` with the ids in the path folded (`/markets/0x3f…` → `/markets/{id}`), so that
/// one host's outage is one line, not one per market.
pub fn endpoint_key(method: &str, url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("?");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path: Vec<&str> = url
        .path_segments()
        .map(|segments| segments.map(|s| if looks_like_id(s) { "{id}" } else { s }).collect())
        .unwrap_or_default();
    format!("{method} {host}{port}/{}", path.join("/"))
}

fn looks_like_id(segment: &str) -> bool {
    let hex = segment.strip_prefix("0x").is_some_and(|h| h.len() >= 16 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (segment.len() >= 16 && segment.bytes().all(|b| b.is_ascii_digit()))
}

/// `2m 05s`, `41s`, `1h 03m`: a duration as a person reads it.
pub fn human_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_told_once_backs_off_growing_and_ends_with_its_figures() {
        let mut outages = Outages::new(Duration::from_secs(60));
        let t0 = crate::clock::monotonic();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let endpoint = "GET clob.example/books";
        assert_eq!(outages.gate(endpoint, t0), Gate::Call);

        let started = outages.failed(endpoint, "connection refused", 4, t0).expect("the first failure opens it");
        assert_eq!((started.attempts, started.backoff), (4, Duration::from_secs(1)));
        // Skipped within the back-off, called after it; each failure doubles the next wait.
        let refused = || "connection refused".to_owned();
        assert_eq!(outages.gate(endpoint, t0), Gate::Skip(Duration::from_secs(1), refused()));
        assert_eq!(outages.gate(endpoint, at(1)), Gate::Call);
        assert_eq!(outages.failed(endpoint, "connection refused", 4, at(1)), None, "told once");
        assert_eq!(outages.gate(endpoint, at(2)), Gate::Skip(Duration::from_secs(1), refused()));
        assert_eq!(outages.gate(endpoint, at(3)), Gate::Call);
        assert_eq!(outages.failed(endpoint, "timed out", 4, at(3)), None);
        assert_eq!(outages.gate(endpoint, at(3)), Gate::Skip(Duration::from_secs(4), "timed out".to_owned()));

        let ended = outages.succeeded(endpoint, at(125)).expect("the first success closes it");
        assert_eq!(ended.lasted, Duration::from_secs(125));
        assert_eq!((ended.failures, ended.skipped), (3, 3));
        assert_eq!(ended.cause, "timed out", "the latest cause is the one told at the end");
        assert_eq!(outages.succeeded(endpoint, at(126)), None, "a success outside an outage says nothing");
        assert_eq!(outages.gate(endpoint, at(126)), Gate::Call);
    }

    #[test]
    fn the_back_off_is_capped() {
        let cap = Duration::from_secs(60);
        assert_eq!(backoff_after(1, cap), Duration::from_secs(1));
        assert_eq!(backoff_after(6, cap), Duration::from_secs(32));
        assert_eq!(backoff_after(7, cap), cap);
        assert_eq!(backoff_after(u64::MAX, cap), cap);
    }

    #[test]
    fn ids_in_paths_fold_into_one_endpoint() {
        let a = reqwest::Url::parse("https://clob.polymarket.com/markets/0x3f5a1c2b9d8e7f60?x=1").unwrap();
        let b = reqwest::Url::parse("https://clob.polymarket.com/markets/0x9999aaaabbbbcccc").unwrap();
        assert_eq!(endpoint_key("GET", &a), "GET clob.polymarket.com/markets/{id}");
        assert_eq!(endpoint_key("GET", &a), endpoint_key("GET", &b));
        let local = reqwest::Url::parse("http://127.0.0.1:9000/v2/activity").unwrap();
        assert_eq!(endpoint_key("GET", &local), "GET 127.0.0.1:9000/v2/activity");
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(human_duration(Duration::from_secs(41)), "41s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m 05s");
        assert_eq!(human_duration(Duration::from_secs(3780)), "1h 03m");
    }
}
