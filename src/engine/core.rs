//! The engine: one synchronous step, `process(input, now, out)`, that turns what happened into order
//! intents and events. It owns the portfolio and the risk manager and does no I/O: the daemon wraps
//! it in a task ([`super::spawn_engine_task`]), replay calls it in a plain loop ([`super::replay`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::{Config, Mode, WhaleConfig};
use crate::domain::{
    ClientOrderId, ExitReason, IdHashMap, IdHashSet, Interner, MarketId, ReasonCode, Side, SourceTradeId, TokenId,
    TradingState, WhaleId,
};
use crate::polymarket::{ClobMarketInfo, OrderBook, WhaleTrade};
use crate::risk::safeguards::MarketRules;
use crate::risk::{Decision, ExitIntent, Fill, OrderIntent, PositionId, RiskEvent, RiskManager, Transition};

use super::EngineError;
use super::audit::{
    AuditRecord, AuditSink, ExitDeferred, ExitEscalated, ExitOrder, MarketClosed, MarketReopened, TradeClosed,
    TradeOpened, TradeRejected, TradingStateChanged,
};
use super::checkpoint::{CHECKPOINT_VERSION, EngineCheckpoint};
use super::copy_rules::{self, CopyRejection, EntryInputs, RejectReason};
use super::exit_policy::{self, ExitPlan};
use super::io::{
    Control, ControlOutcome, DecisionDetail, EngineEvent, EngineStatus, ExecutionReport, Input, Outputs, PositionClose,
    PositionUpdate, Quote, RedemptionRequest, WhaleTradeDecision, WhaleVerdict,
};
use super::market_data::{MarketData, VenueRules};
use super::portfolio::{OrderPurpose, PendingOrder, Portfolio, Trade, trade_id_of};

mod wallet;

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
        };
        engine.load_whales();
        Ok(engine)
    }

    fn load_whales(&mut self) {
        self.whales.clear();
        for whale in &self.config.copy.whales {
            let id = self.interner.whale(&whale.address.to_ascii_lowercase());
            self.risk.set_whale_allocation(id, whale.daily_allocation_usd);
            self.whales.insert(id, whale.clone());
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

    /// The interned id of a token (creating it), so that feeds can send [`Quote`]s.
    pub fn token_id(&mut self, token: &str) -> TokenId {
        self.interner.token(token)
    }

    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    pub fn status(&self) -> EngineStatus {
        let mut status = self.status.clone();
        status.trading_state = self.risk.trading_state();
        status.open_positions = self.portfolio.open_count();
        status.pending_orders = self.portfolio.pending.len();
        status.books_refused = self.market.book_refusals();
        status
    }

    // --- checkpoint and restart --------------------------------------------------------------------

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
                self.apply_book(*book, now);
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

    /// Client order ids of this engine's run are above every id written so far.
    pub fn next_order_id(&self) -> u64 {
        self.next_order_id
    }

    /// The latest book of a token, unless a quote-only update made its depth out of date (the
    /// paper executor walks it).
    pub fn book(&self, token: TokenId) -> Option<&OrderBook> {
        self.market.prices(token).and_then(|p| p.current_book())
    }

    /// The venue rules of the market a token belongs to.
    pub fn venue_rules(&self, market: MarketId) -> VenueRules {
        self.market.rules(market)
    }

    fn stale_after_ms(&self) -> i64 {
        i64::try_from(self.config.polymarket.price_feed.stale_after_secs).unwrap_or(i64::MAX).saturating_mul(1000)
    }

    /// One step: reacts to `input` at `now`, appending order intents and events to `out` (which the
    /// caller clears between steps when it wants only this step's outputs).
    pub fn process(&mut self, input: Input, now: Timestamp, out: &mut Outputs) {
        self.status.inputs_processed += 1;
        self.status.last_input_at = Some(now);
        match input {
            Input::WhaleTrade(trade) => self.on_whale_trade(&trade, now, out),
            Input::Book(book) => self.on_book(*book, now, out),
            Input::Quote(quote) => self.on_quote(quote, now, out),
            Input::MarketInfo(info) => self.on_market_info(&info),
            Input::Resolution { condition_id, winning_token_id } => {
                self.on_resolution(&condition_id, &winning_token_id, now, out)
            }
            Input::MarketClosed { condition_id } => self.on_market_closed(&condition_id, now, out),
            Input::MarketReopened { condition_id } => self.on_market_reopened(&condition_id, now, out),
            Input::Execution(report) => self.on_execution(&report, now, out),
            Input::Control(control) => self.on_control(control, now, out),
            Input::Wallet(reading) => self.on_wallet(*reading, now, out),
            Input::Tick => self.on_tick(now, out),
        }
        self.drain_risk_events(now, out);
    }

    // --- prices and the position monitor -------------------------------------------------------

    fn on_book(&mut self, book: OrderBook, now: Timestamp, out: &mut Outputs) {
        if let Some(token) = self.apply_book(book, now) {
            self.check_stops(token, now, out);
        }
    }

    /// Takes a book into the market view (with the venue rules it carries); returns its token, or
    /// `None` when the market view refused the book (counted and logged there): a refused book
    /// moves nothing, not even the venue rules.
    fn apply_book(&mut self, book: OrderBook, now: Timestamp) -> Option<TokenId> {
        let token = self.interner.token(&book.asset_id);
        let market = self.interner.market(&book.market);
        let (tick_size, min_order_size) = (book.tick_size, book.min_order_size);
        self.market.update_book(token, book, now).ok()?;
        let mut rules = self.market.rules(market);
        rules.tick_size = tick_size;
        rules.min_order_size = min_order_size;
        self.set_venue_rules(market, rules);
        Some(token)
    }

    /// A market's venue rules, as a book or the market's info state them. The risk manager checks
    /// every order against the same tick and minimum, so that an exit is never refused on a grid the
    /// venue has left (it moves a market to a finer tick as the price nears 0 or 1). Exits sent from
    /// now on are priced on the new grid; orders already out were valid when they left.
    fn set_venue_rules(&mut self, market: MarketId, rules: VenueRules) {
        let known = self.market.known_rules(market);
        if known == Some(rules) {
            return;
        }
        let venue = MarketRules { tick_size: rules.tick_size, min_order_size: rules.min_order_size };
        if let Err(e) = self.risk.set_market_rules(market, venue) {
            tracing::warn!(%market, error = %e, "venue rules refused; keeping the market's old ones");
            return;
        }
        if let Some(old) = known
            && old.tick_size != rules.tick_size
        {
            let name = self.interner.market_name(market).unwrap_or("?");
            tracing::info!(market = name, from = %old.tick_size, to = %rules.tick_size, "market tick size changed");
        }
        self.market.set_rules(market, rules);
    }

    fn on_quote(&mut self, quote: Quote, now: Timestamp, out: &mut Outputs) {
        self.market.update_quote(quote.token, quote.best_bid, quote.best_ask, now);
        self.check_stops(quote.token, now, out);
    }

    fn on_market_info(&mut self, info: &ClobMarketInfo) {
        let market = self.interner.market(&info.condition_id);
        self.set_venue_rules(
            market,
            VenueRules { tick_size: info.tick_size, min_order_size: info.min_order_size, fee: info.fees },
        );
        for (token, label) in &info.tokens {
            let id = self.interner.token(token);
            self.market.set_outcome_label(id, label);
        }
    }

    /// Every price update goes through the risk manager: its stops, and the breaker on realised plus
    /// unrealised P&L. We hold outcome tokens long, so a position is worth the best bid.
    fn check_stops(&mut self, token: TokenId, now: Timestamp, out: &mut Outputs) {
        let Some(bid) = self.market.prices(token).and_then(|p| p.best_bid) else { return };
        let signalled = self.risk.on_price(token, bid, now);
        if signalled.is_empty() {
            return;
        }
        let mut exits = std::mem::take(&mut self.exits);
        exits.clear();
        exits.extend_from_slice(signalled);
        for exit in &exits {
            self.request_exit(exit.position, exit.size, exit.reason, now, out);
        }
        self.exits = exits;
    }

    // --- whale trades ----------------------------------------------------------------------------

    fn on_whale_trade(&mut self, trade: &WhaleTrade, now: Timestamp, out: &mut Outputs) {
        // `find_whale` lower-cases only a wallet that needs it (the feed's are lower-case already).
        let whale = self.interner.find_whale(&trade.wallet);
        let Some(whale) = whale.filter(|w| self.whales.contains_key(w)) else {
            tracing::debug!(wallet = %trade.wallet, "trade of a wallet we do not follow, ignored");
            return;
        };
        write_whale_trade_key(trade, &mut self.key_text);
        let key: Arc<str> = Arc::from(self.key_text.as_str());
        let source = SourceTradeId::of(&key);
        if !self.seen_trades.insert(source) {
            self.status.duplicate_whale_trades += 1;
            tracing::debug!(%key, "whale trade already decided on; skipped");
            return;
        }
        self.status.whale_trades_seen += 1;
        let market = self.interner.market(&trade.condition_id);
        let token = self.interner.token(&trade.asset);
        if !trade.outcome.is_empty() && self.market.outcome_label(token).is_none() {
            self.market.set_outcome_label(token, &trade.outcome);
        }
        let side = domain_side(trade.side);
        out.events.push(EngineEvent::WhaleTradeSeen {
            whale,
            market,
            token,
            side,
            lag_ms: now.millis_since(trade.timestamp),
            at: now,
        });
        let holding = self.portfolio.whale_holdings.entry((whale, token)).or_default();
        let held_before = *holding;
        match side {
            Side::Buy => *holding += trade.size,
            Side::Sell => *holding = (*holding - trade.size).max(Decimal::ZERO),
        }
        let decision = WhaleTradeDecision {
            key,
            whale,
            market,
            token,
            traded_at: trade.timestamp,
            verdict: WhaleVerdict::Skipped,
            reason: "",
            detail: DecisionDetail::NotHeld,
            at: now,
        };
        match side {
            Side::Buy => self.copy_entry(trade, decision, source, now, out),
            Side::Sell => self.copy_exit(trade, decision, held_before, out),
        }
    }

    /// Records the decision on a whale trade, for the store (which marks the trade seen with it).
    fn decided(
        mut decision: WhaleTradeDecision,
        verdict: WhaleVerdict,
        reason: &'static str,
        detail: DecisionDetail,
        out: &mut Outputs,
    ) {
        decision.verdict = verdict;
        decision.reason = reason;
        decision.detail = detail;
        out.events.push(EngineEvent::WhaleTradeDecided(Box::new(decision)));
    }

    fn copy_entry(
        &mut self,
        trade: &WhaleTrade,
        decision: WhaleTradeDecision,
        source: SourceTradeId,
        now: Timestamp,
        out: &mut Outputs,
    ) {
        let (whale, market, token) = (decision.whale, decision.market, decision.token);
        let Some(whale_config) = self.whales.get(&whale) else { return };
        let risk_config = &self.config.risk;
        let plan = copy_rules::plan_entry(&EntryInputs {
            copy: &self.config.copy,
            whale: whale_config,
            whale_price: trade.price,
            whale_size: trade.size,
            whale_traded_at: trade.timestamp,
            prices: self.market.prices(token),
            rules: self.market.rules(market),
            stale_after_ms: self.stale_after_ms(),
            equity: self.risk.equity(),
            risk_per_trade_percent: risk_config.sizing.risk_per_trade_percent,
            stop_loss_percent: risk_config.stops.stop_loss_percent,
            now,
        });
        let plan = match plan {
            Ok(plan) => plan,
            Err(rejection) => return self.reject(trade, decision, source, rejection, now, out),
        };
        let order_id = self.next_client_order_id();
        let intent = OrderIntent::entry(order_id, market, token, Side::Buy, plan.limit_price, plan.size).copying(
            whale,
            source,
            trade.price,
        );
        match self.risk.check(&intent, now) {
            Decision::Rejected { reason, detail } => {
                let rejection = CopyRejection { reason: RejectReason::Code(reason), detail };
                self.reject(trade, decision, source, rejection, now, out)
            }
            Decision::Approved(approved) => {
                let order = approved.into_order();
                let position = PositionId::from(order_id);
                let outcome = self.market.outcome_label(token).unwrap_or(&trade.outcome).to_owned();
                self.portfolio.trades.insert(
                    position,
                    Trade {
                        position,
                        trade_id: trade_id_of(order_id),
                        whale,
                        market,
                        token,
                        outcome,
                        side: Side::Buy,
                        whale_price: trade.price,
                        whale_size: trade.size,
                        entry_size: Decimal::ZERO,
                        entry_cost: Decimal::ZERO,
                        exit_size: Decimal::ZERO,
                        exit_proceeds: Decimal::ZERO,
                        fees: Decimal::ZERO,
                        opened_at: None,
                        exiting: Decimal::ZERO,
                        closed: false,
                        exit_plan: None,
                    },
                );
                let key = Arc::clone(&decision.key);
                let detail =
                    DecisionDetail::Copied { side: order.side, size: order.size, price: order.price, mode: self.mode };
                Self::decided(decision, WhaleVerdict::Approved, "copied", detail, out);
                self.send(order, position, OrderPurpose::Entry, Some(key), now, out);
            }
        }
    }

    fn copy_exit(&mut self, trade: &WhaleTrade, decision: WhaleTradeDecision, whale_held: Decimal, out: &mut Outputs) {
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
            let detail = DecisionDetail::WhaleExit { orders: exits, sold: trade.size, held: whale_held };
            Self::decided(decision, WhaleVerdict::Approved, ExitReason::WhaleExit.as_str(), detail, out);
        } else {
            Self::decided(decision, WhaleVerdict::Skipped, "not_held", DecisionDetail::NotHeld, out);
        }
    }

    fn reject(
        &mut self,
        trade: &WhaleTrade,
        decision: WhaleTradeDecision,
        source: SourceTradeId,
        rejection: CopyRejection,
        now: Timestamp,
        out: &mut Outputs,
    ) {
        self.status.trades_rejected += 1;
        if let RejectReason::Code(code) = rejection.reason {
            self.status.last_rejection = Some(code);
        }
        let reason = rejection.reason.as_str();
        let detail = DecisionDetail::Rejected(rejection.detail.clone());
        Self::decided(decision, WhaleVerdict::Rejected, reason, detail, out);
        self.emit_audit(
            AuditRecord::TradeRejected(TradeRejected {
                whale_trade_id: source.to_string(),
                whale_address: trade.wallet.to_ascii_lowercase(),
                market_id: trade.condition_id.clone(),
                token_id: trade.asset.clone(),
                reason: rejection.reason.as_str().to_owned(),
                detail: rejection.detail,
                timestamp: now.to_rfc3339(),
            }),
            out,
        );
    }

    // --- orders out ------------------------------------------------------------------------------

    fn next_client_order_id(&mut self) -> ClientOrderId {
        let id = ClientOrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }

    /// Asks for an exit of `size` shares of `position`. The exit follows the exit policy
    /// ([`exit_policy`]): priced at a worst acceptable price, sent again for what it leaves unsold.
    /// A stop or a whale exit that arrives while an earlier try waits for its retry joins it; a kill
    /// or a human's close goes out at once.
    fn request_exit(
        &mut self,
        position: PositionId,
        size: Decimal,
        reason: ExitReason,
        now: Timestamp,
        out: &mut Outputs,
    ) {
        let exits = &self.config.risk.exits;
        let Some(trade) = self.portfolio.trades.get_mut(&position) else {
            tracing::warn!(%position, "exit for a position the engine does not know");
            return;
        };
        let free = trade.open_size() - trade.exiting;
        let plan = trade.exit_plan.get_or_insert_with(|| ExitPlan::new(reason, exits));
        // A kill takes over whatever exit was under way; nothing takes over a kill.
        if plan.reason != ExitReason::Kill {
            plan.reason = reason;
        }
        if plan.deferred {
            return;
        }
        if self.closed_markets.contains(&trade.market) {
            // The venue refuses orders in a closed market: the exit waits (the retries skip closed
            // markets) and goes out if the market reopens; its resolution settles the position.
            plan.retry_size = (plan.retry_size + size).min(free);
            plan.retry_at.get_or_insert(now);
            return;
        }
        let urgent = matches!(reason, ExitReason::Kill | ExitReason::Manual);
        if plan.is_waiting(now) && !urgent {
            // Shares asked for now join those the last try left, never more than are held.
            plan.retry_size = (plan.retry_size + size).min(free);
            return;
        }
        self.send_exit(position, size, now, out);
    }

    /// Retries whose time has come (every timer tick): widened first when the tries at the current
    /// bound are used up. A kill's flattening stops when a human resumes.
    fn retry_exits(&mut self, now: Timestamp, out: &mut Outputs) {
        let mut due: Vec<PositionId> = self
            .portfolio
            .trades
            .values()
            .filter(|t| t.exit_plan.is_some_and(|p| p.is_due(now)) && !self.closed_markets.contains(&t.market))
            .map(|t| t.position)
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort_unstable();
        let killed = self.risk.trading_state() == TradingState::Killed;
        for position in due {
            let Some(trade) = self.portfolio.trades.get_mut(&position) else { continue };
            let free = trade.open_size() - trade.exiting;
            let Some(plan) = trade.exit_plan.as_mut() else { continue };
            if plan.reason == ExitReason::Kill && !killed {
                tracing::info!(trade_id = %trade.trade_id, "trading resumed: the kill's flattening of this position stops");
                trade.exit_plan = None;
                continue;
            }
            let retry = plan.prepare_retry(&self.config.risk.exits);
            // A kill sells everything; other exits the shares their last try left.
            let size = if plan.reason == ExitReason::Kill { free } else { plan.retry_size.min(free) };
            let (reason, attempts, slippage) = (plan.reason, plan.attempts, plan.slippage_percent);
            if size <= Decimal::ZERO {
                trade.exit_plan = None;
                continue;
            }
            if retry.widened {
                self.status.exits.widenings += 1;
                let record = AuditRecord::ExitEscalated(ExitEscalated {
                    trade_id: trade.trade_id.clone(),
                    reason: reason.as_str().to_owned(),
                    attempts,
                    slippage_percent: slippage,
                    remaining: size,
                    timestamp: now.to_rfc3339(),
                });
                self.emit_audit(record, out);
            }
            self.status.exits.retries += 1;
            self.send_exit(position, size, now, out);
        }
    }

    /// Sends one order of a position's exit: a marketable order on the closing side limited at the
    /// plan's worst acceptable price, after the risk manager has seen it. Shares below the venue's
    /// minimum order size cannot be sold at all: such a rest is held until the market resolves.
    fn send_exit(&mut self, position: PositionId, size: Decimal, now: Timestamp, out: &mut Outputs) {
        let exits = self.config.risk.exits;
        let Some(trade) = self.portfolio.trades.get(&position) else { return };
        let free = trade.open_size() - trade.exiting;
        let rules = self.market.rules(trade.market);
        let Some(plan) = trade.exit_plan else { return };
        let size = match exit_policy::sellable(size.min(free), free, rules.min_order_size) {
            Some(size) => size,
            None if free > Decimal::ZERO => return self.defer_exit(position, free, rules.min_order_size, now, out),
            None => return,
        };
        let side = trade.side.opposite();
        let mark = self.exit_mark(trade, side);
        let limit =
            exit_policy::exit_limit(side, mark, rules.tick_size, plan.slippage_percent, exits.min_slippage_ticks);
        let exit = ExitIntent {
            position,
            whale: Some(trade.whale),
            market: trade.market,
            token: trade.token,
            side,
            size,
            trigger_price: mark,
            reason: plan.reason,
            at: now,
        };
        let order_id = self.next_client_order_id();
        let order = exit.to_order(order_id, limit);
        match self.risk.check(&order, now) {
            Decision::Approved(approved) => {
                let order = approved.into_order();
                let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
                trade.exiting += order.size;
                let Some(plan) = trade.exit_plan.as_mut() else { return };
                plan.sent();
                let record = AuditRecord::ExitOrder(ExitOrder {
                    trade_id: trade.trade_id.clone(),
                    attempt: plan.attempts,
                    reason: plan.reason.as_str().to_owned(),
                    size: order.size,
                    limit_price: order.price,
                    mark,
                    slippage_percent: plan.slippage_percent,
                    timestamp: now.to_rfc3339(),
                });
                let reason = plan.reason;
                self.status.exits.orders += 1;
                self.emit_audit(record, out);
                self.send(order, position, OrderPurpose::Exit(reason), None, now, out);
            }
            Decision::Rejected { reason: code, detail } => {
                self.status.exits.refused += 1;
                let Some(plan) = self.portfolio.trades.get_mut(&position).and_then(|t| t.exit_plan.as_mut()) else {
                    return;
                };
                plan.unfilled(size, now, &exits);
                if plan.refused() {
                    let refusals = plan.refusals;
                    tracing::warn!(%position, reason = %code, %detail, refusals, "the risk manager refused an exit; it is tried again later");
                }
            }
        }
    }

    /// The price an exit's bound is measured from: the best price on the closing side, else the
    /// last price the risk manager saw, else the entry.
    fn exit_mark(&self, trade: &Trade, closing: Side) -> Decimal {
        let prices = self.market.prices(trade.token);
        let best = match closing {
            Side::Sell => prices.and_then(|p| p.best_bid),
            Side::Buy => prices.and_then(|p| p.best_ask),
        };
        best.or_else(|| self.risk.mark(trade.token)).unwrap_or_else(|| trade.avg_entry_price())
    }

    /// What is left of a position is below the venue's minimum order size: the venue refuses any
    /// order for it, so it is held until its market resolves (said once, in the audit trail).
    fn defer_exit(&mut self, position: PositionId, rest: Decimal, minimum: Decimal, now: Timestamp, out: &mut Outputs) {
        let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
        let Some(plan) = trade.exit_plan.as_mut() else { return };
        if plan.deferred {
            return;
        }
        plan.deferred = true;
        plan.retry_at = None;
        let record = AuditRecord::ExitDeferred(ExitDeferred {
            trade_id: trade.trade_id.clone(),
            exit_reason: plan.reason.as_str().to_owned(),
            reason: "below_venue_minimum".to_owned(),
            size: rest,
            min_order_size: minimum,
            timestamp: now.to_rfc3339(),
        });
        self.status.exits.deferred += 1;
        self.emit_audit(record, out);
    }

    fn send(
        &mut self,
        order: OrderIntent,
        position: PositionId,
        purpose: OrderPurpose,
        whale_trade_key: Option<Arc<str>>,
        now: Timestamp,
        out: &mut Outputs,
    ) {
        let trade_id = self.portfolio.trades.get(&position).map(|t| t.trade_id.clone()).unwrap_or_default();
        self.portfolio.pending.insert(order.client_order_id, PendingOrder::new(order, position, purpose, now));
        out.events.push(EngineEvent::OrderIntentRecorded { intent: order, trade_id, whale_trade_key, at: now });
        out.intents.push(order);
    }

    // --- fills -----------------------------------------------------------------------------------

    fn on_execution(&mut self, report: &ExecutionReport, now: Timestamp, out: &mut Outputs) {
        let Some(pending) = self.portfolio.pending.get_mut(&report.client_order_id) else {
            tracing::warn!(order = %report.client_order_id, "execution report for an order not in flight, ignored");
            return;
        };
        let position = pending.position;
        let purpose = pending.purpose;
        let ordered = pending.intent.size;
        if report.filled_size > Decimal::ZERO {
            pending.filled += report.filled_size;
            pending.filled_notional += report.filled_size * report.avg_price;
            pending.fills += 1;
            let fill_seq = pending.fills;
            let fill = Fill {
                client_order_id: report.client_order_id,
                price: report.avg_price,
                size: report.filled_size,
                fee: report.fee,
            };
            let outcome = self.risk.on_fill(&fill, now);
            if let Err(e) = &outcome {
                tracing::error!(order = %report.client_order_id, error = %e, "the risk manager refused a fill");
            }
            let realised = outcome.as_ref().map(|o| o.realised_pnl).unwrap_or_default();
            let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
            let notional = report.avg_price * report.filled_size;
            trade.fees += report.fee;
            match purpose {
                OrderPurpose::Entry => {
                    trade.entry_size += report.filled_size;
                    trade.entry_cost += notional;
                    trade.opened_at.get_or_insert(now);
                }
                OrderPurpose::Exit(_) => {
                    trade.exit_size += report.filled_size;
                    trade.exit_proceeds += notional;
                    trade.exiting = (trade.exiting - report.filled_size).max(Decimal::ZERO);
                }
            }
            let closed = matches!(purpose, OrderPurpose::Exit(_)) && trade.open_size() <= Decimal::ZERO;
            out.events.push(EngineEvent::FillApplied {
                report: report.clone(),
                trade_id: trade.trade_id.clone(),
                fill_seq,
                realised_pnl: realised,
                position_closed: closed,
            });
            if let (true, OrderPurpose::Exit(reason)) = (closed, purpose) {
                self.close_trade(position, reason, now, out);
            } else if let Some(update) = self.position_update(position, None) {
                out.events.push(EngineEvent::PositionUpdated(Box::new(update)));
            }
        }
        if report.done {
            let finished = self.portfolio.pending.remove(&report.client_order_id);
            if let Some(order) = &finished {
                self.portfolio.order_ended(order.intent.token, now);
            }
            let filled = finished.map(|p| p.filled).unwrap_or_default();
            out.events.push(EngineEvent::OrderFinished {
                client_order_id: report.client_order_id,
                filled,
                ordered,
                at: now,
            });
            // A fully filled order already left the risk manager's working orders with its last fill.
            if filled < ordered
                && let Err(e) = self.risk.on_order_done(report.client_order_id)
            {
                tracing::warn!(order = %report.client_order_id, error = %e, "the risk manager did not know the finished order");
            }
            match purpose {
                OrderPurpose::Entry => self.finish_entry(position, now, out),
                OrderPurpose::Exit(reason) => self.finish_exit_order(position, reason, ordered - filled, now),
            }
        }
    }

    /// An exit order is finished with `unsold` of its shares left: they are sent again after the
    /// policy's wait; an exit that sold everything it asked for is over.
    fn finish_exit_order(&mut self, position: PositionId, reason: ExitReason, unsold: Decimal, now: Timestamp) {
        let exits = &self.config.risk.exits;
        // A closed position is gone already: its exit ended with it.
        let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
        trade.exiting = (trade.exiting - unsold).max(Decimal::ZERO);
        if unsold > Decimal::ZERO {
            self.status.exits.unfilled += 1;
            let plan = trade.exit_plan.get_or_insert_with(|| ExitPlan::new(reason, exits));
            plan.unfilled(unsold, now, exits);
            tracing::info!(
                trade_id = %trade.trade_id,
                %unsold,
                attempts = plan.attempts,
                retry_in_secs = exits.retry_after_secs,
                "exit left shares unsold; sending them again"
            );
        } else if trade.exit_plan.is_some_and(|p| p.retry_at.is_none()) {
            trade.exit_plan = None;
        }
    }

    fn finish_entry(&mut self, position: PositionId, now: Timestamp, out: &mut Outputs) {
        let Some(trade) = self.portfolio.trades.get(&position) else { return };
        if trade.entry_size.is_zero() {
            tracing::info!(trade_id = %trade.trade_id, "entry finished without a fill; no position opened");
            self.portfolio.trades.remove(&position);
            return;
        }
        self.status.trades_opened += 1;
        let record = AuditRecord::TradeOpened(TradeOpened {
            trade_id: trade.trade_id.clone(),
            whale_address: self.interner.whale_name(trade.whale).unwrap_or_default().to_owned(),
            market_id: self.interner.market_name(trade.market).unwrap_or_default().to_owned(),
            token_id: self.interner.token_name(trade.token).unwrap_or_default().to_owned(),
            outcome: trade.outcome.clone(),
            side: trade.side.as_str().to_ascii_uppercase(),
            size: trade.entry_size,
            price: trade.avg_entry_price().round_dp(6),
            notional_usd: trade.entry_cost.round_dp(6),
            whale_price: trade.whale_price,
            whale_size: trade.whale_size,
            mode: self.mode.as_str().to_owned(),
            timestamp: now.to_rfc3339(),
        });
        self.emit_audit(record, out);
    }

    /// The store's view of a position; `close` when it has just ended.
    fn position_update(&self, position: PositionId, close: Option<PositionClose>) -> Option<PositionUpdate> {
        let trade = self.portfolio.trades.get(&position)?;
        let opened_at = trade.opened_at?;
        Some(PositionUpdate {
            trade_id: trade.trade_id.clone(),
            whale: trade.whale,
            market: trade.market,
            token: trade.token,
            outcome: trade.outcome.clone(),
            side: trade.side,
            entry_size: trade.entry_size,
            open_size: trade.open_size(),
            avg_entry_price: trade.avg_entry_price(),
            opened_at,
            high_water: self.risk.position(position).map(|p| p.stops.best_price),
            close,
        })
    }

    fn close_trade(&mut self, position: PositionId, reason: ExitReason, now: Timestamp, out: &mut Outputs) {
        let Some(trade) = self.portfolio.trades.get_mut(&position) else { return };
        trade.closed = true;
        let pnl = trade.realised_pnl();
        let close = PositionClose { exit_price: trade.avg_exit_price(), realised_pnl: pnl, closed_at: now, reason };
        if let Some(update) = self.position_update(position, Some(close)) {
            out.events.push(EngineEvent::PositionUpdated(Box::new(update)));
        }
        let Some(trade) = self.portfolio.trades.get(&position) else { return };
        let hold_ms = trade.opened_at.map_or(0, |at| now.millis_since(at));
        let record = AuditRecord::TradeClosed(TradeClosed {
            trade_id: trade.trade_id.clone(),
            exit_price: trade.avg_exit_price().round_dp(6),
            pnl_usd: pnl.round_dp(6),
            hold_time_seconds: hold_ms / 1000,
            reason: reason.as_str().to_owned(),
            timestamp: now.to_rfc3339(),
        });
        self.status.trades_closed += 1;
        self.status.realised_pnl_usd += pnl;
        // Closed trades are dropped: the store keeps their history; the engine only needs the open ones.
        self.portfolio.trades.remove(&position);
        self.emit_audit(record, out);
    }

    // --- resolution ------------------------------------------------------------------------------

    /// A resolved market pays 1 per winning share and 0 per losing share: every open position in it
    /// is settled at that price without an order (there is no book any more).
    fn on_resolution(&mut self, condition_id: &str, winning_token: &str, now: Timestamp, out: &mut Outputs) {
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
    fn on_market_closed(&mut self, condition_id: &str, now: Timestamp, out: &mut Outputs) {
        let Some(market) = self.interner.find_market(condition_id) else { return };
        let held = self.trade_ids_in(market);
        let pending = self.portfolio.pending.values().any(|p| p.intent.market == market);
        if (held.is_empty() && !pending) || !self.closed_markets.insert(market) {
            return;
        }
        tracing::warn!(
            market = condition_id,
            trades = held.len(),
            "market closed; its positions wait for the resolution"
        );
        let record = AuditRecord::MarketClosed(MarketClosed {
            market_id: condition_id.to_owned(),
            trade_ids: held,
            timestamp: now.to_rfc3339(),
        });
        self.emit_audit(record, out);
    }

    /// A market reported closed takes orders again: its positions are watched and exited as before.
    fn on_market_reopened(&mut self, condition_id: &str, now: Timestamp, out: &mut Outputs) {
        let Some(market) = self.interner.find_market(condition_id) else { return };
        if !self.closed_markets.remove(&market) {
            return;
        }
        let record = AuditRecord::MarketReopened(MarketReopened {
            market_id: condition_id.to_owned(),
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
    fn watching_prices(&self) -> bool {
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

    // --- control and time ------------------------------------------------------------------------

    fn on_control(&mut self, control: Control, now: Timestamp, out: &mut Outputs) {
        if control.is_human() {
            self.status.human_controls += 1;
            self.status.control_answer = None;
        }
        let transition = match control {
            Control::Halt { detail } => self.risk.halt(&detail, now),
            Control::Resume { detail } => {
                tracing::info!(%detail, "resume requested");
                self.resume_by_human(now)
            }
            Control::Kill { detail } => {
                let kill = self.risk.kill(&detail, now);
                if let Some(t) = kill.transition {
                    self.record_transition(&t, out);
                }
                out.cancels.extend_from_slice(&kill.cancel_entries);
                for exit in &kill.exits {
                    self.request_exit(exit.position, exit.size, ExitReason::Kill, now, out);
                }
                None
            }
            Control::ClosePosition { trade_id } => {
                match self.portfolio.trade_by_id(&trade_id).filter(|t| t.is_open()) {
                    Some(trade) => {
                        let (position, size) = (trade.position, trade.open_size() - trade.exiting);
                        self.request_exit(position, size, ExitReason::Manual, now, out);
                        self.answer(ControlOutcome::Done, format!("{trade_id}: close requested"));
                    }
                    None => self.answer(ControlOutcome::NotFound, format!("{trade_id} is not an open trade")),
                }
                None
            }
            Control::SetConfig(config) => {
                if let Err(e) = self.risk.set_config(config.risk.clone()) {
                    tracing::error!(error = %e, "new risk configuration refused; keeping the old one");
                    return;
                }
                if config.daemon.mode != self.mode {
                    // The executor was chosen at start; switching paper ↔ live needs a restart.
                    tracing::warn!(running = %self.mode, configured = %config.daemon.mode, "daemon.mode changes need a restart");
                }
                self.config = config;
                self.load_whales();
                tracing::info!(whales = self.whales.len(), "engine configuration reloaded");
                None
            }
            Control::HoldReducing { detail } => self.risk.reduce(ReasonCode::HealthDegraded, &detail, now),
            Control::ReleaseHold { detail } => {
                tracing::info!(%detail, "health hold released");
                self.risk.clear_reduce(ReasonCode::HealthDegraded, now)
            }
            Control::FeedStale { detail } => self.risk.reduce(ReasonCode::StaleFeed, &detail, now),
            Control::Adopt { token_id } => self.adopt(&token_id, now, out),
            Control::Drop { trade_id } => self.drop_trade(&trade_id, now, out),
        };
        if let Some(t) = transition {
            self.record_transition(&t, out);
        }
    }

    /// Timers: the risk manager's clock-driven rules (breaker cooldown, new trading day) and the
    /// whole-feed staleness check: no price at all for `stale_after_secs` while we hold positions
    /// or orders (outside closed markets) moves trading to `reducing` until prices flow again or
    /// nothing needs them any more.
    fn on_tick(&mut self, now: Timestamp, out: &mut Outputs) {
        self.risk.roll_over(now);
        self.retry_exits(now, out);
        if !self.closed_markets.is_empty() {
            // A closed market we no longer hold anything in is not watched any more: forget it.
            let portfolio = &self.portfolio;
            self.closed_markets.retain(|market| {
                portfolio.open_trades().any(|t| t.market == *market)
                    || portfolio.pending.values().any(|p| p.intent.market == *market)
            });
        }
        let watching = self.watching_prices();
        let stale = self.market.last_price_at.is_none_or(|at| now.millis_since(at) > self.stale_after_ms());
        let transition = if watching && stale {
            let age = self
                .market
                .last_price_at
                .map_or_else(|| "ever".to_owned(), |at| format!("{}s", now.millis_since(at) / 1000));
            self.risk.reduce(ReasonCode::StaleFeed, &format!("no price update for {age} while holding positions"), now)
        } else {
            // Fresh prices, or nothing left that needs them (settled, or waiting in closed markets).
            self.risk.clear_reduce(ReasonCode::StaleFeed, now)
        };
        if let Some(t) = transition {
            self.record_transition(&t, out);
        }
    }

    fn drain_risk_events(&mut self, now: Timestamp, out: &mut Outputs) {
        // Collect first: recording needs `&mut self` while the drain borrows the risk manager.
        let mut pending = std::mem::take(&mut self.risk_events);
        pending.extend(self.risk.drain_events());
        for event in pending.drain(..) {
            match event {
                RiskEvent::Transition(t) => {
                    self.record_transition(&t, out);
                    if t.to == TradingState::Killed {
                        // A kill from a fill or a close (emergency drawdown) brings no exits with it:
                        // flatten asks for every share not already being exited.
                        for exit in self.risk.flatten(now) {
                            self.request_exit(exit.position, exit.size, ExitReason::Kill, now, out);
                        }
                    }
                }
                RiskEvent::BreakerWarning { daily_pnl, threshold_usd, at } => {
                    tracing::warn!(%daily_pnl, threshold = %threshold_usd, "circuit breaker warning");
                    out.events.push(EngineEvent::BreakerWarning { daily_pnl, threshold: threshold_usd, at });
                }
            }
        }
        self.risk_events = pending;
    }

    fn record_transition(&mut self, t: &Transition, out: &mut Outputs) {
        self.emit_audit(
            AuditRecord::TradingStateChanged(TradingStateChanged {
                from: t.from.as_str().to_owned(),
                to: t.to.as_str().to_owned(),
                reason: t.reason.as_str().to_owned(),
                detail: t.detail.clone(),
                timestamp: t.at.to_rfc3339(),
            }),
            out,
        );
        out.events.push(EngineEvent::StateChanged(t.clone()));
    }

    fn emit_audit(&mut self, record: AuditRecord, out: &mut Outputs) {
        self.audit.record(&record);
        out.events.push(EngineEvent::Audit(record));
    }
}

fn domain_side(side: crate::polymarket::Side) -> Side {
    match side {
        crate::polymarket::Side::Buy => Side::Buy,
        crate::polymarket::Side::Sell => Side::Sell,
    }
}

/// The dedupe identity of a whale trade as text (transaction hash, asset, side, size, price,
/// timestamp; decimals normalised so that `0.5` and `0.50` agree): exactly the text form of
/// [`WhaleTrade::key`], written straight into one buffer because every whale trade needs it.
pub fn whale_trade_key(trade: &WhaleTrade) -> String {
    let mut key = String::with_capacity(trade.transaction_hash.len() + trade.asset.len() + 48);
    write_whale_trade_key(trade, &mut key);
    key
}

/// [`whale_trade_key`] into `key` (cleared first), so that a caller can reuse one buffer.
fn write_whale_trade_key(trade: &WhaleTrade, key: &mut String) {
    use std::fmt::Write;
    key.clear();
    key.push_str(&trade.transaction_hash);
    key.make_ascii_lowercase();
    // Writing into a String cannot fail.
    let _ = write!(
        key,
        ":{}:{}:{}:{}:{}",
        trade.asset,
        trade.side,
        trade.size.normalize(),
        trade.price.normalize(),
        trade.timestamp.millis()
    );
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::polymarket::Side as WireSide;

    fn trade(tx: &str, side: WireSide, size: Decimal, price: Decimal) -> WhaleTrade {
        WhaleTrade {
            transaction_hash: tx.into(),
            wallet: "0xwhale".into(),
            condition_id: "0xcondition".into(),
            asset: "71321045679252212594626385532706912750332728571942532289631379312455583992563".into(),
            outcome: "Yes".into(),
            outcome_index: Some(0),
            side,
            size,
            price,
            usdc_size: None,
            timestamp: Timestamp::from_millis(1_700_000_000_123),
            title: String::new(),
            slug: String::new(),
        }
    }

    const WHALE: &str = "0x1111111111111111111111111111111111111111";
    const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
    const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

    /// An engine in `mode` holding one filled copy of the whale's buy of `YES` in `0xcondition`.
    fn holding(mode: Mode) -> (Engine, Decimal) {
        let text =
            format!("[daemon]\nmode = \"{}\"\n[[copy.whales]]\naddress = \"{WHALE}\"\nmultiplier = 1\n", mode.as_str());
        let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let now = Timestamp::from_millis(1_700_000_000_500);
        let mut engine =
            Engine::new(Arc::new(config), EngineSettings::default(), Box::new(crate::engine::DiscardAuditSink), now)
                .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Outputs::new();
        let book = format!(
            r#"{{"market":"0xcondition","asset_id":"{YES}","timestamp":"{}","bids":[{{"price":"0.49","size":"1000"}}],"asks":[{{"price":"0.50","size":"1000"}}],"min_order_size":"5","tick_size":"0.01","neg_risk":true}}"#,
            now.millis()
        );
        let book = OrderBook::from_json(&book).unwrap_or_else(|e| panic!("{e}"));
        engine.process(Input::Book(Box::new(book)), now, &mut out);
        let mut whale = trade("0xaa", WireSide::Buy, dec!(1000), dec!(0.50));
        whale.wallet = WHALE.into();
        whale.timestamp = now;
        out.clear();
        engine.process(Input::WhaleTrade(Box::new(whale)), now, &mut out);
        let intent = *out.intents.first().unwrap_or_else(|| panic!("no entry: {:?}", out.events));
        out.clear();
        let fill = ExecutionReport {
            client_order_id: intent.client_order_id,
            filled_size: intent.size,
            avg_price: dec!(0.50),
            fee: Decimal::ZERO,
            done: true,
            note: None,
            at: now,
        };
        engine.process(Input::Execution(fill), now, &mut out);
        assert_eq!(engine.portfolio().open_count(), 1);
        (engine, intent.size)
    }

    fn redemptions(engine: &mut Engine, winner: &str) -> Vec<RedemptionRequest> {
        let mut out = Outputs::new();
        let now = Timestamp::from_millis(1_700_000_100_000);
        let resolution = Input::Resolution { condition_id: "0xcondition".into(), winning_token_id: winner.into() };
        engine.process(resolution, now, &mut out);
        assert_eq!(engine.portfolio().open_count(), 0, "settled either way");
        out.events
            .into_iter()
            .filter_map(|e| match e {
                EngineEvent::RedemptionRequested(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_live_winner_asks_for_its_redemption_once_with_the_shares_held() {
        let (mut engine, shares) = holding(Mode::Live);
        let requested = redemptions(&mut engine, YES);
        assert_eq!(requested.len(), 1, "{requested:?}");
        let r = &requested[0];
        assert_eq!((r.condition_id.as_str(), r.token_id.as_str(), r.outcome.as_str()), ("0xcondition", YES, "Yes"));
        assert_eq!((r.shares, r.neg_risk), (shares, true));
        assert!(r.redemption_id.starts_with("0xcondition/T"), "{}", r.redemption_id);
    }

    #[test]
    fn losers_and_simulated_modes_need_nothing_on_chain() {
        let (mut live, _) = holding(Mode::Live);
        assert_eq!(redemptions(&mut live, NO), vec![], "a losing position pays 0: nothing to redeem");
        for mode in [Mode::Paper, Mode::DryRun] {
            let (mut engine, _) = holding(mode);
            assert_eq!(redemptions(&mut engine, YES), vec![], "{mode}: no tokens are held");
        }
    }

    #[test]
    fn the_fast_key_is_the_text_form_of_the_trade_key() {
        let cases = [
            trade("0xABcd", WireSide::Buy, dec!(100.0), dec!(0.50)),
            trade("0xabcd", WireSide::Sell, dec!(2538.26612), dec!(0.5699998232997013)),
            trade("0x00", WireSide::Buy, dec!(0.000100), dec!(1)),
        ];
        for t in &cases {
            assert_eq!(whale_trade_key(t), t.key().to_string());
            assert_eq!(whale_trade_key(t).parse::<crate::polymarket::TradeKey>(), Ok(t.key()));
        }
    }
}
