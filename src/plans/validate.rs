//! Plan completeness and consistency: every field present, the stop on the losing side of the
//! entry, the targets on the winning side and in order, numbers in their ranges, text bounded.
//! A plan that fails is refused with a reason code naming the field, never repaired.

use rust_decimal::Decimal;

use crate::domain::ReasonCode;

use super::plan::{
    Direction, EntryZone, MAX_CONFLUENCE, MAX_PLAN_ID_CHARS, MAX_RATIONALE_CHARS, MAX_TARGETS, MAX_TEXT_CHARS,
    PlanWire, TradePlan,
};

/// Why a plan is refused before sizing: the code for the audit trail, the field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct PlanRefusal {
    pub code: ReasonCode,
    pub field: &'static str,
    pub detail: String,
}

impl PlanRefusal {
    fn new(code: ReasonCode, field: &'static str, detail: impl Into<String>) -> Self {
        Self { code, field, detail: detail.into() }
    }

    fn missing(field: &'static str) -> Self {
        Self::new(ReasonCode::IncompletePlan, field, "is missing (every field of a trade plan is required)")
    }

    fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        Self::new(ReasonCode::InvalidPlan, field, detail)
    }
}

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, PlanRefusal> {
    value.ok_or_else(|| PlanRefusal::missing(field))
}

fn text(value: Option<String>, field: &'static str, max_chars: usize) -> Result<String, PlanRefusal> {
    let value = required(value, field)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(PlanRefusal::new(ReasonCode::IncompletePlan, field, "is empty"));
    }
    let chars = trimmed.chars().count();
    if chars > max_chars {
        return Err(PlanRefusal::invalid(
            field,
            format!("is {chars} characters long; at most {max_chars} are accepted"),
        ));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err(PlanRefusal::invalid(field, "contains control characters"));
    }
    Ok(trimmed.to_owned())
}

fn positive(value: Decimal, field: &'static str) -> Result<Decimal, PlanRefusal> {
    if value <= Decimal::ZERO {
        return Err(PlanRefusal::invalid(field, format!("= {value}: must be greater than 0")));
    }
    Ok(value)
}

/// `BASE/QUOTE`, each 1–20 ASCII letters or digits; upper-cased.
fn symbol(value: Option<String>) -> Result<String, PlanRefusal> {
    let value = text(value, "symbol", 41)?.to_ascii_uppercase();
    let parts: Vec<&str> = value.split('/').collect();
    let part_ok = |p: &str| (1..=20).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric());
    if parts.len() != 2 || !parts.iter().all(|p| part_ok(p)) {
        return Err(PlanRefusal::invalid(
            "symbol",
            format!("= {value:?}: must be BASE/QUOTE, each 1 to 20 letters or digits (BTC/USDT)"),
        ));
    }
    Ok(value)
}

/// Whether `id` is a plan id: 1 to 64 letters, digits or `- _ . :` (what a path, a file name and a
/// venue's client order id all take).
pub fn is_plan_id(id: &str) -> bool {
    (1..=MAX_PLAN_ID_CHARS).contains(&id.len())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

fn plan_id(value: Option<String>) -> Result<String, PlanRefusal> {
    let value = text(value, "plan_id", MAX_PLAN_ID_CHARS)?;
    if !is_plan_id(&value) {
        return Err(PlanRefusal::invalid(
            "plan_id",
            format!("= {value:?}: only letters, digits and - _ . : are accepted"),
        ));
    }
    Ok(value)
}

/// Checks a plan as it arrived and returns it complete, or the first problem found, in field order.
pub fn validate_trade_plan(wire: PlanWire) -> Result<TradePlan, PlanRefusal> {
    let plan_id = plan_id(wire.plan_id)?;
    let symbol = symbol(wire.symbol)?;
    let direction = required(wire.direction, "direction")?;
    let entry = required(wire.entry, "entry")?;
    let entry = EntryZone {
        near: positive(required(entry.near, "entry.near")?, "entry.near")?,
        far: positive(required(entry.far, "entry.far")?, "entry.far")?,
    };
    let stop = positive(required(wire.stop, "stop")?, "stop")?;
    let targets = required(wire.targets, "targets")?;
    if targets.is_empty() {
        return Err(PlanRefusal::new(
            ReasonCode::IncompletePlan,
            "targets",
            "is empty: a plan needs at least one target",
        ));
    }
    if targets.len() > MAX_TARGETS {
        return Err(PlanRefusal::invalid(
            "targets",
            format!("has {}; at most {MAX_TARGETS} are accepted", targets.len()),
        ));
    }
    let score = required(wire.score, "score")?;
    if score < Decimal::ZERO || score > Decimal::ONE_HUNDRED {
        return Err(PlanRefusal::invalid("score", format!("= {score}: must be between 0 and 100")));
    }
    let quality_tier = required(wire.quality_tier, "quality_tier")?;
    let timeframe = text(wire.timeframe, "timeframe", MAX_TEXT_CHARS)?;
    let style = text(wire.style, "style", MAX_TEXT_CHARS)?;
    let rationale = text(wire.rationale, "rationale", MAX_RATIONALE_CHARS)?;
    let confluence = required(wire.confluence, "confluence")?;
    if confluence.is_empty() {
        return Err(PlanRefusal::new(ReasonCode::IncompletePlan, "confluence", "is empty: a plan names its factors"));
    }
    if confluence.len() > MAX_CONFLUENCE {
        return Err(PlanRefusal::invalid(
            "confluence",
            format!("has {} factors; at most {MAX_CONFLUENCE} are accepted", confluence.len()),
        ));
    }
    let mut factors = Vec::with_capacity(confluence.len());
    for mut factor in confluence {
        factor.factor = text(Some(factor.factor), "confluence.factor", MAX_TEXT_CHARS)?;
        factors.push(factor);
    }
    let regime = required(wire.regime, "regime")?;
    if let Some(atr) = wire.atr {
        positive(atr.current, "atr.current")?;
        positive(atr.baseline, "atr.baseline")?;
    }
    let leverage = wire.leverage.unwrap_or(Decimal::ONE);
    if leverage < Decimal::ONE {
        return Err(PlanRefusal::invalid("leverage", format!("= {leverage}: must be at least 1")));
    }
    if let Some(risk) = wire.risk_percent
        && (risk <= Decimal::ZERO || risk > Decimal::ONE_HUNDRED)
    {
        return Err(PlanRefusal::invalid("risk_percent", format!("= {risk}: must be above 0 and at most 100")));
    }
    let chart_url = match wire.chart_url {
        None => None,
        Some(url) => {
            let url = text(Some(url), "chart_url", 500)?;
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
                return Err(PlanRefusal::invalid("chart_url", format!("= {url:?}: must be an http(s) URL")));
            }
            Some(url)
        }
    };
    check_sides(direction, entry, stop, &targets)?;
    Ok(TradePlan {
        plan_id,
        symbol,
        direction,
        entry,
        stop,
        targets,
        score,
        quality_tier,
        timeframe,
        style,
        rationale,
        confluence: factors,
        regime,
        atr: wire.atr,
        leverage,
        risk_percent: wire.risk_percent,
        chart_url,
    })
}

/// A long buys `near` first and `far` lower, stops below both and targets above `near`, each
/// farther than the last; a short mirrors it.
fn check_sides(direction: Direction, entry: EntryZone, stop: Decimal, targets: &[Decimal]) -> Result<(), PlanRefusal> {
    // Distances measured in the plan's favour: positive means "beyond, on the winning side".
    let favour = |from: Decimal, to: Decimal| (to - from) * direction.sign();
    if favour(entry.far, entry.near) < Decimal::ZERO {
        return Err(PlanRefusal::invalid(
            "entry.far",
            format!(
                "= {}: a {direction}'s far (conservative) entry must be at or {} the near one ({})",
                entry.far,
                if direction == Direction::Long { "below" } else { "above" },
                entry.near
            ),
        ));
    }
    if favour(stop, entry.far) <= Decimal::ZERO {
        return Err(PlanRefusal::new(
            ReasonCode::StopWrongSide,
            "stop",
            format!(
                "= {stop}: a {direction}'s stop must be {} the whole entry zone ({} to {})",
                if direction == Direction::Long { "below" } else { "above" },
                entry.near,
                entry.far
            ),
        ));
    }
    let mut previous = entry.near;
    for (i, target) in targets.iter().enumerate() {
        if favour(previous, *target) <= Decimal::ZERO {
            let what = if i == 0 { format!("the entry ({})", entry.near) } else { format!("target {i} ({previous})") };
            return Err(PlanRefusal::new(
                ReasonCode::TargetWrongSide,
                "targets",
                format!(
                    "target {} = {target}: a {direction}'s targets must each be {} {what}",
                    i + 1,
                    if direction == Direction::Long { "above" } else { "below" }
                ),
            ));
        }
        previous = *target;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::plans::plan::EntryWire;
    use crate::plans::sample::wire;

    #[test]
    fn a_complete_long_is_accepted_with_its_reward_to_risk() {
        let plan = validate_trade_plan(wire()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.symbol, "BTC/USDT");
        assert_eq!(plan.asset(), "BTC");
        assert_eq!(plan.leverage, dec!(1));
        // Risk 450 per unit: targets 600, 1300, 2000 away.
        assert_eq!(plan.target_r_multiples(), vec![dec!(1.33), dec!(2.89), dec!(4.44)]);
        assert_eq!(plan.reward_to_risk(), dec!(2.89));
    }

    /// A field's name and how to take it away.
    type Removal = (&'static str, fn(&mut PlanWire));

    #[test]
    fn every_missing_field_is_named() {
        let cases: [Removal; 8] = [
            ("plan_id", |w| w.plan_id = None),
            ("symbol", |w| w.symbol = None),
            ("stop", |w| w.stop = None),
            ("entry.far", |w| w.entry = Some(EntryWire { near: Some(dec!(1)), far: None })),
            ("targets", |w| w.targets = Some(vec![])),
            ("quality_tier", |w| w.quality_tier = None),
            ("rationale", |w| w.rationale = Some("  ".into())),
            ("regime", |w| w.regime = None),
        ];
        for (field, break_it) in cases {
            let mut w = wire();
            break_it(&mut w);
            let refusal = validate_trade_plan(w).expect_err(field);
            assert_eq!((refusal.code, refusal.field), (ReasonCode::IncompletePlan, field), "{refusal}");
        }
    }

    #[test]
    fn a_stop_inside_or_beyond_the_entry_is_on_the_wrong_side() {
        for stop in [dec!(42100), dec!(42030), dec!(45000)] {
            let refusal = validate_trade_plan(PlanWire { stop: Some(stop), ..wire() }).expect_err("stop");
            assert_eq!(refusal.code, ReasonCode::StopWrongSide, "{stop}: {refusal}");
        }
        let short = PlanWire {
            direction: Some(Direction::Short),
            entry: Some(EntryWire { near: Some(dec!(100)), far: Some(dec!(102)) }),
            stop: Some(dec!(101)),
            targets: Some(vec![dec!(95)]),
            ..wire()
        };
        assert_eq!(validate_trade_plan(short.clone()).map_err(|r| r.code), Err(ReasonCode::StopWrongSide));
        let ok = PlanWire { stop: Some(dec!(103)), ..short };
        assert!(validate_trade_plan(ok).is_ok());
    }

    #[test]
    fn targets_must_lie_beyond_the_entry_in_order() {
        for targets in [vec![dec!(42100)], vec![dec!(43000), dec!(42900)], vec![dec!(42200)]] {
            let refusal =
                validate_trade_plan(PlanWire { targets: Some(targets.clone()), ..wire() }).expect_err("targets");
            assert_eq!(refusal.code, ReasonCode::TargetWrongSide, "{targets:?}: {refusal}");
        }
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases: [(&str, PlanWire); 6] = [
            ("symbol", PlanWire { symbol: Some("BTCUSDT".into()), ..wire() }),
            ("plan_id", PlanWire { plan_id: Some("a b".into()), ..wire() }),
            ("score", PlanWire { score: Some(dec!(101)), ..wire() }),
            ("leverage", PlanWire { leverage: Some(dec!(0.5)), ..wire() }),
            (
                "entry.far",
                PlanWire { entry: Some(EntryWire { near: Some(dec!(42000)), far: Some(dec!(42100)) }), ..wire() },
            ),
            ("chart_url", PlanWire { chart_url: Some("javascript:alert(1)".into()), ..wire() }),
        ];
        for (field, w) in cases {
            let refusal = validate_trade_plan(w).expect_err(field);
            assert_eq!((refusal.code, refusal.field), (ReasonCode::InvalidPlan, field), "{refusal}");
        }
    }

    #[test]
    fn oversized_or_unknown_input_is_not_a_plan() {
        let big = vec![b' '; 2_000];
        assert!(matches!(PlanWire::from_json(&big, 1_000), Err(crate::plans::PlanParseError::TooLarge { .. })));
        let unknown = br#"{"plan_id": "x", "colour": "red"}"#;
        let error = PlanWire::from_json(unknown, 1_000).expect_err("unknown field").to_string();
        assert!(error.contains("colour"), "{error}");
        let wrong_type = br#"{"stop": [1]}"#;
        assert!(PlanWire::from_json(wrong_type, 1_000).is_err());
    }
}
