//! Pure classification of system figures against the `[health]` thresholds.
//!
//! The mapping (HEALTHY normal, DEGRADED warnings, UNHEALTHY significant issues, CRITICAL
//! failure imminent), with each threshold *inclusive* (at the threshold counts as reached):
//!
//! | figure | below warning | ≥ warning | ≥ critical | why |
//! | --- | --- | --- | --- | --- |
//! | host CPU % | healthy | degraded | **degraded** | the host's CPU is shared: other work can saturate it while every part of the daemon keeps up (the component checks say when it does not), so it is a warning, never a trading fault |
//! | memory % | healthy | degraded | **critical** | the OOM killer is next: the daemon dies mid-operation |
//! | disk % of a watched directory | healthy | degraded | **critical** | writes to the store, WAL and audit trail are about to fail |
//!
//! A watched directory whose file system cannot be found is `degraded`: the figure is missing, not bad.
//! Load average, network and process figures are reported but have no thresholds. What impairs
//! trading (a wedged engine loop, a slow store, stale feeds) shows in the component checks.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::metrics::{DirectoryDisk, SystemMetrics};
use super::status::HealthStatus;
use crate::config::HealthConfig;

/// A warning and a critical level, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub warning: Decimal,
    pub critical: Decimal,
}

impl Thresholds {
    pub fn cpu(config: &HealthConfig) -> Self {
        Self { warning: config.cpu_warning_percent, critical: config.cpu_critical_percent }
    }

    pub fn memory(config: &HealthConfig) -> Self {
        Self { warning: config.memory_warning_percent, critical: config.memory_critical_percent }
    }

    pub fn disk(config: &HealthConfig) -> Self {
        Self { warning: config.disk_warning_percent, critical: config.disk_critical_percent }
    }
}

/// Which figure is judged: it decides what reaching the critical level means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Cpu,
    Memory,
    Disk,
}

impl Resource {
    /// The status at or above the critical threshold (see the module table for the reasons).
    pub fn status_at_critical(self) -> HealthStatus {
        match self {
            // Host CPU is reported and alerted as a warning only: `/health` and trading holds
            // follow what impairs trading, which the component checks measure directly.
            Resource::Cpu => HealthStatus::Degraded,
            Resource::Memory | Resource::Disk => HealthStatus::Critical,
        }
    }
}

/// `value` against `thresholds`: at or above critical → [`Resource::status_at_critical`], at or
/// above warning → degraded, else healthy.
pub fn classify(resource: Resource, value: Decimal, thresholds: Thresholds) -> HealthStatus {
    if value >= thresholds.critical {
        resource.status_at_critical()
    } else if value >= thresholds.warning {
        HealthStatus::Degraded
    } else {
        HealthStatus::Healthy
    }
}

/// The verdict on one system sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemHealth {
    /// The worst of `cpu_status`, `memory_status` and `disk_status`.
    pub status: HealthStatus,
    pub cpu_status: HealthStatus,
    pub memory_status: HealthStatus,
    /// The worst watched directory.
    pub disk_status: HealthStatus,
    /// One human sentence per figure that is not healthy, e.g. `cpu 93.1% >= critical 90%`.
    pub problems: Vec<String>,
    pub metrics: SystemMetrics,
}

/// Judges one sample against the configured thresholds.
pub fn assess_system(metrics: SystemMetrics, config: &HealthConfig) -> SystemHealth {
    let mut problems = Vec::new();

    let cpu_thresholds = Thresholds::cpu(config);
    let cpu_status = classify(Resource::Cpu, metrics.cpu_percent, cpu_thresholds);
    if metrics.cpu_percent >= cpu_thresholds.critical {
        problems.push(format!(
            "host cpu {}% >= critical {}% (a warning: the daemon's own checks show whether it keeps up)",
            metrics.cpu_percent, cpu_thresholds.critical
        ));
    } else {
        note_problem(&mut problems, "cpu", metrics.cpu_percent, cpu_status, cpu_thresholds);
    }

    let memory_thresholds = Thresholds::memory(config);
    let memory_status = classify(Resource::Memory, metrics.memory.percent, memory_thresholds);
    note_problem(&mut problems, "memory", metrics.memory.percent, memory_status, memory_thresholds);

    let disk_thresholds = Thresholds::disk(config);
    let disk_status = HealthStatus::worst(
        metrics.disks.iter().map(|disk| assess_directory_disk(disk, disk_thresholds, &mut problems)),
    );

    let status = HealthStatus::worst([cpu_status, memory_status, disk_status]);
    SystemHealth { status, cpu_status, memory_status, disk_status, problems, metrics }
}

fn assess_directory_disk(disk: &DirectoryDisk, thresholds: Thresholds, problems: &mut Vec<String>) -> HealthStatus {
    match disk.usage {
        Some(usage) => {
            let status = classify(Resource::Disk, usage.percent, thresholds);
            let what = format!("disk of {} directory {}", disk.label, disk.path.display());
            note_problem(problems, &what, usage.percent, status, thresholds);
            status
        }
        None => {
            problems.push(format!(
                "disk of {} directory {} is unknown: its file system cannot be measured",
                disk.label,
                disk.path.display()
            ));
            HealthStatus::Degraded
        }
    }
}

fn note_problem(problems: &mut Vec<String>, what: &str, value: Decimal, status: HealthStatus, limits: Thresholds) {
    match status {
        HealthStatus::Healthy => {}
        HealthStatus::Degraded => problems.push(format!("{what} {value}% >= warning {}%", limits.warning)),
        HealthStatus::Unhealthy | HealthStatus::Critical => {
            problems.push(format!("{what} {value}% >= critical {}%", limits.critical))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::clock::Timestamp;
    use crate::health::metrics::{NetworkTotals, ProcessFigures, SpaceUsage};

    #[test]
    fn boundaries_are_inclusive_for_every_resource() {
        use HealthStatus::*;
        let config = HealthConfig::default();
        let table = [
            (Resource::Cpu, dec!(0), Healthy),
            (Resource::Cpu, dec!(69.99), Healthy),
            (Resource::Cpu, dec!(70), Degraded),
            (Resource::Cpu, dec!(89.99), Degraded),
            (Resource::Cpu, dec!(90), Degraded),
            (Resource::Cpu, dec!(100), Degraded),
            (Resource::Memory, dec!(74.99), Healthy),
            (Resource::Memory, dec!(75), Degraded),
            (Resource::Memory, dec!(89.99), Degraded),
            (Resource::Memory, dec!(90), Critical),
            (Resource::Disk, dec!(79.99), Healthy),
            (Resource::Disk, dec!(80), Degraded),
            (Resource::Disk, dec!(94.99), Degraded),
            (Resource::Disk, dec!(95), Critical),
            (Resource::Disk, dec!(100), Critical),
        ];
        for (resource, value, expected) in table {
            let thresholds = match resource {
                Resource::Cpu => Thresholds::cpu(&config),
                Resource::Memory => Thresholds::memory(&config),
                Resource::Disk => Thresholds::disk(&config),
            };
            assert_eq!(classify(resource, value, thresholds), expected, "{resource:?} at {value}");
        }
    }

    fn sample(cpu: Decimal, memory_used: u64, disks: Vec<DirectoryDisk>) -> SystemMetrics {
        SystemMetrics {
            sampled_at: Timestamp::from_secs(1_000),
            cpu_percent: cpu,
            load_average: None,
            memory: SpaceUsage::new(100, memory_used),
            disks,
            network: NetworkTotals::default(),
            process: ProcessFigures::default(),
        }
    }

    fn disk(label: &str, used: u64) -> DirectoryDisk {
        DirectoryDisk {
            label: label.into(),
            path: PathBuf::from(format!("/srv/{label}")),
            mount_point: Some(PathBuf::from("/")),
            usage: Some(SpaceUsage::new(1000, used)),
        }
    }

    #[test]
    fn the_worst_figure_decides_and_each_problem_is_named() {
        let config = HealthConfig::default();
        let health = assess_system(sample(dec!(71.5), 50, vec![disk("data", 500), disk("logs", 960)]), &config);
        assert_eq!(health.cpu_status, HealthStatus::Degraded);
        assert_eq!(health.memory_status, HealthStatus::Healthy);
        assert_eq!(health.disk_status, HealthStatus::Critical);
        assert_eq!(health.status, HealthStatus::Critical);
        assert_eq!(
            health.problems,
            ["cpu 71.5% >= warning 70%", "disk of logs directory /srv/logs 96% >= critical 95%"]
        );
    }

    #[test]
    fn all_clear_is_healthy_and_an_unknown_disk_is_degraded() {
        let config = HealthConfig::default();
        let health = assess_system(sample(dec!(10), 10, vec![disk("data", 100)]), &config);
        assert_eq!(health.status, HealthStatus::Healthy);
        assert!(health.problems.is_empty());

        let mut unknown = disk("data", 0);
        unknown.usage = None;
        let health = assess_system(sample(dec!(10), 10, vec![unknown]), &config);
        assert_eq!(health.status, HealthStatus::Degraded);
        assert_eq!(health.problems.len(), 1);
        assert!(health.problems.iter().all(|p| p.contains("/srv/data")));
    }

    #[test]
    fn memory_at_critical_is_critical_but_host_cpu_only_a_warning() {
        let config = HealthConfig::default();
        assert_eq!(assess_system(sample(dec!(10), 90, vec![]), &config).status, HealthStatus::Critical);
        // Other work holds the host's CPU at 100 % while the daemon's own parts are fine.
        let saturated = assess_system(sample(dec!(100), 10, vec![disk("data", 100)]), &config);
        assert_eq!(saturated.status, HealthStatus::Degraded);
        assert!(saturated.status.is_operational(), "host CPU must not make /health answer 503");
        assert_eq!(saturated.cpu_status, HealthStatus::Degraded);
        assert_eq!(
            saturated.problems,
            ["host cpu 100% >= critical 90% (a warning: the daemon's own checks show whether it keeps up)"]
        );
    }
}
