//! The page's set-up in its URL: the model description (preset and every hyperparameter),
//! the seed, the backend choice, the visible panels and the lecture mode, as a query string,
//! so that opening a URL reproduces a set-up (same seed, same first losses on the same
//! backend).
//!
//! [`decode`] starts from the named preset and applies every other key on top; a key it
//! does not know, or a value that does not parse or is out of range, is ignored and named
//! in a note for the page to show. It never panics, and the set-up it returns always passes
//! [`ModelConfig::validate`]: values that are fine one by one but invalid together (e.g.
//! `act=relu,identity` with the BCE loss) are dropped, the last one first, with the reason.
//! [`encode`] writes every key, so a URL keeps meaning the same set-up even if a preset's
//! defaults change later; `decode(encode(s)) == s` for every set-up whose config name is a
//! preset or `custom` (other names are written as `custom`).
//!
//! | key | value | example |
//! | --- | --- | --- |
//! | `preset` | a preset name, `custom` (starts from `dae_vincent`), or a multi-phase recipe (`stacked_greedy`, `sda`, `pretrain_classifier`: then only the keys from `seed` on apply) | `preset=tied_ae` |
//! | `dims` | layer widths, input to output (input = output, as the preset's) | `dims=784,300,150,300,784` |
//! | `act` | one activation per layer: `identity`, `sigmoid`, `tanh`, `relu`, `elu` | `act=elu,elu,elu,identity` |
//! | `loss` | `bce_logits`, `half_sse`, `mse` | `loss=mse` |
//! | `red` | reduction over the batch: `sum`, `mean` | `red=mean` |
//! | `noise` | `none`, `masking:KEEP` (keep probability in (0, 1]) | `noise=masking:0.8` |
//! | `opt` | `sgd`, `momentum`, `adam` (switching fills in PyTorch's defaults) | `opt=adam` |
//! | `lr` | learning rate in (0, 10] | `lr=0.02` |
//! | `mom` | momentum in [0, 1) (`opt=momentum`) | `mom=0.9` |
//! | `beta1`, `beta2`, `eps` | Adam's β1, β2 in [0, 1) and ε > 0 (`opt=adam`) | `eps=1e-8` |
//! | `init` | `uniform:A`, `glorot_uniform`, `he_normal` | `init=uniform:0.01` |
//! | `batch` | batch size, 1..=65536 | `batch=32` |
//! | `tied` | tied weights, `0` or `1` | `tied=1` |
//! | `l2` | L2 weight decay λ in [0, 1] | `l2=0.0001` |
//! | `seed` | run seed, a whole number | `seed=7` |
//! | `backend` | `auto`, `gpu`, `cpu` | `backend=cpu` |
//! | `cap` | recipes: steps per phase at most, 1..=1000000 (left out: whole epochs) | `cap=20` |
//! | `panels` | visible panels, comma-separated names (left out: the page's default) | `panels=recon,features` |
//! | `lecture` | lecture mode, `0` or `1` | `lecture=1` |
//! | `hide` | controls hidden in lecture mode, comma-separated names | `hide=lr,batch` |
//! | `slow` | the slow-motion view of one training step open, `0` or `1` | `slow=1` |
//! | `compare` | runs compared with this one (up to 3): each the model keys that differ from this run (`preset` first where it differs, then from that preset), `&` and `=` as in a link, the runs separated by `\|`; `*` marks where this run sits among them (left out: first) | `compare=noise%3Dnone` |
//!
//! Adding a field: add one entry to `KEYS` (name, how to write it, how to parse and apply
//! it, with its range check) and a row above. Entries apply in table order, so a key that
//! depends on another (`lr` on `opt`, `act` on `dims`) comes after it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::core::config::{preset, preset_list, Activation, Init, ModelConfig, NoiseKind, Optimizer, MAX_BATCH, MAX_WIDTH, PRESET_NAMES};
/// The multi-phase recipes (the catalogue's).
const RECIPE_NAMES: &[&str] = &super::catalogue::RECIPES;

/// The preset a URL without (or with an unknown) `preset` starts from.
pub const DEFAULT_PRESET: &str = "dae_vincent";
/// Largest learning rate a link (or the page's control) accepts.
pub const MAX_LR: f32 = 10.0;
/// The seed when the URL gives none.
pub const DEFAULT_SEED: u64 = 1;
/// Most threads a link may ask for (the pool is at most the browser's core count).
pub const MAX_THREADS: usize = 64;

/// Runs a link compares with its own at most (`app::protocol::MAX_RUNS` in all).
const MAX_COMPARED: usize = crate::app::protocol::MAX_RUNS - 1;

/// Longest list (`panels`, `hide`) and name accepted.
const MAX_NAMES: usize = 32;
const MAX_NAME_LEN: usize = 32;

/// Which backend the page trains on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum BackendChoice {
    /// The GPU where the browser offers WebGPU, else the CPU.
    #[default]
    Auto,
    Gpu,
    Cpu,
}

impl BackendChoice {
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Gpu => "gpu",
            BackendChoice::Cpu => "cpu",
        }
    }
}

/// Everything the URL holds.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Setup {
    pub config: ModelConfig,
    pub seed: u64,
    pub backend: BackendChoice,
    /// Visible panels; None: the page's default set.
    pub panels: Option<Vec<String>>,
    /// Lecture mode (a simplified page for teaching).
    pub lecture: bool,
    /// Controls hidden in lecture mode.
    pub hide: Vec<String>,
    /// A set-up of the page that is not an MNIST model (one of [`SCENES`]): the URL then
    /// names it in `preset` and keeps only the page's keys (seed, backend, panels, lecture).
    pub scene: Option<String>,
    /// A multi-phase recipe (`train::pipeline::RECIPE_NAMES`) instead of `config`.
    pub recipe: Option<String>,
    /// Recipes: each phase ends after this many steps at the most.
    pub cap: Option<u64>,
    /// Threads of the browser's CPU path (None: all the pool has; `threads=1`: the build
    /// without threads, as before they came).
    pub threads: Option<u32>,
    /// The WebAssembly build the page asks for (one of [`BUILDS`]; None: the best this
    /// browser runs). The page's loader reads it (scripts/trunk-variants-html.mjs).
    pub build: Option<String>,
    /// Runs compared with this one (their models, in label order without this one), and
    /// where this one sits among them (0: first).
    pub compare: Vec<ModelConfig>,
    pub main_at: usize,
    /// The slow-motion view of one training step is open ("Inside a step").
    pub slow: bool,
}

/// The web app's builds (scripts/trunk-variants.sh), as `build=` names them.
pub const BUILDS: [&str; 4] = ["simd128", "relaxed-simd", "threads", "threads+relaxed-simd"];

/// Page set-ups named like presets that are not MNIST models: `linear_3d_pca`, the 3-D cloud.
pub const SCENES: &[&str] = &super::catalogue::SCENES;

/// Keys that still apply with a scene (the others describe an MNIST model).
const PAGE_KEYS: &[&str] = &["seed", "backend", "threads", "build", "panels", "lecture", "hide", "slow"];

impl Setup {
    /// `config` with the default seed, backend and panels.
    pub fn new(config: ModelConfig) -> Setup {
        Setup { config, seed: DEFAULT_SEED, backend: BackendChoice::Auto, panels: None, lecture: false, hide: Vec::new(), scene: None, recipe: None, cap: None, threads: None, build: None, compare: Vec::new(), main_at: 0, slow: false }
    }
}

impl Default for Setup {
    fn default() -> Self {
        Setup::new(preset(DEFAULT_PRESET).expect("default preset"))
    }
}

/// A decoded URL: the set-up, and one note per ignored key or value.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub setup: Setup,
    pub notes: Vec<String>,
}

/// One URL key: how it is written and how it is read.
struct Key {
    name: &'static str,
    /// The value to write, or None to leave the key out.
    get: fn(&Setup) -> Option<String>,
    /// Parses and applies a value; Err says why it is ignored.
    set: fn(&mut Setup, &str) -> Result<(), String>,
}

const KEYS: &[Key] = &[
    Key { name: "dims", get: |s| Some(join(s.config.dims.iter())), set: set_dims },
    Key { name: "act", get: |s| Some(join(s.config.activations.iter().map(enum_name))), set: set_act },
    Key { name: "loss", get: |s| Some(enum_name(&s.config.loss)), set: |s, v| Ok(s.config.loss = parse_enum(v, "bce_logits, half_sse, mse")?) },
    Key { name: "red", get: |s| Some(enum_name(&s.config.reduction)), set: |s, v| Ok(s.config.reduction = parse_enum(v, "sum, mean")?) },
    Key { name: "noise", get: |s| Some(fmt_noise(&s.config.noise)), set: |s, v| Ok(s.config.noise = parse_noise(v)?) },
    Key { name: "opt", get: |s| Some(opt_kind(&s.config.optimizer).into()), set: set_opt },
    Key { name: "lr", get: |s| Some(fmt_f32(s.config.optimizer.lr())), set: set_lr },
    Key {
        name: "mom",
        get: |s| match s.config.optimizer {
            Optimizer::Momentum { momentum, .. } => Some(fmt_f32(momentum)),
            _ => None,
        },
        set: |s, v| match &mut s.config.optimizer {
            Optimizer::Momentum { momentum, .. } => Ok(*momentum = parse_f32(v, 0.0, false, 1.0, true)?),
            o => Err(format!("applies to opt=momentum only (opt is {})", opt_kind(o))),
        },
    },
    Key { name: "beta1", get: |s| adam(s).map(|(b1, _, _)| fmt_f32(b1)), set: |s, v| set_adam(s, v, 0) },
    Key { name: "beta2", get: |s| adam(s).map(|(_, b2, _)| fmt_f32(b2)), set: |s, v| set_adam(s, v, 1) },
    Key { name: "eps", get: |s| adam(s).map(|(_, _, e)| fmt_f32(e)), set: |s, v| set_adam(s, v, 2) },
    Key { name: "init", get: |s| Some(fmt_init(&s.config.init)), set: |s, v| Ok(s.config.init = parse_init(v)?) },
    Key { name: "batch", get: |s| Some(s.config.batch.to_string()), set: |s, v| Ok(s.config.batch = parse_usize(v, 1, MAX_BATCH)?) },
    Key { name: "tied", get: |s| Some(fmt_bool(s.config.tied)), set: |s, v| Ok(s.config.tied = parse_bool(v)?) },
    Key { name: "l2", get: |s| Some(fmt_f32(s.config.l2)), set: |s, v| Ok(s.config.l2 = parse_f32(v, 0.0, true, 1.0, false)?) },
    Key { name: "seed", get: |s| Some(s.seed.to_string()), set: |s, v| Ok(s.seed = v.parse().map_err(|_| "not a whole number ≥ 0".to_string())?) },
    Key { name: "backend", get: |s| Some(s.backend.name().into()), set: set_backend },
    Key { name: "threads", get: |s| s.threads.map(|t| t.to_string()), set: |s, v| Ok(s.threads = Some(parse_usize(v, 1, MAX_THREADS)? as u32)) },
    Key {
        name: "build",
        get: |s| s.build.clone(),
        set: |s, v| match BUILDS.iter().find(|b| **b == v.replace(' ', "+")) {
            Some(b) => Ok(s.build = Some(b.to_string())),
            None => Err(format!("is not a build of this app ({})", BUILDS.join(", "))),
        },
    },
    Key {
        name: "cap",
        get: |s| s.cap.map(|c| c.to_string()),
        set: |s, v| match s.recipe {
            Some(_) => Ok(s.cap = Some(parse_usize(v, 1, 1_000_000)? as u64)),
            None => Err(format!("applies to the multi-phase recipes only ({})", RECIPE_NAMES.join(", "))),
        },
    },
    Key { name: "panels", get: |s| s.panels.as_ref().map(|p| join(p.iter())), set: |s, v| Ok(s.panels = Some(parse_names(v)?)) },
    Key { name: "lecture", get: |s| s.lecture.then(|| "1".into()), set: |s, v| Ok(s.lecture = parse_bool(v)?) },
    Key { name: "hide", get: |s| (!s.hide.is_empty()).then(|| join(s.hide.iter())), set: |s, v| Ok(s.hide = parse_names(v)?) },
    Key { name: "slow", get: |s| s.slow.then(|| "1".into()), set: |s, v| Ok(s.slow = parse_bool(v)?) },
    Key { name: "compare", get: fmt_compare, set: set_compare },
];

/// Keys of the model description: a recipe has its own models and ignores them.
const MODEL_KEYS: usize = 15;

/// Every key name, in the order they are written (`preset` first).
pub fn key_names() -> Vec<&'static str> {
    std::iter::once("preset").chain(KEYS.iter().map(|k| k.name)).collect()
}

/// The query string (without `?`) for a set-up.
pub fn encode(s: &Setup) -> String {
    let name = match (&s.scene, s.recipe.as_deref().filter(|r| RECIPE_NAMES.contains(r))) {
        (Some(scene), _) => scene.as_str(),
        (None, Some(recipe)) => recipe,
        (None, None) if PRESET_NAMES.contains(&s.config.name.as_str()) => s.config.name.as_str(),
        (None, None) => "custom",
    };
    let mut parts = vec![format!("preset={}", percent_encode(name))];
    // A recipe or a scene has its own models: the model keys do not apply.
    let keys = KEYS.iter().enumerate().filter(|&(i, k)| {
        (s.recipe.is_none() || i >= MODEL_KEYS) && (s.scene.is_none() || PAGE_KEYS.contains(&k.name))
    });
    parts.extend(keys.filter_map(|(_, k)| (k.get)(s).map(|v| format!("{}={}", k.name, percent_encode(&v)))));
    parts.join("&")
}

/// Reads a query string (with or without `?`, or a whole URL) into a set-up and the notes
/// on what was ignored. Never panics; the config always validates.
pub fn decode(query: &str) -> Decoded {
    decode_on(query, None)
}

/// [`decode`], starting from `base` where the query names no preset (a compared run's keys
/// apply to the run it is compared with).
fn decode_on(query: &str, base_setup: Option<&Setup>) -> Decoded {
    let mut notes = Vec::new();
    let query = query.split('#').next().unwrap_or("");
    let query = match query.find('?') {
        Some(i) => &query[i + 1..],
        None => query,
    };
    // The last occurrence of each key wins.
    let mut preset_value: Option<String> = None;
    let mut values: Vec<Option<String>> = vec![None; KEYS.len()];
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        let slot = if k == "preset" {
            Some(&mut preset_value)
        } else {
            KEYS.iter().position(|key| key.name == k).map(|i| &mut values[i])
        };
        match slot {
            Some(slot) => {
                if slot.is_some() {
                    notes.push(format!("{} given more than once: the last value is used", show(&k)));
                }
                *slot = Some(v);
            }
            None => notes.push(format!("unknown setting {} ignored", show(&k))),
        }
    }

    let mut base = Setup::default();
    match preset_value.as_deref() {
        None => {
            if let Some(b) = base_setup {
                base = Setup::new(b.config.clone());
            }
        }
        Some("custom") => base.config.name = "custom".into(),
        Some(name) if SCENES.contains(&name) => base.scene = Some(name.into()),
        Some(name) if RECIPE_NAMES.contains(&name) => base.recipe = Some(name.to_string()),
        Some(name) => match preset(name) {
            Some(cfg) => base.config = cfg,
            None => notes.push(format!("preset={} is not a preset: using {DEFAULT_PRESET} (available: {})", show(name), preset_list())),
        },
    }

    // Apply the overrides; drop those that do not parse, then those that make the whole
    // invalid (the one whose removal fixes it, else the last), until it validates.
    let mut active: Vec<usize> = (0..KEYS.len()).filter(|&i| values[i].is_some()).collect();
    if let Some(r) = &base.recipe {
        for &i in active.iter().filter(|&&i| i < MODEL_KEYS) {
            notes.push(format!("{}={} ignored: {r} is a multi-phase recipe with its own models", KEYS[i].name, show(values[i].as_deref().unwrap())));
        }
        active.retain(|&i| i >= MODEL_KEYS);
    }
    if let Some(r) = &base.scene {
        for &i in active.iter().filter(|&&i| !PAGE_KEYS.contains(&KEYS[i].name)) {
            notes.push(format!("{}={} ignored: {r} is not an MNIST model", KEYS[i].name, show(values[i].as_deref().unwrap())));
        }
        active.retain(|&i| PAGE_KEYS.contains(&KEYS[i].name));
    }
    let apply = |active: &[usize]| -> (Setup, Vec<(usize, String)>) {
        let mut s = base.clone();
        let mut failed = Vec::new();
        for &i in active {
            let mut trial = s.clone();
            match (KEYS[i].set)(&mut trial, values[i].as_deref().unwrap()) {
                Ok(()) => s = trial,
                Err(why) => failed.push((i, why)),
            }
        }
        (s, failed)
    };
    let note = |i: usize, why: &str| format!("{}={} ignored: {why}", KEYS[i].name, show(values[i].as_deref().unwrap()));
    loop {
        let (setup, failed) = apply(&active);
        if !failed.is_empty() {
            for (i, why) in failed {
                notes.push(note(i, &why));
                active.retain(|&a| a != i);
            }
            continue;
        }
        let Err(why) = setup.config.validate() else {
            return Decoded { setup, notes };
        };
        let culprit = active
            .iter()
            .rev()
            .copied()
            .find(|&i| {
                let rest: Vec<usize> = active.iter().copied().filter(|&a| a != i).collect();
                let (s, f) = apply(&rest);
                f.is_empty() && s.config.validate().is_ok()
            })
            .or_else(|| active.last().copied());
        match culprit {
            Some(i) => {
                notes.push(note(i, &why));
                active.retain(|&a| a != i);
            }
            // Unreachable: the base preset validates. Never panic on a URL, though.
            None => return Decoded { setup: Setup::default(), notes },
        }
    }
}

// --- runs compared --------------------------------------------------------------------------

/// A model's keys as a link writes them, `preset` first.
fn model_pairs(cfg: &ModelConfig) -> Vec<(&'static str, String)> {
    let s = Setup::new(cfg.clone());
    let name = if PRESET_NAMES.contains(&cfg.name.as_str()) { cfg.name.clone() } else { "custom".into() };
    std::iter::once(("preset", name)).chain(KEYS[..MODEL_KEYS].iter().filter_map(|k| (k.get)(&s).map(|v| (k.name, v)))).collect()
}

/// What differs between two models, as the link's keys: (key, value, the other's value or
/// "–"), in the link's order.
pub fn differences(cfg: &ModelConfig, other: &ModelConfig) -> Vec<(String, String, String)> {
    let (a, b) = (model_pairs(cfg), model_pairs(other));
    let value = |pairs: &[(&str, String)], k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1.clone());
    let mut out = Vec::new();
    for name in std::iter::once("preset").chain(KEYS[..MODEL_KEYS].iter().map(|k| k.name)) {
        let (x, y) = (value(&a, name), value(&b, name));
        if x != y {
            out.push((name.to_string(), x.unwrap_or_else(|| "–".into()), y.unwrap_or_else(|| "–".into())));
        }
    }
    out
}

/// The model a compared run's keys apply to: `main`'s where the run is of the same preset,
/// else its preset's (`custom` starts from the default preset, as a link's does).
fn reference(cfg: &ModelConfig, main: &ModelConfig) -> ModelConfig {
    if cfg.name == main.name {
        return main.clone();
    }
    preset(&cfg.name).unwrap_or_else(|| ModelConfig { name: "custom".into(), ..preset(DEFAULT_PRESET).expect("default preset") })
}

/// One compared run as the keys that differ from its reference.
fn fmt_run(cfg: &ModelConfig, main: &ModelConfig) -> String {
    let refs = model_pairs(&reference(cfg, main));
    let pairs = model_pairs(cfg);
    let same_preset = cfg.name == main.name;
    pairs
        .iter()
        .filter(|(k, v)| (*k == "preset" && !same_preset) || (*k != "preset" && refs.iter().find(|r| r.0 == *k).is_none_or(|r| &r.1 != v)))
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn fmt_compare(s: &Setup) -> Option<String> {
    if s.compare.is_empty() || s.recipe.is_some() || s.scene.is_some() {
        return None;
    }
    let mut items: Vec<String> = s.compare.iter().map(|c| fmt_run(c, &s.config)).collect();
    if s.main_at > 0 {
        items.insert(s.main_at.min(items.len()), "*".into());
    }
    Some(items.join("|"))
}

fn set_compare(s: &mut Setup, v: &str) -> Result<(), String> {
    if s.recipe.is_some() {
        return Err("runs are compared for single models, not multi-phase recipes".into());
    }
    let items: Vec<&str> = v.split('|').collect();
    if items.len() > MAX_COMPARED + 1 || items.iter().filter(|i| **i != "*").count() > MAX_COMPARED {
        return Err(format!("at most {} runs are compared", MAX_COMPARED + 1));
    }
    if items.iter().filter(|i| **i == "*").count() > 1 {
        return Err("`*` (this run's place) may appear once".into());
    }
    let mut compare = Vec::new();
    let mut main_at = 0;
    for (i, item) in items.iter().enumerate() {
        if *item == "*" {
            main_at = i;
            continue;
        }
        for pair in item.split('&').filter(|p| !p.is_empty()) {
            let k = percent_decode(pair.split_once('=').map_or(pair, |p| p.0));
            if k != "preset" && !KEYS[..MODEL_KEYS].iter().any(|key| key.name == k) {
                return Err(format!("run {}: {} is not a key of a model", i + 1, show(&k)));
            }
        }
        let d = decode_on(item, Some(s));
        if let Some(n) = d.notes.first() {
            return Err(format!("run {}: {n}", i + 1));
        }
        if d.setup.recipe.is_some() || d.setup.scene.is_some() {
            return Err(format!("run {}: only single models are compared", i + 1));
        }
        compare.push(d.setup.config);
    }
    s.compare = compare;
    s.main_at = main_at;
    Ok(())
}

// --- values ---------------------------------------------------------------------------------

/// A value for a note: quoted, shortened, without control characters.
fn show(v: &str) -> String {
    let clean: String = v.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    if clean.chars().count() > 40 {
        format!("'{}…'", clean.chars().take(40).collect::<String>())
    } else {
        format!("'{clean}'")
    }
}

fn join<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// Shortest text that reads back as the same f32 (`0.01`, `1e-8`).
fn fmt_f32(v: f32) -> String {
    let plain = v.to_string();
    let exp = format!("{v:e}");
    if exp.len() < plain.len() {
        exp
    } else {
        plain
    }
}

/// A finite number in the range from `lo` to `hi` (each end open or closed).
fn parse_f32(v: &str, lo: f32, lo_closed: bool, hi: f32, hi_open: bool) -> Result<f32, String> {
    let x: f32 = v.trim().parse().map_err(|_| "not a number".to_string())?;
    let above = if lo_closed { x >= lo } else { x > lo };
    let below = if hi_open { x < hi } else { x <= hi };
    if x.is_finite() && above && below {
        Ok(x)
    } else {
        Err(format!("out of range: use {}{lo}, {hi}{}", if lo_closed { "[" } else { "(" }, if hi_open { ")" } else { "]" }))
    }
}

fn parse_usize(v: &str, lo: usize, hi: usize) -> Result<usize, String> {
    match v.trim().parse::<usize>() {
        Ok(x) if (lo..=hi).contains(&x) => Ok(x),
        Ok(_) => Err(format!("out of range: use {lo}..={hi}")),
        Err(_) => Err("not a whole number".into()),
    }
}

fn fmt_bool(b: bool) -> String {
    if b { "1" } else { "0" }.into()
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "true" | "yes" | "on" | "" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("use 0 or 1".into()),
    }
}

/// The serde name of a unit enum variant (`bce_logits`, `sigmoid`, …).
fn enum_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|j| j.as_str().map(String::from)).unwrap_or_default()
}

fn parse_enum<T: DeserializeOwned>(v: &str, allowed: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(v.to_string())).map_err(|_| format!("use one of {allowed}"))
}

fn parse_names(v: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for n in v.split(',').filter(|n| !n.is_empty()) {
        let ok = n.len() <= MAX_NAME_LEN && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !ok {
            return Err(format!("{} is not a name (lowercase letters, digits, _ and -, at most {MAX_NAME_LEN})", show(n)));
        }
        if !names.iter().any(|m| m == n) {
            names.push(n.to_string());
        }
    }
    if names.len() > MAX_NAMES {
        return Err(format!("more than {MAX_NAMES} names"));
    }
    Ok(names)
}

fn set_dims(s: &mut Setup, v: &str) -> Result<(), String> {
    let dims = v
        .split(',')
        .map(|w| parse_usize(w, 1, MAX_WIDTH))
        .collect::<Result<Vec<usize>, String>>()
        .map_err(|e| format!("widths must be whole numbers 1..={MAX_WIDTH} ({e})"))?;
    if dims.len() < 2 || dims.len() > 33 {
        return Err("give 2 to 33 widths, input to output".into());
    }
    let d = s.config.input_dim();
    if dims[0] != d || dims[dims.len() - 1] != d {
        return Err(format!("the first and last widths must stay {d} (the images' pixels)"));
    }
    // Keep one activation per layer: the output's stays, new hidden layers take the
    // first hidden layer's (an `act` key, applied next, can set them all).
    let layers = dims.len() - 1;
    let acts = &s.config.activations;
    let out = *acts.last().unwrap();
    let hidden = if acts.len() > 1 { acts[0] } else { out };
    let mut new: Vec<Activation> = (0..layers - 1).map(|l| acts.get(l).copied().filter(|_| l < acts.len() - 1).unwrap_or(hidden)).collect();
    new.push(out);
    s.config.dims = dims;
    s.config.activations = new;
    Ok(())
}

fn set_act(s: &mut Setup, v: &str) -> Result<(), String> {
    let acts = v
        .split(',')
        .map(|a| parse_enum::<Activation>(a, "identity, sigmoid, tanh, relu, elu"))
        .collect::<Result<Vec<_>, _>>()?;
    if acts.len() != s.config.layers() {
        return Err(format!("{} layers need {} activations, got {}", s.config.layers(), s.config.layers(), acts.len()));
    }
    s.config.activations = acts;
    Ok(())
}

fn fmt_noise(n: &NoiseKind) -> String {
    match n {
        NoiseKind::None => "none".into(),
        NoiseKind::Masking { keep } => format!("masking:{}", fmt_f32(*keep)),
        NoiseKind::Gaussian { sigma } => format!("gaussian:{}", fmt_f32(*sigma)),
        NoiseKind::SaltPepper { p } => format!("salt_pepper:{}", fmt_f32(*p)),
        NoiseKind::Dropout { keep } => format!("dropout:{}", fmt_f32(*keep)),
    }
}

fn parse_noise(v: &str) -> Result<NoiseKind, String> {
    let (kind, arg) = v.split_once(':').unwrap_or((v, ""));
    match (kind, arg) {
        ("none", "") => Ok(NoiseKind::None),
        ("masking", a) => Ok(NoiseKind::Masking { keep: parse_f32(a, 0.0, false, 1.0, false).map_err(|e| format!("keep probability: {e}"))? }),
        ("dropout", a) => Ok(NoiseKind::Dropout { keep: parse_f32(a, 0.0, false, 1.0, false).map_err(|e| format!("keep probability: {e}"))? }),
        ("gaussian", a) => Ok(NoiseKind::Gaussian { sigma: parse_f32(a, 0.0, true, 10.0, true).map_err(|e| format!("σ: {e}"))? }),
        ("salt_pepper", a) => Ok(NoiseKind::SaltPepper { p: parse_f32(a, 0.0, true, 1.0, true).map_err(|e| format!("fraction: {e}"))? }),
        _ => Err("use none, masking:KEEP, gaussian:SIGMA, salt_pepper:FRACTION or dropout:KEEP (e.g. masking:0.9)".into()),
    }
}

fn opt_kind(o: &Optimizer) -> &'static str {
    match o {
        Optimizer::Sgd { .. } => "sgd",
        Optimizer::Momentum { .. } => "momentum",
        Optimizer::Adam { .. } => "adam",
    }
}

fn set_opt(s: &mut Setup, v: &str) -> Result<(), String> {
    let lr = s.config.optimizer.lr();
    if v == opt_kind(&s.config.optimizer) {
        return Ok(());
    }
    s.config.optimizer = match v {
        "sgd" => Optimizer::Sgd { lr },
        "momentum" => Optimizer::Momentum { lr, momentum: 0.9 },
        "adam" => Optimizer::adam(lr),
        _ => return Err("use sgd, momentum or adam".into()),
    };
    Ok(())
}

fn set_lr(s: &mut Setup, v: &str) -> Result<(), String> {
    let x = parse_f32(v, 0.0, false, MAX_LR, false)?;
    s.config.optimizer.set_lr(x);
    Ok(())
}

fn adam(s: &Setup) -> Option<(f32, f32, f32)> {
    match s.config.optimizer {
        Optimizer::Adam { beta1, beta2, eps, .. } => Some((beta1, beta2, eps)),
        _ => None,
    }
}

fn set_adam(s: &mut Setup, v: &str, which: usize) -> Result<(), String> {
    let kind = opt_kind(&s.config.optimizer);
    let Optimizer::Adam { beta1, beta2, eps, .. } = &mut s.config.optimizer else {
        return Err(format!("applies to opt=adam only (opt is {kind})"));
    };
    match which {
        0 => *beta1 = parse_f32(v, 0.0, true, 1.0, true)?,
        1 => *beta2 = parse_f32(v, 0.0, true, 1.0, true)?,
        _ => *eps = parse_f32(v, 0.0, false, 1.0, false)?,
    }
    Ok(())
}

fn fmt_init(i: &Init) -> String {
    match i {
        Init::Uniform { a } => format!("uniform:{}", fmt_f32(*a)),
        Init::GlorotUniform => "glorot_uniform".into(),
        Init::HeNormal => "he_normal".into(),
    }
}

fn parse_init(v: &str) -> Result<Init, String> {
    let (kind, arg) = v.split_once(':').unwrap_or((v, ""));
    match (kind, arg) {
        ("uniform", a) => Ok(Init::Uniform { a: parse_f32(a, 0.0, false, 10.0, false).map_err(|e| format!("uniform range: {e}"))? }),
        ("glorot_uniform", "") => Ok(Init::GlorotUniform),
        ("he_normal", "") => Ok(Init::HeNormal),
        _ => Err("use uniform:A, glorot_uniform or he_normal".into()),
    }
}

fn set_backend(s: &mut Setup, v: &str) -> Result<(), String> {
    s.backend = match v {
        "auto" => BackendChoice::Auto,
        "gpu" => BackendChoice::Gpu,
        "cpu" => BackendChoice::Cpu,
        _ => return Err("use auto, gpu or cpu".into()),
    };
    Ok(())
}

// --- percent-encoding -----------------------------------------------------------------------

/// Escapes everything but unreserved characters and the `,` and `:` our values use.
fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undoes %XX escapes and `+` for space; malformed escapes stay as they are.
fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{LossKind, Reduction};

    #[test]
    fn every_preset_round_trips_without_notes() {
        for name in PRESET_NAMES {
            let mut s = Setup::new(preset(name).unwrap());
            let d = decode(&encode(&s));
            assert!(d.notes.is_empty(), "{name}: {:?}", d.notes);
            assert_eq!(d.setup, s, "{name}: {}", encode(&s));
            // With everything else set too.
            s.seed = u64::MAX;
            s.backend = BackendChoice::Gpu;
            s.panels = Some(vec!["recon".into(), "loss".into()]);
            s.lecture = true;
            s.hide = vec!["lr".into(), "batch".into()];
            let d = decode(&encode(&s));
            assert!(d.notes.is_empty(), "{name}: {:?}", d.notes);
            assert_eq!(d.setup, s, "{name}: {}", encode(&s));
        }
    }

    #[test]
    fn scenes_round_trip_with_the_page_keys_only() {
        for &name in SCENES {
            let mut s = Setup::default();
            s.scene = Some(name.into());
            s.seed = 42;
            s.backend = BackendChoice::Cpu;
            s.lecture = true;
            let q = encode(&s);
            assert!(q.starts_with(&format!("preset={name}&")), "{q}");
            assert!(!q.contains("dims=") && !q.contains("lr="), "a scene's link carries no MNIST model keys: {q}");
            let d = decode(&q);
            assert!(d.notes.is_empty(), "{name}: {:?}", d.notes);
            assert_eq!(d.setup, s, "{q}");
        }
        // A scene is not a preset of an MNIST model.
        assert!(SCENES.iter().all(|n| preset(n).is_none()));
    }

    #[test]
    fn custom_configs_round_trip() {
        let mut cfg = preset("stacked_elu").unwrap();
        cfg.name = "custom".into();
        cfg.dims = vec![784, 256, 64, 256, 784];
        cfg.activations = vec![Activation::Tanh, Activation::Relu, Activation::Elu, Activation::Sigmoid];
        cfg.optimizer = Optimizer::Momentum { lr: 0.0375, momentum: 0.95 };
        cfg.init = Init::Uniform { a: 4.0 * (6.0f32 / 1284.0).sqrt() };
        cfg.noise = NoiseKind::Masking { keep: 0.7 };
        cfg.l2 = 3e-5;
        cfg.tied = true;
        cfg.validate().unwrap();
        let s = Setup { panels: Some(vec![]), ..Setup::new(cfg) };
        let q = encode(&s);
        let d = decode(&q);
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!(d.setup, s, "{q}");
        // Adam's small ε is written compactly and exactly.
        let s = Setup::new(preset("relu_ae_adam").unwrap());
        assert!(encode(&s).contains("eps=1e-8"), "{}", encode(&s));
    }

    #[test]
    fn the_issue_example_decodes() {
        let d = decode("?preset=dae_vincent&lr=0.02&batch=32&noise=masking:0.8&seed=7&backend=cpu&panels=recon,features&lecture=1&hide=lr,batch");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        let s = d.setup;
        assert_eq!(s.config.optimizer, Optimizer::Sgd { lr: 0.02 });
        assert_eq!(s.config.batch, 32);
        assert_eq!(s.config.noise, NoiseKind::Masking { keep: 0.8 });
        assert_eq!((s.seed, s.backend, s.lecture), (7, BackendChoice::Cpu, true));
        assert_eq!(s.panels, Some(vec!["recon".to_string(), "features".to_string()]));
        assert_eq!(s.hide, vec!["lr".to_string(), "batch".to_string()]);
        assert_eq!(s.config.dims, vec![784, 500, 784]);
        // A whole URL, percent-escapes and a fragment are fine too; no query is the default.
        let d = decode("http://127.0.0.1:8080/index.html?preset=tied_ae&noise=masking%3A0.5#top");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!(d.setup.config.noise, NoiseKind::Masking { keep: 0.5 });
        assert!(d.setup.config.tied);
        assert_eq!(decode(""), Decoded { setup: Setup::default(), notes: vec![] });
    }

    #[test]
    fn switching_optimizer_and_depth_fills_in_the_rest() {
        let d = decode("preset=dae_vincent&opt=adam&lr=0.001&beta2=0.99");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!(d.setup.config.optimizer, Optimizer::Adam { lr: 0.001, beta1: 0.9, beta2: 0.99, eps: 1e-8 });
        let d = decode("preset=linear_50&dims=784,200,100,200,784");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!(d.setup.config.activations, vec![Activation::Identity; 4]);
        let d = decode("preset=dae_vincent&dims=784,300,100,300,784&act=relu,relu,relu,sigmoid&tied=1");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert!(d.setup.config.tied);
        // Key order in the URL does not matter.
        let d2 = decode("tied=1&act=relu,relu,relu,sigmoid&dims=784,300,100,300,784&preset=dae_vincent");
        assert_eq!(d2, d);
    }

    #[test]
    fn threads_and_build_are_page_keys() {
        let d = decode("preset=dae_vincent&threads=2&build=threads+relaxed-simd");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!((d.setup.threads, d.setup.build.as_deref()), (Some(2), Some("threads+relaxed-simd")));
        let again = decode(&encode(&d.setup));
        assert_eq!(again.setup, d.setup, "{}", encode(&d.setup));
        assert!(encode(&d.setup).contains("build=threads%2Brelaxed-simd"));
        // A scene keeps them; bad values are refused with the reason.
        let s = decode("preset=linear_3d_pca&threads=1&build=simd128").setup;
        assert_eq!((s.threads, s.build.as_deref()), (Some(1), Some("simd128")));
        bad("build=fastest", "is not a build of this app");
        bad("threads=0", "threads");
        bad("threads=1000", "threads");
    }

    /// Decodes, checks the result validates, that a note names `needle`, and that
    /// encoding is stable.
    fn bad(query: &str, needle: &str) -> Setup {
        let d = decode(query);
        d.setup.config.validate().unwrap_or_else(|e| panic!("{query}: invalid result: {e}"));
        assert!(d.notes.iter().any(|n| n.contains(needle)), "{query}: no note with '{needle}': {:?}", d.notes);
        let again = decode(&encode(&d.setup));
        assert!(again.notes.is_empty(), "{query}: {:?}", again.notes);
        assert_eq!(again.setup, d.setup);
        d.setup
    }

    #[test]
    fn bad_values_are_ignored_with_a_note() {
        let def = Setup::default();
        assert_eq!(bad("lr=abc", "lr='abc' ignored: not a number"), def);
        assert_eq!(bad("lr=-1", "lr='-1' ignored: out of range"), def);
        assert_eq!(bad("lr=NaN", "out of range"), def);
        assert_eq!(bad("lr=inf", "out of range"), def);
        assert_eq!(bad("batch=0", "batch='0' ignored: out of range"), def);
        assert_eq!(bad("batch=99999999999999999999999", "batch="), def);
        assert_eq!(bad("batch=1.5", "not a whole number"), def);
        assert_eq!(bad("noise=masking:1.5", "keep probability"), def);
        assert_eq!(bad("noise=blur:0.3", "use none, masking"), def);
        assert_eq!(bad("noise=gaussian:20", "σ"), def);
        assert_eq!(bad("backend=tpu", "use auto, gpu or cpu"), def);
        assert_eq!(bad("frobnicate=1", "unknown setting 'frobnicate'"), def);
        assert_eq!(bad("preset=nope", "not a preset: using dae_vincent"), def);
        assert_eq!(bad("seed=-4", "seed="), def);
        assert_eq!(bad("mom=0.9", "applies to opt=momentum only"), def);
        assert_eq!(bad("eps=0.1", "applies to opt=adam only"), def);
        assert_eq!(bad("act=relu", "2 layers need 2 activations"), def);
        assert_eq!(bad("act=relu,softmax", "use one of"), def);
        assert_eq!(bad("dims=784,500", "must stay 784"), def);
        // A single layer is valid (784→784) and keeps the output activation.
        let d = decode("dims=784,784");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!(d.setup.config.activations, vec![Activation::Sigmoid]);
        assert_eq!(bad("dims=784,500,10", "must stay 784"), def);
        assert_eq!(bad("dims=784,0,784", "widths must be"), def);
        assert_eq!(bad("dims=784,99999,784", "widths must be"), def);
        assert_eq!(bad("panels=recon,<script>", "is not a name"), def);
        assert_eq!(bad("lecture=maybe", "use 0 or 1"), def);
        assert_eq!(bad("init=uniform:-1", "uniform range"), def);
        // Duplicates: the last wins, with a note.
        assert_eq!(bad("batch=8&batch=64", "given more than once").config.batch, 64);
    }

    #[test]
    fn a_model_too_large_for_a_tab_is_refused_with_the_limit() {
        // The issue's link: 784, seventeen 16384s, 784 decoded with no note to 4.3 × 10⁹
        // parameters (17 GB; on wasm32 the parameter sum wrapped).
        let dims = format!("784,{}784", "16384,".repeat(17));
        let s = bad(&format!("?preset=custom&dims={dims}"), "more than the 33554432");
        assert_eq!(s.config.dims, vec![784, 500, 784], "the preset's widths stay");
        // The widest single hidden layer fits; a batch too large for it is dropped instead.
        let d = decode("preset=dae_vincent&dims=784,16384,784");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        let s = bad("preset=dae_vincent&dims=784,16384,784&batch=65536", "more than the 2 GiB");
        assert_eq!((s.config.dims[1], s.config.batch), (16384, 16));
    }

    #[test]
    fn values_invalid_together_are_dropped_with_the_reason() {
        // BCE needs a sigmoid output: the activations go, the rest stays.
        let s = bad("preset=dae_vincent&act=relu,identity&lr=0.5", "binary cross-entropy needs a sigmoid output");
        assert_eq!(s.config.activations, vec![Activation::Sigmoid, Activation::Sigmoid]);
        assert_eq!(s.config.optimizer.lr(), 0.5);
        // ... unless the loss changes too.
        let d = decode("preset=dae_vincent&act=relu,identity&loss=mse&red=mean");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert_eq!((d.setup.config.loss, d.setup.config.reduction), (LossKind::Mse, Reduction::Mean));
        // Tied weights need mirrored widths.
        let s = bad("preset=dae_vincent&dims=784,300,100,784&tied=1", "tied weights need mirrored");
        assert!(!s.config.tied);
        assert_eq!(s.config.dims, vec![784, 300, 100, 784]);
    }

    #[test]
    fn no_input_panics_and_every_result_validates() {
        let pieces = [
            "preset=", "tied_ae", "stacked_elu", "&", "=", "lr", "0.1", "-", "dims", "784,", "30", "act", "relu", ",", "%", "%zz", "%4", "+",
            "noise", "masking:", "opt", "adam", "momentum", "mom", "1", "0", "e9", "batch", "tied", "hide", "panels", "é", "\u{0}", "?", "#", ":",
            "init", "uniform", "eps", "l2", "loss", "mse", "red", "sum", "seed", "backend", "gpu",
        ];
        let mut state = 12345u32;
        for case in 0..3000u32 {
            let mut q = String::new();
            let len = 1 + (crate::core::rng::uniform(case, 0, 0) * 20.0) as usize;
            for j in 0..len {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let r = crate::core::rng::uniform(case, state, j as u32);
                q.push_str(pieces[(r * pieces.len() as f32) as usize % pieces.len()]);
            }
            let d = decode(&q);
            d.setup.config.validate().unwrap_or_else(|e| panic!("{q:?}: {e}"));
            // Encoding is stable: what a decoded URL encodes to decodes to itself.
            let again = decode(&encode(&d.setup));
            assert!(again.notes.is_empty() && again.setup == d.setup, "{q:?}: {:?}", again.notes);
        }
    }

    #[test]
    fn recipes_round_trip_with_their_step_cap() {
        assert_eq!(KEYS[MODEL_KEYS].name, "seed", "MODEL_KEYS counts the keys before seed");
        for name in RECIPE_NAMES {
            let d = decode(&format!("preset={name}&cap=7&seed=3&backend=cpu"));
            assert_eq!(d.notes, Vec::<String>::new());
            assert_eq!((d.setup.recipe.as_deref(), d.setup.cap, d.setup.seed), (Some(*name), Some(7), 3));
            let url = encode(&d.setup);
            assert_eq!(url, format!("preset={name}&seed=3&backend=cpu&cap=7"));
            assert_eq!(decode(&url).setup, d.setup);
        }
        // Model keys do not apply to a recipe; a cap does not apply to a single model.
        let d = decode("preset=sda&lr=0.5&cap=0");
        assert_eq!(d.notes.len(), 2, "{:?}", d.notes);
        assert!(d.notes[0].contains("lr='0.5' ignored: sda is a multi-phase recipe"), "{:?}", d.notes);
        assert!(d.notes[1].starts_with("cap='0' ignored"), "{:?}", d.notes);
        assert_eq!(d.setup.cap, None);
        let d = decode("preset=tied_ae&cap=5");
        assert!(d.notes[0].contains("multi-phase recipes only"), "{:?}", d.notes);
        assert_eq!((d.setup.recipe, d.setup.cap), (None, None));
    }

    #[test]
    fn compared_runs_round_trip_and_bad_ones_are_named() {
        let mut s = Setup::new(preset("relu_ae_adam").unwrap());
        let mut sgd = s.config.clone();
        sgd.optimizer = Optimizer::Sgd { lr: 0.1 };
        let mut wide = s.config.clone();
        wide.dims = vec![784, 256, 784];
        wide.activations = vec![Activation::Relu, Activation::Sigmoid];
        wide.tied = true;
        s.compare = vec![sgd, wide, preset("vae_20").unwrap()];
        for main_at in 0..4 {
            s.main_at = main_at;
            let q = encode(&s);
            let d = decode(&q);
            assert!(d.notes.is_empty(), "{q}: {:?}", d.notes);
            assert_eq!(d.setup, s, "{q}");
        }
        let base = "preset=dae_vincent&compare=";
        for (value, why) in [
            ("a|b|c|d", "at most 4 runs"),
            ("lr%3D0.1|*|*", "may appear once"),
            ("seed%3D3", "not a key of a model"),
            ("lr%3D-1", "lr="),
            ("preset%3Dsda", "only single models"),
        ] {
            let d = decode(&format!("{base}{value}"));
            assert!(d.setup.compare.is_empty(), "{value}");
            assert!(d.notes.len() == 1 && d.notes[0].contains(why), "{value}: {:?}", d.notes);
        }
        let d = decode("preset=sda&compare=lr%3D0.1");
        assert!(d.setup.compare.is_empty() && d.notes[0].contains("not multi-phase recipes"), "{:?}", d.notes);
    }

    #[test]
    fn percent_coding_round_trips() {
        for v in ["a b", "x%y", "100%", "%", "%4", "é", "a+b", "a&b=c"] {
            assert_eq!(percent_decode(&percent_encode(v)), v, "{v}");
        }
        assert_eq!(percent_decode("masking%3A0.8"), "masking:0.8");
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("%zz%"), "%zz%");
    }
}
