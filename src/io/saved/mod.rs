//! Saved models: the architecture, the weights, the optimizer state and the training
//! progress in one [`safetensors`](https://huggingface.co/docs/safetensors) file that opens
//! in PyTorch (`safetensors.torch.load_file`) and NumPy (`safetensors.numpy.load_file`) as it
//! is.
//!
//! # Format (version 1)
//!
//! Tensors, all `F32` little-endian, named and shaped as PyTorch's `nn.Linear` keeps them,
//! so an untied model's weights load with `model.load_state_dict` directly:
//!
//! | name | shape | what |
//! | --- | --- | --- |
//! | `layers.{l}.weight` | `[fan_out, fan_in]` | layer `l`'s W, used as y = x·Wᵀ + b (PyTorch's convention; in memory we keep the transpose, `[fan_in, fan_out]`, see [`ParamLayout`]) |
//! | `layers.{l}.bias` | `[fan_out]` | layer `l`'s bias |
//! | `optim.{state}.layers.{l}.weight` / `.bias` | as the parameter | optimizer moments, named after PyTorch's optimizer state: `momentum_buffer` (SGD with momentum), `exp_avg` and `exp_avg_sq` (Adam); none for plain SGD |
//!
//! With tied weights (`config.tied`) a decoder layer `l` owns only `layers.{l}.bias`: it
//! uses the weight of its encoder partner `layers.{L-1-l}.weight` transposed (`L` layers).
//! The tensor list is built from [`ParamLayout::new`]`(&config).dense`, so it follows the
//! model description whatever layers it grows.
//!
//! Metadata (the safetensors header's string map):
//!
//! | key | value |
//! | --- | --- |
//! | `format` | `aeplay-model` |
//! | `format_version` | `1` |
//! | `config` | the [`ModelConfig`] as JSON (the same serde format as the presets) |
//! | `step` | training steps taken |
//! | `epoch` | completed epochs |
//! | `epoch_pos` | training rows of the current epoch already seen |
//! | `train_rows` | rows in the training set it was trained on (0: unknown) |
//! | `seed` | run seed (initialisation, data order and noise derive from it) |
//! | `optim_t` | optimizer steps (Adam's t, PyTorch's `state["step"]`) |
//! | `producer` | `aeplay <version>` |
//!
//! [`from_safetensors`] refuses a file that is too large, not safetensors, truncated, not
//! ours, from a newer format version, with an unparseable or invalid description, with a
//! tensor missing, extra, of the wrong shape or dtype, or holding NaN/∞, each with a
//! [`LoadError`] that names the problem and what to do. Nothing is changed by a refused
//! file: loading produces a new [`SavedModel`] that the caller applies only on success.
//!
//! Files: this one holds [`SavedModel`] (capturing a trainer, resuming one); `codec.rs`
//! the bytes ([`to_safetensors`], [`from_safetensors`] with its checks); `tensors.rs` the
//! tensor names and shapes of a description; `error.rs` the [`LoadError`]s.

use std::collections::BTreeMap;

use crate::backend::Backend;
use crate::core::layout::ParamLayout;
use crate::core::ModelConfig;
use crate::data::Mnist;
use crate::model::OptimState;
use crate::train::Trainer;

mod codec;
mod error;
mod tensors;
#[cfg(test)]
mod tests;

pub use codec::{from_safetensors, to_safetensors, MAX_STEPS};
pub use error::LoadError;
pub use tensors::{expected_tensors, moment_names, param_specs, TensorSpec};

/// The `format` metadata value.
pub const FORMAT: &str = "aeplay-model";
/// The `format_version` this code writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
/// Largest file accepted (the widest valid models are far smaller; this keeps a wrong file
/// from exhausting a browser tab's memory).
pub const MAX_FILE_BYTES: usize = 512 * 1024 * 1024;

/// Everything needed to continue training where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel {
    pub config: ModelConfig,
    /// All parameters in our flat layout ([`ParamLayout`]).
    pub params: Vec<f32>,
    /// Optimizer moments (our flat layout) and step count.
    pub optim: OptimState,
    /// Training steps taken.
    pub step: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// Training rows of the current epoch already seen.
    pub epoch_pos: usize,
    /// Rows of the training set (0 if unknown); a different data set restarts the epoch.
    pub train_rows: usize,
    /// Run seed.
    pub seed: u64,
    /// The losses recorded so far, (step, loss), for the page's chart to go on where it
    /// was (empty where none were recorded, e.g. the CLI; files without it load with none).
    pub history: LossHistory,
}

/// Training and test losses by step.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossHistory {
    pub train: Vec<(u64, f64)>,
    pub test: Vec<(u64, f64)>,
}

impl LossHistory {
    /// Only the finite losses (a diverged step's NaN has no JSON number).
    pub fn finite(train: &[(u64, f64)], test: &[(u64, f64)]) -> LossHistory {
        let keep = |v: &[(u64, f64)]| v.iter().filter(|p| p.1.is_finite()).copied().collect();
        LossHistory { train: keep(train), test: keep(test) }
    }
}

/// Differences between two model descriptions, one readable line each ("batch: 32 in the
/// file, 16 wanted"). Compares every serialized field, so new fields are covered too.
pub fn config_differences(file: &ModelConfig, wanted: &ModelConfig) -> Vec<String> {
    let a = serde_json::to_value(file).expect("config serializes");
    let b = serde_json::to_value(wanted).expect("config serializes");
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return vec![] };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&serde_json::Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
    keys.into_iter()
        .filter(|k| k.as_str() != "name" && a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {} in the file, {} wanted", show(a.get(k)), show(b.get(k))))
        .collect()
}

impl SavedModel {
    /// A freshly initialised model (step 0), as [`Trainer::new`] would start it.
    pub fn fresh(config: &ModelConfig, seed: u64) -> Result<SavedModel, String> {
        config.validate()?;
        let layout = ParamLayout::new(config);
        Ok(SavedModel {
            config: config.clone(),
            params: layout.init(config, seed),
            optim: OptimState { moments: vec![vec![0.0; layout.total]; config.optimizer.moment_buffers()], t: 0 },
            step: 0,
            epoch: 0,
            epoch_pos: 0,
            train_rows: 0,
            seed,
            history: LossHistory::default(),
        })
    }

    /// Captures a trainer's model and progress. Reads the device synchronously: fine on the
    /// CPU and natively; in the browser on a GPU, read the parameters and moments back
    /// asynchronously and fill the struct yourself.
    pub fn capture<B: Backend>(t: &mut Trainer<B>) -> SavedModel {
        let params = t.model.params_host(&mut t.be);
        let optim = t.model.optim_state_host(&mut t.be);
        SavedModel::of_trainer(t, params, optim)
    }

    /// A trainer's model and progress with its weights and optimizer state as read back
    /// ([`Trainer::read_state`]); no loss history.
    pub fn of_trainer<B: Backend>(t: &Trainer<B>, params: Vec<f32>, optim: OptimState) -> SavedModel {
        SavedModel {
            config: t.model.cfg.clone(),
            params,
            optim,
            step: t.step,
            epoch: t.epoch,
            epoch_pos: t.pos,
            train_rows: t.train_rows,
            seed: t.seed(),
            history: LossHistory::default(),
        }
    }

    /// A trainer on `be` that continues this model: same weights, optimizer state, step
    /// count, epoch and (on the same data set) the same data order, so that training on
    /// gives what an uninterrupted run would have given on the same backend.
    pub fn resume<B: Backend>(&self, be: B, data: &Mnist) -> Result<Trainer<B>, String> {
        let mut t = Trainer::new(be, &self.config, data, self.seed)?;
        t.model.load_state(&mut t.be, &self.params, &self.optim)?;
        let same_data = self.train_rows == 0 || self.train_rows == t.train_rows;
        let pos = if same_data && self.epoch_pos < t.train_rows { self.epoch_pos } else { 0 };
        t.set_progress(self.step, self.epoch, pos)?;
        Ok(t)
    }

    /// Checks that this model is `wanted` (every field of the description but its name).
    pub fn check_config(&self, wanted: &ModelConfig, what: &str) -> Result<(), LoadError> {
        let differences = config_differences(&self.config, wanted);
        if differences.is_empty() {
            Ok(())
        } else {
            Err(LoadError::Mismatch { wanted: what.to_string(), differences })
        }
    }

    /// The file's metadata map.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("format".into(), FORMAT.into());
        m.insert("format_version".into(), FORMAT_VERSION.to_string());
        m.insert("config".into(), serde_json::to_string(&self.config).expect("config serializes"));
        m.insert("step".into(), self.step.to_string());
        m.insert("epoch".into(), self.epoch.to_string());
        m.insert("epoch_pos".into(), self.epoch_pos.to_string());
        m.insert("train_rows".into(), self.train_rows.to_string());
        m.insert("seed".into(), self.seed.to_string());
        m.insert("optim_t".into(), self.optim.t.to_string());
        if self.history != LossHistory::default() {
            let h = LossHistory::finite(&self.history.train, &self.history.test);
            m.insert("history".into(), serde_json::to_string(&h).expect("finite losses serialize"));
        }
        m.insert("producer".into(), format!("aeplay {}", env!("CARGO_PKG_VERSION")));
        m
    }
}
