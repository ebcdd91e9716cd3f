//! The cloud panel (`linear_3d_pca`): the 3-D cloud with the model's reconstructions and
//! PCA's plane, turned by dragging, and the model's 2-D codes (`ui::cloud` draws them).

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::pictures::PictureId;

use super::super::files::PanelPng;
use super::super::state::Ui;

/// `linear_3d_pca`: the 3-D cloud with the model's reconstructions and PCA's plane, and the
/// model's 2-D codes (src/ui/cloud.rs draws them).
#[component]
pub fn CloudPanel(ui: Ui) -> impl IntoView {
    let point = |ev: &web_sys::PointerEvent| (ev.client_x() as f64, ev.client_y() as f64);
    let down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some(c) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlCanvasElement>().ok()) {
            let _ = c.set_pointer_capture(ev.pointer_id());
        }
        let (x, y) = point(&ev);
        ui.cloud.update_value(|s| s.drag_start(x, y));
    };
    let moved = move |ev: web_sys::PointerEvent| {
        let (x, y) = point(&ev);
        ui.cloud.update_value(|s| s.drag_move(x, y));
    };
    let up = move |_ev: web_sys::PointerEvent| ui.cloud.update_value(|s| s.drag_end());
    view! {
        <section class="panel cloud-panel" id="cloud-panel" style:display=move || if ui.draws(PictureId::Cloud) { "" } else { "none" }>
            <h2>"A linear autoencoder finds PCA's plane"</h2>
            <p class="hint">"200 points near a plane, each coloured by its place along the band. Black squares: the model's reconstructions, joined to their points; green: the plane of PCA with 2 components. Drag the cloud to turn it."</p>
            <div class="pictures">
                <figure><canvas id="cloud3d" width="360" height="320" style="touch-action: none; cursor: grab"
                    on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointercancel=up></canvas>
                    <figcaption>"The 3-D cloud and its reconstructions"</figcaption></figure>
                <figure><canvas id="cloud-codes" width="320" height="320"></canvas>
                    <figcaption>"The model's 2-D codes: the band unrolled"</figcaption></figure>
            </div>
            <p id="cloud-summary" data-step=move || ui.readout.get().step.to_string()>{move || ui.cloud_summary.get().unwrap_or_else(|| "Press Train: the model starts from random weights.".into())}</p>
            <PanelPng panel="cloud" ids=&["cloud3d", "cloud-codes"] />
        </section>
    }
}
