//! A multi-phase recipe (`stacked_greedy`, `sda`, `pretrain_classifier`; the pipeline is
//! `train::pipeline`) as a session. Slices run [`Pipeline::train_step`], which never reads
//! anything back; when a step makes an epoch report or a phase change due, the controller
//! awaits [`Session::advance`] ([`Pipeline::after_step`]: all its reads are asynchronous).
//!
//! The page runs shortened recipes (fewer rows and epochs, see [`page_recipe`]) so that a
//! whole recipe takes a minute or two on a laptop; the panel says what was shortened. A
//! backend switch or a lost device restarts the recipe (its finished phases, cached codes
//! and early-stopping state do not move between backends).

use crate::backend::{Backend, ReadFuture};
use crate::app::catalogue::Kind;
use crate::core::layout::ParamLayout;
use crate::data::Mnist;
use crate::model::Split;
use crate::train::pipeline::{recipe, EpochReport, RecipeEvent, Pipeline, Recipe, Summary};
use crate::train::Uploaded;

use super::super::frame::Frame;
use super::super::history::{Band, Chart, Measure, Series, Style};
use super::super::pictures::{self, PhaseRow, PhaseState, Picture, PictureId, RecipeStatus, RecipeView, GRID_STREAM, PAD_STREAM, PREDICTION_ROWS};
use super::super::protocol::SessionInfo;
use super::{fence_of, AfterSlice, AnyBackend, Budget, FrameCtx, LocalFuture, Produced, RecipeControls, Session};

/// Test digits the page's recipes are evaluated on (the CLI uses all 10,000).
pub const TEST_ROWS: usize = 1000;
/// Largest per-phase step cap the page takes.
pub const MAX_CAP: u64 = 1_000_000;

/// The recipe as the page runs it: the sources' models with fewer rows and epochs, so a
/// phase takes seconds; and one line saying what was shortened.
pub fn page_recipe(name: &str) -> Option<(Recipe, &'static str)> {
    let mut r = recipe(name)?;
    let note = match &mut r {
        Recipe::StackedGreedy(g) => {
            g.train_rows = 20_000;
            g.epochs = vec![2, 2];
            "Shortened for the page: each pair trains 2 epochs on the first 20,000 training images (the CLI: 1 epoch on 60,000); losses on 1,000 test digits."
        }
        Recipe::Sda(s) => {
            s.train_rows = 2000;
            s.validation_rows = 1000;
            s.pretrain_epochs = 1;
            s.max_epochs = 5;
            "Shortened for the page: 2,000 training and 1,000 validation images, 1 pre-training epoch per layer and at most 5 fine-tuning epochs (the CLI: 50,000 + 10,000 images, 15 epochs per layer, up to 1,000 epochs with early stopping); errors on 1,000 test digits."
        }
        Recipe::PretrainClassifier(p) => {
            p.pretrain_rows = 20_000;
            "Shortened for the page: the autoencoder pre-trains 1 epoch on the first 20,000 images without labels (the CLI: 60,000); both classifiers then train 10 epochs on 1,000 labelled images; accuracy on 1,000 test digits."
        }
    };
    Some((r, note))
}

/// Training rows a recipe reads (the first ones of the training set).
fn rows_needed(r: &Recipe) -> usize {
    match r {
        Recipe::StackedGreedy(g) => g.train_rows,
        Recipe::Sda(s) => s.train_rows + s.validation_rows,
        Recipe::PretrainClassifier(p) => p.pretrain_rows.max(p.labelled),
    }
}

/// Uploads the first `rows` training images and the first [`TEST_ROWS`] test images with
/// their labels: all a recipe in the page reads.
fn upload(be: &mut AnyBackend, mnist: &Mnist, rows: usize) -> Result<Uploaded, String> {
    let d = mnist.train.dim();
    let rows = rows.min(mnist.train.items);
    let test_rows = TEST_ROWS.min(mnist.test.items);
    crate::train::check_bytes(be, "the training images", (rows * d) as u64)?;
    let train = be.upload_u8(&mnist.train.pixels[..rows * d], d);
    let train_labels = be.upload_u8(&mnist.train.labels[..rows], 1);
    let test = be.upload_u8(&mnist.test.pixels[..test_rows * d], d);
    let test_labels = be.upload_u8(&mnist.test.labels[..test_rows], 1);
    Ok(Uploaded { train: Split { data: train, labels: Some(train_labels) }, train_rows: rows, test: Split { data: test, labels: Some(test_labels) }, test_rows })
}

/// The widths below phase `i`'s input that earlier phases trained (an inner phase trains on
/// their frozen codes): the chain from the pixels up to its input.
fn frozen_below(phases: &[crate::train::pipeline::PhaseInfo], i: usize) -> Vec<usize> {
    let d = phases[i].config.input_dim();
    if d == 784 {
        return Vec::new();
    }
    for j in (0..i).rev() {
        if phases[j].config.code_dim() == d {
            let mut v = frozen_below(phases, j);
            v.push(phases[j].config.input_dim());
            return v;
        }
    }
    Vec::new()
}

/// Colours of the phases in the recipe's charts (indices into the page's palette).
const PHASE_COLOURS: u8 = 5;

pub struct RecipeSession {
    name: String,
    recipe: Recipe,
    settings: &'static str,
    seed: u64,
    cap: Option<u64>,
    pipeline: Pipeline<AnyBackend>,
    /// Every epoch report so far, and the global step at which each phase started.
    reports: Vec<EpochReport>,
    offsets: Vec<u64>,
    summary: Option<Summary>,
    early_stop: Option<String>,
    failed: bool,
}

impl RecipeSession {
    pub fn new(name: &str, cap: Option<u64>, seed: u64, mut be: AnyBackend, data: &Mnist) -> Result<RecipeSession, String> {
        let (recipe, settings) = page_recipe(name).ok_or_else(|| format!("There is no recipe called '{name}'. Recipes: {}", crate::app::catalogue::list(Kind::Recipe)))?;
        let cap = cap.map(|c| c.clamp(1, MAX_CAP));
        let up = upload(&mut be, data, rows_needed(&recipe)).map_err(|e| format!("{name} does not fit this device: {e}. Switch the backend to the CPU, or pick a single-model preset."))?;
        let mut pipeline = Pipeline::from_uploaded(be, &recipe, up, seed)?;
        pipeline.set_step_cap(cap);
        let events = pipeline.take_events();
        let mut s = RecipeSession {
            name: name.to_string(),
            recipe,
            settings,
            seed,
            cap,
            pipeline,
            reports: Vec::new(),
            offsets: Vec::new(),
            summary: None,
            early_stop: None,
            failed: false,
        };
        s.apply_events(events);
        Ok(s)
    }

    /// Takes in the pipeline's events: reports, phase changes, the end.
    fn apply_events(&mut self, events: Vec<RecipeEvent>) {
        let steps = self.pipeline.summary().steps;
        for e in events {
            match e {
                RecipeEvent::Phase { phase, .. } => {
                    self.offsets.resize(phase + 1, steps);
                    self.offsets[phase] = steps;
                }
                RecipeEvent::Epoch(r) => self.reports.push(r),
                RecipeEvent::EarlyStop { epoch, best_epoch, best_validation_error, .. } => {
                    self.early_stop = Some(format!(
                        "Early stopping after {epoch:.1} epochs: the best validation error {:.1} % was at epoch {best_epoch:.1}; ",
                        100.0 * best_validation_error
                    ));
                }
                RecipeEvent::Done(s) => self.summary = Some(s),
            }
        }
    }

    fn summary_line(&self, s: &Summary) -> String {
        match &self.recipe {
            Recipe::StackedGreedy(_) => format!("Done: the assembled stack's end-to-end test loss (MSE per pixel) is {:.4}.", s.test_loss.unwrap_or(f64::NAN)),
            Recipe::Sda(_) => format!(
                "Done. {}final test error {:.2} % (the model with the best validation error {:.2} %, from epoch {:.1}).",
                self.early_stop.clone().unwrap_or_default(),
                100.0 * s.test_error.unwrap_or(f64::NAN),
                100.0 * s.best_validation_error.unwrap_or(f64::NAN),
                s.best_epoch.unwrap_or(f64::NAN)
            ),
            Recipe::PretrainClassifier(_) => format!(
                "Done: test accuracy {:.1} % with the pre-trained encoder, {:.1} % from random initialisation.",
                100.0 * s.pretrained_accuracy.unwrap_or(f64::NAN),
                100.0 * s.random_accuracy.unwrap_or(f64::NAN)
            ),
        }
    }

    /// The global step at which a report's phase step lands.
    fn global(&self, r: &EpochReport) -> f64 {
        (self.offsets.get(r.phase).copied().unwrap_or(0) + r.steps) as f64
    }

    /// The phases begun so far as bands of the steps axis (a phase runs to the next one's
    /// start; the current one to the steps so far).
    fn bands(&self) -> Vec<Band> {
        let phases = self.recipe.phases();
        let now = self.pipeline.summary().steps;
        (0..self.offsets.len().min(phases.len()))
            .map(|i| {
                let end = self.offsets.get(i + 1).copied().unwrap_or(now).max(self.offsets[i]);
                Band { start: self.offsets[i] as f64, end: end as f64, label: phases[i].name.clone() }
            })
            .filter(|b| b.end > b.start)
            .collect()
    }

    /// The page's loss chart: every phase's train and test loss at the end of its epochs.
    fn loss_charts(&self) -> (Chart, Chart) {
        let base: Vec<&EpochReport> = self.reports.iter().filter(|r| r.series != "random").collect();
        let all = |f: &dyn Fn(&EpochReport) -> f64| -> Vec<(f64, f64)> { base.iter().map(|r| (self.global(r), f(r))).collect() };
        let overall = Chart {
            x_label: "steps (all phases)".into(),
            y_label: "loss of the phase's model".into(),
            measure: Measure::Loss,
            series: vec![
                Series { label: "train".into(), colour: 0, points: all(&|r| r.train_loss), style: Style::Points },
                Series { label: "test".into(), colour: 1, points: all(&|r| r.test_loss), style: Style::Points },
            ],
            level: None,
            x_per_epoch: None,
            bands: self.bands(),
        };
        let mut series = Vec::new();
        for (i, ph) in self.recipe.phases().iter().enumerate() {
            let of = |f: &dyn Fn(&EpochReport) -> f64| -> Vec<(f64, f64)> { base.iter().filter(|r| r.phase == i).map(|r| (self.global(r), f(r))).collect() };
            // A phase's train and test in two colours of their own.
            let c = (2 * i as u8) % (2 * PHASE_COLOURS);
            series.push(Series { label: format!("{} train", ph.name), colour: c, points: of(&|r| r.train_loss), style: Style::Points });
            series.push(Series { label: format!("{} test", ph.name), colour: c + 1, points: of(&|r| r.test_loss), style: Style::Points });
        }
        if let (Recipe::StackedGreedy(_), Some(s)) = (&self.recipe, &self.summary) {
            let x = base.last().map_or(0.0, |r| self.global(r));
            series.push(Series { label: "stack, end to end (test)".into(), colour: 2 * PHASE_COLOURS, points: vec![(x, s.test_loss.unwrap_or(f64::NAN))], style: Style::Points });
        }
        let phases = Chart { x_label: "steps (all phases)".into(), y_label: "loss".into(), measure: Measure::Loss, series, level: None, x_per_epoch: None, bands: self.bands() };
        (overall, phases)
    }

    /// The second chart: accuracy per epoch of both classifiers, or sda's errors.
    fn metric_chart(&self) -> Option<Chart> {
        match &self.recipe {
            Recipe::PretrainClassifier(_) => {
                let curve = |series: &str| -> Vec<(f64, f64)> { self.reports.iter().filter(|r| r.series == series).filter_map(|r| r.test_accuracy.map(|a| (r.epoch, a))).collect() };
                Some(Chart {
                    x_label: "classifier epochs".into(),
                    y_label: "test accuracy".into(),
                    measure: Measure::Percent,
                    series: vec![
                        Series { label: "pre-trained encoder".into(), colour: 0, points: curve("pretrained"), style: Style::Points },
                        Series { label: "random initialisation".into(), colour: 1, points: curve("random"), style: Style::Points },
                    ],
                    level: None,
                    x_per_epoch: None,
                    bands: Vec::new(),
                })
            }
            Recipe::Sda(_) => {
                let ft: Vec<&EpochReport> = self.reports.iter().filter(|r| r.name == "finetune").collect();
                Some(Chart {
                    x_label: "fine-tuning epochs".into(),
                    y_label: "error".into(),
                    measure: Measure::Percent,
                    series: vec![
                        Series { label: "validation error".into(), colour: 0, points: ft.iter().filter_map(|r| r.validation_error.map(|e| (r.epoch, e))).collect(), style: Style::Points },
                        Series { label: "test error".into(), colour: 1, points: ft.iter().filter_map(|r| r.test_accuracy.map(|a| (r.epoch, 1.0 - a))).collect(), style: Style::Points },
                    ],
                    level: self.summary.as_ref().and_then(|s| s.test_error).map(|e| ("final test error (best validation)".into(), e)),
                    x_per_epoch: None,
                    bands: Vec::new(),
                })
            }
            Recipe::StackedGreedy(_) => None,
        }
    }

    /// The phase list, the progress line and the status.
    fn view(&self, running: bool) -> RecipeView {
        let phases = self.recipe.phases();
        let p = &self.pipeline;
        let current = p.phase();
        let done = p.is_done();
        let rows = phases
            .iter()
            .enumerate()
            .map(|(i, ph)| PhaseRow {
                name: ph.name.clone(),
                what: ph.what.clone(),
                state: if done || i < current { PhaseState::Done } else if i == current { PhaseState::Current } else { PhaseState::Next },
            })
            .collect();
        let progress = if done {
            format!("All {} phases done after {} steps.", phases.len(), p.summary().steps)
        } else {
            let t = p.trainer();
            let ph = &phases[current];
            let per_epoch = t.steps_per_epoch() as u64;
            let total = self.cap.map_or(per_epoch * ph.epochs as u64, |c| c.min(per_epoch * ph.epochs as u64));
            format!(
                "Phase {} of {} — {}: epoch {:.2} of {}{} · step {} of {}{}",
                current + 1,
                phases.len(),
                ph.name,
                t.epochs_done(),
                ph.epochs,
                if ph.name == "finetune" { " at most (early stopping)" } else { "" },
                t.step,
                total,
                self.cap.map(|c| format!(" (capped at {c} steps per phase)")).unwrap_or_default()
            )
        };
        let status = if self.failed {
            RecipeStatus::Failed
        } else if self.summary.is_some() {
            RecipeStatus::Done
        } else if running {
            RecipeStatus::Running
        } else {
            RecipeStatus::Paused
        };
        let (_, phase_chart) = self.loss_charts();
        let shown = current.min(phases.len() - 1);
        let model = self.pipeline.trainer().model.cfg.clone();
        // An inner phase trains on codes: the layers below its input are frozen. (Once done,
        // the trainer holds the assembled model, on pixels.)
        let below = if model.input_dim() == 784 { Vec::new() } else { frozen_below(&phases, shown) };
        RecipeView {
            model: Some(model),
            frozen_below: below,
            phases: rows,
            current,
            progress,
            status,
            summary: self.summary.as_ref().map(|s| self.summary_line(s)),
            loss_chart: phase_chart,
            metric_chart: self.metric_chart(),
        }
    }

    /// Why the current phase's model shows no reconstructions of digits.
    fn why_no_pixels(&self) -> String {
        let cfg = &self.pipeline.trainer().model.cfg;
        if cfg.is_classifier() {
            "This phase trains a classifier: it outputs a digit's class, not a picture.".into()
        } else {
            format!("This phase trains on the frozen encoder's {}-wide codes, not on pixels.", cfg.input_dim())
        }
    }

    fn restart(&mut self, be: AnyBackend, data: &Mnist) -> Result<(), String> {
        *self = RecipeSession::new(&self.name, self.cap, self.seed, be, data)?;
        Ok(())
    }
}

/// A recipe pad read: a reconstruction, or a classifier's outputs.
enum PadRead {
    Denoise(pictures::DenoiseReads),
    Classify(ReadFuture),
}

impl Session for RecipeSession {
    fn info(&self) -> SessionInfo {
        let pictures = vec![PictureId::Recon, PictureId::Pad, PictureId::Recipe, PictureId::Features];
        SessionInfo {
            cap: self.cap,
            settings: Some(self.settings.into()),
            ..SessionInfo::new(self.name.clone(), Kind::Recipe, self.seed, "loss of the phase's model".into(), pictures)
        }
    }

    fn backend(&mut self) -> &mut dyn Backend {
        self.pipeline.trainer_mut().be.as_mut()
    }

    fn step_count(&self) -> u64 {
        self.pipeline.summary().steps
    }

    fn slice(&mut self, budget: Budget) -> AfterSlice {
        let mut done = 0;
        let mut due = AfterSlice::Nothing;
        while !self.pipeline.is_done() && budget.more(done) {
            done += 1;
            if self.pipeline.train_step() {
                due = AfterSlice::Advance;
                break;
            }
        }
        self.pipeline.trainer_mut().be.flush();
        due
    }

    fn advance(&mut self) -> LocalFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match self.pipeline.after_step().await {
                Ok(events) => {
                    self.apply_events(events);
                    Ok(())
                }
                Err(e) => {
                    // A failed phase change can leave the pipeline between phases.
                    self.failed = true;
                    Err(format!("The recipe stopped: {e}. Press Reset to start it again, or switch the backend to the CPU."))
                }
            }
        })
    }

    fn finished(&self) -> bool {
        self.pipeline.is_done() || self.failed
    }

    fn fence(&mut self) -> ReadFuture {
        let t = self.pipeline.trainer_mut();
        fence_of(&mut t.be, &t.model)
    }

    fn frame<'a>(&'a mut self, ctx: FrameCtx<'a>) -> LocalFuture<'a, Result<Produced, String>> {
        Box::pin(async move {
            let t = self.pipeline.trainer_mut();
            let cfg = t.model.cfg.clone();
            let on_pixels = cfg.input_dim() == 784;
            let autoencoder = pictures::on_pixels(&cfg);
            let seed = t.noise_seed();
            let params = t.be.read_async(t.model.params);
            let grid = autoencoder.then(|| pictures::begin_denoise(&mut t.model, &mut t.be, ctx.grid, seed, GRID_STREAM));
            let pad = match ctx.pad {
                Some(img) if autoencoder => Some(PadRead::Denoise(pictures::begin_denoise(&mut t.model, &mut t.be, img, seed ^ ctx.pad_noise, PAD_STREAM))),
                Some(img) if on_pixels && cfg.is_classifier() => {
                    let last = t.model.layout.dense.len() - 1;
                    Some(PadRead::Classify(t.model.activations_of_images_readback(&mut t.be, img, last)))
                }
                _ => None,
            };
            // A classifier's picture: its predictions on test digits (with the pictures'
            // cadence: a forward pass over PREDICTION_ROWS digits).
            let predict = (on_pixels && cfg.is_classifier() && ctx.pictures).then(|| {
                let rows = PREDICTION_ROWS.min(ctx.data.test.items).min(t.model.capacity);
                let images: Vec<f32> = (0..rows).flat_map(|i| ctx.data.test.image_f32(i)).collect();
                let last = t.model.layout.dense.len() - 1;
                let f = t.model.activations_of_images_readback(&mut t.be, &images, last);
                (images, rows, f)
            });
            t.be.flush();
            let params = params.await?;
            let predictions = match predict {
                Some((images, rows, f)) => Some(pictures::predictions(&images, &ctx.data.test.labels[..rows], &f.await?, cfg.output_dim())),
                None => None,
            };
            let grid = match grid {
                Some(g) => Some(g.resolve(&self.pipeline.trainer().model).await?),
                None => None,
            };
            let pad = match pad {
                Some(PadRead::Denoise(r)) => Picture::Pad({
                    let (noisy, out) = r.resolve(&self.pipeline.trainer().model).await?;
                    pictures::pad_view(&cfg, ctx.pad.unwrap_or_default(), noisy, out)
                }),
                Some(PadRead::Classify(f)) => Picture::Pad(pictures::classify(ctx.pad.unwrap_or_default(), &f.await?)),
                None if ctx.pad.is_some() => Picture::Note(format!("{} No reconstruction of the drawing in this phase.", self.why_no_pixels())),
                None => Picture::Blank,
            };

            let t = self.pipeline.trainer();
            let mut frame = Frame { step: self.pipeline.summary().steps, epoch: t.epochs_done(), ..Frame::default() };
            if let Some(r) = self.reports.iter().rev().find(|r| r.series != "random") {
                frame.train_loss = Some(r.train_loss);
                frame.test_loss = Some(r.test_loss);
            }
            // Features: the current model's first layer where it sees pixels, else the frozen
            // first layer it builds on.
            let first = t.model.layout.dense[0];
            let features = if first.fan_in == 784 && params.len() >= first.w + first.w_len() && !first.transposed {
                pictures::features(&params[first.w..first.w + first.w_len()], first.fan_in, first.fan_out)
            } else if let Some(frozen) = self.pipeline.trained_params().first() {
                let s = ParamLayout::new(&self.recipe.phases()[0].config).dense[0];
                pictures::features(&frozen[s.w..s.w + s.w_len()], s.fan_in, s.fan_out)
            } else {
                None
            };
            if let Some(f) = features {
                frame.show(PictureId::Features, Picture::Tiles(f));
            }
            match (grid, predictions) {
                (Some((noisy, out)), _) => frame.show(PictureId::Recon, Picture::Recon(pictures::recon(&cfg, ctx.grid, noisy, out))),
                (None, Some(p)) => frame.show(PictureId::Recon, Picture::Predictions(p)),
                // A classifier between picture refreshes keeps its last predictions.
                (None, None) if on_pixels && cfg.is_classifier() => {}
                (None, None) => frame.show(PictureId::Recon, Picture::Note(self.why_no_pixels())),
            }
            frame.show(PictureId::Pad, pad);
            frame.show(PictureId::Recipe, Picture::Recipe(self.view(ctx.running)));
            frame.chart = Some(self.loss_charts().0);
            Ok(Produced::from(frame))
        })
    }

    fn reset(&mut self, be: AnyBackend, data: &Mnist) -> Result<(), String> {
        self.restart(be, data)
    }

    fn move_to<'a>(&'a mut self, be: AnyBackend, data: &'a Mnist) -> LocalFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            self.restart(be, data)?;
            Ok(Some(format!(
                "Switching backend restarted {} from its first phase on the new backend: a recipe's finished phases, cached codes and early stopping do not move between backends.",
                self.name
            )))
        })
    }

    fn recover(&mut self, be: AnyBackend, data: &Mnist) -> Result<String, String> {
        self.restart(be, data)?;
        Ok(format!("restarting {} from its first phase", self.name))
    }

    fn recipe(&mut self) -> Option<&mut dyn RecipeControls> {
        Some(self)
    }
}

impl RecipeControls for RecipeSession {
    fn set_cap(&mut self, cap: Option<u64>, be: AnyBackend, data: &Mnist) -> Result<(), String> {
        self.cap = cap.map(|c| c.clamp(1, MAX_CAP));
        self.restart(be, data)
    }
}
