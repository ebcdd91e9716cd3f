//! PCA beside a linear autoencoder (`linear_50`): the optimum such a model approaches is
//! PCA with as many components as its code has units. The page fits that PCA on the CPU,
//! on all the training digits, in slices so training and drawing go on: the covariance a
//! few hundred rows at a time, then the leading components by subspace iteration, one
//! iteration at a time (`core::pca::TopComponents`). It then shows PCA's reconstructions of the same ten test digits under the model's,
//! its test loss beside the model's, and the loss chart's reference line.

use std::cell::RefCell;

use leptos::prelude::Set;

use crate::core::config::{Activation, LossKind};
use crate::core::pca::{fill_pixels, Pca, PcaFit};
use crate::core::ModelConfig;

use super::{dom, engine, Ui};

/// Training rows per slice of the fit (a slice is one covariance product of this many rows).
const ROWS_PER_SLICE: usize = 256;

/// What the page shows about the PCA comparison.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum PcaShown {
    /// The model is not a linear autoencoder.
    #[default]
    Off,
    Fitting { k: usize, progress: f64 },
    /// `test_loss` is on the page's test digits, in the model's loss.
    Ready { k: usize, rows: usize, test_loss: f64, seconds: f64 },
    Failed(String),
}

struct Fitted {
    k: usize,
    pca: Pca,
    /// Loss on the page's test digits (mean per digit of ½·Σ(z − x)²).
    half_sse: f64,
    seconds: f64,
}

#[derive(Default)]
struct State {
    /// Bumped when the model changes, so a fit under way for another model stops.
    generation: u64,
    fitted: Option<Fitted>,
    /// The model's loss, so the reference line speaks the chart's units.
    loss: Option<LossKind>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Components of the PCA that is the optimum of `cfg`, if `cfg` is a linear autoencoder of
/// MNIST trained on squared error (every layer affine, no variational code).
pub fn components(cfg: &ModelConfig) -> Option<usize> {
    let linear = cfg.activations.iter().all(|&a| a == Activation::Identity);
    let squared = matches!(cfg.loss, LossKind::HalfSse | LossKind::Mse);
    (linear && squared && !cfg.variational && !cfg.is_classifier() && cfg.dims.first() == Some(&784) && cfg.sparsity.is_none())
        .then(|| cfg.code_dim())
}

/// `half_sse` (mean per digit of ½·Σ(z − x)²) in the units of `loss`.
fn in_units(loss: LossKind, half_sse: f64) -> f64 {
    match loss {
        LossKind::Mse => 2.0 * half_sse / 784.0,
        _ => half_sse,
    }
}

/// The PCA test loss for the loss chart's reference line (when it is fitted for the model).
pub fn reference() -> Option<f64> {
    STATE.with(|s| {
        let s = s.borrow();
        Some(in_units(s.loss?, s.fitted.as_ref()?.half_sse))
    })
}

/// The model changed: start (or reuse) the PCA it should be compared with, or hide it.
pub fn model_changed(ui: Ui, cfg: &ModelConfig) {
    let k = components(cfg);
    let generation = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.generation += 1;
        s.loss = Some(cfg.loss);
        s.generation
    });
    let Some(k) = k else {
        ui.pca.set(PcaShown::Off);
        return;
    };
    if STATE.with(|s| s.borrow().fitted.as_ref().is_some_and(|f| f.k == k)) {
        show(ui);
        return;
    }
    ui.pca.set(PcaShown::Fitting { k, progress: 0.0 });
    wasm_bindgen_futures::spawn_local(fit(ui, k, generation));
}

/// The page shows something other than an MNIST model (the cloud, a recipe): no PCA.
pub fn hide(ui: Ui) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.generation += 1;
        s.loss = None;
    });
    ui.pca.set(PcaShown::Off);
}

fn current(generation: u64) -> bool {
    STATE.with(|s| s.borrow().generation == generation)
}

async fn fit(ui: Ui, k: usize, generation: u64) {
    // The engine holds the data; wait for it (the model is published before it is built).
    let mut n = None;
    for _ in 0..600 {
        n = engine::with_data(|m, _| m.train.items);
        if n.is_some() || !current(generation) {
            break;
        }
        dom::sleep_ms(50).await;
    }
    let Some(n) = n else { return };
    let t0 = dom::now_ms();
    let mut fit = match PcaFit::with_chunk(n, 784, k, ROWS_PER_SLICE) {
        Ok(f) => f,
        Err(e) => return ui.pca.set(PcaShown::Failed(e)),
    };
    loop {
        if !current(generation) {
            return;
        }
        let Some(done) = engine::with_data(|m, _| fit.advance(|i, out| fill_pixels(m.train.image(i), out), ROWS_PER_SLICE)) else {
            return;
        };
        if done {
            break;
        }
        ui.pca.set(PcaShown::Fitting { k, progress: fit.progress() });
        dom::yield_now().await;
    }
    // The leading components by subspace iteration, an iteration per slice (the full
    // decomposition would stop the page for seconds).
    let t1 = dom::now_ms();
    let mut top = match fit.finish_in_pieces() {
        Ok(t) => t,
        Err(e) => return ui.pca.set(PcaShown::Failed(e)),
    };
    while !top.advance(1) {
        if !current(generation) {
            return;
        }
        dom::yield_now().await;
    }
    let (iterations, residual) = top.status();
    let pca = match top.finish() {
        Ok(p) => p,
        Err(e) => return ui.pca.set(PcaShown::Failed(e)),
    };
    web_sys::console::info_1(
        &format!(
            "aeplay: PCA-{k} covariance {:.0} ms in slices, {iterations} subspace iterations {:.0} ms (residual {residual:.1e})",
            t1 - t0,
            dom::now_ms() - t1
        )
        .into(),
    );
    // The loss on the digits the page's test loss uses.
    let Some(test) = engine::with_data(|m, _| {
        let rows = engine::EVAL_ROWS.min(m.test.items);
        let mut x = vec![0f32; rows * 784];
        for (i, out) in x.chunks_mut(784).enumerate() {
            fill_pixels(m.test.image(i), out);
        }
        x
    }) else {
        return;
    };
    let half_sse = pca.half_sse_loss(&test);
    let seconds = (dom::now_ms() - t0) / 1000.0;
    // Kept even if the model changed meanwhile: the next linear model with k components reuses it.
    STATE.with(|s| s.borrow_mut().fitted = Some(Fitted { k, pca, half_sse, seconds }));
    if current(generation) {
        show(ui);
    }
}

/// Shows the fitted PCA: its loss and its reconstructions of the page's ten test digits.
fn show(ui: Ui) {
    let Some(grid) = engine::with_data(|_, grid| grid.to_vec()) else { return };
    let shown = STATE.with(|s| {
        let s = s.borrow();
        let f = s.fitted.as_ref()?;
        let recon = f.pca.reconstruct(&f.pca.project(&grid));
        let loss = in_units(s.loss?, f.half_sse);
        Some((PcaShown::Ready { k: f.k, rows: f.pca.samples, test_loss: loss, seconds: f.seconds }, recon))
    });
    let Some((shown, mut recon)) = shown else { return };
    recon.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    ui.pca.set(shown);
    draw_recon(&recon);
}

fn draw_recon(recon: &[f32]) {
    let Some(c) = dom::canvas("pca-recon") else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    for (i, img) in recon.chunks(784).enumerate() {
        dom::put_gray(&ctx, img, 28, 28, (i * 28) as f64, 0.0);
    }
}

/// The line under the reconstructions.
pub fn caption(shown: &PcaShown, model_loss: Option<f64>) -> String {
    match shown {
        PcaShown::Off => String::new(),
        PcaShown::Fitting { k, progress } => {
            format!("Fitting PCA with {k} components on the 60,000 training digits (on the CPU, beside training) … {:.0} %", 100.0 * progress)
        }
        PcaShown::Ready { k, rows, test_loss, seconds } => {
            let model = model_loss.map(|l| format!("{l:.3}")).unwrap_or_else(|| "–".into());
            format!(
                "PCA with {k} components (fitted on {} training digits in {seconds:.1} s): test loss {test_loss:.3} on the same 1,000 test digits; the model: {model}. A linear autoencoder's optimum is this PCA.",
                thousands(*rows)
            )
        }
        PcaShown::Failed(why) => format!("PCA could not be fitted: {why}"),
    }
}

/// 60000 → "60,000".
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
