//! The presets gallery: one card per preset (what it is, where it comes from, what it shows)
//! with a one-click start.

use leptos::prelude::*;

use crate::app::protocol::Command;

use super::super::client;
use super::super::state::Ui;
use super::topbar::page_presets;

/// One card per preset: what it is, where it comes from, what it shows, and a start button.
#[component]
pub fn Gallery(ui: Ui) -> impl IntoView {
    let not_ready = move || !ui.usable();
    view! {
        <section id="gallery" class="panel gallery-panel">
            <h2>"Presets gallery"</h2>
            <div class="cards">
                {page_presets().into_iter().chain(crate::app::catalogue::RECIPES.iter().copied()).map(|name| {
                    let (title, source, what) = crate::app::catalogue::find(name).map_or((name, "", ""), |e| (e.title, e.source, e.what));
                    let phases = crate::app::session::recipe::page_recipe(name).map(|(_, note)| note);
                    let current = move || ui.preset_id() == name;
                    view! {
                        <article class="card" class:current=current>
                            <h3>{title}</h3>
                            <p class="source">{source}" · "<code>{name}</code></p>
                            <p>{what}</p>
                            {phases.map(|note| view! { <p class="recipe-note">{note}</p> })}
                            <button class="start-preset" data-preset=name disabled=not_ready
                                on:click=move |_| { client::send(&Command::SetPreset(name.to_string())); client::send(&Command::Train); }>
                                "Start " {title}
                            </button>
                        </article>
                    }
                }).collect_view()}
            </div>
        </section>
    }
}
