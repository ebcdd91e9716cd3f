//! Drawing frames: every picture the page shows, from the data a frame carries
//! (`app::frame`). The pictures are one table, [`PICTURES`], one row per
//! [`PictureId`] (the registry is `app::pictures`): its canvas, title and caption, the panel
//! it sits in, and its draw function. Adding a picture is its id and producer in
//! `app::pictures` and a row here.

use leptos::prelude::*;

use crate::app::frame::Frame;
use crate::app::pictures::{Digits, Features, Histogram, PadOut, PadView, PcaView, Picture, PictureId, Predictions, Recon, Scatter};
use crate::app::protocol::SessionInfo;
use crate::app::quality::{fidelity, stroke_likeness};

use super::state::{PageState, Ui};
use super::{cloud, dom};

/// Label colours (Tableau 10), readable on a projector.
pub const COLOURS: [&str; 10] = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// The panel a picture sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    /// "What the model learned": a figure per picture, made from its row.
    Pictures,
    /// A panel of its own (`ui::panels`), which the row's drawing feeds.
    Own,
}

/// How the page shows one picture.
pub struct Row {
    pub id: PictureId,
    /// The canvas id (and the name `panels=`/`hide=` do not use: pictures come as a panel).
    pub canvas: &'static str,
    pub title: &'static str,
    pub panel: Panel,
    /// The caption, for the session shown.
    pub caption: fn(&SessionInfo) -> String,
    /// Canvas size (device-independent pixels; the page scales it).
    pub size: (u32, u32),
    /// Draws it (a picture the frame does not carry stays as it was).
    pub draw: fn(&Ui, &str, &Picture),
}

/// A row of the "What the model learned" panel.
const fn figure(id: PictureId, canvas: &'static str, title: &'static str, size: (u32, u32), caption: fn(&SessionInfo) -> String, draw: fn(&Ui, &str, &Picture)) -> Row {
    Row { id, canvas, title, panel: Panel::Pictures, caption, size, draw }
}

/// A row of a picture with a panel of its own (its captions are the panel's).
const fn own(id: PictureId, canvas: &'static str, title: &'static str, size: (u32, u32), draw: fn(&Ui, &str, &Picture)) -> Row {
    Row { id, canvas, title, panel: Panel::Own, caption: |_| String::new(), size, draw }
}

/// One caption or another, as the session's model has a property or not.
fn either(s: &SessionInfo, has: fn(&crate::core::ModelConfig) -> bool, yes: &str, no: &str) -> String {
    if s.config.as_ref().is_some_and(has) { yes } else { no }.into()
}

fn features_caption(_: &SessionInfo) -> String {
    "The first layer's weights, one 28×28 tile per unit (contrast per tile): what each unit looks for.".into()
}

fn latent_caption(s: &SessionInfo) -> String {
    either(
        s,
        |c| c.code_dim() > 2,
        "Codes of 1,000 test digits coloured by label (the code is wider than 2: projected on its two principal components).",
        "Codes of 1,000 test digits coloured by label.",
    )
}

fn generated_caption(s: &SessionInfo) -> String {
    either(s, |c| c.variational, "Random codes from N(0, I) decoded into digits.", "A grid over the 2-D code plane, decoded into digits.")
}

fn interp_caption(_: &SessionInfo) -> String {
    "Decoding the straight path between two codes: from a 3 (or your drawing) to an 8.".into()
}

fn sparsity_caption(_: &SessionInfo) -> String {
    "Mean activation of each hidden unit over 1,000 test digits (counts of units), against the target ρ.".into()
}

/// Every picture, in the order the page shows them.
pub const PICTURES: &[Row] = &[
    own(PictureId::Recon, "recon", "Reconstructions", (280, 84), draw_recon_row),
    own(PictureId::Pad, "pad-out", "Draw a digit", (28, 28), draw_pad_row),
    own(PictureId::Pca, "pca-recon", "PCA", (280, 28), draw_pca_row),
    own(PictureId::Cloud, "cloud3d", "The cloud", (360, 320), draw_cloud_row),
    own(PictureId::Recipe, "recipe-loss", "Multi-phase recipe", (640, 260), draw_recipe_row),
    figure(PictureId::Features, "features", "Features", (280, 280), features_caption, |ui, id, p| {
        draw_as(id, p, tiles_of, draw_features);
        ui.features_quality.set(tiles_of(p).map(|f| stroke_likeness(&f.tiles, 28)));
    }),
    figure(PictureId::Latent, "latent", "Latent space", (320, 320), latent_caption, |_, id, p| draw_as(id, p, scatter_of, draw_scatter)),
    figure(PictureId::Generated, "generated", "Generated", (224, 224), generated_caption, |_, id, p| draw_as(id, p, digits_of, draw_digits)),
    figure(PictureId::Interp, "interp", "Interpolation", (280, 28), interp_caption, |_, id, p| draw_as(id, p, digits_of, draw_digits)),
    figure(PictureId::Sparsity, "sparsity", "Sparsity", (320, 180), sparsity_caption, |_, id, p| draw_as(id, p, histogram_of, draw_histogram)),
];

/// The row of a picture.
pub fn row(id: PictureId) -> &'static Row {
    PICTURES.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no row for {id:?} in ui::draw::PICTURES"))
}

/// Draws what a frame carries: each picture with its row.
pub fn draw_frame(ui: &Ui, f: &Frame) {
    for (&id, p) in &f.pictures {
        let r = row(id);
        (r.draw)(ui, r.canvas, p);
    }
}

/// Draws a picture on canvas `id` by its shape alone (a compared run's small pictures:
/// nothing of the page's state changes).
pub fn draw_plain(id: &str, p: &Picture) {
    match p {
        Picture::Recon(r) => draw_recon(id, r),
        Picture::Predictions(q) => draw_predictions(id, q),
        Picture::Tiles(_) => draw_as(id, p, tiles_of, draw_features),
        Picture::Digits(_) => draw_as(id, p, digits_of, draw_digits),
        Picture::Note(_) | Picture::Blank => draw_as(id, p, tiles_of, draw_features),
        _ => {}
    }
}

fn digits_of(p: &Picture) -> Option<&Digits> {
    if let Picture::Digits(d) = p { Some(d) } else { None }
}

fn tiles_of(p: &Picture) -> Option<&Features> {
    if let Picture::Tiles(f) = p { Some(f) } else { None }
}

fn scatter_of(p: &Picture) -> Option<&Scatter> {
    if let Picture::Scatter(s) = p { Some(s) } else { None }
}

fn histogram_of(p: &Picture) -> Option<&Histogram> {
    if let Picture::Histogram(h) = p { Some(h) } else { None }
}

/// Draws a picture of one shape, or the note or blank in its place.
fn draw_as<T>(id: &str, p: &Picture, shape: fn(&Picture) -> Option<&T>, draw: fn(&str, &T)) {
    match p {
        Picture::Note(text) => note_on_canvas(id, text),
        Picture::Blank => dom::clear(id, "#000"),
        other => {
            if let Some(v) = shape(other) {
                draw(id, v)
            }
        }
    }
}

fn draw_recon_row(ui: &Ui, id: &str, p: &Picture) {
    let predictions = if let Picture::Predictions(q) = p { Some((q.mistakes(), q.rows)) } else { None };
    if let Some(c) = dom::canvas(id) {
        let _ = c.set_attribute("data-mode", if predictions.is_some() { "predictions" } else { "digits" });
    }
    match p {
        Picture::Recon(r) => {
            draw_recon(id, r);
            ui.recon_noisy.set(r.noisy.is_some());
            ui.recon_quality.set(Some(fidelity(&r.clean, &r.out)));
        }
        Picture::Predictions(q) => draw_predictions(id, q),
        Picture::Note(n) => note_on_canvas(id, n),
        _ => {}
    }
    ui.predictions.set(predictions);
}

fn draw_pad_row(ui: &Ui, _id: &str, p: &Picture) {
    draw_pad(p);
    ui.pad_class.set(match p {
        Picture::Pad(PadView { out: PadOut::Class { digit, .. }, .. }) => Some(*digit),
        _ => None,
    });
    ui.recipe_pad_note.set(match p {
        Picture::Pad(PadView { out: PadOut::Class { digit, probability, .. }, .. }) => {
            Some(format!("The classifier reads your drawing as a {digit} ({:.0} % sure). It classifies; it does not reconstruct.", 100.0 * probability))
        }
        Picture::Note(n) => Some(n.clone()),
        _ => None,
    });
}

fn draw_pca_row(ui: &Ui, id: &str, p: &Picture) {
    if let Picture::Pca(pca) = p {
        if let PcaView::Ready { recon, .. } = pca {
            draw_images(id, recon, 10);
        }
        ui.pca.set(Some(pca.clone()));
    }
}

fn draw_cloud_row(ui: &Ui, _id: &str, p: &Picture) {
    if let Picture::Cloud(c) = p {
        ui.cloud_summary.set(Some(cloud::summary(c)));
        let spinning = ui.state.get_untracked() == PageState::Training;
        ui.cloud.update_value(|s| s.show(c.clone(), spinning));
    }
}

fn draw_recipe_row(ui: &Ui, _id: &str, p: &Picture) {
    if let Picture::Recipe(r) = p {
        ui.recipe.set(Some(r.clone()));
    }
}

/// Clears a canvas and writes a note on it, wrapped to its width.
pub fn note_on_canvas(id: &str, text: &str) {
    let Some(c) = dom::canvas(id) else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    ctx.set_fill_style_str("#f3f4f6");
    ctx.fill_rect(0.0, 0.0, c.width() as f64, c.height() as f64);
    ctx.set_fill_style_str("#374151");
    ctx.set_font("13px system-ui, sans-serif");
    let per_line = ((c.width() as f64 - 12.0) / 6.5).max(8.0) as usize;
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("a line");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > per_line {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let _ = ctx.fill_text(line, 6.0, 16.0 + 16.0 * i as f64);
    }
}

/// Sizes a canvas (its pixel buffer) if it differs.
fn size_canvas(id: &str, w: u32, h: u32) {
    if let Some(c) = dom::canvas(id) {
        if c.width() != w {
            c.set_width(w);
        }
        if c.height() != h {
            c.set_height(h);
        }
    }
}

/// Images (rows of 784 values in [0, 1]) in a grid of `cols` columns, the canvas sized to it.
pub fn draw_images(id: &str, images: &[f32], cols: usize) {
    let n = images.len() / 784;
    let cols = cols.max(1).min(n.max(1));
    let rows = n.div_ceil(cols).max(1);
    size_canvas(id, (cols * 28) as u32, (rows * 28) as u32);
    let Some(ctx) = dom::canvas(id).as_ref().and_then(dom::ctx2d) else { return };
    for (i, img) in images.chunks(784).enumerate() {
        dom::put_gray(&ctx, img, 28, 28, ((i % cols) * 28) as f64, ((i / cols) * 28) as f64);
    }
}

fn draw_digits(id: &str, d: &Digits) {
    draw_images(id, &d.images, d.cols);
}

/// Feature tiles in a grid that fits their number (10 columns from 50 tiles on).
fn draw_features(id: &str, f: &Features) {
    let cols = if f.shown >= 50 { 10 } else { (f.shown as f64).sqrt().ceil() as usize };
    draw_images(id, &f.tiles, cols);
    if let Some(c) = dom::canvas(id) {
        let _ = c.set_attribute("data-quality", &stroke_likeness(&f.tiles, 28).to_string());
        let _ = c.set_attribute("data-tiles", &f.shown.to_string());
        let _ = c.set_attribute("data-units", &f.units.to_string());
    }
}

/// A classifier's reading of the drawing: ten bars, one per digit, the predicted one
/// highlighted (drawn at 112×112 so that the labels stay sharp when the box is scaled).
fn draw_class_bars(id: &str, probabilities: &[f32], digit: u8) {
    const S: f64 = 112.0;
    size_canvas(id, S as u32, S as u32);
    let Some(c) = dom::canvas(id) else { return };
    let Some(ctx) = dom::ctx2d(&c) else { return };
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, S, S);
    ctx.set_font("bold 10px system-ui, sans-serif");
    ctx.set_text_baseline("middle");
    let h = S / 10.0;
    for (k, &p) in probabilities.iter().take(10).enumerate() {
        let y = k as f64 * h;
        ctx.set_fill_style_str(if k as u8 == digit { "#1d4ed8" } else { "#374151" });
        let _ = ctx.fill_text(&k.to_string(), 3.0, y + h / 2.0);
        ctx.set_fill_style_str(if k as u8 == digit { "#2563eb" } else { "#9ca3af" });
        ctx.fill_rect(14.0, y + 1.5, (S - 18.0) * p.clamp(0.0, 1.0) as f64, h - 3.0);
    }
    let text: Vec<String> = probabilities.iter().enumerate().map(|(k, p)| format!("{k}: {:.0} %", 100.0 * p)).collect();
    let _ = c.set_attribute("aria-label", &format!("The classifier reads a {digit}. Probabilities: {}", text.join(", ")));
    let _ = c.set_attribute("data-class", &digit.to_string());
    let _ = c.set_attribute("data-mode", "bars");
}

/// A classifier's predictions: test digits (2× size) with the predicted class under each
/// (red where it is wrong), and the confusion matrix, drawn at the canvas's own resolution
/// (660×380) so the text stays crisp when the canvas is scaled to its panel.
fn draw_predictions(id: &str, q: &Predictions) {
    const CELL: f64 = 56.0;
    const LABEL: f64 = 22.0;
    const COLS: usize = 5;
    const M: f64 = 32.0;
    let Some(c) = dom::canvas(id) else { return };
    // Side by side where the panel is wide; on a phone the matrix goes below the digits, so
    // that both are drawn near their own size rather than shrunk to half.
    let narrow = c.parent_element().is_some_and(|p| p.client_width() > 0 && p.client_width() < 520);
    let rows = q.images.len().div_ceil(784 * COLS) as f64;
    let (tx, (mx, my), (w, h)) = if narrow {
        let tiles = rows * (CELL + LABEL);
        ((380.0 - COLS as f64 * CELL) / 2.0, (40.0, tiles + 40.0), (380u32, (tiles + 40.0 + 10.0 * M + 16.0) as u32))
    } else {
        (0.0, (COLS as f64 * CELL + 50.0, 30.0), (660u32, 380u32))
    };
    size_canvas(id, w, h);
    let Some(ctx) = dom::ctx2d(&c) else { return };
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, w as f64, h as f64);
    ctx.set_text_align("center");
    ctx.set_text_baseline("middle");
    for (i, img) in q.images.chunks(784).enumerate() {
        let (x, y) = (tx + (i % COLS) as f64 * CELL, (i / COLS) as f64 * (CELL + LABEL));
        let mut big = vec![0.0f32; 56 * 56];
        for (j, v) in big.iter_mut().enumerate() {
            *v = img[(j / 56 / 2) * 28 + (j % 56) / 2];
        }
        dom::put_gray(&ctx, &big, 56, 56, x, y);
        let wrong = q.predicted[i] != q.labels[i];
        ctx.set_font("bold 16px system-ui, sans-serif");
        ctx.set_fill_style_str(if wrong { "#dc2626" } else { "#111827" });
        let label = if wrong { format!("{} (is {})", q.predicted[i], q.labels[i]) } else { q.predicted[i].to_string() };
        // Within its tile: a mistake's longer label in a smaller type where it would spill
        // into the next one's.
        if ctx.measure_text(&label).is_ok_and(|m| m.width() > CELL - 4.0) {
            ctx.set_font("bold 12px system-ui, sans-serif");
        }
        let _ = ctx.fill_text_with_max_width(&label, x + CELL / 2.0, y + CELL + LABEL / 2.0, CELL - 2.0);
        if wrong {
            ctx.set_stroke_style_str("#dc2626");
            ctx.set_line_width(3.0);
            ctx.stroke_rect(x + 1.5, y + 1.5, CELL - 3.0, CELL - 3.0);
        }
    }
    // The confusion matrix: rows the true digit, columns the prediction; the diagonal blue,
    // mistakes red, each cell's shade its share of its row.
    ctx.set_font("bold 13px system-ui, sans-serif");
    ctx.set_fill_style_str("#374151");
    let _ = ctx.fill_text("predicted →", mx + 5.0 * M, my - 18.0);
    for k in 0..10 {
        let _ = ctx.fill_text(&k.to_string(), mx + (k as f64 + 0.5) * M, my - 4.0);
        let _ = ctx.fill_text(&k.to_string(), mx - 12.0, my + 8.0 + (k as f64 + 0.5) * M);
    }
    ctx.set_font("12px system-ui, sans-serif");
    for t in 0..10 {
        let row: u32 = q.confusion[t * 10..t * 10 + 10].iter().sum();
        for p in 0..10 {
            let n = q.confusion[t * 10 + p];
            let share = n as f64 / row.max(1) as f64;
            let (x, y) = (mx + p as f64 * M, my + 8.0 + t as f64 * M);
            let colour = if n == 0 {
                "#f9fafb".to_string()
            } else if t == p {
                format!("rgba(37, 99, 235, {:.2})", 0.15 + 0.85 * share)
            } else {
                format!("rgba(220, 38, 38, {:.2})", 0.25 + 0.75 * share.min(1.0))
            };
            ctx.set_fill_style_str(&colour);
            ctx.fill_rect(x + 1.0, y + 1.0, M - 2.0, M - 2.0);
            if n > 0 {
                ctx.set_fill_style_str(if t == p && share > 0.5 { "#ffffff" } else { "#111827" });
                let _ = ctx.fill_text(&n.to_string(), x + M / 2.0, y + M / 2.0);
            }
        }
    }
    ctx.set_text_align("start");
    let _ = c.set_attribute(
        "aria-label",
        &format!("A classifier's predictions on {} test digits: {} mistakes; the confusion matrix's diagonal holds the digits it gets right.", q.rows, q.mistakes()),
    );
    let _ = c.set_attribute("data-rows", &q.rows.to_string());
    let _ = c.set_attribute("data-mistakes", &q.mistakes().to_string());
}

/// The reconstruction grid: clean digits, corrupted (when the model has noise), reconstructed.
pub fn draw_recon(id: &str, r: &Recon) {
    let rows: Vec<&Vec<f32>> = [Some(&r.clean), r.noisy.as_ref(), Some(&r.out)].into_iter().flatten().collect();
    let n = r.clean.len() / 784;
    size_canvas(id, (n * 28) as u32, (rows.len() * 28) as u32);
    let Some(ctx) = dom::canvas(id).as_ref().and_then(dom::ctx2d) else { return };
    for (row, imgs) in rows.into_iter().enumerate() {
        let corrupted = r.noisy.is_some() && row == 1;
        for (i, img) in imgs.chunks(784).enumerate() {
            if corrupted {
                dom::put_corrupted(&ctx, img, &r.clean[i * 784..(i + 1) * 784], 28, 28, (i * 28) as f64, (row * 28) as f64);
            } else {
                dom::put_gray(&ctx, img, 28, 28, (i * 28) as f64, (row * 28) as f64);
            }
        }
    }
    if let Some(c) = dom::canvas(id) {
        let _ = c.set_attribute("data-quality", &fidelity(&r.clean, &r.out).to_string());
        let _ = c.set_attribute("data-rows", if r.noisy.is_some() { "clean,corrupted,reconstructed" } else { "clean,reconstructed" });
    }
}

/// A canvas's 2-D context and size, the canvas filled with white.
fn white_canvas(id: &str) -> Option<(web_sys::CanvasRenderingContext2d, f64, f64)> {
    let c = dom::canvas(id)?;
    let ctx = dom::ctx2d(&c)?;
    let (w, h) = (c.width() as f64, c.height() as f64);
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, w, h);
    Some((ctx, w, h))
}

/// Scatter of 2-D points coloured by label, with a legend of the ten digits.
pub fn draw_scatter(id: &str, s: &Scatter) {
    let Some((ctx, w, h)) = white_canvas(id) else { return };
    let finite: Vec<&(f32, f32)> = s.points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
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
    for (p, &l) in s.points.iter().zip(&s.labels) {
        if !(p.0.is_finite() && p.1.is_finite()) {
            continue;
        }
        let x = pad + (p.0 - x0) as f64 / sx * (w - 2.0 * pad);
        let y = h - legend - pad - (p.1 - y0) as f64 / sy * (h - legend - 2.0 * pad);
        ctx.set_fill_style_str(COLOURS[l as usize % 10]);
        ctx.fill_rect(x - 2.0, y - 2.0, 4.0, 4.0);
    }
    ctx.set_font("bold 14px sans-serif");
    for (d, colour) in COLOURS.iter().enumerate() {
        ctx.set_fill_style_str(colour);
        let _ = ctx.fill_text(&d.to_string(), pad + d as f64 * (w - 2.0 * pad) / 10.0, h - 6.0);
    }
}

/// Histogram of mean unit activations (in [0, 1]): counts of units per bin on a labelled
/// axis, with the target ρ marked beside its bar.
pub fn draw_histogram(id: &str, hist: &Histogram) {
    let Some((ctx, w, h)) = white_canvas(id) else { return };
    // Bins over the range the values and ρ span (at least 0..2ρ), so a sparse code's one
    // tall bar near ρ spreads out.
    let finite: Vec<f32> = hist.values.iter().copied().filter(|v| v.is_finite()).collect();
    let hi = finite.iter().copied().fold(2.0 * hist.rho, f32::max).clamp(1e-3, 1.0) as f64;
    let bins = 30;
    let mut counts = vec![0usize; bins];
    for &v in &finite {
        counts[((v as f64 / hi * bins as f64) as usize).min(bins - 1)] += 1;
    }
    let max = *counts.iter().max().unwrap_or(&1) as f64;
    let (left, right, top, bottom) = (40.0, 10.0, 22.0, 34.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    ctx.set_fill_style_str("#4e79a7");
    for (b, &n) in counts.iter().enumerate() {
        let bh = n as f64 / max.max(1.0) * ph;
        ctx.fill_rect(left + b as f64 * pw / bins as f64 + 0.5, top + ph - bh, pw / bins as f64 - 1.0, bh);
    }
    ctx.set_fill_style_str("#374151");
    ctx.set_font("12px system-ui, sans-serif");
    let _ = ctx.fill_text(&format!("{}", max as usize), 4.0, top + 10.0);
    let _ = ctx.fill_text("0", 4.0, top + ph);
    let _ = ctx.fill_text("units", 4.0, top + ph / 2.0);
    let _ = ctx.fill_text("0", left, h - 18.0);
    let _ = ctx.fill_text(&format!("{hi:.2}"), w - right - 26.0, h - 18.0);
    let _ = ctx.fill_text("mean activation of a unit", left + pw / 2.0 - 70.0, h - 4.0);
    let x = left + hist.rho as f64 / hi * pw;
    ctx.set_stroke_style_str("#e15759");
    ctx.set_line_width(2.0);
    let _ = ctx.set_line_dash(&js_sys::Array::of2(&6.0.into(), &4.0.into()));
    ctx.begin_path();
    ctx.move_to(x, top - 4.0);
    ctx.line_to(x, top + ph);
    ctx.stroke();
    let _ = ctx.set_line_dash(&js_sys::Array::new());
    ctx.set_fill_style_str("#e15759");
    let label = format!("target ρ = {}", hist.rho);
    let lx = if x + 100.0 > w { x - 100.0 } else { x + 4.0 };
    let _ = ctx.fill_text(&label, lx, 14.0);
}

/// The pad's three small pictures (the recipe panel's note says what a classifier reads).
fn draw_pad(pad: &Picture) {
    match pad {
        Picture::Pad(v) => {
            dom::draw_digit("pad-input", &v.input);
            match &v.noisy {
                Some(n) => {
                    if let Some(ctx) = dom::canvas("pad-noisy").as_ref().and_then(dom::ctx2d) {
                        dom::put_corrupted(&ctx, n, &v.input, 28, 28, 0.0, 0.0);
                    }
                }
                None => dom::draw_digit("pad-noisy", &v.input),
            }
            match &v.out {
                PadOut::Image(o) => {
                    size_canvas("pad-out", 28, 28);
                    if let Some(c) = dom::canvas("pad-out") {
                        let _ = c.remove_attribute("data-mode");
                        let _ = c.remove_attribute("data-class");
                        let _ = c.remove_attribute("aria-label");
                    }
                    dom::draw_digit("pad-out", o)
                }
                PadOut::Class { digit, probabilities, .. } => draw_class_bars("pad-out", probabilities, *digit),
            }
        }
        _ => dom::clear_pad(),
    }
}
