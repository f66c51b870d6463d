//! The engine's cost of handing an alert over (`AlertSender::raise`), with the dispatcher and
//! all seven network/console channels running against local endpoints that answer at once
//! ("fast") or never answer ("hanging"). Bars: p99 under 5 µs; hanging vs fast within 5%.
//!
//! Criterion measures the mean per call; a second pass times every call of a long run to get
//! the percentiles and the throughput, printed at the end.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use whale_trader::alerts::{Alert, AlertSender, AlertsBuilder, AlertsConfig, AlertsHandle, Priority, SmtpSecurity};
use whale_trader::clock::Timestamp;
use whale_trader::config::Secret;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Clone, Copy, Debug)]
enum Endpoints {
    Fast,
    Hanging,
}

impl Endpoints {
    fn label(self) -> &'static str {
        match self {
            Endpoints::Fast => "fast_endpoints",
            Endpoints::Hanging => "hanging_endpoints",
        }
    }
}

/// A running dispatcher with every channel pointed at local endpoints of one kind.
struct Scenario {
    runtime: tokio::runtime::Runtime,
    alerts: Option<AlertsHandle>,
    sender: AlertSender,
    shutdown: CancellationToken,
    _servers: Vec<MockServer>,
    _dir: tempfile::TempDir,
}

/// A minimal SMTP peer: answers every command at once, or (hanging) accepts and stays silent.
async fn smtp_peer(listener: TcpListener, hanging: bool) {
    let mut parked = Vec::new();
    while let Ok((stream, _)) = listener.accept().await {
        if hanging {
            parked.push(stream);
            continue;
        }
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 bench ESMTP\r\n").await;
            let mut in_data = false;
            while let Ok(Some(line)) = lines.next_line().await {
                let reply: &[u8] = if in_data {
                    if line != "." {
                        continue;
                    }
                    in_data = false;
                    b"250 queued\r\n"
                } else {
                    match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                        Some("DATA") => {
                            in_data = true;
                            b"354 go ahead\r\n"
                        }
                        Some("QUIT") => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 OK\r\n",
                    }
                };
                if write.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn config(endpoints: &[String], smtp_port: u16) -> AlertsConfig {
    let mut config = AlertsConfig::default();
    // Everything reaches every channel (a throttle this high never bites within a run; its
    // sliding window is bounded by the one-minute window), and no console or disk noise.
    config.throttle.max_alerts_per_window = 1_000_000;
    config.throttle.window_minutes = 1;
    config.console.enabled = false;
    config.file.enabled = false;
    config.delivery.attempt_timeout_secs = 1;
    config.delivery.max_retries = 1;
    config.delivery.initial_backoff_ms = 10;
    config.delivery.max_backoff_ms = 10;
    config.delivery.drain_timeout_secs = 0;
    for channel in [&mut config.slack, &mut config.discord] {
        channel.enabled = true;
        channel.min_priority = Priority::Info;
        channel.min_interval_ms = 0;
    }
    config.slack.webhook_url = Secret::new(format!("{}/slack", endpoints[0]));
    config.discord.webhook_url = Secret::new(format!("{}/discord", endpoints[1]));
    config.webhook.enabled = true;
    config.webhook.min_priority = Priority::Info;
    config.webhook.url = Secret::new(format!("{}/hook", endpoints[2]));
    config.sms.enabled = true;
    config.sms.min_priority = Priority::Info;
    config.sms.api_base = endpoints[3].clone();
    config.sms.account_sid = Secret::new("AC1");
    config.sms.auth_token = Secret::new("token");
    config.sms.from = "+15550000000".into();
    config.sms.to = vec!["+15551111111".into()];
    config.telegram.enabled = true;
    config.telegram.min_priority = Priority::Info;
    config.telegram.api_base = endpoints[4].clone();
    config.telegram.bot_token = Secret::new("1:x");
    config.telegram.chat_id = Secret::new("1");
    config.telegram.per_chat_interval_ms = 0;
    config.email.enabled = true;
    config.email.min_priority = Priority::Info;
    config.email.smtp_host = "127.0.0.1".into();
    config.email.smtp_port = smtp_port;
    config.email.security = SmtpSecurity::Plain;
    config.email.from = "bench@whale.test".into();
    config.email.to = vec!["owner@whale.test".into()];
    config
}

impl Scenario {
    fn start(endpoints: Endpoints) -> Self {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let (servers, alerts, shutdown) = runtime.block_on(async {
            let mut servers = Vec::new();
            for _ in 0..5 {
                let server = MockServer::start().await;
                let response = match endpoints {
                    Endpoints::Fast => ResponseTemplate::new(200).set_body_string(r#"{"ok":true}"#),
                    Endpoints::Hanging => ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)),
                };
                Mock::given(any()).respond_with(response).mount(&server).await;
                servers.push(server);
            }
            let smtp = TcpListener::bind("127.0.0.1:0").await.expect("smtp listener");
            let smtp_port = smtp.local_addr().expect("smtp addr").port();
            tokio::spawn(smtp_peer(smtp, matches!(endpoints, Endpoints::Hanging)));
            let uris: Vec<String> = servers.iter().map(MockServer::uri).collect();
            let shutdown = CancellationToken::new();
            let alerts =
                AlertsBuilder::new(config(&uris, smtp_port), dir.path()).spawn(shutdown.clone()).expect("alerts start");
            (servers, alerts, shutdown)
        });
        let sender = alerts.sender();
        Self { runtime, alerts: Some(alerts), sender, shutdown, _servers: servers, _dir: dir }
    }

    fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(alerts) = self.alerts.take() {
            self.runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(10), alerts.join()).await;
            });
        }
    }
}

/// No dedup key, so that no alert is merged away: every one is fanned out to every channel.
fn alert(i: u64) -> Alert {
    Alert::new(
        Priority::Warning,
        "Trade Rejected",
        "Copy rejected: max_total_positions",
        Timestamp::from_millis(i as i64),
    )
    .with_whale("0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee")
    .with_market("will-it-rain")
    .with_context("Positions", "10/10")
}

/// Spins for `gap`: the engine's own work between two alerts.
fn engine_work(gap: Duration) {
    let start = whale_trader::clock::monotonic();
    while start.elapsed() < gap {
        std::hint::spin_loop();
    }
}

/// The same loop timing nothing: the machine's own jitter (preemption, timer reads).
fn noise_floor(calls: usize, gap: Duration) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls {
        let t = whale_trader::clock::monotonic();
        black_box(i);
        samples.push(t.elapsed());
        engine_work(gap);
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.99), at(0.999))
}

/// Times every `raise` of a long run: (p50, p99, p99.9, mean, loop iterations per second).
fn percentiles(sender: &AlertSender, calls: usize, gap: Duration) -> (Duration, Duration, Duration, Duration, f64) {
    let alerts: Vec<Alert> = (0..calls as u64).map(alert).collect();
    let mut samples = Vec::with_capacity(calls);
    let started = whale_trader::clock::monotonic();
    for a in alerts {
        let t = whale_trader::clock::monotonic();
        black_box(sender.raise(a));
        samples.push(t.elapsed());
        engine_work(gap);
    }
    let total = started.elapsed();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    (at(0.50), at(0.99), at(0.999), mean, calls as f64 / total.as_secs_f64())
}

/// Alerts per timed run, and the engine work between two of them (20,000 alerts/s: far above any
/// real alert rate, so that every channel stays busy or stuck for the whole run).
const CALLS: usize = 100_000;
const GAP: Duration = Duration::from_micros(50);

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let mut report = Vec::new();
    for endpoints in [Endpoints::Fast, Endpoints::Hanging] {
        let scenario = Scenario::start(endpoints);
        // Let the channels reach their steady state (hanging: every worker stuck in a request).
        std::thread::sleep(Duration::from_millis(500));
        let mut group = criterion.benchmark_group("alerts_raise");
        group.bench_function(endpoints.label(), |b| {
            let mut i = 0;
            b.iter_batched(
                || {
                    i += 1;
                    alert(i)
                },
                |a| scenario.sender.raise(a),
                BatchSize::SmallInput,
            )
        });
        group.finish();
        for run in 0..3 {
            let (p50, p99, p999, mean, rate) = percentiles(&scenario.sender, CALLS, GAP);
            report.push(format!(
                "{:<18} run {run}: p50 {:>6.0} ns  p99 {:>6.0} ns  p99.9 {:>7.0} ns  mean {:>6.0} ns  {:>9.0} loops/s",
                endpoints.label(),
                p50.as_nanos() as f64,
                p99.as_nanos() as f64,
                p999.as_nanos() as f64,
                mean.as_nanos() as f64,
                rate
            ));
        }
        let counters = scenario.alerts.as_ref().map(AlertsHandle::counters).unwrap_or_default();
        let delivered: u64 = counters.channels.values().map(|c| c.delivered).sum();
        let queued: u64 = counters.channels.values().map(|c| c.queued).sum();
        let dropped: u64 = counters.channels.values().map(|c| c.dropped).sum();
        report.push(format!(
            "{:<18} raised {} dropped_at_handoff {} | channels: queued {queued} delivered {delivered} dropped {dropped}",
            endpoints.label(),
            counters.raised,
            counters.dropped_at_handoff
        ));
        scenario.stop();
    }
    criterion.final_summary();
    let (floor_p99, floor_p999) = noise_floor(CALLS, GAP);
    report.push(format!(
        "{:<18}       : p99 {:>6.0} ns  p99.9 {:>7.0} ns  (the timing loop around nothing)",
        "noise_floor",
        floor_p99.as_nanos() as f64,
        floor_p999.as_nanos() as f64
    ));
    println!("\nraise() per call, every call timed, {} µs of engine work between calls:", GAP.as_micros());
    for line in report {
        println!("{line}");
    }
}
