//! Failures on purpose, for the crash and supervision tests: a named task panics or fails, or the
//! whole process aborts (as `kill -9` would) right after an order's write-ahead is durable. Only a
//! build with the `failpoints` feature reads `WHALE_TRADER_FAILPOINT`; in any other build these
//! are no-ops, so a release binary carries no way to crash itself.
//!
//! `WHALE_TRADER_FAILPOINT` takes `panic:<task>` or `error:<task>` (for the supervisor), or
//! `abort-after-write-ahead:<n>` (the n-th order written ahead in this run, for recovery), or
//! `abort-before-plan-send` (a trade plan's order is durable in the store but not handed to its
//! venue yet).

use std::future::Future;

use super::supervisor::TaskResult;

/// Runs `task`, unless a failpoint names it: then it fails that way instead (after a moment, so
/// that the daemon is up when it happens).
pub async fn with_failpoint<F>(name: &'static str, task: F) -> TaskResult
where
    F: Future<Output = TaskResult>,
{
    #[cfg(feature = "failpoints")]
    if let Some(kind) = armed::task_failure(name) {
        return armed::fail(kind, name).await;
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
    task.await
}

/// Called by the engine task each time orders are written ahead, with how many this run wrote:
/// aborts the process at the armed count.
#[inline]
pub fn after_write_ahead(written_ahead: u64) {
    #[cfg(feature = "failpoints")]
    armed::abort_after_write_ahead(written_ahead);
    #[cfg(not(feature = "failpoints"))]
    let _ = written_ahead;
}

/// Called by the engine task before it hands a plan order (already written ahead) to its venue.
#[inline]
pub fn before_plan_order_sent() {
    #[cfg(feature = "failpoints")]
    armed::abort_before_plan_send();
}

#[cfg(feature = "failpoints")]
mod armed {
    use std::sync::OnceLock;
    use std::time::Duration;

    use crate::runtime::supervisor::{TaskError, TaskResult};

    const FAILPOINT_ENV: &str = "WHALE_TRADER_FAILPOINT";

    /// How a task named by the failpoint fails.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum TaskFailure {
        Panic,
        Error,
    }

    fn setting() -> Option<&'static str> {
        static SETTING: OnceLock<Option<String>> = OnceLock::new();
        SETTING.get_or_init(|| std::env::var(FAILPOINT_ENV).ok()).as_deref()
    }

    pub(super) fn task_failure(name: &str) -> Option<TaskFailure> {
        match setting()?.split_once(':')? {
            ("panic", task) if task == name => Some(TaskFailure::Panic),
            ("error", task) if task == name => Some(TaskFailure::Error),
            _ => None,
        }
    }

    pub(super) async fn fail(kind: TaskFailure, name: &str) -> TaskResult {
        tokio::time::sleep(Duration::from_millis(300)).await;
        match kind {
            TaskFailure::Panic => panic!("failpoint {FAILPOINT_ENV}=panic:{name} triggered"),
            TaskFailure::Error => Err(TaskError::new(format!("failpoint {FAILPOINT_ENV}=error:{name} triggered"))),
        }
    }

    pub(super) fn abort_after_write_ahead(written_ahead: u64) {
        static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
        let limit = LIMIT.get_or_init(|| {
            let count = setting()?.strip_prefix("abort-after-write-ahead:")?.parse().ok()?;
            tracing::warn!(count, "the process will abort after the write-ahead of order {count} (test failpoint)");
            Some(count)
        });
        if limit.is_some_and(|n| written_ahead >= n) {
            eprintln!("failpoint: aborting after the write-ahead of {written_ahead} order(s)");
            std::process::abort();
        }
    }

    pub(super) fn abort_before_plan_send() {
        if setting() == Some("abort-before-plan-send") {
            eprintln!("failpoint: aborting before a plan order written ahead is sent");
            std::process::abort();
        }
    }
}
