//! The plain-loop replay of a session file: parse, step, execute, as fast as the CPU allows.
//!
//! Two threads: one reads and parses the session into batches of events, the caller's steps the
//! engine through them. The queue between them is bounded and blocking (a full queue stops the
//! reader, nothing is ever dropped), so a replay holds a few batches in memory however long the
//! session, and on two cores reading and stepping overlap instead of adding up.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use super::SessionError;
use super::event::malformed_cause;
use super::file::MalformedLines;
use super::reader::{ParsedLine, SessionReader, SessionSource, scan_for_ticks};
use crate::clock::{Clock, Timestamp};
use crate::config::Config;
use crate::engine::{AuditSink, DiscardAuditSink, Engine, EngineSettings, PaperExecutor, ReplayReport, SimulatedRun};
use crate::market::BookRefusals;

/// Lines per batch handed from the reading thread to the engine's.
const BATCH_LINES: usize = 512;
/// Batches parsed ahead of the engine at most.
const BATCHES_AHEAD: usize = 8;

/// A replay's report, and where its time went.
#[derive(Debug, Clone)]
pub struct TimedReplay {
    pub report: ReplayReport,
    /// The file read, and its format.
    pub source: SessionSource,
    /// Time the reading thread spent reading and parsing (not waiting for the engine).
    pub parse: Duration,
    /// Time spent stepping the engine and the simulated executor (not waiting for lines).
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
    let reader = SessionReader::open(path)?;
    let source = reader.source().clone();
    let known_ticks = reader.known_ticks();
    let (lines_tx, lines_rx) = sync_channel(BATCHES_AHEAD);
    let (spent_tx, spent_rx) = sync_channel(BATCHES_AHEAD + 2);
    let parser = std::thread::Builder::new()
        .name("replay-parse".to_owned())
        .spawn(move || parse_ahead(reader, &lines_tx, &spent_rx))
        .map_err(|e| SessionError::Io {
            path: path.display().to_string(),
            reason: format!("cannot start the reading thread: {e}"),
        })?;
    // A JSON session is scanned for its own ticks while the other thread starts parsing it.
    let recorded_ticks = match known_ticks {
        Some(known) => Ok(known),
        None => scan_for_ticks(&source.read),
    };
    let stepped = recorded_ticks.and_then(|ticks| step_all(path, config, audit, ticks, &lines_rx, &spent_tx));
    // Whatever happened, the reading thread ends once the queue is gone.
    drop(lines_rx);
    let parsed = parser.join().map_err(|_| SessionError::Io {
        path: path.display().to_string(),
        reason: "the reading thread panicked".to_owned(),
    })?;
    let (report, engine) = stepped?;
    let parse = parsed?;
    Ok(TimedReplay { report, source, parse, engine })
}

/// The reading thread: parses batches of lines into `lines` until the session ends, the engine's
/// side hangs up, or the file cannot be read; returns its busy time. Batches the engine is done
/// with come back on `spent` to be filled again.
fn parse_ahead(
    mut reader: SessionReader,
    lines: &SyncSender<Vec<ParsedLine>>,
    spent: &Receiver<Vec<ParsedLine>>,
) -> Result<Duration, SessionError> {
    let mut busy = Duration::ZERO;
    loop {
        let started = crate::clock::monotonic();
        let mut batch = spent.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH_LINES));
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
        busy += started.elapsed();
        if !batch.is_empty() && lines.send(batch).is_err() {
            return Ok(busy);
        }
        if end {
            return Ok(busy);
        }
    }
}

/// The engine's thread: steps every parsed line in order; returns the report and its busy time.
fn step_all(
    path: &Path,
    config: Arc<Config>,
    audit: Box<dyn AuditSink>,
    recorded_ticks: bool,
    lines: &Receiver<Vec<ParsedLine>>,
    spent: &SyncSender<Vec<ParsedLine>>,
) -> Result<(ReplayReport, Duration), SessionError> {
    let mut audit = Some(audit);
    let mut run: Option<SimulatedRun<PaperExecutor>> = None;
    let (mut count, mut refused) = (0u64, 0u64);
    let mut malformed = MalformedLines::new(path);
    let mut refusals = BookRefusals::new("replay");
    let mut busy = Duration::ZERO;
    for mut batch in lines {
        let started = crate::clock::monotonic();
        for line in batch.drain(..) {
            count += 1;
            let event = match line.parsed {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(SessionError::BookRefused(e)) => {
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
                    let run = run.insert(SimulatedRun::new(engine, PaperExecutor::default(), event.at));
                    if recorded_ticks {
                        run.use_recorded_ticks();
                    }
                    run
                }
            };
            run.feed(event.at, event.input);
        }
        busy += started.elapsed();
        // The reading thread may have stopped already; a batch it does not take back is dropped.
        let _ = spent.try_send(batch);
    }
    malformed.finish();
    let malformed = malformed.total();
    let report = run.map(|r| r.report(count, malformed, refused)).unwrap_or(ReplayReport {
        lines: count,
        malformed_lines: malformed,
        books_refused: refused,
        ..Default::default()
    });
    Ok((report, busy))
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
