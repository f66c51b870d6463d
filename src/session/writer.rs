//! One engine input back to the line a session file holds: the venue's own wire shapes, so that a
//! recording replays through the same parsers as the live feeds (see the format table in
//! [`crate::session`]).
//!
//! Numbers are written as JSON numbers holding the decimal's exact digits (never through a float);
//! book sides in the CLOB's real order, best level last. Inputs the format does not carry (fills,
//! wallet readings, reloads, quotes: see [`is_recorded`]) give `None`.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::clock::Timestamp;
use crate::engine::{Control, Input};
use crate::market::{ClobMarketInfo, FeeCurve, MarketName, OrderBook, PriceLevel, WhaleTrade};

/// Why a line could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot serialize a {kind} line: {reason}")]
    Serialize { kind: &'static str, reason: String },
}

/// Whether the session format carries `input` (what the recorder copies before the engine steps it).
///
/// Not carried, each for its reason: `Execution` (the replay's own paper executor fills the
/// orders), `Wallet` (the live wallet's truth: a replay keeps its own paper ledger), a reload's
/// `Control::SetConfig` (a replay runs under the config it is given), `Quote` (only benchmarks
/// send it: no feed of the daemon does), trade plans and their closes (a session replays the copy
/// path; a dry-run plan holds its own book and moves neither equity nor any copy limit).
pub fn is_recorded(input: &Input) -> bool {
    if let Input::Control(control) = input {
        return !matches!(control, Control::SetConfig(_) | Control::SubmitPlan { .. } | Control::ClosePlan { .. });
    }
    matches!(
        input,
        Input::WhaleTrade(_)
            | Input::Book(_)
            | Input::MarketInfo(_)
            | Input::MarketNames(_)
            | Input::Resolution { .. }
            | Input::MarketClosed { .. }
            | Input::MarketReopened { .. }
            | Input::Tick
    )
}

/// The session line (without its newline) of `input` stepped at `at`; `None` for an input the
/// format does not carry ([`is_recorded`]).
pub fn line_for(at: Timestamp, input: &Input) -> Result<Option<String>, WriteError> {
    let ts = at.millis();
    let line = match input {
        Input::WhaleTrade(trade) => whale_trade_line(at, trade)?,
        Input::Book(book) => to_line("book", &BookLine { ts, kind: "book", book: book_wire(book)? })?,
        Input::MarketInfo(info) => to_line(
            "market",
            &MarketLine {
                ts,
                kind: "market",
                market: market_wire(info)?,
                end_date: info.end_date.map(Timestamp::to_rfc3339),
            },
        )?,
        Input::MarketNames(names) => {
            to_line("names", &NamesLine { ts, kind: "names", names: names.iter().map(name_wire).collect() })?
        }
        Input::Resolution { condition_id, winning_token_id } => {
            to_line("resolution", &ResolutionLine { ts, kind: "resolution", condition_id, winning_token_id })?
        }
        Input::MarketClosed { condition_id } => {
            to_line("market_closed", &MarketStateLine { ts, kind: "market_closed", condition_id })?
        }
        Input::MarketReopened { condition_id } => {
            to_line("market_reopened", &MarketStateLine { ts, kind: "market_reopened", condition_id })?
        }
        Input::Tick => format!(r#"{{"ts":{ts},"type":"tick"}}"#),
        Input::Control(control) => match control_line(ts, control) {
            Some(line) => to_line("control", &line)?,
            None => return Ok(None),
        },
        // Executions and wallet readings are the venue's answers to this run's orders; a replay
        // makes its own. Plans' venue prices and order reports likewise belong to their run.
        Input::Quote(_) | Input::Execution(_) | Input::Wallet(_) | Input::PlanReport(_) | Input::PlanQuote(_) => {
            return Ok(None);
        }
    };
    Ok(Some(line))
}

/// A whale trade's line at `at`: the trade as a Data API v1 row. A recording stamps it with the
/// time the engine stepped it; a session fetched from history with the trade's own time.
pub fn whale_trade_line(at: Timestamp, trade: &WhaleTrade) -> Result<String, WriteError> {
    to_line("whale_trade", &TradeLine { ts: at.millis(), kind: "whale_trade", trade: v1_row(trade)? })
}

fn to_line<T: Serialize>(kind: &'static str, line: &T) -> Result<String, WriteError> {
    serde_json::to_string(line).map_err(|e| WriteError::Serialize { kind, reason: e.to_string() })
}

/// A decimal as a JSON number with exactly its digits.
fn number(value: Decimal) -> Result<Box<RawValue>, WriteError> {
    RawValue::from_string(value.to_string())
        .map_err(|e| WriteError::Serialize { kind: "number", reason: e.to_string() })
}

#[derive(Serialize)]
struct TradeLine {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    trade: V1RowOut,
}

/// A Data API v1 `/trades` row, camelCase, `timestamp` in seconds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V1RowOut {
    proxy_wallet: String,
    side: &'static str,
    asset: String,
    condition_id: String,
    size: Box<RawValue>,
    price: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdc_size: Option<Box<RawValue>>,
    timestamp: i64,
    title: String,
    slug: String,
    outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome_index: Option<u32>,
    transaction_hash: String,
}

fn v1_row(trade: &WhaleTrade) -> Result<V1RowOut, WriteError> {
    Ok(V1RowOut {
        proxy_wallet: trade.wallet.clone(),
        side: if trade.side == crate::domain::Side::Buy { "BUY" } else { "SELL" },
        asset: trade.asset.clone(),
        condition_id: trade.condition_id.clone(),
        size: number(trade.size)?,
        price: number(trade.price)?,
        usdc_size: trade.usdc_size.map(number).transpose()?,
        // The Data API's time is in whole seconds; a trade always came from one.
        timestamp: trade.timestamp.millis().div_euclid(1000),
        title: trade.title.clone(),
        slug: trade.slug.clone(),
        outcome: trade.outcome.clone(),
        outcome_index: trade.outcome_index,
        transaction_hash: trade.transaction_hash.clone(),
    })
}

#[derive(Serialize)]
struct BookLine {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    book: BookOut,
}

/// A CLOB `GET /book` object: decimal strings, bids ascending and asks descending (best last).
#[derive(Serialize)]
struct BookOut {
    market: String,
    asset_id: String,
    timestamp: String,
    hash: String,
    bids: Vec<LevelOut>,
    asks: Vec<LevelOut>,
    min_order_size: String,
    tick_size: String,
    neg_risk: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_trade_price: Option<String>,
}

#[derive(Serialize)]
struct LevelOut {
    price: String,
    size: String,
}

fn book_wire(book: &OrderBook) -> Result<BookOut, WriteError> {
    // The book holds each side best first; the wire lists it best last.
    let side = |levels: &[PriceLevel]| -> Vec<LevelOut> {
        levels.iter().rev().map(|l| LevelOut { price: l.price.to_string(), size: l.size.to_string() }).collect()
    };
    Ok(BookOut {
        market: book.market.clone(),
        asset_id: book.asset_id.clone(),
        timestamp: book.timestamp.millis().to_string(),
        hash: book.hash.to_string(),
        bids: side(&book.bids),
        asks: side(&book.asks),
        min_order_size: book.min_order_size.to_string(),
        tick_size: book.tick_size.to_string(),
        neg_risk: book.neg_risk,
        last_trade_price: book.last_trade_price.map(|p| p.to_string()),
    })
}

#[derive(Serialize)]
struct MarketLine {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    market: MarketOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_date: Option<String>,
}

/// A CLOB `/clob-markets/{condition_id}` object (its short keys).
#[derive(Serialize)]
struct MarketOut {
    c: String,
    t: Vec<TokenOut>,
    mos: Box<RawValue>,
    mts: Box<RawValue>,
    nr: bool,
    ao: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    fd: Option<FeeOut>,
}

#[derive(Serialize)]
struct TokenOut {
    t: String,
    o: String,
}

#[derive(Serialize)]
struct FeeOut {
    r: Box<RawValue>,
    e: u32,
    to: bool,
}

fn market_wire(info: &ClobMarketInfo) -> Result<MarketOut, WriteError> {
    // No fee details on the wire means a free market; anything else is written out.
    let fd = if info.fees == FeeCurve::FREE {
        None
    } else {
        Some(FeeOut { r: number(info.fees.rate)?, e: info.fees.exponent, to: info.fees.taker_only })
    };
    Ok(MarketOut {
        c: info.condition_id.clone(),
        t: info.tokens.iter().map(|(t, o)| TokenOut { t: t.clone(), o: o.clone() }).collect(),
        mos: number(info.min_order_size)?,
        mts: number(info.tick_size)?,
        nr: info.neg_risk,
        ao: info.accepting_orders,
        fd,
    })
}

#[derive(Serialize)]
struct NamesLine {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    names: Vec<NameOut>,
}

/// One market's names as the engine keeps them (Gamma's shape has far more than these fields).
#[derive(Serialize)]
struct NameOut {
    condition_id: String,
    question: String,
    slug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_date: Option<String>,
    outcomes: Vec<OutcomeOut>,
    source: &'static str,
    fetched_at: i64,
}

#[derive(Serialize)]
struct OutcomeOut {
    token_id: String,
    outcome: String,
}

fn name_wire(name: &MarketName) -> NameOut {
    NameOut {
        condition_id: name.condition_id.clone(),
        question: name.question.clone(),
        slug: name.slug.clone(),
        end_date: name.end_date.clone(),
        outcomes: name
            .outcomes
            .iter()
            .map(|o| OutcomeOut { token_id: o.token_id.clone(), outcome: o.outcome.clone() })
            .collect(),
        source: name.source.as_str(),
        fetched_at: name.fetched_at.millis(),
    }
}

/// A command to the engine: a person's (halt, resume, kill, close, adopt, drop, unmute) or the
/// daemon's own (the health monitor's hold and release, a stale feed).
#[derive(Serialize)]
struct ControlLine<'a> {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trade_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet: Option<&'a str>,
}

fn control_line(ts: i64, control: &Control) -> Option<ControlLine<'_>> {
    let mut line =
        ControlLine { ts, kind: "control", command: "", detail: None, trade_id: None, token_id: None, wallet: None };
    match control {
        Control::Halt { detail } => (line.command, line.detail) = ("halt", Some(detail.as_str())),
        Control::Resume { detail } => (line.command, line.detail) = ("resume", Some(detail.as_str())),
        Control::Kill { detail } => (line.command, line.detail) = ("kill", Some(detail.as_str())),
        Control::HoldReducing { detail } => (line.command, line.detail) = ("hold_reducing", Some(detail.as_str())),
        Control::ReleaseHold { detail } => (line.command, line.detail) = ("release_hold", Some(detail.as_str())),
        Control::FeedStale { detail } => (line.command, line.detail) = ("feed_stale", Some(detail.as_str())),
        Control::ClosePosition { trade_id } => {
            (line.command, line.trade_id) = ("close_position", Some(trade_id.as_str()))
        }
        Control::Drop { trade_id } => (line.command, line.trade_id) = ("drop", Some(trade_id.as_str())),
        Control::Adopt { token_id } => (line.command, line.token_id) = ("adopt", Some(token_id.as_str())),
        Control::Unmute { wallet } => (line.command, line.wallet) = ("unmute", Some(wallet.as_str())),
        Control::SetConfig(_) | Control::SubmitPlan { .. } | Control::ClosePlan { .. } => return None,
    }
    Some(line)
}

#[derive(Serialize)]
struct ResolutionLine<'a> {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    condition_id: &'a str,
    winning_token_id: &'a str,
}

#[derive(Serialize)]
struct MarketStateLine<'a> {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    condition_id: &'a str,
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::Side;
    use crate::market::{NameSource, OutcomeName};
    use crate::polymarket::{ActivityRow, parse_v1_row};
    use crate::session::parse_line;

    const AT: Timestamp = Timestamp::from_millis(1_767_607_212_345);
    const CONDITION: &str = "0xdde06286a7b9464d344f410ab0b3d2ebc6469904e72c27fd982f65fdbf78768d";

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Writes `input` at `AT`, parses the line back and hands over what came out.
    fn round_trip(input: &Input) -> Input {
        let line = line_for(AT, input).unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("not recorded"));
        assert!(!line.contains('\n'), "one line: {line}");
        let event = parse_line(&line).unwrap_or_else(|e| panic!("{e}: {line}")).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(event.at, AT, "{line}");
        event.input
    }

    fn trade() -> WhaleTrade {
        WhaleTrade {
            transaction_hash: "0xabc1".into(),
            wallet: "0x1111111111111111111111111111111111111111".into(),
            condition_id: CONDITION.into(),
            asset: "65193234666628291664907888364936366210889305490897648116746073820519263548476".into(),
            outcome: "Yes".into(),
            outcome_index: Some(0),
            side: Side::Buy,
            size: dec!(2538.2661200000002),
            price: dec!(0.7671607282693813),
            usdc_size: None,
            timestamp: Timestamp::from_secs(1_767_607_200),
            title: "Will \"it\" rain?\u{e9}".into(),
            slug: "will-it-rain".into(),
        }
    }

    #[test]
    fn a_whale_trade_comes_back_digit_for_digit() {
        let mut sell = trade();
        sell.side = Side::Sell;
        sell.usdc_size = Some(dec!(12.50));
        sell.outcome_index = None;
        // Text the JSON must escape, and a name outside ASCII.
        sell.title = "Will \"it\" rain \\ in Zürich?\n".into();
        for trade in [trade(), sell] {
            match round_trip(&Input::WhaleTrade(Box::new(trade.clone()))) {
                Input::WhaleTrade(back) => assert_eq!(*back, trade),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn captured_data_api_trades_round_trip() {
        let text = fixture("data_api_v1_trades_recent.json");
        let rows: Vec<&RawValue> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = 0;
        for row in rows {
            let Ok(ActivityRow::Trade(trade)) = parse_v1_row(row.get()) else { continue };
            seen += 1;
            match round_trip(&Input::WhaleTrade(Box::new(trade.clone()))) {
                Input::WhaleTrade(back) => assert_eq!(*back, trade),
                other => panic!("{other:?}"),
            }
        }
        assert!(seen > 0, "the fixture holds trades");
    }

    #[test]
    fn a_book_comes_back_with_its_sides_best_first_and_is_written_best_last() {
        let book = OrderBook::from_json(&fixture("clob_book.json")).unwrap_or_else(|e| panic!("{e}"));
        assert!(book.bids.len() > 1 && book.asks.len() > 1, "a book with depth");
        let line = line_for(AT, &Input::Book(Box::new(book.clone())))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("not recorded"));
        // The real wire order: the best bid (highest) and the best ask (lowest) come last.
        let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}"));
        let last_bid = json["book"]["bids"].as_array().and_then(|b| b.last()).map(|l| l["price"].clone());
        let last_ask = json["book"]["asks"].as_array().and_then(|a| a.last()).map(|l| l["price"].clone());
        assert_eq!(last_bid, book.best_bid().map(|l| serde_json::Value::String(l.price.to_string())));
        assert_eq!(last_ask, book.best_ask().map(|l| serde_json::Value::String(l.price.to_string())));
        match round_trip(&Input::Book(Box::new(book.clone()))) {
            Input::Book(back) => assert_eq!(*back, book),
            other => panic!("{other:?}"),
        }
        let posted = fixture("clob_books_post_negrisk.json");
        let books = crate::polymarket::parse_books(posted.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!books.books.is_empty());
        for book in books.books {
            match round_trip(&Input::Book(Box::new(book.clone()))) {
                Input::Book(back) => assert_eq!(*back, book),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn market_info_comes_back_with_its_end_date_and_fees() {
        let text = fixture("clob_clob_markets_info.json");
        let all: Vec<&RawValue> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let mut infos: Vec<ClobMarketInfo> =
            all.iter().map(|raw| ClobMarketInfo::from_json(raw.get()).unwrap_or_else(|e| panic!("{e}"))).collect();
        let mut free = infos[0].clone();
        free.fees = FeeCurve::FREE;
        free.end_date = Some(Timestamp::from_millis(1_767_700_000_123));
        infos.push(free);
        for info in infos {
            match round_trip(&Input::MarketInfo(Box::new(info.clone()))) {
                Input::MarketInfo(back) => assert_eq!(*back, info),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn resolutions_closures_reopenings_names_and_ticks_come_back() {
        let resolution = Input::Resolution { condition_id: CONDITION.into(), winning_token_id: "42".into() };
        assert!(matches!(round_trip(&resolution),
            Input::Resolution { condition_id, winning_token_id } if condition_id == CONDITION && winning_token_id == "42"));
        let closed = Input::MarketClosed { condition_id: CONDITION.into() };
        assert!(matches!(round_trip(&closed), Input::MarketClosed { condition_id } if condition_id == CONDITION));
        let reopened = Input::MarketReopened { condition_id: CONDITION.into() };
        assert!(matches!(round_trip(&reopened), Input::MarketReopened { condition_id } if condition_id == CONDITION));
        assert!(matches!(round_trip(&Input::Tick), Input::Tick));
        let names = vec![
            MarketName {
                condition_id: CONDITION.into(),
                question: "Will it rain in \"Paris\"?".into(),
                slug: "rain-paris".into(),
                end_date: Some("2026-12-31T12:00:00Z".into()),
                outcomes: vec![
                    OutcomeName { token_id: "1".into(), outcome: "Yes".into() },
                    OutcomeName { token_id: "2".into(), outcome: "No".into() },
                ],
                source: NameSource::Gamma,
                fetched_at: Timestamp::from_millis(1_767_607_000_000),
            },
            MarketName {
                condition_id: "0xbeef".into(),
                question: "Q".into(),
                slug: String::new(),
                end_date: None,
                outcomes: Vec::new(),
                source: NameSource::Trade,
                fetched_at: AT,
            },
        ];
        match round_trip(&Input::MarketNames(names.clone())) {
            Input::MarketNames(back) => assert_eq!(back, names),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn control_commands_come_back() {
        let commands = [
            Control::Halt { detail: "manual \"stop\"".into() },
            Control::Resume { detail: "ok".into() },
            Control::Kill { detail: "panic".into() },
            Control::HoldReducing { detail: "store degraded".into() },
            Control::ReleaseHold { detail: "healthy".into() },
            Control::FeedStale { detail: "no books".into() },
            Control::ClosePosition { trade_id: "T000001".into() },
            Control::Drop { trade_id: "T000002".into() },
            Control::Adopt { token_id: "123".into() },
            Control::Unmute { wallet: "0xabc".into() },
        ];
        for command in commands {
            let back = round_trip(&Input::Control(command.clone()));
            assert_eq!(format!("{back:?}"), format!("{:?}", Input::Control(command)));
        }
    }

    #[test]
    fn inputs_the_format_does_not_carry_write_nothing() {
        let reload = Input::Control(Control::SetConfig(std::sync::Arc::new(crate::config::Config::default())));
        assert!(!is_recorded(&reload));
        assert!(matches!(line_for(AT, &reload), Ok(None)));
        assert!(is_recorded(&Input::Tick));
        assert!(is_recorded(&Input::Control(Control::Halt { detail: String::new() })));
    }
}
