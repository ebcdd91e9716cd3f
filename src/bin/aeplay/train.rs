//! `aeplay train`: a preset (or a saved model, continued) trained for some epochs or steps
//! with the divergence guard, the 3-D cloud scene against PCA, or a multi-phase recipe; one
//! line per epoch (or progress report, phase, early stop) and a `done` line.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aeplay::backend::Backend;
use aeplay::core::ModelConfig;
use aeplay::io::saved::{to_safetensors, SavedModel};
use aeplay::train::divergence::{self, Divergence, Diverged, LastGood};
use aeplay::train::pipeline::{recipe, recipe_list, RecipeEvent, Pipeline, Recipe};
use aeplay::train::{cloud, Trainer};
use serde_json::json;

use crate::cli::{BackendKind, CpuOpts, TrainArgs};
use crate::common::{config, emit, load, Source};
use crate::files::{before_divergence_path, check_writable, read_saved, write_file};

/// How often (in steps) the CLI reads the per-step losses to check for divergence: the
/// guard's window (a read every 32 steps costs one small read-back; far fewer steps than
/// the device's log holds, so none is overwritten before it is read).
const CHECK_EVERY: u64 = divergence::WINDOW as u64;
/// Least time between two snapshots of the weights kept for a divergence (a snapshot
/// reads the parameters and optimizer state back: about 3 MB for dae_vincent).
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

pub fn run(a: TrainArgs) -> Result<(), String> {
    if a.epochs == Some(0) {
        return Err("--epochs must be at least 1 (or give --steps N)".into());
    }
    if a.steps == Some(0) {
        return Err("--steps must be at least 1".into());
    }
    if a.preset.as_deref() == Some(cloud::NAME) {
        if a.load.is_some() || a.save.is_some() || a.max_epochs.is_some() || a.labelled.is_some() || a.batch.is_some() || a.data.is_some() || a.lr.is_some() {
            return Err(format!("{} trains on its own 200 synthetic points: it takes --steps, --seed and --backend only", cloud::NAME));
        }
        return run_cloud(a.steps, a.backend, a.cpu, a.seed.unwrap_or(1), a.json);
    }
    if let Some(r) = a.preset.as_deref().and_then(recipe) {
        let r = recipe_with_flags(r, &a)?;
        return run_recipe(r, a.steps, a.backend, a.cpu, a.data, a.seed.unwrap_or(1), a.json);
    }
    if a.max_epochs.is_some() || a.labelled.is_some() {
        return Err(format!(
            "--max-epochs and --labelled apply to the recipes ({}), not to '{}'",
            recipe_list(),
            a.preset.as_deref().unwrap_or("dae_vincent")
        ));
    }
    train_model(a)
}

/// A recipe with the flags that apply to it; Err for those that do not.
fn recipe_with_flags(mut r: Recipe, a: &TrainArgs) -> Result<Recipe, String> {
    if a.load.is_some() || a.save.is_some() || a.lr.is_some() {
        return Err(format!("--load, --save and --lr apply to single-model presets, not to the recipes ({})", recipe_list()));
    }
    if let Some(e) = a.epochs {
        r.set_unsupervised_epochs(e);
    }
    if let Some(e) = a.max_epochs {
        if e == 0 {
            return Err("--max-epochs must be at least 1".into());
        }
        r.set_supervised_epochs(e)?;
    }
    if let Some(n) = a.labelled {
        r.set_labelled(n)?;
    }
    if let Some(b) = a.batch {
        r.set_batch(b);
    }
    r.validate()?;
    Ok(r)
}

/// A single model: a preset, or a saved model continued; saved at the end with `--save`.
fn train_model(a: TrainArgs) -> Result<(), String> {
    let epochs = a.epochs.unwrap_or(1);
    let (cfg, seed, saved) = train_setup(a.preset.as_deref(), a.batch, a.lr, a.seed, a.load.as_deref())?;
    if a.steps.is_none() && epochs == 0 {
        return Err("--epochs must be at least 1 (or give --steps N)".into());
    }
    if a.steps == Some(0) {
        return Err("--steps must be at least 1".into());
    }
    // Fail before training, not after, if the file cannot be written.
    if let Some(path) = &a.save {
        check_writable(path)?;
    }
    let data = load(a.data)?;
    let be = Source::new(a.backend, a.cpu)?.make();
    let backend_name = be.name();
    let mut t = match &saved {
        Some(saved) => saved.resume(be, &data)?,
        None => Trainer::new(be, &cfg, &data, seed)?,
    };
    // Whole epochs: the rest of the current one (all of it unless resumed mid-epoch), then
    // epochs − 1 more.
    let total_steps = match a.steps {
        Some(n) => n,
        None => epoch_steps(epochs, (t.train_rows - t.pos).div_ceil(t.batch()), t.steps_per_epoch())?,
    };
    let out = Output { json: a.json, preset: &cfg.name, backend: &backend_name };
    let (last_test, seconds) = train_guarded(&mut t, total_steps, cfg.optimizer.lr(), a.save.as_deref(), &out)?;
    let mut done = json!({
        "event": "done", "preset": cfg.name, "backend": backend_name, "steps": t.step,
        "epochs": t.epoch as f64 + t.pos as f64 / t.train_rows as f64, "batch": cfg.batch,
        "seed": seed, "test_loss": last_test, "seconds": seconds,
    });
    if let Some(path) = &a.load {
        done["loaded"] = json!(path.display().to_string());
    }
    if let Some(path) = &a.save {
        write_file(path, &to_safetensors(&SavedModel::capture(&mut t)))?;
        done["saved"] = json!(path.display().to_string());
    }
    emit(a.json, done);
    Ok(())
}

/// What the epoch lines name.
struct Output<'a> {
    json: bool,
    preset: &'a str,
    backend: &'a str,
}

/// Trains `total_steps` steps, one line per epoch (and one at the end). Divergence: every
/// step's loss is kept apart on the device and read every CHECK_EVERY steps (one small
/// read; on a GPU it waits for the queue), so a divergence is named at its step: any
/// non-finite step at once, and a mean of the last 32 steps above 10× the first step's loss
/// at its first step above that. The last state whose next step passed is kept (a snapshot
/// read back at most every SNAPSHOT_EVERY, and the starting state) and saved beside `save`
/// when the run diverges. Returns the last test loss and the seconds the steps took.
fn train_guarded(t: &mut Trainer<Box<dyn Backend>>, total_steps: u64, lr: f32, save: Option<&Path>, out: &Output) -> Result<(f64, f64), String> {
    t.enable_step_losses();
    let mut guard = Divergence::new(lr);
    let mut good = LastGood::new();
    good.passed(t.step, Some(SavedModel::capture(t)));
    let mut last_snapshot = Instant::now();
    let start = Instant::now();
    let mut epoch_start = Instant::now();
    let mut last_test = f64::NAN;
    for s in 0..total_steps {
        let ended = t.step();
        let report = ended || s + 1 == total_steps;
        if report || t.step % CHECK_EVERY == 0 {
            if let Err(d) = guard.check_steps(&t.take_step_losses()) {
                return Err(diverged(d, good, save));
            }
            let snapshot = (last_snapshot.elapsed() >= SNAPSHOT_EVERY).then(|| SavedModel::capture(t)).filter(is_finite);
            if snapshot.is_some() {
                last_snapshot = Instant::now();
            }
            good.passed(t.step, snapshot);
        }
        if report {
            // Reading the loss waits for queued GPU work, so time after it.
            let (train_loss, seen) = t.take_train_loss().unwrap_or((f64::NAN, 0));
            let train_secs = epoch_start.elapsed().as_secs_f64();
            last_test = t.test_loss(None);
            let epoch_label = if ended { t.epoch as f64 } else { t.epoch as f64 + t.pos as f64 / t.train_rows as f64 };
            emit(
                out.json,
                json!({
                    "event": "epoch", "preset": out.preset, "backend": out.backend,
                    "epoch": epoch_label, "steps": t.step, "train_loss": train_loss,
                    "test_loss": last_test, "seconds": train_secs,
                    "samples_per_s": seen as f64 / train_secs,
                }),
            );
            epoch_start = Instant::now();
        }
    }
    Ok((last_test, start.elapsed().as_secs_f64()))
}

/// Steps of `epochs` epochs: the rest of the current one, then whole ones; an epoch
/// count whose steps overflow a u64 is refused, naming the most that can be given.
fn epoch_steps(epochs: usize, rest_of_epoch: usize, per_epoch: usize) -> Result<u64, String> {
    let (rest, per) = (rest_of_epoch as u64, per_epoch as u64);
    (epochs as u64 - 1).checked_mul(per).and_then(|s| s.checked_add(rest)).ok_or_else(|| {
        format!("--epochs {epochs} is more than 2^64 steps at {per} steps per epoch: give at most {} epochs", (u64::MAX - rest) / per + 1)
    })
}

fn is_finite(m: &SavedModel) -> bool {
    m.params.iter().chain(m.optim.moments.iter().flatten()).all(|v| v.is_finite())
}

/// The one-line message of a diverged run; saves the kept state beside `save`.
fn diverged(d: Diverged, good: LastGood<SavedModel>, save: Option<&Path>) -> String {
    let kept = good.kept(d.step);
    let what = match (kept, save) {
        (None, _) => "no weights from before it passed the check, so nothing was kept".to_string(),
        (Some((step, _)), None) => format!("the weights of step {step}, the last before it, were not saved (no --save)"),
        (Some((step, m)), Some(path)) => {
            let to = before_divergence_path(path);
            match write_file(&to, &to_safetensors(&m)) {
                Ok(()) => format!("the weights of step {step}, the last before it, were saved to {}", to.display()),
                Err(e) => format!("the weights of step {step} could not be saved: {e}"),
            }
        }
    };
    format!("{d} (--lr {}); {what}", divergence::short(d.suggested_lr()))
}

/// The model to train: a preset, or a saved model (checked against --preset/--seed).
fn train_setup(preset: Option<&str>, batch: Option<usize>, lr: Option<f32>, seed: Option<u64>, load: Option<&Path>) -> Result<(ModelConfig, u64, Option<SavedModel>), String> {
    let Some(path) = load else {
        return Ok((config(preset.unwrap_or("dae_vincent"), batch, lr)?, seed.unwrap_or(1), None));
    };
    let mut saved = read_saved(path)?;
    if let Some(name) = preset {
        let wanted = config(name, batch, lr)?;
        saved
            .check_config(&wanted, &format!("preset {name}"))
            .map_err(|e| format!("{}: {e} (leave out --preset to continue the saved model as it is)", path.display()))?;
    }
    if let Some(s) = seed.filter(|&s| s != saved.seed) {
        return Err(format!("{} was trained with seed {}, not {s}: leave out --seed to continue it", path.display(), saved.seed));
    }
    if let Some(b) = batch {
        saved.config.batch = b;
    }
    if let Some(lr) = lr {
        saved.config.optimizer.set_lr(lr);
    }
    saved.config.validate()?;
    Ok((saved.config.clone(), saved.seed, Some(saved)))
}

/// `linear_3d_pca`: the linear 3→2→3 autoencoder on the synthetic cloud, against PCA.
fn run_cloud(steps: Option<u64>, kind: BackendKind, cpu: CpuOpts, seed: u64, json: bool) -> Result<(), String> {
    use aeplay::data::synthetic::DEFAULT_POINTS;
    let be = Source::new(kind, cpu)?.make();
    let backend_name = be.name();
    let (mut t, points) = cloud::trainer(be, DEFAULT_POINTS, seed)?;
    let total = steps.unwrap_or(cloud::STEPS);
    let start = Instant::now();
    let report = total.div_ceil(10).max(1);
    for s in 1..=total {
        t.step();
        if s % report == 0 || s == total {
            let (loss, _) = t.take_train_loss().unwrap_or((f64::NAN, 0));
            emit(json, json!({"event": "progress", "preset": cloud::NAME, "steps": s, "train_loss": loss}));
        }
    }
    let cfg = t.model.cfg.clone();
    let params = t.model.params_host(&mut t.be);
    let (codes, c) = cloud::compare(&params, &points, &cfg)?;
    emit(
        json,
        json!({
            "event": "done", "preset": cloud::NAME, "backend": backend_name, "seed": seed, "steps": total,
            "points": DEFAULT_POINTS, "model_mse": c.model_mse, "pca_mse": c.pca_mse,
            "max_angle_deg": c.max_angle_deg, "seconds": start.elapsed().as_secs_f64(),
            "codes": codes.chunks(2).take(5).map(|p| [p[0], p[1]]).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}

/// Runs a multi-phase recipe: a `recipe` line with its description, then one line per
/// phase, epoch and early stop, and a `done` line with the summary.
fn run_recipe(r: Recipe, steps: Option<u64>, kind: BackendKind, cpu: CpuOpts, data: Option<PathBuf>, seed: u64, json: bool) -> Result<(), String> {
    let data = load(data)?;
    let be = Source::new(kind, cpu)?.make();
    let backend_name = be.name();
    emit(json, json!({"event": "recipe", "recipe": r.name(), "backend": backend_name, "seed": seed, "spec": r}));
    let start = Instant::now();
    let mut p = Pipeline::new(be, &r, &data, seed)?;
    p.set_step_cap(steps);
    let mut since = Instant::now();
    while !p.is_done() {
        let events = p.step()?;
        let secs = since.elapsed().as_secs_f64();
        for e in &events {
            let mut v = serde_json::to_value(e).map_err(|e| e.to_string())?;
            let obj = v.as_object_mut().expect("events are objects");
            obj.insert("recipe".into(), json!(r.name()));
            match e {
                RecipeEvent::Epoch(_) | RecipeEvent::EarlyStop { .. } => {
                    obj.insert("seconds".into(), json!(secs));
                }
                RecipeEvent::Done(_) => {
                    obj.insert("backend".into(), json!(backend_name));
                    obj.insert("seed".into(), json!(seed));
                    obj.insert("seconds".into(), json!(start.elapsed().as_secs_f64()));
                }
                RecipeEvent::Phase { .. } => {}
            }
            emit(json, v);
        }
        if !events.is_empty() {
            since = Instant::now();
        }
    }
    Ok(())
}
