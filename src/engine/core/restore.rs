//! The engine across restarts: its checkpoint for the store, the restore from one, and the
//! market data and orders a restarted engine is warmed up and reconciled with.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::Config;
use crate::domain::{IdHashMap, SourceTradeId, TokenId, WhaleId};
use crate::engine::EngineError;
use crate::engine::audit::AuditSink;
use crate::engine::checkpoint::{CHECKPOINT_VERSION, EngineCheckpoint};
use crate::engine::io::{ExecutionReport, Input};
use crate::engine::market_data::MarketData;
use crate::engine::portfolio::{PendingOrder, Portfolio, Trade};
use crate::risk::{OrderIntent, RiskManager};

use super::Engine;

impl Engine {
    /// The engine's state for the store, and the risk manager's (see [`EngineCheckpoint`]).
    pub fn checkpoint(&self) -> (EngineCheckpoint, crate::risk::RiskState) {
        let mut trades: Vec<Trade> = self.portfolio.trades.values().cloned().collect();
        trades.sort_by_key(|t| t.position);
        let mut pending: Vec<PendingOrder> = self.portfolio.pending.values().cloned().collect();
        pending.sort_by_key(|p| p.intent.client_order_id);
        let mut whale_holdings: Vec<(WhaleId, TokenId, Decimal)> =
            self.portfolio.whale_holdings.iter().map(|((w, t), held)| (*w, *t, *held)).collect();
        whale_holdings.sort_by_key(|(w, t, _)| (*w, *t));
        let checkpoint = EngineCheckpoint {
            version: CHECKPOINT_VERSION,
            next_order_id: self.next_order_id,
            interner: self.interner.clone(),
            trades,
            pending,
            whale_holdings,
            venue_rules: self.market.all_rules(),
            outcome_labels: self.market.all_outcome_labels(),
            last_price_at: self.market.last_price_at,
            status: self.status.clone(),
            closed_markets: self.closed_markets.iter().copied().collect(),
        };
        (checkpoint, self.risk.export())
    }

    /// An engine resumed from a checkpoint and the risk state saved with it, under `config` (the
    /// running configuration: limits changed since the checkpoint apply at once). `seen_keys` are
    /// the dedupe keys of the whale trades already decided on.
    pub fn restore<'a>(
        config: Arc<Config>,
        audit: Box<dyn AuditSink>,
        checkpoint: EngineCheckpoint,
        risk: crate::risk::RiskState,
        seen_keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, EngineError> {
        let bad = |field: &'static str, value: String, rule: &'static str| EngineError::BadField { field, value, rule };
        if checkpoint.version != CHECKPOINT_VERSION {
            return Err(bad(
                "engine_checkpoint.version",
                checkpoint.version.to_string(),
                "the checkpoint version of this binary (written by a different whale-trader?)",
            ));
        }
        for trade in &checkpoint.trades {
            if checkpoint.interner.whale_name(trade.whale).is_none()
                || checkpoint.interner.market_name(trade.market).is_none()
                || checkpoint.interner.token_name(trade.token).is_none()
            {
                return Err(bad(
                    "engine_checkpoint.trades",
                    trade.trade_id.clone(),
                    "ids the checkpoint's interner knows",
                ));
            }
        }
        for order in &checkpoint.pending {
            if !checkpoint.trades.iter().any(|t| t.position == order.position) {
                return Err(bad(
                    "engine_checkpoint.pending",
                    order.intent.client_order_id.to_string(),
                    "an order of a trade in the checkpoint",
                ));
            }
            if order.intent.client_order_id.0 >= checkpoint.next_order_id {
                return Err(bad(
                    "engine_checkpoint.next_order_id",
                    checkpoint.next_order_id.to_string(),
                    "above every client order id already used",
                ));
            }
        }
        let risk = RiskManager::restore(config.risk.clone(), risk).map_err(EngineError::Risk)?;
        let mut engine = Self {
            mode: config.daemon.mode,
            config,
            risk,
            interner: checkpoint.interner,
            whales: IdHashMap::default(),
            market: MarketData::default(),
            portfolio: Portfolio::default(),
            next_order_id: checkpoint.next_order_id.max(1),
            seen_trades: seen_keys.into_iter().map(SourceTradeId::of).collect(),
            audit,
            exits: Vec::with_capacity(64),
            risk_events: Vec::with_capacity(8),
            key_text: String::with_capacity(256),
            status: checkpoint.status,
            closed_markets: checkpoint.closed_markets.into_iter().collect(),
            names: std::sync::Arc::default(),
        };
        for trade in checkpoint.trades {
            engine.portfolio.trades.insert(trade.position, trade);
        }
        for order in checkpoint.pending {
            engine.portfolio.pending.insert(order.intent.client_order_id, order);
        }
        for (whale, token, held) in checkpoint.whale_holdings {
            engine.portfolio.whale_holdings.insert((whale, token), held);
        }
        for (market, rules) in checkpoint.venue_rules {
            engine.set_venue_rules(market, rules);
        }
        for (token, label) in checkpoint.outcome_labels {
            engine.market.set_outcome_label(token, &label);
        }
        engine.market.last_price_at = checkpoint.last_price_at;
        engine.load_whales();
        Ok(engine)
    }

    /// Market data that arrived before the checkpoint, fed again after a restart so that the books
    /// are where they were: books and market info update the market view and nothing else (no
    /// stops, no counters); every other input was already applied and is ignored.
    pub fn warm_up(&mut self, input: Input, now: Timestamp) {
        match input {
            Input::Book(book) => {
                self.apply_book(book, now);
            }
            Input::Quote(quote) => self.market.update_quote(quote.token, quote.best_bid, quote.best_ask, now),
            Input::MarketInfo(info) => self.on_market_info(&info),
            _ => {}
        }
    }

    /// Orders written ahead whose outcome is not known yet, oldest first.
    pub fn pending_orders(&self) -> Vec<OrderIntent> {
        let mut orders: Vec<OrderIntent> = self.portfolio.pending.values().map(|p| p.intent).collect();
        orders.sort_by_key(|o| o.client_order_id);
        orders
    }

    /// Turns a reconciliation report, which states an order's *cumulative* outcome at the venue, into
    /// the part the engine has not applied yet (fills recorded before the restart are not counted
    /// twice). `None` when the order is no longer pending.
    pub fn unapplied_part(&self, cumulative: &ExecutionReport) -> Option<ExecutionReport> {
        let pending = self.portfolio.pending.get(&cumulative.client_order_id)?;
        let new_size = cumulative.filled_size - pending.filled;
        let mut report = cumulative.clone();
        if new_size > Decimal::ZERO {
            let new_notional = cumulative.filled_size * cumulative.avg_price - pending.filled_notional;
            report.filled_size = new_size;
            report.avg_price = (new_notional / new_size).max(Decimal::ZERO);
        } else {
            report.filled_size = Decimal::ZERO;
            report.avg_price = Decimal::ZERO;
            report.fee = Decimal::ZERO;
        }
        Some(report)
    }
}
