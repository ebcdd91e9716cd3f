//! The Leptos page. It trains nothing: the training worker (`src/worker/`, running
//! `app::controller`) does, and the page sends it commands (`client::send`) and draws the
//! frames it sends back (`client`, `draw`, `chart`). The page keeps only what it shows, as
//! signals: the worker's [`Status`], the numbers of the last frame, the panels' views.
//!
//! Where things go: a picture is a row of `draw::PICTURES` (with its `Frame` field and its
//! producer in `app::pictures`); a control sends a `Command`; a panel is a component here.

mod chart;
mod client;
mod cloud;
mod dom;
mod draw;
mod files;
mod lecture;
mod model_view;
mod recipe;
mod urlsync;

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::frame::PcaView;
use crate::app::history::Chart;
use crate::app::protocol::{BackendKind, Command, Status};
use crate::core::catalogue::{self, Kind};
use crate::core::config::NoiseKind;

/// Where the page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The worker loads the data and builds the model.
    Loading,
    Ready,
    Training,
    Paused,
    /// Nothing can be trained (the data did not load); the message says what to do.
    Error,
    /// Benchmark mode (`?bench=…`), and its end.
    Bench,
    BenchDone,
}

impl Phase {
    /// The value of `#app`'s `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Loading => "loading",
            Phase::Ready => "ready",
            Phase::Training => "training",
            Phase::Paused => "paused",
            Phase::Error => "error",
            Phase::Bench => "bench",
            Phase::BenchDone => "bench-done",
        }
    }

    /// Whether the controls act now.
    pub fn usable(self) -> bool {
        matches!(self, Phase::Ready | Phase::Training | Phase::Paused)
    }
}

/// Everything the page displays, as signals (cheap to copy into closures).
#[derive(Clone, Copy)]
pub struct Ui {
    pub phase: RwSignal<Phase>,
    pub error: RwSignal<Option<String>>,
    pub progress: RwSignal<(f64, f64)>,
    pub data_status: RwSignal<String>,
    pub data_source: RwSignal<String>,
    /// Something the user should know (a fallback, a recovery, a resumed model).
    pub note: RwSignal<Option<String>>,
    /// What the page's link asked for that could not be honoured.
    pub link_note: RwSignal<Option<String>>,
    /// The worker's state: phase, backend, the session and its settings.
    pub status: RwSignal<Option<Status>>,
    pub step: RwSignal<u64>,
    pub epoch: RwSignal<f64>,
    pub train_loss: RwSignal<Option<f64>>,
    pub test_loss: RwSignal<Option<f64>>,
    pub samples_per_s: RwSignal<Option<f64>>,
    /// The step of the frame the shown losses come from (`data-step` on #train-loss and
    /// #cloud-summary, so a test can wait for a read-back made after an action).
    pub readout_step: RwSignal<u64>,
    pub pca: RwSignal<Option<PcaView>>,
    pub recipe: RwSignal<Option<crate::app::frame::RecipeView>>,
    pub recipe_pad_note: RwSignal<Option<String>>,
    pub cloud_summary: RwSignal<Option<String>>,
    /// Whether the reconstruction grid shows a corrupted row.
    pub recon_noisy: RwSignal<bool>,
    pub cloud: StoredValue<cloud::Scene>,
    /// The noise control (follows the model's noise).
    pub noise_kind: RwSignal<String>,
    pub noise_level: RwSignal<f64>,
    /// The last loss chart (for the CSV).
    pub chart: StoredValue<Option<Chart>>,
}

impl Ui {
    fn new() -> Self {
        Ui {
            phase: RwSignal::new(Phase::Loading),
            error: RwSignal::new(None),
            progress: RwSignal::new((0.0, 1.0)),
            data_status: RwSignal::new("Starting …".into()),
            data_source: RwSignal::new(String::new()),
            note: RwSignal::new(None),
            link_note: RwSignal::new(None),
            status: RwSignal::new(None),
            step: RwSignal::new(0),
            epoch: RwSignal::new(0.0),
            train_loss: RwSignal::new(None),
            test_loss: RwSignal::new(None),
            samples_per_s: RwSignal::new(None),
            readout_step: RwSignal::new(0),
            pca: RwSignal::new(None),
            recipe: RwSignal::new(None),
            recipe_pad_note: RwSignal::new(None),
            cloud_summary: RwSignal::new(None),
            recon_noisy: RwSignal::new(true),
            cloud: StoredValue::new(cloud::Scene::default()),
            noise_kind: RwSignal::new("masking".into()),
            noise_level: RwSignal::new(0.1),
            chart: StoredValue::new(None),
        }
    }

    /// Nothing can go on: the page shows why.
    pub fn fail(&self, why: String) {
        self.error.set(Some(why));
        self.phase.set(Phase::Error);
    }

    pub fn add_note(&self, note: String) {
        let note = match self.note.get_untracked() {
            Some(n) if !n.contains(&note) => format!("{n} {note}"),
            Some(n) => n,
            None => note,
        };
        self.note.set(Some(note));
    }

    /// Another session: what the page showed of the previous one goes.
    fn clear_for_session(&self) {
        self.train_loss.set(None);
        self.test_loss.set(None);
        self.samples_per_s.set(None);
        self.pca.set(None);
        self.recipe.set(None);
        self.recipe_pad_note.set(None);
        self.cloud_summary.set(None);
        self.chart.set_value(None);
    }

    /// The catalogue id of the session ("" before the worker reports).
    pub fn preset_id(&self) -> String {
        self.status.with(|s| s.as_ref().map(|s| s.session.id.clone()).unwrap_or_default())
    }

    pub fn session_kind(&self) -> Option<Kind> {
        self.status.with(|s| s.as_ref().map(|s| s.session.kind))
    }

    pub fn backend_kind(&self) -> BackendKind {
        self.status.with(|s| s.as_ref().map_or(BackendKind::Cpu, |s| s.backend))
    }

    pub fn pictures(&self) -> crate::app::protocol::Pictures {
        self.status.with(|s| s.as_ref().map(|s| s.session.pictures).unwrap_or_default())
    }

    fn usable(&self) -> bool {
        self.phase.get().usable()
    }
}

/// The page's noise control for a noise kind: (select value, level shown on the slider).
pub fn noise_control(noise: NoiseKind) -> (&'static str, f32) {
    match noise {
        NoiseKind::None => ("none", 0.0),
        NoiseKind::Masking { keep } => ("masking", 1.0 - keep),
        NoiseKind::Gaussian { sigma } => ("gaussian", sigma),
        NoiseKind::SaltPepper { p } => ("salt_pepper", p),
        NoiseKind::Dropout { keep } => ("dropout", 1.0 - keep),
    }
}

/// The noise of the page's control: `level` is the fraction of pixels destroyed (masking,
/// dropout), corrupted (salt and pepper) or σ (Gaussian).
fn noise_of(kind: &str, level: f32) -> NoiseKind {
    let level = level.clamp(0.0, 0.99);
    match kind {
        "masking" => NoiseKind::Masking { keep: (1.0 - level).max(0.01) },
        "gaussian" => NoiseKind::Gaussian { sigma: level },
        "salt_pepper" => NoiseKind::SaltPepper { p: level },
        "dropout" => NoiseKind::Dropout { keep: (1.0 - level).max(0.01) },
        _ => NoiseKind::None,
    }
}

fn fmt_loss(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into())
}

/// Benchmark results from the worker: on `window.__aeplayBench` and in `<pre id="bench-result">`.
fn bench_result(ui: Ui, results: &[String], done: bool, error: Option<String>) {
    let parsed: Vec<serde_json::Value> = results.iter().filter_map(|r| serde_json::from_str(r).ok()).collect();
    let obj = serde_json::json!({ "done": done, "results": parsed, "error": error });
    if let Ok(v) = js_sys::JSON::parse(&obj.to_string()) {
        let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayBench".into(), &v);
    }
    let Some(doc) = dom::window().document() else { return };
    let pre = doc.get_element_by_id("bench-result").or_else(|| {
        let el = doc.create_element("pre").ok()?;
        el.set_id("bench-result");
        doc.body()?.append_child(&el).ok()?;
        Some(el)
    });
    if let Some(pre) = pre {
        let text = results.join("\n");
        pre.set_text_content(Some(&match &error {
            Some(e) => format!("{text}\nerror: {e}"),
            None => text,
        }));
    }
    if done {
        ui.phase.set(Phase::BenchDone);
    }
}

/// The initial weights and the training pixels for TensorFlow.js: `window.__aeplayShared`.
fn bench_shared(params: &[f32], layers: &[[usize; 4]], train: &[u8], train_rows: usize, dim: usize) {
    let obj = js_sys::Object::new();
    let set = |o: &js_sys::Object, k: &str, v: &wasm_bindgen::JsValue| {
        let _ = js_sys::Reflect::set(o, &k.into(), v);
    };
    set(&obj, "params", &js_sys::Float32Array::from(params).into());
    let ls = js_sys::Array::new();
    for l in layers {
        let o = js_sys::Object::new();
        for (k, v) in ["w", "b", "fan_in", "fan_out"].iter().zip(l) {
            set(&o, k, &(*v as f64).into());
        }
        ls.push(&o);
    }
    set(&obj, "layers", &ls.into());
    set(&obj, "train", &js_sys::Uint8Array::from(train).into());
    set(&obj, "train_rows", &(train_rows as f64).into());
    set(&obj, "dim", &(dim as f64).into());
    let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayShared".into(), &obj.into());
}

/// Whether the page's browser offers WebGPU (the worker checks its own).
fn page_has_webgpu() -> bool {
    js_sys::Reflect::get(&dom::window().navigator(), &"gpu".into()).is_ok_and(|g| !g.is_undefined() && !g.is_null())
}

/// Starts the worker: benchmark mode, or the page's set-up.
fn start(ui: Ui) {
    let search = dom::window().location().search().unwrap_or_default();
    let bench = search.contains("bench=") || search.contains("selftest=");
    let first = if bench {
        ui.phase.set(Phase::Bench);
        ui.data_status.set("Benchmark mode: see #bench-result".into());
        Command::Bench(search)
    } else {
        let setup = urlsync::initial();
        Command::Start { setup, resume: !urlsync::link_sets_up(), page_has_webgpu: page_has_webgpu() }
    };
    if let Err(e) = client::start(ui, first) {
        ui.fail(e);
    }
}

/// Converts a pointer event to canvas pixel coordinates.
fn pad_point(ev: &web_sys::PointerEvent) -> Option<(f64, f64, web_sys::HtmlCanvasElement)> {
    let c: web_sys::HtmlCanvasElement = ev.target()?.dyn_into().ok()?;
    let rect = c.get_bounding_client_rect();
    let x = (ev.client_x() as f64 - rect.left()) * c.width() as f64 / rect.width().max(1.0);
    let y = (ev.client_y() as f64 - rect.top()) * c.height() as f64 / rect.height().max(1.0);
    Some((x, y, c))
}

fn stroke_to(c: &web_sys::HtmlCanvasElement, from: (f64, f64), to: (f64, f64)) {
    if let Some(ctx) = dom::ctx2d(c) {
        ctx.set_stroke_style_str("#fff");
        ctx.set_fill_style_str("#fff");
        ctx.set_line_width(22.0);
        ctx.set_line_cap("round");
        ctx.set_line_join("round");
        ctx.begin_path();
        ctx.move_to(from.0, from.1);
        ctx.line_to(to.0 + 0.01, to.1);
        ctx.stroke();
    }
}

/// The drawing as the model sees it: shown at once, sent to the worker.
fn pad_changed() {
    let img = dom::read_gray("pad").map(|(v, w, h)| crate::data::draw::to_mnist(&v, w, h)).filter(|img| img.iter().any(|&p| p > 0.0));
    match &img {
        Some(i) => dom::draw_digit("pad-input", i),
        None => {
            for id in ["pad-input", "pad-noisy", "pad-out"] {
                dom::clear(id, "#000");
            }
        }
    }
    client::send(&Command::PadInk(img));
}

pub(crate) fn pad_clear() {
    dom::clear("pad", "#000");
    pad_changed();
}

#[component]
fn DrawPad(ui: Ui) -> impl IntoView {
    let last = RwSignal::new(None::<(f64, f64)>);
    let down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some((x, y, c)) = pad_point(&ev) {
            let _ = c.set_pointer_capture(ev.pointer_id());
            stroke_to(&c, (x, y), (x, y));
            last.set(Some((x, y)));
            pad_changed();
        }
    };
    let moved = move |ev: web_sys::PointerEvent| {
        let Some(prev) = last.get_untracked() else { return };
        ev.prevent_default();
        if let Some((x, y, c)) = pad_point(&ev) {
            stroke_to(&c, prev, (x, y));
            last.set(Some((x, y)));
            pad_changed();
        }
    };
    let up = move |_ev: web_sys::PointerEvent| last.set(None);
    // The pad is read back on every stroke: create its context with willReadFrequently
    // before anything else touches it.
    Effect::new(move |_| {
        let _ = dom::read_gray("pad");
        dom::clear("pad", "#000");
    });
    let noisy = move || ui.status.get().and_then(|s| s.session.config).is_some_and(|c| c.noise != NoiseKind::None);
    view! {
        <section class="panel pad-panel">
            <h2>"Draw a digit"</h2>
            <p class="hint">"With the mouse or a finger: the model sees a 28×28 digit, corrupts it and reconstructs it."</p>
            <div class="pad-row">
                <canvas id="pad" width="280" height="280"
                    on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointercancel=up></canvas>
                <div class="pad-outputs">
                    <figure><canvas id="pad-input" class="digit" width="28" height="28"></canvas><figcaption>"model input"</figcaption></figure>
                    <figure style:display=move || if noisy() { "" } else { "none" }><canvas id="pad-noisy" class="digit" width="28" height="28"></canvas><figcaption>"corrupted"</figcaption></figure>
                    <figure><canvas id="pad-out" class="digit" width="28" height="28"></canvas><figcaption>"reconstructed"</figcaption></figure>
                </div>
            </div>
            <div class="buttons">
                <button id="pad-clear" disabled=move || !ui.usable() on:click=move |_| pad_clear()>"Clear"</button>
                <button id="pad-noise" disabled=move || !ui.usable() on:click=move |_| client::send(&Command::NewNoise)>"New noise"</button>
                <files::PanelPng panel="pad" ids=&["pad", "pad-input", "pad-noisy", "pad-out"] />
            </div>
        </section>
    }
}

/// `linear_3d_pca`: the 3-D cloud with the model's reconstructions and PCA's plane, and the
/// model's 2-D codes (src/ui/cloud.rs draws them).
#[component]
fn CloudPanel(ui: Ui) -> impl IntoView {
    let point = |ev: &web_sys::PointerEvent| (ev.client_x() as f64, ev.client_y() as f64);
    let down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some(c) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlCanvasElement>().ok()) {
            let _ = c.set_pointer_capture(ev.pointer_id());
        }
        let (x, y) = point(&ev);
        ui.cloud.update_value(|s| s.drag_start(x, y));
    };
    let moved = move |ev: web_sys::PointerEvent| {
        let (x, y) = point(&ev);
        ui.cloud.update_value(|s| s.drag_move(x, y));
    };
    let up = move |_ev: web_sys::PointerEvent| ui.cloud.update_value(|s| s.drag_end());
    view! {
        <section class="panel cloud-panel" id="cloud-panel" style:display=move || if ui.pictures().cloud { "" } else { "none" }>
            <h2>"A linear autoencoder finds PCA's plane"</h2>
            <p class="hint">"200 points near a plane, each coloured by its place along the band. Black squares: the model's reconstructions, joined to their points; green: the plane of PCA with 2 components. Drag the cloud to turn it."</p>
            <div class="pictures">
                <figure><canvas id="cloud3d" width="360" height="320" style="touch-action: none; cursor: grab"
                    on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointercancel=up></canvas>
                    <figcaption>"The 3-D cloud and its reconstructions"</figcaption></figure>
                <figure><canvas id="cloud-codes" width="320" height="320"></canvas>
                    <figcaption>"The model's 2-D codes: the band unrolled"</figcaption></figure>
            </div>
            <p id="cloud-summary" data-step=move || ui.readout_step.get().to_string()>{move || ui.cloud_summary.get().unwrap_or_else(|| "Press Train: the model starts from random weights.".into())}</p>
            <files::PanelPng panel="cloud" ids=&["cloud3d", "cloud-codes"] />
        </section>
    }
}

/// The line under PCA's reconstructions.
fn pca_caption(shown: &Option<PcaView>, model_loss: Option<f64>) -> String {
    match shown {
        None => String::new(),
        Some(PcaView::Fitting { k, progress }) => {
            format!("Fitting PCA with {k} components on the training digits (in the worker, beside training) … {:.0} %", 100.0 * progress)
        }
        Some(PcaView::Ready { k, train_rows, test_loss, seconds, .. }) => {
            let model = model_loss.map(|l| format!("{l:.3}")).unwrap_or_else(|| "–".into());
            format!(
                "PCA with {k} components (fitted on {} training digits in {seconds:.1} s): test loss {test_loss:.3} on the same 1,000 test digits; the model: {model}. A linear autoencoder's optimum is this PCA.",
                thousands(*train_rows)
            )
        }
        Some(PcaView::Failed(why)) => format!("PCA could not be fitted: {why}"),
    }
}

/// 60000 → "60,000".
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Everything the preset picker and the gallery offer: the models, then the scenes.
pub fn page_presets() -> Vec<&'static str> {
    catalogue::ENTRIES.iter().filter(|e| e.kind != Kind::Recipe).map(|e| e.id).collect()
}

/// Plain words for a backend's label ("CPU (wasm simd128+relaxed)" → "CPU: WebAssembly
/// SIMD, relaxed"); the words "CPU", "WebGPU" and "relaxed" stay for the tests and links.
pub fn backend_words(label: &str) -> String {
    if let Some(rest) = label.strip_prefix("CPU (wasm ") {
        let relaxed = rest.contains("relaxed");
        return format!("CPU: WebAssembly SIMD{}", if relaxed { " (relaxed)" } else { "" });
    }
    if let Some(rest) = label.strip_prefix("WebGPU (") {
        let name = rest.trim_end_matches(')');
        let software = ["cpu", "swiftshader", "llvmpipe", "lavapipe", "warp", "software", "fallback"].iter().any(|w| name.to_lowercase().contains(w));
        return if software { "WebGPU, emulated on the processor".into() } else { format!("WebGPU: {name}") };
    }
    label.to_string()
}

/// The buttons that drive training: icons with accessible names and keyboard shortcuts.
#[component]
fn Transport(ui: Ui) -> impl IntoView {
    let running = move || ui.phase.get() == Phase::Training;
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
fn release_focus(ev: &leptos::ev::Event) {
    if let Some(el) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.blur();
    }
}

/// The model, the backend, the noise, the learning rate and the batch size.
#[component]
fn Settings(ui: Ui) -> impl IntoView {
    let noise_kind = ui.noise_kind;
    let noise_level = ui.noise_level;
    let apply_noise = move || client::send(&Command::SetNoise(noise_of(&noise_kind.get_untracked(), noise_level.get_untracked() as f32)));
    let level_label = move || match noise_kind.get().as_str() {
        "gaussian" => "σ ",
        "salt_pepper" => "corrupted fraction ",
        "none" => "(no noise) ",
        _ => "destroyed fraction ",
    };
    let model = move || ui.session_kind() == Some(Kind::Model) || ui.session_kind().is_none();
    let config = move || ui.status.get().and_then(|s| s.session.config);
    view! {
        <div class="settings" style:display=move || if model() { "" } else { "none" }>
            <label>"Noise "
                <select id="noise-kind" prop:value=move || noise_kind.get() on:change=move |ev| { noise_kind.set(event_target_value(&ev)); apply_noise(); release_focus(&ev); }>
                    <option value="masking">"masking"</option>
                    <option value="gaussian">"Gaussian"</option>
                    <option value="salt_pepper">"salt and pepper"</option>
                    <option value="dropout">"dropout"</option>
                    <option value="none">"none"</option>
                </select>
            </label>
            <label>{level_label}
                <input id="noise-level" type="range" min="0" max="0.9" step="0.01" prop:value=move || noise_level.get().to_string()
                    on:input=move |ev| {
                        noise_level.set(event_target_value(&ev).parse().unwrap_or(0.1));
                        apply_noise();
                    } />
                <output id="noise-level-value">{move || format!("{:.2}", noise_level.get())}</output>
            </label>
            <label>"Learning rate "
                <input id="lr" type="number" min="0" max="10" step="any" inputmode="decimal" disabled=move || !ui.usable()
                    prop:value=move || config().map(|c| c.optimizer.lr().to_string()).unwrap_or_default()
                    on:change=move |ev| {
                        let v = event_target_value(&ev).trim().parse::<f32>().unwrap_or(f32::NAN);
                        ui.error.set(None);
                        client::send(&Command::SetLearningRate(v));
                    } />
            </label>
            <label>"Batch "
                <input id="batch" type="number" min="1" max="65536" step="1" inputmode="numeric" disabled=move || !ui.usable()
                    prop:value=move || config().map(|c| c.batch.to_string()).unwrap_or_default()
                    on:change=move |ev| {
                        let v = event_target_value(&ev).trim().parse::<usize>().unwrap_or(0);
                        ui.error.set(None);
                        client::send(&Command::SetBatch(v));
                    } />
            </label>
        </div>
    }
}

/// The model panel: what is training, as a picture and in words, and its settings.
#[component]
fn ModelPanel(ui: Ui) -> impl IntoView {
    let about = move || catalogue::find(&ui.preset_id()).map(|e| (e.title, e.source, e.what));
    let picture = move || {
        let recipe = ui.recipe.get();
        let kind = ui.session_kind();
        match (ui.status.get().and_then(|s| s.session.config), recipe) {
            (Some(cfg), _) => model_view::svg(&cfg, &[]),
            (None, Some(r)) => r.model.as_ref().map(|m| model_view::svg(m, &r.frozen_below)).unwrap_or_default(),
            _ if kind == Some(Kind::Scene) => model_view::svg(&crate::train::cloud::config(crate::data::synthetic::DEFAULT_POINTS), &[]),
            _ => String::new(),
        }
    };
    view! {
        <section class="panel model-panel" id="model-panel">
            <h2>"The model"</h2>
            <div id="model-picture" inner_html=picture></div>
            <p class="about" id="preset-about">
                {move || about().map(|(t, src, what)| view! { <strong>{t}</strong>" ("{src}"): "{what} }.into_any()).unwrap_or_else(|| "A custom model from the link.".into_any())}
            </p>
            <Show when=move || ui.status.get().is_some_and(|s| s.session.advice.is_some())>
                <div class="advice" id="advice">
                    <p>{move || ui.status.get().and_then(|s| s.session.advice).unwrap_or_default()}</p>
                    <button id="advice-apply" class="small" on:click=move |_| client::send(&Command::SetBatch(crate::app::controller::WATCHABLE_BATCH))>
                        {format!("Use batch {}", crate::app::controller::WATCHABLE_BATCH)}</button>
                </div>
            </Show>
            <Settings ui=ui />
        </section>
    }
}

/// The numbers of the run, the data, and what the page has to say.
#[component]
fn StatusBar(ui: Ui) -> impl IntoView {
    view! {
        <section class="panel statusbar">
            <div class="stats">
                <div class="stat"><span class="label">"step"</span><span class="value" id="step-count">{move || ui.step.get().to_string()}</span></div>
                <div class="stat"><span class="label">"epoch"</span><span class="value" id="epoch">{move || format!("{:.2}", ui.epoch.get())}</span></div>
                <div class="stat"><span class="label">"train loss"</span><span class="value" id="train-loss" data-step=move || ui.readout_step.get().to_string()>{move || fmt_loss(ui.train_loss.get())}</span></div>
                <div class="stat"><span class="label">"test loss"</span><span class="value" id="test-loss" title="on 1,000 test digits">{move || fmt_loss(ui.test_loss.get())}</span></div>
                <div class="stat"><span class="label">"samples/s"</span><span class="value" id="samples-per-s">{move || ui.samples_per_s.get().map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into())}</span></div>
                <div class="stat wide"><span class="label">"runs on"</span><span class="value small" id="backend">{move || ui.status.get().map(|s| backend_words(&s.backend_label)).unwrap_or_else(|| "–".into())}</span></div>
            </div>
            <div class="data-line">
                <span id="data-status">{move || ui.data_status.get()}</span>
                " "<span id="data-source">{move || ui.data_source.get()}</span>
                <Show when=move || ui.phase.get() == Phase::Loading>
                    <progress id="data-progress"
                        max=move || format!("{}", ui.progress.get().1)
                        value=move || format!("{}", ui.progress.get().0)></progress>
                </Show>
            </div>
            <Show when=move || ui.note.get().is_some() || ui.link_note.get().is_some()>
                <div id="note" role="status">{move || [ui.link_note.get(), ui.note.get()].into_iter().flatten().collect::<Vec<_>>().join(" ")}</div>
            </Show>
            <Show when=move || ui.error.get().is_some()>
                <div id="error" role="alert">
                    <span>{move || ui.error.get().unwrap_or_default()}</span>
                    " "<button id="error-close" class="small" aria-label="Dismiss the message" on:click=move |_| ui.error.set(None)>"×"</button>
                </div>
            </Show>
        </section>
    }
}

#[component]
pub fn App() -> impl IntoView {
    let ui = Ui::new();
    provide_context(ui);
    let page = urlsync::Page::from_url(ui); // before start(): the link's set-up
    start(ui);
    urlsync::keep_in_sync(ui);
    lecture::install(ui, page);
    expose_test_hooks();
    let switch = move |ev: leptos::ev::Event| {
        let kind = if event_target_value(&ev) == "gpu" { BackendKind::Gpu } else { BackendKind::Cpu };
        urlsync::backend_chosen(kind);
        client::send(&Command::SetBackend(kind));
        release_focus(&ev);
    };
    let pictures = move || ui.pictures();
    let mnist = move || !pictures().cloud;

    view! {
        <main id="app" data-state=move || ui.phase.get().as_str() class:lecture=move || page.lecture.get()>
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
                        <urlsync::LinkBar ui=ui page=page />
                        <files::FileControls ui=ui />
                    </div>
                </details>
            </header>
            <StatusBar ui=ui />
            <div class="stage">
                <ModelPanel ui=ui />
                <section class="panel chart-panel">
                    <div class="panel-head"><h2>"Loss"</h2><files::PanelPng panel="loss" ids=&["loss-chart"] /></div>
                    <canvas id="loss-chart" class="chart" width="640" height="280"></canvas>
                </section>
                <section class="panel recon-panel" style:display=move || if pictures().recon || pictures().recipe { "" } else { "none" }>
                    <div class="panel-head"><h2>"Reconstructions"</h2><files::PanelPng panel="reconstructions" ids=&["recon", "pca-recon"] /></div>
                    <p class="hint">{move || if ui.recon_noisy.get() { "Rows: test digits, corrupted (destroyed pixels in red), reconstructed." } else { "Rows: test digits, reconstructed." }}</p>
                    <canvas id="recon" class="digits" width="280" height="84"></canvas>
                    <div id="pca-compare" style:display=move || if ui.pca.get().is_none() { "none" } else { "" }>
                        <p class="hint">"PCA's reconstructions of the same digits:"</p>
                        <canvas id="pca-recon" class="digits" width="280" height="28"></canvas>
                        <p id="pca-status" class="hint">{move || pca_caption(&ui.pca.get(), ui.test_loss.get())}</p>
                    </div>
                </section>
                <div class="pad-wrap mnist-only" style:display=move || if mnist() { "" } else { "none" }>
                    <DrawPad ui=ui />
                </div>
                <CloudPanel ui=ui />
                <recipe::RecipePanel ui=ui />
                <section class="panel pictures-panel" style:display=move || if mnist() { "" } else { "none" }>
                    <div class="panel-head"><h2>"What the model learned"</h2><files::PanelPng panel="pictures" ids=&["features", "latent", "generated", "interp", "sparsity"] /></div>
                    <div class="pictures">
                        {draw::PICTURES.iter().map(|p| {
                            let shown = move || (p.shown)(&pictures());
                            let caption = move || ui.status.get().map(|s| (p.caption)(&s.session)).unwrap_or_default();
                            view! {
                                <figure class=format!("pic pic-{}", p.id) style:display=move || if shown() { "" } else { "none" }>
                                    <canvas id=p.id width=p.size.0 height=p.size.1></canvas>
                                    <figcaption><strong>{p.title}</strong>": "{caption}</figcaption>
                                    {(p.id == "generated").then(|| view! { <button id="new-samples" class="small" on:click=move |_| client::send(&Command::NewSamples)>"New samples"</button> })}
                                </figure>
                            }
                        }).collect_view()}
                    </div>
                </section>
            </div>
            <lecture::Gallery ui=ui />
            <lecture::Help page=page />
        </main>
    }
}

/// `window.__aeplayLoseDevice()` destroys the worker's GPU device, as a driver reset would
/// (used by the end-to-end test of device loss).
///
/// For the long-run test: `window.__aeplayFastFrames(ms)` makes the worker send a frame every
/// `ms` while training, and `window.__aeplayProbe()` asks what memory it holds (the answer
/// lands on `window.__aeplayProbed`).
fn expose_test_hooks() {
    let w = dom::window();
    let lose = wasm_bindgen::closure::Closure::<dyn Fn()>::new(|| client::send(&Command::LoseDevice));
    let _ = js_sys::Reflect::set(&w, &"__aeplayLoseDevice".into(), lose.as_ref());
    lose.forget();
    let fast = wasm_bindgen::closure::Closure::<dyn Fn(f64)>::new(|ms: f64| client::send(&Command::SetFrameInterval(ms)));
    let _ = js_sys::Reflect::set(&w, &"__aeplayFastFrames".into(), fast.as_ref());
    fast.forget();
    let probe = wasm_bindgen::closure::Closure::<dyn Fn()>::new(|| client::send(&Command::Probe));
    let _ = js_sys::Reflect::set(&w, &"__aeplayProbe".into(), probe.as_ref());
    probe.forget();
}
