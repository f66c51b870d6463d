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
//! Only an order the risk manager approved can be submitted: [`Executor::submit`] takes
//! [`Approved`], which nothing outside the risk module can make. Simulated executors answer at
//! once, so replay needs no channel hop; the live one sends the order and feeds its reports back
//! into the engine's queue. Cancels the engine decides (the kill switch's working entries) go to
//! [`Executor::cancel`]: the executor that owns an order is the one that can stop it.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::ClientOrderId;
use crate::market::{FillRequest, OrderBook, simulate_fill};
use crate::plans::PlanOrder;
use crate::risk::{Approved, OrderIntent, WorkingPlanOrder};

use super::io::ExecutionReport;
use super::market_data::VenueRules;

/// The market as an executor may see it when an order is submitted.
#[derive(Debug, Clone, Copy)]
pub struct MarketView<'a> {
    /// The latest book of the order's token, if any arrived.
    pub book: Option<&'a OrderBook>,
    pub rules: VenueRules,
}

/// Carries out order intents.
pub trait Executor: Send {
    fn mode(&self) -> Mode;

    /// Handles one approved order at `now`. Simulated executors push their report(s) into `reports`
    /// right away; the engine applies them before the next input.
    fn submit(&mut self, order: &Approved, market: MarketView<'_>, now: Timestamp, reports: &mut Vec<ExecutionReport>);

    /// Stops orders still working (the kill switch's entries). An order already finished is left
    /// alone; what a cancelled order had filled is reported like any outcome.
    fn cancel(&mut self, orders: &[ClientOrderId], now: Timestamp, reports: &mut Vec<ExecutionReport>);

    /// Finds out what became of an order that was written ahead (durable in the store) but whose
    /// outcome was lost in a crash or restart. It must never send the order again: a live venue is
    /// asked about it (by its client or venue order id); a simulated venue, whose only memory is the
    /// deterministic fill model, answers with what that model gives for the order. Reports go into
    /// `reports` (simulated) or back through the engine's queue (live), like [`Executor::submit`].
    fn reconcile(
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
        order: &Approved,
        _market: MarketView<'_>,
        now: Timestamp,
        reports: &mut Vec<ExecutionReport>,
    ) {
        let intent = order.order();
        tracing::info!(
            order = %intent.client_order_id,
            side = %intent.side,
            size = %intent.size,
            price = %intent.price,
            "dry run: order recorded, not sent"
        );
        reports.push(ExecutionReport::unfilled(intent.client_order_id, "dry run", now));
    }

    /// Nothing is ever working in a dry run: each order finished, unfilled, when it was submitted.
    fn cancel(&mut self, _orders: &[ClientOrderId], _now: Timestamp, _reports: &mut Vec<ExecutionReport>) {}

    /// A dry-run order never reached any venue: it finished unfilled.
    fn reconcile(
        &mut self,
        intent: &OrderIntent,
        _market: MarketView<'_>,
        now: Timestamp,
        reports: &mut Vec<ExecutionReport>,
    ) {
        reports.push(ExecutionReport::unfilled(intent.client_order_id, "dry run", now));
    }
}

/// Carries out trade plans' orders at a crypto venue: the seam each venue's executor fills. Like
/// [`Executor`], it never makes the engine wait: an order is handed over (already durable in the
/// store) and its venue's reports come back through the engine's queue as `Input::PlanReport`.
pub trait PlanExecutor: Send {
    fn mode(&self) -> Mode;

    /// Hands one plan order to the venue at `now` (a dry run only logs it).
    fn submit(&mut self, order: &PlanOrder, now: Timestamp);

    /// Cancels plan orders still working; what they filled comes back as their reports.
    fn cancel(&mut self, orders: &[WorkingPlanOrder], now: Timestamp);

    /// Asks the venue about orders written ahead whose outcome a restart lost, by their client
    /// order ids, and follows each to its end. Never sends any of them again: one the venue never
    /// received ends unfilled.
    fn reconcile(&mut self, orders: &[WorkingPlanOrder], now: Timestamp);
}

/// Stages and logs a plan's order as the one it would send; nothing leaves the process.
#[derive(Debug, Default, Clone, Copy)]
pub struct DryRunPlanExecutor;

impl PlanExecutor for DryRunPlanExecutor {
    fn mode(&self) -> Mode {
        Mode::DryRun
    }

    fn submit(&mut self, order: &PlanOrder, now: Timestamp) {
        let price = order.price.unwrap_or_default();
        tracing::info!(
            event = "ORDER_SUBMITTED",
            mode = %Mode::DryRun,
            client_order_id = %order.client_order_id,
            plan = %order.plan_id,
            symbol = %order.symbol,
            kind = %order.kind,
            side = %order.side,
            price = %price,
            units = %order.units,
            notional_usd = %(price * order.units).round_dp(2),
            stop = %order.stop_loss.unwrap_or_default(),
            take_profit = %order.take_profit.unwrap_or_default(),
            leverage = %order.leverage,
            at = %now,
            "ORDER_SUBMITTED (dry run): staged and logged, not sent"
        );
    }

    /// A dry run's plans hold no position at a venue, so none of their orders is ever working.
    fn cancel(&mut self, _orders: &[WorkingPlanOrder], _now: Timestamp) {}

    /// Nothing was ever sent, so there is nothing to ask about.
    fn reconcile(&mut self, _orders: &[WorkingPlanOrder], _now: Timestamp) {}
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

    fn submit(&mut self, order: &Approved, market: MarketView<'_>, now: Timestamp, reports: &mut Vec<ExecutionReport>) {
        reports.push(self.fill(order.order(), market, now));
    }

    /// Paper orders are fill-and-kill against the book: none is still working to cancel.
    fn cancel(&mut self, _orders: &[ClientOrderId], _now: Timestamp, _reports: &mut Vec<ExecutionReport>) {}

    /// The paper venue keeps no order book of its own: what it did with an order is what the fill
    /// model gives for that order against the book the engine holds, so reconciling asks the model
    /// again. Nothing is sent anywhere, and the order keeps its one row in the store.
    fn reconcile(
        &mut self,
        intent: &OrderIntent,
        market: MarketView<'_>,
        now: Timestamp,
        reports: &mut Vec<ExecutionReport>,
    ) {
        reports.push(self.fill(intent, market, now));
    }
}

impl PaperExecutor {
    /// What the fill model gives `intent` against the book in `market`.
    fn fill(&self, intent: &OrderIntent, market: MarketView<'_>, now: Timestamp) -> ExecutionReport {
        let unfilled = |note: String| ExecutionReport::unfilled(intent.client_order_id, note, now);
        let Some(book) = market.book else {
            return unfilled("no current book for this token".to_owned());
        };
        let request = FillRequest {
            side: intent.side,
            limit_price: intent.price,
            size: intent.size,
            extra_slippage_bps: self.extra_slippage_bps,
        };
        // The fill model walks the book within the limit, taker fee per level.
        match simulate_fill(book, &request, &market.rules.fee) {
            Ok(fill) => ExecutionReport {
                client_order_id: intent.client_order_id,
                filled_size: fill.filled_size,
                avg_price: fill.average_price.unwrap_or_default(),
                fee: fill.fee,
                done: true,
                note: (!fill.is_complete())
                    .then(|| format!("book too thin: {} of {} shares filled", fill.filled_size, intent.size)),
                at: now,
            },
            Err(e) => unfilled(format!("paper fill refused: {e}")),
        }
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
    /// The trade plans' venue (`signals.venue`) is not ready for the mode.
    #[error("{0}")]
    Venue(#[from] crate::venues::VenueRefusal),
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
    use crate::domain::{ClientOrderId, MarketId, Side, TokenId};

    const BOOK: &str = r#"{"market":"m","asset_id":"t","timestamp":"1000","bids":[{"price":"0.29","size":"100"},{"price":"0.30","size":"10"}],"asks":[{"price":"0.54","size":"26.99"},{"price":"0.53","size":"13.49"},{"price":"0.43","size":"8.37"}],"min_order_size":"5","tick_size":"0.01"}"#;

    fn order(side: Side, price: Decimal, size: Decimal) -> OrderIntent {
        OrderIntent::entry(ClientOrderId(9), MarketId(0), TokenId(0), side, price, size)
    }

    fn submit(executor: &mut dyn Executor, intent: &OrderIntent, book: Option<&OrderBook>) -> ExecutionReport {
        let mut reports = Vec::new();
        let order = Approved::unchecked(*intent);
        executor.submit(&order, MarketView { book, rules: VenueRules::default() }, Timestamp(5), &mut reports);
        assert_eq!(reports.len(), 1);
        reports.pop().unwrap_or_else(|| panic!("no report"))
    }

    fn book() -> OrderBook {
        OrderBook::from_json(BOOK).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn paper_buy_walks_the_asks_up_to_the_limit_with_fees() {
        let report = submit(&mut PaperExecutor::default(), &order(Side::Buy, dec!(0.53), dec!(30)), Some(&book()));
        // 8.37 at 0.43 and 13.49 at 0.53; 0.54 is above the limit: a partial fill of 21.86.
        let notional = dec!(8.37) * dec!(0.43) + dec!(13.49) * dec!(0.53);
        let fee =
            dec!(8.37) * dec!(0.05) * dec!(0.43) * dec!(0.57) + dec!(13.49) * dec!(0.05) * dec!(0.53) * dec!(0.47);
        assert_eq!((report.filled_size, report.avg_price, report.fee), (dec!(21.86), notional / dec!(21.86), fee));
        assert!(report.done);
        assert!(report.note.is_some_and(|n| n.contains("too thin")));
    }

    #[test]
    fn paper_sell_with_slippage_and_without_a_book() {
        let mut paper = PaperExecutor::new(dec!(100));
        let report = submit(&mut paper, &order(Side::Sell, dec!(0.01), dec!(20)), Some(&book()));
        // 1 % slippage: 10 at 0.297 and 10 at 0.2871.
        assert_eq!((report.filled_size, report.avg_price), (dec!(20), dec!(0.29205)));
        let report = submit(&mut paper, &order(Side::Sell, dec!(0.01), dec!(20)), None);
        assert_eq!((report.filled_size, report.done), (dec!(0), true));
    }

    #[test]
    fn dry_run_never_fills() {
        let report = submit(&mut DryRunExecutor, &order(Side::Buy, dec!(0.53), dec!(10)), Some(&book()));
        assert_eq!((report.filled_size, report.done, report.note.as_deref()), (dec!(0), true, Some("dry run")));
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
