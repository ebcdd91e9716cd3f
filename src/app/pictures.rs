//! The picture registry and the producers of a single model's pictures.
//!
//! [`PictureId`] names every picture a session can draw; a session lists the ids it offers
//! (`SessionInfo::pictures`), a frame carries `id → picture` ([`super::frame::Frame`]; the
//! pictures' data, by shape, are [`Picture`]), and
//! the page draws each id with its row of `ui::draw::PICTURES`. The producers here make a
//! model's pictures from read-backs on any backend: the reconstruction grid, the draw pad,
//! first-layer features, the latent space, generated digits, an interpolation and the
//! sparsity histogram. Reads are started in one place (`begin_*`, recorded on the device
//! with the training) and the host side turns what comes back into [`Picture`]s
//! (pure functions, tested natively). Images are rows of 784 grey values in [0, 1]
//! (28 × 28, row-major), ready to draw.

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, ReadFuture};
use crate::core::config::{Activation, LossKind, NoiseKind};
use crate::app::viz::{interpolate, plane_grid, Projection};
use crate::core::ModelConfig;
use crate::data::Mnist;
use crate::model::Autoencoder;
use crate::train::Trainer;

use super::history::Chart;

/// Every picture a session can draw, in the page's order. The page draws each with its row
/// of `ui::draw::PICTURES` (title, panel, canvas, drawing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PictureId {
    /// Ten clean test digits (one per class), corrupted and reconstructed.
    Recon,
    /// The draw pad: what the model makes of the drawing.
    Pad,
    /// PCA beside a linear autoencoder.
    Pca,
    /// The 3-D cloud scene.
    Cloud,
    /// A multi-phase recipe's progress, result and charts.
    Recipe,
    /// First-layer weights as 28×28 tiles.
    Features,
    /// Codes of test digits in 2-D, by label.
    Latent,
    /// Digits decoded from codes (a VAE's random codes, or a grid over a 2-D code plane).
    Generated,
    /// Decoded points on the way from one digit's code to another's.
    Interp,
    /// Mean activation of each unit of the sparse layer.
    Sparsity,
}

/// A picture's data, by its shape (several pictures share a shape: the generated digits
/// and the interpolation are both [`Digits`]), or why the session does not draw it now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Picture {
    Recon(Recon),
    /// A classifier's phase in place of the reconstructions: test digits with the classes
    /// it predicts, and its confusion matrix.
    Predictions(Predictions),
    Pad(PadView),
    Tiles(Features),
    Scatter(Scatter),
    Digits(Digits),
    Histogram(Histogram),
    Pca(PcaView),
    Cloud(CloudView),
    Recipe(RecipeView),
    /// Why the session does not draw it now (shown in its place).
    Note(String),
    /// Nothing to show (an empty pad).
    Blank,
}

/// The reconstruction grid: `clean`, `noisy` (None for a model trained without noise: the
/// page shows no corrupted row then) and `out`, each `n` images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recon {
    pub clean: Vec<f32>,
    pub noisy: Option<Vec<f32>>,
    pub out: Vec<f32>,
}

/// The pad: the drawing as the model sees it, corrupted (if the model has noise) and what
/// the model makes of it: a reconstruction, or a classifier's reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PadView {
    pub input: Vec<f32>,
    pub noisy: Option<Vec<f32>>,
    pub out: PadOut,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PadOut {
    Image(Vec<f32>),
    /// A classifier's reading of the drawing: the digit, its softmax probability, and the
    /// probability of each of the ten digits.
    Class { digit: u8, probability: f32, probabilities: Vec<f32> },
}

/// A classifier on test digits: the first [`PREDICTION_DIGITS`] with their labels and the
/// classes it predicts, and the confusion matrix over every digit it was given
/// (`confusion[label * 10 + predicted]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
    pub predicted: Vec<u8>,
    pub confusion: Vec<u32>,
    /// Test digits in the confusion matrix.
    pub rows: usize,
}

impl Predictions {
    /// Digits classified wrongly, of `rows`.
    pub fn mistakes(&self) -> u32 {
        let right: u32 = (0..10).map(|k| self.confusion[k * 11]).sum();
        self.rows as u32 - right
    }
}

/// Test digits a classifier's predictions picture shows (with their labels).
pub const PREDICTION_DIGITS: usize = 20;
/// Test digits its confusion matrix counts.
pub const PREDICTION_ROWS: usize = 500;

/// Tiles of 784 weights each (unit j's incoming weights, contrast-normalised per tile to
/// [0, 1]), `shown` of the layer's `units`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub tiles: Vec<f32>,
    pub shown: usize,
    pub units: usize,
}

/// Points with labels. `projected`: the code is wider than 2 and was projected on its two
/// principal components.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scatter {
    pub points: Vec<(f32, f32)>,
    pub labels: Vec<u8>,
    pub code_dim: usize,
    pub projected: bool,
}

/// Images in a grid of `cols` columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digits {
    pub images: Vec<f32>,
    pub cols: usize,
    pub what: DigitsKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DigitsKind {
    /// Random N(0, I) codes through a variational decoder.
    Samples,
    /// A grid over the 2-D code plane.
    Plane,
    /// From a 3 (or the drawing) to an 8.
    Interpolation { from_drawing: bool },
}

/// Values of units (mean activations in [0, 1]) against a target `rho`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub values: Vec<f32>,
    pub rho: f32,
}

/// PCA with as many components as a linear autoencoder's code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PcaView {
    Fitting { k: usize, progress: f64 },
    /// `test_loss` in the model's loss, on the page's test digits; `recon`: PCA's
    /// reconstructions of the ten digits of the reconstruction grid.
    Ready { k: usize, train_rows: usize, test_loss: f64, seconds: f64, recon: Vec<f32> },
    Failed(String),
}

/// The 3-D cloud of `linear_3d_pca`: the points, the model's reconstructions and codes,
/// each point's shade (its place along PCA's first axis, [0, 1]), PCA's plane (mean and two
/// unit axes) and the comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudView {
    pub points: Vec<f32>,
    pub recon: Vec<f32>,
    pub codes: Vec<f32>,
    pub shade: Vec<f32>,
    pub pca_mean: Vec<f32>,
    pub pca_axes: [Vec<f32>; 2],
    pub model_mse: f64,
    pub pca_mse: f64,
    pub angle_deg: f64,
}

/// A multi-phase recipe's panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecipeView {
    pub phases: Vec<PhaseRow>,
    pub current: usize,
    pub progress: String,
    pub status: RecipeStatus,
    pub summary: Option<String>,
    /// Each phase's losses; the second chart (accuracy or error per epoch) where the recipe
    /// has one.
    pub loss_chart: Chart,
    pub metric_chart: Option<Chart>,
    /// The current phase's model, and the widths below its input that earlier phases
    /// trained and this one keeps frozen (an inner pair trains on their codes).
    pub model: Option<ModelConfig>,
    pub frozen_below: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseRow {
    pub name: String,
    pub what: String,
    pub state: PhaseState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhaseState {
    Done,
    Current,
    Next,
}

impl PhaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseState::Done => "done",
            PhaseState::Current => "current",
            PhaseState::Next => "next",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipeStatus {
    Running,
    Paused,
    Done,
    Failed,
}

impl RecipeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipeStatus::Running => "running",
            RecipeStatus::Paused => "paused",
            RecipeStatus::Done => "done",
            RecipeStatus::Failed => "failed",
        }
    }
}

/// The pictures a single model draws.
pub fn model_pictures(model: &Autoencoder) -> Vec<PictureId> {
    let cfg = &model.cfg;
    let pixels = on_pixels(cfg);
    [
        (PictureId::Recon, pixels),
        (PictureId::Pad, pixels),
        (PictureId::Pca, pca_components(cfg).is_some()),
        (PictureId::Features, cfg.dims.first() == Some(&784) && !model.layout.dense[0].transposed),
        (PictureId::Latent, true),
        (PictureId::Generated, cfg.variational || cfg.code_dim() == 2),
        (PictureId::Interp, true),
        (PictureId::Sparsity, cfg.sparsity.is_some()),
    ]
    .into_iter()
    .filter_map(|(id, shown)| shown.then_some(id))
    .collect()
}

/// Components of the PCA that is the optimum of `cfg`, if `cfg` is a linear autoencoder of
/// MNIST trained on squared error (every layer affine, no variational code).
pub fn pca_components(cfg: &ModelConfig) -> Option<usize> {
    let linear = cfg.activations.iter().all(|&a| a == Activation::Identity);
    let squared = matches!(cfg.loss, LossKind::HalfSse | LossKind::Mse);
    (linear && squared && !cfg.variational && !cfg.is_classifier() && cfg.dims.first() == Some(&784) && cfg.sparsity.is_none())
        .then(|| cfg.code_dim())
}

/// Noise streams reserved for the pictures (training uses the step number).
pub const GRID_STREAM: u32 = 0xFFFF_0001;
pub const PAD_STREAM: u32 = 0xFFFF_0002;
/// Test digits in the latent-space scatter and the sparsity histogram.
pub const LATENT_ROWS: usize = 1000;
/// Digits decoded from random codes (variational models), and codes along an interpolation.
pub const SAMPLES: usize = 32;
pub const SAMPLE_COLS: usize = 8;
pub const INTERP_STEPS: usize = 10;
/// Units shown as feature tiles at most.
pub const FEATURE_TILES: usize = 100;

/// The ten test digits the reconstruction grid shows: the first of each class (10 × 784).
pub fn grid_digits(mnist: &Mnist) -> Vec<f32> {
    mnist.test.first_of_each_digit().iter().flat_map(|&i| mnist.test.image_f32(i)).collect()
}

/// Whether a model's input and output are MNIST pixels (its pictures are digits).
pub fn on_pixels(cfg: &ModelConfig) -> bool {
    cfg.input_dim() == 784 && cfg.output_dim() == 784 && !cfg.is_classifier()
}

/// Reads of the model's reconstructions of `images` (corrupted with the model's noise).
pub struct DenoiseReads {
    noisy: ReadFuture,
    out: ReadFuture,
}

/// Starts the reconstruction of `images` (rows of 784) with the noise of `stream`.
pub fn begin_denoise<B: Backend>(model: &mut Autoencoder, be: &mut B, images: &[f32], seed: u32, stream: u32) -> DenoiseReads {
    let (noisy, out) = model.denoise_readback(be, images, seed, stream, true);
    DenoiseReads { noisy, out }
}

impl DenoiseReads {
    /// (corrupted, reconstruction as pixels).
    pub async fn resolve(self, model: &Autoencoder) -> Result<(Vec<f32>, Vec<f32>), String> {
        let noisy = self.noisy.await?;
        let mut out = self.out.await?;
        model.output_to_pixels(&mut out);
        Ok((noisy, out))
    }
}

/// The reconstruction grid from what was read back (no corrupted row without noise).
pub fn recon(cfg: &ModelConfig, clean: &[f32], noisy: Vec<f32>, out: Vec<f32>) -> Recon {
    Recon { clean: clean.to_vec(), noisy: (cfg.noise != NoiseKind::None).then_some(noisy), out }
}

/// The pad's view from what was read back.
pub fn pad_view(cfg: &ModelConfig, input: &[f32], noisy: Vec<f32>, out: Vec<f32>) -> PadView {
    PadView { input: input.to_vec(), noisy: (cfg.noise != NoiseKind::None).then_some(noisy), out: PadOut::Image(out) }
}

/// A classifier's reading of the drawing from its output logits: the digit and its
/// softmax probability.
pub fn classify(input: &[f32], logits: &[f32]) -> PadView {
    let probabilities = softmax(logits);
    let digit = argmax(logits);
    PadView { input: input.to_vec(), noisy: None, out: PadOut::Class { digit: digit as u8, probability: probabilities[digit], probabilities } }
}

/// The index of the largest value (the first of equals; 0 for none).
fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum::<f32>().max(1e-30);
    e.into_iter().map(|v| v / sum).collect()
}

/// A classifier's predictions on test digits from its output logits (`classes` per row):
/// the first [`PREDICTION_DIGITS`] images with labels and predictions, and the confusion
/// matrix over all rows.
pub fn predictions(images: &[f32], labels: &[u8], logits: &[f32], classes: usize) -> Predictions {
    let rows = labels.len().min(logits.len() / classes.max(1)).min(images.len() / 784);
    let predicted: Vec<u8> = logits.chunks(classes.max(1)).take(rows).map(|l| argmax(l) as u8).collect();
    let mut confusion = vec![0u32; 100];
    for (&l, &p) in labels.iter().zip(&predicted) {
        if l < 10 && p < 10 {
            confusion[l as usize * 10 + p as usize] += 1;
        }
    }
    let shown = rows.min(PREDICTION_DIGITS);
    Predictions { images: images[..shown * 784].to_vec(), labels: labels[..shown].to_vec(), predicted: predicted[..shown].to_vec(), confusion, rows }
}

/// First-layer weights as tiles: `w` is the layer's W (`fan_in` × `units`, row-major, so
/// unit j's weights are column j); each tile contrast-normalised on its own. None unless the
/// layer sees 28×28 pixels.
pub fn features(w: &[f32], fan_in: usize, units: usize) -> Option<Features> {
    if fan_in != 784 || w.len() < fan_in * units || units == 0 {
        return None;
    }
    let shown = units.min(FEATURE_TILES);
    let mut tiles = vec![0.0f32; shown * 784];
    for (j, tile) in tiles.chunks_mut(784).enumerate() {
        for (i, t) in tile.iter_mut().enumerate() {
            *t = w[i * units + j];
        }
        let (lo, hi) = tile.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let span = (hi - lo).max(1e-12);
        tile.iter_mut().for_each(|v| *v = if v.is_finite() { (*v - lo) / span } else { 0.0 });
    }
    Some(Features { tiles, shown, units })
}

/// The features of a model's first layer from its parameters.
pub fn model_features(model: &Autoencoder, params: &[f32]) -> Option<Features> {
    let first = model.layout.dense[0];
    if first.transposed || params.len() < first.w + first.w_len() {
        return None;
    }
    features(&params[first.w..first.w + first.w_len()], first.fan_in, first.fan_out)
}

/// State the pictures keep between refreshes: the interpolation's ends, the extent of a
/// 2-D code plane, the seed of the generated digits.
#[derive(Clone, Debug)]
pub struct PictureState {
    interp_ends: Option<(Vec<f32>, Vec<f32>)>,
    /// The latent scatter's directions, kept so that each picture costs a few passes.
    projection: Projection,
    code_range: ((f32, f32), (f32, f32)),
    pub sample_seed: u32,
}

impl Default for PictureState {
    fn default() -> Self {
        PictureState { interp_ends: None, projection: Projection::default(), code_range: ((-3.0, 3.0), (-3.0, 3.0)), sample_seed: 1 }
    }
}

/// Reads of the pictures that need forward passes over many digits.
pub struct PictureReads {
    latent: Vec<ReadFuture>,
    sparse: Option<Vec<ReadFuture>>,
    ends: ReadFuture,
    generated: Option<ReadFuture>,
    interp: Option<ReadFuture>,
    from_drawing: bool,
}

/// What those reads brought back, before the host turns it into pictures.
pub struct PictureData {
    pub latent: Vec<f32>,
    pub sparse: Option<Vec<f32>>,
    pub ends: Vec<f32>,
    pub generated: Option<Vec<f32>>,
    pub interp: Option<Vec<f32>>,
    pub from_drawing: bool,
}

async fn concat(fs: Vec<ReadFuture>) -> Result<Vec<f32>, String> {
    let mut out = Vec::new();
    for f in fs {
        out.extend(f.await?);
    }
    Ok(out)
}

impl PictureReads {
    pub async fn resolve(self) -> Result<PictureData, String> {
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
        Ok(PictureData { latent, sparse, ends, generated, interp, from_drawing: self.from_drawing })
    }
}

impl PictureState {
    /// Records the forward passes of the pictures and starts their reads: the code layer of
    /// the first [`LATENT_ROWS`] test digits (and the sparse layer's, if another), the codes
    /// of the interpolation's ends (the drawing or a 3, and an 8), decoded random codes or a
    /// grid over a 2-D code plane, and the interpolation between the ends seen last time.
    pub fn begin<B: Backend>(&self, t: &mut Trainer<B>, grid: &[f32], pad: Option<&[f32]>) -> PictureReads {
        let cfg = t.model.cfg.clone();
        let code_layer = t.model.code_layer_index();
        let rows = LATENT_ROWS.min(t.test_rows);
        let idx: Vec<u32> = (0..rows as u32).collect();
        let latent = t.model.activations_readback(&mut t.be, t.test_data, &idx, code_layer);
        let sparse = cfg
            .sparsity
            .filter(|sp| sp.layer != code_layer)
            .map(|sp| t.model.activations_readback(&mut t.be, t.test_data, &idx, sp.layer));
        let a = pad.map(<[f32]>::to_vec).unwrap_or_else(|| grid[3 * 784..4 * 784].to_vec());
        let ends_imgs = [a, grid[8 * 784..9 * 784].to_vec()].concat();
        let ends = t.model.activations_of_images_readback(&mut t.be, &ends_imgs, code_layer);
        let latent_dim = cfg.code_dim();
        let generated = if cfg.variational {
            let codes: Vec<f32> = (0..(SAMPLES * latent_dim) as u32).map(|i| crate::core::rng::normal(self.sample_seed, 0x5a5a, i)).collect();
            Some(t.model.decode_readback(&mut t.be, &codes))
        } else if latent_dim == 2 {
            Some(t.model.decode_readback(&mut t.be, &plane_grid(SAMPLE_COLS, self.code_range)))
        } else {
            None
        };
        let interp = self.interp_ends.as_ref().map(|(a, b)| t.model.decode_readback(&mut t.be, &interpolate(a, b, INTERP_STEPS)));
        PictureReads { latent, sparse, ends, generated, interp, from_drawing: pad.is_some() }
    }

    /// Turns what was read back into pictures (`labels`: the test digits' labels), and
    /// remembers the interpolation's ends and the code plane's extent for next time.
    pub fn finish(&mut self, model: &Autoencoder, labels: &[u8], d: PictureData) -> Vec<(PictureId, Picture)> {
        let cfg = &model.cfg;
        let latent = cfg.code_dim();
        // The code layer's rows: [μ | log σ²] for a variational model, whose μ is the code.
        let width = if cfg.variational { 2 * latent } else { latent };
        let codes = |rows: &[f32]| -> Vec<f32> { rows.chunks(width).flat_map(|r| r[..latent].to_vec()).collect() };
        let latent_codes = codes(&d.latent);
        let rows = latent_codes.len() / latent.max(1);
        let points = self.projection.project(&latent_codes, latent);
        if latent == 2 && !points.is_empty() {
            let (mut x0, mut x1, mut y0, mut y1) = (f32::INFINITY, f32::NEG_INFINITY, f32::INFINITY, f32::NEG_INFINITY);
            for &(x, y) in points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
            if x0 < x1 && y0 < y1 {
                self.code_range = ((x0, x1), (y0, y1));
            }
        }
        let scatter = Scatter { points, labels: labels[..rows.min(labels.len())].to_vec(), code_dim: latent, projected: latent > 2 };
        let sparsity = cfg.sparsity.map(|sp| {
            let acts = d.sparse.as_deref().unwrap_or(&d.latent);
            let units = model.layout.dense[sp.layer].fan_out;
            let n = acts.len() / units.max(1);
            let mut means = vec![0.0f32; units];
            for row in acts.chunks(units) {
                means.iter_mut().zip(row).for_each(|(m, &v)| *m += v / n.max(1) as f32);
            }
            Histogram { values: means, rho: sp.rho }
        });
        let ends = codes(&d.ends);
        if ends.len() == 2 * latent {
            self.interp_ends = Some((ends[..latent].to_vec(), ends[latent..].to_vec()));
        }
        let generated = d.generated.map(|mut g| {
            model.output_to_pixels(&mut g);
            Digits { images: g, cols: SAMPLE_COLS, what: if cfg.variational { DigitsKind::Samples } else { DigitsKind::Plane } }
        });
        let interp = d.interp.map(|mut i| {
            model.output_to_pixels(&mut i);
            Digits { images: i, cols: INTERP_STEPS, what: DigitsKind::Interpolation { from_drawing: d.from_drawing } }
        });
        let mut out = vec![(PictureId::Latent, Picture::Scatter(scatter))];
        out.extend(sparsity.map(|h| (PictureId::Sparsity, Picture::Histogram(h))));
        out.extend(generated.map(|g| (PictureId::Generated, Picture::Digits(g))));
        out.extend(interp.map(|i| (PictureId::Interp, Picture::Digits(i))));
        out
    }

    /// The drawing changed, or the model did: the next interpolation starts afresh.
    pub fn forget_ends(&mut self) {
        self.interp_ends = None;
    }

    /// A new model (a reset): the interpolation and the scatter's directions start afresh.
    pub fn forget_model(&mut self) {
        self.forget_ends();
        self.projection.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::Buffers;
    use crate::core::config::preset;
    use crate::data::synthetic::tiny_mnist;

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        crate::backend::block_on(f)
    }

    /// A small model on a small data set: every picture has the shape and range it says.
    /// The pictures of a refresh, by name.
    struct Refreshed {
        latent: Scatter,
        sparsity: Option<Histogram>,
        generated: Option<Digits>,
        interp: Option<Digits>,
    }

    fn refreshed(pics: Vec<(PictureId, Picture)>) -> Refreshed {
        let mut r = Refreshed { latent: Scatter { points: vec![], labels: vec![], code_dim: 0, projected: false }, sparsity: None, generated: None, interp: None };
        for (id, p) in pics {
            match (id, p) {
                (PictureId::Latent, Picture::Scatter(s)) => r.latent = s,
                (PictureId::Sparsity, Picture::Histogram(h)) => r.sparsity = Some(h),
                (PictureId::Generated, Picture::Digits(d)) => r.generated = Some(d),
                (PictureId::Interp, Picture::Digits(d)) => r.interp = Some(d),
                other => panic!("a model refresh made {other:?}"),
            }
        }
        r
    }

    fn pictures_of(name: &str, code: Option<usize>) -> (Trainer<CpuBackend>, Refreshed, Recon, Option<Features>) {
        let data = tiny_mnist(200, 120);
        let mut cfg = preset(name).unwrap();
        // Hidden layers a tenth as wide (codes of 50 or less kept), or a given code width.
        let last = cfg.dims.len() - 1;
        for (i, w) in cfg.dims.iter_mut().enumerate() {
            if i > 0 && i < last && *w > 50 {
                *w /= 10;
            }
        }
        if let Some(c) = code {
            cfg.dims[1] = c;
        }
        cfg.validate().unwrap();
        let mut t = Trainer::new(CpuBackend::new(), &cfg, &data, 3).unwrap();
        for _ in 0..5 {
            t.step();
        }
        let grid = grid_digits(&data);
        let mut state = PictureState::default();
        // Twice: the interpolation needs the ends from the first refresh.
        let mut pics = None;
        for _ in 0..2 {
            let reads = state.begin(&mut t, &grid, None);
            t.be.flush();
            let d = block(reads.resolve()).unwrap();
            pics = Some(refreshed(state.finish(&t.model, &data.test.labels, d)));
        }
        let seed = t.noise_seed();
        let r = begin_denoise(&mut t.model, &mut t.be, &grid, seed, GRID_STREAM);
        t.be.flush();
        let (noisy, out) = block(r.resolve(&t.model)).unwrap();
        let rec = recon(&t.model.cfg, &grid, noisy, out);
        let params = t.model.params_host(&mut t.be);
        let feats = model_features(&t.model, &params);
        (t, pics.unwrap(), rec, feats)
    }

    fn in_unit_range(v: &[f32]) -> bool {
        v.iter().all(|x| (0.0..=1.0).contains(x))
    }

    #[test]
    fn a_denoising_autoencoders_pictures() {
        let (_, p, rec, feats) = pictures_of("dae_vincent", None);
        // The grid: ten digits, a corrupted row (masking noise), reconstructions in [0, 1].
        assert_eq!(rec.clean.len(), 10 * 784);
        let noisy = rec.noisy.as_ref().expect("a corrupted row for a model with noise");
        assert!(noisy.iter().zip(&rec.clean).any(|(a, b)| a != b), "masking changes some pixels");
        assert!(in_unit_range(&rec.out) && rec.out.len() == 10 * 784);
        // Features: one tile per unit (30 < 100), each normalised to [0, 1].
        let f = feats.expect("features of a layer on pixels");
        assert_eq!((f.shown, f.units, f.tiles.len()), (50, 50, 50 * 784));
        assert!(in_unit_range(&f.tiles));
        // Latent space: a 30-wide code projected to 2-D, one point per test digit with its label.
        assert_eq!(p.latent.points.len(), 120);
        assert_eq!(p.latent.labels.len(), 120);
        assert!(p.latent.projected && p.latent.code_dim == 50);
        assert!(p.generated.is_none() && p.sparsity.is_none());
        let i = p.interp.expect("an interpolation on the second refresh");
        assert_eq!(i.images.len(), INTERP_STEPS * 784);
        assert!(in_unit_range(&i.images));
    }

    #[test]
    fn a_model_without_noise_has_no_corrupted_row() {
        let (_, _, rec, _) = pictures_of("tied_ae", None);
        assert!(rec.noisy.is_none());
    }

    #[test]
    fn a_vae_generates_digits_and_a_sparse_model_has_a_histogram() {
        let (_, p, _, _) = pictures_of("vae_20", None);
        let g = p.generated.expect("samples from a VAE");
        assert_eq!((g.images.len(), g.cols, g.what), (SAMPLES * 784, SAMPLE_COLS, DigitsKind::Samples));
        assert!(in_unit_range(&g.images));
        assert_eq!(p.latent.code_dim, 20);

        let (t, p, _, _) = pictures_of("sparse_kl", None);
        let h = p.sparsity.expect("a histogram for a sparse model");
        assert_eq!(h.values.len(), 100);
        assert!((h.rho - 0.1).abs() < 1e-6);
        assert!(h.values.iter().all(|v| (0.0..=1.0).contains(v)), "sigmoid means");
        assert!(t.model.cfg.sparsity.is_some());
    }

    #[test]
    fn a_two_dimensional_code_decodes_a_plane() {
        let (_, p, _, _) = pictures_of("relu_ae_adam", Some(2));
        let g = p.generated.expect("a plane for a 2-D code");
        assert_eq!((g.images.len(), g.what), (SAMPLE_COLS * SAMPLE_COLS * 784, DigitsKind::Plane));
        assert!(!p.latent.projected);
    }

    #[test]
    fn features_show_at_most_a_hundred_tiles_and_only_for_pixels() {
        let w: Vec<f32> = (0..784 * 500).map(|i| (i % 97) as f32).collect();
        let f = features(&w, 784, 500).unwrap();
        assert_eq!((f.shown, f.units), (100, 500));
        assert!(features(&w, 300, 500).is_none(), "a layer on codes has no 28×28 tiles");
    }

    #[test]
    fn a_classifier_reads_the_drawing() {
        let v = classify(&[0.0; 784], &[0.0, 5.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        match v.out {
            PadOut::Class { digit, probability, probabilities } => {
                assert_eq!(digit, 1);
                assert!(probability > 0.9 && probability < 1.0);
                assert_eq!(probabilities.len(), 10);
                assert_eq!(probabilities[1], probability);
                assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
            _ => panic!("a class"),
        }
    }

    #[test]
    fn predictions_count_each_test_digit_once() {
        // 30 digits labelled i % 10; the "classifier" predicts the label, except on every
        // seventh digit, where it says 0.
        let n = 30;
        let images: Vec<f32> = (0..n * 784).map(|i| (i % 7) as f32 / 7.0).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let mut logits = vec![0.0f32; n * 10];
        for i in 0..n {
            let p = if i % 7 == 3 { 0 } else { i % 10 };
            logits[i * 10 + p] = 4.0;
        }
        let p = predictions(&images, &labels, &logits, 10);
        assert_eq!(p.rows, n);
        assert_eq!(p.confusion.iter().sum::<u32>(), n as u32, "every digit once");
        let wrong = (0..n).filter(|i| i % 7 == 3 && i % 10 != 0).count() as u32;
        assert_eq!(p.mistakes(), wrong);
        assert_eq!((p.labels.len(), p.predicted.len(), p.images.len()), (PREDICTION_DIGITS, PREDICTION_DIGITS, PREDICTION_DIGITS * 784));
        assert_eq!(p.predicted[3], 0);
        assert_eq!(p.confusion[3 * 10], 1, "digit 3 (index 3) read as 0");
        // Fewer rows than shown digits: all of them.
        let q = predictions(&images[..5 * 784], &labels[..5], &logits[..50], 10);
        assert_eq!((q.rows, q.labels.len()), (5, 5));
    }
}
