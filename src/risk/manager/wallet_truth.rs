//! The wallet as truth (live mode): its cash reading sets the books' equity base, and shares it
//! holds that the books do not know are adopted as positions of our own.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{MarketId, Side, TokenId};
use crate::risk::error::RiskError;
use crate::risk::order::{PositionId, StopOverrides};
use crate::risk::positions::Position;
use crate::risk::safeguards::MAX_QUANTITY;
use crate::risk::stops::StopLevels;
use crate::risk::wallet::{PositionMismatch, WalletBook};

use super::{Derived, RiskManager};

impl RiskManager {
    /// The last wallet reading, the equity base it set and the open position mismatches.
    pub fn wallet(&self) -> &WalletBook {
        &self.wallet
    }

    /// Position mismatches reported and not resolved yet, by token.
    pub fn mismatches(&self) -> &[PositionMismatch] {
        &self.wallet.mismatches
    }

    /// The mismatches the engine now knows of (a reading found them; `adopt` / `drop` resolved some).
    pub fn set_mismatches(&mut self, mismatches: Vec<PositionMismatch>) {
        self.wallet.mismatches = mismatches;
    }

    /// A reading of the wallet's cash (live mode). From now on equity is that cash plus the open
    /// positions at their marks: `base = cash + Σ cost of open positions − realised`. The first
    /// reading replaces the configured starting balance, so start-of-day and peak equity start from
    /// it; a later reading's difference from the books is money that came in or went out (a deposit,
    /// a withdrawal, a redemption), so start-of-day and peak equity move with it and it never counts
    /// as a trading gain or loss. Returns that difference (zero for the first reading).
    pub fn on_wallet_cash(&mut self, cash: Decimal, read_at: Timestamp) -> Result<Decimal, RiskError> {
        if cash < Decimal::ZERO || cash > MAX_QUANTITY {
            return Err(RiskError::input("wallet.cash", cash, "must be at least 0 and at most 10^12"));
        }
        let open_cost: Decimal = self.tokens.values().map(|book| book.net_cost).sum();
        let before = self.equity();
        let first = self.wallet.base.is_none();
        self.wallet.base = Some(cash + open_cost - self.realised_total);
        self.wallet.cash = Some(cash);
        self.wallet.read_at = Some(read_at);
        let after = self.equity();
        if first {
            self.start_of_day_equity = after;
            self.drawdown.peak_equity = after;
            self.drawdown.refresh_floors(&self.config.drawdown);
            self.derived = Derived::new(&self.config, self.start_of_day_equity);
            return Ok(Decimal::ZERO);
        }
        let flow = after - before;
        self.move_reference_equity(flow);
        Ok(flow)
    }

    /// Start-of-day and peak equity move by `flow`: money that is not a trading result.
    fn move_reference_equity(&mut self, flow: Decimal) {
        if flow.is_zero() {
            return;
        }
        self.start_of_day_equity += flow;
        self.drawdown.peak_equity += flow;
        self.drawdown.refresh_floors(&self.config.drawdown);
        self.derived = Derived::new(&self.config, self.start_of_day_equity);
    }

    /// Takes shares the wallet already holds into the books as a position of our own (no whale):
    /// `size` shares of `token` at `avg_price`, stops from `[risk.stops]` anchored at that price,
    /// counted in exposure and the position counts. The shares were in the wallet all along, so
    /// equity grows by their value without that counting as a gain (see `on_wallet_cash`).
    pub fn adopt(
        &mut self,
        id: PositionId,
        market: MarketId,
        token: TokenId,
        size: Decimal,
        avg_price: Decimal,
        now: Timestamp,
    ) -> Result<(), RiskError> {
        if size <= Decimal::ZERO || size > MAX_QUANTITY {
            return Err(RiskError::input("adopt.size", size, "must be above 0 and at most 10^12"));
        }
        if avg_price <= Decimal::ZERO || avg_price >= Decimal::ONE {
            return Err(RiskError::input("adopt.avg_price", avg_price, "must be inside (0, 1)"));
        }
        if self.position_tokens.contains_key(&id) {
            return Err(RiskError::InvalidState(format!("{id} is already open")));
        }
        let before = self.equity();
        let cost = size * avg_price;
        let mut stops = StopLevels::new(&self.config.stops, &StopOverrides::default(), Side::Buy, avg_price);
        stops.anchor(Side::Buy, avg_price);
        let position = Position {
            id,
            whale: None,
            market,
            token,
            side: Side::Buy,
            size,
            cost,
            entry_price: avg_price,
            pending_entry: Decimal::ZERO,
            reserved: Decimal::ZERO,
            exiting: Decimal::ZERO,
            realised: Decimal::ZERO,
            stops,
            exit_signalled: None,
            opened_at: now,
            whale_price: None,
            bought: size,
            fees: Decimal::ZERO,
        };
        let book = self.tokens.entry(token).or_default();
        book.positions.push(position);
        book.net_size += size;
        book.net_cost += cost;
        if book.mark.is_none() {
            book.mark = Some(avg_price);
            book.marked_at = now;
        }
        self.unrealised_total += book.refresh_unrealised();
        self.position_tokens.insert(id, token);
        self.book.open(None, market, token, Side::Buy, cost);
        if let Some(base) = self.wallet.base.as_mut() {
            *base += cost;
            let flow = self.equity() - before;
            self.move_reference_equity(flow);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::{ClientOrderId, ExitReason, ReasonCode, Side, TradingState, WhaleId};
    use crate::risk::config::RiskConfig;
    use crate::risk::manager::RiskEvent;
    use crate::risk::order::{Fill, OrderIntent, OrderKind};
    use crate::risk::snapshot::RiskState;
    use crate::risk::wallet::MismatchKind;

    const T0: Timestamp = Timestamp(1_767_261_600_000);

    fn bought(rm: &mut RiskManager, id: u64, token: u32, price: Decimal, size: Decimal, fee: Decimal) {
        let mut intent = OrderIntent::entry(ClientOrderId(id), MarketId(token), TokenId(token), Side::Buy, price, size);
        intent.whale = Some(WhaleId(1));
        let decision = rm.check(&intent, T0);
        let order = *decision.approved().unwrap_or_else(|| panic!("{decision:?}")).order();
        let fill = Fill { client_order_id: order.client_order_id, price, size: order.size, fee };
        rm.on_fill(&fill, T0).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn equity_is_the_cash_read_plus_the_open_positions_at_their_marks() {
        let mut rm = RiskManager::new(RiskConfig::default(), T0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rm.equity(), dec!(10000), "the configured balance until a reading");
        bought(&mut rm, 1, 7, dec!(0.5), dec!(100), dec!(0.25));
        rm.on_price(TokenId(7), dec!(0.6), T0);
        // The wallet paid 50.25 for the shares: 1,949.75 pUSD left.
        assert_eq!(rm.on_wallet_cash(dec!(1949.75), T0), Ok(Decimal::ZERO));
        assert_eq!(rm.equity(), dec!(1949.75) + dec!(60), "cash + 100 shares at 0.60");
        let snapshot = rm.snapshot();
        assert_eq!((snapshot.start_of_day_equity, snapshot.peak_equity), (dec!(2009.75), dec!(2009.75)));
        assert_eq!((snapshot.daily_pnl, snapshot.drawdown_percent), (Decimal::ZERO, Decimal::ZERO));
        assert_eq!((snapshot.wallet_cash, snapshot.wallet_read_at), (Some(dec!(1949.75)), Some(T0)));
        // A percent limit follows: 5 % per market of about 2,010, not of 10,000.
        assert_eq!(rm.capacity(Some(WhaleId(1)), MarketId(9)).notional_usd, dec!(100.4875));

        // Between readings a fill moves equity as it moves the cash: a fee of 0.10 on a sale.
        let mut exit = OrderIntent::entry(ClientOrderId(2), MarketId(7), TokenId(7), Side::Sell, dec!(0.6), dec!(40));
        exit.kind = OrderKind::Exit { position: PositionId(1), reason: ExitReason::Manual };
        assert!(rm.check(&exit, T0).is_approved());
        let fill = Fill { client_order_id: ClientOrderId(2), price: dec!(0.6), size: dec!(40), fee: dec!(0.1) };
        rm.on_fill(&fill, T0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rm.equity(), dec!(2009.65));
        // The next reading agrees with the books: no flow, nothing moves.
        assert_eq!(rm.on_wallet_cash(dec!(1973.65), T0), Ok(Decimal::ZERO));
        assert_eq!(rm.equity(), dec!(2009.65));
        // A withdrawal of 500 is not a trading loss: daily P&L and drawdown stay where they were.
        let pnl = rm.daily_pnl();
        assert_eq!(rm.on_wallet_cash(dec!(1473.65), T0), Ok(dec!(-500)));
        assert_eq!((rm.equity(), rm.daily_pnl()), (dec!(1509.65), pnl));
        assert!(rm.drain_events().all(|e| !matches!(e, RiskEvent::Transition(_))));
        assert!(rm.on_wallet_cash(dec!(-1), T0).is_err());
    }

    /// Shares of token 3 that the venue holds at 0.4 and the books do not know.
    fn venue_only(shares: Decimal) -> PositionMismatch {
        PositionMismatch {
            token: TokenId(3),
            market: MarketId(3),
            kind: MismatchKind::UnknownToUs,
            ours: Decimal::ZERO,
            venue: shares,
            venue_avg_price: dec!(0.4),
            since: T0,
        }
    }

    #[test]
    fn the_state_round_trips_and_an_older_state_without_a_wallet_still_loads() {
        let mut rm = RiskManager::new(RiskConfig::default(), T0).unwrap_or_else(|e| panic!("{e}"));
        rm.on_wallet_cash(dec!(2000), T0).unwrap_or_else(|e| panic!("{e}"));
        rm.set_mismatches(vec![venue_only(dec!(12))]);
        let json = serde_json::to_value(rm.export()).unwrap_or_default();
        let back: RiskState = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}"));
        let restored = RiskManager::restore(RiskConfig::default(), back).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((restored.equity(), restored.mismatches().len()), (dec!(2000), 1));
        let mut old = json;
        old.as_object_mut().map(|o| o.remove("wallet"));
        let back: RiskState = serde_json::from_value(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(RiskManager::restore(RiskConfig::default(), back).map(|r| r.equity()), Ok(dec!(10000)));
    }

    #[test]
    fn an_adopted_position_counts_in_exposure_and_equity_and_resume_waits_for_the_last_mismatch() {
        let mut rm = RiskManager::new(RiskConfig::default(), T0).unwrap_or_else(|e| panic!("{e}"));
        rm.on_wallet_cash(dec!(2000), T0).unwrap_or_else(|e| panic!("{e}"));
        rm.set_mismatches(vec![venue_only(dec!(100))]);
        assert!(rm.reduce(ReasonCode::PositionMismatch, "venue holds 100 of token 3", T0).is_some());
        assert_eq!(rm.resume(T0), None, "a mismatch remains: the hold stays");
        assert_eq!(rm.trading_state(), TradingState::Reducing);

        rm.adopt(PositionId(9), MarketId(3), TokenId(3), dec!(100), dec!(0.4), T0).unwrap_or_else(|e| panic!("{e}"));
        let snapshot = rm.snapshot();
        assert_eq!((snapshot.total_exposure_usd, snapshot.open_positions), (dec!(40), 1));
        assert_eq!((rm.equity(), rm.daily_pnl()), (dec!(2040), Decimal::ZERO));
        let position = rm.position(PositionId(9)).cloned().unwrap_or_else(|| panic!("adopted"));
        assert_eq!((position.whale, position.stops.stop_loss_price), (None, dec!(0.36)));
        // A price below the stop exits it like any position.
        assert_eq!(rm.on_price(TokenId(3), dec!(0.35), T0).len(), 1);

        rm.set_mismatches(Vec::new());
        let resumed = rm.resume(T0).map(|t| (t.from, t.to, t.reason));
        assert_eq!(resumed, Some((TradingState::Reducing, TradingState::Active, ReasonCode::ManualResume)));
        assert!(rm.adopt(PositionId(9), MarketId(3), TokenId(3), dec!(1), dec!(0.4), T0).is_err());
        assert!(rm.adopt(PositionId(10), MarketId(3), TokenId(3), dec!(1), dec!(1), T0).is_err());
    }
}
