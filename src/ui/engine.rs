//! The training engine behind the page: owns the data, the trainer and the pictures'
//! state, and trains in time slices so the page keeps responding (a slice trains for at
//! most SLICE_MS, then control returns to the browser). The UI talks to it only through
//! the functions at the bottom of this file.

use std::cell::RefCell;

use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::core::config::NoiseKind;
use crate::core::ModelConfig;
use crate::data::{draw, Mnist};
use crate::train::Trainer;

use leptos::prelude::Set;

use super::dom::{self, now_ms, yield_now};
use super::{chart, Ui};

/// Longest stretch of training before yielding to the browser.
const SLICE_MS: f64 = 14.0;
/// How often the loss, the counters and the pictures are refreshed while training.
const READOUT_MS: f64 = 300.0;
/// Test images in the page's test loss (the CLI uses all 10,000).
pub const EVAL_ROWS: usize = 1000;
/// Test rows evaluated per slice while a test evaluation is under way.
const EVAL_ROWS_PER_SLICE: usize = 50;
/// A test evaluation starts this often (wall time) while training.
const EVAL_EVERY_MS: f64 = 4000.0;
/// Noise streams reserved for the pictures (training uses the step number).
const GRID_STREAM: u32 = 0xFFFF_0001;
const PAD_STREAM: u32 = 0xFFFF_0002;

pub struct Engine {
    pub mnist: Mnist,
    pub cfg: ModelConfig,
    pub seed: u64,
    pub trainer: Trainer<CpuBackend>,
    pub running: bool,
    /// Bumped by Reset so a loop started before it stops.
    pub generation: u64,
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
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

fn with_engine<R>(f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    ENGINE.with(|e| e.borrow_mut().as_mut().map(f))
}

impl Engine {
    fn new(mnist: Mnist, cfg: ModelConfig, seed: u64) -> Result<Self, String> {
        let trainer = Trainer::new(CpuBackend::new(), &cfg, &mnist, seed)?;
        let grid = mnist.test.first_of_each_digit().iter().flat_map(|&i| mnist.test.image_f32(i)).collect();
        Ok(Engine {
            mnist,
            cfg,
            seed,
            trainer,
            running: false,
            generation: 0,
            grid,
            pad: None,
            pad_noise: 0,
            train_history: Vec::new(),
            test_history: Vec::new(),
            last_readout_ms: now_ms(),
            last_readout_step: 0,
            last_eval_ms: f64::NEG_INFINITY,
            eval_pos: None,
        })
    }

    /// Trains for one slice, advances a pending test evaluation, refreshes if due.
    fn slice(&mut self, ui: Ui) {
        let t0 = now_ms();
        while now_ms() - t0 < SLICE_MS {
            self.trainer.step();
        }
        if self.eval_pos.is_none() && now_ms() - self.last_eval_ms >= EVAL_EVERY_MS {
            self.eval_pos = Some(0);
            self.last_eval_ms = now_ms();
        }
        self.advance_eval(ui, EVAL_ROWS_PER_SLICE);
        if now_ms() - self.last_readout_ms >= READOUT_MS {
            self.readout(ui);
        }
    }

    /// Evaluates up to `rows` more test rows; publishes the mean when the set is done.
    fn advance_eval(&mut self, ui: Ui, rows: usize) {
        let Some(pos) = self.eval_pos else { return };
        let total = EVAL_ROWS.min(self.trainer.test_rows);
        let end = (pos + rows).min(total);
        let idx: Vec<u32> = (pos as u32..end as u32).collect();
        let t = &mut self.trainer;
        t.model.eval_rows(&mut t.be, t.test_data, &idx, pos == 0);
        if end == total {
            let mean = t.model.take_eval_sum(&mut t.be) / total as f64;
            self.test_history.push((t.step, mean));
            ui.test_loss.set(Some(mean));
            self.eval_pos = None;
        } else {
            self.eval_pos = Some(end);
        }
    }

    /// Reads the loss back and refreshes counters, chart and pictures.
    fn readout(&mut self, ui: Ui) {
        let now = now_ms();
        let t = &mut self.trainer;
        if let Some((loss, _)) = t.take_train_loss() {
            if !loss.is_finite() {
                self.running = false;
                ui.state.set("paused".into());
                ui.error.set(Some(format!(
                    "The training loss became {loss} at step {}: the model diverged. Lower the learning rate or press Reset; the page stays usable.",
                    t.step
                )));
            }
            self.train_history.push((t.step, loss));
            ui.train_loss.set(Some(loss));
        }
        let steps = t.step - self.last_readout_step;
        if steps > 0 && now > self.last_readout_ms {
            ui.samples_per_s.set(Some(steps as f64 * t.batch() as f64 * 1000.0 / (now - self.last_readout_ms)));
        }
        ui.step.set(t.step);
        ui.epoch.set(t.epoch as f64 + t.pos as f64 / t.train_rows as f64);
        self.last_readout_ms = now;
        self.last_readout_step = t.step;
        chart::draw("loss-chart", &self.train_history, &self.test_history);
        self.draw_grid();
        self.draw_pad();
    }

    /// Clean, corrupted and reconstructed rows of the ten fixed test digits.
    fn draw_grid(&mut self) {
        let t = &mut self.trainer;
        let seed = t.noise_seed();
        let (noisy, rec) = t.model.denoise_host(&mut t.be, &self.grid, seed, GRID_STREAM, true);
        let Some(c) = dom::canvas("recon") else { return };
        let Some(ctx) = dom::ctx2d(&c) else { return };
        for (row, imgs) in [&self.grid, &noisy, &rec].into_iter().enumerate() {
            for (i, img) in imgs.chunks(784).enumerate() {
                dom::put_gray(&ctx, img, 28, 28, (i * 28) as f64, (row * 28) as f64);
            }
        }
    }

    /// The drawing as the model sees it, corrupted, and reconstructed.
    fn draw_pad(&mut self) {
        let Some(img) = self.pad.clone() else {
            for id in ["pad-input", "pad-noisy", "pad-out"] {
                dom::clear(id, "#000");
            }
            return;
        };
        let t = &mut self.trainer;
        let seed = t.noise_seed() ^ self.pad_noise;
        let (noisy, rec) = t.model.denoise_host(&mut t.be, &img, seed, PAD_STREAM, true);
        for (id, pic) in [("pad-input", &img), ("pad-noisy", &noisy), ("pad-out", &rec)] {
            if let Some(c) = dom::canvas(id) {
                if let Some(ctx) = dom::ctx2d(&c) {
                    dom::put_gray(&ctx, pic, 28, 28, 0.0, 0.0);
                }
            }
        }
    }

    fn reset(&mut self, ui: Ui) -> Result<(), String> {
        self.running = false;
        self.generation += 1;
        self.trainer = Trainer::new(CpuBackend::new(), &self.cfg, &self.mnist, self.seed)?;
        self.train_history.clear();
        self.test_history.clear();
        self.eval_pos = None;
        self.last_eval_ms = f64::NEG_INFINITY;
        self.last_readout_step = 0;
        ui.train_loss.set(None);
        ui.test_loss.set(None);
        ui.samples_per_s.set(None);
        self.readout(ui);
        Ok(())
    }
}

/// Installs the loaded data and builds the model; draws the initial pictures.
pub fn install(ui: Ui, mnist: Mnist, cfg: ModelConfig, seed: u64) -> Result<(), String> {
    let engine = Engine::new(mnist, cfg, seed)?;
    ui.backend.set(engine.trainer.be.name());
    ENGINE.with(|e| *e.borrow_mut() = Some(engine));
    with_engine(|e| e.readout(ui));
    Ok(())
}

async fn run(ui: Ui, generation: u64) {
    loop {
        let go = with_engine(|e| {
            if !e.running || e.generation != generation {
                return false;
            }
            e.slice(ui);
            true
        })
        .unwrap_or(false);
        if !go {
            break;
        }
        yield_now().await;
    }
}

pub fn train(ui: Ui) {
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
    with_engine(|e| {
        e.running = false;
        e.readout(ui);
    });
    ui.state.set("paused".into());
}

/// One step (when paused), then a refresh.
pub fn step(ui: Ui) {
    with_engine(|e| {
        if !e.running {
            e.last_readout_ms = now_ms();
            e.trainer.step();
            e.readout(ui);
        }
    });
}

pub fn reset(ui: Ui) {
    let result = with_engine(|e| e.reset(ui));
    if let Some(Err(msg)) = result {
        ui.error.set(Some(msg));
    }
    ui.state.set("ready".into());
}

/// Masking noise at `level` (the fraction of pixels destroyed), or none.
pub fn set_noise(kind: &str, level: f32) {
    let noise = match kind {
        "masking" => NoiseKind::Masking { keep: (1.0 - level).clamp(0.01, 1.0) },
        _ => NoiseKind::None,
    };
    with_engine(|e| {
        e.cfg.noise = noise;
        e.trainer.model.cfg.noise = noise;
        if !e.running {
            e.draw_grid();
            e.draw_pad();
        }
    });
}

/// The pad changed: preprocess it (or clear) and redraw its pictures.
pub fn pad_changed(ink: Option<(Vec<f32>, usize, usize)>) {
    let img = ink.map(|(v, w, h)| draw::to_mnist(&v, w, h)).filter(|img| img.iter().any(|&p| p > 0.0));
    let installed = with_engine(|e| {
        e.pad = img.clone();
        e.draw_pad();
    });
    if installed.is_none() {
        // No model yet: show at least what the model will see.
        match img {
            Some(img) => {
                if let Some(c) = dom::canvas("pad-input") {
                    if let Some(ctx) = dom::ctx2d(&c) {
                        dom::put_gray(&ctx, &img, 28, 28, 0.0, 0.0);
                    }
                }
            }
            None => dom::clear("pad-input", "#000"),
        }
    }
}

/// Draws fresh noise for the pad and the grid.
pub fn new_noise() {
    with_engine(|e| {
        e.pad_noise = e.pad_noise.wrapping_add(0x9E37_79B9);
        e.draw_pad();
    });
}

/// Waits one frame (used after loading, so the page paints before heavy work).
pub async fn settle() {
    yield_now().await;
}
