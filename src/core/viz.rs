//! Host-side numbers behind the page's pictures: a 2-D projection of codes (PCA by power
//! iteration), straight-line interpolation between codes and a grid over a 2-D code plane.

/// Two coordinates per point: the first two columns of 2-D codes, else the projection on
/// the two leading principal components (power iteration with deflation on the centred
/// points; a few dozen passes over 1,000 × width values).
pub fn project_2d(points: &[f32], dim: usize) -> Vec<(f32, f32)> {
    let n = points.len() / dim.max(1);
    if dim <= 2 {
        return (0..n).map(|i| (points[i * dim], if dim == 2 { points[i * dim + 1] } else { 0.0 })).collect();
    }
    let mut mean = vec![0.0f64; dim];
    for row in points.chunks(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let centred: Vec<f64> = points.chunks(dim).flat_map(|row| row.iter().zip(&mean).map(|(&v, &m)| v as f64 - m)).collect();
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for k in 0..2 {
        // A fixed, deterministic start that is not orthogonal to anything in practice.
        let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + ((i * 7 + k * 3) % 11) as f64 / 10.0).collect();
        for _ in 0..40 {
            let mut next = vec![0.0f64; dim];
            for row in centred.chunks(dim) {
                let dot: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum();
                for (x, &r) in next.iter_mut().zip(row) {
                    *x += dot * r;
                }
            }
            for c in &comps {
                let p: f64 = next.iter().zip(c).map(|(a, b)| a * b).sum();
                next.iter_mut().zip(c).for_each(|(x, &cv)| *x -= p * cv);
            }
            let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-12 {
                break;
            }
            v = next.iter().map(|x| x / norm).collect();
        }
        comps.push(v);
    }
    centred
        .chunks(dim)
        .map(|row| {
            let a: f64 = row.iter().zip(&comps[0]).map(|(x, y)| x * y).sum();
            let b: f64 = row.iter().zip(&comps[1]).map(|(x, y)| x * y).sum();
            (a as f32, b as f32)
        })
        .collect()
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

    #[test]
    fn interpolation_and_plane_grid_hit_their_ends() {
        let path = interpolate(&[0.0, 1.0], &[2.0, 3.0], 3);
        assert_eq!(path, vec![0.0, 1.0, 1.0, 2.0, 2.0, 3.0]);
        let g = plane_grid(2, ((-1.0, 1.0), (-2.0, 2.0)));
        assert_eq!(g, vec![-1.0, 2.0, 1.0, 2.0, -1.0, -2.0, 1.0, -2.0]);
    }
}
