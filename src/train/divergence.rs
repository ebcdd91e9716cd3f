//! Divergence treated as a fault: a guard fed every reported training loss with its step
//! ([`Divergence`]) says when training has diverged (a loss that is not finite, or a
//! report's mean more than [`GROWTH_FACTOR`] times the first loss reported), naming the
//! step and the learning rate and suggesting a smaller one ([`Diverged`]); [`LastGood`]
//! keeps the last state whose next step's loss still passed, so that it can be restored or
//! saved. Plain data, no device: feed it per-step losses ([`Divergence::check_steps`], from
//! the device's step log: the CLI does, every 32 steps) or report means of at least
//! [`WINDOW`] steps each ([`Divergence::check`]).
//!
//! The bound applies to the mean of the last 32 steps, not to single steps: in Adam's first
//! steps one step's loss can jump past 10× and come back (`dae_dropout`: 21× at step 7,
//! `dae_gaussian` 18×), while the mean of 32 steps stays under 2.2× the first loss over the
//! first 640 steps of every preset (seeds 1–3). A single non-finite step is a divergence at
//! once.

use std::fmt;

/// A loss more than this many times the first one reported counts as diverged.
pub const GROWTH_FACTOR: f64 = 10.0;
/// Steps whose mean [`Divergence::check_steps`] holds to the bound: the last 32, once there
/// are 32 (fewer are too noisy in Adam's first steps: 8 steps of `dae_gaussian` reach 5.3×
/// the first loss). A blow-up is still named at its own step.
pub const WINDOW: usize = 32;

/// The guard: feed it every reported loss, in step order.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    lr: f32,
    factor: f64,
    /// The first loss reported, with its step: the reference the bound is relative to.
    first: Option<(u64, f64)>,
    /// The last [`WINDOW`] steps' losses given to [`Self::check_steps`], oldest first.
    window: std::collections::VecDeque<(u64, f64)>,
}

/// Why training stopped: the step whose loss broke the bound, that loss and the bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Diverged {
    /// The step whose loss broke the bound.
    pub step: u64,
    /// Its loss (NaN, ±∞ or too large).
    pub loss: f64,
    /// The first loss reported (with its step); None when the very first was not finite.
    pub first: Option<(u64, f64)>,
    /// The bound's factor ([`GROWTH_FACTOR`]).
    pub factor: f64,
    /// The learning rate it was training with.
    pub lr: f32,
}

impl Divergence {
    /// A guard for a run at learning rate `lr` (named in its message), bound [`GROWTH_FACTOR`].
    pub fn new(lr: f32) -> Self {
        Self::with_factor(lr, GROWTH_FACTOR)
    }

    /// A guard with another growth bound (> 1).
    pub fn with_factor(lr: f32, factor: f64) -> Self {
        assert!(factor > 1.0, "a growth bound of {factor} would stop every run");
        Divergence { lr, factor, first: None, window: std::collections::VecDeque::with_capacity(WINDOW) }
    }

    /// Checks one reported loss (the mean of one step, or of the steps since the last
    /// report) at `step`. The first finite loss becomes the reference; a non-finite loss,
    /// or one above factor × the reference (when the reference is positive), is a divergence.
    pub fn check(&mut self, step: u64, loss: f64) -> Result<(), Diverged> {
        let diverged = || Diverged { step, loss, first: self.first, factor: self.factor, lr: self.lr };
        if !loss.is_finite() {
            return Err(diverged());
        }
        match self.first {
            None => {
                self.first = Some((step, loss));
                Ok(())
            }
            Some((_, first)) if first > 0.0 && loss > self.factor * first => Err(diverged()),
            Some(_) => Ok(()),
        }
    }

    /// Checks per-step losses, in step order, however they are grouped into reports (one
    /// step at a time, or 32). A non-finite loss is a divergence at its step. Otherwise the
    /// mean of the last [`WINDOW`] steps (once there are that many) is held to the bound,
    /// the first step's loss being the reference; when it breaks it, the divergence is
    /// placed at the window's first step whose own loss is above the bound.
    pub fn check_steps(&mut self, losses: &[(u64, f64)]) -> Result<(), Diverged> {
        for &(step, loss) in losses {
            if !loss.is_finite() {
                return Err(Diverged { step, loss, first: self.first, factor: self.factor, lr: self.lr });
            }
            self.first.get_or_insert((step, loss));
            if self.window.len() == WINDOW {
                self.window.pop_front();
            }
            self.window.push_back((step, loss));
            let Some(bound) = self.bound() else { continue };
            let mean = self.window.iter().map(|l| l.1).sum::<f64>() / self.window.len() as f64;
            if self.window.len() == WINDOW && mean > bound {
                // Some step is above the bound when the mean is.
                let &(step, loss) = self.window.iter().find(|l| l.1 > bound).expect("a step above a mean above the bound");
                return Err(Diverged { step, loss, first: self.first, factor: self.factor, lr: self.lr });
            }
        }
        Ok(())
    }

    /// Starts again with no reference and a learning rate (after a reset or a new rate: the
    /// next reported loss is the new reference).
    pub fn restart(&mut self, lr: f32) {
        self.lr = lr;
        self.first = None;
        self.window.clear();
    }

    /// The reference loss and its step, once one was reported.
    pub fn first(&self) -> Option<(u64, f64)> {
        self.first
    }

    /// The largest loss that still passes, once a reference was reported.
    pub fn bound(&self) -> Option<f64> {
        self.first.filter(|f| f.1 > 0.0).map(|f| f.1 * self.factor)
    }

    /// The learning rate named in messages.
    pub fn lr(&self) -> f32 {
        self.lr
    }
}

impl Diverged {
    /// The loss was NaN or infinite (rather than too large).
    pub fn is_non_finite(&self) -> bool {
        !self.loss.is_finite()
    }

    /// A learning rate to try instead: a tenth of this one.
    pub fn suggested_lr(&self) -> f32 {
        let lr = self.lr / 10.0;
        // Shortest decimal: 0.1 / 10 is printed 0.01, not 0.010000001.
        format!("{lr:.1e}").parse().unwrap_or(lr)
    }
}

impl fmt::Display for Diverged {
    /// One line: "training diverged at step 437: the loss became NaN (learning rate 10);
    /// try a smaller learning rate, e.g. 1".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "training diverged at step {}: ", self.step)?;
        match self.first {
            _ if self.is_non_finite() => write!(f, "the loss became {}", self.loss)?,
            Some((step, first)) => write!(
                f,
                "the loss reached {:.4e}, more than {}× its first value {:.4} (step {step})",
                self.loss, self.factor, first
            )?,
            None => write!(f, "the loss reached {:.4e}", self.loss)?,
        }
        write!(f, " at learning rate {}; try a smaller learning rate, e.g. {}", short(self.lr), short(self.suggested_lr()))
    }
}

/// The shorter of an f32's plain and exponent forms (`0.01`, `1e30`).
pub fn short(v: f32) -> String {
    let (plain, exp) = (v.to_string(), format!("{v:e}"));
    if exp.len() < plain.len() {
        exp
    } else {
        plain
    }
}

impl std::error::Error for Diverged {}

/// The last state known good. A state taken after step `s` is good once the loss of step
/// `s + 1` (computed from it) passed the guard: the state just before the divergent step
/// may already be the bad one, so it is kept only as a candidate until then.
#[derive(Clone, Debug, PartialEq)]
pub struct LastGood<T> {
    confirmed: Option<(u64, T)>,
    candidate: Option<(u64, T)>,
}

impl<T> Default for LastGood<T> {
    fn default() -> Self {
        LastGood { confirmed: None, candidate: None }
    }
}

impl<T> LastGood<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every loss up to step `step` passed the guard; `state` (if given) is the state after
    /// step `step`. A candidate from before `step` becomes the confirmed state.
    pub fn passed(&mut self, step: u64, state: Option<T>) {
        if self.candidate.as_ref().is_some_and(|c| c.0 < step) {
            self.confirmed = self.candidate.take();
        }
        if let Some(s) = state {
            self.candidate = Some((step, s));
        }
    }

    /// The state to keep when step `diverged_at` diverged: the latest one whose next step
    /// came before it (and so passed), with its step; None if there is none.
    pub fn kept(self, diverged_at: u64) -> Option<(u64, T)> {
        match self.candidate {
            Some(c) if c.0 + 1 < diverged_at => Some(c),
            _ => self.confirmed.filter(|c| c.0 + 1 < diverged_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_and_tenfold_losses_are_divergences() {
        let mut g = Divergence::new(10.0);
        assert_eq!(g.check(1, 543.0), Ok(()));
        assert_eq!(g.bound(), Some(5430.0));
        assert_eq!(g.check(3, 5430.0), Ok(()));
        let d = g.check(5, 5431.0).unwrap_err();
        assert_eq!((d.step, d.loss, d.first, d.lr), (5, 5431.0, Some((1, 543.0)), 10.0));
        let msg = d.to_string();
        assert_eq!(
            msg,
            "training diverged at step 5: the loss reached 5.4310e3, more than 10× its first value 543.0000 (step 1) at learning rate 10; try a smaller learning rate, e.g. 1"
        );
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let d = g.check(6, bad).unwrap_err();
            assert!(d.is_non_finite());
            assert!(d.to_string().starts_with(&format!("training diverged at step 6: the loss became {bad} at learning rate 10")), "{d}");
        }
        let d = Divergence::new(1e30).check(1, f64::NAN).unwrap_err();
        assert!(d.to_string().ends_with("at learning rate 1e30; try a smaller learning rate, e.g. 1e29"), "{d}");
        // The first reported loss can itself be NaN: no reference, still a divergence.
        let d = Divergence::new(0.001).check(1, f64::NAN).unwrap_err();
        assert_eq!((d.first, d.suggested_lr()), (None, 0.0001));
        // A zero reference bounds nothing but non-finite values.
        let mut g = Divergence::new(1.0);
        g.check(1, 0.0).unwrap();
        g.check(2, 1e30).unwrap();
        // Restarting takes the next loss as the reference.
        let mut g = Divergence::new(1.0);
        g.check(1, 1.0).unwrap();
        g.restart(0.1);
        g.check(2, 50.0).unwrap();
        assert!(g.check(3, 501.0).is_err());
    }

    /// Steps numbered from `first`.
    fn numbered(first: u64, losses: &[f64]) -> Vec<(u64, f64)> {
        losses.iter().enumerate().map(|(i, &l)| (first + i as u64, l)).collect()
    }

    #[test]
    fn the_mean_of_the_last_steps_is_bounded_and_its_first_offending_step_named() {
        // dae_dropout's and dae_gaussian's first steps (seed 1): one step at 21× the first,
        // the window's mean never near 10×, however the steps are grouped into reports.
        let dropout = [0.306, 2.249, 0.675, 0.461, 0.317, 0.581, 6.613, 0.464, 0.5, 0.4];
        let gaussian = [0.239, 2.745, 0.859, 0.462, 0.417, 0.648, 4.259, 0.472, 0.4, 0.4];
        for early in [dropout, gaussian] {
            let mut g = Divergence::new(0.01);
            assert_eq!(g.check_steps(&numbered(1, &early)), Ok(()));
            let mut g = Divergence::new(0.01);
            for (step, loss) in numbered(1, &early) {
                assert_eq!(g.check_steps(&[(step, loss)]), Ok(()), "one step at a time");
            }
            assert_eq!(g.first(), Some((1, early[0])));
        }
        assert!(Divergence::new(1.0).check_steps(&[]).is_ok());
        // dae_vincent at learning rate 10: the second step is 600× the first; found once the
        // window holds 32 steps, named at step 2.
        let mut g = Divergence::new(10.0);
        let mut blowup = vec![543.1, 3.3e5];
        g.check_steps(&numbered(1, &blowup)).unwrap();
        blowup.extend([1e9; 30]);
        let d = g.check_steps(&numbered(3, &blowup[2..])).unwrap_err();
        assert_eq!((d.step, d.loss), (2, 3.3e5));
        // The window moves: a late blow-up is named at its first step above the bound.
        let mut g = Divergence::new(0.5);
        g.check_steps(&numbered(1, &[2.0; 100])).unwrap();
        let d = g.check_steps(&numbered(101, &[1.0, 19.0, 25.0, 400.0, 500.0, 600.0])).unwrap_err();
        assert_eq!(d.step, 103, "the first step above 20");
        assert_eq!(d.suggested_lr(), 0.05);
        // A non-finite step anywhere is named at once, even in a window whose mean passes.
        let mut g = Divergence::new(0.5);
        let d = g.check_steps(&[(1, 2.0), (2, 1.0), (3, f64::INFINITY), (4, f64::NAN)]).unwrap_err();
        assert_eq!(d.step, 3);
        // Restarting forgets the window and the reference.
        let mut g = Divergence::new(0.5);
        g.check_steps(&numbered(1, &[2.0; 10])).unwrap();
        g.restart(0.05);
        g.check_steps(&numbered(11, &[100.0; 10])).unwrap();
        assert_eq!(g.first(), Some((11, 100.0)));
    }

    #[test]
    fn the_kept_state_is_the_last_whose_next_step_passed() {
        let mut good = LastGood::new();
        good.passed(0, Some("init"));
        // Diverging at step 1: the initial state itself gave the bad loss.
        assert_eq!(good.clone().kept(1), None);
        assert_eq!(good.clone().kept(2), Some((0, "init")));
        good.passed(32, Some("s32"));
        // Step 33 diverged: the state after step 32 produced it; the one before is kept.
        assert_eq!(good.clone().kept(33), Some((0, "init")));
        assert_eq!(good.clone().kept(40), Some((32, "s32")));
        // Losses up to 64 passed, no new snapshot: the state after 32 is confirmed.
        good.passed(64, None);
        assert_eq!(good.clone().kept(65), Some((32, "s32")));
        good.passed(96, Some("s96"));
        assert_eq!(good.clone().kept(97), Some((32, "s32")));
        assert_eq!(good.kept(98), Some((96, "s96")));
    }
}
