//! Health that acts: decide from the latest report whether trading must be held in `Reducing`, and
//! say so only when that changes.
//!
//! Trading is held when
//! - the disk of a watched directory (data, logs) is at or above `disk_critical_percent`: nearly full,
//!   the store and the audit trail are about to fail their writes; or
//! - any component is `critical` (e.g. a wedged engine loop).
//!
//! CPU and memory never hold trading: a slow machine still manages exits better than a held one
//! (memory pressure makes `/health` answer 503; host CPU is only a warning).
//!
//! A hold is saved with the trading state; after a restart the monitor starts from it
//! ([`HoldLatch::restored`]) and its first check with a system sample keeps or releases it.
//!
//! While held, a change of causes (the disk clears but a component turns critical) is not announced
//! again: the hold stays, and the report's `problems` show the current causes.
//!
//! The engine applies a hold as one of its `Reducing` rules, and returns to `Active` only when no
//! other rule holds it. A release waits until the causes have been clear for `release_after` (the
//! system interval in the daemon), so that a disk hovering at the threshold does not flap between
//! hold and release on every sample.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::classify::{Resource, Thresholds, classify};
use super::report::HealthReport;
use super::status::HealthStatus;
use crate::clock::Timestamp;
use crate::config::HealthConfig;

/// Trading is held in `Reducing` by the health monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthHold {
    /// Every cause at the time the hold started, joined with `; `.
    pub reason: String,
    pub since: Timestamp,
}

/// A change the engine (and the alerts) must hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum HealthAction {
    /// Move to (or stay in) `Reducing` because of health.
    HoldReducing { reason: String, at: Timestamp },
    /// Health no longer holds trading; other rules may still do.
    Release { reason: String, at: Timestamp },
}

/// The causes in `report` that hold trading now; empty when none does.
pub fn hold_reasons(report: &HealthReport, config: &HealthConfig) -> Vec<String> {
    let mut reasons = Vec::new();
    let disk_thresholds = Thresholds::disk(config);
    let disks = report.system.iter().flat_map(|system| system.metrics.disks.iter());
    for disk in disks {
        let Some(usage) = disk.usage else { continue };
        if classify(Resource::Disk, usage.percent, disk_thresholds) == HealthStatus::Critical {
            let mount = disk
                .mount_point
                .as_ref()
                .map(|m| m.display().to_string())
                .unwrap_or_else(|| "a file system sysinfo does not list".into());
            reasons.push(format!(
                "disk nearly full: {} directory {} is on {} at {}% (critical at {}%)",
                disk.label,
                disk.path.display(),
                mount,
                usage.percent,
                disk_thresholds.critical
            ));
        }
    }
    for (name, component) in &report.components {
        if component.status == HealthStatus::Critical {
            reasons.push(format!("component {name} is critical: {}", component.message));
        }
    }
    reasons
}

/// Remembers whether health holds trading and turns the causes of each report into actions, one per
/// change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldLatch {
    held: Option<HealthHold>,
    clear_since: Option<Timestamp>,
    release_after_ms: i64,
    /// The hold came from the store (trading was held by health when the daemon last stopped) and
    /// no check of this run has judged it yet.
    restored: bool,
}

impl HealthAction {
    pub fn reason(&self) -> &str {
        match self {
            HealthAction::HoldReducing { reason, .. } | HealthAction::Release { reason, .. } => reason,
        }
    }

    /// Whether trading is held after this action.
    pub fn holds(&self) -> bool {
        matches!(self, HealthAction::HoldReducing { .. })
    }
}

impl HoldLatch {
    pub fn new(release_after: Duration) -> Self {
        Self {
            held: None,
            clear_since: None,
            release_after_ms: i64::try_from(release_after.as_millis()).unwrap_or(i64::MAX),
            restored: false,
        }
    }

    /// A latch that starts held by `hold`, restored from the store. The first check judges it
    /// afresh: causes still present keep it (as an ordinary hold, without a second announcement);
    /// none releases it at once, since the causes it was taken for belong to the previous run and
    /// no wait can tell more about them.
    pub fn restored(hold: HealthHold, release_after: Duration) -> Self {
        Self { held: Some(hold), restored: true, ..Self::new(release_after) }
    }

    /// Whether the hold was restored and not yet judged by a check of this run.
    pub fn awaits_first_check(&self) -> bool {
        self.restored
    }

    pub fn current(&self) -> Option<&HealthHold> {
        self.held.as_ref()
    }

    /// Feeds the causes found at `now`; returns an action only when the hold starts or ends.
    pub fn update(&mut self, reasons: &[String], now: Timestamp) -> Option<HealthAction> {
        let restored = std::mem::take(&mut self.restored);
        if !reasons.is_empty() {
            self.clear_since = None;
            if self.held.is_some() {
                return None;
            }
            let reason = reasons.join("; ");
            self.held = Some(HealthHold { reason: reason.clone(), since: now });
            return Some(HealthAction::HoldReducing { reason, at: now });
        }
        let held = self.held.as_ref()?;
        let reason = if restored {
            format!(
                "the first health check after the restart found nothing holding trading; the hold restored from the \
                 store was: {}",
                held.reason
            )
        } else {
            let clear_since = *self.clear_since.get_or_insert(now);
            if now.millis_since(clear_since) < self.release_after_ms {
                return None;
            }
            format!("health recovered; the hold since {} was: {}", held.since, held.reason)
        };
        self.held = None;
        self.clear_since = None;
        Some(HealthAction::Release { reason, at: now })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::health::classify::assess_system;
    use crate::health::component::ComponentReport;
    use crate::health::metrics::{DirectoryDisk, NetworkTotals, ProcessFigures, SpaceUsage, SystemMetrics};
    use crate::health::report::{ReportInputs, build_report};

    fn report(data_used: u64, logs_used: u64, engine: HealthStatus) -> HealthReport {
        let disk = |label: &str, used: u64| DirectoryDisk {
            label: label.into(),
            path: PathBuf::from(format!("/srv/{label}")),
            mount_point: Some(PathBuf::from("/srv")),
            usage: Some(SpaceUsage::new(10_000, used)),
        };
        let metrics = SystemMetrics {
            sampled_at: Timestamp::from_secs(60),
            cpu_percent: dec!(99), // CPU never holds trading
            load_average: None,
            memory: SpaceUsage::new(100, 10),
            disks: vec![disk("data", data_used), disk("logs", logs_used)],
            network: NetworkTotals::default(),
            process: ProcessFigures::default(),
        };
        let system = assess_system(metrics, &HealthConfig::default());
        let mut components = BTreeMap::new();
        components.insert(
            "engine".to_string(),
            ComponentReport {
                status: engine,
                message: "no engine loop progress for 90.000 s (limit 60 s)".into(),
                latency_ms: dec!(0.01),
                checked_at: Timestamp::from_secs(60),
                metrics: BTreeMap::new(),
            },
        );
        build_report(ReportInputs {
            started_at: Timestamp::from_secs(0),
            now: Timestamp::from_secs(60),
            system: Some(&system),
            averages: None,
            components: &components,
        })
    }

    #[test]
    fn a_nearly_full_disk_or_a_critical_component_holds_trading() {
        use HealthStatus::*;
        let config = HealthConfig::default();
        // 94.99% is below critical, 95% is at it.
        assert!(hold_reasons(&report(9_499, 0, Unhealthy), &config).is_empty());
        assert_eq!(
            hold_reasons(&report(9_500, 0, Healthy), &config),
            ["disk nearly full: data directory /srv/data is on /srv at 95% (critical at 95%)"]
        );
        assert_eq!(
            hold_reasons(&report(0, 9_900, Critical), &config),
            [
                "disk nearly full: logs directory /srv/logs is on /srv at 99% (critical at 95%)",
                "component engine is critical: no engine loop progress for 90.000 s (limit 60 s)",
            ]
        );
    }

    #[test]
    fn actions_are_emitted_only_on_change_and_release_waits() {
        let mut latch = HoldLatch::new(Duration::from_secs(60));
        let cause = vec!["component engine is critical: wedged".to_string()];
        let at = Timestamp::from_secs;

        assert_eq!(latch.update(&[], at(0)), None);
        assert_eq!(
            latch.update(&cause, at(10)),
            Some(HealthAction::HoldReducing { reason: "component engine is critical: wedged".into(), at: at(10) })
        );
        assert_eq!(latch.update(&cause, at(40)), None, "still held: nothing new to say");
        assert_eq!(latch.current().map(|h| h.since), Some(at(10)));

        assert_eq!(latch.update(&[], at(70)), None, "clear, but not for long enough");
        assert_eq!(latch.update(&cause, at(100)), None, "the cause came back: the clear period restarts");
        assert_eq!(latch.update(&[], at(130)), None);
        assert_eq!(latch.update(&[], at(189)), None);
        let release = latch.update(&[], at(190));
        assert!(
            matches!(&release, Some(HealthAction::Release { reason, at: released }) if reason.contains("wedged") && *released == at(190)),
            "{release:?}"
        );
        assert_eq!(latch.current(), None);
        assert_eq!(latch.update(&[], at(250)), None);
    }

    #[test]
    fn a_restored_hold_is_judged_by_the_first_check() {
        let at = Timestamp::from_secs;
        let hold = HealthHold { reason: "disk nearly full: data".into(), since: at(0) };
        // Nothing holds any more: released by the first check, without the clear-period wait.
        let mut latch = HoldLatch::restored(hold.clone(), Duration::from_secs(60));
        assert!(latch.awaits_first_check());
        let release = latch.update(&[], at(100));
        assert!(
            matches!(&release, Some(HealthAction::Release { reason, .. }) if reason.contains("disk nearly full: data")),
            "{release:?}"
        );
        assert_eq!(latch.current(), None);
        assert!(!latch.awaits_first_check());

        // Still a cause: held on, quietly (trading is already held), then released like any hold.
        let mut latch = HoldLatch::restored(hold, Duration::from_secs(60));
        let cause = vec!["disk nearly full: data".to_string()];
        assert_eq!(latch.update(&cause, at(100)), None);
        assert!(latch.current().is_some() && !latch.awaits_first_check());
        assert_eq!(latch.update(&[], at(110)), None, "an ordinary hold waits out the clear period");
        assert!(latch.update(&[], at(170)).is_some_and(|a| !a.holds()));
    }
}
