//! Trade plans: a plan from outside is validated, sized and checked by the same risk manager as
//! copy trading; an approved one stages its order for the plan executor. Every decision is one
//! [`PlanDecision`] (store, audit trail, announcement) and the answer to whoever sent the plan.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::engine::audit::{
    AuditRecord, SignalApproved, SignalClosed, SignalFill, SignalOrder, SignalOrderRefused, SignalRejected,
    SignalUnfilled,
};
use crate::engine::io::{ControlOutcome, EngineEvent, Outputs, PlanAnswer};
use crate::plans::{
    ExitReason, PlanClose, PlanDecision, PlanOrder, PlanOrderReport, PlanOutcome, PlanQuote, PlanSource, PlanWire,
    TradePlan, validate_trade_plan,
};
use crate::risk::{PlanActions, PlanCheck, PlanEnd, RiskError};

use super::Engine;

impl Engine {
    pub(super) fn submit_plan(&mut self, wire: PlanWire, source: PlanSource, now: Timestamp, out: &mut Outputs) {
        let (plan_id, symbol, direction) =
            (wire.plan_id.clone().unwrap_or_default(), wire.symbol.clone(), wire.direction);
        let mut decision =
            PlanDecision { plan_id, symbol, direction, source, at: now, plan: None, outcome: rejected_off() };
        let mut staged = None;
        decision.outcome = if !self.config.signals.enabled {
            rejected_off()
        } else {
            match validate_trade_plan(wire) {
                Err(refusal) => PlanOutcome::Rejected { code: refusal.code, detail: refusal.to_string() },
                Ok(plan) => {
                    decision.symbol = Some(plan.symbol.clone());
                    let (outcome, entry) = self.check_plan(&plan, now);
                    staged = entry;
                    decision.plan = Some(plan.into());
                    outcome
                }
            }
        };
        self.audit_plan(&decision, out);
        if let Some(order) = staged {
            if self.plan_mode() == Mode::DryRun {
                out.plan_orders.push(order);
            } else {
                self.stage_plan_order(order, now, out);
            }
        }
        let (outcome, message) = match &decision.outcome {
            PlanOutcome::Approved { size, order } => (
                ControlOutcome::Done,
                format!(
                    "plan {} approved: {} {} {} at {} ({} at risk), staged {}",
                    decision.plan_id, order.side, order.units, order.symbol, order.price, size.risk_usd, order.mode
                ),
            ),
            PlanOutcome::Rejected { code, detail } => {
                (ControlOutcome::Refused, format!("plan {} rejected ({code}): {detail}", decision.plan_id))
            }
        };
        self.answer_plan(outcome, message, PlanAnswer::Decision(Box::new(decision.clone())));
        out.events.push(EngineEvent::PlanDecided(Box::new(decision)));
    }

    /// The risk manager's decision, and the entry order an approval stages.
    fn check_plan(&mut self, plan: &TradePlan, now: Timestamp) -> (PlanOutcome, Option<PlanOrder>) {
        match self.risk.check_plan(plan, &self.config.signals, self.plan_mode(), now) {
            PlanCheck::Rejected { code, detail } => (PlanOutcome::Rejected { code, detail }, None),
            PlanCheck::Approved(approved) => {
                let (size, staged) = approved.into_parts();
                let order = staged.to_plan_order(&plan.plan_id, now);
                (PlanOutcome::Approved { size, order: Box::new(staged) }, Some(order))
            }
        }
    }

    /// Where plans' orders go: nowhere in a dry run or without a venue (`signals.venue = "none"`),
    /// otherwise the venue in the daemon's mode (paper = its testnet).
    pub(crate) fn plan_mode(&self) -> Mode {
        match (self.config.daemon.mode, self.config.signals.venue.kind()) {
            (Mode::DryRun, _) | (_, None) => Mode::DryRun,
            (mode, Some(_)) => mode,
        }
    }

    /// A plan order for the venue: audited, written ahead with the step, then handed over.
    fn stage_plan_order(&mut self, order: PlanOrder, now: Timestamp, out: &mut Outputs) {
        self.emit_audit(
            AuditRecord::SignalOrder(SignalOrder {
                plan_id: order.plan_id.clone(),
                symbol: order.symbol.clone(),
                client_order_id: order.client_order_id.clone(),
                kind: order.kind.to_string(),
                side: order.side.to_string(),
                price: order.price,
                units: order.units,
                reduce_only: order.reduce_only,
                mode: self.plan_mode().to_string(),
                timestamp: now.to_rfc3339(),
            }),
            out,
        );
        out.events.push(EngineEvent::PlanOrderStaged(Box::new(order.clone())));
        out.plan_orders.push(order);
    }

    fn apply_plan_actions(&mut self, actions: PlanActions, now: Timestamp, out: &mut Outputs) {
        out.plan_cancels.extend(actions.cancels);
        for order in actions.exits {
            self.stage_plan_order(order, now, out);
        }
    }

    /// A venue's word on a plan order: fills move the plan's position, a refusal is audited with
    /// its reason, and a plan whose position is over closes (or ends unfilled).
    pub(super) fn on_plan_report(&mut self, report: &PlanOrderReport, now: Timestamp, out: &mut Outputs) {
        let symbol = self.risk.plan_book().open_plan(&report.plan_id).map(|p| p.symbol.clone()).unwrap_or_default();
        let outcome = match self.risk.apply_plan_report(report, now) {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(
                    plan = %report.plan_id,
                    order = %report.client_order_id,
                    %error,
                    "a plan order report was not applied"
                );
                return;
            }
        };
        out.events.push(EngineEvent::PlanOrderReported(Box::new(report.clone())));
        let applied = &outcome.applied;
        if let Some(refusal) = &report.refusal {
            self.emit_audit(
                AuditRecord::SignalOrderRefused(SignalOrderRefused {
                    plan_id: report.plan_id.clone(),
                    symbol: symbol.clone(),
                    client_order_id: report.client_order_id.clone(),
                    kind: applied.kind.to_string(),
                    reason: refusal.reason.clone(),
                    detail: refusal.detail.clone(),
                    timestamp: now.to_rfc3339(),
                }),
                out,
            );
        }
        if applied.new_units > Decimal::ZERO || (applied.finished && applied.filled > Decimal::ZERO) {
            self.emit_audit(
                AuditRecord::SignalFill(SignalFill {
                    plan_id: report.plan_id.clone(),
                    symbol: symbol.clone(),
                    client_order_id: report.client_order_id.clone(),
                    venue_order_id: report.venue_order_id.clone(),
                    kind: applied.kind.to_string(),
                    units: applied.new_units,
                    filled: applied.filled,
                    average_price: applied.average_price,
                    fee: report.fee,
                    done: report.done,
                    timestamp: now.to_rfc3339(),
                }),
                out,
            );
        }
        match outcome.end {
            None => {}
            Some(PlanEnd::Closed(close)) => self.record_plan_close(close, now, out),
            Some(PlanEnd::Unfilled { plan_id, symbol }) => {
                self.emit_audit(
                    AuditRecord::SignalUnfilled(SignalUnfilled {
                        plan_id: plan_id.clone(),
                        symbol: symbol.clone(),
                        timestamp: now.to_rfc3339(),
                    }),
                    out,
                );
                out.events.push(EngineEvent::PlanUnfilled { plan_id, symbol, at: now });
            }
        }
    }

    /// A venue's price for a plan's symbol, put to the stops and targets of its open plans.
    pub(super) fn on_plan_quote(&mut self, quote: &PlanQuote, now: Timestamp, out: &mut Outputs) {
        let actions = self.risk.on_plan_quote(quote, now);
        self.apply_plan_actions(actions, now, out);
    }

    /// The kill switch: every plan's working entry cancelled and what it holds exited at market.
    pub(super) fn flatten_plans(&mut self, now: Timestamp, out: &mut Outputs) {
        let actions = self.risk.flatten_plans(now);
        self.apply_plan_actions(actions, now, out);
    }

    pub(super) fn close_plan(&mut self, plan_id: &str, exit_price: Decimal, now: Timestamp, out: &mut Outputs) {
        // A plan with a position at a venue closes by selling (or buying back) there: the fills
        // set its exit price, not the operator's figure.
        if let Some(actions) = self.risk.close_plan_at_venue(plan_id, ExitReason::Manual, now) {
            let message = format!(
                "plan {plan_id}: close sent to the venue ({} exit order(s), {} entry cancel(s)); its fills set the exit price",
                actions.exits.len(),
                actions.cancels.len()
            );
            self.apply_plan_actions(actions, now, out);
            self.answer(ControlOutcome::Done, message);
            return;
        }
        match self.risk.close_plan(plan_id, exit_price, now) {
            Err(e) => {
                let outcome = match e {
                    RiskError::UnknownPlan(_) => ControlOutcome::NotFound,
                    _ => ControlOutcome::Refused,
                };
                self.answer(outcome, format!("plan {plan_id}: {e}"));
            }
            Ok(close) => {
                let message = format!(
                    "plan {plan_id} closed at {exit_price}: {} ({}R)",
                    crate::alerts::usd(close.pnl_usd),
                    close.r_multiple
                );
                self.answer_plan(ControlOutcome::Done, message, PlanAnswer::Close(Box::new(close.clone())));
                self.record_plan_close(close, now, out);
            }
        }
    }

    /// A closed plan: audited, stored and told.
    fn record_plan_close(&mut self, close: PlanClose, now: Timestamp, out: &mut Outputs) {
        self.emit_audit(
            AuditRecord::SignalClosed(SignalClosed {
                plan_id: close.plan_id.clone(),
                symbol: close.symbol.clone(),
                direction: close.direction.to_string(),
                entry: close.entry,
                exit_price: close.exit_price,
                units: close.units,
                pnl_usd: close.pnl_usd,
                r_multiple: close.r_multiple,
                timestamp: now.to_rfc3339(),
            }),
            out,
        );
        out.events.push(EngineEvent::PlanClosed(Box::new(close)));
    }

    fn audit_plan(&mut self, decision: &PlanDecision, out: &mut Outputs) {
        let direction = decision.direction.map(|d| d.to_string()).unwrap_or_default();
        let symbol = decision.symbol.clone().unwrap_or_default();
        let record = match (&decision.outcome, decision.plan.as_deref()) {
            (PlanOutcome::Approved { size, order }, Some(plan)) => AuditRecord::SignalApproved(SignalApproved {
                plan_id: decision.plan_id.clone(),
                symbol,
                direction,
                source: decision.source.to_string(),
                score: plan.score,
                quality_tier: plan.quality_tier.as_str().to_owned(),
                regime: plan.regime.as_str().to_owned(),
                entry_near: plan.entry.near,
                entry_far: plan.entry.far,
                stop: plan.stop,
                targets: plan.targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
                reward_to_risk: plan.reward_to_risk(),
                units: size.units,
                notional_usd: size.notional_usd,
                risk_usd: size.risk_usd,
                risk_percent: size.risk_percent,
                equity_usd: size.equity_usd,
                leverage: size.leverage,
                atr_factor: size.atr_factor,
                capped: size.capped,
                client_order_id: order.client_order_id.clone(),
                mode: order.mode.to_string(),
                timestamp: decision.at.to_rfc3339(),
            }),
            (outcome, plan) => AuditRecord::SignalRejected(SignalRejected {
                plan_id: decision.plan_id.clone(),
                symbol,
                direction,
                source: decision.source.to_string(),
                reason: decision.reason().map(|c| c.as_str().to_owned()).unwrap_or_default(),
                detail: match outcome {
                    PlanOutcome::Rejected { detail, .. } => detail.clone(),
                    PlanOutcome::Approved { .. } => String::new(),
                },
                quality_tier: plan.map(|p| p.quality_tier.as_str().to_owned()).unwrap_or_default(),
                regime: plan.map(|p| p.regime.as_str().to_owned()).unwrap_or_default(),
                trading_state: self.risk.trading_state().to_string(),
                equity_usd: self.risk.equity().round_dp(2),
                timestamp: decision.at.to_rfc3339(),
            }),
        };
        self.emit_audit(record, out);
    }
}

/// What a plan gets while `signals.enabled = false`.
fn rejected_off() -> PlanOutcome {
    PlanOutcome::Rejected {
        code: crate::domain::ReasonCode::SignalsDisabled,
        detail: "trade plans are not taken (signals.enabled = false)".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::config::Config;
    use crate::domain::ReasonCode;
    use crate::engine::io::{Control, Input};
    use crate::engine::{EngineSettings, MemoryAuditSink};
    use crate::plans::sample::wire;

    const NOW: Timestamp = Timestamp(1_700_000_000_000);

    fn engine() -> (Engine, MemoryAuditSink) {
        let audit = MemoryAuditSink::default();
        let engine = Engine::new(Arc::new(Config::default()), EngineSettings::default(), Box::new(audit.clone()), NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        (engine, audit)
    }

    fn submit(engine: &mut Engine, plan: PlanWire, out: &mut Outputs) -> PlanDecision {
        out.clear();
        engine.process(Input::Control(Control::SubmitPlan { plan: Box::new(plan), source: PlanSource::Api }), NOW, out);
        let decided = out.events.iter().find_map(|e| match e {
            EngineEvent::PlanDecided(d) => Some((**d).clone()),
            _ => None,
        });
        decided.unwrap_or_else(|| panic!("no decision: {:?}", out.events))
    }

    #[test]
    fn an_approved_plan_stages_its_order_answers_and_is_audited() {
        let (mut engine, audit) = engine();
        let mut out = Outputs::new();
        let decision = submit(&mut engine, wire(), &mut out);
        assert!(decision.is_approved(), "{decision:?}");
        assert_eq!(out.plan_orders.len(), 1);
        assert_eq!(out.plan_orders[0].client_order_id, "plan-p-1");
        let answer = engine.status().control_answer.unwrap_or_else(|| panic!("no answer"));
        assert_eq!(answer.outcome, ControlOutcome::Done);
        assert!(matches!(answer.plan, Some(PlanAnswer::Decision(ref d)) if d.plan_id == "p-1"));
        let records = audit.records();
        assert!(
            matches!(records.last(), Some(AuditRecord::SignalApproved(r)) if r.plan_id == "p-1" && r.mode == "dry-run")
        );
    }

    #[test]
    fn a_refused_plan_is_audited_with_its_code_and_stages_nothing() {
        let (mut engine, audit) = engine();
        let mut out = Outputs::new();
        let decision = submit(&mut engine, PlanWire { stop: None, ..wire() }, &mut out);
        assert_eq!(decision.reason(), Some(ReasonCode::IncompletePlan));
        assert_eq!(decision.symbol.as_deref(), Some("btc/usdt"), "the symbol as given, before validation");
        assert!(out.plan_orders.is_empty());
        assert_eq!(engine.status().control_answer.map(|a| a.outcome), Some(ControlOutcome::Refused));
        let records = audit.records();
        assert!(
            matches!(records.last(), Some(AuditRecord::SignalRejected(r)) if r.reason == "incomplete_plan" && r.detail.starts_with("stop:")),
            "{records:?}"
        );
    }

    #[test]
    fn plans_are_refused_while_signals_are_disabled() {
        let mut config = Config::default();
        config.signals.enabled = false;
        let mut engine =
            Engine::new(Arc::new(config), EngineSettings::default(), Box::new(MemoryAuditSink::default()), NOW)
                .unwrap_or_else(|e| panic!("{e}"));
        let decision = submit(&mut engine, wire(), &mut Outputs::new());
        assert_eq!(decision.reason(), Some(ReasonCode::SignalsDisabled));
    }

    #[test]
    fn closing_an_unknown_plan_is_not_found_and_a_known_one_is_answered_with_its_r() {
        let (mut engine, _) = engine();
        let mut out = Outputs::new();
        engine.process(
            Input::Control(Control::ClosePlan { plan_id: "nope".into(), exit_price: dec!(1) }),
            NOW,
            &mut out,
        );
        assert_eq!(engine.status().control_answer.map(|a| a.outcome), Some(ControlOutcome::NotFound));
        submit(&mut engine, wire(), &mut out);
        out.clear();
        engine.process(
            Input::Control(Control::ClosePlan { plan_id: "p-1".into(), exit_price: dec!(43100) }),
            NOW,
            &mut out,
        );
        let close = out.events.iter().find_map(|e| match e {
            EngineEvent::PlanClosed(c) => Some((**c).clone()),
            _ => None,
        });
        let close = close.unwrap_or_else(|| panic!("no close: {:?}", out.events));
        assert_eq!(close.r_multiple, dec!(2));
        assert_eq!(engine.status().control_answer.map(|a| a.outcome), Some(ControlOutcome::Done));
    }

    /// A paper engine whose plans go to a venue.
    fn venue_engine() -> (Engine, MemoryAuditSink) {
        let mut config = Config::default();
        config.daemon.mode = Mode::Paper;
        config.signals.venue = crate::plans::PlanVenue::Bybit;
        let audit = MemoryAuditSink::default();
        let engine = Engine::new(Arc::new(config), EngineSettings::default(), Box::new(audit.clone()), NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        (engine, audit)
    }

    fn report(order: &PlanOrder, filled: Decimal, price: Decimal, refusal: Option<&str>) -> Input {
        Input::PlanReport(Box::new(PlanOrderReport {
            client_order_id: order.client_order_id.clone(),
            plan_id: order.plan_id.clone(),
            venue_order_id: Some("v-1".into()),
            filled,
            average_price: price,
            fee: Decimal::ZERO,
            done: true,
            refusal: refusal.map(|r| crate::plans::PlanOrderRefusal { reason: r.into(), detail: "code 1".into() }),
            at: NOW,
        }))
    }

    #[test]
    fn at_a_venue_a_plan_is_written_ahead_filled_stopped_out_and_closed() {
        let (mut engine, audit) = venue_engine();
        let mut out = Outputs::new();
        let decision = submit(&mut engine, wire(), &mut out);
        assert!(decision.is_approved(), "{decision:?}");
        let entry = out.plan_orders.pop().unwrap_or_else(|| panic!("no entry order"));
        assert!(entry.client_order_id.starts_with("wt-") && entry.kind.is_entry(), "{entry:?}");
        assert_eq!((entry.price, entry.stop_loss), (Some(dec!(42200)), Some(dec!(41750))));
        assert!(
            out.events
                .iter()
                .any(|e| matches!(e, EngineEvent::PlanOrderStaged(o) if o.client_order_id == entry.client_order_id))
        );
        assert!(matches!(audit.records().last(), Some(AuditRecord::SignalOrder(o)) if o.mode == "paper"));

        out.clear();
        engine.process(report(&entry, entry.units, dec!(42200), None), NOW, &mut out);
        assert!(
            matches!(audit.records().last(), Some(AuditRecord::SignalFill(f)) if f.filled == entry.units && f.done)
        );

        out.clear();
        let quote = PlanQuote { symbol: "BTC/USDT".into(), bid: dec!(41740), ask: dec!(41750), at: NOW };
        engine.process(Input::PlanQuote(Box::new(quote)), NOW, &mut out);
        let exit = out.plan_orders.pop().unwrap_or_else(|| panic!("no exit: {:?}", out.events));
        assert_eq!((exit.price, exit.reduce_only, exit.units), (None, true, entry.units));

        out.clear();
        engine.process(report(&exit, exit.units, dec!(41740), None), NOW, &mut out);
        let closed = out.events.iter().find_map(|e| match e {
            EngineEvent::PlanClosed(c) => Some(c.clone()),
            _ => None,
        });
        let closed = closed.unwrap_or_else(|| panic!("not closed: {:?}", out.events));
        assert!(closed.r_multiple < dec!(-1) && closed.exit_price == dec!(41740), "{closed:?}");
        assert!(engine.risk().open_plans().is_empty());
    }

    #[test]
    fn at_a_venue_a_refused_entry_is_audited_with_its_reason_and_ends_the_plan() {
        let (mut engine, audit) = venue_engine();
        let mut out = Outputs::new();
        submit(&mut engine, wire(), &mut out);
        let entry = out.plan_orders.pop().unwrap_or_else(|| panic!("no entry order"));
        out.clear();
        engine.process(report(&entry, dec!(0), dec!(0), Some("insufficient_balance")), NOW, &mut out);
        let records = audit.records();
        assert!(
            records
                .iter()
                .any(|r| matches!(r, AuditRecord::SignalOrderRefused(x) if x.reason == "insufficient_balance")),
            "{records:?}"
        );
        assert!(matches!(records.last(), Some(AuditRecord::SignalUnfilled(u)) if u.plan_id == "p-1"));
        assert!(engine.risk().plan_risk_total().is_zero());
    }

    #[test]
    fn at_a_venue_a_close_and_the_kill_switch_exit_at_market_and_cancel_the_entry() {
        let (mut engine, _) = venue_engine();
        let mut out = Outputs::new();
        submit(&mut engine, wire(), &mut out);
        let entry = out.plan_orders.pop().unwrap_or_else(|| panic!("no entry order"));
        out.clear();
        let mut partial = report(&entry, dec!(0.1), dec!(42200), None);
        if let Input::PlanReport(r) = &mut partial {
            r.done = false;
        }
        engine.process(partial, NOW, &mut out);
        out.clear();
        engine.process(Input::Control(Control::Kill { detail: "test".into() }), NOW, &mut out);
        assert_eq!(
            out.plan_cancels.iter().map(|c| c.client_order_id.as_str()).collect::<Vec<_>>(),
            [entry.client_order_id.as_str()]
        );
        assert_eq!(out.plan_orders.iter().map(|o| o.units).collect::<Vec<_>>(), [dec!(0.1)]);
    }
}
