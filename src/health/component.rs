//! Component checks: each part of the daemon registers an async check; the monitor runs them all
//! concurrently, each under the configured timeout, and records how long each took.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::error::HealthError;
use super::status::HealthStatus;
use crate::clock::{Clock, Timestamp};

/// What a check answers (`{status, message, metrics}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentHealth {
    pub status: HealthStatus,
    pub message: String,
    /// Figures of the component (`lag_secs`, `pool_size`, …), written as JSON numbers.
    #[serde(default, serialize_with = "super::json_number::serialize_map")]
    pub metrics: BTreeMap<String, Decimal>,
}

impl ComponentHealth {
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), metrics: BTreeMap::new() }
    }

    pub fn healthy(message: impl Into<String>) -> Self {
        Self::new(HealthStatus::Healthy, message)
    }

    pub fn degraded(message: impl Into<String>) -> Self {
        Self::new(HealthStatus::Degraded, message)
    }

    pub fn unhealthy(message: impl Into<String>) -> Self {
        Self::new(HealthStatus::Unhealthy, message)
    }

    pub fn critical(message: impl Into<String>) -> Self {
        Self::new(HealthStatus::Critical, message)
    }

    pub fn with_metric(mut self, name: impl Into<String>, value: Decimal) -> Self {
        self.metrics.insert(name.into(), value);
        self
    }
}

/// One check's last result, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentReport {
    pub status: HealthStatus,
    pub message: String,
    /// How long the check took, in milliseconds with microsecond precision (the timeout when it hung).
    #[serde(serialize_with = "super::json_number::serialize")]
    pub latency_ms: Decimal,
    pub checked_at: Timestamp,
    #[serde(default, serialize_with = "super::json_number::serialize_map")]
    pub metrics: BTreeMap<String, Decimal>,
}

type CheckFn = dyn Fn() -> BoxFuture<'static, ComponentHealth> + Send + Sync;

/// A registered check and its name.
type NamedCheck = (String, Arc<CheckFn>);

/// The registered checks. Cheap to clone (all clones share one list), so each part of the daemon can
/// register its check whenever it starts, also after the monitor is running.
#[derive(Clone, Default)]
pub struct ComponentRegistry {
    checks: Arc<Mutex<Vec<NamedCheck>>>,
}

impl std::fmt::Debug for ComponentRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentRegistry").field("components", &self.names()).finish()
    }
}

impl ComponentRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `check` under `name` (e.g. `engine`, `store`, `whale_feed`, `alerts.telegram`).
    ///
    /// The check must not block its thread: the timeout can only interrupt it at an `.await`.
    pub fn register<F, Fut>(&self, name: impl Into<String>, check: F) -> Result<(), HealthError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ComponentHealth> + Send + 'static,
    {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(HealthError::EmptyComponentName { name });
        }
        let mut checks = self.lock();
        if checks.iter().any(|(existing, _)| *existing == name) {
            return Err(HealthError::DuplicateComponent { name });
        }
        let boxed: Arc<CheckFn> = Arc::new(move || check().boxed());
        checks.push((name, boxed));
        Ok(())
    }

    /// Removes a check (a part that shut down); `false` when no check had that name.
    pub fn unregister(&self, name: &str) -> bool {
        let mut checks = self.lock();
        let before = checks.len();
        checks.retain(|(existing, _)| existing != name);
        checks.len() != before
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().iter().map(|(name, _)| name.clone()).collect()
    }

    /// Runs every check concurrently, each limited to `timeout`. A check that times out or panics is
    /// reported `unhealthy` with a message saying so; the others are unaffected.
    pub async fn check_all(&self, timeout: Duration, clock: &dyn Clock) -> BTreeMap<String, ComponentReport> {
        // Copy the list out so that no lock is held across an await.
        let checks: Vec<NamedCheck> = self.lock().clone();
        let runs = checks.into_iter().map(|(name, check)| async move {
            let (health, latency) = run_check(check, timeout).await;
            (name, health, latency)
        });
        let results = futures::future::join_all(runs).await;
        let checked_at = clock.now();
        results
            .into_iter()
            .map(|(name, health, latency)| {
                let report = ComponentReport {
                    status: health.status,
                    message: health.message,
                    latency_ms: millis_with_micros(latency),
                    checked_at,
                    metrics: health.metrics,
                };
                (name, report)
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<NamedCheck>> {
        // A panic while holding this lock cannot leave the list half-changed (push/retain), so a
        // poisoned lock is still usable.
        self.checks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn run_check(check: Arc<CheckFn>, timeout: Duration) -> (ComponentHealth, Duration) {
    let started = tokio::time::Instant::now();
    // Calling the closure inside the guarded future also catches a panic while building the future.
    let guarded = AssertUnwindSafe(async move { check().await }).catch_unwind();
    let health = match tokio::time::timeout(timeout, guarded).await {
        Ok(Ok(health)) => health,
        Ok(Err(_panic)) => ComponentHealth::unhealthy("the health check panicked"),
        Err(_elapsed) => {
            ComponentHealth::unhealthy(format!("the health check did not answer within {} ms", timeout.as_millis()))
        }
    };
    (health, started.elapsed())
}

/// A duration in milliseconds with three decimals (microsecond precision).
pub fn millis_with_micros(duration: Duration) -> Decimal {
    let micros = i128::try_from(duration.as_micros()).unwrap_or(i128::MAX);
    Decimal::try_from_i128_with_scale(micros, 3).unwrap_or(Decimal::MAX)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::clock::SimClock;

    #[test]
    fn names_must_be_unique_and_not_blank() {
        let registry = ComponentRegistry::new();
        assert!(registry.register("engine", || async { ComponentHealth::healthy("ok") }).is_ok());
        assert!(matches!(
            registry.register("engine", || async { ComponentHealth::healthy("ok") }),
            Err(HealthError::DuplicateComponent { name }) if name == "engine"
        ));
        assert!(matches!(
            registry.register("  ", || async { ComponentHealth::healthy("ok") }),
            Err(HealthError::EmptyComponentName { .. })
        ));
        assert_eq!(registry.names(), ["engine"]);
        assert!(registry.unregister("engine"));
        assert!(!registry.unregister("engine"));
        assert!(registry.names().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_and_panics_are_unhealthy_and_latency_is_recorded() {
        let registry = ComponentRegistry::new();
        let quick = registry.register("store", || async {
            tokio::time::sleep(Duration::from_millis(12)).await;
            ComponentHealth::healthy("round trip ok").with_metric("rows", dec!(3))
        });
        let hangs = registry.register("venue", || async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            ComponentHealth::healthy("never seen")
        });
        let panics = registry.register("broken", || async {
            let items: Vec<u8> = Vec::new();
            if items.is_empty() {
                panic!("boom");
            }
            ComponentHealth::healthy("unreachable")
        });
        assert!(quick.is_ok() && hangs.is_ok() && panics.is_ok());

        let clock = SimClock::starting_at(Timestamp::from_secs(500));
        let reports = registry.check_all(Duration::from_secs(5), &clock).await;
        assert_eq!(reports.len(), 3);

        let store = reports.get("store");
        assert_eq!(store.map(|r| r.status), Some(HealthStatus::Healthy));
        assert_eq!(store.map(|r| r.latency_ms), Some(dec!(12.000)));
        assert_eq!(store.and_then(|r| r.metrics.get("rows").copied()), Some(dec!(3)));
        assert_eq!(store.map(|r| r.checked_at), Some(Timestamp::from_secs(500)));

        let venue = reports.get("venue");
        assert_eq!(venue.map(|r| r.status), Some(HealthStatus::Unhealthy));
        assert_eq!(venue.map(|r| r.message.as_str()), Some("the health check did not answer within 5000 ms"));
        assert_eq!(venue.map(|r| r.latency_ms), Some(dec!(5000.000)));

        let broken = reports.get("broken");
        assert_eq!(broken.map(|r| r.status), Some(HealthStatus::Unhealthy));
        assert_eq!(broken.map(|r| r.message.as_str()), Some("the health check panicked"));
    }

    #[test]
    fn latency_keeps_microseconds() {
        assert_eq!(millis_with_micros(Duration::from_micros(12_345)), dec!(12.345));
        assert_eq!(millis_with_micros(Duration::ZERO), dec!(0));
    }
}
