//! Files in and out of the page: "Save model" downloads the model as a safetensors file
//! (`src/io/saved.rs`), "Load model" continues one; the last trained model is kept in the
//! browser's storage (`store.rs`) and resumed when the page is opened again; every canvas
//! can be saved as a PNG and the loss history as CSV.

use std::cell::Cell;
use std::collections::BTreeMap;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::io::saved::{from_safetensors, to_safetensors, LoadError, MAX_FILE_BYTES};

use super::{dom, engine, store, Ui};

/// While training, the stored model is refreshed this often.
const STORE_EVERY_MS: f64 = 30_000.0;
/// How often the keeper looks whether there is something new to store.
const STORE_POLL_MS: i32 = 1000;

thread_local! {
    /// Step of the model in the browser's storage (0: none).
    static STORED_STEP: Cell<u64> = const { Cell::new(0) };
    /// Bumped by "Start fresh": a store under way when it was pressed is dropped.
    static STORE_GEN: Cell<u64> = const { Cell::new(0) };
    static LAST_STORE_MS: Cell<f64> = const { Cell::new(f64::NEG_INFINITY) };
}

/// `window.__aeplayStored`: the step of the stored model (0: none), for the tests.
fn publish_stored(step: u64) {
    STORED_STEP.with(|s| s.set(step));
    let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayStored".into(), &JsValue::from_f64(step as f64));
}

fn document() -> web_sys::Document {
    dom::window().document().expect("no document")
}

/// Downloads `href` as `name` through a temporary `<a download>`.
fn download_href(href: &str, name: &str) {
    let doc = document();
    let Ok(a) = doc.create_element("a").map(|a| a.unchecked_into::<web_sys::HtmlAnchorElement>()) else { return };
    a.set_href(href);
    a.set_download(name);
    let _ = a.set_attribute("style", "display:none");
    if let Some(body) = doc.body() {
        let _ = body.append_child(&a);
        a.click();
        let _ = body.remove_child(&a);
    }
}

/// Downloads bytes as a file (a Blob behind an object URL, revoked a minute later).
fn download_bytes(bytes: &[u8], mime: &str, name: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    download_href(&url, name);
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let _ = dom::window().set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    Ok(())
}

/// "Save model": `<preset>-step<N>.safetensors`.
async fn save_model(ui: Ui) {
    if super::cloud::active() {
        ui.note.set(Some(format!(
            "{} is not saved to a file: its 3→2→3 model trains in seconds. Saving works for the MNIST presets.",
            super::cloud::NAME
        )));
        return;
    }
    let Some(reading) = engine::capture() else { return };
    match reading.await {
        Ok(m) => {
            let name = format!("{}-step{}.safetensors", m.config.name, m.step);
            if let Err(e) = download_bytes(&to_safetensors(&m), "application/octet-stream", &name) {
                ui.error.set(Some(format!("Could not save the model: {e}")));
            }
        }
        Err(e) => ui.error.set(Some(format!("Could not read the model back to save it: {e}"))),
    }
}

/// "Load model": checks and installs a saved model, or says why not (the current model
/// stays untouched).
async fn load_file(ui: Ui, file: web_sys::File) {
    let name = file.name();
    let size = file.size();
    if size > MAX_FILE_BYTES as f64 {
        let e = LoadError::TooLarge { bytes: size as usize, limit: MAX_FILE_BYTES };
        ui.error.set(Some(format!("Could not load {name}: {e}")));
        return;
    }
    let bytes = match JsFuture::from(file.array_buffer()).await {
        Ok(buf) => js_sys::Uint8Array::new(&buf).to_vec(),
        Err(e) => {
            ui.error.set(Some(format!("Could not read {name}: {e:?}")));
            return;
        }
    };
    let result = from_safetensors(&bytes).map_err(|e| e.to_string()).and_then(|m| engine::install_saved(ui, &m).map(|_| m));
    match result {
        Ok(m) => {
            ui.error.set(None);
            ui.note.set(Some(format!("Loaded {name}: {} at step {}.", m.config.name, m.step)));
            ui.state.set("paused".into());
        }
        Err(e) => ui.error.set(Some(format!("Could not load {name}: {e}"))),
    }
}

/// The loss history as CSV: `step,train_loss,test_loss`, one row per recorded step.
pub fn loss_csv(train: &[(u64, f64)], test: &[(u64, f64)]) -> String {
    let mut rows: BTreeMap<u64, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for &(s, l) in train {
        rows.entry(s).or_default().0 = Some(l);
    }
    for &(s, l) in test {
        rows.entry(s).or_default().1 = Some(l);
    }
    let cell = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = String::from("step,train_loss,test_loss\n");
    for (s, (a, b)) in rows {
        out.push_str(&format!("{s},{},{}\n", cell(a), cell(b)));
    }
    out
}

fn save_csv(ui: Ui) {
    let (train, test) = engine::histories();
    let name = format!("{}-loss.csv", ui.preset.get_untracked());
    if let Err(e) = download_bytes(loss_csv(&train, &test).as_bytes(), "text/csv", &name) {
        ui.error.set(Some(format!("Could not save the losses: {e}")));
    }
}

fn save_png(ui: Ui, id: &str) {
    let Some(c) = dom::canvas(id) else { return };
    match c.to_data_url() {
        Ok(url) => download_href(&url, &format!("{}-step{}-{id}.png", ui.preset.get_untracked(), ui.step.get_untracked())),
        Err(e) => ui.error.set(Some(format!("Could not save the picture {id}: {e:?}"))),
    }
}

/// A small "PNG" button that saves the canvas `id`.
#[component]
pub fn Png(ui: Ui, id: &'static str) -> impl IntoView {
    view! {
        <button class="save-png" data-canvas=id title="Save this picture as PNG" on:click=move |_| save_png(ui, id)>"PNG"</button>
    }
}

/// The buttons: save / load a model, start fresh, the losses as CSV.
#[component]
pub fn FileControls(ui: Ui) -> impl IntoView {
    let not_ready = move || matches!(ui.state.get().as_str(), "loading" | "error");
    let picked = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            wasm_bindgen_futures::spawn_local(load_file(ui, file));
        }
        input.set_value(""); // choosing the same file again loads it again
    };
    view! {
        <div class="buttons files">
            <button id="save-model" disabled=not_ready title="Download the model (architecture, weights, optimizer state, step) as a safetensors file"
                on:click=move |_| wasm_bindgen_futures::spawn_local(save_model(ui))>"Save model"</button>
            <label class="file-button">"Load model "
                <input id="load-model" type="file" accept=".safetensors" disabled=not_ready on:change=picked />
            </label>
            <button id="forget-model" disabled=not_ready title="Forget the model kept in this browser and start over"
                on:click=move |_| wasm_bindgen_futures::spawn_local(forget(ui))>"Start fresh"</button>
            <button id="save-csv" disabled=not_ready title="Download the loss history as CSV" on:click=move |_| save_csv(ui)>"Losses CSV"</button>
        </div>
    }
}

/// "Start fresh": forgets the stored model and resets the page's model.
async fn forget(ui: Ui) {
    STORE_GEN.with(|g| g.set(g.get() + 1));
    if let Err(e) = store::delete().await {
        web_sys::console::warn_1(&format!("aeplay: could not clear the stored model: {e}").into());
    }
    publish_stored(0);
    if ui.note.get_untracked().is_some_and(|n| n.contains("from this browser's storage")) {
        ui.note.set(None);
    }
    engine::reset(ui);
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

fn add_note(ui: Ui, note: String) {
    let note = match ui.note.get_untracked() {
        Some(n) => format!("{n} {note}"),
        None => note,
    };
    ui.note.set(Some(note));
}

/// Called once the model is built: resumes the model kept in this browser (unless the
/// link asks for another preset), then keeps storing the trained model.
pub async fn resume_stored(ui: Ui) {
    publish_stored(0);
    match store::get().await {
        Ok(Some(bytes)) => match from_safetensors(&bytes).map_err(|e| e.to_string()) {
            Ok(m) => {
                let asked = dom::window().location().search().unwrap_or_default();
                // A link that sets up a model (any key but the presentation ones) must
                // reproduce that set-up from its start: it wins, and the stored model
                // stays for a plain visit.
                // (The page keeps its set-up in its own address, so a reload is not a link
                // being opened: a reload resumes.)
                let link_sets_up = !is_reload()
                    && asked
                        .trim_start_matches('?')
                        .split('&')
                        .filter(|kv| !kv.is_empty())
                        .any(|kv| !["lecture", "panels", "hide"].contains(&kv.split('=').next().unwrap_or("")));
                if link_sets_up {
                    publish_stored(m.step);
                    add_note(ui, format!(
                        "This link sets up its own model, so the {} kept in this browser (step {}) was not resumed; open the page without a link to resume it.",
                        m.config.name, m.step
                    ));
                } else {
                    match engine::install_saved(ui, &m) {
                        Ok(()) => {
                            publish_stored(m.step);
                            add_note(ui, format!("Resumed {} at step {} from this browser's storage (Start fresh forgets it).", m.config.name, m.step));
                        }
                        Err(e) => {
                            let _ = store::delete().await;
                            add_note(ui, format!("The model kept in this browser could not be resumed ({e}), so it was discarded."));
                        }
                    }
                }
            }
            Err(e) => {
                let _ = store::delete().await;
                add_note(ui, format!("The model kept in this browser could not be read ({e}), so it was discarded."));
            }
        },
        Ok(None) => {}
        Err(e) => web_sys::console::info_1(&format!("aeplay: no stored model ({e})").into()),
    }
    wasm_bindgen_futures::spawn_local(keep_stored());
}

/// Stores the model when it changed: soon after training pauses (or a step), and every
/// STORE_EVERY_MS while training. Runs off the training loop: a read-back, then IndexedDB.
async fn keep_stored() {
    loop {
        dom::sleep_ms(STORE_POLL_MS).await;
        let Some((step, running)) = engine::progress() else { continue };
        let stored = STORED_STEP.with(|s| s.get());
        let due = !running || dom::now_ms() - LAST_STORE_MS.with(|t| t.get()) >= STORE_EVERY_MS;
        if step == 0 || step == stored || !due {
            continue;
        }
        let generation = STORE_GEN.with(|g| g.get());
        let Some(reading) = engine::capture() else { continue };
        let m = match reading.await {
            Ok(m) => m,
            Err(_) => continue, // the device is being recovered; try again later
        };
        if STORE_GEN.with(|g| g.get()) != generation {
            continue;
        }
        LAST_STORE_MS.with(|t| t.set(dom::now_ms()));
        match store::put(&to_safetensors(&m)).await {
            Ok(()) if STORE_GEN.with(|g| g.get()) == generation => publish_stored(m.step),
            Ok(()) => {
                let _ = store::delete().await;
            }
            Err(e) => {
                web_sys::console::warn_1(&format!("aeplay: the model could not be kept in this browser: {e}").into());
                return;
            }
        }
    }
}
