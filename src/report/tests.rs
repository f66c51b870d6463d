//! Figures of small ledgers computed by hand.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::clock::Timestamp;

use super::*;

/// 2026-12-01T00:00:00Z.
const DAY0: i64 = 1_796_083_200_000;
const HOUR: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

#[allow(clippy::too_many_arguments)]
fn closed(
    id: &str,
    whale: &str,
    market: &str,
    open_ms: i64,
    close_ms: i64,
    notional: Decimal,
    pnl: Decimal,
) -> ClosedTrade {
    ClosedTrade {
        id: id.into(),
        whale: whale.into(),
        whale_label: format!("label-{whale}"),
        market: market.into(),
        market_title: format!("title-{market}"),
        outcome: "Yes".into(),
        opened_at: Timestamp(open_ms),
        closed_at: Timestamp(close_ms),
        entry_price: dec!(0.5),
        exit_price: dec!(0.5),
        size: notional * dec!(2),
        notional,
        pnl,
        slippage: None,
        whale_pnl: None,
        exit_reason: "whale_exit".into(),
    }
}

fn ledger() -> Ledger {
    let mut a = closed("A", "w1", "m1", DAY0, DAY0 + HOUR, dec!(100), dec!(20));
    a.slippage = Some(dec!(1));
    a.whale_pnl = Some(dec!(21.5));
    Ledger {
        source: "test".into(),
        starting_equity: dec!(1000),
        stop_loss_fraction: Some(dec!(0.1)),
        day_start_utc_minutes: 0,
        closed: vec![
            a,
            closed("B", "w1", "m2", DAY0 + 2 * HOUR, DAY0 + 2 * HOUR + 30_000, dec!(50), dec!(-10)),
            closed("C", "w2", "m1", DAY0 + 34 * HOUR, DAY0 + 58 * HOUR, dec!(200), dec!(-30)),
            closed("D", "w2", "m2", DAY0 + 59 * HOUR, DAY0 + 60 * HOUR, dec!(100), dec!(5)),
        ],
        open: vec![OpenTrade {
            id: "E".into(),
            whale: "w1".into(),
            whale_label: "label-w1".into(),
            market: "m1".into(),
            market_title: "title-m1".into(),
            outcome: "No".into(),
            opened_at: Timestamp(DAY0 + 61 * HOUR),
            entry_price: dec!(0.4),
            size: dec!(100),
            notional: dec!(40),
        }],
        rejections: BTreeMap::from([("max_positions".to_string(), 1), ("price_moved".to_string(), 3)]),
        state_changes: Vec::new(),
    }
}

fn count(bins: &[Bin], label: &str) -> u64 {
    bins.iter().find(|b| b.label == label).map_or_else(|| panic!("no bin {label}"), |b| b.count)
}

#[test]
fn headline_figures_of_a_hand_computed_ledger() {
    let f = compute(&ledger());
    assert_eq!((f.closed_trades, f.open_trades, f.wins, f.losses), (4, 1, 2, 2));
    assert_eq!(f.total_pnl, dec!(-15));
    assert_eq!((f.gross_profit, f.gross_loss), (dec!(25), dec!(-40)));
    assert_eq!(f.win_rate_percent, Some(dec!(50)));
    assert_eq!(f.profit_factor, Some(dec!(0.625)));
    // Equity 1000 → 1020 → 1010 → 980 → 985: the deepest fall is 40 below the 1020 peak.
    assert_eq!(f.max_drawdown_usd, dec!(40));
    assert_eq!(f.max_drawdown_percent, dec!(3.9216));
    let equity: Vec<Decimal> = f.equity.iter().map(|p| p.value).collect();
    assert_eq!(equity, [dec!(1000), dec!(1020), dec!(1010), dec!(980), dec!(985)]);
    assert_eq!(f.drawdown.iter().map(|p| p.value).min(), Some(dec!(-3.9216)));
    assert_eq!(f.open_notional, dec!(40));
    assert_eq!(f.rejected, 4);
    assert_eq!(f.rejections[0], Rejection { reason: "price_moved".into(), count: 3 });
}

#[test]
fn daily_pnl_fills_quiet_days_and_sharpe_and_sortino_follow_the_stated_formula() {
    let f = compute(&ledger());
    let daily: Vec<(&str, Decimal, u64)> = f.daily.iter().map(|d| (d.date.as_str(), d.pnl, d.trades)).collect();
    assert_eq!(daily, [("2026-12-01", dec!(10), 2), ("2026-12-02", dec!(0), 0), ("2026-12-03", dec!(-25), 2)]);
    // Returns 0.01, 0, -0.025: mean -0.005, sample sd 0.0180278, downside sd 0.0144338.
    assert_eq!(f.sharpe, Some(dec!(-5.2988)));
    assert_eq!(f.sortino, Some(dec!(-6.6182)));
}

#[test]
fn per_whale_and_per_market_tables_carry_names_slippage_and_whale_pnl() {
    let f = compute(&ledger());
    let w1 = &f.whales[0];
    assert_eq!((w1.wallet.as_str(), w1.label.as_str()), ("w1", "label-w1"));
    assert_eq!((w1.trades, w1.open, w1.wins, w1.pnl), (2, 1, 1, dec!(10)));
    assert_eq!((w1.slippage, w1.whale_pnl), (dec!(1), dec!(21.5)));
    assert_eq!(w1.win_rate_percent, Some(dec!(50)));
    let w2 = &f.whales[1];
    assert_eq!((w2.wallet.as_str(), w2.pnl, w2.slippage), ("w2", dec!(-25), dec!(0)));
    let m1 = f.markets.iter().find(|m| m.market == "m1").unwrap();
    assert_eq!((m1.title.as_str(), m1.trades, m1.open, m1.pnl, m1.notional), ("title-m1", 2, 1, dec!(-10), dec!(300)));
}

#[test]
fn hold_time_and_r_distributions_and_exposure() {
    let f = compute(&ledger());
    assert_eq!(count(&f.hold_time, "< 1m"), 1);
    assert_eq!(count(&f.hold_time, "1-4h"), 2);
    assert_eq!(count(&f.hold_time, "1-3d"), 1);
    // R = P&L / (notional × 0.1): 2, -2, -1.5, 0.5.
    assert_eq!(count(&f.r_multiples, "2..3R"), 1);
    assert_eq!(count(&f.r_multiples, "-2..-1R"), 2);
    assert_eq!(count(&f.r_multiples, "0.5..1R"), 1);
    assert_eq!(f.average_r, Some(dec!(-0.25)));
    let exposure: Vec<Decimal> = f.exposure.iter().map(|p| p.value).collect();
    assert_eq!(exposure, [dec!(100), dec!(0), dec!(50), dec!(0), dec!(200), dec!(0), dec!(100), dec!(0), dec!(40)]);
}

#[test]
fn an_empty_ledger_has_no_ratios_and_one_day_has_no_sharpe() {
    let mut empty = ledger();
    empty.closed.clear();
    empty.open.clear();
    let f = compute(&empty);
    assert_eq!((f.win_rate_percent, f.profit_factor, f.sharpe, f.sortino), (None, None, None, None));
    assert!(f.equity.is_empty() && f.daily.is_empty());
    assert_eq!(sharpe_sortino(&[dec!(0.01)]), (None, None));
    // No losing day: no downside deviation, so no Sortino.
    assert_eq!(sharpe_sortino(&[dec!(0.01), dec!(0.02)]).1, None);
}

#[test]
fn downsampling_bounds_the_points_and_keeps_the_extremes() {
    let points: Vec<Point> = (0..100_000i64)
        .map(|i| Point {
            at: Timestamp(i),
            value: Decimal::from((i * 7919) % 1000) - if i == 54_321 { dec!(5000) } else { dec!(0) },
        })
        .collect();
    let kept = downsample(&points, MAX_CURVE_POINTS);
    assert!(kept.len() <= MAX_CURVE_POINTS, "{}", kept.len());
    assert_eq!(kept.first(), points.first());
    assert_eq!(kept.last(), points.last());
    assert!(kept.iter().any(|p| p.at == Timestamp(54_321)), "the trough survives");
    assert!(kept.windows(2).all(|w| w[0].at <= w[1].at), "time order kept");
    let few = &points[..10];
    assert_eq!(downsample(few, MAX_CURVE_POINTS), few);
}

#[test]
fn a_report_is_written_with_every_chart_and_the_page_inlines_them() {
    let dir = tempfile::tempdir().unwrap();
    let (figures, written) = write_report(&ledger(), dir.path()).unwrap();
    assert_eq!(written.charts.len(), 16);
    for path in &written.charts {
        assert!(std::fs::metadata(path).unwrap().len() > 1000, "{}", path.display());
    }
    let html = std::fs::read_to_string(&written.html).unwrap();
    for chart in charts(&figures) {
        assert!(html.contains(&format!("id=\"chart-{}\"", chart.name)), "{}", chart.name);
    }
    assert_eq!(html.matches("<svg").count(), 8);
    // Nothing loaded from elsewhere (the SVGs' `xmlns` is a name, not a resource).
    assert!(
        !html.contains("<script") && !html.contains("src=") && !html.contains("href=") && !html.contains("@import")
    );
    assert!(html.contains("label-w1 <code title=\"w1\">w1</code>"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&written.json).unwrap()).unwrap();
    assert_eq!(json["total_pnl"], "-15");
}

#[test]
fn audit_records_make_the_same_ledger_and_a_close_without_an_open_is_refused() {
    use crate::engine::audit::{AuditRecord, TradeClosed, TradeOpened, TradeRejected};
    let settings =
        LedgerSettings { starting_equity: dec!(1000), stop_loss_percent: dec!(10), day_start_utc_minutes: 0 };
    let opened = TradeOpened {
        trade_id: "T1".into(),
        whale_address: "0xw".into(),
        market_id: "0xm".into(),
        token_id: "1".into(),
        whale_label: "alpha".into(),
        market_title: "Will it rain?".into(),
        outcome: "Yes".into(),
        side: "buy".into(),
        size: dec!(10),
        price: dec!(0.5),
        notional_usd: dec!(5),
        whale_price: dec!(0.49),
        whale_size: dec!(100),
        slippage_usd: Some(dec!(0.1)),
        whale_trade_id: "k0".into(),
        risk_usd: Some(dec!(0.5)),
        context: Box::default(),
        mode: "paper".into(),
        timestamp: "2026-12-01T00:00:00.000Z".into(),
    };
    let closed = TradeClosed {
        trade_id: "T1".into(),
        whale_address: "0xw".into(),
        whale_label: "alpha".into(),
        market_id: "0xm".into(),
        market_title: "Will it rain?".into(),
        outcome: "Yes".into(),
        exit_price: dec!(0.6),
        pnl_usd: dec!(0.9),
        slippage_usd: Some(dec!(0.1)),
        whale_pnl_usd: Some(dec!(1.1)),
        hold_time_seconds: 60,
        reason: "take_profit".into(),
        timestamp: "2026-12-01T00:01:00.000Z".into(),
    };
    let rejected = TradeRejected {
        whale_trade_id: "k".into(),
        whale_address: "0xw".into(),
        market_id: "0xm".into(),
        token_id: "1".into(),
        whale_label: "alpha".into(),
        market_title: "Will it rain?".into(),
        outcome: "Yes".into(),
        reason: "price_moved".into(),
        detail: String::new(),
        context: Box::default(),
        timestamp: "2026-12-01T00:02:00.000Z".into(),
    };
    let records = [
        AuditRecord::TradeOpened(opened.clone()),
        AuditRecord::TradeClosed(closed.clone()),
        AuditRecord::TradeRejected(rejected),
    ];
    let ledger = Ledger::from_audit("replay".into(), &settings, &records).unwrap();
    assert!(ledger.open.is_empty());
    let t = &ledger.closed[0];
    assert_eq!((t.opened_at, t.closed_at), (Timestamp(DAY0), Timestamp(DAY0 + 60_000)));
    assert_eq!((t.entry_price, t.size, t.notional, t.pnl), (dec!(0.5), dec!(10), dec!(5), dec!(0.9)));
    assert_eq!((t.whale_label.as_str(), t.market_title.as_str()), ("alpha", "Will it rain?"));
    assert_eq!((t.slippage, t.whale_pnl), (Some(dec!(0.1)), Some(dec!(1.1))));
    assert_eq!(ledger.rejections.get("price_moved"), Some(&1));
    assert_eq!(ledger.stop_loss_fraction, Some(dec!(0.1)));

    let open_only = Ledger::from_audit("replay".into(), &settings, &[AuditRecord::TradeOpened(opened)]).unwrap();
    assert_eq!(open_only.open.len(), 1);
    let err = Ledger::from_audit("replay".into(), &settings, &[AuditRecord::TradeClosed(closed)]).unwrap_err();
    assert!(matches!(err, ReportError::UnmatchedClose { .. }), "{err}");
}

fn position(id: &str, opened_ms: i64, closed: Option<(i64, Decimal)>) -> crate::store::TradeRecord {
    use crate::store::{PositionRecord, PositionStatus};
    crate::store::TradeRecord {
        position: PositionRecord {
            position_id: id.into(),
            whale_wallet: "0xAbC".into(),
            market_id: "0xMkt".into(),
            token_id: "7".into(),
            outcome: "Yes".into(),
            side: crate::domain::Side::Buy,
            size: dec!(100),
            entry_price: dec!(0.52),
            opened_at: Timestamp(opened_ms),
            status: if closed.is_some() { PositionStatus::Closed } else { PositionStatus::Open },
            high_water_price: None,
            exit_price: closed.map(|_| dec!(0.6)),
            realised_pnl: closed.map(|c| c.1),
            closed_at: closed.map(|c| Timestamp(c.0)),
            exit_reason: closed.map(|_| "take_profit".to_string()),
        },
        fees: dec!(0.5),
    }
}

#[test]
fn the_store_ledger_keeps_the_window_names_the_trades_and_reads_slippage_from_the_copied_trade() {
    let records = [
        position("T1", DAY0 - HOUR, Some((DAY0, dec!(1)))),
        position("T2", DAY0, Some((DAY0 + HOUR, dec!(7.5)))),
        position("T3", DAY0 + 2 * HOUR, None),
        position("T4", DAY0 + 30 * HOUR, None),
    ];
    let rows = crate::store::ReportRows {
        rejections: vec![("price_moved".into(), 2)],
        state_changes: Vec::new(),
        entry_whale_keys: [("T2".to_string(), "0xtx:7:buy:1000:0.5:1796083200000".to_string())].into(),
    };
    let names = crate::history::Names {
        whale_labels: [("0xabc".to_string(), "alpha".to_string())].into(),
        market_titles: [("0xmkt".to_string(), "Will it rain?".to_string())].into(),
    };
    let settings = LedgerSettings { starting_equity: dec!(1000), stop_loss_percent: dec!(0), day_start_utc_minutes: 0 };
    let ledger = Ledger::from_store(
        "store".into(),
        &settings,
        &records,
        &rows,
        &names,
        Timestamp(DAY0),
        Timestamp(DAY0 + DAY_MS),
    );
    assert_eq!(ledger.stop_loss_fraction, None, "a stop-loss of 0 is no stop");
    assert_eq!(ledger.closed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T2"]);
    assert_eq!(ledger.open.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T3"]);
    let t = &ledger.closed[0];
    assert_eq!((t.whale_label.as_str(), t.market_title.as_str()), ("alpha", "Will it rain?"));
    assert_eq!(t.notional, dec!(52));
    // Bought at 0.52 against the whale's 0.50: 0.02 × 100 shares; the whale made P&L + fees + that.
    assert_eq!(t.slippage, Some(dec!(2)));
    assert_eq!(t.whale_pnl, Some(dec!(10)));
    assert_eq!(ledger.rejections.get("price_moved"), Some(&2));
}
