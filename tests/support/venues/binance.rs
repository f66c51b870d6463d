//! A stateful stand-in for Binance on 127.0.0.1, for one market: spot (`/api/v3/...`) or USDⓈ-M
//! futures (`/fapi/v1/...`, `/fapi/v2/...`), answering in the shapes of `tests/fixtures/binance/`:
//! server time, exchange info, book tickers (set by the test), orders (new, query, cancel, open
//! orders), positions, leverage, balances and the spot account. The other market's paths are 404,
//! as they live on another host at the venue.
//!
//! SIGNED calls are checked by the venue's rule: an unknown `X-MBX-APIKEY` is HTTP 401 with -2015;
//! a `timestamp` outside `timestamp < server_time + 1000 && server_time - timestamp <= recvWindow`
//! (the server clock moved by [`BinanceVenue::set_clock_offset_ms`]) is -1021; a `signature` that
//! is not the hex HMAC-SHA256 of the total parameters (query string without the signature, then
//! the body) is -1022, both HTTP 400. Orders are checked against the symbol's filters and the
//! account's balance or margin; market orders fill at once at the quote, limit orders rest until
//! [`BinanceVenue::fill`]. Every answer carries `X-MBX-USED-WEIGHT-1M` (one weight per request
//! in the server's current minute).
//!
//! Not modelled: the order book (a fill is the test's word), funding, liquidation, hedge mode,
//! BNB fee discounts and fee tiers (fixed rates below, charged in the quote asset on both markets).

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

pub use crate::support::venues::bybit::Failure;

/// Maker fee of a resting limit order, and taker fee of a market order, on what filled.
const MAKER_FEE: Decimal = dec!(0.0002);
const TAKER_FEE: Decimal = dec!(0.0005);
/// The account's USDT at start.
const START_USDT: Decimal = dec!(100000);
/// Leverage of a futures symbol until set (the venue's default for a new account).
const DEFAULT_LEVERAGE: Decimal = dec!(20);

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/binance/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// One order as the venue keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order_id: i64,
    pub client_order_id: String,
    pub symbol: String,
    /// `BUY` / `SELL`.
    pub side: String,
    /// `LIMIT` / `MARKET`.
    pub order_type: String,
    pub price: Option<Decimal>,
    pub quantity: Decimal,
    pub filled: Decimal,
    /// Quote spent or received (`cummulativeQuoteQty` / `cumQuote`).
    pub filled_value: Decimal,
    /// In the quote asset.
    pub fee: Decimal,
    /// The venue's `status`.
    pub status: String,
    pub reduce_only: bool,
    pub created_ms: i64,
    /// Each fill: price, quantity, commission, trade id.
    pub fills: Vec<(Decimal, Decimal, Decimal, i64)>,
}

impl Order {
    fn open(&self) -> bool {
        matches!(self.status.as_str(), "NEW" | "PARTIALLY_FILLED")
    }

    fn buy(&self) -> bool {
        self.side == "BUY"
    }
}

/// A symbol's filters, from the exchange info fixture.
#[derive(Debug, Clone, Copy)]
struct Filters {
    tick: Decimal,
    min_price: Decimal,
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
    exchange_info: Value,
    filters: HashMap<String, Filters>,
    quotes: HashMap<String, (Decimal, Decimal)>,
    /// Asset → (total, locked by open spot orders).
    wallet: BTreeMap<String, (Decimal, Decimal)>,
    /// Futures symbol → (signed size, average entry).
    positions: HashMap<String, (Decimal, Decimal)>,
    leverage: HashMap<String, Decimal>,
    orders: Vec<Order>,
    attempts: HashMap<String, usize>,
    failures: VecDeque<Failure>,
    requests: Vec<String>,
    /// The server minute and the request weight used in it.
    weight: (i64, i64),
    weight_limit: i64,
    next_id: i64,
}

type Shared = Arc<Mutex<Inner>>;

/// See the module documentation.
pub struct BinanceVenue {
    state: Shared,
    server: StandIn,
}

impl BinanceVenue {
    /// A venue for `market` that knows one key pair, holding 100 000 USDT.
    pub fn start(market: VenueMarket, api_key: &str, api_secret: &str) -> Self {
        let (info, ticker) = match market {
            VenueMarket::Spot => (fixture("api_v3_exchangeInfo.json"), fixture("api_v3_ticker_bookTicker.json")),
            VenueMarket::Futures => (fixture("fapi_v1_exchangeInfo.json"), fixture("fapi_v1_ticker_bookTicker.json")),
        };
        let mut filters = HashMap::new();
        let mut quotes = HashMap::new();
        for item in info["symbols"].as_array().into_iter().flatten() {
            let list = item["filters"].as_array().cloned().unwrap_or_default();
            let find = |kind: &str| list.iter().find(|f| f["filterType"] == kind).cloned().unwrap_or(Value::Null);
            let (price, lot) = (find("PRICE_FILTER"), find("LOT_SIZE"));
            let min_notional = match market {
                VenueMarket::Spot => num(&find("NOTIONAL")["minNotional"]),
                VenueMarket::Futures => num(&find("MIN_NOTIONAL")["notional"]),
            };
            let symbol = item["symbol"].as_str().unwrap_or_default().to_owned();
            filters.insert(
                symbol.clone(),
                Filters {
                    tick: num(&price["tickSize"]),
                    min_price: num(&price["minPrice"]),
                    step: num(&lot["stepSize"]),
                    min_qty: num(&lot["minQty"]),
                    max_qty: num(&lot["maxQty"]),
                    min_notional,
                },
            );
            if symbol == ticker["symbol"] {
                quotes.insert(symbol, (num(&ticker["bidPrice"]), num(&ticker["askPrice"])));
            }
        }
        let weight_limit = info["rateLimits"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["rateLimitType"] == "REQUEST_WEIGHT" && l["interval"] == "MINUTE")
            .and_then(|l| l["limit"].as_i64())
            .unwrap_or(1200);
        let state = Arc::new(Mutex::new(Inner {
            market,
            api_key: api_key.to_owned(),
            api_secret: api_secret.to_owned(),
            clock_offset_ms: 0,
            exchange_info: info,
            filters,
            quotes,
            wallet: BTreeMap::from([("USDT".to_owned(), (START_USDT, Decimal::ZERO))]),
            positions: HashMap::new(),
            leverage: HashMap::new(),
            orders: Vec::new(),
            attempts: HashMap::new(),
            failures: VecDeque::new(),
            requests: Vec::new(),
            weight: (0, 0),
            weight_limit,
            next_id: 1,
        }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        Self { state, server: StandIn::serve(app, "binance stand-in") }
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

    /// Sets an asset's total balance (what open orders lock stays locked).
    pub fn set_balance(&self, asset: &str, amount: Decimal) {
        self.lock().wallet.entry(asset.to_owned()).or_default().0 = amount;
    }

    /// Fills `quantity` more of a resting order at `price`.
    pub fn fill(&self, client_order_id: &str, quantity: Decimal, price: Decimal) {
        let mut inner = self.lock();
        let index = inner
            .orders
            .iter()
            .rposition(|o| o.client_order_id == client_order_id)
            .unwrap_or_else(|| panic!("no order {client_order_id} at the stand-in"));
        assert!(inner.orders[index].open(), "order {client_order_id} is not open");
        inner.apply_fill(index, quantity, price, MAKER_FEE);
    }

    /// The next order placements answer these, one each, in order. `TooManyVisits` takes the
    /// order but reports the minute's request weight at 95 % of the limit (Binance's window is
    /// the clock minute, so its `reset_in_ms` is not used).
    pub fn fail_next(&self, failure: Failure) {
        self.lock().failures.push_back(failure);
    }

    /// Moves the venue's clock against the machine's.
    pub fn set_clock_offset_ms(&self, ms: i64) {
        self.lock().clock_offset_ms = ms;
    }

    /// Every placement that reached the venue with this `newClientOrderId`, taken or refused.
    pub fn orders_received(&self, client_order_id: &str) -> usize {
        self.lock().attempts.get(client_order_id).copied().unwrap_or(0)
    }

    /// The latest order with this client order id.
    pub fn order(&self, client_order_id: &str) -> Option<Order> {
        self.lock().orders.iter().rev().find(|o| o.client_order_id == client_order_id).cloned()
    }

    /// Futures: the signed position size. Spot: the base asset's free balance.
    pub fn position(&self, symbol: &str) -> Decimal {
        let inner = self.lock();
        match inner.market {
            VenueMarket::Futures => inner.positions.get(symbol).map_or(Decimal::ZERO, |p| p.0),
            VenueMarket::Spot => {
                let base = inner.base_asset(symbol);
                inner.wallet.get(&base).map_or(Decimal::ZERO, |w| w.0 - w.1)
            }
        }
    }

    /// An asset's (total, locked).
    pub fn balance(&self, asset: &str) -> (Decimal, Decimal) {
        self.lock().wallet.get(asset).copied().unwrap_or_default()
    }

    /// `METHOD /path` of every request, in order (no query: it carries signatures).
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }
}

fn num(value: &Value) -> Decimal {
    match value {
        Value::String(s) => Decimal::from_str(s).unwrap_or_default(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).unwrap_or_default(),
        _ => Decimal::ZERO,
    }
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

fn params_of(text: &str) -> HashMap<String, String> {
    text.split('&')
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

/// An error answer, HTTP 400 unless said.
fn refusal(code: i64, message: &str) -> Response {
    answer(StatusCode::BAD_REQUEST, json!({"code": code, "msg": message}), &[])
}

fn error_fixture(name: &str, case: Option<&str>) -> Response {
    let body = fixture(name);
    let body = case.map_or(body.clone(), |c| body[c].clone());
    answer(StatusCode::BAD_REQUEST, body, &[])
}

fn not_found() -> Response {
    Response::builder().status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap()
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let mut inner = state.lock().unwrap_or_else(PoisonError::into_inner);
    let path = uri.path().to_owned();
    inner.requests.push(format!("{method} {path}"));
    let minute = (now_ms() + inner.clock_offset_ms).div_euclid(60_000);
    if inner.weight.0 != minute {
        inner.weight = (minute, 0);
    }
    inner.weight.1 += 1;
    let query = uri.query().unwrap_or("").to_owned();
    let mut response = inner.route(&method, &path, &query, &headers, &body);
    response.headers_mut().insert("X-MBX-USED-WEIGHT-1M", inner.weight.1.to_string().parse().unwrap());
    response
}

impl Inner {
    fn futures(&self) -> bool {
        self.market == VenueMarket::Futures
    }

    fn base_asset(&self, symbol: &str) -> String {
        self.exchange_info["symbols"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["symbol"] == symbol)
            .and_then(|s| s["baseAsset"].as_str())
            .map_or_else(|| symbol.trim_end_matches("USDT").to_owned(), str::to_owned)
    }

    fn route(&mut self, method: &Method, path: &str, query: &str, headers: &HeaderMap, body: &str) -> Response {
        // The market's own prefix: the other market's paths are not served here.
        let own = match self.market {
            VenueMarket::Spot => path.strip_prefix("/api/v3"),
            VenueMarket::Futures => path.strip_prefix("/fapi/v1").or_else(|| path.strip_prefix("/fapi/v2")),
        };
        let Some(endpoint) = own else { return not_found() };
        let v2 = path.starts_with("/fapi/v2");
        let params = params_of(&format!("{query}&{body}"));
        match (method.as_str(), endpoint, v2) {
            ("GET", "/time", false) => {
                let name = if self.futures() { "fapi_v1_time.json" } else { "api_v3_time.json" };
                let mut time = fixture(name);
                time["serverTime"] = json!(now_ms() + self.clock_offset_ms);
                answer(StatusCode::OK, time, &[])
            }
            ("GET", "/exchangeInfo", false) => {
                let mut info = self.exchange_info.clone();
                info["serverTime"] = json!(now_ms() + self.clock_offset_ms);
                if let Some(symbol) = params.get("symbol") {
                    if !self.filters.contains_key(symbol) {
                        return refusal(-1121, "Invalid symbol.");
                    }
                    let list: Vec<Value> = info["symbols"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|s| s["symbol"] == symbol.as_str())
                        .cloned()
                        .collect();
                    info["symbols"] = json!(list);
                }
                answer(StatusCode::OK, info, &[])
            }
            ("GET", "/ticker/bookTicker", false) => {
                let symbol = params.get("symbol").cloned().unwrap_or_default();
                let Some((bid, ask)) = self.quotes.get(&symbol).copied() else {
                    return refusal(-1121, "Invalid symbol.");
                };
                let name =
                    if self.futures() { "fapi_v1_ticker_bookTicker.json" } else { "api_v3_ticker_bookTicker.json" };
                let mut ticker = fixture(name);
                ticker["symbol"] = json!(symbol);
                ticker["bidPrice"] = json!(bid.to_string());
                ticker["askPrice"] = json!(ask.to_string());
                if self.futures() {
                    ticker["time"] = json!(now_ms() + self.clock_offset_ms);
                }
                answer(StatusCode::OK, ticker, &[])
            }
            _ => {
                if method == Method::POST && endpoint == "/order" {
                    let id = params.get("newClientOrderId").cloned().unwrap_or_default();
                    *self.attempts.entry(id).or_default() += 1;
                }
                if let Some(refused) = self.authenticate(headers, query, body, &params) {
                    return refused;
                }
                match (method.as_str(), endpoint, v2) {
                    ("POST", "/order", false) => self.place(&params),
                    ("GET", "/order", false) => self.query(&params),
                    ("DELETE", "/order", false) => self.cancel(&params),
                    ("GET", "/openOrders", false) => self.open_orders(&params),
                    ("GET", "/account", false) if !self.futures() => self.account(&params),
                    ("POST", "/leverage", false) if self.futures() => self.set_leverage(&params),
                    ("GET", "/positionRisk", true) => self.position_risk(&params),
                    ("GET", "/balance", true) => self.futures_balance(),
                    _ => not_found(),
                }
            }
        }
    }

    /// The venue's checks of a SIGNED request: the key, the time window, the signature.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        query: &str,
        body: &str,
        params: &HashMap<String, String>,
    ) -> Option<Response> {
        let key = headers.get("X-MBX-APIKEY").and_then(|v| v.to_str().ok()).unwrap_or("");
        if key != self.api_key {
            return Some(answer(
                StatusCode::UNAUTHORIZED,
                json!({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}),
                &[],
            ));
        }
        let server = now_ms() + self.clock_offset_ms;
        let recv: i64 = params.get("recvWindow").and_then(|w| w.parse().ok()).unwrap_or(5000);
        if recv > 60_000 {
            return Some(refusal(-1131, "recvWindow must be less than 60000"));
        }
        let Some(stamp) = params.get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
            return Some(refusal(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."));
        };
        if !(stamp < server + 1000 && server - stamp <= recv) {
            return Some(error_fixture("error_timestamp.json", None));
        }
        // The signature covers the query string (without itself) followed by the body.
        let unsigned: Vec<&str> = query.split('&').filter(|p| !p.starts_with("signature=")).collect();
        let total = format!("{}{body}", unsigned.join("&"));
        if params.get("signature").map(String::as_str) != Some(hex_hmac(&self.api_secret, &total).as_str()) {
            return Some(error_fixture("error_invalid_signature.json", None));
        }
        None
    }

    fn failure_answer(&mut self, failure: Failure) -> Option<Response> {
        let futures = self.futures();
        Some(match failure {
            Failure::InsufficientBalance => {
                error_fixture("error_insufficient_balance.json", Some(if futures { "futures" } else { "spot" }))
            }
            Failure::FilterFailure => error_fixture("error_filter_failure.json", Some("lot_size")),
            Failure::RateLimited { retry_after_secs } => answer(
                StatusCode::TOO_MANY_REQUESTS,
                fixture("error_too_many_requests.json"),
                &[("Retry-After", retry_after_secs.to_string())],
            ),
            Failure::Banned { retry_after_secs } => answer(
                StatusCode::IM_A_TEAPOT,
                json!({"code": -1003, "msg": "Way too much request weight used; IP banned until 1700000000000. Please use WebSocket Streams for live updates to avoid bans."}),
                &[("Retry-After", retry_after_secs.to_string())],
            ),
            Failure::RecvWindow => error_fixture("error_timestamp.json", None),
            Failure::ServerError => Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(Body::from("Internal Server Error"))
                .unwrap(),
            Failure::TooManyVisits { .. } => {
                self.weight.1 = self.weight.1.max(self.weight_limit * 95 / 100);
                return None;
            }
        })
    }

    fn place(&mut self, params: &HashMap<String, String>) -> Response {
        if let Some(failure) = self.failures.pop_front()
            && let Some(refused) = self.failure_answer(failure)
        {
            return refused;
        }
        let futures = self.futures();
        let get = |name: &str| params.get(name).cloned().unwrap_or_default();
        let symbol = get("symbol");
        let Some(filters) = self.filters.get(&symbol).copied() else {
            return refusal(-1121, "Invalid symbol.");
        };
        let id = get("newClientOrderId");
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-');
        if id.is_empty() || id.len() > 36 || !id.chars().all(legal) {
            return refusal(
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
            );
        }
        if self.orders.iter().any(|o| o.client_order_id == id && o.open()) {
            return if futures {
                refusal(-4116, "ClientOrderId is duplicated.")
            } else {
                refusal(-2010, "Duplicate order sent.")
            };
        }
        let side = get("side");
        let order_type = get("type");
        if !matches!(side.as_str(), "BUY" | "SELL") {
            return refusal(-1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.");
        }
        if !matches!(order_type.as_str(), "LIMIT" | "MARKET") {
            return refusal(-1116, "Invalid orderType.");
        }
        let Ok(quantity) = Decimal::from_str(&get("quantity")) else {
            return refusal(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.");
        };
        let price = if order_type == "LIMIT" {
            let Ok(price) = Decimal::from_str(&get("price")) else {
                return refusal(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.");
            };
            if get("timeInForce").is_empty() {
                return refusal(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.");
            }
            Some(price)
        } else {
            None
        };
        let (bid, ask) = self.quotes.get(&symbol).copied().unwrap_or_default();
        let buy = side == "BUY";
        let reference = price.unwrap_or(if buy { ask } else { bid });
        let reduce_only = futures && get("reduceOnly") == "true";
        // Filters, in the venue's order: price, quantity, notional.
        if let Some(price) = price
            && (price < filters.min_price || !(price % filters.tick).is_zero())
        {
            return if futures {
                refusal(-4014, "Price not increased by tick size.")
            } else {
                error_fixture("error_filter_failure.json", Some("price_filter"))
            };
        }
        if !(quantity % filters.step).is_zero() && futures {
            return refusal(-1111, "Precision is over the maximum defined for this asset.");
        }
        if !(quantity % filters.step).is_zero() || quantity < filters.min_qty || quantity > filters.max_qty {
            return error_fixture("error_filter_failure.json", Some("lot_size"));
        }
        if quantity * reference < filters.min_notional && !reduce_only {
            return if futures {
                refusal(
                    -4164,
                    &format!(
                        "Order's notional must be no smaller than {} (unless you choose reduce only).",
                        filters.min_notional.normalize()
                    ),
                )
            } else {
                error_fixture("error_filter_failure.json", Some("notional"))
            };
        }
        if reduce_only {
            let held = self.positions.get(&symbol).map_or(Decimal::ZERO, |p| p.0);
            let reduces = if buy { held < Decimal::ZERO } else { held > Decimal::ZERO };
            if !reduces || quantity > held.abs() {
                return refusal(-2022, "ReduceOnly Order is rejected.");
            }
        } else if futures {
            let leverage = self.leverage.get(&symbol).copied().unwrap_or(DEFAULT_LEVERAGE);
            if quantity * reference / leverage > self.available_margin() {
                return error_fixture("error_insufficient_balance.json", Some("futures"));
            }
        } else {
            let asset = if buy { "USDT".to_owned() } else { self.base_asset(&symbol) };
            let need = if buy { quantity * reference } else { quantity };
            let (total, locked) = self.wallet.get(&asset).copied().unwrap_or_default();
            if need > total - locked {
                return error_fixture("error_insufficient_balance.json", Some("spot"));
            }
            if order_type == "LIMIT" {
                self.wallet.entry(asset).or_default().1 += need;
            }
        }
        let order_id = self.next_id;
        self.next_id += 1;
        self.orders.push(Order {
            order_id,
            client_order_id: id,
            symbol,
            side,
            order_type: order_type.clone(),
            price,
            quantity,
            filled: Decimal::ZERO,
            filled_value: Decimal::ZERO,
            fee: Decimal::ZERO,
            status: "NEW".to_owned(),
            reduce_only,
            created_ms: now_ms() + self.clock_offset_ms,
            fills: Vec::new(),
        });
        let index = self.orders.len() - 1;
        if order_type == "MARKET" {
            self.apply_fill(index, quantity, reference, TAKER_FEE);
        }
        let order = self.orders[index].clone();
        let mut item = self.order_item(&order);
        if !futures {
            // A spot order's own answer: FULL, with its fills and their commissions.
            let template = fixture("api_v3_order_full.json");
            for field in ["time", "updateTime", "isWorking", "stopPrice", "icebergQty"] {
                if let Some(map) = item.as_object_mut() {
                    map.remove(field);
                }
            }
            item["transactTime"] = json!(order.created_ms);
            let fill_template = template["fills"][0].clone();
            item["fills"] = json!(
                order
                    .fills
                    .iter()
                    .map(|(price, qty, commission, trade)| {
                        let mut fill = fill_template.clone();
                        fill["price"] = json!(price.to_string());
                        fill["qty"] = json!(qty.to_string());
                        fill["commission"] = json!(commission.normalize().to_string());
                        fill["commissionAsset"] = json!("USDT");
                        fill["tradeId"] = json!(trade);
                        fill
                    })
                    .collect::<Vec<_>>()
            );
        }
        answer(StatusCode::OK, item, &[])
    }

    /// USDT not taken by the margin of positions and of open orders that add to them.
    fn available_margin(&self) -> Decimal {
        let total = self.wallet.get("USDT").map_or(Decimal::ZERO, |w| w.0);
        let leverage = |symbol: &str| self.leverage.get(symbol).copied().unwrap_or(DEFAULT_LEVERAGE);
        let positions: Decimal = self.positions.iter().map(|(s, (size, avg))| size.abs() * avg / leverage(s)).sum();
        let orders: Decimal = self
            .orders
            .iter()
            .filter(|o| o.open() && !o.reduce_only)
            .map(|o| (o.quantity - o.filled) * o.price.unwrap_or_default() / leverage(&o.symbol))
            .sum();
        total - positions - orders
    }

    /// `quantity` of order `index` filled at `price`: the order, then the balances or position.
    fn apply_fill(&mut self, index: usize, quantity: Decimal, price: Decimal, fee_rate: Decimal) {
        let futures = self.futures();
        let base = self.base_asset(&self.orders[index].symbol.clone());
        let trade_id = self.next_id;
        self.next_id += 1;
        let order = &mut self.orders[index];
        let quantity = quantity.min(order.quantity - order.filled);
        let value = quantity * price;
        let fee = value * fee_rate;
        order.filled += quantity;
        order.filled_value += value;
        order.fee += fee;
        order.fills.push((price, quantity, fee, trade_id));
        order.status = if order.filled >= order.quantity { "FILLED" } else { "PARTIALLY_FILLED" }.to_owned();
        let order = order.clone();
        if futures {
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
            let usdt = self.wallet.entry("USDT".to_owned()).or_default();
            usdt.0 -= value + fee;
            if let Some(limit) = order.price {
                usdt.1 -= quantity * limit;
            }
            self.wallet.entry(base).or_default().0 += quantity;
        } else {
            let coin = self.wallet.entry(base).or_default();
            coin.0 -= quantity;
            if order.price.is_some() {
                coin.1 -= quantity;
            }
            self.wallet.entry("USDT".to_owned()).or_default().0 += value - fee;
        }
    }

    /// The order as `GET …/order` answers it.
    fn order_item(&self, order: &Order) -> Value {
        let price = order.price.unwrap_or_default().to_string();
        let time = order.created_ms;
        if self.futures() {
            let mut item = fixture("fapi_v1_order.json");
            let average = if order.filled.is_zero() { Decimal::ZERO } else { order.filled_value / order.filled };
            item["clientOrderId"] = json!(order.client_order_id);
            item["orderId"] = json!(order.order_id);
            item["symbol"] = json!(order.symbol);
            item["side"] = json!(order.side);
            item["type"] = json!(order.order_type);
            item["origType"] = json!(order.order_type);
            item["timeInForce"] = json!("GTC");
            item["price"] = json!(price);
            item["origQty"] = json!(order.quantity.to_string());
            item["executedQty"] = json!(order.filled.to_string());
            item["cumQty"] = json!(order.filled.to_string());
            item["cumQuote"] = json!(order.filled_value.normalize().to_string());
            item["avgPrice"] = json!(average.round_dp(8).normalize().to_string());
            item["status"] = json!(order.status);
            item["reduceOnly"] = json!(order.reduce_only);
            item["updateTime"] = json!(time);
            item["time"] = json!(time);
            item
        } else {
            let mut item = fixture("api_v3_order_query.json");
            item["clientOrderId"] = json!(order.client_order_id);
            item["orderId"] = json!(order.order_id);
            item["symbol"] = json!(order.symbol);
            item["side"] = json!(order.side);
            item["type"] = json!(order.order_type);
            item["timeInForce"] = json!("GTC");
            item["price"] = json!(price);
            item["origQty"] = json!(order.quantity.to_string());
            item["executedQty"] = json!(order.filled.to_string());
            item["cummulativeQuoteQty"] = json!(order.filled_value.normalize().to_string());
            item["status"] = json!(order.status);
            item["isWorking"] = json!(order.open());
            item["time"] = json!(time);
            item["updateTime"] = json!(time);
            item["workingTime"] = json!(time);
            item
        }
    }

    /// The latest order named by `origClientOrderId` (or `orderId`) on `symbol`.
    fn find(&self, params: &HashMap<String, String>) -> Option<usize> {
        let symbol = params.get("symbol")?;
        let by_client = params.get("origClientOrderId");
        let by_id = params.get("orderId").and_then(|i| i.parse::<i64>().ok());
        self.orders.iter().rposition(|o| {
            &o.symbol == symbol
                && (by_client.is_some_and(|c| *c == o.client_order_id) || by_id.is_some_and(|i| i == o.order_id))
        })
    }

    fn query(&self, params: &HashMap<String, String>) -> Response {
        match self.find(params) {
            Some(index) => answer(StatusCode::OK, self.order_item(&self.orders[index]), &[]),
            None => error_fixture("error_unknown_order.json", Some("query")),
        }
    }

    fn cancel(&mut self, params: &HashMap<String, String>) -> Response {
        let Some(index) = self.find(params).filter(|i| self.orders[*i].open()) else {
            return error_fixture("error_unknown_order.json", Some("cancel"));
        };
        let order = self.orders[index].clone();
        let rest = order.quantity - order.filled;
        if !self.futures()
            && let Some(limit) = order.price
        {
            let (asset, locked) =
                if order.buy() { ("USDT".to_owned(), rest * limit) } else { (self.base_asset(&order.symbol), rest) };
            self.wallet.entry(asset).or_default().1 -= locked;
        }
        self.orders[index].status = "CANCELED".to_owned();
        let mut item = self.order_item(&self.orders[index]);
        if !self.futures() {
            // Spot answers a cancel with the original id in `origClientOrderId` and, in
            // `clientOrderId`, the cancel request's own id (generated when not given).
            let cancel_id =
                params.get("newClientOrderId").cloned().unwrap_or_else(|| format!("cancel{}", self.next_id));
            self.next_id += 1;
            item["origClientOrderId"] = json!(order.client_order_id);
            item["clientOrderId"] = json!(cancel_id);
            item["transactTime"] = json!(now_ms() + self.clock_offset_ms);
            for field in ["time", "updateTime", "isWorking", "workingTime", "stopPrice", "icebergQty"] {
                if let Some(map) = item.as_object_mut() {
                    map.remove(field);
                }
            }
        }
        answer(StatusCode::OK, item, &[])
    }

    fn open_orders(&self, params: &HashMap<String, String>) -> Response {
        let symbol = params.get("symbol");
        let list: Vec<Value> = self
            .orders
            .iter()
            .filter(|o| o.open() && symbol.is_none_or(|s| *s == o.symbol))
            .map(|o| self.order_item(o))
            .collect();
        answer(StatusCode::OK, json!(list), &[])
    }

    fn account(&self, params: &HashMap<String, String>) -> Response {
        let omit_zero = params.get("omitZeroBalances").is_some_and(|v| v == "true");
        let mut account = fixture("api_v3_account.json");
        account["updateTime"] = json!(now_ms() + self.clock_offset_ms);
        let balances: Vec<Value> = self
            .wallet
            .iter()
            .filter(|(_, (total, _))| !omit_zero || !total.is_zero())
            .map(|(asset, (total, locked))| {
                json!({"asset": asset, "free": (total - locked).normalize().to_string(), "locked": locked.normalize().to_string()})
            })
            .collect();
        account["balances"] = json!(balances);
        answer(StatusCode::OK, account, &[])
    }

    fn set_leverage(&mut self, params: &HashMap<String, String>) -> Response {
        let symbol = params.get("symbol").cloned().unwrap_or_default();
        if !self.filters.contains_key(&symbol) {
            return refusal(-1121, "Invalid symbol.");
        }
        let Some(leverage) = params.get("leverage").and_then(|l| l.parse::<i64>().ok()) else {
            return refusal(-1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed.");
        };
        if !(1..=125).contains(&leverage) {
            return refusal(-4028, "Leverage is not valid");
        }
        self.leverage.insert(symbol.clone(), Decimal::from(leverage));
        let mut body = fixture("fapi_v1_leverage.json");
        body["leverage"] = json!(leverage);
        body["symbol"] = json!(symbol);
        answer(StatusCode::OK, body, &[])
    }

    fn position_risk(&self, params: &HashMap<String, String>) -> Response {
        let template = fixture("fapi_v2_positionRisk.json")[0].clone();
        let symbols: Vec<String> = match params.get("symbol") {
            Some(symbol) => vec![symbol.clone()],
            None => self.filters.keys().cloned().collect(),
        };
        let rows: Vec<Value> = symbols
            .iter()
            .map(|symbol| {
                let (size, avg) = self.positions.get(symbol).copied().unwrap_or_default();
                let (bid, ask) = self.quotes.get(symbol).copied().unwrap_or_default();
                let mark = (bid + ask) / dec!(2);
                let mut row = template.clone();
                row["symbol"] = json!(symbol);
                row["positionAmt"] = json!(size.to_string());
                row["entryPrice"] = json!(avg.round_dp(8).normalize().to_string());
                row["markPrice"] = json!(mark.normalize().to_string());
                row["notional"] = json!((size * mark).normalize().to_string());
                row["unRealizedProfit"] = json!(((mark - avg) * size).normalize().to_string());
                row["leverage"] = json!(self.leverage.get(symbol).copied().unwrap_or(DEFAULT_LEVERAGE).to_string());
                row["marginType"] = json!("cross");
                row["updateTime"] = json!(now_ms() + self.clock_offset_ms);
                row
            })
            .collect();
        answer(StatusCode::OK, json!(rows), &[])
    }

    fn futures_balance(&self) -> Response {
        let mut row = fixture("fapi_v2_balance.json")[0].clone();
        let total = self.wallet.get("USDT").map_or(Decimal::ZERO, |w| w.0);
        let available = self.available_margin();
        row["asset"] = json!("USDT");
        row["balance"] = json!(total.normalize().to_string());
        row["crossWalletBalance"] = json!(total.normalize().to_string());
        row["availableBalance"] = json!(available.normalize().to_string());
        row["maxWithdrawAmount"] = json!(available.normalize().to_string());
        row["updateTime"] = json!(now_ms() + self.clock_offset_ms);
        answer(StatusCode::OK, json!([row]), &[])
    }
}
