//! A `Frame`: everything the page draws, as plain data. The controller makes one from a
//! read-back of the session (a single model, a recipe or the cloud); the page draws it and
//! keeps nothing else. A frame carries the run's numbers and its pictures by
//! [`PictureId`] (the registry of pictures is `app::pictures`): a picture a frame does not
//! carry is unchanged since the last frame (pictures that need forward passes over many
//! digits are refreshed less often than the losses); a new session starts from a frame in
//! which the page clears what the session does not draw.
//!
//! Images are rows of 784 grey values in [0, 1] (28 × 28, row-major), ready to draw.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::history::Chart;
use super::pictures::PictureId;

/// One frame of the page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// Training steps taken, and epochs (fractional) of the current model.
    pub step: u64,
    pub epoch: f64,
    /// The latest training loss (the mean over the steps before the read-back that measured
    /// it) and test loss (on the page's test digits); None before there is one.
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    /// Samples per second since the previous frame while training (None when paused).
    pub samples_per_s: Option<f64>,
    /// The loss chart (the whole bounded history, with the reference level if any).
    pub chart: Option<Chart>,
    /// The pictures refreshed in this frame.
    pub pictures: BTreeMap<PictureId, Picture>,
}

impl Frame {
    /// The picture `id`, if this frame carries it.
    pub fn picture(&self, id: PictureId) -> Option<&Picture> {
        self.pictures.get(&id)
    }

    /// Puts a picture in the frame.
    pub fn show(&mut self, id: PictureId, picture: Picture) {
        self.pictures.insert(id, picture);
    }
}

/// A picture's data, by its shape (several pictures share a shape: the generated digits
/// and the interpolation are both [`Digits`]), or why the session does not draw it now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Picture {
    Recon(Recon),
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
    /// A classifier's reading of the drawing: the digit and its softmax probability.
    Class { digit: u8, probability: f32 },
}

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
    pub model: Option<crate::core::ModelConfig>,
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
