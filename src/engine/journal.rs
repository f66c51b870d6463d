//! The engine's events as store commands: the write-ahead journal.
//!
//! The engine does no I/O; the engine task turns the events of each step into [`StoreCommand`]s
//! with this module and writes them, together with a checkpoint of the engine after that step, as
//! one atomic group. So the store always holds a *prefix* of the engine's history: the rows of
//! every step up to some point, and the checkpoint of exactly that point. A restart restores the
//! checkpoint and carries on from there (see [`crate::runtime::engine_task`]).
//!
//! | event | rows |
//! | --- | --- |
//! | order intent | `orders` (status `pending`), before the executor sees it |
//! | fill | `fills` (`<client order id>-<n>`), the order's status, the position |
//! | order finished | the order's final status (`filled`, or `cancelled` for an unfilled rest) |
//! | position opened, resized, closed, settled | `positions` |
//! | decision on a whale trade | `seen_whale_trades` + `decision_audit` (one command) |
//! | trading-state change | `trading_state_changes` |
//! | market named (a whale trade's title, Gamma) | `market_names` |
//! | redemption requested (live) | `redemptions` (status `pending`), before the redeemer sees it |
//! | (after every step that wrote something) | `risk_state` and `engine_checkpoint` |

use crate::clock::Timestamp;
use crate::domain::ClientOrderId;
use crate::store::{
    DecisionRecord, EngineCheckpointRecord, FillRecord, OrderKind, OrderRecord, OrderStatus, PositionRecord,
    PositionStatus, RedemptionRecord, RedemptionStatus, RiskStateRecord, SeenWhaleTrade, StoreCommand,
    TradingStateChange,
};

use super::EngineError;
use super::core::Engine;
use super::io::{EngineEvent, PositionUpdate, WhaleTradeDecision};

/// How the store (and the live executor, whose order salt derives from it) names an order:
/// the client order id's text form, `order#42`.
pub fn client_order_id_text(id: ClientOrderId) -> String {
    id.to_string()
}

/// Turns engine events into store commands for one source of inputs.
#[derive(Debug, Clone)]
pub struct Journal {
    source: String,
}

impl Journal {
    /// `source` names what the engine reads (`replay:<path>` or `polymarket`); a checkpoint's cursor
    /// only means something for the source that wrote it.
    pub fn new(source: impl Into<String>) -> Self {
        Self { source: source.into() }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `event` changes what the store holds (as opposed to counters and warnings, which
    /// only feed metrics and alerts).
    pub fn is_recorded(event: &EngineEvent) -> bool {
        !matches!(
            event,
            EngineEvent::Audit(_) | EngineEvent::WhaleTradeSeen { .. } | EngineEvent::BreakerWarning { .. }
        )
    }

    /// Appends the commands that record `events` (in order) to `commands`.
    pub fn record(&self, engine: &Engine, events: &[EngineEvent], commands: &mut Vec<StoreCommand>) {
        for event in events {
            match event {
                EngineEvent::OrderIntentRecorded { intent, trade_id, whale_trade_key, at } => {
                    commands.push(StoreCommand::InsertOrder(OrderRecord {
                        client_order_id: client_order_id_text(intent.client_order_id),
                        venue_order_id: None,
                        position_id: Some(trade_id.clone()).filter(|t| !t.is_empty()),
                        whale_trade_key: whale_trade_key.as_deref().map(str::to_owned),
                        token_id: engine.interner().token_name(intent.token).unwrap_or_default().to_owned(),
                        side: intent.side,
                        limit_price: intent.price,
                        size: intent.size,
                        kind: if intent.is_entry() { OrderKind::Entry } else { OrderKind::Exit },
                        status: OrderStatus::Pending,
                        created_at: *at,
                        updated_at: *at,
                    }));
                }
                EngineEvent::FillApplied { report, fill_seq, .. } => {
                    let client_order_id = client_order_id_text(report.client_order_id);
                    commands.push(StoreCommand::RecordFill(FillRecord {
                        fill_id: format!("{client_order_id}-{fill_seq}"),
                        client_order_id: client_order_id.clone(),
                        price: report.avg_price,
                        size: report.filled_size,
                        fee: report.fee,
                        filled_at: report.at,
                    }));
                    commands.push(StoreCommand::UpdateOrder {
                        client_order_id,
                        status: OrderStatus::PartiallyFilled,
                        venue_order_id: None,
                        updated_at: report.at,
                    });
                }
                EngineEvent::OrderFinished { client_order_id, filled, ordered, at } => {
                    // A finished order with shares missing had its rest cancelled (FAK, thin book,
                    // venue refusal); the fills table shows what did fill.
                    let status = if filled >= ordered { OrderStatus::Filled } else { OrderStatus::Cancelled };
                    commands.push(StoreCommand::UpdateOrder {
                        client_order_id: client_order_id_text(*client_order_id),
                        status,
                        venue_order_id: None,
                        updated_at: *at,
                    });
                }
                EngineEvent::PositionUpdated(update) => {
                    commands.push(StoreCommand::UpsertPosition(position_record(engine, update)));
                }
                // Watermarks belong to the whale feed, which knows what it has read and handed over.
                EngineEvent::WhaleTradeDecided(decision) => commands.push(whale_decision(engine, decision)),
                EngineEvent::StateChanged(t, _) => {
                    commands.push(StoreCommand::RecordTradingStateChange(TradingStateChange {
                        from_state: t.from.as_str().to_owned(),
                        to_state: t.to.as_str().to_owned(),
                        reason: t.reason.as_str().to_owned(),
                        detail: Some(t.detail.clone()).filter(|d| !d.is_empty()),
                        changed_at: t.at,
                    }));
                }
                EngineEvent::RedemptionRequested(r) => {
                    commands.push(StoreCommand::InsertRedemption(RedemptionRecord {
                        redemption_id: r.redemption_id.clone(),
                        condition_id: r.condition_id.clone(),
                        token_id: r.token_id.clone(),
                        outcome: r.outcome.clone(),
                        shares: r.shares,
                        neg_risk: r.neg_risk,
                        status: RedemptionStatus::Pending,
                        tx_hash: None,
                        nonce: None,
                        raw_tx: None,
                        detail: None,
                        created_at: r.at,
                        updated_at: r.at,
                    }));
                }
                EngineEvent::MarketNamed(name) => commands.push(StoreCommand::UpsertMarketName((**name).clone())),
                EngineEvent::PlanDecided(decision) => commands.push(StoreCommand::RecordPlanDecision(decision.clone())),
                EngineEvent::PlanClosed(close) => commands.push(StoreCommand::RecordPlanClose(close.clone())),
                EngineEvent::PlanOrderStaged(order) => commands.push(StoreCommand::InsertPlanOrder(order.clone())),
                EngineEvent::PlanOrderReported(report) => commands.push(StoreCommand::UpdatePlanOrder(report.clone())),
                EngineEvent::Audit(_)
                | EngineEvent::WhaleTradeSeen { .. }
                | EngineEvent::BreakerWarning { .. }
                | EngineEvent::SessionEnded(_)
                | EngineEvent::PlanUnfilled { .. } => {}
            }
        }
    }

    /// The engine's state after the step that produced `cursor` (the risk state and the checkpoint).
    pub fn checkpoint(
        &self,
        engine: &Engine,
        cursor: Option<u64>,
        now: Timestamp,
    ) -> Result<[StoreCommand; 2], EngineError> {
        let (checkpoint, risk) = engine.checkpoint();
        let snapshot = engine.risk().snapshot();
        let json = |what: &'static str, e: serde_json::Error| EngineError::BadField {
            field: what,
            value: e.to_string(),
            rule: "serializable as JSON",
        };
        let risk_json = serde_json::to_string(&risk).map_err(|e| json("risk_state", e))?;
        let checkpoint_json = serde_json::to_string(&checkpoint).map_err(|e| json("engine_checkpoint", e))?;
        Ok([
            StoreCommand::SaveRiskState(RiskStateRecord {
                state_json: risk_json,
                trading_state: snapshot.state.as_str().to_owned(),
                reason: snapshot.state_cause.map(|c| c.as_str().to_owned()),
                peak_equity: snapshot.peak_equity,
                start_of_day_equity: snapshot.start_of_day_equity,
                daily_pnl: snapshot.daily_pnl,
                breaker_trips: snapshot.breaker_trips_today,
                loss_streak: snapshot.consecutive_losses,
                updated_at: now,
            }),
            StoreCommand::SaveEngineCheckpoint(EngineCheckpointRecord {
                source: self.source.clone(),
                cursor,
                state_json: checkpoint_json,
                updated_at: now,
            }),
        ])
    }
}

fn position_record(engine: &Engine, p: &PositionUpdate) -> PositionRecord {
    let names = engine.interner();
    let closed = p.close.is_some();
    PositionRecord {
        position_id: p.trade_id.clone(),
        whale_wallet: names.whale_name(p.whale).unwrap_or_default().to_owned(),
        market_id: names.market_name(p.market).unwrap_or_default().to_owned(),
        token_id: names.token_name(p.token).unwrap_or_default().to_owned(),
        outcome: p.outcome.clone(),
        side: p.side,
        // Open: the shares held now. Closed: the shares the position held (they were all sold).
        size: if closed { p.entry_size } else { p.open_size },
        entry_price: p.avg_entry_price.round_dp(8),
        opened_at: p.opened_at,
        status: if closed { PositionStatus::Closed } else { PositionStatus::Open },
        high_water_price: p.high_water.filter(|_| !closed),
        exit_price: p.close.map(|c| c.exit_price.round_dp(8)),
        realised_pnl: p.close.map(|c| c.realised_pnl.round_dp(8)),
        closed_at: p.close.map(|c| c.closed_at),
        exit_reason: p.close.map(|c| c.reason.as_str().to_owned()),
    }
}

fn whale_decision(engine: &Engine, d: &WhaleTradeDecision) -> StoreCommand {
    let decision = d.outcome.verdict();
    let names = engine.interner();
    let wallet = names.whale_name(d.whale).unwrap_or_default().to_owned();
    let detail = d.outcome.to_string();
    StoreCommand::RecordWhaleDecision {
        trade: SeenWhaleTrade {
            dedupe_key: d.key.to_string(),
            wallet: wallet.clone(),
            traded_at: d.traded_at,
            decision,
        },
        decision: DecisionRecord {
            whale_trade_key: d.key.to_string(),
            wallet,
            market_id: names.market_name(d.market).unwrap_or_default().to_owned(),
            token_id: names.token_name(d.token).unwrap_or_default().to_owned(),
            decision,
            reason_code: d.outcome.reason_code().to_owned(),
            detail: Some(detail).filter(|d| !d.is_empty()),
            decided_at: d.at,
        },
    }
}

/// Whether a step's events need the store at all.
pub fn any_recorded(events: &[EngineEvent]) -> bool {
    events.iter().any(Journal::is_recorded)
}
