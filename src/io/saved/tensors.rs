//! The tensors of a saved model: their PyTorch names and shapes for a model description
//! (weights as `[fan_out, fan_in]`, a tied decoder layer's bias only, the optimizer's moments
//! after them), and moving each between a file's tensor and our flat parameter layout.

use crate::core::config::Optimizer;
use crate::core::layout::ParamLayout;
use crate::core::ModelConfig;

/// One tensor of the file and where its values live in our flat buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Parameter name (`layers.{l}.weight` / `.bias`), without an optimizer prefix.
    pub name: String,
    /// Shape in the file (PyTorch's: `[fan_out, fan_in]` for a weight).
    pub shape: Vec<usize>,
    /// Offset of the values in the flat layout.
    pub offset: usize,
    /// `Some((fan_in, fan_out))` for a weight: stored fan_in × fan_out in memory, written
    /// transposed.
    pub transpose: Option<(usize, usize)>,
}

impl TensorSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values in the file's order, taken from a flat buffer.
    pub(super) fn gather(&self, flat: &[f32]) -> Vec<f32> {
        let src = &flat[self.offset..self.offset + self.len()];
        match self.transpose {
            None => src.to_vec(),
            Some((fan_in, fan_out)) => {
                let mut out = vec![0.0; src.len()];
                for i in 0..fan_in {
                    for o in 0..fan_out {
                        out[o * fan_in + i] = src[i * fan_out + o];
                    }
                }
                out
            }
        }
    }

    /// Puts values in the file's order back into a flat buffer.
    pub(super) fn scatter(&self, values: &[f32], flat: &mut [f32]) {
        let dst = &mut flat[self.offset..self.offset + self.len()];
        match self.transpose {
            None => dst.copy_from_slice(values),
            Some((fan_in, fan_out)) => {
                for i in 0..fan_in {
                    for o in 0..fan_out {
                        dst[i * fan_out + o] = values[o * fan_in + i];
                    }
                }
            }
        }
    }
}

/// The parameter tensors of a model, in layer order (weight, then bias).
pub fn param_specs(cfg: &ModelConfig) -> Vec<TensorSpec> {
    let layout = ParamLayout::new(cfg);
    let mut specs = Vec::new();
    for (l, s) in layout.dense.iter().enumerate() {
        if !s.transposed {
            specs.push(TensorSpec {
                name: format!("layers.{l}.weight"),
                shape: vec![s.fan_out, s.fan_in],
                offset: s.w,
                transpose: Some((s.fan_in, s.fan_out)),
            });
        }
        specs.push(TensorSpec { name: format!("layers.{l}.bias"), shape: vec![s.fan_out], offset: s.b, transpose: None });
    }
    specs
}

/// Names of the optimizer's moment buffers, as PyTorch's optimizers call their state.
pub fn moment_names(opt: &Optimizer) -> &'static [&'static str] {
    match opt {
        Optimizer::Sgd { .. } => &[],
        Optimizer::Momentum { .. } => &["momentum_buffer"],
        Optimizer::Adam { .. } => &["exp_avg", "exp_avg_sq"],
    }
}

/// Every tensor name of a model's file with its shape, in the order they are checked.
pub fn expected_tensors(cfg: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let specs = param_specs(cfg);
    let mut out: Vec<(String, Vec<usize>)> = specs.iter().map(|s| (s.name.clone(), s.shape.clone())).collect();
    for m in moment_names(&cfg.optimizer) {
        out.extend(specs.iter().map(|s| (format!("optim.{m}.{}", s.name), s.shape.clone())));
    }
    out
}
