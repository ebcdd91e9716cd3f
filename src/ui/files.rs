//! Files in and out of the page: "Save model" asks the training worker for the model as a
//! safetensors file (`src/io/saved.rs`) and downloads it, "Load model" sends a file to the
//! worker to continue; "Start fresh" forgets the model the worker keeps in the browser; every
//! canvas can be saved as a PNG and the loss history as CSV.

use std::collections::BTreeMap;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::app::envelope::ToWorker;
use crate::app::protocol::Command;
use crate::io::saved::{LoadError, MAX_FILE_BYTES};

use super::state::Ui;
use super::{client, dom};

fn document() -> web_sys::Document {
    dom::window().document().expect("no document")
}

/// "Load model": sends the file to the worker, which continues it or says why not (the
/// current model stays untouched). A file over the loader's size cap is refused before it is
/// read.
async fn load_file(ui: Ui, file: web_sys::File) {
    let name = file.name();
    let size = file.size();
    if size > MAX_FILE_BYTES as f64 {
        let e = LoadError::TooLarge { bytes: size as usize, limit: MAX_FILE_BYTES };
        ui.error.set(Some(format!("{name} was not loaded: {e}")));
        return;
    }
    match JsFuture::from(file.array_buffer()).await {
        Ok(buf) => {
            ui.error.set(None);
            client::send(&Command::Load { bytes: js_sys::Uint8Array::new(&buf).to_vec(), name });
        }
        Err(e) => ui.error.set(Some(format!("{name} could not be read: {e:?}"))),
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
    use crate::app::history::Chart;
    let chart: Option<Chart> = ui.chart.get_value();
    let series = |i: usize| -> Vec<(u64, f64)> {
        chart.as_ref().and_then(|c| c.series.get(i)).map(|s| s.points.iter().map(|&(x, y)| (x as u64, y)).collect()).unwrap_or_default()
    };
    let name = format!("{}-loss.csv", ui.preset_id());
    if let Err(e) = dom::download_bytes(loss_csv(&series(0), &series(1)).as_bytes(), "text/csv", &name) {
        ui.error.set(Some(format!("Could not save the losses: {e}")));
    }
}

/// One PNG of a panel: its visible canvases stacked (small digits enlarged 4× without
/// smoothing) on white.
fn save_panel_png(panel: &str, ids: &[&str], preset: &str, step: u64) -> Result<(), String> {
    let doc = document();
    let shown: Vec<web_sys::HtmlCanvasElement> = ids
        .iter()
        .filter_map(|id| dom::canvas(id))
        .filter(|c| c.client_width() > 0 && c.width() > 0 && c.height() > 0)
        .collect();
    if shown.is_empty() {
        return Err(format!("The {panel} panel shows no picture now."));
    }
    let scale = |c: &web_sys::HtmlCanvasElement| if c.width() < 100 { 4.0 } else { 1.0 };
    let gap = 8.0;
    let width = shown.iter().map(|c| c.width() as f64 * scale(c)).fold(0.0, f64::max);
    let height = shown.iter().map(|c| c.height() as f64 * scale(c)).sum::<f64>() + gap * (shown.len() - 1) as f64;
    let out: web_sys::HtmlCanvasElement = doc.create_element("canvas").map_err(|e| format!("{e:?}"))?.unchecked_into();
    out.set_width(width as u32);
    out.set_height(height as u32);
    let ctx = dom::ctx2d(&out).ok_or("no 2-D context")?;
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, width, height);
    ctx.set_image_smoothing_enabled(false);
    let mut y = 0.0;
    for c in &shown {
        let s = scale(c);
        let (w, h) = (c.width() as f64 * s, c.height() as f64 * s);
        let _ = ctx.draw_image_with_html_canvas_element_and_dw_and_dh(c, 0.0, y, w, h);
        y += h + gap;
    }
    let url = out.to_data_url().map_err(|e| format!("Could not save the {panel} panel: {e:?}"))?;
    dom::download_href(&url, &format!("{preset}-step{step}-{panel}.png"));
    Ok(())
}

/// A panel's "PNG" button: one picture of the panel's canvases.
#[component]
pub fn PanelPng(panel: &'static str, ids: &'static [&'static str]) -> impl IntoView {
    let ui = expect_context::<Ui>();
    view! {
        <button class="save-png small" data-panel=panel title=format!("Save the {panel} panel as a PNG picture")
            aria-label=format!("Save the {panel} panel as PNG")
            on:click=move |_| if let Err(e) = save_panel_png(panel, ids, &ui.preset_id(), ui.readout.get_untracked().step) { ui.error.set(Some(e)) }>"PNG"</button>
    }
}

/// The buttons: save / load a model, start fresh, the losses as CSV.
#[component]
pub fn FileControls(ui: Ui) -> impl IntoView {
    let not_ready = move || !ui.usable();
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
                on:click=move |_| client::send(&Command::Save)>"Save model"</button>
            <label class="file-button">"Load model "
                <input id="load-model" type="file" accept=".safetensors" disabled=not_ready on:change=picked />
            </label>
            <button id="forget-model" disabled=not_ready title="Forget the model kept in this browser and start over"
                on:click=move |_| {
                    if ui.note.get_untracked().is_some_and(|n| n.contains("from this browser's storage")) {
                        ui.note.set(None);
                    }
                    client::send_to_worker(&ToWorker::ForgetStored);
                }>"Start fresh"</button>
            <button id="save-csv" disabled=not_ready title="Download the loss history as CSV" on:click=move |_| save_csv(ui)>"Losses CSV"</button>
        </div>
    }
}
