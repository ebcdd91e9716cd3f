//! The GPU backend's device timing and kernel tuning, as functions (no timings are checked:
//! those belong in benchmarks): a profile names every op of a step with its calls, with
//! GPU timestamps and with the wall-clock fallback; tuning picks a variant the device can
//! run and caches it; the work counters count what a step records.

mod common;

use aeplay::backend::gpu::{Clock, GpuBackend, GpuContext};
use aeplay::backend::Buffers;
use aeplay::core::config::preset;
use aeplay::model::Autoencoder;

/// The GPU, or None after saying on the test output why these tests do not run here.
fn context() -> Option<GpuContext> {
    match common::gpu() {
        Ok(be) => Some(be.context().clone()),
        Err(why) => {
            common::report_skip("gpu_timing", &why);
            None
        }
    }
}

/// A dae_vincent-shaped model (784 → 500 → 784 at batch 16) on random pixels.
fn dae_step(be: &mut GpuBackend, steps: u32) {
    let cfg = preset("dae_vincent").unwrap();
    let pixels: Vec<u8> = (0..64 * 784).map(|i| (i * 37 % 256) as u8).collect();
    let data = be.upload_u8(&pixels, 784);
    let mut model = Autoencoder::new(be, &cfg, 1).unwrap();
    for s in 0..steps {
        let idx: Vec<u32> = (0..16).map(|i| (s * 16 + i) % 64).collect();
        model.train_step(be, data, &idx, 3, s);
    }
    assert!(model.take_train_loss(be).unwrap().0.is_finite());
}

fn profile_names_every_op(ctx: GpuContext, want: Clock) {
    let mut be = GpuBackend::new(ctx);
    dae_step(&mut be, 1);
    assert_eq!(be.start_profile().unwrap(), want);
    dae_step(&mut be, 2);
    let p = pollster::block_on(be.finish_profile()).unwrap();
    assert_eq!(p.clock, want);
    let calls = |name: &str| p.ops.iter().filter(|o| o.op.starts_with(name)).map(|o| o.calls).sum::<u64>();
    // Two steps: two forward products each, one input gradient, two fused updates.
    assert_eq!(calls("linear_forward["), 4, "{:?}", p.ops);
    assert_eq!(calls("linear_backward["), 2, "{:?}", p.ops);
    assert_eq!(calls("matmul_sgd["), 4, "{:?}", p.ops);
    assert_eq!(calls("loss_forward_backward"), 2, "{:?}", p.ops);
    assert!(p.ops.iter().all(|o| o.seconds.is_finite() && o.seconds >= 0.0));
    assert!(p.ops.iter().any(|o| o.op.contains("16x784x500")), "{:?}", p.ops);
    // Profiling ended: later work is not timed, and finishing again is an error.
    assert!(pollster::block_on(be.finish_profile()).is_err());
}

#[test]
fn profile_with_timestamps() {
    let Some(ctx) = context() else { return };
    if !ctx.timestamps() {
        eprintln!("SKIPPED: {} has no timestamp queries", ctx.adapter_label());
        return;
    }
    profile_names_every_op(ctx, Clock::Timestamps);
}

#[test]
fn profile_without_timestamps_falls_back_to_the_wall_clock() {
    let Some(mut ctx) = context() else { return };
    ctx.features.remove(wgpu::Features::TIMESTAMP_QUERY);
    profile_names_every_op(ctx, Clock::WallClock);
}

#[test]
fn a_step_counts_its_dispatches_and_bytes() {
    let Some(ctx) = context() else { return };
    let mut fused = GpuBackend::new(ctx.clone());
    let mut plain = GpuBackend::new(ctx);
    plain.set_fused(false);
    dae_step(&mut fused, 1);
    dae_step(&mut plain, 1);
    let (f0, p0) = (fused.counters(), plain.counters());
    dae_step(&mut fused, 2);
    dae_step(&mut plain, 2);
    let per_step = |a: u64, b: u64| (b - a) / 2;
    // gather, noise, 2 × linear_forward, loss, loss sum, linear_backward, 2 × matmul_sgd
    // (the model's set-up and read-backs add none per step).
    let (fd, pd) = (per_step(f0.dispatches, fused.counters().dispatches), per_step(p0.dispatches, plain.counters().dispatches));
    assert_eq!(fd, 9);
    assert_eq!(pd, 15);
    let (fb, pb) = (per_step(f0.bytes, fused.counters().bytes), per_step(p0.bytes, plain.counters().bytes));
    assert!(fb < pb, "fused {fb} bytes per step, unfused {pb}");
    // At least the weights: read by both forward products and the input gradient, read
    // and written by both updates.
    let w = 4 * 784 * 500;
    assert!(fb >= 7 * w, "{fb}");
}

#[test]
fn tuning_picks_a_variant_the_device_runs_and_caches_it() {
    let Some(ctx) = context() else { return };
    let mut be = GpuBackend::new(ctx.clone());
    let key = aeplay::backend::gpu::ShapeKey { m: 16, k: 784, n: 500, ta: false, tb: false, sgd: false };
    let t = pollster::block_on(be.tune(key)).unwrap();
    assert!(be.variants().contains(&t.variant));
    let timed: Vec<_> = t.seconds.iter().filter_map(|(v, s)| s.map(|s| (*v, s))).collect();
    assert!(!timed.is_empty() && timed.iter().all(|(_, s)| s.is_finite() && *s > 0.0), "{t:?}");
    // The pick is the fastest timed.
    let best = timed.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
    assert_eq!(t.variant, best);
    // Cached for the adapter: another backend on it gets the same answer at once.
    let again = pollster::block_on(GpuBackend::new(ctx.clone()).tune(key)).unwrap();
    assert_eq!(again.variant, t.variant);
    assert!(aeplay::backend::gpu::tuned_variants(&ctx).iter().any(|x| x.shape == key));
}
