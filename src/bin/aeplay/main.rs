//! `aeplay`: the native command-line tool. Trains presets (`train`, saving and resuming
//! models with `--save` / `--load`), exports a saved model for PyTorch (`export`),
//! measures training throughput (`bench`) and fits the PCA baseline of the linear presets
//! (`pca`) with the same library code the web app runs.
//!
//! One file per command (`train.rs`, `bench.rs`, `kernels.rs`, `pca.rs`, `export.rs`), the
//! arguments in `cli.rs`, and what several commands share in `common.rs` (output, data,
//! backends, presets) and `files.rs` (reading and writing model files).

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod common;
#[cfg(not(target_arch = "wasm32"))]
mod export;
#[cfg(not(target_arch = "wasm32"))]
mod files;
#[cfg(not(target_arch = "wasm32"))]
mod kernels;
#[cfg(not(target_arch = "wasm32"))]
mod pca;
#[cfg(not(target_arch = "wasm32"))]
mod train;

/// Exit codes: 0 done (or help shown), 1 the command failed (`error: …` on stderr), 2 the
/// arguments were refused (clap's first line on stderr).
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let cmd = match cli::parse() {
        Ok(cmd) => cmd,
        Err(code) => std::process::exit(code),
    };
    let result = match cmd {
        cli::Cmd::Train(a) => train::run(a),
        cli::Cmd::Export(a) => export::run(a),
        cli::Cmd::Bench(a) => bench::run(a),
        cli::Cmd::Pca(a) => pca::run(a),
        cli::Cmd::Kernels(a) => kernels::run(a),
    };
    if let Err(msg) = result {
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}
