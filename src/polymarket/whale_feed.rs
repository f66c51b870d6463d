//! The whale feed: one polling task per followed wallet (at most `max_concurrency` polling at
//! once, all sharing one rate limiter) that reads the wallet's activity with overlapping time
//! windows, dedupes exactly, and hands new trades to the engine on a bounded channel — waiting
//! when the engine is busy, never dropping.
//!
//! Route: `GET /v2/activity?user=…&type=TRADE&start=…&sort_direction=ASC` (the
//! recommended route): activity includes the wallet's *maker* fills (which `/trades` hides
//! behind `takerOnly=true`), is CDN-cached 15 s rather than 300 s, and keyset cursors do not shift
//! under a moving feed. Oldest first, so a poll cut short still leaves a watermark that is true.
//! `api_version = "v1"` uses `GET /activity` with offset paging instead.
//!
//! The wallets' polls are spread evenly over the poll interval (wallet `i` of `n` first polls
//! `i/n` of an interval after start-up), not all fired at the same instant: a thousand wallets polled
//! together would queue behind the shared rate limiter every interval, each wallet's place in that
//! queue (and so its interval) changing from one round to the next.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::config::{DataApiVersion, PolymarketConfig, WhaleFeedConfig};
use super::cursor::{Admission, CursorState, WalletCursor};
use super::data_api::{ActivityPage, ActivityRow, DataApiError, SkippedRows, parse_v1_page, parse_v2_page};
use super::http::{HttpClient, HttpError, endpoint};
use crate::clock::{Clock, Timestamp};
use crate::market::WhaleTrade;

/// v1 `/activity` refuses offsets beyond this.
const V1_MAX_OFFSET: u32 = 5_000;

/// Why the whale feed could not start, or why one poll failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum WhaleFeedError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Page(#[from] DataApiError),
    #[error("wallet {address:?} must be 0x followed by 40 hex digits")]
    BadWallet { address: String },
    #[error("the engine's whale-trade queue is closed")]
    QueueClosed,
    #[error("cancelled")]
    Cancelled,
}

/// A wallet to follow (the proxy wallet, as `[[copy.whales]]` lists it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedWallet {
    pub address: String,
    pub label: Option<String>,
}

impl From<&crate::config::WhaleConfig> for FollowedWallet {
    fn from(whale: &crate::config::WhaleConfig) -> Self {
        Self { address: whale.address.clone(), label: whale.label.clone() }
    }
}

/// How the feed treats history when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStart {
    /// Saved cursors by lowercase wallet address: those wallets resume exactly where they were.
    pub restored: HashMap<String, CursorState>,
    /// `copy.copy_trades_before_start`: emit trades older than start-up for wallets without saved state.
    pub emit_trades_before_start: bool,
}

/// What the daemon can observe about one wallet's feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WalletFeedStatus {
    pub label: Option<String>,
    /// Everything up to here has been read.
    pub watermark: Timestamp,
    /// Polls finished (successful or not).
    pub polls: u64,
    pub last_poll_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    /// Feed lag of the last emitted trade: when we emitted it minus its block time.
    pub last_lag_ms: Option<i64>,
    pub max_lag_ms: Option<i64>,
    pub trades_emitted: u64,
    pub duplicates_skipped: u64,
    pub held_back_before_start: u64,
    pub malformed_rows: u64,
    /// Rows beyond the page size asked for, answered anyway and not read.
    pub rows_cut: u64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
}

/// Per-wallet status, published after every poll on a `watch` channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WhaleFeedSnapshot {
    pub wallets: BTreeMap<String, WalletFeedStatus>,
}

/// The running feed: its status and, when it stops, every wallet's cursor to persist.
pub struct WhaleFeedHandle {
    pub snapshot: watch::Receiver<WhaleFeedSnapshot>,
    pub task: tokio::task::JoinHandle<HashMap<String, CursorState>>,
}

/// The shared parts every wallet task uses.
struct FeedContext {
    base_url: String,
    settings: WhaleFeedConfig,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    trades: mpsc::Sender<WhaleTrade>,
    /// Where trades held back because they predate start-up go, when someone wants them.
    held_back: Option<mpsc::Sender<WhaleTrade>>,
    permits: Semaphore,
    snapshot: watch::Sender<WhaleFeedSnapshot>,
    cancel: CancellationToken,
}

/// Starts polling every wallet; the returned task ends when `cancel` fires or the engine's queue
/// closes, and yields the cursors to persist.
pub fn spawn_whale_feed(
    config: &PolymarketConfig,
    wallets: Vec<FollowedWallet>,
    start: FeedStart,
    clock: Arc<dyn Clock>,
    trades: mpsc::Sender<WhaleTrade>,
    cancel: CancellationToken,
) -> Result<WhaleFeedHandle, WhaleFeedError> {
    spawn_whale_feed_with_held_back(config, wallets, start, clock, trades, None, cancel)
}

/// Like [`spawn_whale_feed`]; in addition every trade held back because it predates start-up goes
/// to `held_back` (waiting for room, like the trades), so that the daemon can remember it as seen:
/// a restart soon after must not take it for a trade made while the daemon was down.
pub fn spawn_whale_feed_with_held_back(
    config: &PolymarketConfig,
    wallets: Vec<FollowedWallet>,
    start: FeedStart,
    clock: Arc<dyn Clock>,
    trades: mpsc::Sender<WhaleTrade>,
    held_back: Option<mpsc::Sender<WhaleTrade>>,
    cancel: CancellationToken,
) -> Result<WhaleFeedHandle, WhaleFeedError> {
    let http = HttpClient::new(&config.http, config.whale_feed.requests_per_sec)?;
    let settings = config.whale_feed.clone();
    let now = clock.now();
    let emit_from = if start.emit_trades_before_start { None } else { Some(now) };

    let mut cursors = Vec::with_capacity(wallets.len());
    let mut initial = WhaleFeedSnapshot::default();
    for wallet in wallets {
        let address = wallet.address.trim().to_ascii_lowercase();
        if !crate::config::is_wallet_address(&address) {
            return Err(WhaleFeedError::BadWallet { address: wallet.address });
        }
        let cursor = match start.restored.get(&address) {
            Some(state) => WalletCursor::restored(state.clone(), settings.overlap_secs),
            None => WalletCursor::fresh(now, settings.initial_lookback_secs, settings.overlap_secs, emit_from),
        };
        initial.wallets.insert(
            address.clone(),
            WalletFeedStatus { label: wallet.label.clone(), watermark: cursor.watermark(), ..Default::default() },
        );
        cursors.push((address, cursor));
    }

    warn_if_rate_cannot_keep_the_interval(&settings, cursors.len());
    let (snapshot_tx, snapshot_rx) = watch::channel(initial);
    let context = Arc::new(FeedContext {
        base_url: config.data_api_url.clone(),
        permits: Semaphore::new(settings.max_concurrency.max(1)),
        settings,
        http,
        clock,
        trades,
        held_back,
        snapshot: snapshot_tx,
        cancel,
    });
    let task = tokio::spawn(async move {
        let mut wallet_tasks = JoinSet::new();
        let started = tokio::time::Instant::now();
        let wallets = cursors.len();
        for (i, (address, cursor)) in cursors.into_iter().enumerate() {
            let first_poll = started + first_poll_offset(context.settings.poll_interval(), i, wallets);
            wallet_tasks.spawn(follow_wallet(context.clone(), address, cursor, first_poll));
        }
        let mut finals = HashMap::new();
        while let Some(done) = wallet_tasks.join_next().await {
            match done {
                Ok((address, state)) => {
                    finals.insert(address, state);
                }
                Err(e) => tracing::error!(error = %e, "a whale-feed wallet task failed"),
            }
        }
        finals
    });
    Ok(WhaleFeedHandle { snapshot: snapshot_rx, task })
}

/// Every poll is at least one request: more wallets than `requests_per_sec` allows at
/// `poll_interval_ms` are polled less often than configured. Said once, at start-up, with the
/// interval they will get.
fn warn_if_rate_cannot_keep_the_interval(settings: &WhaleFeedConfig, wallets: usize) {
    let per_sec = u64::from(settings.requests_per_sec.max(1));
    let needed_millis = (wallets as u64).saturating_mul(1_000);
    if needed_millis > per_sec.saturating_mul(settings.poll_interval_ms) {
        tracing::warn!(
            wallets,
            poll_interval_ms = settings.poll_interval_ms,
            requests_per_sec = settings.requests_per_sec,
            "{wallets} wallets polled every {} ms need at least {} Data API requests per second, more than \
             polymarket.whale_feed.requests_per_sec = {}: each wallet will be polled about every {} ms",
            settings.poll_interval_ms,
            needed_millis.div_ceil(settings.poll_interval_ms.max(1)),
            settings.requests_per_sec,
            needed_millis / per_sec,
        );
    }
}

/// When wallet `index` of `wallets` first polls, after start-up: its share of one interval, so
/// that the polls are spread evenly over it (see the module documentation).
fn first_poll_offset(interval: Duration, index: usize, wallets: usize) -> Duration {
    let wallets = u32::try_from(wallets.max(1)).unwrap_or(u32::MAX);
    let index = u32::try_from(index).unwrap_or(u32::MAX).min(wallets - 1);
    interval / wallets * index
}

/// Polls one wallet from `first_poll` on, every interval, until cancelled (or the engine's queue
/// closes); returns its final cursor.
async fn follow_wallet(
    ctx: Arc<FeedContext>,
    address: String,
    mut cursor: WalletCursor,
    first_poll: tokio::time::Instant,
) -> (String, CursorState) {
    let mut ticker = tokio::time::interval_at(first_poll, ctx.settings.poll_interval());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut resume = None;
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let outcome = {
            let Ok(_permit) = ctx.permits.acquire().await else { break };
            poll_wallet(&ctx, &address, &mut cursor, &mut resume).await
        };
        let stop = matches!(outcome.result, Err(WhaleFeedError::Cancelled | WhaleFeedError::QueueClosed));
        publish(&ctx, &address, &cursor, outcome);
        if stop {
            break;
        }
    }
    (address, cursor.state())
}

/// Counters from one poll.
#[derive(Debug)]
struct PollOutcome {
    started_at: Timestamp,
    emitted: u64,
    duplicates: u64,
    held_back: u64,
    malformed: u64,
    /// The skipped rows by cause: one summary line each when the poll ends.
    skipped: SkippedRows,
    /// Rows beyond the page size asked for, over every page of the poll.
    cut: u64,
    last_lag_ms: Option<i64>,
    max_lag_ms: Option<i64>,
    result: Result<(), WhaleFeedError>,
}

/// Where a walk that hit `max_pages_per_poll` stopped: the next poll continues it with the same
/// filters, so that a backlog larger than one poll (a market-making whale) still makes progress.
type Resume = Option<(i64, PageRef)>;

/// Reads every page of the current window, emits new trades oldest first, and advances the
/// watermark only over what was read in full.
async fn poll_wallet(ctx: &FeedContext, address: &str, cursor: &mut WalletCursor, resume: &mut Resume) -> PollOutcome {
    let mut outcome = PollOutcome {
        started_at: ctx.clock.now(),
        emitted: 0,
        duplicates: 0,
        held_back: 0,
        malformed: 0,
        skipped: SkippedRows::default(),
        cut: 0,
        last_lag_ms: None,
        max_lag_ms: None,
        result: Ok(()),
    };
    let (window_start, mut page_ref) = resume.take().unwrap_or((cursor.window_start_secs(), PageRef::First));
    let mut newest_read: Option<Timestamp> = None;
    // True while every row so far came oldest first: only then may a poll that stopped early
    // advance the watermark (a newest-first walk cut short would leave a gap below it).
    let mut ascending = true;
    let mut complete = false;

    for _ in 0..ctx.settings.max_pages_per_poll {
        let mut page = match fetch_page(ctx, address, window_start, &page_ref).await {
            Ok(page) => page,
            Err(e) => {
                outcome.result = Err(e);
                break;
            }
        };
        outcome.malformed += page.malformed as u64;
        outcome.cut += page.cut as u64;
        outcome.skipped.merge(std::mem::take(&mut page.skipped));
        for row in &page.rows {
            let at = row.timestamp();
            if newest_read.is_some_and(|newest| at < newest) {
                ascending = false;
            }
            newest_read = newest_read.max(Some(at));
            let ActivityRow::Trade(trade) = row else { continue };
            if trade.wallet != address {
                // The API answered for someone else (a filter it ignored): never copy that.
                outcome.skipped.add("another_wallet", format_args!("row of wallet {}", trade.wallet));
                outcome.malformed += 1;
                continue;
            }
            match cursor.admit(trade) {
                Admission::New => {
                    if let Err(e) = hand_to_engine(ctx, trade, &mut outcome).await {
                        outcome.result = Err(e);
                        return outcome;
                    }
                    cursor.record(trade);
                }
                Admission::BeforeStart => {
                    if let Err(e) = hand_held_back(ctx, trade).await {
                        outcome.result = Err(e);
                        return outcome;
                    }
                    outcome.held_back += 1;
                    cursor.record(trade);
                }
                Admission::Duplicate | Admission::BelowHorizon => outcome.duplicates += 1,
            }
        }
        match next_page(&ctx.settings, &page_ref, &page) {
            Some(next) => page_ref = next,
            None => {
                complete = true;
                break;
            }
        }
    }
    if !complete && outcome.result.is_ok() {
        *resume = Some((window_start, page_ref));
    }
    if let Some(newest) = newest_read
        && (complete || ascending)
    {
        cursor.advance(newest);
    }
    outcome
}

/// Sends one trade to the engine (waiting for room), measuring its feed lag.
async fn hand_to_engine(
    ctx: &FeedContext,
    trade: &WhaleTrade,
    outcome: &mut PollOutcome,
) -> Result<(), WhaleFeedError> {
    tokio::select! {
        sent = ctx.trades.send(trade.clone()) => sent.map_err(|_| WhaleFeedError::QueueClosed)?,
        _ = ctx.cancel.cancelled() => return Err(WhaleFeedError::Cancelled),
    }
    let lag_ms = ctx.clock.now().millis_since(trade.timestamp);
    outcome.emitted += 1;
    outcome.last_lag_ms = Some(lag_ms);
    outcome.max_lag_ms = outcome.max_lag_ms.max(Some(lag_ms));
    tracing::info!(
        wallet = %trade.wallet,
        trade = %trade.key(),
        side = %trade.side,
        size = %trade.size,
        price = %trade.price,
        lag_ms,
        "whale trade"
    );
    Ok(())
}

/// Passes a trade held back (it predates start-up) to whoever wants to remember it.
async fn hand_held_back(ctx: &FeedContext, trade: &WhaleTrade) -> Result<(), WhaleFeedError> {
    let Some(held_back) = &ctx.held_back else { return Ok(()) };
    tokio::select! {
        sent = held_back.send(trade.clone()) => sent.map_err(|_| WhaleFeedError::QueueClosed),
        _ = ctx.cancel.cancelled() => Err(WhaleFeedError::Cancelled),
    }
}

/// Which page to read next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PageRef {
    First,
    Cursor(String),
    Offset(u32),
}

pub(crate) fn next_page(settings: &WhaleFeedConfig, current: &PageRef, page: &ActivityPage) -> Option<PageRef> {
    match settings.api_version {
        DataApiVersion::V2 => page.next_cursor.clone().map(PageRef::Cursor),
        DataApiVersion::V1 => {
            // A short page is the last one.
            if page.raw_count < settings.page_size as usize {
                return None;
            }
            let offset = match current {
                PageRef::Offset(o) => *o,
                _ => 0,
            }
            .saturating_add(settings.page_size);
            // Past the cap the API answers 400; the rest is read next poll from the new watermark.
            (offset.saturating_add(settings.page_size) <= V1_MAX_OFFSET).then_some(PageRef::Offset(offset))
        }
    }
}

async fn fetch_page(
    ctx: &FeedContext,
    address: &str,
    window_start: i64,
    page: &PageRef,
) -> Result<ActivityPage, WhaleFeedError> {
    tokio::select! {
        page = fetch_activity_page(&ctx.http, &ctx.base_url, &ctx.settings, address, (window_start, None), page) => page,
        _ = ctx.cancel.cancelled() => Err(WhaleFeedError::Cancelled),
    }
}

/// Reads one page of `address`'s trade activity from `window.0` (seconds), up to `window.1` when
/// given, oldest first, with the route, page size and paging of `settings`: the live feed and
/// the history fetch read a wallet the same way.
pub(crate) async fn fetch_activity_page(
    http: &HttpClient,
    base_url: &str,
    settings: &WhaleFeedConfig,
    address: &str,
    window: (i64, Option<i64>),
    page: &PageRef,
) -> Result<ActivityPage, WhaleFeedError> {
    let page_size = settings.page_size as usize;
    let limit = page_size.to_string();
    let start = window.0.to_string();
    let (path, mut query): (&str, Vec<(&str, String)>) = match settings.api_version {
        DataApiVersion::V2 => (
            "v2/activity",
            vec![
                ("user", address.to_string()),
                ("type", "TRADE".into()),
                ("start", start),
                ("sort_direction", "ASC".into()),
                ("limit", limit),
            ],
        ),
        DataApiVersion::V1 => (
            "activity",
            vec![
                ("user", address.to_string()),
                ("type", "TRADE".into()),
                ("start", start),
                ("sortBy", "TIMESTAMP".into()),
                ("sortDirection", "ASC".into()),
                ("limit", limit),
            ],
        ),
    };
    if let Some(end) = window.1 {
        query.push(("end", end.to_string()));
    }
    match page {
        PageRef::First => {}
        PageRef::Cursor(c) => query.push(("cursor", c.clone())),
        PageRef::Offset(o) => query.push(("offset", o.to_string())),
    }
    let mut url = endpoint(base_url, path)?;
    url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    let body = http.get(&url).await?;
    Ok(match settings.api_version {
        DataApiVersion::V2 => parse_v2_page(&body, page_size)?,
        DataApiVersion::V1 => parse_v1_page(&body, page_size)?,
    })
}

fn publish(ctx: &FeedContext, address: &str, cursor: &WalletCursor, outcome: PollOutcome) {
    match &outcome.result {
        Err(WhaleFeedError::Cancelled) | Ok(_) => {}
        // The HTTP client told the outage once, with its root cause; a poll it cost is a detail.
        Err(WhaleFeedError::Http(e)) if e.is_outage() => {
            tracing::debug!(wallet = %address, error = %e, "whale-feed poll failed in an outage; retrying next interval")
        }
        Err(e) => tracing::warn!(wallet = %address, error = %e, "whale-feed poll failed; retrying next interval"),
    }
    // One line per cause and poll, however many rows a page brought: the logs grow with polls,
    // never with what the venue sends.
    for (cause, tally) in outcome.skipped.iter() {
        tracing::warn!(
            wallet = %address,
            cause,
            count = tally.count,
            first_example = %tally.first_example,
            "skipped malformed Data API rows this poll"
        );
    }
    if outcome.cut > 0 {
        tracing::warn!(
            wallet = %address,
            page_size = ctx.settings.page_size,
            rows_cut = outcome.cut,
            "the Data API answered pages longer than asked; the rows past the page size were cut, not read"
        );
    }
    ctx.snapshot.send_modify(|snapshot| {
        let status = snapshot.wallets.entry(address.to_string()).or_default();
        status.watermark = cursor.watermark();
        status.polls += 1;
        status.last_poll_at = Some(outcome.started_at);
        status.trades_emitted += outcome.emitted;
        status.duplicates_skipped += outcome.duplicates;
        status.held_back_before_start += outcome.held_back;
        status.malformed_rows += outcome.malformed;
        status.rows_cut += outcome.cut;
        if outcome.last_lag_ms.is_some() {
            status.last_lag_ms = outcome.last_lag_ms;
        }
        status.max_lag_ms = status.max_lag_ms.max(outcome.max_lag_ms);
        match &outcome.result {
            Ok(()) => {
                status.last_success_at = Some(outcome.started_at);
                status.consecutive_failures = 0;
                status.last_error = None;
            }
            Err(WhaleFeedError::Cancelled) => {}
            Err(e) => {
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
                status.last_error = Some(e.to_string());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(raw_count: usize, cursor: Option<&str>) -> ActivityPage {
        ActivityPage { raw_count, next_cursor: cursor.map(String::from), ..ActivityPage::default() }
    }

    #[test]
    fn the_first_polls_are_spread_evenly_over_one_interval() {
        let interval = Duration::from_millis(3_000);
        let offsets: Vec<u128> = (0..3).map(|i| first_poll_offset(interval, i, 3).as_millis()).collect();
        assert_eq!(offsets, vec![0, 1_000, 2_000]);
        assert_eq!(first_poll_offset(interval, 0, 1), Duration::ZERO);
        assert_eq!(first_poll_offset(interval, 999, 1_000).as_millis(), 2_997);
        assert_eq!(first_poll_offset(interval, 0, 0), Duration::ZERO, "no wallets: no division by zero");
    }

    #[test]
    fn v2_follows_cursors_until_none() {
        let settings = WhaleFeedConfig::default();
        assert_eq!(next_page(&settings, &PageRef::First, &page(500, Some("c1"))), Some(PageRef::Cursor("c1".into())));
        assert_eq!(next_page(&settings, &PageRef::Cursor("c1".into()), &page(3, None)), None);
    }

    #[test]
    fn v1_pages_by_offset_until_a_short_page_or_the_cap() {
        let settings = WhaleFeedConfig { api_version: DataApiVersion::V1, page_size: 500, ..Default::default() };
        assert_eq!(next_page(&settings, &PageRef::First, &page(500, None)), Some(PageRef::Offset(500)));
        assert_eq!(next_page(&settings, &PageRef::Offset(500), &page(499, None)), None);
        assert_eq!(next_page(&settings, &PageRef::Offset(4_000), &page(500, None)), Some(PageRef::Offset(4_500)));
        assert_eq!(next_page(&settings, &PageRef::Offset(4_500), &page(500, None)), None);
    }
}
