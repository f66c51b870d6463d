//! The SQLite backend of [`Store`].
//!
//! ## Connections and pragmas
//! * **Writer** ([`SqliteStore::open`]), the only connection that writes:
//!   `journal_mode=WAL` (readers such as `whale-trader status` never block the writer, and a commit is
//!   one sequential append), `synchronous=FULL` for *every* commit (the WAL is fsynced at each commit,
//!   so order intents, fills and state changes survive power loss, not only a crash; group commit makes
//!   that one fsync per batch, not per event, and high-rate state is coalesced before it gets here),
//!   `foreign_keys=ON` (a fill must name a known order), `busy_timeout` from the config,
//!   `temp_store=MEMORY`, `wal_autocheckpoint=0` (a thread of its own checkpoints every 250 ms from
//!   a second connection, so that no commit pays for a checkpoint and the WAL is overwritten in place
//!   rather than grown: see `checkpointer.rs`) and `journal_size_limit` = 64 MiB. With
//!   `[store] disk_keep_warm_micros` set (off by default), a third thread keeps the disk awake while
//!   order intents are being written, so that an order's fsync does not pay for waking an idle
//!   device: see `disk_warmer.rs`.
//! * **Reader** ([`SqliteStore::open_read_only`]), for offline status: opened read-only with
//!   `query_only=ON` and the same busy timeout; it never creates a file.
//!
//! ## Opening safely
//! A missing file is created, but never in place: a fresh database is built and migrated under a
//! temporary name, synced, and renamed into place, so the real path only ever holds a complete
//! database. An existing file must start with the SQLite header and pass `PRAGMA quick_check` before
//! anything is written to it; otherwise opening fails with [`StoreError::Corrupt`] and the file is not
//! touched. The daemon therefore never starts empty over a damaged store. `store_meta` records the
//! mode (`mode`) and the feed source (`feed_source`) a file was made for; a file of another mode or
//! source is refused ([`StoreError::ModeMismatch`], [`StoreError::SourceMismatch`]), so the demo's
//! state never becomes a real run's.

mod checkpointer;
mod disk_warmer;
mod migrations;
mod read;
mod report_read;
mod write;

pub use report_read::ReportRows;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use migrations::{MIGRATIONS, Migration, latest_version};

use super::backend::{RecoveredState, StatusReport, Store};
use super::command::StoreCommand;
use super::config::StoreConfig;
use super::error::StoreError;
use crate::config::{FeedSource, Mode};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
const HEADER_LEN: usize = 100;
const STATEMENT_CACHE: usize = 64;
const MODE_KEY: &str = "mode";
/// The feed (`replay`, `polymarket`) whose state the file holds, beside the mode in `store_meta`.
const SOURCE_KEY: &str = "feed_source";
/// The writer never checkpoints: a thread of its own does, off the commit path (see `checkpointer`).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 0;
/// After a checkpoint the WAL file is cut back to this size, so disk use stays bounded.
const WAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// A whale-trader database in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
    /// Folds the WAL into the database in the background (writers only).
    checkpointer: Option<checkpointer::Checkpointer>,
    /// Keeps the disk awake between commits while orders flow (writers only, when configured).
    disk_warmer: Option<disk_warmer::DiskWarmer>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).field("read_only", &self.read_only).finish()
    }
}

impl SqliteStore {
    /// Opens the database of `mode` and `source` named by `config` for writing (see
    /// [`StoreConfig::path_for`]).
    pub fn open_for(config: &StoreConfig, mode: Mode, source: FeedSource) -> Result<Self, StoreError> {
        Ok(Self::open(&config.path_for(mode, source), mode.as_str(), source.as_str(), config.busy_timeout())?
            .keep_disk_warm(config.disk_keep_warm_interval()))
    }

    /// Opens `path` for writing, creating it (and its directory) when missing. Checks the file,
    /// applies pending migrations, and refuses a file that belongs to another mode or feed source.
    pub fn open(path: &Path, mode: &str, source: &str, busy_timeout: Duration) -> Result<Self, StoreError> {
        match fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                return Err(corrupt(path, "it is not a regular file"));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_fresh(path, mode, source)?,
            Err(e) => return Err(io_error(path, "reading its metadata", &e)),
        }
        check_header(path)?;
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| StoreError::Open { path: path.to_path_buf(), message: e.to_string() })?;
        conn.busy_timeout(busy_timeout).map_err(StoreError::sqlite("setting the busy timeout"))?;
        quick_check(&conn, path)?;
        configure_writer(&conn)?;
        migrations::migrate(&conn, path)?;
        stamp(&conn, path, mode, source)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpointer = checkpointer::Checkpointer::start(path, busy_timeout)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            read_only: false,
            checkpointer: Some(checkpointer),
            disk_warmer: None,
        })
    }

    /// Keeps the disk's I/O path awake with one direct 4 KiB read per `interval` for a second after
    /// each commit that wrote an order ahead of its sending, so that the next order intent's fsync
    /// does not pay for waking an idle device (see `disk_warmer`). `None` leaves it off. Does nothing on a read-only store; where the file system
    /// cannot read with `O_DIRECT`, logs that and carries on without it.
    pub fn keep_disk_warm(mut self, interval: Option<Duration>) -> Self {
        if let Some(interval) = interval
            && !self.read_only
        {
            self.disk_warmer = disk_warmer::DiskWarmer::start(&self.path, interval);
        }
        self
    }

    /// Opens the database of `mode` and `source` named by `config` for reading only
    /// (`whale-trader status`).
    pub fn open_read_only_for(config: &StoreConfig, mode: Mode, source: FeedSource) -> Result<Self, StoreError> {
        Self::open_read_only(&config.path_for(mode, source), config.busy_timeout())
    }

    /// Opens an existing database for reading only (status, reports); never creates or migrates it.
    pub fn open_read_only(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        match fs::metadata(path) {
            Ok(meta) if !meta.is_file() => return Err(corrupt(path, "it is not a regular file")),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { path: path.to_path_buf() });
            }
            Err(e) => return Err(io_error(path, "reading its metadata", &e)),
        }
        check_header(path)?;
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| StoreError::Open { path: path.to_path_buf(), message: e.to_string() })?;
        conn.busy_timeout(busy_timeout).map_err(StoreError::sqlite("setting the busy timeout"))?;
        conn.pragma_update(None, "query_only", true).map_err(StoreError::sqlite("setting query_only"))?;
        quick_check(&conn, path)?;
        let version: i64 = conn
            .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))
            .map_err(|e| corrupt(path, &format!("it has no readable schema_version table ({e})")))?;
        if version > latest_version() {
            return Err(StoreError::SchemaTooNew {
                path: path.to_path_buf(),
                found: version,
                supported: latest_version(),
            });
        }
        Ok(Self { conn, path: path.to_path_buf(), read_only: true, checkpointer: None, disk_warmer: None })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))
            .map_err(StoreError::sqlite("reading the schema version"))
    }

    /// The stored silences that may still be in force (see `read::silences`); works on a
    /// read-only store.
    pub fn silences(&self) -> Result<Vec<crate::alerts::Silence>, StoreError> {
        read::silences(&self.conn)
    }

    /// The plan decisions recorded after the `after`-th, oldest first, at most `limit` of the
    /// latest, with the number of the last one (`after` when there is none). Batch summaries count
    /// in arrival order, whatever clock stamped the decisions; works on a read-only store.
    pub fn plan_decisions_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<crate::plans::PlanDecision>, i64), StoreError> {
        read::plan_decisions_after(&self.conn, after, limit)
    }

    /// Up to `limit` plan decisions recorded after the `after`-th, oldest first, with the number of
    /// the last one (`after` when there is none): the whole history, page by page.
    pub fn plan_decisions_page(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<crate::plans::PlanDecision>, i64), StoreError> {
        read::plan_decisions_page(&self.conn, after, limit)
    }

    /// Every plan close, oldest first (signal analytics; works on a read-only store).
    pub fn plan_closes(&self) -> Result<Vec<crate::plans::PlanClose>, StoreError> {
        read::plan_closes(&self.conn)
    }

    /// Every on-chain redemption, oldest first (status reads; works on a read-only store).
    pub fn redemptions(&self) -> Result<Vec<crate::store::RedemptionRecord>, StoreError> {
        read::all_redemptions(&self.conn)
    }

    /// Every trade, open and closed, with its fees (history and profit reads; works on a read-only
    /// store, with the daemon running or stopped).
    pub fn trades(&self) -> Result<Vec<crate::store::TradeRecord>, StoreError> {
        read::trades(&self.conn)
    }

    /// Rejections by reason, trading-state changes and each entry's copied whale trade within
    /// `[since, until)`, for the report (works on a read-only store).
    pub fn report_rows(
        &self,
        since: crate::clock::Timestamp,
        until: crate::clock::Timestamp,
    ) -> Result<ReportRows, StoreError> {
        report_read::report_rows(&self.conn, since, until)
    }
}

impl Store for SqliteStore {
    fn write_batch(&mut self, commands: &[&StoreCommand]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        let outcomes = write::write_batch(&self.conn, commands)?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
        if let Some(warmer) = &self.disk_warmer
            && commands.iter().any(|command| command.writes_order_ahead())
        {
            warmer.order_committed();
        }
        Ok(outcomes)
    }

    fn load_recovery(&mut self) -> Result<RecoveredState, StoreError> {
        read::load_recovery(&self.conn)
    }

    fn status(&mut self) -> Result<StatusReport, StoreError> {
        read::status(&self.conn)
    }

    fn when_idle(&mut self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.rewind_if_grown(&self.conn);
        }
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        if self.read_only {
            return Ok(());
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(StoreError::sqlite("checkpointing the write-ahead log"))
    }
}

fn corrupt(path: &Path, problem: &str) -> StoreError {
    StoreError::Corrupt { path: path.to_path_buf(), problem: problem.to_string() }
}

fn io_error(path: &Path, action: &'static str, error: &std::io::Error) -> StoreError {
    StoreError::Io { path: path.to_path_buf(), action, message: error.to_string() }
}

/// Reads the first 100 bytes ourselves: SQLite would happily treat an empty or short file as a new
/// database, which is exactly the silent fresh start we must never make.
fn check_header(path: &Path) -> Result<(), StoreError> {
    let mut file = fs::File::open(path).map_err(|e| io_error(path, "opening it to check its header", &e))?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    (&mut file)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut header)
        .map_err(|e| io_error(path, "reading its header", &e))?;
    if header.len() < HEADER_LEN {
        return Err(corrupt(
            path,
            &format!("the file is {} bytes long, shorter than the 100-byte SQLite header (truncated?)", header.len()),
        ));
    }
    if !header.starts_with(SQLITE_MAGIC) {
        return Err(corrupt(path, "the file does not start with the SQLite header \"SQLite format 3\""));
    }
    Ok(())
}

/// `PRAGMA quick_check`: page structure and record formats, without the cost of full index checks.
fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let mut problems = Vec::new();
    let outcome = conn.pragma_query(None, "quick_check", |row| {
        let line: String = row.get(0)?;
        if line != "ok" && problems.len() < 5 {
            problems.push(line);
        }
        Ok(())
    });
    match outcome {
        Err(e) => Err(corrupt(path, &format!("SQLite cannot read it: {e}"))),
        Ok(()) if !problems.is_empty() => Err(corrupt(path, &format!("quick_check found: {}", problems.join("; ")))),
        Ok(()) => Ok(()),
    }
}

fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    let journal: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(StoreError::sqlite("switching to WAL"))?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite { context: "switching to WAL", message: format!("journal_mode is {journal}") });
    }
    conn.pragma_update(None, "synchronous", "FULL").map_err(StoreError::sqlite("setting synchronous=FULL"))?;
    conn.pragma_update(None, "foreign_keys", true).map_err(StoreError::sqlite("enabling foreign keys"))?;
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(StoreError::sqlite("setting temp_store"))?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .map_err(StoreError::sqlite("setting wal_autocheckpoint"))?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)
        .map_err(StoreError::sqlite("setting journal_size_limit"))?;
    Ok(())
}

/// Records the mode and the feed source in a new file, and refuses a file made for another mode or
/// another feed source. A file stamped with a mode only (made before sources were told apart) takes
/// the source it is first opened with.
fn stamp(conn: &Connection, path: &Path, mode: &str, source: &str) -> Result<(), StoreError> {
    let found = stamp_key(conn, MODE_KEY, mode)?;
    if found != mode {
        return Err(StoreError::ModeMismatch { path: path.to_path_buf(), found, expected: mode.to_string() });
    }
    let found = stamp_key(conn, SOURCE_KEY, source)?;
    if found != source {
        return Err(StoreError::SourceMismatch { path: path.to_path_buf(), found, expected: source.to_string() });
    }
    Ok(())
}

/// Writes `key` = `value` into `store_meta` unless the key is there; returns the value it holds.
fn stamp_key(conn: &Connection, key: &str, value: &str) -> Result<String, StoreError> {
    conn.execute("INSERT OR IGNORE INTO store_meta (key, value) VALUES (?1, ?2)", (key, value))
        .map_err(StoreError::sqlite("recording the store's mode and feed source"))?;
    conn.query_row("SELECT value FROM store_meta WHERE key = ?1", [key], |r| r.get(0))
        .map_err(StoreError::sqlite("reading the store's mode and feed source"))
}

/// Builds a complete, migrated database under a temporary name and renames it into place, so a crash
/// during creation leaves either no database or a whole one, never an empty file that looks damaged.
fn create_fresh(path: &Path, mode: &str, source: &str) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, "creating the store's directory", &e))?;
    }
    let staging = staging_path(path);
    remove_leftovers(&staging)?;
    let conn = Connection::open_with_flags(
        &staging,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Open { path: staging.clone(), message: e.to_string() })?;
    configure_writer(&conn)?;
    migrations::migrate(&conn, &staging)?;
    stamp(&conn, &staging, mode, source)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(StoreError::sqlite("checkpointing the new database"))?;
    conn.close()
        .map_err(|(_, e)| StoreError::Sqlite { context: "closing the new database", message: e.to_string() })?;
    fs::File::open(&staging)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(&staging, "syncing the new database", &e))?;
    fs::rename(&staging, path).map_err(|e| io_error(path, "moving the new database into place", &e))?;
    sync_parent_dir(path)?;
    remove_leftovers(&staging)
}

fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".creating");
    path.with_file_name(name)
}

/// `path` with `suffix` appended to its last component, the way SQLite names a database's companion
/// files (`x.db` → `x.db-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    name.into()
}

/// A background thread's repeated failure is logged the 1st, 2nd, 4th, 8th… time: visible at once,
/// never a flood.
fn worth_reporting(failures: u32) -> bool {
    failures.is_power_of_two()
}

/// Deletes a half-built staging database and its WAL files from an interrupted earlier start.
fn remove_leftovers(staging: &Path) -> Result<(), StoreError> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = with_suffix(staging, suffix);
        match fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&file, "removing a leftover staging file", &e)),
        }
    }
    Ok(())
}

/// Makes the rename itself durable.
fn sync_parent_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, "syncing the store's directory", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &Path, mode: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(path, mode, "replay", Duration::from_millis(100))
    }

    fn order_intent(id: &str) -> StoreCommand {
        use crate::clock::Timestamp;
        use crate::store::{OrderKind, OrderRecord, OrderStatus};
        StoreCommand::InsertOrder(OrderRecord {
            client_order_id: id.into(),
            venue_order_id: None,
            position_id: None,
            whale_trade_key: None,
            token_id: "token-7".into(),
            side: crate::domain::Side::Buy,
            limit_price: rust_decimal_macros::dec!(0.43),
            size: rust_decimal_macros::dec!(10),
            kind: OrderKind::Entry,
            status: OrderStatus::Pending,
            created_at: Timestamp(1),
            updated_at: Timestamp(1),
        })
    }

    /// What an idle daemon commits on its own: risk snapshots, audit rows, alerts, names, barriers.
    fn routine_commands(i: i64) -> Vec<StoreCommand> {
        use crate::clock::Timestamp;
        use crate::store::{AlertRecord, DecisionRecord, RiskStateRecord};
        let risk = StoreCommand::SaveRiskState(RiskStateRecord {
            state_json: "{}".into(),
            trading_state: "active".into(),
            reason: None,
            peak_equity: rust_decimal_macros::dec!(100),
            start_of_day_equity: rust_decimal_macros::dec!(100),
            daily_pnl: rust_decimal::Decimal::new(i, 2),
            breaker_trips: 0,
            loss_streak: 0,
            updated_at: Timestamp(i),
        });
        let decision = StoreCommand::RecordDecision(DecisionRecord {
            whale_trade_key: format!("0xabc:{i}"),
            wallet: "0xwhale".into(),
            market_id: "0xcondition".into(),
            token_id: "token-7".into(),
            decision: crate::domain::WhaleVerdict::Rejected,
            reason_code: "max_total_exposure".into(),
            detail: None,
            decided_at: Timestamp(i),
        });
        let alert = StoreCommand::EnqueueAlert(AlertRecord {
            alert_id: format!("alert-{i}"),
            priority: "warning".into(),
            title: "disk nearly full".into(),
            body_json: "{}".into(),
            created_at: Timestamp(i),
            delivered_at: None,
        });
        vec![risk.clone(), decision, alert, StoreCommand::Atomic(vec![]), StoreCommand::Atomic(vec![risk])]
    }

    #[test]
    fn only_an_order_intent_arms_the_keep_warm_and_routine_commits_leave_it_parked() {
        let dir = disk_warmer::direct_io_tempdir();
        let path = dir.path().join("wt.paper.db");
        let mut store = open(&path, "paper").unwrap().keep_disk_warm(Some(Duration::from_millis(1)));
        assert!(store.disk_warmer.is_some(), "the warmer runs where O_DIRECT works");
        let warmer = |store: &SqliteStore| store.disk_warmer.as_ref().map(|w| (w.armed(), w.reads()));

        // 200 ms of routine commits, every 5 ms: far more often than an idle daemon writes them.
        for i in 0..40 {
            let commands = routine_commands(i);
            let refs: Vec<&StoreCommand> = commands.iter().collect();
            assert!(store.write_batch(&refs).unwrap().iter().all(Result::is_ok));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(warmer(&store), Some((false, 0)), "routine commits must neither arm it nor make it read");

        // An order intent, inside the engine's atomic group with its snapshot, arms it.
        let group = StoreCommand::Atomic(vec![order_intent("order#1"), routine_commands(99).remove(0)]);
        assert!(store.write_batch(&[&group]).unwrap().iter().all(Result::is_ok));
        assert_eq!(warmer(&store).map(|(armed, _)| armed), Some(true));
        disk_warmer::wait_until("an order intent starts the keep-warm reads", || {
            warmer(&store).is_some_and(|(_, reads)| reads > 0)
        });
    }

    #[test]
    fn a_store_without_keep_warm_or_read_only_never_warms() {
        let dir = disk_warmer::direct_io_tempdir();
        let off = open(&dir.path().join("off.paper.db"), "paper").unwrap().keep_disk_warm(None);
        assert!(off.disk_warmer.is_none());
        let path = dir.path().join("wt.paper.db");
        drop(open(&path, "paper").unwrap());
        let read_only = SqliteStore::open_read_only(&path, Duration::from_millis(100))
            .unwrap()
            .keep_disk_warm(Some(Duration::from_millis(1)));
        assert!(read_only.disk_warmer.is_none());
    }

    #[test]
    fn market_names_are_cached_replaced_and_read_back_and_an_unreadable_row_is_skipped() {
        use crate::clock::Timestamp;
        use crate::market::{MarketName, NameSource, OutcomeName};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("names.db");
        let mut store = open(&path, "paper").unwrap();
        let name = |question: &str, source, at| MarketName {
            condition_id: "0xabc".into(),
            question: question.into(),
            slug: "abc".into(),
            end_date: Some("2026-03-22T07:55:00Z".into()),
            outcomes: vec![OutcomeName { token_id: "11".into(), outcome: "Yes".into() }],
            source,
            fetched_at: Timestamp(at),
        };
        let first = StoreCommand::UpsertMarketName(name("from a trade", NameSource::Trade, 1));
        let second = StoreCommand::UpsertMarketName(name("Will it rain?", NameSource::Gamma, 2));
        let results = store.write_batch(&[&first, &second]).unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(store.load_recovery().unwrap().market_names, vec![name("Will it rain?", NameSource::Gamma, 2)]);
        assert_eq!(store.status().unwrap().market_names.len(), 1);
        store
            .conn
            .execute("INSERT INTO market_names VALUES ('0xbad', 'q', '', NULL, 'not json', 'gamma', 3)", [])
            .unwrap();
        assert_eq!(store.load_recovery().unwrap().market_names.len(), 1, "the unreadable row is a cache miss");
    }

    #[test]
    fn silences_are_stored_their_hits_only_grow_an_ended_one_stays_ended_and_ids_keep_counting() {
        use crate::alerts::{Matcher, SilenceBook};
        use crate::clock::Timestamp;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silences.db");
        let mut store = open(&path, "paper").unwrap();
        let mut book = SilenceBook::default();
        let whale = || vec![Matcher::parse("whale=Alice").unwrap()];
        let t0 = Timestamp(1_000);
        let first = book.add(whale(), 3_600_000, "noisy", "cli", t0).unwrap();
        let mut second = book.add(whale(), 3_600_000, "", "api", t0).unwrap();
        let write = |store: &mut SqliteStore, s: &crate::alerts::Silence| {
            let command = StoreCommand::UpsertSilence(s.clone());
            assert!(store.write_batch(&[&command]).unwrap().iter().all(Result::is_ok));
        };
        write(&mut store, &first);
        write(&mut store, &second);
        second.hits = 3;
        write(&mut store, &second);
        let ended = book.expire("S0002", "cli", t0.plus_millis(5)).unwrap();
        write(&mut store, &ended);
        // A late hit count (written before the end was known) neither lowers hits nor revives it.
        second.hits = 2;
        write(&mut store, &second);
        let read_only = SqliteStore::open_read_only(&path, Duration::from_millis(100)).unwrap();
        let stored = read_only.silences().unwrap();
        assert_eq!(stored.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["S0001", "S0002"], "{stored:?}");
        assert_eq!(stored[0], first);
        assert_eq!(
            (stored[1].hits, stored[1].expired_at, stored[1].expired_by.as_deref()),
            (3, Some(t0.plus_millis(5)), Some("cli"))
        );
        let mut restored = SilenceBook::from_stored(stored, t0.plus_millis(10));
        assert_eq!(restored.active(t0.plus_millis(10)), vec![first]);
        assert_eq!(restored.add(whale(), 60_000, "", "cli", t0).unwrap().id, "S0003");
        store.conn.execute("UPDATE silences SET matchers_json = 'not json' WHERE id = 'S0001'", []).unwrap();
        assert_eq!(store.silences().unwrap().len(), 1, "an unreadable silence is skipped");
    }

    #[test]
    fn a_missing_file_is_created_with_the_whole_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/wt.db");
        let store = open(&path, "paper").unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        assert!(!staging_path(&path).exists());
        let journal: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(journal, "wal");
        let sync: i64 = store.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "FULL");
        let fk: i64 = store.conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn a_file_of_another_mode_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wt.db");
        drop(open(&path, "paper").unwrap());
        let err = open(&path, "live").unwrap_err();
        assert!(
            matches!(err, StoreError::ModeMismatch { ref found, ref expected, .. } if found == "paper" && expected == "live")
        );
    }

    #[test]
    fn a_file_of_another_feed_source_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wt.db");
        drop(open(&path, "paper").unwrap());
        let err = SqliteStore::open(&path, "paper", "polymarket", Duration::from_millis(100)).unwrap_err();
        assert_eq!(
            err,
            StoreError::SourceMismatch { path: path.clone(), found: "replay".into(), expected: "polymarket".into() }
        );
        let text = err.to_string();
        assert!(text.contains("replay") && text.contains("polymarket"), "{text}");
        // The refusal changed nothing: the file still opens for its own feed.
        drop(open(&path, "paper").unwrap());
    }

    #[test]
    fn a_file_stamped_with_its_mode_only_takes_the_source_it_is_first_opened_with() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wt.db");
        let store = open(&path, "paper").unwrap();
        store.conn.execute("DELETE FROM store_meta WHERE key = ?1", [SOURCE_KEY]).unwrap();
        drop(store);
        drop(SqliteStore::open(&path, "paper", "polymarket", Duration::from_millis(100)).unwrap());
        assert!(matches!(open(&path, "paper"), Err(StoreError::SourceMismatch { .. })));
    }

    #[test]
    fn an_empty_file_is_corrupt_not_new() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wt.db");
        fs::write(&path, b"").unwrap();
        assert!(matches!(open(&path, "paper"), Err(StoreError::Corrupt { .. })));
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn read_only_open_never_creates_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.db");
        let err = SqliteStore::open_read_only(&path, Duration::from_millis(10)).unwrap_err();
        assert_eq!(err, StoreError::Missing { path: path.clone() });
        assert!(!path.exists());
    }

    #[test]
    fn leftovers_of_an_interrupted_creation_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wt.db");
        fs::write(staging_path(&path), b"half-built").unwrap();
        let store = open(&path, "paper").unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        assert!(!staging_path(&path).exists());
    }
}
