//! The figures of one system sample: plain data, filled by the sampler, judged by `classify`.

use std::path::PathBuf;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// A directory whose disk is watched, e.g. `data` → `/var/lib/whale-trader`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedDirectory {
    /// What the directory is for (`data`, `logs`); it names the directory in reports and hold reasons.
    pub label: String,
    pub path: PathBuf,
}

impl WatchedDirectory {
    pub fn new(label: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self { label: label.into(), path: path.into() }
    }
}

/// Everything one system sample measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMetrics {
    pub sampled_at: Timestamp,
    /// Whole-machine CPU use since the previous sample, in percent of all cores.
    #[serde(serialize_with = "super::json_number::serialize")]
    pub cpu_percent: Decimal,
    /// `None` where the platform has no load average.
    pub load_average: Option<LoadAverage>,
    pub memory: SpaceUsage,
    /// One entry per watched directory, in the order they were given.
    pub disks: Vec<DirectoryDisk>,
    pub network: NetworkTotals,
    pub process: ProcessFigures,
}

/// The 1, 5 and 15 minute load averages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadAverage {
    #[serde(serialize_with = "super::json_number::serialize")]
    pub one: Decimal,
    #[serde(serialize_with = "super::json_number::serialize")]
    pub five: Decimal,
    #[serde(serialize_with = "super::json_number::serialize")]
    pub fifteen: Decimal,
}

/// Used and total bytes of memory or of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceUsage {
    pub total_bytes: u64,
    pub used_bytes: u64,
    /// `used / total` in percent, rounded to two decimals (0 when the total is 0).
    #[serde(serialize_with = "super::json_number::serialize")]
    pub percent: Decimal,
}

impl SpaceUsage {
    pub fn new(total_bytes: u64, used_bytes: u64) -> Self {
        Self { total_bytes, used_bytes, percent: percent_of(used_bytes, total_bytes) }
    }
}

/// `part / whole` in percent, rounded half-up to two decimals without trailing zeros (`95`, `33.33`);
/// 0 when `whole` is 0.
///
/// Classification compares this rounded figure, so the status always agrees with the number shown.
pub fn percent_of(part: u64, whole: u64) -> Decimal {
    if whole == 0 {
        return Decimal::ZERO;
    }
    let ratio = Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole);
    ratio.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero).normalize()
}

/// The disk holding one watched directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryDisk {
    pub label: String,
    pub path: PathBuf,
    /// The mount point that contains the directory; `None` when none of the listed file systems does.
    pub mount_point: Option<PathBuf>,
    /// `used` counts everything this process cannot use (total − available), so root-reserved blocks
    /// count as used: the figure says how close the daemon is to failing writes.
    pub usage: Option<SpaceUsage>,
}

/// Bytes through the non-loopback network interfaces since the monitor started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkTotals {
    pub received_bytes: u64,
    pub sent_bytes: u64,
}

/// The daemon process itself. `None` where the platform does not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProcessFigures {
    pub rss_bytes: Option<u64>,
    pub threads: Option<u64>,
    pub open_files: Option<u64>,
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn percentages_round_to_two_decimals() {
        assert_eq!(percent_of(0, 0), dec!(0));
        assert_eq!(percent_of(1, 3), dec!(33.33));
        assert_eq!(percent_of(2, 3), dec!(66.67));
        assert_eq!(percent_of(1, 1), dec!(100));
        // 94.995 rounds up to 95.00: what is shown is what is judged.
        assert_eq!(percent_of(94_995, 100_000), dec!(95.00));
        assert_eq!(percent_of(u64::MAX, u64::MAX), dec!(100));
    }
}
