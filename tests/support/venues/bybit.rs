//! A stateful stand-in for Bybit v5 (unified account) on 127.0.0.1, for one market (`spot` or
//! `linear`), answering in the shapes of `tests/fixtures/bybit/`: server time, instruments, tickers
//! (set by the test), orders (create, realtime, cancel), positions, leverage and the wallet.
//!
//! Signed calls are checked by the venue's rule: an unknown key is HTTP 401 with retCode 10003; a
//! timestamp outside `server_time - recv_window <= timestamp < server_time + 1000` (the server
//! clock moved by [`BybitVenue::set_clock_offset_ms`]) is 10002; a signature that is not the HMAC
//! of `timestamp + key + recv_window + payload` is 10004, echoing the signed string as the venue
//! does. Orders are checked against the instrument's filters and the account's balance or margin;
//! market orders fill at once at the quote, limit orders rest until [`BybitVenue::fill`].
//!
//! Not modelled: the order book (a fill is the test's word), funding, liquidation, hedge mode,
//! the venue's own take-profit/stop-loss triggers (they are recorded on the order only), and
//! fee tiers (fixed rates below).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sha2::Sha256;
use whale_trader::clock::{Clock, SystemClock};
use whale_trader::venues::VenueMarket;

use crate::support::stand_in::StandIn;

/// Maker fee of a resting limit order, and taker fee of a market order, on what filled.
const MAKER_FEE: Decimal = dec!(0.0002);
const TAKER_FEE: Decimal = dec!(0.00055);
/// The account's USDT at start.
const START_USDT: Decimal = dec!(100000);
/// Leverage of a linear symbol until set.
const DEFAULT_LEVERAGE: Decimal = dec!(10);

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/bybit/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// What the next order placement answers instead of being taken.
// The variant names are shared with the other venues' stand-ins, which the daemon tests use alike.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    InsufficientBalance,
    FilterFailure,
    /// HTTP 429 (the venue's system-level frequency protection) with `Retry-After`.
    RateLimited {
        retry_after_secs: u64,
    },
    /// HTTP 403, the venue's IP ban; `Retry-After` is sent so that a test need not wait the
    /// documented ten minutes.
    Banned {
        retry_after_secs: u64,
    },
    /// retCode 10002, whatever the request's timestamp.
    RecvWindow,
    /// HTTP 500 without the venue's envelope.
    ServerError,
    /// retCode 10006 with the `X-Bapi-Limit-*` headers, the window resetting in `reset_in_ms`.
    TooManyVisits {
        reset_in_ms: i64,
    },
}

/// One order as the venue keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order_id: String,
    pub client_order_id: String,
    pub symbol: String,
    /// `Buy` / `Sell`.
    pub side: String,
    /// `Limit` / `Market`.
    pub order_type: String,
    pub price: Option<Decimal>,
    pub quantity: Decimal,
    pub filled: Decimal,
    pub filled_value: Decimal,
    /// In the quote coin, except a spot buy's (in the base coin, as the venue charges it).
    pub fee: Decimal,
    /// The venue's `orderStatus`.
    pub status: String,
    pub reduce_only: bool,
    pub stop_loss: Option<Decimal>,
    pub take_profit: Option<Decimal>,
    pub created_ms: i64,
}

impl Order {
    fn open(&self) -> bool {
        matches!(self.status.as_str(), "New" | "PartiallyFilled")
    }

    fn buy(&self) -> bool {
        self.side == "Buy"
    }
}

/// A symbol's filters, from the instruments fixture.
#[derive(Debug, Clone, Copy)]
struct Filters {
    tick: Decimal,
    step: Decimal,
    min_qty: Decimal,
    max_qty: Decimal,
    min_notional: Decimal,
}

struct Inner {
    market: VenueMarket,
    api_key: String,
    api_secret: String,
    clock_offset_ms: i64,
    instruments: Vec<Value>,
    filters: HashMap<String, Filters>,
    quotes: HashMap<String, (Decimal, Decimal)>,
    /// Coin → (wallet balance, locked by open spot orders).
    wallet: BTreeMap<String, (Decimal, Decimal)>,
    /// Linear symbol → (signed size, average entry).
    positions: HashMap<String, (Decimal, Decimal)>,
    leverage: HashMap<String, Decimal>,
    orders: Vec<Order>,
    attempts: HashMap<String, usize>,
    failures: VecDeque<Failure>,
    requests: Vec<String>,
    /// `X-Bapi-Limit`, `X-Bapi-Limit-Status` and the reset delay sent on signed answers, when set.
    limit_status: Option<(i64, i64, i64)>,
    next_id: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// See the module documentation.
pub struct BybitVenue {
    state: Shared,
    server: StandIn,
}

impl BybitVenue {
    /// A venue for `market` that knows one key pair, holding 100 000 USDT.
    pub fn start(market: VenueMarket, api_key: &str, api_secret: &str) -> Self {
        let name = match market {
            VenueMarket::Spot => "market_instruments_info_spot.json",
            VenueMarket::Futures => "market_instruments_info_linear.json",
        };
        let instruments = fixture(name)["result"]["list"].as_array().cloned().unwrap_or_default();
        let mut filters = HashMap::new();
        for item in &instruments {
            let lot = &item["lotSizeFilter"];
            let (step, min_notional) = match market {
                VenueMarket::Spot => (num(&lot["basePrecision"]), num(&lot["minOrderAmt"])),
                VenueMarket::Futures => (num(&lot["qtyStep"]), num(&lot["minNotionalValue"])),
            };
            filters.insert(
                item["symbol"].as_str().unwrap_or_default().to_owned(),
                Filters {
                    tick: num(&item["priceFilter"]["tickSize"]),
                    step,
                    min_qty: num(&lot["minOrderQty"]),
                    max_qty: num(&lot["maxOrderQty"]),
                    min_notional,
                },
            );
        }
        let tickers = match market {
            VenueMarket::Spot => fixture("market_tickers_spot.json"),
            VenueMarket::Futures => fixture("market_tickers_linear.json"),
        };
        let quotes = tickers["result"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (t["symbol"].as_str().unwrap_or_default().to_owned(), (num(&t["bid1Price"]), num(&t["ask1Price"])))
            })
            .collect();
        let state = Arc::new(Mutex::new(Inner {
            market,
            api_key: api_key.to_owned(),
            api_secret: api_secret.to_owned(),
            clock_offset_ms: 0,
            instruments,
            filters,
            quotes,
            wallet: BTreeMap::from([("USDT".to_owned(), (START_USDT, Decimal::ZERO))]),
            positions: HashMap::new(),
            leverage: HashMap::new(),
            orders: Vec::new(),
            attempts: HashMap::new(),
            failures: VecDeque::new(),
            requests: Vec::new(),
            limit_status: None,
            next_id: 1,
        }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        Self { state, server: StandIn::serve(app, "bybit stand-in") }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_quote(&self, symbol: &str, bid: Decimal, ask: Decimal) {
        self.lock().quotes.insert(symbol.to_owned(), (bid, ask));
    }

    /// Sets a coin's wallet balance (what open orders lock stays locked).
    pub fn set_balance(&self, coin: &str, amount: Decimal) {
        self.lock().wallet.entry(coin.to_owned()).or_default().0 = amount;
    }

    /// Fills `quantity` more of a resting order at `price`.
    pub fn fill(&self, client_order_id: &str, quantity: Decimal, price: Decimal) {
        let mut inner = self.lock();
        let index = inner
            .orders
            .iter()
            .position(|o| o.client_order_id == client_order_id)
            .unwrap_or_else(|| panic!("no order {client_order_id} at the stand-in"));
        assert!(inner.orders[index].open(), "order {client_order_id} is not open");
        inner.apply_fill(index, quantity, price, MAKER_FEE);
    }

    /// The next order placements answer these, one each, in order.
    pub fn fail_next(&self, failure: Failure) {
        self.lock().failures.push_back(failure);
    }

    /// Moves the venue's clock against the machine's.
    pub fn set_clock_offset_ms(&self, ms: i64) {
        self.lock().clock_offset_ms = ms;
    }

    /// Signed answers carry `X-Bapi-Limit: limit`, `X-Bapi-Limit-Status: left` and a reset
    /// timestamp `reset_in_ms` ahead.
    pub fn set_limit_status(&self, limit: i64, left: i64, reset_in_ms: i64) {
        self.lock().limit_status = Some((limit, left, reset_in_ms));
    }

    /// Every placement that reached the venue with this id, taken or refused.
    pub fn orders_received(&self, client_order_id: &str) -> usize {
        self.lock().attempts.get(client_order_id).copied().unwrap_or(0)
    }

    pub fn order(&self, client_order_id: &str) -> Option<Order> {
        self.lock().orders.iter().find(|o| o.client_order_id == client_order_id).cloned()
    }

    /// Linear: the signed position size. Spot: the base coin's wallet balance.
    pub fn position(&self, symbol: &str) -> Decimal {
        let inner = self.lock();
        match inner.market {
            VenueMarket::Futures => inner.positions.get(symbol).map_or(Decimal::ZERO, |p| p.0),
            VenueMarket::Spot => {
                let base = inner.base_coin(symbol);
                inner.wallet.get(&base).map_or(Decimal::ZERO, |w| w.0)
            }
        }
    }

    /// A coin's (wallet balance, locked).
    pub fn balance(&self, coin: &str) -> (Decimal, Decimal) {
        self.lock().wallet.get(coin).copied().unwrap_or_default()
    }

    /// `METHOD /path` of every request, in order (no query: it carries signatures).
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }
}

fn num(value: &Value) -> Decimal {
    value.as_str().and_then(|s| Decimal::from_str(s).ok()).unwrap_or_default()
}

fn now_ms() -> i64 {
    SystemClock.now().0
}

fn hex_hmac(secret: &str, message: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) =
                std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn answer(status: StatusCode, body: Value, headers: &[(&str, String)]) -> Response {
    let mut response = Response::builder().status(status).header("content-type", "application/json");
    for (name, value) in headers {
        response = response.header(*name, value);
    }
    response.body(Body::from(body.to_string())).unwrap()
}

fn envelope(result: Value) -> Value {
    let mut body = fixture("position_set_leverage.json");
    body["result"] = result;
    body["time"] = json!(now_ms());
    body
}

fn refusal(code: i64, message: &str) -> Value {
    json!({"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": now_ms()})
}

fn error_fixture(name: &str) -> Value {
    let mut body = fixture(name);
    body["time"] = json!(now_ms());
    body
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let mut inner = state.lock().unwrap_or_else(PoisonError::into_inner);
    let path = uri.path().to_owned();
    inner.requests.push(format!("{method} {path}"));
    let query = uri.query().unwrap_or("").to_owned();
    let params = query_params(&query);
    match (method.as_str(), path.as_str()) {
        ("GET", "/v5/market/time") => {
            let now = now_ms() + inner.clock_offset_ms;
            let mut body = fixture("market_time.json");
            body["result"] =
                json!({"timeSecond": (now / 1000).to_string(), "timeNano": (i128::from(now) * 1_000_000).to_string()});
            body["time"] = json!(now);
            answer(StatusCode::OK, body, &[])
        }
        ("GET", "/v5/market/instruments-info") => {
            if let Some(refused) = inner.wrong_category(&params) {
                return refused;
            }
            let symbol = params.get("symbol").cloned().unwrap_or_default();
            let list: Vec<Value> = inner
                .instruments
                .iter()
                .filter(|i| symbol.is_empty() || i["symbol"] == symbol.as_str())
                .cloned()
                .collect();
            answer(
                StatusCode::OK,
                envelope(json!({"category": inner.category(), "list": list, "nextPageCursor": ""})),
                &[],
            )
        }
        ("GET", "/v5/market/tickers") => {
            if let Some(refused) = inner.wrong_category(&params) {
                return refused;
            }
            let symbol = params.get("symbol").cloned().unwrap_or_default();
            let template = match inner.market {
                VenueMarket::Spot => fixture("market_tickers_spot.json"),
                VenueMarket::Futures => fixture("market_tickers_linear.json"),
            };
            let list: Vec<Value> = inner
                .quotes
                .iter()
                .filter(|(s, _)| symbol.is_empty() || **s == symbol)
                .map(|(s, (bid, ask))| {
                    let mut item = template["result"]["list"][0].clone();
                    item["symbol"] = json!(s);
                    item["bid1Price"] = json!(bid.to_string());
                    item["ask1Price"] = json!(ask.to_string());
                    item
                })
                .collect();
            answer(StatusCode::OK, envelope(json!({"category": inner.category(), "list": list})), &[])
        }
        (_, _) => {
            let payload = if method == Method::GET { query.clone() } else { body.clone() };
            let json_body: Value =
                if method == Method::POST { serde_json::from_str(&body).unwrap_or(Value::Null) } else { Value::Null };
            if path == "/v5/order/create" {
                let link = json_body["orderLinkId"].as_str().unwrap_or_default().to_owned();
                *inner.attempts.entry(link).or_default() += 1;
            }
            if let Some(refused) = inner.authenticate(&headers, &payload) {
                return refused;
            }
            let limit_headers = inner.limit_headers();
            let mut response = match (method.as_str(), path.as_str()) {
                ("POST", "/v5/order/create") => inner.create(&json_body),
                ("GET", "/v5/order/realtime") => inner.realtime(&params),
                ("POST", "/v5/order/cancel") => inner.cancel(&json_body),
                ("GET", "/v5/position/list") => inner.position_list(&params),
                ("POST", "/v5/position/set-leverage") => inner.set_leverage(&json_body),
                ("GET", "/v5/account/wallet-balance") => inner.wallet_balance(&params),
                _ => answer(StatusCode::NOT_FOUND, json!({"retCode": 10017, "retMsg": "route not found"}), &[]),
            };
            for (name, value) in limit_headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
    }
}

impl Inner {
    fn category(&self) -> &'static str {
        match self.market {
            VenueMarket::Spot => "spot",
            VenueMarket::Futures => "linear",
        }
    }

    fn linear(&self) -> bool {
        self.market == VenueMarket::Futures
    }

    fn base_coin(&self, symbol: &str) -> String {
        self.instruments
            .iter()
            .find(|i| i["symbol"] == symbol)
            .and_then(|i| i["baseCoin"].as_str())
            .map_or_else(|| symbol.trim_end_matches("USDT").to_owned(), str::to_owned)
    }

    fn wrong_category(&self, params: &HashMap<String, String>) -> Option<Response> {
        (params.get("category").map(String::as_str) != Some(self.category()))
            .then(|| answer(StatusCode::OK, refusal(10001, "params error: category is invalid"), &[]))
    }

    fn limit_headers(&self) -> Vec<(&'static str, String)> {
        self.limit_status.map_or_else(Vec::new, |(limit, left, reset_in_ms)| {
            vec![
                ("X-Bapi-Limit", limit.to_string()),
                ("X-Bapi-Limit-Status", left.to_string()),
                ("X-Bapi-Limit-Reset-Timestamp", (now_ms() + self.clock_offset_ms + reset_in_ms).to_string()),
            ]
        })
    }

    /// The venue's checks of a signed request: the key, the time window, the signature.
    fn authenticate(&self, headers: &HeaderMap, payload: &str) -> Option<Response> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let key = header("X-BAPI-API-KEY");
        if key != self.api_key {
            return Some(answer(StatusCode::UNAUTHORIZED, error_fixture("error_invalid_api_key.json"), &[]));
        }
        let timestamp = header("X-BAPI-TIMESTAMP");
        let window = header("X-BAPI-RECV-WINDOW");
        let server = now_ms() + self.clock_offset_ms;
        let recv: i64 = window.parse().unwrap_or(5000);
        let stamp: i64 = timestamp.parse().unwrap_or(0);
        if !(server - recv <= stamp && stamp < server + 1000) {
            let message = format!(
                "invalid request, please check your server timestamp or recv_window param. req_timestamp[{stamp}],server_timestamp[{server}],recv_window[{recv}]"
            );
            return Some(answer(StatusCode::OK, refusal(10002, &message), &[]));
        }
        let signed = format!("{timestamp}{key}{window}{payload}");
        if header("X-BAPI-SIGN") != hex_hmac(&self.api_secret, &signed) {
            return Some(answer(StatusCode::OK, refusal(10004, &format!("error sign! origin_string[{signed}]")), &[]));
        }
        None
    }

    fn failure_answer(&self, failure: Failure) -> Response {
        let spot = !self.linear();
        match failure {
            Failure::InsufficientBalance => answer(
                StatusCode::OK,
                error_fixture(if spot {
                    "error_insufficient_balance_spot.json"
                } else {
                    "error_insufficient_balance_linear.json"
                }),
                &[],
            ),
            Failure::FilterFailure => answer(
                StatusCode::OK,
                error_fixture(if spot { "error_filter_failure_spot.json" } else { "error_filter_failure_linear.json" }),
                &[],
            ),
            Failure::RateLimited { retry_after_secs } => answer(
                StatusCode::TOO_MANY_REQUESTS,
                refusal(10006, "Too many visits!"),
                &[("Retry-After", retry_after_secs.to_string())],
            ),
            Failure::Banned { retry_after_secs } => {
                let mut response = Response::builder()
                    .status(StatusCode::FORBIDDEN)
                    .header("Retry-After", retry_after_secs.to_string())
                    .body(Body::from("access too frequent"))
                    .unwrap();
                response.headers_mut().insert("content-type", "text/plain".parse().unwrap());
                response
            }
            Failure::RecvWindow => answer(StatusCode::OK, error_fixture("error_recv_window.json"), &[]),
            Failure::ServerError => Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(Body::from("Internal Server Error"))
                .unwrap(),
            Failure::TooManyVisits { reset_in_ms } => answer(
                StatusCode::OK,
                error_fixture("error_rate_limit.json"),
                &[
                    ("X-Bapi-Limit", "10".to_owned()),
                    ("X-Bapi-Limit-Status", "0".to_owned()),
                    ("X-Bapi-Limit-Reset-Timestamp", (now_ms() + self.clock_offset_ms + reset_in_ms).to_string()),
                ],
            ),
        }
    }

    fn create(&mut self, body: &Value) -> Response {
        if let Some(failure) = self.failures.pop_front() {
            return self.failure_answer(failure);
        }
        let ok = |code: i64, message: &str| answer(StatusCode::OK, refusal(code, message), &[]);
        let spot = !self.linear();
        if body["category"] != self.category() {
            return ok(10001, "params error: category is invalid");
        }
        let symbol = body["symbol"].as_str().unwrap_or_default().to_owned();
        let Some(filters) = self.filters.get(&symbol).copied() else {
            return if spot { ok(170121, "Invalid symbol.") } else { ok(10001, "params error: symbol invalid") };
        };
        let link = body["orderLinkId"].as_str().unwrap_or_default().to_owned();
        if link.is_empty() || link.len() > 36 {
            return ok(10001, "params error: orderLinkId is invalid");
        }
        if self.orders.iter().any(|o| o.client_order_id == link) {
            return if spot {
                ok(170141, "Duplicate clientOrderId.")
            } else {
                answer(StatusCode::OK, error_fixture("error_duplicate_order_link_id.json"), &[])
            };
        }
        let side = body["side"].as_str().unwrap_or_default().to_owned();
        let order_type = body["orderType"].as_str().unwrap_or_default().to_owned();
        if !matches!(side.as_str(), "Buy" | "Sell") || !matches!(order_type.as_str(), "Limit" | "Market") {
            return ok(10001, "params error: side or orderType invalid");
        }
        let quantity = num(&body["qty"]);
        let price = (order_type == "Limit").then(|| num(&body["price"]));
        let (bid, ask) = self.quotes.get(&symbol).copied().unwrap_or_default();
        let buy = side == "Buy";
        if spot && order_type == "Market" && buy && body["marketUnit"] != "baseCoin" {
            return ok(10001, "this stand-in takes spot market buys in the base coin only (marketUnit=baseCoin)");
        }
        let reference = price.unwrap_or(if buy { ask } else { bid });
        // Filters, in the venue's order: price precision, quantity precision, minimums.
        if let Some(price) = price
            && (price <= Decimal::ZERO || !(price % filters.tick).is_zero())
        {
            return if spot {
                ok(170134, "Order price decimal too long.")
            } else {
                answer(StatusCode::OK, error_fixture("error_filter_failure_linear.json"), &[])
            };
        }
        if !(quantity % filters.step).is_zero() {
            return if spot { ok(170137, "Order volume decimal too long.") } else { ok(10001, "Qty invalid") };
        }
        if quantity < filters.min_qty || quantity > filters.max_qty {
            return if spot {
                answer(StatusCode::OK, error_fixture("error_filter_failure_spot.json"), &[])
            } else {
                ok(10001, "The number of contracts exceeds minimum limit allowed")
            };
        }
        if quantity * reference < filters.min_notional {
            return if spot {
                ok(170140, "Order value exceeded lower limit.")
            } else {
                ok(110094, "Order does not meet minimum order value")
            };
        }
        let reduce_only = !spot && body["reduceOnly"].as_bool().unwrap_or(false);
        if reduce_only {
            let held = self.positions.get(&symbol).map_or(Decimal::ZERO, |p| p.0);
            let reduces = if buy { held < Decimal::ZERO } else { held > Decimal::ZERO };
            if !reduces || quantity > held.abs() {
                return answer(StatusCode::OK, error_fixture("error_reduce_only.json"), &[]);
            }
        } else if spot {
            let coin = if buy { "USDT".to_owned() } else { self.base_coin(&symbol) };
            let need = if buy { quantity * reference } else { quantity };
            let (wallet, locked) = self.wallet.get(&coin).copied().unwrap_or_default();
            if need > wallet - locked {
                return answer(StatusCode::OK, error_fixture("error_insufficient_balance_spot.json"), &[]);
            }
            if order_type == "Limit" {
                self.wallet.entry(coin).or_default().1 += need;
            }
        } else {
            let leverage = self.leverage.get(&symbol).copied().unwrap_or(DEFAULT_LEVERAGE);
            if quantity * reference / leverage > self.available_margin() {
                return answer(StatusCode::OK, error_fixture("error_insufficient_balance_linear.json"), &[]);
            }
        }
        let order_id = format!("{:08x}-7f21-4079-913d-{:012x}", self.next_id, self.next_id);
        self.next_id += 1;
        self.orders.push(Order {
            order_id: order_id.clone(),
            client_order_id: link.clone(),
            symbol,
            side,
            order_type: order_type.clone(),
            price,
            quantity,
            filled: Decimal::ZERO,
            filled_value: Decimal::ZERO,
            fee: Decimal::ZERO,
            status: "New".to_owned(),
            reduce_only,
            stop_loss: body.get("stopLoss").map(num),
            take_profit: body.get("takeProfit").map(num),
            created_ms: now_ms() + self.clock_offset_ms,
        });
        if order_type == "Market" {
            let index = self.orders.len() - 1;
            self.apply_fill(index, quantity, reference, TAKER_FEE);
        }
        let mut body = fixture("order_create.json");
        body["result"] = json!({"orderId": order_id, "orderLinkId": link});
        body["time"] = json!(now_ms());
        answer(StatusCode::OK, body, &[])
    }

    /// USDT not taken by the margin of positions and of open orders that add to them.
    fn available_margin(&self) -> Decimal {
        let wallet = self.wallet.get("USDT").map_or(Decimal::ZERO, |w| w.0);
        let leverage = |symbol: &str| self.leverage.get(symbol).copied().unwrap_or(DEFAULT_LEVERAGE);
        let positions: Decimal = self.positions.iter().map(|(s, (size, avg))| size.abs() * avg / leverage(s)).sum();
        let orders: Decimal = self
            .orders
            .iter()
            .filter(|o| o.open() && !o.reduce_only)
            .map(|o| (o.quantity - o.filled) * o.price.unwrap_or_default() / leverage(&o.symbol))
            .sum();
        wallet - positions - orders
    }

    /// `quantity` of order `index` filled at `price`: the order, then the wallet or position.
    fn apply_fill(&mut self, index: usize, quantity: Decimal, price: Decimal, fee_rate: Decimal) {
        let linear = self.linear();
        let base = self.base_coin(&self.orders[index].symbol.clone());
        let order = &mut self.orders[index];
        let quantity = quantity.min(order.quantity - order.filled);
        let value = quantity * price;
        order.filled += quantity;
        order.filled_value += value;
        order.status = if order.filled >= order.quantity { "Filled" } else { "PartiallyFilled" }.to_owned();
        let order = order.clone();
        if linear {
            let fee = value * fee_rate;
            self.orders[index].fee += fee;
            let signed = if order.buy() { quantity } else { -quantity };
            let (size, avg) = self.positions.get(&order.symbol).copied().unwrap_or_default();
            let mut realised = Decimal::ZERO;
            let (new_size, new_avg) = if size.is_zero() || size.is_sign_positive() == signed.is_sign_positive() {
                let total = size.abs() + quantity;
                (size + signed, (size.abs() * avg + value) / total)
            } else {
                let closed = quantity.min(size.abs());
                realised = (price - avg) * closed * if size.is_sign_positive() { Decimal::ONE } else { -Decimal::ONE };
                let rest = size + signed;
                let avg = if rest.is_zero() {
                    Decimal::ZERO
                } else if rest.is_sign_positive() == size.is_sign_positive() {
                    avg
                } else {
                    price
                };
                (rest, avg)
            };
            if new_size.is_zero() {
                self.positions.remove(&order.symbol);
            } else {
                self.positions.insert(order.symbol.clone(), (new_size, new_avg));
            }
            self.wallet.entry("USDT".to_owned()).or_default().0 += realised - fee;
        } else if order.buy() {
            // A spot buy pays its fee in the base coin it receives.
            let fee = quantity * fee_rate;
            self.orders[index].fee += fee;
            let usdt = self.wallet.entry("USDT".to_owned()).or_default();
            usdt.0 -= value;
            if let Some(limit) = order.price {
                usdt.1 -= quantity * limit;
            }
            self.wallet.entry(base).or_default().0 += quantity - fee;
        } else {
            let fee = value * fee_rate;
            self.orders[index].fee += fee;
            let coin = self.wallet.entry(base).or_default();
            coin.0 -= quantity;
            if order.price.is_some() {
                coin.1 -= quantity;
            }
            self.wallet.entry("USDT".to_owned()).or_default().0 += value - fee;
        }
    }

    fn order_item(&self, order: &Order) -> Value {
        let mut item = fixture("order_realtime.json")["result"]["list"][0].clone();
        let average = if order.filled.is_zero() { Decimal::ZERO } else { order.filled_value / order.filled };
        item["orderId"] = json!(order.order_id);
        item["orderLinkId"] = json!(order.client_order_id);
        item["symbol"] = json!(order.symbol);
        item["price"] = json!(order.price.unwrap_or_default().to_string());
        item["qty"] = json!(order.quantity.to_string());
        item["side"] = json!(order.side);
        item["positionIdx"] = json!(0);
        item["orderStatus"] = json!(order.status);
        item["avgPrice"] = json!(if order.filled.is_zero() { String::new() } else { average.normalize().to_string() });
        item["leavesQty"] = json!((order.quantity - order.filled).to_string());
        item["cumExecQty"] = json!(order.filled.to_string());
        item["cumExecValue"] = json!(order.filled_value.to_string());
        item["cumExecFee"] = json!(order.fee.normalize().to_string());
        item["orderType"] = json!(order.order_type);
        item["timeInForce"] = json!(if order.order_type == "Market" { "IOC" } else { "GTC" });
        item["reduceOnly"] = json!(order.reduce_only);
        item["takeProfit"] = json!(order.take_profit.map(|p| p.to_string()).unwrap_or_default());
        item["stopLoss"] = json!(order.stop_loss.map(|p| p.to_string()).unwrap_or_default());
        item["createdTime"] = json!(order.created_ms.to_string());
        item["updatedTime"] = json!(order.created_ms.to_string());
        item
    }

    fn realtime(&self, params: &HashMap<String, String>) -> Response {
        if let Some(refused) = self.wrong_category(params) {
            return refused;
        }
        let symbol = params.get("symbol");
        let list: Vec<Value> = match params.get("orderLinkId") {
            // By id the venue also finds recent closed orders.
            Some(link) => {
                self.orders.iter().filter(|o| &o.client_order_id == link).map(|o| self.order_item(o)).collect()
            }
            None => self
                .orders
                .iter()
                .filter(|o| o.open() && symbol.is_none_or(|s| *s == o.symbol))
                .map(|o| self.order_item(o))
                .collect(),
        };
        answer(StatusCode::OK, envelope(json!({"category": self.category(), "list": list, "nextPageCursor": ""})), &[])
    }

    fn cancel(&mut self, body: &Value) -> Response {
        let link = body["orderLinkId"].as_str().unwrap_or_default();
        let linear = self.linear();
        let Some(index) = self.orders.iter().position(|o| o.client_order_id == link && o.open()) else {
            let name = if linear { "error_unknown_order_linear.json" } else { "error_unknown_order_spot.json" };
            return answer(StatusCode::OK, error_fixture(name), &[]);
        };
        let order = self.orders[index].clone();
        let rest = order.quantity - order.filled;
        if !linear && let Some(limit) = order.price {
            let (coin, locked) =
                if order.buy() { ("USDT".to_owned(), rest * limit) } else { (self.base_coin(&order.symbol), rest) };
            self.wallet.entry(coin).or_default().1 -= locked;
        }
        self.orders[index].status =
            if !linear && !order.filled.is_zero() { "PartiallyFilledCanceled" } else { "Cancelled" }.to_owned();
        let mut body = fixture("order_cancel.json");
        body["result"] = json!({"orderId": order.order_id, "orderLinkId": order.client_order_id});
        body["time"] = json!(now_ms());
        answer(StatusCode::OK, body, &[])
    }

    fn position_list(&self, params: &HashMap<String, String>) -> Response {
        if !self.linear() {
            return answer(StatusCode::OK, refusal(10001, "category only support linear or option"), &[]);
        }
        if let Some(refused) = self.wrong_category(params) {
            return refused;
        }
        let symbol = params.get("symbol").cloned().unwrap_or_default();
        let (size, avg) = self.positions.get(&symbol).copied().unwrap_or_default();
        let mut item = fixture("position_list.json")["result"]["list"][0].clone();
        item["symbol"] = json!(symbol);
        item["side"] = json!(if size > Decimal::ZERO {
            "Buy"
        } else if size < Decimal::ZERO {
            "Sell"
        } else {
            ""
        });
        item["size"] = json!(size.abs().to_string());
        item["avgPrice"] = json!(avg.normalize().to_string());
        item["leverage"] = json!(self.leverage.get(&symbol).copied().unwrap_or(DEFAULT_LEVERAGE).to_string());
        answer(StatusCode::OK, envelope(json!({"category": "linear", "list": [item], "nextPageCursor": ""})), &[])
    }

    fn set_leverage(&mut self, body: &Value) -> Response {
        let symbol = body["symbol"].as_str().unwrap_or_default().to_owned();
        if !self.linear() || body["category"] != "linear" || !self.filters.contains_key(&symbol) {
            return answer(StatusCode::OK, refusal(10001, "params error"), &[]);
        }
        let leverage = num(&body["buyLeverage"]);
        if leverage != num(&body["sellLeverage"]) || leverage < Decimal::ONE || leverage > dec!(100) {
            return answer(StatusCode::OK, refusal(10001, "leverage invalid"), &[]);
        }
        if self.leverage.get(&symbol).copied().unwrap_or(DEFAULT_LEVERAGE) == leverage {
            return answer(StatusCode::OK, refusal(110043, "Set leverage not modified"), &[]);
        }
        self.leverage.insert(symbol, leverage);
        answer(StatusCode::OK, envelope(json!({})), &[])
    }

    fn wallet_balance(&self, params: &HashMap<String, String>) -> Response {
        if params.get("accountType").map(String::as_str) != Some("UNIFIED") {
            return answer(StatusCode::OK, refusal(10001, "accountType only support UNIFIED"), &[]);
        }
        let template = fixture("account_wallet_balance.json");
        let coin_template = template["result"]["list"][0]["coin"][1].clone();
        let wanted: Vec<&str> = params.get("coin").map(|c| c.split(',').collect()).unwrap_or_default();
        let coins: Vec<Value> = self
            .wallet
            .iter()
            .filter(|(coin, _)| wanted.is_empty() || wanted.contains(&coin.as_str()))
            .map(|(coin, (wallet, locked))| {
                let mut item = coin_template.clone();
                item["coin"] = json!(coin);
                item["walletBalance"] = json!(wallet.normalize().to_string());
                item["equity"] = json!(wallet.normalize().to_string());
                item["locked"] = json!(locked.normalize().to_string());
                item
            })
            .collect();
        let mut account = template["result"]["list"][0].clone();
        account["coin"] = json!(coins);
        answer(StatusCode::OK, envelope(json!({"list": [account]})), &[])
    }
}
