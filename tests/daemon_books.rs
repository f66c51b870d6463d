//! A corrupt book never moves a position: the real binary in paper mode on the Polymarket feeds
//! (the loopback stand-in) copies a whale BUY, then the stand-in serves that token a crossed book
//! (bid 0.90 over ask 0.10, a take-profit if it were believed). The book is refused: no take-profit,
//! no `trade_closed`, the refusal counted in `/metrics` and logged once, not once per poll. A sane
//! book afterwards is taken again (its bid 0.70 is a real take-profit).

mod support;

use std::time::Duration;

use serde_json::json;
use support::venue::*;
use support::{Workspace, json_lines, wait_until};

/// The value of `whale_trader_books_refused_total{cause="…"}` in a `/metrics` answer.
fn refused(metrics: &str, cause: &str) -> Option<u64> {
    let prefix = format!("whale_trader_books_refused_total{{cause=\"{cause}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

fn polls(venue: &LocalVenue) -> usize {
    venue.with(|v| v.seen.iter().filter(|s| *s == "POST /books").count())
}

#[test]
fn a_crossed_book_is_refused_counted_and_moves_nothing_and_a_sane_one_is_taken_again() {
    let venue = LocalVenue::start();
    venue.with(|v| {
        v.books.insert(TOKEN_A.into(), book(TOKEN_A, MARKET_A));
    });
    let ws = Workspace::with_default_config("");
    let daemon = start_daemon(&ws, &venue);
    let metrics = http_get(ws.api_port, "/metrics");
    assert_eq!(refused(&metrics, "crossed"), Some(0), "every cause is shown from the start:\n{metrics}");

    // A copied position, watched by the price feed.
    std::thread::sleep(Duration::from_millis(1_200));
    venue.with(|v| v.rows.push(trade_row("BUY", TOKEN_A, MARKET_A, now_secs(), 400.0, 0.5, "0xa1")));
    let copied = wait_until(LIMIT, || count(&ws, "trade_opened", TOKEN_A) == 1);
    assert!(copied, "no trade_opened for the whale's BUY; audit:\n{}", ws.read("logs/trade_audit.log"));
    let watched = wait_until(LIMIT, || polls(&venue) > 0);
    assert!(watched, "the price feed never polled the held token");

    // The crossed book, on every poll from now on.
    venue.with(|v| {
        let mut crossed = book(TOKEN_A, MARKET_A);
        crossed["bids"] = json!([{"price": "0.89", "size": "1000"}, {"price": "0.9", "size": "1000"}]);
        crossed["asks"] = json!([{"price": "0.11", "size": "1000"}, {"price": "0.1", "size": "1000"}]);
        v.books.insert(TOKEN_A.into(), crossed);
    });
    let polls_before = polls(&venue);
    let counted = wait_until(LIMIT, || {
        refused(&http_get(ws.api_port, "/metrics"), "crossed").is_some_and(|n| n >= 5)
            && polls(&venue) >= polls_before + 5
    });
    assert!(counted, "the crossed books were not counted:\n{}", http_get(ws.api_port, "/metrics"));
    // Nothing acted on them; a feed of nothing but corrupt books is no feed at all.
    assert_eq!(count(&ws, "trade_closed", TOKEN_A), 0, "{}", ws.read("logs/trade_audit.log"));
    let reduced = wait_until(LIMIT, || has_state_change(&ws, "reducing", "stale_feed"));
    assert!(reduced, "refused books kept the price fresh:\n{}", ws.read("logs/trade_audit.log"));
    assert_eq!(count(&ws, "trade_closed", TOKEN_A), 0, "{}", ws.read("logs/trade_audit.log"));
    // One warning for many refusals, naming the token and the prices.
    let warnings: Vec<String> = json_lines(&ws.read("logs/main.log"))
        .iter()
        .filter_map(|l| {
            l["message"].as_str().filter(|m| m.contains("order book(s) refused (crossed)")).map(str::to_owned)
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(TOKEN_A) && warnings[0].contains("best_bid = 0.9 above best ask 0.1"), "{warnings:?}");

    // A sane book again: taken, and its bid 0.70 (+40 % on the 0.50 entry) takes the profit.
    venue.with(|v| {
        let mut sane = book(TOKEN_A, MARKET_A);
        sane["bids"] = json!([{"price": "0.69", "size": "1000"}, {"price": "0.7", "size": "1000"}]);
        sane["asks"] = json!([{"price": "0.72", "size": "1000"}, {"price": "0.71", "size": "1000"}]);
        v.books.insert(TOKEN_A.into(), sane);
    });
    let closed =
        wait_until(LIMIT, || audit(&ws).iter().any(|l| l["event"] == "trade_closed" && l["reason"] == "take_profit"));
    assert!(closed, "the sane book was not taken:\n{}", ws.read("logs/trade_audit.log"));
    let exit = audit(&ws).into_iter().find(|l| l["event"] == "trade_closed").unwrap_or_default();
    let exit_price: Option<f64> = exit["exit_price"].as_str().and_then(|p| p.parse().ok());
    assert_eq!(exit_price, Some(0.7), "sold at the sane book's best bid: {exit}");
    stop_daemon(&ws, daemon);
}
