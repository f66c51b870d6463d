//! One record per signal (a whale trade the engine decided on: copied or refused), joined with its
//! outcome, and the summary of a set of them. Pure: audit records in, signals and figures out.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::engine::audit::{AuditRecord, DecisionContext};
use crate::risk::r_multiple::{R_BINS, r_bin, r_multiple};

/// A signal and what became of it. Flat, so that the CSV has one column per field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Signal {
    /// When the engine decided (RFC 3339): the `trade_rejected` record's time, or the
    /// `trade_opened` record's (when the entry filled).
    pub decided_at: String,
    pub whale_trade_id: String,
    /// `opened` or `rejected`.
    pub decision: String,
    /// The rejection's reason code; `copied` for an opened trade.
    pub reason: String,
    /// The rejection's limit and value, for a person (empty for an opened trade).
    pub detail: String,
    pub whale_address: String,
    pub whale_label: String,
    pub market_id: String,
    pub market_title: String,
    pub token_id: String,
    pub outcome: String,
    /// The copy: trade id, shares, entry price, notional and initial risk (opened only).
    pub trade_id: Option<String>,
    pub size: Option<Decimal>,
    pub entry_price: Option<Decimal>,
    pub notional_usd: Option<Decimal>,
    pub risk_usd: Option<Decimal>,
    /// Sizing inputs and the risk snapshot at the decision.
    pub equity_usd: Option<Decimal>,
    pub sizing_rule: Option<String>,
    pub sized_usd: Option<Decimal>,
    pub size_cap: Option<String>,
    pub trading_state: Option<String>,
    pub open_positions: Option<u64>,
    pub exposure_usd: Option<Decimal>,
    pub daily_pnl_usd: Option<Decimal>,
    pub drawdown_percent: Option<Decimal>,
    pub regime: Option<String>,
    /// `closed`, `open` (an opened trade not closed on the trail) or empty (rejected).
    pub status: String,
    pub exit_reason: Option<String>,
    pub pnl_usd: Option<Decimal>,
    pub hold_time_seconds: Option<i64>,
    pub closed_at: Option<String>,
    /// P&L over the initial risk at entry.
    pub r_multiple: Option<Decimal>,
}

impl Signal {
    fn with_context(mut self, context: &DecisionContext) -> Signal {
        self.equity_usd = context.equity_usd;
        self.sizing_rule.clone_from(&context.sizing_rule);
        self.sized_usd = context.sized_usd;
        self.size_cap.clone_from(&context.size_cap);
        self.trading_state.clone_from(&context.trading_state);
        self.open_positions = context.open_positions;
        self.exposure_usd = context.exposure_usd;
        self.daily_pnl_usd = context.daily_pnl_usd;
        self.drawdown_percent = context.drawdown_percent;
        self.regime.clone_from(&context.regime);
        self
    }

    /// When it was decided, for the `--since` / `--until` bounds; `None` for an unreadable time.
    pub fn decided_at_ms(&self) -> Option<Timestamp> {
        chrono::DateTime::parse_from_rfc3339(&self.decided_at).ok().map(|t| Timestamp(t.timestamp_millis()))
    }
}

/// The signals of an audit trail in decision order (ties keep the trail's order), each opened one
/// joined with its `trade_closed` by trade id.
pub fn signals(records: &[AuditRecord]) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut by_trade = BTreeMap::<&str, usize>::new();
    for record in records {
        match record {
            AuditRecord::TradeOpened(r) => {
                let signal = Signal {
                    decided_at: r.timestamp.clone(),
                    whale_trade_id: r.whale_trade_id.clone(),
                    decision: "opened".into(),
                    reason: "copied".into(),
                    whale_address: r.whale_address.clone(),
                    whale_label: r.whale_label.clone(),
                    market_id: r.market_id.clone(),
                    market_title: r.market_title.clone(),
                    token_id: r.token_id.clone(),
                    outcome: r.outcome.clone(),
                    trade_id: Some(r.trade_id.clone()),
                    size: Some(r.size),
                    entry_price: Some(r.price),
                    notional_usd: Some(r.notional_usd),
                    risk_usd: r.risk_usd,
                    status: "open".into(),
                    ..Signal::default()
                };
                by_trade.insert(&r.trade_id, out.len());
                out.push(signal.with_context(&r.context));
            }
            AuditRecord::TradeRejected(r) => {
                let signal = Signal {
                    decided_at: r.timestamp.clone(),
                    whale_trade_id: r.whale_trade_id.clone(),
                    decision: "rejected".into(),
                    reason: r.reason.clone(),
                    detail: r.detail.clone(),
                    whale_address: r.whale_address.clone(),
                    whale_label: r.whale_label.clone(),
                    market_id: r.market_id.clone(),
                    market_title: r.market_title.clone(),
                    token_id: r.token_id.clone(),
                    outcome: r.outcome.clone(),
                    ..Signal::default()
                };
                out.push(signal.with_context(&r.context));
            }
            AuditRecord::TradeClosed(r) => {
                let Some(signal) = by_trade.get(r.trade_id.as_str()).and_then(|i| out.get_mut(*i)) else { continue };
                signal.status = "closed".into();
                signal.exit_reason = Some(r.reason.clone());
                signal.pnl_usd = Some(r.pnl_usd);
                signal.hold_time_seconds = Some(r.hold_time_seconds);
                signal.closed_at = Some(r.timestamp.clone());
                signal.r_multiple = signal.risk_usd.and_then(|risk| r_multiple(r.pnl_usd, risk)).map(|r| r.round_dp(4));
            }
            _ => {}
        }
    }
    out.sort_by_key(|s| s.decided_at_ms().map_or(i64::MIN, |t| t.millis()));
    out
}

/// The signals decided in `[since, until)`; either bound may be open.
pub fn within(signals: Vec<Signal>, since: Option<Timestamp>, until: Option<Timestamp>) -> Vec<Signal> {
    signals
        .into_iter()
        .filter(|s| {
            let Some(at) = s.decided_at_ms() else { return since.is_none() && until.is_none() };
            since.is_none_or(|since| at >= since) && until.is_none_or(|until| at < until)
        })
        .collect()
}

/// Figures of a group of signals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub signals: u64,
    pub opened: u64,
    pub rejected: u64,
    pub closed: u64,
    /// Closed with P&L > 0.
    pub wins: u64,
    /// wins / closed; `None` with nothing closed.
    pub hit_rate: Option<Decimal>,
    pub pnl_usd: Decimal,
    /// The mean R multiple of the closed trades with a known initial risk.
    pub mean_r: Option<Decimal>,
    #[serde(skip)]
    r_sum: Decimal,
    #[serde(skip)]
    r_count: u64,
}

impl Figures {
    fn add(&mut self, signal: &Signal) {
        self.signals += 1;
        match signal.decision.as_str() {
            "opened" => self.opened += 1,
            _ => self.rejected += 1,
        }
        if let Some(pnl) = signal.pnl_usd.filter(|_| signal.status == "closed") {
            self.closed += 1;
            self.pnl_usd += pnl;
            if pnl > Decimal::ZERO {
                self.wins += 1;
            }
            if let Some(r) = signal.r_multiple {
                self.r_sum += r;
                self.r_count += 1;
            }
        }
    }

    fn finish(&mut self) {
        self.hit_rate = (self.closed > 0).then(|| (Decimal::from(self.wins) / Decimal::from(self.closed)).round_dp(4));
        self.mean_r = (self.r_count > 0).then(|| (self.r_sum / Decimal::from(self.r_count)).round_dp(4));
    }
}

/// `audit summary`: signals generated and rejected by reason, hit rate, R distribution, and the
/// same figures per market regime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub all: Figures,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Closed trades per R-multiple bucket, in [`R_BINS`] order.
    pub r_distribution: Vec<(String, u64)>,
    /// Per regime (`trend`, `range`, `volatile`, `unknown`; `unrecorded` for records before it).
    pub by_regime: BTreeMap<String, Figures>,
}

pub fn summarise(signals: &[Signal]) -> Summary {
    let mut summary = Summary {
        r_distribution: R_BINS.iter().map(|(_, name)| ((*name).to_owned(), 0)).collect(),
        ..Summary::default()
    };
    for signal in signals {
        summary.all.add(signal);
        let regime = signal.regime.clone().unwrap_or_else(|| "unrecorded".to_owned());
        summary.by_regime.entry(regime).or_default().add(signal);
        if signal.decision == "rejected" {
            *summary.rejected_by_reason.entry(signal.reason.clone()).or_default() += 1;
        }
        if let Some(r) = signal.r_multiple.filter(|_| signal.status == "closed") {
            summary.r_distribution[r_bin(r)].1 += 1;
        }
    }
    summary.all.finish();
    summary.by_regime.values_mut().for_each(Figures::finish);
    summary
}

/// The summary as text, for a person.
pub fn render_summary(summary: &Summary) -> String {
    let a = &summary.all;
    let rate = |f: &Figures| {
        f.hit_rate.map_or_else(|| "-".to_owned(), |h| format!("{}%", (h * Decimal::ONE_HUNDRED).round_dp(1)))
    };
    let mean_r = |f: &Figures| f.mean_r.map_or_else(|| "-".to_owned(), |r| format!("{r}R"));
    let mut out = format!(
        "signals      : {}\nopened       : {}\nrejected     : {}\nclosed       : {} ({} won)\nhit rate     : {}\nrealised P&L : {}\nmean R       : {}\n",
        a.signals,
        a.opened,
        a.rejected,
        a.closed,
        a.wins,
        rate(a),
        crate::alerts::usd(a.pnl_usd),
        mean_r(a),
    );
    out.push_str("\nrejected by reason\n");
    for (reason, count) in &summary.rejected_by_reason {
        out.push_str(&format!("  {reason:<28} {count}\n"));
    }
    out.push_str("\nR multiples of closed trades\n");
    for (bucket, count) in &summary.r_distribution {
        out.push_str(&format!("  {bucket:<28} {count}\n"));
    }
    out.push_str("\nby market regime\n");
    out.push_str(&format!(
        "  {:<12} {:>7} {:>6} {:>8} {:>6} {:>8} {:>12} {:>8}\n",
        "regime", "signals", "opened", "rejected", "closed", "hit rate", "P&L", "mean R"
    ));
    for (regime, f) in &summary.by_regime {
        out.push_str(&format!(
            "  {:<12} {:>7} {:>6} {:>8} {:>6} {:>8} {:>12} {:>8}\n",
            regime,
            f.signals,
            f.opened,
            f.rejected,
            f.closed,
            rate(f),
            crate::alerts::usd(f.pnl_usd),
            mean_r(f)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn signal(decision: &str, regime: &str, pnl: Option<Decimal>, r: Option<Decimal>) -> Signal {
        Signal {
            decided_at: "2026-01-05T10:00:00.000Z".into(),
            decision: decision.into(),
            reason: if decision == "opened" { "copied".into() } else { "price_moved".into() },
            regime: Some(regime.into()),
            status: if pnl.is_some() { "closed".into() } else { String::new() },
            pnl_usd: pnl,
            r_multiple: r,
            ..Signal::default()
        }
    }

    #[test]
    fn the_summary_counts_hit_rate_r_buckets_and_regimes() {
        let signals = [
            signal("opened", "trend", Some(dec!(10)), Some(dec!(2.5))),
            signal("opened", "trend", Some(dec!(-5)), Some(dec!(-1))),
            signal("opened", "range", Some(dec!(-12)), Some(dec!(-1.2))),
            signal("opened", "range", Some(dec!(3)), Some(dec!(0.6))),
            signal("rejected", "range", None, None),
        ];
        let s = summarise(&signals);
        assert_eq!((s.all.signals, s.all.opened, s.all.rejected, s.all.closed, s.all.wins), (5, 4, 1, 4, 2));
        assert_eq!(s.all.hit_rate, Some(dec!(0.5)));
        assert_eq!(s.all.pnl_usd, dec!(-4));
        assert_eq!(s.all.mean_r, Some(dec!(0.225)));
        let buckets: Vec<u64> = s.r_distribution.iter().map(|(_, n)| *n).collect();
        assert_eq!(buckets, [0, 1, 1, 0, 0, 1, 0, 1, 0], "-1R itself is in the -1..-0.5R bin");
        assert_eq!(s.rejected_by_reason.get("price_moved"), Some(&1));
        let trend = &s.by_regime["trend"];
        assert_eq!((trend.signals, trend.closed, trend.wins, trend.hit_rate), (2, 2, 1, Some(dec!(0.5))));
        assert_eq!((s.by_regime["range"].signals, s.by_regime["range"].rejected), (3, 1));
        assert!(render_summary(&s).contains("hit rate     : 50.0%"), "{}", render_summary(&s));
    }

    #[test]
    fn bounds_keep_since_and_drop_until() {
        let at = |t: &str| Signal { decided_at: t.into(), ..Signal::default() };
        let all = vec![at("2026-01-05T09:59:59.999Z"), at("2026-01-05T10:00:00.000Z"), at("2026-01-05T11:00:00.000Z")];
        let since = Some(Timestamp(1_767_607_200_000));
        let until = Some(Timestamp(1_767_610_800_000));
        let kept: Vec<String> = within(all, since, until).into_iter().map(|s| s.decided_at).collect();
        assert_eq!(kept, ["2026-01-05T10:00:00.000Z"]);
    }
}
