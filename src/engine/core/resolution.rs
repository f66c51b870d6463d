//! Markets that close and resolve: a closed market's positions wait for its resolution, a
//! resolved market settles them at 1 or 0, and a live winner asks for its redemption on chain.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::{ExitReason, MarketId, Side, TokenId};
use crate::engine::audit::{AuditRecord, MarketClosed, MarketReopened};
use crate::engine::io::{EngineEvent, Outputs, RedemptionRequest};
use crate::risk::PositionId;

use super::Engine;

impl Engine {
    /// A resolved market pays 1 per winning share and 0 per losing share: every open position in it
    /// is settled at that price without an order (there is no book any more).
    pub(super) fn on_resolution(&mut self, condition_id: &str, winning_token: &str, now: Timestamp, out: &mut Outputs) {
        let Some(market) = self.interner.find_market(condition_id) else { return };
        let winner = self.interner.find_token(winning_token);
        let positions = self.portfolio.open_positions_sorted(|t| t.market == market);
        let redemption = self.redemption_request(condition_id, &positions, winner, now);
        for position in positions {
            let Some(trade) = self.portfolio.trades.get(&position) else { continue };
            let price = if Some(trade.token) == winner { Decimal::ONE } else { Decimal::ZERO };
            let size = trade.open_size();
            // Fees were booked with each fill; the settlement books only the price difference.
            let realised = (price - trade.avg_entry_price()) * size;
            if let Err(e) = self.risk.on_close(position, realised, now) {
                tracing::error!(%position, error = %e, "the risk manager refused a settlement");
            }
            // Orders still working on a settled position are moot.
            self.portfolio.pending.retain(|_, p| p.position != position);
            if let Some(trade) = self.portfolio.trades.get_mut(&position) {
                trade.exit_size += size;
                trade.exit_proceeds += price * size;
                trade.exiting = Decimal::ZERO;
            }
            self.close_trade(position, ExitReason::MarketResolved, now, out);
        }
        self.closed_markets.remove(&market);
        // After the settlement's own events, so that the store writes it in the same group.
        out.events.extend(redemption);
    }

    /// A market we hold stopped trading before its resolution is known: its positions wait for the
    /// resolution. Said once (audit, alert); a market we hold nothing in is not remembered.
    pub(super) fn on_market_closed(&mut self, condition_id: &str, now: Timestamp, out: &mut Outputs) {
        let Some(market) = self.interner.find_market(condition_id) else { return };
        let held = self.trade_ids_in(market);
        let pending = self.portfolio.pending.values().any(|p| p.intent.market == market);
        if (held.is_empty() && !pending) || !self.closed_markets.insert(market) {
            return;
        }
        tracing::warn!(
            market = condition_id,
            title = %self.names.market_title(condition_id),
            trades = held.len(),
            "market closed; its positions wait for the resolution"
        );
        let record = AuditRecord::MarketClosed(MarketClosed {
            market_id: condition_id.to_owned(),
            market_title: self.names.market_title(condition_id),
            trade_ids: held,
            timestamp: now.to_rfc3339(),
        });
        self.emit_audit(record, out);
    }

    /// A market reported closed takes orders again: its positions are watched and exited as before.
    pub(super) fn on_market_reopened(&mut self, condition_id: &str, now: Timestamp, out: &mut Outputs) {
        let Some(market) = self.interner.find_market(condition_id) else { return };
        if !self.closed_markets.remove(&market) {
            return;
        }
        let record = AuditRecord::MarketReopened(MarketReopened {
            market_id: condition_id.to_owned(),
            market_title: self.names.market_title(condition_id),
            trade_ids: self.trade_ids_in(market),
            timestamp: now.to_rfc3339(),
        });
        self.emit_audit(record, out);
    }

    /// The open trades of `market`, by trade id, in position order.
    fn trade_ids_in(&self, market: MarketId) -> Vec<String> {
        let positions = self.portfolio.open_positions_sorted(|t| t.market == market);
        positions.iter().filter_map(|p| self.portfolio.trades.get(p)).map(|t| t.trade_id.clone()).collect()
    }

    /// Markets that stopped trading before their resolution is known.
    pub fn closed_markets(&self) -> &BTreeSet<MarketId> {
        &self.closed_markets
    }

    /// Whether anything we hold or have working needs prices: positions and orders in closed
    /// markets do not (no book is coming; they wait for their resolution).
    pub(super) fn watching_prices(&self) -> bool {
        let closed = &self.closed_markets;
        if closed.is_empty() {
            return self.portfolio.open_count() > 0 || !self.portfolio.pending.is_empty();
        }
        self.portfolio.open_trades().any(|t| !closed.contains(&t.market))
            || self.portfolio.pending.values().any(|p| !closed.contains(&p.intent.market))
    }

    /// In live mode the winning shares of a resolved market are worth 1 USD each only once they are
    /// redeemed on chain: one request per market (the contract redeems the whole balance of the
    /// condition at once), written ahead by the store like an order. Losing shares need nothing (they
    /// pay 0); paper and dry runs hold no tokens.
    fn redemption_request(
        &self,
        condition_id: &str,
        positions: &[PositionId],
        winner: Option<TokenId>,
        now: Timestamp,
    ) -> Option<EngineEvent> {
        if self.mode != Mode::Live {
            return None;
        }
        let winner = winner?;
        let mut held = positions
            .iter()
            .filter_map(|p| self.portfolio.trades.get(p))
            .filter(|t| t.token == winner && t.side == Side::Buy && t.open_size() > Decimal::ZERO)
            .peekable();
        let first = held.peek()?.trade_id.clone();
        let (mut shares, mut outcome) = (Decimal::ZERO, String::new());
        for trade in held {
            shares += trade.open_size();
            outcome.clone_from(&trade.outcome);
        }
        Some(EngineEvent::RedemptionRequested(Box::new(RedemptionRequest {
            redemption_id: format!("{condition_id}/{first}"),
            condition_id: condition_id.to_owned(),
            token_id: self.interner.token_name(winner).unwrap_or_default().to_owned(),
            outcome,
            shares,
            neg_risk: self.book(winner).is_some_and(|b| b.neg_risk),
            at: now,
        })))
    }
}
