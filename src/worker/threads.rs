//! The CPU path's threads in the browser: in the threaded build (wasm `atomics`, picked by
//! the page's loader where the page is cross-origin isolated: scripts/trunk-variants.sh),
//! the worker starts a rayon pool of Web Workers over its shared memory
//! (wasm-bindgen-rayon), one per core the browser reports but its own, and puts the CPU
//! backend's team on it (`backend::cpu::par`): the worker and the team split the kernels. The training worker may block while the pool
//! works; the page's main thread never does. Results are the same bits on any number of
//! threads, so the count may change between steps (`ToWorker::Threads`).

use crate::app::envelope::{FromWorker, Threads};
use crate::backend::cpu::par::browser;

use super::{post, scope};

/// The cores the browser reports.
fn cores() -> usize {
    (scope().navigator().hardware_concurrency() as usize).max(1)
}

/// Whether this worker is cross-origin isolated (shared memory allowed).
fn isolated() -> bool {
    js_sys::Reflect::get(&scope(), &"crossOriginIsolated".into()).is_ok_and(|v| v.is_truthy())
}

/// What the page is told: the threads in use, the pool, and why there is only one.
pub fn report(failed: Option<String>) -> Threads {
    let pool = browser::pool();
    let why_one = if pool > 1 {
        None
    } else if let Some(e) = failed {
        Some(format!("the thread pool could not start ({e})"))
    } else if !browser::threaded_build() {
        Some(if isolated() { "this browser's WebAssembly has no threads or the link asks for one".into() } else { "the page is not cross-origin isolated".into() })
    } else {
        Some("this browser reports one core".into())
    };
    Threads { used: browser::threads() as u32, pool: pool.max(1) as u32, cores: cores() as u32, why_one }
}

/// Starts the pool (threaded build only) and tells the page what it has.
pub async fn start_pool() {
    let failed = start().await.err();
    post(&FromWorker::Threads(report(failed)));
}

#[cfg(target_feature = "atomics")]
async fn start() -> Result<(), String> {
    /// Most threads a pool starts: past this the models here gain nothing, and each
    /// thread is a Web Worker with an instance of the module.
    const MAX_POOL: usize = 16;
    let n = cores().min(MAX_POOL);
    if n < 2 || !isolated() {
        return Ok(());
    }
    // The training worker takes part in every parallel region: n - 1 Web Workers more, each
    // hosting one of the CPU backend's team workers.
    wasm_bindgen_futures::JsFuture::from(wasm_bindgen_rayon::init_thread_pool(n - 1))
        .await
        .map_err(|e| super::scope::js_err("initThreadPool", e))?;
    crate::backend::cpu::par::team::host_on_rayon(n - 1);
    browser::set_pool(n);
    Ok(())
}

#[cfg(not(target_feature = "atomics"))]
async fn start() -> Result<(), String> {
    Ok(())
}

/// The page asks for `n` threads (0: all of the pool).
pub fn want(n: usize) {
    browser::set_wanted(n);
    post(&FromWorker::Threads(report(None)));
}
