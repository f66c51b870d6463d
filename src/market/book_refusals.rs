//! Refused order books, counted per cause and logged without flooding.
//!
//! A feed that turns bad (a crossed venue, a broken proxy) can refuse a book on every poll of every
//! watched token. Each refusal is counted under its [`BookCause`] (`/metrics`:
//! `whale_trader_books_refused_total{cause}`), but a cause is logged at most once per
//! [`LOG_INTERVAL_MS`]: the line gives the number of refusals since the cause's previous line and
//! the first of them in full (asset id and the offending values). The first refusal of a cause is
//! logged at once. Time is a parameter, so the engine keeps its own tally on its own clock.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::book::{BookCause, BookError};
use crate::clock::Timestamp;

/// At most one warning per cause in this long.
pub const LOG_INTERVAL_MS: i64 = 60_000;

/// The longest example a warning quotes (an asset id comes from outside).
const MAX_EXAMPLE_CHARS: usize = 400;

/// Refused books per cause, since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BookRefusalCounts {
    pub malformed: u64,
    pub price_out_of_range: u64,
    pub unsorted: u64,
    pub repeated_price: u64,
    pub crossed: u64,
    pub locked: u64,
    pub older_than_last: u64,
}

impl BookRefusalCounts {
    pub fn get(&self, cause: BookCause) -> u64 {
        match cause {
            BookCause::Malformed => self.malformed,
            BookCause::PriceOutOfRange => self.price_out_of_range,
            BookCause::Unsorted => self.unsorted,
            BookCause::RepeatedPrice => self.repeated_price,
            BookCause::Crossed => self.crossed,
            BookCause::Locked => self.locked,
            BookCause::OlderThanLast => self.older_than_last,
        }
    }

    fn slot(&mut self, cause: BookCause) -> &mut u64 {
        match cause {
            BookCause::Malformed => &mut self.malformed,
            BookCause::PriceOutOfRange => &mut self.price_out_of_range,
            BookCause::Unsorted => &mut self.unsorted,
            BookCause::RepeatedPrice => &mut self.repeated_price,
            BookCause::Crossed => &mut self.crossed,
            BookCause::Locked => &mut self.locked,
            BookCause::OlderThanLast => &mut self.older_than_last,
        }
    }

    /// Every cause with its count, in [`BookCause::ALL`] order (zeros included).
    pub fn iter(&self) -> impl Iterator<Item = (BookCause, u64)> + '_ {
        BookCause::ALL.into_iter().map(|cause| (cause, self.get(cause)))
    }

    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).fold(0, u64::saturating_add)
    }

    pub fn is_zero(&self) -> bool {
        self.total() == 0
    }

    /// The two tallies added cause by cause (the feeds' and the engine's, for `/metrics`).
    pub fn plus(mut self, other: &BookRefusalCounts) -> BookRefusalCounts {
        for (cause, n) in other.iter() {
            let slot = self.slot(cause);
            *slot = slot.saturating_add(n);
        }
        self
    }
}

/// What one cause's warnings have said so far.
#[derive(Debug, Clone, Default)]
struct CauseLog {
    /// Refusals since the cause's last warning.
    unreported: u64,
    /// The first of them, described.
    example: Option<String>,
    last_warning_at: Option<Timestamp>,
}

/// Counts refused books and logs them, rate-limited per cause (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct BookRefusals {
    counts: BookRefusalCounts,
    logs: [CauseLog; BookCause::ALL.len()],
    /// Whose refusals these are, in the warning (`price feed`, `engine`, …).
    origin: &'static str,
}

impl BookRefusals {
    pub fn new(origin: &'static str) -> Self {
        Self { origin, ..Self::default() }
    }

    /// Counts `error` at `now`; logs a warning when its cause has not had one for
    /// `LOG_INTERVAL_MS`. Returns whether it did.
    pub fn record(&mut self, error: &BookError, now: Timestamp) -> bool {
        let cause = error.cause();
        let count = self.counts.slot(cause);
        *count = count.saturating_add(1);
        let total = *count;
        // One log per variant, in declaration order (the array has exactly that many).
        let log = &mut self.logs[cause as usize];
        log.unreported = log.unreported.saturating_add(1);
        if log.example.is_none() {
            log.example = Some(describe(error));
        }
        let due = log.last_warning_at.is_none_or(|at| now.millis_since(at) >= LOG_INTERVAL_MS);
        if !due {
            return false;
        }
        let example = log.example.take().unwrap_or_default();
        tracing::warn!(
            origin = self.origin,
            cause = cause.as_str(),
            refused = log.unreported,
            total,
            example = %example,
            "{}: {} order book(s) refused ({cause}) since the last report, {total} in all; first: {example}",
            self.origin,
            log.unreported,
        );
        log.unreported = 0;
        log.last_warning_at = Some(now);
        true
    }

    pub fn counts(&self) -> BookRefusalCounts {
        self.counts
    }
}

fn describe(error: &BookError) -> String {
    let text = error.to_string();
    match text.char_indices().nth(MAX_EXAMPLE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// One tally shared by the tasks that read books from outside (the price feed, the book fetched
/// before a copy, the replayed session), for one `/metrics` family and one rate limit per cause.
#[derive(Debug, Clone)]
pub struct SharedBookRefusals(Arc<Mutex<BookRefusals>>);

impl SharedBookRefusals {
    pub fn new(origin: &'static str) -> Self {
        Self(Arc::new(Mutex::new(BookRefusals::new(origin))))
    }

    /// See [`BookRefusals::record`].
    pub fn record(&self, error: &BookError, now: Timestamp) -> bool {
        // A tally is plain counters: one a panicking holder left behind is still right.
        self.0.lock().unwrap_or_else(PoisonError::into_inner).record(error, now)
    }

    pub fn counts(&self) -> BookRefusalCounts {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).counts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(cause: BookCause, asset: &str) -> BookError {
        BookError::Invalid { asset_id: asset.into(), cause, field: "best_bid", value: "0.9".into(), rule: "a rule" }
    }

    #[test]
    fn every_refusal_is_counted_under_its_cause() {
        let mut tally = BookRefusals::new("test");
        for cause in BookCause::ALL {
            tally.record(&refusal(cause, "1"), Timestamp::from_secs(0));
        }
        tally.record(&refusal(BookCause::Crossed, "2"), Timestamp::from_secs(1));
        tally.record(&BookError::Parse("eof".into()), Timestamp::from_secs(2));
        let counts = tally.counts();
        assert_eq!(counts.get(BookCause::Crossed), 2);
        assert_eq!(counts.get(BookCause::Malformed), 2);
        assert_eq!(counts.get(BookCause::OlderThanLast), 1);
        assert_eq!(counts.total(), 9);
        assert_eq!(counts.plus(&counts).get(BookCause::Crossed), 4);
        let names: Vec<&str> = counts.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            names,
            ["malformed", "price_out_of_range", "unsorted", "repeated_price", "crossed", "locked", "older_than_last"]
        );
    }

    #[test]
    fn a_cause_is_logged_at_once_then_at_most_once_a_minute_with_the_count_and_first_example() {
        let mut tally = BookRefusals::new("test");
        let at = Timestamp::from_secs;
        assert!(tally.record(&refusal(BookCause::Crossed, "first"), at(0)), "the first one is logged at once");
        assert!(!tally.record(&refusal(BookCause::Crossed, "second"), at(10)));
        assert!(!tally.record(&refusal(BookCause::Crossed, "third"), at(59)));
        // Another cause has its own limit.
        assert!(tally.record(&refusal(BookCause::Unsorted, "other"), at(30)));
        let log = &tally.logs[4];
        assert_eq!(log.unreported, 2);
        assert_eq!(log.example.as_deref(), Some("book second: best_bid = 0.9: a rule"));
        assert!(tally.record(&refusal(BookCause::Crossed, "fourth"), at(60)));
        assert_eq!((tally.logs[4].unreported, tally.logs[4].example.as_deref()), (0, None));
        assert!(!tally.record(&refusal(BookCause::Crossed, "fifth"), at(61)));
        assert_eq!(tally.counts().crossed, 5);
    }

    #[test]
    fn a_flood_writes_one_line_per_cause_and_interval() {
        let mut tally = BookRefusals::new("test");
        let lines = (0..10_000i64)
            .filter(|i| tally.record(&refusal(BookCause::Locked, "x"), Timestamp::from_millis(i * 10)))
            .count();
        // 100 s of refusals every 10 ms: lines at 0 s and at 60 s.
        assert_eq!(lines, 2);
        assert_eq!(tally.counts().locked, 10_000);
    }

    #[test]
    fn a_huge_example_is_cut() {
        let mut tally = BookRefusals::new("test");
        let long = "9".repeat(10_000);
        tally.record(&refusal(BookCause::Crossed, "a"), Timestamp::from_secs(0));
        tally.record(&refusal(BookCause::Crossed, &long), Timestamp::from_secs(1));
        let example = tally.logs[4].example.clone().unwrap_or_default();
        assert_eq!(example.chars().count(), MAX_EXAMPLE_CHARS + 1);
        assert!(example.ends_with('…'));
    }

    #[test]
    fn shared_tallies_add_up_across_clones() {
        let shared = SharedBookRefusals::new("feeds");
        let other = shared.clone();
        shared.record(&refusal(BookCause::Crossed, "a"), Timestamp::from_secs(0));
        other.record(&refusal(BookCause::Crossed, "b"), Timestamp::from_secs(0));
        assert_eq!(shared.counts().crossed, 2);
    }
}
