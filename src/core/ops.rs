//! Scalar reference of every op: plain loops, generic over the float type so the same
//! code runs in f32 (the oracle for the CPU and GPU backends) and in f64 (the
//! finite-difference gradient checks). Row-major throughout. Names match the backend
//! trait and the shaders.

use num_traits::Float;

use super::config::{Activation, LossKind};
use super::rng;

#[inline]
fn c<F: Float>(x: f64) -> F {
    F::from(x).unwrap()
}

/// C[m×n] = op(A)·op(B) (+ C if `accumulate`), op(A) is m×k, op(B) is k×n.
/// `ta`: A is stored k×m and used transposed; `tb`: B is stored n×k and used transposed.
#[allow(clippy::too_many_arguments)]
pub fn matmul<F: Float>(
    a: &[F],
    b: &[F],
    cm: &mut [F],
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    accumulate: bool,
) {
    assert_eq!(a.len(), m * k, "matmul: A has {} elements, expected {m}×{k}", a.len());
    assert_eq!(b.len(), k * n, "matmul: B has {} elements, expected {k}×{n}", b.len());
    assert_eq!(cm.len(), m * n, "matmul: C has {} elements, expected {m}×{n}", cm.len());
    for i in 0..m {
        for j in 0..n {
            let mut s = F::zero();
            for p in 0..k {
                let av = if ta { a[p * m + i] } else { a[i * k + p] };
                let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                s = s + av * bv;
            }
            let out = &mut cm[i * n + j];
            *out = if accumulate { *out + s } else { s };
        }
    }
}

/// y = act(x)
pub fn activate<F: Float>(act: Activation, x: F) -> F {
    match act {
        Activation::Identity => x,
        Activation::Sigmoid => F::one() / (F::one() + (-x).exp()),
        Activation::Tanh => x.tanh(),
        Activation::Relu => x.max(F::zero()),
        Activation::Elu => {
            if x > F::zero() {
                x
            } else {
                x.exp_m1()
            }
        }
    }
}

/// act'(x) written in terms of the output y = act(x).
pub fn activation_derivative<F: Float>(act: Activation, y: F) -> F {
    match act {
        Activation::Identity => F::one(),
        Activation::Sigmoid => y * (F::one() - y),
        Activation::Tanh => F::one() - y * y,
        Activation::Relu => {
            if y > F::zero() {
                F::one()
            } else {
                F::zero()
            }
        }
        Activation::Elu => {
            if y > F::zero() {
                F::one()
            } else {
                y + F::one()
            }
        }
    }
}

/// out[r×c] = act(x[r×c] + bias[c]) (bias broadcast over rows).
pub fn bias_act_forward<F: Float>(x: &[F], bias: &[F], act: Activation, out: &mut [F], cols: usize) {
    assert_eq!(bias.len(), cols);
    assert_eq!(x.len(), out.len());
    assert_eq!(x.len() % cols.max(1), 0);
    for (xr, or) in x.chunks(cols).zip(out.chunks_mut(cols)) {
        for ((o, &v), &b) in or.iter_mut().zip(xr).zip(bias) {
            *o = activate(act, v + b);
        }
    }
}

/// dz = dy ⊙ act'(·), with the derivative taken from the layer's output y.
pub fn act_backward<F: Float>(dy: &[F], y: &[F], act: Activation, dz: &mut [F]) {
    assert_eq!(dy.len(), y.len());
    assert_eq!(dy.len(), dz.len());
    for ((d, &g), &yv) in dz.iter_mut().zip(dy).zip(y) {
        *d = g * activation_derivative(act, yv);
    }
}

/// db[c] = Σ_rows dz[r, c] (+ db if `accumulate`).
pub fn bias_grad<F: Float>(dz: &[F], db: &mut [F], cols: usize, accumulate: bool) {
    assert_eq!(db.len(), cols);
    if !accumulate {
        db.iter_mut().for_each(|v| *v = F::zero());
    }
    for row in dz.chunks(cols) {
        for (d, &g) in db.iter_mut().zip(row) {
            *d = *d + g;
        }
    }
}

/// log(1 + e^z), computed without overflow.
pub fn softplus<F: Float>(z: F) -> F {
    z.max(F::zero()) + (-z.abs()).exp().ln_1p()
}

/// Per-example loss of `out` (logits for BCE) against `target`, written to `row_loss`,
/// and its gradient times `scale` written to `dout`.
pub fn loss_forward_backward<F: Float>(
    kind: LossKind,
    out: &[F],
    target: &[F],
    cols: usize,
    scale: F,
    dout: &mut [F],
    row_loss: &mut [F],
) {
    assert_eq!(out.len(), target.len());
    assert_eq!(out.len(), dout.len());
    assert_eq!(row_loss.len() * cols, out.len());
    let inv_cols = F::one() / c::<F>(cols as f64);
    let half = c::<F>(0.5);
    let two = c::<F>(2.0);
    for (r, rl) in row_loss.iter_mut().enumerate() {
        let mut s = F::zero();
        for j in r * cols..(r + 1) * cols {
            let (z, x) = (out[j], target[j]);
            match kind {
                LossKind::BceLogits => {
                    s = s + softplus(z) - x * z;
                    dout[j] = scale * (activate(Activation::Sigmoid, z) - x);
                }
                LossKind::HalfSse => {
                    let d = z - x;
                    s = s + half * d * d;
                    dout[j] = scale * d;
                }
                LossKind::Mse => {
                    let d = z - x;
                    s = s + d * d * inv_cols;
                    dout[j] = scale * two * d * inv_cols;
                }
            }
        }
        *rl = s;
    }
}

/// Masking noise: out[i] = x[i] with probability `keep`, else 0; the draw for element i
/// is `rng::uniform(seed, stream, i)`.
pub fn noise_masking<F: Float>(x: &[F], out: &mut [F], keep: f32, seed: u32, stream: u32) {
    assert_eq!(x.len(), out.len());
    for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        *o = if rng::uniform(seed, stream, i as u32) < keep { v } else { F::zero() };
    }
}

/// p ← p − lr·g
pub fn sgd_step<F: Float>(params: &mut [F], grads: &[F], lr: F) {
    assert_eq!(params.len(), grads.len());
    for (p, &g) in params.iter_mut().zip(grads) {
        *p = *p - lr * g;
    }
}

/// out[i, :] = data[idx[i], :] / 255 (builds a batch from the u8 dataset).
pub fn gather<F: Float>(data: &[u8], dim: usize, idx: &[u32], out: &mut [F]) {
    assert_eq!(out.len(), idx.len() * dim);
    let inv = c::<F>(1.0 / 255.0);
    for (row, &i) in out.chunks_mut(dim).zip(idx) {
        let src = &data[i as usize * dim..(i as usize + 1) * dim];
        for (o, &p) in row.iter_mut().zip(src) {
            *o = c::<F>(p as f64) * inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_transposes_agree() {
        // A = [[1,2,3],[4,5,6]] (2×3), B = [[1,0],[0,1],[1,1]] (3×2)
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut c1 = [0.0; 4];
        matmul(&a, &b, &mut c1, 2, 3, 2, false, false, false);
        assert_eq!(c1, [4.0, 5.0, 10.0, 11.0]);
        let at = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let bt = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        let mut c2 = [1.0; 4];
        matmul(&at, &bt, &mut c2, 2, 3, 2, true, true, true);
        assert_eq!(c2, [5.0, 6.0, 11.0, 12.0]);
    }

    #[test]
    fn bce_from_logits_matches_the_textbook_formula() {
        let z = [0.3f64, -2.0, 5.0];
        let x = [1.0f64, 0.25, 0.0];
        let mut d = [0.0; 3];
        let mut l = [0.0; 1];
        loss_forward_backward(LossKind::BceLogits, &z, &x, 3, 1.0, &mut d, &mut l);
        let expect: f64 = z
            .iter()
            .zip(&x)
            .map(|(&z, &x)| {
                let s = 1.0 / (1.0 + (-z).exp());
                -(x * s.ln() + (1.0 - x) * (1.0 - s).ln())
            })
            .sum();
        assert!((l[0] - expect).abs() < 1e-12);
        assert!((softplus(1000.0f64) - 1000.0).abs() < 1e-9, "softplus overflowed");
    }

    #[test]
    fn masking_keeps_about_the_requested_fraction() {
        let x = vec![1.0f32; 100_000];
        let mut out = vec![0.0f32; x.len()];
        noise_masking(&x, &mut out, 0.9, 42, 0);
        let kept = out.iter().filter(|&&v| v == 1.0).count();
        assert!((89_000..91_000).contains(&kept), "kept {kept}");
    }
}
