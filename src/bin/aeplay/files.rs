//! Model files on disk: reading a saved model with the size cap, writing a file whole or not
//! at all, checking before training that the file asked for can be written, and where a
//! model kept from a diverged run goes.

use std::path::{Path, PathBuf};

use aeplay::data::file::{read_file_capped, ReadError};
use aeplay::io::saved::{from_safetensors, LoadError, SavedModel, MAX_FILE_BYTES};

/// Reads and checks a saved model; the message names the file. A device, FIFO or
/// directory is refused before it is opened, a file over the size cap before it is read.
pub fn read_saved(path: &Path) -> Result<SavedModel, String> {
    let bytes = read_file_capped(path, MAX_FILE_BYTES as u64).map_err(|e| match e {
        ReadError::TooLarge { bytes, .. } => {
            format!("{}: {}", path.display(), LoadError::TooLarge { bytes: bytes.min(usize::MAX as u64) as usize, limit: MAX_FILE_BYTES })
        }
        e => format!("cannot read {}: {e}", path.display()),
    })?;
    from_safetensors(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a file whole or not at all (a temporary file renamed over the target).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = temp_path(path)?;
    std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// Checks, before any training, that `path` can be written as [`write_file`] will: it
/// is absent or a regular file, and a file can be created beside it.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let cannot = |why: String| format!("cannot save to {}: {why}", path.display());
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            return Err(cannot("it is a directory: give a file name".into()));
        }
        if !meta.is_file() {
            return Err(cannot("it is not a regular file: give a file name".into()));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(cannot(format!("directory {} does not exist", dir.display())));
        }
    }
    let tmp = temp_path(path)?;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).map_err(|e| cannot(e.to_string()))?;
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

/// The temporary file [`write_file`] writes before renaming it over `path`.
fn temp_path(path: &Path) -> Result<PathBuf, String> {
    let name = path.file_name().ok_or_else(|| format!("{} is not a file name", path.display()))?;
    Ok(path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id())))
}

/// Where a model kept from a diverged run is saved: beside `path`, named so
/// (`m.safetensors` → `m.before-divergence.safetensors`), never over the file asked for.
pub fn before_divergence_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}.before-divergence{ext}"))
}
