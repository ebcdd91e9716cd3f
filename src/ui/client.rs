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

use super::state::{run_colour, NoiseMode, PageState, Readout, RunRow, Ui};
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
            runs_changed(ui, &s);
            ui.status.set(Some(s));
            if !matches!(ui.state.get_untracked(), PageState::Error | PageState::Bench | PageState::BenchDone) {
                ui.state.set(state);
            }
        }
        Event::Frame(f) => frame(ui, &f),
        Event::Inside(s) => ui.inside.set(Some(*s)),
        Event::Note(n) => ui.add_note(n),
        Event::Error(e) => ui.error.set(Some(e)),
        Event::Saved { name, bytes } => {
            if let Err(e) = dom::download_bytes(&bytes, "application/octet-stream", &name) {
                ui.error.set(Some(format!("The model could not be downloaded: {e}")));
            }
        }
    }
}

/// What the loss chart says before there is a loss.
const CHART_EMPTY: &str = "The loss appears here once training starts.";

/// The runs table follows the status: rows of runs that went are dropped (with their
/// charts), new ones start empty; the chart is drawn again for the runs now compared.
fn runs_changed(ui: Ui, s: &crate::app::protocol::Status) {
    let old = ui.runs.get_untracked();
    let rows: Vec<RunRow> = s
        .runs
        .iter()
        .map(|info| match old.iter().find(|r| r.info.id == info.id) {
            Some(r) => RunRow { info: info.clone(), ..r.clone() },
            None => RunRow { info: info.clone(), readout: Readout::default() },
        })
        .collect();
    let ids: Vec<u32> = rows.iter().map(|r| r.info.id).collect();
    let before = old.iter().map(|r| r.info.id).collect::<Vec<_>>();
    ui.run_charts.update_value(|c| c.retain(|(id, _)| ids.contains(id)));
    ui.runs.set(rows);
    if before != ids {
        draw_loss_chart(ui);
    }
}

/// The loss chart: the main run's, or with runs compared, every run's losses overlaid (one
/// colour and legend entry per run: its training loss a line, its test loss points).
fn draw_loss_chart(ui: Ui) {
    let rows = ui.runs.get_untracked();
    if rows.is_empty() {
        if let Some(c) = ui.chart.get_value() {
            chart::draw_chart("loss-chart", &c, CHART_EMPTY);
        }
        return;
    }
    let charts = ui.run_charts.get_value();
    let Some(first) = charts.first().map(|c| c.1.clone()) else { return };
    let mut merged = crate::app::history::Chart { series: Vec::new(), level: None, x_per_epoch: None, bands: Vec::new(), ..first };
    let mut epochs = Vec::new();
    for r in &rows {
        let Some((_, c)) = charts.iter().find(|(id, _)| *id == r.info.id) else { continue };
        epochs.push(c.x_per_epoch);
        for (i, series) in c.series.iter().enumerate().take(2) {
            let what = if i == 0 { "train" } else { "test" };
            merged.series.push(crate::app::history::Series { label: format!("{} {what}", r.info.label), colour: run_colour(&r.info.label), ..series.clone() });
        }
    }
    // Epoch marks where every run's epochs are as long.
    if epochs.windows(2).all(|w| w[0] == w[1]) {
        merged.x_per_epoch = epochs.first().copied().flatten();
    }
    chart::draw_chart("loss-chart", &merged, CHART_EMPTY);
}

/// A compared run's frame: its numbers in the runs table, its losses in the chart, its
/// reconstructions, features and generated digits in its row of pictures.
fn run_frame(ui: Ui, f: &Frame) {
    let mut label = None;
    ui.runs.update(|rows| {
        if let Some(r) = rows.iter_mut().find(|r| r.info.id == f.run) {
            r.readout = readout(f);
            label = Some(r.info.label.clone());
        }
    });
    let Some(label) = label else { return };
    if let Some(c) = &f.chart {
        ui.run_charts.update_value(|cs| match cs.iter_mut().find(|(id, _)| *id == f.run) {
            Some(slot) => slot.1 = c.clone(),
            None => cs.push((f.run, c.clone())),
        });
        draw_loss_chart(ui);
    }
    for (id, name) in [(PictureId::Recon, "recon"), (PictureId::Features, "features"), (PictureId::Generated, "generated")] {
        if let Some(p) = f.picture(id) {
            draw::draw_plain(&format!("run-{label}-{name}"), p);
        }
    }
}

/// A frame's numbers.
fn readout(f: &Frame) -> Readout {
    Readout { step: f.step, epoch: f.epoch, train_loss: f.train_loss, test_loss: f.test_loss, samples_per_s: f.samples_per_s, step_loss: f.step_loss }
}

/// Draws a frame and shows its numbers (`window.__aeplayFrames` counts them, for the tests).
fn frame(ui: Ui, f: &Frame) {
    let w = dom::window();
    let n = js_sys::Reflect::get(&w, &"__aeplayFrames".into()).ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
    let _ = js_sys::Reflect::set(&w, &"__aeplayFrames".into(), &(n + 1.0).into());
    let compared = ui.runs.with_untracked(|r| !r.is_empty());
    if compared {
        run_frame(ui, f);
    }
    let main = ui.status.with_untracked(|s| s.as_ref().map_or(0, |s| s.main));
    if f.run != main {
        return;
    }
    ui.readout.set(readout(f));
    if let Some(c) = &f.chart {
        ui.chart.set_value(Some(c.clone()));
        if !compared {
            chart::draw_chart("loss-chart", c, CHART_EMPTY);
        }
    }
    // The recipe panel's note on the drawing comes with the pad, and goes without it.
    if f.picture(PictureId::Pad).is_none() {
        ui.recipe_pad_note.set(None);
    }
    draw::draw_frame(&ui, f);
}
