//! The step-driven state machine that runs a [`Recipe`]: it builds each phase's trainer,
//! steps it, reports epochs (with early stopping while fine-tuning), caches a frozen
//! encoder's codes for the next phase, assembles or initialises the next model from the
//! finished ones, and frees what a finished phase leaves on the device.

use super::events::{EpochReport, RecipeEvent, Summary};
use super::reads::{mean_train_loss, wait, CodesRead, EvalRead};
use super::recipe::{copy_dense, Greedy, Pretrain, Recipe};
use super::stopping::EarlyStopping;
use crate::backend::Backend;
use crate::core::config::ModelConfig;
use crate::core::layout::ParamLayout;
use crate::data::Mnist;
use crate::model::{Autoencoder, Split};
use crate::train::{check_bytes, Trainer, Uploaded};

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
    pending: Vec<RecipeEvent>,
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
        self.pending.push(RecipeEvent::Phase {
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
    pub async fn after_step(&mut self) -> Result<Vec<RecipeEvent>, String> {
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
    pub fn take_events(&mut self) -> Vec<RecipeEvent> {
        std::mem::take(&mut self.pending)
    }

    /// One training step and what it made due ([`Self::train_step`], then
    /// [`Self::after_step`] waited for); returns what happened, in order. For backends whose
    /// reads complete when polled: the CPU, and natively the GPU. Err on a non-finite
    /// training loss or a model that does not fit.
    pub fn step(&mut self) -> Result<Vec<RecipeEvent>, String> {
        let mut events = std::mem::take(&mut self.pending);
        if self.train_step() {
            events.extend(wait(self.after_step())?);
        }
        Ok(events)
    }

    /// Runs every remaining step, handing each event to `on_event`; returns the summary.
    pub fn run(&mut self, mut on_event: impl FnMut(&RecipeEvent)) -> Result<Summary, String> {
        while !self.is_done() {
            for e in self.step()? {
                on_event(&e);
            }
        }
        Ok(self.summary.clone())
    }

    /// [`Self::run`] without blocking: awaits every read.
    pub async fn run_async(&mut self, mut on_event: impl FnMut(&RecipeEvent)) -> Result<Summary, String> {
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
    async fn report_epoch(&mut self, events: &mut Vec<RecipeEvent>, validation_error: Option<f64>) -> Result<(), String> {
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
            events.push(RecipeEvent::Epoch(base));
            events.push(RecipeEvent::Epoch(report));
        } else {
            events.push(RecipeEvent::Epoch(base));
        }
        Ok(())
    }

    /// Ends the current phase and starts the next, or finishes. The finished phase's model
    /// and the codes it trained on are freed on the device once read back.
    async fn next_phase(&mut self, events: &mut Vec<RecipeEvent>) -> Result<(), String> {
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
        let be = self.close_phase(cache).await?;
        match (self.stage, &recipe) {
            (Stage::Greedy(i), Recipe::StackedGreedy(g)) => {
                if cache {
                    return self.start(be, Stage::Greedy(i + 1), g.pair(i + 1), None);
                }
                self.finish_stack(be, g, events).await
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

    /// Reads the finished phase's parameters back (and, when `cache`, its encoder's codes
    /// over the phase's rows), frees the phase ([`Self::release_phase`]) and makes the
    /// codes the next phase's data. Returns the backend for the next phase.
    async fn close_phase(&mut self, cache: bool) -> Result<B, String> {
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
        Ok(be)
    }

    /// stacked_greedy's end: the stack assembled from the trained pairs, evaluated end to
    /// end on the test images; it stays as the final model.
    async fn finish_stack(&mut self, be: B, g: &Greedy, events: &mut Vec<RecipeEvent>) -> Result<(), String> {
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
    async fn finetune_after_step(&mut self, ended: bool, capped: bool, events: &mut Vec<RecipeEvent>) -> Result<(), String> {
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
                events.push(RecipeEvent::EarlyStop { phase: self.phase, epoch: t.epochs_done(), steps: t.step, best_epoch, best_validation_error, test_error });
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

    fn finish(&mut self, events: &mut Vec<RecipeEvent>) {
        self.stage = Stage::Done;
        events.push(RecipeEvent::Done(self.summary.clone()));
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
