//! Engine benchmarks:
//!
//! 1. whale trade received → order intent, inside the engine, with 1,000 open positions: every
//!    iteration is timed on its own so that the median and the p99 can be reported (criterion gives
//!    the mean of batches, which hides the tail).
//! 2. replay throughput of the whole engine (paper executor, audit to a discarding sink) on price
//!    updates, with positions open and their stops checked on every update, from 10^4 to 10^7
//!    events generated in memory.
//! 3. the same with the store on: the daemon's engine task, fed through its queue, writing
//!    ahead to a real SQLite file (WAL, `synchronous=FULL`) through the store writer, with its
//!    periodic checkpoints; and the bundled sample session through that same path.
//!
//! Run: `cargo bench --bench engine` (figures in bench-notes/engine.md).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio_util::sync::CancellationToken;
use whale_trader::clock::{SimClock, Timestamp};
use whale_trader::config::{Config, FeedSource, Mode, WhaleConfig};
use whale_trader::domain::Side as WireSide;
use whale_trader::engine::journal::Journal;
use whale_trader::engine::{
    DiscardAuditSink, Engine, EngineSettings, ExecutionReport, Input, Outputs, PaperExecutor, Quote, SimulatedRun,
};
use whale_trader::market::{OrderBook, WhaleTrade};
use whale_trader::risk::OrderIntent;
use whale_trader::runtime::{EngineMsg, Persistence, spawn_engine_task};
use whale_trader::session::parse_line;
use whale_trader::store::{SqliteStore, StoreConfig, spawn_writer};

const START: Timestamp = Timestamp::from_secs(1_767_607_200);

fn wallet(i: usize) -> String {
    format!("0x{i:040x}")
}

fn market(i: usize) -> String {
    format!("0x{i:064x}")
}

fn token(i: usize) -> String {
    format!("{}", 10_000_000 + i)
}

/// Limits wide enough for thousands of positions, so that the benchmark measures the path, not a
/// rejection.
fn bench_config(whales: usize) -> Config {
    let mut config = Config::default();
    config.copy.whales = (0..whales).map(|i| WhaleConfig { address: wallet(i), ..WhaleConfig::default() }).collect();
    let risk = &mut config.risk;
    risk.starting_balance_usd = dec!(100000000);
    risk.limits.max_total_positions = 100_000;
    risk.limits.max_positions_per_whale = 1_000;
    risk.limits.max_positions_per_market = 1_000;
    risk.limits.max_total_exposure_usd = dec!(100000000);
    risk.limits.max_total_exposure_percent = dec!(100);
    risk.limits.max_per_asset_exposure_percent = dec!(100);
    risk.limits.daily_whale_allocation_usd = dec!(100000000);
    risk.safeguards.double_fire_window_minutes = 0;
    risk.safeguards.duplicate_memory = 1_000_000;
    risk.compliance.opposing_positions = whale_trader::risk::OpposingPolicy::Allow;
    // Entering at the ask and marking at the bid loses the spread and the fee on paper: thousands of
    // entries would trip the loss rules, which are not what this benchmark measures.
    risk.circuit_breaker.enabled = false;
    risk.daily_loss.max_daily_loss_usd = dec!(100000000);
    risk.daily_loss.max_daily_loss_percent = dec!(100);
    risk.drawdown.max_drawdown_percent = dec!(99);
    risk.drawdown.emergency_drawdown_percent = dec!(100);
    risk.drawdown.max_consecutive_losses = 0;
    config
}

fn book(market_id: &str, token_id: &str, bid: Decimal, at: Timestamp) -> OrderBook {
    let json = format!(
        r#"{{"market":"{market_id}","asset_id":"{token_id}","timestamp":"{}","hash":"0","bids":[{{"price":"{}","size":"100000"}},{{"price":"{bid}","size":"100000"}}],"asks":[{{"price":"{}","size":"100000"}},{{"price":"{}","size":"100000"}}],"min_order_size":"5","tick_size":"0.01"}}"#,
        at.millis(),
        bid - dec!(0.01),
        bid + dec!(0.02),
        bid + dec!(0.01)
    );
    OrderBook::from_json(&json).unwrap_or_else(|e| panic!("{e}"))
}

fn whale_buy(whale: usize, market_i: usize, token_i: usize, n: usize, at: Timestamp) -> WhaleTrade {
    WhaleTrade {
        transaction_hash: format!("0x{n:064x}"),
        wallet: wallet(whale),
        condition_id: market(market_i),
        asset: token(token_i),
        outcome: "Yes".into(),
        outcome_index: Some(0),
        side: WireSide::Buy,
        size: dec!(1000),
        price: dec!(0.51),
        usdc_size: None,
        timestamp: at,
        title: String::new(),
        slug: String::new(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// 1,000 positions spread over 500 whales, 300 markets and 300 tokens (paper fills), then timed
/// whale trades on the same books; each order is finished unfilled afterwards (untimed), so the
/// number of positions stays at 1,000.
fn whale_trade_to_intent(c: &mut Criterion) {
    const POSITIONS: usize = 1_000;
    const WHALES: usize = 500;
    const MARKETS: usize = 300;
    let config = Arc::new(bench_config(WHALES));
    let engine = Engine::new(config, EngineSettings::default(), Box::new(DiscardAuditSink), START)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut run = SimulatedRun::new(engine, PaperExecutor::default(), START);
    let now = START.plus_secs(1);
    for m in 0..MARKETS {
        run.feed_untimed(now, Input::Book(Box::new(book(&market(m), &token(m), dec!(0.50), now))));
    }
    for i in 0..POSITIONS {
        let trade = whale_buy(i % WHALES, i % MARKETS, i % MARKETS, i, now);
        run.feed_untimed(now, Input::WhaleTrade(Box::new(trade)));
    }
    assert_eq!(run.engine.portfolio().open_count(), POSITIONS, "setup must open {POSITIONS} positions");
    let mut engine = run.engine;
    let mut out = Outputs::new();
    let mut serial = POSITIONS;

    // One timed step: a fresh whale trade in, its order intent out. Then (untimed) the order is
    // reported finished unfilled so that positions and working orders stay at 1,000.
    let step = |engine: &mut Engine, out: &mut Outputs, serial: &mut usize| -> Duration {
        *serial += 1;
        let input = Input::WhaleTrade(Box::new(whale_buy(
            *serial % WHALES,
            *serial % MARKETS,
            *serial % MARKETS,
            *serial,
            now,
        )));
        out.clear();
        let started = whale_trader::clock::monotonic();
        engine.process(input, now, out);
        let elapsed = started.elapsed();
        let intent: Option<OrderIntent> = out.intents.first().map(|order| *order.order());
        let Some(intent) = intent else { panic!("no intent: {:?}", out.events.last()) };
        black_box(&intent);
        out.clear();
        let done = ExecutionReport {
            client_order_id: intent.client_order_id,
            filled_size: Decimal::ZERO,
            avg_price: Decimal::ZERO,
            fee: Decimal::ZERO,
            done: true,
            note: None,
            at: now,
        };
        engine.process(Input::Execution(done), now, out);
        elapsed
    };

    for _ in 0..2_000 {
        step(&mut engine, &mut out, &mut serial);
    }
    let mut samples: Vec<Duration> = (0..20_000).map(|_| step(&mut engine, &mut out, &mut serial)).collect();
    samples.sort_unstable();
    println!(
        "whale trade -> order intent, {POSITIONS} open positions, {} samples: median {:?}, p90 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples.last().copied().unwrap_or_default()
    );

    c.bench_function("whale_trade_to_intent_1000_positions", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| step(&mut engine, &mut out, &mut serial)).sum())
    });
}

/// A paper engine holding one position on each of `tokens` tokens, ready for price updates.
fn engine_with_positions(tokens: usize) -> (SimulatedRun<PaperExecutor>, Vec<whale_trader::domain::TokenId>) {
    let config = Arc::new(bench_config(1));
    let engine = Engine::new(config, EngineSettings::default(), Box::new(DiscardAuditSink), START)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut run = SimulatedRun::new(engine, PaperExecutor::default(), START);
    for t in 0..tokens {
        run.feed_untimed(START, Input::Book(Box::new(book(&market(t), &token(t), dec!(0.50), START))));
        run.feed_untimed(START, Input::WhaleTrade(Box::new(whale_buy(0, t, t, t, START))));
    }
    assert_eq!(run.engine.portfolio().open_count(), tokens);
    let ids = (0..tokens).map(|t| run.engine.token_id(&token(t))).collect();
    (run, ids)
}

/// Price updates that move inside the band where no stop fires (bid 0.49 … 0.52 against an entry
/// at 0.51: −3.9 % … +2 %, trailing give-back under 5 %), so every update runs every stop check.
fn quotes(ids: &[whale_trader::domain::TokenId], count: usize) -> Vec<(Timestamp, Input)> {
    const BIDS: [Decimal; 4] = [dec!(0.50), dec!(0.51), dec!(0.52), dec!(0.51)];
    (0..count)
        .map(|i| {
            let token = ids[i % ids.len()];
            let bid = BIDS.get((i / ids.len()) % BIDS.len()).copied().unwrap_or(dec!(0.5));
            let at = START.plus_millis(1 + i as i64 / 100);
            (at, Input::Quote(Quote { token, best_bid: Some(bid), best_ask: Some(bid + dec!(0.01)) }))
        })
        .collect()
}

fn replay_throughput(c: &mut Criterion) {
    const TOKENS: usize = 10;
    println!("replay throughput (paper executor, discarding audit sink, {TOKENS} positions, stops on every update):");
    for exp in 4..=7 {
        let count = 10usize.pow(exp);
        let (mut run, ids) = engine_with_positions(TOKENS);
        let events = quotes(&ids, count);
        let started = whale_trader::clock::monotonic();
        for (at, input) in events {
            run.feed_untimed(at, input);
        }
        let elapsed = started.elapsed();
        assert_eq!(run.engine.portfolio().open_count(), TOKENS, "no stop may fire in the band");
        println!(
            "  10^{exp} events: {:>8.3} s  {:>6.2} M events/s",
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64() / 1e6
        );
    }

    let mut group = c.benchmark_group("replay_price_updates");
    const BATCH: usize = 100_000;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.bench_function("paper_10_positions_100k_quotes", |b| {
        b.iter_batched(
            || {
                let (run, ids) = engine_with_positions(TOKENS);
                (run, quotes(&ids, BATCH))
            },
            |(mut run, events)| {
                for (at, input) in events {
                    run.feed_untimed(at, input);
                }
                run
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// The daemon's engine task with the store on: `inputs` go through the engine's queue (as the
/// replay feed sends them), the engine writes ahead through the store writer to a real SQLite file.
/// Returns the wall time from the first input sent to the last one processed, and the number of
/// transactions the writer committed.
fn through_engine_task_with_store(engine: Engine, setup: Vec<EngineMsg>, inputs: Vec<EngineMsg>) -> (Duration, u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        // Opened as the daemon opens it (defaults of `[store]`).
        let config = StoreConfig { path: dir.path().join("bench.db"), ..StoreConfig::default() };
        let store = SqliteStore::open_for(&config, Mode::Paper, FeedSource::Replay).expect("store");
        let cancel = CancellationToken::new();
        let (handle, writer) = spawn_writer(store, (&config).into(), cancel.clone()).expect("writer");
        let (events_tx, mut events_rx) = tokio::sync::mpsc::channel(4096);
        let drain = tokio::spawn(async move { while events_rx.recv().await.is_some() {} });
        let engine_stop = CancellationToken::new();
        let task = spawn_engine_task(
            engine,
            Box::new(PaperExecutor::default()),
            Arc::new(SimClock::starting_at(START)),
            4096,
            events_tx,
            Some(Persistence::new(handle.clone(), Journal::new("replay:bench"), None)),
            engine_stop.clone(),
        );
        let wait_for = |target: u64| {
            let progress = task.progress.clone();
            async move {
                while progress.load(std::sync::atomic::Ordering::Relaxed) < target {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
        };
        let setup_count = setup.len() as u64;
        for msg in setup {
            task.inputs.send(msg).await.expect("engine queue");
        }
        wait_for(setup_count).await;
        let count = inputs.len() as u64;
        let transactions_before = handle.stats().transactions;
        let started = whale_trader::clock::monotonic();
        for msg in inputs {
            task.inputs.send(msg).await.expect("engine queue");
        }
        wait_for(setup_count + count).await;
        let elapsed = started.elapsed();
        let transactions = handle.stats().transactions - transactions_before;
        engine_stop.cancel();
        task.task.await.expect("engine task").expect("engine");
        drop(handle);
        drain.await.expect("drain");
        cancel.cancel();
        writer.join().await.expect("writer");
        (elapsed, transactions)
    })
}

fn replay_with_store() {
    const TOKENS: usize = 10;
    println!(
        "replay throughput with the store on (daemon engine task, SQLite WAL synchronous=FULL, {TOKENS} positions):"
    );
    for exp in 4..=7 {
        let count = 10usize.pow(exp);
        let (run, ids) = engine_with_positions(TOKENS);
        let inputs: Vec<EngineMsg> = quotes(&ids, count)
            .into_iter()
            .enumerate()
            .map(|(i, (at, input))| EngineMsg::replayed(input, at, i as u64 + 1))
            .collect();
        let (elapsed, transactions) = through_engine_task_with_store(run.engine, Vec::new(), inputs);
        println!(
            "  10^{exp} events: {:>8.3} s  {:>6.2} M events/s  ({transactions} store transactions)",
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64() / 1e6
        );
    }

    // The bundled sample session (books, whale trades, copies, stops, a breaker trip): every order
    // waits for its write-ahead and its fill to be durable, so fsyncs dominate.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample_session.jsonl"))
        .expect("sample session");
    let events: Vec<_> = text.lines().filter_map(|l| parse_line(l).ok().flatten()).collect();
    let config: Config = toml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).expect("config"),
    )
    .expect("default config");
    let engine = Engine::new(Arc::new(config), EngineSettings::default(), Box::new(DiscardAuditSink), START)
        .unwrap_or_else(|e| panic!("{e}"));
    let inputs: Vec<EngineMsg> =
        events.into_iter().enumerate().map(|(i, e)| EngineMsg::replayed(e.input, e.at, i as u64 + 1)).collect();
    let count = inputs.len();
    let (elapsed, transactions) = through_engine_task_with_store(engine, Vec::new(), inputs);
    println!(
        "  sample session: {count} events in {:.3} s = {:.0} events/s ({transactions} store transactions)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args().measurement_time(Duration::from_secs(5));
    let only_store = std::env::args().any(|a| a == "replay_with_store");
    // `ENGINE_BENCH_ONLY=whale` runs the whale-trade latency alone (for repeats and profiling).
    if std::env::var("ENGINE_BENCH_ONLY").as_deref() == Ok("whale") {
        whale_trade_to_intent(&mut criterion);
        return criterion.final_summary();
    }
    if !only_store {
        whale_trade_to_intent(&mut criterion);
        replay_throughput(&mut criterion);
    }
    replay_with_store();
    criterion.final_summary();
}
