//! Trade plans at a venue: their orders' reports applied to the plan book, the venue's prices
//! put to each plan's stop and targets, the exits that follow, and the plan's end: closed with its
//! result booked as realised P&L (real fills move equity, the breaker and the loss limits like any
//! other trade), or ended unfilled with its risk released.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::plans::{
    ExitReason, PlanClose, PlanOrder, PlanOrderKind, PlanOrderReport, PlanQuote, PositionAction, ReportApplied,
    TrackedOrder,
};
use crate::risk::error::RiskError;
use crate::risk::r_multiple::r_multiple;

use super::RiskManager;

/// How a plan with a position ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanEnd {
    /// Something filled and all of it was exited.
    Closed(PlanClose),
    /// The entry finished with nothing filled (refused, cancelled, timed out).
    Unfilled { plan_id: String, symbol: String },
}

/// What one report did to its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanReportOutcome {
    pub applied: ReportApplied,
    pub end: Option<PlanEnd>,
}

/// An order of an open plan still working at the venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingPlanOrder {
    pub client_order_id: String,
    pub plan_id: String,
    pub symbol: String,
    pub kind: PlanOrderKind,
}

/// What the prices asked of the plans: entries to cancel and exits to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanActions {
    pub cancels: Vec<WorkingPlanOrder>,
    pub exits: Vec<PlanOrder>,
}

impl RiskManager {
    /// Applies a venue's cumulative report of a plan order. When the plan is over, it leaves the
    /// book (its risk released) and a closed plan's P&L is booked.
    pub fn apply_plan_report(
        &mut self,
        report: &PlanOrderReport,
        now: Timestamp,
    ) -> Result<PlanReportOutcome, RiskError> {
        self.tick_clock(now);
        let plan =
            self.plans.open_plan_mut(&report.plan_id).ok_or_else(|| RiskError::UnknownPlan(report.plan_id.clone()))?;
        let position = plan.position.as_mut().ok_or_else(|| {
            RiskError::input("plan_id", &report.plan_id, "has no position at a venue (it was approved in a dry run)")
        })?;
        let applied = position.apply(report)?;
        if !position.is_finished() {
            return Ok(PlanReportOutcome { applied, end: None });
        }
        let (direction, stop) = (plan.direction, plan.stop);
        let result = position.result(direction);
        let Some(open) = self.plans.close(&report.plan_id) else {
            return Err(RiskError::UnknownPlan(report.plan_id.clone()));
        };
        if result.units <= Decimal::ZERO {
            return Ok(PlanReportOutcome {
                applied,
                end: Some(PlanEnd::Unfilled { plan_id: open.plan_id, symbol: open.symbol }),
            });
        }
        // R against the risk actually taken: what filled, from the price it filled at to the
        // plan's own stop.
        let initial_risk = result.units * (result.entry - stop).abs();
        let r = r_multiple(result.pnl, initial_risk).unwrap_or_default();
        self.book_realised(result.pnl);
        self.evaluate(now);
        Ok(PlanReportOutcome {
            applied,
            end: Some(PlanEnd::Closed(PlanClose {
                plan_id: open.plan_id,
                symbol: open.symbol,
                direction,
                entry: result.entry,
                exit_price: result.average_exit,
                units: result.units,
                pnl_usd: result.pnl,
                r_multiple: r.round_dp(4),
                at: now,
            })),
        })
    }

    /// Puts the venue's price to every open plan on its symbol: entries to cancel once the stop is
    /// reached, exits at the stop and at each target.
    pub fn on_plan_quote(&mut self, quote: &PlanQuote, now: Timestamp) -> PlanActions {
        let mut actions = PlanActions::default();
        let mut wanted = Vec::new();
        for plan in self.plans.open_plans_mut().filter(|p| p.symbol == quote.symbol) {
            let Some(position) = plan.position.as_mut() else { continue };
            for action in position.on_quote(plan.direction, quote.bid, quote.ask, quote.at) {
                match action {
                    PositionAction::CancelEntry => actions.cancels.push(WorkingPlanOrder {
                        client_order_id: position.entry.client_order_id.clone(),
                        plan_id: plan.plan_id.clone(),
                        symbol: plan.symbol.clone(),
                        kind: PlanOrderKind::Entry,
                    }),
                    PositionAction::Exit { reason, units } => wanted.push((plan.plan_id.clone(), reason, units)),
                }
            }
        }
        for (plan_id, reason, units) in wanted {
            if let Some(order) = self.plan_exit(&plan_id, reason, units, now) {
                actions.exits.push(order);
            }
        }
        actions
    }

    /// Exits everything a plan holds and cancels its entry (an operator's close, the kill
    /// switch). `None` when the plan has no position at a venue.
    pub fn close_plan_at_venue(&mut self, plan_id: &str, reason: ExitReason, now: Timestamp) -> Option<PlanActions> {
        let plan = self.plans.open_plan(plan_id)?;
        let position = plan.position.as_ref()?;
        let mut actions = PlanActions::default();
        if !position.entry.done {
            actions.cancels.push(WorkingPlanOrder {
                client_order_id: position.entry.client_order_id.clone(),
                plan_id: plan.plan_id.clone(),
                symbol: plan.symbol.clone(),
                kind: PlanOrderKind::Entry,
            });
        }
        // What an exit already working takes is not sent again.
        let exiting: Decimal = position.exits.iter().filter(|e| !e.done).map(|e| e.units - e.filled).sum();
        let units = position.held() - exiting;
        if units > Decimal::ZERO
            && let Some(order) = self.plan_exit(plan_id, reason, units, now)
        {
            actions.exits.push(order);
        }
        Some(actions)
    }

    /// Every open plan at a venue closed (the kill switch).
    pub fn flatten_plans(&mut self, now: Timestamp) -> PlanActions {
        let ids: Vec<String> =
            self.plans.open_plans().iter().filter(|p| p.position.is_some()).map(|p| p.plan_id.clone()).collect();
        let mut all = PlanActions::default();
        for id in ids {
            if let Some(actions) = self.close_plan_at_venue(&id, ExitReason::Kill, now) {
                all.cancels.extend(actions.cancels);
                all.exits.extend(actions.exits);
            }
        }
        all
    }

    /// The plan orders still working (to ask the venue about after a restart).
    pub fn working_plan_orders(&self) -> Vec<WorkingPlanOrder> {
        self.plans
            .open_plans()
            .iter()
            .filter_map(|p| Some((p, p.position.as_ref()?)))
            .flat_map(|(plan, position)| {
                position.working().map(|o| WorkingPlanOrder {
                    client_order_id: o.client_order_id.clone(),
                    plan_id: plan.plan_id.clone(),
                    symbol: plan.symbol.clone(),
                    kind: o.kind,
                })
            })
            .collect()
    }

    /// A market exit of `units` of the plan, tracked in its position before it is sent.
    fn plan_exit(&mut self, plan_id: &str, reason: ExitReason, units: Decimal, now: Timestamp) -> Option<PlanOrder> {
        let plan = self.plans.open_plan_mut(plan_id)?;
        let position = plan.position.as_mut()?;
        let n = position.exits.len() + 1;
        let client_order_id = position
            .entry
            .client_order_id
            .strip_suffix("-e")
            .map_or_else(|| format!("{}-x{n}", position.entry.client_order_id), |stem| format!("{stem}-x{n}"));
        let kind = PlanOrderKind::Exit { reason };
        position.add_exit(TrackedOrder::new(client_order_id.clone(), kind, units));
        Some(PlanOrder {
            client_order_id,
            plan_id: plan.plan_id.clone(),
            symbol: plan.symbol.clone(),
            side: plan.direction.side().opposite(),
            kind,
            price: None,
            units,
            reduce_only: true,
            stop_loss: None,
            take_profit: None,
            leverage: rust_decimal::Decimal::ONE,
            at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::config::Mode;
    use crate::plans::{SignalsConfig, sample};
    use crate::risk::PlanCheck;
    use crate::risk::config::RiskConfig;

    const T0: Timestamp = Timestamp(1_767_261_600_000);

    fn approved(rm: &mut RiskManager) -> (String, String) {
        let plan = sample::plan();
        match rm.check_plan(&plan, &SignalsConfig::default(), Mode::Paper, T0) {
            PlanCheck::Approved(a) => (plan.plan_id.clone(), a.order().client_order_id.clone()),
            PlanCheck::Rejected { code, detail } => panic!("{code}: {detail}"),
        }
    }

    fn report(plan: &str, id: &str, filled: Decimal, price: Decimal, done: bool) -> PlanOrderReport {
        PlanOrderReport {
            client_order_id: id.into(),
            plan_id: plan.into(),
            venue_order_id: Some("1".into()),
            filled,
            average_price: price,
            fee: Decimal::ZERO,
            done,
            refusal: None,
            at: T0,
        }
    }

    #[test]
    fn a_plan_fills_hits_its_stop_and_closes_with_its_loss_booked() {
        let mut rm = RiskManager::new(RiskConfig::default(), T0).unwrap_or_else(|e| panic!("{e}"));
        let equity = rm.equity();
        let (plan_id, entry_id) = approved(&mut rm);
        assert!(entry_id.starts_with("wt-") && entry_id.ends_with("-e"), "{entry_id}");
        let plan = sample::plan();
        let units = rm.open_plans()[0].units;
        let half = units / dec!(2);
        let first = rm.apply_plan_report(&report(&plan_id, &entry_id, half, plan.entry.near, false), T0);
        assert_eq!(first.map(|o| (o.applied.new_units, o.end)).ok(), Some((half, None)));
        let _ = rm.apply_plan_report(&report(&plan_id, &entry_id, units, plan.entry.near, true), T0);
        assert_eq!(rm.working_plan_orders().len(), 0);
        let quote = PlanQuote { symbol: plan.symbol.clone(), bid: plan.stop, ask: plan.stop + dec!(1), at: T0 };
        let actions = rm.on_plan_quote(&quote, T0);
        assert_eq!(actions.exits.len(), 1);
        let exit = &actions.exits[0];
        assert_eq!(
            (exit.units, exit.reduce_only, exit.kind),
            (units, true, PlanOrderKind::Exit { reason: ExitReason::StopLoss })
        );
        assert!(rm.on_plan_quote(&quote, T0).exits.is_empty(), "one exit at a time");
        assert_eq!(rm.working_plan_orders().len(), 1);
        let done = rm
            .apply_plan_report(&report(&plan_id, &exit.client_order_id, units, plan.stop, true), T0)
            .unwrap_or_else(|e| panic!("{e}"));
        let Some(PlanEnd::Closed(close)) = done.end else { panic!("not closed: {done:?}") };
        assert_eq!(close.r_multiple, dec!(-1));
        assert_eq!(rm.equity(), equity + close.pnl_usd, "the loss is booked");
        assert!(rm.open_plans().is_empty() && rm.plan_risk_total().is_zero());
    }

    #[test]
    fn an_entry_refused_by_the_venue_ends_the_plan_unfilled_and_frees_its_risk() {
        let mut rm = RiskManager::new(RiskConfig::default(), T0).unwrap_or_else(|e| panic!("{e}"));
        let (plan_id, entry_id) = approved(&mut rm);
        let outcome = rm
            .apply_plan_report(&report(&plan_id, &entry_id, dec!(0), dec!(0), true), T0)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(outcome.end, Some(PlanEnd::Unfilled { .. })));
        assert!(rm.plan_risk_total().is_zero());
        assert!(matches!(
            rm.apply_plan_report(&report(&plan_id, &entry_id, dec!(0), dec!(0), true), T0),
            Err(RiskError::UnknownPlan(_))
        ));
    }

    #[test]
    fn the_kill_switch_cancels_working_entries_and_exits_what_is_held() {
        let mut rm = RiskManager::new(RiskConfig::default(), T0).unwrap_or_else(|e| panic!("{e}"));
        let (plan_id, entry_id) = approved(&mut rm);
        let _ = rm.apply_plan_report(&report(&plan_id, &entry_id, dec!(0.1), dec!(42200), false), T0);
        let actions = rm.flatten_plans(T0);
        assert_eq!(actions.cancels.len(), 1);
        assert_eq!(actions.exits.iter().map(|e| e.units).collect::<Vec<_>>(), vec![dec!(0.1)]);
        assert!(rm.flatten_plans(T0).exits.is_empty(), "what is already on its way out is not sent again");
    }
}
