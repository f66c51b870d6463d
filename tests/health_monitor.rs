//! Scenario tests of the health monitor: the real sampler and loops, paused tokio time, and a
//! clock that follows tokio's so freshness checks and loops agree.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rust_decimal_macros::dec;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use whale_trader::clock::{Clock, Timestamp};
use whale_trader::config::HealthConfig;
use whale_trader::health::{
    ComponentHealth, FreshnessRule, HealthAction, HealthMonitor, HealthReport, HealthStatus, LOG_TARGET,
    ProgressTracker, SystemSampler, WatchedDirectory, assess_system, progress_check, thread_cpu_time,
};

/// Wall time for the daemon is `SystemClock`; here "now" advances with tokio's paused clock.
struct TokioClock {
    base: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    fn new() -> Arc<Self> {
        Arc::new(Self { base: Timestamp::from_secs(1_800_000_000), start: tokio::time::Instant::now() })
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.base.plus_millis(i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX))
    }
}

/// Collects the JSON log lines written on this thread.
#[derive(Clone, Default)]
struct LogLines(Arc<Mutex<Vec<u8>>>);

impl Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogLines {
    fn events(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }
}

/// The JSON log lines of every test in this binary. A global subscriber, because tracing caches
/// per-callsite interest across threads: with a thread-local one, an event first hit by another
/// test's thread (without a subscriber) can be lost here.
fn captured_logs() -> LogLines {
    static LOGS: OnceLock<LogLines> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogLines::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    })
    .clone()
}

/// Short loops, and disk thresholds no real disk reaches, so that how full the test machine's disk
/// is cannot start a hold by itself.
fn short_intervals() -> HealthConfig {
    HealthConfig {
        system_interval_secs: 5,
        component_interval_secs: 2,
        report_interval_secs: 10,
        component_timeout_secs: 1,
        disk_warning_percent: dec!(99.98),
        disk_critical_percent: dec!(99.99),
        ..HealthConfig::default()
    }
}

async fn wait_for_report(
    reports: &mut watch::Receiver<Arc<HealthReport>>,
    what: &str,
    ok: impl FnMut(&Arc<HealthReport>) -> bool,
) -> Arc<HealthReport> {
    // Paused time advances on its own while everything waits, so 600 s is simulated, not real.
    let found = match tokio::time::timeout(Duration::from_secs(600), reports.wait_for(ok)).await {
        Ok(Ok(report)) => Some(report.clone()),
        Ok(Err(_)) => panic!("the monitor stopped before {what}"),
        Err(_) => None,
    };
    found.unwrap_or_else(|| panic!("no report with {what} within 600 simulated seconds: {:?}", reports.borrow()))
}

async fn next_action(actions: &mut watch::Receiver<Option<HealthAction>>, what: &str) -> HealthAction {
    match tokio::time::timeout(Duration::from_secs(600), actions.changed()).await {
        Ok(Ok(())) => actions.borrow_and_update().clone().unwrap_or_else(|| panic!("{what}: an empty action")),
        Ok(Err(_)) => panic!("the monitor stopped before {what}"),
        Err(_) => panic!("no {what} within 600 simulated seconds"),
    }
}

#[tokio::test(start_paused = true)]
async fn components_time_out_go_critical_hold_trading_and_release_it() {
    let logs = captured_logs();

    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let clock = TokioClock::new();
    let monitor =
        HealthMonitor::new(short_intervals(), vec![WatchedDirectory::new("data", data.path())], clock.clone());

    // store: healthy and quick; venue: hangs past the 1 s timeout; engine: must progress within 3 s.
    let registry = monitor.registry().clone();
    let registered = [
        registry.register("store", || async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ComponentHealth::healthy("round trip ok").with_metric("rows", dec!(12))
        }),
        registry.register("venue", || async {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            ComponentHealth::healthy("never answered in time")
        }),
    ];
    assert!(registered.iter().all(Result::is_ok), "{registered:?}");
    let engine = ProgressTracker::new(clock.now());
    let rule = FreshnessRule::within(Duration::from_secs(3), HealthStatus::Critical).unwrap_or_else(|e| panic!("{e}"));
    let engine_check = progress_check(engine.clone(), "engine loop progress", rule, clock.clone());
    assert!(registry.register("engine", engine_check).is_ok());

    // The "engine loop" marks progress every 500 ms while it is alive.
    let alive = Arc::new(AtomicBool::new(true));
    let engine_loop = {
        let (alive, engine, clock) = (alive.clone(), engine.clone(), clock.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if alive.load(Ordering::Relaxed) {
                    engine.mark(clock.now());
                }
            }
        })
    };

    let mut reports = monitor.reports();
    let mut actions = monitor.actions();
    assert_eq!(reports.borrow().overall_status, HealthStatus::Degraded, "no sample yet is not healthy");
    let cancel = CancellationToken::new();
    let task = monitor.spawn(cancel.clone()).unwrap_or_else(|e| panic!("spawn: {e}"));

    // First full picture: a system sample and one component round.
    let report = wait_for_report(&mut reports, "a system sample and 3 components", |r| {
        r.system.is_some() && r.components_total == 3
    })
    .await;
    let venue = &report.components["venue"];
    assert_eq!(venue.status, HealthStatus::Unhealthy);
    assert_eq!(venue.message, "the health check did not answer within 1000 ms");
    assert!(venue.latency_ms >= dec!(1000), "latency {}", venue.latency_ms);
    let store = &report.components["store"];
    assert_eq!(store.status, HealthStatus::Healthy);
    assert!(store.latency_ms >= dec!(20) && store.latency_ms < dec!(1000), "latency {}", store.latency_ms);
    assert_eq!(store.metrics.get("rows").copied(), Some(dec!(12)));
    assert_eq!(report.components["engine"].status, HealthStatus::Healthy);
    assert_eq!((report.components_healthy, report.components_total), (2, 3));
    assert!(report.overall_status >= HealthStatus::Unhealthy);
    assert!(report.problems.iter().any(|p| p.starts_with("component venue is unhealthy")), "{:?}", report.problems);
    let system = report.system.as_ref().map(|s| s.metrics.clone());
    assert!(system.as_ref().is_some_and(|m| m.memory.total_bytes > 0 && m.disks.len() == 1));
    assert!(system.is_some_and(|m| m.disks.iter().all(|d| d.usage.is_some())));
    assert_eq!(*actions.borrow(), None, "an unhealthy component does not hold trading");

    // The engine wedges: once its progress is older than 3 s it is critical and trading is held.
    alive.store(false, Ordering::Relaxed);
    let hold = next_action(&mut actions, "the hold").await;
    assert!(hold.holds());
    assert!(hold.reason().starts_with("component engine is critical: no engine loop progress for"), "{hold:?}");
    let report = reports.borrow().clone();
    assert_eq!(report.overall_status, HealthStatus::Critical);
    assert_eq!(report.trading_hold.as_ref().map(|h| h.reason.as_str()), Some(hold.reason()));

    // It recovers: the hold is released (once), after the causes stayed clear for a system interval.
    let recovered_at = clock.now();
    alive.store(true, Ordering::Relaxed);
    let release = next_action(&mut actions, "the release").await;
    assert!(!release.holds());
    assert!(release.reason().contains("engine loop progress"), "{release:?}");
    let HealthAction::Release { at, .. } = &release else { panic!("not a release: {release:?}") };
    assert!(at.millis_since(recovered_at) >= 5_000, "released {} ms after recovery", at.millis_since(recovered_at));
    assert_eq!(reports.borrow().trading_hold, None);

    // Nothing more to say while all stays as it is: no repeated actions.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!actions.has_changed().unwrap_or(true), "an action without a change: {:?}", actions.borrow());

    // The report loop wrote the report as one JSON event on the health target.
    let events = logs.events();
    let report_events: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["target"] == LOG_TARGET && e["fields"]["message"] == "health report").collect();
    // (Other tests of this binary log too: keep the reports of this one, the one with 3 components.)
    let logged: Vec<HealthReport> = report_events
        .iter()
        .filter_map(|e| e["fields"]["report"].as_str())
        .map(|json| serde_json::from_str(json).unwrap_or_else(|e| panic!("report JSON: {e}: {json}")))
        .filter(|report: &HealthReport| report.components_total == 3)
        .collect();
    assert!(logged.len() >= 3, "report events of this test: {}", logged.len());
    assert!(logged.iter().all(|r| r.system_averages.as_ref().is_some_and(|a| a.samples >= 1)));
    assert!(events.iter().any(|e| e["fields"]["message"] == "health holds trading in reducing"
        && e["fields"]["reason"].as_str().is_some_and(|r| r.starts_with("component engine is critical"))));

    cancel.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(5), task).await;
    assert!(matches!(stopped, Ok(Ok(()))), "the monitor did not stop on cancel: {stopped:?}");
    engine_loop.abort();
}

#[tokio::test(start_paused = true)]
async fn a_nearly_full_data_directory_holds_trading_and_a_reload_releases_it() {
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    // Any real disk is above 0.01% used: the thresholds make it count as nearly full.
    let config = HealthConfig { disk_warning_percent: dec!(0), disk_critical_percent: dec!(0.01), ..short_intervals() };
    let (reload, config_updates) = watch::channel(config.clone());
    let monitor = HealthMonitor::new(
        config,
        vec![WatchedDirectory::new("data", data.path()), WatchedDirectory::new("logs", logs.path())],
        TokioClock::new(),
    )
    .with_config_updates(config_updates);
    let mut actions = monitor.actions();
    let reports = monitor.reports();
    let cancel = CancellationToken::new();
    let task = monitor.spawn(cancel.clone()).unwrap_or_else(|e| panic!("spawn: {e}"));

    let hold = next_action(&mut actions, "the disk hold").await;
    let expected = format!("disk nearly full: data directory {} is on ", data.path().display());
    assert!(hold.holds(), "{hold:?}");
    assert!(hold.reason().starts_with(&expected), "{hold:?}");
    assert!(hold.reason().contains(&format!("logs directory {}", logs.path().display())), "{hold:?}");
    let report = reports.borrow().clone();
    assert_eq!(report.overall_status, HealthStatus::Critical);
    assert_eq!(report.system.as_ref().map(|s| s.disk_status), Some(HealthStatus::Critical));

    // A reloaded config whose thresholds this disk does not reach releases the hold.
    assert!(reload.send(short_intervals()).is_ok());
    let release = next_action(&mut actions, "the release after the reload").await;
    assert!(!release.holds(), "{release:?}");
    assert!(release.reason().contains("disk nearly full"), "{release:?}");
    assert_eq!(reports.borrow().system.as_ref().map(|s| s.disk_status), Some(HealthStatus::Healthy));

    cancel.cancel();
    assert!(matches!(tokio::time::timeout(Duration::from_secs(5), task).await, Ok(Ok(()))));
}

/// The bar is "under 5 ms of CPU per minute"; at the default cadence the system loop samples once a
/// minute. Measured here on the test thread in a debug build (slower than the daemon's release build;
/// the release figure is in `bench-notes/health.md`).
#[test]
fn one_system_sample_costs_less_than_5_ms_of_cpu() {
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut sampler =
        SystemSampler::new(vec![WatchedDirectory::new("data", data.path())]).unwrap_or_else(|e| panic!("sampler: {e}"));
    let config = HealthConfig::default();
    let _warm_up = sampler.sample(Timestamp::from_secs(0));
    let samples: u32 = 50;
    let Some(before) = thread_cpu_time() else { return }; // not Linux: nothing to measure with
    for i in 0..samples {
        let system = assess_system(sampler.sample(Timestamp::from_secs(i64::from(i))), &config);
        assert_eq!(system.metrics.disks.len(), 1);
    }
    let after = thread_cpu_time().unwrap_or(before);
    let per_sample = after.saturating_sub(before) / samples;
    let per_minute = per_sample.mul_f64(60.0 / config.system_interval_secs as f64);
    println!("one system sample: {per_sample:?} of CPU; {per_minute:?} per minute at the default cadence");
    assert!(per_minute < Duration::from_millis(5), "sampling costs {per_minute:?} of CPU per minute");
}

#[tokio::test(start_paused = true)]
async fn a_hold_restored_from_the_store_is_released_by_the_first_check_with_a_system_sample() {
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let monitor =
        HealthMonitor::new(short_intervals(), vec![WatchedDirectory::new("data", data.path())], TokioClock::new())
            .with_restored_hold("trading was held by health when the daemon last stopped");
    assert!(monitor.registry().register("store", || async { ComponentHealth::healthy("ok") }).is_ok());
    let mut actions = monitor.actions();
    let mut reports = monitor.reports();
    let cancel = CancellationToken::new();
    let task = monitor.spawn(cancel.clone()).unwrap_or_else(|e| panic!("spawn: {e}"));

    // The component round comes first (at once); without disk figures the hold is not judged yet.
    let report = wait_for_report(&mut reports, "a component round", |r| r.components_total == 1).await;
    if report.system.is_none() {
        assert!(report.trading_hold.is_some(), "released before the disks were measured: {report:?}");
    }
    let release = next_action(&mut actions, "the release of the restored hold").await;
    assert!(!release.holds(), "{release:?}");
    assert!(release.reason().contains("held by health when the daemon last stopped"), "{release:?}");
    let report = reports.borrow().clone();
    assert!(report.system.is_some(), "judged without a system sample");
    assert_eq!(report.trading_hold, None);
    // Released by that first sample (1 s after start), not after a further clear period (5 s).
    let HealthAction::Release { at, .. } = &release else { panic!("not a release: {release:?}") };
    assert!(
        at.millis_since(report.started_at) < 2_000,
        "released {} ms after start",
        at.millis_since(report.started_at)
    );

    cancel.cancel();
    assert!(matches!(tokio::time::timeout(Duration::from_secs(5), task).await, Ok(Ok(()))));
}
