//! What observers see: `/status` JSON, the `/health` report and the `/metrics` text, built on
//! demand from the `watch` channels the engine, the health monitor and the alerts publish.

use std::sync::Arc;

use rust_decimal::Decimal;
use tokio::sync::watch;

use super::feeds::FeedsObserved;
use super::recorder::SharedStats;
use crate::alerts::{AlertCountersSnapshot, ChannelCountersSnapshot};
use crate::api::{MetricKind, PromText, WhaleFamily, WhaleRow};
use crate::api::{StatusView, StoreView, WalletView};
use crate::config::{Config, WhaleConfig};
use crate::engine::{EngineStatus, EngineView, ExitCounters, Standing, WhaleView};
use crate::health::HealthReport;
use crate::market::{BookRefusalCounts, SharedBookRefusals};

/// The receivers observers read; cheap to clone.
#[derive(Clone)]
pub struct Observed {
    pub config: watch::Receiver<Arc<Config>>,
    pub engine: watch::Receiver<EngineStatus>,
    pub view: watch::Receiver<Arc<EngineView>>,
    pub recorded: SharedStats,
    pub health: watch::Receiver<Arc<HealthReport>>,
    pub alerts: watch::Receiver<AlertCountersSnapshot>,
    /// The live feeds (`feed.source = "polymarket"`): lag per whale, price-feed staleness.
    pub feeds: Option<FeedsObserved>,
    /// The store the daemon opened at start (a reload never moves it).
    pub store: StoreView,
    /// Books the feeds read but refused (the engine's own refusals are in its status).
    pub book_refusals: SharedBookRefusals,
    /// The wallet reader (live mode).
    pub wallet: Option<watch::Receiver<super::wallet::WalletReaderStatus>>,
    /// The session recorder (`[record] enabled`).
    pub recording: Option<watch::Receiver<crate::api::RecordingView>>,
    /// Telemetry's counters (`[telemetry] enabled`).
    pub telemetry: Option<Arc<crate::telemetry::TelemetryCounters>>,
}

/// The daemon's side of `whale-trader status`.
pub fn status_view(observed: &Observed) -> StatusView {
    let config = observed.config.borrow().clone();
    let view = observed.view.borrow().clone();
    let state = observed.engine.borrow().trading_state;
    StatusView {
        source: "daemon".into(),
        mode: config.daemon.mode.as_str().into(),
        trading_state: state.as_str().into(),
        state_reason: view.risk.state_cause.map(|c| c.as_str().to_string()),
        equity: Some(view.risk.equity),
        daily_pnl: Some(view.risk.daily_pnl),
        realised_pnl: Some(view.risk.realised_total),
        drawdown_percent: Some(view.risk.drawdown_percent),
        breaker_trips_today: Some(view.risk.breaker_trips_today),
        open_positions: view.positions.clone(),
        limits: serde_json::to_value(&config.risk).unwrap_or_default(),
        store: Some(observed.store.clone()),
        wallet: (config.daemon.mode == crate::config::Mode::Live).then(|| wallet_view(&view)),
        whales: view.whales.clone(),
        holds: view.holds.clone(),
        components: observed
            .health
            .borrow()
            .components
            .iter()
            .map(|(name, c)| crate::api::ComponentView {
                name: name.clone(),
                status: c.status.as_str().into(),
                message: c.message.clone(),
                checked_at: c.checked_at.to_rfc3339(),
            })
            .collect(),
        recording: observed.recording.as_ref().map(|r| r.borrow().clone()),
    }
}

/// The wallet as the last reading found it, and the mismatches still holding trading (live mode).
fn wallet_view(view: &EngineView) -> WalletView {
    let r = &view.risk;
    WalletView {
        cash_usd: r.wallet_cash,
        read_at: r.wallet_read_at.map(|t| t.to_rfc3339()),
        mismatches: view.mismatches.clone(),
    }
}

pub fn status_json(observed: &Observed) -> serde_json::Value {
    serde_json::to_value(status_view(observed)).unwrap_or_default()
}

/// `GET /signals` and `whale-trader signals stats`: the signal analytics of every plan decided and
/// closed, and the plans open now with their risk.
pub fn signals_json(observed: &Observed) -> serde_json::Value {
    let analytics =
        observed.recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).signals.snapshot().clone();
    let view = observed.view.borrow().clone();
    serde_json::json!({
        "analytics": analytics,
        "open_plans": view.plans.open,
        "open_risk_usd": view.plans.risk_usd,
        "open_risk_by_asset": view.plans.risk_by_asset,
    })
}

/// The daemon's side of `trades`, `profit`, `daily`: the store it writes, read through a read-only
/// connection, with the open trades marked at the engine's last prices (blocking).
pub fn history_json(
    observed: &Observed,
    query: &crate::history::HistoryQuery,
) -> Result<serde_json::Value, crate::history::HistoryError> {
    use crate::clock::Clock;
    let config = observed.config.borrow().clone();
    let marks = crate::history::Marks {
        open: observed
            .view
            .borrow()
            .positions
            .iter()
            .map(|p| (p.id.clone(), (p.last_price, p.unrealised_pnl)))
            .collect(),
    };
    let names = crate::history::Names::from_config(&config);
    let cx = crate::history::Context {
        marks: Some(&marks),
        names: &names,
        now: crate::clock::SystemClock.now(),
        day_start_utc_minutes: config.risk.day_start_utc_minutes,
        source: "daemon",
    };
    let path = std::path::Path::new(&observed.store.path);
    Ok(crate::history::answer_from_store(path, config.store.busy_timeout(), query, &cx)?)
}

pub fn health_json(observed: &Observed) -> (bool, serde_json::Value) {
    let report = observed.health.borrow().clone();
    let json = serde_json::to_value(report.as_ref()).unwrap_or(serde_json::Value::Null);
    (report.overall_status.is_operational(), json)
}

pub fn metrics_text(observed: &Observed) -> String {
    let engine = observed.engine.borrow().clone();
    let config = observed.config.borrow().clone();
    let mut text = PromText::new();
    text.family("whale_trader_build_info", MetricKind::Gauge, "Build information.").sample(
        "whale_trader_build_info",
        &[("version", env!("CARGO_PKG_VERSION")), ("mode", config.daemon.mode.as_str())],
        1,
    );
    text.family("whale_trader_trading_state", MetricKind::Gauge, "1 for the current trading state.");
    for state in ["active", "reducing", "halted", "killed"] {
        let value = u8::from(engine.trading_state.as_str() == state);
        text.sample("whale_trader_trading_state", &[("state", state)], value);
    }
    text.single("whale_trader_open_positions", MetricKind::Gauge, "Open positions.", engine.open_positions);
    text.single("whale_trader_pending_orders", MetricKind::Gauge, "Orders in flight.", engine.pending_orders);
    text.single(
        "whale_trader_inputs_processed_total",
        MetricKind::Counter,
        "Engine inputs processed.",
        engine.inputs_processed,
    );
    text.single(
        "whale_trader_whale_trades_seen_total",
        MetricKind::Counter,
        "Whale trades seen.",
        engine.whale_trades_seen,
    );
    text.single("whale_trader_trades_opened_total", MetricKind::Counter, "Trades opened.", engine.trades_opened);
    text.single("whale_trader_trades_closed_total", MetricKind::Counter, "Trades closed.", engine.trades_closed);
    text.single("whale_trader_trades_rejected_total", MetricKind::Counter, "Trades rejected.", engine.trades_rejected);
    text.single("whale_trader_realised_pnl_usd", MetricKind::Gauge, "Realised P&L in USD.", engine.realised_pnl_usd);
    exit_metrics(&mut text, &engine.exits);
    book_refusal_metrics(&mut text, &observed.book_refusals.counts().plus(&engine.books_refused));
    risk_metrics(&mut text, &observed.view.borrow());
    whale_metrics(&mut text, &observed.view.borrow().whales, &observed.config.borrow().copy.whales);
    recorder_metrics(&mut text, &observed.recorded);
    let signals =
        observed.recorded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).signals.snapshot().clone();
    signals.write_metrics(&mut text);
    plan_book_metrics(&mut text, &observed.view.borrow().plans);
    alert_metrics(&mut text, &observed.alerts.borrow());
    health_metrics(&mut text, &observed.health.borrow());
    if let Some(feeds) = &observed.feeds {
        feeds.write_metrics(&mut text);
    }
    if let Some(telemetry) = &observed.telemetry {
        telemetry.snapshot().write_metrics(&mut text);
    }
    if let Some(wallet) = &observed.wallet {
        wallet_metrics(&mut text, &wallet.borrow(), &observed.view.borrow());
    }
    if config.alerts.telegram.control {
        let chat = crate::telegram::counters();
        let read = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        text.single(
            "whale_trader_telegram_commands_total",
            MetricKind::Counter,
            "Telegram commands received from the configured chats.",
            read(&chat.commands),
        );
        text.single(
            "whale_trader_telegram_ignored_updates_total",
            MetricKind::Counter,
            "Telegram updates from chats that are not configured, ignored.",
            read(&chat.ignored),
        );
        text.single(
            "whale_trader_telegram_poll_errors_total",
            MetricKind::Counter,
            "Failed Telegram getUpdates polls.",
            read(&chat.poll_errors),
        );
        text.single(
            "whale_trader_telegram_malformed_updates_total",
            MetricKind::Counter,
            "Telegram updates skipped as malformed.",
            read(&chat.malformed),
        );
    }
    text.finish()
}

fn flag(on: bool) -> Option<Decimal> {
    Some(if on { Decimal::ONE } else { Decimal::ZERO })
}

/// Each configured whale's ledger and standing. Only the configured whales are labelled (a bounded
/// set the operator chose); one not copied yet shows zeros, so a dashboard sees it from the start.
fn whale_metrics(text: &mut PromText, whales: &[WhaleView], configured: &[WhaleConfig]) {
    let families: [WhaleFamily<WhaleView>; 11] = [
        ("whale_trader_whale_copies_opened_total", MetricKind::Counter, "Copies of the whale opened.", |w| {
            Some(Decimal::from(w.copies_opened))
        }),
        ("whale_trader_whale_copies_closed_total", MetricKind::Counter, "Copies of the whale closed.", |w| {
            Some(Decimal::from(w.copies_closed))
        }),
        ("whale_trader_whale_open_positions", MetricKind::Gauge, "Open copies of the whale.", |w| {
            Some(Decimal::from(w.open_positions))
        }),
        (
            "whale_trader_whale_realised_pnl_usd",
            MetricKind::Gauge,
            "Realised P&L of the whale's closed copies, fees included.",
            |w| Some(w.realised_pnl),
        ),
        (
            "whale_trader_whale_unrealised_pnl_usd",
            MetricKind::Gauge,
            "Unrealised P&L of the whale's open copies at the last marks.",
            |w| Some(w.unrealised_pnl),
        ),
        (
            "whale_trader_whale_own_result_usd",
            MetricKind::Gauge,
            "What the closed copies would have made at the whale's own prices, without fees.",
            |w| Some(w.whale_result),
        ),
        (
            "whale_trader_whale_copy_slippage_usd",
            MetricKind::Gauge,
            "Our entries against the whale's fills, in USD (positive: we paid more).",
            |w| Some(w.slippage_usd),
        ),
        (
            "whale_trader_whale_hit_ratio",
            MetricKind::Gauge,
            "Share of the whale's closed copies that made money.",
            |w| w.hit_rate,
        ),
        ("whale_trader_whale_consecutive_losses", MetricKind::Gauge, "Losing copies of the whale in a row.", |w| {
            Some(Decimal::from(w.consecutive_losses))
        }),
        ("whale_trader_whale_muted", MetricKind::Gauge, "1 while the whale breaker mutes the whale.", |w| {
            flag(w.standing == Standing::Muted)
        }),
        ("whale_trader_whale_locked", MetricKind::Gauge, "1 while the low-profit lock holds the whale.", |w| {
            flag(w.standing == Standing::Locked)
        }),
    ];
    let views: Vec<WhaleView> = configured
        .iter()
        .map(|whale| {
            let seen = whales.iter().find(|w| w.wallet.eq_ignore_ascii_case(&whale.address));
            seen.cloned().unwrap_or_else(|| WhaleView::unseen(&whale.address))
        })
        .collect();
    let rows: Vec<WhaleRow<'_, WhaleView>> = configured
        .iter()
        .zip(&views)
        .map(|(whale, view)| (whale.address.as_str(), whale.label.as_deref().unwrap_or(""), view))
        .collect();
    text.per_whale(&families, &rows);
}

fn wallet_metrics(text: &mut PromText, wallet: &super::wallet::WalletReaderStatus, view: &EngineView) {
    text.single(
        "whale_trader_wallet_readings_total",
        MetricKind::Counter,
        "Wallet readings (cash and positions) handed to the engine.",
        wallet.readings,
    );
    text.single(
        "whale_trader_wallet_reading_failures_total",
        MetricKind::Counter,
        "Wallet readings that failed.",
        wallet.failures,
    );
    text.single(
        "whale_trader_wallet_malformed_rows_total",
        MetricKind::Counter,
        "Malformed position rows skipped.",
        wallet.malformed_rows,
    );
    if let Some(cash) = view.risk.wallet_cash {
        text.single("whale_trader_wallet_cash_usd", MetricKind::Gauge, "The wallet's pUSD at its last reading.", cash);
    }
    text.single(
        "whale_trader_position_mismatches",
        MetricKind::Gauge,
        "Position mismatches holding trading until a human resolves them.",
        view.risk.position_mismatches.len(),
    );
}

fn exit_metrics(text: &mut PromText, exits: &ExitCounters) {
    for (name, help, value) in [
        ("whale_trader_exit_orders_total", "Exit orders sent, retries included.", exits.orders),
        (
            "whale_trader_exit_retries_total",
            "Exit orders sent again for shares an earlier one left unsold.",
            exits.retries,
        ),
        ("whale_trader_exit_unfilled_total", "Exit orders that finished with shares unsold.", exits.unfilled),
        ("whale_trader_exit_refused_total", "Exits the risk manager refused (tried again later).", exits.refused),
        ("whale_trader_exit_widenings_total", "Exit price bounds widened after their tries.", exits.widenings),
        (
            "whale_trader_exits_deferred_total",
            "Positions held to resolution: below the venue's minimum order.",
            exits.deferred,
        ),
    ] {
        text.single(name, MetricKind::Counter, help, value);
    }
}

/// Every cause, zeros included, so that a dashboard sees the family before the first refusal.
fn book_refusal_metrics(text: &mut PromText, counts: &BookRefusalCounts) {
    const NAME: &str = "whale_trader_books_refused_total";
    text.family(NAME, MetricKind::Counter, "Order books refused (never priced from), by cause.");
    for (cause, count) in counts.iter() {
        text.sample(NAME, &[("cause", cause.as_str())], count);
    }
}

fn risk_metrics(text: &mut PromText, view: &EngineView) {
    let r = &view.risk;
    text.single(
        "whale_trader_equity_usd",
        MetricKind::Gauge,
        "Equity: balance plus realised and unrealised P&L.",
        r.equity,
    );
    text.single("whale_trader_daily_pnl_usd", MetricKind::Gauge, "Today's realised plus unrealised P&L.", r.daily_pnl);
    text.single(
        "whale_trader_unrealised_pnl_usd",
        MetricKind::Gauge,
        "Unrealised P&L of open positions.",
        r.unrealised,
    );
    text.single("whale_trader_peak_equity_usd", MetricKind::Gauge, "Highest equity seen.", r.peak_equity);
    text.single(
        "whale_trader_drawdown_percent",
        MetricKind::Gauge,
        "Drawdown from peak equity, percent.",
        r.drawdown_percent,
    );
    text.single("whale_trader_total_exposure_usd", MetricKind::Gauge, "Open exposure in USD.", r.total_exposure_usd);
    text.single("whale_trader_consecutive_losses", MetricKind::Gauge, "Losing trades in a row.", r.consecutive_losses);
    text.single(
        "whale_trader_breaker_trips_total",
        MetricKind::Counter,
        "Circuit-breaker trips.",
        r.breaker_trips_total,
    );
    text.single(
        "whale_trader_risk_approved_total",
        MetricKind::Counter,
        "Orders the risk manager approved.",
        r.approved_total,
    );
    text.single(
        "whale_trader_risk_rejected_total",
        MetricKind::Counter,
        "Orders the risk manager rejected.",
        r.rejected_total,
    );
    text.family("whale_trader_exposure_per_whale_usd", MetricKind::Gauge, "Open exposure per followed whale, USD.");
    let mut per_whale: std::collections::BTreeMap<&str, rust_decimal::Decimal> = std::collections::BTreeMap::new();
    for position in &view.positions {
        *per_whale.entry(position.whale.as_str()).or_default() += position.size * position.entry_price;
    }
    for (whale, exposure) in per_whale {
        text.sample("whale_trader_exposure_per_whale_usd", &[("whale", whale)], exposure.round_dp(6));
    }
}

fn recorder_metrics(text: &mut PromText, stats: &SharedStats) {
    let stats = stats.lock().map(|s| s.clone()).unwrap_or_default();
    text.family("whale_trader_decisions_total", MetricKind::Counter, "Decisions on whale trades by reason code.");
    for (reason, count) in &stats.decisions {
        text.sample("whale_trader_decisions_total", &[("reason", reason)], count);
    }
    text.single(
        "whale_trader_orders_total",
        MetricKind::Counter,
        "Order intents sent to the executor.",
        stats.order_intents,
    );
    text.single("whale_trader_fills_total", MetricKind::Counter, "Fills applied to positions.", stats.fills);
    let lag = rust_decimal::Decimal::new(stats.last_feed_lag_ms, 3);
    let max_lag = rust_decimal::Decimal::new(stats.max_feed_lag_ms, 3);
    text.single(
        "whale_trader_feed_lag_seconds",
        MetricKind::Gauge,
        "Lag of the last whale trade: now minus its timestamp.",
        lag,
    );
    text.single("whale_trader_feed_lag_max_seconds", MetricKind::Gauge, "Largest whale-trade lag seen.", max_lag);
}

fn alert_metrics(text: &mut PromText, counters: &AlertCountersSnapshot) {
    let overall = [
        ("whale_trader_alerts_raised_total", "Alerts handed to the dispatcher.", counters.raised),
        (
            "whale_trader_alerts_dropped_at_handoff_total",
            "Non-critical alerts dropped from the dispatcher's full queue.",
            counters.dropped_at_handoff,
        ),
        ("whale_trader_alerts_grouped_total", "Occurrences merged into a grouped message.", counters.grouped),
        (
            "whale_trader_alerts_repeat_suppressed_total",
            "Repeats of an active condition held back.",
            counters.repeat_suppressed,
        ),
        (
            "whale_trader_alerts_halt_suppressed_total",
            "Trade rejections suppressed while halted.",
            counters.halt_suppressed,
        ),
        ("whale_trader_alerts_silenced_total", "Alerts held back by a silence.", counters.silenced),
        ("whale_trader_alerts_resolved_total", "Resolved notices sent.", counters.resolved),
        ("whale_trader_heartbeats_sent_total", "Dead man's switch pings sent.", counters.heartbeats_sent),
        (
            "whale_trader_heartbeats_skipped_total",
            "Heartbeat ticks withheld because the engine made no progress.",
            counters.heartbeats_skipped,
        ),
        ("whale_trader_heartbeats_failed_total", "Heartbeat pings that failed.", counters.heartbeats_failed),
    ];
    for (name, help, value) in overall {
        text.single(name, MetricKind::Counter, help, value);
    }
    type Read = fn(&ChannelCountersSnapshot) -> u64;
    let families: [(&str, &str, Read); 5] = [
        ("whale_trader_alerts_delivered_total", "Alerts delivered, per channel.", |c| c.delivered),
        ("whale_trader_alerts_suppressed_total", "Alerts suppressed by throttling or grouping.", |c| c.suppressed),
        ("whale_trader_alerts_dropped_total", "Alerts dropped from a full queue.", |c| c.dropped),
        (
            "whale_trader_alerts_digests_total",
            "Digests of the alerts a channel's throttle held back, per channel.",
            |c| c.digests,
        ),
        ("whale_trader_alerts_dead_lettered_total", "Deliveries that finally failed.", |c| c.dead_lettered),
    ];
    for (name, help, read) in families {
        text.family(name, MetricKind::Counter, help);
        for (channel, c) in &counters.channels {
            text.sample(name, &[("channel", channel)], read(c));
        }
    }
}

fn health_metrics(text: &mut PromText, report: &HealthReport) {
    let h = crate::health::HealthMetricsSnapshot::from_report(report);
    text.single(
        "whale_trader_health_severity",
        MetricKind::Gauge,
        "Overall health: 0 healthy … 3 critical.",
        h.overall_severity,
    );
    text.single(
        "whale_trader_uptime_seconds",
        MetricKind::Gauge,
        "Seconds since the daemon started.",
        h.uptime_seconds,
    );
    text.single(
        "whale_trader_trading_held_by_health",
        MetricKind::Gauge,
        "1 while health holds trading in Reducing.",
        u8::from(h.trading_held),
    );
    let optional_gauges = [
        ("whale_trader_system_cpu_percent", "CPU use, percent.", h.cpu_percent),
        ("whale_trader_system_load_average_1m", "Load average over 1 minute.", h.load_average_1m),
        ("whale_trader_system_memory_percent", "Memory use, percent.", h.memory_percent),
    ];
    for (name, help, value) in optional_gauges {
        if let Some(value) = value {
            text.single(name, MetricKind::Gauge, help, value);
        }
    }
    let optional_bytes = [
        ("whale_trader_system_memory_used_bytes", "Memory used.", MetricKind::Gauge, h.memory_used_bytes),
        ("whale_trader_system_memory_total_bytes", "Memory installed.", MetricKind::Gauge, h.memory_total_bytes),
        (
            "whale_trader_network_received_bytes_total",
            "Bytes received on all interfaces.",
            MetricKind::Counter,
            h.network_received_bytes,
        ),
        (
            "whale_trader_network_sent_bytes_total",
            "Bytes sent on all interfaces.",
            MetricKind::Counter,
            h.network_sent_bytes,
        ),
        (
            "whale_trader_process_resident_memory_bytes",
            "The daemon's resident memory.",
            MetricKind::Gauge,
            h.process_rss_bytes,
        ),
        ("whale_trader_process_threads", "The daemon's threads.", MetricKind::Gauge, h.process_threads),
        (
            "whale_trader_process_open_files",
            "The daemon's open file descriptors.",
            MetricKind::Gauge,
            h.process_open_files,
        ),
    ];
    for (name, help, kind, value) in optional_bytes {
        if let Some(value) = value {
            text.single(name, kind, help, value);
        }
    }
    text.family(
        "whale_trader_disk_used_percent",
        MetricKind::Gauge,
        "Disk use of the data and log directories, percent.",
    );
    for disk in &h.disks {
        text.sample("whale_trader_disk_used_percent", &[("directory", &disk.label)], disk.percent);
    }
    text.family("whale_trader_component_severity", MetricKind::Gauge, "Component health: 0 healthy … 3 critical.");
    for component in &h.components {
        text.sample("whale_trader_component_severity", &[("component", &component.name)], component.severity);
    }
    text.family("whale_trader_component_check_seconds", MetricKind::Gauge, "Latency of the last component check.");
    for component in &h.components {
        text.sample(
            "whale_trader_component_check_seconds",
            &[("component", &component.name)],
            component.latency_seconds,
        );
    }
}

/// The trade plans open now: how many, and their open risk in total and per asset.
fn plan_book_metrics(text: &mut PromText, plans: &crate::engine::view::PlanBookView) {
    text.single("whale_trader_signals_open", MetricKind::Gauge, "Trade plans open.", plans.open.len());
    text.single(
        "whale_trader_signals_open_risk_usd",
        MetricKind::Gauge,
        "Open risk of the trade plans, USD.",
        plans.risk_usd,
    );
    const BY_ASSET: &str = "whale_trader_signals_open_risk_by_asset_usd";
    text.family(BY_ASSET, MetricKind::Gauge, "Open risk of the trade plans per base asset, USD.");
    for (asset, risk) in &plans.risk_by_asset {
        text.sample(BY_ASSET, &[("asset", asset)], risk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_refusals_are_one_family_summing_the_feeds_and_the_engine_with_every_cause() {
        let feeds = BookRefusalCounts { crossed: 2, unsorted: 1, ..Default::default() };
        let engine = BookRefusalCounts { crossed: 1, older_than_last: 4, ..Default::default() };
        let mut text = PromText::new();
        book_refusal_metrics(&mut text, &feeds.plus(&engine));
        let body = text.finish();
        assert!(body.contains("# TYPE whale_trader_books_refused_total counter\n"), "{body}");
        for (cause, n) in [
            ("malformed", 0),
            ("price_out_of_range", 0),
            ("unsorted", 1),
            ("repeated_price", 0),
            ("crossed", 3),
            ("locked", 0),
            ("older_than_last", 4),
        ] {
            assert!(body.contains(&format!("whale_trader_books_refused_total{{cause=\"{cause}\"}} {n}\n")), "{body}");
        }
    }

    #[test]
    fn whale_metrics_label_only_the_configured_whales_and_show_a_new_one_at_zero() {
        use rust_decimal_macros::dec;
        let configured = |address: &str, label: Option<&str>| WhaleConfig {
            address: address.into(),
            label: label.map(str::to_owned),
            ..WhaleConfig::default()
        };
        let config = [configured("0xaa", Some("alpha")), configured("0xbb", None)];
        let mut muted = WhaleView::unseen("0xAA");
        muted.standing = Standing::Muted;
        muted.copies_closed = 3;
        muted.consecutive_losses = 3;
        muted.realised_pnl = dec!(-12.5);
        muted.hit_rate = Some(Decimal::ZERO);
        // Copied before the operator removed it from the config: not labelled any more.
        let dropped = WhaleView::unseen("0xcc");
        let mut text = PromText::new();
        whale_metrics(&mut text, &[muted, dropped], &config);
        let body = text.finish();
        for line in [
            "whale_trader_whale_muted{whale=\"0xaa\",label=\"alpha\"} 1",
            "whale_trader_whale_realised_pnl_usd{whale=\"0xaa\",label=\"alpha\"} -12.5",
            "whale_trader_whale_consecutive_losses{whale=\"0xaa\",label=\"alpha\"} 3",
            "whale_trader_whale_hit_ratio{whale=\"0xaa\",label=\"alpha\"} 0",
            "whale_trader_whale_copies_closed_total{whale=\"0xbb\",label=\"\"} 0",
            "whale_trader_whale_muted{whale=\"0xbb\",label=\"\"} 0",
        ] {
            assert!(body.contains(&format!("{line}\n")), "{line} missing from\n{body}");
        }
        assert!(!body.contains("0xcc"), "{body}");
        assert!(!body.contains("whale_trader_whale_hit_ratio{whale=\"0xbb\""), "no hit ratio before a closed copy");
    }
}
