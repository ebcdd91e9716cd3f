//! Work splitting for the CPU backend's threads: natively rayon's pool of one thread per
//! core; in the browser's threaded build (wasm `atomics`, see scripts/trunk-variants.sh) a
//! rayon pool of Web Workers over the training worker's shared memory, which the worker
//! starts ([`browser`]); the other browser builds run every chunk on their one thread.
//!
//! `0..n` is cut into chunks of a fixed grain, and the threads take chunks from a shared
//! counter until none is left: a thread that is descheduled by other load on the machine
//! holds up only the chunk it is in, not a fixed half of the work. The callers compute
//! every item the same way whichever chunk it falls in (and whichever thread takes it), so
//! results are the same bit for bit on any number of threads.

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
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
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if threads > 1 && chunks > 1 {
        let next = AtomicUsize::new(0);
        // Workers compute in the caller's floating-point mode (denormals flushed or not).
        let mode = fp_mode::get();
        let work = || loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks {
                break;
            }
            f(c * grain, ((c + 1) * grain).min(n));
        };
        rayon::scope(|s| {
            for _ in 1..threads.min(chunks) {
                s.spawn(|_| {
                    let saved = fp_mode::get();
                    fp_mode::set(mode);
                    work();
                    fp_mode::set(saved);
                });
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

/// The browser's thread pool: how many threads the CPU backend uses there. One until the
/// training worker has started a pool (threaded build, cross-origin isolated page), then
/// the pool's size or fewer, as the page asks (`threads=` in the link, the More menu).
/// Results do not depend on it (see the module's comment), so it may change between steps.
#[cfg_attr(not(target_feature = "atomics"), allow(dead_code))]
pub mod browser {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Threads in the pool (0: none started).
    static POOL: AtomicUsize = AtomicUsize::new(0);
    /// Threads asked for (0: all of the pool).
    static WANTED: AtomicUsize = AtomicUsize::new(0);

    /// Whether this build can run threads (wasm `atomics`; always natively).
    pub const fn threaded_build() -> bool {
        cfg!(any(not(target_arch = "wasm32"), target_feature = "atomics"))
    }

    /// Records a started pool of `n` threads.
    pub fn set_pool(n: usize) {
        POOL.store(n, Ordering::Relaxed);
    }

    pub fn pool() -> usize {
        POOL.load(Ordering::Relaxed)
    }

    /// Asks for `n` threads (0: all); more than the pool gives the pool.
    pub fn set_wanted(n: usize) {
        WANTED.store(n, Ordering::Relaxed);
    }

    pub fn wanted() -> usize {
        WANTED.load(Ordering::Relaxed)
    }

    /// The threads the CPU backend uses now.
    pub fn threads() -> usize {
        let pool = pool().max(1);
        match wanted() {
            0 => pool,
            n => n.min(pool),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_pool_bounds_what_is_asked() {
            assert_eq!(threads(), 1, "no pool: one thread");
            set_wanted(4);
            assert_eq!(threads(), 1, "asking for more than the pool gives the pool");
            set_pool(8);
            assert_eq!(threads(), 4);
            set_wanted(0);
            assert_eq!(threads(), 8, "0: all of the pool");
            set_wanted(20);
            assert_eq!(threads(), 8);
            set_pool(0);
            set_wanted(0);
            assert_eq!(threads(), 1);
        }
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

/// The SSE control register's denormal handling (x86-64; elsewhere a no-op).
pub(crate) mod fp_mode {
    /// Flush-to-zero (bit 15) and denormals-are-zero (bit 6).
    #[cfg(target_arch = "x86_64")]
    const FTZ_DAZ: u32 = 0x8040;

    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub fn get() -> u32 {
        #[cfg(target_arch = "x86_64")]
        {
            let mut v = 0u32;
            // SAFETY: stmxcsr stores the 32-bit MXCSR to the given address.
            unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut v, options(nostack, preserves_flags)) };
            v
        }
        #[cfg(not(target_arch = "x86_64"))]
        0
    }

    pub fn set(v: u32) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: loads a value read by `get` (possibly with FTZ/DAZ added): valid MXCSR bits.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &v, options(nostack, readonly, preserves_flags))
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = v;
    }

    /// While alive, this thread (and the workers of `for_chunks` it calls) flushes
    /// denormal results and inputs to zero when `on`; the previous mode comes back on drop.
    /// Natively a denormal operand makes an x86 multiply, FMA or divide take a microcode
    /// assist (about 100 cycles): a sigmoid layer whose units saturate produces a few, and
    /// the weight-gradient products and SGD over them then ran 30-80 % slower.
    pub struct FlushDenormals(Option<u32>);

    impl FlushDenormals {
        pub fn new(on: bool) -> Self {
            #[cfg(target_arch = "x86_64")]
            if on {
                let saved = get();
                set(saved | FTZ_DAZ);
                return FlushDenormals(Some(saved));
            }
            let _ = on;
            FlushDenormals(None)
        }
    }

    impl Drop for FlushDenormals {
        fn drop(&mut self) {
            if let Some(v) = self.0 {
                set(v);
            }
        }
    }
}
