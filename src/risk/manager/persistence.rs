//! What the manager shows and keeps: the metrics snapshot, the exported state and its restore.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{IdHashMap, TokenId, WhaleId};
use crate::risk::config::RiskConfig;
use crate::risk::error::RiskError;
use crate::risk::order::WorkingOrder;
use crate::risk::plan_book::PlanBook;
use crate::risk::positions::TokenBook;
use crate::risk::safeguards::{DoubleFireGuard, DuplicateGuard};
use crate::risk::snapshot::{
    Mark, MarketExposure, RiskSnapshot, RiskState, WhaleExposure, WhaleStanding, WorkingOrderRecord,
};
use crate::risk::stops::direction;
use crate::risk::whales::WhaleBook;

use super::{Derived, RiskManager};

impl RiskManager {
    /// Each whale with a ledger or an open copy: its results, the open copies at the last marks,
    /// and its standing.
    fn whale_standings(&self) -> Vec<WhaleStanding> {
        let mut open: IdHashMap<WhaleId, (u32, Decimal)> = IdHashMap::default();
        for book in self.tokens.values() {
            for position in &book.positions {
                let Some(whale) = position.whale else { continue };
                let entry = open.entry(whale).or_default();
                entry.0 += 1;
                if let Some(mark) = book.mark {
                    entry.1 += position.unrealised(mark);
                }
            }
        }
        let edge = &self.config.whales;
        let mut standings: Vec<WhaleStanding> = self
            .whales
            .ledgers()
            .into_iter()
            .map(|l| {
                let (open_positions, unrealised) = open.remove(&l.whale).unwrap_or_default();
                WhaleStanding {
                    whale: l.whale,
                    copies_opened: l.copies_opened,
                    copies_closed: l.copies_closed,
                    open_positions,
                    realised: l.realised,
                    unrealised,
                    fees: l.fees,
                    hit_rate: l.hit_rate(),
                    average_hold_ms: l.average_hold_ms(),
                    average_slippage: l.average_slippage(),
                    slippage_usd: l.slippage_usd,
                    whale_result: l.whale_result,
                    rolling_pnl: l.rolling_pnl(),
                    consecutive_losses: l.consecutive_losses,
                    muted_until: l.muted_until,
                    mute_cause: l.mute_cause,
                    low_profit: l.low_profit,
                    negative_edge: l.negative_edge(edge).is_some(),
                }
            })
            .collect();
        standings.extend(open.into_iter().map(|(whale, (open_positions, unrealised))| WhaleStanding {
            whale,
            copies_opened: 0,
            copies_closed: 0,
            open_positions,
            realised: Decimal::ZERO,
            unrealised,
            fees: Decimal::ZERO,
            hit_rate: None,
            average_hold_ms: None,
            average_slippage: None,
            slippage_usd: Decimal::ZERO,
            whale_result: Decimal::ZERO,
            rolling_pnl: Decimal::ZERO,
            consecutive_losses: 0,
            muted_until: None,
            mute_cause: None,
            low_profit: false,
            negative_edge: false,
        }));
        standings.sort_by_key(|s| s.whale);
        standings
    }

    /// Metrics for `/metrics`, `/status` and alerts (allocates; not for the hot path).
    pub fn snapshot(&self) -> RiskSnapshot {
        let equity = self.equity();
        let mut per_whale: Vec<WhaleExposure> = self
            .book
            .whales()
            .map(|(whale, b)| WhaleExposure {
                whale,
                positions: b.positions,
                exposure_usd: b.exposure,
                allocated_today_usd: b.allocated_today,
            })
            .collect();
        per_whale.sort_by_key(|w| w.whale);
        let mut per_market: Vec<MarketExposure> = self
            .book
            .markets()
            .map(|(market, b)| MarketExposure { market, positions: b.positions, exposure_usd: b.exposure })
            .collect();
        per_market.sort_by_key(|m| m.market);
        RiskSnapshot {
            state: self.state.state(),
            state_cause: self.state.cause(),
            state_since: self.state.since(),
            equity,
            start_of_day_equity: self.start_of_day_equity,
            daily_pnl: equity - self.start_of_day_equity,
            realised_today: self.realised_today,
            realised_total: self.realised_total,
            unrealised: self.unrealised_total,
            peak_equity: self.drawdown.peak_equity,
            drawdown_percent: self.drawdown.drawdown_percent(equity),
            consecutive_losses: self.drawdown.consecutive_losses,
            total_exposure_usd: self.book.total_exposure,
            open_positions: self.book.total_positions,
            working_orders: self.orders.len() as u32,
            exposure_per_whale: per_whale,
            exposure_per_market: per_market,
            breaker_trips_today: self.breaker.trips_today,
            breaker_trips_total: self.breaker.trips_total,
            breaker_open_until: self.breaker.open_until,
            breaker_latched: self.breaker.latched,
            approved_total: self.approved,
            rejected_total: self.rejected,
            ignored_prices_total: self.ignored_prices,
            wallet_cash: self.wallet.cash,
            wallet_read_at: self.wallet.read_at,
            position_mismatches: self.wallet.mismatches.clone(),
            whales: self.whale_standings(),
        }
    }

    /// The whole state, for the store (JSON via serde).
    pub fn export(&self) -> RiskState {
        let mut tokens: Vec<(&TokenId, &TokenBook)> = self.tokens.iter().collect();
        tokens.sort_by_key(|(token, _)| **token);
        let positions = tokens.iter().flat_map(|(_, book)| book.positions.iter().copied()).collect();
        let marks = tokens
            .iter()
            .filter_map(|(token, book)| book.mark.map(|price| Mark { token: **token, price, at: book.marked_at }))
            .collect();
        let mut working_orders: Vec<WorkingOrderRecord> = self
            .orders
            .iter()
            .map(|(id, o)| WorkingOrderRecord {
                client_order_id: *id,
                position: o.position,
                token: o.token,
                kind: o.kind,
                remaining: o.remaining,
                price: o.price,
            })
            .collect();
        working_orders.sort_by_key(|o| o.client_order_id);
        let mut allocated_today: Vec<(WhaleId, Decimal)> =
            self.book.whales().map(|(w, b)| (w, b.allocated_today)).filter(|(_, a)| !a.is_zero()).collect();
        allocated_today.sort_by_key(|(w, _)| *w);
        let mut whale_allocations: Vec<(WhaleId, Decimal)> =
            self.whale_allocations.iter().map(|(w, a)| (*w, *a)).collect();
        whale_allocations.sort_by_key(|(w, _)| *w);
        let (seen_orders, seen_trades) = self.duplicates.export();
        RiskState {
            version: RiskState::VERSION,
            trading: self.state.clone(),
            breaker: self.breaker,
            drawdown: self.drawdown.clone(),
            realised_total: self.realised_total,
            realised_today: self.realised_today,
            start_of_day_equity: self.start_of_day_equity,
            trading_day: self.trading_day,
            positions,
            working_orders,
            marks,
            allocated_today,
            whale_allocations,
            seen_orders,
            seen_trades,
            firings: self.double_fire.export(),
            approved_total: self.approved,
            rejected_total: self.rejected,
            ignored_prices_total: self.ignored_prices,
            wallet: self.wallet.clone(),
            whales: self.whales.ledgers(),
            plans: self.plans.export(),
        }
    }

    /// Rebuilds a risk manager from an exported state (indexes and aggregates are recomputed).
    pub fn restore(config: RiskConfig, saved: RiskState) -> Result<Self, RiskError> {
        if saved.version != RiskState::VERSION {
            return Err(RiskError::InvalidState(format!(
                "version {} is not the supported version {}",
                saved.version,
                RiskState::VERSION
            )));
        }
        let mut manager = Self::new(config, Timestamp(0))?;
        manager.state = saved.trading;
        manager.breaker = saved.breaker;
        manager.drawdown = saved.drawdown;
        manager.drawdown.refresh_floors(&manager.config.drawdown);
        manager.realised_total = saved.realised_total;
        manager.realised_today = saved.realised_today;
        manager.start_of_day_equity = saved.start_of_day_equity;
        manager.trading_day = saved.trading_day;
        manager.derived = Derived::new(&manager.config, manager.start_of_day_equity);
        for mark in &saved.marks {
            let book = manager.tokens.entry(mark.token).or_default();
            book.mark = Some(mark.price);
            book.marked_at = mark.at;
        }
        for position in saved.positions {
            if manager.position_tokens.insert(position.id, position.token).is_some() {
                return Err(RiskError::InvalidState(format!("{} appears twice", position.id)));
            }
            manager.book.open(position.whale, position.market, position.token, position.side, position.exposure());
            let book = manager.tokens.entry(position.token).or_default();
            let sign = direction(position.side);
            book.net_size += sign * position.size;
            book.net_cost += sign * position.cost;
            if book.mark.is_none() && !position.size.is_zero() {
                book.mark = Some(position.entry_price);
            }
            book.positions.push(position);
        }
        manager.book.new_day();
        for (whale, allocated) in saved.allocated_today {
            manager.book.set_allocated_today(whale, allocated);
        }
        for book in manager.tokens.values_mut() {
            manager.unrealised_total += book.refresh_unrealised();
        }
        for order in saved.working_orders {
            if !manager.position_tokens.contains_key(&order.position) {
                return Err(RiskError::InvalidState(format!(
                    "{} refers to {}, which is not open",
                    order.client_order_id, order.position
                )));
            }
            manager.orders.insert(
                order.client_order_id,
                WorkingOrder {
                    position: order.position,
                    token: order.token,
                    kind: order.kind,
                    remaining: order.remaining,
                    price: order.price,
                },
            );
        }
        for (whale, usd) in saved.whale_allocations {
            manager.whale_allocations.insert(whale, usd);
        }
        manager.duplicates =
            DuplicateGuard::restore(manager.config.safeguards.duplicate_memory, &saved.seen_orders, &saved.seen_trades);
        manager.double_fire = DoubleFireGuard::restore(&saved.firings);
        manager.approved = saved.approved_total;
        manager.rejected = saved.rejected_total;
        manager.ignored_prices = saved.ignored_prices_total;
        manager.wallet = saved.wallet;
        manager.whales = WhaleBook::restore(saved.whales);
        manager.plans = PlanBook::restore(saved.plans)?;
        Ok(manager)
    }
}
