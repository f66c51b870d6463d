//! One daemon per data directory: an exclusive `flock` on `<store directory>/whale-trader.lock`,
//! taken before the daemon logs, binds, opens the store or raises an alert, and held for the life
//! of the process (the kernel releases it when the process ends, however it ends, so a SIGKILL
//! never leaves a stale lock). The holder's PID is written in the file so that a refused second
//! start can name it.
//!
//! Read-only commands (`whale-trader status` without a daemon) do not take the lock: they never
//! write, and SQLite's own locking keeps their reads consistent.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The lock file's name inside the directory it guards.
pub const LOCK_FILE: &str = "whale-trader.lock";

/// How long a refused start waits for the holder to finish writing its PID (it writes it right
/// after taking the lock, so this is only ever the gap between two system calls).
const PID_WAIT: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another whale-trader daemon (pid {holder}) already runs on the data directory {dir} (lock file {file}); \
         stop it first, or give this one another store path"
    )]
    Held { holder: String, dir: PathBuf, file: PathBuf },
    #[error("cannot create the data directory {dir}: {source}")]
    CreateDir { dir: PathBuf, source: std::io::Error },
    #[error("cannot open the lock file {file}: {source}")]
    Open { file: PathBuf, source: std::io::Error },
    #[error("cannot lock {file}: {source}")]
    Lock { file: PathBuf, source: std::io::Error },
    #[error("cannot write this daemon's pid into {file}: {source}")]
    WritePid { file: PathBuf, source: std::io::Error },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock on `dir` (created if missing) without waiting: a directory another process
    /// holds is refused at once, naming its PID.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        std::fs::create_dir_all(dir).map_err(|source| LockError::CreateDir { dir: dir.to_path_buf(), source })?;
        let path = dir.join(LOCK_FILE);
        // Never truncate on open: the file holds the current holder's PID until we own the lock.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| LockError::Open { file: path.clone(), source })?;
        // An exclusive `flock` held for the file's life: the kernel releases it when the process
        // ends, however it ends.
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LockError::Held { holder: holder_pid(&mut file), dir: dir.to_path_buf(), file: path });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(LockError::Lock { file: path, source }),
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())?;
            file.sync_data()
        };
        write_pid(&mut file).map_err(|source| LockError::WritePid { file: path.clone(), source })?;
        Ok(Self { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The locked file handle (kept open for the lock's life).
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// The PID the holder wrote, waiting briefly in case it has the lock but has not written it yet.
fn holder_pid(file: &mut File) -> String {
    let deadline = crate::clock::monotonic() + PID_WAIT;
    loop {
        let mut text = String::new();
        let read = file.seek(SeekFrom::Start(0)).and_then(|_| file.take(64).read_to_string(&mut text));
        if let Ok(pid) = text.trim().parse::<u32>()
            && read.is_ok()
        {
            return pid.to_string();
        }
        if crate::clock::monotonic() >= deadline {
            return "unknown".into();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let data = dir.path().join("data");
        let first = DataDirLock::acquire(&data).unwrap_or_else(|e| panic!("{e}"));
        let written = std::fs::read_to_string(first.path()).unwrap_or_default();
        assert_eq!(written.trim(), std::process::id().to_string());
        // flock locks belong to the open file description, so a second open in this process
        // conflicts exactly as another process would.
        let second = DataDirLock::acquire(&data);
        match second {
            Err(LockError::Held { holder, .. }) => assert_eq!(holder, std::process::id().to_string()),
            other => panic!("expected a refusal, got {other:?}"),
        }
        // The refusal left the holder's PID in place.
        assert_eq!(std::fs::read_to_string(first.path()).unwrap_or_default(), written);
        drop(first);
        assert!(DataDirLock::acquire(&data).is_ok(), "a released lock can be taken again");
    }
}
