//! `aeplay bench`: training throughput per batch size (5 warm-up steps, then the timed
//! ones): samples/s, ms and CPU time per step, and on the GPU the dispatches, bytes and
//! submissions per step and the kernel picked for each product; with `--profile`, one line
//! per backend op besides.

use std::time::Instant;

use aeplay::backend::gpu::{GpuBackend, GpuContext};
use aeplay::backend::profile::{process_sched_ns, Profiled};
use aeplay::backend::{Backend, Buffers, WorkCounters};
use aeplay::core::ModelConfig;
use aeplay::data::Mnist;
use aeplay::train::Trainer;
use serde_json::json;

use crate::cli::BenchArgs;
use crate::common::{config, emit, load, Source};

pub fn run(a: BenchArgs) -> Result<(), String> {
    if a.steps == 0 {
        return Err("--steps must be at least 1".into());
    }
    let source = Source::new(a.backend, a.cpu)?;
    if let Source::Gpu(ctx) = &source {
        if ctx.is_cpu_adapter() && !a.allow_cpu_adapter {
            return Err(format!(
                "the GPU adapter is {}, a CPU emulation: its numbers are not GPU figures (pass --allow-cpu-adapter to measure it anyway)",
                ctx.adapter_label()
            ));
        }
    }
    let data = load(a.data)?;
    for b in a.batch {
        let cfg = config(&a.preset, Some(b), None)?;
        match &source {
            Source::Gpu(ctx) => bench_gpu(ctx, &cfg, &data, a.steps, a.profile, a.json)?,
            Source::Cpu(_) => bench_cpu(source.make(), &cfg, &data, a.steps, a.profile, a.json, &source.adapter())?,
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

/// The GPU bench: samples/s with dispatches and bytes per step and the kernel picked for
/// each product; with `--profile`, then as many steps again with every op timed on the
/// device (GPU timestamps where the adapter has them).
fn bench_gpu(ctx: &GpuContext, cfg: &ModelConfig, data: &Mnist, steps: u64, profile: bool, json: bool) -> Result<(), String> {
    let be = GpuBackend::new(ctx.clone());
    let name = be.name();
    let mut t = Trainer::new(be, cfg, data, 1)?;
    let m = time_steps(&mut t, steps, &mut |_| {});
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
        profile_gpu(&mut t, cfg.batch, steps, json)?;
    }
    emit(json, line);
    Ok(())
}

/// `bench --profile` on the GPU: `steps` more steps (of batch `b`) with every op timed on
/// the device, one line per op and a total.
fn profile_gpu(t: &mut Trainer<GpuBackend>, b: usize, steps: u64, json: bool) -> Result<(), String> {
    let clock = match t.be.start_profile() {
        Err(e) => {
            emit(json, json!({"batch": b, "profile": e}));
            return Ok(());
        }
        Ok(clock) => clock,
    };
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
    Ok(())
}
