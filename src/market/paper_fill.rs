//! The paper fill model: what a marketable limit order (FAK) would get from the real book.
//!
//! Pure and synchronous. A BUY walks the asks from the best (lowest) price up, a SELL the bids from
//! the best (highest) down, taking each level while its price is within the limit, until the size is
//! filled or the eligible depth runs out (the rest is the unfilled remainder, as FAK cancels it).
//!
//! Extra slippage (bps) models fills worse than the displayed book (queue position, latency): each
//! level's execution price moves against us by `bps / 10,000` of the level price, but never past the
//! limit price, because the exchange never fills a limit order beyond its limit. Which levels are
//! eligible is decided on the book price, as the matching engine does.
//!
//! The fee is the market's taker curve ([`FeeCurve`]) on each level's execution price and size,
//! summed exactly; it is reported separately from the notional (a BUY pays notional + fee, a SELL
//! receives notional − fee, like `usdcSize` on the Data API).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::book::{OrderBook, PriceLevel};
use super::fees::FeeCurve;
use crate::domain::Side;

const BPS_PER_UNIT: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// A request the model refuses.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FillError {
    #[error("size = {0}: must be positive")]
    Size(Decimal),
    #[error("limit_price = {0}: must be between 0 and 1")]
    LimitPrice(Decimal),
    #[error("extra_slippage_bps = {0}: must be between 0 and 10000")]
    Slippage(Decimal),
}

/// What to fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillRequest {
    pub side: Side,
    /// Worst acceptable price per share.
    pub limit_price: Decimal,
    /// Shares wanted.
    pub size: Decimal,
    pub extra_slippage_bps: Decimal,
}

/// The part of the order filled at one book level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelFill {
    /// The level's price in the book.
    pub book_price: Decimal,
    /// The price we are assumed to get there, after slippage.
    pub price: Decimal,
    pub size: Decimal,
    pub fee: Decimal,
}

/// The simulated result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperFill {
    pub side: Side,
    pub fills: Vec<LevelFill>,
    pub filled_size: Decimal,
    pub unfilled_size: Decimal,
    /// Σ price × size over the fills (fees excluded).
    pub notional: Decimal,
    /// Σ fee over the fills.
    pub fee: Decimal,
    /// notional ÷ filled size; `None` when nothing filled.
    pub average_price: Option<Decimal>,
}

impl PaperFill {
    pub fn is_complete(&self) -> bool {
        self.unfilled_size.is_zero()
    }

    /// Cash that moves: paid for a BUY (notional + fee), received for a SELL (notional − fee).
    pub fn cash_flow(&self) -> Decimal {
        match self.side {
            Side::Buy => self.notional + self.fee,
            Side::Sell => self.notional - self.fee,
        }
    }
}

/// Fills `request` against `book` as a taker.
pub fn simulate_fill(book: &OrderBook, request: &FillRequest, fees: &FeeCurve) -> Result<PaperFill, FillError> {
    if request.size <= Decimal::ZERO {
        return Err(FillError::Size(request.size));
    }
    if request.limit_price <= Decimal::ZERO || request.limit_price > Decimal::ONE {
        return Err(FillError::LimitPrice(request.limit_price));
    }
    if request.extra_slippage_bps < Decimal::ZERO || request.extra_slippage_bps > BPS_PER_UNIT {
        return Err(FillError::Slippage(request.extra_slippage_bps));
    }
    let slip = request.extra_slippage_bps / BPS_PER_UNIT;
    let levels: &[PriceLevel] = match request.side {
        Side::Buy => &book.asks,
        Side::Sell => &book.bids,
    };

    let mut remaining = request.size;
    let mut fills = Vec::new();
    for level in levels {
        if remaining.is_zero() || !within_limit(request.side, level.price, request.limit_price) {
            break;
        }
        let size = remaining.min(level.size);
        let price = match request.side {
            Side::Buy => (level.price * (Decimal::ONE + slip)).min(request.limit_price),
            Side::Sell => (level.price * (Decimal::ONE - slip)).max(request.limit_price),
        };
        fills.push(LevelFill { book_price: level.price, price, size, fee: fees.taker_fee(size, price) });
        remaining -= size;
    }

    let filled_size: Decimal = fills.iter().map(|f| f.size).sum();
    let notional: Decimal = fills.iter().map(|f| f.price * f.size).sum();
    let fee: Decimal = fills.iter().map(|f| f.fee).sum();
    Ok(PaperFill {
        side: request.side,
        average_price: (!filled_size.is_zero()).then(|| notional / filled_size),
        fills,
        filled_size,
        unfilled_size: remaining,
        notional,
        fee,
    })
}

fn within_limit(side: Side, level_price: Decimal, limit: Decimal) -> bool {
    match side {
        Side::Buy => level_price <= limit,
        Side::Sell => level_price >= limit,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::clock::Timestamp;

    fn book(bids: &[(Decimal, Decimal)], asks: &[(Decimal, Decimal)]) -> OrderBook {
        let level = |(price, size): &(Decimal, Decimal)| PriceLevel { price: *price, size: *size };
        OrderBook {
            market: "0xm".into(),
            asset_id: "1".into(),
            timestamp: Timestamp::from_millis(1),
            hash: Default::default(),
            bids: bids.iter().map(level).collect(),
            asks: asks.iter().map(level).collect(),
            min_order_size: dec!(5),
            tick_size: dec!(0.01),
            neg_risk: false,
            last_trade_price: None,
        }
    }

    fn request(side: Side, limit_price: Decimal, size: Decimal) -> FillRequest {
        FillRequest { side, limit_price, size, extra_slippage_bps: Decimal::ZERO }
    }

    #[test]
    fn empty_side_fills_nothing() {
        let fill = simulate_fill(&book(&[], &[]), &request(Side::Buy, dec!(0.9), dec!(10)), &FeeCurve::FREE).unwrap();
        assert_eq!((fill.filled_size, fill.unfilled_size, fill.average_price), (dec!(0), dec!(10), None));
        assert!(fill.fills.is_empty());
    }

    #[test]
    fn sell_walks_bids_down_to_the_limit() {
        let b = book(&[(dec!(0.6), dec!(5)), (dec!(0.55), dec!(5)), (dec!(0.5), dec!(100))], &[]);
        let fill = simulate_fill(&b, &request(Side::Sell, dec!(0.55), dec!(20)), &FeeCurve::FREE).unwrap();
        // 5 @ 0.60 + 5 @ 0.55 = 3.00 + 2.75 = 5.75; the 0.50 level is below the limit.
        assert_eq!((fill.filled_size, fill.unfilled_size, fill.notional), (dec!(10), dec!(10), dec!(5.75)));
        assert_eq!(fill.average_price, Some(dec!(0.575)));
    }

    #[test]
    fn slippage_never_passes_the_limit() {
        let b = book(&[], &[(dec!(0.50), dec!(10)), (dec!(0.51), dec!(10))]);
        let req =
            FillRequest { side: Side::Buy, limit_price: dec!(0.51), size: dec!(20), extra_slippage_bps: dec!(300) };
        let fill = simulate_fill(&b, &req, &FeeCurve::FREE).unwrap();
        // 0.50 × 1.03 = 0.515 → capped at 0.51; 0.51 × 1.03 → 0.51.
        assert_eq!(fill.fills.iter().map(|f| f.price).collect::<Vec<_>>(), vec![dec!(0.51), dec!(0.51)]);
    }

    #[test]
    fn bad_requests_are_refused() {
        let b = book(&[], &[]);
        assert_eq!(
            simulate_fill(&b, &request(Side::Buy, dec!(0.5), dec!(0)), &FeeCurve::FREE),
            Err(FillError::Size(dec!(0)))
        );
        assert_eq!(
            simulate_fill(&b, &request(Side::Buy, dec!(1.2), dec!(1)), &FeeCurve::FREE),
            Err(FillError::LimitPrice(dec!(1.2)))
        );
        let req = FillRequest { extra_slippage_bps: dec!(-1), ..request(Side::Buy, dec!(0.5), dec!(1)) };
        assert_eq!(simulate_fill(&b, &req, &FeeCurve::FREE), Err(FillError::Slippage(dec!(-1))));
    }
}
