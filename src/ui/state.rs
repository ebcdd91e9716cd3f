//! What the page shows, as signals: where the page is ([`PageState`]), the worker's
//! [`Status`], one readout of the last frame's numbers ([`Readout`]), the views the panels
//! draw from, the noise control ([`NoiseMode`]), and the page-level state that is not the
//! model's ([`Page`]: lecture mode, the help overlay, the link). Panels read these; the
//! worker's messages (`client`) and the controls write them.

use leptos::prelude::*;

use crate::app::history::Chart;
use crate::app::pictures::{PcaView, PictureId, RecipeView};
use crate::app::protocol::{BackendKind, RunInfo, Status};
use crate::app::catalogue::Kind;
use crate::core::config::NoiseKind;

use super::cloud;

/// Where the page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageState {
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

impl PageState {
    /// The value of `#app`'s `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            PageState::Loading => "loading",
            PageState::Ready => "ready",
            PageState::Training => "training",
            PageState::Paused => "paused",
            PageState::Error => "error",
            PageState::Bench => "bench",
            PageState::BenchDone => "bench-done",
        }
    }

    /// Whether the controls act now.
    pub fn usable(self) -> bool {
        matches!(self, PageState::Ready | PageState::Training | PageState::Paused)
    }
}

/// The numbers of the last frame (one signal: they change together).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Readout {
    pub step: u64,
    pub epoch: f64,
    pub train_loss: Option<f64>,
    pub test_loss: Option<f64>,
    pub samples_per_s: Option<f64>,
    /// The last step's loss and its step.
    pub step_loss: Option<(u64, f64)>,
}

/// A run of a comparison, as the runs table shows it: what it is and its last frame's
/// numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub info: RunInfo,
    pub readout: Readout,
}

/// A run's colour index by its letter (A blue, B orange, …) (`ui::chart::PALETTE`).
pub fn run_colour(label: &str) -> u8 {
    label.bytes().next().map_or(0, |b| b.saturating_sub(b'A')) % 8
}

/// The noise control's kinds (the `<select>`'s values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseMode {
    Masking,
    Gaussian,
    SaltPepper,
    Dropout,
    None,
}

impl NoiseMode {
    pub const ALL: [NoiseMode; 5] = [NoiseMode::Masking, NoiseMode::Gaussian, NoiseMode::SaltPepper, NoiseMode::Dropout, NoiseMode::None];

    /// The `<option>` value.
    pub fn as_str(self) -> &'static str {
        match self {
            NoiseMode::Masking => "masking",
            NoiseMode::Gaussian => "gaussian",
            NoiseMode::SaltPepper => "salt_pepper",
            NoiseMode::Dropout => "dropout",
            NoiseMode::None => "none",
        }
    }

    /// The `<option>` text.
    pub fn label(self) -> &'static str {
        match self {
            NoiseMode::Masking => "masking",
            NoiseMode::Gaussian => "Gaussian",
            NoiseMode::SaltPepper => "salt and pepper",
            NoiseMode::Dropout => "dropout",
            NoiseMode::None => "none",
        }
    }

    /// The mode of an `<option>` value (no noise for an unknown one).
    pub fn parse(value: &str) -> NoiseMode {
        NoiseMode::ALL.into_iter().find(|m| m.as_str() == value).unwrap_or(NoiseMode::None)
    }

    /// The control for a noise kind: (mode, level shown on the slider).
    pub fn of(noise: NoiseKind) -> (NoiseMode, f32) {
        match noise {
            NoiseKind::None => (NoiseMode::None, 0.0),
            NoiseKind::Masking { keep } => (NoiseMode::Masking, 1.0 - keep),
            NoiseKind::Gaussian { sigma } => (NoiseMode::Gaussian, sigma),
            NoiseKind::SaltPepper { p } => (NoiseMode::SaltPepper, p),
            NoiseKind::Dropout { keep } => (NoiseMode::Dropout, 1.0 - keep),
        }
    }

    /// The noise of the control: `level` is the fraction of pixels destroyed (masking,
    /// dropout), corrupted (salt and pepper) or σ (Gaussian).
    pub fn noise(self, level: f32) -> NoiseKind {
        let level = level.clamp(0.0, 0.99);
        match self {
            NoiseMode::Masking => NoiseKind::Masking { keep: (1.0 - level).max(0.01) },
            NoiseMode::Gaussian => NoiseKind::Gaussian { sigma: level },
            NoiseMode::SaltPepper => NoiseKind::SaltPepper { p: level },
            NoiseMode::Dropout => NoiseKind::Dropout { keep: (1.0 - level).max(0.01) },
            NoiseMode::None => NoiseKind::None,
        }
    }
}

/// Everything the page displays, as signals (cheap to copy into closures).
#[derive(Clone, Copy)]
pub struct Ui {
    pub state: RwSignal<PageState>,
    pub error: RwSignal<Option<String>>,
    pub progress: RwSignal<(f64, f64)>,
    pub data_status: RwSignal<String>,
    pub data_source: RwSignal<String>,
    /// Training images in, of how many, while the rest of them arrives (None: all came at once).
    pub data_in: RwSignal<Option<(u64, u64)>>,
    /// A download that stalled: the file and what happened (the page offers Retry).
    pub stalled: RwSignal<Option<(String, String)>>,
    /// The service worker's offline copy is complete (`ui::offline`).
    pub offline: RwSignal<bool>,
    /// Whether the page is cross-origin isolated (None: not known yet).
    pub isolated: RwSignal<Option<bool>>,
    /// The CPU path's threads, as the worker reports them (None: not known yet).
    pub threads: RwSignal<Option<crate::app::envelope::Threads>>,
    /// Something the user should know (a fallback, a recovery, a resumed model).
    pub note: RwSignal<Option<String>>,
    /// What the page's link asked for that could not be honoured.
    pub link_note: RwSignal<Option<String>>,
    /// The worker's state: run state, backend, the session and its settings.
    pub status: RwSignal<Option<Status>>,
    /// The last frame's numbers (its step is `data-step` on #train-loss and #cloud-summary,
    /// so a test can wait for a read-back made after an action).
    pub readout: RwSignal<Readout>,
    pub pca: RwSignal<Option<PcaView>>,
    pub recipe: RwSignal<Option<RecipeView>>,
    pub recipe_pad_note: RwSignal<Option<String>>,
    pub cloud_summary: RwSignal<Option<String>>,
    /// Whether the reconstruction grid shows a corrupted row.
    pub recon_noisy: RwSignal<bool>,
    /// A classifier's phase: its mistakes and the test digits counted (the reconstructions
    /// panel shows its predictions then).
    pub predictions: RwSignal<Option<(u32, usize)>>,
    /// The class a classifier reads the drawing as (the pad shows its probabilities then).
    pub pad_class: RwSignal<Option<u8>>,
    pub cloud: StoredValue<cloud::Scene>,
    /// The noise control (follows the model's noise).
    pub noise_mode: RwSignal<NoiseMode>,
    pub noise_level: RwSignal<f64>,
    /// The last loss chart (for the CSV).
    pub chart: StoredValue<Option<Chart>>,
    /// The pictures' quality measures (`app::quality`): the features' stroke-likeness and
    /// the reconstructions' match with the clean digits, as last drawn.
    pub features_quality: RwSignal<Option<f64>>,
    pub recon_quality: RwSignal<Option<f64>>,
    /// The slow-motion view is open, and the last step it showed.
    pub slow: RwSignal<bool>,
    pub inside: RwSignal<Option<crate::app::inside::Inside>>,
    /// Runs compared (empty while one run trains alone), in label order.
    pub runs: RwSignal<Vec<RunRow>>,
    /// Each compared run's last loss chart, by run id (the page overlays them).
    pub run_charts: StoredValue<Vec<(u32, Chart)>>,
}

impl Ui {
    pub fn new() -> Self {
        Ui {
            state: RwSignal::new(PageState::Loading),
            error: RwSignal::new(None),
            progress: RwSignal::new((0.0, 1.0)),
            data_status: RwSignal::new("Starting …".into()),
            data_source: RwSignal::new(String::new()),
            data_in: RwSignal::new(None),
            stalled: RwSignal::new(None),
            offline: RwSignal::new(false),
            isolated: RwSignal::new(None),
            threads: RwSignal::new(None),
            note: RwSignal::new(None),
            link_note: RwSignal::new(None),
            status: RwSignal::new(None),
            readout: RwSignal::new(Readout::default()),
            pca: RwSignal::new(None),
            recipe: RwSignal::new(None),
            recipe_pad_note: RwSignal::new(None),
            cloud_summary: RwSignal::new(None),
            recon_noisy: RwSignal::new(true),
            predictions: RwSignal::new(None),
            pad_class: RwSignal::new(None),
            cloud: StoredValue::new(cloud::Scene::default()),
            noise_mode: RwSignal::new(NoiseMode::Masking),
            noise_level: RwSignal::new(0.1),
            chart: StoredValue::new(None),
            features_quality: RwSignal::new(None),
            recon_quality: RwSignal::new(None),
            slow: RwSignal::new(false),
            inside: RwSignal::new(None),
            runs: RwSignal::new(Vec::new()),
            run_charts: StoredValue::new(Vec::new()),
        }
    }

    /// Whether the data is loaded, all of it (the training images arrive in parts while the
    /// first trains).
    pub fn data_complete(&self) -> bool {
        !self.data_source.get().is_empty() && self.data_in.get().is_none_or(|(have, total)| have >= total)
    }

    /// Nothing can go on: the page shows why.
    pub fn fail(&self, why: String) {
        self.error.set(Some(why));
        self.state.set(PageState::Error);
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
    pub fn clear_for_session(&self) {
        self.readout.update(|r| {
            r.train_loss = None;
            r.test_loss = None;
            r.samples_per_s = None;
        });
        self.pca.set(None);
        self.recipe.set(None);
        self.recipe_pad_note.set(None);
        self.cloud_summary.set(None);
        self.chart.set_value(None);
        self.inside.set(None);
        self.features_quality.set(None);
        self.recon_quality.set(None);
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

    /// Whether the session draws picture `id`.
    pub fn draws(&self, id: PictureId) -> bool {
        self.status.with(|s| s.as_ref().is_some_and(|s| s.session.pictures.contains(&id)))
    }

    pub fn usable(&self) -> bool {
        self.state.get().usable()
    }
}

/// Page-level state that is not the model's: lecture mode, the help overlay, the link.
#[derive(Clone, Copy)]
pub struct Page {
    pub lecture: RwSignal<bool>,
    pub help: RwSignal<bool>,
    /// Controls hidden in lecture mode, and the visible panels (None: all).
    pub hide: RwSignal<Vec<String>>,
    pub panels: RwSignal<Option<Vec<String>>>,
    /// The link shown by "Copy link", and what happened to the clipboard.
    pub link: RwSignal<Option<String>>,
    pub copied: RwSignal<String>,
}
