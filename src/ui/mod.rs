//! The Leptos page: data loading with progress, training controls, live loss chart,
//! reconstruction grid and the draw pad. Training runs in `engine`; this module only holds
//! the reactive state shown on the page and forwards user actions.

mod chart;
mod dom;
mod engine;
mod files;
mod loader;
mod bench;
mod pictures;
mod cloud;
mod pcaview;
mod lecture;
mod recipe;
mod urlsync;
mod store;

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::catalogue;
use crate::core::config::{ModelConfig, PRESET_NAMES};

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
    /// The step of the read-back the shown losses come from (`data-step` on #train-loss and
    /// #cloud-summary, so a test can wait for a read-back made after an action).
    pub readout_step: RwSignal<u64>,
    pub test_loss: RwSignal<Option<f64>>,
    pub samples_per_s: RwSignal<Option<f64>>,
    /// An informational message (e.g. no WebGPU, device lost and recovered).
    pub note: RwSignal<Option<String>>,
    pub gpu_available: RwSignal<bool>,
    /// "gpu" or "cpu": the backend now training.
    pub backend_kind: RwSignal<String>,
    /// The preset being trained, and what the page shows for it.
    pub preset: RwSignal<String>,
    pub noise_kind: RwSignal<String>,
    pub noise_level: RwSignal<f64>,
    /// Digits generated from codes (a variational model, or a 2-D code).
    pub has_generated: RwSignal<bool>,
    /// A sparsity target to show the histogram against.
    pub has_sparsity: RwSignal<bool>,
    pub loss_label: RwSignal<String>,
    /// What the page's link asked for that could not be honoured.
    pub link_note: RwSignal<Option<String>>,
    /// PCA beside a linear autoencoder (src/ui/pcaview.rs).
    pub pca: RwSignal<pcaview::PcaShown>,
    /// The 3-D cloud of `linear_3d_pca` is shown (src/ui/cloud.rs): its comparison with PCA.
    pub cloud: RwSignal<Option<String>>,
    /// The learning rate and minibatch size of the model being trained (page controls).
    pub lr: RwSignal<f32>,
    pub batch: RwSignal<usize>,
    /// A multi-phase recipe's panel (src/ui/recipe.rs).
    pub recipe: recipe::Signals,
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
            readout_step: RwSignal::new(0),
            test_loss: RwSignal::new(None),
            samples_per_s: RwSignal::new(None),
            note: RwSignal::new(None),
            gpu_available: RwSignal::new(false),
            backend_kind: RwSignal::new("cpu".into()),
            preset: RwSignal::new(String::new()),
            noise_kind: RwSignal::new("masking".into()),
            noise_level: RwSignal::new(0.1),
            has_generated: RwSignal::new(false),
            has_sparsity: RwSignal::new(false),
            loss_label: RwSignal::new(String::new()),
            link_note: RwSignal::new(None),
            pca: RwSignal::new(pcaview::PcaShown::Off),
            cloud: RwSignal::new(None),
            lr: RwSignal::new(0.1),
            batch: RwSignal::new(16),
            recipe: recipe::Signals::new(),
        }
    }

    /// Blanks the loss and speed readouts (a new or replaced model has none yet).
    pub fn clear_losses(&self) {
        self.train_loss.set(None);
        self.test_loss.set(None);
        self.samples_per_s.set(None);
    }

    /// Shows what the page needs to know about a newly built model.
    pub fn publish_model(&self, cfg: &ModelConfig) {
        let (kind, level) = engine::noise_control(cfg.noise);
        self.noise_kind.set(kind.into());
        self.noise_level.set(level as f64);
        self.has_generated.set(cfg.variational || cfg.code_dim() == 2);
        self.has_sparsity.set(cfg.sparsity.is_some());
        let loss = match cfg.loss {
            crate::core::LossKind::BceLogits => "cross-entropy per digit",
            crate::core::LossKind::HalfSse => "½·squared error per digit",
            crate::core::LossKind::Mse => "mean squared error",
            crate::core::LossKind::SoftmaxCe => "softmax cross-entropy",
        };
        self.loss_label.set(if cfg.variational { format!("{loss} + KL") } else { loss.into() });
        self.lr.set(cfg.optimizer.lr());
        self.batch.set(cfg.batch);
        pcaview::model_changed(*self, cfg);
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
            // The set-up in the link: model, seed, backend (src/ui/urlsync.rs).
            let setup = urlsync::initial();
            let asked_recipe = setup.recipe.clone();
            recipe::set_cap(setup.cap);
            let cfg = setup.config;
            ui.preset.set(cfg.name.clone());
            ui.publish_model(&cfg);
            let installed = engine::install(ui, mnist, cfg, setup.seed, urlsync::kind(setup.backend)).await;
            match (&installed, asked_recipe) {
                (Ok(()), Some(name)) => engine::set_preset(ui, &name), // a multi-phase recipe (recipe.rs)
                (Ok(()), None) => {
                    files::resume_stored(ui).await; // the model kept in this browser, if any (files.rs)
                    if let Some(scene) = &setup.scene {
                        engine::set_preset(ui, scene); // a page set-up that is not an MNIST model
                    }
                }
                _ => {}
            }
            if let Some(link) = ui.link_note.get_untracked() {
                let note = match ui.note.get_untracked() {
                    Some(n) => format!("{link} {n}"),
                    None => link,
                };
                ui.note.set(Some(note));
            }
            match installed {
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
                    <figure><canvas id="pad-input" class="digit" width="28" height="28"></canvas><figcaption>"model input"</figcaption><files::Png ui=ui id="pad-input" /></figure>
                    <figure><canvas id="pad-noisy" class="digit" width="28" height="28"></canvas><figcaption>"corrupted"</figcaption><files::Png ui=ui id="pad-noisy" /></figure>
                    <figure><canvas id="pad-out" class="digit" width="28" height="28"></canvas><figcaption>"denoised"</figcaption><files::Png ui=ui id="pad-out" /></figure>
                </div>
            </div>
            <div class="buttons">
                <button id="pad-clear" disabled=not_ready on:click=move |_| pad_clear(ui)>"Clear"</button>
                <button id="pad-noise" disabled=not_ready on:click=move |_| engine::new_noise(ui)>"New noise"</button>
                <files::Png ui=ui id="pad" />
            </div>
        </section>
    }
}

/// Everything the preset picker and the gallery offer: the MNIST presets, then the cloud.
pub fn page_presets() -> Vec<&'static str> {
    PRESET_NAMES.iter().copied().chain([cloud::NAME]).collect()
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
        cloud::drag_start(x, y);
    };
    let moved = move |ev: web_sys::PointerEvent| {
        let (x, y) = point(&ev);
        cloud::drag_move(ui, x, y);
    };
    let up = move |_ev: web_sys::PointerEvent| cloud::drag_end();
    view! {
        <section class="panel cloud-panel" id="cloud-panel" style:display=move || if ui.cloud.get().is_some() { "" } else { "none" }>
            <h2>"A linear autoencoder finds PCA's plane"</h2>
            <p class="hint">"200 points near a plane, each coloured by its place along the band. Black squares: the model's reconstructions, joined to their points; green: the plane of PCA with 2 components. Drag the cloud to turn it."</p>
            <div class="pictures">
                <figure><canvas id="cloud3d" width="360" height="320" style="touch-action: none; cursor: grab"
                    on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointercancel=up></canvas>
                    <figcaption>"The 3-D cloud and its reconstructions"</figcaption><files::Png ui=ui id="cloud3d" /></figure>
                <figure><canvas id="cloud-codes" width="320" height="320"></canvas>
                    <figcaption>"The model's 2-D codes: the band unrolled"</figcaption><files::Png ui=ui id="cloud-codes" /></figure>
            </div>
            <p id="cloud-summary" data-step=move || ui.readout_step.get().to_string()>{move || ui.cloud.get().unwrap_or_default()}</p>
        </section>
    }
}

#[component]
pub fn App() -> impl IntoView {
    let ui = Ui::new();
    let page = urlsync::Page::from_url(ui); // before start(): the link's set-up
    wasm_bindgen_futures::spawn_local(start(ui));
    urlsync::keep_in_sync(ui);
    lecture::install(ui, page);
    let not_ready = move || matches!(ui.state.get().as_str(), "loading" | "error");
    let running = move || ui.state.get() == "training";
    let noise_kind = ui.noise_kind;
    let noise_level = ui.noise_level;
    let apply_noise = move || engine::set_noise(ui, &noise_kind.get_untracked(), noise_level.get_untracked() as f32);
    let level_label = move || match noise_kind.get().as_str() {
        "gaussian" => "σ ",
        "salt_pepper" => "corrupted fraction ",
        "none" => "(no noise) ",
        _ => "destroyed fraction ",
    };
    let about = move || catalogue::find(&ui.preset.get()).map(|e| (e.title, e.source, e.what));
    let switch = move |ev: leptos::ev::Event| {
        let kind = if event_target_value(&ev) == "gpu" { engine::Kind::Gpu } else { engine::Kind::Cpu };
        urlsync::backend_chosen(kind);
        wasm_bindgen_futures::spawn_local(engine::switch_backend(ui, kind));
    };

    view! {
        <main id="app" data-state=move || ui.state.get() class:lecture=move || page.lecture.get()>
            <header>
                <h1>"Autoencoder Playground"</h1>
                <p class="subtitle" id="preset-about">
                    {move || about().map(|(t, src, what)| view! { <strong>{t}</strong>" ("{src}"): "{what} }.into_any()).unwrap_or_else(|| "Autoencoders learning MNIST in your browser.".into_any())}
                </p>
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
                <urlsync::LinkBar ui=ui page=page />
                <files::FileControls ui=ui />
                <label>"Preset "
                    <select id="preset-select" disabled=move || not_ready() on:change=move |ev| engine::set_preset(ui, &event_target_value(&ev))
                        prop:value=move || ui.preset.get()>
                        {page_presets().into_iter().map(|n| {
                            let title = catalogue::title(n);
                            let kind = if PRESET_NAMES.contains(&n) { "model" } else { "scene" };
                            view! { <option value=n data-kind=kind>{format!("{n} — {title}")}</option> }
                        }).collect_view()}
                        <optgroup label="Multi-phase recipes">
                            {crate::train::pipeline::RECIPE_NAMES.iter().map(|&n| {
                                let title = catalogue::title(n);
                                view! { <option value=n data-recipe="1">{format!("{n} — {title} (phases)")}</option> }
                            }).collect_view()}
                        </optgroup>
                    </select>
                </label>
                <label>"Backend "
                    <select id="backend-select" disabled=not_ready on:change=switch
                        prop:value=move || ui.backend_kind.get()>
                        <option value="gpu" disabled=move || !engine::gpu_available(ui)>"WebGPU"</option>
                        <option value="cpu">"CPU (wasm SIMD)"</option>
                    </select>
                </label>
                <label>"Noise "
                    <select id="noise-kind" prop:value=move || noise_kind.get() on:change=move |ev| { noise_kind.set(event_target_value(&ev)); apply_noise(); }>
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
                    <input id="lr" type="number" min="0" max="10" step="any" disabled=move || not_ready() || ui.cloud.get().is_some() || ui.recipe.active.get().is_some()
                        prop:value=move || ui.lr.get().to_string()
                        on:change=move |ev| {
                            let v = event_target_value(&ev).trim().parse::<f64>().unwrap_or(f64::NAN);
                            match engine::set_lr(ui, v) {
                                Ok(()) => ui.error.set(None),
                                Err(e) => {
                                    ui.error.set(Some(e));
                                    ui.lr.notify(); // puts the current value back in the field
                                }
                            }
                        } />
                </label>
                <label>"Batch "
                    <input id="batch" type="number" min="1" max="65536" step="1" disabled=move || not_ready() || ui.cloud.get().is_some() || ui.recipe.active.get().is_some()
                        prop:value=move || ui.batch.get().to_string()
                        on:change=move |ev| {
                            let text = event_target_value(&ev);
                            let v = text.trim().parse::<usize>().unwrap_or(0);
                            wasm_bindgen_futures::spawn_local(async move {
                                match engine::set_batch(ui, v).await {
                                    Ok(()) => {}
                                    Err(e) => {
                                        ui.error.set(Some(e));
                                        ui.batch.notify(); // puts the current value back in the field
                                    }
                                }
                            });
                        } />
                </label>
                <div class="stats">
                    <div class="stat"><span class="label">"backend"</span><span class="value" id="backend">{move || ui.backend.get()}</span></div>
                    <div class="stat"><span class="label">"step"</span><span class="value" id="step-count">{move || ui.step.get().to_string()}</span></div>
                    <div class="stat"><span class="label">"epoch"</span><span class="value" id="epoch">{move || format!("{:.2}", ui.epoch.get())}</span></div>
                    <div class="stat"><span class="label">"train loss"</span><span class="value" id="train-loss" data-step=move || ui.readout_step.get().to_string()>{move || fmt_loss(ui.train_loss.get())}</span></div>
                    <div class="stat"><span class="label">"test loss (1,000 digits)"</span><span class="value" id="test-loss">{move || fmt_loss(ui.test_loss.get())}</span></div>
                    <div class="stat"><span class="label">"samples/s"</span><span class="value" id="samples-per-s">{move || ui.samples_per_s.get().map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into())}</span></div>
                </div>
            </section>
            <recipe::RecipePanel ui=ui />
            <section class="panel chart-panel">
                <h2>"Loss"</h2>
                <p class="legend"><span class="train-key">{move || format!("━ train ({})", ui.loss_label.get())}</span>" "<span class="test-key">"● test"</span>
                    <span class="pca-key" style:display=move || if matches!(ui.pca.get(), pcaview::PcaShown::Ready { .. }) { "" } else { "none" }>" ╌ PCA optimum (test)"</span></p>
                <canvas id="loss-chart" width="640" height="280"></canvas><files::Png ui=ui id="loss-chart" />
            </section>
            <CloudPanel ui=ui />
            <section class="panel recon-panel" style:display=move || if ui.cloud.get().is_some() { "none" } else { "" }>
                <h2>"Reconstructions"</h2>
                <p class="hint">"Rows: clean test digits, corrupted, reconstructed."</p>
                <canvas id="recon" class="digits" width="280" height="84"></canvas><files::Png ui=ui id="recon" />
                <div id="pca-compare" style:display=move || if ui.pca.get() == pcaview::PcaShown::Off { "none" } else { "" }>
                    <p class="hint">"PCA's reconstructions of the same clean digits:"</p>
                    <canvas id="pca-recon" class="digits" width="280" height="28"></canvas><files::Png ui=ui id="pca-recon" />
                    <p id="pca-status" class="hint">{move || pcaview::caption(&ui.pca.get(), ui.test_loss.get())}</p>
                </div>
            </section>
            <div class="mnist-only" style:display=move || if ui.cloud.get().is_some() { "none" } else { "" }>
                <DrawPad ui=ui />
            </div>
            <section class="panel pictures-panel" style:display=move || if ui.cloud.get().is_some() { "none" } else { "" }>
                <h2>"What the model learned"</h2>
                <div class="pictures">
                    <figure><canvas id="features" width="280" height="280"></canvas>
                        <figcaption>"Features: the first layer's weights of 100 units, one 28×28 tile each (contrast per tile)"</figcaption><files::Png ui=ui id="features" /></figure>
                    <figure><canvas id="latent" width="320" height="320"></canvas>
                        <figcaption>{move || if ui.has_generated.get() && !ui.has_sparsity.get() { "Latent space: codes of 1,000 test digits by label" } else { "Latent space: codes of 1,000 test digits by label (wide codes projected on their two principal components)" }}</figcaption><files::Png ui=ui id="latent" /></figure>
                    <Show when=move || ui.has_generated.get()>
                        <figure><canvas id="generated" width="224" height="112"></canvas>
                            <figcaption>"Generated: codes decoded into digits (random N(0, I) codes for a VAE; a grid over a 2-D code plane)"</figcaption>
                            <button id="new-samples" on:click=move |_| engine::new_samples(ui)>"New samples"</button><files::Png ui=ui id="generated" /></figure>
                    </Show>
                    <figure><canvas id="interp" width="280" height="28"></canvas>
                        <figcaption>"Interpolation: decoding the path from a 3 (or your drawing) to an 8"</figcaption><files::Png ui=ui id="interp" /></figure>
                    <Show when=move || ui.has_sparsity.get()>
                        <figure><canvas id="sparsity" width="320" height="160"></canvas>
                            <figcaption>"Sparsity: mean activation of each hidden unit over 1,000 test digits, against the target ρ"</figcaption><files::Png ui=ui id="sparsity" /></figure>
                    </Show>
                </div>
            </section>
            <lecture::Gallery ui=ui />
            <lecture::Help page=page />
        </main>
    }
}
