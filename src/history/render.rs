//! The history's answers as text for a terminal or a chat: one line per trade, day or whale,
//! names before ids, money as `$1.23` / `-$1.23`.

use std::fmt::Write;

use rust_decimal::Decimal;

use crate::alerts::usd;
use crate::engine::view::WhaleView;

use super::{DailyView, ProfitView, TradesView, WhaleProfit};

fn name(label: Option<&str>, id: &str) -> String {
    match label {
        Some(label) => format!("{label} ({})", short(id)),
        None => short(id),
    }
}

/// Long ids shortened to their first 6 and last 4 characters (the JSON keeps them whole).
fn short(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() > 12 {
        format!("{}…{}", chars[..6].iter().collect::<String>(), chars[chars.len() - 4..].iter().collect::<String>())
    } else {
        id.to_string()
    }
}

fn usd_or(value: Option<Decimal>, unknown: &str) -> String {
    value.map(usd).unwrap_or_else(|| unknown.into())
}

/// `trades`: newest first.
pub fn render_trades(view: &TradesView) -> String {
    let mut out =
        format!("trades (from the {}): {} shown of {} matching\n", view.source, view.trades.len(), view.matched);
    for t in &view.trades {
        let exit = t.exit_price.map(|p| format!(" → {p}")).unwrap_or_default();
        let pnl = usd_or(t.pnl, "P&L unknown");
        let reason = t.exit_reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default();
        let closed = t.closed_at.as_deref().map(|c| format!(", closed {c}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {} {} {} @ {}{exit} {pnl}{reason} (fees {}) whale {}, market {}, opened {}{closed}",
            t.id,
            t.status,
            t.size.round_dp(2),
            t.outcome,
            t.entry_price,
            usd(t.fees),
            name(t.whale_label.as_deref(), &t.whale),
            name(t.market_title.as_deref(), &t.market),
            t.opened_at,
        );
    }
    out
}

/// `profit`.
pub fn render_profit(view: &ProfitView) -> String {
    let mut out = format!("profit (from the {})\n", view.source);
    let _ = writeln!(out, "realised P&L   : {}", usd(view.realised_pnl));
    let _ = writeln!(out, "unrealised P&L : {}", usd_or(view.unrealised_pnl, "unknown (no daemon running)"));
    let _ = writeln!(out, "trades         : {} closed, {} open", view.closed_trades, view.open_trades);
    let rate = view.win_rate_percent.map(|r| format!("{r}%")).unwrap_or_else(|| "none closed".into());
    let _ = writeln!(out, "win rate       : {rate} ({} won, {} lost)", view.wins, view.losses);
    let factor = view.profit_factor.map(|f| f.to_string()).unwrap_or_else(|| "none (no losing trade)".into());
    let _ = writeln!(out, "profit factor  : {factor}");
    for (what, trade) in [("best trade     ", &view.best), ("worst trade    ", &view.worst)] {
        if let Some(t) = trade {
            let _ = writeln!(
                out,
                "{what}: {} {} (whale {}, market {})",
                t.id,
                usd(t.pnl),
                name(t.whale_label.as_deref(), &t.whale),
                name(t.market_title.as_deref(), &t.market)
            );
        }
    }
    let _ = writeln!(out, "fees           : {} (the P&L is net of them)", usd(view.fees));
    if !view.whales.is_empty() {
        out.push_str("per whale:\n");
        out.push_str(&render_whales(&view.whales));
    }
    out
}

/// `daily`: newest first.
pub fn render_daily(view: &DailyView) -> String {
    let mut out = format!(
        "daily P&L (from the {}, days start {:02}:{:02} UTC)\n",
        view.source,
        view.day_start_utc_minutes / 60,
        view.day_start_utc_minutes % 60
    );
    for d in &view.days {
        let _ = writeln!(
            out,
            "  {}  {:>12}  {} closed ({} won, {} lost), fees {}",
            d.date,
            usd(d.realised_pnl),
            d.closed,
            d.wins,
            d.losses,
            usd(d.fees)
        );
    }
    let _ = writeln!(out, "  total       {:>12}", usd(view.total_pnl));
    out
}

/// Per-whale results from the trade history (the offline `whales` table and `profit`'s lines).
pub fn render_whales(whales: &[WhaleProfit]) -> String {
    let mut out = String::new();
    for w in whales {
        let unrealised = w.unrealised_pnl.map(|u| format!(", unrealised {}", usd(u))).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}: {} closed ({} won, {} lost), {} open, realised {}{unrealised}, fees {}",
            name(w.label.as_deref(), &w.wallet),
            w.closed,
            w.wins,
            w.losses,
            w.open,
            usd(w.realised_pnl),
            usd(w.fees)
        );
    }
    out
}

/// The running daemon's whales as a table: one row each, standing first.
pub fn render_whale_table(whales: &[WhaleView]) -> String {
    let mut out = format!(
        "{:<48} {:<14} {:>6} {:>5} {:>12} {:>12} {:>6} {:>10}  {}\n",
        "whale", "standing", "copies", "open", "realised", "unrealised", "hit", "fees", "held until"
    );
    for w in whales {
        let hit =
            w.hit_rate.map(|h| format!("{}%", (h * Decimal::ONE_HUNDRED).round_dp(0))).unwrap_or_else(|| "-".into());
        let held = match (&w.muted_until, &w.mute_cause) {
            (Some(until), Some(cause)) => format!("{until} ({cause})"),
            (Some(until), None) => until.clone(),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<48} {:<14} {:>6} {:>5} {:>12} {:>12} {:>6} {:>10}  {held}",
            // The whole wallet: it is what `unmute` takes.
            match &w.label {
                Some(label) => format!("{label} ({})", w.wallet),
                None => w.wallet.clone(),
            },
            w.standing.as_str(),
            w.copies_opened,
            w.open_positions,
            usd(w.realised_pnl),
            usd(w.unrealised_pnl),
            hit,
            usd(w.fees),
        );
    }
    out
}
