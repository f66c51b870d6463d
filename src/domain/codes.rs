//! Stable names: sides, trading states, rejection / transition reasons and exit reasons.

use serde::{Deserialize, Serialize};

/// Buy or sell an outcome token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// Every side, for exhaustive tables and tests.
    pub const ALL: &'static [Side] = &[Side::Buy, Side::Sell];

    /// Reads `buy` / `sell` in any case: the stored names and the venues' `BUY` / `SELL`.
    pub fn parse(text: &str) -> Option<Side> {
        if text.eq_ignore_ascii_case("buy") {
            Some(Side::Buy)
        } else if text.eq_ignore_ascii_case("sell") {
            Some(Side::Sell)
        } else {
            None
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }

    /// The side that closes a position opened on `self`.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// What was decided about a whale trade: copied (an entry or a whale exit went out), refused by a
/// rule (the reason code says which), or nothing to do (the whale sold a token we do not hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhaleVerdict {
    Approved,
    Rejected,
    Skipped,
}

impl WhaleVerdict {
    pub const ALL: &'static [WhaleVerdict] = &[WhaleVerdict::Approved, WhaleVerdict::Rejected, WhaleVerdict::Skipped];

    pub const fn as_str(self) -> &'static str {
        match self {
            WhaleVerdict::Approved => "approved",
            WhaleVerdict::Rejected => "rejected",
            WhaleVerdict::Skipped => "skipped",
        }
    }

    /// Reads a stored name back.
    pub fn parse(text: &str) -> Option<WhaleVerdict> {
        WhaleVerdict::ALL.iter().copied().find(|v| v.as_str() == text)
    }
}

/// How much the daemon may trade. Ordered by severity, so that an
/// automatic transition can only escalate: `Active < Reducing < Halted < Killed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradingState {
    /// Trades normally.
    #[default]
    Active,
    /// No new entries; exits still run.
    Reducing,
    /// No new entries; only orders that reduce exposure pass.
    Halted,
    /// Emergency: every position is being flattened; only those flattening exits pass.
    Killed,
}

impl TradingState {
    pub const fn as_str(self) -> &'static str {
        match self {
            TradingState::Active => "active",
            TradingState::Reducing => "reducing",
            TradingState::Halted => "halted",
            TradingState::Killed => "killed",
        }
    }
}

/// Why an order was rejected or why the trading state changed. The names are stable: they appear in
/// the audit trail, metrics and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    // Rejections.
    MaxTotalPositions,
    MaxPositionsPerWhale,
    MaxPositionsPerMarket,
    MaxPositionSize,
    MaxTotalExposure,
    DailyWhaleAllocation,
    PerAssetExposure,
    CircuitBreakerOpen,
    TradingHalted,
    DuplicateOrder,
    DoubleFire,
    OpposingPosition,
    MaxLeverage,
    InvalidOrder,
    PriceMoved,
    StalePrice,
    BelowMinimumSize,
    UnknownPosition,
    /// The whale's breaker muted it (losing streak or daily loss): its new trades are not copied.
    WhaleMuted,
    /// The whale's rolling P&L over the lookback is below the floor.
    WhaleLowProfit,
    /// The book's bid-ask spread is wider than the copy rules allow.
    SpreadTooWide,
    /// The book does not hold our size within the allowed drift from the whale's price.
    InsufficientDepth,
    /// The market ends soon, or its price is already near 0 or 1.
    NearResolution,
    /// Copying this whale has cost more in slippage than its trades gain on average.
    NegativeCopyEdge,
    /// A trade plan lacks a field every plan must have.
    IncompletePlan,
    /// A trade plan's value is out of range or inconsistent (entry zone order, symbol form, …).
    InvalidPlan,
    /// A plan's stop is not on the losing side of its whole entry zone.
    StopWrongSide,
    /// A plan's targets are not beyond its entry, each farther than the last.
    TargetWrongSide,
    /// A plan with this id was already decided.
    DuplicatePlan,
    /// A plan asks to risk more than `signals.max_risk_percent`.
    MaxRiskPerTrade,
    /// Trade plans are not taken (`signals.enabled = false`).
    SignalsDisabled,
    // State transitions.
    CircuitBreakerTripped,
    DailyLossLimit,
    MaxDrawdown,
    EmergencyDrawdown,
    ConsecutiveLosses,
    ManualHalt,
    ManualResume,
    KillSwitch,
    StaleFeed,
    HealthDegraded,
    CooldownElapsed,
    NewTradingDay,
    /// The venue's positions and the engine's disagree: held in `Reducing` until a human resolves it.
    PositionMismatch,
}

impl ReasonCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ReasonCode::MaxTotalPositions => "max_total_positions",
            ReasonCode::MaxPositionsPerWhale => "max_positions_per_whale",
            ReasonCode::MaxPositionsPerMarket => "max_positions_per_market",
            ReasonCode::MaxPositionSize => "max_position_size",
            ReasonCode::MaxTotalExposure => "max_total_exposure",
            ReasonCode::DailyWhaleAllocation => "daily_whale_allocation",
            ReasonCode::PerAssetExposure => "per_asset_exposure",
            ReasonCode::CircuitBreakerOpen => "circuit_breaker_open",
            ReasonCode::TradingHalted => "trading_halted",
            ReasonCode::DuplicateOrder => "duplicate_order",
            ReasonCode::DoubleFire => "double_fire",
            ReasonCode::OpposingPosition => "opposing_position",
            ReasonCode::MaxLeverage => "max_leverage",
            ReasonCode::InvalidOrder => "invalid_order",
            ReasonCode::PriceMoved => "price_moved",
            ReasonCode::StalePrice => "stale_price",
            ReasonCode::BelowMinimumSize => "below_minimum_size",
            ReasonCode::UnknownPosition => "unknown_position",
            ReasonCode::WhaleMuted => "whale_muted",
            ReasonCode::WhaleLowProfit => "whale_low_profit",
            ReasonCode::SpreadTooWide => "spread_too_wide",
            ReasonCode::InsufficientDepth => "insufficient_depth",
            ReasonCode::NearResolution => "near_resolution",
            ReasonCode::NegativeCopyEdge => "negative_copy_edge",
            ReasonCode::IncompletePlan => "incomplete_plan",
            ReasonCode::InvalidPlan => "invalid_plan",
            ReasonCode::StopWrongSide => "stop_wrong_side",
            ReasonCode::TargetWrongSide => "target_wrong_side",
            ReasonCode::DuplicatePlan => "duplicate_plan",
            ReasonCode::MaxRiskPerTrade => "max_risk_per_trade",
            ReasonCode::SignalsDisabled => "signals_disabled",
            ReasonCode::CircuitBreakerTripped => "circuit_breaker_tripped",
            ReasonCode::DailyLossLimit => "daily_loss_limit",
            ReasonCode::MaxDrawdown => "max_drawdown",
            ReasonCode::EmergencyDrawdown => "emergency_drawdown",
            ReasonCode::ConsecutiveLosses => "consecutive_losses",
            ReasonCode::ManualHalt => "manual_halt",
            ReasonCode::ManualResume => "manual_resume",
            ReasonCode::KillSwitch => "kill_switch",
            ReasonCode::StaleFeed => "stale_feed",
            ReasonCode::HealthDegraded => "health_degraded",
            ReasonCode::CooldownElapsed => "cooldown_elapsed",
            ReasonCode::NewTradingDay => "new_trading_day",
            ReasonCode::PositionMismatch => "position_mismatch",
        }
    }

    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ReasonCode; 44] = [
        ReasonCode::MaxTotalPositions,
        ReasonCode::MaxPositionsPerWhale,
        ReasonCode::MaxPositionsPerMarket,
        ReasonCode::MaxPositionSize,
        ReasonCode::MaxTotalExposure,
        ReasonCode::DailyWhaleAllocation,
        ReasonCode::PerAssetExposure,
        ReasonCode::CircuitBreakerOpen,
        ReasonCode::TradingHalted,
        ReasonCode::DuplicateOrder,
        ReasonCode::DoubleFire,
        ReasonCode::OpposingPosition,
        ReasonCode::MaxLeverage,
        ReasonCode::InvalidOrder,
        ReasonCode::PriceMoved,
        ReasonCode::StalePrice,
        ReasonCode::BelowMinimumSize,
        ReasonCode::UnknownPosition,
        ReasonCode::WhaleMuted,
        ReasonCode::WhaleLowProfit,
        ReasonCode::SpreadTooWide,
        ReasonCode::InsufficientDepth,
        ReasonCode::NearResolution,
        ReasonCode::NegativeCopyEdge,
        ReasonCode::IncompletePlan,
        ReasonCode::InvalidPlan,
        ReasonCode::StopWrongSide,
        ReasonCode::TargetWrongSide,
        ReasonCode::DuplicatePlan,
        ReasonCode::MaxRiskPerTrade,
        ReasonCode::SignalsDisabled,
        ReasonCode::CircuitBreakerTripped,
        ReasonCode::DailyLossLimit,
        ReasonCode::MaxDrawdown,
        ReasonCode::EmergencyDrawdown,
        ReasonCode::ConsecutiveLosses,
        ReasonCode::ManualHalt,
        ReasonCode::ManualResume,
        ReasonCode::KillSwitch,
        ReasonCode::StaleFeed,
        ReasonCode::HealthDegraded,
        ReasonCode::CooldownElapsed,
        ReasonCode::NewTradingDay,
        ReasonCode::PositionMismatch,
    ];
}

/// Why a position is being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    StopLoss,
    TakeProfit,
    TrailingStop,
    WhaleExit,
    MarketResolved,
    Manual,
    Kill,
    /// A human dropped a trade the venue no longer holds (`whale-trader drop`).
    Reconciled,
}

impl ExitReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            ExitReason::StopLoss => "stop_loss",
            ExitReason::TakeProfit => "take_profit",
            ExitReason::TrailingStop => "trailing_stop",
            ExitReason::WhaleExit => "whale_exit",
            ExitReason::MarketResolved => "market_resolved",
            ExitReason::Manual => "manual",
            ExitReason::Kill => "kill",
            ExitReason::Reconciled => "reconciled",
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(Side, WhaleVerdict, TradingState, ReasonCode, ExitReason);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_match_as_str() {
        for code in ReasonCode::ALL {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        for state in [TradingState::Active, TradingState::Reducing, TradingState::Halted, TradingState::Killed] {
            assert_eq!(serde_json::to_string(&state).unwrap_or_default(), format!("\"{state}\""));
        }
        for exit in [
            ExitReason::StopLoss,
            ExitReason::TakeProfit,
            ExitReason::TrailingStop,
            ExitReason::WhaleExit,
            ExitReason::MarketResolved,
            ExitReason::Manual,
            ExitReason::Kill,
            ExitReason::Reconciled,
        ] {
            assert_eq!(serde_json::to_string(&exit).unwrap_or_default(), format!("\"{exit}\""));
        }
        assert_eq!(serde_json::to_string(&Side::Buy).unwrap_or_default(), "\"buy\"");
    }

    #[test]
    fn states_are_ordered_by_severity() {
        assert!(TradingState::Active < TradingState::Reducing);
        assert!(TradingState::Reducing < TradingState::Halted);
        assert!(TradingState::Halted < TradingState::Killed);
        assert_eq!(Side::Buy.opposite(), Side::Sell);
    }

    #[test]
    fn sides_read_their_stored_and_venue_names_in_any_case() {
        for side in Side::ALL {
            assert_eq!(Side::parse(side.as_str()), Some(*side));
        }
        assert_eq!(Side::parse("BUY"), Some(Side::Buy));
        assert_eq!(Side::parse("Sell"), Some(Side::Sell));
        assert_eq!(Side::parse(""), None);
        assert_eq!(Side::parse("hold"), None);
    }

    #[test]
    fn verdicts_read_back_their_stored_names() {
        for verdict in WhaleVerdict::ALL {
            assert_eq!(WhaleVerdict::parse(verdict.as_str()), Some(*verdict));
            assert_eq!(serde_json::to_string(verdict).unwrap_or_default(), format!("\"{verdict}\""));
        }
        assert_eq!(WhaleVerdict::parse("Approved"), None);
    }
}
