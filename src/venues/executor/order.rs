//! One plan order's life at the venue: its symbol's rules applied, the leverage set (futures
//! entries), sent once, followed until done, cancelled on request or when an entry waits too long.
//! Every state it learns goes to the engine as a cumulative report, only when it changed.

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use tokio_util::sync::CancellationToken;

use crate::plans::{PlanOrder, PlanOrderKind, PlanOrderRefusal, PlanOrderReport};
use crate::risk::WorkingPlanOrder;
use crate::venues::error::{RefusalReason, VenueError};
use crate::venues::rules::SymbolRules;
use crate::venues::types::{OrderRequest, OrderState, OrderStatus, OrderType, venue_symbol};
use crate::venues::{VenueApi, VenueMarket};

use super::Shared;

/// How often, and how long apart, an order whose answer was lost is asked about before it is
/// taken as never received.
const LOST_ANSWER_QUERIES: u32 = 4;

/// What the task last told the engine, so that an unchanged poll says nothing.
#[derive(Debug, Clone, Default, PartialEq)]
struct Told {
    filled: Decimal,
    done: bool,
}

/// One order being followed.
struct Follow<'a, V> {
    shared: &'a Shared<V>,
    client_order_id: String,
    plan_id: String,
    symbol: String,
    told: Option<Told>,
}

impl<'a, V: VenueApi> Follow<'a, V> {
    fn new(shared: &'a Shared<V>, client_order_id: &str, plan_id: &str, plan_symbol: &str) -> Self {
        Self {
            shared,
            client_order_id: client_order_id.to_owned(),
            plan_id: plan_id.to_owned(),
            symbol: venue_symbol(plan_symbol),
            told: None,
        }
    }

    fn report(&mut self, state: &OrderState) {
        let done = state.status.is_final();
        let now = Told { filled: state.filled_quantity, done };
        if self.told.as_ref() == Some(&now) {
            return;
        }
        let refusal = (state.status == OrderStatus::Rejected).then(|| PlanOrderRefusal {
            reason: RefusalReason::Other.as_str().to_owned(),
            detail: "the venue rejected the order after accepting it".to_owned(),
        });
        self.told = Some(now);
        self.shared.report(PlanOrderReport {
            client_order_id: self.client_order_id.clone(),
            plan_id: self.plan_id.clone(),
            venue_order_id: Some(state.venue_order_id.clone()),
            filled: state.filled_quantity,
            average_price: state.average_price,
            fee: state.fee,
            done,
            refusal,
            at: self.shared.now(),
        });
    }

    /// The order ends with nothing more filled than already told, for `reason`.
    fn refuse(&mut self, reason: &str, detail: String) {
        let filled = self.told.as_ref().map_or(Decimal::ZERO, |t| t.filled);
        tracing::warn!(order = %self.client_order_id, plan = %self.plan_id, reason, %detail, "plan order refused");
        self.told = Some(Told { filled, done: true });
        self.shared.report(PlanOrderReport {
            client_order_id: self.client_order_id.clone(),
            plan_id: self.plan_id.clone(),
            venue_order_id: None,
            filled,
            average_price: Decimal::ZERO,
            fee: Decimal::ZERO,
            done: true,
            refusal: Some(PlanOrderRefusal { reason: reason.to_owned(), detail }),
            at: self.shared.now(),
        });
    }

    /// Polls the order until it is done; cancels it when `cancel` fires or, for an entry, when it
    /// has worked for `timeout`.
    async fn until_done(&mut self, mut state: OrderState, cancel: &CancellationToken, timeout: Option<Duration>) {
        let started = tokio::time::Instant::now();
        let mut cancel_sent = false;
        while !state.status.is_final() {
            let expired = timeout.is_some_and(|t| started.elapsed() >= t);
            if (cancel.is_cancelled() || expired) && !cancel_sent {
                cancel_sent = true;
                let why = if expired { "the entry timed out" } else { "the engine cancelled it" };
                tracing::info!(order = %self.client_order_id, why, "cancelling at the venue");
                match self.shared.api.cancel_order(&self.symbol, &self.client_order_id).await {
                    Ok(after) => {
                        state = after;
                        self.report(&state);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(order = %self.client_order_id, error = %e, "cancel failed; reading the order")
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.shared.settings.order_poll) => {}
                () = cancel.cancelled(), if !cancel_sent => {}
            }
            match self.shared.api.query_order(&self.symbol, &self.client_order_id).await {
                Ok(now) => {
                    state = now;
                    self.report(&state);
                }
                Err(e) => {
                    tracing::warn!(order = %self.client_order_id, error = %e, "reading a working plan order failed; trying again")
                }
            }
        }
        self.report(&state);
    }
}

/// Sends `order` once and follows it to its end.
pub(super) async fn place<V: VenueApi>(shared: Arc<Shared<V>>, order: PlanOrder, cancel: CancellationToken) {
    let mut follow = Follow::new(&shared, &order.client_order_id, &order.plan_id, &order.symbol);
    if cancel.is_cancelled() {
        follow.refuse("not_sent", "cancelled before it was sent".to_owned());
        shared.forget(&order.client_order_id);
        return;
    }
    let request = match prepare(&shared, &order, &follow.symbol).await {
        Ok(request) => request,
        Err(e) => {
            follow.refuse(refusal_reason(&e), format!("not sent: {e}"));
            shared.forget(&order.client_order_id);
            return;
        }
    };
    let placed = shared.api.place_order(&request).await;
    let state = match placed {
        Ok(state) => Some(state),
        Err(e) if e.outcome_unknown() => {
            tracing::warn!(order = %order.client_order_id, error = %e, "the venue's answer was lost: asking it about the order");
            lost_answer(&mut follow).await
        }
        Err(e) => {
            follow.refuse(refusal_reason(&e), e.to_string());
            None
        }
    };
    if let Some(state) = state {
        follow.report(&state);
        let timeout = order.kind.is_entry().then_some(shared.settings.entry_timeout);
        follow.until_done(state, &cancel, timeout).await;
    }
    shared.forget(&order.client_order_id);
}

/// After a restart: asks the venue about an order written ahead and follows it; one the venue
/// never received ends unfilled and is not sent.
pub(super) async fn reconcile<V: VenueApi>(shared: Arc<Shared<V>>, order: WorkingPlanOrder, cancel: CancellationToken) {
    let mut follow = Follow::new(&shared, &order.client_order_id, &order.plan_id, &order.symbol);
    if let Some(state) = lost_answer(&mut follow).await {
        tracing::warn!(
            order = %order.client_order_id,
            status = ?state.status,
            filled = %state.filled_quantity,
            "plan order found at the venue after the restart: following it"
        );
        follow.report(&state);
        let timeout = matches!(order.kind, PlanOrderKind::Entry).then_some(shared.settings.entry_timeout);
        follow.until_done(state, &cancel, timeout).await;
    }
    shared.forget(&order.client_order_id);
}

/// After a restart, the rest of what the venue holds: orders of ours working on the plans'
/// symbols that no open plan knows (an error line each: they were not sent by this store's
/// plans, or a plan forgot them), and the positions and balances, logged for the operator.
pub(super) async fn survey<V: VenueApi>(shared: Arc<Shared<V>>, known: Vec<WorkingPlanOrder>) {
    let mut symbols: Vec<String> = known.iter().map(|o| venue_symbol(&o.symbol)).collect();
    symbols.sort();
    symbols.dedup();
    for symbol in &symbols {
        match shared.api.open_orders(symbol).await {
            Ok(open) => {
                for order in open.iter().filter(|o| o.client_order_id.starts_with("wt-")) {
                    if !known.iter().any(|k| k.client_order_id == order.client_order_id) {
                        tracing::error!(
                            %symbol,
                            order = %order.client_order_id,
                            venue_order_id = %order.venue_order_id,
                            "an order with this daemon's prefix is working at the venue but no open plan knows it: check it by hand"
                        );
                    }
                }
            }
            Err(e) => tracing::warn!(%symbol, error = %e, "the venue's open orders cannot be read"),
        }
        let base = symbol.strip_suffix("USDT").or_else(|| symbol.strip_suffix("USDC")).unwrap_or(symbol);
        match shared.api.position(symbol, base).await {
            Ok(position) => tracing::info!(
                %symbol,
                quantity = %position.quantity,
                entry = %position.entry_price,
                "venue position after the restart"
            ),
            Err(e) => tracing::warn!(%symbol, error = %e, "the venue's position cannot be read"),
        }
    }
    match shared.api.balances().await {
        Ok(balances) => {
            for b in balances {
                tracing::info!(asset = %b.asset, free = %b.free, locked = %b.locked, "venue balance after the restart");
            }
        }
        Err(e) => tracing::warn!(error = %e, "the venue's balances cannot be read"),
    }
}

/// Asks the venue about an order whose fate is unknown, a few times a poll apart: its state, or
/// `None` once it is sure the venue never received it (the order then ends unfilled).
async fn lost_answer<V: VenueApi>(follow: &mut Follow<'_, V>) -> Option<OrderState> {
    let mut unknown = 0;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match follow.shared.api.query_order(&follow.symbol, &follow.client_order_id).await {
            Ok(state) => return Some(state),
            Err(e) if e.refusal() == Some(RefusalReason::UnknownOrder) => {
                unknown += 1;
                if unknown >= LOST_ANSWER_QUERIES {
                    follow.refuse(
                        "not_sent",
                        "the venue has no order with this client order id: it was written ahead but never received; it is not sent again"
                            .to_owned(),
                    );
                    return None;
                }
            }
            Err(e) => {
                tracing::warn!(order = %follow.client_order_id, attempt, error = %e, "asking the venue about a plan order failed; trying again");
            }
        }
        let wait = follow.shared.settings.order_poll.saturating_mul(attempt.min(30));
        tokio::time::sleep(wait).await;
    }
}

/// The venue's request for `order`: on the symbol's tick and step, within its minimums, with the
/// leverage set first for a futures entry.
async fn prepare<V: VenueApi>(shared: &Shared<V>, order: &PlanOrder, symbol: &str) -> Result<OrderRequest, VenueError> {
    let rules = symbol_rules(shared, symbol).await?;
    let quantity = rules.round_quantity(order.units);
    let order_type = match order.price {
        Some(price) => OrderType::Limit { price: rules.round_price(order.side, price) },
        None => OrderType::Market,
    };
    if let OrderType::Limit { price } = order_type {
        rules.check(price, quantity)?;
    } else if quantity <= Decimal::ZERO || quantity < rules.min_quantity {
        // An exit too small for the venue cannot be sent; the notional minimum is the venue's to
        // judge at market (reduce-only orders are often exempt).
        rules.check(Decimal::ONE, quantity)?;
    }
    let entry = order.kind.is_entry();
    if entry {
        rules.check_leverage(order.leverage)?;
        if shared.api.market() == VenueMarket::Futures && leverage_unset(shared, symbol) {
            shared.api.set_leverage(symbol, order.leverage).await?;
            shared.leverage_set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(symbol.to_owned());
        }
    }
    let with_venue_stops = entry && shared.settings.venue_stops;
    let opposite = order.side.opposite();
    Ok(OrderRequest {
        client_order_id: order.client_order_id.clone(),
        symbol: symbol.to_owned(),
        side: order.side,
        order_type,
        quantity,
        reduce_only: order.reduce_only,
        // A stop sells (buys back) below (above) the entry: rounded the way its own side asks.
        stop_loss: order.stop_loss.filter(|_| with_venue_stops).map(|p| rules.round_price(opposite, p)),
        take_profit: order.take_profit.filter(|_| with_venue_stops).map(|p| rules.round_price(opposite, p)),
    })
}

fn leverage_unset<V>(shared: &Shared<V>, symbol: &str) -> bool {
    !shared.leverage_set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(symbol)
}

/// The symbol's rules, read once per run.
async fn symbol_rules<V: VenueApi>(shared: &Shared<V>, symbol: &str) -> Result<SymbolRules, VenueError> {
    let cached = shared.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(symbol).cloned();
    if let Some(rules) = cached {
        return Ok(rules);
    }
    let rules = shared.api.symbol_rules(symbol).await?;
    shared.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(symbol.to_owned(), rules.clone());
    Ok(rules)
}

/// The refusal's cause in the audit trail's words.
fn refusal_reason(error: &VenueError) -> &'static str {
    error.refusal().map_or("not_sent", RefusalReason::as_str)
}
