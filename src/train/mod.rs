//! The training loop, written once against [`Backend`]: seeded shuffling per epoch,
//! minibatches (the last one may be partial, as PyTorch's DataLoader does), a step counter
//! that numbers the noise, and evaluation on the clean test set.
//!
//! Epoch `k`'s order is a shuffle drawn from the run's order stream advanced by k·2⁶⁴
//! draws ([`epoch_order`]), so any epoch's order is found in one shuffle: a resumed run
//! does not replay the epochs before it, whatever epoch number its file gives.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::backend::{Backend, DataId};
use crate::core::ModelConfig;
use crate::data::Mnist;
use crate::model::{Autoencoder, LoggedSteps, OptimState, Split};

pub mod cloud;
pub mod divergence;
pub mod pipeline;

pub use divergence::{Divergence, Diverged, LastGood};

pub struct Trainer<B: Backend> {
    pub be: B,
    pub model: Autoencoder,
    pub train_data: DataId,
    pub test_data: DataId,
    /// Labels (one byte per row), uploaded for classifiers.
    pub train_labels: Option<DataId>,
    pub test_labels: Option<DataId>,
    /// Rows of the current epoch (the first rows of the training data).
    pub train_rows: usize,
    pub test_rows: usize,
    /// Rows of the training data uploaded: more than `train_rows` once the data has grown
    /// during an epoch (the next epoch takes them all in, see [`Self::grow`]).
    rows_in: usize,
    /// Steps done since the start.
    pub step: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// Position in the current epoch's order.
    pub pos: usize,
    seed: u64,
    /// The current epoch's order of the training rows.
    order: Vec<u32>,
}

impl<B: Backend> Trainer<B> {
    /// Uploads the data and builds the model.
    pub fn new(mut be: B, cfg: &ModelConfig, data: &Mnist, seed: u64) -> Result<Self, String> {
        if data.train.dim() != cfg.input_dim() {
            return Err(format!("the model takes {} inputs but the images have {} pixels", cfg.input_dim(), data.train.dim()));
        }
        if cfg.is_classifier() {
            let top = data.train.labels.iter().chain(&data.test.labels).max().copied().unwrap_or(0) as usize;
            if top >= cfg.output_dim() {
                return Err(format!("the data have label {top} but the classifier has only {} outputs", cfg.output_dim()));
            }
        }
        check_fits(&be, cfg, data)?;
        let up = Uploaded::mnist(&mut be, data, cfg.is_classifier());
        Self::from_uploaded(be, cfg, up.train, up.train_rows, up.test, up.test_rows, seed)
    }

    /// Builds the model on data already on `be`: trains on rows `0..train_rows` of
    /// `train` (a labelled subset, a split without its validation rows, cached codes of
    /// a frozen encoder) and evaluates on rows `0..test_rows` of `test`. A classifier
    /// needs both splits' labels.
    pub fn from_uploaded(mut be: B, cfg: &ModelConfig, train: Split, train_rows: usize, test: Split, test_rows: usize, seed: u64) -> Result<Self, String> {
        if cfg.is_classifier() && (train.labels.is_none() || test.labels.is_none()) {
            return Err("a classifier needs labelled training and test rows".into());
        }
        if train_rows == 0 {
            return Err("no training rows".into());
        }
        check_model_fits(&be, cfg)?;
        let model = Autoencoder::new(&mut be, cfg, seed)?;
        let mut t = Trainer {
            be,
            model,
            train_data: train.data,
            test_data: test.data,
            train_labels: train.labels,
            test_labels: test.labels,
            train_rows,
            test_rows,
            rows_in: train_rows,
            step: 0,
            epoch: 0,
            pos: 0,
            seed,
            order: Vec::new(),
        };
        epoch_order(seed, 0, train_rows, &mut t.order);
        Ok(t)
    }

    /// Gives the backend back, with the data still uploaded (the next phase of a
    /// multi-phase recipe starts from it). The model's buffers stay allocated on it.
    pub fn into_backend(self) -> B {
        self.be
    }

    /// Gives the backend back with the model's buffers freed (the data stay uploaded).
    pub fn release(self) -> B {
        let mut be = self.be;
        self.model.release(&mut be);
        be
    }

    /// The weights and the optimizer state, read back without blocking (the browser's way;
    /// natively the futures are ready at once): what a save, a backend switch or a new
    /// batch size starts from.
    pub async fn read_state(&mut self) -> Result<(Vec<f32>, OptimState), String> {
        let params = self.be.read_async(self.model.params);
        let moments = self.model.optim_state_readback(&mut self.be);
        let t = self.model.opt_steps;
        self.be.flush();
        let params = params.await?;
        let mut out = Vec::with_capacity(moments.len());
        for m in moments {
            out.push(m.await?);
        }
        Ok((params, OptimState { moments: out, t }))
    }

    /// Moves training to another backend with `params` (read from this one, or a
    /// snapshot), keeping the data order, the step counter, the epoch and the optimizer
    /// state. An optimizer with moments (momentum, Adam) has them read from this backend;
    /// where that cannot complete at once (a browser GPU: reads are asynchronous) or the
    /// device is lost, this is an error: read them first
    /// ([`Autoencoder::optim_state_readback`]) and use [`Self::move_to_with_state`].
    /// This trainer is left as it was, so a failed move loses nothing.
    pub fn move_to<B2: Backend>(&mut self, be: B2, data: &Mnist, params: &[f32]) -> Result<Trainer<B2>, String> {
        let mut moments = Vec::new();
        for f in self.model.optim_state_readback(&mut self.be) {
            moments.push(poll_once(f).ok_or("the optimizer state is still being read back from the device: await it and use move_to_with_state")??);
        }
        let state = OptimState { moments, t: self.model.opt_steps };
        self.move_to_with_state(be, data, params, &state)
    }

    /// [`Self::move_to`] with the optimizer state given (read back earlier, or a snapshot).
    pub fn move_to_with_state<B2: Backend>(&self, be: B2, data: &Mnist, params: &[f32], state: &OptimState) -> Result<Trainer<B2>, String> {
        self.move_to_with_batch(be, data, params, state, self.batch())
    }

    /// [`Self::move_to_with_state`] with another minibatch size from the next step on (the
    /// model is rebuilt with buffers for it; the epoch goes on where it was, in the same
    /// order).
    pub fn move_to_with_batch<B2: Backend>(&self, be: B2, data: &Mnist, params: &[f32], state: &OptimState, batch: usize) -> Result<Trainer<B2>, String> {
        let mut cfg = self.model.cfg.clone();
        cfg.batch = batch;
        cfg.validate()?;
        let mut t = Trainer::new(be, &cfg, data, self.seed)?;
        t.model.load_state(&mut t.be, params, state)?;
        t.step = self.step;
        t.epoch = self.epoch;
        t.pos = self.pos;
        t.order = self.order.clone();
        // The epoch goes on over the rows it started with (data that arrived since joins
        // at the next one).
        t.train_rows = self.train_rows.min(t.rows_in);
        Ok(t)
    }

    /// The minibatch size: the model's (its description is the one owner).
    pub fn batch(&self) -> usize {
        self.model.cfg.batch
    }

    /// Another minibatch size from the next step on, in place, where the model's buffers
    /// hold it (they have rows for max(batch, EVAL_CHUNK)): nothing is read back or uploaded.
    /// False, and nothing changed, where they do not (rebuild with
    /// [`Self::move_to_with_batch`]).
    pub fn set_batch_in_place(&mut self, batch: usize) -> bool {
        if batch == 0 || batch > self.model.capacity {
            return false;
        }
        self.model.cfg.batch = batch;
        true
    }

    /// The run seed (initialisation, data order and noise derive from it).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Sets the progress of a resumed run (a saved model): the step counter (which numbers
    /// the noise), the completed epochs and the rows of the current epoch already seen. The
    /// data order is the current epoch's, drawn directly ([`epoch_order`]: one shuffle,
    /// whatever the epoch), so it is the order an uninterrupted run would use from here on.
    /// Set the model's weights and optimizer state separately.
    pub fn set_progress(&mut self, step: u64, epoch: usize, pos: usize) -> Result<(), String> {
        if pos >= self.train_rows {
            return Err(format!("position {pos} is past the end of an epoch of {} rows", self.train_rows));
        }
        epoch_order(self.seed, epoch, self.train_rows, &mut self.order);
        self.step = step;
        self.epoch = epoch;
        self.pos = pos;
        Ok(())
    }

    /// Seed of the noise stream (low 32 bits of the run seed).
    pub fn noise_seed(&self) -> u32 {
        self.seed as u32 ^ (self.seed >> 32) as u32
    }

    /// Steps in one epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.train_rows.div_ceil(self.batch())
    }

    /// One training step; returns true when it completed an epoch.
    pub fn step(&mut self) -> bool {
        self.step_with(&mut [])
    }

    /// One training step of the model and of `others` (side-by-side runs: the same rows,
    /// noise seed and stream for each); returns true when it completed an epoch. Each
    /// model keeps its own training loss ([`Autoencoder::take_train_loss`]).
    pub fn step_with(&mut self, others: &mut [Autoencoder]) -> bool {
        let end = (self.pos + self.batch()).min(self.train_rows);
        let idx = &self.order[self.pos..end];
        let seed = self.noise_seed();
        let split = Split { data: self.train_data, labels: self.train_labels };
        self.model.train_step(&mut self.be, split, idx, seed, self.step as u32);
        for m in others.iter_mut() {
            m.train_step(&mut self.be, split, idx, seed, self.step as u32);
        }
        self.advance(end)
    }

    /// The next training step in slow motion: the step [`Self::step`] would take, with the
    /// first `rows` rows of what it computed read back (see [`crate::model::InsideReads`]).
    pub fn step_inside(&mut self, rows: usize) -> crate::model::InsideReads {
        let end = (self.pos + self.batch()).min(self.train_rows);
        let idx = self.order[self.pos..end].to_vec();
        let seed = self.noise_seed();
        let split = Split { data: self.train_data, labels: self.train_labels };
        let reads = self.model.train_step_inside(&mut self.be, split, &idx, seed, self.step as u32, rows);
        self.advance(end);
        reads
    }

    /// Counts a step that took the rows up to `end` of the epoch's order; true when it
    /// completed an epoch.
    fn advance(&mut self, end: usize) -> bool {
        self.step += 1;
        self.pos = end;
        // Hand recorded work to the device every few steps so it runs while more is recorded.
        if self.step % 8 == 0 {
            self.be.flush();
        }
        if self.pos == self.train_rows {
            self.pos = 0;
            self.epoch = self.epoch.saturating_add(1);
            self.train_rows = self.rows_in;
            epoch_order(self.seed, self.epoch, self.train_rows, &mut self.order);
            true
        } else {
            false
        }
    }

    /// More of the training set has arrived (`data` holds the rows trained on so far as its
    /// first rows, and more): the whole of it is uploaded in place of the old copy and the
    /// next epoch takes it all in; an epoch under way goes on over its rows in its order
    /// (at an epoch's start, the epoch grows now). Ok(false): nothing new.
    pub fn grow(&mut self, data: &Mnist) -> Result<bool, String> {
        let (n, d) = (data.train.items, data.train.dim());
        if n <= self.rows_in || d != self.model.cfg.input_dim() {
            return Ok(false);
        }
        check_bytes(&self.be, "the training images", (n * d) as u64)?;
        let pixels = self.be.upload_u8(&data.train.pixels[..n * d], d);
        let labels = self.train_labels.map(|_| self.be.upload_u8(&data.train.labels[..n], 1));
        self.be.free_data(std::mem::replace(&mut self.train_data, pixels));
        if let Some(old) = std::mem::replace(&mut self.train_labels, labels) {
            self.be.free_data(old);
        }
        self.rows_in = n;
        if self.pos == 0 {
            self.train_rows = n;
            epoch_order(self.seed, self.epoch, n, &mut self.order);
        }
        Ok(true)
    }

    /// Rows of the training data uploaded (the next epoch's rows).
    pub fn rows_in(&self) -> usize {
        self.rows_in
    }

    /// Epochs done, with the fraction of the current one.
    pub fn epochs_done(&self) -> f64 {
        self.epoch as f64 + self.pos as f64 / self.train_rows as f64
    }

    /// Mean training loss per example since the last call.
    pub fn take_train_loss(&mut self) -> Option<(f64, usize)> {
        self.model.take_train_loss(&mut self.be)
    }

    /// Keeps each step's loss apart on the device from now on, for
    /// [`Self::take_step_losses`] ([`Autoencoder::enable_step_log`]).
    pub fn enable_step_losses(&mut self) {
        self.model.enable_step_log(&mut self.be);
    }

    /// (step, mean loss per example) of each step since the last call, oldest first: at
    /// most the last [`STEP_LOG`](crate::model::STEP_LOG) steps, so call it at least that
    /// often. Steps count from 1 (the first step is step 1, as [`Self::step`] counts them).
    /// Waits for the device; empty unless [`Self::enable_step_losses`] was called.
    pub fn take_step_losses(&mut self) -> Vec<(u64, f64)> {
        match self.step_losses_readback() {
            Some((f, steps, last)) => steps.numbered(&crate::backend::read_now(f), last),
            None => Vec::new(),
        }
    }

    /// Starts reading the step losses since the last read (the browser's way: the future
    /// resolves once the device is done): the ring, which steps it holds, and the number of
    /// the last of them; turn them into (step, loss) with [`LoggedSteps::numbered`]. None
    /// if the log is off or no step ran since.
    pub fn step_losses_readback(&mut self) -> Option<(crate::backend::ReadFuture, LoggedSteps, u64)> {
        self.model.step_log_readback(&mut self.be).map(|(f, steps)| (f, steps, self.step))
    }

    /// The training rows with their labels (classifiers).
    pub fn train_split(&self) -> Split {
        Split { data: self.train_data, labels: self.train_labels }
    }

    /// The test rows with their labels (classifiers).
    pub fn test_split(&self) -> Split {
        Split { data: self.test_data, labels: self.test_labels }
    }

    /// Mean clean loss over the first `rows` test images (all of them if None).
    pub fn test_loss(&mut self, rows: Option<usize>) -> f64 {
        self.test_metrics(rows).0
    }

    /// (mean clean loss, accuracy) over the first `rows` test images (all if None);
    /// accuracy is 0 for autoencoders.
    pub fn test_metrics(&mut self, rows: Option<usize>) -> (f64, f64) {
        let rows = rows.unwrap_or(self.test_rows).min(self.test_rows);
        let split = self.test_split();
        self.model.eval_metrics(&mut self.be, split, rows)
    }

    /// (mean clean loss, accuracy) over rows `rows` of `split` (say the validation rows
    /// of the training set), of `other` if given, else of the trainer's model; accuracy
    /// is 0 for autoencoders.
    pub fn eval_range(&mut self, other: Option<&mut Autoencoder>, split: Split, rows: std::ops::Range<usize>) -> (f64, f64) {
        other.unwrap_or(&mut self.model).eval_range(&mut self.be, split, rows)
    }
}

/// Datasets on a backend: training and test rows with their labels (when uploaded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uploaded {
    pub train: Split,
    pub train_rows: usize,
    pub test: Split,
    pub test_rows: usize,
}

impl Uploaded {
    /// Uploads the MNIST pixels, and the labels when `labels` is set.
    pub fn mnist<B: Backend>(be: &mut B, data: &Mnist, labels: bool) -> Self {
        let train_data = be.upload_u8(&data.train.pixels, data.train.dim());
        let test_data = be.upload_u8(&data.test.pixels, data.test.dim());
        let (train_labels, test_labels) =
            if labels { (Some(be.upload_u8(&data.train.labels, 1)), Some(be.upload_u8(&data.test.labels, 1))) } else { (None, None) };
        Uploaded {
            train: Split { data: train_data, labels: train_labels },
            train_rows: data.train.items,
            test: Split { data: test_data, labels: test_labels },
            test_rows: data.test.items,
        }
    }
}

/// The generator of the data order: a separate stream from the one that initialised the
/// weights.
fn order_rng(seed: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(seed ^ 0x5eed_0f_da7a)
}

/// Epoch `epoch`'s order of `rows` training rows into `order`: the rows shuffled with the
/// order stream advanced by `epoch`·2⁶⁴ draws (a jump of O(log epoch) work; a shuffle of
/// fewer than 2³² rows draws far fewer than 2⁶⁴ values, so epochs never share draws). Epoch
/// 0 draws from the start of the stream, as every run always has.
pub fn epoch_order(seed: u64, epoch: usize, rows: usize, order: &mut Vec<u32>) {
    let mut rng = order_rng(seed);
    rng.advance((epoch as u128) << 64);
    order.clear();
    order.extend(0..rows as u32);
    order.shuffle(&mut rng);
}

/// Polls a read-back once: the CPU's reads are ready at once, the native GPU's poll waits
/// for the device; a browser GPU's is still pending (None).
fn poll_once(mut f: crate::backend::ReadFuture) -> Option<Result<Vec<f32>, String>> {
    use std::task::{Context, Poll, Waker};
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => None,
    }
}

/// Refuses a model or dataset that the device cannot hold, saying what to do instead.
fn check_fits<B: Backend>(be: &B, cfg: &ModelConfig, data: &Mnist) -> Result<(), String> {
    check_bytes(be, "the training images", data.train.pixels.len() as u64)?;
    check_model_fits(be, cfg)
}

/// Refuses a model whose parameters or activations the device cannot hold.
fn check_model_fits<B: Backend>(be: &B, cfg: &ModelConfig) -> Result<(), String> {
    let capacity = cfg.rows_held();
    let widest = cfg.widest();
    let params = crate::core::layout::ParamLayout::new(cfg).total;
    check_bytes(be, "the parameters", 4 * params as u64)?;
    check_bytes(be, "one layer's activations", 4 * capacity as u64 * widest as u64)
}

/// Refuses a buffer of `bytes` that the device cannot hold, saying what to do instead.
pub fn check_bytes<B: Backend>(be: &B, what: &str, bytes: u64) -> Result<(), String> {
    let limit = be.max_buffer_bytes();
    if bytes > limit {
        let name = be.name();
        return Err(format!(
            "{what} need a buffer of {:.1} MB but {name} allows at most {:.1} MB: choose a smaller model or batch{}",
            bytes as f64 / 1e6,
            limit as f64 / 1e6,
            if name.starts_with("CPU") { "" } else { ", or train on the CPU" }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::{CpuBackend, Isa};
    use crate::backend::Buffers;
    use crate::core::config::preset;

    fn tiny_data(train: usize) -> Mnist {
        Mnist::pattern(train, 10)
    }

    #[test]
    fn epoch_zero_keeps_the_order_every_run_has_used() {
        // Before the orders became O(1) to find, epoch 0 was one shuffle of 0..rows by a
        // fresh order stream: the 1-epoch results in BENCHMARKS.md depend on it.
        for (seed, rows) in [(1u64, 60_000usize), (7, 100), (u64::MAX, 3)] {
            let mut old: Vec<u32> = (0..rows as u32).collect();
            old.shuffle(&mut order_rng(seed));
            let mut new = Vec::new();
            epoch_order(seed, 0, rows, &mut new);
            assert_eq!(new, old, "seed {seed}");
        }
        // Later epochs differ from each other and are permutations.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        epoch_order(1, 1, 1000, &mut a);
        epoch_order(1, 2, 1000, &mut b);
        assert_ne!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn data_that_arrives_during_an_epoch_joins_at_the_next() {
        let all = tiny_data(100);
        let mut part = all.clone();
        part.train = all.train.first(40);
        let mut cfg = preset("linear_50").unwrap();
        cfg.batch = 16;
        let mut t = Trainer::new(CpuBackend::with(Isa::Scalar, 1), &cfg, &part, 7).unwrap();
        t.step();
        // Mid-epoch: the epoch goes on over its 40 rows, in its order.
        let before = t.order.clone();
        part.train.extend(&all.train.pixels[40 * 784..70 * 784], &all.train.labels[40..70]).unwrap();
        assert!(t.grow(&part).unwrap());
        assert!(!t.grow(&part).unwrap(), "nothing new the second time");
        assert_eq!((t.train_rows, t.rows_in(), t.steps_per_epoch()), (40, 70, 3));
        assert_eq!(t.order, before);
        t.step();
        assert!(t.step(), "the 40-row epoch ends after three steps");
        let mut want = Vec::new();
        epoch_order(7, 1, 70, &mut want);
        assert_eq!((t.epoch, t.train_rows, t.steps_per_epoch()), (1, 70, 5));
        assert_eq!(t.order, want, "the next epoch is a shuffle of all 70 rows");
        // At an epoch's start the epoch grows at once.
        let mut t = Trainer::new(CpuBackend::with(Isa::Scalar, 1), &cfg, &Mnist { train: all.train.first(40), test: all.test.clone() }, 7).unwrap();
        assert!(t.grow(&all).unwrap());
        epoch_order(7, 0, 100, &mut want);
        assert_eq!((t.train_rows, t.order.clone()), (100, want));
        // The grown rows are the ones trained on: a run grown before its first step is the
        // run on all 100 rows, step for step.
        let mut whole = Trainer::new(CpuBackend::with(Isa::Scalar, 1), &cfg, &all, 7).unwrap();
        for _ in 0..12 {
            t.step();
            whole.step();
        }
        assert_eq!(t.test_loss(None).to_bits(), whole.test_loss(None).to_bits());
        // A backend move in the middle of an epoch keeps it on its rows.
        let mut part = all.clone();
        part.train = all.train.first(40);
        let mut t = Trainer::new(CpuBackend::with(Isa::Scalar, 1), &cfg, &part, 7).unwrap();
        t.step();
        let params = t.be.read(t.model.params);
        let moved = t.move_to(CpuBackend::with(Isa::Scalar, 1), &all, &params).unwrap();
        assert_eq!((moved.train_rows, moved.rows_in(), moved.pos), (40, 100, 16));
    }

    #[test]
    fn resuming_at_any_epoch_number_is_immediate() {
        // A model file saying epoch 10¹² made resuming replay 10¹² shuffles (years). It now
        // finishes at once; a watchdog turns a hang into a failure.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let data = tiny_data(50);
            let mut cfg = preset("linear_50").unwrap();
            cfg.batch = 16;
            let mut t = Trainer::new(CpuBackend::with(Isa::Scalar, 1), &cfg, &data, 3).unwrap();
            let epoch: usize = if cfg!(target_pointer_width = "64") { 1_000_000_000_000u64 as usize } else { u32::MAX as usize };
            t.set_progress(epoch as u64 + 5, epoch, 10).unwrap();
            let mut want = Vec::new();
            epoch_order(3, epoch, 50, &mut want);
            assert_eq!(t.order, want);
            t.step();
            t.step();
            t.step();
            assert_eq!((t.epoch, t.pos), (epoch + 1, 0), "the epoch ended after 40 more rows");
            epoch_order(3, epoch + 1, 50, &mut want);
            assert_eq!(t.order, want);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(std::time::Duration::from_secs(60)).expect("resuming at epoch 10^12 hangs");
    }

    #[test]
    fn a_classifier_narrower_than_the_labels_is_refused() {
        let data = tiny_data(20);
        let cfg = crate::core::ModelConfig {
            dims: vec![784, 10, 10],
            activations: vec![crate::core::Activation::Sigmoid, crate::core::Activation::Identity],
            loss: crate::core::LossKind::SoftmaxCe,
            ..Default::default()
        };
        assert!(Trainer::new(CpuBackend::with(Isa::Scalar, 1), &cfg, &data, 1).is_ok());
        let mut data = data;
        data.test.labels[3] = 12;
        let e = Trainer::new(CpuBackend::with(Isa::Scalar, 1), &cfg, &data, 1).err().unwrap();
        assert!(e.contains("label 12 but the classifier has only 10 outputs"), "{e}");
    }

    #[test]
    fn the_cpu_backend_names_its_buffer_limit() {
        // It used to allow any size (u64::MAX), so nothing too large was refused before
        // the allocation itself failed.
        let be = CpuBackend::with(Isa::Scalar, 1);
        assert_eq!(be.max_buffer_bytes(), if cfg!(target_arch = "wasm32") { 1 << 30 } else { 4 << 30 });
        let e = check_bytes(&be, "the parameters", be.max_buffer_bytes() + 1).unwrap_err();
        assert!(e.contains("allows at most 4295.0 MB: choose a smaller model or batch") || e.contains("allows at most 1073.7 MB"), "{e}");
        assert!(!e.contains("train on the CPU"), "{e}");
        assert!(check_bytes(&be, "the parameters", be.max_buffer_bytes()).is_ok());
    }

    #[test]
    fn step_losses_are_numbered_by_step() {
        let data = tiny_data(40);
        let mut cfg = preset("linear_50").unwrap();
        cfg.batch = 16;
        let mut t = Trainer::new(CpuBackend::with(Isa::Scalar, 1), &cfg, &data, 3).unwrap();
        t.step();
        assert!(t.take_step_losses().is_empty(), "the log is off until enabled");
        t.enable_step_losses();
        for _ in 0..4 {
            t.step();
        }
        let losses = t.take_step_losses();
        assert_eq!(losses.iter().map(|l| l.0).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
        assert!(losses.iter().all(|l| l.1.is_finite() && l.1 > 0.0));
    }
}
