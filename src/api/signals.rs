//! The trade-plan routes: `POST /signals` (a plan, answered with its decision),
//! `POST /signals/{plan_id}/close` (an open plan's outcome), `POST /signals/summary` (the batch
//! summary now) and `GET /signals` (the signal analytics and open plans).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::server::{ApiState, ControlRequest, refusal, send_control, unavailable};
use crate::engine::PlanAnswer;
use crate::plans::{PlanSource, PlanWire, is_plan_id};

/// A request for the batch summary now; the summary task answers with what it sent.
pub type SummaryReply = oneshot::Sender<Result<serde_json::Value, crate::runtime::plans::SummaryError>>;

/// What the API needs for the plan routes.
#[derive(Clone)]
pub struct SignalsApi {
    /// `signals.max_plan_bytes`.
    pub max_plan_bytes: usize,
    /// The summary task's queue.
    pub summary: mpsc::Sender<SummaryReply>,
    /// Analytics and open plans, as `GET /signals` shows them.
    pub stats: Arc<dyn Fn() -> serde_json::Value + Send + Sync>,
}

/// The answer of every plan route while plans are not taken.
const PLANS_OFF: &str = "trade plans are not taken (signals.enabled = false)";

/// `POST /signals`: the body is one plan. 200 with the decision when approved, 422 with it when
/// refused, 400 when the body is not a plan at all.
pub(super) async fn submit(State(state): State<ApiState>, body: axum::body::Bytes) -> Response {
    let Some(api) = state.signals.as_ref() else { return unavailable(PLANS_OFF) };
    let plan = match PlanWire::from_json(&body, api.max_plan_bytes) {
        Ok(plan) => plan,
        Err(e) => return refusal(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let request = ControlRequest::SubmitPlan { plan: Box::new(plan), source: PlanSource::Api };
    match send_control(&state.control, "api", "/signals", request).await {
        Err(message) => unavailable(message),
        Ok(reply) => {
            let status = match &reply.plan {
                Some(PlanAnswer::Decision(d)) if !d.is_approved() => StatusCode::UNPROCESSABLE_ENTITY,
                _ => reply.status_code(),
            };
            (status, axum::Json(reply.body())).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    exit_price: Decimal,
}

/// `POST /signals/{plan_id}/close` with `{"exit_price": "43500"}`.
pub(super) async fn close(
    State(state): State<ApiState>,
    Path(plan_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if state.signals.is_none() {
        return unavailable(PLANS_OFF);
    }
    if !is_plan_id(&plan_id) {
        return refusal(StatusCode::BAD_REQUEST, "plan_id must be 1 to 64 letters, digits or - _ . :");
    }
    let body = match serde_json::from_slice::<CloseBody>(&body) {
        Ok(body) => body,
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                &format!("the body must be JSON {{\"exit_price\": \"43500\"}}: {e}"),
            );
        }
    };
    let request = ControlRequest::ClosePlan { plan_id, exit_price: body.exit_price };
    match send_control(&state.control, "api", "/signals/close", request).await {
        Ok(reply) => (reply.status_code(), axum::Json(reply.body())).into_response(),
        Err(message) => unavailable(message),
    }
}

/// `POST /signals/summary`: the batch summary of the plans since the last one, sent to the alert
/// channels now and returned.
pub(super) async fn summary(State(state): State<ApiState>) -> Response {
    let Some(api) = state.signals.as_ref() else { return unavailable(PLANS_OFF) };
    let (reply, answer) = oneshot::channel();
    if api.summary.send(reply).await.is_err() {
        return unavailable("the summary task is not running");
    }
    match answer.await {
        Ok(Ok(mut body)) => {
            body["ok"] = true.into();
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Ok(Err(e)) => unavailable(&e.to_string()),
        Err(_) => unavailable("the summary task stopped before answering"),
    }
}

/// `GET /signals`: the analytics and the open plans.
pub(super) async fn stats(State(state): State<ApiState>) -> Response {
    match state.signals.as_ref() {
        Some(api) => (StatusCode::OK, axum::Json((api.stats)())).into_response(),
        None => unavailable(PLANS_OFF),
    }
}
