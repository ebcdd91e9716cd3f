//! The device reads a recipe's state machine awaits: an evaluation's sums, a training-loss
//! read-back, the cached codes of a frozen encoder. Each is started (recorded on the device)
//! first and resolved later, so the browser's WebGPU never blocks; [`wait`] resolves one at
//! once where reads complete when polled (the CPU, the native GPU).

use crate::backend::{Backend, ReadFuture};
use crate::model::{Autoencoder, Split};
use crate::train::{check_bytes, Trainer, Uploaded};

/// An evaluation recorded on the device: the read-back of its sums and the rows it covers.
pub(super) struct EvalRead {
    sums: ReadFuture,
    rows: usize,
    classifier: bool,
}

impl EvalRead {
    /// Evaluates `model` on rows `rows` of `split` and starts reading the sums back.
    pub(super) fn start<B: Backend>(model: &mut Autoencoder, be: &mut B, split: Split, rows: std::ops::Range<usize>) -> Self {
        let n = rows.len().max(1);
        let idx: Vec<u32> = (rows.start as u32..rows.end as u32).collect();
        model.eval_rows(be, split, &idx, true);
        EvalRead { sums: model.eval_readback(be), rows: n, classifier: model.cfg.is_classifier() }
    }

    /// (mean loss, accuracy; 0 for autoencoders), as `Autoencoder::eval_range`.
    pub(super) async fn metrics(self) -> Result<(f64, f64), String> {
        let v = self.sums.await?;
        let correct = if self.classifier { v[1] as f64 } else { 0.0 };
        Ok((v[0] as f64 / self.rows as f64, correct / self.rows as f64))
    }
}

/// The mean of a training-loss read-back (NaN when no step ran), as `take_train_loss`.
pub(super) async fn mean_train_loss(read: Option<(ReadFuture, usize)>) -> Result<f64, String> {
    match read {
        Some((f, n)) => Ok(f.await?[0] as f64 / n as f64),
        None => Ok(f64::NAN),
    }
}

/// The frozen encoder's outputs over a phase's training and test rows, being read back.
pub(super) struct CodesRead {
    train: Vec<ReadFuture>,
    test: Vec<ReadFuture>,
    width: usize,
}

impl CodesRead {
    /// Runs the trained encoder (dense layer 0) over `input`'s rows and starts the reads;
    /// Err when the codes would not fit in one device buffer.
    pub(super) fn start<B: Backend>(t: &mut Trainer<B>, input: Uploaded) -> Result<Self, String> {
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
    pub(super) async fn resolve(self) -> Result<(Vec<f32>, Vec<f32>, usize), String> {
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
/// pipeline with [`super::Pipeline::train_step`] and await [`super::Pipeline::after_step`] instead.
pub(super) fn wait<T>(f: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
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
