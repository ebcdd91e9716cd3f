//! Host-side numbers behind the page's pictures: a 2-D projection of codes (PCA by
//! orthogonal iteration, kept between pictures), straight-line interpolation between codes and a grid over a 2-D code plane.

/// Passes over the points for a first projection, and for one that starts from the last.
pub const COLD_PASSES: usize = 40;
pub const WARM_PASSES: usize = 3;

/// Two coordinates per point: the first two columns of 2-D codes, else the projection on
/// the two leading principal components (orthogonal iteration on the centred points, a
/// few dozen passes over 1,000 × width values). A one-off; pictures that are redrawn as a
/// model trains keep a [`Projection`].
pub fn project_2d(points: &[f32], dim: usize) -> Vec<(f32, f32)> {
    Projection::default().project(points, dim)
}

/// The two leading principal directions, kept from one picture to the next: the codes of a
/// training model change little between pictures, so a few passes from the last directions
/// follow them ([`WARM_PASSES`] instead of [`COLD_PASSES`]: a 500-wide code's picture costs
/// a fraction of what it did), and each direction keeps its sign, so the scatter does not
/// flip from one picture to the next.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    basis: Option<[Vec<f64>; 2]>,
}

impl Projection {
    /// Forgets the directions (a new model: the next projection starts cold).
    pub fn forget(&mut self) {
        self.basis = None;
    }

    /// The points (rows of `dim`) on the two directions, which it updates.
    pub fn project(&mut self, points: &[f32], dim: usize) -> Vec<(f32, f32)> {
        let n = points.len() / dim.max(1);
        if dim <= 2 {
            return (0..n).map(|i| (points[i * dim], if dim == 2 { points[i * dim + 1] } else { 0.0 })).collect();
        }
        let mut mean = vec![0.0f64; dim];
        for row in points.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let centred: Vec<f64> = points.chunks_exact(dim).flat_map(|row| row.iter().zip(&mean).map(|(&v, &m)| v as f64 - m)).collect();
        let previous = self.basis.take().filter(|b| b[0].len() == dim);
        let (mut basis, passes) = match &previous {
            Some(b) => (b.clone(), WARM_PASSES),
            // A fixed, deterministic start that is not orthogonal to anything in practice.
            None => ([0, 1].map(|k| (0..dim).map(|i| 1.0 + ((i * 7 + k * 3) % 11) as f64 / 10.0).collect()), COLD_PASSES),
        };
        orthonormalise(&mut basis);
        for _ in 0..passes {
            // One pass: the covariance (up to a factor) times both directions at once.
            let (mut n0, mut n1) = (vec![0.0f64; dim], vec![0.0f64; dim]);
            for row in centred.chunks_exact(dim) {
                let (d0, d1) = row.iter().zip(&basis[0]).zip(&basis[1]).fold((0.0, 0.0), |(a, b), ((&r, &u), &v)| (a + r * u, b + r * v));
                for ((x, y), &r) in n0.iter_mut().zip(n1.iter_mut()).zip(row) {
                    *x += d0 * r;
                    *y += d1 * r;
                }
            }
            let mut next = [n0, n1];
            if !orthonormalise(&mut next) {
                break;
            }
            basis = next;
        }
        if let Some(old) = &previous {
            for (b, o) in basis.iter_mut().zip(old) {
                if b.iter().zip(o).map(|(x, y)| x * y).sum::<f64>() < 0.0 {
                    b.iter_mut().for_each(|x| *x = -*x);
                }
            }
        }
        let out = centred
            .chunks_exact(dim)
            .map(|row| {
                let a: f64 = row.iter().zip(&basis[0]).map(|(x, y)| x * y).sum();
                let b: f64 = row.iter().zip(&basis[1]).map(|(x, y)| x * y).sum();
                (a as f32, b as f32)
            })
            .collect();
        if basis.iter().all(|b| b.iter().all(|x| x.is_finite())) {
            self.basis = Some(basis);
        }
        out
    }
}

/// Gram–Schmidt on two vectors; false if either vanishes (no spread left to follow).
fn orthonormalise(b: &mut [Vec<f64>; 2]) -> bool {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let n0 = norm(&b[0]);
    if n0 < 1e-12 || !n0.is_finite() {
        return false;
    }
    b[0].iter_mut().for_each(|x| *x /= n0);
    let p: f64 = b[1].iter().zip(&b[0]).map(|(x, y)| x * y).sum();
    let [b0, b1] = b;
    b1.iter_mut().zip(b0.iter()).for_each(|(x, &u)| *x -= p * u);
    let n1 = norm(&b[1]);
    if n1 < 1e-12 || !n1.is_finite() {
        return false;
    }
    b[1].iter_mut().for_each(|x| *x /= n1);
    true
}

/// `steps` codes on the straight line from `a` to `b` (inclusive), concatenated.
pub fn interpolate(a: &[f32], b: &[f32], steps: usize) -> Vec<f32> {
    (0..steps)
        .flat_map(|s| {
            let t = s as f32 / (steps - 1).max(1) as f32;
            a.iter().zip(b).map(move |(&x, &y)| x + t * (y - x))
        })
        .collect()
}

/// Codes over a 2-D code plane: a `side` × `side` grid spanning `range` on each axis.
pub fn plane_grid(side: usize, range: ((f32, f32), (f32, f32))) -> Vec<f32> {
    let ((x0, x1), (y0, y1)) = range;
    let at = |i: usize, lo: f32, hi: f32| lo + (hi - lo) * i as f32 / (side - 1).max(1) as f32;
    (0..side).flat_map(|r| (0..side).flat_map(move |c| [at(c, x0, x1), at(side - 1 - r, y0, y1)])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_finds_the_plane_of_planar_points() {
        // Points on a plane in 4-D: the projection keeps their spread in both directions.
        let pts: Vec<f32> = (0..200)
            .flat_map(|i| {
                let (a, b) = ((i % 20) as f32, (i / 20) as f32 * 2.0);
                [a + b, a - b, 0.5 * a, 0.0]
            })
            .collect();
        let p = project_2d(&pts, 4);
        let spread = |f: &dyn Fn(&(f32, f32)) -> f32| {
            let v: Vec<f32> = p.iter().map(f).collect();
            v.iter().cloned().fold(f32::NEG_INFINITY, f32::max) - v.iter().cloned().fold(f32::INFINITY, f32::min)
        };
        assert!(spread(&|q| q.0) > 10.0 && spread(&|q| q.1) > 10.0);
        assert_eq!(project_2d(&[1.0, 2.0, 3.0, 4.0], 2), vec![(1.0, 2.0), (3.0, 4.0)]);
    }

    /// Points with spread 9, 4 and 1 along three directions of 6-D, turned by `angle` in
    /// the plane of the first two coordinates.
    fn ellipsoid(angle: f64) -> Vec<f32> {
        let (c, s) = (angle.cos(), angle.sin());
        (0..300)
            .flat_map(|i| {
                let t = i as f64 * 0.7;
                let (a, b, z) = (9.0 * t.sin(), 4.0 * (1.3 * t).cos(), (2.1 * t).sin());
                [c * a - s * b, s * a + c * b, z, 0.5 * z, 0.0, 0.1].map(|v| v as f32)
            })
            .collect()
    }

    #[test]
    fn a_kept_projection_follows_the_points_without_flipping() {
        let mut p = Projection::default();
        let cold = p.project(&ellipsoid(0.0), 6);
        assert_eq!(p.project(&ellipsoid(0.0), 6).len(), cold.len());
        for (a, b) in p.project(&ellipsoid(0.0), 6).iter().zip(&cold) {
            assert!((a.0 - b.0).abs() < 1e-3 && (a.1 - b.1).abs() < 1e-3, "{a:?} vs {b:?}: the same points give the same picture");
        }
        // The points turn a little between pictures: the warm passes find the new leading
        // direction (as a cold start does), with its sign kept.
        let mut last = cold;
        for step in 1..=10 {
            let pts = ellipsoid(0.03 * step as f64);
            let warm = p.project(&pts, 6);
            let fresh = project_2d(&pts, 6);
            for (w, f) in warm.iter().zip(&fresh) {
                assert!((w.0.abs() - f.0.abs()).abs() < 0.05 && (w.1.abs() - f.1.abs()).abs() < 0.05, "step {step}: {w:?} vs {f:?}");
            }
            let agree: f32 = warm.iter().zip(&last).map(|(a, b)| a.0 * b.0 + a.1 * b.1).sum();
            assert!(agree > 0.0, "step {step}: the picture flipped");
            last = warm;
        }
        p.forget();
        assert!(p.basis.is_none());
    }

    #[test]
    fn interpolation_and_plane_grid_hit_their_ends() {
        let path = interpolate(&[0.0, 1.0], &[2.0, 3.0], 3);
        assert_eq!(path, vec![0.0, 1.0, 1.0, 2.0, 2.0, 3.0]);
        let g = plane_grid(2, ((-1.0, 1.0), (-2.0, 2.0)));
        assert_eq!(g, vec![-1.0, 2.0, 1.0, 2.0, -1.0, -2.0, 1.0, -2.0]);
    }
}
