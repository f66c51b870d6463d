//! The daemon on the live Polymarket feeds, end to end: the real binary in paper mode with
//! `feed.source = "polymarket"`, against a local server on 127.0.0.1 that speaks the Data API
//! (`GET /v2/activity`) and the CLOB (`GET /book`, `POST /books`, `GET /clob-markets/{id}`) in the
//! shapes of the captured fixtures. A whale BUY is copied, a stale price feed moves trading to
//! `reducing` and back, the whale's SELL exits, SIGTERM stops with exit 0; a restart against the
//! same store copies the trade made while it was down and nothing twice.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};
use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

/// Sample whale "alpha" of `config/default.toml`; the two others have no activity here.
const WHALE: &str = "0xc6ef18652fcf021e6ec53aa6627746e629f41aca";
const TOKEN_A: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const TOKEN_B: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222425";
const MARKET_A: &str = "0x2583be7162d1e223505d91f9702c67da402385491ef84be2ae0b25822528dca4";
const MARKET_B: &str = "0xdde06286a7b9464d344f410ab0b3d2ebc6469904e72c27fd982f65fdbf78768d";
const LIMIT: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// What the fake venue serves, changed by the test as it goes.
#[derive(Default)]
struct Venue {
    /// Activity rows of every wallet, in the v2 row shape.
    rows: Vec<Value>,
    /// Books by token, in the `/book` shape.
    books: HashMap<String, Value>,
    /// `POST /books` answers 503 while set (the price feed goes stale).
    books_down: bool,
    /// Requests seen, by route and token (e.g. `GET /book 7132…`).
    seen: Vec<String>,
    /// `POST /order` bodies and their `POLY_*` header names, in order.
    orders: Vec<(Value, Vec<String>)>,
}

type Shared = Arc<Mutex<Venue>>;

/// A v2 activity row (the captured fixture's first row) for one whale trade.
fn trade_row(side: &str, token: &str, market: &str, secs: i64, size: f64, price: f64, tx: &str) -> Value {
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

/// The captured `/book` with our token and a deep, stable market around 0.50 (best levels last).
fn book(token: &str, market: &str) -> Value {
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

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn activity(State(venue): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Json<Value> {
    let user = query.get("user").cloned().unwrap_or_default();
    let start: i64 = query.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut venue = venue.lock().unwrap();
    venue.seen.push(format!("GET /v2/activity {user}"));
    let mut rows: Vec<Value> = venue
        .rows
        .iter()
        .filter(|r| r["proxy_wallet"] == user.as_str() && r["timestamp"].as_i64().unwrap_or(0) >= start)
        .cloned()
        .collect();
    rows.sort_by_key(|r| r["timestamp"].as_i64());
    Json(json!({"data": rows, "pagination": {"limit": 500, "offset": 0, "has_more": false, "next_cursor": null}}))
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
    info["mts"] = json!(0.01);
    info["nr"] = json!(false);
    Json(info)
}

/// `POST /order`: every order matches in full, BUYs at 0.50 and SELLs at 0.49 (the served book's
/// best levels), answered like the docs' `matched` example (amounts in 10⁻⁶ units).
async fn post_order(
    State(venue): State<Shared>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let poly: Vec<String> =
        headers.keys().map(|k| k.as_str().to_ascii_uppercase()).filter(|k| k.starts_with("POLY_")).collect();
    let order = &body["order"];
    let units = |field: &str| order[field].as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let (making, taking) = match order["side"].as_str() {
        Some("BUY") => (units("takerAmount") / 2, units("takerAmount")),
        _ => (units("makerAmount"), units("makerAmount") * 49 / 100),
    };
    venue.lock().unwrap().orders.push((body.clone(), poly));
    Json(json!({
        "success": true, "orderID": "", "status": "matched",
        "makingAmount": making.to_string(), "takingAmount": taking.to_string(),
        "transactionsHashes": [], "tradeIDs": [], "errorMsg": ""
    }))
}

/// The local Data API + CLOB, on its own thread and runtime (the test blocks on the daemon).
struct LocalVenue {
    state: Shared,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalVenue {
    fn start() -> Self {
        let state = Shared::default();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .route("/v2/activity", get(activity))
            .route("/book", get(one_book))
            .route("/books", post(many_books))
            .route("/clob-markets/{condition}", get(market_info))
            .route("/order", post(post_order))
            .with_state(state.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(listener.local_addr().unwrap().port()).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let port = port_rx.recv_timeout(Duration::from_secs(10)).expect("the local venue listens");
        Self { state, port, stop: Some(stop_tx), thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Venue) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

impl Drop for LocalVenue {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn daemon_env(venue: &LocalVenue) -> Vec<(&'static str, String)> {
    vec![
        ("WHALE_TRADER__FEED__SOURCE", "polymarket".into()),
        ("WHALE_TRADER__POLYMARKET__DATA_API_URL", venue.url()),
        ("WHALE_TRADER__POLYMARKET__CLOB_URL", venue.url()),
        ("WHALE_TRADER__POLYMARKET__WHALE_FEED__POLL_INTERVAL_MS", "200".into()),
        ("WHALE_TRADER__POLYMARKET__PRICE_FEED__POLL_INTERVAL_MS", "200".into()),
        ("WHALE_TRADER__POLYMARKET__PRICE_FEED__STALE_AFTER_SECS", "2".into()),
        ("WHALE_TRADER__POLYMARKET__HTTP__REQUEST_TIMEOUT_MS", "2000".into()),
        ("WHALE_TRADER__POLYMARKET__HTTP__MAX_ATTEMPTS", "2".into()),
        ("WHALE_TRADER__POLYMARKET__HTTP__BASE_BACKOFF_MS", "20".into()),
        ("WHALE_TRADER__POLYMARKET__HTTP__MAX_BACKOFF_MS", "50".into()),
    ]
}

fn start_daemon(ws: &Workspace, venue: &LocalVenue) -> std::process::Child {
    let env = daemon_env(venue);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let child = ws.spawn_daemon(&env);
    wait_ready(ws, "paper");
    child
}

fn wait_ready(ws: &Workspace, mode: &str) {
    let ready = wait_until(LIMIT, || ws.read("logs/main.log").contains(&format!("running in {mode} mode")));
    assert!(ready, "the daemon did not start; logs:\n{}{}", ws.all_logs(), ws.read("console.err"));
}

fn stop_daemon(ws: &Workspace, mut child: std::process::Child) {
    signal(&child, "TERM");
    let (status, _) = wait_with_limit(&mut child, Duration::from_secs(15));
    let status = status.expect("the daemon did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "logs:\n{}", ws.all_logs());
}

fn audit(ws: &Workspace) -> Vec<Value> {
    json_lines(&ws.read("logs/trade_audit.log"))
}

fn count(ws: &Workspace, event: &str, token: &str) -> usize {
    audit(ws).iter().filter(|l| l["event"] == event && l["token_id"] == token).count()
}

fn has_state_change(ws: &Workspace, to: &str, reason: &str) -> bool {
    audit(ws).iter().any(|l| l["event"] == "trading_state_changed" && l["to"] == to && l["reason"] == reason)
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the API");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

fn sqlite_count(ws: &Workspace, sql: &str) -> i64 {
    let path = ws.path().join("data/whale-trader.paper.db");
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn whale_trades_are_copied_and_exited_from_the_live_feeds_and_a_restart_copies_nothing_twice() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
        v.books.insert(TOKEN_B.into(), book(TOKEN_B, MARKET_B));
        // Before start-up: held back (copy.copy_trades_before_start = false), never copied.
        v.rows.push(trade_row("BUY", TOKEN_B, MARKET_B, now_secs() - 60, 400.0, 0.5, "0x01"));
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon(&ws, &venue);

    // A whale BUY after start-up, on a token nobody watched: its book is fetched first, then copied.
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1")));
    let copied = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_A) == 1);
    assert!(copied, "no trade_opened for the whale's BUY; audit:\n{}", ws.read("logs/trade_audit.log"));
    let opened = audit(&ws).into_iter().find(|l| l["event"] == "trade_opened").unwrap();
    assert_eq!((opened["whale_address"].as_str(), opened["mode"].as_str()), (Some(WHALE), Some("paper")));
    let price: f64 = opened["price"].as_str().and_then(|p| p.parse().ok()).unwrap_or_default();
    assert_eq!(price, 0.5, "filled at the best ask of the served book: {opened}");
    let seen = venue.with(|v| v.seen.clone());
    assert!(seen.iter().any(|s| s == &format!("GET /book {TOKEN_A}")), "the book was not fetched: {seen:?}");
    assert!(seen.iter().any(|s| s == &format!("GET /clob-markets {MARKET_A}")), "{seen:?}");
    assert_eq!(count(&ws, "trade_rejected", TOKEN_A), 0, "{}", ws.read("logs/trade_audit.log"));
    assert_eq!(count(&ws, "trade_opened", TOKEN_B) + count(&ws, "trade_rejected", TOKEN_B), 0, "pre-start trade");

    // The position's token is now watched by the price feed; when its books stop, trading reduces.
    let polled = wait_until(LIMIT, || venue.with(|v| v.seen.iter().any(|s| s == "POST /books")));
    assert!(polled, "the price feed never polled the held token");
    venue.with(|v| v.books_down = true);
    let reduced = wait_until(LIMIT, || has_state_change(&ws, "reducing", "stale_feed"));
    assert!(reduced, "a stale price feed did not move trading to reducing:\n{}", ws.read("logs/trade_audit.log"));
    venue.with(|v| v.books_down = false);
    let recovered = wait_until(LIMIT, || has_state_change(&ws, "active", "stale_feed"));
    assert!(recovered, "fresh prices did not release the hold:\n{}", ws.read("logs/trade_audit.log"));

    // The whale sells: we exit.
    venue.with(|v| v.rows.push(trade_row("SELL", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.49, "0xa2")));
    let exited =
        wait_until(LIMIT, || audit(&ws).iter().any(|l| l["event"] == "trade_closed" && l["reason"] == "whale_exit"));
    assert!(exited, "the whale's SELL did not close our copy:\n{}", ws.read("logs/trade_audit.log"));

    // Feed lag per whale is in /metrics.
    let metrics = http_get(ws.api_port, "/metrics");
    assert!(metrics.contains(&format!("whale_trader_whale_feed_lag_seconds{{whale=\"{WHALE}\"")), "{metrics}");
    assert!(metrics.contains("whale_trader_whale_feed_trades_total{whale=\""), "{metrics}");
    stop_daemon(&ws, daemon);

    // What the store remembers: the decided trades and the held-back one, and a watermark.
    assert_eq!(sqlite_count(&ws, "SELECT COUNT(*) FROM seen_whale_trades"), 3);
    assert_eq!(sqlite_count(&ws, "SELECT COUNT(*) FROM seen_whale_trades WHERE decision = 'skipped'"), 1);
    assert_eq!(sqlite_count(&ws, &format!("SELECT COUNT(*) FROM whale_watermarks WHERE wallet = '{WHALE}'")), 1);

    // While the daemon is down the whale buys another token; then it restarts on the same store.
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_B, MARKET_B, now_secs(), 400.0, 0.5, "0xb1")));
    std::thread::sleep(Duration::from_millis(1_100));
    let daemon = start_daemon(&ws, &venue);
    let caught_up = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_B) == 1);
    assert!(caught_up, "the trade made while down was skipped:\n{}", ws.read("logs/trade_audit.log"));
    // A few more polls: nothing read again is decided again.
    let polls_before = venue.with(|v| v.seen.iter().filter(|s| s.starts_with("GET /v2/activity")).count());
    let polled_more = wait_until(LIMIT, || {
        venue.with(|v| v.seen.iter().filter(|s| s.starts_with("GET /v2/activity")).count()) >= polls_before + 6
    });
    assert!(polled_more);
    assert_eq!(count(&ws, "trade_opened", TOKEN_A), 1, "{}", ws.read("logs/trade_audit.log"));
    assert_eq!(count(&ws, "trade_opened", TOKEN_B), 1);
    assert_eq!(count(&ws, "trade_rejected", TOKEN_A) + count(&ws, "trade_rejected", TOKEN_B), 0);
    let resumed = json_lines(&ws.read("logs/main.log"))
        .iter()
        .any(|l| l["message"].as_str().is_some_and(|m| m.contains("3 of 3 wallet(s) resume from the store")));
    assert!(resumed, "the whale feed did not resume from the store");
    stop_daemon(&ws, daemon);
    assert_eq!(sqlite_count(&ws, "SELECT COUNT(*) FROM seen_whale_trades"), 4);
    // Nothing was decided twice (the store would refuse a second seen mark) and nothing failed.
    assert!(!ws.read("logs/main.log").contains("store refused a command"), "{}", ws.read("logs/main.log"));
    let errors: Vec<Value> =
        json_lines(&ws.read("logs/error.log")).into_iter().filter(|l| l["target"] != "whale_trader::alerts").collect();
    assert!(errors.is_empty(), "errors were logged (console alerts aside): {errors:?}");
}

// Hardhat's well-known first test key (never funded on Polygon) and made-up API credentials.
#[cfg(feature = "live")]
const LIVE_SECRETS: [(&str, &str); 5] = [
    ("WHALE_TRADER__POLYMARKET__CREDENTIALS__API_KEY", "f4f247b7-4ac7-ff29-a152-04fda0a8755a"),
    ("WHALE_TRADER__POLYMARKET__CREDENTIALS__API_SECRET", "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr"),
    ("WHALE_TRADER__POLYMARKET__CREDENTIALS__API_PASSPHRASE", "passphrase-that-must-never-leak"),
    (
        "WHALE_TRADER__POLYMARKET__CREDENTIALS__PRIVATE_KEY",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    ("WHALE_TRADER__POLYMARKET__CREDENTIALS__FUNDER_ADDRESS", "0x9999999999999999999999999999999999999999"),
];

#[cfg(feature = "live")]
#[test]
fn in_live_mode_the_copy_and_the_exit_are_signed_orders_at_the_clob() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = Workspace::with_default_config("");
    let stdout = std::fs::File::create(ws.path().join("console.out")).unwrap();
    let stderr = std::fs::File::create(ws.path().join("console.err")).unwrap();
    let mut command = ws.command(&["run", "--live"]);
    command
        .envs(daemon_env(&venue))
        .envs(LIVE_SECRETS)
        .env("WHALE_TRADER__DAEMON__MODE", "live")
        .env("WHALE_TRADER__POLYMARKET__CREDENTIALS__SIGNATURE_TYPE", "2")
        .env("WHALE_TRADER_LIVE_CONFIRM", "yes")
        .stdout(stdout)
        .stderr(stderr);
    let daemon = command.spawn().expect("spawn the daemon");
    wait_ready(&ws, "live");

    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1")));
    let copied = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_A) == 1);
    assert!(copied, "no live copy; logs:\n{}", ws.all_logs());
    let opened = audit(&ws).into_iter().find(|l| l["event"] == "trade_opened").unwrap();
    assert_eq!(opened["mode"], "live");
    venue.with(|v| v.rows.push(trade_row("SELL", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.49, "0xa2")));
    let exited =
        wait_until(LIMIT, || audit(&ws).iter().any(|l| l["event"] == "trade_closed" && l["reason"] == "whale_exit"));
    assert!(exited, "the whale's SELL did not close the live copy; logs:\n{}", ws.all_logs());
    stop_daemon(&ws, daemon);

    // Two signed FAK orders reached the CLOB, each with the five L2 headers.
    let orders = venue.with(|v| v.orders.clone());
    assert_eq!(orders.len(), 2, "{orders:?}");
    for (i, (body, headers)) in orders.iter().enumerate() {
        assert_eq!(body["orderType"], "FAK");
        assert_eq!(body["order"]["side"], if i == 0 { "BUY" } else { "SELL" });
        assert_eq!(body["order"]["tokenId"], TOKEN_A);
        assert_eq!(body["order"]["maker"], "0x9999999999999999999999999999999999999999");
        assert_eq!(body["order"]["signature"].as_str().map(str::len), Some(132));
        for header in ["POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_API_KEY", "POLY_PASSPHRASE"] {
            assert!(headers.iter().any(|h| h == header), "{header} missing: {headers:?}");
        }
    }
    // Each order's venue id was recorded in the store before it was sent.
    let path = ws.path().join("data/whale-trader.live.db");
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let ids: Vec<String> = conn
        .prepare("SELECT venue_order_id FROM orders ORDER BY client_order_id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.starts_with("0x") && id.len() == 66), "{ids:?}");
    // No secret reached a log or the console.
    let everything = format!("{}{}{}", ws.all_logs(), ws.read("console.out"), ws.read("console.err"));
    for (_, secret) in LIVE_SECRETS.iter().take(4) {
        assert!(!everything.contains(secret), "a secret leaked");
    }
}
