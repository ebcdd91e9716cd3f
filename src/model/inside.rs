//! One training step in slow motion: the step the trainer would take, with what it computed
//! read back on the way (the inputs, the corruption, the code, the output, the output error
//! backpropagation starts from, the first layer's weights before and after the update) and
//! the batch's loss again after the update. Every number is the backend's own, read from
//! the buffers the step used; nothing is computed on the side.

use crate::backend::{Backend, ReadFuture};
use crate::core::config::{NoiseKind, Reduction};
use crate::core::reference::CodeNoise;

use super::{Autoencoder, Split};

/// The read-backs of a step in slow motion (resolve each; rows are row-major).
pub struct InsideReads {
    /// Rows read back of each per-row buffer (the batch's first rows), and the batch's rows.
    pub rows: usize,
    pub batch: usize,
    /// [rows × d] the clean inputs, and the corrupted ones the model saw (None: no noise).
    pub clean: ReadFuture,
    pub noisy: Option<ReadFuture>,
    /// [rows × width] the code layer's output ([μ | log σ²] for a variational code).
    pub code: ReadFuture,
    /// [rows × latent] the sampled code (variational models).
    pub sample: Option<ReadFuture>,
    /// [width] the sparse layer's activations summed over the batch (sparse models).
    pub colsum: Option<ReadFuture>,
    /// [rows × k] the output (logits where the loss folds in the sigmoid: see
    /// [`Autoencoder::output_to_pixels`]) and the gradient with respect to the output
    /// layer's pre-activation, where backpropagation starts.
    pub out: ReadFuture,
    pub error: ReadFuture,
    /// [batch] each row's loss in the step, and after the update on the same input (and the
    /// same draws of a variational code).
    pub losses: ReadFuture,
    pub losses_after: ReadFuture,
    /// The first layer's W (fan_in × fan_out) before and after the update; None where the
    /// first layer uses its weights transposed.
    pub w_before: Option<ReadFuture>,
    pub w_after: Option<ReadFuture>,
}

impl Autoencoder {
    /// One training step on rows `idx` of `split` as [`Autoencoder::train_step`] takes it,
    /// with the first `rows` rows of its buffers read back on the way (see [`InsideReads`]).
    pub fn train_step_inside<B: Backend>(&mut self, be: &mut B, split: impl Into<Split>, idx: &[u32], seed: u32, stream: u32, rows: usize) -> InsideReads {
        let split = split.into();
        let n = idx.len();
        let rows = rows.min(n);
        let d = self.cfg.input_dim();
        let k = self.cfg.output_dim();
        let last = self.layout.dense.len() - 1;
        let first = self.layout.dense[0];
        let w_before = (!first.transposed).then(|| be.read_async(self.params.slice(first.w, first.w_len())));
        let ctx = self.step_parts(be, split, idx, seed, stream);
        let code_l = self.code_layer_index();
        let width = self.layout.dense[code_l].fan_out;
        let clean = be.read_async(self.x.prefix(rows * d));
        let noisy = (self.cfg.noise != NoiseKind::None).then(|| be.read_async(self.xn.prefix(rows * d)));
        let code = be.read_async(self.y[code_l].prefix(rows * width));
        let sample = self.cfg.variational.then(|| be.read_async(self.code.prefix(rows * self.cfg.code_dim())));
        let out = be.read_async(self.y[last].prefix(rows * k));
        let losses = be.read_async(self.row_loss.prefix(n));
        self.backward(be, ctx.input, n, ctx.scale);
        let error = be.read_async(self.dz[last].prefix(rows * k));
        let colsum = self.cfg.sparsity.map(|sp| be.read_async(self.colsum.prefix(self.layout.dense[sp.layer].fan_out)));
        self.finish_step(be);
        let w_after = (!first.transposed).then(|| be.read_async(self.params.slice(first.w, first.w_len())));
        // The same batch again through the updated model: the same input, the same draws.
        let out2 = self.forward(be, ctx.input, n, CodeNoise { seed, stream, sample: true });
        self.loss(be, out2, ctx.target, n, ctx.scale);
        let losses_after = be.read_async(self.row_loss.prefix(n));
        be.flush();
        InsideReads { rows, batch: n, clean, noisy, code, sample, colsum, out, error, losses, losses_after, w_before, w_after }
    }
}

/// What a step's forward pass left for its backward pass.
pub(super) struct StepParts {
    pub input: crate::backend::View,
    pub target: crate::backend::View,
    pub scale: f32,
}

impl Autoencoder {
    /// The forward half of a training step: the batch gathered and corrupted, the forward
    /// pass, the loss and its gradient, the loss logged.
    pub(super) fn step_parts<B: Backend>(&mut self, be: &mut B, split: Split, idx: &[u32], seed: u32, stream: u32) -> StepParts {
        let n = idx.len();
        assert!(n > 0 && n <= self.capacity, "batch of {n} rows, capacity {}", self.capacity);
        let d = self.cfg.input_dim();
        be.gather(split.data, idx, self.x.prefix(n * d));
        let input = self.corrupt(be, n, seed, stream);
        let target = self.target(be, split, idx);
        let out = self.forward(be, input, n, CodeNoise { seed, stream, sample: true });
        let scale = match self.cfg.reduction {
            Reduction::Sum => 1.0,
            Reduction::Mean => 1.0 / n as f32,
        };
        self.loss(be, out, target, n, scale);
        be.sum_into(self.row_loss.prefix(n), self.loss_acc, self.pending_examples > 0);
        self.pending_examples += n;
        if let Some(log) = self.step_log {
            be.sum_into(self.row_loss.prefix(n), log.slice(self.log_next, 1), false);
            self.log_next = (self.log_next + 1) % super::STEP_LOG;
            if self.log_rows.len() == super::STEP_LOG {
                self.log_rows.pop_front();
            }
            self.log_rows.push_back(n);
        }
        StepParts { input, target, scale }
    }

    /// The update half of a training step (after the backward pass): weight decay and the
    /// optimizer's step.
    pub(super) fn finish_step<B: Backend>(&mut self, be: &mut B) {
        if self.cfg.l2 > 0.0 {
            // d(λ·½Σw²)/dw = λ·w, weights only (biases are not decayed).
            for (o, len) in self.layout.weight_ranges() {
                be.axpy(self.params.slice(o, len), self.grads.slice(o, len), self.cfg.l2);
            }
        }
        self.optimizer_step(be);
    }
}
