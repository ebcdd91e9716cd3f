//! Turns a user's drawing into an MNIST-like 28×28 input, the way MNIST itself was made:
//! the ink's bounding box is scaled (anti-aliased, box filter) so its longer side is 20
//! pixels, then placed in a 28×28 field with its centre of mass at the centre.

/// Side of the output image.
pub const SIDE: usize = 28;
/// Longest side of the scaled digit.
pub const BOX: usize = 20;
/// Ink below this level does not count for the bounding box.
const INK: f32 = 0.05;

/// Box-filter weights shrinking `len` samples by `scale` into `out_len` cells: output cell
/// u averages the source interval [u/scale, (u+1)/scale), partial pixels weighted by overlap.
fn overlap_weights(len: usize, out_len: usize, scale: f32) -> Vec<Vec<(usize, f32)>> {
    (0..out_len)
        .map(|u| {
            let (a, b) = (u as f32 / scale, (u + 1) as f32 / scale);
            let (lo, hi) = (a.floor() as usize, (b.ceil() as usize).min(len));
            (lo..hi)
                .filter_map(|i| {
                    let w = (b.min(i as f32 + 1.0) - a.max(i as f32)).max(0.0) * scale;
                    (w > 0.0).then_some((i, w))
                })
                .collect()
        })
        .collect()
}

/// `ink` is a `width × height` grayscale image in [0, 1] (1 = ink). Returns 784 values in
/// [0, 1]; an empty drawing gives all zeros.
pub fn to_mnist(ink: &[f32], width: usize, height: usize) -> Vec<f32> {
    assert_eq!(ink.len(), width * height, "drawing is {} values, expected {width}×{height}", ink.len());
    let mut out = vec![0.0f32; SIDE * SIDE];
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink[y * width + x] > INK {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    if x0 == usize::MAX {
        return out;
    }
    let (bw, bh) = (x1 - x0, y1 - y0);
    let scale = BOX as f32 / bw.max(bh) as f32;
    let cells = |n: usize| ((n as f32 * scale - 1e-3).ceil() as usize).clamp(1, BOX);
    let (tw, th) = (cells(bw), cells(bh));
    // Separable box-filter resample: columns first, then rows.
    let wx = overlap_weights(bw, tw, scale);
    let wy = overlap_weights(bh, th, scale);
    let mut cols = vec![0.0f32; bh * tw];
    for y in 0..bh {
        let row = &ink[(y0 + y) * width + x0..(y0 + y) * width + x1];
        for (u, ws) in wx.iter().enumerate() {
            cols[y * tw + u] = ws.iter().map(|&(i, w)| row[i] * w).sum();
        }
    }
    let mut patch = vec![0.0f32; th * tw];
    for (v, ws) in wy.iter().enumerate() {
        for u in 0..tw {
            patch[v * tw + u] = ws.iter().map(|&(i, w)| cols[i * tw + u] * w).sum::<f32>().min(1.0);
        }
    }
    // Centre of mass of the patch, in pixel-centre coordinates.
    let (mut m, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for v in 0..th {
        for u in 0..tw {
            let p = patch[v * tw + u];
            m += p;
            mx += p * (u as f32 + 0.5);
            my += p * (v as f32 + 0.5);
        }
    }
    let (cx, cy) = if m > 0.0 { (mx / m, my / m) } else { (tw as f32 / 2.0, th as f32 / 2.0) };
    let ox = ((SIDE as f32 / 2.0 - cx).round() as isize).clamp(0, (SIDE - tw) as isize) as usize;
    let oy = ((SIDE as f32 / 2.0 - cy).round() as isize).clamp(0, (SIDE - th) as isize) as usize;
    for v in 0..th {
        for u in 0..tw {
            out[(oy + v) * SIDE + ox + u] = patch[v * tw + u];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use super::*;

    /// A w×h pad with full ink on columns `xs` of rows `ys`.
    fn bar(w: usize, h: usize, xs: Range<usize>, ys: Range<usize>) -> Vec<f32> {
        let mut ink = vec![0.0f32; w * h];
        for y in ys {
            ink[y * w + xs.start..y * w + xs.end].fill(1.0);
        }
        ink
    }

    #[test]
    fn empty_drawing_is_blank() {
        assert!(to_mnist(&[0.0; 100], 10, 10).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_bar_is_scaled_to_20_pixels_and_centred() {
        // A vertical bar 10 px wide, 200 px tall, in the corner of a 280×280 pad.
        let (w, h) = (280, 280);
        let img = to_mnist(&bar(w, h, 5..15, 10..210), w, h);
        let rows: Vec<usize> = (0..SIDE).filter(|&y| (0..SIDE).any(|x| img[y * SIDE + x] > 0.0)).collect();
        let cols: Vec<usize> = (0..SIDE).filter(|&x| (0..SIDE).any(|y| img[y * SIDE + x] > 0.0)).collect();
        assert_eq!(rows.len(), 20, "rows {rows:?}");
        assert_eq!(cols.len(), 1, "cols {cols:?}");
        assert_eq!(rows[0], 4);
        assert!((13..=14).contains(&cols[0]));
        // Mass is preserved by the box filter: 20 px × (10/200·20 = 1 px) of full ink.
        let total: f32 = img.iter().sum();
        assert!((total - 20.0).abs() < 0.5, "total ink {total}");
        assert!(img.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn anti_aliasing_gives_grey_edges() {
        let (w, h) = (100, 100);
        // A 33×100 bar: 20 px tall, 6.6 px wide → 7 columns, the last one 60 % covered.
        let img = to_mnist(&bar(w, h, 0..33, 0..100), w, h);
        assert!(img.iter().any(|&v| v > 0.99));
        assert!(img.iter().any(|&v| v > 0.05 && v < 0.95), "no grey pixel");
    }
}
