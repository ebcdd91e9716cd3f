//! Model description: everything needed to rebuild a model and its training set-up.
//! Serializable, so presets, the CLI and (later) saved models and URLs share one format.

use serde::{Deserialize, Serialize};

/// Element-wise activation applied after a dense layer's bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    /// ELU with alpha = 1.
    Elu,
}

impl Activation {
    /// Stable small integer code, shared with the shaders.
    pub fn code(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Sigmoid => 1,
            Activation::Tanh => 2,
            Activation::Relu => 3,
            Activation::Elu => 4,
        }
    }
}

/// Reconstruction loss between the model output and the clean input, per example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Binary cross-entropy summed over pixels, computed from logits (the output layer's
    /// sigmoid is folded into the loss for stability).
    BceLogits,
    /// ½·Σ(z−x)² over pixels.
    HalfSse,
    /// Σ(z−x)²/pixels (mean squared error).
    Mse,
    /// Softmax cross-entropy against a one-hot label (classifiers): −log softmax(z)[label].
    SoftmaxCe,
}

impl LossKind {
    /// Stable small integer code, shared with the shaders.
    pub fn code(self) -> u32 {
        match self {
            LossKind::BceLogits => 0,
            LossKind::HalfSse => 1,
            LossKind::Mse => 2,
            LossKind::SoftmaxCe => 3,
        }
    }
}

/// How the training input is corrupted (denoising autoencoders). The target is always
/// the clean input.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoiseKind {
    None,
    /// Keep each pixel with probability `keep`, else set it to 0.
    Masking { keep: f32 },
    /// Add N(0, σ²) to each pixel.
    Gaussian { sigma: f32 },
    /// With probability `p` set a pixel to 0 or 1 (each half the time), else keep it.
    SaltPepper { p: f32 },
    /// Input dropout: keep each pixel with probability `keep` and scale it by 1/keep
    /// (TensorFlow's dropout), else 0.
    Dropout { keep: f32 },
}

impl NoiseKind {
    pub fn label(&self) -> String {
        match self {
            NoiseKind::None => "none".into(),
            NoiseKind::Masking { keep } => format!("masking (keep {keep})"),
            NoiseKind::Gaussian { sigma } => format!("Gaussian (σ {sigma})"),
            NoiseKind::SaltPepper { p } => format!("salt-and-pepper ({p})"),
            NoiseKind::Dropout { keep } => format!("dropout (keep {keep})"),
        }
    }

    /// (code, parameter) shared with the shaders: 0 none, 1 masking, 2 Gaussian, 3
    /// salt-and-pepper, 4 dropout.
    pub fn code(&self) -> (u32, f32) {
        match *self {
            NoiseKind::None => (0, 0.0),
            NoiseKind::Masking { keep } => (1, keep),
            NoiseKind::Gaussian { sigma } => (2, sigma),
            NoiseKind::SaltPepper { p } => (3, p),
            NoiseKind::Dropout { keep } => (4, keep),
        }
    }

    /// Checks the parameter's range; the message says what to use.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            NoiseKind::None => Ok(()),
            NoiseKind::Masking { keep } | NoiseKind::Dropout { keep } if !(keep > 0.0 && keep <= 1.0) => {
                Err(format!("{}: keep probability {keep} must be in (0, 1]", self.label()))
            }
            NoiseKind::Gaussian { sigma } if !(sigma.is_finite() && (0.0..=10.0).contains(&sigma)) => {
                Err(format!("Gaussian noise σ {sigma} must be in [0, 10]"))
            }
            NoiseKind::SaltPepper { p } if !(0.0..=1.0).contains(&p) => Err(format!("salt-and-pepper fraction {p} must be in [0, 1]")),
            _ => Ok(()),
        }
    }
}

/// KL sparsity penalty on one hidden layer (Ng's sparse autoencoder): training adds
/// β·Σⱼ KL(ρ ‖ ρ̂ⱼ), ρ̂ⱼ the mean activation of unit j over the batch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sparsity {
    /// Which dense layer's output (0 = the first hidden layer); its activation must be a
    /// sigmoid, so that activations are in (0, 1).
    pub layer: usize,
    /// Target mean activation ρ.
    pub rho: f32,
    /// Weight β of the penalty.
    pub beta: f32,
}

/// Parameter update rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    Sgd { lr: f32 },
    /// PyTorch's SGD with momentum (no dampening, not Nesterov): v ← μ·v + g; p ← p − lr·v.
    Momentum { lr: f32, momentum: f32 },
    /// PyTorch's Adam with bias correction: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
    /// p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε).
    Adam { lr: f32, beta1: f32, beta2: f32, eps: f32 },
}

impl Optimizer {
    /// Adam with PyTorch's defaults (β1 0.9, β2 0.999, ε 1e-8).
    pub fn adam(lr: f32) -> Self {
        Optimizer::Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }

    pub fn lr(&self) -> f32 {
        match *self {
            Optimizer::Sgd { lr } | Optimizer::Momentum { lr, .. } | Optimizer::Adam { lr, .. } => lr,
        }
    }

    /// Sets the learning rate (the other settings stay).
    pub fn set_lr(&mut self, x: f32) {
        match self {
            Optimizer::Sgd { lr } | Optimizer::Momentum { lr, .. } | Optimizer::Adam { lr, .. } => *lr = x,
        }
    }

    /// Moment buffers the optimizer keeps, each with the parameters' flat layout.
    pub fn moment_buffers(&self) -> usize {
        match self {
            Optimizer::Sgd { .. } => 0,
            Optimizer::Momentum { .. } => 1,
            Optimizer::Adam { .. } => 2,
        }
    }

    pub fn label(&self) -> String {
        match *self {
            Optimizer::Sgd { lr } => format!("SGD lr {lr}"),
            Optimizer::Momentum { lr, momentum } => format!("momentum {momentum}, lr {lr}"),
            Optimizer::Adam { lr, .. } => format!("Adam lr {lr}"),
        }
    }
}

/// Weight initialisation (biases start at zero).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Init {
    /// U(−a, a).
    Uniform { a: f32 },
    /// U(±√(6/(fan_in+fan_out))).
    GlorotUniform,
    /// N(0, 2/fan_in) (He et al. 2015, for ReLU-like layers).
    HeNormal,
}

/// Whether the gradient is taken of the batch's summed or mean loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    Sum,
    Mean,
}

/// A stack of dense layers trained to reconstruct its input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Preset name (or "custom").
    pub name: String,
    /// Layer widths including input and output, e.g. [784, 500, 784].
    pub dims: Vec<usize>,
    /// One activation per layer (dims.len() − 1 of them); the last is the output's.
    pub activations: Vec<Activation>,
    pub loss: LossKind,
    pub noise: NoiseKind,
    pub optimizer: Optimizer,
    pub init: Init,
    pub reduction: Reduction,
    pub batch: usize,
    /// Tied weights: the decoder half uses the encoder's weights transposed (the widths
    /// must be a palindrome, e.g. [784, 500, 784]); decoder layers own only their biases.
    #[serde(default)]
    pub tied: bool,
    /// L2 weight decay coefficient λ: training minimises loss + λ·½Σw² over the weights
    /// (not the biases); the reported losses leave it out.
    #[serde(default)]
    pub l2: f32,
    /// KL sparsity penalty on a hidden layer.
    #[serde(default)]
    pub sparsity: Option<Sparsity>,
    /// Variational bottleneck (Kingma & Welling): the layer into the middle width (the
    /// code) produces μ and γ = log σ² (twice the code width, identity activation), the
    /// code is z = μ + e^{γ/2}·ε with ε ~ N(0, I), and the loss adds
    /// ½·Σ(e^γ + μ² − 1 − γ) per example.
    #[serde(default)]
    pub variational: bool,
}

impl Default for ModelConfig {
    /// A plain 784→500→784 sigmoid autoencoder with BCE, SGD on the batch mean, batch 16.
    fn default() -> Self {
        ModelConfig {
            name: "custom".into(),
            dims: vec![784, 500, 784],
            activations: vec![Activation::Sigmoid, Activation::Sigmoid],
            loss: LossKind::BceLogits,
            noise: NoiseKind::None,
            optimizer: Optimizer::Sgd { lr: 0.1 },
            init: Init::GlorotUniform,
            reduction: Reduction::Mean,
            batch: 16,
            tied: false,
            l2: 0.0,
            sparsity: None,
            variational: false,
        }
    }
}

/// Largest layer width accepted (keeps a typo from allocating gigabytes).
pub const MAX_WIDTH: usize = 16_384;
/// Largest batch accepted.
pub const MAX_BATCH: usize = 65_536;
/// Most dense layers a model may have (the presets have at most 6, a link at most 32).
pub const MAX_LAYERS: usize = 64;
/// Most parameters a model may have: 2²⁵ = 33,554,432, 128 MiB as f32, which is WebGPU's
/// default `maxStorageBufferBindingSize`: the parameter buffer of such a model binds on any
/// WebGPU device, and a browser tab can hold it four times over (weights, gradients, two
/// Adam moments) beside its host copies.
pub const MAX_PARAMS: u64 = 1 << 25;
/// Most bytes of memory one model may take on a device (parameters, gradients, optimizer
/// moments and the activations of a batch, [`ModelConfig::device_floats`]): 2 GiB, half
/// of the 4 GiB that wasm32 can address, which a browser tab's CPU backend must hold
/// beside the data and the page.
pub const MAX_MODEL_BYTES: u64 = 2 << 30;
/// Rows evaluated per forward pass when measuring the test loss: a model's activation
/// buffers hold at least this many rows ([`ModelConfig::rows_held`]).
pub const EVAL_CHUNK: usize = 500;

impl ModelConfig {
    pub fn layers(&self) -> usize {
        self.dims.len() - 1
    }
    pub fn input_dim(&self) -> usize {
        self.dims[0]
    }
    pub fn output_dim(&self) -> usize {
        *self.dims.last().unwrap()
    }

    /// Checks that the description is buildable; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.dims.len() < 2 {
            return Err("a model needs at least an input and an output width".into());
        }
        if self.layers() > MAX_LAYERS {
            return Err(format!("the model has {} layers, more than the {MAX_LAYERS} a model may have", self.layers()));
        }
        if self.activations.len() != self.dims.len() - 1 {
            return Err(format!(
                "{} layer widths need {} activations, got {}",
                self.dims.len(),
                self.dims.len() - 1,
                self.activations.len()
            ));
        }
        if let Some(&w) = self.dims.iter().find(|&&w| w == 0 || w > MAX_WIDTH) {
            return Err(format!("layer width {w} is out of range: use 1..={MAX_WIDTH}"));
        }
        if self.is_classifier() {
            if !(2..=1000).contains(&self.output_dim()) {
                return Err(format!("a classifier needs 2..=1000 classes, got {}", self.output_dim()));
            }
            if *self.activations.last().unwrap() != Activation::Identity {
                return Err("a softmax classifier's last layer must be linear (identity): the softmax lives in the loss".into());
            }
            if self.tied || self.variational {
                return Err("a classifier cannot have tied weights or a variational bottleneck".into());
            }
        } else if self.input_dim() != self.output_dim() {
            return Err(format!(
                "an autoencoder's output width ({}) must equal its input width ({})",
                self.output_dim(),
                self.input_dim()
            ));
        }
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(format!("batch size {} is out of range: use 1..={MAX_BATCH}", self.batch));
        }
        let lr = self.optimizer.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(format!("learning rate {lr} must be a positive number"));
        }
        if self.tied {
            let rev: Vec<usize> = self.dims.iter().rev().copied().collect();
            if rev != self.dims || self.layers() % 2 != 0 {
                return Err(format!("tied weights need mirrored layer widths (e.g. 784, 500, 784), got {:?}", self.dims));
            }
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(format!("L2 coefficient {} must be zero or positive", self.l2));
        }
        match self.optimizer {
            Optimizer::Sgd { .. } => {}
            Optimizer::Momentum { momentum, .. } => {
                if !(0.0..1.0).contains(&momentum) {
                    return Err(format!("momentum {momentum} must be in [0, 1)"));
                }
            }
            Optimizer::Adam { beta1, beta2, eps, .. } => {
                if !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2) && eps > 0.0) {
                    return Err(format!("Adam needs β1, β2 in [0, 1) and ε > 0 (got {beta1}, {beta2}, {eps})"));
                }
            }
        }
        self.noise.validate()?;
        if let Some(sp) = self.sparsity {
            if sp.layer + 1 >= self.layers() {
                return Err(format!("the sparsity penalty goes on a hidden layer: layer {} is not one (use 0..{})", sp.layer, self.layers() - 1));
            }
            if self.activations[sp.layer] != Activation::Sigmoid {
                return Err(format!("the sparsity penalty needs a sigmoid on layer {} (mean activations must lie in (0, 1))", sp.layer));
            }
            if !(sp.rho > 0.0 && sp.rho < 1.0) {
                return Err(format!("sparsity target ρ {} must be in (0, 1)", sp.rho));
            }
            if !(sp.beta.is_finite() && sp.beta >= 0.0) {
                return Err(format!("sparsity weight β {} must be zero or positive", sp.beta));
            }
        }
        if self.variational {
            if self.layers() % 2 != 0 || self.layers() < 2 {
                return Err(format!("a variational autoencoder needs an even number of layers with the code in the middle, got widths {:?}", self.dims));
            }
            if self.tied {
                return Err("a variational autoencoder cannot have tied weights".into());
            }
            let c = self.code_layer();
            if self.activations[c - 1] != Activation::Identity {
                return Err(format!("the layer into a variational code (layer {}) must be linear: it produces μ and log σ²", c - 1));
            }
        }
        if self.loss == LossKind::BceLogits && *self.activations.last().unwrap() != Activation::Sigmoid {
            return Err("binary cross-entropy needs a sigmoid output layer".into());
        }
        self.check_size()
    }

    /// Refuses a model too large to train anywhere we run: more than [`MAX_PARAMS`]
    /// parameters, or more than [`MAX_MODEL_BYTES`] of buffers for its batch. The sums are
    /// checked (a browser's `usize` is 32 bits wide, and they come from files and links).
    fn check_size(&self) -> Result<(), String> {
        let params = self.param_count();
        if !params.is_some_and(|p| p <= MAX_PARAMS) {
            return Err(format!(
                "the model has {} parameters, more than the {MAX_PARAMS} (128 MiB of f32: WebGPU's default storage buffer limit) a model may have: use fewer or narrower layers",
                params.map_or("more than 2^64".into(), |p| p.to_string())
            ));
        }
        let bytes = self.device_floats().and_then(|f| f.checked_mul(4));
        if !bytes.is_some_and(|b| b <= MAX_MODEL_BYTES) {
            return Err(format!(
                "the model with a batch of {} needs {} of memory for its parameters, optimizer state and activations, more than the {} (half of a browser tab's 4 GiB) a model may take: use a smaller batch or model",
                self.batch,
                bytes.map_or("more than 2^64 bytes".into(), |b| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)),
                "2 GiB"
            ));
        }
        Ok(())
    }

    /// Parameters (weights and biases) of the model, as [`ParamLayout`](super::layout::ParamLayout)
    /// lays them out (a tied decoder layer owns only its bias); None if the count overflows.
    pub fn param_count(&self) -> Option<u64> {
        let layers = self.layers();
        let mut total: u64 = 0;
        for l in 0..layers {
            let (fan_in, fan_out) = (*self.dims.get(l)? as u64, self.layer_out_width(l) as u64);
            let own = if self.tied && 2 * l >= layers { fan_out } else { fan_in.checked_mul(fan_out)?.checked_add(fan_out)? };
            total = total.checked_add(own)?;
        }
        Some(total)
    }

    /// Rows a model's activation buffers hold: a training batch, and at least
    /// [`EVAL_CHUNK`] rows for evaluation.
    pub fn rows_held(&self) -> usize {
        self.batch.max(EVAL_CHUNK)
    }

    /// f32 values the model (`model::Autoencoder::new`) allocates on a device for this
    /// model (a test there checks that they agree); None if the count overflows.
    pub fn device_floats(&self) -> Option<u64> {
        let p = self.param_count()?;
        let cap = self.rows_held() as u64;
        let (d, wmax) = (*self.dims.first()? as u64, self.widest() as u64);
        let classes = if self.is_classifier() { self.output_dim() as u64 } else { 1 };
        let latent = *self.dims.get(self.code_layer())? as u64;
        let mut rows_wide: u64 = 2 * d + wmax + 3 + classes + 3 * latent; // x, xn, dy, row_loss, correct, row_kl, onehot, code, eps, dcode
        for l in 0..self.layers() {
            rows_wide = rows_wide.checked_add(3 * self.layer_out_width(l) as u64)?; // z, y, dz
        }
        let moments = self.optimizer.moment_buffers() as u64;
        p.checked_mul(2 + moments)?.checked_add(cap.checked_mul(rows_wide)?)?.checked_add(3 + wmax) // loss_acc, eval_acc, colsum
    }

    /// A softmax classifier (trained on labels) rather than an autoencoder.
    pub fn is_classifier(&self) -> bool {
        self.loss == LossKind::SoftmaxCe
    }

    /// Index into `dims` of the code (the middle width; the narrowest of a symmetric stack).
    pub fn code_layer(&self) -> usize {
        self.layers().div_ceil(2)
    }

    /// Width of the code: the latent dimension.
    pub fn code_dim(&self) -> usize {
        self.dims[self.code_layer()]
    }

    /// Outputs of dense layer `l` as stored: twice the code width for the layer that
    /// produces a variational code's μ and log σ².
    pub fn layer_out_width(&self, l: usize) -> usize {
        if self.variational && l + 1 == self.code_layer() {
            2 * self.dims[l + 1]
        } else {
            self.dims[l + 1]
        }
    }

    /// The widest row any layer's buffers hold: the input, or a layer's stored outputs.
    pub fn widest(&self) -> usize {
        (0..self.layers()).map(|l| self.layer_out_width(l)).chain([self.input_dim()]).max().unwrap()
    }

    /// The activation the backend applies to the last layer: with BCE the sigmoid lives
    /// inside the loss, so the layer itself produces logits.
    pub fn output_activation_in_graph(&self) -> Activation {
        match self.loss {
            LossKind::BceLogits => Activation::Identity,
            _ => *self.activations.last().unwrap(),
        }
    }

    /// Multiply-adds of one forward pass for one example.
    pub fn forward_macs_per_example(&self) -> usize {
        (0..self.layers()).map(|l| self.dims[l] * self.layer_out_width(l)).sum()
    }

    /// Floating-point operations of one training step (forward + two backward products).
    pub fn flops_per_step(&self, batch: usize) -> f64 {
        6.0 * self.forward_macs_per_example() as f64 * batch as f64
    }
}

/// Every preset, in the order the page lists them: its name (the id in links, the CLI and
/// saved files) and its builder below, one per source set-up from `docs/workloads.md` (see
/// the README). The page's catalogue has a row for each (title, source, description), in
/// the same order: `tests/catalogue.rs` checks that the two agree.
const PRESETS: &[(&str, fn() -> ModelConfig)] = &[
    ("dae_vincent", dae_vincent),
    ("tied_ae", tied_ae),
    ("linear_50", linear_50),
    ("stacked_elu", stacked_elu),
    ("relu_ae_adam", relu_ae_adam),
    ("dae_gaussian", dae_gaussian),
    ("dae_salt_pepper", dae_salt_pepper),
    ("dae_dropout", dae_dropout),
    ("sparse_kl", sparse_kl),
    ("vae_20", vae_20),
];

/// Names of every preset, in the order of the table.
pub const PRESET_NAMES: &[&str] = &NAMES;

const NAMES: [&str; PRESETS.len()] = {
    let mut out = [""; PRESETS.len()];
    let mut i = 0;
    while i < PRESETS.len() {
        out[i] = PRESETS[i].0;
        i += 1;
    }
    out
};

/// The preset called `name`, or None.
pub fn preset(name: &str) -> Option<ModelConfig> {
    let &(name, build) = PRESETS.iter().find(|(n, _)| *n == name)?;
    Some(ModelConfig { name: name.into(), ..build() })
}

/// Vincent et al. 2008: 784→500 sigmoid →784 sigmoid, BCE, masking noise (keep 0.9),
/// SGD lr 0.01 on the summed batch loss, batch 16, U(±0.01) init.
fn dae_vincent() -> ModelConfig {
    ModelConfig {
        dims: vec![784, 500, 784],
        activations: vec![Activation::Sigmoid, Activation::Sigmoid],
        loss: LossKind::BceLogits,
        noise: NoiseKind::Masking { keep: 0.9 },
        optimizer: Optimizer::Sgd { lr: 0.01 },
        init: Init::Uniform { a: 0.01 },
        reduction: Reduction::Sum,
        batch: 16,
        tied: false,
        l2: 0.0,
        ..ModelConfig::default()
    }
}

/// Tied weights (Theano dA tutorial): 784→500 sigmoid →784 sigmoid with decoder Wᵀ,
/// BCE, no noise, SGD lr 0.1 on the batch mean, batch 20, U(±4·√(6/(784+500))).
fn tied_ae() -> ModelConfig {
    ModelConfig {
        dims: vec![784, 500, 784],
        activations: vec![Activation::Sigmoid, Activation::Sigmoid],
        loss: LossKind::BceLogits,
        noise: NoiseKind::None,
        optimizer: Optimizer::Sgd { lr: 0.1 },
        init: Init::Uniform { a: 4.0 * (6.0f32 / (784.0 + 500.0)).sqrt() },
        reduction: Reduction::Mean,
        batch: 20,
        tied: true,
        l2: 0.0,
        ..ModelConfig::default()
    }
}

/// Affine 784→50→784, ½·Σ(z−x)² per example, SGD lr 0.01 on the batch mean, batch 50.
fn linear_50() -> ModelConfig {
    ModelConfig {
        dims: vec![784, 50, 784],
        activations: vec![Activation::Identity, Activation::Identity],
        loss: LossKind::HalfSse,
        noise: NoiseKind::None,
        optimizer: Optimizer::Sgd { lr: 0.01 },
        init: Init::GlorotUniform,
        reduction: Reduction::Mean,
        batch: 50,
        tied: false,
        l2: 0.0,
        ..ModelConfig::default()
    }
}

/// Géron's stacked autoencoder: 784→300→150→300 ELU →784 linear, MSE over pixels and
/// examples, L2 1e-4·½Σw² (training only), Adam lr 0.01, batch 150, He normal.
fn stacked_elu() -> ModelConfig {
    ModelConfig {
        dims: vec![784, 300, 150, 300, 784],
        activations: vec![Activation::Elu, Activation::Elu, Activation::Elu, Activation::Identity],
        loss: LossKind::Mse,
        noise: NoiseKind::None,
        optimizer: Optimizer::adam(0.01),
        init: Init::HeNormal,
        reduction: Reduction::Mean,
        batch: 150,
        tied: false,
        l2: 1e-4,
        ..ModelConfig::default()
    }
}

/// mlpractical (004 ex. 2): linear_50's 784→50→784 with a ReLU code and a sigmoid
/// output; sum of squared differences (½·Σ per example, mean over the batch); Adam
/// (its default lr 1e-3); batch 50; Glorot uniform.
fn relu_ae_adam() -> ModelConfig {
    ModelConfig {
        activations: vec![Activation::Relu, Activation::Sigmoid],
        optimizer: Optimizer::adam(0.001),
        ..linear_50()
    }
}

/// Géron (003): the stacked ELU network (stacked_elu) with tied weights, L2 1e-5,
/// Adam lr 0.01, batch 150, reconstructing the clean input from x + N(0, σ²), σ = 1/√300.
fn dae_gaussian() -> ModelConfig {
    ModelConfig {
        noise: NoiseKind::Gaussian { sigma: 1.0 / 300f32.sqrt() },
        tied: true,
        l2: 1e-5,
        ..stacked_elu()
    }
}

/// Géron (003): dae_gaussian's network and set-up, reconstructing the clean input from
/// x with 30 % of its pixels dropped (the rest scaled up by 1/0.7).
fn dae_dropout() -> ModelConfig {
    ModelConfig { noise: NoiseKind::Dropout { keep: 0.7 }, ..dae_gaussian() }
}

/// mlpractical (004 ex. 3): the relu_ae_adam network reconstructing the clean input
/// from one with 20 % of its pixels set to 0 or 1 at random.
fn dae_salt_pepper() -> ModelConfig {
    ModelConfig { noise: NoiseKind::SaltPepper { p: 0.2 }, ..relu_ae_adam() }
}

/// Géron (003): 784→1000 sigmoid →784 linear, MSE, plus 0.2·Σⱼ KL(0.1 ‖ ρ̂ⱼ) on the
/// hidden layer; Adam lr 0.01, batch 1000, He normal.
fn sparse_kl() -> ModelConfig {
    ModelConfig {
        dims: vec![784, 1000, 784],
        activations: vec![Activation::Sigmoid, Activation::Identity],
        loss: LossKind::Mse,
        noise: NoiseKind::None,
        optimizer: Optimizer::adam(0.01),
        init: Init::HeNormal,
        reduction: Reduction::Mean,
        batch: 1000,
        sparsity: Some(Sparsity { layer: 0, rho: 0.1, beta: 0.2 }),
        ..ModelConfig::default()
    }
}

/// Kingma & Welling via Géron (003): 784→500→500 ELU → μ, log σ² (20 each); decoder
/// 20→500→500 ELU →784 logits; BCE summed over pixels + KL to N(0, I), mean over
/// examples; Adam lr 0.001, batch 150, He normal.
fn vae_20() -> ModelConfig {
    ModelConfig {
        dims: vec![784, 500, 500, 20, 500, 500, 784],
        activations: vec![
            Activation::Elu,
            Activation::Elu,
            Activation::Identity,
            Activation::Elu,
            Activation::Elu,
            Activation::Sigmoid,
        ],
        loss: LossKind::BceLogits,
        noise: NoiseKind::None,
        optimizer: Optimizer::adam(0.001),
        init: Init::HeNormal,
        reduction: Reduction::Mean,
        batch: 150,
        variational: true,
        ..ModelConfig::default()
    }
}

/// One line listing the presets, for error messages.
pub fn preset_list() -> String {
    PRESET_NAMES.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_validates_and_round_trips_through_json() {
        for name in PRESET_NAMES {
            let cfg = preset(name).unwrap();
            cfg.validate().unwrap();
            let json = serde_json::to_string(&cfg).unwrap();
            let back: ModelConfig = serde_json::from_str(&json).unwrap();
            assert_eq!(cfg, back);
        }
    }

    #[test]
    fn impossible_configs_are_rejected_with_a_reason() {
        let mut cfg = preset("dae_vincent").unwrap();
        cfg.batch = 0;
        assert!(cfg.validate().unwrap_err().contains("batch"));
        let mut cfg = preset("dae_vincent").unwrap();
        cfg.dims = vec![784, 100_000, 784];
        assert!(cfg.validate().unwrap_err().contains("width"));
        let mut cfg = preset("dae_vincent").unwrap();
        cfg.dims = vec![784, 500, 10];
        assert!(cfg.validate().unwrap_err().contains("output width"));
        let mut cfg = preset("stacked_elu").unwrap();
        cfg.tied = true;
        cfg.dims = vec![784, 300, 150, 200, 784];
        assert!(cfg.validate().unwrap_err().contains("tied"));
        let mut cfg = preset("stacked_elu").unwrap();
        cfg.l2 = -1.0;
        assert!(cfg.validate().unwrap_err().contains("L2"));
    }

    #[test]
    fn sizes_are_bounded_before_anything_is_allocated() {
        // The link: 784, seventeen 16384s, 784: 4.3 × 10⁹ parameters (17 GB).
        let mut cfg = preset("dae_vincent").unwrap();
        cfg.dims = std::iter::once(784).chain(std::iter::repeat_n(16_384, 17)).chain([784]).collect();
        cfg.activations = vec![Activation::Sigmoid; 18];
        assert_eq!(cfg.param_count(), Some(784 * 16_384 + 16_384 + 16 * (16_384 * 16_384 + 16_384) + 16_384 * 784 + 784));
        assert!(cfg.param_count().unwrap() > 4_300_000_000);
        let e = cfg.validate().unwrap_err();
        assert!(e.contains("parameters, more than the 33554432"), "{e}");
        // In 32-bit arithmetic (a browser's usize) that count wraps to a small number.
        let wrapped = cfg.dims.windows(2).fold(0u32, |acc, w| acc.wrapping_add((w[0] as u32).wrapping_mul(w[1] as u32)).wrapping_add(w[1] as u32));
        assert!((wrapped as u64) < cfg.param_count().unwrap(), "the 32-bit sum wraps");
        // Within the parameter bound, the batch's activations are bounded too.
        let mut cfg = preset("dae_vincent").unwrap();
        cfg.dims = vec![784, 16_384, 784];
        cfg.validate().unwrap();
        cfg.batch = MAX_BATCH;
        let e = cfg.validate().unwrap_err();
        assert!(e.contains("more than the 2 GiB") && e.contains("batch of 65536"), "{e}");
        // Layers: a file of 80,000 tiny layers took 48 s to load.
        let mut cfg = preset("linear_50").unwrap();
        cfg.dims = vec![2; 80_001];
        cfg.dims[0] = 784;
        cfg.dims[80_000] = 784;
        cfg.activations = vec![Activation::Identity; 80_000];
        let e = cfg.validate().unwrap_err();
        assert!(e.contains("80000 layers, more than the 64"), "{e}");
        // The presets are far from the bounds.
        for name in PRESET_NAMES {
            let cfg = preset(name).unwrap();
            assert!(cfg.param_count().unwrap() < MAX_PARAMS / 10 && cfg.device_floats().unwrap() * 4 < MAX_MODEL_BYTES / 10, "{name}");
        }
    }

    #[test]
    fn configs_without_the_newer_fields_still_parse() {
        let mut v = serde_json::to_value(preset("dae_vincent").unwrap()).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("tied");
        o.remove("l2");
        let back: ModelConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, preset("dae_vincent").unwrap());
    }
}
