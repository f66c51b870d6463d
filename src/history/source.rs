//! The history's one I/O: reading the trade records from the store, read-only, whether the daemon
//! runs (it reads the file it writes, through SQLite's write-ahead log) or not.

use std::path::Path;
use std::time::Duration;

use crate::store::{SqliteStore, Store, StoreError};

use super::{Context, HistoryQuery, answer};

/// Reads every trade from the store at `path` and answers `query` (blocking: run it off the async
/// threads).
pub fn answer_from_store(
    path: &Path,
    busy_timeout: Duration,
    query: &HistoryQuery,
    cx: &Context<'_>,
) -> Result<serde_json::Value, StoreError> {
    let mut store = SqliteStore::open_read_only(path, busy_timeout)?;
    let records = store.trades()?;
    // Market titles from the store's cache of names, beside the labels the caller brought.
    let mut names = cx.names.clone();
    for market in store.status()?.market_names {
        names.market_titles.entry(market.condition_id.to_ascii_lowercase()).or_insert(market.question);
    }
    Ok(answer(query, &records, &Context { names: &names, ..*cx }))
}
