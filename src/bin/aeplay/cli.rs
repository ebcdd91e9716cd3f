//! The command line: every command and flag (clap's derive), and parsing with a one-line
//! reason for bad arguments. What each command does is in its own file.

use std::path::PathBuf;

use aeplay::backend::cpu::Isa;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "aeplay", version, about = "Train autoencoders on MNIST (CPU natively; the web app runs the same code)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Parses the process's arguments. Help and version are printed here (Err(0)); bad
/// arguments get clap's first line on stderr (Err(2)).
pub fn parse() -> Result<Cmd, i32> {
    match Cli::try_parse() {
        Ok(c) => Ok(c.cmd),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return Err(0);
            }
            // One line: clap's first line says what is wrong.
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("invalid arguments").trim());
            Err(2)
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BackendKind {
    Cpu,
    /// wgpu on Vulkan (the browser uses WebGPU).
    Gpu,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SyntheticKind {
    /// The curved 3-D band of `linear_3d_pca` (standardised).
    #[value(name = "3d")]
    ThreeD,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Train a preset (or continue a saved model), or run a multi-phase recipe
    /// (stacked_greedy, sda, pretrain_classifier), and report train/test loss per epoch.
    Train(TrainArgs),
    /// Write a saved model and a PyTorch script that continues training it (DIR/model.safetensors, DIR/train_torch.py);
    /// with --preset instead of --load, the preset's untrained model (step 0, as `train` would start it).
    Export(ExportArgs),
    /// Measure training throughput: samples/s per batch size (a warm-up first).
    Bench(BenchArgs),
    /// Fit PCA (the optimum of a linear autoencoder) on the MNIST training images and report
    /// the variance kept and the ½·Σ(x̂−x)² test loss; or on the synthetic 3-D cloud.
    Pca(PcaArgs),
    /// Compare matrix-multiply kernels on the training step's shapes (GFLOP/s per kernel).
    /// With `--backend gpu`: every GPU kernel variant on the products of a `--preset`
    /// step, timed on the device (GPU timestamps where the adapter has them).
    Kernels(KernelsArgs),
}

// The arguments of `train` (no doc comment here: clap would take it for the command's).
#[derive(Args)]
pub struct TrainArgs {
    /// Model or recipe to train (default dae_vincent; with --load, only a check that
    /// the file holds it).
    #[arg(long)]
    pub preset: Option<String>,
    /// Epochs to train (default 1; ignored when --steps is given); with --load, epochs
    /// more (finishing the saved model's current epoch counts as one). Recipes: epochs
    /// of each unsupervised phase (greedy pair, dA layer, autoencoder pre-training).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Stop after this many steps instead of whole epochs (recipes: per phase).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Recipes: epochs of the supervised phase (sda: the most, early stopping
    /// usually ends it sooner; pretrain_classifier: the classifiers').
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// pretrain_classifier: labelled images the classifiers train on (the first N).
    #[arg(long)]
    pub labelled: Option<usize>,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendKind,
    /// Directory with the four MNIST IDX files (gzip or raw). Default: $MNIST_DIR or www/data.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Override the preset's batch size.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Override the learning rate (of the preset, or of the loaded model).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Run seed (default 1; with --load, the file's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Continue training a saved model (.safetensors written by --save or the page):
    /// its description, weights, optimizer state, step count and data order.
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    /// Save the model after training (safetensors; loads in PyTorch and NumPy too).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    #[command(flatten)]
    pub cpu: CpuOpts,
}

// The arguments of `export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The saved model (.safetensors written by `train --save` or the page).
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub load: Option<PathBuf>,
    /// Export this preset untrained instead: its initial weights for --seed, no optimizer steps.
    #[arg(long)]
    pub preset: Option<String>,
    /// Seed of the initial weights with --preset (default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

// The arguments of `bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "dae_vincent")]
    pub preset: String,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendKind,
    /// Comma-separated batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    pub batch: Vec<usize>,
    /// Timed steps per batch size (after 5 warm-up steps).
    #[arg(long, default_value_t = 100)]
    pub steps: u64,
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Report GPU figures even when the adapter is a CPU emulation (lavapipe, SwiftShader).
    #[arg(long)]
    pub allow_cpu_adapter: bool,
    /// Also time every backend op: one extra line per op and shape (calls, ms per
    /// step, share of the step). On the CPU backend, the ops of the timed steps (it
    /// runs ops when called, so these are their real times); on the GPU, as many
    /// steps again with each op timed on the device (`device_ms_per_step`, from GPU
    /// timestamps where the adapter has them, else the wall clock per op, said so).
    #[arg(long)]
    pub profile: bool,
    #[command(flatten)]
    pub cpu: CpuOpts,
}

// The arguments of `pca`.
#[derive(Args)]
pub struct PcaArgs {
    /// Principal components kept (default: 50 on MNIST, 2 on the 3-D cloud).
    #[arg(long)]
    pub components: Option<usize>,
    /// Directory with the four MNIST IDX files (gzip or raw). Default: $MNIST_DIR or www/data.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Fit on synthetic data instead of MNIST.
    #[arg(long, value_enum)]
    pub synthetic: Option<SyntheticKind>,
    /// Points in the synthetic cloud.
    #[arg(long, default_value_t = aeplay::data::synthetic::DEFAULT_POINTS)]
    pub points: usize,
    /// Seed of the synthetic cloud.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

// The arguments of `kernels`.
#[derive(Args)]
pub struct KernelsArgs {
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendKind,
    /// GPU only: the model whose step's products are timed.
    #[arg(long, default_value = "dae_vincent")]
    pub preset: String,
    /// Comma-separated batch sizes (m of the forward products).
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    pub batch: Vec<usize>,
    /// Minimum seconds timed per (kernel, shape); the best of 5 rounds is kept.
    #[arg(long, default_value_t = 0.2)]
    pub seconds: f64,
    /// Time with the thread's on-CPU clock instead of the wall clock (one thread
    /// only: with --threads 1): figures that other load on the machine does not
    /// lower, except through shared caches.
    #[arg(long)]
    pub cpu_clock: bool,
    #[command(flatten)]
    pub cpu: CpuOpts,
}

/// CPU backend options.
#[derive(Args, Clone, Copy)]
pub struct CpuOpts {
    /// Worker threads for the CPU kernels (default: one per core, or $AEPLAY_THREADS).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Instruction set of the CPU kernels (scalar, avx2, avx512; default: the best available).
    #[arg(long, value_parser = parse_isa)]
    pub isa: Option<Isa>,
}

fn parse_isa(s: &str) -> Result<Isa, String> {
    Isa::from_name(s).ok_or_else(|| {
        let names: Vec<_> = Isa::available().iter().map(|i| i.name()).collect();
        format!("'{s}' is not available here; available: {}", names.join(", "))
    })
}
