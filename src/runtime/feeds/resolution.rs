//! The resolution watcher: the status of every market we hold or have orders in, from the CLOB
//! (`GET /markets/{condition_id}`), turned into engine inputs.
//!
//! A resolved market's book disappears and its price goes stale; without this watcher its
//! positions would stay open forever and hold trading in `reducing` (stale feed). Every
//! `polymarket.resolution.poll_interval_secs` each watched market is checked, and a market is
//! checked at once when the price feed flags one of its tokens `no_book`. Then ([`verdict`],
//! [`decide`], both pure):
//!
//! - closed with a winner: [`Input::Resolution`], which settles every position at 1 or 0;
//! - closed without a winner yet, or not taking orders and without a book:
//!   [`Input::MarketClosed`]: the positions wait for the resolution, without exit orders;
//! - taking orders again after the engine was told it closed: [`Input::MarketReopened`].
//!
//! Each is sent once (awaited on the engine's queue: never dropped) and sent again only if the
//! engine, having processed it, still shows the market in the old state. A restart checks every
//! watched market again; the engine ignores a resolution for a market it holds nothing in.
//! Failed or malformed answers are counted for `/metrics`, logged at most once per cause and
//! minute, and the market is simply checked again next time.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::log_gate::LogGate;
use crate::clock::{Clock, Timestamp};
use crate::engine::{EngineStatus, EngineView, Input};
use crate::polymarket::{ClobMarketData, MarketDataError, MarketStatus, PriceFeedSnapshot};
use crate::runtime::EngineMsg;
use crate::runtime::TaskResult;

/// What a market's status means for the positions held in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Closed with a winning outcome.
    Resolved { winning_token_id: String },
    /// Stopped trading, outcome not known yet.
    Closed,
    /// Takes orders.
    Open,
    /// Not taking orders but its book is still there: nothing to conclude yet.
    Unclear,
}

/// The verdict on a market's status; `book_missing` is true when the price feed found no book for
/// one of its tokens.
pub fn verdict(status: &MarketStatus, book_missing: bool) -> Verdict {
    match (status.closed, status.winner()) {
        (true, Some(winner)) => Verdict::Resolved { winning_token_id: winner.token_id.clone() },
        (true, None) => Verdict::Closed,
        (false, _) if status.accepting_orders => Verdict::Open,
        (false, _) if book_missing => Verdict::Closed,
        (false, _) => Verdict::Unclear,
    }
}

/// What the engine's latest view says about a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineSide {
    /// The engine holds it as closed.
    pub closed: bool,
    /// The engine holds open positions in it.
    pub holds_positions: bool,
}

/// What the watcher last told the engine about a market, and whether the engine's view already
/// reflects it (processed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    pub verdict: Verdict,
    pub processed: bool,
}

/// The input to send for `verdict` on market `condition_id`, if any. Nothing is sent twice while
/// the engine has not processed it; once processed, it is sent again only if the engine still
/// shows the old state (a resolution while positions remain, e.g. an entry that filled late).
pub fn decide(condition_id: &str, verdict: &Verdict, engine: EngineSide, told: Option<&Told>) -> Option<Input> {
    let in_flight = told.filter(|t| !t.processed).map(|t| &t.verdict);
    let closed_for_engine = match in_flight {
        Some(Verdict::Closed) => true,
        Some(Verdict::Resolved { .. } | Verdict::Open) => false,
        Some(Verdict::Unclear) | None => engine.closed,
    };
    let condition_id = condition_id.to_owned();
    match verdict {
        Verdict::Resolved { winning_token_id } => {
            let settled = match told {
                Some(Told { verdict: Verdict::Resolved { .. }, processed }) => !processed || !engine.holds_positions,
                _ => false,
            };
            (!settled).then(|| Input::Resolution { condition_id, winning_token_id: winning_token_id.clone() })
        }
        Verdict::Closed => (!closed_for_engine).then_some(Input::MarketClosed { condition_id }),
        Verdict::Open => closed_for_engine.then_some(Input::MarketReopened { condition_id }),
        Verdict::Unclear => None,
    }
}

/// What `/metrics` shows of the watcher.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolutionSnapshot {
    /// Markets with an open position or an order in flight.
    pub watched_markets: usize,
    /// `GET /markets/{condition_id}` answers read.
    pub checks_total: u64,
    /// Checks that failed: the request (after its retries), a 404, an unusable answer.
    pub failed_http_total: u64,
    pub not_found_total: u64,
    pub malformed_total: u64,
    /// Inputs handed to the engine.
    pub resolutions_sent_total: u64,
    pub closed_sent_total: u64,
    pub reopened_sent_total: u64,
    pub last_check_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// The watcher's memory while it runs.
#[derive(Debug, Default)]
struct Memory {
    /// What was told per market, and the engine's processed-inputs count that covers it.
    told: HashMap<String, (Verdict, u64)>,
    /// Tokens the price feed flags `no_book`, as last seen.
    no_book: BTreeSet<String>,
    log: LogGate,
}

/// The watcher task's connections.
pub(super) struct ResolutionWatcher {
    pub clob: ClobMarketData,
    pub inputs: mpsc::Sender<EngineMsg>,
    pub status: watch::Receiver<EngineStatus>,
    pub view: watch::Receiver<Arc<EngineView>>,
    pub prices: watch::Receiver<PriceFeedSnapshot>,
    pub clock: Arc<dyn Clock>,
    pub interval: Duration,
    pub snapshot: watch::Sender<ResolutionSnapshot>,
}

/// The engine's queue closed or the daemon is stopping.
struct Stop;

impl ResolutionWatcher {
    /// Runs until `stop`; a closed engine queue waits for `stop` (the daemon is stopping anyway).
    pub async fn run(mut self, stop: CancellationToken) -> TaskResult {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut memory = Memory::default();
        let mut prices_open = true;
        loop {
            let due: Vec<String> = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                _ = ticker.tick() => self.all_watched(&mut memory),
                changed = self.prices.changed(), if prices_open => {
                    if changed.is_err() {
                        prices_open = false;
                        continue;
                    }
                    self.markets_losing_their_book(&mut memory)
                }
            };
            for market in due {
                if self.check(&market, &mut memory, &stop).await.is_err() {
                    stop.cancelled().await;
                    return Ok(());
                }
            }
        }
    }

    /// Every watched market; what is no longer watched is forgotten.
    fn all_watched(&self, memory: &mut Memory) -> Vec<String> {
        let view = self.view.borrow().clone();
        memory.told.retain(|market, _| view.watched_markets.contains_key(market));
        self.snapshot.send_modify(|s| s.watched_markets = view.watched_markets.len());
        view.watched_markets.keys().cloned().collect()
    }

    /// The markets of the tokens the price feed has just found without a book.
    fn markets_losing_their_book(&mut self, memory: &mut Memory) -> Vec<String> {
        let flagged: BTreeSet<String> =
            self.prices.borrow_and_update().tokens.iter().filter(|(_, t)| t.no_book).map(|(k, _)| k.clone()).collect();
        let new: BTreeSet<&String> = flagged.difference(&memory.no_book).collect();
        let view = self.view.borrow().clone();
        let markets = view
            .watched_markets
            .iter()
            .filter(|(_, tokens)| tokens.iter().any(|t| new.contains(t)))
            .map(|(market, _)| market.clone())
            .collect();
        memory.no_book = flagged;
        markets
    }

    /// Reads one market's status and tells the engine what changed.
    async fn check(&mut self, market: &str, memory: &mut Memory, stop: &CancellationToken) -> Result<(), Stop> {
        let answer = tokio::select! {
            answer = self.clob.market_status(market) => answer,
            () = stop.cancelled() => return Err(Stop),
        };
        let now = self.clock.now();
        let status = match answer {
            Ok(status) => status,
            Err(e) => {
                self.failed(market, &e, now, memory);
                return Ok(());
            }
        };
        self.snapshot.send_modify(|s| {
            s.checks_total += 1;
            s.last_check_at = Some(now);
        });
        let view = self.view.borrow().clone();
        let tokens = view.watched_markets.get(market);
        let book_missing = {
            let prices = self.prices.borrow();
            tokens.is_some_and(|ts| ts.iter().any(|t| prices.tokens.get(t).is_some_and(|f| f.no_book)))
        };
        let verdict = verdict(&status, book_missing);
        let engine = EngineSide {
            closed: view.closed_markets.contains(market),
            holds_positions: view.positions.iter().any(|p| p.market == market),
        };
        let told = memory.told.get(market).map(|(verdict, target)| Told {
            verdict: verdict.clone(),
            processed: view.status.inputs_processed >= *target,
        });
        let Some(input) = decide(market, &verdict, engine, told.as_ref()) else { return Ok(()) };
        match &input {
            Input::Resolution { winning_token_id, .. } => {
                tracing::info!(market, question = %status.question, winner = %winning_token_id, "market resolved: settling its positions");
                self.snapshot.send_modify(|s| s.resolutions_sent_total += 1);
            }
            Input::MarketClosed { .. } => {
                tracing::warn!(market, question = %status.question, closed = status.closed, accepting_orders = status.accepting_orders, "market stopped trading before its resolution");
                self.snapshot.send_modify(|s| s.closed_sent_total += 1);
            }
            _ => {
                tracing::info!(market, question = %status.question, "market takes orders again");
                self.snapshot.send_modify(|s| s.reopened_sent_total += 1);
            }
        }
        // The engine handles inputs in order: once it has processed those queued ahead plus this
        // one, its view reflects it.
        let queued = self.inputs.max_capacity().saturating_sub(self.inputs.capacity()) as u64;
        let target = self.status.borrow().inputs_processed + queued + 1;
        memory.told.insert(market.to_owned(), (verdict, target));
        tokio::select! {
            sent = self.inputs.send(EngineMsg::now(input)) => sent.map_err(|_| Stop),
            () = stop.cancelled() => Err(Stop),
        }
    }

    fn failed(&self, market: &str, error: &MarketDataError, now: Timestamp, memory: &mut Memory) {
        let cause = if error.is_not_found() {
            "not_found"
        } else if matches!(error, MarketDataError::Status(_)) {
            "malformed"
        } else {
            "http"
        };
        let text = error.to_string();
        self.snapshot.send_modify(|s| {
            match cause {
                "not_found" => s.not_found_total += 1,
                "malformed" => s.malformed_total += 1,
                _ => s.failed_http_total += 1,
            }
            s.last_error = Some(text.clone());
        });
        if let Some(held_back) = memory.log.admit(cause, now) {
            tracing::warn!(market, cause, error = %text, held_back, "market status unavailable; checked again next time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polymarket::MarketToken;

    const M: &str = "0xabc";

    fn status(closed: bool, accepting_orders: bool, winner: Option<usize>) -> MarketStatus {
        let token = |i: usize| MarketToken {
            token_id: format!("t{i}"),
            outcome: if i == 0 { "Yes".into() } else { "No".into() },
            price: None,
            winner: winner == Some(i),
        };
        MarketStatus {
            condition_id: M.into(),
            question: "Q?".into(),
            active: true,
            closed,
            archived: false,
            accepting_orders,
            end_date: Ok(None),
            tokens: vec![token(0), token(1)],
        }
    }

    #[test]
    fn the_status_gives_the_verdict() {
        assert_eq!(verdict(&status(true, false, Some(1)), false), Verdict::Resolved { winning_token_id: "t1".into() });
        assert_eq!(verdict(&status(true, false, None), false), Verdict::Closed);
        assert_eq!(verdict(&status(true, true, None), true), Verdict::Closed);
        assert_eq!(verdict(&status(false, true, None), true), Verdict::Open, "taking orders is open");
        assert_eq!(verdict(&status(false, false, None), true), Verdict::Closed, "no orders and no book");
        assert_eq!(verdict(&status(false, false, None), false), Verdict::Unclear, "no orders, book still there");
        // A winner flag on a market that is not closed is not a resolution.
        assert_eq!(verdict(&status(false, true, Some(0)), false), Verdict::Open);
    }

    fn told(verdict: Verdict, processed: bool) -> Told {
        Told { verdict, processed }
    }

    #[test]
    fn a_resolution_is_sent_once_and_again_only_if_positions_remain_after_it() {
        let resolved = Verdict::Resolved { winning_token_id: "t0".into() };
        let holding = EngineSide { closed: false, holds_positions: true };
        let expected = Input::Resolution { condition_id: M.into(), winning_token_id: "t0".into() };
        let first = decide(M, &resolved, holding, None);
        assert!(matches!(&first, Some(Input::Resolution { .. })), "{first:?}");
        assert_eq!(format!("{first:?}"), format!("{:?}", Some(expected)));
        assert!(decide(M, &resolved, holding, Some(&told(resolved.clone(), false))).is_none(), "in flight");
        let settled = EngineSide { closed: false, holds_positions: false };
        assert!(decide(M, &resolved, settled, Some(&told(resolved.clone(), true))).is_none(), "settled");
        let again = decide(M, &resolved, holding, Some(&told(resolved.clone(), true)));
        assert!(matches!(again, Some(Input::Resolution { .. })), "positions left after it was processed");
        // A closed market (told or not) that resolves is settled.
        let closed = EngineSide { closed: true, holds_positions: true };
        assert!(matches!(
            decide(M, &resolved, closed, Some(&told(Verdict::Closed, true))),
            Some(Input::Resolution { .. })
        ));
    }

    #[test]
    fn a_closure_is_sent_once_and_a_reopening_only_for_a_market_the_engine_holds_closed() {
        let open = EngineSide { closed: false, holds_positions: true };
        let closed = EngineSide { closed: true, holds_positions: true };
        assert!(matches!(decide(M, &Verdict::Closed, open, None), Some(Input::MarketClosed { .. })));
        assert!(decide(M, &Verdict::Closed, open, Some(&told(Verdict::Closed, false))).is_none(), "in flight");
        assert!(decide(M, &Verdict::Closed, closed, None).is_none(), "the engine knows (restart)");
        assert!(decide(M, &Verdict::Open, open, None).is_none());
        assert!(matches!(decide(M, &Verdict::Open, closed, None), Some(Input::MarketReopened { .. })));
        // Told closed and not yet in the view: a reopening must still be said.
        assert!(matches!(
            decide(M, &Verdict::Open, open, Some(&told(Verdict::Closed, false))),
            Some(Input::MarketReopened { .. })
        ));
        assert!(decide(M, &Verdict::Open, closed, Some(&told(Verdict::Open, false))).is_none(), "in flight");
        assert!(decide(M, &Verdict::Unclear, closed, None).is_none());
        assert!(decide(M, &Verdict::Unclear, open, None).is_none());
    }

    #[test]
    fn each_cause_is_logged_once_per_minute_with_the_count_held_back() {
        let mut gate = LogGate::default();
        let at = |s: i64| Timestamp::from_secs(s);
        assert_eq!(gate.admit("http", at(0)), Some(0));
        assert_eq!(gate.admit("http", at(10)), None);
        assert_eq!(gate.admit("http", at(59)), None);
        assert_eq!(gate.admit("malformed", at(59)), Some(0), "another cause has its own allowance");
        assert_eq!(gate.admit("http", at(60)), Some(2));
        assert_eq!(gate.admit("http", at(61)), None);
    }
}
