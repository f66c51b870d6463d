//! Size-rotated log files behind a lossless background writer.

use std::path::Path;

use logroller::{LogRollerBuilder, Rotation, RotationSize};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};

use super::LoggingError;
use crate::config::LogFileConfig;

/// A writer for `dir/name` that rotates at `rotation.max_size_bytes` and keeps `rotation.keep`
/// old files (`name.1` is the newest). Each formatted event reaches the file in one write and the
/// size is checked before each write, so no line is ever split across two files.
pub fn rotating_writer(
    dir: &Path,
    name: &str,
    rotation: &LogFileConfig,
) -> Result<(NonBlocking, WorkerGuard), LoggingError> {
    let roller = LogRollerBuilder::new(dir, Path::new(name))
        .rotation(Rotation::SizeBased(RotationSize::Bytes(rotation.max_size_bytes)))
        .max_keep_files(rotation.keep as u64)
        .graceful_shutdown(true)
        .build()
        .map_err(|e| LoggingError::File {
            dir: dir.display().to_string(),
            file: name.to_string(),
            reason: e.to_string(),
        })?;
    // Not lossy: when the file cannot keep up, the logging call waits rather than dropping a line.
    Ok(NonBlockingBuilder::default().lossy(false).thread_name("log-writer").finish(roller))
}
