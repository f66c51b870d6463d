//! A whale's trade as the engine sees it, whichever Data API generation it came from, and the
//! exact key that tells two rows apart.
//!
//! The key, and its text form, are made here and nowhere else. Each layer that must not act twice
//! on one trade keeps it in the form its job needs: the feed's cursor remembers [`TradeKey`]s of
//! its overlap window (a row read again on the next poll), the engine a [`crate::domain::SourceTradeId`]
//! hashed from the text (a trade decided on once), the risk manager's duplicate guard the same id
//! (one order per trade), and the store the text (what a restart must not decide again).

use std::fmt;

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::Side;

/// One fill of a followed wallet, normalised from a v1 or v2 Data API row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhaleTrade {
    /// The settling transaction. **Not unique**: one transaction settles several fills.
    pub transaction_hash: String,
    /// The proxy wallet that traded (lowercase), i.e. the followed address.
    pub wallet: String,
    /// The market: condition id, `0x` + 64 hex digits.
    pub condition_id: String,
    /// The outcome token (CLOB token id, a decimal uint256 kept as text).
    pub asset: String,
    /// Outcome label, e.g. `"Yes"`; may be empty on fresh rows.
    pub outcome: String,
    /// Index in the market's outcomes; `None` when the API says 999 ("could not be labeled").
    pub outcome_index: Option<u32>,
    pub side: Side,
    /// Shares.
    pub size: Decimal,
    /// USDC per share, 0..1; often an average that is off the tick grid.
    pub price: Decimal,
    /// Cash that moved, fees included, when the row says so (activity rows do, `/trades` rows do not).
    pub usdc_size: Option<Decimal>,
    /// Block time of the fill (the API gives seconds; stored as milliseconds like every timestamp).
    pub timestamp: Timestamp,
    pub title: String,
    pub slug: String,
}

impl WhaleTrade {
    /// The identity used for dedupe across pages, polls and restarts.
    pub fn key(&self) -> TradeKey {
        TradeKey::new(&self.transaction_hash, &self.asset, self.side, self.size, self.price, self.timestamp)
    }

    /// The text form of [`WhaleTrade::key`], written into `out` (cleared first) without building
    /// the key: the engine needs it for every trade it sees, so it reuses one buffer.
    pub fn write_key_text(&self, out: &mut String) {
        out.clear();
        out.push_str(&self.transaction_hash);
        out.make_ascii_lowercase();
        // Writing into a String cannot fail.
        let _ = write_key_tail(out, &self.asset, self.side, self.size, self.price, self.timestamp);
    }

    /// `size × price`: the whale's notional in USDC, before fees.
    pub fn notional(&self) -> Decimal {
        self.size * self.price
    }
}

#[cfg(test)]
impl WhaleTrade {
    /// A buy of 10 `Yes` shares at 0.5 by wallet `0xw` of token `1` in market `0xc`, in transaction
    /// `tx` at `timestamp`: unit tests change what they are about with struct update syntax.
    pub(crate) fn sample(tx: &str, timestamp: Timestamp) -> Self {
        Self {
            transaction_hash: tx.into(),
            wallet: "0xw".into(),
            condition_id: "0xc".into(),
            asset: "1".into(),
            outcome: "Yes".into(),
            outcome_index: Some(0),
            side: Side::Buy,
            size: Decimal::TEN,
            price: Decimal::new(5, 1),
            usdc_size: None,
            timestamp,
            title: String::new(),
            slug: String::new(),
        }
    }
}

/// (transaction hash, asset, side, size, price, timestamp), with size and price compared as
/// decimals: `0.5` and `0.50` are the same row, `0.5699998232997013` and `0.5699998232997014` are not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TradeKey {
    pub timestamp: Timestamp,
    pub transaction_hash: String,
    pub asset: String,
    pub side: Side,
    pub size: Decimal,
    pub price: Decimal,
}

impl TradeKey {
    pub fn new(
        transaction_hash: &str,
        asset: &str,
        side: Side,
        size: Decimal,
        price: Decimal,
        timestamp: Timestamp,
    ) -> Self {
        // Normalised so that the derived Eq/Ord/Hash and the Display form agree on "same number".
        Self {
            timestamp,
            transaction_hash: transaction_hash.to_ascii_lowercase(),
            asset: asset.to_string(),
            side,
            size: size.normalize(),
            price: price.normalize(),
        }
    }
}

impl fmt::Display for TradeKey {
    /// A stable text id for audit records: `tx:asset:side:size:price:ts_ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.transaction_hash)?;
        write_key_tail(f, &self.asset, self.side, self.size, self.price, self.timestamp)
    }
}

/// Everything of the key text after the transaction hash: `:asset:side:size:price:ts_ms`, decimals
/// normalised so that `0.5` and `0.50` write the same text.
fn write_key_tail(
    out: &mut impl fmt::Write,
    asset: &str,
    side: Side,
    size: Decimal,
    price: Decimal,
    timestamp: Timestamp,
) -> fmt::Result {
    write!(out, ":{asset}:{}:{}:{}:{}", key_side(side), size.normalize(), price.normalize(), timestamp.millis())
}

/// The side as the key text writes it: upper case, as the Data API names it, so that keys stored by
/// every earlier version still read back and compare equal.
fn key_side(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// A stored dedupe key that is not in the `tx:asset:side:size:price:ts_ms` form.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("trade key {key:?}: {rule}")]
pub struct TradeKeyError {
    pub key: String,
    pub rule: &'static str,
}

impl std::str::FromStr for TradeKey {
    type Err = TradeKeyError;

    /// Reads the [`fmt::Display`] form back (the store keeps seen trades by it).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |rule| TradeKeyError { key: text.chars().take(200).collect(), rule };
        let parts: Vec<&str> = text.split(':').collect();
        let [tx, asset, side, size, price, ts] = parts.as_slice() else {
            return Err(err("must have six ':'-separated parts: tx:asset:side:size:price:ts_ms"));
        };
        if tx.is_empty() || asset.is_empty() {
            return Err(err("transaction hash and asset must not be empty"));
        }
        let side = Side::parse(side).ok_or_else(|| err("side must be BUY or SELL"))?;
        let size: Decimal = size.parse().map_err(|_| err("size must be a decimal"))?;
        let price: Decimal = price.parse().map_err(|_| err("price must be a decimal"))?;
        let ms: i64 = ts.parse().map_err(|_| err("timestamp must be integer milliseconds"))?;
        Ok(TradeKey::new(tx, asset, side, size, price, Timestamp::from_millis(ms)))
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn keys_compare_decimals_by_value_not_by_text() {
        let a = TradeKey::new("0xAB", "1", Side::Buy, dec!(100.0), dec!(0.50), Timestamp::from_secs(1));
        let b = TradeKey::new("0xab", "1", Side::Buy, dec!(100), dec!(0.5), Timestamp::from_secs(1));
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "0xab:1:BUY:100:0.5:1000");
        let c = TradeKey::new("0xab", "1", Side::Buy, dec!(100), dec!(0.5000000000000001), Timestamp::from_secs(1));
        assert_ne!(a, c);
        let d = TradeKey::new("0xab", "1", Side::Sell, dec!(100), dec!(0.5), Timestamp::from_secs(1));
        assert_ne!(a, d);
    }

    #[test]
    fn keys_read_back_from_their_text() {
        let key = TradeKey::new("0xAB", "123", Side::Sell, dec!(2538.26612), dec!(0.5699998232997013), Timestamp(7));
        let text = key.to_string();
        assert_eq!(text.parse::<TradeKey>(), Ok(key));
        assert!("0xab:1:BUY:1:0.5".parse::<TradeKey>().is_err());
        assert!("0xab:1:HOLD:1:0.5:1".parse::<TradeKey>().is_err());
        assert!("trade#00ff".parse::<TradeKey>().is_err());
    }

    #[test]
    fn the_buffered_key_text_is_the_text_form_of_the_key() {
        let trade = |tx: &str, side, size, price| WhaleTrade {
            side,
            size,
            price,
            ..WhaleTrade::sample(tx, Timestamp::from_secs(1_767_607_200))
        };
        let mut text = String::from("left over from the previous trade");
        for t in [
            trade("0xABcd", Side::Buy, dec!(100.0), dec!(0.50)),
            trade("0xabcd", Side::Sell, dec!(2538.26612), dec!(0.5699998232997013)),
            trade("0x00", Side::Buy, dec!(0.000100), dec!(1)),
        ] {
            t.write_key_text(&mut text);
            assert_eq!(text, t.key().to_string());
            assert_eq!(text.parse::<TradeKey>(), Ok(t.key()));
        }
    }
}
