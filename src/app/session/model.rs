//! A single model (any preset, or a custom model from a link): trains in slices, measures
//! the test loss in pieces between slices, and makes frames with every picture of a model:
//! the reconstruction grid, the pad, features, the latent space, generated digits, the
//! interpolation, the sparsity histogram, and for a linear autoencoder the PCA it
//! approaches (fitted on the CPU in pieces between slices). It keeps the parameters of its
//! last read-back, so a lost device costs only the steps since.

use crate::backend::{Backend, ReadFuture};
use crate::app::catalogue::{self, Kind};
use crate::core::config::{LossKind, NoiseKind};
use crate::core::pca::{fill_pixels, Pca, PcaFit, TopComponents};
use crate::core::ModelConfig;
use crate::data::Mnist;
use crate::io::saved::{LossHistory, SavedModel};
use crate::model::OptimState;
use crate::train::divergence::{short, Divergence};
use crate::train::Trainer;

use super::super::clock::now_ms;
use super::super::frame::Frame;
use super::super::history::{Chart, History};
use super::super::pictures::{self, pca_components, PcaView, Picture, PictureId, PictureState, GRID_STREAM, PAD_STREAM};
use super::super::protocol::SessionInfo;
use super::{fence_of, rate, AfterSlice, AnyBackend, Budget, FrameCtx, LocalFuture, ModelControls, Produced, Session};

/// Test digits in the page's test loss (the CLI uses all 10,000).
pub const EVAL_ROWS: usize = 1000;
/// Test rows evaluated per slice while a test evaluation is under way.
const EVAL_ROWS_PER_SLICE: usize = 50;
/// A test evaluation starts this often (wall time) while training, at most ...
const EVAL_EVERY_MS: f64 = 4000.0;
/// ... and after this many training rows per test row at least (a forward pass costs about
/// a third of a training step: at most 3 % of the time goes to the test loss, on a slow
/// device too).
const EVAL_SPACING: usize = 10;
/// Training rows per piece of the PCA fit (one covariance product of this many rows).
const PCA_ROWS_PER_PIECE: usize = 256;

/// The loss of a model, in words, for the chart's axis.
pub fn loss_label(cfg: &ModelConfig) -> String {
    let loss = match cfg.loss {
        LossKind::BceLogits => "cross-entropy per digit",
        LossKind::HalfSse => "½·squared error per digit",
        LossKind::Mse => "mean squared error per pixel",
        LossKind::SoftmaxCe => "softmax cross-entropy",
    };
    if cfg.variational {
        format!("{loss} + KL")
    } else {
        loss.into()
    }
}

/// Mean per digit of ½·Σ(z − x)² in the units of `loss`.
fn in_units(loss: LossKind, half_sse: f64) -> f64 {
    match loss {
        LossKind::Mse => 2.0 * half_sse / 784.0,
        _ => half_sse,
    }
}

/// The PCA a linear autoencoder approaches, fitted in pieces.
enum PcaStage {
    Covariance(PcaFit),
    Top(TopComponents),
    Ready { pca: Pca, half_sse: f64, seconds: f64 },
    Failed(String),
}

struct PcaState {
    k: usize,
    stage: PcaStage,
    started_ms: f64,
}

impl PcaState {
    fn new(k: usize, data: &Mnist) -> PcaState {
        let stage = match PcaFit::with_chunk(data.train.items, 784, k, PCA_ROWS_PER_PIECE) {
            Ok(f) => PcaStage::Covariance(f),
            Err(e) => PcaStage::Failed(e),
        };
        PcaState { k, stage, started_ms: now_ms() }
    }

    /// One piece of the fit: a covariance product, or one subspace iteration.
    fn advance(&mut self, data: &Mnist) {
        let stage = std::mem::replace(&mut self.stage, PcaStage::Failed(String::new()));
        self.stage = match stage {
            PcaStage::Covariance(mut fit) => {
                if fit.advance(|i, out| fill_pixels(data.train.image(i), out), PCA_ROWS_PER_PIECE) {
                    match fit.finish_in_pieces() {
                        Ok(top) => PcaStage::Top(top),
                        Err(e) => PcaStage::Failed(e),
                    }
                } else {
                    PcaStage::Covariance(fit)
                }
            }
            PcaStage::Top(mut top) => {
                if top.advance(1) {
                    match top.finish() {
                        Ok(pca) => {
                            let rows = EVAL_ROWS.min(data.test.items);
                            let mut x = vec![0f32; rows * 784];
                            for (i, out) in x.chunks_mut(784).enumerate() {
                                fill_pixels(data.test.image(i), out);
                            }
                            let half_sse = pca.half_sse_loss(&x);
                            PcaStage::Ready { pca, half_sse, seconds: (now_ms() - self.started_ms) / 1000.0 }
                        }
                        Err(e) => PcaStage::Failed(e),
                    }
                } else {
                    PcaStage::Top(top)
                }
            }
            done => done,
        };
    }

    fn fitting(&self) -> bool {
        matches!(self.stage, PcaStage::Covariance(_) | PcaStage::Top(_))
    }

    fn view(&self, loss: LossKind, grid: &[f32]) -> PcaView {
        match &self.stage {
            PcaStage::Covariance(fit) => PcaView::Fitting { k: self.k, progress: 0.9 * fit.progress() },
            PcaStage::Top(top) => PcaView::Fitting { k: self.k, progress: 0.9 + 0.1 * (top.status().0 as f64 / 20.0).min(1.0) },
            PcaStage::Ready { pca, half_sse, seconds } => {
                let mut recon = pca.reconstruct(&pca.project(grid));
                recon.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
                PcaView::Ready { k: self.k, train_rows: pca.samples, test_loss: in_units(loss, *half_sse), seconds: *seconds, recon }
            }
            PcaStage::Failed(why) => PcaView::Failed(why.clone()),
        }
    }

    /// The reference level for the loss chart.
    fn level(&self, loss: LossKind) -> Option<(String, f64)> {
        match &self.stage {
            PcaStage::Ready { half_sse, .. } => Some((format!("PCA with {} components", self.k), in_units(loss, *half_sse))),
            _ => None,
        }
    }
}

/// The test evaluation, a few rows per slice.
#[derive(Default)]
struct Eval {
    pos: Option<usize>,
    done: bool,
    last_ms: Option<f64>,
    /// The training step the last evaluation started at.
    last_step: Option<u64>,
}

pub struct ModelSession {
    /// The trainer, whose model's description is the one owner of the settings (learning
    /// rate, batch, noise).
    trainer: Trainer<AnyBackend>,
    /// The learning rate the session started with (Reset goes back to it).
    start_lr: f32,
    seed: u64,
    train_h: History,
    test_h: History,
    eval: Eval,
    pictures: PictureState,
    /// The parameters of the last read-back and their step (a lost device resumes there).
    snapshot: Option<(Vec<f32>, u64)>,
    /// The time and step of the last frame (samples per second between frames).
    rate: Option<(f64, u64)>,
    pca: Option<PcaState>,
    /// The training set grew during this run: its epochs are of different lengths, so the
    /// chart marks none.
    grown: bool,
    /// Every step's loss, read from the device's step log with each frame, held to the
    /// bound the CLI uses (the mean of 32 steps within 10× the run's first step).
    guard: Divergence,
    /// The last step's loss and its step (from the device's step log).
    step_loss: Option<(u64, f64)>,
}

/// How many test rows the page evaluates.
fn eval_rows(t: &Trainer<AnyBackend>) -> usize {
    EVAL_ROWS.min(t.test_rows)
}

impl ModelSession {
    pub fn new(cfg: ModelConfig, seed: u64, be: AnyBackend, data: &Mnist) -> Result<ModelSession, String> {
        cfg.validate()?;
        let trainer = Trainer::new(be, &cfg, data, seed)?;
        Ok(ModelSession::with_trainer(trainer, seed, data))
    }

    fn with_trainer(mut trainer: Trainer<AnyBackend>, seed: u64, data: &Mnist) -> ModelSession {
        trainer.enable_step_losses();
        let pca = pca_components(&trainer.model.cfg).map(|k| PcaState::new(k, data));
        let cfg_lr = trainer.model.cfg.optimizer.lr();
        ModelSession {
            trainer,
            start_lr: cfg_lr,
            seed,
            train_h: History::default(),
            test_h: History::default(),
            eval: Eval::default(),
            pictures: PictureState::default(),
            snapshot: None,
            rate: None,
            pca,
            grown: false,
            guard: Divergence::new(cfg_lr),
            step_loss: None,
        }
    }

    /// A session continuing a saved model on `be`.
    pub fn resume(saved: &SavedModel, be: AnyBackend, data: &Mnist) -> Result<ModelSession, String> {
        let trainer = saved.resume(be, data)?;
        let mut s = ModelSession::with_trainer(trainer, saved.seed, data);
        s.train_h = History::from_points(saved.history.train.clone());
        s.test_h = History::from_points(saved.history.test.clone());
        s.snapshot = Some((saved.params.clone(), saved.step));
        Ok(s)
    }

    /// The model's description (the trainer's).
    pub fn config(&self) -> &ModelConfig {
        &self.trainer.model.cfg
    }

    fn begin_eval_if_due(&mut self) {
        let now = now_ms();
        let step = self.trainer.step;
        let rows_since = self.eval.last_step.map(|s| step.saturating_sub(s) as usize * self.trainer.batch());
        let spaced = rows_since.is_none_or(|r| r >= EVAL_SPACING * eval_rows(&self.trainer));
        if self.eval.pos.is_none() && !self.eval.done && spaced && self.eval.last_ms.is_none_or(|t| now - t >= EVAL_EVERY_MS) {
            self.eval.pos = Some(0);
            self.eval.last_ms = Some(now);
            self.eval.last_step = Some(step);
        }
    }

    /// Evaluates up to `rows` more test rows (the sum accumulates on the device).
    fn advance_eval(&mut self, rows: usize) {
        let Some(pos) = self.eval.pos else { return };
        let total = eval_rows(&self.trainer);
        let end = (pos + rows).min(total);
        let idx: Vec<u32> = (pos as u32..end as u32).collect();
        let t = &mut self.trainer;
        t.model.eval_rows(&mut t.be, t.test_data, &idx, pos == 0);
        if end == total {
            self.eval.pos = None;
            self.eval.done = true;
        } else {
            self.eval.pos = Some(end);
        }
    }

    /// Forgets what was shown of the previous run.
    fn clear_views(&mut self) {
        self.train_h.clear();
        self.test_h.clear();
        self.eval = Eval::default();
        self.pictures.forget_model();
        self.snapshot = None;
        self.rate = None;
        self.grown = false;
        self.step_loss = None;
        self.guard.restart(self.config().optimizer.lr());
    }

    /// Rebuilds the trainer on `be` with `params` and `state`, and a minibatch size.
    fn rebuild(&mut self, be: AnyBackend, data: &Mnist, params: &[f32], state: &OptimState, batch: usize) -> Result<(), String> {
        // The old trainer stays in place until the new one exists: a failed move loses nothing.
        let mut moved = self.trainer.move_to_with_batch(be, data, params, state, batch)?;
        moved.enable_step_losses();
        self.trainer = moved;
        self.eval.pos = None;
        self.eval.done = false;
        self.rate = None;
        Ok(())
    }

    fn chart(&self) -> Chart {
        let cfg = self.config();
        let level = self.pca.as_ref().and_then(|p| p.level(cfg.loss));
        Chart::losses(&self.train_h, &self.test_h, &loss_label(cfg), level, (!self.grown).then(|| self.trainer.steps_per_epoch() as f64))
    }
}

impl Session for ModelSession {
    fn info(&self) -> SessionInfo {
        let cfg = self.config();
        let id = if catalogue::kind(&cfg.name) == Some(Kind::Model) && crate::core::config::preset(&cfg.name).is_some() { cfg.name.clone() } else { "custom".into() };
        SessionInfo { config: Some(cfg.clone()), ..SessionInfo::new(id, Kind::Model, self.seed, loss_label(cfg), pictures::model_pictures(&self.trainer.model)) }
    }

    fn backend(&mut self) -> &mut dyn Backend {
        self.trainer.be.as_mut()
    }

    fn step_count(&self) -> u64 {
        self.trainer.step
    }

    fn slice(&mut self, budget: Budget) -> AfterSlice {
        let mut done = 0;
        // The first step of a run alone, so that its frame comes at once.
        let first = self.trainer.step == 0;
        while budget.more(done) && !(first && done == 1) {
            self.trainer.step();
            done += 1;
        }
        self.begin_eval_if_due();
        self.advance_eval(EVAL_ROWS_PER_SLICE);
        self.trainer.be.flush();
        if first {
            AfterSlice::Frame
        } else {
            AfterSlice::Nothing
        }
    }

    fn data_grew(&mut self, data: &Mnist, complete: bool) -> Result<(), String> {
        self.grown |= self.trainer.grow(data)? && self.trainer.step > 0;
        // The PCA reference is of the whole training set: fitted again once it is in.
        if complete {
            if let Some(p) = &self.pca {
                self.pca = Some(PcaState::new(p.k, data));
            }
        }
        Ok(())
    }

    fn background(&mut self, data: &Mnist) -> bool {
        match self.pca.as_mut() {
            Some(p) if p.fitting() => {
                p.advance(data);
                p.fitting()
            }
            _ => false,
        }
    }

    fn history_points(&self) -> usize {
        self.train_h.len() + self.test_h.len()
    }

    fn fence(&mut self) -> ReadFuture {
        fence_of(&mut self.trainer.be, &self.trainer.model)
    }

    fn frame<'a>(&'a mut self, ctx: FrameCtx<'a>) -> LocalFuture<'a, Result<Produced, String>> {
        Box::pin(async move {
            let rows = eval_rows(&self.trainer);
            let pixels = pictures::on_pixels(self.config());
            let t = &mut self.trainer;
            let loss = t.model.train_loss_readback(&mut t.be);
            let steps = t.step_losses_readback();
            let eval = if std::mem::take(&mut self.eval.done) { Some(t.model.eval_readback(&mut t.be)) } else { None };
            let seed = t.noise_seed();
            let grid = pixels.then(|| pictures::begin_denoise(&mut t.model, &mut t.be, ctx.grid, seed, GRID_STREAM));
            let pad = ctx.pad.filter(|_| pixels).map(|img| pictures::begin_denoise(&mut t.model, &mut t.be, img, seed ^ ctx.pad_noise, PAD_STREAM));
            // The weights: the features, and the snapshot a lost device resumes from (as
            // recent as what the page shows).
            let params = t.be.read_async(t.model.params);
            let pics = ctx.pictures.then(|| self.pictures.begin(t, ctx.grid, ctx.pad));
            t.be.flush();
            let (step, epoch) = (t.step, t.epochs_done());

            let loss = match loss {
                Some((f, n)) => Some(f.await?[0] as f64 / n as f64),
                None => None,
            };
            let test = match eval {
                Some(f) => Some(f.await?[0] as f64 / rows.max(1) as f64),
                None => None,
            };
            let grid = match grid {
                Some(g) => Some(g.resolve(&self.trainer.model).await?),
                None => None,
            };
            let pad = match pad {
                Some(p) => Some(p.resolve(&self.trainer.model).await?),
                None => None,
            };
            let params = params.await?;
            let pics = match pics {
                Some(p) => Some(p.resolve().await?),
                None => None,
            };

            let mut frame = Frame { step, epoch, ..Frame::default() };
            let mut halt = None;
            if let Some((f, logged, last)) = steps {
                let ring = f.await?;
                let numbered = logged.numbered(&ring, last);
                self.step_loss = numbered.last().copied().or(self.step_loss);
                if let Err(d) = self.guard.check_steps(&numbered) {
                    halt = Some(format!(
                        "Training stopped: {d}. Reset starts again from new weights at this preset's learning rate {}.",
                        short(self.start_lr)
                    ));
                }
            }
            if let Some(l) = loss {
                self.train_h.push(step, l);
            }
            if let Some(v) = test {
                self.test_h.push(step, v);
            }
            // The latest losses (none after a reset).
            frame.train_loss = self.train_h.last().map(|p| p.1);
            frame.test_loss = self.test_h.last().map(|p| p.1);
            frame.step_loss = self.step_loss;
            let now = now_ms();
            if ctx.running {
                frame.samples_per_s = rate(self.rate, now, step, self.trainer.batch());
            }
            self.rate = Some((now, step));
            if params.iter().all(|v| v.is_finite()) {
                if ctx.pictures {
                    frame.show(PictureId::Features, match pictures::model_features(&self.trainer.model, &params) {
                        Some(f) => Picture::Tiles(f),
                        None => Picture::Note("The first layer shares its weights with the decoder or does not see pixels: no 28×28 features.".into()),
                    });
                }
                self.snapshot = Some((params, step));
            }
            let cfg = &self.trainer.model.cfg;
            if let Some((noisy, out)) = grid {
                frame.show(PictureId::Recon, Picture::Recon(pictures::recon(cfg, ctx.grid, noisy, out)));
            }
            frame.show(PictureId::Pad, match (pad, ctx.pad) {
                (Some((noisy, out)), Some(img)) => Picture::Pad(pictures::pad_view(cfg, img, noisy, out)),
                _ => Picture::Blank,
            });
            if let Some(p) = &self.pca {
                frame.show(PictureId::Pca, Picture::Pca(p.view(cfg.loss, ctx.grid)));
            }
            if let Some(d) = pics {
                frame.pictures.extend(self.pictures.finish(&self.trainer.model, &ctx.data.test.labels, d));
            }
            frame.chart = Some(self.chart());
            Ok(Produced { frame, halt })
        })
    }

    fn reset(&mut self, be: AnyBackend, data: &Mnist) -> Result<(), String> {
        let mut cfg = self.config().clone();
        cfg.optimizer.set_lr(self.start_lr);
        let mut trainer = Trainer::new(be, &cfg, data, self.seed)?;
        trainer.enable_step_losses();
        self.trainer = trainer;
        self.clear_views();
        Ok(())
    }

    fn move_to<'a>(&'a mut self, be: AnyBackend, data: &'a Mnist) -> LocalFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let (params, state) = self.trainer.read_state().await?;
            let batch = self.trainer.batch();
            self.rebuild(be, data, &params, &state, batch)?;
            Ok(None)
        })
    }

    fn recover(&mut self, be: AnyBackend, data: &Mnist) -> Result<String, String> {
        let batch = self.trainer.batch();
        match self.snapshot.clone() {
            Some((params, step)) => {
                let fresh = OptimState { moments: vec![vec![0.0; params.len()]; self.config().optimizer.moment_buffers()], t: 0 };
                self.rebuild(be, data, &params, &fresh, batch)?;
                self.trainer.step = step;
                Ok(format!("from the weights of step {step}"))
            }
            None => {
                self.reset(be, data)?;
                Ok("from the start (no weights had been read back yet)".into())
            }
        }
    }

    fn model(&mut self) -> Option<&mut dyn ModelControls> {
        Some(self)
    }
}

impl ModelControls for ModelSession {
    fn set_learning_rate(&mut self, lr: f32) {
        self.trainer.model.cfg.optimizer.set_lr(lr);
        // The new rate starts a new reference: a rate that was lowered after a blow-up is
        // not held to the loss before it.
        self.guard.restart(lr);
    }

    fn set_batch<'a>(&'a mut self, batch: usize, be: AnyBackend, data: &'a Mnist) -> LocalFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if batch == self.trainer.batch() {
                return Ok(());
            }
            // Within the rows the model's buffers hold, the size is a field; beyond them
            // the model is rebuilt with its state.
            if self.trainer.set_batch_in_place(batch) {
                self.rate = None;
                return Ok(());
            }
            let (params, state) = self.trainer.read_state().await?;
            self.rebuild(be, data, &params, &state, batch).map_err(|e| format!("Could not change the batch size: {e}"))
        })
    }

    fn set_noise(&mut self, noise: NoiseKind) {
        self.trainer.model.cfg.noise = noise;
    }

    fn new_samples(&mut self) {
        self.pictures.sample_seed = self.pictures.sample_seed.wrapping_add(1);
    }

    fn pad_changed(&mut self) {
        self.pictures.forget_ends();
    }

    fn inside_step(&mut self, run: u32) -> LocalFuture<'_, Result<crate::app::inside::Inside, String>> {
        Box::pin(async move {
            let reads = self.trainer.step_inside(crate::app::inside::INSIDE_ROWS);
            let step = self.trainer.step;
            crate::app::inside::resolve(reads, &self.trainer.model, step, run).await
        })
    }

    fn save(&mut self) -> LocalFuture<'_, Result<SavedModel, String>> {
        Box::pin(async move {
            let (params, optim) = self.trainer.read_state().await?;
            Ok(SavedModel {
                history: LossHistory::finite(self.train_h.points(), self.test_h.points()),
                ..SavedModel::of_trainer(&self.trainer, params, optim)
            })
        })
    }
}
