//! The trade plans' risk check, and their close: the same trading state, leverage cap and
//! opposing-position policy as copy orders, plus the plan rules (duplicate plan id, double fire
//! of a symbol and direction, risk per trade, open risk per asset and in total).

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::{ReasonCode, TradingState};
use crate::plans::{
    PlanClose, PlanOrderKind, PlanPosition, PlanSize, PlanSizeError, SignalsConfig, StagedOrder, TrackedOrder,
    TradePlan, plan_client_order_id, size_plan,
};
use crate::risk::compliance::breaks_leverage_cap;
use crate::risk::config::OpposingPolicy;
use crate::risk::error::RiskError;
use crate::risk::plan_book::{OpenPlan, PlanBook};
use crate::risk::r_multiple::r_multiple;

use super::RiskManager;

/// The risk manager's answer to a trade plan.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanCheck {
    Approved(PlanApproved),
    Rejected { code: ReasonCode, detail: String },
}

impl PlanCheck {
    pub fn is_approved(&self) -> bool {
        matches!(self, PlanCheck::Approved(_))
    }

    pub fn reason(&self) -> Option<ReasonCode> {
        match self {
            PlanCheck::Approved(_) => None,
            PlanCheck::Rejected { code, .. } => Some(*code),
        }
    }
}

/// A plan the risk manager approved: its size and the order it stages. Only the risk module can
/// make one, so holding it proves the plan passed every check and its risk is reserved. Boxed, so
/// that a refusal does not carry the size of an approval.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanApproved {
    parts: Box<(PlanSize, StagedOrder)>,
}

impl PlanApproved {
    pub fn size(&self) -> &PlanSize {
        &self.parts.0
    }

    pub fn order(&self) -> &StagedOrder {
        &self.parts.1
    }

    pub fn into_parts(self) -> (PlanSize, StagedOrder) {
        *self.parts
    }
}

fn reject(code: ReasonCode, detail: String) -> PlanCheck {
    PlanCheck::Rejected { code, detail }
}

impl RiskManager {
    /// Approves or refuses `plan`. The checks run in this order, the first refusal wins: the
    /// trading state must be active; the plan id must not have been seen (every plan that gets
    /// this far is remembered, approved or not, so that a re-sent plan is refused whatever became
    /// of the first; a plan refused for the trading state is not, and may be sent again once
    /// trading resumes); the leverage cap; the double fire of the symbol and direction; an
    /// opposing open plan; sizing on the current equity (risk per trade, minimum notional); the
    /// open risk of the asset, then of every plan. An approved plan is opened in the book at once,
    /// so two quick approvals cannot overshoot a limit together.
    pub fn check_plan(&mut self, plan: &TradePlan, config: &SignalsConfig, mode: Mode, now: Timestamp) -> PlanCheck {
        self.tick_clock(now);
        let check = self.check_plan_rules(plan, config, mode, now);
        if check.is_approved() {
            self.approved += 1;
        } else {
            self.rejected += 1;
        }
        check
    }

    fn check_plan_rules(&mut self, plan: &TradePlan, config: &SignalsConfig, mode: Mode, now: Timestamp) -> PlanCheck {
        let state = self.state.state();
        if state != TradingState::Active {
            let code = match state {
                TradingState::Killed => ReasonCode::KillSwitch,
                TradingState::Reducing if self.breaker.is_open() => ReasonCode::CircuitBreakerOpen,
                _ => ReasonCode::TradingHalted,
            };
            let cause = self.state.cause().map_or("none", ReasonCode::as_str);
            return reject(code, format!("trading state is {state} (cause {cause}); new plans need active"));
        }
        if self.plans.seen(&plan.plan_id) {
            return reject(
                ReasonCode::DuplicatePlan,
                format!(
                    "plan id {} was already received (the last signals.duplicate_memory = {} ids are remembered)",
                    plan.plan_id, config.duplicate_memory
                ),
            );
        }
        self.plans.remember(&plan.plan_id, config.duplicate_memory);
        let max_leverage = self.config.compliance.max_leverage;
        if breaks_leverage_cap(plan.leverage, max_leverage) {
            return reject(
                ReasonCode::MaxLeverage,
                format!("leverage {} is outside [1, {max_leverage}] (risk.compliance.max_leverage)", plan.leverage),
            );
        }
        let window = config.double_fire_window_minutes;
        if let Some(at) = self.plans.fired_within(&plan.symbol, plan.direction, now, window) {
            return reject(
                ReasonCode::DoubleFire,
                format!(
                    "a {} {} was already approved at {at}, within the {window}-minute window (signals.double_fire_window_minutes)",
                    plan.symbol, plan.direction
                ),
            );
        }
        if self.config.compliance.opposing_positions == OpposingPolicy::Reject
            && let Some(open) = self.plans.open_on(&plan.symbol, plan.direction.opposite())
        {
            return reject(
                ReasonCode::OpposingPosition,
                format!(
                    "a {} {} opposes open plan {} ({}) on the same symbol (risk.compliance.opposing_positions = reject)",
                    plan.symbol, plan.direction, open.plan_id, open.direction
                ),
            );
        }
        let equity = self.equity();
        let size = match size_plan(plan, equity, config, max_leverage) {
            Ok(size) => size,
            Err(error) => return sizing_rejection(error, config),
        };
        if size.risk_usd <= Decimal::ZERO {
            return reject(
                ReasonCode::InvalidPlan,
                format!(
                    "{} units × |entry {} − stop {}| risks less than a cent: a plan must put something at its stop",
                    size.units, plan.entry.near, plan.stop
                ),
            );
        }
        if let Some(rejection) = self.exposure_rejection(plan, &size, config, equity) {
            return rejection;
        }
        let mut order = StagedOrder::for_plan(plan, size.units, mode);
        // A venue's order needs an id it accepts and that no earlier order took; a dry run keeps
        // the plan's own, since nothing is sent.
        let position = (mode != Mode::DryRun).then(|| {
            order.client_order_id = plan_client_order_id(now, self.plans.next_order_seq(), "e");
            PlanPosition::new(
                TrackedOrder::new(order.client_order_id.clone(), PlanOrderKind::Entry, size.units),
                plan.stop,
                plan.targets.clone(),
            )
        });
        let open = OpenPlan {
            plan_id: plan.plan_id.clone(),
            symbol: plan.symbol.clone(),
            asset: plan.asset().to_owned(),
            direction: plan.direction,
            entry: plan.entry.near,
            stop: plan.stop,
            units: size.units,
            risk_usd: size.risk_usd,
            opened_at: now,
            position,
        };
        if let Err(error) = self.plans.open(open) {
            // Unreachable while the duplicate rule holds (an open id is a remembered id); refused
            // rather than assumed.
            return reject(ReasonCode::DuplicatePlan, error.to_string());
        }
        self.plans.record_firing(&plan.symbol, plan.direction, now, window, config.duplicate_memory);
        PlanCheck::Approved(PlanApproved { parts: Box::new((size, order)) })
    }

    /// The asset's open risk with this plan's above its limit, or every plan's above theirs.
    fn exposure_rejection(
        &self,
        plan: &TradePlan,
        size: &PlanSize,
        config: &SignalsConfig,
        equity: Decimal,
    ) -> Option<PlanCheck> {
        let asset = plan.asset();
        let limits = [
            (
                ReasonCode::PerAssetExposure,
                format!("open risk on {asset}"),
                self.plans.asset_risk(asset),
                config.max_per_asset_exposure_percent,
                "signals.max_per_asset_exposure_percent",
            ),
            (
                ReasonCode::MaxTotalExposure,
                "open risk of all plans".to_owned(),
                self.plans.total_risk(),
                config.max_total_exposure_percent,
                "signals.max_total_exposure_percent",
            ),
        ];
        limits.into_iter().find_map(|(code, what, open, percent, key)| {
            let limit = equity * percent / Decimal::ONE_HUNDRED;
            let after = open + size.risk_usd;
            (after > limit).then(|| {
                reject(
                    code,
                    format!(
                        "{what} would be {after} USD ({open} open + {} this plan), above {percent}% of equity {equity} = {} USD ({key})",
                        size.risk_usd,
                        limit.normalize()
                    ),
                )
            })
        })
    }

    /// Closes an open plan at `exit_price`, releasing its risk, and returns its result: P&L =
    /// (exit − entry) × units × the direction's sign, and R = P&L ÷ the risk it was opened with
    /// (units × |entry − stop|, unrounded, so that an exit two stop-distances away is exactly 2R).
    ///
    /// A dry-run plan's P&L does not change equity: nothing was bought, so realised P&L, the
    /// breaker and the loss limits are left alone (a venue's fills will move them when plans
    /// execute for real).
    pub fn close_plan(&mut self, plan_id: &str, exit_price: Decimal, now: Timestamp) -> Result<PlanClose, RiskError> {
        if exit_price <= Decimal::ZERO {
            return Err(RiskError::input("exit_price", exit_price, "must be greater than 0"));
        }
        let Some(open) = self.plans.open_plan(plan_id) else {
            return Err(RiskError::UnknownPlan(plan_id.to_owned()));
        };
        let pnl_usd = (exit_price - open.entry) * open.units * open.direction.sign();
        let initial_risk = open.units * (open.entry - open.stop).abs();
        let Some(r) = r_multiple(pnl_usd, initial_risk) else {
            return Err(RiskError::input("risk_usd", open.risk_usd, "an open plan's risk must be above 0"));
        };
        let Some(open) = self.plans.close(plan_id) else {
            return Err(RiskError::UnknownPlan(plan_id.to_owned()));
        };
        Ok(PlanClose {
            plan_id: open.plan_id,
            symbol: open.symbol,
            direction: open.direction,
            entry: open.entry,
            exit_price,
            units: open.units,
            pnl_usd,
            r_multiple: r.round_dp(4),
            at: now,
        })
    }

    /// The plan book: open plans, their risk per asset and in total (for `/status`).
    pub fn plan_book(&self) -> &PlanBook {
        &self.plans
    }

    /// Open plans, in the order they were opened.
    pub fn open_plans(&self) -> &[OpenPlan] {
        self.plans.open_plans()
    }

    /// The risk (loss at the stops) of every open plan together.
    pub fn plan_risk_total(&self) -> Decimal {
        self.plans.total_risk()
    }

    /// The open plans' risk per base asset, by asset name.
    pub fn plan_risk_per_asset(&self) -> Vec<(String, Decimal)> {
        self.plans.risk_per_asset()
    }
}

#[cold]
fn sizing_rejection(error: PlanSizeError, config: &SignalsConfig) -> PlanCheck {
    match error {
        PlanSizeError::RiskAboveMax { asked, max } => reject(
            ReasonCode::MaxRiskPerTrade,
            format!("the plan asks to risk {asked}% of equity, above {max}% (signals.max_risk_percent)"),
        ),
        PlanSizeError::Input(RiskError::InvalidInput { field: "notional", value, .. }) => reject(
            ReasonCode::BelowMinimumSize,
            format!(
                "the sized notional {value} USD is below {} USD (signals.min_position_usd); sizes are never raised",
                config.min_position_usd
            ),
        ),
        other => reject(ReasonCode::InvalidPlan, format!("the plan cannot be sized: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::Side;
    use crate::plans::sample;
    use crate::plans::{Direction, EntryZone};
    use crate::risk::config::RiskConfig;
    use crate::risk::snapshot::RiskState;

    const T0: Timestamp = Timestamp(1_767_261_600_000);
    const MINUTE: i64 = 60_000;

    fn manager(config: RiskConfig) -> RiskManager {
        RiskManager::new(config, T0).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Equity 10,000 (the default balance), 1 % risk: 100 USD at the stop.
    fn rm() -> RiskManager {
        manager(RiskConfig::default())
    }

    /// A plan entering at 100 with its stop 10 away: at 1 % of 10,000 it buys 10 units (1,000
    /// USD notional) and risks exactly 100 USD.
    fn plan(id: &str, symbol: &str, direction: Direction) -> TradePlan {
        let (far, stop, target) = match direction {
            Direction::Long => (dec!(99), dec!(90), dec!(120)),
            Direction::Short => (dec!(101), dec!(110), dec!(80)),
        };
        TradePlan {
            plan_id: id.into(),
            symbol: symbol.into(),
            direction,
            entry: EntryZone { near: dec!(100), far },
            stop,
            targets: vec![target],
            ..sample::plan()
        }
    }

    /// The same plan risking `risk` USD (via its own risk percent).
    fn risking(id: &str, symbol: &str, risk: Decimal) -> TradePlan {
        TradePlan { risk_percent: Some(risk / dec!(100)), ..plan(id, symbol, Direction::Long) }
    }

    fn signals() -> SignalsConfig {
        SignalsConfig::default()
    }

    /// No double-fire window, so that one symbol can be opened again and again.
    fn no_window() -> SignalsConfig {
        SignalsConfig { double_fire_window_minutes: 0, ..SignalsConfig::default() }
    }

    fn check(rm: &mut RiskManager, plan: &TradePlan, config: &SignalsConfig, at: Timestamp) -> PlanCheck {
        rm.check_plan(plan, config, Mode::DryRun, at)
    }

    fn code(check: &PlanCheck) -> Option<ReasonCode> {
        check.reason()
    }

    fn approve(rm: &mut RiskManager, plan: &TradePlan, config: &SignalsConfig, at: Timestamp) -> PlanApproved {
        match check(rm, plan, config, at) {
            PlanCheck::Approved(approved) => approved,
            other => panic!("{} refused: {other:?}", plan.plan_id),
        }
    }

    #[test]
    fn an_approved_plan_stages_its_order_and_reserves_its_risk() {
        let mut rm = rm();
        let approved = approve(&mut rm, &plan("p-long", "ETH/USDT", Direction::Long), &signals(), T0);
        let size = *approved.size();
        assert_eq!((size.units, size.notional_usd, size.risk_usd), (dec!(10), dec!(1000), dec!(100)));
        let (_, order) = approved.clone().into_parts();
        assert_eq!(order, *approved.order());
        assert_eq!(
            order,
            StagedOrder {
                client_order_id: "plan-p-long".into(),
                symbol: "ETH/USDT".into(),
                side: Side::Buy,
                price: dec!(100),
                units: dec!(10),
                stop: dec!(90),
                targets: vec![dec!(120)],
                leverage: dec!(1),
                mode: Mode::DryRun,
            }
        );
        let short = approve(&mut rm, &plan("p-short", "SOL/USDT", Direction::Short), &signals(), T0);
        assert_eq!((short.order().side.as_str(), short.order().stop), ("sell", dec!(110)));
        assert_eq!(rm.plan_risk_total(), dec!(200));
        assert_eq!(rm.plan_risk_per_asset(), vec![("ETH".into(), dec!(100)), ("SOL".into(), dec!(100))]);
        let open = &rm.open_plans()[0];
        assert_eq!((open.plan_id.as_str(), open.asset.as_str(), open.opened_at), ("p-long", "ETH", T0));
        assert_eq!((rm.snapshot().approved_total, rm.snapshot().rejected_total), (2, 0));
        // The seed's example: 1 % of 10,000 over 450 a unit is 0.222 BTC, cut to 5,000 USD.
        let seed = approve(&mut rm, &sample::plan(), &signals(), T0);
        assert!(seed.size().capped);
        assert_eq!(seed.order().client_order_id, "plan-p-1");
    }

    #[test]
    fn no_plan_passes_outside_active_and_each_state_has_its_code() {
        let p = plan("p", "ETH/USDT", Direction::Long);
        let mut killed = rm();
        killed.kill("operator", T0);
        let mut halted = rm();
        halted.halt("operator", T0);
        let mut reducing = rm();
        reducing.reduce(ReasonCode::MaxDrawdown, "drawdown", T0);
        let mut breaker = rm();
        breaker.reduce(ReasonCode::CircuitBreakerTripped, "breaker", T0);
        breaker.breaker.open_until = Some(T0.plus_secs(3_600));
        for (rm, expected) in [
            (&mut killed, ReasonCode::KillSwitch),
            (&mut halted, ReasonCode::TradingHalted),
            (&mut reducing, ReasonCode::TradingHalted),
            (&mut breaker, ReasonCode::CircuitBreakerOpen),
        ] {
            let refused = check(rm, &p, &signals(), T0);
            assert_eq!(code(&refused), Some(expected), "{refused:?}");
            let PlanCheck::Rejected { detail, .. } = refused else { unreachable!() };
            assert!(detail.contains("new plans need active"), "{detail}");
            assert_eq!(rm.plan_risk_total(), dec!(0));
            assert_eq!(rm.snapshot().rejected_total, 1);
        }
        // A plan refused for the trading state is not remembered: once resumed, it may come again.
        halted.resume(T0);
        assert!(check(&mut halted, &p, &signals(), T0).is_approved());
    }

    #[test]
    fn a_plan_id_seen_before_is_a_duplicate_whether_or_not_it_was_approved() {
        let mut rm = rm();
        let p = plan("p", "ETH/USDT", Direction::Long);
        assert!(check(&mut rm, &p, &no_window(), T0).is_approved());
        let again = check(&mut rm, &p, &no_window(), T0);
        assert_eq!(code(&again), Some(ReasonCode::DuplicatePlan));
        let PlanCheck::Rejected { detail, .. } = again else { unreachable!() };
        assert!(detail.contains("signals.duplicate_memory"), "{detail}");
        // Refused for its leverage, then sent again fixed: still the same plan id.
        let levered = TradePlan { leverage: dec!(2), ..plan("q", "SOL/USDT", Direction::Long) };
        assert_eq!(code(&check(&mut rm, &levered, &no_window(), T0)), Some(ReasonCode::MaxLeverage));
        assert_eq!(
            code(&check(&mut rm, &plan("q", "SOL/USDT", Direction::Long), &no_window(), T0)),
            Some(ReasonCode::DuplicatePlan)
        );
        // The memory is bounded: with room for one id, an older one is forgotten; an id still open
        // is refused by the book all the same.
        let tiny = SignalsConfig { duplicate_memory: 1, ..no_window() };
        assert!(check(&mut rm, &plan("r", "ADA/USDT", Direction::Long), &tiny, T0).is_approved());
        assert_eq!(rm.plans.remembered(), 1);
        assert_eq!(code(&check(&mut rm, &p, &tiny, T0)), Some(ReasonCode::DuplicatePlan), "p is still open");
        assert!(rm.close_plan("p", dec!(100), T0).is_ok());
        check(&mut rm, &plan("s", "XRP/USDT", Direction::Long), &tiny, T0);
        assert!(check(&mut rm, &p, &tiny, T0).is_approved(), "forgotten and closed: a new plan");
    }

    #[test]
    fn leverage_at_the_cap_passes_and_beyond_it_is_refused() {
        let mut config = RiskConfig::default();
        config.compliance.max_leverage = dec!(3);
        let mut rm = manager(config);
        let at_cap = TradePlan { leverage: dec!(3), ..plan("a", "ETH/USDT", Direction::Long) };
        assert!(check(&mut rm, &at_cap, &signals(), T0).is_approved());
        let over = TradePlan { leverage: dec!(3.01), ..plan("b", "SOL/USDT", Direction::Long) };
        let refused = check(&mut rm, &over, &signals(), T0);
        assert_eq!(code(&refused), Some(ReasonCode::MaxLeverage));
        assert!(
            matches!(&refused, PlanCheck::Rejected { detail, .. } if detail.contains("risk.compliance.max_leverage"))
        );
    }

    #[test]
    fn the_same_symbol_and_direction_within_the_window_is_a_double_fire() {
        let mut rm = rm();
        assert!(check(&mut rm, &plan("a", "ETH/USDT", Direction::Long), &signals(), T0).is_approved());
        let just_inside = T0.plus_millis(15 * MINUTE - 1);
        let refused = check(&mut rm, &plan("b", "ETH/USDT", Direction::Long), &signals(), just_inside);
        assert_eq!(code(&refused), Some(ReasonCode::DoubleFire));
        assert!(
            matches!(&refused, PlanCheck::Rejected { detail, .. } if detail.contains("signals.double_fire_window_minutes"))
        );
        // Another symbol of the same asset is not the same symbol.
        assert!(check(&mut rm, &plan("c", "ETH/USD", Direction::Long), &signals(), just_inside).is_approved());
        // A refused plan is not a firing: the window still runs from the first approval.
        let at_end = T0.plus_millis(15 * MINUTE);
        assert!(check(&mut rm, &plan("d", "ETH/USDT", Direction::Long), &signals(), at_end).is_approved());
        // 0 turns the rule off.
        assert!(check(&mut rm, &plan("e", "ETH/USDT", Direction::Long), &no_window(), at_end).is_approved());
    }

    #[test]
    fn an_open_plan_the_other_way_on_the_same_symbol_is_opposing_unless_allowed() {
        let mut rm = rm();
        assert!(check(&mut rm, &plan("long", "ETH/USDT", Direction::Long), &signals(), T0).is_approved());
        let short = plan("short", "ETH/USDT", Direction::Short);
        let refused = check(&mut rm, &short, &signals(), T0);
        assert_eq!(code(&refused), Some(ReasonCode::OpposingPosition));
        assert!(
            matches!(&refused, PlanCheck::Rejected { detail, .. } if detail.contains("long") && detail.contains("risk.compliance.opposing_positions"))
        );
        assert!(
            check(&mut rm, &plan("short-usd", "ETH/USD", Direction::Short), &signals(), T0).is_approved(),
            "another symbol"
        );
        rm.close_plan("long", dec!(101), T0).unwrap_or_else(|e| panic!("{e}"));
        assert!(check(&mut rm, &plan("short-2", "ETH/USDT", Direction::Short), &signals(), T0).is_approved());

        let mut config = RiskConfig::default();
        config.compliance.opposing_positions = OpposingPolicy::Allow;
        let mut hedging = manager(config);
        assert!(check(&mut hedging, &plan("long", "ETH/USDT", Direction::Long), &signals(), T0).is_approved());
        assert!(check(&mut hedging, &short, &signals(), T0).is_approved());
    }

    #[test]
    fn sizing_refuses_too_much_risk_too_small_a_size_and_a_plan_with_nothing_at_its_stop() {
        let mut rm = rm();
        // signals.max_risk_percent = 2: exactly 2 % passes, 2.01 % is refused.
        let at_max = risking("a", "ETH/USDT", dec!(200));
        assert_eq!(approve(&mut rm, &at_max, &signals(), T0).size().risk_usd, dec!(200));
        let over = risking("b", "SOL/USDT", dec!(201));
        let refused = check(&mut rm, &over, &signals(), T0);
        assert_eq!(code(&refused), Some(ReasonCode::MaxRiskPerTrade));
        assert!(matches!(&refused, PlanCheck::Rejected { detail, .. } if detail.contains("signals.max_risk_percent")));
        // A notional of 1,000 against a minimum of 1,000 passes; against 1,000.01 it is refused.
        let floor = SignalsConfig { min_position_usd: dec!(1000), ..signals() };
        assert!(check(&mut rm, &plan("c", "ADA/USDT", Direction::Long), &floor, T0).is_approved());
        let floor = SignalsConfig { min_position_usd: dec!(1000.01), ..signals() };
        let refused = check(&mut rm, &plan("d", "XRP/USDT", Direction::Long), &floor, T0);
        assert_eq!(code(&refused), Some(ReasonCode::BelowMinimumSize));
        assert!(matches!(&refused, PlanCheck::Rejected { detail, .. } if detail.contains("signals.min_position_usd")));
        // Entry on the stop cannot be sized; a stop a hair away puts less than a cent at risk.
        let flat = TradePlan { stop: dec!(100), ..plan("e", "DOT/USDT", Direction::Long) };
        assert_eq!(code(&check(&mut rm, &flat, &signals(), T0)), Some(ReasonCode::InvalidPlan));
        let hair = TradePlan { stop: dec!(99.9999999), ..plan("f", "DOT/USDT", Direction::Long) };
        assert_eq!(code(&check(&mut rm, &hair, &signals(), T0)), Some(ReasonCode::InvalidPlan));
        assert_eq!(rm.plan_risk_total(), dec!(300), "only the approved plans hold risk");
    }

    #[test]
    fn open_risk_per_asset_may_reach_its_limit_but_not_a_cent_beyond() {
        let mut rm = rm();
        // 5 % of 10,000 = 500 per asset; 4 plans of 100 on ETH (two symbols) leave room for 100.
        for (i, symbol) in ["ETH/USDT", "ETH/USD", "ETH/USDT", "ETH/USDC"].iter().enumerate() {
            approve(&mut rm, &plan(&format!("e{i}"), symbol, Direction::Long), &no_window(), T0);
        }
        let refused = check(&mut rm, &risking("over", "ETH/EUR", dec!(100.01)), &no_window(), T0);
        assert_eq!(code(&refused), Some(ReasonCode::PerAssetExposure));
        let PlanCheck::Rejected { detail, .. } = refused else { unreachable!() };
        assert!(
            detail.contains("ETH")
                && detail.contains("500.01")
                && detail.contains("signals.max_per_asset_exposure_percent"),
            "{detail}"
        );
        approve(&mut rm, &risking("at", "ETH/EUR", dec!(100)), &no_window(), T0);
        assert_eq!(rm.plan_book().asset_risk("ETH"), dec!(500));
    }

    #[test]
    fn open_risk_of_all_plans_may_reach_its_limit_but_not_a_cent_beyond() {
        let mut rm = rm();
        // 10 % of 10,000 = 1,000 in total: 500 on ETH, 400 on BTC, then 100 more.
        approve(&mut rm, &risking("eth", "ETH/USDT", dec!(200)), &no_window(), T0);
        approve(&mut rm, &risking("eth2", "ETH/USDT", dec!(200)), &no_window(), T0);
        approve(&mut rm, &plan("eth3", "ETH/USDT", Direction::Long), &no_window(), T0);
        approve(&mut rm, &risking("btc", "BTC/USDT", dec!(200)), &no_window(), T0);
        approve(&mut rm, &risking("btc2", "BTC/USDT", dec!(200)), &no_window(), T0);
        let refused = check(&mut rm, &risking("over", "SOL/USDT", dec!(100.01)), &no_window(), T0);
        assert_eq!(code(&refused), Some(ReasonCode::MaxTotalExposure));
        assert!(
            matches!(&refused, PlanCheck::Rejected { detail, .. } if detail.contains("1000.01") && detail.contains("signals.max_total_exposure_percent"))
        );
        approve(&mut rm, &risking("at", "SOL/USDT", dec!(100)), &no_window(), T0);
        assert_eq!(rm.plan_risk_total(), dec!(1000));
    }

    #[test]
    fn the_checks_run_in_order_and_the_first_refusal_wins() {
        let mut config = RiskConfig::default();
        config.compliance.opposing_positions = OpposingPolicy::Allow;
        let mut rm = manager(config.clone());
        let levered = |p: TradePlan| TradePlan { leverage: dec!(5), ..p };
        // Duplicate before leverage.
        approve(&mut rm, &plan("a", "ETH/USDT", Direction::Long), &signals(), T0);
        assert_eq!(
            code(&check(&mut rm, &levered(plan("a", "SOL/USDT", Direction::Long)), &signals(), T0)),
            Some(ReasonCode::DuplicatePlan)
        );
        // Leverage before double fire.
        assert_eq!(
            code(&check(&mut rm, &levered(plan("b", "ETH/USDT", Direction::Long)), &signals(), T0)),
            Some(ReasonCode::MaxLeverage)
        );
        // Double fire before opposing: ETH long fired, a short is open, a long comes again.
        approve(&mut rm, &plan("short", "ETH/USDT", Direction::Short), &signals(), T0);
        rm.close_plan("a", dec!(100), T0).unwrap_or_else(|e| panic!("{e}"));
        rm.config.compliance.opposing_positions = OpposingPolicy::Reject;
        assert_eq!(
            code(&check(&mut rm, &plan("c", "ETH/USDT", Direction::Long), &signals(), T0)),
            Some(ReasonCode::DoubleFire)
        );
        // Opposing before sizing.
        let later = T0.plus_millis(15 * MINUTE);
        assert_eq!(
            code(&check(&mut rm, &risking("d", "ETH/USDT", dec!(900)), &signals(), later)),
            Some(ReasonCode::OpposingPosition)
        );
        // Sizing before the asset's limit, the asset's limit before the total.
        assert_eq!(
            code(&check(&mut rm, &risking("e", "SOL/USDT", dec!(900)), &signals(), later)),
            Some(ReasonCode::MaxRiskPerTrade)
        );
        let loose = SignalsConfig { max_risk_percent: dec!(20), max_position_usd: dec!(1_000_000), ..signals() };
        assert_eq!(
            code(&check(&mut rm, &risking("f", "SOL/USDT", dec!(1500)), &loose, later)),
            Some(ReasonCode::PerAssetExposure)
        );
        // The kill switch before everything, a duplicate included.
        rm.kill("operator", later);
        assert_eq!(
            code(&check(&mut rm, &plan("a", "ETH/USDT", Direction::Long), &signals(), later)),
            Some(ReasonCode::KillSwitch)
        );
        assert_eq!(rm.snapshot().rejected_total, 7);
    }

    #[test]
    fn a_close_releases_the_risk_and_returns_the_result_in_usd_and_r() {
        let mut rm = rm();
        approve(&mut rm, &plan("long", "ETH/USDT", Direction::Long), &signals(), T0);
        approve(&mut rm, &plan("short", "SOL/USDT", Direction::Short), &signals(), T0);
        let equity = rm.equity();
        let later = T0.plus_secs(60);
        let long = rm.close_plan("long", dec!(115), later).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (long.pnl_usd, long.r_multiple, long.units, long.entry),
            (dec!(150), dec!(1.5), dec!(10), dec!(100))
        );
        assert_eq!(
            (long.symbol.as_str(), long.direction, long.exit_price, long.at),
            ("ETH/USDT", Direction::Long, dec!(115), later)
        );
        assert_eq!(rm.plan_risk_total(), dec!(100));
        assert_eq!(
            rm.close_plan("short", dec!(110), later).map(|c| (c.pnl_usd, c.r_multiple)),
            Ok((dec!(-100), dec!(-1)))
        );
        assert_eq!(rm.plan_risk_total(), dec!(0));
        assert!(rm.open_plans().is_empty() && rm.plan_risk_per_asset().is_empty());
        assert_eq!(rm.equity(), equity, "a dry-run plan's result is not the account's");
        assert_eq!(rm.close_plan("long", dec!(115), later), Err(RiskError::UnknownPlan("long".into())));
        approve(&mut rm, &plan("third", "ADA/USDT", Direction::Long), &signals(), T0);
        for bad in [dec!(0), dec!(-1)] {
            assert!(matches!(
                rm.close_plan("third", bad, later),
                Err(RiskError::InvalidInput { field: "exit_price", .. })
            ));
        }
        assert_eq!(rm.plan_risk_total(), dec!(100), "a refused close keeps the plan open");
    }

    #[test]
    fn the_plan_book_survives_export_and_restore_and_older_states_still_restore() {
        let mut rm = rm();
        approve(&mut rm, &risking("a", "ETH/USDT", dec!(200)), &signals(), T0);
        approve(&mut rm, &risking("b", "ETH/USD", dec!(200)), &signals(), T0);
        let json = serde_json::to_string(&rm.export()).unwrap_or_else(|e| panic!("{e}"));
        let saved: RiskState = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        let mut back = RiskManager::restore(RiskConfig::default(), saved).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.export(), rm.export());
        assert_eq!((back.plan_risk_total(), back.plan_book().asset_risk("ETH")), (dec!(400), dec!(400)));
        let later = T0.plus_secs(60);
        assert_eq!(
            code(&check(&mut back, &plan("a", "SOL/USDT", Direction::Long), &signals(), later)),
            Some(ReasonCode::DuplicatePlan)
        );
        assert_eq!(
            code(&check(&mut back, &plan("c", "ETH/USDT", Direction::Long), &signals(), later)),
            Some(ReasonCode::DoubleFire)
        );
        assert_eq!(
            code(&check(&mut back, &risking("d", "ETH/EUR", dec!(100.01)), &signals(), later)),
            Some(ReasonCode::PerAssetExposure)
        );
        assert!(check(&mut back, &risking("e", "ETH/EUR", dec!(100)), &signals(), later).is_approved());
        assert_eq!(back.close_plan("a", dec!(105), later).map(|c| c.r_multiple), Ok(dec!(0.5)));

        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        old.as_object_mut().map(|o| o.remove("plans"));
        let old: RiskState = serde_json::from_value(old).unwrap_or_else(|e| panic!("{e}"));
        let restored = RiskManager::restore(RiskConfig::default(), old).unwrap_or_else(|e| panic!("{e}"));
        assert!(restored.open_plans().is_empty());
    }
}
