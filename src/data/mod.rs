//! Data: IDX parsing and validation, the MNIST dataset kept as `u8`, and the
//! preprocessing that turns a drawing into an MNIST-like input.

pub mod draw;
pub mod idx;
pub mod mnist;
pub mod synthetic;

pub use idx::IdxError;
pub use mnist::{DataError, Dataset, Mnist, FILES};
