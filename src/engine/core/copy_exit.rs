//! Copying a whale's sale: our positions opened through that whale in that token are exited in
//! proportion to what the whale sold.

use rust_decimal::Decimal;

use crate::domain::ExitReason;
use crate::engine::copy_rules;
use crate::engine::io::{DecisionOutcome, Outputs, WhaleTradeDecision};
use crate::market::WhaleTrade;

use super::Engine;

impl Engine {
    pub(super) fn copy_exit(
        &mut self,
        trade: &WhaleTrade,
        decision: WhaleTradeDecision,
        whale_held: Decimal,
        out: &mut Outputs,
    ) {
        let (whale, token, now) = (decision.whale, decision.token, decision.at);
        let fraction = copy_rules::exit_fraction(self.config.copy.exit_mode, trade.size, whale_held);
        let positions = self.portfolio.open_positions_sorted(|t| t.whale == whale && t.token == token);
        let intents_before = out.intents.len();
        if positions.is_empty() {
            tracing::debug!(wallet = %trade.wallet, asset = %trade.asset, "whale sold a token we do not hold via it");
        }
        for position in positions {
            let Some(t) = self.portfolio.trades.get(&position) else { continue };
            let free = t.open_size() - t.exiting;
            if free <= Decimal::ZERO {
                continue;
            }
            let min = self.market.rules(t.market).min_order_size;
            let size = copy_rules::exit_size(free, fraction, min);
            self.request_exit(position, size, ExitReason::WhaleExit, now, out);
        }
        let exits = out.intents.len() - intents_before;
        if exits > 0 {
            let outcome = DecisionOutcome::WhaleExit { orders: exits, sold: trade.size, held: whale_held };
            Self::decided(decision, outcome, out);
        } else {
            Self::decided(decision, DecisionOutcome::NotHeld, out);
        }
    }
}
