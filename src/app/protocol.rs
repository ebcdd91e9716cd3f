//! The messages between the page and the controller: commands in, events (frames among
//! them) out. In the browser the controller runs in a Web Worker and these cross
//! `postMessage` as one transferred byte buffer each ([`encode`] / [`decode`]: MessagePack,
//! the same Rust types on both sides); natively a test hands them over directly.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::frame::Frame;
use crate::core::catalogue;
use crate::core::config::{ModelConfig, NoiseKind};
use crate::core::urlstate::Setup;

/// The backends a session trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendKind {
    /// WebGPU in the browser, Vulkan natively (wgpu).
    Gpu,
    /// The SIMD CPU backend (WebAssembly SIMD in the browser).
    Cpu,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Gpu => "gpu",
            BackendKind::Cpu => "cpu",
        }
    }
}

/// What the page asks of the controller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// The first message: the set-up from the page's link; `resume`: the page was opened
    /// without a set-up (or reloaded), so the model kept in the browser may be resumed.
    Start { setup: Setup, resume: bool, page_has_webgpu: bool },
    Train,
    Pause,
    /// One training step (while paused).
    Step,
    /// The session starts over (a model goes back to its preset's learning rate).
    Reset,
    /// Another catalogue entry (a model, a recipe or a scene), fresh.
    SetPreset(String),
    SetLearningRate(f32),
    SetBatch(usize),
    SetNoise(NoiseKind),
    SetBackend(BackendKind),
    /// A recipe's step cap per phase (None: whole epochs).
    SetCap(Option<u64>),
    /// The drawing as an MNIST-like 28×28 image (None: the pad was cleared).
    PadInk(Option<Vec<f32>>),
    /// Fresh noise for the pad.
    NewNoise,
    /// New random codes for the generated digits.
    NewSamples,
    /// The model as a file ([`Event::Saved`]).
    Save,
    /// Continue a saved model (the bytes of a `.safetensors` file).
    Load {
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
        name: String,
    },
    /// Forget the model kept in the browser.
    ForgetStored,
    /// Test hook: destroy the GPU device, as a driver reset would.
    LoseDevice,
    /// Test hook: make frames this often (ms) while training, to run thousands of read-backs
    /// in a short test.
    SetFrameInterval(f64),
    /// Test hook: report the memory held ([`Event::Probe`]).
    Probe,
    /// Benchmark and self-test modes (`?bench=…`, `?selftest=…`): the query string.
    Bench(String),
}

/// How far the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunPhase {
    /// Built, not trained since (a fresh model, after Reset or a preset change).
    Ready,
    Training,
    Paused,
}

impl RunPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Ready => "ready",
            RunPhase::Training => "training",
            RunPhase::Paused => "paused",
        }
    }
}

/// Which pictures a session draws (the page hides the others).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pictures {
    pub recon: bool,
    pub pad: bool,
    pub features: bool,
    pub latent: bool,
    pub generated: bool,
    pub interp: bool,
    pub sparsity: bool,
    pub pca: bool,
    pub cloud: bool,
    pub recipe: bool,
}

/// What the page shows of the session: its identity, its settings (for the controls and
/// the link) and what it draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The catalogue id ("custom" for a model from a link that is no preset).
    pub id: String,
    pub kind: catalogue::Kind,
    /// A single model's description (learning rate, batch, noise included).
    pub config: Option<ModelConfig>,
    pub seed: u64,
    /// A recipe's step cap per phase.
    pub cap: Option<u64>,
    /// What the loss chart's y axis measures ("cross-entropy per digit").
    pub loss_label: String,
    pub pictures: Pictures,
    /// What the page shortened of a recipe, in a sentence.
    pub settings: Option<String>,
    /// Something to know about this session in the page (say, it learns slowly at this
    /// batch size on this backend, and what shows it sooner).
    pub advice: Option<String>,
}

/// The controller's state as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub phase: RunPhase,
    pub backend: BackendKind,
    /// The backend in words ("WebGPU (…)", "CPU: WebAssembly SIMD").
    pub backend_label: String,
    /// Whether WebGPU can be chosen here.
    pub gpu_available: bool,
    pub session: SessionInfo,
}

/// What the controller tells the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Downloading the data: bytes so far, bytes in all, a status line.
    Progress { done: f64, total: f64, status: String },
    /// The data is loaded: what it is, and whether it is the official MNIST.
    Data { label: String, official: bool },
    /// Loading failed for good (the data, or no backend at all): what to do.
    Fatal(String),
    Status(Status),
    Frame(Box<Frame>),
    /// Something the user should know (a fallback, a recovery, a resumed model).
    Note(String),
    /// An action was refused or failed; the page stays as it was.
    Error(String),
    /// A model file to download.
    Saved {
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The step of the model kept in the browser (0: none).
    Stored(u64),
    /// What the worker holds: its WebAssembly memory, the backend's buffers, the points of the
    /// loss history, the bytes of the model kept in the browser (0 natively).
    Probe { wasm_bytes: u64, allocated_bytes: u64, history_points: usize, stored_bytes: u64 },
    /// Benchmark results so far (JSON lines), whether they are complete, and an error.
    Bench { results: Vec<String>, done: bool, error: Option<String> },
    /// Benchmark mode: the initial parameters and the training pixels, so TensorFlow.js in
    /// the page trains from the same weights (`layers`: w offset, b offset, fan_in, fan_out).
    Shared { params: Vec<f32>, layers: Vec<[usize; 4]>, #[serde(with = "serde_bytes")] train: Vec<u8>, train_rows: usize, dim: usize },
}

/// The bytes of a message.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(message).expect("messages always encode")
}

/// A message from its bytes (an error for bytes that are not one).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|e| format!("a malformed message ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::frame::{Features, Recon, Shown};

    #[test]
    fn commands_and_events_round_trip() {
        let commands = vec![
            Command::Start { setup: Setup::default(), resume: true, page_has_webgpu: false },
            Command::SetNoise(NoiseKind::Masking { keep: 0.7 }),
            Command::PadInk(Some(vec![0.5; 784])),
            Command::Load { bytes: vec![1, 2, 3], name: "m.safetensors".into() },
            Command::SetCap(Some(7)),
        ];
        for c in commands {
            assert_eq!(decode::<Command>(&encode(&c)).unwrap(), c);
        }
        let frame = Frame {
            step: 12,
            train_loss: Some(61.5),
            recon: Some(Shown::Picture(Recon { clean: vec![0.25; 784 * 10], noisy: None, out: vec![1.0; 784 * 10] })),
            features: Some(Shown::Note("no features".into())),
            ..Frame::default()
        };
        let ev = Event::Frame(Box::new(frame));
        assert_eq!(decode::<Event>(&encode(&ev)).unwrap(), ev);
        let f = Features { tiles: vec![0.5; 784], shown: 1, units: 500 };
        assert_eq!(decode::<Features>(&encode(&f)).unwrap(), f);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode::<Event>(&[0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode::<Command>(&[]).is_err());
    }
}
