//! The supervisor: every long-running task is spawned through it, and any task that ends or
//! panics while the daemon is running is noticed, never a silent death.

use std::future::Future;
use std::time::Duration;

use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

/// What a task returns when it stops on its own: `Ok` after a requested shutdown, `Err` with the
/// reason otherwise.
pub type TaskResult = Result<(), TaskError>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TaskError(pub String);

impl TaskError {
    pub fn new(reason: impl std::fmt::Display) -> Self {
        Self(reason.to_string())
    }
}

/// How a supervised task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskExit {
    /// Returned `Ok(())`.
    Finished,
    /// Returned an error.
    Failed(String),
    /// Panicked; the payload's text.
    Panicked(String),
    /// Cancelled through the join set.
    Aborted,
}

impl TaskExit {
    pub fn describe(&self) -> String {
        match self {
            TaskExit::Finished => "finished".into(),
            TaskExit::Failed(reason) => format!("failed: {reason}"),
            TaskExit::Panicked(message) => format!("panicked: {message}"),
            TaskExit::Aborted => "was aborted".into(),
        }
    }
}

/// A named task that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub task: &'static str,
    pub exit: TaskExit,
}

/// Owns the daemon's tasks.
///
/// A gated supervisor ([`Supervisor::gated`]) holds every task it spawns at a start barrier until
/// [`Supervisor::open_gate`]: while the daemon is still starting, a later step can fail (the API
/// port is taken, a feed cannot start), and by then nothing may have decided a trade or sent
/// anything. A failed start then [`Supervisor::abort`]s tasks that never ran a step.
#[derive(Default)]
pub struct Supervisor {
    tasks: JoinSet<TaskResult>,
    names: Vec<(Id, &'static str)>,
    /// Cancelled when the tasks may run; `None` for an ungated supervisor.
    gate: Option<CancellationToken>,
}

impl Supervisor {
    /// Tasks run as soon as they are spawned.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tasks wait at the start barrier until [`Supervisor::open_gate`].
    pub fn gated() -> Self {
        Self { gate: Some(CancellationToken::new()), ..Self::default() }
    }

    /// Lets every task spawned so far (and any spawned later) run.
    pub fn open_gate(&self) {
        if let Some(gate) = &self.gate {
            gate.cancel();
        }
    }

    /// Spawns `future` as the task `name`.
    pub fn spawn<F>(&mut self, name: &'static str, future: F)
    where
        F: Future<Output = TaskResult> + Send + 'static,
    {
        let gate = self.gate.clone();
        let handle = self.tasks.spawn(async move {
            if let Some(gate) = gate {
                gate.cancelled().await;
            }
            future.await
        });
        self.names.push((handle.id(), name));
    }

    /// Aborts every task and waits (at most `limit`) until they are gone; returns those that did
    /// not end in time. For a failed start: nothing has begun any work worth draining.
    pub async fn abort(&mut self, limit: Duration) -> Vec<&'static str> {
        self.tasks.abort_all();
        let deadline = tokio::time::Instant::now() + limit;
        while let Ok(Some(_)) = tokio::time::timeout_at(deadline, self.next_ended()).await {}
        self.running()
    }

    /// Names of the tasks still running.
    pub fn running(&self) -> Vec<&'static str> {
        self.names.iter().map(|(_, name)| *name).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits for the next task to end. `None` when no task is left.
    pub async fn next_ended(&mut self) -> Option<Ended> {
        let joined = self.tasks.join_next_with_id().await?;
        let (id, exit) = match joined {
            Ok((id, Ok(()))) => (id, TaskExit::Finished),
            Ok((id, Err(e))) => (id, TaskExit::Failed(e.0)),
            Err(e) => {
                let id = e.id();
                if e.is_panic() {
                    let payload = e.into_panic();
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "non-string panic payload".into());
                    (id, TaskExit::Panicked(message))
                } else {
                    (id, TaskExit::Aborted)
                }
            }
        };
        let task = self.take_name(id);
        Some(Ended { task, exit })
    }

    /// Waits until every task has ended or `grace` has passed; returns the tasks still running
    /// when time ran out (they are aborted).
    pub async fn drain(&mut self, grace: Duration) -> (Vec<Ended>, Vec<&'static str>) {
        let mut ended = Vec::new();
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            match tokio::time::timeout_at(deadline, self.next_ended()).await {
                Ok(Some(e)) => ended.push(e),
                Ok(None) => return (ended, Vec::new()),
                Err(_) => {
                    let stuck = self.running();
                    self.tasks.abort_all();
                    return (ended, stuck);
                }
            }
        }
    }

    fn take_name(&mut self, id: Id) -> &'static str {
        match self.names.iter().position(|(task_id, _)| *task_id == id) {
            Some(i) => self.names.swap_remove(i).1,
            None => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_panics_failures_and_names() {
        let mut supervisor = Supervisor::new();
        supervisor.spawn("panicky", async { panic!("boom") });
        let ended = supervisor.next_ended().await.unwrap();
        assert_eq!(ended, Ended { task: "panicky", exit: TaskExit::Panicked("boom".into()) });

        supervisor.spawn("failing", async { Err(TaskError::new("disk gone")) });
        let ended = supervisor.next_ended().await.unwrap();
        assert_eq!(ended.exit.describe(), "failed: disk gone");
        assert!(supervisor.next_ended().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn drain_aborts_what_outlives_the_grace_period() {
        let mut supervisor = Supervisor::new();
        supervisor.spawn("quick", async { Ok(()) });
        supervisor.spawn("stuck", std::future::pending());
        let (ended, stuck) = supervisor.drain(Duration::from_secs(10)).await;
        assert_eq!(ended.len(), 1);
        assert_eq!(stuck, ["stuck"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gated_task_runs_only_once_the_gate_opens_and_abort_stops_it_unrun() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let ran = Arc::new(AtomicBool::new(false));
        let mut supervisor = Supervisor::gated();
        let flag = ran.clone();
        supervisor.spawn("decider", async move {
            flag.store(true, Ordering::SeqCst);
            Ok(())
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!ran.load(Ordering::SeqCst), "a gated task ran before the gate opened");
        assert!(supervisor.abort(Duration::from_secs(1)).await.is_empty());
        assert!(!ran.load(Ordering::SeqCst));

        let flag = ran.clone();
        supervisor.spawn("decider", async move {
            flag.store(true, Ordering::SeqCst);
            Ok(())
        });
        supervisor.open_gate();
        let ended = supervisor.next_ended().await;
        assert_eq!(ended.map(|e| e.exit), Some(TaskExit::Finished));
        assert!(ran.load(Ordering::SeqCst));
    }
}
