//! Line charts drawn on a canvas with labelled axes, legible on a projector: the page's
//! loss chart (training loss as a line, test loss as dots, an optional reference level such
//! as the PCA optimum) and the recipe panel's charts (labelled series with a legend, a log
//! axis for losses of different scales).

use super::dom::{canvas, ctx2d};

pub const TRAIN_COLOUR: &str = "#2563eb";
pub const TEST_COLOUR: &str = "#ea580c";
/// The dashed level line (a reference the curves approach or a final result).
pub const LEVEL_COLOUR: &str = "#16a34a";

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A thick line (a single point shows as a small dot).
    Line,
    /// Big dots joined by a thin line (a curve measured now and then).
    Dotted,
}

/// One labelled series of a chart: (x, y) points, non-finite y left out.
pub struct Series {
    pub label: String,
    pub colour: &'static str,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
}

/// The axes and what else a chart shows.
#[derive(Clone, Copy, Default)]
pub struct Axes<'a> {
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Shown while no series has a point (default: "The {y_label} appears here once a phase reports.").
    pub empty: Option<&'a str>,
    /// A dashed horizontal line with its label.
    pub level: Option<(&'a str, f64)>,
    /// A log y axis.
    pub log: bool,
    /// A legend of the series above the plot.
    pub legend: bool,
}

/// Colours of series by palette index (`app::history::Series::colour`).
pub const PALETTE: [&str; 11] = [TRAIN_COLOUR, TEST_COLOUR, "#16a34a", "#9333ea", "#0891b2", "#db2777", "#ca8a04", "#4b5563", "#0d9488", "#7c3aed", "#111827"];

/// Draws a chart from its data (`app::history::Chart`): a loss that spans more than a
/// decade on a log axis, a fraction in %.
pub fn draw_chart(id: &str, chart: &crate::app::history::Chart, empty: &str, legend: bool) {
    use crate::app::history::{Measure, Style as S};
    let percent = chart.measure == Measure::Percent;
    let scale = if percent { 100.0 } else { 1.0 };
    let series: Vec<Series> = chart
        .series
        .iter()
        .map(|s| Series {
            label: s.label.clone(),
            colour: PALETTE[s.colour as usize % PALETTE.len()],
            points: s.points.iter().map(|&(x, y)| (x, y * scale)).collect(),
            style: match s.style {
                S::Line => Style::Line,
                S::Points => Style::Dotted,
            },
        })
        .collect();
    let (lo, hi) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(chart.level.iter().map(|l| l.1))
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let log = chart.measure == Measure::Loss && hi > 10.0 * lo;
    let y_label = if percent { format!("{} (%)", chart.y_label) } else { chart.y_label.clone() };
    let level = chart.level.as_ref().map(|(l, v)| (l.as_str(), v * scale));
    draw_lines(id, &Axes { x_label: &chart.x_label, y_label: &y_label, empty: Some(empty), level, log, legend }, &series);
}

/// A line chart of labelled series with labelled axes, legible on a projector: a legend
/// above the plot (unless the page labels the chart itself), a dashed labelled level line,
/// optionally a log y axis. The canvas gets `data-series` (series with points) and
/// `data-labels` (their labels) for the tests.
pub fn draw_lines(id: &str, axes: &Axes, series: &[Series]) {
    let Axes { x_label, y_label, empty, level, log, legend } = *axes;
    let Some(c) = canvas(id) else { return };
    let Some(ctx) = ctx2d(&c) else { return };
    let (w, h) = (c.width() as f64, c.height() as f64);
    // A log axis puts losses of different scales (pixels, codes, classes) on one chart.
    let ty = |y: f64| if log { if y > 0.0 { y.log10() } else { f64::NAN } } else { y };
    let series: Vec<Series> = series
        .iter()
        .map(|s| Series { label: s.label.clone(), colour: s.colour, points: s.points.iter().map(|p| (p.0, ty(p.1))).collect(), style: s.style })
        .collect();
    let level = level.map(|(l, v)| (l, ty(v)));
    let untick = |y: f64| if log { 10f64.powf(y) } else { y };
    ctx.set_font("13px system-ui, sans-serif");
    let legend_w = |s: &Series| 7.2 * s.label.chars().count() as f64 + 34.0;
    // The legend: rows of labelled keys above the plot.
    let (left, right, bottom) = (64.0, 12.0, 34.0);
    let mut rows = vec![Vec::new()];
    let mut x = left;
    for s in series.iter().filter(|s| legend && s.points.iter().any(|p| p.1.is_finite())) {
        let lw = legend_w(s);
        if x + lw > w - right && !rows.last().unwrap().is_empty() {
            rows.push(Vec::new());
            x = left;
        }
        rows.last_mut().unwrap().push((x, s.label.clone(), s.colour));
        x += lw;
    }
    let top = 14.0 + 18.0 * rows.iter().filter(|r| !r.is_empty()).count() as f64;
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, w, h);
    ctx.set_font("13px system-ui, sans-serif");
    for (r, row) in rows.iter().enumerate() {
        for (x, label, colour) in row {
            let y = 6.0 + 18.0 * r as f64;
            ctx.set_fill_style_str(colour);
            ctx.fill_rect(*x, y + 4.0, 16.0, 6.0);
            ctx.set_fill_style_str("#111827");
            let _ = ctx.fill_text(label, x + 22.0, y + 12.0);
        }
    }
    ctx.set_font("14px system-ui, sans-serif");
    let shown: Vec<&Series> = series.iter().filter(|s| s.points.iter().any(|p| p.1.is_finite())).collect();
    let _ = c.set_attribute("data-series", &shown.len().to_string());
    let _ = c.set_attribute("data-labels", &shown.iter().map(|s| s.label.as_str()).collect::<Vec<_>>().join("|"));
    if shown.is_empty() {
        ctx.set_fill_style_str("#6b7280");
        let _ = ctx.fill_text(empty.unwrap_or(&format!("The {y_label} appears here once a phase reports.")), left, h / 2.0);
        return;
    }
    let pts = || shown.iter().flat_map(|s| s.points.iter()).filter(|p| p.1.is_finite() && p.0.is_finite());
    let max_x = pts().map(|p| p.0).fold(0.0f64, f64::max).max(1e-9);
    let (mut lo, mut hi) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if let Some((_, v)) = level.filter(|l| l.1.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi - lo < 1e-9 {
        hi += 0.5 * hi.abs().max(1e-3);
        lo -= 0.5 * lo.abs().max(1e-3);
    }
    let pad = 0.05 * (hi - lo);
    let (lo, hi) = (lo - pad, hi + pad);
    let px = |x: f64| left + (w - left - right) * x / max_x;
    let py = |y: f64| top + (h - top - bottom) * (1.0 - (y - lo) / (hi - lo));
    ctx.set_stroke_style_str("#e5e7eb");
    ctx.set_line_width(1.0);
    ctx.set_fill_style_str("#374151");
    for i in 0..=4 {
        let y = lo + (hi - lo) * i as f64 / 4.0;
        ctx.begin_path();
        ctx.move_to(left, py(y));
        ctx.line_to(w - right, py(y));
        ctx.stroke();
        let _ = ctx.fill_text(&format_value(untick(y)), 4.0, py(y) + 5.0);
    }
    let _ = ctx.fill_text("0", left - 4.0, h - 10.0);
    let xs = if (max_x - max_x.round()).abs() < 1e-9 { format!("{max_x:.0}") } else { format_value(max_x) };
    let xl = format!("{xs} {x_label}{}", if log { " · log scale" } else { "" });
    let _ = ctx.fill_text(&xl, (w - right - 8.0 * xl.len() as f64).max(left), h - 10.0);
    if let Some((label, v)) = level.filter(|l| l.1.is_finite()) {
        ctx.set_stroke_style_str(LEVEL_COLOUR);
        ctx.set_line_width(2.0);
        let _ = ctx.set_line_dash(&js_sys::Array::of2(&8.0.into(), &6.0.into()));
        ctx.begin_path();
        ctx.move_to(left, py(v));
        ctx.line_to(w - right, py(v));
        ctx.stroke();
        let _ = ctx.set_line_dash(&js_sys::Array::new());
        ctx.set_fill_style_str(LEVEL_COLOUR);
        let _ = ctx.fill_text(&format!("{label}: {}", format_value(untick(v))), left + 6.0, py(v) - 6.0);
    }
    for s in &shown {
        let pts: Vec<&(f64, f64)> = s.points.iter().filter(|p| p.1.is_finite()).collect();
        ctx.set_stroke_style_str(s.colour);
        ctx.set_fill_style_str(s.colour);
        if s.style == Style::Line || (s.style == Style::Dotted && pts.len() > 1) {
            ctx.set_line_width(if s.style == Style::Line { 2.5 } else { 1.5 });
            ctx.begin_path();
            for (i, p) in pts.iter().enumerate() {
                if i == 0 {
                    ctx.move_to(px(p.0), py(p.1));
                } else {
                    ctx.line_to(px(p.0), py(p.1));
                }
            }
            ctx.stroke();
        }
        for p in &pts {
            ctx.begin_path();
            let r = match s.style {
                Style::Line if pts.len() > 1 => continue,
                Style::Line => 2.5,
                Style::Dotted => 4.5,
            };
            let _ = ctx.arc(px(p.0), py(p.1), r, 0.0, std::f64::consts::TAU);
            ctx.fill();
        }
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
