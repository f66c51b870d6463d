//! Open positions, indexed by token: a price tick for a token touches only the positions on that
//! token (O(positions on the token), independent of every other token), and the token's
//! contribution to unrealised P&L is updated in O(1) from its net size and net cost.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{ExitReason, MarketId, Side, TokenId, WhaleId};

use super::order::PositionId;
use super::stops::{StopLevels, direction};

/// One open position (possibly still waiting for its entry to fill).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub id: PositionId,
    pub whale: Option<WhaleId>,
    pub market: MarketId,
    pub token: TokenId,
    /// The entry side: `Buy` is long the token.
    pub side: Side,
    /// Filled, still open shares.
    pub size: Decimal,
    /// Cost basis of the open shares (USD, positive).
    pub cost: Decimal,
    /// Average entry price of the open shares.
    pub entry_price: Decimal,
    /// Shares of the entry order not filled yet.
    pub pending_entry: Decimal,
    /// Notional reserved for them (pending shares × limit price).
    pub reserved: Decimal,
    /// Shares covered by working exit orders.
    pub exiting: Decimal,
    /// Realised P&L booked on this position so far (fees included).
    pub realised: Decimal,
    pub stops: StopLevels,
    /// An exit already requested for this position (so a tick does not ask twice).
    pub exit_signalled: Option<ExitReason>,
    pub opened_at: Timestamp,
    /// The whale's fill price the entry copied (copy slippage is scored against it).
    #[serde(default)]
    pub whale_price: Option<Decimal>,
    /// Shares bought over the position's life, and the fees paid on it.
    #[serde(default)]
    pub bought: Decimal,
    #[serde(default)]
    pub fees: Decimal,
}

impl Position {
    /// What the limits count: cost of open shares plus the reserved notional.
    pub fn exposure(&self) -> Decimal {
        self.cost + self.reserved
    }

    /// Shares that may still be sold by a new exit order.
    pub fn available(&self) -> Decimal {
        (self.size - self.exiting).max(Decimal::ZERO)
    }

    pub fn unrealised(&self, mark: Decimal) -> Decimal {
        direction(self.side) * (mark * self.size - self.cost)
    }
}

/// Everything the risk manager knows about one token.
#[derive(Debug, Clone, Default)]
pub struct TokenBook {
    /// Last price seen (a fill price until the first tick).
    pub mark: Option<Decimal>,
    pub marked_at: Timestamp,
    /// Σ direction × size over the positions.
    pub net_size: Decimal,
    /// Σ direction × cost over the positions.
    pub net_cost: Decimal,
    /// This token's share of the unrealised P&L: net_size × mark − net_cost.
    pub unrealised: Decimal,
    pub positions: Vec<Position>,
}

impl TokenBook {
    /// Recomputes this token's unrealised P&L; returns the change to add to the total.
    #[inline]
    pub fn refresh_unrealised(&mut self) -> Decimal {
        // Nothing held and nothing valued: no change, without the arithmetic (every price of a
        // token the book only watches).
        if self.net_size.is_zero() && self.net_cost.is_zero() && self.unrealised.is_zero() {
            return Decimal::ZERO;
        }
        let fresh = match self.mark {
            Some(mark) => self.net_size * mark - self.net_cost,
            None => Decimal::ZERO,
        };
        let delta = fresh - self.unrealised;
        self.unrealised = fresh;
        delta
    }

    pub fn find_mut(&mut self, id: PositionId) -> Option<&mut Position> {
        self.positions.iter_mut().find(|p| p.id == id)
    }

    pub fn find(&self, id: PositionId) -> Option<&Position> {
        self.positions.iter().find(|p| p.id == id)
    }

    pub fn remove(&mut self, id: PositionId) -> Option<Position> {
        let index = self.positions.iter().position(|p| p.id == id)?;
        // `remove` (not `swap_remove`) keeps the order, so exits come out in opening order.
        Some(self.positions.remove(index))
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn unrealised_follows_the_mark_for_longs_and_shorts() {
        let mut book = TokenBook { mark: Some(dec!(0.50)), ..Default::default() };
        // Long 100 at 0.50 (cost 50) and short 40 at 0.60 (cost 24).
        book.net_size = dec!(100) - dec!(40);
        book.net_cost = dec!(50) - dec!(24);
        assert_eq!(book.refresh_unrealised(), dec!(4)); // long 0, short +4
        book.mark = Some(dec!(0.40));
        assert_eq!(book.refresh_unrealised(), dec!(-6)); // long −10, short +8 → −2
        assert_eq!(book.unrealised, dec!(-2));
    }
}
