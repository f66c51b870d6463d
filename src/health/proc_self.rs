//! The daemon's own process figures from Linux `/proc/self`.
//!
//! One read of `/proc/self/status` gives both RSS and the thread count, and counting `/proc/self/fd`
//! gives the open files. That is cheaper than sysinfo's process refresh, whose thread listing
//! refreshes every task as a process. Elsewhere these figures are `None`.

use std::time::Duration;

use super::metrics::ProcessFigures;

/// RSS, threads and open files of this process, each `None` when it cannot be read.
pub fn read_process_figures() -> ProcessFigures {
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let (rss_bytes, threads) = status.as_deref().map(parse_status).unwrap_or((None, None));
    ProcessFigures { rss_bytes, threads, open_files: count_open_files() }
}

/// `VmRSS` (in bytes) and `Threads` from the text of `/proc/<pid>/status`.
pub fn parse_status(text: &str) -> (Option<u64>, Option<u64>) {
    // "VmRSS:	    1964 kB": the kernel always reports kibibytes here.
    let rss_bytes = status_number(text, "VmRSS").and_then(|kib| kib.checked_mul(1024));
    (rss_bytes, status_number(text, "Threads"))
}

/// The number that field `name` of `/proc/<pid>/status` starts with (`VmRSS`, `TracerPid`, ...),
/// `None` when the field is missing or not a number.
pub fn status_number(text: &str, name: &str) -> Option<u64> {
    let rest = text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Entries of `/proc/self/fd`. The directory handle used to list it is one of them, so it is not
/// counted.
fn count_open_files() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    let count = entries.filter(|entry| entry.is_ok()).count() as u64;
    Some(count.saturating_sub(1))
}

/// The CPU time (user + system) this process has used so far, from `/proc/self/stat`; used to measure
/// what sampling costs. Resolution is one clock tick (10 ms with Linux's fixed USER_HZ of 100).
pub fn process_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat_cpu_ticks(&text).map(|ticks| Duration::from_millis(ticks.saturating_mul(10)))
}

/// `utime + stime` in clock ticks from the text of `/proc/<pid>/stat`.
///
/// The command name (field 2) is in parentheses and may contain spaces, so fields are counted
/// after the last `)`: there, utime and stime are the 12th and 13th.
pub fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    let after_name = text.get(text.rfind(')')? + 1..)?;
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime.saturating_add(stime))
}

/// The CPU time the calling thread has run, in nanoseconds, from `/proc/thread-self/schedstat`
/// (finer than [`process_cpu_time`]; the bench is single-threaded).
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gives_rss_in_bytes_and_threads() {
        let text = "Name:\tcat\nVmRSS:\t    1964 kB\nRssAnon:\t 100 kB\nThreads:\t7\n";
        assert_eq!(parse_status(text), (Some(1964 * 1024), Some(7)));
        assert_eq!(parse_status("Name:\tx\n"), (None, None));
        assert_eq!(parse_status("VmRSS:\tlots kB\nThreads:\t\n"), (None, None));
        assert_eq!(status_number("TracerPid:\t0\nRssFile:\t 812 kB\n", "RssFile"), Some(812));
        assert_eq!(status_number("VmRSSx:\t5\n", "VmRSS"), None);
    }

    #[test]
    fn stat_counts_fields_after_the_command_name() {
        // A command name with spaces and a ')' inside must not shift the fields.
        let text = "12135 (my cat) x) R 12132 12132 8554 0 -1 4194304 98 0 0 0 17 4 0 0 20 0 1 0 35186";
        assert_eq!(parse_stat_cpu_ticks(text), Some(21));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        assert_eq!(parse_stat_cpu_ticks("1 (x) R 1 2"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_figures() {
        let figures = read_process_figures();
        assert!(figures.rss_bytes.is_some_and(|rss| rss > 0));
        assert!(figures.threads.is_some_and(|threads| threads >= 1));
        // stdin, stdout and stderr at least.
        assert!(figures.open_files.is_some_and(|files| files >= 3));
        assert!(process_cpu_time().is_some());
        assert!(thread_cpu_time().is_some_and(|t| t > Duration::ZERO));
    }
}
