//! `linear_3d_pca` (Géron, 003) as a session: a linear 3→2→3 autoencoder trained with
//! full-batch Adam on 200 points near a plane (`train::cloud`, the ordinary trainer on a
//! float dataset, on the controller's backend). It is a scene to watch, not a race: a slice
//! is a fixed number of steps and training pauses for a frame between slices, so the
//! source's 10,000 steps take a few seconds. Frames carry the points, the model's
//! reconstructions and 2-D codes, PCA's plane and the comparison; the page draws the cloud
//! from any angle (turning it is the page's business).

use crate::backend::{Backend, ReadFuture};
use crate::app::catalogue::Kind;
use crate::core::pca::Pca;
use crate::data::synthetic::{DEFAULT_POINTS, DIM};
use crate::data::Mnist;
use crate::model::OptimState;
use crate::train::cloud::{self, NAME};
use crate::train::Trainer;

use super::super::frame::Frame;
use super::super::history::{Chart, History};
use super::super::pictures::{CloudView, Picture, PictureId};
use super::super::protocol::SessionInfo;
use super::{fence_of, rate, AfterSlice, AnyBackend, Budget, FrameCtx, LocalFuture, Produced, Session};

/// Adam steps per slice: the source's 10,000 full-batch steps in about 3 s at a frame
/// every [`FRAME_MS`].
pub const STEPS_PER_SLICE: usize = 50;
/// Frame pacing while training.
pub const FRAME_MS: f64 = 16.0;

pub struct CloudSession {
    trainer: Trainer<AnyBackend>,
    /// The cloud (the same for the same seed on every backend), PCA's fit of it, and each
    /// point's shade: its place along PCA's first axis, in [0, 1].
    points: Vec<f32>,
    pca: Pca,
    shade: Vec<f32>,
    seed: u64,
    history: History,
    /// Parameters last read back, and their step.
    params: Option<(Vec<f32>, u64)>,
    rate: Option<(f64, u64)>,
}

/// The scene's model, as the page pictures it.
pub fn scene_model() -> crate::core::ModelConfig {
    cloud::config(DEFAULT_POINTS)
}

/// Each point's place along PCA's first axis, scaled to [0, 1].
fn shades(pca: &Pca, points: &[f32]) -> Vec<f32> {
    let first: Vec<f32> = pca.project(points).chunks(2).map(|p| p[0]).collect();
    let (lo, hi) = first.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    first.iter().map(|v| (v - lo) / (hi - lo).max(1e-6)).collect()
}

impl CloudSession {
    pub fn new(seed: u64, be: AnyBackend) -> Result<CloudSession, String> {
        let (trainer, points) = cloud::trainer(be, DEFAULT_POINTS, seed)?;
        let pca = Pca::fit(&points, DIM, 2)?;
        let shade = shades(&pca, &points);
        Ok(CloudSession { trainer, points, pca, shade, seed, history: History::default(), params: None, rate: None })
    }

    /// A fresh model on `be` with `params` (and the optimizer state, if given) at `step`.
    fn rebuild(&mut self, be: AnyBackend, params: &[f32], state: Option<&OptimState>, step: u64) -> Result<(), String> {
        let (mut t, _) = cloud::trainer(be, DEFAULT_POINTS, self.seed)?;
        match state {
            Some(s) => t.model.load_state(&mut t.be, params, s)?,
            None => t.model.load_params(&mut t.be, params)?,
        }
        t.step = step;
        self.trainer = t;
        self.rate = None;
        Ok(())
    }
}

impl Session for CloudSession {
    fn info(&self) -> SessionInfo {
        SessionInfo::new(NAME.into(), Kind::Scene, self.seed, "mean squared error".into(), vec![PictureId::Cloud])
    }

    fn backend(&mut self) -> &mut dyn Backend {
        self.trainer.be.as_mut()
    }

    fn step_count(&self) -> u64 {
        self.trainer.step
    }

    fn slice(&mut self, budget: Budget) -> AfterSlice {
        // A fixed number of steps a slice (one for the page's Step).
        let n = match budget {
            Budget::Steps(n) => n.min(STEPS_PER_SLICE),
            Budget::Until(_) => STEPS_PER_SLICE,
        };
        for _ in 0..n {
            self.trainer.step();
        }
        self.trainer.be.flush();
        AfterSlice::Nothing
    }

    fn pacing_ms(&self) -> Option<f64> {
        Some(FRAME_MS)
    }

    fn history_points(&self) -> usize {
        self.history.len()
    }

    fn fence(&mut self) -> ReadFuture {
        fence_of(&mut self.trainer.be, &self.trainer.model)
    }

    fn frame<'a>(&'a mut self, ctx: FrameCtx<'a>) -> LocalFuture<'a, Result<Produced, String>> {
        Box::pin(async move {
            let t = &mut self.trainer;
            let f = t.be.read_async(t.model.params);
            t.be.flush();
            let step = t.step;
            let params = f.await?;
            let cfg = &self.trainer.model.cfg;
            let (codes, recon, cmp) = cloud::compare_with(&self.pca, &params, &self.points, cfg);
            if self.history.last().is_none_or(|(s, _)| s < step) {
                self.history.push(step, cmp.model_mse);
            }
            let now = super::super::clock::now_ms();
            let mut frame = Frame { step, epoch: step as f64, train_loss: Some(cmp.model_mse), ..Frame::default() };
            if ctx.running {
                frame.samples_per_s = rate(self.rate, now, step, self.points.len());
            }
            if self.rate.is_none_or(|(t0, _)| now - t0 > 500.0) {
                self.rate = Some((now, step));
            }
            frame.show(PictureId::Cloud, Picture::Cloud(CloudView {
                points: self.points.clone(),
                recon,
                codes,
                shade: self.shade.clone(),
                pca_mean: self.pca.mean.clone(),
                pca_axes: [self.pca.component(0).to_vec(), self.pca.component(1).to_vec()],
                model_mse: cmp.model_mse,
                pca_mse: cmp.pca_mse,
                angle_deg: cmp.max_angle_deg,
            }));
            frame.chart = Some(Chart::losses(&self.history, &History::default(), "mean squared error", Some(("PCA".into(), cmp.pca_mse)), None));
            self.params = Some((params, step));
            Ok(Produced::from(frame))
        })
    }

    fn reset(&mut self, be: AnyBackend, _data: &Mnist) -> Result<(), String> {
        *self = CloudSession::new(self.seed, be)?;
        Ok(())
    }

    fn move_to<'a>(&'a mut self, be: AnyBackend, _data: &'a Mnist) -> LocalFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let (params, state) = self.trainer.read_state().await?;
            let step = self.trainer.step;
            self.rebuild(be, &params, Some(&state), step)?;
            Ok(None)
        })
    }

    fn recover(&mut self, be: AnyBackend, _data: &Mnist) -> Result<String, String> {
        match self.params.clone() {
            Some((p, step)) => {
                self.rebuild(be, &p, None, step)?;
                Ok(format!("from its read-back of step {step}"))
            }
            None => {
                *self = CloudSession::new(self.seed, be)?;
                Ok("from the start".into())
            }
        }
    }
}
