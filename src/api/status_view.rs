//! The status shown by `GET /status` and `whale-trader status`, live or read from the store, with the
//! store it is about (file, mode, feed source).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::market::beside;

pub use crate::engine::view::{HoldView, MismatchView, PositionView, WhaleView};

/// Which store the status is about: its file, and the mode and feed source it holds the state of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreView {
    pub path: String,
    pub mode: String,
    pub feed_source: String,
}

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// `daemon` when read from the running daemon, `store` when read offline.
    pub source: String,
    pub mode: String,
    pub trading_state: String,
    pub state_reason: Option<String>,
    /// Figures the source may not know (the store before the first risk snapshot) are `None`.
    pub equity: Option<Decimal>,
    pub daily_pnl: Option<Decimal>,
    pub realised_pnl: Option<Decimal>,
    pub drawdown_percent: Option<Decimal>,
    pub breaker_trips_today: Option<u32>,
    pub open_positions: Vec<PositionView>,
    /// The risk limits in use, as configured.
    pub limits: serde_json::Value,
    /// The store the daemon writes, or the one read offline (absent from a daemon that does not say).
    #[serde(default)]
    pub store: Option<StoreView>,
    /// Live mode: the wallet's cash at its last reading and the position mismatches holding trading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<WalletView>,
    /// Each copied whale's results and standing (the daemon's view; empty offline).
    #[serde(default)]
    pub whales: Vec<WhaleView>,
    /// What holds trading and until when (the daemon's view; empty offline, where the state's
    /// reason is all the store says).
    #[serde(default)]
    pub holds: Vec<HoldView>,
    /// The feeds' and the other components' last health check (the daemon's; empty offline).
    #[serde(default)]
    pub components: Vec<ComponentView>,
    /// `[record]`: whether the daemon records its inputs, and where (the daemon's; absent offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingView>,
}

/// The session recorder as it last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingView {
    /// `recording`, `day_full` (the day's file reached `max_file_mb`: nothing more until the next
    /// UTC day) or `failed` (a write error stopped recording; trading goes on).
    pub state: String,
    pub dir: String,
    /// The file being written, once the first line went in.
    pub file: Option<String>,
    /// Lines written since the daemon started.
    pub lines: u64,
    /// What stopped it (`day_full`, `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One component's last health check: the whale and price feeds (polls failing in a row, the
/// last successful poll, stale tokens), the venue, the engine, the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentView {
    pub name: String,
    pub status: String,
    pub message: String,
    pub checked_at: String,
}

/// The wallet as its last reading found it (live mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalletView {
    /// pUSD the wallet held; `None` until the first reading.
    pub cash_usd: Option<Decimal>,
    /// When that reading was taken (RFC 3339).
    pub read_at: Option<String>,
    pub mismatches: Vec<MismatchView>,
}

impl StatusView {
    /// A short human summary for the terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let reason = self.state_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        out.push_str(&format!("whale-trader [{} mode, from the {}]\n", self.mode, self.source));
        if let Some(store) = &self.store {
            out.push_str(&format!(
                "store         : {} ({} mode, {} feed)\n",
                store.path, store.mode, store.feed_source
            ));
        }
        if let Some(r) = &self.recording {
            let file = r.file.as_deref().unwrap_or(&r.dir);
            let detail = r.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
            out.push_str(&format!("recording     : {} to {file} ({} lines){detail}\n", r.state, r.lines));
        }
        out.push_str(&format!("trading state : {}{reason}\n", self.trading_state));
        for h in &self.holds {
            let until = h
                .until
                .as_deref()
                .map(|u| format!(" until {u}"))
                .unwrap_or_else(|| " until it clears or a human acts".into());
            out.push_str(&format!("  held by     : {} ({}){until}\n", h.reason, h.holds));
        }
        out.push_str(&format!("equity        : {}\n", usd_or_unknown(self.equity)));
        if let Some(wallet) = &self.wallet {
            let read =
                wallet.read_at.as_deref().map(|at| format!(" (read {at})")).unwrap_or_else(|| " (not read yet)".into());
            out.push_str(&format!("wallet cash   : {}{read}\n", usd_or_unknown(wallet.cash_usd)));
            for m in &wallet.mismatches {
                out.push_str(&format!(
                    "  mismatch {} ({}): ours {}, venue {} @ {}: {} of {}\n",
                    m.token,
                    m.kind,
                    m.ours,
                    m.venue,
                    m.venue_avg_price,
                    beside(&m.outcome, &m.token),
                    beside(&m.market_title, &m.market)
                ));
            }
        }
        out.push_str(&format!("daily P&L     : {}\n", usd_or_unknown(self.daily_pnl)));
        out.push_str(&format!("realised P&L  : {}\n", usd_or_unknown(self.realised_pnl)));
        let drawdown = self.drawdown_percent.map(|d| format!("{}%", d.round_dp(2))).unwrap_or_else(|| "unknown".into());
        out.push_str(&format!("drawdown      : {drawdown}\n"));
        let trips = self.breaker_trips_today.map(|t| t.to_string()).unwrap_or_else(|| "unknown".into());
        out.push_str(&format!("breaker trips : {trips} today\n"));
        if !self.whales.is_empty() {
            out.push_str(&format!("whales        : {}\n", self.whales.len()));
            for w in &self.whales {
                out.push_str(&format!("  {}\n", whale_line(w)));
            }
        }
        if !self.components.is_empty() {
            out.push_str("health        :\n");
            for c in &self.components {
                out.push_str(&format!("  {:<12} {:<10} {} (checked {})\n", c.name, c.status, c.message, c.checked_at));
            }
        }
        out.push_str(&format!("open positions: {}\n", self.open_positions.len()));
        for p in &self.open_positions {
            let pnl = p.unrealised_pnl.map(|v| format!(" P&L {}", crate::alerts::usd(v))).unwrap_or_default();
            let last = p.last_price.map(|v| format!(" now {v}")).unwrap_or_default();
            out.push_str(&format!(
                "  {} {} {} @ {}{last}{pnl}: {} (whale {})\n",
                p.id,
                p.size.round_dp(2),
                p.outcome,
                p.entry_price,
                beside(&p.market_title, &p.market),
                beside(&p.whale_label, &p.whale)
            ));
        }
        out
    }
}

fn usd_or_unknown(value: Option<Decimal>) -> String {
    value.map(crate::alerts::usd).unwrap_or_else(|| "unknown".into())
}

/// One whale on one line: name, standing, results, and what copying cost against the whale's own fills.
pub fn whale_line(w: &WhaleView) -> String {
    let usd = crate::alerts::usd;
    let name = match &w.label {
        Some(label) => format!("{label} ({})", w.wallet),
        None => w.wallet.clone(),
    };
    let standing = match (&w.muted_until, &w.mute_cause) {
        (Some(until), Some(cause)) => format!("{} until {until} ({cause})", w.standing.as_str()),
        _ => w.standing.as_str().to_owned(),
    };
    let hit = w.hit_rate.map(|h| format!(", {}% hit", (h * Decimal::ONE_HUNDRED).round_dp(0))).unwrap_or_default();
    let slip = w
        .average_slippage
        .map(|s| format!(", slippage {} /share ({})", s.round_dp(4), usd(w.slippage_usd)))
        .unwrap_or_default();
    format!(
        "{name}: {standing}; {} copies ({} open), realised {}, unrealised {}, whale's own {}{hit}{slip}",
        w.copies_opened,
        w.open_positions,
        usd(w.realised_pnl),
        usd(w.unrealised_pnl),
        usd(w.whale_result),
    )
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn render_lists_state_pnl_and_positions() {
        let view = StatusView {
            source: "daemon".into(),
            mode: "paper".into(),
            trading_state: "halted".into(),
            state_reason: Some("manual_halt".into()),
            equity: Some(dec!(10012.345)),
            daily_pnl: Some(dec!(-12.5)),
            realised_pnl: None,
            drawdown_percent: Some(dec!(1.234)),
            breaker_trips_today: Some(1),
            open_positions: vec![PositionView {
                id: "pos-1".into(),
                whale: "0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee".into(),
                market: "0xabc".into(),
                token: "123".into(),
                outcome: "Yes".into(),
                whale_label: "Theo".into(),
                market_title: "Will it rain in Paris?".into(),
                size: dec!(100),
                entry_price: dec!(0.52),
                last_price: Some(dec!(0.55)),
                unrealised_pnl: Some(dec!(3)),
                opened_at: "2026-01-01T00:00:00.000Z".into(),
            }],
            limits: serde_json::json!({}),
            store: Some(StoreView {
                path: "data/whale-trader.paper.polymarket.db".into(),
                mode: "paper".into(),
                feed_source: "polymarket".into(),
            }),
            wallet: Some(WalletView {
                cash_usd: Some(dec!(2000)),
                read_at: Some("2026-01-01T00:00:00.000Z".into()),
                mismatches: vec![MismatchView {
                    token: "555".into(),
                    market: "0xm".into(),
                    market_title: "Will it snow?".into(),
                    outcome: "No".into(),
                    kind: "unknown_to_us".into(),
                    ours: dec!(0),
                    venue: dec!(120),
                    venue_avg_price: dec!(0.4),
                    since: "2026-01-01T00:00:00.000Z".into(),
                }],
            }),
            whales: vec![WhaleView {
                wallet: "0xabc".into(),
                label: Some("Theo".into()),
                whale_label: "Theo".into(),
                standing: crate::engine::Standing::Muted,
                mute_cause: Some("consecutive_losses".into()),
                muted_until: Some("2026-01-02T00:00:00.000Z".into()),
                copies_opened: 4,
                copies_closed: 3,
                open_positions: 1,
                realised_pnl: dec!(-12.5),
                unrealised_pnl: dec!(1.25),
                fees: dec!(0.3),
                hit_rate: Some(dec!(0)),
                average_hold_secs: Some(600),
                average_slippage: Some(dec!(0.012)),
                slippage_usd: dec!(3.6),
                whale_result: dec!(-8.6),
                rolling_pnl: dec!(-12.5),
                consecutive_losses: 3,
            }],
            holds: vec![
                HoldView {
                    reason: "circuit_breaker_tripped".into(),
                    holds: "trading".into(),
                    until: Some("2026-01-01T01:00:00.000Z".into()),
                },
                HoldView { reason: "health_degraded".into(), holds: "trading".into(), until: None },
            ],
            components: vec![ComponentView {
                name: "whale_feed".into(),
                status: "degraded".into(),
                message: "alpha: 3 polls failed in a row (timeout)".into(),
                checked_at: "2026-01-01T00:00:30.000Z".into(),
            }],
            recording: Some(RecordingView {
                state: "recording".into(),
                dir: "data/sessions".into(),
                file: Some("data/sessions/session-2026-01-01.jsonl".into()),
                lines: 12,
                detail: None,
            }),
        };
        let text = view.render();
        assert!(
            text.contains("recording     : recording to data/sessions/session-2026-01-01.jsonl (12 lines)\n"),
            "{text}"
        );
        assert!(
            text.contains("held by     : circuit_breaker_tripped (trading) until 2026-01-01T01:00:00.000Z\n"),
            "{text}"
        );
        assert!(text.contains("held by     : health_degraded (trading) until it clears or a human acts"), "{text}");
        assert!(
            text.contains(
                "  whale_feed   degraded   alpha: 3 polls failed in a row (timeout) (checked 2026-01-01T00:00:30.000Z)"
            ),
            "{text}"
        );
        assert!(
            text.contains("Theo (0xabc): muted until 2026-01-02T00:00:00.000Z (consecutive_losses); 4 copies (1 open)"),
            "{text}"
        );
        assert!(
            text.contains(
                "realised -$12.50, unrealised $1.25, whale's own -$8.60, 0% hit, slippage 0.012 /share ($3.60)"
            ),
            "{text}"
        );
        assert!(
            text.contains("store         : data/whale-trader.paper.polymarket.db (paper mode, polymarket feed)"),
            "{text}"
        );
        assert!(text.contains("trading state : halted (manual_halt)"), "{text}");
        assert!(text.contains("realised P&L  : unknown"), "{text}");
        assert!(text.contains("equity        : $10012.34") || text.contains("equity        : $10012.35"), "{text}");
        // Money reads like the alerts' (`-$523.45`), sign first.
        assert!(text.contains("daily P&L     : -$12.50"), "{text}");
        assert!(text.contains("wallet cash   : $2000.00 (read 2026-01-01T00:00:00.000Z)"), "{text}");
        assert!(
            text.contains("mismatch 555 (unknown_to_us): ours 0, venue 120 @ 0.4: No (555) of Will it snow? (0xm)"),
            "{text}"
        );
        assert!(
            text.contains(
                "pos-1 100 Yes @ 0.52 now 0.55 P&L $3.00: Will it rain in Paris? (0xabc) (whale Theo (0x6a72f6…33ee))"
            ),
            "{text}"
        );
    }
}
