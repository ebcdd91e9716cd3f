//! Multi-phase training recipes (issue #5, "Training modes"), written once against
//! `Backend` like the single-model [`super::Trainer`]:
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
//!
//! Files: `recipe.rs` holds the specs, the sources' settings and their validation;
//! `machine.rs` the state machine ([`Pipeline`]); `stopping.rs` the source's early
//! stopping; `events.rs` what a run reports; `reads.rs` the device reads the machine awaits.

mod events;
mod machine;
mod reads;
mod recipe;
mod stopping;

pub use events::{EpochReport, RecipeEvent, Summary};
pub use machine::Pipeline;
pub use recipe::{recipe, recipe_list, EarlyStoppingSpec, Greedy, PhaseInfo, Pretrain, Recipe, Sda, RECIPE_NAMES};
pub use stopping::EarlyStopping;
