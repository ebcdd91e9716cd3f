//! The messages between the page and the controller: commands in, events (frames among
//! them) out. In the browser the controller runs in a Web Worker and these cross
//! `postMessage` as one transferred byte buffer each ([`encode`] / [`decode`]: MessagePack,
//! the same Rust types on both sides); natively a test hands them over directly.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::frame::Frame;
use super::pictures::PictureId;
use crate::app::catalogue;
use crate::core::config::{ModelConfig, NoiseKind};

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

/// What the page asks of the engine (the controller): the product's commands. The worker's
/// own business (its start, the stored model, benchmarks) and the test hooks travel beside
/// these in [`super::envelope`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
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
    /// Another description of the main run's model (its shape, optimizer, tied weights, code
    /// size): the run starts again from step 0 with the same seed.
    SetModel(Box<ModelConfig>),
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
    /// Runs compared: a new run, a copy of the main one's model and settings from step 0
    /// with the same seed (so it sees the same minibatches), made the main one (the
    /// controls then change it).
    Compare,
    /// The run with this id becomes the main one (the controls and the big pictures show it).
    MakeMain(u32),
    /// The run with this id goes (one run always stays).
    RemoveRun(u32),
    /// The run with this id as a file ([`Event::Saved`]).
    SaveRun(u32),
    /// One step in slow motion (while paused): the main run's next training step with what
    /// it computed read back ([`Event::Inside`]); the other runs of a comparison step too.
    InsideStep,
}

/// How far the run is (not a recipe's phase: that is `train::pipeline`'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    /// Built, not trained since (a fresh model, after Reset or a preset change).
    Ready,
    Training,
    Paused,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Training => "training",
            RunState::Paused => "paused",
        }
    }
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
    /// The pictures it draws, in the page's order (the page hides the others).
    pub pictures: Vec<PictureId>,
    /// What the page shortened of a recipe, in a sentence.
    pub settings: Option<String>,
    /// Something to know about this session in the page (say, it learns slowly at this
    /// batch size on this backend, and what shows it sooner).
    pub advice: Option<String>,
}

impl SessionInfo {
    /// A session's identity and pictures, without a model, cap, settings line or advice.
    pub fn new(id: String, kind: catalogue::Kind, seed: u64, loss_label: String, pictures: Vec<PictureId>) -> Self {
        SessionInfo { id, kind, config: None, seed, cap: None, loss_label, pictures, settings: None, advice: None }
    }
}

/// Runs compared at most.
pub const MAX_RUNS: usize = 4;

/// One run of a comparison, as the runs table shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The id frames carry ([`super::frame::Frame::run`]).
    pub id: u32,
    /// "A" to "D", kept while the run lives (the first free letter when it is made).
    pub label: String,
    pub config: ModelConfig,
    /// What differs from the first run, in words ("noise: none (A: masking 0.3)"); the first
    /// run says it is the one the others are compared with.
    pub differs: String,
    pub state: RunState,
}

/// The controller's state as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The main run's state (training while any run of a comparison trains).
    pub state: RunState,
    pub backend: BackendKind,
    /// The backend in words ("WebGPU (…)", "CPU: WebAssembly SIMD").
    pub backend_label: String,
    /// Whether WebGPU can be chosen here.
    pub gpu_available: bool,
    /// The main run's session (the one the controls change).
    pub session: SessionInfo,
    /// The main run's id: the frames that carry it are drawn in the big pictures.
    #[serde(default)]
    pub main: u32,
    /// Runs compared, in label order (empty while one run trains alone).
    #[serde(default)]
    pub runs: Vec<RunInfo>,
}

/// What the engine tells the page. The worker's own messages (loading, the stored model,
/// benchmarks, test answers) travel beside these in [`super::envelope`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Status(Status),
    Frame(Box<Frame>),
    /// Something the user should know (a fallback, a recovery, a resumed model).
    Note(String),
    /// An action was refused or failed; the page stays as it was.
    Error(String),
    /// One step in slow motion ([`Command::InsideStep`]).
    Inside(Box<crate::app::inside::Inside>),
    /// A model file to download.
    Saved {
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
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
    use crate::app::pictures::{Features, Picture, PictureId, Recon};

    #[test]
    fn commands_and_events_round_trip() {
        let commands = vec![
            Command::SetNoise(NoiseKind::Masking { keep: 0.7 }),
            Command::PadInk(Some(vec![0.5; 784])),
            Command::Load { bytes: vec![1, 2, 3], name: "m.safetensors".into() },
            Command::SetCap(Some(7)),
        ];
        for c in commands {
            assert_eq!(decode::<Command>(&encode(&c)).unwrap(), c);
        }
        let mut frame = Frame { step: 12, train_loss: Some(61.5), ..Frame::default() };
        frame.show(PictureId::Recon, Picture::Recon(Recon { clean: vec![0.25; 784 * 10], noisy: None, out: vec![1.0; 784 * 10] }));
        frame.show(PictureId::Features, Picture::Note("no features".into()));
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
