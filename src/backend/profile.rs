//! `Profiled<B>`: a backend that forwards every op to `B` and adds up the wall time of
//! each, per op and shape (`aeplay bench --profile`). Native only. On the CPU backend the
//! ops run when called, so these are the ops' real times; on a GPU backend they are only
//! the time to record each op. Timings belong in benchmarks, never in tests.

use std::collections::HashMap;
use std::time::Instant;

use super::{Backend, DataId, ReadFuture, View};
use crate::core::{Activation, LossKind, NoiseKind};

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

impl<B: Backend> Backend for Profiled<B> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn alloc(&mut self, len: usize) -> View {
        self.inner.alloc(len)
    }
    fn write(&mut self, dst: View, data: &[f32]) {
        self.timed(|| format!("write {}", dst.len), |b| b.write(dst, data))
    }
    fn read(&mut self, src: View) -> Vec<f32> {
        self.timed(|| format!("read {}", src.len), |b| b.read(src))
    }
    fn read_async(&mut self, src: View) -> ReadFuture {
        self.timed(|| format!("read_async {}", src.len), |b| b.read_async(src))
    }
    fn flush(&mut self) {
        self.timed(|| "flush".into(), |b| b.flush())
    }
    fn max_buffer_bytes(&self) -> u64 {
        self.inner.max_buffer_bytes()
    }
    fn health(&self) -> Result<(), String> {
        self.inner.health()
    }
    fn work_counters(&self) -> Option<super::WorkCounters> {
        self.inner.work_counters()
    }
    fn upload_u8(&mut self, data: &[u8], dim: usize) -> DataId {
        self.inner.upload_u8(data, dim)
    }
    fn free(&mut self, buf: crate::backend::Buf) {
        self.inner.free(buf)
    }
    fn free_data(&mut self, data: DataId) {
        self.inner.free_data(data)
    }
    fn allocated_bytes(&self) -> u64 {
        self.inner.allocated_bytes()
    }
    fn gather(&mut self, data: DataId, idx: &[u32], out: View) {
        self.timed(|| format!("gather {}x{}", idx.len(), out.len / idx.len().max(1)), |b| b.gather(data, idx, out))
    }
    fn matmul(&mut self, a: View, b: View, c: View, m: usize, k: usize, n: usize, ta: bool, tb: bool, accumulate: bool) {
        let form = match (ta, tb) {
            (false, false) => "A·B",
            (true, false) => "Aᵀ·B",
            (false, true) => "A·Bᵀ",
            (true, true) => "Aᵀ·Bᵀ",
        };
        let acc = if accumulate { " +=" } else { "" };
        self.timed(|| format!("matmul {form} {m}x{k}x{n}{acc}"), |be| be.matmul(a, b, c, m, k, n, ta, tb, accumulate))
    }
    fn linear_forward(&mut self, x: View, w: View, bias: View, act: Activation, z: View, y: View, m: usize, k: usize, n: usize, tw: bool) {
        self.timed(|| format!("linear_forward {act:?} {m}x{k}x{n}"), |b| b.linear_forward(x, w, bias, act, z, y, m, k, n, tw))
    }
    fn linear_backward(&mut self, dz: View, w: View, y_prev: View, act_prev: Activation, dx: View, dz_prev: View, m: usize, k: usize, n: usize, tw: bool) {
        self.timed(|| format!("linear_backward {act_prev:?} {m}x{k}x{n}"), |b| b.linear_backward(dz, w, y_prev, act_prev, dx, dz_prev, m, k, n, tw))
    }
    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize) {
        self.timed(|| format!("bias_act_forward {act:?} {}x{cols}", x.len / cols.max(1)), |b| b.bias_act_forward(x, bias, act, out, cols))
    }
    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View) {
        self.timed(|| format!("act_backward {act:?} {}", dy.len), |b| b.act_backward(dy, y, act, dz))
    }
    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        self.timed(|| format!("bias_grad {}x{cols}", dz.len / cols.max(1)), |b| b.bias_grad(dz, db, cols, accumulate))
    }
    fn loss_forward_backward(&mut self, kind: LossKind, out: View, target: View, cols: usize, scale: f32, dout: View, row_loss: View) {
        self.timed(|| format!("loss {kind:?} {}x{cols}", out.len / cols.max(1)), |b| b.loss_forward_backward(kind, out, target, cols, scale, dout, row_loss))
    }
    fn upload_f32(&mut self, data: &[f32], dim: usize) -> DataId {
        self.inner.upload_f32(data, dim)
    }
    fn gather_onehot(&mut self, labels: DataId, idx: &[u32], out: View, classes: usize) {
        self.timed(|| format!("gather_onehot {}x{classes}", idx.len()), |b| b.gather_onehot(labels, idx, out, classes))
    }
    fn noise(&mut self, kind: NoiseKind, x: View, out: View, seed: u32, stream: u32) {
        self.timed(|| format!("noise {} {}", kind.label(), x.len), |b| b.noise(kind, x, out, seed, stream))
    }
    fn sparsity_grad(&mut self, colsum: View, dy: View, rows: usize, rho: f32, beta: f32) {
        self.timed(|| format!("sparsity_grad {rows}x{}", colsum.len), |b| b.sparsity_grad(colsum, dy, rows, rho, beta))
    }
    fn reparam_forward(&mut self, h: View, eps: View, z: View, row_kl: View, latent: usize, seed: u32, stream: u32, sample: bool) {
        self.timed(|| format!("reparam_forward {}x{latent}", row_kl.len), |b| b.reparam_forward(h, eps, z, row_kl, latent, seed, stream, sample))
    }
    fn reparam_backward(&mut self, h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32) {
        self.timed(|| format!("reparam_backward {}", dz.len), |b| b.reparam_backward(h, eps, dz, dh, latent, scale))
    }
    fn argmax_correct(&mut self, out: View, target: View, cols: usize, row_out: View) {
        self.timed(|| format!("argmax_correct {}x{cols}", row_out.len), |b| b.argmax_correct(out, target, cols, row_out))
    }
    fn sgd_step(&mut self, params: View, grads: View, lr: f32) {
        self.timed(|| format!("sgd_step {}", params.len), |b| b.sgd_step(params, grads, lr))
    }
    fn axpy(&mut self, x: View, y: View, a: f32) {
        self.timed(|| format!("axpy {}", x.len), |b| b.axpy(x, y, a))
    }
    fn momentum_step(&mut self, params: View, grads: View, vel: View, lr: f32, momentum: f32) {
        self.timed(|| format!("momentum_step {}", params.len), |b| b.momentum_step(params, grads, vel, lr, momentum))
    }
    fn adam_step(&mut self, params: View, grads: View, m: View, v: View, lr: f32, beta1: f32, beta2: f32, eps: f32, t: u64) {
        self.timed(|| format!("adam_step {}", params.len), |b| b.adam_step(params, grads, m, v, lr, beta1, beta2, eps, t))
    }
    fn sum_into(&mut self, src: View, dst: View, accumulate: bool) {
        self.timed(|| format!("sum_into {}", src.len), |b| b.sum_into(src, dst, accumulate))
    }
    fn copy(&mut self, src: View, dst: View) {
        self.timed(|| format!("copy {}", src.len), |b| b.copy(src, dst))
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
