//! Bybit v5's answers read into the shared venue shapes. Every answer is the envelope
//! `{retCode, retMsg, result, retExtInfo, time}`; numbers come as strings and are read as
//! `Decimal`. A field missing or not in the documented form is a [`WireError`] naming it.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::domain::Side;

use super::super::VenueMarket;
pub use super::super::json::WireError;
use super::super::json::{decimal, text, wire};
use super::super::rules::SymbolRules;
use super::super::types::{Balance, BookTicker, OrderState, OrderStatus, VenuePosition};

/// The envelope of every v5 answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub ret_code: i64,
    pub ret_msg: String,
    pub result: Value,
    /// The venue's time of the answer, in milliseconds, when given.
    pub time: Option<i64>,
}

pub fn envelope(body: &str) -> Result<Envelope, WireError> {
    let value: Value = serde_json::from_str(body).map_err(|e| wire("body", format!("not JSON ({e})")))?;
    let ret_code =
        value.get("retCode").and_then(Value::as_i64).ok_or_else(|| wire("retCode", "missing or not an integer"))?;
    let ret_msg = value.get("retMsg").and_then(Value::as_str).unwrap_or_default().to_owned();
    let result = value.get("result").cloned().unwrap_or(Value::Null);
    let time = value.get("time").and_then(Value::as_i64);
    Ok(Envelope { ret_code, ret_msg, result, time })
}

/// A decimal the venue leaves empty while it does not apply (an average price before any fill).
fn decimal_or_zero_when_empty(object: &Value, field: &str) -> Result<Decimal, WireError> {
    match text(object, field)? {
        "" => Ok(Decimal::ZERO),
        _ => decimal(object, field),
    }
}

fn list<'a>(result: &'a Value, field: &str) -> Result<&'a Vec<Value>, WireError> {
    result.get("list").and_then(Value::as_array).ok_or_else(|| wire(format!("{field}.list"), "missing or not an array"))
}

/// `GET /v5/market/time`: the server's time in milliseconds (`timeNano`, else `timeSecond`).
pub fn server_time_ms(result: &Value) -> Result<i64, WireError> {
    if let Some(nanos) = result.get("timeNano").and_then(Value::as_str).and_then(|s| s.parse::<i128>().ok()) {
        return i64::try_from(nanos / 1_000_000).map_err(|_| wire("result.timeNano", "out of range"));
    }
    let seconds = text(result, "timeSecond")?;
    seconds
        .parse::<i64>()
        .map(|s| s * 1000)
        .map_err(|_| wire("result.timeSecond", format!("{seconds:?} is not an integer")))
}

/// `GET /v5/market/instruments-info`: the rules of `symbol`, or `None` when the venue lists no
/// such symbol.
pub fn symbol_rules(result: &Value, market: VenueMarket, symbol: &str) -> Result<Option<SymbolRules>, WireError> {
    let Some(item) = list(result, "result")?.iter().find(|i| i.get("symbol").and_then(Value::as_str) == Some(symbol))
    else {
        return Ok(None);
    };
    let lot = item.get("lotSizeFilter").ok_or_else(|| wire("lotSizeFilter", "missing"))?;
    let price = item.get("priceFilter").ok_or_else(|| wire("priceFilter", "missing"))?;
    let field = |e: WireError, parent: &str| WireError { field: format!("{parent}.{}", e.field), ..e };
    let (step_size, min_notional, max_leverage) = match market {
        VenueMarket::Spot => (
            decimal(lot, "basePrecision").map_err(|e| field(e, "lotSizeFilter"))?,
            decimal(lot, "minOrderAmt").map_err(|e| field(e, "lotSizeFilter"))?,
            None,
        ),
        VenueMarket::Futures => {
            let leverage = item.get("leverageFilter").ok_or_else(|| wire("leverageFilter", "missing"))?;
            (
                decimal(lot, "qtyStep").map_err(|e| field(e, "lotSizeFilter"))?,
                // Older listings carry no minimum notional: none published.
                match lot.get("minNotionalValue") {
                    None => Decimal::ZERO,
                    Some(_) => decimal(lot, "minNotionalValue").map_err(|e| field(e, "lotSizeFilter"))?,
                },
                Some(decimal(leverage, "maxLeverage").map_err(|e| field(e, "leverageFilter"))?),
            )
        }
    };
    Ok(Some(SymbolRules {
        symbol: symbol.to_owned(),
        base_asset: text(item, "baseCoin")?.to_owned(),
        quote_asset: text(item, "quoteCoin")?.to_owned(),
        tick_size: decimal(price, "tickSize").map_err(|e| field(e, "priceFilter"))?,
        step_size,
        min_quantity: decimal(lot, "minOrderQty").map_err(|e| field(e, "lotSizeFilter"))?,
        max_quantity: decimal(lot, "maxOrderQty").map_err(|e| field(e, "lotSizeFilter"))?,
        min_notional,
        max_leverage,
        trading: text(item, "status")? == "Trading",
    }))
}

/// `GET /v5/market/tickers`: best bid and ask of `symbol`, stamped with the answer's `time`
/// (`read_at` when the answer has none). `None` when the venue lists no such symbol.
pub fn book_ticker(
    result: &Value,
    symbol: &str,
    time: Option<i64>,
    read_at: Timestamp,
) -> Result<Option<BookTicker>, WireError> {
    let Some(item) = list(result, "result")?.iter().find(|i| i.get("symbol").and_then(Value::as_str) == Some(symbol))
    else {
        return Ok(None);
    };
    Ok(Some(BookTicker {
        bid: decimal(item, "bid1Price")?,
        bid_quantity: decimal(item, "bid1Size")?,
        ask: decimal(item, "ask1Price")?,
        ask_quantity: decimal(item, "ask1Size")?,
        at: time.map_or(read_at, Timestamp),
    }))
}

/// `POST /v5/order/create` and `/v5/order/cancel`: the venue's order id.
pub fn order_id(result: &Value) -> Result<String, WireError> {
    Ok(text(result, "orderId").map_err(|e| wire(format!("result.{}", e.field), e.detail))?.to_owned())
}

/// `GET /v5/order/realtime`: the orders of the answer.
pub fn orders(result: &Value, market: VenueMarket) -> Result<Vec<OrderState>, WireError> {
    list(result, "result")?.iter().map(|item| order_state(item, market)).collect()
}

fn order_state(item: &Value, market: VenueMarket) -> Result<OrderState, WireError> {
    let status = match text(item, "orderStatus")? {
        "New" | "Created" | "Untriggered" | "Triggered" => OrderStatus::New,
        "PartiallyFilled" => OrderStatus::PartiallyFilled,
        "Filled" => OrderStatus::Filled,
        "Cancelled" | "PartiallyFilledCanceled" | "Deactivated" => OrderStatus::Cancelled,
        "Rejected" => OrderStatus::Rejected,
        other => return Err(wire("orderStatus", format!("{other:?} is not a documented status"))),
    };
    let side = match text(item, "side")? {
        "Buy" => Side::Buy,
        "Sell" => Side::Sell,
        other => return Err(wire("side", format!("{other:?} is neither Buy nor Sell"))),
    };
    let fee = decimal_or_zero_when_empty(item, "cumExecFee")?;
    let fee = match (market, side) {
        // Linear fees are charged in the settle coin (USDT), the quote.
        (VenueMarket::Futures, _) | (VenueMarket::Spot, Side::Sell) => fee,
        // A spot buy pays its fee in the base coin it receives: not a quote figure, so 0 here
        // (the base received is already net of it in the balances).
        (VenueMarket::Spot, Side::Buy) => Decimal::ZERO,
    };
    Ok(OrderState {
        client_order_id: text(item, "orderLinkId")?.to_owned(),
        venue_order_id: text(item, "orderId")?.to_owned(),
        status,
        filled_quantity: decimal_or_zero_when_empty(item, "cumExecQty")?,
        average_price: decimal_or_zero_when_empty(item, "avgPrice")?,
        fee,
    })
}

/// `GET /v5/position/list`: the one-way position on `symbol` (0 when the venue lists none).
pub fn position(result: &Value, symbol: &str) -> Result<VenuePosition, WireError> {
    let mut quantity = Decimal::ZERO;
    let mut entry_price = Decimal::ZERO;
    for item in list(result, "result")?.iter().filter(|i| i.get("symbol").and_then(Value::as_str) == Some(symbol)) {
        let size = decimal(item, "size")?;
        if size.is_zero() {
            continue;
        }
        quantity = match text(item, "side")? {
            "Buy" => size,
            "Sell" => -size,
            other => return Err(wire("side", format!("{other:?} is not Buy or Sell for a size {size}"))),
        };
        entry_price = decimal_or_zero_when_empty(item, "avgPrice")?;
    }
    Ok(VenuePosition { symbol: symbol.to_owned(), quantity, entry_price })
}

/// `GET /v5/account/wallet-balance`: every coin of the unified account with anything in it.
/// `free` is the wallet balance less what open spot orders lock.
pub fn balances(result: &Value) -> Result<Vec<Balance>, WireError> {
    let mut out = Vec::new();
    for account in list(result, "result")? {
        let coins =
            account.get("coin").and_then(Value::as_array).ok_or_else(|| wire("coin", "missing or not an array"))?;
        for coin in coins {
            let wallet = decimal_or_zero_when_empty(coin, "walletBalance")?;
            let locked = decimal_or_zero_when_empty(coin, "locked")?;
            if wallet.is_zero() && locked.is_zero() {
                continue;
            }
            out.push(Balance { asset: text(coin, "coin")?.to_owned(), free: wallet - locked, locked });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn fixture(name: &str) -> Envelope {
        let path = format!("{}/tests/fixtures/bybit/{name}", env!("CARGO_MANIFEST_DIR"));
        envelope(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
    }

    #[test]
    fn server_time() {
        let answer = fixture("market_time.json");
        assert_eq!(answer.ret_code, 0);
        assert_eq!(server_time_ms(&answer.result).unwrap(), 1_688_639_403_423);
        let seconds_only = serde_json::json!({"timeSecond": "1688639403"});
        assert_eq!(server_time_ms(&seconds_only).unwrap(), 1_688_639_403_000);
    }

    #[test]
    fn linear_and_spot_rules() {
        let linear =
            symbol_rules(&fixture("market_instruments_info_linear.json").result, VenueMarket::Futures, "BTCUSDT")
                .unwrap()
                .unwrap();
        assert_eq!(
            (linear.tick_size, linear.step_size, linear.min_quantity, linear.min_notional),
            (dec!(0.10), dec!(0.001), dec!(0.001), dec!(5))
        );
        assert_eq!(linear.max_leverage, Some(dec!(100)));
        assert!(linear.trading);
        let spot = symbol_rules(&fixture("market_instruments_info_spot.json").result, VenueMarket::Spot, "BTCUSDT")
            .unwrap()
            .unwrap();
        assert_eq!((spot.tick_size, spot.step_size, spot.min_notional), (dec!(0.01), dec!(0.000001), dec!(1)));
        assert_eq!((spot.base_asset.as_str(), spot.quote_asset.as_str(), spot.max_leverage), ("BTC", "USDT", None));
        let none = symbol_rules(&fixture("market_instruments_info_spot.json").result, VenueMarket::Spot, "XYZUSDT");
        assert_eq!(none, Ok(None));
        let broken = serde_json::json!({"list": [{"symbol": "BTCUSDT", "lotSizeFilter": {}, "priceFilter": {}}]});
        let err = symbol_rules(&broken, VenueMarket::Spot, "BTCUSDT").unwrap_err();
        assert_eq!(err.field, "lotSizeFilter.basePrecision");
    }

    #[test]
    fn tickers() {
        let answer = fixture("market_tickers_linear.json");
        let quote = book_ticker(&answer.result, "BTCUSDT", answer.time, Timestamp(0)).unwrap().unwrap();
        assert_eq!((quote.bid, quote.ask, quote.at), (dec!(16596.00), dec!(16597.50), Timestamp(1_672_376_496_682)));
        let answer = fixture("market_tickers_spot.json");
        let quote = book_ticker(&answer.result, "BTCUSDT", None, Timestamp(5)).unwrap().unwrap();
        assert_eq!((quote.bid_quantity, quote.ask_quantity, quote.at), (dec!(2), dec!(1.862172), Timestamp(5)));
    }

    #[test]
    fn orders_and_their_fills() {
        assert_eq!(order_id(&fixture("order_create.json").result).unwrap(), "1321003749386327552");
        assert_eq!(order_id(&fixture("order_cancel.json").result).unwrap(), "c6f055d9-7f21-4079-913d-e6523a9cfffa");
        let states = orders(&fixture("order_realtime.json").result, VenueMarket::Futures).unwrap();
        assert_eq!(states.len(), 1);
        let state = &states[0];
        assert_eq!(state.client_order_id, "test-000005");
        assert_eq!(state.status, OrderStatus::PartiallyFilled);
        assert_eq!(
            (state.filled_quantity, state.average_price, state.fee),
            (dec!(0.05), dec!(1599.50), dec!(0.04398625))
        );
        let spot_buy = orders(&fixture("order_realtime.json").result, VenueMarket::Spot).unwrap();
        assert_eq!(spot_buy[0].fee, Decimal::ZERO);
        let odd = serde_json::json!({"list": [{"orderStatus": "Sleeping"}]});
        assert_eq!(orders(&odd, VenueMarket::Futures).unwrap_err().field, "orderStatus");
    }

    #[test]
    fn positions_and_balances() {
        let held = position(&fixture("position_list.json").result, "BTCUSDT").unwrap();
        assert_eq!((held.quantity, held.entry_price), (dec!(0.300), dec!(27464.50441675)));
        assert_eq!(position(&fixture("position_list.json").result, "ETHUSDT").unwrap().quantity, Decimal::ZERO);
        let coins = balances(&fixture("account_wallet_balance.json").result).unwrap();
        assert_eq!(coins, vec![Balance { asset: "USDT".into(), free: dec!(3.00326056), locked: dec!(0) }]);
        assert_eq!(fixture("position_set_leverage.json").ret_code, 0);
    }

    #[test]
    fn error_payloads_keep_code_and_message() {
        for (name, code) in [
            ("error_insufficient_balance_linear.json", 110007),
            ("error_insufficient_balance_spot.json", 170131),
            ("error_filter_failure_linear.json", 110003),
            ("error_filter_failure_spot.json", 170136),
            ("error_invalid_signature.json", 10004),
            ("error_invalid_api_key.json", 10003),
            ("error_rate_limit.json", 10006),
            ("error_recv_window.json", 10002),
            ("error_unknown_order_linear.json", 110001),
            ("error_unknown_order_spot.json", 170213),
            ("error_reduce_only.json", 110017),
            ("error_duplicate_order_link_id.json", 110072),
        ] {
            let answer = fixture(name);
            assert_eq!(answer.ret_code, code, "{name}");
            assert!(!answer.ret_msg.is_empty(), "{name}");
        }
        assert_eq!(envelope("{}").unwrap_err().field, "retCode");
        assert_eq!(envelope("<html>").unwrap_err().field, "body");
    }
}
