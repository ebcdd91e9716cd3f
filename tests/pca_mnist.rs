//! PCA on real MNIST: the 50-component optimum that `linear_50` approaches.

mod common;

use aeplay::core::pca::Pca;

#[test]
fn fifty_components_give_the_known_test_loss() {
    let data = common::mnist();
    let pca = Pca::fit_dataset(&data.train, 50).unwrap();
    assert_eq!((pca.dim, pca.k, pca.samples), (784, 50, 60_000));
    let test = pca.half_sse_loss_dataset(&data.test);
    assert!((test - 4.502).abs() < 0.01, "50-component PCA test loss {test}, expected 4.502 ± 0.01");

    // Sorted, orthonormal, and about 82% of the variance kept.
    let ev = &pca.explained_variance;
    assert!(ev.windows(2).all(|w| w[0] >= w[1]), "{ev:?}");
    for a in [0, 1, 49] {
        for b in [0, 1, 49] {
            let d: f64 = pca.component(a).iter().zip(pca.component(b)).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!((d - if a == b { 1.0 } else { 0.0 }).abs() < 1e-4, "C{a}·C{b} = {d}");
        }
    }
    let kept = pca.variance_kept();
    assert!((0.80..0.85).contains(&kept), "variance kept {kept}");

    // The ½-SSE on a few test images equals the per-image sums from project/reconstruct.
    let rows: Vec<f32> = (0..10).flat_map(|i| data.test.image_f32(i)).collect();
    let recon = pca.reconstruct(&pca.project(&rows));
    let direct = recon.iter().zip(&rows).map(|(&z, &x)| ((z - x) as f64).powi(2)).sum::<f64>() / 20.0;
    assert!((pca.half_sse_loss(&rows) - direct).abs() < 1e-9 * direct.max(1.0));
}
