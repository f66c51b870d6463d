//! The L2-authenticated CLOB client for live trading: post an order, cancel it, read its status,
//! list open orders and trades. Always the base URL from config.
//!
//! `POST /order` is sent exactly once (never retried: a retry after a lost response could place a
//! second order — the engine reconciles through order status instead). Reads and cancels are
//! idempotent and go through the retry policy. Each attempt is signed afresh with the current time.

use std::sync::Arc;

use reqwest::Method;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::auth::{AuthError, L2Credentials, l2_headers};
use super::config::PolymarketConfig;
use super::exact_decimal;
use super::http::{HttpClient, HttpError, endpoint};
use super::order::PostOrderRequest;
use crate::clock::Clock;

/// The CLOB's last page marker (`base64("-1")`).
const TERMINAL_CURSOR: &str = "LTE=";
/// Pages read at most when listing orders or trades.
const MAX_LIST_PAGES: usize = 50;

/// A trading call that failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TradingError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The venue answered with an error message (`{"error": …}`), e.g. a tick-size violation.
    #[error("the CLOB refused the request ({status}): {message}")]
    Rejected { status: u16, message: String, code: Option<String> },
    #[error("the CLOB answer does not parse: {0}")]
    Parse(String),
    #[error("order id {0:?} must be 0x followed by hex digits")]
    BadOrderId(String),
}

/// `POST /order` answer. Amounts may be `""`; hashes and trade ids may be absent (async pipeline).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostOrderResponse {
    pub success: bool,
    #[serde(rename = "orderID", default)]
    pub order_id: String,
    /// `live`, `matched`, `delayed`, `unmatched`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub making_amount: String,
    #[serde(default)]
    pub taking_amount: String,
    #[serde(default)]
    pub transactions_hashes: Vec<String>,
    #[serde(rename = "tradeIDs", default)]
    pub trade_ids: Vec<String>,
    #[serde(default)]
    pub error_msg: String,
}

/// `DELETE /order` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CancelResponse {
    #[serde(default)]
    pub canceled: Vec<String>,
    #[serde(default, alias = "notCanceled")]
    pub not_canceled: std::collections::BTreeMap<String, String>,
}

/// An order as `GET /data/order/{id}` and `GET /data/orders` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OpenOrder {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub market: String,
    #[serde(default)]
    pub asset_id: String,
    #[serde(default)]
    pub side: String,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub original_size: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub size_matched: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub price: Decimal,
    #[serde(default)]
    pub associate_trades: Option<Vec<String>>,
    #[serde(default)]
    pub order_type: String,
}

/// A trade of ours, from `GET /data/trades`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClobTrade {
    pub id: String,
    #[serde(default)]
    pub taker_order_id: String,
    #[serde(default)]
    pub market: String,
    #[serde(default)]
    pub asset_id: String,
    #[serde(default)]
    pub side: String,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub size: Decimal,
    #[serde(deserialize_with = "exact_decimal::required")]
    pub price: Decimal,
    /// `MATCHED → MINED → CONFIRMED`, or `RETRYING` / `FAILED`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub match_time: String,
    #[serde(default)]
    pub transaction_hash: String,
    #[serde(default)]
    pub trader_side: String,
}

/// Filters for open orders and trades (the CLOB has no client-order-id filter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Condition id.
    pub market: Option<String>,
    /// Token id.
    pub asset_id: Option<String>,
    /// Only `GET /data/trades`: one trade id.
    pub id: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    next_cursor: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    code: Option<String>,
}

/// The live CLOB client.
#[derive(Clone)]
pub struct ClobTradingClient {
    base_url: String,
    http: HttpClient,
    credentials: L2Credentials,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ClobTradingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClobTradingClient").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl ClobTradingClient {
    /// A client for `config.clob_url`, with trading limits far below the documented ones.
    pub fn new(
        config: &PolymarketConfig,
        credentials: L2Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TradingError> {
        credentials.validate()?;
        // POST /order allows 3,500 per 10 s; a copy trader needs a handful.
        let http = HttpClient::new(&config.http, 20)?;
        Ok(Self { base_url: config.clob_url.clone(), http, credentials, clock })
    }

    /// `POST /order`, once. A `success: false` answer or an error body is a [`TradingError::Rejected`].
    pub async fn post_order(&self, order: &PostOrderRequest) -> Result<PostOrderResponse, TradingError> {
        let body = serde_json::to_string(order).map_err(|e| TradingError::Parse(e.to_string()))?;
        let request = self.signed(Method::POST, "order", &[], Some(body))?;
        let answer = self.http.send_once(request).await.map_err(venue_error)?;
        let response: PostOrderResponse = parse(&answer)?;
        if !response.success {
            return Err(TradingError::Rejected { status: 200, message: response.error_msg, code: None });
        }
        Ok(response)
    }

    /// `DELETE /order {"orderID": …}`.
    pub async fn cancel_order(&self, order_id: &str) -> Result<CancelResponse, TradingError> {
        check_order_id(order_id)?;
        let body = serde_json::json!({ "orderID": order_id }).to_string();
        let answer = self.send_signed_retried(Method::DELETE, "order", &[], Some(body)).await?;
        parse(&answer)
    }

    /// `GET /data/order/{id}`.
    pub async fn order_status(&self, order_id: &str) -> Result<OpenOrder, TradingError> {
        check_order_id(order_id)?;
        let answer = self.send_signed_retried(Method::GET, &format!("data/order/{order_id}"), &[], None).await?;
        parse(&answer)
    }

    /// The wallet's collateral (pUSD): `GET /balance-allowance?asset_type=COLLATERAL&signature_type=N`.
    /// The venue states it as a 6-decimal fixed-point integer string.
    pub async fn collateral_balance(&self, signature_type: u8) -> Result<Decimal, TradingError> {
        let query = [("asset_type", "COLLATERAL".to_string()), ("signature_type", signature_type.to_string())];
        let answer = self.send_signed_retried(Method::GET, "balance-allowance", &query, None).await?;
        super::wallet::parse_balance(&answer).map_err(|e| TradingError::Parse(e.to_string()))
    }

    /// The same client, refusing answers longer than `bytes`.
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.http = self.http.with_max_body(bytes);
        self
    }

    /// `GET /data/orders`, every page.
    pub async fn open_orders(&self, filter: &ListFilter) -> Result<Vec<OpenOrder>, TradingError> {
        self.list("data/orders", filter).await
    }

    /// `GET /data/trades`, every page.
    pub async fn trades(&self, filter: &ListFilter) -> Result<Vec<ClobTrade>, TradingError> {
        self.list("data/trades", filter).await
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        filter: &ListFilter,
    ) -> Result<Vec<T>, TradingError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut query: Vec<(&str, String)> = Vec::new();
            for (key, value) in [("market", &filter.market), ("asset_id", &filter.asset_id), ("id", &filter.id)] {
                if let Some(v) = value {
                    query.push((key, v.clone()));
                }
            }
            if let Some(c) = &cursor {
                query.push(("next_cursor", c.clone()));
            }
            let answer = self.send_signed_retried(Method::GET, path, &query, None).await?;
            let page: Page<T> = parse(&answer)?;
            all.extend(page.data);
            if page.next_cursor.is_empty() || page.next_cursor == TERMINAL_CURSOR {
                break;
            }
            cursor = Some(page.next_cursor);
        }
        Ok(all)
    }

    async fn send_signed_retried(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<String>,
    ) -> Result<Vec<u8>, TradingError> {
        // Sign once up front so that credential problems surface as such, not as HTTP errors.
        let _ = self.signed(method.clone(), path, query, body.clone())?;
        let answer = self
            .http
            .send_retried(|| {
                self.signed(method.clone(), path, query, body.clone())
                    .map_err(|e| HttpError::Request { detail: e.to_string() })
            })
            .await;
        answer.map_err(venue_error)
    }

    /// Builds a request with the exact body bytes it signs.
    fn signed(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<String>,
    ) -> Result<reqwest::RequestBuilder, TradingError> {
        let mut url = endpoint(&self.base_url, path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let timestamp_secs = self.clock.now().millis().div_euclid(1000);
        let body_text = body.unwrap_or_default();
        let headers = l2_headers(&self.credentials, timestamp_secs, method.as_str(), url.path(), &body_text)?;
        let mut request = self.http.inner().request(method, url).headers(headers);
        if !body_text.is_empty() {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body_text);
        }
        Ok(request)
    }
}

fn check_order_id(order_id: &str) -> Result<(), TradingError> {
    let hex = order_id.strip_prefix("0x").unwrap_or_default();
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TradingError::BadOrderId(order_id.to_string()));
    }
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, TradingError> {
    serde_json::from_slice(body).map_err(|e| TradingError::Parse(e.to_string()))
}

/// Turns the venue's `{"error": …}` answers into [`TradingError::Rejected`].
fn venue_error(error: HttpError) -> TradingError {
    match &error {
        HttpError::Client { status, body, .. } | HttpError::Server { status, body, .. } => {
            match serde_json::from_str::<ErrorBody>(body) {
                Ok(parsed) => TradingError::Rejected { status: *status, message: parsed.error, code: parsed.code },
                Err(_) => TradingError::Http(error),
            }
        }
        _ => TradingError::Http(error),
    }
}
