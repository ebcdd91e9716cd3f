//! Synthetic data: the 3-D cloud of the `linear_3d_pca` preset, a curved band that lies
//! close to a plane, so a 3→2→3 linear autoencoder (or PCA with 2 components) keeps most
//! of it and its 2-D codes show the band unrolled.
//!
//! As in the original notebook: angles a = U(0,1)·3π/2 − 0.5,
//! x0 = cos a + sin a / 2 + noise·N(0,1)/2, x1 = 0.7·sin a + noise·N(0,1)/2,
//! x2 = 0.1·x0 + 0.3·x1 + noise·N(0,1) with noise = 0.1, then each column standardised
//! (zero mean, unit population standard deviation, as scikit-learn's StandardScaler).

use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64Mcg;

/// Points in the cloud by default (the workloads document's 200).
pub const DEFAULT_POINTS: usize = 200;
/// Noise scale of the cloud.
pub const NOISE: f64 = 0.1;
/// Features per point.
pub const DIM: usize = 3;

/// `m` points (m × 3, row-major), standardised per column; the same for the same seed.
pub fn cloud_3d(m: usize, seed: u64) -> Vec<f32> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    // Drawn in the notebook's order: all angles, then each column's noise in turn.
    let angles: Vec<f64> = (0..m).map(|_| rng.random::<f64>() * 3.0 * std::f64::consts::PI / 2.0 - 0.5).collect();
    let normal = |rng: &mut Pcg64Mcg| -> f64 { rng.sample(StandardNormal) };
    let x0: Vec<f64> = angles.iter().map(|&a| a.cos() + a.sin() / 2.0 + NOISE * normal(&mut rng) / 2.0).collect();
    let x1: Vec<f64> = angles.iter().map(|&a| a.sin() * 0.7 + NOISE * normal(&mut rng) / 2.0).collect();
    let x2: Vec<f64> = x0.iter().zip(&x1).map(|(&a, &b)| a * 0.1 + b * 0.3 + NOISE * normal(&mut rng)).collect();
    let cols = [standardise(x0), standardise(x1), standardise(x2)];
    (0..m).flat_map(|i| cols.iter().map(move |c| c[i] as f32)).collect()
}

/// Zero mean and unit population standard deviation (a constant column is only centred).
fn standardise(mut col: Vec<f64>) -> Vec<f64> {
    if col.is_empty() {
        return col;
    }
    let n = col.len() as f64;
    let mean = col.iter().sum::<f64>() / n;
    let sd = (col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let scale = if sd > 0.0 { 1.0 / sd } else { 1.0 };
    for x in &mut col {
        *x = (*x - mean) * scale;
    }
    col
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_cloud_other_seed_other_cloud() {
        let a = cloud_3d(DEFAULT_POINTS, 42);
        assert_eq!(a.len(), DEFAULT_POINTS * DIM);
        assert_eq!(a, cloud_3d(DEFAULT_POINTS, 42));
        assert_ne!(a, cloud_3d(DEFAULT_POINTS, 43));
        assert!(a.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn columns_are_standardised() {
        let pts = cloud_3d(DEFAULT_POINTS, 7);
        for j in 0..DIM {
            let col: Vec<f64> = pts.chunks(DIM).map(|r| r[j] as f64).collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / col.len() as f64;
            assert!(mean.abs() < 1e-6, "column {j} mean {mean}");
            assert!((var - 1.0).abs() < 1e-5, "column {j} variance {var}");
        }
    }

    #[test]
    fn the_cloud_is_nearly_planar() {
        // x2 is mostly a linear function of x0 and x1: two principal components keep
        // most of the variance, but not all of it (there is noise off the plane).
        let pts = cloud_3d(DEFAULT_POINTS, 3);
        let pca = crate::core::pca::Pca::fit(&pts, DIM, 2).unwrap();
        let kept = pca.variance_kept();
        assert!((0.85..0.999).contains(&kept), "two components keep {kept}");
    }

    #[test]
    fn degenerate_sizes() {
        assert!(cloud_3d(0, 1).is_empty());
        assert_eq!(cloud_3d(1, 1), vec![0.0; 3]);
    }
}

/// A small MNIST-shaped data set for tests of the page's machinery (no files needed):
/// 28×28 digits made of a label-dependent vertical and horizontal stroke with a little
/// deterministic noise, labels cycling 0–9; `train` and `test` images.
pub fn tiny_mnist(train: usize, test: usize) -> crate::data::Mnist {
    use crate::data::mnist::Dataset;
    let set = |items: usize, salt: usize| {
        let mut pixels = vec![0u8; items * 784];
        for (i, img) in pixels.chunks_mut(784).enumerate() {
            let label = i % 10;
            let col = 5 + 2 * label;
            let row = 6 + label;
            for (p, px) in img.iter_mut().enumerate() {
                let (r, c) = (p / 28, p % 28);
                let stroke = (c.abs_diff(col) <= 1 && (4..24).contains(&r)) || (r.abs_diff(row) <= 1 && (6..22).contains(&c) && label % 2 == 1);
                let noise = ((p * 31 + i * 17 + salt) % 23) as u8;
                *px = if stroke { 255 - noise } else { noise / 4 };
            }
        }
        Dataset { items, rows: 28, cols: 28, pixels, labels: (0..items).map(|i| (i % 10) as u8).collect() }
    };
    crate::data::Mnist { train: set(train, 0), test: set(test, 5) }
}
