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

    use aeplay::backend::cpu::CpuBackend;
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
        },
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

    fn backend(_kind: BackendKind) -> CpuBackend {
        CpuBackend::new()
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
            Cmd::Train { preset, epochs, steps, backend: kind, data, batch, seed, json } => {
                let cfg = config(&preset, batch)?;
                if steps.is_none() && epochs == 0 {
                    return Err("--epochs must be at least 1 (or give --steps N)".into());
                }
                if steps == Some(0) {
                    return Err("--steps must be at least 1".into());
                }
                let data = load(data)?;
                let be = backend(kind);
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
                        let train_secs = epoch_start.elapsed().as_secs_f64();
                        let (train_loss, seen) = t.take_train_loss().unwrap_or((f64::NAN, 0));
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
            Cmd::Bench { preset, backend: kind, batch, steps, data, json } => {
                let data = load(data)?;
                if steps == 0 {
                    return Err("--steps must be at least 1".into());
                }
                for b in batch {
                    let cfg = config(&preset, Some(b))?;
                    let be = backend(kind);
                    let name = be.name();
                    let mut t = Trainer::new(be, &cfg, &data, 1)?;
                    for _ in 0..5 {
                        t.step();
                    }
                    t.take_train_loss();
                    let start = Instant::now();
                    for _ in 0..steps {
                        t.step();
                    }
                    let (loss, _) = t.take_train_loss().unwrap(); // forces completion of queued work
                    let secs = start.elapsed().as_secs_f64();
                    let sps = (steps as usize * b) as f64 / secs;
                    emit(
                        json,
                        json!({
                            "preset": cfg.name, "backend": name, "batch": b, "steps": steps,
                            "samples_per_s": sps, "ms_per_step": secs * 1e3 / steps as f64,
                            "gflops": cfg.flops_per_step(b) * steps as f64 / secs / 1e9, "final_loss": loss,
                        }),
                    );
                }
                Ok(())
            }
        }
    }
}
