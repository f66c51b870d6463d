//! Binance's answers read into the venue shapes: server time, a symbol's filters, an order (spot
//! and USDⓈ-M answer with different fields), a book ticker, positions and balances. Numbers come
//! as strings and are read as `Decimal`; a field missing or unreadable is named in the error.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::clock::Timestamp;

use super::super::VenueMarket;
pub use super::super::json::WireError;
use super::super::json::{decimal, integer, text, wire};
use super::super::rules::SymbolRules;
use super::super::types::{Balance, BookTicker, OrderState, OrderStatus, VenuePosition};

/// The most leverage USDⓈ-M allows on any symbol; the symbol's own bracket may allow less, which
/// the venue enforces when the leverage is set.
const FUTURES_MAX_LEVERAGE: Decimal = Decimal::from_parts(125, 0, 0, false, 0);

pub fn parse(body: &str) -> Result<Value, WireError> {
    serde_json::from_str(body).map_err(|e| wire("body", format!("not JSON: {e}")))
}

/// `{"serverTime": …}`.
pub fn server_time_ms(body: &Value) -> Result<i64, WireError> {
    integer(body, "serverTime")
}

/// The symbol's rules from `exchangeInfo`, `None` when the answer does not list it.
pub fn symbol_rules(body: &Value, market: VenueMarket, symbol: &str) -> Result<Option<SymbolRules>, WireError> {
    let symbols = body.get("symbols").and_then(Value::as_array).ok_or_else(|| wire("symbols", "missing"))?;
    let Some(info) = symbols.iter().find(|s| s.get("symbol").and_then(Value::as_str) == Some(symbol)) else {
        return Ok(None);
    };
    let filters = info.get("filters").and_then(Value::as_array).ok_or_else(|| wire("filters", "missing"))?;
    let filter = |kind: &str| filters.iter().find(|f| f.get("filterType").and_then(Value::as_str) == Some(kind));
    let price = filter("PRICE_FILTER").ok_or_else(|| wire("filters.PRICE_FILTER", "missing"))?;
    let lot = filter("LOT_SIZE").ok_or_else(|| wire("filters.LOT_SIZE", "missing"))?;
    // Spot names the minimum notional `NOTIONAL` (`minNotional`), older spot symbols and
    // USDⓈ-M `MIN_NOTIONAL` (`minNotional` / `notional`).
    let min_notional = match (filter("NOTIONAL"), filter("MIN_NOTIONAL")) {
        (Some(f), _) => decimal(f, "minNotional")?,
        (None, Some(f)) => decimal(f, "notional").or_else(|_| decimal(f, "minNotional"))?,
        (None, None) => Decimal::ZERO,
    };
    Ok(Some(SymbolRules {
        symbol: symbol.to_owned(),
        base_asset: text(info, "baseAsset")?.to_owned(),
        quote_asset: text(info, "quoteAsset")?.to_owned(),
        tick_size: decimal(price, "tickSize")?,
        step_size: decimal(lot, "stepSize")?,
        min_quantity: decimal(lot, "minQty")?,
        max_quantity: decimal(lot, "maxQty")?,
        min_notional,
        max_leverage: (market == VenueMarket::Futures).then_some(FUTURES_MAX_LEVERAGE),
        trading: text(info, "status")? == "TRADING",
    }))
}

/// The request-weight limit per minute from `exchangeInfo`'s `rateLimits`, if it lists one.
pub fn weight_limit(body: &Value) -> Option<i64> {
    body.get("rateLimits")?.as_array()?.iter().find_map(|l| {
        let weight = l.get("rateLimitType")?.as_str()? == "REQUEST_WEIGHT";
        let minute = l.get("interval")?.as_str()? == "MINUTE" && l.get("intervalNum")?.as_i64()? == 1;
        (weight && minute).then(|| l.get("limit")?.as_i64()).flatten()
    })
}

fn status(text: &str) -> Result<OrderStatus, WireError> {
    Ok(match text {
        // A cancel asked for and not yet done: still working as far as fills go.
        "NEW" | "PENDING_NEW" | "PENDING_CANCEL" => OrderStatus::New,
        "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
        "FILLED" => OrderStatus::Filled,
        "CANCELED" => OrderStatus::Cancelled,
        "REJECTED" => OrderStatus::Rejected,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderStatus::Expired,
        other => return Err(wire("status", format!("{other:?} is not a documented order status"))),
    })
}

/// An order as spot (`cummulativeQuoteQty`, `fills` on a FULL answer) or USDⓈ-M (`avgPrice`)
/// answers it. `quote_asset` picks the fills' commissions that count as fees: spot commissions
/// charged in another asset (BNB, the base) are not a quote amount and are left out.
pub fn order(value: &Value, quote_asset: Option<&str>) -> Result<OrderState, WireError> {
    let filled = decimal(value, "executedQty")?;
    let average_price = if filled.is_zero() {
        Decimal::ZERO
    } else if let Ok(avg) = decimal(value, "avgPrice") {
        avg
    } else {
        // Spot: the quote spent over the base filled, to eight places.
        (decimal(value, "cummulativeQuoteQty")? / filled).round_dp(8)
    };
    let fee = match (value.get("fills").and_then(Value::as_array), quote_asset) {
        (Some(fills), Some(quote)) => fills
            .iter()
            .filter(|f| f.get("commissionAsset").and_then(Value::as_str) == Some(quote))
            .map(|f| decimal(f, "commission"))
            .sum::<Result<Decimal, _>>()?,
        _ => Decimal::ZERO,
    };
    Ok(OrderState {
        // A spot cancel answers with the cancel's own `clientOrderId` and the order's as
        // `origClientOrderId`.
        client_order_id: text(value, "origClientOrderId").or_else(|_| text(value, "clientOrderId"))?.to_owned(),
        venue_order_id: integer(value, "orderId")?.to_string(),
        status: status(text(value, "status")?)?,
        filled_quantity: filled,
        average_price,
        fee,
    })
}

/// A list of orders (`openOrders`).
pub fn orders(body: &Value) -> Result<Vec<OrderState>, WireError> {
    body.as_array().ok_or_else(|| wire("body", "not a list of orders"))?.iter().map(|o| order(o, None)).collect()
}

/// `ticker/bookTicker` of one symbol; USDⓈ-M stamps it (`time`), spot does not (`read_at`).
pub fn book_ticker(body: &Value, read_at: Timestamp) -> Result<BookTicker, WireError> {
    Ok(BookTicker {
        bid: decimal(body, "bidPrice")?,
        bid_quantity: decimal(body, "bidQty")?,
        ask: decimal(body, "askPrice")?,
        ask_quantity: decimal(body, "askQty")?,
        at: integer(body, "time").map(Timestamp).unwrap_or(read_at),
    })
}

/// `positionRisk` of one symbol (one-way mode: one row; hedge mode: the rows summed).
pub fn position(body: &Value, symbol: &str) -> Result<VenuePosition, WireError> {
    let rows = body.as_array().ok_or_else(|| wire("body", "not a list of positions"))?;
    let mut quantity = Decimal::ZERO;
    let mut entry_price = Decimal::ZERO;
    for row in rows.iter().filter(|r| r.get("symbol").and_then(Value::as_str) == Some(symbol)) {
        let amount = decimal(row, "positionAmt")?;
        if !amount.is_zero() {
            entry_price = decimal(row, "entryPrice")?;
        }
        quantity += amount;
    }
    Ok(VenuePosition { symbol: symbol.to_owned(), quantity, entry_price })
}

/// Spot `account` balances.
pub fn spot_balances(body: &Value) -> Result<Vec<Balance>, WireError> {
    let rows = body.get("balances").and_then(Value::as_array).ok_or_else(|| wire("balances", "missing"))?;
    rows.iter()
        .map(|b| {
            Ok(Balance {
                asset: text(b, "asset")?.to_owned(),
                free: decimal(b, "free")?,
                locked: decimal(b, "locked")?,
            })
        })
        .filter(|b: &Result<Balance, WireError>| b.as_ref().map_or(true, |b| !(b.free + b.locked).is_zero()))
        .collect()
}

/// USDⓈ-M `balance`: what is available is free, the rest of the balance is held by orders and
/// positions.
pub fn futures_balances(body: &Value) -> Result<Vec<Balance>, WireError> {
    let rows = body.as_array().ok_or_else(|| wire("body", "not a list of balances"))?;
    rows.iter()
        .map(|b| {
            let balance = decimal(b, "balance")?;
            let free = decimal(b, "availableBalance")?;
            Ok(Balance { asset: text(b, "asset")?.to_owned(), free, locked: (balance - free).max(Decimal::ZERO) })
        })
        .filter(|b: &Result<Balance, WireError>| b.as_ref().map_or(true, |b| !(b.free + b.locked).is_zero()))
        .collect()
}

/// An error answer's `code` and `msg`, when the body is one.
pub fn error(body: &str) -> Option<(i64, String)> {
    let value: Value = serde_json::from_str(body).ok()?;
    let code = value.get("code")?.as_i64()?;
    let message = value.get("msg").and_then(Value::as_str).unwrap_or_default().to_owned();
    Some((code, message))
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use serde_json::json;

    use super::*;

    #[test]
    fn spot_and_futures_filters_become_rules() {
        let spot = json!({"rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "symbols": [{"symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"},
            {"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": true}]}]});
        let rules =
            symbol_rules(&spot, VenueMarket::Spot, "BTCUSDT").ok().flatten().unwrap_or_else(|| panic!("no rules"));
        assert_eq!(
            (rules.tick_size, rules.step_size, rules.min_notional, rules.max_leverage),
            (dec!(0.01), dec!(0.00001), dec!(5), None)
        );
        assert_eq!(weight_limit(&spot), Some(6000));
        let futures = json!({"symbols": [{"symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
            {"filterType": "MIN_NOTIONAL", "notional": "100"}]}]});
        let rules = symbol_rules(&futures, VenueMarket::Futures, "BTCUSDT")
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no rules"));
        assert_eq!((rules.tick_size, rules.min_notional, rules.max_leverage), (dec!(0.10), dec!(100), Some(dec!(125))));
        assert_eq!(symbol_rules(&futures, VenueMarket::Futures, "ETHUSDT"), Ok(None));
    }

    #[test]
    fn orders_read_cumulatively_with_quote_fees_only() {
        let spot = json!({"symbol": "BTCUSDT", "orderId": 28, "clientOrderId": "wt-1-e", "executedQty": "0.2",
            "cummulativeQuoteQty": "8440", "status": "PARTIALLY_FILLED",
            "fills": [{"price": "42200", "qty": "0.1", "commission": "4.22", "commissionAsset": "USDT"},
                      {"price": "42200", "qty": "0.1", "commission": "0.0001", "commissionAsset": "BNB"}]});
        let state = order(&spot, Some("USDT")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (state.status, state.filled_quantity, state.average_price, state.fee),
            (OrderStatus::PartiallyFilled, dec!(0.2), dec!(42200), dec!(4.22))
        );
        let futures = json!({"orderId": 22542179, "clientOrderId": "wt-1-x1", "executedQty": "0.074", "avgPrice": "42800.0", "status": "FILLED"});
        let state = order(&futures, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((state.venue_order_id.as_str(), state.average_price), ("22542179", dec!(42800)));
        assert!(
            order(&json!({"orderId": 1, "clientOrderId": "x", "executedQty": "0", "status": "HALF"}), None).is_err()
        );
    }

    #[test]
    fn tickers_positions_balances_and_errors() {
        let ticker = book_ticker(&json!({"symbol": "BTCUSDT", "bidPrice": "42190.0", "bidQty": "3", "askPrice": "42200.0", "askQty": "1", "time": 1_700_000_000_000_i64}), Timestamp(5))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((ticker.bid, ticker.at), (dec!(42190), Timestamp(1_700_000_000_000)));
        let position =
            position(&json!([{"symbol": "BTCUSDT", "positionAmt": "-0.222", "entryPrice": "42200.0"}]), "BTCUSDT")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(position.quantity, dec!(-0.222));
        let balances = futures_balances(&json!([{"asset": "USDT", "balance": "1000", "availableBalance": "900"}, {"asset": "BNB", "balance": "0", "availableBalance": "0"}]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(balances, vec![Balance { asset: "USDT".into(), free: dec!(900), locked: dec!(100) }]);
        assert_eq!(
            error(r#"{"code":-2010,"msg":"Account has insufficient balance for requested action."}"#).map(|e| e.0),
            Some(-2010)
        );
    }
}
