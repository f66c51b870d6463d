//! Recovery and status reads. Each read runs in one read transaction, so it sees one consistent
//! snapshot even while the writer commits.

use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, Params, Row};
use rust_decimal::Decimal;

use crate::alerts::Silence;
use crate::clock::Timestamp;
use crate::domain::{Side, WhaleVerdict};
use crate::market::{MarketName, NameSource, OutcomeName};
use crate::store::backend::{RecoveredOrder, RecoveredState, StatusReport, latest_trading_state};
use crate::store::error::StoreError;
use crate::store::records::{
    AlertRecord, EngineCheckpointRecord, FillRecord, OrderKind, OrderRecord, OrderStatus, PositionRecord,
    PositionStatus, RedemptionRecord, RedemptionStatus, RiskStateRecord, SeenWhaleTrade, TradeRecord,
    TradingStateChange, WhaleWatermark,
};

const POSITION_COLUMNS: &str = "position_id, whale_wallet, market_id, token_id, outcome, side, size, entry_price, \
     opened_at, status, high_water_price, exit_price, realised_pnl, closed_at, exit_reason";
const ORDER_COLUMNS: &str = "client_order_id, venue_order_id, position_id, whale_trade_key, token_id, side, \
     limit_price, size, kind, status, created_at, updated_at";
/// Pending, submitted, partially filled or unknown: the terms of the `orders_not_final` partial
/// index exactly, so that SQLite reads the index.
pub(super) const NOT_FINAL: &str = "status <> 'filled' AND status <> 'cancelled' AND status <> 'rejected'";

pub(super) fn load_recovery(conn: &Connection) -> Result<RecoveredState, StoreError> {
    let snapshot = conn.unchecked_transaction().map_err(StoreError::sqlite("starting a recovery read"))?;
    let orders: Vec<OrderRecord> = query(
        conn,
        &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {NOT_FINAL} ORDER BY created_at, client_order_id"),
        [],
        order_from_row,
    )?;
    let mut non_final_orders = Vec::with_capacity(orders.len());
    for order in orders {
        let fills = query(
            conn,
            "SELECT fill_id, client_order_id, price, size, fee, filled_at FROM fills
             WHERE client_order_id = ?1 ORDER BY filled_at, fill_id",
            [&order.client_order_id],
            fill_from_row,
        )?;
        non_final_orders.push(RecoveredOrder { order, fills });
    }
    let state = RecoveredState {
        open_positions: open_positions(conn)?,
        risk_state: risk_state(conn)?,
        engine_checkpoint: engine_checkpoint(conn)?,
        last_trading_state_change: last_trading_state_change(conn)?,
        watermarks: query(conn, "SELECT wallet, watermark FROM whale_watermarks ORDER BY wallet", [], |row| {
            Ok(WhaleWatermark { wallet: get(row, 0)?, watermark: Timestamp(get(row, 1)?) })
        })?,
        seen_trades: query(
            conn,
            "SELECT dedupe_key, wallet, traded_at, decision FROM seen_whale_trades ORDER BY traded_at, dedupe_key",
            [],
            |row| {
                Ok(SeenWhaleTrade {
                    dedupe_key: get(row, 0)?,
                    wallet: get(row, 1)?,
                    traded_at: Timestamp(get(row, 2)?),
                    decision: named(row, 3, "seen_whale_trades", "decision", WhaleVerdict::parse)?,
                })
            },
        )?,
        non_final_orders,
        undelivered_alerts: query(
            conn,
            "SELECT alert_id, priority, title, body_json, created_at, delivered_at FROM alert_outbox
             WHERE delivered_at IS NULL ORDER BY created_at, alert_id",
            [],
            |row| {
                Ok(AlertRecord {
                    alert_id: get(row, 0)?,
                    priority: get(row, 1)?,
                    title: get(row, 2)?,
                    body_json: get(row, 3)?,
                    created_at: Timestamp(get(row, 4)?),
                    delivered_at: get::<Option<i64>>(row, 5)?.map(Timestamp),
                })
            },
        )?,
        open_redemptions: open_redemptions(conn)?,
        market_names: market_names(conn)?,
    };
    snapshot.commit().map_err(StoreError::sqlite("ending a recovery read"))?;
    Ok(state)
}

/// Every market's cached names. A row that cannot be read is a cache miss, not a damaged store:
/// it is skipped (and logged), and the names are read again.
pub(crate) fn market_names(conn: &Connection) -> Result<Vec<MarketName>, StoreError> {
    let rows: Vec<Result<MarketName, String>> = query(
        conn,
        "SELECT condition_id, question, slug, end_date, outcomes_json, source, fetched_at FROM market_names
         ORDER BY condition_id",
        [],
        |row| {
            let condition_id: String = get(row, 0)?;
            let outcomes_json: String = get(row, 4)?;
            let source: String = get(row, 5)?;
            let outcomes = serde_json::from_str::<Vec<(String, String)>>(&outcomes_json)
                .map_err(|e| format!("{condition_id}: outcomes_json: {e}"));
            let source = NameSource::parse(&source).ok_or_else(|| format!("{condition_id}: source {source:?}"));
            let name = outcomes.and_then(|outcomes| {
                Ok(MarketName {
                    question: get(row, 1).map_err(|e| e.to_string())?,
                    slug: get(row, 2).map_err(|e| e.to_string())?,
                    end_date: get(row, 3).map_err(|e| e.to_string())?,
                    outcomes: outcomes
                        .into_iter()
                        .map(|(token_id, outcome)| OutcomeName { token_id, outcome })
                        .collect(),
                    source: source?,
                    fetched_at: Timestamp(get(row, 6).map_err(|e| e.to_string())?),
                    condition_id: condition_id.clone(),
                })
            });
            Ok(name)
        },
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            row.map_err(|e| tracing::warn!(error = %e, "a cached market name cannot be read; skipped")).ok()
        })
        .collect())
}

/// Silences not ended by hand (the caller drops those past their end), and the newest one
/// whatever its state, so that ids keep counting; oldest first. A row that cannot be read is
/// skipped and logged: a lost silence lets alerts through, it never hides them.
pub(crate) fn silences(conn: &Connection) -> Result<Vec<Silence>, StoreError> {
    let rows: Vec<Result<Silence, String>> = query(
        conn,
        "SELECT id, matchers_json, created_at, expires_at, created_by, reason, hits, expired_at, expired_by
         FROM silences
         WHERE expired_at IS NULL
            OR id = (SELECT id FROM silences ORDER BY CAST(substr(id, 2) AS INTEGER) DESC LIMIT 1)
         ORDER BY expires_at DESC LIMIT 1000",
        [],
        |row| {
            let id: String = get(row, 0)?;
            let matchers_json: String = get(row, 1)?;
            let matchers = serde_json::from_str(&matchers_json).map_err(|e| format!("{id}: matchers_json: {e}"));
            let hits: i64 = get(row, 6)?;
            Ok(matchers.map(|matchers| Silence {
                matchers,
                created_at: Timestamp(get(row, 2).unwrap_or_default()),
                expires_at: Timestamp(get(row, 3).unwrap_or_default()),
                created_by: get(row, 4).unwrap_or_default(),
                reason: get(row, 5).unwrap_or_default(),
                hits: u64::try_from(hits).unwrap_or(0),
                expired_at: get::<Option<i64>>(row, 7).ok().flatten().map(Timestamp),
                expired_by: get(row, 8).ok().flatten(),
                id: id.clone(),
            }))
        },
    )?;
    let mut silences: Vec<Silence> = rows
        .into_iter()
        .filter_map(|row| row.map_err(|e| tracing::warn!(error = %e, "a stored silence cannot be read; skipped")).ok())
        .collect();
    // Oldest first; `S10000` after `S9999`.
    silences.sort_by(|a, b| (a.created_at, a.id.len(), &a.id).cmp(&(b.created_at, b.id.len(), &b.id)));
    Ok(silences)
}

/// Redemptions a restart must finish, oldest first.
pub(crate) fn open_redemptions(conn: &Connection) -> Result<Vec<RedemptionRecord>, StoreError> {
    query(
        conn,
        "SELECT redemption_id, condition_id, token_id, outcome, shares, neg_risk, status, tx_hash, nonce, raw_tx,
                detail, created_at, updated_at
         FROM redemptions WHERE status IN ('pending', 'sent') ORDER BY created_at, redemption_id",
        [],
        redemption_from_row,
    )
}

/// Every redemption, oldest first (status reads and tests).
pub(crate) fn all_redemptions(conn: &Connection) -> Result<Vec<RedemptionRecord>, StoreError> {
    query(
        conn,
        "SELECT redemption_id, condition_id, token_id, outcome, shares, neg_risk, status, tx_hash, nonce, raw_tx,
                detail, created_at, updated_at
         FROM redemptions ORDER BY created_at, redemption_id",
        [],
        redemption_from_row,
    )
}

fn redemption_from_row(row: &Row<'_>) -> Result<RedemptionRecord, StoreError> {
    let nonce: Option<i64> = get(row, 8)?;
    Ok(RedemptionRecord {
        redemption_id: get(row, 0)?,
        condition_id: get(row, 1)?,
        token_id: get(row, 2)?,
        outcome: get(row, 3)?,
        shares: decimal(row, 4, "redemptions", "shares")?,
        neg_risk: get::<i64>(row, 5)? != 0,
        status: named(row, 6, "redemptions", "status", RedemptionStatus::parse)?,
        tx_hash: get(row, 7)?,
        nonce: nonce.and_then(|n| u64::try_from(n).ok()),
        raw_tx: get(row, 9)?,
        detail: get(row, 10)?,
        created_at: Timestamp(get(row, 11)?),
        updated_at: Timestamp(get(row, 12)?),
    })
}

pub(super) fn status(conn: &Connection) -> Result<StatusReport, StoreError> {
    let snapshot = conn.unchecked_transaction().map_err(StoreError::sqlite("starting a status read"))?;
    let open = open_positions(conn)?;
    let open_cost_basis = open.iter().map(|p| p.size * p.entry_price).sum();
    let realised: Vec<Decimal> = query(
        conn,
        "SELECT realised_pnl FROM positions WHERE status = 'closed' AND realised_pnl IS NOT NULL",
        [],
        |row| decimal(row, 0, "positions", "realised_pnl"),
    )?;
    let closed_positions: i64 = count(conn, "SELECT COUNT(*) FROM positions WHERE status = 'closed'")?;
    let risk = risk_state(conn)?;
    let change = last_trading_state_change(conn)?;
    let latest = latest_trading_state(risk.as_ref(), change.as_ref())
        .map(|(state, reason, since)| (state.to_string(), reason.map(str::to_string), since));
    let report = StatusReport {
        open_cost_basis,
        closed_positions: u64::try_from(closed_positions).unwrap_or(0),
        winning_positions: realised.iter().filter(|p| p.is_sign_positive() && !p.is_zero()).count() as u64,
        losing_positions: realised.iter().filter(|p| p.is_sign_negative() && !p.is_zero()).count() as u64,
        realised_pnl: realised.iter().sum(),
        trading_state: latest.as_ref().map(|l| l.0.clone()),
        trading_reason: latest.as_ref().and_then(|l| l.1.clone()),
        trading_state_since: latest.as_ref().map(|l| l.2),
        risk_state: risk,
        non_final_orders: u64::try_from(count(conn, &format!("SELECT COUNT(*) FROM orders WHERE {NOT_FINAL}"))?)
            .unwrap_or(0),
        undelivered_alerts: u64::try_from(count(conn, "SELECT COUNT(*) FROM alert_outbox WHERE delivered_at IS NULL")?)
            .unwrap_or(0),
        open_positions: open,
        market_names: market_names(conn)?,
        mode: meta(conn, super::MODE_KEY)?,
        feed_source: meta(conn, super::SOURCE_KEY)?,
    };
    snapshot.commit().map_err(StoreError::sqlite("ending a status read"))?;
    Ok(report)
}

/// Every trade the store holds, open and closed, each with the fees of the fills booked to it
/// (its entry and exit orders), in opening order.
pub(super) fn trades(conn: &Connection) -> Result<Vec<TradeRecord>, StoreError> {
    let snapshot = conn.unchecked_transaction().map_err(StoreError::sqlite("starting a trade history read"))?;
    let positions = query(
        conn,
        &format!("SELECT {POSITION_COLUMNS} FROM positions ORDER BY opened_at, position_id"),
        [],
        position_from_row,
    )?;
    // Fees are decimal text: summed here, exactly, never by SQLite's floating point.
    let fees: Vec<(String, Decimal)> = query(
        conn,
        "SELECT o.position_id, f.fee FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
         WHERE o.position_id IS NOT NULL",
        [],
        |row| Ok((get(row, 0)?, decimal(row, 1, "fills", "fee")?)),
    )?;
    snapshot.commit().map_err(StoreError::sqlite("ending a trade history read"))?;
    let mut by_position: std::collections::HashMap<String, Decimal> = std::collections::HashMap::new();
    for (position, fee) in fees {
        *by_position.entry(position).or_default() += fee;
    }
    Ok(positions
        .into_iter()
        .map(|position| {
            let fees = by_position.get(&position.position_id).copied().unwrap_or_default();
            TradeRecord { position, fees }
        })
        .collect())
}

fn open_positions(conn: &Connection) -> Result<Vec<PositionRecord>, StoreError> {
    query(
        conn,
        &format!("SELECT {POSITION_COLUMNS} FROM positions WHERE status = 'open' ORDER BY opened_at, position_id"),
        [],
        position_from_row,
    )
}

fn risk_state(conn: &Connection) -> Result<Option<RiskStateRecord>, StoreError> {
    let rows = query(
        conn,
        "SELECT state_json, trading_state, reason, peak_equity, start_of_day_equity, daily_pnl, breaker_trips,
                loss_streak, updated_at
         FROM risk_state WHERE id = 1",
        [],
        |row| {
            Ok(RiskStateRecord {
                state_json: get(row, 0)?,
                trading_state: get(row, 1)?,
                reason: get(row, 2)?,
                peak_equity: decimal(row, 3, "risk_state", "peak_equity")?,
                start_of_day_equity: decimal(row, 4, "risk_state", "start_of_day_equity")?,
                daily_pnl: decimal(row, 5, "risk_state", "daily_pnl")?,
                breaker_trips: get(row, 6)?,
                loss_streak: get(row, 7)?,
                updated_at: Timestamp(get(row, 8)?),
            })
        },
    )?;
    Ok(rows.into_iter().next())
}

fn engine_checkpoint(conn: &Connection) -> Result<Option<EngineCheckpointRecord>, StoreError> {
    let rows =
        query(conn, "SELECT source, cursor, state_json, updated_at FROM engine_checkpoint WHERE id = 1", [], |row| {
            let cursor: Option<i64> = get(row, 1)?;
            let cursor = match cursor.map(u64::try_from) {
                None => None,
                Some(Ok(cursor)) => Some(cursor),
                Some(Err(_)) => {
                    return Err(StoreError::BadStoredValue {
                        table: "engine_checkpoint",
                        column: "cursor",
                        value: cursor.map(|c| c.to_string()).unwrap_or_default(),
                        rule: "must not be negative",
                    });
                }
            };
            Ok(EngineCheckpointRecord {
                source: get(row, 0)?,
                cursor,
                state_json: get(row, 2)?,
                updated_at: Timestamp(get(row, 3)?),
            })
        })?;
    Ok(rows.into_iter().next())
}

fn last_trading_state_change(conn: &Connection) -> Result<Option<TradingStateChange>, StoreError> {
    let rows = query(
        conn,
        "SELECT from_state, to_state, reason, detail, changed_at FROM trading_state_changes
         ORDER BY changed_at DESC, id DESC LIMIT 1",
        [],
        |row| {
            Ok(TradingStateChange {
                from_state: get(row, 0)?,
                to_state: get(row, 1)?,
                reason: get(row, 2)?,
                detail: get(row, 3)?,
                changed_at: Timestamp(get(row, 4)?),
            })
        },
    )?;
    Ok(rows.into_iter().next())
}

fn position_from_row(row: &Row<'_>) -> Result<PositionRecord, StoreError> {
    const T: &str = "positions";
    Ok(PositionRecord {
        position_id: get(row, 0)?,
        whale_wallet: get(row, 1)?,
        market_id: get(row, 2)?,
        token_id: get(row, 3)?,
        outcome: get(row, 4)?,
        side: named(row, 5, T, "side", Side::parse)?,
        size: decimal(row, 6, T, "size")?,
        entry_price: decimal(row, 7, T, "entry_price")?,
        opened_at: Timestamp(get(row, 8)?),
        status: named(row, 9, T, "status", PositionStatus::parse)?,
        high_water_price: optional_decimal(row, 10, T, "high_water_price")?,
        exit_price: optional_decimal(row, 11, T, "exit_price")?,
        realised_pnl: optional_decimal(row, 12, T, "realised_pnl")?,
        closed_at: get::<Option<i64>>(row, 13)?.map(Timestamp),
        exit_reason: get(row, 14)?,
    })
}

fn order_from_row(row: &Row<'_>) -> Result<OrderRecord, StoreError> {
    const T: &str = "orders";
    Ok(OrderRecord {
        client_order_id: get(row, 0)?,
        venue_order_id: get(row, 1)?,
        position_id: get(row, 2)?,
        whale_trade_key: get(row, 3)?,
        token_id: get(row, 4)?,
        side: named(row, 5, T, "side", Side::parse)?,
        limit_price: decimal(row, 6, T, "limit_price")?,
        size: decimal(row, 7, T, "size")?,
        kind: named(row, 8, T, "kind", OrderKind::parse)?,
        status: named(row, 9, T, "status", OrderStatus::parse)?,
        created_at: Timestamp(get(row, 10)?),
        updated_at: Timestamp(get(row, 11)?),
    })
}

fn fill_from_row(row: &Row<'_>) -> Result<FillRecord, StoreError> {
    const T: &str = "fills";
    Ok(FillRecord {
        fill_id: get(row, 0)?,
        client_order_id: get(row, 1)?,
        price: decimal(row, 2, T, "price")?,
        size: decimal(row, 3, T, "size")?,
        fee: decimal(row, 4, T, "fee")?,
        filled_at: Timestamp(get(row, 5)?),
    })
}

/// Runs `sql` and maps every row with `map`, which may refuse a stored value with a typed error.
pub(crate) fn query<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(StoreError::sqlite("preparing a read"))?;
    let mut rows = statement.query(params).map_err(StoreError::sqlite("running a read"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(StoreError::sqlite("reading a row"))? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// One value of `store_meta`, `None` when the key was never written.
fn meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    conn.query_row("SELECT value FROM store_meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .map_err(StoreError::sqlite("reading the store's metadata"))
}

fn count(conn: &Connection, sql: &str) -> Result<i64, StoreError> {
    conn.query_row(sql, [], |r| r.get(0)).map_err(StoreError::sqlite("counting rows"))
}

fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, index: usize) -> Result<T, StoreError> {
    row.get(index).map_err(StoreError::sqlite("reading a column"))
}

fn decimal(row: &Row<'_>, index: usize, table: &'static str, column: &'static str) -> Result<Decimal, StoreError> {
    let raw: String = get(row, index)?;
    Decimal::from_str(&raw).map_err(|_| StoreError::BadStoredValue { table, column, value: raw, rule: "not a decimal" })
}

fn optional_decimal(
    row: &Row<'_>,
    index: usize,
    table: &'static str,
    column: &'static str,
) -> Result<Option<Decimal>, StoreError> {
    match get::<Option<String>>(row, index)? {
        None => Ok(None),
        Some(raw) => Decimal::from_str(&raw).map(Some).map_err(|_| StoreError::BadStoredValue {
            table,
            column,
            value: raw,
            rule: "not a decimal",
        }),
    }
}

fn named<T>(
    row: &Row<'_>,
    index: usize,
    table: &'static str,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let raw: String = get(row, index)?;
    parse(&raw).ok_or(StoreError::BadStoredValue { table, column, value: raw, rule: "not a known name" })
}

/// Rows whose JSON no longer reads (a newer binary's, a hand edit) are logged and skipped.
fn from_json_rows<T: serde::de::DeserializeOwned>(what: &str, rows: Vec<(String, String)>) -> Vec<T> {
    rows.into_iter()
        .filter_map(|(key, json)| {
            serde_json::from_str(&json)
                .map_err(|e| tracing::warn!(%key, error = %e, "a stored {what} cannot be read; skipped"))
                .ok()
        })
        .collect()
}

pub(crate) fn plan_decisions_after(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<(Vec<crate::plans::PlanDecision>, i64), StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows: Vec<(i64, String, String)> = query(
        conn,
        "SELECT seq, plan_id, decision_json FROM plan_decisions WHERE seq > ?1 ORDER BY seq DESC LIMIT ?2",
        (after, limit),
        |row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?)),
    )?;
    let last = rows.first().map_or(after, |r| r.0);
    rows.reverse();
    let rows = rows.into_iter().map(|(_, id, json)| (id, json)).collect();
    Ok((from_json_rows("plan decision", rows), last))
}

pub(crate) fn plan_decisions_page(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<(Vec<crate::plans::PlanDecision>, i64), StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(i64, String, String)> = query(
        conn,
        "SELECT seq, plan_id, decision_json FROM plan_decisions WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        (after, limit),
        |row| Ok((get(row, 0)?, get(row, 1)?, get(row, 2)?)),
    )?;
    let last = rows.last().map_or(after, |r| r.0);
    let rows = rows.into_iter().map(|(_, id, json)| (id, json)).collect();
    Ok((from_json_rows("plan decision", rows), last))
}

pub(crate) fn plan_closes(conn: &Connection) -> Result<Vec<crate::plans::PlanClose>, StoreError> {
    let rows: Vec<(String, String)> =
        query(conn, "SELECT plan_id, close_json FROM plan_closes ORDER BY closed_at, plan_id", [], |row| {
            Ok((get(row, 0)?, get(row, 1)?))
        })?;
    Ok(from_json_rows("plan close", rows))
}
