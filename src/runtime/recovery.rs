//! Start-up recovery: the engine as the store last saw it.
//!
//! The store holds a prefix of the engine's history (see [`crate::engine::journal`]): the rows of
//! every step up to some point and the checkpoint of exactly that point. This module turns that
//! back into an [`Engine`]: the checkpoint and risk state restored, the seen whale trades loaded
//! so that none is decided twice, and the cursor from which a replayed session resumes. It refuses,
//! with the reason, a store whose rows and checkpoint do not belong together: starting empty on a
//! store that holds positions would trade blind.

use std::sync::Arc;

use crate::clock::Timestamp;
use crate::config::Config;
use crate::engine::checkpoint::EngineCheckpoint;
use crate::engine::{AuditSink, Engine, EngineSettings};
use crate::risk::RiskState;
use crate::store::RecoveredState;

/// Why the store's state cannot be resumed.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(
        "the store holds {positions} open position(s) and {orders} unfinished order(s) but no engine checkpoint \
         (written by an older whale-trader, or edited by hand); refusing to start without them"
    )]
    MissingCheckpoint { positions: usize, orders: usize },
    #[error("the store's {what} cannot be read: {reason}")]
    Unreadable { what: &'static str, reason: String },
    #[error("the store's checkpoint cannot be restored: {0}")]
    Restore(crate::engine::EngineError),
}

/// The engine to run and where its input resumes.
pub struct Resumed {
    pub engine: Engine,
    /// For a replayed session: the last message already applied (the feed resumes after it).
    pub cursor: Option<u64>,
    /// Whether the engine came from a checkpoint (false: a fresh start on an empty store).
    pub restored: bool,
}

/// Builds the engine from what the store recovered. `source` names the current input (a
/// checkpoint's cursor is only used for the source that wrote it); `start` is "now" for a fresh
/// engine.
pub fn resume_engine(
    config: Arc<Config>,
    audit: Box<dyn AuditSink>,
    recovered: &RecoveredState,
    source: &str,
    start: Timestamp,
) -> Result<Resumed, RecoveryError> {
    let Some(record) = &recovered.engine_checkpoint else {
        if !recovered.open_positions.is_empty() || !recovered.non_final_orders.is_empty() {
            return Err(RecoveryError::MissingCheckpoint {
                positions: recovered.open_positions.len(),
                orders: recovered.non_final_orders.len(),
            });
        }
        let mut engine =
            Engine::new(config, EngineSettings::default(), audit, start).map_err(RecoveryError::Restore)?;
        engine.load_names(recovered.market_names.iter().cloned());
        return Ok(Resumed { engine, cursor: None, restored: false });
    };
    let checkpoint: EngineCheckpoint = serde_json::from_str(&record.state_json)
        .map_err(|e| RecoveryError::Unreadable { what: "engine checkpoint", reason: e.to_string() })?;
    let risk_json = recovered
        .risk_state
        .as_ref()
        .map(|r| r.state_json.as_str())
        .ok_or_else(|| RecoveryError::Unreadable { what: "risk state", reason: "the row is missing".into() })?;
    let risk: RiskState = serde_json::from_str(risk_json)
        .map_err(|e| RecoveryError::Unreadable { what: "risk state", reason: e.to_string() })?;
    let seen = recovered.seen_trades.iter().map(|t| t.dedupe_key.as_str());
    let mut engine = Engine::restore(config, audit, checkpoint, risk, seen).map_err(RecoveryError::Restore)?;
    engine.load_names(recovered.market_names.iter().cloned());
    let cursor = if record.source == source {
        record.cursor
    } else {
        tracing::warn!(
            checkpoint_source = %record.source,
            source,
            "the checkpoint was written while reading another source: positions and risk state are restored, \
             the new source is read from its start (trades already decided on are still skipped)"
        );
        None
    };
    Ok(Resumed { engine, cursor, restored: true })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::domain::Side;
    use crate::engine::DiscardAuditSink;
    use crate::store::{PositionRecord, PositionStatus};

    fn config() -> Arc<Config> {
        Arc::new(Config::default())
    }

    #[test]
    fn an_empty_store_gives_a_fresh_engine() {
        let resumed =
            resume_engine(config(), Box::new(DiscardAuditSink), &RecoveredState::default(), "replay:x", Timestamp(0))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(!resumed.restored);
        assert_eq!(resumed.cursor, None);
    }

    #[test]
    fn positions_without_a_checkpoint_are_refused() {
        let recovered = RecoveredState {
            open_positions: vec![PositionRecord {
                position_id: "T000001".into(),
                whale_wallet: "0xw".into(),
                market_id: "m".into(),
                token_id: "t".into(),
                outcome: "Yes".into(),
                side: Side::Buy,
                size: dec!(10),
                entry_price: dec!(0.5),
                opened_at: Timestamp(1),
                status: PositionStatus::Open,
                high_water_price: None,
                exit_price: None,
                realised_pnl: None,
                closed_at: None,
                exit_reason: None,
            }],
            ..Default::default()
        };
        let err = resume_engine(config(), Box::new(DiscardAuditSink), &recovered, "replay:x", Timestamp(0))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("1 open position(s)") && err.contains("no engine checkpoint"), "{err}");
    }
}
