//! The autoencoder as a stack of dense layers, written once against [`Backend`]: forward,
//! loss, hand-written backward and optimizer step, all on device buffers. Nothing is read
//! back during a step; the summed training loss accumulates on the device until asked for.

use crate::backend::{Backend, DataId, ReadFuture, View};
use crate::core::config::{NoiseKind, Optimizer, Reduction};
use crate::core::layout::ParamLayout;
use crate::core::{ops, ModelConfig};

/// Waits for a read-back that is already complete or completes by polling (the CPU
/// backend's reads are ready at once; the native GPU backend polls its device).
fn block_on(f: ReadFuture) -> Vec<f32> {
    use std::task::{Context, Poll, Waker};
    let mut f = f;
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(r) = f.as_mut().poll(&mut cx) {
            return r.unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Rows evaluated per forward pass when measuring the test loss.
pub const EVAL_CHUNK: usize = 500;

/// The optimizer's state on the host: moment buffers (none for SGD, the velocity for
/// momentum, m and v for Adam), each in the parameters' layout, and the steps taken.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimState {
    pub moments: Vec<Vec<f32>>,
    pub t: u64,
}

/// Device buffers of one model. Shapes in comments: B = row capacity, Wmax = widest layer.
pub struct Autoencoder {
    pub cfg: ModelConfig,
    pub layout: ParamLayout,
    /// Rows the activation buffers hold (≥ batch and ≥ EVAL_CHUNK).
    pub capacity: usize,
    /// [layout.total] all weights and biases.
    pub params: View,
    /// [layout.total] gradients, same layout.
    pub grads: View,
    /// [layout.total] each: optimizer moments, same layout (see [`OptimState`]).
    pub moments: Vec<View>,
    /// Optimizer steps taken (Adam's t).
    pub opt_steps: u64,
    /// Per layer: its W is also used (transposed) by a later layer, whose backward pass
    /// runs first, so this layer's weight gradient adds to it.
    w_shared: Vec<bool>,
    /// [B × d] clean input (the target).
    x: View,
    /// [B × d] corrupted input.
    xn: View,
    /// Per layer: [B × fan_out] pre-activation and output.
    z: Vec<View>,
    y: Vec<View>,
    /// [B × Wmax] backward scratch: gradient w.r.t. a layer output, and its pre-activation.
    dy: View,
    dz: View,
    /// [B] per-example loss.
    row_loss: View,
    /// [1] training loss summed since the last `take_train_loss`.
    loss_acc: View,
    /// [1] evaluation loss sum.
    eval_acc: View,
    /// Examples behind `loss_acc`.
    pending_examples: usize,
}

impl Autoencoder {
    /// Allocates the model on `be` with parameters initialised from `seed`.
    pub fn new<B: Backend>(be: &mut B, cfg: &ModelConfig, seed: u64) -> Result<Self, String> {
        cfg.validate()?;
        let layout = ParamLayout::new(cfg);
        let capacity = cfg.batch.max(EVAL_CHUNK);
        let d = cfg.input_dim();
        let wmax = *cfg.dims.iter().max().unwrap();
        let params = be.alloc(layout.total);
        be.write(params, &layout.init(cfg, seed));
        let grads = be.alloc(layout.total);
        let moments = (0..cfg.optimizer.moment_buffers()).map(|_| be.alloc(layout.total)).collect();
        let w_shared = layout.dense.iter().map(|s| !s.transposed && layout.dense.iter().any(|o| o.transposed && o.w == s.w)).collect();
        let (x, xn) = (be.alloc(capacity * d), be.alloc(capacity * d));
        let z = layout.dense.iter().map(|s| be.alloc(capacity * s.fan_out)).collect();
        let y = layout.dense.iter().map(|s| be.alloc(capacity * s.fan_out)).collect();
        let (dy, dz) = (be.alloc(capacity * wmax), be.alloc(capacity * wmax));
        let row_loss = be.alloc(capacity);
        let (loss_acc, eval_acc) = (be.alloc(1), be.alloc(1));
        Ok(Autoencoder {
            cfg: cfg.clone(),
            layout,
            capacity,
            params,
            grads,
            moments,
            opt_steps: 0,
            w_shared,
            x,
            xn,
            z,
            y,
            dy,
            dz,
            row_loss,
            loss_acc,
            eval_acc,
            pending_examples: 0,
        })
    }

    fn act(&self, l: usize) -> crate::core::Activation {
        if l + 1 == self.layout.dense.len() {
            self.cfg.output_activation_in_graph()
        } else {
            self.cfg.activations[l]
        }
    }

    /// Forward pass of `n` rows from `input`; returns the output view (logits for BCE).
    fn forward<B: Backend>(&self, be: &mut B, input: View, n: usize) -> View {
        let mut cur = input;
        for (l, s) in self.layout.dense.iter().enumerate() {
            let z = self.z[l].prefix(n * s.fan_out);
            let y = self.y[l].prefix(n * s.fan_out);
            // A tied decoder layer uses its partner's W (stored fan_out × fan_in) transposed.
            be.matmul(cur, self.params.slice(s.w, s.w_len()), z, n, s.fan_in, s.fan_out, false, s.transposed, false);
            be.bias_act_forward(z, self.params.slice(s.b, s.fan_out), self.act(l), y, s.fan_out);
            cur = y;
        }
        cur
    }

    /// Backward pass of `n` rows whose input was `input`, starting from the output
    /// gradient already in `dy`; writes `grads` (a tied W gets the sum of both uses).
    fn backward<B: Backend>(&self, be: &mut B, input: View, n: usize) {
        for (l, s) in self.layout.dense.iter().enumerate().rev() {
            let dy = self.dy.prefix(n * s.fan_out);
            let dz = self.dz.prefix(n * s.fan_out);
            be.act_backward(dy, self.y[l].prefix(n * s.fan_out), self.act(l), dz);
            let layer_in = if l == 0 { input } else { self.y[l - 1].prefix(n * s.fan_in) };
            let gw = self.grads.slice(s.w, s.w_len());
            if s.transposed {
                // W (fan_out × fan_in) used as Wᵀ: dW = dzᵀ·x.
                be.matmul(dz, layer_in, gw, s.fan_out, n, s.fan_in, true, false, false);
            } else {
                be.matmul(layer_in, dz, gw, s.fan_in, n, s.fan_out, true, false, self.w_shared[l]);
            }
            be.bias_grad(dz, self.grads.slice(s.b, s.fan_out), s.fan_out, false);
            if l > 0 {
                let dprev = self.dy.prefix(n * s.fan_in);
                be.matmul(dz, self.params.slice(s.w, s.w_len()), dprev, n, s.fan_out, s.fan_in, false, !s.transposed, false);
            }
        }
    }

    /// Builds the (corrupted) training input from the clean batch in `x`.
    fn corrupt<B: Backend>(&self, be: &mut B, n: usize, seed: u32, stream: u32) -> View {
        let d = self.cfg.input_dim();
        match self.cfg.noise {
            NoiseKind::None => self.x.prefix(n * d),
            NoiseKind::Masking { keep } => {
                be.noise_masking(self.x.prefix(n * d), self.xn.prefix(n * d), keep, seed, stream);
                self.xn.prefix(n * d)
            }
        }
    }

    /// One training step on the rows `idx` of `data`; `stream` numbers the step for the noise.
    pub fn train_step<B: Backend>(&mut self, be: &mut B, data: DataId, idx: &[u32], seed: u32, stream: u32) {
        let n = idx.len();
        assert!(n > 0 && n <= self.capacity, "batch of {n} rows, capacity {}", self.capacity);
        let d = self.cfg.input_dim();
        be.gather(data, idx, self.x.prefix(n * d));
        let input = self.corrupt(be, n, seed, stream);
        let out = self.forward(be, input, n);
        let scale = match self.cfg.reduction {
            Reduction::Sum => 1.0,
            Reduction::Mean => 1.0 / n as f32,
        };
        be.loss_forward_backward(self.cfg.loss, out, self.x.prefix(n * d), d, scale, self.dy.prefix(n * d), self.row_loss.prefix(n));
        be.sum_into(self.row_loss.prefix(n), self.loss_acc, self.pending_examples > 0);
        self.pending_examples += n;
        self.backward(be, input, n);
        if self.cfg.l2 > 0.0 {
            // d(λ·½Σw²)/dw = λ·w, weights only (biases are not decayed).
            for (o, len) in self.layout.weight_ranges() {
                be.axpy(self.params.slice(o, len), self.grads.slice(o, len), self.cfg.l2);
            }
        }
        self.optimizer_step(be);
    }

    /// Updates the parameters from `grads` with the configured optimizer.
    fn optimizer_step<B: Backend>(&mut self, be: &mut B) {
        self.opt_steps += 1;
        match self.cfg.optimizer {
            Optimizer::Sgd { lr } => be.sgd_step(self.params, self.grads, lr),
            Optimizer::Momentum { lr, momentum } => be.momentum_step(self.params, self.grads, self.moments[0], lr, momentum),
            Optimizer::Adam { lr, beta1, beta2, eps } => {
                be.adam_step(self.params, self.grads, self.moments[0], self.moments[1], lr, beta1, beta2, eps, self.opt_steps)
            }
        }
    }

    /// Starts reading the training loss summed since the last call, with the number of
    /// examples it covers (divide to get the mean); None if no step ran.
    pub fn train_loss_readback<B: Backend>(&mut self, be: &mut B) -> Option<(ReadFuture, usize)> {
        if self.pending_examples == 0 {
            return None;
        }
        let n = std::mem::take(&mut self.pending_examples);
        Some((be.read_async(self.loss_acc), n))
    }

    /// Mean per-example training loss since the last call (waits for the device), with
    /// the number of examples it covers; None if no step ran.
    pub fn take_train_loss<B: Backend>(&mut self, be: &mut B) -> Option<(f64, usize)> {
        if self.pending_examples == 0 {
            return None;
        }
        let sum = be.read(self.loss_acc)[0] as f64;
        let n = std::mem::take(&mut self.pending_examples);
        Some((sum / n as f64, n))
    }

    /// A one-element view that later work writes: reading it waits for everything queued.
    pub fn fence(&self) -> View {
        self.eval_acc
    }

    /// Sum of the clean reconstruction loss over rows `idx` of `data` (no noise); adds into
    /// the device accumulator, read with [`Self::take_eval_sum`].
    pub fn eval_rows<B: Backend>(&mut self, be: &mut B, data: DataId, idx: &[u32], first: bool) {
        let mut first = first;
        let d = self.cfg.input_dim();
        for chunk in idx.chunks(self.capacity) {
            let n = chunk.len();
            be.gather(data, chunk, self.x.prefix(n * d));
            let out = self.forward(be, self.x.prefix(n * d), n);
            be.loss_forward_backward(self.cfg.loss, out, self.x.prefix(n * d), d, 1.0, self.dy.prefix(n * d), self.row_loss.prefix(n));
            be.sum_into(self.row_loss.prefix(n), self.eval_acc, !first);
            first = false;
        }
    }

    /// Reads the evaluation accumulator (waits for the device).
    pub fn take_eval_sum<B: Backend>(&mut self, be: &mut B) -> f64 {
        be.read(self.eval_acc)[0] as f64
    }

    /// Starts reading the evaluation accumulator.
    pub fn eval_readback<B: Backend>(&mut self, be: &mut B) -> ReadFuture {
        be.read_async(self.eval_acc)
    }

    /// Mean test loss over every row of `data` (`rows` of them).
    pub fn eval_mean<B: Backend>(&mut self, be: &mut B, data: DataId, rows: usize) -> f64 {
        let idx: Vec<u32> = (0..rows as u32).collect();
        self.eval_rows(be, data, &idx, true);
        self.take_eval_sum(be) / rows as f64
    }

    /// Corrupts (if `corrupt`) and reconstructs host images (rows of d values in [0, 1])
    /// with the noise drawn from `stream`; starts reading back (corrupted, reconstruction).
    /// Pass the reconstruction through [`Self::output_to_pixels`] once it arrives.
    pub fn denoise_readback<B: Backend>(&mut self, be: &mut B, images: &[f32], seed: u32, stream: u32, corrupt: bool) -> (ReadFuture, ReadFuture) {
        let d = self.cfg.input_dim();
        let n = images.len() / d;
        assert!(n * d == images.len() && n <= self.capacity, "denoise: {} values", images.len());
        be.write(self.x.prefix(n * d), images);
        let input = if corrupt { self.corrupt(be, n, seed, stream) } else { self.x.prefix(n * d) };
        let noisy = be.read_async(input);
        let out = self.forward(be, input, n);
        (noisy, be.read_async(out))
    }

    /// Turns the last layer's output into pixels (the sigmoid that BCE folds into the loss).
    pub fn output_to_pixels(&self, out: &mut [f32]) {
        let final_act = *self.cfg.activations.last().unwrap();
        if final_act != self.cfg.output_activation_in_graph() {
            out.iter_mut().for_each(|v| *v = ops::activate(final_act, *v));
        }
    }

    /// Synchronous [`Self::denoise_readback`] (native code and tests).
    pub fn denoise_host<B: Backend>(&mut self, be: &mut B, images: &[f32], seed: u32, stream: u32, corrupt: bool) -> (Vec<f32>, Vec<f32>) {
        let (noisy, rec) = self.denoise_readback(be, images, seed, stream, corrupt);
        let (noisy, mut rec) = (block_on(noisy), block_on(rec));
        self.output_to_pixels(&mut rec);
        (noisy, rec)
    }

    /// Overwrites the parameters (moving a model between backends, restoring a snapshot).
    pub fn load_params<B: Backend>(&mut self, be: &mut B, params: &[f32]) -> Result<(), String> {
        if params.len() != self.layout.total {
            return Err(format!("{} parameters given, the model has {}", params.len(), self.layout.total));
        }
        be.write(self.params, params);
        Ok(())
    }

    /// Starts reading the optimizer moments back (one future per moment buffer; pair them
    /// with `opt_steps` to make an [`OptimState`]).
    pub fn optim_state_readback<B: Backend>(&mut self, be: &mut B) -> Vec<ReadFuture> {
        self.moments.iter().map(|&m| be.read_async(m)).collect()
    }

    /// The optimizer state on the host (waits for the device).
    pub fn optim_state_host<B: Backend>(&self, be: &mut B) -> OptimState {
        OptimState { moments: self.moments.iter().map(|&m| be.read(m)).collect(), t: self.opt_steps }
    }

    /// Overwrites the optimizer state (moving a model between backends, restoring a
    /// snapshot). An empty `moments` with SGD, or for a fresh start, is accepted.
    pub fn load_optim_state<B: Backend>(&mut self, be: &mut B, state: &OptimState) -> Result<(), String> {
        if state.moments.len() != self.moments.len() {
            return Err(format!("{} optimizer moment buffers given, {} needs {}", state.moments.len(), self.cfg.optimizer.label(), self.moments.len()));
        }
        if let Some(m) = state.moments.iter().find(|m| m.len() != self.layout.total) {
            return Err(format!("an optimizer moment buffer of {} values given, the model has {} parameters", m.len(), self.layout.total));
        }
        for (&dst, m) in self.moments.iter().zip(&state.moments) {
            be.write(dst, m);
        }
        self.opt_steps = state.t;
        Ok(())
    }

    /// Overwrites parameters and optimizer state together.
    pub fn load_state<B: Backend>(&mut self, be: &mut B, params: &[f32], state: &OptimState) -> Result<(), String> {
        self.load_params(be, params)?;
        self.load_optim_state(be, state)
    }

    /// The parameters on the host.
    pub fn params_host<B: Backend>(&self, be: &mut B) -> Vec<f32> {
        be.read(self.params)
    }
}
