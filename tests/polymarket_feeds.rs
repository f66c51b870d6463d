//! The whale feed and the price feed against a local HTTP server (wiremock on 127.0.0.1) serving
//! the captured Data API and CLOB payloads. Real time with millisecond intervals and timeouts, so
//! every test is fast and bounded; the trading clock is a `SimClock` set by the test.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use whale_trader::clock::{SimClock, Timestamp};
use whale_trader::domain::Side;
use whale_trader::market::{SharedBookRefusals, WhaleTrade};
use whale_trader::polymarket::{
    CursorState, DataApiVersion, FeedStart, FollowedWallet, PolymarketConfig, PriceEvent, WhaleFeedHandle,
    WhaleFeedSnapshot, spawn_price_feed, spawn_whale_feed,
};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WALLET: &str = "0x379a410a36c101e3b8dfb6c90d1176eb0def4b1a";
/// "Now" for the trading clock: a little after the rows below.
const START_SECS: i64 = 1_789_381_000;
const WAIT: Duration = Duration::from_secs(5);

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn config(server: &MockServer) -> PolymarketConfig {
    let mut config = PolymarketConfig { data_api_url: server.uri(), clob_url: server.uri(), ..Default::default() };
    config.whale_feed.poll_interval_ms = 40;
    config.whale_feed.page_size = 2;
    config.whale_feed.overlap_secs = 600;
    config.whale_feed.initial_lookback_secs = 0;
    config.whale_feed.requests_per_sec = 100;
    config.price_feed.poll_interval_ms = 40;
    config.price_feed.requests_per_sec = 50;
    config.price_feed.stale_after_secs = 1;
    config.http.request_timeout_ms = 300;
    config.http.max_attempts = 3;
    config.http.base_backoff_ms = 5;
    config.http.max_backoff_ms = 20;
    config
}

/// A v2 activity row built from the captured fixture's first row, with the given identity.
fn v2_row(tx: &str, secs: i64, size: f64, price: f64) -> Value {
    let page: Value = serde_json::from_str(&fixture("data_api_v2_activity_user.json")).unwrap();
    let mut row = page["data"][0].clone();
    row["transaction_hash"] = json!(tx);
    row["timestamp"] = json!(secs);
    row["size"] = json!(size);
    row["price"] = json!(price);
    row
}

fn v2_page(rows: &[Value], next_cursor: Option<&str>) -> Value {
    json!({
        "data": rows,
        "pagination": {"limit": 2, "offset": 0, "has_more": next_cursor.is_some(), "next_cursor": next_cursor}
    })
}

struct Feed {
    handle: WhaleFeedHandle,
    trades: mpsc::Receiver<WhaleTrade>,
    cancel: CancellationToken,
}

fn start_feed(config: &PolymarketConfig, clock: &SimClock, start: FeedStart, capacity: usize) -> Feed {
    let (tx, rx) = mpsc::channel(capacity);
    let cancel = CancellationToken::new();
    let wallets = vec![FollowedWallet { address: WALLET.to_uppercase().replace("0X", "0x"), label: Some("w".into()) }];
    let handle = spawn_whale_feed(config, wallets, start, Arc::new(clock.clone()), tx, cancel.clone()).unwrap();
    Feed { handle, trades: rx, cancel }
}

impl Feed {
    async fn next(&mut self) -> WhaleTrade {
        tokio::time::timeout(WAIT, self.trades.recv()).await.expect("a trade in time").expect("feed open")
    }

    /// Waits until the wallet has finished `polls` more polls, then returns the snapshot.
    async fn after_polls(&mut self, polls: u64) -> WhaleFeedSnapshot {
        let target = self.status().polls + polls;
        let rx = &mut self.handle.snapshot;
        tokio::time::timeout(WAIT, rx.wait_for(|s| s.wallets[WALLET].polls >= target))
            .await
            .expect("polls in time")
            .expect("feed alive")
            .clone()
    }

    fn status(&self) -> whale_trader::polymarket::WalletFeedStatus {
        self.handle.snapshot.borrow().wallets[WALLET].clone()
    }

    fn assert_no_more_trades(&mut self) {
        assert!(self.trades.try_recv().is_err(), "no further trade expected");
    }

    async fn stop(self) -> HashMap<String, CursorState> {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.handle.task).await.expect("stops in time").expect("no panic")
    }
}

#[tokio::test]
async fn v2_pages_overlap_dedupe_and_a_restart_neither_skip_nor_duplicate() {
    let server = MockServer::start().await;
    let a = v2_row("0xaa", START_SECS + 10, 22.84, 0.52);
    // Same transaction hash, different fill: both must come through.
    let b = v2_row("0xaa", START_SECS + 10, 7.44, 0.7671607282693813);
    let c = v2_row("0xcc", START_SECS + 20, 2538.2661200000002, 0.9);
    Mock::given(method("GET"))
        .and(path("/v2/activity"))
        .and(query_param("user", WALLET))
        .and(query_param("type", "TRADE"))
        .and(query_param("sort_direction", "ASC"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(v2_page(&[a.clone(), b.clone()], Some("c2"))))
        .mount(&server)
        .await;
    // Page 2 repeats b (a page boundary that moved) and adds c.
    Mock::given(method("GET"))
        .and(path("/v2/activity"))
        .and(query_param("cursor", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(v2_page(&[b.clone(), c.clone()], None)))
        .mount(&server)
        .await;

    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let config = config(&server);
    let mut feed = start_feed(&config, &clock, FeedStart::default(), 16);
    let first = feed.next().await;
    let second = feed.next().await;
    let third = feed.next().await;
    assert_eq!((first.transaction_hash.as_str(), first.size), ("0xaa", dec!(22.84)));
    assert_eq!((second.transaction_hash.as_str(), second.price), ("0xaa", dec!(0.7671607282693813)));
    assert_eq!((third.transaction_hash.as_str(), third.size), ("0xcc", dec!(2538.2661200000002)));
    assert_eq!(third.timestamp, Timestamp::from_secs(START_SECS + 20));
    assert_eq!(third.side, Side::Buy);
    assert_eq!(third.wallet, WALLET);

    let status = feed.after_polls(2).await.wallets[WALLET].clone();
    feed.assert_no_more_trades();
    assert_eq!(status.trades_emitted, 3);
    assert!(status.duplicates_skipped >= 5, "page-2 repeat plus two re-polls: {status:?}");
    assert_eq!(status.watermark, Timestamp::from_secs(START_SECS + 20));
    // The second poll re-read the overlap: start = watermark − 600 s.
    let requests = server.received_requests().await.unwrap();
    let last_start = requests.last().unwrap().url.query_pairs().find(|(k, _)| k == "start").unwrap().1.to_string();
    assert_eq!(last_start, (START_SECS + 20 - 600).to_string());

    let saved = feed.stop().await;
    assert_eq!(saved[WALLET].watermark, Timestamp::from_secs(START_SECS + 20));
    assert_eq!(saved[WALLET].seen.len(), 3);

    // Restart from the saved state: the same rows are recognised, a new one is emitted once.
    let d = v2_row("0xdd", START_SECS + 30, 5.0, 0.5);
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/v2/activity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(v2_page(&[a, b, c, d], None)))
        .mount(&server)
        .await;
    clock.set(Timestamp::from_secs(START_SECS + 35));
    let restart = FeedStart { restored: saved, emit_trades_before_start: false };
    // All four rows come in one page, so the feed asks for four (a longer page would be cut).
    let mut config = config;
    config.whale_feed.page_size = 4;
    let mut feed = start_feed(&config, &clock, restart, 16);
    let resumed = feed.next().await;
    assert_eq!(resumed.transaction_hash, "0xdd");
    assert_eq!(feed.after_polls(2).await.wallets[WALLET].last_lag_ms, Some(5_000), "feed lag = now − block time");
    feed.assert_no_more_trades();
    feed.stop().await;
}

#[tokio::test]
async fn a_backlog_larger_than_one_poll_continues_from_its_cursor() {
    let server = MockServer::start().await;
    let page1 =
        v2_page(&[v2_row("0x01", START_SECS + 1, 1.0, 0.5), v2_row("0x02", START_SECS + 2, 1.0, 0.5)], Some("p2"));
    let page2 = v2_page(&[v2_row("0x03", START_SECS + 3, 1.0, 0.5)], None);
    Mock::given(path("/v2/activity"))
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1))
        .mount(&server)
        .await;
    Mock::given(path("/v2/activity"))
        .and(query_param("cursor", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.whale_feed.max_pages_per_poll = 1;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let mut feed = start_feed(&config, &clock, FeedStart::default(), 8);
    for expected in ["0x01", "0x02", "0x03"] {
        assert_eq!(feed.next().await.transaction_hash, expected);
    }
    let requests = server.received_requests().await.unwrap();
    let start_of = |i: usize| requests[i].url.query_pairs().find(|(k, _)| k == "start").map(|(_, v)| v.to_string());
    // The second poll continued the first walk with the cursor and the very same filters.
    assert_eq!(
        requests[1].url.query_pairs().find(|(k, _)| k == "cursor").map(|(_, v)| v.to_string()),
        Some("p2".into())
    );
    assert_eq!(start_of(0), start_of(1));
    feed.stop().await;
}

#[tokio::test]
async fn v1_activity_route_brings_the_whales_maker_fills_and_holds_back_pre_start_trades() {
    let server = MockServer::start().await;
    // The captured compact page: 3 fills in one second, the BUY is a maker fill (usdcSize = size × price,
    // no fee), the SELLs are taker fills. `/trades` (takerOnly=true by default) would hide the BUY.
    let body =
        fixture("data_api_v1_activity_user_compact.json").replace("0x5a218c7ad04135830a45c41aaed7294df7809318", WALLET);
    Mock::given(method("GET"))
        .and(path("/activity"))
        .and(query_param("user", WALLET))
        .and(query_param("sortDirection", "ASC"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.whale_feed.api_version = DataApiVersion::V1;
    config.whale_feed.page_size = 100;
    config.whale_feed.initial_lookback_secs = 3_600;

    // Started after the fills: they are history, remembered but not emitted…
    let clock = SimClock::starting_at(Timestamp::from_secs(1_788_636_800));
    let mut feed = start_feed(&config, &clock, FeedStart::default(), 16);
    let status = feed.after_polls(2).await.wallets[WALLET].clone();
    feed.assert_no_more_trades();
    assert_eq!((status.held_back_before_start, status.trades_emitted), (3, 0));
    feed.stop().await;

    // …unless copying trades from before start-up is configured.
    let start = FeedStart { emit_trades_before_start: true, ..FeedStart::default() };
    let mut feed = start_feed(&config, &clock, start, 16);
    let maker_buy = feed.next().await;
    assert_eq!(maker_buy.side, Side::Buy);
    assert_eq!(maker_buy.usdc_size, Some(maker_buy.size * maker_buy.price), "a maker fill pays no fee");
    assert_eq!(maker_buy.outcome, "No");
    let taker_sell = feed.next().await;
    assert_eq!(taker_sell.side, Side::Sell);
    assert_eq!(taker_sell.usdc_size, Some(dec!(5.718)));
    let _third = feed.next().await;
    feed.after_polls(1).await;
    feed.assert_no_more_trades();
    assert!(server.received_requests().await.unwrap().iter().all(|r| r.url.path() == "/activity"));
    feed.stop().await;
}

#[tokio::test]
async fn rate_limit_is_honoured_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/activity"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/activity"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(v2_page(&[v2_row("0x01", START_SECS + 1, 1.0, 0.5)], None)),
        )
        .mount(&server)
        .await;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let started = whale_trader::clock::monotonic();
    let mut feed = start_feed(&config(&server), &clock, FeedStart::default(), 4);
    feed.next().await;
    let waited = started.elapsed();
    // The backoff alone would be ≤ 20 ms; Retry-After said one second.
    assert!(waited >= Duration::from_millis(950), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    feed.stop().await;
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retried_within_a_poll() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/activity"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    // Slower than the 300 ms request timeout.
    Mock::given(path("/v2/activity"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(v2_page(&[], None)).set_delay(Duration::from_millis(800)),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path("/v2/activity"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(v2_page(&[v2_row("0x01", START_SECS + 1, 1.0, 0.5)], None)),
        )
        .with_priority(3)
        .mount(&server)
        .await;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let mut feed = start_feed(&config(&server), &clock, FeedStart::default(), 4);
    assert_eq!(feed.next().await.transaction_hash, "0x01");
    let status = feed.status();
    assert_eq!((status.consecutive_failures, status.last_error), (0, None), "retries hid both failures");
    feed.stop().await;
}

#[tokio::test]
async fn a_poll_that_exhausts_its_retries_fails_without_moving_the_watermark() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/activity"))
        .respond_with(ResponseTemplate::new(503).set_body_string("{\"error\":\"dependency_unavailable\"}"))
        .mount(&server)
        .await;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let mut feed = start_feed(&config(&server), &clock, FeedStart::default(), 4);
    let status = feed.after_polls(2).await.wallets[WALLET].clone();
    assert!(status.consecutive_failures >= 2);
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("503")), "{status:?}");
    assert_eq!(status.watermark, Timestamp::from_secs(START_SECS));
    // The first poll made its 3 attempts; the endpoint then backs off (1 s, 2 s, …) across polls,
    // so the next poll, a few milliseconds later, was not sent at all.
    let requests = server.received_requests().await.unwrap().len();
    assert_eq!(requests, 3, "3 attempts, then backing off");
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("backing off")), "{status:?}");
    feed.stop().await;
}

#[tokio::test]
async fn malformed_json_and_malformed_rows_are_survived() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/activity"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>cloudflare</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let mut broken = v2_row("0xbad", START_SECS + 1, 1.0, 0.5);
    broken["size"] = json!("lots");
    let good = v2_row("0x900d", START_SECS + 2, 1.0, 0.5);
    Mock::given(path("/v2/activity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(v2_page(&[broken, good], None)))
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let mut feed = start_feed(&config(&server), &clock, FeedStart::default(), 4);
    assert_eq!(feed.next().await.transaction_hash, "0x900d");
    let status = feed.after_polls(1).await.wallets[WALLET].clone();
    assert!(status.malformed_rows >= 1);
    assert_eq!(status.consecutive_failures, 0);
    feed.assert_no_more_trades();
    feed.stop().await;
}

#[tokio::test]
async fn empty_pages_keep_the_watermark_and_emit_nothing() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/activity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(v2_page(&[], None)))
        .mount(&server)
        .await;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let mut feed = start_feed(&config(&server), &clock, FeedStart::default(), 4);
    let status = feed.after_polls(3).await.wallets[WALLET].clone();
    feed.assert_no_more_trades();
    assert_eq!((status.trades_emitted, status.consecutive_failures), (0, 0));
    assert_eq!(status.watermark, Timestamp::from_secs(START_SECS));
    assert!(status.last_success_at.is_some());
    feed.stop().await;
}

#[tokio::test]
async fn a_busy_engine_gets_back_pressure_not_drops() {
    let server = MockServer::start().await;
    let rows: Vec<Value> = (0..5).map(|i| v2_row(&format!("0x{i:02}"), START_SECS + 1 + i, 1.0, 0.5)).collect();
    Mock::given(path("/v2/activity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(v2_page(&rows, None)))
        .mount(&server)
        .await;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    // The five rows come in one page: ask for five (a longer page would be cut).
    let mut config = config(&server);
    config.whale_feed.page_size = 5;
    let mut feed = start_feed(&config, &clock, FeedStart::default(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut hashes = Vec::new();
    for _ in 0..5 {
        hashes.push(feed.next().await.transaction_hash);
    }
    assert_eq!(hashes, vec!["0x00", "0x01", "0x02", "0x03", "0x04"]);
    feed.after_polls(1).await;
    feed.assert_no_more_trades();
    feed.stop().await;
}

async fn next_event(rx: &mut mpsc::Receiver<PriceEvent>) -> PriceEvent {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("event in time").expect("open")
}

#[tokio::test]
async fn price_feed_polls_watched_tokens_in_batches_and_reports_staleness() {
    let server = MockServer::start().await;
    let books: Value = serde_json::from_str(&fixture("clob_books_post_negrisk.json")).unwrap();
    let yes = books[0]["asset_id"].as_str().unwrap().to_string();
    let no = books[1]["asset_id"].as_str().unwrap().to_string();
    Mock::given(method("POST"))
        .and(path("/books"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&books))
        .mount(&server)
        .await;

    let mut config = config(&server);
    config.price_feed.books_batch_size = 1;
    config.http.max_attempts = 1;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let (watch_tx, watch_rx) = watch::channel(BTreeSet::from([yes.clone()]));
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let handle = spawn_price_feed(
        &config,
        watch_rx,
        Arc::new(clock.clone()),
        tx,
        SharedBookRefusals::new("test"),
        cancel.clone(),
    )
    .unwrap();

    let PriceEvent::Book(update) = next_event(&mut rx).await else { panic!("a book first") };
    // Only the watched token, out of the ten the server answered with.
    assert_eq!(update.token_id, yes);
    assert_eq!(update.book.best_bid().map(|l| l.price), Some(dec!(0.005)));
    assert_eq!(update.book.best_ask().map(|l| l.price), Some(dec!(0.006)));

    // Watching a second token polls it too, one batch per token.
    watch_tx.send_replace(BTreeSet::from([yes.clone(), no.clone()]));
    let mut seen_no = false;
    while !seen_no {
        if let PriceEvent::Book(update) = next_event(&mut rx).await {
            seen_no = update.token_id == no;
        }
    }
    let bodies: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).to_string())
        .collect();
    assert!(bodies.iter().any(|b| b == &format!("[{{\"token_id\":\"{no}\"}}]")), "{bodies:?}");

    // The server starts failing; once the trading clock passes stale_after_secs both tokens go stale.
    server.reset().await;
    Mock::given(method("POST")).and(path("/books")).respond_with(ResponseTemplate::new(500)).mount(&server).await;
    // Polls run one after another: once one has failed, no later book can arrive.
    let deadline = whale_trader::clock::monotonic() + WAIT;
    while handle.snapshot.borrow().consecutive_failures == 0 {
        assert!(whale_trader::clock::monotonic() < deadline, "a failing poll in time");
        while rx.try_recv().is_ok() {}
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while rx.try_recv().is_ok() {}
    clock.advance_millis(1_500);
    let mut stale = BTreeSet::new();
    while stale.len() < 2 {
        if let PriceEvent::Stale { token_id, last_update } = next_event(&mut rx).await {
            assert_eq!(last_update, Some(Timestamp::from_secs(START_SECS)));
            stale.insert(token_id);
        }
    }
    assert_eq!(stale, BTreeSet::from([yes, no]));
    let snapshot = handle.snapshot.borrow().clone();
    assert_eq!(snapshot.stale_tokens, 2);
    cancel.cancel();
    tokio::time::timeout(WAIT, handle.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_token_left_out_of_post_books_is_confirmed_by_get_book_and_flagged_until_its_book_returns() {
    let server = MockServer::start().await;
    let books: Value = serde_json::from_str(&fixture("clob_books_post_negrisk.json")).unwrap();
    let kept = books[0]["asset_id"].as_str().unwrap().to_string();
    let gone = books[1]["asset_id"].as_str().unwrap().to_string();
    // Left out too, but its GET /book answers something that is not a book: not a missing book.
    let garbled = books[2]["asset_id"].as_str().unwrap().to_string();
    Mock::given(method("GET"))
        .and(path("/book"))
        .and(query_param("token_id", garbled.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"asset_id\": 1}"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/books"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([books[0]])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/book"))
        .and(query_param("token_id", gone.as_str()))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": "No orderbook exists for the requested token id"})),
        )
        .mount(&server)
        .await;

    let mut config = config(&server);
    config.http.max_attempts = 1;
    let clock = SimClock::starting_at(Timestamp::from_secs(START_SECS));
    let (_watch_tx, watch_rx) = watch::channel(BTreeSet::from([kept.clone(), gone.clone(), garbled.clone()]));
    let (tx, mut rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let handle = spawn_price_feed(
        &config,
        watch_rx,
        Arc::new(clock.clone()),
        tx,
        SharedBookRefusals::new("test"),
        cancel.clone(),
    )
    .unwrap();

    let deadline = whale_trader::clock::monotonic() + WAIT;
    let mut snapshot = handle.snapshot.clone();
    while !snapshot.borrow().tokens.get(&gone).is_some_and(|t| t.no_book) {
        assert!(
            whale_trader::clock::monotonic() < deadline,
            "the missing book was not flagged: {:?}",
            snapshot.borrow()
        );
        while rx.try_recv().is_ok() {}
        tokio::time::timeout(WAIT, snapshot.changed()).await.unwrap().unwrap();
    }
    // Several more polls: the disappearance is confirmed and counted once.
    let polls = server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/books").count();
    while server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/books").count() < polls + 5 {
        while rx.try_recv().is_ok() {}
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = |token: &str| {
        let query = format!("token_id={token}");
        move |r: &wiremock::Request| r.url.path() == "/book" && r.url.query() == Some(query.as_str())
    };
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.iter().filter(|r| asked(&gone)(r)).count(), 1, "GET /book once per disappearance");
    assert_eq!(requests.iter().filter(|r| asked(&garbled)(r)).count(), 1, "an unsettled answer is not asked again");
    let now = handle.snapshot.borrow().clone();
    assert_eq!((now.tokens_without_book, now.missing_books_total), (1, 1));
    assert!(!now.tokens[&kept].no_book);
    assert!(!now.tokens[&garbled].no_book, "a book that does not parse is not a missing book");

    // Its book comes back: the flag clears.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/books"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([books[0], books[1]])))
        .mount(&server)
        .await;
    while snapshot.borrow().tokens_without_book != 0 {
        assert!(whale_trader::clock::monotonic() < deadline + WAIT, "the returned book did not clear the flag");
        while rx.try_recv().is_ok() {}
        tokio::time::timeout(WAIT, snapshot.changed()).await.unwrap().unwrap();
    }
    assert_eq!(snapshot.borrow().missing_books_total, 1);
    cancel.cancel();
    while rx.try_recv().is_ok() {}
    tokio::time::timeout(WAIT, handle.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn market_status_reads_the_documented_shape_and_refuses_404_and_oversized_answers() {
    let server = MockServer::start().await;
    let resolved = "0x2583be7162d1e223505d91f9702c67da402385491ef84be2ae0b25822528dca4";
    let unknown = "0x0000000000000000000000000000000000000000000000000000000000000001";
    let huge = "0x0000000000000000000000000000000000000000000000000000000000000002";
    Mock::given(method("GET"))
        .and(path(format!("/markets/{resolved}")))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("clob_market_resolved_docs_shape.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/markets/{unknown}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "market not found"})))
        .mount(&server)
        .await;
    let mut big: Value = serde_json::from_str(&fixture("clob_market_resolved_docs_shape.json")).unwrap();
    big["condition_id"] = json!(huge);
    big["description"] = json!("x".repeat(whale_trader::polymarket::MAX_MARKET_BODY_BYTES));
    Mock::given(method("GET"))
        .and(path(format!("/markets/{huge}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(&big))
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.http.max_attempts = 1;
    let clob = whale_trader::polymarket::ClobMarketData::new(&config).unwrap();

    let status = clob.market_status(resolved).await.unwrap();
    assert!(status.closed && !status.accepting_orders);
    assert_eq!(status.winner().map(|w| w.outcome.as_str()), Some("Yes"));
    let missing = clob.market_status(unknown).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    let oversized = clob.market_status(huge).await.unwrap_err();
    assert!(oversized.to_string().contains("larger than the 262144 bytes allowed"), "{oversized}");
    let bad = clob.market_status("0xnot-hex/../../order").await.unwrap_err();
    assert!(bad.to_string().contains("must be 0x followed by hex digits"), "{bad}");
}
