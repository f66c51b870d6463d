//! Size-rotated log files behind a lossless background writer.

use std::path::Path;

use logroller::{LogRollerBuilder, Rotation, RotationSize};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};

use super::LoggingError;
use crate::config::LogFileConfig;

/// Lines a file's writer thread may have waiting before a logging call waits for it. The queue's
/// slots are allocated and written when the writer starts (32 bytes each): the library's default of
/// 128,000 lines held 4 MB resident per file, 16 MB for the four files, on a daemon that needs a
/// few MB in all. A logging call waits only once 4,096 lines are behind, and the writer empties
/// the queue at the pace of writes to the page cache.
const QUEUED_LINES: usize = 4096;

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
    Ok(NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("log-writer")
        .finish(roller))
}
