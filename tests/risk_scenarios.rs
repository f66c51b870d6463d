//! The seeds' examples and the risk manager's behaviour end to end, through its public API only.

mod support;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use whale_trader::clock::Timestamp;
use whale_trader::domain::{ClientOrderId, MarketId, SourceTradeId, TokenId, WhaleId};
use whale_trader::risk::{
    Decision, ExitReason, Fill, Hold, OrderIntent, PositionId, ReasonCode, RiskConfig, RiskEvent, RiskManager,
    RiskState, Side, TradingState,
};

use support::risk::{open, whale_entry as entry};

/// 2023-11-15 10:00 UTC (the trading day starts at midnight UTC).
const T0: Timestamp = Timestamp::from_secs(1_700_006_400 + 10 * 3600);
const MINUTE: i64 = 60_000;

fn at(minutes: i64) -> Timestamp {
    T0.plus_millis(minutes * MINUTE)
}

fn manager_with(config: RiskConfig) -> RiskManager {
    RiskManager::new(config, T0).expect("valid config")
}

fn manager() -> RiskManager {
    manager_with(RiskConfig::default())
}

fn reason(decision: &Decision) -> Option<ReasonCode> {
    decision.reason()
}

fn detail(decision: &Decision) -> String {
    match decision {
        Decision::Rejected { detail, .. } => detail.clone(),
        Decision::Approved(_) => String::new(),
    }
}

fn transitions(rm: &mut RiskManager) -> Vec<(TradingState, TradingState, ReasonCode)> {
    rm.drain_events()
        .filter_map(|e| match e {
            RiskEvent::Transition(t) => Some((t.from, t.to, t.reason)),
            RiskEvent::BreakerWarning { .. } | RiskEvent::Whale(_) => None,
        })
        .collect()
}

#[test]
fn seed_example_entry_050_price_040_stops_out() {
    let mut rm = manager();
    let position = open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(100)), T0);
    assert!(rm.on_price(TokenId(1), dec!(0.46), at(1)).is_empty());
    let exits = rm.on_price(TokenId(1), dec!(0.40), at(2)).to_vec();
    assert_eq!(exits.len(), 1);
    let exit = exits[0];
    assert_eq!(
        (exit.position, exit.reason, exit.side, exit.size),
        (position, ExitReason::StopLoss, Side::Sell, dec!(100))
    );
    assert!(rm.on_price(TokenId(1), dec!(0.39), at(3)).is_empty(), "an exit is requested once");

    let order = exit.to_order(ClientOrderId(2), dec!(0.40));
    let decision = rm.check(&order, at(3));
    assert!(decision.is_approved(), "{decision:?}");
    let outcome = rm
        .on_fill(&Fill { client_order_id: ClientOrderId(2), price: dec!(0.40), size: dec!(100), fee: dec!(0) }, at(4));
    let outcome = outcome.expect("exit fill");
    assert_eq!((outcome.realised_pnl, outcome.closed), (dec!(-10), true));
    let snap = rm.snapshot();
    assert_eq!((snap.open_positions, snap.total_exposure_usd, snap.consecutive_losses), (0, dec!(0), 1));
    assert_eq!(snap.equity, dec!(9990));
    assert_eq!(snap.daily_pnl, dec!(-10));
}

#[test]
fn seed_example_8_of_10_positions() {
    let mut rm = manager();
    for i in 0..8 {
        open(&mut rm, entry(i + 1, i as u32, i as u32, i as u32, dec!(0.50), dec!(20)), T0);
    }
    let snap = rm.snapshot();
    assert_eq!(snap.open_positions, 8);
    assert_eq!(snap.total_exposure_usd, dec!(80));
    let capacity = rm.capacity(Some(WhaleId(100)), MarketId(100));
    assert!(capacity.notional_usd > dec!(0), "8 of 10 leaves room: {capacity:?}");
    open(&mut rm, entry(9, 100, 100, 100, dec!(0.50), dec!(20)), T0);
    open(&mut rm, entry(10, 101, 101, 101, dec!(0.50), dec!(20)), T0);
    let capacity = rm.capacity(Some(WhaleId(102)), MarketId(102));
    assert_eq!((capacity.notional_usd, capacity.binding), (dec!(0), ReasonCode::MaxTotalPositions));
    let decision = rm.check(&entry(11, 102, 102, 102, dec!(0.50), dec!(20)), T0);
    assert_eq!(reason(&decision), Some(ReasonCode::MaxTotalPositions));
    assert!(detail(&decision).contains("10 open of 10"), "{}", detail(&decision));
}

/// Start-of-day equity 20,000: the breaker threshold is min($500, 3 % = $600) = $500, the daily
/// loss limit min($1,000, 5 % = $1,000) = $1,000, so a $523.45 loss trips the breaker only.
fn breaker_config() -> RiskConfig {
    let mut config = RiskConfig { starting_balance_usd: dec!(20000), ..Default::default() };
    config.limits.max_position_size_usd = dec!(2000);
    config.stops.stop_loss_percent = dec!(50);
    config
}

#[test]
fn seed_example_523_45_daily_loss_trips_the_breaker_on_unrealised_pnl() {
    let mut rm = manager_with(breaker_config());
    // A 23.45 fee is realised at once; the rest of the loss is unrealised, seen only through prices.
    let decision = rm.check(&entry(1, 1, 1, 1, dec!(0.50), dec!(4000)), T0);
    assert!(decision.is_approved(), "{decision:?}");
    rm.on_fill(&Fill { client_order_id: ClientOrderId(1), price: dec!(0.50), size: dec!(4000), fee: dec!(23.45) }, T0)
        .expect("fill");
    let position = PositionId::from(ClientOrderId(1));

    rm.on_price(TokenId(1), dec!(0.40), at(1)); // −400 − 23.45 = −423.45: past 80 % of 500
    let events: Vec<RiskEvent> = rm.drain_events().collect();
    assert!(matches!(events.as_slice(), [RiskEvent::BreakerWarning { daily_pnl, .. }] if *daily_pnl == dec!(-423.45)));
    assert_eq!(rm.trading_state(), TradingState::Active);

    rm.on_price(TokenId(1), dec!(0.375), at(2)); // −500 − 23.45 = −523.45
    assert_eq!(rm.daily_pnl(), dec!(-523.45));
    assert_eq!(
        transitions(&mut rm),
        vec![(TradingState::Active, TradingState::Reducing, ReasonCode::CircuitBreakerTripped)]
    );
    let snap = rm.snapshot();
    assert_eq!((snap.breaker_trips_today, snap.breaker_trips_total), (1, 1));
    // What holds trading says until when: the breaker re-arms after its 60-minute cooldown.
    assert_eq!(rm.holds(), vec![Hold { reason: ReasonCode::CircuitBreakerTripped, until: Some(at(62)) }]);

    let decision = rm.check(&entry(2, 2, 2, 2, dec!(0.50), dec!(10)), at(3));
    assert_eq!(reason(&decision), Some(ReasonCode::CircuitBreakerOpen));
    let exit = OrderIntent {
        kind: whale_trader::risk::OrderKind::Exit { position, reason: ExitReason::Manual },
        side: Side::Sell,
        ..entry(3, 1, 1, 1, dec!(0.37), dec!(1000))
    };
    assert!(rm.check(&exit, at(3)).is_approved(), "exits pass while reducing");

    // Cooldown over with the loss recovered: active again.
    rm.on_price(TokenId(1), dec!(0.46), at(62));
    assert_eq!(transitions(&mut rm), vec![(TradingState::Reducing, TradingState::Active, ReasonCode::CooldownElapsed)]);
    // A second trip the same day latches Halted until a human resumes.
    rm.on_price(TokenId(1), dec!(0.37), at(63));
    assert_eq!(
        transitions(&mut rm),
        vec![(TradingState::Active, TradingState::Halted, ReasonCode::CircuitBreakerTripped)]
    );
    rm.on_price(TokenId(1), dec!(0.37), at(200));
    assert_eq!(rm.trading_state(), TradingState::Halted, "a latch does not cool down");
    assert_eq!(rm.holds(), vec![Hold { reason: ReasonCode::CircuitBreakerTripped, until: None }]);
    let record = rm.resume(at(201)).expect("resume records a transition");
    assert_eq!(
        (record.from, record.to, record.reason),
        (TradingState::Halted, TradingState::Active, ReasonCode::ManualResume)
    );
    assert_eq!(rm.resume(at(202)), None, "a no-op transition records nothing");
}

/// Drawdown alone: breaker off and a wide daily loss limit, so the drawdown protector decides.
fn drawdown_config() -> RiskConfig {
    let mut config = RiskConfig::default();
    config.circuit_breaker.enabled = false;
    config.daily_loss.max_daily_loss_usd = dec!(5000);
    config.daily_loss.max_daily_loss_percent = dec!(100);
    config.limits.max_position_size_usd = dec!(5000);
    config.limits.max_total_exposure_percent = dec!(100);
    config.limits.max_per_asset_exposure_percent = dec!(100);
    config.limits.daily_whale_allocation_usd = dec!(10000);
    config
}

#[test]
fn seed_example_15_2_percent_drawdown_halts_and_20_percent_kills() {
    let mut rm = manager_with(drawdown_config());
    let a = open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(6000)), T0);
    let b = open(&mut rm, entry(2, 2, 2, 2, dec!(0.50), dec!(4000)), T0);
    rm.on_price(TokenId(1), dec!(0.30), at(1)); // −1,200: 12 %
    assert_eq!(rm.trading_state(), TradingState::Active);
    rm.on_price(TokenId(2), dec!(0.42), at(2)); // −320 more: equity 8,480, 15.2 %
    let snap = rm.snapshot();
    assert_eq!((snap.equity, snap.drawdown_percent), (dec!(8480), dec!(15.2)));
    let events: Vec<RiskEvent> = rm.drain_events().collect();
    match events.as_slice() {
        [RiskEvent::Transition(t)] => {
            assert_eq!((t.from, t.to, t.reason), (TradingState::Active, TradingState::Halted, ReasonCode::MaxDrawdown));
            assert!(t.detail.contains("15.2"), "{}", t.detail);
            assert_eq!(t.at, at(2));
        }
        other => panic!("expected one transition, got {other:?}"),
    }
    assert_eq!(reason(&rm.check(&entry(3, 3, 3, 3, dec!(0.50), dec!(10)), at(3))), Some(ReasonCode::TradingHalted));

    let exits = rm.on_price(TokenId(2), dec!(0.20), at(4)).to_vec(); // −1,200 − 1,200: 24 %
    assert_eq!(transitions(&mut rm), vec![(TradingState::Halted, TradingState::Killed, ReasonCode::EmergencyDrawdown)]);
    // Both stop-losses had fired earlier (no exit order was sent in this test), so the kill
    // flattens both positions in full.
    let kills: Vec<(PositionId, Decimal)> =
        exits.iter().filter(|e| e.reason == ExitReason::Kill).map(|e| (e.position, e.size)).collect();
    assert_eq!(kills, vec![(a, dec!(6000)), (b, dec!(4000))]);
    assert_eq!(reason(&rm.check(&entry(4, 3, 3, 3, dec!(0.50), dec!(10)), at(5))), Some(ReasonCode::TradingHalted));
}

#[test]
fn killed_accepts_only_flattening_exits() {
    let mut rm = manager();
    let p = open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(100)), T0);
    let outcome = rm.kill("operator pressed the kill switch", at(1));
    let t = outcome.transition.expect("transition");
    assert_eq!((t.from, t.to, t.reason), (TradingState::Active, TradingState::Killed, ReasonCode::KillSwitch));
    assert_eq!(outcome.exits.len(), 1);
    assert_eq!((outcome.exits[0].reason, outcome.exits[0].size), (ExitReason::Kill, dec!(100)));
    let again = rm.kill("again", at(2));
    assert!(again.transition.is_none(), "killing twice records nothing");
    let again: Vec<(PositionId, Decimal)> = again.exits.iter().map(|e| (e.position, e.size)).collect();
    assert_eq!(again, vec![(p, dec!(100))], "no exit order was sent yet, so the flattening exits are offered again");

    assert_eq!(reason(&rm.check(&entry(5, 2, 2, 2, dec!(0.50), dec!(10)), at(2))), Some(ReasonCode::TradingHalted));
    let partial = outcome.exits[0].to_order(ClientOrderId(6), dec!(0.49));
    let partial = OrderIntent { size: dec!(40), ..partial };
    assert_eq!(reason(&rm.check(&partial, at(2))), Some(ReasonCode::TradingHalted));
    let full = outcome.exits[0].to_order(ClientOrderId(7), dec!(0.49));
    assert!(rm.check(&full, at(2)).is_approved());
    assert_eq!(rm.position(p).map(|p| p.exiting), Some(dec!(100)));
}

#[test]
fn daily_loss_limit_halts_until_the_next_trading_day() {
    let mut config = RiskConfig::default();
    config.circuit_breaker.enabled = false;
    config.stops.stop_loss_percent = dec!(90);
    let mut rm = manager_with(config);
    let p = open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(1000)), T0);
    rm.on_price(TokenId(1), dec!(0.25), at(1)); // −250: fine (limit min(1000, 5 % of 10k) = 500)
    rm.on_close(p, dec!(-275), at(2)).expect("close"); // realised −275 (fees, slippage)
    assert_eq!(rm.trading_state(), TradingState::Active);
    let q = open(&mut rm, entry(2, 2, 2, 2, dec!(0.50), dec!(900)), at(3));
    rm.on_price(TokenId(2), dec!(0.25), at(4)); // −275 − 225 = −500: at the limit, still allowed
    assert_eq!(rm.daily_pnl(), dec!(-500));
    assert_eq!(rm.trading_state(), TradingState::Active);
    rm.on_price(TokenId(2), dec!(0.2499), at(5)); // −500.09: one step over
    assert_eq!(transitions(&mut rm), vec![(TradingState::Active, TradingState::Halted, ReasonCode::DailyLossLimit)]);
    rm.on_close(q, dec!(-225.09), at(6)).expect("close");
    // Next trading day (UTC midnight): the halt lifts by itself.
    let tomorrow = Timestamp::from_secs(1_700_006_400 + 86_400);
    assert_eq!(rm.holds(), vec![Hold { reason: ReasonCode::DailyLossLimit, until: Some(tomorrow) }]);
    assert!(rm.roll_over(tomorrow));
    assert_eq!(transitions(&mut rm), vec![(TradingState::Halted, TradingState::Active, ReasonCode::NewTradingDay)]);
    assert_eq!(rm.snapshot().daily_pnl, dec!(0));
    assert!(!rm.roll_over(tomorrow), "rolling twice does nothing");
}

#[test]
fn five_losing_trades_in_a_row_halt() {
    let mut rm = manager();
    for i in 0..5u64 {
        let p = open(&mut rm, entry(i + 1, i as u32, i as u32, i as u32, dec!(0.50), dec!(10)), at(i as i64 * 20));
        rm.on_close(p, dec!(-0.01), at(i as i64 * 20 + 1)).expect("close");
        let expected = if i < 4 { TradingState::Active } else { TradingState::Halted };
        assert_eq!(rm.trading_state(), expected, "after {} losses", i + 1);
    }
    assert_eq!(transitions(&mut rm), vec![(TradingState::Active, TradingState::Halted, ReasonCode::ConsecutiveLosses)]);
}

#[test]
fn rejection_table_with_exact_boundaries() {
    type Tweak = fn(&mut OrderIntent);
    // Default equity 10,000: max position $500, per market 5 % = $500, total 10 % = $1,000.
    let mut no_resize = RiskConfig::default();
    no_resize.sizing.resize_to_fit = false;
    let table: &[(&str, Tweak, Option<ReasonCode>)] = &[
        ("exactly $500 notional", |o| o.size = dec!(1000), None),
        ("one cent over $500", |o| o.size = dec!(1000.02), Some(ReasonCode::MaxPositionSize)),
        ("price 0 is invalid", |o| o.price = dec!(0), Some(ReasonCode::InvalidOrder)),
        ("price 1 is invalid", |o| o.price = dec!(1), Some(ReasonCode::InvalidOrder)),
        ("price off the tick grid", |o| o.price = dec!(0.505), Some(ReasonCode::InvalidOrder)),
        ("negative size", |o| o.size = dec!(-1), Some(ReasonCode::InvalidOrder)),
        ("below 5 shares", |o| o.size = dec!(4.99), Some(ReasonCode::BelowMinimumSize)),
        ("leverage 1 is allowed", |o| o.leverage = dec!(1), None),
        ("leverage 1.01", |o| o.leverage = dec!(1.01), Some(ReasonCode::MaxLeverage)),
        ("whale price within 5 %", |o| o.reference_price = Some(dec!(0.5263)), None),
        ("whale price 5.3 % away", |o| o.reference_price = Some(dec!(0.528)), Some(ReasonCode::PriceMoved)),
    ];
    for (name, tweak, expected) in table {
        let mut rm = manager_with(no_resize.clone());
        let mut intent = entry(1, 1, 1, 1, dec!(0.50), dec!(100));
        tweak(&mut intent);
        let decision = rm.check(&intent, T0);
        assert_eq!(reason(&decision), *expected, "{name}: {decision:?}");
        if expected.is_some() {
            assert!(!detail(&decision).is_empty(), "{name}: a rejection explains itself");
        }
    }
}

#[test]
fn oversized_entries_are_resized_down_never_up() {
    let mut rm = manager();
    let decision = rm.check(&entry(1, 1, 1, 1, dec!(0.50), dec!(1500)), T0);
    let approved = decision.approved().expect("resized");
    assert_eq!(
        (approved.order().size, approved.requested_size(), approved.was_resized()),
        (dec!(1000), dec!(1500), true)
    );
    // Total 10 % of 10,000 = 1,000: 500 used, a second market gets 500, a third gets nothing.
    let second = rm.check(&entry(2, 2, 2, 2, dec!(0.50), dec!(1500)), T0);
    assert_eq!(second.approved().map(|a| a.order().size), Some(dec!(1000)));
    let third = rm.check(&entry(3, 3, 3, 3, dec!(0.50), dec!(100)), T0);
    assert_eq!(reason(&third), Some(ReasonCode::MaxTotalExposure));
    assert!(detail(&third).contains("limit 1000"), "{}", detail(&third));
    // Releasing the unfilled reservation gives the room back.
    rm.on_order_done(ClientOrderId(2)).expect("known order");
    assert!(rm.check(&entry(4, 3, 3, 3, dec!(0.50), dec!(100)), T0).is_approved());
}

#[test]
fn per_asset_whale_and_market_limits() {
    let mut rm = manager();
    open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(600)), T0); // $300 in market 1
    // Per-asset 5 % = $500 in market 1: 200 left → resized to 400 shares. (A fresh tick first:
    // the fill's price is 16 minutes old by then, and stale prices block entries.)
    rm.on_price(TokenId(1), dec!(0.50), at(16));
    let d = rm.check(&entry(2, 2, 1, 1, dec!(0.50), dec!(600)), at(16));
    assert_eq!(d.approved().map(|a| a.order().size), Some(dec!(400)));
    // Market 1 now holds 2 positions: the per-market count binds.
    rm.on_price(TokenId(1), dec!(0.50), at(32));
    assert_eq!(
        reason(&rm.check(&entry(3, 3, 1, 1, dec!(0.50), dec!(10)), at(32))),
        Some(ReasonCode::MaxPositionsPerMarket)
    );
    // Whale 1: 3 positions at most.
    open(&mut rm, entry(4, 1, 2, 2, dec!(0.50), dec!(10)), T0);
    open(&mut rm, entry(5, 1, 3, 3, dec!(0.50), dec!(10)), T0);
    assert_eq!(reason(&rm.check(&entry(6, 1, 4, 4, dec!(0.50), dec!(10)), T0)), Some(ReasonCode::MaxPositionsPerWhale));
}

#[test]
fn daily_whale_allocation_and_override() {
    let mut config = RiskConfig::default();
    config.limits.daily_whale_allocation_usd = dec!(20);
    let mut rm = manager_with(config);
    open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(30)), T0); // $15 of $20
    let d = rm.check(&entry(2, 1, 2, 2, dec!(0.50), dec!(30)), T0);
    assert_eq!(d.approved().map(|a| a.order().size), Some(dec!(10)), "$5 left");
    assert_eq!(reason(&rm.check(&entry(3, 1, 3, 3, dec!(0.50), dec!(10)), T0)), Some(ReasonCode::DailyWhaleAllocation));
    rm.set_whale_allocation(WhaleId(2), Some(dec!(2)));
    assert_eq!(reason(&rm.check(&entry(4, 2, 4, 4, dec!(0.50), dec!(10)), T0)), Some(ReasonCode::DailyWhaleAllocation));
    // A new day gives every whale its allocation back.
    let tomorrow = Timestamp::from_secs(1_700_006_400 + 86_400);
    assert!(rm.check(&entry(5, 2, 4, 4, dec!(0.50), dec!(4)), tomorrow).reason() == Some(ReasonCode::BelowMinimumSize));
    assert!(rm.check(&entry(6, 2, 4, 4, dec!(0.02), dec!(100)), tomorrow).is_approved());
}

#[test]
fn duplicates_double_fire_opposing_and_stale_prices() {
    let mut rm = manager();
    let copy = entry(1, 1, 1, 1, dec!(0.50), dec!(10)).copying(WhaleId(1), SourceTradeId::of("0xabc:0"), dec!(0.50));
    assert!(rm.check(&copy, T0).is_approved());
    assert_eq!(reason(&rm.check(&copy, at(30))), Some(ReasonCode::DuplicateOrder), "same client order id");
    let same_trade = OrderIntent { client_order_id: ClientOrderId(2), market: MarketId(9), ..copy };
    assert_eq!(reason(&rm.check(&same_trade, at(30))), Some(ReasonCode::DuplicateOrder), "same source trade");
    // Same market and side within 15 minutes: double fire; at 15 minutes: allowed.
    let again = entry(3, 2, 1, 1, dec!(0.50), dec!(10));
    assert_eq!(reason(&rm.check(&again, at(14))), Some(ReasonCode::DoubleFire));
    // Buying the other outcome of market 1 opposes the held position.
    let other_outcome = entry(4, 2, 1, 2, dec!(0.50), dec!(10));
    assert_eq!(reason(&rm.check(&other_outcome, at(15))), Some(ReasonCode::OpposingPosition));
    // Stale price: a tick 61 s old blocks entries on that token.
    rm.on_price(TokenId(5), dec!(0.50), at(20));
    let stale = entry(5, 3, 5, 5, dec!(0.50), dec!(10));
    let d = rm.check(&stale, at(20).plus_secs(61));
    assert_eq!(reason(&d), Some(ReasonCode::StalePrice));
    assert!(rm.check(&stale, at(20).plus_secs(60)).is_approved(), "60 s is still fresh");
}

#[test]
fn reducing_for_a_stale_feed_lets_exits_through() {
    let mut rm = manager();
    let p = open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(100)), T0);
    let t = rm.reduce(ReasonCode::StaleFeed, "no price for 30 s", at(1)).expect("transition");
    assert_eq!((t.to, t.reason), (TradingState::Reducing, ReasonCode::StaleFeed));
    assert_eq!(reason(&rm.check(&entry(2, 2, 2, 2, dec!(0.50), dec!(10)), at(2))), Some(ReasonCode::TradingHalted));
    let exit = rm.position(p).map(|pos| whale_trader::risk::ExitIntent {
        position: p,
        whale: pos.whale,
        market: pos.market,
        token: pos.token,
        side: Side::Sell,
        size: dec!(50),
        trigger_price: dec!(0.5),
        reason: ExitReason::WhaleExit,
        at: at(2),
    });
    let exit = exit.expect("position").to_order(ClientOrderId(3), dec!(0.50));
    assert!(rm.check(&exit, at(2)).is_approved());
    assert_eq!(rm.clear_reduce(ReasonCode::HealthDegraded, at(3)), None, "only the cause that set it lifts it");
    assert!(rm.clear_reduce(ReasonCode::StaleFeed, at(3)).is_some());
    assert_eq!(rm.trading_state(), TradingState::Active);
}

#[test]
fn partial_fills_cancel_and_exposure_accounting() {
    let mut rm = manager();
    let d = rm.check(&entry(1, 1, 1, 1, dec!(0.50), dec!(100)), T0);
    assert!(d.is_approved());
    assert_eq!(rm.snapshot().total_exposure_usd, dec!(50), "reserved at approval");
    rm.on_fill(&Fill { client_order_id: ClientOrderId(1), price: dec!(0.48), size: dec!(40), fee: dec!(0) }, T0)
        .expect("fill");
    assert_eq!(rm.snapshot().total_exposure_usd, dec!(49.2), "19.20 filled + 30 still reserved");
    rm.on_order_done(ClientOrderId(1)).expect("cancel the rest");
    let snap = rm.snapshot();
    assert_eq!((snap.total_exposure_usd, snap.open_positions, snap.working_orders), (dec!(19.2), 1, 0));
    // The daily allocation counts notional at the approved limit price: 40 × 0.50.
    assert_eq!(snap.exposure_per_whale[0].allocated_today_usd, dec!(20));
    assert_eq!(rm.on_order_done(ClientOrderId(1)), Err(whale_trader::risk::RiskError::UnknownOrder(ClientOrderId(1))));
    let bad =
        rm.on_fill(&Fill { client_order_id: ClientOrderId(1), price: dec!(1.5), size: dec!(1), fee: dec!(0) }, T0);
    assert!(matches!(bad, Err(whale_trader::risk::RiskError::InvalidInput { field: "fill.price", .. })));
}

#[test]
fn export_restore_gives_the_same_state_and_decisions() {
    let mut rm = manager();
    open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(100)), T0);
    rm.check(&entry(2, 2, 2, 2, dec!(0.40), dec!(50)), T0);
    rm.on_price(TokenId(1), dec!(0.55), at(1));
    let saved = rm.export();
    let json = serde_json::to_string(&saved).expect("serialize");
    let back: RiskState = serde_json::from_str(&json).expect("deserialize");
    let mut restored = RiskManager::restore(RiskConfig::default(), back).expect("restore");
    assert_eq!(restored.export(), saved);
    assert_eq!(restored.snapshot(), rm.snapshot());
    for (i, price) in [dec!(0.60), dec!(0.56), dec!(0.44)].into_iter().enumerate() {
        let a = rm.on_price(TokenId(1), price, at(2 + i as i64)).to_vec();
        let b = restored.on_price(TokenId(1), price, at(2 + i as i64)).to_vec();
        assert_eq!(a, b);
    }
    let probe = entry(3, 1, 1, 1, dec!(0.50), dec!(10));
    assert_eq!(rm.check(&probe, at(10)), restored.check(&probe, at(10)));
    let bad = RiskState { version: 99, ..saved };
    assert!(RiskManager::restore(RiskConfig::default(), bad).is_err());
}

#[test]
fn config_reload_keeps_state() {
    let mut rm = manager();
    open(&mut rm, entry(1, 1, 1, 1, dec!(0.50), dec!(100)), T0);
    let mut tighter = RiskConfig::default();
    tighter.limits.max_total_positions = 1;
    tighter.limits.max_positions_per_whale = 1;
    tighter.limits.max_positions_per_market = 1;
    rm.set_config(tighter).expect("valid");
    assert_eq!(rm.snapshot().open_positions, 1);
    assert_eq!(reason(&rm.check(&entry(2, 2, 2, 2, dec!(0.50), dec!(10)), T0)), Some(ReasonCode::MaxTotalPositions));
    let mut invalid = RiskConfig::default();
    invalid.stops.stop_loss_percent = dec!(100);
    assert!(rm.set_config(invalid).is_err());
    assert_eq!(rm.config().limits.max_total_positions, 1, "an invalid reload changes nothing");
}

#[test]
fn manual_halt_and_resume() {
    let mut rm = manager();
    let t = rm.halt("maintenance", T0).expect("transition");
    assert_eq!(
        (t.from, t.to, t.reason, t.detail.as_str()),
        (TradingState::Active, TradingState::Halted, ReasonCode::ManualHalt, "maintenance")
    );
    assert_eq!(rm.halt("again", T0), None);
    assert_eq!(reason(&rm.check(&entry(1, 1, 1, 1, dec!(0.50), dec!(10)), T0)), Some(ReasonCode::TradingHalted));
    assert!(rm.resume(at(1)).is_some());
    assert!(rm.check(&entry(2, 1, 1, 1, dec!(0.50), dec!(10)), at(1)).is_approved());
}

#[test]
fn copy_sizing_modes_through_the_manager() {
    use whale_trader::config::CopySizing;
    let rm = manager();
    // Fixed $50 at 0.50 = 100 shares; proportional 10 % of a $2,000 whale trade = $200 = 400 shares.
    assert_eq!(rm.copy_size(CopySizing::FixedUsd, dec!(2000), dec!(50), dec!(0.1), dec!(0.50), None), Ok(dec!(100)));
    assert_eq!(
        rm.copy_size(CopySizing::Proportional, dec!(2000), dec!(50), dec!(0.1), dec!(0.50), None),
        Ok(dec!(400))
    );
    // Risk-based: 1 % of 10,000 over a 10 % stop distance (0.05) = 2,000 shares = $1,000, capped at $500.
    assert_eq!(rm.copy_size(CopySizing::RiskBased, dec!(0), dec!(0), dec!(0), dec!(0.50), None), Ok(dec!(1000)));
    // Twice the usual volatility halves a size; a calmer market never raises it.
    let atr = Some((dec!(0.02), dec!(0.04)));
    assert_eq!(rm.copy_size(CopySizing::FixedUsd, dec!(0), dec!(50), dec!(0), dec!(0.50), atr), Ok(dec!(50)));
    let calm = Some((dec!(0.04), dec!(0.02)));
    assert_eq!(rm.copy_size(CopySizing::FixedUsd, dec!(0), dec!(50), dec!(0), dec!(0.50), calm), Ok(dec!(100)));
    // Below the $1 minimum: an error, never raised to it.
    assert!(rm.copy_size(CopySizing::FixedUsd, dec!(0), dec!(0.99), dec!(0), dec!(0.50), None).is_err());
    assert!(rm.copy_size(CopySizing::FixedUsd, dec!(0), dec!(50), dec!(0), dec!(1.2), None).is_err());
}

#[test]
fn the_trailing_stop_starts_at_the_fill_price_not_at_the_entry_limit() {
    let mut rm = manager();
    // The entry is limited 10 % above the whale's price but fills at 0.50.
    let intent = entry(1, 1, 1, 1, dec!(0.55), dec!(100));
    assert!(rm.check(&intent, T0).is_approved());
    rm.on_fill(&Fill { client_order_id: ClientOrderId(1), price: dec!(0.50), size: dec!(100), fee: dec!(0) }, T0)
        .expect("fill");
    let position = rm.position(PositionId(1)).copied().expect("open");
    assert_eq!(position.stops.best_price, dec!(0.50), "high-water starts at the fill");
    assert_eq!(position.stops.stop_loss_price, dec!(0.45));
    // 0.54 never reached the limit of 0.55, yet the trail arms (5 % below 0.54) and then fires.
    assert!(rm.on_price(TokenId(1), dec!(0.54), at(1)).is_empty());
    let armed = rm.position(PositionId(1)).and_then(|p| p.stops.trailing_stop_price);
    assert_eq!(armed, Some(dec!(0.5130)));
    let exits = rm.on_price(TokenId(1), dec!(0.51), at(2)).to_vec();
    assert_eq!(exits.iter().map(|e| e.reason).collect::<Vec<_>>(), vec![ExitReason::TrailingStop]);
}

#[test]
fn partial_entry_fills_move_the_stops_with_the_volume_weighted_entry() {
    let mut rm = manager();
    assert!(rm.check(&entry(1, 1, 1, 1, dec!(0.60), dec!(100)), T0).is_approved());
    let fill = |price, size| Fill { client_order_id: ClientOrderId(1), price, size, fee: dec!(0) };
    rm.on_fill(&fill(dec!(0.50), dec!(50)), T0).expect("first fill");
    rm.on_fill(&fill(dec!(0.60), dec!(50)), T0).expect("second fill");
    let position = rm.position(PositionId(1)).copied().expect("open");
    assert_eq!(position.entry_price, dec!(0.55));
    assert_eq!(position.stops.stop_loss_price, dec!(0.495), "10 % below the average entry");
    assert_eq!(position.stops.best_price, dec!(0.50), "the high-water is a price traded, never the limit");
}

#[test]
fn a_market_on_a_finer_tick_trades_and_exits_once_its_rules_are_known() {
    use whale_trader::risk::safeguards::MarketRules;
    let mut rm = manager();
    let fine = MarketRules { tick_size: dec!(0.001), min_order_size: dec!(5) };
    // Unknown market: the configured 0.01 grid refuses 0.955.
    let decision = rm.check(&entry(1, 1, 1, 1, dec!(0.955), dec!(10)), T0);
    assert_eq!(reason(&decision), Some(ReasonCode::InvalidOrder), "{}", detail(&decision));
    rm.set_market_rules(MarketId(1), fine).expect("valid rules");
    let position = open(&mut rm, entry(2, 1, 1, 1, dec!(0.955), dec!(10)), T0);
    // Near 1 the venue may go finer still; the exit on the new grid passes.
    rm.set_market_rules(MarketId(1), MarketRules { tick_size: dec!(0.0001), ..fine }).expect("valid rules");
    let exits = rm.on_price(TokenId(1), dec!(0.8595), at(1)).to_vec();
    assert_eq!(exits.len(), 1);
    let decision = rm.check(&exits[0].to_order(ClientOrderId(3), dec!(0.8185)), at(1));
    assert!(decision.is_approved(), "{decision:?}");
    assert_eq!(
        decision.approved().map(|a| a.order().kind),
        Some(whale_trader::risk::OrderKind::Exit { position, reason: ExitReason::StopLoss })
    );
    // Rules that cannot be right are refused and the old ones kept.
    assert!(rm.set_market_rules(MarketId(1), MarketRules { tick_size: dec!(1), min_order_size: dec!(5) }).is_err());
    assert_eq!(rm.order_rules(MarketId(1)).tick_size, dec!(0.0001));
}
