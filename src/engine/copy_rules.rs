//! The copy rules: given a whale's trade and what we know of the market, what (if anything) do we
//! send? Pure functions, no state: the engine gathers the inputs, the risk manager has the last word.
//!
//! Entry (whale BUY), in order:
//! 1. the whale's notional must reach `copy.min_whale_trade_usd` (`below_minimum_size`);
//! 2. the signal must be younger than `copy.max_signal_age_secs` (`signal_too_old`);
//! 3. the market's end date, when known, must be more than `copy.min_hours_to_resolution` away
//!    (`near_resolution`);
//! 4. the token must have a price newer than the feed's `stale_after_secs` (`stale_price`);
//! 5. the best ask must be further than `copy.extreme_price_band` from 0 and from 1: a price that
//!    close says the outcome is all but decided (`near_resolution`);
//! 6. the best ask must be within `copy.max_price_drift_percent` of the whale's price (`price_moved`);
//! 7. the spread must be at most `copy.max_spread_percent` of the mid price (`spread_too_wide`);
//! 8. size from the sizing mode × the whale's multiplier, capped by the whale's `max_usd_per_trade`,
//!    rounded DOWN to the size step at a limit price rounded DOWN to the tick (never upsized); a size
//!    below the venue minimum is rejected (`below_minimum_size`), never raised to it;
//! 9. with `copy.require_depth`, the current book's asks up to the limit price must hold that size
//!    (`insufficient_depth`). A quote-only update carries no depth, so the rule judges the book
//!    whenever one is current and cannot when only a quote is.
//!
//! The outcome side is preserved exactly: the order buys the very token id the whale bought.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::clock::Timestamp;
use crate::config::{CopyConfig, ExitMode, WhaleConfig};
use crate::domain::ReasonCode;
use crate::market::OrderBook;
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
    /// When the market is scheduled to end, if the venue said.
    pub end_date: Option<Timestamp>,
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
    /// What the sizing rule gave, times the whale's multiplier, in USD at the limit price (before
    /// any cap), for the audit trail.
    pub sized_usd: Decimal,
    /// The whale's `max_usd_per_trade` made the size smaller than the rule's.
    pub whale_capped: bool,
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
    if let Some(end) = inputs.end_date {
        let min_ms = hours_to_ms(copy.min_hours_to_resolution);
        let left_ms = end.millis_since(inputs.now);
        if min_ms > 0 && left_ms <= min_ms {
            return Err(CopyRejection::code(
                ReasonCode::NearResolution,
                format!(
                    "the market ends at {} ({} h from now), copy.min_hours_to_resolution = {}",
                    end.to_rfc3339(),
                    (Decimal::from(left_ms) / dec!(3600000)).round_dp(2),
                    copy.min_hours_to_resolution
                ),
            ));
        }
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
    let band = copy.extreme_price_band;
    if band > Decimal::ZERO && best_ask.min(Decimal::ONE - best_ask) <= band {
        return Err(CopyRejection::code(
            ReasonCode::NearResolution,
            format!("best ask {best_ask} is within copy.extreme_price_band = {band} of 0 or 1"),
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
    if copy.max_spread_percent > Decimal::ZERO {
        check_spread(prices.best_bid, best_ask, copy.max_spread_percent)?;
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
    let sized_usd = shares * limit_price;
    let mut whale_capped = false;
    if let Some(max_usd) = inputs.whale.max_usd_per_trade {
        let cap = max_usd / limit_price;
        whale_capped = cap < shares;
        shares = shares.min(cap);
    }
    let size = floor_to(shares, SIZE_STEP);
    if size < inputs.rules.min_order_size || size <= Decimal::ZERO {
        return Err(CopyRejection::code(
            ReasonCode::BelowMinimumSize,
            format!("{} shares is below the venue minimum of {} shares", size, inputs.rules.min_order_size),
        ));
    }
    if copy.require_depth
        && let Some(book) = prices.current_book()
    {
        check_depth(book, limit_price, size)?;
    }
    Ok(EntryPlan { limit_price, size, sized_usd, whale_capped })
}

fn hours_to_ms(hours: Decimal) -> i64 {
    i64::try_from((hours * dec!(3600000)).trunc()).unwrap_or(i64::MAX)
}

/// The spread in percent of the mid price must be at most `max_percent`; a book without bids has
/// no spread to speak of and is as wide as it gets.
fn check_spread(best_bid: Option<Decimal>, best_ask: Decimal, max_percent: Decimal) -> Result<(), CopyRejection> {
    let Some(bid) = best_bid.filter(|b| *b > Decimal::ZERO) else {
        return Err(CopyRejection::code(
            ReasonCode::SpreadTooWide,
            format!("the book has no bids under the ask {best_ask}, copy.max_spread_percent = {max_percent}"),
        ));
    };
    let mid = (bid + best_ask) / Decimal::TWO;
    let spread_percent = (best_ask - bid) / mid * Decimal::ONE_HUNDRED;
    if spread_percent > max_percent {
        return Err(CopyRejection::code(
            ReasonCode::SpreadTooWide,
            format!(
                "spread {bid} / {best_ask} is {} of the mid, copy.max_spread_percent = {max_percent}",
                percent(spread_percent)
            ),
        ));
    }
    Ok(())
}

/// The asks at or below `limit_price` must hold `size` shares: what a marketable limit there can
/// take at once.
fn check_depth(book: &OrderBook, limit_price: Decimal, size: Decimal) -> Result<(), CopyRejection> {
    let available: Decimal = book.asks.iter().take_while(|level| level.price <= limit_price).map(|l| l.size).sum();
    if available < size {
        return Err(CopyRejection::code(
            ReasonCode::InsufficientDepth,
            format!("the asks up to {limit_price} hold {available} shares, the copy needs {size} (copy.require_depth)"),
        ));
    }
    Ok(())
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
            regime: Default::default(),
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
            end_date: None,
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
        assert_eq!(
            plan.as_ref().map(|p| (p.limit_price, p.size, p.whale_capped)),
            Ok((dec!(0.53), dec!(94.33), false))
        );
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

    fn with_quote(bid: Decimal, ask: Decimal) -> Case {
        let mut c = case();
        c.prices.best_bid = Some(bid);
        c.prices.best_ask = Some(ask);
        c
    }

    #[test]
    fn the_spread_guard_at_its_limit_and_just_past() {
        // 0.45 / 0.55 around a mid of 0.50: a 20 % spread.
        let mut c = with_quote(dec!(0.45), dec!(0.55));
        c.copy.max_spread_percent = dec!(20);
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.55), dec!(400), 1001))), "approved");
        c.copy.max_spread_percent = dec!(19.99);
        let refused = plan_entry(&inputs(&c, dec!(0.55), dec!(400), 1001));
        assert_eq!(
            refused.as_ref().err().map(|r| r.detail.as_str()),
            Some("spread 0.45 / 0.55 is 20% of the mid, copy.max_spread_percent = 19.99")
        );
        c.prices.best_bid = None;
        c.copy.max_spread_percent = dec!(200);
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.55), dec!(400), 1001))), "spread_too_wide", "no bids at all");
        c.copy.max_spread_percent = Decimal::ZERO;
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.55), dec!(400), 1001))), "approved", "0 turns it off");
    }

    fn book_of_asks(asks: &[(Decimal, Decimal)]) -> OrderBook {
        OrderBook {
            market: "0xm".into(),
            asset_id: "1".into(),
            timestamp: Timestamp::from_secs(1000),
            hash: Default::default(),
            bids: vec![crate::market::PriceLevel { price: dec!(0.50), size: dec!(1000) }],
            asks: asks.iter().map(|&(price, size)| crate::market::PriceLevel { price, size }).collect(),
            min_order_size: dec!(5),
            tick_size: dec!(0.01),
            neg_risk: false,
            last_trade_price: None,
        }
    }

    #[test]
    fn the_depth_guard_needs_our_whole_size_within_the_limit() {
        // The copy: 94.33 shares at the limit 0.53 (see the first test); the 0.60 level is beyond it.
        let mut c = case();
        let deep_enough = [(dec!(0.51), dec!(50)), (dec!(0.53), dec!(44.33)), (dec!(0.60), dec!(1000))];
        c.prices.book = Some(Box::new(book_of_asks(&deep_enough)));
        c.prices.book_at = c.prices.updated_at;
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.505), dec!(400), 1001))), "approved");
        let one_short = [(dec!(0.51), dec!(50)), (dec!(0.53), dec!(44.32)), (dec!(0.60), dec!(1000))];
        c.prices.book = Some(Box::new(book_of_asks(&one_short)));
        let refused = plan_entry(&inputs(&c, dec!(0.505), dec!(400), 1001));
        assert_eq!(
            refused.as_ref().err().map(|r| (r.reason.as_str(), r.detail.as_str())),
            Some((
                "insufficient_depth",
                "the asks up to 0.53 hold 94.32 shares, the copy needs 94.33 (copy.require_depth)"
            ))
        );
        c.copy.require_depth = false;
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.505), dec!(400), 1001))), "approved");
        // A quote newer than the book leaves no current depth to judge.
        c.copy.require_depth = true;
        c.prices.updated_at = Some(Timestamp::from_secs(1001));
        assert_eq!(reason(plan_entry(&inputs(&c, dec!(0.505), dec!(400), 1001))), "approved");
    }

    #[test]
    fn no_entry_within_the_hours_before_the_market_ends() {
        let c = case();
        let now = Timestamp::from_secs(1001);
        let mut at_the_limit = inputs(&c, dec!(0.51), dec!(400), 1001);
        at_the_limit.end_date = Some(now.plus_millis(3_600_000));
        assert_eq!(reason(plan_entry(&at_the_limit)), "near_resolution");
        let mut just_before = at_the_limit;
        just_before.end_date = Some(now.plus_millis(3_600_001));
        assert_eq!(reason(plan_entry(&just_before)), "approved");
        let mut ended = at_the_limit;
        ended.end_date = Some(now.plus_millis(-1));
        assert_eq!(reason(plan_entry(&ended)), "near_resolution", "an end date already passed");
        let mut off = c.copy.clone();
        off.min_hours_to_resolution = Decimal::ZERO;
        let mut unguarded = at_the_limit;
        unguarded.copy = &off;
        assert_eq!(reason(plan_entry(&unguarded)), "approved");
    }

    #[test]
    fn no_entry_at_a_price_all_but_decided() {
        // Band 0.02: an ask of 0.98 or 0.02 is within it, 0.97 and 0.03 are not.
        for (bid, ask, expected) in [
            (dec!(0.97), dec!(0.98), "near_resolution"),
            (dec!(0.96), dec!(0.97), "approved"),
            (dec!(0.01), dec!(0.02), "near_resolution"),
            (dec!(0.029), dec!(0.03), "approved"),
        ] {
            let mut c = with_quote(bid, ask);
            c.whale.max_usd_per_trade = Some(dec!(1000));
            assert_eq!(reason(plan_entry(&inputs(&c, ask, dec!(100000), 1001))), expected, "ask {ask}");
        }
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
