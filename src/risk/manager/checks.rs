//! The pre-trade check pipeline: whether an order may go out, at what size, and what it reserves.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::CopySizing;
use crate::domain::{MarketId, ReasonCode, TradingState, WhaleId};
use crate::risk::compliance::breaks_leverage_cap;
use crate::risk::config::OpposingPolicy;
use crate::risk::error::RiskError;
use crate::risk::limits::Capacity;
use crate::risk::order::{Approved, Decision, OrderIntent, OrderKind, PositionId, WorkingKind, WorkingOrder};
use crate::risk::positions::Position;
use crate::risk::safeguards::{Duplicate, OrderRules, SanityViolation, check_entry_order, check_order};
use crate::risk::sizing::{CopySizeInputs, Fit, constrain_notional, copy_size, fit_to_capacity};
use crate::risk::stops::StopLevels;
use crate::risk::whales::Block;

use super::RiskManager;

impl RiskManager {
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
        if let Some(whale) = intent.whale
            && let Some(block) = self.whales.blocked(whale, now, &self.config.whales)
        {
            return whale_rejection(block, whale);
        }
        let rules = self.order_rules(intent.market);
        let notional = match check_entry_order(&rules, intent.price, intent.size) {
            Ok(notional) => notional,
            Err(violation) => return self.sanity_rejection(violation, intent, &rules),
        };
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
                    "a {} in the same market already fired at {at}, within the {window}-minute window (risk.safeguards.double_fire_window_minutes)",
                    intent.side
                ),
            );
        }
        if let Some(rejection) = self.price_rejection(intent, now) {
            return rejection;
        }
        // The whale's and the market's books, read once for the opposing, count and notional rules.
        let books = self.book.order_books(intent.whale, intent.market);
        if self.config.compliance.opposing_positions == OpposingPolicy::Reject
            && books.opposes(intent.token, intent.side)
        {
            return reject(
                ReasonCode::OpposingPosition,
                format!(
                    "{} {} shares opposes a position already held in the same market (risk.compliance.opposing_positions = reject)",
                    intent.side, intent.size
                ),
            );
        }
        if let Some(limit) = self.book.count_limit_in(&self.config.limits, &books) {
            return reject(
                limit.reason,
                format!("{} open of {} allowed ({})", limit.open, limit.limit, limit.reason.as_str()),
            );
        }
        // The count limits were just checked: go straight to the notional caps. Which cap binds,
        // and by how much, is worked out only for an order that does not fit as it is.
        let equity = self.equity();
        let allocation = self.whale_allocation(intent.whale);
        let fits = self.book.admits(&self.config.limits, self.derived.caps, equity, &books, allocation, notional);
        let size = if fits {
            intent.size
        } else {
            match self.fit_entry(intent, &rules, equity, allocation) {
                Ok(size) => size,
                Err(capacity) => return capacity_rejection(&capacity, intent, self.config.sizing.resize_to_fit),
            }
        };
        let mut order = *intent;
        order.size = size;
        let notional = if fits { notional } else { size * intent.price };
        self.reserve_entry(&order, notional, now);
        Decision::Approved(Approved::new(order, intent.size))
    }

    /// The size an entry that does not fit as it is may have under the notional caps, or the
    /// capacity whose binding cap rejects it.
    #[cold]
    fn fit_entry(
        &self,
        intent: &OrderIntent,
        rules: &OrderRules,
        equity: Decimal,
        allocation: Decimal,
    ) -> Result<Decimal, Capacity> {
        let capacity = self.book.notional_capacity(
            &self.config.limits,
            self.derived.caps,
            equity,
            intent.whale,
            intent.market,
            allocation,
        );
        let sg = &self.config.safeguards;
        match fit_to_capacity(
            intent.size,
            intent.price,
            capacity.notional_usd,
            sg.size_step,
            rules.min_order_size,
            rules.min_order_notional_usd,
            self.config.sizing.resize_to_fit,
        ) {
            Fit::AsIs => Ok(intent.size),
            Fit::Resized(size) => Ok(size),
            Fit::TooLarge => Err(capacity),
        }
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

    /// `notional` is the order's size × price.
    fn reserve_entry(&mut self, order: &OrderIntent, notional: Decimal, now: Timestamp) {
        let id = PositionId::from(order.client_order_id);
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
            stops: StopLevels::new_with(&self.config.stops, &self.derived.stops, &order.stops, order.side, order.price),
            exit_signalled: None,
            opened_at: now,
            whale_price: order.reference_price.filter(|_| order.whale.is_some()),
            bought: Decimal::ZERO,
            fees: Decimal::ZERO,
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
}

/// Builds a rejection; only called once a check has failed, so the detail allocates only then.
#[cold]
fn reject(reason: ReasonCode, detail: String) -> Decision {
    Decision::Rejected { reason, detail }
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

/// A copy refused because its whale is muted or locked.
fn whale_rejection(block: Block, whale: WhaleId) -> Decision {
    let detail = match block {
        Block::Muted { cause, until } => {
            format!("{whale} is muted until {until} ({cause}); its exits are still mirrored (risk.whales)")
        }
        Block::LowProfit => {
            format!("{whale} is locked: its rolling P&L over the lookback is below risk.whales.low_profit_min_usd")
        }
        Block::NegativeEdge { slippage_per_copy, gain_per_copy } => format!(
            "copying {whale} costs {} per copy in slippage against its own {} per copy \
             (risk.whales.skip_negative_copy_edge)",
            slippage_per_copy.round_dp(4),
            gain_per_copy.round_dp(4)
        ),
    };
    reject(block.reason(), detail)
}
