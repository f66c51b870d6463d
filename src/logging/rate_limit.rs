//! A bound on how fast the logs can grow, whatever the daemon is fed.
//!
//! Every log line comes from a call site in this crate, and there are finitely many of them; each
//! may write at most [`LINES_PER_WINDOW`] lines per [`WINDOW`]. The lines past that are not
//! written (to any file or the console) but counted, and one `log lines suppressed` warning per
//! call site and window says how many were dropped and where they came from. So a flood of bad
//! input (a venue answering a million malformed rows, a provider failing every call) can make a
//! call site repeat itself for at most a minute's allowance, and can never rotate the history out
//! of `main.log`. Only warnings and errors are limited: that is where bad input shows (a skipped
//! row, a failed poll, a refused answer). INFO lines are the daemon's own actions and progress
//! (orders, fills, state changes; tests and operators count them) and grow with what the risk
//! limits and the feeds' page and poll bounds allow, not with the size of an answer; the trade
//! audit trail and the timings must never lose a line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use super::{AUDIT_TARGET, PERF_TARGET};

/// Warnings and errors one call site may write per window: enough for any normal burst (a poll
/// round over many wallets failing at once), far below a flood.
pub const LINES_PER_WINDOW: u32 = 120;
/// The window of [`LINES_PER_WINDOW`].
pub const WINDOW: Duration = Duration::from_secs(60);
/// The target of the `log lines suppressed` warnings (never limited themselves: at most one per
/// call site and window).
pub const SUPPRESSED_TARGET: &str = "whale_trader::log_limit";

/// One call site's window.
struct Window {
    started: Instant,
    written: u32,
    suppressed: u64,
    metadata: &'static Metadata<'static>,
}

/// What a closed window suppressed, to be reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub count: u64,
    pub level: Level,
    pub target: &'static str,
    pub location: String,
}

/// The per-call-site tally, shared by the layer and the thread that reports windows a quiet call
/// site left behind.
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<Identifier, Window>>,
}

impl RateLimiter {
    /// Whether an event of `metadata` may be written at `now`, and the report of the call site's
    /// previous window when this event closed one that suppressed lines.
    pub fn admit(&self, metadata: &'static Metadata<'static>, now: Instant) -> (bool, Option<Suppressed>) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window =
            windows.entry(metadata.callsite()).or_insert(Window { started: now, written: 0, suppressed: 0, metadata });
        let mut report = None;
        if now.saturating_duration_since(window.started) >= WINDOW {
            report = take_report(window);
            window.started = now;
            window.written = 0;
        }
        if window.written < LINES_PER_WINDOW {
            window.written += 1;
            (true, report)
        } else {
            window.suppressed += 1;
            (false, report)
        }
    }

    /// The reports of every window that ended by `now` with lines suppressed (their call sites
    /// went quiet, so no event of theirs will close them).
    pub fn closed_windows(&self, now: Instant) -> Vec<Suppressed> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows
            .values_mut()
            .filter(|w| w.suppressed > 0 && now.saturating_duration_since(w.started) >= WINDOW)
            .filter_map(|w| {
                w.started = now;
                w.written = 0;
                take_report(w)
            })
            .collect()
    }
}

fn take_report(window: &mut Window) -> Option<Suppressed> {
    let count = std::mem::take(&mut window.suppressed);
    (count > 0).then(|| Suppressed {
        count,
        level: *window.metadata.level(),
        target: window.metadata.target(),
        location: format!("{}:{}", window.metadata.file().unwrap_or("?"), window.metadata.line().unwrap_or(0)),
    })
}

fn report(suppressed: &Suppressed) {
    tracing::warn!(
        target: SUPPRESSED_TARGET,
        suppressed = suppressed.count,
        level = %suppressed.level,
        source_target = suppressed.target,
        location = %suppressed.location,
        window_secs = WINDOW.as_secs(),
        per_window = LINES_PER_WINDOW,
        "log lines suppressed: one call site wrote more than its allowance per window"
    );
}

/// The layer that applies the limiter to every event before any destination sees it.
pub struct RateLimitLayer {
    limiter: Arc<RateLimiter>,
}

impl RateLimitLayer {
    /// The layer, and the thread it starts that reports the windows of call sites that went quiet.
    pub fn start() -> Self {
        let limiter = Arc::new(RateLimiter::default());
        let reporter = limiter.clone();
        // A plain thread: logging is set up before (and outlives) the async runtime.
        let spawned = std::thread::Builder::new().name("log-limit".into()).spawn(move || {
            loop {
                std::thread::sleep(WINDOW / 4);
                for suppressed in reporter.closed_windows(crate::clock::monotonic()) {
                    report(&suppressed);
                }
            }
        });
        if let Err(e) = spawned {
            // Without the thread a quiet call site's last count is reported at its next line instead.
            eprintln!("whale-trader: the log-limit reporter thread could not start: {e}");
        }
        Self { limiter }
    }
}

/// Lines that must never be dropped, or that are bounded otherwise (see the module's comment).
fn exempt(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    target == AUDIT_TARGET || target == PERF_TARGET || target == SUPPRESSED_TARGET || *metadata.level() > Level::WARN
}

impl<S: Subscriber> Layer<S> for RateLimitLayer {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if exempt(metadata) {
            return true;
        }
        let (admitted, closed) = self.limiter.admit(metadata, crate::clock::monotonic());
        if let Some(suppressed) = closed {
            report(&suppressed);
        }
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_of_a_warning() -> &'static Metadata<'static> {
        struct Capture(Mutex<Option<&'static Metadata<'static>>>);
        impl Subscriber for Capture {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn event(&self, event: &Event<'_>) {
                *self.0.lock().unwrap() = Some(event.metadata());
            }
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }
        let capture = Arc::new(Capture(Mutex::new(None)));
        tracing::subscriber::with_default(capture.clone(), || tracing::warn!("flood"));
        let metadata = capture.0.lock().unwrap().take();
        metadata.expect("the warning was captured")
    }

    #[test]
    fn a_call_site_writes_its_allowance_per_window_and_the_rest_is_counted() {
        let limiter = RateLimiter::default();
        let metadata = metadata_of_a_warning();
        let start = crate::clock::monotonic();
        let admitted = (0..1_000).filter(|_| limiter.admit(metadata, start).0).count();
        assert_eq!(admitted, LINES_PER_WINDOW as usize);
        assert!(limiter.closed_windows(start + WINDOW / 2).is_empty(), "the window is still open");

        let (admitted, report) = limiter.admit(metadata, start + WINDOW);
        assert!(admitted, "a new window writes again");
        let report = report.expect("the closed window's count is reported");
        assert_eq!(report.count, 1_000 - u64::from(LINES_PER_WINDOW));
        assert_eq!(report.level, Level::WARN);
        assert!(report.location.contains("rate_limit.rs"), "{report:?}");
    }

    #[test]
    fn a_quiet_call_site_is_reported_by_the_sweep_once() {
        let limiter = RateLimiter::default();
        let metadata = metadata_of_a_warning();
        let start = crate::clock::monotonic();
        for _ in 0..=LINES_PER_WINDOW {
            limiter.admit(metadata, start);
        }
        let reports = limiter.closed_windows(start + WINDOW);
        assert_eq!(reports.iter().map(|r| r.count).collect::<Vec<_>>(), [1]);
        assert!(limiter.closed_windows(start + WINDOW * 3).is_empty(), "reported once");
    }

    #[test]
    fn the_audit_trail_timings_and_info_lines_are_never_limited() {
        assert!(!exempt(metadata_of_a_warning()));
        assert!(exempt(&Metadata::new(
            "audit",
            AUDIT_TARGET,
            Level::INFO,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&DUMMY)),
            tracing::metadata::Kind::EVENT,
        )));
    }

    struct Dummy;
    impl tracing::callsite::Callsite for Dummy {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unimplemented!()
        }
    }
    static DUMMY: Dummy = Dummy;
}
