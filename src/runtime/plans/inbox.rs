//! The plan inbox: a directory watched for trade plans as JSON files. Each file is read (bounded),
//! handed to the engine through the control path, and moved to `done/` (approved) or `rejected/`
//! with a `<file>.reason.txt` beside it saying why. Writers should create the file under another
//! name (`.tmp`) and rename it into place, so that a half-written plan is never read.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::{ControlRequest, ControlSender, send_control};
use crate::engine::PlanAnswer;
use crate::plans::{PlanSource, PlanWire};
use crate::runtime::supervisor::TaskResult;

/// At most this many files are taken per look, so that a flood is worked through in turns.
const FILES_PER_PASS: usize = 100;

/// What the watcher needs.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub dir: PathBuf,
    pub poll: Duration,
    pub max_plan_bytes: usize,
}

/// Why a file could not be handled (the file stays for the next look, or is moved aside).
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("cannot prepare the inbox {dir}: {source}")]
    Prepare { dir: PathBuf, source: std::io::Error },
    #[error("cannot move {file} to {to}: {source}")]
    Move { file: PathBuf, to: PathBuf, source: std::io::Error },
}

/// Where a file ends and what is written beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Done,
    Rejected(String),
    /// The engine gave no answer (stopping, or too busy): try again at the next look.
    Later(String),
}

impl Inbox {
    fn done(&self) -> PathBuf {
        self.dir.join("done")
    }

    fn rejected(&self) -> PathBuf {
        self.dir.join("rejected")
    }

    /// Creates the inbox and its two outcome directories.
    pub fn prepare(&self) -> Result<(), InboxError> {
        for dir in [self.dir.clone(), self.done(), self.rejected()] {
            std::fs::create_dir_all(&dir).map_err(|source| InboxError::Prepare { dir, source })?;
        }
        Ok(())
    }

    /// The plan files waiting, oldest name first.
    fn waiting(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files.truncate(FILES_PER_PASS);
        files
    }

    async fn decide(&self, file: &Path, control: &ControlSender) -> Verdict {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        if size > self.max_plan_bytes as u64 {
            return Verdict::Rejected(format!(
                "invalid_plan: the file is {size} bytes; at most {} are accepted (signals.max_plan_bytes)",
                self.max_plan_bytes
            ));
        }
        // Read bounded too: a writer still appending must not make it larger than checked.
        let mut bytes = Vec::new();
        let limit = self.max_plan_bytes as u64 + 1;
        let read = std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut bytes));
        if let Err(e) = read {
            return Verdict::Later(format!("cannot read {name}: {e}"));
        }
        let wire = match PlanWire::from_json(&bytes, self.max_plan_bytes) {
            Ok(wire) => wire,
            Err(e) => return Verdict::Rejected(format!("invalid_plan: {e}")),
        };
        let request = ControlRequest::SubmitPlan { plan: Box::new(wire), source: PlanSource::Inbox { file: name } };
        match send_control(control, "inbox", "/signals", request).await {
            Err(why) => Verdict::Later(why.to_owned()),
            Ok(reply) => match reply.plan {
                Some(PlanAnswer::Decision(decision)) => match decision.reason() {
                    None => Verdict::Done,
                    Some(code) => Verdict::Rejected(format!("{code}: {}", reply.message)),
                },
                _ => Verdict::Later(reply.message),
            },
        }
    }

    /// Moves `file` to `into`, under a fresh name if one of that name is already there.
    fn move_into(&self, file: &Path, into: &Path) -> Result<PathBuf, InboxError> {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut to = into.join(&name);
        let mut n = 1;
        while to.exists() {
            to = into.join(format!("{name}.{n}"));
            n += 1;
        }
        std::fs::rename(file, &to).map_err(|source| InboxError::Move {
            file: file.to_path_buf(),
            to: to.clone(),
            source,
        })?;
        Ok(to)
    }

    /// One look at the inbox: every waiting file decided and moved. Returns how many were moved.
    pub async fn pass(&self, control: &ControlSender) -> usize {
        let mut moved = 0;
        for file in self.waiting() {
            let verdict = self.decide(&file, control).await;
            let outcome = match &verdict {
                Verdict::Later(why) => {
                    tracing::warn!(file = %file.display(), %why, "plan file left in the inbox for the next look");
                    return moved;
                }
                Verdict::Done => self.move_into(&file, &self.done()),
                Verdict::Rejected(reason) => self.move_into(&file, &self.rejected()).and_then(|to| {
                    let reason_file = PathBuf::from(format!("{}.reason.txt", to.display()));
                    std::fs::write(&reason_file, format!("{reason}\n"))
                        .map(|()| to)
                        .map_err(|source| InboxError::Move { file: file.clone(), to: reason_file, source })
                }),
            };
            match outcome {
                Ok(to) => {
                    moved += 1;
                    tracing::info!(file = %file.display(), to = %to.display(), "plan file decided");
                }
                Err(e) => {
                    tracing::error!(error = %e, "plan file decided but not moved; it will be seen as a duplicate")
                }
            }
        }
        moved
    }
}

/// Looks at the inbox every `poll` until `stop`.
pub async fn watch_inbox(inbox: Inbox, control: ControlSender, stop: CancellationToken) -> TaskResult {
    if let Err(e) = inbox.prepare() {
        tracing::error!(error = %e, "the plan inbox is not watched");
        stop.cancelled().await;
        return Ok(());
    }
    tracing::info!(dir = %inbox.dir.display(), "watching the plan inbox");
    loop {
        inbox.pass(&control).await;
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(inbox.poll) => {}
        }
    }
}
