//! Everything that can go wrong in the store, as one typed error.
//!
//! The error is `Clone` because one failed commit is reported to every caller waiting on that batch;
//! SQLite's own errors are therefore kept as their message text.

use std::path::PathBuf;

/// A store failure: which file or record, what was wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path} is not a usable whale-trader database: {problem}. Refusing to start on it: restore a backup, \
         or move the file away to start with an empty store"
    )]
    Corrupt { path: PathBuf, problem: String },

    #[error("the database {path} does not exist")]
    Missing { path: PathBuf },

    #[error("cannot open the database {path}: {message}")]
    Open { path: PathBuf, message: String },

    #[error("I/O error on {path} while {action}: {message}")]
    Io { path: PathBuf, action: &'static str, message: String },

    #[error(
        "the database {path} has schema version {found}, newer than version {supported} known to this binary; \
         run a newer whale-trader"
    )]
    SchemaTooNew { path: PathBuf, found: i64, supported: i64 },

    #[error("schema migration {version} ({name}) failed: {message}")]
    Migration { version: i64, name: &'static str, message: String },

    #[error("the database {path} holds {found} state; it cannot be opened in {expected} mode")]
    ModeMismatch { path: PathBuf, found: String, expected: String },

    #[error(
        "the database {path} holds the state of feed.source = \"{found}\"; it cannot be opened with feed.source = \"{expected}\" \
         (each feed has its own file unless [store] separate_per_mode = false)"
    )]
    SourceMismatch { path: PathBuf, found: String, expected: String },

    #[error("an order with client order id {client_order_id:?} already exists")]
    DuplicateClientOrderId { client_order_id: String },

    #[error("fill {fill_id:?} is already recorded")]
    DuplicateFill { fill_id: String },

    #[error("whale trade {dedupe_key:?} is already marked seen")]
    DuplicateWhaleTrade { dedupe_key: String },

    #[error("alert {alert_id:?} is already in the outbox")]
    DuplicateAlert { alert_id: String },

    #[error("a redemption with id {redemption_id:?} already exists")]
    DuplicateRedemption { redemption_id: String },

    #[error("no redemption with id {redemption_id:?}")]
    UnknownRedemption { redemption_id: String },

    #[error("no order with client order id {client_order_id:?}")]
    UnknownOrder { client_order_id: String },

    #[error("no position with id {position_id:?}")]
    UnknownPosition { position_id: String },

    #[error("no alert {alert_id:?} in the outbox")]
    UnknownAlert { alert_id: String },

    #[error("invalid {field} = {value:?}: {rule}")]
    InvalidRecord { field: &'static str, value: String, rule: &'static str },

    #[error("stored value {table}.{column} = {value:?} cannot be read: {rule}")]
    BadStoredValue { table: &'static str, column: &'static str, value: String, rule: &'static str },

    #[error("SQLite failed while {context}: {message}")]
    Sqlite { context: &'static str, message: String },

    #[error("this store was opened read-only (for status queries); it cannot write")]
    ReadOnly,

    #[error("the store writer has stopped; the command was not written")]
    WriterStopped,

    #[error("could not start the store writer: {message}")]
    WriterStart { message: String },
}

impl StoreError {
    /// Wraps a SQLite error with what the store was doing at the time.
    pub(crate) fn sqlite(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        move |e| StoreError::Sqlite { context, message: e.to_string() }
    }

    pub(crate) fn invalid(field: &'static str, value: impl Into<String>, rule: &'static str) -> StoreError {
        StoreError::InvalidRecord { field, value: value.into(), rule }
    }
}

/// True when `error` is SQLite refusing a row because of a PRIMARY KEY or UNIQUE constraint.
pub(crate) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error().map(|e| e.extended_code),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
    )
}

/// True when `error` is SQLite refusing a row because of a FOREIGN KEY constraint.
pub(crate) fn is_foreign_key_violation(error: &rusqlite::Error) -> bool {
    error.sqlite_error().map(|e| e.extended_code) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}
