//! Optimizer passes of the CPU backend over the flat parameter buffer: the L2 term folded
//! into a gradient (`axpy`), SGD with momentum and Adam (PyTorch semantics, the same
//! arithmetic as `core::ops`). Plain loops the compiler vectorises; split over threads
//! (natively, and in the threaded wasm build) when the buffer is large. Moments share the parameters' layout.

use super::par::{for_chunks, Ptr};
use crate::core::ops::AdamStep;

/// Runs `f` over matching chunks of two to four equally long slices (`c`, `d` may be empty),
/// on `threads` threads when the buffers are large (natively and in the threaded wasm build).
/// Each element is computed the same way in any chunk.
fn par4(threads: usize, a: &mut [f32], b: &[f32], c: &mut [f32], d: &mut [f32], f: impl Fn(&mut [f32], &[f32], &mut [f32], &mut [f32]) + Sync) {
    let len = a.len();
    if threads > 1 && len >= 1 << 16 {
        assert!(b.len() == len && (c.is_empty() || c.len() == len) && (d.is_empty() || d.len() == len), "par4: slices of different lengths");
        let chunk = len.div_ceil(threads).next_multiple_of(64);
        let (pa, pb, pc, pd) = (Ptr(a.as_mut_ptr()), Ptr(b.as_ptr()), Ptr(c.as_mut_ptr()), Ptr(d.as_mut_ptr()));
        let (has_c, has_d) = (!c.is_empty(), !d.is_empty());
        for_chunks(threads, len, chunk, &move |s, e| {
            let (pa, pb, pc, pd) = (pa, pb, pc, pd);
            // SAFETY: the chunks [s, e) are disjoint and within every slice of `len` values;
            // an empty `c` or `d` gives each chunk an empty slice.
            unsafe {
                let sub = |p: *mut f32, has: bool| if has { std::slice::from_raw_parts_mut(p.add(s), e - s) } else { &mut [][..] };
                f(sub(pa.0, true), std::slice::from_raw_parts(pb.0.add(s), e - s), sub(pc.0, has_c), sub(pd.0, has_d))
            }
        });
        return;
    }
    f(a, b, c, d)
}

/// y ← y + a·x
pub fn axpy(x: &[f32], y: &mut [f32], a: f32, threads: usize) {
    assert_eq!(x.len(), y.len(), "axpy: {} values into {}", x.len(), y.len());
    par4(threads, y, x, &mut [], &mut [], |y, x, _, _| y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x));
}

/// v ← μ·v + g; p ← p − lr·v
pub fn momentum_step(params: &mut [f32], grads: &[f32], vel: &mut [f32], lr: f32, mu: f32, threads: usize) {
    assert_eq!(params.len(), grads.len());
    assert_eq!(params.len(), vel.len());
    par4(threads, params, grads, vel, &mut [], |p, g, v, _| {
        for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
            *v = mu * *v + g;
            *p -= lr * *v;
        }
    });
}

/// Adam at step `t` (1-based), bias-corrected as PyTorch does.
pub fn adam_step(params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32], adam: AdamStep, threads: usize) {
    let AdamStep { beta1, beta2, eps, .. } = adam;
    assert_eq!(params.len(), grads.len());
    assert_eq!(params.len(), m.len());
    assert_eq!(params.len(), v.len());
    let (step, sqrt_bc2) = adam.scalars();
    let (c1, c2) = (1.0 - beta1, 1.0 - beta2);
    par4(threads, params, grads, m, v, |p, g, m, v| {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = beta1 * *m + c1 * g;
            *v = beta2 * *v + c2 * g * g;
            *p -= step * *m / (v.sqrt() / sqrt_bc2 + eps);
        }
    });
}
