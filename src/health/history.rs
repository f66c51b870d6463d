//! A bounded window of recent system samples, for the report's averages and maxima.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::metrics::SystemMetrics;

/// The few figures of a sample the averages need; full samples are not kept.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HistoryPoint {
    cpu_percent: Decimal,
    memory_percent: Decimal,
    /// The fullest watched directory, if any was measured.
    disk_percent: Option<Decimal>,
}

/// The last `capacity` samples, oldest first; the oldest is dropped when a new one arrives.
#[derive(Debug, Clone)]
pub struct SystemHistory {
    capacity: usize,
    points: VecDeque<HistoryPoint>,
}

/// Averages and maxima over the history window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemAverages {
    /// How many samples the figures cover.
    pub samples: usize,
    #[serde(serialize_with = "super::json_number::serialize")]
    pub avg_cpu_percent: Decimal,
    #[serde(serialize_with = "super::json_number::serialize")]
    pub max_cpu_percent: Decimal,
    #[serde(serialize_with = "super::json_number::serialize")]
    pub avg_memory_percent: Decimal,
    #[serde(serialize_with = "super::json_number::serialize")]
    pub max_memory_percent: Decimal,
    /// The fullest any watched directory's disk has been.
    #[serde(serialize_with = "super::json_number::serialize_option")]
    pub max_disk_percent: Option<Decimal>,
}

impl SystemHistory {
    /// A window of `capacity` samples (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { capacity, points: VecDeque::with_capacity(capacity) }
    }

    /// The window that covers one report period: the hourly report averages the last hour.
    pub fn covering(report_interval_secs: u64, system_interval_secs: u64) -> Self {
        let samples = report_interval_secs / system_interval_secs.max(1);
        Self::with_capacity(usize::try_from(samples).unwrap_or(usize::MAX).min(100_000))
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn record(&mut self, metrics: &SystemMetrics) {
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        self.points.push_back(HistoryPoint {
            cpu_percent: metrics.cpu_percent,
            memory_percent: metrics.memory.percent,
            disk_percent: metrics.disks.iter().filter_map(|d| d.usage.map(|u| u.percent)).max(),
        });
    }

    /// `None` before the first sample.
    pub fn averages(&self) -> Option<SystemAverages> {
        let count = Decimal::from(self.points.len());
        let first = self.points.front()?;
        let mut summary = SystemAverages {
            samples: self.points.len(),
            avg_cpu_percent: Decimal::ZERO,
            max_cpu_percent: first.cpu_percent,
            avg_memory_percent: Decimal::ZERO,
            max_memory_percent: first.memory_percent,
            max_disk_percent: None,
        };
        let (mut cpu_sum, mut memory_sum) = (Decimal::ZERO, Decimal::ZERO);
        for point in &self.points {
            cpu_sum += point.cpu_percent;
            memory_sum += point.memory_percent;
            summary.max_cpu_percent = summary.max_cpu_percent.max(point.cpu_percent);
            summary.max_memory_percent = summary.max_memory_percent.max(point.memory_percent);
            summary.max_disk_percent = summary.max_disk_percent.max(point.disk_percent);
        }
        summary.avg_cpu_percent = (cpu_sum / count).round_dp(2);
        summary.avg_memory_percent = (memory_sum / count).round_dp(2);
        Some(summary)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::clock::Timestamp;
    use crate::health::metrics::{DirectoryDisk, NetworkTotals, ProcessFigures, SpaceUsage};

    fn sample(cpu: Decimal, memory_used: u64, disk_used: Option<u64>) -> SystemMetrics {
        SystemMetrics {
            sampled_at: Timestamp::from_secs(0),
            cpu_percent: cpu,
            load_average: None,
            memory: SpaceUsage::new(100, memory_used),
            disks: vec![DirectoryDisk {
                label: "data".into(),
                path: PathBuf::from("/srv/data"),
                mount_point: None,
                usage: disk_used.map(|used| SpaceUsage::new(100, used)),
            }],
            network: NetworkTotals::default(),
            process: ProcessFigures::default(),
        }
    }

    #[test]
    fn averages_and_maxima_cover_only_the_window() {
        let mut history = SystemHistory::with_capacity(3);
        assert_eq!(history.averages(), None);
        history.record(&sample(dec!(99), 99, Some(99))); // falls out of the window below
        history.record(&sample(dec!(10), 40, None));
        history.record(&sample(dec!(20), 50, Some(60)));
        history.record(&sample(dec!(31), 61, Some(70)));
        assert_eq!(history.len(), 3);
        let averages = history.averages();
        assert_eq!(
            averages,
            Some(SystemAverages {
                samples: 3,
                avg_cpu_percent: dec!(20.33),
                max_cpu_percent: dec!(31),
                avg_memory_percent: dec!(50.33),
                max_memory_percent: dec!(61),
                max_disk_percent: Some(dec!(70)),
            })
        );
    }

    #[test]
    fn the_window_covers_one_report_period() {
        assert_eq!(SystemHistory::covering(3600, 60).capacity(), 60);
        assert_eq!(SystemHistory::covering(10, 60).capacity(), 1);
        assert_eq!(SystemHistory::covering(3600, 0).capacity(), 3600);
    }
}
