//! The rows the engine writes: plain data with exact `Decimal` money and `Timestamp` times.
//!
//! These types belong to the store so that it depends on nothing but the shared vocabulary
//! (`clock`, `domain`): the engine maps its own types onto them. Enumerations are stored as their snake_case names, money as decimal text
//! (exact, and readable in the `sqlite3` shell), times as milliseconds since the epoch.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{Side, WhaleVerdict};

use super::error::StoreError;

/// Declares a closed set of names stored as text, with `as_str` and `parse`.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum!(
    /// Whether a position is still held.
    PositionStatus { Open => "open", Closed => "closed" }
);

stored_enum!(
    /// Whether an order opens or closes a position.
    OrderKind { Entry => "entry", Exit => "exit" }
);

stored_enum!(
    /// Where an order is in its life. `Unknown` means the outcome was lost (crash, timeout) and must be
    /// reconciled with the venue before anything else is sent for it.
    OrderStatus {
        Pending => "pending",
        Submitted => "submitted",
        PartiallyFilled => "partially_filled",
        Filled => "filled",
        Cancelled => "cancelled",
        Rejected => "rejected",
        Unknown => "unknown",
    }
);

impl OrderStatus {
    /// A final order never changes again; every other one is restored and reconciled at start.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected)
    }
}

stored_enum!(
    /// Where an on-chain redemption is: written ahead (`pending`), signed and recorded before
    /// broadcasting (`sent`), then `confirmed` or `failed`.
    RedemptionStatus { Pending => "pending", Sent => "sent", Confirmed => "confirmed", Failed => "failed" }
);

impl RedemptionStatus {
    /// A final redemption never changes again; the others are finished after a restart.
    pub fn is_final(self) -> bool {
        matches!(self, RedemptionStatus::Confirmed | RedemptionStatus::Failed)
    }
}

/// The redemption of a resolved market's winning shares on chain (live mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionRecord {
    /// `<condition id>/<trade id of the first winning position settled>`.
    pub redemption_id: String,
    pub condition_id: String,
    /// The winning token held.
    pub token_id: String,
    /// Its outcome label (`Yes` / `No` in neg-risk markets).
    pub outcome: String,
    /// Winning shares held at resolution: the USD the redemption pays.
    pub shares: Decimal,
    pub neg_risk: bool,
    pub status: RedemptionStatus,
    /// The signed transaction's hash, recorded before it is broadcast.
    pub tx_hash: Option<String>,
    pub nonce: Option<u64>,
    /// The signed raw transaction (0x hex): a restart broadcasts exactly this again, never a new one.
    pub raw_tx: Option<String>,
    /// How it ended: the receipt's block, or why it failed.
    pub detail: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A redemption's next step, as the redeemer records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionUpdate {
    pub redemption_id: String,
    pub status: RedemptionStatus,
    /// Set with `sent`: the transaction's hash, nonce and raw bytes.
    pub sent: Option<SentTransaction>,
    pub detail: Option<String>,
    pub updated_at: Timestamp,
}

/// A signed transaction, recorded before it is broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentTransaction {
    pub tx_hash: String,
    pub nonce: u64,
    pub raw_tx: String,
}

/// A copied position, open or closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRecord {
    pub position_id: String,
    pub whale_wallet: String,
    /// The market's condition id.
    pub market_id: String,
    pub token_id: String,
    pub outcome: String,
    pub side: Side,
    pub size: Decimal,
    pub entry_price: Decimal,
    pub opened_at: Timestamp,
    pub status: PositionStatus,
    /// The best price seen since entry (trailing stop); high-rate, so written coalesced.
    pub high_water_price: Option<Decimal>,
    pub exit_price: Option<Decimal>,
    pub realised_pnl: Option<Decimal>,
    pub closed_at: Option<Timestamp>,
    /// `stop_loss`, `take_profit`, `trailing_stop`, `whale_exit`, `market_resolved`, `manual`, `kill`.
    pub exit_reason: Option<String>,
}

/// A trade as the history reads it: its position row and the fees of every fill booked to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRecord {
    pub position: PositionRecord,
    pub fees: Decimal,
}

/// An order intent and its life at the venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Ours, unique forever: the key that makes "never send twice" checkable.
    pub client_order_id: String,
    pub venue_order_id: Option<String>,
    pub position_id: Option<String>,
    /// The seen whale trade this order copies (entries and whale exits).
    pub whale_trade_key: Option<String>,
    pub token_id: String,
    pub side: Side,
    pub limit_price: Decimal,
    pub size: Decimal,
    pub kind: OrderKind,
    pub status: OrderStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One execution of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillRecord {
    pub fill_id: String,
    pub client_order_id: String,
    pub price: Decimal,
    pub size: Decimal,
    pub fee: Decimal,
    pub filled_at: Timestamp,
}

/// The risk manager's state: its own export as JSON, plus the figures a human wants to read in `sqlite3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskStateRecord {
    /// The risk manager's exported state, as JSON text.
    pub state_json: String,
    pub trading_state: String,
    pub reason: Option<String>,
    pub peak_equity: Decimal,
    pub start_of_day_equity: Decimal,
    pub daily_pnl: Decimal,
    pub breaker_trips: u32,
    pub loss_streak: u32,
    pub updated_at: Timestamp,
}

/// The engine's own state besides the risk manager's: see `migrations/0002_engine_checkpoint.sql`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineCheckpointRecord {
    /// What the engine was reading, e.g. `replay:data/sample_session.jsonl` or `polymarket`.
    pub source: String,
    /// For a replayed session: the last message whose effects this checkpoint holds.
    pub cursor: Option<u64>,
    /// The engine's checkpoint as JSON text.
    pub state_json: String,
    pub updated_at: Timestamp,
}

/// One move between trading states (`active`, `reducing`, `halted`, `killed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradingStateChange {
    pub from_state: String,
    pub to_state: String,
    /// A stable reason code, e.g. `daily_loss_limit` or `manual_halt`.
    pub reason: String,
    pub detail: Option<String>,
    pub changed_at: Timestamp,
}

/// A whale trade the engine has already decided on: never decided on twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenWhaleTrade {
    /// The exact dedupe key (transaction hash, asset, side, size, price, timestamp).
    pub dedupe_key: String,
    pub wallet: String,
    /// When the whale traded.
    pub traded_at: Timestamp,
    pub decision: WhaleVerdict,
}

/// How far the feed has read one whale's trades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhaleWatermark {
    pub wallet: String,
    pub watermark: Timestamp,
}

/// One approval or rejection, with its reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub whale_trade_key: String,
    pub wallet: String,
    pub market_id: String,
    pub token_id: String,
    pub decision: WhaleVerdict,
    /// A stable snake_case code (`max_total_positions`, `price_moved`, … or `copied`).
    pub reason_code: String,
    pub detail: Option<String>,
    pub decided_at: Timestamp,
}

/// An alert waiting for (or done with) delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub alert_id: String,
    /// The dispatcher's priority name, e.g. `critical`.
    pub priority: String,
    pub title: String,
    /// The alert's fields, as JSON text.
    pub body_json: String,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// Checks that an identifier the store keys rows on is present.
pub(crate) fn require_id(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.trim().is_empty() { Err(StoreError::invalid(field, value, "must not be empty")) } else { Ok(()) }
}

/// Checks that a quantity is not negative.
pub(crate) fn require_non_negative(field: &'static str, value: Decimal) -> Result<(), StoreError> {
    if value.is_sign_negative() && !value.is_zero() {
        Err(StoreError::invalid(field, value.to_string(), "must not be negative"))
    } else {
        Ok(())
    }
}

/// Checks that a quantity is strictly positive.
pub(crate) fn require_positive(field: &'static str, value: Decimal) -> Result<(), StoreError> {
    if value <= Decimal::ZERO { Err(StoreError::invalid(field, value.to_string(), "must be positive")) } else { Ok(()) }
}

/// Checks that text is one JSON document.
pub(crate) fn require_json(field: &'static str, value: &str) -> Result<(), StoreError> {
    match serde_json::from_str::<serde::de::IgnoredAny>(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(StoreError::invalid(field, truncate_for_error(value), "must be valid JSON")),
    }
}

fn truncate_for_error(value: &str) -> String {
    value.chars().take(80).collect()
}

impl PositionRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("position.position_id", &self.position_id)?;
        require_id("position.whale_wallet", &self.whale_wallet)?;
        require_id("position.token_id", &self.token_id)?;
        require_non_negative("position.size", self.size)?;
        require_non_negative("position.entry_price", self.entry_price)?;
        if self.status == PositionStatus::Closed && self.closed_at.is_none() {
            return Err(StoreError::invalid("position.closed_at", "none", "must be set when the status is closed"));
        }
        Ok(())
    }
}

impl RedemptionRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("redemption.redemption_id", &self.redemption_id)?;
        require_id("redemption.condition_id", &self.condition_id)?;
        require_id("redemption.token_id", &self.token_id)?;
        require_positive("redemption.shares", self.shares)
    }
}

impl RedemptionUpdate {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("redemption_update.redemption_id", &self.redemption_id)?;
        match (&self.sent, self.status) {
            (None, RedemptionStatus::Sent) => Err(StoreError::invalid(
                "redemption_update.sent",
                "none",
                "a sent redemption records its transaction hash, nonce and raw bytes",
            )),
            (Some(sent), _) => {
                require_id("redemption_update.tx_hash", &sent.tx_hash)?;
                require_id("redemption_update.raw_tx", &sent.raw_tx)?;
                if i64::try_from(sent.nonce).is_err() {
                    return Err(StoreError::invalid(
                        "redemption_update.nonce",
                        sent.nonce.to_string(),
                        "must fit in a signed 64-bit integer",
                    ));
                }
                Ok(())
            }
            (None, _) => Ok(()),
        }
    }
}

impl OrderRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("order.client_order_id", &self.client_order_id)?;
        require_id("order.token_id", &self.token_id)?;
        require_positive("order.size", self.size)?;
        require_non_negative("order.limit_price", self.limit_price)
    }
}

impl FillRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("fill.fill_id", &self.fill_id)?;
        require_id("fill.client_order_id", &self.client_order_id)?;
        require_positive("fill.size", self.size)?;
        require_non_negative("fill.price", self.price)?;
        require_non_negative("fill.fee", self.fee)
    }
}

impl RiskStateRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_json("risk_state.state_json", &self.state_json)?;
        require_id("risk_state.trading_state", &self.trading_state)
    }
}

impl EngineCheckpointRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("engine_checkpoint.source", &self.source)?;
        if self.cursor.is_some_and(|c| i64::try_from(c).is_err()) {
            return Err(StoreError::invalid(
                "engine_checkpoint.cursor",
                self.cursor.map(|c| c.to_string()).unwrap_or_default(),
                "must fit in a signed 64-bit integer",
            ));
        }
        require_json("engine_checkpoint.state_json", &self.state_json)
    }
}

impl TradingStateChange {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("trading_state_change.to_state", &self.to_state)?;
        require_id("trading_state_change.reason", &self.reason)
    }
}

impl SeenWhaleTrade {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("seen_trade.dedupe_key", &self.dedupe_key)?;
        require_id("seen_trade.wallet", &self.wallet)
    }
}

impl DecisionRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("decision.whale_trade_key", &self.whale_trade_key)?;
        require_id("decision.reason_code", &self.reason_code)
    }
}

impl AlertRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        require_id("alert.alert_id", &self.alert_id)?;
        require_id("alert.priority", &self.priority)?;
        require_json("alert.body_json", &self.body_json)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn stored_names_round_trip_and_unknown_names_are_refused() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(*status));
        }
        for decision in WhaleVerdict::ALL {
            assert_eq!(WhaleVerdict::parse(decision.as_str()), Some(*decision));
        }
        assert_eq!(OrderStatus::parse("Filled"), None);
        assert_eq!(serde_json::to_string(&OrderStatus::PartiallyFilled).unwrap(), "\"partially_filled\"");
    }

    #[test]
    fn only_filled_cancelled_and_rejected_orders_are_final() {
        let finals: Vec<_> = OrderStatus::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
        assert_eq!(finals, ["filled", "cancelled", "rejected"]);
    }

    #[test]
    fn validation_names_the_field_and_rule() {
        let fill = FillRecord {
            fill_id: "f1".into(),
            client_order_id: "c1".into(),
            price: dec!(0.5),
            size: dec!(0),
            fee: dec!(0),
            filled_at: Timestamp(1),
        };
        let err = fill.validate().unwrap_err();
        assert_eq!(err.to_string(), "invalid fill.size = \"0\": must be positive");
        assert!(require_json("alert.body_json", "{not json").is_err());
        assert!(require_json("alert.body_json", "{\"a\":1}").is_ok());
        assert!(require_non_negative("x", dec!(-0.01)).is_err());
        assert!(require_id("x", "  ").is_err());
    }
}
