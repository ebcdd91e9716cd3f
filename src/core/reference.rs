//! The scalar reference of the whole model: forward pass, loss and hand-written backward
//! pass, built from `core::ops` and generic over the float type. Backends are tested
//! against it in f32; its backward pass is checked by finite differences in f64.

use num_traits::Float;

use super::config::{ModelConfig, Optimizer};
use super::layout::ParamLayout;
use super::ops;

/// Activations of every layer for a batch: acts[0] is the input, acts[L] the output
/// (logits when the loss is BCE).
pub fn forward<F: Float>(cfg: &ModelConfig, layout: &ParamLayout, params: &[F], input: &[F], n: usize) -> Vec<Vec<F>> {
    let mut acts = vec![input.to_vec()];
    let last = layout.dense.len() - 1;
    for (l, s) in layout.dense.iter().enumerate() {
        let act = if l == last { cfg.output_activation_in_graph() } else { cfg.activations[l] };
        let mut z = vec![F::zero(); n * s.fan_out];
        // A tied decoder layer uses its partner's W (stored fan_out × fan_in) transposed.
        ops::matmul(&acts[l], &params[s.w..s.w + s.w_len()], &mut z, n, s.fan_in, s.fan_out, false, s.transposed, false);
        let mut y = vec![F::zero(); z.len()];
        ops::bias_act_forward(&z, &params[s.b..s.b + s.fan_out], act, &mut y, s.fan_out);
        acts.push(y);
    }
    acts
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

/// Sum over the batch of the per-example loss, and the gradient of the training objective
/// `scale × that sum + l2_penalty` with respect to every parameter (scale 1 for a summed
/// loss, 1/n for a mean). With tied weights the two uses of W add into one gradient.
pub fn loss_and_grad<F: Float>(
    cfg: &ModelConfig,
    layout: &ParamLayout,
    params: &[F],
    input: &[F],
    target: &[F],
    n: usize,
    scale: F,
) -> (F, Vec<F>) {
    let acts = forward(cfg, layout, params, input, n);
    let out = acts.last().unwrap();
    let mut delta = vec![F::zero(); out.len()];
    let mut rows = vec![F::zero(); n];
    ops::loss_forward_backward(cfg.loss, out, target, cfg.output_dim(), scale, &mut delta, &mut rows);
    let loss = rows.iter().fold(F::zero(), |a, &b| a + b);
    let mut grads = vec![F::zero(); params.len()];
    let last = layout.dense.len() - 1;
    for (l, s) in layout.dense.iter().enumerate().rev() {
        // delta holds dL/d(output of layer l); turn it into dL/d(pre-activation).
        let act = if l == last { cfg.output_activation_in_graph() } else { cfg.activations[l] };
        let mut dz = vec![F::zero(); delta.len()];
        ops::act_backward(&delta, &acts[l + 1], act, &mut dz);
        let gw = &mut grads[s.w..s.w + s.w_len()];
        if s.transposed {
            // W (fan_out × fan_in) used as Wᵀ: dW += dzᵀ·x.
            ops::matmul(&dz, &acts[l], gw, s.fan_out, n, s.fan_in, true, false, true);
        } else {
            ops::matmul(&acts[l], &dz, gw, s.fan_in, n, s.fan_out, true, false, true);
        }
        ops::bias_grad(&dz, &mut grads[s.b..s.b + s.fan_out], s.fan_out, false);
        if l > 0 {
            let mut dx = vec![F::zero(); n * s.fan_in];
            ops::matmul(&dz, &params[s.w..s.w + s.w_len()], &mut dx, n, s.fan_out, s.fan_in, false, !s.transposed, false);
            delta = dx;
        }
    }
    if cfg.l2 > 0.0 {
        let l2 = F::from(cfg.l2).unwrap();
        for (o, len) in layout.weight_ranges() {
            ops::axpy(&params[o..o + len], &mut grads[o..o + len], l2);
        }
    }
    (loss, grads)
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
                ops::adam_step(params, grads, &mut m[0], &mut v[0], lr, beta1, beta2, eps, self.t)
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
        let scale = 1.0 / n as f64;
        let (_, grads) = loss_and_grad(cfg, &layout, &params, &input, &target, n, scale);
        let h = 1e-6;
        for i in 0..params.len() {
            let mut p = params.clone();
            p[i] += h;
            let (lp, _) = loss_and_grad(cfg, &layout, &p, &input, &target, n, scale);
            let lp = lp * scale + l2_penalty(cfg, &layout, &p);
            p[i] -= 2.0 * h;
            let (lm, _) = loss_and_grad(cfg, &layout, &p, &input, &target, n, scale);
            let lm = lm * scale + l2_penalty(cfg, &layout, &p);
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
}
