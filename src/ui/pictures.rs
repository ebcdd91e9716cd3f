//! The pictures that explain a model: first-layer features, the latent space coloured by
//! label, digits generated from codes, an interpolation between two digits' codes and the
//! sparsity histogram. Pure drawing from host arrays; the engine supplies the numbers.

use super::dom;
pub use crate::core::viz::{interpolate, plane_grid, project_2d};

/// Label colours (Tableau 10), readable on a projector.
pub const COLOURS: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// Units shown in the features grid (10 × 10 tiles).
pub const FEATURE_TILES: usize = 100;

/// First-layer weights as 28×28 tiles, each contrast-normalised on its own: `w` is the
/// layer's W (784 × units, row-major), so unit j's weights are column j.
pub fn draw_features(id: &str, w: &[f32], units: usize) {
    let Some(c) = dom::canvas(id) else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    ctx.set_fill_style_str("#222");
    ctx.fill_rect(0.0, 0.0, c.width() as f64, c.height() as f64);
    let per_row = 10;
    let mut tile = vec![0.0f32; 784];
    for j in 0..units.min(FEATURE_TILES) {
        for (i, t) in tile.iter_mut().enumerate() {
            *t = w[i * units + j];
        }
        let (lo, hi) = tile.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let span = (hi - lo).max(1e-12);
        tile.iter_mut().for_each(|v| *v = (*v - lo) / span);
        dom::put_gray(&ctx, &tile, 28, 28, ((j % per_row) * 28) as f64, ((j / per_row) * 28) as f64);
    }
}

/// Images (rows of 784 values in [0, 1]) as a grid of `cols` columns.
pub fn draw_digits(id: &str, images: &[f32], cols: usize) {
    let Some(c) = dom::canvas(id) else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    for (i, img) in images.chunks(784).enumerate() {
        dom::put_gray(&ctx, img, 28, 28, ((i % cols) * 28) as f64, ((i / cols) * 28) as f64);
    }
}

/// Scatter of 2-D points coloured by label, with a legend of the ten digits.
pub fn draw_scatter(id: &str, pts: &[(f32, f32)], labels: &[u8]) {
    let Some(c) = dom::canvas(id) else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    let (w, h) = (c.width() as f64, c.height() as f64);
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, w, h);
    let finite: Vec<&(f32, f32)> = pts.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    if finite.is_empty() {
        return;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f32::INFINITY, f32::NEG_INFINITY, f32::INFINITY, f32::NEG_INFINITY);
    for p in &finite {
        x0 = x0.min(p.0);
        x1 = x1.max(p.0);
        y0 = y0.min(p.1);
        y1 = y1.max(p.1);
    }
    let (sx, sy) = ((x1 - x0).max(1e-9) as f64, (y1 - y0).max(1e-9) as f64);
    let pad = 12.0;
    let legend = 22.0;
    for (p, &l) in pts.iter().zip(labels) {
        if !(p.0.is_finite() && p.1.is_finite()) {
            continue;
        }
        let x = pad + (p.0 - x0) as f64 / sx * (w - 2.0 * pad);
        let y = h - legend - pad - (p.1 - y0) as f64 / sy * (h - legend - 2.0 * pad);
        ctx.set_fill_style_str(COLOURS[l as usize % 10]);
        ctx.fill_rect(x - 2.0, y - 2.0, 4.0, 4.0);
    }
    ctx.set_font("bold 14px sans-serif");
    for d in 0..10 {
        ctx.set_fill_style_str(COLOURS[d]);
        let _ = ctx.fill_text(&d.to_string(), pad + d as f64 * (w - 2.0 * pad) / 10.0, h - 6.0);
    }
}

/// Histogram of mean unit activations (in [0, 1]) with the target ρ marked.
pub fn draw_histogram(id: &str, values: &[f32], rho: f32) {
    let Some(c) = dom::canvas(id) else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    let (w, h) = (c.width() as f64, c.height() as f64);
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, w, h);
    let bins = 40;
    let mut counts = vec![0usize; bins];
    for &v in values {
        if v.is_finite() {
            counts[((v.clamp(0.0, 1.0) * bins as f32) as usize).min(bins - 1)] += 1;
        }
    }
    let max = *counts.iter().max().unwrap_or(&1) as f64;
    let base = h - 20.0;
    ctx.set_fill_style_str("#4e79a7");
    for (b, &n) in counts.iter().enumerate() {
        let bh = n as f64 / max.max(1.0) * (base - 8.0);
        ctx.fill_rect(b as f64 * w / bins as f64 + 1.0, base - bh, w / bins as f64 - 2.0, bh);
    }
    let x = rho as f64 * w;
    ctx.set_stroke_style_str("#e15759");
    ctx.set_line_width(2.0);
    ctx.begin_path();
    ctx.move_to(x, 0.0);
    ctx.line_to(x, base);
    ctx.stroke();
    ctx.set_fill_style_str("#333");
    ctx.set_font("13px sans-serif");
    let _ = ctx.fill_text(&format!("ρ = {rho}"), (x + 4.0).min(w - 50.0), 14.0);
    let _ = ctx.fill_text("0", 2.0, h - 4.0);
    let _ = ctx.fill_text("mean activation", w / 2.0 - 45.0, h - 4.0);
    let _ = ctx.fill_text("1", w - 10.0, h - 4.0);
}

