//! The CPU backend: buffers are host vectors; matrix products run the register-blocked
//! SIMD kernels of `gemm.rs` (AVX-512 or AVX2+FMA picked at run time natively, with rayon
//! threads; wasm `simd128` in the browser), element-wise ops the fused SIMD passes of
//! `elementwise.rs`. `Isa::Scalar` runs the same code one lane wide: the fallback.
//! Weight gradients (`Aᵀ·B` products) are deferred and, under plain SGD, applied to the
//! weights by a fused product + update kernel (see [`Deferred`]).

pub mod bench;
pub mod check;
pub mod elementwise;
pub mod gemm;
pub mod optim;
pub(crate) mod par;
pub mod simd;

use std::cell::{Ref, RefCell, RefMut};

use super::{Buf, Buffers, DataId, LayerOps, LossOps, OptimOps, View};
use par::fp_mode::FlushDenormals;
use par::{for_chunks, grain, Ptr};
use crate::core::ops::{self, AdamStep, Gemm, Loss, Reparam};
use crate::core::{Activation, LossKind, NoiseKind};

pub use gemm::Isa;

/// A dataset kept by the backend: u8 pixels (scaled by 1/255 when gathered) or floats.
enum Dataset {
    U8(Vec<u8>),
    F32(Vec<f32>),
}

impl Dataset {
    fn len(&self) -> usize {
        match self {
            Dataset::U8(v) => v.len(),
            Dataset::F32(v) => v.len(),
        }
    }
}

pub struct CpuBackend {
    /// Buffers by handle; a freed one is None.
    bufs: Vec<Option<RefCell<Vec<f32>>>>,
    /// Datasets and their row width by handle; a freed one is None.
    data: Vec<Option<(Dataset, usize)>>,
    isa: Isa,
    /// Threads for the kernels; 0: the browser's current setting (`par::browser::threads`).
    threads: usize,
    /// Weight-gradient products not computed yet (pairwise disjoint outputs).
    deferred: RefCell<Vec<Deferred>>,
    /// Vectors of finished deferred products, for reuse (no allocation per step).
    spare: RefCell<Vec<Vec<f32>>>,
}

/// A product `C = Aᵀ·B` (the weight gradient of a layer) not computed yet: A packed for the
/// broadcast kernel and a copy of B stay here, C is left as it was. When the optimizer step
/// is plain SGD over a parameter buffer whose gradient buffer holds C, the product is
/// applied to the weights tile by tile (`gemm::sgemm_packed_sgd`): the gradient is never
/// written to memory and read back, one of the three passes over each weight matrix a
/// batch-16 step made (the step is bound by those passes). Anything else that touches C
/// (a read, another op's input or output) computes it into C first (`settle`), with the
/// same kernels and so the same bits; after the fused step C still holds (lazily) the
/// gradient, as the trait says. Copying the operands costs batch × (fan-in + fan-out)
/// values, small next to the fan-in × fan-out gradient.
struct Deferred {
    c: View,
    /// The product's shape (`ta` set).
    g: Gemm,
    packed: Vec<f32>,
    b: Vec<f32>,
}

fn overlaps(a: View, b: View) -> bool {
    a.buf == b.buf && a.len > 0 && b.len > 0 && a.offset < b.offset + b.len && b.offset < a.offset + a.len
}

fn covers(outer: View, inner: View) -> bool {
    outer.buf == inner.buf && outer.offset <= inner.offset && inner.offset + inner.len <= outer.offset + outer.len
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// The best ISA of this CPU, one thread per core natively; in the browser the threads
    /// of the worker's pool as the page sets them (one in a build without threads).
    pub fn new() -> Self {
        let mut b = Self::with(Isa::detect(), 1);
        b.threads = default_threads();
        b
    }

    /// A backend with a chosen ISA (`Isa::available()`) and thread count.
    pub fn with(isa: Isa, threads: usize) -> Self {
        CpuBackend {
            bufs: Vec::new(),
            data: Vec::new(),
            isa,
            threads: threads.max(1),
            deferred: RefCell::new(Vec::new()),
            spare: RefCell::new(Vec::new()),
        }
    }

    /// The element-wise passes: SIMD ones, or the scalar reference for `Isa::Scalar`.
    fn ew(&self) -> Elementwise {
        Elementwise { isa: self.isa, threads: self.threads() }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The threads the kernels use now.
    pub fn threads(&self) -> usize {
        match self.threads {
            0 => par::browser::threads(),
            n => n,
        }
    }

    /// Denormals flushed to zero for the duration of an op, on the SIMD ISAs (natively;
    /// `Isa::Scalar` keeps IEEE arithmetic, as the reference it mirrors).
    fn fp(&self) -> FlushDenormals {
        FlushDenormals::new(self.isa != Isa::Scalar)
    }

    /// Computes every deferred product whose output overlaps `v` (before `v` is used).
    fn settle(&self, v: View) {
        loop {
            let d = {
                let mut ds = self.deferred.borrow_mut();
                match ds.iter().position(|d| overlaps(d.c, v)) {
                    Some(i) => ds.swap_remove(i),
                    None => return,
                }
            };
            {
                // The mode every SIMD op runs in, whichever op needed the product.
                let _fp = self.fp();
                let cell = self.bufs[d.c.buf.0 as usize].as_ref().expect("CPU backend: a deferred product's buffer was freed");
                let mut b = cell.try_borrow_mut().expect("CPU backend: an op uses a weight gradient's buffer twice");
                gemm::sgemm_packed(self.isa, self.threads(), &d.packed, &d.b, &mut b[d.c.offset..d.c.offset + d.c.len], d.g);
            }
            self.recycle(d);
        }
    }

    /// Forgets the deferred products that `v` is about to overwrite entirely.
    fn drop_covered(&self, v: View) {
        self.forget(|d| covers(v, d.c));
    }

    /// Forgets the deferred products `which` picks (their output will never be read).
    fn forget(&self, which: impl Fn(&Deferred) -> bool) {
        let gone: Vec<Deferred> = {
            let mut ds = self.deferred.borrow_mut();
            let (gone, keep) = std::mem::take(&mut *ds).into_iter().partition(|d| which(d));
            *ds = keep;
            gone
        };
        for d in gone {
            self.recycle(d);
        }
    }

    fn recycle(&self, d: Deferred) {
        let mut s = self.spare.borrow_mut();
        s.push(d.packed);
        s.push(d.b);
    }

    fn spare_vec(&self) -> Vec<f32> {
        self.spare.borrow_mut().pop().unwrap_or_default()
    }

    fn dataset(&self, id: DataId) -> (&Dataset, usize) {
        let (set, dim) = self.data[id.0 as usize].as_ref().unwrap_or_else(|| panic!("CPU backend: dataset {} was freed", id.0));
        (set, *dim)
    }
    fn get(&self, v: View) -> Ref<'_, [f32]> {
        self.settle(v);
        let cell = self.bufs[v.buf.0 as usize].as_ref().unwrap_or_else(|| panic!("CPU backend: buffer {} was freed", v.buf.0));
        let b = cell.try_borrow().expect("CPU backend: an op's input aliases its output buffer");
        assert!(v.offset + v.len <= b.len(), "view {v:?} is out of its buffer of {}", b.len());
        Ref::map(b, |b| &b[v.offset..v.offset + v.len])
    }

    fn get_mut(&self, v: View) -> RefMut<'_, [f32]> {
        self.settle(v);
        let cell = self.bufs[v.buf.0 as usize].as_ref().unwrap_or_else(|| panic!("CPU backend: buffer {} was freed", v.buf.0));
        let b = cell.try_borrow_mut().expect("CPU backend: an op's output aliases one of its inputs");
        assert!(v.offset + v.len <= b.len(), "view {v:?} is out of its buffer of {}", b.len());
        RefMut::map(b, |b| &mut b[v.offset..v.offset + v.len])
    }
}

/// Largest buffer the CPU backend allocates: 1 GiB in a browser (a quarter of the 4 GiB
/// wasm32 addresses, where the data, the page and the model's other buffers live too), 4 GiB
/// natively (a buffer that large is a mistake on the machines this runs on). A model whose
/// parameters or activations need more is refused by `Trainer::new`, naming this limit
/// ([`MAX_MODEL_BYTES`](crate::core::config::MAX_MODEL_BYTES) bounds the sum of a model's
/// buffers before that).
pub const MAX_BUFFER_BYTES: u64 = if cfg!(target_arch = "wasm32") { 1 << 30 } else { 4 << 30 };

impl Buffers for CpuBackend {
    fn name(&self) -> String {
        let t = self.threads();
        let where_ = if cfg!(target_arch = "wasm32") { "wasm" } else { "native" };
        format!("CPU ({where_} {}, {t} thread{})", self.isa.name(), if t == 1 { "" } else { "s" })
    }

    fn alloc(&mut self, len: usize) -> View {
        self.bufs.push(Some(RefCell::new(vec![0.0; len])));
        View { buf: Buf(self.bufs.len() as u32 - 1), offset: 0, len }
    }

    fn write(&mut self, dst: View, data: &[f32]) {
        assert_eq!(data.len(), dst.len, "write: {} values into a view of {}", data.len(), dst.len);
        self.drop_covered(dst);
        self.get_mut(dst).copy_from_slice(data);
    }

    fn read(&mut self, src: View) -> Vec<f32> {
        self.get(src).to_vec()
    }

    fn max_buffer_bytes(&self) -> u64 {
        MAX_BUFFER_BYTES
    }

    fn upload_u8(&mut self, data: &[u8], dim: usize) -> DataId {
        assert!(dim > 0 && data.len() % dim == 0, "dataset of {} bytes is not rows of {dim}", data.len());
        self.data.push(Some((Dataset::U8(data.to_vec()), dim)));
        DataId(self.data.len() as u32 - 1)
    }

    fn upload_f32(&mut self, data: &[f32], dim: usize) -> DataId {
        assert!(dim > 0 && data.len() % dim == 0, "dataset of {} values is not rows of {dim}", data.len());
        self.data.push(Some((Dataset::F32(data.to_vec()), dim)));
        DataId(self.data.len() as u32 - 1)
    }

    fn free(&mut self, buf: Buf) {
        // Products deferred into it will never be needed.
        self.forget(|d| d.c.buf == buf);
        if let Some(slot) = self.bufs.get_mut(buf.0 as usize) {
            *slot = None;
        }
    }

    fn free_data(&mut self, data: DataId) {
        if let Some(slot) = self.data.get_mut(data.0 as usize) {
            *slot = None;
        }
    }

    fn allocated_bytes(&self) -> u64 {
        let bufs: usize = self.bufs.iter().flatten().map(|b| 4 * b.borrow().len()).sum();
        let data: usize = self.data.iter().flatten().map(|(d, _)| match d {
            Dataset::U8(v) => v.len(),
            Dataset::F32(v) => 4 * v.len(),
        }).sum();
        (bufs + data) as u64
    }

    fn gather(&mut self, data: DataId, idx: &[u32], out: View) {
        let _fp = self.fp();
        let (set, dim) = self.dataset(data);
        let rows = (set.len() / dim) as u32;
        assert!(idx.iter().all(|&i| i < rows), "gather: index out of {rows} rows");
        match set {
            Dataset::U8(bytes) => self.ew().gather(bytes, dim, idx, &mut self.get_mut(out)),
            Dataset::F32(v) => ops::gather_f32(v, dim, idx, &mut self.get_mut(out)),
        }
    }

    fn gather_onehot(&mut self, labels: DataId, idx: &[u32], out: View, classes: usize) {
        let (set, dim) = self.dataset(labels);
        let Dataset::U8(bytes) = set else { panic!("gather_onehot: labels must be a u8 dataset") };
        assert_eq!(dim, 1, "gather_onehot: labels are one byte per row");
        assert!(idx.iter().all(|&i| (i as usize) < bytes.len()), "gather_onehot: index out of {} rows", bytes.len());
        ops::gather_onehot(bytes, idx, classes, &mut self.get_mut(out));
    }

    fn copy(&mut self, src: View, dst: View) {
        assert_eq!(src.len, dst.len, "copy: {} values into {}", src.len, dst.len);
        self.get_mut(dst).copy_from_slice(&self.get(src));
    }
}

impl LayerOps for CpuBackend {
    fn matmul(&mut self, a: View, b: View, c: View, g: Gemm) {
        let _fp = self.fp();
        g.assert_lens("matmul", a.len, b.len, c.len);
        let Gemm { m, k, n, ta, tb, accumulate } = g;
        if !accumulate {
            self.drop_covered(c);
        }
        if ta && !tb && !accumulate && self.isa != Isa::Scalar && m > 0 && n > 0 && k > 0 {
            // A weight gradient (Aᵀ·B): deferred until the optimizer step or a use of C.
            let (av, bv) = (self.get(a), self.get(b));
            // (settles what C partly overlaps; the same aliasing checks as computing now)
            drop(self.get_mut(c));
            let mut packed = self.spare_vec();
            gemm::pack_a(self.isa, self.threads(), &av, g, &mut packed);
            let mut bc = self.spare_vec();
            bc.clear();
            bc.extend_from_slice(&bv);
            self.deferred.borrow_mut().push(Deferred { c, g, packed, b: bc });
            return;
        }
        let (av, bv) = (self.get(a), self.get(b));
        let mut cv = self.get_mut(c);
        gemm::sgemm(self.isa, self.threads(), &av, &bv, &mut cv, g);
    }

    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize) {
        let _fp = self.fp();
        self.ew().bias_act_forward(&self.get(x), &self.get(bias), act, &mut self.get_mut(out), cols);
    }

    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View) {
        let _fp = self.fp();
        self.ew().act_backward(&self.get(dy), &self.get(y), act, &mut self.get_mut(dz));
    }

    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        let _fp = self.fp();
        self.ew().bias_grad(&self.get(dz), &mut self.get_mut(db), cols, accumulate);
    }
}

impl LossOps for CpuBackend {
    fn loss_forward_backward(&mut self, loss: Loss, out: View, target: View, dout: View, row_loss: View) {
        let _fp = self.fp();
        self.ew().loss_forward_backward(loss, &self.get(out), &self.get(target), &mut self.get_mut(dout), &mut self.get_mut(row_loss));
    }

    fn argmax_correct(&mut self, out: View, target: View, cols: usize, row_out: View) {
        ops::argmax_correct(&self.get(out), &self.get(target), cols, &mut self.get_mut(row_out));
    }

    fn sum_into(&mut self, src: View, dst: View, accumulate: bool) {
        assert_eq!(dst.len, 1, "sum_into: destination must be one element");
        // Sum in f64 so long accumulations stay exact enough.
        let s: f64 = self.get(src).iter().map(|&v| v as f64).sum();
        let mut d = self.get_mut(dst);
        d[0] = if accumulate { d[0] + s as f32 } else { s as f32 };
    }

    fn sparsity_grad(&mut self, colsum: View, dy: View, rows: usize, rho: f32, beta: f32) {
        ops::sparsity_grad(&self.get(colsum), &mut self.get_mut(dy), rows, rho, beta);
    }

    fn noise(&mut self, kind: NoiseKind, x: View, out: View, seed: u32, stream: u32) {
        let _fp = self.fp();
        match kind {
            NoiseKind::Masking { keep } => self.ew().noise_masking(&self.get(x), &mut self.get_mut(out), keep, seed, stream),
            // The other kinds are a small part of a step: the reference loop.
            _ => ops::noise(kind, &self.get(x), &mut self.get_mut(out), seed, stream),
        }
    }

    fn reparam_forward(&mut self, h: View, eps: View, z: View, row_kl: View, draw: Reparam) {
        ops::reparam_forward(&self.get(h), &mut self.get_mut(eps), &mut self.get_mut(z), &mut self.get_mut(row_kl), draw);
    }

    fn reparam_backward(&mut self, h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32) {
        ops::reparam_backward(&self.get(h), &self.get(eps), &self.get(dz), &mut self.get_mut(dh), latent, scale);
    }
}

impl OptimOps for CpuBackend {
    fn sgd_step(&mut self, params: View, grads: View, lr: f32) {
        let _fp = self.fp();
        let inside = |d: &Deferred| covers(grads, d.c);
        if params.len != grads.len || params.buf == grads.buf || !self.deferred.borrow().iter().any(inside) {
            return self.ew().sgd_step(&mut self.get_mut(params), &self.get(grads), lr);
        }
        // Deferred weight gradients inside `grads`: applied by the fused product + SGD
        // (they stay deferred: `grads` still holds them); the rest by the SGD pass.
        let mut p = self.get_mut(params);
        let mut done = Vec::new();
        for d in self.deferred.borrow().iter().filter(|d| inside(d)) {
            let at = d.c.offset - grads.offset;
            gemm::sgemm_packed_sgd(self.isa, self.threads(), &d.packed, &d.b, &mut p[at..at + d.c.len], d.g, lr);
            done.push((at, at + d.c.len));
        }
        done.sort_unstable();
        let mut from = 0;
        for (start, end) in done.into_iter().chain([(grads.len, grads.len)]) {
            if start > from {
                let g = self.get(grads.slice(from, start - from));
                self.ew().sgd_step(&mut p[from..start], &g, lr);
            }
            from = from.max(end);
        }
    }

    // Optimizer passes (optim.rs; the scalar reference for `Isa::Scalar`).
    fn axpy(&mut self, x: View, y: View, a: f32) {
        let _fp = self.fp();
        if self.isa == Isa::Scalar { ops::axpy(&self.get(x), &mut self.get_mut(y), a) } else { optim::axpy(&self.get(x), &mut self.get_mut(y), a, self.threads()) }
    }

    fn momentum_step(&mut self, params: View, grads: View, vel: View, lr: f32, momentum: f32) {
        let _fp = self.fp();
        let (mut p, g, mut v) = (self.get_mut(params), self.get(grads), self.get_mut(vel));
        if self.isa == Isa::Scalar { ops::momentum_step(&mut p, &g, &mut v, lr, momentum) } else { optim::momentum_step(&mut p, &g, &mut v, lr, momentum, self.threads()) }
    }

    fn adam_step(&mut self, params: View, grads: View, m: View, v: View, adam: AdamStep) {
        let _fp = self.fp();
        let (mut p, g, mut mv, mut vv) = (self.get_mut(params), self.get(grads), self.get_mut(m), self.get_mut(v));
        if self.isa == Isa::Scalar {
            ops::adam_step(&mut p, &g, &mut mv, &mut vv, adam)
        } else {
            optim::adam_step(&mut p, &g, &mut mv, &mut vv, adam, self.threads())
        }
    }
}

/// Threads for native kernels: one per core (rayon's pool), or `AEPLAY_THREADS`; in the
/// browser 0, the pool's setting at each op.
fn default_threads() -> usize {
    if cfg!(target_arch = "wasm32") {
        return 0;
    }
    if let Some(n) = std::env::var("AEPLAY_THREADS").ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Element-wise ops dispatched on the ISA: `Isa::Scalar` runs the reference loops of
/// `core::ops` (the oracle), every other ISA the fused passes of `elementwise`, compiled
/// with that ISA's vector width on x86-64 (the exp/log polynomials of a sigmoid layer
/// at batch 256 are 10 % of a step with SSE2 alone), and split over `threads` in chunks
/// of whole rows (or of 1024 elements for flat passes) when the pass is large enough.
/// Each element (and each row's loss) is computed the same way in any chunk, so results
/// do not depend on the thread count. Public for the self-check (`check.rs`).
#[derive(Clone, Copy, Debug)]
pub struct Elementwise {
    pub isa: Isa,
    pub threads: usize,
}

/// Below this many elements a pass runs on one thread.
const EW_PARALLEL_MIN: usize = 1 << 13;

/// `len` values from `p + start` (chunks of one buffer that threads use disjointly).
unsafe fn part<'a>(p: Ptr<*const f32>, start: usize, len: usize) -> &'a [f32] {
    std::slice::from_raw_parts(p.0.add(start), len)
}
unsafe fn part_mut<'a>(p: Ptr<*mut f32>, start: usize, len: usize) -> &'a mut [f32] {
    std::slice::from_raw_parts_mut(p.0.add(start), len)
}

/// Calls `elementwise::$f` compiled for the ISA in `$isa`.
macro_rules! ew_call {
    ($isa:expr, $f:ident ( $($arg:ident),* )) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512<A, R>(f: impl FnOnce(A) -> R, a: A) -> R {
                f(a)
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<A, R>(f: impl FnOnce(A) -> R, a: A) -> R {
                f(a)
            }
            // SAFETY: each ISA is only chosen when `Isa::available` found it on this CPU.
            match $isa {
                Isa::Avx512 => unsafe { avx512(#[inline(always)] |($($arg,)*)| elementwise::$f($($arg),*), ($($arg,)*)) },
                Isa::Avx2 => unsafe { avx2(#[inline(always)] |($($arg,)*)| elementwise::$f($($arg),*), ($($arg,)*)) },
                _ => elementwise::$f($($arg),*),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = $isa;
            elementwise::$f($($arg),*)
        }
    }};
}

impl Elementwise {
    fn scalar(&self) -> bool {
        self.isa == Isa::Scalar
    }
    /// Threads for a pass over `len` elements.
    fn threads_for(&self, len: usize) -> usize {
        if len < EW_PARALLEL_MIN { 1 } else { self.threads }
    }
    /// `f(r0, r1)` over chunks of `rows` rows of `cols`.
    fn rows(&self, rows: usize, cols: usize, f: &(dyn Fn(usize, usize) + Sync)) {
        let t = self.threads_for(rows * cols);
        for_chunks(t, rows, grain(rows, t, 4, 1, 1), f)
    }
    /// `f(i0, i1)` over chunks of `len` elements (multiples of 1024, so chunks stay
    /// cache-line and vector aligned relative to each other).
    fn flat(&self, len: usize, f: &(dyn Fn(usize, usize) + Sync)) {
        let t = self.threads_for(len);
        for_chunks(t, len, grain(len, t, 4, 1024, 1024), f)
    }
    pub fn bias_act_forward(&self, x: &[f32], bias: &[f32], act: Activation, out: &mut [f32], cols: usize) {
        if self.scalar() || cols == 0 || x.len() != out.len() || x.len() % cols != 0 {
            // (the reference also reports wrong shapes)
            return ops::bias_act_forward(x, bias, act, out, cols);
        }
        let isa = self.isa;
        let (xp, op) = (Ptr(x.as_ptr()), Ptr(out.as_mut_ptr()));
        self.rows(x.len() / cols, cols, &|r0, r1| {
            let (xp, op) = (xp, op);
            // SAFETY: row ranges of the two equally long buffers; chunks are disjoint.
            let (x, out) = unsafe { (part(xp, r0 * cols, (r1 - r0) * cols), part_mut(op, r0 * cols, (r1 - r0) * cols)) };
            ew_call!(isa, bias_act_forward(x, bias, act, out, cols))
        });
    }
    pub fn act_backward(&self, dy: &[f32], y: &[f32], act: Activation, dz: &mut [f32]) {
        if self.scalar() || dy.len() != dz.len() || y.len() != dz.len() {
            return ops::act_backward(dy, y, act, dz);
        }
        let isa = self.isa;
        let (dyp, yp, dzp) = (Ptr(dy.as_ptr()), Ptr(y.as_ptr()), Ptr(dz.as_mut_ptr()));
        self.flat(dz.len(), &|i0, i1| {
            let (dyp, yp, dzp) = (dyp, yp, dzp);
            // SAFETY: the same element range of three equally long buffers; disjoint chunks.
            let (dy, y, dz) = unsafe { (part(dyp, i0, i1 - i0), part(yp, i0, i1 - i0), part_mut(dzp, i0, i1 - i0)) };
            ew_call!(isa, act_backward(dy, y, act, dz))
        });
    }
    /// One thread: the rows of each column are added in order.
    pub fn bias_grad(&self, dz: &[f32], db: &mut [f32], cols: usize, acc: bool) {
        if self.scalar() { ops::bias_grad(dz, db, cols, acc) } else { ew_call!(self.isa, bias_grad(dz, db, cols, acc)) }
    }
    pub fn loss_forward_backward(&self, loss: Loss, out: &[f32], target: &[f32], dout: &mut [f32], row_loss: &mut [f32]) {
        let Loss { kind, cols, scale } = loss;
        if self.scalar() || kind == LossKind::SoftmaxCe || cols == 0 || out.len() != target.len() || out.len() != dout.len() || row_loss.len() * cols != out.len() {
            return ops::loss_forward_backward(kind, out, target, cols, scale, dout, row_loss);
        }
        let isa = self.isa;
        let (zp, xp, gp, lp) = (Ptr(out.as_ptr()), Ptr(target.as_ptr()), Ptr(dout.as_mut_ptr()), Ptr(row_loss.as_mut_ptr()));
        self.rows(row_loss.len(), cols, &|r0, r1| {
            let (zp, xp, gp, lp) = (zp, xp, gp, lp);
            let len = (r1 - r0) * cols;
            // SAFETY: row ranges of the buffers (rows × cols, and rows for the loss); disjoint chunks.
            let (out, target, dout, row_loss) = unsafe { (part(zp, r0 * cols, len), part(xp, r0 * cols, len), part_mut(gp, r0 * cols, len), part_mut(lp, r0, r1 - r0)) };
            ew_call!(isa, loss_forward_backward(kind, out, target, cols, scale, dout, row_loss))
        });
    }
    pub fn noise_masking(&self, x: &[f32], out: &mut [f32], keep: f32, seed: u32, stream: u32) {
        if self.scalar() || x.len() != out.len() {
            return ops::noise_masking(x, out, keep, seed, stream);
        }
        let isa = self.isa;
        let (xp, op) = (Ptr(x.as_ptr()), Ptr(out.as_mut_ptr()));
        self.flat(x.len(), &|i0, i1| {
            let (xp, op) = (xp, op);
            // SAFETY: the same element range of two equally long buffers; disjoint chunks.
            let (x, out) = unsafe { (part(xp, i0, i1 - i0), part_mut(op, i0, i1 - i0)) };
            let first = i0;
            ew_call!(isa, noise_masking_from(x, out, keep, seed, stream, first))
        });
    }
    pub fn sgd_step(&self, p: &mut [f32], g: &[f32], lr: f32) {
        if self.scalar() || p.len() != g.len() {
            return ops::sgd_step(p, g, lr);
        }
        let isa = self.isa;
        let (pp, gp) = (Ptr(p.as_mut_ptr()), Ptr(g.as_ptr()));
        self.flat(p.len(), &|i0, i1| {
            let (pp, gp) = (pp, gp);
            // SAFETY: the same element range of two equally long buffers; disjoint chunks.
            let (p, g) = unsafe { (part_mut(pp, i0, i1 - i0), part(gp, i0, i1 - i0)) };
            ew_call!(isa, sgd_step(p, g, lr))
        });
    }
    pub fn gather(&self, data: &[u8], dim: usize, idx: &[u32], out: &mut [f32]) {
        if dim == 0 || out.len() != idx.len() * dim {
            return elementwise::gather(data, dim, idx, out);
        }
        if self.scalar() {
            return ops::gather(data, dim, idx, out);
        }
        let isa = self.isa;
        let op = Ptr(out.as_mut_ptr());
        self.rows(idx.len(), dim, &|r0, r1| {
            let op = op;
            // SAFETY: row ranges of the output; disjoint chunks.
            let out = unsafe { part_mut(op, r0 * dim, (r1 - r0) * dim) };
            let idx = &idx[r0..r1];
            ew_call!(isa, gather(data, dim, idx, out))
        });
    }
}
