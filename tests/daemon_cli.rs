//! The daemon as a user meets it: `check-config`, `run`, signals, task failure, secrets.

mod support;

use std::time::Duration;

use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

const SECRET: &str = "s3cr3t-token-that-must-never-leak-7f2c";

/// A plain HTTP/1.1 GET on loopback with the bearer token; returns the body.
fn http_get(port: u16, path: &str, token: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

#[test]
fn check_config_names_every_problem_and_exits_2() {
    let ws = Workspace::with_default_config("");
    let config = ws.read("config/default.toml").replace("[daemon]\n", "[daemon]\nturbo = true\n");
    let config = config.replace("max_drawdown_percent = 15", "max_drawdown_percent = 150");
    let config = config.replace("shutdown_grace_secs = 10", "shutdown_grace_secs = 0");
    ws.write("config/default.toml", &config);
    let out = ws.output(&["check-config"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("daemon.turbo = true: unknown key"), "{stderr}");
    assert!(stderr.contains("risk.drawdown.max_drawdown_percent = 150"), "{stderr}");
    assert!(stderr.contains("daemon.shutdown_grace_secs = 0: must be between 1 and 600 seconds"), "{stderr}");
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_masked() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={SECRET}\n"));
    let out = ws.output(&["check-config"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("token = \"***\""), "{stdout}");
    assert!(!stdout.contains(SECRET));
}

#[test]
fn a_misspelt_secret_in_the_env_file_is_reported_without_its_value() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKN={SECRET}\n"));
    for args in [&["check-config"][..], &["run"][..]] {
        let out = ws.output(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("api.tokn = *** (set in the environment): unknown key"), "{args:?}: {stderr}");
        let everything = format!("{stderr}{}{}", String::from_utf8_lossy(&out.stdout), ws.all_logs());
        assert!(!everything.contains(SECRET), "{args:?}: the secret leaked: {everything}");
    }
}

#[test]
fn missing_config_file_is_a_config_error() {
    let ws = Workspace::with_default_config("");
    let out = ws.output(&["--config", "nope.toml", "check-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[test]
fn version_prints_the_crate_version() {
    let ws = Workspace::with_default_config("");
    let out = ws.output(&["version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn sigterm_drains_and_exits_0_within_the_grace_period_without_leaking_secrets() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={SECRET}\n"));
    let mut child = ws.spawn_daemon(&[]);
    let started = wait_until(Duration::from_secs(20), || ws.read("logs/main.log").contains("running in paper mode"));
    assert!(started, "daemon did not report readiness; main.log:\n{}", ws.read("logs/main.log"));

    signal(&child, "TERM");
    let (status, took) = wait_with_limit(&mut child, Duration::from_secs(15));
    let status = status.expect("daemon did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "logs:\n{}", ws.all_logs());
    assert!(took < Duration::from_secs(10), "took {took:?}, longer than the grace period");

    let main = json_lines(&ws.read("logs/main.log"));
    let messages: Vec<&str> = main.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("stop requested")), "{messages:?}");
    // What was drained is said, task by task.
    for said in ["engine stopped; drained", "recorder stopped", "store writer stopped", "alert dispatcher stopped"] {
        assert!(messages.iter().any(|m| m.contains(said)), "no {said:?} in {messages:?}");
    }
    assert!(messages.iter().any(|m| m.contains("whale-trader stopped")), "{messages:?}");
    for line in &main {
        let ts = line["timestamp"].as_str().expect("timestamp");
        assert!(ts.ends_with('Z') && ts.len() == "2026-01-01T00:00:00.000Z".len(), "timestamp {ts}");
        assert!(line["level"].is_string() && line["target"].is_string());
    }

    // performance.log holds operation timings even when no HTTP call was made.
    let perf = json_lines(&ws.read("logs/performance.log"));
    assert!(
        perf.iter().any(|l| l["operation"] == "health.component_checks" && l["duration_ms"].is_number()),
        "no timed operation in performance.log: {perf:?}"
    );

    let console = ws.read("console.out");
    assert!(console.contains("whale-trader stopped"), "the console shows the daemon's log: {console}");
    let everything = format!("{}{console}{}", ws.all_logs(), ws.read("console.err"));
    assert!(!everything.contains(SECRET), "the secret leaked");
}

/// Needs the `failpoints` feature, which makes a task die on purpose.
#[cfg(feature = "failpoints")]
#[test]
fn a_task_that_dies_is_logged_alerted_and_exits_1() {
    let ws = Workspace::with_default_config("");
    let mut child = ws.spawn_daemon(&[("WHALE_TRADER_FAILPOINT", "panic:health")]);
    let (status, _) = wait_with_limit(&mut child, Duration::from_secs(20));
    let status = status.expect("daemon did not exit after its task died");
    assert_eq!(status.code(), Some(1), "logs:\n{}", ws.all_logs());

    let errors = json_lines(&ws.read("logs/error.log"));
    let died = errors
        .iter()
        .find(|l| l["message"].as_str().is_some_and(|m| m.contains("a task ended while the daemon was running")))
        .unwrap_or_else(|| panic!("no task-failure line in error.log: {errors:?}"));
    assert_eq!(died["task"], "health");
    assert!(died["exit"].as_str().unwrap_or_default().contains("panicked"), "{died}");
    // The alert went through the dispatcher to the JSON file channel.
    let alerts = json_lines(&ws.read("logs/alerts.log"));
    let alert = alerts
        .iter()
        .find(|a| a["title"] == "Task failure")
        .unwrap_or_else(|| panic!("no task-failure alert in alerts.log: {alerts:?}"));
    assert_eq!(alert["priority"], "critical", "{alert}");
    assert!(alert["message"].as_str().unwrap_or_default().contains("task health panicked"), "{alert}");
}

/// Every kind of secret the env file can hold, each with the channel it belongs to enabled and
/// pointed at a dead loopback port, so that deliveries fail, are retried, logged and
/// dead-lettered: none of those paths may print a secret, and neither may any command.
#[test]
fn secrets_from_the_env_file_never_reach_a_log_file_or_a_command_output() {
    let dead = support::free_port();
    let secrets: Vec<(String, String)> = [
        ("API__TOKEN", "api-token"),
        ("ALERTS__SLACK__WEBHOOK_URL", "slack-hook"),
        ("ALERTS__DISCORD__WEBHOOK_URL", "discord-hook"),
        ("ALERTS__WEBHOOK__URL", "webhook-url"),
        ("ALERTS__WEBHOOK__BEARER_TOKEN", "webhook-bearer"),
        ("ALERTS__TELEGRAM__BOT_TOKEN", "telegram-bot"),
        ("ALERTS__TELEGRAM__CHAT_ID", "telegram-chat"),
        ("ALERTS__SMS__ACCOUNT_SID", "twilio-sid"),
        ("ALERTS__SMS__AUTH_TOKEN", "twilio-token"),
        ("ALERTS__EMAIL__PASSWORD", "smtp-password"),
        ("ALERTS__HEARTBEAT__URL", "heartbeat-url"),
        ("POLYMARKET__CREDENTIALS__API_PASSPHRASE", "clob-passphrase"),
    ]
    .iter()
    .map(|(key, name)| {
        let secret = format!("zz-{name}-8c1f0e");
        let value = if key.ends_with("URL") { format!("http://127.0.0.1:{dead}/{secret}") } else { secret.clone() };
        (format!("WHALE_TRADER__{key}={value}"), secret)
    })
    .collect();
    let mut env: Vec<String> = secrets.iter().map(|(line, _)| line.clone()).collect();
    for channel in ["SLACK", "DISCORD", "WEBHOOK", "TELEGRAM", "SMS", "EMAIL"] {
        env.push(format!("WHALE_TRADER__ALERTS__{channel}__ENABLED=true"));
        env.push(format!("WHALE_TRADER__ALERTS__{channel}__MIN_PRIORITY=info"));
    }
    env.extend([
        format!("WHALE_TRADER__ALERTS__TELEGRAM__API_BASE=http://127.0.0.1:{dead}"),
        format!("WHALE_TRADER__ALERTS__SMS__API_BASE=http://127.0.0.1:{dead}"),
        "WHALE_TRADER__ALERTS__SMS__FROM=+15550001111".into(),
        "WHALE_TRADER__ALERTS__EMAIL__SMTP_HOST=127.0.0.1".into(),
        format!("WHALE_TRADER__ALERTS__EMAIL__SMTP_PORT={dead}"),
        "WHALE_TRADER__ALERTS__EMAIL__SECURITY=plain".into(),
        "WHALE_TRADER__ALERTS__EMAIL__USERNAME=bot".into(),
        "WHALE_TRADER__ALERTS__EMAIL__FROM=bot@whale.test".into(),
        "WHALE_TRADER__ALERTS__HEARTBEAT__ENABLED=true".into(),
        "WHALE_TRADER__ALERTS__HEARTBEAT__INTERVAL_SECS=1".into(),
        "WHALE_TRADER__ALERTS__DELIVERY__MAX_RETRIES=1".into(),
        "WHALE_TRADER__ALERTS__DELIVERY__INITIAL_BACKOFF_MS=10".into(),
        "WHALE_TRADER__ALERTS__DELIVERY__MAX_BACKOFF_MS=20".into(),
        "WHALE_TRADER__ALERTS__DELIVERY__ATTEMPT_TIMEOUT_SECS=1".into(),
        "WHALE_TRADER__ALERTS__DELIVERY__DRAIN_TIMEOUT_SECS=1".into(),
    ]);
    // Recipients are lists, which the TOML file holds.
    let ws = Workspace::with_default_config("");
    let config = ws.read("config/default.toml").replacen("to = []", "to = [\"owner@whale.test\"]", 1).replacen(
        "to = []",
        "to = [\"+15552223333\"]",
        1,
    );
    ws.write("config/default.toml", &config);
    ws.write(".env", &format!("{}\n", env.join("\n")));

    let check = ws.output(&["check-config"]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let mut outputs = vec![String::from_utf8_lossy(&check.stdout).into_owned()];

    let mut daemon = ws.spawn_daemon(&[]);
    let failed = wait_until(Duration::from_secs(60), || {
        let dead_letters = ws.read("logs/alerts-dead-letter.jsonl");
        ["slack", "discord", "webhook", "telegram", "sms", "email"]
            .iter()
            .all(|c| dead_letters.contains(&format!("\"channel\":\"{c}\"")))
            && ws.read("logs/main.log").contains("heartbeat ping failed")
    });
    assert!(failed, "not every channel failed and dead-lettered; main.log:\n{}", ws.read("logs/main.log"));
    for args in [&["status"][..], &["status", "--json"][..], &["halt", "--reason", "drill"][..], &["resume"][..]] {
        let out = ws.output(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
        outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());

    let mut everything = ws.all_logs();
    everything.push_str(&ws.read("console.out"));
    everything.push_str(&ws.read("console.err"));
    everything.push_str(&outputs.concat());
    for entry in std::fs::read_dir(ws.path().join("data")).expect("data dir").flatten() {
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()));
    }
    assert!(everything.contains("***"), "check-config shows the secrets masked");
    for (_, secret) in &secrets {
        assert!(!everything.contains(secret.as_str()), "{secret} leaked");
    }
}

/// The `Type=notify` contract, against a notification socket like systemd's: `READY=1` with a
/// `STATUS=` once start-up is complete, `WATCHDOG=1` pings while the engine runs, `STOPPING=1`
/// when a stop begins.
#[test]
fn systemd_hears_ready_watchdog_pings_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};

    let ws = Workspace::with_default_config("");
    let socket_path = ws.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notification socket");
    socket.set_read_timeout(Some(Duration::from_millis(200))).expect("read timeout");
    let (tx, rx) = mpsc::channel::<String>();
    let done = Arc::new(AtomicBool::new(false));
    let listener = std::thread::spawn({
        let done = Arc::clone(&done);
        move || {
            let mut buffer = [0u8; 4096];
            while !done.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buffer) {
                    let _ = tx.send(String::from_utf8_lossy(&buffer[..n]).into_owned());
                }
            }
        }
    });
    let notify_socket = socket_path.to_string_lossy().into_owned();
    let mut daemon = ws.spawn_daemon(&[("NOTIFY_SOCKET", &notify_socket), ("WATCHDOG_USEC", "2000000")]);

    /// Collects notifications into `messages` until `done` holds or `limit` passes.
    fn receive_until(
        rx: &mpsc::Receiver<String>,
        messages: &mut Vec<String>,
        done: impl Fn(&[String]) -> bool,
        limit: Duration,
    ) -> bool {
        let deadline = whale_trader::clock::monotonic() + limit;
        while !done(messages) && whale_trader::clock::monotonic() < deadline {
            if let Ok(message) = rx.recv_timeout(Duration::from_millis(100)) {
                messages.push(message);
            }
        }
        done(messages)
    }
    let has_line = |m: &[String], line: &str| m.iter().any(|s| s.lines().any(|l| l == line));

    let mut messages: Vec<String> = Vec::new();
    let ready = receive_until(&rx, &mut messages, |m| has_line(m, "READY=1"), Duration::from_secs(30));
    assert!(ready, "no READY=1: {messages:?}");
    let ready_message = messages.iter().find(|s| s.lines().any(|l| l == "READY=1")).cloned().unwrap_or_default();
    assert!(ready_message.contains("STATUS=running in paper mode with"), "{ready_message:?}");
    let ready_at = messages.len();
    let pings = |m: &[String]| m[ready_at..].iter().filter(|s| s.trim() == "WATCHDOG=1").count();
    let pinged = receive_until(&rx, &mut messages, |m| pings(m) >= 2, Duration::from_secs(15));
    assert!(pinged, "fewer than 2 watchdog pings after READY=1: {messages:?}");

    signal(&daemon, "TERM");
    let stopping = receive_until(&rx, &mut messages, |m| has_line(m, "STOPPING=1"), Duration::from_secs(10));
    assert!(stopping, "no STOPPING=1: {messages:?}");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    done.store(true, Ordering::Relaxed);
    let _ = listener.join();
}

#[test]
fn sighup_applies_a_valid_config_and_keeps_the_running_one_when_invalid() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", "WHALE_TRADER__API__TOKEN=hup-token\n");
    let original = ws.read("config/default.toml");
    let mut daemon = ws.spawn_daemon(&[]);
    let started = wait_until(Duration::from_secs(20), || ws.read("logs/main.log").contains("running in paper mode"));
    assert!(started, "daemon did not start; main.log:\n{}", ws.read("logs/main.log"));
    // Asked over the API: the CLI itself would refuse to run once the file is made invalid below.
    let limit = || {
        let body = http_get(ws.api_port, "/status", "hup-token");
        let status: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        status["limits"]["limits"]["max_total_positions"].as_u64()
    };
    assert_eq!(limit(), Some(10));

    ws.write("config/default.toml", &original.replace("max_total_positions = 10", "max_total_positions = 7"));
    signal(&daemon, "HUP");
    let applied = wait_until(Duration::from_secs(10), || {
        json_lines(&ws.read("logs/main.log")).iter().any(|l| {
            l["message"] == "SIGHUP: configuration reloaded"
                && l["applied"].as_str().is_some_and(|a| a.contains("risk"))
        })
    });
    assert!(applied, "the valid config was not applied; main.log:\n{}", ws.read("logs/main.log"));
    assert_eq!(limit(), Some(7), "the new risk limits are in use");
    // The engine took them too (its risk manager accepted the new limits).
    let engine_took_it =
        wait_until(Duration::from_secs(10), || ws.read("logs/main.log").contains("engine configuration reloaded"));
    assert!(engine_took_it, "the engine did not apply the reload; main.log:\n{}", ws.read("logs/main.log"));

    ws.write(
        "config/default.toml",
        &original
            .replace("max_total_positions = 10", "max_total_positions = 3")
            .replace("max_drawdown_percent = 15", "max_drawdown_percent = 150"),
    );
    signal(&daemon, "HUP");
    let rejected = wait_until(Duration::from_secs(10), || {
        json_lines(&ws.read("logs/error.log")).iter().any(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("the new configuration is invalid; keeping the running one"))
                && l["problems"].as_str().is_some_and(|p| p.contains("risk.drawdown.max_drawdown_percent = 150"))
        })
    });
    assert!(
        rejected,
        "the invalid config was not rejected with its problems; error.log:\n{}",
        ws.read("logs/error.log")
    );
    assert_eq!(limit(), Some(7), "the running config was kept");

    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

/// A stop that cannot finish (an alert channel whose server accepts and never answers) is cut
/// short by a second signal: the daemon exits at once with code 1.
#[test]
fn a_second_stop_signal_exits_at_once_with_code_1() {
    let ws = Workspace::with_default_config("");
    let (mut daemon, silent) = ws.spawn_draining_daemon(&[]);
    std::thread::sleep(Duration::from_secs(2));
    let still_running = daemon.try_wait().expect("try_wait");
    assert!(still_running.is_none(), "the stop was expected to hang on the silent webhook: {still_running:?}");
    signal(&daemon, "TERM");
    let (status, took) = wait_with_limit(&mut daemon, Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "logs:\n{}", ws.all_logs());
    assert!(took < Duration::from_secs(5), "the second signal took {took:?}");
    drop(silent);
}

#[test]
fn replay_prints_the_sessions_audit_trail_and_summary() {
    let ws = Workspace::with_default_config("");
    let out = ws.output(&["replay", "--audit", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary: serde_json::Value = serde_json::from_str(lines.pop().unwrap_or_default()).expect("summary json");
    let golden = std::fs::read_to_string(support::repo_path("tests/data/sample_session.audit.jsonl")).expect("golden");
    assert_eq!(lines, golden.lines().collect::<Vec<_>>(), "replay --audit prints the reviewed audit trail");
    let opened = golden.lines().filter(|l| l.contains("\"event\":\"trade_opened\"")).count() as u64;
    assert_eq!(summary["trades_opened"], opened);
    assert_eq!(summary["by_reason"]["trade_closed:stop_loss"].as_u64().map(|n| n > 0), Some(true), "{summary}");
    // Where the time went, for benchmarks: both parts measured, neither longer than the run.
    for part in ["parse_s", "engine_s"] {
        assert!(summary[part].as_f64().is_some_and(|s| s > 0.0 && s < 60.0), "{part}: {summary}");
    }
    assert_eq!(summary["format"], "json", "{summary}");
    assert!(!ws.path().join("data").exists(), "a replay writes no store");

    let missing = ws.output(&["replay", "--session", "no-such-session.jsonl"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-session.jsonl"));
}

#[cfg(not(feature = "live"))]
#[test]
fn mode_live_in_a_build_without_the_live_feature_refuses_to_start_naming_the_feature() {
    let ws = Workspace::with_default_config("");
    // Even with every other live condition met, this binary cannot sign orders.
    let out = ws
        .command(&["run", "--live"])
        .env("WHALE_TRADER__DAEMON__MODE", "live")
        .env("WHALE_TRADER_LIVE_CONFIRM", "yes")
        .output()
        .expect("run whale-trader");
    let console = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{console}");
    assert!(console.contains("cargo feature `live`") && console.contains("--features live"), "{console}");
    assert!(ws.read("logs/error.log").contains("cargo feature `live`"));
    assert!(!ws.path().join("data/whale-trader.live.db").exists(), "nothing started, not even the store");
}

#[test]
fn mode_live_without_its_other_conditions_is_refused_with_each_named() {
    let ws = Workspace::with_default_config("");
    let out = ws.command(&["run"]).env("WHALE_TRADER__DAEMON__MODE", "live").output().expect("run whale-trader");
    let console = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{console}");
    if cfg!(feature = "live") {
        for condition in ["polymarket.credentials is incomplete", "--live flag", "WHALE_TRADER_LIVE_CONFIRM"] {
            assert!(console.contains(condition), "{condition:?} not named: {console}");
        }
    } else {
        assert!(console.contains("cargo feature `live`"), "{console}");
    }
}
