//! `status`, `whales`, `trades`, `profit`, `daily`, `halt`, `resume`, `kill`, `close`, `adopt`, `drop`, `unmute`: the CLI verbs
//! that talk to the running daemon.

use rust_decimal::Decimal;
use std::process::ExitCode;

use super::exit;
use crate::api::{ApiClient, ClientError, PositionView, StatusView, StoreView};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::history::{self, HistoryQuery};
use crate::market::NameCatalogue;
use crate::store::{SqliteStore, Store};

/// Runs one async client call on a small runtime.
pub(super) fn block_on<T>(future: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(future))
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// `whale-trader status`: the running daemon's view, or, when no daemon answers, what the store
/// recorded (works offline).
pub fn status(config: &Config, json: bool) -> ExitCode {
    let client = ApiClient::new(&config.api);
    match block_on(client.get("/status")) {
        Ok(Ok((200, body))) => match serde_json::from_value::<StatusView>(body) {
            Ok(view) => print_view(&view, json),
            Err(e) => fail(&format!("the daemon's status could not be read: {e}")),
        },
        Ok(Ok((401, _))) if !config.api.token.is_set() => {
            eprintln!("error: the daemon's /status needs the API token: {}", ClientError::NoToken);
            ExitCode::from(exit::BAD_CONFIG)
        }
        Ok(Ok((code, body))) => match body["message"].as_str() {
            Some(message) => fail(&format!("the daemon answered {code}: {message}")),
            None => fail(&format!("the daemon answered {code}: {body}")),
        },
        Ok(Err(ClientError::Unreachable { .. })) => match offline_status(config) {
            Ok(view) => print_view(&view, json),
            Err(e) => fail(&format!("no daemon is running and the store cannot be read: {e}")),
        },
        Ok(Err(e)) => fail(&e.to_string()),
        Err(e) => fail(&e),
    }
}

/// `whale-trader whales`: each copied whale's results and standing as a table, from the running
/// daemon; with none running, each whale's results from the store's trades (its standing, mutes
/// and hit rate live in the daemon's risk state and are not shown then).
pub fn whales(config: &Config, json: bool) -> ExitCode {
    let client = ApiClient::new(&config.api);
    match block_on(client.get("/status")) {
        Ok(Ok((200, body))) => match serde_json::from_value::<StatusView>(body) {
            Ok(view) if json => {
                println!("{}", serde_json::to_string_pretty(&view.whales).unwrap_or_default());
                ExitCode::from(exit::OK)
            }
            Ok(view) => {
                if view.whales.is_empty() {
                    println!("no whale has been copied yet");
                } else {
                    print!("{}", history::render_whale_table(&view.whales));
                }
                ExitCode::from(exit::OK)
            }
            Err(e) => fail(&format!("the daemon's status could not be read: {e}")),
        },
        Ok(Ok((401, _))) if !config.api.token.is_set() => {
            eprintln!("error: the daemon's /status needs the API token: {}", ClientError::NoToken);
            ExitCode::from(exit::BAD_CONFIG)
        }
        Ok(Ok((code, body))) => fail(&format!("the daemon answered {code}: {body}")),
        Ok(Err(ClientError::Unreachable { .. })) => match offline_history(config, &HistoryQuery::Profit) {
            Ok(body) => match serde_json::from_value::<history::ProfitView>(body) {
                Ok(view) if json => {
                    println!("{}", serde_json::to_string_pretty(&view.whales).unwrap_or_default());
                    ExitCode::from(exit::OK)
                }
                Ok(view) => {
                    println!("whales (from the store; standing and mutes need the running daemon)");
                    if view.whales.is_empty() {
                        println!("no whale has been copied yet");
                    }
                    print!("{}", history::render_whales(&view.whales));
                    ExitCode::from(exit::OK)
                }
                Err(e) => fail(&format!("the store's whales could not be read: {e}")),
            },
            Err(e) => fail(&format!("no daemon is running and the store cannot be read: {e}")),
        },
        Ok(Err(e)) => fail(&e.to_string()),
        Err(e) => fail(&e),
    }
}

/// `trades`, `profit`, `daily`: the running daemon's answer (open trades marked at its prices),
/// or, when no daemon answers, the same computation over the store (works offline).
pub fn history(config: &Config, query: &HistoryQuery, json: bool) -> ExitCode {
    let client = ApiClient::new(&config.api);
    let path = query.path();
    let body = match block_on(client.get(&path)) {
        Ok(Ok((200, body))) => body,
        Ok(Ok((401, _))) if !config.api.token.is_set() => {
            eprintln!("error: the daemon's {} needs the API token: {}", route(&path), ClientError::NoToken);
            return ExitCode::from(exit::BAD_CONFIG);
        }
        Ok(Ok((code, body))) => {
            return match body["message"].as_str() {
                Some(message) => fail(&format!("the daemon answered {code}: {message}")),
                None => fail(&format!("the daemon answered {code}: {body}")),
            };
        }
        Ok(Err(ClientError::Unreachable { .. })) => match offline_history(config, query) {
            Ok(body) => body,
            Err(e) => return fail(&format!("no daemon is running and the store cannot be read: {e}")),
        },
        Ok(Err(e)) => return fail(&e.to_string()),
        Err(e) => return fail(&e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
        return ExitCode::from(exit::OK);
    }
    let text = match query {
        HistoryQuery::Trades(_) => serde_json::from_value(body).map(|v| history::render_trades(&v)),
        HistoryQuery::Profit => serde_json::from_value(body).map(|v| history::render_profit(&v)),
        HistoryQuery::Daily { .. } => serde_json::from_value(body).map(|v| history::render_daily(&v)),
    };
    match text {
        Ok(text) => {
            print!("{text}");
            ExitCode::from(exit::OK)
        }
        Err(e) => fail(&format!("the answer to {} could not be read: {e}", route(&path))),
    }
}

fn route(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// The history answer computed from the store of the configured mode and feed source.
fn offline_history(config: &Config, query: &HistoryQuery) -> Result<serde_json::Value, crate::store::StoreError> {
    let names = history::Names::from_config(config);
    let cx = history::Context {
        marks: None,
        names: &names,
        now: SystemClock.now(),
        day_start_utc_minutes: config.risk.day_start_utc_minutes,
        source: "store",
    };
    let path = config.store.path_for(config.daemon.mode, config.feed.source);
    history::answer_from_store(&path, config.store.busy_timeout(), query, &cx)
}

/// The status as the store of the configured mode and feed source last recorded it.
fn offline_status(config: &Config) -> Result<StatusView, crate::store::StoreError> {
    let (mode, source) = (config.daemon.mode, config.feed.source);
    let mut store = SqliteStore::open_read_only_for(&config.store, mode, source)?;
    let report = store.status()?;
    // What the file says it holds; a file written before it said so is named by the config.
    let store_view = StoreView {
        path: store.path().display().to_string(),
        mode: report.mode.clone().unwrap_or_else(|| mode.as_str().into()),
        feed_source: report.feed_source.clone().unwrap_or_else(|| source.as_str().into()),
    };
    let mode = mode.as_str();
    let risk = report.risk_state.as_ref();
    // Names as the daemon cached them: market questions from the store, whale labels from the config.
    let mut names = NameCatalogue::new();
    names.set_whale_labels(config.copy.whales.iter().map(|w| (w.address.as_str(), w.label.as_deref())));
    for name in report.market_names.iter().cloned() {
        names.insert(name);
    }
    let open_positions = report.open_positions.iter().map(|p| PositionView::from(p).named_by(&names)).collect();
    Ok(StatusView {
        source: "store".into(),
        mode: mode.into(),
        trading_state: report.trading_state.clone().unwrap_or_else(|| "active".into()),
        state_reason: report.trading_reason.clone(),
        equity: risk.map(|r| r.start_of_day_equity + r.daily_pnl),
        daily_pnl: risk.map(|r| r.daily_pnl),
        realised_pnl: Some(report.realised_pnl),
        // (peak − equity) / peak, as the drawdown protector computes it, from the saved figures.
        drawdown_percent: risk.and_then(|r| {
            let equity = r.start_of_day_equity + r.daily_pnl;
            (r.peak_equity > Decimal::ZERO)
                .then(|| ((r.peak_equity - equity) / r.peak_equity * Decimal::ONE_HUNDRED).max(Decimal::ZERO))
        }),
        breaker_trips_today: risk.map(|r| r.breaker_trips),
        open_positions,
        limits: serde_json::to_value(&config.risk).unwrap_or_default(),
        store: Some(store_view),
        // The wallet's last reading lives in the running daemon's risk state; offline it is not shown.
        wallet: None,
        whales: Vec::new(),
        // Which rules hold trading, and until when, is the running daemon's to say.
        holds: Vec::new(),
        components: Vec::new(),
        recording: None,
    })
}

fn print_view(view: &StatusView, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(view).unwrap_or_default());
    } else {
        print!("{}", view.render());
    }
    ExitCode::from(exit::OK)
}

/// `halt`, `resume`, `kill`, `close`, `adopt`, `drop`: POST to the daemon and print its answer.
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

pub(super) fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::FAILURE)
}
