//! A saved model as bytes: [`to_safetensors`] writes the layout the module docs describe;
//! [`from_safetensors`] reads it back and refuses, with the reason, a file that is too
//! large, not safetensors, truncated, foreign, from a newer version, with a bad
//! description, bad progress numbers, or tensors missing, extra, misshapen or non-finite.

use std::collections::BTreeMap;

use safetensors::{Dtype, SafeTensorError, SafeTensors};

use super::tensors::{expected_tensors, moment_names, param_specs};
use super::{LoadError, LossHistory, SavedModel, FORMAT, FORMAT_VERSION, MAX_FILE_BYTES};
use crate::core::layout::ParamLayout;
use crate::core::ModelConfig;
use crate::data::idx::MAX_ITEMS;
use crate::model::OptimState;

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
    let meta: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
    check_format(&meta)?;
    let config_json = get(&meta, "config").ok_or(LoadError::MissingMetadata("config"))?;
    let config: ModelConfig = serde_json::from_str(config_json).map_err(|e| LoadError::BadConfig(e.to_string()))?;
    config.validate().map_err(LoadError::InvalidConfig)?;
    let p = read_progress(&meta)?;
    check_tensor_list(&st, &config)?;
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
    let history = match get(&meta, "history") {
        None => LossHistory::default(),
        Some(v) => serde_json::from_str(v).map_err(|e| LoadError::BadMetadata {
            key: "history",
            value: v.chars().take(60).collect(),
            reason: format!("expected {{\"train\": [[step, loss], …], \"test\": […]}} ({e})"),
        })?,
    };
    let params = read_flat("")?;
    let moments = moment_names(&config.optimizer).iter().map(|m| read_flat(&format!("optim.{m}."))).collect::<Result<Vec<_>, _>>()?;
    let Progress { step, epoch, epoch_pos, train_rows, seed, t } = p;
    Ok(SavedModel { config, params, optim: OptimState { moments, t }, step, epoch, epoch_pos, train_rows, seed, history })
}

/// A metadata value.
fn get<'a>(meta: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    meta.get(key).map(String::as_str)
}

/// Ours (`format`), and a version this code reads (`format_version`).
fn check_format(meta: &BTreeMap<String, String>) -> Result<(), LoadError> {
    match get(meta, "format") {
        Some(FORMAT) => {}
        Some(other) => return Err(LoadError::NotAnAeplayModel(format!("its 'format' metadata is '{other}', not '{FORMAT}'"))),
        None => {
            return Err(LoadError::NotAnAeplayModel(
                "its metadata has no 'format' entry; plain weight files cannot be loaded without the model description".into(),
            ))
        }
    }
    let version = get(meta, "format_version").ok_or(LoadError::MissingMetadata("format_version"))?;
    match version.parse::<u32>() {
        Ok(v) if (1..=FORMAT_VERSION).contains(&v) => Ok(()),
        Ok(v) if v > FORMAT_VERSION => Err(LoadError::UnsupportedVersion(v.to_string())),
        _ => Err(LoadError::BadMetadata { key: "format_version", value: version.into(), reason: format!("expected a version number 1..={FORMAT_VERSION}") }),
    }
}

/// The training progress a file records.
struct Progress {
    step: u64,
    epoch: usize,
    epoch_pos: usize,
    train_rows: usize,
    seed: u64,
    /// Optimizer steps.
    t: u64,
}

/// The progress numbers, each a whole number within what a run can reach and consistent
/// with the others.
fn read_progress(meta: &BTreeMap<String, String>) -> Result<Progress, LoadError> {
    let number = |key: &'static str| -> Result<u64, LoadError> {
        let v = get(meta, key).ok_or(LoadError::MissingMetadata(key))?;
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
    if train_rows > MAX_ITEMS {
        return Err(LoadError::BadMetadata {
            key: "train_rows",
            value: train_rows.to_string(),
            reason: format!("more rows than any training set has (at most {MAX_ITEMS})"),
        });
    }
    // train_rows 0: written without knowing the data set; an epoch is at most MAX_ITEMS rows.
    let epoch_rows = if train_rows == 0 { MAX_ITEMS } else { train_rows };
    if epoch_pos >= epoch_rows {
        return Err(LoadError::BadMetadata {
            key: "epoch_pos",
            value: epoch_pos.to_string(),
            reason: format!("past the end of an epoch of {epoch_rows} rows"),
        });
    }
    Ok(Progress { step, epoch, epoch_pos, train_rows, seed, t })
}

/// Every tensor the description needs, present with the right dtype and shape, and
/// nothing else.
fn check_tensor_list(st: &SafeTensors, config: &ModelConfig) -> Result<(), LoadError> {
    let expected = expected_tensors(config);
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
    Ok(())
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
