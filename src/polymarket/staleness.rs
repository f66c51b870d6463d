//! Which watched tokens have a fresh price. Pure: the price feed tells it when books arrive and
//! asks it, with `now`, which tokens just went stale.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::clock::Timestamp;

/// One watched token's freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TokenFreshness {
    /// When the engine started watching it (staleness counts from here until the first book).
    pub watched_since: Timestamp,
    pub last_update: Option<Timestamp>,
    pub stale: bool,
    /// The venue has no book for it any more (absent from `POST /books`, 404 on `GET /book`): its
    /// market closed or resolved, until a book comes back.
    pub no_book: bool,
}

/// Tracks freshness for the set of tokens the engine watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalenessTracker {
    stale_after_ms: i64,
    tokens: BTreeMap<String, TokenFreshness>,
}

impl StalenessTracker {
    pub fn new(stale_after_secs: u64) -> Self {
        Self {
            stale_after_ms: i64::try_from(stale_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            tokens: BTreeMap::new(),
        }
    }

    /// Starts tracking new tokens and forgets the ones no longer watched.
    pub fn sync(&mut self, watched: &BTreeSet<String>, now: Timestamp) {
        self.tokens.retain(|token, _| watched.contains(token));
        for token in watched {
            self.tokens.entry(token.clone()).or_insert(TokenFreshness {
                watched_since: now,
                last_update: None,
                stale: false,
                no_book: false,
            });
        }
    }

    /// A fresh book arrived for `token` at `at`; returns true when the token was stale until now.
    pub fn record_update(&mut self, token: &str, at: Timestamp) -> bool {
        match self.tokens.get_mut(token) {
            Some(entry) => {
                entry.last_update = entry.last_update.max(Some(at));
                entry.no_book = false;
                std::mem::replace(&mut entry.stale, false)
            }
            None => false,
        }
    }

    /// Marks and returns the tokens that went stale since the last call (each transition once).
    pub fn newly_stale(&mut self, now: Timestamp) -> Vec<(String, Option<Timestamp>)> {
        let limit = self.stale_after_ms;
        let mut out = Vec::new();
        for (token, entry) in &mut self.tokens {
            let since = entry.last_update.unwrap_or(entry.watched_since);
            if !entry.stale && now.millis_since(since) > limit {
                entry.stale = true;
                out.push((token.clone(), entry.last_update));
            }
        }
        out
    }

    /// The venue said `token` has no book; returns true when that is news (each transition once).
    pub fn record_no_book(&mut self, token: &str) -> bool {
        self.tokens.get_mut(token).is_some_and(|entry| !std::mem::replace(&mut entry.no_book, true))
    }

    pub fn has_no_book(&self, token: &str) -> bool {
        self.tokens.get(token).is_some_and(|e| e.no_book)
    }

    pub fn is_stale(&self, token: &str) -> bool {
        self.tokens.get(token).is_some_and(|e| e.stale)
    }

    pub fn tokens(&self) -> &BTreeMap<String, TokenFreshness> {
        &self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(tokens: &[&str]) -> BTreeSet<String> {
        tokens.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_token_goes_stale_once_and_recovers_on_a_fresh_book() {
        let mut tracker = StalenessTracker::new(30);
        tracker.sync(&set(&["a", "b"]), Timestamp::from_secs(0));
        tracker.record_update("a", Timestamp::from_secs(10));
        assert!(tracker.newly_stale(Timestamp::from_secs(30)).is_empty(), "exactly 30 s is not yet stale");
        assert_eq!(tracker.newly_stale(Timestamp::from_secs(31)), vec![("b".to_string(), None)]);
        assert!(tracker.newly_stale(Timestamp::from_secs(32)).is_empty(), "reported once");
        assert_eq!(
            tracker.newly_stale(Timestamp::from_secs(41)),
            vec![("a".to_string(), Some(Timestamp::from_secs(10)))]
        );
        assert!(tracker.is_stale("a"));
        assert!(tracker.record_update("a", Timestamp::from_secs(42)), "recovery is reported");
        assert!(!tracker.is_stale("a"));
    }

    #[test]
    fn a_missing_book_is_news_once_and_a_book_clears_it() {
        let mut tracker = StalenessTracker::new(30);
        tracker.sync(&set(&["a"]), Timestamp::from_secs(0));
        assert!(tracker.record_no_book("a"));
        assert!(!tracker.record_no_book("a"), "reported once");
        assert!(!tracker.record_no_book("unwatched"));
        assert!(tracker.has_no_book("a"));
        tracker.record_update("a", Timestamp::from_secs(1));
        assert!(!tracker.has_no_book("a"));
        assert!(tracker.record_no_book("a"), "gone again is news again");
    }

    #[test]
    fn unwatched_tokens_are_forgotten() {
        let mut tracker = StalenessTracker::new(30);
        tracker.sync(&set(&["a", "b"]), Timestamp::from_secs(0));
        tracker.sync(&set(&["b"]), Timestamp::from_secs(1));
        assert_eq!(tracker.tokens().keys().collect::<Vec<_>>(), vec!["b"]);
        assert!(!tracker.record_update("a", Timestamp::from_secs(2)));
    }
}
