//! Keeps the disk's I/O path awake while orders flow.
//!
//! A durable commit ends in an `fdatasync`, and what that costs depends on how long the disk has been
//! silent. Measured on the machines this project runs on (virtual disks): back-to-back 4 KiB
//! `fdatasync`s cost p50 0.04 ms, p99 0.07 ms, but the same call after 1 ms of silence costs p50
//! 0.07–0.13 ms, p99 0.3–1.4 ms, because the device (and the host behind it) has gone idle and must
//! wake up first. NVMe drives with autonomous power states behave the same way on bare metal. At
//! 1,000 order intents a second every commit follows such a gap, so the order path would inherit the
//! idle device's wake-up tail. Writing less per commit does not remove it (BENCHMARKS.md, store): the
//! wait is the device's, not the bytes'.
//!
//! The remedy here is a small read straight from the device (`O_DIRECT`, so the page cache cannot
//! answer it) of a 4 KiB file beside the database (`<database>-keepwarm`, written once, never by
//! SQLite, so a read never waits for SQLite's writes) whenever the device has had nothing to do for
//! `interval`, but only within [`HOLD`] of the last commit that wrote an order ahead of its sending
//! ([`DiskWarmer::order_committed`]). Routine commits (risk snapshots, checkpoints, audit rows,
//! alerts) never arm it: the daemon writes those while nothing happens, and a warmer armed by them
//! would wake every `interval` forever. So while orders flow the device never gets to doze (at 1,000
//! intents a second and a 500 µs interval, one read between two commits); once none has been written
//! for [`HOLD`], the thread parks without a timeout and wakes no more until the next order. The read
//! changes nothing on disk. It is off unless `[store] disk_keep_warm_micros` is set: on storage billed
//! by I/O operations its reads cost money, and the figures with and without it are in BENCHMARKS.md.
//!
//! Where `O_DIRECT` is not supported (tmpfs, some network file systems, non-Linux systems) the warmer
//! does not start and says so once in the log; commits are exactly as durable either way.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long after the last order intent's commit the device is kept awake.
const HOLD: Duration = Duration::from_secs(1);

/// The unit `O_DIRECT` reads must be aligned to and sized in (the largest logical block size in use).
const BLOCK: usize = 4096;

/// State shared between the writer (which reports order commits) and the warming thread.
#[derive(Debug)]
struct Shared {
    started: Instant,
    /// Nanoseconds after `started` of the last commit that wrote an order ahead; 0 until the first.
    last_commit_nanos: AtomicU64,
    /// The thread is parked (or about to park) and needs an unpark to resume.
    parked: AtomicBool,
    stop: AtomicBool,
    /// Reads done so far: how the tests see what the thread does.
    reads: AtomicU64,
}

impl Shared {
    fn nanos_now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn since_last_commit(&self) -> Duration {
        match self.last_commit_nanos.load(Ordering::SeqCst) {
            0 => Duration::MAX,
            last => Duration::from_nanos(self.nanos_now().saturating_sub(last)),
        }
    }

    fn recently_committed(&self) -> bool {
        self.since_last_commit() < HOLD
    }
}

/// The warming thread; stops (and joins) when dropped.
#[derive(Debug)]
pub(super) struct DiskWarmer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl DiskWarmer {
    /// Starts warming the device that holds the database at `database`, one read per `interval`
    /// while orders flow. Returns `None` (after logging why) where the file system cannot do direct
    /// reads or the file to read cannot be made.
    pub(super) fn start(database: &Path, interval: Duration) -> Option<Self> {
        let path = keep_warm_path(database);
        let opened = ensure_block_file(&path)
            .map_err(|e| (e, "the file it reads cannot be written"))
            .and_then(|()| open_direct(&path).map_err(|e| (e, "this file system cannot read with O_DIRECT")));
        let file = match opened {
            Ok(file) => file,
            Err((e, reason)) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    reason,
                    "disk keep-warm is off; commits stay durable but pay the idle device's wake-up"
                );
                return None;
            }
        };
        let shared = Arc::new(Shared {
            started: crate::clock::monotonic(),
            last_commit_nanos: AtomicU64::new(0),
            parked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            reads: AtomicU64::new(0),
        });
        let spawned = std::thread::Builder::new().name("store-keep-warm".into()).spawn({
            let shared = Arc::clone(&shared);
            move || run(&file, interval, &shared)
        });
        match spawned {
            Ok(thread) => {
                tracing::info!(
                    file = %path.display(),
                    interval_micros = interval.as_micros(),
                    "disk keep-warm on: direct reads while order intents are being written"
                );
                Some(Self { shared, thread: Some(thread) })
            }
            Err(e) => {
                tracing::warn!(error = %e, "disk keep-warm is off: its thread could not start");
                None
            }
        }
    }

    /// Called by the writer after a commit that wrote an order ahead of its sending (and after no
    /// other): keeps (or starts) the device awake for [`HOLD`]. Costs an atomic store, plus a
    /// wake-up only when the thread had parked.
    pub(super) fn order_committed(&self) {
        self.shared.last_commit_nanos.store(self.shared.nanos_now().max(1), Ordering::SeqCst);
        if self.shared.parked.swap(false, Ordering::SeqCst)
            && let Some(thread) = &self.thread
        {
            thread.thread().unpark();
        }
    }

    #[cfg(test)]
    pub(super) fn reads(&self) -> u64 {
        self.shared.reads.load(Ordering::Relaxed)
    }

    /// Whether an order commit within [`HOLD`] keeps the thread reading.
    #[cfg(test)]
    pub(super) fn armed(&self) -> bool {
        self.shared.recently_committed()
    }

    /// Whether the thread is parked, waiting for the next order commit.
    #[cfg(test)]
    pub(super) fn parked(&self) -> bool {
        self.shared.parked.load(Ordering::SeqCst)
    }
}

impl Drop for DiskWarmer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A buffer for one direct read: `O_DIRECT` needs the address aligned to the block size, so this is
/// an aligned block-sized window inside a buffer twice that size.
struct AlignedBlock(Vec<u8>);

impl AlignedBlock {
    fn new() -> Self {
        Self(vec![0u8; 2 * BLOCK])
    }

    fn as_mut(&mut self) -> &mut [u8] {
        let start = self.0.as_ptr().align_offset(BLOCK).min(BLOCK);
        &mut self.0[start..start + BLOCK]
    }
}

fn run(file: &File, interval: Duration, shared: &Shared) {
    let mut block = AlignedBlock::new();
    let mut failures = 0u32;
    let mut last_read = crate::clock::monotonic();
    while !shared.stop.load(Ordering::SeqCst) {
        let since_commit = shared.since_last_commit();
        if since_commit >= HOLD {
            // Announce the park first, then look again: a commit that slipped in between either
            // sees `parked` and unparks us, or is seen here.
            shared.parked.store(true, Ordering::SeqCst);
            if !shared.recently_committed() && !shared.stop.load(Ordering::SeqCst) {
                std::thread::park();
            }
            shared.parked.store(false, Ordering::SeqCst);
            continue;
        }
        // A commit or a read is itself I/O: read only once the device has been idle for `interval`.
        let idle = since_commit.min(last_read.elapsed());
        if idle < interval {
            std::thread::sleep(interval - idle);
            continue;
        }
        last_read = crate::clock::monotonic();
        match read_block(file, &mut block) {
            Ok(()) => {
                shared.reads.fetch_add(1, Ordering::Relaxed);
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                // Only latency is at stake; say so now and then, never stop the store for it.
                if super::worth_reporting(failures) {
                    tracing::warn!(error = %e, failures, "disk keep-warm read failed");
                }
            }
        }
    }
}

/// `<database>-keepwarm`, beside SQLite's own `-wal` and `-shm`.
fn keep_warm_path(database: &Path) -> std::path::PathBuf {
    super::with_suffix(database, "-keepwarm")
}

/// Makes `path` one block long and on disk, once; an existing file of that size is left alone.
fn ensure_block_file(path: &Path) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() >= BLOCK as u64) {
        return Ok(());
    }
    use std::os::unix::fs::FileExt;
    let file = File::create(path)?;
    file.write_all_at(&[0u8; BLOCK], 0)?;
    file.sync_all()
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(path)?;
    // Some file systems accept the flag at open and refuse the read: try one now.
    read_block(&file, &mut AlignedBlock::new())?;
    Ok(file)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> std::io::Result<File> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "direct reads are implemented for Linux only"))
}

/// Reads the file's first (and only) block.
fn read_block(file: &File, block: &mut AlignedBlock) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_at(block.as_mut(), 0).map(drop)
}

/// A temporary directory that can read with `O_DIRECT`: the system's temporary directory may be a
/// tmpfs, which cannot; the source tree's file system can.
#[cfg(test)]
pub(super) fn direct_io_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    std::fs::write(&probe, vec![1u8; BLOCK]).unwrap();
    if open_direct(&probe).is_ok() { dir } else { tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap() }
}

/// Polls `done` until it holds, failing the test after 10 s: the warmer's work is seen from outside.
#[cfg(test)]
pub(super) fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = crate::clock::monotonic() + Duration::from_secs(10);
    while !done() {
        assert!(crate::clock::monotonic() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_sized_file(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("warm.db");
        std::fs::write(&path, vec![1u8; 4 * BLOCK]).unwrap();
        path
    }

    #[test]
    fn where_its_file_cannot_be_made_it_stays_off_instead_of_failing_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("no-such-directory").join("wt.db");
        assert!(DiskWarmer::start(&database, Duration::from_millis(1)).is_none());
    }

    #[test]
    fn it_reads_only_while_orders_flow_and_parks_when_they_stop() {
        let dir = direct_io_tempdir();
        let path = database_sized_file(dir.path());
        let warmer = DiskWarmer::start(&path, Duration::from_millis(1)).expect("direct reads work here");
        let block_file =
            std::fs::metadata(keep_warm_path(&path)).expect("the file it reads is made beside the database");
        assert_eq!(block_file.len(), BLOCK as u64);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(warmer.reads(), 0, "no order yet: nothing to keep awake");
        assert!(!warmer.armed());

        warmer.order_committed();
        assert!(warmer.armed());
        wait_until("it reads", || warmer.reads() >= 5);
        wait_until("it parks once the hold is over", || warmer.parked());
        assert!(!warmer.armed());
        let parked_at = warmer.reads();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(warmer.reads(), parked_at, "parked: no reads without orders");

        warmer.order_committed();
        wait_until("an order commit wakes it", || warmer.reads() > parked_at);
        drop(warmer); // joins: a hang here fails the test by timeout
    }
}
