//! Recorded sessions: a source that drives the engine from a file instead of the venue.
//!
//! Format: one event per line, in time order, each `{"ts": <ms since epoch>, "type": …, …}`:
//!
//! | `type` | payload | shape |
//! | --- | --- | --- |
//! | `whale_trade` | `trade` | a Data API v1 `/trades` row (camelCase, numbers, `timestamp` in seconds) |
//! | `book` | `book` | a CLOB `GET /book` object (decimal strings, best level last) |
//! | `market` | `market`, optional `end_date` | a CLOB `/clob-markets/{condition_id}` object (tick, min size, fee curve); the market's end as RFC 3339 |
//! | `resolution` | `condition_id`, `winning_token_id` | the market resolved |
//!
//! The payloads are the venue's own answers, read by the Polymarket adapter's parsers, so a
//! recording replays through exactly the conversions the live feeds use. A malformed line is
//! skipped and the session goes on: the first of each cause is logged with its line number, later
//! ones are counted. A book the live feeds would refuse (crossed, out of order, …: see
//! [`crate::market::BookCause`]) is refused here too, counted per cause and logged at most once per
//! cause a minute of session time.
//!
//! | module | job |
//! | --- | --- |
//! | `file` | bounded line reading, malformed lines tallied rather than logged one by one |
//! | `event` | one line parsed into its time and [`crate::engine::Input`] |
//! | `replay` | [`replay_session`]: the plain loop, as fast as the CPU allows (`whale-trader replay`, tests, benchmarks) |
//! | `compare` | the decision diff of two replays' audit trails (`whale-trader replay --compare`) |
//!
//! The daemon's paced replay (`[feed] source = "replay"`) is the async half:
//! [`crate::runtime::run_replay_feed`].

pub mod compare;
mod event;
mod file;
mod replay;

pub use event::{LATEST_SESSION_TS_MS, ReplayEvent, malformed_cause, parse_line, parse_session_line};
pub use file::{LineError, MALFORMED_SUMMARY_EVERY, MAX_LINE_BYTES, MalformedLines, SessionLine, SessionLines};
pub use replay::replay_session;

use crate::engine::EngineError;
use crate::market::BookError;

/// Why a session line, or a whole session, could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A field of a line breaks its rule.
    #[error("{field} = {value}: must be {rule}")]
    BadField { field: &'static str, value: String, rule: &'static str },
    /// A recorded book that cannot be used: skipped, counted.
    #[error("order book refused: {0}")]
    BookRefused(BookError),
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    /// The engine the session drives could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
}
