//! The reconstructions panel: test digits, corrupted and reconstructed (`ui::draw`'s recon
//! row draws them), and beside a linear autoencoder PCA's reconstructions and its fit; in a
//! recipe's classifier phase, the classifier's predictions and confusion matrix.

use leptos::prelude::*;

use crate::app::pictures::{PcaView, PictureId};

use super::super::files::PanelPng;
use super::super::state::Ui;

/// The reconstructions panel (shown for a model on pixels and for a recipe).
#[component]
pub fn ReconPanel(ui: Ui) -> impl IntoView {
    let shown = move || ui.draws(PictureId::Recon) || ui.draws(PictureId::Recipe);
    view! {
        <section class="panel recon-panel" style:display=move || if shown() { "" } else { "none" }>
            <div class="panel-head"><h2>{move || if ui.predictions.get().is_some() { "Predictions" } else { "Reconstructions" }}</h2><PanelPng panel="reconstructions" ids=&["recon", "pca-recon"] /></div>
            <p class="hint" id="recon-caption">{move || match ui.predictions.get() {
                Some((mistakes, rows)) => format!(
                    "This phase trains a classifier: test digits with the class it predicts (mistakes in red), and its confusion matrix on {rows} test digits (rows: the true digit, columns: the prediction): {mistakes} mistakes, {:.1} % error.",
                    100.0 * mistakes as f64 / rows.max(1) as f64
                ),
                None if ui.recon_noisy.get() => "Rows: test digits, corrupted (destroyed pixels in red), reconstructed.".into(),
                None => "Rows: test digits, reconstructed.".into(),
            }}<span id="recon-quality">{move || ui.recon_quality.get().filter(|_| ui.predictions.get().is_none()).map(|q| format!(
                " Match with the clean digits {q:.2} (their pixels' correlation: 0 for an output that ignores its input, 1 for a perfect copy)."
            ))}</span></p>
            <canvas id="recon" class="digits" width="280" height="84"></canvas>
            <div id="pca-compare" style:display=move || if ui.pca.get().is_none() { "none" } else { "" }>
                <p class="hint">"PCA's reconstructions of the same digits:"</p>
                <canvas id="pca-recon" class="digits" width="280" height="28"></canvas>
                <p id="pca-status" class="hint">{move || pca_caption(&ui.pca.get(), ui.readout.get().test_loss)}</p>
            </div>
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

use crate::app::thousands;

