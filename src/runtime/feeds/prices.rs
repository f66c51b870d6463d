//! The price feed's two connections to the engine: which tokens to watch (every token with an open
//! position or a pending order, from the engine's view, refreshed every 250 ms and on state
//! changes) and the books it reads (into the engine's queue, stamped with their arrival time).

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::engine::EngineView;
use crate::polymarket::PriceEvent;
use crate::runtime::TaskResult;
use crate::runtime::{EngineMsg, price_event_msg};

/// Publishes the engine's watched tokens to the price feed whenever they change.
pub(super) async fn follow_watched_tokens(
    mut view: watch::Receiver<Arc<EngineView>>,
    tokens: watch::Sender<BTreeSet<String>>,
    stop: CancellationToken,
) -> TaskResult {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            changed = view.changed() => {
                if changed.is_err() {
                    // The engine is gone (stopping): keep the last list until told to stop.
                    stop.cancelled().await;
                    return Ok(());
                }
                let watched = view.borrow_and_update().watched_tokens.clone();
                tokens.send_if_modified(|current| {
                    let changed = *current != watched;
                    if changed {
                        tracing::debug!(tokens = watched.len(), "price feed now watches {} token(s)", watched.len());
                        *current = watched;
                    }
                    changed
                });
            }
        }
    }
}

/// Books from the price feed into the engine's queue (waiting for room: a book is never dropped).
/// Staleness notices are not inputs: the engine judges freshness itself.
pub(super) async fn forward_prices(
    mut events: mpsc::Receiver<PriceEvent>,
    inputs: mpsc::Sender<EngineMsg>,
    stop: CancellationToken,
) -> TaskResult {
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            event = events.recv() => event,
        };
        let Some(event) = event else {
            stop.cancelled().await;
            return Ok(());
        };
        let Some(msg) = price_event_msg(event) else { continue };
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            sent = inputs.send(msg) => if sent.is_err() {
                stop.cancelled().await;
                return Ok(());
            },
        }
    }
}
