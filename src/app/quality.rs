//! Picture-quality measures the page reports beside its pictures (issue 25), so that a
//! lecturer can say "the features went from 0.02 to 0.6":
//!
//! - [`stroke_likeness`]: how far first-layer feature tiles are from their random start,
//!   as the mean correlation of neighbouring pixels within a tile (a random tile's
//!   neighbours are independent, about 0; a stroke detector's are alike, towards 1);
//! - [`fidelity`]: how much reconstructions look like the clean digits, as the correlation
//!   of their pixels (0 for an output that ignores its input, 1 for a perfect copy).
//!
//! Both are computed from the picture's own data, so the page's number is the picture's.

/// The correlation of two equally long series (0 where either is constant).
fn correlation(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
    for (x, y) in pairs.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        n += 1.0;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    if n < 2.0 {
        return 0.0;
    }
    let cov = sxy - sx * sy / n;
    let (vx, vy) = (sxx - sx * sx / n, syy - sy * sy / n);
    if vx <= 1e-12 * n || vy <= 1e-12 * n {
        return 0.0;
    }
    (cov / (vx * vy).sqrt()).clamp(-1.0, 1.0)
}

/// The mean over tiles (`side` × `side` each, row by row) of the correlation between each
/// pixel and its right and lower neighbours: about 0 for random weights, towards 1 for
/// smooth strokes.
pub fn stroke_likeness(tiles: &[f32], side: usize) -> f64 {
    let area = side * side;
    if side < 2 || tiles.len() < area {
        return 0.0;
    }
    let per_tile: Vec<f64> = tiles
        .chunks_exact(area)
        .map(|t| {
            let right = (0..side).flat_map(move |r| (0..side - 1).map(move |c| (r * side + c, r * side + c + 1)));
            let down = (0..side - 1).flat_map(move |r| (0..side).map(move |c| (r * side + c, (r + 1) * side + c)));
            correlation(right.chain(down).map(|(a, b)| (t[a] as f64, t[b] as f64)))
        })
        .collect();
    per_tile.iter().sum::<f64>() / per_tile.len() as f64
}

/// The correlation of reconstructions with the clean digits they were made from.
pub fn fidelity(clean: &[f32], out: &[f32]) -> f64 {
    correlation(clean.iter().zip(out).map(|(&c, &o)| (c as f64, o as f64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tiles_score_near_zero_and_strokes_high() {
        let side = 28;
        let mut state = 12345u64;
        let mut rand = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64) as f32
        };
        let random: Vec<f32> = (0..10 * side * side).map(|_| rand()).collect();
        assert!(stroke_likeness(&random, side).abs() < 0.05, "{}", stroke_likeness(&random, side));
        // A blurred blob and a bar: smooth, so neighbours agree.
        let mut smooth = vec![0f32; 2 * side * side];
        for r in 0..side {
            for c in 0..side {
                let (dr, dc) = (r as f32 - 14.0, c as f32 - 14.0);
                smooth[r * side + c] = (-(dr * dr + dc * dc) / 40.0).exp();
                smooth[side * side + r * side + c] = (-(dc * dc) / 8.0).exp();
            }
        }
        assert!(stroke_likeness(&smooth, side) > 0.9, "{}", stroke_likeness(&smooth, side));
        assert_eq!(stroke_likeness(&[1.0; 784], side), 0.0, "a constant tile says nothing");
    }

    #[test]
    fn a_copy_is_faithful_and_a_constant_output_is_not() {
        let clean: Vec<f32> = (0..784).map(|i| if (i / 28) % 7 < 3 { 1.0 } else { 0.0 }).collect();
        assert!((fidelity(&clean, &clean) - 1.0).abs() < 1e-9);
        assert_eq!(fidelity(&clean, &vec![0.5; 784]), 0.0);
        let noisy: Vec<f32> = clean.iter().enumerate().map(|(i, v)| if i % 5 == 0 { 1.0 - v } else { *v }).collect();
        let f = fidelity(&clean, &noisy);
        assert!(f > 0.3 && f < 0.9, "{f}");
    }
}
