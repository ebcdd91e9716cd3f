//! "What the model learned": one figure per picture of `ui::draw::PICTURES` that sits in
//! this panel, shown when the session draws it, with its title and caption.

use leptos::prelude::*;

use crate::app::pictures::PictureId;
use crate::app::protocol::Command;

use super::super::draw::{Panel, PICTURES};
use super::super::files::PanelPng;
use super::super::state::Ui;
use super::super::client;

#[component]
pub fn PicturesPanel(ui: Ui) -> impl IntoView {
    let rows = || PICTURES.iter().filter(|r| r.panel == Panel::Pictures);
    let canvases: &'static [&'static str] = &["features", "latent", "generated", "interp", "sparsity"];
    view! {
        <section class="panel pictures-panel" style:display=move || if ui.draws(PictureId::Cloud) { "none" } else { "" }>
            <div class="panel-head"><h2>"What the model learned"</h2><PanelPng panel="pictures" ids=canvases /></div>
            <div class="pictures">
                {rows().map(|p| {
                    let shown = move || ui.draws(p.id);
                    let caption = move || ui.status.get().map(|s| (p.caption)(&s.session)).unwrap_or_default();
                    view! {
                        <figure class=format!("pic pic-{}", p.canvas) style:display=move || if shown() { "" } else { "none" }>
                            <canvas id=p.canvas width=p.size.0 height=p.size.1></canvas>
                            <figcaption><strong>{p.title}</strong>": "{caption}
                                {(p.id == PictureId::Features).then(|| view! { <span id="features-quality">{move || ui.features_quality.get().map(|q| format!(
                                    " Stroke-likeness {q:.2}: neighbouring pixels' correlation, about 0 for the random start, towards 1 for smooth strokes."
                                ))}</span> })}
                            </figcaption>
                            {(p.id == PictureId::Generated).then(|| view! { <button id="new-samples" class="small" on:click=move |_| client::send(&Command::NewSamples)>"New samples"</button> })}
                        </figure>
                    }
                }).collect_view()}
            </div>
        </section>
    }
}
