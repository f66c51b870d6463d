//! Delivery against real peers on 127.0.0.1: a real SMTP server (aiosmtpd) for email, and local
//! HTTP servers (wiremock) for Slack, Discord, the generic webhook, Twilio, Telegram and the
//! heartbeat. The servers check exact bodies, headers and auth, and answer 429 / 500 / hang to
//! prove retries, rate limits, dead-lettering and isolation.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use whale_trader::alerts::{
    Alert, AlertsBuilder, AlertsConfig, AlertsHandle, ChannelCountersSnapshot, DeliveryConfig, Priority, RiskFigures,
    SmtpSecurity,
};
use whale_trader::clock::Timestamp;
use whale_trader::config::Secret;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

// ---- helpers ------------------------------------------------------------------------------

/// Answers with the scripted responses in turn (the last one repeats) and records each request
/// with the instant it arrived.
#[derive(Clone, Default)]
struct Script {
    responses: Arc<Vec<ResponseTemplate>>,
    calls: Arc<Mutex<Vec<(Instant, Request)>>>,
}

impl Script {
    fn new(responses: Vec<ResponseTemplate>) -> Self {
        Self { responses: Arc::new(responses), calls: Arc::default() }
    }

    fn calls(&self) -> Vec<(Instant, Request)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut calls = self.calls.lock().expect("calls lock");
        calls.push((whale_trader::clock::monotonic(), request.clone()));
        let i = (calls.len() - 1).min(self.responses.len() - 1);
        self.responses[i].clone()
    }
}

async fn server_with(script: &Script) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(script.clone()).mount(&server).await;
    server
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
}

/// A config with only the channels a test enables, and fast retries.
fn base_config() -> AlertsConfig {
    let mut config = AlertsConfig::default();
    config.console.enabled = false;
    config.file.enabled = false;
    config.delivery = DeliveryConfig {
        max_retries: 3,
        initial_backoff_ms: 20,
        max_backoff_ms: 100,
        attempt_timeout_secs: 2,
        channel_queue_capacity: 64,
        drain_timeout_secs: 1,
    };
    config
}

fn start(config: AlertsConfig, dir: &Path) -> (AlertsHandle, CancellationToken) {
    let shutdown = CancellationToken::new();
    let alerts = AlertsBuilder::new(config, dir).spawn(shutdown.clone()).expect("alerts start");
    (alerts, shutdown)
}

async fn stop(alerts: AlertsHandle, shutdown: CancellationToken) {
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), alerts.join()).await.expect("alerts drain in time");
}

/// Polls `done` every 20 ms for at most `limit`.
async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = whale_trader::clock::monotonic();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

fn channel(alerts: &AlertsHandle, name: &str) -> ChannelCountersSnapshot {
    alerts.counters().channels.get(name).copied().unwrap_or_default()
}

/// The seed's breaker trip, at 2025-11-02 15:30:45 UTC.
fn breaker() -> Alert {
    let metrics = RiskFigures {
        daily_pnl_usd: dec!(-523.45),
        drawdown_percent: dec!(12.3),
        open_positions: 8,
        max_positions: 10,
    };
    Alert::circuit_breaker_tripped("Loss threshold exceeded", metrics, Timestamp::from_millis(1_762_097_445_000))
}

fn header(request: &Request, name: &str) -> String {
    request.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

// ---- Slack, Discord, webhook --------------------------------------------------------------

#[tokio::test]
async fn slack_gets_the_seed_attachment_and_honours_retry_after() {
    let script = Script::new(vec![ResponseTemplate::new(429).insert_header("Retry-After", "1"), ok()]);
    let server = server_with(&script).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config();
    config.slack.enabled = true;
    config.slack.min_interval_ms = 0;
    config.slack.webhook_url = Secret::new(format!("{}/services/T000/B000/XXXX", server.uri()));
    let (alerts, shutdown) = start(config, dir.path());

    alerts.sender().raise(breaker());
    assert!(wait_until(Duration::from_secs(10), || channel(&alerts, "slack").delivered == 1).await);
    let calls = script.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls[1].0 - calls[0].0 >= Duration::from_millis(950), "Retry-After: 1 was not honoured");
    let request = &calls[1].1;
    assert_eq!(request.url.path(), "/services/T000/B000/XXXX");
    assert_eq!(header(request, "content-type"), "application/json");
    let body: Value = request.body_json().expect("json body");
    assert_eq!(
        body,
        json!({"attachments": [{
            "color": "#ff0000",
            "title": "CRITICAL: Circuit Breaker Tripped",
            "text": "Loss threshold exceeded",
            "fields": [
                {"title": "Daily P&L", "value": "-$523.45", "short": true},
                {"title": "Drawdown", "value": "12.3%", "short": true},
                {"title": "Positions", "value": "8/10", "short": true}
            ],
            "ts": 1_762_097_445
        }]})
    );
    assert_eq!(channel(&alerts, "slack").retried, 1);
    stop(alerts, shutdown).await;
}

#[tokio::test]
async fn discord_gets_an_embed_and_a_hanging_discord_never_delays_slack() {
    let hanging = Script::new(vec![ok().set_delay(Duration::from_secs(30))]);
    let discord = server_with(&hanging).await;
    let fast = Script::new(vec![ok()]);
    let slack = server_with(&fast).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config();
    config.discord.enabled = true;
    config.discord.min_interval_ms = 0;
    config.discord.webhook_url = Secret::new(format!("{}/api/webhooks/1/abc", discord.uri()));
    config.slack.enabled = true;
    config.slack.min_interval_ms = 0;
    config.slack.webhook_url = Secret::new(format!("{}/hook", slack.uri()));
    let (alerts, shutdown) = start(config, dir.path());

    let started = whale_trader::clock::monotonic();
    alerts.sender().raise(breaker());
    // Slack is delivered while Discord's request still hangs (30 s): the bound is far below the
    // hang, so a loaded machine cannot make this fail, and a Slack that waited for Discord would.
    assert!(wait_until(Duration::from_secs(10), || channel(&alerts, "slack").delivered == 1).await);
    assert!(started.elapsed() < Duration::from_secs(10), "slack waited for discord: {:?}", started.elapsed());
    assert_eq!(channel(&alerts, "discord").delivered, 0, "discord is still hanging");

    // The embed itself, as Discord received it (the server hangs only after reading it).
    assert!(wait_until(Duration::from_secs(5), || !hanging.calls().is_empty()).await);
    let body: Value = hanging.calls()[0].1.body_json().expect("json body");
    assert_eq!(
        body,
        json!({"embeds": [{
            "title": "CRITICAL: Circuit Breaker Tripped",
            "description": "Loss threshold exceeded",
            "color": 10_038_562,
            "fields": [
                {"name": "Daily P&L", "value": "-$523.45", "inline": true},
                {"name": "Drawdown", "value": "12.3%", "inline": true},
                {"name": "Positions", "value": "8/10", "inline": true}
            ],
            "footer": {"text": "whale-trader"},
            "timestamp": "2025-11-02T15:30:45.000Z"
        }]})
    );
    // Shutdown gives Discord the drain deadline, then dead-letters what it could not deliver.
    assert_eq!(channel(&alerts, "slack").dead_lettered, 0);
    stop(alerts, shutdown).await;
    let dead = std::fs::read_to_string(dir.path().join("alerts-dead-letter.jsonl")).expect("dead-letter file");
    let line: Value = serde_json::from_str(dead.lines().next().unwrap_or_default()).expect("json line");
    assert_eq!(line["channel"], "discord");
    assert_eq!(line["alert"]["title"], "Circuit Breaker Tripped");
}

#[tokio::test]
async fn webhook_sends_json_with_secrets_retries_500_and_dead_letters_in_the_end() {
    let script = Script::new(vec![ResponseTemplate::new(500), ResponseTemplate::new(503), ok()]);
    let server = server_with(&script).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config();
    config.webhook.enabled = true;
    config.webhook.url = Secret::new(format!("{}/alerts", server.uri()));
    config.webhook.bearer_token = Secret::new("bearer-123");
    config.webhook.header_name = "X-Webhook-Secret".into();
    config.webhook.header_value = Secret::new("shh");
    let (alerts, shutdown) = start(config, dir.path());

    let alert = Alert::trade_rejected("0xwhale", "market-7", "max_total_exposure", Timestamp::from_millis(0));
    alerts.sender().raise(alert);
    assert!(wait_until(Duration::from_secs(10), || channel(&alerts, "webhook").delivered == 1).await);
    assert_eq!(channel(&alerts, "webhook").retried, 2);
    let calls = script.calls();
    assert_eq!(calls.len(), 3);
    let request = &calls[2].1;
    assert_eq!(header(request, "authorization"), "Bearer bearer-123");
    assert_eq!(header(request, "x-webhook-secret"), "shh");
    let body: Value = request.body_json().expect("json body");
    assert_eq!(
        body,
        json!({
            "at": "1970-01-01T00:00:00.000Z",
            "priority": "warning",
            "title": "Trade Rejected",
            "message": "Copy of 0xwhale on market-7 rejected: max_total_exposure",
            "context": [{"key": "Reason", "value": "max_total_exposure"}],
            "dedup_key": "trade_rejected:max_total_exposure:0xwhale",
            "labels": {"kind": "trade_rejected", "whale": "0xwhale", "market": "market-7", "reason": "max_total_exposure"},
            "resolves": false,
            "notice": "single",
            "count": 1
        })
    );
    stop(alerts, shutdown).await;
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_dead_lettered_and_counted() {
    let script = Script::new(vec![ResponseTemplate::new(500).set_body_string("down")]);
    let server = server_with(&script).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config();
    config.webhook.enabled = true;
    config.webhook.url = Secret::new(format!("{}/alerts", server.uri()));
    let (alerts, shutdown) = start(config, dir.path());

    alerts.sender().raise(Alert::task_failed("price_feed", "connection reset", Timestamp::from_millis(0)));
    // The worker counts a dead letter only once its line is in the file (see
    // `alerts::dead_letter`'s unit test), and the server records each request before answering
    // it, so once the counter moves both the file and the request log are complete.
    assert!(wait_until(Duration::from_secs(10), || channel(&alerts, "webhook").dead_lettered == 1).await);
    assert_eq!(script.calls().len(), 4, "one attempt and three retries");
    let dead = std::fs::read_to_string(dir.path().join("alerts-dead-letter.jsonl")).expect("dead-letter file");
    let lines: Vec<&str> = dead.lines().collect();
    assert_eq!(lines.len(), 1);
    let line: Value = serde_json::from_str(lines[0]).expect("json line");
    assert_eq!(line["channel"], "webhook");
    assert_eq!(line["alert"]["title"], "Task Failed: price_feed");
    assert!(line["error"].as_str().unwrap_or_default().contains("HTTP 500: down"), "{line}");
    assert!(!dead.contains(&server.uri()), "the secret URL must not reach the dead-letter file");
    stop(alerts, shutdown).await;
}

// ---- Twilio, Telegram ---------------------------------------------------------------------

fn form(request: &Request) -> Vec<(String, String)> {
    let body = String::from_utf8_lossy(&request.body);
    let url = request.url.join(&format!("?{body}")).expect("form as query");
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

#[tokio::test]
async fn sms_goes_through_twilio_with_basic_auth_in_160_character_segments() {
    let script = Script::new(vec![ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1"}))]);
    let server = server_with(&script).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config();
    config.sms.enabled = true;
    config.sms.api_base = server.uri();
    config.sms.account_sid = Secret::new("AC0123");
    config.sms.auth_token = Secret::new("twilio-token");
    config.sms.from = "+15550001111".into();
    config.sms.to = vec!["+15552223333".into()];
    let (alerts, shutdown) = start(config, dir.path());

    // Below CRITICAL: not routed to SMS at all.
    alerts.sender().raise(Alert::new(Priority::Error, "Not for SMS", "m", Timestamp::from_millis(0)));
    let long = Alert::new(Priority::Critical, "Trading Killed", "x".repeat(200), Timestamp::from_millis(0));
    alerts.sender().raise(long);
    assert!(wait_until(Duration::from_secs(10), || channel(&alerts, "sms").delivered == 2).await);
    let calls = script.calls();
    assert_eq!(calls.len(), 2);
    let expected_auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("AC0123:twilio-token"));
    let mut bodies = Vec::new();
    for (_, request) in &calls {
        assert_eq!(request.url.path(), "/2010-04-01/Accounts/AC0123/Messages.json");
        assert_eq!(header(request, "authorization"), expected_auth);
        assert_eq!(header(request, "content-type"), "application/x-www-form-urlencoded");
        let fields = form(request);
        assert_eq!(fields[0], ("To".to_string(), "+15552223333".to_string()));
        assert_eq!(fields[1], ("From".to_string(), "+15550001111".to_string()));
        assert_eq!(fields[2].0, "Body");
        assert!(fields[2].1.chars().count() <= 160);
        bodies.push(fields[2].1.clone());
    }
    assert!(bodies[0].starts_with("(1/2) CRITICAL: Trading Killed: xxx"), "{}", bodies[0]);
    assert!(bodies[1].starts_with("(2/2) x"), "{}", bodies[1]);
    stop(alerts, shutdown).await;
}

#[tokio::test]
async fn telegram_sends_markdown_v2_splits_long_text_paces_and_honours_retry_after() {
    let too_many = ResponseTemplate::new(429).set_body_json(json!({
        "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1}
    }));
    let script = Script::new(vec![ok().set_body_json(json!({"ok": true})), too_many, ok()]);
    let server = server_with(&script).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config();
    config.telegram.enabled = true;
    config.telegram.api_base = server.uri();
    config.telegram.bot_token = Secret::new("123:ABC");
    config.telegram.chat_id = Secret::new("-1001");
    config.telegram.per_chat_interval_ms = 300;
    let (alerts, shutdown) = start(config, dir.path());

    alerts.sender().raise(breaker());
    assert!(wait_until(Duration::from_secs(10), || channel(&alerts, "telegram").delivered == 1).await);
    let first = &script.calls()[0].1;
    assert_eq!(first.url.path(), "/bot123:ABC/sendMessage");
    let body: Value = first.body_json().expect("json body");
    assert_eq!(
        body,
        json!({
            "chat_id": "-1001",
            "text": "🚨 *CRITICAL: Circuit Breaker Tripped*\nLoss threshold exceeded\n\n\
                     • *Daily P&L:* \\-$523\\.45\n• *Drawdown:* 12\\.3%\n• *Positions:* 8/10",
            "parse_mode": "MarkdownV2",
            "disable_web_page_preview": true
        })
    );

    // 5,000 characters: two messages, the first rate-limited once with retry_after = 1.
    let long = Alert::new(Priority::Warning, "Report", "line of text\n".repeat(400), Timestamp::from_millis(0));
    alerts.sender().raise(long);
    assert!(wait_until(Duration::from_secs(10), || channel(&alerts, "telegram").delivered == 3).await);
    let calls = script.calls();
    assert_eq!(calls.len(), 4);
    assert!(calls[1].0 - calls[0].0 >= Duration::from_millis(280), "1/s per chat pacing");
    assert!(calls[2].0 - calls[1].0 >= Duration::from_millis(950), "retry_after was not honoured");
    let texts: Vec<String> = calls[2..]
        .iter()
        .map(|(_, r)| {
            r.body_json::<Value>().ok().and_then(|b| b["text"].as_str().map(String::from)).unwrap_or_default()
        })
        .collect();
    assert!(texts.iter().all(|t| t.encode_utf16().count() <= 4096));
    assert_eq!(texts.iter().map(|t| t.matches("line of text").count()).sum::<usize>(), 400);
    assert_eq!(channel(&alerts, "telegram").retried, 1);
    stop(alerts, shutdown).await;
}

// ---- file channel, reload, heartbeat ------------------------------------------------------

#[tokio::test]
async fn reload_enables_the_file_channel_which_writes_json_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (alerts, shutdown) = start(base_config(), dir.path());
    let mut config = base_config();
    config.file.enabled = true;
    alerts.update_config(config);
    // The file channel's counters appear when the dispatcher has built the channel.
    assert!(wait_until(Duration::from_secs(5), || alerts.counters().channels.contains_key("file")).await);
    alerts.sender().raise(breaker());
    let path = dir.path().join("alerts.log");
    assert!(wait_until(Duration::from_secs(5), || channel(&alerts, "file").delivered == 1).await);
    let text = std::fs::read_to_string(&path).expect("alerts.log");
    let line: Value = serde_json::from_str(text.trim()).expect("one JSON line");
    assert_eq!(line["priority"], "critical");
    assert_eq!(line["context"][2], json!({"key": "Positions", "value": "8/10"}));
    stop(alerts, shutdown).await;
}

#[tokio::test]
async fn heartbeat_pings_only_while_the_engine_progresses() {
    let script = Script::new(vec![ok()]);
    let server = server_with(&script).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config();
    config.heartbeat.enabled = true;
    config.heartbeat.interval_secs = 1;
    config.heartbeat.url = Secret::new(format!("{}/ping/uuid", server.uri()));
    let (progress, progress_rx) = tokio::sync::watch::channel(0u64);
    let shutdown = CancellationToken::new();
    let alerts =
        AlertsBuilder::new(config, dir.path()).engine_progress(progress_rx).spawn(shutdown.clone()).expect("start");

    // Each step waits (bounded) for the heartbeat's next tick to act, whatever the machine's load.
    progress.send_replace(1);
    assert!(wait_until(Duration::from_secs(10), || alerts.counters().heartbeats_sent == 1).await, "progressed → ping");
    assert!(
        wait_until(Duration::from_secs(10), || alerts.counters().heartbeats_skipped >= 1).await,
        "stalled → a tick withholds the ping"
    );
    assert_eq!(alerts.counters().heartbeats_sent, 1, "no ping while the engine is stalled");
    progress.send_replace(2);
    assert!(
        wait_until(Duration::from_secs(10), || alerts.counters().heartbeats_sent == 2).await,
        "progress again → ping"
    );
    assert_eq!(alerts.counters().heartbeats_failed, 0);
    let calls = script.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|(_, r)| r.method.as_str() == "GET" && r.url.path() == "/ping/uuid"));
    stop(alerts, shutdown).await;
}

// ---- email against a real SMTP server -----------------------------------------------------

/// `python3 -m aiosmtpd` on a free loopback port, killed (by its own handle) when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
}

impl SmtpServer {
    fn start() -> Self {
        Self::require_aiosmtpd();
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new("python3")
            .args(["-u", "-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        Self::wrap(child, port)
    }

    fn require_aiosmtpd() {
        let probe = Command::new("python3").args(["-c", "import aiosmtpd"]).output();
        match probe {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "the email test needs aiosmtpd: run `pip install aiosmtpd` (python3 said: {})",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => panic!("the email test needs python3 with aiosmtpd (`pip install aiosmtpd`): {e}"),
        }
    }

    /// Collects the server's output and waits (bounded) until it accepts connections.
    fn wrap(mut child: Child, port: u16) -> Self {
        let output = Arc::new(Mutex::new(String::new()));
        if let Some(stdout) = child.stdout.take() {
            let sink = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Ok(mut text) = sink.lock() {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
            });
        }
        let mut server = Self { child, port, output };
        let started = whale_trader::clock::monotonic();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the SMTP server exited ({status}) before listening on port {port}");
            }
            assert!(started.elapsed() < Duration::from_secs(15), "the SMTP server did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server_with_the_seed_subject_and_body() {
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = base_config();
    config.email.enabled = true;
    config.email.smtp_host = "127.0.0.1".into();
    config.email.smtp_port = smtp.port;
    config.email.security = SmtpSecurity::Plain;
    config.email.from = "Whale Trader <bot@whale.test>".into();
    config.email.to = vec!["owner@whale.test".into()];
    let (alerts, shutdown) = start(config, dir.path());

    alerts.sender().raise(breaker());
    let arrived = wait_until(Duration::from_secs(15), || smtp.output().contains("END MESSAGE")).await;
    let output = smtp.output();
    assert!(arrived, "no message reached the SMTP server; it printed:\n{output}");
    assert!(output.contains("Subject: [CRITICAL] Circuit Breaker Tripped"), "{output}");
    assert!(output.lines().any(|l| l.starts_with("From:") && l.contains("<bot@whale.test>")), "{output}");
    assert!(output.contains("To: owner@whale.test"), "{output}");
    for line in [
        "Whale Trader Risk Alert",
        "Priority: CRITICAL",
        "Timestamp: 2025-11-02 15:30:45 UTC",
        "Loss threshold exceeded",
        "Metrics:",
        "- Daily P&L: -$523.45",
        "- Drawdown: 12.3%",
        "- Positions: 8/10",
    ] {
        assert!(output.lines().any(|l| l.trim_end() == line), "missing body line {line:?} in:\n{output}");
    }
    // The server prints the message before it answers 250; the channel counts it after the answer.
    assert!(wait_until(Duration::from_secs(5), || channel(&alerts, "email").delivered == 1).await);
    stop(alerts, shutdown).await;
}

// ---- email over STARTTLS with login, against a real SMTP server ---------------------------

/// A throw-away certificate authority and a leaf for 127.0.0.1 signed by it, made with the
/// `openssl` command (`.ci/run` installs it).
struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("the STARTTLS test needs the openssl command (Debian package openssl)");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        for (name, subject) in [("ca", "/CN=whale-trader test CA"), ("other-ca", "/CN=someone else's CA")] {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                subject,
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
        }
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ]);
        std::fs::write(
            dir.path().join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n",
        )
        .expect("leaf extensions");
        run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ]);
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// `tests/support/smtp_tls_auth.py`: STARTTLS required, login required (over TLS only).
fn start_tls_smtp(pki: &TestPki, user: &str, password: &str) -> SmtpServer {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_tls_auth.py");
    let cert = pki.path("leaf.pem");
    let key = pki.path("leaf.key");
    let child = Command::new("python3")
        .arg("-u")
        .arg(&script)
        .arg(port.to_string())
        .arg(&cert)
        .arg(&key)
        .args([user, password])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the STARTTLS SMTP server (python3 with aiosmtpd)");
    SmtpServer::wrap(child, port)
}

fn tls_email_config(port: u16, ca_file: std::path::PathBuf, password: &str) -> AlertsConfig {
    let mut config = base_config();
    config.email.enabled = true;
    config.email.smtp_host = "127.0.0.1".into();
    config.email.smtp_port = port;
    config.email.security = SmtpSecurity::Starttls;
    config.email.username = "bot".into();
    config.email.password = Secret::new(password);
    config.email.ca_file = ca_file;
    config.email.from = "Whale Trader <bot@whale.test>".into();
    config.email.to = vec!["owner@whale.test".into()];
    config
}

#[tokio::test]
async fn email_goes_over_starttls_with_login_and_checks_the_certificate() {
    SmtpServer::require_aiosmtpd();
    let pki = TestPki::new();
    let smtp = start_tls_smtp(&pki, "bot", "smtp-pass-31c");

    // Trusting the relay's authority: STARTTLS, then AUTH, then the seed's message.
    let dir = tempfile::tempdir().expect("temp dir");
    let (alerts, shutdown) = start(tls_email_config(smtp.port, pki.path("ca.pem"), "smtp-pass-31c"), dir.path());
    alerts.sender().raise(breaker());
    let arrived = wait_until(Duration::from_secs(15), || smtp.output().contains("END MESSAGE")).await;
    let output = smtp.output();
    assert!(arrived, "no message over STARTTLS; the server printed:\n{output}");
    assert!(output.lines().any(|l| l.starts_with("AUTH ") && l.ends_with(" OK")), "no successful login:\n{output}");
    assert!(output.contains("Subject: [CRITICAL] Circuit Breaker Tripped"), "{output}");
    assert!(output.lines().any(|l| l.trim_end() == "- Daily P&L: -$523.45"), "{output}");
    // The server prints the message before it answers 250; the channel counts it after the answer.
    assert!(wait_until(Duration::from_secs(5), || channel(&alerts, "email").delivered == 1).await);
    stop(alerts, shutdown).await;

    // Another authority: the certificate is refused, nothing is sent, the alert is dead-lettered.
    let dir = tempfile::tempdir().expect("temp dir");
    let (alerts, shutdown) = start(tls_email_config(smtp.port, pki.path("other-ca.pem"), "smtp-pass-31c"), dir.path());
    alerts.sender().raise(breaker());
    assert!(wait_until(Duration::from_secs(15), || channel(&alerts, "email").dead_lettered == 1).await);
    assert_eq!(smtp.output().matches("END MESSAGE").count(), 1, "a message went to an untrusted server");
    let dead = std::fs::read_to_string(dir.path().join("alerts-dead-letter.jsonl")).expect("dead-letter file");
    assert!(dead.contains("certificate") || dead.contains("Certificate"), "{dead}");
    assert!(!dead.contains("smtp-pass-31c"), "the SMTP password reached the dead-letter file");
    stop(alerts, shutdown).await;
}
