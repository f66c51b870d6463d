//! [`RiskManager`]: every rule of the risk module behind one synchronous API the engine owns.
//! No I/O, no clock reads (`now` is a parameter), no allocation on the approve path of
//! [`RiskManager::check`] or in [`RiskManager::on_price`] once warmed up.
//!
//! The manager's state and its accessors live here; each job it does is a file of its own:
//! [`checks`] (the pre-trade check pipeline), [`evaluation`] (prices, stops and the loss limits),
//! [`fills`] (fill accounting), [`control`] (halt, resume, kill), [`wallet_truth`] (the wallet's
//! cash and holdings as the books' base, live), [`plan_checks`] (trade plans: check, close) and
//! [`persistence`] (metrics, export, restore).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{ClientOrderId, IdHashMap, MarketId, ReasonCode, TokenId, TradingState, WhaleId};

use super::breaker::{self, CircuitBreaker};
use super::compliance::validate_risk_parameters;
use super::config::RiskConfig;
use super::daily_loss::{daily_loss_limit, trading_day};
use super::drawdown::DrawdownProtector;
use super::error::RiskError;
use super::limits::{CapFractions, ExposureBook};
use super::order::{ExitIntent, PositionId, WorkingOrder};
use super::plan_book::PlanBook;
use super::positions::{Position, TokenBook};
use super::safeguards::{DoubleFireGuard, DuplicateGuard, MarketRules, OrderRules};
use super::state::{StateMachine, Transition};
use super::stops::DefaultStops;
use super::wallet::WalletBook;
use super::whales::{WhaleBook, WhaleChange};

mod checks;
mod control;
mod evaluation;
mod fills;
mod persistence;
mod plan_checks;
mod plan_positions;
mod wallet_truth;
pub use control::Hold;
use evaluation::LimitInputs;
pub use plan_checks::{PlanApproved, PlanCheck};
pub use plan_positions::{PlanActions, PlanEnd, PlanReportOutcome, WorkingPlanOrder};

/// Preallocated room for ids, so that the first thousand whales, markets, tokens and orders never
/// make a hash map grow on the hot path.
const INITIAL_CAPACITY: usize = 1024;

/// Something the engine should persist, audit or alert on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum RiskEvent {
    /// The trading state changed (automatically). On a change to `Killed` that did not come from
    /// `on_price` (which returns the exits itself), call [`RiskManager::flatten`].
    Transition(Transition),
    /// Today's loss reached the breaker's warning level.
    BreakerWarning { daily_pnl: Decimal, threshold_usd: Decimal, at: Timestamp },
    /// A copied whale was muted, locked, or let go again.
    Whale(WhaleChange),
}

/// What a manual kill produced.
#[derive(Debug, Clone, PartialEq)]
pub struct KillOutcome {
    pub transition: Option<Transition>,
    /// Exits that flatten every open position.
    pub exits: Vec<ExitIntent>,
    /// Entry orders still working: cancel them.
    pub cancel_entries: Vec<ClientOrderId>,
}

/// Values derived from the config and start-of-day equity, computed once instead of per tick.
#[derive(Debug, Clone, Copy)]
pub(super) struct Derived {
    breaker_threshold: Decimal,
    breaker_warning: Decimal,
    daily_loss_limit: Decimal,
    caps: CapFractions,
    /// The configured stops' multipliers of the entry price, for entries that override none.
    stops: DefaultStops,
}

impl Derived {
    fn new(config: &RiskConfig, start_of_day_equity: Decimal) -> Self {
        let breaker_threshold = breaker::loss_threshold(&config.circuit_breaker, start_of_day_equity);
        Self {
            breaker_threshold,
            breaker_warning: breaker::warning_level(&config.circuit_breaker, breaker_threshold),
            daily_loss_limit: daily_loss_limit(&config.daily_loss, start_of_day_equity),
            caps: CapFractions::new(&config.limits),
            stops: DefaultStops::new(&config.stops),
        }
    }
}

/// The risk manager. See the module documentation of [`crate::risk`] for how the pieces fit.
#[derive(Debug, Clone)]
pub struct RiskManager {
    config: RiskConfig,
    derived: Derived,
    state: StateMachine,
    breaker: CircuitBreaker,
    drawdown: DrawdownProtector,
    realised_total: Decimal,
    realised_today: Decimal,
    unrealised_total: Decimal,
    start_of_day_equity: Decimal,
    trading_day: i64,
    tokens: IdHashMap<TokenId, TokenBook>,
    position_tokens: IdHashMap<PositionId, TokenId>,
    orders: IdHashMap<ClientOrderId, WorkingOrder>,
    book: ExposureBook,
    whale_allocations: IdHashMap<WhaleId, Decimal>,
    /// Each market's tick size and minimum order size as the venue last stated them (the engine
    /// sets them from books and market info); markets not in here use `[risk.safeguards]`.
    market_rules: IdHashMap<MarketId, MarketRules>,
    duplicates: DuplicateGuard,
    double_fire: DoubleFireGuard,
    exits: Vec<ExitIntent>,
    events: Vec<RiskEvent>,
    approved: u64,
    rejected: u64,
    ignored_prices: u64,
    /// Live mode: the last wallet reading, the equity base it set, the open position mismatches.
    wallet: WalletBook,
    /// Each copied whale's ledger, breaker and low-profit lock.
    whales: WhaleBook,
    /// Reused buffer for the whale book's changes.
    whale_changes: Vec<WhaleChange>,
    /// What the last evaluation of the loss limits left; `None` until the first.
    evaluated: Option<LimitInputs>,
    /// Trade plans: the open ones and their risk, remembered ids, recent firings.
    plans: PlanBook,
}

impl RiskManager {
    /// A fresh risk manager: no positions, equity = starting balance, trading `Active`.
    pub fn new(config: RiskConfig, now: Timestamp) -> Result<Self, RiskError> {
        validate_risk_parameters(&config)?;
        let equity = config.starting_balance_usd;
        Ok(Self {
            derived: Derived::new(&config, equity),
            state: StateMachine::default(),
            breaker: CircuitBreaker::default(),
            drawdown: DrawdownProtector::new(&config.drawdown, equity),
            realised_total: Decimal::ZERO,
            realised_today: Decimal::ZERO,
            unrealised_total: Decimal::ZERO,
            start_of_day_equity: equity,
            trading_day: trading_day(now, config.day_start_utc_minutes),
            tokens: with_capacity(INITIAL_CAPACITY),
            position_tokens: with_capacity(INITIAL_CAPACITY),
            orders: with_capacity(INITIAL_CAPACITY),
            book: ExposureBook::with_capacity(INITIAL_CAPACITY),
            whale_allocations: with_capacity(64),
            market_rules: with_capacity(INITIAL_CAPACITY),
            duplicates: DuplicateGuard::new(config.safeguards.duplicate_memory),
            double_fire: DoubleFireGuard::with_capacity(INITIAL_CAPACITY),
            exits: Vec::with_capacity(64),
            events: Vec::with_capacity(16),
            approved: 0,
            rejected: 0,
            ignored_prices: 0,
            wallet: WalletBook::default(),
            whales: WhaleBook::with_capacity(64),
            whale_changes: Vec::with_capacity(8),
            evaluated: None,
            plans: PlanBook::default(),
            config,
        })
    }

    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    /// A reloaded configuration (SIGHUP). All state is kept; open positions keep the stop levels
    /// they were opened with, new positions use the new defaults.
    pub fn set_config(&mut self, config: RiskConfig) -> Result<(), RiskError> {
        validate_risk_parameters(&config)?;
        if config.safeguards.duplicate_memory != self.config.safeguards.duplicate_memory {
            self.duplicates.resize(config.safeguards.duplicate_memory);
        }
        self.derived = Derived::new(&config, self.start_of_day_equity);
        self.drawdown.refresh_floors(&config.drawdown);
        self.config = config;
        Ok(())
    }

    /// A whale's own daily allocation (from `[[copy.whales]] daily_allocation_usd`).
    pub fn set_whale_allocation(&mut self, whale: WhaleId, usd: Option<Decimal>) {
        match usd {
            Some(usd) => {
                self.whale_allocations.insert(whale, usd.max(Decimal::ZERO));
            }
            None => {
                self.whale_allocations.remove(&whale);
            }
        }
    }

    /// A market's tick size and minimum order size, as the venue states them now. Rules that cannot
    /// be right (a tick outside (0, 1), a negative minimum) are refused and the old ones kept.
    pub fn set_market_rules(&mut self, market: MarketId, rules: MarketRules) -> Result<(), RiskError> {
        if !rules.is_valid() {
            return Err(RiskError::input(
                "market_rules.tick_size",
                rules.tick_size,
                "must be inside (0, 1) with a minimum size of at least 0",
            ));
        }
        self.market_rules.insert(market, rules);
        Ok(())
    }

    /// The rules an order in `market` is checked against.
    #[inline]
    pub fn order_rules(&self, market: MarketId) -> OrderRules {
        match self.market_rules.get(&market) {
            Some(venue) => OrderRules::for_market(&self.config.safeguards, venue),
            None => OrderRules::configured(&self.config.safeguards),
        }
    }

    fn whale_allocation(&self, whale: Option<WhaleId>) -> Decimal {
        whale
            .and_then(|w| self.whale_allocations.get(&w).copied())
            .unwrap_or(self.config.limits.daily_whale_allocation_usd)
    }

    #[inline]
    pub fn trading_state(&self) -> TradingState {
        self.state.state()
    }

    /// The rules holding trading in `Reducing` (a restored state tells the health monitor that its
    /// hold from before a restart is still in force).
    pub fn reducing_holds(&self) -> &[ReasonCode] {
        self.state.reducing_holds()
    }

    /// Equity = base + realised + unrealised P&L. The base is `risk.starting_balance_usd` until a
    /// wallet reading sets it (live mode: see [`RiskManager::on_wallet_cash`]).
    #[inline]
    pub fn equity(&self) -> Decimal {
        self.equity_base() + self.realised_total + self.unrealised_total
    }

    /// The base equity is counted from: the configured balance until a wallet reading sets it.
    #[inline]
    fn equity_base(&self) -> Decimal {
        self.wallet.base.unwrap_or(self.config.starting_balance_usd)
    }

    /// Today's P&L, realised plus unrealised: equity − start-of-day equity.
    pub fn daily_pnl(&self) -> Decimal {
        self.equity() - self.start_of_day_equity
    }

    /// Drawdown from the equity peak, in percent (divides: for records, not the hot path).
    pub fn drawdown_percent(&self) -> Decimal {
        self.drawdown.drawdown_percent(self.equity())
    }

    /// Automatic transitions and warnings since the last drain, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, RiskEvent> {
        self.events.drain(..)
    }

    /// The last price seen for `token`, if any.
    #[inline]
    pub fn mark(&self, token: TokenId) -> Option<Decimal> {
        self.tokens.get(&token).and_then(|book| book.mark)
    }

    pub fn position(&self, id: PositionId) -> Option<&Position> {
        let token = self.position_tokens.get(&id)?;
        self.tokens.get(token)?.find(id)
    }

    pub fn positions(&self) -> impl Iterator<Item = &Position> + '_ {
        self.tokens.values().flat_map(|book| book.positions.iter())
    }

    // ----- time -------------------------------------------------------------------------------

    /// Rolls over to a new trading day when `now` is in one: start-of-day equity is reset, the
    /// breaker's trip count and every whale's daily allocation start over, and a daily-loss halt
    /// lifts. Called by `check`, `on_price` and `on_fill` too, so a timer is optional.
    pub fn roll_over(&mut self, now: Timestamp) -> bool {
        let day = trading_day(now, self.config.day_start_utc_minutes);
        if day <= self.trading_day {
            return false;
        }
        self.trading_day = day;
        self.start_of_day_equity = self.equity();
        self.realised_today = Decimal::ZERO;
        self.derived = Derived::new(&self.config, self.start_of_day_equity);
        self.breaker.new_day();
        self.book.new_day();
        self.double_fire.prune(now, self.config.safeguards.double_fire_window_minutes);
        self.whales.new_day(now, &self.config.whales, &mut self.whale_changes);
        self.queue_whale_changes();
        if let Some(t) = self.state.relax(
            TradingState::Halted,
            ReasonCode::DailyLossLimit,
            ReasonCode::NewTradingDay,
            || format!("new trading day starting {now}"),
            now,
        ) {
            self.events.push(RiskEvent::Transition(t));
        }
        true
    }

    #[inline]
    fn tick_clock(&mut self, now: Timestamp) {
        if trading_day(now, self.config.day_start_utc_minutes) > self.trading_day {
            self.roll_over(now);
        }
        if self.whales.mute_ends_by(now) {
            self.whales.end_elapsed_mutes(now, &mut self.whale_changes);
            self.queue_whale_changes();
        }
        if self.breaker.poll_cooldown(now)
            && let Some(t) = self.state.relax(
                TradingState::Reducing,
                ReasonCode::CircuitBreakerTripped,
                ReasonCode::CooldownElapsed,
                || "circuit breaker re-armed after its cooldown".to_string(),
                now,
            )
        {
            self.events.push(RiskEvent::Transition(t));
        }
    }
}

impl RiskManager {
    /// The whale book's changes become events for the engine.
    fn queue_whale_changes(&mut self) {
        self.events.extend(self.whale_changes.drain(..).map(RiskEvent::Whale));
    }

    /// The clock-driven rules without an input: a new trading day, the breaker's cooldown, whale
    /// mutes that ran out.
    pub fn on_timer(&mut self, now: Timestamp) {
        self.tick_clock(now);
    }

    /// A human lifts `whale`'s mute. Answers whether it was muted.
    pub fn unmute_whale(&mut self, whale: WhaleId, now: Timestamp) -> bool {
        self.tick_clock(now);
        let lifted = self.whales.unmute(whale, now, &mut self.whale_changes);
        self.queue_whale_changes();
        lifted
    }

    /// Every copied whale's ledger and standing.
    pub fn whales(&self) -> &WhaleBook {
        &self.whales
    }
}

fn with_capacity<K, V>(capacity: usize) -> IdHashMap<K, V> {
    IdHashMap::with_capacity_and_hasher(capacity, Default::default())
}
