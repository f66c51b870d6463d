//! Public CLOB reads: one book, a batch of books, a market's trading parameters and its status.

use super::book::{ParsedBooks, parse_books};
use super::config::PolymarketConfig;
use super::http::{HttpClient, HttpError, endpoint};
use super::market_status::{MAX_MARKET_BODY_BYTES, MarketStatus, MarketStatusError};
use crate::market::{BookError, ClobMarketInfo, OrderBook};

/// A CLOB read that failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MarketDataError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Book(#[from] BookError),
    #[error(transparent)]
    Status(#[from] MarketStatusError),
    #[error("condition id {0:?} must be 0x followed by hex digits")]
    BadConditionId(String),
}

impl MarketDataError {
    /// The venue answered 404: no such book (a market that closed or resolved) or no such market.
    pub fn is_not_found(&self) -> bool {
        matches!(self, MarketDataError::Http(e) if e.status() == Some(404))
    }
}

/// Reads books and market parameters from the configured CLOB host.
#[derive(Debug, Clone)]
pub struct ClobMarketData {
    base_url: String,
    http: HttpClient,
}

impl ClobMarketData {
    pub fn new(config: &PolymarketConfig) -> Result<Self, MarketDataError> {
        Ok(Self::with_http(&config.clob_url, HttpClient::new(&config.http, config.price_feed.requests_per_sec)?))
    }

    pub fn with_http(base_url: &str, http: HttpClient) -> Self {
        Self { base_url: base_url.to_string(), http }
    }

    /// `GET /book?token_id=…`
    pub async fn book(&self, token_id: &str) -> Result<OrderBook, MarketDataError> {
        let mut url = endpoint(&self.base_url, "book")?;
        url.query_pairs_mut().append_pair("token_id", token_id);
        let body = self.http.get(&url).await?;
        Ok(OrderBook::from_json(&String::from_utf8_lossy(&body))?)
    }

    /// `POST /books` with `[{"token_id": …}, …]`; tokens without a book are simply absent, and a book
    /// that cannot be used is set aside with its reason.
    pub async fn books(&self, token_ids: &[String]) -> Result<ParsedBooks, MarketDataError> {
        let url = endpoint(&self.base_url, "books")?;
        let request: Vec<serde_json::Value> = token_ids.iter().map(|t| serde_json::json!({ "token_id": t })).collect();
        let body = self.http.send_retried(|| Ok(self.http.inner().post(url.clone()).json(&request))).await?;
        Ok(parse_books(&body)?)
    }

    /// `GET /clob-markets/{condition_id}`: tick size, minimum size, neg-risk and the fee curve.
    pub async fn market_info(&self, condition_id: &str) -> Result<ClobMarketInfo, MarketDataError> {
        Ok(self.market_info_with_text(condition_id).await?.1)
    }

    /// [`ClobMarketData::market_info`], with the answer's text as the venue wrote it (what a
    /// session file records).
    pub async fn market_info_with_text(&self, condition_id: &str) -> Result<(String, ClobMarketInfo), MarketDataError> {
        check_condition_id(condition_id)?;
        let url = endpoint(&self.base_url, &format!("clob-markets/{condition_id}"))?;
        let body = String::from_utf8_lossy(&self.http.get(&url).await?).into_owned();
        let info = ClobMarketInfo::from_json(&body)?;
        Ok((body, info))
    }

    /// `GET /markets/{condition_id}`: whether the market is closed, takes orders, and its winner
    /// once resolved. The answer is bounded to [`MAX_MARKET_BODY_BYTES`].
    pub async fn market_status(&self, condition_id: &str) -> Result<MarketStatus, MarketDataError> {
        check_condition_id(condition_id)?;
        let url = endpoint(&self.base_url, &format!("markets/{condition_id}"))?;
        let body = self.http.get_bounded(&url, MAX_MARKET_BODY_BYTES).await?;
        Ok(MarketStatus::from_json(&body, condition_id)?)
    }
}

/// A condition id goes into a URL path: only `0x` and hex digits (at most 64, a bytes32).
fn check_condition_id(condition_id: &str) -> Result<(), MarketDataError> {
    let hex = condition_id.strip_prefix("0x").unwrap_or_default();
    if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MarketDataError::BadConditionId(condition_id.to_string()));
    }
    Ok(())
}
