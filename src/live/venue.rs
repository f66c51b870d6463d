//! The asynchronous life of one live order, off the engine's task:
//!
//! ```text
//!  sign (EIP-712) ─► order hash ─► journal (durable) ─► POST /order (FAK, once) ─┬─ matched: amounts ─► report
//!                                                                                └─ live / delayed / unknown:
//!                                       GET /data/order/{hash} until finished (cancel if it rests) ─► trades ─► report
//! ```
//!
//! An order is never posted twice: a lost answer (timeout, 5xx) is resolved by asking the venue
//! about the hash, which was recorded before sending. Reconciling after a restart runs the same
//! resolution for an order whose hash the store holds.

use std::sync::Arc;

use super::outcome::{self, VenueFill, VenueStatus};
use super::{Shared, Tracked};
use crate::domain::ClientOrderId;
use crate::engine::ExecutionReport;
use crate::market::FeeCurve;
use crate::polymarket::{ListFilter, OrderType, TradingError};

use super::journal::SentOrder;
use super::order::PreparedOrder;

/// Signs, records, sends and follows one order; its report goes back to the engine.
pub(super) async fn place(shared: Arc<Shared>, order: PreparedOrder) {
    let id = order.client_order_id;
    let report = place_and_follow(&shared, order).await;
    shared.finish(id, report).await;
}

async fn place_and_follow(shared: &Shared, order: PreparedOrder) -> ExecutionReport {
    let id = order.client_order_id;
    let signed = match shared.signer.sign_order(&order.unsigned).await {
        Ok(signed) => signed,
        Err(e) => {
            return ExecutionReport::unfilled(
                id,
                format!("not sent: the order could not be signed: {e}"),
                shared.now(),
            );
        }
    };
    if shared.cancel_requested(id) {
        return ExecutionReport::unfilled(id, "not sent: cancelled by the kill switch before sending", shared.now());
    }
    let sent = SentOrder {
        client_order_id: id.to_string(),
        venue_order_id: signed.order_hash.clone(),
        token_id: order.token_id.clone(),
        side: order.side,
        limit_price: order.limit_price,
        size: order.size,
        is_entry: order.is_entry,
        at: shared.now(),
    };
    if let Err(e) = shared.journal.record_sent(sent).await {
        return ExecutionReport::unfilled(
            id,
            format!("not sent: its venue order id could not be recorded first: {e}"),
            shared.now(),
        );
    }
    shared.track(id, Tracked::sent(signed.order_hash.clone(), order.is_entry));
    let body = order.unsigned.clone().into_request(signed.signature, shared.owner.clone(), OrderType::Fak);
    tracing::info!(
        order = %id,
        venue_order_id = %signed.order_hash,
        side = %order.side,
        size = %order.size,
        price = %order.limit_price,
        token = %order.token_id,
        "live order sent (FAK)"
    );
    match shared.client.post_order(&body).await {
        Ok(answer) => {
            let venue_id = if answer.order_id.is_empty() { signed.order_hash } else { answer.order_id.clone() };
            if venue_id != sent_id(shared, id) {
                tracing::warn!(order = %id, computed = %sent_id(shared, id), answered = %venue_id, "the CLOB answered another order id; following its id");
                shared.track(id, Tracked::sent(venue_id.clone(), order.is_entry));
            }
            if answer.status.eq_ignore_ascii_case("matched")
                && let Some(fill) = outcome::fill_from_amounts(order.side, &answer.making_amount, &answer.taking_amount)
            {
                return outcome::report(id, &[fill], &order.fee, true, None, shared.now());
            }
            if answer.status.eq_ignore_ascii_case("unmatched") {
                return ExecutionReport::unfilled(id, "FAK: nothing to match within the limit", shared.now());
            }
            resolve(shared, id, &venue_id, &order.fee).await
        }
        // The venue answered and refused: the order does not exist there.
        Err(TradingError::Rejected { status, message, .. }) => {
            ExecutionReport::unfilled(id, format!("refused by the venue ({status}): {message}"), shared.now())
        }
        // No answer (timeout, connection, 5xx): it may have arrived. Ask, never resend.
        Err(e) => {
            tracing::warn!(order = %id, error = %e, "no answer to the order: asking the venue what became of it");
            let venue_id = sent_id(shared, id);
            resolve(shared, id, &venue_id, &order.fee).await
        }
    }
}

fn sent_id(shared: &Shared, id: ClientOrderId) -> String {
    shared.venue_id(id).unwrap_or_default()
}

/// Finds out what an order did at the venue: waits while it is working (cancelling it once it has
/// rested longer than an FAK should, or when the kill switch asked), then reads its fills.
pub(super) async fn resolve(shared: &Shared, id: ClientOrderId, venue_id: &str, fee: &FeeCurve) -> ExecutionReport {
    let started = crate::clock::monotonic();
    let mut cancel_sent = false;
    let mut wait = shared.settings.status_poll;
    loop {
        match shared.client.order_status(venue_id).await {
            Ok(order) if outcome::venue_status(&order.status) == VenueStatus::Finished => {
                let fills = fills_of(shared, &order).await;
                let note = (order.size_matched < order.original_size).then(|| {
                    format!("{}: {} of {} shares matched", order.status, order.size_matched, order.original_size)
                });
                return outcome::report(id, &fills, fee, true, note, shared.now());
            }
            Ok(_working) => {
                let overdue = started.elapsed() >= shared.settings.max_resting;
                if !cancel_sent && (overdue || shared.cancel_requested(id)) {
                    cancel_sent = true;
                    cancel(shared, id, venue_id).await;
                }
            }
            // The venue does not know the order: it never arrived.
            Err(TradingError::Rejected { status: 404, .. }) => {
                return ExecutionReport::unfilled(
                    id,
                    "the venue does not know this order: it was never placed",
                    shared.now(),
                );
            }
            Err(e) => tracing::warn!(order = %id, error = %e, "order status unavailable; asking again"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(shared.settings.max_status_backoff);
    }
}

/// The order's fills from its trades; from its matched size when the trades cannot be read.
async fn fills_of(shared: &Shared, order: &crate::polymarket::OpenOrder) -> Vec<VenueFill> {
    let trade_ids = order.associate_trades.clone().unwrap_or_default();
    let mut fills = Vec::new();
    for trade_id in &trade_ids {
        let filter = ListFilter { id: Some(trade_id.clone()), ..ListFilter::default() };
        match shared.client.trades(&filter).await {
            Ok(trades) => fills.extend(outcome::fills_from_trades(&trades)),
            Err(e) => {
                tracing::warn!(trade = %trade_id, error = %e, "trade unreadable: booking the matched size at the limit price");
                return outcome::fill_from_status(order).into_iter().collect();
            }
        }
    }
    let traded: rust_decimal::Decimal = fills.iter().map(|f| f.size).sum();
    if fills.is_empty() || traded != order.size_matched {
        if !fills.is_empty() {
            tracing::warn!(order = %order.id, %traded, matched = %order.size_matched, "trades and matched size disagree: booking the matched size at the limit price");
        }
        return outcome::fill_from_status(order).into_iter().collect();
    }
    fills
}

/// `DELETE /order` for a working order; the outcome shows in the order's status afterwards.
pub(super) async fn cancel(shared: &Shared, id: ClientOrderId, venue_id: &str) {
    match shared.client.cancel_order(venue_id).await {
        Ok(answer) if answer.canceled.iter().any(|c| c == venue_id) => {
            tracing::info!(order = %id, venue_order_id = %venue_id, "live order cancelled");
        }
        Ok(answer) => {
            let reason = answer.not_canceled.get(venue_id).cloned().unwrap_or_default();
            tracing::info!(order = %id, venue_order_id = %venue_id, %reason, "live order not cancelled (already finished?)");
        }
        Err(e) => tracing::warn!(order = %id, error = %e, "cancelling a live order failed"),
    }
}

/// Reconciles an order whose outcome was lost: never sends it, only asks.
pub(super) async fn reconcile(shared: Arc<Shared>, id: ClientOrderId, venue_id: String, fee: FeeCurve) {
    tracing::info!(order = %id, venue_order_id = %venue_id, "reconciling a live order with the venue");
    let report = resolve(&shared, id, &venue_id, &fee).await;
    shared.finish(id, report).await;
}
