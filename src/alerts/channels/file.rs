//! `logs/alerts.log`: one JSON object per line, for every alert the dispatcher receives.

use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use tokio::io::AsyncWriteExt;

use super::{AlertChannel, Part};
use crate::alerts::error::AlertError;
use crate::alerts::format::alert_json;
use crate::alerts::notification::Notification;

#[derive(Debug)]
pub struct FileChannel {
    path: PathBuf,
}

impl FileChannel {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Appends `line` (which ends with a newline) to `path` in one write, creating the directory.
pub(crate) async fn append_line(path: &Path, line: &str) -> Result<(), AlertError> {
    let io = |e: std::io::Error| AlertError::Io { path: path.to_path_buf(), reason: e.to_string() };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await.map_err(io)?;
    file.write_all(line.as_bytes()).await.map_err(io)?;
    file.flush().await.map_err(io)
}

impl AlertChannel for FileChannel {
    fn name(&self) -> &str {
        "file"
    }

    fn render(&self, notification: &Notification) -> Vec<Part> {
        vec![Part::body(format!("{}\n", alert_json(notification)))]
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(append_line(&self.path, &part.body))
    }
}
