//! A local stand-in for Polymarket on 127.0.0.1: the Data API (`GET /v2/activity`,
//! `GET /v2/positions`) and the CLOB (`GET /book`, `POST /books`, `GET /clob-markets/{id}`,
//! `GET /markets/{id}`, `POST /order`, `GET /balance-allowance`) in the shapes of the captured
//! fixtures (the documented schema for `/markets`), and Gamma (`GET /gamma/markets?condition_ids=…`,
//! the captured market object's shape), changed by the test as it goes; and the helpers that run
//! the daemon against it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::stand_in::StandIn;

use super::{Workspace, json_lines, signal, wait_until, wait_with_limit};

/// Sample whale "alpha" of `config/default.toml`; the two others have no activity here.
pub const WHALE: &str = "0xc6ef18652fcf021e6ec53aa6627746e629f41aca";
pub const TOKEN_A: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
pub const TOKEN_B: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222425";
pub const MARKET_A: &str = "0x2583be7162d1e223505d91f9702c67da402385491ef84be2ae0b25822528dca4";
pub const MARKET_B: &str = "0xdde06286a7b9464d344f410ab0b3d2ebc6469904e72c27fd982f65fdbf78768d";
/// The store of a paper run on the live feeds.
pub const PAPER_STORE: &str = "data/whale-trader.paper.polymarket.db";
pub const LIMIT: Duration = Duration::from_secs(30);

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// What the fake venue serves, changed by the test as it goes.
#[derive(Default)]
pub struct Venue {
    /// Activity rows of every wallet, in the v2 row shape.
    pub rows: Vec<Value>,
    /// Books by token, in the `/book` shape.
    pub books: HashMap<String, Value>,
    /// `POST /books` answers 503 while set (the price feed goes stale).
    pub books_down: bool,
    /// Requests seen, by route and token (e.g. `GET /book 7132…`).
    pub seen: Vec<String>,
    /// `POST /order` bodies and their `POLY_*` header names, in order.
    pub orders: Vec<(Value, Vec<String>)>,
    /// Tick size per condition id in `GET /clob-markets/{id}` (0.01 when absent).
    pub tick_sizes: HashMap<String, f64>,
    /// How many of the next `POST /order` requests the venue refuses (400, as for a balance error).
    pub refuse_orders: usize,
    /// The funder's collateral in 10⁻⁶ pUSD units for `GET /balance-allowance` (404 while `None`).
    /// A matched BUY pays its making amount from it, a matched SELL adds its taking amount.
    pub balance_units: Option<u64>,
    /// The funder's positions for `GET /v2/positions`, in the v2 row shape; matched orders move them.
    pub positions: Vec<Value>,
    /// Rows per `/v2/positions` page at most (the `limit` asked for when `None`).
    pub positions_page_size: Option<usize>,
    /// `GET /markets/{id}` answers by condition id (see [`market_status`]); a market without one is
    /// open and takes orders. `Value::Null` answers 404 `market not found`.
    pub markets: HashMap<String, Value>,
    /// While set, `GET /v2/activity` answers exactly these bytes (for every wallet), streamed in
    /// 64 KiB chunks without a `Content-Length`, as a runaway or hostile server would.
    pub activity_raw: Option<axum::body::Bytes>,
    /// Gamma market objects by condition id (see [`gamma_market`]); a market without one is not
    /// in the answer.
    pub gamma: HashMap<String, Value>,
    /// Gamma answers 503 while set.
    pub gamma_down: bool,
}

pub type Shared = Arc<Mutex<Venue>>;

/// A v2 activity row (the captured fixture's first row) for one whale trade.
pub fn trade_row(side: &str, token: &str, market: &str, secs: i64, size: f64, price: f64, tx: &str) -> Value {
    let mut row = fixture("data_api_v2_activity_user.json")["data"][0].clone();
    row["proxy_wallet"] = json!(WHALE);
    row["side"] = json!(side);
    row["token_id"] = json!(token);
    row["condition_id"] = json!(market);
    row["timestamp"] = json!(secs);
    row["size"] = json!(size);
    row["price"] = json!(price);
    row["usdc_size"] = json!(size * price);
    row["transaction_hash"] = json!(tx);
    row["outcome"] = json!("Yes");
    row
}

/// A Gamma market object (the captured fixture's shape: `outcomes` and `clobTokenIds` are JSON
/// arrays encoded as strings) naming `market` and its two tokens.
pub fn gamma_market(market: &str, question: &str, yes: &str, no: &str) -> Value {
    let mut object = fixture("gamma_market.json");
    object["conditionId"] = json!(market);
    object["question"] = json!(question);
    object["slug"] = json!("stand-in-market");
    object["endDate"] = json!("2030-01-01T00:00:00Z");
    object["outcomes"] = json!(r#"["Yes", "No"]"#);
    object["clobTokenIds"] = json!(format!(r#"["{yes}", "{no}"]"#));
    object
}

/// The funder wallet of `LIVE_SECRETS`: the `user` of our own positions.
pub const FUNDER: &str = "0x9999999999999999999999999999999999999999";

/// A v2 position row (the captured fixture's first row) of the funder.
pub fn position_row(token: &str, market: &str, size: f64, avg_price: f64) -> Value {
    let mut row = fixture("data_api_v2_positions_user.json")["data"][0].clone();
    row["proxy_wallet"] = json!(FUNDER);
    row["token_id"] = json!(token);
    row["condition_id"] = json!(market);
    row["current_size"] = json!(size);
    row["total_size"] = json!(size);
    row["avg_price"] = json!(avg_price);
    row["redeemable"] = json!(false);
    row
}

/// Moves the funder's position in `token` by a matched order (shares and USD in 10⁻⁶ units).
fn track_fill(venue: &mut Venue, token: &str, buy: bool, shares_units: u64, usd_units: u64) {
    let shares = shares_units as f64 / 1e6;
    if let Some(balance) = venue.balance_units.as_mut() {
        *balance = if buy { balance.saturating_sub(usd_units) } else { *balance + usd_units };
    }
    let market = if token == TOKEN_A { MARKET_A } else { MARKET_B };
    match venue.positions.iter_mut().find(|r| r["token_id"] == token) {
        Some(row) => {
            let held = row["current_size"].as_f64().unwrap_or(0.0);
            let avg = row["avg_price"].as_f64().unwrap_or(0.0);
            let size = if buy { held + shares } else { (held - shares).max(0.0) };
            let avg = if buy && size > 0.0 { (held * avg + usd_units as f64 / 1e6) / size } else { avg };
            row["current_size"] = json!((size * 1e6).round() / 1e6);
            row["avg_price"] = json!(avg);
        }
        None if buy => venue.positions.push(position_row(token, market, shares, usd_units as f64 / 1e6 / shares)),
        None => {}
    }
    venue.positions.retain(|r| r["current_size"].as_f64().unwrap_or(0.0) > 0.0);
}

/// The captured `/book` with our token and a deep, stable market around 0.50 (best levels last).
pub fn book(token: &str, market: &str) -> Value {
    let mut book = fixture("clob_book.json");
    book["asset_id"] = json!(token);
    book["market"] = json!(market);
    book["bids"] = json!([{"price": "0.48", "size": "1000"}, {"price": "0.49", "size": "1000"}]);
    book["asks"] =
        json!([{"price": "0.52", "size": "1000"}, {"price": "0.51", "size": "1000"}, {"price": "0.5", "size": "1000"}]);
    book["tick_size"] = json!("0.01");
    book["neg_risk"] = json!(false);
    book["timestamp"] = json!(format!("{}", now_secs() * 1000));
    book
}

/// A `/book` with the given levels (best first on each side; the wire lists the best last) and tick.
pub fn book_with(token: &str, market: &str, bids: &[(&str, &str)], asks: &[(&str, &str)], tick: &str) -> Value {
    let side = |levels: &[(&str, &str)]| -> Value {
        levels.iter().rev().map(|(price, size)| json!({"price": price, "size": size})).collect()
    };
    let mut book = book(token, market);
    book["bids"] = side(bids);
    book["asks"] = side(asks);
    book["tick_size"] = json!(tick);
    book
}

/// The `GET /markets/{condition_id}` answer (the documented schema, as in the fixture) of a binary
/// market whose outcomes are `yes` and `no`, with the flags given; `winner` names the winning token.
/// An open market (`closed` false) ends thirty days from now.
pub fn market_status(market: &str, yes: &str, no: &str, closed: bool, accepting: bool, winner: Option<&str>) -> Value {
    let mut status = fixture("clob_market_resolved_docs_shape.json");
    status["condition_id"] = json!(market);
    status["closed"] = json!(closed);
    status["accepting_orders"] = json!(accepting);
    // An open market ends a month from now (the fixture's date has passed: its market resolved), so
    // the copy rules' resolution-proximity guard lets its entries through.
    if !closed {
        let month_ahead = chrono::DateTime::from_timestamp(now_secs() + 30 * 86_400, 0).unwrap_or_default();
        status["end_date_iso"] = json!(month_ahead.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    let price = |token: &str| match winner {
        Some(w) if w == token => json!(1),
        Some(_) => json!(0),
        None => json!("0.5"),
    };
    status["tokens"] = json!([
        {"token_id": yes, "outcome": "Yes", "price": price(yes), "winner": winner == Some(yes)},
        {"token_id": no, "outcome": "No", "price": price(no), "winner": winner == Some(no)},
    ]);
    status
}

/// The other outcome of the markets the stand-in serves (`/clob-markets` lists it as `No`).
pub const TOKEN_NO: &str = "1";

pub fn now_secs() -> i64 {
    use whale_trader::clock::{Clock, SystemClock};
    SystemClock.now().millis() / 1000
}

async fn activity(
    State(venue): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let user = query.get("user").cloned().unwrap_or_default();
    let start: i64 = query.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut venue = venue.lock().unwrap();
    venue.seen.push(format!("GET /v2/activity {user}"));
    if let Some(raw) = venue.activity_raw.clone() {
        const CHUNK: usize = 64 * 1024;
        let chunks: Vec<Result<axum::body::Bytes, std::convert::Infallible>> =
            (0..raw.len()).step_by(CHUNK).map(|at| Ok(raw.slice(at..raw.len().min(at + CHUNK)))).collect();
        return axum::body::Body::from_stream(futures::stream::iter(chunks)).into_response();
    }
    let mut rows: Vec<Value> = venue
        .rows
        .iter()
        .filter(|r| r["proxy_wallet"] == user.as_str() && r["timestamp"].as_i64().unwrap_or(0) >= start)
        .cloned()
        .collect();
    rows.sort_by_key(|r| r["timestamp"].as_i64());
    Json(json!({"data": rows, "pagination": {"limit": 500, "offset": 0, "has_more": false, "next_cursor": null}}))
        .into_response()
}

async fn one_book(
    State(venue): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let token = query.get("token_id").cloned().unwrap_or_default();
    let mut venue = venue.lock().unwrap();
    venue.seen.push(format!("GET /book {token}"));
    match venue.books.get(&token) {
        Some(book) => (StatusCode::OK, Json(book.clone())),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "No orderbook exists for the requested token id"}))),
    }
}

async fn many_books(State(venue): State<Shared>, Json(request): Json<Vec<Value>>) -> (StatusCode, Json<Value>) {
    let mut venue = venue.lock().unwrap();
    venue.seen.push("POST /books".into());
    if venue.books_down {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "unavailable"})));
    }
    let books: Vec<Value> =
        request.iter().filter_map(|r| r["token_id"].as_str()).filter_map(|t| venue.books.get(t).cloned()).collect();
    (StatusCode::OK, Json(Value::Array(books)))
}

async fn market_info(State(venue): State<Shared>, Path(condition): Path<String>) -> Json<Value> {
    let (token, _) = if condition == MARKET_A { (TOKEN_A, ()) } else { (TOKEN_B, ()) };
    venue.lock().unwrap().seen.push(format!("GET /clob-markets {condition}"));
    let mut info = fixture("clob_clob_markets_info.json")[0].clone();
    info["c"] = json!(condition);
    info["t"] = json!([{"t": token, "o": "Yes"}, {"t": "1", "o": "No"}]);
    let tick = venue.lock().unwrap().tick_sizes.get(&condition).copied().unwrap_or(0.01);
    info["mts"] = json!(tick);
    info["nr"] = json!(false);
    Json(info)
}

async fn market(State(venue): State<Shared>, Path(condition): Path<String>) -> (StatusCode, Json<Value>) {
    let mut venue = venue.lock().unwrap();
    venue.seen.push(format!("GET /markets {condition}"));
    let token = if condition == MARKET_A { TOKEN_A } else { TOKEN_B };
    match venue.markets.get(&condition) {
        Some(Value::Null) => (StatusCode::NOT_FOUND, Json(json!({"error": "market not found"}))),
        Some(status) => (StatusCode::OK, Json(status.clone())),
        None => (StatusCode::OK, Json(market_status(&condition, token, TOKEN_NO, false, true, None))),
    }
}

/// Gamma `GET /markets?condition_ids=…&condition_ids=…`: the known markets of those asked for.
async fn gamma_markets(State(venue): State<Shared>, RawQuery(query): RawQuery) -> (StatusCode, Json<Value>) {
    let query = query.unwrap_or_default();
    let asked: Vec<String> = reqwest::Url::parse(&format!("http://gamma/?{query}"))
        .map(|url| url.query_pairs().filter(|(k, _)| k == "condition_ids").map(|(_, v)| v.into_owned()).collect())
        .unwrap_or_default();
    let mut venue = venue.lock().unwrap();
    venue.seen.push(format!("GET /gamma/markets {}", asked.join(",")));
    if venue.gamma_down {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "unavailable"})));
    }
    let found: Vec<Value> = asked.iter().filter_map(|m| venue.gamma.get(m).cloned()).collect();
    (StatusCode::OK, Json(Value::Array(found)))
}

/// `POST /order`: every order not refused matches in full, BUYs at 0.50 and SELLs at 0.49 (the served book's
/// best levels), answered like the docs' `matched` example (amounts in 10⁻⁶ units).
async fn post_order(
    State(venue): State<Shared>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let poly: Vec<String> =
        headers.keys().map(|k| k.as_str().to_ascii_uppercase()).filter(|k| k.starts_with("POLY_")).collect();
    let order = &body["order"];
    let units = |field: &str| order[field].as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let (making, taking) = match order["side"].as_str() {
        Some("BUY") => (units("takerAmount") / 2, units("takerAmount")),
        _ => (units("makerAmount"), units("makerAmount") * 49 / 100),
    };
    let mut venue = venue.lock().unwrap();
    venue.orders.push((body.clone(), poly));
    if venue.refuse_orders > 0 {
        venue.refuse_orders -= 1;
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "not enough balance / allowance"})));
    }
    let token = order["tokenId"].as_str().unwrap_or_default().to_string();
    match order["side"].as_str() {
        Some("BUY") => track_fill(&mut venue, &token, true, taking, making),
        _ => track_fill(&mut venue, &token, false, making, taking),
    }
    (
        StatusCode::OK,
        Json(json!({
            "success": true, "orderID": "", "status": "matched",
            "makingAmount": making.to_string(), "takingAmount": taking.to_string(),
            "transactionsHashes": [], "tradeIDs": [], "errorMsg": ""
        })),
    )
}

/// `GET /balance-allowance?asset_type=COLLATERAL&signature_type=N` (L2): the funder's pUSD in
/// 10⁻⁶ units, as the CLOB states it; 401 without the `POLY_*` headers.
async fn balance_allowance(
    State(venue): State<Shared>,
    headers: axum::http::HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let mut venue = venue.lock().unwrap();
    venue.seen.push(format!("GET /balance-allowance {}", query.get("asset_type").cloned().unwrap_or_default()));
    let signed = ["poly_address", "poly_signature", "poly_timestamp", "poly_api_key", "poly_passphrase"]
        .iter()
        .all(|h| headers.contains_key(*h));
    if !signed || query.get("asset_type").map(String::as_str) != Some("COLLATERAL") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "Unauthorized/Invalid api key"})));
    }
    match venue.balance_units {
        Some(units) => (
            StatusCode::OK,
            Json(
                json!({"balance": units.to_string(), "allowances": {"0xE111180000d2663C0091e4f400237545B87B996B": "0"}}),
            ),
        ),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))),
    }
}

/// `GET /v2/positions?user=…&limit=…[&cursor=…]`: the funder's positions, cursor pages.
async fn positions(State(venue): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Json<Value> {
    let user = query.get("user").cloned().unwrap_or_default();
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let from: usize = query.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut venue = venue.lock().unwrap();
    venue.seen.push(format!("GET /v2/positions {user}"));
    let page = venue.positions_page_size.unwrap_or(limit).min(limit).max(1);
    let rows: Vec<Value> = venue.positions.iter().filter(|r| r["proxy_wallet"] == user.as_str()).cloned().collect();
    let data: Vec<Value> = rows.iter().skip(from).take(page).cloned().collect();
    let more = from + page < rows.len();
    let cursor = if more { json!((from + page).to_string()) } else { Value::Null };
    Json(json!({"data": data, "pagination": {"limit": page, "offset": 0, "has_more": more, "next_cursor": cursor}}))
}

/// The local Data API + CLOB, on its own thread and runtime (the test blocks on the daemon).
pub struct LocalVenue {
    state: Shared,
    server: StandIn,
}

impl LocalVenue {
    pub fn start() -> Self {
        let state = Shared::default();
        let app = axum::Router::new()
            .route("/v2/activity", get(activity))
            .route("/book", get(one_book))
            .route("/books", post(many_books))
            .route("/clob-markets/{condition}", get(market_info))
            .route("/markets/{condition}", get(market))
            .route("/gamma/markets", get(gamma_markets))
            .route("/order", post(post_order))
            .route("/balance-allowance", get(balance_allowance))
            .route("/v2/positions", get(positions))
            .with_state(state.clone());
        Self { state, server: StandIn::serve(app, "the local venue") }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Venue) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

pub fn daemon_env(venue: &LocalVenue) -> Vec<(&'static str, String)> {
    vec![
        ("WHALE_TRADER__FEED__SOURCE", "polymarket".into()),
        ("WHALE_TRADER__POLYMARKET__DATA_API_URL", venue.url()),
        ("WHALE_TRADER__POLYMARKET__CLOB_URL", venue.url()),
        ("WHALE_TRADER__POLYMARKET__GAMMA_URL", format!("{}/gamma", venue.url())),
        ("WHALE_TRADER__POLYMARKET__WHALE_FEED__POLL_INTERVAL_MS", "200".into()),
        ("WHALE_TRADER__POLYMARKET__PRICE_FEED__POLL_INTERVAL_MS", "200".into()),
        ("WHALE_TRADER__POLYMARKET__PRICE_FEED__STALE_AFTER_SECS", "2".into()),
        ("WHALE_TRADER__POLYMARKET__HTTP__REQUEST_TIMEOUT_MS", "2000".into()),
        ("WHALE_TRADER__POLYMARKET__HTTP__MAX_ATTEMPTS", "2".into()),
        ("WHALE_TRADER__POLYMARKET__HTTP__BASE_BACKOFF_MS", "20".into()),
        ("WHALE_TRADER__POLYMARKET__HTTP__MAX_BACKOFF_MS", "50".into()),
    ]
}

pub fn start_daemon(ws: &Workspace, venue: &LocalVenue) -> std::process::Child {
    start_daemon_with(ws, venue, &[])
}

/// The daemon in paper mode against `venue`, with `extra` environment on top; returns once it runs.
pub fn start_daemon_with(ws: &Workspace, venue: &LocalVenue, extra: &[(&str, &str)]) -> std::process::Child {
    let env = daemon_env(venue);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).chain(extra.iter().copied()).collect();
    let child = ws.spawn_daemon(&env);
    wait_ready(ws, "paper");
    child
}

pub fn wait_ready(ws: &Workspace, mode: &str) {
    let ready = wait_until(LIMIT, || ws.read("logs/main.log").contains(&format!("running in {mode} mode")));
    assert!(ready, "the daemon did not start; logs:\n{}{}", ws.all_logs(), ws.read("console.err"));
}

pub fn stop_daemon(ws: &Workspace, mut child: std::process::Child) {
    signal(&child, "TERM");
    let (status, _) = wait_with_limit(&mut child, Duration::from_secs(15));
    let status = status.expect("the daemon did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "logs:\n{}", ws.all_logs());
}

/// The audit records of one `event`, in order.
pub fn records(ws: &Workspace, event: &str) -> Vec<Value> {
    audit(ws).into_iter().filter(|l| l["event"] == event).collect()
}

pub fn audit(ws: &Workspace) -> Vec<Value> {
    json_lines(&ws.read("logs/trade_audit.log"))
}

pub fn count(ws: &Workspace, event: &str, token: &str) -> usize {
    audit(ws).iter().filter(|l| l["event"] == event && l["token_id"] == token).count()
}

pub fn has_state_change(ws: &Workspace, to: &str, reason: &str) -> bool {
    audit(ws).iter().any(|l| l["event"] == "trading_state_changed" && l["to"] == to && l["reason"] == reason)
}

pub fn http_get(port: u16, path: &str) -> String {
    http_get_with_token(port, path, None)
}

/// `http_get` with `Authorization: Bearer <token>` (`/status` needs it).
pub fn http_get_with_token(port: u16, path: &str, token: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the API");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

pub fn sqlite_count(ws: &Workspace, sql: &str) -> i64 {
    let path = ws.path().join(PAPER_STORE);
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// The daemon in live mode against `venue` (every live condition met, made-up credentials of a
/// Safe wallet), with `extra` environment on top; returns once it runs.
#[cfg(feature = "live")]
pub fn start_live_daemon(ws: &Workspace, venue: &LocalVenue, extra: &[(&str, &str)]) -> std::process::Child {
    let stdout = std::fs::File::create(ws.path().join("console.out")).unwrap();
    let stderr = std::fs::File::create(ws.path().join("console.err")).unwrap();
    let mut command = ws.command(&["run", "--live"]);
    command
        .envs(daemon_env(venue))
        .envs(LIVE_SECRETS)
        .env("WHALE_TRADER__DAEMON__MODE", "live")
        .env("WHALE_TRADER__POLYMARKET__CREDENTIALS__SIGNATURE_TYPE", "2")
        .env("WHALE_TRADER_LIVE_CONFIRM", "yes")
        .envs(extra.iter().copied())
        .stdout(stdout)
        .stderr(stderr);
    let daemon = command.spawn().expect("spawn the daemon");
    wait_ready(ws, "live");
    daemon
}

// Hardhat's well-known first test key (never funded on Polygon) and made-up API credentials.
#[cfg(feature = "live")]
pub const LIVE_SECRETS: [(&str, &str); 5] = [
    ("WHALE_TRADER__POLYMARKET__CREDENTIALS__API_KEY", "f4f247b7-4ac7-ff29-a152-04fda0a8755a"),
    ("WHALE_TRADER__POLYMARKET__CREDENTIALS__API_SECRET", "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr"),
    ("WHALE_TRADER__POLYMARKET__CREDENTIALS__API_PASSPHRASE", "passphrase-that-must-never-leak"),
    (
        "WHALE_TRADER__POLYMARKET__CREDENTIALS__PRIVATE_KEY",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    ("WHALE_TRADER__POLYMARKET__CREDENTIALS__FUNDER_ADDRESS", "0x9999999999999999999999999999999999999999"),
];
