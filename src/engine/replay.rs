//! Replay: a recorded session (JSON lines) driven through the very same engine with a simulated
//! clock.
//!
//! Format: one event per line, in time order, each `{"ts": <ms since epoch>, "type": …, …}`:
//!
//! | `type` | payload | shape |
//! | --- | --- | --- |
//! | `whale_trade` | `trade` | a Data API v1 `/trades` row (camelCase, numbers, `timestamp` in seconds) |
//! | `book` | `book` | a CLOB `GET /book` object (decimal strings, best level last) |
//! | `market` | `market` | a CLOB `/clob-markets/{condition_id}` object (tick, min size, fee curve) |
//! | `resolution` | `condition_id`, `winning_token_id` | the market resolved |
//!
//! A malformed line is skipped and the session goes on: the first of each cause is logged with its
//! line number, later ones are counted (see [`super::session_file`]). A book the
//! live feeds would refuse (crossed, out of order, …: see [`crate::polymarket::BookCause`]) is
//! refused here too, counted per cause and logged at most once per cause a minute of session time.
//!
//! Two ways to run a session: [`replay_session`] here (a plain loop: parse, step, execute, as fast
//! as the CPU allows — `whale-trader replay`, tests, benchmarks) and the daemon's replay feed
//! ([`crate::runtime::run_replay_feed`], `[feed] source = "replay"`: an async task that paces the
//! events by `replay_speed` into the engine task's queue and then idles until cancelled).

use std::path::Path;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::clock::{Clock, SimClock, Timestamp};
use crate::config::Config;
use crate::domain::TradingState;
use crate::polymarket::{ActivityRow, BookRefusals, ClobMarketInfo, OrderBook, parse_v1_row};

use super::EngineError;
use super::audit::{AuditSink, DiscardAuditSink};
use super::core::{Engine, EngineSettings};
use super::executor::{Executor, MarketView, PaperExecutor};
use super::io::{EngineEvent, ExecutionReport, Input, Outputs};
use super::session_file::{LineError, MalformedLines, SessionLines};

/// Simulated time between two timer ticks (breaker cooldown, staleness, day roll-over).
pub const TICK_EVERY_MS: i64 = 1_000;

/// The longest quiet stretch between two events that is replayed tick by tick. A longer gap keeps
/// only its last day of ticks, the way a daemon sees its clock jump after its host slept: a day
/// covers every cooldown, staleness limit and day roll-over, and a line dated decades ahead
/// cannot make a replay tick for hours.
pub const MAX_TICKED_GAP_MS: i64 = 86_400_000;

/// The latest event time a session line may carry (2100-01-01T00:00:00Z, in milliseconds); the
/// earliest is the Unix epoch. Outside this a `ts` is a corrupt value, not a recording.
pub const LATEST_SESSION_TS_MS: i64 = 4_102_444_800_000;

/// The first timer tick to replay before an event at `at`, given the tick `next` due on the
/// schedule: `next` itself, or, across a gap longer than [`MAX_TICKED_GAP_MS`], the first tick
/// of the gap's last day (on the same one-second grid, so runs of one file agree tick for tick).
pub(crate) fn first_tick_before(next: Timestamp, at: Timestamp) -> Timestamp {
    let gap = at.millis_since(next);
    if gap <= MAX_TICKED_GAP_MS {
        return next;
    }
    // Whole ticks skipped, rounded up so that no more than the last day is ticked.
    let skipped_ticks = (gap - MAX_TICKED_GAP_MS + TICK_EVERY_MS - 1) / TICK_EVERY_MS;
    next.plus_millis(skipped_ticks * TICK_EVERY_MS)
}

#[derive(Deserialize)]
struct RawLine<'a> {
    ts: i64,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow, default)]
    trade: Option<&'a RawValue>,
    #[serde(borrow, default)]
    book: Option<&'a RawValue>,
    #[serde(borrow, default)]
    market: Option<&'a RawValue>,
    #[serde(default)]
    condition_id: Option<String>,
    #[serde(default)]
    winning_token_id: Option<String>,
}

/// One parsed line: when it happened and what it is.
#[derive(Debug, Clone)]
pub struct ReplayEvent {
    pub at: Timestamp,
    pub input: Input,
}

fn missing(field: &'static str) -> EngineError {
    EngineError::BadField { field, value: "absent".to_owned(), rule: "required for this event type" }
}

/// Parses one line of a session file. `Ok(None)` for a blank line or a non-trade activity row.
pub fn parse_line(line: &str) -> Result<Option<ReplayEvent>, EngineError> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let raw: RawLine<'_> = serde_json::from_str(line).map_err(|e| EngineError::BadField {
        field: "line",
        value: e.to_string(),
        rule: "a JSON object with ts and type",
    })?;
    if !(0..=LATEST_SESSION_TS_MS).contains(&raw.ts) {
        return Err(EngineError::BadField {
            field: "ts",
            value: raw.ts.to_string(),
            rule: "milliseconds since 1970-01-01, before 2100",
        });
    }
    let at = Timestamp::from_millis(raw.ts);
    let input = match raw.kind {
        "whale_trade" => {
            let row = raw.trade.ok_or_else(|| missing("trade"))?;
            match parse_v1_row(row.get()).map_err(|e| EngineError::BadField {
                field: "trade",
                value: e,
                rule: "a Data API v1 trade row",
            })? {
                ActivityRow::Trade(trade) => Input::WhaleTrade(Box::new(trade)),
                _ => return Ok(None),
            }
        }
        "book" => {
            let json = raw.book.ok_or_else(|| missing("book"))?;
            let book = OrderBook::from_json(json.get()).map_err(EngineError::BookRefused)?;
            Input::Book(Box::new(book))
        }
        "market" => {
            let json = raw.market.ok_or_else(|| missing("market"))?;
            let info = ClobMarketInfo::from_json(json.get()).map_err(|e| EngineError::BadField {
                field: "market",
                value: e.to_string(),
                rule: "a CLOB /clob-markets object",
            })?;
            Input::MarketInfo(Box::new(info))
        }
        "resolution" => Input::Resolution {
            condition_id: raw.condition_id.ok_or_else(|| missing("condition_id"))?,
            winning_token_id: raw.winning_token_id.ok_or_else(|| missing("winning_token_id"))?,
        },
        other => {
            return Err(EngineError::BadField {
                field: "type",
                value: other.to_owned(),
                rule: "one of whale_trade, book, market, resolution",
            });
        }
    };
    Ok(Some(ReplayEvent { at, input }))
}

/// What a replayed session did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplayReport {
    pub lines: u64,
    pub malformed_lines: u64,
    /// Book lines whose book was refused (counted per cause in the refusals' tally).
    pub books_refused: u64,
    pub inputs: u64,
    pub order_intents: u64,
    pub whale_trades_seen: u64,
    pub trades_opened: u64,
    pub trades_closed: u64,
    pub trades_rejected: u64,
    pub realised_pnl_usd: Decimal,
    pub open_positions: usize,
    pub final_state: TradingState,
    pub last_event_at: Option<Timestamp>,
    /// Daemon feed only: messages of the session already applied before a restart, of which the
    /// market data went in again as warm-up.
    pub resumed_after: Option<u64>,
    pub warmed_up: u64,
}

/// The engine and a simulated executor, stepped in a plain loop: each input, then every order it
/// produced is executed at once and the reports go straight back in. No channel, no task.
pub struct SimulatedRun<E: Executor> {
    pub engine: Engine,
    pub executor: E,
    pub clock: SimClock,
    out: Outputs,
    pending_intents: Vec<crate::risk::OrderIntent>,
    reports: Vec<ExecutionReport>,
    next_tick: Option<Timestamp>,
    pub order_intents: u64,
    /// Also keep every event of every step (tests); off for throughput.
    pub keep_events: bool,
    pub events: Vec<EngineEvent>,
}

impl<E: Executor> SimulatedRun<E> {
    pub fn new(engine: Engine, executor: E, start: Timestamp) -> Self {
        Self {
            engine,
            executor,
            clock: SimClock::starting_at(start),
            out: Outputs::new(),
            pending_intents: Vec::new(),
            reports: Vec::new(),
            next_tick: None,
            order_intents: 0,
            keep_events: false,
            events: Vec::new(),
        }
    }

    /// Timer ticks for every whole second of simulated time up to `at` (of a long gap, its last day).
    fn tick_until(&mut self, at: Timestamp) {
        let mut next = first_tick_before(self.next_tick.unwrap_or(at), at);
        while next <= at {
            self.clock.set(next);
            self.step(Input::Tick, next);
            next = next.plus_millis(TICK_EVERY_MS);
        }
        self.next_tick = Some(next);
    }

    /// Feeds one input at `at` (timer ticks first) and executes every order it produced; the events
    /// are kept in [`SimulatedRun::events`] when `keep_events` is set.
    pub fn feed(&mut self, at: Timestamp, input: Input) {
        self.tick_until(at);
        self.clock.set(at);
        self.step(input, at);
    }

    /// When the next timer tick is due (`None` before the first input).
    pub fn next_tick(&self) -> Option<Timestamp> {
        self.next_tick
    }

    /// Continues the tick schedule of an earlier run (a run resumed from a checkpoint).
    pub fn resume_ticks_at(&mut self, next_tick: Option<Timestamp>) {
        self.next_tick = next_tick;
    }

    /// Feeds one input without timer ticks (benchmarks drive the price path alone).
    pub fn feed_untimed(&mut self, at: Timestamp, input: Input) {
        self.clock.set(at);
        self.step(input, at);
    }

    fn step(&mut self, input: Input, now: Timestamp) {
        self.out.clear();
        self.engine.process(input, now, &mut self.out);
        self.collect();
        // Execute every order at once; fills can trigger more orders (a fill that trips a limit).
        while !self.pending_intents.is_empty() {
            let intents = std::mem::take(&mut self.pending_intents);
            for intent in &intents {
                let market =
                    MarketView { book: self.engine.book(intent.token), rules: self.engine.venue_rules(intent.market) };
                self.executor.submit(intent, market, now, &mut self.reports);
            }
            self.pending_intents = intents;
            self.pending_intents.clear();
            let reports = std::mem::take(&mut self.reports);
            for report in &reports {
                self.engine.process(Input::Execution(report.clone()), now, &mut self.out);
            }
            self.reports = reports;
            self.reports.clear();
            self.collect();
        }
    }

    fn collect(&mut self) {
        if self.out.intents.is_empty() && !self.keep_events {
            self.out.events.clear();
            return;
        }
        self.order_intents += self.out.intents.len() as u64;
        self.pending_intents.append(&mut self.out.intents);
        if self.keep_events {
            self.events.append(&mut self.out.events);
        } else {
            self.out.events.clear();
        }
    }

    pub fn report(&self, lines: u64, malformed_lines: u64, books_refused: u64) -> ReplayReport {
        let status = self.engine.status();
        ReplayReport {
            lines,
            malformed_lines,
            books_refused,
            inputs: status.inputs_processed,
            order_intents: self.order_intents,
            whale_trades_seen: status.whale_trades_seen,
            trades_opened: status.trades_opened,
            trades_closed: status.trades_closed,
            trades_rejected: status.trades_rejected,
            realised_pnl_usd: status.realised_pnl_usd,
            open_positions: status.open_positions,
            final_state: status.trading_state,
            last_event_at: status.last_input_at,
            resumed_after: None,
            warmed_up: 0,
        }
    }
}

/// Replays the session at `path` through a paper-trading engine built from `config`, as fast as
/// possible, sending audit records to `audit`.
pub fn replay_session(
    path: &Path,
    config: Arc<Config>,
    audit: Box<dyn AuditSink>,
) -> Result<ReplayReport, EngineError> {
    let file = std::fs::File::open(path)
        .map_err(|e| EngineError::Io { path: path.display().to_string(), reason: e.to_string() })?;
    let mut audit = Some(audit);
    let mut run: Option<SimulatedRun<PaperExecutor>> = None;
    let (mut lines, mut refused) = (0u64, 0u64);
    let mut malformed = MalformedLines::new(path);
    let mut refusals = BookRefusals::new("replay");
    for line in SessionLines::new(std::io::BufReader::new(file)) {
        let line = line.map_err(|e| EngineError::Io { path: path.display().to_string(), reason: e.to_string() })?;
        lines += 1;
        let event = match parse_session_line(line.text) {
            Ok(Some(event)) => event,
            Ok(None) => continue,
            Err(EngineError::BookRefused(e)) => {
                refused += 1;
                refusals.record(&e, run.as_ref().map_or(Timestamp::from_millis(0), |r| r.clock.now()));
                continue;
            }
            Err(e) => {
                malformed.record(malformed_cause(&e), line.number, &e);
                continue;
            }
        };
        let run = match run.as_mut() {
            Some(run) => run,
            None => {
                // The engine starts at the first event's time: the session's trading day, not today's.
                let sink = audit.take().unwrap_or_else(|| Box::new(DiscardAuditSink));
                let engine = Engine::new(config.clone(), EngineSettings::default(), sink, event.at)?;
                run.insert(SimulatedRun::new(engine, PaperExecutor::default(), event.at))
            }
        };
        run.feed(event.at, event.input);
    }
    malformed.finish();
    let malformed = malformed.total();
    Ok(run.map(|r| r.report(lines, malformed, refused)).unwrap_or(ReplayReport {
        lines,
        malformed_lines: malformed,
        books_refused: refused,
        ..Default::default()
    }))
}

/// A line read from a session file, parsed; a line that could not be read as text is malformed.
pub(crate) fn parse_session_line(text: Result<String, LineError>) -> Result<Option<ReplayEvent>, EngineError> {
    match text {
        Ok(text) => parse_line(&text),
        Err(e) => Err(EngineError::BadField { field: e.cause(), value: e.to_string(), rule: "a line of UTF-8 JSON" }),
    }
}

/// The cause a malformed line is counted under: the field that broke its rule.
pub(crate) fn malformed_cause(error: &EngineError) -> &'static str {
    match error {
        EngineError::BadField { field, .. } => field,
        EngineError::BookRefused(_) => "book",
        EngineError::Io { .. } | EngineError::Risk(_) | EngineError::Store(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_millis(1_767_607_200_000);

    #[test]
    fn a_gap_up_to_a_day_is_ticked_whole() {
        let at = T0.plus_millis(MAX_TICKED_GAP_MS);
        assert_eq!(first_tick_before(T0, at), T0);
        assert_eq!(first_tick_before(T0, T0.plus_millis(-5)), T0, "an event before the next tick skips nothing");
    }

    #[test]
    fn a_longer_gap_keeps_its_last_day_on_the_same_grid() {
        let at = T0.plus_millis(30 * MAX_TICKED_GAP_MS + 1_500);
        let first = first_tick_before(T0, at);
        assert_eq!(first.millis_since(T0) % TICK_EVERY_MS, 0, "ticks stay on the one-second grid");
        assert!(at.millis_since(first) <= MAX_TICKED_GAP_MS);
        assert!(at.millis_since(first) > MAX_TICKED_GAP_MS - TICK_EVERY_MS);
    }

    #[test]
    fn a_line_dated_outside_the_session_range_is_malformed() {
        for ts in [-1, LATEST_SESSION_TS_MS + 1, i64::MAX] {
            let line = format!(r#"{{"ts":{ts},"type":"resolution","condition_id":"0xc","winning_token_id":"1"}}"#);
            match parse_line(&line) {
                Err(EngineError::BadField { field: "ts", value, .. }) => assert_eq!(value, ts.to_string()),
                other => panic!("ts {ts}: {other:?}"),
            }
        }
        let line = format!(
            r#"{{"ts":{LATEST_SESSION_TS_MS},"type":"resolution","condition_id":"0xc","winning_token_id":"1"}}"#
        );
        assert!(matches!(parse_line(&line), Ok(Some(_))));
    }

    #[test]
    fn a_replay_across_decades_ends_after_a_day_of_ticks() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("session.jsonl");
        let lines = [
            format!(r#"{{"ts":{},"type":"resolution","condition_id":"0xc","winning_token_id":"1"}}"#, T0.millis()),
            format!(
                r#"{{"ts":{LATEST_SESSION_TS_MS},"type":"resolution","condition_id":"0xc","winning_token_id":"1"}}"#
            ),
        ];
        std::fs::write(&path, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
        let config = crate::config::Config::default();
        let report =
            replay_session(&path, Arc::new(config), Box::new(DiscardAuditSink)).unwrap_or_else(|e| panic!("{e}"));
        // The first event and its tick, then at most a day of ticks (86,401 with both ends) and
        // the second event: the decades between are skipped.
        let day_of_ticks = (MAX_TICKED_GAP_MS / TICK_EVERY_MS) as u64;
        assert_eq!(report.lines, 2);
        assert!((2 + day_of_ticks..=2 + day_of_ticks + 2).contains(&report.inputs), "{report:?}");
    }
}
