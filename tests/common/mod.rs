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

/// A GPU backend on the first Vulkan adapter (lavapipe in CI), the matmul variant picked
/// per shape, or None with the reason printed. With AEPLAY_REQUIRE_GPU=1 (set by
/// `make test`) a missing adapter fails instead.
pub fn gpu() -> Option<aeplay::backend::gpu::GpuBackend> {
    gpu_with(None)
}

/// The GPU backend with every product on one matmul kernel variant (by name: `tiled`,
/// `tiled8`, `narrow`, `direct`, `direct8`, `ksplit`, `ksplit_subgroup`). A variant the
/// adapter cannot run (subgroups) is skipped with the reason printed.
pub fn gpu_variant(name: &str) -> Option<aeplay::backend::gpu::GpuBackend> {
    gpu_with(Some(aeplay::backend::gpu::Variant::from_name(name).expect("a kernel variant")))
}

/// The GPU backend with the fusions off: one dispatch per trait op (`AEPLAY_GPU_FUSE=0`).
pub fn gpu_unfused() -> Option<aeplay::backend::gpu::GpuBackend> {
    gpu_with(None).map(|mut be| {
        be.set_fused(false);
        be
    })
}

fn gpu_with(variant: Option<aeplay::backend::gpu::Variant>) -> Option<aeplay::backend::gpu::GpuBackend> {
    use aeplay::backend::gpu::{GpuBackend, GpuContext};
    match pollster::block_on(GpuContext::new()) {
        Ok(ctx) => {
            eprintln!("GPU tests on {} ({})", ctx.adapter_label(), variant.map_or("kernels picked per shape", |v| v.name()));
            match GpuBackend::with_variant(ctx, variant) {
                Ok(be) => Some(be),
                Err(e) => {
                    eprintln!("SKIPPED: {e}");
                    None
                }
            }
        }
        Err(e) => {
            if std::env::var("AEPLAY_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("AEPLAY_REQUIRE_GPU=1 but {e} (install mesa-vulkan-drivers for lavapipe)");
            }
            eprintln!("SKIPPED: GPU test not run: {e}");
            None
        }
    }
}
