//! The plain-loop replay of a session file: parse, step, execute, as fast as the CPU allows.
//!
//! One thread, in batches: a batch of lines is read and parsed, then stepped through the engine,
//! and the two are timed apart (`parse_s`, `engine_s` in the replay's summary). Parsing on a second
//! thread was measured twice and lost both times on a two-core machine. With books allocated on one
//! thread and freed on the other it was three times slower: every free went through the allocator's
//! slow, locked path. With the engine's replaced books sent back to be decoded into again it was
//! still 1.1–1.2× slower: the two cores slow each other down (two independent replays side by side
//! each take 1.3–1.4× their time alone), so each half runs slower than the whole did on one thread.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::SessionError;
use super::event::malformed_cause;
use super::file::MalformedLines;
use super::reader::{ParsedLine, SessionReader, SessionSource, scan_for_ticks};
use crate::clock::{Clock, Timestamp};
use crate::config::Config;
use crate::engine::{AuditSink, DiscardAuditSink, Engine, EngineSettings, PaperExecutor, ReplayReport, SimulatedRun};
use crate::market::BookRefusals;

/// Lines parsed, then stepped, at a time: the two are timed per batch, not per line. Few enough
/// that a batch of parsed lines (~110 bytes each) is still in the first-level cache when stepped.
const BATCH_LINES: usize = 64;

/// A replay's report, and where its time went.
#[derive(Debug, Clone)]
pub struct TimedReplay {
    pub report: ReplayReport,
    /// The file read, and its format.
    pub source: SessionSource,
    /// Time spent reading and parsing the session.
    pub parse: Duration,
    /// Time spent stepping the engine and the simulated executor.
    pub engine: Duration,
}

/// Replays the session at `path` through a paper-trading engine built from `config`, as fast as
/// possible, sending audit records to `audit`.
pub fn replay_session(
    path: &Path,
    config: Arc<Config>,
    audit: Box<dyn AuditSink>,
) -> Result<ReplayReport, SessionError> {
    replay_session_timed(path, config, audit).map(|timed| timed.report)
}

/// [`replay_session`], with the time spent parsing and in the engine.
pub fn replay_session_timed(
    path: &Path,
    config: Arc<Config>,
    audit: Box<dyn AuditSink>,
) -> Result<TimedReplay, SessionError> {
    let mut reader = SessionReader::open(path)?;
    let source = reader.source().clone();
    let recorded_ticks = match reader.known_ticks() {
        Some(known) => known,
        None => scan_for_ticks(&source.read)?,
    };
    let mut stepper = Stepper::new(path, config, audit, recorded_ticks);
    let mut parse = Duration::ZERO;
    let mut batch = Vec::with_capacity(BATCH_LINES);
    loop {
        let started = crate::clock::monotonic();
        let mut end = false;
        while batch.len() < BATCH_LINES {
            match reader.next_line()? {
                Some(line) => batch.push(line),
                None => {
                    end = true;
                    break;
                }
            }
        }
        parse += started.elapsed();
        stepper.step(&mut batch)?;
        if let Some(run) = stepper.run.as_mut() {
            reader.recycle(run.engine.take_replaced_books());
        }
        if end {
            let (report, engine) = stepper.finish();
            return Ok(TimedReplay { report, source, parse, engine });
        }
    }
}

/// The engine's side: every parsed line stepped in order, with the tallies of what was skipped.
struct Stepper {
    config: Arc<Config>,
    audit: Option<Box<dyn AuditSink>>,
    recorded_ticks: bool,
    run: Option<SimulatedRun<PaperExecutor>>,
    count: u64,
    refused: u64,
    malformed: MalformedLines,
    refusals: BookRefusals,
    busy: Duration,
}

impl Stepper {
    fn new(path: &Path, config: Arc<Config>, audit: Box<dyn AuditSink>, recorded_ticks: bool) -> Self {
        Self {
            config,
            audit: Some(audit),
            recorded_ticks,
            run: None,
            count: 0,
            refused: 0,
            malformed: MalformedLines::new(path),
            refusals: BookRefusals::new("replay"),
            busy: Duration::ZERO,
        }
    }

    /// Steps the lines of `batch` (leaving it empty), adding the time to the engine's busy time.
    fn step(&mut self, batch: &mut Vec<ParsedLine>) -> Result<(), SessionError> {
        let started = crate::clock::monotonic();
        for line in batch.drain(..) {
            self.count += 1;
            let event = match line.parsed {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(SessionError::BookRefused(e)) => {
                    self.refused += 1;
                    let now = self.run.as_ref().map_or(Timestamp::from_millis(0), |r| r.clock.now());
                    self.refusals.record(&e, now);
                    continue;
                }
                Err(e) => {
                    self.malformed.record(malformed_cause(&e), line.number, &e);
                    continue;
                }
            };
            let run = match self.run.as_mut() {
                Some(run) => run,
                None => {
                    // The engine starts at the first event's time: the session's trading day, not today's.
                    let sink = self.audit.take().unwrap_or_else(|| Box::new(DiscardAuditSink));
                    let engine = Engine::new(self.config.clone(), EngineSettings::default(), sink, event.at)?;
                    let run = self.run.insert(SimulatedRun::new(engine, PaperExecutor::default(), event.at));
                    run.engine.keep_replaced_books();
                    if self.recorded_ticks {
                        run.use_recorded_ticks();
                    }
                    run
                }
            };
            run.feed(event.at, event.input);
        }
        self.busy += started.elapsed();
        Ok(())
    }

    fn finish(mut self) -> (ReplayReport, Duration) {
        self.malformed.finish();
        let malformed = self.malformed.total();
        let report = self.run.map(|r| r.report(self.count, malformed, self.refused)).unwrap_or(ReplayReport {
            lines: self.count,
            malformed_lines: malformed,
            books_refused: self.refused,
            ..Default::default()
        });
        (report, self.busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::replay::{MAX_TICKED_GAP_MS, TICK_EVERY_MS};
    use crate::session::{LATEST_SESSION_TS_MS, carries_ticks};

    const T0: Timestamp = Timestamp::from_millis(1_767_607_200_000);

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

    #[test]
    fn a_session_with_tick_lines_is_replayed_with_those_ticks_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("recorded.jsonl");
        let at = |ms: i64| T0.plus_millis(ms).millis();
        // A resolution naming "tick" in its id is not a tick line.
        let lines = [
            format!(r#"{{"ts":{},"type":"resolution","condition_id":"0xtick","winning_token_id":"1"}}"#, at(0)),
            format!(r#"{{"ts":{},"type":"tick"}}"#, at(400)),
            format!(r#"{{"ts":{},"type":"tick"}}"#, at(1_400)),
            format!(r#"{{"ts":{},"type":"resolution","condition_id":"0xc","winning_token_id":"1"}}"#, at(60_000)),
        ];
        std::fs::write(&path, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
        assert!(carries_ticks(&path).unwrap_or_else(|e| panic!("{e}")));
        let report = replay_session(&path, Arc::new(crate::config::Config::default()), Box::new(DiscardAuditSink))
            .unwrap_or_else(|e| panic!("{e}"));
        // Four inputs: no tick of a one-second grid between them (that would be 62 more).
        assert_eq!(report.inputs, 4, "{report:?}");
        std::fs::write(&path, [lines[0].clone(), lines[3].clone()].join("\n")).unwrap_or_else(|e| panic!("{e}"));
        assert!(!carries_ticks(&path).unwrap_or_else(|e| panic!("{e}")));
    }
}
