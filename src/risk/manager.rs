//! [`RiskManager`]: every rule of the risk module behind one synchronous API the engine owns.
//! No I/O, no clock reads (`now` is a parameter), no allocation on the approve path of
//! [`RiskManager::check`] or in [`RiskManager::on_price`] once warmed up.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::config::CopySizing;
use crate::domain::{ClientOrderId, ExitReason, IdHashMap, MarketId, ReasonCode, Side, TokenId, TradingState, WhaleId};

use super::breaker::{self, BreakerSignal, CircuitBreaker};
use super::compliance::{breaks_leverage_cap, validate_risk_parameters};
use super::config::{OpposingPolicy, RiskConfig};
use super::daily_loss::{daily_loss_limit, is_breached, trading_day};
use super::drawdown::{DrawdownLevel, DrawdownProtector};
use super::error::RiskError;
use super::limits::{CapFractions, Capacity, ExposureBook};
use super::order::{
    Approved, Decision, ExitIntent, Fill, FillOutcome, OrderIntent, OrderKind, PositionId, StopOverrides,
};
use super::positions::{Position, TokenBook};
use super::safeguards::{
    DoubleFireGuard, Duplicate, DuplicateGuard, MAX_QUANTITY, MarketRules, OrderRules, SanityViolation, check_order,
};
use super::sizing::{CopySizeInputs, Fit, constrain_notional, copy_size, fit_to_capacity};
use super::snapshot::{Mark, MarketExposure, RiskSnapshot, RiskState, WhaleExposure, WorkingOrderRecord};
use super::state::{StateMachine, Transition};
use super::stops::{StopLevels, direction};
use super::wallet::{PositionMismatch, WalletBook};

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

/// Whether a working order opens or closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkingKind {
    Entry,
    Exit,
}

/// An approved order that has not finished yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct WorkingOrder {
    pub position: PositionId,
    pub token: TokenId,
    pub kind: WorkingKind,
    pub remaining: Decimal,
    pub price: Decimal,
}

/// Values derived from the config and start-of-day equity, computed once instead of per tick.
#[derive(Debug, Clone, Copy)]
struct Derived {
    breaker_threshold: Decimal,
    breaker_warning: Decimal,
    daily_loss_limit: Decimal,
    caps: CapFractions,
}

impl Derived {
    fn new(config: &RiskConfig, start_of_day_equity: Decimal) -> Self {
        let breaker_threshold = breaker::loss_threshold(&config.circuit_breaker, start_of_day_equity);
        Self {
            breaker_threshold,
            breaker_warning: breaker::warning_level(&config.circuit_breaker, breaker_threshold),
            daily_loss_limit: daily_loss_limit(&config.daily_loss, start_of_day_equity),
            caps: CapFractions::new(&config.limits),
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
}

/// Builds a rejection; only called once a check has failed, so the detail allocates only then.
#[cold]
fn reject(reason: ReasonCode, detail: String) -> Decision {
    Decision::Rejected { reason, detail }
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
    pub fn equity(&self) -> Decimal {
        self.wallet.base.unwrap_or(self.config.starting_balance_usd) + self.realised_total + self.unrealised_total
    }

    /// Today's P&L, realised plus unrealised: equity − start-of-day equity.
    pub fn daily_pnl(&self) -> Decimal {
        self.equity() - self.start_of_day_equity
    }

    /// Automatic transitions and warnings since the last drain, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, RiskEvent> {
        self.events.drain(..)
    }

    /// The last price seen for `token`, if any.
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

    // ----- decisions --------------------------------------------------------------------------

    /// Approves (possibly resized down) or rejects an order.
    pub fn check(&mut self, intent: &OrderIntent, now: Timestamp) -> Decision {
        self.tick_clock(now);
        let decision = match intent.kind {
            OrderKind::Entry => self.check_entry(intent, now),
            OrderKind::Exit { position, .. } => self.check_exit(intent, position),
        };
        if decision.is_approved() {
            self.approved += 1;
        } else {
            self.rejected += 1;
        }
        decision
    }

    fn check_entry(&mut self, intent: &OrderIntent, now: Timestamp) -> Decision {
        let state = self.state.state();
        if state != TradingState::Active {
            let reason = if state == TradingState::Reducing && self.breaker.is_open() {
                ReasonCode::CircuitBreakerOpen
            } else {
                ReasonCode::TradingHalted
            };
            let cause = self.state.cause().map_or("none", ReasonCode::as_str);
            return reject(reason, format!("trading state is {state} (cause {cause}); new entries need active"));
        }
        let rules = self.order_rules(intent.market);
        if let Err(violation) = check_order(&rules, intent.price, intent.size, true) {
            return self.sanity_rejection(violation, intent, &rules);
        }
        let max_leverage = self.config.compliance.max_leverage;
        if breaks_leverage_cap(intent.leverage, max_leverage) {
            return reject(
                ReasonCode::MaxLeverage,
                format!("leverage {} is outside [1, {max_leverage}] (risk.compliance.max_leverage)", intent.leverage),
            );
        }
        if let Some(duplicate) = self.duplicates.find(intent.client_order_id, intent.source_trade) {
            return duplicate_rejection(duplicate, intent);
        }
        let window = self.config.safeguards.double_fire_window_minutes;
        if let Some(at) = self.double_fire.find(intent.market, intent.side, now, window) {
            return reject(
                ReasonCode::DoubleFire,
                format!(
                    "{} {} already fired at {at}, within the {window}-minute window (risk.safeguards.double_fire_window_minutes)",
                    intent.side, intent.market
                ),
            );
        }
        if let Some(rejection) = self.price_rejection(intent, now) {
            return rejection;
        }
        if self.config.compliance.opposing_positions == OpposingPolicy::Reject
            && self.book.market(intent.market).legs.opposes(intent.token, intent.side)
        {
            return reject(
                ReasonCode::OpposingPosition,
                format!(
                    "{} {} {} opposes a position already held in {} (risk.compliance.opposing_positions = reject)",
                    intent.side, intent.size, intent.token, intent.market
                ),
            );
        }
        if let Some(limit) = self.book.count_limit(&self.config.limits, intent.whale, intent.market) {
            return reject(
                limit.reason,
                format!("{} open of {} allowed ({})", limit.open, limit.limit, limit.reason.as_str()),
            );
        }
        // The count limits were just checked: go straight to the notional caps.
        let capacity = self.book.notional_capacity(
            &self.config.limits,
            self.derived.caps,
            self.equity(),
            intent.whale,
            intent.market,
            self.whale_allocation(intent.whale),
        );
        let sg = &self.config.safeguards;
        let size = match fit_to_capacity(
            intent.size,
            intent.price,
            capacity.notional_usd,
            sg.size_step,
            rules.min_order_size,
            rules.min_order_notional_usd,
            self.config.sizing.resize_to_fit,
        ) {
            Fit::AsIs => intent.size,
            Fit::Resized(size) => size,
            Fit::TooLarge => return capacity_rejection(&capacity, intent, self.config.sizing.resize_to_fit),
        };
        let mut order = *intent;
        order.size = size;
        self.reserve_entry(&order, now);
        Decision::Approved(Approved::new(order, intent.size))
    }

    fn price_rejection(&self, intent: &OrderIntent, now: Timestamp) -> Option<Decision> {
        let sg = &self.config.safeguards;
        if let Some(reference) = intent.reference_price
            && (reference <= Decimal::ZERO || reference >= Decimal::ONE)
        {
            return Some(reject(
                ReasonCode::InvalidOrder,
                format!("reference price {reference} must be inside (0, 1)"),
            ));
        }
        if let Some(reference) = intent.reference_price
            && (intent.price - reference).abs() * Decimal::ONE_HUNDRED > sg.max_price_drift_percent * reference
        {
            return Some(reject(
                ReasonCode::PriceMoved,
                format!(
                    "price {} is more than {}% away from the reference {reference} (risk.safeguards.max_price_drift_percent)",
                    intent.price, sg.max_price_drift_percent
                ),
            ));
        }
        if sg.max_price_age_secs > 0
            && let Some(book) = self.tokens.get(&intent.token)
            && book.mark.is_some()
        {
            let age_ms = now.millis_since(book.marked_at);
            let max_ms = i64::from(sg.max_price_age_secs) * 1000;
            if age_ms > max_ms {
                return Some(reject(
                    ReasonCode::StalePrice,
                    format!(
                        "last price of {} is {} s old, more than {} s (risk.safeguards.max_price_age_secs)",
                        intent.token,
                        age_ms / 1000,
                        sg.max_price_age_secs
                    ),
                ));
            }
        }
        None
    }

    #[cold]
    fn sanity_rejection(&self, violation: SanityViolation, intent: &OrderIntent, rules: &OrderRules) -> Decision {
        let reason = match violation {
            SanityViolation::BelowMinimumSize | SanityViolation::BelowMinimumNotional => ReasonCode::BelowMinimumSize,
            _ => ReasonCode::InvalidOrder,
        };
        reject(
            reason,
            format!(
                "{} (price {}, size {}, notional {}; tick {}, min size {}, min notional {})",
                violation.rule(),
                intent.price,
                intent.size,
                intent.size.checked_mul(intent.price).map_or_else(|| "overflow".to_string(), |n| n.to_string()),
                rules.tick_size,
                rules.min_order_size,
                rules.min_order_notional_usd
            ),
        )
    }

    fn reserve_entry(&mut self, order: &OrderIntent, now: Timestamp) {
        let id = PositionId::from(order.client_order_id);
        let notional = order.size * order.price;
        let position = Position {
            id,
            whale: order.whale,
            market: order.market,
            token: order.token,
            side: order.side,
            size: Decimal::ZERO,
            cost: Decimal::ZERO,
            entry_price: order.price,
            pending_entry: order.size,
            reserved: notional,
            exiting: Decimal::ZERO,
            realised: Decimal::ZERO,
            stops: StopLevels::new(&self.config.stops, &order.stops, order.side, order.price),
            exit_signalled: None,
            opened_at: now,
        };
        self.tokens.entry(order.token).or_default().positions.push(position);
        self.position_tokens.insert(id, order.token);
        self.orders.insert(
            order.client_order_id,
            WorkingOrder {
                position: id,
                token: order.token,
                kind: WorkingKind::Entry,
                remaining: order.size,
                price: order.price,
            },
        );
        self.book.open(order.whale, order.market, order.token, order.side, notional);
        self.duplicates.remember(order.client_order_id, order.source_trade);
        self.double_fire.record(order.market, order.side, now);
    }

    fn check_exit(&mut self, intent: &OrderIntent, position_id: PositionId) -> Decision {
        let rules = self.order_rules(intent.market);
        if let Err(violation) = check_order(&rules, intent.price, intent.size, false) {
            return self.sanity_rejection(violation, intent, &rules);
        }
        if let Some(duplicate) = self.duplicates.find(intent.client_order_id, None) {
            return duplicate_rejection(duplicate, intent);
        }
        let killed = self.state.state() == TradingState::Killed;
        let resize = self.config.sizing.resize_to_fit;
        let Some(position) = self.position_tokens.get(&position_id).and_then(|t| self.tokens.get(t)?.find(position_id))
        else {
            return reject(ReasonCode::UnknownPosition, format!("{position_id} is not open"));
        };
        if position.token != intent.token || position.market != intent.market || intent.side != position.side.opposite()
        {
            return reject(
                ReasonCode::InvalidOrder,
                format!(
                    "exit {} {} {} does not reduce {position_id} ({} {} in {})",
                    intent.side, intent.token, intent.market, position.side, position.token, position.market
                ),
            );
        }
        let available = position.available();
        if killed && intent.size < available {
            return reject(
                ReasonCode::TradingHalted,
                format!(
                    "trading is killed: only exits flattening the position pass (size {}, open {available})",
                    intent.size
                ),
            );
        }
        let size = if intent.size <= available {
            intent.size
        } else if resize && available > Decimal::ZERO {
            available
        } else {
            return reject(
                ReasonCode::InvalidOrder,
                format!(
                    "exit size {} exceeds the {available} shares of {position_id} not already being exited",
                    intent.size
                ),
            );
        };
        let mut order = *intent;
        order.size = size;
        if let Some(position) = self.tokens.get_mut(&order.token).and_then(|b| b.find_mut(position_id)) {
            position.exiting += size;
        }
        self.orders.insert(
            order.client_order_id,
            WorkingOrder {
                position: position_id,
                token: order.token,
                kind: WorkingKind::Exit,
                remaining: size,
                price: order.price,
            },
        );
        self.duplicates.remember(order.client_order_id, None);
        Decision::Approved(Approved::new(order, intent.size))
    }

    /// How much more notional (USD) may be opened for `whale` in `market`, and which limit binds.
    /// A reached count limit gives zero capacity with that limit as the binding one.
    pub fn capacity(&self, whale: Option<WhaleId>, market: MarketId) -> Capacity {
        if let Some(limit) = self.book.count_limit(&self.config.limits, whale, market) {
            return Capacity {
                notional_usd: Decimal::ZERO,
                binding: limit.reason,
                limit: Decimal::from(limit.limit),
                used: Decimal::from(limit.open),
            };
        }
        self.book.notional_capacity(
            &self.config.limits,
            self.derived.caps,
            self.equity(),
            whale,
            market,
            self.whale_allocation(whale),
        )
    }

    /// Shares to buy for a copied whale trade at `price`, before capacity limits: the copy mode's
    /// size (risk-based uses current equity, `risk_per_trade_percent` and the default stop-loss
    /// distance), volatility-adjusted when `atr` = (baseline, current) is given and enabled, capped
    /// at `max_position_size_usd`, rounded down to the size grid; below `min_position_usd` it is an
    /// error, never upsized.
    pub fn copy_size(
        &self,
        mode: CopySizing,
        whale_notional: Decimal,
        fixed_usd: Decimal,
        ratio: Decimal,
        price: Decimal,
        atr: Option<(Decimal, Decimal)>,
    ) -> Result<Decimal, RiskError> {
        let stops = &self.config.stops;
        // An out-of-range price is rejected by `copy_size`; only avoid overflowing before that.
        let stop = (price.checked_mul(Decimal::ONE_HUNDRED - stops.stop_loss_percent))
            .map_or(Decimal::ZERO, |x| x / Decimal::ONE_HUNDRED);
        let shares = copy_size(&CopySizeInputs {
            mode,
            whale_notional,
            fixed_usd,
            ratio,
            price,
            stop,
            balance: self.equity(),
            risk_percent: self.config.sizing.risk_per_trade_percent,
            leverage: Decimal::ONE,
            max_leverage: self.config.compliance.max_leverage,
            atr: atr.filter(|_| self.config.sizing.volatility_adjustment),
        })?;
        let notional = shares.checked_mul(price).ok_or_else(|| RiskError::input("size", shares, "is too large"))?;
        let notional = constrain_notional(
            notional,
            self.config.sizing.min_position_usd,
            self.config.limits.max_position_size_usd,
        )?;
        let step = self.config.safeguards.size_step;
        let steps = notional.checked_div(price).and_then(|s| s.checked_div(step)).map(|s| s.floor());
        steps.and_then(|s| s.checked_mul(step)).ok_or_else(|| RiskError::input("size", notional, "is too large"))
    }

    // ----- market data ------------------------------------------------------------------------

    /// A new price for `token`: moves stops, updates unrealised P&L and evaluates the breaker, the
    /// daily loss limit and the drawdown protector. Returns the exits to send (stop-loss,
    /// take-profit, trailing stop, or every position after an emergency kill). Cost is
    /// O(positions on `token`). Prices outside (0, 1) are ignored and counted.
    pub fn on_price(&mut self, token: TokenId, price: Decimal, now: Timestamp) -> &[ExitIntent] {
        self.exits.clear();
        self.tick_clock(now);
        if price <= Decimal::ZERO || price >= Decimal::ONE {
            self.ignored_prices += 1;
            return &self.exits;
        }
        let book = self.tokens.entry(token).or_default();
        book.mark = Some(price);
        book.marked_at = now;
        for position in book.positions.iter_mut() {
            if position.size.is_zero() || position.exit_signalled.is_some() {
                continue;
            }
            if let Some(reason) = position.stops.on_price(position.side, price) {
                let size = position.available();
                if size > Decimal::ZERO {
                    position.exit_signalled = Some(reason);
                    self.exits.push(exit_intent(position, size, price, reason, now));
                }
            }
        }
        self.unrealised_total += book.refresh_unrealised();
        self.evaluate(now);
        &self.exits
    }

    /// Evaluates the breaker, the daily loss limit and drawdown against the current equity.
    fn evaluate(&mut self, now: Timestamp) {
        let equity = self.equity();
        let daily = equity - self.start_of_day_equity;
        let threshold = self.derived.breaker_threshold;
        match self.breaker.evaluate(&self.config.circuit_breaker, daily, threshold, self.derived.breaker_warning, now) {
            BreakerSignal::Quiet => {}
            BreakerSignal::Warning => {
                self.events.push(RiskEvent::BreakerWarning { daily_pnl: daily, threshold_usd: threshold, at: now });
            }
            BreakerSignal::Tripped { until } => {
                self.escalate(TradingState::Reducing, ReasonCode::CircuitBreakerTripped, now, || {
                    format!("today's P&L {daily} is below -{threshold}; reducing until {until}")
                })
            }
            BreakerSignal::Latched => {
                self.escalate(TradingState::Halted, ReasonCode::CircuitBreakerTripped, now, || {
                    format!("second circuit-breaker trip today: P&L {daily} below -{threshold}; halted until resumed")
                })
            }
        }
        let limit = self.derived.daily_loss_limit;
        if is_breached(daily, limit) {
            self.escalate(TradingState::Halted, ReasonCode::DailyLossLimit, now, || {
                format!("today's P&L {daily} is below the daily loss limit -{limit}; halted until the next trading day")
            });
        }
        match self.drawdown.update(&self.config.drawdown, equity) {
            DrawdownLevel::Normal => {}
            DrawdownLevel::Halt => {
                let (dd, max) = (self.drawdown.drawdown_percent(equity), self.config.drawdown.max_drawdown_percent);
                self.escalate(TradingState::Halted, ReasonCode::MaxDrawdown, now, || {
                    format!("drawdown {}% reached max_drawdown_percent {max}%", dd.round_dp(2))
                });
            }
            DrawdownLevel::Emergency => {
                let (dd, max) =
                    (self.drawdown.drawdown_percent(equity), self.config.drawdown.emergency_drawdown_percent);
                let before = self.state.state();
                self.escalate(TradingState::Killed, ReasonCode::EmergencyDrawdown, now, || {
                    format!(
                        "drawdown {}% reached emergency_drawdown_percent {max}%: flattening everything",
                        dd.round_dp(2)
                    )
                });
                if before != TradingState::Killed {
                    self.push_kill_exits(now);
                }
            }
        }
    }

    fn escalate(&mut self, to: TradingState, reason: ReasonCode, now: Timestamp, detail: impl FnOnce() -> String) {
        if let Some(t) = self.state.escalate(to, reason, detail, now) {
            self.events.push(RiskEvent::Transition(t));
        }
    }

    /// Appends an exit for every position that still has shares not being exited.
    fn push_kill_exits(&mut self, now: Timestamp) {
        for book in self.tokens.values_mut() {
            let mark = book.mark;
            for position in book.positions.iter_mut() {
                let size = position.available();
                if size > Decimal::ZERO {
                    position.exit_signalled = Some(ExitReason::Kill);
                    let price = mark.unwrap_or(position.entry_price);
                    self.exits.push(exit_intent(position, size, price, ExitReason::Kill, now));
                }
            }
        }
        self.exits.sort_by_key(|e| e.position);
    }

    // ----- executions -------------------------------------------------------------------------

    /// An execution report for an approved order: updates the position, exposure and P&L, and
    /// re-evaluates the loss limits (a losing streak that reaches its limit halts trading).
    pub fn on_fill(&mut self, fill: &Fill, now: Timestamp) -> Result<FillOutcome, RiskError> {
        if fill.price <= Decimal::ZERO || fill.price >= Decimal::ONE {
            return Err(RiskError::input("fill.price", fill.price, "must be inside (0, 1)"));
        }
        if fill.size <= Decimal::ZERO || fill.size > MAX_QUANTITY {
            return Err(RiskError::input("fill.size", fill.size, "must be above 0 and at most 10^12"));
        }
        if fill.fee < Decimal::ZERO || fill.fee > MAX_QUANTITY {
            return Err(RiskError::input("fill.fee", fill.fee, "must be at least 0 and at most 10^12"));
        }
        self.tick_clock(now);
        let order = *self.orders.get(&fill.client_order_id).ok_or(RiskError::UnknownOrder(fill.client_order_id))?;
        let outcome = match order.kind {
            WorkingKind::Entry => self.fill_entry(&order, fill, now),
            WorkingKind::Exit => self.fill_exit(&order, fill, now),
        };
        let remaining = (order.remaining - fill.size).max(Decimal::ZERO);
        if remaining.is_zero() {
            self.orders.remove(&fill.client_order_id);
        } else if let Some(working) = self.orders.get_mut(&fill.client_order_id) {
            working.remaining = remaining;
        }
        let outcome = outcome?;
        self.evaluate(now);
        Ok(outcome)
    }

    fn fill_entry(&mut self, order: &WorkingOrder, fill: &Fill, now: Timestamp) -> Result<FillOutcome, RiskError> {
        let book = self.tokens.get_mut(&order.token).ok_or(RiskError::UnknownPosition(order.position))?;
        let position = book.find_mut(order.position).ok_or(RiskError::UnknownPosition(order.position))?;
        let cost = fill.size * fill.price;
        let released = (fill.size.min(position.pending_entry) * order.price).min(position.reserved);
        let first_fill = position.size.is_zero();
        position.size += fill.size;
        position.cost += cost;
        position.pending_entry = (position.pending_entry - fill.size).max(Decimal::ZERO);
        position.reserved -= released;
        position.realised -= fill.fee;
        if let Some(average) = position.cost.checked_div(position.size) {
            position.entry_price = average;
        }
        let (side, entry) = (position.side, position.entry_price);
        if first_fill {
            position.stops.anchor(side, fill.price);
        } else {
            // Later partial fills move the levels with the volume-weighted entry.
            position.stops.reprice(side, entry);
        }
        let (whale, market) = (position.whale, position.market);
        let sign = direction(side);
        book.net_size += sign * fill.size;
        book.net_cost += sign * cost;
        if book.mark.is_none() {
            // Until the first tick, the fill is the freshest price we know.
            book.mark = Some(fill.price);
            book.marked_at = now;
        }
        self.unrealised_total += book.refresh_unrealised();
        self.book.change_exposure(whale, market, cost - released);
        self.book_realised(-fill.fee);
        Ok(FillOutcome { position: order.position, realised_pnl: -fill.fee, closed: false })
    }

    fn fill_exit(&mut self, order: &WorkingOrder, fill: &Fill, now: Timestamp) -> Result<FillOutcome, RiskError> {
        let book = self.tokens.get_mut(&order.token).ok_or(RiskError::UnknownPosition(order.position))?;
        let position = book.find_mut(order.position).ok_or(RiskError::UnknownPosition(order.position))?;
        let shares = fill.size.min(position.size);
        let cost_out = if shares == position.size { position.cost } else { shares * position.entry_price };
        let sign = direction(position.side);
        let pnl = sign * (shares * fill.price - cost_out) - fill.fee;
        position.size -= shares;
        position.cost -= cost_out;
        position.exiting = (position.exiting - fill.size).max(Decimal::ZERO);
        position.realised += pnl;
        let (whale, market) = (position.whale, position.market);
        let done = position.size.is_zero() && position.pending_entry.is_zero();
        book.net_size -= sign * shares;
        book.net_cost -= sign * cost_out;
        self.unrealised_total += book.refresh_unrealised();
        self.book.change_exposure(whale, market, -cost_out);
        self.book_realised(pnl);
        if done {
            self.finish_position(order.token, order.position, now);
        }
        Ok(FillOutcome { position: order.position, realised_pnl: pnl, closed: done })
    }

    fn book_realised(&mut self, pnl: Decimal) {
        self.realised_total += pnl;
        self.realised_today += pnl;
    }

    /// Removes a position that has no shares and nothing pending, and scores the closed trade.
    fn finish_position(&mut self, token: TokenId, id: PositionId, now: Timestamp) {
        let Some(position) = self.tokens.get_mut(&token).and_then(|b| b.remove(id)) else { return };
        self.position_tokens.remove(&id);
        if !position.reserved.is_zero() || !position.cost.is_zero() {
            self.book.change_exposure(position.whale, position.market, -(position.reserved + position.cost));
        }
        self.book.close(position.whale, position.market, position.token, position.side);
        if self.drawdown.record_trade(&self.config.drawdown, position.realised) {
            let (streak, max) = (self.drawdown.consecutive_losses, self.config.drawdown.max_consecutive_losses);
            self.escalate(TradingState::Halted, ReasonCode::ConsecutiveLosses, now, || {
                format!("{streak} losing trades in a row reached max_consecutive_losses {max}")
            });
        }
    }

    /// An approved order is finished with a part unfilled (cancelled, expired, refused by the
    /// venue, or partly filled and then done): the unfilled part of an entry gives back its
    /// reserved exposure and daily allocation (and an entry that never filled frees its position
    /// slot); an exit's unfilled part may be exited again. An order whose fills covered its whole
    /// size was already finished by its last [`RiskManager::on_fill`]: calling this for it
    /// answers [`RiskError::UnknownOrder`], so a caller that reports every "done" should skip
    /// fully filled orders (or treat that answer as expected for them).
    pub fn on_order_done(&mut self, order: ClientOrderId) -> Result<(), RiskError> {
        let working = self.orders.remove(&order).ok_or(RiskError::UnknownOrder(order))?;
        let Some(book) = self.tokens.get_mut(&working.token) else { return Ok(()) };
        let Some(position) = book.find_mut(working.position) else { return Ok(()) };
        match working.kind {
            WorkingKind::Entry => {
                let released = position.reserved;
                position.reserved = Decimal::ZERO;
                position.pending_entry = Decimal::ZERO;
                let (whale, market, empty) = (position.whale, position.market, position.size.is_zero());
                self.book.change_exposure(whale, market, -released);
                self.book.refund_allocation(whale, released);
                if empty {
                    // Never filled: not a trade, so it does not count for the losing streak.
                    if let Some(position) = book.remove(working.position) {
                        self.position_tokens.remove(&position.id);
                        self.book.close(position.whale, position.market, position.token, position.side);
                    }
                }
            }
            WorkingKind::Exit => {
                position.exiting = (position.exiting - working.remaining).max(Decimal::ZERO);
                position.exit_signalled = None;
            }
        }
        Ok(())
    }

    /// A position closed outside the order flow (market resolved and redeemed, or reconciled):
    /// books `realised_pnl` for it and removes it. Its working orders are forgotten (the engine
    /// cancels them; their late fills are reported as unknown orders).
    pub fn on_close(
        &mut self,
        id: PositionId,
        realised_pnl: Decimal,
        now: Timestamp,
    ) -> Result<FillOutcome, RiskError> {
        self.tick_clock(now);
        let token = *self.position_tokens.get(&id).ok_or(RiskError::UnknownPosition(id))?;
        let book = self.tokens.get_mut(&token).ok_or(RiskError::UnknownPosition(id))?;
        let position = book.find_mut(id).ok_or(RiskError::UnknownPosition(id))?;
        let sign = direction(position.side);
        let (size, cost, reserved) = (position.size, position.cost, position.reserved);
        let (whale, market) = (position.whale, position.market);
        position.realised += realised_pnl;
        position.size = Decimal::ZERO;
        position.cost = Decimal::ZERO;
        position.reserved = Decimal::ZERO;
        position.pending_entry = Decimal::ZERO;
        position.exiting = Decimal::ZERO;
        book.net_size -= sign * size;
        book.net_cost -= sign * cost;
        self.unrealised_total += book.refresh_unrealised();
        self.book.change_exposure(whale, market, -(cost + reserved));
        self.book_realised(realised_pnl);
        self.orders.retain(|_, o| o.position != id);
        self.finish_position(token, id, now);
        self.evaluate(now);
        Ok(FillOutcome { position: id, realised_pnl, closed: true })
    }

    // ----- manual control ---------------------------------------------------------------------

    /// A human halts trading (`whale-trader halt`).
    pub fn halt(&mut self, detail: &str, now: Timestamp) -> Option<Transition> {
        self.state.escalate(TradingState::Halted, ReasonCode::ManualHalt, || detail.to_string(), now)
    }

    /// A human resumes trading from any state: clears a breaker latch, re-arms the breaker,
    /// acknowledges the drawdown (peak rebased to current equity) and resets the losing streak.
    /// The daily loss limit still applies to today's P&L.
    pub fn resume(&mut self, now: Timestamp) -> Option<Transition> {
        // A position mismatch holds trading until a human resolves it: the resume lifts that hold
        // only once no mismatch remains (see [`RiskManager::mismatches`]).
        if self.wallet.mismatches.is_empty() {
            self.state.release_hold(ReasonCode::PositionMismatch);
        }
        if self.state.state() == TradingState::Active {
            return None;
        }
        self.breaker.reset_by_human();
        let equity = self.equity();
        self.drawdown.reset_by_human(&self.config.drawdown, equity);
        let from = self.state.state();
        self.state.resume(|| format!("resumed by an operator from {from}; peak equity reset to {equity}"), now)
    }

    /// The kill switch: `Killed`, exits for every open position and the entries to cancel.
    pub fn kill(&mut self, detail: &str, now: Timestamp) -> KillOutcome {
        let transition = self.state.escalate(TradingState::Killed, ReasonCode::KillSwitch, || detail.to_string(), now);
        let exits = self.flatten(now);
        let mut cancel_entries: Vec<ClientOrderId> =
            self.orders.iter().filter(|(_, o)| o.kind == WorkingKind::Entry).map(|(id, _)| *id).collect();
        cancel_entries.sort();
        KillOutcome { transition, exits, cancel_entries }
    }

    /// Exits (reason `kill`) for every share not already being exited. `on_price` returns these by
    /// itself when an emergency drawdown kills; when the kill comes from `on_fill` or `on_close`
    /// (a [`RiskEvent::Transition`] to `Killed`), the engine calls this to get them.
    pub fn flatten(&mut self, now: Timestamp) -> Vec<ExitIntent> {
        self.exits.clear();
        self.push_kill_exits(now);
        // Drained, not taken: the buffer keeps its capacity for the next tick.
        self.exits.drain(..).collect()
    }

    /// Moves to `Reducing` for an outside cause (`stale_feed`, `health_degraded`).
    pub fn reduce(&mut self, reason: ReasonCode, detail: &str, now: Timestamp) -> Option<Transition> {
        self.state.escalate(TradingState::Reducing, reason, || detail.to_string(), now)
    }

    /// The outside cause of a `Reducing` state is gone; back to `Active` if nothing else intervened.
    pub fn clear_reduce(&mut self, reason: ReasonCode, now: Timestamp) -> Option<Transition> {
        self.state.relax(TradingState::Reducing, reason, reason, || format!("{reason} cleared"), now)
    }

    // ----- the wallet as truth (live) ----------------------------------------------------------

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

    // ----- observation and persistence --------------------------------------------------------

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
            breaker: self.breaker.clone(),
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
        Ok(manager)
    }
}

fn with_capacity<K, V>(capacity: usize) -> IdHashMap<K, V> {
    IdHashMap::with_capacity_and_hasher(capacity, Default::default())
}

fn exit_intent(position: &Position, size: Decimal, price: Decimal, reason: ExitReason, now: Timestamp) -> ExitIntent {
    ExitIntent {
        position: position.id,
        whale: position.whale,
        market: position.market,
        token: position.token,
        side: position.side.opposite(),
        size,
        trigger_price: price,
        reason,
        at: now,
    }
}

#[cold]
fn duplicate_rejection(duplicate: Duplicate, intent: &OrderIntent) -> Decision {
    let detail = match (duplicate, intent.source_trade) {
        (Duplicate::SourceTrade, Some(source)) => format!("{source} was already copied"),
        _ => format!("{} was already used", intent.client_order_id),
    };
    reject(ReasonCode::DuplicateOrder, detail)
}

#[cold]
fn capacity_rejection(capacity: &Capacity, intent: &OrderIntent, resize_to_fit: bool) -> Decision {
    let notional = intent.size * intent.price;
    let how = if resize_to_fit {
        "and the room left is below the minimum order"
    } else {
        "(risk.sizing.resize_to_fit = false)"
    };
    reject(
        capacity.binding,
        format!(
            "notional {notional} exceeds the {} USD left under {} (limit {}, used {}) {how}",
            capacity.notional_usd,
            capacity.binding.as_str(),
            capacity.limit,
            capacity.used
        ),
    )
}

#[cfg(test)]
mod wallet_tests {
    use rust_decimal_macros::dec;

    use super::*;
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

    #[test]
    fn the_state_round_trips_and_an_older_state_without_a_wallet_still_loads() {
        let mut rm = RiskManager::new(RiskConfig::default(), T0).unwrap_or_else(|e| panic!("{e}"));
        rm.on_wallet_cash(dec!(2000), T0).unwrap_or_else(|e| panic!("{e}"));
        rm.set_mismatches(vec![PositionMismatch {
            token: TokenId(3),
            market: MarketId(3),
            kind: MismatchKind::UnknownToUs,
            ours: Decimal::ZERO,
            venue: dec!(12),
            venue_avg_price: dec!(0.4),
            since: T0,
        }]);
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
        rm.set_mismatches(vec![PositionMismatch {
            token: TokenId(3),
            market: MarketId(3),
            kind: MismatchKind::UnknownToUs,
            ours: Decimal::ZERO,
            venue: dec!(100),
            venue_avg_price: dec!(0.4),
            since: T0,
        }]);
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
