//! `whale-trader fetch-history` end to end: the real binary against a loopback stand-in of the Data
//! API and the CLOB that pages a wallet's activity in small overlapping pages (a row on two pages),
//! throttles once with `429 Retry-After`, and serves price history and market parameters. Each
//! trade lands in the session exactly once, in time order, behind a header that says the books
//! are approximated; a fetch cut short by a failing server resumes to the very same file; and the
//! session replays with copies opened.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Workspace;
use support::history_venue::{History, HistoryVenue};
use support::venue::{MARKET_A, MARKET_B, TOKEN_A, TOKEN_B, WHALE, market_status, now_secs, trade_row};

/// Sample whale "bravo" of `config/default.toml` (alpha is [`WHALE`]).
const BRAVO: &str = "0x554e43cf5e1986336385c3e29d08576c837f6c78";
const NO_A: &str = "11";
const NO_B: &str = "12";

/// The window: a day, starting on a whole hour five days ago; the same for every fetch of the
/// test run, even one that crosses an hour.
fn window() -> (i64, i64) {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let t0 = *T0.get_or_init(|| (now_secs() - 5 * 86_400) / 3_600 * 3_600);
    (t0, t0 + 86_400)
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A trade row of `wallet` (the stand-in's rows are alpha's unless told).
fn by(wallet: &str, mut row: Value) -> Value {
    row["proxy_wallet"] = json!(wallet);
    row
}

/// Alpha buys A, buys B, sells A; bravo buys A between. One alpha trade is before the window and
/// one after it (the stand-in ignores `end`): neither may be in the session.
fn history() -> History {
    let (t0, t1) = window();
    let hour = 3_600;
    let mut history = History { page_rows: 2, throttle: 1, ..Default::default() };
    history.rows = vec![
        by(WHALE, trade_row("BUY", TOKEN_A, MARKET_A, t0 - 100, 400.0, 0.5, "0xa0")),
        by(WHALE, trade_row("BUY", TOKEN_A, MARKET_A, t0 + hour, 400.0, 0.5, "0xa1")),
        by(WHALE, trade_row("BUY", TOKEN_B, MARKET_B, t0 + 2 * hour, 300.0, 0.5, "0xa2")),
        by(WHALE, trade_row("SELL", TOKEN_A, MARKET_A, t0 + 4 * hour, 400.0, 0.55, "0xa3")),
        by(WHALE, trade_row("BUY", TOKEN_A, MARKET_A, t1 + 100, 400.0, 0.5, "0xa4")),
        by(BRAVO, trade_row("BUY", TOKEN_A, MARKET_A, t0 + hour + 1_800, 300.0, 0.5, "0xb1")),
    ];
    // Hourly prices from the window's start: A drifts up a cent an hour, B stays at 0.5.
    let points = |step: f64| (0..24).map(|h| (t0 + h * hour, 0.5 + step * h as f64)).collect::<Vec<_>>();
    history.prices.insert(TOKEN_A.into(), points(0.01));
    history.prices.insert(TOKEN_B.into(), points(0.0));
    history.tokens.insert(MARKET_A.into(), (TOKEN_A.into(), NO_A.into()));
    history.tokens.insert(MARKET_B.into(), (TOKEN_B.into(), NO_B.into()));
    // A is open and ends in a month (a fixed date: two fetches must read the same answer).
    let mut open = market_status(MARKET_A, TOKEN_A, NO_A, false, true, None);
    open["end_date_iso"] = json!(rfc3339(t0 + 35 * 86_400));
    history.markets.insert(MARKET_A.into(), open);
    // B resolves for its Yes five hours in.
    let mut resolved = market_status(MARKET_B, TOKEN_B, NO_B, true, false, Some(TOKEN_B));
    resolved["end_date_iso"] = json!(rfc3339(t0 + 5 * hour));
    history.markets.insert(MARKET_B.into(), resolved);
    history
}

fn workspace(venue: &HistoryVenue) -> Workspace {
    let ws = Workspace::with_default_config("");
    ws.write(
        ".env",
        &[
            format!("WHALE_TRADER__POLYMARKET__DATA_API_URL={}", venue.url()),
            format!("WHALE_TRADER__POLYMARKET__CLOB_URL={}", venue.url()),
            "WHALE_TRADER__POLYMARKET__WHALE_FEED__PAGE_SIZE=2".into(),
            "WHALE_TRADER__POLYMARKET__HTTP__MAX_ATTEMPTS=3".into(),
            "WHALE_TRADER__POLYMARKET__HTTP__BASE_BACKOFF_MS=20".into(),
            "WHALE_TRADER__POLYMARKET__HTTP__MAX_BACKOFF_MS=50".into(),
            "WHALE_TRADER__POLYMARKET__HTTP__REQUEST_TIMEOUT_MS=5000".into(),
            "WHALE_TRADER__POLYMARKET__FETCH_HISTORY__REQUESTS_PER_SEC=50".into(),
        ]
        .join("\n"),
    );
    ws
}

fn fetch(ws: &Workspace, out: &str) -> std::process::Output {
    let (t0, t1) = window();
    let (since, until) = (rfc3339(t0), rfc3339(t1));
    ws.output(&["fetch-history", WHALE, BRAVO, "--since", &since, "--until", &until, "--out", out])
}

fn lines(ws: &Workspace, file: &str) -> Vec<Value> {
    support::json_lines(&ws.read(file))
}

fn text(output: &std::process::Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn each_trade_is_in_the_session_once_in_time_order_behind_a_header_and_it_replays() {
    let venue = HistoryVenue::start(history());
    let ws = workspace(&venue);
    let output = fetch(&ws, "whales.jsonl");
    assert!(output.status.success(), "{}", text(&output));
    // Not a terminal: plain progress lines on stderr, one per unit.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fetch-history: trades 1/2"), "{stderr}");
    assert!(!stderr.contains('\r'), "{stderr}");
    // Alpha: four pages (three overlapping, then the re-read window above its newest trade), each
    // repeated row recognised and skipped.
    assert!(stderr.contains("3 trade(s), 4 page(s), 3 repeated row(s) skipped"), "{stderr}");

    // The 429 was waited out for as long as it said, then asked again.
    let (throttled, next) = venue.with(|h| {
        let at = |prefix: &str| h.seen.iter().find(|(_, r)| r.starts_with(prefix)).map(|(t, _)| *t).unwrap();
        (at("429"), at("GET /v2/activity"))
    });
    assert!(next.duration_since(throttled) >= Duration::from_millis(950), "{:?}", next.duration_since(throttled));
    // Alpha's four rows in pages of two that overlap by a row took more than one page.
    assert!(venue.with(|h| h.count(&format!("GET /v2/activity {WHALE}"))) >= 3);

    let session = lines(&ws, "whales.jsonl");
    let header = &session[0];
    assert_eq!(header["type"], "header");
    assert_eq!(header["header"]["source"], "fetch-history");
    let wallets: Vec<&str> =
        header["header"]["wallets"].as_array().unwrap().iter().map(|w| w["address"].as_str().unwrap()).collect();
    assert_eq!(wallets, vec![WHALE, BRAVO]);
    assert_eq!(header["header"]["wallets"][0]["label"], "alpha (synthetic)");
    assert!(header["header"]["book_approximation"].as_str().unwrap().contains("approximated"), "{header}");

    // Each trade once, the ones outside the window not at all.
    let mut trades: Vec<&str> = session
        .iter()
        .filter(|l| l["type"] == "whale_trade")
        .map(|l| l["trade"]["transactionHash"].as_str().unwrap())
        .collect();
    trades.sort();
    assert_eq!(trades, vec!["0xa1", "0xa2", "0xa3", "0xb1"]);
    // Time order, header first.
    let times: Vec<i64> = session[1..].iter().map(|l| l["ts"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(session[1..].iter().all(|l| l["type"] != "header"));

    // Each market's parameters before anything of it; B's resolution after its last trade.
    let first = |kind: &str, token: &str| {
        session.iter().position(|l| l["type"] == kind && l.to_string().contains(token)).unwrap_or(usize::MAX)
    };
    for (market, token) in [(MARKET_A, TOKEN_A), (MARKET_B, TOKEN_B)] {
        let market_at = session.iter().position(|l| l["type"] == "market" && l["market"]["c"] == market).unwrap();
        assert!(market_at < first("book", token) && market_at < first("whale_trade", token), "{market}");
    }
    let resolutions: Vec<&Value> = session.iter().filter(|l| l["type"] == "resolution").collect();
    assert_eq!(resolutions.len(), 1);
    assert_eq!(
        (resolutions[0]["condition_id"].as_str(), resolutions[0]["winning_token_id"].as_str()),
        (Some(MARKET_B), Some(TOKEN_B))
    );
    assert_eq!(resolutions[0]["ts"].as_i64(), Some((window().0 + 5 * 3_600) * 1000));
    // Bravo's trade between two price points gets the earlier point's book at its own time.
    let bravo_at = (window().0 + 5_400) * 1000;
    assert!(session.iter().any(|l| l["type"] == "book" && l["ts"] == bravo_at && l["book"]["asset_id"] == TOKEN_A));

    // The session replays: copies opened against the approximated books, and the summary says so.
    // Under the live feed's 30 s staleness limit, hourly prices leave the feed stale between two
    // points: the summary says so, and how to replay for the whale rather than the gaps.
    let replay = ws.output(&["replay", "--session", "whales.jsonl", "--json"]);
    assert!(replay.status.success(), "{}", text(&replay));
    let summary: Value = serde_json::from_slice(&replay.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&replay)));
    let warning = summary["source_warning"].as_str().unwrap_or_else(|| panic!("{summary}"));
    assert!(warning.contains("STALE_AFTER_SECS=3660"), "{warning}");
    ws.write(".env", &format!("{}\nWHALE_TRADER__POLYMARKET__PRICE_FEED__STALE_AFTER_SECS=3660\n", ws.read(".env")));
    let replay = ws.output(&["replay", "--session", "whales.jsonl", "--json"]);
    assert!(replay.status.success(), "{}", text(&replay));
    let summary: Value = serde_json::from_slice(&replay.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&replay)));
    assert_eq!(summary["whale_trades_seen"], 4, "{summary}");
    assert_eq!(summary["source_warning"], Value::Null, "{summary}");
    // All three entries copied (alpha's two, bravo's one); alpha's sell closes its A copy, B's
    // resolution settles the B copy, and A's climb takes bravo's copy's profit: nothing is left open.
    assert_eq!(summary["trades_opened"], 3, "{summary}");
    assert_eq!(summary["trades_rejected"], 0, "{summary}");
    assert_eq!(summary["by_reason"]["trade_closed:whale_exit"], 1, "{summary}");
    assert_eq!(summary["by_reason"]["trade_closed:market_resolved"], 1, "{summary}");
    assert_eq!(summary["open_positions"], 0, "{summary}");
    assert_eq!(summary["malformed_lines"], 0, "{summary}");
    assert_eq!(summary["books_refused"], 0, "{summary}");
    assert!(summary["source"]["book_approximation"].as_str().unwrap().contains("approximated"), "{summary}");
    let replay = ws.output(&["replay", "--session", "whales.jsonl"]);
    assert!(String::from_utf8_lossy(&replay.stdout).contains("books             : approximated"), "{}", text(&replay));
}

/// The session without the header's fetch time (the one thing two fetches may not share).
fn without_fetch_time(ws: &Workspace, file: &str) -> Vec<Value> {
    let mut session = lines(ws, file);
    session[0]["header"]["fetched_at"] = Value::Null;
    session
}

#[test]
fn a_fetch_cut_short_resumes_where_it_stopped_and_ends_with_the_same_file() {
    let venue = HistoryVenue::start(history());
    let ws = workspace(&venue);
    // B's prices fail (after retries): trades, markets and A's prices are done, the rest is not.
    venue.with(|h| h.prices_down_for = Some(TOKEN_B.into()));
    let output = fetch(&ws, "cut.jsonl");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("run the same command again"), "{}", text(&output));
    assert!(!ws.path().join("cut.jsonl").exists());
    assert!(ws.path().join("cut.jsonl.partial").exists() && ws.path().join("cut.jsonl.progress").exists());

    // The rerun reads neither the wallets nor A's prices again.
    venue.with(|h| h.prices_down_for = None);
    let (activity, prices_a) =
        venue.with(|h| (h.count("GET /v2/activity"), h.count(&format!("GET /prices-history {TOKEN_A}"))));
    let output = fetch(&ws, "cut.jsonl");
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("done by an earlier run"), "{}", text(&output));
    assert_eq!(venue.with(|h| h.count("GET /v2/activity")), activity);
    assert_eq!(venue.with(|h| h.count(&format!("GET /prices-history {TOKEN_A}"))), prices_a);
    assert!(!ws.path().join("cut.jsonl.partial").exists() && !ws.path().join("cut.jsonl.progress").exists());

    // The same fetch uninterrupted makes the same session.
    let output = fetch(&ws, "whole.jsonl");
    assert!(output.status.success(), "{}", text(&output));
    let (cut, whole) = (without_fetch_time(&ws, "cut.jsonl"), without_fetch_time(&ws, "whole.jsonl"));
    assert_eq!(cut.len(), whole.len());
    assert_eq!(cut, whole);
    assert!(cut.iter().any(|l| l["type"] == "book" && l["book"]["asset_id"] == TOKEN_B));

    // A finished session is not overwritten.
    let output = fetch(&ws, "whole.jsonl");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("already exists"), "{}", text(&output));
}

#[test]
fn a_wallet_with_more_pages_than_allowed_is_an_error_not_a_cut_history() {
    let venue = HistoryVenue::start(History { throttle: 0, ..history() });
    let ws = workspace(&venue);
    ws.write(
        ".env",
        &format!("{}\nWHALE_TRADER__POLYMARKET__FETCH_HISTORY__MAX_PAGES_PER_WALLET=2\n", ws.read(".env")),
    );
    let output = fetch(&ws, "s.jsonl");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let expected = format!("wallet {WHALE}: more than 2 activity pages between the dates");
    assert!(text(&output).contains(&expected), "{}", text(&output));
    assert!(!ws.path().join("s.jsonl").exists());
    assert_eq!(venue.with(|h| h.count(&format!("GET /v2/activity {WHALE}"))), 2);
}

#[test]
fn bad_wallets_and_dates_are_refused_naming_the_argument() {
    let ws = Workspace::with_default_config("");
    for (args, expected) in [
        (vec!["fetch-history", "0x12", "--out", "s.jsonl"], r#"WALLET 1 "0x12": must be a proxy wallet"#),
        (
            vec!["fetch-history", WHALE, "--since", "last week", "--out", "s.jsonl"],
            r#"--since "last week": must be a date"#,
        ),
        (
            vec!["fetch-history", WHALE, "--since", "2026-03-02", "--until", "2026-03-01", "--out", "s.jsonl"],
            r#"--since "2026-03-02": must be before --until"#,
        ),
    ] {
        let output = ws.output(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(text(&output).contains(expected), "{args:?}: {}", text(&output));
        assert!(!ws.path().join("s.jsonl.progress").exists());
    }
}
