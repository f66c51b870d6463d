//! From an engine order intent to a V2 CLOB order, before its signature. Pure.
//!
//! The intent names its token by the engine's interned id; the venue needs the decimal token id,
//! the tick, the minimum size and whether the market is neg-risk (another exchange contract signs
//! it), which all come from the token's latest book. Every entry and exit goes out as FAK: fill
//! what the book offers up to the limit now, cancel the rest.

use rust_decimal::Decimal;

use super::LiveError;
use crate::clock::Timestamp;
use crate::domain::{ClientOrderId, Side};
use crate::engine::MarketView;
use crate::market::FeeCurve;
use crate::polymarket::{UnsignedOrder, ZERO_BYTES32, limit_order_amounts, salt_for_client_order_id};
use crate::risk::{OrderIntent, OrderKind};

/// Who places the orders (from `[polymarket.credentials]` and the signing key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderIdentity {
    /// The funder (proxy / Safe wallet) holding the collateral: the order's `maker`.
    pub maker: String,
    /// The signing key's address: the order's `signer` and `POLY_ADDRESS`.
    pub signer: String,
    /// 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE.
    pub signature_type: u8,
}

/// An order ready to be signed, with what the executor needs to follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedOrder {
    pub client_order_id: ClientOrderId,
    pub unsigned: UnsignedOrder,
    pub token_id: String,
    pub side: Side,
    pub limit_price: Decimal,
    /// Shares, rounded down to the venue's lot.
    pub size: Decimal,
    pub is_entry: bool,
    /// The market's taker fee curve, for the reports.
    pub fee: FeeCurve,
}

/// Builds the order for `intent` against the token's latest book at `now`.
///
/// The salt is derived from the client order id (`salt_for_client_order_id`) and the timestamp is
/// `now`: the order, and so its hash (the CLOB's order id), is fixed before anything is sent.
pub fn prepare(
    intent: &OrderIntent,
    market: MarketView<'_>,
    identity: &OrderIdentity,
    now: Timestamp,
) -> Result<PreparedOrder, LiveError> {
    let book = market.book.ok_or(LiveError::NoBook)?;
    let side = intent.side;
    let tick = if book.tick_size > Decimal::ZERO { book.tick_size } else { market.rules.tick_size };
    let amounts = limit_order_amounts(side, intent.price, intent.size, tick, book.min_order_size)?;
    let unsigned = UnsignedOrder {
        salt: salt_for_client_order_id(&intent.client_order_id.to_string()),
        maker: identity.maker.clone(),
        signer: identity.signer.clone(),
        token_id: book.asset_id.clone(),
        amounts,
        side,
        signature_type: identity.signature_type,
        timestamp_ms: now.millis(),
        expiration_secs: 0,
        metadata: ZERO_BYTES32.to_owned(),
        builder: ZERO_BYTES32.to_owned(),
        neg_risk: book.neg_risk,
    };
    Ok(PreparedOrder {
        client_order_id: intent.client_order_id,
        token_id: book.asset_id.clone(),
        side,
        limit_price: intent.price,
        size: amounts.size,
        is_entry: matches!(intent.kind, OrderKind::Entry),
        fee: market.rules.fee,
        unsigned,
    })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::{MarketId, TokenId};
    use crate::engine::VenueRules;
    use crate::market::OrderBook;

    const BOOK: &str = r#"{"market":"0xc0","asset_id":"2409840732","timestamp":"1000","bids":[{"price":"0.40","size":"100"}],"asks":[{"price":"0.45","size":"100"}],"min_order_size":"5","tick_size":"0.01","neg_risk":true}"#;

    fn identity() -> OrderIdentity {
        OrderIdentity {
            maker: "0x9999999999999999999999999999999999999999".into(),
            signer: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".into(),
            signature_type: 2,
        }
    }

    #[test]
    fn an_intent_becomes_a_fak_ready_order_named_by_the_books_token() {
        let book = OrderBook::from_json(BOOK).unwrap();
        let intent = OrderIntent::entry(ClientOrderId(7), MarketId(0), TokenId(0), Side::Buy, dec!(0.45), dec!(10.129));
        let market = MarketView { book: Some(&book), rules: VenueRules::default() };
        let order = prepare(&intent, market, &identity(), Timestamp(1_700_000_000_000)).unwrap();
        assert_eq!(order.token_id, "2409840732");
        assert_eq!(
            (order.size, order.unsigned.amounts.maker_amount, order.unsigned.amounts.taker_amount),
            (dec!(10.12), 4_554_000, 10_120_000)
        );
        assert_eq!(order.unsigned.salt, salt_for_client_order_id("order#7"));
        assert!(order.unsigned.neg_risk && order.is_entry);
        assert_eq!(order.unsigned.timestamp_ms, 1_700_000_000_000);
    }

    #[test]
    fn no_book_or_a_price_off_the_tick_is_refused_before_anything_is_sent() {
        let intent = OrderIntent::entry(ClientOrderId(7), MarketId(0), TokenId(0), Side::Buy, dec!(0.455), dec!(10));
        let market = MarketView { book: None, rules: VenueRules::default() };
        assert!(matches!(prepare(&intent, market, &identity(), Timestamp(1)), Err(LiveError::NoBook)));
        let book = OrderBook::from_json(BOOK).unwrap();
        let market = MarketView { book: Some(&book), rules: VenueRules::default() };
        assert!(matches!(prepare(&intent, market, &identity(), Timestamp(1)), Err(LiveError::Order(_))));
    }
}
