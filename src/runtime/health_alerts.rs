//! Health changes become alerts (the component loop alerts on failures): each time the
//! system verdict or a component's status changes, one alert says so, and a return to healthy
//! resolves it.
//!
//! Keys are `health:<part>:<status>`, so an escalation (degraded → critical) is a new condition
//! that goes out at once instead of being held back as a repeat of the milder one; a part that
//! flaps between two statuses is grouped and repeat-limited by the dispatcher's policy like any
//! other condition. Priorities follow the status: degraded → WARNING, unhealthy → ERROR,
//! critical → CRITICAL.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::supervisor::TaskResult;
use crate::alerts::{Alert, AlertSender, Priority};
use crate::clock::Timestamp;
use crate::health::{HealthReport, HealthStatus};

/// The part name under which the system verdict (CPU, memory, disks) is reported.
pub const SYSTEM: &str = "system";

/// Each part's status and why: the system verdict (once sampled) and every checked component.
pub type Statuses = BTreeMap<String, (HealthStatus, String)>;

/// What `report` says about each part.
pub fn statuses(report: &HealthReport) -> Statuses {
    let mut parts = Statuses::new();
    if let Some(system) = &report.system {
        parts.insert(SYSTEM.to_string(), (system.status, system.problems.join("; ")));
    }
    for (name, component) in &report.components {
        parts.insert(name.clone(), (component.status, component.message.clone()));
    }
    parts
}

fn priority(status: HealthStatus) -> Priority {
    match status {
        HealthStatus::Healthy => Priority::Info,
        HealthStatus::Degraded => Priority::Warning,
        HealthStatus::Unhealthy => Priority::Error,
        HealthStatus::Critical => Priority::Critical,
    }
}

fn key(part: &str, status: HealthStatus) -> String {
    format!("health:{part}:{status}")
}

/// The alerts for going from `previous` to `current`. A part seen for the first time alerts only
/// when it is not healthy; a part that disappears (unregistered) says nothing.
pub fn changes(previous: &Statuses, current: &Statuses, at: Timestamp) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for (part, (status, detail)) in current {
        let before = previous.get(part).map(|(status, _)| *status);
        if before == Some(*status) || (before.is_none() && *status == HealthStatus::Healthy) {
            continue;
        }
        let healthy = *status == HealthStatus::Healthy;
        let detail = if detail.is_empty() { format!("{part} is {status}") } else { detail.clone() };
        let mut alert = Alert::health_changed(part, status.as_str(), healthy, &detail, at);
        match before {
            // Back to healthy: resolve the condition that was announced.
            Some(before) if healthy => alert = alert.resolving(key(part, before)),
            _ => {
                alert.priority = priority(*status);
                alert = alert.with_dedup_key(key(part, *status));
            }
        }
        if let Some(before) = before {
            alert = alert.with_context("Was", before.as_str());
        }
        alerts.push(alert);
    }
    alerts
}

/// Watches the monitor's reports and raises an alert for every change, until `stop`.
pub async fn run(
    mut reports: watch::Receiver<Arc<HealthReport>>,
    alerts: AlertSender,
    stop: CancellationToken,
) -> TaskResult {
    let mut seen = statuses(&reports.borrow_and_update());
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            changed = reports.changed() => {
                if changed.is_err() {
                    stop.cancelled().await;
                    return Ok(());
                }
                let report = reports.borrow_and_update().clone();
                let current = statuses(&report);
                for alert in changes(&seen, &current, report.generated_at) {
                    alerts.raise(alert);
                }
                seen = current;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use HealthStatus::*;

    use super::*;

    fn parts(list: &[(&str, HealthStatus, &str)]) -> Statuses {
        list.iter().map(|(part, status, detail)| (part.to_string(), (*status, detail.to_string()))).collect()
    }

    fn summary(alerts: &[Alert]) -> Vec<(String, Priority, Option<String>, bool)> {
        alerts.iter().map(|a| (a.title.clone(), a.priority, a.dedup_key.clone(), a.resolves)).collect()
    }

    const AT: Timestamp = Timestamp::from_secs(1_000);

    #[test]
    fn healthy_parts_seen_for_the_first_time_are_quiet() {
        let now = parts(&[("engine", Healthy, "last engine loop progress 0.2 s ago"), ("system", Healthy, "")]);
        assert!(changes(&Statuses::new(), &now, AT).is_empty());
        assert!(changes(&now, &now, AT).is_empty(), "no change, no alert");
    }

    #[test]
    fn a_failing_part_alerts_at_its_status_priority_and_recovery_resolves_it() {
        let before = parts(&[("store", Healthy, "store writer commits")]);
        let failing = parts(&[("store", Critical, "store: the writer stopped")]);
        let alerts = changes(&before, &failing, AT);
        assert_eq!(
            summary(&alerts),
            [("Health: store critical".into(), Priority::Critical, Some("health:store:critical".into()), false)]
        );
        assert_eq!(alerts[0].message, "store: the writer stopped");
        assert!(alerts[0].context.contains(&("Was".to_string(), "healthy".to_string())));

        let recovered = changes(&failing, &before, AT);
        assert_eq!(
            summary(&recovered),
            [("Health: store healthy".into(), Priority::Info, Some("health:store:critical".into()), true)]
        );
    }

    #[test]
    fn an_escalation_is_a_new_condition_and_the_system_has_its_own() {
        let degraded = parts(&[("system", Degraded, "cpu 75% >= warning 70%")]);
        let critical = parts(&[("system", Critical, "disk of data directory /srv 96% >= critical 95%")]);
        let first = changes(&Statuses::new(), &degraded, AT);
        assert_eq!(
            summary(&first),
            [("Health: system degraded".into(), Priority::Warning, Some("health:system:degraded".into()), false)]
        );
        let worse = changes(&degraded, &critical, AT);
        assert_eq!(
            summary(&worse),
            [("Health: system critical".into(), Priority::Critical, Some("health:system:critical".into()), false)]
        );
    }

    #[test]
    fn statuses_read_the_system_verdict_and_every_component() {
        let mut components = BTreeMap::new();
        components.insert(
            "alerts.slack".to_string(),
            crate::health::ComponentReport {
                status: Unhealthy,
                message: "2 alert deliveries failed for good since the last check".into(),
                latency_ms: rust_decimal::Decimal::ONE,
                checked_at: AT,
                metrics: BTreeMap::new(),
            },
        );
        let report = crate::health::build_report(crate::health::ReportInputs {
            started_at: AT,
            now: AT,
            system: None,
            averages: None,
            components: &components,
        });
        // No system sample yet: the system is not judged, so it cannot alert.
        assert_eq!(
            statuses(&report),
            parts(&[("alerts.slack", Unhealthy, "2 alert deliveries failed for good since the last check")])
        );
    }
}
