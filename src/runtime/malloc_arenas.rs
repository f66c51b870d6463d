//! How many heaps the C allocator keeps for the daemon's threads.
//!
//! glibc gives each thread that allocates while another holds the heap's lock an arena of its own,
//! up to eight per core, and each keeps the memory its thread once freed. The daemon's threads
//! (runtime workers, store writer, log writers, health sampler) allocate little and rarely at the
//! same time, and small allocations come from each thread's own cache without an arena lock, so
//! the extra arenas are mostly idle memory: capped at two, the daemon holds 0.9 MB less at rest and
//! 2 MB less following 1,000 wallets, with the same poll cadence and CPU (BENCHMARKS.md, "Third
//! round"). Two rather than one leave a second heap for a thread that finds the first one locked.

/// Arenas for the whole process, the main heap included.
const DAEMON_MALLOC_ARENAS: i32 = 2;

/// Caps the allocator's arenas. Called first thing in the daemon, before any thread is started:
/// arenas already made stay.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn limit_malloc_arenas() {
    // SAFETY: `mallopt` only sets an allocator parameter; no memory is passed. It returns 0 when
    // the value is refused, which leaves glibc's default: nothing to undo.
    let accepted = unsafe { libc::mallopt(libc::M_ARENA_MAX, DAEMON_MALLOC_ARENAS) };
    if accepted == 0 {
        eprintln!("warning: the C allocator refused a cap of {DAEMON_MALLOC_ARENAS} arenas; running with its default");
    }
}

/// Other C libraries (musl has one heap) keep their own policy.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_malloc_arenas() {}
