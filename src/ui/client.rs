//! The page's side of the training worker: starts it (www/worker.js, on the module the page
//! loaded), sends it commands, and applies what comes back: status to the page's signals,
//! frames to the canvases. Nothing here trains.

use std::cell::RefCell;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::frame::{Frame, PadOut, Shown};
use crate::app::protocol::{decode, encode, Command, Event, RunPhase};

use super::{chart, dom, draw, files, Phase, Ui};

thread_local! {
    /// The worker (the page's one link to training).
    static WORKER: RefCell<Option<web_sys::Worker>> = const { RefCell::new(None) };
}

/// Sends a command to the worker (its bytes, transferred).
pub fn send(cmd: &Command) {
    let bytes = encode(cmd);
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
fn module() -> Option<(String, String)> {
    let m = js_sys::Reflect::get(&dom::window(), &"__aeplayModule".into()).ok()?;
    let js = js_sys::Reflect::get(&m, &"js".into()).ok()?.as_string()?;
    let wasm = js_sys::Reflect::get(&m, &"wasm".into()).ok()?.as_string()?;
    Some((js, wasm))
}

/// Starts the worker and sends it its first command.
pub fn start(ui: Ui, first: Command) -> Result<(), String> {
    let (js, wasm) = module().ok_or("the page's loader did not record its module (window.__aeplayModule): rebuild with `make build`")?;
    let opts = web_sys::WorkerOptions::new();
    opts.set_type(web_sys::WorkerType::Module);
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    let url = format!("worker.js?js={}&wasm={}", enc(&js), enc(&wasm));
    let worker = web_sys::Worker::new_with_options(&url, &opts).map_err(|e| format!("the training worker could not be started ({e:?})"))?;
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let bytes = js_sys::Uint8Array::new(&e.data()).to_vec();
        match decode::<Event>(&bytes) {
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
    send(&first);
    Ok(())
}

/// Applies an event from the worker.
fn apply(ui: Ui, ev: Event) {
    match ev {
        Event::Progress { done, total, status } => {
            ui.progress.set((done, total));
            ui.data_status.set(status);
        }
        Event::Data { label, official } => {
            let note = if official { "" } else { " — not the full MNIST, so losses differ from the published reference numbers" };
            ui.data_source.set(format!("{label}{note}"));
        }
        Event::Fatal(e) => {
            if ui.phase.get_untracked() == Phase::Loading {
                ui.data_status.set("The data could not be loaded.".into());
            }
            ui.fail(e);
        }
        Event::Status(s) => {
            let phase = match s.phase {
                RunPhase::Ready => Phase::Ready,
                RunPhase::Training => Phase::Training,
                RunPhase::Paused => Phase::Paused,
            };
            let changed = ui.status.get_untracked().is_none_or(|old| old.session.id != s.session.id || old.session.kind != s.session.kind);
            if let Some(cfg) = &s.session.config {
                let (kind, level) = super::noise_control(cfg.noise);
                ui.noise_kind.set(kind.into());
                ui.noise_level.set(level as f64);
            }
            if changed {
                ui.clear_for_session();
            }
            ui.status.set(Some(s));
            if !matches!(ui.phase.get_untracked(), Phase::Error | Phase::Bench | Phase::BenchDone) {
                ui.phase.set(phase);
            }
        }
        Event::Frame(f) => frame(ui, &f),
        Event::Note(n) => ui.add_note(n),
        Event::Error(e) => ui.error.set(Some(e)),
        Event::Saved { name, bytes } => {
            if let Err(e) = files::download_bytes(&bytes, "application/octet-stream", &name) {
                ui.error.set(Some(format!("The model could not be downloaded: {e}")));
            }
        }
        Event::Stored(step) => {
            let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayStored".into(), &JsValue::from_f64(step as f64));
        }
        Event::Bench { results, done, error } => super::bench_result(ui, &results, done, error),
        Event::Probe { wasm_bytes, allocated_bytes, history_points, stored_bytes } => {
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
        Event::Shared { params, layers, train, train_rows, dim } => super::bench_shared(&params, &layers, &train, train_rows, dim),
    }
}

/// Draws a frame and shows its numbers (`window.__aeplayFrames` counts them, for the tests).
fn frame(ui: Ui, f: &Frame) {
    let w = dom::window();
    let n = js_sys::Reflect::get(&w, &"__aeplayFrames".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
    let _ = js_sys::Reflect::set(&w, &"__aeplayFrames".into(), &(n + 1.0).into());
    ui.step.set(f.step);
    ui.epoch.set(f.epoch);
    ui.train_loss.set(f.train_loss);
    ui.test_loss.set(f.test_loss);
    ui.samples_per_s.set(f.samples_per_s);
    ui.readout_step.set(f.step);
    if let Some(c) = &f.chart {
        chart::draw_chart("loss-chart", c, "The loss appears here once training starts.");
        ui.chart.set_value(Some(c.clone()));
    }
    match &f.recon {
        Some(Shown::Picture(r)) => {
            draw::draw_recon("recon", r);
            ui.recon_noisy.set(r.noisy.is_some());
        }
        Some(Shown::Note(n)) => draw::note_on_canvas("recon", n),
        _ => {}
    }
    draw::draw_pad(&f.pad);
    ui.recipe_pad_note.set(match &f.pad {
        Some(Shown::Picture(v)) => match v.out {
            PadOut::Class { digit, probability } => Some(format!("The classifier reads your drawing as a {digit} ({:.0} % sure). It classifies; it does not reconstruct.", 100.0 * probability)),
            PadOut::Image(_) => None,
        },
        Some(Shown::Note(n)) => Some(n.clone()),
        _ => None,
    });
    for p in draw::PICTURES {
        (p.draw)(f);
    }
    if let Some(pca) = &f.pca {
        if let crate::app::frame::PcaView::Ready { recon, .. } = pca {
            draw::draw_images("pca-recon", recon, 10);
        }
        ui.pca.set(Some(pca.clone()));
    }
    if let Some(c) = &f.cloud {
        ui.cloud_summary.set(Some(super::cloud::summary(c)));
        let spinning = ui.phase.get_untracked() == Phase::Training;
        ui.cloud.update_value(|s| s.show(c.clone(), spinning));
    }
    if let Some(r) = &f.recipe {
        ui.recipe.set(Some(r.clone()));
    }
}
