//! What an operator (or an outside cause) does to trading: halt, resume, kill, reduce.

use crate::clock::Timestamp;
use crate::domain::{ClientOrderId, ReasonCode, TradingState};
use crate::risk::order::{ExitIntent, WorkingKind};
use crate::risk::state::Transition;

use super::{KillOutcome, RiskManager};

/// A rule holding trading, and when it lets go by itself (`None`: it waits for its cause to
/// clear or for a human).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub reason: ReasonCode,
    pub until: Option<Timestamp>,
}

impl RiskManager {
    /// What holds trading now: the cause of a halt or kill, then every hold keeping it in
    /// `Reducing`. The breaker's cooldown ends at its re-arm time; the daily loss limit's halt at
    /// the next trading day's start.
    pub fn holds(&self) -> Vec<Hold> {
        const DAY_MS: i64 = 24 * 60 * 60 * 1000;
        let until = |reason: ReasonCode| match reason {
            ReasonCode::CircuitBreakerTripped if !self.breaker.latched => self.breaker.open_until,
            ReasonCode::DailyLossLimit => {
                let offset = i64::from(self.config.day_start_utc_minutes) * 60_000;
                Some(Timestamp((self.trading_day + 1) * DAY_MS + offset))
            }
            _ => None,
        };
        let mut holds = Vec::new();
        if matches!(self.state.state(), TradingState::Halted | TradingState::Killed)
            && let Some(cause) = self.state.cause()
        {
            holds.push(Hold { reason: cause, until: until(cause) });
        }
        for reason in self.state.reducing_holds() {
            if !holds.iter().any(|h| h.reason == *reason) {
                holds.push(Hold { reason: *reason, until: until(*reason) });
            }
        }
        holds
    }

    /// A human halts trading (`whale-trader halt`).
    pub fn halt(&mut self, detail: &str, now: Timestamp) -> Option<Transition> {
        self.state.escalate(TradingState::Halted, ReasonCode::ManualHalt, || detail.to_string(), now)
    }

    /// A human resumes trading from any state: clears a breaker latch, re-arms the breaker,
    /// acknowledges the drawdown (peak rebased to current equity) and resets the losing streak.
    /// The daily loss limit still applies to today's P&L.
    pub fn resume(&mut self, now: Timestamp) -> Option<Transition> {
        // A position mismatch holds trading until a human resolves it: the resume lifts that hold
        // only once no mismatch remains (see [`RiskManager::mismatches`]).
        if self.wallet.mismatches.is_empty() {
            self.state.release_hold(ReasonCode::PositionMismatch);
        }
        if self.state.state() == TradingState::Active {
            return None;
        }
        self.breaker.reset_by_human();
        let equity = self.equity();
        self.drawdown.reset_by_human(&self.config.drawdown, equity);
        let from = self.state.state();
        self.state.resume(|| format!("resumed by an operator from {from}; peak equity reset to {equity}"), now)
    }

    /// The kill switch: `Killed`, exits for every open position and the entries to cancel.
    pub fn kill(&mut self, detail: &str, now: Timestamp) -> KillOutcome {
        let transition = self.state.escalate(TradingState::Killed, ReasonCode::KillSwitch, || detail.to_string(), now);
        let exits = self.flatten(now);
        let mut cancel_entries: Vec<ClientOrderId> =
            self.orders.iter().filter(|(_, o)| o.kind == WorkingKind::Entry).map(|(id, _)| *id).collect();
        cancel_entries.sort();
        KillOutcome { transition, exits, cancel_entries }
    }

    /// Exits (reason `kill`) for every share not already being exited. `on_price` returns these by
    /// itself when an emergency drawdown kills; when the kill comes from `on_fill` or `on_close`
    /// (a [`super::RiskEvent::Transition`] to `Killed`), the engine calls this to get them.
    pub fn flatten(&mut self, now: Timestamp) -> Vec<ExitIntent> {
        self.exits.clear();
        self.push_kill_exits(now);
        // Drained, not taken: the buffer keeps its capacity for the next tick.
        self.exits.drain(..).collect()
    }

    /// Moves to `Reducing` for an outside cause (`stale_feed`, `health_degraded`).
    pub fn reduce(&mut self, reason: ReasonCode, detail: &str, now: Timestamp) -> Option<Transition> {
        self.state.escalate(TradingState::Reducing, reason, || detail.to_string(), now)
    }

    /// The outside cause of a `Reducing` state is gone; back to `Active` if nothing else intervened.
    pub fn clear_reduce(&mut self, reason: ReasonCode, now: Timestamp) -> Option<Transition> {
        self.state.relax(TradingState::Reducing, reason, reason, || format!("{reason} cleared"), now)
    }
}
