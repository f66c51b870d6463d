//! SIGHUP: what a new configuration may change while the daemon runs.

use crate::config::Config;

/// The result of comparing a new valid configuration with the running one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReloadOutcome {
    /// Sections applied at once (risk limits, alert settings, copy rules, health thresholds).
    pub applied: Vec<&'static str>,
    /// Sections that changed but only take effect after a restart.
    pub need_restart: Vec<&'static str>,
}

/// Which changed sections are applied live and which wait for a restart.
pub fn reload_summary(old: &Config, new: &Config) -> ReloadOutcome {
    let mut outcome = ReloadOutcome::default();
    let mut note = |changed: bool, section: &'static str, live: bool| {
        if changed {
            if live { outcome.applied.push(section) } else { outcome.need_restart.push(section) }
        }
    };
    note(old.risk != new.risk, "risk", true);
    note(old.alerts != new.alerts, "alerts", true);
    note(old.copy != new.copy, "copy", true);
    note(old.health != new.health, "health", true);
    note(old.daemon != new.daemon, "daemon", false);
    note(old.logging != new.logging, "logging", false);
    note(old.feed != new.feed, "feed", false);
    note(old.polymarket != new.polymarket, "polymarket", false);
    note(old.store != new.store, "store", false);
    note(old.api != new.api, "api", false);
    note(old.record != new.record, "record", false);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_and_restart_sections_are_told_apart() {
        let old = Config::default();
        let mut new = old.clone();
        new.copy.max_signal_age_secs += 1;
        new.daemon.shutdown_grace_secs += 1;
        let outcome = reload_summary(&old, &new);
        assert_eq!(outcome.applied, ["copy"]);
        assert_eq!(outcome.need_restart, ["daemon"]);
        assert_eq!(reload_summary(&old, &old), ReloadOutcome::default());
    }
}
