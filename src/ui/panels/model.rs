//! The model panel: what is training, as a picture and in words, the advice for a slow
//! set-up, and the settings (noise, learning rate, batch size).

use leptos::prelude::*;

use crate::app::controller::WATCHABLE_BATCH;
use crate::app::protocol::Command;
use crate::app::session::cloud::scene_model;
use crate::app::catalogue::{self, Kind};
use crate::core::config::{ModelConfig, Optimizer, MAX_WIDTH};

use super::super::state::{NoiseMode, Ui};
use super::super::{client, model_view};
use super::topbar::release_focus;

/// The model, the backend, the noise, the learning rate and the batch size.
#[component]
fn Settings(ui: Ui) -> impl IntoView {
    let noise_mode = ui.noise_mode;
    let noise_level = ui.noise_level;
    let apply_noise = move || client::send(&Command::SetNoise(noise_mode.get_untracked().noise(noise_level.get_untracked() as f32)));
    let level_label = move || match noise_mode.get() {
        NoiseMode::Gaussian => "σ ",
        NoiseMode::SaltPepper => "corrupted fraction ",
        NoiseMode::None => "(no noise) ",
        NoiseMode::Masking | NoiseMode::Dropout => "destroyed fraction ",
    };
    let model = move || ui.session_kind() == Some(Kind::Model) || ui.session_kind().is_none();
    let config = move || ui.status.get().and_then(|s| s.session.config);
    view! {
        <div class="settings" style:display=move || if model() { "" } else { "none" }>
            <label>"Noise "
                <select id="noise-kind" prop:value=move || noise_mode.get().as_str() on:change=move |ev| { noise_mode.set(NoiseMode::parse(&event_target_value(&ev))); apply_noise(); release_focus(&ev); }>
                    {NoiseMode::ALL.iter().map(|m| view! { <option value=m.as_str()>{m.label()}</option> }).collect_view()}
                </select>
            </label>
            <label>{level_label}
                <input id="noise-level" type="range" min="0" max="0.9" step="0.01" prop:value=move || noise_level.get().to_string()
                    on:input=move |ev| {
                        noise_level.set(event_target_value(&ev).parse().unwrap_or(0.1));
                        apply_noise();
                    } />
                <output id="noise-level-value">{move || format!("{:.2}", noise_level.get())}</output>
            </label>
            <label>"Learning rate "
                <input id="lr" type="number" min="0" max="10" step="any" inputmode="decimal" disabled=move || !ui.usable()
                    prop:value=move || config().map(|c| c.optimizer.lr().to_string()).unwrap_or_default()
                    on:change=move |ev| {
                        let v = event_target_value(&ev).trim().parse::<f32>().unwrap_or(f32::NAN);
                        ui.error.set(None);
                        client::send(&Command::SetLearningRate(v));
                    } />
            </label>
            <label>"Batch "
                <input id="batch" type="number" min="1" max="65536" step="1" inputmode="numeric" disabled=move || !ui.usable()
                    prop:value=move || config().map(|c| c.batch.to_string()).unwrap_or_default()
                    on:change=move |ev| {
                        let v = event_target_value(&ev).trim().parse::<usize>().unwrap_or(0);
                        ui.error.set(None);
                        client::send(&Command::SetBatch(v));
                    } />
            </label>
            <Shape ui=ui />
        </div>
    }
}

/// The main run's model with one change, sent as a new description (the run starts again).
fn send_model(ui: Ui, change: impl FnOnce(&mut ModelConfig)) {
    if let Some(mut cfg) = ui.status.get_untracked().and_then(|s| s.session.config) {
        change(&mut cfg);
        ui.error.set(None);
        client::send(&Command::SetModel(Box::new(cfg)));
    }
}

/// The optimizer's kind as the select names it.
fn optimizer_kind(o: &Optimizer) -> &'static str {
    match o {
        Optimizer::Sgd { .. } => "sgd",
        Optimizer::Momentum { .. } => "momentum",
        Optimizer::Adam { .. } => "adam",
    }
}

/// What restarts the run: the optimizer, tied weights, the code's width (to compare runs
/// that differ in them, or to try them alone).
#[component]
fn Shape(ui: Ui) -> impl IntoView {
    let config = move || ui.status.get().and_then(|s| s.session.config);
    let not_ready = move || !ui.usable();
    view! {
        <details class="shape" id="model-shape">
            <summary>"Optimizer, tied weights, code size"</summary>
            <p class="hint">"A change here starts the run again from step 0 (same seed)."</p>
            <label>"Optimizer "
                <select id="optimizer" disabled=not_ready prop:value=move || config().map(|c| optimizer_kind(&c.optimizer)).unwrap_or("sgd")
                    on:change=move |ev| {
                        let kind = event_target_value(&ev);
                        send_model(ui, |c| {
                            let lr = c.optimizer.lr();
                            c.optimizer = match kind.as_str() {
                                "momentum" => Optimizer::Momentum { lr, momentum: 0.9 },
                                "adam" => Optimizer::adam(lr),
                                _ => Optimizer::Sgd { lr },
                            };
                        });
                        release_focus(&ev);
                    }>
                    <option value="sgd">"SGD"</option>
                    <option value="momentum">"SGD with momentum 0.9"</option>
                    <option value="adam">"Adam"</option>
                </select>
            </label>
            <label><input id="tied" type="checkbox" disabled=not_ready prop:checked=move || config().is_some_and(|c| c.tied)
                on:change=move |ev| { let on = event_target_checked(&ev); send_model(ui, |c| c.tied = on); } />" Tied weights (decoder = encoderᵀ)"</label>
            <label>"Code size "
                <input id="code-size" type="number" min="1" max=MAX_WIDTH.to_string() step="1" inputmode="numeric" disabled=not_ready
                    prop:value=move || config().map(|c| c.code_dim().to_string()).unwrap_or_default()
                    on:change=move |ev| {
                        match event_target_value(&ev).trim().parse::<usize>() {
                            Ok(w) if (1..=MAX_WIDTH).contains(&w) => send_model(ui, |c| {
                                let l = c.code_layer();
                                c.dims[l] = w;
                            }),
                            _ => ui.error.set(Some(format!("The code size must be a whole number from 1 to {MAX_WIDTH}; it stays as it was."))),
                        }
                    } />
            </label>
        </details>
    }
}

/// The model panel: what is training, as a picture and in words, and its settings.
#[component]
pub fn ModelPanel(ui: Ui) -> impl IntoView {
    let about = move || catalogue::find(&ui.preset_id()).map(|e| (e.title, e.source, e.what));
    let picture = move || {
        let recipe = ui.recipe.get();
        let kind = ui.session_kind();
        match (ui.status.get().and_then(|s| s.session.config), recipe) {
            (Some(cfg), _) => model_view::svg(&cfg, &[]),
            (None, Some(r)) => r.model.as_ref().map(|m| model_view::svg(m, &r.frozen_below)).unwrap_or_default(),
            _ if kind == Some(Kind::Scene) => model_view::svg(&scene_model(), &[]),
            _ => String::new(),
        }
    };
    view! {
        <section class="panel model-panel" id="model-panel">
            <h2>"The model"</h2>
            <div id="model-picture" inner_html=picture></div>
            <p class="about" id="preset-about">
                {move || about().map(|(t, src, what)| view! { <strong>{t}</strong>" ("{src}"): "{what} }.into_any()).unwrap_or_else(|| "A custom model from the link.".into_any())}
            </p>
            <Show when=move || ui.status.get().is_some_and(|s| s.session.advice.is_some())>
                <div class="advice" id="advice">
                    <p>{move || ui.status.get().and_then(|s| s.session.advice).unwrap_or_default()}</p>
                    <button id="advice-apply" class="small" on:click=move |_| client::send(&Command::SetBatch(WATCHABLE_BATCH))>
                        {format!("Use batch {}", WATCHABLE_BATCH)}</button>
                </div>
            </Show>
            <Settings ui=ui />
        </section>
    }
}

