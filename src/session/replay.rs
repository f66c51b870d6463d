//! The plain-loop replay of a session file: parse, step, execute, as fast as the CPU allows.

use std::path::Path;
use std::sync::Arc;

use super::SessionError;
use super::event::{ReplayEvent, malformed_cause, parse_line, parse_session_line};
use super::file::{MalformedLines, SessionLines};
use crate::clock::{Clock, Timestamp};
use crate::config::Config;
use crate::engine::{
    AuditSink, DiscardAuditSink, Engine, EngineSettings, Input, PaperExecutor, ReplayReport, SimulatedRun,
};
use crate::market::BookRefusals;

/// Replays the session at `path` through a paper-trading engine built from `config`, as fast as
/// possible, sending audit records to `audit`.
pub fn replay_session(
    path: &Path,
    config: Arc<Config>,
    audit: Box<dyn AuditSink>,
) -> Result<ReplayReport, SessionError> {
    let recorded_ticks = carries_ticks(path)?;
    let file = std::fs::File::open(path)
        .map_err(|e| SessionError::Io { path: path.display().to_string(), reason: e.to_string() })?;
    let mut audit = Some(audit);
    let mut run: Option<SimulatedRun<PaperExecutor>> = None;
    let (mut lines, mut refused) = (0u64, 0u64);
    let mut malformed = MalformedLines::new(path);
    let mut refusals = BookRefusals::new("replay");
    for line in SessionLines::new(std::io::BufReader::new(file)) {
        let line = line.map_err(|e| SessionError::Io { path: path.display().to_string(), reason: e.to_string() })?;
        lines += 1;
        let event = match parse_session_line(line.text) {
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
    malformed.finish();
    let malformed = malformed.total();
    Ok(run.map(|r| r.report(lines, malformed, refused)).unwrap_or(ReplayReport {
        lines,
        malformed_lines: malformed,
        books_refused: refused,
        ..Default::default()
    }))
}

/// Whether the session at `path` carries timer ticks of its own (`tick` lines: a daemon's
/// recording). Such a session is replayed with exactly those ticks, at their times; any other
/// gets a tick every simulated second from its first event (see [`crate::engine::replay`]).
pub fn carries_ticks(path: &Path) -> Result<bool, SessionError> {
    let io = |e: std::io::Error| SessionError::Io { path: path.display().to_string(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(io)?;
    for line in SessionLines::new(std::io::BufReader::new(file)) {
        let Ok(text) = line.map_err(io)?.text else { continue };
        // Most lines are not ticks: only one holding the quoted word (not `"tick_size"`, which
        // every book has) is parsed.
        if text.contains("\"tick\"") && matches!(parse_line(&text), Ok(Some(ReplayEvent { input: Input::Tick, .. }))) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::replay::{MAX_TICKED_GAP_MS, TICK_EVERY_MS};
    use crate::session::LATEST_SESSION_TS_MS;

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
