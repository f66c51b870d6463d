//! The report's figures, computed from a [`Ledger`] (pure, exact decimals; only the square roots
//! of Sharpe and Sortino go through `f64`).
//!
//! Definitions (the README repeats them):
//! - equity = starting equity + realised P&L, stepped at each close; drawdown = the fall from the
//!   running peak, in USD and as a percent of that peak;
//! - daily P&L: realised P&L per trading day (days start at `risk.day_start_utc_minutes`), every
//!   day from the first close to the last, a day without closes counting as 0;
//! - daily return = the day's P&L / the starting equity; Sharpe = mean / sample standard
//!   deviation of daily returns × √365; Sortino = mean / downside deviation (√(Σ min(r, 0)² / n))
//!   × √365; risk-free rate 0;
//! - R multiple = P&L / initial risk; initial risk = entry notional × the configured stop-loss
//!   fraction, or the whole notional when no stop is configured;
//! - win rate = winning closed trades / closed trades; profit factor = gross profit / |gross loss|;
//! - exposure = the entry notional of the trades open at each moment.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::risk::daily_loss::trading_day;
use crate::risk::r_multiple::{R_BINS, initial_risk, r_bin, r_multiple};

use super::ledger::{Ledger, StateChange};

/// Most points a curve keeps for drawing and for `report.json` (extremes kept, see [`downsample`]).
pub const MAX_CURVE_POINTS: usize = 2000;
/// Longest span of days filled with zero days; a longer one lists only the days with closes.
pub const MAX_FILLED_DAYS: i64 = 3660;
const DAY_MS: i64 = 86_400_000;

/// One point of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Point {
    pub at: Timestamp,
    pub value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyPnl {
    /// The trading day's first UTC date, `2026-12-01`.
    pub date: String,
    pub pnl: Decimal,
    pub trades: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhaleRow {
    pub wallet: String,
    pub label: String,
    pub trades: u64,
    pub open: u64,
    pub wins: u64,
    pub win_rate_percent: Option<Decimal>,
    pub pnl: Decimal,
    /// Copy slippage over the trades whose copied whale fill is known.
    pub slippage: Decimal,
    /// The whale's own result on the same shares, over the same trades.
    pub whale_pnl: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketRow {
    pub market: String,
    pub title: String,
    pub trades: u64,
    pub open: u64,
    pub wins: u64,
    pub pnl: Decimal,
    pub notional: Decimal,
}

/// One bar of a distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bin {
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub reason: String,
    pub count: u64,
}

/// Everything the report shows; `report.json` is this, serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub source: String,
    pub starting_equity: Decimal,
    pub stop_loss_fraction: Option<Decimal>,
    pub first_at: Option<Timestamp>,
    pub last_at: Option<Timestamp>,
    pub closed_trades: u64,
    pub open_trades: u64,
    pub wins: u64,
    pub losses: u64,
    pub total_pnl: Decimal,
    pub gross_profit: Decimal,
    pub gross_loss: Decimal,
    pub win_rate_percent: Option<Decimal>,
    pub profit_factor: Option<Decimal>,
    pub max_drawdown_usd: Decimal,
    pub max_drawdown_percent: Decimal,
    pub sharpe: Option<Decimal>,
    pub sortino: Option<Decimal>,
    pub average_r: Option<Decimal>,
    pub total_slippage: Decimal,
    pub open_notional: Decimal,
    pub rejected: u64,
    pub equity: Vec<Point>,
    /// Percent below the running peak (0 or negative).
    pub drawdown: Vec<Point>,
    pub exposure: Vec<Point>,
    pub daily: Vec<DailyPnl>,
    pub whales: Vec<WhaleRow>,
    pub markets: Vec<MarketRow>,
    pub rejections: Vec<Rejection>,
    pub hold_time: Vec<Bin>,
    pub r_multiples: Vec<Bin>,
    pub state_changes: Vec<StateChange>,
}

/// Hold-time bins: upper bounds in seconds (exclusive) and labels; the last is open-ended.
const HOLD_BINS: [(i64, &str); 10] = [
    (60, "< 1m"),
    (300, "1-5m"),
    (900, "5-15m"),
    (3600, "15m-1h"),
    (14_400, "1-4h"),
    (43_200, "4-12h"),
    (86_400, "12h-1d"),
    (259_200, "1-3d"),
    (604_800, "3-7d"),
    (i64::MAX, ">= 7d"),
];

fn percent(part: u64, whole: u64) -> Option<Decimal> {
    (whole > 0).then(|| (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole)).round_dp(2))
}

/// Keeps at most about `max` points: the curve is cut into buckets and each bucket keeps its lowest
/// and highest point in time order, so peaks and troughs survive; the first and last always stay.
pub fn downsample(points: &[Point], max: usize) -> Vec<Point> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let buckets = (max - 2) / 2;
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(max);
    out.push(points[0]);
    for chunk in points[1..points.len() - 1].chunks(size) {
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.value < chunk[lo].value {
                lo = i;
            }
            if p.value > chunk[hi].value {
                hi = i;
            }
        }
        out.push(chunk[lo.min(hi)]);
        if lo != hi {
            out.push(chunk[lo.max(hi)]);
        }
    }
    out.push(points[points.len() - 1]);
    out
}

/// Sharpe and Sortino of daily returns, annualised by √365 (see the module's definitions).
pub fn sharpe_sortino(returns: &[Decimal]) -> (Option<Decimal>, Option<Decimal>) {
    if returns.len() < 2 {
        return (None, None);
    }
    let n = Decimal::from(returns.len());
    let mean = returns.iter().sum::<Decimal>() / n;
    let variance = returns.iter().map(|r| (r - mean) * (r - mean)).sum::<Decimal>() / (n - Decimal::ONE);
    let downside = returns.iter().map(|r| r.min(&Decimal::ZERO)).map(|r| r * r).sum::<Decimal>() / n;
    let annual = 365f64.sqrt();
    let ratio = |denominator_squared: Decimal| -> Option<Decimal> {
        let sd = denominator_squared.to_f64()?.sqrt();
        if sd <= 0.0 || !sd.is_finite() {
            return None;
        }
        Decimal::from_f64(mean.to_f64()? / sd * annual).map(|d| d.round_dp(4))
    };
    (ratio(variance), ratio(downside))
}

fn day_date(day: i64, day_start_utc_minutes: u32) -> String {
    let ms = day * DAY_MS + i64::from(day_start_utc_minutes) * 60_000;
    Timestamp(ms).to_datetime().format("%Y-%m-%d").to_string()
}

/// Computes every figure of the report from `ledger`.
pub fn compute(ledger: &Ledger) -> Figures {
    let closed = &ledger.closed;
    let mut f = Figures {
        source: ledger.source.clone(),
        starting_equity: ledger.starting_equity,
        stop_loss_fraction: ledger.stop_loss_fraction,
        first_at: closed.iter().map(|t| t.opened_at).chain(ledger.open.iter().map(|t| t.opened_at)).min(),
        last_at: closed.iter().map(|t| t.closed_at).max(),
        closed_trades: closed.len() as u64,
        open_trades: ledger.open.len() as u64,
        wins: 0,
        losses: 0,
        total_pnl: Decimal::ZERO,
        gross_profit: Decimal::ZERO,
        gross_loss: Decimal::ZERO,
        win_rate_percent: None,
        profit_factor: None,
        max_drawdown_usd: Decimal::ZERO,
        max_drawdown_percent: Decimal::ZERO,
        sharpe: None,
        sortino: None,
        average_r: None,
        total_slippage: Decimal::ZERO,
        open_notional: ledger.open.iter().map(|t| t.notional).sum(),
        rejected: ledger.rejections.values().sum(),
        equity: Vec::new(),
        drawdown: Vec::new(),
        exposure: Vec::new(),
        daily: Vec::new(),
        whales: Vec::new(),
        markets: Vec::new(),
        rejections: Vec::new(),
        hold_time: HOLD_BINS.iter().map(|(_, l)| Bin { label: (*l).into(), count: 0 }).collect(),
        r_multiples: R_BINS.iter().map(|(_, l)| Bin { label: (*l).into(), count: 0 }).collect(),
        state_changes: ledger.state_changes.clone(),
    };

    // Equity and drawdown, stepped at each close.
    let mut equity_curve = Vec::with_capacity(closed.len() + 1);
    let mut drawdown_curve = Vec::with_capacity(closed.len() + 1);
    let mut equity = ledger.starting_equity;
    let mut peak = equity;
    if let Some(start) = f.first_at {
        equity_curve.push(Point { at: start, value: equity });
        drawdown_curve.push(Point { at: start, value: Decimal::ZERO });
    }
    let mut whales: BTreeMap<&str, WhaleRow> = BTreeMap::new();
    let mut markets: BTreeMap<&str, MarketRow> = BTreeMap::new();
    let mut days: BTreeMap<i64, (Decimal, u64)> = BTreeMap::new();
    let (mut r_sum, mut r_count) = (Decimal::ZERO, 0u64);
    for t in closed {
        equity += t.pnl;
        peak = peak.max(equity);
        let dd = peak - equity;
        let dd_percent = if peak > Decimal::ZERO { dd * Decimal::ONE_HUNDRED / peak } else { Decimal::ZERO };
        f.max_drawdown_usd = f.max_drawdown_usd.max(dd);
        f.max_drawdown_percent = f.max_drawdown_percent.max(dd_percent);
        equity_curve.push(Point { at: t.closed_at, value: equity });
        drawdown_curve.push(Point { at: t.closed_at, value: -dd_percent.round_dp(4) });

        f.total_pnl += t.pnl;
        let win = t.pnl > Decimal::ZERO;
        if win {
            f.wins += 1;
            f.gross_profit += t.pnl;
        } else if t.pnl < Decimal::ZERO {
            f.losses += 1;
            f.gross_loss += t.pnl;
        }
        f.total_slippage += t.slippage.unwrap_or_default();

        let w = whales.entry(&t.whale).or_insert_with(|| whale_row(&t.whale, &t.whale_label));
        w.trades += 1;
        w.wins += u64::from(win);
        w.pnl += t.pnl;
        if let (Some(s), Some(wp)) = (t.slippage, t.whale_pnl) {
            w.slippage += s;
            w.whale_pnl += wp;
        }
        let m = markets.entry(&t.market).or_insert_with(|| market_row(&t.market, &t.market_title));
        m.trades += 1;
        m.wins += u64::from(win);
        m.pnl += t.pnl;
        m.notional += t.notional;

        let day = days.entry(trading_day(t.closed_at, ledger.day_start_utc_minutes)).or_default();
        day.0 += t.pnl;
        day.1 += 1;

        let hold = t.hold_seconds();
        let bin = HOLD_BINS.iter().position(|(upper, _)| hold < *upper).unwrap_or(HOLD_BINS.len() - 1);
        f.hold_time[bin].count += 1;
        if let Some(r) = r_multiple(t.pnl, initial_risk(t.notional, ledger.stop_loss_fraction)) {
            f.r_multiples[r_bin(r)].count += 1;
            r_sum += r;
            r_count += 1;
        }
    }
    for t in &ledger.open {
        whales.entry(&t.whale).or_insert_with(|| whale_row(&t.whale, &t.whale_label)).open += 1;
        markets.entry(&t.market).or_insert_with(|| market_row(&t.market, &t.market_title)).open += 1;
    }
    f.win_rate_percent = percent(f.wins, f.closed_trades);
    if f.gross_loss < Decimal::ZERO {
        f.profit_factor = Some((f.gross_profit / f.gross_loss.abs()).round_dp(4));
    }
    f.max_drawdown_percent = f.max_drawdown_percent.round_dp(4);
    f.average_r = (r_count > 0).then(|| (r_sum / Decimal::from(r_count)).round_dp(4));

    // Daily P&L: every day from the first close to the last, unless the span is absurdly long.
    let filled = match (days.keys().next(), days.keys().next_back()) {
        (Some(first), Some(last)) if last - first <= MAX_FILLED_DAYS => (*first..=*last).collect(),
        _ => days.keys().copied().collect::<Vec<_>>(),
    };
    let mut returns = Vec::with_capacity(filled.len());
    for day in filled {
        let (pnl, trades) = days.get(&day).copied().unwrap_or_default();
        returns.push(if ledger.starting_equity > Decimal::ZERO { pnl / ledger.starting_equity } else { Decimal::ZERO });
        f.daily.push(DailyPnl { date: day_date(day, ledger.day_start_utc_minutes), pnl, trades });
    }
    (f.sharpe, f.sortino) = sharpe_sortino(&returns);

    // Exposure: entry notional on at each open, off at each close.
    let mut moves: Vec<(Timestamp, Decimal)> = Vec::with_capacity(closed.len() * 2 + ledger.open.len());
    for t in closed {
        moves.push((t.opened_at, t.notional));
        moves.push((t.closed_at, -t.notional));
    }
    moves.extend(ledger.open.iter().map(|t| (t.opened_at, t.notional)));
    moves.sort_by_key(|m| m.0);
    let mut open = Decimal::ZERO;
    let exposure: Vec<Point> = moves
        .into_iter()
        .map(|(at, change)| {
            open += change;
            Point { at, value: open }
        })
        .collect();

    f.equity = downsample(&equity_curve, MAX_CURVE_POINTS);
    f.drawdown = downsample(&drawdown_curve, MAX_CURVE_POINTS);
    f.exposure = downsample(&exposure, MAX_CURVE_POINTS);
    f.whales = whales
        .into_values()
        .map(|mut w| {
            w.win_rate_percent = percent(w.wins, w.trades);
            w
        })
        .collect();
    f.whales.sort_by(|a, b| b.pnl.cmp(&a.pnl).then_with(|| a.wallet.cmp(&b.wallet)));
    f.markets = markets.into_values().collect();
    f.markets.sort_by(|a, b| b.pnl.cmp(&a.pnl).then_with(|| a.market.cmp(&b.market)));
    f.rejections =
        ledger.rejections.iter().map(|(reason, count)| Rejection { reason: reason.clone(), count: *count }).collect();
    f.rejections.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    f
}

fn whale_row(wallet: &str, label: &str) -> WhaleRow {
    WhaleRow {
        wallet: wallet.into(),
        label: label.into(),
        trades: 0,
        open: 0,
        wins: 0,
        win_rate_percent: None,
        pnl: Decimal::ZERO,
        slippage: Decimal::ZERO,
        whale_pnl: Decimal::ZERO,
    }
}

fn market_row(market: &str, title: &str) -> MarketRow {
    MarketRow {
        market: market.into(),
        title: title.into(),
        trades: 0,
        open: 0,
        wins: 0,
        pnl: Decimal::ZERO,
        notional: Decimal::ZERO,
    }
}
