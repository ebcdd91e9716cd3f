//! The optimizer family of backend ops: the parameter updates (SGD, momentum, Adam) and
//! the L2 term folded into a gradient. Scalar definitions in `core::ops` under the same
//! names.

use super::View;
use crate::core::ops::AdamStep;

/// Parameter updates over flat parameter and gradient buffers.
pub trait OptimOps {
    /// params −= lr · grads. Afterwards `grads` is unspecified: a backend may apply a
    /// deferred weight-gradient product to the weights without ever storing it (the GPU
    /// backend does; the CPU backend's `grads` still reads as the gradient).
    fn sgd_step(&mut self, params: View, grads: View, lr: f32);
    /// y += a · x (the L2 term λ·w folded into a weight gradient).
    fn axpy(&mut self, x: View, y: View, a: f32);
    /// SGD with momentum (PyTorch, no dampening): vel = momentum·vel + grads;
    /// params −= lr · vel. `vel` has the parameters' layout.
    fn momentum_step(&mut self, params: View, grads: View, vel: View, lr: f32, momentum: f32);
    /// Adam, bias-corrected as PyTorch does (`core::ops::adam_step`); `m` and `v` have the
    /// parameters' layout. Afterwards `grads` is unspecified, as after
    /// [`OptimOps::sgd_step`].
    fn adam_step(&mut self, params: View, grads: View, m: View, v: View, adam: AdamStep);
}
