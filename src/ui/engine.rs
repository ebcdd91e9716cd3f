//! The training engine behind the page: owns the data, the trainer (on the WebGPU or the
//! CPU backend, behind one boxed type) and the pictures' state. It trains in slices so the
//! page keeps responding: on the CPU a slice trains for at most SLICE_MS; on the GPU a
//! slice records a number of steps sized to about GPU_SLICE_MS of device time and then
//! waits, without blocking, for the device to finish them. Read-backs are asynchronous:
//! a slice starts them, the loop awaits them outside the engine, then applies them. The UI
//! talks to the engine only through the functions at the bottom of this file.

use std::cell::RefCell;

use leptos::prelude::{Get, GetUntracked, Set};
use wasm_bindgen::prelude::*;

use crate::backend::cpu::CpuBackend;
use crate::backend::gpu::{GpuBackend, GpuContext};
use crate::backend::{Backend, ReadFuture};
use crate::core::config::NoiseKind;
use crate::core::ModelConfig;
use crate::data::{draw, Mnist};
use crate::model::OptimState;
use crate::train::Trainer;

use super::dom::{self, now_ms, yield_now};
use super::{chart, cloud, pictures, Ui};

/// Longest stretch of CPU training before yielding to the browser.
const SLICE_MS: f64 = 14.0;
/// Device time one GPU slice aims for.
const GPU_SLICE_MS: f64 = 40.0;
/// How often the loss, the counters and the pictures are refreshed while training.
const READOUT_MS: f64 = 300.0;
/// Test images in the page's test loss (the CLI uses all 10,000).
pub const EVAL_ROWS: usize = 1000;
/// Test rows evaluated per slice while a test evaluation is under way.
const EVAL_ROWS_PER_SLICE: usize = 50;
/// A test evaluation starts this often (wall time) while training.
const EVAL_EVERY_MS: f64 = 4000.0;
/// How often the latent space, the generated digits and the other pictures that need
/// forward passes over many digits are redrawn while training.
const PICTURES_MS: f64 = 2000.0;
/// Test digits in the latent-space scatter and the sparsity histogram.
const LATENT_ROWS: usize = 1000;
/// Digits decoded from random codes (variational models), and codes along an interpolation.
const SAMPLES: usize = 32;
const INTERP_STEPS: usize = 10;
/// Noise streams reserved for the pictures (training uses the step number).
const GRID_STREAM: u32 = 0xFFFF_0001;
const PAD_STREAM: u32 = 0xFFFF_0002;

type AnyTrainer = Trainer<Box<dyn Backend>>;

/// Which backend the user asked for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Gpu,
    Cpu,
}

/// Parameters as of a step, kept so a lost GPU costs only the steps since.
struct Snapshot {
    params: Vec<f32>,
    step: u64,
}

pub struct Engine {
    mnist: Mnist,
    cfg: ModelConfig,
    seed: u64,
    trainer: AnyTrainer,
    kind: Kind,
    gpu: Option<GpuContext>,
    running: bool,
    /// Bumped whenever a running loop must stop (reset, backend switch).
    generation: u64,
    /// Steps a GPU slice records (adapted to the device's speed).
    gpu_steps: usize,
    /// Ten fixed test digits (one per class), 10 × 784.
    grid: Vec<f32>,
    /// The preprocessed drawing, if the pad has ink.
    pad: Option<Vec<f32>>,
    pad_noise: u32,
    train_history: Vec<(u64, f64)>,
    test_history: Vec<(u64, f64)>,
    last_readout_ms: f64,
    last_readout_step: u64,
    last_eval_ms: f64,
    eval_pos: Option<usize>,
    eval_done: bool,
    snapshot: Option<Snapshot>,
    last_pictures_ms: f64,
    /// Codes of the interpolation's two ends, from the last pictures read-back.
    interp_ends: Option<(Vec<f32>, Vec<f32>)>,
    /// Extent of the 2-D codes seen last (the code-plane grid spans it).
    code_range: ((f32, f32), (f32, f32)),
    /// Seed of the random codes decoded into generated digits ("New samples" changes it).
    sample_seed: u32,
    /// Refresh calls that arrive while one awaits its read-backs fold into one more round.
    rounds: Rounds,
}

/// A refresh that is awaiting its read-backs when more calls arrive (a stroke on the pad
/// fires many) goes round once more instead of letting them pile up. Shared by the
/// engine's refresh and the recipe panel's.
#[derive(Default)]
pub(super) struct Rounds {
    busy: bool,
    again: bool,
}

impl Rounds {
    /// Whether the caller should start a refresh (false: one is under way, and it will go
    /// round once more).
    pub(super) fn request(&mut self) -> bool {
        if self.busy {
            self.again = true;
            false
        } else {
            self.busy = true;
            true
        }
    }

    /// A round starts its reads: calls from now on ask for another one.
    pub(super) fn begin(&mut self) {
        self.again = false;
    }

    /// A round was applied: whether to go round again (otherwise the refresh is over).
    pub(super) fn end(&mut self) -> bool {
        self.busy = self.again;
        self.again
    }

    /// The refresh stopped early (nothing to read, a failed read).
    pub(super) fn stop(&mut self) {
        self.busy = false;
    }
}

/// Read-backs started by [`Engine::begin_readout`], awaited outside the engine.
struct Readout {
    loss: Option<(ReadFuture, usize)>,
    eval: Option<ReadFuture>,
    grid: (ReadFuture, ReadFuture),
    pad: Option<(ReadFuture, ReadFuture)>,
    params: ReadFuture,
    pictures: Option<PictureReads>,
    step: u64,
    epoch: f64,
    generation: u64,
}

/// Read-backs of the pictures that need forward passes over many digits.
struct PictureReads {
    /// Code-layer outputs of the first LATENT_ROWS test digits (chunks).
    latent: Vec<ReadFuture>,
    /// The sparse layer's outputs for the same digits, if it is not the code layer.
    sparse: Option<Vec<ReadFuture>>,
    /// Code-layer outputs of the interpolation's two ends.
    ends: ReadFuture,
    generated: Option<ReadFuture>,
    interp: Option<ReadFuture>,
}

struct PicturesResolved {
    latent: Vec<f32>,
    sparse: Option<Vec<f32>>,
    ends: Vec<f32>,
    generated: Option<Vec<f32>>,
    interp: Option<Vec<f32>>,
}

async fn concat(fs: Vec<ReadFuture>) -> Result<Vec<f32>, String> {
    let mut out = Vec::new();
    for f in fs {
        out.extend(f.await?);
    }
    Ok(out)
}

impl PictureReads {
    async fn resolve(self) -> Result<PicturesResolved, String> {
        let latent = concat(self.latent).await?;
        let sparse = match self.sparse {
            Some(fs) => Some(concat(fs).await?),
            None => None,
        };
        let ends = self.ends.await?;
        let generated = match self.generated {
            Some(f) => Some(f.await?),
            None => None,
        };
        let interp = match self.interp {
            Some(f) => Some(f.await?),
            None => None,
        };
        Ok(PicturesResolved { latent, sparse, ends, generated, interp })
    }
}

struct Resolved {
    loss: Option<(f64, usize)>,
    eval: Option<f64>,
    grid: (Vec<f32>, Vec<f32>),
    pad: Option<(Vec<f32>, Vec<f32>)>,
    params: Vec<f32>,
    pictures: Option<PicturesResolved>,
    step: u64,
    epoch: f64,
    generation: u64,
}

impl Readout {
    async fn resolve(self) -> Result<Resolved, String> {
        let loss = match self.loss {
            Some((f, n)) => Some((f.await?[0] as f64 / n as f64, n)),
            None => None,
        };
        let eval = match self.eval {
            Some(f) => Some(f.await?[0] as f64 / EVAL_ROWS as f64),
            None => None,
        };
        let grid = (self.grid.0.await?, self.grid.1.await?);
        let pad = match self.pad {
            Some((a, b)) => Some((a.await?, b.await?)),
            None => None,
        };
        let params = self.params.await?;
        let pictures = match self.pictures {
            Some(p) => Some(p.resolve().await?),
            None => None,
        };
        Ok(Resolved { loss, eval, grid, pad, params, pictures, step: self.step, epoch: self.epoch, generation: self.generation })
    }
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

fn with_engine<R>(f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    ENGINE.with(|e| e.borrow_mut().as_mut().map(f))
}

pub(super) fn make_backend(kind: Kind, gpu: &Option<GpuContext>) -> Box<dyn Backend> {
    match (kind, gpu) {
        (Kind::Gpu, Some(ctx)) => Box::new(GpuBackend::new(ctx.clone())),
        _ => Box::new(CpuBackend::new()),
    }
}

impl Engine {
    /// Training steps one slice runs; on the CPU, also the time bound.
    fn slice(&mut self) {
        let t = &mut self.trainer;
        if self.kind == Kind::Gpu {
            for _ in 0..self.gpu_steps {
                t.step();
            }
        } else {
            let t0 = now_ms();
            while now_ms() - t0 < SLICE_MS {
                t.step();
            }
        }
        if self.eval_pos.is_none() && !self.eval_done && now_ms() - self.last_eval_ms >= EVAL_EVERY_MS {
            self.eval_pos = Some(0);
            self.last_eval_ms = now_ms();
        }
        self.advance_eval(EVAL_ROWS_PER_SLICE);
        self.trainer.be.flush();
    }

    /// Evaluates up to `rows` more test rows (the sum accumulates on the device).
    fn advance_eval(&mut self, rows: usize) {
        let Some(pos) = self.eval_pos else { return };
        let total = EVAL_ROWS.min(self.trainer.test_rows);
        let end = (pos + rows).min(total);
        let idx: Vec<u32> = (pos as u32..end as u32).collect();
        let t = &mut self.trainer;
        t.model.eval_rows(&mut t.be, t.test_data, &idx, pos == 0);
        if end == total {
            self.eval_pos = None;
            self.eval_done = true;
        } else {
            self.eval_pos = Some(end);
        }
    }

    fn readout_due(&self) -> bool {
        now_ms() - self.last_readout_ms >= READOUT_MS
    }

    /// Records the pictures' forward passes and starts every read-back.
    fn begin_readout(&mut self) -> Readout {
        let t = &mut self.trainer;
        let loss = t.model.train_loss_readback(&mut t.be);
        let eval = if std::mem::take(&mut self.eval_done) { Some(t.model.eval_readback(&mut t.be)) } else { None };
        let seed = t.noise_seed();
        let grid = t.model.denoise_readback(&mut t.be, &self.grid, seed, GRID_STREAM, true);
        let pad = self.pad.as_ref().map(|img| t.model.denoise_readback(&mut t.be, img, seed ^ self.pad_noise, PAD_STREAM, true));
        let params = t.be.read_async(t.model.params);
        let pictures = if !self.running || now_ms() - self.last_pictures_ms >= PICTURES_MS {
            self.last_pictures_ms = now_ms();
            Some(self.begin_pictures())
        } else {
            None
        };
        let t = &mut self.trainer;
        t.be.flush();
        Readout {
            loss,
            eval,
            grid,
            pad,
            params,
            pictures,
            step: t.step,
            epoch: t.epoch as f64 + t.pos as f64 / t.train_rows as f64,
            generation: self.generation,
        }
    }

    /// Records the forward passes of the pictures and starts their read-backs.
    fn begin_pictures(&mut self) -> PictureReads {
        let cfg = self.trainer.model.cfg.clone();
        let t = &mut self.trainer;
        let code_layer = t.model.code_layer_index();
        let rows = LATENT_ROWS.min(t.test_rows);
        let idx: Vec<u32> = (0..rows as u32).collect();
        let latent = t.model.activations_readback(&mut t.be, t.test_data, &idx, code_layer);
        let sparse = cfg
            .sparsity
            .filter(|sp| sp.layer != code_layer)
            .map(|sp| t.model.activations_readback(&mut t.be, t.test_data, &idx, sp.layer));
        // Interpolate from the drawing (if any) or a 3, to an 8.
        let a = self.pad.clone().unwrap_or_else(|| self.grid[3 * 784..4 * 784].to_vec());
        let ends_imgs = [a, self.grid[8 * 784..9 * 784].to_vec()].concat();
        let ends = t.model.activations_of_images_readback(&mut t.be, &ends_imgs, code_layer);
        let latent_dim = cfg.code_dim();
        let generated = if cfg.variational {
            let codes: Vec<f32> =
                (0..(SAMPLES * latent_dim) as u32).map(|i| crate::core::rng::normal(self.sample_seed, 0x5a5a, i)).collect();
            Some(t.model.decode_readback(&mut t.be, &codes))
        } else if latent_dim == 2 {
            Some(t.model.decode_readback(&mut t.be, &pictures::plane_grid(8, self.code_range)))
        } else {
            None
        };
        let interp = self.interp_ends.as_ref().map(|(a, b)| t.model.decode_readback(&mut t.be, &pictures::interpolate(a, b, INTERP_STEPS)));
        PictureReads { latent, sparse, ends, generated, interp }
    }

    /// Draws the pictures that need forward passes over many digits.
    fn apply_pictures(&mut self, p: PicturesResolved) {
        let cfg = &self.trainer.model.cfg;
        let latent = cfg.code_dim();
        // The code layer's rows: [μ | log σ²] for a variational model, whose μ is the code.
        let width = if cfg.variational { 2 * latent } else { latent };
        let codes = |rows: &[f32]| -> Vec<f32> { rows.chunks(width).flat_map(|r| r[..latent].to_vec()).collect() };
        let latent_codes = codes(&p.latent);
        let rows = latent_codes.len() / latent.max(1);
        let labels = &self.mnist.test.labels[..rows];
        let pts = pictures::project_2d(&latent_codes, latent);
        if latent == 2 && !pts.is_empty() {
            let (mut x0, mut x1, mut y0, mut y1) = (f32::INFINITY, f32::NEG_INFINITY, f32::INFINITY, f32::NEG_INFINITY);
            for &(x, y) in pts.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
            if x0 < x1 && y0 < y1 {
                self.code_range = ((x0, x1), (y0, y1));
            }
        }
        pictures::draw_scatter("latent", &pts, labels);
        if let Some(sp) = cfg.sparsity {
            let acts = p.sparse.as_deref().unwrap_or(&p.latent);
            let units = self.trainer.model.layout.dense[sp.layer].fan_out;
            let n = acts.len() / units.max(1);
            let mut means = vec![0.0f32; units];
            for row in acts.chunks(units) {
                means.iter_mut().zip(row).for_each(|(m, &v)| *m += v / n.max(1) as f32);
            }
            pictures::draw_histogram("sparsity", &means, sp.rho);
        }
        let ends = codes(&p.ends);
        if ends.len() == 2 * latent {
            self.interp_ends = Some((ends[..latent].to_vec(), ends[latent..].to_vec()));
        }
        let model = &self.trainer.model;
        if let Some(mut g) = p.generated {
            model.output_to_pixels(&mut g);
            pictures::draw_digits("generated", &g, 8);
        }
        if let Some(mut i) = p.interp {
            model.output_to_pixels(&mut i);
            pictures::draw_digits("interp", &i, INTERP_STEPS);
        }
    }

    /// Shows what a read-back brought.
    fn apply(&mut self, ui: Ui, r: Resolved) {
        if r.generation != self.generation {
            return; // started before a reset or switch: stale
        }
        let now = now_ms();
        if let Some((loss, _)) = r.loss {
            if !loss.is_finite() {
                self.running = false;
                ui.state.set("paused".into());
                ui.error.set(Some(format!(
                    "The training loss became {loss} at step {}: the model diverged. Lower the learning rate or press Reset; the page stays usable.",
                    r.step
                )));
            }
            self.train_history.push((r.step, loss));
            ui.train_loss.set(Some(loss));
        }
        if let Some(mean) = r.eval {
            self.test_history.push((r.step, mean));
            ui.test_loss.set(Some(mean));
        }
        let steps = r.step.saturating_sub(self.last_readout_step);
        if steps > 0 && now > self.last_readout_ms {
            ui.samples_per_s.set(Some(steps as f64 * self.trainer.batch() as f64 * 1000.0 / (now - self.last_readout_ms)));
        }
        self.last_readout_ms = now;
        self.last_readout_step = r.step;
        ui.step.set(r.step);
        ui.readout_step.set(r.step);
        ui.epoch.set(r.epoch);
        let first = self.trainer.model.layout.dense[0];
        if r.params.len() >= first.w + first.w_len() && first.fan_in == 784 {
            pictures::draw_features("features", &r.params[first.w..first.w + first.w_len()], first.fan_out);
        }
        if let Some(p) = r.pictures {
            self.apply_pictures(p);
        }
        if r.params.iter().all(|v| v.is_finite()) {
            self.snapshot = Some(Snapshot { params: r.params, step: r.step });
        }
        chart::draw("loss-chart", &self.train_history, &self.test_history, super::pcaview::reference().map(|r| (r, "PCA")));
        let (noisy, mut rec) = r.grid;
        self.trainer.model.output_to_pixels(&mut rec);
        if let Some(c) = dom::canvas("recon") {
            if let Some(ctx) = dom::ctx2d(&c) {
                for (row, imgs) in [&self.grid, &noisy, &rec].into_iter().enumerate() {
                    for (i, img) in imgs.chunks(784).enumerate() {
                        dom::put_gray(&ctx, img, 28, 28, (i * 28) as f64, (row * 28) as f64);
                    }
                }
            }
        }
        match (r.pad, &self.pad) {
            (Some((noisy, mut rec)), Some(img)) => {
                self.trainer.model.output_to_pixels(&mut rec);
                for (id, pic) in [("pad-input", img), ("pad-noisy", &noisy), ("pad-out", &rec)] {
                    dom::draw_digit(id, pic);
                }
            }
            (_, None) => clear_pad_pictures(),
            _ => {}
        }
    }

    /// Builds a fresh trainer on the current backend (same seed: same start).
    fn reset(&mut self) -> Result<(), String> {
        self.running = false;
        let be = make_backend(self.kind, &self.gpu);
        self.trainer = Trainer::new(be, &self.cfg, &self.mnist, self.seed)?;
        self.reset_views();
        self.last_readout_step = 0;
        self.snapshot = None;
        Ok(())
    }

    /// Moves training to `kind` with `params` (from a read-back or the last snapshot).
    /// `state` is the optimizer's (moments read back with the parameters); None after a
    /// lost device, when Adam and momentum restart their moments from zero.
    fn switch(&mut self, kind: Kind, params: &[f32], state: Option<&OptimState>, step: Option<u64>) -> Result<(), String> {
        self.rebuild(kind, params, state, step, self.trainer.batch())
    }

    /// [`Self::switch`] with a minibatch size (the model is rebuilt with buffers for it).
    fn rebuild(&mut self, kind: Kind, params: &[f32], state: Option<&OptimState>, step: Option<u64>, batch: usize) -> Result<(), String> {
        let be = make_backend(kind, &self.gpu);
        let fresh = OptimState { moments: vec![vec![0.0; params.len()]; self.cfg.optimizer.moment_buffers()], t: 0 };
        // The old trainer stays in place until the new one exists: a failed move loses nothing.
        let mut moved = self.trainer.move_to_with_batch(be, &self.mnist, params, state.unwrap_or(&fresh), batch)?;
        self.cfg.batch = batch;
        if let Some(s) = step {
            moved.step = s;
        }
        self.trainer = moved;
        self.kind = if kind == Kind::Gpu && self.gpu.is_some() { Kind::Gpu } else { Kind::Cpu };
        self.generation += 1;
        self.eval_pos = None;
        self.eval_done = false;
        self.gpu_steps = 1;
        self.last_readout_step = self.trainer.step;
        Ok(())
    }
}

/// Acquires WebGPU (if the browser has it), installs the data and builds the model.
pub async fn install(ui: Ui, mnist: Mnist, cfg: ModelConfig, seed: u64, want: Kind) -> Result<(), String> {
    let gpu = if want == Kind::Gpu {
        match GpuContext::new().await {
            Ok(ctx) => Some(ctx),
            Err(e) => {
                web_sys::console::info_1(&format!("aeplay: {e}").into());
                ui.note.set(Some("WebGPU is not available in this browser, so training runs on the CPU (wasm SIMD).".into()));
                None
            }
        }
    } else {
        None
    };
    ui.gpu_available.set(gpu.is_some());
    let kind = if gpu.is_some() { Kind::Gpu } else { Kind::Cpu };
    let trainer = match Trainer::new(make_backend(kind, &gpu), &cfg, &mnist, seed) {
        Ok(t) => t,
        Err(e) if kind == Kind::Gpu => {
            ui.note.set(Some(format!("{e}. Training runs on the CPU instead.")));
            Trainer::new(make_backend(Kind::Cpu, &None), &cfg, &mnist, seed)?
        }
        Err(e) => return Err(e),
    };
    let kind = if trainer.be.name().starts_with("CPU") { Kind::Cpu } else { Kind::Gpu };
    let grid = mnist.test.first_of_each_digit().iter().flat_map(|&i| mnist.test.image_f32(i)).collect();
    let engine = Engine {
        mnist,
        cfg,
        seed,
        trainer,
        kind,
        gpu,
        running: false,
        generation: 0,
        gpu_steps: 1,
        grid,
        pad: None,
        pad_noise: 0,
        train_history: Vec::new(),
        test_history: Vec::new(),
        last_readout_ms: now_ms(),
        last_readout_step: 0,
        last_eval_ms: f64::NEG_INFINITY,
        eval_pos: None,
        eval_done: false,
        snapshot: None,
        last_pictures_ms: f64::NEG_INFINITY,
        interp_ends: None,
        code_range: ((-3.0, 3.0), (-3.0, 3.0)),
        sample_seed: 1,
        rounds: Rounds::default(),
    };
    ENGINE.with(|e| *e.borrow_mut() = Some(engine));
    publish_backend(ui);
    expose_debug_hooks();
    refresh(ui).await;
    Ok(())
}

fn publish_backend(ui: Ui) {
    with_engine(|e| {
        ui.backend.set(e.trainer.be.name());
        ui.backend_kind.set(if e.kind == Kind::Gpu { "gpu".into() } else { "cpu".into() });
    });
}

/// `window.__aeplayLoseDevice()` destroys the GPU device, as a driver reset would (used by
/// the end-to-end test of device loss).
fn expose_debug_hooks() {
    let f = Closure::<dyn Fn()>::new(|| {
        with_engine(|e| {
            if let Some(ctx) = &e.gpu {
                ctx.device.destroy();
            }
        });
    });
    let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayLoseDevice".into(), f.as_ref());
    f.forget();
}

/// Starts, awaits and applies a read-back; calls that arrive meanwhile (a stroke on the
/// pad fires many) are folded into one more round instead of piling up.
async fn refresh(ui: Ui) {
    if super::recipe::active() {
        return super::recipe::refresh(ui).await; // a recipe owns the pictures (src/ui/recipe.rs)
    }
    if with_engine(|e| e.rounds.request()) != Some(true) {
        return;
    }
    loop {
        let Some(readout) = with_engine(|e| {
            e.rounds.begin();
            e.begin_readout()
        }) else {
            return;
        };
        match readout.resolve().await {
            Ok(r) => {
                with_engine(|e| e.apply(ui, r));
            }
            Err(why) => {
                with_engine(|e| e.rounds.stop());
                return recover(ui, why).await;
            }
        }
        if with_engine(|e| e.rounds.end()) != Some(true) {
            return;
        }
    }
}

/// The device failed: continue on a new GPU device, else on the CPU, from the last snapshot.
fn recover(ui: Ui, why: String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    Box::pin(recover_inner(ui, why))
}

async fn recover_inner(ui: Ui, why: String) {
    // A failed read-back is usually the symptom; the device's own report (lost, with its
    // reason) arrives a moment later and says more.
    let mut reported = None;
    for _ in 0..10 {
        dom::sleep_ms(100).await;
        reported = with_engine(|e| e.trainer.be.health().err()).flatten();
        if reported.is_some() {
            break;
        }
    }
    let why = reported.unwrap_or_else(|| format!("the GPU stopped answering ({why}), so the device is treated as lost"));
    web_sys::console::warn_1(&format!("aeplay: recovering from: {why}").into());
    let Some((was_running, snapshot)) = with_engine(|e| {
        let was = e.running;
        e.running = false;
        e.generation += 1;
        (was, e.snapshot.as_ref().map(|s| (s.params.clone(), s.step)))
    }) else {
        return;
    };
    let fresh = GpuContext::new().await.ok();
    let result = with_engine(|e| {
        e.gpu = fresh;
        let kind = if e.gpu.is_some() { Kind::Gpu } else { Kind::Cpu };
        match &snapshot {
            Some((params, step)) => e.switch(kind, params, None, Some(*step)).map(|_| *step),
            None => e.reset().map(|_| 0),
        }
    });
    publish_backend(ui);
    match result {
        Some(Ok(step)) => {
            let now = with_engine(|e| e.trainer.be.name()).unwrap_or_default();
            ui.note.set(Some(format!("{why}. Training continues on {now} from the weights of step {step}.")));
            ui.step.set(step);
            if was_running {
                train(ui);
            } else {
                ui.state.set("paused".into());
                refresh(ui).await;
            }
        }
        Some(Err(e)) => {
            ui.error.set(Some(format!("{why}, and training could not be moved: {e}")));
            ui.state.set("paused".into());
        }
        None => {}
    }
}

/// What the loop should do after a slice.
enum Next {
    Stop,
    Fence(ReadFuture, f64),
    Readout(Readout),
    Yield,
}

async fn run(ui: Ui, generation: u64) {
    loop {
        let next = with_engine(|e| {
            if !e.running || e.generation != generation {
                return Next::Stop;
            }
            if let Err(why) = e.trainer.be.health() {
                return Next::Fence(Box::pin(std::future::ready(Err(why))), 0.0);
            }
            let t0 = now_ms();
            e.slice();
            if e.readout_due() {
                Next::Readout(e.begin_readout())
            } else if e.kind == Kind::Gpu {
                // Wait (without blocking) for the device before recording more.
                Next::Fence(e.trainer.be.read_async(e.trainer.model.fence()), t0)
            } else {
                Next::Yield
            }
        })
        .unwrap_or(Next::Stop);
        match next {
            Next::Stop => break,
            Next::Yield => yield_now().await,
            Next::Fence(f, t0) => match f.await {
                Ok(_) => {
                    let took = now_ms() - t0;
                    with_engine(|e| {
                        let scaled = (e.gpu_steps as f64 * GPU_SLICE_MS / took.max(1.0)).round() as usize;
                        e.gpu_steps = scaled.clamp(1, (e.gpu_steps * 2).max(2)).min(256);
                    });
                }
                Err(why) => {
                    recover(ui, why).await;
                    break;
                }
            },
            Next::Readout(r) => match r.resolve().await {
                Ok(r) => {
                    with_engine(|e| e.apply(ui, r));
                    yield_now().await;
                }
                Err(why) => {
                    recover(ui, why).await;
                    break;
                }
            },
        }
    }
}

pub fn train(ui: Ui) {
    if cloud::active() {
        return cloud::train(ui);
    }
    if super::recipe::active() {
        return super::recipe::train(ui);
    }
    let generation = with_engine(|e| {
        if e.running {
            return None;
        }
        e.running = true;
        e.last_readout_ms = now_ms();
        e.last_readout_step = e.trainer.step;
        Some(e.generation)
    })
    .flatten();
    if let Some(g) = generation {
        ui.state.set("training".into());
        wasm_bindgen_futures::spawn_local(run(ui, g));
    }
}

pub fn pause(ui: Ui) {
    if cloud::active() {
        return cloud::pause(ui);
    }
    if super::recipe::active() {
        return super::recipe::pause(ui);
    }
    with_engine(|e| e.running = false);
    ui.state.set("paused".into());
    wasm_bindgen_futures::spawn_local(refresh(ui));
}

/// One step (when paused), then a refresh.
pub fn step(ui: Ui) {
    if cloud::active() {
        return cloud::step(ui);
    }
    if super::recipe::active() {
        return super::recipe::step(ui);
    }
    let stepped = with_engine(|e| {
        if !e.running {
            e.last_readout_ms = now_ms();
            e.trainer.step();
            true
        } else {
            false
        }
    });
    if stepped == Some(true) {
        wasm_bindgen_futures::spawn_local(refresh(ui));
    }
}

pub fn reset(ui: Ui) {
    if cloud::active() {
        let gpu = with_engine(|e| e.gpu.clone()).flatten();
        return cloud::reset(ui, &gpu);
    }
    if super::recipe::active() {
        return super::recipe::reset(ui);
    }
    match with_engine(|e| e.reset()) {
        Some(Err(msg)) => ui.error.set(Some(msg)),
        _ => {
            ui.clear_losses();
        }
    }
    ui.state.set("ready".into());
    wasm_bindgen_futures::spawn_local(refresh(ui));
}

/// Switches backend keeping the trained weights; training resumes if it was running.
pub async fn switch_backend(ui: Ui, kind: Kind) {
    if cloud::active() {
        // The MNIST model waits on the backend it was left on; the cloud moves.
        let gpu = with_engine(|e| e.gpu.clone()).flatten();
        return cloud::switch_backend(ui, kind, gpu).await;
    }
    if with_engine(|e| e.kind == kind) != Some(false) {
        return;
    }
    move_model(ui, kind, None).await;
}

/// The learning rate from the page's control, from the next step on (the optimizer's
/// moments stay). Err says why a value is refused; the model is then untouched.
pub fn set_lr(ui: Ui, lr: f64) -> Result<(), String> {
    let max = crate::core::urlstate::MAX_LR as f64;
    if !(lr.is_finite() && lr > 0.0 && lr <= max) {
        return Err(format!("The learning rate must be a number above 0 and at most {max}; it stays {}.", ui.lr.get_untracked()));
    }
    if cloud::active() || super::recipe::active() {
        return Err("The learning rate control applies to the MNIST presets; this one sets its own.".into());
    }
    with_engine(|e| {
        e.cfg.optimizer.set_lr(lr as f32);
        e.trainer.model.cfg.optimizer.set_lr(lr as f32);
    });
    ui.lr.set(lr as f32);
    Ok(())
}

/// A new minibatch size from the page's control: the model is rebuilt for it with its
/// weights, optimizer state and place in the epoch (training resumes if it was running).
pub async fn set_batch(ui: Ui, batch: usize) -> Result<(), String> {
    let max = crate::core::config::MAX_BATCH;
    if batch == 0 || batch > max {
        return Err(format!("The batch size must be a whole number from 1 to {max}; it stays {}.", ui.batch.get_untracked()));
    }
    if cloud::active() || super::recipe::active() {
        return Err("The batch size control applies to the MNIST presets; this one sets its own.".into());
    }
    let Some(kind) = with_engine(|e| (e.trainer.batch() != batch).then_some(e.kind)).flatten() else { return Ok(()) };
    move_model(ui, kind, Some(batch)).await;
    Ok(())
}

/// Reads the weights and the optimizer state back (asynchronously) and rebuilds the
/// trainer on `kind`, with another minibatch size if given; training resumes if it was
/// running. A failure leaves the model as it was, with the reason shown.
async fn move_model(ui: Ui, kind: Kind, batch: Option<usize>) {
    let Some(pending) = with_engine(|e| {
        let was = e.running;
        e.running = false;
        e.generation += 1;
        let t = &mut e.trainer;
        let f = t.be.read_async(t.model.params);
        let moments = t.model.optim_state_readback(&mut t.be);
        let steps = t.model.opt_steps;
        t.be.flush();
        (was, f, moments, steps)
    }) else {
        return;
    };
    let (was_running, params, moment_reads, opt_steps) = pending;
    let read = async || -> Result<(Vec<f32>, OptimState), String> {
        let p = params.await?;
        let mut moments = Vec::new();
        for m in moment_reads {
            moments.push(m.await?);
        }
        Ok((p, OptimState { moments, t: opt_steps }))
    };
    let (params, state) = match read().await {
        Ok(v) => v,
        Err(why) => return recover(ui, why).await,
    };
    let result = with_engine(|e| {
        let b = batch.unwrap_or(e.trainer.batch());
        e.rebuild(kind, &params, Some(&state), None, b)
    });
    publish_backend(ui);
    match result {
        Some(Err(e)) if batch.is_some() => ui.error.set(Some(format!("Could not change the batch size: {e}"))),
        Some(Err(e)) => ui.error.set(Some(format!("Could not switch backend: {e}"))),
        _ => {}
    }
    if let Some(b) = with_engine(|e| e.trainer.batch()) {
        ui.batch.set(b);
    }
    if super::recipe::active() {
        return super::recipe::backend_switched(ui); // restarts the recipe on the new backend
    }
    if was_running {
        train(ui);
    } else {
        refresh(ui).await;
    }
}

/// The page's noise control for a noise kind: (select value, level shown on the slider).
pub fn noise_control(noise: NoiseKind) -> (&'static str, f32) {
    match noise {
        NoiseKind::None => ("none", 0.0),
        NoiseKind::Masking { keep } => ("masking", 1.0 - keep),
        NoiseKind::Gaussian { sigma } => ("gaussian", sigma),
        NoiseKind::SaltPepper { p } => ("salt_pepper", p),
        NoiseKind::Dropout { keep } => ("dropout", 1.0 - keep),
    }
}

/// The noise of the page's control: `level` is the fraction of pixels destroyed (masking,
/// dropout), corrupted (salt and pepper) or σ (Gaussian).
pub fn set_noise(ui: Ui, kind: &str, level: f32) {
    let level = level.clamp(0.0, 0.99);
    let noise = match kind {
        "masking" => NoiseKind::Masking { keep: (1.0 - level).max(0.01) },
        "gaussian" => NoiseKind::Gaussian { sigma: level },
        "salt_pepper" => NoiseKind::SaltPepper { p: level },
        "dropout" => NoiseKind::Dropout { keep: (1.0 - level).max(0.01) },
        _ => NoiseKind::None,
    };
    let running = with_engine(|e| {
        e.cfg.noise = noise;
        e.trainer.model.cfg.noise = noise;
        e.running
    });
    if running == Some(false) {
        wasm_bindgen_futures::spawn_local(refresh(ui));
    }
}

/// Blanks the pad's three small pictures.
fn clear_pad_pictures() {
    for id in ["pad-input", "pad-noisy", "pad-out"] {
        dom::clear(id, "#000");
    }
}

/// The pad changed: preprocess it (or clear) and redraw its pictures.
pub fn pad_changed(ui: Ui, ink: Option<(Vec<f32>, usize, usize)>) {
    let img = ink.map(|(v, w, h)| draw::to_mnist(&v, w, h)).filter(|img| img.iter().any(|&p| p > 0.0));
    let shown = img.clone();
    super::recipe::pad_changed(img.clone());
    let installed = with_engine(|e| e.pad = img);
    match shown {
        Some(img) => dom::draw_digit("pad-input", &img),
        None => clear_pad_pictures(),
    }
    if installed.is_some() && ui.state.get_untracked() != "training" {
        wasm_bindgen_futures::spawn_local(refresh(ui));
    }
}

/// Draws fresh noise for the pad.
pub fn new_noise(ui: Ui) {
    with_engine(|e| e.pad_noise = e.pad_noise.wrapping_add(0x9E37_79B9));
    super::recipe::new_noise();
    if ui.state.get_untracked() != "training" {
        wasm_bindgen_futures::spawn_local(refresh(ui));
    }
}

/// Whether the backend select should offer WebGPU.
pub fn gpu_available(ui: Ui) -> bool {
    ui.gpu_available.get()
}

/// Draws new random codes for the generated digits.
pub fn new_samples(ui: Ui) {
    with_engine(|e| {
        e.sample_seed = e.sample_seed.wrapping_add(1);
        e.last_pictures_ms = f64::NEG_INFINITY;
    });
    if ui.state.get_untracked() != "training" {
        wasm_bindgen_futures::spawn_local(refresh(ui));
    }
}

/// Switches to another preset: a fresh model on the same backend (training stops).
pub fn set_preset(ui: Ui, name: &str) {
    if name == cloud::NAME {
        super::recipe::stop(ui);
        let Some((kind, gpu, seed)) = with_engine(|e| {
            e.running = false;
            e.generation += 1;
            (e.kind, e.gpu.clone(), e.seed)
        }) else {
            return;
        };
        match cloud::activate(ui, kind, &gpu, seed) {
            Ok(()) => {
                ui.error.set(None);
                ui.preset.set(name.to_string());
                ui.loss_label.set("mean squared error".into());
                ui.has_generated.set(false);
                ui.has_sparsity.set(false);
                super::pcaview::hide(ui);
                ui.clear_losses();
            }
            Err(e) => ui.error.set(Some(format!("Could not build {name}: {e}"))),
        }
        ui.state.set("ready".into());
        return;
    }
    if cloud::active() {
        cloud::deactivate();
        ui.cloud.set(None);
        publish_backend(ui);
    }
    if super::recipe::is_recipe(name) {
        super::pcaview::hide(ui);
        return super::recipe::start(ui, name);
    }
    super::recipe::stop(ui);
    let Some(cfg) = crate::core::config::preset(name) else {
        ui.error.set(Some(format!("There is no preset called '{name}'. Choose one of: {}", crate::core::config::preset_list())));
        return;
    };
    let result = with_engine(|e| {
        let old = std::mem::replace(&mut e.cfg, cfg.clone());
        let r = e.reset();
        if r.is_err() {
            e.cfg = old;
            let _ = e.reset();
        }
        r
    });
    match result {
        Some(Err(msg)) => ui.error.set(Some(format!("Could not build {name}: {msg}"))),
        Some(Ok(())) => {
            ui.error.set(None);
            ui.preset.set(name.to_string());
            ui.publish_model(&cfg);
            ui.clear_losses();
            ui.step.set(0);
            ui.epoch.set(0.0);
        }
        None => {}
    }
    ui.state.set("ready".into());
    wasm_bindgen_futures::spawn_local(refresh(ui));
}

/// The model description (with the noise now set) and the seed being trained, for the
/// page's link (src/ui/urlsync.rs); None before the engine is installed.
pub fn current_setup() -> Option<(ModelConfig, u64)> {
    with_engine(|e| (e.cfg.clone(), e.seed))
}

// Saved models, the browser's storage and the loss CSV (src/ui/files.rs builds on these).

/// Starts reading the model, its optimizer state and its progress back (asynchronously,
/// so it works on WebGPU); the future gives the saved model.
pub(super) fn capture() -> Option<impl std::future::Future<Output = Result<crate::io::saved::SavedModel, String>>> {
    let (mut saved, params, moments) = with_engine(|e| {
        let t = &mut e.trainer;
        let params = t.be.read_async(t.model.params);
        let moments = t.model.optim_state_readback(&mut t.be);
        t.be.flush();
        let saved = crate::io::saved::SavedModel {
            config: t.model.cfg.clone(),
            params: Vec::new(),
            optim: OptimState { moments: Vec::new(), t: t.model.opt_steps },
            step: t.step,
            epoch: t.epoch,
            epoch_pos: t.pos,
            train_rows: t.train_rows,
            seed: t.seed(),
            history: crate::io::saved::LossHistory::finite(&e.train_history, &e.test_history),
        };
        (saved, params, moments)
    })?;
    let recipe = super::recipe::active();
    Some(async move {
        if recipe {
            return Err("saving is for single models: a multi-phase recipe's phases are several models (the CLI trains and reports them, `aeplay train --preset NAME`). Pick a preset to save one".into());
        }
        saved.params = params.await?;
        for m in moments {
            saved.optim.moments.push(m.await?);
        }
        Ok(saved)
    })
}

/// Replaces the model with a saved one (its preset may differ) on the current backend, at
/// its step, epoch and position with its optimizer state. Training stops. If the model
/// cannot be built the current one stays as it was.
pub(super) fn install_saved(ui: Ui, m: &crate::io::saved::SavedModel) -> Result<(), String> {
    let built = with_engine(|e| -> Result<f64, String> {
        let trainer = m.resume(make_backend(e.kind, &e.gpu), &e.mnist)?;
        e.running = false;
        e.reset_views();
        e.train_history = m.history.train.clone();
        e.test_history = m.history.test.clone();
        e.trainer = trainer;
        e.cfg = m.config.clone();
        e.seed = m.seed;
        e.last_readout_step = m.step;
        e.snapshot = Some(Snapshot { params: m.params.clone(), step: m.step });
        let t = &e.trainer;
        Ok(t.epoch as f64 + t.pos as f64 / t.train_rows as f64)
    })
    .unwrap_or_else(|| Err("the page is not ready yet".into()))?;
    if cloud::active() {
        cloud::deactivate();
        ui.cloud.set(None);
        publish_backend(ui);
    }
    super::recipe::stop(ui); // a loaded model leaves recipe mode
    ui.preset.set(m.config.name.clone());
    ui.publish_model(&m.config);
    ui.clear_losses();
    ui.step.set(m.step);
    ui.epoch.set(built);
    wasm_bindgen_futures::spawn_local(refresh(ui));
    Ok(())
}

impl Engine {
    /// Forgets what the page showed of the previous model (histories, pending read-backs).
    fn reset_views(&mut self) {
        self.generation += 1;
        self.train_history.clear();
        self.test_history.clear();
        self.eval_pos = None;
        self.eval_done = false;
        self.last_eval_ms = f64::NEG_INFINITY;
        self.interp_ends = None;
        self.last_pictures_ms = f64::NEG_INFINITY;
    }
}

/// The data and the ten test digits the reconstructions show (one per class, 10 × 784),
/// for pictures computed beside the engine (src/ui/pcaview.rs).
pub(super) fn with_data<R>(f: impl FnOnce(&Mnist, &[f32]) -> R) -> Option<R> {
    with_engine(|e| f(&e.mnist, &e.grid))
}

/// The step count and whether training runs.
pub(super) fn progress() -> Option<(u64, bool)> {
    with_engine(|e| (e.trainer.step, e.running))
}

/// The recorded train and test losses, (step, loss) each.
pub(super) fn histories() -> (Vec<(u64, f64)>, Vec<(u64, f64)>) {
    with_engine(|e| (e.train_history.clone(), e.test_history.clone())).unwrap_or_default()
}

/// For recipe mode (src/ui/recipe.rs): stops the single model's training and hands `f` a
/// fresh backend of the kind now in use (WebGPU or the CPU), the kind, the page's data, its
/// ten fixed test digits and the run seed.
pub(super) fn for_recipe<R>(f: impl FnOnce(Box<dyn Backend>, Kind, &Mnist, &[f32], u64) -> R) -> Option<R> {
    with_engine(|e| {
        e.running = false;
        e.generation += 1;
        f(make_backend(e.kind, &e.gpu), e.kind, &e.mnist, &e.grid, e.seed)
    })
}
