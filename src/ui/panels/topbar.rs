//! The top bar: the transport buttons (train, pause, step, reset), the model picker, the
//! backend picker and the menu (the link, lecture mode, files).

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::envelope::ToWorker;
use crate::app::protocol::{BackendKind, Command};
use crate::app::catalogue::{self, Kind};

use super::super::state::{Page, PageState, Ui};
use super::super::{client, files, urlsync};

/// The top bar.
#[component]
pub fn TopBar(ui: Ui, page: Page) -> impl IntoView {
    let switch = move |ev: leptos::ev::Event| {
        let kind = if event_target_value(&ev) == "gpu" { BackendKind::Gpu } else { BackendKind::Cpu };
        urlsync::backend_chosen(kind);
        client::send(&Command::SetBackend(kind));
        release_focus(&ev);
    };
    view! {
        <header class="topbar">
            <h1>"Autoencoder Playground"</h1>
            <Transport ui=ui />
            <label class="pick"><span class="pick-label">"Model"</span>
                <select id="preset-select" disabled=move || !ui.usable()
                    on:change=move |ev| {
                        client::send(&Command::SetPreset(event_target_value(&ev)));
                        release_focus(&ev);
                    }
                    prop:value=move || ui.preset_id()>
                    <optgroup label="Single models">
                        {page_presets().into_iter().filter(|n| catalogue::kind(n) == Some(Kind::Model)).map(|n| {
                            view! { <option value=n data-kind="model">{catalogue::title(n).to_string()}</option> }
                        }).collect_view()}
                    </optgroup>
                    <optgroup label="Scenes">
                        {catalogue::SCENES.iter().map(|&n| view! { <option value=n data-kind="scene">{catalogue::title(n).to_string()}</option> }).collect_view()}
                    </optgroup>
                    <optgroup label="Multi-phase recipes">
                        {catalogue::RECIPES.iter().map(|&n| {
                            view! { <option value=n data-recipe="1">{catalogue::title(n).to_string()}</option> }
                        }).collect_view()}
                    </optgroup>
                    <Show when=move || ui.preset_id() == "custom">
                        <option value="custom">"A custom model from the link"</option>
                    </Show>
                </select>
            </label>
            <label class="pick"><span class="pick-label">"Runs on"</span>
                <select id="backend-select" disabled=move || !ui.usable() on:change=switch
                    prop:value=move || ui.backend_kind().name()>
                    <option value="gpu" disabled=move || !ui.status.get().is_some_and(|s| s.gpu_available)>"WebGPU"</option>
                    <option value="cpu">"CPU (WebAssembly)"</option>
                </select>
            </label>
            <details class="menu" id="menu">
                <summary aria-label="More: files, link, lecture mode, shortcuts"><span aria-hidden="true">"☰"</span>" More"</summary>
                <div class="menu-box">
                    <div class="buttons">
                        <button id="compare" title="Compare runs (a)" aria-keyshortcuts="a" disabled=move || !ui.usable() || ui.session_kind() != Some(Kind::Model) || ui.runs.with(|r| r.len() >= crate::app::protocol::MAX_RUNS)
                            on:click=move |_| client::send(&Command::Compare)>"Compare: add a run"</button>
                        <button id="inside-open" aria-pressed=move || ui.slow.get().to_string() disabled=move || ui.session_kind() != Some(Kind::Model)
                            on:click=move |_| { let on = !ui.slow.get_untracked(); ui.slow.set(on); urlsync::slow_set(ui, on); }>
                            {move || if ui.slow.get() { "Close Inside a step" } else { "Inside a step" }}
                        </button>
                    </div>
                    <urlsync::LinkBar ui=ui page=page />
                    <ThreadsPick ui=ui />
                    <files::FileControls ui=ui />
                </div>
            </details>
        </header>
    }
}

/// The CPU path's thread count (the worker's pool, or fewer): shown where the pool has
/// more than one thread. Results are the same on any count; the speed is not.
#[component]
fn ThreadsPick(ui: Ui) -> impl IntoView {
    let pool = move || ui.threads.get().map(|t| t.pool).unwrap_or(1);
    // "all" while every thread of the pool is in use.
    let chosen = move || ui.threads.get().map(|t| if t.used >= t.pool { 0 } else { t.used }).unwrap_or(0).to_string();
    view! {
        <Show when=move || { pool() > 1 }>
            <label class="pick"><span class="pick-label">"CPU threads"</span>
                <select id="threads-select" prop:value=chosen
                    on:change=move |ev| {
                        let n: u32 = event_target_value(&ev).parse().unwrap_or(0);
                        urlsync::threads_set(ui, (n > 0).then_some(n));
                        client::send_to_worker(&ToWorker::Threads(n));
                        release_focus(&ev);
                    }>
                    <option value="0">{move || format!("all ({})", pool())}</option>
                    {move || (1..=pool()).map(|n| view! { <option value=n.to_string()>{n.to_string()}</option> }).collect_view()}
                </select>
            </label>
        </Show>
    }
}

/// Everything the preset picker and the gallery offer: the models, then the scenes.
pub fn page_presets() -> Vec<&'static str> {
    catalogue::ENTRIES.iter().filter(|e| e.kind != Kind::Recipe).map(|e| e.id).collect()
}

/// The buttons that drive training: icons with accessible names and keyboard shortcuts.
#[component]
pub fn Transport(ui: Ui) -> impl IntoView {
    let running = move || ui.state.get() == PageState::Training;
    view! {
        <div class="transport" role="group" aria-label="Training">
            <button id="train" class="primary" title="Train (space)" aria-keyshortcuts="Space" disabled=move || !ui.usable() || running()
                on:click=move |_| client::send(&Command::Train)><span class="icon" aria-hidden="true">"▶"</span>" Train"</button>
            <button id="pause" title="Pause (space)" aria-keyshortcuts="Space" disabled=move || !ui.usable() || !running()
                on:click=move |_| client::send(&Command::Pause)><span class="icon" aria-hidden="true">"❚❚"</span>" Pause"</button>
            <button id="step" title="One training step (s)" aria-keyshortcuts="s" disabled=move || !ui.usable() || running()
                on:click=move |_| client::send(&Command::Step)><span class="icon" aria-hidden="true">"▶❘"</span>" Step"</button>
            <button id="reset" title="Start over (r)" aria-keyshortcuts="r" disabled=move || !ui.usable()
                on:click=move |_| client::send(&Command::Reset)><span class="icon" aria-hidden="true">"↺"</span>" Reset"</button>
        </div>
    }
}

/// Blurs the element an event came from: after a choice in a list, the page has the focus
/// again and the shortcuts work.
pub fn release_focus(ev: &leptos::ev::Event) {
    if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.blur();
    }
}

