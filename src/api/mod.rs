//! The local control API (axum) on `127.0.0.1:<port>`.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /health` | the health report; 200 when healthy or degraded, 503 otherwise; open |
//! | `GET /metrics` | Prometheus text format; open unless `api.metrics_require_token` |
//! | `GET /status` | JSON: trading state, positions, P&L, limits in use; bearer token required |
//! | `GET /trades?whale=&market=&since=&limit=`, `/profit`, `/daily?days=` | trade history, profit, P&L per trading day, from the store with the open trades marked; bearer token required |
//! | `POST /halt`, `/resume`, `/kill`, `/close/{trade}`, `/adopt/{token}`, `/drop/{trade}` | control; bearer token required |
//! | `POST /signals` (a trade plan), `/signals/{plan_id}/close`, `/signals/summary`; `GET /signals` | trade plans: 200 approved, 422 refused (with the decision), 400 not a plan; bearer token required |
//!
//! Requests whose `Host` is not one of `api.allowed_hosts` answer 421 (a browser led there by DNS
//! rebinding reads nothing). Requests without the right token answer 401 before their body is
//! read, change nothing, and are audited (rate-limited). Control replies answer 200 when done, 409
//! when refused in the current state, 404 for an unknown trade or token. Connections are bounded in
//! number, idle time, head and body time, and body size (see `conn`). Every request is timed into
//! performance.log. The API is a thin adapter: it reads `watch` channels
//! that the engine and the health monitor publish and forwards control requests on an mpsc.

mod auth;
mod client;
mod conn;
mod prometheus;
mod server;
mod signals;
mod status_view;

pub use client::{ApiClient, ClientError};
pub use prometheus::{MetricKind, PromText, WhaleFamily, WhaleRow};
pub use server::{
    ApiError, ApiLimits, ApiState, ControlOutcome, ControlReply, ControlRequest, ControlSender, HistorySource, bind,
    router, send_control, serve,
};
pub use signals::{SignalsApi, SummaryReply};
pub use status_view::{
    ComponentView, HoldView, MismatchView, PositionView, RecordingView, StatusView, StoreView, WalletView, whale_line,
};
