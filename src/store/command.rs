//! The writes the engine asks of the store, as data: one [`StoreCommand`] per state change.
//!
//! Each command is all-or-nothing. A batch of commands shares one transaction (group commit), but a
//! command that fails (a duplicate client order id, say) is rolled back alone and reported to its own
//! caller; the rest of the batch still commits.

use rust_decimal::Decimal;

use crate::alerts::Silence;
use crate::clock::Timestamp;
use crate::market::MarketName;
use crate::plans::{PlanClose, PlanDecision, PlanOrder, PlanOrderReport};

use super::records::{
    AlertRecord, DecisionRecord, EngineCheckpointRecord, FillRecord, OrderRecord, OrderStatus, PositionRecord,
    RedemptionRecord, RedemptionUpdate, RiskStateRecord, SeenWhaleTrade, TradingStateChange, WhaleWatermark,
    require_id, require_non_negative,
};

/// One state change to persist.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreCommand {
    /// Write-ahead of an order intent: must be durable before the order reaches the executor.
    /// Fails with `DuplicateClientOrderId` if the id was ever used.
    InsertOrder(OrderRecord),
    /// A new status (and, once known, the venue's order id) for an existing order.
    UpdateOrder { client_order_id: String, status: OrderStatus, venue_order_id: Option<String>, updated_at: Timestamp },
    /// A fill of a known order: must be durable before the position changes.
    RecordFill(FillRecord),
    /// Inserts or replaces a whole position row (open, resized or closed).
    UpsertPosition(PositionRecord),
    /// The trailing-stop high-water mark of an open position. High-rate: a later one for the same
    /// position in the same batch replaces it, and it may be recomputed on restart.
    SetPositionHighWater { position_id: String, price: Decimal },
    /// The risk manager's state (single row). A later snapshot in the same batch replaces it.
    SaveRiskState(RiskStateRecord),
    /// The engine's checkpoint (single row). A later one in the same batch replaces it.
    SaveEngineCheckpoint(EngineCheckpointRecord),
    /// A trading-state transition, appended to the history: durable before it takes effect.
    RecordTradingStateChange(TradingStateChange),
    /// The decision on a whale trade and the mark that it was seen, in one transaction, so a trade is
    /// never decided on twice nor lost. Fails with `DuplicateWhaleTrade` if the key was already seen.
    RecordWhaleDecision { trade: SeenWhaleTrade, decision: DecisionRecord },
    /// A decision not tied to a new whale trade (e.g. a re-evaluation); audit only.
    RecordDecision(DecisionRecord),
    /// Moves a whale's watermark forward (never backwards).
    AdvanceWatermark(WhaleWatermark),
    /// Write-ahead of an on-chain redemption (status `pending`), in the settlement's own group.
    /// Fails with `DuplicateRedemption` if the id was ever used.
    InsertRedemption(RedemptionRecord),
    /// A redemption's next status; `sent` carries the transaction, durable before it is broadcast.
    UpdateRedemption(RedemptionUpdate),
    /// The decision on one trade plan (appended; every plan received is kept).
    RecordPlanDecision(Box<PlanDecision>),
    /// An open plan's close (the risk manager closes a plan once, so a plan has at most one).
    RecordPlanClose(Box<PlanClose>),
    /// Write-ahead of a plan order (status `staged`), durable before it is handed to its venue.
    InsertPlanOrder(Box<PlanOrder>),
    /// A plan order's state as its venue reported it (cumulative).
    UpdatePlanOrder(Box<PlanOrderReport>),
    /// Inserts or replaces the cached names of one market.
    UpsertMarketName(MarketName),
    /// Inserts an alert silence, or updates one: its hit count only grows, and once ended it
    /// stays ended.
    UpsertSilence(Silence),
    /// Puts an alert in the outbox.
    EnqueueAlert(AlertRecord),
    /// Marks an outbox alert delivered.
    MarkAlertDelivered { alert_id: String, at: Timestamp },
    /// Deletes old decision-audit and seen-trade rows (see [`RetentionCutoffs`]).
    Prune(RetentionCutoffs),
    /// Several commands applied all-or-nothing, e.g. a fill, its order status and the position it changes.
    /// An empty group writes nothing: sent durably it is a barrier that resolves once everything queued
    /// before it is committed.
    Atomic(Vec<StoreCommand>),
}

/// What a retention pass deletes: rows strictly older than these instants. Open positions and
/// non-final orders are never touched, nor the seen trades they came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionCutoffs {
    pub decisions_before: Timestamp,
    pub seen_trades_before: Timestamp,
}

/// Commands whose later instance in the same batch makes the earlier one pointless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CoalesceKey<'a> {
    RiskState,
    EngineCheckpoint,
    HighWater(&'a str),
}

impl StoreCommand {
    /// `Some` for high-rate state where only the latest value in a batch needs writing. An invalid
    /// snapshot has no key: it will be refused, so it must not stand in for the valid one before it.
    pub(crate) fn coalesce_key(&self) -> Option<CoalesceKey<'_>> {
        match self {
            StoreCommand::SaveRiskState(risk) if risk.validate().is_ok() => Some(CoalesceKey::RiskState),
            StoreCommand::SaveEngineCheckpoint(checkpoint) if checkpoint.validate().is_ok() => {
                Some(CoalesceKey::EngineCheckpoint)
            }
            StoreCommand::SetPositionHighWater { position_id, price }
                if require_id("high_water.position_id", position_id).is_ok()
                    && require_non_negative("high_water.price", *price).is_ok() =>
            {
                Some(CoalesceKey::HighWater(position_id))
            }
            _ => None,
        }
    }

    /// Whether this command (or one inside its atomic group) writes an order ahead of its sending:
    /// an order intent or a staged plan order. Only these are on an order's path to the venue, so
    /// only these arm the disk keep-warm; routine state (snapshots, audit, alerts, names) is
    /// written on an idle daemon too and must not keep it awake. Every variant is named so that a
    /// new kind of command has to be placed on one side or the other.
    pub(crate) fn writes_order_ahead(&self) -> bool {
        match self {
            StoreCommand::InsertOrder(_) | StoreCommand::InsertPlanOrder(_) => true,
            StoreCommand::Atomic(commands) => commands.iter().any(Self::writes_order_ahead),
            StoreCommand::UpdateOrder { .. }
            | StoreCommand::RecordFill(_)
            | StoreCommand::UpsertPosition(_)
            | StoreCommand::SetPositionHighWater { .. }
            | StoreCommand::SaveRiskState(_)
            | StoreCommand::SaveEngineCheckpoint(_)
            | StoreCommand::RecordTradingStateChange(_)
            | StoreCommand::RecordWhaleDecision { .. }
            | StoreCommand::RecordDecision(_)
            | StoreCommand::AdvanceWatermark(_)
            | StoreCommand::InsertRedemption(_)
            | StoreCommand::UpdateRedemption(_)
            | StoreCommand::UpsertMarketName(_)
            | StoreCommand::RecordPlanDecision(_)
            | StoreCommand::RecordPlanClose(_)
            | StoreCommand::UpdatePlanOrder(_)
            | StoreCommand::UpsertSilence(_)
            | StoreCommand::EnqueueAlert(_)
            | StoreCommand::MarkAlertDelivered { .. }
            | StoreCommand::Prune(_) => false,
        }
    }

    /// A short name for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreCommand::InsertOrder(_) => "insert_order",
            StoreCommand::UpdateOrder { .. } => "update_order",
            StoreCommand::RecordFill(_) => "record_fill",
            StoreCommand::UpsertPosition(_) => "upsert_position",
            StoreCommand::SetPositionHighWater { .. } => "set_position_high_water",
            StoreCommand::SaveRiskState(_) => "save_risk_state",
            StoreCommand::SaveEngineCheckpoint(_) => "save_engine_checkpoint",
            StoreCommand::RecordTradingStateChange(_) => "record_trading_state_change",
            StoreCommand::RecordWhaleDecision { .. } => "record_whale_decision",
            StoreCommand::RecordDecision(_) => "record_decision",
            StoreCommand::AdvanceWatermark(_) => "advance_watermark",
            StoreCommand::InsertRedemption(_) => "insert_redemption",
            StoreCommand::UpdateRedemption(_) => "update_redemption",
            StoreCommand::UpsertMarketName(_) => "upsert_market_name",
            StoreCommand::RecordPlanDecision(_) => "record_plan_decision",
            StoreCommand::RecordPlanClose(_) => "record_plan_close",
            StoreCommand::InsertPlanOrder(_) => "insert_plan_order",
            StoreCommand::UpdatePlanOrder(_) => "update_plan_order",
            StoreCommand::UpsertSilence(_) => "upsert_silence",
            StoreCommand::EnqueueAlert(_) => "enqueue_alert",
            StoreCommand::MarkAlertDelivered { .. } => "mark_alert_delivered",
            StoreCommand::Prune(_) => "prune",
            StoreCommand::Atomic(_) => "atomic",
        }
    }
}

/// Marks the commands of a batch that a later command of the same batch supersedes.
/// Returns one flag per command (`true` = skip it), in order.
pub(crate) fn superseded<'a>(commands: impl DoubleEndedIterator<Item = &'a StoreCommand>) -> Vec<bool> {
    let mut latest_seen = std::collections::HashSet::new();
    let mut flags: Vec<bool> =
        commands.rev().map(|c| c.coalesce_key().is_some_and(|key| !latest_seen.insert(key))).collect();
    flags.reverse();
    flags
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn high_water(position_id: &str, price: Decimal) -> StoreCommand {
        StoreCommand::SetPositionHighWater { position_id: position_id.into(), price }
    }

    fn risk(daily_pnl: Decimal) -> StoreCommand {
        StoreCommand::SaveRiskState(RiskStateRecord {
            state_json: "{}".into(),
            trading_state: "active".into(),
            reason: None,
            peak_equity: dec!(100),
            start_of_day_equity: dec!(100),
            daily_pnl,
            breaker_trips: 0,
            loss_streak: 0,
            updated_at: Timestamp(1),
        })
    }

    #[test]
    fn only_the_last_snapshot_per_key_survives() {
        let batch = [
            risk(dec!(1)),
            high_water("p1", dec!(0.5)),
            high_water("p2", dec!(0.6)),
            StoreCommand::Atomic(vec![]),
            high_water("p1", dec!(0.7)),
            risk(dec!(2)),
        ];
        assert_eq!(superseded(batch.iter()), [true, true, false, false, false, false]);
    }

    #[test]
    fn an_invalid_snapshot_does_not_replace_the_valid_one_before_it() {
        let broken = StoreCommand::SaveRiskState(RiskStateRecord {
            state_json: "{not json".into(),
            ..match risk(dec!(1)) {
                StoreCommand::SaveRiskState(r) => r,
                _ => unreachable!(),
            }
        });
        let batch = [risk(dec!(1)), broken, high_water("p1", dec!(0.5)), high_water("p1", dec!(-1))];
        assert_eq!(superseded(batch.iter()), [false, false, false, false]);
    }

    #[test]
    fn only_order_intents_write_an_order_ahead_alone_or_inside_a_group() {
        let intent = StoreCommand::InsertOrder(crate::store::OrderRecord {
            client_order_id: "order#1".into(),
            venue_order_id: None,
            position_id: None,
            whale_trade_key: None,
            token_id: "token-7".into(),
            side: crate::domain::Side::Buy,
            limit_price: dec!(0.43),
            size: dec!(10),
            kind: crate::store::OrderKind::Entry,
            status: OrderStatus::Pending,
            created_at: Timestamp(1),
            updated_at: Timestamp(1),
        });
        let update = StoreCommand::UpdateOrder {
            client_order_id: "order#1".into(),
            status: OrderStatus::Filled,
            venue_order_id: None,
            updated_at: Timestamp(2),
        };
        assert!(intent.writes_order_ahead());
        assert!(
            StoreCommand::Atomic(vec![risk(dec!(1)), StoreCommand::Atomic(vec![intent.clone()])]).writes_order_ahead()
        );
        for routine in [
            risk(dec!(1)),
            high_water("p1", dec!(0.5)),
            update,
            StoreCommand::Atomic(vec![]),
            StoreCommand::Atomic(vec![risk(dec!(2)), high_water("p1", dec!(0.6))]),
        ] {
            assert!(!routine.writes_order_ahead(), "{}", routine.kind());
        }
    }

    #[test]
    fn orders_and_fills_are_never_coalesced() {
        let batch = [StoreCommand::Atomic(vec![]), StoreCommand::Atomic(vec![])];
        assert_eq!(superseded(batch.iter()), [false, false]);
    }
}
