//! Thread counts: matmuls and this crate's kernels run on rayon's global pool
//! (`RAYON_NUM_THREADS`, default: the physical cores); candle's element-wise ops on candle's own
//! pool (`CANDLE_NUM_THREADS`, default: `RAYON_NUM_THREADS`). Each pool reads its variable once,
//! at first use.
//!
//! candle's pool busy-waits between ops, so its workers compete with rayon's for the same
//! cores. Measured on 2 shared cores (other work running, load about 2.3), d 128, 4 layers,
//! batch 64 × 64, three runs each: training at 3.1–3.2 steps/s with both pools at 1 thread,
//! 2.9–3.9 with rayon at 2 and candle at 1, 3.0–3.2 with both at 2 (and 1.7–2.0 in an earlier
//! build, before [`crate::keep_freed_memory`]). So the default is all cores for rayon and one
//! thread for candle: [`set_thread_defaults`]. Decoding (small matmuls) was fastest on one
//! thread: 3,300–3,450 samples/s against 2,200–2,900 with rayon at 2.

/// Threads the matmuls use (`RAYON_NUM_THREADS`, else the number of physical cores).
pub fn num_threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// Sets `CANDLE_NUM_THREADS=1` unless it is already set (see the module docs for why);
/// `RAYON_NUM_THREADS` is left to the user.
///
/// # Safety
///
/// Changes the process environment: call it at the start of `main`, before any other thread
/// exists and before the first tensor operation (see [`std::env::set_var`]).
pub unsafe fn set_thread_defaults() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: the caller guarantees no other thread reads or writes the environment now.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}
