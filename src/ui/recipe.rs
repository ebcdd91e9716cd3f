//! Multi-phase recipes in the page (`stacked_greedy`, `sda`, `pretrain_classifier`; the
//! pipeline is `train::pipeline`). A recipe runs here, beside the single-model engine:
//! picked in the preset list, the gallery or the link (`preset=sda`), it takes over the
//! Train / Pause / Step / Reset buttons, the charts, the reconstructions and the draw pad
//! until another preset is picked.
//!
//! The loop trains in slices as the engine does (at most SLICE_MS on the CPU, a number of
//! steps sized to the device on WebGPU) with [`Pipeline::train_step`], which never reads
//! anything back. When a step makes an epoch report or a phase change due, the pipeline is
//! taken out of the state, [`Pipeline::after_step`] is awaited (all its reads are
//! asynchronous) with no RefCell borrow held, and the pipeline is put back unless a reset
//! or a backend switch happened meanwhile. Switching backend restarts the recipe on the new
//! backend (a recipe holds phases, cached codes and early-stopping state that do not move).
//!
//! The page runs shortened recipes (fewer rows and epochs, see [`page_recipe`]) so that a
//! whole recipe takes a minute or two on a laptop; the panel says what was shortened.

use std::cell::{Cell, RefCell};

use leptos::prelude::*;

use crate::backend::{Backend, ReadFuture};
use crate::core::layout::ParamLayout;
use crate::data::Mnist;
use crate::model::Split;
use crate::train::pipeline::{recipe, EpochReport, Event, Pipeline, Recipe, Summary, RECIPE_NAMES};
use crate::train::Uploaded;

use super::dom::{self, now_ms, yield_now};
use super::engine::Kind;
use super::{chart, Ui};

/// Longest stretch of CPU training before yielding to the browser.
const SLICE_MS: f64 = 14.0;
/// Device time one GPU slice aims for.
const GPU_SLICE_MS: f64 = 40.0;
/// How often the pictures and the progress are refreshed while training.
const READOUT_MS: f64 = 500.0;
/// Test digits the page's recipes are evaluated on (the CLI uses all 10,000).
pub const TEST_ROWS: usize = 1000;
/// Noise streams of the pictures (training uses the step number).
const GRID_STREAM: u32 = 0xFFFF_0001;
const PAD_STREAM: u32 = 0xFFFF_0002;
/// Largest per-phase step cap the page takes.
pub const MAX_CAP: u64 = 1_000_000;

type AnyPipeline = Pipeline<Box<dyn Backend>>;

/// The recipe panel's state on the page.
#[derive(Clone, Copy)]
pub struct Signals {
    /// The recipe running (None: a single model).
    pub active: RwSignal<Option<String>>,
    /// What the page shortened, in one line.
    pub settings: RwSignal<String>,
    /// Every phase: name, what it trains, and "done" / "current" / "next".
    pub phases: RwSignal<Vec<(String, String, &'static str)>>,
    /// Index of the current phase, and a line on its progress.
    pub phase: RwSignal<usize>,
    pub progress: RwSignal<String>,
    /// running | paused | done | failed
    pub status: RwSignal<String>,
    /// The end result, once done.
    pub summary: RwSignal<Option<String>>,
    /// Why the draw pad shows nothing, or what the classifier reads.
    pub pad_note: RwSignal<Option<String>>,
    /// The step cap of every phase (None: whole epochs).
    pub cap: RwSignal<Option<u64>>,
}

impl Signals {
    pub fn new() -> Self {
        Signals {
            active: RwSignal::new(None),
            settings: RwSignal::new(String::new()),
            phases: RwSignal::new(Vec::new()),
            phase: RwSignal::new(0),
            progress: RwSignal::new(String::new()),
            status: RwSignal::new(String::new()),
            summary: RwSignal::new(None),
            pad_note: RwSignal::new(None),
            cap: RwSignal::new(None),
        }
    }
}

impl Default for Signals {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `name` is a multi-phase recipe.
pub fn is_recipe(name: &str) -> bool {
    RECIPE_NAMES.contains(&name)
}

/// The recipe as the page runs it: the sources' models with fewer rows and epochs, so a
/// phase takes seconds; and one line saying what was shortened.
pub fn page_recipe(name: &str) -> Option<(Recipe, &'static str)> {
    let mut r = recipe(name)?;
    let note = match &mut r {
        Recipe::StackedGreedy(g) => {
            g.train_rows = 20_000;
            g.epochs = vec![2, 2];
            "Shortened for the page: each pair trains 2 epochs on the first 20,000 training images (the CLI: 1 epoch on 60,000); losses on 1,000 test digits."
        }
        Recipe::Sda(s) => {
            s.train_rows = 2000;
            s.validation_rows = 1000;
            s.pretrain_epochs = 1;
            s.max_epochs = 5;
            "Shortened for the page: 2,000 training and 1,000 validation images, 1 pre-training epoch per layer and at most 5 fine-tuning epochs (the CLI: 50,000 + 10,000 images, 15 epochs per layer, up to 1,000 epochs with early stopping); errors on 1,000 test digits."
        }
        Recipe::PretrainClassifier(p) => {
            p.pretrain_rows = 20_000;
            "Shortened for the page: the autoencoder pre-trains 1 epoch on the first 20,000 images without labels (the CLI: 60,000); both classifiers then train 10 epochs on 1,000 labelled images; accuracy on 1,000 test digits."
        }
    };
    Some((r, note))
}

/// Training rows a recipe reads (the first ones of the training set).
fn rows_needed(r: &Recipe) -> usize {
    match r {
        Recipe::StackedGreedy(g) => g.train_rows,
        Recipe::Sda(s) => s.train_rows + s.validation_rows,
        Recipe::PretrainClassifier(p) => p.pretrain_rows.max(p.labelled),
    }
}

/// Uploads the first `rows` training images and the first [`TEST_ROWS`] test images with
/// their labels: all a recipe in the page reads.
fn upload(be: &mut Box<dyn Backend>, mnist: &Mnist, rows: usize) -> Result<Uploaded, String> {
    let d = mnist.train.dim();
    let rows = rows.min(mnist.train.items);
    let test_rows = TEST_ROWS.min(mnist.test.items);
    crate::train::check_bytes(be, "the training images", (rows * d) as u64)?;
    let train = be.upload_u8(&mnist.train.pixels[..rows * d], d);
    let train_labels = be.upload_u8(&mnist.train.labels[..rows], 1);
    let test = be.upload_u8(&mnist.test.pixels[..test_rows * d], d);
    let test_labels = be.upload_u8(&mnist.test.labels[..test_rows], 1);
    Ok(Uploaded {
        train: Split { data: train, labels: Some(train_labels) },
        train_rows: rows,
        test: Split { data: test, labels: Some(test_labels) },
        test_rows,
    })
}

struct Run {
    name: String,
    recipe: Recipe,
    kind: Kind,
    /// None while [`Pipeline::after_step`] is being awaited outside.
    pipeline: Option<AnyPipeline>,
    running: bool,
    generation: u64,
    gpu_steps: usize,
    last_readout_ms: f64,
    /// Every epoch report so far, and the global step at which each phase started.
    reports: Vec<EpochReport>,
    offsets: Vec<u64>,
    summary: Option<Summary>,
    early_stop: Option<String>,
    grid: Vec<f32>,
    pad: Option<Vec<f32>>,
    pad_noise: u32,
    /// Refresh calls that arrive while one awaits its reads fold into one more round.
    rounds: super::engine::Rounds,
}

thread_local! {
    static RUN: RefCell<Option<Run>> = const { RefCell::new(None) };
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    /// The pad's drawing and noise, kept while no recipe runs too.
    static PAD: RefCell<(Option<Vec<f32>>, u32)> = const { RefCell::new((None, 0)) };
}

fn with_run<R>(f: impl FnOnce(&mut Run) -> R) -> Option<R> {
    RUN.with(|r| r.borrow_mut().as_mut().map(f))
}

fn next_generation() -> u64 {
    GENERATION.with(|g| {
        g.set(g.get() + 1);
        g.get()
    })
}

/// Whether a recipe owns the page now.
pub fn active() -> bool {
    RUN.with(|r| r.borrow().is_some())
}

/// The recipe and the step cap, for the page's link.
pub fn current() -> Option<(String, Option<u64>)> {
    let name = with_run(|r| r.name.clone())?;
    Some((name, CAP.with(|c| c.get())))
}

thread_local! {
    /// The per-phase step cap (from the link or the panel).
    static CAP: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Sets the per-phase step cap used by the next start (the link's `cap=`).
pub fn set_cap(cap: Option<u64>) {
    CAP.with(|c| c.set(cap));
}

/// Leaves recipe mode (another preset was picked).
pub fn stop(ui: Ui) {
    if RUN.with(|r| r.borrow_mut().take()).is_some() {
        next_generation();
        ui.recipe.active.set(None);
        ui.recipe.summary.set(None);
        ui.recipe.pad_note.set(None);
    }
}

/// Starts recipe `name` (paused at step 0) on the backend now in use.
pub fn start(ui: Ui, name: &str) {
    let Some((recipe, settings)) = page_recipe(name) else {
        ui.error.set(Some(format!("There is no recipe called '{name}'. Recipes: {}", RECIPE_NAMES.join(", "))));
        return;
    };
    RUN.with(|r| r.borrow_mut().take());
    let generation = next_generation();
    let cap = CAP.with(|c| c.get());
    let built = super::engine::for_recipe(|mut be, kind, mnist, grid, seed| -> Result<(AnyPipeline, Kind, Vec<f32>), String> {
        let up = upload(&mut be, mnist, rows_needed(&recipe))?;
        let mut p = Pipeline::from_uploaded(be, &recipe, up, seed)?;
        p.set_step_cap(cap);
        Ok((p, kind, grid.to_vec()))
    });
    let (pad, pad_noise) = PAD.with(|p| p.borrow().clone());
    ui.recipe.settings.set(settings.into());
    ui.recipe.cap.set(cap);
    ui.recipe.summary.set(None);
    ui.recipe.pad_note.set(None);
    ui.preset.set(name.to_string());
    ui.clear_losses();
    ui.step.set(0);
    ui.epoch.set(0.0);
    ui.loss_label.set("loss of the phase's model".into());
    ui.has_generated.set(false);
    ui.has_sparsity.set(false);
    match built {
        Some(Ok((mut pipeline, kind, grid))) => {
            ui.error.set(None);
            let events = pipeline.take_events();
            let run = Run {
                name: name.to_string(),
                recipe: recipe.clone(),
                kind,
                pipeline: Some(pipeline),
                running: false,
                generation,
                gpu_steps: 1,
                last_readout_ms: now_ms(),
                reports: Vec::new(),
                offsets: Vec::new(),
                summary: None,
                early_stop: None,
                grid,
                pad,
                pad_noise,
                rounds: Default::default(),
            };
            RUN.with(|r| *r.borrow_mut() = Some(run));
            ui.recipe.active.set(Some(name.to_string()));
            ui.recipe.status.set("paused".into());
            with_run(|r| r.apply_events(ui, events));
            ui.state.set("ready".into());
            blank_single_model_pictures();
            wasm_bindgen_futures::spawn_local(refresh(ui));
        }
        Some(Err(e)) => {
            ui.recipe.active.set(None);
            ui.error.set(Some(format!(
                "{name} does not fit this device: {e}. Switch the backend to the CPU, or pick a single-model preset."
            )));
            ui.state.set("ready".into());
        }
        None => {}
    }
}

/// The canvases of the single-model pictures that a recipe does not draw.
fn blank_single_model_pictures() {
    for (id, why) in [
        ("latent", "Latent space: not drawn for multi-phase recipes"),
        ("interp", "not drawn for recipes"),
        ("generated", "not drawn for recipes"),
        ("sparsity", "not drawn for recipes"),
    ] {
        note_on_canvas(id, why);
    }
}

/// Clears a canvas and writes one line on it.
fn note_on_canvas(id: &str, text: &str) {
    let Some(c) = dom::canvas(id) else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    ctx.set_fill_style_str("#f3f4f6");
    ctx.fill_rect(0.0, 0.0, c.width() as f64, c.height() as f64);
    ctx.set_fill_style_str("#374151");
    ctx.set_font("13px system-ui, sans-serif");
    // Wrapped to the canvas's width (about 6.5 px a character).
    let per_line = ((c.width() as f64 - 12.0) / 6.5).max(8.0) as usize;
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("a line");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > per_line {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let _ = ctx.fill_text(line, 6.0, 16.0 + 16.0 * i as f64);
    }
}

/// Restarts the recipe from its first phase (Reset).
pub fn reset(ui: Ui) {
    if let Some(name) = with_run(|r| r.name.clone()) {
        start(ui, &name);
    }
}

/// The backend was switched: the recipe restarts on the new one.
pub fn backend_switched(ui: Ui) {
    if let Some(name) = with_run(|r| r.name.clone()) {
        start(ui, &name);
        ui.note.set(Some(format!(
            "Switching backend restarted {name} from its first phase on the new backend: a recipe's finished phases, cached codes and early stopping do not move between backends."
        )));
    }
}

/// The panel's step cap changed: restart with it.
pub fn cap_changed(ui: Ui, cap: Option<u64>) {
    set_cap(cap.map(|c| c.clamp(1, MAX_CAP)));
    super::urlsync::schedule_sync();
    reset(ui);
}

pub fn train(ui: Ui) {
    let Some(state) = with_run(|r| {
        if r.running {
            return None;
        }
        let done = r.pipeline.as_ref().is_some_and(|p| p.is_done());
        Some((done, r.generation))
    })
    .flatten() else {
        return;
    };
    if state.0 {
        // Train again from the start.
        reset(ui);
    }
    let Some(generation) = with_run(|r| {
        r.running = true;
        r.last_readout_ms = now_ms();
        r.generation
    }) else {
        return;
    };
    ui.state.set("training".into());
    ui.recipe.status.set("running".into());
    wasm_bindgen_futures::spawn_local(run(ui, generation));
}

pub fn pause(ui: Ui) {
    with_run(|r| r.running = false);
    ui.state.set("paused".into());
    let done = with_run(|r| r.summary.is_some()).unwrap_or(false);
    ui.recipe.status.set(if done { "done" } else { "paused" }.into());
    wasm_bindgen_futures::spawn_local(refresh(ui));
}

/// One step (when paused), with what it made due, then a refresh.
pub fn step(ui: Ui) {
    let taken = with_run(|r| {
        if r.running {
            return None;
        }
        let p = r.pipeline.as_mut()?;
        if p.is_done() {
            return None;
        }
        if p.train_step() {
            return Some((r.pipeline.take(), r.generation));
        }
        p.trainer_mut().be.flush();
        Some((None, r.generation))
    })
    .flatten();
    let Some((pipeline, generation)) = taken else { return };
    wasm_bindgen_futures::spawn_local(async move {
        if let Some(p) = pipeline {
            advance(ui, generation, p).await;
        }
        refresh(ui).await;
    });
}

/// The pad changed (the engine preprocessed it).
pub fn pad_changed(img: Option<Vec<f32>>) {
    PAD.with(|p| p.borrow_mut().0 = img.clone());
    with_run(|r| r.pad = img);
}

pub fn new_noise() {
    let noise = PAD.with(|p| {
        let mut p = p.borrow_mut();
        p.1 = p.1.wrapping_add(0x9E37_79B9);
        p.1
    });
    with_run(|r| r.pad_noise = noise);
}

/// What the training loop does after a slice.
enum Next {
    Stop,
    Due(Box<AnyPipeline>),
    Readout(Reads),
    Fence(ReadFuture, f64),
    Yield,
    Failed(String),
}

async fn run(ui: Ui, generation: u64) {
    loop {
        let next = with_run(|r| {
            if !r.running || r.generation != generation {
                return Next::Stop;
            }
            let Some(p) = r.pipeline.as_mut() else { return Next::Stop };
            if p.is_done() {
                return Next::Stop;
            }
            if let Err(why) = p.trainer().be.health() {
                return Next::Failed(why);
            }
            let t0 = now_ms();
            let mut due = false;
            if r.kind == Kind::Gpu {
                for _ in 0..r.gpu_steps {
                    if p.train_step() {
                        due = true;
                        break;
                    }
                }
            } else {
                while now_ms() - t0 < SLICE_MS {
                    if p.train_step() {
                        due = true;
                        break;
                    }
                }
            }
            p.trainer_mut().be.flush();
            if due {
                return Next::Due(Box::new(r.pipeline.take().expect("pipeline")));
            }
            if now_ms() - r.last_readout_ms >= READOUT_MS {
                r.last_readout_ms = now_ms();
                if let Some(reads) = r.begin_readout() {
                    return Next::Readout(reads);
                }
            }
            if r.kind == Kind::Gpu {
                let t = p_fence(r);
                Next::Fence(t, t0)
            } else {
                Next::Yield
            }
        })
        .unwrap_or(Next::Stop);
        match next {
            Next::Stop => break,
            Next::Yield => yield_now().await,
            Next::Failed(why) => {
                fail(ui, generation, format!("the device failed ({why})"));
                break;
            }
            Next::Due(p) => {
                let more = advance(ui, generation, *p).await;
                refresh(ui).await; // the new phase's (or the final model's) pictures
                if !more {
                    break;
                }
                yield_now().await;
            }
            Next::Readout(reads) => match reads.resolve().await {
                Ok(v) => {
                    with_run(|r| r.apply_readout(ui, v));
                    yield_now().await;
                }
                Err(why) => {
                    fail(ui, generation, format!("a read-back failed ({why})"));
                    break;
                }
            },
            Next::Fence(f, t0) => match f.await {
                Ok(_) => {
                    let took = now_ms() - t0;
                    with_run(|r| {
                        let scaled = (r.gpu_steps as f64 * GPU_SLICE_MS / took.max(1.0)).round() as usize;
                        r.gpu_steps = scaled.clamp(1, (r.gpu_steps * 2).max(2)).min(256);
                    });
                }
                Err(why) => {
                    fail(ui, generation, format!("the device failed ({why})"));
                    break;
                }
            },
        }
    }
}

/// A one-element read that completes once the device has run what was recorded.
fn p_fence(r: &mut Run) -> ReadFuture {
    let p = r.pipeline.as_mut().expect("pipeline");
    let t = p.trainer_mut();
    let fence = t.model.fence();
    t.be.read_async(fence)
}

/// The recipe cannot go on: say why and what to do.
fn fail(ui: Ui, generation: u64, why: String) {
    let stale = with_run(|r| {
        if r.generation != generation {
            return true;
        }
        r.running = false;
        false
    })
    .unwrap_or(true);
    if stale {
        return;
    }
    ui.recipe.status.set("failed".into());
    ui.state.set("paused".into());
    ui.error.set(Some(format!("The recipe stopped: {why}. Press Reset to start it again, or switch the backend to the CPU.")));
}

/// Awaits what a step made due (the pipeline is out of the state meanwhile, so no borrow
/// is held across the reads) and puts the pipeline back, unless a reset or a backend
/// switch replaced it. Returns whether the loop may go on.
async fn advance(ui: Ui, generation: u64, mut p: AnyPipeline) -> bool {
    let result = p.after_step().await;
    let go_on = with_run(|r| {
        if r.generation != generation {
            return None; // replaced meanwhile: this pipeline is dropped
        }
        let done = p.is_done();
        match result {
            Ok(events) => {
                r.pipeline = Some(p);
                r.apply_events(ui, events);
                Some(Ok(!done))
            }
            // A failed phase change can leave the pipeline between phases: drop it (Reset
            // starts the recipe again).
            Err(e) => Some(Err(e)),
        }
    })
    .flatten();
    match go_on {
        Some(Ok(more)) => more,
        Some(Err(e)) => {
            fail(ui, generation, e);
            false
        }
        None => false,
    }
}

/// Starts, awaits and applies a refresh of the pictures (calls meanwhile fold into one more).
pub async fn refresh(ui: Ui) {
    if with_run(|r| r.rounds.request()) != Some(true) {
        return;
    }
    loop {
        let Some(reads) = with_run(|r| {
            r.rounds.begin();
            r.begin_readout()
        })
        .flatten() else {
            with_run(|r| r.rounds.stop());
            return;
        };
        match reads.resolve().await {
            Ok(v) => {
                with_run(|r| r.apply_readout(ui, v));
            }
            Err(why) => {
                with_run(|r| r.rounds.stop());
                let generation = reads_generation();
                return fail(ui, generation, format!("a read-back failed ({why})"));
            }
        }
        if with_run(|r| r.rounds.end()) != Some(true) {
            return;
        }
    }
}

fn reads_generation() -> u64 {
    with_run(|r| r.generation).unwrap_or(0)
}

/// What the pad shows for the current model.
enum PadRead {
    /// An autoencoder on pixels: (corrupted, reconstruction).
    Denoise(ReadFuture, ReadFuture),
    /// A classifier on pixels: its outputs.
    Classify(ReadFuture),
}

/// Read-backs of a refresh.
struct Reads {
    params: ReadFuture,
    grid: Option<(ReadFuture, ReadFuture)>,
    pad: Option<PadRead>,
    generation: u64,
}

struct Resolved {
    params: Vec<f32>,
    grid: Option<(Vec<f32>, Vec<f32>)>,
    pad: Option<(Option<Vec<f32>>, Vec<f32>)>,
    generation: u64,
}

impl Reads {
    async fn resolve(self) -> Result<Resolved, String> {
        let params = self.params.await?;
        let grid = match self.grid {
            Some((a, b)) => Some((a.await?, b.await?)),
            None => None,
        };
        let pad = match self.pad {
            Some(PadRead::Denoise(a, b)) => Some((Some(a.await?), b.await?)),
            Some(PadRead::Classify(f)) => Some((None, f.await?)),
            None => None,
        };
        Ok(Resolved { params, grid, pad, generation: self.generation })
    }
}

impl Run {
    /// Records the pictures' forward passes and starts their reads (None while the
    /// pipeline is out for a phase change).
    fn begin_readout(&mut self) -> Option<Reads> {
        let p = self.pipeline.as_mut()?;
        let t = p.trainer_mut();
        let cfg = t.model.cfg.clone();
        let on_pixels = cfg.input_dim() == 784;
        let autoencoder = on_pixels && !cfg.is_classifier() && cfg.output_dim() == 784;
        let seed = t.noise_seed();
        let params = t.be.read_async(t.model.params);
        let grid = autoencoder.then(|| t.model.denoise_readback(&mut t.be, &self.grid, seed, GRID_STREAM, true));
        let pad = match &self.pad {
            Some(img) if autoencoder => {
                let (a, b) = t.model.denoise_readback(&mut t.be, img, seed ^ self.pad_noise, PAD_STREAM, true);
                Some(PadRead::Denoise(a, b))
            }
            Some(img) if on_pixels && cfg.is_classifier() => {
                let last = t.model.layout.dense.len() - 1;
                Some(PadRead::Classify(t.model.activations_of_images_readback(&mut t.be, img, last)))
            }
            _ => None,
        };
        t.be.flush();
        Some(Reads { params, grid, pad, generation: self.generation })
    }

    /// Draws what a refresh read back, with the progress of the phase.
    fn apply_readout(&mut self, ui: Ui, v: Resolved) {
        if v.generation != self.generation {
            return;
        }
        let Some(p) = self.pipeline.as_ref() else { return };
        let t = p.trainer();
        let cfg = &t.model.cfg;
        // Features: the current model's first layer where it sees pixels, else the frozen
        // first layer it builds on.
        let first = t.model.layout.dense[0];
        if first.fan_in == 784 && v.params.len() >= first.w + first.w_len() && !first.transposed {
            super::pictures::draw_features("features", &v.params[first.w..first.w + first.w_len()], first.fan_out);
        } else if let Some(frozen) = p.trained_params().first() {
            let s = ParamLayout::new(&self.recipe.phases()[0].config).dense[0];
            super::pictures::draw_features("features", &frozen[s.w..s.w + s.w_len()], s.fan_out);
        }
        match v.grid {
            Some((noisy, mut rec)) => {
                t.model.output_to_pixels(&mut rec);
                if let Some(c) = dom::canvas("recon") {
                    if let Some(ctx) = dom::ctx2d(&c) {
                        for (row, imgs) in [&self.grid, &noisy, &rec].into_iter().enumerate() {
                            for (i, img) in imgs.chunks(784).enumerate() {
                                dom::put_gray(&ctx, img, 28, 28, (i * 28) as f64, (row * 28) as f64);
                            }
                        }
                    }
                }
            }
            None => note_on_canvas("recon", &self.why_no_pixels(cfg)),
        }
        let pad_note = match (v.pad, &self.pad) {
            (Some((Some(noisy), mut rec)), Some(img)) => {
                t.model.output_to_pixels(&mut rec);
                for (id, pic) in [("pad-input", img), ("pad-noisy", &noisy), ("pad-out", &rec)] {
                    dom::draw_digit(id, pic);
                }
                None
            }
            (Some((None, logits)), Some(_)) => {
                let best = logits.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
                let max = best.1;
                let sum: f32 = logits.iter().map(|&v| (v - max).exp()).sum();
                let sure = 1.0 / sum.max(1e-30);
                Some(format!("The classifier reads your drawing as a {} ({:.0} % sure). It classifies; it does not reconstruct.", best.0, 100.0 * sure))
            }
            (_, None) => None,
            (None, Some(_)) => Some(format!("{} No reconstruction of the drawing in this phase.", self.why_no_pixels(cfg))),
        };
        ui.recipe.pad_note.set(pad_note);
        self.publish_progress(ui);
    }

    /// Why the current phase's model shows no reconstructions of digits.
    fn why_no_pixels(&self, cfg: &crate::core::ModelConfig) -> String {
        if cfg.is_classifier() {
            "This phase trains a classifier: it outputs a digit's class, not a picture.".into()
        } else {
            format!("This phase trains on the frozen encoder's {}-wide codes, not on pixels.", cfg.input_dim())
        }
    }

    /// The phase list, the progress line and the counters.
    fn publish_progress(&self, ui: Ui) {
        let Some(p) = self.pipeline.as_ref() else { return };
        let phases = self.recipe.phases();
        let current = p.phase();
        let done = p.is_done();
        ui.recipe.phase.set(current);
        ui.recipe.phases.set(
            phases
                .iter()
                .enumerate()
                .map(|(i, ph)| (ph.name.clone(), ph.what.clone(), if done || i < current { "done" } else if i == current { "current" } else { "next" }))
                .collect(),
        );
        let t = p.trainer();
        ui.step.set(p.summary().steps);
        if done {
            ui.recipe.progress.set(format!("All {} phases done after {} steps.", phases.len(), p.summary().steps));
        } else {
            let ph = &phases[current];
            let cap = CAP.with(|c| c.get());
            let per_epoch = t.steps_per_epoch() as u64;
            let total = cap.map_or(per_epoch * ph.epochs as u64, |c| c.min(per_epoch * ph.epochs as u64));
            ui.epoch.set(t.epochs_done());
            ui.recipe.progress.set(format!(
                "Phase {} of {} — {}: epoch {:.2} of {}{} · step {} of {}{}",
                current + 1,
                phases.len(),
                ph.name,
                t.epochs_done(),
                ph.epochs,
                if ph.name == "finetune" { " at most (early stopping)" } else { "" },
                t.step,
                total,
                cap.map(|c| format!(" (capped at {c} steps per phase)")).unwrap_or_default()
            ));
        }
    }

    /// Takes in the pipeline's events: reports, phase changes, the end.
    fn apply_events(&mut self, ui: Ui, events: Vec<Event>) {
        let steps = self.pipeline.as_ref().map_or(0, |p| p.summary().steps);
        for e in events {
            match e {
                Event::Phase { phase, .. } => {
                    self.offsets.resize(phase + 1, steps);
                    self.offsets[phase] = steps;
                }
                Event::Epoch(r) => {
                    if r.series != "random" {
                        ui.train_loss.set(Some(r.train_loss));
                        ui.test_loss.set(Some(r.test_loss));
                    }
                    self.reports.push(r);
                }
                Event::EarlyStop { epoch, best_epoch, best_validation_error, .. } => {
                    self.early_stop = Some(format!(
                        "Early stopping after {epoch:.1} epochs: the best validation error {:.1} % was at epoch {best_epoch:.1}; ",
                        100.0 * best_validation_error
                    ));
                }
                Event::Done(s) => {
                    self.running = false;
                    ui.recipe.summary.set(Some(self.summary_line(&s)));
                    ui.recipe.status.set("done".into());
                    ui.state.set("paused".into());
                    self.summary = Some(s);
                }
            }
        }
        self.draw_charts();
        self.publish_progress(ui);
    }

    fn summary_line(&self, s: &Summary) -> String {
        match &self.recipe {
            Recipe::StackedGreedy(_) => format!(
                "Done: the assembled stack's end-to-end test loss (MSE per pixel) is {:.4}.",
                s.test_loss.unwrap_or(f64::NAN)
            ),
            Recipe::Sda(_) => format!(
                "Done. {}final test error {:.2} % (the model with the best validation error {:.2} %, from epoch {:.1}).",
                self.early_stop.clone().unwrap_or_default(),
                100.0 * s.test_error.unwrap_or(f64::NAN),
                100.0 * s.best_validation_error.unwrap_or(f64::NAN),
                s.best_epoch.unwrap_or(f64::NAN)
            ),
            Recipe::PretrainClassifier(_) => format!(
                "Done: test accuracy {:.1} % with the pre-trained encoder, {:.1} % from random initialisation.",
                100.0 * s.pretrained_accuracy.unwrap_or(f64::NAN),
                100.0 * s.random_accuracy.unwrap_or(f64::NAN)
            ),
        }
    }

    /// The global step at which a report's phase step lands.
    fn global(&self, r: &EpochReport) -> f64 {
        (self.offsets.get(r.phase).copied().unwrap_or(0) + r.steps) as f64
    }

    fn draw_charts(&self) {
        // The page's loss chart: every phase's losses against the global step.
        let base: Vec<&EpochReport> = self.reports.iter().filter(|r| r.series != "random").collect();
        let train: Vec<(u64, f64)> = base.iter().map(|r| (self.global(r) as u64, r.train_loss)).collect();
        let test: Vec<(u64, f64)> = base.iter().map(|r| (self.global(r) as u64, r.test_loss)).collect();
        chart::draw("loss-chart", &train, &test, None);
        // Each phase's losses, labelled.
        let phases = self.recipe.phases();
        let mut series = Vec::new();
        for (i, ph) in phases.iter().enumerate() {
            let of = |f: &dyn Fn(&EpochReport) -> f64| -> Vec<(f64, f64)> {
                base.iter().filter(|r| r.phase == i).map(|r| (self.global(r), f(r))).collect()
            };
            let colour = PHASE_COLOURS[i % PHASE_COLOURS.len()];
            series.push(chart::Series { label: format!("{} train", ph.name), colour, points: of(&|r| r.train_loss), style: chart::Style::Line });
            series.push(chart::Series { label: format!("{} test", ph.name), colour, points: of(&|r| r.test_loss), style: chart::Style::Dotted });
        }
        if let (Recipe::StackedGreedy(_), Some(s)) = (&self.recipe, &self.summary) {
            let x = base.last().map_or(0.0, |r| self.global(r));
            series.push(chart::Series { label: "stack, end to end (test)".into(), colour: "#111827", points: vec![(x, s.test_loss.unwrap_or(f64::NAN))], style: chart::Style::Dotted });
        }
        chart::draw_lines("recipe-loss", &chart::Axes { x_label: "steps (all phases)", y_label: "loss", log: true, legend: true, ..chart::Axes::default() }, &series);
        match &self.recipe {
            Recipe::PretrainClassifier(_) => {
                let curve = |series: &str| -> Vec<(f64, f64)> {
                    self.reports.iter().filter(|r| r.series == series).filter_map(|r| r.test_accuracy.map(|a| (r.epoch, a))).collect()
                };
                let s = [
                    chart::Series { label: "pre-trained encoder".into(), colour: chart::TRAIN_COLOUR, points: curve("pretrained"), style: chart::Style::Dotted },
                    chart::Series { label: "random initialisation".into(), colour: chart::TEST_COLOUR, points: curve("random"), style: chart::Style::Dotted },
                ];
                chart::draw_lines("recipe-metric", &chart::Axes { x_label: "classifier epochs", y_label: "test accuracy", legend: true, ..chart::Axes::default() }, &s);
            }
            Recipe::Sda(_) => {
                let ft: Vec<&EpochReport> = self.reports.iter().filter(|r| r.name == "finetune").collect();
                let s = [
                    chart::Series {
                        label: "validation error".into(),
                        colour: chart::TRAIN_COLOUR,
                        points: ft.iter().filter_map(|r| r.validation_error.map(|e| (r.epoch, e))).collect(),
                        style: chart::Style::Dotted,
                    },
                    chart::Series {
                        label: "test error".into(),
                        colour: chart::TEST_COLOUR,
                        points: ft.iter().filter_map(|r| r.test_accuracy.map(|a| (r.epoch, 1.0 - a))).collect(),
                        style: chart::Style::Dotted,
                    },
                ];
                let final_error = self.summary.as_ref().and_then(|s| s.test_error).map(|e| ("final test error (best validation)", e));
                chart::draw_lines("recipe-metric", &chart::Axes { x_label: "fine-tuning epochs", y_label: "error", level: final_error, legend: true, ..chart::Axes::default() }, &s);
            }
            Recipe::StackedGreedy(_) => {}
        }
    }
}

const PHASE_COLOURS: [&str; 5] = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2"];

/// The recipe panel: the phases, the progress, the step cap, the result and the charts.
#[component]
pub fn RecipePanel(ui: Ui) -> impl IntoView {
    let s = ui.recipe;
    let has_metric = move || s.active.get().is_some_and(|n| n != "stacked_greedy");
    let metric_caption = move || match s.active.get().as_deref() {
        Some("pretrain_classifier") => "Test accuracy per epoch of the classifier whose first layer starts from the pre-trained encoder, and of the same classifier from random weights (same batches, same seed).",
        Some("sda") => "Fine-tuning: validation error and test error after each epoch; the dashed line is the final test error (of the model with the best validation error).",
        _ => "",
    };
    let cap_input = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        let cap = v.trim().parse::<u64>().ok().filter(|&c| c > 0);
        cap_changed(ui, cap);
    };
    view! {
        <Show when=move || s.active.get().is_some()>
            <section id="recipe" class="panel recipe-panel" data-recipe=move || s.active.get().unwrap_or_default()
                data-phase=move || s.phase.get().to_string() data-status=move || s.status.get()>
                <h2>"Multi-phase recipe: " {move || s.active.get().unwrap_or_default()}</h2>
                <p class="hint" id="recipe-settings">{move || s.settings.get()}</p>
                <ol id="recipe-phases">
                    {move || s.phases.get().into_iter().map(|(name, what, state)| view! {
                        <li class=state data-state=state><strong>{name}</strong>": "{what}{if state == "current" { " ◀" } else { "" }}</li>
                    }).collect_view()}
                </ol>
                <div id="recipe-progress" role="status">{move || s.progress.get()}</div>
                <label>"Steps per phase at most "
                    <input id="recipe-cap" type="number" min="1" placeholder="all" prop:value=move || s.cap.get().map(|c| c.to_string()).unwrap_or_default()
                        on:change=cap_input />
                    <span class="hint">" (empty: whole epochs; changing it restarts the recipe)"</span>
                </label>
                <Show when=move || s.summary.get().is_some()>
                    <div id="recipe-summary"><strong>{move || s.summary.get().unwrap_or_default()}</strong></div>
                </Show>
                <Show when=move || s.pad_note.get().is_some()>
                    <div id="recipe-pad-note">{move || s.pad_note.get().unwrap_or_default()}</div>
                </Show>
                <figure><canvas id="recipe-loss" width="640" height="260"></canvas>
                    <figcaption>"Each phase's training loss (line) and test loss (dots) at the end of its epochs, against the steps of all phases (inner phases' losses are on codes, not pixels)."</figcaption></figure>
                <Show when=has_metric>
                    <figure><canvas id="recipe-metric" width="640" height="260"></canvas>
                        <figcaption>{metric_caption}</figcaption></figure>
                </Show>
            </section>
        </Show>
    }
}
