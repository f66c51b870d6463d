//! The trade audit trail: every trade opened, closed or rejected and
//! every trading-state change, as one flat JSON record each.
//!
//! The engine hands each record to an [`AuditSink`]. The daemon's sink writes it to `tracing` under
//! [`AUDIT_TARGET`], which the logging module routes to `trade_audit.log`; tests collect records in
//! memory and compare them exactly; benchmarks discard them.

use std::sync::{Arc, Mutex, PoisonError};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Target of the trade audit trail. Mirrors `crate::logging::AUDIT_TARGET` so that `trade_audit.log`
/// receives these records.
pub use crate::logging::AUDIT_TARGET;

/// What the engine knew when it decided on a whale trade: the sizing inputs and the risk state.
/// Flat on `trade_opened` and `trade_rejected`; every field is absent on records written before
/// it existed (and the sizing on a trade refused before it was sized).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionContext {
    /// Equity when deciding, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equity_usd: Option<Decimal>,
    /// `fixed_usd`, `proportional` or `risk_based` (`copy.sizing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing_rule: Option<String>,
    /// What the rule gave times the whale's multiplier, USD at the limit price, before any cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sized_usd: Option<Decimal>,
    /// The cap that made the size smaller than the rule's: `max_usd_per_trade` (the whale's) or the
    /// risk limit's reason code (`max_position_size`, `max_total_exposure`, …); `none` when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_cap: Option<String>,
    /// The risk state: trading state, open positions, their exposure (USD), today's P&L (USD)
    /// and the drawdown from the equity peak (percent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_positions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure_usd: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_pnl_usd: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawdown_percent: Option<Decimal>,
    /// The market's regime at the signal (`trend`, `range`, `volatile` or `unknown`), from the
    /// token's recent mids (`crate::market::RegimeTracker`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regime: Option<String>,
}

/// `trade_opened`: a copied entry filled (fully or partly) and a position exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeOpened {
    pub trade_id: String,
    /// The whale trade copied, as `trade_rejected` names a refused one; empty (and left out) for a
    /// position adopted from the wallet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub whale_trade_id: String,
    pub whale_address: String,
    pub market_id: String,
    pub token_id: String,
    /// The whale's label from the config, or its short address (the address stays in `whale_address`).
    #[serde(default)]
    pub whale_label: String,
    /// The market's question, or its short id (the id stays in `market_id`).
    #[serde(default)]
    pub market_title: String,
    /// The outcome label as the whale's trade named it (`Yes`, `Down`, a team name).
    pub outcome: String,
    pub side: String,
    /// Shares held.
    pub size: Decimal,
    /// Average entry price, fees excluded.
    pub price: Decimal,
    /// Shares × price.
    pub notional_usd: Decimal,
    pub whale_price: Decimal,
    pub whale_size: Decimal,
    /// Our entry against the whale's fill over the shares held, in USD (positive: we paid more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slippage_usd: Option<Decimal>,
    /// `dry-run`, `paper` or `live`.
    pub mode: String,
    /// RFC 3339 with milliseconds.
    pub timestamp: String,
    /// The initial risk at entry, USD: the entry notional times the stop-loss fraction, or the
    /// whole notional without a stop loss. A closed trade's R multiple is its P&L over this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_usd: Option<Decimal>,
    /// Boxed: it would double the size of every audit record and engine event otherwise.
    #[serde(flatten)]
    pub context: Box<DecisionContext>,
}

/// `trade_closed`: a position was closed (all of its shares are gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeClosed {
    pub trade_id: String,
    /// The whale the position copied.
    #[serde(default)]
    pub whale_address: String,
    /// The whale's label from the config, or its short address (the address stays in `whale_address`).
    #[serde(default)]
    pub whale_label: String,
    /// The market and outcome the position held.
    #[serde(default)]
    pub market_id: String,
    /// The market's question, or its short id (the id stays in `market_id`).
    #[serde(default)]
    pub market_title: String,
    /// The outcome's name, or the token's short id.
    #[serde(default)]
    pub outcome: String,
    /// Average exit price over the position's exits.
    pub exit_price: Decimal,
    /// Realised P&L of the whole position, fees included.
    pub pnl_usd: Decimal,
    /// The entry's slippage against the whale's fill, in USD (as on `trade_opened`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slippage_usd: Option<Decimal>,
    /// What the same shares made at the whale's price, without fees: the whale's own result, so
    /// that `whale_pnl_usd − pnl_usd` is the edge lost to latency and costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whale_pnl_usd: Option<Decimal>,
    pub hold_time_seconds: i64,
    /// `stop_loss`, `take_profit`, `trailing_stop`, `whale_exit`, `market_resolved`, `manual` or `kill`.
    pub reason: String,
    pub timestamp: String,
}

/// `trade_rejected`: a whale trade that was not copied, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeRejected {
    pub whale_trade_id: String,
    pub whale_address: String,
    pub market_id: String,
    pub token_id: String,
    /// The whale's label from the config, or its short address (the address stays in `whale_address`).
    #[serde(default)]
    pub whale_label: String,
    /// The market's question, or its short id (the id stays in `market_id`).
    #[serde(default)]
    pub market_title: String,
    /// The outcome's name, or the token's short id.
    #[serde(default)]
    pub outcome: String,
    /// A stable snake_case reason code (`price_moved`, `max_positions_per_whale`, …).
    pub reason: String,
    /// The limit and the value that broke it, for a human.
    pub detail: String,
    pub timestamp: String,
    /// Boxed: it would double the size of every audit record and engine event otherwise.
    #[serde(flatten)]
    pub context: Box<DecisionContext>,
}

/// `trading_state_changed`: every transition between `active`, `reducing`, `halted` and `killed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradingStateChanged {
    pub from: String,
    pub to: String,
    pub reason: String,
    pub detail: String,
    pub timestamp: String,
}

/// `exit_order`: one order of a position's exit went out (every try, the first included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitOrder {
    pub trade_id: String,
    /// 1 for the first order of this exit, then 2, 3, … for the retries.
    pub attempt: u32,
    /// The exit reason (`stop_loss`, `kill`, …).
    pub reason: String,
    pub size: Decimal,
    /// The worst acceptable price.
    pub limit_price: Decimal,
    /// The price the bound was measured from (the best bid for a sell).
    pub mark: Decimal,
    /// The bound, in percent beyond the mark.
    pub slippage_percent: Decimal,
    pub timestamp: String,
}

/// `exit_escalated`: an exit has not ended after its tries at one bound; the bound was widened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitEscalated {
    pub trade_id: String,
    pub reason: String,
    /// Orders sent so far for this exit.
    pub attempts: u32,
    /// The new bound, in percent beyond the mark.
    pub slippage_percent: Decimal,
    /// Shares still to sell.
    pub remaining: Decimal,
    pub timestamp: String,
}

/// `exit_deferred`: what is left of a position is below the venue's minimum order size, which the
/// venue refuses to trade; it is held until the market resolves and settles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitDeferred {
    pub trade_id: String,
    /// Why the exit was wanted.
    pub exit_reason: String,
    /// `below_venue_minimum`.
    pub reason: String,
    pub size: Decimal,
    pub min_order_size: Decimal,
    pub timestamp: String,
}

/// `position_mismatch`: the venue's holding of a token and ours disagree (live mode). Reported once
/// per disagreement; trading stays `reducing` until a human resolves it (`adopt`, `drop`, `resume`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionMismatchRecord {
    pub token_id: String,
    pub market_id: String,
    /// `unknown_to_us`, `missing_at_venue` or `size_differs`.
    pub kind: String,
    /// Shares our open trades hold, and which trades.
    pub ours: Decimal,
    pub trade_ids: Vec<String>,
    /// Shares the venue holds, and its average price.
    pub venue: Decimal,
    pub venue_avg_price: Decimal,
    pub timestamp: String,
}

/// `position_adopted`: a human took the venue's shares of a token into the books as a position of
/// our own (no whale; stops anchored at the venue's average price).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionAdopted {
    pub trade_id: String,
    pub token_id: String,
    pub market_id: String,
    pub size: Decimal,
    pub price: Decimal,
    pub timestamp: String,
}

/// `position_dropped`: a human forgot a trade the venue no longer holds; it closed with reason
/// `reconciled` and its P&L was booked at its last mark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionDropped {
    pub trade_id: String,
    pub token_id: String,
    pub size: Decimal,
    pub mark: Decimal,
    pub pnl_usd: Decimal,
    pub timestamp: String,
}

/// `market_closed`: a market we hold stopped trading before its resolution is known (closed, or no
/// longer taking orders and without a book). Its positions wait for the resolution: no exit orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketClosed {
    pub market_id: String,
    /// The market's question, or its short id (the id stays in `market_id`).
    #[serde(default)]
    pub market_title: String,
    /// The open trades held in it, by trade id.
    pub trade_ids: Vec<String>,
    pub timestamp: String,
}

/// `market_reopened`: a market reported closed takes orders again; its positions are managed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketReopened {
    pub market_id: String,
    /// The market's question, or its short id (the id stays in `market_id`).
    #[serde(default)]
    pub market_title: String,
    pub trade_ids: Vec<String>,
    pub timestamp: String,
}

/// `whale_standing_changed`: a copied whale was muted by its breaker (`muted`), locked for low
/// profit (`locked`), or let go again (`unmuted`, `unlocked`). Its new copies are refused while it
/// is muted or locked; its exits are still mirrored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhaleStandingChanged {
    pub whale_address: String,
    /// The whale's label from the config, or its short address (the address stays in `whale_address`).
    #[serde(default)]
    pub whale_label: String,
    /// `muted`, `unmuted`, `locked` or `unlocked`.
    pub change: String,
    /// `consecutive_losses` or `daily_loss_limit` (muted), `whale_low_profit` (locked),
    /// `cooldown_elapsed` or `manual_resume` (unmuted), `whale_low_profit` (unlocked).
    pub reason: String,
    pub detail: String,
    /// RFC 3339: when a mute ends, for `muted`.
    pub until: Option<String>,
    pub timestamp: String,
}

/// `signal_approved`: a trade plan passed validation and the risk check; its order is staged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalApproved {
    pub plan_id: String,
    pub symbol: String,
    pub direction: String,
    /// `api` or `inbox:<file>`.
    pub source: String,
    pub score: Decimal,
    pub quality_tier: String,
    pub regime: String,
    pub entry_near: Decimal,
    pub entry_far: Decimal,
    pub stop: Decimal,
    /// The targets, nearest first, comma-separated.
    pub targets: String,
    /// Mean R of the targets.
    pub reward_to_risk: Decimal,
    pub units: Decimal,
    pub notional_usd: Decimal,
    /// The loss at the stop, USD: what the exposure limits count.
    pub risk_usd: Decimal,
    pub risk_percent: Decimal,
    pub equity_usd: Decimal,
    pub leverage: Decimal,
    pub atr_factor: Decimal,
    /// The maximum notional cut the size down.
    pub capped: bool,
    pub client_order_id: String,
    /// The executor's mode: `dry_run` stages and logs only.
    pub mode: String,
    pub timestamp: String,
}

/// `signal_rejected`: a trade plan refused, with its reason code. Fields the plan lacked are empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRejected {
    pub plan_id: String,
    pub symbol: String,
    pub direction: String,
    pub source: String,
    /// `incomplete_plan`, `stop_wrong_side`, `duplicate_plan`, `double_fire`, `per_asset_exposure`, …
    pub reason: String,
    pub detail: String,
    /// The plan's grade and regime, once it was complete enough to have them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub quality_tier: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub regime: String,
    pub trading_state: String,
    pub equity_usd: Decimal,
    pub timestamp: String,
}

/// `signal_closed`: an open plan closed with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalClosed {
    pub plan_id: String,
    pub symbol: String,
    pub direction: String,
    pub entry: Decimal,
    pub exit_price: Decimal,
    pub units: Decimal,
    pub pnl_usd: Decimal,
    pub r_multiple: Decimal,
    pub timestamp: String,
}

/// `signal_order`: an order of an approved plan, written ahead and handed to its venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalOrder {
    pub plan_id: String,
    pub symbol: String,
    pub client_order_id: String,
    /// `entry`, or `exit (stop_loss)`, `exit (target_1)`, `exit (manual)`, `exit (kill_switch)`.
    pub kind: String,
    pub side: String,
    /// The limit price; absent for a market order.
    pub price: Option<Decimal>,
    pub units: Decimal,
    pub reduce_only: bool,
    pub mode: String,
    pub timestamp: String,
}

/// `signal_fill`: a plan order filled more at its venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalFill {
    pub plan_id: String,
    pub symbol: String,
    pub client_order_id: String,
    pub venue_order_id: Option<String>,
    pub kind: String,
    /// Newly filled by this report.
    pub units: Decimal,
    /// Filled so far, and at what average price.
    pub filled: Decimal,
    pub average_price: Decimal,
    pub fee: Decimal,
    /// Nothing more will fill.
    pub done: bool,
    pub timestamp: String,
}

/// `signal_order_refused`: a venue refused a plan order (or it could not be sent), with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalOrderRefused {
    pub plan_id: String,
    pub symbol: String,
    pub client_order_id: String,
    pub kind: String,
    /// `insufficient_balance`, `filter_failure`, `timestamp_outside_recv_window`, `not_sent`, …
    pub reason: String,
    /// The venue's code and message, or why the order was not sent.
    pub detail: String,
    pub timestamp: String,
}

/// `signal_unfilled`: a plan ended with nothing filled (its entry refused, cancelled or timed out);
/// its risk is released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalUnfilled {
    pub plan_id: String,
    pub symbol: String,
    pub timestamp: String,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditRecord {
    TradeOpened(TradeOpened),
    TradeClosed(TradeClosed),
    TradeRejected(TradeRejected),
    TradingStateChanged(TradingStateChanged),
    ExitOrder(ExitOrder),
    ExitEscalated(ExitEscalated),
    ExitDeferred(ExitDeferred),
    PositionMismatch(PositionMismatchRecord),
    PositionAdopted(PositionAdopted),
    PositionDropped(PositionDropped),
    MarketClosed(MarketClosed),
    MarketReopened(MarketReopened),
    WhaleStandingChanged(WhaleStandingChanged),
    SignalApproved(SignalApproved),
    SignalRejected(SignalRejected),
    SignalClosed(SignalClosed),
    SignalOrder(SignalOrder),
    SignalFill(SignalFill),
    SignalOrderRefused(SignalOrderRefused),
    SignalUnfilled(SignalUnfilled),
}

impl AuditRecord {
    /// The `event` field: `trade_opened`, `trade_closed`, `trade_rejected`, `trading_state_changed`,
    /// `exit_order`, `exit_escalated`, `exit_deferred`, `market_closed`, `market_reopened` or
    /// `whale_standing_changed`.
    pub fn event_name(&self) -> &'static str {
        match self {
            AuditRecord::TradeOpened(_) => "trade_opened",
            AuditRecord::TradeClosed(_) => "trade_closed",
            AuditRecord::TradeRejected(_) => "trade_rejected",
            AuditRecord::TradingStateChanged(_) => "trading_state_changed",
            AuditRecord::ExitOrder(_) => "exit_order",
            AuditRecord::ExitEscalated(_) => "exit_escalated",
            AuditRecord::ExitDeferred(_) => "exit_deferred",
            AuditRecord::PositionMismatch(_) => "position_mismatch",
            AuditRecord::PositionAdopted(_) => "position_adopted",
            AuditRecord::PositionDropped(_) => "position_dropped",
            AuditRecord::MarketClosed(_) => "market_closed",
            AuditRecord::MarketReopened(_) => "market_reopened",
            AuditRecord::WhaleStandingChanged(_) => "whale_standing_changed",
            AuditRecord::SignalApproved(_) => "signal_approved",
            AuditRecord::SignalRejected(_) => "signal_rejected",
            AuditRecord::SignalClosed(_) => "signal_closed",
            AuditRecord::SignalOrder(_) => "signal_order",
            AuditRecord::SignalFill(_) => "signal_fill",
            AuditRecord::SignalOrderRefused(_) => "signal_order_refused",
            AuditRecord::SignalUnfilled(_) => "signal_unfilled",
        }
    }

    /// The reason carried by the record, if any (closing reason, rejection code, transition reason).
    pub fn reason(&self) -> Option<&str> {
        match self {
            AuditRecord::TradeOpened(_) => None,
            AuditRecord::TradeClosed(r) => Some(&r.reason),
            AuditRecord::TradeRejected(r) => Some(&r.reason),
            AuditRecord::TradingStateChanged(r) => Some(&r.reason),
            AuditRecord::ExitOrder(r) => Some(&r.reason),
            AuditRecord::ExitEscalated(r) => Some(&r.reason),
            AuditRecord::ExitDeferred(r) => Some(&r.reason),
            AuditRecord::PositionMismatch(r) => Some(&r.kind),
            AuditRecord::PositionAdopted(_) | AuditRecord::PositionDropped(_) => None,
            AuditRecord::MarketClosed(_) | AuditRecord::MarketReopened(_) => None,
            AuditRecord::WhaleStandingChanged(r) => Some(&r.reason),
            AuditRecord::SignalRejected(r) => Some(&r.reason),
            AuditRecord::SignalOrderRefused(r) => Some(&r.reason),
            AuditRecord::SignalApproved(_) | AuditRecord::SignalClosed(_) => None,
            AuditRecord::SignalOrder(_) | AuditRecord::SignalFill(_) | AuditRecord::SignalUnfilled(_) => None,
        }
    }

    /// The record as one JSON line (the golden-file format of the end-to-end test).
    pub fn to_json_line(&self) -> String {
        // Serializing plain strings and decimals cannot fail; fall back to the event name regardless.
        serde_json::to_string(self).unwrap_or_else(|_| format!("{{\"event\":\"{}\"}}", self.event_name()))
    }
}

/// Where audit records go.
pub trait AuditSink: Send {
    fn record(&mut self, record: &AuditRecord);
}

/// The daemon's sink: one `tracing` event per record under [`AUDIT_TARGET`], its fields flat.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingAuditSink;

impl AuditSink for TracingAuditSink {
    fn record(&mut self, record: &AuditRecord) {
        match record {
            AuditRecord::TradeOpened(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "trade_opened",
                trade_id = %r.trade_id,
                whale_trade_id = %r.whale_trade_id,
                whale_address = %r.whale_address,
                market_id = %r.market_id,
                token_id = %r.token_id,
                whale_label = %r.whale_label,
                market_title = %r.market_title,
                outcome = %r.outcome,
                side = %r.side,
                size = %r.size,
                price = %r.price,
                notional_usd = %r.notional_usd,
                whale_price = %r.whale_price,
                whale_size = %r.whale_size,
                slippage_usd = r.slippage_usd.map(tracing::field::display),
                mode = %r.mode,
                timestamp = %r.timestamp,
                risk_usd = r.risk_usd.map(tracing::field::display),
                equity_usd = r.context.equity_usd.map(tracing::field::display),
                sizing_rule = r.context.sizing_rule.as_deref(),
                sized_usd = r.context.sized_usd.map(tracing::field::display),
                size_cap = r.context.size_cap.as_deref(),
                trading_state = r.context.trading_state.as_deref(),
                open_positions = r.context.open_positions,
                exposure_usd = r.context.exposure_usd.map(tracing::field::display),
                daily_pnl_usd = r.context.daily_pnl_usd.map(tracing::field::display),
                drawdown_percent = r.context.drawdown_percent.map(tracing::field::display),
                regime = r.context.regime.as_deref(),
                "trade opened"
            ),
            AuditRecord::TradeClosed(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "trade_closed",
                trade_id = %r.trade_id,
                whale_address = %r.whale_address,
                whale_label = %r.whale_label,
                market_id = %r.market_id,
                market_title = %r.market_title,
                outcome = %r.outcome,
                exit_price = %r.exit_price,
                pnl_usd = %r.pnl_usd,
                slippage_usd = r.slippage_usd.map(tracing::field::display),
                whale_pnl_usd = r.whale_pnl_usd.map(tracing::field::display),
                hold_time_seconds = r.hold_time_seconds,
                reason = %r.reason,
                timestamp = %r.timestamp,
                "trade closed"
            ),
            AuditRecord::TradeRejected(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "trade_rejected",
                whale_trade_id = %r.whale_trade_id,
                whale_address = %r.whale_address,
                market_id = %r.market_id,
                token_id = %r.token_id,
                whale_label = %r.whale_label,
                market_title = %r.market_title,
                outcome = %r.outcome,
                reason = %r.reason,
                detail = %r.detail,
                timestamp = %r.timestamp,
                equity_usd = r.context.equity_usd.map(tracing::field::display),
                sizing_rule = r.context.sizing_rule.as_deref(),
                sized_usd = r.context.sized_usd.map(tracing::field::display),
                size_cap = r.context.size_cap.as_deref(),
                trading_state = r.context.trading_state.as_deref(),
                open_positions = r.context.open_positions,
                exposure_usd = r.context.exposure_usd.map(tracing::field::display),
                daily_pnl_usd = r.context.daily_pnl_usd.map(tracing::field::display),
                drawdown_percent = r.context.drawdown_percent.map(tracing::field::display),
                regime = r.context.regime.as_deref(),
                "trade rejected"
            ),
            AuditRecord::TradingStateChanged(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "trading_state_changed",
                from = %r.from,
                to = %r.to,
                reason = %r.reason,
                detail = %r.detail,
                timestamp = %r.timestamp,
                "trading state changed"
            ),
            AuditRecord::ExitOrder(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "exit_order",
                trade_id = %r.trade_id,
                attempt = r.attempt,
                reason = %r.reason,
                size = %r.size,
                limit_price = %r.limit_price,
                mark = %r.mark,
                slippage_percent = %r.slippage_percent,
                timestamp = %r.timestamp,
                "exit order sent"
            ),
            AuditRecord::ExitEscalated(r) => tracing::warn!(
                target: AUDIT_TARGET,
                event = "exit_escalated",
                trade_id = %r.trade_id,
                reason = %r.reason,
                attempts = r.attempts,
                slippage_percent = %r.slippage_percent,
                remaining = %r.remaining,
                timestamp = %r.timestamp,
                "exit not filled: price bound widened"
            ),
            AuditRecord::ExitDeferred(r) => tracing::warn!(
                target: AUDIT_TARGET,
                event = "exit_deferred",
                trade_id = %r.trade_id,
                exit_reason = %r.exit_reason,
                reason = %r.reason,
                size = %r.size,
                min_order_size = %r.min_order_size,
                timestamp = %r.timestamp,
                "exit deferred: below the venue's minimum order size, held until the market resolves"
            ),
            AuditRecord::PositionMismatch(r) => tracing::warn!(
                target: AUDIT_TARGET,
                event = "position_mismatch",
                token_id = %r.token_id,
                market_id = %r.market_id,
                kind = %r.kind,
                ours = %r.ours,
                trade_ids = %r.trade_ids.join(","),
                venue = %r.venue,
                venue_avg_price = %r.venue_avg_price,
                timestamp = %r.timestamp,
                "the venue's position and ours disagree: trading reduces until a human resolves it"
            ),
            AuditRecord::PositionAdopted(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "position_adopted",
                trade_id = %r.trade_id,
                token_id = %r.token_id,
                market_id = %r.market_id,
                size = %r.size,
                price = %r.price,
                timestamp = %r.timestamp,
                "the venue's position was adopted as a position of our own"
            ),
            AuditRecord::PositionDropped(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "position_dropped",
                trade_id = %r.trade_id,
                token_id = %r.token_id,
                size = %r.size,
                mark = %r.mark,
                pnl_usd = %r.pnl_usd,
                timestamp = %r.timestamp,
                "a trade the venue no longer holds was dropped (closed as reconciled, P&L at its last mark)"
            ),
            AuditRecord::MarketClosed(r) => tracing::warn!(
                target: AUDIT_TARGET,
                event = "market_closed",
                market_id = %r.market_id,
                market_title = %r.market_title,
                trade_ids = %r.trade_ids.join(","),
                timestamp = %r.timestamp,
                "market closed before its resolution: its positions wait for it, without exit orders"
            ),
            AuditRecord::MarketReopened(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "market_reopened",
                market_id = %r.market_id,
                market_title = %r.market_title,
                trade_ids = %r.trade_ids.join(","),
                timestamp = %r.timestamp,
                "market takes orders again: its positions are managed again"
            ),
            AuditRecord::WhaleStandingChanged(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "whale_standing_changed",
                whale_address = %r.whale_address,
                whale_label = %r.whale_label,
                change = %r.change,
                reason = %r.reason,
                detail = %r.detail,
                until = r.until.as_deref().unwrap_or(""),
                timestamp = %r.timestamp,
                "whale standing changed"
            ),
            AuditRecord::SignalApproved(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "signal_approved",
                plan_id = %r.plan_id,
                symbol = %r.symbol,
                direction = %r.direction,
                source = %r.source,
                score = %r.score,
                quality_tier = %r.quality_tier,
                regime = %r.regime,
                entry_near = %r.entry_near,
                entry_far = %r.entry_far,
                stop = %r.stop,
                targets = %r.targets,
                reward_to_risk = %r.reward_to_risk,
                units = %r.units,
                notional_usd = %r.notional_usd,
                risk_usd = %r.risk_usd,
                risk_percent = %r.risk_percent,
                equity_usd = %r.equity_usd,
                leverage = %r.leverage,
                atr_factor = %r.atr_factor,
                capped = r.capped,
                client_order_id = %r.client_order_id,
                mode = %r.mode,
                timestamp = %r.timestamp,
                "signal approved"
            ),
            AuditRecord::SignalRejected(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "signal_rejected",
                plan_id = %r.plan_id,
                symbol = %r.symbol,
                direction = %r.direction,
                source = %r.source,
                reason = %r.reason,
                detail = %r.detail,
                quality_tier = %r.quality_tier,
                regime = %r.regime,
                trading_state = %r.trading_state,
                equity_usd = %r.equity_usd,
                timestamp = %r.timestamp,
                "signal rejected"
            ),
            AuditRecord::SignalClosed(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "signal_closed",
                plan_id = %r.plan_id,
                symbol = %r.symbol,
                direction = %r.direction,
                entry = %r.entry,
                exit_price = %r.exit_price,
                units = %r.units,
                pnl_usd = %r.pnl_usd,
                r_multiple = %r.r_multiple,
                timestamp = %r.timestamp,
                "signal closed"
            ),
            AuditRecord::SignalOrder(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "signal_order",
                plan_id = %r.plan_id,
                symbol = %r.symbol,
                client_order_id = %r.client_order_id,
                kind = %r.kind,
                side = %r.side,
                price = r.price.map(|p| p.to_string()).unwrap_or_else(|| "market".to_owned()),
                units = %r.units,
                reduce_only = r.reduce_only,
                mode = %r.mode,
                timestamp = %r.timestamp,
                "signal order"
            ),
            AuditRecord::SignalFill(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "signal_fill",
                plan_id = %r.plan_id,
                symbol = %r.symbol,
                client_order_id = %r.client_order_id,
                venue_order_id = r.venue_order_id.as_deref().unwrap_or(""),
                kind = %r.kind,
                units = %r.units,
                filled = %r.filled,
                average_price = %r.average_price,
                fee = %r.fee,
                done = r.done,
                timestamp = %r.timestamp,
                "signal fill"
            ),
            AuditRecord::SignalOrderRefused(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "signal_order_refused",
                plan_id = %r.plan_id,
                symbol = %r.symbol,
                client_order_id = %r.client_order_id,
                kind = %r.kind,
                reason = %r.reason,
                detail = %r.detail,
                timestamp = %r.timestamp,
                "signal order refused"
            ),
            AuditRecord::SignalUnfilled(r) => tracing::info!(
                target: AUDIT_TARGET,
                event = "signal_unfilled",
                plan_id = %r.plan_id,
                symbol = %r.symbol,
                timestamp = %r.timestamp,
                "signal unfilled"
            ),
        }
    }
}

/// Throws every record away (benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardAuditSink;

impl AuditSink for DiscardAuditSink {
    fn record(&mut self, _record: &AuditRecord) {}
}

/// Keeps every record in memory; clones share one list, so a test keeps a handle while the engine
/// owns the sink.
#[derive(Debug, Default, Clone)]
pub struct MemoryAuditSink {
    records: Arc<Mutex<Vec<AuditRecord>>>,
}

impl MemoryAuditSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything recorded so far, in order.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Everything recorded so far, in order, moved out: the sink is empty afterwards. For the
    /// one reader of a finished run, which need not copy thousands of records.
    pub fn take_records(&self) -> Vec<AuditRecord> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl AuditSink for MemoryAuditSink {
    fn record(&mut self, record: &AuditRecord) {
        self.records.lock().unwrap_or_else(PoisonError::into_inner).push(record.clone());
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn closed() -> AuditRecord {
        AuditRecord::TradeClosed(TradeClosed {
            trade_id: "T000001".into(),
            whale_address: "0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee".into(),
            whale_label: "Theo".into(),
            market_id: "0xfd48e3".into(),
            market_title: "Will it rain?".into(),
            outcome: "Yes".into(),
            exit_price: dec!(0.58),
            pnl_usd: dec!(15.50),
            slippage_usd: Some(dec!(2)),
            whale_pnl_usd: Some(dec!(18.10)),
            hold_time_seconds: 3600,
            reason: "take_profit".into(),
            timestamp: "2025-11-02T16:30:45.000Z".into(),
        })
    }

    #[test]
    fn records_serialize_flat_with_the_event_name_and_decimal_strings() {
        let line = closed().to_json_line();
        assert_eq!(
            line,
            r#"{"event":"trade_closed","trade_id":"T000001","whale_address":"0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee","whale_label":"Theo","market_id":"0xfd48e3","market_title":"Will it rain?","outcome":"Yes","exit_price":"0.58","pnl_usd":"15.50","slippage_usd":"2","whale_pnl_usd":"18.10","hold_time_seconds":3600,"reason":"take_profit","timestamp":"2025-11-02T16:30:45.000Z"}"#
        );
        let back: AuditRecord = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, closed());
        assert_eq!(back.reason(), Some("take_profit"));
    }

    #[test]
    fn memory_sink_clones_share_the_list() {
        let sink = MemoryAuditSink::new();
        let mut owned = sink.clone();
        owned.record(&closed());
        assert_eq!(sink.records(), vec![closed()]);
        assert_eq!(sink.take_records(), vec![closed()]);
        assert_eq!(owned.take_records(), vec![], "taken from the list every clone shares");
    }
}
