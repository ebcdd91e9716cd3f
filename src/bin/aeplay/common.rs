//! What several commands share: a preset's configuration with the flags' overrides, the
//! MNIST directory, where backends come from, and the output (one JSON object per line
//! with `--json`, else `key=value` text).

use std::path::PathBuf;

use aeplay::backend::cpu::CpuBackend;
use aeplay::backend::gpu::{GpuBackend, GpuContext};
use aeplay::backend::Backend;
use aeplay::core::config::{preset, preset_list};
use aeplay::core::ModelConfig;
use aeplay::data::Mnist;
use aeplay::train::pipeline::recipe_list;

use crate::cli::{BackendKind, CpuOpts};

/// The preset `name` with `--batch` and `--lr` applied, validated.
pub fn config(name: &str, batch: Option<usize>, lr: Option<f32>) -> Result<ModelConfig, String> {
    let mut cfg = preset(name).ok_or_else(|| format!("unknown preset '{name}'; available: {}; recipes: {}", preset_list(), recipe_list()))?;
    if let Some(b) = batch {
        cfg.batch = b;
    }
    if let Some(lr) = lr {
        cfg.optimizer.set_lr(lr);
    }
    cfg.validate()?;
    Ok(cfg)
}

/// MNIST from `--data`, else `$MNIST_DIR`, else `www/data`.
pub fn load(data: Option<PathBuf>) -> Result<Mnist, String> {
    let dir = data.or_else(|| std::env::var_os("MNIST_DIR").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("www/data"));
    if !dir.is_dir() {
        return Err(format!("data directory {} does not exist (run `make data`, or pass --data DIR)", dir.display()));
    }
    Mnist::load_dir(&dir).map_err(|e| e.to_string())
}

/// Where backends come from: the GPU device is acquired once and shared.
pub enum Source {
    Cpu(CpuOpts),
    Gpu(GpuContext),
}

impl Source {
    pub fn new(kind: BackendKind, cpu: CpuOpts) -> Result<Self, String> {
        Ok(match kind {
            BackendKind::Cpu => Source::Cpu(cpu),
            BackendKind::Gpu => Source::Gpu(pollster::block_on(GpuContext::new())?),
        })
    }

    pub fn make(&self) -> Box<dyn Backend> {
        match self {
            Source::Cpu(cpu) => {
                let d = CpuBackend::new();
                Box::new(CpuBackend::with(cpu.isa.unwrap_or(d.isa()), cpu.threads.unwrap_or(d.threads())))
            }
            Source::Gpu(ctx) => Box::new(GpuBackend::new(ctx.clone())),
        }
    }

    /// Adapter name and type for GPU runs, "cpu" otherwise.
    pub fn adapter(&self) -> String {
        match self {
            Source::Cpu(_) => "cpu".into(),
            Source::Gpu(ctx) => ctx.adapter_label(),
        }
    }
}

/// Prints one result line: the object as JSON, or its fields as `key=value` (floats to 4
/// decimals).
pub fn emit(json: bool, value: serde_json::Value) {
    if json {
        println!("{value}");
    } else {
        let obj = value.as_object().unwrap();
        let parts: Vec<String> = obj
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::Number(n) if n.is_f64() => format!("{k}={:.4}", n.as_f64().unwrap()),
                serde_json::Value::String(s) => format!("{k}={s}"),
                v => format!("{k}={v}"),
            })
            .collect();
        println!("{}", parts.join("  "));
    }
}
