//! The scalar reference of the whole model: forward pass, loss and hand-written backward
//! pass, built from `core::ops` and generic over the float type. Backends are tested
//! against it in f32; its backward pass is checked by finite differences in f64.

use num_traits::Float;

use super::config::{ModelConfig, Optimizer};
use super::layout::ParamLayout;
use super::ops;

/// The draws of a variational code: ε for element i of the code is
/// `rng::normal(seed, stream, i)`, or 0 when `sample` is false (decode the mean).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeNoise {
    pub seed: u32,
    pub stream: u32,
    pub sample: bool,
}

impl Default for CodeNoise {
    fn default() -> Self {
        CodeNoise { seed: 0, stream: 0, sample: true }
    }
}

/// Everything the forward pass computes for a batch.
pub struct Forward<F> {
    /// acts[0] is the input, acts[l + 1] the output of layer l; acts[L] the model output
    /// (logits when the loss is BCE). A variational code layer's output is [μ | γ].
    pub acts: Vec<Vec<F>>,
    /// The sampled code z and its ε (variational models; empty otherwise).
    pub code: Vec<F>,
    pub eps: Vec<F>,
    /// Per-example KL divergence of a variational code to N(0, I) (zeros otherwise).
    pub kl: Vec<F>,
}

impl<F: Float> Forward<F> {
    /// The input of layer `l`: the sampled code after a variational code layer.
    pub fn layer_input(&self, cfg: &ModelConfig, l: usize) -> &[F] {
        if cfg.variational && l == cfg.code_layer() {
            &self.code
        } else {
            &self.acts[l]
        }
    }
}

/// The activation layer `l` applies in the graph (the last one's sigmoid lives in a BCE
/// loss).
fn act_of(cfg: &ModelConfig, l: usize) -> super::config::Activation {
    if l + 1 == cfg.layers() {
        cfg.output_activation_in_graph()
    } else {
        cfg.activations[l]
    }
}

/// Forward pass of `n` rows.
pub fn forward_full<F: Float>(cfg: &ModelConfig, layout: &ParamLayout, params: &[F], input: &[F], n: usize, noise: CodeNoise) -> Forward<F> {
    let mut f = Forward { acts: vec![input.to_vec()], code: Vec::new(), eps: Vec::new(), kl: vec![F::zero(); n] };
    for (l, s) in layout.dense.iter().enumerate() {
        let mut z = vec![F::zero(); n * s.fan_out];
        // A tied decoder layer uses its partner's W (stored fan_out × fan_in) transposed.
        ops::matmul(f.layer_input(cfg, l), &params[s.w..s.w + s.w_len()], &mut z, ops::Gemm::new(n, s.fan_in, s.fan_out).tb(s.transposed));
        let mut y = vec![F::zero(); z.len()];
        ops::bias_act_forward(&z, &params[s.b..s.b + s.fan_out], act_of(cfg, l), &mut y, s.fan_out);
        if cfg.variational && l + 1 == cfg.code_layer() {
            let latent = cfg.code_dim();
            f.code = vec![F::zero(); n * latent];
            f.eps = vec![F::zero(); n * latent];
            ops::reparam_forward(&y, &mut f.eps, &mut f.code, &mut f.kl, ops::Reparam { latent, seed: noise.seed, stream: noise.stream, sample: noise.sample });
        }
        f.acts.push(y);
    }
    f
}

/// Activations of every layer for a batch: acts[0] is the input, acts[L] the output
/// (logits when the loss is BCE); a variational code is sampled with the default draws.
pub fn forward<F: Float>(cfg: &ModelConfig, layout: &ParamLayout, params: &[F], input: &[F], n: usize) -> Vec<Vec<F>> {
    forward_full(cfg, layout, params, input, n, CodeNoise::default()).acts
}

/// The L2 term of the training objective: λ·½Σw² over the weights (biases excluded; a tied
/// W counts once).
pub fn l2_penalty<F: Float>(cfg: &ModelConfig, layout: &ParamLayout, params: &[F]) -> F {
    let half_sq = layout
        .weight_ranges()
        .iter()
        .flat_map(|&(o, len)| params[o..o + len].iter())
        .fold(F::zero(), |a, &w| a + w * w);
    F::from(cfg.l2).unwrap() * F::from(0.5).unwrap() * half_sq
}

/// Column sums of layer `l`'s output over the batch (the sparsity term's input).
fn column_sums<F: Float>(y: &[F], cols: usize) -> Vec<F> {
    let mut s = vec![F::zero(); cols];
    ops::bias_grad(y, &mut s, cols, false);
    s
}

/// What [`loss_and_grad_with`] returns.
pub struct LossGrad<F> {
    /// Sum over the batch of the per-example loss (with a variational model's KL term).
    pub loss: F,
    /// The sparsity penalty β·Σⱼ KL(ρ ‖ ρ̂ⱼ) of this batch (0 without sparsity).
    pub sparsity: F,
    /// Gradient of `scale × loss + sparsity + l2_penalty` with respect to every parameter.
    pub grads: Vec<F>,
}

/// A batch for [`loss_and_grad`]: `rows` inputs and their targets, and the scale of the
/// loss in the objective (1 for a summed loss, 1/rows for a mean).
#[derive(Clone, Copy)]
pub struct Batch<'a, F> {
    pub input: &'a [F],
    pub target: &'a [F],
    pub rows: usize,
    pub scale: F,
}

/// Sum over the batch of the per-example loss, and the gradient of the training objective
/// `scale × that sum + l2_penalty` with respect to every parameter. With tied weights the
/// two uses of W add into one gradient.
pub fn loss_and_grad<F: Float>(cfg: &ModelConfig, layout: &ParamLayout, params: &[F], batch: Batch<F>) -> (F, Vec<F>) {
    let r = loss_and_grad_with(cfg, layout, params, batch, CodeNoise::default());
    (r.loss, r.grads)
}

/// [`loss_and_grad`] with the variational code's draws given, and the sparsity penalty
/// reported: the objective is `scale × loss + sparsity + l2_penalty`.
pub fn loss_and_grad_with<F: Float>(cfg: &ModelConfig, layout: &ParamLayout, params: &[F], batch: Batch<F>, noise: CodeNoise) -> LossGrad<F> {
    let Batch { input, target, rows: n, scale } = batch;
    let f = forward_full(cfg, layout, params, input, n, noise);
    let out = f.acts.last().unwrap();
    let mut delta = vec![F::zero(); out.len()];
    let mut rows = vec![F::zero(); n];
    ops::loss_forward_backward(cfg.loss, out, target, cfg.output_dim(), scale, &mut delta, &mut rows);
    let loss = rows.iter().zip(&f.kl).fold(F::zero(), |a, (&b, &k)| a + b + k);
    let mut sparsity = F::zero();
    let mut grads = vec![F::zero(); params.len()];
    for (l, s) in layout.dense.iter().enumerate().rev() {
        // delta holds dL/d(output of layer l); turn it into dL/d(pre-activation).
        let mut dz = vec![F::zero(); delta.len()];
        ops::act_backward(&delta, &f.acts[l + 1], act_of(cfg, l), &mut dz);
        let input_l = f.layer_input(cfg, l);
        let gw = &mut grads[s.w..s.w + s.w_len()];
        if s.transposed {
            // W (fan_out × fan_in) used as Wᵀ: dW += dzᵀ·x.
            ops::matmul(&dz, input_l, gw, ops::Gemm::new(s.fan_out, n, s.fan_in).ta(true).accumulate(true));
        } else {
            ops::matmul(input_l, &dz, gw, ops::Gemm::new(s.fan_in, n, s.fan_out).ta(true).accumulate(true));
        }
        ops::bias_grad(&dz, &mut grads[s.b..s.b + s.fan_out], s.fan_out, false);
        if l > 0 {
            let mut dx = vec![F::zero(); n * s.fan_in];
            ops::matmul(&dz, &params[s.w..s.w + s.w_len()], &mut dx, ops::Gemm::new(n, s.fan_out, s.fan_in).tb(!s.transposed));
            if cfg.variational && l == cfg.code_layer() {
                // dx is the gradient w.r.t. the sampled code: back through z = μ + e^{γ/2}·ε
                // to [μ | γ], adding the KL term's gradient.
                let mut dh = vec![F::zero(); n * 2 * cfg.code_dim()];
                ops::reparam_backward(&f.acts[l], &f.eps, &dx, &mut dh, cfg.code_dim(), scale);
                dx = dh;
            }
            if let Some(sp) = cfg.sparsity.filter(|sp| sp.layer + 1 == l) {
                let colsum = column_sums(&f.acts[l], s.fan_in);
                sparsity = F::from(sp.beta).unwrap() * ops::kl_sparsity(&colsum, n, sp.rho);
                ops::sparsity_grad(&colsum, &mut dx, n, sp.rho, sp.beta);
            }
            delta = dx;
        }
    }
    if cfg.l2 > 0.0 {
        let l2 = F::from(cfg.l2).unwrap();
        for (o, len) in layout.weight_ranges() {
            ops::axpy(&params[o..o + len], &mut grads[o..o + len], l2);
        }
    }
    LossGrad { loss, sparsity, grads }
}

/// Optimizer state of the reference model: moment buffers in the parameters' layout and
/// the number of steps taken.
pub struct OptimState<F> {
    pub moments: Vec<Vec<F>>,
    pub t: u64,
}

impl<F: Float> OptimState<F> {
    pub fn new(cfg: &ModelConfig, len: usize) -> Self {
        OptimState { moments: vec![vec![F::zero(); len]; cfg.optimizer.moment_buffers()], t: 0 }
    }

    /// One update of `params` with `grads` by the configured optimizer.
    pub fn step(&mut self, cfg: &ModelConfig, params: &mut [F], grads: &[F]) {
        self.t += 1;
        match cfg.optimizer {
            Optimizer::Sgd { lr } => ops::sgd_step(params, grads, F::from(lr).unwrap()),
            Optimizer::Momentum { lr, momentum } => {
                ops::momentum_step(params, grads, &mut self.moments[0], F::from(lr).unwrap(), F::from(momentum).unwrap())
            }
            Optimizer::Adam { lr, beta1, beta2, eps } => {
                let (m, v) = self.moments.split_at_mut(1);
                ops::adam_step(params, grads, &mut m[0], &mut v[0], ops::AdamStep { lr, beta1, beta2, eps, t: self.t })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{Activation, Init, LossKind, NoiseKind, Optimizer, Reduction};

    fn small(acts: Vec<Activation>, loss: LossKind, dims: Vec<usize>) -> ModelConfig {
        ModelConfig {
            name: "small".into(),
            dims,
            activations: acts,
            loss,
            noise: NoiseKind::None,
            optimizer: Optimizer::Sgd { lr: 0.1 },
            init: Init::Uniform { a: 0.5 },
            reduction: Reduction::Mean,
            batch: 3,
            tied: false,
            l2: 0.0,
            sparsity: None,
            variational: false,
        }
    }

    /// Central differences in f64 against the hand-written backward pass.
    fn check(cfg: &ModelConfig) {
        let layout = ParamLayout::new(cfg);
        let params: Vec<f64> = layout.init(cfg, 3).iter().map(|&v| v as f64).collect();
        // Biases non-zero too, so their gradients are exercised away from the origin.
        let params: Vec<f64> = params.iter().enumerate().map(|(i, &v)| v + 0.01 * ((i % 7) as f64 - 3.0)).collect();
        let n = 3;
        let d = cfg.input_dim();
        let input: Vec<f64> = (0..n * d).map(|i| ((i * 37 % 11) as f64) / 10.0).collect();
        let target: Vec<f64> = (0..n * d).map(|i| ((i * 53 % 13) as f64) / 12.0).collect();
        let target: Vec<f64> = if cfg.is_classifier() {
            // One-hot labels.
            let k = cfg.output_dim();
            (0..n * k).map(|i| if i % k == (i / k * 3 + 1) % k { 1.0 } else { 0.0 }).collect()
        } else {
            target
        };
        let scale = 1.0 / n as f64;
        // The variational code's noise is fixed (same draws at every evaluation).
        let noise = CodeNoise { seed: 9, stream: 4, sample: true };
        let batch = Batch { input: &input, target: &target, rows: n, scale };
        let objective = |p: &[f64]| {
            let r = loss_and_grad_with(cfg, &layout, p, batch, noise);
            r.loss * scale + r.sparsity + l2_penalty(cfg, &layout, p)
        };
        let grads = loss_and_grad_with(cfg, &layout, &params, batch, noise).grads;
        let h = 1e-6;
        for i in 0..params.len() {
            let mut p = params.clone();
            p[i] += h;
            let lp = objective(&p);
            p[i] -= 2.0 * h;
            let lm = objective(&p);
            let numeric = (lp - lm) / (2.0 * h);
            let err = (numeric - grads[i]).abs() / numeric.abs().max(grads[i].abs()).max(1e-6);
            assert!(err < 1e-3, "{}: param {i}: analytic {} numeric {numeric} (rel err {err})", cfg.name, grads[i]);
        }
    }

    #[test]
    fn gradient_check_sigmoid_bce() {
        check(&small(vec![Activation::Sigmoid, Activation::Sigmoid], LossKind::BceLogits, vec![5, 4, 5]));
    }

    #[test]
    fn gradient_check_every_activation_and_squared_losses() {
        use Activation::*;
        check(&small(vec![Tanh, Elu, Identity], LossKind::HalfSse, vec![4, 3, 3, 4]));
        check(&small(vec![Relu, Sigmoid], LossKind::Mse, vec![4, 6, 4]));
    }

    #[test]
    fn gradient_check_tied_weights() {
        use Activation::*;
        let mut cfg = small(vec![Sigmoid, Sigmoid], LossKind::BceLogits, vec![5, 4, 5]);
        cfg.tied = true;
        check(&cfg);
        let mut cfg = small(vec![Elu, Tanh, Relu, Identity], LossKind::Mse, vec![6, 4, 3, 4, 6]);
        cfg.tied = true;
        check(&cfg);
    }

    #[test]
    fn gradient_check_l2_weight_decay() {
        use Activation::*;
        let mut cfg = small(vec![Elu, Elu, Identity], LossKind::Mse, vec![5, 4, 3, 5]);
        cfg.l2 = 0.3;
        check(&cfg);
        let mut cfg = small(vec![Sigmoid, Sigmoid], LossKind::HalfSse, vec![5, 3, 5]);
        cfg.l2 = 0.05;
        cfg.tied = true;
        check(&cfg);
    }

    #[test]
    fn gradient_check_he_normal_and_glorot_models() {
        use Activation::*;
        let mut cfg = small(vec![Relu, Sigmoid], LossKind::HalfSse, vec![5, 3, 5]);
        cfg.init = Init::GlorotUniform;
        check(&cfg);
        let mut cfg = small(vec![Elu, Identity], LossKind::Mse, vec![5, 3, 5]);
        cfg.init = Init::HeNormal;
        check(&cfg);
    }

    #[test]
    fn l2_penalty_counts_weights_once_and_skips_biases() {
        let mut cfg = small(vec![Activation::Sigmoid, Activation::Sigmoid], LossKind::BceLogits, vec![3, 2, 3]);
        cfg.tied = true;
        cfg.l2 = 2.0;
        let layout = ParamLayout::new(&cfg);
        let params = vec![1.0f64; layout.total];
        // 6 weights (shared), biases 2 + 3 left out: 2·½·6 = 6.
        assert_eq!(l2_penalty(&cfg, &layout, &params), 6.0);
    }

    #[test]
    fn gradient_check_sparsity_penalty() {
        use Activation::*;
        let mut cfg = small(vec![Sigmoid, Identity], LossKind::Mse, vec![5, 4, 5]);
        cfg.sparsity = Some(crate::core::config::Sparsity { layer: 0, rho: 0.1, beta: 0.7 });
        cfg.validate().unwrap();
        check(&cfg);
        let mut cfg = small(vec![Elu, Sigmoid, Sigmoid], LossKind::BceLogits, vec![5, 4, 3, 5]);
        cfg.sparsity = Some(crate::core::config::Sparsity { layer: 1, rho: 0.3, beta: 2.0 });
        cfg.validate().unwrap();
        check(&cfg);
    }

    #[test]
    fn gradient_check_variational_code() {
        use Activation::*;
        let mut cfg = small(vec![Elu, Identity, Tanh, Sigmoid], LossKind::BceLogits, vec![5, 4, 2, 4, 5]);
        cfg.variational = true;
        cfg.validate().unwrap();
        assert_eq!(ParamLayout::new(&cfg).dense[1].fan_out, 4, "μ and log σ² for a 2-wide code");
        check(&cfg);
        let mut cfg = small(vec![Identity, Identity], LossKind::HalfSse, vec![4, 3, 4]);
        cfg.variational = true;
        check(&cfg);
    }

    #[test]
    fn gradient_check_softmax_classifier() {
        use Activation::*;
        let cfg = small(vec![Sigmoid, Elu, Identity], LossKind::SoftmaxCe, vec![5, 4, 3, 4]);
        cfg.validate().unwrap();
        check(&cfg);
    }

    #[test]
    fn variational_kl_is_zero_at_the_prior_and_the_mean_code_needs_no_noise() {
        let mut cfg = small(vec![Activation::Identity, Activation::Identity], LossKind::HalfSse, vec![3, 2, 3]);
        cfg.variational = true;
        let layout = ParamLayout::new(&cfg);
        // All-zero parameters: μ = 0, γ = 0 is exactly the prior N(0, I).
        let params = vec![0.0f64; layout.total];
        let f = forward_full(&cfg, &layout, &params, &[0.5; 6], 2, CodeNoise { seed: 1, stream: 2, sample: false });
        assert_eq!(f.kl, vec![0.0, 0.0]);
        assert!(f.eps.iter().all(|&e| e == 0.0));
    }
}
