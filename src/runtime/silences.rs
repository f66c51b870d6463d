//! The one way in for silence commands, whoever gives them (the control API for the CLI and for
//! scripts, the Telegram bot): [`SilenceControl::execute`] parses, applies to the dispatcher's
//! [`SilenceBook`], makes the change durable in the store and writes the audit record.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::alerts::{Matcher, Silence, SilenceBook, SilenceError, format_duration, parse_duration};
use crate::clock::{Clock, SystemClock, Timestamp};
use crate::logging::AUDIT_TARGET;
use crate::runtime::supervisor::TaskResult;
use crate::store::{StoreCommand, StoreError, StoreHandle};

/// How often hit counts that moved are written to the store: a stop loses at most the hits of
/// the last interval (a hit count is a figure for people, not state the engine resumes from).
const HITS_FLUSH_EVERY: Duration = Duration::from_secs(1);

/// A silence command as a person gives it; parsing happens here, once, for every path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SilenceCommand {
    /// `--match KEY=VALUE` (all must match) `--for 2h` `--reason TEXT`.
    Add {
        matchers: Vec<String>,
        duration: String,
        reason: String,
    },
    List,
    Expire {
        id: String,
    },
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SilenceReply {
    Added { silence: Silence },
    Listed { silences: Vec<Silence> },
    Expired { silence: Silence },
}

impl SilenceReply {
    /// One line a person reads (the CLI, a chat reply).
    pub fn message(&self) -> String {
        match self {
            SilenceReply::Added { silence } => format!(
                "silence {} added: {} for {} (until {}); CRITICAL alerts, trading-state changes, losing closes and digests still go out",
                silence.id,
                silence.matchers_text(),
                format_duration(silence.expires_at.millis_since(silence.created_at)),
                silence.expires_at.to_rfc3339()
            ),
            SilenceReply::Listed { silences } if silences.is_empty() => "no silence is in force".into(),
            SilenceReply::Listed { silences } => silences.iter().map(silence_line).collect::<Vec<_>>().join("\n"),
            SilenceReply::Expired { silence } => {
                format!("silence {} ({}) expired after {} hit(s)", silence.id, silence.matchers_text(), silence.hits)
            }
        }
    }
}

/// `S0001  whale=Alice  until 2026-12-04T11:00:00Z  hits 3  by cli  (reason)`.
pub fn silence_line(s: &Silence) -> String {
    let reason = if s.reason.is_empty() { String::new() } else { format!("  ({})", s.reason) };
    format!(
        "{}  {}  until {}  hits {}  by {}{reason}",
        s.id,
        s.matchers_text(),
        s.expires_at.to_rfc3339(),
        s.hits,
        s.created_by
    )
}

/// Why a silence command failed.
#[derive(Debug, thiserror::Error)]
pub enum SilenceControlError {
    #[error(transparent)]
    Invalid(#[from] SilenceError),
    #[error("the silence could not be stored, so it was not applied: {0}")]
    Store(#[from] StoreError),
}

/// The handle the runtime passes to every control path. Cheap to clone.
#[derive(Clone)]
pub struct SilenceControl {
    book: Arc<Mutex<SilenceBook>>,
    store: StoreHandle,
}

impl std::fmt::Debug for SilenceControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SilenceControl").finish_non_exhaustive()
    }
}

impl SilenceControl {
    /// `book` is the one the alert dispatcher reads.
    pub fn new(book: Arc<Mutex<SilenceBook>>, store: StoreHandle) -> Self {
        Self { book, store }
    }

    /// Runs `command` for `by` (`cli`, `api`, `telegram:<chat>`). A silence is added or ended
    /// only once the store has it; each change is audited.
    pub async fn execute(&self, command: SilenceCommand, by: &str) -> Result<SilenceReply, SilenceControlError> {
        // Silences last in wall time: "for 2h" means two hours of the operator's day, in a
        // replayed session as in a live one.
        let now = SystemClock.now();
        match command {
            SilenceCommand::List => Ok(SilenceReply::Listed { silences: self.lock().active(now) }),
            SilenceCommand::Add { matchers, duration, reason } => {
                let matchers = matchers.iter().map(|m| Matcher::parse(m)).collect::<Result<Vec<_>, _>>()?;
                let duration = parse_duration(&duration)?;
                let silence = self.lock().add(matchers, duration, &reason, by, now)?;
                if let Err(e) = self.store.write_durable(StoreCommand::UpsertSilence(silence.clone())).await {
                    // Not stored, so not applied: a restart would forget it without a word.
                    let _ = self.lock().expire(&silence.id, by, now);
                    return Err(e.into());
                }
                tracing::info!(
                    target: AUDIT_TARGET,
                    event = "silence_added",
                    silence = %silence.id,
                    matchers = %silence.matchers_text(),
                    expires_at = %silence.expires_at.to_rfc3339(),
                    reason = %silence.reason,
                    by,
                    "silence {} added by {by}: {}",
                    silence.id,
                    silence.matchers_text()
                );
                Ok(SilenceReply::Added { silence })
            }
            SilenceCommand::Expire { id } => {
                let silence = self.lock().expire(&id, by, now)?;
                self.store.write_durable(StoreCommand::UpsertSilence(silence.clone())).await?;
                tracing::info!(
                    target: AUDIT_TARGET,
                    event = "silence_expired",
                    silence = %silence.id,
                    matchers = %silence.matchers_text(),
                    hits = silence.hits,
                    by,
                    "silence {} expired by {by} after {} hit(s)",
                    silence.id,
                    silence.hits
                );
                Ok(SilenceReply::Expired { silence })
            }
        }
    }

    /// Writes the hit counts that moved, every second, and once more at `stop` if the store
    /// writer (stopped by the same token) still takes it.
    pub async fn keep_hits_stored(self, stop: CancellationToken) -> TaskResult {
        let mut every = tokio::time::interval(HITS_FLUSH_EVERY);
        loop {
            let stopping = tokio::select! {
                () = stop.cancelled() => true,
                _ = every.tick() => false,
            };
            let changed = self.lock().take_changed();
            for silence in changed {
                if self.store.send(StoreCommand::UpsertSilence(silence)).await.is_err() {
                    return Ok(());
                }
            }
            if stopping {
                return Ok(());
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SilenceBook> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The book a daemon starts with: the stored silences still in force now.
pub fn book_from_store(stored: Vec<Silence>) -> Arc<Mutex<SilenceBook>> {
    let now: Timestamp = SystemClock.now();
    let book = SilenceBook::from_stored(stored, now);
    let active = book.active(now).len();
    if active > 0 {
        tracing::info!(active, "silences restored from the store");
    }
    Arc::new(Mutex::new(book))
}
