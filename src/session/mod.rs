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
//! | `header` | `header` | optional, first line only: where the session came from (`source`, wallets, window, how its books were made, when); never an engine input |
//! | `market_closed` | `condition_id` | the market stopped taking orders before its resolution is known |
//! | `market_reopened` | `condition_id` | a market reported closed takes orders again |
//! | `names` | `names`: `[{condition_id, question, slug, end_date?, outcomes: [{token_id, outcome}], source, fetched_at}]` | market names as the engine keeps them (`source` `trade` or `gamma`, `fetched_at` in ms): labels in the audit, no decision depends on them |
//! | `tick` | (none) | the daemon's timer ticked (a recording's own ticks: see below) |
//! | `control` | `command` and its argument: `detail` (`halt`, `resume`, `kill`, `hold_reducing`, `release_hold`, `feed_stale`), `trade_id` (`close_position`, `drop`), `token_id` (`adopt`) or `wallet` (`unmute`) | a command the engine took: a person's, or the health monitor's hold and release |
//!
//! The payloads are the venue's own answers, read by the Polymarket adapter's parsers, so a
//! recording replays through exactly the conversions the live feeds use. A malformed line is
//! skipped and the session goes on: the first of each cause is logged with its line number, later
//! ones are counted. A book the live feeds would refuse (crossed, out of order, …: see
//! [`crate::market::BookCause`]) is refused here too, counted per cause and logged at most once per
//! cause a minute of session time.
//!
//! Timer ticks: a session without `tick` lines (hand-made, generated) is ticked every simulated
//! second from its first event, the way the daemon's replay feed ticks it. A session with `tick`
//! lines (what the daemon records with `[record]`: see [`crate::runtime::session_recorder`]) is
//! replayed with exactly its own ticks and no others, because the recording daemon's timer ticked
//! at its own times and the breaker's cooldown, the stale-feed check and the day's roll-over act
//! on ticks: a tick a moment earlier or later can let a trade in or keep it out.
//!
//! | module | job |
//! | --- | --- |
//! | `file` | bounded line reading, malformed lines tallied rather than logged one by one |
//! | `binary` | the compact format: the same lines, books in about a hundred bytes (`whale-trader convert`) |
//! | `read_ahead` | the file read on a thread of its own, a few blocks ahead of its decoding |
//! | `reader` | [`SessionReader`]: a session in either format (a JSON one through its compact twin) as parsed lines |
//! | `convert` | [`convert`]: a JSON session written again in the compact format |
//! | `event` | one line parsed into its time and [`crate::engine::Input`] |
//! | `writer` | the other way: an [`crate::engine::Input`] back to its line, for the recorder |
//! | `recording` | `[record]` and the recorded files: one per UTC day, bounded per file and in total |
//! | `replay` | [`replay_session`]: the plain loop, as fast as the CPU allows (`whale-trader replay`, tests, benchmarks) |
//! | `header` | the optional header line: [`SessionHeader`], [`read_header`] |
//! | `fetch` | `whale-trader fetch-history`: a session built from wallets' public trades and price history, resumable |
//! | `compare` | the decision diff of two replays' audit trails (`whale-trader replay --compare`) |
//!
//! The daemon's paced replay (`[feed] source = "replay"`) is the async half:
//! [`crate::runtime::run_replay_feed`].

mod binary;
pub mod compare;
mod convert;
mod event;
pub mod fetch;
mod file;
mod header;
mod read_ahead;
mod reader;
mod recording;
mod replay;
mod writer;

pub use binary::{BinaryError, BinaryHeader};
pub use convert::{ConvertError, Converted, convert};
pub use event::{LATEST_SESSION_TS_MS, ReplayEvent, malformed_cause, parse_line, parse_session_line};
pub use file::{LineError, MALFORMED_SUMMARY_EVERY, MAX_LINE_BYTES, MalformedLines, SessionLine, SessionLines};
pub use header::{HeaderWallet, SessionHeader, read_header};
pub use reader::{
    ParsedLine, SessionFormat, SessionReader, SessionSource, carries_ticks, compact_twin, scan_for_ticks,
};
pub use recording::{RecordConfig, RecordError, SessionFiles, Written, file_name};
pub use replay::{TimedReplay, replay_session, replay_session_timed};
pub use writer::{WriteError, is_recorded, line_for, whale_trade_line};

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
