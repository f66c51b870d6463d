//! Giving back the code pages that only start-up needed.
//!
//! Start-up runs code from all over the executable once (config parsing and validation, store
//! recovery and migrations, every task's construction), and the kernel maps the code around each
//! page touched as well, so after start-up most of the executable is resident although the
//! running daemon executes a small part of it. Those pages are clean copies of the file: telling
//! the kernel the process no longer needs them drops them from the process (they stay in the page
//! cache, shared and reclaimable) and the code that does run faults its pages back in on its next
//! use, from memory, once. This is what the kernel's own reclaim does to the same pages under
//! memory pressure, so it cannot change what the program computes. It brings the resident set at
//! rest from 21.3 MB to 18.0 MB; the price is one minor fault per page of code on its first run
//! after start-up, and none at rest (BENCHMARKS.md, "Fourth round").
//!
//! Only the executable's read-only segments are released; writable ones (data, relocated tables)
//! are left alone, since their pages may differ from the file. A read-only page can differ from
//! the file only when a debugger or a uprobe has written a breakpoint into it, and releasing it
//! removes the breakpoint: nothing is released while a debugger is attached, and a uprobe (e.g.
//! `perf probe`) placed before start-up ends is lost, so attach those once the daemon is up.

/// Releases the executable's read-only pages from the resident set and returns how many bytes were
/// released. Called once the daemon is up; any code still in use comes back on demand.
#[cfg(target_os = "linux")]
pub fn release_start_up_code() -> usize {
    if is_traced() {
        return 0;
    }
    let mut released = 0usize;
    // SAFETY: `dl_iterate_phdr` calls `release_read_only_segments` with a valid `dl_phdr_info` for
    // each loaded object and passes our pointer through untouched; it lives for the whole call.
    #[allow(unsafe_code)]
    unsafe {
        libc::dl_iterate_phdr(Some(release_read_only_segments), (&raw mut released).cast());
    }
    released
}

/// Other systems keep what their own reclaim decides.
#[cfg(not(target_os = "linux"))]
pub fn release_start_up_code() -> usize {
    0
}

/// For the first object `dl_iterate_phdr` reports, which is always the executable itself (shared
/// libraries are the C library's, small, and shared with other processes anyway): releases each
/// whole page of its read-only loaded segments, adds the bytes released to `*data`, and stops the
/// walk.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
unsafe extern "C" fn release_read_only_segments(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut std::ffi::c_void,
) -> libc::c_int {
    const STOP_WALK: libc::c_int = 1;
    // SAFETY: the C library passes a valid `dl_phdr_info`, and `data` is the `usize` handed to
    // `dl_iterate_phdr` above.
    let (info, released) = unsafe { (&*info, &mut *data.cast::<usize>()) };
    // A slice may not start at null, even an empty one: an object without program headers has
    // nothing to release.
    if info.dlpi_phdr.is_null() {
        return STOP_WALK;
    }
    // SAFETY: a non-null `dlpi_phdr` points at `dlpi_phnum` program headers, which stay mapped
    // while the executable is loaded.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let page = page_size();
    for header in headers.iter().filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W == 0) {
        let (start, end) = whole_pages(info.dlpi_addr as usize, header.p_vaddr as usize, header.p_memsz as usize, page);
        if end > start {
            // SAFETY: the range is whole pages of a read-only private file mapping of this
            // executable: the kernel re-reads each page from the file on its next access, so no
            // reference into it is invalidated. A refusal (e.g. locked pages) leaves them resident.
            let refused = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
            if refused == 0 {
                *released += end - start;
            }
        }
    }
    STOP_WALK
}

/// The whole pages inside a segment loaded at `base + vaddr` for `len` bytes: a partial page at
/// either end may be shared with a neighbouring segment, so it stays.
#[cfg(target_os = "linux")]
fn whole_pages(base: usize, vaddr: usize, len: usize, page: usize) -> (usize, usize) {
    let start = base.wrapping_add(vaddr);
    let end = start.wrapping_add(len);
    (start.next_multiple_of(page), end - end % page)
}

#[cfg(target_os = "linux")]
fn page_size() -> usize {
    // SAFETY: `sysconf` reads a constant of the system and touches no memory of ours.
    #[allow(unsafe_code)]
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).ok().filter(|s| s.is_power_of_two()).unwrap_or(4096)
}

/// Whether a debugger (or `strace`) is attached: `TracerPid` in the process's status is then
/// non-zero. An unreadable status counts as traced, so that nothing is released on a guess.
#[cfg(target_os = "linux")]
fn is_traced() -> bool {
    own_status_number("TracerPid").is_none_or(|tracer| tracer != 0)
}

#[cfg(target_os = "linux")]
fn own_status_number(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    crate::health::status_number(&status, name)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn whole_pages_leave_the_partial_pages_at_both_ends() {
        assert_eq!(whole_pages(0x1000, 0x0800, 0x3000, 0x1000), (0x2000, 0x4000));
        assert_eq!(whole_pages(0, 0x1000, 0x2000, 0x1000), (0x1000, 0x3000));
    }

    #[test]
    fn a_segment_within_one_page_releases_nothing() {
        let (start, end) = whole_pages(0x1000, 0x0100, 0x0200, 0x1000);
        assert!(end <= start);
    }

    #[test]
    fn released_code_runs_again_and_the_resident_set_shrinks() {
        let resident_kb = || own_status_number("RssFile").unwrap_or_else(|| panic!("no RssFile in /proc/self/status"));
        let before = resident_kb();
        let released = release_start_up_code();
        if is_traced() {
            assert_eq!(released, 0);
            return;
        }
        assert!(released > 0, "nothing released");
        let after = resident_kb();
        assert!(after < before, "file-backed resident set {before} kB -> {after} kB");
        // The code this test runs was among the pages released: running more of it proves it
        // comes back intact.
        assert_eq!(whole_pages(0, 0x1000, 0x2000, 0x1000), (0x1000, 0x3000));
    }
}
