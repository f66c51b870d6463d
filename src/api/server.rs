//! The HTTP server: routes, auth, request timing, graceful shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::auth::authorize;
use super::conn::{ConnHandle, accept_loop};
use crate::config::{ApiConfig, Secret};
pub use crate::engine::ControlOutcome;
use crate::engine::PlanAnswer;
use crate::history::{HistoryError, HistoryQuery};
use crate::logging::{AUDIT_TARGET, record_http_call};
use crate::plans::{PlanSource, PlanWire};
use crate::runtime::silences::{SilenceCommand, SilenceControl, SilenceControlError};

/// A control request forwarded to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ControlRequest {
    Halt {
        reason: String,
    },
    Resume,
    /// Flatten every position and halt.
    Kill {
        reason: String,
    },
    Close {
        position: String,
    },
    /// Take the venue's position in a token into the books (live mode, after a position mismatch).
    Adopt {
        token: String,
    },
    /// Forget a trade the venue no longer holds (live mode, after a position mismatch).
    Drop {
        trade: String,
    },
    /// Lift a muted whale's mute before its cooldown ends.
    Unmute {
        wallet: String,
    },
    /// A trade plan to decide on.
    SubmitPlan {
        plan: Box<PlanWire>,
        source: PlanSource,
    },
    /// An open plan's outcome: it ended at `exit_price`.
    ClosePlan {
        plan_id: String,
        exit_price: Decimal,
    },
}

/// The engine's answer to a control request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlReply {
    pub outcome: ControlOutcome,
    pub message: String,
    pub trading_state: String,
    /// A plan command's decision or close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanAnswer>,
}

impl ControlReply {
    pub fn ok(&self) -> bool {
        self.outcome == ControlOutcome::Done
    }

    /// Done answers 200, a refusal in the current state 409, an unknown trade or token 404.
    pub(crate) fn status_code(&self) -> StatusCode {
        match self.outcome {
            ControlOutcome::Done => StatusCode::OK,
            ControlOutcome::Refused => StatusCode::CONFLICT,
            ControlOutcome::NotFound => StatusCode::NOT_FOUND,
        }
    }

    /// The JSON the CLI reads: `ok`, `outcome`, `message`, `trading_state`, and a plan
    /// command's `decision` or `close`.
    pub(crate) fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "ok": self.ok(),
            "outcome": self.outcome,
            "message": self.message,
            "trading_state": self.trading_state,
        });
        match &self.plan {
            Some(PlanAnswer::Decision(decision)) => {
                body["decision"] = serde_json::to_value(decision).unwrap_or_default()
            }
            Some(PlanAnswer::Close(close)) => body["close"] = serde_json::to_value(close).unwrap_or_default(),
            None => {}
        }
        body
    }
}

/// Requests go to the engine with a channel for its reply.
pub type ControlSender = mpsc::Sender<(ControlRequest, oneshot::Sender<ControlReply>)>;

type JsonSource = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Answers a history question (`/trades`, `/profit`, `/daily`) from the store; blocking, so the
/// handler runs it off the async threads.
pub type HistorySource = Arc<dyn Fn(&HistoryQuery) -> Result<serde_json::Value, HistoryError> + Send + Sync>;

/// What the API reads and where it sends control requests.
#[derive(Clone)]
pub struct ApiState {
    pub token: Secret,
    /// The engine's status (state, positions, P&L, limits).
    pub status: JsonSource,
    /// The latest health report and whether it counts as serving (healthy or degraded).
    pub health: Arc<dyn Fn() -> (bool, serde_json::Value) + Send + Sync>,
    /// The `/metrics` body.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// Trade history, profit and daily P&L.
    pub history: HistorySource,
    pub control: ControlSender,
    /// Silence commands (`None`: this server offers no silences and answers 503).
    pub silences: Option<SilenceControl>,
    /// Connection and request bounds, and who may ask.
    pub limits: Arc<ApiLimits>,
    /// The trade-plan routes (`None`: plans are not taken, and they answer 503).
    pub signals: Option<super::signals::SignalsApi>,
}

/// The `[api]` bounds the server enforces (read once at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_body_bytes: usize,
    /// Lower-case host names, without port.
    pub allowed_hosts: Vec<String>,
    pub metrics_require_token: bool,
}

impl ApiLimits {
    pub fn from_config(config: &ApiConfig) -> Self {
        Self {
            max_connections: config.max_connections,
            header_timeout: Duration::from_secs(config.header_timeout_secs),
            body_timeout: Duration::from_secs(config.body_timeout_secs),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            max_body_bytes: config.max_body_bytes,
            allowed_hosts: config.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            metrics_require_token: config.metrics_require_token,
        }
    }
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self::from_config(&ApiConfig::default())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("api.bind = {bind}: refusing to listen on a non-loopback address without api.allow_non_loopback = true")]
    NotLoopback { bind: String },
    #[error("api.bind = {bind}: not an IP address")]
    BadAddress { bind: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// Binds the listener, refusing non-loopback addresses unless the config allows them.
pub async fn bind(config: &ApiConfig) -> Result<TcpListener, ApiError> {
    let ip: std::net::IpAddr = config.bind.parse().map_err(|_| ApiError::BadAddress { bind: config.bind.clone() })?;
    if !ip.is_loopback() && !config.allow_non_loopback {
        return Err(ApiError::NotLoopback { bind: config.bind.clone() });
    }
    let addr = SocketAddr::new(ip, config.port);
    TcpListener::bind(addr).await.map_err(|source| ApiError::Listen { addr, source })
}

/// Serves until `stop` is cancelled; requests in flight then finish.
pub async fn serve(listener: TcpListener, state: ApiState, stop: CancellationToken) -> Result<(), ApiError> {
    let limits = state.limits.clone();
    accept_loop(listener, router(state), limits, stop).await;
    Ok(())
}

/// The routes behind the guard (host, token, body bounds) and the request timing.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/trades", get(trades))
        .route("/profit", get(profit))
        .route("/daily", get(daily))
        .route("/halt", post(halt))
        .route("/resume", post(resume))
        .route("/kill", post(kill))
        .route("/close/{position}", post(close))
        .route("/adopt/{token}", post(adopt))
        .route("/drop/{trade}", post(drop_trade))
        .route("/unmute/{wallet}", post(unmute))
        .route("/silences", get(list_silences).post(add_silence))
        .route("/silences/{id}/expire", post(expire_silence))
        .route("/signals", get(super::signals::stats).post(super::signals::submit))
        .route("/signals/summary", post(super::signals::summary))
        .route("/signals/{plan_id}/close", post(super::signals::close))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn(time_request))
        .with_state(state)
}

/// Every request's method, route, status and latency go to performance.log. The route is the
/// template (`/close/{trade}`), never the client's path, so a line stays short whatever a client
/// sends.
async fn time_request(request: Request, next: Next) -> Response {
    let started = crate::clock::monotonic();
    let method = request.method().as_str().chars().take(16).collect::<String>();
    let path = route_of(request.uri().path());
    let response = next.run(request).await;
    record_http_call(&method, path, Some(response.status().as_u16()), started.elapsed());
    response
}

/// The route a path belongs to, as the router names it.
fn route_of(path: &str) -> &'static str {
    const EXACT: [&str; 12] = [
        "/health",
        "/metrics",
        "/status",
        "/trades",
        "/profit",
        "/daily",
        "/halt",
        "/resume",
        "/kill",
        "/silences",
        "/signals",
        "/signals/summary",
    ];
    const WITH_ID: [(&str, &str); 6] = [
        ("/silences/", "/silences/{id}/expire"),
        ("/signals/", "/signals/{plan_id}/close"),
        ("/close/", "/close/{trade}"),
        ("/adopt/", "/adopt/{token}"),
        ("/drop/", "/drop/{trade}"),
        ("/unmute/", "/unmute/{wallet}"),
    ];
    if let Some(route) = EXACT.iter().find(|r| **r == path) {
        return route;
    }
    WITH_ID.iter().find(|(prefix, _)| path.starts_with(prefix)).map_or("(no route)", |(_, route)| route)
}

/// Before any handler: the `Host` must be an allowed name (421 otherwise), every route but
/// `/health` (and `/metrics` unless configured) needs the token (401) — both checked before a
/// byte of body is read, so an unauthorized client cannot hold a connection with a long body —
/// then the body is read whole within its size (413) and time (408) bounds.
async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let limits = &state.limits;
    if let Err(why) = check_host(&limits.allowed_hosts, &request) {
        note_refusal(RefusalCause::Host, why);
        return refusal(
            StatusCode::MISDIRECTED_REQUEST,
            &format!("{why}; this API answers only to its configured host names (api.allowed_hosts)"),
        );
    }
    let path = request.uri().path();
    let open = path == "/health" || (path == "/metrics" && !limits.metrics_require_token);
    if !open {
        if let Err(failure) = authorize(request.headers(), &state.token) {
            note_refusal(RefusalCause::Token, failure.as_str());
            return refusal(StatusCode::UNAUTHORIZED, &format!("unauthorized: {}", failure.as_str()));
        }
        if let Some(ConnHandle(conn)) = request.extensions().get::<ConnHandle>() {
            conn.authorized();
        }
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        note_refusal(RefusalCause::Body, "declared body too large");
        return too_large(limits.max_body_bytes);
    }
    let (parts, body) = request.into_parts();
    let collected =
        tokio::time::timeout(limits.body_timeout, Limited::new(body, limits.max_body_bytes).collect()).await;
    let bytes = match collected {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            note_refusal(RefusalCause::Body, "body too large");
            return too_large(limits.max_body_bytes);
        }
        Ok(Err(_)) => {
            note_refusal(RefusalCause::Body, "body could not be read");
            return refusal(StatusCode::BAD_REQUEST, "the request body could not be read");
        }
        Err(_) => {
            note_refusal(RefusalCause::Body, "body timed out");
            return refusal(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the request body did not arrive within {} s", limits.body_timeout.as_secs()),
            );
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

fn too_large(max: usize) -> Response {
    refusal(StatusCode::PAYLOAD_TOO_LARGE, &format!("request bodies are limited to {max} bytes (api.max_body_bytes)"))
}

pub(super) fn refusal(code: StatusCode, message: &str) -> Response {
    (code, axum::Json(serde_json::json!({ "ok": false, "message": message }))).into_response()
}

/// The request's `Host` (and the authority of an absolute-form target, if any) names an allowed
/// host, with or without a port.
fn check_host(allowed: &[String], request: &Request) -> Result<(), &'static str> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().map_err(|_| "the Host header is not text")?,
        (None, _) => return Err("the request has no Host header"),
        (Some(_), Some(_)) => return Err("the request has more than one Host header"),
    };
    if !host_allowed(allowed, host) {
        return Err("the Host header names a host this API does not answer to");
    }
    match request.uri().authority() {
        Some(authority) if !host_allowed(allowed, authority.as_str()) => {
            Err("the request target names a host this API does not answer to")
        }
        _ => Ok(()),
    }
}

/// `name`, `name:port`, `[v6]` or `[v6]:port`, the name compared without regard to case.
pub(super) fn host_allowed(allowed: &[String], host: &str) -> bool {
    let (name, port) = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => host.split_at(end + 1),
            None => return false,
        }
    } else {
        match host.find(':') {
            Some(colon) => host.split_at(colon),
            None => (host, ""),
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// Why the API turned something away; each cause is logged at most once per interval.
#[derive(Debug, Clone, Copy)]
pub(super) enum RefusalCause {
    Host,
    Token,
    Body,
    Evicted,
    Full,
    Accept,
}

/// A flood of bad requests must not grow the logs: one line per cause per interval, with the
/// count of the ones folded into it.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

struct RefusalLog {
    /// Per cause: when it was last logged, and how many came since.
    causes: [(Option<Instant>, u64); 6],
}

static REFUSALS: Mutex<RefusalLog> = Mutex::new(RefusalLog { causes: [(None, 0); 6] });

pub(super) fn note_refusal(cause: RefusalCause, detail: &str) {
    let now = crate::clock::monotonic();
    let folded = {
        let mut log = REFUSALS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, count) = &mut log.causes[cause as usize];
        *count += 1;
        if last.is_some_and(|at| now.duration_since(at) < REFUSAL_LOG_INTERVAL) {
            return;
        }
        *last = Some(now);
        std::mem::take(count) - 1
    };
    match cause {
        RefusalCause::Token => tracing::warn!(
            target: AUDIT_TARGET, event = "control_rejected", reason = detail, folded,
            "request refused: no valid bearer token"
        ),
        RefusalCause::Host => tracing::warn!(
            target: AUDIT_TARGET, event = "host_rejected", reason = detail, folded,
            "request refused: not addressed to an allowed host name (possible DNS rebinding)"
        ),
        _ => tracing::warn!(cause = ?cause, reason = detail, folded, "control API refusal"),
    }
}

async fn health(State(state): State<ApiState>) -> Response {
    let (serving, report) = (state.health)();
    let code = if serving { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, axum::Json(report)).into_response()
}

async fn metrics(State(state): State<ApiState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], (state.metrics)()).into_response()
}

async fn status(State(state): State<ApiState>) -> Response {
    axum::Json((state.status)()).into_response()
}

/// Query parameters at most, for the history routes (each one's value is bounded by its parser).
const MAX_QUERY_PARAMS: usize = 8;

async fn trades(State(state): State<ApiState>, Query(params): Query<Vec<(String, String)>>) -> Response {
    match bounded(&params).and_then(crate::history::trade_filter_from_params) {
        Ok(filter) => history(&state, HistoryQuery::Trades(filter)).await,
        Err(e) => refusal(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn profit(State(state): State<ApiState>, Query(params): Query<Vec<(String, String)>>) -> Response {
    match params.first() {
        None => history(&state, HistoryQuery::Profit).await,
        Some((name, _)) => {
            let e = HistoryError::UnknownParameter { name: name.chars().take(40).collect() };
            refusal(StatusCode::BAD_REQUEST, &e.to_string())
        }
    }
}

async fn daily(State(state): State<ApiState>, Query(params): Query<Vec<(String, String)>>) -> Response {
    match bounded(&params).and_then(crate::history::days_from_params) {
        Ok(days) => history(&state, HistoryQuery::Daily { days }).await,
        Err(e) => refusal(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

fn bounded(params: &[(String, String)]) -> Result<&[(String, String)], HistoryError> {
    if params.len() > MAX_QUERY_PARAMS {
        return Err(HistoryError::BadParameter {
            field: "query",
            value: format!("{} parameters", params.len()),
            rule: "at most 8 parameters",
        });
    }
    Ok(params)
}

/// Reads the store on a blocking thread; an unreadable store answers 503.
async fn history(state: &ApiState, query: HistoryQuery) -> Response {
    let source = state.history.clone();
    match tokio::task::spawn_blocking(move || source(&query)).await {
        Ok(Ok(body)) => axum::Json(body).into_response(),
        Ok(Err(e @ HistoryError::Store(_))) => unavailable(&format!("the store cannot be read: {e}")),
        Ok(Err(e)) => refusal(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(_) => unavailable("the history read stopped before answering"),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    reason: Option<String>,
}

/// Longest reason kept (characters); the audit trail and alerts carry it.
const MAX_REASON_CHARS: usize = 500;

fn reason_from(body: &[u8], default: &str) -> String {
    serde_json::from_slice::<ReasonBody>(body)
        .ok()
        .and_then(|b| b.reason)
        .filter(|r| !r.trim().is_empty())
        .map(|r| r.chars().take(MAX_REASON_CHARS).collect())
        .unwrap_or_else(|| default.to_string())
}

async fn halt(State(state): State<ApiState>, body: axum::body::Bytes) -> Response {
    let reason = reason_from(&body, "manual halt via API");
    control(&state, "/halt", ControlRequest::Halt { reason }).await
}

async fn resume(State(state): State<ApiState>) -> Response {
    control(&state, "/resume", ControlRequest::Resume).await
}

async fn kill(State(state): State<ApiState>, body: axum::body::Bytes) -> Response {
    let reason = reason_from(&body, "manual kill via API");
    control(&state, "/kill", ControlRequest::Kill { reason }).await
}

async fn close(State(state): State<ApiState>, Path(position): Path<String>) -> Response {
    if let Some(refusal) = refuse_id("trade", &position) {
        return refusal;
    }
    control(&state, "/close", ControlRequest::Close { position }).await
}

async fn adopt(State(state): State<ApiState>, Path(token): Path<String>) -> Response {
    if let Some(refusal) = refuse_id("token", &token) {
        return refusal;
    }
    control(&state, "/adopt", ControlRequest::Adopt { token }).await
}

async fn drop_trade(State(state): State<ApiState>, Path(trade): Path<String>) -> Response {
    if let Some(refusal) = refuse_id("trade", &trade) {
        return refusal;
    }
    control(&state, "/drop", ControlRequest::Drop { trade }).await
}

async fn unmute(State(state): State<ApiState>, Path(wallet): Path<String>) -> Response {
    if let Some(refusal) = refuse_id("wallet", &wallet) {
        return refusal;
    }
    control(&state, "/unmute", ControlRequest::Unmute { wallet }).await
}

/// `POST /silences`: `{"matchers": ["whale=Alice"], "duration": "2h", "reason": "…"}`; `by`
/// may say `cli` when the command line sends it, anything else is recorded as `api`.
#[derive(Debug, Deserialize)]
struct AddSilenceBody {
    matchers: Vec<String>,
    duration: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    by: Option<String>,
}

async fn list_silences(State(state): State<ApiState>) -> Response {
    silence(&state, SilenceCommand::List, "api").await
}

async fn add_silence(State(state): State<ApiState>, body: axum::body::Bytes) -> Response {
    let body = match serde_json::from_slice::<AddSilenceBody>(&body) {
        Ok(body) => body,
        Err(e) => {
            let message = format!(
                "the body must be JSON {{\"matchers\": [\"KEY=VALUE\", …], \"duration\": \"2h\", \"reason\": \"…\"}}: {e}"
            );
            return refusal(StatusCode::BAD_REQUEST, &message);
        }
    };
    let by = if body.by.as_deref() == Some("cli") { "cli" } else { "api" };
    let command = SilenceCommand::Add {
        matchers: body.matchers,
        duration: body.duration,
        reason: body.reason.unwrap_or_default(),
    };
    silence(&state, command, by).await
}

async fn expire_silence(State(state): State<ApiState>, Path(id): Path<String>, body: axum::body::Bytes) -> Response {
    if let Some(refusal) = refuse_id("silence", &id) {
        return refusal;
    }
    let by = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) if v["by"] == "cli" => "cli",
        _ => "api",
    };
    silence(&state, SilenceCommand::Expire { id }, by).await
}

/// Hands a silence command to the one entry point every control path uses, and relays its answer.
async fn silence(state: &ApiState, command: SilenceCommand, by: &str) -> Response {
    let Some(silences) = &state.silences else {
        return unavailable("this daemon offers no silences");
    };
    match silences.execute(command, by).await {
        Ok(reply) => {
            let mut body = serde_json::to_value(&reply).unwrap_or_default();
            body["ok"] = true.into();
            body["message"] = reply.message().into();
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(SilenceControlError::Invalid(crate::alerts::SilenceError::NotFound { id })) => {
            refusal(StatusCode::NOT_FOUND, &format!("no silence {id:?} is in force"))
        }
        Err(SilenceControlError::Invalid(e)) => refusal(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e @ SilenceControlError::Store(_)) => unavailable(&e.to_string()),
    }
}

/// Ids in a path are bounded and plain (a token id is 78 digits, a trade id `T` and digits, a
/// wallet `0x` and 40 hex digits).
fn refuse_id(field: &str, value: &str) -> Option<Response> {
    let ok = !value.is_empty() && value.len() <= 100 && value.bytes().all(|b| b.is_ascii_alphanumeric());
    (!ok).then(|| {
        let message =
            format!("{field} {:?} must be 1 to 100 letters or digits", value.chars().take(100).collect::<String>());
        refusal(StatusCode::BAD_REQUEST, &message)
    })
}

/// Audits and forwards an authorized control request (the guard checked the token), then relays
/// the engine's reply.
async fn control(state: &ApiState, route: &str, request: ControlRequest) -> Response {
    match send_control(&state.control, "api", route, request).await {
        Ok(reply) => (reply.status_code(), axum::Json(reply.body())).into_response(),
        Err(message) => unavailable(message),
    }
}

/// The one way a human's control request reaches the engine, from the API or a chat: audited with
/// who asked (`api`, `telegram:<chat id>`), then answered by the engine. `Err` says why no answer came.
pub async fn send_control(
    sender: &ControlSender,
    who: &str,
    route: &str,
    request: ControlRequest,
) -> Result<ControlReply, &'static str> {
    tracing::info!(target: AUDIT_TARGET, event = "control_request", route, who, request = ?request, "control request accepted");
    let (reply_tx, reply_rx) = oneshot::channel();
    if sender.send((request, reply_tx)).await.is_err() {
        return Err("the engine is not running");
    }
    reply_rx.await.map_err(|_| "the engine stopped before answering")
}

pub(super) fn unavailable(message: &str) -> Response {
    refusal(StatusCode::SERVICE_UNAVAILABLE, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_host_names_pass_with_or_without_a_port() {
        let allowed = ApiLimits::default().allowed_hosts;
        for host in ["localhost", "LOCALHOST:8787", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:8787"] {
            assert!(host_allowed(&allowed, host), "{host}");
        }
        for host in [
            "attacker.example",
            "attacker.example:8787",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "localhost:",
            "localhost:abc",
            "localhost:123456",
            "[::1",
            "[::2]",
            "::1",
            "",
            "localhost:80:80",
        ] {
            assert!(!host_allowed(&allowed, host), "{host}");
        }
    }

    #[test]
    fn reasons_are_bounded_and_default_when_absent() {
        assert_eq!(reason_from(b"", "d"), "d");
        assert_eq!(reason_from(br#"{"reason":"  "}"#, "d"), "d");
        assert_eq!(reason_from(br#"{"reason":"drill"}"#, "d"), "drill");
        let long = format!(r#"{{"reason":"{}"}}"#, "é".repeat(2000));
        assert_eq!(reason_from(long.as_bytes(), "d").chars().count(), MAX_REASON_CHARS);
    }
}
