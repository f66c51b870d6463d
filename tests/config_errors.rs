//! Configuration problems as an operator meets them through the binary: each is refused with
//! exit 2 and a message naming the setting, and a value that came from the environment (where
//! the secrets live) never appears in any output or log, whatever went wrong with it.

mod support;

use std::process::Output;

use support::Workspace;

/// Shaped like a signer's private key, so that a leak would be a real one.
const CANARY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Runs `check-config` and `run` with `env`; both must refuse with exit 2 and say `expected`.
fn refused(ws: &Workspace, env: &[(&str, &str)], expected: &[&str]) -> String {
    let mut all = String::new();
    for args in [&["check-config"][..], &["run"][..]] {
        let output = ws.command(args).envs(env.iter().copied()).output().expect("run whale-trader");
        let said = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?} must refuse the config:\n{said}");
        for part in expected {
            assert!(said.contains(part), "{args:?} must say {part:?}:\n{said}");
        }
        all.push_str(&said);
    }
    all.push_str(&ws.all_logs());
    all
}

fn assert_no_canary(everything: &str) {
    assert!(!everything.contains(CANARY), "the environment's value leaked:\n{everything}");
    assert!(!everything.contains(&CANARY[2..20]), "part of the environment's value leaked:\n{everything}");
}

#[test]
fn a_type_error_from_the_environment_names_the_variable_and_type_never_the_value() {
    let ws = Workspace::with_default_config("");
    let everything = refused(
        &ws,
        &[("WHALE_TRADER__API__PORT", CANARY), ("WHALE_TRADER__RISK__DRAWDOWN__MAX_DRAWDOWN_PERCENT", CANARY)],
        &["api.port", "WHALE_TRADER__API__PORT", "expected u16", "risk.drawdown.max_drawdown_percent"],
    );
    assert_no_canary(&everything);
}

#[test]
fn a_validation_error_from_the_environment_never_quotes_the_value() {
    // Rules that quote the value (`api.bind = "…": must be an IP address`, the log filter's
    // parser error) must not quote one that came from the environment.
    let ws = Workspace::with_default_config("");
    let everything = refused(
        &ws,
        &[("WHALE_TRADER__API__BIND", CANARY), ("WHALE_TRADER__LOGGING__LEVEL", &format!("info,{CANARY}=[{CANARY}"))],
        &["api.bind", "must be an IP address", "logging.level"],
    );
    assert_no_canary(&everything);
}

#[test]
fn an_env_file_value_is_never_echoed_either() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__ALERTS__QUEUE_CAPACITY={CANARY}\nWHALE_TRADER__DAEMON__MODE={CANARY}\n"));
    let everything = refused(&ws, &[], &["alerts.queue_capacity", "daemon.mode", "expected one of"]);
    assert_no_canary(&everything);
}

#[test]
fn a_secret_written_in_the_config_file_is_refused_with_where_it_belongs() {
    let ws = Workspace::with_default_config("");
    let config = ws
        .read("config/default.toml")
        .replacen("private_key = \"\"", &format!("private_key = \"{CANARY}\""), 1)
        .replacen("\ntoken = \"\"", "\ntoken = \"zz-file-token-71c2\"", 1);
    ws.write("config/default.toml", &config);
    let everything = refused(
        &ws,
        &[],
        &[
            "polymarket.credentials.private_key",
            "WHALE_TRADER__POLYMARKET__CREDENTIALS__PRIVATE_KEY",
            "must not be written in the config file",
            "api.token",
            "WHALE_TRADER__API__TOKEN",
        ],
    );
    assert_no_canary(&everything);
    assert!(!everything.contains("zz-file-token-71c2"), "{everything}");
}

#[test]
fn webhook_and_heartbeat_urls_are_validated_like_the_slack_one() {
    let ws = Workspace::with_default_config("");
    let bad_url = format!("hooks.example.com/{CANARY}");
    let everything = refused(
        &ws,
        &[
            ("WHALE_TRADER__ALERTS__WEBHOOK__ENABLED", "true"),
            ("WHALE_TRADER__ALERTS__WEBHOOK__URL", &bad_url),
            ("WHALE_TRADER__ALERTS__HEARTBEAT__ENABLED", "true"),
            ("WHALE_TRADER__ALERTS__HEARTBEAT__URL", &bad_url),
            ("WHALE_TRADER__ALERTS__SLACK__ENABLED", "true"),
            ("WHALE_TRADER__ALERTS__SLACK__WEBHOOK_URL", "slack-hook-without-a-scheme"),
        ],
        &[
            "alerts.webhook.url",
            "alerts.heartbeat.url",
            "alerts.slack.webhook_url",
            "must be an http:// or https:// URL",
        ],
    );
    assert_no_canary(&everything);
}

#[test]
fn nan_and_inf_in_the_file_are_reported_as_what_they_are() {
    let ws = Workspace::with_default_config("");
    let config = ws
        .read("config/default.toml")
        .replacen("max_drawdown_percent = 15", "max_drawdown_percent = nan", 1)
        .replacen("fixed_usd = 50", "fixed_usd = -inf", 1);
    ws.write("config/default.toml", &config);
    let said = refused(
        &ws,
        &[],
        &[
            "risk.drawdown.max_drawdown_percent = nan: not a number; write a finite decimal",
            "copy.fixed_usd = -inf: infinite; write a finite decimal",
        ],
    );
    assert!(!said.contains("null"), "{said}");
}

#[test]
fn a_malformed_env_file_line_is_located_not_quoted() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("# secrets\nWHALE_TRADER__API__TOKEN='{CANARY}\n"));
    let everything = refused(&ws, &[], &["line 2 cannot be parsed"]);
    assert_no_canary(&everything);
}

#[test]
fn a_value_that_is_not_unicode_is_named_not_quoted() {
    use std::os::unix::ffi::OsStrExt;
    let ws = Workspace::with_default_config("");
    let mut value = CANARY.as_bytes().to_vec();
    value.push(0xff);
    let value = std::ffi::OsStr::from_bytes(&value);
    for args in [&["check-config"][..], &["run"][..]] {
        let output = ws.command(args).env("WHALE_TRADER__API__TOKEN", value).output().expect("run whale-trader");
        let said = text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}:\n{said}");
        assert!(
            said.contains("WHALE_TRADER__API__TOKEN = *** (set in the environment): must be valid UTF-8"),
            "{args:?}:\n{said}"
        );
        assert_no_canary(&said);
    }
}

/// The config crate reads names as path expressions: `x[3000000]` grew an array of three million
/// entries (670 MB) before it was reported as an unknown key, and a larger index aborted.
#[test]
fn a_name_with_an_index_is_refused_without_building_it() {
    let ws = Workspace::with_default_config("");
    let big = ws.read("config/default.toml") + "\n[\"y[3000000000]\"]\nz = 1\n";
    ws.write("config/default.toml", &big);
    let output = ws.command(&["check-config"]).env("WHALE_TRADER__X[3000000000]", "1").output().expect("run");
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains("WHALE_TRADER__X[3000000000] = *** (set in the environment): is not a setting's variable"),
        "{said}"
    );
    assert!(said.contains("\"y[3000000000]\""), "{said}");
}
