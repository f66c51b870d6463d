//! [`VenueApi`]: the calls the plan executor makes, whichever venue answers them. Each venue's
//! client implements it over [`super::VenueHttp`]; the executor is generic over it, so the daemon
//! picks the venue once, at start.
//!
//! Every call that signs stamps the request with the server's time (kept by
//! [`VenueApi::sync_time`]); a refusal for a timestamp outside the receive window resyncs and is
//! tried once more inside the client, which is safe because the venue refused the request whole.

use std::future::Future;

use rust_decimal::Decimal;

use super::error::VenueError;
use super::rules::SymbolRules;
use super::types::{Balance, BookTicker, OrderRequest, OrderState, VenuePosition};
use super::{VenueKind, VenueMarket};

/// See the module documentation. `symbol` is always the venue's (`BTCUSDT`).
pub trait VenueApi: Send + Sync + 'static {
    fn venue(&self) -> VenueKind;

    fn market(&self) -> VenueMarket;

    /// Reads the server's time and keeps the offset to our clock; returns it in milliseconds.
    fn sync_time(&self) -> impl Future<Output = Result<i64, VenueError>> + Send;

    /// The symbol's trading rules (tick, step, minimums, leverage).
    fn symbol_rules(&self, symbol: &str) -> impl Future<Output = Result<SymbolRules, VenueError>> + Send;

    /// Sets the symbol's leverage (futures). On spot, leverage 1 is a no-op and anything else a
    /// [`super::RuleBreach::NoLeverageOnSpot`].
    fn set_leverage(&self, symbol: &str, leverage: Decimal) -> impl Future<Output = Result<(), VenueError>> + Send;

    /// Sends one order, once. The answer is its state right after (a market order may already be
    /// filled). A transport failure leaves its fate unknown: ask [`VenueApi::query_order`].
    fn place_order(&self, order: &OrderRequest) -> impl Future<Output = Result<OrderState, VenueError>> + Send;

    /// The order with our client order id, as the venue has it now (cumulative fills). A venue
    /// that never received it answers [`super::RefusalReason::UnknownOrder`].
    fn query_order(
        &self,
        symbol: &str,
        client_order_id: &str,
    ) -> impl Future<Output = Result<OrderState, VenueError>> + Send;

    /// Cancels the order; what filled stays and is in the answer.
    fn cancel_order(
        &self,
        symbol: &str,
        client_order_id: &str,
    ) -> impl Future<Output = Result<OrderState, VenueError>> + Send;

    /// The orders still working on `symbol`.
    fn open_orders(&self, symbol: &str) -> impl Future<Output = Result<Vec<OrderState>, VenueError>> + Send;

    /// Best bid and ask of `symbol` now.
    fn book_ticker(&self, symbol: &str) -> impl Future<Output = Result<BookTicker, VenueError>> + Send;

    /// What the venue holds for us on `symbol`: the futures position, or on spot the free and
    /// locked `base_asset`.
    fn position(
        &self,
        symbol: &str,
        base_asset: &str,
    ) -> impl Future<Output = Result<VenuePosition, VenueError>> + Send;

    /// The account's balances (assets with anything in them).
    fn balances(&self) -> impl Future<Output = Result<Vec<Balance>, VenueError>> + Send;
}
