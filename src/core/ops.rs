//! Scalar reference of every op: plain loops, generic over the float type so the same
//! code runs in f32 (the oracle for the CPU and GPU backends) and in f64 (the
//! finite-difference gradient checks). Row-major throughout. Names match the backend
//! trait and the shaders.

use num_traits::Float;

use super::config::{Activation, LossKind, NoiseKind};
use super::rng;

#[inline]
fn c<F: Float>(x: f64) -> F {
    F::from(x).unwrap()
}

/// The shape of a matrix product C[m×n] = op(A)·op(B) (+ C when `accumulate`): op(A) is
/// m×k, op(B) k×n. `ta`: A is stored k×m and used transposed; `tb`: B is stored n×k and
/// used transposed. `Gemm::new(m, k, n)` is the plain product; the builder methods set the
/// flags (`Gemm::new(m, k, n).tb(true)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Gemm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub ta: bool,
    pub tb: bool,
    pub accumulate: bool,
}

impl Gemm {
    /// C[m×n] = A[m×k]·B[k×n], nothing transposed, C overwritten.
    pub const fn new(m: usize, k: usize, n: usize) -> Self {
        Gemm { m, k, n, ta: false, tb: false, accumulate: false }
    }
    /// With A stored k×m and used transposed (when `on`).
    pub const fn ta(self, on: bool) -> Self {
        Gemm { ta: on, ..self }
    }
    /// With B stored n×k and used transposed (when `on`).
    pub const fn tb(self, on: bool) -> Self {
        Gemm { tb: on, ..self }
    }
    /// Adding into C instead of overwriting it (when `on`).
    pub const fn accumulate(self, on: bool) -> Self {
        Gemm { accumulate: on, ..self }
    }
    /// Panics with a message naming `op` unless A, B and C hold m×k, k×n and m×n elements.
    pub fn assert_lens(self, op: &str, a: usize, b: usize, c: usize) {
        let Gemm { m, k, n, .. } = self;
        assert_eq!(a, m * k, "{op}: A has {a} elements, expected {m}×{k}");
        assert_eq!(b, k * n, "{op}: B has {b} elements, expected {k}×{n}");
        assert_eq!(c, m * n, "{op}: C has {c} elements, expected {m}×{n}");
    }
    /// The product's form for reports: "A·B", "Aᵀ·B", "A·Bᵀ" or "Aᵀ·Bᵀ".
    pub fn form(self) -> &'static str {
        match (self.ta, self.tb) {
            (false, false) => "A·B",
            (true, false) => "Aᵀ·B",
            (false, true) => "A·Bᵀ",
            (true, true) => "Aᵀ·Bᵀ",
        }
    }
}

/// One pass of a dense layer: m rows of k inputs to n outputs, W stored k×n (n×k, used
/// transposed, when `tw`: a tied decoder layer), and the activation the pass applies (the
/// forward pass: the layer's own; the backward pass: the previous layer's, whose
/// derivative the input gradient takes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub tw: bool,
    pub act: Activation,
}

impl Linear {
    /// The forward product x[m×k]·op(W).
    pub const fn forward(self) -> Gemm {
        Gemm::new(self.m, self.k, self.n).tb(self.tw)
    }
    /// The input-gradient product dz[m×n]·op(W)ᵀ.
    pub const fn backward(self) -> Gemm {
        Gemm::new(self.m, self.n, self.k).tb(!self.tw)
    }
}

/// A reconstruction or classification loss over rows of `cols` outputs, its gradient
/// scaled by `scale` (1 for a summed loss, 1/rows for a mean).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Loss {
    pub kind: LossKind,
    pub cols: usize,
    pub scale: f32,
}

/// The variational code's draw: `latent` code units, ε from `rng::normal(seed, stream, ·)`
/// when `sample` (else 0: the mean code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reparam {
    pub latent: usize,
    pub seed: u32,
    pub stream: u32,
    pub sample: bool,
}

/// One Adam step's hyperparameters, at step `t` (1-based).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub t: u64,
}

impl AdamStep {
    /// The two per-step scalars, computed in f64 once on the host so every backend applies
    /// the same numbers: (lr / (1 − β1ᵗ), √(1 − β2ᵗ)).
    pub fn scalars(self) -> (f32, f32) {
        assert!(self.t >= 1, "Adam steps count from 1");
        let t = self.t.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - (self.beta1 as f64).powi(t);
        let bc2 = 1.0 - (self.beta2 as f64).powi(t);
        ((self.lr as f64 / bc1) as f32, bc2.sqrt() as f32)
    }
}

/// C = op(A)·op(B) (+ C if `g.accumulate`), shaped by `g` (see [`Gemm`]).
pub fn matmul<F: Float>(a: &[F], b: &[F], cm: &mut [F], g: Gemm) {
    g.assert_lens("matmul", a.len(), b.len(), cm.len());
    let Gemm { m, k, n, ta, tb, accumulate } = g;
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

/// A dense layer forward: y[m×n] = act(x[m×k]·op(W) + bias[n]), shaped by `l` (see
/// [`Linear`]). The composition of `matmul` and `bias_act_forward` that a backend may fuse
/// into one pass.
pub fn linear_forward<F: Float>(x: &[F], w: &[F], bias: &[F], y: &mut [F], l: Linear) {
    let mut z = vec![F::zero(); l.m * l.n];
    matmul(x, w, &mut z, l.forward());
    bias_act_forward(&z, bias, l.act, y, l.n);
}

/// A dense layer's input gradient through the previous layer's activation `l.act`:
/// dz_prev[m×k] = (dz[m×n]·op(W)ᵀ) ⊙ act'(y_prev), W as in [`linear_forward`]. The
/// composition of `matmul` and `act_backward` that a backend may fuse into one pass.
pub fn linear_backward<F: Float>(dz: &[F], w: &[F], y_prev: &[F], dz_prev: &mut [F], l: Linear) {
    let mut dx = vec![F::zero(); l.m * l.k];
    matmul(dz, w, &mut dx, l.backward());
    act_backward(&dx, y_prev, l.act, dz_prev);
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
        if kind == LossKind::SoftmaxCe {
            // loss = Σⱼ tⱼ·(lse − zⱼ), gradient pⱼ·Σt − tⱼ (pⱼ the softmax), stable via the max.
            let row = r * cols..(r + 1) * cols;
            let m = out[row.clone()].iter().fold(F::neg_infinity(), |a, &b| a.max(b));
            let se = out[row.clone()].iter().fold(F::zero(), |a, &z| a + (z - m).exp());
            let lse = m + se.ln();
            let tsum = target[row.clone()].iter().fold(F::zero(), |a, &t| a + t);
            for j in row {
                s = s + target[j] * (lse - out[j]);
                dout[j] = scale * ((out[j] - lse).exp() * tsum - target[j]);
            }
            *rl = s;
            continue;
        }
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
                LossKind::SoftmaxCe => unreachable!(),
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

/// Input corruption (see [`NoiseKind`]): element i draws `rng::uniform(seed, stream, i)`
/// (and `rng::uniform2` / `rng::normal` where the kind needs a second number), so every
/// backend corrupts identically.
pub fn noise<F: Float>(kind: NoiseKind, x: &[F], out: &mut [F], seed: u32, stream: u32) {
    assert_eq!(x.len(), out.len());
    for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        let i = i as u32;
        *o = match kind {
            NoiseKind::None => v,
            NoiseKind::Masking { keep } => {
                if rng::uniform(seed, stream, i) < keep {
                    v
                } else {
                    F::zero()
                }
            }
            NoiseKind::Gaussian { sigma } => v + c::<F>((sigma * rng::normal(seed, stream, i)) as f64),
            NoiseKind::SaltPepper { p } => {
                if rng::uniform(seed, stream, i) < p {
                    if rng::uniform2(seed, stream, i) < 0.5 {
                        F::zero()
                    } else {
                        F::one()
                    }
                } else {
                    v
                }
            }
            NoiseKind::Dropout { keep } => {
                if rng::uniform(seed, stream, i) < keep {
                    v * c::<F>((1.0f32 / keep) as f64)
                } else {
                    F::zero()
                }
            }
        };
    }
}

/// The mean activation ρ̂ⱼ of column j, clamped away from 0 and 1 so the KL stays finite.
fn rho_hat<F: Float>(colsum: F, rows: usize) -> F {
    (colsum / c::<F>(rows as f64)).max(c(1e-6)).min(c(1.0 - 1e-6))
}

/// Σⱼ KL(ρ ‖ ρ̂ⱼ) from the column sums of a sigmoid layer's activations over `rows` rows.
pub fn kl_sparsity<F: Float>(colsum: &[F], rows: usize, rho: f32) -> F {
    let r = c::<F>(rho as f64);
    colsum.iter().fold(F::zero(), |a, &s| {
        let q = rho_hat(s, rows);
        a + r * (r / q).ln() + (F::one() - r) * ((F::one() - r) / (F::one() - q)).ln()
    })
}

/// Adds the gradient of β·Σⱼ KL(ρ ‖ ρ̂ⱼ) with respect to the activations to `dy`
/// (rows × cols, cols = colsum.len()): β·(−ρ/ρ̂ⱼ + (1−ρ)/(1−ρ̂ⱼ))/rows in column j.
pub fn sparsity_grad<F: Float>(colsum: &[F], dy: &mut [F], rows: usize, rho: f32, beta: f32) {
    let cols = colsum.len();
    assert_eq!(dy.len(), rows * cols);
    let (r, b) = (c::<F>(rho as f64), c::<F>(beta as f64));
    let g: Vec<F> = colsum
        .iter()
        .map(|&s| {
            let q = rho_hat(s, rows);
            b * (-r / q + (F::one() - r) / (F::one() - q)) / c::<F>(rows as f64)
        })
        .collect();
    for row in dy.chunks_mut(cols.max(1)) {
        for (d, &gj) in row.iter_mut().zip(&g) {
            *d = *d + gj;
        }
    }
}

/// The variational code: h = [μ | γ] (rows × 2L, γ = log σ²) gives z = μ + e^{γ/2}·ε
/// (rows × L) with ε = `rng::normal(seed, stream, r·L + j)`, or ε = 0 when `sample` is
/// false (the mean code); ε is kept in `eps` for the backward pass, and the KL divergence
/// to N(0, I), ½·Σⱼ(e^γ + μ² − 1 − γ), goes to `row_kl`.
pub fn reparam_forward<F: Float>(h: &[F], eps: &mut [F], z: &mut [F], row_kl: &mut [F], draw: Reparam) {
    let Reparam { latent, seed, stream, sample } = draw;
    let rows = row_kl.len();
    assert_eq!(h.len(), rows * 2 * latent);
    assert_eq!(z.len(), rows * latent);
    assert_eq!(eps.len(), rows * latent);
    let half = c::<F>(0.5);
    for r in 0..rows {
        let mut kl = F::zero();
        for j in 0..latent {
            let (mu, g) = (h[r * 2 * latent + j], h[r * 2 * latent + latent + j]);
            let i = r * latent + j;
            let e = if sample { c::<F>(rng::normal(seed, stream, i as u32) as f64) } else { F::zero() };
            eps[i] = e;
            z[i] = mu + (half * g).exp() * e;
            kl = kl + half * (g.exp() + mu * mu - F::one() - g);
        }
        row_kl[r] = kl;
    }
}

/// Backward of [`reparam_forward`] plus the KL term weighted by `scale`: from dz (rows × L)
/// to dh = [dμ | dγ] (rows × 2L): dμ = dz + scale·μ, dγ = dz·ε·½e^{γ/2} + scale·½(e^γ − 1).
pub fn reparam_backward<F: Float>(h: &[F], eps: &[F], dz: &[F], dh: &mut [F], latent: usize, scale: F) {
    let rows = dz.len() / latent.max(1);
    assert_eq!(h.len(), rows * 2 * latent);
    assert_eq!(dh.len(), h.len());
    let half = c::<F>(0.5);
    for r in 0..rows {
        for j in 0..latent {
            let (mu, g) = (h[r * 2 * latent + j], h[r * 2 * latent + latent + j]);
            let i = r * latent + j;
            dh[r * 2 * latent + j] = dz[i] + scale * mu;
            dh[r * 2 * latent + latent + j] = dz[i] * eps[i] * half * (half * g).exp() + scale * half * (g.exp() - F::one());
        }
    }
}

/// row_out[r] = 1 where the largest output of row r (the first, on ties) is at the
/// largest target (the label of a one-hot row), else 0.
pub fn argmax_correct<F: Float>(out: &[F], target: &[F], cols: usize, row_out: &mut [F]) {
    assert_eq!(out.len(), target.len());
    assert_eq!(row_out.len() * cols, out.len());
    let argmax = |row: &[F]| row.iter().enumerate().fold(0, |best, (j, &v)| if v > row[best] { j } else { best });
    for (r, o) in row_out.iter_mut().enumerate() {
        let row = r * cols..(r + 1) * cols;
        *o = if argmax(&out[row.clone()]) == argmax(&target[row]) { F::one() } else { F::zero() };
    }
}

/// out[i, :] = one-hot of label `labels[idx[i]]` over `classes` columns.
pub fn gather_onehot<F: Float>(labels: &[u8], idx: &[u32], classes: usize, out: &mut [F]) {
    assert_eq!(out.len(), idx.len() * classes);
    for (row, &i) in out.chunks_mut(classes).zip(idx) {
        row.iter_mut().for_each(|v| *v = F::zero());
        let l = labels[i as usize] as usize;
        assert!(l < classes, "label {l} is not one of {classes} classes");
        row[l] = F::one();
    }
}

/// out[i, :] = data[idx[i], :] for a float dataset.
pub fn gather_f32<F: Float>(data: &[f32], dim: usize, idx: &[u32], out: &mut [F]) {
    assert_eq!(out.len(), idx.len() * dim);
    for (row, &i) in out.chunks_mut(dim.max(1)).zip(idx) {
        for (o, &v) in row.iter_mut().zip(&data[i as usize * dim..(i as usize + 1) * dim]) {
            *o = c::<F>(v as f64);
        }
    }
}

/// p ← p − lr·g
pub fn sgd_step<F: Float>(params: &mut [F], grads: &[F], lr: F) {
    assert_eq!(params.len(), grads.len());
    for (p, &g) in params.iter_mut().zip(grads) {
        *p = *p - lr * g;
    }
}

/// y ← y + a·x (folds the L2 term λ·w into a weight gradient).
pub fn axpy<F: Float>(x: &[F], y: &mut [F], a: F) {
    assert_eq!(x.len(), y.len(), "axpy: {} values into {}", x.len(), y.len());
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv = *yv + a * xv;
    }
}

/// PyTorch's SGD with momentum (dampening 0): v ← μ·v + g; p ← p − lr·v.
pub fn momentum_step<F: Float>(params: &mut [F], grads: &[F], vel: &mut [F], lr: F, mu: F) {
    assert_eq!(params.len(), grads.len());
    assert_eq!(params.len(), vel.len());
    for ((p, &g), v) in params.iter_mut().zip(grads).zip(vel.iter_mut()) {
        *v = mu * *v + g;
        *p = *p - lr * *v;
    }
}

/// PyTorch's Adam (bias-corrected, ε outside the square root) at step `t` (1-based):
/// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε).
pub fn adam_step<F: Float>(params: &mut [F], grads: &[F], m: &mut [F], v: &mut [F], adam: AdamStep) {
    let AdamStep { beta1, beta2, eps, .. } = adam;
    assert_eq!(params.len(), grads.len());
    assert_eq!(params.len(), m.len());
    assert_eq!(params.len(), v.len());
    let (step, sqrt_bc2) = adam.scalars();
    let (step, sqrt_bc2) = (c::<F>(step as f64), c::<F>(sqrt_bc2 as f64));
    let (b1, b2, eps) = (c::<F>(beta1 as f64), c::<F>(beta2 as f64), c::<F>(eps as f64));
    for (((p, &g), mv), vv) in params.iter_mut().zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
        *mv = b1 * *mv + (F::one() - b1) * g;
        *vv = b2 * *vv + (F::one() - b2) * g * g;
        *p = *p - step * *mv / (vv.sqrt() / sqrt_bc2 + eps);
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
        matmul(&a, &b, &mut c1, Gemm::new(2, 3, 2));
        assert_eq!(c1, [4.0, 5.0, 10.0, 11.0]);
        let at = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let bt = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        let mut c2 = [1.0; 4];
        matmul(&at, &bt, &mut c2, Gemm::new(2, 3, 2).ta(true).tb(true).accumulate(true));
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
    fn adam_first_step_moves_each_weight_by_about_lr() {
        // At t = 1 the bias-corrected update is lr·g/(|g| + ε): a step of lr against the sign.
        let mut p = [1.0f64, -2.0, 0.5];
        let g = [0.3, -4.0, 0.0];
        let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
        let adam = AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 1 };
        adam_step(&mut p, &g, &mut m, &mut v, adam);
        assert!((p[0] - 0.99).abs() < 1e-6 && (p[1] + 1.99).abs() < 1e-6 && p[2] == 0.5, "{p:?}");
        // A second step with the same gradient is again a step of about lr.
        adam_step(&mut p, &g, &mut m, &mut v, AdamStep { t: 2, ..adam });
        assert!((p[0] - 0.98).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn momentum_accumulates_velocity() {
        let mut p = [0.0f64];
        let mut v = [0.0f64];
        momentum_step(&mut p, &[1.0], &mut v, 0.1, 0.9);
        momentum_step(&mut p, &[1.0], &mut v, 0.1, 0.9);
        assert!((v[0] - 1.9).abs() < 1e-12 && (p[0] + 0.29).abs() < 1e-12);
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
