//! Fused element-wise passes of the CPU backend, written branch-free as index loops over
//! slices of one length so the compiler turns each loop into SIMD: simd128 in wasm;
//! natively the backend calls them from functions compiled for AVX-512 or AVX2 (see
//! `Elementwise` in `mod.rs`, which also splits them over threads). The transcendental
//! functions are polynomial (Cephes-style `exp`, `log1p` through `atanh`), accurate to a few
//! ulp, so no loop calls libm. Each function has the signature and meaning of its scalar
//! reference in `core::ops`; `tests/cpu_kernels.rs` checks them against it.

// Index loops are the point here (see above).
#![allow(clippy::needless_range_loop)]

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
    // Index loops over slices of one length: no iterator adapter is left as a call, so
    // everything inlines into the caller's `#[target_feature]` function and vectorises.
    let b = &bias[..cols];
    for r in 0..x.len() / cols {
        let xr = &x[r * cols..(r + 1) * cols];
        let or = &mut out[r * cols..(r + 1) * cols];
        match act {
            Activation::Sigmoid => {
                for i in 0..cols {
                    or[i] = sigmoid(xr[i] + b[i]);
                }
            }
            Activation::Identity => {
                for i in 0..cols {
                    or[i] = xr[i] + b[i];
                }
            }
            Activation::Relu => {
                for i in 0..cols {
                    let v = xr[i] + b[i];
                    or[i] = if v > 0.0 { v } else { 0.0 };
                }
            }
            // Tanh and ELU are not on a hot path yet: the reference loop.
            Activation::Tanh | Activation::Elu => ops::bias_act_forward(xr, bias, act, or, cols),
        }
    }
}

/// dz = dy ⊙ act'(y).
#[inline(always)]
pub fn act_backward(dy: &[f32], y: &[f32], act: Activation, dz: &mut [f32]) {
    assert_eq!(dy.len(), y.len());
    assert_eq!(dy.len(), dz.len());
    let n = dz.len();
    let (dy, y) = (&dy[..n], &y[..n]);
    match act {
        Activation::Sigmoid => {
            for i in 0..n {
                dz[i] = dy[i] * (y[i] * (1.0 - y[i]));
            }
        }
        Activation::Identity => dz.copy_from_slice(dy),
        Activation::Tanh => {
            for i in 0..n {
                dz[i] = dy[i] * (1.0 - y[i] * y[i]);
            }
        }
        Activation::Relu => {
            for i in 0..n {
                dz[i] = if y[i] > 0.0 { dy[i] } else { 0.0 };
            }
        }
        Activation::Elu => {
            for i in 0..n {
                dz[i] = dy[i] * if y[i] > 0.0 { 1.0 } else { y[i] + 1.0 };
            }
        }
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
    for r in 0..dz.len() / cols {
        let row = &dz[r * cols..(r + 1) * cols];
        for i in 0..cols {
            db[i] += row[i];
        }
    }
}

/// Σ v in W lanes, then the lanes in order, then the tail: a fixed summation order
/// (deterministic) that stays in vector registers.
#[inline(always)]
fn lane_sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; W];
    let full = v.len() / W;
    for c in 0..full {
        let ch = &v[c * W..(c + 1) * W];
        for l in 0..W {
            acc[l] += ch[l];
        }
    }
    let mut s = 0.0;
    for a in acc {
        s += a;
    }
    for &x in &v[full * W..] {
        s += x;
    }
    s
}

/// Per-row loss of `out` (logits for BCE) against `target`, gradient × `scale` into `dout`.
/// Each row is one vectorisable pass writing the gradient and the per-element loss (into
/// scratch), then a lane sum of the scratch.
#[inline(always)]
pub fn loss_forward_backward(kind: LossKind, out: &[f32], target: &[f32], cols: usize, scale: f32, dout: &mut [f32], row_loss: &mut [f32]) {
    assert_eq!(out.len(), target.len());
    assert_eq!(out.len(), dout.len());
    assert_eq!(row_loss.len() * cols, out.len());
    let inv_cols = 1.0 / cols as f32;
    let mut terms = vec![0.0f32; cols];
    let t = &mut terms[..];
    for (r, rl) in row_loss.iter_mut().enumerate() {
        let z = &out[r * cols..(r + 1) * cols];
        let x = &target[r * cols..(r + 1) * cols];
        let g = &mut dout[r * cols..(r + 1) * cols];
        match kind {
            LossKind::BceLogits => {
                for i in 0..cols {
                    let (zv, xv) = (z[i], x[i]);
                    let e = exp(-zv.abs());
                    let inv = 1.0 / (1.0 + e);
                    let s = if zv >= 0.0 { inv } else { e * inv };
                    g[i] = scale * (s - xv);
                    let pos = if zv > 0.0 { zv } else { 0.0 };
                    t[i] = pos + log1p_unit(e) - xv * zv;
                }
            }
            LossKind::HalfSse => {
                for i in 0..cols {
                    let d = z[i] - x[i];
                    g[i] = scale * d;
                    t[i] = 0.5 * d * d;
                }
            }
            LossKind::Mse => {
                for i in 0..cols {
                    let d = z[i] - x[i];
                    g[i] = scale * 2.0 * d * inv_cols;
                    t[i] = d * d * inv_cols;
                }
            }
            // A handful of columns: the backend runs the reference (`ops`) instead.
            LossKind::SoftmaxCe => unreachable!("softmax cross-entropy runs in core::ops"),
        }
        *rl = lane_sum(t);
    }
}

/// Masking noise, drawing exactly the reference's `rng::uniform(seed, stream, i)`.
#[inline(always)]
pub fn noise_masking(x: &[f32], out: &mut [f32], keep: f32, seed: u32, stream: u32) {
    noise_masking_from(x, out, keep, seed, stream, 0)
}

/// [`noise_masking`] of the elements `first..first + x.len()` of a larger array (a chunk
/// of it on one thread): element `i` here draws `rng::uniform(seed, stream, first + i)`.
#[inline(always)]
pub fn noise_masking_from(x: &[f32], out: &mut [f32], keep: f32, seed: u32, stream: u32, first: usize) {
    assert_eq!(x.len(), out.len());
    let n = out.len();
    let x = &x[..n];
    let key = rng::pcg_hash(stream ^ rng::pcg_hash(seed));
    let first = first as u32;
    for i in 0..n {
        let u = (rng::pcg_hash(first.wrapping_add(i as u32) ^ key) >> 8) as f32 * (1.0 / 16_777_216.0);
        out[i] = if u < keep { x[i] } else { 0.0 };
    }
}

/// p ← p − lr·g (one thread; the backend splits it into chunks).
#[inline(always)]
pub fn sgd_step(params: &mut [f32], grads: &[f32], lr: f32) {
    assert_eq!(params.len(), grads.len());
    let n = params.len();
    let g = &grads[..n];
    for i in 0..n {
        params[i] -= lr * g[i];
    }
}

/// out[i, :] = data[idx[i], :] / 255, the same arithmetic as the reference.
#[inline(always)]
pub fn gather(data: &[u8], dim: usize, idx: &[u32], out: &mut [f32]) {
    assert_eq!(out.len(), idx.len() * dim);
    let inv = (1.0f64 / 255.0) as f32;
    for (r, &i) in idx.iter().enumerate() {
        let src = &data[i as usize * dim..(i as usize + 1) * dim];
        let row = &mut out[r * dim..(r + 1) * dim];
        for c in 0..dim {
            row[c] = src[c] as f32 * inv;
        }
    }
}
