//! The controller: owns the device, the data, the pad and one session, and runs the training
//! loop (slices sized to the backend, frames on a schedule, the GPU's steps per slice adapted
//! to its speed, a lost device replaced). One owner drives it, one call at a time:
//! [`Controller::handle`] for each command, then [`Controller::tick`] while
//! [`Controller::busy`]. In the browser that owner is a Web Worker's message loop; natively,
//! a test. Nothing here touches the DOM.

use std::collections::HashMap;

use crate::backend::choice::{self, AdapterClass, AdapterFacts, Choice, ChoiceKey, Pick, Trial};
use crate::backend::cpu::CpuBackend;
use crate::backend::gpu::{GpuBackend, GpuContext};
use crate::backend::Buffers;
use crate::core::ModelConfig;
use crate::train::Trainer;
use crate::app::catalogue;
use crate::core::config::MAX_BATCH;
use crate::app::urlstate::{BackendChoice, Setup, MAX_LR};
use crate::data::Mnist;
use crate::io::saved::{from_safetensors, to_safetensors};

use super::clock::{now_ms, sleep_ms};
use super::pictures::grid_digits;
use super::envelope::{Held, TestHook};
use super::protocol::{BackendKind, Command, Event, RunState, Status};
use super::session::{self, model::ModelSession, only_models, AfterSlice, AnyBackend, Budget, fence_of, FrameCtx, Session, NOT_SAVED, ONLY_RECIPES};

/// Longest stretch of CPU training in one slice.
pub const SLICE_MS: f64 = 14.0;
/// Device time one GPU slice aims for. The worker waits for the device after each slice, so
/// a slice must hold several steps even on a slow device (else it waits after every step),
/// yet stay short enough that commands are taken within about 0.1 s (BENCHMARKS.md has the
/// measurements behind the figure).
pub const GPU_SLICE_MS: f64 = 100.0;
/// Most steps one GPU slice records.
pub const MAX_GPU_STEPS: usize = 256;
/// How often a frame is made while training, at most ...
pub const FRAME_MS: f64 = 300.0;
/// ... and at most this share of the time: a frame that takes long (its read-backs on a
/// slow device) spaces the next ones this many times as long.
pub const FRAME_SPACING: f64 = 20.0;
/// How often the pictures that need forward passes over many digits are refreshed while
/// training, at most.
pub const PICTURES_MS: f64 = 2000.0;
/// ... and at most this share of the time: where a frame with pictures takes long (a slow
/// device: SwiftShader's WebGPU takes most of a second for the latent scatter's thousand
/// digits), the next one waits this many times as long.
pub const PICTURES_SPACING: f64 = 25.0;

/// Where a GPU may come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Devices {
    /// Ask for one (WebGPU in the browser, Vulkan natively).
    Any,
    /// The CPU only (the browser has no WebGPU, or a test wants the CPU).
    CpuOnly,
}

/// A frame wanted before the next slice (after a command), and whether with the pictures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wanted {
    pictures: bool,
}

/// A session and how the controller schedules it: its backend, its run state, the GPU's
/// steps per slice, its frames' timing and what is due. The controller holds one; runs
/// compared side by side would be several.
struct Run {
    session: Box<dyn Session>,
    kind: BackendKind,
    state: RunState,
    gpu_steps: usize,
    last_frame_ms: f64,
    /// What the last frame without pictures took (ms).
    frame_cost_ms: f64,
    last_pictures_ms: f64,
    /// How long after the last pictures the next are due while training.
    pictures_every_ms: f64,
    wanted: Option<Wanted>,
    /// The session has work beside training (a PCA fit).
    background: bool,
}

impl Run {
    /// A fresh session on `kind`, ready, its first frame (with the pictures) wanted.
    fn new(session: Box<dyn Session>, kind: BackendKind) -> Run {
        Run {
            session,
            kind,
            state: RunState::Ready,
            gpu_steps: 1,
            last_frame_ms: now_ms(),
            frame_cost_ms: 0.0,
            last_pictures_ms: f64::NEG_INFINITY,
            pictures_every_ms: PICTURES_MS,
            wanted: Some(Wanted { pictures: true }),
            background: true,
        }
    }
}

pub struct Controller {
    data: Mnist,
    /// Whether all the training set is in (see [`Controller::expect_more`]).
    complete: bool,
    /// A recipe picked before all the training set was in: built when it is.
    waiting: Option<String>,
    grid: Vec<f32>,
    setup: Setup,
    devices: Devices,
    gpu: Option<GpuContext>,
    run: Run,
    pad: Option<Vec<f32>>,
    pad_noise: u32,
    /// How often a frame is made while training ([`FRAME_MS`]; tests shorten it).
    frame_ms: f64,
    /// Training pauses at this step ([`TestHook::PauseAt`]).
    pause_at: Option<u64>,
    /// What the GPU is (a software emulation or not) and its id, for the backend choice.
    adapter: Option<(AdapterClass, String)>,
    /// The backend the user or the link asked for (None: the faster one, by measurement).
    forced: Option<BackendKind>,
    /// Choices made, per adapter, preset and batch size.
    choices: HashMap<ChoiceKey, Choice>,
}

/// Device time the backend trial spends on each backend (ms).
pub const TRIAL_MS: f64 = 350.0;

/// Times training steps of `cfg` on `be` for about [`TRIAL_MS`] (after a warm-up that
/// compiles and tunes what the steps use): samples per second, or None if it cannot train.
async fn time_steps(be: AnyBackend, cfg: &ModelConfig) -> Option<f64> {
    let data = crate::data::synthetic::tiny_mnist((4 * cfg.batch).max(64), 16);
    let mut t = Trainer::new(be, cfg, &data, 1).ok()?;
    let fence = |t: &mut Trainer<AnyBackend>| fence_of(&mut t.be, &t.model);
    for _ in 0..2 {
        t.step();
    }
    fence(&mut t).await.ok()?;
    let (t0, mut steps, mut k) = (now_ms(), 0usize, 1usize);
    while now_ms() - t0 < TRIAL_MS || steps < 2 {
        for _ in 0..k {
            t.step();
        }
        fence(&mut t).await.ok()?;
        steps += k;
        k = (k * 2).min(64);
    }
    let secs = (now_ms() - t0) / 1000.0;
    t.be.health().ok()?;
    Some((steps * cfg.batch) as f64 / secs.max(1e-6))
}

/// The minibatch size the page suggests where a model's own learns too slowly to watch.
pub const WATCHABLE_BATCH: usize = 100;

/// What to expect of a model that learns too slowly here to show much in a lecture's minute
/// (a large batch on the CPU path: few steps a second), and the setting that shows it sooner.
fn advice(s: &super::protocol::SessionInfo, kind: BackendKind) -> Option<String> {
    let cfg = s.config.as_ref()?;
    (kind == BackendKind::Cpu && cfg.batch >= 5 * WATCHABLE_BATCH).then(|| {
        format!(
            "At batch {} the CPU path takes only a few steps a second, so the features and reconstructions change little in the first minute. Batch {WATCHABLE_BATCH} shows them within a minute (the model's reference numbers are for batch {}).",
            cfg.batch, cfg.batch
        )
    })
}

/// Which backend to train `id` on: the one asked for, else the faster one (by what the GPU is
/// and, for a model, a short timed trial of both on its preset and batch), cached per
/// adapter, preset and batch. Gives the backend and, when it is not the GPU the page would
/// take by default or it was measured, a note saying why.
async fn decide(
    gpu: &Option<GpuContext>,
    adapter: Option<&(AdapterClass, String)>,
    forced: Option<BackendKind>,
    id: &str,
    cfg: &ModelConfig,
    cache: &mut HashMap<ChoiceKey, Choice>,
) -> (BackendKind, Option<String>) {
    let (Some(ctx), Some((class, adapter_id))) = (gpu, adapter) else { return (BackendKind::Cpu, None) };
    match forced {
        Some(BackendKind::Cpu) => return (BackendKind::Cpu, None),
        Some(BackendKind::Gpu) => return (BackendKind::Gpu, None),
        None => {}
    }
    let model = catalogue::kind(id) != Some(catalogue::Kind::Recipe) && catalogue::kind(id) != Some(catalogue::Kind::Scene);
    let key = ChoiceKey { adapter: adapter_id.clone(), preset: id.to_string(), batch: if model { cfg.batch } else { 0 } };
    let choice = match cache.get(&key) {
        Some(c) => c.clone(),
        None => {
            // A model is timed on both backends; a recipe or a scene goes by what the GPU is.
            let trial = if model {
                // On a real GPU the products' kernels are tuned first (once per adapter and
                // shape, cached for the session's backend too); the browser does not tune
                // on first use.
                let mut gpu_be = GpuBackend::new(ctx.clone());
                if !class.is_software() {
                    if let Err(e) = gpu_be.tune_for(cfg, cfg.batch).await {
                        log(&format!("kernel tuning failed ({e}); the default kernels are timed"));
                    }
                }
                Trial { gpu: time_steps(Box::new(gpu_be), cfg).await, cpu: time_steps(Box::new(CpuBackend::new()), cfg).await }
            } else {
                Trial::default()
            };
            let c = choice::choose(Some(class), trial, None);
            log(&format!("backend choice for {id} (batch {}): {:?} ({trial:?})", key.batch, c.backend));
            cache.insert(key, c.clone());
            c
        }
    };
    let kind = if choice.backend == Pick::Gpu { BackendKind::Gpu } else { BackendKind::Cpu };
    let say = class.is_software() || kind == BackendKind::Cpu || choice.speedup.is_some_and(|s| s >= 2.0);
    (kind, say.then(|| format!("Training on {}: {}.", if kind == BackendKind::Gpu { "WebGPU" } else { "the CPU path" }, choice.reason)))
}

/// A line for the developer console (stderr natively).
fn log(msg: &str) {
    #[cfg(target_arch = "wasm32")]
    web_sys::console::info_1(&format!("aeplay: {msg}").into());
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("aeplay: {msg}");
}

fn make_backend(kind: BackendKind, gpu: &Option<GpuContext>) -> AnyBackend {
    match (kind, gpu) {
        (BackendKind::Gpu, Some(ctx)) => Box::new(GpuBackend::new(ctx.clone())),
        _ => Box::new(CpuBackend::new()),
    }
}

impl Controller {
    /// Acquires a GPU if one is asked for and to be had, and builds the set-up's session
    /// (on the CPU when the GPU cannot hold it). Returns the first events for the page.
    pub async fn new(data: Mnist, setup: Setup, devices: Devices) -> Result<(Controller, Vec<Event>), String> {
        let mut events = Vec::new();
        // The GPU is acquired even when the link asks for the CPU, so that the page can offer
        // a switch to it.
        let gpu = if devices == Devices::Any {
            match GpuContext::new().await {
                Ok(ctx) => Some(ctx),
                Err(e) => {
                    log(&format!("no GPU: {e}"));
                    if setup.backend != BackendChoice::Cpu {
                        events.push(Event::Note("WebGPU is not available here, so training runs on the CPU (WebAssembly SIMD).".into()));
                    }
                    None
                }
            }
        } else {
            None
        };
        let adapter = gpu.as_ref().map(|ctx| {
            let facts = AdapterFacts::from(&ctx.info);
            (choice::classify(&facts), choice::adapter_id(&facts))
        });
        let forced = match setup.backend {
            BackendChoice::Gpu => Some(BackendKind::Gpu),
            BackendChoice::Cpu => Some(BackendKind::Cpu),
            BackendChoice::Auto => None,
        };
        let id = setup.scene.clone().or_else(|| setup.recipe.clone()).unwrap_or_else(|| setup.config.name.clone());
        let (mut kind, note) = decide(&gpu, adapter.as_ref(), forced, &id, &setup.config, &mut HashMap::new()).await;
        events.extend(note.map(Event::Note));
        let session = match session::build(&setup, &id, make_backend(kind, &gpu), &data) {
            Ok(s) => s,
            Err(e) if kind == BackendKind::Gpu => {
                events.push(Event::Note(format!("{e}. Training runs on the CPU instead.")));
                kind = BackendKind::Cpu;
                session::build(&setup, &id, make_backend(kind, &None), &data)?
            }
            Err(e) => return Err(e),
        };
        let grid = grid_digits(&data);
        let mut c = Controller { data, complete: true, waiting: None, grid, setup, devices, gpu, run: Run::new(session, kind), pad: None, pad_noise: 0, frame_ms: FRAME_MS, pause_at: None, adapter, forced, choices: HashMap::new() };
        events.push(Event::Status(c.status()));
        Ok((c, events))
    }

    /// The training set is still arriving (the controller was made with its first part):
    /// [`Self::grow`] takes in the rest. Until it is all in, a recipe (whose phases read
    /// fixed rows of it) waits, and a saved model is not loaded.
    pub fn expect_more(&mut self) {
        self.complete = false;
    }

    /// Whether all the training set is in.
    pub fn data_complete(&self) -> bool {
        self.complete
    }

    /// More of the data arrived: images in order after those of their set in already, of
    /// the test set or the training set; `complete`: all the data is in now. The session
    /// takes in new training images, and a recipe picked meanwhile is built once all are in.
    /// (The page evaluates on the test set's first thousand images, in from the start.)
    pub async fn grow(&mut self, test: bool, pixels: &[u8], labels: &[u8], complete: bool) -> Vec<Event> {
        let mut ev = Vec::new();
        let set = if test { &mut self.data.test } else { &mut self.data.train };
        if let Err(e) = set.extend(pixels, labels) {
            ev.push(Event::Error(format!("The images that arrived could not be taken in ({e}); training goes on with those in.")));
            return ev;
        }
        self.complete |= complete;
        if (!test && !labels.is_empty()) || complete {
            if let Err(e) = self.run.session.data_grew(&self.data, complete) {
                ev.push(Event::Error(format!("The training images that arrived could not be taken in ({e}); training goes on with those it had.")));
            }
        }
        self.run.background = true;
        if complete {
            if let Some(id) = self.waiting.take() {
                ev.extend(self.handle(Command::SetPreset(id)).await);
            }
        }
        ev
    }

    /// The controller's state as the page shows it.
    pub fn status(&mut self) -> Status {
        let mut session = self.run.session.info();
        session.advice = advice(&session, self.run.kind);
        Status { state: self.run.state, backend: self.run.kind, backend_label: self.run.session.backend().name(), gpu_available: self.gpu.is_some(), session }
    }

    pub fn state(&self) -> RunState {
        self.run.state
    }

    pub fn backend_kind(&self) -> BackendKind {
        self.run.kind
    }

    /// The data the controller trains on.
    pub fn data(&self) -> &Mnist {
        &self.data
    }

    /// Whether [`Self::tick`] has something to do.
    pub fn busy(&self) -> bool {
        self.run.state == RunState::Training || self.run.wanted.is_some() || self.run.background
    }

    /// How long the owner should wait before the next tick (a paced scene), if at all.
    pub fn pause_hint(&self) -> Option<f64> {
        if self.run.state != RunState::Training {
            return None;
        }
        self.run.session.pacing_ms().map(|p| (p - (now_ms() - self.run.last_frame_ms)).max(0.0))
    }

    fn backend(&self) -> AnyBackend {
        make_backend(self.run.kind, &self.gpu)
    }

    fn want_frame(&mut self, pictures: bool) {
        let p = self.run.wanted.is_some_and(|w| w.pictures) || pictures;
        self.run.wanted = Some(Wanted { pictures: p });
    }

    /// A new session in place of the current one (the current stays if it cannot be built),
    /// on the backend the choice gives for it; a note if that choice says something.
    async fn replace_session(&mut self, id: &str) -> Result<Option<String>, String> {
        let setup = Setup { seed: self.setup.seed, cap: self.setup.cap, ..Setup::new(crate::core::config::preset(id).unwrap_or_else(|| self.setup.config.clone())) };
        let (kind, note) = decide(&self.gpu, self.adapter.as_ref(), self.forced, id, &setup.config, &mut self.choices).await;
        let s = session::build(&setup, id, make_backend(kind, &self.gpu), &self.data)?;
        self.run.session = s;
        self.run.kind = kind;
        self.run.gpu_steps = 1;
        self.run.background = true;
        Ok(note)
    }

    /// Carries out a command. Frames it makes due come from the next [`Self::tick`] (a
    /// stroke on the pad sends many commands; they fold into one frame).
    pub async fn handle(&mut self, cmd: Command) -> Vec<Event> {
        let mut ev = Vec::new();
        match cmd {
            Command::Train => {
                if self.run.session.finished() {
                    if let Err(e) = self.run.session.reset(self.backend(), &self.data) {
                        ev.push(Event::Error(e));
                        return ev;
                    }
                }
                if self.run.state != RunState::Training {
                    self.run.state = RunState::Training;
                    self.run.last_frame_ms = now_ms();
                    ev.push(Event::Status(self.status()));
                }
            }
            // Pause, Step and Reset send the frame of where training stopped before the
            // status that says so: the page's numbers are final once it shows the new state.
            Command::Pause => {
                if self.run.state == RunState::Training {
                    self.run.state = RunState::Paused;
                    self.settle(&mut ev).await;
                    ev.push(Event::Status(self.status()));
                }
            }
            Command::Step => {
                if self.run.state != RunState::Training && !self.run.session.finished() {
                    if self.run.session.slice(Budget::Steps(1)) == AfterSlice::Advance {
                        if let Err(e) = self.run.session.advance().await {
                            ev.push(Event::Error(e));
                        }
                    }
                    self.run.state = RunState::Paused;
                    self.settle(&mut ev).await;
                    ev.push(Event::Status(self.status()));
                }
            }
            Command::Reset => {
                match self.run.session.reset(self.backend(), &self.data) {
                    Ok(()) => self.run.state = RunState::Ready,
                    Err(e) => ev.push(Event::Error(format!("Could not start over: {e}"))),
                }
                self.settle(&mut ev).await;
                ev.push(Event::Status(self.status()));
            }
            Command::SetPreset(id) if !self.complete && catalogue::kind(&id) == Some(catalogue::Kind::Recipe) => {
                ev.push(Event::Note(format!(
                    "{} reads fixed rows of the whole training set, so it starts when all the training images are in ({} of them so far).",
                    catalogue::title(&id),
                    super::thousands(self.data.train.items)
                )));
                self.waiting = Some(id);
            }
            Command::SetPreset(id) => {
                self.waiting = None;
                match self.replace_session(&id).await {
                    Ok(note) => {
                        ev.extend(note.map(Event::Note));
                        self.run.state = RunState::Ready;
                        if catalogue::kind(&id) == Some(catalogue::Kind::Recipe) {
                            self.setup.recipe = Some(id);
                        }
                    }
                    Err(e) => ev.push(Event::Error(format!("Could not build {}: {e}", catalogue::title(&id)))),
                }
                ev.push(Event::Status(self.status()));
                self.want_frame(true);
            }
            Command::SetLearningRate(lr) => {
                if !(lr.is_finite() && lr > 0.0 && lr <= MAX_LR) {
                    ev.push(Event::Error(format!("The learning rate must be a number above 0 and at most {MAX_LR}; it stays as it was.")));
                } else {
                    match self.run.session.model() {
                        Some(m) => m.set_learning_rate(lr),
                        None => ev.push(Event::Error(only_models("learning rate"))),
                    }
                }
                ev.push(Event::Status(self.status()));
            }
            Command::SetBatch(b) => {
                if b == 0 || b > MAX_BATCH {
                    ev.push(Event::Error(format!("The batch size must be a whole number from 1 to {MAX_BATCH}; it stays as it was.")));
                } else {
                    let be = self.backend();
                    let done = match self.run.session.model() {
                        Some(m) => m.set_batch(b, be, &self.data).await,
                        None => Err(only_models("batch size")),
                    };
                    if let Err(e) = done {
                        ev.push(Event::Error(e));
                    }
                }
                ev.push(Event::Status(self.status()));
                self.want_frame(false);
            }
            Command::SetNoise(n) => {
                match self.run.session.model() {
                    Some(m) => m.set_noise(n),
                    None => ev.push(Event::Error(only_models("noise"))),
                }
                ev.push(Event::Status(self.status()));
                self.want_frame(false);
            }
            Command::SetBackend(k) => ev.extend(self.switch_backend(k).await),
            Command::SetCap(cap) => {
                self.setup.cap = cap;
                let be = self.backend();
                let done = match self.run.session.recipe() {
                    Some(r) => r.set_cap(cap, be, &self.data),
                    None => Err(ONLY_RECIPES.to_string()),
                };
                match done {
                    Ok(()) => self.run.state = RunState::Ready,
                    Err(e) => ev.push(Event::Error(e)),
                }
                ev.push(Event::Status(self.status()));
                self.want_frame(true);
            }
            Command::PadInk(img) => {
                self.pad = img.filter(|v| v.len() == 784 && v.iter().any(|&p| p > 0.0));
                if let Some(m) = self.run.session.model() {
                    m.pad_changed();
                }
                self.want_frame(true);
            }
            Command::NewNoise => {
                self.pad_noise = self.pad_noise.wrapping_add(0x9E37_79B9);
                self.want_frame(false);
            }
            Command::NewSamples => {
                if let Some(m) = self.run.session.model() {
                    m.new_samples();
                }
                self.want_frame(true);
            }
            Command::Save => match self.saved().await {
                Ok((name, _, bytes)) => ev.push(Event::Saved { name, bytes }),
                Err(e) => ev.push(Event::Error(e)),
            },
            Command::Load { name, .. } if !self.complete => {
                ev.push(Event::Error(format!(
                    "{name} was not loaded: a saved model goes on in its epoch, which needs the whole training set, and {} of its images are in so far. Load it again in a few seconds.",
                    super::thousands(self.data.train.items)
                )));
            }
            Command::Load { bytes, name } => {
                match self.load(&bytes) {
                    Ok((title, step)) => ev.push(Event::Note(format!("Loaded {name}: {title} at step {step}; Train continues it."))),
                    Err(e) => ev.push(Event::Error(format!("{name} was not loaded: {e}. The current model stays."))),
                }
                ev.push(Event::Status(self.status()));
            }
        }
        ev
    }

    /// Carries out a test hook; a probe gives what the engine holds.
    pub fn test_hook(&mut self, hook: TestHook) -> Option<Held> {
        match hook {
            TestHook::LoseDevice => {
                if let Some(ctx) = &self.gpu {
                    ctx.device.destroy();
                }
                None
            }
            TestHook::SetFrameInterval(ms) => {
                self.frame_ms = ms.clamp(1.0, 60_000.0);
                None
            }
            TestHook::PauseAt(step) => {
                self.pause_at = step;
                None
            }
            TestHook::Probe => Some(Held { allocated_bytes: self.run.session.backend().allocated_bytes(), history_points: self.run.session.history_points() }),
        }
    }

    /// The model as a file: its name, its step and its bytes (single models only).
    pub async fn saved(&mut self) -> Result<(String, u64, Vec<u8>), String> {
        let m = match self.run.session.model() {
            Some(m) => m.save().await?,
            None => return Err(NOT_SAVED.to_string()),
        };
        Ok((format!("{}-step{}.safetensors", m.config.name, m.step), m.step, to_safetensors(&m)))
    }

    /// Continues a saved model (its preset may differ) on the current backend, at its step,
    /// epoch and position with its optimizer state; training stops. Gives the model's title
    /// and step. A file that cannot be read or built leaves the current session as it was.
    /// The page learns of it from the next status and frame ([`Self::status`], a tick).
    pub fn load(&mut self, bytes: &[u8]) -> Result<(String, u64), String> {
        let m = from_safetensors(bytes).map_err(|e| e.to_string())?;
        let s = ModelSession::resume(&m, self.backend(), &self.data)?;
        self.run.session = Box::new(s);
        self.run.background = true;
        self.setup.recipe = None;
        self.setup.scene = None;
        self.setup.seed = m.seed;
        self.run.state = RunState::Paused;
        self.want_frame(true);
        Ok((catalogue::title(&m.config.name).to_string(), m.step))
    }

    async fn switch_backend(&mut self, k: BackendKind) -> Vec<Event> {
        let mut ev = Vec::new();
        if k == self.run.kind {
            return ev;
        }
        if k == BackendKind::Gpu && self.gpu.is_none() {
            ev.push(Event::Error("WebGPU is not available here, so training stays on the CPU.".into()));
            return ev;
        }
        // The user's choice holds from now on (no more choosing by measurement).
        self.forced = Some(k);
        let be = make_backend(k, &self.gpu);
        match self.run.session.move_to(be, &self.data).await {
            Ok(note) => {
                self.run.kind = k;
                self.run.gpu_steps = 1;
                if let Some(n) = note {
                    ev.push(Event::Note(n));
                    if self.run.state == RunState::Training && self.run.session.step_count() == 0 {
                        self.run.state = RunState::Ready;
                    }
                }
                ev.push(Event::Status(self.status()));
                self.want_frame(true);
            }
            Err(why) if self.run.kind == BackendKind::Gpu => ev.extend(self.recover(why).await),
            Err(e) => {
                ev.push(Event::Error(format!("Could not switch backend: {e}")));
                ev.push(Event::Status(self.status()));
            }
        }
        ev
    }

    /// The device failed: continue on a new GPU device, else on the CPU, from the
    /// session's last read-back.
    async fn recover(&mut self, why: String) -> Vec<Event> {
        let mut ev = Vec::new();
        // A failed read-back is usually the symptom; the device's own report (lost, with its
        // reason) arrives a moment later and says more.
        let mut reported = None;
        for _ in 0..10 {
            reported = self.run.session.backend().health().err();
            if reported.is_some() {
                break;
            }
            sleep_ms(100.0).await;
        }
        let why = reported.unwrap_or_else(|| format!("the GPU stopped answering ({why}), so the device is treated as lost"));
        self.gpu = if self.devices == Devices::Any { GpuContext::new().await.ok() } else { None };
        self.run.kind = if self.gpu.is_some() { BackendKind::Gpu } else { BackendKind::Cpu };
        self.run.gpu_steps = 1;
        match self.run.session.recover(self.backend(), &self.data) {
            Ok(from) => {
                let now = self.run.session.backend().name();
                ev.push(Event::Note(format!("{why}. Training continues on {now} {from}.")));
            }
            Err(e) => {
                self.run.state = RunState::Paused;
                ev.push(Event::Error(format!("{why}, and training could not be moved: {e}")));
            }
        }
        ev.push(Event::Status(self.status()));
        self.want_frame(true);
        ev
    }

    /// Makes the frame a command asked for now (with every picture).
    async fn settle(&mut self, ev: &mut Vec<Event>) {
        self.run.wanted = None;
        if let Err(why) = self.frame(true, ev).await {
            ev.extend(self.recover(why).await);
        }
    }

    /// Makes a frame now.
    async fn frame(&mut self, pictures: bool, ev: &mut Vec<Event>) -> Result<(), String> {
        let now = now_ms();
        let pictures = pictures || self.run.state != RunState::Training || now - self.run.last_pictures_ms >= self.run.pictures_every_ms;
        let ctx = FrameCtx {
            data: &self.data,
            grid: &self.grid,
            pad: self.pad.as_deref(),
            pad_noise: self.pad_noise,
            pictures,
            running: self.run.state == RunState::Training,
        };
        let produced = self.run.session.frame(ctx).await?;
        self.run.last_frame_ms = now_ms();
        let took = self.run.last_frame_ms - now;
        if pictures {
            self.run.last_pictures_ms = self.run.last_frame_ms;
            self.run.pictures_every_ms = PICTURES_MS.max(PICTURES_SPACING * took);
        } else {
            self.run.frame_cost_ms = took;
        }
        if let Some(halt) = produced.halt {
            self.run.state = RunState::Paused;
            ev.push(Event::Error(halt));
            ev.push(Event::Status(self.status()));
        }
        ev.push(Event::Frame(Box::new(produced.frame)));
        Ok(())
    }

    /// One round of work: a slice of training (and a frame when one is due), or the frame
    /// a command asked for, or a piece of the session's work beside training.
    pub async fn tick(&mut self) -> Vec<Event> {
        let mut ev = Vec::new();
        if self.run.state != RunState::Training {
            if self.run.background {
                self.run.background = self.run.session.background(&self.data);
                if !self.run.background {
                    self.want_frame(false); // the work is done: show it
                }
            }
            if let Some(w) = self.run.wanted.take() {
                if let Err(why) = self.frame(w.pictures, &mut ev).await {
                    ev.extend(self.recover(why).await);
                }
            }
            return ev;
        }
        if let Err(why) = self.run.session.backend().health() {
            return self.recover(why).await;
        }
        let t0 = now_ms();
        let budget = match self.run.kind {
            // A paced scene takes its own steps per slice and a frame after each.
            BackendKind::Gpu if self.run.session.pacing_ms().is_none() => Budget::Steps(self.run.gpu_steps),
            _ => Budget::Until(t0 + SLICE_MS),
        };
        // A test's stop: slices of a few steps up to it (then the pause below).
        let budget = match self.pause_at.map(|s| s.saturating_sub(self.run.session.step_count()) as usize) {
            Some(left) => Budget::Steps(left.min(match budget {
                Budget::Steps(n) => n,
                Budget::Until(_) => 8,
            })),
            None => budget,
        };
        let due = self.run.session.slice(budget);
        if self.run.background {
            self.run.background = self.run.session.background(&self.data);
        }
        if due == AfterSlice::Advance {
            if let Err(e) = self.run.session.advance().await {
                self.run.state = RunState::Paused;
                ev.push(Event::Error(e));
                ev.push(Event::Status(self.status()));
            }
        }
        let stop = self.pause_at.is_some_and(|s| self.run.session.step_count() >= s);
        if (stop || self.run.session.finished()) && self.run.state == RunState::Training {
            self.run.state = RunState::Paused;
            ev.push(Event::Status(self.status()));
        }
        let paced = self.run.session.pacing_ms().is_some();
        if self.run.kind == BackendKind::Gpu && !paced {
            // Wait (without blocking) for the device before recording more (or reading a
            // frame, whose cost is then its own), and size the next slice to the time this
            // one took.
            match self.run.session.fence().await {
                Ok(_) => {
                    let took = now_ms() - t0;
                    let scaled = (self.run.gpu_steps as f64 * GPU_SLICE_MS / took.max(1.0)).round() as usize;
                    self.run.gpu_steps = scaled.clamp(1, (self.run.gpu_steps * 2).max(2)).min(MAX_GPU_STEPS);
                }
                Err(why) => {
                    ev.extend(self.recover(why).await);
                    return ev;
                }
            }
        }
        let wanted = self.run.wanted.take();
        let frame_due = wanted.is_some() || due != AfterSlice::Nothing || paced || now_ms() - self.run.last_frame_ms >= self.frame_every_ms() || self.run.state != RunState::Training;
        if frame_due {
            if let Err(why) = self.frame(wanted.is_some_and(|w| w.pictures), &mut ev).await {
                ev.extend(self.recover(why).await);
            }
        }
        ev
    }

    /// How long after the last frame the next is due while training: [`FRAME_MS`], or
    /// longer where frames cost more than a [`FRAME_SPACING`]th of that (a test's faster
    /// frames are taken as asked).
    fn frame_every_ms(&self) -> f64 {
        if self.frame_ms < FRAME_MS {
            self.frame_ms
        } else {
            self.frame_ms.max(FRAME_SPACING * self.run.frame_cost_ms)
        }
    }
}
