//! Checkpoints off the commit path.
//!
//! In WAL mode a commit appends to the WAL and fsyncs it. If the WAL keeps growing, every commit
//! also changes the file's size, and its fsync waits for the file system's journal; if the writer
//! checkpoints itself (SQLite's `wal_autocheckpoint`), the commit that triggers it also pays for
//! copying pages into the main file and fsyncing that. Both land on the order acknowledgements
//! queued behind that commit. So the writer never checkpoints (`wal_autocheckpoint = 0`) and this
//! thread does, from its own connection, every [`CHECKPOINT_EVERY`]: a `PASSIVE` checkpoint never
//! blocks the writer. What it cannot do under a steady load is let the WAL start over: SQLite only
//! rewinds the WAL when a write begins while every frame is already copied, and new frames keep
//! arriving while a checkpoint runs. So when the WAL has grown past [`REWIND_AFTER_FRAMES`], the
//! writer, the next time its queue is empty, runs one `PASSIVE` checkpoint itself (little is left to
//! copy by then) and its next transaction overwrites the WAL from its start instead of growing it.
//!
//! With nothing committed since its last checkpoint the thread has nothing to fold, so it parks
//! until the writer's next commit ([`Checkpointer::committed`]) instead of waking four times a
//! second on an idle daemon.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::error::StoreError;

/// How often the WAL is folded back into the database.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Frames in the WAL (about 4 KiB each) beyond which the writer rewinds it when idle.
pub(super) const REWIND_AFTER_FRAMES: u64 = 1024;

/// The checkpointing thread; stops (and joins) when dropped.
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the writer and the checkpointing thread share.
struct Shared {
    stop: AtomicBool,
    /// Frames in the WAL at the last checkpoint (the size the next rewind gets rid of).
    frames: AtomicU64,
    /// A commit happened since the thread last looked (true at start: a WAL left by an earlier run
    /// is folded too).
    dirty: AtomicBool,
    /// The thread is parked (or about to): the next commit unparks it.
    parked: AtomicBool,
}

impl Checkpointer {
    pub(super) fn start(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| StoreError::Open { path: path.to_path_buf(), message: e.to_string() })?;
        conn.busy_timeout(busy_timeout).map_err(StoreError::sqlite("setting the checkpointer's busy timeout"))?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            frames: AtomicU64::new(0),
            dirty: AtomicBool::new(true),
            parked: AtomicBool::new(false),
        });
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn({
                let shared = Arc::clone(&shared);
                let path = path.to_path_buf();
                move || run(conn, &path, &shared)
            })
            .map_err(|e| StoreError::WriterStart { message: format!("cannot start the checkpoint thread: {e}") })?;
        Ok(Self { shared, thread: Some(thread) })
    }

    /// Called by the writer after every commit: there is something to fold again. Costs an atomic
    /// store, plus a wake-up only when the thread had parked (the first commit after a quiet spell).
    pub(super) fn committed(&self) {
        self.shared.dirty.store(true, Ordering::SeqCst);
        if self.shared.parked.swap(false, Ordering::SeqCst)
            && let Some(thread) = &self.thread
        {
            thread.thread().unpark();
        }
    }

    /// Called by the writer when its queue is empty: rewinds the WAL if it has grown (see above).
    pub(super) fn rewind_if_grown(&self, writer: &Connection) {
        if self.shared.frames.load(Ordering::Relaxed) < REWIND_AFTER_FRAMES {
            return;
        }
        match passive_checkpoint(writer) {
            Ok(frames) => self.shared.frames.store(frames, Ordering::Relaxed),
            Err(e) => tracing::debug!(error = %e, "writer-side checkpoint skipped"),
        }
    }
}

/// One `PASSIVE` checkpoint; returns the frames in the WAL.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<u64> {
    passive_checkpoint_counts(conn).map(|(frames, _)| frames)
}

/// One `PASSIVE` checkpoint; returns the frames in the WAL and how many of them are now copied
/// into the database (fewer while a reader still needs the older pages).
fn passive_checkpoint_counts(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?)))
        .map(|(frames, copied)| (u64::try_from(frames).unwrap_or(0), u64::try_from(copied).unwrap_or(0)))
}

fn run(conn: Connection, path: &Path, shared: &Shared) {
    let mut failures = 0u32;
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(CHECKPOINT_EVERY);
        if !shared.dirty.swap(false, Ordering::SeqCst) {
            // Announce the park first, then look again: a commit that slipped in between either
            // sees `parked` and unparks us, or is seen here.
            shared.parked.store(true, Ordering::SeqCst);
            if !shared.dirty.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
                std::thread::park();
            }
            shared.parked.store(false, Ordering::SeqCst);
            continue;
        }
        match passive_checkpoint_counts(&conn) {
            Ok((in_wal, copied)) => {
                shared.frames.store(in_wal, Ordering::Relaxed);
                failures = 0;
                if copied < in_wal {
                    // A reader held some frames back: try again next time round, commits or not.
                    shared.dirty.store(true, Ordering::SeqCst);
                }
            }
            Err(e) => {
                shared.dirty.store(true, Ordering::SeqCst);
                failures += 1;
                // A failure here costs only WAL growth; the writer's commits stay durable.
                if super::worth_reporting(failures) {
                    tracing::warn!(path = %path.display(), error = %e, failures, "WAL checkpoint failed; retrying");
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn the_wal_is_folded_into_the_database_without_the_writer() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("t.db");
        let writer = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        writer
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t (x BLOB);")
            .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2000 {
            writer.execute("INSERT INTO t VALUES (randomblob(1000))", []).unwrap_or_else(|e| panic!("{e}"));
        }
        let db_size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = db_size();
        let checkpointer = Checkpointer::start(&path, Duration::from_secs(1)).unwrap_or_else(|e| panic!("{e}"));
        let deadline = crate::clock::monotonic() + Duration::from_secs(10);
        let done = || db_size() > before + 1_000_000 && checkpointer.shared.frames.load(Ordering::Relaxed) > 0;
        while !done() && crate::clock::monotonic() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(db_size() > before + 1_000_000, "the pages reached the database file: {before} → {}", db_size());
        assert!(checkpointer.shared.frames.load(Ordering::Relaxed) > 0, "the WAL's size is known to the writer");
        drop(checkpointer);
    }
}
