//! Bybit v5 (unified account): spot and linear (USDT perpetuals) through one client, the
//! `category` of every call (`spot` / `linear`) taken from `[venues.bybit] market`.
//!
//! | file | job |
//! | --- | --- |
//! | `sign.rs` | the signing rule and the `X-BAPI-*` headers |
//! | `wire.rs` | the answers' envelope and shapes, read into the shared venue types |
//! | `errors.rs` | `retCode`s by cause; messages with the key cut out |
//! | `mod.rs` | [`BybitClient`]: the endpoints, the recv-window resync, the rate-limit holds |
//!
//! Every answer is read by its `retCode` (the venue answers most refusals with HTTP 200). Bybit
//! limits each endpoint per account and reports the window in `X-Bapi-Limit` (allowed),
//! `X-Bapi-Limit-Status` (left) and `X-Bapi-Limit-Reset-Timestamp`; with a tenth or less left,
//! every call waits for the reset rather than earn a 10006. An HTTP 403 is the venue's IP ban
//! (documented as ten minutes): every call waits that long, or for `Retry-After` when given.

pub mod errors;
pub mod sign;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use reqwest::header::HeaderMap;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::clock::{Clock, Timestamp};
use crate::config::Secret;
use crate::domain::Side;
use crate::polymarket::retry_after;

use super::client::VenueApi;
use super::error::{RefusalReason, VenueError};
use super::http::{Answer, VenueHttp};
use super::rules::{SymbolRules, spot_leverage};
use super::types::{Balance, BookTicker, OrderRequest, OrderState, OrderStatus, OrderType, VenuePosition};
use super::{VenueConfig, VenueKind, VenueMarket};

use super::json::{WireError, header_i64, with_query};
use wire::Envelope;

const VENUE: &str = "bybit";
/// The documented length of the IP ban behind an HTTP 403.
const IP_BAN_HOLD: Duration = Duration::from_secs(600);
/// Hold after a 10006 whose answer has no reset timestamp.
const RATE_LIMIT_HOLD: Duration = Duration::from_secs(1);
/// Longest hold a reset timestamp is trusted for (the venue's windows are seconds long).
const MAX_RESET_HOLD: Duration = Duration::from_secs(60);
/// Orders per `order/realtime` page, and the pages read at most for one symbol.
const OPEN_ORDERS_PAGE: usize = 50;
const MAX_OPEN_ORDER_PAGES: usize = 20;

/// A request's method and payload.
enum Payload {
    Get(Vec<(&'static str, String)>),
    Post(Value),
}

/// See the module documentation.
pub struct BybitClient {
    http: VenueHttp,
    market: VenueMarket,
    api_key: Secret,
    api_secret: Secret,
    recv_window_ms: u64,
    /// The reset timestamp of the last near-limit hold logged (one line per hold).
    logged_reset_ms: AtomicI64,
}

impl BybitClient {
    pub fn new(config: &VenueConfig, clock: Arc<dyn Clock>) -> Result<Self, VenueError> {
        let http = VenueHttp::for_venue(VenueKind::Bybit, config, clock)?;
        Ok(Self {
            http,
            market: config.market,
            api_key: config.api_key.clone(),
            api_secret: config.api_secret.clone(),
            recv_window_ms: config.recv_window_ms,
            logged_reset_ms: AtomicI64::new(i64::MIN),
        })
    }

    fn category(&self) -> &'static str {
        match self.market {
            VenueMarket::Spot => "spot",
            VenueMarket::Futures => "linear",
        }
    }

    /// A public (unsigned) GET.
    async fn public(&self, path: &str, params: Vec<(&'static str, String)>) -> Result<Envelope, VenueError> {
        let query = sign::query_string(&params);
        let request = self.http.client().get(with_query(self.http.url(path), &query));
        let answer = self.http.send(path, request).await?;
        self.read(path, answer)
    }

    /// A signed call; a timestamp refusal resyncs the clock and sends it once more (the venue
    /// refused the first whole, so nothing can happen twice).
    async fn signed(&self, path: &str, payload: Payload) -> Result<Envelope, VenueError> {
        match self.signed_once(path, &payload).await {
            Err(VenueError::Refused { reason: RefusalReason::TimestampOutsideRecvWindow, .. }) => {
                let offset = self.sync_time().await?;
                tracing::warn!(
                    venue = VENUE,
                    endpoint = path,
                    offset_ms = offset,
                    "timestamp outside recv_window: resynced the clock, sending once more"
                );
                self.signed_once(path, &payload).await
            }
            other => other,
        }
    }

    async fn signed_once(&self, path: &str, payload: &Payload) -> Result<Envelope, VenueError> {
        let timestamp = self.http.server_now_ms();
        let (request, signed) = match payload {
            Payload::Get(params) => {
                let query = sign::query_string(params);
                (self.http.client().get(with_query(self.http.url(path), &query)), query)
            }
            Payload::Post(body) => {
                let body = body.to_string();
                let request = self
                    .http
                    .client()
                    .post(self.http.url(path))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
                (request, body)
            }
        };
        let headers = sign::headers(&self.api_key, &self.api_secret, timestamp, self.recv_window_ms, &signed)
            .map_err(|e| VenueError::Config { venue: VENUE, detail: e.to_string() })?;
        let answer = self.http.send(path, request.headers(headers)).await?;
        self.read(path, answer)
    }

    /// Reads an answer: the rate-limit counters, an IP ban, the envelope and its `retCode`.
    fn read(&self, path: &str, answer: Answer) -> Result<Envelope, VenueError> {
        self.watch_limit(path, &answer.headers);
        if answer.status == 403 {
            let wait = retry_after(&answer.headers).unwrap_or(IP_BAN_HOLD);
            self.http.hold_for(wait, "IP banned (403: access too frequent)");
            tracing::error!(
                venue = VENUE,
                endpoint = path,
                wait_s = wait.as_secs(),
                "venue banned this IP: holding every call"
            );
            return Err(VenueError::Banned { venue: VENUE, retry_after: wait });
        }
        let envelope = match wire::envelope(&answer.body) {
            Ok(envelope) => envelope,
            Err(_) if answer.status != 200 => {
                return Err(VenueError::Status {
                    venue: VENUE,
                    endpoint: path.to_owned(),
                    status: answer.status,
                    body: self.redact(&answer.body_excerpt()),
                });
            }
            Err(e) => return Err(malformed(path, &e)),
        };
        if envelope.ret_code == 0 && answer.status == 200 {
            return Ok(envelope);
        }
        if envelope.ret_code == 0 {
            return Err(VenueError::Status {
                venue: VENUE,
                endpoint: path.to_owned(),
                status: answer.status,
                body: self.redact(&answer.body_excerpt()),
            });
        }
        let reason = errors::reason(envelope.ret_code);
        if reason == RefusalReason::RateLimited {
            let wait = self.until_reset(&answer.headers).unwrap_or(RATE_LIMIT_HOLD);
            self.http.hold_for(wait, format!("rate limited (retCode {})", envelope.ret_code));
            tracing::warn!(
                venue = VENUE,
                endpoint = path,
                code = envelope.ret_code,
                wait_ms = wait.as_millis() as u64,
                "venue rate limit: holding every call"
            );
            return Err(VenueError::RateLimited { venue: VENUE, retry_after: wait });
        }
        Err(self.refused(reason, envelope.ret_code, &envelope.ret_msg))
    }

    fn refused(&self, reason: RefusalReason, code: i64, message: &str) -> VenueError {
        VenueError::Refused { venue: VENUE, reason, code, message: self.redact(message) }
    }

    fn redact(&self, text: &str) -> String {
        errors::redact(text, &[self.api_key.expose(), self.api_secret.expose()])
    }

    /// How long until the limit window of `headers` resets, by the venue's clock.
    fn until_reset(&self, headers: &HeaderMap) -> Option<Duration> {
        let reset = header_i64(headers, "X-Bapi-Limit-Reset-Timestamp")?;
        let wait_ms = u64::try_from(reset - self.http.server_now_ms()).ok()?;
        Some(Duration::from_millis(wait_ms).min(MAX_RESET_HOLD))
    }

    /// With a tenth or less of the window left, holds every call until it resets: the limits are
    /// per endpoint, but the calls that follow a busy one are mostly the same ones.
    fn watch_limit(&self, path: &str, headers: &HeaderMap) {
        let (Some(limit), Some(left)) =
            (header_i64(headers, "X-Bapi-Limit"), header_i64(headers, "X-Bapi-Limit-Status"))
        else {
            return;
        };
        if limit <= 0 || left * 10 > limit {
            return;
        }
        let Some(wait) = self.until_reset(headers).filter(|w| !w.is_zero()) else {
            return;
        };
        self.http.hold_for(wait, format!("{left} of {limit} requests left on {path} until the window resets"));
        let reset = header_i64(headers, "X-Bapi-Limit-Reset-Timestamp").unwrap_or_default();
        if self.logged_reset_ms.swap(reset, Ordering::Relaxed) != reset {
            tracing::warn!(
                venue = VENUE,
                endpoint = path,
                left,
                limit,
                wait_ms = wait.as_millis() as u64,
                "venue rate limit nearly used: holding every call until it resets"
            );
        }
    }

    async fn order_by_link_id(&self, symbol: &str, client_order_id: &str) -> Result<OrderState, VenueError> {
        let path = "/v5/order/realtime";
        let params = vec![
            ("category", self.category().to_owned()),
            ("symbol", symbol.to_owned()),
            ("orderLinkId", client_order_id.to_owned()),
        ];
        let answer = self.signed(path, Payload::Get(params)).await?;
        let orders = wire::orders(&answer.result, self.market).map_err(|e| malformed(path, &e))?;
        orders.into_iter().find(|o| o.client_order_id == client_order_id).ok_or_else(|| {
            self.refused(
                RefusalReason::UnknownOrder,
                answer.ret_code,
                &format!("no order with orderLinkId {client_order_id} on {symbol}"),
            )
        })
    }

    /// The coins of the unified account (`coin` narrows the answer to one).
    async fn wallet(&self, coin: Option<&str>) -> Result<Vec<Balance>, VenueError> {
        let path = "/v5/account/wallet-balance";
        let mut params = vec![("accountType", "UNIFIED".to_owned())];
        if let Some(coin) = coin {
            params.push(("coin", coin.to_owned()));
        }
        let answer = self.signed(path, Payload::Get(params)).await?;
        wire::balances(&answer.result).map_err(|e| malformed(path, &e))
    }

    fn create_body(&self, order: &OrderRequest) -> Value {
        let mut body = Map::new();
        body.insert("category".into(), json!(self.category()));
        body.insert("symbol".into(), json!(order.symbol));
        body.insert("side".into(), json!(side_text(order.side)));
        match order.order_type {
            OrderType::Limit { price } => {
                body.insert("orderType".into(), json!("Limit"));
                body.insert("price".into(), json!(price.normalize().to_string()));
                body.insert("timeInForce".into(), json!("GTC"));
            }
            OrderType::Market => {
                body.insert("orderType".into(), json!("Market"));
                if self.market == VenueMarket::Spot {
                    // A spot market buy's qty is in the quote coin unless told otherwise.
                    body.insert("marketUnit".into(), json!("baseCoin"));
                }
            }
        }
        body.insert("qty".into(), json!(order.quantity.normalize().to_string()));
        body.insert("orderLinkId".into(), json!(order.client_order_id));
        if self.market == VenueMarket::Futures {
            body.insert("reduceOnly".into(), json!(order.reduce_only));
        }
        if let Some(price) = order.take_profit {
            body.insert("takeProfit".into(), json!(price.normalize().to_string()));
        }
        if let Some(price) = order.stop_loss {
            body.insert("stopLoss".into(), json!(price.normalize().to_string()));
        }
        Value::Object(body)
    }
}

impl VenueApi for BybitClient {
    fn venue(&self) -> VenueKind {
        VenueKind::Bybit
    }

    fn market(&self) -> VenueMarket {
        self.market
    }

    async fn sync_time(&self) -> Result<i64, VenueError> {
        let path = "/v5/market/time";
        let sent = self.http.local_now_ms();
        let answer = self.public(path, Vec::new()).await?;
        let received = self.http.local_now_ms();
        let server = wire::server_time_ms(&answer.result).map_err(|e| malformed(path, &e))?;
        Ok(self.http.set_server_time(server, sent, received))
    }

    async fn symbol_rules(&self, symbol: &str) -> Result<SymbolRules, VenueError> {
        let path = "/v5/market/instruments-info";
        let params = vec![("category", self.category().to_owned()), ("symbol", symbol.to_owned())];
        let answer = self.public(path, params).await?;
        wire::symbol_rules(&answer.result, self.market, symbol).map_err(|e| malformed(path, &e))?.ok_or_else(|| {
            self.refused(
                RefusalReason::SymbolUnavailable,
                answer.ret_code,
                &format!("{} instruments list no {symbol}", self.category()),
            )
        })
    }

    async fn set_leverage(&self, symbol: &str, leverage: Decimal) -> Result<(), VenueError> {
        if self.market == VenueMarket::Spot {
            return Ok(spot_leverage(symbol, leverage)?);
        }
        let leverage = leverage.normalize().to_string();
        let body = json!({
            "category": self.category(),
            "symbol": symbol,
            "buyLeverage": leverage,
            "sellLeverage": leverage,
        });
        match self.signed("/v5/position/set-leverage", Payload::Post(body)).await {
            Ok(_) => Ok(()),
            Err(VenueError::Refused { code: errors::LEVERAGE_NOT_MODIFIED, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<OrderState, VenueError> {
        let path = "/v5/order/create";
        let answer = self.signed(path, Payload::Post(self.create_body(order))).await?;
        let venue_order_id = wire::order_id(&answer.result).map_err(|e| malformed(path, &e))?;
        // The create answer only says the order was accepted; its state (a market order may be
        // filled already) is the venue's next word on it.
        match self.order_by_link_id(&order.symbol, &order.client_order_id).await {
            Ok(state) => Ok(state),
            Err(e) => {
                tracing::warn!(venue = VENUE, client_order_id = %order.client_order_id, error = %e, "order accepted; its state is read on the next poll");
                Ok(OrderState {
                    client_order_id: order.client_order_id.clone(),
                    venue_order_id,
                    status: OrderStatus::New,
                    filled_quantity: Decimal::ZERO,
                    average_price: Decimal::ZERO,
                    fee: Decimal::ZERO,
                })
            }
        }
    }

    async fn query_order(&self, symbol: &str, client_order_id: &str) -> Result<OrderState, VenueError> {
        self.order_by_link_id(symbol, client_order_id).await
    }

    async fn cancel_order(&self, symbol: &str, client_order_id: &str) -> Result<OrderState, VenueError> {
        let body = json!({"category": self.category(), "symbol": symbol, "orderLinkId": client_order_id});
        match self.signed("/v5/order/cancel", Payload::Post(body)).await {
            Ok(_) => {}
            // "Too late to cancel": it may have filled meanwhile; the query says which.
            Err(VenueError::Refused { reason: RefusalReason::UnknownOrder, code, message, .. }) => {
                return match self.order_by_link_id(symbol, client_order_id).await {
                    Ok(state) if state.status.is_final() => Ok(state),
                    Ok(_) | Err(_) => Err(self.refused(RefusalReason::UnknownOrder, code, &message)),
                };
            }
            Err(e) => return Err(e),
        }
        self.order_by_link_id(symbol, client_order_id).await
    }

    async fn open_orders(&self, symbol: &str) -> Result<Vec<OrderState>, VenueError> {
        let path = "/v5/order/realtime";
        let mut open = Vec::new();
        let mut cursor = String::new();
        for _ in 0..MAX_OPEN_ORDER_PAGES {
            let mut params = vec![
                ("category", self.category().to_owned()),
                ("symbol", symbol.to_owned()),
                ("openOnly", "0".to_owned()),
                ("limit", OPEN_ORDERS_PAGE.to_string()),
            ];
            if !cursor.is_empty() {
                params.push(("cursor", cursor.clone()));
            }
            let answer = self.signed(path, Payload::Get(params)).await?;
            let page = wire::orders(&answer.result, self.market).map_err(|e| malformed(path, &e))?;
            let full = page.len() >= OPEN_ORDERS_PAGE;
            open.extend(page.into_iter().filter(|o| !o.status.is_final()));
            cursor = answer.result.get("nextPageCursor").and_then(Value::as_str).unwrap_or_default().to_owned();
            if !full || cursor.is_empty() {
                return Ok(open);
            }
        }
        Err(malformed(
            path,
            &WireError {
                field: "result.nextPageCursor".into(),
                detail: format!("more than {} pages of open orders", MAX_OPEN_ORDER_PAGES),
            },
        ))
    }

    async fn book_ticker(&self, symbol: &str) -> Result<BookTicker, VenueError> {
        let path = "/v5/market/tickers";
        let params = vec![("category", self.category().to_owned()), ("symbol", symbol.to_owned())];
        let answer = self.public(path, params).await?;
        let read_at = Timestamp(self.http.server_now_ms());
        wire::book_ticker(&answer.result, symbol, answer.time, read_at).map_err(|e| malformed(path, &e))?.ok_or_else(
            || {
                self.refused(
                    RefusalReason::SymbolUnavailable,
                    answer.ret_code,
                    &format!("{} tickers list no {symbol}", self.category()),
                )
            },
        )
    }

    async fn position(&self, symbol: &str, base_asset: &str) -> Result<VenuePosition, VenueError> {
        match self.market {
            VenueMarket::Futures => {
                let path = "/v5/position/list";
                let params = vec![("category", self.category().to_owned()), ("symbol", symbol.to_owned())];
                let answer = self.signed(path, Payload::Get(params)).await?;
                wire::position(&answer.result, symbol).map_err(|e| malformed(path, &e))
            }
            VenueMarket::Spot => {
                let held = self.wallet(Some(base_asset)).await?;
                let quantity =
                    held.iter().filter(|b| b.asset == base_asset).map(|b| b.free + b.locked).sum::<Decimal>();
                Ok(VenuePosition { symbol: symbol.to_owned(), quantity, entry_price: Decimal::ZERO })
            }
        }
    }

    async fn balances(&self) -> Result<Vec<Balance>, VenueError> {
        self.wallet(None).await
    }
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "Buy",
        Side::Sell => "Sell",
    }
}

fn malformed(path: &str, error: &WireError) -> VenueError {
    VenueError::Malformed { venue: VENUE, endpoint: path.to_owned(), detail: error.to_string() }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::clock::SimClock;
    use crate::venues::RuleBreach;

    fn client(market: VenueMarket) -> BybitClient {
        let config = VenueConfig { market, testnet_rest_url: "http://127.0.0.1:9".into(), ..VenueConfig::default() };
        BybitClient::new(&config, Arc::new(SimClock::starting_at(Timestamp(0)))).unwrap()
    }

    fn order(order_type: OrderType) -> OrderRequest {
        OrderRequest {
            client_order_id: "plan-1-entry".into(),
            symbol: "BTCUSDT".into(),
            side: Side::Sell,
            order_type,
            quantity: dec!(0.0100),
            reduce_only: true,
            stop_loss: Some(dec!(17000.0)),
            take_profit: None,
        }
    }

    #[test]
    fn a_linear_limit_order_carries_reduce_only_and_the_venue_stop() {
        let body = client(VenueMarket::Futures).create_body(&order(OrderType::Limit { price: dec!(16000.50) }));
        assert_eq!(
            body,
            json!({
                "category": "linear", "symbol": "BTCUSDT", "side": "Sell", "orderType": "Limit",
                "price": "16000.5", "timeInForce": "GTC", "qty": "0.01", "orderLinkId": "plan-1-entry",
                "reduceOnly": true, "stopLoss": "17000",
            })
        );
    }

    #[test]
    fn a_spot_market_order_is_sized_in_the_base_coin_and_has_no_reduce_only() {
        let body = client(VenueMarket::Spot).create_body(&order(OrderType::Market));
        assert_eq!(body["category"], "spot");
        assert_eq!(body["marketUnit"], "baseCoin");
        assert!(body.get("reduceOnly").is_none() && body.get("price").is_none());
    }

    #[tokio::test]
    async fn spot_takes_no_leverage_above_one() {
        let spot = client(VenueMarket::Spot);
        spot.set_leverage("BTCUSDT", Decimal::ONE).await.unwrap();
        let err = spot.set_leverage("BTCUSDT", dec!(3)).await.unwrap_err();
        assert!(matches!(err, VenueError::Rules(RuleBreach::NoLeverageOnSpot { .. })), "{err}");
    }
}
