//! PCA on real MNIST: the 50-component optimum that `linear_50` approaches.

mod common;

use aeplay::core::pca::Pca;

#[test]
fn fifty_components_give_the_known_test_loss() {
    let data = common::official_mnist("fifty_components_give_the_known_test_loss");
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

#[test]
fn the_leading_fifty_in_pieces_give_the_same_loss_as_the_full_decomposition() {
    use aeplay::core::pca::{fill_pixels, PcaFit, TOLERANCE};
    let data = common::mnist();
    let row = |i: usize, out: &mut [f32]| fill_pixels(data.train.image(i), out);
    let fit = |chunk| {
        let mut f = PcaFit::with_chunk(data.train.items, 784, 50, chunk).unwrap();
        while !f.advance(row, usize::MAX) {}
        f
    };
    let t0 = std::time::Instant::now();
    let full = fit(1024).finish().unwrap();
    let t1 = std::time::Instant::now();
    // As the page does it: 256-row products, then the leading 50 by subspace iteration.
    let mut top = fit(256).finish_in_pieces().unwrap();
    let t2 = std::time::Instant::now();
    while !top.advance(1) {}
    let (iterations, residual) = top.status();
    let pieces = top.finish().unwrap();
    eprintln!(
        "full fit {:.2} s; in pieces: covariance {:.2} s, {iterations} iterations in {:.2} s, residual {residual:.1e}",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        t2.elapsed().as_secs_f64()
    );
    assert!(residual <= TOLERANCE, "not converged: residual {residual} after {iterations} iterations");
    let (a, b) = (pieces.half_sse_loss_dataset(&data.test), full.half_sse_loss_dataset(&data.test));
    assert!((a - b).abs() <= 1e-6 * b, "test loss in pieces {a} vs full {b}");
    for c in [0, 1, 25, 49] {
        let dot: f64 = pieces.component(c).iter().zip(full.component(c)).map(|(&x, &y)| x as f64 * y as f64).sum();
        assert!(dot > 0.999, "component {c}: dot with the full decomposition's {dot}");
    }
}
