//! Trade history and profit: `trades`, `profit`, `daily` and the offline `whales` table, computed
//! from the store's trade records (pure, synchronous). The daemon answers them on `GET /trades`,
//! `/profit`, `/daily` with the marks of its open positions; the CLI computes the same answers from
//! the store when no daemon runs (`source` then names the store, and unrealised P&L is unknown).
//! `source` reads the store; the rest of this module never does I/O.

mod render;
mod source;

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::risk::daily_loss::trading_day;
use crate::store::{PositionStatus, StoreError, TradeRecord};

pub use render::{render_daily, render_profit, render_trades, render_whale_table, render_whales};
pub use source::answer_from_store;

/// Trades listed when no `limit` is given.
pub const DEFAULT_TRADE_LIMIT: usize = 50;
/// Most trades one answer lists (an answer must stay small enough for a terminal and a chat).
pub const MAX_TRADE_LIMIT: usize = 1000;
/// Days `daily` shows when none is given, and at most.
pub const DEFAULT_DAYS: u32 = 7;
pub const MAX_DAYS: u32 = 366;
/// Longest whale or market filter accepted (a wallet is 42 characters, a condition id 66).
const MAX_FILTER_CHARS: usize = 100;
/// Longest `since` accepted (an RFC 3339 time with an offset and nanoseconds is 35).
const MAX_SINCE_CHARS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{field} = {value:?}: {rule}")]
    BadParameter { field: &'static str, value: String, rule: &'static str },
    #[error("unknown parameter {name:?}: expected whale, market, since, limit or days")]
    UnknownParameter { name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which trades `trades` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeFilter {
    /// A wallet (exact, any case) or a whale label (exact).
    pub whale: Option<String>,
    /// A market's condition id, or a token id.
    pub market: Option<String>,
    /// Trades opened at or after this time.
    pub since: Option<Timestamp>,
    pub limit: usize,
}

impl Default for TradeFilter {
    fn default() -> Self {
        Self { whale: None, market: None, since: None, limit: DEFAULT_TRADE_LIMIT }
    }
}

/// One history question: the same for the API, the CLI and the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryQuery {
    Trades(TradeFilter),
    Profit,
    Daily { days: u32 },
}

impl HistoryQuery {
    /// The API route that answers it, with its query string.
    pub fn path(&self) -> String {
        match self {
            HistoryQuery::Trades(f) => {
                let mut params = vec![format!("limit={}", f.limit)];
                if let Some(w) = &f.whale {
                    params.push(format!("whale={}", encode(w)));
                }
                if let Some(m) = &f.market {
                    params.push(format!("market={}", encode(m)));
                }
                if let Some(s) = f.since {
                    params.push(format!("since={}", encode(&s.to_rfc3339())));
                }
                format!("/trades?{}", params.join("&"))
            }
            HistoryQuery::Profit => "/profit".into(),
            HistoryQuery::Daily { days } => format!("/daily?days={days}"),
        }
    }
}

/// Percent-encodes everything but unreserved characters (a label may hold spaces or `&`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Reads `GET /trades` parameters (already decoded), each bounded and checked.
pub fn trade_filter_from_params(params: &[(String, String)]) -> Result<TradeFilter, HistoryError> {
    let mut filter = TradeFilter::default();
    for (name, value) in params {
        match name.as_str() {
            "whale" => filter.whale = Some(bounded_text("whale", value)?),
            "market" => filter.market = Some(bounded_text("market", value)?),
            "since" => filter.since = Some(parse_since(value)?),
            "limit" => filter.limit = parse_limit(value)?,
            _ => return Err(HistoryError::UnknownParameter { name: name.chars().take(40).collect() }),
        }
    }
    Ok(filter)
}

/// Reads `GET /daily` parameters: `days`, 1 to [`MAX_DAYS`].
pub fn days_from_params(params: &[(String, String)]) -> Result<u32, HistoryError> {
    let mut days = DEFAULT_DAYS;
    for (name, value) in params {
        match name.as_str() {
            "days" => days = parse_days(value)?,
            _ => return Err(HistoryError::UnknownParameter { name: name.chars().take(40).collect() }),
        }
    }
    Ok(days)
}

fn bounded_text(field: &'static str, value: &str) -> Result<String, HistoryError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_FILTER_CHARS || value.chars().any(char::is_control) {
        return Err(HistoryError::BadParameter {
            field,
            value: value.chars().take(MAX_FILTER_CHARS).collect(),
            rule: "must be 1 to 100 printable characters",
        });
    }
    Ok(value.to_string())
}

/// `limit`: 1 to [`MAX_TRADE_LIMIT`].
pub fn parse_limit(value: &str) -> Result<usize, HistoryError> {
    value.trim().parse::<usize>().ok().filter(|n| (1..=MAX_TRADE_LIMIT).contains(n)).ok_or_else(|| {
        HistoryError::BadParameter {
            field: "limit",
            value: value.chars().take(20).collect(),
            rule: "must be a whole number from 1 to 1000",
        }
    })
}

/// `days`: 1 to [`MAX_DAYS`].
pub fn parse_days(value: &str) -> Result<u32, HistoryError> {
    value.trim().parse::<u32>().ok().filter(|n| (1..=MAX_DAYS).contains(n)).ok_or_else(|| HistoryError::BadParameter {
        field: "days",
        value: value.chars().take(20).collect(),
        rule: "must be a whole number from 1 to 366",
    })
}

/// `since`: a date (`2026-12-01`, its start in UTC) or an RFC 3339 time.
pub fn parse_since(value: &str) -> Result<Timestamp, HistoryError> {
    let value = value.trim();
    let bad = || HistoryError::BadParameter {
        field: "since",
        value: value.chars().take(MAX_SINCE_CHARS).collect(),
        rule: "must be a date (2026-12-01, UTC) or an RFC 3339 time (2026-12-01T08:00:00Z)",
    };
    if value.len() > MAX_SINCE_CHARS {
        return Err(bad());
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(Timestamp(date.and_time(NaiveTime::MIN).and_utc().timestamp_millis()));
    }
    chrono::DateTime::parse_from_rfc3339(value).map(|t| Timestamp(t.timestamp_millis())).map_err(|_| bad())
}

/// What the daemon knows that the store does not: the open trades' current P&L at the last price.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marks {
    /// Trade id → (last price, unrealised P&L).
    pub open: HashMap<String, (Option<Decimal>, Option<Decimal>)>,
}

/// The names a person reads: whale labels by wallet (lower case), market titles by condition id
/// (from the store's cache of market names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub whale_labels: HashMap<String, String>,
    pub market_titles: HashMap<String, String>,
}

impl Names {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Names {
            whale_labels: config
                .copy
                .whales
                .iter()
                .filter_map(|w| w.label.clone().map(|l| (w.address.to_ascii_lowercase(), l)))
                .collect(),
            market_titles: HashMap::new(),
        }
    }

    fn label(&self, wallet: &str) -> Option<String> {
        self.whale_labels.get(&wallet.to_ascii_lowercase()).cloned()
    }

    fn title(&self, market: &str) -> Option<String> {
        self.market_titles.get(&market.to_ascii_lowercase()).cloned()
    }
}

/// One trade, open or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeView {
    pub id: String,
    pub whale: String,
    #[serde(default)]
    pub whale_label: Option<String>,
    pub market: String,
    /// The market's question, when the store has it.
    #[serde(default)]
    pub market_title: Option<String>,
    pub token: String,
    pub outcome: String,
    /// `open` or `closed`.
    pub status: String,
    pub size: Decimal,
    pub entry_price: Decimal,
    /// The exit price of a closed trade; the last price of an open one, when the daemon knows it.
    pub exit_price: Option<Decimal>,
    /// Realised for a closed trade; unrealised for an open one, when the daemon knows it.
    pub pnl: Option<Decimal>,
    pub fees: Decimal,
    pub exit_reason: Option<String>,
    pub opened_at: String,
    pub closed_at: Option<String>,
}

/// `trades`: the matching trades, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradesView {
    /// `daemon` or `store`.
    pub source: String,
    /// How many trades matched before the limit.
    pub matched: usize,
    pub trades: Vec<TradeView>,
}

/// A trade named in the profit summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeRef {
    pub id: String,
    pub whale: String,
    #[serde(default)]
    pub whale_label: Option<String>,
    pub market: String,
    #[serde(default)]
    pub market_title: Option<String>,
    pub pnl: Decimal,
}

/// One whale's line of the profit summary (and the offline `whales` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhaleProfit {
    pub wallet: String,
    #[serde(default)]
    pub label: Option<String>,
    pub open: u64,
    pub closed: u64,
    pub wins: u64,
    pub losses: u64,
    pub realised_pnl: Decimal,
    /// Known only from the running daemon.
    pub unrealised_pnl: Option<Decimal>,
    pub fees: Decimal,
}

/// `profit`: the results of every trade the store holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfitView {
    pub source: String,
    pub realised_pnl: Decimal,
    /// Σ over open trades at their last price; known only from the running daemon.
    pub unrealised_pnl: Option<Decimal>,
    pub open_trades: u64,
    pub closed_trades: u64,
    pub wins: u64,
    pub losses: u64,
    /// Wins over closed trades, in percent; none before the first close.
    pub win_rate_percent: Option<Decimal>,
    pub best: Option<TradeRef>,
    pub worst: Option<TradeRef>,
    /// Σ of winning closes.
    pub gross_profit: Decimal,
    /// Σ of losing closes (zero or negative).
    pub gross_loss: Decimal,
    /// Gross profit over the gross loss's size; none while nothing has lost.
    pub profit_factor: Option<Decimal>,
    /// Σ fees of every fill, open and closed trades (the P&L figures are already net of them).
    pub fees: Decimal,
    pub whales: Vec<WhaleProfit>,
}

/// One trading day of `daily`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayView {
    /// The day's first moment, as a date (`2026-12-04`), and as a time when days start off midnight.
    pub date: String,
    pub starts_at: String,
    /// Σ realised P&L of the trades closed that day.
    pub realised_pnl: Decimal,
    pub closed: u64,
    pub wins: u64,
    pub losses: u64,
    pub fees: Decimal,
}

/// `daily`: the last N trading days, newest first, days with no close included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyView {
    pub source: String,
    pub day_start_utc_minutes: u32,
    pub days: Vec<DayView>,
    pub total_pnl: Decimal,
}

fn is_closed(p: &crate::store::PositionRecord) -> bool {
    p.status == PositionStatus::Closed
}

/// `trades`: filter, order newest first (by opening, then id), limit.
pub fn trades(records: &[TradeRecord], filter: &TradeFilter, marks: &Marks, names: &Names, source: &str) -> TradesView {
    let whale = filter.whale.as_deref();
    let mut matching: Vec<&TradeRecord> = records
        .iter()
        .filter(|r| {
            let p = &r.position;
            whale.is_none_or(|w| {
                p.whale_wallet.eq_ignore_ascii_case(w) || names.label(&p.whale_wallet).is_some_and(|l| l == w)
            })
        })
        .filter(|r| filter.market.as_deref().is_none_or(|m| r.position.market_id == m || r.position.token_id == m))
        .filter(|r| filter.since.is_none_or(|since| r.position.opened_at >= since))
        .collect();
    matching.sort_by(|a, b| {
        (b.position.opened_at, &b.position.position_id).cmp(&(a.position.opened_at, &a.position.position_id))
    });
    let matched = matching.len();
    let trades = matching.into_iter().take(filter.limit).map(|r| trade_view(r, marks, names)).collect();
    TradesView { source: source.into(), matched, trades }
}

fn trade_view(r: &TradeRecord, marks: &Marks, names: &Names) -> TradeView {
    let p = &r.position;
    let (exit_price, pnl) = if is_closed(p) {
        (p.exit_price, p.realised_pnl)
    } else {
        marks.open.get(&p.position_id).copied().unwrap_or((None, None))
    };
    TradeView {
        id: p.position_id.clone(),
        whale: p.whale_wallet.clone(),
        whale_label: names.label(&p.whale_wallet),
        market: p.market_id.clone(),
        market_title: names.title(&p.market_id),
        token: p.token_id.clone(),
        outcome: p.outcome.clone(),
        status: p.status.as_str().into(),
        size: p.size,
        entry_price: p.entry_price,
        exit_price,
        pnl,
        fees: r.fees,
        exit_reason: p.exit_reason.clone(),
        opened_at: p.opened_at.to_rfc3339(),
        closed_at: p.closed_at.map(Timestamp::to_rfc3339),
    }
}

/// `profit`. `marks` is `None` when read from the store: unrealised P&L is then unknown, not zero.
pub fn profit(records: &[TradeRecord], marks: Option<&Marks>, names: &Names, source: &str) -> ProfitView {
    let mut view = ProfitView {
        source: source.into(),
        realised_pnl: Decimal::ZERO,
        unrealised_pnl: marks.map(|_| Decimal::ZERO),
        open_trades: 0,
        closed_trades: 0,
        wins: 0,
        losses: 0,
        win_rate_percent: None,
        best: None,
        worst: None,
        gross_profit: Decimal::ZERO,
        gross_loss: Decimal::ZERO,
        profit_factor: None,
        fees: Decimal::ZERO,
        whales: Vec::new(),
    };
    let mut whales: BTreeMap<String, WhaleProfit> = BTreeMap::new();
    for r in records {
        let p = &r.position;
        let whale = whales.entry(p.whale_wallet.clone()).or_insert_with(|| WhaleProfit {
            wallet: p.whale_wallet.clone(),
            label: names.label(&p.whale_wallet),
            open: 0,
            closed: 0,
            wins: 0,
            losses: 0,
            realised_pnl: Decimal::ZERO,
            unrealised_pnl: marks.map(|_| Decimal::ZERO),
            fees: Decimal::ZERO,
        });
        view.fees += r.fees;
        whale.fees += r.fees;
        if !is_closed(p) {
            view.open_trades += 1;
            whale.open += 1;
            let unrealised = marks.and_then(|m| m.open.get(&p.position_id)).and_then(|(_, pnl)| *pnl);
            if let Some(u) = unrealised {
                view.unrealised_pnl = view.unrealised_pnl.map(|t| t + u);
                whale.unrealised_pnl = whale.unrealised_pnl.map(|t| t + u);
            }
            continue;
        }
        let pnl = p.realised_pnl.unwrap_or_default();
        view.closed_trades += 1;
        whale.closed += 1;
        view.realised_pnl += pnl;
        whale.realised_pnl += pnl;
        if pnl > Decimal::ZERO {
            view.wins += 1;
            whale.wins += 1;
            view.gross_profit += pnl;
        } else if pnl < Decimal::ZERO {
            view.losses += 1;
            whale.losses += 1;
            view.gross_loss += pnl;
        }
        let this = || TradeRef {
            id: p.position_id.clone(),
            whale: p.whale_wallet.clone(),
            whale_label: names.label(&p.whale_wallet),
            market: p.market_id.clone(),
            market_title: names.title(&p.market_id),
            pnl,
        };
        if view.best.as_ref().is_none_or(|b| pnl > b.pnl) {
            view.best = Some(this());
        }
        if view.worst.as_ref().is_none_or(|w| pnl < w.pnl) {
            view.worst = Some(this());
        }
    }
    if view.closed_trades > 0 {
        view.win_rate_percent =
            Some((Decimal::from(view.wins) * Decimal::ONE_HUNDRED / Decimal::from(view.closed_trades)).round_dp(2));
    }
    if view.gross_loss < Decimal::ZERO {
        view.profit_factor = Some((view.gross_profit / view.gross_loss.abs()).round_dp(4));
    }
    view.whales = whales.into_values().collect();
    // Best first; a tie keeps the wallets' order.
    view.whales.sort_by_key(|w| std::cmp::Reverse(w.realised_pnl));
    view
}

/// `daily`: realised P&L per trading day (days start `day_start_utc_minutes` after midnight UTC,
/// as the daily loss limit counts them), for the `days` days ending with the one `now` is in.
pub fn daily(
    records: &[TradeRecord],
    now: Timestamp,
    days: u32,
    day_start_utc_minutes: u32,
    source: &str,
) -> DailyView {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let today = trading_day(now, day_start_utc_minutes);
    let offset_ms = i64::from(day_start_utc_minutes) * 60_000;
    let first = today - i64::from(days.max(1)) + 1;
    let mut lines: Vec<DayView> = (first..=today)
        .rev()
        .map(|day| {
            let start = Timestamp(day * DAY_MS + offset_ms);
            DayView {
                date: start.to_datetime().format("%Y-%m-%d").to_string(),
                starts_at: start.to_rfc3339(),
                realised_pnl: Decimal::ZERO,
                closed: 0,
                wins: 0,
                losses: 0,
                fees: Decimal::ZERO,
            }
        })
        .collect();
    for r in records {
        let p = &r.position;
        let Some(closed_at) = p.closed_at.filter(|_| is_closed(p)) else { continue };
        let day = trading_day(closed_at, day_start_utc_minutes);
        if day < first || day > today {
            continue;
        }
        let line = &mut lines[usize::try_from(today - day).unwrap_or(0)];
        let pnl = p.realised_pnl.unwrap_or_default();
        line.realised_pnl += pnl;
        line.closed += 1;
        line.fees += r.fees;
        if pnl > Decimal::ZERO {
            line.wins += 1;
        } else if pnl < Decimal::ZERO {
            line.losses += 1;
        }
    }
    let total_pnl = lines.iter().map(|d| d.realised_pnl).sum();
    DailyView { source: source.into(), day_start_utc_minutes, days: lines, total_pnl }
}

/// What an answer depends on besides the records.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The open trades' marks; `None` when read from the store.
    pub marks: Option<&'a Marks>,
    pub names: &'a Names,
    pub now: Timestamp,
    pub day_start_utc_minutes: u32,
    /// `daemon` or `store`.
    pub source: &'a str,
}

/// The answer to one query as JSON (the API's body, the CLI's `--json`).
pub fn answer(query: &HistoryQuery, records: &[TradeRecord], cx: &Context<'_>) -> serde_json::Value {
    let empty = Marks::default();
    let value = match query {
        HistoryQuery::Trades(filter) => {
            serde_json::to_value(trades(records, filter, cx.marks.unwrap_or(&empty), cx.names, cx.source))
        }
        HistoryQuery::Profit => serde_json::to_value(profit(records, cx.marks, cx.names, cx.source)),
        HistoryQuery::Daily { days } => {
            serde_json::to_value(daily(records, cx.now, *days, cx.day_start_utc_minutes, cx.source))
        }
    };
    value.unwrap_or_default()
}

#[cfg(test)]
mod tests;
