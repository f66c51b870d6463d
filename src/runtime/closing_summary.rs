//! What a replayed session did, told once its last input has been applied: the demo's closing
//! words to a person at a terminal, and one structured log line for everyone else.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::alerts::usd;
use crate::engine::{EngineView, ReplayReport};

/// Everything the summary says, gathered by the recorder when the session's end reaches it.
pub struct ClosingSummary<'a> {
    pub session: &'a Path,
    pub report: &'a ReplayReport,
    pub view: &'a EngineView,
    /// Closed trades by exit reason, counted by the recorder in this run.
    pub closes: &'a BTreeMap<String, u64>,
    /// Decisions by reason code (`copied` for approvals), counted by the recorder in this run.
    pub decisions: &'a BTreeMap<String, u64>,
    pub log_dir: &'a Path,
    pub store: &'a Path,
}

impl ClosingSummary<'_> {
    /// The closing words, several lines, for a terminal.
    pub fn render(&self) -> String {
        let status = &self.view.status;
        let risk = &self.view.risk;
        let mut text = String::new();
        let _ = writeln!(text, "\n── session replayed: {} ──", self.session.display());
        if self.report.inputs == 0 {
            let _ = writeln!(
                text,
                "  nothing new: this store had already replayed the session before this start\n  \
                 (move {} away to watch it again from the beginning)",
                self.store.display()
            );
        }
        let _ = writeln!(text, "  whale trades seen  {}", status.whale_trades_seen);
        let _ = writeln!(text, "  trades opened      {}", status.trades_opened);
        let _ = writeln!(text, "  trades closed      {}{}", status.trades_closed, by_reason(self.closes));
        let rejections: BTreeMap<String, u64> =
            self.decisions.iter().filter(|(reason, _)| *reason != "copied").map(|(r, n)| (r.clone(), *n)).collect();
        let _ = writeln!(text, "  trades rejected    {}{}", status.trades_rejected, by_reason(&rejections));
        let _ = writeln!(text, "  realised P&L       {}", usd(status.realised_pnl_usd));
        let _ = writeln!(text, "  open positions     {} (unrealised {})", status.open_positions, usd(risk.unrealised));
        let _ = writeln!(
            text,
            "  equity             {} (drawdown {}%)",
            usd(risk.equity),
            risk.drawdown_percent.round_dp(2)
        );
        let cause = risk.state_cause.map(|c| format!(" ({})", c.as_str())).unwrap_or_default();
        let _ = writeln!(text, "  trading state      {}{cause}", risk.state.as_str());
        let _ = writeln!(text, "  logs               {}/ (trade_audit.log: every decision)", self.log_dir.display());
        let _ = writeln!(text, "  store              {}", self.store.display());
        let _ = writeln!(
            text,
            "\nThe daemon keeps running (Ctrl-C stops it). In another terminal, try:\n  \
             whale-trader status     what holds trading, P&L, open positions\n  \
             whale-trader trades     every trade, with its whale and market\n  \
             whale-trader profit     the result, by whale\n  \
             whale-trader replay --json   the same session again, as fast as it goes"
        );
        text
    }
}

/// ` (stop_loss ×2, take_profit ×1)`, or nothing when there is nothing to break down.
fn by_reason(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = counts.iter().map(|(reason, n)| format!("{reason} ×{n}")).collect();
    format!(" ({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_listed_with_their_counts() {
        let counts = BTreeMap::from([("stop_loss".to_owned(), 2), ("take_profit".to_owned(), 1)]);
        assert_eq!(by_reason(&counts), " (stop_loss ×2, take_profit ×1)");
        assert_eq!(by_reason(&BTreeMap::new()), "");
    }

    #[test]
    fn the_summary_names_the_figures_the_logs_and_what_to_try_next() {
        let config = std::sync::Arc::new(crate::config::Config::default());
        let view = crate::engine::Engine::new(
            config,
            crate::engine::EngineSettings::default(),
            Box::new(crate::engine::DiscardAuditSink),
            crate::clock::Timestamp::from_secs(1_767_607_200),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .view();
        let report = ReplayReport { inputs: 10, ..Default::default() };
        let closes = BTreeMap::from([("stop_loss".to_owned(), 2)]);
        let decisions = BTreeMap::from([("copied".to_owned(), 3), ("price_moved".to_owned(), 1)]);
        let text = ClosingSummary {
            session: Path::new("data/sample_session.jsonl"),
            report: &report,
            view: &view,
            closes: &closes,
            decisions: &decisions,
            log_dir: Path::new("logs"),
            store: Path::new("data/whale-trader.paper.replay.db"),
        }
        .render();
        assert!(text.contains("trades closed      0 (stop_loss ×2)"), "{text}");
        assert!(text.contains("(price_moved ×1)") && !text.contains("copied"), "{text}");
        assert!(text.contains("whale-trader status") && text.contains("logs/"), "{text}");
        assert!(!text.contains("nothing new"), "{text}");
    }
}
