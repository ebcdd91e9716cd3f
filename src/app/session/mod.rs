//! What the controller trains: one [`Session`] at a time, a single model
//! ([`model::ModelSession`]), a multi-phase recipe ([`recipe::RecipeSession`]) or the 3-D
//! cloud scene ([`cloud::CloudSession`]). A session trains in slices and makes frames from
//! read-backs; it never calls back into the controller (the controller owns the device, the
//! data and the pad, and hands a session what it needs).
//!
//! Controls that only some sessions have sit behind optional interfaces: a single model's
//! (learning rate, batch, noise, samples, the pad, saving) behind [`Session::model`], a
//! recipe's step cap behind [`Session::recipe`]; a session without them is refused by the
//! controller in one place. A session owns its backend and its state, so several can live
//! side by side.
//!
//! A new kind of session is a type implementing the trait, a row in `app::catalogue`, and
//! its arm in [`build`].

pub mod cloud;
pub mod model;
pub mod recipe;

use std::future::Future;
use std::pin::Pin;

use crate::backend::{Backend, ReadFuture};
use crate::app::catalogue::{self, Kind};
use crate::core::config::NoiseKind;
use crate::app::urlstate::Setup;
use crate::data::Mnist;
use crate::io::saved::SavedModel;

use super::frame::Frame;
use super::protocol::SessionInfo;

/// A backend of either kind.
pub type AnyBackend = Box<dyn Backend>;

/// A future borrowing the session (sessions are driven by one owner, one call at a time).
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// How much one slice of training may do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Train until this time (ms on [`super::clock::now_ms`]'s clock): the CPU.
    Until(f64),
    /// Record this many steps (the GPU runs them after the slice).
    Steps(usize),
}

impl Budget {
    /// Whether another step fits, `done` steps into the slice.
    pub fn more(&self, done: usize) -> bool {
        match *self {
            Budget::Until(t) => done == 0 || super::clock::now_ms() < t,
            Budget::Steps(n) => done < n,
        }
    }
}

/// What a slice made due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterSlice {
    Nothing,
    /// Call [`Session::advance`] before more steps (a recipe's report or phase change).
    Advance,
    /// Make a frame now (the first step of a run: its loss is the reference).
    Frame,
}

/// What a frame is made with: the data, the reconstruction grid's ten digits, the pad.
pub struct FrameCtx<'a> {
    pub data: &'a Mnist,
    pub grid: &'a [f32],
    /// The drawing (an MNIST-like image), and the pad's noise seed.
    pub pad: Option<&'a [f32]>,
    pub pad_noise: u32,
    /// Refresh the pictures that need forward passes over many digits too.
    pub pictures: bool,
    /// Whether training is running (samples/s is shown only then).
    pub running: bool,
}

/// A frame, and why training must stop, if it must (a diverged loss).
pub struct Produced {
    pub frame: Frame,
    pub halt: Option<String>,
}

impl From<Frame> for Produced {
    fn from(frame: Frame) -> Self {
        Produced { frame, halt: None }
    }
}

/// Why a model-only control does nothing for this session.
pub fn only_models(what: &str) -> String {
    format!("The {what} control applies to the single-model presets; this one sets its own.")
}

/// Why the step cap does nothing for this session.
pub const ONLY_RECIPES: &str = "The step cap applies to the multi-phase recipes.";

/// Why this session cannot be saved.
pub const NOT_SAVED: &str = "Saving is for single models: a multi-phase recipe's phases are several models, and the cloud is not MNIST (the CLI trains and reports them, `aeplay train --preset NAME`). Pick a model preset to save one.";

/// A thing the controller trains.
pub trait Session {
    /// What the page shows of it (identity, settings, which pictures it draws).
    fn info(&self) -> SessionInfo;
    /// The backend it trains on.
    fn backend(&mut self) -> &mut dyn Backend;
    /// Steps taken (all phases of a recipe).
    fn step_count(&self) -> u64;
    /// Trains within `budget`, and says what became due.
    fn slice(&mut self, budget: Budget) -> AfterSlice;
    /// What a slice made due, awaited (reads that cannot block in a browser).
    fn advance(&mut self) -> LocalFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
    /// One piece of work beside training (a PCA fit), run between slices and while paused.
    /// True while more remains.
    fn background(&mut self, _data: &Mnist) -> bool {
        false
    }
    /// More of the training set arrived (`complete`: all of it): a session that trains on
    /// it takes it in (a model at its next epoch). Work beside training it restarts (a PCA
    /// fit on the complete set) is picked up by [`Self::background`].
    fn data_grew(&mut self, _data: &Mnist, _complete: bool) -> Result<(), String> {
        Ok(())
    }
    /// A recipe that has run all its phases (training stops).
    fn finished(&self) -> bool {
        false
    }
    /// A read that completes once the device has run what was recorded.
    fn fence(&mut self) -> ReadFuture;
    /// Points the session keeps in its loss histories (bounded, see `app::history`).
    fn history_points(&self) -> usize {
        0
    }
    /// A frame: reads started, awaited and turned into pictures.
    fn frame<'a>(&'a mut self, ctx: FrameCtx<'a>) -> LocalFuture<'a, Result<Produced, String>>;
    /// Training pauses at a frame boundary no more often than this (ms): a scene that is
    /// watched, not raced (the cloud). None: as fast as the backend goes.
    fn pacing_ms(&self) -> Option<f64> {
        None
    }
    /// Starts over on `be` (a model goes back to its preset's learning rate).
    fn reset(&mut self, be: AnyBackend, data: &Mnist) -> Result<(), String>;
    /// Moves to another backend, keeping what can move; Ok(Some(note)) says what did not.
    fn move_to<'a>(&'a mut self, be: AnyBackend, data: &'a Mnist) -> LocalFuture<'a, Result<Option<String>, String>>;
    /// The device was lost: continue on `be` from the last read-back. Says from where.
    fn recover(&mut self, be: AnyBackend, data: &Mnist) -> Result<String, String>;
    /// A single model's controls, if this session is one.
    fn model(&mut self) -> Option<&mut dyn ModelControls> {
        None
    }
    /// A recipe's controls, if this session is one.
    fn recipe(&mut self) -> Option<&mut dyn RecipeControls> {
        None
    }
}

/// The controls of a single model.
pub trait ModelControls {
    fn set_learning_rate(&mut self, lr: f32);
    /// A new minibatch size from the next step on, with the model's weights, optimizer
    /// state and place in the epoch (rebuilt on `be`, a backend of the same kind, only where
    /// the model's buffers do not hold it).
    fn set_batch<'a>(&'a mut self, batch: usize, be: AnyBackend, data: &'a Mnist) -> LocalFuture<'a, Result<(), String>>;
    fn set_noise(&mut self, noise: NoiseKind);
    /// New random codes for the generated digits.
    fn new_samples(&mut self);
    /// The drawing changed (the interpolation starts from it).
    fn pad_changed(&mut self);
    /// The model as a saved file's contents (read back asynchronously).
    fn save(&mut self) -> LocalFuture<'_, Result<SavedModel, String>>;
    /// The next training step in slow motion (`run`: the id the page knows the run by).
    fn inside_step(&mut self, run: u32) -> LocalFuture<'_, Result<crate::app::inside::Inside, String>>;
}

/// The controls of a multi-phase recipe.
pub trait RecipeControls {
    /// The per-phase step cap (restarts the recipe on `be`).
    fn set_cap(&mut self, cap: Option<u64>, be: AnyBackend, data: &Mnist) -> Result<(), String>;
}

/// A read that completes once `be` has run what was recorded for `model` (every session's
/// [`Session::fence`]).
pub fn fence_of<B: Backend + ?Sized>(be: &mut B, model: &crate::model::Autoencoder) -> ReadFuture {
    let f = be.read_async(model.fence());
    be.flush();
    f
}

/// Samples per second between two frames (None before a second frame, or without steps
/// between them).
pub fn rate(last: Option<(f64, u64)>, now: f64, step: u64, rows_per_step: usize) -> Option<f64> {
    let (t0, s0) = last?;
    (step > s0 && now > t0).then(|| (step - s0) as f64 * rows_per_step as f64 * 1000.0 / (now - t0))
}

/// A fresh session for a catalogue entry (or a custom model from a link), on `be`.
pub fn build(setup: &Setup, id: &str, be: AnyBackend, data: &Mnist) -> Result<Box<dyn Session>, String> {
    match catalogue::kind(id) {
        Some(Kind::Recipe) => Ok(Box::new(recipe::RecipeSession::new(id, setup.cap, setup.seed, be, data)?)),
        Some(Kind::Scene) => Ok(Box::new(cloud::CloudSession::new(setup.seed, be)?)),
        Some(Kind::Model) | None => {
            let cfg = if setup.config.name == id {
                setup.config.clone()
            } else {
                crate::core::config::preset(id).ok_or_else(|| format!("There is no preset called '{id}'. Choose one of: {}", catalogue::list(Kind::Model)))?
            };
            Ok(Box::new(model::ModelSession::new(cfg, setup.seed, be, data)?))
        }
    }
}
