//! What goes in and out of the risk manager: order intents, decisions, fills and exit intents.
//! Everything here is `Copy` except a rejection's detail, so the approve path never allocates.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{ClientOrderId, ExitReason, MarketId, ReasonCode, Side, SourceTradeId, TokenId, WhaleId};

/// A position is named by the client order id of the entry that opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PositionId(pub u64);

impl From<ClientOrderId> for PositionId {
    fn from(id: ClientOrderId) -> Self {
        PositionId(id.0)
    }
}

impl std::fmt::Display for PositionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "position#{}", self.0)
    }
}

/// Per-position stop settings that replace the `[risk.stops]` defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StopOverrides {
    pub stop_loss_percent: Option<Decimal>,
    pub take_profit_percent: Option<Decimal>,
    pub trailing_stop_percent: Option<Decimal>,
}

/// Whether an order opens exposure or reduces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OrderKind {
    /// Opens a new position (the position's id is this order's client order id).
    Entry,
    /// Reduces or closes an open position.
    Exit { position: PositionId, reason: ExitReason },
}

/// An order the engine wants to send. Sizes are shares, prices USD per share in (0, 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrderIntent {
    pub client_order_id: ClientOrderId,
    /// The whale trade this order copies (duplicate detection), if any.
    pub source_trade: Option<SourceTradeId>,
    /// The whale being copied; `None` for orders of our own.
    pub whale: Option<WhaleId>,
    pub market: MarketId,
    pub token: TokenId,
    pub side: Side,
    /// Limit price.
    pub price: Decimal,
    /// Shares.
    pub size: Decimal,
    /// 1 on Polymarket; checked against `risk.compliance.max_leverage`.
    pub leverage: Decimal,
    /// The price the order copies (the whale's fill price), for the drift check.
    pub reference_price: Option<Decimal>,
    pub stops: StopOverrides,
    pub kind: OrderKind,
}

impl OrderIntent {
    /// A new position: buy (or sell) `size` shares of `token` at `price`.
    pub fn entry(
        client_order_id: ClientOrderId,
        market: MarketId,
        token: TokenId,
        side: Side,
        price: Decimal,
        size: Decimal,
    ) -> Self {
        Self {
            client_order_id,
            source_trade: None,
            whale: None,
            market,
            token,
            side,
            price,
            size,
            leverage: Decimal::ONE,
            reference_price: None,
            stops: StopOverrides::default(),
            kind: OrderKind::Entry,
        }
    }

    /// The same entry, copying `whale`'s trade `source`.
    pub fn copying(mut self, whale: WhaleId, source: SourceTradeId, whale_price: Decimal) -> Self {
        self.whale = Some(whale);
        self.source_trade = Some(source);
        self.reference_price = Some(whale_price);
        self
    }

    pub fn is_entry(&self) -> bool {
        matches!(self.kind, OrderKind::Entry)
    }

    /// Notional in USD: size × price.
    pub fn notional(&self) -> Decimal {
        self.size * self.price
    }
}

/// The risk manager's answer to [`OrderIntent`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Approved(Approved),
    Rejected { reason: ReasonCode, detail: String },
}

impl Decision {
    pub fn is_approved(&self) -> bool {
        matches!(self, Decision::Approved(_))
    }

    pub fn reason(&self) -> Option<ReasonCode> {
        match self {
            Decision::Approved(_) => None,
            Decision::Rejected { reason, .. } => Some(*reason),
        }
    }

    pub fn approved(&self) -> Option<&Approved> {
        match self {
            Decision::Approved(approved) => Some(approved),
            Decision::Rejected { .. } => None,
        }
    }
}

/// An order the risk manager has approved. Only the risk module can make one, so holding an
/// `Approved` proves the order passed every check; its size may be smaller than requested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Approved {
    order: OrderIntent,
    requested_size: Decimal,
}

impl Approved {
    pub(super) fn new(order: OrderIntent, requested_size: Decimal) -> Self {
        Self { order, requested_size }
    }

    /// An order taken as approved without the checks: for the unit tests of the code downstream of
    /// risk (executors), which test what happens to an approved order, not whether it is approved.
    #[cfg(test)]
    pub(crate) fn unchecked(order: OrderIntent) -> Self {
        Self { requested_size: order.size, order }
    }

    /// The order to send (possibly resized down).
    pub fn order(&self) -> &OrderIntent {
        &self.order
    }

    pub fn into_order(self) -> OrderIntent {
        self.order
    }

    pub fn requested_size(&self) -> Decimal {
        self.requested_size
    }

    pub fn was_resized(&self) -> bool {
        self.order.size != self.requested_size
    }
}

/// Reads the approved order's fields; nothing can change them, so approval cannot be sidestepped.
impl std::ops::Deref for Approved {
    type Target = OrderIntent;

    fn deref(&self) -> &OrderIntent {
        &self.order
    }
}

/// An execution report for an approved order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    pub client_order_id: ClientOrderId,
    pub price: Decimal,
    /// Shares filled by this report (not cumulative).
    pub size: Decimal,
    /// Fees paid in USD (booked as realised loss).
    pub fee: Decimal,
}

/// What a fill did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FillOutcome {
    pub position: PositionId,
    /// Realised P&L booked by this fill (zero for entries except fees).
    pub realised_pnl: Decimal,
    /// True when the fill closed the position completely.
    pub closed: bool,
}

/// A request from the risk manager to close (part of) a position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExitIntent {
    pub position: PositionId,
    pub whale: Option<WhaleId>,
    pub market: MarketId,
    pub token: TokenId,
    /// The closing side (opposite of the position's side).
    pub side: Side,
    /// Shares to close: the whole open size not already being exited.
    pub size: Decimal,
    /// The price that triggered the exit.
    pub trigger_price: Decimal,
    pub reason: ExitReason,
    pub at: Timestamp,
}

impl ExitIntent {
    /// The order that carries out this exit, at `limit_price`.
    pub fn to_order(&self, client_order_id: ClientOrderId, limit_price: Decimal) -> OrderIntent {
        OrderIntent {
            client_order_id,
            source_trade: None,
            whale: self.whale,
            market: self.market,
            token: self.token,
            side: self.side,
            price: limit_price,
            size: self.size,
            leverage: Decimal::ONE,
            reference_price: None,
            stops: StopOverrides::default(),
            kind: OrderKind::Exit { position: self.position, reason: self.reason },
        }
    }
}

/// Whether a working order opens or closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkingKind {
    Entry,
    Exit,
}

/// An approved order that has not finished yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct WorkingOrder {
    pub position: PositionId,
    pub token: TokenId,
    pub kind: WorkingKind,
    pub remaining: Decimal,
    pub price: Decimal,
}
