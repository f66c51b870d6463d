//! `[feed] source = "polymarket"`: the live whale feed and price feed, connected to the engine.
//!
//! ```text
//!  whale feed (Data API, per [[copy.whales]]) ─► trades ──► forwarder ─┬─ market info, book (CLOB) ─┐
//!       │                                        held back ─┘          └─ the trade ────────────────┼─► engine queue
//!       └─ watch<WhaleFeedSnapshot> ─► /metrics (lag per whale), watermarks ─► store               │
//!  engine view ─► watched tokens ─► price feed (POST /books) ─► books ─────────────────────────────┤
//!       │                                   └─ no book for a token ─┐                              │
//!       └─ watched markets ─► resolution watcher (GET /markets/{id}) ◄┘─► resolution, closure ──────┤
//!       └─ watched markets whose names are missing or old ─► names refresher (Gamma /markets) ─► names ┘
//! ```
//!
//! | file | job |
//! | --- | --- |
//! | `seen.rs` | the store's memory of the feed (seen trades, watermarks) and the restart from it (pure) |
//! | `trades.rs` | whale trades into the engine, each BUY preceded by a fresh book; progress persisted |
//! | `prices.rs` | the watched tokens from the engine's view; books into the engine |
//! | `resolution.rs` | the status of every watched market: resolutions and closures into the engine |
//! | `names.rs` | market names from Gamma for the watched markets, into the engine (which has the store cache them) |
//! | `observe.rs` | the feeds' `/metrics` families |
//!
//! Base URLs come from `polymarket.data_api_url`, `polymarket.clob_url` and `polymarket.gamma_url`. The daemon runs on the
//! system clock; a price feed that delivers nothing for `stale_after_secs` while positions or
//! orders are open (outside closed markets) moves trading to `reducing` (the engine's tick, reason
//! `stale_feed`). Malformed rows and failed polls are logged and counted, never fatal.

mod log_gate;
mod names;
mod observe;
mod prices;
mod resolution;
mod seen;
mod trades;

use std::collections::HashMap;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use names::NamesSnapshot;
pub use observe::FeedsObserved;
use resolution::ResolutionSnapshot;
use seen::feed_start;

use super::supervisor::{TaskError, TaskResult};
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::{EngineStatus, EngineView};
use crate::market::SharedBookRefusals;
use crate::polymarket::{
    ClobMarketData, FollowedWallet, GammaClient, GammaError, MarketDataError, WhaleFeedError, spawn_price_feed,
    spawn_whale_feed_with_held_back,
};
use crate::runtime::EngineMsg;
use crate::store::{RecoveredState, StoreHandle};

/// Trades read but not yet forwarded, at most (the feed waits beyond that: back-pressure).
const TRADE_QUEUE: usize = 1024;
/// Books read but not yet in the engine's queue, at most.
const PRICE_QUEUE: usize = 1024;

/// Why the live feeds could not start.
#[derive(Debug, thiserror::Error)]
pub enum FeedsError {
    #[error("whale feed: {0}")]
    WhaleFeed(#[from] WhaleFeedError),
    #[error("price feed: {0}")]
    PriceFeed(#[from] MarketDataError),
    #[error("names refresher: {0}")]
    Names(#[from] GammaError),
}

/// What the feeds need from the daemon.
pub struct FeedsStart<'a> {
    pub config: &'a Config,
    /// The store's recovery: where each whale's feed resumes.
    pub recovered: &'a RecoveredState,
    pub clock: Arc<dyn Clock>,
    /// The engine's input queue.
    pub inputs: mpsc::Sender<EngineMsg>,
    pub status: watch::Receiver<EngineStatus>,
    pub view: watch::Receiver<Arc<EngineView>>,
    pub store: StoreHandle,
    /// Where books read from the CLOB but refused are counted.
    pub refusals: SharedBookRefusals,
    pub stop: CancellationToken,
}

/// The feeds' tasks, for the supervisor, and what observers read.
pub struct StartedFeeds {
    pub tasks: Vec<(&'static str, BoxFuture<'static, TaskResult>)>,
    pub observed: FeedsObserved,
}

/// Starts the whale feed for every `[[copy.whales]]` wallet, the price feed for the engine's
/// watched tokens and the resolution watcher for its watched markets; the returned tasks forward
/// what they read into the engine until `stop`.
pub fn start_polymarket_feeds(start: FeedsStart<'_>) -> Result<StartedFeeds, FeedsError> {
    let FeedsStart { config, recovered, clock, inputs, status, view, store, refusals, stop } = start;
    let polymarket = &config.polymarket;
    let wallets: Vec<FollowedWallet> = config.copy.whales.iter().map(FollowedWallet::from).collect();
    if wallets.is_empty() {
        tracing::warn!("feed.source = \"polymarket\" with no [[copy.whales]]: nothing to follow");
    }
    let addresses: Vec<String> = wallets.iter().map(|w| w.address.trim().to_ascii_lowercase()).collect();
    let restored = feed_start(recovered, &addresses, config.copy.copy_trades_before_start);
    tracing::info!(
        wallets = addresses.len(),
        resumed = restored.start.restored.len(),
        unreadable_keys = restored.unreadable_keys,
        "whale feed: {} of {} wallet(s) resume from the store",
        restored.start.restored.len(),
        addresses.len()
    );
    let persisted = restored.start.restored.iter().map(|(w, c)| (w.clone(), c.watermark)).collect::<HashMap<_, _>>();

    let (trades_tx, trades_rx) = mpsc::channel(TRADE_QUEUE);
    let (held_tx, held_rx) = mpsc::channel(TRADE_QUEUE);
    let whale_feed = spawn_whale_feed_with_held_back(
        polymarket,
        wallets,
        restored.start,
        clock.clone(),
        trades_tx,
        Some(held_tx),
        stop.clone(),
    )?;

    let (watched_tx, watched_rx) = watch::channel(view.borrow().watched_tokens.clone());
    let (prices_tx, prices_rx) = mpsc::channel(PRICE_QUEUE);
    let price_feed =
        spawn_price_feed(polymarket, watched_rx, clock.clone(), prices_tx, refusals.clone(), stop.clone())?;

    // One CLOB client (one rate limiter) for the forwarder's and the watcher's reads.
    let clob = ClobMarketData::new(polymarket)?;
    let (resolution_tx, resolution_rx) = watch::channel(ResolutionSnapshot::default());
    let watcher = resolution::ResolutionWatcher {
        clob: clob.clone(),
        inputs: inputs.clone(),
        status: status.clone(),
        view: view.clone(),
        prices: price_feed.snapshot.clone(),
        clock: clock.clone(),
        interval: polymarket.resolution.poll_interval(),
        snapshot: resolution_tx,
    };
    let (names_tx, names_rx) = watch::channel(NamesSnapshot::default());
    let refresher = names::NamesRefresher {
        gamma: GammaClient::new(polymarket)?,
        inputs: inputs.clone(),
        view: view.clone(),
        clock: clock.clone(),
        refresh_ms: polymarket.names.refresh_ms(),
        snapshot: names_tx,
    };
    let observed = FeedsObserved {
        whales: whale_feed.snapshot.clone(),
        prices: price_feed.snapshot.clone(),
        resolution: resolution_rx,
        names: names_rx,
    };
    let forwarder = trades::TradeForwarder {
        inputs: inputs.clone(),
        status,
        clob,
        store,
        clock,
        refresh_after_ms: stale_after_ms(polymarket.price_feed.stale_after_secs) / 2,
        prices: price_feed.snapshot.clone(),
        whales: whale_feed.snapshot.clone(),
        persisted,
        refusals,
    };

    let whale_task = whale_feed.task;
    let price_task = price_feed.task;
    let tasks: Vec<(&'static str, BoxFuture<'static, TaskResult>)> = vec![
        (
            "whale-feed",
            async move {
                let cursors = whale_task.await.map_err(|e| TaskError::new(format!("whale feed: {e}")))?;
                tracing::info!(wallets = cursors.len(), "whale feed stopped");
                Ok(())
            }
            .boxed(),
        ),
        ("whale-trades", forwarder.run(trades_rx, held_rx, stop.clone()).boxed()),
        (
            "price-feed",
            async move {
                price_task.await.map_err(|e| TaskError::new(format!("price feed: {e}")))?;
                tracing::info!("price feed stopped");
                Ok(())
            }
            .boxed(),
        ),
        ("price-watch", prices::follow_watched_tokens(view, watched_tx, stop.clone()).boxed()),
        ("resolution-watch", watcher.run(stop.clone()).boxed()),
        ("market-names", refresher.run(stop.clone()).boxed()),
        ("price-books", prices::forward_prices(prices_rx, inputs, stop).boxed()),
    ];
    Ok(StartedFeeds { tasks, observed })
}

fn stale_after_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}
