//! The decisions between "an alert was raised" and "a channel sends a message", as plain
//! synchronous state driven by `now`: halt suppression, grouping, repeat, resolve, throttling.
//!
//! Semantics, per dedup key (a "condition"):
//! - the first occurrence is sent at once (a 3 a.m. breaker trip must not wait for a window);
//! - further occurrences within `group_window` of it are merged, and one message with their count
//!   is sent when the window closes;
//! - after that, the condition is still active: occurrences are held back (and counted) until
//!   `repeat_interval` has passed since the last message, then one repeat with the count is sent;
//! - an alert that resolves the key sends a resolved notice with the total count, and forgets it;
//! - while trading is halted (breaker trip, halt or kill seen, no resume yet), every
//!   `trade_rejected` alert is one the halt caused: it is suppressed and counted.
//!
//! Throttling is per channel: at most `max_alerts_per_window` messages per window. What must
//! reach the owner always passes (and still counts towards the window): CRITICAL alerts,
//! trading-state changes, losing trade closes (see [`Alert::must_reach`]). Everything else the
//! throttle holds back is folded into the channel's [`Digest`], sent as one message as soon as the
//! window has room again (or at once when it is full, and on shutdown), so no close is ever lost.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::alert::{Alert, AlertKind};
use super::config::AlertsConfig;
use super::digest::Digest;
use super::notification::{Notice, Notification};
use crate::clock::Timestamp;

/// Conditions not seen for this long are forgotten, so the map stays bounded.
const FORGET_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// And never more than this many at once (the least recently seen go first).
const MAX_CONDITIONS: usize = 10_000;

/// Timings of the policy, taken from [`AlertsConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicySettings {
    pub group_window_ms: i64,
    pub repeat_interval_ms: i64,
    pub throttle_max: usize,
    pub throttle_window_ms: i64,
}

impl PolicySettings {
    pub fn from_config(config: &AlertsConfig) -> Self {
        let ms = |secs: u64| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        Self {
            group_window_ms: ms(config.group_window_secs),
            repeat_interval_ms: ms(config.repeat_interval_minutes.saturating_mul(60)),
            throttle_max: usize::try_from(config.throttle.max_alerts_per_window).unwrap_or(usize::MAX),
            throttle_window_ms: ms(config.throttle.window_minutes.saturating_mul(60)),
        }
    }
}

/// Why an alert produced no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Merged into the group window's message.
    Grouped,
    /// The condition is still active and was announced less than `repeat_interval` ago.
    Repeat,
    /// A trade rejection caused by a halt.
    Halted,
}

/// The outcome of one raised alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Send(Notification),
    Hold(Held),
}

#[derive(Debug)]
struct Condition {
    latest: Arc<Alert>,
    /// Occurrences since the last message.
    pending: u64,
    total: u64,
    last_sent: Timestamp,
    last_seen: Timestamp,
    /// When the group window that started with the last fresh message closes.
    group_until: Option<Timestamp>,
}

/// Grouping, repeat, resolve and halt state. One per dispatcher.
#[derive(Debug)]
pub struct Policy {
    settings: PolicySettings,
    conditions: HashMap<String, Condition>,
    halted: bool,
}

impl Policy {
    pub fn new(settings: PolicySettings) -> Self {
        Self { settings, conditions: HashMap::new(), halted: false }
    }

    /// New timings apply from now on; conditions and the halt state are kept.
    pub fn update(&mut self, settings: PolicySettings) {
        self.settings = settings;
    }

    pub fn is_halted(&self) -> bool {
        self.halted
    }

    pub fn on_alert(&mut self, alert: impl Into<Arc<Alert>>, now: Timestamp) -> Delivery {
        let alert: Arc<Alert> = alert.into();
        match alert.labels.kind {
            kind if kind.stops_trading() => self.halted = true,
            AlertKind::TradingResumed => self.halted = false,
            AlertKind::TradeRejected if self.halted => return Delivery::Hold(Held::Halted),
            _ => {}
        }
        let Some(key) = alert.dedup_key.clone() else {
            return Delivery::Send(Notification { alert, notice: Notice::Single });
        };
        if alert.resolves {
            return Delivery::Send(self.resolve(&key, alert));
        }
        let settings = self.settings;
        let Some(condition) = self.conditions.get_mut(&key) else {
            self.forget_stale(now);
            self.conditions.insert(
                key,
                Condition {
                    latest: Arc::clone(&alert),
                    pending: 0,
                    total: 1,
                    last_sent: now,
                    last_seen: now,
                    group_until: (settings.group_window_ms > 0).then(|| now.plus_millis(settings.group_window_ms)),
                },
            );
            return Delivery::Send(Notification { alert, notice: Notice::Single });
        };
        condition.total += 1;
        condition.pending += 1;
        condition.last_seen = now;
        condition.latest = alert;
        if condition.group_until.is_some_and(|until| now < until) {
            return Delivery::Hold(Held::Grouped);
        }
        if now.millis_since(condition.last_sent) < settings.repeat_interval_ms {
            return Delivery::Hold(Held::Repeat);
        }
        let count = std::mem::take(&mut condition.pending);
        condition.last_sent = now;
        condition.group_until = (settings.group_window_ms > 0).then(|| now.plus_millis(settings.group_window_ms));
        Delivery::Send(Notification { alert: Arc::clone(&condition.latest), notice: Notice::Repeat { count } })
    }

    /// The resolved notice; it goes out at least at the priority the condition was announced with,
    /// so that it reaches every channel that saw the condition.
    fn resolve(&mut self, key: &str, alert: Arc<Alert>) -> Notification {
        let Some(condition) = self.conditions.remove(key) else {
            return Notification { alert, notice: Notice::Resolved { count: 0 } };
        };
        let alert = if condition.latest.priority > alert.priority {
            Arc::new(Alert { priority: condition.latest.priority, ..(*alert).clone() })
        } else {
            alert
        };
        Notification { alert, notice: Notice::Resolved { count: condition.total } }
    }

    /// When the next group window closes, if any: the dispatcher sleeps until then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.conditions.values().filter_map(|c| c.group_until).min()
    }

    /// The grouped messages of every window closed by `now`.
    pub fn flush_due(&mut self, now: Timestamp) -> Vec<Notification> {
        let mut out = Vec::new();
        for condition in self.conditions.values_mut() {
            if condition.group_until.is_some_and(|until| until <= now) {
                condition.group_until = None;
                if condition.pending > 0 {
                    let count = std::mem::take(&mut condition.pending);
                    condition.last_sent = now;
                    out.push(Notification { alert: Arc::clone(&condition.latest), notice: Notice::Grouped { count } });
                }
            }
        }
        out.sort_by_key(|n| n.alert.at);
        out
    }

    /// On shutdown: every open window's message now, so that no count is lost.
    pub fn flush_all(&mut self) -> Vec<Notification> {
        let mut out = Vec::new();
        for condition in self.conditions.values_mut() {
            if condition.group_until.take().is_some() && condition.pending > 0 {
                let count = std::mem::take(&mut condition.pending);
                out.push(Notification { alert: Arc::clone(&condition.latest), notice: Notice::Grouped { count } });
            }
        }
        out
    }

    fn forget_stale(&mut self, now: Timestamp) {
        self.conditions.retain(|_, c| c.group_until.is_some() || now.millis_since(c.last_seen) < FORGET_AFTER_MS);
        while self.conditions.len() >= MAX_CONDITIONS {
            let oldest = self.conditions.iter().min_by_key(|(_, c)| c.last_seen).map(|(k, _)| k.clone());
            match oldest {
                Some(key) => self.conditions.remove(&key),
                None => break,
            };
        }
    }
}

/// The throttle, one per channel: a sliding window of recent messages, and the digest of what it
/// held back.
#[derive(Debug, Default)]
pub struct Throttle {
    sent: VecDeque<Timestamp>,
    digest: Digest,
}

impl Throttle {
    fn forget_expired(&mut self, now: Timestamp, settings: &PolicySettings) {
        while self.sent.front().is_some_and(|t| now.millis_since(*t) >= settings.throttle_window_ms) {
            self.sent.pop_front();
        }
    }

    /// Whether `notification` may go out at `now`; records it when it may, and folds it into the
    /// digest when it may not.
    pub fn admit(&mut self, notification: &Notification, now: Timestamp, settings: &PolicySettings) -> bool {
        self.forget_expired(now, settings);
        if notification.alert.passes_throttle() || self.sent.len() < settings.throttle_max {
            self.sent.push_back(now);
            true
        } else {
            self.digest.fold(notification);
            false
        }
    }

    /// When the digest is due: once the window has room for one more message (at once when the
    /// digest is full). `None` while nothing is held back.
    pub fn digest_due_at(&self, settings: &PolicySettings) -> Option<Timestamp> {
        if self.digest.is_empty() {
            return None;
        }
        // The window has room once all but `throttle_max - 1` of the messages in it have expired.
        let must_expire = (self.sent.len() + 1).saturating_sub(settings.throttle_max);
        match must_expire.checked_sub(1).and_then(|i| self.sent.get(i)) {
            Some(oldest) if !self.digest.is_full() => Some(oldest.plus_millis(settings.throttle_window_ms)),
            _ => Some(Timestamp::from_millis(0)),
        }
    }

    /// The digest, when it is due at `now`: it is then one message of the window like any other.
    pub fn take_due_digest(&mut self, now: Timestamp, settings: &PolicySettings) -> Option<Notification> {
        self.forget_expired(now, settings);
        let due = self.digest_due_at(settings).is_some_and(|at| at <= now);
        if !due {
            return None;
        }
        self.sent.push_back(now);
        self.digest.take(now).map(|alert| Notification { alert: Arc::new(alert), notice: Notice::Single })
    }

    /// On shutdown: the digest now, whatever the window, so that nothing held back is lost.
    pub fn take_digest(&mut self, now: Timestamp) -> Option<Notification> {
        self.digest.take(now).map(|alert| Notification { alert: Arc::new(alert), notice: Notice::Single })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Priority;

    const MIN: i64 = 60_000;

    fn settings() -> PolicySettings {
        PolicySettings::from_config(&AlertsConfig::default())
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn rejection(at_ms: i64) -> Alert {
        Alert::trade_rejected("0xwhale", "market-1", "max_total_positions", at(at_ms))
    }

    fn notice(decision: Delivery) -> Option<Notice> {
        match decision {
            Delivery::Send(n) => Some(n.notice),
            Delivery::Hold(_) => None,
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = settings();
        assert_eq!((s.throttle_max, s.throttle_window_ms), (10, 15 * MIN));
    }

    #[test]
    fn first_occurrence_goes_at_once_then_the_window_is_merged() {
        let mut policy = Policy::new(settings());
        assert_eq!(notice(policy.on_alert(rejection(0), at(0))), Some(Notice::Single));
        for s in 1..=4 {
            assert_eq!(policy.on_alert(rejection(s * 1000), at(s * 1000)), Delivery::Hold(Held::Grouped));
        }
        assert_eq!(policy.next_deadline(), Some(at(MIN)));
        assert!(policy.flush_due(at(MIN - 1)).is_empty());
        let flushed = policy.flush_due(at(MIN));
        assert_eq!(flushed.len(), 1);
        assert_eq!(flushed[0].notice, Notice::Grouped { count: 4 });
        assert_eq!(policy.next_deadline(), None);
    }

    #[test]
    fn still_active_condition_repeats_only_after_the_interval() {
        let mut policy = Policy::new(settings());
        policy.on_alert(rejection(0), at(0));
        assert_eq!(policy.on_alert(rejection(2 * MIN), at(2 * MIN)), Delivery::Hold(Held::Repeat));
        assert_eq!(policy.on_alert(rejection(59 * MIN), at(59 * MIN)), Delivery::Hold(Held::Repeat));
        assert_eq!(notice(policy.on_alert(rejection(60 * MIN), at(60 * MIN))), Some(Notice::Repeat { count: 3 }));
    }

    #[test]
    fn resolve_reports_the_total_and_forgets_the_condition() {
        let mut policy = Policy::new(settings());
        let halt = || Alert::new(Priority::Error, "Feed stale", "no prices", at(0)).with_dedup_key("feed");
        policy.on_alert(halt(), at(0));
        policy.on_alert(halt(), at(1000));
        let resolved = Alert::new(Priority::Error, "Feed ok", "prices again", at(2000)).resolving("feed");
        assert_eq!(notice(policy.on_alert(resolved, at(2000))), Some(Notice::Resolved { count: 2 }));
        assert!(policy.flush_due(at(10 * MIN)).is_empty(), "a resolved condition has no pending group");
        assert_eq!(notice(policy.on_alert(halt(), at(3000))), Some(Notice::Single));
    }

    #[test]
    fn halt_suppresses_rejections_until_resumed() {
        let mut policy = Policy::new(settings());
        policy.on_alert(Alert::trading_halted("daily loss", Default::default(), at(0)), at(0));
        assert_eq!(policy.on_alert(rejection(1), at(1)), Delivery::Hold(Held::Halted));
        policy.on_alert(Alert::trading_resumed("operator", at(2)), at(2));
        assert_eq!(notice(policy.on_alert(rejection(3), at(3))), Some(Notice::Single));
    }

    fn message(alert: Alert) -> Notification {
        Notification::single(alert)
    }

    fn opened(at_ms: i64) -> Notification {
        message(Alert::trade_opened(
            "0xw",
            "m",
            "BUY",
            rust_decimal::Decimal::TEN,
            rust_decimal::Decimal::ONE,
            at(at_ms),
        ))
    }

    #[test]
    fn throttle_lets_ten_through_per_window_but_always_critical() {
        let s = settings();
        let mut throttle = Throttle::default();
        let warning = |ms| message(Alert::new(Priority::Warning, "w", "x", at(ms)));
        for i in 0..10 {
            assert!(throttle.admit(&warning(i), at(i), &s));
        }
        assert!(!throttle.admit(&warning(11), at(11), &s));
        assert!(throttle.admit(&message(Alert::new(Priority::Critical, "c", "x", at(12))), at(12), &s));
        assert!(!throttle.admit(&message(Alert::new(Priority::Error, "e", "x", at(13))), at(15 * MIN - 1), &s));
        assert!(throttle.admit(&warning(15 * MIN + 12), at(15 * MIN + 12), &s));
    }

    #[test]
    fn state_changes_and_losing_closes_always_pass_and_still_count() {
        let s = settings();
        let mut throttle = Throttle::default();
        for i in 0..10 {
            assert!(throttle.admit(&opened(i), at(i), &s));
        }
        let loss = message(Alert::trade_closed("0xw", "m", rust_decimal::Decimal::NEGATIVE_ONE, "stop_loss", at(20)));
        let gain = message(Alert::trade_closed("0xw", "m", rust_decimal::Decimal::ONE, "take_profit", at(21)));
        let reducing = message(
            Alert::new(Priority::Warning, "Trading Reducing", "x", at(22)).with_kind(AlertKind::TradingReducing),
        );
        let resumed = message(Alert::trading_resumed("operator", at(23)));
        assert!(throttle.admit(&loss, at(20), &s), "a losing close is never held back");
        assert!(!throttle.admit(&gain, at(21), &s), "a winning close waits for the digest");
        assert!(throttle.admit(&reducing, at(22), &s));
        assert!(throttle.admit(&resumed, at(23), &s));
        // Those that passed count: thirteen in a window of ten, so a slot frees only when the
        // fourth oldest has expired.
        assert_eq!(throttle.digest_due_at(&s), Some(at(3 + 15 * MIN)));
    }

    #[test]
    fn what_the_throttle_holds_back_goes_out_as_one_digest_when_the_window_reopens() {
        let s = settings();
        let mut throttle = Throttle::default();
        assert_eq!(throttle.digest_due_at(&s), None, "nothing held back, no digest");
        for i in 0..10 {
            assert!(throttle.admit(&opened(i * 1000), at(i * 1000), &s));
        }
        for i in 10..17 {
            assert!(!throttle.admit(&opened(i * 1000), at(i * 1000), &s));
        }
        let close = message(Alert::trade_closed("0xw", "m-7", rust_decimal::Decimal::TWO, "whale_exit", at(17_000)));
        assert!(!throttle.admit(&close, at(17_000), &s));
        // The window reopens when the first of the ten expires.
        assert_eq!(throttle.digest_due_at(&s), Some(at(15 * MIN)));
        assert!(throttle.take_due_digest(at(15 * MIN - 1), &s).is_none(), "not before");
        let digest = throttle.take_due_digest(at(15 * MIN), &s).expect("due");
        assert_eq!(digest.alert.labels.kind, AlertKind::ThrottleDigest);
        assert!(
            digest.alert.message.starts_with("7 opened, 1 closed, P&L $2.00, 0 rejected"),
            "{}",
            digest.alert.message
        );
        assert!(digest.alert.message.contains("Closed m-7 (whale 0xw)"), "{}", digest.alert.message);
        assert_eq!(throttle.digest_due_at(&s), None);
        // The digest took the freed slot: the window is full again.
        assert!(!throttle.admit(&opened(15 * MIN + 1), at(15 * MIN + 1), &s));
        assert_eq!(
            throttle.take_digest(at(15 * MIN + 2)).map(|n| n.alert.labels.kind),
            Some(AlertKind::ThrottleDigest)
        );
    }

    #[test]
    fn a_full_digest_is_due_at_once() {
        let s = PolicySettings { throttle_max: 1, ..settings() };
        let mut throttle = Throttle::default();
        assert!(throttle.admit(&opened(0), at(0), &s));
        for i in 0..super::super::digest::MAX_DIGEST_CLOSES {
            let close = message(Alert::trade_closed("w", "m", rust_decimal::Decimal::ONE, "take_profit", at(1)));
            assert!(!throttle.admit(&close, at(1 + i as i64), &s));
        }
        assert_eq!(throttle.digest_due_at(&s), Some(at(0)));
        assert!(throttle.take_due_digest(at(500), &s).is_some());
    }
}
