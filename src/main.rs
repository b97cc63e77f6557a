//! The `nicsrs-batch` binary: everything lives in the library.
//!
//! Memory comes from mimalloc. Validation allocates and frees a few million small strings
//! and maps on several threads, and each order's tree is built by the parser's thread and
//! dropped by a checker's: glibc's malloc serialises those frees on its arenas' locks, and
//! a 10,000-order manifest took a third longer to validate (`cargo bench --bench validate`).

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` (mimalloc.h): 0 commits arena memory as it is used,
/// rather than up front.
const ARENA_EAGER_COMMIT: mi_option_t = 4;
/// `mi_option_purge_delay` (mimalloc.h): 0 gives freed memory back to the system at once.
const PURGE_DELAY: mi_option_t = 15;

/// Keeps the resident memory to what is in use: with mimalloc's defaults, a run holds
/// about twice the memory it needs (60 MB instead of 32 MB for 10,000 orders), for no
/// measurable speed.
extern "C" fn tune_allocator() {
    // SAFETY: mimalloc's option setters take any value and may be called at any time;
    // before the first allocation, as here, they apply to all of it.
    unsafe {
        mi_option_set(ARENA_EAGER_COMMIT, 0);
        mi_option_set(PURGE_DELAY, 0);
    }
}

/// On Linux the allocator is tuned before `main`, before the first allocation.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

fn main() -> std::process::ExitCode {
    #[cfg(not(target_os = "linux"))]
    tune_allocator();
    nicsrs_batch::cli::main().into()
}
