//! The venue's answers as execution reports. Pure.
//!
//! - `POST /order` answered `matched`: `makingAmount` / `takingAmount` are what was exchanged, in
//!   10⁻⁶ units (a BUY makes pUSD and takes shares, a SELL the other way round).
//! - otherwise the order's status (`GET /data/order/{id}`: `size_matched`) and its trades
//!   (`GET /data/trades?id=…`: size and price of each fill) tell what happened.
//!
//! Fees follow the market's V2 curve per fill (takers pay, makers do not on taker-only curves).

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::ClientOrderId;
use crate::domain::Side;
use crate::engine::ExecutionReport;
use crate::market::FeeCurve;
use crate::polymarket::{ClobTrade, OpenOrder};

/// 10⁶: order amounts on the wire are integers of 10⁻⁶ pUSD or shares.
const FIXED_POINT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// One execution of our order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueFill {
    pub size: Decimal,
    pub price: Decimal,
    /// We took liquidity (FAK orders always do, unless they rested under the async pipeline).
    pub taker: bool,
}

/// Where an order stands at the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueStatus {
    /// Resting or still being processed (`LIVE`, `DELAYED`): may still fill.
    Working,
    /// Nothing more will happen (`MATCHED`, `CANCELED`, `UNMATCHED`, or an unknown final word).
    Finished,
}

/// Reads an order status word.
pub fn venue_status(status: &str) -> VenueStatus {
    match status.to_ascii_uppercase().as_str() {
        "LIVE" | "DELAYED" | "OPEN" => VenueStatus::Working,
        _ => VenueStatus::Finished,
    }
}

/// The fill of a `matched` answer from its amounts; `None` when they are missing or not integers.
pub fn fill_from_amounts(side: Side, making: &str, taking: &str) -> Option<VenueFill> {
    let units = |text: &str| text.trim().parse::<u64>().ok().map(|n| Decimal::from(n) / FIXED_POINT);
    let (cash, shares) = match side {
        Side::Buy => (units(making)?, units(taking)?),
        Side::Sell => (units(taking)?, units(making)?),
    };
    if shares <= Decimal::ZERO {
        return None;
    }
    Some(VenueFill { size: shares, price: cash / shares, taker: true })
}

/// Our fills among `trades` (the venue's trade records of the order).
pub fn fills_from_trades(trades: &[ClobTrade]) -> Vec<VenueFill> {
    trades
        .iter()
        .filter(|t| !t.status.eq_ignore_ascii_case("FAILED") && t.size > Decimal::ZERO)
        .map(|t| VenueFill { size: t.size, price: t.price, taker: !t.trader_side.eq_ignore_ascii_case("MAKER") })
        .collect()
}

/// The fills an order status implies when its trades cannot be read: `size_matched` at the order's
/// limit price (the worst price it could have filled at).
pub fn fill_from_status(order: &OpenOrder) -> Option<VenueFill> {
    (order.size_matched > Decimal::ZERO).then_some(VenueFill {
        size: order.size_matched,
        price: order.price,
        taker: true,
    })
}

/// One report for everything `fills` say, finished (`done`) when the venue says so.
pub fn report(
    client_order_id: ClientOrderId,
    fills: &[VenueFill],
    fee: &FeeCurve,
    done: bool,
    note: Option<String>,
    at: Timestamp,
) -> ExecutionReport {
    let size: Decimal = fills.iter().map(|f| f.size).sum();
    let cash: Decimal = fills.iter().map(|f| f.size * f.price).sum();
    let fees: Decimal = fills
        .iter()
        .map(|f| if f.taker { fee.taker_fee(f.size, f.price) } else { fee.maker_fee(f.size, f.price) })
        .sum();
    ExecutionReport {
        client_order_id,
        filled_size: size,
        avg_price: if size.is_zero() { Decimal::ZERO } else { cash / size },
        fee: fees,
        done,
        note,
        at,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn matched_amounts_are_fixed_point_and_sided() {
        // The docs example: 100 pUSD for 200 shares.
        let buy = fill_from_amounts(Side::Buy, "100000000", "200000000").unwrap();
        assert_eq!((buy.size, buy.price), (dec!(200), dec!(0.5)));
        let sell = fill_from_amounts(Side::Sell, "10000000", "4300000").unwrap();
        assert_eq!((sell.size, sell.price), (dec!(10), dec!(0.43)));
        assert!(fill_from_amounts(Side::Buy, "", "").is_none());
        assert!(fill_from_amounts(Side::Buy, "5", "0").is_none());
    }

    #[test]
    fn a_report_sums_fills_with_the_fee_curve_per_fill() {
        let curve = FeeCurve::new(dec!(0.05), dec!(1), true).unwrap();
        let fills = [
            VenueFill { size: dec!(8.37), price: dec!(0.43), taker: true },
            VenueFill { size: dec!(1.63), price: dec!(0.53), taker: true },
            VenueFill { size: dec!(5), price: dec!(0.5), taker: false },
        ];
        let r = report(ClientOrderId(3), &fills, &curve, true, None, Timestamp(9));
        assert_eq!(r.filled_size, dec!(15));
        assert_eq!(r.avg_price, (dec!(8.37) * dec!(0.43) + dec!(1.63) * dec!(0.53) + dec!(2.5)) / dec!(15));
        let fee = dec!(8.37) * dec!(0.05) * dec!(0.43) * dec!(0.57) + dec!(1.63) * dec!(0.05) * dec!(0.53) * dec!(0.47);
        assert_eq!(r.fee, fee, "the maker fill pays nothing on a taker-only curve");
        let none = ExecutionReport::unfilled(ClientOrderId(3), "refused", Timestamp(9));
        assert_eq!((none.filled_size, none.avg_price, none.done), (dec!(0), dec!(0), true));
    }

    #[test]
    fn statuses_that_may_still_fill_are_working() {
        assert_eq!(venue_status("LIVE"), VenueStatus::Working);
        assert_eq!(venue_status("delayed"), VenueStatus::Working);
        assert_eq!(venue_status("MATCHED"), VenueStatus::Finished);
        assert_eq!(venue_status("CANCELED"), VenueStatus::Finished);
    }
}
