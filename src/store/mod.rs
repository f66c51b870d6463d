//! The crash-safe store: embedded SQLite, write-ahead orders, restart recovery.
//!
//! ## How the daemon uses it
//! ```text
//!  start:   SqliteStore::open_for(&config.store, mode, source)  checks, migrates, refuses a damaged file
//!                                                              or one of another mode or feed source
//!           store.load_recovery()                              positions, risk state, watermarks, seen
//!                                                              trades, orders to reconcile
//!           spawn_writer(store, (&config.store).into(), cancel)  -> (StoreHandle, StoreWriter)
//!  run:     handle.write_durable(InsertOrder(..)).await        durable BEFORE the executor sees it
//!           handle.write_durable(RecordFill(..) / Atomic[..])  durable BEFORE the position changes
//!           handle.send(SaveRiskState(..) / SetPositionHighWater{..})   coalesced, fire-and-forget
//!           handle.send(Prune(config.store.retention_cutoffs(now)))     periodically
//!  stop:    cancel.cancel(); writer.join().await              drains the queue, checkpoints, closes
//!  status:  SqliteStore::open_read_only(path, timeout)?.status()   works with the daemon stopped
//! ```
//!
//! ## Pieces
//! | file | job |
//! | --- | --- |
//! | `config.rs` | `[store]`: path per mode and feed source, batching, queue, retention, busy timeout |
//! | `records.rs` | the rows: positions, orders, fills, risk state, state changes, seen trades, audit, alerts |
//! | `command.rs` | the writes as data ([`StoreCommand`]) and which of them coalesce |
//! | `backend.rs` | the [`Store`] trait (SQLite now, PostgreSQL later), recovery and status shapes |
//! | `sqlite/` | the SQLite backend: safe open, migrations, batched writes, reads |
//! | `writer.rs` | the one writer thread with group commit ([`spawn_writer`], [`StoreHandle`]) |

mod backend;
mod command;
mod config;
mod error;
mod records;
mod sqlite;
mod writer;

pub use backend::{RecoveredOrder, RecoveredState, RecoverySummary, StatusReport, Store};
pub use command::{RetentionCutoffs, StoreCommand};
pub use config::StoreConfig;
pub use error::StoreError;
pub use records::{
    AlertRecord, DecisionRecord, EngineCheckpointRecord, FillRecord, OrderKind, OrderRecord, OrderStatus,
    PositionRecord, PositionStatus, RedemptionRecord, RedemptionStatus, RedemptionUpdate, RiskStateRecord,
    SeenWhaleTrade, SentTransaction, TradeRecord, TradingStateChange, WhaleWatermark,
};
pub use sqlite::{MIGRATIONS, Migration, ReportRows, SqliteStore, latest_version};
pub use writer::{DurableReceipt, StoreHandle, StoreWriter, WriterSettings, WriterStatsSnapshot, spawn_writer};
