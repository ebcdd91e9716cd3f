//! Runs compared (issue 22): a table of the runs (what differs from the first, the step, the
//! last step's loss, train and test loss, samples/s; make a run the main one, remove it,
//! save it) and each run's reconstructions, first-layer features and generated digits side
//! by side (`ui::client` draws a compared run's frames into its row). The loss chart overlays
//! the runs' losses. Shown while more than one run trains.

use leptos::prelude::*;

use crate::app::pictures::PictureId;
use crate::app::protocol::Command;

use super::super::chart::{format_value, PALETTE};
use super::super::client;
use super::super::state::{RunRow, Ui};

/// The runs compared: the table, then one row of pictures per run.
#[component]
pub fn RunsPanel(ui: Ui) -> impl IntoView {
    let shown = move || ui.runs.with(|r| !r.is_empty());
    let ids = move || ui.runs.with(|rows| rows.iter().map(|r| (r.info.id, r.info.label.clone())).collect::<Vec<_>>());
    let row = move |id: u32| ui.runs.with(|rows| rows.iter().find(|r| r.info.id == id).cloned());
    let main = move || ui.status.with(|s| s.as_ref().map_or(0, |s| s.main));
    let usable = move || ui.usable();
    let generated = move || ui.draws(PictureId::Generated);
    view! {
        <section class="panel runs-panel" id="runs" style:display=move || if shown() { "" } else { "none" } aria-labelledby="runs-title">
            <div class="panel-head">
                <h2 id="runs-title">"Runs compared"</h2>
                <button id="compare-more" class="small" disabled=move || !usable() || ui.runs.with(|r| r.len() >= crate::app::protocol::MAX_RUNS)
                    on:click=move |_| client::send(&Command::Compare)>"+ Run"</button>
            </div>
            <p class="hint">"Same seed: the runs see the same minibatches in the same order and differ only in what the table says. The controls change the main run (★); the chart overlays every run's losses."</p>
            <div class="runs-table-wrap">
                <table id="runs-table">
                    <thead><tr>
                        <th scope="col">"Run"</th><th scope="col">"What differs"</th><th scope="col" class="num">"Step"</th>
                        <th scope="col" class="num" title="The loss of the last step's minibatch">"Step loss"</th>
                        <th scope="col" class="num">"Train"</th><th scope="col" class="num">"Test"</th><th scope="col" class="num">"Samples/s"</th><th scope="col">"Actions"</th>
                    </tr></thead>
                    <tbody>
                        <For each=ids key=|(id, label)| (*id, label.clone()) let:item>
                            {
                                let (id, label) = item;
                                let r = move || row(id);
                                let is_main = move || main() == id;
                                let num = move |f: fn(&RunRow) -> Option<f64>| move || r().and_then(|r| f(&r)).map(format_value).unwrap_or_else(|| "–".into());
                                let colour = PALETTE[super::super::state::run_colour(&label) as usize % PALETTE.len()];
                                let (l1, l2, l3) = (label.clone(), label.clone(), label.clone());
                                view! {
                                    <tr data-run=label.clone() class:main=is_main>
                                        <th scope="row"><span class="swatch" style:background=colour aria-hidden="true"></span>{label.clone()}
                                            <span class="main-mark" aria-label="the main run" style:visibility=move || if is_main() { "visible" } else { "hidden" }>" ★"</span></th>
                                        <td class="differs" data-label="What differs">{move || r().map(|r| r.info.differs).unwrap_or_default()}</td>
                                        <td class="num run-step" data-label="Step">{move || r().map(|r| crate::app::thousands(r.readout.step as usize)).unwrap_or_default()}</td>
                                        <td class="num run-step-loss" data-label="Step loss" data-step=move || r().and_then(|r| r.readout.step_loss).map(|s| s.0.to_string()).unwrap_or_default()
                                            data-value=move || r().and_then(|r| r.readout.step_loss).map(|s| s.1.to_string()).unwrap_or_default()>
                                            {num(|r| r.readout.step_loss.map(|s| s.1))}</td>
                                        <td class="num run-train" data-label="Train">{num(|r| r.readout.train_loss)}</td>
                                        <td class="num run-test" data-label="Test">{num(|r| r.readout.test_loss)}</td>
                                        <td class="num run-rate" data-label="Samples/s">{move || r().and_then(|r| r.readout.samples_per_s).map(|v| crate::app::thousands(v.round() as usize)).unwrap_or_else(|| "–".into())}</td>
                                        <td class="actions">
                                            <button class="small run-main" aria-label=format!("Make run {l1} the main one") disabled=move || is_main() || !usable()
                                                on:click=move |_| client::send(&Command::MakeMain(id))>"Main"</button>
                                            <button class="small run-remove" aria-label=format!("Remove run {l2}") disabled=move || !usable()
                                                on:click=move |_| client::send(&Command::RemoveRun(id))>"Remove"</button>
                                            <button class="small run-save" aria-label=format!("Save run {l3} as a file") disabled=move || !usable()
                                                on:click=move |_| client::send(&Command::SaveRun(id))>"Save"</button>
                                        </td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                </table>
            </div>
            <div class="run-pictures">
                <For each=ids key=|(id, label)| (*id, label.clone()) let:item>
                    {
                        let (id, label) = item;
                        let colour = PALETTE[super::super::state::run_colour(&label) as usize % PALETTE.len()];
                        let differs = move || row(id).map(|r| r.info.differs).unwrap_or_default();
                        view! {
                            <figure class="run-pics" data-run=label.clone() style:border-color=colour>
                                <figcaption><strong>{format!("Run {label}")}</strong>{move || if main() == id { " ★" } else { "" }}": "{differs}</figcaption>
                                <div class="run-canvases">
                                    <canvas id=format!("run-{label}-recon") class="digits run-recon" role="img" width="280" height="84" aria-label=format!("Run {label}: test digits, corrupted and reconstructed")></canvas>
                                    <canvas id=format!("run-{label}-features") class="run-features" role="img" width="280" height="280" aria-label=format!("Run {label}: first-layer features")></canvas>
                                    <canvas id=format!("run-{label}-generated") class="digits run-generated" role="img" width="224" height="224" aria-label=format!("Run {label}: generated digits")
                                        style:display=move || if generated() { "" } else { "none" }></canvas>
                                </div>
                            </figure>
                        }
                    }
                </For>
            </div>
        </section>
    }
}
