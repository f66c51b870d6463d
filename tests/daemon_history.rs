//! `trades`, `profit`, `daily` and `whales` against the store the daemon wrote: the same figures
//! from the running daemon and, once it stopped, from the store; every expected figure computed here
//! from the SQLite file directly.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

const TOKEN: &str = "history-token-91c3";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn cli(ws: &Workspace, args: &[&str]) -> (Option<i32>, String, String) {
    let out = ws.command(args).env("WHALE_TRADER__API__TOKEN", TOKEN).output().expect("run the CLI");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cli_json(ws: &Workspace, args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = cli(ws, args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?} is not JSON ({e}): {stdout}"))
}

fn dec(value: &serde_json::Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap_or_else(|| panic!("not a decimal string: {value}"))).unwrap()
}

/// One position row as the file holds it.
struct Row {
    id: String,
    whale: String,
    closed: bool,
    pnl: Option<Decimal>,
    closed_at: Option<i64>,
    opened_at: i64,
}

/// What the store holds, read with plain SQL: the rows and each position's fees.
fn read_store(path: &std::path::Path) -> (Vec<Row>, HashMap<String, Decimal>) {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare("SELECT position_id, whale_wallet, status, realised_pnl, closed_at, opened_at FROM positions")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                id: r.get(0)?,
                whale: r.get(1)?,
                closed: r.get::<_, String>(2)? == "closed",
                pnl: r.get::<_, Option<String>>(3)?.map(|p| Decimal::from_str(&p).unwrap()),
                closed_at: r.get(4)?,
                opened_at: r.get(5)?,
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let mut fees: HashMap<String, Decimal> = HashMap::new();
    let mut stmt = conn.prepare("SELECT client_order_id, fee FROM fills").unwrap();
    let order_fees: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    for (order, fee) in order_fees {
        let position: Option<String> = conn
            .query_row("SELECT position_id FROM orders WHERE client_order_id = ?1", [&order], |r| r.get(0))
            .unwrap();
        if let Some(position) = position {
            *fees.entry(position).or_default() += Decimal::from_str(&fee).unwrap();
        }
    }
    (rows, fees)
}

/// Checks `trades`, `profit` and `daily` (JSON) against the file; `source` is who answered.
fn check_against_store(ws: &Workspace, store: &std::path::Path, source: &str) {
    let (rows, fees) = read_store(store);
    let closed: Vec<&Row> = rows.iter().filter(|r| r.closed).collect();
    assert!(closed.len() >= 2, "the sample session must close trades to compare");

    // trades: every row, newest first, each with its P&L and fees.
    let trades = cli_json(ws, &["trades", "--limit", "1000", "--json"]);
    assert_eq!(trades["source"], source);
    assert_eq!(trades["matched"].as_u64(), Some(rows.len() as u64));
    let listed = trades["trades"].as_array().unwrap();
    let mut newest_first: Vec<&Row> = rows.iter().collect();
    newest_first.sort_by(|a, b| (b.opened_at, &b.id).cmp(&(a.opened_at, &a.id)));
    assert_eq!(
        listed.iter().map(|t| t["id"].as_str().unwrap()).collect::<Vec<_>>(),
        newest_first.iter().map(|r| r.id.as_str()).collect::<Vec<_>>()
    );
    for t in listed {
        let row = rows.iter().find(|r| r.id == t["id"]).unwrap();
        assert_eq!(dec(&t["fees"]), fees.get(&row.id).copied().unwrap_or_default(), "{t}");
        if row.closed {
            assert_eq!(dec(&t["pnl"]), row.pnl.unwrap(), "{t}");
            assert_eq!(t["status"], "closed");
        }
    }
    // --whale and --limit
    let whale = &closed[0].whale;
    let own = cli_json(ws, &["trades", "--whale", whale, "--limit", "1", "--json"]);
    assert_eq!(own["matched"].as_u64(), Some(rows.iter().filter(|r| &r.whale == whale).count() as u64));
    assert_eq!(own["trades"].as_array().map(Vec::len), Some(1));

    // profit
    let realised: Decimal = closed.iter().filter_map(|r| r.pnl).sum();
    let wins = closed.iter().filter(|r| r.pnl.unwrap_or_default() > Decimal::ZERO).count() as u64;
    let losses = closed.iter().filter(|r| r.pnl.unwrap_or_default() < Decimal::ZERO).count() as u64;
    let gross_profit: Decimal = closed.iter().filter_map(|r| r.pnl).filter(|p| *p > Decimal::ZERO).sum();
    let gross_loss: Decimal = closed.iter().filter_map(|r| r.pnl).filter(|p| *p < Decimal::ZERO).sum();
    let profit = cli_json(ws, &["profit", "--json"]);
    assert_eq!(profit["source"], source);
    assert_eq!(dec(&profit["realised_pnl"]), realised);
    assert_eq!(profit["closed_trades"].as_u64(), Some(closed.len() as u64));
    assert_eq!(profit["open_trades"].as_u64(), Some((rows.len() - closed.len()) as u64));
    assert_eq!((profit["wins"].as_u64(), profit["losses"].as_u64()), (Some(wins), Some(losses)));
    assert_eq!(dec(&profit["fees"]), fees.values().copied().sum::<Decimal>());
    let best = closed.iter().filter_map(|r| r.pnl).max().unwrap();
    assert_eq!(dec(&profit["best"]["pnl"]), best);
    if gross_loss < Decimal::ZERO {
        assert_eq!(dec(&profit["profit_factor"]), (gross_profit / -gross_loss).round_dp(4));
    }
    let per_whale: Decimal = profit["whales"].as_array().unwrap().iter().map(|w| dec(&w["realised_pnl"])).sum();
    assert_eq!(per_whale, realised);
    if source == "store" {
        assert!(profit["unrealised_pnl"].is_null(), "offline, unrealised P&L is unknown: {profit}");
    } else {
        assert!(profit["unrealised_pnl"].is_string(), "the daemon marks its open trades: {profit}");
    }

    // daily over a year (days start at midnight UTC in the default config), newest first.
    let daily = cli_json(ws, &["daily", "366", "--json"]);
    assert_eq!(daily["source"], source);
    let days = daily["days"].as_array().unwrap();
    assert_eq!(days.len(), 366);
    let mut expected: BTreeMap<i64, Decimal> = BTreeMap::new();
    for r in &closed {
        *expected.entry(r.closed_at.unwrap().div_euclid(DAY_MS)).or_default() += r.pnl.unwrap_or_default();
    }
    let shown: BTreeMap<i64, Decimal> = days
        .iter()
        .filter(|d| d["closed"].as_u64() > Some(0))
        .map(|d| {
            let start = chrono::DateTime::parse_from_rfc3339(d["starts_at"].as_str().unwrap()).unwrap();
            (start.timestamp_millis().div_euclid(DAY_MS), dec(&d["realised_pnl"]))
        })
        .collect();
    assert_eq!(shown, expected);
    assert_eq!(dec(&daily["total_pnl"]), realised);
}

#[test]
fn trades_profit_and_daily_match_the_store_with_the_daemon_running_and_stopped() {
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let mut daemon = ws.spawn_daemon(&[]);
    let replayed = wait_until(Duration::from_secs(60), || ws.read("logs/main.log").contains("replay finished"));
    assert!(replayed, "the sample session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    let status = cli_json(&ws, &["status", "--json"]);
    let store = ws.path().join(status["store"]["path"].as_str().unwrap());
    // The engine's closes reach the file through the writer: wait until the last one has.
    let settled = wait_until(Duration::from_secs(30), || {
        let audit = json_lines(&ws.read("logs/trade_audit.log"));
        let closed_in_audit = audit.iter().filter(|l| l["event"] == "trade_closed").count();
        read_store(&store).0.iter().filter(|r| r.closed).count() == closed_in_audit && closed_in_audit > 0
    });
    assert!(settled, "the store never caught up with the audit trail's closes");

    check_against_store(&ws, &store, "daemon");
    let (code, text, stderr) = cli(&ws, &["profit"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(text.contains("profit (from the daemon)") && text.contains("win rate"), "{text}");
    let (code, text, _) = cli(&ws, &["whales"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("standing") && text.contains("copies"), "{text}");

    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());

    check_against_store(&ws, &store, "store");
    let (code, text, stderr) = cli(&ws, &["trades", "--limit", "3"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(text.starts_with("trades (from the store): 3 shown"), "{text}");
    let (code, text, stderr) = cli(&ws, &["whales"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(text.contains("from the store") && text.contains("closed"), "{text}");
    let (code, _, stderr) = cli(&ws, &["trades", "--since", "last tuesday"]);
    assert_eq!(code, Some(2), "a bad --since is a usage error");
    assert!(stderr.contains("since"), "{stderr}");
}
