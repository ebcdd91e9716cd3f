//! The worker's global scope: fetch, Cache Storage, IndexedDB, timers and yielding, the
//! counterparts of the window's that the page uses.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// This worker's global scope.
pub fn scope() -> web_sys::DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Lets the worker's event loop run (messages from the page arrive then): resolves on the
/// next macrotask, a MessageChannel message, which unlike a timer is not clamped.
pub async fn yield_now() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| match web_sys::MessageChannel::new() {
        Ok(ch) => {
            ch.port1().set_onmessage(Some(&resolve));
            let _ = ch.port2().post_message(&JsValue::NULL);
            let keep = ch.clone();
            let _ = js_sys::Reflect::set(&resolve, &"channel".into(), &keep);
        }
        Err(_) => {
            let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// The message of a JS error value.
pub fn js_err(context: &str, e: JsValue) -> String {
    let detail = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    format!("{context}: {detail}")
}
