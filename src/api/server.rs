//! The HTTP server: routes, auth, request timing, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::auth::authorize;
use crate::config::{ApiConfig, Secret};
use crate::logging::{AUDIT_TARGET, record_http_call};

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
}

/// The engine's answer to a control request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlReply {
    pub ok: bool,
    pub message: String,
    pub trading_state: String,
}

/// Requests go to the engine with a channel for its reply.
pub type ControlSender = mpsc::Sender<(ControlRequest, oneshot::Sender<ControlReply>)>;

type JsonSource = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

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
    pub control: ControlSender,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("api.bind = {bind}: refusing to listen on a non-loopback address without api.allow_non_loopback = true")]
    NotLoopback { bind: String },
    #[error("api.bind = {bind}: not an IP address")]
    BadAddress { bind: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("the API server failed: {0}")]
    Serve(std::io::Error),
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

/// Serves until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: ApiState, stop: CancellationToken) -> Result<(), ApiError> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/halt", post(halt))
        .route("/resume", post(resume))
        .route("/kill", post(kill))
        .route("/close/{position}", post(close))
        .route("/adopt/{token}", post(adopt))
        .route("/drop/{trade}", post(drop_trade))
        .layer(middleware::from_fn(time_request))
        .with_state(state);
    axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await.map_err(ApiError::Serve)
}

/// Every request's method, path, status and latency go to performance.log.
async fn time_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    record_http_call(&method, &path, Some(response.status().as_u16()), started.elapsed());
    response
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

#[derive(Debug, Default, Deserialize)]
struct ReasonBody {
    reason: Option<String>,
}

fn reason_from(body: &[u8], default: &str) -> String {
    serde_json::from_slice::<ReasonBody>(body)
        .ok()
        .and_then(|b| b.reason)
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

async fn halt(State(state): State<ApiState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let reason = reason_from(&body, "manual halt via API");
    control(&state, &headers, "/halt", ControlRequest::Halt { reason }).await
}

async fn resume(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    control(&state, &headers, "/resume", ControlRequest::Resume).await
}

async fn kill(State(state): State<ApiState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let reason = reason_from(&body, "manual kill via API");
    control(&state, &headers, "/kill", ControlRequest::Kill { reason }).await
}

async fn close(State(state): State<ApiState>, headers: HeaderMap, Path(position): Path<String>) -> Response {
    control(&state, &headers, "/close", ControlRequest::Close { position }).await
}

async fn adopt(State(state): State<ApiState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    if let Some(refusal) = unauthorized(&state, &headers, "/adopt").or_else(|| refuse_id("token", &token)) {
        return refusal;
    }
    control(&state, &headers, "/adopt", ControlRequest::Adopt { token }).await
}

async fn drop_trade(State(state): State<ApiState>, headers: HeaderMap, Path(trade): Path<String>) -> Response {
    if let Some(refusal) = unauthorized(&state, &headers, "/drop").or_else(|| refuse_id("trade", &trade)) {
        return refusal;
    }
    control(&state, &headers, "/drop", ControlRequest::Drop { trade }).await
}

/// Ids in a path are bounded and plain (a token id is 78 digits, a trade id `T` and digits).
fn refuse_id(field: &str, value: &str) -> Option<Response> {
    let ok = !value.is_empty() && value.len() <= 100 && value.bytes().all(|b| b.is_ascii_alphanumeric());
    (!ok).then(|| {
        let message =
            format!("{field} {:?} must be 1 to 100 letters or digits", value.chars().take(100).collect::<String>());
        (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "ok": false, "message": message }))).into_response()
    })
}

/// The refusal of a request without the right token (audited), if it has none.
fn unauthorized(state: &ApiState, headers: &HeaderMap, route: &str) -> Option<Response> {
    let failure = authorize(headers, &state.token).err()?;
    tracing::warn!(target: AUDIT_TARGET, event = "control_rejected", route, reason = failure.as_str(), "control request refused");
    let body = serde_json::json!({ "ok": false, "message": format!("unauthorized: {}", failure.as_str()) });
    Some((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response())
}

/// Authorizes, audits and forwards a control request, then relays the engine's reply.
async fn control(state: &ApiState, headers: &HeaderMap, route: &str, request: ControlRequest) -> Response {
    if let Some(refusal) = unauthorized(state, headers, route) {
        return refusal;
    }
    tracing::info!(target: AUDIT_TARGET, event = "control_request", route, request = ?request, "control request accepted");
    let (reply_tx, reply_rx) = oneshot::channel();
    if state.control.send((request, reply_tx)).await.is_err() {
        return unavailable("the engine is not running");
    }
    match reply_rx.await {
        Ok(reply) => {
            let code = if reply.ok { StatusCode::OK } else { StatusCode::CONFLICT };
            (code, axum::Json(reply)).into_response()
        }
        Err(_) => unavailable("the engine stopped before answering"),
    }
}

fn unavailable(message: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "ok": false, "message": message })))
        .into_response()
}
