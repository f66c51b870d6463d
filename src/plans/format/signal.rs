//! The announcement of one approved plan: the seed's signal message (direction, score, entry
//! zones, exits with their moves and R multiples, risk, R:R and size, the confluence breakdown,
//! the rationale and the chart link) and its JSON payload.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::plans::decision::{PlanDecision, PlanOutcome, StagedOrder};
use crate::plans::plan::{Direction, TradePlan};
use crate::plans::sizing::PlanSize;

use super::doc::{Line, Medium, Section, render, render_parts};
use super::numbers::{money, percent_move, plain, price, signed_percent};

/// 🎯 for a long, 🔻 for a short: the first thing a reader sees.
pub fn direction_emoji(direction: Direction) -> &'static str {
    match direction {
        Direction::Long => "🎯",
        Direction::Short => "🔻",
    }
}

/// An approved plan with what the risk path made of it: everything its announcement shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub plan: Arc<TradePlan>,
    pub size: PlanSize,
    pub order: StagedOrder,
    /// When the plan was approved.
    pub at: Timestamp,
}

impl Signal {
    /// The signal of an approved decision; `None` for a refused one (nothing to announce).
    pub fn from_decision(decision: &PlanDecision) -> Option<Self> {
        match (&decision.outcome, &decision.plan) {
            (PlanOutcome::Approved { size, order }, Some(plan)) => {
                Some(Signal { plan: plan.clone(), size: *size, order: (**order).clone(), at: decision.at })
            }
            _ => None,
        }
    }

    /// `LONG BTC/USDT`.
    pub fn headline(&self) -> String {
        format!("{} {}", self.plan.direction.as_str().to_uppercase(), self.plan.symbol)
    }

    /// `0.22222222 BTC`.
    pub fn size_text(&self) -> String {
        format!("{} {}", plain(self.size.units), self.plan.asset())
    }

    /// The message as sections (see [`super::doc`]).
    pub fn sections(&self) -> Vec<Section> {
        let plan = &self.plan;
        let near = plan.entry.near;
        let mut sections = Vec::new();
        sections.push(vec![
            Line::text(format!("{} ", direction_emoji(plan.direction))).then_bold(self.headline()).then_text(format!(
                " | Score: {}/100 | {}",
                plain(plan.score),
                plan.style
            )),
        ]);
        sections.push(vec![
            Line::bold("Entry Zones:"),
            Line::text(format!("• Aggressive: {}", price(near))),
            Line::text(format!("• Conservative: {}", price(plan.entry.far))),
        ]);
        let mut exits = vec![
            Line::bold("Exits:"),
            Line::text(format!(
                "• Stop Loss: {} ({})",
                price(plan.stop),
                signed_percent(percent_move(near, plan.stop))
            )),
        ];
        for (i, (target, r)) in plan.targets.iter().zip(plan.target_r_multiples()).enumerate() {
            exits.push(Line::text(format!(
                "• Target {}: {} ({}, +{}R)",
                i + 1,
                price(*target),
                signed_percent(percent_move(near, *target)),
                plain(r)
            )));
        }
        sections.push(exits);
        let mut risk = Line::bold("Risk:").then_text(format!(
            " {}% | R:R: 1:{} | Size: {} ({})",
            plain(self.size.risk_percent),
            plain(plan.reward_to_risk()),
            self.size_text(),
            money(self.size.notional_usd)
        ));
        if plan.leverage != rust_decimal::Decimal::ONE {
            risk = risk.then_text(format!(" | {}x", plain(plan.leverage)));
        }
        sections.push(vec![risk]);
        if !plan.confluence.is_empty() {
            let mut confluence = vec![Line::bold("Confluence Breakdown:")];
            for factor in &plan.confluence {
                let mark = if factor.passed { "✓" } else { "✗" };
                confluence.push(Line::text(format!("{mark} {}", factor.factor)));
            }
            sections.push(confluence);
        }
        let mut rationale = vec![Line::bold("Rationale:")];
        rationale.extend(plan.rationale.lines().map(Line::text));
        sections.push(rationale);
        if let Some(url) = &plan.chart_url {
            sections.push(vec![Line::text("📊 View Chart: ").then_link("Link", url.clone())]);
        }
        // The ids beside the names: which plan, which order, in which mode.
        sections.push(vec![Line::text(format!(
            "Plan {} | Tier {} | {} | {} regime | Order {} ({})",
            plan.plan_id,
            plan.quality_tier.as_str(),
            plan.timeframe,
            plan.regime.as_str(),
            self.order.client_order_id,
            self.order.mode.as_str()
        ))]);
        sections
    }

    /// The seed's Markdown message, whole.
    pub fn format_markdown(&self) -> String {
        render(&self.sections(), Medium::Markdown)
    }

    /// The message for one medium, split into messages within its limit.
    pub fn parts(&self, medium: Medium) -> Vec<String> {
        render_parts(&self.sections(), medium)
    }

    /// `[SIGNAL] LONG BTC/USDT | Score 92.3/100 | Scalp`: the email subject.
    pub fn subject(&self) -> String {
        format!("[SIGNAL] {} | Score {}/100 | {}", self.headline(), plain(self.plan.score), self.plan.style)
    }

    /// A one-line summary for channels without markup (console, SMS).
    pub fn one_line(&self) -> String {
        format!(
            "{} {} | Score {}/100 | entry {} | stop {} | R:R 1:{} | size {}",
            direction_emoji(self.plan.direction),
            self.headline(),
            plain(self.plan.score),
            price(self.plan.entry.near),
            price(self.plan.stop),
            plain(self.plan.reward_to_risk()),
            self.size_text()
        )
    }

    /// The machine-readable payload (the webhook's body). Decimals are strings, to keep them exact.
    ///
    /// Keys (stable):
    /// - `type`: `"signal"`; `at`: RFC 3339 time of approval;
    /// - `plan_id`, `symbol` (`BASE/QUOTE`), `asset` (the base), `direction` (`long`/`short`),
    ///   `score`, `quality_tier` (`A`/`B`/`C`), `timeframe`, `style`, `regime`
    ///   (`trend`/`range`/`volatile`), `rationale`, `chart_url` (or null);
    /// - `entry`: `{aggressive, conservative}` (the near and far ends of the zone);
    /// - `stop`: `{price, percent}` (the move from the aggressive entry, in percent);
    /// - `targets`: `[{price, percent, r_multiple}]`, nearest first;
    /// - `reward_to_risk`: the mean of the targets' R multiples (R:R is `1:<this>`);
    /// - `risk_percent`, `leverage`, `atr` (`{current, baseline}` or null);
    /// - `size`: `{units, asset, notional_usd, risk_usd, equity_usd, atr_factor, capped}`;
    /// - `order`: `{client_order_id, side, price, units, mode}`;
    /// - `confluence`: `[{factor, passed}]`.
    pub fn format_json(&self) -> Value {
        let plan = &self.plan;
        let near = plan.entry.near;
        let targets: Vec<Value> = plan
            .targets
            .iter()
            .zip(plan.target_r_multiples())
            .map(|(t, r)| json!({"price": plain(*t), "percent": plain(percent_move(near, *t)), "r_multiple": plain(r)}))
            .collect();
        let confluence: Vec<Value> =
            plan.confluence.iter().map(|f| json!({"factor": f.factor, "passed": f.passed})).collect();
        json!({
            "type": "signal",
            "at": self.at.to_rfc3339(),
            "plan_id": plan.plan_id,
            "symbol": plan.symbol,
            "asset": plan.asset(),
            "direction": plan.direction.as_str(),
            "score": plain(plan.score),
            "quality_tier": plan.quality_tier.as_str(),
            "timeframe": plan.timeframe,
            "style": plan.style,
            "regime": plan.regime.as_str(),
            "entry": {"aggressive": plain(near), "conservative": plain(plan.entry.far)},
            "stop": {"price": plain(plan.stop), "percent": plain(percent_move(near, plan.stop))},
            "targets": targets,
            "reward_to_risk": plain(plan.reward_to_risk()),
            "risk_percent": plain(self.size.risk_percent),
            "leverage": plain(plan.leverage),
            "atr": plan.atr.map(|a| json!({"current": plain(a.current), "baseline": plain(a.baseline)})),
            "size": {
                "units": plain(self.size.units),
                "asset": plan.asset(),
                "notional_usd": plain(self.size.notional_usd),
                "risk_usd": plain(self.size.risk_usd),
                "equity_usd": plain(self.size.equity_usd),
                "atr_factor": plain(self.size.atr_factor),
                "capped": self.size.capped,
            },
            "order": {
                "client_order_id": self.order.client_order_id,
                "side": self.order.side,
                "price": plain(self.order.price),
                "units": plain(self.order.units),
                "mode": self.order.mode.as_str(),
            },
            "confluence": confluence,
            "rationale": plan.rationale,
            "chart_url": plan.chart_url,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::config::Mode;
    use crate::plans::config::SignalsConfig;
    use crate::plans::sample::plan;
    use crate::plans::sizing::size_plan;

    /// The seed's example, approved: 1 % of 10,000 at risk, no cap.
    pub(crate) fn signal_of(plan: TradePlan, at: Timestamp) -> Signal {
        let config = SignalsConfig { max_position_usd: dec!(1_000_000), ..SignalsConfig::default() };
        let size = size_plan(&plan, dec!(10000), &config, dec!(3)).unwrap_or_else(|e| panic!("{e}"));
        let order = StagedOrder::for_plan(&plan, size.units, Mode::DryRun);
        Signal { plan: Arc::new(plan), size, order, at }
    }

    pub(crate) fn seed_signal() -> Signal {
        signal_of(plan(), Timestamp::from_millis(1_737_296_625_000))
    }

    #[test]
    fn the_seed_example_reads_in_the_seed_layout() {
        assert_eq!(
            seed_signal().format_markdown(),
            "🎯 **LONG BTC/USDT** | Score: 92.3/100 | Scalp\n\n\
             **Entry Zones:**\n• Aggressive: $42,200\n• Conservative: $42,030\n\n\
             **Exits:**\n• Stop Loss: $41,750 (-1.07%)\n• Target 1: $42,800 (+1.42%, +1.33R)\n\
             • Target 2: $43,500 (+3.08%, +2.89R)\n• Target 3: $44,200 (+4.74%, +4.44R)\n\n\
             **Risk:** 1% | R:R: 1:2.89 | Size: 0.22222222 BTC ($9,377.78)\n\n\
             **Confluence Breakdown:**\n✓ Bullish OB (4H) @ $42,100\n✓ Unfilled FVG @ $42,050-$42,200\n\
             ✓ HTF Trend Aligned (1D Bullish BoS)\n✗ Volume Spike Confirmed\n\n\
             **Rationale:**\nPrice swept liquidity below $41,800, forming fresh 4H bullish OB. HTF structure \
             supports continuation after pullback into discount zone.\n\n\
             📊 View Chart: [Link](https://charts.example/btc)\n\n\
             Plan p-1 | Tier A | 4h | trend regime | Order plan-p-1 (dry-run)"
        );
    }

    #[test]
    fn a_short_reads_downwards_with_positive_r_and_its_leverage() {
        let short = TradePlan {
            direction: Direction::Short,
            entry: crate::plans::plan::EntryZone { near: dec!(0.5120), far: dec!(0.5200) },
            stop: dec!(0.5300),
            targets: vec![dec!(0.4940)],
            leverage: dec!(2),
            chart_url: None,
            ..plan()
        };
        let text = signal_of(short, Timestamp::from_secs(0)).format_markdown();
        assert!(text.starts_with("🔻 **SHORT BTC/USDT**"), "{text}");
        assert!(text.contains("• Stop Loss: $0.53 (+3.52%)"), "{text}");
        assert!(text.contains("• Target 1: $0.494 (-3.52%, +1R)"), "{text}");
        assert!(text.contains("| 2x"), "{text}");
        assert!(!text.contains("View Chart"), "no chart without a URL");
    }

    #[test]
    fn the_json_carries_every_figure_as_exact_strings() {
        let json = seed_signal().format_json();
        assert_eq!(json["type"], "signal");
        assert_eq!(json["entry"], json!({"aggressive": "42200", "conservative": "42030"}));
        assert_eq!(json["stop"], json!({"price": "41750", "percent": "-1.07"}));
        assert_eq!(json["targets"][1], json!({"price": "43500", "percent": "3.08", "r_multiple": "2.89"}));
        assert_eq!(json["reward_to_risk"], "2.89");
        assert_eq!(json["size"]["units"], "0.22222222");
        assert_eq!(json["size"]["risk_usd"], "100");
        assert_eq!(json["order"]["mode"], "dry-run");
        assert_eq!(json["confluence"][3], json!({"factor": "Volume Spike Confirmed", "passed": false}));
    }

    #[test]
    fn every_medium_fits_one_message_and_escapes_its_own_way() {
        let signal = seed_signal();
        for medium in Medium::ALL {
            assert_eq!(signal.parts(medium).len(), 1, "{medium:?}");
        }
        let telegram = signal.parts(Medium::Telegram).remove(0);
        assert!(telegram.starts_with("🎯 *LONG BTC/USDT* \\| Score: 92\\.3/100 \\| Scalp"), "{telegram}");
        assert!(telegram.contains("[Link](https://charts.example/btc)"), "{telegram}");
        let slack = signal.parts(Medium::Slack).remove(0);
        assert!(slack.contains("<https://charts.example/btc|Link>"), "{slack}");
        let plain = signal.parts(Medium::Plain).remove(0);
        assert!(plain.contains("View Chart: https://charts.example/btc") && !plain.contains("**"), "{plain}");
    }

    #[test]
    fn the_largest_plan_validation_allows_fits_every_medium_without_losing_a_character() {
        use crate::plans::plan::{ConfluenceFactor, MAX_CONFLUENCE, MAX_RATIONALE_CHARS, MAX_TARGETS, MAX_TEXT_CHARS};
        let reserved = "_*[]()~`>#+-=|{}.!\\";
        let text = |n: usize| reserved.chars().cycle().take(n).collect::<String>();
        let big = TradePlan {
            targets: (1..=MAX_TARGETS as i64).map(|i| dec!(42200) + Decimal::from(i * 500)).collect(),
            confluence: (0..MAX_CONFLUENCE)
                .map(|i| ConfluenceFactor { factor: format!("{i} {}", text(MAX_TEXT_CHARS - 3)), passed: i % 2 == 0 })
                .collect(),
            rationale: text(MAX_RATIONALE_CHARS),
            style: text(MAX_TEXT_CHARS),
            ..plan()
        };
        let signal = signal_of(big, Timestamp::from_secs(0));
        for medium in [Medium::Telegram, Medium::Discord, Medium::Slack] {
            let parts = signal.parts(medium);
            let max = medium.limit().unwrap_or(usize::MAX);
            assert!(parts.len() > 1, "{medium:?}");
            assert!(parts.iter().all(|p| medium.length(p) <= max && !p.is_empty()), "{medium:?}");
            // Joined back, the parts are the whole message: only the breaks between them differ.
            let squeeze = |t: &str| t.chars().filter(|c| *c != '\n').collect::<String>();
            assert_eq!(squeeze(&parts.concat()), squeeze(&render(&signal.sections(), medium)), "{medium:?}");
            // No part starts with the character an escape backslash at the end of the last was for.
            for pair in parts.windows(2) {
                let trailing = pair[0].chars().rev().take_while(|c| *c == '\\').count();
                assert!(trailing % 2 == 0, "{medium:?}: an escape was split");
            }
        }
    }

    #[test]
    fn a_refused_decision_has_no_signal() {
        use crate::plans::decision::{PlanOutcome, PlanSource};
        let decision = PlanDecision {
            plan_id: "p-1".into(),
            symbol: None,
            direction: None,
            source: PlanSource::Api,
            at: Timestamp::from_secs(0),
            plan: None,
            outcome: PlanOutcome::Rejected { code: crate::domain::ReasonCode::IncompletePlan, detail: "x".into() },
        };
        assert!(Signal::from_decision(&decision).is_none());
    }
}
