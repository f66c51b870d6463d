//! The embedded demo and real wallets never share state: the real binary replays the bundled
//! session (the default config; it ends with the breaker tripped and trading `reducing`), then, in
//! the same workspace, runs in paper mode on `feed.source = "polymarket"` against the loopback
//! stand-in of Polymarket. The second run starts clean — `active`, no positions, no P&L — from a
//! database file of its own, and `whale-trader status` names the file, the mode and the feed it
//! reads, from the daemon and offline alike.

mod support;

use std::process::Output;
use std::time::Duration;

use rust_decimal::Decimal;
use support::venue::{LIMIT, LocalVenue, daemon_env, stop_daemon};
use support::{Workspace, signal, wait_until, wait_with_limit};
use whale_trader::api::StatusView;

const DEMO_DB: &str = "data/whale-trader.paper.replay.db";
const REAL_DB: &str = "data/whale-trader.paper.polymarket.db";

fn status(ws: &Workspace, envs: &[(&str, String)]) -> StatusView {
    let out: Output = ws
        .command(&["status", "--json"])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run whale-trader status");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn started(ws: &Workspace) -> usize {
    ws.read("logs/main.log").matches("running in paper mode").count()
}

#[test]
fn a_paper_run_on_real_wallets_starts_clean_after_the_demo_in_a_file_of_its_own() {
    let ws = Workspace::with_default_config("");
    // `status` asks the running daemon, whose /status needs the API token.
    ws.write(".env", "WHALE_TRADER__API__TOKEN=store-per-feed-token\n");

    // The demo, replayed to its end.
    let mut demo = ws.spawn_daemon(&[]);
    let finished = wait_until(Duration::from_secs(120), || ws.read("logs/main.log").contains("replay finished"));
    signal(&demo, "TERM");
    let (code, _) = wait_with_limit(&mut demo, Duration::from_secs(20));
    assert!(finished, "the sample session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    assert_eq!(code.and_then(|c| c.code()), Some(0), "{}", ws.read("console.err"));
    let after_demo = status(&ws, &[]);
    assert_eq!(after_demo.source, "store");
    assert_eq!(after_demo.trading_state, "reducing", "the demo ends with the breaker tripped: {after_demo:?}");
    assert!(after_demo.realised_pnl.is_some_and(|p| p < Decimal::ZERO), "{after_demo:?}");
    let store = after_demo.store.clone().expect("offline status names its store");
    assert_eq!((store.path.as_str(), store.mode.as_str(), store.feed_source.as_str()), (DEMO_DB, "paper", "replay"));
    assert!(!ws.path().join(REAL_DB).exists());

    // Real wallets, paper mode, same workspace: nothing of the demo carries over.
    let venue = LocalVenue::start();
    let env = daemon_env(&venue);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let daemon = ws.spawn_daemon(&env_refs);
    let ready = wait_until(LIMIT, || started(&ws) >= 2);
    assert!(ready, "the polymarket run did not start; logs:\n{}{}", ws.all_logs(), ws.read("console.err"));
    let live = status(&ws, &env);
    assert_eq!(live.source, "daemon");
    assert_eq!(live.trading_state, "active", "{live:?}");
    assert!(live.open_positions.is_empty(), "{live:?}");
    assert_eq!((live.daily_pnl, live.realised_pnl), (Some(Decimal::ZERO), Some(Decimal::ZERO)), "{live:?}");
    assert_eq!(live.breaker_trips_today, Some(0));
    let store = live.store.clone().expect("the daemon names its store");
    assert_eq!(
        (store.path.as_str(), store.mode.as_str(), store.feed_source.as_str()),
        (REAL_DB, "paper", "polymarket")
    );
    let text = String::from_utf8_lossy(&ws.command(&["status"]).output().expect("status").stdout).into_owned();
    assert!(text.contains(&format!("store         : {REAL_DB} (paper mode, polymarket feed)")), "{text}");
    stop_daemon(&ws, daemon);

    // Offline, each feed reads its own file; the demo's is as the demo left it.
    let real = status(&ws, &env);
    assert_eq!((real.source.as_str(), real.trading_state.as_str()), ("store", "active"));
    assert_eq!(real.store.map(|s| (s.path, s.feed_source)), Some((REAL_DB.into(), "polymarket".into())));
    let demo_again = status(&ws, &[]);
    assert_eq!(demo_again.trading_state, "reducing");
    assert_eq!(demo_again.realised_pnl, after_demo.realised_pnl);
    assert!(ws.path().join(DEMO_DB).exists() && ws.path().join(REAL_DB).exists());
}
