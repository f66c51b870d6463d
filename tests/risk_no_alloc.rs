//! Proves that, once warmed up, `RiskManager::check` (approve path) and `RiskManager::on_price`
//! never allocate: a counting global allocator counts allocations made by this thread while the
//! warmed manager approves entries, releases them and processes price ticks.
//!
//! One test only in this file, and the counter is per thread, so the harness cannot interfere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

mod support;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use whale_trader::clock::Timestamp;
use whale_trader::domain::{ClientOrderId, TokenId};
use whale_trader::risk::{OrderIntent, RiskConfig, RiskManager};

use support::risk::{fill_at_limit, whale_entry};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const WHALES: u64 = 500;
const MARKETS: u64 = 300;
const T0: Timestamp = Timestamp::from_secs(1_700_006_400);

fn config() -> RiskConfig {
    let mut config = RiskConfig { starting_balance_usd: dec!(1000000), ..Default::default() };
    config.limits.max_total_positions = 5000;
    config.limits.max_positions_per_whale = 50;
    config.limits.max_positions_per_market = 50;
    config.limits.max_total_exposure_usd = dec!(1000000);
    config.limits.max_total_exposure_percent = dec!(100);
    config.limits.max_per_asset_exposure_percent = dec!(100);
    config.limits.daily_whale_allocation_usd = dec!(1000000);
    config.safeguards.max_price_age_secs = 365 * 86_400;
    config
}

fn entry(id: u64, i: u64, price: Decimal) -> OrderIntent {
    let market = (i % MARKETS) as u32;
    whale_entry(id, (i % WHALES) as u32, market, market, price, dec!(10))
}

/// 1,000 filled positions over 500 whales and 300 markets.
fn warmed_manager() -> RiskManager {
    let mut building = config();
    building.safeguards.double_fire_window_minutes = 0;
    let mut rm = RiskManager::new(building, T0).expect("valid config");
    for i in 0..1000 {
        let intent = entry(i + 1, i, dec!(0.50));
        assert!(rm.check(&intent, T0).is_approved());
        fill_at_limit(&mut rm, &intent, T0);
    }
    rm.set_config(config()).expect("valid config");
    rm
}

/// One round of hot-path work: a price tick, an approved entry, its release.
fn round(rm: &mut RiskManager, i: u64, now: Timestamp) -> (usize, bool) {
    let market = (i % MARKETS) as u32;
    let price = if i.is_multiple_of(2) { dec!(0.51) } else { dec!(0.50) };
    let exits = rm.on_price(TokenId(market), price, now).len();
    let intent = entry(1_000_000 + i, i, dec!(0.50));
    let approved = rm.check(&intent, now).is_approved();
    if approved {
        rm.on_order_done(intent.client_order_id).expect("known order");
    }
    (exits, approved)
}

#[test]
fn warmed_check_and_on_price_do_not_allocate() {
    let mut rm = warmed_manager();
    // Each round moves 4 s: a market comes back every 300 rounds = 20 minutes, past the
    // 15-minute double-fire window; 30,000 rounds cross a trading-day boundary too.
    let mut now = T0;
    for i in 0..3000 {
        now = now.plus_secs(4);
        round(&mut rm, i, now);
    }

    let before = allocations();
    let mut approved = 0;
    for i in 3000..33_000 {
        now = now.plus_secs(4);
        let (exits, ok) = round(&mut rm, i, now);
        assert_eq!(exits, 0);
        approved += u64::from(ok);
    }
    let during = allocations() - before;
    assert_eq!(approved, 30_000, "every entry was approved, so the approve path was measured");
    assert_eq!(during, 0, "allocations on the warmed hot path");

    // The counter itself works: a rejection formats its detail, which allocates.
    let before = allocations();
    let duplicate = entry(1_000_000 + 32_999, 32_999, dec!(0.50));
    let duplicate = OrderIntent { client_order_id: ClientOrderId(1), ..duplicate };
    assert!(!rm.check(&duplicate, now).is_approved());
    assert!(allocations() > before, "the counting allocator sees allocations");
}
