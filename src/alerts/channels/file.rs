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
    /// Rotation: at this size the file becomes `path.1` (older ones shift up, beyond `keep` deleted).
    rotation: Option<(u64, usize)>,
}

impl FileChannel {
    /// A file that grows without bound (the dead-letter file: nothing in it may be thrown away).
    pub fn new(path: PathBuf) -> Self {
        Self { path, rotation: None }
    }

    /// A file rotated at `max_size_bytes`, keeping `keep` old files, like the other log files.
    pub fn rotating(path: PathBuf, max_size_bytes: u64, keep: usize) -> Self {
        Self { path, rotation: Some((max_size_bytes, keep)) }
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
        Box::pin(async move {
            if let Some((max_size_bytes, keep)) = self.rotation {
                rotate_if_full(&self.path, part.body.len() as u64, max_size_bytes, keep).await?;
            }
            append_line(&self.path, &part.body).await
        })
    }
}

/// Rotates `path` when appending `incoming` bytes would take it past `max_size_bytes`: `path.(n)`
/// becomes `path.(n+1)` (the one beyond `keep` is deleted) and `path` becomes `path.1`. Lines are
/// never split: a whole line goes to the fresh file.
async fn rotate_if_full(path: &Path, incoming: u64, max_size_bytes: u64, keep: usize) -> Result<(), AlertError> {
    let io = |e: std::io::Error| AlertError::Io { path: path.to_path_buf(), reason: e.to_string() };
    let size = match tokio::fs::metadata(path).await {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if size == 0 || size + incoming <= max_size_bytes {
        return Ok(());
    }
    let numbered = |n: usize| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    match tokio::fs::remove_file(numbered(keep)).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    for n in (1..keep).rev() {
        match tokio::fs::rename(numbered(n), numbered(n + 1)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    tokio::fs::rename(path, numbered(1)).await.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rotates_by_size_and_keeps_the_retention_count_with_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.log");
        let channel = FileChannel::rotating(path.clone(), 1024, 2);
        for i in 0..100 {
            let part = Part::body(format!("{{\"seq\":{i},\"pad\":\"{}\"}}\n", "x".repeat(60)));
            channel.send(&part).await.unwrap();
        }
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["alerts.log", "alerts.log.1", "alerts.log.2"]);
        let mut seqs = Vec::new();
        for name in &names {
            let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(text.len() <= 1024, "{name} has {} bytes", text.len());
            for line in text.lines() {
                let value: serde_json::Value = serde_json::from_str(line).expect("whole JSON line");
                seqs.push(value["seq"].as_u64().unwrap());
            }
        }
        seqs.sort_unstable();
        // The newest lines survive, contiguous, up to the last one written.
        assert_eq!(seqs.last(), Some(&99));
        assert_eq!(seqs.len() as u64, 100 - seqs[0]);
    }
}
