//! Teaching with the page: lecture mode (a one-screen layout with large text for a
//! projector), the visible panels (`panels=`) and hidden controls (`hide=`, in every mode, so
//! a slim link can go to students), keyboard shortcuts with a help overlay, and the presets
//! gallery (`ui::panels::gallery`).

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::urlstate::Setup;

use crate::app::protocol::Command;

use super::panels::pad::pad_clear;
use super::state::{Page, PageState, Ui};
use super::{client, dom};

/// Panels `panels=` can list (and `hide=` can hide): name and the element.
const PANELS: &[(&str, &str)] = &[
    ("chart", ".chart-panel"),
    ("recon", ".recon-panel"),
    ("runs", ".runs-panel"),
    ("inside", ".inside-panel"),
    ("pad", ".pad-panel"),
    ("pictures", ".pictures-panel"),
    ("model", ".model-panel"),
    ("gallery", "#gallery"),
];

/// Controls `hide=` can hide in lecture mode: name and elements (`label:` = the label
/// around the element with that id).
const CONTROLS: &[(&str, &[&str])] = &[
    ("preset", &["label:preset-select"]),
    ("backend", &["label:backend-select"]),
    ("noise", &["label:noise-kind", "label:noise-level", "#pad-noise"]),
    ("lr", &["label:lr"]),
    ("batch", &["label:batch"]),
    ("train", &["#train"]),
    ("pause", &["#pause"]),
    ("step", &["#step"]),
    ("reset", &["#reset"]),
    ("stats", &[".statusbar .stats"]),
    ("link", &["#copy-link"]),
    ("about", &["#preset-about"]),
    ("data", &[".data-line"]),
    ("menu", &["#menu"]),
];

/// The keyboard shortcuts, as the help overlay lists them.
const SHORTCUTS: &[(&str, &str)] = &[
    ("space", "train / pause"),
    ("s", "one training step (in slow motion while Inside a step is open)"),
    ("r", "reset the model"),
    ("n", "new noise for the drawing"),
    ("c", "clear the draw pad"),
    ("a", "add a run to compare (a copy of the main run, same seed)"),
    ("?", "show or hide this help"),
    ("Esc", "close this help"),
];

/// Notes on the names in `panels=` and `hide=` that the page does not have.
pub fn check_names(setup: &Setup) -> Vec<String> {
    let mut notes = Vec::new();
    let panel_names = || PANELS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ");
    for n in setup.panels.iter().flatten() {
        if !PANELS.iter().any(|p| p.0 == n) {
            notes.push(format!("panels: no panel called '{n}' (panels: {})", panel_names()));
        }
    }
    for n in &setup.hide {
        if !PANELS.iter().any(|p| p.0 == n) && !CONTROLS.iter().any(|c| c.0 == n) {
            let names: Vec<&str> = CONTROLS.iter().map(|c| c.0).chain(PANELS.iter().map(|p| p.0)).collect();
            notes.push(format!("hide: no control called '{n}' (controls: {})", names.join(", ")));
        }
    }
    notes
}

/// The elements a target names (see [`CONTROLS`]).
fn elements(target: &str) -> Vec<web_sys::Element> {
    let Some(doc) = dom::window().document() else { return Vec::new() };
    if let Some(id) = target.strip_prefix("label:") {
        return doc.get_element_by_id(id).and_then(|e| e.closest("label").ok().flatten()).into_iter().collect();
    }
    let Ok(list) = doc.query_selector_all(target) else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<web_sys::Element>().ok()).collect()
}

fn set_hidden(target: &str, hidden: bool) {
    for el in elements(target) {
        let _ = if hidden { el.set_attribute("hidden", "") } else { el.remove_attribute("hidden") };
    }
}

/// Shows and hides panels and controls as `panels=` and `hide=` say (in every mode).
fn apply_visibility(page: Page) {
    Effect::new(move |_| {
        let hide = page.hide.get();
        let panels = page.panels.get();
        let hidden = |name: &str| hide.iter().any(|h| h == name);
        for &(name, sel) in PANELS {
            let off = panels.as_ref().is_some_and(|p| !p.iter().any(|n| n == name));
            set_hidden(sel, off || hidden(name));
        }
        for &(name, targets) in CONTROLS {
            for t in targets {
                set_hidden(t, hidden(name));
            }
        }
    });
}

/// Whether a key event comes from somewhere the user types.
fn typing(ev: &web_sys::KeyboardEvent) -> bool {
    let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) else { return false };
    matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA") || el.is_content_editable()
}

fn on_key(ui: Ui, page: Page, ev: web_sys::KeyboardEvent) {
    if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || ev.repeat() || typing(&ev) {
        return;
    }
    let key = ev.key();
    match key.as_str() {
        "?" => page.help.update(|h| *h = !*h),
        "Escape" => page.help.set(false),
        _ => {}
    }
    let state = ui.state.get_untracked();
    if !state.usable() {
        return;
    }
    let running = state == PageState::Training;
    match key.to_lowercase().as_str() {
        " " => {
            ev.prevent_default(); // no page scroll, and no click on a focused button
            if let Some(b) = dom::window().document().and_then(|d| d.active_element()).and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
                if b.tag_name() == "BUTTON" {
                    let _ = b.blur();
                }
            }
            client::send(if running { &Command::Pause } else { &Command::Train });
        }
        "s" if !running => client::send(if ui.slow.get_untracked() { &Command::InsideStep } else { &Command::Step }),
        "r" => client::send(&Command::Reset),
        "n" => client::send(&Command::NewNoise),
        "c" => pad_clear(),
        "a" => client::send(&Command::Compare),
        _ => {}
    }
}

/// Installs lecture mode's behaviour: visibility, the keyboard shortcuts.
pub fn install(ui: Ui, page: Page) {
    apply_visibility(page);
    let handle = window_event_listener(leptos::ev::keydown, move |ev| on_key(ui, page, ev));
    std::mem::forget(handle); // for the page's lifetime
}

/// The help overlay listing the shortcuts.
#[component]
pub fn Help(page: Page) -> impl IntoView {
    view! {
        <Show when=move || page.help.get()>
            <div id="help" class="overlay" role="dialog" aria-modal="true" aria-labelledby="help-title">
                <div class="overlay-box">
                    <h2 id="help-title">"Keyboard shortcuts"</h2>
                    <dl class="shortcuts">
                        {SHORTCUTS.iter().map(|&(k, what)| view! { <dt><kbd>{k}</kbd></dt><dd>{what}</dd> }).collect_view()}
                    </dl>
                    <p class="hint">"Shortcuts do nothing while a text field or a list has the focus."</p>
                    <button id="help-close" on:click=move |_| page.help.set(false)>"Close"</button>
                </div>
            </div>
        </Show>
    }
}
