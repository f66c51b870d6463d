//! Logging: JSON lines to rotating files, plus the console.
//!
//! | file | what goes in |
//! | --- | --- |
//! | `main.log` | every event at or above `logging.level` |
//! | `error.log` | errors only |
//! | `trade_audit.log` | audit events only (target [`AUDIT_TARGET`]): trades opened / closed / rejected, state changes |
//! | `performance.log` | timings only (target [`PERF_TARGET`]): operations and HTTP calls |
//!
//! Every file rotates by size and keeps a configured number of old files. Writes go through a
//! background thread per file that applies back-pressure instead of dropping lines, so the audit
//! trail never loses an event; dropping the returned [`LogGuards`] flushes everything.
//!
//! No input can make the logs grow faster than a fixed bound: each call site writes at most
//! [`rate_limit::LINES_PER_WINDOW`] warnings or errors a minute, and says how many more it
//! suppressed (see [`rate_limit`]).

mod files;
mod human;
pub mod rate_limit;
mod timing;

pub use files::rotating_writer;
pub use timing::{TimedOperation, record_http_call, timed, timed_operation};

use std::io::IsTerminal;

use tracing::Level;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::time::ChronoUtc;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{Layer, Registry};

use crate::config::{ConsoleFormat, LoggingConfig};

/// Target of the trade audit trail: `tracing::info!(target: AUDIT_TARGET, event = "trade_opened", …)`.
pub const AUDIT_TARGET: &str = "whale_trader::audit";
/// Target of operation timings and API call latencies.
pub const PERF_TARGET: &str = "whale_trader::perf";

/// RFC 3339, UTC, milliseconds: `2025-11-02T15:30:45.123Z`.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot create the log directory {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error("cannot open the log file {file} in {dir}: {reason}")]
    File { dir: String, file: String, reason: String },
    #[error("invalid log level filter {filter:?}: {reason}")]
    Filter { filter: String, reason: String },
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// Keeps the background log writers alive; dropping it flushes every file.
#[must_use = "dropping the guards stops the log writers"]
pub struct LogGuards {
    _guards: Vec<WorkerGuard>,
}

/// Installs the global subscriber described by `config`. Call once, early in `main`.
pub fn init(config: &LoggingConfig) -> Result<LogGuards, LoggingError> {
    std::fs::create_dir_all(&config.dir)
        .map_err(|source| LoggingError::Directory { path: config.dir.display().to_string(), source })?;
    let filter = |directive: &str| {
        EnvFilter::builder()
            .parse(directive)
            .map_err(|e| LoggingError::Filter { filter: directive.to_string(), reason: e.to_string() })
    };

    let mut guards = Vec::new();
    let mut file_layer = |name: &str, rotation: &crate::config::LogFileConfig| {
        let (writer, guard) = rotating_writer(&config.dir, name, rotation)?;
        guards.push(guard);
        Ok::<_, LoggingError>(json_layer(writer))
    };

    // One layer per destination, each with its own filter, so that e.g. an audit event reaches
    // both main.log and trade_audit.log while a debug event reaches neither unless asked for.
    let mut layers: Vec<BoxedLayer> = vec![
        file_layer("main.log", &config.main)?.with_filter(filter(&config.level)?).boxed(),
        file_layer("error.log", &config.error)?.with_filter(LevelFilter::ERROR).boxed(),
        file_layer("trade_audit.log", &config.trade_audit)?
            .with_filter(Targets::new().with_target(AUDIT_TARGET, Level::TRACE))
            .boxed(),
        file_layer("performance.log", &config.performance)?
            .with_filter(Targets::new().with_target(PERF_TARGET, Level::TRACE))
            .boxed(),
    ];
    if let Some(console) = console_layer(config.console) {
        layers.push(console.with_filter(filter(&config.level)?).boxed());
    }

    // The limiter is the outermost layer: it decides before any destination sees an event, so a
    // dropped line is dropped everywhere alike.
    Registry::default()
        .with(layers)
        .with(rate_limit::RateLimitLayer::start())
        .try_init()
        .map_err(|_| LoggingError::AlreadyInstalled)?;
    install_panic_hook();
    Ok(LogGuards { _guards: guards })
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// One JSON object per line: timestamp, level, target, message and fields, and the span context.
fn json_layer<W>(writer: W) -> BoxedLayer
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_timer(ChronoUtc::new(TIMESTAMP_FORMAT.to_string()))
        .with_ansi(false)
        .with_writer(writer)
        .boxed()
}

/// Whether the console is read by a person: `human`, or `auto` on a terminal.
pub fn console_is_human(format: ConsoleFormat) -> bool {
    match format {
        ConsoleFormat::Off | ConsoleFormat::Json => false,
        ConsoleFormat::Human => true,
        ConsoleFormat::Auto => std::io::stdout().is_terminal(),
    }
}

/// Human-readable on a terminal ([`human`]: short ids, no float noise), JSON otherwise (journald
/// keeps the structure).
fn console_layer(format: ConsoleFormat) -> Option<BoxedLayer> {
    if format == ConsoleFormat::Off {
        return None;
    }
    Some(if console_is_human(format) {
        tracing_subscriber::fmt::layer()
            .event_format(human::HumanFormat)
            .with_writer(std::io::stdout)
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.target() != PERF_TARGET && meta.target() != AUDIT_TARGET
            }))
            .boxed()
    } else {
        json_layer(std::io::stdout)
    })
}

/// A panic anywhere is logged as an error (so it lands in error.log) before the default hook runs.
fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        tracing::error!(target: "whale_trader::panic", thread, location, "panic: {message}");
        default_hook(info);
    }));
}
