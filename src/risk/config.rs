//! Configuration of the risk manager: `[risk]` and its sub-sections, with their defaults.
//!
//! Percentages are Decimal percent (`15` = 15 %). Money is USD. Every rule is checked by
//! [`RiskConfig::validate`], which names the key, the value and the rule of every problem.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::config::{Issues, join};

/// Every key of `[risk]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Account equity before any trade (`DEFAULT_ACCOUNT_BALANCE`). Equity = this + realised + unrealised.
    pub starting_balance_usd: Decimal,
    /// Minutes after UTC midnight at which a trading day starts (0 = UTC midnight).
    pub day_start_utc_minutes: u32,
    pub circuit_breaker: CircuitBreakerConfig,
    pub daily_loss: DailyLossConfig,
    pub stops: StopsConfig,
    pub exits: ExitsConfig,
    pub drawdown: DrawdownConfig,
    pub limits: LimitsConfig,
    pub sizing: SizingConfig,
    pub compliance: ComplianceConfig,
    pub safeguards: SafeguardsConfig,
    pub whales: WhalesConfig,
}

/// `[risk.circuit_breaker]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    pub enabled: bool,
    /// Trip when today's P&L falls below minus this many USD.
    pub loss_threshold_usd: Decimal,
    /// … or below minus this percent of start-of-day equity (the stricter of the two applies).
    pub loss_threshold_percent: Decimal,
    /// How long a trip keeps trading in `reducing` before the breaker re-arms by itself.
    pub cooldown_minutes: u32,
    /// A warning event fires when the loss reaches this percent of the threshold.
    pub warning_percent: Decimal,
}

/// `[risk.daily_loss]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DailyLossConfig {
    /// Halt until the next trading day when today's P&L falls below minus this many USD.
    pub max_daily_loss_usd: Decimal,
    /// … or below minus this percent of start-of-day equity.
    pub max_daily_loss_percent: Decimal,
}

/// `[risk.stops]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StopsConfig {
    /// Exit when the price moves this percent against the entry.
    pub stop_loss_percent: Decimal,
    /// Exit when the price moves this percent in favour of the entry.
    pub take_profit_percent: Decimal,
    /// Exit when the price gives back this percent from its best level since entry (0 = off).
    pub trailing_stop_percent: Decimal,
    /// The trailing stop arms once the best price is more than this percent in profit.
    pub trailing_activation_percent: Decimal,
}

/// `[risk.exits]`: how far an exit may go below the market, and what happens when it does not fill.
/// An exit is a marketable sell limited at a worst acceptable price; what the book does not take by
/// then is sent again after `retry_after_secs`, the bound widened by `widen_step_percent` after every
/// `widen_after_attempts` tries, until the position is flat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExitsConfig {
    /// The worst price an exit accepts, in percent below the mark (the best bid when it is sent).
    pub max_slippage_percent: Decimal,
    /// … and at least this many ticks below it, so that a cheap market still has room to fill.
    pub min_slippage_ticks: u32,
    /// An exit that left shares unsold is sent again after this many seconds.
    pub retry_after_secs: u32,
    /// After this many tries at one bound, the bound is widened (and an alert says so).
    pub widen_after_attempts: u32,
    /// Percentage points added to the bound at each widening, up to 100 (any price above zero).
    pub widen_step_percent: Decimal,
}

/// `[risk.drawdown]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrawdownConfig {
    /// Drawdown from peak equity, in percent, that halts trading.
    pub max_drawdown_percent: Decimal,
    /// Drawdown that kills: every position is flattened.
    pub emergency_drawdown_percent: Decimal,
    /// Losing trades in a row that halt trading (0 = off).
    pub max_consecutive_losses: u32,
}

/// `[risk.whales]`: each copied whale's breaker and low-profit lock (see `risk::whales`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhalesConfig {
    /// Losing copies in a row that mute the whale (0 = off).
    pub mute_after_losses: u32,
    /// Loss today, in percent of the whale's daily allocation, that mutes it (0 = off).
    pub mute_after_loss_percent: Decimal,
    /// How long a mute lasts, in hours.
    pub mute_hours: u32,
    /// The low-profit lock's window, in days.
    pub low_profit_lookback_days: u32,
    /// Closed copies within the window before the lock may engage (0 = off).
    pub low_profit_min_trades: u32,
    /// The rolling P&L (USD) below which the whale is locked.
    pub low_profit_min_usd: Decimal,
    /// Skip a whale whose average copy slippage (USD per copy) exceeds its own average result per
    /// copy: the edge its trades have is lost to our latency and costs.
    pub skip_negative_copy_edge: bool,
    /// Closed copies with a known whale price before the copy-edge guard may judge.
    pub copy_edge_min_copies: u32,
}

/// `[risk.limits]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_total_positions: u32,
    pub max_positions_per_whale: u32,
    pub max_positions_per_market: u32,
    /// Largest notional (USD) of one position.
    pub max_position_size_usd: Decimal,
    /// Largest total open notional (USD).
    pub max_total_exposure_usd: Decimal,
    /// Largest total open notional as a percent of equity (`MAX_TOTAL_EXPOSURE`); the stricter cap wins.
    pub max_total_exposure_percent: Decimal,
    /// Largest notional in one market as a percent of equity (`MAX_PER_ASSET_EXPOSURE`).
    pub max_per_asset_exposure_percent: Decimal,
    /// USD each whale may allocate per trading day (a whale's own setting overrides it).
    pub daily_whale_allocation_usd: Decimal,
}

/// `[risk.sizing]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SizingConfig {
    /// Percent of equity put at risk (entry to stop) by a risk-based size (`MAX_RISK_PER_TRADE`).
    pub risk_per_trade_percent: Decimal,
    /// Smallest position worth opening (USD); a smaller computed size is rejected, never upsized.
    pub min_position_usd: Decimal,
    /// Scale sizes by baseline ATR ÷ current ATR when a volatility reading is given (never upwards).
    pub volatility_adjustment: bool,
    /// An entry larger than the remaining capacity is resized down to fit (true) or rejected (false).
    pub resize_to_fit: bool,
}

/// What to do when an entry opposes a position already held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpposingPolicy {
    /// Reject the entry with `opposing_position`.
    #[default]
    Reject,
    /// Let it through (hedging allowed).
    Allow,
}

impl OpposingPolicy {
    pub const fn as_str(self) -> &'static str {
        match self {
            OpposingPolicy::Reject => "reject",
            OpposingPolicy::Allow => "allow",
        }
    }
}

/// `[risk.compliance]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceConfig {
    /// Highest leverage an order may carry (Polymarket has none, so 1).
    pub max_leverage: Decimal,
    /// Holding one outcome of a market and buying another (or long and short one token).
    pub opposing_positions: OpposingPolicy,
}

/// `[risk.safeguards]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafeguardsConfig {
    /// The same market and side again within this many minutes is a double fire (0 = off).
    pub double_fire_window_minutes: u32,
    /// How many recent client order ids and source trade ids are remembered for duplicate detection.
    pub duplicate_memory: u32,
    /// Price grid of the venue (Polymarket: 0.01; some markets 0.001).
    pub tick_size: Decimal,
    /// Share-quantity grid; resized orders are rounded down to it.
    pub size_step: Decimal,
    /// Smallest order size in shares.
    pub min_order_size: Decimal,
    /// Smallest order notional in USD.
    pub min_order_notional_usd: Decimal,
    /// Reject an entry whose price is more than this percent away from its reference (the whale's price).
    pub max_price_drift_percent: Decimal,
    /// Reject an entry when the last price seen for its token is older than this (0 = off).
    pub max_price_age_secs: u32,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            starting_balance_usd: dec!(10000),
            day_start_utc_minutes: 0,
            circuit_breaker: CircuitBreakerConfig::default(),
            daily_loss: DailyLossConfig::default(),
            stops: StopsConfig::default(),
            exits: ExitsConfig::default(),
            drawdown: DrawdownConfig::default(),
            whales: WhalesConfig::default(),
            limits: LimitsConfig::default(),
            sizing: SizingConfig::default(),
            compliance: ComplianceConfig::default(),
            safeguards: SafeguardsConfig::default(),
        }
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            loss_threshold_usd: dec!(500),
            loss_threshold_percent: dec!(3),
            cooldown_minutes: 60,
            warning_percent: dec!(80),
        }
    }
}

impl Default for DailyLossConfig {
    fn default() -> Self {
        Self { max_daily_loss_usd: dec!(1000), max_daily_loss_percent: dec!(5) }
    }
}

impl Default for StopsConfig {
    fn default() -> Self {
        Self {
            stop_loss_percent: dec!(10),
            take_profit_percent: dec!(25),
            trailing_stop_percent: dec!(5),
            trailing_activation_percent: dec!(0),
        }
    }
}

impl Default for ExitsConfig {
    fn default() -> Self {
        Self {
            max_slippage_percent: dec!(5),
            min_slippage_ticks: 2,
            retry_after_secs: 10,
            widen_after_attempts: 3,
            widen_step_percent: dec!(5),
        }
    }
}

impl Default for WhalesConfig {
    fn default() -> Self {
        Self {
            mute_after_losses: 3,
            mute_after_loss_percent: dec!(50),
            mute_hours: 24,
            low_profit_lookback_days: 7,
            low_profit_min_trades: 5,
            low_profit_min_usd: dec!(0),
            skip_negative_copy_edge: false,
            copy_edge_min_copies: 5,
        }
    }
}

impl Default for DrawdownConfig {
    fn default() -> Self {
        Self { max_drawdown_percent: dec!(15), emergency_drawdown_percent: dec!(20), max_consecutive_losses: 5 }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_total_positions: 10,
            max_positions_per_whale: 3,
            max_positions_per_market: 2,
            max_position_size_usd: dec!(500),
            max_total_exposure_usd: dec!(5000),
            max_total_exposure_percent: dec!(10),
            max_per_asset_exposure_percent: dec!(5),
            daily_whale_allocation_usd: dec!(1000),
        }
    }
}

impl Default for SizingConfig {
    fn default() -> Self {
        Self {
            risk_per_trade_percent: dec!(1),
            min_position_usd: dec!(1),
            volatility_adjustment: true,
            resize_to_fit: true,
        }
    }
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self { max_leverage: dec!(1), opposing_positions: OpposingPolicy::Reject }
    }
}

impl Default for SafeguardsConfig {
    fn default() -> Self {
        Self {
            double_fire_window_minutes: 15,
            duplicate_memory: 10_000,
            tick_size: dec!(0.01),
            size_step: dec!(0.01),
            min_order_size: dec!(5),
            min_order_notional_usd: dec!(1),
            max_price_drift_percent: dec!(5),
            max_price_age_secs: 60,
        }
    }
}

const HUNDRED: Decimal = dec!(100);

/// Amounts beyond this are configuration mistakes (and could overflow sums of `Decimal`s).
const MAX_AMOUNT: Decimal = dec!(1_000_000_000_000);

fn not_negative(issues: &mut Issues, prefix: &str, key: &str, value: Decimal) {
    issues.check(
        value < Decimal::ZERO || value > MAX_AMOUNT,
        join(prefix, key),
        value,
        "must not be negative (and at most 10^12)",
    );
}

fn positive(issues: &mut Issues, prefix: &str, key: &str, value: Decimal) {
    issues.check(
        value <= Decimal::ZERO || value > MAX_AMOUNT,
        join(prefix, key),
        value,
        "must be greater than 0 (and at most 10^12)",
    );
}

fn percent(issues: &mut Issues, prefix: &str, key: &str, value: Decimal) {
    issues.check(
        value < Decimal::ZERO || value > HUNDRED,
        join(prefix, key),
        value,
        "must be a percentage between 0 and 100",
    );
}

impl RiskConfig {
    /// Adds every problem found under `prefix` (normally `risk`) to `issues`.
    pub fn validate(&self, prefix: &str, issues: &mut Issues) {
        positive(issues, prefix, "starting_balance_usd", self.starting_balance_usd);
        issues.check(
            self.day_start_utc_minutes >= 24 * 60,
            join(prefix, "day_start_utc_minutes"),
            self.day_start_utc_minutes,
            "must be less than 1440 (minutes in a day)",
        );

        let cb = &self.circuit_breaker;
        let at = join(prefix, "circuit_breaker");
        not_negative(issues, &at, "loss_threshold_usd", cb.loss_threshold_usd);
        percent(issues, &at, "loss_threshold_percent", cb.loss_threshold_percent);
        issues.check(
            cb.warning_percent <= Decimal::ZERO || cb.warning_percent >= HUNDRED,
            join(&at, "warning_percent"),
            cb.warning_percent,
            "must be above 0 and below 100 (a warning comes before the trip)",
        );

        let dl = &self.daily_loss;
        let at_dl = join(prefix, "daily_loss");
        not_negative(issues, &at_dl, "max_daily_loss_usd", dl.max_daily_loss_usd);
        percent(issues, &at_dl, "max_daily_loss_percent", dl.max_daily_loss_percent);
        if cb.enabled {
            issues.check(
                cb.loss_threshold_usd > dl.max_daily_loss_usd,
                join(&at, "loss_threshold_usd"),
                cb.loss_threshold_usd,
                "must not exceed risk.daily_loss.max_daily_loss_usd (the breaker warns before the daily halt)",
            );
            issues.check(
                cb.loss_threshold_percent > dl.max_daily_loss_percent,
                join(&at, "loss_threshold_percent"),
                cb.loss_threshold_percent,
                "must not exceed risk.daily_loss.max_daily_loss_percent",
            );
        }

        let ex = &self.exits;
        let at_ex = join(prefix, "exits");
        issues.check(
            ex.max_slippage_percent <= Decimal::ZERO || ex.max_slippage_percent > HUNDRED,
            join(&at_ex, "max_slippage_percent"),
            ex.max_slippage_percent,
            "must be above 0 and at most 100",
        );
        issues.check(
            ex.min_slippage_ticks > 1000,
            join(&at_ex, "min_slippage_ticks"),
            ex.min_slippage_ticks,
            "must be at most 1000",
        );
        issues.check(
            ex.retry_after_secs == 0 || ex.retry_after_secs > 3600,
            join(&at_ex, "retry_after_secs"),
            ex.retry_after_secs,
            "must be between 1 and 3600 seconds",
        );
        issues.check(
            ex.widen_after_attempts == 0 || ex.widen_after_attempts > 1000,
            join(&at_ex, "widen_after_attempts"),
            ex.widen_after_attempts,
            "must be between 1 and 1000",
        );
        issues.check(
            ex.widen_step_percent <= Decimal::ZERO || ex.widen_step_percent > HUNDRED,
            join(&at_ex, "widen_step_percent"),
            ex.widen_step_percent,
            "must be above 0 and at most 100",
        );

        let st = &self.stops;
        let at = join(prefix, "stops");
        issues.check(
            st.stop_loss_percent <= Decimal::ZERO || st.stop_loss_percent >= HUNDRED,
            join(&at, "stop_loss_percent"),
            st.stop_loss_percent,
            "must be above 0 and below 100 (a 100% stop never fires)",
        );
        issues.check(
            st.take_profit_percent <= Decimal::ZERO || st.take_profit_percent > dec!(10000),
            join(&at, "take_profit_percent"),
            st.take_profit_percent,
            "must be above 0 and at most 10000",
        );
        issues.check(
            st.trailing_stop_percent < Decimal::ZERO || st.trailing_stop_percent >= HUNDRED,
            join(&at, "trailing_stop_percent"),
            st.trailing_stop_percent,
            "must be at least 0 and below 100",
        );
        percent(issues, &at, "trailing_activation_percent", st.trailing_activation_percent);

        let dd = &self.drawdown;
        let at = join(prefix, "drawdown");
        percent(issues, &at, "max_drawdown_percent", dd.max_drawdown_percent);
        percent(issues, &at, "emergency_drawdown_percent", dd.emergency_drawdown_percent);
        issues.check(
            dd.max_drawdown_percent >= dd.emergency_drawdown_percent,
            join(&at, "max_drawdown_percent"),
            dd.max_drawdown_percent,
            "must be less than risk.drawdown.emergency_drawdown_percent (warning level below critical)",
        );

        let wh = &self.whales;
        let at = join(prefix, "whales");
        percent(issues, &at, "mute_after_loss_percent", wh.mute_after_loss_percent);
        issues.check(
            wh.mute_hours == 0 || wh.mute_hours > 24 * 365,
            join(&at, "mute_hours"),
            wh.mute_hours,
            "must be between 1 and 8760 (a year)",
        );
        issues.check(
            wh.low_profit_lookback_days == 0 || wh.low_profit_lookback_days > 365,
            join(&at, "low_profit_lookback_days"),
            wh.low_profit_lookback_days,
            "must be between 1 and 365",
        );
        issues.check(
            wh.low_profit_min_usd.abs() > MAX_AMOUNT,
            join(&at, "low_profit_min_usd"),
            wh.low_profit_min_usd,
            "must be within ±10^12",
        );

        let li = &self.limits;
        let at = join(prefix, "limits");
        not_negative(issues, &at, "max_position_size_usd", li.max_position_size_usd);
        not_negative(issues, &at, "max_total_exposure_usd", li.max_total_exposure_usd);
        not_negative(issues, &at, "daily_whale_allocation_usd", li.daily_whale_allocation_usd);
        percent(issues, &at, "max_total_exposure_percent", li.max_total_exposure_percent);
        percent(issues, &at, "max_per_asset_exposure_percent", li.max_per_asset_exposure_percent);
        issues.check(
            li.max_position_size_usd > li.max_total_exposure_usd,
            join(&at, "max_position_size_usd"),
            li.max_position_size_usd,
            "must not exceed risk.limits.max_total_exposure_usd",
        );
        issues.check(
            li.max_per_asset_exposure_percent > li.max_total_exposure_percent,
            join(&at, "max_per_asset_exposure_percent"),
            li.max_per_asset_exposure_percent,
            "must not exceed risk.limits.max_total_exposure_percent",
        );
        issues.check(
            li.max_positions_per_whale > li.max_total_positions,
            join(&at, "max_positions_per_whale"),
            li.max_positions_per_whale,
            "must not exceed risk.limits.max_total_positions",
        );
        issues.check(
            li.max_positions_per_market > li.max_total_positions,
            join(&at, "max_positions_per_market"),
            li.max_positions_per_market,
            "must not exceed risk.limits.max_total_positions",
        );

        let si = &self.sizing;
        let at = join(prefix, "sizing");
        percent(issues, &at, "risk_per_trade_percent", si.risk_per_trade_percent);
        not_negative(issues, &at, "min_position_usd", si.min_position_usd);
        issues.check(
            si.min_position_usd > li.max_position_size_usd,
            join(&at, "min_position_usd"),
            si.min_position_usd,
            "must not exceed risk.limits.max_position_size_usd",
        );

        let co = &self.compliance;
        issues.check(
            co.max_leverage < Decimal::ONE || co.max_leverage > dec!(100),
            join(&join(prefix, "compliance"), "max_leverage"),
            co.max_leverage,
            "must be between 1 and 100",
        );

        let sg = &self.safeguards;
        let at = join(prefix, "safeguards");
        issues.check(
            sg.tick_size <= Decimal::ZERO || sg.tick_size >= Decimal::ONE,
            join(&at, "tick_size"),
            sg.tick_size,
            "must be above 0 and below 1 (outcome prices live in (0, 1))",
        );
        positive(issues, &at, "size_step", sg.size_step);
        not_negative(issues, &at, "min_order_size", sg.min_order_size);
        not_negative(issues, &at, "min_order_notional_usd", sg.min_order_notional_usd);
        percent(issues, &at, "max_price_drift_percent", sg.max_price_drift_percent);
        issues.check(
            sg.duplicate_memory == 0,
            join(&at, "duplicate_memory"),
            sg.duplicate_memory,
            "must be at least 1",
        );
    }

    /// Validates on its own (outside the daemon's whole-config validation), under `risk`.
    pub fn issues(&self) -> Vec<crate::config::ConfigIssue> {
        let mut issues = Issues::new();
        self.validate("risk", &mut issues);
        issues.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(config: &RiskConfig) -> Vec<String> {
        config.issues().into_iter().map(|i| i.key).collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        let config = RiskConfig::default();
        assert!(config.issues().is_empty(), "{:?}", config.issues());
        assert_eq!(config.circuit_breaker.loss_threshold_usd, dec!(500));
        assert_eq!(config.circuit_breaker.loss_threshold_percent, dec!(3));
        assert_eq!(config.circuit_breaker.cooldown_minutes, 60);
        assert_eq!(config.daily_loss.max_daily_loss_usd, dec!(1000));
        assert_eq!(config.daily_loss.max_daily_loss_percent, dec!(5));
        assert_eq!(config.stops.stop_loss_percent, dec!(10));
        assert_eq!(config.stops.take_profit_percent, dec!(25));
        assert_eq!(config.stops.trailing_stop_percent, dec!(5));
        assert_eq!(config.drawdown.max_drawdown_percent, dec!(15));
        assert_eq!(config.drawdown.emergency_drawdown_percent, dec!(20));
        assert_eq!(config.drawdown.max_consecutive_losses, 5);
        assert_eq!(config.limits.max_total_positions, 10);
        assert_eq!(config.limits.max_positions_per_whale, 3);
        assert_eq!(config.limits.max_positions_per_market, 2);
        assert_eq!(config.limits.max_position_size_usd, dec!(500));
        assert_eq!(config.limits.max_total_exposure_usd, dec!(5000));
        assert_eq!(config.limits.max_total_exposure_percent, dec!(10));
        assert_eq!(config.limits.max_per_asset_exposure_percent, dec!(5));
        assert_eq!(config.safeguards.double_fire_window_minutes, 15);
        assert_eq!(config.sizing.risk_per_trade_percent, dec!(1));
    }

    #[test]
    fn every_rule_names_key_value_and_rule() {
        type Breaker = fn(&mut RiskConfig);
        let table: &[(&str, Breaker, &str)] = &[
            ("risk.starting_balance_usd", |c| c.starting_balance_usd = dec!(0), "0"),
            ("risk.day_start_utc_minutes", |c| c.day_start_utc_minutes = 1440, "1440"),
            ("risk.circuit_breaker.loss_threshold_usd", |c| c.circuit_breaker.loss_threshold_usd = dec!(-1), "-1"),
            (
                "risk.circuit_breaker.loss_threshold_percent",
                |c| c.circuit_breaker.loss_threshold_percent = dec!(101),
                "101",
            ),
            ("risk.circuit_breaker.warning_percent", |c| c.circuit_breaker.warning_percent = dec!(100), "100"),
            ("risk.daily_loss.max_daily_loss_percent", |c| c.daily_loss.max_daily_loss_percent = dec!(-0.01), "-0.01"),
            ("risk.stops.stop_loss_percent", |c| c.stops.stop_loss_percent = dec!(100), "100"),
            ("risk.stops.take_profit_percent", |c| c.stops.take_profit_percent = dec!(0), "0"),
            ("risk.stops.trailing_stop_percent", |c| c.stops.trailing_stop_percent = dec!(-5), "-5"),
            ("risk.exits.max_slippage_percent", |c| c.exits.max_slippage_percent = dec!(0), "0"),
            ("risk.exits.retry_after_secs", |c| c.exits.retry_after_secs = 0, "0"),
            ("risk.exits.widen_after_attempts", |c| c.exits.widen_after_attempts = 0, "0"),
            ("risk.exits.widen_step_percent", |c| c.exits.widen_step_percent = dec!(101), "101"),
            ("risk.exits.min_slippage_ticks", |c| c.exits.min_slippage_ticks = 5000, "5000"),
            ("risk.drawdown.max_drawdown_percent", |c| c.drawdown.max_drawdown_percent = dec!(20), "20"),
            (
                "risk.drawdown.emergency_drawdown_percent",
                |c| c.drawdown.emergency_drawdown_percent = dec!(100.5),
                "100.5",
            ),
            ("risk.limits.max_position_size_usd", |c| c.limits.max_position_size_usd = dec!(-500), "-500"),
            ("risk.limits.max_total_exposure_usd", |c| c.limits.max_total_exposure_usd = dec!(-1), "-1"),
            (
                "risk.limits.max_per_asset_exposure_percent",
                |c| c.limits.max_per_asset_exposure_percent = dec!(11),
                "11",
            ),
            ("risk.limits.max_positions_per_whale", |c| c.limits.max_positions_per_whale = 11, "11"),
            ("risk.sizing.risk_per_trade_percent", |c| c.sizing.risk_per_trade_percent = dec!(150), "150"),
            ("risk.compliance.max_leverage", |c| c.compliance.max_leverage = dec!(0.5), "0.5"),
            ("risk.safeguards.tick_size", |c| c.safeguards.tick_size = dec!(1), "1"),
            ("risk.safeguards.size_step", |c| c.safeguards.size_step = dec!(0), "0"),
            ("risk.safeguards.duplicate_memory", |c| c.safeguards.duplicate_memory = 0, "0"),
        ];
        for (key, breaker, value) in table {
            let mut config = RiskConfig::default();
            breaker(&mut config);
            let issues = config.issues();
            let issue = issues.iter().find(|i| i.key == *key);
            assert!(issue.is_some(), "{key}: expected an issue, got {issues:?}");
            if let Some(issue) = issue {
                assert_eq!(issue.value, *value, "{key}");
                assert!(!issue.rule.is_empty());
            }
        }
    }

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let mut config = RiskConfig::default();
        config.stops.stop_loss_percent = dec!(120);
        config.limits.max_total_exposure_percent = dec!(-3);
        config.safeguards.tick_size = dec!(0);
        let keys = keys_of(&config);
        assert!(keys.contains(&"risk.stops.stop_loss_percent".to_string()));
        assert!(keys.contains(&"risk.limits.max_total_exposure_percent".to_string()));
        assert!(keys.contains(&"risk.safeguards.tick_size".to_string()));
    }

    #[test]
    fn percentage_boundaries_are_inclusive() {
        let mut config = RiskConfig::default();
        config.limits.max_total_exposure_percent = dec!(100);
        config.limits.max_per_asset_exposure_percent = dec!(0);
        assert!(config.issues().is_empty(), "{:?}", config.issues());
        config.limits.max_total_exposure_percent = dec!(100.01);
        assert_eq!(keys_of(&config), vec!["risk.limits.max_total_exposure_percent".to_string()]);
    }

    #[test]
    fn toml_round_trip_and_unknown_keys_rejected() {
        let text = toml::to_string(&RiskConfig::default()).unwrap_or_default();
        let back: Result<RiskConfig, _> = toml::from_str(&text);
        assert_eq!(back.ok(), Some(RiskConfig::default()));
        let bad: Result<RiskConfig, _> = toml::from_str("[stops]\nstop_los_percent = 5\n");
        assert!(bad.is_err());
        let partial: Result<RiskConfig, _> = toml::from_str("[limits]\nmax_total_positions = 4\n");
        assert_eq!(partial.ok().map(|c| c.limits.max_total_positions), Some(4));
    }
}
