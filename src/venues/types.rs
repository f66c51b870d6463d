//! The shapes every venue is read into: an order as the plan executor asks for it, what the venue
//! says about it, a book ticker, a position and a balance. Prices and sizes are `Decimal`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::Side;

/// A plan's symbol (`BTC/USDT`) as both venues name it (`BTCUSDT`).
pub fn venue_symbol(plan_symbol: &str) -> String {
    plan_symbol.chars().filter(|c| *c != '/').flat_map(char::to_uppercase).collect()
}

/// How an order is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OrderType {
    /// Good till cancelled at `price` (already on the symbol's tick).
    Limit { price: Decimal },
    /// At the best prices the book has now.
    Market,
}

/// One order as it is sent: every number already rounded to the symbol's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Ours, written ahead before the order is sent; the venue keeps it (Binance
    /// `newClientOrderId`, Bybit `orderLinkId`: at most 36 of `[A-Za-z0-9_-]`), so an order whose
    /// answer was lost can be asked about by it.
    pub client_order_id: String,
    /// The venue's symbol (`BTCUSDT`).
    pub symbol: String,
    pub side: Side,
    pub order_type: OrderType,
    /// In base units (on the symbol's step).
    pub quantity: Decimal,
    /// Only reduces a position (futures; spot has no such flag and ignores it).
    pub reduce_only: bool,
    /// A stop-loss the venue itself holds for the position, where the venue takes one with the order.
    pub stop_loss: Option<Decimal>,
    /// A take-profit the venue itself holds, where the venue takes one with the order.
    pub take_profit: Option<Decimal>,
}

/// Where an order is, as the venue says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, nothing filled yet.
    New,
    PartiallyFilled,
    Filled,
    /// Cancelled (by us, or by the venue: an IOC remainder, self-trade prevention); what filled stays.
    Cancelled,
    Rejected,
    Expired,
}

impl OrderStatus {
    /// Nothing more will happen to the order.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected | OrderStatus::Expired)
    }
}

/// An order at the venue: cumulative, so that reading it twice never counts a fill twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub client_order_id: String,
    /// The venue's own id (Binance `orderId` as text, Bybit `orderId`).
    pub venue_order_id: String,
    pub status: OrderStatus,
    /// Base units filled so far.
    pub filled_quantity: Decimal,
    /// Average price of what filled (0 when nothing did).
    pub average_price: Decimal,
    /// Fees paid so far, in the quote currency (0 when the venue charged them in another asset or
    /// does not say in this answer).
    pub fee: Decimal,
}

/// Best bid and ask of one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookTicker {
    pub bid: Decimal,
    pub bid_quantity: Decimal,
    pub ask: Decimal,
    pub ask_quantity: Decimal,
    /// When the venue says the quote was made, if it says (Binance futures `time`, Bybit `time`);
    /// otherwise when it was read.
    pub at: Timestamp,
}

/// A position the venue holds for us on one symbol (futures), or the base asset held (spot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenuePosition {
    pub symbol: String,
    /// Signed: positive long, negative short.
    pub quantity: Decimal,
    /// Average entry (0 when the venue does not keep one, as on spot).
    pub entry_price: Decimal,
}

/// One asset of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub asset: String,
    pub free: Decimal,
    pub locked: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_symbols_become_venue_symbols() {
        assert_eq!(venue_symbol("BTC/USDT"), "BTCUSDT");
        assert_eq!(venue_symbol("eth/usdt"), "ETHUSDT");
        assert_eq!(venue_symbol("SOLUSDT"), "SOLUSDT");
    }
}
