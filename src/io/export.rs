//! The way out to PyTorch: a saved model's file plus `train_torch.py`, a self-contained
//! script (PyTorch, NumPy and `safetensors`) that rebuilds the same model from the file's
//! description, loads the weights and optimizer state and continues training on MNIST —
//! on a laptop, a GPU, or a cluster with PyTorch's own distributed training.
//! The script is `export/train_torch.py` in the repository, embedded here as it is.

use super::saved::{to_safetensors, SavedModel};

/// The PyTorch training script written beside the weights.
pub const TORCH_SCRIPT: &str = include_str!("../../export/train_torch.py");

/// File name of the weights in an export.
pub const MODEL_FILE: &str = "model.safetensors";
/// File name of the script in an export.
pub const SCRIPT_FILE: &str = "train_torch.py";

/// The files of an export, as (name, contents): the model, then the script.
pub fn export_files(m: &SavedModel) -> Vec<(&'static str, Vec<u8>)> {
    vec![(MODEL_FILE, to_safetensors(m)), (SCRIPT_FILE, TORCH_SCRIPT.as_bytes().to_vec())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_reads_our_tensor_names_and_metadata() {
        // The names the script relies on, kept in step with `saved`.
        for needle in ["optim.", "exp_avg_sq", "momentum_buffer", "format_version", "\"config\"", "optim_t", "epoch_pos", "aeplay-model"] {
            assert!(TORCH_SCRIPT.contains(needle), "train_torch.py does not mention {needle}");
        }
        let files = export_files(&SavedModel::fresh(&crate::core::config::preset("tied_ae").unwrap(), 1).unwrap());
        assert_eq!(files.iter().map(|f| f.0).collect::<Vec<_>>(), vec![MODEL_FILE, SCRIPT_FILE]);
    }
}
