//! A `Frame`: everything the page draws, as plain data. The controller makes one from a
//! read-back of the session (a single model, a recipe or the cloud); the page draws it and
//! keeps nothing else. A frame carries the run's numbers and its pictures by
//! [`PictureId`] (the registry of pictures is `app::pictures`): a picture a frame does not
//! carry is unchanged since the last frame (pictures that need forward passes over many
//! digits are refreshed less often than the losses); a new session starts from a frame in
//! which the page clears what the session does not draw.
//!
//! The pictures' data types (by shape: images, a scatter, a histogram, …) are in
//! `app::pictures`, with the registry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::history::Chart;
use super::pictures::{Picture, PictureId};

/// One frame of the page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The run it belongs to ([`super::protocol::Status::main`] and `runs`).
    #[serde(default)]
    pub run: u32,
    /// Training steps taken, and epochs (fractional) of the current model.
    pub step: u64,
    pub epoch: f64,
    /// The latest training loss (the mean over the steps before the read-back that measured
    /// it) and test loss (on the page's test digits); None before there is one.
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    /// Samples per second since the previous frame while training (None when paused).
    pub samples_per_s: Option<f64>,
    /// The loss of the last step taken, on its own minibatch, and that step (the same in
    /// any run of the same model, seed and settings, however frames fall).
    #[serde(default)]
    pub step_loss: Option<(u64, f64)>,
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
