//! `whale-trader audit export|summary`: the decision audit read back from the trail files under
//! `logging.dir` (rotated files included). Works with or without a running daemon.

use std::path::Path;
use std::process::ExitCode;

use crate::audit::{self, Signal};
use crate::clock::Timestamp;
use crate::config::Config;

use super::exit;

/// `--format` of `audit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Json,
    /// A header row, then one row per signal.
    Csv,
}

/// Writes one record per signal decided in `[since, until)` to `out` (stdout without one).
pub fn export(
    config: &Config,
    since: Option<Timestamp>,
    until: Option<&str>,
    format: ExportFormat,
    out: Option<&Path>,
) -> ExitCode {
    let signals = match read(config, since, until) {
        Ok(signals) => signals,
        Err(code) => return code,
    };
    let mut buffer = Vec::new();
    let written = match format {
        ExportFormat::Json => audit::write_json(&signals, &mut buffer).map_err(|e| e.to_string()),
        ExportFormat::Csv => audit::write_csv(&signals, &mut buffer).map_err(|e| e.to_string()),
    };
    let written = written.and_then(|()| match out {
        Some(path) => std::fs::write(path, &buffer).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => std::io::Write::write_all(&mut std::io::stdout(), &buffer).map_err(|e| e.to_string()),
    });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::from(exit::FAILURE);
    }
    if let Some(path) = out {
        eprintln!("whale-trader: {} signals written to {}", signals.len(), path.display());
    }
    ExitCode::from(exit::OK)
}

/// Prints the summary of the signals decided in `[since, until)` (JSON with `json`).
pub fn summary(config: &Config, since: Option<Timestamp>, until: Option<&str>, json: bool) -> ExitCode {
    let signals = match read(config, since, until) {
        Ok(signals) => signals,
        Err(code) => return code,
    };
    let summary = audit::summarise(&signals);
    if json {
        println!("{}", serde_json::to_value(&summary).unwrap_or_default());
    } else {
        print!("{}", audit::render_summary(&summary));
    }
    ExitCode::from(exit::OK)
}

/// The trail's signals within the bounds; the skipped lines told once per cause on stderr.
fn read(config: &Config, since: Option<Timestamp>, until: Option<&str>) -> Result<Vec<Signal>, ExitCode> {
    let until = match until.map(audit::parse_until).transpose() {
        Ok(until) => until,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(exit::BAD_CONFIG));
        }
    };
    let trail = match audit::read_trail(&config.logging.dir) {
        Ok(trail) => trail,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(exit::FAILURE));
        }
    };
    for (cause, skipped) in &trail.skipped {
        eprintln!(
            "whale-trader: skipped {} unreadable audit line(s) ({cause}), the first at {}",
            skipped.count, skipped.first
        );
    }
    Ok(audit::within(audit::signals(&trail.records), since, until))
}
