//! `aeplay pca`: PCA (the optimum of a linear autoencoder) fitted on the MNIST training
//! images, with the variance kept and the ½·Σ(x̂−x)² losses; or on the synthetic 3-D cloud,
//! with its reconstruction error.

use std::time::Instant;

use aeplay::core::pca::Pca;
use aeplay::data::synthetic::{cloud_3d, DIM};
use serde_json::json;

use crate::cli::{PcaArgs, SyntheticKind};
use crate::common::{emit, load};

pub fn run(a: PcaArgs) -> Result<(), String> {
    match a.synthetic {
        None => {
            let k = a.components.unwrap_or(50);
            let data = load(a.data)?;
            let start = Instant::now();
            let pca = Pca::fit_dataset(&data.train, k)?;
            let fit_secs = start.elapsed().as_secs_f64();
            let test_loss = pca.half_sse_loss_dataset(&data.test);
            let train_loss = pca.half_sse_loss_dataset(&data.train);
            emit(
                a.json,
                json!({
                    "event": "pca", "data": "mnist", "components": k, "train_rows": pca.samples,
                    "variance_kept": pca.variance_kept(), "explained_variance_ratio": pca.explained_variance_ratio(),
                    "train_loss": train_loss, "test_loss": test_loss,
                    "fit_seconds": fit_secs, "seconds": start.elapsed().as_secs_f64(),
                }),
            );
        }
        Some(SyntheticKind::ThreeD) => {
            let (k, points, seed) = (a.components.unwrap_or(2), a.points, a.seed);
            let start = Instant::now();
            let cloud = cloud_3d(points, seed);
            let pca = Pca::fit(&cloud, DIM, k)?;
            let recon = pca.reconstruct(&pca.project(&cloud));
            let mse = recon.iter().zip(&cloud).map(|(&a, &b)| ((a - b) as f64).powi(2)).sum::<f64>() / cloud.len() as f64;
            emit(
                a.json,
                json!({
                    "event": "pca", "data": "3d", "points": points, "seed": seed, "components": k,
                    "variance_kept": pca.variance_kept(), "explained_variance_ratio": pca.explained_variance_ratio(),
                    "reconstruction_mse": mse, "loss": pca.half_sse_loss(&cloud),
                    "seconds": start.elapsed().as_secs_f64(),
                }),
            );
        }
    }
    Ok(())
}
