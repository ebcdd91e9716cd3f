//! The page's set-up in its URL (src/core/urlstate.rs has the keys): read once when the page
//! opens, kept up to date with `history.replaceState` as the preset, the noise, the backend
//! and the lecture mode change, and offered by the "Copy link" button. Opening such a link
//! reproduces the set-up: the same model, seed and backend, so the same first losses.

use std::cell::RefCell;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::config::{preset, preset_list};
use crate::core::urlstate::{self, BackendChoice, Setup, DEFAULT_PRESET};

use super::{dom, engine, lecture, Ui};

thread_local! {
    /// The set-up the page opened with; the backend choice and the lecture flag follow the
    /// user (the model and the seed are read from the engine when a link is written).
    static SETUP: RefCell<Setup> = RefCell::new(Setup::default());
    /// A pending `replaceState` (updates are batched: Chrome throttles frequent ones).
    static PENDING: RefCell<bool> = const { RefCell::new(false) };
}

/// Page-level state that is not the model's: lecture mode, the help overlay, the link.
#[derive(Clone, Copy)]
pub struct Page {
    pub lecture: RwSignal<bool>,
    pub help: RwSignal<bool>,
    /// Controls hidden in lecture mode, and the visible panels (None: all).
    pub hide: RwSignal<Vec<String>>,
    pub panels: RwSignal<Option<Vec<String>>>,
    /// The link shown by "Copy link", and what happened to the clipboard.
    pub link: RwSignal<Option<String>>,
    pub copied: RwSignal<String>,
}

impl Page {
    /// Reads `location.search`: stores the set-up for [`initial`], and puts what was ignored
    /// into the page's link note.
    pub fn from_url(ui: Ui) -> Page {
        let search = dom::window().location().search().unwrap_or_default();
        let decoded = urlstate::decode(&search);
        let mut notes = Vec::new();
        // Keep the wording the page used before the full URL state for an unknown preset.
        let asked = search.trim_start_matches('?').split('&').filter_map(|kv| kv.strip_prefix("preset=")).last();
        for n in decoded.notes {
            match asked {
                Some(name) if n.starts_with("preset=") && name != "custom" && preset(name).is_none() => notes.push(format!(
                    "Unknown preset '{name}' in the link: starting with {DEFAULT_PRESET}. Presets: {}",
                    preset_list()
                )),
                _ => notes.push(n),
            }
        }
        let setup = decoded.setup;
        notes.extend(lecture::check_names(&setup));
        if !notes.is_empty() {
            ui.link_note.set(Some(format!("Link: {}.", notes.join("; "))));
        }
        let page = Page {
            lecture: RwSignal::new(setup.lecture),
            help: RwSignal::new(false),
            hide: RwSignal::new(setup.hide.clone()),
            panels: RwSignal::new(setup.panels.clone()),
            link: RwSignal::new(None),
            copied: RwSignal::new(String::new()),
        };
        SETUP.with(|s| *s.borrow_mut() = setup);
        page
    }
}

/// The set-up the page opened with (model, seed, backend choice).
pub fn initial() -> Setup {
    SETUP.with(|s| s.borrow().clone())
}

/// The engine backend for a backend choice (auto: WebGPU where the browser has it).
pub fn kind(choice: BackendChoice) -> engine::Kind {
    match choice {
        BackendChoice::Cpu => engine::Kind::Cpu,
        BackendChoice::Gpu | BackendChoice::Auto => engine::Kind::Gpu,
    }
}

/// The user picked a backend: links name it from now on.
pub fn backend_chosen(kind: engine::Kind) {
    SETUP.with(|s| s.borrow_mut().backend = if kind == engine::Kind::Gpu { BackendChoice::Gpu } else { BackendChoice::Cpu });
    schedule_sync();
}

/// Lecture mode was toggled.
pub fn lecture_set(on: bool) {
    SETUP.with(|s| s.borrow_mut().lecture = on);
    schedule_sync();
}

/// The current set-up: the engine's model and seed, with the page's choices.
pub fn current() -> Option<Setup> {
    let (config, seed) = engine::current_setup()?;
    let scene = super::cloud::active().then(|| super::cloud::NAME.to_string());
    let (recipe, cap) = match super::recipe::current() {
        Some((name, cap)) => (Some(name), cap),
        None => (None, None),
    };
    Some(SETUP.with(|s| Setup { config, seed, scene, recipe, cap, ..s.borrow().clone() }))
}

/// The page's URL for the current set-up.
pub fn link() -> Option<String> {
    let loc = dom::window().location();
    let base = format!("{}{}", loc.origin().ok()?, loc.pathname().ok()?);
    Some(format!("{base}?{}", urlstate::encode(&current()?)))
}

/// Rewrites the address bar to the current set-up (without a navigation).
fn sync_now() {
    let Some(url) = link() else { return };
    let w = dom::window();
    if w.location().href().ok().as_deref() == Some(url.as_str()) {
        return;
    }
    let Ok(history) = js_sys::Reflect::get(&w, &"history".into()) else { return };
    let Ok(replace) = js_sys::Reflect::get(&history, &"replaceState".into()) else { return };
    if let Some(f) = replace.dyn_ref::<js_sys::Function>() {
        let _ = f.call3(&history, &JsValue::NULL, &JsValue::from_str(""), &JsValue::from_str(&url));
    }
}

/// Updates the address bar soon (at most five times a second).
pub fn schedule_sync() {
    if PENDING.with(|p| p.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        dom::sleep_ms(200).await;
        PENDING.with(|p| *p.borrow_mut() = false);
        sync_now();
    });
}

/// Keeps the address bar in step with the page (call once, inside the App).
pub fn keep_in_sync(ui: Ui) {
    Effect::new(move |_| {
        // Everything that changes the set-up shows in one of these.
        ui.state.track();
        ui.preset.track();
        ui.noise_kind.track();
        ui.noise_level.track();
        ui.backend_kind.track();
        ui.lr.track();
        ui.batch.track();
        schedule_sync();
    });
}

/// Shows the link (selected, for a manual copy) and copies it where the clipboard allows.
fn copy_link(page: Page) {
    let Some(url) = link() else { return };
    page.link.set(Some(url.clone()));
    page.copied.set("Select and copy the link:".into());
    wasm_bindgen_futures::spawn_local(async move {
        dom::yield_now().await;
        if let Some(input) = dom::window().document().and_then(|d| d.get_element_by_id("link-text")) {
            if let Ok(input) = input.dyn_into::<web_sys::HtmlInputElement>() {
                let _ = input.focus();
                input.select();
            }
        }
        let nav = dom::window().navigator();
        let clip = js_sys::Reflect::get(&nav, &"clipboard".into()).ok().filter(|c| c.is_object());
        let write = clip.as_ref().and_then(|c| js_sys::Reflect::get(c, &"writeText".into()).ok());
        if let (Some(clip), Some(write)) = (clip, write.and_then(|w| w.dyn_into::<js_sys::Function>().ok())) {
            if let Ok(promise) = write.call1(&clip, &JsValue::from_str(&url)) {
                if let Ok(promise) = promise.dyn_into::<js_sys::Promise>() {
                    if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
                        page.copied.set("Link copied to the clipboard:".into());
                    }
                }
            }
        }
    });
}

/// "Copy link" and the lecture-mode toggle.
#[component]
pub fn LinkBar(ui: Ui, page: Page) -> impl IntoView {
    let not_ready = move || matches!(ui.state.get().as_str(), "loading" | "error");
    view! {
        <div class="buttons link-bar">
            <button id="copy-link" disabled=not_ready on:click=move |_| copy_link(page)>"Copy link"</button>
            <button id="lecture-toggle" aria-pressed=move || page.lecture.get().to_string()
                on:click=move |_| { let on = !page.lecture.get_untracked(); page.lecture.set(on); lecture_set(on); }>
                {move || if page.lecture.get() { "Leave lecture mode" } else { "Lecture mode" }}
            </button>
            <button id="help-open" aria-haspopup="dialog" on:click=move |_| page.help.set(true)>"Shortcuts (?)"</button>
            <Show when=move || page.link.get().is_some()>
                <label class="link-field">{move || page.copied.get()}" "
                    <input id="link-text" type="text" readonly prop:value=move || page.link.get().unwrap_or_default() />
                </label>
            </Show>
        </div>
    }
}
