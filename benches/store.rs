//! Store benchmarks: group-commit throughput, durability latency at 1,000 events/s, and the
//! writer's memory under a 10^6-event burst. Every database is a real file on disk (ext4 here) with
//! WAL and `synchronous=FULL`, exactly as the daemon opens it.
//!
//! Run: `cargo bench --bench store`. The latency and memory experiments print their own figures
//! first (percentiles computed here); criterion then measures the throughput.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use rust_decimal_macros::dec;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use whale_trader::clock::Timestamp;
use whale_trader::config::{FeedSource, Mode};
use whale_trader::domain::Side;
use whale_trader::domain::WhaleVerdict;
use whale_trader::store::{
    DecisionRecord, OrderKind, OrderRecord, OrderStatus, PositionRecord, PositionStatus, RiskStateRecord, SqliteStore,
    Store, StoreCommand, StoreConfig, StoreHandle, StoreWriter, WriterSettings, WriterStatsSnapshot, spawn_writer,
};

const POSITIONS: usize = 100;

type MakeCommand = fn(u64) -> StoreCommand;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime")
}

/// The defaults of `[store]` (disk keep-warm off), with the database `name` in `dir`.
fn config_in(dir: &Path, name: &str) -> StoreConfig {
    StoreConfig { path: dir.join(name), ..StoreConfig::default() }
}

/// A writer on a fresh paper database opened as the daemon opens it.
fn start(config: &StoreConfig, settings: WriterSettings) -> (StoreHandle, StoreWriter, CancellationToken) {
    let store = SqliteStore::open_for(config, Mode::Paper, FeedSource::Replay).expect("open");
    let cancel = CancellationToken::new();
    let (handle, writer) = spawn_writer(store, settings, cancel.clone()).expect("spawn writer");
    (handle, writer, cancel)
}

fn default_settings() -> WriterSettings {
    (&StoreConfig::default()).into()
}

fn decision(i: u64) -> StoreCommand {
    StoreCommand::RecordDecision(DecisionRecord {
        whale_trade_key: format!("0xabc{i:016x}:token-7:buy:125.5:0.43:{i}"),
        wallet: "0x56687bf447db6ffa42ffe2204a05edaa20f55839".into(),
        market_id: "0xcondition".into(),
        token_id: "token-7".into(),
        decision: if i.is_multiple_of(3) { WhaleVerdict::Approved } else { WhaleVerdict::Rejected },
        reason_code: "max_total_exposure".into(),
        detail: None,
        decided_at: Timestamp(1_700_000_000_000 + i as i64),
    })
}

fn high_water(i: u64) -> StoreCommand {
    StoreCommand::SetPositionHighWater {
        position_id: format!("pos-{}", i as usize % POSITIONS),
        price: rust_decimal::Decimal::new(4000 + (i % 1000) as i64, 4),
    }
}

fn risk_state(i: u64) -> StoreCommand {
    StoreCommand::SaveRiskState(RiskStateRecord {
        state_json: "{\"breaker\":{\"open\":false},\"loss_streak\":1}".into(),
        trading_state: "active".into(),
        reason: None,
        peak_equity: dec!(10250.75),
        start_of_day_equity: dec!(10000),
        daily_pnl: rust_decimal::Decimal::new(i as i64 % 5000, 2),
        breaker_trips: 0,
        loss_streak: 1,
        updated_at: Timestamp(1_700_000_000_000 + i as i64),
    })
}

/// A state-change mix: half audit inserts, and per-tick state (high-water marks, risk snapshots) that
/// the writer coalesces within a batch.
fn mixed(i: u64) -> StoreCommand {
    match i % 4 {
        0 | 2 => decision(i),
        1 => high_water(i),
        _ => risk_state(i),
    }
}

fn order_intent(i: u64) -> StoreCommand {
    StoreCommand::InsertOrder(OrderRecord {
        client_order_id: format!("wt-{i:012}"),
        venue_order_id: None,
        position_id: None,
        whale_trade_key: Some(format!("0xabc{i:016x}:token-7:buy")),
        token_id: "token-7".into(),
        side: Side::Buy,
        limit_price: dec!(0.4312),
        size: dec!(125.5),
        kind: OrderKind::Entry,
        status: OrderStatus::Pending,
        created_at: Timestamp(1_700_000_000_000 + i as i64),
        updated_at: Timestamp(1_700_000_000_000 + i as i64),
    })
}

async fn open_positions(handle: &StoreHandle) {
    for p in 0..POSITIONS {
        let position = PositionRecord {
            position_id: format!("pos-{p}"),
            whale_wallet: "0xwhale".into(),
            market_id: "0xcondition".into(),
            token_id: format!("token-{p}"),
            outcome: "Yes".into(),
            side: Side::Buy,
            size: dec!(100),
            entry_price: dec!(0.40),
            opened_at: Timestamp(1),
            status: PositionStatus::Open,
            high_water_price: None,
            exit_price: None,
            realised_pnl: None,
            closed_at: None,
            exit_reason: None,
        };
        handle.send(StoreCommand::UpsertPosition(position)).await.expect("open position");
    }
    handle.flush().await.expect("flush");
}

/// CPU seconds (user + system) used by the thread whose `/proc/self/task/<tid>` is `task` (or by the
/// whole process, for `/proc/self`), from its stat line (clock ticks of 10 ms). On a machine shared
/// with other builds, wall-clock rates drop with the share of the CPU we get; CPU time per command
/// does not.
fn cpu_secs(task: &Path) -> f64 {
    let stat = std::fs::read_to_string(task.join("stat")).unwrap_or_default();
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The `/proc` directory of the running store-writer thread.
fn writer_task() -> Option<std::path::PathBuf> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|task| std::fs::read_to_string(task.join("comm")).map(|c| c.trim() == "store-writer").unwrap_or(false))
}

/// Peak and current resident set size of this process, from /proc (kB).
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// 10^6 fire-and-forget events as fast as one producer can send them: the queue stays within its
/// capacity (senders wait) and each batch within its limit, so memory stays flat.
fn memory_under_burst() {
    const EVENTS: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    let settings = default_settings();
    let (hwm_before, rss_before) = rss_kb();
    let started = whale_trader::clock::monotonic();
    let (stats, peak_seen) = rt.block_on(async {
        let (handle, writer, cancel) = start(&config_in(dir.path(), "bench.db"), settings);
        open_positions(&handle).await;
        let mut peak_queued = 0;
        for i in 0..EVENTS {
            handle.send(decision(i)).await.expect("send");
            if i % 4096 == 0 {
                peak_queued = peak_queued.max(handle.queued());
            }
        }
        handle.flush().await.expect("flush");
        let stats = handle.stats();
        drop(handle);
        cancel.cancel();
        writer.join().await.expect("join");
        (stats, peak_queued)
    });
    let elapsed = started.elapsed();
    let (hwm_after, rss_after) = rss_kb();
    let db_bytes = std::fs::metadata(dir.path().join("bench.paper.replay.db")).map(|m| m.len()).unwrap_or(0);
    println!("== memory under a 10^6-event burst (fire-and-forget decision inserts) ==");
    println!(
        "events {EVENTS} in {:.2} s = {:.0} events/s; transactions {}; largest batch {} (limit {}); \
         deepest queue seen by the writer {} / sampled by the producer {} (capacity {})",
        elapsed.as_secs_f64(),
        EVENTS as f64 / elapsed.as_secs_f64(),
        stats.transactions,
        stats.largest_batch,
        settings.max_batch_size,
        stats.deepest_queue,
        peak_seen,
        settings.queue_capacity
    );
    println!(
        "peak RSS (VmHWM) before {hwm_before} kB, after {hwm_after} kB (+{} kB); RSS before {rss_before} kB, \
         after {rss_after} kB; database file {} MB",
        hwm_after.saturating_sub(hwm_before),
        db_bytes / 1_000_000
    );
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let pick = |q: f64| {
        let index = ((samples.len() as f64 * q).ceil() as usize).saturating_sub(1).min(samples.len() - 1);
        samples[index].as_secs_f64() * 1e6
    };
    format!(
        "samples {}: p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs, max {:.0} µs",
        samples.len(),
        pick(0.50),
        pick(0.90),
        pick(0.99),
        pick(0.999),
        pick(1.0)
    )
}

/// The floor under any durable commit: 4 KiB overwrites, each followed by `fdatasync`, on the same file
/// system, one every `pace` (back to back when zero). How long the disk has been idle matters: see
/// `src/store/sqlite/disk_warmer.rs`.
fn raw_fsync(dir: &Path, pace: Duration, count: u64) -> String {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::create(dir.join("fsync-probe")).expect("probe file");
    file.write_all_at(&[7u8; 4096 * 16], 0).and_then(|()| file.sync_all()).expect("probe");
    let mut next = whale_trader::clock::monotonic();
    let samples = (0..count)
        .map(|i| {
            file.write_all_at(&[i as u8; 4096], (i % 16) * 4096).expect("write");
            let started = whale_trader::clock::monotonic();
            file.sync_data().expect("fdatasync");
            let took = started.elapsed();
            next += pace;
            std::thread::sleep(next.saturating_duration_since(whale_trader::clock::monotonic()));
            took
        })
        .collect();
    percentiles(samples)
}

/// The SQLite backend alone (no queue, no threads): 1,024-command batches of decision inserts.
fn backend_only() {
    const BATCHES: u64 = 200;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store =
        SqliteStore::open(&dir.path().join("direct.paper.replay.db"), "paper", "replay", Duration::from_secs(5))
            .expect("open");
    let cpu_before = cpu_secs(Path::new("/proc/thread-self"));
    let started = whale_trader::clock::monotonic();
    for b in 0..BATCHES {
        let commands: Vec<StoreCommand> = (0..1024).map(|i| decision(b * 1024 + i)).collect();
        let refs: Vec<&StoreCommand> = commands.iter().collect();
        store.write_batch(&refs).expect("batch");
    }
    let elapsed = started.elapsed();
    let cpu = cpu_secs(Path::new("/proc/thread-self")) - cpu_before;
    let commands = (BATCHES * 1024) as f64;
    println!(
        "== SQLite backend alone (commands built and written on one thread, 1,024 per transaction) ==\n\
         {commands} decision inserts: {:.0} commands/s wall clock; {:.2} µs CPU per command = {:.0} commands per CPU-second",
        commands / elapsed.as_secs_f64(),
        cpu / commands * 1e6,
        commands / cpu.max(1e-9)
    );
}

const RATE: u64 = 1_000;

/// The keep-warm interval the latency runs compare against none (`[store] disk_keep_warm_micros`).
const KEEP_WARM_MICROS: u64 = 500;

/// Order intents paced at 1,000 per second, each timed from submission to its durable acknowledgement,
/// with the disk keep-warm off (the default) and on at [`KEEP_WARM_MICROS`], alternating so that both
/// see the same disk; the raw `fdatasync` floor first. `STORE_BENCH_REPEATS` (default 1) runs the
/// pair that many times.
fn durability_latency_at_1000_per_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    println!("== durability latency: order intents at {RATE}/s for 5 s, submission to durable acknowledgement ==");
    println!("floor, 4 KiB write + fdatasync back to back: {}", raw_fsync(dir.path(), Duration::ZERO, 500));
    println!(
        "floor, 4 KiB write + fdatasync once per ms:  {}",
        raw_fsync(dir.path(), Duration::from_micros(1_000_000 / RATE), 3_000)
    );
    let repeats: usize = std::env::var("STORE_BENCH_REPEATS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let runs = [("disk keep-warm off (default)", 0), ("disk keep-warm on, 500 µs", KEEP_WARM_MICROS)];
    for repeat in 0..repeats {
        for (run, (label, disk_keep_warm_micros)) in runs.into_iter().enumerate() {
            let name = format!("latency-{repeat}-{run}.db");
            let config = StoreConfig { disk_keep_warm_micros, ..config_in(dir.path(), &name) };
            let cpu_before = cpu_secs(Path::new("/proc/self"));
            let (latencies, stats) = order_intent_latencies(&config);
            let cpu = cpu_secs(Path::new("/proc/self")) - cpu_before;
            println!(
                "{label}: {}\n    {} commands in {} transactions; the whole process used {:.0} ms of CPU",
                percentiles(latencies),
                stats.commands_written,
                stats.transactions,
                cpu * 1e3
            );
        }
    }
}

/// One 5-second run on a fresh database made from `config`: the latencies and the writer's counters.
fn order_intent_latencies(config: &StoreConfig) -> (Vec<Duration>, WriterStatsSnapshot) {
    const SECONDS: u64 = 5;
    let (handle, writer, cancel) = start(config, default_settings());
    runtime().block_on(async {
        // Warm the file and the statement cache.
        for i in 0..200 {
            handle.write_durable(order_intent(10_000_000 + i)).await.expect("warm-up");
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for i in 0..SECONDS * RATE {
            ticker.tick().await;
            let sent = whale_trader::clock::monotonic();
            let receipt = handle.submit_durable(order_intent(i)).await.expect("submit");
            let tx = tx.clone();
            tokio::spawn(async move {
                receipt.durable().await.expect("durable");
                let _ = tx.send(sent.elapsed());
            });
        }
        drop(tx);
        let mut out = Vec::new();
        while let Some(latency) = rx.recv().await {
            out.push(latency);
        }
        drop(handle);
        cancel.cancel();
        (out, writer.join().await.expect("join"))
    })
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("store_writer");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    let cases: [(&str, MakeCommand); 2] = [("decision_inserts", decision), ("mixed_state_changes", mixed)];
    for (name, make) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let (handle, writer, cancel) = start(&config_in(dir.path(), "bench.db"), default_settings());
        rt.block_on(open_positions(&handle));
        let mut next = 0u64;
        let task = writer_task();
        let writer_cpu_before = task.as_deref().map_or(0.0, cpu_secs);
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let started = whale_trader::clock::monotonic();
                    for _ in 0..iters {
                        handle.send(black_box(make(next))).await.expect("send");
                        next += 1;
                    }
                    handle.flush().await.expect("flush");
                    started.elapsed()
                })
            })
        });
        let stats = handle.stats();
        let writer_cpu = task.as_deref().map_or(0.0, cpu_secs) - writer_cpu_before;
        let commands = (stats.commands_written + stats.commands_coalesced) as f64;
        println!(
            "{name}: {commands} commands in {} transactions ({} coalesced, largest batch {}); writer thread \
             {:.2} µs CPU per command = {:.0} commands per writer CPU-second",
            stats.transactions,
            stats.commands_coalesced,
            stats.largest_batch,
            writer_cpu / commands * 1e6,
            commands / writer_cpu.max(1e-9)
        );
        drop(handle);
        cancel.cancel();
        rt.block_on(writer.join()).expect("join");
    }
    group.finish();
}

/// `STORE_BENCH_ONLY=latency` runs only the latency experiment (handy when the disk is noisy and it
/// needs repeating; `STORE_BENCH_REPEATS=n` alternates its two runs n times), `STORE_BENCH_ONLY=backend` only the backend-alone throughput; anything else, or
/// nothing, runs everything.
fn main() {
    match std::env::var("STORE_BENCH_ONLY").as_deref() {
        Ok("latency") => return durability_latency_at_1000_per_second(),
        Ok("backend") => return backend_only(),
        _ => {}
    }
    backend_only();
    memory_under_burst();
    durability_latency_at_1000_per_second();
    let mut criterion = Criterion::default().configure_from_args();
    throughput(&mut criterion);
    criterion.final_summary();
}
