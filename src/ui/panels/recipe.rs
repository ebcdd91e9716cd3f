//! The recipe panel: a multi-phase recipe's phases (done, current, next), its progress, the
//! step cap, the result and its charts, drawn from the frames' `RecipeView` (the recipe
//! itself runs in the training worker, `app::session::recipe`).

use leptos::prelude::*;

use crate::app::pictures::RecipeView;
use crate::app::protocol::Command;
use crate::app::catalogue;

use super::super::state::Ui;
use super::super::{chart, client};

/// Draws the panel's charts (its canvases exist while a recipe is shown).
pub fn draw_charts(v: &RecipeView) {
    chart::draw_chart("recipe-loss", &v.loss_chart, "Each phase's losses appear here once it reports.");
    if let Some(m) = &v.metric_chart {
        chart::draw_chart("recipe-metric", m, "The accuracy appears here once the classifiers report.");
    }
}

#[component]
pub fn RecipePanel(ui: Ui) -> impl IntoView {
    let active = move || ui.session_kind() == Some(catalogue::Kind::Recipe);
    let name = move || ui.preset_id();
    let view_of = move || ui.recipe.get();
    let has_metric = move || view_of().is_some_and(|v| v.metric_chart.is_some());
    let metric_caption = move || match name().as_str() {
        "pretrain_classifier" => "Test accuracy per epoch of the classifier whose first layer starts from the pre-trained encoder, and of the same classifier from random weights (same batches, same seed).",
        "sda" => "Fine-tuning: validation error and test error after each epoch; the dashed line is the final test error (of the model with the best validation error).",
        _ => "",
    };
    let cap_input = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        let cap = v.trim().parse::<u64>().ok().filter(|&c| c > 0);
        client::send(&Command::SetCap(cap));
    };
    // Draw the charts once their canvases are in the page (after the panel appears).
    Effect::new(move |_| {
        if let Some(v) = ui.recipe.get() {
            request_animation_frame(move || draw_charts(&v));
        }
    });
    view! {
        <Show when=active>
            <section id="recipe" class="panel recipe-panel" data-recipe=name
                data-phase=move || view_of().map(|v| v.current.to_string()).unwrap_or_default()
                data-status=move || view_of().map(|v| v.status.as_str()).unwrap_or("paused")>
                <h2>"Multi-phase recipe: " {move || catalogue::title(&name()).to_string()}</h2>
                <p class="hint" id="recipe-settings">{move || ui.status.get().and_then(|s| s.session.settings).unwrap_or_default()}</p>
                <ol id="recipe-phases">
                    {move || view_of().map(|v| v.phases).unwrap_or_default().into_iter().map(|p| {
                        let state = p.state.as_str();
                        view! { <li class=state data-state=state><strong>{p.name}</strong>": "{p.what}{if state == "current" { " ◀" } else { "" }}</li> }
                    }).collect_view()}
                </ol>
                <div id="recipe-progress" role="status">{move || view_of().map(|v| v.progress).unwrap_or_default()}</div>
                <label>"Steps per phase at most "
                    <input id="recipe-cap" type="number" min="1" placeholder="all"
                        prop:value=move || ui.status.get().and_then(|s| s.session.cap).map(|c| c.to_string()).unwrap_or_default()
                        on:change=cap_input />
                    <span class="hint">" (empty: whole epochs; changing it restarts the recipe)"</span>
                </label>
                <Show when=move || view_of().is_some_and(|v| v.summary.is_some())>
                    <div id="recipe-summary"><strong>{move || view_of().and_then(|v| v.summary).unwrap_or_default()}</strong></div>
                </Show>
                <Show when=move || ui.recipe_pad_note.get().is_some()>
                    <div id="recipe-pad-note">{move || ui.recipe_pad_note.get().unwrap_or_default()}</div>
                </Show>
                <div class="recipe-charts">
                <figure><canvas id="recipe-loss" class="chart" width="640" height="260"></canvas>
                    <figcaption>"Each phase's training loss and test loss at the end of its epochs, against the steps of all phases (inner phases' losses are on codes, not pixels)."</figcaption></figure>
                <Show when=has_metric>
                    <figure><canvas id="recipe-metric" class="chart" width="640" height="260"></canvas>
                        <figcaption>{metric_caption}</figcaption></figure>
                </Show>
                </div>
            </section>
        </Show>
    }
}
