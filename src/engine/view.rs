//! What observers see of the engine: the risk manager's snapshot and the open trades by name. Built
//! off the per-event path (the engine task publishes it at a bounded rate), since it allocates.

use crate::api::{MismatchView, PositionView};
use crate::risk::RiskSnapshot;

use super::core::Engine;
use super::io::EngineStatus;

/// A point-in-time picture of the engine for `/status`, `/metrics` and alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineView {
    pub status: EngineStatus,
    pub risk: RiskSnapshot,
    pub positions: Vec<PositionView>,
    /// Every token with an open position or an order in flight: what the price feed must watch.
    pub watched_tokens: std::collections::BTreeSet<String>,
    /// Live mode: the position mismatches holding trading, tokens by name.
    pub mismatches: Vec<MismatchView>,
}

impl Engine {
    /// The engine's view for observers.
    pub fn view(&self) -> EngineView {
        let names = self.interner();
        let positions = self
            .portfolio()
            .open_trades()
            .map(|trade| {
                let size = trade.open_size();
                let entry = trade.avg_entry_price();
                let last = self.risk().mark(trade.token);
                PositionView {
                    id: trade.trade_id.clone(),
                    whale: names.whale_name(trade.whale).unwrap_or("?").to_string(),
                    market: names.market_name(trade.market).unwrap_or("?").to_string(),
                    token: names.token_name(trade.token).unwrap_or("?").to_string(),
                    outcome: trade.outcome.clone(),
                    size,
                    entry_price: entry,
                    last_price: last,
                    unrealised_pnl: last.map(|price| (price - entry) * size),
                    opened_at: trade.opened_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                }
            })
            .collect();
        let portfolio = self.portfolio();
        let watched_tokens = portfolio
            .open_trades()
            .map(|trade| trade.token)
            .chain(portfolio.pending.values().map(|order| order.intent.token))
            .filter_map(|token| names.token_name(token))
            .map(str::to_owned)
            .collect();
        let mismatches = self
            .risk()
            .mismatches()
            .iter()
            .map(|m| MismatchView {
                token: names.token_name(m.token).unwrap_or("?").to_string(),
                market: names.market_name(m.market).unwrap_or("?").to_string(),
                kind: m.kind.as_str().to_owned(),
                ours: m.ours,
                venue: m.venue,
                venue_avg_price: m.venue_avg_price,
                since: m.since.to_rfc3339(),
            })
            .collect();
        EngineView { status: self.status(), risk: self.risk().snapshot(), positions, watched_tokens, mismatches }
    }
}
