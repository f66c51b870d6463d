//! What an alert is: priority, title, message, ordered context, dedup key and labels.
//!
//! Constructors exist for the events the engine, the risk manager and the health monitor emit, so
//! every producer words, prioritises and keys its alerts the same way.

use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::plans::PlanDecision;
use crate::plans::format::{Announcement, BatchSummary, Signal, plain, price};

/// How urgent an alert is. Ordered: `Info < Warning < Error < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Info,
    Warning,
    Error,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Info => "INFO",
            Priority::Warning => "WARNING",
            Priority::Error => "ERROR",
            Priority::Critical => "CRITICAL",
        }
    }

    pub fn is_critical(self) -> bool {
        self == Priority::Critical
    }

    /// The console and Telegram indicator.
    pub fn emoji(self) -> &'static str {
        match self {
            Priority::Info => "ℹ️",
            Priority::Warning => "⚠️",
            Priority::Error => "❌",
            Priority::Critical => "🚨",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened. The dispatcher reads the kind for one decision only: a halt suppresses the
/// `TradeRejected` alerts it causes until `TradingResumed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    TradeOpened,
    TradeClosed,
    TradeRejected,
    CircuitBreakerTripped,
    TradingHalted,
    TradingKilled,
    TradingResumed,
    /// No new entries while a rule holds trading (a breaker cooldown, a stale feed); exits run.
    TradingReducing,
    RecoverySummary,
    HealthChanged,
    TaskFailed,
    /// An approved trade plan, announced in the seed's signal format.
    Signal,
    /// The summary of a window's trade plans.
    BatchSummary,
    /// What a channel's throttle held back during its window, folded into one message.
    ThrottleDigest,
    #[default]
    Custom,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::TradeOpened => "trade_opened",
            AlertKind::TradeClosed => "trade_closed",
            AlertKind::TradeRejected => "trade_rejected",
            AlertKind::CircuitBreakerTripped => "circuit_breaker_tripped",
            AlertKind::TradingHalted => "trading_halted",
            AlertKind::TradingKilled => "trading_killed",
            AlertKind::TradingResumed => "trading_resumed",
            AlertKind::TradingReducing => "trading_reducing",
            AlertKind::RecoverySummary => "recovery_summary",
            AlertKind::HealthChanged => "health_changed",
            AlertKind::TaskFailed => "task_failed",
            AlertKind::Signal => "signal",
            AlertKind::BatchSummary => "batch_summary",
            AlertKind::ThrottleDigest => "throttle_digest",
            AlertKind::Custom => "custom",
        }
    }

    /// Kinds after which the engine rejects every new trade until it resumes.
    pub fn stops_trading(self) -> bool {
        matches!(self, AlertKind::CircuitBreakerTripped | AlertKind::TradingHalted | AlertKind::TradingKilled)
    }

    /// Kinds that announce a change of the trading state, whichever way.
    pub fn changes_trading_state(self) -> bool {
        self.stops_trading() || matches!(self, AlertKind::TradingResumed | AlertKind::TradingReducing)
    }

    /// Every kind, for help texts and error messages.
    pub const ALL: [AlertKind; 15] = [
        AlertKind::TradeOpened,
        AlertKind::TradeClosed,
        AlertKind::TradeRejected,
        AlertKind::CircuitBreakerTripped,
        AlertKind::TradingHalted,
        AlertKind::TradingKilled,
        AlertKind::TradingResumed,
        AlertKind::TradingReducing,
        AlertKind::RecoverySummary,
        AlertKind::HealthChanged,
        AlertKind::TaskFailed,
        AlertKind::Signal,
        AlertKind::BatchSummary,
        AlertKind::ThrottleDigest,
        AlertKind::Custom,
    ];
}

/// Who and what an alert is about; also how receivers filter them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Labels {
    pub kind: AlertKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    /// A trade close's P&L: a losing close is never throttled away, and digests add them up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pnl_usd: Option<Decimal>,
    /// The reason code of a close or a rejection, for digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One alert as produced by the engine, the health monitor or [`super::AlertSender::send_custom_alert`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub priority: Priority,
    pub title: String,
    pub message: String,
    /// Ordered key → value lines: "Daily P&L" → "-$523.45", "Positions" → "8/10".
    pub context: Vec<(String, String)>,
    /// Alerts with the same key describe one condition: they are grouped, repeated and resolved
    /// together. `None` means every alert stands alone.
    pub dedup_key: Option<String>,
    pub labels: Labels,
    /// This alert announces that the condition `dedup_key` has cleared.
    pub resolves: bool,
    pub at: Timestamp,
    /// The alert's row in the store's outbox (critical alerts bound for a remote channel): set by
    /// the dispatcher, or by a restart that sends an undelivered alert again. Not part of the
    /// alert's content, so never serialized.
    #[serde(skip)]
    pub outbox_id: Option<String>,
    /// A signal or batch summary this alert announces: channels with markup render it in their
    /// medium (see `crate::plans::format`) instead of the title and message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<Arc<Announcement>>,
}

impl Alert {
    /// A plain alert of kind `custom` with no dedup key; refine it with the `with_*` methods.
    pub fn new(priority: Priority, title: impl Into<String>, message: impl Into<String>, at: Timestamp) -> Self {
        Self {
            priority,
            title: title.into(),
            message: message.into(),
            context: Vec::new(),
            dedup_key: None,
            labels: Labels::default(),
            resolves: false,
            at,
            outbox_id: None,
            announcement: None,
        }
    }

    pub fn with_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    pub fn with_contexts(mut self, pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        self.context.extend(pairs);
        self
    }

    pub fn with_dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    pub fn with_kind(mut self, kind: AlertKind) -> Self {
        self.labels.kind = kind;
        self
    }

    pub fn with_whale(mut self, whale: impl Into<String>) -> Self {
        self.labels.whale = Some(whale.into());
        self
    }

    pub fn with_market(mut self, market: impl Into<String>) -> Self {
        self.labels.market = Some(market.into());
        self
    }

    pub fn with_pnl(mut self, pnl_usd: Decimal) -> Self {
        self.labels.pnl_usd = Some(pnl_usd);
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.labels.reason = Some(reason.into());
        self
    }

    /// Whether the throttle lets this alert through (it still counts towards the window): every
    /// alert that must reach its channels, and approved trade signals and their batch summaries
    /// (the message is what a signal subscriber is there for; a silence may still hold them).
    pub fn passes_throttle(&self) -> bool {
        self.must_reach() || matches!(self.labels.kind, AlertKind::Signal | AlertKind::BatchSummary)
    }

    /// An alert that must reach its channels whatever their load: CRITICAL ones, trading-state
    /// changes, losing trade closes and throttle digests. The throttle lets them through (they
    /// still count towards its window), no silence holds them and the lanes never drop them.
    pub fn must_reach(&self) -> bool {
        self.priority.is_critical()
            || self.labels.kind.changes_trading_state()
            || self.labels.kind == AlertKind::ThrottleDigest
            || (self.labels.kind == AlertKind::TradeClosed && self.labels.pnl_usd.is_some_and(|p| p < Decimal::ZERO))
    }

    /// Marks this alert as the notice that condition `dedup_key` has cleared.
    pub fn resolving(mut self, dedup_key: impl Into<String>) -> Self {
        self.dedup_key = Some(dedup_key.into());
        self.resolves = true;
        self
    }

    // ---- constructors for the common kinds ------------------------------------------------

    pub fn trade_opened(
        whale: &str,
        market: &str,
        side: &str,
        size_usd: Decimal,
        price: Decimal,
        at: Timestamp,
    ) -> Self {
        Alert::new(
            Priority::Info,
            "Trade Opened",
            format!("Copied {whale}: {side} ${size_usd} of {market} at {price}"),
            at,
        )
        .with_kind(AlertKind::TradeOpened)
        .with_whale(whale)
        .with_market(market)
        .with_context("Side", side)
        .with_context("Size", format!("${size_usd}"))
        .with_context("Price", price.to_string())
    }

    pub fn trade_closed(whale: &str, market: &str, pnl_usd: Decimal, reason: &str, at: Timestamp) -> Self {
        let priority = if pnl_usd.is_sign_negative() { Priority::Warning } else { Priority::Info };
        Alert::new(priority, "Trade Closed", format!("{market} closed ({reason}): P&L {}", usd(pnl_usd)), at)
            .with_kind(AlertKind::TradeClosed)
            .with_whale(whale)
            .with_market(market)
            .with_context("P&L", usd(pnl_usd))
            .with_context("Reason", reason)
            .with_pnl(pnl_usd)
            .with_reason(reason)
    }

    /// A risk rejection; `reason` is the stable snake_case reason code. Keyed per reason and
    /// whale, so a burst of identical rejections becomes one message with a count.
    pub fn trade_rejected(whale: &str, market: &str, reason: &str, at: Timestamp) -> Self {
        Alert::new(Priority::Warning, "Trade Rejected", format!("Copy of {whale} on {market} rejected: {reason}"), at)
            .with_kind(AlertKind::TradeRejected)
            .with_whale(whale)
            .with_market(market)
            .with_context("Reason", reason)
            .with_reason(reason)
            .with_dedup_key(format!("trade_rejected:{reason}:{whale}"))
    }

    pub fn circuit_breaker_tripped(reason: &str, metrics: RiskFigures, at: Timestamp) -> Self {
        Alert::new(Priority::Critical, "Circuit Breaker Tripped", reason, at)
            .with_kind(AlertKind::CircuitBreakerTripped)
            .with_contexts(metrics.into_context())
            .with_dedup_key("circuit_breaker")
    }

    pub fn circuit_breaker_reset(at: Timestamp) -> Self {
        Alert::new(Priority::Critical, "Circuit Breaker Reset", "Cooldown over; trading may resume", at)
            .with_kind(AlertKind::TradingResumed)
            .resolving("circuit_breaker")
    }

    /// A halt: CRITICAL, with the risk figures as context.
    pub fn trading_halted(reason: &str, metrics: RiskFigures, at: Timestamp) -> Self {
        Alert::new(Priority::Critical, "Trading Halted", reason, at)
            .with_kind(AlertKind::TradingHalted)
            .with_contexts(metrics.into_context())
            .with_dedup_key("trading_halted")
    }

    pub fn trading_killed(reason: &str, metrics: RiskFigures, at: Timestamp) -> Self {
        Alert::new(Priority::Critical, "Trading Killed", format!("Emergency stop, closing all positions: {reason}"), at)
            .with_kind(AlertKind::TradingKilled)
            .with_contexts(metrics.into_context())
            .with_dedup_key("trading_halted")
    }

    /// Trading resumed: resolves the halt (and a kill, which shares its key).
    pub fn trading_resumed(by: &str, at: Timestamp) -> Self {
        Alert::new(Priority::Critical, "Trading Resumed", format!("Trading resumed by {by}"), at)
            .with_kind(AlertKind::TradingResumed)
            .resolving("trading_halted")
    }

    pub fn recovery_summary(restored_positions: usize, pending_orders: usize, at: Timestamp) -> Self {
        Alert::new(
            Priority::Info,
            "Recovery Summary",
            format!("Restored {restored_positions} position(s); reconciled {pending_orders} pending order(s)"),
            at,
        )
        .with_kind(AlertKind::RecoverySummary)
        .with_context("Positions", restored_positions.to_string())
        .with_context("Pending orders", pending_orders.to_string())
    }

    /// A component's health changed; returning to healthy resolves the earlier alert.
    pub fn health_changed(component: &str, status: &str, healthy: bool, detail: &str, at: Timestamp) -> Self {
        let key = format!("health:{component}");
        let alert = Alert::new(
            if healthy { Priority::Info } else { Priority::Error },
            format!("Health: {component} {status}"),
            detail,
            at,
        )
        .with_kind(AlertKind::HealthChanged)
        .with_context("Component", component)
        .with_context("Status", status);
        if healthy { alert.resolving(key) } else { alert.with_dedup_key(key) }
    }

    pub fn task_failed(task: &str, error: &str, at: Timestamp) -> Self {
        Alert::new(Priority::Error, format!("Task Failed: {task}"), error, at)
            .with_kind(AlertKind::TaskFailed)
            .with_dedup_key(format!("task_failed:{task}"))
    }

    /// The announcement of an approved trade plan (`None` for a refused one): INFO, kind
    /// `signal`, the plan's symbol as its market. Channels with markup send the seed's signal
    /// message; the others the one-line message and the context.
    pub fn signal(decision: &PlanDecision) -> Option<Self> {
        let signal = Signal::from_decision(decision)?;
        let plan = signal.plan.clone();
        let alert = Alert::new(Priority::Info, format!("Signal: {}", signal.headline()), signal.one_line(), signal.at)
            .with_kind(AlertKind::Signal)
            .with_market(plan.symbol.clone())
            .with_context("Plan", plan.plan_id.clone())
            .with_context("Score", format!("{}/100 (tier {})", plain(plan.score), plan.quality_tier.as_str()))
            .with_context("Entry", format!("{} to {}", price(plan.entry.near), price(plan.entry.far)))
            .with_context("Stop", price(plan.stop))
            .with_context("R:R", format!("1:{}", plain(plan.reward_to_risk())))
            .with_context("Size", signal.size_text());
        Some(Alert { announcement: Some(Arc::new(Announcement::Signal(signal))), ..alert })
    }

    /// The batch summary of a window's trade plans: INFO, kind `batch_summary`. Channels with
    /// markup send the whole summary (in several messages when it is long); the others the totals.
    pub fn signal_summary(summary: BatchSummary) -> Self {
        let alert = Alert::new(Priority::Info, "Signal Summary", summary.headline(), summary.at)
            .with_kind(AlertKind::BatchSummary)
            .with_context("Received", summary.received.to_string())
            .with_context("Approved", summary.approved.to_string())
            .with_context("Rejected", summary.rejected.to_string());
        // The plain rendering names the best few; the full ranking is the announcement's.
        let top: Vec<String> = summary.top.iter().take(3).map(|p| format!("{} ({})", p.symbol, p.plan_id)).collect();
        let alert = if top.is_empty() { alert } else { alert.with_context("Top", top.join(", ")) };
        Alert { announcement: Some(Arc::new(Announcement::Summary(summary))), ..alert }
    }
}

/// The risk figures an alert about a halt or a breaker trip carries: the day's P&L, the drawdown, the positions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskFigures {
    pub daily_pnl_usd: Decimal,
    pub drawdown_percent: Decimal,
    pub open_positions: usize,
    pub max_positions: usize,
}

impl RiskFigures {
    fn into_context(self) -> Vec<(String, String)> {
        vec![
            ("Daily P&L".into(), usd(self.daily_pnl_usd)),
            ("Drawdown".into(), format!("{}%", self.drawdown_percent.round_dp(2).normalize())),
            ("Positions".into(), format!("{}/{}", self.open_positions, self.max_positions)),
        ]
    }
}

/// `-$523.45`: money as every alert writes it.
pub fn usd(amount: Decimal) -> String {
    let rounded = amount.round_dp(2);
    if rounded.is_sign_negative() && !rounded.is_zero() {
        format!("-${:.2}", rounded.abs())
    } else {
        format!("${:.2}", rounded.abs())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn priorities_are_ordered() {
        assert!(Priority::Info < Priority::Warning && Priority::Warning < Priority::Error);
        assert!(Priority::Error < Priority::Critical);
    }

    #[test]
    fn halt_carries_the_seed_metrics_in_order() {
        let snapshot = RiskFigures {
            daily_pnl_usd: dec!(-523.45),
            drawdown_percent: dec!(12.3),
            open_positions: 8,
            max_positions: 10,
        };
        let alert = Alert::trading_halted("Max drawdown exceeded: 15.2%", snapshot, Timestamp::from_secs(1));
        assert_eq!(alert.priority, Priority::Critical);
        assert_eq!(
            alert.context,
            vec![
                ("Daily P&L".to_string(), "-$523.45".to_string()),
                ("Drawdown".to_string(), "12.3%".to_string()),
                ("Positions".to_string(), "8/10".to_string()),
            ]
        );
        assert!(alert.labels.kind.stops_trading());
        assert!(Alert::trading_resumed("operator", Timestamp::from_secs(2)).resolves);
    }

    #[test]
    fn a_signal_alert_carries_its_announcement_through_the_outbox_json() {
        let decisions = crate::plans::format::summary_tests::hundred();
        let alert = Alert::signal(&decisions[0]).unwrap_or_else(|| panic!("approved"));
        assert_eq!((alert.priority, alert.labels.kind), (Priority::Info, AlertKind::Signal));
        assert_eq!(alert.title, "Signal: LONG BTC/USDT");
        assert_eq!(alert.labels.market.as_deref(), Some("BTC/USDT"));
        assert!(matches!(alert.announcement.as_deref(), Some(Announcement::Signal(s)) if s.plan.plan_id == "plan-000"));
        let json = serde_json::to_string(&alert).unwrap_or_default();
        let back: Alert = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(back, alert, "the outbox restores an announcement as it was");
        assert!(Alert::signal(&decisions[3]).is_none(), "a refused plan announces nothing");

        let summary = Alert::signal_summary(BatchSummary::from_decisions(&decisions, 5, Timestamp::from_secs(1)));
        assert_eq!(summary.labels.kind, AlertKind::BatchSummary);
        assert_eq!(summary.message, "Signal Summary | 100 received | 75 approved | 25 rejected");
        assert_eq!(
            summary.context.last().map(|(_, v)| v.as_str()),
            Some("SOL/USDT (plan-038), SOL/USDT (plan-078), ETH/USDT (plan-037)")
        );
        let back: Alert = serde_json::from_str(&serde_json::to_string(&summary).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, summary);
        // An alert without one serializes as before: no `announcement` key.
        let plain = serde_json::to_value(Alert::task_failed("x", "y", Timestamp::from_secs(0))).unwrap_or_default();
        assert!(plain.get("announcement").is_none());
    }

    #[test]
    fn usd_formatting() {
        assert_eq!(usd(dec!(-523.454)), "-$523.45");
        assert_eq!(usd(dec!(15.5)), "$15.50");
        assert_eq!(usd(dec!(-0.001)), "$0.00");
    }
}
