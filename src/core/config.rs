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
}

/// How the training input is corrupted (denoising autoencoders). The target is always
/// the clean input.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoiseKind {
    None,
    /// Keep each pixel with probability `keep`, else set it to 0.
    Masking { keep: f32 },
}

impl NoiseKind {
    pub fn label(&self) -> String {
        match self {
            NoiseKind::None => "none".into(),
            NoiseKind::Masking { keep } => format!("masking (keep {keep})"),
        }
    }
}

/// Parameter update rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    Sgd { lr: f32 },
}

impl Optimizer {
    pub fn lr(&self) -> f32 {
        match *self {
            Optimizer::Sgd { lr } => lr,
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
}

/// Largest layer width accepted (keeps a typo from allocating gigabytes).
pub const MAX_WIDTH: usize = 16_384;
/// Largest batch accepted.
pub const MAX_BATCH: usize = 65_536;

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
        if self.input_dim() != self.output_dim() {
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
        if let NoiseKind::Masking { keep } = self.noise {
            if !(keep > 0.0 && keep <= 1.0) {
                return Err(format!("masking keep probability {keep} must be in (0, 1]"));
            }
        }
        if self.loss == LossKind::BceLogits && *self.activations.last().unwrap() != Activation::Sigmoid {
            return Err("binary cross-entropy needs a sigmoid output layer".into());
        }
        Ok(())
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
        self.dims.windows(2).map(|w| w[0] * w[1]).sum()
    }

    /// Floating-point operations of one training step (forward + two backward products).
    pub fn flops_per_step(&self, batch: usize) -> f64 {
        6.0 * self.forward_macs_per_example() as f64 * batch as f64
    }
}

/// Names of every preset, in the order the UI lists them.
pub const PRESET_NAMES: &[&str] = &["dae_vincent"];

/// The presets from `docs/workloads.md` (see the README).
pub fn preset(name: &str) -> Option<ModelConfig> {
    match name {
        // Vincent et al. 2008: 784→500 sigmoid →784 sigmoid, BCE, masking noise (keep 0.9),
        // SGD lr 0.01 on the summed batch loss, batch 16, U(±0.01) init.
        "dae_vincent" => Some(ModelConfig {
            name: name.into(),
            dims: vec![784, 500, 784],
            activations: vec![Activation::Sigmoid, Activation::Sigmoid],
            loss: LossKind::BceLogits,
            noise: NoiseKind::Masking { keep: 0.9 },
            optimizer: Optimizer::Sgd { lr: 0.01 },
            init: Init::Uniform { a: 0.01 },
            reduction: Reduction::Sum,
            batch: 16,
        }),
        _ => None,
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
    }
}
