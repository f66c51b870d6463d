//! Plain numbers for Prometheus: the API's `/metrics` renders these without knowing the report's
//! structure. Statuses become severities (0 healthy … 3 critical), latencies seconds.

use rust_decimal::Decimal;

use super::report::HealthReport;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HealthMetricsSnapshot {
    /// 0 healthy, 1 degraded, 2 unhealthy, 3 critical.
    pub overall_severity: u8,
    pub uptime_seconds: u64,
    /// `None` before the first system sample (and for each figure the platform does not give).
    pub system_severity: Option<u8>,
    pub cpu_percent: Option<Decimal>,
    pub load_average_1m: Option<Decimal>,
    pub load_average_5m: Option<Decimal>,
    pub load_average_15m: Option<Decimal>,
    pub memory_total_bytes: Option<u64>,
    pub memory_used_bytes: Option<u64>,
    pub memory_percent: Option<Decimal>,
    pub disks: Vec<DiskSnapshot>,
    pub network_received_bytes: Option<u64>,
    pub network_sent_bytes: Option<u64>,
    pub process_rss_bytes: Option<u64>,
    pub process_threads: Option<u64>,
    pub process_open_files: Option<u64>,
    pub components: Vec<ComponentSnapshot>,
    pub components_healthy: usize,
    pub components_total: usize,
    /// Whether health holds trading in `Reducing` (1) or not (0).
    pub trading_held: bool,
}

/// The disk of one watched directory (label `directory="data"`).
#[derive(Debug, Clone, PartialEq)]
pub struct DiskSnapshot {
    pub label: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub percent: Decimal,
}

/// One component (label `component="engine"`).
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSnapshot {
    pub name: String,
    pub severity: u8,
    pub latency_seconds: Decimal,
}

impl HealthMetricsSnapshot {
    pub fn from_report(report: &HealthReport) -> Self {
        let system = report.system.as_ref();
        let metrics = system.map(|s| &s.metrics);
        let load = metrics.and_then(|m| m.load_average);
        Self {
            overall_severity: report.overall_status.severity(),
            uptime_seconds: report.uptime_secs,
            system_severity: system.map(|s| s.status.severity()),
            cpu_percent: metrics.map(|m| m.cpu_percent),
            load_average_1m: load.map(|l| l.one),
            load_average_5m: load.map(|l| l.five),
            load_average_15m: load.map(|l| l.fifteen),
            memory_total_bytes: metrics.map(|m| m.memory.total_bytes),
            memory_used_bytes: metrics.map(|m| m.memory.used_bytes),
            memory_percent: metrics.map(|m| m.memory.percent),
            disks: metrics
                .map(|m| {
                    m.disks
                        .iter()
                        .filter_map(|disk| {
                            let usage = disk.usage?;
                            Some(DiskSnapshot {
                                label: disk.label.clone(),
                                total_bytes: usage.total_bytes,
                                used_bytes: usage.used_bytes,
                                percent: usage.percent,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
            network_received_bytes: metrics.map(|m| m.network.received_bytes),
            network_sent_bytes: metrics.map(|m| m.network.sent_bytes),
            process_rss_bytes: metrics.and_then(|m| m.process.rss_bytes),
            process_threads: metrics.and_then(|m| m.process.threads),
            process_open_files: metrics.and_then(|m| m.process.open_files),
            components: report
                .components
                .iter()
                .map(|(name, component)| ComponentSnapshot {
                    name: name.clone(),
                    severity: component.status.severity(),
                    latency_seconds: component.latency_ms / Decimal::ONE_THOUSAND,
                })
                .collect(),
            components_healthy: report.components_healthy,
            components_total: report.components_total,
            trading_held: report.trading_hold.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::clock::Timestamp;
    use crate::health::component::ComponentReport;
    use crate::health::report::{ReportInputs, build_report};
    use crate::health::status::HealthStatus;

    #[test]
    fn a_report_without_a_sample_has_no_system_figures() {
        let mut components = BTreeMap::new();
        components.insert(
            "store".to_string(),
            ComponentReport {
                status: HealthStatus::Unhealthy,
                message: "locked".into(),
                latency_ms: dec!(1500),
                checked_at: Timestamp::from_secs(1),
                metrics: BTreeMap::new(),
            },
        );
        let report = build_report(ReportInputs {
            started_at: Timestamp::from_secs(0),
            now: Timestamp::from_secs(90),
            system: None,
            averages: None,
            components: &components,
        });
        let snapshot = HealthMetricsSnapshot::from_report(&report);
        assert_eq!(snapshot.overall_severity, 2);
        assert_eq!(snapshot.uptime_seconds, 90);
        assert_eq!(snapshot.system_severity, None);
        assert_eq!(snapshot.cpu_percent, None);
        assert!(snapshot.disks.is_empty());
        assert_eq!(
            snapshot.components,
            [ComponentSnapshot { name: "store".into(), severity: 2, latency_seconds: dec!(1.5) }]
        );
        assert_eq!((snapshot.components_healthy, snapshot.components_total), (0, 1));
        assert!(!snapshot.trading_held);
    }
}
