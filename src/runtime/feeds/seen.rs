//! What the store remembers of the whale feed, and how the feed resumes from it. Pure.
//!
//! Two kinds of rows, both in `seen_whale_trades` (with their `decision_audit` row, in one command):
//! - every trade the engine decided on (`EngineEvent::WhaleTradeDecided`, written by the engine
//!   task's journal with the step's checkpoint): approved, rejected or skipped, with its reason code;
//! - every trade the feed held back because it predates start-up (`skipped`, `before_start`).
//!
//! and one watermark per wallet in `whale_watermarks`. On start, each followed wallet with saved
//! state resumes as a restored cursor: its seen trades are duplicates, anything else read is new.
//! The watermark it resumes from is the older of the saved watermark and its newest seen trade: the
//! watermark is written by the feed and the seen marks by the engine's journal, so a crash between
//! the two must make the feed read too much (and dedupe it), never too little.

use std::collections::HashMap;

use crate::clock::Timestamp;
use crate::domain::WhaleVerdict;
use crate::market::{TradeKey, WhaleTrade};
use crate::polymarket::{CursorState, FeedStart};
use crate::store::{DecisionRecord, RecoveredState, SeenWhaleTrade, StoreCommand};

/// The reason code of a trade the feed did not hand to the engine because it predates start-up.
pub const BEFORE_START: &str = "before_start";

/// The command that remembers a trade held back because it predates start-up.
pub fn held_back_command(trade: &WhaleTrade, at: Timestamp) -> StoreCommand {
    let key = trade.key().to_string();
    let wallet = trade.wallet.to_ascii_lowercase();
    StoreCommand::RecordWhaleDecision {
        trade: SeenWhaleTrade {
            dedupe_key: key.clone(),
            wallet: wallet.clone(),
            traded_at: trade.timestamp,
            decision: WhaleVerdict::Skipped,
        },
        decision: DecisionRecord {
            whale_trade_key: key,
            wallet,
            market_id: trade.condition_id.clone(),
            token_id: trade.asset.clone(),
            decision: WhaleVerdict::Skipped,
            reason_code: BEFORE_START.to_owned(),
            detail: Some("traded before the daemon started (copy.copy_trades_before_start = false)".to_owned()),
            decided_at: at,
        },
    }
}

/// How the whale feed starts: `wallets` (lowercase) resume from what `recovered` holds for them;
/// wallets without saved state start fresh, holding back trades older than start-up unless
/// `copy_trades_before_start`. Stored keys that do not parse are ignored and counted.
pub fn feed_start(recovered: &RecoveredState, wallets: &[String], copy_trades_before_start: bool) -> RestoredFeed {
    let followed = |wallet: &str| wallets.iter().any(|w| w.eq_ignore_ascii_case(wallet));
    let mut seen: HashMap<String, Vec<TradeKey>> = HashMap::new();
    let mut unreadable_keys = 0usize;
    for mark in recovered.seen_trades.iter().filter(|m| followed(&m.wallet)) {
        match mark.dedupe_key.parse::<TradeKey>() {
            Ok(key) => seen.entry(mark.wallet.to_ascii_lowercase()).or_default().push(key),
            Err(e) => {
                unreadable_keys += 1;
                tracing::debug!(error = %e, "a stored seen-trade key is not a feed key; ignored");
            }
        }
    }
    let watermarks: HashMap<String, Timestamp> = recovered
        .watermarks
        .iter()
        .filter(|w| followed(&w.wallet))
        .map(|w| (w.wallet.to_ascii_lowercase(), w.watermark))
        .collect();

    let mut restored = HashMap::new();
    for wallet in wallets {
        let wallet = wallet.to_ascii_lowercase();
        let keys = seen.remove(&wallet).unwrap_or_default();
        let newest_seen = keys.iter().map(|k| k.timestamp).max();
        let watermark = match (watermarks.get(&wallet).copied(), newest_seen) {
            (Some(saved), Some(newest)) => saved.min(newest),
            (Some(saved), None) => saved,
            (None, Some(newest)) => newest,
            (None, None) => continue,
        };
        restored.insert(wallet, CursorState { watermark, seen: keys });
    }
    RestoredFeed { start: FeedStart { restored, emit_trades_before_start: copy_trades_before_start }, unreadable_keys }
}

/// The feed's start, and how many stored keys could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredFeed {
    pub start: FeedStart,
    pub unreadable_keys: usize,
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::store::WhaleWatermark;

    const A: &str = "0x1111111111111111111111111111111111111111";
    const B: &str = "0x2222222222222222222222222222222222222222";

    fn trade(wallet: &str, tx: &str, secs: i64) -> WhaleTrade {
        WhaleTrade { wallet: wallet.into(), ..WhaleTrade::sample(tx, Timestamp::from_secs(secs)) }
    }

    fn decided(t: &WhaleTrade) -> SeenWhaleTrade {
        SeenWhaleTrade {
            dedupe_key: t.key().to_string(),
            wallet: t.wallet.clone(),
            traded_at: t.timestamp,
            decision: WhaleVerdict::Approved,
        }
    }

    fn mark(command: StoreCommand) -> SeenWhaleTrade {
        match command {
            StoreCommand::RecordWhaleDecision { trade, decision } => {
                assert_eq!(trade.dedupe_key, decision.whale_trade_key, "the store refuses mismatched keys");
                trade
            }
            other => panic!("not a whale decision: {other:?}"),
        }
    }

    #[test]
    fn a_held_back_trade_is_marked_seen_with_its_reason() {
        let t = trade(A, "0xaa", 1_000);
        let held = mark(held_back_command(&t, Timestamp::from_secs(2_000)));
        assert_eq!((held.decision, held.traded_at), (WhaleVerdict::Skipped, t.timestamp));
        assert_eq!(held.dedupe_key, t.key().to_string());
    }

    #[test]
    fn a_restart_resumes_each_wallet_from_the_older_of_watermark_and_newest_seen_trade() {
        let (a1, a2, b1) = (trade(A, "0x01", 1_000), trade(A, "0x02", 1_100), trade(B, "0x03", 900));
        let recovered = RecoveredState {
            seen_trades: [&a1, &a2, &b1]
                .into_iter()
                .map(decided)
                .chain([SeenWhaleTrade {
                    dedupe_key: "trade#00ff".into(),
                    wallet: A.into(),
                    traded_at: Timestamp(1),
                    decision: WhaleVerdict::Rejected,
                }])
                .collect(),
            watermarks: vec![
                // A's watermark ran ahead of its seen marks (a crash between the two): resume at 1 100.
                WhaleWatermark { wallet: A.into(), watermark: Timestamp::from_secs(1_200) },
                // B read past its last trade through empty polls: resume at that trade (re-reading
                // a little more is harmless, the seen marks dedupe it).
                WhaleWatermark { wallet: B.into(), watermark: Timestamp::from_secs(950) },
                WhaleWatermark { wallet: "0x9999999999999999999999999999999999999999".into(), watermark: Timestamp(7) },
            ],
            ..RecoveredState::default()
        };
        let c = "0x3333333333333333333333333333333333333333";
        let restored = feed_start(&recovered, &[A.to_uppercase().replace("0X", "0x"), B.into(), c.into()], false);
        assert_eq!(restored.unreadable_keys, 1);
        let cursors = &restored.start.restored;
        assert_eq!(cursors[A].watermark, Timestamp::from_secs(1_100));
        assert_eq!(cursors[A].seen, vec![a1.key(), a2.key()]);
        assert_eq!(cursors[B].watermark, Timestamp::from_secs(900));
        assert!(!cursors.contains_key(c), "a wallet without saved state starts fresh");
        assert_eq!(cursors.len(), 2, "wallets no longer followed are not restored");
        assert!(!restored.start.emit_trades_before_start);
    }
}
