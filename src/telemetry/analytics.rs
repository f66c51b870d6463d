//! Signal analytics: what the trade plans received so far add up to. A pure fold over
//! [`PlanDecision`]s and [`PlanClose`]s: plans received, approved and rejected (by reason), counts by
//! quality tier and by regime, the average reward-to-risk of the approved plans, and once plans
//! close, the hit rate (winning closes ÷ closes) and the mean R, also by regime.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::api::{MetricKind, PromText};
use crate::plans::{PlanClose, PlanDecision, PlanOutcome, PlanRegime, QualityTier};

/// Approved plans whose regime is remembered for their close; beyond it the oldest is
/// forgotten (its close still counts, under regime `unknown`).
const MAX_OPEN_PLANS: usize = 10_000;

/// The label of a tier or regime a refused, incomplete plan never gave.
pub const UNKNOWN: &str = "unknown";

/// The fold. Feed it every decision and close, in order.
#[derive(Debug, Clone, Default)]
pub struct SignalAnalytics {
    snapshot: SignalAnalyticsSnapshot,
    rr_sum: Decimal,
    r_sum: Decimal,
    /// Per regime: the sum of the closes' R.
    regime_r_sum: BTreeMap<String, Decimal>,
    /// Approved plans by id: their regime, for their close.
    open: BTreeMap<String, PlanRegime>,
    open_order: VecDeque<String>,
}

/// Counts of one outcome, tier and regime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalCount {
    /// `approved` or `rejected`.
    pub outcome: String,
    /// `A`, `B`, `C` or `unknown`.
    pub tier: String,
    /// `trend`, `range`, `volatile` or `unknown`.
    pub regime: String,
    pub count: u64,
}

/// What the closes of one regime's plans made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegimePerformance {
    pub closes: u64,
    pub wins: u64,
    pub hit_rate: Option<Decimal>,
    pub mean_r: Option<Decimal>,
}

/// What `status`, `/metrics` and the CLI show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalAnalyticsSnapshot {
    pub received: u64,
    pub approved: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// By outcome, tier and regime; only the combinations seen.
    pub counts: Vec<SignalCount>,
    pub by_tier: BTreeMap<String, u64>,
    pub by_regime: BTreeMap<String, u64>,
    /// The mean reward-to-risk of the approved plans (none approved: `None`).
    pub rr_avg: Option<Decimal>,
    pub closes: u64,
    pub wins: u64,
    /// Winning closes ÷ closes, once a plan closed.
    pub hit_rate: Option<Decimal>,
    /// The mean R multiple of the closes, once a plan closed.
    pub mean_r: Option<Decimal>,
    /// Closes by the regime of their plan.
    pub by_regime_closed: BTreeMap<String, RegimePerformance>,
}

impl SignalAnalytics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one decision.
    pub fn record_decision(&mut self, decision: &PlanDecision) {
        let s = &mut self.snapshot;
        s.received += 1;
        let plan = decision.plan.as_deref();
        let tier = plan.map_or(UNKNOWN, |p| p.quality_tier.as_str());
        let regime = plan.map_or(UNKNOWN, |p| p.regime.as_str());
        let outcome = match &decision.outcome {
            PlanOutcome::Approved { .. } => {
                s.approved += 1;
                if let Some(plan) = plan {
                    self.rr_sum += plan.reward_to_risk();
                    self.remember(&plan.plan_id, plan.regime);
                }
                "approved"
            }
            PlanOutcome::Rejected { code, .. } => {
                s.rejected += 1;
                *s.rejected_by_reason.entry(code.as_str().to_owned()).or_default() += 1;
                "rejected"
            }
        };
        let s = &mut self.snapshot;
        *s.by_tier.entry(tier.to_owned()).or_default() += 1;
        *s.by_regime.entry(regime.to_owned()).or_default() += 1;
        match s.counts.iter_mut().find(|c| c.outcome == outcome && c.tier == tier && c.regime == regime) {
            Some(count) => count.count += 1,
            None => {
                s.counts.push(SignalCount {
                    outcome: outcome.into(),
                    tier: tier.into(),
                    regime: regime.into(),
                    count: 1,
                });
                s.counts.sort_by(|a, b| (&a.outcome, &a.tier, &a.regime).cmp(&(&b.outcome, &b.tier, &b.regime)));
            }
        }
        s.rr_avg = (s.approved > 0).then(|| (self.rr_sum / Decimal::from(s.approved)).round_dp(4).normalize());
    }

    /// Counts one close: a win when it made money.
    pub fn record_close(&mut self, close: &PlanClose) {
        let regime = self.open.remove(&close.plan_id).map_or(UNKNOWN, PlanRegime::as_str);
        self.open_order.retain(|id| *id != close.plan_id);
        let won = close.pnl_usd > Decimal::ZERO;
        let s = &mut self.snapshot;
        s.closes += 1;
        s.wins += u64::from(won);
        self.r_sum += close.r_multiple;
        s.hit_rate = Some(ratio(s.wins, s.closes));
        s.mean_r = Some((self.r_sum / Decimal::from(s.closes)).round_dp(4).normalize());
        let r_sum = self.regime_r_sum.entry(regime.to_owned()).or_default();
        *r_sum += close.r_multiple;
        let per = s.by_regime_closed.entry(regime.to_owned()).or_default();
        per.closes += 1;
        per.wins += u64::from(won);
        per.hit_rate = Some(ratio(per.wins, per.closes));
        per.mean_r = Some((*r_sum / Decimal::from(per.closes)).round_dp(4).normalize());
    }

    fn remember(&mut self, plan_id: &str, regime: PlanRegime) {
        if self.open.insert(plan_id.to_owned(), regime).is_none() {
            self.open_order.push_back(plan_id.to_owned());
        }
        while self.open_order.len() > MAX_OPEN_PLANS {
            if let Some(oldest) = self.open_order.pop_front() {
                self.open.remove(&oldest);
            }
        }
    }

    pub fn snapshot(&self) -> &SignalAnalyticsSnapshot {
        &self.snapshot
    }
}

fn ratio(part: u64, whole: u64) -> Decimal {
    (Decimal::from(part) / Decimal::from(whole.max(1))).round_dp(4).normalize()
}

impl SignalAnalyticsSnapshot {
    /// The `/metrics` lines. The tier × regime families list every combination of the known words
    /// (zeros included) so that a dashboard sees them before the first plan; the averages only
    /// once they exist.
    pub fn write_metrics(&self, text: &mut PromText) {
        text.single("whale_trader_signals_received_total", MetricKind::Counter, "Trade plans received.", self.received);
        const TOTAL: &str = "whale_trader_signals_total";
        text.family(TOTAL, MetricKind::Counter, "Trade plans decided, by outcome, quality tier and regime.");
        let tiers = QualityTier::ALL.map(QualityTier::as_str);
        let regimes = PlanRegime::ALL.map(PlanRegime::as_str);
        for outcome in ["approved", "rejected"] {
            for tier in tiers {
                for regime in regimes {
                    text.sample(
                        TOTAL,
                        &[("outcome", outcome), ("tier", tier), ("regime", regime)],
                        self.count(outcome, tier, regime),
                    );
                }
            }
        }
        // Refused before they were complete: no tier or regime to name.
        for c in self.counts.iter().filter(|c| c.tier == UNKNOWN || c.regime == UNKNOWN) {
            text.sample(TOTAL, &[("outcome", &c.outcome), ("tier", &c.tier), ("regime", &c.regime)], c.count);
        }
        const REJECTED: &str = "whale_trader_signals_rejected_total";
        text.family(REJECTED, MetricKind::Counter, "Trade plans refused, by reason code.");
        for (reason, count) in &self.rejected_by_reason {
            text.sample(REJECTED, &[("reason", reason)], count);
        }
        if let Some(rr) = self.rr_avg {
            text.single("whale_trader_signals_rr_avg", MetricKind::Gauge, "Mean reward-to-risk of approved plans.", rr);
        }
        text.single("whale_trader_signals_closed_total", MetricKind::Counter, "Trade plans closed.", self.closes);
        if let Some(hit_rate) = self.hit_rate {
            text.single(
                "whale_trader_signals_hit_rate",
                MetricKind::Gauge,
                "Share of closed plans that made money.",
                hit_rate,
            );
        }
        if let Some(mean_r) = self.mean_r {
            text.single("whale_trader_signals_r_mean", MetricKind::Gauge, "Mean R multiple of closed plans.", mean_r);
        }
        const BY_REGIME: &str = "whale_trader_signals_regime_hit_rate";
        text.family(BY_REGIME, MetricKind::Gauge, "Share of closed plans that made money, by regime.");
        for (regime, per) in &self.by_regime_closed {
            if let Some(hit_rate) = per.hit_rate {
                text.sample(BY_REGIME, &[("regime", regime)], hit_rate);
            }
        }
    }

    fn count(&self, outcome: &str, tier: &str, regime: &str) -> u64 {
        self.counts.iter().find(|c| c.outcome == outcome && c.tier == tier && c.regime == regime).map_or(0, |c| c.count)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::clock::Timestamp;
    use crate::config::Mode;
    use crate::domain::ReasonCode;
    use crate::plans::{Direction, PlanSize, PlanSource, StagedOrder, TradePlan, sample};

    fn approved(id: &str, regime: PlanRegime, tier: QualityTier, targets: Vec<Decimal>) -> PlanDecision {
        let plan = TradePlan { plan_id: id.into(), regime, quality_tier: tier, targets, ..sample::plan() };
        let size = PlanSize {
            units: dec!(1),
            notional_usd: plan.entry.near,
            risk_usd: plan.risk_per_unit(),
            risk_percent: dec!(1),
            equity_usd: dec!(100000),
            leverage: dec!(1),
            atr_factor: dec!(1),
            capped: false,
        };
        let order = StagedOrder::for_plan(&plan, dec!(1), Mode::DryRun);
        PlanDecision {
            plan_id: id.into(),
            symbol: Some(plan.symbol.clone()),
            direction: Some(plan.direction),
            source: PlanSource::Api,
            at: Timestamp::from_secs(1),
            plan: Some(Arc::new(plan)),
            outcome: PlanOutcome::Approved { size, order: Box::new(order) },
        }
    }

    fn rejected(code: ReasonCode, plan: Option<TradePlan>) -> PlanDecision {
        PlanDecision {
            plan_id: plan.as_ref().map(|p| p.plan_id.clone()).unwrap_or_default(),
            symbol: None,
            direction: None,
            source: PlanSource::Api,
            at: Timestamp::from_secs(2),
            plan: plan.map(Arc::new),
            outcome: PlanOutcome::Rejected { code, detail: "no".into() },
        }
    }

    fn close(id: &str, pnl: Decimal, r: Decimal) -> PlanClose {
        PlanClose {
            plan_id: id.into(),
            symbol: "BTC/USDT".into(),
            direction: Direction::Long,
            entry: dec!(42200),
            exit_price: dec!(42200) + pnl,
            units: dec!(1),
            pnl_usd: pnl,
            r_multiple: r,
            at: Timestamp::from_secs(3),
        }
    }

    #[test]
    fn folds_decisions_by_outcome_tier_regime_and_reason() {
        let mut analytics = SignalAnalytics::new();
        // Entry 42200, stop 41750: 450 of risk. Targets 42650 and 43100 are 1R and 2R (mean 1.5);
        // 43550 alone is 3R.
        analytics.record_decision(&approved("a", PlanRegime::Trend, QualityTier::A, vec![dec!(42650), dec!(43100)]));
        analytics.record_decision(&approved("b", PlanRegime::Range, QualityTier::B, vec![dec!(43550)]));
        analytics.record_decision(&rejected(ReasonCode::IncompletePlan, None));
        let sized_out = TradePlan { plan_id: "c".into(), quality_tier: QualityTier::C, ..sample::plan() };
        analytics.record_decision(&rejected(ReasonCode::MaxRiskPerTrade, Some(sized_out)));
        let s = analytics.snapshot();
        assert_eq!((s.received, s.approved, s.rejected), (4, 2, 2));
        assert_eq!(s.rr_avg, Some(dec!(2.25)));
        assert_eq!(s.rejected_by_reason.get("incomplete_plan"), Some(&1));
        assert_eq!(s.rejected_by_reason.get("max_risk_per_trade"), Some(&1));
        assert_eq!(s.by_tier.get("A"), Some(&1));
        assert_eq!(s.by_tier.get(UNKNOWN), Some(&1));
        assert_eq!(s.by_regime.get("trend"), Some(&2), "the approved A and the refused C are both trend");
        assert_eq!((s.hit_rate, s.mean_r), (None, None), "no rate before a close");

        let mut text = PromText::new();
        s.write_metrics(&mut text);
        let body = text.finish();
        for line in [
            "whale_trader_signals_received_total 4\n",
            "whale_trader_signals_total{outcome=\"approved\",tier=\"A\",regime=\"trend\"} 1\n",
            "whale_trader_signals_total{outcome=\"approved\",tier=\"B\",regime=\"range\"} 1\n",
            "whale_trader_signals_total{outcome=\"approved\",tier=\"C\",regime=\"volatile\"} 0\n",
            "whale_trader_signals_total{outcome=\"rejected\",tier=\"C\",regime=\"trend\"} 1\n",
            "whale_trader_signals_total{outcome=\"rejected\",tier=\"unknown\",regime=\"unknown\"} 1\n",
            "whale_trader_signals_rejected_total{reason=\"incomplete_plan\"} 1\n",
            "whale_trader_signals_rr_avg 2.25\n",
            "whale_trader_signals_closed_total 0\n",
        ] {
            assert!(body.contains(line), "{line} missing from\n{body}");
        }
        assert!(!body.contains("whale_trader_signals_hit_rate "), "{body}");
    }

    #[test]
    fn closes_give_the_hit_rate_and_mean_r_overall_and_by_regime() {
        let mut analytics = SignalAnalytics::new();
        analytics.record_decision(&approved("a", PlanRegime::Trend, QualityTier::A, vec![dec!(43100)]));
        analytics.record_decision(&approved("b", PlanRegime::Trend, QualityTier::A, vec![dec!(43100)]));
        analytics.record_decision(&approved("c", PlanRegime::Volatile, QualityTier::B, vec![dec!(43100)]));
        analytics.record_close(&close("a", dec!(900), dec!(2)));
        analytics.record_close(&close("b", dec!(-450), dec!(-1)));
        analytics.record_close(&close("c", dec!(-450), dec!(-1)));
        analytics.record_close(&close("never-seen", dec!(225), dec!(0.5)));
        let s = analytics.snapshot();
        assert_eq!((s.closes, s.wins), (4, 2));
        assert_eq!(s.hit_rate, Some(dec!(0.5)));
        assert_eq!(s.mean_r, Some(dec!(0.125)));
        let trend = &s.by_regime_closed["trend"];
        assert_eq!((trend.closes, trend.wins, trend.hit_rate, trend.mean_r), (2, 1, Some(dec!(0.5)), Some(dec!(0.5))));
        assert_eq!(s.by_regime_closed["volatile"].hit_rate, Some(dec!(0)));
        assert_eq!(s.by_regime_closed[UNKNOWN].closes, 1);

        let mut text = PromText::new();
        s.write_metrics(&mut text);
        let body = text.finish();
        for line in [
            "whale_trader_signals_closed_total 4\n",
            "whale_trader_signals_hit_rate 0.5\n",
            "whale_trader_signals_r_mean 0.125\n",
            "whale_trader_signals_regime_hit_rate{regime=\"trend\"} 0.5\n",
        ] {
            assert!(body.contains(line), "{line} missing from\n{body}");
        }
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["hit_rate"], "0.5", "the snapshot serialises its Decimals as strings");
    }
}
