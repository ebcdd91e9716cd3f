//! The loss chart: training loss (line) and test loss (dots) against steps, drawn on a
//! canvas with labelled axes, legible on a projector.

use super::dom::{canvas, ctx2d};

pub const TRAIN_COLOUR: &str = "#2563eb";
pub const TEST_COLOUR: &str = "#ea580c";

pub const REFERENCE_COLOUR: &str = "#16a34a";

/// Draws both series on the canvas `id`, and a horizontal reference line if given (a
/// value the model approaches, e.g. the PCA optimum of a linear autoencoder) with its
/// label; the y range covers every point and the line.
pub fn draw(id: &str, train: &[(u64, f64)], test: &[(u64, f64)], reference: Option<(f64, &str)>) {
    let Some(c) = canvas(id) else { return };
    let Some(ctx) = ctx2d(&c) else { return };
    let (w, h) = (c.width() as f64, c.height() as f64);
    let (left, right, top, bottom) = (64.0, 12.0, 14.0, 34.0);
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, w, h);
    ctx.set_font("14px system-ui, sans-serif");
    let finite = |s: &[(u64, f64)]| s.iter().filter(|p| p.1.is_finite()).copied().collect::<Vec<_>>();
    let (train, test) = (finite(train), finite(test));
    if train.is_empty() && test.is_empty() {
        ctx.set_fill_style_str("#6b7280");
        let _ = ctx.fill_text("The loss appears here once training starts.", left, h / 2.0);
        return;
    }
    let all = train.iter().chain(&test);
    let max_x = all.clone().map(|p| p.0).max().unwrap_or(1).max(1) as f64;
    let (mut lo, mut hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let reference = reference.filter(|r| r.0.is_finite());
    if let Some((r, _)) = reference {
        lo = lo.min(r);
        hi = hi.max(r);
    }
    if hi - lo < 1e-9 {
        hi += 1.0;
        lo -= 1.0;
    }
    let pad = 0.05 * (hi - lo);
    let (lo, hi) = (lo - pad, hi + pad);
    let px = |x: f64| left + (w - left - right) * x / max_x;
    let py = |y: f64| top + (h - top - bottom) * (1.0 - (y - lo) / (hi - lo));
    // Axes and grid with labels.
    ctx.set_stroke_style_str("#e5e7eb");
    ctx.set_line_width(1.0);
    ctx.set_fill_style_str("#374151");
    for i in 0..=4 {
        let y = lo + (hi - lo) * i as f64 / 4.0;
        ctx.begin_path();
        ctx.move_to(left, py(y));
        ctx.line_to(w - right, py(y));
        ctx.stroke();
        let _ = ctx.fill_text(&format_value(y), 4.0, py(y) + 5.0);
    }
    let _ = ctx.fill_text("0", left - 4.0, h - 10.0);
    let _ = ctx.fill_text(&format!("{} steps", max_x as u64), w - right - 90.0, h - 10.0);
    // Training loss line.
    ctx.set_stroke_style_str(TRAIN_COLOUR);
    ctx.set_line_width(2.5);
    ctx.begin_path();
    for (i, p) in train.iter().enumerate() {
        if i == 0 {
            ctx.move_to(px(p.0 as f64), py(p.1));
        } else {
            ctx.line_to(px(p.0 as f64), py(p.1));
        }
    }
    ctx.stroke();
    if let Some((r, label)) = reference {
        ctx.set_stroke_style_str(REFERENCE_COLOUR);
        ctx.set_line_width(2.0);
        let _ = ctx.set_line_dash(&js_sys::Array::of2(&8.0.into(), &6.0.into()));
        ctx.begin_path();
        ctx.move_to(left, py(r));
        ctx.line_to(w - right, py(r));
        ctx.stroke();
        let _ = ctx.set_line_dash(&js_sys::Array::new());
        ctx.set_fill_style_str(REFERENCE_COLOUR);
        let _ = ctx.fill_text(&format!("{label} {}", format_value(r)), left + 8.0, py(r) - 6.0);
    }
    // Test loss dots.
    ctx.set_fill_style_str(TEST_COLOUR);
    for p in &test {
        ctx.begin_path();
        let _ = ctx.arc(px(p.0 as f64), py(p.1), 4.5, 0.0, std::f64::consts::TAU);
        ctx.fill();
    }
}

/// A short label for an axis value.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}
