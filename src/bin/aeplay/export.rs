//! `aeplay export`: a saved model (or a preset's untrained model) and the PyTorch script
//! that continues training it, written into a directory.

use aeplay::io::export::{export_files, SCRIPT_FILE};
use aeplay::io::saved::SavedModel;
use aeplay::train::pipeline::recipe;
use serde_json::json;

use crate::cli::ExportArgs;
use crate::common::{config, emit};
use crate::files::{read_saved, write_file};

pub fn run(a: ExportArgs) -> Result<(), String> {
    let saved = match (a.load, a.preset) {
        (Some(_), _) if a.seed.is_some() => return Err("--seed applies to --preset: a saved model keeps its seed".into()),
        (Some(path), _) => read_saved(&path)?,
        (None, Some(name)) => {
            if recipe(&name).is_some() {
                return Err(format!("{name} is a recipe of several models: export a preset ({})", aeplay::core::config::preset_list()));
            }
            SavedModel::fresh(&config(&name, None, None)?, a.seed.unwrap_or(1))?
        }
        (None, None) => return Err("give --load FILE (a saved model) or --preset NAME (its untrained model)".into()),
    };
    let out = a.out;
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut written = Vec::new();
    for (name, bytes) in export_files(&saved) {
        let path = out.join(name);
        write_file(&path, &bytes)?;
        written.push(path.display().to_string());
    }
    emit(
        a.json,
        json!({
            "event": "export", "preset": saved.config.name, "steps": saved.step, "files": written,
            "next": format!("pip install torch numpy safetensors && python {} --data DIR --epochs 1", out.join(SCRIPT_FILE).display()),
        }),
    );
    Ok(())
}
