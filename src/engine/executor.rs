//! Executors: what happens to an order intent once the engine has decided it. One trait, three
//! modes (`[daemon] mode`):
//!
//! - [`DryRunExecutor`]: records the intent and fills nothing (the order is reported finished, unfilled).
//! - [`PaperExecutor`]: walks the latest real book of the token, level by level up to the order's
//!   limit, paying the market's taker fee curve plus a configurable extra slippage; a book too thin
//!   for the order gives a partial fill (FAK semantics: the rest is cancelled).
//! - live: real orders on the CLOB. It may only start when [`check_live_start`] passes: credentials
//!   set, `daemon.mode = "live"`, the `--live` flag, and `WHALE_TRADER_LIVE_CONFIRM=yes`.
//!
//! Simulated executors answer at once, so replay needs no channel hop; a live executor would send
//! the order and feed its reports back into the engine's queue as `Input::Execution`.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::Side;
use crate::risk::OrderIntent;

use super::io::ExecutionReport;
use super::market_data::{BookSnapshot, Level, VenueRules};

/// The market as an executor may see it when an order is submitted.
#[derive(Debug, Clone, Copy)]
pub struct MarketView<'a> {
    /// The latest book of the order's token, if any arrived.
    pub book: Option<&'a BookSnapshot>,
    pub rules: VenueRules,
}

/// Carries out order intents.
pub trait Executor: Send {
    fn mode(&self) -> Mode;

    /// Handles one approved intent at `now`. Simulated executors push their report(s) into `reports`
    /// right away; the engine applies them before the next input.
    fn submit(
        &mut self,
        intent: &OrderIntent,
        market: MarketView<'_>,
        now: Timestamp,
        reports: &mut Vec<ExecutionReport>,
    );
}

/// Records intents, never fills.
#[derive(Debug, Default, Clone, Copy)]
pub struct DryRunExecutor;

impl Executor for DryRunExecutor {
    fn mode(&self) -> Mode {
        Mode::DryRun
    }

    fn submit(
        &mut self,
        intent: &OrderIntent,
        _market: MarketView<'_>,
        now: Timestamp,
        reports: &mut Vec<ExecutionReport>,
    ) {
        tracing::info!(
            order = %intent.client_order_id,
            side = %intent.side,
            size = %intent.size,
            price = %intent.price,
            "dry run: order recorded, not sent"
        );
        reports.push(ExecutionReport {
            client_order_id: intent.client_order_id,
            filled_size: Decimal::ZERO,
            avg_price: Decimal::ZERO,
            fee: Decimal::ZERO,
            done: true,
            note: Some("dry run".to_owned()),
            at: now,
        });
    }
}

/// The result of walking a book for one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperFill {
    pub filled_size: Decimal,
    /// Average price paid (buy) or received (sell), slippage included, fees excluded.
    pub avg_price: Decimal,
    pub fee: Decimal,
}

/// Walks `levels` (best first) for `size` shares at prices no worse than `limit`, with an extra
/// adverse slippage of `slippage_bps` basis points on every level's price. Pure.
pub fn walk_book(
    side: Side,
    levels: &[Level],
    size: Decimal,
    limit: Decimal,
    slippage_bps: Decimal,
    rules: &VenueRules,
) -> PaperFill {
    let slip = slippage_bps / Decimal::from(10_000);
    let mut remaining = size;
    let mut filled = Decimal::ZERO;
    let mut notional = Decimal::ZERO;
    let mut fee = Decimal::ZERO;
    for level in levels {
        if remaining <= Decimal::ZERO {
            break;
        }
        let acceptable = match side {
            Side::Buy => level.price <= limit,
            Side::Sell => level.price >= limit,
        };
        if !acceptable {
            break;
        }
        let take = remaining.min(level.size);
        if take <= Decimal::ZERO {
            continue;
        }
        let price = match side {
            Side::Buy => (level.price * (Decimal::ONE + slip)).min(Decimal::ONE),
            Side::Sell => (level.price * (Decimal::ONE - slip)).max(Decimal::ZERO),
        };
        notional += take * price;
        fee += rules.fee.taker_fee(take, price);
        filled += take;
        remaining -= take;
    }
    let avg_price = if filled.is_zero() { Decimal::ZERO } else { (notional / filled).round_dp(8) };
    PaperFill { filled_size: filled, avg_price, fee: fee.round_dp(8) }
}

/// Fills against the latest real book, in simulation.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaperExecutor {
    /// Extra adverse slippage on every fill, in basis points (0 = the book's prices exactly).
    pub extra_slippage_bps: Decimal,
}

impl PaperExecutor {
    pub fn new(extra_slippage_bps: Decimal) -> Self {
        Self { extra_slippage_bps }
    }
}

impl Executor for PaperExecutor {
    fn mode(&self) -> Mode {
        Mode::Paper
    }

    fn submit(
        &mut self,
        intent: &OrderIntent,
        market: MarketView<'_>,
        now: Timestamp,
        reports: &mut Vec<ExecutionReport>,
    ) {
        let levels: &[Level] = match (market.book, intent.side) {
            (Some(book), Side::Buy) => &book.asks,
            (Some(book), Side::Sell) => &book.bids,
            (None, _) => &[],
        };
        let fill = walk_book(intent.side, levels, intent.size, intent.price, self.extra_slippage_bps, &market.rules);
        let note = if market.book.is_none() {
            Some("no book for this token".to_owned())
        } else if fill.filled_size < intent.size {
            Some(format!("book too thin: {} of {} shares filled", fill.filled_size, intent.size))
        } else {
            None
        };
        reports.push(ExecutionReport {
            client_order_id: intent.client_order_id,
            filled_size: fill.filled_size,
            avg_price: fill.avg_price,
            fee: fill.fee,
            done: true,
            note,
            at: now,
        });
    }
}

/// One reason the live executor refuses to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveRefusal {
    #[error("polymarket.credentials is incomplete: {} not set (WHALE_TRADER__POLYMARKET__CREDENTIALS__*)", .missing.join(", "))]
    MissingCredentials { missing: Vec<&'static str> },
    #[error("daemon.mode = \"{mode}\": live trading needs daemon.mode = \"live\"")]
    ModeNotLive { mode: Mode },
    #[error("the --live flag was not given")]
    NoLiveFlag,
    #[error("WHALE_TRADER_LIVE_CONFIRM = {value:?}: live trading needs WHALE_TRADER_LIVE_CONFIRM=yes")]
    NotConfirmed { value: Option<String> },
}

/// The live executor refused to start; every unmet condition is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to trade live: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct LiveStartError(pub Vec<LiveRefusal>);

/// The environment variable that must say `yes` before real money moves.
pub const LIVE_CONFIRM_ENV: &str = "WHALE_TRADER_LIVE_CONFIRM";

/// Checks the four conditions for live trading. `missing_credentials` is
/// `config.polymarket.credentials.missing()`; `confirm` is the value of [`LIVE_CONFIRM_ENV`].
pub fn check_live_start(
    missing_credentials: &[&'static str],
    mode: Mode,
    live_flag: bool,
    confirm: Option<&str>,
) -> Result<(), LiveStartError> {
    let mut refusals = Vec::new();
    if !missing_credentials.is_empty() {
        refusals.push(LiveRefusal::MissingCredentials { missing: missing_credentials.to_vec() });
    }
    if mode != Mode::Live {
        refusals.push(LiveRefusal::ModeNotLive { mode });
    }
    if !live_flag {
        refusals.push(LiveRefusal::NoLiveFlag);
    }
    if confirm.map(str::trim) != Some("yes") {
        refusals.push(LiveRefusal::NotConfirmed { value: confirm.map(str::to_owned) });
    }
    if refusals.is_empty() { Ok(()) } else { Err(LiveStartError(refusals)) }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn levels(pairs: &[(Decimal, Decimal)]) -> Vec<Level> {
        pairs.iter().map(|&(price, size)| Level { price, size }).collect()
    }

    #[test]
    fn buy_walks_asks_up_to_the_limit_with_fees() {
        let asks = levels(&[(dec!(0.43), dec!(8.37)), (dec!(0.53), dec!(13.49)), (dec!(0.54), dec!(26.99))]);
        let rules = VenueRules::default();
        let fill = walk_book(Side::Buy, &asks, dec!(30), dec!(0.53), Decimal::ZERO, &rules);
        // 8.37 at 0.43 and 13.49 at 0.53; 0.54 is above the limit: a partial fill of 21.86.
        assert_eq!(fill.filled_size, dec!(21.86));
        let notional = dec!(8.37) * dec!(0.43) + dec!(13.49) * dec!(0.53);
        assert_eq!(fill.avg_price, (notional / dec!(21.86)).round_dp(8));
        let fee =
            dec!(8.37) * dec!(0.05) * dec!(0.43) * dec!(0.57) + dec!(13.49) * dec!(0.05) * dec!(0.53) * dec!(0.47);
        assert_eq!(fill.fee, fee.round_dp(8));
    }

    #[test]
    fn sell_walks_bids_down_with_slippage() {
        let bids = levels(&[(dec!(0.30), dec!(10)), (dec!(0.29), dec!(100))]);
        let rules = VenueRules { fee: super::super::market_data::FeeCurve::FREE, ..VenueRules::default() };
        let fill = walk_book(Side::Sell, &bids, dec!(20), dec!(0.01), dec!(100), &rules);
        // 1 % slippage: 10 at 0.297 and 10 at 0.2871.
        assert_eq!(fill.filled_size, dec!(20));
        assert_eq!(fill.avg_price, dec!(0.29205));
        assert_eq!(fill.fee, dec!(0));
    }

    #[test]
    fn live_start_names_every_unmet_condition() {
        let err = check_live_start(&["api_key"], Mode::Paper, false, Some("no")).err();
        let refusals = err.map(|e| e.0).unwrap_or_default();
        assert_eq!(refusals.len(), 4);
        assert!(matches!(refusals.first(), Some(LiveRefusal::MissingCredentials { .. })));
        assert_eq!(check_live_start(&[], Mode::Live, true, None).err().map(|e| e.0.len()), Some(1));
        assert_eq!(
            check_live_start(&[], Mode::Live, false, Some("yes")).err().map(|e| e.0),
            Some(vec![LiveRefusal::NoLiveFlag])
        );
        assert!(check_live_start(&[], Mode::Live, true, Some("yes")).is_ok());
    }
}
