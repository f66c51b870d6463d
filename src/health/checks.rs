//! Ready-made checks for what most parts need: "this must have advanced within X" (engine loop
//! progress, whale and price feed freshness) and "the last attempts must have succeeded" (venue
//! reachability, an alert channel's deliveries).
//!
//! Each comes as a tracker the part updates on its hot path (an atomic store, or a short lock) and
//! a pure assessment the check runs, so the rules are tested without tasks or clocks.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{Ready, ready};
use rust_decimal::Decimal;

use super::component::ComponentHealth;
use super::error::HealthError;
use super::status::HealthStatus;
use crate::clock::{Clock, Timestamp};

/// How old the last progress may be. Progress no older than `degraded_after` is healthy; older than
/// that is degraded; older than `failed_after` gets `failed_status`. "Must advance within X" means
/// an age of exactly X is still fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshnessRule {
    degraded_after: Duration,
    failed_after: Duration,
    failed_status: HealthStatus,
}

impl FreshnessRule {
    pub fn new(
        degraded_after: Duration,
        failed_after: Duration,
        failed_status: HealthStatus,
    ) -> Result<Self, HealthError> {
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if failed_after.is_zero() {
            return Err(HealthError::InvalidFreshnessRule { field: "failed_after", value: 0, rule: "must be above 0" });
        }
        if degraded_after > failed_after {
            return Err(HealthError::InvalidFreshnessRule {
                field: "degraded_after",
                value: millis(degraded_after),
                rule: "must not exceed failed_after",
            });
        }
        Ok(Self { degraded_after, failed_after, failed_status })
    }

    /// "Must advance within `limit`, or the part is `failed_status`", with no degraded stage.
    pub fn within(limit: Duration, failed_status: HealthStatus) -> Result<Self, HealthError> {
        Self::new(limit, limit, failed_status)
    }

    /// Judges the age of the last progress of `what` (e.g. "engine loop progress").
    pub fn assess(&self, what: &str, last: Timestamp, now: Timestamp) -> ComponentHealth {
        let age_ms = now.millis_since(last).max(0);
        let age = Duration::from_millis(u64::try_from(age_ms).unwrap_or(0));
        let age_secs = Decimal::new(age_ms, 3);
        let health = if age > self.failed_after {
            ComponentHealth::new(
                self.failed_status,
                format!("no {what} for {age_secs} s (limit {} s)", self.failed_after.as_secs_f64()),
            )
        } else if age > self.degraded_after {
            ComponentHealth::degraded(format!(
                "no {what} for {age_secs} s (warning after {} s)",
                self.degraded_after.as_secs_f64()
            ))
        } else {
            ComponentHealth::healthy(format!("last {what} {age_secs} s ago"))
        };
        health.with_metric("age_secs", age_secs)
    }
}

/// The last time a part made progress and how often it has. The part calls [`ProgressTracker::mark`]
/// (engine: every loop turn; feeds: every message), the check reads it. Clones share the same state.
#[derive(Debug, Clone)]
pub struct ProgressTracker {
    inner: Arc<ProgressState>,
}

#[derive(Debug)]
struct ProgressState {
    last_ms: AtomicI64,
    count: AtomicU64,
}

impl ProgressTracker {
    /// Starts counting at `start`: a part that never progresses goes stale one window after start.
    pub fn new(start: Timestamp) -> Self {
        Self { inner: Arc::new(ProgressState { last_ms: AtomicI64::new(start.millis()), count: AtomicU64::new(0) }) }
    }

    /// Records progress at `now`. Out-of-order marks never move the time backwards.
    pub fn mark(&self, now: Timestamp) {
        self.inner.last_ms.fetch_max(now.millis(), Ordering::Relaxed);
        self.inner.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn last_progress(&self) -> Timestamp {
        Timestamp::from_millis(self.inner.last_ms.load(Ordering::Relaxed))
    }

    pub fn count(&self) -> u64 {
        self.inner.count.load(Ordering::Relaxed)
    }

    pub fn assess(&self, what: &str, rule: &FreshnessRule, now: Timestamp) -> ComponentHealth {
        rule.assess(what, self.last_progress(), now).with_metric("progress_count", Decimal::from(self.count()))
    }
}

/// A check for [`ComponentRegistry::register`](super::ComponentRegistry::register): `tracker` must have
/// advanced within `rule`, judged at `clock`'s now.
pub fn progress_check(
    tracker: ProgressTracker,
    what: impl Into<String>,
    rule: FreshnessRule,
    clock: Arc<dyn Clock>,
) -> impl Fn() -> Ready<ComponentHealth> + Send + Sync + 'static {
    let what = what.into();
    move || ready(tracker.assess(&what, &rule, clock.now()))
}

/// Remembers when a counter last changed, for parts that expose a counter rather than a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterWatch {
    last_value: Option<u64>,
    last_change: Timestamp,
}

impl CounterWatch {
    pub fn new(start: Timestamp) -> Self {
        Self { last_value: None, last_change: start }
    }

    /// Records a reading at `now`; returns when the counter last changed. The first reading sets the
    /// baseline without counting as a change.
    pub fn observe(&mut self, value: u64, now: Timestamp) -> Timestamp {
        match self.last_value {
            Some(previous) if previous != value => self.last_change = now,
            _ => {}
        }
        self.last_value = Some(value);
        self.last_change
    }
}

/// A check that `read()` (a counter) changes within `rule`.
pub fn counter_check<R>(
    read: R,
    what: impl Into<String>,
    rule: FreshnessRule,
    clock: Arc<dyn Clock>,
) -> impl Fn() -> Ready<ComponentHealth> + Send + Sync + 'static
where
    R: Fn() -> u64 + Send + Sync + 'static,
{
    let what = what.into();
    let watch = Mutex::new(CounterWatch::new(clock.now()));
    move || {
        let now = clock.now();
        let value = read();
        let last_change = watch.lock().map(|mut w| w.observe(value, now)).unwrap_or(now);
        ready(rule.assess(&what, last_change, now).with_metric("counter", Decimal::from(value)))
    }
}

/// How many failures in a row make a part fail. One failure is `degraded`; `failures_to_fail` in a
/// row gets `failed_status`; any success clears the streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeRule {
    failures_to_fail: u32,
    failed_status: HealthStatus,
}

impl OutcomeRule {
    /// `failures_to_fail` below 1 is raised to 1.
    pub fn new(failures_to_fail: u32, failed_status: HealthStatus) -> Self {
        Self { failures_to_fail: failures_to_fail.max(1), failed_status }
    }
}

/// Successes and failures of a part's real work (sending an order, delivering an alert), recorded as
/// they happen. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct OutcomeTracker {
    inner: Arc<Mutex<OutcomeState>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct OutcomeState {
    last_success: Option<Timestamp>,
    last_failure: Option<(Timestamp, String)>,
    failures_in_a_row: u32,
}

impl OutcomeTracker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record_success(&self, now: Timestamp) {
        if let Ok(mut state) = self.inner.lock() {
            state.last_success = Some(now);
            state.failures_in_a_row = 0;
        }
    }

    pub fn record_failure(&self, now: Timestamp, message: impl Into<String>) {
        if let Ok(mut state) = self.inner.lock() {
            state.last_failure = Some((now, message.into()));
            state.failures_in_a_row = state.failures_in_a_row.saturating_add(1);
        }
    }

    /// Judges the outcomes of `what` (e.g. "telegram delivery").
    pub fn assess(&self, what: &str, rule: &OutcomeRule) -> ComponentHealth {
        let state = match self.inner.lock() {
            Ok(state) => state.clone(),
            Err(_) => return ComponentHealth::unhealthy(format!("the {what} tracker is unusable (a panic held it)")),
        };
        let failures = state.failures_in_a_row;
        let health = if failures == 0 {
            match state.last_success {
                Some(at) => ComponentHealth::healthy(format!("last {what} succeeded at {at}")),
                None => ComponentHealth::healthy(format!("no {what} attempted yet")),
            }
        } else {
            let status = if failures >= rule.failures_to_fail { rule.failed_status } else { HealthStatus::Degraded };
            let last = state.last_failure.map(|(at, message)| format!(", last at {at}: {message}")).unwrap_or_default();
            ComponentHealth::new(status, format!("{failures} {what} failure(s) in a row{last}"))
        };
        health.with_metric("failures_in_a_row", Decimal::from(failures))
    }
}

/// A check over an [`OutcomeTracker`].
pub fn outcome_check(
    tracker: OutcomeTracker,
    what: impl Into<String>,
    rule: OutcomeRule,
) -> impl Fn() -> Ready<ComponentHealth> + Send + Sync + 'static {
    let what = what.into();
    move || ready(tracker.assess(&what, &rule))
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::clock::SimClock;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn freshness_boundaries_are_within_means_at_most() -> Result<(), HealthError> {
        use HealthStatus::*;
        let rule = FreshnessRule::new(secs(30), secs(60), Critical)?;
        let last = Timestamp::from_secs(1_000);
        let table = [(0, Healthy), (30_000, Healthy), (30_001, Degraded), (60_000, Degraded), (60_001, Critical)];
        for (age_ms, expected) in table {
            let health = rule.assess("engine loop progress", last, last.plus_millis(age_ms));
            assert_eq!(health.status, expected, "age {age_ms} ms");
            assert_eq!(health.metrics.get("age_secs").copied(), Some(Decimal::new(age_ms, 3)));
        }
        let stale = rule.assess("engine loop progress", last, last.plus_secs(125));
        assert_eq!(stale.message, "no engine loop progress for 125.000 s (limit 60 s)");
        // A clock behind the mark (another thread marked later) reads as age 0, not negative.
        assert_eq!(rule.assess("x", last, last.plus_secs(-5)).status, Healthy);
        Ok(())
    }

    #[test]
    fn freshness_rules_must_make_sense() {
        assert!(matches!(
            FreshnessRule::new(secs(61), secs(60), HealthStatus::Unhealthy),
            Err(HealthError::InvalidFreshnessRule { field: "degraded_after", value: 61_000, .. })
        ));
        assert!(matches!(
            FreshnessRule::within(Duration::ZERO, HealthStatus::Unhealthy),
            Err(HealthError::InvalidFreshnessRule { field: "failed_after", .. })
        ));
    }

    #[test]
    fn a_progress_tracker_goes_stale_without_marks() -> Result<(), HealthError> {
        let clock = SimClock::starting_at(Timestamp::from_secs(100));
        let tracker = ProgressTracker::new(clock.now());
        let rule = FreshnessRule::within(secs(10), HealthStatus::Critical)?;
        let check = progress_check(tracker.clone(), "engine loop progress", rule, Arc::new(clock.clone()));

        clock.advance_millis(10_000);
        assert_eq!(futures::executor::block_on(check()).status, HealthStatus::Healthy);
        clock.advance_millis(1);
        assert_eq!(futures::executor::block_on(check()).status, HealthStatus::Critical);

        tracker.mark(clock.now());
        tracker.mark(Timestamp::from_secs(50)); // late, out of order: ignored for the time
        let health = futures::executor::block_on(check());
        assert_eq!(health.status, HealthStatus::Healthy);
        assert_eq!(health.metrics.get("progress_count").copied(), Some(dec!(2)));
        assert_eq!(tracker.last_progress(), Timestamp::from_millis(110_001));
        Ok(())
    }

    #[test]
    fn a_counter_must_change_to_count_as_progress() -> Result<(), HealthError> {
        let clock = SimClock::starting_at(Timestamp::from_secs(0));
        let counter = Arc::new(AtomicU64::new(7));
        let read = {
            let counter = counter.clone();
            move || counter.load(Ordering::Relaxed)
        };
        let rule = FreshnessRule::within(secs(30), HealthStatus::Unhealthy)?;
        let check = counter_check(read, "store writes", rule, Arc::new(clock.clone()));

        clock.advance_millis(20_000);
        assert_eq!(futures::executor::block_on(check()).status, HealthStatus::Healthy);
        clock.advance_millis(20_000); // 40 s without a change
        assert_eq!(futures::executor::block_on(check()).status, HealthStatus::Unhealthy);
        counter.store(8, Ordering::Relaxed);
        let health = futures::executor::block_on(check());
        assert_eq!(health.status, HealthStatus::Healthy);
        assert_eq!(health.metrics.get("counter").copied(), Some(dec!(8)));
        Ok(())
    }

    #[test]
    fn failures_in_a_row_degrade_then_fail_and_a_success_clears_them() {
        let tracker = OutcomeTracker::new();
        let rule = OutcomeRule::new(3, HealthStatus::Unhealthy);
        let check = outcome_check(tracker.clone(), "telegram delivery", rule);
        let status = || futures::executor::block_on(check()).status;

        assert_eq!(status(), HealthStatus::Healthy);
        tracker.record_failure(Timestamp::from_secs(1), "HTTP 502");
        assert_eq!(status(), HealthStatus::Degraded);
        tracker.record_failure(Timestamp::from_secs(2), "HTTP 502");
        tracker.record_failure(Timestamp::from_secs(3), "timeout");
        let health = futures::executor::block_on(check());
        assert_eq!(health.status, HealthStatus::Unhealthy);
        assert!(health.message.starts_with("3 telegram delivery failure(s) in a row"));
        assert!(health.message.ends_with("timeout"));
        tracker.record_success(Timestamp::from_secs(4));
        assert_eq!(status(), HealthStatus::Healthy);
    }
}
