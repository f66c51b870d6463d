//! Trade plans executed on a venue's testnet, against the daemon binary and loopback stand-ins of
//! Binance and Bybit that check every signature and speak their documented shapes: a plan's entry
//! is placed, filled in two parts, managed by the plan's targets and stop (the stop moved to the
//! entry after the first target) on the venue's own prices, and closed with its result; a refused
//! order has its reason in the audit trail and frees the plan's risk; a restart mid-order asks
//! the venue and sends nothing twice; an order written ahead but never sent (the process aborted
//! first) is never sent after the restart.

mod support;

use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use support::venue::{records, stop_daemon};
use support::venues::binance::{BinanceVenue, Failure as BinanceFailure};
use support::venues::bybit::{BybitVenue, Failure as BybitFailure};
use support::{Workspace, repo_path, signal, wait_until, wait_with_limit};
use whale_trader::venues::VenueMarket;

const TOKEN: &str = "venue-plans-api-token-51ab";
const KEY: &str = "testnet-key-7f3e9a";
const SECRET: &str = "testnet-secret-never-logged-2b8d";
const SYMBOL: &str = "BTCUSDT";
const LIMIT: Duration = Duration::from_secs(30);
/// The store of a paper daemon on a replayed session.
const STORE: &str = "data/whale-trader.paper.replay.db";

/// What the daemon tests ask of a venue stand-in (both speak the same test controls).
trait StandInVenue {
    /// `binance` or `bybit`: `signals.venue` and the environment names' prefix.
    const NAME: &'static str;
    fn start_futures() -> Self;
    fn url(&self) -> String;
    fn set_quote(&self, symbol: &str, bid: Decimal, ask: Decimal);
    fn fill(&self, client_order_id: &str, quantity: Decimal, price: Decimal);
    fn refuse_next_for_balance(&self);
    fn orders_received(&self, client_order_id: &str) -> usize;
    fn position(&self, symbol: &str) -> Decimal;
}

/// Both stand-ins speak the same test controls; each is started on its futures market.
macro_rules! stand_in_venue {
    ($venue:ty, $failure:path, $name:literal) => {
        impl StandInVenue for $venue {
            const NAME: &'static str = $name;

            fn start_futures() -> Self {
                <$venue>::start(VenueMarket::Futures, KEY, SECRET)
            }

            fn url(&self) -> String {
                <$venue>::url(self)
            }

            fn set_quote(&self, symbol: &str, bid: Decimal, ask: Decimal) {
                <$venue>::set_quote(self, symbol, bid, ask);
            }

            fn fill(&self, client_order_id: &str, quantity: Decimal, price: Decimal) {
                <$venue>::fill(self, client_order_id, quantity, price);
            }

            fn refuse_next_for_balance(&self) {
                self.fail_next(<$failure>::InsufficientBalance);
            }

            fn orders_received(&self, client_order_id: &str) -> usize {
                <$venue>::orders_received(self, client_order_id)
            }

            fn position(&self, symbol: &str) -> Decimal {
                <$venue>::position(self, symbol)
            }
        }
    };
}

stand_in_venue!(BybitVenue, BybitFailure, "bybit");
stand_in_venue!(BinanceVenue, BinanceFailure, "binance");

/// A paper daemon whose plans go to `venue`'s testnet stand-in, keys through the seed's names,
/// orders and prices read every 100 ms.
fn workspace<V: StandInVenue>(venue: &V) -> Workspace {
    let ws = Workspace::with_default_config("");
    let name = V::NAME.to_uppercase();
    ws.write(
        ".env",
        &format!(
            "WHALE_TRADER__API__TOKEN={TOKEN}\n\
             WHALE_TRADER__SIGNALS__VENUE={venue_name}\n\
             WHALE_TRADER__SIGNALS__MAX_POSITION_USD=20000\n\
             WHALE_TRADER__SIGNALS__DOUBLE_FIRE_WINDOW_MINUTES=0\n\
             WHALE_TRADER__SIGNALS__SUMMARY__EVERY_MINUTES=0\n\
             {name}_API_KEY={KEY}\n\
             {name}_API_SECRET={SECRET}\n\
             {name}_TESTNET=true\n\
             WHALE_TRADER__VENUES__{name}__TESTNET_REST_URL={url}\n\
             WHALE_TRADER__VENUES__{name}__ORDER_POLL_MS=100\n\
             WHALE_TRADER__VENUES__{name}__QUOTE_POLL_MS=100\n\
             DEFAULT_ACCOUNT_BALANCE=10000\n\
             MAX_RISK_PER_TRADE=0.01\n",
            venue_name = V::NAME,
            url = venue.url(),
        ),
    );
    ws
}

/// The seed's BTC long (entry 42200, stop 41750, targets 42800 / 43500 / 44200) under `id`.
fn plan(id: &str) -> Value {
    let text = std::fs::read_to_string(repo_path("tests/fixtures/signals/btc_long.json")).expect("fixture");
    let mut plan: Value = serde_json::from_str(&text).expect("fixture json");
    plan["plan_id"] = json!(id);
    plan
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// `POST /signals`: (status, the decision).
fn submit(ws: &Workspace, plan: &Value) -> (u16, Value) {
    runtime().block_on(async {
        let url = format!("http://127.0.0.1:{}/signals", ws.api_port);
        let response = reqwest::Client::new()
            .post(&url)
            .json(plan)
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or_default();
        (status, body["decision"].clone())
    })
}

/// Submits `plan`, expects it approved, and returns its entry's client order id.
fn approved_entry(ws: &Workspace, plan: &Value) -> String {
    let (status, decision) = submit(ws, plan);
    assert_eq!((status, decision["outcome"].as_str()), (200, Some("approved")), "{decision}");
    assert_eq!(decision["order"]["mode"], "paper", "{decision}");
    let id = decision["order"]["client_order_id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("wt-") && id.ends_with("-e") && id.len() <= 36, "{id}");
    id
}

fn spawn(ws: &Workspace, envs: &[(&str, &str)]) -> std::process::Child {
    let quiet = repo_path("tests/fixtures/signals/quiet_session.jsonl");
    let mut all = vec![("WHALE_TRADER__FEED__REPLAY_PATH", quiet.to_str().unwrap_or_default())];
    all.extend_from_slice(envs);
    let daemon = ws.spawn_daemon(&all);
    let up = wait_until(Duration::from_secs(60), || std::net::TcpStream::connect(("127.0.0.1", ws.api_port)).is_ok());
    assert!(up, "the API did not come up; main.log:\n{}", ws.read("logs/main.log"));
    daemon
}

/// Waits for an audit line of `event` that `matches`, and returns it.
fn wait_for_audit(ws: &Workspace, event: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let mut found = None;
    wait_until(LIMIT, || {
        found = records(ws, event).into_iter().find(|l| matches(l));
        found.is_some()
    });
    found.unwrap_or_else(|| {
        panic!(
            "no {event} line as expected; audit:\n{}\nmain.log:\n{}",
            ws.read("logs/trade_audit.log"),
            ws.read("logs/main.log")
        )
    })
}

fn decimal(value: &Value) -> Decimal {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a decimal: {value}"))
}

fn exit_id(entry: &str, n: usize) -> String {
    format!("{}-x{n}", entry.strip_suffix("-e").unwrap_or(entry))
}

/// A plan placed, filled in two parts, a third taken at its first target, the rest at the stop
/// moved to the entry, closed with its result; then a plan refused by the venue.
fn a_plan_lives_its_whole_life<V: StandInVenue>() {
    let venue = V::start_futures();
    venue.set_quote(SYMBOL, dec!(42300), dec!(42310));
    let ws = workspace(&venue);
    let daemon = spawn(&ws, &[]);

    let entry = approved_entry(&ws, &plan("venue-btc-1"));
    assert!(wait_until(LIMIT, || venue.orders_received(&entry) == 1), "the entry never reached the venue");
    let staged = wait_for_audit(&ws, "signal_order", |l| l["client_order_id"] == entry.as_str());
    assert_eq!((staged["kind"].as_str(), staged["price"].as_str()), (Some("entry"), Some("42200")), "{staged}");

    // 0.22222222 BTC sized, 0.222 on the venue's step: filled 0.1, then the rest.
    venue.fill(&entry, dec!(0.1), dec!(42200));
    let part = wait_for_audit(&ws, "signal_fill", |l| l["client_order_id"] == entry.as_str());
    assert_eq!((decimal(&part["filled"]), part["done"].as_bool()), (dec!(0.1), Some(false)), "{part}");
    venue.fill(&entry, dec!(0.122), dec!(42200));
    let full = wait_for_audit(&ws, "signal_fill", |l| l["client_order_id"] == entry.as_str() && l["done"] == true);
    assert_eq!(decimal(&full["filled"]), dec!(0.222), "{full}");
    assert_eq!(venue.position(SYMBOL), dec!(0.222));

    // The first target takes a third at the venue's bid; the stop moves to the entry.
    venue.set_quote(SYMBOL, dec!(42800), dec!(42810));
    let first = exit_id(&entry, 1);
    let taken = wait_for_audit(&ws, "signal_fill", |l| l["client_order_id"] == first.as_str() && l["done"] == true);
    assert_eq!(taken["kind"], "exit (target_1)", "{taken}");
    assert_eq!((decimal(&taken["filled"]), decimal(&taken["average_price"])), (dec!(0.074), dec!(42800)), "{taken}");

    // Below the entry: the moved stop takes the rest, and the plan closes.
    venue.set_quote(SYMBOL, dec!(42150), dec!(42160));
    let closed = wait_for_audit(&ws, "signal_closed", |l| l["plan_id"] == "venue-btc-1");
    let second = exit_id(&entry, 2);
    assert_eq!(venue.orders_received(&second), 1);
    assert_eq!(venue.position(SYMBOL), dec!(0));
    assert_eq!(decimal(&closed["units"]), dec!(0.222), "{closed}");
    // 0.074 × 600 − 0.148 × 50 = 37 before fees (about 7 USD at the venue's maker and taker
    // rates, where the venue's order answers carry them).
    let pnl = decimal(&closed["pnl_usd"]);
    assert!(pnl > dec!(25) && pnl <= dec!(37), "{closed}");
    assert_eq!(decimal(&closed["exit_price"]), dec!(42366.66666667), "{closed}\n{}", ws.read("logs/trade_audit.log"));
    assert!(decimal(&closed["r_multiple"]) > dec!(0), "{closed}");
    for id in [&entry, &first, &second] {
        assert_eq!(venue.orders_received(id), 1, "{id} sent once");
    }
    let store = ws.path().join(STORE);
    // The audit line is written as the engine decides; the store's row with the same step's commit.
    let done_rows = || {
        rusqlite::Connection::open(&store)
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM plan_orders WHERE status = 'done'", [], |r| r.get::<_, i64>(0))
            })
            .unwrap_or_else(|e| panic!("{}: {e}", store.display()))
    };
    assert!(wait_until(LIMIT, || done_rows() == 3), "entry and two exits, each done: {} rows", done_rows());

    // A refusal: its reason in the audit trail, the plan ends unfilled, its risk released.
    venue.refuse_next_for_balance();
    let refused_entry = approved_entry(&ws, &plan("venue-btc-2"));
    let refused = wait_for_audit(&ws, "signal_order_refused", |l| l["client_order_id"] == refused_entry.as_str());
    assert_eq!(refused["reason"], "insufficient_balance", "{refused}");
    assert!(refused["detail"].as_str().is_some_and(|d| !d.is_empty()), "{refused}");
    wait_for_audit(&ws, "signal_unfilled", |l| l["plan_id"] == "venue-btc-2");

    stop_daemon(&ws, daemon);
    for file in ["logs/main.log", "logs/trade_audit.log", "console.out", "console.err"] {
        let text = ws.read(file);
        assert!(!text.contains(SECRET) && !text.contains(KEY), "a key reached {file}");
    }
}

/// SIGKILL with the entry working at the venue; it fills while the daemon is down; the restart
/// asks the venue and follows it, sending nothing again. Then an order written ahead whose process
/// aborted before sending it: after the restart the venue is asked, has never seen it, and it ends
/// unfilled, never sent.
fn a_restart_mid_order_reconciles_and_sends_nothing_twice<V: StandInVenue>() {
    let venue = V::start_futures();
    venue.set_quote(SYMBOL, dec!(42300), dec!(42310));
    let ws = workspace(&venue);
    let daemon = spawn(&ws, &[]);
    let entry = approved_entry(&ws, &plan("venue-btc-restart"));
    assert!(wait_until(LIMIT, || venue.orders_received(&entry) == 1), "the entry never reached the venue");
    signal(&daemon, "KILL");
    let mut daemon = daemon;
    let _ = wait_with_limit(&mut daemon, Duration::from_secs(10));
    venue.fill(&entry, dec!(0.222), dec!(42195));

    let daemon = spawn(&ws, &[]);
    let filled = wait_for_audit(&ws, "signal_fill", |l| l["client_order_id"] == entry.as_str() && l["done"] == true);
    assert_eq!((decimal(&filled["filled"]), decimal(&filled["average_price"])), (dec!(0.222), dec!(42195)));
    assert_eq!(venue.orders_received(&entry), 1, "reconciled, not sent again");
    stop_daemon(&ws, daemon);

    // The process aborts inside the step, before it answers: the order is known from the store,
    // where it was written ahead.
    let mut daemon = spawn(&ws, &[("WHALE_TRADER_FAILPOINT", "abort-before-plan-send")]);
    runtime().block_on(async {
        let url = format!("http://127.0.0.1:{}/signals", ws.api_port);
        let request = reqwest::Client::new().post(&url).json(&plan("venue-btc-aborted")).bearer_auth(TOKEN);
        let _ = request.timeout(Duration::from_secs(20)).send().await;
    });
    let (status, _) = wait_with_limit(&mut daemon, LIMIT);
    assert!(status.is_some_and(|s| !s.success()), "the failpoint did not abort the daemon");
    let store = ws.path().join(STORE);
    let aborted: String = rusqlite::Connection::open(&store)
        .and_then(|c| {
            c.query_row(
                "SELECT client_order_id FROM plan_orders WHERE plan_id = 'venue-btc-aborted' AND status = 'staged'",
                [],
                |r| r.get(0),
            )
        })
        .unwrap_or_else(|e| panic!("the aborted plan's order was not written ahead: {e}"));

    let daemon = spawn(&ws, &[]);
    let refused = wait_for_audit(&ws, "signal_order_refused", |l| l["client_order_id"] == aborted.as_str());
    assert_eq!(refused["reason"], "not_sent", "{refused}");
    wait_for_audit(&ws, "signal_unfilled", |l| l["plan_id"] == "venue-btc-aborted");
    assert_eq!(venue.orders_received(&aborted), 0, "written ahead, never sent, and not sent after the restart");
    assert_eq!(venue.orders_received(&entry), 1);
    stop_daemon(&ws, daemon);
}

#[test]
fn binance_plan_is_placed_filled_managed_by_its_stops_and_closed() {
    a_plan_lives_its_whole_life::<BinanceVenue>();
}

#[test]
fn binance_restart_mid_order_reconciles_and_sends_nothing_twice() {
    a_restart_mid_order_reconciles_and_sends_nothing_twice::<BinanceVenue>();
}

#[test]
fn bybit_plan_is_placed_filled_managed_by_its_stops_and_closed() {
    a_plan_lives_its_whole_life::<BybitVenue>();
}

#[test]
fn bybit_restart_mid_order_reconciles_and_sends_nothing_twice() {
    a_restart_mid_order_reconciles_and_sends_nothing_twice::<BybitVenue>();
}

/// A paper daemon whose plans' venue has no keys, or is set to production, refuses to start and
/// names every unmet condition by the variable that sets it; live mode names them with the rest.
#[test]
fn a_venue_not_ready_for_the_mode_is_refused_at_start_naming_each_condition() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", "WHALE_TRADER__SIGNALS__VENUE=bybit\nBYBIT_TESTNET=false\n");
    let output = ws.command(&["run"]).output().expect("run");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "{said}");
    for named in ["BYBIT_API_KEY, BYBIT_API_SECRET", "venues.bybit.testnet = false in paper mode", "BYBIT_TESTNET=true"]
    {
        assert!(said.contains(named), "{named:?} not in: {said}");
    }

    ws.write(
        ".env",
        "WHALE_TRADER__SIGNALS__VENUE=binance\nWHALE_TRADER__DAEMON__MODE=live\nWHALE_TRADER__FEED__SOURCE=polymarket\n",
    );
    let output = ws.command(&["run", "--live"]).output().expect("run");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "{said}");
    for named in ["BINANCE_API_KEY, BINANCE_API_SECRET", "BINANCE_TESTNET=false", "WHALE_TRADER_LIVE_CONFIRM"] {
        assert!(said.contains(named), "{named:?} not in: {said}");
    }
}
