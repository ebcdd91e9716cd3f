//! Kernel timing shared by `aeplay kernels` (native) and the page's `?bench=kernels` mode
//! (wasm): our kernels per ISA against the `matrixmultiply` crate on the five products of a
//! `dae_vincent` training step. Timings belong in benchmarks, never in tests.

use super::gemm::{sgemm, Isa};
use crate::core::ops::Gemm;

/// (name, m, k, n, ta, tb) of each product of a 784→500→784 step at batch `b`.
pub fn step_products(b: usize) -> Vec<(&'static str, usize, usize, usize, bool, bool)> {
    vec![
        ("fwd1 x·W1", b, 784, 500, false, false),
        ("fwd2 h·W2", b, 500, 784, false, false),
        ("dW2 hᵀ·dz", 500, b, 784, true, false),
        ("dh dz·W2ᵀ", b, 784, 500, false, true),
        ("dW1 xᵀ·dz", 784, b, 500, true, false),
    ]
}

/// A kernel under test.
#[derive(Clone, Copy, Debug)]
pub enum Kernel {
    Ours(Isa),
    /// The `matrixmultiply` crate (natively it uses `MATMUL_NUM_THREADS` threads).
    MatrixMultiply,
}

impl Kernel {
    pub fn name(self) -> String {
        match self {
            Kernel::Ours(i) => format!("aeplay-{}", i.name()),
            Kernel::MatrixMultiply => "matrixmultiply".into(),
        }
    }
}

/// Best seconds per call over 5 rounds of at least `seconds / 5` each; `now` is a clock in
/// seconds (`Instant` natively, `performance.now()` in the browser).
pub fn time_best(seconds: f64, now: &dyn Fn() -> f64, f: &mut dyn FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let (start, mut reps) = (now(), 0u32);
        while now() - start < seconds / 5.0 || reps < 3 {
            f();
            reps += 1;
        }
        best = best.min((now() - start) / reps as f64);
    }
    best
}

/// Times `kernel` on every product of batch `b`; one JSON object per product.
pub fn time_kernel(kernel: Kernel, threads: usize, b: usize, seconds: f64, now: &dyn Fn() -> f64) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (name, m, k, n, ta, tb) in step_products(b) {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.01).collect();
        let bm: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.01).collect();
        let mut c = vec![0.0f32; m * n];
        let secs = match kernel {
            Kernel::Ours(isa) => time_best(seconds, now, &mut || sgemm(isa, threads, &a, &bm, &mut c, Gemm::new(m, k, n).ta(ta).tb(tb))),
            Kernel::MatrixMultiply => {
                let (rsa, csa) = if ta { (1, m as isize) } else { (k as isize, 1) };
                let (rsb, csb) = if tb { (1, k as isize) } else { (n as isize, 1) };
                // SAFETY: the strides describe the m×k, k×n and m×n buffers above.
                time_best(seconds, now, &mut || unsafe {
                    matrixmultiply::sgemm(m, k, n, 1.0, a.as_ptr(), rsa, csa, bm.as_ptr(), rsb, csb, 0.0, c.as_mut_ptr(), n as isize, 1)
                })
            }
        };
        let flops = 2.0 * (m * k * n) as f64;
        out.push(serde_json::json!({
            "kernel": kernel.name(), "threads": threads, "product": name, "batch": b,
            "m": m, "k": k, "n": n, "us": secs * 1e6, "gflops": flops / secs / 1e9,
        }));
    }
    out
}

/// Measured single-thread FP32 peak of `isa`: independent chains of vector FMAs (12 per
/// iteration, more than the FMA latency × ports in flight), in GFLOP/s. The machine's peak
/// is this times the cores (each core has its own FMA units).
pub fn fma_peak(isa: Isa, seconds: f64, now: &dyn Fn() -> f64) -> f64 {
    const ITERS: usize = 1 << 20;
    let lanes = match isa {
        Isa::Scalar => 1,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => 8,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => 16,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Wasm128 => 4,
    };
    let mut sink = 0.0f32;
    let secs = time_best(seconds, now, &mut || {
        sink += unsafe {
            match isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => peak::fma_chains_avx2(ITERS),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => peak::fma_chains_avx512(ITERS),
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                Isa::Wasm128 => peak::fma_chains::<super::simd::Wasm128>(ITERS),
                Isa::Scalar => peak::fma_chains::<super::simd::Scalar>(ITERS),
            }
        }
    });
    std::hint::black_box(sink);
    (ITERS * 12 * lanes * 2) as f64 / secs / 1e9
}

mod peak {
    use super::super::simd::Simd;

    #[inline(always)]
    pub unsafe fn fma_chains<S: Simd>(iters: usize) -> f32 {
        let (a, b) = (S::splat(0.999_999), S::splat(1e-7));
        let mut acc = [S::zero(); 12];
        for (i, x) in acc.iter_mut().enumerate() {
            *x = S::splat(i as f32);
        }
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = S::fma(*x, a, b);
            }
        }
        let mut s = S::zero();
        for x in acc {
            s = S::add(s, x);
        }
        S::hsum(s)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma_chains_avx2(iters: usize) -> f32 {
        fma_chains::<super::super::simd::Avx2>(iters)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn fma_chains_avx512(iters: usize) -> f32 {
        fma_chains::<super::super::simd::Avx512>(iters)
    }
}
