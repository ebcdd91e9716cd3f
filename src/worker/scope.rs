//! The worker's global scope (fetch, Cache Storage and IndexedDB hang off it), yielding to
//! its event loop, and JS errors in words.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// This worker's global scope.
pub fn scope() -> web_sys::DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

pub use crate::app::clock::yield_now;

/// The message of a JS error value.
pub fn js_err(context: &str, e: JsValue) -> String {
    let detail = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    format!("{context}: {detail}")
}
