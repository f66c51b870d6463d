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

use std::collections::BTreeMap;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::{ClientOrderId, MarketId, TokenId, WhaleId};
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
}

impl CopyTelemetry {
    pub fn new(sender: TelemetrySender) -> Self {
        Self { sender, orders: BTreeMap::new() }
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
                    client_order_id: intent.client_order_id.to_string(),
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
        client_order_id: id.to_string(),
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
