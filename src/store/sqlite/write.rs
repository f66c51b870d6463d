//! Applying a batch of commands in one SQLite transaction.
//!
//! A single-statement command relies on SQLite's statement atomicity: a constraint failure undoes that
//! statement only and the transaction goes on. A multi-statement command runs inside a savepoint, so
//! a failure part-way is rolled back to where the command started. Every statement is prepared once
//! and cached: at 150,000 commands per second, parsing SQL would be the bottleneck.

use rusqlite::Connection;
use rust_decimal::Decimal;

use crate::alerts::Silence;
use crate::clock::Timestamp;
use crate::market::MarketName;
use crate::plans::{PlanClose, PlanDecision, PlanOrder, PlanOrderReport};
use crate::store::command::{RetentionCutoffs, StoreCommand};
use crate::store::error::{StoreError, is_foreign_key_violation, is_unique_violation};
use crate::store::records::{
    AlertRecord, DecisionRecord, EngineCheckpointRecord, FillRecord, OrderRecord, PositionRecord, RedemptionRecord,
    RedemptionUpdate, RiskStateRecord, SeenWhaleTrade, TradingStateChange, WhaleWatermark, require_id,
    require_non_negative,
};

/// Writes `commands` in one transaction and commits once (one WAL fsync under `synchronous=FULL`).
pub(super) fn write_batch(
    conn: &Connection,
    commands: &[&StoreCommand],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    run(conn, "BEGIN IMMEDIATE", "starting a batch transaction")?;
    let outcomes: Vec<Result<(), StoreError>> = commands.iter().map(|command| apply(conn, command)).collect();
    if conn.is_autocommit() {
        // SQLite abandons the whole transaction on some errors (I/O, disk full): nothing was written.
        let first = outcomes.iter().find_map(|o| o.as_ref().err()).map(ToString::to_string).unwrap_or_default();
        return Err(StoreError::Sqlite {
            context: "writing a batch",
            message: format!("SQLite rolled the whole transaction back ({first})"),
        });
    }
    if let Err(e) = run(conn, "COMMIT", "committing a batch") {
        // The batch is lost as a whole; the rollback only clears the failed transaction.
        let _ = run(conn, "ROLLBACK", "rolling back a failed commit");
        return Err(e);
    }
    Ok(outcomes)
}

fn run(conn: &Connection, sql: &str, context: &'static str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop).map_err(StoreError::sqlite(context))
}

/// Applies one command all-or-nothing.
fn apply(conn: &Connection, command: &StoreCommand) -> Result<(), StoreError> {
    match command {
        StoreCommand::InsertOrder(order) => insert_order(conn, order),
        StoreCommand::UpdateOrder { client_order_id, status, venue_order_id, updated_at } => {
            require_id("update_order.client_order_id", client_order_id)?;
            let changed = conn
                .prepare_cached(
                    "UPDATE orders SET status = ?2, venue_order_id = COALESCE(?3, venue_order_id), updated_at = ?4
                     WHERE client_order_id = ?1",
                )
                .and_then(|mut s| s.execute((client_order_id, status.as_str(), venue_order_id, updated_at.0)))
                .map_err(StoreError::sqlite("updating an order"))?;
            if changed == 0 {
                return Err(StoreError::UnknownOrder { client_order_id: client_order_id.clone() });
            }
            Ok(())
        }
        StoreCommand::RecordFill(fill) => insert_fill(conn, fill),
        StoreCommand::UpsertPosition(position) => upsert_position(conn, position),
        StoreCommand::SetPositionHighWater { position_id, price } => {
            require_id("high_water.position_id", position_id)?;
            require_non_negative("high_water.price", *price)?;
            let changed = conn
                .prepare_cached("UPDATE positions SET high_water_price = ?2 WHERE position_id = ?1")
                .and_then(|mut s| s.execute((position_id, price.to_string())))
                .map_err(StoreError::sqlite("updating a high-water mark"))?;
            if changed == 0 {
                return Err(StoreError::UnknownPosition { position_id: position_id.clone() });
            }
            Ok(())
        }
        StoreCommand::SaveRiskState(risk) => save_risk_state(conn, risk),
        StoreCommand::SaveEngineCheckpoint(checkpoint) => save_engine_checkpoint(conn, checkpoint),
        StoreCommand::RecordTradingStateChange(change) => insert_trading_state_change(conn, change),
        StoreCommand::RecordWhaleDecision { trade, decision } => {
            if trade.dedupe_key != decision.whale_trade_key {
                return Err(StoreError::invalid(
                    "decision.whale_trade_key",
                    &decision.whale_trade_key,
                    "must equal the dedupe key of the trade marked seen with it",
                ));
            }
            in_savepoint(conn, || {
                insert_seen_trade(conn, trade)?;
                insert_decision(conn, decision)
            })
        }
        StoreCommand::RecordDecision(decision) => insert_decision(conn, decision),
        StoreCommand::AdvanceWatermark(mark) => advance_watermark(conn, mark),
        StoreCommand::InsertRedemption(redemption) => insert_redemption(conn, redemption),
        StoreCommand::UpdateRedemption(update) => update_redemption(conn, update),
        StoreCommand::UpsertMarketName(name) => upsert_market_name(conn, name),
        StoreCommand::RecordPlanDecision(decision) => insert_plan_decision(conn, decision),
        StoreCommand::RecordPlanClose(close) => insert_plan_close(conn, close),
        StoreCommand::InsertPlanOrder(order) => insert_plan_order(conn, order),
        StoreCommand::UpdatePlanOrder(report) => update_plan_order(conn, report),
        StoreCommand::UpsertSilence(silence) => upsert_silence(conn, silence),
        StoreCommand::EnqueueAlert(alert) => insert_alert(conn, alert),
        StoreCommand::MarkAlertDelivered { alert_id, at } => {
            require_id("alert_delivered.alert_id", alert_id)?;
            let changed = conn
                .prepare_cached("UPDATE alert_outbox SET delivered_at = ?2 WHERE alert_id = ?1")
                .and_then(|mut s| s.execute((alert_id, at.0)))
                .map_err(StoreError::sqlite("marking an alert delivered"))?;
            if changed == 0 {
                return Err(StoreError::UnknownAlert { alert_id: alert_id.clone() });
            }
            Ok(())
        }
        StoreCommand::Prune(cutoffs) => in_savepoint(conn, || prune(conn, cutoffs)),
        StoreCommand::Atomic(commands) if commands.is_empty() => Ok(()),
        StoreCommand::Atomic(commands) => in_savepoint(conn, || commands.iter().try_for_each(|c| apply(conn, c))),
    }
}

/// Runs `body` so that it takes effect entirely or not at all, inside the batch's transaction.
fn in_savepoint(conn: &Connection, body: impl FnOnce() -> Result<(), StoreError>) -> Result<(), StoreError> {
    run(conn, "SAVEPOINT command", "opening a savepoint")?;
    match body() {
        Ok(()) => run(conn, "RELEASE command", "releasing a savepoint"),
        Err(e) => {
            run(conn, "ROLLBACK TO command", "rolling back a failed command")?;
            run(conn, "RELEASE command", "releasing a savepoint")?;
            Err(e)
        }
    }
}

fn text(value: Decimal) -> String {
    value.to_string()
}

fn opt_text(value: Option<Decimal>) -> Option<String> {
    value.map(text)
}

fn millis(value: Option<Timestamp>) -> Option<i64> {
    value.map(|t| t.0)
}

fn insert_redemption(conn: &Connection, r: &RedemptionRecord) -> Result<(), StoreError> {
    r.validate()?;
    let nonce = r.nonce.and_then(|n| i64::try_from(n).ok());
    conn.prepare_cached(
        "INSERT INTO redemptions (redemption_id, condition_id, token_id, outcome, shares, neg_risk, status, tx_hash,
                                  nonce, raw_tx, detail, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut s| {
        s.execute((
            &r.redemption_id,
            &r.condition_id,
            &r.token_id,
            &r.outcome,
            text(r.shares),
            i64::from(r.neg_risk),
            r.status.as_str(),
            &r.tx_hash,
            nonce,
            &r.raw_tx,
            &r.detail,
            r.created_at.0,
            r.updated_at.0,
        ))
    })
    .map(drop)
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::DuplicateRedemption { redemption_id: r.redemption_id.clone() }
        } else {
            StoreError::sqlite("inserting a redemption")(e)
        }
    })
}

fn update_redemption(conn: &Connection, u: &RedemptionUpdate) -> Result<(), StoreError> {
    u.validate()?;
    let (tx_hash, nonce, raw_tx) = match &u.sent {
        Some(sent) => (Some(sent.tx_hash.as_str()), i64::try_from(sent.nonce).ok(), Some(sent.raw_tx.as_str())),
        None => (None, None, None),
    };
    let changed = conn
        .prepare_cached(
            "UPDATE redemptions SET status = ?2, tx_hash = COALESCE(?3, tx_hash), nonce = COALESCE(?4, nonce),
                    raw_tx = COALESCE(?5, raw_tx), detail = COALESCE(?6, detail), updated_at = ?7
             WHERE redemption_id = ?1",
        )
        .and_then(|mut s| {
            s.execute((&u.redemption_id, u.status.as_str(), tx_hash, nonce, raw_tx, &u.detail, u.updated_at.0))
        })
        .map_err(StoreError::sqlite("updating a redemption"))?;
    if changed == 0 {
        return Err(StoreError::UnknownRedemption { redemption_id: u.redemption_id.clone() });
    }
    Ok(())
}

fn insert_order(conn: &Connection, order: &OrderRecord) -> Result<(), StoreError> {
    order.validate()?;
    conn.prepare_cached(
        "INSERT INTO orders (client_order_id, venue_order_id, position_id, whale_trade_key, token_id, side,
                             limit_price, size, kind, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute((
            &order.client_order_id,
            &order.venue_order_id,
            &order.position_id,
            &order.whale_trade_key,
            &order.token_id,
            order.side.as_str(),
            text(order.limit_price),
            text(order.size),
            order.kind.as_str(),
            order.status.as_str(),
            order.created_at.0,
            order.updated_at.0,
        ))
    })
    .map(drop)
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::DuplicateClientOrderId { client_order_id: order.client_order_id.clone() }
        } else {
            StoreError::sqlite("inserting an order")(e)
        }
    })
}

fn insert_fill(conn: &Connection, fill: &FillRecord) -> Result<(), StoreError> {
    fill.validate()?;
    conn.prepare_cached(
        "INSERT INTO fills (fill_id, client_order_id, price, size, fee, filled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute((
            &fill.fill_id,
            &fill.client_order_id,
            text(fill.price),
            text(fill.size),
            text(fill.fee),
            fill.filled_at.0,
        ))
    })
    .map(drop)
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::DuplicateFill { fill_id: fill.fill_id.clone() }
        } else if is_foreign_key_violation(&e) {
            StoreError::UnknownOrder { client_order_id: fill.client_order_id.clone() }
        } else {
            StoreError::sqlite("inserting a fill")(e)
        }
    })
}

fn upsert_position(conn: &Connection, p: &PositionRecord) -> Result<(), StoreError> {
    p.validate()?;
    conn.prepare_cached(
        "INSERT INTO positions (position_id, whale_wallet, market_id, token_id, outcome, side, size, entry_price,
                                opened_at, status, high_water_price, exit_price, realised_pnl, closed_at, exit_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (position_id) DO UPDATE SET
             whale_wallet = excluded.whale_wallet, market_id = excluded.market_id, token_id = excluded.token_id,
             outcome = excluded.outcome, side = excluded.side, size = excluded.size,
             entry_price = excluded.entry_price, opened_at = excluded.opened_at, status = excluded.status,
             high_water_price = excluded.high_water_price, exit_price = excluded.exit_price,
             realised_pnl = excluded.realised_pnl, closed_at = excluded.closed_at, exit_reason = excluded.exit_reason",
    )
    .and_then(|mut s| {
        s.execute((
            &p.position_id,
            &p.whale_wallet,
            &p.market_id,
            &p.token_id,
            &p.outcome,
            p.side.as_str(),
            text(p.size),
            text(p.entry_price),
            p.opened_at.0,
            p.status.as_str(),
            opt_text(p.high_water_price),
            opt_text(p.exit_price),
            opt_text(p.realised_pnl),
            millis(p.closed_at),
            &p.exit_reason,
        ))
    })
    .map(drop)
    .map_err(StoreError::sqlite("writing a position"))
}

fn save_risk_state(conn: &Connection, r: &RiskStateRecord) -> Result<(), StoreError> {
    r.validate()?;
    conn.prepare_cached(
        "INSERT INTO risk_state (id, state_json, trading_state, reason, peak_equity, start_of_day_equity, daily_pnl,
                                 breaker_trips, loss_streak, updated_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET
             state_json = excluded.state_json, trading_state = excluded.trading_state, reason = excluded.reason,
             peak_equity = excluded.peak_equity, start_of_day_equity = excluded.start_of_day_equity,
             daily_pnl = excluded.daily_pnl, breaker_trips = excluded.breaker_trips,
             loss_streak = excluded.loss_streak, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute((
            &r.state_json,
            &r.trading_state,
            &r.reason,
            text(r.peak_equity),
            text(r.start_of_day_equity),
            text(r.daily_pnl),
            r.breaker_trips,
            r.loss_streak,
            r.updated_at.0,
        ))
    })
    .map(drop)
    .map_err(StoreError::sqlite("saving the risk state"))
}

fn save_engine_checkpoint(conn: &Connection, c: &EngineCheckpointRecord) -> Result<(), StoreError> {
    c.validate()?;
    let cursor = c.cursor.and_then(|c| i64::try_from(c).ok());
    conn.prepare_cached(
        "INSERT INTO engine_checkpoint (id, source, cursor, state_json, updated_at) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET
             source = excluded.source, cursor = excluded.cursor, state_json = excluded.state_json,
             updated_at = excluded.updated_at",
    )
    .and_then(|mut s| s.execute((&c.source, cursor, &c.state_json, c.updated_at.0)))
    .map(drop)
    .map_err(StoreError::sqlite("saving the engine checkpoint"))
}

fn insert_trading_state_change(conn: &Connection, c: &TradingStateChange) -> Result<(), StoreError> {
    c.validate()?;
    conn.prepare_cached(
        "INSERT INTO trading_state_changes (from_state, to_state, reason, detail, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute((&c.from_state, &c.to_state, &c.reason, &c.detail, c.changed_at.0)))
    .map(drop)
    .map_err(StoreError::sqlite("recording a trading-state change"))
}

fn insert_seen_trade(conn: &Connection, t: &SeenWhaleTrade) -> Result<(), StoreError> {
    t.validate()?;
    conn.prepare_cached(
        "INSERT INTO seen_whale_trades (dedupe_key, wallet, traded_at, decision) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute((&t.dedupe_key, &t.wallet, t.traded_at.0, t.decision.as_str())))
    .map(drop)
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::DuplicateWhaleTrade { dedupe_key: t.dedupe_key.clone() }
        } else {
            StoreError::sqlite("marking a whale trade seen")(e)
        }
    })
}

fn insert_decision(conn: &Connection, d: &DecisionRecord) -> Result<(), StoreError> {
    d.validate()?;
    conn.prepare_cached(
        "INSERT INTO decision_audit (whale_trade_key, wallet, market_id, token_id, decision, reason_code, detail,
                                     decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute((
            &d.whale_trade_key,
            &d.wallet,
            &d.market_id,
            &d.token_id,
            d.decision.as_str(),
            &d.reason_code,
            &d.detail,
            d.decided_at.0,
        ))
    })
    .map(drop)
    .map_err(StoreError::sqlite("recording a decision"))
}

fn advance_watermark(conn: &Connection, w: &WhaleWatermark) -> Result<(), StoreError> {
    require_id("watermark.wallet", &w.wallet)?;
    conn.prepare_cached(
        "INSERT INTO whale_watermarks (wallet, watermark) VALUES (?1, ?2)
         ON CONFLICT (wallet) DO UPDATE SET watermark = MAX(watermark, excluded.watermark)",
    )
    .and_then(|mut s| s.execute((&w.wallet, w.watermark.0)))
    .map(drop)
    .map_err(StoreError::sqlite("advancing a watermark"))
}

fn upsert_silence(conn: &Connection, s: &Silence) -> Result<(), StoreError> {
    require_id("silence.id", &s.id)?;
    let matchers_json = serde_json::to_string(&s.matchers)
        .map_err(|e| StoreError::invalid("silence.matchers", e.to_string(), "serializable as JSON"))?;
    let hits = i64::try_from(s.hits).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "INSERT INTO silences (id, matchers_json, created_at, expires_at, created_by, reason, hits, expired_at, expired_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET
             hits = MAX(silences.hits, excluded.hits),
             expired_at = COALESCE(silences.expired_at, excluded.expired_at),
             expired_by = COALESCE(silences.expired_by, excluded.expired_by)",
    )
    .and_then(|mut st| {
        st.execute((
            &s.id,
            &matchers_json,
            s.created_at.0,
            s.expires_at.0,
            &s.created_by,
            &s.reason,
            hits,
            s.expired_at.map(|t| t.0),
            &s.expired_by,
        ))
    })
    .map(drop)
    .map_err(StoreError::sqlite("writing a silence"))
}

fn upsert_market_name(conn: &Connection, n: &MarketName) -> Result<(), StoreError> {
    require_id("market_name.condition_id", &n.condition_id)?;
    let outcomes: Vec<(&str, &str)> = n.outcomes.iter().map(|o| (o.token_id.as_str(), o.outcome.as_str())).collect();
    let outcomes_json = serde_json::to_string(&outcomes)
        .map_err(|e| StoreError::invalid("market_name.outcomes", e.to_string(), "serializable as JSON"))?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO market_names (condition_id, question, slug, end_date, outcomes_json, source, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute((
            &n.condition_id,
            &n.question,
            &n.slug,
            &n.end_date,
            &outcomes_json,
            n.source.as_str(),
            n.fetched_at.0,
        ))
    })
    .map(drop)
    .map_err(StoreError::sqlite("caching a market's names"))
}

fn insert_plan_decision(conn: &Connection, d: &PlanDecision) -> Result<(), StoreError> {
    let json = serde_json::to_string(d)
        .map_err(|e| StoreError::invalid("plan_decision", e.to_string(), "serializable as JSON"))?;
    let plan = d.plan.as_deref();
    conn.prepare_cached(
        "INSERT INTO plan_decisions (plan_id, decided_at, outcome, reason, symbol, quality_tier, regime, score, decision_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute((
            &d.plan_id,
            d.at.0,
            if d.is_approved() { "approved" } else { "rejected" },
            d.reason().map(|c| c.as_str()),
            d.symbol.as_deref(),
            plan.map(|p| p.quality_tier.as_str()),
            plan.map(|p| p.regime.as_str()),
            plan.map(|p| p.score.to_string()),
            &json,
        ))
    })
    .map(drop)
    .map_err(StoreError::sqlite("recording a plan decision"))
}

fn insert_plan_close(conn: &Connection, c: &PlanClose) -> Result<(), StoreError> {
    require_id("plan_close.plan_id", &c.plan_id)?;
    let json = serde_json::to_string(c)
        .map_err(|e| StoreError::invalid("plan_close", e.to_string(), "serializable as JSON"))?;
    conn.prepare_cached(
        "INSERT INTO plan_closes (plan_id, closed_at, exit_price, pnl_usd, r_multiple, close_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute((
            &c.plan_id,
            c.at.0,
            c.exit_price.to_string(),
            c.pnl_usd.to_string(),
            c.r_multiple.to_string(),
            &json,
        ))
    })
    .map(drop)
    .map_err(StoreError::sqlite("recording a plan close"))
}

fn insert_plan_order(conn: &Connection, o: &PlanOrder) -> Result<(), StoreError> {
    require_id("plan_order.client_order_id", &o.client_order_id)?;
    let json = serde_json::to_string(o)
        .map_err(|e| StoreError::invalid("plan_order", e.to_string(), "serializable as JSON"))?;
    conn.prepare_cached(
        "INSERT INTO plan_orders (client_order_id, plan_id, symbol, side, kind, price, units, status, created_at, updated_at, order_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'staged', ?8, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute((
            &o.client_order_id,
            &o.plan_id,
            &o.symbol,
            o.side.to_string(),
            o.kind.to_string(),
            o.price.map(|p| p.to_string()),
            o.units.to_string(),
            o.at.0,
            &json,
        ))
    })
    .map(drop)
    .map_err(StoreError::sqlite("writing a plan order ahead"))
}

fn update_plan_order(conn: &Connection, r: &PlanOrderReport) -> Result<(), StoreError> {
    let status = match (&r.refusal, r.done) {
        (Some(_), _) => "refused",
        (None, true) => "done",
        (None, false) => "working",
    };
    let refusal = r.refusal.as_ref().map(|f| format!("{}: {}", f.reason, f.detail));
    let changed = conn
        .prepare_cached(
            "UPDATE plan_orders SET status = ?2, venue_order_id = COALESCE(?3, venue_order_id), filled = ?4,
             average_price = ?5, fee = ?6, refusal = COALESCE(?7, refusal), updated_at = ?8 WHERE client_order_id = ?1",
        )
        .and_then(|mut s| {
            s.execute((
                &r.client_order_id,
                status,
                r.venue_order_id.as_deref(),
                r.filled.to_string(),
                r.average_price.to_string(),
                r.fee.to_string(),
                refusal,
                r.at.0,
            ))
        })
        .map_err(StoreError::sqlite("recording a plan order's state"))?;
    if changed == 0 {
        return Err(StoreError::invalid(
            "plan_order.client_order_id",
            r.client_order_id.clone(),
            "names no plan order written ahead",
        ));
    }
    Ok(())
}

fn insert_alert(conn: &Connection, a: &AlertRecord) -> Result<(), StoreError> {
    a.validate()?;
    conn.prepare_cached(
        "INSERT INTO alert_outbox (alert_id, priority, title, body_json, created_at, delivered_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute((&a.alert_id, &a.priority, &a.title, &a.body_json, a.created_at.0, millis(a.delivered_at)))
    })
    .map(drop)
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::DuplicateAlert { alert_id: a.alert_id.clone() }
        } else {
            StoreError::sqlite("enqueueing an alert")(e)
        }
    })
}

/// Deletes old audit and seen-trade rows. A seen trade survives while an order copied from it is
/// still live or the position it opened is still open: forgetting it could copy it twice.
fn prune(conn: &Connection, cutoffs: &RetentionCutoffs) -> Result<(), StoreError> {
    let decisions = conn
        .prepare_cached("DELETE FROM decision_audit WHERE decided_at < ?1")
        .and_then(|mut s| s.execute([cutoffs.decisions_before.0]))
        .map_err(StoreError::sqlite("pruning the decision audit"))?;
    let seen = conn
        .prepare_cached(
            "DELETE FROM seen_whale_trades
             WHERE traded_at < ?1
               AND NOT EXISTS (
                   SELECT 1 FROM orders
                   WHERE orders.whale_trade_key = seen_whale_trades.dedupe_key
                     AND ((orders.status <> 'filled' AND orders.status <> 'cancelled'
                           AND orders.status <> 'rejected')
                          OR EXISTS (SELECT 1 FROM positions
                                     WHERE positions.position_id = orders.position_id
                                       AND positions.status = 'open')))",
        )
        .and_then(|mut s| s.execute([cutoffs.seen_trades_before.0]))
        .map_err(StoreError::sqlite("pruning seen whale trades"))?;
    // Names of markets we traded stay (positions are history); those only seen in a whale trade go
    // with the decisions about them.
    let names = conn
        .prepare_cached(
            "DELETE FROM market_names
             WHERE fetched_at < ?1
               AND NOT EXISTS (SELECT 1 FROM positions WHERE positions.market_id = market_names.condition_id)",
        )
        .and_then(|mut s| s.execute([cutoffs.decisions_before.0]))
        .map_err(StoreError::sqlite("pruning market names"))?;
    tracing::info!(
        decisions_pruned = decisions,
        seen_trades_pruned = seen,
        market_names_pruned = names,
        decisions_before = %cutoffs.decisions_before,
        seen_trades_before = %cutoffs.seen_trades_before,
        "store retention pass"
    );
    Ok(())
}
