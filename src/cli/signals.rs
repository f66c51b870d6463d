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

/// The message when the answer has one, the analytics as lines when it is `stats`, else the
/// answer itself, pretty.
fn print_human(reply: &Value) {
    match reply["message"].as_str() {
        Some(message) => println!("{message}"),
        None if reply.get("analytics").is_some() => print!("{}", stats_text(reply)),
        None => println!("{}", serde_json::to_string_pretty(reply).unwrap_or_default()),
    }
}

/// `signals stats` for a person: totals, refusals by reason, tiers, regimes, R:R, hit rate and
/// the plans open now.
fn stats_text(reply: &Value) -> String {
    let a = &reply["analytics"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let pairs = |v: &Value| -> String {
        let Some(map) = v.as_object() else { return "-".into() };
        if map.is_empty() {
            return "-".into();
        }
        map.iter().map(|(k, v)| format!("{k} {}", text(v))).collect::<Vec<_>>().join(", ")
    };
    let mut out = format!(
        "plans received {}, approved {}, rejected {}\n",
        text(&a["received"]),
        text(&a["approved"]),
        text(&a["rejected"])
    );
    out.push_str(&format!("rejected by reason: {}\n", pairs(&a["rejected_by_reason"])));
    out.push_str(&format!("by tier: {}\nby regime: {}\n", pairs(&a["by_tier"]), pairs(&a["by_regime"])));
    out.push_str(&format!(
        "average R:R {}; closed {}, hit rate {}, mean R {}\n",
        text(&a["rr_avg"]),
        text(&a["closes"]),
        text(&a["hit_rate"]),
        text(&a["mean_r"])
    ));
    let open = reply["open_plans"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("open plans: {} ({} USD at their stops)\n", open.len(), text(&reply["open_risk_usd"])));
    for plan in &open {
        out.push_str(&format!(
            "  {} {} {} {} at {}, stop {}, risk {} USD\n",
            text(&plan["plan_id"]),
            text(&plan["direction"]),
            text(&plan["units"]),
            text(&plan["symbol"]),
            text(&plan["entry"]),
            text(&plan["stop"]),
            text(&plan["risk_usd"])
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_read_as_lines() {
        let reply = json!({
            "analytics": {"received": 3, "approved": 2, "rejected": 1, "rejected_by_reason": {"double_fire": 1},
                "by_tier": {"A": 3}, "by_regime": {"trend": 3}, "rr_avg": "2.5", "closes": 1, "hit_rate": "1",
                "mean_r": "2"},
            "open_plans": [{"plan_id": "p-1", "direction": "long", "units": "0.5", "symbol": "BTC/USDT",
                "entry": "42200", "stop": "41750", "risk_usd": "225"}],
            "open_risk_usd": "225",
        });
        assert_eq!(
            stats_text(&reply),
            "plans received 3, approved 2, rejected 1\nrejected by reason: double_fire 1\nby tier: A 3\n\
             by regime: trend 3\naverage R:R 2.5; closed 1, hit rate 1, mean R 2\n\
             open plans: 1 (225 USD at their stops)\n  p-1 long 0.5 BTC/USDT at 42200, stop 41750, risk 225 USD\n"
        );
    }
}
