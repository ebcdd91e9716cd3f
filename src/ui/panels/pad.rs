//! The draw pad: a digit drawn with the mouse or a finger, sent to the worker as a 28×28
//! image; the model's view of it (input, corrupted, reconstructed) is drawn from the frames
//! (`ui::draw`'s pad row).

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::protocol::Command;
use crate::core::config::NoiseKind;

use super::super::files::PanelPng;
use super::super::state::Ui;
use super::super::{client, dom};

/// Converts a pointer event to canvas pixel coordinates.
fn pad_point(ev: &web_sys::PointerEvent) -> Option<(f64, f64, web_sys::HtmlCanvasElement)> {
    let c: web_sys::HtmlCanvasElement = ev.target()?.dyn_into().ok()?;
    let rect = c.get_bounding_client_rect();
    let x = (ev.client_x() as f64 - rect.left()) * c.width() as f64 / rect.width().max(1.0);
    let y = (ev.client_y() as f64 - rect.top()) * c.height() as f64 / rect.height().max(1.0);
    Some((x, y, c))
}

fn stroke_to(c: &web_sys::HtmlCanvasElement, from: (f64, f64), to: (f64, f64)) {
    if let Some(ctx) = dom::ctx2d(c) {
        ctx.set_stroke_style_str("#fff");
        ctx.set_fill_style_str("#fff");
        ctx.set_line_width(22.0);
        ctx.set_line_cap("round");
        ctx.set_line_join("round");
        ctx.begin_path();
        ctx.move_to(from.0, from.1);
        ctx.line_to(to.0 + 0.01, to.1);
        ctx.stroke();
    }
}

/// The drawing as the model sees it: shown at once, sent to the worker.
fn pad_changed() {
    let img = dom::read_gray("pad").map(|(v, w, h)| crate::data::draw::to_mnist(&v, w, h)).filter(|img| img.iter().any(|&p| p > 0.0));
    match &img {
        Some(i) => dom::draw_digit("pad-input", i),
        None => dom::clear_pad(),
    }
    client::send(&Command::PadInk(img));
}

pub fn pad_clear() {
    dom::clear("pad", "#000");
    pad_changed();
}

#[component]
pub fn DrawPad(ui: Ui) -> impl IntoView {
    let last = RwSignal::new(None::<(f64, f64)>);
    let down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some((x, y, c)) = pad_point(&ev) {
            let _ = c.set_pointer_capture(ev.pointer_id());
            stroke_to(&c, (x, y), (x, y));
            last.set(Some((x, y)));
            pad_changed();
        }
    };
    let moved = move |ev: web_sys::PointerEvent| {
        let Some(prev) = last.get_untracked() else { return };
        ev.prevent_default();
        if let Some((x, y, c)) = pad_point(&ev) {
            stroke_to(&c, prev, (x, y));
            last.set(Some((x, y)));
            pad_changed();
        }
    };
    let up = move |_ev: web_sys::PointerEvent| last.set(None);
    // The pad is read back on every stroke: create its context with willReadFrequently
    // before anything else touches it.
    Effect::new(move |_| {
        let _ = dom::read_gray("pad");
        dom::clear("pad", "#000");
    });
    let noisy = move || ui.status.get().and_then(|s| s.session.config).is_some_and(|c| c.noise != NoiseKind::None);
    view! {
        <section class="panel pad-panel">
            <h2>"Draw a digit"</h2>
            <p class="hint">"With the mouse or a finger: the model sees a 28×28 digit, corrupts it and reconstructs it."</p>
            <div class="pad-row">
                <canvas id="pad" width="280" height="280"
                    on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointercancel=up></canvas>
                <div class="pad-outputs">
                    <figure><canvas id="pad-input" class="digit" width="28" height="28"></canvas><figcaption>"model input"</figcaption></figure>
                    <figure style:display=move || if noisy() { "" } else { "none" }><canvas id="pad-noisy" class="digit" width="28" height="28"></canvas><figcaption>"corrupted"</figcaption></figure>
                    <figure><canvas id="pad-out" class="digit" width="28" height="28"></canvas><figcaption>{move || match ui.pad_class.get() {
                        Some(d) => format!("read as a {d}"),
                        None => "reconstructed".into(),
                    }}</figcaption></figure>
                </div>
            </div>
            <div class="buttons">
                <button id="pad-clear" disabled=move || !ui.usable() on:click=move |_| pad_clear()>"Clear"</button>
                <button id="pad-noise" disabled=move || !ui.usable() on:click=move |_| client::send(&Command::NewNoise)>"New noise"</button>
                <PanelPng panel="pad" ids=&["pad", "pad-input", "pad-noisy", "pad-out"] />
            </div>
        </section>
    }
}
