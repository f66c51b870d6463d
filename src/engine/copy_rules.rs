//! The copy rules: given a whale's trade and what we know of the market, what (if anything) do we
//! send? Pure functions, no state: the engine gathers the inputs, the risk manager has the last word.
//!
//! Entry (whale BUY), in order:
//! 1. the whale's notional must reach `copy.min_whale_trade_usd` (`below_minimum_size`);
//! 2. the signal must be younger than `copy.max_signal_age_secs` (`signal_too_old`);
//! 3. the token must have a price newer than the feed's `stale_after_secs` (`stale_price`);
//! 4. the best ask must be within `copy.max_price_drift_percent` of the whale's price (`price_moved`);
//! 5. size from the sizing mode × the whale's multiplier, capped by the whale's `max_usd_per_trade`,
//!    rounded DOWN to the size step at a limit price rounded DOWN to the tick (never upsized); a size
//!    below the venue minimum is rejected (`below_minimum_size`), never raised to it.
//!
//! The outcome side is preserved exactly: the order buys the very token id the whale bought.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::clock::Timestamp;
use crate::config::{CopyConfig, ExitMode, WhaleConfig};
use crate::domain::ReasonCode;
use crate::risk::sizing::{CopySizeInputs, copy_size};

use super::market_data::{TokenPrices, VenueRules};

/// Shares are traded in steps of 0.01 on Polymarket.
pub const SIZE_STEP: Decimal = dec!(0.01);

/// Why a whale trade is not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// One of the shared reason codes ([`ReasonCode`]), usually from the risk manager.
    Code(ReasonCode),
    /// The whale trade reached us later than `copy.max_signal_age_secs` after it happened.
    SignalTooOld,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Code(code) => code.as_str(),
            RejectReason::SignalTooOld => "signal_too_old",
        }
    }
}

/// A rejection with the limit and the value that broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRejection {
    pub reason: RejectReason,
    pub detail: String,
}

impl CopyRejection {
    fn code(code: ReasonCode, detail: String) -> Self {
        Self { reason: RejectReason::Code(code), detail }
    }
}

/// Everything the entry rules look at.
#[derive(Debug, Clone, Copy)]
pub struct EntryInputs<'a> {
    pub copy: &'a CopyConfig,
    pub whale: &'a WhaleConfig,
    pub whale_price: Decimal,
    pub whale_size: Decimal,
    /// When the whale traded (block time).
    pub whale_traded_at: Timestamp,
    pub prices: Option<&'a TokenPrices>,
    pub rules: VenueRules,
    pub stale_after_ms: i64,
    /// For `risk_based` sizing: current equity, risk per trade and the stop-loss distance.
    pub equity: Decimal,
    pub risk_per_trade_percent: Decimal,
    pub stop_loss_percent: Decimal,
    pub now: Timestamp,
}

/// The entry to propose to the risk manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryPlan {
    /// A marketable limit: the whale's price plus the allowed drift, rounded down to the tick.
    pub limit_price: Decimal,
    /// Shares, on the size step.
    pub size: Decimal,
}

/// Rounds `value` down to a multiple of `step` (a zero step leaves it unchanged).
pub fn floor_to(value: Decimal, step: Decimal) -> Decimal {
    if step <= Decimal::ZERO { value } else { (value / step).floor() * step }
}

fn percent(value: Decimal) -> String {
    format!("{}%", value.round_dp(2).normalize())
}

/// Applies the entry rules to a whale BUY.
pub fn plan_entry(inputs: &EntryInputs<'_>) -> Result<EntryPlan, CopyRejection> {
    let copy = inputs.copy;
    let whale_notional = inputs.whale_size * inputs.whale_price;
    if whale_notional < copy.min_whale_trade_usd {
        return Err(CopyRejection::code(
            ReasonCode::BelowMinimumSize,
            format!(
                "whale trade ${} is below copy.min_whale_trade_usd = {}",
                whale_notional.round_dp(2),
                copy.min_whale_trade_usd
            ),
        ));
    }
    let age_ms = inputs.now.millis_since(inputs.whale_traded_at);
    let max_age_ms = i64::try_from(copy.max_signal_age_secs).unwrap_or(i64::MAX).saturating_mul(1000);
    if age_ms > max_age_ms {
        return Err(CopyRejection {
            reason: RejectReason::SignalTooOld,
            detail: format!(
                "signal is {}s old, copy.max_signal_age_secs = {}",
                age_ms / 1000,
                copy.max_signal_age_secs
            ),
        });
    }
    let Some(prices) = inputs.prices.filter(|p| p.is_fresh(inputs.now, inputs.stale_after_ms)) else {
        let age = inputs.prices.and_then(|p| p.updated_at).map_or_else(
            || "no price yet".to_owned(),
            |at| format!("last price {}s ago", inputs.now.millis_since(at) / 1000),
        );
        return Err(CopyRejection::code(
            ReasonCode::StalePrice,
            format!("{age}, stale after {}s", inputs.stale_after_ms / 1000),
        ));
    };
    let Some(best_ask) = prices.best_ask else {
        return Err(CopyRejection::code(ReasonCode::StalePrice, "the book has no asks".to_owned()));
    };
    if inputs.whale_price <= Decimal::ZERO || inputs.whale_price >= Decimal::ONE {
        return Err(CopyRejection::code(
            ReasonCode::InvalidOrder,
            format!("whale price {} is outside (0, 1)", inputs.whale_price),
        ));
    }
    let drift_percent = (best_ask - inputs.whale_price).abs() / inputs.whale_price * Decimal::ONE_HUNDRED;
    if drift_percent > copy.max_price_drift_percent {
        return Err(CopyRejection::code(
            ReasonCode::PriceMoved,
            format!(
                "best ask {} is {} from the whale's {}, copy.max_price_drift_percent = {}",
                best_ask,
                percent(drift_percent),
                inputs.whale_price.round_dp(4),
                copy.max_price_drift_percent
            ),
        ));
    }
    let tick = inputs.rules.tick_size;
    let cap = inputs.whale_price * (Decimal::ONE + copy.max_price_drift_percent / Decimal::ONE_HUNDRED);
    // The ask is on the tick grid and within the drift, so the floored cap is never below it.
    let limit_price = floor_to(cap, tick).max(best_ask).min(Decimal::ONE - tick);

    let stop = limit_price * (Decimal::ONE - inputs.stop_loss_percent / Decimal::ONE_HUNDRED);
    let sized = copy_size(&CopySizeInputs {
        mode: copy.sizing,
        whale_notional,
        fixed_usd: copy.fixed_usd,
        ratio: copy.proportional_ratio,
        price: limit_price,
        stop,
        balance: inputs.equity,
        risk_percent: inputs.risk_per_trade_percent,
        leverage: Decimal::ONE,
        max_leverage: Decimal::ONE,
        atr: None,
    })
    .map_err(|e| CopyRejection::code(ReasonCode::InvalidOrder, e.to_string()))?;
    let mut shares = sized * inputs.whale.multiplier;
    if let Some(max_usd) = inputs.whale.max_usd_per_trade {
        shares = shares.min(max_usd / limit_price);
    }
    let size = floor_to(shares, SIZE_STEP);
    if size < inputs.rules.min_order_size || size <= Decimal::ZERO {
        return Err(CopyRejection::code(
            ReasonCode::BelowMinimumSize,
            format!("{} shares is below the venue minimum of {} shares", size, inputs.rules.min_order_size),
        ));
    }
    Ok(EntryPlan { limit_price, size })
}

/// The share of our position to sell when the whale sells `whale_sold` of the `whale_holding` shares
/// we saw it buy: everything with `exit_mode = "full"`, the whale's fraction with `proportional`
/// (everything when we never saw its buys).
pub fn exit_fraction(mode: ExitMode, whale_sold: Decimal, whale_holding: Decimal) -> Decimal {
    match mode {
        ExitMode::Full => Decimal::ONE,
        ExitMode::Proportional if whale_holding > Decimal::ZERO => (whale_sold / whale_holding).min(Decimal::ONE),
        ExitMode::Proportional => Decimal::ONE,
    }
}

/// Shares to sell for a fraction of `open_size`: on the size step, and the whole position when the
/// rest would be below the venue minimum (no dust left behind).
pub fn exit_size(open_size: Decimal, fraction: Decimal, min_order_size: Decimal) -> Decimal {
    let size = floor_to(open_size * fraction, SIZE_STEP);
    if open_size - size < min_order_size || size >= open_size { open_size } else { size }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CopySizing;

    struct Case {
        copy: CopyConfig,
        whale: WhaleConfig,
        prices: TokenPrices,
    }

    fn case() -> Case {
        let prices = TokenPrices {
            best_bid: Some(dec!(0.50)),
            best_ask: Some(dec!(0.51)),
            updated_at: Some(Timestamp::from_secs(1000)),
            book: None,
            book_at: None,
        };
        Case { copy: CopyConfig::default(), whale: WhaleConfig::default(), prices }
    }

    fn inputs<'a>(c: &'a Case, whale_price: Decimal, whale_size: Decimal, now_secs: i64) -> EntryInputs<'a> {
        EntryInputs {
            copy: &c.copy,
            whale: &c.whale,
            whale_price,
            whale_size,
            whale_traded_at: Timestamp::from_secs(995),
            prices: Some(&c.prices),
            rules: VenueRules::default(),
            stale_after_ms: 30_000,
            equity: dec!(10000),
            risk_per_trade_percent: dec!(1),
            stop_loss_percent: dec!(10),
            now: Timestamp::from_secs(now_secs),
        }
    }

    fn reason(result: Result<EntryPlan, CopyRejection>) -> &'static str {
        result.err().map_or("approved", |r| r.reason.as_str())
    }

    #[test]
    fn fixed_usd_entry_at_the_drift_capped_limit() {
        let c = case();
        // 0.505 × 1.05 = 0.53025 → limit 0.53; $50 / 0.53 = 94.339… → 94.33 shares.
        let plan = plan_entry(&inputs(&c, dec!(0.505), dec!(400), 1001));
        assert_eq!(plan, Ok(EntryPlan { limit_price: dec!(0.53), size: dec!(94.33) }));
    }

    #[test]
    fn multiplier_and_per_whale_cap() {
        let mut c = case();
        c.whale.multiplier = dec!(3);
        c.whale.max_usd_per_trade = Some(dec!(100));
        let plan = plan_entry(&inputs(&c, dec!(0.51), dec!(1000), 1001)).ok();
        // 3 × $50 = $150, capped to $100 at 0.53 → 188.67 shares.
        assert_eq!(plan.map(|p| p.size), Some(dec!(188.67)));
        c.copy.sizing = CopySizing::Proportional;
        c.whale.max_usd_per_trade = None;
        // 10 % of $510 = $51, × 3 = $153 at 0.53 → 288.67 shares.
        assert_eq!(plan_entry(&inputs(&c, dec!(0.51), dec!(1000), 1001)).ok().map(|p| p.size), Some(dec!(288.67)));
    }

    #[test]
    fn rejections_in_rule_order_with_boundaries() {
        let c = case();
        // Exactly $100 passes; one cent less is below the minimum.
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.5), dec!(200), 1001))), "approved");
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.5), dec!(199.98), 1001))), "below_minimum_size");
        // Signal age: 120 s passes, 121 s does not.
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.5), dec!(400), 995 + 120))), "stale_price");
        let mut fresh = case();
        fresh.prices.updated_at = Some(Timestamp::from_secs(1115));
        assert_eq!(reason(plan_entry(&inputs(&fresh, dec!(0.5), dec!(400), 995 + 120))), "approved");
        assert_eq!(reason(plan_entry(&inputs(&fresh, dec!(0.5), dec!(400), 995 + 121))), "signal_too_old");
        // Price older than 30 s is stale.
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.5), dec!(400), 1030))), "approved");
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.5), dec!(400), 1031))), "stale_price");
        // Drift: ask 0.51 vs 0.4857… is 5.0003 % → moved; vs 0.486 is 4.94 % → fine.
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.486), dec!(400), 1001))), "approved");
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.4857), dec!(400), 1001))), "price_moved");
    }

    #[test]
    fn never_upsized_to_the_venue_minimum() {
        let mut c = case();
        c.whale.max_usd_per_trade = Some(dec!(2));
        // $2 at 0.53 is 3.77 shares, below the 5-share minimum: rejected, not raised to 5.
        let result = plan_entry(&inputs(&c, dec!(0.51), dec!(1000), 1001));
        assert_eq!(reason(result), "below_minimum_size");
    }

    #[test]
    fn exit_fractions_and_sizes() {
        assert_eq!(exit_fraction(ExitMode::Full, dec!(1), dec!(100)), dec!(1));
        assert_eq!(exit_fraction(ExitMode::Proportional, dec!(25), dec!(100)), dec!(0.25));
        assert_eq!(exit_fraction(ExitMode::Proportional, dec!(250), dec!(100)), dec!(1));
        assert_eq!(exit_fraction(ExitMode::Proportional, dec!(25), dec!(0)), dec!(1));
        assert_eq!(exit_size(dec!(100), dec!(0.25), dec!(5)), dec!(25));
        assert_eq!(exit_size(dec!(100), dec!(0.97), dec!(5)), dec!(100));
        assert_eq!(exit_size(dec!(98.11), dec!(1), dec!(5)), dec!(98.11));
    }
}
