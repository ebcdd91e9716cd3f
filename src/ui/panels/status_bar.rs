//! The status bar: the run's numbers (step, epoch, losses, speed, the backend), the data
//! line and what the page has to say (notes, errors).

use leptos::prelude::*;

use crate::app::envelope::ToWorker;

use super::super::client;
use super::super::state::{PageState, Ui};

fn fmt_loss(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into())
}

/// Plain words for a backend's label ("CPU (wasm simd128+relaxed, 2 threads)" → "CPU:
/// WebAssembly SIMD (relaxed), 2 threads"); the words "CPU", "WebGPU" and "relaxed" stay for
/// the tests and links.
pub fn backend_words(label: &str) -> String {
    if let Some(rest) = label.strip_prefix("CPU (wasm ") {
        let relaxed = rest.contains("relaxed");
        let threads = rest.split(", ").nth(1).map(|t| format!(", {}", t.trim_end_matches(')'))).unwrap_or_default();
        return format!("CPU: WebAssembly SIMD{}{threads}", if relaxed { " (relaxed)" } else { "" });
    }
    if let Some(rest) = label.strip_prefix("WebGPU (") {
        let name = rest.trim_end_matches(')');
        let software = ["cpu", "swiftshader", "llvmpipe", "lavapipe", "warp", "software", "fallback"].iter().any(|w| name.to_lowercase().contains(w));
        return if software { "WebGPU, emulated on the processor".into() } else { format!("WebGPU: {name}") };
    }
    label.to_string()
}

/// The CPU path's threads in words (" · 2 threads", " · 1 thread: the page is not
/// cross-origin isolated").
fn threads_words(ui: Ui) -> String {
    let Some(t) = ui.threads.get() else { return String::new() };
    if t.pool > 1 {
        let of = if t.used < t.pool { format!(" of {}", t.pool) } else { String::new() };
        return format!(" · {} thread{}{of}", t.used, if t.used == 1 { "" } else { "s" });
    }
    let why = if super::super::urlsync::initial().threads == Some(1) {
        "threads=1 in the link".to_string()
    } else {
        t.why_one.unwrap_or_default()
    };
    format!(" · 1 thread: {why}")
}

/// The numbers of the run, the data, and what the page has to say.
#[component]
pub fn StatusBar(ui: Ui) -> impl IntoView {
    view! {
        <section class="panel statusbar">
            <div class="stats">
                <div class="stat"><span class="label">"step"</span><span class="value" id="step-count">{move || ui.readout.get().step.to_string()}</span></div>
                <div class="stat"><span class="label">"epoch"</span><span class="value" id="epoch">{move || format!("{:.2}", ui.readout.get().epoch)}</span></div>
                <div class="stat"><span class="label">"train loss"</span><span class="value" id="train-loss" data-step=move || ui.readout.get().step.to_string()
                    data-step-loss=move || ui.readout.get().step_loss.map(|(s, l)| format!("{s}:{l}")).unwrap_or_default()>{move || fmt_loss(ui.readout.get().train_loss)}</span></div>
                <div class="stat"><span class="label">"test loss"</span><span class="value" id="test-loss" title="on 1,000 test digits">{move || fmt_loss(ui.readout.get().test_loss)}</span></div>
                <div class="stat"><span class="label">"samples/s"</span><span class="value" id="samples-per-s">{move || ui.readout.get().samples_per_s.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into())}</span></div>
                <div class="stat wide"><span class="label">"runs on"</span><span class="value small" id="backend">{move || ui.status.get().map(|s| backend_words(&s.backend_label)).unwrap_or_else(|| "–".into())}</span></div>
            </div>
            <div class="data-line">
                <span id="data-status">{move || ui.data_status.get()}</span>
                " "<span id="data-source">{move || ui.data_source.get()}</span>
                <span id="data-in" class="small" role="status">{move || match ui.data_in.get() {
                    Some((have, total)) if have < total => format!(
                        " · training images in: {} of {} (the rest arrives while it trains)",
                        crate::app::thousands(have as usize),
                        crate::app::thousands(total as usize)
                    ),
                    _ => String::new(),
                }}</span>
                <span id="offline" class="small">{move || if ui.offline.get() { " · works offline" } else { "" }}</span>
                <span id="isolation" class="small">{move || match ui.isolated.get() {
                    Some(true) => " · cross-origin isolated",
                    Some(false) => " · not cross-origin isolated",
                    None => "",
                }}</span>
                <span id="threads" class="small">{move || threads_words(ui)}</span>
                <Show when=move || ui.state.get() == PageState::Loading>
                    <progress id="data-progress"
                        max=move || format!("{}", ui.progress.get().1)
                        value=move || format!("{}", ui.progress.get().0)></progress>
                </Show>
            </div>
            <Show when=move || ui.note.get().is_some() || ui.link_note.get().is_some()>
                <div id="note" role="status">{move || [ui.link_note.get(), ui.note.get()].into_iter().flatten().collect::<Vec<_>>().join(" ")}</div>
            </Show>
            <Show when=move || ui.stalled.get().is_some()>
                <div id="stalled" role="alert">
                    <span>{move || ui.stalled.get().map(|s| s.1).unwrap_or_default()}</span>
                    " "<button id="retry" class="small"
                        aria-label=move || format!("Retry the download of {}", ui.stalled.get().map(|s| s.0).unwrap_or_default())
                        on:click=move |_| {
                            ui.stalled.set(None);
                            client::send_to_worker(&ToWorker::RetryLoad);
                        }>"Retry"</button>
                </div>
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
