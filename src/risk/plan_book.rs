//! The plan book: the trade plans the risk manager approved and that are still open, the risk
//! they hold (the loss at their stops, per base asset and in total), the plan ids seen recently
//! (to refuse a duplicate) and the recent firings of a symbol and direction (to refuse a double
//! fire). Pure data: the manager's plan check decides, this only keeps the books. Lookups take
//! `&str` and never allocate; memory is bounded by the caller's `signals.duplicate_memory`.

use std::collections::{HashMap, HashSet, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::plans::{Direction, PlanPosition};

use super::error::RiskError;

/// One open plan, as the book keeps it and observers (`/status`) read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPlan {
    pub plan_id: String,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// The symbol's base, whose exposure the plan adds to.
    pub asset: String,
    pub direction: Direction,
    /// The near entry: the price the plan was sized and staged at.
    pub entry: Decimal,
    pub stop: Decimal,
    pub units: Decimal,
    /// What hitting the stop loses (`PlanSize::risk_usd`); the exposure limits count this.
    pub risk_usd: Decimal,
    pub opened_at: Timestamp,
    /// Its position at the venue (absent in a dry run, where nothing is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<PlanPosition>,
}

/// One approval of a symbol and direction, remembered for the double-fire window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFiring {
    pub symbol: String,
    pub direction: Direction,
    pub at: Timestamp,
}

/// The plan book as the risk state persists it (every part absent in older checkpoints).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanBookState {
    /// Open plans, in the order they were opened.
    pub open: Vec<OpenPlan>,
    /// Remembered plan ids, oldest first.
    pub seen_ids: Vec<String>,
    /// Firings still inside their window when saved, oldest first.
    pub firings: Vec<PlanFiring>,
    /// The number the next plan order's client order id takes.
    pub next_order_seq: u64,
}

/// Open risk in one asset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct AssetRisk {
    risk_usd: Decimal,
    plans: u32,
}

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct PlanBook {
    open: Vec<OpenPlan>,
    per_asset: HashMap<String, AssetRisk>,
    total_risk: Decimal,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    firings: VecDeque<PlanFiring>,
    next_order_seq: u64,
}

impl PlanBook {
    /// Open plans, in the order they were opened.
    pub fn open_plans(&self) -> &[OpenPlan] {
        &self.open
    }

    /// The open plan with this id.
    pub fn open_plan(&self, plan_id: &str) -> Option<&OpenPlan> {
        self.open.iter().find(|p| p.plan_id == plan_id)
    }

    /// The open plan with this id, to change its position.
    pub fn open_plan_mut(&mut self, plan_id: &str) -> Option<&mut OpenPlan> {
        self.open.iter_mut().find(|p| p.plan_id == plan_id)
    }

    /// Every open plan, to change their positions.
    pub fn open_plans_mut(&mut self) -> impl Iterator<Item = &mut OpenPlan> {
        self.open.iter_mut()
    }

    /// A number no plan order took before (part of its client order id).
    pub fn next_order_seq(&mut self) -> u64 {
        self.next_order_seq += 1;
        self.next_order_seq
    }

    /// The risk of every open plan together.
    pub fn total_risk(&self) -> Decimal {
        self.total_risk
    }

    /// The risk of the open plans on `asset` (0 when none).
    pub fn asset_risk(&self, asset: &str) -> Decimal {
        self.per_asset.get(asset).map_or(Decimal::ZERO, |a| a.risk_usd)
    }

    /// Each asset with open plans and their risk, by asset name.
    pub fn risk_per_asset(&self) -> Vec<(String, Decimal)> {
        let mut all: Vec<(String, Decimal)> =
            self.per_asset.iter().map(|(asset, a)| (asset.clone(), a.risk_usd)).collect();
        all.sort();
        all
    }

    /// True when `plan_id` was seen and is still remembered.
    pub fn seen(&self, plan_id: &str) -> bool {
        self.seen.contains(plan_id)
    }

    /// Remembers `plan_id`; beyond `memory` ids the oldest is forgotten first.
    pub fn remember(&mut self, plan_id: &str, memory: u32) {
        if !self.seen.contains(plan_id) {
            self.seen.insert(plan_id.to_owned());
            self.seen_order.push_back(plan_id.to_owned());
        }
        let memory = memory.max(1) as usize;
        while self.seen_order.len() > memory {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }

    /// How many plan ids are remembered.
    pub fn remembered(&self) -> usize {
        self.seen_order.len()
    }

    /// An open plan on `symbol` in `direction`, if any.
    pub fn open_on(&self, symbol: &str, direction: Direction) -> Option<&OpenPlan> {
        self.open.iter().find(|p| p.direction == direction && p.symbol == symbol)
    }

    /// When `symbol` and `direction` last fired, if that was less than `window_minutes` before
    /// `now` (a window of 0 turns the rule off).
    pub fn fired_within(
        &self,
        symbol: &str,
        direction: Direction,
        now: Timestamp,
        window_minutes: u32,
    ) -> Option<Timestamp> {
        if window_minutes == 0 {
            return None;
        }
        let window_ms = i64::from(window_minutes) * 60_000;
        self.firings
            .iter()
            .rev()
            .find(|f| f.direction == direction && f.symbol == symbol)
            .map(|f| f.at)
            .filter(|at| now.millis_since(*at) < window_ms)
    }

    /// Records a firing at `now`, forgets firings that left the window and keeps at most `memory`
    /// (the newest).
    pub fn record_firing(
        &mut self,
        symbol: &str,
        direction: Direction,
        now: Timestamp,
        window_minutes: u32,
        memory: u32,
    ) {
        self.prune_firings(now, window_minutes);
        self.firings.retain(|f| !(f.direction == direction && f.symbol == symbol));
        if window_minutes > 0 {
            self.firings.push_back(PlanFiring { symbol: symbol.to_owned(), direction, at: now });
        }
        let memory = memory.max(1) as usize;
        while self.firings.len() > memory {
            self.firings.pop_front();
        }
    }

    /// Forgets firings at least `window_minutes` old.
    pub fn prune_firings(&mut self, now: Timestamp, window_minutes: u32) {
        let window_ms = i64::from(window_minutes) * 60_000;
        self.firings.retain(|f| now.millis_since(f.at) < window_ms);
    }

    /// How many firings are remembered.
    pub fn firings(&self) -> usize {
        self.firings.len()
    }

    /// Opens `plan`, reserving its risk. An id already open is refused (the manager's duplicate
    /// rule makes that impossible; the book does not rely on it).
    pub fn open(&mut self, plan: OpenPlan) -> Result<(), RiskError> {
        if self.open_plan(&plan.plan_id).is_some() {
            return Err(RiskError::input("plan_id", &plan.plan_id, "is already open"));
        }
        if plan.units <= Decimal::ZERO || plan.entry <= Decimal::ZERO || plan.risk_usd <= Decimal::ZERO {
            return Err(RiskError::input("plan.units", plan.units, "an open plan needs units, entry and risk above 0"));
        }
        match self.per_asset.get_mut(plan.asset.as_str()) {
            Some(asset) => {
                asset.risk_usd += plan.risk_usd;
                asset.plans += 1;
            }
            None => {
                self.per_asset.insert(plan.asset.clone(), AssetRisk { risk_usd: plan.risk_usd, plans: 1 });
            }
        }
        self.total_risk += plan.risk_usd;
        self.open.push(plan);
        Ok(())
    }

    /// Closes the plan with this id, releasing its risk; `None` when it is not open.
    pub fn close(&mut self, plan_id: &str) -> Option<OpenPlan> {
        let index = self.open.iter().position(|p| p.plan_id == plan_id)?;
        let plan = self.open.remove(index);
        if let Some(asset) = self.per_asset.get_mut(plan.asset.as_str()) {
            asset.plans = asset.plans.saturating_sub(1);
            asset.risk_usd -= plan.risk_usd;
            if asset.plans == 0 {
                self.per_asset.remove(plan.asset.as_str());
            }
        }
        self.total_risk -= plan.risk_usd;
        if self.open.is_empty() {
            // Sums of the same values added and taken away are exact in Decimal; this only makes
            // "nothing open" read as exactly zero whatever the scale the sums carried.
            self.total_risk = Decimal::ZERO;
        }
        Some(plan)
    }

    /// The book as the risk state persists it.
    pub fn export(&self) -> PlanBookState {
        PlanBookState {
            open: self.open.clone(),
            seen_ids: self.seen_order.iter().cloned().collect(),
            firings: self.firings.iter().cloned().collect(),
            next_order_seq: self.next_order_seq,
        }
    }

    /// Rebuilds the book from a saved state (the aggregates are recomputed). A plan open twice or
    /// with no size or risk cannot be restored.
    pub fn restore(saved: PlanBookState) -> Result<Self, RiskError> {
        let mut book = Self::default();
        for plan in saved.open {
            let id = plan.plan_id.clone();
            book.open(plan).map_err(|e| RiskError::InvalidState(format!("open plan {id}: {e}")))?;
        }
        for id in saved.seen_ids {
            if book.seen.insert(id.clone()) {
                book.seen_order.push_back(id);
            }
        }
        book.firings = saved.firings.into();
        book.next_order_seq = saved.next_order_seq;
        Ok(book)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn plan(id: &str, symbol: &str, direction: Direction, risk: Decimal) -> OpenPlan {
        OpenPlan {
            plan_id: id.into(),
            symbol: symbol.into(),
            asset: symbol.split('/').next().unwrap_or(symbol).into(),
            direction,
            entry: dec!(100),
            stop: dec!(90),
            units: risk / dec!(10),
            risk_usd: risk,
            opened_at: Timestamp(0),
            position: None,
        }
    }

    #[test]
    fn risk_is_counted_per_asset_and_in_total_and_released_on_close() {
        let mut book = PlanBook::default();
        book.open(plan("a", "BTC/USDT", Direction::Long, dec!(100))).unwrap_or_else(|e| panic!("{e}"));
        book.open(plan("b", "BTC/USD", Direction::Short, dec!(50.5))).unwrap_or_else(|e| panic!("{e}"));
        book.open(plan("c", "ETH/USDT", Direction::Long, dec!(20))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(book.asset_risk("BTC"), dec!(150.5), "two symbols of one base asset");
        assert_eq!(book.asset_risk("ETH"), dec!(20));
        assert_eq!(book.asset_risk("SOL"), dec!(0));
        assert_eq!(book.total_risk(), dec!(170.5));
        assert_eq!(book.risk_per_asset(), vec![("BTC".to_string(), dec!(150.5)), ("ETH".to_string(), dec!(20))]);
        assert_eq!(book.open_on("BTC/USD", Direction::Short).map(|p| p.plan_id.as_str()), Some("b"));
        assert!(book.open_on("BTC/USD", Direction::Long).is_none());
        assert!(book.open(plan("a", "SOL/USDT", Direction::Long, dec!(1))).is_err(), "an id open twice");
        assert!(book.open(plan("z", "SOL/USDT", Direction::Long, dec!(0))).is_err(), "no risk");

        assert_eq!(book.close("b").map(|p| p.risk_usd), Some(dec!(50.5)));
        assert_eq!(book.close("b"), None, "closed once");
        assert_eq!(book.asset_risk("BTC"), dec!(100));
        book.close("a");
        book.close("c");
        assert_eq!((book.total_risk(), book.risk_per_asset()), (dec!(0), vec![]));
        assert!(book.open_plans().is_empty());
    }

    #[test]
    fn remembered_ids_are_bounded_oldest_forgotten_first() {
        let mut book = PlanBook::default();
        for id in ["p1", "p2", "p3"] {
            book.remember(id, 2);
        }
        assert!(!book.seen("p1"), "the oldest is forgotten");
        assert!(book.seen("p2") && book.seen("p3"));
        book.remember("p3", 2);
        assert_eq!(book.remembered(), 2, "remembering an id again does not grow the memory");
        book.remember("p4", 1);
        assert_eq!((book.remembered(), book.seen("p4"), book.seen("p3")), (1, true, false), "a smaller memory");
    }

    #[test]
    fn firings_are_kept_for_their_window_then_forgotten_and_bounded() {
        let mut book = PlanBook::default();
        let window = 15;
        book.record_firing("BTC/USDT", Direction::Long, Timestamp(0), window, 10);
        assert_eq!(book.fired_within("BTC/USDT", Direction::Long, Timestamp(899_999), window), Some(Timestamp(0)));
        assert_eq!(book.fired_within("BTC/USDT", Direction::Long, Timestamp(900_000), window), None);
        assert_eq!(book.fired_within("BTC/USDT", Direction::Short, Timestamp(1), window), None);
        assert_eq!(book.fired_within("ETH/USDT", Direction::Long, Timestamp(1), window), None);
        assert_eq!(book.fired_within("BTC/USDT", Direction::Long, Timestamp(1), 0), None, "0 turns it off");
        book.record_firing("BTC/USDT", Direction::Long, Timestamp(60_000), window, 10);
        assert_eq!(book.firings(), 1, "one firing per symbol and direction");
        book.record_firing("ETH/USDT", Direction::Long, Timestamp(960_000), window, 10);
        assert_eq!(book.firings(), 1, "the BTC firing left its window");
        for i in 0..5 {
            book.record_firing(&format!("X{i}/USDT"), Direction::Short, Timestamp(960_000), window, 3);
        }
        assert_eq!(book.firings(), 3, "at most the memory");
        assert!(book.fired_within("X4/USDT", Direction::Short, Timestamp(960_001), window).is_some(), "newest kept");
    }

    #[test]
    fn export_and_restore_keep_everything_and_refuse_a_broken_state() {
        let mut book = PlanBook::default();
        book.open(plan("a", "BTC/USDT", Direction::Long, dec!(100))).unwrap_or_else(|e| panic!("{e}"));
        book.remember("a", 10);
        book.remember("r", 10);
        book.record_firing("BTC/USDT", Direction::Long, Timestamp(5), 15, 10);
        let saved = book.export();
        let back = PlanBook::restore(saved.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.export(), saved);
        assert_eq!((back.total_risk(), back.asset_risk("BTC")), (dec!(100), dec!(100)));
        assert!(back.seen("r") && back.fired_within("BTC/USDT", Direction::Long, Timestamp(6), 15).is_some());

        let twice = PlanBookState { open: vec![saved.open[0].clone(), saved.open[0].clone()], ..saved };
        assert!(matches!(PlanBook::restore(twice), Err(RiskError::InvalidState(_))));
        let old: PlanBookState = serde_json::from_str("{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old, PlanBookState::default(), "older states have no plan book");
    }
}
