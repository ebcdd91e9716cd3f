//! Principal component analysis on the host: the optimum a linear autoencoder with the
//! ½·Σ(z−x)² loss approaches (`linear_50`), and the 2-D codes of `linear_3d_pca`.
//!
//! The covariance Xᵀ·X of the centred data is built in chunks of rows with `sgemm` (each
//! chunk's f32 product is added into an f64 accumulator, so memory stays bounded and the
//! rounding error does not grow with the number of rows); the d×d eigen-decomposition is
//! nalgebra's `SymmetricEigen` in f64. No threads of its own: it runs unchanged in wasm.
//! The fit and loss over a u8 MNIST `Dataset` (`Pca::fit_dataset`) live with the dataset,
//! in `data::mnist`.

use nalgebra::{DMatrix, SymmetricEigen};

/// Rows per `sgemm` chunk of the covariance (and of the loss): bounded memory
/// (CHUNK × d f32) whatever the number of rows.
const CHUNK: usize = 1024;

/// A fitted PCA: `components` are `k` orthonormal rows of length `dim`, sorted by
/// decreasing explained variance, each with its largest-magnitude entry positive.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    pub dim: usize,
    pub k: usize,
    /// Rows the fit saw.
    pub samples: usize,
    /// Per-feature mean of the fitted rows (length `dim`).
    pub mean: Vec<f32>,
    /// k × dim, row-major.
    pub components: Vec<f32>,
    /// Variance (n−1 denominator, as scikit-learn) along each component (length `k`).
    pub explained_variance: Vec<f64>,
    /// Sum of the variances of all `dim` features (the trace of the covariance).
    pub total_variance: f64,
}

impl Pca {
    /// Fits `k` components to `rows` (n × `dim`, row-major f32).
    pub fn fit(rows: &[f32], dim: usize, k: usize) -> Result<Pca, String> {
        if dim == 0 || rows.len() % dim != 0 {
            return Err(format!("{} values are not whole rows of {dim}", rows.len()));
        }
        let n = rows.len() / dim;
        Self::fit_with(n, dim, k, |i, out| out.copy_from_slice(&rows[i * dim..(i + 1) * dim]))
    }

    /// Fits on `n` rows of `dim` values produced by `row(i, out)`.
    pub fn fit_with(n: usize, dim: usize, k: usize, row: impl Fn(usize, &mut [f32])) -> Result<Pca, String> {
        let mut fit = PcaFit::new(n, dim, k)?;
        while !fit.advance(&row, usize::MAX) {}
        fit.finish()
    }

    /// Fraction of the total variance along each component.
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        self.explained_variance.iter().map(|&v| if self.total_variance > 0.0 { v / self.total_variance } else { 0.0 }).collect()
    }

    /// Fraction of the total variance the `k` components keep.
    pub fn variance_kept(&self) -> f64 {
        self.explained_variance_ratio().iter().sum()
    }

    /// Component `c` (length `dim`).
    pub fn component(&self, c: usize) -> &[f32] {
        &self.components[c * self.dim..(c + 1) * self.dim]
    }

    /// Codes (n × k) of `rows` (n × dim): (x − mean)·Cᵀ.
    pub fn project(&self, rows: &[f32]) -> Vec<f32> {
        assert_eq!(rows.len() % self.dim, 0, "{} values are not whole rows of {}", rows.len(), self.dim);
        let n = rows.len() / self.dim;
        let centred: Vec<f32> = rows.chunks_exact(self.dim).flat_map(|r| r.iter().zip(&self.mean).map(|(&x, &m)| x - m)).collect();
        let mut codes = vec![0f32; n * self.k];
        self.project_centred(&centred, n, &mut codes);
        codes
    }

    /// Rows (n × dim) from codes (n × k): codes·C + mean.
    pub fn reconstruct(&self, codes: &[f32]) -> Vec<f32> {
        assert_eq!(codes.len() % self.k, 0, "{} values are not whole codes of {}", codes.len(), self.k);
        let n = codes.len() / self.k;
        let mut out = vec![0f32; n * self.dim];
        for r in out.chunks_exact_mut(self.dim) {
            r.copy_from_slice(&self.mean);
        }
        // SAFETY: codes is n×k, components k×dim, out n×dim, all row-major.
        unsafe {
            matrixmultiply::sgemm(
                n, self.k, self.dim, 1.0,
                codes.as_ptr(), self.k as isize, 1,
                self.components.as_ptr(), self.dim as isize, 1,
                1.0, out.as_mut_ptr(), self.dim as isize, 1,
            );
        }
        out
    }

    /// Mean over `rows` of ½·Σ(reconstruction − x)², the loss of the linear presets.
    pub fn half_sse_loss(&self, rows: &[f32]) -> f64 {
        assert_eq!(rows.len() % self.dim, 0, "{} values are not whole rows of {}", rows.len(), self.dim);
        let n = rows.len() / self.dim;
        let d = self.dim;
        self.half_sse_loss_with(n, |i, out| out.copy_from_slice(&rows[i * d..(i + 1) * d]))
    }

    /// [`Pca::half_sse_loss`] over `n` rows of `dim` values produced by `row(i, out)`, a
    /// `CHUNK` of rows at a time.
    pub fn half_sse_loss_with(&self, n: usize, row: impl Fn(usize, &mut [f32])) -> f64 {
        if n == 0 {
            return f64::NAN;
        }
        let (d, k) = (self.dim, self.k);
        let mut x = vec![0f32; CHUNK.min(n) * d];
        let mut centred = vec![0f32; CHUNK.min(n) * d];
        let mut codes = vec![0f32; CHUNK.min(n) * k];
        let mut total = 0f64;
        let mut start = 0;
        while start < n {
            let rows_here = CHUNK.min(n - start);
            for r in 0..rows_here {
                row(start + r, &mut x[r * d..(r + 1) * d]);
                for j in 0..d {
                    centred[r * d + j] = x[r * d + j] - self.mean[j];
                }
            }
            self.project_centred(&centred[..rows_here * d], rows_here, &mut codes[..rows_here * k]);
            let recon = self.reconstruct(&codes[..rows_here * k]);
            total += recon.iter().zip(&x[..rows_here * d]).map(|(&z, &x)| ((z - x) as f64).powi(2)).sum::<f64>();
            start += rows_here;
        }
        0.5 * total / n as f64
    }

    fn project_centred(&self, centred: &[f32], n: usize, codes: &mut [f32]) {
        // SAFETY: centred is n×dim, components k×dim (read as dim×k), codes n×k.
        unsafe {
            matrixmultiply::sgemm(
                n, self.dim, self.k, 1.0,
                centred.as_ptr(), self.dim as isize, 1,
                self.components.as_ptr(), 1, self.dim as isize,
                0.0, codes.as_mut_ptr(), self.k as isize, 1,
            );
        }
    }
}

/// A PCA fit done a piece at a time, for callers that must not stop for long (the page
/// fits `linear_50`'s PCA between frames): `advance` goes through at most a given number
/// of rows (first a pass for the mean, then one for the covariance, a `CHUNK` of rows per
/// `sgemm`), `finish` decomposes the covariance. The same arithmetic in the same order as a
/// one-shot fit, however the rows are split, so the result is identical.
pub struct PcaFit {
    n: usize,
    /// Rows per covariance product (`CHUNK` unless set by [`PcaFit::with_chunk`]).
    chunk_rows: usize,
    dim: usize,
    k: usize,
    /// Rows done in the current pass; the mean pass ends with `mean` set.
    pos: usize,
    sum: Vec<f64>,
    mean: Option<Vec<f32>>,
    cov: Vec<f64>,
    chunk: Vec<f32>,
    prod: Vec<f32>,
}

impl PcaFit {
    /// A fit of `k` components to `n` rows of `dim` values; checks the sizes.
    pub fn new(n: usize, dim: usize, k: usize) -> Result<PcaFit, String> {
        Self::with_chunk(n, dim, k, CHUNK)
    }

    /// [`PcaFit::new`] with `chunk_rows` rows per covariance product: smaller pieces of
    /// work (the page uses fewer rows so a piece fits between frames). The sums are grouped
    /// by chunk, so another chunk size rounds differently (by about 1e-7 of each entry).
    pub fn with_chunk(n: usize, dim: usize, k: usize, chunk_rows: usize) -> Result<PcaFit, String> {
        if dim == 0 {
            return Err("PCA needs at least one feature".into());
        }
        if k == 0 || k > dim {
            return Err(format!("--components must be between 1 and {dim} (the data's dimension), not {k}"));
        }
        if n < 2 {
            return Err(format!("PCA needs at least 2 rows, got {n}"));
        }
        Ok(PcaFit { n, chunk_rows: chunk_rows.max(1), dim, k, pos: 0, sum: vec![0f64; dim], mean: None, cov: Vec::new(), chunk: Vec::new(), prod: Vec::new() })
    }

    /// Fraction of the work done (both passes over the rows), in [0, 1].
    pub fn progress(&self) -> f64 {
        let done = if self.mean.is_some() { self.n + self.pos } else { self.pos };
        done as f64 / (2 * self.n) as f64
    }

    /// Goes through up to `max_rows` more rows (rounded up to whole chunks in the
    /// covariance pass) produced by `row(i, out)`; true once both passes are done.
    pub fn advance(&mut self, row: impl Fn(usize, &mut [f32]), max_rows: usize) -> bool {
        let (n, dim) = (self.n, self.dim);
        let mut budget = max_rows.max(1);
        if self.mean.is_none() {
            // Mean, accumulated in f64.
            let mut buf = vec![0f32; dim];
            let end = n.min(self.pos.saturating_add(budget));
            for i in self.pos..end {
                row(i, &mut buf);
                for (s, &v) in self.sum.iter_mut().zip(&buf) {
                    *s += v as f64;
                }
            }
            budget -= end - self.pos;
            self.pos = end;
            if self.pos < n {
                return false;
            }
            self.mean = Some(self.sum.iter().map(|&s| (s / n as f64) as f32).collect());
            self.pos = 0;
            self.cov = vec![0f64; dim * dim];
            self.chunk = vec![0f32; self.chunk_rows.min(n) * dim];
            self.prod = vec![0f32; dim * dim];
            if budget == 0 {
                return false;
            }
        }
        let mean = self.mean.as_ref().expect("set by the mean pass");
        // Xᵀ·X of the centred rows, a chunk at a time (always whole chunks, so the sums are
        // the same however the work is split).
        let mut done = 0;
        while self.pos < n && done < budget {
            let rows_here = self.chunk_rows.min(n - self.pos);
            for r in 0..rows_here {
                let out = &mut self.chunk[r * dim..(r + 1) * dim];
                row(self.pos + r, out);
                for (v, &m) in out.iter_mut().zip(mean) {
                    *v -= m;
                }
            }
            // prod (dim×dim) = chunkᵀ (dim×rows) · chunk (rows×dim).
            // SAFETY: chunk holds rows_here×dim values and prod dim×dim, with these strides.
            unsafe {
                matrixmultiply::sgemm(
                    dim, rows_here, dim, 1.0,
                    self.chunk.as_ptr(), 1, dim as isize,
                    self.chunk.as_ptr(), dim as isize, 1,
                    0.0, self.prod.as_mut_ptr(), dim as isize, 1,
                );
            }
            for (c, &p) in self.cov.iter_mut().zip(&self.prod) {
                *c += p as f64;
            }
            self.pos += rows_here;
            done += rows_here;
        }
        self.pos == n
    }

    /// Decomposes the covariance into the fit (call once `advance` returned true): the full
    /// eigen-decomposition, at once.
    pub fn finish(self) -> Result<Pca, String> {
        let (n, k) = (self.n, self.k);
        let (m, mean) = self.covariance()?;
        let total_variance = m.trace();
        let eig = SymmetricEigen::new(m);
        let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]).then(a.cmp(&b)));
        let pairs = order[..k].iter().map(|&c| (eig.eigenvalues[c], eig.eigenvectors.column(c).iter().copied().collect()));
        Ok(assemble(n, mean, pairs.collect(), total_variance))
    }

    /// The covariance matrix (n − 1 denominator) and the mean, once both passes are done.
    fn covariance(self) -> Result<(DMatrix<f64>, Vec<f32>), String> {
        let (n, dim) = (self.n, self.dim);
        if self.mean.is_none() || self.pos < n {
            return Err(format!("the PCA fit has seen {:.0}% of its rows: advance it to the end first", 100.0 * self.progress()));
        }
        let mean = self.mean.expect("checked");
        let cov = self.cov;
        let denom = (n - 1) as f64;
        // Symmetrise (the two halves come from the same products, but make it exact).
        let m = DMatrix::from_fn(dim, dim, |i, j| 0.5 * (cov[i * dim + j] + cov[j * dim + i]) / denom);
        Ok((m, mean))
    }

    /// Starts a decomposition that finds only the `k` leading components, a piece at a time
    /// (see [`TopComponents`]), for callers that must not stop for the whole one.
    pub fn finish_in_pieces(self) -> Result<TopComponents, String> {
        let (n, dim, k) = (self.n, self.dim, self.k);
        let (c, mean) = self.covariance()?;
        // A few more vectors than wanted: the k-th converges at the rate λ(p+1)/λ(k).
        let p = (k + k.max(20)).min(dim);
        // A fixed pseudo-random start, orthonormalised.
        let start = DMatrix::from_fn(dim, p, |i, j| crate::core::rng::uniform(0x9ca, j as u32, i as u32) as f64 - 0.5);
        let q = start.qr().q();
        let total_variance = c.trace();
        Ok(TopComponents { n, k, c, q, mean, total_variance, iterations: 0, residual: f64::INFINITY, result: None })
    }
}

/// The `k` leading eigenvectors of a covariance matrix by subspace iteration with
/// Rayleigh–Ritz (Saad, *Numerical Methods for Large Eigenvalue Problems*, ch. 5): each
/// `advance` multiplies the covariance by a block of p > k orthonormal vectors, takes the
/// Ritz pairs of that subspace, and stops once every wanted pair's residual ‖Cv − λv‖ is
/// below `TOLERANCE`·λ₁. Each iteration costs about 2·d²·p flops, a small piece of work;
/// the whole decomposition of [`PcaFit::finish`] costs several d³ at once.
pub struct TopComponents {
    n: usize,
    k: usize,
    c: DMatrix<f64>,
    /// The current orthonormal basis (d × p).
    q: DMatrix<f64>,
    mean: Vec<f32>,
    total_variance: f64,
    iterations: usize,
    /// Largest relative residual of the wanted Ritz pairs at the last iteration.
    residual: f64,
    result: Option<Vec<(f64, Vec<f64>)>>,
}

/// Relative residual at which the Ritz pairs are accepted (λ and v to about 1e-10 of λ₁).
pub const TOLERANCE: f64 = 1e-10;
/// Iterations after which the pairs are taken as they are.
pub const MAX_ITERATIONS: usize = 1000;

impl TopComponents {
    /// Runs up to `iterations` more iterations; true once the wanted pairs have converged
    /// (or `MAX_ITERATIONS` were run).
    pub fn advance(&mut self, iterations: usize) -> bool {
        for _ in 0..iterations {
            if self.result.is_some() {
                break;
            }
            let z = &self.c * &self.q;
            let h = self.q.transpose() * &z;
            let h = (&h + h.transpose()) * 0.5;
            let eig = SymmetricEigen::new(h);
            let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
            order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]).then(a.cmp(&b)));
            let v = DMatrix::from_fn(self.q.ncols(), order.len(), |i, j| eig.eigenvectors[(i, order[j])]);
            let lambda: Vec<f64> = order.iter().map(|&j| eig.eigenvalues[j]).collect();
            // Ritz vectors and their images under C (C·(QV) = (CQ)·V).
            let x = &self.q * &v;
            let cx = &z * &v;
            let scale = lambda[0].abs().max(f64::MIN_POSITIVE);
            self.residual = (0..self.k)
                .map(|j| (cx.column(j) - x.column(j) * lambda[j]).norm() / scale)
                .fold(0.0, f64::max);
            self.iterations += 1;
            if self.residual <= TOLERANCE || self.iterations >= MAX_ITERATIONS {
                self.result = Some((0..self.k).map(|j| (lambda[j], x.column(j).iter().copied().collect())).collect());
                break;
            }
            // The next basis: the images, in the Ritz order, orthonormalised.
            self.q = cx.qr().q();
        }
        self.result.is_some()
    }

    /// Iterations run, and the largest relative residual of the last one.
    pub fn status(&self) -> (usize, f64) {
        (self.iterations, self.residual)
    }

    /// The fit (call once `advance` returned true).
    pub fn finish(self) -> Result<Pca, String> {
        let Some(pairs) = self.result else {
            return Err(format!("the PCA decomposition has run {} iterations and not converged yet: advance it first", self.iterations));
        };
        Ok(assemble(self.n, self.mean, pairs, self.total_variance))
    }
}

/// A fit from its eigenpairs (largest first): components signed so that each one's
/// largest-magnitude entry (the first such) is positive.
fn assemble(n: usize, mean: Vec<f32>, pairs: Vec<(f64, Vec<f64>)>, total_variance: f64) -> Pca {
    let dim = mean.len();
    let k = pairs.len();
    let mut components = Vec::with_capacity(k * dim);
    let mut explained_variance = Vec::with_capacity(k);
    for (value, v) in pairs {
        let mut pivot = 0;
        for i in 1..dim {
            if v[i].abs() > v[pivot].abs() {
                pivot = i;
            }
        }
        let sign = if v[pivot] < 0.0 { -1.0 } else { 1.0 };
        components.extend(v.iter().map(|&x| (sign * x) as f32));
        explained_variance.push(value.max(0.0));
    }
    Pca { dim, k, samples: n, mean, components, explained_variance, total_variance }
}

/// Pixels of a u8 image as values in [0, 1] (how every model sees MNIST).
pub fn fill_pixels(src: &[u8], out: &mut [f32]) {
    for (o, &p) in out.iter_mut().zip(src) {
        *o = p as f32 / 255.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// n points in the plane spanned by two orthogonal 5-D directions, offset from 0.
    fn plane_data(n: usize) -> (Vec<f32>, [f32; 5], [f32; 5]) {
        let u = [0.6f32, 0.8, 0.0, 0.0, 0.0];
        let v = [0.0f32, 0.0, 0.0, -0.8, 0.6];
        let offset = [1.0f32, -2.0, 3.0, 0.5, 0.25];
        let mut rows = Vec::new();
        for i in 0..n {
            // An ellipse over whole turns: spread 3 along u, 1 along v, uncorrelated.
            let t = std::f32::consts::TAU * i as f32 / n as f32;
            let a = 3.0 * t.cos();
            let b = t.sin();
            for j in 0..5 {
                rows.push(offset[j] + a * u[j] + b * v[j]);
            }
        }
        (rows, u, v)
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    #[test]
    fn a_plane_in_5d_is_recovered_exactly_by_two_components() {
        let (rows, u, v) = plane_data(200);
        let pca = Pca::fit(&rows, 5, 3).unwrap();
        assert_eq!((pca.dim, pca.k, pca.samples), (5, 3, 200));
        // Orthonormal rows.
        for a in 0..3 {
            for b in 0..3 {
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot(pca.component(a), pca.component(b)) - want).abs() < 1e-5, "C{a}·C{b}");
            }
        }
        // Sorted; the third direction holds no variance; two components keep all of it.
        let ev = &pca.explained_variance;
        assert!(ev[0] >= ev[1] && ev[1] >= ev[2], "{ev:?}");
        assert!(ev[2] < 1e-6 * ev[0], "{ev:?}");
        let ratio = pca.explained_variance_ratio();
        assert!((ratio[0] + ratio[1] - 1.0).abs() < 1e-6, "{ratio:?}");
        // The first two components span the plane: |C0·u| ≈ 1 (u has the larger spread).
        assert!((dot(pca.component(0), &u).abs() - 1.0).abs() < 1e-4);
        assert!((dot(pca.component(1), &v).abs() - 1.0).abs() < 1e-4);

        let two = Pca::fit(&rows, 5, 2).unwrap();
        assert_eq!(&two.components[..], &pca.components[..10], "k does not change the leading components");
        assert!(two.half_sse_loss(&rows) < 1e-9, "loss {}", two.half_sse_loss(&rows));
        let back = two.reconstruct(&two.project(&rows));
        let worst = back.iter().zip(&rows).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "reconstruction off by {worst}");
    }

    #[test]
    fn mean_and_variances_match_a_direct_computation() {
        let (rows, ..) = plane_data(50);
        let pca = Pca::fit(&rows, 5, 5).unwrap();
        for j in 0..5 {
            let col: Vec<f64> = rows.chunks(5).map(|r| r[j] as f64).collect();
            let m = col.iter().sum::<f64>() / 50.0;
            assert!((pca.mean[j] as f64 - m).abs() < 1e-5);
        }
        let total: f64 = (0..5)
            .map(|j| {
                let col: Vec<f64> = rows.chunks(5).map(|r| r[j] as f64 - pca.mean[j] as f64).collect();
                col.iter().map(|x| x * x).sum::<f64>() / 49.0
            })
            .sum();
        assert!((pca.total_variance - total).abs() < 1e-4 * total);
        assert!((pca.explained_variance.iter().sum::<f64>() - total).abs() < 1e-4 * total);
        // With every component, reconstruction is exact.
        assert!(pca.half_sse_loss(&rows) < 1e-9);
    }

    #[test]
    fn loss_is_half_the_discarded_variance() {
        // Full-rank data: ½·mean‖x − x̂‖² = ½·(n−1)/n·Σ discarded eigenvalues on the fitted rows.
        let rows: Vec<f32> = (0..400).map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * (1.0 + (i % 4) as f32)).collect();
        let all = Pca::fit(&rows, 4, 4).unwrap();
        let one = Pca::fit(&rows, 4, 1).unwrap();
        let discarded: f64 = all.explained_variance[1..].iter().sum();
        let want = 0.5 * discarded * 99.0 / 100.0;
        let got = one.half_sse_loss(&rows);
        assert!((got - want).abs() < 1e-5 * want, "{got} vs {want}");
    }

    #[test]
    fn round_trip_in_the_component_space() {
        let (rows, ..) = plane_data(64);
        let pca = Pca::fit(&rows, 5, 2).unwrap();
        let codes: Vec<f32> = (0..20).map(|i| i as f32 * 0.37 - 3.0).collect();
        let again = pca.project(&pca.reconstruct(&codes));
        for (a, b) in again.iter().zip(&codes) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn sign_convention_is_deterministic() {
        let (rows, ..) = plane_data(100);
        let pca = Pca::fit(&rows, 5, 2).unwrap();
        for c in 0..2 {
            let comp = pca.component(c);
            let big = comp.iter().cloned().fold(0.0f32, |m, x| if x.abs() > m.abs() { x } else { m });
            assert!(big > 0.0, "component {c}: {comp:?}");
        }
        // The known directions, with the signs the convention picks: u = (0.6, 0.8, 0, 0, 0)
        // as is, v = (0, 0, 0, −0.8, 0.6) flipped.
        let want = [[0.6f32, 0.8, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.8, -0.6]];
        for (c, w) in want.iter().enumerate() {
            for (a, b) in pca.component(c).iter().zip(w) {
                assert!((a - b).abs() < 1e-4, "component {c}: {:?}", pca.component(c));
            }
        }
        assert_eq!(Pca::fit(&rows, 5, 2).unwrap(), pca, "the fit is not deterministic");
    }

    #[test]
    fn chunking_does_not_change_the_fit() {
        // More rows than one chunk.
        let rows: Vec<f32> = (0..3 * CHUNK + 17).flat_map(|i| {
            let t = i as f32 * 0.001;
            [t.sin(), (2.0 * t).cos(), t.sin() * 0.5 + 0.1 * (7.0 * t).cos()]
        }).collect();
        let pca = Pca::fit(&rows, 3, 3).unwrap();
        let n = rows.len() / 3;
        let mut cov = [[0f64; 3]; 3];
        for r in rows.chunks(3) {
            for a in 0..3 {
                for b in 0..3 {
                    cov[a][b] += (r[a] - pca.mean[a]) as f64 * (r[b] - pca.mean[b]) as f64 / (n - 1) as f64;
                }
            }
        }
        // C·cov·Cᵀ is diagonal with the explained variances.
        for a in 0..3 {
            for b in 0..3 {
                let (ca, cb) = (pca.component(a), pca.component(b));
                let q: f64 = (0..3).flat_map(|i| (0..3).map(move |j| (i, j))).map(|(i, j)| ca[i] as f64 * cov[i][j] * cb[j] as f64).sum();
                let want = if a == b { pca.explained_variance[a] } else { 0.0 };
                assert!((q - want).abs() < 1e-5, "({a},{b}): {q} vs {want}");
            }
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let rows = vec![0f32; 12];
        assert!(Pca::fit(&rows, 5, 2).unwrap_err().contains("whole rows"));
        assert!(Pca::fit(&rows, 4, 0).unwrap_err().contains("between 1 and 4"));
        assert!(Pca::fit(&rows, 4, 5).unwrap_err().contains("between 1 and 4"));
        assert!(Pca::fit(&rows[..4], 4, 1).unwrap_err().contains("at least 2 rows"));
    }

    #[test]
    fn a_fit_in_pieces_is_the_one_shot_fit() {
        // More rows than a CHUNK so the covariance pass takes several products.
        let n = CHUNK * 2 + 37;
        let rows: Vec<f32> = (0..n * 6).map(|i| ((i * 7919 % 1013) as f32 / 1013.0).sin()).collect();
        let want = Pca::fit(&rows, 6, 3).unwrap();
        let row = |i: usize, out: &mut [f32]| out.copy_from_slice(&rows[i * 6..(i + 1) * 6]);
        for budget in [1, 5, 1000, CHUNK, CHUNK + 1, usize::MAX] {
            let mut fit = PcaFit::new(n, 6, 3).unwrap();
            let mut calls = 0;
            let mut last = 0.0;
            while !fit.advance(row, budget) {
                assert!(fit.progress() >= last && fit.progress() < 1.0, "progress {} after {last}", fit.progress());
                last = fit.progress();
                calls += 1;
            }
            assert_eq!(fit.progress(), 1.0);
            assert!(budget >= n || calls > 0, "a budget of {budget} rows finished {n} rows in one call");
            assert_eq!(fit.finish().unwrap(), want, "budget {budget}");
        }
        let mut early = PcaFit::new(n, 6, 3).unwrap();
        early.advance(row, 10);
        assert!(early.finish().unwrap_err().contains("advance it to the end"));
    }

    #[test]
    fn the_leading_components_in_pieces_match_the_full_decomposition() {
        // 40 features with a slowly decaying spectrum (feature j scaled by 0.97^j, plus a
        // little of its neighbour), 500 rows: full rank, nearby eigenvalues.
        let (n, d, k) = (500, 40, 6);
        let raw: Vec<f32> = (0..n * d).map(|i| crate::core::rng::normal(7, 0, i as u32)).collect();
        let rows: Vec<f32> = (0..n)
            .flat_map(|r| {
                let raw = &raw;
                (0..d).map(move |j| raw[r * d + j] * 0.97f32.powi(j as i32) + 0.3 * raw[r * d + (j + 1) % d])
            })
            .collect();
        let row = |i: usize, out: &mut [f32]| out.copy_from_slice(&rows[i * d..(i + 1) * d]);
        let mut fit = PcaFit::new(n, d, k).unwrap();
        while !fit.advance(row, usize::MAX) {}
        let full = {
            let mut f = PcaFit::new(n, d, k).unwrap();
            while !f.advance(row, usize::MAX) {}
            f.finish().unwrap()
        };
        let early = {
            let mut f = PcaFit::new(n, d, k).unwrap();
            while !f.advance(row, usize::MAX) {}
            f.finish_in_pieces().unwrap().finish()
        };
        assert!(early.unwrap_err().contains("not converged"), "finish before convergence is an error");
        let mut top = fit.finish_in_pieces().unwrap();
        let mut calls = 0;
        while !top.advance(1) {
            calls += 1;
        }
        let (iterations, residual) = top.status();
        assert!(calls >= 2 && iterations == calls + 1 && residual <= TOLERANCE, "{iterations} iterations, residual {residual}");
        let it = top.finish().unwrap();
        assert_eq!((it.k, it.dim, it.samples), (full.k, full.dim, full.samples));
        assert_eq!(it.mean, full.mean);
        assert!((it.total_variance - full.total_variance).abs() <= 1e-12 * full.total_variance);
        for c in 0..k {
            let (a, b) = (it.explained_variance[c], full.explained_variance[c]);
            assert!((a - b).abs() <= 1e-8 * full.explained_variance[0], "variance {c}: {a} vs {b}");
            let dot: f64 = it.component(c).iter().zip(full.component(c)).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!((dot - 1.0).abs() < 1e-5, "component {c} differs from the full decomposition's: dot {dot}");
        }
        assert!((it.half_sse_loss(&rows) - full.half_sse_loss(&rows)).abs() <= 1e-6 * full.half_sse_loss(&rows));
    }
}
