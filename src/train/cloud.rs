//! `linear_3d_pca` (Géron, 003): a linear 3→2→3 autoencoder trained with MSE and Adam on
//! the synthetic 3-D cloud of `data::synthetic`, full batch, showing that it finds the
//! plane PCA finds. Written against [`Backend`] like every other preset: the cloud is a
//! float dataset on the device, the trainer is the ordinary one.

use crate::backend::Backend;
use crate::core::config::{Activation, Init, LossKind, ModelConfig, NoiseKind, Optimizer, Reduction};
use crate::core::pca::Pca;
use crate::data::synthetic::{cloud_3d, DIM};
use crate::model::Split;
use crate::train::Trainer;

/// Its id (the catalogue's scene row: `tests/catalogue.rs` checks that they agree).
pub const NAME: &str = "linear_3d_pca";

/// Adam steps the source trains for (full batch: one step = one epoch).
pub const STEPS: u64 = 10_000;

/// The model: affine 3→2→3, MSE over coordinates and points, Adam lr 0.01, the whole cloud
/// as one batch, Glorot uniform (TensorFlow's `fully_connected` default).
pub fn config(points: usize) -> ModelConfig {
    ModelConfig {
        name: NAME.into(),
        dims: vec![DIM, 2, DIM],
        activations: vec![Activation::Identity, Activation::Identity],
        loss: LossKind::Mse,
        noise: NoiseKind::None,
        optimizer: Optimizer::adam(0.01),
        init: Init::GlorotUniform,
        reduction: Reduction::Mean,
        batch: points,
        ..ModelConfig::default()
    }
}

/// A trainer on the cloud (train and test rows are the same points, as in the source), with
/// the cloud itself.
pub fn trainer<B: Backend>(mut be: B, points: usize, seed: u64) -> Result<(Trainer<B>, Vec<f32>), String> {
    if points < 3 {
        return Err(format!("{points} points cannot define a plane: use at least 3"));
    }
    let cloud = cloud_3d(points, seed);
    let data = be.upload_f32(&cloud, DIM);
    let split = Split { data, labels: None };
    let t = Trainer::from_uploaded(be, &config(points), split, points, split, points, seed)?;
    Ok((t, cloud))
}

/// How the trained model compares with PCA on the cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Mean squared reconstruction error per coordinate: the model's and PCA's (2 components).
    pub model_mse: f64,
    pub pca_mse: f64,
    /// Largest angle (degrees) between a decoder direction (a row of the second layer's W)
    /// and PCA's plane: 0 when the model spans the same plane.
    pub max_angle_deg: f64,
}

/// The model's 2-D codes (n × 2) and reconstructions (n × 3) of the points.
fn codes_and_reconstructions(params: &[f32], cloud: &[f32], cfg: &ModelConfig) -> (Vec<f32>, Vec<f32>) {
    use crate::core::{layout::ParamLayout, reference};
    let layout = ParamLayout::new(cfg);
    let n = cloud.len() / DIM;
    let mut acts = reference::forward(cfg, &layout, params, cloud, n);
    let out = acts.pop().expect("the output layer");
    let codes = acts.pop().expect("the code layer");
    (codes, out)
}

/// The model's 2-D codes of the points (n × 2) and its reconstruction error against PCA's.
pub fn compare(params: &[f32], cloud: &[f32], cfg: &ModelConfig) -> Result<(Vec<f32>, Comparison), String> {
    let pca = Pca::fit(cloud, DIM, 2)?;
    let (codes, _, comparison) = compare_with(&pca, params, cloud, cfg);
    Ok((codes, comparison))
}

/// [`compare`] against a PCA already fitted to the cloud (2 components): the model's codes
/// (n × 2), its reconstructions (n × 3) and the comparison.
pub fn compare_with(pca: &Pca, params: &[f32], cloud: &[f32], cfg: &ModelConfig) -> (Vec<f32>, Vec<f32>, Comparison) {
    use crate::core::layout::ParamLayout;
    let layout = ParamLayout::new(cfg);
    let (codes, out) = codes_and_reconstructions(params, cloud, cfg);
    let model_mse = out.iter().zip(cloud).map(|(&a, &b)| ((a - b) as f64).powi(2)).sum::<f64>() / cloud.len() as f64;
    let recon = pca.reconstruct(&pca.project(cloud));
    let pca_mse = recon.iter().zip(cloud).map(|(&a, &b)| ((a - b) as f64).powi(2)).sum::<f64>() / cloud.len() as f64;
    // The plane's normal: the cross product of the two components.
    let (a, b) = (pca.component(0), pca.component(1));
    let normal = [
        (a[1] * b[2] - a[2] * b[1]) as f64,
        (a[2] * b[0] - a[0] * b[2]) as f64,
        (a[0] * b[1] - a[1] * b[0]) as f64,
    ];
    let dec = layout.dense[1];
    let w = &params[dec.w..dec.w + dec.w_len()];
    let max_angle_deg = w
        .chunks(DIM)
        .map(|r| {
            let norm = r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt().max(1e-30);
            let dot: f64 = r.iter().zip(&normal).map(|(&v, &c)| v as f64 * c).sum();
            (dot.abs() / norm).clamp(0.0, 1.0).asin().to_degrees()
        })
        .fold(0.0, f64::max);
    (codes, out, Comparison { model_mse, pca_mse, max_angle_deg })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;

    #[test]
    fn the_linear_autoencoder_finds_the_pca_plane() {
        let (mut t, cloud) = trainer(CpuBackend::new(), 200, 1).unwrap();
        let cfg = t.model.cfg.clone();
        let before = compare(&t.model.params_host(&mut t.be), &cloud, &cfg).unwrap().1;
        for _ in 0..3000 {
            t.step();
        }
        let (codes, after) = compare(&t.model.params_host(&mut t.be), &cloud, &cfg).unwrap();
        assert_eq!(codes.len(), 400);
        assert!(before.model_mse > 2.0 * after.model_mse, "training did not reduce the error: {before:?} → {after:?}");
        assert!(after.model_mse <= after.pca_mse * 1.01, "the model's MSE {} should reach PCA's {}", after.model_mse, after.pca_mse);
        assert!(after.max_angle_deg < 2.0, "the decoder's plane is {}° off PCA's", after.max_angle_deg);
    }

    #[test]
    fn too_few_points_are_refused() {
        let err = trainer(CpuBackend::new(), 2, 1).err().expect("refused");
        assert!(err.contains("at least 3"), "{err}");
    }
}
