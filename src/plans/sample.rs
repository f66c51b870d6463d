//! The seed's example plan (a BTC/USDT long scalp), for unit tests anywhere in the crate.

use rust_decimal_macros::dec;

use super::plan::{ConfluenceFactor, Direction, EntryWire, PlanRegime, PlanWire, QualityTier, TradePlan};
use super::validate::validate_trade_plan;

/// The example as it would arrive.
pub(crate) fn wire() -> PlanWire {
    PlanWire {
        plan_id: Some("p-1".into()),
        symbol: Some("btc/usdt".into()),
        direction: Some(Direction::Long),
        entry: Some(EntryWire { near: Some(dec!(42200)), far: Some(dec!(42030)) }),
        stop: Some(dec!(41750)),
        targets: Some(vec![dec!(42800), dec!(43500), dec!(44200)]),
        score: Some(dec!(92.3)),
        quality_tier: Some(QualityTier::A),
        timeframe: Some("4h".into()),
        style: Some("Scalp".into()),
        rationale: Some(
            "Price swept liquidity below $41,800, forming fresh 4H bullish OB. HTF structure supports \
             continuation after pullback into discount zone."
                .into(),
        ),
        confluence: Some(vec![
            ConfluenceFactor { factor: "Bullish OB (4H) @ $42,100".into(), passed: true },
            ConfluenceFactor { factor: "Unfilled FVG @ $42,050-$42,200".into(), passed: true },
            ConfluenceFactor { factor: "HTF Trend Aligned (1D Bullish BoS)".into(), passed: true },
            ConfluenceFactor { factor: "Volume Spike Confirmed".into(), passed: false },
        ]),
        regime: Some(PlanRegime::Trend),
        atr: None,
        leverage: None,
        risk_percent: None,
        chart_url: Some("https://charts.example/btc".into()),
    }
}

/// The example, validated.
pub(crate) fn plan() -> TradePlan {
    validate_trade_plan(wire()).unwrap_or_else(|e| panic!("{e}"))
}
