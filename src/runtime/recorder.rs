//! The recorder: the consumer of the engine's events once they are persisted (the engine task
//! writes them to the store itself, ahead of the executor: see [`crate::engine::journal`]). It turns
//! trades and state changes into alerts (a non-blocking hand-off to the dispatcher) and keeps the
//! counters that `/metrics` shows (decisions by reason code, orders, fills, feed lag).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, watch};

use super::closing_summary::ClosingSummary;
use super::supervisor::TaskResult;
use crate::alerts::{self, Alert, AlertKind, AlertSender, Priority};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::domain::{ReasonCode, TradingState};
use crate::engine::audit::WhaleStandingChanged;
use crate::engine::{AuditRecord, EngineEvent, EngineView, RedemptionRequest, ReplayReport, StateFigures};
use crate::market::beside;
use crate::plans::{PlanClose, PlanDecision, PlanOutcome};
use crate::risk::Transition;
use crate::telemetry::SignalAnalytics;

/// Counters for `/metrics`, kept by the recorder.
#[derive(Debug, Clone, Default)]
pub struct RecorderStats {
    /// Decisions on whale trades by reason code (`copied` for approvals).
    pub decisions: BTreeMap<String, u64>,
    pub order_intents: u64,
    pub fills: u64,
    pub whale_trades_seen: u64,
    /// Feed lag of the last whale trade and the largest seen, in milliseconds.
    pub last_feed_lag_ms: i64,
    pub max_feed_lag_ms: i64,
    /// On-chain redemptions the engine asked for (live mode), handed to the redeemer.
    pub redemptions_requested: u64,
    /// Closed trades by exit reason.
    pub closes: BTreeMap<String, u64>,
    /// Trade plans decided and closed: by tier and regime, R:R, hit rate (seeded from the store
    /// at start, so the whole history counts).
    pub signals: SignalAnalytics,
}

/// Shared read access to the recorder's counters.
pub type SharedStats = Arc<Mutex<RecorderStats>>;

pub struct Recorder {
    alerts: AlertSender,
    config: watch::Receiver<Arc<Config>>,
    view: watch::Receiver<Arc<EngineView>>,
    stats: SharedStats,
    /// The redeemer's queue (live mode): every request, already durable, waiting for room.
    redemptions: Option<mpsc::Sender<RedemptionRequest>>,
}

impl Recorder {
    pub fn new(
        alerts: AlertSender,
        config: watch::Receiver<Arc<Config>>,
        view: watch::Receiver<Arc<EngineView>>,
    ) -> Self {
        Self { alerts, config, view, stats: SharedStats::default(), redemptions: None }
    }

    /// Hands every redemption request to the redeemer's queue (live mode).
    pub fn with_redemptions(mut self, redemptions: mpsc::Sender<RedemptionRequest>) -> Self {
        self.redemptions = Some(redemptions);
        self
    }

    /// Starts the signal analytics from what the store already holds.
    pub fn with_signal_history(self, analytics: SignalAnalytics) -> Self {
        self.count(|s| s.signals = analytics);
        self
    }

    pub fn stats(&self) -> SharedStats {
        Arc::clone(&self.stats)
    }

    /// Runs until the engine's event stream ends (the engine has stopped), recording every event.
    pub async fn run(self, mut events: mpsc::Receiver<EngineEvent>) -> TaskResult {
        let mut recorded = 0u64;
        while let Some(event) = events.recv().await {
            if let EngineEvent::RedemptionRequested(request) = &event {
                self.forward_redemption(request).await;
            }
            self.record(event);
            recorded += 1;
        }
        tracing::info!(recorded, "recorder stopped: every engine event counted and alerted");
        Ok(())
    }

    /// The request is already in the store (the engine task waited for it): a redeemer that is gone
    /// loses nothing, the next start sends it.
    async fn forward_redemption(&self, request: &RedemptionRequest) {
        let Some(redeemer) = &self.redemptions else {
            tracing::warn!(
                redemption = %request.redemption_id,
                "redemption requested but no redeemer runs; it stays pending in the store"
            );
            return;
        };
        if redeemer.send(request.clone()).await.is_err() {
            tracing::error!(
                redemption = %request.redemption_id,
                "the redeemer has stopped; the redemption stays pending in the store and is sent at the next start"
            );
        }
    }

    fn count(&self, update: impl FnOnce(&mut RecorderStats)) {
        update(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn record(&self, event: EngineEvent) {
        match event {
            EngineEvent::Audit(record) => self.record_audit(record),
            EngineEvent::StateChanged(transition, figures) => self.alert_state_change(&transition, figures),
            EngineEvent::BreakerWarning { daily_pnl, threshold, at } => {
                let alert = Alert::new(
                    Priority::Warning,
                    "Circuit Breaker Warning",
                    format!(
                        "Today's P&L {} has reached 80% of the breaker threshold -{threshold}",
                        alerts::usd(daily_pnl)
                    ),
                    at,
                )
                .with_dedup_key("circuit_breaker_warning");
                self.alerts.raise(alert);
            }
            EngineEvent::OrderIntentRecorded { .. } => self.count(|s| s.order_intents += 1),
            EngineEvent::FillApplied { .. } => self.count(|s| s.fills += 1),
            EngineEvent::RedemptionRequested(_) => self.count(|s| s.redemptions_requested += 1),
            EngineEvent::SessionEnded(report) => self.tell_session_end(&report),
            EngineEvent::WhaleTradeSeen { lag_ms, .. } => self.count(|s| {
                s.whale_trades_seen += 1;
                s.last_feed_lag_ms = lag_ms;
                s.max_feed_lag_ms = s.max_feed_lag_ms.max(lag_ms);
            }),
            EngineEvent::PlanDecided(decision) => self.announce_plan(&decision),
            EngineEvent::PlanClosed(close) => self.announce_plan_close(&close),
            EngineEvent::PlanUnfilled { plan_id, symbol, at } => {
                self.alerts.raise(Alert::new(
                    Priority::Info,
                    "Signal Unfilled",
                    format!("{symbol} plan {plan_id} ended with nothing filled; its risk is released"),
                    at,
                ));
            }
            // Persisted by the engine task; nothing to alert.
            EngineEvent::OrderFinished { .. }
            | EngineEvent::PositionUpdated(_)
            | EngineEvent::WhaleTradeDecided(_)
            | EngineEvent::MarketNamed(_)
            | EngineEvent::PlanOrderStaged(_)
            | EngineEvent::PlanOrderReported(_) => {}
        }
    }

    /// An approved plan is announced in the signal formats; a refused one is a rejection alert.
    fn announce_plan(&self, decision: &PlanDecision) {
        self.count(|s| s.signals.record_decision(decision));
        let symbol = decision.symbol.as_deref().unwrap_or("?");
        let alert = match &decision.outcome {
            PlanOutcome::Approved { .. } => match Alert::signal(decision) {
                Some(alert) => alert,
                None => return,
            },
            PlanOutcome::Rejected { code, detail } => Alert::new(
                Priority::Info,
                "Signal Rejected",
                format!("Plan {} ({symbol}) refused: {detail}", decision.plan_id),
                decision.at,
            )
            .with_kind(AlertKind::TradeRejected)
            .with_market(symbol)
            .with_reason(code.as_str()),
        };
        self.alerts.raise(alert);
    }

    fn announce_plan_close(&self, close: &PlanClose) {
        self.count(|s| s.signals.record_close(close));
        let alert = Alert::new(
            if close.pnl_usd < rust_decimal::Decimal::ZERO { Priority::Warning } else { Priority::Info },
            "Signal Closed",
            format!(
                "Plan {} ({} {}) closed at {}: {} ({}R)",
                close.plan_id,
                close.direction,
                close.symbol,
                close.exit_price,
                alerts::usd(close.pnl_usd),
                close.r_multiple
            ),
            close.at,
        )
        .with_kind(AlertKind::TradeClosed)
        .with_market(close.symbol.clone())
        .with_pnl(close.pnl_usd);
        self.alerts.raise(alert);
    }

    /// The replayed session's end, once every event it caused is recorded: one log line with its
    /// figures and, for a person at a terminal, the closing summary.
    fn tell_session_end(&self, report: &ReplayReport) {
        let view = self.view.borrow().clone();
        let config = self.config.borrow().clone();
        tracing::info!(
            path = %config.feed.replay_path.display(),
            lines = report.lines,
            malformed = report.malformed_lines,
            books_refused = report.books_refused,
            sent = report.inputs,
            warmed_up = report.warmed_up,
            resumed_after = report.resumed_after,
            trades_opened = view.status.trades_opened,
            trades_closed = view.status.trades_closed,
            trades_rejected = view.status.trades_rejected,
            realised_pnl_usd = %view.status.realised_pnl_usd,
            trading_state = view.risk.state.as_str(),
            "replay finished; the feed stays idle until the daemon stops"
        );
        if !crate::logging::console_is_human(config.logging.console) {
            return;
        }
        let stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let store = config.store.path_for(config.daemon.mode, config.feed.source);
        let summary = ClosingSummary {
            session: &config.feed.replay_path,
            report,
            view: &view,
            closes: &stats.closes,
            decisions: &stats.decisions,
            log_dir: &config.logging.dir,
            store: &store,
        };
        println!("{}", summary.render());
    }

    /// Breaker trips, halts, kills and resumes as the dispatcher's own kinds, so that a halt
    /// suppresses the per-trade rejections it causes and a resume resolves it.
    fn alert_state_change(&self, t: &Transition, figures: StateFigures) {
        let detail = format!("{}: {}", t.reason.as_str(), t.detail);
        let alert = match (t.to, t.reason) {
            // A human's resume resolves the halt even when another rule still holds `Reducing`.
            (_, ReasonCode::ManualResume) => {
                Alert::trading_resumed(&format!("an operator (now {})", t.to.as_str()), t.at)
            }
            (TradingState::Reducing, ReasonCode::CircuitBreakerTripped) => {
                Alert::circuit_breaker_tripped(&detail, self.risk_figures(figures), t.at)
            }
            (TradingState::Halted, _) => Alert::trading_halted(&detail, self.risk_figures(figures), t.at),
            (TradingState::Killed, _) => Alert::trading_killed(&detail, self.risk_figures(figures), t.at),
            (TradingState::Active, ReasonCode::CooldownElapsed) => Alert::circuit_breaker_reset(t.at),
            (TradingState::Active, _) => Alert::trading_resumed(&detail, t.at),
            (TradingState::Reducing, _) => Alert::new(
                Priority::Warning,
                "Trading Reducing",
                format!("No new entries, exits still run: {detail}"),
                t.at,
            )
            .with_kind(AlertKind::TradingReducing)
            .with_dedup_key(format!("reducing:{}", t.reason.as_str())),
        };
        self.alerts.raise(alert.with_context("From", t.from.as_str()));
    }

    /// The figures the engine attached to the state change (those of the moment it happened),
    /// against the configured position limit.
    fn risk_figures(&self, figures: StateFigures) -> alerts::RiskFigures {
        alerts::RiskFigures {
            daily_pnl_usd: figures.daily_pnl,
            drawdown_percent: figures.drawdown_percent,
            open_positions: figures.open_positions as usize,
            max_positions: self.config.borrow().risk.limits.max_total_positions as usize,
        }
    }

    /// The whale and market of an open trade by name, ids beside them, from the engine's last
    /// view (empty when the view does not show the trade).
    fn names_of(&self, trade_id: &str) -> (String, String) {
        let view = self.view.borrow();
        view.positions
            .iter()
            .find(|p| p.id == trade_id)
            .map(|p| (beside(&p.whale_label, &p.whale), beside(&p.market_title, &p.market)))
            .unwrap_or_default()
    }

    /// A warning about an exit that has not ended the way it should, named by its whale and market.
    fn alert_exit(&self, title: &str, message: String, trade_id: &str, timestamp: &str) {
        let (whale, market) = self.names_of(trade_id);
        let alert = Alert::new(Priority::Warning, title, message, parse_timestamp(timestamp))
            .with_whale(whale)
            .with_market(market);
        self.alerts.raise(alert);
    }

    fn record_audit(&self, record: AuditRecord) {
        match record {
            // A plan's decision and close are announced from the engine's own plan events, which
            // carry the whole plan (its confluence and rationale) rather than the flat audit line.
            AuditRecord::SignalApproved(_) | AuditRecord::SignalRejected(_) | AuditRecord::SignalClosed(_) => {}
            AuditRecord::SignalOrder(_) | AuditRecord::SignalUnfilled(_) => {}
            AuditRecord::SignalFill(f) => tracing::info!(
                plan = %f.plan_id,
                order = %f.client_order_id,
                "{} {} filled {} more ({} in all at {})",
                f.symbol,
                f.kind,
                f.units,
                f.filled,
                f.average_price
            ),
            AuditRecord::SignalOrderRefused(r) => {
                let alert = Alert::new(
                    Priority::Warning,
                    "Signal Order Refused",
                    format!(
                        "{} plan {}: the venue refused its {} order {} ({}): {}",
                        r.symbol, r.plan_id, r.kind, r.client_order_id, r.reason, r.detail
                    ),
                    parse_timestamp(&r.timestamp),
                )
                .with_dedup_key(format!("signal_order_refused:{}", r.client_order_id));
                self.alerts.raise(alert);
            }
            AuditRecord::TradeOpened(t) => {
                let at = parse_timestamp(&t.timestamp);
                self.count(|s| *s.decisions.entry("copied".into()).or_default() += 1);
                let market = beside(&t.market_title, &t.market_id);
                tracing::info!(
                    trade_id = %t.trade_id,
                    whale = %t.whale_label,
                    market = %t.market_title,
                    outcome = %t.outcome,
                    "copied {}: {} {} of {market} at {}",
                    t.whale_label,
                    t.side,
                    t.outcome,
                    t.price
                );
                self.alerts.raise(
                    Alert::trade_opened(
                        &beside(&t.whale_label, &t.whale_address),
                        &market,
                        &t.side,
                        t.notional_usd,
                        t.price,
                        at,
                    )
                    .with_context("Outcome", t.outcome.clone()),
                );
            }
            AuditRecord::TradeClosed(t) => {
                let at = parse_timestamp(&t.timestamp);
                self.count(|s| *s.closes.entry(t.reason.clone()).or_default() += 1);
                // The record names its whale and market itself: the trade is gone from the view.
                let whale = beside(&t.whale_label, &t.whale_address);
                let market = beside(&t.market_title, &t.market_id);
                let market = if market.is_empty() { t.trade_id.clone() } else { market };
                tracing::info!(
                    trade_id = %t.trade_id,
                    whale = %t.whale_label,
                    market = %t.market_title,
                    outcome = %t.outcome,
                    pnl_usd = %t.pnl_usd,
                    reason = %t.reason,
                    "closed {} ({}) on {market}",
                    t.trade_id,
                    t.outcome
                );
                self.alerts.raise(
                    Alert::trade_closed(&whale, &market, t.pnl_usd, &t.reason, at)
                        .with_context("Outcome", t.outcome.clone())
                        .with_context("Trade", t.trade_id.clone()),
                );
            }
            AuditRecord::TradeRejected(t) => {
                let at = parse_timestamp(&t.timestamp);
                self.count(|s| *s.decisions.entry(t.reason.clone()).or_default() += 1);
                let whale = beside(&t.whale_label, &t.whale_address);
                let market = beside(&t.market_title, &t.market_id);
                self.alerts.raise(
                    Alert::trade_rejected(&whale, &market, &t.reason, at).with_context("Outcome", t.outcome.clone()),
                );
            }
            // State changes are alerted from the risk manager's own transition record.
            AuditRecord::TradingStateChanged(_) => {}
            // Each try is in the audit trail and the store; only a try that did not end it is news.
            AuditRecord::ExitOrder(_) => {}
            AuditRecord::ExitEscalated(e) => self.alert_exit(
                "Exit Not Filled",
                format!(
                    "{} exit of {} has {} shares left after {} order(s): price bound widened to {}% below the market",
                    e.reason, e.trade_id, e.remaining, e.attempts, e.slippage_percent
                ),
                &e.trade_id,
                &e.timestamp,
            ),
            AuditRecord::ExitDeferred(e) => self.alert_exit(
                "Exit Deferred",
                format!(
                    "{} exit of {}: {} shares are below the venue's minimum order of {}; held until the market resolves",
                    e.exit_reason, e.trade_id, e.size, e.min_order_size
                ),
                &e.trade_id,
                &e.timestamp,
            ),
            AuditRecord::PositionMismatch(m) => {
                let at = parse_timestamp(&m.timestamp);
                let trades = if m.trade_ids.is_empty() { "none".to_owned() } else { m.trade_ids.join(", ") };
                let (market, outcome) = {
                    let view = self.view.borrow();
                    (beside(&view.names.market_title(&m.market_id), &m.market_id), view.names.outcome(&m.token_id).map(|o| format!(" \"{o}\"")).unwrap_or_default())
                };
                let alert = Alert::new(
                    Priority::Error,
                    "Position Mismatch",
                    format!(
                        "The venue holds {} shares of token {}{outcome} of {market} ({}), our trades hold {} (trades: {trades}). \
                         No new entries until resolved: `whale-trader adopt {}` or `whale-trader drop TRADE_ID`, then `resume`",
                        m.venue, m.token_id, m.kind, m.ours, m.token_id
                    ),
                    at,
                )
                .with_market(market)
                .with_dedup_key(format!("position_mismatch:{}", m.token_id));
                self.alerts.raise(alert);
            }
            AuditRecord::PositionAdopted(a) => {
                let at = parse_timestamp(&a.timestamp);
                let alert = Alert::new(
                    Priority::Info,
                    "Position Adopted",
                    format!("{} shares of token {} adopted as {} at {}", a.size, a.token_id, a.trade_id, a.price),
                    at,
                )
                .with_market(beside(&self.view.borrow().names.market_title(&a.market_id), &a.market_id));
                self.alerts.raise(alert);
            }
            // The drop closes the trade: its `trade_closed` (reason `reconciled`) is alerted.
            AuditRecord::PositionDropped(_) => {}
            AuditRecord::MarketClosed(m) => {
                let at = parse_timestamp(&m.timestamp);
                let market = beside(&m.market_title, &m.market_id);
                let alert = Alert::new(
                    Priority::Warning,
                    "Market Closed",
                    format!(
                        "{market} stopped trading before its resolution: {} position(s) ({}) wait for it, without exit orders",
                        m.trade_ids.len(),
                        m.trade_ids.join(", ")
                    ),
                    at,
                )
                .with_market(market.clone())
                .with_dedup_key(format!("market_closed:{}", m.market_id));
                self.alerts.raise(alert);
            }
            AuditRecord::MarketReopened(m) => {
                let at = parse_timestamp(&m.timestamp);
                let market = beside(&m.market_title, &m.market_id);
                let alert = Alert::new(
                    Priority::Info,
                    "Market Reopened",
                    format!("{market} takes orders again: its positions are managed again"),
                    at,
                )
                .with_market(market.clone())
                .resolving(format!("market_closed:{}", m.market_id));
                self.alerts.raise(alert);
            }
            AuditRecord::WhaleStandingChanged(w) => self.alert_whale_standing(&w),
        }
    }

    /// A whale muted or locked is a warning that stays one condition until it is let go again.
    fn alert_whale_standing(&self, w: &WhaleStandingChanged) {
        let at = parse_timestamp(&w.timestamp);
        let condition = format!("whale_standing:{}", w.whale_address);
        let until = w.until.as_deref().map(|u| format!(" until {u}")).unwrap_or_default();
        let whale = beside(&w.whale_label, &w.whale_address);
        let alert = match w.change.as_str() {
            "muted" | "locked" => Alert::new(
                Priority::Warning,
                if w.change == "muted" { "Whale Muted" } else { "Whale Locked" },
                format!("{whale} {}{until} ({}): {}; its exits are still mirrored", w.change, w.reason, w.detail),
                at,
            )
            .with_dedup_key(condition),
            _ => Alert::new(
                Priority::Info,
                "Whale Copied Again",
                format!("{whale} {} ({}): {}", w.change, w.reason, w.detail),
                at,
            )
            .resolving(condition),
        };
        self.alerts.raise(alert.with_whale(whale));
    }
}

fn parse_timestamp(text: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Timestamp::from(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}
