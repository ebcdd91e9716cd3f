//! The recipe specs: what each multi-phase recipe trains ([`Recipe`] and its three specs,
//! serialisable so that presets, URLs and saved files carry them), the sources' settings
//! ([`recipe`]), each spec's phases and the models they train, and the checks that a spec
//! is buildable ([`Recipe::validate`]). No device and no training state here: the state
//! machine that runs a spec is [`super::Pipeline`].

use serde::{Deserialize, Serialize};

use crate::core::config::{preset, Activation, Init, LossKind, ModelConfig, NoiseKind, Optimizer, Reduction};
use crate::core::layout::{DenseSlot, ParamLayout};

/// Names of the multi-phase recipes, one per arm of [`recipe`], in the order the page lists
/// them (the catalogue's recipe rows, in the same order: `tests/catalogue.rs`). They are
/// not in [`crate::core::config::PRESET_NAMES`]: each is several models, not one
/// [`ModelConfig`].
pub const RECIPE_NAMES: &[&str] = &["stacked_greedy", "sda", "pretrain_classifier"];

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
                noise: NoiseKind::None,
                optimizer: Optimizer::Sgd { lr: 0.1 },
                init: Init::GlorotUniform,
                reduction: Reduction::Mean,
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
            Recipe::StackedGreedy(g) => g.phases(),
            Recipe::Sda(s) => s.phases(),
            Recipe::PretrainClassifier(p) => p.phases(),
        }
    }

    /// Checks that the recipe is buildable; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Recipe::StackedGreedy(g) => g.validate(),
            Recipe::Sda(s) => s.validate(),
            Recipe::PretrainClassifier(p) => p.validate(),
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

    fn phases(&self) -> Vec<PhaseInfo> {
        (0..self.epochs.len())
            .map(|i| {
                let config = self.pair(i);
                PhaseInfo { name: format!("pair{}", i + 1), what: format!("autoencoder {}", widths(&config.dims)), epochs: self.epochs[i], config }
            })
            .collect()
    }

    fn validate(&self) -> Result<(), String> {
        let stack = &self.stack;
        stack.validate()?;
        let l = stack.layers();
        let rev: Vec<usize> = stack.dims.iter().rev().copied().collect();
        if l % 2 != 0 || rev != stack.dims {
            return Err(format!("greedy training needs a mirrored stack (e.g. 784, 300, 150, 300, 784), got {:?}", stack.dims));
        }
        if stack.variational || stack.sparsity.is_some() {
            return Err("greedy training takes plain dense stacks (no variational code, no sparsity penalty)".into());
        }
        if self.epochs.len() != l / 2 {
            return Err(format!("{} pairs need {} epoch counts, got {}", l / 2, l / 2, self.epochs.len()));
        }
        if self.epochs.contains(&0) || self.train_rows == 0 {
            return Err("every phase needs at least one epoch and one row".into());
        }
        (0..l / 2).try_for_each(|i| self.pair(i).validate())
    }
}

impl Pretrain {
    /// The greedy pre-training of the autoencoder, pair by pair.
    pub fn greedy_spec(&self) -> Greedy {
        Greedy { stack: self.autoencoder.clone(), epochs: vec![self.pretrain_epochs; self.autoencoder.layers() / 2], train_rows: self.pretrain_rows }
    }

    fn phases(&self) -> Vec<PhaseInfo> {
        let mut v = if self.greedy {
            self.greedy_spec().phases()
        } else {
            vec![PhaseInfo {
                name: "pretrain".into(),
                what: format!("autoencoder {} on {} unlabelled images", widths(&self.autoencoder.dims), self.pretrain_rows),
                epochs: self.pretrain_epochs,
                config: self.autoencoder.clone(),
            }]
        };
        v.push(PhaseInfo {
            name: "classify".into(),
            what: format!("classifier {} on {} labelled images, pre-trained and random beside each other", widths(&self.classifier.dims), self.labelled),
            epochs: self.epochs,
            config: self.classifier.clone(),
        });
        v
    }

    fn validate(&self) -> Result<(), String> {
        let (ae, cl) = (&self.autoencoder, &self.classifier);
        ae.validate()?;
        cl.validate()?;
        if !cl.is_classifier() {
            return Err("the classifier needs the softmax cross-entropy loss".into());
        }
        let k = self.encoder_layers;
        if k == 0 || k >= cl.layers() || k > ae.layers() / 2 {
            return Err(format!("{k} encoder layers do not fit the autoencoder's encoder and leave the classifier an output layer"));
        }
        if cl.dims[..=k] != ae.dims[..=k] || cl.activations[..k] != ae.activations[..k] {
            return Err(format!("the classifier's first {k} layers ({}) must match the autoencoder's ({})", widths(&cl.dims[..=k]), widths(&ae.dims[..=k])));
        }
        if ae.tied || ae.variational {
            return Err("pre-train an untied, non-variational autoencoder".into());
        }
        if self.pretrain_epochs == 0 || self.epochs == 0 || self.labelled == 0 || self.pretrain_rows == 0 {
            return Err("both phases need at least one epoch and one row".into());
        }
        if self.greedy {
            self.greedy_spec().validate()?;
        }
        Ok(())
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

    fn phases(&self) -> Vec<PhaseInfo> {
        let mut v: Vec<PhaseInfo> = (0..self.hidden.len())
            .map(|i| {
                let config = self.da(i);
                let what = format!("denoising autoencoder {} (tied, corruption {})", widths(&config.dims), self.corruption[i]);
                PhaseInfo { name: format!("da{}", i + 1), what, epochs: self.pretrain_epochs, config }
            })
            .collect();
        let config = self.classifier();
        let what = format!("fine-tuning classifier {} with early stopping", widths(&config.dims));
        v.push(PhaseInfo { name: "finetune".into(), what, epochs: self.max_epochs, config });
        v
    }

    fn validate(&self) -> Result<(), String> {
        if self.hidden.is_empty() || self.corruption.len() != self.hidden.len() {
            return Err(format!("{} hidden layers need as many corruption levels, got {}", self.hidden.len(), self.corruption.len()));
        }
        if self.corruption.iter().any(|c| !(0.0..1.0).contains(c)) {
            return Err("corruption levels must be in [0, 1)".into());
        }
        if self.pretrain_epochs == 0 || self.max_epochs == 0 || self.train_rows == 0 || self.validation_rows == 0 {
            return Err("pre-training and fine-tuning need at least one epoch, and training and validation rows".into());
        }
        let es = self.early_stopping;
        if !(es.patience_epochs > 0.0 && es.patience_increase >= 1.0 && es.improvement_threshold > 0.0 && es.improvement_threshold <= 1.0) {
            return Err(format!("early stopping needs patience > 0, increase ≥ 1 and a threshold in (0, 1], got {es:?}"));
        }
        (0..self.hidden.len()).try_for_each(|i| self.da(i).validate())?;
        self.classifier().validate()
    }
}

/// Copies dense layer `s` of `src` into layer `d` of `dst` (weights and bias; only the
/// bias where `d` borrows another layer's weights, tied).
pub(super) fn copy_dense(dst: &mut [f32], d: DenseSlot, src: &[f32], s: DenseSlot) {
    assert_eq!((d.fan_in, d.fan_out), (s.fan_in, s.fan_out), "layer shapes differ");
    if !d.transposed {
        assert!(!s.transposed, "an untied layer cannot take a tied layer's weights");
        dst[d.w..d.w + d.w_len()].copy_from_slice(&src[s.w..s.w + s.w_len()]);
    }
    dst[d.b..d.b + d.fan_out].copy_from_slice(&src[s.b..s.b + s.fan_out]);
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
