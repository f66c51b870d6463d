//! `whale-trader fetch-history`: a replayable session built from wallets' public trades and the
//! traded markets' price history, for backtesting a whale before following it.
//!
//! The work comes in units, each written whole to `FILE.partial` and then ticked off in
//! `FILE.progress` (see [`progress`]), so that a rerun of the same command continues where an
//! interrupted one stopped and ends with the same file:
//!
//! 1. `trades:WALLET`: the wallet's trades between the dates ([`crate::polymarket::wallet_trades`]:
//!    the live feed's route, paging and overlap-and-dedupe), one `whale_trade` line each;
//! 2. `market:CONDITION_ID` for every traded market: its `/clob-markets` answer as a `market` line
//!    (at the window's start, with the end date of `GET /markets/{condition_id}`), and a
//!    `resolution` line when that market resolved inside the window;
//! 3. `prices:TOKEN` for every traded token: `GET /prices-history` between the dates, each point
//!    a `book` line approximated from the price (see [`lines::approximate_book`]).
//!
//! Then the lines are put in time order behind a `header` line that says where they came from
//! and how the books were made, and the partial and progress files are removed.

mod lines;
mod progress;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read, Seek, Write};
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

pub use lines::{FETCH_HISTORY_SOURCE, book_approximation_note};
pub use progress::{FetchArgs, Progress, WorkFiles};

use super::{HeaderWallet, SessionHeader, WriteError};
use crate::clock::Timestamp;
use crate::engine::Input;
use crate::market::ClobMarketInfo;
use crate::polymarket::{
    ClobMarketData, HistoryError, HttpClient, HttpError, MarketDataError, PolymarketConfig, token_prices, wallet_trades,
};

/// Why a fetch stopped. Everything finished before it is kept for the rerun.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path} cannot be used to resume: {detail}; remove it (and its .partial file) to start over")]
    BadProgress { path: String, detail: String },
    #[error(
        "{path} belongs to a fetch with other arguments or settings; run that command again to finish it, or \
         remove it (and its .partial file) to start this one"
    )]
    OtherArguments { path: String },
    #[error("{path} already exists (a finished fetch); remove it or choose another --out")]
    OutExists { path: String },
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("market {condition_id}: {source}")]
    Market { condition_id: String, source: MarketDataError },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl FetchError {
    fn io(path: &Path, error: std::io::Error) -> Self {
        FetchError::Io { path: path.display().to_string(), reason: error.to_string() }
    }
}

/// What to fetch.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// Lowercase proxy wallets, each once, with their labels when the config names them.
    pub wallets: Vec<HeaderWallet>,
    pub since: Timestamp,
    pub until: Timestamp,
    pub out: PathBuf,
    /// Now: the header's fetch time unless this resumes an earlier run.
    pub now: Timestamp,
}

/// What the fetch tells the person waiting for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchEvent {
    /// A unit of work is finished (`resumed`: an earlier run had finished it).
    Unit { stage: &'static str, index: usize, total: usize, what: String, detail: String, resumed: bool },
    /// Something was skipped or cut; said once per unit and cause.
    Warning(String),
}

/// The finished session, counted by line type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchSummary {
    pub lines: usize,
    pub trades: usize,
    pub markets: usize,
    pub books: usize,
    pub resolutions: usize,
    /// Units an earlier, interrupted run had finished.
    pub resumed_units: usize,
}

/// Fetches `request` into `request.out` (resuming an interrupted fetch of the same arguments),
/// telling `report` as it goes.
pub async fn fetch_history(
    config: &PolymarketConfig,
    request: &FetchRequest,
    report: &mut dyn FnMut(FetchEvent),
) -> Result<FetchSummary, FetchError> {
    let settings = &config.fetch_history;
    let files = WorkFiles::for_out(&request.out);
    let args = FetchArgs {
        wallets: request.wallets.iter().map(|w| w.address.clone()).collect(),
        since_ms: request.since.millis(),
        until_ms: request.until.millis(),
        fidelity_minutes: settings.fidelity_minutes,
        book_depth_shares: settings.book_depth_shares,
        max_points_per_token: settings.max_points_per_token,
        api_version: format!("{:?}", config.whale_feed.api_version).to_ascii_lowercase(),
        page_size: config.whale_feed.page_size,
        overlap_secs: config.whale_feed.overlap_secs,
    };
    let mut progress = match files.load()? {
        Some(saved) if saved.args == args => saved,
        Some(_) => return Err(FetchError::OtherArguments { path: files.progress.display().to_string() }),
        None if files.out.exists() => return Err(FetchError::OutExists { path: files.out.display().to_string() }),
        None => Progress { args, started_ms: request.now.millis(), partial_bytes: 0, done: BTreeSet::new() },
    };
    let resumed_units = progress.done.len();
    let mut work =
        Work { files: &files, partial: files.open_partial(progress.partial_bytes)?, progress: &mut progress };
    let http = HttpClient::new(&config.http, settings.requests_per_sec)?;
    let clob = ClobMarketData::with_http(&config.clob_url, http.clone());
    let window = (request.since, request.until);

    // 1. Each wallet's trades.
    let total = request.wallets.len();
    for (index, wallet) in request.wallets.iter().enumerate() {
        let unit = format!("trades:{}", wallet.address);
        let what = wallet.label.clone().map_or(wallet.address.clone(), |l| format!("{l} ({})", wallet.address));
        if work.is_done(&unit) {
            report(FetchEvent::Unit { stage: "trades", index, total, what, detail: String::new(), resumed: true });
            continue;
        }
        let history = wallet_trades(
            &http,
            &config.data_api_url,
            &config.whale_feed,
            settings.max_pages_per_wallet,
            &wallet.address,
            window,
        )
        .await?;
        for (cause, tally) in history.skipped.iter() {
            report(FetchEvent::Warning(format!(
                "wallet {}: {} activity row(s) skipped ({cause}), e.g. {}",
                wallet.address, tally.count, tally.first_example
            )));
        }
        let lines = history.trades.iter().map(lines::trade_line).collect::<Result<Vec<String>, _>>()?;
        work.commit(&unit, &lines)?;
        let detail = format!(
            "{} trade(s), {} page(s), {} repeated row(s) skipped",
            history.trades.len(),
            history.pages,
            history.duplicates
        );
        report(FetchEvent::Unit { stage: "trades", index, total, what, detail, resumed: false });
    }

    // 2. Each traded market's parameters, end date and resolution.
    let mut known = Known::read(&files.partial)?;
    let markets: Vec<String> = known.last_trade.keys().cloned().collect();
    for (index, condition_id) in markets.iter().enumerate() {
        let unit = format!("market:{condition_id}");
        let total = markets.len();
        if work.is_done(&unit) {
            report(FetchEvent::Unit {
                stage: "markets",
                index,
                total,
                what: condition_id.clone(),
                detail: String::new(),
                resumed: true,
            });
            continue;
        }
        let market_error = |source| FetchError::Market { condition_id: condition_id.clone(), source };
        let (text, info) = match clob.market_info_with_text(condition_id).await {
            Ok(found) => found,
            Err(e) if e.is_not_found() => {
                report(FetchEvent::Warning(format!(
                    "market {condition_id}: the CLOB does not know it (404 on /clob-markets): its trades are kept, \
                     without prices (a replay rejects them as stale_price)"
                )));
                work.commit(&unit, &[])?;
                continue;
            }
            Err(e) => return Err(market_error(e)),
        };
        let status = match clob.market_status(condition_id).await {
            Ok(status) => Some(status),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(market_error(e)),
        };
        let end_date = status.as_ref().and_then(|s| s.end_date.clone().ok().flatten());
        let mut lines = vec![lines::market_line(request.since, &text, end_date)];
        let winner = status.as_ref().filter(|s| s.closed).and_then(|s| s.winner());
        let mut detail = match &status {
            Some(s) if !s.question.is_empty() => s.question.clone(),
            _ => "question unknown".to_owned(),
        };
        if let (Some(winner), Some(end)) = (winner, end_date) {
            // Never before the last trade read in the market: the end date is the scheduled end,
            // and a late resolution must not settle positions before trades that happened.
            let last_trade = known.last_trade.get(condition_id).copied().unwrap_or(request.since);
            let at = end.max(last_trade.plus_secs(1));
            if at <= request.until {
                lines.push(lines::resolution_line(at, condition_id, &winner.token_id));
                detail.push_str(&format!(", resolved {} ({})", at.to_rfc3339(), winner.outcome));
            }
        }
        work.commit(&unit, &lines)?;
        known.markets.insert(condition_id.clone(), info);
        report(FetchEvent::Unit { stage: "markets", index, total, what: condition_id.clone(), detail, resumed: false });
    }

    // 3. Each traded token's price history, as approximated books.
    let tokens: Vec<(String, String)> = known.trade_times.keys().cloned().collect();
    for (index, (condition_id, token)) in tokens.iter().enumerate() {
        let unit = format!("prices:{token}");
        let total = tokens.len();
        let what = format!("token {token}");
        if work.is_done(&unit) {
            report(FetchEvent::Unit { stage: "prices", index, total, what, detail: String::new(), resumed: true });
            continue;
        }
        let Some(info) = known.markets.get(condition_id) else {
            work.commit(&unit, &[])?;
            let detail = "no market parameters: no books".to_owned();
            report(FetchEvent::Unit { stage: "prices", index, total, what, detail, resumed: false });
            continue;
        };
        let history = token_prices(
            &http,
            &config.clob_url,
            token,
            window,
            settings.fidelity_minutes,
            usize::try_from(settings.max_points_per_token).unwrap_or(usize::MAX),
        )
        .await?;
        if history.cut > 0 {
            report(FetchEvent::Warning(format!(
                "token {token}: {} price point(s) past polymarket.fetch_history.max_points_per_token = {} were cut",
                history.cut, settings.max_points_per_token
            )));
        }
        for (cause, tally) in history.skipped.iter() {
            report(FetchEvent::Warning(format!(
                "token {token}: {} price point(s) skipped ({cause}), e.g. {}",
                tally.count, tally.first_example
            )));
        }
        let points: Vec<(Timestamp, Decimal)> = history
            .points
            .iter()
            .filter(|p| (request.since..=request.until).contains(&p.at))
            .map(|p| (p.at, p.price))
            .collect();
        let trade_times = known.trade_times.get(&(condition_id.clone(), token.clone())).cloned().unwrap_or_default();
        let carried = lines::carried_books(&points, &trade_times);
        let depth = settings.book_depth_shares;
        let lines: Vec<String> = points
            .iter()
            .chain(carried.iter())
            .filter_map(|(at, p)| lines::approximate_book(info, token, *at, *p, depth))
            .collect();
        work.commit(&unit, &lines)?;
        let detail = format!("{} price point(s), {} book(s) repeated before trades", points.len(), carried.len());
        report(FetchEvent::Unit { stage: "prices", index, total, what, detail, resumed: false });
    }
    drop(work);

    // 4. The session: the header, then every line in time order.
    let header = SessionHeader {
        source: FETCH_HISTORY_SOURCE.to_owned(),
        wallets: request.wallets.clone(),
        since: request.since.to_rfc3339(),
        until: request.until.to_rfc3339(),
        book_approximation: Some(book_approximation_note(settings.fidelity_minutes, settings.book_depth_shares)),
        price_interval_secs: Some(u64::from(settings.fidelity_minutes) * 60),
        fetched_at: Timestamp::from_millis(progress.started_ms).to_rfc3339(),
    };
    let summary = write_session(&files, request.since, &header)?;
    files.finish()?;
    Ok(FetchSummary { resumed_units, ..summary })
}

/// The open partial file and the progress that counts it.
struct Work<'a> {
    files: &'a WorkFiles,
    partial: std::fs::File,
    progress: &'a mut Progress,
}

impl Work<'_> {
    fn is_done(&self, unit: &str) -> bool {
        self.progress.done.contains(unit)
    }

    /// Appends a finished unit's lines, makes them durable, then ticks the unit off.
    fn commit(&mut self, unit: &str, lines: &[String]) -> Result<(), FetchError> {
        let io = |e| FetchError::io(&self.files.partial, e);
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        self.partial.write_all(text.as_bytes()).map_err(io)?;
        self.partial.sync_data().map_err(io)?;
        self.progress.partial_bytes += text.len() as u64;
        self.progress.done.insert(unit.to_owned());
        self.files.save(self.progress)
    }
}

/// What the partial file already holds that later units need.
#[derive(Debug, Default)]
struct Known {
    /// The newest trade of each traded market.
    last_trade: BTreeMap<String, Timestamp>,
    /// The trade times of each traded (market, token), oldest first.
    trade_times: BTreeMap<(String, String), Vec<Timestamp>>,
    /// The parameters of each market fetched so far.
    markets: BTreeMap<String, ClobMarketInfo>,
}

impl Known {
    /// Reads the partial file back through the session parser: the lines are read exactly as a
    /// replay will read them.
    fn read(path: &Path) -> Result<Self, FetchError> {
        let file = std::fs::File::open(path).map_err(|e| FetchError::io(path, e))?;
        let mut known = Known::default();
        for line in super::SessionLines::new(std::io::BufReader::new(file)) {
            let line = line.map_err(|e| FetchError::io(path, e))?;
            let Ok(Some(event)) = super::parse_session_line(line.text) else { continue };
            match event.input {
                Input::WhaleTrade(trade) => {
                    let last = known.last_trade.entry(trade.condition_id.clone()).or_insert(trade.timestamp);
                    *last = (*last).max(trade.timestamp);
                    known.trade_times.entry((trade.condition_id, trade.asset)).or_default().push(trade.timestamp);
                }
                Input::MarketInfo(info) => {
                    known.markets.insert(info.condition_id.clone(), *info);
                }
                _ => {}
            }
        }
        for times in known.trade_times.values_mut() {
            times.sort();
        }
        Ok(known)
    }
}

/// Writes the session: the header, then the partial file's lines in time order; through a
/// temporary file renamed into place, so that `--out` only ever holds a whole session. Only each
/// line's sort key and place are held in memory, never the lines themselves.
fn write_session(files: &WorkFiles, at: Timestamp, header: &SessionHeader) -> Result<FetchSummary, FetchError> {
    let read_io = |e| FetchError::io(&files.partial, e);
    let mut reader = std::io::BufReader::new(std::fs::File::open(&files.partial).map_err(read_io)?);
    // (sort key, offset, length) of each line.
    let mut places: Vec<((u8, i64, u8), u64, usize)> = Vec::new();
    let (mut offset, mut line) = (0u64, String::new());
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(read_io)?;
        if read == 0 {
            break;
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if !text.trim().is_empty() {
            places.push((lines::line_key(text), offset, text.len()));
        }
        offset += read as u64;
    }
    places.sort_by_key(|(key, offset, _)| (*key, *offset));
    let mut summary = FetchSummary { lines: places.len() + 1, ..Default::default() };
    for (key, _, _) in &places {
        match lines::kind_of(*key) {
            "whale_trade" => summary.trades += 1,
            "market" => summary.markets += 1,
            "book" => summary.books += 1,
            "resolution" => summary.resolutions += 1,
            _ => {}
        }
    }
    let mut tmp = files.out.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write_io = |e| FetchError::io(&tmp, e);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(write_io)?);
    writeln!(out, "{}", lines::header_line(at, header)).map_err(write_io)?;
    let mut source = reader.into_inner();
    let mut buffer = Vec::new();
    for (_, offset, len) in places {
        buffer.resize(len, 0);
        source.seek(std::io::SeekFrom::Start(offset)).map_err(read_io)?;
        source.read_exact(&mut buffer).map_err(read_io)?;
        out.write_all(&buffer).map_err(write_io)?;
        out.write_all(b"\n").map_err(write_io)?;
    }
    let file = out.into_inner().map_err(|e| write_io(e.into_error()))?;
    file.sync_data().map_err(write_io)?;
    std::fs::rename(&tmp, &files.out).map_err(|e| FetchError::io(&files.out, e))?;
    Ok(summary)
}
