//! The supervisor: every long-running task is spawned through it, and any task that ends or
//! panics while the daemon is running is noticed, never a silent death.

use std::future::Future;
use std::time::Duration;

use tokio::task::{Id, JoinSet};

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
#[derive(Default)]
pub struct Supervisor {
    tasks: JoinSet<TaskResult>,
    names: Vec<(Id, &'static str)>,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns `future` as the task `name`.
    pub fn spawn<F>(&mut self, name: &'static str, future: F)
    where
        F: Future<Output = TaskResult> + Send + 'static,
    {
        let handle = self.tasks.spawn(future);
        self.names.push((handle.id(), name));
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
}
