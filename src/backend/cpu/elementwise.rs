//! Fused element-wise passes of the CPU backend, written branch-free over fixed-width
//! chunks so the compiler turns each loop into SIMD (simd128 in wasm; SSE2 natively, where
//! these passes are a small share of a step next to the products). The transcendental
//! functions are polynomial (Cephes-style `exp`, `log1p` through `atanh`), accurate to a few
//! ulp, so no loop calls libm. Each function has the signature and meaning of its scalar
//! reference in `core::ops`; `tests/cpu_kernels.rs` checks them against it.

use crate::core::{ops, rng, Activation, LossKind};

/// Lanes of the partial sums in reductions (a multiple of every ISA's vector width).
const W: usize = 16;

/// e^x, relative error below 2e-7. Like libm it gives +inf above 88.72, and it gives 0
/// below -87.33 (where libm gives a denormal): sigmoid and softplus saturate to exactly 0
/// or 1 instead of dragging denormals through the next products, which makes x86 FMAs
/// take microcode assists (a diverging batch-256 run was 4× slower than scalar code).
#[inline(always)]
pub fn exp(x0: f32) -> f32 {
    let x = if x0 < -87.33 { -87.33 } else { x0 };
    let x = if x > 88.37 { 88.37 } else { x };
    // n = round(x / ln 2) with the 1.5·2^23 trick (no call to roundf)
    const MAGIC: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let e = y * f32::from_bits(((ni + 127) << 23) as u32);
    let e = if x0 < -87.33 { 0.0 } else { e };
    if x0 > 88.72 {
        f32::INFINITY
    } else {
        e
    }
}

/// ln(1 + e) for e in [0, 1]: 2·atanh(e / (2 + e)), odd series to s^13 (|s| ≤ 1/3).
#[inline(always)]
fn log1p_unit(e: f32) -> f32 {
    let s = e / (2.0 + e);
    let s2 = s * s;
    let mut p = 1.0f32 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    2.0 * s * (p * s2 + 1.0)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// out[r×c] = act(x + bias) (bias broadcast over rows of `cols`).
#[inline(always)]
pub fn bias_act_forward(x: &[f32], bias: &[f32], act: Activation, out: &mut [f32], cols: usize) {
    assert_eq!(bias.len(), cols, "bias_act_forward: bias has {} values for {cols} columns", bias.len());
    assert_eq!(x.len(), out.len());
    assert_eq!(x.len() % cols.max(1), 0);
    if cols == 0 {
        return;
    }
    // Tanh and ELU are not on a hot path yet: the reference loop.
    for (xr, or) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        match act {
            Activation::Sigmoid => or.iter_mut().zip(xr).zip(bias).for_each(|((o, &v), &b)| *o = sigmoid(v + b)),
            Activation::Identity => or.iter_mut().zip(xr).zip(bias).for_each(|((o, &v), &b)| *o = v + b),
            Activation::Relu => or.iter_mut().zip(xr).zip(bias).for_each(|((o, &v), &b)| {
                let s = v + b;
                *o = if s > 0.0 { s } else { 0.0 }
            }),
            Activation::Tanh | Activation::Elu => ops::bias_act_forward(xr, bias, act, or, cols),
        }
    }
}

/// dz = dy ⊙ act'(y).
#[inline(always)]
pub fn act_backward(dy: &[f32], y: &[f32], act: Activation, dz: &mut [f32]) {
    assert_eq!(dy.len(), y.len());
    assert_eq!(dy.len(), dz.len());
    let it = dz.iter_mut().zip(dy).zip(y);
    match act {
        Activation::Sigmoid => it.for_each(|((d, &g), &v)| *d = g * (v * (1.0 - v))),
        Activation::Identity => it.for_each(|((d, &g), _)| *d = g),
        Activation::Tanh => it.for_each(|((d, &g), &v)| *d = g * (1.0 - v * v)),
        Activation::Relu => it.for_each(|((d, &g), &v)| *d = if v > 0.0 { g } else { 0.0 }),
        Activation::Elu => it.for_each(|((d, &g), &v)| *d = g * if v > 0.0 { 1.0 } else { v + 1.0 }),
    }
}

/// db[c] = Σ_rows dz[r, c] (+ db if `accumulate`); rows are added in order.
#[inline(always)]
pub fn bias_grad(dz: &[f32], db: &mut [f32], cols: usize, accumulate: bool) {
    assert_eq!(db.len(), cols);
    if !accumulate {
        db.fill(0.0);
    }
    if cols == 0 {
        return;
    }
    for row in dz.chunks_exact(cols) {
        db.iter_mut().zip(row).for_each(|(d, &g)| *d += g);
    }
}

/// Σ v in W lanes, then the lanes in order, then the tail: a fixed summation order
/// (deterministic) that stays in vector registers.
#[inline(always)]
fn lane_sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; W];
    let mut chunks = v.chunks_exact(W);
    for ch in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(ch) {
            *a += x;
        }
    }
    let mut s = 0.0;
    for a in acc {
        s += a;
    }
    for &x in chunks.remainder() {
        s += x;
    }
    s
}

/// Per-row loss of `out` (logits for BCE) against `target`, gradient × `scale` into `dout`.
/// Each row is one vectorisable pass writing the gradient and the per-element loss (into
/// scratch), then a lane sum of the scratch.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn loss_forward_backward(kind: LossKind, out: &[f32], target: &[f32], cols: usize, scale: f32, dout: &mut [f32], row_loss: &mut [f32]) {
    assert_eq!(out.len(), target.len());
    assert_eq!(out.len(), dout.len());
    assert_eq!(row_loss.len() * cols, out.len());
    let inv_cols = 1.0 / cols as f32;
    let mut terms = vec![0.0f32; cols];
    for (r, rl) in row_loss.iter_mut().enumerate() {
        let z = &out[r * cols..(r + 1) * cols];
        let x = &target[r * cols..(r + 1) * cols];
        let d = &mut dout[r * cols..(r + 1) * cols];
        let it = d.iter_mut().zip(terms.iter_mut()).zip(z.iter().zip(x));
        match kind {
            LossKind::BceLogits => it.for_each(|((g, t), (&zv, &xv))| {
                let e = exp(-zv.abs());
                let inv = 1.0 / (1.0 + e);
                let s = if zv >= 0.0 { inv } else { e * inv };
                *g = scale * (s - xv);
                let pos = if zv > 0.0 { zv } else { 0.0 };
                *t = pos + log1p_unit(e) - xv * zv;
            }),
            LossKind::HalfSse => it.for_each(|((g, t), (&zv, &xv))| {
                *g = scale * (zv - xv);
                *t = 0.5 * (zv - xv) * (zv - xv);
            }),
            LossKind::Mse => it.for_each(|((g, t), (&zv, &xv))| {
                *g = scale * 2.0 * (zv - xv) * inv_cols;
                *t = (zv - xv) * (zv - xv) * inv_cols;
            }),
            // A handful of columns: the backend runs the reference (`ops`) instead.
            LossKind::SoftmaxCe => unreachable!("softmax cross-entropy runs in core::ops"),
        }
        *rl = lane_sum(&terms);
    }
}

/// Masking noise, drawing exactly the reference's `rng::uniform(seed, stream, i)`.
#[inline(always)]
pub fn noise_masking(x: &[f32], out: &mut [f32], keep: f32, seed: u32, stream: u32) {
    assert_eq!(x.len(), out.len());
    let key = rng::pcg_hash(stream ^ rng::pcg_hash(seed));
    for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        let u = (rng::pcg_hash(i as u32 ^ key) >> 8) as f32 * (1.0 / 16_777_216.0);
        *o = if u < keep { v } else { 0.0 };
    }
}

/// p ← p − lr·g, split into contiguous chunks across `threads` (element-wise, so the
/// result does not depend on the split).
pub fn sgd_step(params: &mut [f32], grads: &[f32], lr: f32, threads: usize) {
    assert_eq!(params.len(), grads.len());
    let step = |p: &mut [f32], g: &[f32]| p.iter_mut().zip(g).for_each(|(p, &g)| *p -= lr * g);
    #[cfg(not(target_arch = "wasm32"))]
    if threads > 1 && params.len() >= 1 << 16 {
        let chunk = params.len().div_ceil(threads).next_multiple_of(64);
        rayon::scope(|s| {
            let mut rest = params.chunks_mut(chunk).zip(grads.chunks(chunk));
            let first = rest.next().unwrap();
            for (p, g) in rest {
                s.spawn(move |_| step(p, g));
            }
            step(first.0, first.1);
        });
        return;
    }
    let _ = threads;
    step(params, grads);
}

/// out[i, :] = data[idx[i], :] / 255, the same arithmetic as the reference.
pub fn gather(data: &[u8], dim: usize, idx: &[u32], out: &mut [f32]) {
    assert_eq!(out.len(), idx.len() * dim);
    let inv = (1.0f64 / 255.0) as f32;
    for (row, &i) in out.chunks_exact_mut(dim.max(1)).zip(idx) {
        let src = &data[i as usize * dim..(i as usize + 1) * dim];
        row.iter_mut().zip(src).for_each(|(o, &p)| *o = p as f32 * inv);
    }
}
