//! The lines a fetched session is made of, and the order they take in the file. Pure.
//!
//! Books are approximated from price points (see [`approximate_book`]); the rule is stated in the
//! header in words ([`book_approximation_note`]) so that every report of the session can say so.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

use crate::clock::Timestamp;
use crate::market::{ClobMarketInfo, WhaleTrade};
use crate::session::{SessionHeader, WriteError, whale_trade_line};

/// The `source` of a session made by `whale-trader fetch-history`.
pub const FETCH_HISTORY_SOURCE: &str = "fetch-history";

/// The rule [`approximate_book`] and [`carried_books`] apply, in words.
pub fn book_approximation_note(fidelity_minutes: u32, depth_shares: u64) -> String {
    format!(
        "approximated from CLOB /prices-history points ({fidelity_minutes}-minute fidelity), not recorded: at each \
         point p one bid at m - tick and one ask at m + tick, {depth_shares} shares each, where m is p rounded to \
         the market's tick and kept at least one tick from 0 and 1; before each whale trade the latest point at or \
         before it is repeated at the trade's time. Real spreads, depth and slippage are unknown: copies of large \
         trades fill more easily here than they would have"
    )
}

/// A book line approximated from price `p` of `token` at `at`: one bid a tick below `p` rounded
/// to the tick, one ask a tick above, `depth` shares each. `None` when the market's tick cannot
/// make a book (a tick of a half or more).
pub fn approximate_book(info: &ClobMarketInfo, token: &str, at: Timestamp, p: Decimal, depth: u64) -> Option<String> {
    let tick = info.tick_size;
    if tick <= Decimal::ZERO || tick * Decimal::TWO >= Decimal::ONE {
        return None;
    }
    let m = ((p / tick).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero) * tick)
        .clamp(tick, Decimal::ONE - tick)
        .normalize();
    let (bid, ask) = ((m - tick).normalize(), (m + tick).normalize());
    let level = |price: Decimal| serde_json::json!([{ "price": price.to_string(), "size": depth.to_string() }]);
    let side = |price: Decimal| {
        if price > Decimal::ZERO && price < Decimal::ONE { level(price) } else { serde_json::json!([]) }
    };
    let book = serde_json::json!({
        "market": info.condition_id,
        "asset_id": token,
        "timestamp": at.millis().to_string(),
        "hash": "",
        "bids": side(bid),
        "asks": side(ask),
        "min_order_size": info.min_order_size.normalize().to_string(),
        "tick_size": tick.normalize().to_string(),
        "neg_risk": info.neg_risk,
        "last_trade_price": p.normalize().to_string(),
    });
    Some(serde_json::json!({ "ts": at.millis(), "type": "book", "book": book }).to_string())
}

/// The times at which a book is repeated before a trade: for each trade time, the latest point at
/// or before it, unless a point is at that very time. `(trade time, price)`, oldest first.
pub fn carried_books(points: &[(Timestamp, Decimal)], trade_times: &[Timestamp]) -> Vec<(Timestamp, Decimal)> {
    let mut out = Vec::new();
    for &at in trade_times {
        let before = points.partition_point(|(t, _)| *t <= at);
        if before == 0 || points[before - 1].0 == at {
            continue;
        }
        if out.last().is_none_or(|(t, _)| *t != at) {
            out.push((at, points[before - 1].1));
        }
    }
    out
}

/// A whale trade's line, at the trade's own time.
pub fn trade_line(trade: &WhaleTrade) -> Result<String, WriteError> {
    whale_trade_line(trade.timestamp, trade)
}

/// A market line: the venue's `/clob-markets` answer (made one line) and its end date.
pub fn market_line(at: Timestamp, clob_market_json: &str, end_date: Option<Timestamp>) -> String {
    let end = end_date.map(|t| format!(r#","end_date":"{}""#, t.to_rfc3339())).unwrap_or_default();
    format!(r#"{{"ts":{},"type":"market","market":{}{end}}}"#, at.millis(), compact_json(clob_market_json))
}

pub fn resolution_line(at: Timestamp, condition_id: &str, winning_token_id: &str) -> String {
    serde_json::json!({
        "ts": at.millis(),
        "type": "resolution",
        "condition_id": condition_id,
        "winning_token_id": winning_token_id,
    })
    .to_string()
}

pub fn header_line(at: Timestamp, header: &SessionHeader) -> String {
    serde_json::json!({ "ts": at.millis(), "type": "header", "header": header }).to_string()
}

/// JSON text on one line: the whitespace between tokens removed, strings and numbers kept byte
/// for byte (re-serialising through `serde_json::Value` would pass numbers through floats).
pub fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Where a line goes among lines of the same time: a market's parameters before its books, a
/// book before the trade it prices, the resolution last.
fn rank(kind: &str) -> u8 {
    match kind {
        "header" => 0,
        "market" => 1,
        "book" => 2,
        "whale_trade" => 3,
        _ => 4,
    }
}

#[derive(Deserialize)]
struct Head<'a> {
    ts: i64,
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

/// Where a line sorts: by time, then [`rank`]; a line that is not one of ours (it cannot happen:
/// the caller wrote them) goes last. Ties keep the order the lines were written in.
pub fn line_key(line: &str) -> (u8, i64, u8) {
    match serde_json::from_str::<Head<'_>>(line) {
        Ok(head) => (0, head.ts, rank(head.kind)),
        Err(_) => (1, i64::MAX, u8::MAX),
    }
}

/// The kind of line a [`line_key`] is for.
pub fn kind_of(key: (u8, i64, u8)) -> &'static str {
    match key {
        (0, _, 0) => "header",
        (0, _, 1) => "market",
        (0, _, 2) => "book",
        (0, _, 3) => "whale_trade",
        (0, _, _) => "resolution",
        _ => "unknown",
    }
}

/// Puts lines in session order (see [`line_key`]).
#[cfg(test)]
fn order_lines(lines: &mut [String]) {
    lines.sort_by_cached_key(|line| line_key(line));
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::market::OrderBook;

    fn info(tick: Decimal) -> ClobMarketInfo {
        let text = format!(
            r#"{{"c":"0xc","t":[{{"t":"1","o":"Yes"}},{{"t":"2","o":"No"}}],"mos":5,"mts":{tick},"nr":false,"ao":true}}"#
        );
        ClobMarketInfo::from_json(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn book(line: &str) -> OrderBook {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        OrderBook::from_json(&value["book"].to_string()).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn a_book_is_one_tick_each_side_of_the_price_rounded_to_the_tick() {
        let at = Timestamp::from_secs(1_767_600_000);
        let line = approximate_book(&info(dec!(0.01)), "1", at, dec!(0.5649), 250).unwrap_or_default();
        let b = book(&line);
        assert_eq!(
            (b.best_bid().map(|l| l.price), b.best_ask().map(|l| l.price)),
            (Some(dec!(0.55)), Some(dec!(0.57)))
        );
        assert_eq!(b.best_ask().map(|l| l.size), Some(dec!(250)));
        assert_eq!((b.timestamp, b.tick_size, b.min_order_size), (at, dec!(0.01), dec!(5)));
        assert_eq!(b.last_trade_price, Some(dec!(0.5649)));
    }

    #[test]
    fn a_price_at_an_edge_keeps_a_usable_book() {
        let at = Timestamp::from_secs(1);
        for (p, bid, ask) in [(dec!(0), None, Some(dec!(0.002))), (dec!(1), Some(dec!(0.998)), None)] {
            let b = book(&approximate_book(&info(dec!(0.001)), "1", at, p, 10).unwrap_or_default());
            assert_eq!((b.best_bid().map(|l| l.price), b.best_ask().map(|l| l.price)), (bid, ask), "p = {p}");
        }
        assert!(approximate_book(&info(dec!(0.5)), "1", at, dec!(0.5), 10).is_none());
    }

    #[test]
    fn a_trade_gets_the_latest_price_before_it_unless_a_point_is_at_its_time() {
        let t = Timestamp::from_secs;
        let points = [(t(100), dec!(0.4)), (t(200), dec!(0.5))];
        let trades = [t(50), t(150), t(150), t(200), t(250)];
        assert_eq!(carried_books(&points, &trades), vec![(t(150), dec!(0.4)), (t(250), dec!(0.5))]);
    }

    #[test]
    fn lines_are_ordered_by_time_then_kind() {
        let mut lines = vec![
            r#"{"ts":5,"type":"resolution"}"#.to_owned(),
            r#"{"ts":5,"type":"whale_trade","n":1}"#.to_owned(),
            r#"{"ts":5,"type":"book"}"#.to_owned(),
            r#"{"ts":1,"type":"whale_trade","n":2}"#.to_owned(),
            r#"{"ts":5,"type":"whale_trade","n":3}"#.to_owned(),
            r#"{"ts":5,"type":"market"}"#.to_owned(),
        ];
        order_lines(&mut lines);
        let kinds: Vec<&str> = lines.iter().map(|l| &l[..l.len().min(40)]).collect();
        assert_eq!(
            kinds,
            vec![
                r#"{"ts":1,"type":"whale_trade","n":2}"#,
                r#"{"ts":5,"type":"market"}"#,
                r#"{"ts":5,"type":"book"}"#,
                r#"{"ts":5,"type":"whale_trade","n":1}"#,
                r#"{"ts":5,"type":"whale_trade","n":3}"#,
                r#"{"ts":5,"type":"resolution"}"#,
            ]
        );
    }

    #[test]
    fn compacting_keeps_strings_and_numbers_exact() {
        let text = "{\n  \"a b\": \"x \\\" y\",\n  \"n\": 0.1000000000000000055\n}";
        assert_eq!(compact_json(text), r#"{"a b":"x \" y","n":0.1000000000000000055}"#);
    }
}
