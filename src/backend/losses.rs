//! The losses-and-noise family of backend ops: the loss and its gradient, accuracy, sums,
//! the sparsity penalty's gradient, input corruption and the variational code's draw.
//! Scalar definitions in `core::ops` under the same names.

use super::View;
use crate::core::ops::{Loss, Reparam};
use crate::core::NoiseKind;

/// The ops between a model's output and its objective, and the random draws.
pub trait LossOps {
    /// Per-row loss of `out` against `target` into `row_loss`, gradient × `loss.scale` into
    /// `dout` (`core::ops::loss_forward_backward`).
    fn loss_forward_backward(&mut self, loss: Loss, out: View, target: View, dout: View, row_loss: View);
    /// row_out[r] = 1 where row r's largest output is at its target's largest entry.
    fn argmax_correct(&mut self, out: View, target: View, cols: usize, row_out: View);
    /// dst[0] = Σ src (+ dst[0] if `accumulate`).
    fn sum_into(&mut self, src: View, dst: View, accumulate: bool);
    /// Adds the KL sparsity gradient to `dy` (rows × colsum.len) from the column sums of
    /// the layer's activations (`core::ops::sparsity_grad`).
    fn sparsity_grad(&mut self, colsum: View, dy: View, rows: usize, rho: f32, beta: f32);
    /// Input corruption with the counter-based generator of `core::rng` (`core::ops::noise`).
    fn noise(&mut self, kind: NoiseKind, x: View, out: View, seed: u32, stream: u32);
    /// The variational code from h = [μ | γ] (`core::ops::reparam_forward`).
    fn reparam_forward(&mut self, h: View, eps: View, z: View, row_kl: View, draw: Reparam);
    /// Its backward pass with the KL term × `scale` (`core::ops::reparam_backward`).
    fn reparam_backward(&mut self, h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32);
}
