//! The four health levels, ordered so that the worst one wins.

use serde::{Deserialize, Serialize};

/// How well something works. The order is the severity: `Healthy < Degraded < Unhealthy < Critical`,
/// so the overall status of several parts is simply their maximum ([`HealthStatus::worst`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Operating normally.
    #[default]
    Healthy,
    /// Some warnings, but functional.
    Degraded,
    /// Significant issues: a part does not do its job.
    Unhealthy,
    /// Failure is imminent (a full disk, a wedged engine).
    Critical,
}

impl HealthStatus {
    pub const ALL: [HealthStatus; 4] =
        [HealthStatus::Healthy, HealthStatus::Degraded, HealthStatus::Unhealthy, HealthStatus::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
            HealthStatus::Critical => "critical",
        }
    }

    /// The worst of several statuses; `Healthy` when there are none.
    pub fn worst(statuses: impl IntoIterator<Item = HealthStatus>) -> HealthStatus {
        statuses.into_iter().max().unwrap_or(HealthStatus::Healthy)
    }

    /// Whether the daemon still does its job at this level: `/health` answers 200 for these and
    /// 503 for the others.
    pub fn is_operational(self) -> bool {
        self <= HealthStatus::Degraded
    }

    /// A stable number for gauges: 0 healthy, 1 degraded, 2 unhealthy, 3 critical.
    pub fn severity(self) -> u8 {
        match self {
            HealthStatus::Healthy => 0,
            HealthStatus::Degraded => 1,
            HealthStatus::Unhealthy => 2,
            HealthStatus::Critical => 3,
        }
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_status_wins() {
        use HealthStatus::*;
        assert_eq!(HealthStatus::worst([]), Healthy);
        assert_eq!(HealthStatus::worst([Healthy, Degraded, Healthy]), Degraded);
        assert_eq!(HealthStatus::worst([Unhealthy, Critical, Degraded]), Critical);
        assert_eq!(HealthStatus::worst([Degraded, Unhealthy]), Unhealthy);
    }

    #[test]
    fn names_are_snake_case_and_match_serde() {
        for status in HealthStatus::ALL {
            let json = serde_json::to_string(&status).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            let back: HealthStatus = serde_json::from_str(&json).unwrap_or(HealthStatus::Critical);
            assert_eq!(back, status);
        }
    }

    #[test]
    fn only_healthy_and_degraded_are_operational() {
        let operational: Vec<bool> = HealthStatus::ALL.iter().map(|s| s.is_operational()).collect();
        assert_eq!(operational, [true, true, false, false]);
        let severities: Vec<u8> = HealthStatus::ALL.iter().map(|s| s.severity()).collect();
        assert_eq!(severities, [0, 1, 2, 3]);
    }
}
