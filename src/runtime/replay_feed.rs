//! The daemon's replay feed (`[feed] source = "replay"`): a recorded session paced into the engine
//! task's queue by `replay_speed`, numbered so that a restart resumes exactly where the store's
//! checkpoint left it. The session format and the plain-loop replay are [`crate::session`]'s;
//! this is their async half.

use std::path::Path;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SimClock, Timestamp};
use crate::engine::replay::{TICK_EVERY_MS, first_tick_before};
use crate::engine::{Input, ReplayReport};
use crate::market::SharedBookRefusals;
use crate::session::{MalformedLines, ParsedLine, SessionError, SessionReader, malformed_cause, scan_for_ticks};

use super::engine_task::EngineMsg;

/// Replays `path` into the engine task's queue for the daemon (`[feed] source = "replay"`):
/// `speed` 0 sends as fast as the queue takes them, 1 in real time, 60 a minute per second. The
/// simulated clock follows the events; after the last line the report goes to the engine task
/// (which passes it on to the recorder's closing summary), then the task idles until `cancel`.
///
/// Every message (timer ticks included) gets a number, the same in every run of the same file.
/// After a restart, `resume_after` is the number of the last message the store's checkpoint holds:
/// messages up to it are not applied again (their market data goes in as warm-up, so that the
/// books are where they were), then the engine is asked to reconcile the orders whose outcome was
/// lost, then the session carries on. Books refused as unusable are counted in `refusals`.
pub async fn run_replay_feed(
    path: &Path,
    speed: Decimal,
    clock: SimClock,
    tx: mpsc::Sender<EngineMsg>,
    cancel: CancellationToken,
    resume_after: Option<u64>,
    refusals: SharedBookRefusals,
) -> Result<ReplayReport, SessionError> {
    let reader = SessionReader::open(path)?;
    // A recording carries the recording daemon's own timer ticks: those, and no grid of ours. A
    // compact file says so in its header; a JSON one is scanned, off the async runtime.
    let recorded_ticks = match reader.known_ticks() {
        Some(known) => known,
        None => {
            let scanned = reader.source().read.clone();
            tokio::task::spawn_blocking(move || scan_for_ticks(&scanned))
                .await
                .map_err(|e| SessionError::Io { path: path.display().to_string(), reason: e.to_string() })??
        }
    };
    let mut lines = stream_lines(reader, cancel.clone());
    let speed = speed.to_f64().filter(|s| s.is_finite() && *s > 0.0);
    let resume_after = resume_after.unwrap_or(0);
    let mut started = tokio::time::Instant::now();
    let mut first_at: Option<Timestamp> = None;
    let mut next_tick: Option<Timestamp> = None;
    let mut seq = 0u64;
    let mut reconcile_sent = false;
    let mut report = ReplayReport { resumed_after: Some(resume_after).filter(|r| *r > 0), ..Default::default() };
    let mut malformed = MalformedLines::new(path);
    while let Some(line) = lines.recv().await {
        let line = line?;
        report.lines += 1;
        let event = match line.parsed {
            Ok(Some(event)) => event,
            Ok(None) => continue,
            Err(SessionError::BookRefused(e)) => {
                // Not a message: a refused book has no number, in this run as in every other.
                report.books_refused += 1;
                refusals.record(&e, clock.now());
                continue;
            }
            Err(e) => {
                malformed.record(malformed_cause(&e), line.number, &e);
                report.malformed_lines = malformed.total();
                continue;
            }
        };
        // Ticks up to this event, then the event: each one message with its number.
        let mut tick =
            if recorded_ticks { NO_TICK } else { first_tick_before(next_tick.unwrap_or(event.at), event.at) };
        let ticks_before_event =
            if tick <= event.at { (event.at.millis_since(tick) / TICK_EVERY_MS) as u64 + 1 } else { 0 };
        let event_seq = seq + ticks_before_event + 1;
        if event_seq <= resume_after {
            // Already applied before the restart: market data goes in again as warm-up.
            seq = event_seq;
            next_tick = Some(if ticks_before_event > 0 {
                tick.plus_millis(ticks_before_event as i64 * TICK_EVERY_MS)
            } else {
                tick
            });
            clock.set(event.at);
            if matches!(event.input, Input::Book(_) | Input::MarketInfo(_) | Input::Quote(_)) {
                report.warmed_up += 1;
                if !send(&tx, EngineMsg::WarmUp { input: event.input, at: event.at }, &cancel).await {
                    return Ok(report);
                }
            }
            continue;
        }
        if !reconcile_sent {
            reconcile_sent = true;
            if !send(&tx, EngineMsg::Reconcile { at: Some(clock.now()) }, &cancel).await {
                return Ok(report);
            }
            started = tokio::time::Instant::now();
        }
        let first = *first_at.get_or_insert(event.at);
        if let Some(speed) = speed {
            let offset_ms = event.at.millis_since(first).max(0) as f64 / speed;
            let due = started + std::time::Duration::from_millis(offset_ms as u64);
            tokio::select! {
                () = cancel.cancelled() => return Ok(report),
                () = tokio::time::sleep_until(due) => {}
            }
        }
        while tick <= event.at {
            seq += 1;
            clock.set(tick);
            if seq > resume_after && !send(&tx, EngineMsg::replayed(Input::Tick, tick, seq), &cancel).await {
                return Ok(report);
            }
            tick = tick.plus_millis(TICK_EVERY_MS);
        }
        next_tick = Some(tick);
        seq += 1;
        clock.set(event.at);
        report.inputs += 1;
        report.last_event_at = Some(event.at);
        if !send(&tx, EngineMsg::replayed(event.input, event.at, seq), &cancel).await {
            return Ok(report);
        }
    }
    if cancel.is_cancelled() {
        return Ok(report);
    }
    if !reconcile_sent && !send(&tx, EngineMsg::Reconcile { at: Some(clock.now()) }, &cancel).await {
        return Ok(report);
    }
    malformed.finish();
    tracing::debug!(path = %path.display(), last_message = seq, "the replay feed sent the session's last line");
    // The engine passes the report on behind every event the session caused: the closing summary
    // ("replay finished") is told once they are all recorded, not while trades are still coming.
    if !send(&tx, EngineMsg::SessionEnded(Box::new(report.clone())), &cancel).await {
        return Ok(report);
    }
    cancel.cancelled().await;
    Ok(report)
}

/// The next made-up tick of a session that carries its own: never due.
const NO_TICK: Timestamp = Timestamp::from_millis(i64::MAX);

/// Lines read ahead of the pacing loop at most: enough to keep it fed, a bounded amount of memory.
const LINES_READ_AHEAD: usize = 1024;

/// Reads and parses the session's lines on a blocking thread, so that a day's recording is never
/// held in memory whole and the async runtime never waits on the disk or the parser. The thread
/// stops at the end of the file, on a read error (sent as the last item) or when the receiver is
/// gone.
fn stream_lines(
    mut reader: SessionReader,
    cancel: CancellationToken,
) -> mpsc::Receiver<Result<ParsedLine, SessionError>> {
    let (tx, rx) = mpsc::channel(LINES_READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        loop {
            let line = match reader.next_line() {
                Ok(Some(line)) => Ok(line),
                Ok(None) => return,
                Err(e) => Err(e),
            };
            let failed = line.is_err();
            if cancel.is_cancelled() || tx.blocking_send(line).is_err() || failed {
                return;
            }
        }
    });
    rx
}

/// Sends `msg` to the engine task; `false` when the daemon is stopping (cancelled, or the engine
/// task is gone) and the feed should end.
async fn send(tx: &mpsc::Sender<EngineMsg>, msg: EngineMsg, cancel: &CancellationToken) -> bool {
    tokio::select! {
        () = cancel.cancelled() => false,
        sent = tx.send(msg) => sent.is_ok(),
    }
}
