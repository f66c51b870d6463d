//! What a channel's throttle held back, folded into one message sent when its window has room
//! again: "7 opened, 4 closed, P&L -$212.40, 2 rejected: max_positions_per_whale ×2", then each
//! held-back close on its own line (market, whale, P&L, reason), so that no close is lost.
//!
//! Pure: the throttle folds notifications in and takes the digest out at a time it is given.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::alert::{Alert, AlertKind, Priority, usd};
use super::notification::Notification;
use crate::clock::Timestamp;

/// Held-back closes one digest lists; a digest this full goes out at once (it never drops one).
pub const MAX_DIGEST_CLOSES: usize = 200;
/// Distinct rejection reasons and other titles counted by name; the rest are counted together.
const MAX_NAMED: usize = 32;

/// One trade close the throttle held back.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldClose {
    pub market: String,
    pub whale: String,
    pub pnl_usd: Decimal,
    pub reason: String,
    pub at: Timestamp,
}

/// The notifications one channel's throttle held back since its last digest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Digest {
    opened: u64,
    closes: Vec<HeldClose>,
    rejected: BTreeMap<String, u64>,
    other: BTreeMap<String, u64>,
    /// Occurrences counted together once `MAX_NAMED` names are in use.
    unnamed: u64,
    priority: Priority,
    since: Option<Timestamp>,
}

impl Digest {
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
    }

    /// Full: it must go out now rather than hold more closes than one message should.
    pub fn is_full(&self) -> bool {
        self.closes.len() >= MAX_DIGEST_CLOSES
    }

    /// Counts a held-back notification (with every occurrence it stands for) into the digest.
    pub fn fold(&mut self, notification: &Notification) {
        let alert = &notification.alert;
        let count = notification.notice.count().max(1);
        self.since.get_or_insert(alert.at);
        self.priority = self.priority.max(alert.priority);
        match alert.labels.kind {
            AlertKind::TradeOpened => self.opened += count,
            AlertKind::TradeClosed => self.closes.push(HeldClose {
                market: alert.labels.market.clone().unwrap_or_default(),
                whale: alert.labels.whale.clone().unwrap_or_default(),
                pnl_usd: alert.labels.pnl_usd.unwrap_or_default(),
                reason: alert.labels.reason.clone().unwrap_or_default(),
                at: alert.at,
            }),
            AlertKind::TradeRejected => {
                let reason = alert.labels.reason.clone().unwrap_or_else(|| "unknown".to_owned());
                add_named(&mut self.rejected, &mut self.unnamed, reason, count);
            }
            _ => add_named(&mut self.other, &mut self.unnamed, alert.title.clone(), count),
        }
    }

    /// The digest as one alert at `now`, leaving this one empty; `None` when nothing was held.
    pub fn take(&mut self, now: Timestamp) -> Option<Alert> {
        let digest = std::mem::take(self);
        let since = digest.since?;
        Some(digest.into_alert(since, now))
    }

    fn into_alert(self, since: Timestamp, now: Timestamp) -> Alert {
        let pnl: Decimal = self.closes.iter().map(|c| c.pnl_usd).sum();
        let rejected: u64 = self.rejected.values().sum();
        let mut summary = vec![format!("{} opened", self.opened), format!("{} closed", self.closes.len())];
        if !self.closes.is_empty() {
            summary.push(format!("P&L {}", usd(pnl)));
        }
        let mut rejections = format!("{rejected} rejected");
        if !self.rejected.is_empty() {
            let by_reason: Vec<String> = self.rejected.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
            rejections.push_str(&format!(": {}", by_reason.join(", ")));
        }
        summary.push(rejections);
        let mut lines = vec![summary.join(", ")];
        for close in &self.closes {
            lines.push(format!(
                "Closed {} (whale {}): P&L {}, {} at {}",
                or_unknown(&close.market),
                or_unknown(&close.whale),
                usd(close.pnl_usd),
                or_unknown(&close.reason),
                close.at.to_rfc3339()
            ));
        }
        let others: u64 = self.other.values().sum::<u64>() + self.unnamed;
        if others > 0 {
            let mut named: Vec<String> = self.other.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
            if self.unnamed > 0 {
                named.push(format!("others ×{}", self.unnamed));
            }
            lines.push(format!("{others} other alert(s): {}", named.join(", ")));
        }
        Alert::new(self.priority, "Alerts Held Back by the Throttle", lines.join("\n"), now)
            .with_kind(AlertKind::ThrottleDigest)
            .with_context("Opened", self.opened.to_string())
            .with_context("Closed", self.closes.len().to_string())
            .with_context("Closed P&L", usd(pnl))
            .with_context("Rejected", rejected.to_string())
            .with_context("Held since", since.to_rfc3339())
    }
}

fn add_named(map: &mut BTreeMap<String, u64>, unnamed: &mut u64, name: String, count: u64) {
    if map.len() < MAX_NAMED || map.contains_key(&name) {
        *map.entry(name).or_default() += count;
    } else {
        *unnamed += count;
    }
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() { "unknown" } else { text }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::alerts::notification::Notice;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn single(alert: Alert) -> Notification {
        Notification::single(alert)
    }

    #[test]
    fn opens_closes_and_rejections_fold_into_the_seed_summary_with_every_close_listed() {
        let mut digest = Digest::default();
        for i in 0..7 {
            digest.fold(&single(Alert::trade_opened("0xw", "m", "BUY", dec!(10), dec!(0.5), at(i))));
        }
        for (i, pnl) in [dec!(-133), dec!(-50.40), dec!(-40), dec!(11)].into_iter().enumerate() {
            digest.fold(&single(Alert::trade_closed("0xw", &format!("market-{i}"), pnl, "stop_loss", at(10))));
        }
        let rejection = Alert::trade_rejected("0xw", "m", "max_positions_per_whale", at(11));
        digest.fold(&Notification { alert: rejection.into(), notice: Notice::Grouped { count: 2 } });
        let alert = digest.take(at(100)).expect("a digest");
        let first = alert.message.lines().next().unwrap_or_default();
        assert_eq!(first, "7 opened, 4 closed, P&L -$212.40, 2 rejected: max_positions_per_whale ×2");
        assert_eq!(alert.message.lines().filter(|l| l.starts_with("Closed ")).count(), 4);
        assert!(alert.message.contains("Closed market-0 (whale 0xw): P&L -$133.00, stop_loss at"), "{}", alert.message);
        assert_eq!(alert.labels.kind, AlertKind::ThrottleDigest);
        assert_eq!(alert.priority, Priority::Warning, "the highest priority folded in");
        assert_eq!(alert.at, at(100));
        assert!(digest.is_empty() && digest.take(at(101)).is_none(), "taking it empties it");
    }

    #[test]
    fn other_alerts_are_counted_by_title_and_names_are_bounded() {
        let mut digest = Digest::default();
        for i in 0..(MAX_NAMED as i64 + 3) {
            digest.fold(&single(Alert::new(Priority::Info, format!("t{i:02}"), "x", at(i))));
        }
        let alert = digest.take(at(1)).expect("a digest");
        assert!(alert.message.contains(&format!("{} other alert(s)", MAX_NAMED + 3)), "{}", alert.message);
        assert!(alert.message.contains("others ×3"), "{}", alert.message);
    }

    #[test]
    fn a_digest_is_full_at_its_close_bound() {
        let mut digest = Digest::default();
        for i in 0..MAX_DIGEST_CLOSES {
            assert!(!digest.is_full());
            digest.fold(&single(Alert::trade_closed("w", "m", dec!(1), "take_profit", at(i as i64))));
        }
        assert!(digest.is_full());
    }
}
