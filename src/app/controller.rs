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
use super::protocol::{BackendKind, Command, Event, RunInfo, RunState, Status, MAX_RUNS};
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
/// steps per slice, its frames' timing and what is due. The controller holds one, or
/// several compared side by side (up to [`MAX_RUNS`]).
struct Run {
    /// The id its frames carry, and its letter in the runs table.
    id: u32,
    label: char,
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
    fn new(id: u32, label: char, session: Box<dyn Session>, kind: BackendKind) -> Run {
        Run {
            id,
            label,
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
    /// The runs, in label order: one, or several compared.
    runs: Vec<Run>,
    /// The main run (the one the controls change and the big pictures show).
    main: usize,
    next_id: u32,
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
        let compare = setup.compare.clone();
        let main_at = setup.main_at.min(compare.len());
        let mut c = Controller { data, complete: true, waiting: None, grid, setup, devices, gpu, runs: vec![Run::new(0, 'A', session, kind)], main: 0, next_id: 1, pad: None, pad_noise: 0, frame_ms: FRAME_MS, pause_at: None, adapter, forced, choices: HashMap::new() };
        // The link's comparison: its other runs, in the link's order around the main one.
        if !compare.is_empty() {
            if c.runs[0].session.model().is_none() {
                events.push(Event::Note("The link compares runs, but only single models are compared: this one trains alone.".into()));
            } else {
                let mut others = Vec::new();
                for cfg in compare.into_iter().take(MAX_RUNS - 1) {
                    match ModelSession::new(cfg.clone(), c.setup.seed, c.backend(), &c.data) {
                        Ok(s) => others.push(s),
                        Err(e) => events.push(Event::Note(format!("A run of the link's comparison ({}) could not be built: {e}", cfg.name))),
                    }
                }
                let main = c.runs.pop().expect("one run");
                let mut all: Vec<Box<dyn Session>> = others.into_iter().map(|s| Box::new(s) as Box<dyn Session>).collect();
                let at = main_at.min(all.len());
                all.insert(at, main.session);
                for (i, session) in all.into_iter().enumerate() {
                    c.runs.push(Run::new(i as u32, (b'A' + i as u8) as char, session, kind));
                }
                c.main = at;
                c.next_id = c.runs.len() as u32;
            }
        }
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
    /// the test set or the training set; `complete`: all the data is in now. The sessions
    /// take in new training images, and a recipe picked meanwhile is built once all are in.
    /// (The page evaluates on the test set's first thousand images, in from the start.)
    pub async fn grow(&mut self, test: bool, pixels: &[u8], labels: &[u8], complete: bool) -> Vec<Event> {
        let mut ev = Vec::new();
        let set = if test { &mut self.data.test } else { &mut self.data.train };
        if let Err(e) = set.extend(pixels, labels) {
            ev.push(Event::Error(format!("The images that arrived could not be taken in ({e}); training goes on with those in.")));
            return ev;
        }
        self.complete |= complete;
        for r in &mut self.runs {
            if (!test && !labels.is_empty()) || complete {
                if let Err(e) = r.session.data_grew(&self.data, complete) {
                    ev.push(Event::Error(format!("The training images that arrived could not be taken in ({e}); training goes on with those it had.")));
                }
            }
            r.background = true;
        }
        if complete {
            if let Some(id) = self.waiting.take() {
                ev.extend(self.handle(Command::SetPreset(id)).await);
            }
        }
        ev
    }

    /// The controller's state as the page shows it.
    pub fn status(&mut self) -> Status {
        let runs = if self.runs.len() > 1 { self.run_infos() } else { Vec::new() };
        let state = self.state();
        let gpu_available = self.gpu.is_some();
        let r = &mut self.runs[self.main];
        let mut session = r.session.info();
        session.advice = advice(&session, r.kind);
        Status { state, backend: r.kind, backend_label: r.session.backend().name(), gpu_available, session, main: r.id, runs }
    }

    /// The runs compared, in label order, each with what differs from the first.
    fn run_infos(&self) -> Vec<RunInfo> {
        let configs: Vec<Option<ModelConfig>> = self.runs.iter().map(|r| r.session.info().config).collect();
        let Some(Some(base)) = configs.first() else { return Vec::new() };
        let first = self.runs[0].label;
        self.runs
            .iter()
            .zip(configs.iter())
            .enumerate()
            .filter_map(|(i, (r, cfg))| {
                let cfg = cfg.clone()?;
                let differs = if i == 0 {
                    "the run the others are compared with".to_string()
                } else {
                    let d = crate::app::urlstate::differences(&cfg, base);
                    if d.is_empty() {
                        format!("nothing yet (the same as {first})")
                    } else {
                        d.iter().map(|(k, v, was)| format!("{k} {v} ({first}: {was})")).collect::<Vec<_>>().join(", ")
                    }
                };
                Some(RunInfo { id: r.id, label: r.label.to_string(), config: cfg, differs, state: r.state })
            })
            .collect()
    }

    /// The main run's state, training while any run trains.
    pub fn state(&self) -> RunState {
        if self.runs.iter().any(|r| r.state == RunState::Training) {
            RunState::Training
        } else {
            self.runs[self.main].state
        }
    }

    pub fn backend_kind(&self) -> BackendKind {
        self.runs[self.main].kind
    }

    /// How many runs are compared (1: one trains alone).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The data the controller trains on.
    pub fn data(&self) -> &Mnist {
        &self.data
    }

    /// Whether [`Self::tick`] has something to do.
    pub fn busy(&self) -> bool {
        self.runs.iter().any(|r| r.state == RunState::Training || r.wanted.is_some() || r.background)
    }

    /// How long the owner should wait before the next tick (a paced scene), if at all.
    pub fn pause_hint(&self) -> Option<f64> {
        let r = &self.runs[self.main];
        if r.state != RunState::Training {
            return None;
        }
        r.session.pacing_ms().map(|p| (p - (now_ms() - r.last_frame_ms)).max(0.0))
    }

    /// A fresh backend of the kind the runs train on.
    fn backend(&self) -> AnyBackend {
        make_backend(self.runs[self.main].kind, &self.gpu)
    }

    fn want_frame(&mut self, pictures: bool) {
        self.want_frame_of(self.main, pictures);
    }

    fn want_frame_of(&mut self, i: usize, pictures: bool) {
        let r = &mut self.runs[i];
        let p = r.wanted.is_some_and(|w| w.pictures) || pictures;
        r.wanted = Some(Wanted { pictures: p });
    }

    /// The index of the run with this id.
    fn find(&self, id: u32) -> Result<usize, String> {
        self.runs.iter().position(|r| r.id == id).ok_or_else(|| "That run is no longer compared.".to_string())
    }

    /// A new session in place of the main one (which stays if the new one cannot be built),
    /// on the backend the choice gives for it; a note if that choice says something.
    async fn replace_session(&mut self, id: &str) -> Result<Option<String>, String> {
        let setup = Setup { seed: self.setup.seed, cap: self.setup.cap, ..Setup::new(crate::core::config::preset(id).unwrap_or_else(|| self.setup.config.clone())) };
        // Runs compared train on one backend; a run alone goes by the choice for its model.
        let (kind, note) = if self.runs.len() > 1 {
            (self.runs[self.main].kind, None)
        } else {
            decide(&self.gpu, self.adapter.as_ref(), self.forced, id, &setup.config, &mut self.choices).await
        };
        let s = session::build(&setup, id, make_backend(kind, &self.gpu), &self.data)?;
        let r = &mut self.runs[self.main];
        r.session = s;
        r.kind = kind;
        r.gpu_steps = 1;
        r.background = true;
        Ok(note)
    }

    /// The main run with another model description, fresh from step 0 with the same seed (it
    /// trains on if the others do, catching up with them first). A description that does not
    /// validate or build leaves the run as it was.
    fn rebuild_main(&mut self, cfg: ModelConfig) -> Result<(), String> {
        if self.runs[self.main].session.model().is_none() {
            return Err(only_models("model shape"));
        }
        cfg.validate().map_err(|e| format!("That model cannot be built: {e}. It stays as it was."))?;
        let session = ModelSession::new(cfg, self.setup.seed, self.backend(), &self.data).map_err(|e| format!("That model cannot be built: {e}. It stays as it was."))?;
        let others_train = self.runs.iter().enumerate().any(|(i, r)| i != self.main && r.state == RunState::Training);
        let r = &mut self.runs[self.main];
        r.session = Box::new(session);
        r.state = if others_train { RunState::Training } else { RunState::Ready };
        r.gpu_steps = 1;
        r.background = true;
        Ok(())
    }

    /// Runs compared: a copy of the main run's model and settings from step 0, with the same
    /// seed, on the same backend; it becomes the main one.
    fn compare(&mut self) -> Result<char, String> {
        if self.runs.len() >= MAX_RUNS {
            return Err(format!("At most {MAX_RUNS} runs are compared at once: remove one (the runs table's Remove) to add another."));
        }
        let kind = self.runs[self.main].kind;
        let cfg = match self.runs[self.main].session.model() {
            Some(_) => self.runs[self.main].session.info().config.ok_or("this run has no model to copy")?,
            None => return Err("Runs are compared for single models (the model presets); a recipe or a scene trains alone.".into()),
        };
        let session = ModelSession::new(cfg, self.setup.seed, self.backend(), &self.data)?;
        let label = ('A'..='Z').find(|l| !self.runs.iter().any(|r| r.label == *l)).unwrap_or('?');
        let mut run = Run::new(self.next_id, label, Box::new(session), kind);
        self.next_id += 1;
        // It trains with the others (catching up with them first: the run furthest behind
        // gets the next slice).
        let training = self.state() == RunState::Training;
        if training {
            run.state = RunState::Training;
        }
        let at = self.runs.iter().position(|r| r.label > label).unwrap_or(self.runs.len());
        self.runs.insert(at, run);
        self.main = at;
        Ok(label)
    }

    /// Carries out a command. Frames it makes due come from the next [`Self::tick`] (a
    /// stroke on the pad sends many commands; they fold into one frame).
    pub async fn handle(&mut self, cmd: Command) -> Vec<Event> {
        let mut ev = Vec::new();
        match cmd {
            Command::Train => {
                let mut changed = false;
                for i in 0..self.runs.len() {
                    if self.runs[i].session.finished() {
                        let be = self.backend();
                        if let Err(e) = self.runs[i].session.reset(be, &self.data) {
                            ev.push(Event::Error(e));
                            return ev;
                        }
                    }
                    let r = &mut self.runs[i];
                    if r.state != RunState::Training {
                        r.state = RunState::Training;
                        r.last_frame_ms = now_ms();
                        changed = true;
                    }
                }
                if changed {
                    ev.push(Event::Status(self.status()));
                }
            }
            // Pause, Step and Reset send the frame of where training stopped before the
            // status that says so: the page's numbers are final once it shows the new state.
            Command::Pause => {
                if self.state() == RunState::Training {
                    for i in 0..self.runs.len() {
                        if self.runs[i].state == RunState::Training {
                            self.runs[i].state = RunState::Paused;
                        }
                        self.settle(i, &mut ev).await;
                    }
                    ev.push(Event::Status(self.status()));
                }
            }
            Command::Step => {
                if self.state() != RunState::Training {
                    for i in 0..self.runs.len() {
                        let r = &mut self.runs[i];
                        if r.session.finished() {
                            continue;
                        }
                        if r.session.slice(Budget::Steps(1)) == AfterSlice::Advance {
                            if let Err(e) = r.session.advance().await {
                                ev.push(Event::Error(e));
                            }
                        }
                        r.state = RunState::Paused;
                        self.settle(i, &mut ev).await;
                    }
                    ev.push(Event::Status(self.status()));
                }
            }
            Command::InsideStep => {
                if self.state() == RunState::Training {
                    ev.push(Event::Error("Pause training first: Inside a step takes the next step itself, in slow motion.".into()));
                    return ev;
                }
                let id = self.runs[self.main].id;
                let inside = match self.runs[self.main].session.model() {
                    Some(m) => Some(m.inside_step(id).await),
                    None => None,
                };
                match inside {
                    None => ev.push(Event::Error(only_models("Inside a step"))),
                    Some(Err(why)) => {
                        ev.extend(self.recover(why).await);
                        return ev;
                    }
                    Some(Ok(s)) => ev.push(Event::Inside(Box::new(s))),
                }
                // The other runs of a comparison take their next step too (they stay step for step).
                for i in 0..self.runs.len() {
                    let r = &mut self.runs[i];
                    if i != self.main && !r.session.finished() && r.session.slice(Budget::Steps(1)) == AfterSlice::Advance {
                        if let Err(e) = r.session.advance().await {
                            ev.push(Event::Error(e));
                        }
                    }
                    r.state = RunState::Paused;
                    self.settle(i, &mut ev).await;
                }
                ev.push(Event::Status(self.status()));
            }
            Command::Reset => {
                for i in 0..self.runs.len() {
                    let be = self.backend();
                    match self.runs[i].session.reset(be, &self.data) {
                        Ok(()) => self.runs[i].state = RunState::Ready,
                        Err(e) => ev.push(Event::Error(format!("Could not start over: {e}"))),
                    }
                    self.settle(i, &mut ev).await;
                }
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
                let alone = matches!(catalogue::kind(&id), Some(catalogue::Kind::Recipe | catalogue::Kind::Scene));
                if alone && self.runs.len() > 1 {
                    // A recipe or a scene trains alone: the comparison ends.
                    let main = self.runs.remove(self.main);
                    self.runs = vec![main];
                    self.main = 0;
                    ev.push(Event::Note(format!("The comparison ended: {} trains alone (runs are compared for single models).", catalogue::title(&id))));
                }
                match self.replace_session(&id).await {
                    Ok(note) => {
                        ev.extend(note.map(Event::Note));
                        self.runs[self.main].state = RunState::Ready;
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
                    match self.runs[self.main].session.model() {
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
                    let done = match self.runs[self.main].session.model() {
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
                match self.runs[self.main].session.model() {
                    Some(m) => m.set_noise(n),
                    None => ev.push(Event::Error(only_models("noise"))),
                }
                ev.push(Event::Status(self.status()));
                self.want_frame(false);
            }
            Command::SetBackend(k) => ev.extend(self.switch_backend(k).await),
            Command::SetModel(cfg) => {
                match self.rebuild_main(*cfg) {
                    Ok(()) => self.want_frame(true),
                    Err(e) => ev.push(Event::Error(e)),
                }
                ev.push(Event::Status(self.status()));
            }
            Command::SetCap(cap) => {
                self.setup.cap = cap;
                let be = self.backend();
                let done = match self.runs[self.main].session.recipe() {
                    Some(r) => r.set_cap(cap, be, &self.data),
                    None => Err(ONLY_RECIPES.to_string()),
                };
                match done {
                    Ok(()) => self.runs[self.main].state = RunState::Ready,
                    Err(e) => ev.push(Event::Error(e)),
                }
                ev.push(Event::Status(self.status()));
                self.want_frame(true);
            }
            Command::PadInk(img) => {
                self.pad = img.filter(|v| v.len() == 784 && v.iter().any(|&p| p > 0.0));
                if let Some(m) = self.runs[self.main].session.model() {
                    m.pad_changed();
                }
                self.want_frame(true);
            }
            Command::NewNoise => {
                self.pad_noise = self.pad_noise.wrapping_add(0x9E37_79B9);
                self.want_frame(false);
            }
            Command::NewSamples => {
                for i in 0..self.runs.len() {
                    if let Some(m) = self.runs[i].session.model() {
                        m.new_samples();
                    }
                    self.want_frame_of(i, true);
                }
            }
            Command::Save => match self.saved().await {
                Ok((name, _, bytes)) => ev.push(Event::Saved { name, bytes }),
                Err(e) => ev.push(Event::Error(e)),
            },
            Command::SaveRun(id) => match self.find(id) {
                Ok(i) => match self.saved_of(i).await {
                    Ok((name, _, bytes)) => ev.push(Event::Saved { name, bytes }),
                    Err(e) => ev.push(Event::Error(e)),
                },
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
            Command::Compare => {
                match self.compare() {
                    Ok(label) => {
                        let was = self.runs.iter().filter(|r| r.label != label).map(|r| r.label.to_string()).collect::<Vec<_>>().join(", ");
                        ev.push(Event::Note(format!(
                            "Run {label} added: a copy of {was} from step 0 with the same seed, so it sees the same minibatches. The controls now change run {label}; change what you want to compare."
                        )));
                    }
                    Err(e) => ev.push(Event::Error(e)),
                }
                ev.push(Event::Status(self.status()));
                self.want_frame(true);
            }
            Command::MakeMain(id) => match self.find(id) {
                Ok(i) => {
                    self.main = i;
                    ev.push(Event::Status(self.status()));
                    self.want_frame(true);
                }
                Err(e) => ev.push(Event::Error(e)),
            },
            Command::RemoveRun(id) => match self.find(id) {
                Ok(_) if self.runs.len() == 1 => ev.push(Event::Error("The last run stays: pick another model instead.".into())),
                Ok(i) => {
                    let main_id = self.runs[self.main].id;
                    self.runs.remove(i);
                    self.main = self.runs.iter().position(|r| r.id == main_id).unwrap_or(0);
                    ev.push(Event::Status(self.status()));
                    self.want_frame(true);
                }
                Err(e) => ev.push(Event::Error(e)),
            },
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
            TestHook::Probe => {
                let mut held = Held { allocated_bytes: 0, history_points: 0 };
                for r in &mut self.runs {
                    held.allocated_bytes += r.session.backend().allocated_bytes();
                    held.history_points += r.session.history_points();
                }
                Some(held)
            }
        }
    }

    /// The main model as a file: its name, its step and its bytes (single models only).
    pub async fn saved(&mut self) -> Result<(String, u64, Vec<u8>), String> {
        self.saved_of(self.main).await
    }

    /// Run `i` as a file (a run of a comparison is named by its letter too).
    async fn saved_of(&mut self, i: usize) -> Result<(String, u64, Vec<u8>), String> {
        let compared = self.runs.len() > 1;
        let r = &mut self.runs[i];
        let label = r.label;
        let m = match r.session.model() {
            Some(m) => m.save().await?,
            None => return Err(NOT_SAVED.to_string()),
        };
        let name = if compared { format!("{}-run{label}-step{}.safetensors", m.config.name, m.step) } else { format!("{}-step{}.safetensors", m.config.name, m.step) };
        Ok((name, m.step, to_safetensors(&m)))
    }

    /// Continues a saved model (its preset may differ) on the current backend, at its step,
    /// epoch and position with its optimizer state, in place of the main run; training
    /// stops. Gives the model's title and step. A file that cannot be read or built leaves
    /// the current session as it was. The page learns of it from the next status and frame
    /// ([`Self::status`], a tick).
    pub fn load(&mut self, bytes: &[u8]) -> Result<(String, u64), String> {
        let m = from_safetensors(bytes).map_err(|e| e.to_string())?;
        let s = ModelSession::resume(&m, self.backend(), &self.data)?;
        for r in &mut self.runs {
            if r.state == RunState::Training {
                r.state = RunState::Paused;
            }
        }
        let r = &mut self.runs[self.main];
        r.session = Box::new(s);
        r.background = true;
        self.setup.recipe = None;
        self.setup.scene = None;
        self.setup.seed = m.seed;
        r.state = RunState::Paused;
        self.want_frame(true);
        Ok((catalogue::title(&m.config.name).to_string(), m.step))
    }

    async fn switch_backend(&mut self, k: BackendKind) -> Vec<Event> {
        let mut ev = Vec::new();
        if k == self.runs[self.main].kind {
            return ev;
        }
        if k == BackendKind::Gpu && self.gpu.is_none() {
            ev.push(Event::Error("WebGPU is not available here, so training stays on the CPU.".into()));
            return ev;
        }
        // The user's choice holds from now on (no more choosing by measurement).
        self.forced = Some(k);
        for i in 0..self.runs.len() {
            let be = make_backend(k, &self.gpu);
            match self.runs[i].session.move_to(be, &self.data).await {
                Ok(note) => {
                    let r = &mut self.runs[i];
                    r.kind = k;
                    r.gpu_steps = 1;
                    if let Some(n) = note {
                        ev.push(Event::Note(n));
                        if r.state == RunState::Training && r.session.step_count() == 0 {
                            r.state = RunState::Ready;
                        }
                    }
                    self.want_frame_of(i, true);
                }
                Err(why) if self.runs[i].kind == BackendKind::Gpu => {
                    ev.extend(self.recover(why).await);
                    return ev;
                }
                Err(e) => {
                    ev.push(Event::Error(format!("Could not switch backend: {e}")));
                    break;
                }
            }
        }
        ev.push(Event::Status(self.status()));
        ev
    }

    /// The device failed: every run continues on a new GPU device, else on the CPU, from
    /// its session's last read-back.
    async fn recover(&mut self, why: String) -> Vec<Event> {
        let mut ev = Vec::new();
        // A failed read-back is usually the symptom; the device's own report (lost, with its
        // reason) arrives a moment later and says more.
        let mut reported = None;
        for _ in 0..10 {
            reported = self.runs[self.main].session.backend().health().err();
            if reported.is_some() {
                break;
            }
            sleep_ms(100.0).await;
        }
        let why = reported.unwrap_or_else(|| format!("the GPU stopped answering ({why}), so the device is treated as lost"));
        self.gpu = if self.devices == Devices::Any { GpuContext::new().await.ok() } else { None };
        let kind = if self.gpu.is_some() { BackendKind::Gpu } else { BackendKind::Cpu };
        for i in 0..self.runs.len() {
            let be = make_backend(kind, &self.gpu);
            let compared = self.runs.len() > 1;
            let r = &mut self.runs[i];
            r.kind = kind;
            r.gpu_steps = 1;
            match r.session.recover(be, &self.data) {
                Ok(from) => {
                    let now = r.session.backend().name();
                    let whose = if compared { format!("Run {} continues", r.label) } else { "Training continues".into() };
                    ev.push(Event::Note(format!("{why}. {whose} on {now} {from}.")));
                }
                Err(e) => {
                    r.state = RunState::Paused;
                    ev.push(Event::Error(format!("{why}, and training could not be moved: {e}")));
                }
            }
            self.want_frame_of(i, true);
        }
        ev.push(Event::Status(self.status()));
        ev
    }

    /// Makes the frame of run `i` a command asked for now (with every picture).
    async fn settle(&mut self, i: usize, ev: &mut Vec<Event>) {
        self.runs[i].wanted = None;
        if let Err(why) = self.frame(i, true, ev).await {
            ev.extend(self.recover(why).await);
        }
    }

    /// Makes a frame of run `i` now.
    async fn frame(&mut self, i: usize, pictures: bool, ev: &mut Vec<Event>) -> Result<(), String> {
        let now = now_ms();
        let main = i == self.main;
        let compared = self.runs.len() > 1;
        let r = &mut self.runs[i];
        let pictures = pictures || r.state != RunState::Training || now - r.last_pictures_ms >= r.pictures_every_ms;
        let ctx = FrameCtx {
            data: &self.data,
            grid: &self.grid,
            // The drawing is the main run's.
            pad: if main { self.pad.as_deref() } else { None },
            pad_noise: self.pad_noise,
            pictures,
            running: r.state == RunState::Training,
        };
        let mut produced = r.session.frame(ctx).await?;
        produced.frame.run = r.id;
        r.last_frame_ms = now_ms();
        let took = r.last_frame_ms - now;
        if pictures {
            r.last_pictures_ms = r.last_frame_ms;
            r.pictures_every_ms = PICTURES_MS.max(PICTURES_SPACING * took);
        } else {
            r.frame_cost_ms = took;
        }
        if let Some(halt) = produced.halt {
            r.state = RunState::Paused;
            let halt = if compared { format!("Run {}: {halt}", r.label) } else { halt };
            ev.push(Event::Error(halt));
            ev.push(Event::Status(self.status()));
        }
        ev.push(Event::Frame(Box::new(produced.frame)));
        Ok(())
    }

    /// The training run to slice next: the one with the fewest steps (runs compared go
    /// step for step, a run added later catching up first), the first in label order on a
    /// tie.
    fn next_run(&self) -> Option<usize> {
        (0..self.runs.len()).filter(|&i| self.runs[i].state == RunState::Training).min_by_key(|&i| self.runs[i].session.step_count())
    }

    /// One round of work: a slice of training of one run (and its frame when one is due),
    /// or the frames commands asked for, or a piece of the sessions' work beside training.
    pub async fn tick(&mut self) -> Vec<Event> {
        let mut ev = Vec::new();
        // The runs not training: their work beside training and the frames asked for.
        for i in 0..self.runs.len() {
            if self.runs[i].state == RunState::Training {
                continue;
            }
            let r = &mut self.runs[i];
            if r.background {
                r.background = r.session.background(&self.data);
                if !r.background {
                    self.want_frame_of(i, false); // the work is done: show it
                }
            }
            if let Some(w) = self.runs[i].wanted.take() {
                if let Err(why) = self.frame(i, w.pictures, &mut ev).await {
                    ev.extend(self.recover(why).await);
                    return ev;
                }
            }
        }
        let Some(i) = self.next_run() else { return ev };
        if let Err(why) = self.runs[i].session.backend().health() {
            return self.recover(why).await;
        }
        let t0 = now_ms();
        let r = &mut self.runs[i];
        let budget = match r.kind {
            // A paced scene takes its own steps per slice and a frame after each.
            BackendKind::Gpu if r.session.pacing_ms().is_none() => Budget::Steps(r.gpu_steps),
            _ => Budget::Until(t0 + SLICE_MS),
        };
        // A test's stop: slices of a few steps up to it (then the pause below).
        let budget = match self.pause_at.map(|s| s.saturating_sub(r.session.step_count()) as usize) {
            Some(left) => Budget::Steps(left.min(match budget {
                Budget::Steps(n) => n,
                Budget::Until(_) => 8,
            })),
            None => budget,
        };
        let due = r.session.slice(budget);
        if r.background {
            r.background = r.session.background(&self.data);
        }
        if due == AfterSlice::Advance {
            if let Err(e) = r.session.advance().await {
                r.state = RunState::Paused;
                ev.push(Event::Error(e));
                ev.push(Event::Status(self.status()));
            }
        }
        let r = &mut self.runs[i];
        let stop = self.pause_at.is_some_and(|s| r.session.step_count() >= s);
        if (stop || r.session.finished()) && r.state == RunState::Training {
            r.state = RunState::Paused;
            ev.push(Event::Status(self.status()));
        }
        let r = &mut self.runs[i];
        let paced = r.session.pacing_ms().is_some();
        if r.kind == BackendKind::Gpu && !paced {
            // Wait (without blocking) for the device before recording more (or reading a
            // frame, whose cost is then its own), and size the next slice to the time this
            // one took.
            match r.session.fence().await {
                Ok(_) => {
                    let took = now_ms() - t0;
                    let scaled = (r.gpu_steps as f64 * GPU_SLICE_MS / took.max(1.0)).round() as usize;
                    r.gpu_steps = scaled.clamp(1, (r.gpu_steps * 2).max(2)).min(MAX_GPU_STEPS);
                }
                Err(why) => {
                    ev.extend(self.recover(why).await);
                    return ev;
                }
            }
        }
        let every = self.frame_every_ms(i);
        let r = &mut self.runs[i];
        let wanted = r.wanted.take();
        let frame_due = wanted.is_some() || due != AfterSlice::Nothing || paced || now_ms() - r.last_frame_ms >= every || r.state != RunState::Training;
        if frame_due {
            if let Err(why) = self.frame(i, wanted.is_some_and(|w| w.pictures), &mut ev).await {
                ev.extend(self.recover(why).await);
            }
        }
        ev
    }

    /// How long after the last frame the next is due while training: [`FRAME_MS`], or
    /// longer where frames cost more than a [`FRAME_SPACING`]th of that (a test's faster
    /// frames are taken as asked).
    fn frame_every_ms(&self, i: usize) -> f64 {
        if self.frame_ms < FRAME_MS {
            self.frame_ms
        } else {
            self.frame_ms.max(FRAME_SPACING * self.runs[i].frame_cost_ms)
        }
    }
}
