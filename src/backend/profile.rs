//! `Profiled<B>`: a backend that forwards every op to `B` and adds up the wall time of
//! each, per op and shape (`aeplay bench --profile`). Native only. On the CPU backend the
//! ops run when called, so these are the ops' real times; on a GPU backend they are only
//! the time to record each op. Timings belong in benchmarks, never in tests.

use std::collections::HashMap;
use std::time::Instant;

use super::{Backend, Wrapper};

pub struct Profiled<B: Backend> {
    pub inner: B,
    /// When false, ops are forwarded untimed.
    enabled: bool,
    /// (op and shape, calls, wall seconds, seconds on a CPU of the calling thread), in
    /// first-call order.
    times: Vec<(String, u64, f64, f64)>,
    index: HashMap<String, usize>,
}

impl<B: Backend> Profiled<B> {
    /// Wraps `inner`; `enabled` false forwards every op without timing it.
    pub fn new(inner: B, enabled: bool) -> Self {
        Profiled { inner, enabled, times: Vec::new(), index: HashMap::new() }
    }

    /// Forgets what was timed so far (after a warm-up).
    pub fn reset(&mut self) {
        self.times.clear();
        self.index.clear();
    }

    /// (op and shape, calls, wall seconds, seconds the calling thread ran) per op, in
    /// first-call order. The second time leaves out what other processes took from the
    /// core, but also the work of helper threads: it is the op's cost with `--threads 1`.
    pub fn report(&self) -> &[(String, u64, f64, f64)] {
        &self.times
    }

    fn timed<R>(&mut self, key: impl FnOnce() -> String, f: impl FnOnce(&mut B) -> R) -> R {
        if !self.enabled {
            return f(&mut self.inner);
        }
        let (c0, t0) = (thread_cpu_ns().unwrap_or(0), Instant::now());
        let r = f(&mut self.inner);
        let dt = t0.elapsed().as_secs_f64();
        let dc = thread_cpu_ns().unwrap_or(0).saturating_sub(c0) as f64 * 1e-9;
        let key = key();
        let i = *self.index.entry(key.clone()).or_insert_with(|| {
            self.times.push((key, 0, 0.0, 0.0));
            self.times.len() - 1
        });
        self.times[i].1 += 1;
        self.times[i].2 += dt;
        self.times[i].3 += dc;
        r
    }
}

/// Every op goes to the wrapped backend (`delegate.rs`), timed under its label.
impl<B: Backend> Wrapper for Profiled<B> {
    type Inner = B;
    fn inner(&self) -> &B {
        &self.inner
    }
    fn inner_mut(&mut self) -> &mut B {
        &mut self.inner
    }
    fn run<R>(&mut self, label: impl FnOnce() -> String, f: impl FnOnce(&mut B) -> R) -> R {
        self.timed(label, f)
    }
}

/// Nanoseconds the calling thread has run on a CPU (`CLOCK_THREAD_CPUTIME_ID`, Linux; None
/// elsewhere). A clock that does not advance while other processes have the core, for
/// timing one-thread work on a shared machine.
pub fn thread_cpu_ns() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut t = Timespec { sec: 0, nsec: 0 };
        // SAFETY: libc's clock_gettime writes one timespec (64-bit Linux layout).
        if cfg!(target_pointer_width = "64") && unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0 {
            return Some(t.sec as u64 * 1_000_000_000 + t.nsec as u64);
        }
    }
    None
}

/// (ns on a CPU, ns runnable but waiting for one) summed over this process's threads
/// (Linux `/proc/self/task/*/schedstat`; None elsewhere). The second figure is the time the
/// machine's other load took from us.
pub fn process_sched_ns() -> Option<(u64, u64)> {
    let mut run_wait = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let s = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        let mut f = s.split_whitespace().map(|v| v.parse::<u64>().ok());
        run_wait.0 += f.next()??;
        run_wait.1 += f.next()??;
    }
    Some(run_wait)
}
