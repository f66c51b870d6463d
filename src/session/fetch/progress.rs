//! Where an interrupted fetch stopped: `FILE.partial` holds the lines of every finished unit of
//! work (a wallet's trades, a market, a token's prices), and `FILE.progress` says which units
//! those are, how many bytes of the partial file they fill, and with which arguments. A rerun with
//! the same arguments cuts the partial file back to that length (a unit half written when the run
//! died is dropped) and goes on with the units not yet done.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::FetchError;

/// The arguments a fetch ran with: a rerun resumes only the same fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchArgs {
    pub wallets: Vec<String>,
    pub since_ms: i64,
    pub until_ms: i64,
    pub fidelity_minutes: u32,
    pub book_depth_shares: u64,
    pub max_points_per_token: u32,
    pub api_version: String,
    pub page_size: u32,
    pub overlap_secs: u64,
}

/// The progress file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub args: FetchArgs,
    /// When the first run started (milliseconds): the header's fetch time, the same on a resume.
    pub started_ms: i64,
    /// The length of the partial file that the units in `done` fill.
    pub partial_bytes: u64,
    /// Finished units: `trades:WALLET`, `market:CONDITION_ID`, `prices:TOKEN`.
    pub done: BTreeSet<String>,
}

/// The partial file and the progress file of one `--out`.
#[derive(Debug, Clone)]
pub struct WorkFiles {
    pub out: PathBuf,
    pub partial: PathBuf,
    pub progress: PathBuf,
}

/// The longest progress file read back (a fetch of thousands of tokens is well under this).
const MAX_PROGRESS_BYTES: u64 = 16 << 20;

impl WorkFiles {
    pub fn for_out(out: &Path) -> Self {
        let with = |suffix: &str| {
            let mut name = out.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        Self { out: out.to_path_buf(), partial: with(".partial"), progress: with(".progress") }
    }

    /// The saved progress, if a fetch into this `--out` was interrupted.
    pub fn load(&self) -> Result<Option<Progress>, FetchError> {
        let io = |e: std::io::Error| FetchError::io(&self.progress, e);
        let file = match std::fs::File::open(&self.progress) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        if file.metadata().map_err(io)?.len() > MAX_PROGRESS_BYTES {
            return Err(FetchError::BadProgress {
                path: self.progress.display().to_string(),
                detail: format!("larger than {MAX_PROGRESS_BYTES} bytes"),
            });
        }
        serde_json::from_reader(std::io::BufReader::new(file))
            .map(Some)
            .map_err(|e| FetchError::BadProgress { path: self.progress.display().to_string(), detail: e.to_string() })
    }

    /// Writes `progress` whole to a temporary file, then renames it over the old one: a crash
    /// leaves either the old progress or the new, never half of one.
    pub fn save(&self, progress: &Progress) -> Result<(), FetchError> {
        let mut tmp = self.progress.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let io = |e: std::io::Error| FetchError::io(&tmp, e);
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        let text = serde_json::to_vec(progress).map_err(|e| FetchError::io(&tmp, e.into()))?;
        file.write_all(&text).map_err(io)?;
        file.sync_data().map_err(io)?;
        std::fs::rename(&tmp, &self.progress).map_err(|e| FetchError::io(&self.progress, e))
    }

    /// Opens the partial file for appending after the first `keep` bytes (what finished units wrote).
    pub fn open_partial(&self, keep: u64) -> Result<std::fs::File, FetchError> {
        let io = |e: std::io::Error| FetchError::io(&self.partial, e);
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&self.partial).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < keep {
            return Err(FetchError::BadProgress {
                path: self.progress.display().to_string(),
                detail: format!(
                    "{} holds {len} bytes, fewer than the {keep} its progress counts",
                    self.partial.display()
                ),
            });
        }
        file.set_len(keep).map_err(io)?;
        Ok(file)
    }

    /// Removes the partial and progress files once the session is complete.
    pub fn finish(&self) -> Result<(), FetchError> {
        for path in [&self.partial, &self.progress] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(FetchError::io(path, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> FetchArgs {
        FetchArgs {
            wallets: vec!["0xabc".into()],
            since_ms: 1,
            until_ms: 2,
            fidelity_minutes: 60,
            book_depth_shares: 10,
            max_points_per_token: 5,
            api_version: "v2".into(),
            page_size: 500,
            overlap_secs: 300,
        }
    }

    #[test]
    fn progress_round_trips_and_the_partial_file_is_cut_back_to_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let files = WorkFiles::for_out(&dir.path().join("s.jsonl"));
        assert!(files.load().unwrap_or_else(|e| panic!("{e}")).is_none());
        std::fs::write(&files.partial, "done\nhalf of a li").unwrap_or_else(|e| panic!("{e}"));
        let progress = Progress { args: args(), started_ms: 7, partial_bytes: 5, done: ["trades:0xabc".into()].into() };
        files.save(&progress).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(files.load().unwrap_or_else(|e| panic!("{e}")), Some(progress));
        let mut partial = files.open_partial(5).unwrap_or_else(|e| panic!("{e}"));
        partial.write_all(b"next\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read_to_string(&files.partial).unwrap_or_default(), "done\nnext\n");
        files.finish().unwrap_or_else(|e| panic!("{e}"));
        assert!(!files.partial.exists() && !files.progress.exists());
    }

    #[test]
    fn a_partial_file_shorter_than_its_progress_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let files = WorkFiles::for_out(&dir.path().join("s.jsonl"));
        std::fs::write(&files.partial, "ab").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(files.open_partial(10), Err(FetchError::BadProgress { .. })));
    }
}
