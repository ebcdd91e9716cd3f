//! Work splitting for the CPU backend's threads (native only; the browser build runs every
//! chunk on its one thread).
//!
//! `0..n` is cut into chunks of a fixed grain, and the threads take chunks from a shared
//! counter until none is left: a thread that is descheduled by other load on the machine
//! holds up only the chunk it is in, not a fixed half of the work. The callers compute
//! every item the same way whichever chunk it falls in (and whichever thread takes it), so
//! results are the same bit for bit on any number of threads.

#[cfg(not(target_arch = "wasm32"))]
use std::sync::atomic::{AtomicUsize, Ordering};

/// A raw pointer that may cross to a worker thread: the chunks the threads write are
/// disjoint, and inputs are only read.
#[derive(Clone, Copy)]
pub(crate) struct Ptr<T>(pub T);
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}

/// Calls `f(start, end)` for consecutive chunks of `0..n`, each `grain` long (the last may
/// be shorter), on up to `threads` threads (the caller's and rayon workers). With one
/// thread, or one chunk, everything runs in order on the caller's thread.
pub(crate) fn for_chunks(threads: usize, n: usize, grain: usize, f: &(dyn Fn(usize, usize) + Sync)) {
    let grain = grain.max(1);
    let chunks = n.div_ceil(grain);
    #[cfg(not(target_arch = "wasm32"))]
    if threads > 1 && chunks > 1 {
        let next = AtomicUsize::new(0);
        let work = || loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks {
                break;
            }
            f(c * grain, ((c + 1) * grain).min(n));
        };
        rayon::scope(|s| {
            for _ in 1..threads.min(chunks) {
                s.spawn(|_| work());
            }
            work();
        });
        return;
    }
    let _ = threads;
    for c in 0..chunks {
        f(c * grain, ((c + 1) * grain).min(n));
    }
}

/// A grain for `n` items on `threads` threads: about `per_thread` chunks per thread (so a
/// descheduled thread's share can be taken over), rounded up to a multiple of `align`, and
/// at least `min`. Depends on `threads`: use it only where the chunking does not change
/// the result (every item is computed the same way in any chunk).
pub(crate) fn grain(n: usize, threads: usize, per_thread: usize, align: usize, min: usize) -> usize {
    let parts = (threads.max(1) * per_thread).max(1);
    n.div_ceil(parts).next_multiple_of(align.max(1)).max(min).max(1)
}
