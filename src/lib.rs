//! Autoencoder Playground: autoencoders on MNIST, trained in the browser (WebGPU or the
//! SIMD CPU path) and natively through the `aeplay` CLI.
//!
//! Layers of the crate, from the bottom up:
//! - [`core`]: plain Rust with no GPU and no SIMD: model configuration, parameter layout,
//!   the scalar reference of every op and of the whole model (the oracle backends are tested
//!   against), the counter-based noise generator.
//! - [`data`]: IDX parsing and validation, the dataset kept as `u8`, drawing preprocessing.
//! - [`backend`]: the [`backend::Backend`] trait (model-level ops on device buffers) and its
//!   CPU implementation.
//! - [`model`] and [`train`]: the autoencoder and its training loop, written once against
//!   the trait.
//! - [`io`]: saved models (safetensors with the model description as metadata) and the
//!   PyTorch export.
//! - [`app`]: the page's engine as a library: commands in, frames out (the controller and
//!   its sessions), tested natively.
//! - `ui` (wasm only): the Leptos page; `worker` (wasm only): the Web Worker that runs the
//!   controller.

pub mod app;
pub mod backend;
pub mod core;
pub mod data;
/// Fuzz entry points (the `fuzz/` targets and the corpus replay test).
#[cfg(not(target_arch = "wasm32"))]
pub mod fuzzing;
pub mod io;
pub mod model;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod worker;
