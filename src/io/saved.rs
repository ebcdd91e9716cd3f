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

use std::collections::BTreeMap;
use std::fmt;

use safetensors::{Dtype, SafeTensorError, SafeTensors};

use crate::backend::Backend;
use crate::core::config::Optimizer;
use crate::core::layout::ParamLayout;
use crate::core::ModelConfig;
use crate::data::Mnist;
use crate::model::OptimState;
use crate::train::Trainer;

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

/// Why a file was refused. The message says what is wrong and what to do.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadError {
    TooLarge { bytes: usize, limit: usize },
    NotSafetensors(String),
    Truncated(String),
    HeaderMalformed(String),
    NotAnAeplayModel(String),
    UnsupportedVersion(String),
    MissingMetadata(&'static str),
    BadMetadata { key: &'static str, value: String, reason: String },
    BadConfig(String),
    InvalidConfig(String),
    MissingTensor(String),
    ExtraTensor(String),
    WrongShape { name: String, expected: Vec<usize>, found: Vec<usize> },
    WrongDtype { name: String, found: String },
    NonFinite { name: String, index: usize, value: f32 },
    /// The file's model differs from the one asked for (e.g. `--preset` with `--load`).
    Mismatch { wanted: String, differences: Vec<String> },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LoadError::*;
        let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
        match self {
            TooLarge { bytes, limit } => write!(
                f,
                "the file is {:.1} MB, more than the {:.0} MB a saved model may have: pick the .safetensors file saved by aeplay",
                mb(*bytes),
                mb(*limit)
            ),
            NotSafetensors(why) => write!(f, "not a safetensors file ({why}): pick a .safetensors file saved by aeplay"),
            Truncated(why) => write!(f, "the file is truncated or damaged ({why}): save or download it again"),
            HeaderMalformed(why) => write!(f, "the safetensors header is malformed ({why}): the file is damaged, save or download it again"),
            NotAnAeplayModel(why) => write!(f, "a safetensors file, but not a model saved by aeplay ({why})"),
            UnsupportedVersion(v) => write!(f, "the file has format version {v}, newer than this aeplay reads ({FORMAT_VERSION}): update aeplay"),
            MissingMetadata(key) => write!(f, "the file's metadata has no '{key}' entry: the file is incomplete, save it again with aeplay"),
            BadMetadata { key, value, reason } => write!(f, "the file's metadata '{key}' is '{value}': {reason}"),
            BadConfig(why) => write!(f, "the model description in the file cannot be read ({why}): it was written by an incompatible version or edited by hand"),
            InvalidConfig(why) => write!(f, "the model description in the file is not a valid model: {why}"),
            MissingTensor(name) => write!(f, "the file lacks the tensor '{name}' that its model description needs"),
            ExtraTensor(name) => write!(f, "the file has a tensor '{name}' that its model description does not use (a different model or optimizer?)"),
            WrongShape { name, expected, found } => {
                write!(f, "tensor '{name}' has shape {found:?} but the model description needs {expected:?}")
            }
            WrongDtype { name, found } => write!(f, "tensor '{name}' is {found}; saved models hold F32 tensors (convert it with .float() before saving)"),
            NonFinite { name, index, value } => write!(f, "tensor '{name}' holds {value} at element {index}: the model diverged before it was saved; load an earlier file"),
            Mismatch { wanted, differences } => write!(f, "the saved model differs from {wanted}: {}", differences.join("; ")),
        }
    }
}

impl std::error::Error for LoadError {}

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
    fn gather(&self, flat: &[f32]) -> Vec<f32> {
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
    fn scatter(&self, values: &[f32], flat: &mut [f32]) {
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

/// Serializes a saved model (see the module docs for the layout).
/// Panics if `m.params` or `m.optim` do not match `m.config` (a programming error).
pub fn to_safetensors(m: &SavedModel) -> Vec<u8> {
    let layout = ParamLayout::new(&m.config);
    assert_eq!(m.params.len(), layout.total, "parameters do not match the config");
    let names = moment_names(&m.config.optimizer);
    assert_eq!(m.optim.moments.len(), names.len(), "optimizer moments do not match the config");
    assert!(m.optim.moments.iter().all(|v| v.len() == layout.total), "optimizer moments do not match the config");
    let specs = param_specs(&m.config);
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let to_bytes = |v: Vec<f32>| v.into_iter().flat_map(f32::to_le_bytes).collect::<Vec<u8>>();
    for s in &specs {
        owned.push((s.name.clone(), s.shape.clone(), to_bytes(s.gather(&m.params))));
    }
    for (name, flat) in names.iter().zip(&m.optim.moments) {
        for s in &specs {
            owned.push((format!("optim.{name}.{}", s.name), s.shape.clone(), to_bytes(s.gather(flat))));
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = owned
        .iter()
        .map(|(n, shape, bytes)| (n.clone(), safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes).expect("sizes agree")))
        .collect();
    safetensors::serialize(views, Some(m.metadata().into_iter().collect())).expect("safetensors serialization")
}

/// Most steps (and optimizer steps) a file may count: 2⁵³ (285 years at a million steps a
/// second), the largest count the page's JavaScript holds exactly.
pub const MAX_STEPS: u64 = 1 << 53;

/// Largest header the reader looks at before trusting the length field.
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Parses and checks a saved model. On any problem nothing is returned but the reason.
pub fn from_safetensors(bytes: &[u8]) -> Result<SavedModel, LoadError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { bytes: bytes.len(), limit: MAX_FILE_BYTES });
    }
    check_envelope(bytes)?;
    let st = SafeTensors::deserialize(bytes).map_err(map_st_error)?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(map_st_error)?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |key: &'static str| meta.get(key).map(String::as_str);

    match get("format") {
        Some(FORMAT) => {}
        Some(other) => return Err(LoadError::NotAnAeplayModel(format!("its 'format' metadata is '{other}', not '{FORMAT}'"))),
        None => {
            return Err(LoadError::NotAnAeplayModel(
                "its metadata has no 'format' entry; plain weight files cannot be loaded without the model description".into(),
            ))
        }
    }
    let version = get("format_version").ok_or(LoadError::MissingMetadata("format_version"))?;
    match version.parse::<u32>() {
        Ok(v) if (1..=FORMAT_VERSION).contains(&v) => {}
        Ok(v) if v > FORMAT_VERSION => return Err(LoadError::UnsupportedVersion(v.to_string())),
        _ => return Err(LoadError::BadMetadata { key: "format_version", value: version.into(), reason: format!("expected a version number 1..={FORMAT_VERSION}") }),
    }
    let config_json = get("config").ok_or(LoadError::MissingMetadata("config"))?;
    let config: ModelConfig = serde_json::from_str(config_json).map_err(|e| LoadError::BadConfig(e.to_string()))?;
    config.validate().map_err(LoadError::InvalidConfig)?;

    let number = |key: &'static str| -> Result<u64, LoadError> {
        let v = get(key).ok_or(LoadError::MissingMetadata(key))?;
        v.parse::<u64>().map_err(|_| LoadError::BadMetadata { key, value: v.into(), reason: "expected a whole number ≥ 0".into() })
    };
    let step = number("step")?;
    // Counts that index memory must fit this machine's usize (32 bits in a browser).
    let index = |key: &'static str| -> Result<usize, LoadError> {
        let v = number(key)?;
        usize::try_from(v).map_err(|_| LoadError::BadMetadata { key, value: v.to_string(), reason: format!("more than this machine can count ({})", usize::MAX) })
    };
    let epoch = index("epoch")?;
    let epoch_pos = index("epoch_pos")?;
    let train_rows = index("train_rows")?;
    let seed = number("seed")?;
    let t = number("optim_t")?;
    for (key, v) in [("step", step), ("optim_t", t)] {
        if v > MAX_STEPS {
            return Err(LoadError::BadMetadata { key, value: v.to_string(), reason: format!("more steps than any run takes (at most 2^53 = {MAX_STEPS})") });
        }
    }
    if epoch as u64 > step {
        return Err(LoadError::BadMetadata {
            key: "epoch",
            value: epoch.to_string(),
            reason: format!("more completed epochs than the {step} steps taken (each epoch takes at least one step): the file is damaged"),
        });
    }
    if train_rows > crate::data::idx::MAX_ITEMS {
        return Err(LoadError::BadMetadata {
            key: "train_rows",
            value: train_rows.to_string(),
            reason: format!("more rows than any training set has (at most {})", crate::data::idx::MAX_ITEMS),
        });
    }
    // train_rows 0: written without knowing the data set; an epoch is at most MAX_ITEMS rows.
    let epoch_rows = if train_rows == 0 { crate::data::idx::MAX_ITEMS } else { train_rows };
    if epoch_pos >= epoch_rows {
        return Err(LoadError::BadMetadata {
            key: "epoch_pos",
            value: epoch_pos.to_string(),
            reason: format!("past the end of an epoch of {epoch_rows} rows"),
        });
    }

    // Every expected tensor present with the right dtype and shape, nothing else.
    let expected = expected_tensors(&config);
    for (name, shape) in &expected {
        let view = st.tensor(name).map_err(|_| LoadError::MissingTensor(name.clone()))?;
        if view.dtype() != Dtype::F32 {
            return Err(LoadError::WrongDtype { name: name.clone(), found: format!("{:?}", view.dtype()) });
        }
        if view.shape() != shape.as_slice() {
            return Err(LoadError::WrongShape { name: name.clone(), expected: shape.clone(), found: view.shape().to_vec() });
        }
    }
    // A set, not a scan of the list per name: a file may hold any number of tensors.
    let wanted: std::collections::HashSet<&str> = expected.iter().map(|(e, _)| e.as_str()).collect();
    let mut names: Vec<&str> = st.names();
    names.sort_unstable();
    if let Some(extra) = names.into_iter().find(|n| !wanted.contains(n)) {
        return Err(LoadError::ExtraTensor(extra.to_string()));
    }

    let layout = ParamLayout::new(&config);
    let specs = param_specs(&config);
    let read_flat = |prefix: &str| -> Result<Vec<f32>, LoadError> {
        let mut flat = vec![0.0f32; layout.total];
        for s in &specs {
            let name = format!("{prefix}{}", s.name);
            let data = st.tensor(&name).expect("checked above").data();
            let values: Vec<f32> = data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(LoadError::NonFinite { name, index, value });
            }
            s.scatter(&values, &mut flat);
        }
        Ok(flat)
    };
    let history = match get("history") {
        None => LossHistory::default(),
        Some(v) => serde_json::from_str(v).map_err(|e| LoadError::BadMetadata {
            key: "history",
            value: v.chars().take(60).collect(),
            reason: format!("expected {{\"train\": [[step, loss], …], \"test\": […]}} ({e})"),
        })?,
    };
    let params = read_flat("")?;
    let moments = moment_names(&config.optimizer).iter().map(|m| read_flat(&format!("optim.{m}."))).collect::<Result<Vec<_>, _>>()?;
    Ok(SavedModel { config, params, optim: OptimState { moments, t }, step, epoch, epoch_pos, train_rows, seed, history })
}

/// The first checks, before the safetensors parser: enough bytes for the length field, a
/// plausible header length, a header that starts like JSON.
fn check_envelope(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 {
        return Err(LoadError::NotSafetensors(format!("only {} bytes, not even the 8-byte header length", bytes.len())));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let starts_like_json = bytes.get(8) == Some(&b'{');
    if n < 2 || n > MAX_HEADER_BYTES || (bytes.len() > 8 && !starts_like_json) {
        return Err(LoadError::NotSafetensors("it does not start with a safetensors header".into()));
    }
    if n > (bytes.len() - 8) as u64 {
        return Err(LoadError::Truncated(format!("the header alone should be {n} bytes but the file has {}", bytes.len())));
    }
    Ok(())
}

fn map_st_error(e: SafeTensorError) -> LoadError {
    match e {
        SafeTensorError::MetadataIncompleteBuffer => {
            LoadError::Truncated("the tensor data is not the length the header gives".into())
        }
        SafeTensorError::HeaderTooSmall | SafeTensorError::HeaderTooLarge | SafeTensorError::InvalidHeaderLength => {
            LoadError::NotSafetensors(e.to_string())
        }
        SafeTensorError::InvalidHeader(_) | SafeTensorError::InvalidHeaderDeserialization(_) | SafeTensorError::JsonError(_) => {
            LoadError::HeaderMalformed(e.to_string())
        }
        other => LoadError::HeaderMalformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{preset, PRESET_NAMES};

    /// A model with distinct values everywhere (so a transposition or mix-up shows).
    fn sample(name: &str) -> SavedModel {
        let mut m = SavedModel::fresh(&preset(name).unwrap(), 7).unwrap();
        for (i, p) in m.params.iter_mut().enumerate() {
            *p = (i as f32 * 0.37).sin();
        }
        for (k, moment) in m.optim.moments.iter_mut().enumerate() {
            for (i, v) in moment.iter_mut().enumerate() {
                *v = ((i + 1000 * (k + 1)) as f32 * 0.11).cos().abs();
            }
        }
        m.optim.t = 123;
        m.step = 123;
        m.epoch = 2;
        m.epoch_pos = 480;
        m.train_rows = 60_000;
        m.history = LossHistory { train: vec![(10, 540.5), (120, 98.25)], test: vec![(120, 101.0)] };
        m
    }

    /// Rebuilds a file from its parts with `edit` applied to the tensors and metadata.
    fn rebuild(bytes: &[u8], edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, &mut BTreeMap<String, String>)) -> Vec<u8> {
        let st = SafeTensors::deserialize(bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
        let mut meta: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
        let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
            st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
        edit(&mut tensors, &mut meta);
        let views: Vec<_> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        safetensors::serialize(views, Some(meta.into_iter().collect())).unwrap()
    }

    fn err(bytes: &[u8]) -> LoadError {
        from_safetensors(bytes).expect_err("a bad file was accepted")
    }

    #[test]
    fn every_preset_round_trips_exactly() {
        for name in PRESET_NAMES {
            let m = sample(name);
            let bytes = to_safetensors(&m);
            let back = from_safetensors(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back, m, "{name}");
            // Same size again (the header's metadata order may vary: it is a hash map).
            assert!(to_safetensors(&back).len() == bytes.len());
        }
    }

    #[test]
    fn the_loss_history_travels_with_the_model() {
        let mut m = sample("dae_vincent");
        // A diverged step's NaN is left out (JSON has no NaN).
        m.history.train.push((130, f64::NAN));
        let back = from_safetensors(&to_safetensors(&m)).unwrap();
        assert_eq!(back.history, LossHistory { train: vec![(10, 540.5), (120, 98.25)], test: vec![(120, 101.0)] });
        // Files without a history (older ones, the CLI's) load with none.
        let bytes = rebuild(&to_safetensors(&m), |_, meta| {
            meta.remove("history");
        });
        assert_eq!(from_safetensors(&bytes).unwrap().history, LossHistory::default());
        // A malformed one is refused, saying which entry.
        let bytes = rebuild(&to_safetensors(&m), |_, meta| {
            meta.insert("history".into(), "[1, 2".into());
        });
        let e = from_safetensors(&bytes).unwrap_err().to_string();
        assert!(e.contains("'history'"), "{e}");
    }

    #[test]
    fn tensors_use_pytorch_names_and_shapes() {
        let m = sample("tied_ae");
        let bytes = to_safetensors(&m);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut names = st.names();
        names.sort();
        assert_eq!(names, vec!["layers.0.bias", "layers.0.weight", "layers.1.bias"]);
        let w = st.tensor("layers.0.weight").unwrap();
        assert_eq!(w.shape(), &[500, 784]);
        // PyTorch's W[o][i] is our W[i][o] (stored fan_in × fan_out).
        let val = |o: usize, i: usize| {
            let k = 4 * (o * 784 + i);
            f32::from_le_bytes(w.data()[k..k + 4].try_into().unwrap())
        };
        assert_eq!(val(3, 5), m.params[5 * 500 + 3]);
        assert_eq!(val(499, 783), m.params[783 * 500 + 499]);

        let m = sample("stacked_elu");
        let bytes = to_safetensors(&m);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.len(), 3 * 8);
        assert_eq!(st.tensor("optim.exp_avg_sq.layers.2.weight").unwrap().shape(), &[300, 150]);
        assert_eq!(st.tensor("optim.exp_avg.layers.3.bias").unwrap().shape(), &[784]);
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().as_ref().unwrap();
        assert_eq!(meta["format"], "aeplay-model");
        assert_eq!(meta["optim_t"], "123");
        let cfg: ModelConfig = serde_json::from_str(&meta["config"]).unwrap();
        assert_eq!(cfg, preset("stacked_elu").unwrap());
    }

    #[test]
    fn momentum_state_round_trips() {
        let mut cfg = preset("linear_50").unwrap();
        cfg.optimizer = Optimizer::Momentum { lr: 0.01, momentum: 0.9 };
        let mut m = SavedModel::fresh(&cfg, 3).unwrap();
        m.optim.moments[0].iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
        let back = from_safetensors(&to_safetensors(&m)).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn oversized_short_and_foreign_bytes_are_refused() {
        let big = vec![0u8; MAX_FILE_BYTES + 1];
        assert!(matches!(err(&big), LoadError::TooLarge { .. }));
        assert!(matches!(err(b""), LoadError::NotSafetensors(_)));
        assert!(matches!(err(b"\x01\x02\x03"), LoadError::NotSafetensors(_)));
        // A PNG, a JSON file, a gzip file.
        assert!(matches!(err(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), LoadError::NotSafetensors(_)));
        assert!(matches!(err(br#"{"dims": [784, 500, 784]}"#), LoadError::NotSafetensors(_)));
        assert!(matches!(err(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03abc"), LoadError::NotSafetensors(_)));
        let msg = err(b"hello world, this is text").to_string();
        assert!(msg.contains("not a safetensors file"), "{msg}");
    }

    #[test]
    fn truncated_files_are_refused() {
        let bytes = to_safetensors(&sample("linear_50"));
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        // Inside the header, and inside the tensor data, and one byte short.
        for cut in [9, 8 + n / 2, 8 + n + 10, bytes.len() / 2, bytes.len() - 1] {
            let e = err(&bytes[..cut]);
            assert!(matches!(e, LoadError::Truncated(_)), "cut at {cut}: {e}");
            assert!(e.to_string().contains("truncated"), "{e}");
        }
        // Bytes appended are refused too.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 4]);
        assert!(matches!(err(&longer), LoadError::Truncated(_)));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let bytes = to_safetensors(&sample("linear_50"));
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        // Break the JSON: replace a closing brace with a space.
        let mut bad = bytes.clone();
        let close = 8 + bytes[8..8 + n].iter().rposition(|&b| b == b'}').unwrap();
        bad[close] = b' ';
        assert!(matches!(err(&bad), LoadError::HeaderMalformed(_)), "{}", err(&bad));
        // Invalid UTF-8 inside the header.
        let mut bad = bytes.clone();
        bad[8 + 3] = 0xff;
        assert!(matches!(err(&bad), LoadError::HeaderMalformed(_)));
        // Offsets that point outside the data.
        let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
        let first_end = header.find("\"data_offsets\":[0,").unwrap();
        let mut h = header.to_string();
        h.replace_range(first_end..first_end + 18, "\"data_offsets\":[1,");
        let mut bad = bytes[..8].to_vec();
        bad.extend_from_slice(h.as_bytes());
        bad.extend_from_slice(&bytes[8 + n..]);
        assert!(matches!(err(&bad), LoadError::HeaderMalformed(_)), "{}", err(&bad));
    }

    #[test]
    fn foreign_and_future_metadata_are_refused() {
        let bytes = to_safetensors(&sample("linear_50"));
        let e = err(&rebuild(&bytes, |_, m| {
            m.remove("format");
        }));
        assert!(matches!(e, LoadError::NotAnAeplayModel(_)), "{e}");
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert("format".into(), "pt".into());
        }));
        assert!(matches!(e, LoadError::NotAnAeplayModel(_)), "{e}");
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert("format_version".into(), "2".into());
        }));
        assert!(matches!(e, LoadError::UnsupportedVersion(_)), "{e}");
        assert!(e.to_string().contains("update aeplay"));
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert("format_version".into(), "one".into());
        }));
        assert!(matches!(e, LoadError::BadMetadata { key: "format_version", .. }), "{e}");
        // A weights-only file (no metadata at all).
        let e = err(&rebuild(&bytes, |_, m| m.clear()));
        assert!(matches!(e, LoadError::NotAnAeplayModel(_)), "{e}");
    }

    #[test]
    fn missing_unparseable_or_invalid_config_is_refused() {
        let bytes = to_safetensors(&sample("linear_50"));
        let e = err(&rebuild(&bytes, |_, m| {
            m.remove("config");
        }));
        assert_eq!(e, LoadError::MissingMetadata("config"));
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert("config".into(), "{not json".into());
        }));
        assert!(matches!(e, LoadError::BadConfig(_)), "{e}");
        let e = err(&rebuild(&bytes, |_, m| {
            let c = m["config"].replace("\"loss\":\"half_sse\"", "\"loss\":\"hinge\"");
            m.insert("config".into(), c);
        }));
        assert!(matches!(e, LoadError::BadConfig(_)), "{e}");
        assert!(e.to_string().contains("hinge"), "{e}");
        let e = err(&rebuild(&bytes, |_, m| {
            let c = m["config"].replace("\"batch\":50", "\"batch\":0");
            m.insert("config".into(), c);
        }));
        assert!(matches!(e, LoadError::InvalidConfig(_)), "{e}");
        assert!(e.to_string().contains("batch size 0"), "{e}");
        for key in ["step", "epoch", "seed", "optim_t"] {
            let e = err(&rebuild(&bytes, |_, m| {
                m.insert(key.into(), "-3".into());
            }));
            assert!(matches!(e, LoadError::BadMetadata { key: k, .. } if k == key), "{e}");
            let e = err(&rebuild(&bytes, |_, m| {
                m.remove(key);
            }));
            assert_eq!(e, LoadError::MissingMetadata(match key {
                "step" => "step",
                "epoch" => "epoch",
                "seed" => "seed",
                _ => "optim_t",
            }));
        }
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert("epoch_pos".into(), "60000".into());
        }));
        assert!(matches!(e, LoadError::BadMetadata { key: "epoch_pos", .. }), "{e}");
    }

    #[test]
    fn missing_extra_misshapen_mistyped_and_non_finite_tensors_are_refused() {
        let bytes = to_safetensors(&sample("stacked_elu"));
        let e = err(&rebuild(&bytes, |t, _| t.retain(|(n, ..)| n != "layers.2.bias")));
        assert_eq!(e, LoadError::MissingTensor("layers.2.bias".into()));
        let e = err(&rebuild(&bytes, |t, _| t.retain(|(n, ..)| n != "optim.exp_avg_sq.layers.0.weight")));
        assert_eq!(e, LoadError::MissingTensor("optim.exp_avg_sq.layers.0.weight".into()));
        let e = err(&rebuild(&bytes, |t, _| t.push(("layers.4.bias".into(), Dtype::F32, vec![2], vec![0; 8]))));
        assert_eq!(e, LoadError::ExtraTensor("layers.4.bias".into()));
        // The weight stored in our [in, out] orientation instead of PyTorch's [out, in].
        let e = err(&rebuild(&bytes, |t, _| {
            let w = t.iter_mut().find(|(n, ..)| n == "layers.0.weight").unwrap();
            w.2 = vec![784, 300];
        }));
        assert_eq!(e, LoadError::WrongShape { name: "layers.0.weight".into(), expected: vec![300, 784], found: vec![784, 300] });
        // F64 (as numpy saves by default).
        let e = err(&rebuild(&bytes, |t, _| {
            let b = t.iter_mut().find(|(n, ..)| n == "layers.1.bias").unwrap();
            b.1 = Dtype::F64;
            b.2 = vec![75];
        }));
        assert!(matches!(&e, LoadError::WrongDtype { name, found } if name == "layers.1.bias" && found == "F64"), "{e}");
        assert!(e.to_string().contains("F32"));
        // A NaN in a weight and an infinity in a moment.
        for (name, value) in [("layers.3.weight", f32::NAN), ("optim.exp_avg.layers.1.bias", f32::INFINITY)] {
            let e = err(&rebuild(&bytes, |t, _| {
                let w = t.iter_mut().find(|(n, ..)| n == name).unwrap();
                w.3[40..44].copy_from_slice(&value.to_le_bytes());
            }));
            assert!(matches!(&e, LoadError::NonFinite { name: n, index: 10, .. } if n == name), "{e}");
        }
        // A file for another optimizer: Adam moments under an SGD description.
        let e = err(&rebuild(&bytes, |_, m| {
            let c = m["config"].replace(r#""optimizer":{"kind":"adam","lr":0.01,"beta1":0.9,"beta2":0.999,"eps":1e-8}"#, r#""optimizer":{"kind":"sgd","lr":0.01}"#);
            assert_ne!(c, m["config"], "pattern not found in {}", m["config"]);
            m.insert("config".into(), c);
        }));
        assert!(matches!(&e, LoadError::ExtraTensor(n) if n.starts_with("optim.exp_avg")), "{e}");
    }

    #[test]
    fn crafted_progress_numbers_are_refused_or_harmless() {
        let bytes = to_safetensors(&sample("linear_50"));
        // More completed epochs than steps: impossible, refused (it used to make resuming
        // replay every epoch's shuffle: 10⁵ took minutes, 10¹² years).
        for epoch in ["100000", "1000000000000", &u64::MAX.to_string()] {
            let e = err(&rebuild(&bytes, |_, m| {
                m.insert("epoch".into(), epoch.to_string());
            }));
            assert!(matches!(e, LoadError::BadMetadata { key: "epoch", .. }), "{e}");
            assert!(e.to_string().contains("more completed epochs than the 123 steps taken"), "{e}");
        }
        // Step counts past 2^53: an Adam count of 2^64−1 used to wrap to 0 at the next step.
        for key in ["step", "optim_t"] {
            let e = err(&rebuild(&bytes, |_, m| {
                m.insert(key.into(), u64::MAX.to_string());
            }));
            assert!(matches!(e, LoadError::BadMetadata { key: k, .. } if k == key), "{e}");
            assert!(e.to_string().contains("more steps than any run takes"), "{e}");
        }
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert("train_rows".into(), "4000000000".into());
        }));
        assert!(matches!(e, LoadError::BadMetadata { key: "train_rows", .. }), "{e}");
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert("train_rows".into(), "0".into());
            m.insert("epoch_pos".into(), "18446744073709551615".into());
        }));
        assert!(matches!(e, LoadError::BadMetadata { key: "epoch_pos", .. }), "{e}");
        // A classifier with fewer outputs than MNIST has digits: it loads (the file is
        // consistent), but training it on the digits is refused with the reason (label 8
        // used to panic in the one-hot gather).
        let mut cls = SavedModel::fresh(&ModelConfig {
            dims: vec![784, 20, 5],
            activations: vec![crate::core::Activation::Sigmoid, crate::core::Activation::Identity],
            loss: crate::core::LossKind::SoftmaxCe,
            ..ModelConfig::default()
        }, 1)
        .unwrap();
        cls.step = 3;
        let cls = from_safetensors(&to_safetensors(&cls)).unwrap();
        let e = cls.resume(crate::backend::cpu::CpuBackend::with(crate::backend::cpu::Isa::Scalar, 1), &tiny_data()).err().unwrap();
        assert_eq!(e, "the data have label 9 but the classifier has only 5 outputs");
    }

    #[test]
    fn a_file_of_eighty_thousand_tiny_layers_is_refused_at_once() {
        // It loaded in 48 s (a quadratic check of its 160,000 tensors); now the layer
        // count in its description refuses it before any tensor is looked at.
        let layers = 80_000;
        let config = ModelConfig {
            dims: vec![2; layers + 1],
            activations: vec![crate::core::Activation::Identity; layers],
            loss: crate::core::LossKind::HalfSse,
            ..ModelConfig::default()
        };
        let total = ParamLayout::new(&config).total;
        let m = SavedModel {
            config,
            params: vec![0.5; total],
            optim: OptimState::default(),
            step: 1,
            epoch: 0,
            epoch_pos: 0,
            train_rows: 0,
            seed: 1,
            history: LossHistory::default(),
        };
        let bytes = to_safetensors(&m);
        assert!(bytes.len() > 10_000_000, "{} bytes", bytes.len());
        let e = err(&bytes);
        assert!(matches!(e, LoadError::InvalidConfig(_)), "{e}");
        assert!(e.to_string().contains("80000 layers, more than the 64"), "{e}");
    }

    #[test]
    fn a_crafted_file_resumes_without_a_hang_or_a_panic() {
        // An Adam model at the largest step count a file may give (a larger one wrapped to
        // 0, then Adam asserted) and epoch 10¹² (replayed 10¹² shuffles): loads, resumes
        // and trains on.
        let mut m = sample("relu_ae_adam");
        m.optim.t = MAX_STEPS;
        m.step = 2_000_000_000_000;
        m.epoch = if cfg!(target_pointer_width = "64") { 1_000_000_000_000u64 as usize } else { u32::MAX as usize };
        let m = from_safetensors(&to_safetensors(&m)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use crate::backend::cpu::{CpuBackend, Isa};
            let mut t = m.resume(CpuBackend::with(Isa::Scalar, 1), &tiny_data()).unwrap();
            for _ in 0..3 {
                t.step();
            }
            assert!(t.take_train_loss().unwrap().0.is_finite());
            tx.send((t.step, t.model.opt_steps)).unwrap();
        });
        let (step, t) = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("resuming hangs or panics");
        assert_eq!((step, t), (2_000_000_000_003, MAX_STEPS + 3));
    }

    /// A tiny synthetic data set (100 training rows) so epochs are a few steps long.
    fn tiny_data() -> Mnist {
        Mnist::pattern(100, 20)
    }

    #[test]
    fn a_resumed_run_continues_exactly_like_an_uninterrupted_one() {
        use crate::backend::cpu::CpuBackend;
        let data = tiny_data();
        for name in ["dae_vincent", "stacked_elu"] {
            let mut cfg = preset(name).unwrap();
            cfg.batch = 16; // 7 steps per epoch (the last one partial)
            let mut straight = Trainer::new(CpuBackend::with(crate::backend::cpu::Isa::Scalar, 1), &cfg, &data, 5).unwrap();
            for _ in 0..20 {
                straight.step();
            }
            let mut first = Trainer::new(CpuBackend::with(crate::backend::cpu::Isa::Scalar, 1), &cfg, &data, 5).unwrap();
            for _ in 0..9 {
                first.step();
            }
            let saved = from_safetensors(&to_safetensors(&SavedModel::capture(&mut first))).unwrap();
            assert_eq!((saved.step, saved.epoch, saved.epoch_pos, saved.train_rows), (9, 1, 32, 100));
            let mut resumed = saved.resume(CpuBackend::with(crate::backend::cpu::Isa::Scalar, 1), &data).unwrap();
            for _ in 0..11 {
                resumed.step();
            }
            assert_eq!((resumed.step, resumed.epoch, resumed.pos), (straight.step, straight.epoch, straight.pos));
            let (a, b) = (SavedModel::capture(&mut straight), SavedModel::capture(&mut resumed));
            assert!(a == b, "{name}: the resumed run differs from the uninterrupted one");
        }
    }

    #[test]
    fn config_differences_name_each_field() {
        let a = preset("dae_vincent").unwrap();
        let mut b = a.clone();
        b.batch = 32;
        b.name = "other".into();
        assert_eq!(config_differences(&a, &b), vec!["batch: 16 in the file, 32 wanted".to_string()]);
        assert!(config_differences(&a, &a).is_empty());
        let m = SavedModel::fresh(&a, 1).unwrap();
        let e = m.check_config(&preset("tied_ae").unwrap(), "preset tied_ae").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("differs from preset tied_ae") && s.contains("tied: false in the file, true wanted"), "{s}");
    }
}
