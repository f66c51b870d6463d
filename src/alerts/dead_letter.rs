//! The dead-letter file: one JSON line per message that finally failed, so nothing is lost
//! silently and an operator can replay it by hand.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use serde_json::json;

use super::channels::Part;
use super::error::AlertError;
use super::format::alert_json;
use super::notification::Notification;
use crate::clock::{Clock, SystemClock};

#[derive(Debug)]
pub struct DeadLetter {
    path: Mutex<PathBuf>,
    /// One writer at a time, so lines from several workers never interleave.
    write: tokio::sync::Mutex<()>,
}

impl DeadLetter {
    pub fn new(path: PathBuf) -> Self {
        Self { path: Mutex::new(path), write: tokio::sync::Mutex::new(()) }
    }

    pub fn set_path(&self, path: PathBuf) {
        *self.path.lock().unwrap_or_else(PoisonError::into_inner) = path;
    }

    pub fn path(&self) -> PathBuf {
        self.path.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub async fn record(
        &self,
        channel: &str,
        notification: &Notification,
        part: &Part,
        error: &AlertError,
    ) -> Result<(), AlertError> {
        let line = json!({
            "failed_at": SystemClock.now().to_rfc3339(),
            "channel": channel,
            "error": error.to_string(),
            "to": part.to,
            "subject": part.subject,
            "body": part.body,
            "alert": alert_json(notification),
        });
        let _one_writer = self.write.lock().await;
        super::channels::append_line(&self.path(), &format!("{line}\n")).await
    }
}
