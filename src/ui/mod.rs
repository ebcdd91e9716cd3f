//! The Leptos page: data loading with progress, training controls, live loss chart,
//! reconstruction grid and the draw pad. Training runs in `engine`; this module only holds
//! the reactive state shown on the page and forwards user actions.

mod chart;
mod dom;
mod engine;
mod loader;
mod bench;

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::config::preset;

/// Everything the page displays, as signals (cheap to copy into closures).
#[derive(Clone, Copy)]
pub struct Ui {
    /// loading | ready | training | paused | error
    pub state: RwSignal<String>,
    pub error: RwSignal<Option<String>>,
    pub progress: RwSignal<(f64, f64)>,
    pub data_status: RwSignal<String>,
    pub data_source: RwSignal<String>,
    pub backend: RwSignal<String>,
    pub step: RwSignal<u64>,
    pub epoch: RwSignal<f64>,
    pub train_loss: RwSignal<Option<f64>>,
    pub test_loss: RwSignal<Option<f64>>,
    pub samples_per_s: RwSignal<Option<f64>>,
    /// An informational message (e.g. no WebGPU, device lost and recovered).
    pub note: RwSignal<Option<String>>,
    pub gpu_available: RwSignal<bool>,
    /// "gpu" or "cpu": the backend now training.
    pub backend_kind: RwSignal<String>,
}

impl Ui {
    fn new() -> Self {
        Ui {
            state: RwSignal::new("loading".into()),
            error: RwSignal::new(None),
            progress: RwSignal::new((0.0, 1.0)),
            data_status: RwSignal::new("Starting …".into()),
            data_source: RwSignal::new(String::new()),
            backend: RwSignal::new("CPU".into()),
            step: RwSignal::new(0),
            epoch: RwSignal::new(0.0),
            train_loss: RwSignal::new(None),
            test_loss: RwSignal::new(None),
            samples_per_s: RwSignal::new(None),
            note: RwSignal::new(None),
            gpu_available: RwSignal::new(false),
            backend_kind: RwSignal::new("cpu".into()),
        }
    }
}

impl loader::Progress for Ui {
    fn report(&self, done: f64, total: f64, status: &str) {
        self.progress.set((done, total));
        self.data_status.set(status.to_string());
    }
}

fn fmt_loss(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into())
}

const PRESET: &str = "dae_vincent";
const SEED: u64 = 1;

async fn start(ui: Ui) {
    match loader::load(&ui).await {
        Ok((manifest, mnist)) => {
            if let Some(mode) = bench::requested() {
                return bench::run(ui, mode, mnist).await; // ?bench=… / ?selftest=… (src/ui/bench.rs)
            }
            let note = if manifest.source == "mnist" {
                ""
            } else {
                " — not the full MNIST, so losses differ from the published reference numbers"
            };
            ui.data_source.set(format!("{}{note}", manifest.label));
            dom::yield_now().await;
            let cfg = preset(PRESET).expect("built-in preset");
            match engine::install(ui, mnist, cfg, SEED, requested_backend()).await {
                Ok(()) => ui.state.set("ready".into()),
                Err(e) => {
                    ui.error.set(Some(e));
                    ui.state.set("error".into());
                }
            }
        }
        Err(e) => {
            ui.data_status.set("The data could not be loaded.".into());
            ui.error.set(Some(e));
            ui.state.set("error".into());
        }
    }
}

/// `?backend=cpu` starts on the CPU; otherwise WebGPU is used where the browser has it.
fn requested_backend() -> engine::Kind {
    let search = dom::window().location().search().unwrap_or_default();
    if search.contains("backend=cpu") {
        engine::Kind::Cpu
    } else {
        engine::Kind::Gpu
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

fn pad_clear(ui: Ui) {
    dom::clear("pad", "#000");
    engine::pad_changed(ui, None);
}

#[component]
fn DrawPad(ui: Ui) -> impl IntoView {
    let not_ready = move || matches!(ui.state.get().as_str(), "loading" | "error");
    let last = RwSignal::new(None::<(f64, f64)>);
    let down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some((x, y, c)) = pad_point(&ev) {
            let _ = c.set_pointer_capture(ev.pointer_id());
            stroke_to(&c, (x, y), (x, y));
            last.set(Some((x, y)));
            engine::pad_changed(ui, dom::read_gray("pad"));
        }
    };
    let moved = move |ev: web_sys::PointerEvent| {
        let Some(prev) = last.get_untracked() else { return };
        ev.prevent_default();
        if let Some((x, y, c)) = pad_point(&ev) {
            stroke_to(&c, prev, (x, y));
            last.set(Some((x, y)));
            engine::pad_changed(ui, dom::read_gray("pad"));
        }
    };
    let up = move |_ev: web_sys::PointerEvent| last.set(None);
    // The pad is read back on every stroke: create its context with willReadFrequently
    // before anything else touches it.
    Effect::new(move |_| {
        let _ = dom::read_gray("pad");
        dom::clear("pad", "#000");
    });
    view! {
        <section class="panel pad-panel">
            <h2>"Draw a digit"</h2>
            <p class="hint">"Draw with the mouse or a finger. The model sees it as a 28×28 MNIST digit, corrupts it with the current noise, and reconstructs it."</p>
            <div class="pad-row">
                <canvas id="pad" width="280" height="280"
                    on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointercancel=up></canvas>
                <div class="pad-outputs">
                    <figure><canvas id="pad-input" class="digit" width="28" height="28"></canvas><figcaption>"model input"</figcaption></figure>
                    <figure><canvas id="pad-noisy" class="digit" width="28" height="28"></canvas><figcaption>"corrupted"</figcaption></figure>
                    <figure><canvas id="pad-out" class="digit" width="28" height="28"></canvas><figcaption>"denoised"</figcaption></figure>
                </div>
            </div>
            <div class="buttons">
                <button id="pad-clear" disabled=not_ready on:click=move |_| pad_clear(ui)>"Clear"</button>
                <button id="pad-noise" disabled=not_ready on:click=move |_| engine::new_noise(ui)>"New noise"</button>
            </div>
        </section>
    }
}

#[component]
pub fn App() -> impl IntoView {
    let ui = Ui::new();
    wasm_bindgen_futures::spawn_local(start(ui));
    let not_ready = move || matches!(ui.state.get().as_str(), "loading" | "error");
    let running = move || ui.state.get() == "training";
    let noise_kind = RwSignal::new("masking".to_string());
    let noise_level = RwSignal::new(0.1f64);
    let apply_noise = move || engine::set_noise(ui, &noise_kind.get_untracked(), noise_level.get_untracked() as f32);
    let switch = move |ev: leptos::ev::Event| {
        let kind = if event_target_value(&ev) == "gpu" { engine::Kind::Gpu } else { engine::Kind::Cpu };
        wasm_bindgen_futures::spawn_local(engine::switch_backend(ui, kind));
    };

    view! {
        <main id="app" data-state=move || ui.state.get()>
            <header>
                <h1>"Autoencoder Playground"</h1>
                <p class="subtitle">"A denoising autoencoder (Vincent et al. 2008: 784→500→784, sigmoid, cross-entropy, masking noise, SGD) learning MNIST in your browser."</p>
            </header>
            <section class="panel data-panel">
                <div id="data-status">{move || ui.data_status.get()}</div>
                <Show when=move || ui.state.get() == "loading">
                    <progress id="data-progress"
                        max=move || format!("{}", ui.progress.get().1)
                        value=move || format!("{}", ui.progress.get().0)></progress>
                </Show>
                <div id="data-source">{move || ui.data_source.get()}</div>
                <Show when=move || ui.note.get().is_some()>
                    <div id="note" role="status">{move || ui.note.get().unwrap_or_default()}</div>
                </Show>
                <Show when=move || ui.error.get().is_some()>
                    <div id="error" role="alert">
                        <strong>"Something went wrong: "</strong>
                        <span>{move || ui.error.get().unwrap_or_default()}</span>
                    </div>
                </Show>
            </section>
            <section class="panel controls">
                <div class="buttons">
                    <button id="train" disabled=move || not_ready() || running() on:click=move |_| engine::train(ui)>"Train"</button>
                    <button id="pause" disabled=move || not_ready() || !running() on:click=move |_| engine::pause(ui)>"Pause"</button>
                    <button id="step" disabled=move || not_ready() || running() on:click=move |_| engine::step(ui)>"Step"</button>
                    <button id="reset" disabled=not_ready on:click=move |_| engine::reset(ui)>"Reset"</button>
                </div>
                <label>"Backend "
                    <select id="backend-select" disabled=not_ready on:change=switch
                        prop:value=move || ui.backend_kind.get()>
                        <option value="gpu" disabled=move || !engine::gpu_available(ui)>"WebGPU"</option>
                        <option value="cpu">"CPU (wasm SIMD)"</option>
                    </select>
                </label>
                <label>"Noise "
                    <select id="noise-kind" on:change=move |ev| { noise_kind.set(event_target_value(&ev)); apply_noise(); }>
                        <option value="masking" selected=true>"masking"</option>
                        <option value="none">"none"</option>
                    </select>
                </label>
                <label>"destroyed fraction "
                    <input id="noise-level" type="range" min="0" max="0.9" step="0.05" value="0.1"
                        on:input=move |ev| {
                            noise_level.set(event_target_value(&ev).parse().unwrap_or(0.1));
                            apply_noise();
                        } />
                    <output>{move || format!("{:.2}", noise_level.get())}</output>
                </label>
                <div class="stats">
                    <div class="stat"><span class="label">"backend"</span><span class="value" id="backend">{move || ui.backend.get()}</span></div>
                    <div class="stat"><span class="label">"step"</span><span class="value" id="step-count">{move || ui.step.get().to_string()}</span></div>
                    <div class="stat"><span class="label">"epoch"</span><span class="value" id="epoch">{move || format!("{:.2}", ui.epoch.get())}</span></div>
                    <div class="stat"><span class="label">"train loss"</span><span class="value" id="train-loss">{move || fmt_loss(ui.train_loss.get())}</span></div>
                    <div class="stat"><span class="label">"test loss (1,000 digits)"</span><span class="value" id="test-loss">{move || fmt_loss(ui.test_loss.get())}</span></div>
                    <div class="stat"><span class="label">"samples/s"</span><span class="value" id="samples-per-s">{move || ui.samples_per_s.get().map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into())}</span></div>
                </div>
            </section>
            <section class="panel chart-panel">
                <h2>"Loss"</h2>
                <p class="legend"><span class="train-key">"━ train (BCE per digit)"</span>" "<span class="test-key">"● test"</span></p>
                <canvas id="loss-chart" width="640" height="280"></canvas>
            </section>
            <section class="panel recon-panel">
                <h2>"Reconstructions"</h2>
                <p class="hint">"Rows: clean test digits, corrupted, reconstructed."</p>
                <canvas id="recon" class="digits" width="280" height="84"></canvas>
            </section>
            <DrawPad ui=ui />
        </main>
    }
}
