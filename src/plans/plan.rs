//! A trade plan as it arrives (the wire form, every field optional so that a missing one can be
//! named and audited) and as the rest of the path uses it ([`TradePlan`], complete and consistent).
//!
//! The wire form is JSON, bounded in size before it is parsed:
//!
//! ```json
//! {"plan_id": "scan-20250119-142345-btc", "symbol": "BTC/USDT", "direction": "long",
//!  "entry": {"near": "42200", "far": "42030"}, "stop": "41750",
//!  "targets": ["42800", "43500", "44200"], "score": "92.3", "quality_tier": "A",
//!  "timeframe": "4h", "style": "scalp", "rationale": "Price swept liquidity below …",
//!  "confluence": [{"factor": "Bullish OB (4H) @ $42,100"}, {"factor": "Volume spike", "passed": false}],
//!  "regime": "trend", "atr": {"current": "310", "baseline": "250"},
//!  "leverage": "1", "risk_percent": "1", "chart_url": "https://…"}
//! ```

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::Side;

/// The largest plan accepted, in bytes, before anything is parsed.
pub const MAX_PLAN_BYTES: usize = 64 * 1024;
/// At most this many targets, confluence factors and characters of rationale.
pub const MAX_TARGETS: usize = 5;
pub const MAX_CONFLUENCE: usize = 20;
pub const MAX_RATIONALE_CHARS: usize = 2_000;
pub const MAX_TEXT_CHARS: usize = 200;
pub const MAX_PLAN_ID_CHARS: usize = 64;

/// Which way a plan trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Long,
    Short,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Long => "long",
            Direction::Short => "short",
        }
    }

    /// The side of the order that opens a position in this direction.
    pub fn side(self) -> Side {
        match self {
            Direction::Long => Side::Buy,
            Direction::Short => Side::Sell,
        }
    }

    pub fn opposite(self) -> Self {
        match self {
            Direction::Long => Direction::Short,
            Direction::Short => Direction::Long,
        }
    }

    /// +1 for a long (a price rise is a gain), −1 for a short.
    pub fn sign(self) -> Decimal {
        match self {
            Direction::Long => Decimal::ONE,
            Direction::Short => Decimal::NEGATIVE_ONE,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The planner's grade of a setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QualityTier {
    A,
    B,
    C,
}

impl QualityTier {
    pub const ALL: [QualityTier; 3] = [QualityTier::A, QualityTier::B, QualityTier::C];

    pub fn as_str(self) -> &'static str {
        match self {
            QualityTier::A => "A",
            QualityTier::B => "B",
            QualityTier::C => "C",
        }
    }
}

/// The market regime the planner saw (the same words the copy path's regime tracker uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanRegime {
    Trend,
    Range,
    Volatile,
}

impl PlanRegime {
    pub const ALL: [PlanRegime; 3] = [PlanRegime::Trend, PlanRegime::Range, PlanRegime::Volatile];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanRegime::Trend => "trend",
            PlanRegime::Range => "range",
            PlanRegime::Volatile => "volatile",
        }
    }
}

/// Where the entry may be taken: `near` (aggressive, closest to the price now) to `far`
/// (conservative, deeper into the pullback). Sizing uses `near`, as the planner's first fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryZone {
    pub near: Decimal,
    pub far: Decimal,
}

/// The volatility the planner measured: a `current` ATR above its `baseline` makes the position
/// smaller by their ratio (a calmer market never makes it bigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Atr {
    pub current: Decimal,
    pub baseline: Decimal,
}

/// One confluence factor: what the planner saw, and whether it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfluenceFactor {
    pub factor: String,
    #[serde(default = "passed_by_default")]
    pub passed: bool,
}

fn passed_by_default() -> bool {
    true
}

/// A plan as it arrives: every field optional, so that validation can name what is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanWire {
    pub plan_id: Option<String>,
    pub symbol: Option<String>,
    pub direction: Option<Direction>,
    pub entry: Option<EntryWire>,
    pub stop: Option<Decimal>,
    pub targets: Option<Vec<Decimal>>,
    pub score: Option<Decimal>,
    pub quality_tier: Option<QualityTier>,
    pub timeframe: Option<String>,
    pub style: Option<String>,
    pub rationale: Option<String>,
    pub confluence: Option<Vec<ConfluenceFactor>>,
    pub regime: Option<PlanRegime>,
    pub atr: Option<Atr>,
    pub leverage: Option<Decimal>,
    pub risk_percent: Option<Decimal>,
    pub chart_url: Option<String>,
}

/// The entry zone as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryWire {
    pub near: Option<Decimal>,
    pub far: Option<Decimal>,
}

/// Why bytes are not a plan at all (as opposed to a plan that is refused, which is audited).
#[derive(Debug, thiserror::Error)]
pub enum PlanParseError {
    #[error("the plan is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("the plan is not valid JSON for a trade plan: {0}")]
    Json(#[from] serde_json::Error),
}

impl PlanWire {
    /// Parses one plan, refusing more than `max_bytes` before looking at it.
    pub fn from_json(bytes: &[u8], max_bytes: usize) -> Result<Self, PlanParseError> {
        if bytes.len() > max_bytes {
            return Err(PlanParseError::TooLarge { size: bytes.len(), max: max_bytes });
        }
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// A complete, consistent plan: what sizing, the risk check and the formatters take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradePlan {
    pub plan_id: String,
    /// `BASE/QUOTE`, upper case (`BTC/USDT`).
    pub symbol: String,
    pub direction: Direction,
    pub entry: EntryZone,
    pub stop: Decimal,
    /// Ordered from the nearest to the farthest; each beyond the entry.
    pub targets: Vec<Decimal>,
    /// 0 to 100.
    pub score: Decimal,
    pub quality_tier: QualityTier,
    pub timeframe: String,
    pub style: String,
    pub rationale: String,
    pub confluence: Vec<ConfluenceFactor>,
    pub regime: PlanRegime,
    pub atr: Option<Atr>,
    /// The leverage asked for (1 when the plan does not say).
    pub leverage: Decimal,
    /// The risk asked for, in percent of equity; `None` takes `signals.risk_percent`.
    pub risk_percent: Option<Decimal>,
    pub chart_url: Option<String>,
}

impl TradePlan {
    /// The asset whose exposure this plan adds to: the symbol's base (`BTC` of `BTC/USDT`).
    pub fn asset(&self) -> &str {
        self.symbol.split('/').next().unwrap_or(&self.symbol)
    }

    /// The loss per unit if the stop is hit from the sizing entry (`near`).
    pub fn risk_per_unit(&self) -> Decimal {
        (self.entry.near - self.stop).abs()
    }

    /// Each target's reward in multiples of the risk (R), from the sizing entry.
    pub fn target_r_multiples(&self) -> Vec<Decimal> {
        // Validation makes the risk positive; a plan read back from elsewhere may not be.
        let risk = self.risk_per_unit();
        let r = |t: &Decimal| (*t - self.entry.near).abs().checked_div(risk).unwrap_or_default().round_dp(2);
        self.targets.iter().map(r).collect()
    }

    /// The plan's reward-to-risk: the mean of its targets' R multiples, which is what equal
    /// partial exits at every target earn.
    pub fn reward_to_risk(&self) -> Decimal {
        let multiples = self.target_r_multiples();
        let count = Decimal::from(multiples.len().max(1));
        (multiples.iter().copied().sum::<Decimal>() / count).round_dp(2)
    }
}
