//! The page's benchmark measurements (run by the worker's benchmark mode, `?bench=train`):
//! training steps of a preset timed on a backend, and the device time per op of a few
//! WebGPU steps. Results are JSON objects, as `scripts/bench-web.mjs` reads them.

use crate::backend::gpu::{GpuBackend, GpuContext};
use crate::backend::{Backend, Buffers};
use crate::core::ModelConfig;
use crate::data::Mnist;
use crate::train::Trainer;

use super::clock::now_ms;
use super::session::fence_of;

/// How long one measurement runs: `warmup` untimed steps, then `steps` timed steps (fewer if
/// `seconds` runs out first, at least 3).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub steps: u64,
    pub warmup: u64,
    pub seconds: f64,
}

/// Device time per op of a few WebGPU training steps (after a warm-up).
pub async fn profile_gpu(cfg: &ModelConfig, ctx: &GpuContext, mnist: &Mnist) -> Result<serde_json::Value, String> {
    let mut t = Trainer::new(GpuBackend::new(ctx.clone()), cfg, mnist, 1)?;
    for _ in 0..3 {
        t.step();
    }
    sync(&mut t).await?;
    let clock = t.be.start_profile()?;
    let steps = 5;
    for _ in 0..steps {
        t.step();
    }
    let p = t.be.finish_profile().await?;
    let counters = t.be.counters();
    Ok(serde_json::json!({
        "preset": cfg.name, "backend": "ours-webgpu", "batch": cfg.batch, "profile_steps": steps,
        "clock": clock.describe(), "ops": p.ops, "counters": counters,
    }))
}

/// Waits until everything queued on the device is done (a no-op wait on the CPU).
async fn sync<B: Backend>(t: &mut Trainer<B>) -> Result<(), String> {
    t.be.flush();
    fence_of(&mut t.be, &t.model).await.map(|_| ())
}

/// One (backend, batch) measurement. Work is synchronised after the warm-up, after each of
/// the first 3 timed steps, then every 10 steps (every step when a step takes over
/// 100 ms), so the time budget counts work done, not work queued; scripts/bench-web.mjs
/// applies the same rule to TensorFlow.js.
pub async fn train_one(base: &ModelConfig, be: Box<dyn Backend>, label: &str, b: usize, mnist: &Mnist, timing: Timing) -> Result<serde_json::Value, String> {
    let Timing { steps, warmup, seconds } = timing;
    let mut cfg = base.clone();
    cfg.batch = b;
    let detail = be.name();
    let mut t = Trainer::new(be, &cfg, mnist, 1)?;
    for _ in 0..warmup {
        t.step();
    }
    if let Some((f, _)) = t.model.train_loss_readback(&mut t.be) {
        t.be.flush();
        f.await?;
    }
    sync(&mut t).await?;
    let start = now_ms();
    let mut done = 0u64;
    let mut every = 1;
    while done < steps && (done < 3 || now_ms() - start < seconds * 1e3) {
        t.step();
        done += 1;
        if done <= 3 || done % every == 0 {
            sync(&mut t).await?;
            if done == 3 {
                every = if (now_ms() - start) / 3.0 > 100.0 { 1 } else { 10 };
            }
        }
    }
    t.be.flush();
    let (f, n) = t.model.train_loss_readback(&mut t.be).ok_or("no training step ran")?;
    t.be.flush();
    let loss = f.await?[0] as f64 / n as f64;
    let secs = (now_ms() - start) / 1e3;
    t.be.health()?;
    Ok(serde_json::json!({
        "preset": cfg.name, "backend": label, "backend_detail": detail, "batch": b,
        "steps": done, "samples_per_s": (done as usize * b) as f64 / secs,
        "ms_per_step": secs * 1e3 / done as f64, "final_loss": loss,
        "gflops": cfg.flops_per_step(b) * done as f64 / secs / 1e9,
    }))
}
