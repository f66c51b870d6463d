//! The batch summary of a window's plan decisions: the top N approved plans by score, the
//! totals (received, approved, rejected, rejected by reason), the counts by quality tier and the
//! market-regime summary. Built purely from the decisions; rendered like a signal, per medium.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::plans::decision::PlanDecision;
use crate::plans::plan::{Direction, PlanRegime, QualityTier};

use super::doc::{Line, Medium, Section, render, render_parts};
use super::numbers::{plain, price};
use super::signal::{Signal, direction_emoji};

/// One approved plan in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedPlan {
    /// 1 for the best score.
    pub rank: usize,
    pub plan_id: String,
    pub symbol: String,
    pub asset: String,
    pub direction: Direction,
    pub score: Decimal,
    pub quality_tier: QualityTier,
    pub style: String,
    pub timeframe: String,
    pub regime: PlanRegime,
    pub entry: Decimal,
    pub stop: Decimal,
    pub reward_to_risk: Decimal,
    pub units: Decimal,
    pub notional_usd: Decimal,
    pub at: Timestamp,
}

/// How many plans of one reason were refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    /// The reason code, snake_case (`duplicate_plan`).
    pub reason: String,
    pub count: usize,
}

/// The plans of one quality tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCount {
    pub tier: QualityTier,
    pub received: usize,
    pub approved: usize,
}

/// The plans of one market regime and their mean score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegimeSummary {
    pub regime: PlanRegime,
    pub plans: usize,
    pub approved: usize,
    /// The mean score of the regime's plans, to one decimal (`None` without plans).
    pub mean_score: Option<Decimal>,
}

/// The summary of one window of decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// When the summary was made.
    pub at: Timestamp,
    /// The first and last decision's time (`None` when the window was empty).
    pub first_at: Option<Timestamp>,
    pub last_at: Option<Timestamp>,
    /// How many plans the ranking keeps at most.
    pub top_n: usize,
    pub received: usize,
    pub approved: usize,
    pub rejected: usize,
    /// Most frequent first; ties by reason name.
    pub rejected_by_reason: Vec<ReasonCount>,
    /// Plans that failed validation carry no tier or regime; they count in the totals only.
    pub tiers: Vec<TierCount>,
    pub regimes: Vec<RegimeSummary>,
    /// The best approved plans, by score (ties: the earlier first), at most `top_n`.
    pub top: Vec<RankedPlan>,
}

impl BatchSummary {
    /// Sums up `decisions` (in the order they were made) and ranks the approved ones.
    pub fn from_decisions(decisions: &[PlanDecision], top_n: usize, at: Timestamp) -> Self {
        let approved = decisions.iter().filter(|d| d.is_approved()).count();
        let mut reasons: HashMap<&'static str, usize> = HashMap::new();
        for code in decisions.iter().filter_map(PlanDecision::reason) {
            *reasons.entry(code.as_str()).or_default() += 1;
        }
        let mut rejected_by_reason: Vec<ReasonCount> =
            reasons.into_iter().map(|(reason, count)| ReasonCount { reason: reason.to_string(), count }).collect();
        rejected_by_reason.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));

        let tiers = QualityTier::ALL
            .iter()
            .map(|&tier| {
                let of_tier = decisions.iter().filter(|d| d.plan.as_ref().is_some_and(|p| p.quality_tier == tier));
                let (received, approved) = of_tier.fold((0, 0), |(r, a), d| (r + 1, a + usize::from(d.is_approved())));
                TierCount { tier, received, approved }
            })
            .collect();
        let regimes = PlanRegime::ALL
            .iter()
            .map(|&regime| {
                let plans: Vec<&PlanDecision> =
                    decisions.iter().filter(|d| d.plan.as_ref().is_some_and(|p| p.regime == regime)).collect();
                let total: Decimal = plans.iter().filter_map(|d| d.plan.as_ref()).map(|p| p.score).sum();
                let mean_score =
                    (!plans.is_empty()).then(|| (total / Decimal::from(plans.len())).round_dp(1).normalize());
                RegimeSummary {
                    regime,
                    plans: plans.len(),
                    approved: plans.iter().filter(|d| d.is_approved()).count(),
                    mean_score,
                }
            })
            .collect();

        let mut signals: Vec<Signal> = decisions.iter().filter_map(Signal::from_decision).collect();
        // A stable sort keeps arrival order among equal scores and times.
        signals.sort_by(|a, b| b.plan.score.cmp(&a.plan.score).then_with(|| a.at.cmp(&b.at)));
        let top = signals
            .iter()
            .take(top_n)
            .enumerate()
            .map(|(i, s)| RankedPlan {
                rank: i + 1,
                plan_id: s.plan.plan_id.clone(),
                symbol: s.plan.symbol.clone(),
                asset: s.plan.asset().to_string(),
                direction: s.plan.direction,
                score: s.plan.score,
                quality_tier: s.plan.quality_tier,
                style: s.plan.style.clone(),
                timeframe: s.plan.timeframe.clone(),
                regime: s.plan.regime,
                entry: s.plan.entry.near,
                stop: s.plan.stop,
                reward_to_risk: s.plan.reward_to_risk(),
                units: s.size.units,
                notional_usd: s.size.notional_usd,
                at: s.at,
            })
            .collect();
        BatchSummary {
            at,
            first_at: decisions.iter().map(|d| d.at).min(),
            last_at: decisions.iter().map(|d| d.at).max(),
            top_n,
            received: decisions.len(),
            approved,
            rejected: decisions.len() - approved,
            rejected_by_reason,
            tiers,
            regimes,
            top,
        }
    }

    /// `📊 Signal Summary | 100 received | 60 approved | 40 rejected`, as plain text.
    pub fn headline(&self) -> String {
        format!("Signal Summary | {} received | {} approved | {} rejected", self.received, self.approved, self.rejected)
    }

    /// The summary as sections (see [`super::doc`]).
    pub fn sections(&self) -> Vec<Section> {
        let time = |t: Timestamp| t.to_datetime().format("%Y-%m-%d %H:%M UTC").to_string();
        let mut head = vec![Line::text("📊 ").then_bold(self.headline())];
        head.push(Line::text(match (self.first_at, self.last_at) {
            (Some(first), Some(last)) => format!("Window: {} to {}", time(first), time(last)),
            _ => format!("No plans received before {}", time(self.at)),
        }));
        let mut sections = vec![head];

        let mut top = vec![Line::bold(format!("Top {} by Score:", self.top.len()))];
        if self.top.is_empty() {
            top = vec![Line::bold("Top by Score:"), Line::text("No approved plans in this window.")];
        }
        for plan in &self.top {
            top.push(Line::text(format!(
                "{}. {} {} {} | {}/100 | Tier {} | {} {} | Entry {} | Stop {} | R:R 1:{} | Size {} {} | Plan {}",
                plan.rank,
                direction_emoji(plan.direction),
                plan.direction.as_str().to_uppercase(),
                plan.symbol,
                plain(plan.score),
                plan.quality_tier.as_str(),
                plan.style,
                plan.timeframe,
                price(plan.entry),
                price(plan.stop),
                plain(plan.reward_to_risk),
                plain(plan.units),
                plan.asset,
                plan.plan_id
            )));
        }
        sections.push(top);

        if !self.rejected_by_reason.is_empty() {
            let mut reasons = vec![Line::bold("Rejected by Reason:")];
            reasons.extend(self.rejected_by_reason.iter().map(|r| Line::text(format!("• {}: {}", r.reason, r.count))));
            sections.push(reasons);
        }

        let mut tiers = vec![Line::bold("Quality Tiers:")];
        tiers.extend(
            self.tiers.iter().map(|t| {
                Line::text(format!("• {}: {} received, {} approved", t.tier.as_str(), t.received, t.approved))
            }),
        );
        sections.push(tiers);

        let mut regimes = vec![Line::bold("Market Regime:")];
        regimes.extend(self.regimes.iter().map(|r| {
            let mean = r.mean_score.map_or_else(|| "-".to_string(), plain);
            Line::text(format!(
                "• {}: {} {}, {} approved, mean score {}",
                capitalised(r.regime.as_str()),
                r.plans,
                if r.plans == 1 { "plan" } else { "plans" },
                r.approved,
                mean
            ))
        }));
        sections.push(regimes);
        sections
    }

    /// The summary in the seed's Markdown, whole.
    pub fn format_markdown(&self) -> String {
        render(&self.sections(), Medium::Markdown)
    }

    /// The summary for one medium, split into messages within its limit.
    pub fn parts(&self, medium: Medium) -> Vec<String> {
        render_parts(&self.sections(), medium)
    }

    /// `[SUMMARY] Signal Summary | …`: the email subject.
    pub fn subject(&self) -> String {
        format!("[SUMMARY] {}", self.headline())
    }

    /// The machine-readable summary (the webhook's body): `type` = `"signal_summary"`, `at`,
    /// `first_at`, `last_at` (RFC 3339 or null), `top_n`, `received`, `approved`, `rejected`,
    /// `rejected_by_reason` (`[{reason, count}]`), `tiers` (`[{tier, received, approved}]`),
    /// `regimes` (`[{regime, plans, approved, mean_score}]`) and `top` (`[{rank, plan_id, symbol,
    /// direction, score, quality_tier, style, timeframe, regime, entry, stop, reward_to_risk,
    /// units, notional_usd, at}]`). Decimals are strings.
    pub fn format_json(&self) -> Value {
        let top: Vec<Value> = self
            .top
            .iter()
            .map(|p| {
                json!({
                    "rank": p.rank,
                    "plan_id": p.plan_id,
                    "symbol": p.symbol,
                    "direction": p.direction.as_str(),
                    "score": plain(p.score),
                    "quality_tier": p.quality_tier.as_str(),
                    "style": p.style,
                    "timeframe": p.timeframe,
                    "regime": p.regime.as_str(),
                    "entry": plain(p.entry),
                    "stop": plain(p.stop),
                    "reward_to_risk": plain(p.reward_to_risk),
                    "units": plain(p.units),
                    "notional_usd": plain(p.notional_usd),
                    "at": p.at.to_rfc3339(),
                })
            })
            .collect();
        json!({
            "type": "signal_summary",
            "at": self.at.to_rfc3339(),
            "first_at": self.first_at.map(Timestamp::to_rfc3339),
            "last_at": self.last_at.map(Timestamp::to_rfc3339),
            "top_n": self.top_n,
            "received": self.received,
            "approved": self.approved,
            "rejected": self.rejected,
            "rejected_by_reason": self.rejected_by_reason.iter().map(|r| json!({"reason": r.reason, "count": r.count})).collect::<Vec<_>>(),
            "tiers": self.tiers.iter().map(|t| json!({"tier": t.tier.as_str(), "received": t.received, "approved": t.approved})).collect::<Vec<_>>(),
            "regimes": self.regimes.iter().map(|r| json!({"regime": r.regime.as_str(), "plans": r.plans, "approved": r.approved, "mean_score": r.mean_score.map(plain)})).collect::<Vec<_>>(),
            "top": top,
        })
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::ReasonCode;
    use crate::plans::decision::{PlanOutcome, PlanSource};
    use crate::plans::format::signal::tests::signal_of;
    use crate::plans::plan::TradePlan;
    use crate::plans::sample::plan;

    const SYMBOLS: [&str; 4] = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"];

    fn approved(plan: TradePlan, at: Timestamp) -> PlanDecision {
        let signal = signal_of(plan, at);
        PlanDecision {
            plan_id: signal.plan.plan_id.clone(),
            symbol: Some(signal.plan.symbol.clone()),
            direction: Some(signal.plan.direction),
            source: PlanSource::Api,
            at,
            plan: Some(signal.plan.clone()),
            outcome: PlanOutcome::Approved { size: signal.size, order: Box::new(signal.order) },
        }
    }

    fn rejected(plan: Option<TradePlan>, code: ReasonCode, at: Timestamp) -> PlanDecision {
        PlanDecision {
            plan_id: plan.as_ref().map(|p| p.plan_id.clone()).unwrap_or_default(),
            symbol: plan.as_ref().map(|p| p.symbol.clone()),
            direction: plan.as_ref().map(|p| p.direction),
            source: PlanSource::Inbox { file: "x.json".into() },
            at,
            plan: plan.map(Arc::new),
            outcome: PlanOutcome::Rejected { code, detail: "detail".into() },
        }
    }

    /// 100 decisions: every fourth refused (duplicate 9, double fire 8, incomplete 8), the tiers
    /// and regimes in turn, scores 60 to 99 so that plans 40 apart tie.
    pub(crate) fn hundred() -> Vec<PlanDecision> {
        (0..100usize)
            .map(|i| {
                let p = TradePlan {
                    plan_id: format!("plan-{i:03}"),
                    symbol: SYMBOLS[i % 4].into(),
                    score: Decimal::from(60 + i % 40) + dec!(0.5),
                    quality_tier: QualityTier::ALL[i % 3],
                    regime: PlanRegime::ALL[(i / 3) % 3],
                    ..plan()
                };
                let at = Timestamp::from_secs(1_737_296_000 + i as i64);
                if i % 4 != 3 {
                    return approved(p, at);
                }
                match (i / 4) % 3 {
                    0 => rejected(Some(p), ReasonCode::DuplicatePlan, at),
                    1 => rejected(Some(p), ReasonCode::DoubleFire, at),
                    _ => rejected(None, ReasonCode::IncompletePlan, at),
                }
            })
            .collect()
    }

    #[test]
    fn a_hundred_decisions_are_counted_ranked_and_grouped() {
        let decisions = hundred();
        let summary = BatchSummary::from_decisions(&decisions, 100, Timestamp::from_secs(1_737_297_000));
        assert_eq!((summary.received, summary.approved, summary.rejected), (100, 75, 25));
        let reasons: Vec<(&str, usize)> =
            summary.rejected_by_reason.iter().map(|r| (r.reason.as_str(), r.count)).collect();
        assert_eq!(reasons, [("duplicate_plan", 9), ("double_fire", 8), ("incomplete_plan", 8)]);

        // Tiers and regimes count the 92 plans that were complete.
        let complete: Vec<&TradePlan> = decisions.iter().filter_map(|d| d.plan.as_deref()).collect();
        assert_eq!(complete.len(), 92);
        for tier in &summary.tiers {
            let of: Vec<&&TradePlan> = complete.iter().filter(|p| p.quality_tier == tier.tier).collect();
            assert_eq!(tier.received, of.len(), "{tier:?}");
            let approved = decisions
                .iter()
                .filter(|d| d.is_approved() && d.plan.as_ref().is_some_and(|p| p.quality_tier == tier.tier))
                .count();
            assert_eq!(tier.approved, approved, "{tier:?}");
        }
        assert_eq!(summary.tiers.iter().map(|t| t.approved).sum::<usize>(), 75);
        for regime in &summary.regimes {
            let scores: Vec<Decimal> = complete.iter().filter(|p| p.regime == regime.regime).map(|p| p.score).collect();
            assert_eq!(regime.plans, scores.len());
            let mean = scores.iter().sum::<Decimal>() / Decimal::from(scores.len());
            assert_eq!(regime.mean_score, Some(mean.round_dp(1).normalize()), "{regime:?}");
        }
        assert_eq!(summary.regimes.iter().map(|r| r.plans).sum::<usize>(), 92);

        // Every approved plan ranked once, best first, the earlier first among equal scores.
        assert_eq!(summary.top.len(), 75);
        // 99.5 (plans 39 and 79) were both refused; 98.5 ties plans 38 and 78, the earlier first.
        assert_eq!(summary.top[0].plan_id, "plan-038");
        assert_eq!(summary.top[1].plan_id, "plan-078");
        for pair in summary.top.windows(2) {
            assert!(pair[0].score > pair[1].score || (pair[0].score == pair[1].score && pair[0].at < pair[1].at));
        }
        assert!(summary.top.iter().enumerate().all(|(i, p)| p.rank == i + 1));
        let top5 = BatchSummary::from_decisions(&decisions, 5, Timestamp::from_secs(0));
        assert_eq!(top5.top, summary.top[..5]);
    }

    #[test]
    fn a_hundred_signal_summary_splits_at_lines_without_losing_or_repeating_any() {
        let summary = BatchSummary::from_decisions(&hundred(), 100, Timestamp::from_secs(1_737_297_000));
        for medium in [Medium::Telegram, Medium::Discord, Medium::Slack] {
            let parts = summary.parts(medium);
            let max = medium.limit().unwrap_or(usize::MAX);
            assert!(parts.len() > 1, "{medium:?}: {} parts", parts.len());
            assert!(parts.iter().all(|p| medium.length(p) <= max && !p.is_empty()), "{medium:?}");
            let whole = render(&summary.sections(), medium);
            let lines = |text: &str| text.lines().filter(|l| !l.is_empty()).map(String::from).collect::<Vec<_>>();
            let split: Vec<String> = parts.iter().flat_map(|p| lines(p)).collect();
            assert_eq!(split, lines(&whole), "{medium:?}: a line was cut, lost, repeated or moved");
            // Each ranked line is whole in exactly one part.
            for rank in 1..=75 {
                let start = format!("{rank}\\. ");
                let start = if medium == Medium::Telegram { start } else { format!("{rank}. ") };
                let holding = parts.iter().filter(|p| p.lines().any(|l| l.starts_with(&start))).count();
                assert_eq!(holding, 1, "{medium:?}: rank {rank}");
            }
            // The sections after the ranking are never split: each one lies in one part.
            for heading in ["Rejected by Reason:", "Quality Tiers:", "Market Regime:"] {
                let part = parts.iter().find(|p| p.contains(heading)).unwrap_or_else(|| panic!("{heading}"));
                let tail = &part[part.find(heading).unwrap_or_default()..];
                assert!(tail.lines().count() >= 4, "{medium:?}: {heading} cut off: {tail}");
            }
        }
    }

    #[test]
    fn a_small_summary_reads_top_first_then_the_counts() {
        let decisions = &hundred()[..4];
        let summary = BatchSummary::from_decisions(decisions, 2, Timestamp::from_secs(1_737_297_000));
        assert_eq!(
            summary.format_markdown(),
            "📊 **Signal Summary | 4 received | 3 approved | 1 rejected**\n\
             Window: 2025-01-19 14:13 UTC to 2025-01-19 14:13 UTC\n\n\
             **Top 2 by Score:**\n\
             1. 🎯 LONG SOL/USDT | 62.5/100 | Tier C | Scalp 4h | Entry $42,200 | Stop $41,750 | R:R 1:2.89 | \
             Size 0.22222222 SOL | Plan plan-002\n\
             2. 🎯 LONG ETH/USDT | 61.5/100 | Tier B | Scalp 4h | Entry $42,200 | Stop $41,750 | R:R 1:2.89 | \
             Size 0.22222222 ETH | Plan plan-001\n\n\
             **Rejected by Reason:**\n• duplicate_plan: 1\n\n\
             **Quality Tiers:**\n• A: 2 received, 1 approved\n• B: 1 received, 1 approved\n• C: 1 received, 1 approved\n\n\
             **Market Regime:**\n• Trend: 3 plans, 3 approved, mean score 61.5\n\
             • Range: 1 plan, 0 approved, mean score 63.5\n• Volatile: 0 plans, 0 approved, mean score -"
        );
        let empty = BatchSummary::from_decisions(&[], 5, Timestamp::from_secs(0));
        assert!(empty.format_markdown().contains("No approved plans in this window."));
        assert_eq!(empty.format_json()["first_at"], Value::Null);
    }
}
