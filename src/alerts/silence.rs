//! Silences: an operator's "not now" for alerts they already know about — `whale=Alice for 2h`.
//!
//! A silence holds one or more matchers on an alert's labels (all must match), an end, who made it
//! and why, and how many alerts it held back. It never holds back an alert that must reach the
//! owner ([`Alert::must_reach`]: CRITICAL alerts, trading-state changes, losing closes, digests).
//! Pure and synchronous: time is a parameter; the store and the control paths live elsewhere.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::alert::{Alert, AlertKind, Priority};
use crate::clock::Timestamp;

/// The longest a silence may last: a forgotten one must end by itself.
pub const MAX_SILENCE_MILLIS: i64 = 30 * DAY_MILLIS;
/// Matchers per silence, at most.
pub const MAX_MATCHERS: usize = 8;
/// Characters of a matcher value, at most.
pub const MAX_VALUE_CHARS: usize = 200;
/// Characters of a reason, at most (longer ones are cut).
pub const MAX_REASON_CHARS: usize = 500;
/// Silences in force at once, at most.
pub const MAX_ACTIVE: usize = 100;

const MINUTE_MILLIS: i64 = 60_000;
const HOUR_MILLIS: i64 = 60 * MINUTE_MILLIS;
const DAY_MILLIS: i64 = 24 * HOUR_MILLIS;

/// Why a silence could not be parsed, made or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("matcher {given:?} is not KEY=VALUE; keys: {}", MatchKey::names())]
    NotKeyValue { given: String },
    #[error("matcher key {key:?} is unknown; keys: {}", MatchKey::names())]
    UnknownKey { key: String },
    #[error("matcher {key}= has an empty value")]
    EmptyValue { key: &'static str },
    #[error("matcher {key}= value is {chars} characters; at most {MAX_VALUE_CHARS}")]
    ValueTooLong { key: &'static str, chars: usize },
    #[error("matcher {key}= value contains control characters")]
    ControlCharacters { key: &'static str },
    #[error("matcher kind={value:?} is not an alert kind; kinds: {}", kind_names())]
    UnknownKind { value: String },
    #[error("matcher priority={value:?} is not info, warning or error (critical alerts are never silenced)")]
    BadPriority { value: String },
    #[error("a silence needs at least one --match KEY=VALUE; keys: {}", MatchKey::names())]
    NoMatchers,
    #[error("a silence takes at most {MAX_MATCHERS} matchers, got {count}")]
    TooManyMatchers { count: usize },
    #[error("duration {given:?} is not a whole number followed by m, h or d (30m, 2h, 1d)")]
    BadDuration { given: String },
    #[error("duration {given:?} is out of range: at least 1m and at most 30d")]
    DurationOutOfRange { given: String },
    #[error("{active} silences are in force, the most allowed; expire one first")]
    TooManyActive { active: usize },
    #[error("no silence {id:?} is in force")]
    NotFound { id: String },
}

/// What a matcher looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The whale's label or address (as the alert names it: `Alice (0x1234ab…cdef)`).
    Whale,
    /// The market's title or condition id.
    Market,
    /// The alert's kind (`trade_opened`, `trade_rejected`, …).
    Kind,
    /// The alert's title (`Trade Opened`), compared without regard to case.
    Title,
    /// The alert's priority: info, warning or error.
    Priority,
}

impl MatchKey {
    pub const ALL: [MatchKey; 5] =
        [MatchKey::Whale, MatchKey::Market, MatchKey::Kind, MatchKey::Title, MatchKey::Priority];

    pub fn as_str(self) -> &'static str {
        match self {
            MatchKey::Whale => "whale",
            MatchKey::Market => "market",
            MatchKey::Kind => "kind",
            MatchKey::Title => "title",
            MatchKey::Priority => "priority",
        }
    }

    fn names() -> String {
        MatchKey::ALL.map(MatchKey::as_str).join(", ")
    }
}

fn kind_names() -> String {
    AlertKind::ALL.map(AlertKind::as_str).join(", ")
}

/// One `KEY=VALUE` condition on an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    pub key: MatchKey,
    pub value: String,
}

impl Matcher {
    /// Parses `KEY=VALUE` (`whale=Alice`, `kind=trade_rejected`), checking the value is one the key
    /// can ever match.
    pub fn parse(text: &str) -> Result<Matcher, SilenceError> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(SilenceError::NotKeyValue { given: text.chars().take(MAX_VALUE_CHARS).collect() });
        };
        let key = key.trim().to_ascii_lowercase();
        let key = MatchKey::ALL
            .into_iter()
            .find(|k| k.as_str() == key)
            .ok_or_else(|| SilenceError::UnknownKey { key: key.chars().take(40).collect() })?;
        Matcher::new(key, value)
    }

    /// A matcher on `key`, its value checked as [`Matcher::parse`] does.
    pub fn new(key: MatchKey, value: &str) -> Result<Matcher, SilenceError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(SilenceError::EmptyValue { key: key.as_str() });
        }
        let chars = value.chars().count();
        if chars > MAX_VALUE_CHARS {
            return Err(SilenceError::ValueTooLong { key: key.as_str(), chars });
        }
        if value.chars().any(char::is_control) {
            return Err(SilenceError::ControlCharacters { key: key.as_str() });
        }
        let value = match key {
            MatchKey::Kind => {
                let lower = value.to_ascii_lowercase();
                AlertKind::ALL
                    .iter()
                    .find(|k| k.as_str() == lower)
                    .ok_or_else(|| SilenceError::UnknownKind { value: value.to_string() })?;
                lower
            }
            MatchKey::Priority => {
                let lower = value.to_ascii_lowercase();
                if !["info", "warning", "error"].contains(&lower.as_str()) {
                    return Err(SilenceError::BadPriority { value: value.to_string() });
                }
                lower
            }
            _ => value.to_string(),
        };
        Ok(Matcher { key, value })
    }

    pub fn matches(&self, alert: &Alert) -> bool {
        match self.key {
            MatchKey::Whale => alert.labels.whale.as_deref().is_some_and(|w| names_match(w, &self.value)),
            MatchKey::Market => alert.labels.market.as_deref().is_some_and(|m| names_match(m, &self.value)),
            MatchKey::Kind => alert.labels.kind.as_str() == self.value,
            MatchKey::Title => alert.title.trim().eq_ignore_ascii_case(&self.value),
            MatchKey::Priority => priority_named(alert.priority, &self.value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key.as_str(), self.value)
    }
}

fn priority_named(priority: Priority, value: &str) -> bool {
    priority.as_str().eq_ignore_ascii_case(value)
}

/// Whether an alert's `name (short id)` label is the one `value` names: the whole label, the name,
/// the short id as shown, or the full id the short one was cut from (`0x1234ab…cdef`). Case does
/// not matter (addresses are written in either case).
fn names_match(label: &str, value: &str) -> bool {
    let label = label.trim().to_lowercase();
    let value = value.trim().to_lowercase();
    if label == value {
        return true;
    }
    // `name (id)`: the part in brackets is an id only if it looks like one (`0x…`, `T000042`),
    // so a label that itself ends in brackets, `alpha (synthetic)`, is a name.
    let looks_like_id =
        |id: &str| !id.is_empty() && !id.contains(char::is_whitespace) && id.contains(|c: char| c.is_ascii_digit());
    let (name, id) = match label.rsplit_once(" (").and_then(|(n, rest)| rest.strip_suffix(')').map(|id| (n, id))) {
        Some((name, id)) if looks_like_id(id) => (Some(name), id),
        _ => (None, label.as_str()),
    };
    if name == Some(value.as_str()) || id == value {
        return true;
    }
    // A short id keeps the head and tail of the full one.
    match id.split_once('…') {
        Some((head, tail)) => {
            !head.is_empty()
                && value.len() > head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
        None => false,
    }
}

/// Parses `30m`, `2h`, `1d` into milliseconds: at least a minute, at most 30 days.
pub fn parse_duration(text: &str) -> Result<i64, SilenceError> {
    let given = || text.chars().take(40).collect::<String>();
    let text = text.trim();
    let bad = || SilenceError::BadDuration { given: given() };
    let split = text.len().checked_sub(1).filter(|&i| text.is_char_boundary(i)).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let unit_millis = match unit {
        "m" => MINUTE_MILLIS,
        "h" => HOUR_MILLIS,
        "d" => DAY_MILLIS,
        _ => return Err(bad()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let millis = number.parse::<i64>().ok().and_then(|n| n.checked_mul(unit_millis));
    match millis {
        Some(ms) if (MINUTE_MILLIS..=MAX_SILENCE_MILLIS).contains(&ms) => Ok(ms),
        _ => Err(SilenceError::DurationOutOfRange { given: given() }),
    }
}

/// A duration as a person writes it: `2h`, `1d`, `90m`.
pub fn format_duration(millis: i64) -> String {
    if millis % DAY_MILLIS == 0 {
        format!("{}d", millis / DAY_MILLIS)
    } else if millis % HOUR_MILLIS == 0 {
        format!("{}h", millis / HOUR_MILLIS)
    } else {
        format!("{}m", millis / MINUTE_MILLIS)
    }
}

/// One silence, as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// `S0001`, `S0002`, … in order of creation.
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// `cli`, `api` or `telegram:<chat>`.
    pub created_by: String,
    pub reason: String,
    /// Alerts it held back.
    pub hits: u64,
    /// Set when someone ended it before `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_by: Option<String>,
}

impl Silence {
    /// In force at `now`: not ended by hand and not past its end.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.expired_at.is_none() && now < self.expires_at
    }

    /// Whether this silence holds back `alert` at `now`.
    pub fn silences(&self, alert: &Alert, now: Timestamp) -> bool {
        self.is_active(now) && !alert.must_reach() && self.matchers.iter().all(|m| m.matches(alert))
    }

    /// `whale=Alice kind=trade_opened`.
    pub fn matchers_text(&self) -> String {
        self.matchers.iter().map(Matcher::to_string).collect::<Vec<_>>().join(" ")
    }

    /// The number in `S0042`, if the id has that shape.
    fn number(&self) -> Option<u64> {
        self.id.strip_prefix('S').and_then(|n| n.parse().ok())
    }
}

/// The silences in force, and where the next id comes from. The dispatcher asks it about every
/// alert; the control path adds and ends silences.
#[derive(Debug, Clone, Default)]
pub struct SilenceBook {
    silences: Vec<Silence>,
    last_number: u64,
    /// Hits counted since [`SilenceBook::take_changed`] last ran, by silence id.
    changed: Vec<String>,
}

impl SilenceBook {
    /// A book holding the stored silences still in force at `now` (the others only count for ids).
    pub fn from_stored(stored: Vec<Silence>, now: Timestamp) -> Self {
        let last_number = stored.iter().filter_map(Silence::number).max().unwrap_or(0);
        let silences = stored.into_iter().filter(|s| s.is_active(now)).collect();
        Self { silences, last_number, changed: Vec::new() }
    }

    /// Makes a silence from parsed matchers; it is in force from `now` for `duration_millis`.
    pub fn add(
        &mut self,
        matchers: Vec<Matcher>,
        duration_millis: i64,
        reason: &str,
        created_by: &str,
        now: Timestamp,
    ) -> Result<Silence, SilenceError> {
        if matchers.is_empty() {
            return Err(SilenceError::NoMatchers);
        }
        if matchers.len() > MAX_MATCHERS {
            return Err(SilenceError::TooManyMatchers { count: matchers.len() });
        }
        if !(MINUTE_MILLIS..=MAX_SILENCE_MILLIS).contains(&duration_millis) {
            return Err(SilenceError::DurationOutOfRange { given: format!("{duration_millis} ms") });
        }
        self.forget_ended(now);
        if self.silences.len() >= MAX_ACTIVE {
            return Err(SilenceError::TooManyActive { active: self.silences.len() });
        }
        self.last_number += 1;
        let silence = Silence {
            id: format!("S{:04}", self.last_number),
            matchers,
            created_at: now,
            expires_at: now.plus_millis(duration_millis),
            created_by: created_by.to_string(),
            reason: reason.trim().chars().filter(|c| !c.is_control()).take(MAX_REASON_CHARS).collect(),
            hits: 0,
            expired_at: None,
            expired_by: None,
        };
        self.silences.push(silence.clone());
        Ok(silence)
    }

    /// Ends silence `id` now; it no longer applies. Ids are compared without regard to case.
    pub fn expire(&mut self, id: &str, by: &str, now: Timestamp) -> Result<Silence, SilenceError> {
        self.forget_ended(now);
        let index = self
            .silences
            .iter()
            .position(|s| s.id.eq_ignore_ascii_case(id.trim()))
            .ok_or_else(|| SilenceError::NotFound { id: id.chars().take(40).collect() })?;
        let mut silence = self.silences.remove(index);
        silence.expired_at = Some(now);
        silence.expired_by = Some(by.to_string());
        self.changed.retain(|c| *c != silence.id);
        Ok(silence)
    }

    /// The first silence in force that holds back `alert`, its hit counted; `None` lets it through.
    pub fn check(&mut self, alert: &Alert, now: Timestamp) -> Option<&Silence> {
        let silence = self.silences.iter_mut().find(|s| s.silences(alert, now))?;
        silence.hits += 1;
        if !self.changed.contains(&silence.id) {
            self.changed.push(silence.id.clone());
        }
        Some(silence)
    }

    /// The silences in force at `now`, oldest first.
    pub fn active(&self, now: Timestamp) -> Vec<Silence> {
        self.silences.iter().filter(|s| s.is_active(now)).cloned().collect()
    }

    /// The silences whose hit count moved since the last call (for the store); ended ones included.
    pub fn take_changed(&mut self) -> Vec<Silence> {
        let changed = std::mem::take(&mut self.changed);
        self.silences.iter().filter(|s| changed.contains(&s.id)).cloned().collect()
    }

    /// Silences past their end leave the book (the store keeps them).
    fn forget_ended(&mut self, now: Timestamp) {
        self.silences.retain(|s| s.is_active(now) || self.changed.contains(&s.id));
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    const T0: Timestamp = Timestamp(1_000_000);

    fn opened(whale: &str, market: &str) -> Alert {
        Alert::trade_opened(whale, market, "BUY", dec!(10), dec!(0.5), T0)
    }

    fn matchers(texts: &[&str]) -> Vec<Matcher> {
        texts.iter().map(|t| Matcher::parse(t).unwrap()).collect()
    }

    #[test]
    fn matchers_parse_and_errors_name_the_key_value_and_known_keys() {
        assert_eq!(Matcher::parse("whale=Alice").unwrap(), Matcher { key: MatchKey::Whale, value: "Alice".into() });
        assert_eq!(Matcher::parse(" KIND = Trade_Opened").unwrap().value, "trade_opened");
        let e = Matcher::parse("colour=red").unwrap_err().to_string();
        assert!(e.contains("\"colour\"") && e.contains("whale, market, kind, title, priority"), "{e}");
        let e = Matcher::parse("whale").unwrap_err().to_string();
        assert!(e.contains("KEY=VALUE") && e.contains("whale"), "{e}");
        assert_eq!(Matcher::parse("market=  ").unwrap_err(), SilenceError::EmptyValue { key: "market" });
        let e = Matcher::parse("kind=opened").unwrap_err().to_string();
        assert!(e.contains("\"opened\"") && e.contains("trade_opened"), "{e}");
        let e = Matcher::parse("priority=critical").unwrap_err().to_string();
        assert!(e.contains("never silenced"), "{e}");
        let long = format!("title={}", "x".repeat(MAX_VALUE_CHARS + 1));
        assert!(matches!(Matcher::parse(&long), Err(SilenceError::ValueTooLong { .. })));
        assert_eq!(Matcher::parse("title=a\u{7}b").unwrap_err(), SilenceError::ControlCharacters { key: "title" });
    }

    #[test]
    fn durations_are_minutes_hours_or_days_and_bounded() {
        assert_eq!(parse_duration("30m").unwrap(), 30 * MINUTE_MILLIS);
        assert_eq!(parse_duration("2h").unwrap(), 2 * HOUR_MILLIS);
        assert_eq!(parse_duration("1d").unwrap(), DAY_MILLIS);
        assert_eq!(parse_duration("30d").unwrap(), MAX_SILENCE_MILLIS);
        for bad in ["", "h", "2", "2x", "-2h", "1.5h", "2 h", "2hh", "é", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(parse_duration("31d"), Err(SilenceError::DurationOutOfRange { .. })));
        assert!(matches!(parse_duration("0m"), Err(SilenceError::DurationOutOfRange { .. })));
        assert_eq!(format_duration(2 * HOUR_MILLIS), "2h");
        assert_eq!(format_duration(90 * MINUTE_MILLIS), "90m");
    }

    #[test]
    fn whales_and_markets_match_by_name_short_id_or_full_id() {
        let alert = opened("Alice (0x1234ab…cdef)", "Will it rain? (0xfeed00…0001)");
        for value in
            ["Alice", "alice", "0x1234ab…cdef", "0x1234ab0000000000000000000000000000cdef", "Alice (0x1234ab…cdef)"]
        {
            assert!(Matcher::new(MatchKey::Whale, value).unwrap().matches(&alert), "{value}");
        }
        for value in ["Bob", "0x1234ab", "Ali", "0x9999ab0000000000000000000000000000cdef"] {
            assert!(!Matcher::new(MatchKey::Whale, value).unwrap().matches(&alert), "{value}");
        }
        assert!(Matcher::new(MatchKey::Market, "will it rain?").unwrap().matches(&alert));
        assert!(Matcher::new(MatchKey::Title, "trade opened").unwrap().matches(&alert));
        assert!(Matcher::new(MatchKey::Priority, "info").unwrap().matches(&alert));
        assert!(!Matcher::new(MatchKey::Kind, "trade_closed").unwrap().matches(&alert));
        // A label that ends in brackets is a name, not a name and an id.
        let synthetic = opened("alpha (synthetic)", "m");
        assert!(Matcher::new(MatchKey::Whale, "alpha (synthetic)").unwrap().matches(&synthetic));
        assert!(!Matcher::new(MatchKey::Whale, "synthetic").unwrap().matches(&synthetic));
        let both = opened("alpha (synthetic) (0xc6ef18…1aca)", "m");
        assert!(Matcher::new(MatchKey::Whale, "alpha (synthetic)").unwrap().matches(&both));
        assert!(Matcher::new(MatchKey::Whale, "0xC6EF18652fcf021e6ec53aa6627746e629f41aca").unwrap().matches(&both));
        // An alert without a whale never matches a whale matcher.
        let plain = Alert::new(Priority::Info, "x", "y", T0);
        assert!(!Matcher::new(MatchKey::Whale, "Alice").unwrap().matches(&plain));
    }

    #[test]
    fn every_matcher_must_match_and_must_reach_alerts_are_never_silenced() {
        let mut book = SilenceBook::default();
        let s = book.add(matchers(&["whale=Alice", "kind=trade_opened"]), HOUR_MILLIS, "noisy", "cli", T0).unwrap();
        assert_eq!(s.id, "S0001");
        assert_eq!(s.expires_at, T0.plus_millis(HOUR_MILLIS));
        assert_eq!(book.check(&opened("Alice (0xaa)", "m"), T0).map(|s| s.id.clone()), Some("S0001".into()));
        assert!(book.check(&opened("Bob", "m"), T0).is_none());
        let winning = Alert::trade_closed("Alice", "m", dec!(5), "take_profit", T0);
        assert!(book.check(&winning, T0).is_none(), "kind does not match");

        let mut book = SilenceBook::default();
        book.add(matchers(&["whale=Alice"]), HOUR_MILLIS, "", "cli", T0).unwrap();
        assert!(book.check(&Alert::trade_closed("Alice", "m", dec!(5), "take_profit", T0), T0).is_some());
        let losing = Alert::trade_closed("Alice", "m", dec!(-5), "stop_loss", T0);
        assert!(book.check(&losing, T0).is_none(), "a losing close must reach");
        let critical = Alert::new(Priority::Critical, "x", "y", T0).with_whale("Alice");
        assert!(book.check(&critical, T0).is_none());
        let state =
            Alert::new(Priority::Warning, "x", "y", T0).with_whale("Alice").with_kind(AlertKind::TradingReducing);
        assert!(book.check(&state, T0).is_none());
        assert_eq!(book.active(T0)[0].hits, 1);
    }

    #[test]
    fn silences_end_by_themselves_or_by_hand_and_ids_keep_counting() {
        let mut book = SilenceBook::default();
        book.add(matchers(&["whale=Alice"]), 30 * MINUTE_MILLIS, "", "api", T0).unwrap();
        let alert = opened("Alice", "m");
        assert!(book.check(&alert, T0.plus_millis(30 * MINUTE_MILLIS - 1)).is_some());
        assert!(book.check(&alert, T0.plus_millis(30 * MINUTE_MILLIS)).is_none(), "expired by itself");
        assert!(book.active(T0.plus_millis(30 * MINUTE_MILLIS)).is_empty());

        let t1 = T0.plus_millis(30 * MINUTE_MILLIS);
        book.add(matchers(&["whale=Alice"]), HOUR_MILLIS, "", "api", t1).unwrap();
        assert!(book.check(&alert, t1).is_some());
        let ended = book.expire("s0002", "cli", t1.plus_millis(1)).unwrap();
        assert_eq!(
            (ended.expired_at, ended.expired_by.as_deref(), ended.hits),
            (Some(t1.plus_millis(1)), Some("cli"), 1)
        );
        assert!(book.check(&alert, t1.plus_millis(2)).is_none());
        assert_eq!(book.expire("S0002", "cli", t1).unwrap_err(), SilenceError::NotFound { id: "S0002".into() });

        // Restored from the store: ended silences are not loaded but their ids are not reused.
        let mut restored = SilenceBook::from_stored(vec![ended], T0);
        assert!(restored.active(T0).is_empty());
        assert_eq!(restored.add(matchers(&["kind=trade_opened"]), HOUR_MILLIS, "", "cli", T0).unwrap().id, "S0003");
    }

    #[test]
    fn adding_is_bounded_and_hits_are_reported_once() {
        let mut book = SilenceBook::default();
        assert_eq!(book.add(vec![], HOUR_MILLIS, "", "cli", T0).unwrap_err(), SilenceError::NoMatchers);
        let nine = vec![Matcher::parse("whale=a").unwrap(); MAX_MATCHERS + 1];
        assert!(matches!(book.add(nine, HOUR_MILLIS, "", "cli", T0), Err(SilenceError::TooManyMatchers { .. })));
        for _ in 0..MAX_ACTIVE {
            book.add(matchers(&["whale=a"]), HOUR_MILLIS, "", "cli", T0).unwrap();
        }
        assert!(matches!(
            book.add(matchers(&["whale=a"]), HOUR_MILLIS, "", "cli", T0),
            Err(SilenceError::TooManyActive { .. })
        ));
        book.check(&opened("a", "m"), T0);
        book.check(&opened("a", "m"), T0);
        let changed = book.take_changed();
        assert_eq!((changed.len(), changed[0].hits), (1, 2));
        assert!(book.take_changed().is_empty());
    }
}
