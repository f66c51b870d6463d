//! The report's reads beyond the trade history: rejections by reason, trading-state changes and
//! the whale trade each entry copied (for copy slippage). One read transaction, read-only.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::clock::Timestamp;
use crate::store::error::StoreError;
use crate::store::records::TradingStateChange;

use super::read::query;

/// Most trading-state changes one report lists (a store holds a handful a day).
pub const MAX_STATE_CHANGES: i64 = 10_000;

/// What the report reads besides the trades, within `[since, until)` (milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportRows {
    /// Rejected whale trades counted by reason code.
    pub rejections: Vec<(String, u64)>,
    pub state_changes: Vec<TradingStateChange>,
    /// Position id → the dedupe key of the whale trade its entry copied
    /// (`tx:asset:side:size:price:ts_ms`).
    pub entry_whale_keys: HashMap<String, String>,
}

pub(super) fn report_rows(conn: &Connection, since: Timestamp, until: Timestamp) -> Result<ReportRows, StoreError> {
    let snapshot = conn.unchecked_transaction().map_err(StoreError::sqlite("starting a report read"))?;
    let rejections = query(
        conn,
        "SELECT reason_code, COUNT(*) FROM decision_audit
         WHERE decision = 'rejected' AND decided_at >= ?1 AND decided_at < ?2
         GROUP BY reason_code ORDER BY COUNT(*) DESC, reason_code",
        [since.millis(), until.millis()],
        |row| {
            let reason: String = row.get(0).map_err(StoreError::sqlite("reading a column"))?;
            let count: i64 = row.get(1).map_err(StoreError::sqlite("reading a column"))?;
            Ok((reason, u64::try_from(count).unwrap_or(0)))
        },
    )?;
    let state_changes = query(
        conn,
        "SELECT from_state, to_state, reason, detail, changed_at FROM trading_state_changes
         WHERE changed_at >= ?1 AND changed_at < ?2 ORDER BY changed_at, id LIMIT ?3",
        [since.millis(), until.millis(), MAX_STATE_CHANGES],
        |row| {
            let text = |i| row.get::<_, String>(i).map_err(StoreError::sqlite("reading a column"));
            Ok(TradingStateChange {
                from_state: text(0)?,
                to_state: text(1)?,
                reason: text(2)?,
                detail: row.get(3).map_err(StoreError::sqlite("reading a column"))?,
                changed_at: Timestamp(row.get(4).map_err(StoreError::sqlite("reading a column"))?),
            })
        },
    )?;
    // The first entry order of a position names the whale trade it copied.
    let keys = query(
        conn,
        "SELECT position_id, whale_trade_key FROM orders
         WHERE kind = 'entry' AND position_id IS NOT NULL AND whale_trade_key IS NOT NULL
         ORDER BY created_at DESC, client_order_id DESC",
        [],
        |row| {
            let position: String = row.get(0).map_err(StoreError::sqlite("reading a column"))?;
            let key: String = row.get(1).map_err(StoreError::sqlite("reading a column"))?;
            Ok((position, key))
        },
    )?;
    snapshot.commit().map_err(StoreError::sqlite("ending a report read"))?;
    Ok(ReportRows { rejections, state_changes, entry_whale_keys: keys.into_iter().collect() })
}
