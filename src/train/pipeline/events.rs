//! What a running recipe reports ([`super::Pipeline::step`]): a phase starting, an epoch's
//! losses, early stopping, and the final [`Summary`]. Serialisable: the CLI prints them as
//! JSON lines, the page turns them into its charts.

use serde::Serialize;

/// The losses of one epoch (or of the part of one that a step cap allowed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochReport {
    /// Index of the phase (0-based) and its name ([`super::PhaseInfo::name`]).
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
pub enum RecipeEvent {
    /// A phase starts: `steps_per_epoch` steps over `train_rows` rows, batch `batch`.
    Phase { phase: usize, name: String, what: String, epochs: usize, train_rows: usize, steps_per_epoch: usize, batch: usize },
    Epoch(EpochReport),
    /// Fine-tuning stopped: patience ran out after `steps` steps (`epoch` epochs).
    EarlyStop { phase: usize, epoch: f64, steps: u64, best_epoch: f64, best_validation_error: f64, test_error: f64 },
    Done(Summary),
}
