//! The health report (the hourly summary, also served by `GET /health`), built purely from
//! the latest system verdict, the history and the latest component results.
//!
//! Overall status rules:
//! 1. the worst of the system status and every component's status;
//! 2. before the first system sample it is at least `degraded` (the figures are unknown, not good).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::classify::SystemHealth;
use super::component::ComponentReport;
use super::history::SystemAverages;
use super::hold::HealthHold;
use super::status::HealthStatus;
use crate::clock::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub overall_status: HealthStatus,
    pub generated_at: Timestamp,
    pub started_at: Timestamp,
    pub uptime_secs: u64,
    #[serde(serialize_with = "super::json_number::serialize")]
    pub uptime_hours: Decimal,
    /// The latest system sample and its verdict; `None` before the first sample.
    pub system: Option<SystemHealth>,
    /// Over the history window (one report period); `None` before the first sample.
    pub system_averages: Option<SystemAverages>,
    /// By component name; empty before the first component round.
    pub components: BTreeMap<String, ComponentReport>,
    pub components_healthy: usize,
    pub components_total: usize,
    /// Why the overall status is not healthy: one sentence per cause.
    pub problems: Vec<String>,
    /// Whether health holds trading in `Reducing`, and why (set by the monitor after each report).
    #[serde(default)]
    pub trading_hold: Option<HealthHold>,
}

/// What a report is built from.
#[derive(Debug, Clone, Copy)]
pub struct ReportInputs<'a> {
    pub started_at: Timestamp,
    pub now: Timestamp,
    pub system: Option<&'a SystemHealth>,
    pub averages: Option<&'a SystemAverages>,
    pub components: &'a BTreeMap<String, ComponentReport>,
}

pub fn build_report(inputs: ReportInputs<'_>) -> HealthReport {
    let mut problems = Vec::new();
    let system_status = match inputs.system {
        Some(system) => {
            problems.extend(system.problems.iter().cloned());
            system.status
        }
        None => {
            problems.push("no system sample yet".to_string());
            HealthStatus::Degraded
        }
    };
    for (name, component) in inputs.components {
        if component.status != HealthStatus::Healthy {
            problems.push(format!("component {name} is {}: {}", component.status, component.message));
        }
    }
    let overall_status = HealthStatus::worst(
        std::iter::once(system_status).chain(inputs.components.values().map(|component| component.status)),
    );

    let uptime_ms = inputs.now.millis_since(inputs.started_at).max(0);
    HealthReport {
        overall_status,
        generated_at: inputs.now,
        started_at: inputs.started_at,
        uptime_secs: u64::try_from(uptime_ms / 1000).unwrap_or(0),
        uptime_hours: (Decimal::from(uptime_ms) / Decimal::from(3_600_000)).round_dp(2),
        system: inputs.system.cloned(),
        system_averages: inputs.averages.cloned(),
        components: inputs.components.clone(),
        components_healthy: inputs.components.values().filter(|c| c.status == HealthStatus::Healthy).count(),
        components_total: inputs.components.len(),
        problems,
        trading_hold: None,
    }
}

impl HealthReport {
    /// The report as one line of JSON (what the hourly log event carries).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"health report not serializable: {e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::config::HealthConfig;
    use crate::health::classify::assess_system;
    use crate::health::metrics::{DirectoryDisk, NetworkTotals, ProcessFigures, SpaceUsage, SystemMetrics};

    fn component(status: HealthStatus, message: &str) -> ComponentReport {
        ComponentReport {
            status,
            message: message.into(),
            latency_ms: dec!(1.5),
            checked_at: Timestamp::from_secs(7_200),
            metrics: BTreeMap::new(),
        }
    }

    fn system(cpu: Decimal) -> SystemHealth {
        let metrics = SystemMetrics {
            sampled_at: Timestamp::from_secs(7_200),
            cpu_percent: cpu,
            load_average: None,
            memory: SpaceUsage::new(100, 50),
            disks: vec![DirectoryDisk {
                label: "data".into(),
                path: PathBuf::from("/srv/data"),
                mount_point: Some(PathBuf::from("/")),
                usage: Some(SpaceUsage::new(100, 10)),
            }],
            network: NetworkTotals::default(),
            process: ProcessFigures::default(),
        };
        assess_system(metrics, &HealthConfig::default())
    }

    fn inputs<'a>(
        system: Option<&'a SystemHealth>,
        components: &'a BTreeMap<String, ComponentReport>,
    ) -> ReportInputs<'a> {
        ReportInputs {
            started_at: Timestamp::from_secs(0),
            now: Timestamp::from_secs(88_200),
            system,
            averages: None,
            components,
        }
    }

    #[test]
    fn the_overall_status_is_the_worst_part_and_counts_are_right() {
        let sys = system(dec!(40));
        let mut components = BTreeMap::new();
        components.insert("engine".to_string(), component(HealthStatus::Healthy, "ok"));
        components.insert("store".to_string(), component(HealthStatus::Healthy, "ok"));
        let report = build_report(inputs(Some(&sys), &components));
        assert_eq!(report.overall_status, HealthStatus::Healthy);
        assert_eq!((report.components_healthy, report.components_total), (2, 2));
        assert!(report.problems.is_empty());
        assert_eq!(report.uptime_secs, 88_200);
        assert_eq!(report.uptime_hours, dec!(24.5));

        components.insert("venue".to_string(), component(HealthStatus::Unhealthy, "no answer"));
        let report = build_report(inputs(Some(&sys), &components));
        assert_eq!(report.overall_status, HealthStatus::Unhealthy);
        assert_eq!((report.components_healthy, report.components_total), (2, 3));
        assert_eq!(report.problems, ["component venue is unhealthy: no answer"]);

        // The system can be the worst part too; a hot host CPU only as a warning.
        let hot = system(dec!(95));
        let report = build_report(inputs(Some(&hot), &BTreeMap::new()));
        assert_eq!(report.overall_status, HealthStatus::Degraded);
        assert_eq!(
            report.problems,
            ["host cpu 95% >= critical 90% (a warning: the daemon's own checks show whether it keeps up)"]
        );
    }

    #[test]
    fn without_a_system_sample_the_report_is_at_least_degraded() {
        let report = build_report(inputs(None, &BTreeMap::new()));
        assert_eq!(report.overall_status, HealthStatus::Degraded);
        assert_eq!(report.problems, ["no system sample yet"]);
        let mut components = BTreeMap::new();
        components.insert("engine".to_string(), component(HealthStatus::Critical, "wedged"));
        assert_eq!(build_report(inputs(None, &components)).overall_status, HealthStatus::Critical);
    }

    #[test]
    fn the_json_has_the_seed_shape() -> Result<(), serde_json::Error> {
        let sys = system(dec!(45.2));
        let mut components = BTreeMap::new();
        components.insert("engine".to_string(), component(HealthStatus::Healthy, "ok"));
        let report = build_report(inputs(Some(&sys), &components));
        let json: serde_json::Value = serde_json::from_str(&report.to_json())?;
        assert_eq!(json["overall_status"], "healthy");
        assert_eq!(json["uptime_hours"], 24.5);
        assert_eq!(json["system"]["status"], "healthy");
        assert_eq!(json["system"]["metrics"]["cpu_percent"], 45.2);
        assert_eq!(json["components"]["engine"]["latency_ms"], 1.5);
        assert_eq!(json["components_healthy"], 1);
        assert_eq!(json["components_total"], 1);
        // And it reads back into the same report (the CLI deserializes what the API serves).
        let back: HealthReport = serde_json::from_value(json)?;
        assert_eq!(back, report);
        Ok(())
    }
}
