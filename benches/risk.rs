//! Risk manager hot paths: `check()` with 1,000 open positions over 500 whales and 300 markets, and
//! `on_price()` for a token held by 100 positions, alone and among 10,000 positions on other tokens.
//!
//! Run: `cargo bench --bench risk`. Figures and their reading: `bench-notes/risk.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use whale_trader::clock::Timestamp;
use whale_trader::domain::{ClientOrderId, MarketId, Side, TokenId, WhaleId};
use whale_trader::risk::{Fill, OrderIntent, RiskConfig, RiskManager};

const T0: Timestamp = Timestamp::from_secs(1_700_006_400);

/// Limits wide enough for the fixtures; every check still runs.
fn config() -> RiskConfig {
    let mut c = RiskConfig { starting_balance_usd: dec!(10000000), ..Default::default() };
    c.limits.max_total_positions = 20_000;
    c.limits.max_positions_per_whale = 200;
    c.limits.max_positions_per_market = 200;
    c.limits.max_total_exposure_usd = dec!(10000000);
    c.limits.max_total_exposure_percent = dec!(100);
    c.limits.max_per_asset_exposure_percent = dec!(100);
    c.limits.daily_whale_allocation_usd = dec!(10000000);
    // Prices are set once; the staleness check still runs on every call but must not fire
    // during the millions of simulated 4-second steps.
    c.safeguards.max_price_age_secs = u32::MAX;
    c
}

fn entry(id: u64, whale: u32, market: u32, token: u32) -> OrderIntent {
    let mut intent =
        OrderIntent::entry(ClientOrderId(id), MarketId(market), TokenId(token), Side::Buy, dec!(0.50), dec!(10));
    intent.whale = Some(WhaleId(whale));
    intent
}

/// Opens (approves and fills) positions given as (whale, market, token).
fn build(positions: impl Iterator<Item = (u32, u32, u32)>) -> RiskManager {
    let mut building = config();
    building.safeguards.double_fire_window_minutes = 0;
    let mut rm = RiskManager::new(building, T0).expect("valid config");
    for (i, (whale, market, token)) in positions.enumerate() {
        let intent = entry(i as u64 + 1, whale, market, token);
        assert!(rm.check(&intent, T0).is_approved(), "fixture entry {i}");
        let fill = Fill { client_order_id: intent.client_order_id, price: dec!(0.50), size: dec!(10), fee: dec!(0) };
        rm.on_fill(&fill, T0).expect("fixture fill");
    }
    rm.set_config(config()).expect("valid config");
    rm
}

fn bench_check(c: &mut Criterion) {
    // 1,000 positions: position i belongs to whale i % 500 and market (= token) i % 300.
    let base = build((0..1000u32).map(|i| (i % 500, i % 300, i % 300)));
    let mut group = c.benchmark_group("check");

    // Approve path only: each call is timed on its own (the ~20-30 ns of two clock reads are
    // included), and the reservation is released outside the timed region.
    let mut rm = base.clone();
    let mut i = 0u64;
    // The fixture's own firings at T0 are past the double-fire window an hour later.
    let mut now = T0.plus_secs(3600);
    group.bench_function("approve_1000_positions_500_whales_300_markets", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                i += 1;
                // 4 s per call: a market comes back every 300 calls = 20 min, past the 15-minute
                // double-fire window, so every call takes the full approve path.
                now = now.plus_secs(4);
                let intent = entry(10_000_000 + i, (i % 500) as u32, (i % 300) as u32, (i % 300) as u32);
                let started = whale_trader::clock::monotonic();
                let decision = rm.check(black_box(&intent), now);
                total += started.elapsed();
                assert!(decision.is_approved(), "{decision:?}");
                rm.on_order_done(intent.client_order_id).expect("known order");
            }
            total
        })
    });

    // The same, timing the approve + release pair with no per-call clock reads.
    let mut rm = base.clone();
    let mut i = 0u64;
    // The fixture's own firings at T0 are past the double-fire window an hour later.
    let mut now = T0.plus_secs(3600);
    group.bench_function("approve_and_release_1000_positions", |b| {
        b.iter(|| {
            i += 1;
            now = now.plus_secs(4);
            let intent = entry(20_000_000 + i, (i % 500) as u32, (i % 300) as u32, (i % 300) as u32);
            let approved = rm.check(black_box(&intent), now).is_approved();
            assert!(approved, "every call must take the approve path");
            rm.on_order_done(intent.client_order_id).is_ok()
        })
    });
    group.finish();
}

fn bench_on_price(c: &mut Criterion) {
    const HOT: u32 = 0;
    let mut group = c.benchmark_group("on_price");

    // 100 positions on token 0 (market 0), over 100 whales.
    let alone = build((0..100u32).map(|i| (i, HOT, HOT)));
    // The same 100, plus 10,000 on 1,000 other tokens (10 each).
    let crowded =
        build((0..100u32).map(|i| (i, HOT, HOT)).chain((0..10_000u32).map(|i| (i % 1000, 1 + i / 10, 1 + i / 10))));
    // One position: the fixed cost of a tick (equity, breaker, daily loss, drawdown).
    let single = build(std::iter::once((0, HOT, HOT)));

    for (name, base) in [("1_position", single), ("100_positions_alone", alone), ("100_positions_among_10000", crowded)]
    {
        let mut rm = base;
        // Arm every trailing stop once, then alternate between two prices that trigger nothing.
        assert!(rm.on_price(TokenId(HOT), dec!(0.51), T0).is_empty());
        let prices = [dec!(0.50), dec!(0.51)];
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let price: Decimal = prices[i & 1];
                rm.on_price(black_box(TokenId(HOT)), black_box(price), T0).len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_check, bench_on_price);
criterion_main!(benches);
