//! A plan's position at its venue, managed by the plan's own stop and targets: the entry order's
//! fills open it, each target takes an equal share off (the last one the rest) and moves the stop
//! to the entry, the stop takes everything that is left, and the plan is over when the entry is
//! done and nothing is held. Pure: prices and fills come in, the orders to send come out.
//!
//! Orders are tracked by their *cumulative* reports, so a report read twice (a restart's
//! reconciliation, a poll that saw nothing new) changes nothing.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

use super::execution::{ExitReason, PlanOrderKind, PlanOrderReport};
use super::plan::Direction;

/// One order of the position, as its reports left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedOrder {
    pub client_order_id: String,
    pub kind: PlanOrderKind,
    /// Units asked for.
    pub units: Decimal,
    pub filled: Decimal,
    pub average_price: Decimal,
    pub fee: Decimal,
    pub done: bool,
}

impl TrackedOrder {
    pub fn new(client_order_id: String, kind: PlanOrderKind, units: Decimal) -> Self {
        Self {
            client_order_id,
            kind,
            units,
            filled: Decimal::ZERO,
            average_price: Decimal::ZERO,
            fee: Decimal::ZERO,
            done: false,
        }
    }
}

/// What a report changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportApplied {
    pub kind: PlanOrderKind,
    /// Units newly filled by this report (0 when it only said what was known).
    pub new_units: Decimal,
    /// The order's cumulative state after it.
    pub filled: Decimal,
    pub average_price: Decimal,
    /// The report finished the order (and it was not finished before).
    pub finished: bool,
}

/// What the price asks of a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionAction {
    /// Cancel the entry still working (the stop was reached before it filled whole).
    CancelEntry,
    /// Sell (a long) or buy back (a short) `units` at market.
    Exit { reason: ExitReason, units: Decimal },
}

/// Why a report cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("no order {0} belongs to this plan")]
    UnknownOrder(String),
    #[error("order {id}: the venue reports {filled} filled, less than the {known} already known")]
    FillWentBack { id: String, filled: Decimal, known: Decimal },
    #[error("order {id}: the venue reports {filled} filled of {units} asked")]
    Overfilled { id: String, filled: Decimal, units: Decimal },
}

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPosition {
    pub entry: TrackedOrder,
    pub exits: Vec<TrackedOrder>,
    /// The stop now: the plan's, then the entry price once the first target is taken.
    pub stop: Decimal,
    pub targets: Vec<Decimal>,
    /// How many targets have been acted on.
    pub targets_hit: u8,
    /// When the last price was seen, if any.
    pub last_quote_at: Option<Timestamp>,
}

impl PlanPosition {
    pub fn new(entry: TrackedOrder, stop: Decimal, targets: Vec<Decimal>) -> Self {
        Self { entry, exits: Vec::new(), stop, targets, targets_hit: 0, last_quote_at: None }
    }

    /// Units held now: what the entry filled less what the exits filled.
    pub fn held(&self) -> Decimal {
        self.entry.filled - self.exits.iter().map(|e| e.filled).sum::<Decimal>()
    }

    /// An exit is at the venue and not finished.
    pub fn exit_working(&self) -> bool {
        self.exits.iter().any(|e| !e.done)
    }

    /// The orders not finished yet (to reconcile after a restart, or cancel on a kill).
    pub fn working(&self) -> impl Iterator<Item = &TrackedOrder> {
        std::iter::once(&self.entry).chain(&self.exits).filter(|o| !o.done)
    }

    /// The plan is over: the entry finished and nothing is held or on its way out.
    pub fn is_finished(&self) -> bool {
        self.entry.done && self.held() <= Decimal::ZERO && !self.exit_working()
    }

    /// Records a new exit order.
    pub fn add_exit(&mut self, order: TrackedOrder) {
        self.exits.push(order);
    }

    /// Applies a cumulative report of one of the position's orders.
    pub fn apply(&mut self, report: &PlanOrderReport) -> Result<ReportApplied, PositionError> {
        let order = std::iter::once(&mut self.entry)
            .chain(self.exits.iter_mut())
            .find(|o| o.client_order_id == report.client_order_id)
            .ok_or_else(|| PositionError::UnknownOrder(report.client_order_id.clone()))?;
        if report.filled < order.filled {
            return Err(PositionError::FillWentBack {
                id: order.client_order_id.clone(),
                filled: report.filled,
                known: order.filled,
            });
        }
        if report.filled > order.units {
            return Err(PositionError::Overfilled {
                id: order.client_order_id.clone(),
                filled: report.filled,
                units: order.units,
            });
        }
        let new_units = report.filled - order.filled;
        let finished = report.done && !order.done;
        order.filled = report.filled;
        if report.filled > Decimal::ZERO {
            order.average_price = report.average_price;
        }
        order.fee = order.fee.max(report.fee);
        order.done |= report.done;
        Ok(ReportApplied {
            kind: order.kind,
            new_units,
            filled: order.filled,
            average_price: order.average_price,
            finished,
        })
    }

    /// What the price (`bid` and `ask` at `at`) asks of the position in `direction`: at most one
    /// exit while none is working; the entry cancelled once the stop is reached.
    pub fn on_quote(&mut self, direction: Direction, bid: Decimal, ask: Decimal, at: Timestamp) -> Vec<PositionAction> {
        self.last_quote_at = Some(at);
        let mut actions = Vec::new();
        // A long is closed by selling into the bid, a short by buying at the ask.
        let price = match direction {
            Direction::Long => bid,
            Direction::Short => ask,
        };
        let beyond = |level: Decimal| match direction {
            Direction::Long => price >= level,
            Direction::Short => price <= level,
        };
        let stop_reached = match direction {
            Direction::Long => price <= self.stop,
            Direction::Short => price >= self.stop,
        };
        if stop_reached && !self.entry.done {
            actions.push(PositionAction::CancelEntry);
        }
        let held = self.held();
        if held <= Decimal::ZERO || self.exit_working() {
            return actions;
        }
        if stop_reached {
            actions.push(PositionAction::Exit { reason: ExitReason::StopLoss, units: held });
            return actions;
        }
        let next = usize::from(self.targets_hit);
        if let Some(&target) = self.targets.get(next)
            && beyond(target)
        {
            let last = next + 1 == self.targets.len();
            let share = self.entry.filled / Decimal::from(self.targets.len());
            let units = if last || !self.entry.done { held } else { share.min(held) };
            self.targets_hit += 1;
            // Once a target is taken the rest of the trade risks nothing: the stop moves to the entry.
            if self.entry.average_price > Decimal::ZERO {
                self.stop = self.entry.average_price;
            }
            let n = u8::try_from(next + 1).unwrap_or(u8::MAX);
            actions.push(PositionAction::Exit { reason: ExitReason::Target(n), units });
        }
        actions
    }

    /// The result once finished: average exit price, P&L in the quote currency (fees included)
    /// and the units that were held.
    pub fn result(&self, direction: Direction) -> PositionResult {
        let exited: Decimal = self.exits.iter().map(|e| e.filled).sum();
        let proceeds: Decimal = self.exits.iter().map(|e| e.filled * e.average_price).sum();
        // Eight places: a price, not the quotient's 28 digits.
        let average_exit = if exited > Decimal::ZERO { (proceeds / exited).round_dp(8) } else { Decimal::ZERO };
        let fees = self.entry.fee + self.exits.iter().map(|e| e.fee).sum::<Decimal>();
        let gross = (proceeds - exited * self.entry.average_price) * direction.sign();
        PositionResult {
            units: self.entry.filled,
            entry: self.entry.average_price,
            average_exit,
            pnl: gross - fees,
            fees,
        }
    }
}

/// A finished position's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionResult {
    pub units: Decimal,
    pub entry: Decimal,
    pub average_exit: Decimal,
    pub pnl: Decimal,
    pub fees: Decimal,
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn long() -> PlanPosition {
        PlanPosition::new(
            TrackedOrder::new("e".into(), PlanOrderKind::Entry, dec!(0.3)),
            dec!(41750),
            vec![dec!(42800), dec!(43500), dec!(44200)],
        )
    }

    fn report(id: &str, filled: Decimal, price: Decimal, done: bool) -> PlanOrderReport {
        PlanOrderReport {
            client_order_id: id.into(),
            plan_id: "p".into(),
            venue_order_id: None,
            filled,
            average_price: price,
            fee: Decimal::ZERO,
            done,
            refusal: None,
            at: Timestamp(0),
        }
    }

    #[test]
    fn fills_count_once_whatever_the_number_of_reports() {
        let mut p = long();
        let first = p.apply(&report("e", dec!(0.1), dec!(42200), false)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((first.new_units, first.finished), (dec!(0.1), false));
        let again = p.apply(&report("e", dec!(0.1), dec!(42200), false)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.new_units, dec!(0), "a report read twice adds nothing");
        let full = p.apply(&report("e", dec!(0.3), dec!(42200), true)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((full.new_units, full.finished, p.held()), (dec!(0.2), true, dec!(0.3)));
        assert!(matches!(p.apply(&report("e", dec!(0.2), dec!(1), true)), Err(PositionError::FillWentBack { .. })));
        assert!(matches!(p.apply(&report("e", dec!(0.4), dec!(1), true)), Err(PositionError::Overfilled { .. })));
        assert!(matches!(p.apply(&report("zz", dec!(0), dec!(0), true)), Err(PositionError::UnknownOrder(_))));
    }

    #[test]
    fn targets_take_equal_shares_move_the_stop_to_the_entry_and_the_stop_takes_the_rest() {
        let mut p = long();
        let _ = p.apply(&report("e", dec!(0.3), dec!(42200), true));
        assert!(p.on_quote(Direction::Long, dec!(42500), dec!(42501), Timestamp(1)).is_empty());
        let first = p.on_quote(Direction::Long, dec!(42800), dec!(42801), Timestamp(2));
        assert_eq!(first, vec![PositionAction::Exit { reason: ExitReason::Target(1), units: dec!(0.1) }]);
        assert_eq!(p.stop, dec!(42200), "stop at the entry");
        p.add_exit(TrackedOrder::new("x1".into(), PlanOrderKind::Exit { reason: ExitReason::Target(1) }, dec!(0.1)));
        assert!(p.on_quote(Direction::Long, dec!(42000), dec!(42001), Timestamp(3)).is_empty(), "an exit is working");
        let _ = p.apply(&report("x1", dec!(0.1), dec!(42800), true));
        let stop = p.on_quote(Direction::Long, dec!(42150), dec!(42151), Timestamp(4));
        assert_eq!(stop, vec![PositionAction::Exit { reason: ExitReason::StopLoss, units: dec!(0.2) }]);
        p.add_exit(TrackedOrder::new("x2".into(), PlanOrderKind::Exit { reason: ExitReason::StopLoss }, dec!(0.2)));
        assert!(!p.is_finished());
        let _ = p.apply(&report("x2", dec!(0.2), dec!(42150), true));
        assert!(p.is_finished());
        let result = p.result(Direction::Long);
        // 0.1 × 600 − 0.2 × 50 = 50.
        assert_eq!((result.pnl, result.units), (dec!(50), dec!(0.3)));
        assert_eq!(result.average_exit, dec!(42366.66666667), "a price's eight places");
    }

    #[test]
    fn a_short_reads_the_ask_and_the_stop_cancels_an_entry_still_working() {
        let mut p =
            PlanPosition::new(TrackedOrder::new("e".into(), PlanOrderKind::Entry, dec!(2)), dec!(110), vec![dec!(80)]);
        let _ = p.apply(&report("e", dec!(1), dec!(100), false));
        assert!(p.on_quote(Direction::Short, dec!(109), dec!(109.5), Timestamp(1)).is_empty());
        let actions = p.on_quote(Direction::Short, dec!(109), dec!(110), Timestamp(2));
        assert_eq!(
            actions,
            vec![PositionAction::CancelEntry, PositionAction::Exit { reason: ExitReason::StopLoss, units: dec!(1) }]
        );
        let mut target =
            PlanPosition::new(TrackedOrder::new("e".into(), PlanOrderKind::Entry, dec!(2)), dec!(110), vec![dec!(80)]);
        let _ = target.apply(&report("e", dec!(2), dec!(100), true));
        assert_eq!(
            target.on_quote(Direction::Short, dec!(79), dec!(80), Timestamp(3)),
            vec![PositionAction::Exit { reason: ExitReason::Target(1), units: dec!(2) }],
            "the only target takes everything"
        );
    }

    #[test]
    fn an_entry_that_never_filled_finishes_the_plan_with_nothing_held() {
        let mut p = long();
        let _ = p.apply(&report("e", dec!(0), dec!(0), true));
        assert!(p.is_finished());
        assert_eq!(p.result(Direction::Long).pnl, dec!(0));
    }
}
