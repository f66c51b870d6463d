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
use crate::session::{RecordConfig, RecordError, SessionFiles, Written, is_recorded, line_for};

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
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some((at, input)) = next.take() {
            if let Err(e) = write_one(&mut files, at, &input, &mut full_day) {
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
    tracing::info!(lines = files.lines(), "session recording flushed and closed");
}

fn write_one(
    files: &mut SessionFiles,
    at: Timestamp,
    input: &Input,
    full_day: &mut Option<String>,
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
