//! End-to-end scenarios of the engine: the bundled sample session replayed in paper mode must
//! produce exactly the reviewed audit trail, plus targeted scenarios (paper fill against a captured
//! book, stops, whale exit, resolution, kill, halt).
//!
//! The golden file `tests/data/sample_session.audit.jsonl` holds the expected audit records of the
//! sample session, one JSON object per line. After an intended change of the engine, the risk
//! defaults or the generator, regenerate it with
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test --test engine_replay sample_session
//! ```
//!
//! and review the diff by hand: every number in it is re-derived independently below for the key
//! records (entry sizes and prices from the book, P&L from the fills).

use std::path::PathBuf;
use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use whale_trader::clock::Timestamp;
use whale_trader::config::{Config, Mode};
use whale_trader::domain::TradingState;
use whale_trader::engine::audit::AuditRecord;
use whale_trader::engine::{
    Control, DryRunExecutor, Engine, EngineSettings, Input, MemoryAuditSink, PaperExecutor, SimulatedRun,
};
use whale_trader::market::{OrderBook, PriceLevel, SharedBookRefusals};
use whale_trader::polymarket::{ActivityRow, parse_v1_row};
use whale_trader::session::replay_session;

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn sample_config() -> Config {
    let text = std::fs::read_to_string(repo_path("config/default.toml")).unwrap_or_else(|e| panic!("{e}"));
    let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("config/default.toml does not parse: {e}"));
    assert_eq!(config.validate(), vec![], "the default config must be valid");
    config
}

fn replay_sample() -> (Vec<AuditRecord>, whale_trader::engine::ReplayReport) {
    let sink = MemoryAuditSink::new();
    let report =
        replay_session(&repo_path("data/sample_session.jsonl"), Arc::new(sample_config()), Box::new(sink.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
    (sink.records(), report)
}

#[test]
fn sample_session_matches_the_golden_audit_trail() {
    let (records, report) = replay_sample();
    let lines: Vec<String> = records.iter().map(AuditRecord::to_json_line).collect();
    let golden_path = repo_path("tests/data/sample_session.audit.jsonl");
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&golden_path, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let golden = std::fs::read_to_string(&golden_path).unwrap_or_else(|e| panic!("{e}"));
    let expected: Vec<&str> = golden.lines().collect();
    for (i, (got, want)) in lines.iter().zip(expected.iter()).enumerate() {
        assert_eq!(got, want, "audit record {} differs", i + 1);
    }
    assert_eq!(lines.len(), expected.len(), "number of audit records");
    assert_eq!(report.malformed_lines, 0);
    println!("{report:#?}");
}

#[test]
fn the_sample_session_in_the_compact_format_replays_to_the_same_audit_trail() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let compact = dir.path().join("sample_session.wtb");
    let converted = whale_trader::session::convert(&repo_path("data/sample_session.jsonl"), Some(&compact))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(converted.books > 0 && converted.output_bytes < converted.input_bytes, "{converted:?}");
    let sink = MemoryAuditSink::new();
    let report =
        replay_session(&compact, Arc::new(sample_config()), Box::new(sink.clone())).unwrap_or_else(|e| panic!("{e}"));
    let (json_records, json_report) = replay_sample();
    let lines = |records: &[AuditRecord]| records.iter().map(AuditRecord::to_json_line).collect::<Vec<_>>();
    assert_eq!(lines(&sink.records()), lines(&json_records));
    assert_eq!(report, json_report);
}

#[test]
fn sample_session_shows_every_behaviour_in_order() {
    let (records, report) = replay_sample();
    // Every exit went out as one order at its bound (the book was deep enough each time) before its
    // trade closed; a resolution settles without one.
    for (i, record) in records.iter().enumerate() {
        if let AuditRecord::TradeClosed(closed) = record {
            let orders: Vec<u32> = records[..i]
                .iter()
                .filter_map(|r| match r {
                    AuditRecord::ExitOrder(o) if o.trade_id == closed.trade_id => Some(o.attempt),
                    _ => None,
                })
                .collect();
            let expected: &[u32] = if closed.reason == "market_resolved" { &[] } else { &[1] };
            assert_eq!(orders, expected, "exit orders before {closed:?}");
        }
    }
    let records: Vec<AuditRecord> = records.into_iter().filter(|r| !matches!(r, AuditRecord::ExitOrder(_))).collect();
    let pairs: Vec<(&str, Option<&str>)> = records.iter().map(|r| (r.event_name(), r.reason())).collect();
    let expected: Vec<(&str, Option<&str>)> = vec![
        ("trade_opened", None),
        ("trade_rejected", Some("below_minimum_size")),
        ("trade_rejected", Some("price_moved")),
        ("trade_opened", None),
        ("trade_opened", None),
        ("trade_opened", None),
        ("trade_rejected", Some("max_positions_per_whale")),
        ("trade_rejected", Some("double_fire")),
        ("trade_rejected", Some("stale_price")),
        ("trade_opened", None),
        ("trade_closed", Some("stop_loss")),
        ("trade_closed", Some("take_profit")),
        ("trade_closed", Some("trailing_stop")),
        ("trade_closed", Some("whale_exit")),
        ("trade_closed", Some("market_resolved")),
        ("trade_opened", None),
        ("trade_opened", None),
        ("trade_opened", None),
        ("trade_closed", Some("stop_loss")),
        ("trade_closed", Some("stop_loss")),
        ("trading_state_changed", Some("circuit_breaker_tripped")),
        ("trade_closed", Some("stop_loss")),
        // That third loss in a row from one whale mutes it (whale breaker), beside the global breaker.
        ("whale_standing_changed", Some("consecutive_losses")),
        ("trade_rejected", Some("circuit_breaker_open")),
    ];
    assert_eq!(pairs, expected);
    assert_eq!(report.final_state, TradingState::Reducing);
    assert_eq!(report.open_positions, 0);
    assert_eq!((report.trades_opened, report.trades_closed, report.trades_rejected), (8, 8, 6));

    // Key numbers, derived by hand from the session's books (fee curve r = 0.05, e = 1):
    // alpha's first copy: $50 at the limit 0.53 (0.505 × 1.05, down to the tick) = 94.33 shares,
    // filled at the best ask 0.51; stopped out at the bid 0.44.
    let Some(AuditRecord::TradeOpened(first)) = records.first() else { panic!("first record is not an entry") };
    assert_eq!((first.size, first.price, first.notional_usd), (dec!(94.33), dec!(0.51), dec!(48.1083)));
    let entry_fee = dec!(94.33) * dec!(0.05) * dec!(0.51) * dec!(0.49);
    let exit_fee = dec!(94.33) * dec!(0.05) * dec!(0.44) * dec!(0.56);
    let stop_pnl = (dec!(94.33) * (dec!(0.44) - dec!(0.51)) - entry_fee - exit_fee).round_dp(6);
    let stop = records.iter().find_map(|r| match r {
        AuditRecord::TradeClosed(c) if c.trade_id == first.trade_id => Some(c.clone()),
        _ => None,
    });
    assert_eq!(stop.map(|c| (c.reason, c.exit_price, c.pnl_usd)), Some(("stop_loss".to_owned(), dec!(0.44), stop_pnl)));
    // The realised losses of the day, summed from the audit trail, are what tripped the breaker.
    let realised: Decimal = records
        .iter()
        .filter_map(|r| match r {
            AuditRecord::TradeClosed(c) => Some(c.pnl_usd),
            _ => None,
        })
        .sum();
    assert!(realised < dec!(-300), "the day's realised P&L {realised} must be below the -$300 breaker threshold");
    // Each record is rounded to 6 places; the engine's running total is not.
    assert!((report.realised_pnl_usd - realised).abs() < dec!(0.00001), "{} vs {realised}", report.realised_pnl_usd);
}

// --- targeted scenarios ------------------------------------------------------------------------

const WHALE: &str = "0x1111111111111111111111111111111111111111";
const MARKET_A: &str = "0xaaaa000000000000000000000000000000000000000000000000000000000001";
const MARKET_B: &str = "0xbbbb000000000000000000000000000000000000000000000000000000000002";
const TOKEN_A: &str = "1001";
const TOKEN_A_NO: &str = "1002";
const TOKEN_B: &str = "2001";
const START: Timestamp = Timestamp::from_secs(1_767_607_200);

struct Harness {
    run: SimulatedRun<PaperExecutor>,
    sink: MemoryAuditSink,
    now: Timestamp,
}

fn config_with_whale(exit_mode: &str) -> Config {
    let text = format!("[copy]\nexit_mode = \"{exit_mode}\"\n[[copy.whales]]\naddress = \"{WHALE}\"\nmultiplier = 2\n");
    let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.validate(), vec![]);
    config
}

fn harness(config: Config) -> Harness {
    let sink = MemoryAuditSink::new();
    let engine = Engine::new(Arc::new(config), EngineSettings::default(), Box::new(sink.clone()), START)
        .unwrap_or_else(|e| panic!("{e}"));
    Harness { run: SimulatedRun::new(engine, PaperExecutor::default(), START), sink, now: START }
}

/// A CLOB /book with four levels of 1,000 shares a side around `bid` / `bid + 0.01`.
fn book(market: &str, token: &str, bid: Decimal, at: Timestamp) -> Input {
    let level = |p: Decimal| format!(r#"{{"price":"{p}","size":"1000"}}"#);
    let bids: Vec<String> = (0..4).rev().map(|k| level(bid - Decimal::from(k) * dec!(0.01))).collect();
    let asks: Vec<String> = (0..4).rev().map(|k| level(bid + dec!(0.01) + Decimal::from(k) * dec!(0.01))).collect();
    let json = format!(
        r#"{{"market":"{market}","asset_id":"{token}","timestamp":"{}","hash":"00","bids":[{}],"asks":[{}],"min_order_size":"5","tick_size":"0.01","neg_risk":false,"last_trade_price":"{bid}"}}"#,
        at.millis(),
        bids.join(","),
        asks.join(",")
    );
    Input::Book(Box::new(OrderBook::from_json(&json).unwrap_or_else(|e| panic!("{e}"))))
}

/// A Data API v1 trade row of the followed whale, parsed by the polymarket module.
fn whale_trade(market: &str, token: &str, side: &str, size: &str, price: &str, at: Timestamp) -> Input {
    let json = format!(
        r#"{{"proxyWallet":"{WHALE}","side":"{side}","asset":"{token}","conditionId":"{market}","size":{size},"price":{price},"timestamp":{},"title":"t","slug":"s","icon":"","eventSlug":"e","outcome":"Yes","outcomeIndex":0,"name":"","pseudonym":"","bio":"","profileImage":"","profileImageOptimized":"","transactionHash":"0x{:064x}"}}"#,
        at.millis() / 1000,
        at.millis()
    );
    match parse_v1_row(&json) {
        Ok(ActivityRow::Trade(trade)) => Input::WhaleTrade(Box::new(trade)),
        other => panic!("not a trade row: {other:?}"),
    }
}

impl Harness {
    fn at(&mut self, secs: i64, input: Input) {
        self.now = START.plus_secs(secs);
        self.run.feed(self.now, input);
    }

    /// Every record but the exit orders (see [`Harness::exit_orders`]), as (event, reason).
    fn pairs(&self) -> Vec<(String, Option<String>)> {
        self.sink
            .records()
            .iter()
            .filter(|r| !matches!(r, AuditRecord::ExitOrder(_)))
            .map(|r| (r.event_name().to_owned(), r.reason().map(str::to_owned)))
            .collect()
    }

    /// The exit orders sent so far.
    fn exit_orders(&self) -> Vec<whale_trader::engine::audit::ExitOrder> {
        self.sink
            .records()
            .into_iter()
            .filter_map(|r| match r {
                AuditRecord::ExitOrder(o) => Some(o),
                _ => None,
            })
            .collect()
    }

    fn last(&self) -> (String, Option<String>) {
        self.pairs().pop().unwrap_or_default()
    }

    /// Opens a position on `market`/`token` at bid 0.50 / ask 0.51.
    fn open(&mut self, secs: i64, market: &str, token: &str) {
        self.at(secs, book(market, token, dec!(0.50), START.plus_secs(secs)));
        self.at(secs, whale_trade(market, token, "BUY", "1000", "0.51", START.plus_secs(secs)));
        assert_eq!(self.last(), ("trade_opened".to_owned(), None), "{:?}", self.pairs());
    }
}

fn pair(event: &str, reason: &str) -> (String, Option<String>) {
    (event.to_owned(), Some(reason.to_owned()))
}

#[test]
fn paper_entry_against_the_captured_book_fills_partially_with_the_fee_curve() {
    // The real book in tests/data/clob_book.json: best ask 0.43 × 8.37, then 0.53, 0.54, ...
    let text = std::fs::read_to_string(repo_path("tests/data/clob_book.json")).unwrap_or_else(|e| panic!("{e}"));
    let captured = OrderBook::from_json(&text).unwrap_or_else(|e| panic!("{e}"));
    let (market, token, at) = (captured.market.clone(), captured.asset_id.clone(), captured.timestamp);
    // The copy guards would refuse this thin, wide book outright (0.30 / 0.43 is a 36 % spread);
    // here the partial fill itself is tested.
    let mut config = config_with_whale("full");
    config.copy.require_depth = false;
    config.copy.max_spread_percent = Decimal::ZERO;
    let sink = MemoryAuditSink::new();
    let engine = Engine::new(Arc::new(config), EngineSettings::default(), Box::new(sink.clone()), at)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut run = SimulatedRun::new(engine, PaperExecutor::default(), at);
    run.keep_events = true;
    run.feed(at, Input::Book(Box::new(captured)));
    run.feed(at, whale_trade(&market, &token, "BUY", "1000", "0.43", at));
    // Limit 0.43 × 1.05 = 0.4515 → 0.45; $50 × 2 (multiplier) / 0.45 = 222.22 shares ordered.
    let intent = run.events.iter().find_map(|e| match e {
        whale_trader::engine::EngineEvent::OrderIntentRecorded { intent, .. } => Some(*intent),
        _ => None,
    });
    assert_eq!(intent.map(|i| (i.price, i.size)), Some((dec!(0.45), dec!(222.22))));
    // Only the 0.43 level is within the limit: 8.37 shares fill, the rest is killed (FAK).
    let fill = run.events.iter().find_map(|e| match e {
        whale_trader::engine::EngineEvent::FillApplied { report, .. } => Some(report.clone()),
        _ => None,
    });
    let fee = dec!(8.37) * dec!(0.05) * dec!(0.43) * dec!(0.57);
    assert_eq!(fill.map(|f| (f.filled_size, f.avg_price, f.fee)), Some((dec!(8.37), dec!(0.43), fee)));
    let opened = sink.records().into_iter().find_map(|r| match r {
        AuditRecord::TradeOpened(o) => Some(o),
        _ => None,
    });
    let opened = opened.unwrap_or_else(|| panic!("no trade opened"));
    assert_eq!((opened.size, opened.price, opened.notional_usd), (dec!(8.37), dec!(0.43), dec!(3.5991)));
    assert_eq!(
        (opened.mode.as_str(), opened.side.as_str(), opened.token_id.as_str()),
        ("paper", "BUY", token.as_str())
    );
}

#[test]
fn stops_fire_on_price_updates() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    h.open(1, MARKET_B, TOKEN_B);
    // A: bid 0.50 → 0.45 is −11.8 % from the 0.51 entry: stop-loss. B: 0.64 is +25.5 %: take-profit.
    h.at(10, book(MARKET_A, TOKEN_A, dec!(0.45), START.plus_secs(10)));
    assert_eq!(h.last(), pair("trade_closed", "stop_loss"));
    h.at(11, book(MARKET_B, TOKEN_B, dec!(0.64), START.plus_secs(11)));
    assert_eq!(h.last(), pair("trade_closed", "take_profit"));
    assert_eq!(h.run.engine.portfolio().open_count(), 0);
}

#[test]
fn a_refused_book_moves_no_stop_and_a_sane_one_after_it_does() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    // Bid 0.90 over ask 0.10, built past the parser: a take-profit if it were believed.
    let Input::Book(mut crossed) = book(MARKET_A, TOKEN_A, dec!(0.90), START.plus_secs(10)) else {
        panic!("book() builds a book")
    };
    crossed.asks = vec![PriceLevel { price: dec!(0.10), size: dec!(1000) }];
    h.at(10, Input::Book(crossed));
    assert_eq!(h.last(), ("trade_opened".to_owned(), None), "{:?}", h.pairs());
    assert_eq!(h.run.engine.status().books_refused.crossed, 1);
    // A book older than the one taken at 0 s (its bid 0.45 would be a stop-loss): refused too.
    h.at(11, book(MARKET_A, TOKEN_A, dec!(0.45), START.plus_secs(-1)));
    assert_eq!(h.last(), ("trade_opened".to_owned(), None), "{:?}", h.pairs());
    assert_eq!(h.run.engine.status().books_refused.older_than_last, 1);
    assert_eq!(h.run.engine.portfolio().open_count(), 1);
    // A sane, newer book is taken again.
    h.at(12, book(MARKET_A, TOKEN_A, dec!(0.64), START.plus_secs(12)));
    assert_eq!(h.last(), pair("trade_closed", "take_profit"));
}

#[test]
fn a_refused_book_in_a_session_file_is_counted_not_applied() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("session.jsonl");
    let good = std::fs::read_to_string(repo_path("data/sample_session.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    let mut lines: Vec<String> = good.lines().take(50).map(str::to_owned).collect();
    let clean = dir.path().join("clean.jsonl");
    std::fs::write(&clean, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let without = replay_session(&clean, Arc::new(sample_config()), Box::new(MemoryAuditSink::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    let crossed = r#"{"ts":1767607200000,"type":"book","book":{"market":"0xm","asset_id":"9","timestamp":"1767607200000","bids":[{"price":"0.90","size":"10"}],"asks":[{"price":"0.10","size":"10"}],"min_order_size":"5","tick_size":"0.01"}}"#;
    let unsorted = r#"{"ts":1767607200000,"type":"book","book":{"market":"0xm","asset_id":"9","timestamp":"1767607200000","bids":[{"price":"0.40","size":"10"},{"price":"0.45","size":"10"},{"price":"0.42","size":"10"}],"asks":[],"min_order_size":"5","tick_size":"0.01"}}"#;
    lines.insert(5, crossed.to_owned());
    lines.insert(9, unsorted.to_owned());
    std::fs::write(&path, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let report = replay_session(&path, Arc::new(sample_config()), Box::new(MemoryAuditSink::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.lines, report.malformed_lines, report.books_refused), (52, 0, 2));
    assert_eq!(report.inputs, without.inputs, "a refused book is no input");
}

#[test]
fn whale_exit_sells_the_same_fraction_in_proportional_mode() {
    let mut h = harness(config_with_whale("proportional"));
    h.run.keep_events = true;
    h.open(0, MARKET_A, TOKEN_A);
    // We hold $100 / 0.53 = 188.67 shares; the whale sells 250 of its 1,000: we sell 25 % = 47.16.
    h.at(5, whale_trade(MARKET_A, TOKEN_A, "SELL", "250", "0.50", START.plus_secs(5)));
    let exit_sizes: Vec<Decimal> = h
        .run
        .events
        .iter()
        .filter_map(|e| match e {
            whale_trader::engine::EngineEvent::OrderIntentRecorded { intent, .. } if !intent.is_entry() => {
                Some(intent.size)
            }
            _ => None,
        })
        .collect();
    assert_eq!(exit_sizes, vec![dec!(47.16)]);
    assert_eq!(h.run.engine.portfolio().open_count(), 1, "a partial exit keeps the position open");
    // Then the whale sells the rest: we close.
    h.at(6, whale_trade(MARKET_A, TOKEN_A, "SELL", "750", "0.50", START.plus_secs(6)));
    assert_eq!(h.last(), pair("trade_closed", "whale_exit"));
}

#[test]
fn resolution_settles_winners_at_one_and_losers_at_zero() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    h.at(5, Input::Resolution { condition_id: MARKET_A.to_owned(), winning_token_id: TOKEN_A_NO.to_owned() });
    let closed = h.sink.records().into_iter().find_map(|r| match r {
        AuditRecord::TradeClosed(c) => Some(c),
        _ => None,
    });
    let closed = closed.unwrap_or_else(|| panic!("not closed"));
    // Lost everything: 188.67 shares × 0.51 plus the entry fee.
    let entry_fee = dec!(188.67) * dec!(0.05) * dec!(0.51) * dec!(0.49);
    assert_eq!((closed.reason.as_str(), closed.exit_price), ("market_resolved", dec!(0)));
    assert_eq!(closed.pnl_usd, (-(dec!(188.67) * dec!(0.51)) - entry_fee).round_dp(6));
}

#[test]
fn kill_flattens_everything_and_blocks_entries() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    h.open(1, MARKET_B, TOKEN_B);
    h.at(2, Input::Control(Control::Kill { detail: "operator pressed kill".to_owned() }));
    let pairs = h.pairs();
    let tail: Vec<_> = pairs.iter().skip(2).cloned().collect();
    assert_eq!(
        tail,
        vec![pair("trading_state_changed", "kill_switch"), pair("trade_closed", "kill"), pair("trade_closed", "kill")]
    );
    assert_eq!(h.run.engine.trading_state(), TradingState::Killed);
    assert_eq!(h.run.engine.portfolio().open_count(), 0);
    h.at(3, book(MARKET_A, TOKEN_A, dec!(0.50), START.plus_secs(3)));
    h.at(3, whale_trade(MARKET_A, TOKEN_A, "BUY", "1000", "0.51", START.plus_secs(3)));
    assert_eq!(h.last(), pair("trade_rejected", "trading_halted"));
}

#[test]
fn halt_blocks_entries_but_exits_still_run() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    h.at(1, Input::Control(Control::Halt { detail: "manual".to_owned() }));
    assert_eq!(h.last(), pair("trading_state_changed", "manual_halt"));
    h.at(2, book(MARKET_B, TOKEN_B, dec!(0.50), START.plus_secs(2)));
    h.at(2, whale_trade(MARKET_B, TOKEN_B, "BUY", "1000", "0.51", START.plus_secs(2)));
    assert_eq!(h.last(), pair("trade_rejected", "trading_halted"));
    h.at(3, book(MARKET_A, TOKEN_A, dec!(0.40), START.plus_secs(3)));
    assert_eq!(h.last(), pair("trade_closed", "stop_loss"));
    h.at(4, Input::Control(Control::Resume { detail: "ok".to_owned() }));
    assert_eq!(h.last(), pair("trading_state_changed", "manual_resume"));
}

#[test]
fn dry_run_records_intents_without_opening_positions() {
    let mut config = config_with_whale("full");
    config.daemon.mode = Mode::DryRun;
    let engine = Engine::new(Arc::new(config), EngineSettings::default(), Box::new(MemoryAuditSink::new()), START)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut run = SimulatedRun::new(engine, DryRunExecutor, START);
    run.feed(START, book(MARKET_A, TOKEN_A, dec!(0.50), START));
    run.feed(START, whale_trade(MARKET_A, TOKEN_A, "BUY", "1000", "0.51", START));
    assert_eq!(run.order_intents, 1);
    assert_eq!(run.engine.portfolio().open_count(), 0);
    assert_eq!(run.engine.portfolio().pending.len(), 0);
}

#[test]
fn stale_feed_moves_trading_to_reducing_and_back() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    // No price for more than stale_after_secs (30) while holding a position.
    h.at(40, Input::Tick);
    assert_eq!(h.last(), pair("trading_state_changed", "stale_feed"));
    assert_eq!(h.run.engine.trading_state(), TradingState::Reducing);
    h.at(41, book(MARKET_A, TOKEN_A, dec!(0.50), START.plus_secs(41)));
    h.at(42, Input::Tick);
    assert_eq!(h.last(), pair("trading_state_changed", "stale_feed"));
    assert_eq!(h.run.engine.trading_state(), TradingState::Active);
}

#[test]
fn malformed_replay_lines_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("session.jsonl");
    let good = std::fs::read_to_string(repo_path("data/sample_session.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    let mut lines: Vec<&str> = good.lines().take(50).collect();
    lines.insert(3, "{not json");
    lines.insert(7, r#"{"ts":1,"type":"teleport"}"#);
    lines.insert(9, r#"{"ts":1,"type":"book"}"#);
    std::fs::write(&path, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let report = replay_session(&path, Arc::new(sample_config()), Box::new(MemoryAuditSink::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.lines, report.malformed_lines), (53, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_replay_feed_through_the_engine_task_gives_the_same_audit_trail() {
    use whale_trader::clock::SimClock;
    use whale_trader::engine::EngineEvent;
    use whale_trader::runtime::{run_replay_feed, spawn_engine_task};

    let session = repo_path("data/sample_session.jsonl");
    let text = std::fs::read_to_string(&session).unwrap_or_else(|e| panic!("{e}"));
    let first_at = whale_trader::session::parse_line(text.lines().next().unwrap_or_default())
        .ok()
        .flatten()
        .map(|e| e.at)
        .unwrap_or_else(|| panic!("no first event"));
    let last_at = whale_trader::session::parse_line(text.lines().last().unwrap_or_default())
        .ok()
        .flatten()
        .map(|e| e.at)
        .unwrap_or_else(|| panic!("no last event"));

    let sink = MemoryAuditSink::new();
    let engine = Engine::new(Arc::new(sample_config()), EngineSettings::default(), Box::new(sink.clone()), first_at)
        .unwrap_or_else(|e| panic!("{e}"));
    let clock = SimClock::starting_at(first_at);
    let cancel = tokio_util::sync::CancellationToken::new();
    let (events_tx, mut events_rx) = tokio::sync::mpsc::channel::<EngineEvent>(64);
    let collector = tokio::spawn(async move {
        let mut count = 0usize;
        while events_rx.recv().await.is_some() {
            count += 1;
        }
        count
    });
    let handle = spawn_engine_task(
        engine,
        Box::new(PaperExecutor::default()),
        Arc::new(clock.clone()),
        16,
        events_tx,
        None,
        cancel.clone(),
    );
    let feed = tokio::spawn({
        let (tx, cancel, clock) = (handle.inputs.clone(), cancel.clone(), clock.clone());
        async move {
            run_replay_feed(&session, Decimal::ZERO, clock, tx, cancel, None, SharedBookRefusals::new("test")).await
        }
    });
    // The feed sends everything, then idles; wait (bounded) until the engine has seen the last event.
    let mut status = handle.status.clone();
    let mut reached = false;
    let deadline = whale_trader::clock::monotonic() + std::time::Duration::from_secs(30);
    while whale_trader::clock::monotonic() < deadline {
        if status.borrow_and_update().last_input_at == Some(last_at) {
            reached = true;
            break;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_millis(20), status.changed()).await;
    }
    if !reached {
        cancel.cancel();
        panic!("the engine never reached the session's last event: {:?} / {:?}", handle.task.await, feed.await);
    }
    // The tick at the last timestamp precedes the last event: give the feed a moment to send it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!feed.is_finished(), "the replay feed must stay idle until cancelled");
    cancel.cancel();
    let report = feed.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}"));
    let summary = handle.task.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.inputs, report.malformed_lines), (text.lines().count() as u64, 0));
    assert!(summary.inputs_processed >= report.inputs);
    assert!(handle.progress.load(std::sync::atomic::Ordering::Relaxed) >= report.inputs);
    assert!(collector.await.unwrap_or_default() > 0, "events reach the event consumer");

    let golden =
        std::fs::read_to_string(repo_path("tests/data/sample_session.audit.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<String> = sink.records().iter().map(AuditRecord::to_json_line).collect();
    assert_eq!(lines, golden.lines().map(str::to_owned).collect::<Vec<_>>());
}

#[test]
fn an_emergency_kill_from_a_settlement_flattens_the_other_positions() {
    // A small account: two $400 positions, then one market resolves against us (−$400 = −40 %),
    // beyond the 20 % emergency drawdown: the kill comes from the close, not from a price.
    let text = format!(
        "[copy]\n[[copy.whales]]\naddress = \"{WHALE}\"\nmultiplier = 8\n[risk]\nstarting_balance_usd = 1000\n[risk.limits]\nmax_total_exposure_percent = 100\nmax_per_asset_exposure_percent = 100\n[risk.circuit_breaker]\nenabled = false\n"
    );
    let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.validate(), vec![]);
    let mut h = harness(config);
    h.open(0, MARKET_A, TOKEN_A);
    h.open(1, MARKET_B, TOKEN_B);
    h.at(5, Input::Resolution { condition_id: MARKET_A.to_owned(), winning_token_id: TOKEN_A_NO.to_owned() });
    let pairs = h.pairs();
    assert!(pairs.contains(&pair("trade_closed", "market_resolved")), "{pairs:?}");
    assert!(pairs.contains(&pair("trading_state_changed", "emergency_drawdown")), "{pairs:?}");
    assert_eq!(h.last(), pair("trade_closed", "kill"));
    assert_eq!(h.run.engine.trading_state(), TradingState::Killed);
    assert_eq!(h.run.engine.portfolio().open_count(), 0);
}

// --- exits that end: bounded prices, retries, widening, the venue's minimum -----------------------

/// A CLOB /book with the given levels (best first on each side) and tick size.
fn book_with(
    market: &str,
    token: &str,
    bids: &[(&str, &str)],
    asks: &[(&str, &str)],
    tick: &str,
    at: Timestamp,
) -> Input {
    let side = |levels: &[(&str, &str)]| -> String {
        // The wire lists the best level last.
        let mut wire: Vec<String> = levels.iter().map(|(p, s)| format!(r#"{{"price":"{p}","size":"{s}"}}"#)).collect();
        wire.reverse();
        wire.join(",")
    };
    let json = format!(
        r#"{{"market":"{market}","asset_id":"{token}","timestamp":"{}","hash":"00","bids":[{}],"asks":[{}],"min_order_size":"5","tick_size":"{tick}","neg_risk":false}}"#,
        at.millis(),
        side(bids),
        side(asks)
    );
    Input::Book(Box::new(OrderBook::from_json(&json).unwrap_or_else(|e| panic!("{e}"))))
}

impl Harness {
    fn escalations(&self) -> Vec<whale_trader::engine::audit::ExitEscalated> {
        self.sink
            .records()
            .into_iter()
            .filter_map(|r| match r {
                AuditRecord::ExitEscalated(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn closed(&self) -> Option<whale_trader::engine::audit::TradeClosed> {
        self.sink.records().into_iter().find_map(|r| match r {
            AuditRecord::TradeClosed(c) => Some(c),
            _ => None,
        })
    }
}

#[test]
fn a_stop_on_a_thin_book_sells_only_down_to_its_bound_rests_and_is_sent_again_until_flat() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    // 188.67 shares from 0.51. The bid falls to 0.45 (a stop-loss) with only 50 shares there and the
    // next bid at 0.30, below the 5 % bound: each try sells the 50 and leaves the rest resting.
    let thin = |s: i64| {
        book_with(
            MARKET_A,
            TOKEN_A,
            &[("0.45", "50"), ("0.30", "1000")],
            &[("0.46", "1000")],
            "0.01",
            START.plus_secs(s),
        )
    };
    h.at(10, thin(10));
    let first = h.exit_orders();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].attempt, first[0].limit_price, first[0].mark), (1, dec!(0.42), dec!(0.45)));
    assert!(h.closed().is_none(), "138.67 shares are still held");
    // The retry waits retry_after_secs (10 s): nothing at 19 s, the second try at 20 s.
    h.at(19, thin(19));
    assert_eq!(h.exit_orders().len(), 1);
    h.at(21, thin(21));
    h.at(31, thin(31));
    assert_eq!(h.exit_orders().iter().map(|o| o.attempt).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(h.escalations().is_empty());
    // After three tries at 5 % the bound widens to 10 % (alerted), and the fourth try ends it.
    h.at(41, thin(41));
    let orders = h.exit_orders();
    assert_eq!(
        orders.iter().map(|o| o.limit_price).collect::<Vec<_>>(),
        vec![dec!(0.42), dec!(0.42), dec!(0.42), dec!(0.40)]
    );
    assert_eq!(
        orders.iter().map(|o| o.size).collect::<Vec<_>>(),
        vec![dec!(188.67), dec!(138.67), dec!(88.67), dec!(38.67)]
    );
    let escalations = h.escalations();
    assert_eq!(escalations.len(), 1);
    assert_eq!(
        (escalations[0].attempts, escalations[0].slippage_percent, escalations[0].remaining),
        (3, dec!(10), dec!(38.67))
    );
    let closed = h.closed().unwrap_or_else(|| panic!("not flat: {:?}", h.pairs()));
    assert_eq!((closed.reason.as_str(), closed.exit_price), ("stop_loss", dec!(0.45)), "never below the bound");
    assert_eq!(h.run.engine.portfolio().open_count(), 0);
    assert_eq!(h.run.engine.status().exits.unfilled, 3);
}

#[test]
fn a_kill_flattens_through_an_empty_book_and_ends_only_when_flat() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    // The bids vanish; the kill's exit finds nothing to sell to, again and again.
    h.at(5, book_with(MARKET_A, TOKEN_A, &[], &[("0.51", "1000")], "0.01", START.plus_secs(5)));
    h.at(6, Input::Control(Control::Kill { detail: "operator pressed kill".to_owned() }));
    for s in [17, 27, 37, 47] {
        h.at(s, book_with(MARKET_A, TOKEN_A, &[], &[("0.51", "1000")], "0.01", START.plus_secs(s)));
    }
    let orders = h.exit_orders();
    assert_eq!(orders.iter().map(|o| o.attempt).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert!(orders.iter().all(|o| o.reason == "kill" && o.size == dec!(188.67)), "{orders:?}");
    assert_eq!(h.escalations().len(), 1, "widened once after three tries");
    assert_eq!(h.run.engine.trading_state(), TradingState::Killed);
    assert_eq!(h.run.engine.portfolio().open_count(), 1, "not flat yet");
    // Buyers return: the next try sells everything.
    h.at(50, book_with(MARKET_A, TOKEN_A, &[("0.49", "1000")], &[("0.51", "1000")], "0.01", START.plus_secs(50)));
    h.at(58, book_with(MARKET_A, TOKEN_A, &[("0.49", "1000")], &[("0.51", "1000")], "0.01", START.plus_secs(58)));
    let closed = h.closed().unwrap_or_else(|| panic!("not flat: {:?}", h.pairs()));
    assert_eq!((closed.reason.as_str(), closed.exit_price), ("kill", dec!(0.49)));
    assert_eq!(h.run.engine.trading_state(), TradingState::Killed);
}

#[test]
fn a_resume_stops_the_kill_s_flattening_and_the_position_is_managed_again() {
    let mut h = harness(config_with_whale("full"));
    h.open(0, MARKET_A, TOKEN_A);
    h.at(5, book_with(MARKET_A, TOKEN_A, &[], &[("0.51", "1000")], "0.01", START.plus_secs(5)));
    h.at(6, Input::Control(Control::Kill { detail: "operator pressed kill".to_owned() }));
    h.at(7, Input::Control(Control::Resume { detail: "operator".to_owned() }));
    h.at(40, book_with(MARKET_A, TOKEN_A, &[("0.50", "1000")], &[("0.51", "1000")], "0.01", START.plus_secs(40)));
    assert_eq!(h.exit_orders().len(), 1, "no retry after the resume: {:?}", h.exit_orders());
    assert_eq!(h.run.engine.portfolio().open_count(), 1);
    // Its stop-loss still works.
    h.at(41, book_with(MARKET_A, TOKEN_A, &[("0.44", "1000")], &[("0.45", "1000")], "0.01", START.plus_secs(41)));
    assert_eq!(h.closed().map(|c| c.reason), Some("stop_loss".to_owned()));
}

#[test]
fn a_rest_below_the_venue_minimum_is_held_until_the_market_resolves() {
    // A book that thins out between the check and the fill, as the depth guard cannot prevent: with
    // the guard off, the thin book reaches the fill directly.
    let mut config = config_with_whale("full");
    config.copy.require_depth = false;
    let mut h = harness(config);
    // Only 3 shares are offered within the entry's limit: the position is 3 shares, below the
    // venue's minimum order of 5, which the venue would refuse to sell.
    h.at(0, book_with(MARKET_A, TOKEN_A, &[("0.50", "1000")], &[("0.51", "3"), ("0.60", "1000")], "0.01", START));
    h.at(0, whale_trade(MARKET_A, TOKEN_A, "BUY", "1000", "0.51", START));
    assert_eq!(h.last(), ("trade_opened".to_owned(), None));
    h.at(10, book_with(MARKET_A, TOKEN_A, &[("0.44", "1000")], &[("0.45", "1000")], "0.01", START.plus_secs(10)));
    assert!(h.exit_orders().is_empty());
    assert_eq!(h.last(), pair("exit_deferred", "below_venue_minimum"));
    h.at(30, book_with(MARKET_A, TOKEN_A, &[("0.40", "1000")], &[("0.41", "1000")], "0.01", START.plus_secs(30)));
    assert_eq!(h.pairs().iter().filter(|p| p.0 == "exit_deferred").count(), 1, "said once");
    h.at(40, Input::Resolution { condition_id: MARKET_A.to_owned(), winning_token_id: TOKEN_A.to_owned() });
    let closed = h.closed().unwrap_or_else(|| panic!("not settled"));
    assert_eq!((closed.reason.as_str(), closed.exit_price), ("market_resolved", dec!(1)));
}

#[test]
fn a_market_on_the_thousandth_tick_trades_and_its_exit_follows_a_tick_change() {
    let mut h = harness(config_with_whale("full"));
    // Entry near 1, on a 0.001 grid: the configured 0.01 grid would refuse 0.955.
    h.at(0, book_with(MARKET_A, TOKEN_A, &[("0.954", "1000")], &[("0.955", "1000")], "0.001", START));
    h.at(0, whale_trade(MARKET_A, TOKEN_A, "BUY", "1000", "0.955", START));
    assert_eq!(h.last(), ("trade_opened".to_owned(), None), "{:?}", h.pairs());
    let opened = h.sink.records().into_iter().find_map(|r| match r {
        AuditRecord::TradeOpened(o) => Some(o),
        _ => None,
    });
    assert_eq!(opened.map(|o| o.price), Some(dec!(0.955)));
    // The venue moves the market to 0.0001 as it falls through the stop (−10 % is 0.8595).
    h.at(10, book_with(MARKET_A, TOKEN_A, &[("0.8501", "1000")], &[("0.8502", "1000")], "0.0001", START.plus_secs(10)));
    let orders = h.exit_orders();
    assert_eq!(orders.len(), 1, "{:?}", h.pairs());
    // 5 % below 0.8501 is 0.807595, floored onto the new grid.
    assert_eq!(orders[0].limit_price, dec!(0.8075));
    let closed = h.closed().unwrap_or_else(|| panic!("not closed: {:?}", h.pairs()));
    assert_eq!((closed.reason.as_str(), closed.exit_price), ("stop_loss", dec!(0.8501)));
}

/// The breaker trip carries the figures of its own moment: in the sample session it trips on the
/// mark of a stop-loss exit still open, whose fill later in the same step moves the P&L again. The
/// figures are those the trip's detail names, with that position still counted.
#[test]
fn a_state_change_carries_the_risk_figures_of_its_moment() {
    use whale_trader::engine::EngineEvent;
    let text = std::fs::read_to_string(repo_path("data/sample_session.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    let mut run: Option<SimulatedRun<PaperExecutor>> = None;
    let mut trip = None;
    for line in text.lines() {
        let Some(event) = whale_trader::session::parse_line(line).unwrap_or_else(|e| panic!("{e}")) else { continue };
        let run = run.get_or_insert_with(|| {
            let engine = Engine::new(
                Arc::new(sample_config()),
                EngineSettings::default(),
                Box::new(MemoryAuditSink::new()),
                event.at,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let mut run = SimulatedRun::new(engine, PaperExecutor::default(), event.at);
            run.keep_events = true;
            run
        });
        run.feed(event.at, event.input);
        let open_after_step = run.engine.view().status.open_positions;
        if trip.is_none()
            && let Some((t, figures)) = run.events.iter().find_map(|e| match e {
                EngineEvent::StateChanged(t, figures) if t.to == TradingState::Reducing => Some((t.clone(), *figures)),
                _ => None,
            })
        {
            trip = Some((t, figures, run.engine.risk().daily_pnl(), open_after_step));
        }
        run.events.clear();
    }
    let (t, figures, pnl_after_step, open_after_step) = trip.expect("the sample session trips the breaker");
    let named: Decimal =
        t.detail.split("P&L ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().parse().unwrap();
    assert_eq!(figures.daily_pnl, named, "{t:?}");
    assert_eq!(figures.open_positions, 1, "the stop-loss exit of T000014 has not filled at the trip");
    assert_ne!(figures.daily_pnl, pnl_after_step, "its fill, in the same step, moved the P&L after the trip");
    assert_eq!(open_after_step, 0);
    assert!(figures.drawdown_percent > Decimal::ZERO);
}
