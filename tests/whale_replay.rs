//! A generated session through `replay_session`: a whale whose copies lose three times in a row is
//! muted by its breaker, its trade inside the cooldown is refused `whale_muted`, and once the
//! cooldown has run (a day of session time later) it is unmuted and copied again. A market whose
//! `market` line says it ends within the hour is not entered.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use whale_trader::config::Config;
use whale_trader::engine::audit::{AuditRecord, MemoryAuditSink};
use whale_trader::session::replay_session;

const WHALE: &str = "0x1111111111111111111111111111111111111111";
/// 2026-01-05T00:00:00Z, in seconds.
const T0: i64 = 1_767_571_200;
const HOUR: i64 = 3_600;

fn market_id(i: usize) -> String {
    format!("0x{:064x}", 0xa0 + i)
}

fn token(i: usize) -> String {
    format!("{}", 7_000_000 + i)
}

/// Session lines, written as the daemon's recorder would see them.
struct Session {
    lines: Vec<String>,
    trades: usize,
}

impl Session {
    fn market(&mut self, secs: i64, i: usize, end: Option<i64>) {
        let end_date = end
            .map(|e| {
                let at = chrono::DateTime::from_timestamp(e, 0).unwrap_or_default();
                format!(r#","end_date":"{}""#, at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            })
            .unwrap_or_default();
        self.lines.push(format!(
            r#"{{"ts":{},"type":"market","market":{{"c":"{}","t":[{{"t":"{}","o":"Yes"}},{{"t":"9{}","o":"No"}}],"mts":0.01,"mos":5,"nr":false,"ao":true,"fd":{{"r":0.05,"e":1,"to":true}}}}{end_date}}}"#,
            secs * 1000,
            market_id(i),
            token(i),
            token(i)
        ));
    }

    /// A deep book around `bid` / `bid + 0.01`.
    fn book(&mut self, secs: i64, i: usize, bid: &str) {
        let bid: f64 = bid.parse().unwrap_or_default();
        let level = |p: f64| format!(r#"{{"price":"{p:.2}","size":"1000"}}"#);
        self.lines.push(format!(
            r#"{{"ts":{},"type":"book","book":{{"market":"{}","asset_id":"{}","timestamp":"{}","hash":"00","bids":[{},{}],"asks":[{},{}],"min_order_size":"5","tick_size":"0.01","neg_risk":false,"last_trade_price":"{bid}"}}}}"#,
            secs * 1000,
            market_id(i),
            token(i),
            secs * 1000,
            level(bid - 0.01),
            level(bid),
            level(bid + 0.02),
            level(bid + 0.01),
        ));
    }

    fn buy(&mut self, secs: i64, i: usize) {
        self.trades += 1;
        self.lines.push(format!(
            r#"{{"ts":{},"type":"whale_trade","trade":{{"proxyWallet":"{WHALE}","side":"BUY","asset":"{}","conditionId":"{}","size":400.0,"price":0.51,"timestamp":{},"title":"Generated market {i}","slug":"g{i}","icon":"","eventSlug":"g","outcome":"Yes","outcomeIndex":0,"name":"","pseudonym":"","bio":"","profileImage":"","profileImageOptimized":"","transactionHash":"0x{:064x}"}}}}"#,
            secs * 1000,
            token(i),
            market_id(i),
            secs - 2,
            self.trades
        ));
    }

    fn write(&self, path: &Path) {
        let mut file = std::fs::File::create(path).unwrap_or_else(|e| panic!("{e}"));
        for line in &self.lines {
            writeln!(file, "{line}").unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

fn config() -> Config {
    let text = format!("[[copy.whales]]\naddress = \"{WHALE}\"\nlabel = \"loser\"\n");
    let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.validate(), vec![]);
    config
}

#[test]
fn a_losing_whale_is_muted_by_its_breaker_and_copied_again_after_the_cooldown() {
    let mut s = Session { lines: Vec::new(), trades: 0 };
    for i in 0..5 {
        s.market(T0, i, Some(T0 + 30 * 24 * HOUR));
    }
    s.market(T0, 5, Some(T0 + HOUR / 2));
    // Market 5 ends in half an hour: not entered.
    s.book(T0 + 5, 5, "0.50");
    s.buy(T0 + 6, 5);
    // Three copies in three markets, each stopped out: 0.51 → a bid of 0.40.
    for i in 0..3 {
        let at = T0 + 600 * (i as i64 + 1);
        s.book(at, i, "0.50");
        s.buy(at + 1, i);
        s.book(at + 60, i, "0.40");
    }
    let third_loss = T0 + 1_800 + 60;
    // Inside the 24 h cooldown: refused.
    s.book(third_loss + HOUR, 3, "0.50");
    s.buy(third_loss + HOUR + 1, 3);
    // After it: copied again.
    let after = third_loss + 24 * HOUR + 60;
    s.book(after, 4, "0.50");
    s.buy(after + 1, 4);

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("generated.jsonl");
    s.write(&path);
    let sink = MemoryAuditSink::new();
    let report = replay_session(&path, Arc::new(config()), Box::new(sink.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.malformed_lines, 0);

    let records = sink.records();
    let pairs: Vec<(String, Option<String>)> = records
        .iter()
        // The generated session sends books a minute apart, so the feed goes stale while a copy is
        // held; those holds (and their releases) are not what this session is about.
        .filter(|r| !matches!(r, AuditRecord::ExitOrder(_)))
        .filter(|r| !matches!(r, AuditRecord::TradingStateChanged(t) if t.reason == "stale_feed"))
        .map(|r| (r.event_name().to_owned(), r.reason().map(str::to_owned)))
        .collect();
    let pair = |event: &str, reason: Option<&str>| (event.to_owned(), reason.map(str::to_owned));
    assert_eq!(
        pairs,
        vec![
            pair("trade_rejected", Some("near_resolution")),
            pair("trade_opened", None),
            pair("trade_closed", Some("stop_loss")),
            pair("trade_opened", None),
            pair("trade_closed", Some("stop_loss")),
            pair("trade_opened", None),
            pair("trade_closed", Some("stop_loss")),
            pair("whale_standing_changed", Some("consecutive_losses")),
            pair("trade_rejected", Some("whale_muted")),
            pair("whale_standing_changed", Some("cooldown_elapsed")),
            pair("trade_opened", None),
        ]
    );
    let standing = |change: &str| {
        records.iter().find_map(|r| match r {
            AuditRecord::WhaleStandingChanged(w) if w.change == change => Some(w.clone()),
            _ => None,
        })
    };
    let muted = standing("muted").unwrap_or_else(|| panic!("never muted"));
    assert_eq!(muted.whale_address, WHALE);
    let until = chrono::DateTime::from_timestamp(third_loss + 24 * HOUR, 0).unwrap_or_default();
    assert_eq!(muted.until, Some(until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    let unmuted = standing("unmuted").unwrap_or_else(|| panic!("never unmuted"));
    assert!(
        unmuted.timestamp >= muted.until.unwrap_or_default(),
        "unmuted at {} before the cooldown",
        unmuted.timestamp
    );
    // Each closed copy carries what the whale's own price would have made on it.
    for record in &records {
        if let AuditRecord::TradeClosed(c) = record {
            assert_eq!(c.whale_address, WHALE);
            assert!(c.whale_pnl_usd.is_some_and(|w| w > c.pnl_usd), "fees and slippage cost us: {c:?}");
        }
    }
}
