//! The local control API (axum) on `127.0.0.1:<port>`.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /health` | the health report; 200 when healthy or degraded, 503 otherwise |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /status` | JSON: trading state, positions, P&L, limits in use |
//! | `POST /halt`, `/resume`, `/kill`, `/close/{position}`, `/adopt/{token}`, `/drop/{trade}` | control; bearer token required |
//!
//! Control requests without the right token answer 401, change nothing, and are audited. Every
//! request is timed into performance.log. The API is a thin adapter: it reads `watch` channels
//! that the engine and the health monitor publish and forwards control requests on an mpsc.

mod auth;
mod client;
mod prometheus;
mod server;
mod status_view;

pub use client::{ApiClient, ClientError};
pub use prometheus::{MetricKind, PromText};
pub use server::{ApiError, ApiState, ControlReply, ControlRequest, ControlSender, bind, serve};
pub use status_view::{MismatchView, PositionView, StatusView, StoreView, WalletView};
