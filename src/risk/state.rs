//! The trading state machine of DESIGN.md: `Active`, `Reducing`, `Halted`, `Killed`.
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

/// The current state and the cause that put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMachine {
    state: TradingState,
    cause: Option<ReasonCode>,
    since: Timestamp,
}

impl Default for StateMachine {
    fn default() -> Self {
        Self { state: TradingState::Active, cause: None, since: Timestamp(0) }
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

    fn move_to(&mut self, to: TradingState, reason: ReasonCode, detail: String, at: Timestamp) -> Transition {
        let from = self.state;
        self.state = to;
        self.cause = Some(reason);
        self.since = at;
        Transition { from, to, reason, detail, at }
    }

    /// Moves to a more severe state; a same-or-less severe target is a no-op. `detail` is only
    /// formatted when a transition happens.
    pub fn escalate(
        &mut self,
        to: TradingState,
        reason: ReasonCode,
        detail: impl FnOnce() -> String,
        at: Timestamp,
    ) -> Option<Transition> {
        (to > self.state).then(|| self.move_to(to, reason, detail(), at))
    }

    /// Returns to `Active` if, and only if, the current state was caused by `cause` and is `from`.
    pub fn relax(
        &mut self,
        from: TradingState,
        cause: ReasonCode,
        reason: ReasonCode,
        detail: impl FnOnce() -> String,
        at: Timestamp,
    ) -> Option<Transition> {
        (self.state == from && self.cause == Some(cause))
            .then(|| self.move_to(TradingState::Active, reason, detail(), at))
    }

    /// A human's resume: back to `Active` from any state.
    pub fn resume(&mut self, detail: impl FnOnce() -> String, at: Timestamp) -> Option<Transition> {
        (self.state != TradingState::Active)
            .then(|| self.move_to(TradingState::Active, ReasonCode::ManualResume, detail(), at))
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
