//! The whale feed's trades on their way into the engine.
//!
//! For each whale BUY, the engine must see a fresh book of that token *before* the trade, or it
//! would reject the copy `stale_price` only because nobody had looked: the price feed watches only
//! the tokens we hold or have orders on. So the forwarder fetches the book (`GET /book`) unless the
//! price feed or the forwarder itself delivered one recently, and the market's trading parameters
//! once per market (`GET /clob-markets/{condition_id}`: tick, minimum size, fee curve; and the end
//! date from `GET /markets/{condition_id}`), and hands them to the engine ahead of the trade. A
//! failed fetch, or a book refused as unusable (counted in the daemon's book refusals), is logged
//! and the trade still goes in (the engine then rejects it `stale_price`, which is the truth: we
//! have no price).
//!
//! It also persists the feed's progress: trades held back because they predate start-up are
//! marked seen, and each wallet's watermark is written once every trade read below it has been
//! handed over and processed by the engine (the engine's recorder marks those seen).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::seen::held_back_command;
use crate::clock::{Clock, Timestamp};
use crate::domain::Side;
use crate::engine::{EngineStatus, Input};
use crate::market::{SharedBookRefusals, WhaleTrade};
use crate::polymarket::{ClobMarketData, MarketDataError, MarketStatus, PriceFeedSnapshot, WhaleFeedSnapshot};
use crate::runtime::TaskResult;
use crate::runtime::{EngineMsg, whale_trade_msg};
use crate::store::{StoreCommand, StoreHandle, WhaleWatermark};

/// How often the watermarks are considered for persisting.
const PERSIST_EVERY: Duration = Duration::from_secs(1);
/// How long a stop waits for the engine to finish the trades already handed over before the last
/// watermark write (skipped otherwise: the previous watermark is conservative).
const FINAL_PERSIST_WAIT: Duration = Duration::from_secs(2);

/// What the forwarder reads and writes.
pub(super) struct TradeForwarder {
    pub inputs: mpsc::Sender<EngineMsg>,
    pub status: watch::Receiver<EngineStatus>,
    pub clob: ClobMarketData,
    pub store: StoreHandle,
    pub clock: Arc<dyn Clock>,
    /// A book older than this (half the engine's staleness limit) is fetched again before a BUY.
    pub refresh_after_ms: i64,
    pub prices: watch::Receiver<PriceFeedSnapshot>,
    pub whales: watch::Receiver<WhaleFeedSnapshot>,
    /// Watermarks already in the store (restored ones first).
    pub persisted: HashMap<String, Timestamp>,
    /// Where a book fetched before a copy but refused is counted.
    pub refusals: SharedBookRefusals,
}

/// The forwarder's own memory while it runs.
#[derive(Default)]
struct Memory {
    books_sent: HashMap<String, Timestamp>,
    markets_known: HashSet<String>,
    /// The engine's processed-inputs count at which every trade handed over so far is processed.
    engine_target: u64,
}

impl TradeForwarder {
    /// Runs until `stop`; ends early (Ok) only if the engine's queue closes.
    pub async fn run(
        mut self,
        mut trades: mpsc::Receiver<WhaleTrade>,
        mut held_back: mpsc::Receiver<WhaleTrade>,
        stop: CancellationToken,
    ) -> TaskResult {
        let mut memory = Memory::default();
        let mut persist = tokio::time::interval(PERSIST_EVERY);
        persist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                Some(trade) = trades.recv() => {
                    if self.forward(trade, &mut memory, &stop).await.is_err() {
                        if stop.is_cancelled() {
                            break;
                        }
                        tracing::info!("the engine's queue closed; the whale-trade forwarder stops");
                        stop.cancelled().await;
                        return Ok(());
                    }
                }
                Some(trade) = held_back.recv() => {
                    self.persist(held_back_command(&trade, self.clock.now())).await;
                }
                _ = persist.tick() => {
                    // The snapshot first: every trade of the polls it reflects was queued before it,
                    // so empty queues afterwards mean all of them were handed over.
                    let snapshot = self.whales.borrow().clone();
                    if trades.is_empty() && held_back.is_empty() {
                        self.persist_watermarks(snapshot, &memory).await;
                    }
                }
            }
        }
        // Trades still queued were never handed over: the next run reads them again.
        let target = memory.engine_target;
        let caught_up =
            tokio::time::timeout(FINAL_PERSIST_WAIT, self.status.wait_for(|s| s.inputs_processed >= target))
                .await
                .is_ok_and(|r| r.is_ok());
        let snapshot = self.whales.borrow().clone();
        if caught_up && trades.is_empty() && held_back.is_empty() {
            self.persist_watermarks(snapshot, &memory).await;
        }
        Ok(())
    }

    /// Market parameters and a fresh book for a BUY, then the trade itself.
    async fn forward(&mut self, trade: WhaleTrade, memory: &mut Memory, stop: &CancellationToken) -> Result<(), ()> {
        if trade.side == Side::Buy {
            if !memory.markets_known.contains(&trade.condition_id) {
                self.send_market_info(&trade, memory, stop).await?;
            }
            if !self.has_fresh_book(&trade.asset, memory) {
                self.send_book(&trade, memory, stop).await?;
            }
        }
        memory.engine_target = self.engine_target_after_one_more();
        self.send(whale_trade_msg(trade), stop).await
    }

    async fn send_market_info(
        &mut self,
        trade: &WhaleTrade,
        memory: &mut Memory,
        stop: &CancellationToken,
    ) -> Result<(), ()> {
        match self.clob.market_info(&trade.condition_id).await {
            Ok(mut info) => {
                // The end date lives in the market's status, not its trading parameters; without it
                // the resolution-proximity guard has only the price band to go on.
                match self.clob.market_status(&trade.condition_id).await {
                    Ok(MarketStatus { end_date: Ok(end), .. }) => info.end_date = end,
                    Ok(MarketStatus { end_date: Err(e), .. }) | Err(MarketDataError::Status(e)) => {
                        tracing::warn!(market = %trade.condition_id, error = %e, "market end date unreadable")
                    }
                    Err(e) => {
                        tracing::warn!(market = %trade.condition_id, error = %e, "market end date unavailable")
                    }
                }
                memory.markets_known.insert(trade.condition_id.clone());
                self.send(EngineMsg::now(Input::MarketInfo(Box::new(info))), stop).await
            }
            Err(e) => {
                // Tried again on the market's next BUY; until then the engine uses its default rules.
                tracing::warn!(market = %trade.condition_id, error = %e, "market parameters unavailable");
                Ok(())
            }
        }
    }

    fn has_fresh_book(&self, token: &str, memory: &Memory) -> bool {
        let now = self.clock.now();
        let from_feed = self.prices.borrow().tokens.get(token).and_then(|t| t.last_update);
        let newest = from_feed.max(memory.books_sent.get(token).copied());
        newest.is_some_and(|at| now.millis_since(at) <= self.refresh_after_ms)
    }

    async fn send_book(&mut self, trade: &WhaleTrade, memory: &mut Memory, stop: &CancellationToken) -> Result<(), ()> {
        match self.clob.book(&trade.asset).await {
            Ok(book) if book.asset_id == trade.asset => {
                let received_at = self.clock.now();
                memory.books_sent.insert(trade.asset.clone(), received_at);
                self.send(EngineMsg::at(Input::Book(Box::new(book)), received_at), stop).await
            }
            Ok(book) => {
                tracing::warn!(token = %trade.asset, answered = %book.asset_id, "the CLOB answered with another token's book; ignored");
                Ok(())
            }
            Err(e) => {
                if let MarketDataError::Book(refused) = &e {
                    self.refusals.record(refused, self.clock.now());
                }
                tracing::warn!(token = %trade.asset, error = %e, "no book for a whale's token: the copy will be rejected stale_price");
                Ok(())
            }
        }
    }

    /// The engine handles inputs in order: once it has processed those queued ahead plus one more,
    /// the input about to be sent has been processed.
    fn engine_target_after_one_more(&self) -> u64 {
        let queued = self.inputs.max_capacity().saturating_sub(self.inputs.capacity()) as u64;
        self.status.borrow().inputs_processed + queued + 1
    }

    async fn send(&self, msg: EngineMsg, stop: &CancellationToken) -> Result<(), ()> {
        tokio::select! {
            sent = self.inputs.send(msg) => sent.map_err(|_| ()),
            () = stop.cancelled() => Err(()),
        }
    }

    /// Writes the watermark of every wallet that moved in `snapshot`, once the engine has processed
    /// every trade handed over (the caller checks that nothing is still queued here after taking
    /// the snapshot). Only wallets that have
    /// completed a poll: before that, the watermark is only where reading will start.
    async fn persist_watermarks(&mut self, snapshot: WhaleFeedSnapshot, memory: &Memory) {
        if self.status.borrow().inputs_processed < memory.engine_target {
            return;
        }
        for (wallet, status) in snapshot.wallets {
            if status.last_success_at.is_none() || self.persisted.get(&wallet).is_some_and(|w| *w >= status.watermark) {
                continue;
            }
            self.persisted.insert(wallet.clone(), status.watermark);
            self.persist(StoreCommand::AdvanceWatermark(WhaleWatermark { wallet, watermark: status.watermark })).await;
        }
    }

    async fn persist(&self, command: StoreCommand) {
        if let Err(e) = self.store.send(command).await {
            tracing::error!(error = %e, "could not queue the whale feed's progress for the store");
        }
    }
}
