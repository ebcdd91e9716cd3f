//! A tiny per-instruction-set vector trait (Candle / matrixmultiply style): the matrix
//! kernels in `gemm.rs` are written once against [`Simd`] and instantiated per ISA inside a
//! `#[target_feature]` function, so every call below is inlined into straight-line SIMD.
//!
//! Implementations: `Avx512` and `Avx2` (x86-64, chosen at run time), `Wasm128` (wasm
//! `simd128`, with `relaxed-simd` fused multiply-add when the build enables it), and
//! `Scalar` (one lane; the portable fallback, e.g. aarch64 without a hand kernel).
//!
//! Every method is `unsafe`: pointers are unchecked and the caller guarantees the ISA.

#![allow(clippy::missing_safety_doc)]

pub trait Simd: Copy {
    type V: Copy;
    /// f32 lanes per vector.
    const LANES: usize;
    /// Largest row block of the broadcast kernel (fits the register file with 2 vectors of
    /// columns), and the row × column block of the dot kernel.
    const MR: usize;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    /// Unaligned load of LANES values.
    unsafe fn load(p: *const f32) -> Self::V;
    /// One value loaded and broadcast to every lane (one instruction in wasm:
    /// `v128.load32_splat`, which V8 does not otherwise form from a load and a splat).
    #[inline(always)]
    unsafe fn load_splat(p: *const f32) -> Self::V {
        Self::splat(*p)
    }
    /// Unaligned store of LANES values.
    unsafe fn store(p: *mut f32, v: Self::V);
    /// a·b + c (fused where the ISA has it; otherwise mul then add).
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// Sum of the lanes, in a fixed order.
    unsafe fn hsum(v: Self::V) -> f32;
}

#[derive(Clone, Copy)]
pub struct Scalar;

impl Simd for Scalar {
    type V = f32;
    const LANES: usize = 1;
    const MR: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> f32 {
        0.0
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> f32 {
        *p
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: f32) {
        *p = v
    }
    #[inline(always)]
    unsafe fn fma(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    unsafe fn add(a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    unsafe fn sub(a: f32, b: f32) -> f32 {
        a - b
    }
    #[inline(always)]
    unsafe fn mul(a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    unsafe fn hsum(v: f32) -> f32 {
        v
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    /// AVX2 + FMA: 16 ymm registers, 8 lanes.
    #[derive(Clone, Copy)]
    pub struct Avx2;

    impl Simd for Avx2 {
        type V = __m256;
        const LANES: usize = 8;
        const MR: usize = 6;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            _mm256_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            _mm256_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            _mm256_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn hsum(v: __m256) -> f32 {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
            _mm_cvtss_f32(s)
        }
    }

    /// AVX-512F: 32 zmm registers, 16 lanes.
    #[derive(Clone, Copy)]
    pub struct Avx512;

    impl Simd for Avx512 {
        type V = __m512;
        const LANES: usize = 16;
        const MR: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            _mm512_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            _mm512_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m512, b: __m512) -> __m512 {
            _mm512_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            _mm512_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn hsum(v: __m512) -> f32 {
            let lo = _mm512_castps512_ps256(v);
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
            Avx2::hsum(_mm256_add_ps(lo, hi))
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use wasm::Wasm128;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use super::Simd;
    use std::arch::wasm32::*;

    /// wasm simd128: 4 lanes; V8 has 16 xmm registers on x86-64 (one is scratch).
    #[derive(Clone, Copy)]
    pub struct Wasm128;

    impl Simd for Wasm128 {
        type V = v128;
        const LANES: usize = 4;
        const MR: usize = 4;
        #[inline(always)]
        unsafe fn zero() -> v128 {
            f32x4_splat(0.0)
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> v128 {
            f32x4_splat(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> v128 {
            v128_load(p as *const v128)
        }
        #[inline(always)]
        unsafe fn load_splat(p: *const f32) -> v128 {
            v128_load32_splat(p as *const u32)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: v128) {
            v128_store(p as *mut v128, v)
        }
        #[inline(always)]
        unsafe fn fma(a: v128, b: v128, c: v128) -> v128 {
            #[cfg(target_feature = "relaxed-simd")]
            {
                f32x4_relaxed_madd(a, b, c)
            }
            #[cfg(not(target_feature = "relaxed-simd"))]
            {
                f32x4_add(f32x4_mul(a, b), c)
            }
        }
        #[inline(always)]
        unsafe fn add(a: v128, b: v128) -> v128 {
            f32x4_add(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: v128, b: v128) -> v128 {
            f32x4_sub(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: v128, b: v128) -> v128 {
            f32x4_mul(a, b)
        }
        #[inline(always)]
        unsafe fn hsum(v: v128) -> f32 {
            (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
                + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
        }
    }
}
