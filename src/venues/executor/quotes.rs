//! The prices the plans' stops act on: each open plan's symbol's book ticker, read every
//! `quote_poll_ms`, refused when it cannot be a real book (a side missing or at zero, crossed, a
//! spread wider than `max_spread_percent` of the mid) or is older than `max_quote_age_ms`, and
//! otherwise handed to the engine as `Input::PlanQuote`. A refused or failed read is counted and
//! logged once a minute per cause; a symbol without a usable price for longer than the age limit
//! is an error line once per outage, since its stops cannot act (a venue-held stop, where there is
//! one, still can).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rust_decimal::Decimal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::clock::Timestamp;
use crate::engine::EngineView;
use crate::engine::io::Input;
use crate::plans::PlanQuote;
use crate::runtime::{EngineMsg, TaskResult};
use crate::venues::VenueApi;
use crate::venues::types::{BookTicker, venue_symbol};

use super::{ExecutorSettings, Shared};

/// Refusals of one cause are logged at most this often.
const LOG_EVERY_MS: i64 = 60_000;

/// Why a book ticker is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum QuoteRefusal {
    #[error("a side is missing or at zero")]
    EmptySide,
    #[error("the bid is above the ask")]
    Crossed,
    #[error("the spread is wider than venues.*.max_spread_percent of the mid")]
    TooWide,
    #[error("older than venues.*.max_quote_age_ms")]
    Stale,
}

impl QuoteRefusal {
    /// The refusal's name, to count refusals by.
    pub fn cause(self) -> &'static str {
        match self {
            QuoteRefusal::EmptySide => "empty_side",
            QuoteRefusal::Crossed => "crossed",
            QuoteRefusal::TooWide => "too_wide",
            QuoteRefusal::Stale => "stale",
        }
    }
}

/// A usable quote, or why not.
pub type QuoteCheck = Result<(), QuoteRefusal>;

/// Checks `ticker` at `now` against the settings (pure).
pub fn check_quote(ticker: &BookTicker, now: Timestamp, settings: &ExecutorSettings) -> QuoteCheck {
    if ticker.bid <= Decimal::ZERO || ticker.ask <= Decimal::ZERO {
        return Err(QuoteRefusal::EmptySide);
    }
    if ticker.bid > ticker.ask {
        return Err(QuoteRefusal::Crossed);
    }
    let mid = (ticker.bid + ticker.ask) / Decimal::TWO;
    if (ticker.ask - ticker.bid) * Decimal::ONE_HUNDRED > settings.max_spread_percent * mid {
        return Err(QuoteRefusal::TooWide);
    }
    if now.millis_since(ticker.at) > settings.max_quote_age_ms {
        return Err(QuoteRefusal::Stale);
    }
    Ok(())
}

/// Reads the open plans' symbols from `view` and their prices from the venue until `stop`.
pub(super) async fn poll<V: VenueApi>(
    shared: Arc<Shared<V>>,
    inputs: mpsc::Sender<EngineMsg>,
    view: watch::Receiver<Arc<EngineView>>,
    stop: CancellationToken,
) -> TaskResult {
    let settings = shared.settings;
    let mut refusals: HashMap<(String, &'static str), (u64, i64)> = HashMap::new();
    let mut last_good: HashMap<String, i64> = HashMap::new();
    let mut blind: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(settings.quote_poll) => {}
        }
        let symbols: Vec<String> = {
            let view = view.borrow();
            let mut symbols: Vec<String> =
                view.plans.open.iter().filter(|p| p.position.is_some()).map(|p| p.symbol.clone()).collect();
            symbols.sort();
            symbols.dedup();
            symbols
        };
        for symbol in symbols {
            let now = shared.now();
            let read = shared.api.book_ticker(&venue_symbol(&symbol)).await;
            let outcome = match read {
                Ok(ticker) => {
                    check_quote(&ticker, now, &settings).map(|()| ticker).map_err(|r| (r.cause(), r.to_string()))
                }
                Err(e) => Err((e.cause(), e.to_string())),
            };
            match outcome {
                Ok(ticker) => {
                    last_good.insert(symbol.clone(), now.0);
                    if blind.remove(&symbol) {
                        tracing::info!(%symbol, "the plan's prices are back: its stops act again");
                    }
                    let quote = PlanQuote { symbol, bid: ticker.bid, ask: ticker.ask, at: ticker.at };
                    // A quote is only the latest price: when the engine's queue is full the next
                    // one will do.
                    let _ = inputs.try_send(EngineMsg::now(Input::PlanQuote(Box::new(quote))));
                }
                Err((kind, cause)) => {
                    // Counted by kind: an error's text carries waits and counts that change every poll.
                    let (count, logged) = refusals.entry((symbol.clone(), kind)).or_insert((0, i64::MIN));
                    *count += 1;
                    if now.0.saturating_sub(*logged) >= LOG_EVERY_MS {
                        tracing::warn!(%symbol, refused = *count, "a venue price was not used: {cause}");
                        *logged = now.0;
                    }
                    let since = last_good.get(&symbol).copied().unwrap_or(i64::MIN);
                    if now.0.saturating_sub(since) > settings.max_quote_age_ms && blind.insert(symbol.clone()) {
                        tracing::error!(
                            %symbol,
                            "no usable venue price for longer than venues.*.max_quote_age_ms: the plan's stops cannot act until one arrives"
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rust_decimal_macros::dec;

    use super::*;

    fn settings() -> ExecutorSettings {
        ExecutorSettings {
            order_poll: Duration::from_millis(100),
            entry_timeout: Duration::from_secs(1),
            quote_poll: Duration::from_millis(100),
            max_quote_age_ms: 5_000,
            max_spread_percent: dec!(1),
            venue_stops: true,
        }
    }

    fn ticker(bid: Decimal, ask: Decimal, at: i64) -> BookTicker {
        BookTicker { bid, bid_quantity: dec!(1), ask, ask_quantity: dec!(1), at: Timestamp(at) }
    }

    #[test]
    fn only_a_sane_and_fresh_quote_is_used() {
        let now = Timestamp(10_000);
        assert_eq!(check_quote(&ticker(dec!(42000), dec!(42001), 9_000), now, &settings()), Ok(()));
        assert_eq!(check_quote(&ticker(dec!(0), dec!(42001), 9_000), now, &settings()), Err(QuoteRefusal::EmptySide));
        assert_eq!(check_quote(&ticker(dec!(42002), dec!(42001), 9_000), now, &settings()), Err(QuoteRefusal::Crossed));
        assert_eq!(check_quote(&ticker(dec!(41000), dec!(42001), 9_000), now, &settings()), Err(QuoteRefusal::TooWide));
        assert_eq!(check_quote(&ticker(dec!(42000), dec!(42001), 4_999), now, &settings()), Err(QuoteRefusal::Stale));
    }
}
