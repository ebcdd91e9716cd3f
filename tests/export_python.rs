//! The PyTorch export checked from Python: for every preset (and a momentum model) a few
//! training steps, `aeplay export`, then `tests/python/check_export.py` (NumPy +
//! safetensors from PyPI, in `.venv`, installed by `make deps-test`) loads the file, checks
//! tensor names, shapes and values against our buffers, runs a NumPy forward pass against
//! our reconstructions, and compiles `train_torch.py`; `tests/python/check_torch_script.py`
//! checks the script's single-process and torchrun paths on stand-ins for PyTorch.
//!
//! Without `.venv` the test fails with instructions; AEPLAY_SKIP_PYTHON=1 skips it on
//! purpose.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aeplay::backend::cpu::CpuBackend;
use aeplay::core::config::{preset, Optimizer, PRESET_NAMES};
use aeplay::core::layout::ParamLayout;
use aeplay::io::saved::{moment_names, to_safetensors, SavedModel};
use aeplay::train::Trainer;

fn venv_python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    if std::env::var("AEPLAY_SKIP_PYTHON").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED: AEPLAY_SKIP_PYTHON=1: the Python check of the export did not run");
        return None;
    }
    panic!(
        "{} is missing: run `make deps-test` (creates .venv with numpy and safetensors from tests/python/requirements.txt), \
         or set AEPLAY_SKIP_PYTHON=1 to skip this test on purpose",
        python.display()
    );
}

fn f32_file(path: &Path, values: &[f32]) {
    std::fs::write(path, values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
}

#[test]
fn exported_models_check_out_in_python() {
    let Some(python) = venv_python() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = common::mnist();
    let tmp = std::env::temp_dir().join(format!("aeplay-export-python-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);

    let mut configs: Vec<_> = PRESET_NAMES.iter().map(|n| preset(n).unwrap()).collect();
    let mut momentum = preset("linear_50").unwrap();
    momentum.name = "linear_50_momentum".into();
    momentum.optimizer = Optimizer::Momentum { lr: 0.01, momentum: 0.9 };
    configs.push(momentum);

    for cfg in configs {
        let dir = tmp.join(&cfg.name);
        let (dump, export) = (dir.join("dump"), dir.join("export"));
        std::fs::create_dir_all(&dump).unwrap();
        let mut t = Trainer::new(CpuBackend::new(), &cfg, &data, 3).unwrap();
        for _ in 0..3 {
            t.step();
        }
        let saved = SavedModel::capture(&mut t);
        let file = dir.join("saved.safetensors");
        std::fs::write(&file, to_safetensors(&saved)).unwrap();

        // Our reconstructions of 8 test images (no noise).
        let n = 8;
        let images: Vec<f32> = (0..n).flat_map(|i| data.test.image_f32(i * 97)).collect();
        let seed = t.noise_seed();
        let (_, recon) = t.model.denoise_host(&mut t.be, &images, seed, 0, false);
        f32_file(&dump.join("images.f32"), &images);
        f32_file(&dump.join("recon.f32"), &recon);
        f32_file(&dump.join("params.f32"), &saved.params);
        for (k, m) in saved.optim.moments.iter().enumerate() {
            f32_file(&dump.join(format!("moment{k}.f32")), m);
        }
        let layout = ParamLayout::new(&cfg);
        let dense: Vec<_> = layout
            .dense
            .iter()
            .map(|s| serde_json::json!({"fan_in": s.fan_in, "fan_out": s.fan_out, "w": s.w, "b": s.b, "transposed": s.transposed}))
            .collect();
        let info = serde_json::json!({
            // As a string: a serde_json::Value would widen the f32 fields to f64 digits.
            "config": serde_json::to_string(&cfg).unwrap(), "dense": dense, "total": layout.total, "step": saved.step, "optim_t": saved.optim.t,
            "moments": moment_names(&cfg.optimizer), "images": n,
        });
        std::fs::write(dump.join("dump.json"), info.to_string()).unwrap();

        let out = Command::new(env!("CARGO_BIN_EXE_aeplay"))
            .args(["export", "--load", file.to_str().unwrap(), "--out", export.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: aeplay export: {}", cfg.name, String::from_utf8_lossy(&out.stderr));

        let out = Command::new(&python).arg(root.join("tests/python/check_export.py")).arg(&export).arg(&dump).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        eprint!("{stdout}{stderr}");
        assert!(out.status.success(), "{}: check_export.py failed: {stdout}{stderr}", cfg.name);
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `train_torch.py` compiles, and its handling of processes checks out without PyTorch
/// (`tests/python/check_torch_script.py`: one process when torchrun did not start it, with
/// the single-process operations as before; under torchrun the process group, the
/// DistributedDataParallel wrapper, the batch shares, the loss scaling and the global
/// sparsity statistics, on stand-ins for torch.distributed). `make test-torch` runs it under
/// torchrun for real.
#[test]
fn the_torch_script_compiles_and_its_process_handling_checks_out() {
    let Some(python) = venv_python() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(&python)
        .arg(root.join("tests/python/check_torch_script.py"))
        .arg(root.join("export/train_torch.py"))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprint!("{stdout}{stderr}");
    assert!(out.status.success(), "check_torch_script.py failed: {stdout}{stderr}");
    assert!(stdout.contains("check_torch_script: ok"), "{stdout}");
}
