//! Files in and out: saved models ([`saved`]: one `safetensors` file with the weights, the
//! optimizer state and the model description, readable by PyTorch and NumPy as it is) and
//! the PyTorch export ([`export`]: that file plus a self-contained training script).
//!
//! Everything here works on bytes, not paths, so the browser (download / file picker) and
//! the CLI share it; `data::file::read_file_capped` is the one native way in from a path.

pub mod export;
pub mod saved;

pub use saved::{LoadError, SavedModel};
