//! Control and time: an operator's and the health monitor's commands, the timer tick, and the
//! risk manager's own transitions recorded in the audit trail.

use crate::clock::Timestamp;
use crate::domain::{ExitReason, ReasonCode, TradingState};
use crate::engine::audit::{AuditRecord, TradingStateChanged, WhaleStandingChanged};
use crate::engine::io::{Control, ControlOutcome, EngineEvent, Outputs, StateFigures};
use crate::risk::whales::WhaleChange;
use crate::risk::{RiskEvent, Transition};

use super::Engine;

impl Engine {
    pub(super) fn on_control(&mut self, control: Control, now: Timestamp, out: &mut Outputs) {
        if control.is_human() {
            self.status.human_controls += 1;
            self.status.control_answer = None;
        }
        let transition = match control {
            Control::Halt { detail } => self.risk.halt(&detail, now),
            Control::Resume { detail } => {
                tracing::info!(%detail, "resume requested");
                self.resume_by_human(now)
            }
            Control::Kill { detail } => {
                let kill = self.risk.kill(&detail, now);
                if let Some(t) = kill.transition {
                    self.record_transition(&t, out);
                }
                out.cancels.extend_from_slice(&kill.cancel_entries);
                for exit in &kill.exits {
                    self.request_exit(exit.position, exit.size, ExitReason::Kill, now, out);
                }
                self.flatten_plans(now, out);
                None
            }
            Control::ClosePosition { trade_id } => {
                match self.portfolio.trade_by_id(&trade_id).filter(|t| t.is_open()) {
                    Some(trade) => {
                        let (position, size) = (trade.position, trade.open_size() - trade.exiting);
                        self.request_exit(position, size, ExitReason::Manual, now, out);
                        self.answer(ControlOutcome::Done, format!("{trade_id}: close requested"));
                    }
                    None => self.answer(ControlOutcome::NotFound, format!("{trade_id} is not an open trade")),
                }
                None
            }
            Control::SetConfig(config) => {
                if let Err(e) = self.risk.set_config(config.risk.clone()) {
                    tracing::error!(error = %e, "new risk configuration refused; keeping the old one");
                    return;
                }
                if config.daemon.mode != self.mode {
                    // The executor was chosen at start; switching paper ↔ live needs a restart.
                    tracing::warn!(running = %self.mode, configured = %config.daemon.mode, "daemon.mode changes need a restart");
                }
                self.config = config;
                self.load_whales();
                tracing::info!(whales = self.whales.len(), "engine configuration reloaded");
                None
            }
            Control::HoldReducing { detail } => self.risk.reduce(ReasonCode::HealthDegraded, &detail, now),
            Control::ReleaseHold { detail } => {
                tracing::info!(%detail, "health hold released");
                self.risk.clear_reduce(ReasonCode::HealthDegraded, now)
            }
            Control::FeedStale { detail } => self.risk.reduce(ReasonCode::StaleFeed, &detail, now),
            Control::Adopt { token_id } => self.adopt(&token_id, now, out),
            Control::Drop { trade_id } => self.drop_trade(&trade_id, now, out),
            Control::Unmute { wallet } => {
                self.unmute(&wallet, now);
                None
            }
            Control::SubmitPlan { plan, source } => {
                self.submit_plan(*plan, source, now, out);
                None
            }
            Control::ClosePlan { plan_id, exit_price } => {
                self.close_plan(&plan_id, exit_price, now, out);
                None
            }
        };
        if let Some(t) = transition {
            self.record_transition(&t, out);
        }
    }

    /// A human lifts a whale's mute: its next trades are copied again (its losing streak starts over).
    fn unmute(&mut self, wallet: &str, now: Timestamp) {
        let Some(whale) = self.interner.find_whale(wallet).filter(|w| self.whales.contains_key(w)) else {
            self.answer(ControlOutcome::NotFound, format!("{wallet} is not a followed whale"));
            return;
        };
        if self.risk.unmute_whale(whale, now) {
            self.answer(ControlOutcome::Done, format!("{wallet} unmuted: its trades are copied again"));
        } else {
            self.answer(ControlOutcome::Refused, format!("{wallet} is not muted"));
        }
    }

    /// Timers: the risk manager's clock-driven rules (breaker cooldown, new trading day) and the
    /// whole-feed staleness check: no price at all for `stale_after_secs` while we hold positions
    /// or orders (outside closed markets) moves trading to `reducing` until prices flow again or
    /// nothing needs them any more.
    pub(super) fn on_tick(&mut self, now: Timestamp, out: &mut Outputs) {
        self.risk.on_timer(now);
        self.retry_exits(now, out);
        if !self.closed_markets.is_empty() {
            // A closed market we no longer hold anything in is not watched any more: forget it.
            let portfolio = &self.portfolio;
            self.closed_markets.retain(|market| {
                portfolio.open_trades().any(|t| t.market == *market)
                    || portfolio.pending.values().any(|p| p.intent.market == *market)
            });
        }
        let watching = self.watching_prices();
        let stale = self.market.last_price_at.is_none_or(|at| now.millis_since(at) > self.stale_after_ms());
        let transition = if watching && stale {
            let age = self
                .market
                .last_price_at
                .map_or_else(|| "ever".to_owned(), |at| format!("{}s", now.millis_since(at) / 1000));
            self.risk.reduce(ReasonCode::StaleFeed, &format!("no price update for {age} while holding positions"), now)
        } else {
            // Fresh prices, or nothing left that needs them (settled, or waiting in closed markets).
            self.risk.clear_reduce(ReasonCode::StaleFeed, now)
        };
        if let Some(t) = transition {
            self.record_transition(&t, out);
        }
    }

    #[inline]
    pub(super) fn drain_risk_events(&mut self, now: Timestamp, out: &mut Outputs) {
        // Collect first: recording needs `&mut self` while the drain borrows the risk manager.
        let mut pending = std::mem::take(&mut self.risk_events);
        pending.extend(self.risk.drain_events());
        for event in pending.drain(..) {
            match event {
                RiskEvent::Transition(t) => {
                    self.record_transition(&t, out);
                    if t.to == TradingState::Killed {
                        // A kill from a fill or a close (emergency drawdown) brings no exits with it:
                        // flatten asks for every share not already being exited.
                        for exit in self.risk.flatten(now) {
                            self.request_exit(exit.position, exit.size, ExitReason::Kill, now, out);
                        }
                        self.flatten_plans(now, out);
                    }
                }
                RiskEvent::BreakerWarning { daily_pnl, threshold_usd, at } => {
                    tracing::warn!(%daily_pnl, threshold = %threshold_usd, "circuit breaker warning");
                    out.events.push(EngineEvent::BreakerWarning { daily_pnl, threshold: threshold_usd, at });
                }
                RiskEvent::Whale(change) => self.record_whale_change(&change, out),
            }
        }
        self.risk_events = pending;
    }

    /// A whale muted, locked or let go: an audit record (and through it an alert), by its wallet.
    fn record_whale_change(&mut self, change: &WhaleChange, out: &mut Outputs) {
        let (whale, kind, reason, detail, until, at) = match change {
            WhaleChange::Muted { whale, cause, until, detail, at } => {
                (*whale, "muted", cause.as_str(), detail.clone(), Some(until.to_rfc3339()), *at)
            }
            WhaleChange::Unmuted { whale, manual, at } => {
                let (reason, detail) = if *manual {
                    (ReasonCode::ManualResume, "lifted by hand")
                } else {
                    (ReasonCode::CooldownElapsed, "the mute's cooldown elapsed")
                };
                (*whale, "unmuted", reason.as_str(), detail.to_owned(), None, *at)
            }
            WhaleChange::Locked { whale, rolling_pnl, copies, at } => {
                let detail = format!(
                    "rolling P&L {rolling_pnl} over its last {copies} copies is below risk.whales.low_profit_min_usd"
                );
                (*whale, "locked", ReasonCode::WhaleLowProfit.as_str(), detail, None, *at)
            }
            WhaleChange::Unlocked { whale, rolling_pnl, at } => {
                let detail = format!("rolling P&L {rolling_pnl} is no longer below the floor");
                (*whale, "unlocked", ReasonCode::WhaleLowProfit.as_str(), detail, None, *at)
            }
        };
        let whale_address = self.interner.whale_name(whale).unwrap_or_default().to_owned();
        tracing::warn!(whale = %whale_address, change = kind, reason, %detail, "whale standing changed");
        self.emit_audit(
            AuditRecord::WhaleStandingChanged(WhaleStandingChanged {
                whale_label: self.names.whale_label(&whale_address),
                whale_address,
                change: kind.to_owned(),
                reason: reason.to_owned(),
                detail,
                until,
                timestamp: at.to_rfc3339(),
            }),
            out,
        );
    }

    pub(super) fn record_transition(&mut self, t: &Transition, out: &mut Outputs) {
        self.emit_audit(
            AuditRecord::TradingStateChanged(TradingStateChanged {
                from: t.from.as_str().to_owned(),
                to: t.to.as_str().to_owned(),
                reason: t.reason.as_str().to_owned(),
                detail: t.detail.clone(),
                timestamp: t.at.to_rfc3339(),
            }),
            out,
        );
        // Figures of this moment: the input that caused the change is applied, the step not yet
        // published, so the view observers hold may still show the state before it.
        let figures = StateFigures {
            daily_pnl: self.risk.daily_pnl(),
            drawdown_percent: self.risk.drawdown_percent(),
            open_positions: u32::try_from(self.portfolio.open_count()).unwrap_or(u32::MAX),
        };
        out.events.push(EngineEvent::StateChanged(t.clone(), figures));
    }
}
