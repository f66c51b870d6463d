//! The typed telemetry events and their one wire form: a JSON object per line, `event` in
//! SCREAMING_SNAKE_CASE first, then the time (RFC 3339 and epoch milliseconds), the mode, and the
//! kind's own fields (Decimals as strings, absent options left out).
//!
//! Plan decisions and closes convert here ([`TelemetryEvent::from_plan_decision`],
//! [`TelemetryEvent::from_plan_close`]); the copy-trading engine's events convert in
//! [`super::copy`], where the engine's names are at hand.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::engine::audit::SignalFill;
use crate::plans::{PlanClose, PlanDecision, PlanOrder, PlanOrderReport, PlanOutcome, StagedOrder};

/// What kind of thing happened: the `event` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    SignalGenerated,
    SignalRejected,
    OrderSubmitted,
    OrderFilled,
    /// An order finished with shares unfilled (the rest cancelled, or nothing filled at all).
    OrderCancelled,
    PositionClosed,
    TradingStateChanged,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::SignalGenerated,
        EventKind::SignalRejected,
        EventKind::OrderSubmitted,
        EventKind::OrderFilled,
        EventKind::OrderCancelled,
        EventKind::PositionClosed,
        EventKind::TradingStateChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SignalGenerated => "SIGNAL_GENERATED",
            EventKind::SignalRejected => "SIGNAL_REJECTED",
            EventKind::OrderSubmitted => "ORDER_SUBMITTED",
            EventKind::OrderFilled => "ORDER_FILLED",
            EventKind::OrderCancelled => "ORDER_CANCELLED",
            EventKind::PositionClosed => "POSITION_CLOSED",
            EventKind::TradingStateChanged => "TRADING_STATE_CHANGED",
        }
    }
}

/// One event: when, in which mode, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryEvent {
    pub at: Timestamp,
    pub mode: Mode,
    pub payload: Payload,
}

/// The fields of each kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    SignalGenerated(SignalGenerated),
    SignalRejected(SignalRejected),
    OrderSubmitted(OrderSubmitted),
    OrderFilled(OrderFilled),
    OrderCancelled(OrderCancelled),
    PositionClosed(PositionClosed),
    TradingStateChanged(StateChange),
}

impl Payload {
    pub fn kind(&self) -> EventKind {
        match self {
            Payload::SignalGenerated(_) => EventKind::SignalGenerated,
            Payload::SignalRejected(_) => EventKind::SignalRejected,
            Payload::OrderSubmitted(_) => EventKind::OrderSubmitted,
            Payload::OrderFilled(_) => EventKind::OrderFilled,
            Payload::OrderCancelled(_) => EventKind::OrderCancelled,
            Payload::PositionClosed(_) => EventKind::PositionClosed,
            Payload::TradingStateChanged(_) => EventKind::TradingStateChanged,
        }
    }
}

/// Where an order or position came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Copying a followed whale.
    Copy,
    /// A trade plan.
    Plan,
}

/// What a person reads to know which order or position an event is about: its ids, and for a copy
/// trade the whale's label and the market's title beside the wallet and condition id.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Subject {
    /// The copy trade's id (`trade_id`) or the plan's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// A plan's `BASE/QUOTE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whale_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market_id: Option<String>,
    /// The outcome's name (`Yes`, a candidate) of the token traded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}

/// An order's identity: its client order id, origin, entry or exit, side, and what it trades.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRef {
    pub client_order_id: String,
    pub origin: Origin,
    /// `entry` or `exit`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_kind: Option<&'static str>,
    /// `buy` or `sell`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    #[serde(flatten)]
    pub subject: Subject,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalGenerated {
    pub plan_id: String,
    pub symbol: String,
    pub direction: &'static str,
    /// `api` or `inbox:<file>`.
    pub source: String,
    pub score: Decimal,
    pub quality_tier: &'static str,
    pub regime: &'static str,
    pub timeframe: String,
    pub entry_near: Decimal,
    pub entry_far: Decimal,
    pub stop: Decimal,
    pub targets: Vec<Decimal>,
    /// The mean R multiple of the targets.
    pub reward_to_risk: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRejected {
    /// `""` when the plan had no id.
    pub plan_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<&'static str>,
    pub source: String,
    /// The reason code.
    pub reason: &'static str,
    pub detail: String,
    /// Present when the plan was complete (refused by sizing or risk, not by validation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_tier: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regime: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderSubmitted {
    #[serde(flatten)]
    pub order: OrderRef,
    /// Limit price.
    pub price: Decimal,
    /// Shares (copy trades) or units of the base asset (plans).
    pub size: Decimal,
    pub notional_usd: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Decimal>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leverage: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderFilled {
    #[serde(flatten)]
    pub order: OrderRef,
    /// Numbers the fills of one order from 1.
    pub fill_seq: u32,
    pub price: Decimal,
    pub size: Decimal,
    pub fee_usd: Decimal,
    pub realised_pnl_usd: Decimal,
    pub position_closed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderCancelled {
    #[serde(flatten)]
    pub order: OrderRef,
    pub ordered: Decimal,
    pub filled: Decimal,
    /// `ordered − filled`: what never filled.
    pub unfilled: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PositionClosed {
    pub origin: Origin,
    #[serde(flatten)]
    pub subject: Subject,
    /// A plan's direction (`long`, `short`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_price: Option<Decimal>,
    pub exit_price: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<Decimal>,
    pub pnl_usd: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r_multiple: Option<Decimal>,
    /// The exit reason code (copy trades).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_time_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateChange {
    pub from: &'static str,
    pub to: &'static str,
    pub reason: &'static str,
    pub detail: String,
    pub daily_pnl_usd: Decimal,
    pub drawdown_percent: Decimal,
    pub open_positions: u32,
}

/// The line's layout: the envelope first, then the kind's fields.
#[derive(Serialize)]
struct Line<'a> {
    event: EventKind,
    at: String,
    at_ms: i64,
    mode: Mode,
    #[serde(flatten)]
    payload: &'a Payload,
}

impl TelemetryEvent {
    pub fn new(at: Timestamp, mode: Mode, payload: Payload) -> Self {
        Self { at, mode, payload }
    }

    pub fn kind(&self) -> EventKind {
        self.payload.kind()
    }

    /// The event as one JSON object, without the newline.
    pub fn to_json(&self) -> String {
        let line = Line {
            event: self.kind(),
            at: self.at.to_rfc3339(),
            at_ms: self.at.millis(),
            mode: self.mode,
            payload: &self.payload,
        };
        // Every field is a string, number, bool or list of them: serialisation cannot fail.
        serde_json::to_string(&line)
            .unwrap_or_else(|e| format!("{{\"event\":\"{}\",\"error\":\"{e}\"}}", self.kind().as_str()))
    }

    /// The event as one line of JSON lines / NDJSON, newline included.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_json().as_bytes());
        out.push(b'\n');
    }

    /// A plan's decision: SIGNAL_GENERATED and ORDER_SUBMITTED (in the staged order's mode) when
    /// approved, SIGNAL_REJECTED when refused. `mode` is the daemon's.
    pub fn from_plan_decision(decision: &PlanDecision, mode: Mode) -> Vec<TelemetryEvent> {
        let source = decision.source.to_string();
        match &decision.outcome {
            PlanOutcome::Approved { size, order } => {
                let Some(plan) = decision.plan.as_deref() else {
                    // An approval always carries its complete plan; without it there is nothing typed to tell.
                    return Vec::new();
                };
                let generated = SignalGenerated {
                    plan_id: plan.plan_id.clone(),
                    symbol: plan.symbol.clone(),
                    direction: plan.direction.as_str(),
                    source,
                    score: plan.score,
                    quality_tier: plan.quality_tier.as_str(),
                    regime: plan.regime.as_str(),
                    timeframe: plan.timeframe.clone(),
                    entry_near: plan.entry.near,
                    entry_far: plan.entry.far,
                    stop: plan.stop,
                    targets: plan.targets.clone(),
                    reward_to_risk: plan.reward_to_risk(),
                };
                let submitted = plan_order(&plan.plan_id, order, size.notional_usd);
                vec![
                    TelemetryEvent::new(decision.at, mode, Payload::SignalGenerated(generated)),
                    TelemetryEvent::new(decision.at, order.mode, Payload::OrderSubmitted(submitted)),
                ]
            }
            PlanOutcome::Rejected { code, detail } => {
                let plan = decision.plan.as_deref();
                let rejected = SignalRejected {
                    plan_id: decision.plan_id.clone(),
                    symbol: decision.symbol.clone(),
                    direction: decision.direction.map(|d| d.as_str()),
                    source,
                    reason: code.as_str(),
                    detail: detail.clone(),
                    quality_tier: plan.map(|p| p.quality_tier.as_str()),
                    regime: plan.map(|p| p.regime.as_str()),
                };
                vec![TelemetryEvent::new(decision.at, mode, Payload::SignalRejected(rejected))]
            }
        }
    }

    /// A plan closed by its outcome.
    pub fn from_plan_close(close: &PlanClose, mode: Mode) -> TelemetryEvent {
        let closed = PositionClosed {
            origin: Origin::Plan,
            subject: Subject {
                plan_id: Some(close.plan_id.clone()),
                symbol: Some(close.symbol.clone()),
                ..Subject::default()
            },
            direction: Some(close.direction.as_str()),
            entry_price: Some(close.entry),
            exit_price: close.exit_price,
            size: Some(close.units),
            pnl_usd: close.pnl_usd,
            r_multiple: Some(close.r_multiple),
            reason: None,
            hold_time_seconds: None,
        };
        TelemetryEvent::new(close.at, mode, Payload::PositionClosed(closed))
    }
}

impl TelemetryEvent {
    /// A plan's exit handed to its venue (its entry was told with the decision).
    pub fn from_plan_exit(order: &PlanOrder, mode: Mode) -> Option<TelemetryEvent> {
        if order.kind.is_entry() {
            return None;
        }
        let submitted = OrderSubmitted {
            order: plan_order_ref(&order.client_order_id, &order.plan_id, &order.symbol, "exit"),
            price: order.price.unwrap_or_default(),
            size: order.units,
            notional_usd: Decimal::ZERO,
            stop: None,
            targets: Vec::new(),
            leverage: None,
        };
        Some(TelemetryEvent::new(order.at, mode, Payload::OrderSubmitted(submitted)))
    }

    /// More of a plan order filled at its venue.
    pub fn from_plan_fill(fill: &SignalFill, at: Timestamp, mode: Mode) -> Option<TelemetryEvent> {
        if fill.units <= Decimal::ZERO {
            return None;
        }
        let kind = if fill.kind == "entry" { "entry" } else { "exit" };
        let filled = OrderFilled {
            order: plan_order_ref(&fill.client_order_id, &fill.plan_id, &fill.symbol, kind),
            fill_seq: 0,
            price: fill.average_price,
            size: fill.units,
            fee_usd: fill.fee,
            realised_pnl_usd: Decimal::ZERO,
            position_closed: false,
        };
        Some(TelemetryEvent::new(at, mode, Payload::OrderFilled(filled)))
    }

    /// A plan order that ended with part or all of it unfilled (refused, cancelled, timed out).
    pub fn from_plan_order_end(report: &PlanOrderReport, ordered: Decimal, mode: Mode) -> Option<TelemetryEvent> {
        if !report.done || report.filled >= ordered {
            return None;
        }
        let cancelled = OrderCancelled {
            order: plan_order_ref(&report.client_order_id, &report.plan_id, "", ""),
            ordered,
            filled: report.filled,
            unfilled: ordered - report.filled,
        };
        Some(TelemetryEvent::new(report.at, mode, Payload::OrderCancelled(cancelled)))
    }
}

/// A plan order as telemetry names it (`kind` and `symbol` empty when unknown).
fn plan_order_ref(client_order_id: &str, plan_id: &str, symbol: &str, kind: &'static str) -> OrderRef {
    OrderRef {
        client_order_id: client_order_id.to_owned(),
        origin: Origin::Plan,
        order_kind: Some(kind).filter(|k| !k.is_empty()),
        side: None,
        subject: Subject {
            plan_id: Some(plan_id.to_owned()),
            symbol: Some(symbol.to_owned()).filter(|s| !s.is_empty()),
            ..Subject::default()
        },
    }
}

fn plan_order(plan_id: &str, order: &StagedOrder, notional_usd: Decimal) -> OrderSubmitted {
    OrderSubmitted {
        order: OrderRef {
            client_order_id: order.client_order_id.clone(),
            origin: Origin::Plan,
            order_kind: Some("entry"),
            side: Some(order.side.as_str().to_owned()),
            subject: Subject {
                plan_id: Some(plan_id.to_owned()),
                symbol: Some(order.symbol.clone()),
                ..Subject::default()
            },
        },
        price: order.price,
        size: order.units,
        notional_usd,
        stop: Some(order.stop),
        targets: order.targets.clone(),
        leverage: Some(order.leverage),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::ReasonCode;
    use crate::plans::{PlanSize, PlanSource, sample};

    const AT: Timestamp = Timestamp::from_millis(1_764_857_045_123);

    fn approved() -> PlanDecision {
        let plan = sample::plan();
        let size = PlanSize {
            units: dec!(0.5),
            notional_usd: dec!(25000),
            risk_usd: dec!(500),
            risk_percent: dec!(1),
            equity_usd: dec!(50000),
            leverage: dec!(1),
            atr_factor: dec!(1),
            capped: false,
        };
        let order = StagedOrder::for_plan(&plan, size.units, Mode::DryRun);
        PlanDecision {
            plan_id: plan.plan_id.clone(),
            symbol: Some(plan.symbol.clone()),
            direction: Some(plan.direction),
            source: PlanSource::Api,
            at: AT,
            plan: Some(Arc::new(plan)),
            outcome: PlanOutcome::Approved { size, order: Box::new(order) },
        }
    }

    #[test]
    fn an_approved_plan_is_generated_then_submitted_in_the_staged_orders_mode() {
        let decision = approved();
        let plan = decision.plan.clone().unwrap();
        let events = TelemetryEvent::from_plan_decision(&decision, Mode::Paper);
        let kinds: Vec<_> = events.iter().map(|e| (e.kind(), e.mode)).collect();
        assert_eq!(kinds, [(EventKind::SignalGenerated, Mode::Paper), (EventKind::OrderSubmitted, Mode::DryRun)]);
        let generated: serde_json::Value = serde_json::from_str(&events[0].to_json()).unwrap();
        assert_eq!(generated["event"], "SIGNAL_GENERATED");
        assert_eq!(generated["at"], "2025-12-04T14:04:05.123Z");
        assert_eq!(generated["at_ms"], 1_764_857_045_123_i64);
        assert_eq!(generated["mode"], "paper");
        assert_eq!(generated["plan_id"], plan.plan_id.as_str());
        assert_eq!(generated["symbol"], plan.symbol.as_str());
        assert_eq!(generated["quality_tier"], plan.quality_tier.as_str());
        assert_eq!(generated["reward_to_risk"], plan.reward_to_risk().to_string());
        assert_eq!(generated["stop"], plan.stop.to_string(), "Decimals travel as strings");
        let submitted = events[1].to_json();
        let expected = format!(
            "{{\"event\":\"ORDER_SUBMITTED\",\"at\":\"2025-12-04T14:04:05.123Z\",\"at_ms\":1764857045123,\
             \"mode\":\"dry-run\",\"client_order_id\":\"plan-{id}\",\"origin\":\"plan\",\"order_kind\":\"entry\",\
             \"side\":\"buy\",\"plan_id\":\"{id}\",\"symbol\":\"{symbol}\",\"price\":\"{near}\",\"size\":\"0.5\",\
             \"notional_usd\":\"25000\",\"stop\":\"{stop}\",\"targets\":[{targets}],\"leverage\":\"{leverage}\"}}",
            id = plan.plan_id,
            symbol = plan.symbol,
            near = plan.entry.near,
            stop = plan.stop,
            targets = plan.targets.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(","),
            leverage = plan.leverage,
        );
        assert_eq!(submitted, expected);
    }

    #[test]
    fn a_refused_plan_is_one_rejection_line_with_its_code() {
        let decision = PlanDecision {
            plan_id: String::new(),
            symbol: Some("BTC/USDT".into()),
            direction: None,
            source: PlanSource::Inbox { file: "a.json".into() },
            at: AT,
            plan: None,
            outcome: PlanOutcome::Rejected { code: ReasonCode::IncompletePlan, detail: "missing: stop".into() },
        };
        let events = TelemetryEvent::from_plan_decision(&decision, Mode::Paper);
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].to_json(),
            "{\"event\":\"SIGNAL_REJECTED\",\"at\":\"2025-12-04T14:04:05.123Z\",\"at_ms\":1764857045123,\
             \"mode\":\"paper\",\"plan_id\":\"\",\"symbol\":\"BTC/USDT\",\"source\":\"inbox:a.json\",\
             \"reason\":\"incomplete_plan\",\"detail\":\"missing: stop\"}"
        );
    }

    #[test]
    fn a_plan_close_is_a_position_closed_line_with_its_r() {
        let close = PlanClose {
            plan_id: "p-1".into(),
            symbol: "ETH/USDT".into(),
            direction: crate::plans::Direction::Short,
            entry: dec!(3000),
            exit_price: dec!(2900),
            units: dec!(2),
            pnl_usd: dec!(200),
            r_multiple: dec!(1.5),
            at: AT,
        };
        let line = TelemetryEvent::from_plan_close(&close, Mode::DryRun).to_json();
        assert_eq!(
            line,
            "{\"event\":\"POSITION_CLOSED\",\"at\":\"2025-12-04T14:04:05.123Z\",\"at_ms\":1764857045123,\
             \"mode\":\"dry-run\",\"origin\":\"plan\",\"plan_id\":\"p-1\",\"symbol\":\"ETH/USDT\",\
             \"direction\":\"short\",\"entry_price\":\"3000\",\"exit_price\":\"2900\",\"size\":\"2\",\
             \"pnl_usd\":\"200\",\"r_multiple\":\"1.5\"}"
        );
    }

    #[test]
    fn every_kind_is_named_in_screaming_snake_case() {
        for kind in EventKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
