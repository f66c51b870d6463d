//! Property tests over random sequences of entries, fills, cancels, exits, price ticks, manual
//! controls, day roll-overs and the whale rules (mutes, locks, the copy-edge skip, unmutes): caps
//! and counts are never exceeded whatever state the whales are in, an entry from a blocked whale is
//! never approved, a trailing stop never loosens, no entry is approved outside `Active`, export →
//! restore gives the same decisions (whale ledgers included), nothing panics.

use std::collections::HashMap;

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use whale_trader::clock::Timestamp;
use whale_trader::domain::{ClientOrderId, MarketId, Side, SourceTradeId, TokenId, WhaleId};
use whale_trader::risk::{
    Decision, ExitIntent, ExitReason, Fill, OrderIntent, OrderKind, ReasonCode, RiskConfig, RiskEvent, RiskManager,
    RiskState, TradingState, WhaleChange,
};

const T0: Timestamp = Timestamp::from_secs(1_700_006_400);

/// Small limits, so that random sequences hit every one of them.
fn config() -> RiskConfig {
    let mut c = RiskConfig { starting_balance_usd: dec!(1000), ..Default::default() };
    c.circuit_breaker.loss_threshold_usd = dec!(30);
    c.daily_loss.max_daily_loss_usd = dec!(50);
    c.drawdown.max_consecutive_losses = 3;
    c.limits.max_total_positions = 6;
    c.limits.max_positions_per_whale = 2;
    c.limits.max_positions_per_market = 2;
    c.limits.max_position_size_usd = dec!(50);
    c.limits.max_total_exposure_usd = dec!(120);
    c.limits.daily_whale_allocation_usd = dec!(80);
    c.sizing.min_position_usd = dec!(0.5);
    c.safeguards.min_order_size = dec!(1);
    c.safeguards.min_order_notional_usd = dec!(0.5);
    // Whale rules that fire often, so that random sequences mute, lock, skip and release whales.
    c.whales.mute_after_losses = 2;
    c.whales.mute_after_loss_percent = dec!(20);
    c.whales.mute_hours = 1;
    c.whales.low_profit_lookback_days = 1;
    c.whales.low_profit_min_trades = 2;
    c.whales.skip_negative_copy_edge = true;
    c.whales.copy_edge_min_copies = 1;
    c
}

#[derive(Debug, Clone)]
enum Op {
    Entry { whale: u32, market: u32, outcome: u32, cents: i64, size: i64, side_sell: bool, copy: bool },
    DuplicateEntry,
    FillAll(usize),
    FillPart(usize),
    Cancel(usize),
    Exit(usize),
    Close(usize, i64),
    Price { market: u32, outcome: u32, cents: i64 },
    Advance(i64),
    NextDay,
    Halt,
    Resume,
    Kill,
    Unmute(u32),
    Timer,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u32..5, 0u32..4, 0u32..2, 1i64..100, 1i64..300, prop::bool::weighted(0.1), any::<bool>()).prop_map(
            |(whale, market, outcome, cents, size, side_sell, copy)| Op::Entry {
                whale, market, outcome, cents, size, side_sell, copy
            }
        ),
        1 => Just(Op::DuplicateEntry),
        3 => any::<usize>().prop_map(Op::FillAll),
        2 => any::<usize>().prop_map(Op::FillPart),
        1 => any::<usize>().prop_map(Op::Cancel),
        2 => any::<usize>().prop_map(Op::Exit),
        1 => (any::<usize>(), -30i64..30).prop_map(|(i, pnl)| Op::Close(i, pnl)),
        6 => (0u32..4, 0u32..2, 1i64..100).prop_map(|(market, outcome, cents)| Op::Price { market, outcome, cents }),
        2 => (0i64..120).prop_map(Op::Advance),
        1 => Just(Op::NextDay),
        1 => Just(Op::Halt),
        1 => Just(Op::Resume),
        1 => Just(Op::Kill),
        1 => (0u32..5).prop_map(Op::Unmute),
        1 => Just(Op::Timer),
    ]
}

/// What one step produced, compared between a manager and its restored copy.
#[derive(Debug, Clone, PartialEq)]
enum Output {
    Decision(Option<ReasonCode>, Option<OrderIntent>),
    Exits(Vec<ExitIntent>),
    Result(Result<(Decimal, bool), String>),
    Transition(Option<(TradingState, TradingState, ReasonCode)>),
    Whale(WhaleChange),
    Nothing,
}

#[derive(Debug, Clone)]
struct Harness {
    rm: RiskManager,
    now: Timestamp,
    next_id: u64,
    last_entry: Option<OrderIntent>,
    /// Approved orders: (id, remaining shares, limit price).
    working: Vec<(ClientOrderId, Decimal, Decimal)>,
    /// Highest trailing stop seen per long position.
    trails: HashMap<u64, Decimal>,
}

fn decision_output(d: &Decision) -> Output {
    Output::Decision(d.reason(), d.approved().map(|a| *a.order()))
}

impl Harness {
    fn new() -> Self {
        Self {
            rm: RiskManager::new(config(), T0).expect("valid"),
            now: T0,
            next_id: 1,
            last_entry: None,
            working: Vec::new(),
            trails: HashMap::new(),
        }
    }

    fn token(market: u32, outcome: u32) -> TokenId {
        TokenId(market * 2 + outcome)
    }

    fn check(&mut self, intent: &OrderIntent) -> Output {
        let snapshot_before = self.rm.snapshot();
        let whale_blocked = intent.whale.and_then(|w| self.rm.whales().blocked(w, self.now, &self.rm.config().whales));
        let decision = self.rm.check(intent, self.now);
        if intent.is_entry()
            && let Some(block) = whale_blocked
        {
            assert!(decision.approved().is_none(), "an entry from a whale {block:?} was approved");
        }
        if let Some(approved) = decision.approved() {
            let order = approved.order();
            assert!(order.size <= intent.size, "never upsized: {order:?} from {intent:?}");
            if intent.is_entry() {
                assert_eq!(self.rm.trading_state(), TradingState::Active, "entry approved outside Active");
                self.assert_caps(order, &snapshot_before);
            }
            self.working.push((order.client_order_id, order.size, order.price));
        }
        decision_output(&decision)
    }

    /// The caps hold right after an approval (equity as it was when the check ran).
    fn assert_caps(&self, order: &OrderIntent, before: &whale_trader::risk::RiskSnapshot) {
        let c = self.rm.config();
        let snap = self.rm.snapshot();
        let notional = order.size * order.price;
        assert!(notional <= c.limits.max_position_size_usd, "position size {notional}");
        assert!(snap.total_exposure_usd <= c.limits.max_total_exposure_usd, "total {}", snap.total_exposure_usd);
        let equity = before.equity.max(Decimal::ZERO);
        let total_cap = equity * c.limits.max_total_exposure_percent / dec!(100);
        assert!(snap.total_exposure_usd <= total_cap.max(before.total_exposure_usd), "total % cap");
        let market = snap.exposure_per_market.iter().find(|m| m.market == order.market).map(|m| m.exposure_usd);
        let market_before =
            before.exposure_per_market.iter().find(|m| m.market == order.market).map_or(dec!(0), |m| m.exposure_usd);
        let asset_cap = equity * c.limits.max_per_asset_exposure_percent / dec!(100);
        assert!(market.unwrap_or_default() <= asset_cap.max(market_before), "per-asset cap");
        if let Some(whale) = order.whale {
            let used = snap.exposure_per_whale.iter().find(|w| w.whale == whale).map(|w| w.allocated_today_usd);
            assert!(used.unwrap_or_default() <= c.limits.daily_whale_allocation_usd, "daily allocation");
        }
    }

    fn assert_invariants(&mut self) {
        let c = self.rm.config().limits.clone();
        let snap = self.rm.snapshot();
        assert!(snap.open_positions <= c.max_total_positions);
        for w in &snap.exposure_per_whale {
            assert!(w.positions <= c.max_positions_per_whale, "{w:?}");
        }
        for m in &snap.exposure_per_market {
            assert!(m.positions <= c.max_positions_per_market, "{m:?}");
        }
        let positions: Vec<_> = self.rm.positions().copied().collect();
        assert_eq!(positions.len() as u32, snap.open_positions);
        let exposure: Decimal = positions.iter().map(|p| p.exposure()).sum();
        assert_eq!(exposure, snap.total_exposure_usd, "aggregate exposure matches the positions");
        for p in positions {
            // A position that went flat while the rest of its entry still worked holds nothing to
            // protect: when that rest fills, the trail starts again from the new shares' price.
            if p.size.is_zero() {
                self.trails.remove(&p.id.0);
                continue;
            }
            if let Some(trail) = p.stops.trailing_stop_price {
                let previous = self.trails.insert(p.id.0, trail);
                if let Some(previous) = previous {
                    match p.side {
                        Side::Buy => assert!(trail >= previous, "long trailing stop loosened"),
                        Side::Sell => assert!(trail <= previous, "short trailing stop loosened"),
                    }
                }
            }
        }
    }

    fn step(&mut self, op: &Op) -> Vec<Output> {
        let mut out = vec![self.apply(op)];
        out.extend(self.rm.drain_events().map(|e| match e {
            RiskEvent::Transition(t) => Output::Transition(Some((t.from, t.to, t.reason))),
            RiskEvent::BreakerWarning { daily_pnl, .. } => Output::Result(Ok((daily_pnl, false))),
            RiskEvent::Whale(change) => Output::Whale(change),
        }));
        out
    }

    fn apply(&mut self, op: &Op) -> Output {
        match *op {
            Op::Entry { whale, market, outcome, cents, size, side_sell, copy } => {
                let id = self.next_id;
                self.next_id += 1;
                let side = if side_sell { Side::Sell } else { Side::Buy };
                let price = Decimal::new(cents, 2);
                let mut intent = OrderIntent::entry(
                    ClientOrderId(id),
                    MarketId(market),
                    Self::token(market, outcome),
                    side,
                    price,
                    Decimal::from(size),
                );
                intent.whale = Some(WhaleId(whale));
                if copy {
                    intent = intent.copying(WhaleId(whale), SourceTradeId(id * 7), price);
                }
                self.last_entry = Some(intent);
                self.check(&intent)
            }
            Op::DuplicateEntry => match self.last_entry {
                Some(intent) => self.check(&intent),
                None => Output::Nothing,
            },
            Op::FillAll(i) | Op::FillPart(i) => {
                if self.working.is_empty() {
                    return Output::Nothing;
                }
                let index = i % self.working.len();
                let (id, remaining, price) = self.working[index];
                let size = if matches!(op, Op::FillPart(_)) { (remaining / dec!(2)).round_dp(2) } else { remaining };
                if size <= Decimal::ZERO {
                    self.working.remove(index);
                    return Output::Nothing;
                }
                if size == remaining {
                    self.working.remove(index);
                } else {
                    self.working[index].1 = remaining - size;
                }
                let fill = Fill { client_order_id: id, price, size, fee: dec!(0.01) };
                Output::Result(
                    self.rm.on_fill(&fill, self.now).map(|o| (o.realised_pnl, o.closed)).map_err(|e| e.to_string()),
                )
            }
            Op::Cancel(i) => {
                if self.working.is_empty() {
                    return Output::Nothing;
                }
                let (id, _, _) = self.working.remove(i % self.working.len());
                Output::Result(self.rm.on_order_done(id).map(|()| (dec!(0), false)).map_err(|e| e.to_string()))
            }
            Op::Exit(i) => {
                let mut open: Vec<_> = self.rm.positions().filter(|p| p.available() > dec!(0)).copied().collect();
                if open.is_empty() {
                    return Output::Nothing;
                }
                open.sort_by_key(|p| p.id);
                let p = open[i % open.len()];
                let id = self.next_id;
                self.next_id += 1;
                let mut intent = OrderIntent::entry(
                    ClientOrderId(id),
                    p.market,
                    p.token,
                    p.side.opposite(),
                    dec!(0.50),
                    p.available(),
                );
                intent.kind = OrderKind::Exit { position: p.id, reason: ExitReason::Manual };
                self.check(&intent)
            }
            Op::Close(i, pnl) => {
                let mut open: Vec<_> = self.rm.positions().map(|p| p.id).collect();
                if open.is_empty() {
                    return Output::Nothing;
                }
                open.sort();
                let id = open[i % open.len()];
                let result = self.rm.on_close(id, Decimal::from(pnl), self.now);
                Output::Result(result.map(|o| (o.realised_pnl, o.closed)).map_err(|e| e.to_string()))
            }
            Op::Price { market, outcome, cents } => {
                Output::Exits(self.rm.on_price(Self::token(market, outcome), Decimal::new(cents, 2), self.now).to_vec())
            }
            Op::Advance(minutes) => {
                self.now = self.now.plus_millis(minutes * 60_000);
                Output::Nothing
            }
            Op::NextDay => {
                self.now = Timestamp((self.now.millis() / 86_400_000 + 1) * 86_400_000);
                Output::Transition(self.rm.roll_over(self.now).then_some((
                    TradingState::Active,
                    TradingState::Active,
                    ReasonCode::NewTradingDay,
                )))
            }
            Op::Halt => Output::Transition(self.rm.halt("test", self.now).map(|t| (t.from, t.to, t.reason))),
            Op::Resume => Output::Transition(self.rm.resume(self.now).map(|t| (t.from, t.to, t.reason))),
            Op::Kill => {
                let outcome = self.rm.kill("test", self.now);
                Output::Exits(outcome.exits)
            }
            Op::Unmute(whale) => Output::Transition(self.rm.unmute_whale(WhaleId(whale), self.now).then_some((
                TradingState::Active,
                TradingState::Active,
                ReasonCode::ManualResume,
            ))),
            Op::Timer => {
                self.rm.on_timer(self.now);
                Output::Nothing
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_sequences(ops in prop::collection::vec(op(), 1..80)) {
        let mut h = Harness::new();
        for op in &ops {
            h.step(op);
            h.assert_invariants();
        }
    }

    #[test]
    fn export_restore_gives_the_same_decisions(
        ops in prop::collection::vec(op(), 1..60),
        split in any::<prop::sample::Index>(),
    ) {
        let at = split.index(ops.len());
        let mut original = Harness::new();
        for op in &ops[..at] {
            original.step(op);
        }
        let json = serde_json::to_string(&original.rm.export()).expect("serialize");
        let saved: RiskState = serde_json::from_str(&json).expect("deserialize");
        let restored_rm = RiskManager::restore(config(), saved).expect("restore");
        prop_assert_eq!(restored_rm.export(), original.rm.export());
        let mut restored = Harness { rm: restored_rm, ..original.clone() };
        for op in &ops[at..] {
            let a = original.step(op);
            let b = restored.step(op);
            prop_assert_eq!(a, b, "after {:?}", op);
        }
    }

    #[test]
    fn no_panic_on_arbitrary_numbers(
        price in any::<i64>(), scale in 0u32..12, size in any::<i64>(), leverage in any::<i32>(), tick in any::<i64>(),
    ) {
        let mut rm = RiskManager::new(config(), T0).expect("valid");
        let p = Decimal::new(price, scale);
        let s = Decimal::new(size, scale);
        let mut intent = OrderIntent::entry(ClientOrderId(1), MarketId(1), TokenId(1), Side::Buy, p, s);
        intent.leverage = Decimal::from(leverage);
        intent.reference_price = Some(Decimal::new(tick, scale));
        let _ = rm.check(&intent, T0);
        let _ = rm.on_price(TokenId(1), p, Timestamp(tick));
        let _ = rm.on_fill(&Fill { client_order_id: ClientOrderId(1), price: p, size: s, fee: s }, Timestamp(tick));
        let _ = rm.on_price(TokenId(1), Decimal::new(tick, scale), Timestamp(tick));
        let _ = rm.snapshot();
    }
}

/// Found by the random sequences: an entry partly filled, the shares sold, the price up (the trail
/// follows it), then the rest of the entry fills lower. The new shares get a trail from their own
/// price, not the sold shares' peak (which would stop them out at once), and the invariants hold.
#[test]
fn shares_bought_after_the_position_went_flat_start_a_new_trail() {
    let ops = [
        Op::Entry { whale: 0, market: 1, outcome: 0, cents: 1, size: 50, side_sell: false, copy: false },
        Op::FillPart(0),
        Op::Exit(0),
        Op::Price { market: 1, outcome: 0, cents: 45 },
        Op::FillAll(1),
        Op::FillAll(0),
        Op::Price { market: 1, outcome: 0, cents: 2 },
    ];
    let mut h = Harness::new();
    for op in &ops {
        h.step(op);
        h.assert_invariants();
    }
    let p = h.rm.positions().next().copied().expect("the refilled position");
    assert_eq!(p.size, dec!(25));
    let trail = p.stops.trailing_stop_price.expect("a trail from the new shares' price");
    assert!(trail < dec!(0.02), "trail {trail} follows the new price, not the sold shares' 0.45");
}
