//! `aeplay kernels`: matrix-multiply kernels compared on the products of a training step.
//! On the CPU, our kernels (per ISA) against the `matrixmultiply` crate (and the `gemm`
//! crate with `--features bench-gemm`) on the five products of a `dae_vincent` step, one
//! JSON line per (kernel, threads, product, batch); on the GPU, every kernel variant the
//! device can run on each product of a `--preset` step, device-timed, and the variant the
//! tuning picks.

use std::time::Instant;

use aeplay::backend::cpu::bench::{time_kernel, Kernel};
use aeplay::backend::cpu::Isa;
use aeplay::backend::gpu::{GpuBackend, GpuContext};
use serde_json::json;

use crate::cli::{BackendKind, KernelsArgs};
use crate::common::config;

pub fn run(a: KernelsArgs) -> Result<(), String> {
    if let BackendKind::Gpu = a.backend {
        return kernels_gpu(&a.preset, &a.batch, a.seconds);
    }
    if a.cpu_clock && a.cpu.threads != Some(1) {
        return Err("--cpu-clock needs --threads 1".into());
    }
    kernels_cpu(&a.batch, a.seconds, a.cpu.threads, a.cpu.isa, a.cpu_clock);
    Ok(())
}

fn kernels_cpu(batches: &[usize], seconds: f64, threads: Option<usize>, isa: Option<Isa>, cpu_clock: bool) {
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
        println!("{}", json!({"peak": i.name(), "threads": 1, "gflops": g, "cores": cores, "machine_gflops": g * cores as f64}));
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
        out.push(json!({"kernel": "gemm-crate", "threads": t, "product": name, "batch": b,
            "m": m, "k": k, "n": n, "us": secs * 1e6, "gflops": 2.0 * (m * k * n) as f64 / secs / 1e9}));
    }
    out
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
        let cfg = config(preset, Some(b), None)?;
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
