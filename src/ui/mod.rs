//! The Leptos page. It trains nothing: the training worker (`src/worker/`, running
//! `app::controller`) does, and the page sends it commands (`client::send`) and draws the
//! frames it sends back (`client`, `draw`, `chart`). The page keeps only what it shows, as
//! signals ([`state`]).
//!
//! Where things go: the page's state is [`state`]; each panel is a file of [`panels`],
//! composed here by [`App`]; a picture is a row of `draw::PICTURES` (with its id and
//! producer in `app::pictures`); a control sends a `Command`; the benchmark mode's results
//! are [`bench`], the end-to-end tests' hooks [`hooks`].

mod bench;
mod chart;
mod client;
mod cloud;
mod dom;
mod draw;
mod files;
mod hooks;
mod lecture;
mod model_view;
mod offline;
mod panels;
mod state;
mod urlsync;

use leptos::prelude::*;

use crate::app::envelope::ToWorker;

use panels::{cloud::CloudPanel, gallery::Gallery, inside::InsidePanel, loss::LossPanel, model::ModelPanel, pad::DrawPad, pictures::PicturesPanel};
use panels::{recipe::RecipePanel, recon::ReconPanel, runs::RunsPanel, status_bar::StatusBar, topbar::TopBar};
use state::{PageState, Ui};

/// Whether the page's browser offers WebGPU (the worker checks its own).
fn page_has_webgpu() -> bool {
    js_sys::Reflect::get(&dom::window().navigator(), &"gpu".into()).is_ok_and(|g| !g.is_undefined() && !g.is_null())
}

/// Starts the worker: benchmark mode, or the page's set-up.
fn start(ui: Ui) {
    let search = dom::window().location().search().unwrap_or_default();
    let bench = search.contains("bench=") || search.contains("selftest=");
    let first = if bench {
        ui.state.set(PageState::Bench);
        ui.data_status.set("Benchmark mode: see #bench-result".into());
        ToWorker::Bench(search)
    } else {
        let setup = urlsync::initial();
        ToWorker::Start { setup, resume: !urlsync::link_sets_up(), page_has_webgpu: page_has_webgpu() }
    };
    if let Err(e) = client::start(ui, first) {
        ui.fail(e);
    }
    // Not in benchmark mode: the offline copy's downloads would compete with the measurement.
    // And only once the data has arrived: the service worker then copies the data files from
    // the loader's cache instead of downloading 11 MB a second time.
    if !bench {
        let installed = std::cell::Cell::new(false);
        Effect::new(move |_| {
            if ui.data_complete() && !installed.replace(true) {
                offline::install(ui);
            }
        });
    }
}

#[component]
pub fn App() -> impl IntoView {
    let ui = Ui::new();
    provide_context(ui);
    let page = urlsync::page_from_url(ui); // before start(): the link's set-up
    start(ui);
    urlsync::keep_in_sync(ui);
    lecture::install(ui, page);
    hooks::install();
    let mnist = move || !ui.draws(crate::app::pictures::PictureId::Cloud);

    view! {
        <main id="app" data-state=move || ui.state.get().as_str() data-data=move || if ui.data_complete() { "complete" } else { "partial" } class:lecture=move || page.lecture.get()>
            <TopBar ui=ui page=page />
            <StatusBar ui=ui />
            <div class="stage">
                <ModelPanel ui=ui />
                <LossPanel />
                <ReconPanel ui=ui />
                <RunsPanel ui=ui />
                <InsidePanel ui=ui />
                <div class="pad-wrap mnist-only" style:display=move || if mnist() { "" } else { "none" }>
                    <DrawPad ui=ui />
                </div>
                <CloudPanel ui=ui />
                <RecipePanel ui=ui />
                <PicturesPanel ui=ui />
            </div>
            <Gallery ui=ui />
            <lecture::Help page=page />
        </main>
    }
}
