//! The copy-trading engine's events as telemetry. The engine names whales, markets and tokens by
//! interned ids; [`CopyTelemetry`] runs beside the engine (in its task, where the interner and the
//! name catalogue are at hand) and gives each order the whale's label and the market's title once,
//! at submission, remembering them until the order finishes so that its fills read the same.
//!
//! | engine event | telemetry |
//! | --- | --- |
//! | `OrderIntentRecorded` | ORDER_SUBMITTED |
//! | `FillApplied` | ORDER_FILLED |
//! | `OrderFinished` with shares unfilled | ORDER_CANCELLED |
//! | `Audit(TradeClosed)` | POSITION_CLOSED (the record names its whale and market) |
//! | `StateChanged` | TRADING_STATE_CHANGED |
//! | `PlanOrderStaged` (an exit; the entry is told with the decision) | ORDER_SUBMITTED |
//! | `Audit(SignalFill)` | ORDER_FILLED |
//! | `PlanOrderReported`, done with units unfilled | ORDER_CANCELLED |

use std::collections::BTreeMap;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::{ClientOrderId, MarketId, TokenId, WhaleId};
use crate::engine::journal::client_order_id_text;
use crate::engine::{AuditRecord, Engine, EngineEvent};

use super::events::{
    OrderCancelled, OrderFilled, OrderRef, OrderSubmitted, Origin, Payload, PositionClosed, StateChange, Subject,
    TelemetryEvent,
};
use super::exporters::TelemetrySender;

/// Orders remembered between submission and finish. Beyond it the oldest is forgotten (its later
/// events carry ids only): an order that never finishes must not grow this without bound.
const MAX_REMEMBERED_ORDERS: usize = 10_000;

/// What the converter needs from the engine: ids as text, and the names a person reads.
pub trait EngineNames {
    fn mode(&self) -> Mode;
    fn whale_address(&self, id: WhaleId) -> Option<&str>;
    fn market_id(&self, id: MarketId) -> Option<&str>;
    fn token_id(&self, id: TokenId) -> Option<&str>;
    /// The whale's configured label, or its short address.
    fn whale_label(&self, address: &str) -> String;
    /// The market's question, or its short id.
    fn market_title(&self, condition_id: &str) -> String;
    /// The outcome's name, or the token's short id.
    fn outcome_name(&self, token_id: &str) -> String;
}

impl EngineNames for Engine {
    fn mode(&self) -> Mode {
        self.config().daemon.mode
    }
    fn whale_address(&self, id: WhaleId) -> Option<&str> {
        self.interner().whale_name(id)
    }
    fn market_id(&self, id: MarketId) -> Option<&str> {
        self.interner().market_name(id)
    }
    fn token_id(&self, id: TokenId) -> Option<&str> {
        self.interner().token_name(id)
    }
    fn whale_label(&self, address: &str) -> String {
        self.names().whale_label(address)
    }
    fn market_title(&self, condition_id: &str) -> String {
        self.names().market_title(condition_id)
    }
    fn outcome_name(&self, token_id: &str) -> String {
        self.names().outcome_name(token_id)
    }
}

/// Converts the engine's events and hands them to the exporters' queue (never waiting).
#[derive(Debug)]
pub struct CopyTelemetry {
    sender: TelemetrySender,
    orders: BTreeMap<ClientOrderId, OrderRef>,
    /// Plan orders at a venue, by client order id: the units asked for, until they finish.
    plan_orders: BTreeMap<String, rust_decimal::Decimal>,
}

impl CopyTelemetry {
    pub fn new(sender: TelemetrySender) -> Self {
        Self { sender, orders: BTreeMap::new(), plan_orders: BTreeMap::new() }
    }

    /// The queue, for the other events of the engine's task (plan decisions and closes).
    pub fn sender(&self) -> &TelemetrySender {
        &self.sender
    }

    /// Emits what `event` tells, if anything.
    pub fn observe(&mut self, names: &dyn EngineNames, event: &EngineEvent) {
        if !self.sender.is_enabled() {
            return;
        }
        // A plan's decision and close carry their names themselves; the mode is the staged order's.
        match event {
            EngineEvent::PlanDecided(decision) => return self.sender.emit_plan_decision(decision, names.mode()),
            EngineEvent::PlanClosed(close) => return self.sender.emit_plan_close(close, names.mode()),
            EngineEvent::PlanOrderStaged(order) => {
                if self.plan_orders.len() >= MAX_REMEMBERED_ORDERS {
                    self.plan_orders.pop_first();
                }
                self.plan_orders.insert(order.client_order_id.clone(), order.units);
                if let Some(event) = TelemetryEvent::from_plan_exit(order, names.mode()) {
                    self.sender.emit(event);
                }
                return;
            }
            EngineEvent::PlanOrderReported(report) => {
                if report.done
                    && let Some(ordered) = self.plan_orders.remove(&report.client_order_id)
                    && let Some(event) = TelemetryEvent::from_plan_order_end(report, ordered, names.mode())
                {
                    self.sender.emit(event);
                }
                return;
            }
            EngineEvent::Audit(AuditRecord::SignalFill(fill)) => {
                let at = parse_timestamp(&fill.timestamp);
                if let Some(event) = TelemetryEvent::from_plan_fill(fill, at, names.mode()) {
                    self.sender.emit(event);
                }
                return;
            }
            _ => {}
        }
        if let Some(telemetry) = self.convert(names, event) {
            self.sender.emit(telemetry);
        }
    }

    /// The telemetry event `event` gives, remembering or forgetting the order it is about.
    pub fn convert(&mut self, names: &dyn EngineNames, event: &EngineEvent) -> Option<TelemetryEvent> {
        let mode = names.mode();
        match event {
            EngineEvent::OrderIntentRecorded { intent, trade_id, at, .. } => {
                let whale = intent.whale.and_then(|w| names.whale_address(w)).map(str::to_owned);
                let market = names.market_id(intent.market).map(str::to_owned);
                let token = names.token_id(intent.token).map(str::to_owned);
                let order = OrderRef {
                    client_order_id: client_order_id_text(intent.client_order_id),
                    origin: Origin::Copy,
                    order_kind: Some(if intent.is_entry() { "entry" } else { "exit" }),
                    side: Some(intent.side.as_str().to_owned()),
                    subject: Subject {
                        trade_id: Some(trade_id.clone()).filter(|t| !t.is_empty()),
                        whale_label: whale.as_deref().map(|w| names.whale_label(w)),
                        whale,
                        market_title: market.as_deref().map(|m| names.market_title(m)),
                        market_id: market,
                        outcome: token.as_deref().map(|t| names.outcome_name(t)),
                        token_id: token,
                        ..Subject::default()
                    },
                };
                if self.orders.len() >= MAX_REMEMBERED_ORDERS {
                    self.orders.pop_first();
                }
                self.orders.insert(intent.client_order_id, order.clone());
                let submitted = OrderSubmitted {
                    order,
                    price: intent.price,
                    size: intent.size,
                    notional_usd: intent.notional(),
                    stop: None,
                    targets: Vec::new(),
                    leverage: None,
                };
                Some(TelemetryEvent::new(*at, mode, Payload::OrderSubmitted(submitted)))
            }
            EngineEvent::FillApplied { report, trade_id, fill_seq, realised_pnl, position_closed } => {
                let order = self.order(report.client_order_id, trade_id);
                let filled = OrderFilled {
                    order,
                    fill_seq: *fill_seq,
                    price: report.avg_price,
                    size: report.filled_size,
                    fee_usd: report.fee,
                    realised_pnl_usd: *realised_pnl,
                    position_closed: *position_closed,
                };
                Some(TelemetryEvent::new(report.at, mode, Payload::OrderFilled(filled)))
            }
            EngineEvent::OrderFinished { client_order_id, filled, ordered, at } => {
                let order = self.orders.remove(client_order_id);
                if filled >= ordered {
                    return None;
                }
                let order = order.unwrap_or_else(|| unknown_order(*client_order_id, ""));
                let cancelled =
                    OrderCancelled { order, ordered: *ordered, filled: *filled, unfilled: ordered - filled };
                Some(TelemetryEvent::new(*at, mode, Payload::OrderCancelled(cancelled)))
            }
            EngineEvent::Audit(AuditRecord::TradeClosed(t)) => {
                let closed = PositionClosed {
                    origin: Origin::Copy,
                    subject: Subject {
                        trade_id: Some(t.trade_id.clone()),
                        whale_label: Some(t.whale_label.clone()).filter(|l| !l.is_empty()),
                        whale: Some(t.whale_address.clone()).filter(|w| !w.is_empty()),
                        market_title: Some(t.market_title.clone()).filter(|m| !m.is_empty()),
                        market_id: Some(t.market_id.clone()).filter(|m| !m.is_empty()),
                        outcome: Some(t.outcome.clone()).filter(|o| !o.is_empty()),
                        ..Subject::default()
                    },
                    direction: None,
                    entry_price: None,
                    exit_price: t.exit_price,
                    size: None,
                    pnl_usd: t.pnl_usd,
                    r_multiple: None,
                    reason: Some(t.reason.clone()),
                    hold_time_seconds: Some(t.hold_time_seconds),
                };
                Some(TelemetryEvent::new(parse_timestamp(&t.timestamp), mode, Payload::PositionClosed(closed)))
            }
            EngineEvent::StateChanged(t, figures) => {
                let change = StateChange {
                    from: t.from.as_str(),
                    to: t.to.as_str(),
                    reason: t.reason.as_str(),
                    detail: t.detail.clone(),
                    daily_pnl_usd: figures.daily_pnl,
                    drawdown_percent: figures.drawdown_percent,
                    open_positions: figures.open_positions,
                };
                Some(TelemetryEvent::new(t.at, mode, Payload::TradingStateChanged(change)))
            }
            _ => None,
        }
    }

    fn order(&self, id: ClientOrderId, trade_id: &str) -> OrderRef {
        self.orders.get(&id).cloned().unwrap_or_else(|| unknown_order(id, trade_id))
    }
}

/// An order submitted before this run (restored from the store): its ids are all there is.
fn unknown_order(id: ClientOrderId, trade_id: &str) -> OrderRef {
    OrderRef {
        client_order_id: client_order_id_text(id),
        origin: Origin::Copy,
        order_kind: None,
        side: None,
        subject: Subject { trade_id: Some(trade_id.to_owned()).filter(|t| !t.is_empty()), ..Subject::default() },
    }
}

/// The audit record's RFC 3339 time (written by the engine from a [`Timestamp`]).
fn parse_timestamp(text: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Timestamp::from(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::{ReasonCode, Side, SourceTradeId, TradingState};
    use crate::engine::audit::TradeClosed;
    use crate::engine::{ExecutionReport, StateFigures};
    use crate::risk::{OrderIntent, Transition};

    const AT: Timestamp = Timestamp::from_millis(1_764_857_045_123);

    /// One whale (`0xwhale`, "Big Fish"), one market, one token, known by name.
    struct Names;

    impl EngineNames for Names {
        fn mode(&self) -> Mode {
            Mode::Paper
        }
        fn whale_address(&self, id: WhaleId) -> Option<&str> {
            (id.0 == 1).then_some("0xwhale")
        }
        fn market_id(&self, id: MarketId) -> Option<&str> {
            (id.0 == 2).then_some("0xmarket")
        }
        fn token_id(&self, id: TokenId) -> Option<&str> {
            (id.0 == 3).then_some("12345")
        }
        fn whale_label(&self, _: &str) -> String {
            "Big Fish".into()
        }
        fn market_title(&self, _: &str) -> String {
            "Will it rain?".into()
        }
        fn outcome_name(&self, _: &str) -> String {
            "Yes".into()
        }
    }

    fn submitted() -> EngineEvent {
        let intent = OrderIntent::entry(ClientOrderId(7), MarketId(2), TokenId(3), Side::Buy, dec!(0.42), dec!(100))
            .copying(WhaleId(1), SourceTradeId(9), dec!(0.41));
        EngineEvent::OrderIntentRecorded { intent, trade_id: "t-1".into(), whale_trade_key: None, at: AT }
    }

    const ENVELOPE: &str = "\"at\":\"2025-12-04T14:04:05.123Z\",\"at_ms\":1764857045123,\"mode\":\"paper\"";
    const ORDER: &str = "\"client_order_id\":\"order#7\",\"origin\":\"copy\",\"order_kind\":\"entry\",\"side\":\"buy\",\
        \"trade_id\":\"t-1\",\"whale_label\":\"Big Fish\",\"whale\":\"0xwhale\",\"market_title\":\"Will it rain?\",\
        \"market_id\":\"0xmarket\",\"outcome\":\"Yes\",\"token_id\":\"12345\"";

    fn line(telemetry: &mut CopyTelemetry, event: &EngineEvent) -> String {
        telemetry.convert(&Names, event).map(|e| e.to_json()).unwrap_or_default()
    }

    #[test]
    fn an_order_is_named_at_submission_and_its_fill_and_cancel_read_the_same() {
        let mut telemetry = CopyTelemetry::new(TelemetrySender::disabled());
        assert_eq!(
            line(&mut telemetry, &submitted()),
            format!(
                "{{\"event\":\"ORDER_SUBMITTED\",{ENVELOPE},{ORDER},\"price\":\"0.42\",\"size\":\"100\",\
                 \"notional_usd\":\"42.00\"}}"
            )
        );
        let fill = EngineEvent::FillApplied {
            report: ExecutionReport {
                client_order_id: ClientOrderId(7),
                filled_size: dec!(60),
                avg_price: dec!(0.42),
                fee: dec!(0.01),
                done: false,
                note: None,
                at: AT,
            },
            trade_id: "t-1".into(),
            fill_seq: 1,
            realised_pnl: Decimal::ZERO,
            position_closed: false,
        };
        assert_eq!(
            line(&mut telemetry, &fill),
            format!(
                "{{\"event\":\"ORDER_FILLED\",{ENVELOPE},{ORDER},\"fill_seq\":1,\"price\":\"0.42\",\"size\":\"60\",\
                 \"fee_usd\":\"0.01\",\"realised_pnl_usd\":\"0\",\"position_closed\":false}}"
            )
        );
        let finished = EngineEvent::OrderFinished {
            client_order_id: ClientOrderId(7),
            filled: dec!(60),
            ordered: dec!(100),
            at: AT,
        };
        assert_eq!(
            line(&mut telemetry, &finished),
            format!(
                "{{\"event\":\"ORDER_CANCELLED\",{ENVELOPE},{ORDER},\"ordered\":\"100\",\"filled\":\"60\",\
                 \"unfilled\":\"40\"}}"
            )
        );
        assert!(telemetry.orders.is_empty(), "a finished order is forgotten");
    }

    #[test]
    fn a_fully_filled_order_finishes_without_a_cancel() {
        let mut telemetry = CopyTelemetry::new(TelemetrySender::disabled());
        line(&mut telemetry, &submitted());
        let finished = EngineEvent::OrderFinished {
            client_order_id: ClientOrderId(7),
            filled: dec!(100),
            ordered: dec!(100),
            at: AT,
        };
        assert_eq!(line(&mut telemetry, &finished), "");
        assert!(telemetry.orders.is_empty());
    }

    #[test]
    fn a_fill_of_an_order_from_before_the_start_carries_its_ids() {
        let mut telemetry = CopyTelemetry::new(TelemetrySender::disabled());
        let fill = EngineEvent::FillApplied {
            report: ExecutionReport::unfilled(ClientOrderId(8), "x", AT),
            trade_id: "t-2".into(),
            fill_seq: 2,
            realised_pnl: dec!(-1.5),
            position_closed: true,
        };
        let json: serde_json::Value = serde_json::from_str(&line(&mut telemetry, &fill)).unwrap();
        assert_eq!(json["client_order_id"], "order#8", "as the store names it");
        assert_eq!(json["trade_id"], "t-2");
        assert_eq!(json["realised_pnl_usd"], "-1.5");
        assert!(json.get("whale_label").is_none());
    }

    #[test]
    fn a_close_and_a_state_change_are_told_with_their_names_and_figures() {
        let mut telemetry = CopyTelemetry::new(TelemetrySender::disabled());
        let closed = EngineEvent::Audit(AuditRecord::TradeClosed(TradeClosed {
            trade_id: "t-1".into(),
            whale_address: "0xwhale".into(),
            whale_label: "Big Fish".into(),
            market_id: "0xmarket".into(),
            market_title: "Will it rain?".into(),
            outcome: "Yes".into(),
            exit_price: dec!(0.55),
            pnl_usd: dec!(12.99),
            slippage_usd: None,
            whale_pnl_usd: None,
            hold_time_seconds: 3600,
            reason: "take_profit".into(),
            timestamp: AT.to_rfc3339(),
        }));
        assert_eq!(
            line(&mut telemetry, &closed),
            format!(
                "{{\"event\":\"POSITION_CLOSED\",{ENVELOPE},\"origin\":\"copy\",\"trade_id\":\"t-1\",\
                 \"whale_label\":\"Big Fish\",\"whale\":\"0xwhale\",\"market_title\":\"Will it rain?\",\
                 \"market_id\":\"0xmarket\",\"outcome\":\"Yes\",\"exit_price\":\"0.55\",\"pnl_usd\":\"12.99\",\
                 \"reason\":\"take_profit\",\"hold_time_seconds\":3600}}"
            )
        );
        let transition = Transition {
            from: TradingState::Active,
            to: TradingState::Halted,
            reason: ReasonCode::ManualHalt,
            detail: "operator".into(),
            at: AT,
        };
        let figures = StateFigures { daily_pnl: dec!(-20), drawdown_percent: dec!(2.5), open_positions: 3 };
        assert_eq!(
            line(&mut telemetry, &EngineEvent::StateChanged(transition, figures)),
            format!(
                "{{\"event\":\"TRADING_STATE_CHANGED\",{ENVELOPE},\"from\":\"active\",\"to\":\"halted\",\
                 \"reason\":\"manual_halt\",\"detail\":\"operator\",\"daily_pnl_usd\":\"-20\",\
                 \"drawdown_percent\":\"2.5\",\"open_positions\":3}}"
            )
        );
        let seen = EngineEvent::BreakerWarning { daily_pnl: dec!(-1), threshold: dec!(10), at: AT };
        assert_eq!(line(&mut telemetry, &seen), "", "events that tell nothing new are not telemetry");
    }

    #[test]
    fn observing_emits_onto_the_queue() {
        let (sender, mut queue) = TelemetrySender::channel(4);
        let mut telemetry = CopyTelemetry::new(sender);
        telemetry.observe(&Names, &submitted());
        assert_eq!(queue.try_recv().unwrap().kind(), crate::telemetry::EventKind::OrderSubmitted);
    }
}
