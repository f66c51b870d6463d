//! The engine's checkpoint: everything it needs to resume exactly where it stopped, apart from the
//! risk manager's own state (exported separately, [`crate::risk::RiskState`]) and what the store
//! keeps in its own tables (seen whale trades).
//!
//! What is *not* here, on purpose: order books. They change many times a second; a restarted
//! engine gets them again from its feed (the price feed polls every watched token at start; a
//! replayed session re-reads the books up to the checkpoint's cursor as warm-up, without running
//! stops on them). Everything else the engine decides with is here, so that restoring a checkpoint
//! and feeding the same inputs gives the same decisions as never having stopped.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{Interner, MarketId, TokenId, WhaleId};

use super::io::EngineStatus;
use super::market_data::VenueRules;
use super::portfolio::{PendingOrder, Trade};

/// Bumped whenever the layout changes incompatibly; an older binary refuses a newer checkpoint.
pub const CHECKPOINT_VERSION: u32 = 1;

/// The engine's state, as the store keeps it (JSON in `engine_checkpoint.state_json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineCheckpoint {
    pub version: u32,
    /// The next client order id to hand out: ids are never reused, across restarts too.
    pub next_order_id: u64,
    /// Wallet, market and token names behind the interned ids used here and in the risk state.
    pub interner: Interner,
    /// Trades not yet closed, by position id.
    pub trades: Vec<Trade>,
    /// Orders written ahead and not finished: reconciled with the executor on restart.
    pub pending: Vec<PendingOrder>,
    /// Shares each whale holds per token, as far as we saw (for proportional exits).
    pub whale_holdings: Vec<(WhaleId, TokenId, Decimal)>,
    pub venue_rules: Vec<(MarketId, VenueRules)>,
    pub outcome_labels: Vec<(TokenId, String)>,
    /// When the last price of any token arrived (the whole-feed staleness check).
    pub last_price_at: Option<Timestamp>,
    pub status: EngineStatus,
    /// Markets that stopped trading before their resolution is known (absent in older checkpoints:
    /// none).
    #[serde(default)]
    pub closed_markets: Vec<MarketId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_checkpoint_round_trips_through_json() {
        let checkpoint = EngineCheckpoint {
            version: CHECKPOINT_VERSION,
            next_order_id: 7,
            interner: Interner::new(),
            trades: vec![],
            pending: vec![],
            whale_holdings: vec![(WhaleId(1), TokenId(2), Decimal::new(15, 1))],
            venue_rules: vec![(MarketId(0), VenueRules::default())],
            outcome_labels: vec![(TokenId(2), "Yes".into())],
            last_price_at: Some(Timestamp(5)),
            status: EngineStatus::default(),
            closed_markets: vec![MarketId(0)],
        };
        let json = serde_json::to_string(&checkpoint).unwrap_or_default();
        let back: EngineCheckpoint = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(back, checkpoint);
    }

    #[test]
    fn a_checkpoint_without_closed_markets_still_reads() {
        let checkpoint = EngineCheckpoint {
            version: CHECKPOINT_VERSION,
            next_order_id: 1,
            interner: Interner::new(),
            trades: vec![],
            pending: vec![],
            whale_holdings: vec![],
            venue_rules: vec![],
            outcome_labels: vec![],
            last_price_at: None,
            status: EngineStatus::default(),
            closed_markets: vec![],
        };
        let mut json: serde_json::Value = serde_json::to_value(&checkpoint).unwrap_or_default();
        json.as_object_mut().map(|o| o.remove("closed_markets"));
        assert!(!json.to_string().contains("closed_markets"));
        let back: EngineCheckpoint = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, checkpoint);
    }
}
