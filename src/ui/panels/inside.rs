//! One step in slow motion (issue 22): "Inside a step" (the More menu, `slow=1`) opens this
//! panel; while training is paused, "Step inside" (or `s`) takes the next training step with
//! its buffers read back, and the panel draws what it did to eight digits of its minibatch
//! (clean, corrupted with the destroyed pixels in red, the code, the reconstruction, the
//! error at the output) and to the four first-layer units it moved most (the weights and
//! the update ΔW as 28×28 tiles), with the minibatch's loss before and after the step.
//! "Auto" takes one such step every few seconds, for a lecturer to talk over. Every number
//! is the backend's own for that step (`app::inside`).

use leptos::prelude::*;

use crate::app::inside::{CodeView, Inside};
use crate::app::pictures::Recon;
use crate::app::protocol::Command;

use super::super::chart::format_value;
use super::super::state::{PageState, Ui};
use super::super::{client, dom, draw};

/// The paces of Auto, in seconds between steps.
const PACES: [f64; 4] = [1.0, 2.0, 3.0, 5.0];

/// Values as colours: white ink on black for values in [0, 1]; signed values (an error, an
/// update) red where positive and blue where negative, full at `scale`.
fn put_signed(ctx: &web_sys::CanvasRenderingContext2d, v: &[f32], w: usize, h: usize, x: f64, y: f64, scale: f32) {
    let mut rgba = vec![0u8; w * h * 4];
    let s = scale.max(1e-12);
    for (px, &a) in rgba.chunks_exact_mut(4).zip(v) {
        let t = (a / s).clamp(-1.0, 1.0);
        let k = (255.0 * (1.0 - t.abs())).round() as u8;
        px.copy_from_slice(&if t >= 0.0 { [255, k, k, 255] } else { [k, k, 255, 255] });
    }
    dom::put_rgba(ctx, &rgba, w, h, x, y);
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().filter(|x| x.is_finite()).fold(0.0f32, |m, &x| m.max(x.abs()))
}

/// Sizes canvas `id` and gives its 2-D context.
fn sized(id: &str, w: usize, h: usize) -> Option<web_sys::CanvasRenderingContext2d> {
    let c = dom::canvas(id)?;
    if c.width() != w as u32 {
        c.set_width(w as u32);
    }
    if c.height() != h as u32 {
        c.set_height(h as u32);
    }
    dom::ctx2d(&c)
}

/// The block a code of `width` units is drawn in: columns and rows, about square.
fn block(width: usize) -> (usize, usize) {
    let cols = (width as f64).sqrt().ceil().max(1.0) as usize;
    (cols, width.div_ceil(cols).max(1))
}

/// Each digit's code as a block of its units (row by row), the blocks side by side; a code
/// with negative values in signed colours, else in grey (all digits on one scale). Cells of
/// the block past the last unit stay white.
fn draw_codes(id: &str, values: &[f32], width: usize, rows: usize, signed: bool) {
    let (w, h) = block(width);
    let Some(ctx) = sized(id, rows * (w + 1), h) else { return };
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, (rows * (w + 1)) as f64, h as f64);
    let scale = max_abs(values);
    for (r, code) in values.chunks(width).take(rows).enumerate() {
        let mut rgba = vec![255u8; w * h * 4];
        for (px, &v) in rgba.chunks_exact_mut(4).zip(code) {
            let t = (v / scale.max(1e-12)).clamp(-1.0, 1.0);
            let k = (255.0 * (1.0 - t.abs())).round() as u8;
            let g = (255.0 * t.max(0.0)).round() as u8;
            px.copy_from_slice(&match (signed, t >= 0.0) {
                (true, true) => [255, k, k, 255],
                (true, false) => [k, k, 255, 255],
                (false, _) => [g, g, g, 255],
            });
        }
        dom::put_rgba(&ctx, &rgba, w, h, (r * (w + 1)) as f64, 0.0);
    }
}

/// The sparse layer's units: each one's mean activation over the minibatch as a bar (sorted,
/// largest first), and the target ρ as a line.
fn draw_sparsity(id: &str, mean: &[f32], rho: f32) {
    let (w, h) = (600.0, 90.0);
    let Some(ctx) = sized(id, w as usize, h as usize) else { return };
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, w, h);
    let mut m: Vec<f32> = mean.iter().copied().filter(|v| v.is_finite()).collect();
    m.sort_by(|a, b| b.total_cmp(a));
    let top = m.first().copied().unwrap_or(0.0).max(rho * 2.0).max(1e-6);
    let bw = w / m.len().max(1) as f64;
    ctx.set_fill_style_str("#2563eb");
    for (i, v) in m.iter().enumerate() {
        let bh = (*v / top) as f64 * (h - 14.0);
        ctx.fill_rect(i as f64 * bw, h - bh, bw.max(1.0), bh);
    }
    let y = h - (rho / top) as f64 * (h - 14.0);
    ctx.set_stroke_style_str("#dc2626");
    ctx.set_line_width(2.0);
    ctx.begin_path();
    ctx.move_to(0.0, y);
    ctx.line_to(w, y);
    ctx.stroke();
    ctx.set_fill_style_str("#991b1b");
    ctx.set_font("12px system-ui, sans-serif");
    let _ = ctx.fill_text(&format!("ρ = {rho}"), w - 70.0, (y - 4.0).max(12.0));
}

/// Draws a step in slow motion into the panel's canvases.
pub fn draw_inside(s: &Inside) {
    let n = s.rows;
    draw::draw_recon("inside-digits", &Recon { clean: s.clean.clone(), noisy: s.noisy.clone(), out: s.out.clone() });
    if let Some(ctx) = sized("inside-error", n * 28, 28) {
        let scale = max_abs(&s.error);
        for (i, e) in s.error.chunks(784).take(n).enumerate() {
            put_signed(&ctx, e, 28, 28, (i * 28) as f64, 0.0, scale);
        }
    }
    match &s.code {
        CodeView::Plain { width, values } => {
            let signed = values.iter().any(|v| *v < 0.0);
            draw_codes("inside-code", values, *width, n, signed);
        }
        CodeView::Variational { latent, mu, sigma, z } => {
            draw_codes("inside-code", mu, *latent, n, true);
            draw_codes("inside-sigma", sigma, *latent, n, false);
            draw_codes("inside-z", z, *latent, n, true);
        }
    }
    if let Some((mean, rho)) = &s.sparsity {
        draw_sparsity("inside-sparsity", mean, *rho);
    }
    let units = s.units.len();
    if let Some(ctx) = sized("inside-units", units * (2 * 28 + 6), 28) {
        ctx.set_fill_style_str("#fff");
        ctx.fill_rect(0.0, 0.0, (units * 62) as f64, 28.0);
        let dscale = max_abs(&s.delta);
        for u in 0..units {
            let w = &s.weights[u * 784..(u + 1) * 784];
            let (lo, hi) = w.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            let g: Vec<f32> = w.iter().map(|v| (v - lo) / (hi - lo).max(1e-12)).collect();
            let x = (u * 62) as f64;
            dom::put_gray(&ctx, &g, 28, 28, x, 0.0);
            put_signed(&ctx, &s.delta[u * 784..(u + 1) * 784], 28, 28, x + 28.0, 0.0, dscale);
        }
    }
    if let Some(c) = dom::canvas("inside-digits") {
        let _ = c.set_attribute("data-step", &s.step.to_string());
    }
}

/// The change of the minibatch's loss, in words.
fn loss_words(s: &Inside) -> String {
    let change = s.loss_after - s.loss_before;
    format!(
        "Step {}: the minibatch's loss per digit {} before the step, {} after it on the same {} digits ({}{}), {}.",
        crate::app::thousands(s.step as usize),
        format_value(s.loss_before),
        format_value(s.loss_after),
        s.batch,
        if change <= 0.0 { "−" } else { "+" },
        format_value(change.abs()),
        s.optimizer
    )
}

/// The slow-motion panel.
#[component]
pub fn InsidePanel(ui: Ui) -> impl IntoView {
    let paused = move || ui.usable() && ui.state.get() != PageState::Training;
    let is_model = move || ui.session_kind() == Some(crate::app::catalogue::Kind::Model);
    let shown = move || ui.slow.get();
    let inside = move || ui.inside.get();
    let variational = move || inside().is_some_and(|s| matches!(s.code, CodeView::Variational { .. }));
    let sparse = move || inside().is_some_and(|s| s.sparsity.is_some());
    let code_caption = move || match inside().map(|s| s.code) {
        Some(CodeView::Variational { latent, .. }) => format!("μ (signed: red +, blue −), a block of {latent} units per digit"),
        Some(CodeView::Plain { width, .. }) => format!("The code: {width} units per digit, one block each (brighter: more active)"),
        None => String::new(),
    };
    // Auto: one step every few seconds while the panel is open and training paused.
    let auto = RwSignal::new(false);
    let pace = RwSignal::new(2.0f64);
    let generation = StoredValue::new(0u32);
    Effect::new(move |_| {
        let on = auto.get() && shown();
        let secs = pace.get();
        generation.update_value(|g| *g += 1);
        if !on {
            return;
        }
        let mine = generation.get_value();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                dom::sleep_ms(secs * 1000.0).await;
                if generation.get_value() != mine || !auto.get_untracked() {
                    return;
                }
                let st = ui.state.get_untracked();
                if st.usable() && st != PageState::Training {
                    client::send(&Command::InsideStep);
                }
            }
        });
    });
    Effect::new(move |_| {
        if let Some(s) = ui.inside.get() {
            draw_inside(&s);
        }
    });
    view! {
        <section class="panel inside-panel" id="inside" aria-labelledby="inside-title" style:display=move || if shown() { "" } else { "none" }>
            <div class="panel-head">
                <h2 id="inside-title">"Inside a step"</h2>
                <button id="inside-close" class="small" on:click=move |_| { auto.set(false); ui.slow.set(false); super::super::urlsync::slow_set(ui, false); }>"Close"</button>
            </div>
            <div class="buttons">
                <button id="inside-step" class="primary" title="Step inside (s)" aria-keyshortcuts="s" disabled=move || !paused() || !is_model()
                    on:click=move |_| client::send(&Command::InsideStep)>"Step inside"</button>
                <label class="pick"><input id="inside-auto" type="checkbox" prop:checked=move || auto.get() disabled=move || !is_model()
                    on:change=move |ev| auto.set(event_target_checked(&ev)) />" Auto, one step every"</label>
                <select id="inside-pace" aria-label="Seconds between automatic steps" prop:value=move || pace.get().to_string()
                    on:change=move |ev| pace.set(event_target_value(&ev).parse().unwrap_or(2.0))>
                    {PACES.iter().map(|p| view! { <option value=p.to_string()>{format!("{p} s")}</option> }).collect_view()}
                </select>
            </div>
            <p class="hint" id="inside-hint">{move || if !is_model() {
                "Inside a step shows a single model's training step; pick a model preset.".to_string()
            } else if inside().is_none() {
                "Pause training, then Step inside: the next training step is taken with what it computed read back from the backend, and drawn here.".to_string()
            } else {
                String::new()
            }}</p>
            <p id="inside-loss" class="inside-loss" data-before=move || inside().map(|s| s.loss_before.to_string()).unwrap_or_default()
                data-after=move || inside().map(|s| s.loss_after.to_string()).unwrap_or_default()>{move || inside().map(|s| loss_words(&s)).unwrap_or_default()}</p>
            <div class="inside-rows" style:display=move || if inside().is_some() { "" } else { "none" }>
                <figure><figcaption>{move || if inside().is_some_and(|s| s.noisy.is_some()) {
                    "Eight digits of the minibatch: clean, as the model saw them (destroyed pixels in red), reconstructed"
                } else { "Eight digits of the minibatch: clean, reconstructed" }}</figcaption>
                    <canvas id="inside-digits" class="digits" role="img" aria-label="The step's digits: clean, corrupted, reconstructed" width="224" height="84"></canvas></figure>
                <figure><figcaption>{code_caption}</figcaption>
                    <canvas id="inside-code" class="digits inside-code" role="img" aria-label="Each digit's code" width="184" height="23"></canvas></figure>
                <figure style:display=move || if variational() { "" } else { "none" }><figcaption>"σ (grey) and the sampled z = μ + σ·ε (signed)"</figcaption>
                    <canvas id="inside-sigma" class="digits inside-code" role="img" aria-label="Each digit's σ" width="48" height="5"></canvas>
                    <canvas id="inside-z" class="digits inside-code" role="img" aria-label="Each digit's sampled code z" width="48" height="5"></canvas></figure>
                <figure style:display=move || if sparse() { "" } else { "none" }><figcaption>"Each hidden unit's mean activation over the minibatch (sorted) against the target ρ"</figcaption>
                    <canvas id="inside-sparsity" class="inside-sparsity" role="img" aria-label="Mean activation of each hidden unit against ρ" width="600" height="90"></canvas></figure>
                <figure><figcaption>"The error at the output, where backpropagation starts: ∂loss/∂(output layer's input) per pixel (red +: the model gave too much ink, blue −: too little)"</figcaption>
                    <canvas id="inside-error" class="digits" role="img" aria-label="The output error of each digit" width="224" height="28"></canvas></figure>
                <figure style:display=move || if inside().is_some_and(|s| !s.units.is_empty()) { "" } else { "none" }>
                    <figcaption>{move || inside().map(|s| format!(
                        "The first-layer units the step moved most ({}): each unit's weights before the step (grey) and the update ΔW it received (red +, blue −; largest |ΔW| {})",
                        s.units.iter().map(|u| format!("unit {u}")).collect::<Vec<_>>().join(", "),
                        format_value(max_abs(&s.delta) as f64)
                    )).unwrap_or_default()}</figcaption>
                    <canvas id="inside-units" class="digits" role="img" aria-label="Weights and updates of four first-layer units" width="248" height="28"></canvas></figure>
            </div>
        </section>
    }
}
