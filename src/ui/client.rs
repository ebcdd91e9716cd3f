//! The page's side of the training worker: starts it (www/worker.js, on the module the page
//! loaded), sends it commands, and applies what comes back: status to the page's signals,
//! frames to the canvases. Nothing here trains.

use std::cell::RefCell;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::envelope::{FromWorker, ToWorker};
use crate::app::frame::Frame;
use crate::app::pictures::PictureId;
use crate::app::protocol::{decode, encode, Command, Event, RunState};

use super::state::{NoiseMode, PageState, Readout, Ui};
use super::{bench, chart, dom, draw};

thread_local! {
    /// The worker (the page's one link to training).
    static WORKER: RefCell<Option<web_sys::Worker>> = const { RefCell::new(None) };
}

/// Sends a command to the engine.
pub fn send(cmd: &Command) {
    send_to_worker(&ToWorker::Engine(cmd.clone()));
}

/// Sends a message to the worker (its bytes, transferred).
pub fn send_to_worker(msg: &ToWorker) {
    let bytes = encode(msg);
    let arr = js_sys::Uint8Array::from(&bytes[..]);
    let transfer = js_sys::Array::of1(&arr.buffer());
    WORKER.with(|w| {
        if let Some(w) = w.borrow().as_ref() {
            if let Err(e) = w.post_message_with_transfer(&arr, &transfer) {
                web_sys::console::error_1(&format!("aeplay: could not reach the training worker: {e:?}").into());
            }
        }
    });
}

/// The module the page loaded (the loader records it), for the worker to load too.
pub(super) fn module() -> Option<(String, String)> {
    let m = js_sys::Reflect::get(&dom::window(), &"__aeplayModule".into()).ok()?;
    let js = js_sys::Reflect::get(&m, &"js".into()).ok()?.as_string()?;
    let wasm = js_sys::Reflect::get(&m, &"wasm".into()).ok()?.as_string()?;
    Some((js, wasm))
}

/// Starts the worker and sends it its first command.
pub fn start(ui: Ui, first: ToWorker) -> Result<(), String> {
    let (js, wasm) = module().ok_or("the page's loader did not record its module (window.__aeplayModule): rebuild with `make build`")?;
    let opts = web_sys::WorkerOptions::new();
    opts.set_type(web_sys::WorkerType::Module);
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    let url = format!("worker.js?js={}&wasm={}", enc(&js), enc(&wasm));
    let worker = web_sys::Worker::new_with_options(&url, &opts).map_err(|e| format!("the training worker could not be started ({e:?})"))?;
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
        match decode::<FromWorker>(&bytes) {
            Ok(ev) => apply(ui, ev),
            Err(e) => web_sys::console::error_1(&format!("aeplay: {e}").into()),
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget(); // for the page's lifetime
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let msg = js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_else(|| "it stopped".into());
        ui.fail(format!("The training worker failed: {msg}. Reload the page."));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    WORKER.with(|w| *w.borrow_mut() = Some(worker));
    send_to_worker(&first);
    Ok(())
}

/// Applies a message from the worker.
fn apply(ui: Ui, msg: FromWorker) {
    match msg {
        FromWorker::Engine(ev) => apply_event(ui, ev),
        FromWorker::Progress { done, total, status } => {
            ui.progress.set((done, total));
            ui.data_status.set(status);
        }
        FromWorker::Data { label, official } => {
            let note = if official { "" } else { " — not the full MNIST, so losses differ from the published reference numbers" };
            ui.data_source.set(format!("{label}{note}"));
        }
        FromWorker::DataIn { have, total } => ui.data_in.set(Some((have, total))),
        FromWorker::Stalled { file, message } => {
            ui.data_status.set(format!("Download stalled: {file}."));
            ui.stalled.set(Some((file, message)));
        }
        FromWorker::Fatal(e) => {
            if ui.state.get_untracked() == PageState::Loading {
                ui.data_status.set("The data could not be loaded.".into());
            }
            ui.fail(e);
        }
        FromWorker::Stored(step) => {
            let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayStored".into(), &JsValue::from_f64(step as f64));
        }
        FromWorker::Threads(t) => ui.threads.set(Some(t)),
        FromWorker::Bench { results, done, error } => bench::result(ui, &results, done, error),
        FromWorker::Probe { wasm_bytes, held, stored_bytes } => {
            let (allocated_bytes, history_points) = (held.allocated_bytes, held.history_points);
            let page: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
            let page_bytes = js_sys::ArrayBuffer::from(page.buffer()).byte_length();
            let o = js_sys::Object::new();
            for (k, v) in [
                ("wasm_bytes", wasm_bytes as f64),
                ("allocated_bytes", allocated_bytes as f64),
                ("history_points", history_points as f64),
                ("stored_bytes", stored_bytes as f64),
                ("page_wasm_bytes", page_bytes as f64),
                ("at", js_sys::Date::now()),
            ] {
                let _ = js_sys::Reflect::set(&o, &k.into(), &v.into());
            }
            let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayProbed".into(), &o);
        }
        FromWorker::Shared { params, layers, train, train_rows, dim } => bench::shared(&params, &layers, &train, train_rows, dim),
    }
}

/// Applies an event of the engine.
fn apply_event(ui: Ui, ev: Event) {
    match ev {
        Event::Status(s) => {
            let state = match s.state {
                RunState::Ready => PageState::Ready,
                RunState::Training => PageState::Training,
                RunState::Paused => PageState::Paused,
            };
            let changed = ui.status.get_untracked().is_none_or(|old| old.session.id != s.session.id || old.session.kind != s.session.kind);
            if let Some(cfg) = &s.session.config {
                let (mode, level) = NoiseMode::of(cfg.noise);
                ui.noise_mode.set(mode);
                ui.noise_level.set(level as f64);
            }
            if changed {
                ui.clear_for_session();
            }
            ui.status.set(Some(s));
            if !matches!(ui.state.get_untracked(), PageState::Error | PageState::Bench | PageState::BenchDone) {
                ui.state.set(state);
            }
        }
        Event::Frame(f) => frame(ui, &f),
        Event::Note(n) => ui.add_note(n),
        Event::Error(e) => ui.error.set(Some(e)),
        Event::Saved { name, bytes } => {
            if let Err(e) = dom::download_bytes(&bytes, "application/octet-stream", &name) {
                ui.error.set(Some(format!("The model could not be downloaded: {e}")));
            }
        }
    }
}

/// Draws a frame and shows its numbers (`window.__aeplayFrames` counts them, for the tests).
fn frame(ui: Ui, f: &Frame) {
    let w = dom::window();
    let n = js_sys::Reflect::get(&w, &"__aeplayFrames".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
    let _ = js_sys::Reflect::set(&w, &"__aeplayFrames".into(), &(n + 1.0).into());
    ui.readout.set(Readout { step: f.step, epoch: f.epoch, train_loss: f.train_loss, test_loss: f.test_loss, samples_per_s: f.samples_per_s });
    if let Some(c) = &f.chart {
        chart::draw_chart("loss-chart", c, "The loss appears here once training starts.");
        ui.chart.set_value(Some(c.clone()));
    }
    // The recipe panel's note on the drawing comes with the pad, and goes without it.
    if f.picture(PictureId::Pad).is_none() {
        ui.recipe_pad_note.set(None);
    }
    draw::draw_frame(&ui, f);
}
