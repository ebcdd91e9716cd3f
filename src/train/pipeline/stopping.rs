//! The source's early stopping (Theano `test_SdA`) as a small state machine counted in
//! minibatch steps: when to validate, when a validation error is a new best, when to stop.
//! Its settings are the recipe's [`EarlyStoppingSpec`].

use super::recipe::EarlyStoppingSpec;

/// The source's early stopping, in minibatch steps (`iter` counts from 0): validate every
/// `frequency` steps; a new best below `best × threshold` raises the patience to
/// `iter × increase`; stop once `patience ≤ iter`.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    pub patience: u64,
    pub frequency: u64,
    pub increase: f64,
    pub threshold: f64,
    /// Best validation error so far (∞ before the first).
    pub best: f64,
    pub best_iter: Option<u64>,
}

impl EarlyStopping {
    pub fn new(spec: &EarlyStoppingSpec, steps_per_epoch: usize) -> Self {
        let patience = (spec.patience_epochs * steps_per_epoch as f64).round().max(1.0) as u64;
        EarlyStopping {
            patience,
            // The source's `min(n_train_batches, patience / 2)`: every epoch by default.
            frequency: (steps_per_epoch as u64).min(patience / 2).max(1),
            increase: spec.patience_increase,
            threshold: spec.improvement_threshold,
            best: f64::INFINITY,
            best_iter: None,
        }
    }

    /// Whether step `iter` ends with a validation.
    pub fn validate_at(&self, iter: u64) -> bool {
        (iter + 1) % self.frequency == 0
    }

    /// Records the validation error after step `iter`; true when it is a new best.
    pub fn record(&mut self, iter: u64, error: f64) -> bool {
        if error < self.best {
            if error < self.best * self.threshold {
                self.patience = self.patience.max((iter as f64 * self.increase) as u64);
            }
            self.best = error;
            self.best_iter = Some(iter);
            true
        } else {
            false
        }
    }

    /// Whether training stops after step `iter`.
    pub fn should_stop(&self, iter: u64) -> bool {
        self.patience <= iter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The source's rule: patience 10 epochs of steps; a significant new best at step
    /// `iter` raises it to 2·iter; stop once patience ≤ iter.
    #[test]
    fn early_stopping_follows_the_source() {
        let spec = EarlyStoppingSpec::default();
        let n = 10; // steps per epoch
        // Validation improves for 5 epochs, then stays flat: stop at step 100.
        let mut es = EarlyStopping::new(&spec, n);
        assert_eq!((es.patience, es.frequency), (100, 10));
        let mut stopped = None;
        for iter in 0..10_000u64 {
            if es.validate_at(iter) {
                let epoch = (iter + 1) / n as u64;
                es.record(iter, if epoch <= 5 { 1.0 / epoch as f64 } else { 0.2 });
            }
            if es.should_stop(iter) {
                stopped = Some(iter);
                break;
            }
        }
        assert_eq!(stopped, Some(100));
        assert_eq!(es.best_iter, Some(49));
        // Improving for 60 epochs: the last significant best at step 599 makes it 1198.
        let mut es = EarlyStopping::new(&spec, n);
        let mut stopped = None;
        for iter in 0..10_000u64 {
            if es.validate_at(iter) {
                let epoch = (iter + 1) / n as u64;
                es.record(iter, if epoch <= 60 { 1.0 - 0.01 * epoch as f64 } else { 0.5 });
            }
            if es.should_stop(iter) {
                stopped = Some(iter);
                break;
            }
        }
        assert_eq!(stopped, Some(1198));
        // Insignificant improvements (under 0.5 %) keep the best but not the patience.
        let mut es = EarlyStopping::new(&spec, n);
        es.record(9, 0.5);
        assert_eq!(es.patience, 100);
        es.record(59, 0.499);
        assert_eq!((es.patience, es.best, es.best_iter), (100, 0.499, Some(59)));
        es.record(69, 0.3);
        assert_eq!(es.patience, 138);
    }
}
