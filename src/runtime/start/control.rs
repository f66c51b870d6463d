//! Control: the control API (its port bound first of all, so that a taken port fails the start
//! before anything else is built) with its requests turned into engine inputs, the trade plans'
//! inbox and batch summary (plans take the same path to the engine), the watchdog that follows
//! the engine's progress, and SIGHUP reloads handed to the engine and the health monitor.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::alerts::AlertSender;
use crate::api::{self, ApiState, ControlOutcome, ControlReply, ControlRequest};
use crate::clock::SystemClock;
use crate::config::{Config, HealthConfig};
use crate::engine::{Control, EngineStatus, Input};
use crate::health::ProgressTracker;
use crate::history::HistoryQuery;
use crate::runtime::EngineMsg;
use crate::runtime::failpoints::with_failpoint;
use crate::runtime::observe::{self, Observed};
use crate::runtime::plans::{Inbox, Summaries, watch_inbox};
use crate::runtime::silences::SilenceControl;
use crate::runtime::supervisor::{Supervisor, TaskError, TaskResult};
use crate::runtime::systemd::Systemd;
use crate::runtime::watchdog::watchdog;
use crate::telegram;

use super::engine::EngineStart;
use super::{StartError, Stops};

/// Requests waiting for the engine, at most: a human's commands, one at a time.
const CONTROL_QUEUE: usize = 16;

/// How long a control request waits for the engine to apply it.
const CONTROL_ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// The control API's port, when the API is enabled.
pub(super) async fn bind(config: &Config) -> Result<Option<TcpListener>, StartError> {
    match config.api.enabled {
        true => Ok(Some(api::bind(&config.api).await?)),
        false => Ok(None),
    }
}

pub(super) struct ControlStart<'a> {
    pub config: &'a Config,
    pub config_tx: &'a watch::Sender<Arc<Config>>,
    pub listener: Option<TcpListener>,
    pub observed: Observed,
    pub engine: &'a EngineStart,
    pub health_config: watch::Sender<HealthConfig>,
    pub engine_progress: ProgressTracker,
    /// The engine's progress for the alert heartbeat.
    pub progress: watch::Sender<u64>,
    /// Silence commands from the API.
    pub silences: SilenceControl,
    /// Where the plan batch summary goes.
    pub alerts: AlertSender,
    pub systemd: Systemd,
    pub supervisor: &'a mut Supervisor,
    pub stops: &'a Stops,
}

pub(super) fn start(start: ControlStart<'_>) {
    let ControlStart {
        config,
        config_tx,
        listener,
        observed,
        engine,
        health_config,
        engine_progress,
        progress,
        silences,
        alerts,
        systemd,
        supervisor,
        stops,
    } = start;
    let telegram = &config.alerts.telegram;
    let plans = config.signals.enabled;
    if listener.is_some() || telegram.control || plans {
        let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let signals_api = plans.then(|| start_plans(config, &observed, alerts, &control_tx, supervisor, stops));
        let history: api::HistorySource = Arc::new({
            let observed = observed.clone();
            move |query: &HistoryQuery| observe::history_json(&observed, query)
        });
        if let Some(listener) = listener {
            let state = ApiState {
                token: config.api.token.clone(),
                status: Arc::new({
                    let observed = observed.clone();
                    move || observe::status_json(&observed)
                }),
                health: Arc::new({
                    let observed = observed.clone();
                    move || observe::health_json(&observed)
                }),
                metrics: Arc::new({
                    let observed = observed.clone();
                    move || observe::metrics_text(&observed)
                }),
                history: history.clone(),
                control: control_tx.clone(),
                silences: Some(silences.clone()),
                limits: Arc::new(api::ApiLimits::from_config(&config.api)),
                signals: signals_api,
            };
            let api_stop = stops.intake.clone();
            supervisor.spawn(
                "api",
                with_failpoint(
                    "api",
                    async move { api::serve(listener, state, api_stop).await.map_err(TaskError::new) },
                ),
            );
        }
        if telegram.control {
            // The chat's commands take the control API's path to the engine, with its sources.
            let backend = telegram::Backend {
                status: Arc::new({
                    let observed = observed.clone();
                    move || observe::status_view(&observed)
                }),
                history,
                control: control_tx,
                silences,
                clock: Arc::new(SystemClock),
            };
            let (chat_config, chat_stop) = (telegram.clone(), stops.intake.clone());
            supervisor.spawn(
                "telegram-control",
                with_failpoint("telegram-control", async move {
                    telegram::chat_control(chat_config, backend, chat_stop).await;
                    Ok(())
                }),
            );
        }
        supervisor.spawn(
            "control",
            with_failpoint(
                "control",
                forward_control(control_rx, engine.inputs.clone(), observed.engine.clone(), stops.intake.clone()),
            ),
        );
    }

    // systemd watchdog, alert heartbeat and the health check of the engine loop all follow progress.
    supervisor.spawn(
        "watchdog",
        with_failpoint(
            "watchdog",
            watchdog(systemd, engine.progress.clone(), progress, engine_progress, stops.sinks.clone()),
        ),
    );
    supervisor.spawn(
        "config-reload",
        with_failpoint(
            "config-reload",
            apply_reloads(config_tx.subscribe(), engine.inputs.clone(), health_config, stops.intake.clone()),
        ),
    );
}

/// Trade plans: the batch summary task, and the inbox watcher when `signals.inbox_dir` is set.
/// Returns what the API's plan routes need.
fn start_plans(
    config: &Config,
    observed: &Observed,
    alerts: AlertSender,
    control: &api::ControlSender,
    supervisor: &mut Supervisor,
    stops: &Stops,
) -> api::SignalsApi {
    let signals = &config.signals;
    let (summary_tx, summary_rx) = mpsc::channel(4);
    let summaries = Summaries {
        config: observed.config.clone(),
        store_path: std::path::PathBuf::from(&observed.store.path),
        alerts,
        clock: Arc::new(SystemClock),
    };
    supervisor.spawn("plan-summary", with_failpoint("plan-summary", summaries.run(summary_rx, stops.intake.clone())));
    if !signals.inbox_dir.as_os_str().is_empty() {
        let inbox = Inbox {
            dir: signals.inbox_dir.clone(),
            poll: Duration::from_millis(signals.inbox_poll_ms),
            max_plan_bytes: signals.max_plan_bytes,
        };
        supervisor.spawn(
            "plan-inbox",
            with_failpoint("plan-inbox", watch_inbox(inbox, control.clone(), stops.intake.clone())),
        );
    }
    api::SignalsApi {
        max_plan_bytes: signals.max_plan_bytes,
        summary: summary_tx,
        stats: Arc::new({
            let observed = observed.clone();
            move || observe::signals_json(&observed)
        }),
    }
}

/// Control API requests become engine inputs; the reply is sent once the engine has processed it.
async fn forward_control(
    mut requests: mpsc::Receiver<(ControlRequest, oneshot::Sender<ControlReply>)>,
    inputs: mpsc::Sender<EngineMsg>,
    mut status: watch::Receiver<EngineStatus>,
    stop: CancellationToken,
) -> TaskResult {
    loop {
        let (request, reply) = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            next = requests.recv() => match next {
                Some(next) => next,
                None => { stop.cancelled().await; return Ok(()); }
            },
        };
        let (control, message) = match request {
            ControlRequest::Halt { reason } => (Control::Halt { detail: reason }, "trading halted"),
            ControlRequest::Resume => {
                (Control::Resume { detail: "resumed via the control API".into() }, "resume requested")
            }
            ControlRequest::Kill { reason } => {
                (Control::Kill { detail: reason }, "kill switch engaged: closing every position")
            }
            ControlRequest::Close { position } => (Control::ClosePosition { trade_id: position }, "close requested"),
            ControlRequest::Adopt { token } => (Control::Adopt { token_id: token }, "adopt requested"),
            ControlRequest::Drop { trade } => (Control::Drop { trade_id: trade }, "drop requested"),
            ControlRequest::Unmute { wallet } => (Control::Unmute { wallet }, "unmute requested"),
            ControlRequest::SubmitPlan { plan, source } => (Control::SubmitPlan { plan, source }, "plan submitted"),
            ControlRequest::ClosePlan { plan_id, exit_price } => {
                (Control::ClosePlan { plan_id, exit_price }, "plan close requested")
            }
        };
        // The engine handles inputs in order: once it has processed as many inputs as were queued
        // ahead of ours plus ours, our request has been applied. Human commands are numbered too,
        // and only this task sends them, so the answer numbered after the last one seen is ours.
        let target = status.borrow().inputs_processed + (inputs.max_capacity() - inputs.capacity()) as u64 + 1;
        let seq = status.borrow().human_controls + 1;
        if inputs.send(EngineMsg::now(Input::Control(control))).await.is_err() {
            return Ok(());
        }
        let applied = tokio::time::timeout(
            CONTROL_ANSWER_WITHIN,
            status.wait_for(|s| s.inputs_processed >= target && s.human_controls >= seq),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        let (state, answer) = {
            let now = status.borrow();
            (now.trading_state.as_str().to_string(), now.control_answer.clone().filter(|a| a.seq == seq))
        };
        let reply_body = match (applied, answer) {
            (true, Some(answer)) => ControlReply {
                outcome: answer.outcome,
                message: answer.message,
                trading_state: state,
                plan: answer.plan,
            },
            (true, None) => ControlReply {
                outcome: ControlOutcome::Done,
                message: message.to_string(),
                trading_state: state,
                plan: None,
            },
            (false, _) => ControlReply {
                outcome: ControlOutcome::Refused,
                message: "the engine did not apply the request in time".into(),
                trading_state: state,
                plan: None,
            },
        };
        let _ = reply.send(reply_body);
    }
}

/// SIGHUP: a new valid config reaches the engine (risk limits, copy rules) and the health monitor
/// (thresholds); the alert task applies its own section.
async fn apply_reloads(
    mut config: watch::Receiver<Arc<Config>>,
    inputs: mpsc::Sender<EngineMsg>,
    health: watch::Sender<HealthConfig>,
    stop: CancellationToken,
) -> TaskResult {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            changed = config.changed() => {
                if changed.is_err() {
                    stop.cancelled().await;
                    return Ok(());
                }
                let new = config.borrow_and_update().clone();
                health.send_replace(new.health.clone());
                if inputs.send(EngineMsg::now(Input::Control(Control::SetConfig(new)))).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
