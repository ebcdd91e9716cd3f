//! The loss panel: the loss chart (`ui::chart` draws it from each frame's chart).

use leptos::prelude::*;

use super::super::files::PanelPng;

#[component]
pub fn LossPanel() -> impl IntoView {
    view! {
        <section class="panel chart-panel">
            <div class="panel-head"><h2>"Loss"</h2><PanelPng panel="loss" ids=&["loss-chart"] /></div>
            <canvas id="loss-chart" class="chart" width="640" height="280"></canvas>
        </section>
    }
}
