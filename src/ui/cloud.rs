//! `linear_3d_pca` in the page (Géron, 003): a linear 3→2→3 autoencoder trained on 200
//! points near a plane, drawn as the 3-D cloud (drag to turn it) with the model's
//! reconstructions and PCA's plane, beside the model's 2-D codes, which unroll the band.
//!
//! The cloud is not MNIST, so it has its own small trainer (`train::cloud`, the ordinary
//! `Trainer` on a float dataset, on the page's backend) and its own loop; the page's Train,
//! Pause, Step, Reset and Backend controls act on it while it is the chosen preset
//! (src/ui/engine.rs forwards them). Each frame trains a few full-batch Adam steps and reads
//! the parameters back asynchronously; codes, reconstructions and the comparison with PCA
//! are computed from them on the host (a 3×2 and a 2×3 matrix).

use std::cell::RefCell;

use leptos::prelude::Set;

use crate::backend::gpu::GpuContext;
use crate::backend::{Backend, ReadFuture};
use crate::core::pca::Pca;
use crate::data::synthetic::{DEFAULT_POINTS, DIM};
use crate::model::OptimState;
use crate::train::cloud::{self, Comparison};
use crate::train::Trainer;

use super::dom::{self, now_ms};
use super::engine::{self, Kind};
use super::{chart, Ui};

pub use crate::train::cloud::NAME;

/// Adam steps per frame: the source's 10,000 full-batch steps in about 3 s at 60 frames a
/// second, slow enough to watch the plane turn into place.
const STEPS_PER_FRAME: usize = 50;
/// Frame pacing.
const FRAME_MS: f64 = 16.0;
/// Degrees the view turns per frame while training (drag to turn it by hand).
const SPIN_PER_FRAME: f64 = 0.4;

struct Cloud {
    trainer: Trainer<Box<dyn Backend>>,
    /// The cloud (the same for the same seed, whichever backend trains on it), PCA's fit
    /// of it, and each point's colour: its place along PCA's first axis, in [0, 1].
    points: Vec<f32>,
    pca: Pca,
    shade: Vec<f32>,
    kind: Kind,
    seed: u64,
    running: bool,
    /// Bumped whenever a running loop must stop (reset, switch, leaving the preset).
    generation: u64,
    history: Vec<(u64, f64)>,
    /// Parameters last read back, and the step they belong to.
    params: Option<(Vec<f32>, u64)>,
    /// View angles in degrees: turn about the vertical axis, tilt towards the viewer.
    yaw: f64,
    pitch: f64,
    drag: Option<(f64, f64)>,
    last_rate: Option<(f64, u64)>,
}

thread_local! {
    static CLOUD: RefCell<Option<Cloud>> = const { RefCell::new(None) };
}

fn with_cloud<R>(f: impl FnOnce(&mut Cloud) -> R) -> Option<R> {
    CLOUD.with(|c| c.borrow_mut().as_mut().map(f))
}

/// Whether the page shows the cloud (its controls act on it).
pub fn active() -> bool {
    CLOUD.with(|c| c.borrow().is_some())
}

/// A fresh model on the cloud of `seed`, on `kind` (the CPU where no GPU is to be had), the
/// cloud, and the backend it got.
fn build(kind: Kind, gpu: &Option<GpuContext>, seed: u64) -> Result<(Trainer<Box<dyn Backend>>, Vec<f32>, Kind), String> {
    let be = engine::make_backend(kind, gpu);
    let kind = if be.name().starts_with("CPU") { Kind::Cpu } else { Kind::Gpu };
    let (t, points) = cloud::trainer(be, DEFAULT_POINTS, seed)?;
    Ok((t, points, kind))
}

/// Each point's place along PCA's first axis, scaled to [0, 1].
fn shades(pca: &Pca, points: &[f32]) -> Vec<f32> {
    let first: Vec<f32> = pca.project(points).chunks(2).map(|p| p[0]).collect();
    let (lo, hi) = first.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    first.iter().map(|v| (v - lo) / (hi - lo).max(1e-6)).collect()
}

/// Shows the cloud with a fresh model on the page's backend (the MNIST model is kept as
/// it was, paused, for when another preset is chosen).
pub fn activate(ui: Ui, kind: Kind, gpu: &Option<GpuContext>, seed: u64) -> Result<(), String> {
    let (trainer, points, kind) = build(kind, gpu, seed)?;
    let pca = Pca::fit(&points, DIM, 2)?;
    let shade = shades(&pca, &points);
    let generation = with_cloud(|c| c.generation + 1).unwrap_or(0);
    CLOUD.with(|c| {
        *c.borrow_mut() = Some(Cloud {
            trainer,
            points,
            pca,
            shade,
            kind,
            seed,
            running: false,
            generation,
            history: Vec::new(),
            params: None,
            yaw: 30.0,
            pitch: 25.0,
            drag: None,
            last_rate: None,
        })
    });
    ui.cloud.set(Some("Press Train: the model starts from random weights.".into()));
    publish(ui);
    wasm_bindgen_futures::spawn_local(refresh(ui));
    Ok(())
}

/// Leaves the cloud (another preset was chosen).
pub fn deactivate() {
    CLOUD.with(|c| *c.borrow_mut() = None);
}

fn publish(ui: Ui) {
    with_cloud(|c| {
        ui.backend.set(c.trainer.be.name());
        ui.backend_kind.set(if c.kind == Kind::Gpu { "gpu".into() } else { "cpu".into() });
        ui.step.set(c.trainer.step);
        ui.epoch.set(c.trainer.step as f64);
    });
}

/// Starts the parameters' read-back (with the step it belongs to).
fn begin_read(c: &mut Cloud) -> (ReadFuture, u64, u64) {
    let t = &mut c.trainer;
    let f = t.be.read_async(t.model.params);
    t.be.flush();
    (f, t.step, c.generation)
}

/// Awaits a read-back from [`begin_read`] and draws it (unless the model changed
/// meanwhile); false if the device failed (training then continues on the CPU).
async fn draw_read(ui: Ui, (f, step, generation): (ReadFuture, u64, u64)) -> bool {
    match f.await {
        Ok(p) => {
            with_cloud(|c| {
                if c.generation == generation {
                    c.params = Some((p, step));
                    c.draw(ui);
                }
            });
            true
        }
        Err(why) => {
            lost(ui, why);
            false
        }
    }
}

/// Reads the parameters back and redraws.
async fn refresh(ui: Ui) {
    if let Some(read) = with_cloud(begin_read) {
        draw_read(ui, read).await;
    }
}

/// The GPU failed under the cloud: continue on the CPU from the last parameters read.
fn lost(ui: Ui, why: String) {
    let moved = with_cloud(|c| -> Result<(), String> {
        c.running = false;
        c.generation += 1;
        let (t, _, kind) = build(Kind::Cpu, &None, c.seed)?;
        c.trainer = t;
        c.kind = kind;
        if let Some((p, step)) = &c.params {
            c.trainer.model.load_params(&mut c.trainer.be, p)?;
            c.trainer.step = *step;
        }
        Ok(())
    });
    ui.state.set("paused".into());
    match moved {
        Some(Ok(())) => ui.note.set(Some(format!("{why}. The cloud's model continues on the CPU from its last read-back."))),
        Some(Err(e)) => ui.error.set(Some(format!("{why}, and the cloud's model could not be moved: {e}"))),
        None => {}
    }
    publish(ui);
}

async fn run(ui: Ui, generation: u64) {
    loop {
        let t0 = now_ms();
        let read = with_cloud(|c| {
            if !c.running || c.generation != generation {
                return None;
            }
            for _ in 0..STEPS_PER_FRAME {
                c.trainer.step();
            }
            c.yaw = (c.yaw + SPIN_PER_FRAME) % 360.0;
            Some(begin_read(c))
        })
        .flatten();
        let Some(read) = read else { break };
        if !draw_read(ui, read).await {
            return;
        }
        let left = FRAME_MS - (now_ms() - t0);
        if left > 1.0 {
            dom::sleep_ms(left as i32).await;
        } else {
            dom::yield_now().await;
        }
    }
}

pub fn train(ui: Ui) {
    let g = with_cloud(|c| {
        if c.running {
            return None;
        }
        c.running = true;
        c.last_rate = Some((now_ms(), c.trainer.step));
        Some(c.generation)
    })
    .flatten();
    if let Some(g) = g {
        ui.state.set("training".into());
        wasm_bindgen_futures::spawn_local(run(ui, g));
    }
}

pub fn pause(ui: Ui) {
    with_cloud(|c| c.running = false);
    ui.state.set("paused".into());
    wasm_bindgen_futures::spawn_local(refresh(ui));
}

/// One full-batch step (when paused).
pub fn step(ui: Ui) {
    if with_cloud(|c| !c.running && { c.trainer.step(); true }) == Some(true) {
        wasm_bindgen_futures::spawn_local(refresh(ui));
    }
}

/// A fresh model (same seed: the same start), on the same backend.
pub fn reset(ui: Ui, gpu: &Option<GpuContext>) {
    let r = with_cloud(|c| -> Result<(), String> {
        let (t, _, kind) = build(c.kind, gpu, c.seed)?;
        c.running = false;
        c.generation += 1;
        c.trainer = t;
        c.kind = kind;
        c.history.clear();
        c.params = None;
        Ok(())
    });
    if let Some(Err(e)) = r {
        ui.error.set(Some(format!("Could not rebuild the cloud's model: {e}")));
    }
    ui.clear_losses();
    ui.state.set("ready".into());
    publish(ui);
    wasm_bindgen_futures::spawn_local(refresh(ui));
}

/// Moves the model to the other backend with its weights, Adam's moments and its step.
pub async fn switch_backend(ui: Ui, kind: Kind, gpu: Option<GpuContext>) {
    let Some((was, params, moments, opt_steps)) = with_cloud(|c| {
        if c.kind == kind {
            return None;
        }
        let was = c.running;
        c.running = false;
        c.generation += 1;
        let t = &mut c.trainer;
        let params = t.be.read_async(t.model.params);
        let moments = t.model.optim_state_readback(&mut t.be);
        let opt = t.model.opt_steps;
        t.be.flush();
        Some((was, params, moments, opt))
    })
    .flatten() else {
        return;
    };
    let read = async || -> Result<(Vec<f32>, OptimState), String> {
        let p = params.await?;
        let mut m = Vec::new();
        for f in moments {
            m.push(f.await?);
        }
        Ok((p, OptimState { moments: m, t: opt_steps }))
    };
    let (params, state) = match read().await {
        Ok(v) => v,
        Err(why) => return lost(ui, why),
    };
    let r = with_cloud(|c| -> Result<(), String> {
        let (mut t, _, new_kind) = build(kind, &gpu, c.seed)?;
        t.model.load_state(&mut t.be, &params, &state)?;
        t.step = c.trainer.step;
        c.trainer = t;
        c.kind = new_kind;
        Ok(())
    });
    if let Some(Err(e)) = r {
        ui.error.set(Some(format!("Could not switch the cloud's backend: {e}")));
    }
    publish(ui);
    if was {
        train(ui);
    } else {
        refresh(ui).await;
    }
}

/// Turning the cloud with the pointer.
pub fn drag_start(x: f64, y: f64) {
    with_cloud(|c| c.drag = Some((x, y)));
}

pub fn drag_move(ui: Ui, x: f64, y: f64) {
    let redraw = with_cloud(|c| {
        let Some((x0, y0)) = c.drag else { return false };
        c.yaw = (c.yaw + (x - x0) * 0.5) % 360.0;
        c.pitch = (c.pitch + (y - y0) * 0.5).clamp(-89.0, 89.0);
        c.drag = Some((x, y));
        !c.running
    });
    if redraw == Some(true) {
        with_cloud(|c| c.draw(ui));
    }
}

pub fn drag_end() {
    with_cloud(|c| c.drag = None);
}

/// The band's colour for a point: by its position along PCA's first axis, so the same
/// point has the same colour in the cloud and among the codes.
fn colour(t: f32) -> String {
    format!("hsl({:.0}, 75%, 45%)", 260.0 * (1.0 - t.clamp(0.0, 1.0)))
}

impl Cloud {
    fn draw(&mut self, ui: Ui) {
        let Some((params, step)) = &self.params else { return };
        let cfg = &self.trainer.model.cfg;
        let (codes, recon, cmp) = cloud::compare_with(&self.pca, params, &self.points, cfg);
        if self.history.last().is_none_or(|&(s, _)| s < *step) {
            self.history.push((*step, cmp.model_mse));
        }
        let now = now_ms();
        if let Some((t0, s0)) = self.last_rate {
            if now - t0 > 500.0 && *step > s0 {
                ui.samples_per_s.set(Some((*step - s0) as f64 * self.points.len() as f64 * 1000.0 / (now - t0)));
                self.last_rate = Some((now, *step));
            }
        }
        ui.step.set(*step);
        ui.readout_step.set(*step);
        ui.epoch.set(*step as f64);
        ui.train_loss.set(Some(cmp.model_mse));
        ui.test_loss.set(None);
        ui.cloud.set(Some(summary(&cmp)));
        self.draw_cloud(&recon);
        draw_codes(&codes, &self.shade);
        chart::draw("loss-chart", &self.history, &[], Some((cmp.pca_mse, "PCA")));
    }

    /// Orthographic view of a point after turning by yaw (about the third axis) and pitch.
    fn project(&self, p: &[f32], w: f64, h: f64, scale: f64) -> (f64, f64, f64) {
        let (yaw, pitch) = (self.yaw.to_radians(), self.pitch.to_radians());
        let (x, y, z) = (p[0] as f64, p[1] as f64, p[2] as f64);
        let (x1, y1) = (x * yaw.cos() - y * yaw.sin(), x * yaw.sin() + y * yaw.cos());
        let (y2, z2) = (y1 * pitch.sin() + z * pitch.cos(), y1 * pitch.cos() - z * pitch.sin());
        (w / 2.0 + scale * x1, h / 2.0 - scale * y2, z2)
    }

    fn draw_cloud(&self, recon: &[f32]) {
        let Some(c) = dom::canvas("cloud3d") else { return };
        let Some(ctx) = dom::ctx2d(&c) else { return };
        let (w, h) = (c.width() as f64, c.height() as f64);
        let scale = w.min(h) / 7.0;
        ctx.set_fill_style_str("#fff");
        ctx.fill_rect(0.0, 0.0, w, h);
        // PCA's plane: a square of side 5 around the mean, in the plane of the two components.
        let (m, a, b) = (&self.pca.mean, self.pca.component(0), self.pca.component(1));
        let corner = |s: f32, t: f32| -> Vec<f32> { (0..DIM).map(|i| m[i] + 2.5 * (s * a[i] + t * b[i])).collect() };
        ctx.set_fill_style_str("rgba(22, 163, 74, 0.12)");
        ctx.set_stroke_style_str("rgba(22, 163, 74, 0.6)");
        ctx.set_line_width(1.5);
        ctx.begin_path();
        for (i, (s, t)) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)].into_iter().enumerate() {
            let (x, y, _) = self.project(&corner(s, t), w, h, scale);
            if i == 0 {
                ctx.move_to(x, y);
            } else {
                ctx.line_to(x, y);
            }
        }
        ctx.close_path();
        ctx.fill();
        ctx.stroke();
        // Axes.
        ctx.set_font("13px system-ui, sans-serif");
        for (i, name) in ["x₁", "x₂", "x₃"].iter().enumerate() {
            let mut e = [0.0f32; 3];
            e[i] = 2.0;
            let (x0, y0, _) = self.project(&[0.0, 0.0, 0.0], w, h, scale);
            let (x1, y1, _) = self.project(&e, w, h, scale);
            ctx.set_stroke_style_str("#9ca3af");
            ctx.begin_path();
            ctx.move_to(x0, y0);
            ctx.line_to(x1, y1);
            ctx.stroke();
            ctx.set_fill_style_str("#6b7280");
            let _ = ctx.fill_text(name, x1 + 3.0, y1 - 3.0);
        }
        // Points, far ones first, each joined to its reconstruction.
        let mut order: Vec<usize> = (0..self.points.len() / DIM).collect();
        let depth: Vec<f64> = order.iter().map(|&i| self.project(&self.points[i * DIM..(i + 1) * DIM], w, h, scale).2).collect();
        order.sort_by(|&i, &j| depth[j].total_cmp(&depth[i]));
        ctx.set_line_width(1.0);
        for i in order {
            let (px, py, _) = self.project(&self.points[i * DIM..(i + 1) * DIM], w, h, scale);
            let (rx, ry, _) = self.project(&recon[i * DIM..(i + 1) * DIM], w, h, scale);
            ctx.set_stroke_style_str("rgba(55, 65, 81, 0.45)");
            ctx.begin_path();
            ctx.move_to(px, py);
            ctx.line_to(rx, ry);
            ctx.stroke();
            ctx.set_fill_style_str(&colour(self.shade[i]));
            ctx.begin_path();
            let _ = ctx.arc(px, py, 3.5, 0.0, std::f64::consts::TAU);
            ctx.fill();
            ctx.set_fill_style_str("#111827");
            ctx.fill_rect(rx - 1.5, ry - 1.5, 3.0, 3.0);
        }
    }
}

/// The model's 2-D codes, coloured as in the cloud.
fn draw_codes(codes: &[f32], shade: &[f32]) {
    let Some(c) = dom::canvas("cloud-codes") else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    let (w, h) = (c.width() as f64, c.height() as f64);
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, w, h);
    let pts: Vec<(f64, f64)> = codes.chunks(2).map(|p| (p[0] as f64, p[1] as f64)).filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    if pts.len() * 2 != codes.len() || pts.is_empty() {
        return;
    }
    // The same scale on both axes, so the shape is not distorted.
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in &pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let span = (x1 - x0).max(y1 - y0).max(1e-9);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let scale = (w.min(h) - 40.0) / span;
    ctx.set_stroke_style_str("#e5e7eb");
    ctx.begin_path();
    ctx.move_to(w / 2.0, 10.0);
    ctx.line_to(w / 2.0, h - 10.0);
    ctx.move_to(10.0, h / 2.0);
    ctx.line_to(w - 10.0, h / 2.0);
    ctx.stroke();
    for (i, &(x, y)) in pts.iter().enumerate() {
        ctx.set_fill_style_str(&colour(shade[i]));
        ctx.begin_path();
        let _ = ctx.arc(w / 2.0 + (x - cx) * scale, h / 2.0 - (y - cy) * scale, 3.5, 0.0, std::f64::consts::TAU);
        ctx.fill();
    }
}

fn summary(c: &Comparison) -> String {
    format!(
        "Mean squared error: the model {:.5}, PCA with 2 components {:.5}. The decoder's plane is {:.2}° off PCA's.",
        c.model_mse, c.pca_mse, c.max_angle_deg
    )
}
