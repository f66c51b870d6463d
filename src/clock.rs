//! Time as a parameter. The engine and the risk manager never read the system clock: the daemon
//! passes [`SystemClock`] readings in, replay and tests pass a [`SimClock`] they advance by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC. Cheap to copy and compare on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Self(secs * 1000)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        self.plus_millis(secs.saturating_mul(1000))
    }

    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// RFC 3339 with milliseconds, the format of every log and audit line.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value.timestamp_millis())
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// The monotonic clock, for elapsed time only (timeouts, latencies, rate limits): never a
/// decision's time, which comes from a [`Clock`]. The one reading of it (clippy refuses it
/// anywhere else).
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock, for the daemon.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one reading of the wall clock (clippy refuses it anywhere else).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::from(Utc::now())
    }
}

/// A clock that only moves when told to: replay sets it to each event's timestamp.
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    now: Arc<AtomicI64>,
}

impl SimClock {
    pub fn starting_at(at: Timestamp) -> Self {
        Self { now: Arc::new(AtomicI64::new(at.0)) }
    }

    /// Moves the clock to `at`; a simulated clock never goes backwards. One task sets a simulated
    /// clock (the replay that drives it; others only read it), so a load and a store suffice: a
    /// replay sets it on every event, where an atomic read-modify-write is a locked instruction.
    pub fn set(&self, at: Timestamp) {
        if at.0 > self.now.load(Ordering::Relaxed) {
            self.now.store(at.0, Ordering::Relaxed);
        }
    }

    pub fn advance_millis(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.now.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_moves_only_forward() {
        let clock = SimClock::starting_at(Timestamp::from_secs(100));
        clock.set(Timestamp::from_secs(50));
        assert_eq!(clock.now(), Timestamp::from_secs(100));
        clock.set(Timestamp::from_secs(160));
        clock.advance_millis(5);
        assert_eq!(clock.now(), Timestamp::from_millis(160_005));
    }

    #[test]
    fn rfc3339_has_milliseconds_and_z() {
        assert_eq!(Timestamp::from_millis(1_700_000_000_123).to_rfc3339(), "2023-11-14T22:13:20.123Z");
    }
}
