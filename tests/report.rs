//! `whale-trader report` on the store the daemon wrote while replaying the sample session, and
//! `replay --report`: the headline figures of `report.json` recomputed here from the SQLite file
//! with plain SQL, the PNGs decoded and checked for size and content, and the HTML page opened in
//! headless Chromium (no console errors, every chart drawn with a size).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use support::{Workspace, browser, json_lines, signal, wait_until, wait_with_limit};

const CHARTS: [&str; 8] =
    ["equity", "drawdown", "daily_pnl", "whale_pnl", "hold_time", "r_multiple", "exposure", "rejections"];

fn dec(value: &serde_json::Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap_or_else(|| panic!("not a decimal string: {value}"))).unwrap()
}

/// A closed position as the file holds it.
struct Closed {
    id: String,
    whale: String,
    pnl: Decimal,
    closed_at: i64,
}

fn closed_positions(store: &Path) -> Vec<Closed> {
    let conn = rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare("SELECT position_id, whale_wallet, realised_pnl, closed_at FROM positions WHERE status = 'closed'")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Closed {
            id: r.get(0)?,
            whale: r.get(1)?,
            pnl: Decimal::from_str(&r.get::<_, String>(2)?).unwrap(),
            closed_at: r.get(3)?,
        })
    })
    .unwrap()
    .collect::<Result<Vec<_>, _>>()
    .unwrap()
}

fn rejections(store: &Path) -> BTreeMap<String, u64> {
    let conn = rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare("SELECT reason_code, COUNT(*) FROM decision_audit WHERE decision = 'rejected' GROUP BY 1")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn starting_equity(ws: &Workspace) -> Decimal {
    let config: toml::Value = toml::from_str(&ws.read("config/default.toml")).unwrap();
    Decimal::from_str(&config["risk"]["starting_balance_usd"].to_string()).unwrap()
}

/// Every PNG: the chart's size, some KB, and drawn (many colours, a good share of non-white pixels).
fn check_pngs(dir: &Path) {
    for name in CHARTS {
        let path = dir.join(format!("{name}.png"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(bytes.len() > 8 * 1024, "{name}.png is only {} bytes", bytes.len());
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let (width, height) = (reader.info().width, reader.info().height);
        assert_eq!((width, height), (1000, 480), "{name}.png");
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buf).unwrap();
        let channels = frame.color_type.samples();
        let pixels: Vec<&[u8]> = buf[..frame.buffer_size()].chunks(channels).collect();
        let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
        let non_white = pixels.iter().filter(|p| p.iter().take(3).any(|c| *c < 240)).count();
        assert!(colours.len() > 16, "{name}.png has {} colours", colours.len());
        assert!(non_white * 100 > pixels.len(), "{name}.png is nearly blank: {non_white} of {} pixels", pixels.len());
        let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.len() > 2000, "{name}.svg");
    }
}

async fn check_in_browser(dir: &Path) {
    if !browser::available_or_skip("report renders in headless Chromium") {
        return;
    }
    let browser = browser::Browser::start(dir).await;
    browser.open(&format!("file://{}", dir.join("report.html").display())).await;
    let sizes = browser
        .execute(
            "return Array.from(document.querySelectorAll('figure.chart')).map(f => { \
               const s = f.querySelector('svg'); const r = s ? s.getBoundingClientRect() : {width: 0, height: 0}; \
               return [f.id, r.width, r.height]; });",
        )
        .await;
    let sizes = sizes.as_array().unwrap_or_else(|| panic!("not a list: {sizes}"));
    let ids: Vec<&str> = sizes.iter().map(|s| s[0].as_str().unwrap()).collect();
    assert_eq!(ids, CHARTS.map(|c| format!("chart-{c}")).iter().map(String::as_str).collect::<Vec<_>>());
    for s in sizes {
        assert!(s[1].as_f64() > Some(100.0) && s[2].as_f64() > Some(40.0), "a chart drawn without a size: {s}");
    }
    let title = browser.execute("return document.querySelector('#whales').innerText;").await;
    assert!(title.as_str().unwrap().contains("alpha (synthetic)"), "whale labels in the table: {title}");
    let severe: Vec<_> = browser.console().await.into_iter().filter(|e| e["level"] == "SEVERE").collect();
    assert!(severe.is_empty(), "console errors: {severe:?}");
    // The console is really read: an error on purpose shows up.
    browser.execute("console.error('report-test-probe'); return 1;").await;
    let probe = browser.console().await;
    assert!(
        probe
            .iter()
            .any(|e| e["level"] == "SEVERE" && e["message"].as_str().is_some_and(|m| m.contains("report-test-probe"))),
        "the console probe was not seen: {probe:?}"
    );
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_report_matches_an_independent_computation_and_renders() {
    let ws = Workspace::with_default_config("");
    let mut daemon = ws.spawn_daemon(&[]);
    let replayed = wait_until(Duration::from_secs(90), || ws.read("logs/main.log").contains("replay finished"));
    assert!(replayed, "the sample session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    let store = ws.path().join("data/whale-trader.paper.replay.db");
    let settled = wait_until(Duration::from_secs(30), || {
        let audit = json_lines(&ws.read("logs/trade_audit.log"));
        let closes = audit.iter().filter(|l| l["event"] == "trade_closed").count();
        store.is_file() && closed_positions(&store).len() == closes && closes > 0
    });
    assert!(settled, "the store never caught up with the audit trail's closes");
    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(30));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());

    // The daemon is down: the report reads the file.
    let out = ws.output(&["report", "--out", "report"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = ws.path().join("report");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();

    // Independent figures from the file.
    let mut closed = closed_positions(&store);
    assert!(closed.len() >= 4, "the sample session must close trades to compare");
    closed.sort_by(|a, b| (a.closed_at, &a.id).cmp(&(b.closed_at, &b.id)));
    let total: Decimal = closed.iter().map(|c| c.pnl).sum();
    let wins = closed.iter().filter(|c| c.pnl > Decimal::ZERO).count();
    let gross_profit: Decimal = closed.iter().map(|c| c.pnl).filter(|p| *p > Decimal::ZERO).sum();
    let gross_loss: Decimal = closed.iter().map(|c| c.pnl).filter(|p| *p < Decimal::ZERO).sum();
    let (mut equity, mut peak, mut max_dd) = (starting_equity(&ws), starting_equity(&ws), Decimal::ZERO);
    for c in &closed {
        equity += c.pnl;
        peak = peak.max(equity);
        max_dd = max_dd.max(peak - equity);
    }
    let mut per_whale: BTreeMap<String, Decimal> = BTreeMap::new();
    for c in &closed {
        *per_whale.entry(c.whale.clone()).or_default() += c.pnl;
    }

    assert_eq!(dec(&json["total_pnl"]), total);
    assert_eq!(json["closed_trades"].as_u64(), Some(closed.len() as u64));
    let win_rate = (Decimal::from(wins) * Decimal::ONE_HUNDRED / Decimal::from(closed.len())).round_dp(2);
    assert_eq!(dec(&json["win_rate_percent"]), win_rate);
    assert!(gross_loss < Decimal::ZERO, "the sample session loses on some trades");
    assert_eq!(dec(&json["profit_factor"]), (gross_profit / -gross_loss).round_dp(4));
    assert!(max_dd > Decimal::ZERO, "the sample session has a drawdown");
    assert_eq!(dec(&json["max_drawdown_usd"]), max_dd);
    let reported: BTreeMap<String, Decimal> = json["whales"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["wallet"].as_str().unwrap().to_owned(), dec(&w["pnl"])))
        .collect();
    assert_eq!(reported, per_whale);
    let reported_rejections: BTreeMap<String, u64> = json["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["reason"].as_str().unwrap().to_owned(), r["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(reported_rejections, rejections(&store));
    assert!(!reported_rejections.is_empty(), "the sample session refuses some whale trades");

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("alpha (synthetic)") && html.contains("0xc6ef"), "whale labels beside their ids");
    check_pngs(&dir);
    check_in_browser(&dir).await;

    // A window with no trades in it, and a bad bound named by its flag.
    let out = ws.output(&["report", "--out", "empty", "--until", "2001-01-01"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let empty: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("empty/report.json")).unwrap()).unwrap();
    assert_eq!((empty["closed_trades"].as_u64(), empty["open_trades"].as_u64()), (Some(0), Some(0)));
    let out = ws.output(&["report", "--out", "bad", "--since", "last week"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn replay_report_has_the_replays_figures() {
    let ws = Workspace::with_default_config("");
    let out = ws.output(&["replay", "--json", "--report", "replayed"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = ws.path().join("replayed");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    // The audit records carry each trade's P&L to 6 places: their sum may differ from the rounded
    // total by half a millionth per trade.
    let closed = json["closed_trades"].as_u64().unwrap();
    let difference = (dec(&json["total_pnl"]) - dec(&summary["realised_pnl_usd"])).abs();
    assert!(
        difference <= Decimal::new(5, 7) * Decimal::from(closed),
        "{} vs {}",
        json["total_pnl"],
        summary["realised_pnl_usd"]
    );
    assert_eq!(json["closed_trades"], summary["trades_closed"]);
    assert_eq!(json["rejected"], summary["trades_rejected"]);
    assert_eq!(json["open_trades"], summary["open_positions"]);
    assert!(json["source"].as_str().unwrap().starts_with("replay "), "{}", json["source"]);
    check_pngs(&dir);
}
