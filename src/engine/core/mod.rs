//! The engine: one synchronous step, `process(input, now, out)`, that turns what happened into order
//! intents and events. It owns the portfolio and the risk manager and does no I/O: the daemon wraps
//! it in a task ([`crate::runtime::spawn_engine_task`]), replay calls it in a plain loop ([`super::replay`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::config::{Config, Mode, WhaleConfig};
use crate::domain::{
    ClientOrderId, IdHashMap, IdHashSet, Interner, MarketId, SourceTradeId, TokenId, TradingState, WhaleId,
};
use crate::engine::EngineError;
use crate::engine::audit::{AuditRecord, AuditSink};
use crate::engine::io::{EngineEvent, EngineStatus, Input, Outputs};
use crate::engine::market_data::{MarketData, VenueRules};
use crate::engine::portfolio::{OrderPurpose, PendingOrder, Portfolio};
use crate::market::{MarketName, NameCatalogue, OrderBook};
use crate::risk::{Approved, ExitIntent, PositionId, RiskEvent, RiskManager};

mod control;
mod copy_entry;
mod copy_exit;
mod exits;
mod fills;
mod plans;
mod prices;
mod resolution;
mod restore;
mod wallet;
mod whale_trades;

#[cfg(test)]
mod tests;

/// Settings of one engine that do not come from the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// The first client order id this engine hands out. Replay starts at 1; the daemon starts above
    /// every id the store has seen, so that no id is ever reused.
    pub first_order_id: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self { first_order_id: 1 }
    }
}

/// The copy-trading engine.
pub struct Engine {
    config: Arc<Config>,
    mode: Mode,
    risk: RiskManager,
    interner: Interner,
    whales: IdHashMap<WhaleId, WhaleConfig>,
    market: MarketData,
    portfolio: Portfolio,
    next_order_id: u64,
    /// Whale trades already decided on (their dedupe keys, hashed): a trade that arrives again, after
    /// a restart or from an overlapping poll, is never decided twice. Seeded from the store at start.
    seen_trades: IdHashSet<SourceTradeId>,
    audit: Box<dyn AuditSink>,
    /// Reused buffers: the price path allocates nothing once warmed up.
    exits: Vec<ExitIntent>,
    risk_events: Vec<RiskEvent>,
    /// Where a whale trade's dedupe key is written before it is shared (one allocation per trade).
    key_text: String,
    status: EngineStatus,
    /// Markets that stopped trading before their resolution is known: their positions wait for it
    /// (no exit orders) and do not count for the stale-feed hold.
    closed_markets: BTreeSet<MarketId>,
    /// Market questions, outcome names and whale labels for everything a person reads. Shared
    /// with the views published to observers (copied only when it changes while a view holds it).
    names: Arc<NameCatalogue>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("mode", &self.mode).field("status", &self.status).finish_non_exhaustive()
    }
}

impl Engine {
    /// A fresh engine for `config` (already validated), sending audit records to `audit`.
    pub fn new(
        config: Arc<Config>,
        settings: EngineSettings,
        audit: Box<dyn AuditSink>,
        now: Timestamp,
    ) -> Result<Self, EngineError> {
        let risk = RiskManager::new(config.risk.clone(), now).map_err(EngineError::Risk)?;
        let mut engine = Self {
            mode: config.daemon.mode,
            config,
            risk,
            interner: Interner::new(),
            whales: IdHashMap::default(),
            market: MarketData::default(),
            portfolio: Portfolio::default(),
            next_order_id: settings.first_order_id.max(1),
            seen_trades: IdHashSet::default(),
            audit,
            exits: Vec::with_capacity(64),
            risk_events: Vec::with_capacity(8),
            key_text: String::with_capacity(256),
            status: EngineStatus::default(),
            closed_markets: BTreeSet::new(),
            names: Arc::default(),
        };
        engine.load_whales();
        Ok(engine)
    }

    pub(super) fn load_whales(&mut self) {
        self.whales.clear();
        for whale in &self.config.copy.whales {
            let id = self.interner.whale(&whale.address.to_ascii_lowercase());
            self.risk.set_whale_allocation(id, whale.daily_allocation_usd);
            self.whales.insert(id, whale.clone());
        }
        let labels = self.config.copy.whales.iter().map(|w| (w.address.as_str(), w.label.as_deref()));
        Arc::make_mut(&mut self.names).set_whale_labels(labels);
    }

    /// The names known: market questions, outcome names, whale labels.
    pub fn names(&self) -> &NameCatalogue {
        &self.names
    }

    /// A whale's label, or its short address.
    pub(crate) fn whale_label_of(&self, whale: WhaleId) -> String {
        self.names.whale_label(self.interner.whale_name(whale).unwrap_or_default())
    }

    /// A market's question, or its short id.
    pub(crate) fn market_title_of(&self, market: MarketId) -> String {
        self.names.market_title(self.interner.market_name(market).unwrap_or_default())
    }

    /// A token's outcome name: the catalogue's, else `known` (the label the trade was opened
    /// with), else the token's short id.
    pub(crate) fn outcome_of(&self, token: TokenId, known: &str) -> String {
        let token = self.interner.token_name(token).unwrap_or_default();
        match self.names.outcome(token) {
            Some(name) => name.to_owned(),
            None if !known.is_empty() => known.to_owned(),
            None => crate::market::short_id(token),
        }
    }

    /// A shared handle on the names, for a view.
    pub fn shared_names(&self) -> Arc<NameCatalogue> {
        Arc::clone(&self.names)
    }

    /// Names read back from the store at start (no event: they are stored already).
    pub fn load_names(&mut self, names: impl IntoIterator<Item = MarketName>) {
        let catalogue = Arc::make_mut(&mut self.names);
        for name in names {
            catalogue.insert(name);
        }
    }

    /// Names learned now (from Gamma): kept, and handed to the store.
    pub(super) fn on_market_names(&mut self, names: Vec<MarketName>, out: &mut Outputs) {
        let catalogue = Arc::make_mut(&mut self.names);
        for name in names {
            catalogue.insert(name.clone());
            out.events.push(EngineEvent::MarketNamed(Box::new(name)));
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn risk(&self) -> &RiskManager {
        &self.risk
    }

    pub fn trading_state(&self) -> TradingState {
        self.risk.trading_state()
    }

    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    pub fn market_data(&self) -> &MarketData {
        &self.market
    }

    /// The interned id of a token (creating it), so that feeds can send [`crate::engine::Quote`]s.
    pub fn token_id(&mut self, token: &str) -> TokenId {
        self.interner.token(token)
    }

    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// A followed whale's label from the config, when it has one.
    pub fn whale_label(&self, whale: WhaleId) -> Option<&str> {
        self.whales.get(&whale).and_then(|c| c.label.as_deref())
    }

    pub fn status(&self) -> EngineStatus {
        let mut status = self.status.clone();
        status.trading_state = self.risk.trading_state();
        status.open_positions = self.portfolio.open_count();
        status.pending_orders = self.portfolio.pending.len();
        status.books_refused = self.market.book_refusals();
        status
    }

    /// Client order ids of this engine's run are above every id written so far.
    pub fn next_order_id(&self) -> u64 {
        self.next_order_id
    }

    /// The latest book of a token, unless a quote-only update made its depth out of date (the
    /// paper executor walks it).
    pub fn book(&self, token: TokenId) -> Option<&OrderBook> {
        self.market.prices(token).and_then(|p| p.current_book())
    }

    /// From now on, keep the books that newer ones replace, for [`Engine::take_replaced_books`]
    /// (a replay reads its next books into them instead of allocating).
    pub fn keep_replaced_books(&mut self) {
        self.market.keep_replaced_books();
    }

    /// The books replaced since the last call, when kept (see [`Engine::keep_replaced_books`]).
    pub fn take_replaced_books(&mut self) -> impl Iterator<Item = Box<OrderBook>> + '_ {
        self.market.take_replaced_books()
    }

    /// The venue rules of the market a token belongs to.
    pub fn venue_rules(&self, market: MarketId) -> VenueRules {
        self.market.rules(market)
    }

    pub(super) fn stale_after_ms(&self) -> i64 {
        i64::try_from(self.config.polymarket.price_feed.stale_after_secs).unwrap_or(i64::MAX).saturating_mul(1000)
    }

    /// One step: reacts to `input` at `now`, appending order intents and events to `out` (which the
    /// caller clears between steps when it wants only this step's outputs).
    pub fn process(&mut self, input: Input, now: Timestamp, out: &mut Outputs) {
        self.status.inputs_processed += 1;
        self.status.last_input_at = Some(now);
        match input {
            Input::WhaleTrade(trade) => self.on_whale_trade(&trade, now, out),
            Input::Book(book) => self.on_book(book, now, out),
            Input::Quote(quote) => self.on_quote(quote, now, out),
            Input::MarketInfo(info) => self.on_market_info(&info),
            Input::MarketNames(names) => self.on_market_names(names, out),
            Input::Resolution { condition_id, winning_token_id } => {
                self.on_resolution(&condition_id, &winning_token_id, now, out)
            }
            Input::MarketClosed { condition_id } => self.on_market_closed(&condition_id, now, out),
            Input::MarketReopened { condition_id } => self.on_market_reopened(&condition_id, now, out),
            Input::Execution(report) => self.on_execution(&report, now, out),
            Input::Control(control) => self.on_control(control, now, out),
            Input::Wallet(reading) => self.on_wallet(*reading, now, out),
            Input::PlanReport(report) => self.on_plan_report(&report, now, out),
            Input::PlanQuote(quote) => self.on_plan_quote(&quote, now, out),
            Input::Tick => self.on_tick(now, out),
        }
        self.drain_risk_events(now, out);
    }

    pub(super) fn next_client_order_id(&mut self) -> ClientOrderId {
        let id = ClientOrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }

    pub(super) fn send(
        &mut self,
        approved: Approved,
        position: PositionId,
        purpose: OrderPurpose,
        whale_trade_key: Option<Arc<str>>,
        now: Timestamp,
        out: &mut Outputs,
    ) {
        let order = *approved.order();
        let trade_id = self.portfolio.trades.get(&position).map(|t| t.trade_id.clone()).unwrap_or_default();
        self.portfolio.pending.insert(order.client_order_id, PendingOrder::new(order, position, purpose, now));
        out.events.push(EngineEvent::OrderIntentRecorded { intent: order, trade_id, whale_trade_key, at: now });
        out.intents.push(approved);
    }

    pub(super) fn emit_audit(&mut self, record: AuditRecord, out: &mut Outputs) {
        self.audit.record(&record);
        out.events.push(EngineEvent::Audit(record));
    }
}
