//! The history's one I/O: reading the trade records from the store, read-only, whether the daemon
//! runs (it reads the file it writes, through SQLite's write-ahead log) or not.

use std::path::Path;
use std::time::Duration;

use crate::store::{SqliteStore, StoreError};

use super::{Context, HistoryQuery, answer};

/// Reads every trade from the store at `path` and answers `query` (blocking: run it off the async
/// threads).
pub fn answer_from_store(
    path: &Path,
    busy_timeout: Duration,
    query: &HistoryQuery,
    cx: &Context<'_>,
) -> Result<serde_json::Value, StoreError> {
    let records = SqliteStore::open_read_only(path, busy_timeout)?.trades()?;
    Ok(answer(query, &records, cx))
}
