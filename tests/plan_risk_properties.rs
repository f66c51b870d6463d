//! Property tests over random sequences of trade plans (several assets and quotes, both
//! directions, any risk up to the maximum, re-sent ids), closes at random prices and the passing
//! of time: the open risk per asset and in total never exceeds its limit, the book's sums are the
//! sums of its open plans, a re-sent plan id is never approved, export → restore keeps the book,
//! and closing every plan returns it to zero.

use std::collections::HashMap;

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use whale_trader::clock::Timestamp;
use whale_trader::config::Mode;
use whale_trader::plans::{
    ConfluenceFactor, Direction, EntryWire, PlanRegime, PlanWire, QualityTier, SignalsConfig, TradePlan,
    validate_trade_plan,
};
use whale_trader::risk::{PlanCheck, ReasonCode, RiskConfig, RiskManager};

const T0: Timestamp = Timestamp::from_secs(1_700_006_400);
const ASSETS: [&str; 3] = ["BTC", "ETH", "SOL"];
const QUOTES: [&str; 2] = ["USDT", "USD"];

/// Tight limits, so that random sequences run into every one of them.
fn signals() -> SignalsConfig {
    SignalsConfig {
        max_per_asset_exposure_percent: dec!(3),
        max_total_exposure_percent: dec!(6),
        max_position_usd: dec!(100_000),
        duplicate_memory: 16,
        ..SignalsConfig::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Plan { asset: usize, quote: usize, short: bool, risk_tenths: i64, stop_distance: i64 },
    Resend(usize),
    Close { index: usize, move_percent: i64 },
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..ASSETS.len(), 0..QUOTES.len(), any::<bool>(), 1i64..=25, 1i64..=40).prop_map(
            |(asset, quote, short, risk_tenths, stop_distance)| Op::Plan { asset, quote, short, risk_tenths, stop_distance }
        ),
        1 => any::<usize>().prop_map(Op::Resend),
        3 => (any::<usize>(), -30i64..30).prop_map(|(index, move_percent)| Op::Close { index, move_percent }),
        2 => (0i64..20).prop_map(Op::Advance),
    ]
}

/// A complete plan entering at 200 with its stop `stop_distance` away, asking `risk_tenths` / 10 %.
fn plan(id: usize, asset: usize, quote: usize, short: bool, risk_tenths: i64, stop_distance: i64) -> TradePlan {
    let near = dec!(200);
    let d = Decimal::from(stop_distance);
    let (direction, far, stop, target) = if short {
        (Direction::Short, near + dec!(1), near + d + dec!(1), near - d)
    } else {
        (Direction::Long, near - dec!(1), near - d - dec!(1), near + d)
    };
    let wire = PlanWire {
        plan_id: Some(format!("plan-{id}")),
        symbol: Some(format!("{}/{}", ASSETS[asset], QUOTES[quote])),
        direction: Some(direction),
        entry: Some(EntryWire { near: Some(near), far: Some(far) }),
        stop: Some(stop),
        targets: Some(vec![target]),
        score: Some(dec!(80)),
        quality_tier: Some(QualityTier::B),
        timeframe: Some("1h".into()),
        style: Some("swing".into()),
        rationale: Some("random".into()),
        confluence: Some(vec![ConfluenceFactor { factor: "random".into(), passed: true }]),
        regime: Some(PlanRegime::Range),
        atr: None,
        leverage: None,
        risk_percent: Some(Decimal::new(risk_tenths, 1)),
        chart_url: None,
    };
    validate_trade_plan(wire).unwrap_or_else(|e| panic!("{e}"))
}

/// The book's sums agree with its open plans and stay within their limits.
fn assert_within_limits(rm: &RiskManager, config: &SignalsConfig, equity: Decimal) {
    let asset_limit = equity * config.max_per_asset_exposure_percent / Decimal::ONE_HUNDRED;
    let total_limit = equity * config.max_total_exposure_percent / Decimal::ONE_HUNDRED;
    let mut per_asset: HashMap<&str, Decimal> = HashMap::new();
    for open in rm.open_plans() {
        assert!(open.risk_usd > Decimal::ZERO, "{open:?}");
        *per_asset.entry(open.asset.as_str()).or_default() += open.risk_usd;
    }
    let total: Decimal = per_asset.values().copied().sum();
    assert_eq!(rm.plan_risk_total(), total);
    assert!(total <= total_limit, "total {total} > {total_limit}");
    for asset in ASSETS {
        let risk = rm.plan_book().asset_risk(asset);
        assert_eq!(risk, per_asset.get(asset).copied().unwrap_or_default(), "{asset}");
        assert!(risk <= asset_limit, "{asset}: {risk} > {asset_limit}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn open_risk_never_exceeds_its_limits_and_closing_everything_empties_the_book(
        ops in prop::collection::vec(op(), 1..60)
    ) {
        let config = signals();
        let mut rm = RiskManager::new(RiskConfig::default(), T0).unwrap_or_else(|e| panic!("{e}"));
        let equity = rm.equity();
        let mut now = T0;
        let mut sent: Vec<TradePlan> = Vec::new();
        for op in ops {
            match op {
                Op::Plan { asset, quote, short, risk_tenths, stop_distance } => {
                    let plan = plan(sent.len(), asset, quote, short, risk_tenths, stop_distance);
                    if let PlanCheck::Approved(approved) = rm.check_plan(&plan, &config, Mode::DryRun, now) {
                        prop_assert_eq!(approved.order().units, approved.size().units);
                        prop_assert!(approved.size().risk_usd > Decimal::ZERO);
                    }
                    sent.push(plan);
                }
                Op::Resend(i) if !sent.is_empty() => {
                    let plan = sent[i % sent.len()].clone();
                    let remembered = rm.plan_book().seen(&plan.plan_id);
                    let open = rm.plan_book().open_plan(&plan.plan_id).is_some();
                    let check = rm.check_plan(&plan, &config, Mode::DryRun, now);
                    if remembered {
                        prop_assert_eq!(check.reason(), Some(ReasonCode::DuplicatePlan));
                    }
                    prop_assert!(!(open && check.is_approved()), "{} approved while open", plan.plan_id);
                    prop_assert_eq!(rm.open_plans().iter().filter(|p| p.plan_id == plan.plan_id).count() <= 1, true);
                }
                Op::Resend(_) => {}
                Op::Close { index, move_percent } => {
                    let open: Vec<String> = rm.open_plans().iter().map(|p| p.plan_id.clone()).collect();
                    if !open.is_empty() {
                        let id = &open[index % open.len()];
                        let exit = dec!(200) * (Decimal::ONE_HUNDRED + Decimal::from(move_percent)) / Decimal::ONE_HUNDRED;
                        let close = rm.close_plan(id, exit, now).unwrap_or_else(|e| panic!("{e}"));
                        prop_assert_eq!(close.pnl_usd, (exit - close.entry) * close.units * close.direction.sign());
                    }
                }
                Op::Advance(minutes) => now = now.plus_secs(minutes * 60),
            }
            assert_within_limits(&rm, &config, equity);
            prop_assert_eq!(rm.equity(), equity, "dry-run plans never move equity");
        }
        let saved = rm.export();
        let back = RiskManager::restore(RiskConfig::default(), saved.clone()).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(back.export(), saved);
        let open: Vec<String> = rm.open_plans().iter().map(|p| p.plan_id.clone()).collect();
        for id in open {
            rm.close_plan(&id, dec!(200), now).unwrap_or_else(|e| panic!("{e}"));
        }
        prop_assert_eq!(rm.plan_risk_total(), Decimal::ZERO);
        prop_assert!(rm.plan_risk_per_asset().is_empty() && rm.open_plans().is_empty());
    }
}
