//! `status`, `halt`, `resume`, `kill`: the CLI verbs that talk to the running daemon.

use std::process::ExitCode;

use super::exit;
use crate::api::{ApiClient, ClientError, StatusView};
use crate::config::Config;

/// Runs one async client call on a small runtime.
fn block_on<T>(future: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(future))
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// `whale-trader status`: the running daemon's view.
pub fn status(config: &Config, json: bool) -> ExitCode {
    let client = ApiClient::new(&config.api);
    match block_on(client.get("/status")) {
        Ok(Ok((200, body))) => match serde_json::from_value::<StatusView>(body.clone()) {
            Ok(view) => print_view(&view, json),
            Err(e) => fail(&format!("the daemon's status could not be read: {e}")),
        },
        Ok(Ok((code, body))) => fail(&format!("the daemon answered {code}: {body}")),
        Ok(Err(e)) => fail(&e.to_string()),
        Err(e) => fail(&e),
    }
}

fn print_view(view: &StatusView, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(view).unwrap_or_default());
    } else {
        print!("{}", view.render());
    }
    ExitCode::from(exit::OK)
}

/// `halt`, `resume`, `kill`: POST to the daemon and print its answer.
pub fn post(config: &Config, path: &str, reason: Option<&str>, json: bool) -> ExitCode {
    let client = ApiClient::new(&config.api);
    match block_on(client.control(path, reason)) {
        Ok(Ok(reply)) => {
            if json {
                println!("{reply}");
            } else {
                let message = reply["message"].as_str().unwrap_or("done");
                let state = reply["trading_state"].as_str().unwrap_or("unknown");
                println!("{message}\ntrading state: {state}");
            }
            ExitCode::from(exit::OK)
        }
        Ok(Err(ClientError::NoToken)) => {
            eprintln!("error: {}", ClientError::NoToken);
            ExitCode::from(exit::BAD_CONFIG)
        }
        Ok(Err(e)) => fail(&e.to_string()),
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::FAILURE)
}
