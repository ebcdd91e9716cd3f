//! Single-precision matrix multiply for the CPU backend, in the three forms a training step
//! needs, without materialising transposes:
//!
//! - `A·B` and `Aᵀ·B` (B stored k×n row-major): a register-blocked *broadcast* kernel. A is
//!   packed into row panels of `R` rows (k×R, interleaved, so the transpose of A is free), B
//!   is read in place a row of `NV` vectors at a time (k rows at stride n: the hardware
//!   prefetcher follows it and there is no per-step packing of the weights, which change
//!   every step). An R×NV tile of accumulators stays in registers for the whole k loop.
//! - `A·Bᵀ` (B stored n×k): a *dot* kernel: RA rows of A against RB rows of B, both
//!   contiguous in k, RA×RB vector accumulators reduced across lanes at the end.
//! - `Aᵀ·Bᵀ` (not used by the models): B is transposed into scratch, then `Aᵀ·B`.
//!
//! Threads (native only) take chunks of output columns from a shared counter (`par.rs`);
//! each output element is still summed by one thread in one fixed order, so results do not
//! depend on the thread count and training stays deterministic.
//!
//! Shapes in comments: C is m×n, op(A) is m×k, op(B) is k×n, all row-major.

use std::cell::RefCell;

use super::par::{for_chunks, grain, Ptr};
use super::simd::{Scalar, Simd};
use crate::core::ops::Gemm;

/// The instruction sets a kernel can be built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// One lane, no intrinsics: the portable fallback.
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Wasm128,
}

impl Isa {
    /// The best instruction set this CPU (or this wasm build) has.
    pub fn detect() -> Isa {
        *Self::available().last().unwrap()
    }

    /// Every instruction set usable here, slowest first.
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut v = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                v.push(Isa::Avx2);
            }
            if is_x86_feature_detected!("avx512f") {
                v.push(Isa::Avx512);
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        v.push(Isa::Wasm128);
        v
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2+fma",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Wasm128 => {
                if cfg!(target_feature = "relaxed-simd") {
                    "simd128+relaxed"
                } else {
                    "simd128"
                }
            }
        }
    }

    /// Looks an ISA up by its name (for the CLI and benchmarks).
    pub fn from_name(s: &str) -> Option<Isa> {
        Self::available().into_iter().find(|i| i.name() == s || i.name().split('+').next() == Some(s))
    }
}

/// Below this many multiply-adds a product runs on one thread (waking a second one costs
/// more than it saves).
const PARALLEL_MIN_MACS: usize = 1 << 16;

/// k block of the broadcast kernel: KC × 2 vectors of B (16 KB with AVX-512 at 128) stay in
/// L1 while the row blocks of A stream past.
const KC: usize = 128;

thread_local! {
    /// Packed A panels (main thread) / transposed B (the `Aᵀ·Bᵀ` form).
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// C = op(A)·op(B) (+ C if `g.accumulate`), shaped by `g` (see [`Gemm`]). `threads` > 1
/// splits the columns across rayon workers (native builds only).
pub fn sgemm(isa: Isa, threads: usize, a: &[f32], b: &[f32], c: &mut [f32], g: Gemm) {
    g.assert_lens("sgemm", a.len(), b.len(), c.len());
    let Gemm { m, k, n, ta, tb, accumulate } = g;
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    let threads = if m * n * k < PARALLEL_MIN_MACS { 1 } else { threads.max(1) };
    if ta && tb {
        // Aᵀ·Bᵀ: transpose B (n×k) into k×n scratch, then Aᵀ·B.
        let mut bt = SCRATCH.with(|s| std::mem::take(&mut s.borrow_mut().1));
        bt.clear();
        bt.resize(k * n, 0.0);
        for j in 0..n {
            for p in 0..k {
                bt[p * n + j] = b[j * k + p];
            }
        }
        sgemm(isa, threads, a, &bt, c, g.tb(false));
        SCRATCH.with(|s| s.borrow_mut().1 = bt);
        return;
    }
    // SAFETY: lengths were checked above; each ISA's kernels are only reachable when
    // `Isa::available` found that ISA on this CPU.
    unsafe {
        match isa {
            Isa::Scalar => dispatch::<Scalar>(kernels!(Scalar), threads, a, b, c, g),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => dispatch::<super::simd::Avx2>(x86::AVX2, threads, a, b, c, g),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => dispatch::<super::simd::Avx512>(x86::AVX512, threads, a, b, c, g),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Wasm128 => {
                use super::simd::Wasm128;
                dispatch::<Wasm128>(kernels!(Wasm128), threads, a, b, c, g)
            }
        }
    }
}

/// A worker's operands: A (or packed A), B, C (or the parameters P), and the product's
/// m, k, n.
#[derive(Clone, Copy)]
struct Mats {
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    m: usize,
    k: usize,
    n: usize,
}

impl Mats {
    fn new(a: Ptr<*const f32>, b: Ptr<*const f32>, c: Ptr<*mut f32>, g: Gemm) -> Mats {
        Mats { a: a.0, b: b.0, c: c.0, m: g.m, k: g.k, n: g.n }
    }
}

/// Signature of a column-range worker: (operands, j0, j1, accumulate).
type RangeFn = unsafe fn(Mats, usize, usize, bool);
/// Signature of the fused product + SGD worker over row panels: (operands with packed A
/// and P, zero-padded copy of B's last partial column strip (k × NR), first panel, end
/// panel, lr).
type SgdFn = unsafe fn(Mats, *const f32, usize, usize, f32);

/// One ISA's entry points: each is compiled with that ISA's target features, so the
/// generic kernels inline into straight-line SIMD.
#[derive(Clone, Copy)]
struct Kernels {
    bcast: RangeFn,
    dot: RangeFn,
    sgd: SgdFn,
}

macro_rules! kernels {
    ($s:ty) => {
        Kernels { bcast: bcast_ranges::<$s>, dot: dot_ranges::<$s>, sgd: sgd_panels::<$s> }
    };
}
use kernels;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::simd::{Avx2, Avx512};
    use super::{bcast_ranges, dot_ranges, sgd_panels, Kernels, Mats};

    macro_rules! wrap {
        ($name:ident, $inner:ident, $s:ty, $feat:literal) => {
            #[target_feature(enable = $feat)]
            unsafe fn $name(x: Mats, j0: usize, j1: usize, acc: bool) {
                $inner::<$s>(x, j0, j1, acc)
            }
        };
    }
    wrap!(bcast_avx2, bcast_ranges, Avx2, "avx2,fma");
    wrap!(dot_avx2, dot_ranges, Avx2, "avx2,fma");
    wrap!(bcast_avx512, bcast_ranges, Avx512, "avx512f,avx2,fma");
    wrap!(dot_avx512, dot_ranges, Avx512, "avx512f,avx2,fma");

    macro_rules! wrap_sgd {
        ($name:ident, $s:ty, $feat:literal) => {
            #[target_feature(enable = $feat)]
            unsafe fn $name(x: Mats, tail: *const f32, b0: usize, b1: usize, lr: f32) {
                sgd_panels::<$s>(x, tail, b0, b1, lr)
            }
        };
    }
    wrap_sgd!(sgd_avx2, Avx2, "avx2,fma");
    wrap_sgd!(sgd_avx512, Avx512, "avx512f,avx2,fma");

    pub(super) const AVX2: Kernels = Kernels { bcast: bcast_avx2, dot: dot_avx2, sgd: sgd_avx2 };
    pub(super) const AVX512: Kernels = Kernels { bcast: bcast_avx512, dot: dot_avx512, sgd: sgd_avx512 };
}

unsafe fn dispatch<S: Simd>(kern: Kernels, threads: usize, a: &[f32], b: &[f32], c: &mut [f32], g: Gemm) {
    let cp = Ptr(c.as_mut_ptr());
    let n = g.n;
    if g.tb {
        // A·Bᵀ: dot kernel over column chunks (multiples of its 4-column tile).
        let (ap, bp) = (Ptr(a.as_ptr()), Ptr(b.as_ptr()));
        for_chunks(threads, n, grain(n, threads, 4, 4, 4), &move |j0, j1| {
            let (ap, bp, cp) = (ap, bp, cp);
            (kern.dot)(Mats::new(ap, bp, cp, g), j0, j1, g.accumulate)
        });
        return;
    }
    // A·B / Aᵀ·B: pack A into row panels (in parallel), then the broadcast kernel over
    // column chunks.
    SCRATCH.with(|s| {
        let packed = &mut s.borrow_mut().0;
        pack_panels(S::MR, threads, a, g.m, g.k, g.ta, packed);
        bcast_chunks::<S>(kern, threads, packed, b, c, g);
    });
}

/// Packs A (m×k, or stored k×m when `ta`) into panels of `mr` rows, k×rows interleaved:
/// panel[p * rows + r] = A[i0 + r, p]. In parallel over panels when A is large.
fn pack_panels(mr: usize, threads: usize, a: &[f32], m: usize, k: usize, ta: bool, packed: &mut Vec<f32>) {
    packed.clear();
    packed.resize(m.div_ceil(mr) * mr * k, 0.0);
    let (rsa, csa) = if ta { (1, m) } else { (k, 1) };
    let (pp, ap) = (Ptr(packed.as_mut_ptr()), Ptr(a.as_ptr()));
    let panels = m.div_ceil(mr);
    let pack = move |b0: usize, b1: usize| {
        let (pp, ap) = (pp, ap);
        for blk in b0..b1 {
            let i0 = blk * mr;
            let rows = mr.min(m - i0);
            // SAFETY: panel `blk` lies inside `packed` (sized above), the reads inside `a`
            // (m·k values); panels are disjoint between chunks.
            unsafe {
                let panel = pp.0.add(blk * mr * k);
                if ta {
                    for p in 0..k {
                        std::ptr::copy_nonoverlapping(ap.0.add(p * m + i0), panel.add(p * rows), rows);
                    }
                } else {
                    for p in 0..k {
                        for r in 0..rows {
                            *panel.add(p * rows + r) = *ap.0.add((i0 + r) * rsa + p * csa);
                        }
                    }
                }
            }
        }
    };
    let pack_threads = if m * k < PARALLEL_MIN_MACS / 4 { 1 } else { threads };
    for_chunks(pack_threads, panels, grain(panels, pack_threads, 2, 1, 1), &pack);
}

/// C (+)= packed A · B over column chunks (`g`'s transposes were applied in packing).
/// Chunks start at multiples of NR, so the columns of the last partial strip are the same
/// whatever the chunking.
unsafe fn bcast_chunks<S: Simd>(kern: Kernels, threads: usize, packed: &[f32], b: &[f32], c: &mut [f32], g: Gemm) {
    let nr = 2 * S::LANES;
    let (pp, bp, cp) = (Ptr(packed.as_ptr()), Ptr(b.as_ptr()), Ptr(c.as_mut_ptr()));
    for_chunks(threads, g.n, grain(g.n, threads, 4, nr, nr), &move |j0, j1| {
        let (pp, bp, cp) = (pp, bp, cp);
        (kern.bcast)(Mats::new(pp, bp, cp, g), j0, j1, g.accumulate)
    });
}

/// Rows per panel of [`pack_a`] for `isa`.
fn panel_rows(isa: Isa) -> usize {
    match isa {
        Isa::Scalar => Scalar::MR,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => super::simd::Avx2::MR,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => super::simd::Avx512::MR,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Wasm128 => super::simd::Wasm128::MR,
    }
}

fn kernels_of(isa: Isa) -> Kernels {
    match isa {
        Isa::Scalar => kernels!(Scalar),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86::AVX2,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => x86::AVX512,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Wasm128 => kernels!(super::simd::Wasm128),
    }
}

/// The A operand of the product `g` (op(A) m×k; A stored k×m when `g.ta`) packed for
/// `isa`'s broadcast kernel into `out`, for [`sgemm_packed`] and [`sgemm_packed_sgd`]: the
/// CPU backend keeps a weight gradient's operands this way until the optimizer step
/// consumes it.
pub fn pack_a(isa: Isa, threads: usize, a: &[f32], g: Gemm, out: &mut Vec<f32>) {
    let Gemm { m, k, ta, .. } = g;
    assert_eq!(a.len(), m * k, "pack_a: {} values for {m}×{k}", a.len());
    pack_panels(panel_rows(isa), threads, a, m, k, ta, out);
}

/// Threads worth using for m·k·n multiply-adds.
fn threads_for(threads: usize, m: usize, k: usize, n: usize) -> usize {
    if m * n * k < PARALLEL_MIN_MACS { 1 } else { threads.max(1) }
}

/// C[m×n] = op(A)·B (overwritten) from A packed by [`pack_a`] for the product `g` with the
/// same `isa`: the same kernels, chunks and summation order as [`sgemm`], so the same bits.
pub fn sgemm_packed(isa: Isa, threads: usize, packed: &[f32], b: &[f32], c: &mut [f32], g: Gemm) {
    let Gemm { m, k, n, .. } = g;
    let g = Gemm::new(m, k, n);
    assert_eq!(packed.len(), m.div_ceil(panel_rows(isa)) * panel_rows(isa) * k, "sgemm_packed: packed A of the wrong size");
    assert_eq!(b.len(), k * n, "sgemm_packed: B has {} values for {k}×{n}", b.len());
    assert_eq!(c.len(), m * n, "sgemm_packed: C has {} values for {m}×{n}", c.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.fill(0.0);
        return;
    }
    // SAFETY: lengths checked above; the ISA's kernels exist on this CPU (`Isa::available`).
    unsafe {
        match isa {
            Isa::Scalar => bcast_chunks::<Scalar>(kernels_of(isa), threads_for(threads, m, k, n), packed, b, c, g),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => bcast_chunks::<super::simd::Avx2>(kernels_of(isa), threads_for(threads, m, k, n), packed, b, c, g),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => bcast_chunks::<super::simd::Avx512>(kernels_of(isa), threads_for(threads, m, k, n), packed, b, c, g),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Wasm128 => bcast_chunks::<super::simd::Wasm128>(kernels_of(isa), threads_for(threads, m, k, n), packed, b, c, g),
        }
    }
}

/// P[m×n] −= lr·(A·B), A packed by [`pack_a`]: the weight gradient of a layer applied by
/// plain SGD tile by tile, without writing the gradient to memory and reading it back.
/// Each element gets exactly the arithmetic of [`sgemm_packed`] followed by the SGD pass
/// (`p − lr·g`, a multiply then a subtraction), so the same bits; the threads take chunks
/// of row panels (each a contiguous band of P), so results do not depend on their number.
pub fn sgemm_packed_sgd(isa: Isa, threads: usize, packed: &[f32], b: &[f32], p: &mut [f32], g: Gemm, lr: f32) {
    let Gemm { m, k, n, .. } = g;
    let mr = panel_rows(isa);
    assert_eq!(packed.len(), m.div_ceil(mr) * mr * k, "sgemm_packed_sgd: packed A of the wrong size");
    assert_eq!(b.len(), k * n, "sgemm_packed_sgd: B has {} values for {k}×{n}", b.len());
    assert_eq!(p.len(), m * n, "sgemm_packed_sgd: P has {} values for {m}×{n}", p.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // g = 0: p − lr·0 (keeps the SGD pass's arithmetic, e.g. for infinite p).
        for v in p.iter_mut() {
            *v -= lr * 0.0;
        }
        return;
    }
    let nr = 2 * mr_lanes(isa);
    // The last partial column strip, zero-padded to NR columns (as `bcast_ranges` does).
    let full_end = n / nr * nr;
    let cols = n - full_end;
    let mut tail = Vec::new();
    if cols > 0 {
        tail = vec![0.0f32; k * nr];
        for q in 0..k {
            tail[q * nr..q * nr + cols].copy_from_slice(&b[q * n + full_end..(q + 1) * n]);
        }
    }
    let kern = kernels_of(isa);
    let threads = threads_for(threads, m, k, n);
    let panels = m.div_ceil(mr);
    let (ap, bp, tp, pp) = (Ptr(packed.as_ptr()), Ptr(b.as_ptr()), Ptr(tail.as_ptr()), Ptr(p.as_mut_ptr()));
    for_chunks(threads, panels, grain(panels, threads, 4, 1, 1), &move |b0, b1| {
        let (ap, bp, tp, pp) = (ap, bp, tp, pp);
        // SAFETY: lengths checked above; chunks of panels write disjoint row bands of P.
        unsafe { (kern.sgd)(Mats::new(ap, bp, pp, g), tp.0, b0, b1, lr) }
    });
}

/// f32 lanes of `isa`'s vectors.
fn mr_lanes(isa: Isa) -> usize {
    match isa {
        Isa::Scalar => Scalar::LANES,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => super::simd::Avx2::LANES,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => super::simd::Avx512::LANES,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Wasm128 => super::simd::Wasm128::LANES,
    }
}

/// The fused product + SGD over row panels b0..b1: each R×NR tile of A·B is summed in
/// registers exactly as `bcast_ranges` sums it (k in blocks of KC for full strips, whole k
/// for the last partial strip), then P −= lr·tile.
#[inline(always)]
unsafe fn sgd_panels<S: Simd>(x: Mats, tail: *const f32, b0: usize, b1: usize, lr: f32) {
    let Mats { a: packed, b, c: p, m, k, n } = x;
    let nr = 2 * S::LANES;
    let mr = S::MR;
    let full_end = n / nr * nr;
    let cols = n - full_end;
    let mut tile = [0.0f32; 8 * 32];
    let tp = tile.as_mut_ptr();
    for blk in b0..b1 {
        let i0 = blk * mr;
        let rows = mr.min(m - i0);
        let ap = packed.add(i0 * k);
        let mut j = 0;
        while j < full_end {
            let dst = p.add(i0 * n + j);
            if k <= KC {
                bcast_rows::<S>(rows, Block { k, ap, b: b.add(j), ldb: n, c: dst, ldc: n }, Out::Sgd(lr));
            } else {
                let mut k0 = 0;
                while k0 < k {
                    let kc = KC.min(k - k0);
                    let blk = Block { k: kc, ap: ap.add(k0 * rows), b: b.add(k0 * n + j), ldb: n, c: tp, ldc: nr };
                    bcast_rows::<S>(rows, blk, if k0 == 0 { Out::Store } else { Out::Add });
                    k0 += kc;
                }
                for r in 0..rows {
                    for q in 0..nr {
                        let d = dst.add(r * n + q);
                        *d -= lr * *tp.add(r * nr + q);
                    }
                }
            }
            j += nr;
        }
        if cols > 0 {
            bcast_rows::<S>(rows, Block { k, ap, b: tail, ldb: nr, c: tp, ldc: nr }, Out::Store);
            for r in 0..rows {
                for q in 0..cols {
                    let d = p.add((i0 + r) * n + full_end + q);
                    *d -= lr * *tp.add(r * nr + q);
                }
            }
        }
    }
}

/// What a broadcast tile does with its sums: store them, add them to C, or apply them to
/// parameters by SGD (C −= lr·sums).
#[derive(Clone, Copy)]
enum Out {
    Store,
    Add,
    Sgd(f32),
}

/// Broadcast kernel over columns j0..j1 (j0 a multiple of NR = 2 vectors).
#[inline(always)]
unsafe fn bcast_ranges<S: Simd>(x: Mats, j0: usize, j1: usize, acc: bool) {
    let Mats { a: packed, b, c, m, k, n } = x;
    let nr = 2 * S::LANES;
    let mr = S::MR;
    let full_end = j0 + (j1 - j0) / nr * nr;
    // Full strips of NR columns, k in blocks of KC so a strip's block of B (KC × NR) stays
    // in L1 while every row block of A streams past it; later k blocks add into C.
    let mut k0 = 0;
    while k0 < k {
        let kc = KC.min(k - k0);
        let first = k0 == 0;
        let mut j = j0;
        while j < full_end {
            let mut i0 = 0;
            while i0 < m {
                let rows = mr.min(m - i0);
                let ap = packed.add(i0 * k + k0 * rows);
                let blk = Block { k: kc, ap, b: b.add(k0 * n + j), ldb: n, c: c.add(i0 * n + j), ldc: n };
                bcast_rows::<S>(rows, blk, if acc || !first { Out::Add } else { Out::Store });
                i0 += rows;
            }
            j += nr;
        }
        k0 += kc;
    }
    // A tail strip of fewer than NR columns: copied into zero-padded scratch (k×NR) and
    // computed into a tile, so no load or store goes past the matrices.
    let cols = j1 - full_end;
    if cols == 0 {
        return;
    }
    let j = full_end;
    let mut tail_b = vec![0.0f32; k * nr];
    for p in 0..k {
        std::ptr::copy_nonoverlapping(b.add(p * n + j), tail_b.as_mut_ptr().add(p * nr), cols);
    }
    let mut tile = [0.0f32; 8 * 32];
    let mut i0 = 0;
    while i0 < m {
        let rows = mr.min(m - i0);
        bcast_rows::<S>(rows, Block { k, ap: packed.add(i0 * k), b: tail_b.as_ptr(), ldb: nr, c: tile.as_mut_ptr(), ldc: nr }, Out::Store);
        for r in 0..rows {
            let dst = c.add((i0 + r) * n + j);
            for q in 0..cols {
                let v = tile[r * nr + q];
                *dst.add(q) = if acc { *dst.add(q) + v } else { v };
            }
        }
        i0 += rows;
    }
}

/// What one call of the broadcast micro-kernel works on: `k` steps of a packed A panel
/// from `ap`, B from `b` at row stride `ldb`, C at `c` with row stride `ldc`.
#[derive(Clone, Copy)]
struct Block {
    k: usize,
    ap: *const f32,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
}

/// Calls the broadcast micro-kernel with the row count as a compile-time constant.
#[inline(always)]
unsafe fn bcast_rows<S: Simd>(rows: usize, blk: Block, acc: Out) {
    let Block { k, ap, b, ldb, c, ldc } = blk;
    match rows {
        1 => bcast_kernel::<S, 1>(k, ap, b, ldb, c, ldc, acc),
        2 => bcast_kernel::<S, 2>(k, ap, b, ldb, c, ldc, acc),
        3 => bcast_kernel::<S, 3>(k, ap, b, ldb, c, ldc, acc),
        4 => bcast_kernel::<S, 4>(k, ap, b, ldb, c, ldc, acc),
        5 => bcast_kernel::<S, 5>(k, ap, b, ldb, c, ldc, acc),
        6 => bcast_kernel::<S, 6>(k, ap, b, ldb, c, ldc, acc),
        7 => bcast_kernel::<S, 7>(k, ap, b, ldb, c, ldc, acc),
        8 => bcast_kernel::<S, 8>(k, ap, b, ldb, c, ldc, acc),
        _ => unreachable!("row block of {rows}"),
    }
}

/// The micro-kernel: C[R × 2 vectors] (+)= (or −= lr·) Apanel[k×R]ᵀ · B[k × 2 vectors] (B at row
/// stride `ldb`), 2R accumulators in registers for the whole k loop.
#[inline(always)]
unsafe fn bcast_kernel<S: Simd, const R: usize>(k: usize, ap: *const f32, b: *const f32, ldb: usize, c: *mut f32, ldc: usize, acc: Out) {
    let l = S::LANES;
    let mut c0 = [S::zero(); R];
    let mut c1 = [S::zero(); R];
    let mut a = ap;
    let mut bp = b;
    for _ in 0..k {
        let b0 = S::load(bp);
        let b1 = S::load(bp.add(l));
        for r in 0..R {
            let av = S::load_splat(a.add(r));
            c0[r] = S::fma(av, b0, c0[r]);
            c1[r] = S::fma(av, b1, c1[r]);
        }
        a = a.add(R);
        bp = bp.add(ldb);
    }
    for r in 0..R {
        let p = c.add(r * ldc);
        match acc {
            Out::Add => {
                S::store(p, S::add(c0[r], S::load(p)));
                S::store(p.add(l), S::add(c1[r], S::load(p.add(l))));
            }
            Out::Store => {
                S::store(p, c0[r]);
                S::store(p.add(l), c1[r]);
            }
            // p − lr·g, as the SGD pass computes it
            Out::Sgd(lr) => {
                let lr = S::splat(lr);
                S::store(p, S::sub(S::load(p), S::mul(lr, c0[r])));
                S::store(p.add(l), S::sub(S::load(p.add(l)), S::mul(lr, c1[r])));
            }
        }
    }
}

/// Dot kernel over columns j0..j1: C[i, j] = Σ_p A[i, p]·B[j, p] (both rows contiguous).
#[inline(always)]
unsafe fn dot_ranges<S: Simd>(x: Mats, j0: usize, j1: usize, acc: bool) {
    let m = x.m;
    const RB: usize = 4;
    let ra = if S::LANES >= 8 { S::MR / 2 } else { 2 }; // 4 (avx512), 3 (avx2), 2 (wasm, scalar)
    let mut i = 0;
    while i < m {
        let rows = ra.min(m - i);
        let mut j = j0;
        while j + RB <= j1 {
            match rows {
                4 => dot_tile::<S, 4, RB>(x, i, j, acc),
                3 => dot_tile::<S, 3, RB>(x, i, j, acc),
                2 => dot_tile::<S, 2, RB>(x, i, j, acc),
                _ => dot_tile::<S, 1, RB>(x, i, j, acc),
            }
            j += RB;
        }
        while j < j1 {
            for r in 0..rows {
                dot_tile::<S, 1, 1>(x, i + r, j, acc);
            }
            j += 1;
        }
        i += rows;
    }
}

/// RA×RB block of C from RA rows of A and RB rows of B: RA·RB vector accumulators over
/// the vector part of k, lanes summed at the end, then the k tail in scalar.
#[inline(always)]
unsafe fn dot_tile<S: Simd, const RA: usize, const RB: usize>(x: Mats, i: usize, j: usize, acc: bool) {
    let Mats { a, b, c, k, n, .. } = x;
    let l = S::LANES;
    let kv = k - k % l;
    let mut s = [[S::zero(); RB]; RA];
    let ar: [*const f32; RA] = std::array::from_fn(|r| a.add((i + r) * k));
    let br: [*const f32; RB] = std::array::from_fn(|q| b.add((j + q) * k));
    let mut p = 0;
    while p < kv {
        let av: [S::V; RA] = std::array::from_fn(|r| S::load(ar[r].add(p)));
        for q in 0..RB {
            let bv = S::load(br[q].add(p));
            for r in 0..RA {
                s[r][q] = S::fma(av[r], bv, s[r][q]);
            }
        }
        p += l;
    }
    for r in 0..RA {
        for q in 0..RB {
            let mut v = S::hsum(s[r][q]);
            for p in kv..k {
                v += *ar[r].add(p) * *br[q].add(p);
            }
            let dst = c.add((i + r) * n + j + q);
            *dst = if acc { *dst + v } else { v };
        }
    }
}
