//! `signals submit FILE`, `signals close PLAN_ID --exit-price P`, `signals summary`, `signals
//! stats`: the trade-plan commands, through the running daemon's control API (the risk manager
//! that decides a plan lives in the daemon).

use std::io::Read;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::SignalsAction;
use super::control::{block_on, fail};
use super::exit;
use crate::api::{ApiClient, ClientError};
use crate::config::Config;
use crate::plans::{MAX_PLAN_BYTES, PlanWire};

const NO_DAEMON: &str = "no daemon is running; trade plans are decided by a running daemon";

pub fn run(config: &Config, action: &SignalsAction) -> ExitCode {
    match action {
        SignalsAction::Submit { file, json } => match read_plan(file, config.signals.max_plan_bytes) {
            Ok(plan) => send(config, Request::Post("/signals", plan), *json),
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(exit::BAD_CONFIG)
            }
        },
        SignalsAction::Close { plan_id, exit_price, json } => {
            let body = json!({ "exit_price": exit_price.to_string() });
            send(config, Request::Post(&format!("/signals/{plan_id}/close"), body), *json)
        }
        SignalsAction::Summary { json } => send(config, Request::Post("/signals/summary", json!({})), *json),
        SignalsAction::Stats { json } => send(config, Request::Get("/signals"), *json),
    }
}

/// Reads one plan (`-` for standard input), bounded, and checks that it is a plan at all; the
/// daemon decides the rest.
fn read_plan(file: &str, max_bytes: usize) -> Result<Value, String> {
    let limit = (max_bytes.min(MAX_PLAN_BYTES) + 1) as u64;
    let mut bytes = Vec::new();
    let read = if file == "-" {
        std::io::stdin().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("cannot read {file}: {e}"))?;
    let plan = PlanWire::from_json(&bytes, max_bytes).map_err(|e| format!("{file}: {e}"))?;
    serde_json::to_value(plan).map_err(|e| format!("{file}: {e}"))
}

enum Request<'a> {
    Get(&'a str),
    Post(&'a str, Value),
}

fn send(config: &Config, request: Request<'_>, json: bool) -> ExitCode {
    let client = ApiClient::new(&config.api);
    let answer = match &request {
        Request::Get(path) => block_on(client.get(path)),
        Request::Post(path, body) => block_on(client.post_json(path, body)),
    };
    match answer {
        Ok(Ok((code, reply))) => {
            if json {
                println!("{reply}");
            } else {
                print_human(&reply);
            }
            match code {
                200 => ExitCode::from(exit::OK),
                _ => {
                    if !json {
                        eprintln!("whale-trader: the daemon answered {code}");
                    }
                    ExitCode::from(exit::FAILURE)
                }
            }
        }
        Ok(Err(ClientError::Unreachable { .. })) => fail(NO_DAEMON),
        Ok(Err(ClientError::NoToken)) => {
            eprintln!("error: {}", ClientError::NoToken);
            ExitCode::from(exit::BAD_CONFIG)
        }
        Ok(Err(e)) => fail(&e.to_string()),
        Err(e) => fail(&e),
    }
}

/// The message when the answer has one, else the answer itself, pretty.
fn print_human(reply: &Value) {
    match reply["message"].as_str() {
        Some(message) => println!("{message}"),
        None => println!("{}", serde_json::to_string_pretty(reply).unwrap_or_default()),
    }
}
