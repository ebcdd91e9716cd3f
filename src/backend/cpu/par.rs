//! Work splitting for the CPU backend's threads: natively a team of one thread per core;
//! in the browser's threaded build (wasm `atomics`, see scripts/trunk-variants.sh) a team
//! hosted on a rayon pool of Web Workers over the training worker's shared memory, which the
//! worker starts ([`browser`], wasm-bindgen-rayon); the other browser builds run every
//! chunk on their one thread.
//!
//! `0..n` is cut into chunks of a fixed grain, and the threads take chunks from a shared
//! counter until none is left: a thread that is descheduled by other load on the machine
//! holds up only the chunk it is in, not a fixed half of the work. The callers compute
//! every item the same way whichever chunk it falls in (and whichever thread takes it), so
//! results are the same bit for bit on any number of threads.
//!
//! Why a team of our own and not rayon's scopes: a training step is 15 to 30 parallel
//! regions of 50 µs to a few ms, back to back. Handing each to rayon's pool (and waking a
//! sleeping worker for it) cost about 1.3 ms per step in the browser, where a worker wakes
//! through `Atomics.wait`/`notify` (the 2-thread page gained 1.17× at batch 16). The team's
//! workers spin on a generation counter between regions (the caller takes part in each) and
//! park only after [`SPINS`] idle rounds, so within a step a region starts in the time of
//! an atomic load.

/// A raw pointer that may cross to a worker thread: the chunks the threads write are
/// disjoint, and inputs are only read.
#[derive(Clone, Copy)]
pub(crate) struct Ptr<T>(pub T);
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}

/// Calls `f(start, end)` for consecutive chunks of `0..n`, each `grain` long (the last may
/// be shorter), on up to `threads` threads (the caller's and the team's). With one thread,
/// one chunk, or the team busy with another caller's region, everything runs in order on the
/// caller's thread (the same results).
pub(crate) fn for_chunks(threads: usize, n: usize, grain: usize, f: &(dyn Fn(usize, usize) + Sync)) {
    let grain = grain.max(1);
    let chunks = n.div_ceil(grain);
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    if threads > 1 && chunks > 1 && team::run(threads.min(chunks), n, grain, f) {
        return;
    }
    let _ = threads;
    for c in 0..chunks {
        f(c * grain, ((c + 1) * grain).min(n));
    }
}

/// Idle rounds a team worker spins through (an atomic load each) before it parks.
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
const SPINS: u32 = 1 << 17;

/// The team: worker threads that take the chunks of one parallel region at a time with the
/// caller. Natively its threads are spawned when first needed; in the browser the worker
/// puts them on the wasm-bindgen-rayon pool ([`team::host_on_rayon`]).
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
pub(crate) mod team {
    use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
    use std::sync::{Arc, Mutex};
    use std::thread::Thread;

    use super::{fp_mode, SPINS};

    /// One parallel region.
    struct Job {
        f: *const (dyn Fn(usize, usize) + Sync),
        n: usize,
        grain: usize,
        chunks: usize,
        next: AtomicUsize,
        /// Workers with an index below this take chunks; the others only acknowledge.
        helpers: usize,
        /// The caller's floating-point mode (denormals flushed or not).
        mode: u32,
        /// A chunk panicked on a worker (the caller panics in turn once all are done).
        panicked: AtomicBool,
    }

    impl Job {
        fn work(&self) {
            // SAFETY: the caller keeps `f` alive until every worker has acknowledged the job.
            let f = unsafe { &*self.f };
            loop {
                let c = self.next.fetch_add(1, Relaxed);
                if c >= self.chunks {
                    break;
                }
                f(c * self.grain, ((c + 1) * self.grain).min(self.n));
            }
        }
    }

    struct Worker {
        thread: Thread,
        asleep: AtomicBool,
        /// The last generation this worker is done with.
        seen: AtomicU64,
    }

    /// Generation of the current region (bumped by each caller).
    static GEN: AtomicU64 = AtomicU64::new(0);
    static JOB: AtomicPtr<Job> = AtomicPtr::new(std::ptr::null_mut());
    /// The workers; locked by a caller for the whole region (one region at a time).
    static WORKERS: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());

    fn worker_loop(me: Arc<Worker>, index: usize) {
        let mut seen = me.seen.load(Acquire);
        loop {
            let mut spins = 0u32;
            let g = loop {
                let g = GEN.load(Acquire);
                if g != seen {
                    break g;
                }
                if spins < SPINS {
                    spins += 1;
                    std::hint::spin_loop();
                    continue;
                }
                me.asleep.store(true, SeqCst);
                if GEN.load(SeqCst) == seen {
                    std::thread::park();
                }
                me.asleep.store(false, SeqCst);
            };
            seen = g;
            // SAFETY: a region's caller stores its job before bumping GEN and waits for this
            // worker's acknowledgement before the job goes.
            let job = unsafe { &*JOB.load(Acquire) };
            if index < job.helpers {
                let saved = fp_mode::get();
                fp_mode::set(job.mode);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.work())).is_err() {
                    job.panicked.store(true, SeqCst);
                }
                fp_mode::set(saved);
            }
            me.seen.store(g, Release);
        }
    }

    /// A new worker registered with the team (the list locked by the caller).
    fn new_worker(list: &mut Vec<Arc<Worker>>, thread: Thread) -> Arc<Worker> {
        let w = Arc::new(Worker { thread, asleep: AtomicBool::new(false), seen: AtomicU64::new(GEN.load(SeqCst)) });
        list.push(w.clone());
        w
    }

    /// Natively: spawns workers until the team has `n`.
    #[cfg(not(target_arch = "wasm32"))]
    fn grow(list: &mut Vec<Arc<Worker>>, n: usize) {
        while list.len() < n {
            let index = list.len();
            let (tx, rx) = std::sync::mpsc::channel::<Arc<Worker>>();
            let spawned = std::thread::Builder::new().name(format!("aeplay-cpu-{}", index + 1)).spawn(move || {
                if let Ok(me) = rx.recv() {
                    worker_loop(me, index);
                }
            });
            let Ok(handle) = spawned else { return };
            let _ = tx.send(new_worker(list, handle.thread().clone()));
        }
    }

    /// In the browser the pool's threads are the team (see `host_on_rayon`).
    #[cfg(target_arch = "wasm32")]
    fn grow(_: &mut Vec<Arc<Worker>>, _: usize) {}

    /// Puts `n` team workers on rayon's global pool (wasm-bindgen-rayon's Web Workers, which
    /// they then occupy for good); returns once they are registered.
    #[cfg(target_arch = "wasm32")]
    pub fn host_on_rayon(n: usize) {
        let registered = Arc::new(AtomicUsize::new(0));
        for index in 0..n {
            let registered = registered.clone();
            rayon::spawn(move || {
                let me = new_worker(&mut WORKERS.lock().unwrap_or_else(|e| e.into_inner()), std::thread::current());
                registered.fetch_add(1, SeqCst);
                worker_loop(me, index);
            });
        }
        while registered.load(SeqCst) < n {
            std::hint::spin_loop();
        }
    }

    /// Runs the region on the caller and up to `threads - 1` workers. False (nothing run):
    /// the team is busy with another caller's region, or has no worker.
    pub fn run(threads: usize, n: usize, grain: usize, f: &(dyn Fn(usize, usize) + Sync)) -> bool {
        let Ok(mut list) = WORKERS.try_lock() else { return false };
        grow(&mut list, threads - 1);
        if list.is_empty() {
            return false;
        }
        // SAFETY (lifetime): `f` outlives the region: this function waits below until every
        // worker is done with the job.
        let f: *const (dyn Fn(usize, usize) + Sync + '_) = f;
        let f: *const (dyn Fn(usize, usize) + Sync) = unsafe { std::mem::transmute(f) };
        let job = Job { f, n, grain, chunks: n.div_ceil(grain), next: AtomicUsize::new(0), helpers: threads - 1, mode: fp_mode::get(), panicked: AtomicBool::new(false) };
        JOB.store(&job as *const Job as *mut Job, Release);
        let g = GEN.fetch_add(1, SeqCst) + 1;
        for w in list.iter() {
            if w.asleep.load(SeqCst) {
                w.thread.unpark();
            }
        }
        // The job must outlive every worker's part, even if a chunk panics here.
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.work()));
        for w in list.iter() {
            while w.seen.load(Acquire) != g {
                std::hint::spin_loop();
            }
        }
        JOB.store(std::ptr::null_mut(), Release);
        drop(list);
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        assert!(!job.panicked.load(SeqCst), "a chunk of a parallel region panicked on a CPU worker thread");
        true
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
