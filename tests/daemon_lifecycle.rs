//! The daemon's life against the real binary: one daemon per data directory, a failed start that
//! decides and sends nothing, a health hold restored from the store judged afresh, disks on file
//! systems sysinfo does not list, signals that are never quiet about what they do, and a busy host
//! CPU that is a warning, not a trading fault.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

const TOKEN: &str = "lifecycle-token-8c2a";

/// A plain HTTP/1.1 GET on loopback with the bearer token; returns (status line, body).
fn http_get(port: u16, path: &str) -> (String, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (String::new(), String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

fn health(port: u16) -> (String, serde_json::Value) {
    let (status, body) = http_get(port, "/health");
    (status, serde_json::from_str(&body).unwrap_or_default())
}

/// The workspace's config with `pairs` of (old line, new line) replaced; each must be found.
fn edit_config(ws: &Workspace, pairs: &[(&str, &str)]) {
    let mut config = ws.read("config/default.toml");
    for (old, new) in pairs {
        assert!(config.contains(old), "config/default.toml has no line {old:?}");
        config = config.replacen(old, new, 1);
    }
    ws.write("config/default.toml", &config);
}

/// Disk thresholds no real disk reaches (how full the test machine is must not matter) and a
/// system sample every second.
const QUIET_DISKS: [(&str, &str); 3] = [
    ("disk_warning_percent = 80", "disk_warning_percent = 99.98"),
    ("disk_critical_percent = 95", "disk_critical_percent = 99.99"),
    ("system_interval_secs = 60", "system_interval_secs = 1"),
];

/// A replay session with no trades (trading stays as health leaves it).
fn quiet_session(ws: &Workspace) -> String {
    ws.write("quiet_session.jsonl", "");
    ws.path().join("quiet_session.jsonl").display().to_string()
}

fn started(ws: &Workspace) -> bool {
    wait_until(Duration::from_secs(30), || ws.read("logs/main.log").contains("running in paper mode"))
}

fn audit(ws: &Workspace) -> Vec<serde_json::Value> {
    json_lines(&ws.read("logs/trade_audit.log"))
}

fn alerts(ws: &Workspace) -> Vec<serde_json::Value> {
    json_lines(&ws.read("logs/alerts.log"))
}

#[test]
fn a_second_daemon_on_the_same_data_directory_exits_2_naming_the_holder_and_sends_nothing() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let mut first = ws.spawn_daemon(&[]);
    assert!(started(&ws), "the first daemon did not start; main.log:\n{}", ws.read("logs/main.log"));

    // The second one: its own log directory and API port, so anything it wrote or bound is its own.
    let began = whale_trader::clock::monotonic();
    let second = ws
        .command(&["run"])
        .env("WHALE_TRADER__LOGGING__DIR", "logs-second")
        .env("WHALE_TRADER__API__PORT", support::free_port().to_string())
        .output()
        .expect("run the second daemon");
    let took = began.elapsed();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "stderr: {stderr}");
    assert!(took < Duration::from_secs(5), "the refusal took {took:?}");
    assert!(
        stderr.contains(&format!("another whale-trader daemon (pid {})", first.id())) && stderr.contains("data"),
        "the refusal names the holder and the directory: {stderr}"
    );
    assert!(
        !ws.path().join("logs-second").exists(),
        "the refused daemon wrote logs or alerts: {:?}",
        std::fs::read_dir(ws.path().join("logs-second")).map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
    );
    // The holder is unharmed and still owns the lock, its PID in the lock file.
    assert!(first.try_wait().expect("try_wait").is_none(), "the first daemon stopped");
    let (status, _) = health(ws.api_port);
    assert!(status.contains("200") || status.contains("503"), "the first daemon's API answers: {status:?}");
    let lock = std::fs::read_to_string(ws.path().join("data/whale-trader.lock")).unwrap_or_default();
    assert_eq!(lock.trim(), first.id().to_string(), "the lock file names the holder");

    signal(&first, "TERM");
    let (status, _) = wait_with_limit(&mut first, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

#[test]
fn with_the_api_port_taken_the_start_fails_at_once_and_decides_nothing() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    // Something else holds the control API's port.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", ws.api_port)).expect("take the API port");
    let began = whale_trader::clock::monotonic();
    // The sample session has whale trades the engine would decide at once.
    let mut daemon = ws.spawn_daemon(&[]);
    let (status, took) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    let total = began.elapsed();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "logs:\n{}", ws.all_logs());
    assert!(
        ws.read("logs/main.log").contains("the control API cannot start"),
        "main.log:\n{}",
        ws.read("logs/main.log")
    );
    assert!(audit(&ws).is_empty(), "a failed start decided trades:\n{}", ws.read("logs/trade_audit.log"));
    assert!(alerts(&ws).is_empty(), "a failed start sent alerts:\n{}", ws.read("logs/alerts.log"));
    assert!(!ws.read("logs/main.log").contains("health monitor started"), "the health monitor ran");
    assert!(total < Duration::from_secs(3), "a failed start must stop at once, took {took:?} ({total:?} from spawn)");
    drop(squatter);
}

#[test]
fn a_health_hold_restored_from_the_store_is_released_by_the_first_health_check() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let session = quiet_session(&ws);
    let original = ws.read("config/default.toml");

    // First run: any real disk counts as nearly full, so health holds trading in reducing.
    edit_config(
        &ws,
        &[
            ("disk_warning_percent = 80", "disk_warning_percent = 0"),
            ("disk_critical_percent = 95", "disk_critical_percent = 0.01"),
            ("system_interval_secs = 60", "system_interval_secs = 1"),
        ],
    );
    let mut daemon = ws.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", &session)]);
    let held = wait_until(Duration::from_secs(30), || {
        audit(&ws).iter().any(|l| l["event"] == "trading_state_changed" && l["to"] == "reducing")
    });
    assert!(held, "no health hold in the audit trail:\n{}", ws.read("logs/trade_audit.log"));
    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());

    // Second run on a "freed" disk: the restored hold is judged by the first health check.
    ws.write("config/default.toml", &original);
    edit_config(&ws, &QUIET_DISKS);
    let audit_lines_before = audit(&ws).len();
    let began = whale_trader::clock::monotonic();
    let mut daemon = ws.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", &session)]);
    assert!(started(&ws), "the daemon did not restart; main.log:\n{}", ws.read("logs/main.log"));
    let released = wait_until(Duration::from_secs(20), || {
        audit(&ws)
            .iter()
            .skip(audit_lines_before)
            .any(|l| l["event"] == "trading_state_changed" && l["from"] == "reducing" && l["to"] == "active")
    });
    assert!(released, "the restored hold was never released; audit:\n{}", ws.read("logs/trade_audit.log"));
    assert!(began.elapsed() < Duration::from_secs(20));
    // The log writer is not the audit writer: the line may land a moment after the audit's.
    let release_logged = wait_until(Duration::from_secs(10), || {
        ws.read("logs/main.log").contains("the first health check after the restart found nothing")
    });
    assert!(release_logged, "main.log:\n{}", ws.read("logs/main.log"));
    let (_, report) = health(ws.api_port);
    assert!(report["trading_hold"].is_null(), "/health still shows a hold: {report}");

    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

#[cfg(target_os = "linux")]
#[test]
fn a_data_directory_on_tmpfs_is_measured() {
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir() {
        return; // no tmpfs to run on here
    }
    let data = tempfile::tempdir_in(shm).expect("a directory on /dev/shm");
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    edit_config(&ws, &QUIET_DISKS);
    let data_dir = data.path().display().to_string();
    let store = data.path().join("whale-trader.db").display().to_string();
    let mut daemon = ws.spawn_daemon(&[
        ("WHALE_TRADER__DAEMON__DATA_DIR", data_dir.as_str()),
        ("WHALE_TRADER__STORE__PATH", store.as_str()),
    ]);
    assert!(started(&ws), "the daemon did not start; main.log:\n{}", ws.read("logs/main.log"));
    let mut report = serde_json::Value::Null;
    let sampled = wait_until(Duration::from_secs(20), || {
        report = health(ws.api_port).1;
        !report["system"].is_null()
    });
    assert!(sampled, "no system sample in /health: {report}");
    let disks = report["system"]["metrics"]["disks"].as_array().cloned().unwrap_or_default();
    let data_disk = disks.iter().find(|d| d["label"] == "data").cloned().unwrap_or_default();
    assert!(
        data_disk["usage"]["total_bytes"].as_u64().is_some_and(|total| total > 0),
        "the tmpfs data directory was not measured: {data_disk}"
    );
    assert!(
        !report["problems"].to_string().contains("is unknown"),
        "a disk is reported unknown: {}",
        report["problems"]
    );
    // The lock file went into the store's directory, on the tmpfs.
    assert!(data.path().join("whale-trader.lock").exists());

    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

#[test]
fn a_rejected_sighup_reload_raises_an_alert() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let original = ws.read("config/default.toml");
    let mut daemon = ws.spawn_daemon(&[]);
    assert!(started(&ws), "the daemon did not start; main.log:\n{}", ws.read("logs/main.log"));

    ws.write("config/default.toml", &original.replace("max_drawdown_percent = 15", "max_drawdown_percent = 150"));
    signal(&daemon, "HUP");
    let alerted = wait_until(Duration::from_secs(10), || {
        alerts(&ws).iter().any(|a| {
            a["title"] == "Configuration reload rejected"
                && a["priority"] == "error"
                && a["message"].as_str().is_some_and(|m| m.contains("risk.drawdown.max_drawdown_percent = 150"))
        })
    });
    assert!(alerted, "no alert for the rejected reload; alerts.log:\n{}", ws.read("logs/alerts.log"));

    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

/// A stop that cannot finish quickly (an alert channel whose server accepts and never answers):
/// SIGHUP meanwhile does not end it; a second SIGTERM cuts it short and says what it abandons.
#[test]
fn a_sighup_during_the_stop_does_not_end_it_and_a_second_sigterm_says_what_it_cuts() {
    let ws = Workspace::with_default_config("");
    let (mut daemon, silent) = ws.spawn_draining_daemon(&[format!("WHALE_TRADER__API__TOKEN={TOKEN}")]);
    signal(&daemon, "HUP");
    let noted = wait_until(Duration::from_secs(5), || {
        ws.read("logs/main.log").contains("SIGHUP during the stop") || daemon.try_wait().ok().flatten().is_some()
    });
    std::thread::sleep(Duration::from_secs(1));
    let still_running = daemon.try_wait().expect("try_wait");
    assert!(still_running.is_none(), "a SIGHUP ended the stop: {still_running:?}");
    assert!(noted, "the SIGHUP during the stop was not logged; main.log:\n{}", ws.read("logs/main.log"));

    signal(&daemon, "TERM");
    let (status, took) = wait_with_limit(&mut daemon, Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(1), "logs:\n{}", ws.all_logs());
    assert!(took < Duration::from_secs(5), "the second signal took {took:?}");
    let cut = json_lines(&ws.read("logs/main.log"))
        .into_iter()
        .find(|l| l["message"].as_str().is_some_and(|m| m.starts_with("second stop signal: cutting the drain short")));
    let cut = cut.unwrap_or_else(|| panic!("the cut is not explained in main.log:\n{}", ws.read("logs/main.log")));
    let message = cut["message"].as_str().unwrap_or_default();
    assert!(message.contains("alerts still queued") && message.contains("store writes"), "{message}");
    assert!(cut["still_stopping"].as_str().is_some_and(|t| t.contains("alerts")), "{cut}");
    drop(silent);
}

#[test]
fn a_saturated_host_cpu_is_a_warning_and_health_stays_200() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    // Any CPU use at all reaches these thresholds: the host is "saturated" for the daemon.
    edit_config(
        &ws,
        &[
            QUIET_DISKS[0],
            QUIET_DISKS[1],
            QUIET_DISKS[2],
            ("cpu_warning_percent = 70", "cpu_warning_percent = 0"),
            ("cpu_critical_percent = 90", "cpu_critical_percent = 0.01"),
            // Nor may how busy the test machine's memory is decide the verdict.
            ("memory_warning_percent = 75", "memory_warning_percent = 99.98"),
            ("memory_critical_percent = 90", "memory_critical_percent = 99.99"),
        ],
    );
    let session = quiet_session(&ws);
    let mut daemon = ws.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", &session)]);
    assert!(started(&ws), "the daemon did not start; main.log:\n{}", ws.read("logs/main.log"));
    let mut seen = (String::new(), serde_json::Value::Null);
    let at_critical = wait_until(Duration::from_secs(20), || {
        seen = health(ws.api_port);
        let problems = seen.1["problems"].to_string();
        problems.contains("cpu") && problems.contains(">= critical")
    });
    let (status, report) = seen;
    assert!(at_critical, "the host CPU never reached the critical threshold: {report}");
    assert!(status.contains("200"), "a busy host CPU made /health answer {status}: {report}");
    assert_eq!(report["system"]["cpu_status"], "degraded", "{report}");
    assert!(report["problems"].to_string().contains("host cpu"), "{}", report["problems"]);
    let warned = wait_until(Duration::from_secs(10), || {
        alerts(&ws).iter().any(|a| a["title"] == "Health: system degraded" && a["priority"] == "warning")
    });
    assert!(warned, "no warning alert for the busy CPU; alerts.log:\n{}", ws.read("logs/alerts.log"));
    let loud: Vec<_> = alerts(&ws)
        .into_iter()
        .filter(|a| {
            a["title"].as_str().is_some_and(|t| t.starts_with("Health: system"))
                && (a["priority"] == "error" || a["priority"] == "critical")
        })
        .collect();
    assert!(loud.is_empty(), "host CPU raised error alerts: {loud:?}");
    assert!(
        !audit(&ws).iter().any(|l| l["event"] == "trading_state_changed"),
        "host CPU changed trading: {}",
        ws.read("logs/trade_audit.log")
    );

    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}
