//! The session recorder (`[record]`): every input the engine task steps, stamped with the time it
//! was stepped at, written to the day's session file on a thread of its own.
//!
//! - The engine task copies each input the format carries onto a bounded queue before stepping
//!   it, and waits when the queue is full: the recording never has a hole the replay would not
//!   see (back-pressure, never a dropped line), and the engine never waits on the disk itself.
//! - The thread formats the lines ([`crate::session::line_for`]) and writes them buffered,
//!   flushing whenever the queue runs empty and when the engine task ends (its queue closes).
//! - A day's file at `max_file_mb` stops that day's recording with one warning; a write error
//!   stops recording altogether with one error log. Either shows in `status` (`recording`);
//!   trading goes on regardless.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::api::RecordingView;
use crate::clock::Timestamp;
use crate::engine::Input;
use crate::session::{MAX_LINE_BYTES, RecordConfig, RecordError, SessionFiles, Written, is_recorded, line_for};

/// Inputs waiting for the writer at most; beyond it the engine task waits.
const QUEUE: usize = 8192;

/// The engine task's end of the recorder.
#[derive(Debug)]
pub struct InputRecorder {
    tx: mpsc::Sender<(Timestamp, Input)>,
}

impl InputRecorder {
    /// Hands a copy of `input`, stepped at `at`, to the writer when the format carries it,
    /// waiting while the writer's queue is full. `false` once the writer has stopped (a write
    /// error): the caller stops recording.
    pub async fn record(&self, at: Timestamp, input: &Input) -> bool {
        if !is_recorded(input) {
            return true;
        }
        self.tx.send((at, input.clone())).await.is_ok()
    }
}

/// A started recorder: the engine task's end, what `status` shows, and the writer thread (ends
/// once the engine task has dropped its end and every line is flushed).
pub struct RecordingStarted {
    pub recorder: Option<InputRecorder>,
    pub status: watch::Receiver<RecordingView>,
    /// `None` when the directory could not be opened (nothing to wait for).
    pub writer: Option<JoinHandle<()>>,
}

/// Starts the writer thread for `config` (which has `enabled` set). A directory that cannot be
/// made or read is a write error like any other: logged, shown in `status`, trading goes on.
pub fn start_recording(config: &RecordConfig) -> RecordingStarted {
    let dir = config.dir.clone();
    let (status_tx, status) = watch::channel(RecordingView {
        state: "recording".into(),
        dir: dir.display().to_string(),
        file: None,
        lines: 0,
        detail: None,
    });
    let files = match SessionFiles::open(&dir, config.max_file_bytes(), config.max_total_bytes()) {
        Ok(files) => files,
        Err(e) => {
            fail(&status_tx, &e);
            return RecordingStarted { recorder: None, status, writer: None };
        }
    };
    tracing::info!(dir = %dir.display(), "recording every engine input to session files (one per UTC day)");
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer = tokio::task::spawn_blocking(move || write_lines(files, rx, &status_tx));
    RecordingStarted { recorder: Some(InputRecorder { tx }), status, writer: Some(writer) }
}

/// The writer thread: lines in queue order until the engine task's end is dropped or a write fails.
fn write_lines(
    mut files: SessionFiles,
    mut rx: mpsc::Receiver<(Timestamp, Input)>,
    status: &watch::Sender<RecordingView>,
) {
    let mut full_day: Option<String> = None;
    let mut too_long = 0u64;
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some((at, input)) = next.take() {
            if let Err(e) = write_one(&mut files, at, &input, &mut full_day, &mut too_long) {
                fail(status, &e);
                return;
            }
            next = rx.try_recv().ok();
        }
        // The queue ran empty: what was written reaches the file, so a stop loses nothing.
        if let Err(e) = files.flush() {
            fail(status, &e);
            return;
        }
        status.send_modify(|view| {
            view.lines = files.lines();
            view.file = files.current_path().map(|p| p.display().to_string());
            match &full_day {
                Some(path) => {
                    view.state = "day_full".into();
                    view.detail =
                        Some(format!("{path} reached record.max_file_mb; recording resumes the next UTC day"));
                }
                None => {
                    view.state = "recording".into();
                    view.detail = None;
                }
            }
        });
    }
    tracing::info!(lines = files.lines(), too_long, "session recording flushed and closed");
}

fn write_one(
    files: &mut SessionFiles,
    at: Timestamp,
    input: &Input,
    full_day: &mut Option<String>,
    too_long: &mut u64,
) -> Result<(), RecordError> {
    let line = match line_for(at, input) {
        Ok(Some(line)) => line,
        Ok(None) => return Ok(()),
        Err(e) => {
            // Cannot happen for the types the format carries; a line lost is said, not hidden.
            tracing::error!(error = %e, "an engine input could not be written to the session file; the recording has a hole");
            return Ok(());
        }
    };
    if line.len() > MAX_LINE_BYTES {
        // A replay skips a line this long as malformed; writing it would only hide the hole. The
        // first is logged, the rest counted (in the closing line).
        *too_long += 1;
        if *too_long == 1 {
            tracing::warn!(
                bytes = line.len(),
                limit = MAX_LINE_BYTES,
                "an engine input is too long for a session line and is not recorded; the recording has a hole"
            );
        }
        return Ok(());
    }
    let (written, deleted) = files.write(at, &line)?;
    for path in deleted {
        tracing::info!(file = %path.display(), "old session file deleted: record.max_total_mb reached");
    }
    match written {
        Written::Line => {
            if full_day.is_some() && files.current_path().is_some_and(|p| Some(p.display().to_string()) != *full_day) {
                *full_day = None;
            }
        }
        Written::FileFull { path } => {
            tracing::warn!(
                file = %path.display(),
                "session file reached record.max_file_mb: the rest of this UTC day is not recorded"
            );
            *full_day = Some(path.display().to_string());
        }
        Written::Skipped => {}
    }
    Ok(())
}

fn fail(status: &watch::Sender<RecordingView>, error: &RecordError) {
    tracing::error!(error = %error, "session recording stopped; trading goes on without it");
    status.send_modify(|view| {
        view.state = "failed".into();
        view.detail = Some(error.to_string());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_carried_input_reaches_the_days_file_in_order_and_is_flushed_when_the_engine_lets_go() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = RecordConfig { enabled: true, dir: dir.path().join("sessions"), ..RecordConfig::default() };
        let started = start_recording(&config);
        let recorder = started.recorder.unwrap_or_else(|| panic!("the recorder did not start"));
        let at = Timestamp::from_millis(1_767_607_200_000); // 2026-01-05T10:00:00Z
        let reload = Input::Control(crate::engine::Control::SetConfig(std::sync::Arc::new(Default::default())));
        for (i, input) in [
            Input::Tick,
            reload,
            Input::Resolution { condition_id: "0xc".into(), winning_token_id: "1".into() },
            Input::Tick,
        ]
        .iter()
        .enumerate()
        {
            assert!(recorder.record(at.plus_millis(i as i64 * 1000), input).await);
        }
        drop(recorder);
        started.writer.unwrap_or_else(|| panic!("no writer")).await.unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(dir.path().join("sessions/session-2026-01-05.jsonl"))
            .unwrap_or_else(|e| panic!("{e}"));
        let kinds: Vec<(i64, String)> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"));
                (v["ts"].as_i64().unwrap_or_default(), v["type"].as_str().unwrap_or_default().to_owned())
            })
            .collect();
        let ts = at.millis();
        assert_eq!(
            kinds,
            [(ts, "tick".to_owned()), (ts + 2000, "resolution".to_owned()), (ts + 3000, "tick".to_owned())],
            "the reload is not recorded"
        );
        let view = started.status.borrow().clone();
        assert_eq!((view.state.as_str(), view.lines), ("recording", 3), "{view:?}");
    }
}
