//! Multi-phase training recipes (issue #5, "Training modes"), written once against
//! [`Backend`] like the single-model [`Trainer`]:
//!
//! - `stacked_greedy` (Géron, 003): a symmetric stack trained one autoencoder at a time:
//!   the outer pair on the pixels, then each inner pair on the frozen, cached codes of the
//!   pair outside it; the pairs are then assembled into the stack and evaluated end to end.
//! - `sda` (Theano SdA tutorial, 002; Vincent et al. 2010): denoising autoencoders with
//!   tied weights trained greedily on cached codes, then a softmax classifier initialised
//!   from their encoders and fine-tuned end to end with the source's early stopping on a
//!   validation split.
//! - `pretrain_classifier` (003, 004 ex. 4): an autoencoder trained on every training
//!   image, then a classifier initialised from its encoder and the same classifier from
//!   random initialisation, trained side by side on the first N labelled images.
//!
//! A [`Pipeline`] is a state machine driven one training step at a time ([`Pipeline::step`]
//! returns what happened: a phase started, an epoch ended with its losses, early
//! stopping, the end), so the page can run it in time slices and the CLI in a loop. No
//! threads and no clock in here. Every device read (losses, metrics, parameters, cached
//! codes) is started as a read-back future and awaited in [`Pipeline::after_step`], so the
//! browser's WebGPU drives a recipe without blocking ([`Pipeline::train_step`] for the
//! steps, then `after_step().await` when one returns true); [`Pipeline::step`] waits for
//! the same futures (the CLI, the tests). A finished phase's model and cached codes are
//! freed on the device.

use serde::{Deserialize, Serialize};

use super::{check_bytes, Trainer, Uploaded};
use crate::backend::{Backend, ReadFuture};
use crate::core::config::{preset, Activation, Init, LossKind, ModelConfig, NoiseKind, Optimizer, Reduction};
use crate::core::layout::{DenseSlot, ParamLayout};
use crate::data::Mnist;
use crate::model::{Autoencoder, Split};

/// Names of the multi-phase recipes (the catalogue's recipes, `core::catalogue`), in the
/// order the UI lists them. They are not in [`crate::core::config::PRESET_NAMES`]: each is
/// several models, not one [`ModelConfig`].
pub const RECIPE_NAMES: &[&str] = &crate::core::catalogue::RECIPES;

/// A multi-phase recipe: everything needed to rerun it (serialisable, so presets, URLs and
/// saved files can carry it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "recipe", rename_all = "snake_case")]
pub enum Recipe {
    StackedGreedy(Greedy),
    Sda(Sda),
    PretrainClassifier(Pretrain),
}

/// Greedy layer-wise training of a symmetric autoencoder stack, one pair at a time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Greedy {
    /// The stack assembled at the end (mirrored widths, e.g. `stacked_elu`). Pair `i`
    /// is layers `i` and `L−1−i` of it, trained as the autoencoder
    /// `dims[i] → dims[i+1] → dims[i]` with the stack's activations for those layers and
    /// its loss, optimizer, init, batch and L2.
    pub stack: ModelConfig,
    /// Epochs of each phase, outer pair first (one entry per pair).
    pub epochs: Vec<usize>,
    /// Training rows: the first ones of the training set.
    pub train_rows: usize,
}

/// The source's early stopping (Theano `test_SdA`), counted in minibatch steps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStoppingSpec {
    /// Initial patience in epochs: `patience = patience_epochs × steps per epoch` (10).
    pub patience_epochs: f64,
    /// On a significant new best at step `iter`, `patience = max(patience, iter × this)` (2).
    pub patience_increase: f64,
    /// A new best is significant when below the old best × this (0.995).
    pub improvement_threshold: f64,
}

impl Default for EarlyStoppingSpec {
    fn default() -> Self {
        EarlyStoppingSpec { patience_epochs: 10.0, patience_increase: 2.0, improvement_threshold: 0.995 }
    }
}

/// Stacked denoising autoencoders, then supervised fine-tuning with early stopping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sda {
    /// Input width (784 pixels).
    pub input: usize,
    /// Hidden widths, bottom first; each layer is pre-trained as a tied-weight sigmoid dA.
    pub hidden: Vec<usize>,
    /// Masking corruption per layer: the fraction of inputs zeroed (keep = 1 − level).
    pub corruption: Vec<f32>,
    /// SGD learning rate of the pre-training (on the batch mean of the summed BCE).
    pub pretrain_lr: f32,
    /// Pre-training epochs per layer.
    pub pretrain_epochs: usize,
    /// SGD learning rate of the fine-tuning (on the batch mean of the softmax CE).
    pub finetune_lr: f32,
    /// Most fine-tuning epochs (early stopping usually ends it sooner).
    pub max_epochs: usize,
    /// Minibatch size of every phase (the source used 1).
    pub batch: usize,
    pub classes: usize,
    /// Rows trained on: the first ones of the training set (50,000).
    pub train_rows: usize,
    /// Validation rows: the ones after the training rows (10,000).
    pub validation_rows: usize,
    pub early_stopping: EarlyStoppingSpec,
}

/// An autoencoder pre-trained on every image, then classifiers with and without its
/// encoder trained on a few labelled images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pretrain {
    /// The autoencoder pre-trained without labels.
    pub autoencoder: ModelConfig,
    /// Pre-train it one pair of layers at a time on cached codes, as `stacked_greedy`
    /// (Géron restores that model), instead of end to end.
    #[serde(default)]
    pub greedy: bool,
    /// Epochs of the pre-training (of each pair when greedy).
    pub pretrain_epochs: usize,
    /// Rows the autoencoder trains on (the first ones; all 60,000 by default).
    pub pretrain_rows: usize,
    /// The classifier; its first `encoder_layers` layers match the autoencoder's.
    pub classifier: ModelConfig,
    /// Leading classifier layers initialised from the autoencoder's encoder.
    pub encoder_layers: usize,
    /// Labelled rows the classifiers train on: the first N of the training set.
    pub labelled: usize,
    /// Epochs of the classifiers.
    pub epochs: usize,
}

/// The recipe of a name in [`RECIPE_NAMES`], with the sources' settings.
pub fn recipe(name: &str) -> Option<Recipe> {
    match name {
        "stacked_greedy" => Some(Recipe::StackedGreedy(Greedy {
            stack: ModelConfig { name: "stacked_greedy".into(), ..preset("stacked_elu")? },
            epochs: vec![1, 1],
            train_rows: 60_000,
        })),
        "sda" => Some(Recipe::Sda(Sda {
            input: 784,
            hidden: vec![1000, 1000, 1000],
            corruption: vec![0.1, 0.2, 0.3],
            pretrain_lr: 0.001,
            pretrain_epochs: 15,
            finetune_lr: 0.1,
            max_epochs: 1000,
            // The source's batch is 1; 20 is the Theano dA tutorial's (and `tied_ae`'s).
            batch: 20,
            classes: 10,
            train_rows: 50_000,
            validation_rows: 10_000,
            early_stopping: EarlyStoppingSpec::default(),
        })),
        "pretrain_classifier" => {
            // The denoising autoencoder of Vincent et al. (`dae_vincent`: 784→500 sigmoid,
            // masking noise) pre-trained on all 60,000 images without labels; the classifier
            // 784→500 sigmoid →10 (softmax CE, SGD lr 0.1 on the batch mean, batch 20,
            // Glorot init) starts from its encoder or at random (mlpractical ex. 4, with
            // Bengio et al. 2007's set-up: a sigmoid layer pre-trained as an autoencoder).
            let ae = preset("dae_vincent")?;
            let classifier = ModelConfig {
                name: "pretrain_classifier".into(),
                dims: vec![784, 500, 10],
                activations: vec![Activation::Sigmoid, Activation::Identity],
                loss: LossKind::SoftmaxCe,
                noise: crate::core::NoiseKind::None,
                optimizer: crate::core::Optimizer::Sgd { lr: 0.1 },
                init: crate::core::Init::GlorotUniform,
                reduction: crate::core::config::Reduction::Mean,
                batch: 20,
                ..ModelConfig::default()
            };
            Some(Recipe::PretrainClassifier(Pretrain {
                autoencoder: ae,
                greedy: false,
                pretrain_epochs: 1,
                pretrain_rows: 60_000,
                classifier,
                encoder_layers: 1,
                labelled: 1000,
                epochs: 10,
            }))
        }
        _ => None,
    }
}


/// One line listing the recipes, for error messages.
pub fn recipe_list() -> String {
    RECIPE_NAMES.join(", ")
}

/// What one phase trains.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseInfo {
    /// Short machine name: `pair1`, `da2`, `finetune`, `pretrain`, `classify`...
    pub name: String,
    /// One line for people.
    pub what: String,
    /// Epochs (the most, for fine-tuning with early stopping).
    pub epochs: usize,
    pub config: ModelConfig,
}

fn widths(dims: &[usize]) -> String {
    dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("→")
}

impl Recipe {
    pub fn name(&self) -> &'static str {
        match self {
            Recipe::StackedGreedy(_) => "stacked_greedy",
            Recipe::Sda(_) => "sda",
            Recipe::PretrainClassifier(_) => "pretrain_classifier",
        }
    }

    /// Every phase in order, with the model it trains.
    pub fn phases(&self) -> Vec<PhaseInfo> {
        match self {
            Recipe::StackedGreedy(g) => (0..g.epochs.len())
                .map(|i| {
                    let config = g.pair(i);
                    PhaseInfo { name: format!("pair{}", i + 1), what: format!("autoencoder {}", widths(&config.dims)), epochs: g.epochs[i], config }
                })
                .collect(),
            Recipe::Sda(s) => {
                let mut v: Vec<PhaseInfo> = (0..s.hidden.len())
                    .map(|i| {
                        let config = s.da(i);
                        let what = format!("denoising autoencoder {} (tied, corruption {})", widths(&config.dims), s.corruption[i]);
                        PhaseInfo { name: format!("da{}", i + 1), what, epochs: s.pretrain_epochs, config }
                    })
                    .collect();
                let config = s.classifier();
                let what = format!("fine-tuning classifier {} with early stopping", widths(&config.dims));
                v.push(PhaseInfo { name: "finetune".into(), what, epochs: s.max_epochs, config });
                v
            }
            Recipe::PretrainClassifier(p) => {
                let mut v = if p.greedy {
                    Recipe::StackedGreedy(p.greedy_spec()).phases()
                } else {
                    vec![PhaseInfo {
                        name: "pretrain".into(),
                        what: format!("autoencoder {} on {} unlabelled images", widths(&p.autoencoder.dims), p.pretrain_rows),
                        epochs: p.pretrain_epochs,
                        config: p.autoencoder.clone(),
                    }]
                };
                v.push(PhaseInfo {
                    name: "classify".into(),
                    what: format!(
                        "classifier {} on {} labelled images, pre-trained and random beside each other",
                        widths(&p.classifier.dims),
                        p.labelled
                    ),
                    epochs: p.epochs,
                    config: p.classifier.clone(),
                });
                v
            }
        }
    }

    /// Checks that the recipe is buildable; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Recipe::StackedGreedy(g) => {
                g.stack.validate()?;
                let l = g.stack.layers();
                let rev: Vec<usize> = g.stack.dims.iter().rev().copied().collect();
                if l % 2 != 0 || rev != g.stack.dims {
                    return Err(format!("greedy training needs a mirrored stack (e.g. 784, 300, 150, 300, 784), got {:?}", g.stack.dims));
                }
                if g.stack.variational || g.stack.sparsity.is_some() {
                    return Err("greedy training takes plain dense stacks (no variational code, no sparsity penalty)".into());
                }
                if g.epochs.len() != l / 2 {
                    return Err(format!("{} pairs need {} epoch counts, got {}", l / 2, l / 2, g.epochs.len()));
                }
                if g.epochs.contains(&0) || g.train_rows == 0 {
                    return Err("every phase needs at least one epoch and one row".into());
                }
                (0..l / 2).try_for_each(|i| g.pair(i).validate())
            }
            Recipe::Sda(s) => {
                if s.hidden.is_empty() || s.corruption.len() != s.hidden.len() {
                    return Err(format!("{} hidden layers need as many corruption levels, got {}", s.hidden.len(), s.corruption.len()));
                }
                if s.corruption.iter().any(|c| !(0.0..1.0).contains(c)) {
                    return Err("corruption levels must be in [0, 1)".into());
                }
                if s.pretrain_epochs == 0 || s.max_epochs == 0 || s.train_rows == 0 || s.validation_rows == 0 {
                    return Err("pre-training and fine-tuning need at least one epoch, and training and validation rows".into());
                }
                let es = s.early_stopping;
                if !(es.patience_epochs > 0.0 && es.patience_increase >= 1.0 && es.improvement_threshold > 0.0 && es.improvement_threshold <= 1.0) {
                    return Err(format!("early stopping needs patience > 0, increase ≥ 1 and a threshold in (0, 1], got {es:?}"));
                }
                (0..s.hidden.len()).try_for_each(|i| s.da(i).validate())?;
                s.classifier().validate()
            }
            Recipe::PretrainClassifier(p) => {
                p.autoencoder.validate()?;
                p.classifier.validate()?;
                if !p.classifier.is_classifier() {
                    return Err("the classifier needs the softmax cross-entropy loss".into());
                }
                let k = p.encoder_layers;
                if k == 0 || k >= p.classifier.layers() || k > p.autoencoder.layers() / 2 {
                    return Err(format!("{k} encoder layers do not fit the autoencoder's encoder and leave the classifier an output layer"));
                }
                if p.classifier.dims[..=k] != p.autoencoder.dims[..=k] || p.classifier.activations[..k] != p.autoencoder.activations[..k] {
                    return Err(format!(
                        "the classifier's first {k} layers ({}) must match the autoencoder's ({})",
                        widths(&p.classifier.dims[..=k]),
                        widths(&p.autoencoder.dims[..=k])
                    ));
                }
                if p.autoencoder.tied || p.autoencoder.variational {
                    return Err("pre-train an untied, non-variational autoencoder".into());
                }
                if p.pretrain_epochs == 0 || p.epochs == 0 || p.labelled == 0 || p.pretrain_rows == 0 {
                    return Err("both phases need at least one epoch and one row".into());
                }
                if p.greedy {
                    Recipe::StackedGreedy(p.greedy_spec()).validate()?;
                }
                Ok(())
            }
        }
    }

    /// Sets the batch size of every phase.
    pub fn set_batch(&mut self, batch: usize) {
        match self {
            Recipe::StackedGreedy(g) => g.stack.batch = batch,
            Recipe::Sda(s) => s.batch = batch,
            Recipe::PretrainClassifier(p) => {
                p.autoencoder.batch = batch;
                p.classifier.batch = batch;
            }
        }
    }

    /// Sets the epochs of the unsupervised phases: each greedy pair, each dA, the
    /// autoencoder pre-training.
    pub fn set_unsupervised_epochs(&mut self, epochs: usize) {
        match self {
            Recipe::StackedGreedy(g) => g.epochs.iter_mut().for_each(|e| *e = epochs),
            Recipe::Sda(s) => s.pretrain_epochs = epochs,
            Recipe::PretrainClassifier(p) => p.pretrain_epochs = epochs,
        }
    }

    /// Sets the epochs of the supervised phase (the most, with early stopping); Err for a
    /// recipe without one.
    pub fn set_supervised_epochs(&mut self, epochs: usize) -> Result<(), String> {
        match self {
            Recipe::StackedGreedy(_) => return Err("stacked_greedy has no supervised phase: use --epochs (per phase)".into()),
            Recipe::Sda(s) => s.max_epochs = epochs,
            Recipe::PretrainClassifier(p) => p.epochs = epochs,
        }
        Ok(())
    }

    /// Sets the number of labelled images; Err for a recipe without that choice.
    pub fn set_labelled(&mut self, n: usize) -> Result<(), String> {
        match self {
            Recipe::PretrainClassifier(p) => p.labelled = n,
            _ => return Err(format!("{} has no labelled-subset setting (pretrain_classifier has)", self.name())),
        }
        Ok(())
    }
}

impl Greedy {
    /// The autoencoder of pair `i` (0 = the outer one).
    pub fn pair(&self, i: usize) -> ModelConfig {
        let s = &self.stack;
        let l = s.layers();
        ModelConfig {
            name: format!("{}/pair{}", s.name, i + 1),
            dims: vec![s.dims[i], s.dims[i + 1], s.dims[i]],
            activations: vec![s.activations[i], s.activations[l - 1 - i]],
            sparsity: None,
            variational: false,
            ..s.clone()
        }
    }
}

impl Pretrain {
    /// The greedy pre-training of the autoencoder, pair by pair.
    pub fn greedy_spec(&self) -> Greedy {
        Greedy { stack: self.autoencoder.clone(), epochs: vec![self.pretrain_epochs; self.autoencoder.layers() / 2], train_rows: self.pretrain_rows }
    }
}

impl Greedy {
    /// The stack assembled from trained pairs: pair `j`'s encoder as layer `j`, its
    /// decoder as layer `L−1−j`.
    pub fn assemble(&self, pairs: &[Vec<f32>]) -> Vec<f32> {
        let layout = ParamLayout::new(&self.stack);
        let l = self.stack.layers();
        let mut p = vec![0.0f32; layout.total];
        for (j, pair) in pairs.iter().enumerate() {
            let pl = ParamLayout::new(&self.pair(j));
            copy_dense(&mut p, layout.dense[j], pair, pl.dense[0]);
            copy_dense(&mut p, layout.dense[l - 1 - j], pair, pl.dense[1]);
        }
        p
    }
}

impl Sda {
    /// The denoising autoencoder of layer `i`: tied sigmoid layers, BCE, masking noise,
    /// SGD, U(±4·√(6/(fan_in+fan_out))) as the source's sigmoid `HiddenLayer`.
    pub fn da(&self, i: usize) -> ModelConfig {
        let n_in = if i == 0 { self.input } else { self.hidden[i - 1] };
        let h = self.hidden[i];
        ModelConfig {
            name: format!("sda/da{}", i + 1),
            dims: vec![n_in, h, n_in],
            activations: vec![Activation::Sigmoid, Activation::Sigmoid],
            loss: LossKind::BceLogits,
            noise: NoiseKind::Masking { keep: 1.0 - self.corruption[i] },
            optimizer: Optimizer::Sgd { lr: self.pretrain_lr },
            init: Init::Uniform { a: 4.0 * (6.0 / (n_in + h) as f32).sqrt() },
            reduction: Reduction::Mean,
            batch: self.batch,
            tied: true,
            ..ModelConfig::default()
        }
    }

    /// The fine-tuned classifier: the sigmoid layers, then a softmax layer (zero-initialised
    /// as the source's `LogisticRegression`).
    pub fn classifier(&self) -> ModelConfig {
        let mut dims = vec![self.input];
        dims.extend(&self.hidden);
        dims.push(self.classes);
        let mut activations = vec![Activation::Sigmoid; self.hidden.len()];
        activations.push(Activation::Identity);
        ModelConfig {
            name: "sda".into(),
            dims,
            activations,
            loss: LossKind::SoftmaxCe,
            noise: NoiseKind::None,
            optimizer: Optimizer::Sgd { lr: self.finetune_lr },
            init: Init::Uniform { a: 4.0 * (6.0 / (self.input + self.hidden[0]) as f32).sqrt() },
            reduction: Reduction::Mean,
            batch: self.batch,
            ..ModelConfig::default()
        }
    }
}

/// Copies dense layer `s` of `src` into layer `d` of `dst` (weights and bias; only the
/// bias where `d` borrows another layer's weights, tied).
fn copy_dense(dst: &mut [f32], d: DenseSlot, src: &[f32], s: DenseSlot) {
    assert_eq!((d.fan_in, d.fan_out), (s.fan_in, s.fan_out), "layer shapes differ");
    if !d.transposed {
        assert!(!s.transposed, "an untied layer cannot take a tied layer's weights");
        dst[d.w..d.w + d.w_len()].copy_from_slice(&src[s.w..s.w + s.w_len()]);
    }
    dst[d.b..d.b + d.fan_out].copy_from_slice(&src[s.b..s.b + s.fan_out]);
}

/// The source's early stopping, in minibatch steps (`iter` counts from 0): validate every
/// `frequency` steps; a new best below `best × threshold` raises the patience to
/// `iter × increase`; stop once `patience ≤ iter`.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    pub patience: u64,
    pub frequency: u64,
    pub increase: f64,
    pub threshold: f64,
    /// Best validation error so far (∞ before the first).
    pub best: f64,
    pub best_iter: Option<u64>,
}

impl EarlyStopping {
    pub fn new(spec: &EarlyStoppingSpec, steps_per_epoch: usize) -> Self {
        let patience = (spec.patience_epochs * steps_per_epoch as f64).round().max(1.0) as u64;
        EarlyStopping {
            patience,
            // The source's `min(n_train_batches, patience / 2)`: every epoch by default.
            frequency: (steps_per_epoch as u64).min(patience / 2).max(1),
            increase: spec.patience_increase,
            threshold: spec.improvement_threshold,
            best: f64::INFINITY,
            best_iter: None,
        }
    }

    /// Whether step `iter` ends with a validation.
    pub fn validate_at(&self, iter: u64) -> bool {
        (iter + 1) % self.frequency == 0
    }

    /// Records the validation error after step `iter`; true when it is a new best.
    pub fn record(&mut self, iter: u64, error: f64) -> bool {
        if error < self.best {
            if error < self.best * self.threshold {
                self.patience = self.patience.max((iter as f64 * self.increase) as u64);
            }
            self.best = error;
            self.best_iter = Some(iter);
            true
        } else {
            false
        }
    }

    /// Whether training stops after step `iter`.
    pub fn should_stop(&self, iter: u64) -> bool {
        self.patience <= iter
    }
}

/// The losses of one epoch (or of the part of one that a step cap allowed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochReport {
    /// Index of the phase (0-based) and its name ([`PhaseInfo::name`]).
    pub phase: usize,
    pub name: String,
    /// Which model of a side-by-side phase ("pretrained", "random"); empty otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub series: String,
    /// Epochs done in this phase (fractional where a step cap ended it early).
    pub epoch: f64,
    /// Steps done in this phase.
    pub steps: u64,
    /// Mean training loss per example over the epoch (with noise, without L2).
    pub train_loss: f64,
    /// Mean clean loss per example over the test rows of this phase's data (the cached
    /// codes for an inner pair).
    pub test_loss: f64,
    /// Classifiers: the test accuracy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Fine-tuning: the validation error measured after this epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_error: Option<f64>,
}

/// What a finished recipe reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub recipe: String,
    /// Training steps over every phase (a side-by-side step counts once).
    pub steps: u64,
    /// stacked_greedy: the assembled stack's mean test loss, end to end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_loss: Option<f64>,
    /// sda: the classification test error of the model with the best validation error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_error: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_validation_error: Option<f64>,
    /// sda: fine-tuning epochs at the best validation, and when it stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_epoch: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finetune_epochs: Option<f64>,
    /// pretrain_classifier: final test accuracies of both classifiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretrained_accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_accuracy: Option<f64>,
}

/// What a step did, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A phase starts: `steps_per_epoch` steps over `train_rows` rows, batch `batch`.
    Phase { phase: usize, name: String, what: String, epochs: usize, train_rows: usize, steps_per_epoch: usize, batch: usize },
    Epoch(EpochReport),
    /// Fine-tuning stopped: patience ran out after `steps` steps (`epoch` epochs).
    EarlyStop { phase: usize, epoch: f64, steps: u64, best_epoch: f64, best_validation_error: f64, test_error: f64 },
    Done(Summary),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Training greedy pair / dA `i`.
    Greedy(usize),
    /// sda: fine-tuning the classifier.
    Finetune,
    /// pretrain_classifier: the autoencoder.
    Pretrain,
    /// pretrain_classifier: both classifiers.
    Compare,
    Done,
}

/// A running recipe. Drive it with [`Pipeline::step`] until [`Pipeline::is_done`].
pub struct Pipeline<B: Backend> {
    recipe: Recipe,
    seed: u64,
    data: Uploaded,
    /// Each phase ends after this many steps at the most (smoke tests, demos).
    step_cap: Option<u64>,
    /// The current phase's trainer; after the end, the final model (the assembled stack,
    /// the fine-tuned classifier, the pre-trained classifier).
    trainer: Option<Trainer<B>>,
    /// pretrain_classifier: the randomly initialised classifier, trained beside.
    companion: Option<Autoencoder>,
    stage: Stage,
    phase: usize,
    /// Greedy stages: the current phase's data (pixels, then cached codes) and its rows.
    input: Uploaded,
    /// Parameters of every finished phase, on the host, in order.
    trained: Vec<Vec<f32>>,
    stopper: Option<EarlyStopping>,
    /// Fine-tuning: parameters, test error and epoch of the best validation so far.
    best: Option<(Vec<f32>, f64, f64)>,
    last_validation: Option<(u64, f64)>,
    /// What the last step made due, until [`Pipeline::after_step`] has handled it.
    due: Option<Due>,
    pending: Vec<Event>,
    summary: Summary,
}

impl<B: Backend> Pipeline<B> {
    /// Uploads MNIST (pixels and labels) and starts the first phase.
    pub fn new(mut be: B, recipe: &Recipe, data: &Mnist, seed: u64) -> Result<Self, String> {
        check_bytes(&be, "the training images", data.train.pixels.len() as u64)?;
        let up = Uploaded::mnist(&mut be, data, true);
        Self::from_uploaded(be, recipe, up, seed)
    }

    /// Starts the first phase on data already on `be` (labels needed by the supervised
    /// recipes). Rows the recipe asks for beyond what `data` has are clamped to it.
    pub fn from_uploaded(be: B, recipe: &Recipe, data: Uploaded, seed: u64) -> Result<Self, String> {
        recipe.validate()?;
        let mut p = Pipeline {
            recipe: recipe.clone(),
            seed,
            data,
            step_cap: None,
            trainer: None,
            companion: None,
            stage: Stage::Done,
            phase: 0,
            input: data,
            trained: Vec::new(),
            stopper: None,
            best: None,
            last_validation: None,
            due: None,
            pending: Vec::new(),
            summary: Summary { recipe: recipe.name().into(), ..Summary::default() },
        };
        match recipe {
            Recipe::StackedGreedy(g) => {
                p.input.train_rows = g.train_rows.min(data.train_rows);
                p.start(be, Stage::Greedy(0), g.pair(0), None)?;
            }
            Recipe::Sda(s) => {
                if data.train.labels.is_none() || data.test.labels.is_none() {
                    return Err("sda fine-tunes on labels: upload them".into());
                }
                if s.train_rows + s.validation_rows > data.train_rows {
                    return Err(format!(
                        "{} training + {} validation rows asked for, the training set has {}",
                        s.train_rows, s.validation_rows, data.train_rows
                    ));
                }
                p.input.train_rows = s.train_rows;
                p.start(be, Stage::Greedy(0), s.da(0), None)?;
            }
            Recipe::PretrainClassifier(pc) => {
                if data.train.labels.is_none() || data.test.labels.is_none() {
                    return Err("pretrain_classifier trains on labels: upload them".into());
                }
                p.input.train_rows = pc.pretrain_rows.min(data.train_rows);
                if pc.greedy {
                    p.start(be, Stage::Greedy(0), pc.greedy_spec().pair(0), None)?;
                } else {
                    p.start(be, Stage::Pretrain, pc.autoencoder.clone(), None)?;
                }
            }
        }
        Ok(p)
    }

    /// Ends every phase after at most `steps` steps (None: whole epochs as the recipe says).
    pub fn set_step_cap(&mut self, steps: Option<u64>) {
        self.step_cap = steps;
    }

    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Index of the current phase (into [`Recipe::phases`]).
    pub fn phase(&self) -> usize {
        self.phase
    }

    /// The current phase's trainer; after the end, the final model's.
    pub fn trainer(&self) -> &Trainer<B> {
        self.trainer.as_ref().expect("a pipeline always holds a trainer between steps")
    }

    pub fn trainer_mut(&mut self) -> &mut Trainer<B> {
        self.trainer.as_mut().expect("a pipeline always holds a trainer between steps")
    }

    /// pretrain_classifier's randomly initialised classifier (during and after the
    /// side-by-side phase).
    pub fn companion(&self) -> Option<&Autoencoder> {
        self.companion.as_ref()
    }

    /// Parameters of every finished phase, on the host, in order (greedy pairs, dAs, the
    /// pre-trained autoencoder).
    pub fn trained_params(&self) -> &[Vec<f32>] {
        &self.trained
    }

    /// The current phase's data: the pixels, or the cached codes of the frozen layers
    /// below it.
    pub fn phase_data(&self) -> Uploaded {
        self.input
    }

    /// The summary so far (complete once done).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Hands the final model's trainer (and its backend) over.
    pub fn into_trainer(self) -> Trainer<B> {
        self.trainer.expect("a pipeline always holds a trainer between steps")
    }

    /// Builds the trainer of a new phase on `input` and announces it.
    fn start(&mut self, be: B, stage: Stage, cfg: ModelConfig, params: Option<Vec<f32>>) -> Result<(), String> {
        let up = self.input;
        let mut t = Trainer::from_uploaded(be, &cfg, up.train, up.train_rows, up.test, up.test_rows, self.seed)?;
        if let Some(p) = params {
            t.model.load_params(&mut t.be, &p)?;
        }
        self.phase = match stage {
            Stage::Greedy(i) => i,
            Stage::Finetune | Stage::Compare => self.phase + 1,
            Stage::Pretrain | Stage::Done => 0,
        };
        self.stage = stage;
        let info = &self.recipe.phases()[self.phase];
        self.pending.push(Event::Phase {
            phase: self.phase,
            name: info.name.clone(),
            what: info.what.clone(),
            epochs: info.epochs,
            train_rows: t.train_rows,
            steps_per_epoch: t.steps_per_epoch(),
            batch: t.batch(),
        });
        if stage == Stage::Finetune {
            if let Recipe::Sda(s) = &self.recipe {
                self.stopper = Some(EarlyStopping::new(&s.early_stopping, t.steps_per_epoch()));
            }
        }
        self.trainer = Some(t);
        Ok(())
    }

    fn phase_epochs(&self) -> usize {
        self.recipe.phases()[self.phase].epochs
    }

    /// One training step of the current phase (of both models side by side), without
    /// reading anything back. Returns true when the step ended an epoch or the phase, or
    /// a validation is due: then [`Self::after_step`] must run before the next step (until
    /// it has, this does nothing and returns true again).
    pub fn train_step(&mut self) -> bool {
        if self.due.is_some() {
            return true;
        }
        if self.stage == Stage::Done {
            return false;
        }
        let t = self.trainer.as_mut().expect("trainer");
        let ended = match self.companion.as_mut() {
            Some(c) => t.step_with(std::slice::from_mut(c)),
            None => t.step(),
        };
        self.summary.steps += 1;
        let capped = self.step_cap.is_some_and(|c| t.step >= c);
        let due = match (self.stage, &self.recipe, self.stopper.as_ref()) {
            (Stage::Finetune, Recipe::Sda(s), Some(stopper)) => {
                let iter = t.step - 1;
                ended || capped || t.epoch >= s.max_epochs || stopper.validate_at(iter) || stopper.should_stop(iter)
            }
            _ => ended || capped,
        };
        if due {
            self.due = Some(Due { ended, capped });
        }
        due
    }

    /// Whether [`Self::after_step`] must run before the next training step.
    pub fn is_due(&self) -> bool {
        self.due.is_some()
    }

    /// What the last step made due: the epoch's losses and metrics, validation and early
    /// stopping, the change to the next phase (caching codes, assembling the stack). Every
    /// device read it needs is started as a [`crate::backend::ReadFuture`] and awaited, so
    /// this never blocks (a browser's WebGPU). Returns the events, in order, with the
    /// announcement of a phase that started. Err on a non-finite training loss, a model or
    /// codes that do not fit, or a failed read.
    pub async fn after_step(&mut self) -> Result<Vec<Event>, String> {
        let mut events = Vec::new();
        if let Some(Due { ended, capped }) = self.due.take() {
            if self.stage == Stage::Finetune {
                self.finetune_after_step(ended, capped, &mut events).await?;
            } else {
                self.report_epoch(&mut events, None).await?;
                if capped || self.trainer().epoch >= self.phase_epochs() {
                    self.next_phase(&mut events).await?;
                }
            }
        }
        events.append(&mut self.pending);
        Ok(events)
    }

    /// Events not handed out yet (the first phase's announcement, after construction).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.pending)
    }

    /// One training step and what it made due ([`Self::train_step`], then
    /// [`Self::after_step`] waited for); returns what happened, in order. For backends whose
    /// reads complete when polled: the CPU, and natively the GPU. Err on a non-finite
    /// training loss or a model that does not fit.
    pub fn step(&mut self) -> Result<Vec<Event>, String> {
        let mut events = std::mem::take(&mut self.pending);
        if self.train_step() {
            events.extend(wait(self.after_step())?);
        }
        Ok(events)
    }

    /// Runs every remaining step, handing each event to `on_event`; returns the summary.
    pub fn run(&mut self, mut on_event: impl FnMut(&Event)) -> Result<Summary, String> {
        while !self.is_done() {
            for e in self.step()? {
                on_event(&e);
            }
        }
        Ok(self.summary.clone())
    }

    /// [`Self::run`] without blocking: awaits every read.
    pub async fn run_async(&mut self, mut on_event: impl FnMut(&Event)) -> Result<Summary, String> {
        for e in self.take_events() {
            on_event(&e);
        }
        while !self.is_done() {
            if self.train_step() {
                for e in self.after_step().await? {
                    on_event(&e);
                }
            }
        }
        Ok(self.summary.clone())
    }

    /// The epoch's training loss and test metrics, for the model and any companion.
    async fn report_epoch(&mut self, events: &mut Vec<Event>, validation_error: Option<f64>) -> Result<(), String> {
        let phase = self.phase;
        let name = self.recipe.phases()[phase].name.clone();
        let t = self.trainer.as_mut().expect("trainer");
        let classifier = t.model.cfg.is_classifier();
        let (series, other) = if self.companion.is_some() { ("pretrained", "random") } else { ("", "") };
        let (split, rows) = (t.test_split(), t.test_rows);
        let loss = t.model.train_loss_readback(&mut t.be);
        let eval = EvalRead::start(&mut t.model, &mut t.be, split, 0..rows);
        let beside = self.companion.as_mut().map(|c| (c.train_loss_readback(&mut t.be), EvalRead::start(c, &mut t.be, split, 0..rows)));
        t.be.flush();
        let (epoch, steps) = (t.epochs_done(), t.step);
        let train_loss = mean_train_loss(loss).await?;
        if !train_loss.is_finite() {
            return Err(format!("{name}: the training loss became {train_loss} at step {steps}: lower the learning rate and try again"));
        }
        let (test_loss, acc) = eval.metrics().await?;
        let base = EpochReport {
            phase,
            name,
            series: series.into(),
            epoch,
            steps,
            train_loss,
            test_loss,
            test_accuracy: classifier.then_some(acc),
            validation_error,
        };
        if let Some((loss, eval)) = beside {
            let train_loss = mean_train_loss(loss).await?;
            let (test_loss, acc) = eval.metrics().await?;
            let report = EpochReport { series: other.into(), train_loss, test_loss, test_accuracy: Some(acc), ..base.clone() };
            self.summary.pretrained_accuracy = base.test_accuracy;
            self.summary.random_accuracy = Some(acc);
            events.push(Event::Epoch(base));
            events.push(Event::Epoch(report));
        } else {
            events.push(Event::Epoch(base));
        }
        Ok(())
    }

    /// Ends the current phase and starts the next, or finishes. The finished phase's model
    /// and the codes it trained on are freed on the device once read back.
    async fn next_phase(&mut self, events: &mut Vec<Event>) -> Result<(), String> {
        if self.stage == Stage::Compare {
            self.finish(events);
            return Ok(());
        }
        let recipe = self.recipe.clone();
        // Inner phases follow: the frozen encoder's codes become their data.
        let cache = match (self.stage, &recipe) {
            (Stage::Greedy(i), Recipe::StackedGreedy(g)) => i + 1 < g.epochs.len(),
            (Stage::Greedy(i), Recipe::Sda(s)) => i + 1 < s.hidden.len(),
            (Stage::Greedy(i), Recipe::PretrainClassifier(pc)) => i + 1 < pc.greedy_spec().epochs.len(),
            _ => false,
        };
        let (params, codes) = {
            let t = self.trainer.as_mut().expect("trainer");
            let params = t.be.read_async(t.model.params);
            let codes = if cache { Some(CodesRead::start(t, self.input)?) } else { None };
            t.be.flush();
            let params = params.await?;
            let codes = match codes {
                Some(c) => Some(c.resolve().await?),
                None => None,
            };
            (params, codes)
        };
        self.trained.push(params);
        let mut be = self.release_phase();
        if let Some((train, test, width)) = codes {
            let up = self.input;
            let train = be.upload_f32(&train, width);
            let test = be.upload_f32(&test, width);
            self.input = Uploaded {
                train: Split { data: train, labels: up.train.labels },
                train_rows: up.train_rows,
                test: Split { data: test, labels: up.test.labels },
                test_rows: up.test_rows,
            };
        }
        match (self.stage, &recipe) {
            (Stage::Greedy(i), Recipe::StackedGreedy(g)) => {
                if cache {
                    return self.start(be, Stage::Greedy(i + 1), g.pair(i + 1), None);
                }
                let p = g.assemble(&self.trained);
                self.input = Uploaded { train_rows: self.input.train_rows, ..self.data };
                let up = self.input;
                let mut stack = Trainer::from_uploaded(be, &g.stack, up.train, up.train_rows, up.test, up.test_rows, self.seed)?;
                stack.model.load_params(&mut stack.be, &p)?;
                let eval = EvalRead::start(&mut stack.model, &mut stack.be, up.test, 0..up.test_rows);
                stack.be.flush();
                self.trainer = Some(stack);
                self.summary.test_loss = Some(eval.metrics().await?.0);
                self.finish(events);
                Ok(())
            }
            (Stage::Greedy(i), Recipe::Sda(s)) => {
                if cache {
                    return self.start(be, Stage::Greedy(i + 1), s.da(i + 1), None);
                }
                let cfg = s.classifier();
                let layout = ParamLayout::new(&cfg);
                // The softmax layer starts at zero, as the source's LogisticRegression.
                let mut p = vec![0.0f32; layout.total];
                for (j, da) in self.trained.iter().enumerate() {
                    copy_dense(&mut p, layout.dense[j], da, ParamLayout::new(&s.da(j)).dense[0]);
                }
                self.input = Uploaded { train_rows: s.train_rows, ..self.data };
                self.start(be, Stage::Finetune, cfg, Some(p))
            }
            (Stage::Greedy(i), Recipe::PretrainClassifier(pc)) => {
                let g = pc.greedy_spec();
                if cache {
                    return self.start(be, Stage::Greedy(i + 1), g.pair(i + 1), None);
                }
                let ae = g.assemble(&self.trained);
                self.begin_compare(be, pc, &ae)
            }
            (Stage::Pretrain, Recipe::PretrainClassifier(pc)) => {
                let ae = self.trained[0].clone();
                self.begin_compare(be, pc, &ae)
            }
            (stage, r) => unreachable!("stage {stage:?} in recipe {}", r.name()),
        }
    }

    /// Takes the finished phase's trainer, frees its model and the cached codes it trained
    /// on (never the uploaded images), and gives the backend back.
    fn release_phase(&mut self) -> B {
        let t = self.trainer.take().expect("trainer");
        let mut be = t.release();
        let (input, data) = (self.input, self.data);
        if input.train.data != data.train.data && input.train.data != data.test.data {
            be.free_data(input.train.data);
        }
        if input.test.data != data.test.data && input.test.data != data.train.data && input.test.data != input.train.data {
            be.free_data(input.test.data);
        }
        be
    }

    /// pretrain_classifier: the classifier initialised from the autoencoder `ae`, and the
    /// same one from random initialisation beside it, on the labelled rows.
    fn begin_compare(&mut self, be: B, pc: &Pretrain, ae: &[f32]) -> Result<(), String> {
        let cfg = &pc.classifier;
        let (cl, al) = (ParamLayout::new(cfg), ParamLayout::new(&pc.autoencoder));
        let mut p = cl.init(cfg, self.seed);
        for j in 0..pc.encoder_layers {
            copy_dense(&mut p, cl.dense[j], ae, al.dense[j]);
        }
        self.input = Uploaded { train_rows: pc.labelled.min(self.data.train_rows), ..self.data };
        self.start(be, Stage::Compare, cfg.clone(), Some(p))?;
        // The same classifier from the same seed's random initialisation.
        let t = self.trainer.as_mut().expect("trainer");
        self.companion = Some(Autoencoder::new(&mut t.be, cfg, self.seed)?);
        Ok(())
    }

    /// After a fine-tuning step: validate when due, keep the best model, stop when the
    /// patience runs out, at the last epoch, or at the step cap.
    async fn finetune_after_step(&mut self, ended: bool, capped: bool, events: &mut Vec<Event>) -> Result<(), String> {
        let Recipe::Sda(s) = &self.recipe else { unreachable!() };
        let (train_rows, validation_rows, max_epochs) = (s.train_rows, s.validation_rows, s.max_epochs);
        let t = self.trainer.as_mut().expect("trainer");
        let stopper = self.stopper.as_mut().expect("early stopping");
        let iter = t.step - 1;
        let last = capped || t.epoch >= max_epochs;
        if stopper.validate_at(iter) || (last && self.last_validation.is_none_or(|(i, _)| i != iter)) {
            let split = t.train_split();
            let validation = EvalRead::start(&mut t.model, &mut t.be, split, train_rows..train_rows + validation_rows);
            t.be.flush();
            let (_, acc) = validation.metrics().await?;
            let error = 1.0 - acc;
            self.last_validation = Some((iter, error));
            if stopper.record(iter, error) {
                let (split, rows) = (t.test_split(), t.test_rows);
                let test = EvalRead::start(&mut t.model, &mut t.be, split, 0..rows);
                let params = t.be.read_async(t.model.params);
                t.be.flush();
                let (_, test_acc) = test.metrics().await?;
                let params = params.await?;
                self.best = Some((params, 1.0 - test_acc, t.epochs_done()));
            }
        }
        let stop = self.stopper.as_ref().expect("early stopping").should_stop(iter);
        if ended || last || stop {
            let validation_error = self.last_validation.filter(|&(i, _)| i == iter).map(|(_, e)| e);
            self.report_epoch(events, validation_error).await?;
        }
        if last || stop {
            let t = self.trainer.as_mut().expect("trainer");
            let (params, test_error, best_epoch) = self.best.clone().expect("validated at least once");
            let best_validation_error = self.stopper.as_ref().unwrap().best;
            if stop {
                events.push(Event::EarlyStop { phase: self.phase, epoch: t.epochs_done(), steps: t.step, best_epoch, best_validation_error, test_error });
            }
            self.summary.test_error = Some(test_error);
            self.summary.best_validation_error = Some(best_validation_error);
            self.summary.best_epoch = Some(best_epoch);
            self.summary.finetune_epochs = Some(t.epochs_done());
            // The final model is the best one, as reported.
            t.model.load_params(&mut t.be, &params)?;
            self.finish(events);
        }
        Ok(())
    }

    fn finish(&mut self, events: &mut Vec<Event>) {
        self.stage = Stage::Done;
        events.push(Event::Done(self.summary.clone()));
    }
}

/// What the last training step made due ([`Pipeline::after_step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Due {
    /// The step completed an epoch.
    ended: bool,
    /// The step cap was reached.
    capped: bool,
}

/// An evaluation recorded on the device: the read-back of its sums and the rows it covers.
struct EvalRead {
    sums: ReadFuture,
    rows: usize,
    classifier: bool,
}

impl EvalRead {
    /// Evaluates `model` on rows `rows` of `split` and starts reading the sums back.
    fn start<B: Backend>(model: &mut Autoencoder, be: &mut B, split: Split, rows: std::ops::Range<usize>) -> Self {
        let n = rows.len().max(1);
        let idx: Vec<u32> = (rows.start as u32..rows.end as u32).collect();
        model.eval_rows(be, split, &idx, true);
        EvalRead { sums: model.eval_readback(be), rows: n, classifier: model.cfg.is_classifier() }
    }

    /// (mean loss, accuracy; 0 for autoencoders), as `Autoencoder::eval_range`.
    async fn metrics(self) -> Result<(f64, f64), String> {
        let v = self.sums.await?;
        let correct = if self.classifier { v[1] as f64 } else { 0.0 };
        Ok((v[0] as f64 / self.rows as f64, correct / self.rows as f64))
    }
}

/// The mean of a training-loss read-back (NaN when no step ran), as `take_train_loss`.
async fn mean_train_loss(read: Option<(ReadFuture, usize)>) -> Result<f64, String> {
    match read {
        Some((f, n)) => Ok(f.await?[0] as f64 / n as f64),
        None => Ok(f64::NAN),
    }
}

/// The frozen encoder's outputs over a phase's training and test rows, being read back.
struct CodesRead {
    train: Vec<ReadFuture>,
    test: Vec<ReadFuture>,
    width: usize,
}

impl CodesRead {
    /// Runs the trained encoder (dense layer 0) over `input`'s rows and starts the reads;
    /// Err when the codes would not fit in one device buffer.
    fn start<B: Backend>(t: &mut Trainer<B>, input: Uploaded) -> Result<Self, String> {
        let width = t.model.layout.dense[0].fan_out;
        assert!(t.model.layout.dense.len() > 1, "layer 0 is not a hidden layer");
        for rows in [input.train_rows, input.test_rows] {
            check_bytes(&t.be, "the cached codes", (4 * rows * width) as u64)?;
        }
        let idx: Vec<u32> = (0..input.train_rows as u32).collect();
        let train = t.model.activations_readback(&mut t.be, input.train.data, &idx, 0);
        let idx: Vec<u32> = (0..input.test_rows as u32).collect();
        let test = t.model.activations_readback(&mut t.be, input.test.data, &idx, 0);
        Ok(CodesRead { train, test, width })
    }

    /// (training codes, test codes, width), row after row.
    async fn resolve(self) -> Result<(Vec<f32>, Vec<f32>, usize), String> {
        let mut train = Vec::new();
        for f in self.train {
            train.extend(f.await?);
        }
        let mut test = Vec::new();
        for f in self.test {
            test.extend(f.await?);
        }
        Ok((train, test, self.width))
    }
}

/// Waits for a future whose reads complete when polled (the CPU backend; natively the GPU,
/// whose reads poll the device). In the browser a pending read is an error: drive the
/// pipeline with [`Pipeline::train_step`] and await [`Pipeline::after_step`] instead.
fn wait<T>(f: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(f)
    }
    #[cfg(target_arch = "wasm32")]
    {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => r,
            Poll::Pending => Err("a device read is still pending: in the browser, await Pipeline::after_step".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_validates_and_round_trips_through_json() {
        for name in RECIPE_NAMES {
            let r = recipe(name).unwrap();
            r.validate().unwrap();
            assert_eq!(r.name(), *name);
            let json = serde_json::to_string(&r).unwrap();
            let back: Recipe = serde_json::from_str(&json).unwrap();
            assert_eq!(r, back);
        }
        assert!(recipe("nope").is_none());
    }

    #[test]
    fn greedy_pairs_are_the_stacks_outer_and_inner_autoencoders() {
        let Some(Recipe::StackedGreedy(g)) = recipe("stacked_greedy") else { panic!() };
        let (p1, p2) = (g.pair(0), g.pair(1));
        assert_eq!(p1.dims, vec![784, 300, 784]);
        assert_eq!(p1.activations, vec![Activation::Elu, Activation::Identity]);
        assert_eq!(p2.dims, vec![300, 150, 300]);
        assert_eq!(p2.activations, vec![Activation::Elu, Activation::Elu]);
        for p in [&p1, &p2] {
            assert_eq!((p.batch, p.l2, p.loss, p.optimizer), (150, 1e-4, LossKind::Mse, Optimizer::adam(0.01)));
        }
    }

    #[test]
    fn sda_layers_are_tied_masked_sigmoid_autoencoders() {
        let Some(Recipe::Sda(s)) = recipe("sda") else { panic!() };
        let da = s.da(2);
        assert_eq!(da.dims, vec![1000, 1000, 1000]);
        assert!(da.tied);
        assert_eq!(da.noise, NoiseKind::Masking { keep: 0.7 });
        assert_eq!(s.da(0).noise, NoiseKind::Masking { keep: 0.9 });
        let c = s.classifier();
        assert_eq!(c.dims, vec![784, 1000, 1000, 1000, 10]);
        assert!(c.is_classifier());
    }

    #[test]
    fn bad_recipes_are_rejected_with_a_reason() {
        let mut r = recipe("pretrain_classifier").unwrap();
        if let Recipe::PretrainClassifier(p) = &mut r {
            p.classifier.dims[1] = 200;
        }
        assert!(r.validate().unwrap_err().contains("must match"));
        let mut r = recipe("sda").unwrap();
        if let Recipe::Sda(s) = &mut r {
            s.corruption.pop();
        }
        assert!(r.validate().unwrap_err().contains("corruption"));
        let mut r = recipe("stacked_greedy").unwrap();
        if let Recipe::StackedGreedy(g) = &mut r {
            g.epochs = vec![1];
        }
        assert!(r.validate().unwrap_err().contains("epoch counts"));
        assert!(recipe("stacked_greedy").unwrap().set_labelled(5).is_err());
    }

    /// The source's rule: patience 10 epochs of steps; a significant new best at step
    /// `iter` raises it to 2·iter; stop once patience ≤ iter.
    #[test]
    fn early_stopping_follows_the_source() {
        let spec = EarlyStoppingSpec::default();
        let n = 10; // steps per epoch
        // Validation improves for 5 epochs, then stays flat: stop at step 100.
        let mut es = EarlyStopping::new(&spec, n);
        assert_eq!((es.patience, es.frequency), (100, 10));
        let mut stopped = None;
        for iter in 0..10_000u64 {
            if es.validate_at(iter) {
                let epoch = (iter + 1) / n as u64;
                es.record(iter, if epoch <= 5 { 1.0 / epoch as f64 } else { 0.2 });
            }
            if es.should_stop(iter) {
                stopped = Some(iter);
                break;
            }
        }
        assert_eq!(stopped, Some(100));
        assert_eq!(es.best_iter, Some(49));
        // Improving for 60 epochs: the last significant best at step 599 makes it 1198.
        let mut es = EarlyStopping::new(&spec, n);
        let mut stopped = None;
        for iter in 0..10_000u64 {
            if es.validate_at(iter) {
                let epoch = (iter + 1) / n as u64;
                es.record(iter, if epoch <= 60 { 1.0 - 0.01 * epoch as f64 } else { 0.5 });
            }
            if es.should_stop(iter) {
                stopped = Some(iter);
                break;
            }
        }
        assert_eq!(stopped, Some(1198));
        // Insignificant improvements (under 0.5 %) keep the best but not the patience.
        let mut es = EarlyStopping::new(&spec, n);
        es.record(9, 0.5);
        assert_eq!(es.patience, 100);
        es.record(59, 0.499);
        assert_eq!((es.patience, es.best, es.best_iter), (100, 0.499, Some(59)));
        es.record(69, 0.3);
        assert_eq!(es.patience, 138);
    }

    #[test]
    fn copy_dense_moves_weights_and_biases() {
        let cfg = ModelConfig { dims: vec![3, 2, 3], tied: true, ..ModelConfig::default() };
        let l = ParamLayout::new(&cfg);
        let src: Vec<f32> = (0..l.total).map(|i| i as f32).collect();
        let cls = ModelConfig { dims: vec![3, 2, 4], loss: LossKind::SoftmaxCe, activations: vec![Activation::Sigmoid, Activation::Identity], ..ModelConfig::default() };
        let cl = ParamLayout::new(&cls);
        let mut dst = vec![0.0; cl.total];
        copy_dense(&mut dst, cl.dense[0], &src, l.dense[0]);
        assert_eq!(&dst[..8], &src[..8]);
        assert!(dst[8..].iter().all(|&v| v == 0.0));
    }
}
