//! Milliseconds from a monotonic clock, the same call in a browser (the window's or a
//! worker's `performance.now()`) and natively.

#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> f64 {
    use wasm_bindgen::JsCast;
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

/// Lets the event loop run (input, painting, the other side's messages): resolves on the next
/// macrotask, a MessageChannel message, which unlike a timer is not clamped to 4 ms. The same
/// in the window and in a worker.
#[cfg(target_arch = "wasm32")]
pub async fn yield_now() {
    use wasm_bindgen::JsValue;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| match web_sys::MessageChannel::new() {
        Ok(ch) => {
            ch.port1().set_onmessage(Some(&resolve));
            let _ = ch.port2().post_message(&JsValue::NULL);
            // Keep the channel alive until the message arrives.
            let _ = js_sys::Reflect::set(&resolve, &"channel".into(), &ch);
        }
        Err(_) => {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Waits `ms` milliseconds without blocking (a timer of the window or the worker).
#[cfg(target_arch = "wasm32")]
pub async fn sleep_ms(ms: f64) {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        if let Ok(f) = js_sys::Reflect::get(&global, &"setTimeout".into()).and_then(|f| f.dyn_into::<js_sys::Function>().map_err(Into::into)) {
            let _ = f.call2(&global, &resolve, &wasm_bindgen::JsValue::from_f64(ms.max(0.0)));
        } else {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Waits `ms` milliseconds (natively the thread sleeps: the CLI and the tests have nothing
/// else to do meanwhile).
#[cfg(not(target_arch = "wasm32"))]
pub async fn sleep_ms(ms: f64) {
    std::thread::sleep(std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0));
}
