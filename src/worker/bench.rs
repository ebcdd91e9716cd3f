//! Benchmark and self-test modes of the page, chosen by the query string (read by
//! `scripts/bench-web.mjs` and `tests/e2e/kernels.test.mjs`; nothing here runs otherwise):
//!
//! - `?bench=train&preset=dae_vincent&backend=cpu,gpu&batch=16,64,256&steps=40&warmup=5&seconds=6`:
//!   for each backend (`cpu`: the wasm SIMD kernels; `gpu`: WebGPU) and batch, trains the
//!   preset for `warmup` steps,
//!   then for `steps` timed steps (fewer if `seconds` runs out first, at least 3), and
//!   reports `{preset, backend, batch, steps, samples_per_s, ms_per_step, final_loss}`.
//!   `&export=1` also publishes the initial parameters and the training pixels on
//!   `window.__aeplayShared`, so the TensorFlow.js side trains from the same weights.
//!   `&profile=1` adds the device time per op and shape of a few WebGPU steps.
//! - `?bench=kernels&batch=16,64,256&seconds=0.3`: our wasm matmul against the
//!   `matrixmultiply` crate on the step's five products.
//! - `?selftest=kernels&max=20`: the SIMD kernels against the scalar reference
//!   (`backend::cpu::check`), inside the browser's wasm build.
//!
//! They run in the training worker, where the page trains; results go back as
//! [`FromWorker::Bench`] (the page puts them on `window.__aeplayBench` as `{done, results: [...],
//! error}` and, as JSON lines, in `<pre id="bench-result">`), the shared weights and pixels as
//! [`FromWorker::Shared`].

use super::scope::yield_now;
use super::post;
use crate::app::bench::{profile_gpu, train_one, Timing};
use crate::app::clock::now_ms;
use crate::app::envelope::FromWorker;
use crate::backend::cpu::{bench, check, CpuBackend, Isa};
use crate::backend::gpu::{GpuBackend, GpuContext};
use crate::core::config::preset;
use crate::data::Mnist;

/// The mode asked for in the URL, if any.
pub enum Mode {
    Train,
    Kernels,
    SelfTest,
}

thread_local! {
    /// The page's query string (the bench runs with its parameters).
    static QUERY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The value of `name` in the page's query string (percent-decoded).
fn param(name: &str) -> Option<String> {
    let search = QUERY.with(|q| q.borrow().clone());
    search.trim_start_matches('?').split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| js_sys::decode_uri_component(v).map(String::from).unwrap_or_else(|_| v.to_string()))
    })
}

fn param_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    param(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn param_list(name: &str, default: &[usize]) -> Vec<usize> {
    param(name)
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// The requested mode of a query string (None: the normal page).
pub fn requested(query: &str) -> Option<Mode> {
    QUERY.with(|q| *q.borrow_mut() = query.to_string());
    if param("selftest").as_deref() == Some("kernels") {
        return Some(Mode::SelfTest);
    }
    match param("bench").as_deref() {
        Some("kernels") => Some(Mode::Kernels),
        Some(_) => Some(Mode::Train),
        None => None,
    }
}

/// Sends the results so far (or an error) to the page.
fn publish(results: &[serde_json::Value], error: Option<String>, done: bool) {
    post(&FromWorker::Bench { results: results.iter().map(|r| r.to_string()).collect(), done, error });
}

/// Runs the requested mode with the loaded data.
pub async fn run(mode: Mode, mnist: Mnist) {
    let out = match mode {
        Mode::SelfTest => self_test().await,
        Mode::Kernels => kernels().await,
        Mode::Train => train(mnist).await,
    };
    match out {
        Ok(results) => publish(&results, None, true),
        Err((results, e)) => publish(&results, Some(e), true),
    }
}

type Out = Result<Vec<serde_json::Value>, (Vec<serde_json::Value>, String)>;

async fn self_test() -> Out {
    let max = param_num("max", 20usize);
    let start = now_ms();
    match check::self_check(max) {
        Ok(summary) => Ok(vec![serde_json::json!({
            "selftest": "kernels", "ok": true, "isa": Isa::detect().name(), "max": max,
            "summary": summary, "ms": now_ms() - start,
        })]),
        Err(e) => Err((vec![], e)),
    }
}

async fn kernels() -> Out {
    let seconds = param_num("seconds", 0.3f64);
    let now = || now_ms() / 1e3;
    let mut results = Vec::new();
    for b in param_list("batch", &[16, 64, 256]) {
        if results.is_empty() {
            let g = bench::fma_peak(Isa::detect(), seconds, &now);
            results.push(serde_json::json!({"peak": Isa::detect().name(), "threads": 1, "gflops": g}));
        }
        for kernel in [bench::Kernel::Ours(Isa::detect()), bench::Kernel::MatrixMultiply] {
            results.extend(bench::time_kernel(kernel, 1, b, seconds, &now));
            publish(&results, None, false);
            yield_now().await;
        }
    }
    Ok(results)
}

async fn train(mnist: Mnist) -> Out {
    let name = param("preset").unwrap_or_else(|| "dae_vincent".into());
    let timing = Timing { steps: param_num("steps", 40u64).max(1), warmup: param_num("warmup", 5u64), seconds: param_num("seconds", 6.0f64) };
    let mut results = Vec::new();
    let Some(base) = preset(&name) else {
        return Err((results, format!("unknown preset '{name}'")));
    };
    if param("export").as_deref() == Some("1") {
        export_shared(&base, &mnist);
    }
    // `&backend=cpu,gpu`: each listed backend in turn (one WebGPU device for all batches).
    let backends = param("backend").unwrap_or_else(|| "cpu".into());
    let mut gpu: Option<Result<GpuContext, String>> = None;
    for kind in backends.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let label = if kind == "gpu" { "ours-webgpu".to_string() } else { format!("ours-{kind}") };
        if kind == "gpu" && gpu.is_none() {
            gpu = Some(GpuContext::new().await);
        }
        for b in param_list("batch", &[16, 64, 256]) {
            let out = match (kind, &gpu) {
                ("gpu", Some(Err(e))) => Err(e.clone()),
                ("gpu", Some(Ok(ctx))) => train_one(&base, Box::new(GpuBackend::new(ctx.clone())), &label, b, &mnist, timing).await,
                ("cpu", _) => train_one(&base, Box::new(CpuBackend::new()), &label, b, &mnist, timing).await,
                (other, _) => Err(format!("unknown backend '{other}' (cpu or gpu)")),
            };
            match out {
                Ok(mut r) => {
                    if kind == "cpu" {
                        r["threads"] = crate::backend::cpu::par::browser::threads().into();
                    }
                    results.push(r)
                }
                Err(e) => results.push(serde_json::json!({ "preset": base.name, "backend": label, "batch": b, "error": e })),
            }
            // `&profile=1`: device time per op and shape on WebGPU (timestamp queries where
            // the adapter has them).
            if kind == "gpu" && param("profile").as_deref() == Some("1") {
                if let Some(Ok(ctx)) = &gpu {
                    let mut cfg = base.clone();
                    cfg.batch = b;
                    results.push(match profile_gpu(&cfg, ctx, &mnist).await {
                        Ok(v) => v,
                        Err(e) => serde_json::json!({ "preset": base.name, "backend": label, "batch": b, "profile": e }),
                    });
                }
            }
            publish(&results, None, false);
            yield_now().await;
        }
    }
    Ok(results)
}

/// The initial parameters (seed 1) and the training pixels, for the TensorFlow.js side of
/// the comparison (the page puts them on `window.__aeplayShared`).
fn export_shared(cfg: &crate::core::ModelConfig, mnist: &Mnist) {
    let layout = crate::core::layout::ParamLayout::new(cfg);
    let params = layout.init(cfg, 1);
    let layers = layout.dense.iter().map(|s| [s.w, s.b, s.fan_in, s.fan_out]).collect();
    post(&FromWorker::Shared { params, layers, train: mnist.train.pixels.clone(), train_rows: mnist.train.items, dim: mnist.train.dim() });
}
