//! One line of a session file: when it happened and which engine input it is.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::SessionError;
use super::file::LineError;
use crate::clock::Timestamp;
use crate::engine::{Control, Input};
use crate::market::{ClobMarketInfo, MAX_OUTCOMES, MarketName, NameSource, OrderBook, OutcomeName, clean_name};
use crate::polymarket::{ActivityRow, Scan, parse_v1_row, scan_book};

/// The latest event time a session line may carry (2100-01-01T00:00:00Z, in milliseconds); the
/// earliest is the Unix epoch. Outside this a `ts` is a corrupt value, not a recording.
pub const LATEST_SESSION_TS_MS: i64 = 4_102_444_800_000;

#[derive(Deserialize)]
struct RawLine<'a> {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow, default)]
    trade: Option<&'a RawValue>,
    #[serde(borrow, default)]
    book: Option<&'a RawValue>,
    #[serde(borrow, default)]
    market: Option<&'a RawValue>,
    /// Beside `market`: when the market ends (RFC 3339), as `GET /markets/{condition_id}` says.
    #[serde(default)]
    end_date: Option<String>,
    #[serde(default)]
    condition_id: Option<String>,
    #[serde(default)]
    winning_token_id: Option<String>,
    #[serde(borrow, default)]
    header: Option<&'a RawValue>,
    /// A `names` line: the markets' names as the engine keeps them.
    #[serde(default)]
    names: Option<Vec<NameLine>>,
    /// A `control` line: the command and its one argument.
    #[serde(default)]
    command: Option<&'a str>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    trade_id: Option<String>,
    #[serde(default)]
    token_id: Option<String>,
    #[serde(default)]
    wallet: Option<String>,
}

/// A `control` line's command.
fn control(raw: RawLine<'_>) -> Result<Control, SessionError> {
    let detail = || raw.detail.clone().ok_or_else(|| missing("detail"));
    Ok(match raw.command.ok_or_else(|| missing("command"))? {
        "halt" => Control::Halt { detail: detail()? },
        "resume" => Control::Resume { detail: detail()? },
        "kill" => Control::Kill { detail: detail()? },
        "hold_reducing" => Control::HoldReducing { detail: detail()? },
        "release_hold" => Control::ReleaseHold { detail: detail()? },
        "feed_stale" => Control::FeedStale { detail: detail()? },
        "close_position" => Control::ClosePosition { trade_id: raw.trade_id.ok_or_else(|| missing("trade_id"))? },
        "drop" => Control::Drop { trade_id: raw.trade_id.ok_or_else(|| missing("trade_id"))? },
        "adopt" => Control::Adopt { token_id: raw.token_id.ok_or_else(|| missing("token_id"))? },
        "unmute" => Control::Unmute { wallet: raw.wallet.ok_or_else(|| missing("wallet"))? },
        other => {
            return Err(SessionError::BadField {
                field: "command",
                value: other.chars().take(80).collect(),
                rule: "one of halt, resume, kill, hold_reducing, release_hold, feed_stale, close_position, drop, adopt, unmute",
            });
        }
    })
}

/// One market's names in a `names` line.
#[derive(Deserialize)]
struct NameLine {
    condition_id: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    end_date: Option<String>,
    #[serde(default)]
    outcomes: Vec<OutcomeLine>,
    source: String,
    fetched_at: i64,
}

#[derive(Deserialize)]
struct OutcomeLine {
    token_id: String,
    outcome: String,
}

/// Most markets one `names` line may name (the names refresher sends far fewer at once).
const MAX_NAMES_PER_LINE: usize = 1000;

fn market_names(lines: Vec<NameLine>) -> Result<Vec<MarketName>, SessionError> {
    if lines.len() > MAX_NAMES_PER_LINE {
        return Err(SessionError::BadField {
            field: "names",
            value: format!("{} markets", lines.len()),
            rule: "at most 1000 markets per line",
        });
    }
    lines
        .into_iter()
        .map(|n| {
            let source = NameSource::parse(&n.source).ok_or_else(|| SessionError::BadField {
                field: "names.source",
                value: n.source.chars().take(80).collect(),
                rule: "trade or gamma",
            })?;
            Ok(MarketName {
                condition_id: n.condition_id.to_ascii_lowercase(),
                question: clean_name(&n.question),
                slug: clean_name(&n.slug),
                end_date: n.end_date.map(|d| clean_name(&d)),
                outcomes: n
                    .outcomes
                    .into_iter()
                    .take(MAX_OUTCOMES)
                    .map(|o| OutcomeName { token_id: o.token_id, outcome: clean_name(&o.outcome) })
                    .collect(),
                source,
                fetched_at: Timestamp::from_millis(n.fetched_at),
            })
        })
        .collect()
}

/// One parsed line: when it happened and what it is.
#[derive(Debug, Clone)]
pub struct ReplayEvent {
    pub at: Timestamp,
    pub input: Input,
}

fn missing(field: &'static str) -> SessionError {
    SessionError::BadField { field, value: "absent".to_owned(), rule: "required for this event type" }
}

/// A line's `ts` as a time: milliseconds since the Unix epoch, before 2100 (anything else is a
/// corrupt value, not a recording), whichever format the line came in.
pub(crate) fn session_time(ts: i64) -> Result<Timestamp, SessionError> {
    if !(0..=LATEST_SESSION_TS_MS).contains(&ts) {
        return Err(SessionError::BadField {
            field: "ts",
            value: ts.to_string(),
            rule: "milliseconds since 1970-01-01, before 2100",
        });
    }
    Ok(Timestamp::from_millis(ts))
}

/// Parses one line of a session file. `Ok(None)` for a blank line or a non-trade activity row.
pub fn parse_line(line: &str) -> Result<Option<ReplayEvent>, SessionError> {
    if let Some(book) = scan_book_line(line) {
        return book;
    }
    if line.trim().is_empty() {
        return Ok(None);
    }
    let raw: RawLine<'_> = serde_json::from_str(line).map_err(|e| SessionError::BadField {
        field: "line",
        value: e.to_string(),
        rule: "a JSON object with ts and type",
    })?;
    let at = session_time(raw.ts)?;
    let input = match raw.kind {
        "whale_trade" => {
            let row = raw.trade.ok_or_else(|| missing("trade"))?;
            match parse_v1_row(row.get()).map_err(|e| SessionError::BadField {
                field: "trade",
                value: e,
                rule: "a Data API v1 trade row",
            })? {
                ActivityRow::Trade(trade) => Input::WhaleTrade(Box::new(trade)),
                _ => return Ok(None),
            }
        }
        "book" => {
            let json = raw.book.ok_or_else(|| missing("book"))?;
            let book = OrderBook::from_json(json.get()).map_err(SessionError::BookRefused)?;
            Input::Book(Box::new(book))
        }
        "market" => {
            let json = raw.market.ok_or_else(|| missing("market"))?;
            let mut info = ClobMarketInfo::from_json(json.get()).map_err(|e| SessionError::BadField {
                field: "market",
                value: e.to_string(),
                rule: "a CLOB /clob-markets object",
            })?;
            if let Some(text) = raw.end_date {
                let at = chrono::DateTime::parse_from_rfc3339(&text).map_err(|_| SessionError::BadField {
                    field: "end_date",
                    value: text.chars().take(80).collect(),
                    rule: "an RFC 3339 time",
                })?;
                info.end_date = Some(Timestamp::from(at.with_timezone(&chrono::Utc)));
            }
            Input::MarketInfo(Box::new(info))
        }
        // Where the session came from (see `header`): for people and reports, not the engine.
        "header" => {
            let json = raw.header.ok_or_else(|| missing("header"))?;
            serde_json::from_str::<super::SessionHeader>(json.get()).map_err(|e| SessionError::BadField {
                field: "header",
                value: e.to_string(),
                rule: "an object with at least a source",
            })?;
            return Ok(None);
        }
        "resolution" => Input::Resolution {
            condition_id: raw.condition_id.ok_or_else(|| missing("condition_id"))?,
            winning_token_id: raw.winning_token_id.ok_or_else(|| missing("winning_token_id"))?,
        },
        "market_closed" => {
            Input::MarketClosed { condition_id: raw.condition_id.ok_or_else(|| missing("condition_id"))? }
        }
        "market_reopened" => {
            Input::MarketReopened { condition_id: raw.condition_id.ok_or_else(|| missing("condition_id"))? }
        }
        "names" => Input::MarketNames(market_names(raw.names.ok_or_else(|| missing("names"))?)?),
        "tick" => Input::Tick,
        "control" => Input::Control(control(raw)?),
        other => {
            return Err(SessionError::BadField {
                field: "type",
                value: other.chars().take(80).collect(),
                rule: "one of whale_trade, book, market, resolution, market_closed, market_reopened, names, tick, control, header",
            });
        }
    };
    Ok(Some(ReplayEvent { at, input }))
}

/// A `book` line in the shape the recorder writes (`{"ts":…,"type":"book","book":{…}}`, in that
/// order), read without building a DOM: most of a session is such lines. `None` for any other
/// line, or one the scanner leaves to serde; [`parse_line`] then reads it the general way, to the
/// same result.
fn scan_book_line(line: &str) -> Option<Result<Option<ReplayEvent>, SessionError>> {
    let mut scan = Scan::new(line);
    scan.eat(b'{')?;
    scan.expect_key("ts")?;
    let ts = scan.int().filter(|ts| *ts <= LATEST_SESSION_TS_MS)?;
    scan.eat(b',')?;
    scan.expect_key("type")?;
    (scan.str()? == "book").then_some(())?;
    scan.eat(b',')?;
    scan.expect_key("book")?;
    let book = scan_book(&mut scan)?;
    scan.eat(b'}')?;
    scan.at_end().then_some(())?;
    let at = Timestamp::from_millis(ts);
    Some(
        book.map(|book| Some(ReplayEvent { at, input: Input::Book(Box::new(book)) }))
            .map_err(SessionError::BookRefused),
    )
}

/// A line read from a session file, parsed; a line that could not be read as text is malformed.
pub fn parse_session_line(text: Result<String, LineError>) -> Result<Option<ReplayEvent>, SessionError> {
    match text {
        Ok(text) => parse_line(&text),
        Err(e) => Err(SessionError::BadField { field: e.cause(), value: e.to_string(), rule: "a line of UTF-8 JSON" }),
    }
}

/// The cause a malformed line is counted under: the field that broke its rule.
pub fn malformed_cause(error: &SessionError) -> &'static str {
    match error {
        SessionError::BadField { field, .. } => field,
        SessionError::BookRefused(_) => "book",
        SessionError::Io { .. } | SessionError::Engine(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_dated_outside_the_session_range_is_malformed() {
        for ts in [-1, LATEST_SESSION_TS_MS + 1, i64::MAX] {
            let line = format!(r#"{{"ts":{ts},"type":"resolution","condition_id":"0xc","winning_token_id":"1"}}"#);
            match parse_line(&line) {
                Err(SessionError::BadField { field: "ts", value, .. }) => assert_eq!(value, ts.to_string()),
                other => panic!("ts {ts}: {other:?}"),
            }
        }
        let line = format!(
            r#"{{"ts":{LATEST_SESSION_TS_MS},"type":"resolution","condition_id":"0xc","winning_token_id":"1"}}"#
        );
        assert!(matches!(parse_line(&line), Ok(Some(_))));
    }

    const BOOK: &str = r#"{"ts":1767607200001,"type":"book","book":{"market":"0xa4c1","asset_id":"68147277296385644394718024663673773591643019593936242597937219845624594143946","timestamp":"1767607200001","hash":"fe3b890b93f448b3a5aa3c814f426dcbb394fb36","bids":[{"price":"0.501","size":"1000000"}],"asks":[{"price":"0.502","size":"1000000"}],"min_order_size":"5","tick_size":"0.001","neg_risk":false,"last_trade_price":"0.500"}}"#;

    #[test]
    fn a_book_line_in_the_recorders_shape_is_read_by_the_scanner_to_what_serde_reads() {
        let fast = scan_book_line(BOOK).unwrap_or_else(|| panic!("the scanner reads the common shape"));
        let fast = format!("{:?}", fast.unwrap_or_else(|e| panic!("{e}")));
        // The same line with a space added leaves the fixed key order: serde's path reads it.
        let spaced = BOOK.replacen("{\"ts\"", "{ \"ts\"", 1).replacen(",\"type\"", ", \"type\"", 1);
        assert!(scan_book_line(&BOOK.replacen("\"ts\"", "\"ts2\"", 1)).is_none());
        let slow: RawLine<'_> = serde_json::from_str(BOOK).unwrap_or_else(|e| panic!("{e}"));
        let slow =
            OrderBook::from_json(slow.book.unwrap_or_else(|| panic!("book")).get()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            fast,
            format!(
                "{:?}",
                Some(ReplayEvent { at: Timestamp::from_millis(1_767_607_200_001), input: Input::Book(Box::new(slow)) })
            )
        );
        assert_eq!(format!("{:?}", parse_line(&spaced)), format!("{:?}", parse_line(BOOK)));
    }
}
