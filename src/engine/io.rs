//! What goes into the engine ([`Input`]) and what comes out of one step ([`Outputs`]).

use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::config::{Config, Mode};
use crate::domain::{
    ClientOrderId, ExitReason, MarketId, ReasonCode, Side, TokenId, TradingState, WhaleId, WhaleVerdict,
};
use crate::market::{BookRefusalCounts, ClobMarketInfo, MarketName, OrderBook, VenuePosition, WhaleTrade};
use crate::plans::{PlanClose, PlanDecision, PlanOrder, PlanOrderReport, PlanQuote, PlanSource, PlanWire};
use crate::risk::{Approved, OrderIntent, Transition, WorkingPlanOrder};

use super::audit::AuditRecord;
use super::copy_rules::RejectReason;
use super::replay::ReplayReport;

/// One thing that happened, for the engine to react to.
#[derive(Debug, Clone)]
pub enum Input {
    /// A followed wallet traded (from the whale feed or a replayed session).
    WhaleTrade(Box<WhaleTrade>),
    /// A full order book for one token (from the price feed or a replayed session).
    Book(Box<OrderBook>),
    /// Best bid and ask only: the cheap price update (market websocket `best_bid_ask`, benchmarks).
    Quote(Quote),
    /// Tick size, minimum order size, fee curve and outcome labels of one market.
    MarketInfo(Box<ClobMarketInfo>),
    /// Market names read from the Gamma API (question, outcome names, end date).
    MarketNames(Vec<MarketName>),
    /// The market resolved: `winning_token` pays 1, every other outcome 0.
    Resolution { condition_id: String, winning_token_id: String },
    /// The market stopped trading before its resolution is known: its positions wait for the
    /// resolution (no exit orders, which the venue would refuse) and no longer count as watched.
    MarketClosed { condition_id: String },
    /// A market reported closed takes orders again: its positions are managed as before.
    MarketReopened { condition_id: String },
    /// What the executor did with an order.
    Execution(ExecutionReport),
    /// A human or another component wants something.
    Control(Control),
    /// Live mode: a reading of our wallet (its cash and the venue's positions of it).
    Wallet(Box<WalletReading>),
    /// A trade plan's order at its venue: its cumulative fills, or its refusal.
    PlanReport(Box<PlanOrderReport>),
    /// Best bid and ask of a plan's symbol at its venue.
    PlanQuote(Box<PlanQuote>),
    /// Time passed: staleness checks, breaker cooldown, day roll-over.
    Tick,
}

/// What one reading of the wallet found (live mode).
#[derive(Debug, Clone, PartialEq)]
pub struct WalletReading {
    /// Collateral (pUSD) the wallet holds.
    pub cash: Decimal,
    /// When the balance was read.
    pub read_at: Timestamp,
    /// The venue's positions of the funder wallet.
    pub positions: Vec<VenuePosition>,
}

/// Best bid and ask of one token, already interned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    pub token: TokenId,
    pub best_bid: Option<Decimal>,
    pub best_ask: Option<Decimal>,
}

/// Commands from the control API, signals and the health monitor.
#[derive(Debug, Clone)]
pub enum Control {
    /// Manual halt: nothing new is sent until a resume.
    Halt { detail: String },
    /// A human's resume (from any state, including `killed`).
    Resume { detail: String },
    /// Emergency: flatten every position, then stay killed until a resume.
    Kill { detail: String },
    /// Close one position now (reason `manual`), by its trade id.
    ClosePosition { trade_id: String },
    /// SIGHUP reload: a new, already validated configuration.
    SetConfig(Arc<Config>),
    /// The health monitor saw a degraded component: hold trading in `reducing` until released.
    HoldReducing { detail: String },
    /// The health hold is over.
    ReleaseHold { detail: String },
    /// A feed noticed that it has been unable to deliver fresh data.
    FeedStale { detail: String },
    /// A human takes the venue's position in a token into the books as a position of our own.
    Adopt { token_id: String },
    /// A human forgets a trade the venue no longer holds (closed with reason `reconciled`).
    Drop { trade_id: String },
    /// A human lifts a muted whale's mute before its cooldown ends.
    Unmute { wallet: String },
    /// A trade plan to decide on (from `POST /signals` or the inbox): validated, sized, checked.
    SubmitPlan { plan: Box<PlanWire>, source: PlanSource },
    /// An open plan ended at `exit_price` (an operator's report of its outcome).
    ClosePlan { plan_id: String, exit_price: Decimal },
}

impl Control {
    /// A command a human gave through the control API: it is answered (see [`ControlAnswer`]).
    pub fn is_human(&self) -> bool {
        matches!(
            self,
            Control::Halt { .. }
                | Control::Resume { .. }
                | Control::Kill { .. }
                | Control::ClosePosition { .. }
                | Control::Adopt { .. }
                | Control::Drop { .. }
                | Control::Unmute { .. }
                | Control::SubmitPlan { .. }
                | Control::ClosePlan { .. }
        )
    }
}

/// The engine's answer to the `seq`-th human command, for the control API's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlAnswer {
    pub seq: u64,
    pub outcome: ControlOutcome,
    pub message: String,
    /// A plan command's result: its decision, or its close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanAnswer>,
}

/// What a plan command gave, for the API's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAnswer {
    Decision(Box<PlanDecision>),
    Close(Box<PlanClose>),
}

impl ControlAnswer {
    pub fn ok(&self) -> bool {
        self.outcome == ControlOutcome::Done
    }
}

/// How a human command ended: the control API answers 200, 409 or 404 accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlOutcome {
    /// Applied (or, for a close, the exit is under way).
    Done,
    /// Understood but not applied in the current state (the message says why).
    Refused,
    /// The trade or token it names is not one the engine holds.
    NotFound,
}

/// What happened to one order, as reported by the executor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionReport {
    pub client_order_id: ClientOrderId,
    /// Shares filled by this report (not cumulative); zero when nothing filled.
    pub filled_size: Decimal,
    /// Average price of the shares filled by this report.
    pub avg_price: Decimal,
    /// Fees paid in USD.
    pub fee: Decimal,
    /// True when the order is finished (filled, cancelled, killed unfilled remainder, rejected).
    pub done: bool,
    /// Why the order finished without filling, if it did (venue rejection, no liquidity, dry run).
    pub note: Option<String>,
    pub at: Timestamp,
}

impl ExecutionReport {
    /// The order finished without filling anything, for the reason in `note`.
    pub fn unfilled(client_order_id: ClientOrderId, note: impl Into<String>, at: Timestamp) -> Self {
        Self {
            client_order_id,
            filled_size: Decimal::ZERO,
            avg_price: Decimal::ZERO,
            fee: Decimal::ZERO,
            done: true,
            note: Some(note.into()),
            at,
        }
    }
}

/// Something the engine decided or observed, for the store, the audit trail and alerts.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A trade opened, closed or rejected, or a trading-state change (also sent to the audit sink).
    Audit(AuditRecord),
    /// The risk manager's transition record (the store persists it before it matters), with the
    /// risk figures right after the input that caused it was applied: what a breaker or halt alert
    /// reports, rather than whatever observers last saw.
    StateChanged(Transition, StateFigures),
    /// An order intent the engine hands to the executor (persist before sending: write-ahead).
    /// `whale_trade_key` is the dedupe key of the whale trade an entry copies.
    OrderIntentRecorded { intent: OrderIntent, trade_id: String, whale_trade_key: Option<Arc<str>>, at: Timestamp },
    /// An execution report that changed a position; `fill_seq` numbers the fills of one order from 1.
    FillApplied {
        report: ExecutionReport,
        trade_id: String,
        fill_seq: u32,
        realised_pnl: Decimal,
        position_closed: bool,
    },
    /// An order is finished: `filled` of `ordered` shares were filled (the rest was cancelled).
    OrderFinished { client_order_id: ClientOrderId, filled: Decimal, ordered: Decimal, at: Timestamp },
    /// A position's figures after a fill, a close or a settlement (the store's `positions` row).
    PositionUpdated(Box<PositionUpdate>),
    /// The decision on a followed whale's trade, made once, with the trade's exact dedupe key: the
    /// store marks the trade seen with it, so that a restart neither decides on it twice nor loses it.
    WhaleTradeDecided(Box<WhaleTradeDecision>),
    /// A whale trade reached the engine (the store remembers seen trades; lag is measured here).
    WhaleTradeSeen { whale: WhaleId, market: MarketId, token: TokenId, side: Side, lag_ms: i64, at: Timestamp },
    /// The breaker's early warning: today's loss reached the warning share of the threshold.
    BreakerWarning { daily_pnl: Decimal, threshold: Decimal, at: Timestamp },
    /// Live mode: a resolved market's winning shares are to be redeemed on chain. Written ahead
    /// (`redemptions`, status `pending`) in the settlement's own group, before the redeemer sees it.
    RedemptionRequested(Box<RedemptionRequest>),
    /// A replayed session's last input has been applied (every event it caused is ahead of this
    /// one): what the feed read, for the closing summary.
    SessionEnded(Box<ReplayReport>),
    /// A market's names, new or changed (from a whale trade or Gamma): the store caches them.
    MarketNamed(Box<MarketName>),
    /// A trade plan was decided (the store keeps every decision; approved ones are announced).
    PlanDecided(Box<PlanDecision>),
    /// An open plan was closed with its outcome.
    PlanClosed(Box<PlanClose>),
    /// A plan order is about to be handed to its venue (written ahead with the step).
    PlanOrderStaged(Box<PlanOrder>),
    /// A plan order's state at its venue changed (fills, done, refused).
    PlanOrderReported(Box<PlanOrderReport>),
    /// A plan ended with nothing filled; its risk is released.
    PlanUnfilled { plan_id: String, symbol: String, at: Timestamp },
}

/// The risk figures at a trading-state change: the same numbers `/status` shows once the step
/// that caused the change is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateFigures {
    /// Today's P&L, realised plus unrealised.
    pub daily_pnl: Decimal,
    pub drawdown_percent: Decimal,
    pub open_positions: u32,
}

/// The redemption of one resolved market's winning shares (live mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionRequest {
    /// `<condition id>/<trade id of the first winning position settled>`: unique, and the same
    /// after a restart.
    pub redemption_id: String,
    pub condition_id: String,
    /// The winning token held.
    pub token_id: String,
    /// Its outcome label.
    pub outcome: String,
    /// The winning shares held when the market resolved (the USD the redemption pays).
    pub shares: Decimal,
    /// Whether the market redeems through the NegRiskAdapter (from its book).
    pub neg_risk: bool,
    pub at: Timestamp,
}

impl EngineEvent {
    /// Whether an alert should go out for this event.
    pub fn is_alertable(&self) -> bool {
        matches!(self, EngineEvent::StateChanged(..) | EngineEvent::BreakerWarning { .. })
            || matches!(
                self,
                EngineEvent::Audit(
                    AuditRecord::TradeClosed(_)
                        | AuditRecord::TradeOpened(_)
                        | AuditRecord::MarketClosed(_)
                        | AuditRecord::MarketReopened(_)
                        | AuditRecord::WhaleStandingChanged(_)
                )
            )
    }
}

/// A position as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionUpdate {
    pub trade_id: String,
    pub whale: WhaleId,
    pub market: MarketId,
    pub token: TokenId,
    pub outcome: String,
    pub side: Side,
    /// Shares bought.
    pub entry_size: Decimal,
    /// Shares still held.
    pub open_size: Decimal,
    pub avg_entry_price: Decimal,
    pub opened_at: Timestamp,
    /// The best price seen since entry (the trailing stop's reference), while open.
    pub high_water: Option<Decimal>,
    pub close: Option<PositionClose>,
}

/// How a position ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionClose {
    pub exit_price: Decimal,
    pub realised_pnl: Decimal,
    pub closed_at: Timestamp,
    pub reason: ExitReason,
}

/// What the engine decided about one whale trade. It names the whale, market and token by their
/// interned ids and its reason by a static code: the decision is made on the hot path, and the
/// journal turns it into text (see [`super::journal`]) off it.
#[derive(Debug, Clone, PartialEq)]
pub struct WhaleTradeDecision {
    /// The exact dedupe key (the text form of [`crate::market::TradeKey`], see [`WhaleTrade::write_key_text`]),
    /// shared with the order intent that copies the trade.
    pub key: Arc<str>,
    pub whale: WhaleId,
    pub market: MarketId,
    pub token: TokenId,
    pub traded_at: Timestamp,
    pub outcome: DecisionOutcome,
    pub at: Timestamp,
}

/// What was decided, with its reason and figures, kept typed until the journal writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionOutcome {
    /// The entry order that copies the trade.
    Copied { side: Side, size: Decimal, price: Decimal, mode: Mode },
    /// `orders` exit orders went out for a whale sale of `sold` of the `held` shares it held.
    WhaleExit { orders: usize, sold: Decimal, held: Decimal },
    /// The whale sold a token we hold none of through it.
    NotHeld,
    /// Why a copy rule or the risk manager refused the trade, and the limit and value that broke.
    Rejected { reason: RejectReason, detail: String },
}

impl DecisionOutcome {
    pub fn verdict(&self) -> WhaleVerdict {
        match self {
            Self::Copied { .. } | Self::WhaleExit { .. } => WhaleVerdict::Approved,
            Self::Rejected { .. } => WhaleVerdict::Rejected,
            Self::NotHeld => WhaleVerdict::Skipped,
        }
    }

    /// The stored reason code: `copied`, the rejection's code, `whale_exit` or `not_held`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Copied { .. } => "copied",
            Self::WhaleExit { .. } => ExitReason::WhaleExit.as_str(),
            Self::NotHeld => "not_held",
            Self::Rejected { reason, .. } => reason.as_str(),
        }
    }
}

impl fmt::Display for DecisionOutcome {
    /// The human-readable detail stored beside the reason code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Copied { side, size, price, mode } => write!(f, "{side} {size} @ {price} ({mode})"),
            Self::WhaleExit { orders, sold, held } => {
                write!(f, "{orders} exit order(s) for {sold} of {held} shares the whale held")
            }
            Self::NotHeld => f.write_str("no open position copied from this whale in this token"),
            Self::Rejected { detail, .. } => f.write_str(detail),
        }
    }
}

/// The outputs of one step. The buffers are reused from step to step (call [`Outputs::clear`]), so a
/// price update that triggers nothing allocates nothing.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Orders for the executor, in the order they must be sent: only approved ones can be.
    pub intents: Vec<Approved>,
    /// Working orders to cancel (entries still working when the kill switch flips).
    pub cancels: Vec<ClientOrderId>,
    /// Events for the store, the audit trail and alerts.
    pub events: Vec<EngineEvent>,
    /// Orders of trade plans for the plan executor (entries of approved plans, exits), each
    /// written ahead with the step before it is handed over.
    pub plan_orders: Vec<PlanOrder>,
    /// Plan orders still working to cancel (an entry whose stop was reached, a close, the kill switch).
    pub plan_cancels: Vec<WorkingPlanOrder>,
}

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.intents.clear();
        self.cancels.clear();
        self.events.clear();
        self.plan_orders.clear();
        self.plan_cancels.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
            && self.cancels.is_empty()
            && self.events.is_empty()
            && self.plan_orders.is_empty()
            && self.plan_cancels.is_empty()
    }
}

/// A cheap copy of the engine's state for observers (`whale-trader status`, `/status`, metrics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EngineStatus {
    pub trading_state: TradingState,
    pub open_positions: usize,
    pub pending_orders: usize,
    pub inputs_processed: u64,
    pub whale_trades_seen: u64,
    pub trades_opened: u64,
    pub trades_closed: u64,
    pub trades_rejected: u64,
    pub realised_pnl_usd: Decimal,
    pub last_input_at: Option<Timestamp>,
    pub last_rejection: Option<ReasonCode>,
    /// Whale trades that arrived again after being decided on (skipped, never decided twice).
    #[serde(default)]
    pub duplicate_whale_trades: u64,
    /// How exits went: orders, retries, widened bounds, refusals, deferrals.
    #[serde(default)]
    pub exits: ExitCounters,
    /// Books the engine refused since it started, per cause (filled by [`super::Engine::status`];
    /// never in a checkpoint: like every counter of a process, it starts from zero).
    #[serde(default, skip_serializing_if = "BookRefusalCounts::is_zero")]
    pub books_refused: BookRefusalCounts,
    /// Human commands processed so far, and the answer to the last one that gives one.
    #[serde(default)]
    pub human_controls: u64,
    #[serde(default)]
    pub control_answer: Option<ControlAnswer>,
    /// Live mode: wallet readings applied, and position mismatches reported.
    #[serde(default)]
    pub wallet_readings: u64,
    #[serde(default)]
    pub position_mismatches_reported: u64,
}

/// Counters of the exit policy (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ExitCounters {
    /// Exit orders sent, retries included.
    pub orders: u64,
    /// Exit orders sent again for shares an earlier one left unsold.
    pub retries: u64,
    /// Exit orders that finished with shares unsold (a thin book, a venue refusal).
    pub unfilled: u64,
    /// Exits the risk manager refused (tried again later).
    pub refused: u64,
    /// Price bounds widened after their tries.
    pub widenings: u64,
    /// Positions whose rest is below the venue's minimum order size, held until resolution.
    pub deferred: u64,
}
