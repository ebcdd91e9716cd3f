//! `aeplay`: the native command-line tool. Trains presets (`train`, saving and resuming
//! models with `--save` / `--load`), exports a saved model for PyTorch (`export`),
//! measures training throughput (`bench`) and fits the PCA baseline of the linear presets
//! (`pca`) with the same library code the web app runs.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::main());
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use aeplay::backend::cpu::{CpuBackend, Isa};
    use aeplay::backend::gpu::{GpuBackend, GpuContext};
    use aeplay::backend::profile::{process_sched_ns, Profiled};
    use aeplay::backend::{Backend, Buffers, WorkCounters};
    use aeplay::core::config::{preset, preset_list};
    use aeplay::core::pca::Pca;
    use aeplay::core::ModelConfig;
    use aeplay::data::Mnist;
    use aeplay::io::export::{export_files, SCRIPT_FILE};
    use aeplay::io::saved::{from_safetensors, to_safetensors, LoadError, SavedModel, MAX_FILE_BYTES};
    use aeplay::io::{read_file_capped, ReadError};
    use aeplay::train::{Divergence, Diverged, LastGood};
    use aeplay::train::pipeline::{recipe, recipe_list, Event, Pipeline, Recipe};
    use aeplay::train::Trainer;
    use clap::{Parser, Subcommand, ValueEnum};
    use serde_json::json;

    #[derive(Parser)]
    #[command(name = "aeplay", version, about = "Train autoencoders on MNIST (CPU natively; the web app runs the same code)")]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum BackendKind {
        Cpu,
        /// wgpu on Vulkan (the browser uses WebGPU).
        Gpu,
    }

    #[derive(Clone, Copy, ValueEnum)]
    enum SyntheticKind {
        /// The curved 3-D band of `linear_3d_pca` (standardised).
        #[value(name = "3d")]
        ThreeD,
    }

    #[derive(Subcommand)]
    enum Cmd {
        /// Train a preset (or continue a saved model), or run a multi-phase recipe
        /// (stacked_greedy, sda, pretrain_classifier), and report train/test loss per epoch.
        Train {
            /// Model or recipe to train (default dae_vincent; with --load, only a check that
            /// the file holds it).
            #[arg(long)]
            preset: Option<String>,
            /// Epochs to train (default 1; ignored when --steps is given); with --load, epochs
            /// more (finishing the saved model's current epoch counts as one). Recipes: epochs
            /// of each unsupervised phase (greedy pair, dA layer, autoencoder pre-training).
            #[arg(long)]
            epochs: Option<usize>,
            /// Stop after this many steps instead of whole epochs (recipes: per phase).
            #[arg(long)]
            steps: Option<u64>,
            /// Recipes: epochs of the supervised phase (sda: the most, early stopping
            /// usually ends it sooner; pretrain_classifier: the classifiers').
            #[arg(long)]
            max_epochs: Option<usize>,
            /// pretrain_classifier: labelled images the classifiers train on (the first N).
            #[arg(long)]
            labelled: Option<usize>,
            #[arg(long, value_enum, default_value = "cpu")]
            backend: BackendKind,
            /// Directory with the four MNIST IDX files (gzip or raw). Default: $MNIST_DIR or www/data.
            #[arg(long)]
            data: Option<PathBuf>,
            /// Override the preset's batch size.
            #[arg(long)]
            batch: Option<usize>,
            /// Override the learning rate (of the preset, or of the loaded model).
            #[arg(long)]
            lr: Option<f32>,
            /// Run seed (default 1; with --load, the file's).
            #[arg(long)]
            seed: Option<u64>,
            /// One JSON object per line instead of text.
            #[arg(long)]
            json: bool,
            /// Continue training a saved model (.safetensors written by --save or the page):
            /// its description, weights, optimizer state, step count and data order.
            #[arg(long, value_name = "FILE")]
            load: Option<PathBuf>,
            /// Save the model after training (safetensors; loads in PyTorch and NumPy too).
            #[arg(long, value_name = "FILE")]
            save: Option<PathBuf>,
            #[command(flatten)]
            cpu: CpuOpts,
        },
        /// Write a saved model and a PyTorch script that continues training it (DIR/model.safetensors, DIR/train_torch.py);
        /// with --preset instead of --load, the preset's untrained model (step 0, as `train` would start it).
        Export {
            /// The saved model (.safetensors written by `train --save` or the page).
            #[arg(long, value_name = "FILE", conflicts_with = "preset")]
            load: Option<PathBuf>,
            /// Export this preset untrained instead: its initial weights for --seed, no optimizer steps.
            #[arg(long)]
            preset: Option<String>,
            /// Seed of the initial weights with --preset (default 1).
            #[arg(long)]
            seed: Option<u64>,
            /// Directory to write into (created if missing).
            #[arg(long, value_name = "DIR")]
            out: PathBuf,
            #[arg(long)]
            json: bool,
        },
        /// Measure training throughput: samples/s per batch size (a warm-up first).
        Bench {
            #[arg(long, default_value = "dae_vincent")]
            preset: String,
            #[arg(long, value_enum, default_value = "cpu")]
            backend: BackendKind,
            /// Comma-separated batch sizes.
            #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
            batch: Vec<usize>,
            /// Timed steps per batch size (after 5 warm-up steps).
            #[arg(long, default_value_t = 100)]
            steps: u64,
            #[arg(long)]
            data: Option<PathBuf>,
            #[arg(long)]
            json: bool,
            /// Report GPU figures even when the adapter is a CPU emulation (lavapipe, SwiftShader).
            #[arg(long)]
            allow_cpu_adapter: bool,
            /// Also time every backend op: one extra line per op and shape (calls, ms per
            /// step, share of the step). On the CPU backend, the ops of the timed steps (it
            /// runs ops when called, so these are their real times); on the GPU, as many
            /// steps again with each op timed on the device (`device_ms_per_step`, from GPU
            /// timestamps where the adapter has them, else the wall clock per op, said so).
            #[arg(long)]
            profile: bool,
            #[command(flatten)]
            cpu: CpuOpts,
        },
        /// Fit PCA (the optimum of a linear autoencoder) on the MNIST training images and report
        /// the variance kept and the ½·Σ(x̂−x)² test loss; or on the synthetic 3-D cloud.
        Pca {
            /// Principal components kept (default: 50 on MNIST, 2 on the 3-D cloud).
            #[arg(long)]
            components: Option<usize>,
            /// Directory with the four MNIST IDX files (gzip or raw). Default: $MNIST_DIR or www/data.
            #[arg(long)]
            data: Option<PathBuf>,
            /// Fit on synthetic data instead of MNIST.
            #[arg(long, value_enum)]
            synthetic: Option<SyntheticKind>,
            /// Points in the synthetic cloud.
            #[arg(long, default_value_t = aeplay::data::synthetic::DEFAULT_POINTS)]
            points: usize,
            /// Seed of the synthetic cloud.
            #[arg(long, default_value_t = 1)]
            seed: u64,
            #[arg(long)]
            json: bool,
        },
        /// Compare matrix-multiply kernels on the training step's shapes (GFLOP/s per kernel).
        /// With `--backend gpu`: every GPU kernel variant on the products of a `--preset`
        /// step, timed on the device (GPU timestamps where the adapter has them).
        Kernels {
            #[arg(long, value_enum, default_value = "cpu")]
            backend: BackendKind,
            /// GPU only: the model whose step's products are timed.
            #[arg(long, default_value = "dae_vincent")]
            preset: String,
            /// Comma-separated batch sizes (m of the forward products).
            #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
            batch: Vec<usize>,
            /// Minimum seconds timed per (kernel, shape); the best of 5 rounds is kept.
            #[arg(long, default_value_t = 0.2)]
            seconds: f64,
            /// Time with the thread's on-CPU clock instead of the wall clock (one thread
            /// only: with --threads 1): figures that other load on the machine does not
            /// lower, except through shared caches.
            #[arg(long)]
            cpu_clock: bool,
            #[command(flatten)]
            cpu: CpuOpts,
        },
    }

    /// CPU backend options.
    #[derive(clap::Args, Clone, Copy)]
    struct CpuOpts {
        /// Worker threads for the CPU kernels (default: one per core, or $AEPLAY_THREADS).
        #[arg(long)]
        threads: Option<usize>,
        /// Instruction set of the CPU kernels (scalar, avx2, avx512; default: the best available).
        #[arg(long, value_parser = parse_isa)]
        isa: Option<Isa>,
    }

    fn parse_isa(s: &str) -> Result<Isa, String> {
        Isa::from_name(s).ok_or_else(|| {
            let names: Vec<_> = Isa::available().iter().map(|i| i.name()).collect();
            format!("'{s}' is not available here; available: {}", names.join(", "))
        })
    }

    pub fn main() -> i32 {
        let cli = match Cli::try_parse() {
            Ok(c) => c,
            Err(e) => {
                use clap::error::ErrorKind;
                if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                    print!("{e}");
                    return 0;
                }
                // One line: clap's first line says what is wrong.
                let text = e.to_string();
                eprintln!("{}", text.lines().next().unwrap_or("invalid arguments").trim());
                return 2;
            }
        };
        match run(cli) {
            Ok(()) => 0,
            Err(msg) => {
                eprintln!("error: {msg}");
                1
            }
        }
    }

    fn config(name: &str, batch: Option<usize>) -> Result<ModelConfig, String> {
        config_lr(name, batch, None)
    }

    fn config_lr(name: &str, batch: Option<usize>, lr: Option<f32>) -> Result<ModelConfig, String> {
        let mut cfg = preset(name).ok_or_else(|| format!("unknown preset '{name}'; available: {}; recipes: {}", preset_list(), recipe_list()))?;
        if let Some(b) = batch {
            cfg.batch = b;
        }
        if let Some(lr) = lr {
            cfg.optimizer.set_lr(lr);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// How often (in steps) the CLI reads the per-step losses to check for divergence: the
    /// guard's window (a read every 32 steps costs one small read-back; far fewer steps than
    /// the device's log holds, so none is overwritten before it is read).
    const CHECK_EVERY: u64 = aeplay::train::divergence::WINDOW as u64;
    /// Least time between two snapshots of the weights kept for a divergence (a snapshot
    /// reads the parameters and optimizer state back: about 3 MB for dae_vincent).
    const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

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

    /// Where a model kept from a diverged run is saved: beside `path`, named so
    /// (`m.safetensors` → `m.before-divergence.safetensors`), never over the file asked for.
    fn before_divergence_path(path: &Path) -> PathBuf {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        path.with_file_name(format!("{stem}.before-divergence{ext}"))
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
        format!("{d} (--lr {}); {what}", aeplay::train::divergence::short(d.suggested_lr()))
    }

    /// Checks, before any training, that `path` can be written as [`write_file`] will: it
    /// is absent or a regular file, and a file can be created beside it.
    fn check_writable(path: &Path) -> Result<(), String> {
        let cannot = |why: String| format!("cannot save to {}: {why}", path.display());
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_dir() {
                return Err(cannot("it is a directory: give a file name".into()));
            }
            if !meta.is_file() {
                return Err(cannot("it is not a regular file: give a file name".into()));
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(cannot(format!("directory {} does not exist", dir.display())));
            }
        }
        let tmp = temp_path(path)?;
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).map_err(|e| cannot(e.to_string()))?;
        let _ = std::fs::remove_file(&tmp);
        Ok(())
    }

    /// The temporary file [`write_file`] writes before renaming it over `path`.
    fn temp_path(path: &Path) -> Result<PathBuf, String> {
        let name = path.file_name().ok_or_else(|| format!("{} is not a file name", path.display()))?;
        Ok(path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id())))
    }

    /// Reads and checks a saved model; the message names the file. A device, FIFO or
    /// directory is refused before it is opened, a file over the size cap before it is read.
    fn read_saved(path: &Path) -> Result<SavedModel, String> {
        let bytes = read_file_capped(path, MAX_FILE_BYTES as u64).map_err(|e| match e {
            ReadError::TooLarge { bytes, .. } => {
                format!("{}: {}", path.display(), LoadError::TooLarge { bytes: bytes.min(usize::MAX as u64) as usize, limit: MAX_FILE_BYTES })
            }
            e => format!("cannot read {}: {e}", path.display()),
        })?;
        from_safetensors(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes a file whole or not at all (a temporary file renamed over the target).
    fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
        let tmp = temp_path(path)?;
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!("cannot write {}: {e}", path.display())
            })
    }

    /// The model to train: a preset, or a saved model (checked against --preset/--seed).
    fn train_setup(preset: Option<&str>, batch: Option<usize>, lr: Option<f32>, seed: Option<u64>, load: Option<&Path>) -> Result<(ModelConfig, u64, Option<SavedModel>), String> {
        let Some(path) = load else {
            return Ok((config_lr(preset.unwrap_or("dae_vincent"), batch, lr)?, seed.unwrap_or(1), None));
        };
        let mut saved = read_saved(path)?;
        if let Some(name) = preset {
            let wanted = config_lr(name, batch, lr)?;
            saved.check_config(&wanted, &format!("preset {name}")).map_err(|e| {
                format!("{}: {e} (leave out --preset to continue the saved model as it is)", path.display())
            })?;
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

    fn load(data: Option<PathBuf>) -> Result<Mnist, String> {
        let dir = data
            .or_else(|| std::env::var_os("MNIST_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("www/data"));
        if !dir.is_dir() {
            return Err(format!("data directory {} does not exist (run `make data`, or pass --data DIR)", dir.display()));
        }
        Mnist::load_dir(&dir).map_err(|e| e.to_string())
    }

    /// Where backends come from: the GPU device is acquired once and shared.
    enum Source {
        Cpu(CpuOpts),
        Gpu(GpuContext),
    }

    impl Source {
        fn new(kind: BackendKind, cpu: CpuOpts) -> Result<Self, String> {
            Ok(match kind {
                BackendKind::Cpu => Source::Cpu(cpu),
                BackendKind::Gpu => Source::Gpu(pollster::block_on(GpuContext::new())?),
            })
        }

        fn make(&self) -> Box<dyn Backend> {
            match self {
                Source::Cpu(cpu) => {
                    let d = CpuBackend::new();
                    Box::new(CpuBackend::with(cpu.isa.unwrap_or(d.isa()), cpu.threads.unwrap_or(d.threads())))
                }
                Source::Gpu(ctx) => Box::new(GpuBackend::new(ctx.clone())),
            }
        }

        /// Adapter name and type for GPU runs, "cpu" otherwise.
        fn adapter(&self) -> String {
            match self {
                Source::Cpu(_) => "cpu".into(),
                Source::Gpu(ctx) => ctx.adapter_label(),
            }
        }
    }

    fn emit(json: bool, value: serde_json::Value) {
        if json {
            println!("{value}");
        } else {
            let obj = value.as_object().unwrap();
            let parts: Vec<String> = obj
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::Number(n) if n.is_f64() => format!("{k}={:.4}", n.as_f64().unwrap()),
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    v => format!("{k}={v}"),
                })
                .collect();
            println!("{}", parts.join("  "));
        }
    }

    /// Runs a multi-phase recipe: a `recipe` line with its description, then one line per
    /// phase, epoch and early stop, and a `done` line with the summary.
    /// `linear_3d_pca`: the linear 3→2→3 autoencoder on the synthetic cloud, against PCA.
    fn run_cloud(steps: Option<u64>, kind: BackendKind, cpu: CpuOpts, seed: u64, json: bool) -> Result<(), String> {
        use aeplay::data::synthetic::DEFAULT_POINTS;
        use aeplay::train::cloud;
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
                    Event::Epoch(_) | Event::EarlyStop { .. } => {
                        obj.insert("seconds".into(), json!(secs));
                    }
                    Event::Done(_) => {
                        obj.insert("backend".into(), json!(backend_name));
                        obj.insert("seed".into(), json!(seed));
                        obj.insert("seconds".into(), json!(start.elapsed().as_secs_f64()));
                    }
                    Event::Phase { .. } => {}
                }
                emit(json, v);
            }
            if !events.is_empty() {
                since = Instant::now();
            }
        }
        Ok(())
    }

    /// What `bench` measured over the timed steps of one batch size.
    struct Timed {
        secs: f64,
        loss: f64,
        cpu_ms: Option<f64>,
        wait_ms: Option<f64>,
        counters: Option<WorkCounters>,
    }

    /// 5 warm-up steps (on the GPU the kernels are tuned in them), then `steps` timed ones.
    fn time_steps<B: Backend>(t: &mut Trainer<B>, steps: u64, after_warmup: &mut dyn FnMut(&mut Trainer<B>)) -> Timed {
        for _ in 0..5 {
            t.step();
        }
        t.take_train_loss();
        after_warmup(t);
        let c0 = t.be.work_counters();
        let sched0 = process_sched_ns();
        let start = Instant::now();
        for _ in 0..steps {
            t.step();
        }
        let (loss, _) = t.take_train_loss().unwrap(); // forces completion of queued work
        let secs = start.elapsed().as_secs_f64();
        // CPU time of all our threads, and time they were runnable but waited for a core
        // (the machine's other load), per step.
        let (cpu_ms, wait_ms) = match (sched0, process_sched_ns()) {
            (Some(a), Some(b)) => {
                let per = |x: u64, y: u64| y.saturating_sub(x) as f64 / 1e6 / steps as f64;
                (Some(per(a.0, b.0)), Some(per(a.1, b.1)))
            }
            _ => (None, None),
        };
        let counters = match (c0, t.be.work_counters()) {
            (Some(a), Some(b)) => Some(WorkCounters { dispatches: b.dispatches - a.dispatches, bytes: b.bytes - a.bytes, submissions: b.submissions - a.submissions }),
            _ => None,
        };
        Timed { secs, loss, cpu_ms, wait_ms, counters }
    }

    /// The line every bench run ends with (the fields `../shared/bench/gpu-check` reads).
    fn bench_line(cfg: &ModelConfig, name: &str, adapter: &str, steps: u64, m: &Timed) -> serde_json::Value {
        let b = cfg.batch;
        let mut v = json!({
            "preset": cfg.name, "backend": name, "adapter": adapter, "batch": b, "steps": steps,
            "samples_per_s": (steps as usize * b) as f64 / m.secs, "ms_per_step": m.secs * 1e3 / steps as f64,
            "gflops": cfg.flops_per_step(b) * steps as f64 / m.secs / 1e9, "final_loss": m.loss,
            "cpu_ms_per_step": m.cpu_ms, "wait_ms_per_step": m.wait_ms,
        });
        if let Some(c) = m.counters {
            let per = |x: u64| x as f64 / steps as f64;
            v["dispatches_per_step"] = json!(per(c.dispatches));
            v["bytes_per_step"] = json!(per(c.bytes));
            v["submissions_per_step"] = json!(per(c.submissions));
        }
        v
    }

    fn bench_cpu(be: Box<dyn Backend>, cfg: &ModelConfig, data: &Mnist, steps: u64, profile: bool, json: bool, adapter: &str) -> Result<(), String> {
        let be = Profiled::new(be, profile);
        let name = be.name();
        let mut t = Trainer::new(be, cfg, data, 1)?;
        let m = time_steps(&mut t, steps, &mut |t| t.be.reset());
        let b = cfg.batch;
        if profile {
            let step_ms = m.secs * 1e3 / steps as f64;
            let mut total = 0.0;
            for (op, calls, s, cpu) in t.be.report() {
                let ms = s * 1e3 / steps as f64;
                total += ms;
                emit(
                    json,
                    json!({"batch": b, "op": op, "calls_per_step": *calls as f64 / steps as f64, "ms_per_step": ms,
                        "main_thread_cpu_ms_per_step": cpu * 1e3 / steps as f64, "share": ms / step_ms}),
                );
            }
            emit(json, json!({"batch": b, "op": "(outside the ops)", "ms_per_step": step_ms - total, "share": 1.0 - total / step_ms}));
        }
        emit(json, bench_line(cfg, &name, adapter, steps, &m));
        Ok(())
    }

    /// The GPU bench: samples/s with dispatches and bytes per step and the kernel picked
    /// for each product; with `--profile`, then as many steps again with every op timed on
    /// the device (GPU timestamps where the adapter has them).
    fn bench_gpu(ctx: &GpuContext, cfg: &ModelConfig, data: &Mnist, steps: u64, profile: bool, json: bool) -> Result<(), String> {
        let be = GpuBackend::new(ctx.clone());
        let name = be.name();
        let mut t = Trainer::new(be, cfg, data, 1)?;
        let m = time_steps(&mut t, steps, &mut |_| {});
        let b = cfg.batch;
        let mut line = bench_line(cfg, &name, &ctx.adapter_label(), steps, &m);
        let tuned = aeplay::backend::gpu::tuned_variants(ctx);
        let kernels: Vec<serde_json::Value> = t
            .be
            .kernels_used()
            .into_iter()
            .map(|(s, v)| {
                let how = if t.be.forced_variant().is_some() {
                    "forced"
                } else if tuned.iter().any(|x| x.shape == s) {
                    "tuned"
                } else {
                    "default"
                };
                json!({"product": s.describe(), "kernel": v.name(), "picked": how})
            })
            .collect();
        line["kernels"] = json!(kernels);
        line["fused"] = json!(t.be.fused());
        line["timestamps"] = json!(ctx.timestamps());
        if profile {
            match t.be.start_profile() {
                Err(e) => emit(json, json!({"batch": b, "profile": e})),
                Ok(clock) => {
                    let start = Instant::now();
                    for _ in 0..steps {
                        t.step();
                    }
                    let p = pollster::block_on(t.be.finish_profile())?;
                    let wall = start.elapsed().as_secs_f64();
                    t.take_train_loss();
                    let total: f64 = p.ops.iter().map(|o| o.seconds).sum();
                    for o in &p.ops {
                        emit(
                            json,
                            json!({"batch": b, "op": o.op, "calls_per_step": o.calls as f64 / steps as f64,
                                "device_ms_per_step": o.seconds * 1e3 / steps as f64, "share": o.seconds / total.max(1e-30)}),
                        );
                    }
                    emit(
                        json,
                        json!({"batch": b, "op": "(device total)", "device_ms_per_step": total * 1e3 / steps as f64,
                            "profiled_wall_ms_per_step": wall * 1e3 / steps as f64, "clock": clock.describe()}),
                    );
                }
            }
        }
        emit(json, line);
        Ok(())
    }

    /// `aeplay kernels --backend gpu`: GFLOP/s of every matmul kernel variant the device can
    /// run on each product of a training step of `preset`, device-timed, and the variant
    /// the tuning picks.
    fn kernels_gpu(preset: &str, batches: &[usize], seconds: f64) -> Result<(), String> {
        let ctx = pollster::block_on(GpuContext::new())?;
        let mut be = GpuBackend::new(ctx.clone());
        println!(
            "{}",
            json!({"adapter": ctx.adapter_label(), "software": ctx.is_cpu_adapter(), "clock": ctx.clock().describe(),
                "subgroup_size": ctx.subgroup_size(), "variants": be.variants().iter().map(|v| v.name()).collect::<Vec<_>>()})
        );
        for &b in batches {
            let cfg = config(preset, Some(b))?;
            for key in aeplay::backend::gpu::tune::step_shapes(&cfg, b) {
                for v in be.variants() {
                    if !v.suits(ctx.subgroup_size().unwrap_or(1), key.k) {
                        continue; // split-k with a reduction too short to split
                    }
                    // Enough dispatches per run for about seconds / 5, best of 5 runs.
                    let (one, clock) = pollster::block_on(be.time_variant(v, key, 1))?;
                    let reps = ((seconds / 5.0 / one.max(1e-7)) as u32).clamp(1, 256);
                    let mut best = f64::INFINITY;
                    for _ in 0..5 {
                        best = best.min(pollster::block_on(be.time_variant(v, key, reps))?.0);
                    }
                    println!(
                        "{}",
                        json!({"kernel": format!("gpu-{}", v.name()), "preset": preset, "batch": b, "product": key.describe(),
                            "m": key.m, "k": key.k, "n": key.n, "us": best * 1e6, "gflops": key.flops() / best / 1e9,
                            "clock": clock, "reps": reps})
                    );
                }
                let picked = if key.flops() >= aeplay::backend::gpu::kernels::TUNE_MIN_FLOPS {
                    pollster::block_on(be.tune(key))?.variant.name().to_string()
                } else {
                    "default (not tuned: small)".into()
                };
                println!("{}", json!({"picked": picked, "preset": preset, "batch": b, "product": key.describe()}));
            }
        }
        Ok(())
    }

    fn run(cli: Cli) -> Result<(), String> {
        match cli.cmd {
            Cmd::Train { preset, epochs, steps, max_epochs, labelled, backend: kind, data, batch, lr, seed, json, load: load_path, save, cpu } => {
                if epochs == Some(0) {
                    return Err("--epochs must be at least 1 (or give --steps N)".into());
                }
                if steps == Some(0) {
                    return Err("--steps must be at least 1".into());
                }
                if preset.as_deref() == Some(aeplay::train::cloud::NAME) {
                    if load_path.is_some() || save.is_some() || max_epochs.is_some() || labelled.is_some() || batch.is_some() || data.is_some() || lr.is_some() {
                        return Err(format!("{} trains on its own 200 synthetic points: it takes --steps, --seed and --backend only", aeplay::train::cloud::NAME));
                    }
                    return run_cloud(steps, kind, cpu, seed.unwrap_or(1), json);
                }
                if let Some(mut r) = preset.as_deref().and_then(recipe) {
                    if load_path.is_some() || save.is_some() || lr.is_some() {
                        return Err(format!("--load, --save and --lr apply to single-model presets, not to the recipes ({})", recipe_list()));
                    }
                    if let Some(e) = epochs {
                        r.set_unsupervised_epochs(e);
                    }
                    if let Some(e) = max_epochs {
                        if e == 0 {
                            return Err("--max-epochs must be at least 1".into());
                        }
                        r.set_supervised_epochs(e)?;
                    }
                    if let Some(n) = labelled {
                        r.set_labelled(n)?;
                    }
                    if let Some(b) = batch {
                        r.set_batch(b);
                    }
                    r.validate()?;
                    return run_recipe(r, steps, kind, cpu, data, seed.unwrap_or(1), json);
                }
                if max_epochs.is_some() || labelled.is_some() {
                    return Err(format!(
                        "--max-epochs and --labelled apply to the recipes ({}), not to '{}'",
                        recipe_list(),
                        preset.as_deref().unwrap_or("dae_vincent")
                    ));
                }
                let epochs = epochs.unwrap_or(1);
                let (cfg, seed, saved) = train_setup(preset.as_deref(), batch, lr, seed, load_path.as_deref())?;
                if steps.is_none() && epochs == 0 {
                    return Err("--epochs must be at least 1 (or give --steps N)".into());
                }
                if steps == Some(0) {
                    return Err("--steps must be at least 1".into());
                }
                // Fail before training, not after, if the file cannot be written.
                if let Some(path) = &save {
                    check_writable(path)?;
                }
                let data = load(data)?;
                let be = Source::new(kind, cpu)?.make();
                let backend_name = be.name();
                let mut t = match &saved {
                    Some(saved) => saved.resume(be, &data)?,
                    None => Trainer::new(be, &cfg, &data, seed)?,
                };
                // Whole epochs: the rest of the current one (all of it unless resumed
                // mid-epoch), then epochs − 1 more.
                let total_steps = match steps {
                    Some(n) => n,
                    None => epoch_steps(epochs, (t.train_rows - t.pos).div_ceil(t.batch()), t.steps_per_epoch())?,
                };
                // Divergence: every step's loss is kept apart on the device and read every
                // CHECK_EVERY steps (one small read; on a GPU it waits for the queue), so a
                // divergence is named at its step: any non-finite step at once, and a mean of
                // the last 32 steps above 10× the first step's loss at its first step above that.
                // The last state whose next step passed is kept (a snapshot read back at most
                // every SNAPSHOT_EVERY, and the starting state).
                t.enable_step_losses();
                let mut guard = Divergence::new(cfg.optimizer.lr());
                let mut good = LastGood::new();
                good.passed(t.step, Some(SavedModel::capture(&mut t)));
                let mut last_snapshot = Instant::now();
                let start = Instant::now();
                let mut epoch_start = Instant::now();
                let mut last_test = f64::NAN;
                for s in 0..total_steps {
                    let ended = t.step();
                    let report = ended || s + 1 == total_steps;
                    if report || t.step % CHECK_EVERY == 0 {
                        if let Err(d) = guard.check_steps(&t.take_step_losses()) {
                            return Err(diverged(d, good, save.as_deref()));
                        }
                        let snapshot = (last_snapshot.elapsed() >= SNAPSHOT_EVERY).then(|| SavedModel::capture(&mut t)).filter(is_finite);
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
                            json,
                            json!({
                                "event": "epoch", "preset": cfg.name, "backend": backend_name,
                                "epoch": epoch_label, "steps": t.step, "train_loss": train_loss,
                                "test_loss": last_test, "seconds": train_secs,
                                "samples_per_s": seen as f64 / train_secs,
                            }),
                        );
                        epoch_start = Instant::now();
                    }
                }
                let seconds = start.elapsed().as_secs_f64();
                let mut done = json!({
                    "event": "done", "preset": cfg.name, "backend": backend_name, "steps": t.step,
                    "epochs": t.epoch as f64 + t.pos as f64 / t.train_rows as f64, "batch": cfg.batch,
                    "seed": seed, "test_loss": last_test, "seconds": seconds,
                });
                if let Some(path) = &load_path {
                    done["loaded"] = json!(path.display().to_string());
                }
                if let Some(path) = &save {
                    write_file(path, &to_safetensors(&SavedModel::capture(&mut t)))?;
                    done["saved"] = json!(path.display().to_string());
                }
                emit(json, done);
                Ok(())
            }
            Cmd::Bench { preset, backend: kind, batch, steps, data, json, allow_cpu_adapter, profile, cpu } => {
                if steps == 0 {
                    return Err("--steps must be at least 1".into());
                }
                let source = Source::new(kind, cpu)?;
                if let Source::Gpu(ctx) = &source {
                    if ctx.is_cpu_adapter() && !allow_cpu_adapter {
                        return Err(format!(
                            "the GPU adapter is {}, a CPU emulation: its numbers are not GPU figures (pass --allow-cpu-adapter to measure it anyway)",
                            ctx.adapter_label()
                        ));
                    }
                }
                let data = load(data)?;
                for b in batch {
                    let cfg = config(&preset, Some(b))?;
                    match &source {
                        Source::Gpu(ctx) => bench_gpu(ctx, &cfg, &data, steps, profile, json)?,
                        Source::Cpu(_) => bench_cpu(source.make(), &cfg, &data, steps, profile, json, &source.adapter())?,
                    }
                }
                Ok(())
            }
            Cmd::Pca { components, data, synthetic, points, seed, json } => {
                match synthetic {
                    None => {
                        let k = components.unwrap_or(50);
                        let data = load(data)?;
                        let start = Instant::now();
                        let pca = Pca::fit_dataset(&data.train, k)?;
                        let fit_secs = start.elapsed().as_secs_f64();
                        let test_loss = pca.half_sse_loss_dataset(&data.test);
                        let train_loss = pca.half_sse_loss_dataset(&data.train);
                        emit(
                            json,
                            json!({
                                "event": "pca", "data": "mnist", "components": k, "train_rows": pca.samples,
                                "variance_kept": pca.variance_kept(), "explained_variance_ratio": pca.explained_variance_ratio(),
                                "train_loss": train_loss, "test_loss": test_loss,
                                "fit_seconds": fit_secs, "seconds": start.elapsed().as_secs_f64(),
                            }),
                        );
                    }
                    Some(SyntheticKind::ThreeD) => {
                        use aeplay::data::synthetic::{cloud_3d, DIM};
                        let k = components.unwrap_or(2);
                        let start = Instant::now();
                        let cloud = cloud_3d(points, seed);
                        let pca = Pca::fit(&cloud, DIM, k)?;
                        let recon = pca.reconstruct(&pca.project(&cloud));
                        let mse = recon.iter().zip(&cloud).map(|(&a, &b)| ((a - b) as f64).powi(2)).sum::<f64>() / cloud.len() as f64;
                        emit(
                            json,
                            json!({
                                "event": "pca", "data": "3d", "points": points, "seed": seed, "components": k,
                                "variance_kept": pca.variance_kept(), "explained_variance_ratio": pca.explained_variance_ratio(),
                                "reconstruction_mse": mse, "loss": pca.half_sse_loss(&cloud),
                                "seconds": start.elapsed().as_secs_f64(),
                            }),
                        );
                    }
                }
                Ok(())
            }
            Cmd::Export { load, preset, seed, out, json } => {
                let saved = match (load, preset) {
                    (Some(_), _) if seed.is_some() => return Err("--seed applies to --preset: a saved model keeps its seed".into()),
                    (Some(path), _) => read_saved(&path)?,
                    (None, Some(name)) => {
                        if recipe(&name).is_some() {
                            return Err(format!("{name} is a recipe of several models: export a preset ({})", preset_list()));
                        }
                        SavedModel::fresh(&config(&name, None)?, seed.unwrap_or(1))?
                    }
                    (None, None) => return Err("give --load FILE (a saved model) or --preset NAME (its untrained model)".into()),
                };
                std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
                let mut written = Vec::new();
                for (name, bytes) in export_files(&saved) {
                    let path = out.join(name);
                    write_file(&path, &bytes)?;
                    written.push(path.display().to_string());
                }
                emit(
                    json,
                    json!({
                        "event": "export", "preset": saved.config.name, "steps": saved.step, "files": written,
                        "next": format!("pip install torch numpy safetensors && python {} --data DIR --epochs 1", out.join(SCRIPT_FILE).display()),
                    }),
                );
                Ok(())
            }
            Cmd::Kernels { batch, seconds, cpu_clock, backend, preset, cpu } => {
                if let BackendKind::Gpu = backend {
                    return kernels_gpu(&preset, &batch, seconds);
                }
                if cpu_clock && cpu.threads != Some(1) {
                    return Err("--cpu-clock needs --threads 1".into());
                }
                super::kernels::run(&batch, seconds, cpu.threads, cpu.isa, cpu_clock);
                Ok(())
            }
        }
    }
}

/// `aeplay kernels`: our kernels (per ISA) against the `matrixmultiply` crate (and the
/// `gemm` crate with `--features bench-gemm`) on the five products of a `dae_vincent` step,
/// one JSON line per (kernel, threads, product, batch).
#[cfg(not(target_arch = "wasm32"))]
mod kernels {
    use std::time::Instant;

    use aeplay::backend::cpu::bench::{time_kernel, Kernel};
    use aeplay::backend::cpu::Isa;

    pub fn run(batches: &[usize], seconds: f64, threads: Option<usize>, isa: Option<Isa>, cpu_clock: bool) {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let thread_counts: Vec<usize> = match threads {
            Some(t) => vec![t],
            None if cores > 1 => vec![1, cores],
            None => vec![1],
        };
        // matrixmultiply reads MATMUL_NUM_THREADS once (default: the physical cores).
        let mm_threads: usize = std::env::var("MATMUL_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(cores).clamp(1, 4);
        let isas: Vec<Isa> = isa.map(|i| vec![i]).unwrap_or_else(|| Isa::available().into_iter().filter(|&i| i != Isa::Scalar).collect());
        let t0 = Instant::now();
        let now = move || {
            if cpu_clock {
                aeplay::backend::profile::thread_cpu_ns().expect("no per-thread CPU clock here") as f64 * 1e-9
            } else {
                t0.elapsed().as_secs_f64()
            }
        };
        for &i in &isas {
            let g = aeplay::backend::cpu::bench::fma_peak(i, seconds, &now);
            println!("{}", serde_json::json!({"peak": i.name(), "threads": 1, "gflops": g, "cores": cores, "machine_gflops": g * cores as f64}));
        }
        for &b in batches {
            for &t in &thread_counts {
                let mut rows = Vec::new();
                for &i in &isas {
                    rows.extend(time_kernel(Kernel::Ours(i), t, b, seconds, &now));
                }
                if t == mm_threads {
                    rows.extend(time_kernel(Kernel::MatrixMultiply, t, b, seconds, &now));
                }
                #[cfg(feature = "bench-gemm")]
                rows.extend(gemm_crate_rows(t, b, seconds, &now));
                for r in rows {
                    println!("{r}");
                }
            }
        }
    }

    #[cfg(feature = "bench-gemm")]
    fn gemm_crate_rows(t: usize, b: usize, seconds: f64, now: &dyn Fn() -> f64) -> Vec<serde_json::Value> {
        use aeplay::backend::cpu::bench::{step_products, time_best};
        let par = if t == 1 { gemm_crate::Parallelism::None } else { gemm_crate::Parallelism::Rayon(t) };
        let mut out = Vec::new();
        for (name, m, k, n, ta, tb) in step_products(b) {
            let a = vec![0.01f32; m * k];
            let bm = vec![0.02f32; k * n];
            let mut c = vec![0.0f32; m * n];
            let (rsa, csa) = if ta { (1, m as isize) } else { (k as isize, 1) };
            let (rsb, csb) = if tb { (1, k as isize) } else { (n as isize, 1) };
            // SAFETY: the strides describe the m×k, k×n and m×n buffers above.
            let secs = time_best(seconds, now, &mut || unsafe {
                gemm_crate::gemm(
                    m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), csa, rsa, bm.as_ptr(), csb, rsb,
                    0.0f32, 1.0f32, false, false, false, par,
                )
            });
            out.push(serde_json::json!({"kernel": "gemm-crate", "threads": t, "product": name, "batch": b,
                "m": m, "k": k, "n": n, "us": secs * 1e6, "gflops": 2.0 * (m * k * n) as f64 / secs / 1e9}));
        }
        out
    }
}
