//! The page's set-up in its URL (src/app/urlstate.rs has the keys): read once when the page
//! opens, kept up to date with `history.replaceState` as the preset, the noise, the backend
//! and the lecture mode change, and offered by the "Copy link" button. Opening such a link
//! reproduces the set-up: the same model, seed and backend, so the same first losses.

use std::cell::RefCell;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::config::{preset, preset_list};
use crate::app::urlstate::{self, BackendChoice, Setup, DEFAULT_PRESET};

use crate::app::protocol::BackendKind;
use crate::app::catalogue::Kind;

use super::state::{Page, Ui};
use super::{dom, lecture};

thread_local! {
    /// The set-up the page opened with; the backend choice and the lecture flag follow the
    /// user (the model and the seed come from the worker's status when a link is written).
    static SETUP: RefCell<Setup> = RefCell::new(Setup::default());
    /// A pending `replaceState` (updates are batched: Chrome throttles frequent ones).
    static PENDING: RefCell<bool> = const { RefCell::new(false) };
}

/// Reads `location.search`: stores the set-up for [`initial`], puts what was ignored into
/// the page's link note, and gives the page-level state the link sets.
pub fn page_from_url(ui: Ui) -> Page {
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
    // The loader could not run the build the link asks for (threads need a cross-origin
    // isolated page, relaxed-simd a browser that has it).
    let running = js_sys::Reflect::get(&dom::window(), &"__aeplayWasmVariant".into()).ok().and_then(|v| v.as_string());
    if let (Some(asked), Some(running)) = (&setup.build, &running) {
        if asked != running {
            notes.push(format!("build={asked} cannot run in this browser here, so the page runs {running}"));
        }
    }
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
    ui.slow.set(setup.slow);
    SETUP.with(|s| *s.borrow_mut() = setup);
    page
}

/// The set-up the page opened with (model, seed, backend choice).
pub fn initial() -> Setup {
    SETUP.with(|s| s.borrow().clone())
}

/// Whether this page load is a reload (the Navigation Timing entry's type).
fn is_reload() -> bool {
    use wasm_bindgen::JsCast;
    let window = dom::window();
    let kind = (|| {
        let perf = js_sys::Reflect::get(&window, &"performance".into()).ok()?;
        let f = js_sys::Reflect::get(&perf, &"getEntriesByType".into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
        let entries = f.call1(&perf, &"navigation".into()).ok()?.dyn_into::<js_sys::Array>().ok()?;
        js_sys::Reflect::get(&entries.get(0), &"type".into()).ok()?.as_string()
    })();
    kind.as_deref() == Some("reload")
}

/// Whether the page was opened from a link that sets up a model (any key but the
/// presentation ones): that set-up wins over the model kept in the browser. The page keeps
/// its set-up in its own address, so a reload is not a link being opened: a reload resumes.
pub fn link_sets_up() -> bool {
    let asked = dom::window().location().search().unwrap_or_default();
    !is_reload()
        && asked
            .trim_start_matches('?')
            .split('&')
            .filter(|kv| !kv.is_empty())
            .any(|kv| !["lecture", "panels", "hide", "threads", "build", "slow"].contains(&kv.split('=').next().unwrap_or("")))
}

/// The user picked a backend: links name it from now on.
pub fn backend_chosen(kind: BackendKind) {
    SETUP.with(|s| s.borrow_mut().backend = if kind == BackendKind::Gpu { BackendChoice::Gpu } else { BackendChoice::Cpu });
}

/// The user picked a thread count (None: all): links name it from now on.
pub fn threads_set(ui: Ui, n: Option<u32>) {
    SETUP.with(|s| s.borrow_mut().threads = n);
    schedule_sync(ui);
}

/// Lecture mode was toggled.
/// The slow-motion view opened or closed: the link follows.
pub fn slow_set(ui: Ui, on: bool) {
    SETUP.with(|s| s.borrow_mut().slow = on);
    schedule_sync(ui);
}

pub fn lecture_set(ui: Ui, on: bool) {
    SETUP.with(|s| s.borrow_mut().lecture = on);
    schedule_sync(ui);
}

/// The current set-up: the worker's session (model, seed, recipe and cap, or scene), with
/// the page's choices.
pub fn current(ui: Ui) -> Option<Setup> {
    let status = ui.status.get_untracked()?;
    let (main, runs) = (status.main, status.runs);
    let session = status.session;
    Some(SETUP.with(|s| {
        let mut setup = s.borrow().clone();
        setup.seed = session.seed;
        setup.scene = (session.kind == Kind::Scene).then(|| session.id.clone());
        setup.recipe = (session.kind == Kind::Recipe).then(|| session.id.clone());
        setup.cap = session.cap;
        if let Some(cfg) = session.config {
            setup.config = cfg;
        }
        // Runs compared: the others, in label order, and where the main one sits.
        setup.main_at = runs.iter().position(|r| r.id == main).unwrap_or(0);
        setup.compare = runs.into_iter().filter(|r| r.id != main).map(|r| r.config).collect();
        setup
    }))
}

/// The page's URL for the current set-up.
pub fn link(ui: Ui) -> Option<String> {
    let loc = dom::window().location();
    let base = format!("{}{}", loc.origin().ok()?, loc.pathname().ok()?);
    Some(format!("{base}?{}", urlstate::encode(&current(ui)?)))
}

/// Rewrites the address bar to the current set-up (without a navigation).
fn sync_now(ui: Ui) {
    let Some(url) = link(ui) else { return };
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
pub fn schedule_sync(ui: Ui) {
    if PENDING.with(|p| p.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        dom::sleep_ms(200.0).await;
        PENDING.with(|p| *p.borrow_mut() = false);
        sync_now(ui);
    });
}

/// Keeps the address bar in step with the page (call once, inside the App).
pub fn keep_in_sync(ui: Ui) {
    Effect::new(move |_| {
        // Everything that changes the set-up shows in the worker's status.
        ui.status.track();
        ui.state.track();
        schedule_sync(ui);
    });
}

/// Shows the link (selected, for a manual copy) and copies it where the clipboard allows.
fn copy_link(ui: Ui, page: Page) {
    let Some(url) = link(ui) else { return };
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
    let not_ready = move || !ui.usable();
    view! {
        <div class="buttons link-bar">
            <button id="copy-link" disabled=not_ready on:click=move |_| copy_link(ui, page)>"Copy link"</button>
            <button id="lecture-toggle" aria-pressed=move || page.lecture.get().to_string()
                on:click=move |_| { let on = !page.lecture.get_untracked(); page.lecture.set(on); lecture_set(ui, on); }>
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
