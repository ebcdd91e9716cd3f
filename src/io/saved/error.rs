//! Why a saved model was refused: one [`LoadError`] per problem, whose message says what is
//! wrong and what to do.

use std::fmt;

use super::FORMAT_VERSION;

/// Why a file was refused. The message says what is wrong and what to do.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadError {
    TooLarge { bytes: usize, limit: usize },
    NotSafetensors(String),
    Truncated(String),
    HeaderMalformed(String),
    NotAnAeplayModel(String),
    UnsupportedVersion(String),
    MissingMetadata(&'static str),
    BadMetadata { key: &'static str, value: String, reason: String },
    BadConfig(String),
    InvalidConfig(String),
    MissingTensor(String),
    ExtraTensor(String),
    WrongShape { name: String, expected: Vec<usize>, found: Vec<usize> },
    WrongDtype { name: String, found: String },
    NonFinite { name: String, index: usize, value: f32 },
    /// The file's model differs from the one asked for (e.g. `--preset` with `--load`).
    Mismatch { wanted: String, differences: Vec<String> },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LoadError::*;
        let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
        match self {
            TooLarge { bytes, limit } => write!(
                f,
                "the file is {:.1} MB, more than the {:.0} MB a saved model may have: pick the .safetensors file saved by aeplay",
                mb(*bytes),
                mb(*limit)
            ),
            NotSafetensors(why) => write!(f, "not a safetensors file ({why}): pick a .safetensors file saved by aeplay"),
            Truncated(why) => write!(f, "the file is truncated or damaged ({why}): save or download it again"),
            HeaderMalformed(why) => write!(f, "the safetensors header is malformed ({why}): the file is damaged, save or download it again"),
            NotAnAeplayModel(why) => write!(f, "a safetensors file, but not a model saved by aeplay ({why})"),
            UnsupportedVersion(v) => write!(f, "the file has format version {v}, newer than this aeplay reads ({FORMAT_VERSION}): update aeplay"),
            MissingMetadata(key) => write!(f, "the file's metadata has no '{key}' entry: the file is incomplete, save it again with aeplay"),
            BadMetadata { key, value, reason } => write!(f, "the file's metadata '{key}' is '{value}': {reason}"),
            BadConfig(why) => write!(f, "the model description in the file cannot be read ({why}): it was written by an incompatible version or edited by hand"),
            InvalidConfig(why) => write!(f, "the model description in the file is not a valid model: {why}"),
            MissingTensor(name) => write!(f, "the file lacks the tensor '{name}' that its model description needs"),
            ExtraTensor(name) => write!(f, "the file has a tensor '{name}' that its model description does not use (a different model or optimizer?)"),
            WrongShape { name, expected, found } => {
                write!(f, "tensor '{name}' has shape {found:?} but the model description needs {expected:?}")
            }
            WrongDtype { name, found } => write!(f, "tensor '{name}' is {found}; saved models hold F32 tensors (convert it with .float() before saving)"),
            NonFinite { name, index, value } => write!(f, "tensor '{name}' holds {value} at element {index}: the model diverged before it was saved; load an earlier file"),
            Mismatch { wanted, differences } => write!(f, "the saved model differs from {wanted}: {}", differences.join("; ")),
        }
    }
}

impl std::error::Error for LoadError {}
