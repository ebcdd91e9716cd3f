//! Charts drawn from chart data (`app::history::Chart`) for the size they are shown at: the
//! canvas takes its box's size × devicePixelRatio, labels take the canvas's CSS font size
//! (larger in lecture mode), ticks are round numbers, both axes have titles, a loss that
//! spans more than a decade goes on a log axis, a loss axis never goes below zero, a
//! fraction is shown in %, and the x axis marks the epochs (thinned to every 1st, 2nd, 5th,
//! 10th, 20th… epoch, whichever lets the labels fit between the marks). A recipe's phases are
//! shaded bands with their names. Every series has its colour and its legend entry. No two
//! texts overlap: each text is placed through `Texts`, which drops a text whose box would
//! overlap one already drawn (legend, axis titles, ticks, then epoch and phase names). The
//! canvas gets `data-series` (series with points), `data-labels` (their labels) and
//! `data-texts` (every drawn text with its box in CSS pixels, JSON `[{t,x,y,w,h}]`) and
//! `data-epoch-stride` (every how many epochs a mark is drawn) for the tests. A recipe's phases
//! whose losses differ by orders of magnitude (sda: pre-training ~100-800, fine-tuning ~1) share
//! the one log axis: every phase keeps its shape and the ticks read off every value, on one
//! axis that compares phases honestly (per-phase scales would need an axis per band).

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::JsCast;

use crate::app::history::{epoch_stride, format_tick, nice_step, Chart, Measure, Style};

use super::dom::{canvas, ctx2d};

pub const TRAIN_COLOUR: &str = "#2563eb";
pub const TEST_COLOUR: &str = "#ea580c";
/// The dashed level line (a reference the curves approach or a final result).
pub const LEVEL_COLOUR: &str = "#16a34a";

/// Colours of series by palette index (`app::history::Series::colour`).
pub const PALETTE: [&str; 11] = [TRAIN_COLOUR, TEST_COLOUR, "#16a34a", "#9333ea", "#0891b2", "#db2777", "#ca8a04", "#4b5563", "#0d9488", "#7c3aed", "#111827"];

struct Shown {
    chart: Chart,
    empty: String,
}

thread_local! {
    /// What each chart canvas shows, so a resize redraws it.
    static SHOWN: RefCell<HashMap<String, Shown>> = RefCell::new(HashMap::new());
    static OBSERVER: RefCell<Option<web_sys::ResizeObserver>> = const { RefCell::new(None) };
}

/// Draws `chart` on canvas `id` (and again whenever the canvas changes size).
pub fn draw_chart(id: &str, chart: &Chart, empty: &str) {
    SHOWN.with(|s| s.borrow_mut().insert(id.to_string(), Shown { chart: chart.clone(), empty: empty.to_string() }));
    observe(id);
    render(id);
}

fn render(id: &str) {
    SHOWN.with(|s| {
        if let Some(sh) = s.borrow().get(id) {
            draw(id, &sh.chart, &sh.empty);
        }
    });
}

/// Redraws a chart canvas when its box changes size.
fn observe(id: &str) {
    let Some(c) = canvas(id) else { return };
    if c.get_attribute("data-observed").is_some() {
        return;
    }
    let _ = c.set_attribute("data-observed", "1");
    OBSERVER.with(|o| {
        let mut o = o.borrow_mut();
        if o.is_none() {
            let cb = wasm_bindgen::closure::Closure::<dyn FnMut(js_sys::Array)>::new(|entries: js_sys::Array| {
                for e in entries.iter() {
                    if let Ok(entry) = e.dyn_into::<web_sys::ResizeObserverEntry>() {
                        let id = entry.target().id();
                        render(&id);
                    }
                }
            });
            *o = web_sys::ResizeObserver::new(cb.as_ref().unchecked_ref()).ok();
            cb.forget();
        }
        if let Some(obs) = o.as_ref() {
            obs.observe(&c);
        }
    });
}

/// The texts drawn on a chart so far, with their boxes (CSS pixels).
struct Texts {
    font_px: f64,
    boxes: Vec<(String, f64, f64, f64, f64)>,
}

/// How a text is anchored at its x.
#[derive(Clone, Copy)]
enum Align {
    Start,
    Center,
    End,
}

impl Texts {
    /// The box of `text` drawn at (x, baseline) with the current font.
    fn box_of(&self, ctx: &web_sys::CanvasRenderingContext2d, text: &str, x: f64, baseline: f64, align: Align, max_w: Option<f64>) -> (f64, f64, f64, f64) {
        let mut w = ctx.measure_text(text).map(|m| m.width()).unwrap_or(0.0);
        if let Some(m) = max_w {
            w = w.min(m);
        }
        let x0 = match align {
            Align::Start => x,
            Align::Center => x - w / 2.0,
            Align::End => x - w,
        };
        (x0, baseline - 0.8 * self.font_px, w, self.font_px)
    }

    fn free(&self, b: (f64, f64, f64, f64)) -> bool {
        self.boxes.iter().all(|o| b.0 + b.2 <= o.1 + 0.5 || o.1 + o.3 <= b.0 + 0.5 || b.1 + b.3 <= o.2 + 0.5 || o.2 + o.4 <= b.1 + 0.5)
    }

    /// Draws `text` unless its box overlaps a text already drawn or leaves the canvas
    /// (`w` wide); says whether it drew it.
    fn draw(&mut self, ctx: &web_sys::CanvasRenderingContext2d, text: &str, x: f64, baseline: f64, align: Align, w: f64) -> bool {
        self.draw_within(ctx, text, x, baseline, align, w, None)
    }

    /// `draw`, condensed by the canvas to at most `max_w` pixels wide where given.
    #[allow(clippy::too_many_arguments)]
    fn draw_within(&mut self, ctx: &web_sys::CanvasRenderingContext2d, text: &str, x: f64, baseline: f64, align: Align, w: f64, max_w: Option<f64>) -> bool {
        let b = self.box_of(ctx, text, x, baseline, align, max_w);
        if b.0 < -0.5 || b.0 + b.2 > w + 0.5 || !self.free(b) {
            return false;
        }
        ctx.set_text_align(match align {
            Align::Start => "start",
            Align::Center => "center",
            Align::End => "end",
        });
        let _ = match max_w {
            Some(m) => ctx.fill_text_with_max_width(text, x, baseline, m),
            None => ctx.fill_text(text, x, baseline),
        };
        self.boxes.push((text.to_string(), b.0, b.1, b.2, b.3));
        true
    }

    /// Records a text drawn by other means (a rotated title) with its box.
    fn record(&mut self, text: &str, b: (f64, f64, f64, f64)) {
        self.boxes.push((text.to_string(), b.0, b.1, b.2, b.3));
    }

    fn json(&self) -> String {
        let items: Vec<serde_json::Value> = self
            .boxes
            .iter()
            .map(|(t, x, y, w, h)| serde_json::json!({ "t": t, "x": (x * 10.0).round() / 10.0, "y": (y * 10.0).round() / 10.0, "w": (w * 10.0).round() / 10.0, "h": (h * 10.0).round() / 10.0 }))
            .collect();
        serde_json::Value::Array(items).to_string()
    }
}

/// A short label for a value (the level line).
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

fn draw(id: &str, chart: &Chart, empty: &str) {
    let Some(c) = canvas(id) else { return };
    let Some(ctx) = ctx2d(&c) else { return };
    let window = super::dom::window();
    let dpr = window.device_pixel_ratio().max(1.0);
    let (w, h) = (c.client_width() as f64, c.client_height() as f64);
    if w < 10.0 || h < 10.0 {
        return; // hidden: drawn when it is shown (the observer calls back)
    }
    let (pw, ph) = ((w * dpr).round() as u32, (h * dpr).round() as u32);
    if c.width() != pw {
        c.set_width(pw);
    }
    if c.height() != ph {
        c.set_height(ph);
    }
    let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
    // Label size: the canvas's CSS font size.
    let font_px = window
        .get_computed_style(&c)
        .ok()
        .flatten()
        .and_then(|s| s.get_property_value("font-size").ok())
        .and_then(|v| v.trim_end_matches("px").parse::<f64>().ok())
        .unwrap_or(13.0);
    let _ = c.set_attribute("data-font-px", &format!("{font_px:.0}"));
    let font = |scale: f64| format!("{:.0}px system-ui, sans-serif", font_px * scale);
    let mut texts = Texts { font_px, boxes: Vec::new() };
    let percent = chart.measure == Measure::Percent;
    let scale = if percent { 100.0 } else { 1.0 };
    let series: Vec<(String, &str, Vec<(f64, f64)>, Style)> = chart
        .series
        .iter()
        .map(|s| {
            let pts = s.points.iter().map(|&(x, y)| (x, y * scale)).filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
            (s.label.clone(), PALETTE[s.colour as usize % PALETTE.len()], pts, s.style)
        })
        .collect();
    let shown: Vec<&(String, &str, Vec<(f64, f64)>, Style)> = series.iter().filter(|s| !s.2.is_empty()).collect();
    let _ = c.set_attribute("data-series", &shown.len().to_string());
    let _ = c.set_attribute("data-labels", &shown.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join("|"));
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, w, h);
    let level = chart.level.as_ref().map(|(l, v)| (l.clone(), v * scale)).filter(|l| l.1.is_finite());

    // Axes ranges (before the layout: the y tick labels' width sets the left margin).
    ctx.set_font(&font(1.0));
    let pts = || shown.iter().flat_map(|s| s.2.iter());
    let max_x = pts().map(|p| p.0).fold(0.0f64, f64::max).max(chart.bands.iter().map(|b| b.end).fold(0.0, f64::max)).max(1.0);
    let (mut lo, mut hi) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if let Some((_, v)) = &level {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let non_negative = chart.measure == Measure::Loss && lo >= 0.0 || percent;
    let log = chart.measure == Measure::Loss && lo > 0.0 && hi > 10.0 * lo;
    let right = font_px * 2.2;
    let bottom = font_px * 3.3;
    let row_h = font_px * 1.4;

    // Legend: a row (or rows) of keys at the top (laid out from the left margin, found below).
    let key_w = |label: &str| ctx.measure_text(label).map(|m| m.width()).unwrap_or(0.0) + font_px * 2.6;
    let mut keys: Vec<(String, &str, Style)> = shown.iter().map(|s| (s.0.clone(), s.1, s.3)).collect();
    if let Some((l, v)) = &level {
        keys.push((format!("{l}: {}", format_value(*v)), LEVEL_COLOUR, Style::Line));
    }
    let legend_rows = |left: f64| {
        let mut rows: Vec<Vec<(f64, String, &str, Style)>> = vec![Vec::new()];
        let mut x = left;
        for (label, colour, style) in &keys {
            let kw = key_w(label);
            if x + kw > w - right && !rows.last().unwrap().is_empty() {
                rows.push(Vec::new());
                x = left;
            }
            rows.last_mut().unwrap().push((x, label.clone(), *colour, *style));
            x += kw;
        }
        rows
    };
    let nrows_of = |left: f64| legend_rows(left).iter().filter(|r| !r.is_empty()).count() as f64;
    let top_of = |left: f64| font_px * 0.8 + row_h * nrows_of(left);
    // The plot's inner height for a left margin (the legend's rows depend on it).
    let y_ticks = |top: f64| -> (f64, f64, Vec<(f64, String)>) {
        let plot_h = (h - top - bottom).max(1.0);
        if log {
            let (a, b) = (lo.log10().floor(), hi.log10().ceil().max(lo.log10().floor() + 1.0));
            let decades = b - a;
            let per_decade = plot_h / decades;
            // 1, 2, 5 per decade where they fit two lines apart; else every decade (or every
            // 2nd, 5th…, whichever fits).
            let minor = per_decade * (2f64.log10()) > font_px * 1.6 && per_decade * (5f64.log10() - 2f64.log10()) > font_px * 1.6;
            let stride = [1, 2, 5, 10, 20].into_iter().find(|&k| per_decade * k as f64 > font_px * 1.6).unwrap_or(50);
            let mut ticks = Vec::new();
            for k in a as i32..=b as i32 {
                if (k - a as i32) % stride != 0 {
                    continue;
                }
                for m in [1.0, 2.0, 5.0] {
                    if m > 1.0 && !minor {
                        continue;
                    }
                    let v = m * 10f64.powi(k);
                    if v.log10() >= a - 1e-9 && v.log10() <= b + 1e-9 {
                        ticks.push((v.log10(), format_tick(v, v / 10.0)));
                    }
                }
            }
            (a, b, ticks)
        } else {
            let (mut lo, mut hi) = (lo, hi);
            if hi - lo < 1e-12 {
                hi += hi.abs().max(1e-3) * 0.5;
                lo -= lo.abs().max(1e-3) * 0.5;
            }
            let step = nice_step(hi - lo, (plot_h / (font_px * 2.6)).clamp(2.0, 6.0));
            let mut y_lo = (lo / step).floor() * step;
            let y_hi = (hi / step).ceil() * step;
            if non_negative {
                y_lo = y_lo.max(0.0);
            }
            let n = ((y_hi - y_lo) / step).round() as i64;
            let ticks = (0..=n).map(|i| y_lo + i as f64 * step).map(|v| (v, format_tick(v, step))).collect();
            (y_lo, y_hi, ticks)
        }
    };
    let tick_text = |label: &str| if percent { format!("{label} %") } else { label.to_string() };
    // The left margin: the widest y tick label, the gap and the y axis title.
    let widest = |ticks: &[(f64, String)]| ticks.iter().map(|(_, l)| ctx.measure_text(&tick_text(l)).map(|m| m.width()).unwrap_or(0.0)).fold(0.0, f64::max);
    let mut left = font_px * 5.0;
    for _ in 0..2 {
        let (_, _, t) = y_ticks(top_of(left));
        left = (widest(&t) + font_px * 2.2).max(font_px * 3.5);
    }
    let rows = legend_rows(left);
    let nrows = nrows_of(left);
    for (r, row) in rows.iter().enumerate() {
        for (x, label, colour, style) in row {
            let y = font_px * 0.4 + row_h * r as f64;
            ctx.set_fill_style_str("#111827");
            // A key wider than the canvas is condensed to fit (a phone's narrow chart).
            let room = (w - 2.0 - (x + font_px * 1.9)).max(1.0);
            if !texts.draw_within(&ctx, label, x + font_px * 1.9, y + font_px, Align::Start, w, Some(room)) {
                continue;
            }
            ctx.set_fill_style_str(colour);
            match style {
                Style::Line => ctx.fill_rect(*x, y + row_h * 0.45, font_px * 1.4, font_px * 0.3),
                Style::Points => {
                    ctx.begin_path();
                    let _ = ctx.arc(x + font_px * 0.7, y + row_h * 0.55, font_px * 0.35, 0.0, std::f64::consts::TAU);
                    ctx.fill();
                }
            }
        }
    }
    let top = font_px * 0.8 + row_h * nrows;
    if shown.is_empty() {
        ctx.set_fill_style_str("#6b7280");
        ctx.set_font(&font(1.0));
        // Condensed to the canvas where it is longer (a narrow chart).
        let x0 = left.min(w / 4.0);
        texts.draw_within(&ctx, empty, x0, h / 2.0, Align::Start, w, Some((w - x0 - 4.0).max(1.0)));
        let _ = c.set_attribute("data-texts", &texts.json());
        return;
    }
    let (y_lo, y_hi, ticks) = y_ticks(top);
    // x ticks: a round step whose labels fit between the ticks.
    let (x_step, x_hi) = {
        let mut target = (w / (font_px * 7.0)).clamp(2.0, 8.0);
        loop {
            let s = nice_step(max_x, target);
            let x_hi = (max_x / s).ceil() * s;
            let n = (x_hi / s).round().max(1.0);
            let widest = ctx.measure_text(&format_tick(x_hi, s)).map(|m| m.width()).unwrap_or(0.0);
            if (w - left - right) / n > widest + font_px || target <= 1.0 {
                break (s, x_hi);
            }
            target -= 1.0;
        }
    };
    let ty = |y: f64| if log { y.log10() } else { y };
    let px = |x: f64| left + (w - left - right) * x / x_hi;
    let py = |y: f64| top + (h - top - bottom) * (1.0 - (ty(y) - y_lo) / (y_hi - y_lo).max(1e-12));
    let py_t = |t: f64| top + (h - top - bottom) * (1.0 - (t - y_lo) / (y_hi - y_lo).max(1e-12));

    // Phase bands: shaded in turn, each named at its top left (where the name fits).
    for (i, b) in chart.bands.iter().enumerate() {
        let (x0, x1) = (px(b.start.max(0.0)), px(b.end.min(x_hi)));
        if x1 <= x0 {
            continue;
        }
        ctx.set_fill_style_str(if i % 2 == 0 { "#f3f4f6" } else { "#eef2ff" });
        ctx.fill_rect(x0, top, x1 - x0, h - top - bottom);
        if i > 0 {
            ctx.set_stroke_style_str("#9ca3af");
            ctx.set_line_width(1.0);
            ctx.begin_path();
            ctx.move_to(x0, top);
            ctx.line_to(x0, h - bottom);
            ctx.stroke();
        }
    }

    // Grid, ticks and axis titles.
    ctx.set_stroke_style_str("#e5e7eb");
    ctx.set_line_width(1.0);
    ctx.set_font(&font(1.0));
    // The titles first: they always show.
    ctx.set_fill_style_str("#111827");
    let x_title = match chart.x_per_epoch.filter(|p| *p > 0.0) {
        Some(per) => format!("{} (an epoch is {} steps)", chart.x_label, format_tick(per.round(), 1.0)),
        None => chart.x_label.clone(),
    };
    // Condensed by the canvas where a title is longer than its axis (a narrow chart).
    let title_max = (w - 8.0).max(1.0);
    ctx.set_text_align("center");
    // Centred under the plot, moved in where that would cross the canvas's edge.
    let tw = ctx.measure_text(&x_title).map(|m| m.width()).unwrap_or(0.0).min(title_max);
    let cx = (left + (w - left - right) / 2.0).min(w - 4.0 - tw / 2.0).max(4.0 + tw / 2.0);
    let _ = ctx.fill_text_with_max_width(&x_title, cx, h - font_px * 0.4, title_max);
    let xb = texts.box_of(&ctx, &x_title, cx, h - font_px * 0.4, Align::Center, Some(title_max));
    texts.record(&x_title, xb);
    let y_title = format!("{}{}{}", chart.y_label, if percent { " (%)" } else { "" }, if log { " · log scale" } else { "" });
    ctx.save();
    let mid = top + (h - top - bottom) / 2.0;
    let _ = ctx.translate(font_px * 0.95, mid);
    let _ = ctx.rotate(-std::f64::consts::FRAC_PI_2);
    let y_max = (2.0 * (mid - 4.0).min(h - mid - 4.0)).max(1.0);
    let _ = ctx.fill_text_with_max_width(&y_title, 0.0, 0.0, y_max);
    ctx.restore();
    let yw = ctx.measure_text(&y_title).map(|m| m.width()).unwrap_or(0.0).min(y_max);
    texts.record(&y_title, (font_px * 0.15, mid - yw / 2.0, font_px, yw));

    ctx.set_fill_style_str("#374151");
    for (t, label) in &ticks {
        let y = py_t(*t);
        ctx.begin_path();
        ctx.move_to(left, y);
        ctx.line_to(w - right, y);
        ctx.stroke();
        texts.draw(&ctx, &tick_text(label), left - font_px * 0.3, y + font_px * 0.3, Align::End, w);
    }
    let mut x = 0.0;
    while x <= x_hi + 1e-9 {
        texts.draw(&ctx, &format_tick(x, x_step), px(x), h - bottom + font_px * 1.2, Align::Center, w);
        x += x_step;
    }
    // Epoch boundaries, when the chart knows an epoch's length: every `stride`-th epoch, the
    // stride the smallest of 1, 2, 5, 10, 20… whose marks leave room for their labels.
    if let Some(per) = chart.x_per_epoch.filter(|p| *p > 0.0) {
        let epochs = (x_hi / per).floor() as i64;
        if epochs >= 1 {
            let label_w = ctx.measure_text(&format!("epoch {epochs}")).map(|m| m.width()).unwrap_or(0.0);
            let gap = px(per) - px(0.0);
            let stride = epoch_stride(gap, label_w + font_px);
            let _ = c.set_attribute("data-epoch-stride", &stride.to_string());
            ctx.set_stroke_style_str("#9ca3af");
            let _ = ctx.set_line_dash(&js_sys::Array::of2(&3.0.into(), &4.0.into()));
            let mut e = stride;
            while e <= epochs {
                let xe = px(e as f64 * per);
                ctx.begin_path();
                ctx.move_to(xe, top);
                ctx.line_to(xe, h - bottom);
                ctx.stroke();
                ctx.set_fill_style_str("#6b7280");
                texts.draw(&ctx, &format!("epoch {e}"), xe, top + font_px * 0.9, Align::Center, w);
                e += stride;
            }
            let _ = ctx.set_line_dash(&js_sys::Array::new());
        }
    }
    // Phase names, each in its band (shortened with "…" to the band's width, or left out).
    ctx.set_fill_style_str("#374151");
    for b in &chart.bands {
        let (x0, x1) = (px(b.start.max(0.0)), px(b.end.min(x_hi)));
        let room = x1 - x0 - font_px * 0.6;
        let mut name = b.label.clone();
        while !name.is_empty() && ctx.measure_text(&name).map(|m| m.width()).unwrap_or(0.0) > room {
            let mut chars: Vec<char> = name.trim_end_matches('…').chars().collect();
            chars.pop();
            name = if chars.is_empty() { String::new() } else { format!("{}…", chars.into_iter().collect::<String>()) };
        }
        if name.chars().count() > 1 {
            texts.draw(&ctx, &name, x0 + font_px * 0.3, top + font_px * 1.0, Align::Start, w);
        }
    }
    ctx.set_text_align("start");
    let _ = c.set_attribute("data-texts", &texts.json());

    // The level line.
    if let Some((_, v)) = &level {
        ctx.set_stroke_style_str(LEVEL_COLOUR);
        ctx.set_line_width(2.0);
        let _ = ctx.set_line_dash(&js_sys::Array::of2(&8.0.into(), &6.0.into()));
        ctx.begin_path();
        ctx.move_to(left, py(*v));
        ctx.line_to(w - right, py(*v));
        ctx.stroke();
        let _ = ctx.set_line_dash(&js_sys::Array::new());
    }
    // The series: a line, or points (joined by a thin line when there are several).
    for (_, colour, pts, style) in &shown {
        ctx.set_stroke_style_str(colour);
        ctx.set_fill_style_str(colour);
        if *style == Style::Line || pts.len() > 1 {
            ctx.set_line_width(if *style == Style::Line { 2.5 } else { 1.2 });
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
        if *style == Style::Points || pts.len() == 1 {
            for p in pts {
                ctx.begin_path();
                let _ = ctx.arc(px(p.0), py(p.1), font_px * 0.33, 0.0, std::f64::consts::TAU);
                ctx.fill();
            }
        }
    }
}
