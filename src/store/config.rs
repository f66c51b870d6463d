//! Configuration of this module: `[store]` in the TOML file.
//!
//! ## Which file a mode and a feed use
//! Paper, live and dry-run state must never mix, and neither may the state of the embedded demo
//! (`[feed] source = "replay"`) and of real wallets (`source = "polymarket"`): a demo session that
//! ends with the breaker tripped must not leave a paper run on real wallets `reducing`, with the
//! demo's P&L and positions. So with `separate_per_mode = true` (the default) the mode and, for paper
//! and dry-run, the feed source are inserted before the extension of `path`: `data/whale-trader.db`
//! becomes `data/whale-trader.paper.replay.db`, `data/whale-trader.paper.polymarket.db`,
//! `data/whale-trader.dry-run.replay.db`, `data/whale-trader.dry-run.polymarket.db`, or
//! `data/whale-trader.live.db` (live trading only ever reads the polymarket feed). With
//! `separate_per_mode = false` the file at `path` is used exactly as written. Either way the database
//! is stamped with the mode and the feed source that created it and refuses to open under another,
//! so even an explicit shared path cannot mix paper and live state, or demo and real state.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::config::{FeedSource, Issues, Mode, join};

use super::command::RetentionCutoffs;

const MS_PER_DAY: i64 = 86_400_000;

/// Every key of `[store]`, with its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file; see the module docs for how the mode and the feed source are added to it.
    pub path: PathBuf,
    /// Insert the mode (and, but in live mode, the feed source) before the extension of `path`: one
    /// database per mode and feed.
    pub separate_per_mode: bool,
    /// The most commands the writer puts in one transaction (one fsync).
    pub max_batch_size: usize,
    /// How long the writer may wait for more commands before committing a batch that is not full.
    /// 0 commits as soon as the queue is empty: commands that arrive during an fsync go in the next batch.
    pub max_batch_delay_micros: u64,
    /// Capacity of the writer's queue; senders wait (back-pressure) when it is full, nothing is dropped.
    pub writer_queue_capacity: usize,
    /// Decision-audit rows older than this many days are pruned.
    pub decision_audit_retention_days: u32,
    /// Seen whale trades older than this many days are pruned (never those of open positions or live orders).
    pub seen_trades_retention_days: u32,
    /// How long a connection waits for a lock held by another connection (e.g. `whale-trader status`).
    pub busy_timeout_ms: u64,
    /// While order intents are being written (for a second after each), read 4 KiB straight from
    /// the disk this often so that it never goes idle and the next order's fsync does not pay for
    /// waking it. Routine commits never start it; it parks when orders stop. 0 (the default) turns
    /// it off.
    pub disk_keep_warm_micros: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/whale-trader.db"),
            separate_per_mode: true,
            max_batch_size: 1024,
            max_batch_delay_micros: 0,
            writer_queue_capacity: 8192,
            decision_audit_retention_days: 90,
            seen_trades_retention_days: 30,
            busy_timeout_ms: 5000,
            disk_keep_warm_micros: 0,
        }
    }
}

impl StoreConfig {
    /// Adds every problem found under `prefix` to `issues`.
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        issues.check(self.path.as_os_str().is_empty(), join(prefix, "path"), "\"\"", "must name a database file");
        issues.check(
            self.path.file_name().is_none() && !self.path.as_os_str().is_empty(),
            join(prefix, "path"),
            self.path.display(),
            "must end in a file name, not a directory",
        );
        issues.check(
            !(1..=65_536).contains(&self.max_batch_size),
            join(prefix, "max_batch_size"),
            self.max_batch_size,
            "must be between 1 and 65536",
        );
        issues.check(
            self.max_batch_delay_micros > 1_000_000,
            join(prefix, "max_batch_delay_micros"),
            self.max_batch_delay_micros,
            "must be at most 1000000 (one second)",
        );
        issues.check(
            !(1..=1_048_576).contains(&self.writer_queue_capacity),
            join(prefix, "writer_queue_capacity"),
            self.writer_queue_capacity,
            "must be between 1 and 1048576",
        );
        for (key, days) in [
            ("decision_audit_retention_days", self.decision_audit_retention_days),
            ("seen_trades_retention_days", self.seen_trades_retention_days),
        ] {
            issues.check(!(1..=36_500).contains(&days), join(prefix, key), days, "must be between 1 and 36500 days");
        }
        issues.check(
            !(1..=600_000).contains(&self.busy_timeout_ms),
            join(prefix, "busy_timeout_ms"),
            self.busy_timeout_ms,
            "must be between 1 and 600000 milliseconds",
        );
        issues.check(
            self.disk_keep_warm_micros != 0 && !(100..=100_000).contains(&self.disk_keep_warm_micros),
            join(prefix, "disk_keep_warm_micros"),
            self.disk_keep_warm_micros,
            "must be 0 (off) or between 100 and 100000 microseconds",
        );
    }

    /// The database file of `mode` reading `source`: see the module docs. The one place that names
    /// a store file, for the daemon, `whale-trader status` and the tools alike.
    pub fn path_for(&self, mode: Mode, source: FeedSource) -> PathBuf {
        if !self.separate_per_mode {
            return self.path.clone();
        }
        let tag = match mode {
            // Live orders need the polymarket feed (a replayed feed is refused before the store
            // opens), so a live file has no source to tell apart.
            Mode::Live => mode.as_str().to_owned(),
            Mode::Paper | Mode::DryRun => format!("{mode}.{source}"),
        };
        let stem = self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name = match self.path.extension() {
            Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
            None => format!("{stem}.{tag}"),
        };
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
            _ => Path::new(&name).to_path_buf(),
        }
    }

    /// The disk keep-warm period, `None` when it is off.
    pub fn disk_keep_warm_interval(&self) -> Option<Duration> {
        (self.disk_keep_warm_micros > 0).then(|| Duration::from_micros(self.disk_keep_warm_micros))
    }

    pub fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }

    pub fn max_batch_delay(&self) -> Duration {
        Duration::from_micros(self.max_batch_delay_micros)
    }

    /// What a retention pass run at `now` deletes: rows strictly older than these instants.
    pub fn retention_cutoffs(&self, now: Timestamp) -> RetentionCutoffs {
        let days_before = |days: u32| now.plus_millis(-(i64::from(days)).saturating_mul(MS_PER_DAY));
        RetentionCutoffs {
            decisions_before: days_before(self.decision_audit_retention_days),
            seen_trades_before: days_before(self.seen_trades_retention_days),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let mut issues = Issues::new();
        StoreConfig::default().validate("store", &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.as_slice());
    }

    #[test]
    fn every_bad_value_is_reported_with_its_key() {
        let config = StoreConfig {
            path: PathBuf::new(),
            separate_per_mode: true,
            max_batch_size: 0,
            max_batch_delay_micros: 2_000_000,
            writer_queue_capacity: 0,
            decision_audit_retention_days: 0,
            seen_trades_retention_days: 40_000,
            busy_timeout_ms: 0,
            disk_keep_warm_micros: 50,
        };
        let mut issues = Issues::new();
        config.validate("store", &mut issues);
        let keys: Vec<_> = issues.as_slice().iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "store.path",
                "store.max_batch_size",
                "store.max_batch_delay_micros",
                "store.writer_queue_capacity",
                "store.decision_audit_retention_days",
                "store.seen_trades_retention_days",
                "store.busy_timeout_ms",
                "store.disk_keep_warm_micros",
            ]
        );
    }

    #[test]
    fn disk_keep_warm_is_off_at_zero_and_a_period_otherwise() {
        let off = StoreConfig { disk_keep_warm_micros: 0, ..Default::default() };
        assert_eq!(off.disk_keep_warm_interval(), None);
        let mut issues = Issues::new();
        off.validate("store", &mut issues);
        assert!(issues.is_empty(), "0 means off and is valid: {:?}", issues.as_slice());
        let on = StoreConfig { disk_keep_warm_micros: 250, ..Default::default() };
        assert_eq!(on.disk_keep_warm_interval(), Some(Duration::from_micros(250)));
    }

    #[test]
    fn each_mode_and_feed_gets_its_own_file_unless_disabled() {
        use FeedSource::{Polymarket, Replay};
        let mut config = StoreConfig::default();
        let path = |config: &StoreConfig, mode, source| config.path_for(mode, source);
        assert_eq!(path(&config, Mode::Paper, Replay), PathBuf::from("data/whale-trader.paper.replay.db"));
        assert_eq!(path(&config, Mode::Paper, Polymarket), PathBuf::from("data/whale-trader.paper.polymarket.db"));
        assert_eq!(path(&config, Mode::DryRun, Replay), PathBuf::from("data/whale-trader.dry-run.replay.db"));
        assert_eq!(path(&config, Mode::DryRun, Polymarket), PathBuf::from("data/whale-trader.dry-run.polymarket.db"));
        assert_eq!(path(&config, Mode::Live, Polymarket), PathBuf::from("data/whale-trader.live.db"));
        config.path = PathBuf::from("state");
        assert_eq!(path(&config, Mode::Live, Polymarket), PathBuf::from("state.live"));
        assert_eq!(path(&config, Mode::Paper, Replay), PathBuf::from("state.paper.replay"));
        config.path = PathBuf::from("/var/lib/wt/my.sqlite");
        config.separate_per_mode = false;
        assert_eq!(path(&config, Mode::Live, Polymarket), PathBuf::from("/var/lib/wt/my.sqlite"));
        assert_eq!(path(&config, Mode::Paper, Replay), PathBuf::from("/var/lib/wt/my.sqlite"));
    }

    #[test]
    fn retention_cutoffs_count_whole_days_back_from_now() {
        let config =
            StoreConfig { decision_audit_retention_days: 2, seen_trades_retention_days: 1, ..Default::default() };
        let cutoffs = config.retention_cutoffs(Timestamp::from_millis(10 * MS_PER_DAY));
        assert_eq!(cutoffs.decisions_before, Timestamp::from_millis(8 * MS_PER_DAY));
        assert_eq!(cutoffs.seen_trades_before, Timestamp::from_millis(9 * MS_PER_DAY));
    }

    #[test]
    fn toml_section_round_trips_and_rejects_unknown_keys() {
        let parsed: StoreConfig = toml::from_str("max_batch_size = 64\nseparate_per_mode = false").unwrap();
        assert_eq!(parsed.max_batch_size, 64);
        assert!(!parsed.separate_per_mode);
        assert_eq!(parsed.writer_queue_capacity, StoreConfig::default().writer_queue_capacity);
        assert!(toml::from_str::<StoreConfig>("batch = 3").is_err());
    }
}
