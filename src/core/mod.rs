//! Plain-Rust core: configuration, parameter layout, scalar reference ops and model.
//! Nothing here uses a GPU or SIMD; every backend is checked against this module.

pub mod config;
pub mod layout;
pub mod ops;
pub mod pca;
pub mod reference;
pub mod rng;

pub use config::{Activation, Init, LossKind, ModelConfig, NoiseKind, Optimizer};
