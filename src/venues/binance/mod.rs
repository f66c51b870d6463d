//! Binance: spot (`/api/v3`) and USDⓈ-M futures (`/fapi`) through one client, the market taken
//! from `[venues.binance] market`.
//!
//! | file | job |
//! | --- | --- |
//! | `sign.rs` | the signing rule (HMAC-SHA256 of the query) and the key header |
//! | `wire.rs` | the answers read into the venue shapes |
//! | `errors.rs` | error codes by cause; messages with secrets cut out |
//! | `mod.rs` | [`BinanceClient`]: the endpoints, the recv-window resync, the request weight |
//!
//! Binance counts request weight per IP and minute and reports it in `X-MBX-USED-WEIGHT-1M`;
//! with nine tenths of the limit (from `exchangeInfo`, else 1200 spot / 2400 USDⓈ-M) used,
//! every call waits for the next minute rather than earn a 429 (and, repeated, a 418 ban).
//! Binance takes no stop-loss or take-profit with an order: the daemon's own stops manage a
//! Binance position, and `OrderRequest::stop_loss` / `take_profit` are not sent.

pub mod errors;
pub mod sign;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::clock::{Clock, Timestamp};
use crate::config::Secret;
use crate::domain::Side;

use super::client::VenueApi;
use super::error::{RefusalReason, VenueError};
use super::http::{Answer, VenueHttp};
use super::rules::{SymbolRules, spot_leverage};
use super::types::{Balance, BookTicker, OrderRequest, OrderState, OrderType, VenuePosition};
use super::{VenueConfig, VenueKind, VenueMarket};

use super::json::{WireError, header_i64, with_query};

const VENUE: &str = "binance";
/// Request weight per minute when `exchangeInfo` has not said.
const SPOT_WEIGHT_LIMIT: i64 = 1200;
const FUTURES_WEIGHT_LIMIT: i64 = 2400;

/// The paths of one market.
struct Paths {
    time: &'static str,
    exchange_info: &'static str,
    order: &'static str,
    open_orders: &'static str,
    book_ticker: &'static str,
}

const SPOT: Paths = Paths {
    time: "/api/v3/time",
    exchange_info: "/api/v3/exchangeInfo",
    order: "/api/v3/order",
    open_orders: "/api/v3/openOrders",
    book_ticker: "/api/v3/ticker/bookTicker",
};

const FUTURES: Paths = Paths {
    time: "/fapi/v1/time",
    exchange_info: "/fapi/v1/exchangeInfo",
    order: "/fapi/v1/order",
    open_orders: "/fapi/v1/openOrders",
    book_ticker: "/fapi/v1/ticker/bookTicker",
};

/// See the module documentation.
pub struct BinanceClient {
    http: VenueHttp,
    market: VenueMarket,
    api_key: Secret,
    api_secret: Secret,
    recv_window_ms: u64,
    /// Request weight allowed per minute.
    weight_limit: AtomicI64,
    /// The minute of the last near-limit hold logged (one line per minute).
    logged_minute: AtomicI64,
}

impl BinanceClient {
    pub fn new(config: &VenueConfig, clock: Arc<dyn Clock>) -> Result<Self, VenueError> {
        let http = VenueHttp::for_venue(VenueKind::Binance, config, clock)?;
        let limit = match config.market {
            VenueMarket::Spot => SPOT_WEIGHT_LIMIT,
            VenueMarket::Futures => FUTURES_WEIGHT_LIMIT,
        };
        Ok(Self {
            http,
            market: config.market,
            api_key: config.api_key.clone(),
            api_secret: config.api_secret.clone(),
            recv_window_ms: config.recv_window_ms,
            weight_limit: AtomicI64::new(limit),
            logged_minute: AtomicI64::new(i64::MIN),
        })
    }

    fn paths(&self) -> &'static Paths {
        match self.market {
            VenueMarket::Spot => &SPOT,
            VenueMarket::Futures => &FUTURES,
        }
    }

    /// A public (unsigned) GET.
    async fn public(&self, path: &str, params: &[(&str, String)]) -> Result<Value, VenueError> {
        let query = sign::query_string(params);
        let request = self.http.client().get(with_query(self.http.url(path), &query));
        let answer = self.http.send(path, request).await?;
        self.read(path, answer)
    }

    /// A SIGNED call; a timestamp refusal resyncs the clock and sends it once more (the venue
    /// refused the first whole, so nothing can happen twice).
    async fn signed(&self, method: Method, path: &str, params: &[(&str, String)]) -> Result<Value, VenueError> {
        match self.signed_once(method.clone(), path, params).await {
            Err(VenueError::Refused { reason: RefusalReason::TimestampOutsideRecvWindow, .. }) => {
                let offset = self.sync_time().await?;
                tracing::warn!(
                    venue = VENUE,
                    endpoint = path,
                    offset_ms = offset,
                    "timestamp outside recvWindow: resynced the clock, sending once more"
                );
                self.signed_once(method, path, params).await
            }
            other => other,
        }
    }

    async fn signed_once(&self, method: Method, path: &str, params: &[(&str, String)]) -> Result<Value, VenueError> {
        let headers = sign::key_header(&self.api_key, &self.api_secret)
            .map_err(|e| VenueError::Config { venue: VENUE, detail: e.to_string() })?;
        let mut all: Vec<(&str, String)> = params.to_vec();
        all.push(("recvWindow", self.recv_window_ms.to_string()));
        all.push(("timestamp", self.http.server_now_ms().to_string()));
        let query = sign::signed_query(&self.api_secret, &sign::query_string(&all));
        let request = self.http.client().request(method, with_query(self.http.url(path), &query)).headers(headers);
        let answer = self.http.send(path, request).await?;
        self.read(path, answer)
    }

    /// Reads an answer: the weight used, then the body or the venue's error.
    fn read(&self, path: &str, answer: Answer) -> Result<Value, VenueError> {
        self.watch_weight(path, &answer.headers);
        if (200..300).contains(&answer.status) {
            return wire::parse(&answer.body).map_err(|e| malformed(path, &e));
        }
        match wire::error(&answer.body) {
            Some((code, message)) => {
                let reason = errors::reason(code, &message);
                Err(VenueError::Refused { venue: VENUE, reason, code, message: self.redact(&message) })
            }
            None => Err(VenueError::Status {
                venue: VENUE,
                endpoint: path.to_owned(),
                status: answer.status,
                body: self.redact(&answer.body_excerpt()),
            }),
        }
    }

    fn redact(&self, text: &str) -> String {
        errors::redact(text, &[self.api_key.expose(), self.api_secret.expose()])
    }

    /// With nine tenths of the minute's weight used, holds every call until the next minute.
    fn watch_weight(&self, path: &str, headers: &HeaderMap) {
        let Some(used) = header_i64(headers, "X-MBX-USED-WEIGHT-1M") else { return };
        let limit = self.weight_limit.load(Ordering::Relaxed);
        if limit <= 0 || used * 10 < limit * 9 {
            return;
        }
        let now = self.http.server_now_ms();
        let minute = now.div_euclid(60_000);
        let wait = Duration::from_millis(u64::try_from((minute + 1) * 60_000 - now).unwrap_or(0));
        self.http.hold_for(wait, format!("request weight {used} of {limit} used this minute"));
        if self.logged_minute.swap(minute, Ordering::Relaxed) != minute {
            tracing::warn!(
                venue = VENUE,
                endpoint = path,
                used,
                limit,
                wait_ms = wait.as_millis() as u64,
                "venue request weight nearly used: holding every call until the next minute"
            );
        }
    }

    fn order_params(&self, order: &OrderRequest) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("symbol", order.symbol.clone()),
            ("side", side_text(order.side).to_owned()),
            ("newClientOrderId", order.client_order_id.clone()),
            ("quantity", order.quantity.normalize().to_string()),
        ];
        match order.order_type {
            OrderType::Limit { price } => {
                params.push(("type", "LIMIT".to_owned()));
                params.push(("timeInForce", "GTC".to_owned()));
                params.push(("price", price.normalize().to_string()));
            }
            OrderType::Market => params.push(("type", "MARKET".to_owned())),
        }
        match self.market {
            // FULL: the answer lists the fills with their commissions.
            VenueMarket::Spot => params.push(("newOrderRespType", "FULL".to_owned())),
            VenueMarket::Futures => {
                params.push(("newOrderRespType", "RESULT".to_owned()));
                if order.reduce_only {
                    params.push(("reduceOnly", "true".to_owned()));
                }
            }
        }
        params
    }

    /// The quote asset `symbol` ends with, for the spot fills' commissions that count as fees.
    fn quote_of(symbol: &str) -> Option<&'static str> {
        ["USDT", "USDC", "FDUSD", "BUSD"].into_iter().find(|q| symbol.ends_with(q))
    }
}

impl VenueApi for BinanceClient {
    fn venue(&self) -> VenueKind {
        VenueKind::Binance
    }

    fn market(&self) -> VenueMarket {
        self.market
    }

    async fn sync_time(&self) -> Result<i64, VenueError> {
        let path = self.paths().time;
        let sent = self.http.local_now_ms();
        let answer = self.public(path, &[]).await?;
        let received = self.http.local_now_ms();
        let server = wire::server_time_ms(&answer).map_err(|e| malformed(path, &e))?;
        Ok(self.http.set_server_time(server, sent, received))
    }

    async fn symbol_rules(&self, symbol: &str) -> Result<SymbolRules, VenueError> {
        let path = self.paths().exchange_info;
        let answer = self.public(path, &[("symbol", symbol.to_owned())]).await?;
        if let Some(limit) = wire::weight_limit(&answer) {
            self.weight_limit.store(limit, Ordering::Relaxed);
        }
        wire::symbol_rules(&answer, self.market, symbol).map_err(|e| malformed(path, &e))?.ok_or_else(|| {
            VenueError::Refused {
                venue: VENUE,
                reason: RefusalReason::SymbolUnavailable,
                code: -1121,
                message: format!("exchangeInfo lists no {symbol}"),
            }
        })
    }

    async fn set_leverage(&self, symbol: &str, leverage: Decimal) -> Result<(), VenueError> {
        if self.market == VenueMarket::Spot {
            return Ok(spot_leverage(symbol, leverage)?);
        }
        // USDⓈ-M takes whole leverage only: a fraction is rounded down, never up.
        let whole = leverage.trunc().max(Decimal::ONE).normalize().to_string();
        let params = [("symbol", symbol.to_owned()), ("leverage", whole)];
        self.signed(Method::POST, "/fapi/v1/leverage", &params).await.map(drop)
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<OrderState, VenueError> {
        let path = self.paths().order;
        let answer = self.signed(Method::POST, path, &self.order_params(order)).await?;
        wire::order(&answer, Self::quote_of(&order.symbol)).map_err(|e| malformed(path, &e))
    }

    async fn query_order(&self, symbol: &str, client_order_id: &str) -> Result<OrderState, VenueError> {
        let path = self.paths().order;
        let params = [("symbol", symbol.to_owned()), ("origClientOrderId", client_order_id.to_owned())];
        let answer = self.signed(Method::GET, path, &params).await?;
        wire::order(&answer, None).map_err(|e| malformed(path, &e))
    }

    async fn cancel_order(&self, symbol: &str, client_order_id: &str) -> Result<OrderState, VenueError> {
        let path = self.paths().order;
        let params = [("symbol", symbol.to_owned()), ("origClientOrderId", client_order_id.to_owned())];
        match self.signed(Method::DELETE, path, &params).await {
            Ok(answer) => wire::order(&answer, None).map_err(|e| malformed(path, &e)),
            // Not working any more (filled or cancelled meanwhile): the query says which.
            Err(VenueError::Refused { code: errors::UNKNOWN_ORDER_SENT, .. }) => {
                self.query_order(symbol, client_order_id).await
            }
            Err(e) => Err(e),
        }
    }

    async fn open_orders(&self, symbol: &str) -> Result<Vec<OrderState>, VenueError> {
        let path = self.paths().open_orders;
        let answer = self.signed(Method::GET, path, &[("symbol", symbol.to_owned())]).await?;
        wire::orders(&answer).map_err(|e| malformed(path, &e))
    }

    async fn book_ticker(&self, symbol: &str) -> Result<BookTicker, VenueError> {
        let path = self.paths().book_ticker;
        let answer = self.public(path, &[("symbol", symbol.to_owned())]).await?;
        let read_at = Timestamp(self.http.server_now_ms());
        wire::book_ticker(&answer, read_at).map_err(|e| malformed(path, &e))
    }

    async fn position(&self, symbol: &str, base_asset: &str) -> Result<VenuePosition, VenueError> {
        match self.market {
            VenueMarket::Futures => {
                let path = "/fapi/v2/positionRisk";
                let answer = self.signed(Method::GET, path, &[("symbol", symbol.to_owned())]).await?;
                wire::position(&answer, symbol).map_err(|e| malformed(path, &e))
            }
            VenueMarket::Spot => {
                let quantity = self
                    .balances()
                    .await?
                    .iter()
                    .filter(|b| b.asset == base_asset)
                    .map(|b| b.free + b.locked)
                    .sum::<Decimal>();
                Ok(VenuePosition { symbol: symbol.to_owned(), quantity, entry_price: Decimal::ZERO })
            }
        }
    }

    async fn balances(&self) -> Result<Vec<Balance>, VenueError> {
        match self.market {
            VenueMarket::Spot => {
                let path = "/api/v3/account";
                let answer = self.signed(Method::GET, path, &[("omitZeroBalances", "true".to_owned())]).await?;
                wire::spot_balances(&answer).map_err(|e| malformed(path, &e))
            }
            VenueMarket::Futures => {
                let path = "/fapi/v2/balance";
                let answer = self.signed(Method::GET, path, &[]).await?;
                wire::futures_balances(&answer).map_err(|e| malformed(path, &e))
            }
        }
    }
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn malformed(path: &str, error: &WireError) -> VenueError {
    VenueError::Malformed { venue: VENUE, endpoint: path.to_owned(), detail: error.to_string() }
}
