//! The report's ledger: every trade in the window, open and closed, with the names a person reads,
//! the whale trades refused by reason and the trading-state changes. Built at the edges, from the
//! store's records ([`Ledger::from_store`]) or from a replay's audit records
//! ([`Ledger::from_audit`]); everything else in the report reads only this.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::domain::Side;
use crate::engine::audit::AuditRecord;
use crate::history::Names;
use crate::store::{PositionStatus, ReportRows, TradeRecord};

use super::ReportError;

/// A closed trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClosedTrade {
    pub id: String,
    pub whale: String,
    pub whale_label: String,
    pub market: String,
    pub market_title: String,
    pub outcome: String,
    pub opened_at: Timestamp,
    pub closed_at: Timestamp,
    pub entry_price: Decimal,
    pub exit_price: Decimal,
    /// Shares bought.
    pub size: Decimal,
    /// Entry notional: shares × entry price.
    pub notional: Decimal,
    /// Realised P&L, fees included.
    pub pnl: Decimal,
    /// The entry against the whale's own fill over the shares bought, USD (positive: we paid more);
    /// `None` when the copied whale trade is unknown.
    pub slippage: Option<Decimal>,
    /// What the same shares made at the whale's price without fees.
    pub whale_pnl: Option<Decimal>,
    pub exit_reason: String,
}

impl ClosedTrade {
    pub fn hold_seconds(&self) -> i64 {
        self.closed_at.millis_since(self.opened_at) / 1000
    }
}

/// A trade still open at the end of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenTrade {
    pub id: String,
    pub whale: String,
    pub whale_label: String,
    pub market: String,
    pub market_title: String,
    pub outcome: String,
    pub opened_at: Timestamp,
    pub entry_price: Decimal,
    pub size: Decimal,
    pub notional: Decimal,
}

/// One move between trading states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    pub at: Timestamp,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// Everything a report is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ledger {
    /// `store <path>` or `replay <session>`.
    pub source: String,
    /// Account equity before the first trade (`risk.starting_balance_usd`).
    pub starting_equity: Decimal,
    /// The configured stop-loss as a fraction (`risk.stops.stop_loss_percent` / 100); `None` when
    /// there is no stop, and a trade's initial risk is then its whole notional.
    pub stop_loss_fraction: Option<Decimal>,
    pub day_start_utc_minutes: u32,
    /// Closed trades in closing order.
    pub closed: Vec<ClosedTrade>,
    pub open: Vec<OpenTrade>,
    /// Refused whale trades by reason code.
    pub rejections: BTreeMap<String, u64>,
    pub state_changes: Vec<StateChange>,
}

/// What a ledger needs from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSettings {
    pub starting_equity: Decimal,
    pub stop_loss_percent: Decimal,
    pub day_start_utc_minutes: u32,
}

impl LedgerSettings {
    pub fn from_config(config: &crate::config::Config) -> Self {
        LedgerSettings {
            starting_equity: config.risk.starting_balance_usd,
            stop_loss_percent: config.risk.stops.stop_loss_percent,
            day_start_utc_minutes: config.risk.day_start_utc_minutes,
        }
    }

    fn empty_ledger(&self, source: String) -> Ledger {
        Ledger {
            source,
            starting_equity: self.starting_equity,
            stop_loss_fraction: crate::risk::r_multiple::stop_loss_fraction(self.stop_loss_percent),
            day_start_utc_minutes: self.day_start_utc_minutes,
            closed: Vec::new(),
            open: Vec::new(),
            rejections: BTreeMap::new(),
            state_changes: Vec::new(),
        }
    }
}

/// The whale's price out of a seen-trade key `tx:asset:side:size:price:ts_ms`.
fn whale_price_of_key(key: &str) -> Option<Decimal> {
    let parts: Vec<&str> = key.rsplitn(3, ':').collect();
    // rsplitn from the right: [ts_ms, price, rest].
    let price = Decimal::from_str(parts.get(1)?).ok()?;
    (price > Decimal::ZERO).then_some(price)
}

/// The copy's slippage against the whale's fill, USD over `size` shares (positive: we paid more).
fn copy_slippage(side: Side, entry: Decimal, whale: Decimal, size: Decimal) -> Decimal {
    let direction = if side == Side::Buy { Decimal::ONE } else { Decimal::NEGATIVE_ONE };
    direction * (entry - whale) * size
}

impl Ledger {
    /// The trades opened in `[since, until)` from the store's records, with the rows the report
    /// reads beside them. A label or title the names lack is left empty (the id stays beside it).
    pub fn from_store(
        source: String,
        settings: &LedgerSettings,
        records: &[TradeRecord],
        rows: &ReportRows,
        names: &Names,
        since: Timestamp,
        until: Timestamp,
    ) -> Ledger {
        let mut ledger = settings.empty_ledger(source);
        let label = |w: &str| names.whale_labels.get(&w.to_ascii_lowercase()).cloned().unwrap_or_default();
        let title = |m: &str| names.market_titles.get(&m.to_ascii_lowercase()).cloned().unwrap_or_default();
        for r in records {
            let p = &r.position;
            if p.opened_at < since || p.opened_at >= until {
                continue;
            }
            let notional = p.size * p.entry_price;
            match (p.status, p.closed_at, p.realised_pnl) {
                (PositionStatus::Closed, Some(closed_at), Some(pnl)) => {
                    let slippage = rows
                        .entry_whale_keys
                        .get(&p.position_id)
                        .and_then(|k| whale_price_of_key(k))
                        .map(|w| copy_slippage(p.side, p.entry_price, w, p.size));
                    ledger.closed.push(ClosedTrade {
                        id: p.position_id.clone(),
                        whale: p.whale_wallet.clone(),
                        whale_label: label(&p.whale_wallet),
                        market: p.market_id.clone(),
                        market_title: title(&p.market_id),
                        outcome: p.outcome.clone(),
                        opened_at: p.opened_at,
                        closed_at,
                        entry_price: p.entry_price,
                        exit_price: p.exit_price.unwrap_or_default(),
                        size: p.size,
                        notional,
                        pnl,
                        slippage,
                        whale_pnl: slippage.map(|s| pnl + r.fees + s),
                        exit_reason: p.exit_reason.clone().unwrap_or_default(),
                    });
                }
                _ => ledger.open.push(OpenTrade {
                    id: p.position_id.clone(),
                    whale: p.whale_wallet.clone(),
                    whale_label: label(&p.whale_wallet),
                    market: p.market_id.clone(),
                    market_title: title(&p.market_id),
                    outcome: p.outcome.clone(),
                    opened_at: p.opened_at,
                    entry_price: p.entry_price,
                    size: p.size,
                    notional,
                }),
            }
        }
        ledger.rejections = rows.rejections.iter().cloned().collect();
        ledger.state_changes = rows
            .state_changes
            .iter()
            .map(|c| StateChange {
                at: c.changed_at,
                from: c.from_state.clone(),
                to: c.to_state.clone(),
                reason: c.reason.clone(),
            })
            .collect();
        ledger.sort();
        ledger
    }

    /// The trades of a replay, from its audit records: `trade_opened` gives the entry, the
    /// matching `trade_closed` the exit.
    pub fn from_audit(
        source: String,
        settings: &LedgerSettings,
        records: &[AuditRecord],
    ) -> Result<Ledger, ReportError> {
        let mut ledger = settings.empty_ledger(source);
        let mut opened = HashMap::new();
        let mut open_order = Vec::new();
        for record in records {
            match record {
                AuditRecord::TradeOpened(o) => {
                    let at = parse_time("trade_opened.timestamp", &o.timestamp)?;
                    if !opened.contains_key(&o.trade_id) {
                        open_order.push(o.trade_id.clone());
                    }
                    opened.insert(o.trade_id.clone(), (o, at));
                }
                AuditRecord::TradeClosed(c) => {
                    let closed_at = parse_time("trade_closed.timestamp", &c.timestamp)?;
                    let Some((o, opened_at)) = opened.remove(&c.trade_id) else {
                        return Err(ReportError::UnmatchedClose { trade_id: c.trade_id.clone() });
                    };
                    ledger.closed.push(ClosedTrade {
                        id: c.trade_id.clone(),
                        whale: c.whale_address.clone(),
                        whale_label: c.whale_label.clone(),
                        market: c.market_id.clone(),
                        market_title: c.market_title.clone(),
                        outcome: c.outcome.clone(),
                        opened_at,
                        closed_at,
                        entry_price: o.price,
                        exit_price: c.exit_price,
                        size: o.size,
                        notional: o.notional_usd,
                        pnl: c.pnl_usd,
                        slippage: c.slippage_usd,
                        whale_pnl: c.whale_pnl_usd,
                        exit_reason: c.reason.clone(),
                    });
                }
                AuditRecord::TradeRejected(r) => *ledger.rejections.entry(r.reason.clone()).or_default() += 1,
                AuditRecord::TradingStateChanged(s) => ledger.state_changes.push(StateChange {
                    at: parse_time("trading_state_changed.timestamp", &s.timestamp)?,
                    from: s.from.clone(),
                    to: s.to.clone(),
                    reason: s.reason.clone(),
                }),
                _ => {}
            }
        }
        for id in open_order {
            if let Some((o, at)) = opened.remove(&id) {
                ledger.open.push(OpenTrade {
                    id: o.trade_id.clone(),
                    whale: o.whale_address.clone(),
                    whale_label: o.whale_label.clone(),
                    market: o.market_id.clone(),
                    market_title: o.market_title.clone(),
                    outcome: o.outcome.clone(),
                    opened_at: at,
                    entry_price: o.price,
                    size: o.size,
                    notional: o.notional_usd,
                });
            }
        }
        ledger.sort();
        Ok(ledger)
    }

    fn sort(&mut self) {
        self.closed.sort_by(|a, b| (a.closed_at, &a.id).cmp(&(b.closed_at, &b.id)));
        self.open.sort_by(|a, b| (a.opened_at, &a.id).cmp(&(b.opened_at, &b.id)));
        self.state_changes.sort_by_key(|c| c.at);
    }
}

fn parse_time(field: &'static str, value: &str) -> Result<Timestamp, ReportError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| Timestamp(t.timestamp_millis()))
        .map_err(|_| ReportError::BadTime { field, value: value.chars().take(40).collect() })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn the_whale_price_is_read_from_the_seen_trade_key() {
        assert_eq!(whale_price_of_key("0xabc:123:buy:10:0.45:1700000000000"), Some(dec!(0.45)));
        assert_eq!(whale_price_of_key("garbage"), None);
        assert_eq!(whale_price_of_key("a:b:c:d:0:1"), None);
    }

    #[test]
    fn slippage_is_what_we_paid_above_the_whale_on_a_buy_and_below_on_a_sell() {
        assert_eq!(copy_slippage(Side::Buy, dec!(0.52), dec!(0.50), dec!(100)), dec!(2));
        assert_eq!(copy_slippage(Side::Sell, dec!(0.48), dec!(0.50), dec!(100)), dec!(2));
    }
}
