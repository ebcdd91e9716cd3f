//! The layer family of backend ops: matrix products, a dense layer's fused forward and
//! input-gradient passes, bias + activation and its derivative, bias gradients. Scalar
//! definitions in `core::ops` under the same names.

use super::View;
use crate::core::ops::{Gemm, Linear};
use crate::core::Activation;

/// The ops of a dense layer's forward and backward passes.
pub trait LayerOps {
    /// C = op(A)·op(B) (+ C if `g.accumulate`), shaped by `g` (`core::ops::Gemm`).
    fn matmul(&mut self, a: View, b: View, c: View, g: Gemm);
    /// A dense layer: y[m×n] = act(x[m×k]·op(W) + bias), shaped by `l` (`core::ops::Linear`).
    /// `z` [m×n] is scratch a backend may use for the pre-activation; its contents
    /// afterwards are unspecified. By default `matmul` then `bias_act_forward`; the GPU
    /// backend does it in one pass (`core::ops::linear_forward`).
    fn linear_forward(&mut self, x: View, w: View, bias: View, z: View, y: View, l: Linear) {
        self.matmul(x, w, z, l.forward());
        self.bias_act_forward(z, bias, l.act, y, l.n);
    }
    /// The input gradient of that layer through the previous layer's activation `l.act`:
    /// dz_prev[m×k] = (dz[m×n]·op(W)ᵀ) ⊙ act'(y_prev). `dx` [m×k] is scratch (contents
    /// afterwards unspecified). By default `matmul` then `act_backward`; the GPU backend
    /// does it in one pass (`core::ops::linear_backward`).
    fn linear_backward(&mut self, dz: View, w: View, y_prev: View, dx: View, dz_prev: View, l: Linear) {
        self.matmul(dz, w, dx, l.backward());
        self.act_backward(dx, y_prev, l.act, dz_prev);
    }
    /// out = act(x + bias), bias broadcast over rows of `cols`.
    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize);
    /// dz = dy ⊙ act'(y), from the layer output y.
    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View);
    /// db = column sums of dz (+ db if `accumulate`).
    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool);
}
