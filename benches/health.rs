//! Costs of the health monitor's system loop.
//!
//! `cargo bench --bench health` runs the criterion benches, then measures the CPU time (not wall
//! time) of many full samples from `/proc/thread-self/schedstat` and `/proc/self/stat`, and prints
//! what that costs per minute at the default cadence (one sample per `system_interval_secs` = 60 s).
//! The bar: under 5 ms of CPU per minute.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use whale_trader::clock::Timestamp;
use whale_trader::config::HealthConfig;
use whale_trader::health::{
    SystemHistory, SystemSampler, WatchedDirectory, assess_system, process_cpu_time, read_process_figures,
    thread_cpu_time,
};

fn directories() -> Vec<WatchedDirectory> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::env::temp_dir());
    vec![WatchedDirectory::new("data", cwd.join("data")), WatchedDirectory::new("logs", std::env::temp_dir())]
}

fn bench_system_sample(c: &mut Criterion) {
    let mut sampler = match SystemSampler::new(directories()) {
        Ok(sampler) => sampler,
        Err(e) => {
            eprintln!("cannot open sysinfo: {e}");
            return;
        }
    };
    let config = HealthConfig::default();
    let mut history = SystemHistory::covering(config.report_interval_secs, config.system_interval_secs);
    let mut group = c.benchmark_group("health");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("system_sample", |b| b.iter(|| black_box(sampler.sample(Timestamp::from_secs(1)))));
    group.bench_function("system_sample_assess_record", |b| {
        b.iter(|| {
            let system = assess_system(sampler.sample(Timestamp::from_secs(1)), &config);
            history.record(&system.metrics);
            black_box(history.averages())
        })
    });
    group.bench_function("process_figures_proc_self", |b| b.iter(|| black_box(read_process_figures())));
    group.finish();
}

/// CPU time of `samples` full samples (sample + assess + history), as the system loop does them.
fn measure_cpu_per_minute(samples: u32) {
    let Ok(mut sampler) = SystemSampler::new(directories()) else {
        eprintln!("cannot open sysinfo");
        return;
    };
    let config = HealthConfig::default();
    let mut history = SystemHistory::covering(config.report_interval_secs, config.system_interval_secs);
    let (thread_before, process_before) = (thread_cpu_time(), process_cpu_time());
    for i in 0..samples {
        let system = assess_system(sampler.sample(Timestamp::from_secs(i64::from(i))), &config);
        history.record(&system.metrics);
        black_box(history.averages());
    }
    let (thread_after, process_after) = (thread_cpu_time(), process_cpu_time());
    let per_minute = |total: Duration| {
        let per_sample = total / samples;
        let samples_per_minute = 60.0 / config.system_interval_secs as f64;
        (per_sample, per_sample.mul_f64(samples_per_minute))
    };
    println!("health/cpu_per_minute: {samples} full samples, system_interval_secs = {}", config.system_interval_secs);
    if let (Some(before), Some(after)) = (thread_before, thread_after) {
        let (per_sample, minute) = per_minute(after.saturating_sub(before));
        println!("  thread CPU (schedstat, ns):  {per_sample:?} per sample -> {minute:?} per minute (bar: 5 ms)");
    }
    if let (Some(before), Some(after)) = (process_before, process_after) {
        let (per_sample, minute) = per_minute(after.saturating_sub(before));
        println!("  process CPU (stat, 10 ms ticks): {per_sample:?} per sample -> {minute:?} per minute (bar: 5 ms)");
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_system_sample(&mut criterion);
    criterion.final_summary();
    measure_cpu_per_minute(5_000);
}
