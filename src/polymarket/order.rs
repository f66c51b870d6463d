//! CLOB V2 orders: fixed-point amounts and the `POST /order` body.
//!
//! The EIP-712 signature itself needs secp256k1 and keccak; it is made by the official SDK behind
//! the `live` cargo feature (see `signer`). Everything here is plain data and arithmetic.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Side;

/// Shares are traded in lots of 0.01.
const LOT_DECIMALS: u32 = 2;
/// pUSD and outcome tokens have 6 decimals: amounts on the wire are integers of 10⁻⁶.
const FIXED_POINT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// The zero bytes32, for `metadata` and `builder` when unused.
pub const ZERO_BYTES32: &str = "0x0000000000000000000000000000000000000000000000000000000000000000";

/// An order that would be refused by the venue; named field, value and rule.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OrderError {
    #[error("tick_size = {0}: must be between 0 and 1")]
    TickSize(Decimal),
    #[error("price = {price}: must be a multiple of the tick {tick} between {tick} and 1 − {tick}")]
    Price { price: Decimal, tick: Decimal },
    #[error("size = {0}: must be at least 0.01 shares once rounded down to the lot of 0.01")]
    Size(Decimal),
    #[error("size = {size}: below the market's minimum order size {min}")]
    BelowMinimum { size: Decimal, min: Decimal },
    #[error("{field} = {value}: does not fit the 6-decimal fixed point")]
    Amount { field: &'static str, value: Decimal },
}

/// Order lifetimes (`orderType`). Copy trading uses FAK: fill what is there now, cancel the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderType {
    Gtc,
    Gtd,
    Fok,
    Fak,
}

/// `makerAmount` / `takerAmount` in 10⁻⁶ units, with the share size they came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderAmounts {
    /// Shares after rounding down to the lot.
    pub size: Decimal,
    pub maker_amount: u64,
    pub taker_amount: u64,
}

/// The amounts of a limit order of `size` shares at `price` (SDK v2 `order_builder.rs`):
/// BUY gives `size × price` pUSD (truncated to tick decimals + 2) for `size` shares;
/// SELL gives `size` shares for `size × price` pUSD.
pub fn limit_order_amounts(
    side: Side,
    price: Decimal,
    size: Decimal,
    tick: Decimal,
    min_order_size: Decimal,
) -> Result<OrderAmounts, OrderError> {
    if tick <= Decimal::ZERO || tick >= Decimal::ONE {
        return Err(OrderError::TickSize(tick));
    }
    if price < tick || price > Decimal::ONE - tick || !(price % tick).is_zero() {
        return Err(OrderError::Price { price, tick });
    }
    let lots = size.round_dp_with_strategy(LOT_DECIMALS, RoundingStrategy::ToZero);
    if lots <= Decimal::ZERO {
        return Err(OrderError::Size(size));
    }
    if lots < min_order_size {
        return Err(OrderError::BelowMinimum { size: lots, min: min_order_size });
    }
    let cash_decimals = tick.normalize().scale() + 2;
    let cash = (lots * price).round_dp_with_strategy(cash_decimals, RoundingStrategy::ToZero);
    let (maker, taker) = match side {
        Side::Buy => (cash, lots),
        Side::Sell => (lots, cash),
    };
    Ok(OrderAmounts {
        size: lots,
        maker_amount: to_fixed_point("makerAmount", maker)?,
        taker_amount: to_fixed_point("takerAmount", taker)?,
    })
}

fn to_fixed_point(field: &'static str, value: Decimal) -> Result<u64, OrderError> {
    let scaled = value * FIXED_POINT;
    if !scaled.fract().is_zero() {
        return Err(OrderError::Amount { field, value });
    }
    scaled.to_u64().ok_or(OrderError::Amount { field, value })
}

/// A deterministic salt (< 2⁵³, sent as a JSON number) from the daemon's client order id: the same
/// intent re-sent after a crash, with the same timestamp, is the same order, and the CLOB refuses it
/// as `Duplicated` instead of filling twice.
pub fn salt_for_client_order_id(client_order_id: &str) -> u64 {
    let digest = Sha256::digest(client_order_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) & ((1u64 << 53) - 1)
}

/// The order's fields as `POST /order` carries them (V2 struct; `expiration` outside the signed
/// struct, `"0"` unless GTD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderWire {
    pub salt: u64,
    /// The funder (proxy / Safe / deposit wallet).
    pub maker: String,
    /// The signing key's address (the deposit wallet itself for type 3).
    pub signer: String,
    /// Decimal uint256 token id.
    pub token_id: String,
    pub maker_amount: String,
    pub taker_amount: String,
    #[serde(with = "wire_side")]
    pub side: Side,
    /// Seconds, as a string.
    pub expiration: String,
    pub signature_type: u8,
    /// Milliseconds, as a string.
    pub timestamp: String,
    pub metadata: String,
    pub builder: String,
    pub signature: String,
}

/// The whole `POST /order` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostOrderRequest {
    pub order: OrderWire,
    /// The API key (uuid) the order is posted under.
    pub owner: String,
    pub order_type: OrderType,
    pub post_only: bool,
    pub defer_exec: bool,
}

/// An order before its signature: what the signer signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedOrder {
    pub salt: u64,
    pub maker: String,
    pub signer: String,
    pub token_id: String,
    pub amounts: OrderAmounts,
    pub side: Side,
    pub signature_type: u8,
    pub timestamp_ms: i64,
    pub expiration_secs: u64,
    pub metadata: String,
    pub builder: String,
    /// Signs against the neg-risk exchange instead of the standard one.
    pub neg_risk: bool,
}

impl UnsignedOrder {
    /// The request body once `signature` is known.
    pub fn into_request(self, signature: String, owner: String, order_type: OrderType) -> PostOrderRequest {
        PostOrderRequest {
            order: OrderWire {
                salt: self.salt,
                maker: self.maker,
                signer: self.signer,
                token_id: self.token_id,
                maker_amount: self.amounts.maker_amount.to_string(),
                taker_amount: self.amounts.taker_amount.to_string(),
                side: self.side,
                expiration: self.expiration_secs.to_string(),
                signature_type: self.signature_type,
                timestamp: self.timestamp_ms.to_string(),
                metadata: self.metadata,
                builder: self.builder,
                signature,
            },
            owner,
            order_type,
            post_only: false,
            defer_exec: false,
        }
    }
}

/// The side as the CLOB writes it: `BUY` / `SELL`.
mod wire_side {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::Side;

    pub fn serialize<S: Serializer>(side: &Side, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match side {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Side, D::Error> {
        let text = String::deserialize(deserializer)?;
        Side::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("side {text:?}: must be BUY or SELL")))
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn buy_and_sell_amounts_follow_the_sdk_rules() {
        // 200 shares at 0.5: the docs example's 100 pUSD for 200 shares.
        let buy = limit_order_amounts(Side::Buy, dec!(0.5), dec!(200), dec!(0.01), dec!(5)).unwrap();
        assert_eq!((buy.maker_amount, buy.taker_amount), (100_000_000, 200_000_000));
        let sell = limit_order_amounts(Side::Sell, dec!(0.5), dec!(200), dec!(0.01), dec!(5)).unwrap();
        assert_eq!((sell.maker_amount, sell.taker_amount), (200_000_000, 100_000_000));
        // 10.129 shares → 10.12 lots; × 0.457 = 4.62484 → 5 decimals (tick 0.001 → 3 + 2) → 4.62484.
        let fine = limit_order_amounts(Side::Buy, dec!(0.457), dec!(10.129), dec!(0.001), dec!(5)).unwrap();
        assert_eq!((fine.size, fine.maker_amount, fine.taker_amount), (dec!(10.12), 4_624_840, 10_120_000));
        // 7.77 × 0.33 = 2.5641 → 4 decimals (tick 0.01) → 2.5641.
        let t = limit_order_amounts(Side::Sell, dec!(0.33), dec!(7.77), dec!(0.01), dec!(5)).unwrap();
        assert_eq!((t.maker_amount, t.taker_amount), (7_770_000, 2_564_100));
    }

    #[test]
    fn venue_rules_are_enforced_before_sending() {
        let err = limit_order_amounts(Side::Buy, dec!(0.555), dec!(10), dec!(0.01), dec!(5)).unwrap_err();
        assert_eq!(err, OrderError::Price { price: dec!(0.555), tick: dec!(0.01) });
        assert!(limit_order_amounts(Side::Buy, dec!(1), dec!(10), dec!(0.01), dec!(5)).is_err());
        assert_eq!(
            limit_order_amounts(Side::Buy, dec!(0.5), dec!(0.004), dec!(0.01), dec!(0)),
            Err(OrderError::Size(dec!(0.004)))
        );
        assert_eq!(
            limit_order_amounts(Side::Buy, dec!(0.5), dec!(4.999), dec!(0.01), dec!(5)),
            Err(OrderError::BelowMinimum { size: dec!(4.99), min: dec!(5) })
        );
    }

    #[test]
    fn salt_is_deterministic_and_fits_a_json_number() {
        let a = salt_for_client_order_id("copy-42");
        assert_eq!(a, salt_for_client_order_id("copy-42"));
        assert_ne!(a, salt_for_client_order_id("copy-43"));
        assert!(a < (1 << 53));
    }

    #[test]
    fn body_matches_the_docs_example_field_for_field() {
        let path = format!(
            "{}/tests/fixtures/polymarket/clob_post_order_request_docs_example.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let docs: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let amounts = limit_order_amounts(Side::Buy, dec!(0.5), dec!(200), dec!(0.01), dec!(5)).unwrap();
        let unsigned = UnsignedOrder {
            salt: 1_234_567_890,
            maker: "0x1234567890123456789012345678901234567890".into(),
            signer: "0x1234567890123456789012345678901234567890".into(),
            token_id: "0xabc123def456...".into(),
            amounts,
            side: Side::Buy,
            signature_type: 0,
            timestamp_ms: 1_735_689_600_000,
            expiration_secs: 1_735_689_600,
            metadata: String::new(),
            builder: ZERO_BYTES32.into(),
            neg_risk: false,
        };
        let body = unsigned.into_request(
            "0x1234abcd...".into(),
            "f4f247b7-4ac7-ff29-a152-04fda0a8755a".into(),
            OrderType::Gtc,
        );
        assert_eq!(serde_json::to_value(&body).unwrap(), docs);
        // and the docs example reads back into the same type
        let parsed: PostOrderRequest = serde_json::from_value(docs).unwrap();
        assert_eq!(parsed, body);
    }
}
