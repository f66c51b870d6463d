//! Sampling I/O: one `System`, `Disks` and `Networks` kept for the whole run, refreshing only what
//! the health figures need (measured in `bench-notes/health.md`).

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use sysinfo::{DiskRefreshKind, Disks, MemoryRefreshKind, Networks, System};

use super::error::HealthError;
use super::metrics::{DirectoryDisk, LoadAverage, NetworkTotals, SpaceUsage, SystemMetrics, WatchedDirectory};
use super::proc_self::read_process_figures;
use crate::clock::Timestamp;

/// Takes system samples. Create it once; call [`SystemSampler::sample`] at least
/// [`sysinfo::MINIMUM_CPU_UPDATE_INTERVAL`] (200 ms) apart, or the CPU figure is meaningless.
pub struct SystemSampler {
    system: System,
    disks: Disks,
    networks: Networks,
    directories: Vec<TrackedDirectory>,
    /// Interface byte counters when the sampler was created: the report shows traffic since start.
    network_baseline: NetworkTotals,
}

struct TrackedDirectory {
    watched: WatchedDirectory,
    /// Index into `disks` of the mount that contains the directory.
    disk_index: Option<usize>,
}

impl SystemSampler {
    /// Opens the data sources and takes the CPU baseline. The directories need not exist yet: each is
    /// resolved to its deepest existing ancestor, which lives on the same file system.
    pub fn new(directories: Vec<WatchedDirectory>) -> Result<Self, HealthError> {
        let mut system = System::new().map_err(|e| sysinfo_error("System", e))?;
        system.refresh_cpu_usage();
        let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
            .map_err(|e| sysinfo_error("Disks", e))?;
        let networks = Networks::new_with_refreshed_list().map_err(|e| sysinfo_error("Networks", e))?;
        let network_baseline = network_totals(&networks);
        let mut sampler = Self {
            system,
            disks,
            networks,
            directories: directories
                .into_iter()
                .map(|watched| TrackedDirectory { watched, disk_index: None })
                .collect(),
            network_baseline,
        };
        sampler.locate_directories();
        Ok(sampler)
    }

    /// One full sample: what the system loop does every `system_interval_secs`.
    pub fn sample(&mut self, now: Timestamp) -> SystemMetrics {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        // A directory on a file system mounted after start is found by listing the mounts again
        // (which also refreshes their space); otherwise only the watched mounts are refreshed.
        if self.directories.iter().any(|d| d.disk_index.is_none()) {
            self.disks.refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
            self.locate_directories();
        } else {
            self.refresh_watched_disks();
        }
        let disks = self.directories.iter().map(|tracked| self.directory_disk(tracked)).collect();
        self.networks.refresh(true);

        SystemMetrics {
            sampled_at: now,
            cpu_percent: decimal_2dp(f64::from(self.system.global_cpu_usage())),
            load_average: load_average(),
            memory: SpaceUsage::new(self.system.total_memory(), self.system.used_memory()),
            disks,
            network: since_baseline(network_totals(&self.networks), self.network_baseline),
            process: read_process_figures(),
        }
    }

    fn locate_directories(&mut self) {
        let mount_points: Vec<PathBuf> = self.disks.iter().map(|d| d.mount_point().to_path_buf()).collect();
        for tracked in &mut self.directories {
            let resolved = resolve_existing(&tracked.watched.path);
            tracked.disk_index = containing_mount(&resolved, &mount_points)
                .filter(|&i| mount_points.get(i).is_some_and(|mount| same_file_system(&resolved, mount)));
        }
    }

    /// The space figures of the file system that holds the directory: asked of that file system
    /// itself (`statvfs` on the directory), so a tmpfs or any mount sysinfo does not list is
    /// measured too; sysinfo's listed mount only names it (and stands in if `statvfs` fails).
    fn directory_disk(&self, tracked: &TrackedDirectory) -> DirectoryDisk {
        let disk = tracked.disk_index.and_then(|i| self.disks.get(i));
        let usage = file_system_usage(&resolve_existing(&tracked.watched.path)).or_else(|| {
            disk.map(|d| {
                let total = d.total_space();
                SpaceUsage::new(total, total.saturating_sub(d.available_space()))
            })
        });
        DirectoryDisk {
            label: tracked.watched.label.clone(),
            path: tracked.watched.path.clone(),
            mount_point: disk.map(|d| d.mount_point().to_path_buf()),
            usage,
        }
    }

    /// Refreshes the storage figures of the mounts that hold watched directories, and nothing else.
    fn refresh_watched_disks(&mut self) {
        let indices: Vec<usize> = self.directories.iter().filter_map(|d| d.disk_index).collect();
        for (i, disk) in self.disks.iter_mut().enumerate() {
            if indices.contains(&i) {
                disk.refresh_specifics(DiskRefreshKind::nothing().with_storage());
            }
        }
    }
}

fn sysinfo_error(source_name: &'static str, error: impl std::fmt::Display) -> HealthError {
    HealthError::Sysinfo { source_name, message: error.to_string() }
}

/// The directory itself when it exists (canonical, symlinks followed), else its deepest existing
/// ancestor; relative paths are taken from the current directory.
fn resolve_existing(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    absolute.ancestors().find_map(|ancestor| ancestor.canonicalize().ok()).unwrap_or(absolute)
}

/// sysinfo does not list some file systems (tmpfs, anything under `/run`), so the deepest *listed*
/// mount above a path may not be the one it lives on: then its figures would be another disk's. The
/// device ids tell. (A btrfs subvolume that is not mounted on its own has its own device id too, and
/// reads as unknown rather than wrong.)
#[cfg(unix)]
fn same_file_system(path: &Path, mount_point: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), std::fs::metadata(mount_point)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file_system(_path: &Path, _mount_point: &Path) -> bool {
    true
}

/// Total and used bytes of the file system holding `path` (which must exist), as `df` counts them:
/// used is everything not available to an unprivileged writer, so the blocks reserved for root
/// count as used (the daemon does not run as root). `None` when `statvfs` fails.
#[cfg(unix)]
// The field types of `statvfs` differ between platforms (32 or 64 bits): the conversions are
// identities only on some.
#[allow(clippy::useless_conversion)]
// The one foreign call of the crate: the standard library has no `statvfs`, and the space of the
// file system under a directory (tmpfs and mounts sysinfo does not list included) needs it.
#[allow(unsafe_code)]
pub fn file_system_usage(path: &Path) -> Option<SpaceUsage> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` is plain old data, valid when zeroed; the call only reads the
    // NUL-terminated path and writes the struct, both alive for the call.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) };
    if rc != 0 {
        return None;
    }
    let fragment = u64::from(stats.f_frsize);
    let total = u64::from(stats.f_blocks).saturating_mul(fragment);
    let available = u64::from(stats.f_bavail).saturating_mul(fragment);
    Some(SpaceUsage::new(total, total.saturating_sub(available)))
}

#[cfg(not(unix))]
pub fn file_system_usage(_path: &Path) -> Option<SpaceUsage> {
    None
}

/// The index of the mount point that contains `path`: the longest one that is a prefix of it
/// (component-wise, so `/data` does not contain `/database`).
pub fn containing_mount(path: &Path, mount_points: &[PathBuf]) -> Option<usize> {
    mount_points
        .iter()
        .enumerate()
        .filter(|(_, mount)| path.starts_with(mount))
        .max_by_key(|(_, mount)| mount.components().count())
        .map(|(index, _)| index)
}

fn network_totals(networks: &Networks) -> NetworkTotals {
    networks.iter().filter(|(name, _)| !is_loopback(name)).fold(NetworkTotals::default(), |sum, (_, data)| {
        NetworkTotals {
            received_bytes: sum.received_bytes.saturating_add(data.total_received()),
            sent_bytes: sum.sent_bytes.saturating_add(data.total_transmitted()),
        }
    })
}

fn is_loopback(interface: &std::ffi::OsStr) -> bool {
    interface == "lo" || interface == "lo0"
}

/// Counters can restart (an interface goes away and comes back): never report negative traffic.
fn since_baseline(now: NetworkTotals, baseline: NetworkTotals) -> NetworkTotals {
    NetworkTotals {
        received_bytes: now.received_bytes.saturating_sub(baseline.received_bytes),
        sent_bytes: now.sent_bytes.saturating_sub(baseline.sent_bytes),
    }
}

fn load_average() -> Option<LoadAverage> {
    let load = System::load_average().ok()?;
    Some(LoadAverage { one: decimal_2dp(load.one), five: decimal_2dp(load.five), fifteen: decimal_2dp(load.fifteen) })
}

/// A measured float as a two-decimal `Decimal`; NaN or infinity (never expected) reads as 0.
fn decimal_2dp(value: f64) -> Decimal {
    Decimal::from_f64(value)
        .map(|d| d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
        .unwrap_or(Decimal::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_mount_that_contains_the_path_wins() {
        let mounts: Vec<PathBuf> = ["/", "/data", "/data/logs", "/var"].iter().map(PathBuf::from).collect();
        assert_eq!(containing_mount(Path::new("/data/db/x"), &mounts), Some(1));
        assert_eq!(containing_mount(Path::new("/data/logs"), &mounts), Some(2));
        assert_eq!(containing_mount(Path::new("/database"), &mounts), Some(0));
        assert_eq!(containing_mount(Path::new("/home"), &mounts), Some(0));
        assert_eq!(containing_mount(Path::new("/home"), &mounts[1..]), None);
    }

    #[test]
    fn traffic_never_goes_negative() {
        let baseline = NetworkTotals { received_bytes: 100, sent_bytes: 50 };
        let now = NetworkTotals { received_bytes: 150, sent_bytes: 10 };
        assert_eq!(since_baseline(now, baseline), NetworkTotals { received_bytes: 50, sent_bytes: 0 });
    }

    #[test]
    fn a_missing_directory_resolves_to_its_existing_ancestor() {
        let dir = std::env::temp_dir().join("whale-trader-health-no-such-dir/a/b");
        let resolved = resolve_existing(&dir);
        assert!(resolved.exists());
        assert!(dir.starts_with(&resolved) || resolved.canonicalize().is_ok());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_directory_on_an_unlisted_file_system_is_measured_not_misread() {
        // /dev/shm is a tmpfs, which sysinfo does not list; "/" is listed and is a prefix of it.
        let shm = Path::new("/dev/shm");
        if !shm.is_dir() || same_file_system(shm, Path::new("/")) {
            return; // nothing to show on this machine
        }
        let expected = file_system_usage(shm);
        assert!(expected.is_some_and(|u| u.total_bytes > 0), "statvfs on {shm:?}: {expected:?}");
        let sampler = SystemSampler::new(vec![WatchedDirectory::new("data", shm)]);
        let disk = sampler.map(|mut s| s.sample(Timestamp::from_secs(1)).disks).ok().and_then(|d| d.first().cloned());
        // Its own figures (the tmpfs size), never those of the listed "/" above it.
        let usage = disk.as_ref().and_then(|d| d.usage);
        assert_eq!(usage.map(|u| u.total_bytes), expected.map(|u| u.total_bytes), "{disk:?}");
        assert!(disk.is_some_and(|d| d.mount_point.is_none()), "no listed mount is named for a tmpfs");
    }

    #[test]
    fn statvfs_figures_are_those_of_the_directory_s_file_system() {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let usage = file_system_usage(&cwd);
        assert!(usage.is_some_and(|u| u.total_bytes > 0 && u.used_bytes <= u.total_bytes), "{usage:?}");
        assert_eq!(file_system_usage(Path::new("/no/such/whale-trader/dir")), None);
    }

    #[test]
    fn a_real_sample_finds_the_directory_and_plausible_figures() -> Result<(), HealthError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let mut sampler = SystemSampler::new(vec![WatchedDirectory::new("data", &cwd)])?;
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let metrics = sampler.sample(Timestamp::from_secs(1));
        assert!(metrics.cpu_percent >= Decimal::ZERO && metrics.cpu_percent <= Decimal::ONE_HUNDRED);
        assert!(metrics.memory.total_bytes > 0 && metrics.memory.used_bytes <= metrics.memory.total_bytes);
        assert_eq!(metrics.disks.len(), 1);
        let disk = metrics.disks.first().cloned();
        assert!(disk.as_ref().is_some_and(|d| d.mount_point.is_some()), "no mount found for {cwd:?}: {disk:?}");
        assert!(disk.and_then(|d| d.usage).is_some_and(|u| u.total_bytes > 0 && u.used_bytes <= u.total_bytes));
        Ok(())
    }
}
