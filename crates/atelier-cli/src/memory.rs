//! How the server's memory goes back to the system after a burst.
//!
//! glibc gives each thread that allocates its own arena (up to eight per core), and keeps what a
//! burst freed there: a long series summarised a page at a time through eight SQLite reader
//! threads left about 15 MB in each of their arenas, and the server's memory at its high-water
//! mark long after. The server limits glibc to two arenas, before any thread starts, and hands
//! free pages back every 10 s. On other C libraries both are left alone.

/// Limits glibc to two arenas: on this kind of machine (two cores) no more threads allocate at
/// once, and the SQLite and tokio threads then reuse each other's freed memory.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before the runtime starts any thread; mallopt only sets glibc's own
    // tuning and returns 0 when it refuses, which leaves the default (harmless).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands glibc's free pages back to the system every 10 s, for the life of the server.
pub async fn return_freed_memory() {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        ticks.tick().await;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory of glibc's own heaps; it takes the
        // arenas' locks itself and touches no memory the program holds.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
