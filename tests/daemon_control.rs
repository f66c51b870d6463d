//! Operating a running daemon: `status`, `halt`, `resume`, `kill` through the CLI and the control
//! API, with the resulting state changes in the audit trail and an alert for each; a wrong token
//! changes nothing; `/metrics` passes `promtool check metrics`.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

const TOKEN: &str = "control-token-5d1e";

/// A plain HTTP/1.1 GET on loopback; returns (status line, body).
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the API");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

fn cli(ws: &Workspace, args: &[&str], token: &str) -> (Option<i32>, String, String) {
    let out = ws.command(args).env("WHALE_TRADER__API__TOKEN", token).output().expect("run the CLI");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn audit_reasons(ws: &Workspace) -> Vec<(String, String)> {
    json_lines(&ws.read("logs/trade_audit.log"))
        .iter()
        .map(|l| {
            (l["event"].as_str().unwrap_or_default().to_string(), l["reason"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn halt_resume_kill_through_the_cli_are_audited_and_alerted() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let mut daemon = ws.spawn_daemon(&[]);
    let replayed = wait_until(Duration::from_secs(60), || ws.read("logs/main.log").contains("replay finished"));
    assert!(replayed, "the sample session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    // The audit trail is written by its own thread: wait for the session's last record too, so that
    // the counts below see only what the commands cause.
    let session = std::fs::read_to_string(support::repo_path("tests/data/sample_session.audit.jsonl")).unwrap();
    let written = wait_until(Duration::from_secs(30), || audit_reasons(&ws).len() >= session.lines().count());
    assert!(written, "the session's audit trail was not written: {:?}", audit_reasons(&ws));

    // status, for people and for scripts
    let (code, stdout, stderr) = cli(&ws, &["status"], TOKEN);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("trading state :") && stdout.contains("equity"), "{stdout}");
    let (code, stdout, _) = cli(&ws, &["status", "--json"], TOKEN);
    assert_eq!(code, Some(0));
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status --json is JSON");
    assert_eq!(status["source"], "daemon");
    assert_eq!(status["mode"], "paper");

    // A wrong token is refused and changes nothing.
    let before = audit_reasons(&ws).len();
    let (code, _, stderr) = cli(&ws, &["halt", "--reason", "intruder"], "not-the-token");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    let refused = wait_until(Duration::from_secs(5), || audit_reasons(&ws).len() > before);
    let after: Vec<_> = audit_reasons(&ws);
    assert!(refused, "the refusal was not audited");
    assert!(after[before..].iter().all(|(event, _)| event == "control_rejected"), "{:?}", &after[before..]);

    let (code, stdout, stderr) = cli(&ws, &["halt", "--reason", "maintenance"], TOKEN);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("trading state: halted"), "{stdout}");

    let (code, stdout, stderr) = cli(&ws, &["resume", "--json"], TOKEN);
    assert_eq!(code, Some(0), "{stderr}");
    let reply: serde_json::Value = serde_json::from_str(&stdout).expect("resume --json is JSON");
    assert_ne!(reply["trading_state"], "halted", "{reply}");

    let (code, stdout, stderr) = cli(&ws, &["kill", "--reason", "drill"], TOKEN);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("trading state: killed"), "{stdout}");

    let state_changes = || -> Vec<(String, String)> {
        audit_reasons(&ws).into_iter().filter(|(event, _)| event == "trading_state_changed").collect()
    };
    wait_until(Duration::from_secs(5), || state_changes().iter().any(|(_, r)| r == "kill_switch"));
    let states = state_changes();
    for reason in ["manual_halt", "manual_resume", "kill_switch"] {
        assert!(states.iter().any(|(_, r)| r == reason), "no {reason} state change in {states:?}");
    }
    for title in ["Trading Halted", "Trading Resumed", "Trading Killed"] {
        let alerted = wait_until(Duration::from_secs(5), || {
            json_lines(&ws.read("logs/alerts.log")).iter().any(|a| a["title"] == title)
        });
        assert!(alerted, "no {title:?} alert in alerts.log");
    }

    // /metrics is valid Prometheus text. System figures appear after the first sample (~1 s in).
    let sampled = wait_until(Duration::from_secs(10), || {
        http_get(ws.api_port, "/metrics").1.contains("# TYPE whale_trader_system_cpu_percent ")
    });
    assert!(sampled, "no system figures in /metrics");
    let (status_line, metrics) = http_get(ws.api_port, "/metrics");
    assert!(status_line.contains("200"), "{status_line}");
    assert!(metrics.contains("whale_trader_trading_state{state=\"killed\"} 1"), "{metrics}");
    // Every figure an operator watches: state, equity, daily P&L, drawdown, exposure per whale, open
    // positions, decisions by reason code, orders, fills, feed lag, alert deliveries and drops,
    // system figures, build info.
    for family in [
        "whale_trader_build_info",
        "whale_trader_equity_usd",
        "whale_trader_daily_pnl_usd",
        "whale_trader_drawdown_percent",
        "whale_trader_exposure_per_whale_usd",
        "whale_trader_open_positions",
        "whale_trader_decisions_total",
        "whale_trader_orders_total",
        "whale_trader_fills_total",
        "whale_trader_feed_lag_seconds",
        "whale_trader_alerts_delivered_total",
        "whale_trader_alerts_dropped_total",
        "whale_trader_alerts_dead_lettered_total",
        "whale_trader_system_cpu_percent",
        "whale_trader_system_memory_percent",
        "whale_trader_disk_used_percent",
        "whale_trader_process_resident_memory_bytes",
        "whale_trader_component_severity",
    ] {
        assert!(metrics.contains(&format!("# TYPE {family} ")), "no {family} in /metrics:\n{metrics}");
    }
    assert!(metrics.contains("whale_trader_decisions_total{reason=\"copied\"}"), "{metrics}");
    assert!(metrics.contains("whale_trader_alerts_delivered_total{channel=\"file\"}"), "{metrics}");
    let metrics_file = ws.path().join("metrics.txt");
    std::fs::write(&metrics_file, &metrics).unwrap();
    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&metrics_file).unwrap())
        .output()
        .expect("promtool is needed (Debian package prometheus; .ci/run installs it)");
    assert!(
        promtool.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );

    // Requests are timed into performance.log.
    let perf = json_lines(&ws.read("logs/performance.log"));
    assert!(perf.iter().any(|l| l["endpoint"] == "/metrics" && l["status_code"] == 200), "{perf:?}");

    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

#[test]
fn health_that_sees_a_full_disk_moves_trading_to_reducing_with_an_alert() {
    let ws = Workspace::with_default_config("");
    let config = ws
        .read("config/default.toml")
        .replace("disk_warning_percent = 80", "disk_warning_percent = 0")
        .replace("disk_critical_percent = 95", "disk_critical_percent = 0.01")
        .replace("system_interval_secs = 60", "system_interval_secs = 1");
    ws.write("config/default.toml", &config);
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    // No trades: trading is Active until health holds it.
    ws.write("quiet_session.jsonl", "");
    let quiet = ws.path().join("quiet_session.jsonl");
    let mut daemon = ws.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", quiet.to_str().unwrap())]);
    let held = wait_until(Duration::from_secs(60), || {
        json_lines(&ws.read("logs/trade_audit.log"))
            .iter()
            .any(|l| l["event"] == "trading_state_changed" && l["to"] == "reducing" && l["reason"] == "health_degraded")
    });
    assert!(held, "no health hold in the audit trail:\n{}", ws.read("logs/trade_audit.log"));
    let alerted = wait_until(Duration::from_secs(5), || {
        json_lines(&ws.read("logs/alerts.log")).iter().any(|a| {
            a["title"] == "Trading Reducing" && a["message"].as_str().unwrap_or_default().contains("disk nearly full")
        })
    });
    assert!(alerted, "no reducing alert naming the disk: {}", ws.read("logs/alerts.log"));
    // The health change itself is alerted too, at the priority of the new status.
    let health_alerted = wait_until(Duration::from_secs(5), || {
        json_lines(&ws.read("logs/alerts.log")).iter().any(|a| {
            a["title"] == "Health: system critical"
                && a["priority"] == "critical"
                && a["message"].as_str().unwrap_or_default().contains("disk of data directory")
        })
    });
    assert!(health_alerted, "no health-change alert: {}", ws.read("logs/alerts.log"));
    let (status_line, _) = http_get(ws.api_port, "/health");
    assert!(status_line.contains("503"), "a critical disk must make /health answer 503: {status_line}");
    let (code, stdout, stderr) = cli(&ws, &["status"], TOKEN);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("held by     : health_degraded (trading) until it clears"), "{stdout}");
    let checked =
        stdout.lines().skip_while(|l| !l.starts_with("health        :")).skip(1).take_while(|l| l.starts_with("  "));
    assert!(checked.filter(|l| l.contains("(checked ")).count() >= 2, "no component health in status: {stdout}");
    // A resume cannot lift the health hold, and says it still holds trading.
    let (code, stdout, stderr) = cli(&ws, &["resume"], TOKEN);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("still holding it: health_degraded"), "{stdout}");
    assert!(stdout.contains("trading state: reducing"), "{stdout}");
    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}
