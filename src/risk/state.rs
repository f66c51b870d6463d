//! The trading state machine: `Active`, `Reducing`, `Halted`, `Killed`.
//!
//! Automatic transitions only escalate (a lower-severity cause never overrides a higher one);
//! a state is relaxed only by the cause that set it (the breaker's cooldown lifts the breaker's
//! `Reducing`, a new trading day lifts the daily-loss `Halted`) or by a human's `resume`.
//! Every change returns a [`Transition`] record; asking for the state already in force records nothing.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{ReasonCode, TradingState};

/// One change of trading state: persisted, audited and alerted by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: TradingState,
    pub to: TradingState,
    pub reason: ReasonCode,
    pub detail: String,
    pub at: Timestamp,
}

/// The current state, the cause that put it there, and every rule that holds trading in
/// `Reducing`.
///
/// Several rules can want `Reducing` at once (a breaker cooldown, a stale feed, degraded health).
/// Each is a *hold*: trading returns to `Active` only when the last hold is released, and a halt or
/// kill that ends (new trading day, a human's resume) falls back to `Reducing` while holds remain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMachine {
    state: TradingState,
    cause: Option<ReasonCode>,
    since: Timestamp,
    /// Causes currently holding trading in (at least) `Reducing`; a handful at most.
    #[serde(default)]
    reducing_holds: Vec<ReasonCode>,
}

impl Default for StateMachine {
    fn default() -> Self {
        Self { state: TradingState::Active, cause: None, since: Timestamp(0), reducing_holds: Vec::new() }
    }
}

impl StateMachine {
    pub fn state(&self) -> TradingState {
        self.state
    }

    /// The reason code of the transition into the current state (`None` when never left `Active`).
    pub fn cause(&self) -> Option<ReasonCode> {
        self.cause
    }

    pub fn since(&self) -> Timestamp {
        self.since
    }

    /// The rules holding trading in `Reducing`, oldest first.
    pub fn reducing_holds(&self) -> &[ReasonCode] {
        &self.reducing_holds
    }

    /// Forgets the hold of `reason` without a transition: a human's resume that found the hold's
    /// cause resolved (see [`StateMachine::resume`], which then moves trading where it belongs).
    pub fn release_hold(&mut self, reason: ReasonCode) {
        self.reducing_holds.retain(|hold| *hold != reason);
    }

    /// Where trading rests when nothing more severe applies: `Reducing` while any hold remains.
    fn floor(&self) -> (TradingState, Option<ReasonCode>) {
        match self.reducing_holds.first() {
            Some(hold) => (TradingState::Reducing, Some(*hold)),
            None => (TradingState::Active, None),
        }
    }

    fn move_to(&mut self, to: TradingState, reason: ReasonCode, detail: String, at: Timestamp) -> Transition {
        let from = self.state;
        self.state = to;
        self.cause = Some(reason);
        self.since = at;
        Transition { from, to, reason, detail, at }
    }

    /// Moves to a more severe state; a same-or-less severe target is a no-op that records nothing.
    /// Asking for `Reducing` also registers `reason` as a hold, even when trading is already there
    /// (or worse) for another reason. `detail` is only formatted when a transition happens.
    pub fn escalate(
        &mut self,
        to: TradingState,
        reason: ReasonCode,
        detail: impl FnOnce() -> String,
        at: Timestamp,
    ) -> Option<Transition> {
        if to == TradingState::Reducing && !self.reducing_holds.contains(&reason) {
            self.reducing_holds.push(reason);
        }
        (to > self.state).then(|| self.move_to(to, reason, detail(), at))
    }

    /// The rule `cause` no longer applies. From `Reducing` its hold is released, and trading returns
    /// to `Active` only when no other hold remains; from a `Halted` or `Killed` state that `cause`
    /// set, trading falls back to `Reducing` (other holds) or `Active`.
    pub fn relax(
        &mut self,
        from: TradingState,
        cause: ReasonCode,
        reason: ReasonCode,
        detail: impl FnOnce() -> String,
        at: Timestamp,
    ) -> Option<Transition> {
        if from == TradingState::Reducing {
            self.reducing_holds.retain(|hold| *hold != cause);
        }
        if self.state != from || (from != TradingState::Reducing && self.cause != Some(cause)) {
            return None;
        }
        let (floor, _) = self.floor();
        if floor == self.state {
            // Still held by another rule: nothing changes for trading, so nothing is recorded.
            return None;
        }
        Some(self.move_to(floor, reason, detail(), at))
    }

    /// A human's resume: ends a halt or kill (and a breaker latch). Trading returns to `Active`, or
    /// to `Reducing` while another rule (stale feed, degraded health, breaker cooldown) holds it.
    pub fn resume(&mut self, detail: impl FnOnce() -> String, at: Timestamp) -> Option<Transition> {
        let (floor, _) = self.floor();
        (self.state != floor).then(|| self.move_to(floor, ReasonCode::ManualResume, detail(), at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TradingState::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    #[test]
    fn escalation_only_goes_up_and_no_op_records_nothing() {
        let mut sm = StateMachine::default();
        let rec = sm.escalate(Reducing, ReasonCode::CircuitBreakerTripped, || "trip".into(), t(1));
        assert_eq!(
            rec.map(|r| (r.from, r.to, r.reason, r.at)),
            Some((Active, Reducing, ReasonCode::CircuitBreakerTripped, t(1)))
        );
        assert_eq!(sm.escalate(Reducing, ReasonCode::StaleFeed, String::new, t(2)), None);
        assert_eq!(sm.escalate(Active, ReasonCode::StaleFeed, String::new, t(2)), None);
        assert!(sm.escalate(Halted, ReasonCode::MaxDrawdown, String::new, t(3)).is_some());
        assert_eq!(sm.escalate(Reducing, ReasonCode::StaleFeed, String::new, t(4)), None);
        assert!(sm.escalate(Killed, ReasonCode::KillSwitch, String::new, t(5)).is_some());
        assert_eq!(sm.escalate(Halted, ReasonCode::ManualHalt, String::new, t(6)), None);
        assert_eq!((sm.state(), sm.cause(), sm.since()), (Killed, Some(ReasonCode::KillSwitch), t(5)));
    }

    #[test]
    fn relax_requires_the_cause_that_set_the_state() {
        let mut sm = StateMachine::default();
        sm.escalate(Halted, ReasonCode::MaxDrawdown, String::new, t(1));
        assert_eq!(sm.relax(Halted, ReasonCode::DailyLossLimit, ReasonCode::NewTradingDay, String::new, t(2)), None);
        let mut sm = StateMachine::default();
        sm.escalate(Halted, ReasonCode::DailyLossLimit, String::new, t(1));
        let rec = sm.relax(Halted, ReasonCode::DailyLossLimit, ReasonCode::NewTradingDay, || "day".into(), t(2));
        assert_eq!(rec.map(|r| (r.from, r.to, r.reason)), Some((Halted, Active, ReasonCode::NewTradingDay)));
    }

    #[test]
    fn active_returns_only_when_every_reducing_hold_is_released() {
        let mut sm = StateMachine::default();
        assert!(sm.escalate(Reducing, ReasonCode::CircuitBreakerTripped, String::new, t(1)).is_some());
        // A second rule while already reducing records nothing, but holds.
        assert_eq!(sm.escalate(Reducing, ReasonCode::HealthDegraded, String::new, t(2)), None);
        // The breaker re-arms: still held by health, so no transition.
        let none =
            sm.relax(Reducing, ReasonCode::CircuitBreakerTripped, ReasonCode::CooldownElapsed, String::new, t(3));
        assert_eq!(none, None);
        assert_eq!(sm.state(), Reducing);
        let back = sm.relax(Reducing, ReasonCode::HealthDegraded, ReasonCode::HealthDegraded, String::new, t(4));
        assert_eq!(back.map(|r| (r.from, r.to)), Some((Reducing, Active)));
        assert!(sm.reducing_holds().is_empty());
    }

    #[test]
    fn ending_a_halt_falls_back_to_reducing_while_a_hold_remains() {
        let mut sm = StateMachine::default();
        sm.escalate(Reducing, ReasonCode::StaleFeed, String::new, t(1));
        sm.escalate(Halted, ReasonCode::ManualHalt, String::new, t(2));
        let resumed = sm.resume(String::new, t(3));
        assert_eq!(resumed.map(|r| (r.from, r.to, r.reason)), Some((Halted, Reducing, ReasonCode::ManualResume)));
        assert_eq!(sm.resume(String::new, t(4)), None, "a resume cannot override a live hold");
        sm.escalate(Halted, ReasonCode::DailyLossLimit, String::new, t(5));
        let day = sm.relax(Halted, ReasonCode::DailyLossLimit, ReasonCode::NewTradingDay, String::new, t(6));
        assert_eq!(day.map(|r| r.to), Some(Reducing));
    }

    #[test]
    fn resume_from_anywhere_but_active() {
        let mut sm = StateMachine::default();
        assert_eq!(sm.resume(String::new, t(1)), None);
        sm.escalate(Killed, ReasonCode::KillSwitch, String::new, t(1));
        assert_eq!(
            sm.resume(String::new, t(2)).map(|r| (r.from, r.to, r.reason)),
            Some((Killed, Active, ReasonCode::ManualResume))
        );
    }
}
