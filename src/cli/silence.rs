//! `silence add`, `silence list`, `silence expire`: through the running daemon's control API, the
//! same entry point the Telegram bot uses. With no daemon, `list` reads the store; `add` and
//! `expire` refuse, since a silence acts on a running daemon's alerts.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::SilenceAction;
use super::control::{block_on, fail};
use super::exit;
use crate::alerts::{Matcher, Silence, parse_duration};
use crate::api::{ApiClient, ClientError};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::runtime::silences::silence_line;
use crate::store::SqliteStore;

const NO_DAEMON: &str = "no daemon is running; silences apply to a running daemon's alerts";

pub fn run(config: &Config, action: &SilenceAction) -> ExitCode {
    match action {
        SilenceAction::Add { matchers, duration, reason, json } => {
            // Checked here too, so a typo is named even with the daemon stopped.
            let checked = matchers.iter().try_for_each(|m| Matcher::parse(m).map(drop));
            if let Err(e) = checked.and_then(|()| parse_duration(duration).map(drop)) {
                eprintln!("error: {e}");
                return ExitCode::from(exit::BAD_CONFIG);
            }
            let body = json!({ "matchers": matchers, "duration": duration, "reason": reason, "by": "cli" });
            post(config, "/silences", &body, *json)
        }
        SilenceAction::Expire { id, json } => {
            if id.is_empty() || id.len() > 100 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                eprintln!("error: silence id {id:?} must be letters and digits, as `silence list` shows it (S0001)");
                return ExitCode::from(exit::BAD_CONFIG);
            }
            post(config, &format!("/silences/{id}/expire"), &json!({ "by": "cli" }), *json)
        }
        SilenceAction::List { json } => list(config, *json),
    }
}

fn post(config: &Config, path: &str, body: &Value, json: bool) -> ExitCode {
    let client = ApiClient::new(&config.api);
    match block_on(client.post_json(path, body)) {
        Ok(Ok((200, reply))) => {
            if json {
                println!("{reply}");
            } else {
                println!("{}", reply["message"].as_str().unwrap_or("done"));
            }
            ExitCode::from(exit::OK)
        }
        Ok(Ok((code, reply))) => answered(code, &reply),
        Ok(Err(ClientError::Unreachable { .. })) => fail(NO_DAEMON),
        Ok(Err(ClientError::NoToken)) => {
            eprintln!("error: {}", ClientError::NoToken);
            ExitCode::from(exit::BAD_CONFIG)
        }
        Ok(Err(e)) => fail(&e.to_string()),
        Err(e) => fail(&e),
    }
}

fn list(config: &Config, json: bool) -> ExitCode {
    let client = ApiClient::new(&config.api);
    let silences = match block_on(client.get("/silences")) {
        Ok(Ok((200, reply))) => match serde_json::from_value::<Vec<Silence>>(reply["silences"].clone()) {
            Ok(silences) => silences,
            Err(e) => return fail(&format!("the daemon's silences could not be read: {e}")),
        },
        Ok(Ok((code, reply))) => return answered(code, &reply),
        Ok(Err(ClientError::Unreachable { .. })) => match offline(config) {
            Ok(silences) => {
                eprintln!("whale-trader: no daemon is running; silences as the store recorded them");
                silences
            }
            Err(e) => return fail(&format!("no daemon is running and the store cannot be read: {e}")),
        },
        Ok(Err(e)) => return fail(&e.to_string()),
        Err(e) => return fail(&e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&silences).unwrap_or_default());
    } else if silences.is_empty() {
        println!("no silence is in force");
    } else {
        for silence in &silences {
            println!("{}", silence_line(silence));
        }
    }
    ExitCode::from(exit::OK)
}

/// The silences of the configured store still in force now.
fn offline(config: &Config) -> Result<Vec<Silence>, crate::store::StoreError> {
    let store = SqliteStore::open_read_only_for(&config.store, config.daemon.mode, config.feed.source)?;
    let now = SystemClock.now();
    Ok(store.silences()?.into_iter().filter(|s| s.is_active(now)).collect())
}

fn answered(code: u16, reply: &Value) -> ExitCode {
    match reply["message"].as_str() {
        Some(message) => fail(&format!("the daemon answered {code}: {message}")),
        None => fail(&format!("the daemon answered {code}: {reply}")),
    }
}
