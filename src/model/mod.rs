//! The autoencoder as a stack of dense layers, written once against [`Backend`]: forward,
//! loss, hand-written backward and optimizer step, all on device buffers. Nothing is read
//! back during a step; the summed training loss accumulates on the device until asked for.

mod inside;
pub use inside::InsideReads;

use crate::backend::{read_now, Backend, DataId, ReadFuture, View};
use crate::core::config::{NoiseKind, Optimizer};
use crate::core::reference::CodeNoise;
use crate::core::layout::ParamLayout;
use crate::core::ops::{self, AdamStep, Gemm, Linear, Loss, Reparam};
use crate::core::{Activation, ModelConfig};

// Rows evaluated per forward pass when measuring the test loss (the model description
// owns it: it sizes the buffers from it).
use crate::core::config::EVAL_CHUNK;

/// Steps whose losses the device keeps apart ([`Autoencoder::enable_step_log`]): read them
/// at least this often, or the oldest are overwritten (1 KB of device memory; room for a
/// page's slice of many fast steps).
pub const STEP_LOG: usize = 256;

/// Steps logged on the device since the last read of the step log: which slots of the
/// ring hold them and how many rows each step had.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggedSteps {
    /// Ring slot of the oldest step.
    pub first_slot: usize,
    /// Rows of each step, oldest first (at most [`STEP_LOG`]).
    pub rows: Vec<usize>,
}

impl LoggedSteps {
    /// The mean loss per example of each step, oldest first, from the whole ring as read.
    pub fn means(&self, ring: &[f32]) -> Vec<f64> {
        assert_eq!(ring.len(), STEP_LOG, "the step log has {STEP_LOG} slots");
        self.rows.iter().enumerate().map(|(i, &n)| ring[(self.first_slot + i) % STEP_LOG] as f64 / n as f64).collect()
    }

    /// [`Self::means`] numbered by step: the last of them is step `last_step`.
    pub fn numbered(&self, ring: &[f32], last_step: u64) -> Vec<(u64, f64)> {
        let means = self.means(ring);
        let first = last_step + 1 - means.len() as u64;
        means.into_iter().enumerate().map(|(i, l)| (first + i as u64, l)).collect()
    }
}

/// The optimizer's state on the host: moment buffers (none for SGD, the velocity for
/// momentum, m and v for Adam), each in the parameters' layout, and the steps taken.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimState {
    pub moments: Vec<Vec<f32>>,
    pub t: u64,
}

/// Rows to train or evaluate on: the inputs and, for a classifier, their labels (a u8
/// dataset of one byte per row, from `Backend::upload_u8(labels, 1)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    pub data: DataId,
    pub labels: Option<DataId>,
}

impl From<DataId> for Split {
    fn from(data: DataId) -> Self {
        Split { data, labels: None }
    }
}

/// XORed into the run's seed for a variational code's draws, so they differ from the
/// input noise's.
pub const CODE_SEED: u32 = 0x7a3c_5e11;
/// Noise stream of the test-loss evaluation's code samples (a fixed draw, so the test
/// loss of a given model is reproducible).
pub const EVAL_STREAM: u32 = 0xffff_fff0;

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
    /// [B × Wmax] backward scratch: gradient w.r.t. a layer output.
    dy: View,
    /// Per layer: [B × fan_out] gradient w.r.t. its pre-activation (one per layer, so a
    /// backend may defer the weight-gradient products that read them to the optimizer step).
    dz: Vec<View>,
    /// [B] per-example loss.
    row_loss: View,
    /// [1] training loss summed since the last `take_train_loss`.
    loss_acc: View,
    /// [2] evaluation sums: loss, and correctly classified rows (classifiers).
    eval_acc: View,
    /// [B × classes] one-hot targets (classifiers), [B] per-row correctness.
    onehot: View,
    correct: View,
    /// Variational code: [B × L] sample z, its ε and the gradient w.r.t. z; [B] KL per row.
    code: View,
    eps: View,
    dcode: View,
    row_kl: View,
    /// [Wmax] column sums of the sparse layer's activations.
    colsum: View,
    /// Examples behind `loss_acc`.
    pending_examples: usize,
    /// [STEP_LOG] ring of per-step loss sums, once enabled.
    step_log: Option<View>,
    /// Ring slot of the next step's loss.
    log_next: usize,
    /// Rows of the steps logged since the last read, oldest first.
    log_rows: std::collections::VecDeque<usize>,
}

impl Autoencoder {
    /// Allocates the model on `be` with parameters initialised from `seed`.
    pub fn new<B: Backend>(be: &mut B, cfg: &ModelConfig, seed: u64) -> Result<Self, String> {
        cfg.validate()?;
        let layout = ParamLayout::new(cfg);
        let capacity = cfg.batch.max(EVAL_CHUNK);
        let d = cfg.input_dim();
        let wmax = cfg.widest();
        let params = be.alloc(layout.total);
        be.write(params, &layout.init(cfg, seed));
        let grads = be.alloc(layout.total);
        let moments = (0..cfg.optimizer.moment_buffers()).map(|_| be.alloc(layout.total)).collect();
        let w_shared = layout.dense.iter().map(|s| !s.transposed && layout.dense.iter().any(|o| o.transposed && o.w == s.w)).collect();
        let (x, xn) = (be.alloc(capacity * d), be.alloc(capacity * d));
        let z = layout.dense.iter().map(|s| be.alloc(capacity * s.fan_out)).collect();
        let y = layout.dense.iter().map(|s| be.alloc(capacity * s.fan_out)).collect();
        let dy = be.alloc(capacity * wmax);
        let dz = layout.dense.iter().map(|s| be.alloc(capacity * s.fan_out)).collect();
        let row_loss = be.alloc(capacity);
        let (loss_acc, eval_acc) = (be.alloc(1), be.alloc(2));
        let classes = if cfg.is_classifier() { cfg.output_dim() } else { 1 };
        let (onehot, correct) = (be.alloc(capacity * classes), be.alloc(capacity));
        let latent = cfg.code_dim();
        let (code, eps, dcode) = (be.alloc(capacity * latent), be.alloc(capacity * latent), be.alloc(capacity * latent));
        let row_kl = be.alloc(capacity);
        let colsum = be.alloc(wmax);
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
            onehot,
            correct,
            code,
            eps,
            dcode,
            row_kl,
            colsum,
            pending_examples: 0,
            step_log: None,
            log_next: 0,
            log_rows: std::collections::VecDeque::new(),
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
    /// A variational code is sampled with `noise` (its KL per row goes to `row_kl`).
    fn forward<B: Backend>(&self, be: &mut B, input: View, n: usize, noise: CodeNoise) -> View {
        self.forward_layers(be, input, n, noise, 0..self.layout.dense.len())
    }

    /// Forward pass through dense layers `layers` only, `input` being the input of the
    /// first of them; returns the last one's output (the sampled code, after a
    /// variational code layer).
    fn forward_layers<B: Backend>(&self, be: &mut B, input: View, n: usize, noise: CodeNoise, layers: std::ops::Range<usize>) -> View {
        let mut cur = input;
        for (l, s) in self.layout.dense.iter().enumerate().take(layers.end).skip(layers.start) {
            let z = self.z[l].prefix(n * s.fan_out);
            let y = self.y[l].prefix(n * s.fan_out);
            // A tied decoder layer uses its partner's W (stored fan_out × fan_in) transposed.
            let (w, b) = (self.params.slice(s.w, s.w_len()), self.params.slice(s.b, s.fan_out));
            be.linear_forward(cur, w, b, z, y, Linear { m: n, k: s.fan_in, n: s.fan_out, tw: s.transposed, act: self.act(l) });
            cur = y;
            if self.cfg.variational && l + 1 == self.cfg.code_layer() {
                let latent = self.cfg.code_dim();
                let (code, eps) = (self.code.prefix(n * latent), self.eps.prefix(n * latent));
                be.reparam_forward(y, eps, code, self.row_kl.prefix(n), Reparam { latent, seed: noise.seed ^ CODE_SEED, stream: noise.stream, sample: noise.sample });
                cur = code;
            }
        }
        cur
    }

    /// The input of layer `l` as the forward pass left it.
    fn layer_input(&self, l: usize, input: View, n: usize) -> View {
        if l == 0 {
            input
        } else if self.cfg.variational && l == self.cfg.code_layer() {
            self.code.prefix(n * self.cfg.code_dim())
        } else {
            self.y[l - 1].prefix(n * self.layout.dense[l].fan_in)
        }
    }

    /// Backward pass of `n` rows whose input was `input`, starting from the loss gradient
    /// (in `dz` of the last layer when its activation is the identity, else in `dy`);
    /// writes `grads` (a tied W gets the sum of both uses). `scale` weighs a variational
    /// code's KL term as the loss is weighed.
    fn backward<B: Backend>(&self, be: &mut B, input: View, n: usize, scale: f32) {
        let last = self.layout.dense.len() - 1;
        // The gradient w.r.t. layer l's pre-activation is already in dz[l] (else: w.r.t.
        // its output, in dy).
        let mut in_dz = self.act(last) == Activation::Identity;
        for (l, s) in self.layout.dense.iter().enumerate().rev() {
            let dz = self.dz[l].prefix(n * s.fan_out);
            if !in_dz {
                be.act_backward(self.dy.prefix(n * s.fan_out), self.y[l].prefix(n * s.fan_out), self.act(l), dz);
            }
            in_dz = false;
            let layer_in = self.layer_input(l, input, n);
            let gw = self.grads.slice(s.w, s.w_len());
            if s.transposed {
                // W (fan_out × fan_in) used as Wᵀ: dW = dzᵀ·x.
                be.matmul(dz, layer_in, gw, Gemm::new(s.fan_out, n, s.fan_in).ta(true));
            } else {
                be.matmul(layer_in, dz, gw, Gemm::new(s.fan_in, n, s.fan_out).ta(true).accumulate(self.w_shared[l]));
            }
            be.bias_grad(dz, self.grads.slice(s.b, s.fan_out), s.fan_out, false);
            if l == 0 {
                continue;
            }
            let w = self.params.slice(s.w, s.w_len());
            let dprev = self.dy.prefix(n * s.fan_in);
            if self.cfg.variational && l == self.cfg.code_layer() {
                // Gradient w.r.t. the sampled code, then back through z = μ + e^{γ/2}·ε
                // to [μ | γ] with the KL term's gradient.
                let dcode = self.dcode.prefix(n * s.fan_in);
                be.matmul(dz, w, dcode, Gemm::new(n, s.fan_out, s.fan_in).tb(!s.transposed));
                let h = self.y[l - 1].prefix(n * 2 * s.fan_in);
                be.reparam_backward(h, self.eps.prefix(n * s.fan_in), dcode, self.dy.prefix(n * 2 * s.fan_in), s.fan_in, scale);
            } else if let Some(sp) = self.cfg.sparsity.filter(|sp| sp.layer + 1 == l) {
                be.matmul(dz, w, dprev, Gemm::new(n, s.fan_out, s.fan_in).tb(!s.transposed));
                let colsum = self.colsum.prefix(s.fan_in);
                be.bias_grad(self.y[l - 1].prefix(n * s.fan_in), colsum, s.fan_in, false);
                be.sparsity_grad(colsum, dprev, n, sp.rho, sp.beta);
            } else {
                // Straight to the previous layer's pre-activation gradient.
                let y_prev = self.y[l - 1].prefix(n * s.fan_in);
                let dz_prev = self.dz[l - 1].prefix(n * s.fan_in);
                be.linear_backward(dz, w, y_prev, dprev, dz_prev, Linear { m: n, k: s.fan_in, n: s.fan_out, tw: s.transposed, act: self.act(l - 1) });
                in_dz = true;
            }
        }
    }

    /// Builds the (corrupted) training input from the clean batch in `x`.
    fn corrupt<B: Backend>(&self, be: &mut B, n: usize, seed: u32, stream: u32) -> View {
        let d = self.cfg.input_dim();
        match self.cfg.noise {
            NoiseKind::None => self.x.prefix(n * d),
            kind => {
                be.noise(kind, self.x.prefix(n * d), self.xn.prefix(n * d), seed, stream);
                self.xn.prefix(n * d)
            }
        }
    }

    /// The target rows of a batch: the clean input, or one-hot labels for a classifier.
    fn target<B: Backend>(&self, be: &mut B, split: Split, idx: &[u32]) -> View {
        let n = idx.len();
        if self.cfg.is_classifier() {
            let labels = split.labels.expect("a classifier needs labels");
            let k = self.cfg.output_dim();
            be.gather_onehot(labels, idx, self.onehot.prefix(n * k), k);
            self.onehot.prefix(n * k)
        } else {
            self.x.prefix(n * self.cfg.input_dim())
        }
    }

    /// Per-row loss into `row_loss` and its gradient × `scale` into `dz` of the last layer
    /// when its activation is the identity (the gradient w.r.t. its pre-activation), else
    /// into `dy`, with a variational code's KL added to each row.
    fn loss<B: Backend>(&self, be: &mut B, out: View, target: View, n: usize, scale: f32) {
        let k = self.cfg.output_dim();
        let last = self.layout.dense.len() - 1;
        let grad = if self.act(last) == Activation::Identity { self.dz[last] } else { self.dy };
        be.loss_forward_backward(Loss { kind: self.cfg.loss, cols: k, scale }, out, target, grad.prefix(n * k), self.row_loss.prefix(n));
        if self.cfg.variational {
            be.axpy(self.row_kl.prefix(n), self.row_loss.prefix(n), 1.0);
        }
    }

    /// One training step on the rows `idx` of `data`; `stream` numbers the step for the noise.
    pub fn train_step<B: Backend>(&mut self, be: &mut B, split: impl Into<Split>, idx: &[u32], seed: u32, stream: u32) {
        let parts = self.step_parts(be, split.into(), idx, seed, stream);
        self.backward(be, parts.input, idx.len(), parts.scale);
        self.finish_step(be);
    }

    /// Updates the parameters from `grads` with the configured optimizer.
    fn optimizer_step<B: Backend>(&mut self, be: &mut B) {
        // Saturating: a loaded count of 2⁶⁴−1 stays there (Adam's bias corrections are 1
        // long before) instead of wrapping to 0, which Adam's step cannot take.
        self.opt_steps = self.opt_steps.saturating_add(1);
        match self.cfg.optimizer {
            Optimizer::Sgd { lr } => be.sgd_step(self.params, self.grads, lr),
            Optimizer::Momentum { lr, momentum } => be.momentum_step(self.params, self.grads, self.moments[0], lr, momentum),
            Optimizer::Adam { lr, beta1, beta2, eps } => {
                be.adam_step(self.params, self.grads, self.moments[0], self.moments[1], AdamStep { lr, beta1, beta2, eps, t: self.opt_steps })
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

    /// Keeps each training step's summed loss apart on the device as well (a ring of
    /// [`STEP_LOG`] values, one more small sum per step), so that a divergence can be
    /// placed at its step ([`Self::take_step_losses`]). Allocates the ring once.
    pub fn enable_step_log<B: Backend>(&mut self, be: &mut B) {
        if self.step_log.is_none() {
            self.step_log = Some(be.alloc(STEP_LOG));
        }
    }

    /// Starts reading the step log: the ring (resolve it with [`LoggedSteps::means`]) and
    /// the steps it holds since the last read (at most the last [`STEP_LOG`]); None if the
    /// log is off or no step ran since.
    pub fn step_log_readback<B: Backend>(&mut self, be: &mut B) -> Option<(ReadFuture, LoggedSteps)> {
        let log = self.step_log?;
        if self.log_rows.is_empty() {
            return None;
        }
        let rows: Vec<usize> = self.log_rows.drain(..).collect();
        let first_slot = (self.log_next + STEP_LOG - rows.len()) % STEP_LOG;
        Some((be.read_async(log), LoggedSteps { first_slot, rows }))
    }

    /// The mean loss per example of each step since the last call, oldest first (at most
    /// the last [`STEP_LOG`]; waits for the device). Empty if the log is off.
    pub fn take_step_losses<B: Backend>(&mut self, be: &mut B) -> Vec<f64> {
        match self.step_log_readback(be) {
            Some((f, steps)) => steps.means(&read_now(f)),
            None => Vec::new(),
        }
    }

    /// A one-element view that later work writes: reading it waits for everything queued.
    pub fn fence(&self) -> View {
        self.eval_acc.prefix(1)
    }

    /// Sum of the clean loss over rows `idx` of `split` (no input noise; a variational
    /// code sampled from the fixed stream [`EVAL_STREAM`] + chunk), and for a classifier
    /// the number classified correctly; adds into the device accumulators, read with
    /// [`Self::take_eval_sums`] (or [`Self::eval_readback`]: [loss sum, correct]).
    pub fn eval_rows<B: Backend>(&mut self, be: &mut B, split: impl Into<Split>, idx: &[u32], first: bool) {
        let split = split.into();
        let mut first = first;
        let d = self.cfg.input_dim();
        for chunk in idx.chunks(self.capacity) {
            let n = chunk.len();
            be.gather(split.data, chunk, self.x.prefix(n * d));
            let target = self.target(be, split, chunk);
            let stream = EVAL_STREAM.wrapping_add(chunk[0]);
            let out = self.forward(be, self.x.prefix(n * d), n, CodeNoise { seed: 0, stream, sample: true });
            self.loss(be, out, target, n, 1.0);
            be.sum_into(self.row_loss.prefix(n), self.eval_acc.slice(0, 1), !first);
            if self.cfg.is_classifier() {
                let k = self.cfg.output_dim();
                be.argmax_correct(out, target, k, self.correct.prefix(n));
                be.sum_into(self.correct.prefix(n), self.eval_acc.slice(1, 1), !first);
            }
            first = false;
        }
    }

    /// Reads the evaluation loss sum (waits for the device).
    pub fn take_eval_sum<B: Backend>(&mut self, be: &mut B) -> f64 {
        self.take_eval_sums(be).0
    }

    /// Reads the evaluation sums: (loss, correctly classified rows; 0 for autoencoders).
    pub fn take_eval_sums<B: Backend>(&mut self, be: &mut B) -> (f64, f64) {
        let v = be.read(self.eval_acc);
        (v[0] as f64, if self.cfg.is_classifier() { v[1] as f64 } else { 0.0 })
    }

    /// Starts reading the evaluation sums [loss, correct].
    pub fn eval_readback<B: Backend>(&mut self, be: &mut B) -> ReadFuture {
        be.read_async(self.eval_acc)
    }

    /// Mean test loss over every row of `split` (`rows` of them).
    pub fn eval_mean<B: Backend>(&mut self, be: &mut B, split: impl Into<Split>, rows: usize) -> f64 {
        self.eval_metrics(be, split, rows).0
    }

    /// (mean loss, accuracy) over every row of `split`; accuracy is 0 for autoencoders.
    pub fn eval_metrics<B: Backend>(&mut self, be: &mut B, split: impl Into<Split>, rows: usize) -> (f64, f64) {
        self.eval_range(be, split, 0..rows)
    }

    /// (mean loss, accuracy) over rows `rows` of `split` (say the validation rows of the
    /// training set); accuracy is 0 for autoencoders.
    pub fn eval_range<B: Backend>(&mut self, be: &mut B, split: impl Into<Split>, rows: std::ops::Range<usize>) -> (f64, f64) {
        let n = rows.len().max(1);
        let idx: Vec<u32> = (rows.start as u32..rows.end as u32).collect();
        self.eval_rows(be, split, &idx, true);
        let (loss, correct) = self.take_eval_sums(be);
        (loss / n as f64, correct / n as f64)
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
        // A variational model reconstructs from the mean code.
        let out = self.forward(be, input, n, CodeNoise { seed, stream, sample: false });
        (noisy, be.read_async(out))
    }

    /// Runs rows `idx` of `data` (clean, no noise) up to dense layer `layer` and starts
    /// reading that layer's outputs back, one future per chunk of at most `capacity` rows
    /// (concatenate them). For the layer into a variational code the rows are [μ | log σ²].
    pub fn activations_readback<B: Backend>(&mut self, be: &mut B, data: DataId, idx: &[u32], layer: usize) -> Vec<ReadFuture> {
        let d = self.cfg.input_dim();
        let width = self.layout.dense[layer].fan_out;
        let mut out = Vec::new();
        for chunk in idx.chunks(self.capacity) {
            let n = chunk.len();
            be.gather(data, chunk, self.x.prefix(n * d));
            let mean = CodeNoise { seed: 0, stream: 0, sample: false };
            self.forward_layers(be, self.x.prefix(n * d), n, mean, 0..layer + 1);
            out.push(be.read_async(self.y[layer].prefix(n * width)));
        }
        out
    }

    /// [`Self::activations_readback`] for host images (rows of d values in [0, 1], at most
    /// `capacity` of them), e.g. the user's drawing.
    pub fn activations_of_images_readback<B: Backend>(&mut self, be: &mut B, images: &[f32], layer: usize) -> ReadFuture {
        let d = self.cfg.input_dim();
        let n = images.len() / d;
        assert!(n * d == images.len() && n > 0 && n <= self.capacity, "activations: {} values", images.len());
        be.write(self.x.prefix(n * d), images);
        let mean = CodeNoise { seed: 0, stream: 0, sample: false };
        self.forward_layers(be, self.x.prefix(n * d), n, mean, 0..layer + 1);
        be.read_async(self.y[layer].prefix(n * self.layout.dense[layer].fan_out))
    }

    /// The dense layer whose output is the code (for a variational model: [μ | log σ²]).
    pub fn code_layer_index(&self) -> usize {
        self.cfg.code_layer() - 1
    }

    /// Decodes host codes (rows of `cfg.code_dim()` values, at most `capacity` rows) and
    /// starts reading the output back (pass it through [`Self::output_to_pixels`]).
    pub fn decode_readback<B: Backend>(&mut self, be: &mut B, codes: &[f32]) -> ReadFuture {
        let latent = self.cfg.code_dim();
        let n = codes.len() / latent;
        assert!(n * latent == codes.len() && n > 0 && n <= self.capacity, "decode: {} values", codes.len());
        let input = self.code.prefix(n * latent);
        be.write(input, codes);
        let mean = CodeNoise { seed: 0, stream: 0, sample: false };
        let out = self.forward_layers(be, input, n, mean, self.cfg.code_layer()..self.layout.dense.len());
        be.read_async(out)
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
        let (noisy, mut rec) = (read_now(noisy), read_now(rec));
        self.output_to_pixels(&mut rec);
        (noisy, rec)
    }

    /// Outputs of dense layer `layer` (after its activation) for rows `idx` of `data`, on
    /// the host, row after row: the codes a frozen encoder hands to the next stage of a
    /// greedy stack. Clean input, no noise ([`Self::activations_readback`], read back).
    /// Waits for the device once per chunk of rows.
    pub fn hidden_host<B: Backend>(&mut self, be: &mut B, data: DataId, idx: &[u32], layer: usize) -> Vec<f32> {
        assert!(layer + 1 < self.layout.dense.len(), "layer {layer} is not a hidden layer");
        self.activations_readback(be, data, idx, layer).into_iter().flat_map(read_now).collect()
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

    /// Frees every device buffer of the model (a finished phase of a multi-phase recipe).
    pub fn release<B: Backend>(self, be: &mut B) {
        let mut bufs = vec![self.params, self.grads, self.x, self.xn, self.dy, self.row_loss, self.loss_acc, self.eval_acc];
        bufs.extend([self.onehot, self.correct, self.code, self.eps, self.dcode, self.row_kl, self.colsum]);
        bufs.extend(self.moments.iter().chain(&self.z).chain(&self.y).chain(&self.dz).chain(&self.step_log).copied());
        for v in bufs {
            be.free(v.buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::{CpuBackend, Isa};
    use crate::backend::Buffers;
    use crate::core::config::{preset, PRESET_NAMES};

    #[test]
    fn the_config_s_size_bound_counts_what_the_model_allocates() {
        for name in PRESET_NAMES {
            for batch in [1, 16, 600] {
                let mut cfg = preset(name).unwrap();
                cfg.batch = batch;
                let mut be = CpuBackend::with(Isa::Scalar, 1);
                Autoencoder::new(&mut be, &cfg, 1).unwrap();
                assert_eq!(Some(be.allocated_bytes()), cfg.device_floats().map(|f| 4 * f), "{name} batch {batch}");
            }
        }
    }

    /// A preset shrunk to 4 inputs and batch 2 on a scalar CPU backend, with `rows` rows of
    /// data of 4 pixels.
    fn tiny(name: &str, hidden: usize, rows: usize) -> (CpuBackend, Autoencoder, DataId) {
        let mut cfg = preset(name).unwrap();
        cfg.dims = vec![4, hidden, 4];
        cfg.batch = 2;
        let mut be = CpuBackend::with(Isa::Scalar, 1);
        let m = Autoencoder::new(&mut be, &cfg, 1).unwrap();
        let pixels: Vec<u8> = (0..4 * rows).map(|i| (i * 50 % 256) as u8).collect();
        let data = be.upload_u8(&pixels, 4);
        (be, m, data)
    }

    #[test]
    fn an_adam_step_count_at_its_limit_saturates() {
        // A saved model with optim_t = 2⁶⁴−1 wrapped to 0 at the next step, and Adam's
        // bias correction asserted t ≥ 1.
        let (mut be, mut m, data) = tiny("relu_ae_adam", 3, 2);
        let moments = vec![vec![0.0; m.layout.total]; 2];
        m.load_optim_state(&mut be, &OptimState { moments, t: u64::MAX }).unwrap();
        m.train_step(&mut be, data, &[0, 1], 1, 0);
        assert_eq!(m.opt_steps, u64::MAX);
        assert!(m.params_host(&mut be).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn the_step_log_keeps_each_step_s_loss() {
        let (mut be, mut m, data) = tiny("linear_50", 2, 3);
        let cfg = m.cfg.clone();
        let steps: Vec<Vec<u32>> = (0..STEP_LOG + 5).map(|i| if i % 3 == 2 { vec![2] } else { vec![(i % 3) as u32, 2] }).collect();
        assert!(m.take_step_losses(&mut be).is_empty(), "off: nothing");
        m.enable_step_log(&mut be);
        assert!(m.take_step_losses(&mut be).is_empty(), "no step yet");
        // Each step alone, through the summed loss, is the reference.
        let mut want = Vec::new();
        for idx in &steps[..3] {
            m.train_step(&mut be, data, idx, 1, 0);
            want.push(m.take_train_loss(&mut be).unwrap().0);
        }
        let got = m.take_step_losses(&mut be);
        assert_eq!(got.len(), 3);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-6 * w.abs(), "{got:?} vs {want:?}");
        }
        // More steps than the ring holds: the last STEP_LOG come back, in order.
        let mut want = Vec::new();
        for (i, idx) in steps.iter().enumerate() {
            m.train_step(&mut be, data, idx, 1, i as u32);
            want.push(m.take_train_loss(&mut be).unwrap().0);
        }
        let got = m.take_step_losses(&mut be);
        assert_eq!(got.len(), STEP_LOG);
        for (g, w) in got.iter().zip(&want[5..]) {
            assert!((g - w).abs() <= 1e-6 * w.abs(), "{g} vs {w}");
        }
        assert_eq!(be.allocated_bytes(), 4 * (cfg.device_floats().unwrap() + STEP_LOG as u64) + 12);
        m.release(&mut be);
        assert_eq!(be.allocated_bytes(), 12, "the log is freed too: only the data stay");
    }
}
