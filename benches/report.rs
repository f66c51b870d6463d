//! The report's bound: a ledger of 100,000 synthetic closed trades (50 whales, 2,000 markets, a
//! year of closes, 20 rejection reasons) to figures, all eight charts (PNG and SVG), the HTML page
//! and `report.json` in a temporary directory. The bar: under 5 s.
//!
//! `cargo bench --bench report`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use rust_decimal::Decimal;
use whale_trader::clock::Timestamp;
use whale_trader::report::{ClosedTrade, Ledger, OpenTrade, compute, write_report};

const TRADES: usize = 100_000;
/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;
const YEAR_MS: i64 = 365 * 86_400_000;

fn ledger() -> Ledger {
    // A fixed pseudo-random walk (no RNG state shared across runs): every run draws the same ledger.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut closed = Vec::with_capacity(TRADES);
    for i in 0..TRADES {
        let whale = next() % 50;
        let market = next() % 2000;
        let opened = START_MS + (i as i64) * (YEAR_MS / TRADES as i64);
        let hold = (next() % 86_400_000) as i64 + 1_000;
        let entry = Decimal::new(10 + (next() % 80) as i64, 2);
        let size = Decimal::from(10 + next() % 500);
        let pnl = Decimal::new((next() % 4001) as i64 - 1900, 2);
        let slippage = Decimal::new((next() % 50) as i64, 3);
        closed.push(ClosedTrade {
            id: format!("T{i:06}"),
            whale: format!("0x{whale:040x}"),
            whale_label: format!("whale {whale}"),
            market: format!("0x{market:064x}"),
            market_title: format!("Will synthetic event {market} happen?"),
            outcome: "Yes".into(),
            opened_at: Timestamp(opened),
            closed_at: Timestamp(opened + hold),
            entry_price: entry,
            exit_price: entry,
            size,
            notional: size * entry,
            pnl,
            slippage: Some(slippage),
            whale_pnl: Some(pnl + slippage),
            exit_reason: "whale_exit".into(),
        });
    }
    closed.sort_by(|a, b| (a.closed_at, &a.id).cmp(&(b.closed_at, &b.id)));
    let open = (0..100)
        .map(|i| OpenTrade {
            id: format!("O{i:03}"),
            whale: format!("0x{:040x}", i % 50),
            whale_label: format!("whale {}", i % 50),
            market: format!("0x{i:064x}"),
            market_title: format!("Will synthetic event {i} happen?"),
            outcome: "No".into(),
            opened_at: Timestamp(START_MS + YEAR_MS - 1000 * i),
            entry_price: Decimal::new(5, 1),
            size: Decimal::from(100),
            notional: Decimal::from(50),
        })
        .collect();
    Ledger {
        source: "bench".into(),
        starting_equity: Decimal::from(100_000),
        stop_loss_fraction: Some(Decimal::new(1, 1)),
        day_start_utc_minutes: 0,
        closed,
        open,
        rejections: (0..20).map(|i| (format!("reason_{i}"), 10 * (i + 1))).collect::<BTreeMap<_, _>>(),
        state_changes: Vec::new(),
    }
}

fn main() {
    let ledger = ledger();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = Criterion::default().configure_from_args().sample_size(10).measurement_time(Duration::from_secs(20));
    let mut group = c.benchmark_group("report");
    group.bench_function("figures_100k", |b| b.iter(|| black_box(compute(black_box(&ledger)))));
    group.bench_function("write_report_100k", |b| {
        b.iter(|| black_box(write_report(black_box(&ledger), dir.path()).expect("report written")))
    });
    group.finish();
    c.final_summary();
}
