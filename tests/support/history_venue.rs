//! A local stand-in for the history `fetch-history` reads, on 127.0.0.1: the Data API's
//! `GET /v2/activity` in small cursor pages that overlap (each page repeats the previous page's last
//! row) and that ignore `end` (as a lenient server might), answering 429 with `Retry-After` when
//! told to; and the CLOB's `GET /prices-history`, `GET /clob-markets/{id}` and `GET /markets/{id}`
//! in the shapes of the captured fixtures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::stand_in::StandIn;

use super::venue::{fixture, market_status};

/// What the stand-in serves, changed by the test as it goes.
#[derive(Default)]
pub struct History {
    /// Activity rows of every wallet, in the v2 row shape.
    pub rows: Vec<Value>,
    /// Rows per activity page (the `limit` asked for when 0).
    pub page_rows: usize,
    /// How many of the next activity requests are answered 429 with `Retry-After: 1`.
    pub throttle: usize,
    /// Price points `(seconds, price)` by token.
    pub prices: HashMap<String, Vec<(i64, f64)>>,
    /// `GET /prices-history` for this token answers 500 while set.
    pub prices_down_for: Option<String>,
    /// The two tokens (`Yes`, `No`) of each market.
    pub tokens: HashMap<String, (String, String)>,
    /// `GET /markets/{id}` answers by condition id; an open market by default.
    pub markets: HashMap<String, Value>,
    /// Requests seen, with when: `GET /v2/activity 0xabc… cursor=…`, `429 /v2/activity`, …
    pub seen: Vec<(Instant, String)>,
}

impl History {
    pub fn count(&self, prefix: &str) -> usize {
        self.seen.iter().filter(|(_, r)| r.starts_with(prefix)).count()
    }
}

pub type Shared = Arc<Mutex<History>>;

async fn activity(State(state): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Response {
    let user = query.get("user").cloned().unwrap_or_default();
    let start: i64 = query.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: usize = query.get("limit").and_then(|s| s.parse().ok()).unwrap_or(100);
    let from: usize = query.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut state = state.lock().unwrap();
    if state.throttle > 0 {
        state.throttle -= 1;
        state.seen.push((whale_trader::clock::monotonic(), "429 /v2/activity".into()));
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], Json(json!({"error": "too many requests"})))
            .into_response();
    }
    state.seen.push((whale_trader::clock::monotonic(), format!("GET /v2/activity {user} start={start} cursor={from}")));
    let page = if state.page_rows == 0 { limit } else { state.page_rows.min(limit) };
    let mut rows: Vec<Value> = state
        .rows
        .iter()
        .filter(|r| r["proxy_wallet"] == user.as_str() && r["timestamp"].as_i64().unwrap_or(0) >= start)
        .cloned()
        .collect();
    rows.sort_by_key(|r| r["timestamp"].as_i64());
    let data: Vec<Value> = rows.iter().skip(from).take(page).cloned().collect();
    // The next page starts at this page's last row: every page boundary repeats a row.
    let next = from + page.saturating_sub(1).max(1);
    let more = from + page < rows.len();
    let cursor = if more { json!(next.to_string()) } else { Value::Null };
    Json(json!({"data": data, "pagination": {"limit": page, "offset": 0, "has_more": more, "next_cursor": cursor}}))
        .into_response()
}

async fn prices_history(State(state): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Response {
    let token = query.get("market").cloned().unwrap_or_default();
    let start: i64 = query.get("startTs").and_then(|s| s.parse().ok()).unwrap_or(0);
    let end: i64 = query.get("endTs").and_then(|s| s.parse().ok()).unwrap_or(i64::MAX);
    let mut state = state.lock().unwrap();
    state.seen.push((whale_trader::clock::monotonic(), format!("GET /prices-history {token}")));
    if state.prices_down_for.as_deref() == Some(token.as_str()) {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "internal"}))).into_response();
    }
    let history: Vec<Value> = state
        .prices
        .get(&token)
        .map(|points| {
            points.iter().filter(|(t, _)| (start..=end).contains(t)).map(|(t, p)| json!({"t": t, "p": p})).collect()
        })
        .unwrap_or_default();
    Json(json!({ "history": history })).into_response()
}

async fn clob_market(State(state): State<Shared>, Path(condition): Path<String>) -> Response {
    let mut state = state.lock().unwrap();
    state.seen.push((whale_trader::clock::monotonic(), format!("GET /clob-markets {condition}")));
    let Some((yes, no)) = state.tokens.get(&condition).cloned() else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "market not found"}))).into_response();
    };
    let mut info = fixture("clob_clob_markets_info.json")[0].clone();
    info["c"] = json!(condition);
    info["t"] = json!([{"t": yes, "o": "Yes"}, {"t": no, "o": "No"}]);
    info["mts"] = json!(0.01);
    info["nr"] = json!(false);
    // Pretty-printed, as a server may answer: the session must hold it on one line.
    let text = serde_json::to_string_pretty(&info).unwrap();
    ([("content-type", "application/json")], text).into_response()
}

async fn market(State(state): State<Shared>, Path(condition): Path<String>) -> Response {
    let mut state = state.lock().unwrap();
    state.seen.push((whale_trader::clock::monotonic(), format!("GET /markets {condition}")));
    if let Some(status) = state.markets.get(&condition) {
        return Json(status.clone()).into_response();
    }
    match state.tokens.get(&condition) {
        Some((yes, no)) => Json(market_status(&condition, yes, no, false, true, None)).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "market not found"}))).into_response(),
    }
}

/// The stand-in on its own thread and runtime (the test blocks on the binary).
pub struct HistoryVenue {
    state: Shared,
    server: StandIn,
}

impl HistoryVenue {
    pub fn start(history: History) -> Self {
        let state = Arc::new(Mutex::new(history));
        let app = axum::Router::new()
            .route("/v2/activity", get(activity))
            .route("/prices-history", get(prices_history))
            .route("/clob-markets/{condition}", get(clob_market))
            .route("/markets/{condition}", get(market))
            .with_state(state.clone());
        Self { state, server: StandIn::serve(app, "the stand-in") }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut History) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}
