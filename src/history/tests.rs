use rust_decimal_macros::dec;

use super::*;
use crate::domain::Side;
use crate::store::PositionRecord;

const HOUR: i64 = 60 * 60 * 1000;
const DAY: i64 = 24 * HOUR;
/// 2027-01-15T00:00:00Z, a trading day's start with days at midnight.
const T0: i64 = 1_800_000_000_000 - 1_800_000_000_000 % DAY;

fn trade(id: &str, whale: &str, opened_h: i64, close: Option<(i64, Decimal)>, fees: Decimal) -> TradeRecord {
    TradeRecord {
        position: PositionRecord {
            position_id: id.into(),
            whale_wallet: whale.into(),
            market_id: format!("0xmarket{id}"),
            token_id: format!("7{id}"),
            outcome: "Yes".into(),
            side: Side::Buy,
            size: dec!(10),
            entry_price: dec!(0.5),
            opened_at: Timestamp(T0 + opened_h * HOUR),
            status: if close.is_some() { PositionStatus::Closed } else { PositionStatus::Open },
            high_water_price: None,
            exit_price: close.map(|_| dec!(0.6)),
            realised_pnl: close.map(|(_, pnl)| pnl),
            closed_at: close.map(|(h, _)| Timestamp(T0 + h * HOUR)),
            exit_reason: close.map(|_| "take_profit".into()),
        },
        fees,
    }
}

fn sample() -> Vec<TradeRecord> {
    vec![
        trade("T1", "0xaa", 1, Some((2, dec!(12.5))), dec!(0.10)),
        trade("T2", "0xbb", 3, Some((5, dec!(-4.25))), dec!(0.20)),
        trade("T3", "0xaa", 6, Some((30, dec!(-1.75))), dec!(0.05)),
        trade("T4", "0xbb", 26, Some((50, dec!(3))), dec!(0)),
        trade("T5", "0xaa", 52, None, dec!(0.07)),
        trade("T6", "0xcc", 53, Some((54, dec!(0))), dec!(0.01)),
    ]
}

#[test]
fn profit_matches_a_direct_count() {
    let records = sample();
    let marks = Marks { open: [("T5".to_string(), (Some(dec!(0.55)), Some(dec!(0.5))))].into() };
    let view = profit(&records, Some(&marks), &Names::default(), "daemon");
    // Counted by hand: wins 12.5 and 3; losses -4.25 and -1.75; T6 broke even.
    assert_eq!(view.realised_pnl, dec!(9.5));
    assert_eq!(view.unrealised_pnl, Some(dec!(0.5)));
    assert_eq!((view.closed_trades, view.open_trades, view.wins, view.losses), (5, 1, 2, 2));
    assert_eq!(view.win_rate_percent, Some(dec!(40)));
    assert_eq!(view.gross_profit, dec!(15.5));
    assert_eq!(view.gross_loss, dec!(-6));
    assert_eq!(view.profit_factor, Some(dec!(2.5833)));
    assert_eq!(view.fees, dec!(0.43));
    assert_eq!(view.best.as_ref().map(|b| (b.id.as_str(), b.pnl)), Some(("T1", dec!(12.5))));
    assert_eq!(view.worst.as_ref().map(|w| (w.id.as_str(), w.pnl)), Some(("T2", dec!(-4.25))));
    let lines: Vec<_> = view.whales.iter().map(|w| (w.wallet.as_str(), w.realised_pnl, w.open, w.closed)).collect();
    assert_eq!(lines, vec![("0xaa", dec!(10.75), 1, 2), ("0xcc", dec!(0), 0, 1), ("0xbb", dec!(-1.25), 0, 2)]);
    assert_eq!(view.whales[0].unrealised_pnl, Some(dec!(0.5)));
}

#[test]
fn offline_profit_leaves_unrealised_unknown_and_an_empty_store_has_no_ratios() {
    let view = profit(&sample(), None, &Names::default(), "store");
    assert_eq!(view.unrealised_pnl, None);
    assert!(view.whales.iter().all(|w| w.unrealised_pnl.is_none()));
    let empty = profit(&[], None, &Names::default(), "store");
    assert_eq!((empty.win_rate_percent, empty.profit_factor, empty.best), (None, None, None));
    let only_wins = profit(&sample()[..1], None, &Names::default(), "store");
    assert_eq!(only_wins.profit_factor, None);
}

#[test]
fn daily_groups_closes_by_trading_day_newest_first_with_empty_days() {
    let records = sample();
    let now = Timestamp(T0 + 60 * HOUR); // day 2 (days at midnight)
    let view = daily(&records, now, 4, 0, "store");
    let days: Vec<_> = view.days.iter().map(|d| (d.date.clone(), d.realised_pnl, d.closed)).collect();
    let date = |h: i64| Timestamp(T0 + h * HOUR).to_datetime().format("%Y-%m-%d").to_string();
    assert_eq!(
        days,
        vec![(date(48), dec!(3), 2), (date(24), dec!(-1.75), 1), (date(0), dec!(8.25), 2), (date(-24), dec!(0), 0),]
    );
    assert_eq!(view.total_pnl, dec!(9.5));
    assert_eq!(view.days[2].fees, dec!(0.30));

    // Days starting at 06:00 UTC: the 05:00 close belongs to the day before, the 02:00 one too.
    let view = daily(&records, now, 4, 6 * 60, "store");
    let pnl: Vec<_> = view.days.iter().map(|d| d.realised_pnl).collect();
    // Day starts: T0+54h holds 54 (0), T0+30h holds 30 and 50, T0+6h nothing, T0-18h holds 2 and 5.
    assert_eq!(pnl, vec![dec!(0), dec!(1.25), dec!(0), dec!(8.25)]);
    assert_eq!(view.days[0].starts_at, Timestamp(T0 + 54 * HOUR).to_rfc3339());
    // One day, only today's closes.
    assert_eq!(daily(&records, now, 1, 0, "store").total_pnl, dec!(3));
}

#[test]
fn trades_filter_sort_newest_first_and_limit() {
    let records = sample();
    let names = Names { whale_labels: [("0xaa".to_string(), "Big Al".to_string())].into(), ..Names::default() };
    let all = trades(&records, &TradeFilter::default(), &Marks::default(), &names, "store");
    let ids: Vec<_> = all.trades.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["T6", "T5", "T4", "T3", "T2", "T1"]);
    assert_eq!(all.trades[1].whale_label.as_deref(), Some("Big Al"));
    assert_eq!(all.trades[1].pnl, None, "an open trade's P&L is unknown offline");

    let by_label = TradeFilter { whale: Some("Big Al".into()), limit: 2, ..TradeFilter::default() };
    let view = trades(&records, &by_label, &Marks::default(), &names, "store");
    assert_eq!((view.matched, view.trades.len()), (3, 2));
    assert_eq!(view.trades.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T5", "T3"]);

    let by_wallet = TradeFilter { whale: Some("0xBB".into()), ..TradeFilter::default() };
    assert_eq!(trades(&records, &by_wallet, &Marks::default(), &names, "store").matched, 2);
    let by_market = TradeFilter { market: Some("0xmarketT2".into()), ..TradeFilter::default() };
    assert_eq!(trades(&records, &by_market, &Marks::default(), &names, "store").trades[0].id, "T2");
    let by_token = TradeFilter { market: Some("7T4".into()), ..TradeFilter::default() };
    assert_eq!(trades(&records, &by_token, &Marks::default(), &names, "store").trades[0].id, "T4");
    let since = TradeFilter { since: Some(Timestamp(T0 + 26 * HOUR)), ..TradeFilter::default() };
    assert_eq!(trades(&records, &since, &Marks::default(), &names, "store").matched, 3);
}

#[test]
fn parameters_are_bounded_and_named_in_errors() {
    assert_eq!(parse_limit("25").unwrap(), 25);
    for bad in ["0", "1001", "-1", "ten", ""] {
        assert!(parse_limit(bad).unwrap_err().to_string().contains("limit"), "{bad}");
    }
    assert_eq!(parse_days("366").unwrap(), 366);
    assert!(parse_days("367").is_err());
    assert_eq!(parse_since("2027-01-15").unwrap(), Timestamp(T0));
    assert_eq!(parse_since("2027-01-15T01:00:00+01:00").unwrap(), Timestamp(T0));
    let long = "2".repeat(500);
    for bad in ["yesterday", "2027-13-01", long.as_str()] {
        let e = parse_since(bad).unwrap_err().to_string();
        assert!(e.starts_with("since = ") && e.len() < 200, "{e}");
    }
    let params = |pairs: &[(&str, &str)]| pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>();
    let filter = trade_filter_from_params(&params(&[("whale", " Big Al "), ("limit", "3")])).unwrap();
    assert_eq!((filter.whale.as_deref(), filter.limit), (Some("Big Al"), 3));
    assert!(trade_filter_from_params(&params(&[("whale", &"x".repeat(101))])).is_err());
    assert!(trade_filter_from_params(&params(&[("market", "a\nb")])).is_err());
    assert!(matches!(
        trade_filter_from_params(&params(&[("colour", "red")])),
        Err(HistoryError::UnknownParameter { .. })
    ));
    assert_eq!(days_from_params(&params(&[])).unwrap(), DEFAULT_DAYS);
}

#[test]
fn the_query_path_round_trips_through_the_parameter_parser() {
    let filter = TradeFilter {
        whale: Some("Big Al & co".into()),
        market: Some("0xabc".into()),
        since: Some(Timestamp(T0)),
        limit: 7,
    };
    let path = HistoryQuery::Trades(filter.clone()).path();
    let query = path.strip_prefix("/trades?").unwrap();
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), percent_decode(v))
        })
        .collect();
    assert_eq!(trade_filter_from_params(&pairs).unwrap(), filter);
    assert_eq!(HistoryQuery::Daily { days: 3 }.path(), "/daily?days=3");
}

fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn renders_name_whales_and_show_unknowns_plainly() {
    let names = Names {
        whale_labels: [("0xaa".to_string(), "Big Al".to_string())].into(),
        market_titles: [("0xmarkett1".to_string(), "Will it rain?".to_string())].into(),
    };
    let text = render_profit(&profit(&sample(), None, &names, "store"));
    assert!(text.contains("realised P&L   : $9.50"), "{text}");
    assert!(text.contains("unknown (no daemon running)"), "{text}");
    assert!(text.contains("Big Al (0xaa)"), "{text}");
    let text = render_daily(&daily(&sample(), Timestamp(T0 + 60 * HOUR), 2, 90, "store"));
    assert!(text.contains("days start 01:30 UTC"), "{text}");
    let text = render_trades(&trades(&sample(), &TradeFilter::default(), &Marks::default(), &names, "store"));
    assert!(text.contains("T1 closed 10 Yes @ 0.5 → 0.6 $12.50 take_profit"), "{text}");
    assert!(text.contains("market Will it rain? (0xmarketT1)"), "market titles stand beside the id: {text}");
}
