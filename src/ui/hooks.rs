//! Test hooks for the end-to-end tests, installed only in a page under automation
//! (`navigator.webdriver`, which Playwright and every WebDriver set): a page a person opens
//! has none, and no control sends a [`TestHook`].
//!
//! - `window.__aeplayLoseDevice()` destroys the worker's GPU device, as a driver reset would
//!   (the test of device loss);
//! - `window.__aeplayFastFrames(ms)` makes the worker send a frame every `ms` while training,
//!   and `window.__aeplayProbe()` asks what memory it holds (the answer lands on
//!   `window.__aeplayProbed`): the long-run test;
//! - `window.__aeplayPauseAt(step)` pauses training at that step (0: no such stop), so that a
//!   test compares runs at one exact step (threads, runs compared).

use wasm_bindgen::closure::Closure;

use crate::app::envelope::{TestHook, ToWorker};

use super::{client, dom};

/// Whether the page is driven by automation.
fn automated() -> bool {
    js_sys::Reflect::get(&dom::window().navigator(), &"webdriver".into()).ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

fn hook<F: ?Sized + wasm_bindgen::closure::WasmClosure>(name: &str, f: Closure<F>) {
    let _ = js_sys::Reflect::set(&dom::window(), &name.into(), f.as_ref());
    f.forget(); // for the page's lifetime
}

/// Installs the hooks in a page under automation.
pub fn install() {
    if !automated() {
        return;
    }
    let send = |h: TestHook| client::send_to_worker(&ToWorker::Test(h));
    hook("__aeplayLoseDevice", Closure::<dyn Fn()>::new(move || send(TestHook::LoseDevice)));
    hook("__aeplayFastFrames", Closure::<dyn Fn(f64)>::new(move |ms: f64| send(TestHook::SetFrameInterval(ms))));
    hook("__aeplayProbe", Closure::<dyn Fn()>::new(move || send(TestHook::Probe)));
    hook("__aeplayPauseAt", Closure::<dyn Fn(f64)>::new(move |step: f64| send(TestHook::PauseAt((step >= 1.0).then_some(step as u64)))));
}
