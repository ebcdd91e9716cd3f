//! One step in slow motion, as the page draws it: what the next training step did to the
//! first digits of its minibatch (the clean inputs, their corruption, the code, the
//! reconstruction, the error at the output that backpropagation starts from) and to a few
//! first-layer units (their weights and the update each received), with the batch's loss
//! before and after the step. Made from the backend's read-backs of that step
//! (`model::InsideReads`), never recomputed on the side.

use serde::{Deserialize, Serialize};

use crate::core::config::Optimizer;
use crate::model::{Autoencoder, InsideReads};

/// Digits of the minibatch shown.
pub const INSIDE_ROWS: usize = 8;
/// First-layer units whose update is shown (those that moved most).
pub const INSIDE_UNITS: usize = 4;

/// The code of each digit shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CodeView {
    /// Each code unit's activation, `width` per digit.
    Plain { width: usize, values: Vec<f32> },
    /// A variational code: μ, σ and the sampled z, `latent` each per digit.
    Variational { latent: usize, mu: Vec<f32>, sigma: Vec<f32>, z: Vec<f32> },
}

/// One step in slow motion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inside {
    /// The run it belongs to, and the step it was (counting from 1, as the page does).
    pub run: u32,
    pub step: u64,
    /// Digits shown, of the minibatch's rows.
    pub rows: usize,
    pub batch: usize,
    /// [rows × 784] the clean digits, and as the model saw them (None: no noise).
    pub clean: Vec<f32>,
    pub noisy: Option<Vec<f32>>,
    pub code: CodeView,
    /// A sparse model's hidden units: each one's mean activation over the minibatch, and
    /// the target ρ.
    pub sparsity: Option<(Vec<f32>, f32)>,
    /// [rows × 784] the reconstructions (pixels), and the gradient of the loss with respect
    /// to the output layer's pre-activation (signed).
    pub out: Vec<f32>,
    pub error: Vec<f32>,
    /// The first-layer units shown, their weights before the step and the update each got
    /// (after − before), [units × 784] each. Empty where the first layer has no 28×28 tiles.
    pub units: Vec<usize>,
    pub weights: Vec<f32>,
    pub delta: Vec<f32>,
    /// The minibatch's mean loss per digit in the step, and after it on the same input.
    pub loss_before: f64,
    pub loss_after: f64,
    /// The optimizer and its learning rate, in words ("SGD, learning rate 0.1").
    pub optimizer: String,
}

/// The optimizer in words.
fn optimizer_words(o: &Optimizer) -> String {
    match *o {
        Optimizer::Sgd { lr } => format!("SGD, learning rate {lr}"),
        Optimizer::Momentum { lr, momentum } => format!("SGD with momentum {momentum}, learning rate {lr}"),
        Optimizer::Adam { lr, .. } => format!("Adam, learning rate {lr}"),
    }
}

/// Columns `units` of a fan_in × fan_out matrix, one row of `fan_in` values per unit.
fn columns(w: &[f32], fan_out: usize, units: &[usize]) -> Vec<f32> {
    let fan_in = w.len() / fan_out.max(1);
    let mut out = Vec::with_capacity(units.len() * fan_in);
    for &j in units {
        out.extend((0..fan_in).map(|i| w[i * fan_out + j]));
    }
    out
}

/// The step's read-backs, awaited and put in the page's terms. `step` is the step's number.
pub async fn resolve(reads: InsideReads, model: &Autoencoder, step: u64, run: u32) -> Result<Inside, String> {
    let cfg = &model.cfg;
    let rows = reads.rows;
    let batch = reads.batch.max(1);
    let clean = reads.clean.await?;
    let noisy = match reads.noisy {
        Some(f) => Some(f.await?),
        None => None,
    };
    let code = reads.code.await?;
    let code = match reads.sample {
        Some(f) => {
            let z = f.await?;
            let latent = cfg.code_dim();
            let (mut mu, mut sigma) = (Vec::with_capacity(rows * latent), Vec::with_capacity(rows * latent));
            for r in code.chunks(2 * latent) {
                mu.extend_from_slice(&r[..latent]);
                sigma.extend(r[latent..].iter().map(|g| (0.5 * g).exp()));
            }
            CodeView::Variational { latent, mu, sigma, z }
        }
        None => CodeView::Plain { width: code.len() / rows.max(1), values: code },
    };
    let sparsity = match (reads.colsum, cfg.sparsity) {
        (Some(f), Some(sp)) => Some((f.await?.iter().map(|s| s / batch as f32).collect(), sp.rho)),
        _ => None,
    };
    let mut out = reads.out.await?;
    model.output_to_pixels(&mut out);
    let error = reads.error.await?;
    let mean = |v: Vec<f32>| v.iter().map(|&x| x as f64).sum::<f64>() / batch as f64;
    let loss_before = mean(reads.losses.await?);
    let loss_after = mean(reads.losses_after.await?);
    let (mut units, mut weights, mut delta) = (Vec::new(), Vec::new(), Vec::new());
    if let (Some(b), Some(a)) = (reads.w_before, reads.w_after) {
        let (before, after) = (b.await?, a.await?);
        let first = model.layout.dense[0];
        if first.fan_in == 784 {
            let fan_out = first.fan_out;
            let diff: Vec<f32> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
            // The units that moved most.
            let mut norms = vec![0f64; fan_out];
            for (i, d) in diff.iter().enumerate() {
                norms[i % fan_out] += (*d as f64) * (*d as f64);
            }
            let mut order: Vec<usize> = (0..fan_out).collect();
            order.sort_by(|&x, &y| norms[y].total_cmp(&norms[x]).then(x.cmp(&y)));
            order.truncate(INSIDE_UNITS);
            weights = columns(&before, fan_out, &order);
            delta = columns(&diff, fan_out, &order);
            units = order;
        }
    }
    Ok(Inside { run, step, rows, batch: reads.batch, clean, noisy, code, sparsity, out, error, units, weights, delta, loss_before, loss_after, optimizer: optimizer_words(&cfg.optimizer) })
}
