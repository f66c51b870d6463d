//! The decision diff of one session replayed under two configs: two audit trails in, what differs
//! out. Pure: `whale-trader replay --compare` runs the replays and prints the diff.
//!
//! Whale trades are joined by their source id (`whale_trade_id`, on `trade_opened` and
//! `trade_rejected` alike); positions by the whale trade they copied, since engine trade ids are
//! counters that differ between runs. Deltas are `other − base`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::engine::audit::AuditRecord;

/// What one run made of a whale trade it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Copied: the position it opened.
    Took(PositionFigures),
    /// Refused, with the reason code and the limit that broke.
    Refused { reason: String, detail: String },
    /// Neither a copy nor a refusal on the trail: the whale is not followed under that config, or
    /// an approved entry filled nothing.
    NotDecided,
}

impl Verdict {
    /// The short form a person reads in the table.
    fn text(&self) -> String {
        match self {
            Verdict::Took(p) => format!("took {} ({} @ {})", p.trade_id, p.size, p.entry_price),
            Verdict::Refused { reason, .. } => format!("refused: {reason}"),
            Verdict::NotDecided => "not decided (not followed, or nothing filled)".to_owned(),
        }
    }
}

/// A copied position as the trail tells it: its entry, and its exit once closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PositionFigures {
    pub trade_id: String,
    pub size: Decimal,
    pub entry_price: Decimal,
    pub notional_usd: Decimal,
    /// `None` while still open at the end of the session.
    pub exit_reason: Option<String>,
    pub pnl_usd: Option<Decimal>,
}

impl PositionFigures {
    /// The figures compared between runs (the trade id is a per-run counter).
    fn same_as(&self, other: &PositionFigures) -> bool {
        (self.size, self.entry_price, &self.exit_reason, self.pnl_usd)
            == (other.size, other.entry_price, &other.exit_reason, other.pnl_usd)
    }
}

/// Who a whale trade was and what it traded, for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signal {
    pub whale_trade_id: String,
    pub whale_address: String,
    pub whale_label: String,
    pub market_id: String,
    pub market_title: String,
    pub outcome: String,
}

/// A whale trade the two runs decided differently: one took it and the other did not, or both
/// refused it for different reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionDiff {
    #[serde(flatten)]
    pub signal: Signal,
    pub base: Verdict,
    pub other: Verdict,
}

/// A whale trade both runs copied whose positions differ (size, entry, exit reason or P&L).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PositionDiff {
    #[serde(flatten)]
    pub signal: Signal,
    pub base: PositionFigures,
    pub other: PositionFigures,
}

/// One run's totals, from its audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunFigures {
    /// Realised P&L of the closed trades.
    pub realised_pnl_usd: Decimal,
    /// The largest fall of realised P&L from its running peak (closes in trail order), ≥ 0.
    pub max_drawdown_usd: Decimal,
    pub trades_opened: u64,
    pub trades_closed: u64,
    pub trades_rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
}

impl RunFigures {
    pub fn from_records(records: &[AuditRecord]) -> RunFigures {
        let mut figures = RunFigures::default();
        let mut peak = Decimal::ZERO;
        for record in records {
            match record {
                AuditRecord::TradeOpened(_) => figures.trades_opened += 1,
                AuditRecord::TradeClosed(r) => {
                    figures.trades_closed += 1;
                    figures.realised_pnl_usd += r.pnl_usd;
                    peak = peak.max(figures.realised_pnl_usd);
                    figures.max_drawdown_usd = figures.max_drawdown_usd.max(peak - figures.realised_pnl_usd);
                }
                AuditRecord::TradeRejected(r) => {
                    figures.trades_rejected += 1;
                    *figures.rejected_by_reason.entry(r.reason.clone()).or_default() += 1;
                }
                _ => {}
            }
        }
        figures
    }
}

/// `other − base` of each total; a reason either run saw appears, zero deltas included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Deltas {
    pub realised_pnl_usd: Decimal,
    pub max_drawdown_usd: Decimal,
    pub trades_opened: i64,
    pub trades_closed: i64,
    pub trades_rejected: i64,
    pub rejected_by_reason: BTreeMap<String, i64>,
}

/// The whole diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigDiff {
    pub decisions: Vec<DecisionDiff>,
    pub positions: Vec<PositionDiff>,
    pub base: RunFigures,
    pub other: RunFigures,
    pub deltas: Deltas,
}

impl ConfigDiff {
    /// No whale trade decided differently, no position different, every delta zero.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
            && self.positions.is_empty()
            && self.deltas.realised_pnl_usd.is_zero()
            && self.deltas.max_drawdown_usd.is_zero()
            && self.deltas.trades_opened == 0
            && self.deltas.trades_closed == 0
            && self.deltas.trades_rejected == 0
            && self.deltas.rejected_by_reason.values().all(|d| *d == 0)
    }
}

/// Each whale trade a trail decided, in trail order, with its verdict.
struct Decisions {
    order: Vec<String>,
    by_id: BTreeMap<String, (Signal, Verdict)>,
}

impl Decisions {
    /// The trail's signals as `audit export` reads them (decisions joined with their closes), each
    /// with the verdict compared here. Copies of no whale trade (adopted positions) are left out.
    fn from_records(records: &[AuditRecord]) -> Decisions {
        let mut decisions = Decisions { order: Vec::new(), by_id: BTreeMap::new() };
        for s in crate::audit::signals(records) {
            if s.whale_trade_id.is_empty() {
                continue;
            }
            let verdict = match (s.trade_id, s.size, s.entry_price, s.notional_usd) {
                (Some(trade_id), Some(size), Some(entry_price), Some(notional_usd)) => Verdict::Took(PositionFigures {
                    trade_id,
                    size,
                    entry_price,
                    notional_usd,
                    exit_reason: s.exit_reason,
                    pnl_usd: s.pnl_usd,
                }),
                _ => Verdict::Refused { reason: s.reason, detail: s.detail },
            };
            let signal = Signal {
                whale_trade_id: s.whale_trade_id,
                whale_address: s.whale_address,
                whale_label: s.whale_label,
                market_id: s.market_id,
                market_title: s.market_title,
                outcome: s.outcome,
            };
            decisions.insert(signal, verdict);
        }
        decisions
    }

    fn insert(&mut self, signal: Signal, verdict: Verdict) {
        // A whale trade is decided once per run (the engine dedupes them); should a trail hold a
        // second decision, the first stands.
        if !self.by_id.contains_key(&signal.whale_trade_id) {
            self.order.push(signal.whale_trade_id.clone());
            self.by_id.insert(signal.whale_trade_id.clone(), (signal, verdict));
        }
    }
}

/// The diff of `other` against `base`: the audit trails of one session under two configs.
pub fn compare(base: &[AuditRecord], other: &[AuditRecord]) -> ConfigDiff {
    let (base_decisions, other_decisions) = (Decisions::from_records(base), Decisions::from_records(other));
    let mut ids: Vec<&String> = base_decisions.order.iter().collect();
    ids.extend(other_decisions.order.iter().filter(|id| !base_decisions.by_id.contains_key(*id)));
    let (mut decisions, mut positions) = (Vec::new(), Vec::new());
    for id in ids {
        let base_entry = base_decisions.by_id.get(id);
        let other_entry = other_decisions.by_id.get(id);
        let Some((signal, _)) = base_entry.or(other_entry) else { continue };
        let base_verdict = base_entry.map_or(Verdict::NotDecided, |(_, v)| v.clone());
        let other_verdict = other_entry.map_or(Verdict::NotDecided, |(_, v)| v.clone());
        match (&base_verdict, &other_verdict) {
            (Verdict::Took(b), Verdict::Took(o)) => {
                if !b.same_as(o) {
                    positions.push(PositionDiff { signal: signal.clone(), base: b.clone(), other: o.clone() });
                }
            }
            (Verdict::Refused { reason: b, .. }, Verdict::Refused { reason: o, .. }) if b == o => {}
            (Verdict::NotDecided, Verdict::NotDecided) => {}
            _ => decisions.push(DecisionDiff { signal: signal.clone(), base: base_verdict, other: other_verdict }),
        }
    }
    let (base_figures, other_figures) = (RunFigures::from_records(base), RunFigures::from_records(other));
    let deltas = deltas(&base_figures, &other_figures);
    ConfigDiff { decisions, positions, base: base_figures, other: other_figures, deltas }
}

fn deltas(base: &RunFigures, other: &RunFigures) -> Deltas {
    let count = |b: u64, o: u64| i64::try_from(o).unwrap_or(i64::MAX) - i64::try_from(b).unwrap_or(i64::MAX);
    let mut rejected_by_reason = BTreeMap::new();
    for reason in base.rejected_by_reason.keys().chain(other.rejected_by_reason.keys()) {
        let b = base.rejected_by_reason.get(reason).copied().unwrap_or(0);
        let o = other.rejected_by_reason.get(reason).copied().unwrap_or(0);
        rejected_by_reason.insert(reason.clone(), count(b, o));
    }
    Deltas {
        realised_pnl_usd: other.realised_pnl_usd - base.realised_pnl_usd,
        max_drawdown_usd: other.max_drawdown_usd - base.max_drawdown_usd,
        trades_opened: count(base.trades_opened, other.trades_opened),
        trades_closed: count(base.trades_closed, other.trades_closed),
        trades_rejected: count(base.trades_rejected, other.trades_rejected),
        rejected_by_reason,
    }
}

/// The diff as text: the differing decisions and positions as tables, then the totals side by side.
/// `base_name` and `other_name` head the two sides' columns (the config files' names).
pub fn render_text(diff: &ConfigDiff, base_name: &str, other_name: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!("whale trades decided differently: {}\n", diff.decisions.len()));
    if !diff.decisions.is_empty() {
        let mut rows = vec![header_row(base_name, other_name)];
        for d in &diff.decisions {
            rows.push(signal_row(&d.signal, d.base.text(), d.other.text()));
        }
        out.push_str(&table(&rows));
        out.push_str("refusals in full:\n");
        for d in &diff.decisions {
            for (name, verdict) in [(base_name, &d.base), (other_name, &d.other)] {
                if let Verdict::Refused { reason, detail } = verdict {
                    out.push_str(&format!("  {} under {name}: {reason}: {detail}\n", d.signal.whale_trade_id));
                }
            }
        }
    }
    out.push_str(&format!("\npositions that differ: {}\n", diff.positions.len()));
    if !diff.positions.is_empty() {
        let mut rows = vec![header_row(base_name, other_name)];
        for p in &diff.positions {
            rows.push(signal_row(&p.signal, position_text(&p.base), position_text(&p.other)));
        }
        out.push_str(&table(&rows));
    }
    out.push('\n');
    let mut rows = vec![vec![String::new(), base_name.to_owned(), other_name.to_owned(), "delta".to_owned()]];
    let (b, o, d) = (&diff.base, &diff.other, &diff.deltas);
    rows.push(money_row("realised P&L", b.realised_pnl_usd, o.realised_pnl_usd, d.realised_pnl_usd));
    rows.push(money_row("max drawdown", b.max_drawdown_usd, o.max_drawdown_usd, d.max_drawdown_usd));
    rows.push(count_row("trades opened", b.trades_opened, o.trades_opened, d.trades_opened));
    rows.push(count_row("trades closed", b.trades_closed, o.trades_closed, d.trades_closed));
    rows.push(count_row("trades rejected", b.trades_rejected, o.trades_rejected, d.trades_rejected));
    for (reason, delta) in &d.rejected_by_reason {
        let count = |f: &RunFigures| f.rejected_by_reason.get(reason).copied().unwrap_or(0);
        rows.push(count_row(&format!("  rejected: {reason}"), count(b), count(o), *delta));
    }
    out.push_str(&table(&rows));
    out
}

fn header_row(base_name: &str, other_name: &str) -> Vec<String> {
    ["whale trade", "whale", "market", "outcome", base_name, other_name].map(str::to_owned).to_vec()
}

fn signal_row(signal: &Signal, base: String, other: String) -> Vec<String> {
    vec![
        signal.whale_trade_id.clone(),
        signal.whale_label.clone(),
        signal.market_title.clone(),
        signal.outcome.clone(),
        base,
        other,
    ]
}

fn position_text(p: &PositionFigures) -> String {
    let exit = match (&p.exit_reason, p.pnl_usd) {
        (Some(reason), Some(pnl)) => format!("{reason}, P&L {}", crate::alerts::usd(pnl)),
        _ => "open".to_owned(),
    };
    format!("{} {} @ {}, {exit}", p.trade_id, p.size, p.entry_price)
}

fn money_row(name: &str, base: Decimal, other: Decimal, delta: Decimal) -> Vec<String> {
    let signed =
        if delta > Decimal::ZERO { format!("+{}", crate::alerts::usd(delta)) } else { crate::alerts::usd(delta) };
    vec![name.to_owned(), crate::alerts::usd(base), crate::alerts::usd(other), signed]
}

fn count_row(name: &str, base: u64, other: u64, delta: i64) -> Vec<String> {
    vec![name.to_owned(), base.to_string(), other.to_string(), format!("{delta:+}")]
}

/// Left-aligned columns two spaces apart, each as wide as its widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (cell, width) in row.iter().zip(&widths) {
            line.push(' ');
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.chars().count()) + 1));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::engine::audit::{TradeClosed, TradeOpened, TradeRejected};

    fn opened(trade_id: &str, source: &str, size: Decimal) -> AuditRecord {
        AuditRecord::TradeOpened(TradeOpened {
            trade_id: trade_id.into(),
            whale_trade_id: source.into(),
            whale_address: "0xa".into(),
            market_id: "0xm".into(),
            token_id: "1".into(),
            whale_label: "Alice".into(),
            market_title: "Will it rain?".into(),
            outcome: "Yes".into(),
            side: "BUY".into(),
            size,
            price: dec!(0.5),
            notional_usd: size * dec!(0.5),
            whale_price: dec!(0.5),
            whale_size: dec!(100),
            slippage_usd: None,
            mode: "paper".into(),
            timestamp: "2026-01-05T10:00:00.000Z".into(),
            risk_usd: None,
            context: Default::default(),
        })
    }

    fn closed(trade_id: &str, pnl: Decimal, reason: &str) -> AuditRecord {
        AuditRecord::TradeClosed(TradeClosed {
            trade_id: trade_id.into(),
            whale_address: "0xa".into(),
            whale_label: "Alice".into(),
            market_id: "0xm".into(),
            market_title: "Will it rain?".into(),
            outcome: "Yes".into(),
            exit_price: dec!(0.6),
            pnl_usd: pnl,
            slippage_usd: None,
            whale_pnl_usd: None,
            hold_time_seconds: 60,
            reason: reason.into(),
            timestamp: "2026-01-05T10:01:00.000Z".into(),
        })
    }

    fn rejected(source: &str, reason: &str) -> AuditRecord {
        AuditRecord::TradeRejected(TradeRejected {
            whale_trade_id: source.into(),
            whale_address: "0xa".into(),
            market_id: "0xm".into(),
            token_id: "1".into(),
            whale_label: "Alice".into(),
            market_title: "Will it rain?".into(),
            outcome: "Yes".into(),
            reason: reason.into(),
            detail: format!("{reason} broke"),
            timestamp: "2026-01-05T10:00:00.000Z".into(),
            context: Default::default(),
        })
    }

    #[test]
    fn the_same_trail_twice_is_an_empty_diff() {
        let trail =
            vec![opened("T1", "w1", dec!(10)), rejected("w2", "price_moved"), closed("T1", dec!(3), "take_profit")];
        let diff = compare(&trail, &trail);
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!(diff.base, diff.other);
        assert_eq!(diff.deltas.rejected_by_reason.get("price_moved"), Some(&0));
    }

    #[test]
    fn a_trade_one_took_and_the_other_refused_is_named_with_both_verdicts() {
        let base = vec![opened("T1", "w1", dec!(10)), closed("T1", dec!(-4), "stop_loss")];
        let other = vec![rejected("w1", "max_position_size")];
        let diff = compare(&base, &other);
        assert_eq!(diff.decisions.len(), 1);
        let d = &diff.decisions[0];
        assert_eq!(d.signal.whale_trade_id, "w1");
        assert_eq!(d.signal.whale_label, "Alice");
        assert!(
            matches!(&d.base, Verdict::Took(p) if p.pnl_usd == Some(dec!(-4)) && p.exit_reason.as_deref() == Some("stop_loss"))
        );
        assert!(matches!(&d.other, Verdict::Refused { reason, .. } if reason == "max_position_size"));
        assert_eq!(diff.deltas.realised_pnl_usd, dec!(4));
        assert_eq!(diff.deltas.max_drawdown_usd, dec!(-4));
        assert_eq!((diff.deltas.trades_opened, diff.deltas.trades_closed, diff.deltas.trades_rejected), (-1, -1, 1));
        assert_eq!(diff.deltas.rejected_by_reason.get("max_position_size"), Some(&1));
        let text = render_text(&diff, "base.toml", "tight.toml");
        assert!(
            text.contains("w1") && text.contains("Will it rain?") && text.contains("refused: max_position_size"),
            "{text}"
        );
        assert!(text.contains("w1 under tight.toml: max_position_size: max_position_size broke"), "{text}");
    }

    #[test]
    fn different_refusal_reasons_differ_and_equal_ones_do_not() {
        let base = vec![rejected("w1", "price_moved"), rejected("w2", "stale_book")];
        let other = vec![rejected("w1", "max_positions"), rejected("w2", "stale_book")];
        let diff = compare(&base, &other);
        assert_eq!(diff.decisions.iter().map(|d| d.signal.whale_trade_id.as_str()).collect::<Vec<_>>(), ["w1"]);
        assert!(diff.positions.is_empty());
    }

    #[test]
    fn positions_copied_by_both_differ_by_size_and_pnl_whatever_their_trade_ids() {
        let base = vec![opened("T1", "w1", dec!(10)), closed("T1", dec!(2), "take_profit")];
        let other = vec![opened("T9", "w1", dec!(10)), closed("T9", dec!(2), "take_profit")];
        assert!(compare(&base, &other).is_empty(), "trade ids are per-run counters");
        let smaller = vec![opened("T1", "w1", dec!(5)), closed("T1", dec!(1), "take_profit")];
        let diff = compare(&base, &smaller);
        assert_eq!(diff.positions.len(), 1);
        assert_eq!((diff.positions[0].base.size, diff.positions[0].other.size), (dec!(10), dec!(5)));
        assert_eq!(diff.deltas.realised_pnl_usd, dec!(-1));
    }

    #[test]
    fn max_drawdown_is_the_largest_fall_from_the_running_peak_of_realised_pnl() {
        let trail = [
            opened("T1", "w1", dec!(1)),
            closed("T1", dec!(5), "take_profit"),
            closed("T2", dec!(-3), "stop_loss"),
            closed("T3", dec!(-4), "stop_loss"),
            closed("T4", dec!(10), "take_profit"),
            closed("T5", dec!(-2), "stop_loss"),
        ];
        let figures = RunFigures::from_records(&trail);
        assert_eq!(figures.max_drawdown_usd, dec!(7));
        assert_eq!(figures.realised_pnl_usd, dec!(6));
        assert_eq!((figures.trades_opened, figures.trades_closed), (1, 5));
    }
}
