//! The training loop, written once against [`Backend`]: seeded shuffling per epoch,
//! minibatches (the last one may be partial, as PyTorch's DataLoader does), a step counter
//! that numbers the noise, and evaluation on the clean test set.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::backend::{Backend, DataId};
use crate::core::ModelConfig;
use crate::data::Mnist;
use crate::model::Autoencoder;

pub struct Trainer<B: Backend> {
    pub be: B,
    pub model: Autoencoder,
    pub train_data: DataId,
    pub test_data: DataId,
    pub train_rows: usize,
    pub test_rows: usize,
    /// Steps done since the start.
    pub step: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// Position in the current epoch's order.
    pub pos: usize,
    batch: usize,
    seed: u64,
    order: Vec<u32>,
    rng: Pcg64Mcg,
}

impl<B: Backend> Trainer<B> {
    /// Uploads the data and builds the model. `batch` overrides the preset's batch size.
    pub fn new(mut be: B, cfg: &ModelConfig, data: &Mnist, seed: u64) -> Result<Self, String> {
        if data.train.dim() != cfg.input_dim() {
            return Err(format!("the model takes {} inputs but the images have {} pixels", cfg.input_dim(), data.train.dim()));
        }
        let model = Autoencoder::new(&mut be, cfg, seed)?;
        let train_data = be.upload_u8(&data.train.pixels, data.train.dim());
        let test_data = be.upload_u8(&data.test.pixels, data.test.dim());
        let mut t = Trainer {
            be,
            model,
            train_data,
            test_data,
            train_rows: data.train.items,
            test_rows: data.test.items,
            step: 0,
            epoch: 0,
            pos: 0,
            batch: cfg.batch,
            seed,
            order: (0..data.train.items as u32).collect(),
            // A separate stream from the one that initialised the weights.
            rng: Pcg64Mcg::seed_from_u64(seed ^ 0x5eed_0f_da7a),
        };
        t.order.shuffle(&mut t.rng);
        Ok(t)
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Seed of the noise stream (low 32 bits of the run seed).
    pub fn noise_seed(&self) -> u32 {
        self.seed as u32 ^ (self.seed >> 32) as u32
    }

    /// Steps in one epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.train_rows.div_ceil(self.batch)
    }

    /// One training step; returns true when it completed an epoch.
    pub fn step(&mut self) -> bool {
        let end = (self.pos + self.batch).min(self.train_rows);
        let idx = &self.order[self.pos..end];
        let seed = self.noise_seed();
        self.model.train_step(&mut self.be, self.train_data, idx, seed, self.step as u32);
        self.step += 1;
        self.pos = end;
        if self.pos == self.train_rows {
            self.pos = 0;
            self.epoch += 1;
            self.order.shuffle(&mut self.rng);
            true
        } else {
            false
        }
    }

    /// Mean training loss per example since the last call.
    pub fn take_train_loss(&mut self) -> Option<(f64, usize)> {
        self.model.take_train_loss(&mut self.be)
    }

    /// Mean clean loss over the first `rows` test images (all of them if None).
    pub fn test_loss(&mut self, rows: Option<usize>) -> f64 {
        let rows = rows.unwrap_or(self.test_rows).min(self.test_rows);
        self.model.eval_mean(&mut self.be, self.test_data, rows)
    }
}

