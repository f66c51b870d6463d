//! The engine's side of market resolution on the live feeds: a market that closes before its
//! resolution keeps its positions without exit orders and without holding trading in `reducing`
//! (the stale-feed hold is also released once nothing needs prices any more); a reopened market is
//! managed again; the closure is kept in the checkpoint and shown in the engine's view.

use std::collections::BTreeSet;
use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use whale_trader::clock::Timestamp;
use whale_trader::config::Config;
use whale_trader::domain::TradingState;
use whale_trader::engine::audit::AuditRecord;
use whale_trader::engine::{Control, Engine, EngineSettings, Input, MemoryAuditSink, PaperExecutor, SimulatedRun};
use whale_trader::market::OrderBook;
use whale_trader::polymarket::{ActivityRow, parse_v1_row};

const WHALE: &str = "0x1111111111111111111111111111111111111111";
const MARKET_A: &str = "0xaaaa000000000000000000000000000000000000000000000000000000000001";
const MARKET_B: &str = "0xbbbb000000000000000000000000000000000000000000000000000000000002";
const TOKEN_A: &str = "1001";
const TOKEN_B: &str = "2001";
const START: Timestamp = Timestamp::from_secs(1_767_607_200);

fn config() -> Config {
    let text = format!("[[copy.whales]]\naddress = \"{WHALE}\"\nmultiplier = 2\n");
    let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.validate(), vec![]);
    config
}

/// A CLOB /book with 1,000 shares at `bid` and at `bid + 0.01`.
fn book(market: &str, token: &str, bid: Decimal, at: Timestamp) -> Input {
    let ask = bid + dec!(0.01);
    let json = format!(
        r#"{{"market":"{market}","asset_id":"{token}","timestamp":"{}","hash":"00","bids":[{{"price":"{bid}","size":"1000"}}],"asks":[{{"price":"{ask}","size":"1000"}}],"min_order_size":"5","tick_size":"0.01","neg_risk":false}}"#,
        at.millis()
    );
    Input::Book(Box::new(OrderBook::from_json(&json).unwrap_or_else(|e| panic!("{e}"))))
}

fn whale_trade(market: &str, token: &str, side: &str, at: Timestamp) -> Input {
    let json = format!(
        r#"{{"proxyWallet":"{WHALE}","side":"{side}","asset":"{token}","conditionId":"{market}","size":1000,"price":0.51,"timestamp":{},"title":"t","slug":"s","icon":"","eventSlug":"e","outcome":"Yes","outcomeIndex":0,"name":"","pseudonym":"","bio":"","profileImage":"","profileImageOptimized":"","transactionHash":"0x{:064x}"}}"#,
        at.millis() / 1000,
        at.millis()
    );
    match parse_v1_row(&json) {
        Ok(ActivityRow::Trade(trade)) => Input::WhaleTrade(Box::new(trade)),
        other => panic!("not a trade row: {other:?}"),
    }
}

fn closed(market: &str) -> Input {
    Input::MarketClosed { condition_id: market.to_owned() }
}

struct Harness {
    run: SimulatedRun<PaperExecutor>,
    sink: MemoryAuditSink,
}

impl Harness {
    fn new() -> Self {
        let sink = MemoryAuditSink::new();
        let engine = Engine::new(Arc::new(config()), EngineSettings::default(), Box::new(sink.clone()), START)
            .unwrap_or_else(|e| panic!("{e}"));
        Self { run: SimulatedRun::new(engine, PaperExecutor::default(), START), sink }
    }

    fn at(&mut self, secs: i64, input: Input) {
        self.run.feed(START.plus_secs(secs), input);
    }

    fn records(&self) -> Vec<AuditRecord> {
        self.sink.records()
    }

    fn events(&self) -> Vec<&'static str> {
        self.records().iter().map(AuditRecord::event_name).collect()
    }

    /// Opens a position at bid 0.50 / ask 0.51; returns its trade id.
    fn open(&mut self, secs: i64, market: &str, token: &str) -> String {
        self.at(secs, book(market, token, dec!(0.50), START.plus_secs(secs)));
        self.at(secs, whale_trade(market, token, "BUY", START.plus_secs(secs)));
        match self.records().pop() {
            Some(AuditRecord::TradeOpened(t)) => t.trade_id,
            other => panic!("not opened: {other:?}"),
        }
    }

    /// Trade ids of the exit orders sent so far.
    fn exits(&self) -> Vec<String> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                AuditRecord::ExitOrder(o) => Some(o.trade_id),
                _ => None,
            })
            .collect()
    }

    fn closes(&self) -> Vec<(String, String, Decimal)> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                AuditRecord::TradeClosed(c) => Some((c.trade_id, c.reason, c.exit_price)),
                _ => None,
            })
            .collect()
    }

    /// The `trading_state_changed` records as (to, reason).
    fn state_changes(&self) -> Vec<(String, String)> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                AuditRecord::TradingStateChanged(t) => Some((t.to, t.reason)),
                _ => None,
            })
            .collect()
    }

    fn state(&self) -> TradingState {
        self.run.engine.trading_state()
    }
}

fn change(to: &str, reason: &str) -> (String, String) {
    (to.to_owned(), reason.to_owned())
}

#[test]
fn a_stale_feed_hold_is_released_once_the_last_position_is_settled() {
    let mut h = Harness::new();
    let trade = h.open(0, MARKET_A, TOKEN_A);
    // The resolved market's book is gone: no price for longer than stale_after_secs (30).
    h.at(40, Input::Tick);
    assert_eq!(h.state(), TradingState::Reducing);
    h.at(41, Input::Resolution { condition_id: MARKET_A.to_owned(), winning_token_id: TOKEN_A.to_owned() });
    assert_eq!(h.closes(), vec![(trade, "market_resolved".to_owned(), dec!(1))]);
    // Nothing is watched any more and still no price: the hold ends all the same.
    h.at(42, Input::Tick);
    assert_eq!(h.state_changes(), vec![change("reducing", "stale_feed"), change("active", "stale_feed")]);
    assert_eq!(h.state(), TradingState::Active);
    assert_eq!(h.run.engine.risk().snapshot().total_exposure_usd, Decimal::ZERO, "exposure released");
}

#[test]
fn positions_in_a_closed_market_do_not_hold_trading_and_settle_when_it_resolves() {
    let mut h = Harness::new();
    let trade = h.open(0, MARKET_A, TOKEN_A);
    h.at(40, Input::Tick);
    assert_eq!(h.state(), TradingState::Reducing);
    h.at(41, closed(MARKET_A));
    match h.records().pop() {
        Some(AuditRecord::MarketClosed(m)) => {
            assert_eq!((m.market_id.as_str(), m.trade_ids.clone()), (MARKET_A, vec![trade.clone()]))
        }
        other => panic!("no market_closed: {other:?}"),
    }
    h.at(42, Input::Tick);
    assert_eq!(h.state(), TradingState::Active, "{:?}", h.state_changes());
    // Hours without a price: still nothing to hold for.
    h.at(3_600, Input::Tick);
    assert_eq!(h.state_changes(), vec![change("reducing", "stale_feed"), change("active", "stale_feed")]);
    assert_eq!(h.events().iter().filter(|e| **e == "market_closed").count(), 1);
    h.at(3_601, closed(MARKET_A));
    assert_eq!(h.events().iter().filter(|e| **e == "market_closed").count(), 1, "said once");
    h.at(3_602, Input::Resolution { condition_id: MARKET_A.to_owned(), winning_token_id: "1002".to_owned() });
    assert_eq!(h.closes(), vec![(trade, "market_resolved".to_owned(), dec!(0))]);
    assert!(h.run.engine.closed_markets().is_empty(), "a resolved market is forgotten");
    assert_eq!(h.run.engine.risk().snapshot().total_exposure_usd, Decimal::ZERO);
}

#[test]
fn a_closed_market_sends_no_exit_orders_while_other_positions_are_managed() {
    let mut h = Harness::new();
    let in_closed = h.open(0, MARKET_A, TOKEN_A);
    let in_open = h.open(0, MARKET_B, TOKEN_B);
    h.at(1, closed(MARKET_A));
    // A late book below the stop, the whale's sale, a human's close: none sends an order for it.
    h.at(2, book(MARKET_A, TOKEN_A, dec!(0.30), START.plus_secs(2)));
    h.at(3, whale_trade(MARKET_A, TOKEN_A, "SELL", START.plus_secs(3)));
    h.at(4, Input::Control(Control::ClosePosition { trade_id: in_closed.clone() }));
    assert!(h.exits().is_empty(), "{:?}", h.records());
    // The other market's stop still exits.
    h.at(5, book(MARKET_B, TOKEN_B, dec!(0.40), START.plus_secs(5)));
    assert_eq!(h.exits(), vec![in_open.clone()]);
    assert_eq!(h.closes().into_iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(), vec![(in_open, "stop_loss".into())]);
    // A kill flattens what it can: not the closed market's position.
    h.at(6, Input::Control(Control::Kill { detail: "drill".into() }));
    h.at(30, Input::Tick);
    assert_eq!(h.exits().len(), 1, "{:?}", h.records());
    assert_eq!(h.run.engine.portfolio().open_count(), 1);
}

#[test]
fn a_reopened_market_is_managed_again() {
    let mut h = Harness::new();
    let trade = h.open(0, MARKET_A, TOKEN_A);
    h.at(1, closed(MARKET_A));
    h.at(2, book(MARKET_A, TOKEN_A, dec!(0.40), START.plus_secs(2)));
    assert!(h.exits().is_empty());
    h.at(3, Input::MarketReopened { condition_id: MARKET_A.to_owned() });
    assert_eq!(h.events().last(), Some(&"market_reopened"));
    // The stop that fired while the market was closed waited; it goes out on the next tick.
    h.at(4, Input::Tick);
    assert_eq!(h.exits(), vec![trade.clone()]);
    assert_eq!(h.closes().into_iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(), vec![(trade, "stop_loss".into())]);
    h.at(5, Input::MarketReopened { condition_id: MARKET_A.to_owned() });
    assert_eq!(h.events().iter().filter(|e| **e == "market_reopened").count(), 1, "only a closed market reopens");
}

#[test]
fn a_market_we_hold_nothing_in_is_not_remembered_closed() {
    let mut h = Harness::new();
    h.at(0, closed(MARKET_B));
    h.at(1, closed("0xunknown"));
    h.at(2, book(MARKET_A, TOKEN_A, dec!(0.50), START.plus_secs(2)));
    h.at(3, closed(MARKET_A));
    assert!(h.records().is_empty(), "{:?}", h.records());
    assert!(h.run.engine.closed_markets().is_empty());
}

#[test]
fn the_closure_is_in_the_view_and_survives_a_checkpoint() {
    let mut h = Harness::new();
    h.open(0, MARKET_A, TOKEN_A);
    h.open(0, MARKET_B, TOKEN_B);
    h.at(1, closed(MARKET_A));
    let view = h.run.engine.view();
    assert_eq!(view.watched_tokens, BTreeSet::from([TOKEN_B.to_owned()]), "no book is polled for a closed market");
    assert_eq!(view.watched_markets.keys().map(String::as_str).collect::<Vec<_>>(), vec![MARKET_A, MARKET_B]);
    assert_eq!(view.watched_markets[MARKET_A], BTreeSet::from([TOKEN_A.to_owned()]));
    assert_eq!(view.closed_markets, BTreeSet::from([MARKET_A.to_owned()]));

    let (checkpoint, risk) = h.run.engine.checkpoint();
    let json = serde_json::to_string(&checkpoint).unwrap_or_else(|e| panic!("{e}"));
    let sink = MemoryAuditSink::new();
    let restored = Engine::restore(
        Arc::new(config()),
        Box::new(sink.clone()),
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}")),
        risk,
        std::iter::empty(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(restored.closed_markets(), h.run.engine.closed_markets());
    let mut run = SimulatedRun::new(restored, PaperExecutor::default(), START.plus_secs(2));
    run.feed(START.plus_secs(2), closed(MARKET_A));
    run.feed(START.plus_secs(3), book(MARKET_A, TOKEN_A, dec!(0.30), START.plus_secs(3)));
    assert!(sink.records().is_empty(), "neither said again nor exited: {:?}", sink.records());
}
