//! The daemon as a user meets it: `check-config`, `run`, signals, task failure, secrets.

mod support;

use std::time::Duration;

use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

const SECRET: &str = "s3cr3t-token-that-must-never-leak-7f2c";

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

    let console = ws.read("console.out");
    assert!(console.contains("whale-trader stopped"), "the console shows the daemon's log: {console}");
    let everything = format!("{}{console}{}", ws.all_logs(), ws.read("console.err"));
    assert!(!everything.contains(SECRET), "the secret leaked");
}

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
