//! The scalar reference of the whole model: forward pass, loss and hand-written backward
//! pass, built from `core::ops` and generic over the float type. Backends are tested
//! against it in f32; its backward pass is checked by finite differences in f64.

use num_traits::Float;

use super::config::ModelConfig;
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
        ops::matmul(&acts[l], &params[s.w..s.w + s.w_len()], &mut z, n, s.fan_in, s.fan_out, false, false, false);
        let mut y = vec![F::zero(); z.len()];
        ops::bias_act_forward(&z, &params[s.b..s.b + s.fan_out], act, &mut y, s.fan_out);
        acts.push(y);
    }
    acts
}

/// Sum over the batch of the per-example loss, and the gradient of
/// `scale × that sum` with respect to every parameter (scale 1 for a summed loss,
/// 1/n for a mean).
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
        ops::matmul(&acts[l], &dz, &mut grads[s.w..s.w + s.w_len()], s.fan_in, n, s.fan_out, true, false, false);
        ops::bias_grad(&dz, &mut grads[s.b..s.b + s.fan_out], s.fan_out, false);
        if l > 0 {
            let mut dx = vec![F::zero(); n * s.fan_in];
            ops::matmul(&dz, &params[s.w..s.w + s.w_len()], &mut dx, n, s.fan_out, s.fan_in, false, true, false);
            delta = dx;
        }
    }
    (loss, grads)
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
            p[i] -= 2.0 * h;
            let (lm, _) = loss_and_grad(cfg, &layout, &p, &input, &target, n, scale);
            let numeric = (lp - lm) * scale / (2.0 * h);
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
}
