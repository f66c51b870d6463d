//! The orders an approved plan sends to a venue and what comes back: [`PlanOrder`] (written ahead
//! in the store before it is sent, so that a restart can ask the venue about it and never send it
//! twice) and [`PlanOrderReport`] (an order's *cumulative* state at the venue, so that reading it
//! twice never counts a fill twice).

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::Side;

/// Why an order of a plan is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PlanOrderKind {
    /// Opens the position: a limit at the plan's near entry.
    Entry,
    /// Closes some or all of it, at market.
    Exit { reason: ExitReason },
}

impl PlanOrderKind {
    pub fn is_entry(self) -> bool {
        matches!(self, PlanOrderKind::Entry)
    }
}

/// Why a plan's position is reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The price reached the plan's stop (or the stop moved to the entry after the first target).
    StopLoss,
    /// The price reached target `n` (1-based).
    Target(u8),
    /// An operator closed the plan.
    Manual,
    /// The kill switch flattens every position.
    Kill,
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::StopLoss => f.write_str("stop_loss"),
            ExitReason::Target(n) => write!(f, "target_{n}"),
            ExitReason::Manual => f.write_str("manual"),
            ExitReason::Kill => f.write_str("kill_switch"),
        }
    }
}

impl fmt::Display for PlanOrderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanOrderKind::Entry => f.write_str("entry"),
            PlanOrderKind::Exit { reason } => write!(f, "exit ({reason})"),
        }
    }
}

/// One order of a plan, as the engine decides it and the store keeps it ahead of sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOrder {
    /// At most 36 of `[A-Za-z0-9-]`, as both venues accept: `wt-<plan opened, base 36>-<seq>-e`
    /// for the entry, `…-x<n>` for the n-th exit.
    pub client_order_id: String,
    pub plan_id: String,
    /// The plan's symbol (`BTC/USDT`); the venue's adapter names it its own way.
    pub symbol: String,
    pub side: Side,
    pub kind: PlanOrderKind,
    /// The limit price; `None` is a market order.
    pub price: Option<Decimal>,
    /// Base units (the venue adapter rounds down to the symbol's step).
    pub units: Decimal,
    /// Only reduces the position (exits; futures venues enforce it).
    pub reduce_only: bool,
    /// The plan's stop and first target, for a venue that holds them with the entry.
    pub stop_loss: Option<Decimal>,
    pub take_profit: Option<Decimal>,
    pub leverage: Decimal,
    pub at: Timestamp,
}

/// Where a plan order is, as its venue says: cumulative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOrderReport {
    pub client_order_id: String,
    pub plan_id: String,
    /// The venue's id, once it has one.
    pub venue_order_id: Option<String>,
    /// Units filled so far (never less than an earlier report of the same order said).
    pub filled: Decimal,
    /// Average price of what filled (0 when nothing did).
    pub average_price: Decimal,
    /// Fees so far, in the quote currency.
    pub fee: Decimal,
    /// Nothing more will fill.
    pub done: bool,
    /// The venue refused it (or it was never sent): the cause in our words and the venue's text.
    pub refusal: Option<PlanOrderRefusal>,
    pub at: Timestamp,
}

/// Why a venue refused a plan order (or why it was not sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOrderRefusal {
    /// `insufficient_balance`, `filter_failure`, `timestamp_outside_recv_window`, … (the venue
    /// module's `RefusalReason`), or `not_sent`.
    pub reason: String,
    /// The venue's code and message as it gave them, or why the order was not sent.
    pub detail: String,
}

/// Best bid and ask of a plan's symbol, as the venue's book ticker gave them (already checked for
/// sanity and freshness by the feed that read them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanQuote {
    pub symbol: String,
    pub bid: Decimal,
    pub ask: Decimal,
    pub at: Timestamp,
}

/// The client order id of a plan's order: `wt-<opened_at in base 36>-<seq in base 36>-<suffix>`,
/// at most 36 characters of `[a-z0-9-]` (a restart or a new store never reuses one: the time of
/// the plan's approval is part of it).
pub fn plan_client_order_id(opened_at: Timestamp, seq: u64, suffix: &str) -> String {
    format!("wt-{}-{}-{suffix}", base36(opened_at.0.max(0).unsigned_abs()), base36(seq))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_ids_fit_both_venues() {
        let id = plan_client_order_id(Timestamp(1_767_261_600_000), 123_456, "x12");
        assert_eq!(id, "wt-mjv9xds0-2n9c-x12");
        let longest = plan_client_order_id(Timestamp(i64::MAX), u64::MAX, "x255");
        assert!(longest.len() <= 36, "{longest} is {} long", longest.len());
        assert!(longest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }
}
