//! Fuzz targets of every Polymarket parser of outside input: Data API activity rows and pages (v1
//! and v2), CLOB books (`GET /book`, `POST /books`), market info (`GET /clob-markets`, tick size
//! and fees), market status (`GET /markets`), wallet answers (balance, positions pages) and order
//! answers. Raw bytes reach the JSON syntax checks; rows and objects of the captured fixtures with
//! one field removed or made hostile reach the validation. Every parser must return a value or a
//! typed error, and a page never yields more rows than the limit it was given.

mod support;

use std::collections::BTreeMap;
use std::sync::Mutex;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::fuzz::{bytes, config, json_value, mutated_object};
use whale_trader::market::{ClobMarketInfo, OrderBook};
use whale_trader::polymarket::{
    MarketStatus, PostOrderResponse, parse_balance, parse_books, parse_positions_page, parse_v1_page, parse_v1_row,
    parse_v2_page, parse_v2_row,
};

const WALLET: &str = "0xc6ef18652fcf021e6ec53aa6627746e629f41aca";

/// The keys and values the Polymarket parsers look for, so generated objects often carry them.
const WORDS: &[&str] = &[
    "data",
    "pagination",
    "has_more",
    "next_cursor",
    "proxy_wallet",
    "proxyWallet",
    "timestamp",
    "condition_id",
    "conditionId",
    "type",
    "TRADE",
    "REDEEM",
    "size",
    "usdc_size",
    "usdcSize",
    "transaction_hash",
    "transactionHash",
    "price",
    "token_id",
    "asset",
    "side",
    "BUY",
    "SELL",
    "outcome_index",
    "outcomeIndex",
    "bids",
    "asks",
    "asset_id",
    "market",
    "hash",
    "tick_size",
    "min_order_size",
    "neg_risk",
    "last_trade_price",
    "t",
    "o",
    "c",
    "r",
    "mts",
    "mos",
    "nr",
    "fd",
    "closed",
    "accepting_orders",
    "tokens",
    "winner",
    "outcome",
    "balance",
    "allowances",
    "current_size",
    "avg_price",
    "success",
    "orderID",
    "status",
    "makingAmount",
    "takingAmount",
    "errorMsg",
    "0xc6ef18652fcf021e6ec53aa6627746e629f41aca",
    "1",
];

/// A captured fixture, read once per run (cases reuse it).
fn fixture(name: &'static str) -> Value {
    static CACHE: Mutex<BTreeMap<&'static str, Value>> = Mutex::new(BTreeMap::new());
    let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .entry(name)
        .or_insert_with(|| {
            let path = format!("{}/tests/fixtures/polymarket/{name}", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
        })
        .clone()
}

fn v2_row() -> Value {
    let mut row = fixture("data_api_v2_activity_user.json")["data"][0].clone();
    row["proxy_wallet"] = json!(WALLET);
    row
}

fn v1_row() -> Value {
    fixture("data_api_v1_activity_user_trades.json")[0].clone()
}

fn bytes_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// A page of `rows`, sometimes wrapped in the v2 envelope with a hostile pagination.
fn v2_page(rows: Vec<Value>, pagination: Value) -> Vec<u8> {
    bytes_of(&json!({"data": rows, "pagination": pagination}))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn activity_pages_of_raw_bytes(body in bytes(2_048), limit in 0usize..600) {
        for page in [parse_v1_page(&body, limit), parse_v2_page(&body, limit)].into_iter().flatten() {
            prop_assert!(page.raw_count <= limit && page.rows.len() <= page.raw_count);
            prop_assert_eq!(page.malformed as u64, page.skipped.total());
        }
    }

    #[test]
    fn activity_rows_near_the_fixture(v2 in mutated_object(v2_row(), WORDS), v1 in mutated_object(v1_row(), WORDS)) {
        let _ = parse_v2_row(&v2.to_string());
        let _ = parse_v1_row(&v1.to_string());
        let _ = parse_v1_row(&v2.to_string());
    }

    #[test]
    fn activity_pages_of_hostile_rows_are_cut_to_the_limit(
        rows in proptest::collection::vec(prop_oneof![mutated_object(v2_row(), WORDS), json_value(WORDS)], 0..12),
        pagination in json_value(WORDS),
        limit in 0usize..8,
    ) {
        let total = rows.len();
        // A hostile pagination may refuse the page as a whole; a page read is never longer than asked.
        if let Ok(page) = parse_v2_page(&v2_page(rows.clone(), pagination), limit) {
            prop_assert_eq!(page.raw_count, total.min(limit));
        }
        let page = parse_v2_page(&v2_page(rows.clone(), json!({"has_more": false})), limit)
            .expect("a well-formed envelope parses");
        prop_assert_eq!(page.raw_count, total.min(limit));
        prop_assert_eq!(page.cut, total.saturating_sub(limit));
        prop_assert_eq!(page.rows.len() + page.malformed, page.raw_count);
        let v1 = parse_v1_page(&bytes_of(&Value::Array(rows)), limit).expect("an array parses");
        prop_assert_eq!(v1.cut, total.saturating_sub(limit));
    }

    #[test]
    fn books_of_raw_bytes(body in bytes(2_048)) {
        let _ = parse_books(&body);
        let _ = OrderBook::from_json(&String::from_utf8_lossy(&body));
        let _ = ClobMarketInfo::from_json(&String::from_utf8_lossy(&body));
        let _ = MarketStatus::from_json(&body, "0x2583be7162d1e223505d91f9702c67da402385491ef84be2ae0b25822528dca4");
    }

    #[test]
    fn books_near_the_fixture(
        book in mutated_object(fixture("clob_book.json"), WORDS),
        level in mutated_object(fixture("clob_book.json")["bids"][0].clone(), WORDS),
    ) {
        let _ = OrderBook::from_json(&book.to_string());
        let mut with_level = fixture("clob_book.json");
        with_level["asks"] = json!([level.clone(), level]);
        let _ = OrderBook::from_json(&with_level.to_string());
        if let Ok(parsed) = parse_books(&bytes_of(&json!([book, with_level]))) {
            prop_assert!(parsed.books.len() + parsed.refused.len() <= 2);
        }
    }

    #[test]
    fn market_info_and_tick_size_near_the_fixture(
        info in mutated_object(fixture("clob_clob_markets_info.json")[0].clone(), WORDS),
        rules in mutated_object(fixture("clob_clob_markets_info.json")[0]["r"].clone(), WORDS),
    ) {
        let _ = ClobMarketInfo::from_json(&info.to_string());
        let mut with_rules = fixture("clob_clob_markets_info.json")[0].clone();
        with_rules["r"] = rules;
        let _ = ClobMarketInfo::from_json(&with_rules.to_string());
    }

    #[test]
    fn market_status_near_the_fixture(status in mutated_object(fixture("clob_market_resolved_docs_shape.json"), WORDS)) {
        let expected = fixture("clob_market_resolved_docs_shape.json")["condition_id"].as_str().unwrap().to_string();
        let _ = MarketStatus::from_json(&bytes_of(&status), &expected);
    }

    #[test]
    fn wallet_answers(
        body in bytes(1_024),
        balance in json_value(WORDS),
        row in mutated_object(fixture("data_api_v2_positions_user.json")["data"][0].clone(), WORDS),
        pagination in json_value(WORDS),
    ) {
        let _ = parse_balance(&body);
        let _ = parse_balance(&bytes_of(&json!({"balance": balance, "allowances": {}})));
        let _ = parse_positions_page(&body, WALLET);
        let user = row["proxy_wallet"].as_str().unwrap_or(WALLET).to_string();
        let _ = parse_positions_page(&v2_page(vec![row.clone(), row], pagination), &user);
    }

    #[test]
    fn order_answers(
        body in bytes(1_024),
        answer in mutated_object(fixture("clob_post_order_responses_docs_examples.json")["matched_order"].clone(), WORDS),
    ) {
        let _ = serde_json::from_slice::<PostOrderResponse>(&body);
        let _ = serde_json::from_value::<PostOrderResponse>(answer);
    }
}
