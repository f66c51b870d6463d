//! `whale-trader replay --compare OTHER.toml`: the bundled sample session replayed under the
//! default config and under a tighter one, through the real binary. The whale trades named below
//! were found by reading the sample session's reviewed audit trail
//! (`tests/data/sample_session.audit.jsonl`); the base run's totals are re-derived from that file
//! independently of the diff.

mod support;

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;
use support::Workspace;

/// The default config with `from` replaced by `to` (each must occur once).
fn default_with(edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(support::repo_path("config/default.toml")).expect("default config");
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "{from} occurs once in config/default.toml");
        text = text.replace(from, to);
    }
    text
}

fn compare_json(ws: &Workspace, other: &str) -> Value {
    let out = ws.output(&["replay", "--compare", other, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap_or_else(|| panic!("not a decimal string: {value}"))).expect("decimal")
}

/// `(whale_trade_id, base verdict, other verdict, other reason)` of each differing decision.
fn decisions(diff: &Value) -> Vec<(String, String, String, String)> {
    diff["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .map(|d| {
            let reason = |side: &Value| side["reason"].as_str().unwrap_or("").to_owned();
            (
                d["whale_trade_id"].as_str().unwrap_or("").to_owned(),
                format!("{}:{}", d["base"]["verdict"].as_str().unwrap_or(""), reason(&d["base"])),
                format!("{}:{}", d["other"]["verdict"].as_str().unwrap_or(""), reason(&d["other"])),
                d["whale_label"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The base run's totals, read straight from the reviewed audit trail of the sample session.
fn golden_totals() -> (Decimal, u64, u64, u64) {
    let text = std::fs::read_to_string(support::repo_path("tests/data/sample_session.audit.jsonl")).expect("golden");
    let (mut pnl, mut opened, mut closed, mut rejected) = (Decimal::ZERO, 0, 0, 0);
    for line in text.lines() {
        let record: Value = serde_json::from_str(line).expect("golden line");
        match record["event"].as_str() {
            Some("trade_opened") => opened += 1,
            Some("trade_closed") => {
                closed += 1;
                pnl += decimal(&record["pnl_usd"]);
            }
            Some("trade_rejected") => rejected += 1,
            _ => {}
        }
    }
    (pnl, opened, closed, rejected)
}

#[test]
fn fewer_positions_per_whale_refuses_each_whales_third_copy_and_lets_a_later_one_through() {
    let ws = Workspace::with_default_config("");
    ws.write("tight.toml", &default_with(&[("max_positions_per_whale = 3", "max_positions_per_whale = 2")]));
    let out = compare_json(&ws, "tight.toml");
    let diff = &out["diff"];
    assert_eq!(out["empty"], false);
    assert_eq!(
        decisions(diff),
        [
            // bravo's third copy (market 5, T000004) and crash's third (market 2, T000014).
            ("trade#490f7243ed003693", "took:", "refused:max_positions_per_whale", "bravo (synthetic)"),
            ("trade#e392cde0c2165085", "took:", "refused:max_positions_per_whale", "crash (synthetic)"),
            // Without crash's third loss the circuit breaker never trips, so alpha's late trade
            // (market 1), refused under the default config, is copied.
            ("trade#7492447790e71840", "refused:circuit_breaker_open", "took:", "alpha (synthetic)"),
        ]
        .map(|(id, b, o, whale)| (id.to_owned(), b.to_owned(), o.to_owned(), whale.to_owned()))
    );
    let bravo = &diff["decisions"][0];
    assert_eq!(bravo["market_title"], "Synthetic market 5: will it happen?");
    assert_eq!(bravo["base"]["trade_id"], "T000004");
    assert_eq!(bravo["base"]["exit_reason"], "whale_exit");
    assert_eq!(decimal(&bravo["base"]["pnl_usd"]), Decimal::from_str("-6.602507").expect("decimal"));
    assert_eq!(bravo["other"]["detail"], "2 open of 2 allowed (max_positions_per_whale)");
    assert_eq!(diff["positions"].as_array().map(Vec::len), Some(0), "{diff}");

    let (pnl, opened, closed, rejected) = golden_totals();
    let base = &diff["base"];
    assert_eq!(decimal(&base["realised_pnl_usd"]), pnl);
    assert_eq!((base["trades_opened"].as_u64(), base["trades_closed"].as_u64()), (Some(opened), Some(closed)));
    assert_eq!(base["trades_rejected"].as_u64(), Some(rejected));
    let deltas = &diff["deltas"];
    assert_eq!((deltas["trades_opened"].as_i64(), deltas["trades_rejected"].as_i64()), (Some(-1), Some(1)));
    assert_eq!(deltas["rejected_by_reason"]["max_positions_per_whale"], 2);
    assert_eq!(deltas["rejected_by_reason"]["circuit_breaker_open"], -1);
    assert_eq!(
        decimal(&deltas["realised_pnl_usd"]),
        decimal(&diff["other"]["realised_pnl_usd"]) - pnl,
        "the P&L delta is other minus base"
    );
    assert!(decimal(&deltas["max_drawdown_usd"]) < Decimal::ZERO, "fewer crash copies, smaller drawdown: {deltas}");

    // The text form names the whales and markets a person reads, and each side's reason.
    let text = ws.output(&["replay", "--compare", "tight.toml"]);
    assert_eq!(text.status.code(), Some(0));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("whale trades decided differently: 3"), "{text}");
    let row = text.lines().find(|l| l.contains("trade#490f7243ed003693")).unwrap_or_default();
    for part in
        ["bravo (synthetic)", "Synthetic market 5: will it happen?", "took T000004", "refused: max_positions_per_whale"]
    {
        assert!(row.contains(part), "{part} missing from {row:?}");
    }
    assert!(
        text.contains("trade#7492447790e71840 under default.toml: circuit_breaker_open: trading state is reducing")
    );
    assert!(
        text.lines().any(|l| l.contains("rejected: max_positions_per_whale") && l.trim_end().ends_with("+2")),
        "{text}"
    );
}

#[test]
fn a_lower_position_cap_shrinks_the_crash_whales_copies() {
    let ws = Workspace::with_default_config("");
    ws.write("capped.toml", &default_with(&[("max_position_size_usd = 500", "max_position_size_usd = 200")]));
    let diff = compare_json(&ws, "capped.toml")["diff"].clone();
    let positions = diff["positions"].as_array().expect("positions");
    let ids: Vec<&str> = positions.iter().filter_map(|p| p["whale_trade_id"].as_str()).collect();
    // crash's three copies (markets 9, 6 and 2) were sized past $200; every other copy was below it.
    assert_eq!(ids, ["trade#3168973cdc814d8f", "trade#47355b8dcb5acea2", "trade#e392cde0c2165085"]);
    for p in positions {
        assert_eq!(p["whale_label"], "crash (synthetic)");
        assert!(decimal(&p["base"]["notional_usd"]) > Decimal::from(200), "{p}");
        assert!(decimal(&p["other"]["notional_usd"]) <= Decimal::from(200), "{p}");
        assert!(decimal(&p["other"]["size"]) < decimal(&p["base"]["size"]), "{p}");
        assert_eq!((&p["base"]["exit_reason"], &p["other"]["exit_reason"]), (&"stop_loss".into(), &"stop_loss".into()));
        assert!(decimal(&p["other"]["pnl_usd"]) > decimal(&p["base"]["pnl_usd"]), "a smaller loss: {p}");
    }
    assert_eq!(positions[0]["base"]["size"], "471.69");
    assert_eq!(positions[0]["other"]["size"], "377.35");
}

#[test]
fn a_whale_left_out_is_not_decided_under_the_other_config() {
    let ws = Workspace::with_default_config("");
    let default = default_with(&[]);
    let start = default.find("[[copy.whales]]\n# Sample whale \"crash\"").expect("the crash whale");
    let end = default.find("[risk]").expect("[risk]");
    ws.write("no-crash.toml", &format!("{}{}", &default[..start], &default[end..]));
    let diff = compare_json(&ws, "no-crash.toml")["diff"].clone();
    let crash: Vec<_> = decisions(&diff).into_iter().filter(|d| d.3 == "crash (synthetic)").collect();
    assert_eq!(crash.len(), 3, "{diff}");
    assert!(crash.iter().all(|d| d.1 == "took:" && d.2 == "not_decided:"), "{crash:?}");
}

#[test]
fn identical_configs_yield_an_empty_diff() {
    let ws = Workspace::with_default_config("");
    ws.write("same.toml", &ws.read("config/default.toml"));
    let out = compare_json(&ws, "same.toml");
    assert_eq!(out["empty"], true, "{out}");
    assert_eq!(out["diff"]["decisions"], Value::Array(vec![]));
    assert_eq!(out["diff"]["positions"], Value::Array(vec![]));
    assert_eq!(out["diff"]["base"], out["diff"]["other"]);
    assert_eq!(decimal(&out["diff"]["deltas"]["realised_pnl_usd"]), Decimal::ZERO);
    let text = ws.output(&["replay", "data.jsonl", "--compare", "same.toml"]);
    assert_eq!(text.status.code(), Some(1), "the positional SESSION is read: this one does not exist");
    assert!(String::from_utf8_lossy(&text.stderr).contains("data.jsonl"));
}

#[test]
fn a_bad_other_config_is_refused_naming_that_file_and_its_key() {
    let ws = Workspace::with_default_config("");
    ws.write("bad.toml", &default_with(&[("max_positions_per_whale = 3", "max_positions_per_whale = -1")]));
    let out = ws.output(&["replay", "--compare", "bad.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml") && stderr.contains("max_positions_per_whale"), "{stderr}");
    let missing = ws.output(&["replay", "--compare", "missing.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("missing.toml"));
}
