//! `aeplay`: the native command-line tool. Trains presets (`train`) and measures training
//! throughput (`bench`) with the same library code the web app runs.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::main());
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::PathBuf;
    use std::time::Instant;

    use aeplay::backend::cpu::{CpuBackend, Isa};
    use aeplay::backend::gpu::{GpuBackend, GpuContext};
    use aeplay::backend::profile::{process_sched_ns, Profiled};
    use aeplay::backend::Backend;
    use aeplay::core::config::{preset, preset_list};
    use aeplay::core::ModelConfig;
    use aeplay::data::Mnist;
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

    #[derive(Subcommand)]
    enum Cmd {
        /// Train a preset and report train/test loss per epoch.
        Train {
            #[arg(long, default_value = "dae_vincent")]
            preset: String,
            /// Epochs to train (ignored when --steps is given).
            #[arg(long, default_value_t = 1)]
            epochs: usize,
            /// Stop after this many steps instead of whole epochs.
            #[arg(long)]
            steps: Option<u64>,
            #[arg(long, value_enum, default_value = "cpu")]
            backend: BackendKind,
            /// Directory with the four MNIST IDX files (gzip or raw). Default: $MNIST_DIR or www/data.
            #[arg(long)]
            data: Option<PathBuf>,
            /// Override the preset's batch size.
            #[arg(long)]
            batch: Option<usize>,
            #[arg(long, default_value_t = 1)]
            seed: u64,
            /// One JSON object per line instead of text.
            #[arg(long)]
            json: bool,
            #[command(flatten)]
            cpu: CpuOpts,
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
            /// Also time every backend op of the timed steps: one extra line per op and
            /// shape (calls, ms per step, share of the step). The CPU backend runs ops when
            /// called, so these are their real times; a GPU backend's are recording times.
            #[arg(long)]
            profile: bool,
            #[command(flatten)]
            cpu: CpuOpts,
        },
        /// Compare matrix-multiply kernels on the training step's shapes (GFLOP/s per kernel).
        Kernels {
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
        let mut cfg = preset(name).ok_or_else(|| format!("unknown preset '{name}'; available: {}", preset_list()))?;
        if let Some(b) = batch {
            cfg.batch = b;
        }
        cfg.validate()?;
        Ok(cfg)
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

    fn run(cli: Cli) -> Result<(), String> {
        match cli.cmd {
            Cmd::Train { preset, epochs, steps, backend: kind, data, batch, seed, json, cpu } => {
                let cfg = config(&preset, batch)?;
                if steps.is_none() && epochs == 0 {
                    return Err("--epochs must be at least 1 (or give --steps N)".into());
                }
                if steps == Some(0) {
                    return Err("--steps must be at least 1".into());
                }
                let data = load(data)?;
                let be = Source::new(kind, cpu)?.make();
                let backend_name = be.name();
                let mut t = Trainer::new(be, &cfg, &data, seed)?;
                let total_steps = steps.unwrap_or((epochs * t.steps_per_epoch()) as u64);
                let start = Instant::now();
                let mut epoch_start = Instant::now();
                let mut epoch_examples = 0usize;
                let mut last_test = f64::NAN;
                for s in 0..total_steps {
                    let ended = t.step();
                    epoch_examples += t.batch().min(t.train_rows);
                    if ended || s + 1 == total_steps {
                        // Reading the loss waits for queued GPU work, so time after it.
                        let (train_loss, seen) = t.take_train_loss().unwrap_or((f64::NAN, 0));
                        let train_secs = epoch_start.elapsed().as_secs_f64();
                        if !train_loss.is_finite() {
                            return Err(format!(
                                "the training loss became {train_loss} at step {}: lower the learning rate and try again",
                                t.step
                            ));
                        }
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
                        let _ = epoch_examples;
                        epoch_examples = 0;
                        epoch_start = Instant::now();
                    }
                }
                emit(
                    json,
                    json!({
                        "event": "done", "preset": cfg.name, "backend": backend_name, "steps": t.step,
                        "epochs": t.epoch as f64 + t.pos as f64 / t.train_rows as f64, "batch": cfg.batch,
                        "seed": seed, "test_loss": last_test, "seconds": start.elapsed().as_secs_f64(),
                    }),
                );
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
                    let be = Profiled::new(source.make(), profile);
                    let name = be.name();
                    let mut t = Trainer::new(be, &cfg, &data, 1)?;
                    for _ in 0..5 {
                        t.step();
                    }
                    t.take_train_loss();
                    t.be.reset();
                    let sched0 = process_sched_ns();
                    let start = Instant::now();
                    for _ in 0..steps {
                        t.step();
                    }
                    let (loss, _) = t.take_train_loss().unwrap(); // forces completion of queued work
                    let secs = start.elapsed().as_secs_f64();
                    // CPU time of all our threads, and time they were runnable but waited
                    // for a core (the machine's other load), per step.
                    let (cpu_ms, wait_ms) = match (sched0, process_sched_ns()) {
                        (Some(a), Some(b)) => {
                            let per = |x: u64, y: u64| y.saturating_sub(x) as f64 / 1e6 / steps as f64;
                            (Some(per(a.0, b.0)), Some(per(a.1, b.1)))
                        }
                        _ => (None, None),
                    };
                    if profile {
                        let step_ms = secs * 1e3 / steps as f64;
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
                    let sps = (steps as usize * b) as f64 / secs;
                    emit(
                        json,
                        json!({
                            "preset": cfg.name, "backend": name, "adapter": source.adapter(), "batch": b, "steps": steps,
                            "samples_per_s": sps, "ms_per_step": secs * 1e3 / steps as f64,
                            "gflops": cfg.flops_per_step(b) * steps as f64 / secs / 1e9, "final_loss": loss,
                            "cpu_ms_per_step": cpu_ms, "wait_ms_per_step": wait_ms,
                        }),
                    );
                }
                Ok(())
            }
            Cmd::Kernels { batch, seconds, cpu_clock, cpu } => {
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
