//! The engine's own unit tests: redemptions asked for on resolution.

use rust_decimal_macros::dec;

use super::*;
use crate::config::Config;
use crate::domain::Side;
use crate::engine::io::{ExecutionReport, RedemptionRequest};
use crate::market::WhaleTrade;
use rust_decimal::Decimal;

fn trade(tx: &str, side: Side, size: Decimal, price: Decimal) -> WhaleTrade {
    WhaleTrade {
        wallet: "0xwhale".into(),
        condition_id: "0xcondition".into(),
        asset: "71321045679252212594626385532706912750332728571942532289631379312455583992563".into(),
        side,
        size,
        price,
        ..WhaleTrade::sample(tx, Timestamp::from_millis(1_700_000_000_123))
    }
}

const WHALE: &str = "0x1111111111111111111111111111111111111111";
const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

/// An engine in `mode` holding one filled copy of the whale's buy of `YES` in `0xcondition`.
fn holding(mode: Mode) -> (Engine, Decimal) {
    let text =
        format!("[daemon]\nmode = \"{}\"\n[[copy.whales]]\naddress = \"{WHALE}\"\nmultiplier = 1\n", mode.as_str());
    let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let now = Timestamp::from_millis(1_700_000_000_500);
    let mut engine =
        Engine::new(Arc::new(config), EngineSettings::default(), Box::new(crate::engine::DiscardAuditSink), now)
            .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Outputs::new();
    let book = format!(
        r#"{{"market":"0xcondition","asset_id":"{YES}","timestamp":"{}","bids":[{{"price":"0.49","size":"1000"}}],"asks":[{{"price":"0.50","size":"1000"}}],"min_order_size":"5","tick_size":"0.01","neg_risk":true}}"#,
        now.millis()
    );
    let book = OrderBook::from_json(&book).unwrap_or_else(|e| panic!("{e}"));
    engine.process(Input::Book(Box::new(book)), now, &mut out);
    let mut whale = trade("0xaa", Side::Buy, dec!(1000), dec!(0.50));
    whale.wallet = WHALE.into();
    whale.timestamp = now;
    out.clear();
    engine.process(Input::WhaleTrade(Box::new(whale)), now, &mut out);
    let intent = *out.intents.first().unwrap_or_else(|| panic!("no entry: {:?}", out.events));
    out.clear();
    let fill = ExecutionReport {
        client_order_id: intent.client_order_id,
        filled_size: intent.size,
        avg_price: dec!(0.50),
        fee: Decimal::ZERO,
        done: true,
        note: None,
        at: now,
    };
    engine.process(Input::Execution(fill), now, &mut out);
    assert_eq!(engine.portfolio().open_count(), 1);
    (engine, intent.size)
}

fn redemptions(engine: &mut Engine, winner: &str) -> Vec<RedemptionRequest> {
    let mut out = Outputs::new();
    let now = Timestamp::from_millis(1_700_000_100_000);
    let resolution = Input::Resolution { condition_id: "0xcondition".into(), winning_token_id: winner.into() };
    engine.process(resolution, now, &mut out);
    assert_eq!(engine.portfolio().open_count(), 0, "settled either way");
    out.events
        .into_iter()
        .filter_map(|e| match e {
            EngineEvent::RedemptionRequested(r) => Some(*r),
            _ => None,
        })
        .collect()
}

#[test]
fn a_live_winner_asks_for_its_redemption_once_with_the_shares_held() {
    let (mut engine, shares) = holding(Mode::Live);
    let requested = redemptions(&mut engine, YES);
    assert_eq!(requested.len(), 1, "{requested:?}");
    let r = &requested[0];
    assert_eq!((r.condition_id.as_str(), r.token_id.as_str(), r.outcome.as_str()), ("0xcondition", YES, "Yes"));
    assert_eq!((r.shares, r.neg_risk), (shares, true));
    assert!(r.redemption_id.starts_with("0xcondition/T"), "{}", r.redemption_id);
}

#[test]
fn losers_and_simulated_modes_need_nothing_on_chain() {
    let (mut live, _) = holding(Mode::Live);
    assert_eq!(redemptions(&mut live, NO), vec![], "a losing position pays 0: nothing to redeem");
    for mode in [Mode::Paper, Mode::DryRun] {
        let (mut engine, _) = holding(mode);
        assert_eq!(redemptions(&mut engine, YES), vec![], "{mode}: no tokens are held");
    }
}
