//! The page's service worker (www/sw.js, versioned by the build: scripts/sw-build.mjs): the page
//! registers it for the module it loaded, so that the worker keeps an offline copy of the app,
//! that module and the data, and serves later visits with the headers of cross-origin
//! isolation (COOP/COEP) where the host sends none. Nothing here is needed to train: without
//! service workers (an old browser, a blocked registration) the page trains as before.
//! `#offline` says "works offline" once the copy is complete; `#isolation` whether the page
//! is cross-origin isolated.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::state::Ui;
use super::{client, dom};

/// Registers the service worker and listens for its word on the offline copy.
pub fn install(ui: Ui) {
    let w = dom::window();
    let isolated = js_sys::Reflect::get(&w, &"crossOriginIsolated".into()).is_ok_and(|v| v.is_truthy());
    ui.isolated.set(Some(isolated));
    let nav = w.navigator();
    let supported = js_sys::Reflect::get(&nav, &"serviceWorker".into()).is_ok_and(|v| !v.is_undefined() && !v.is_null());
    if !supported {
        return;
    }
    let Some((js, wasm)) = client::module() else { return };
    let container = nav.service_worker();
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let data = e.data();
        let offline = js_sys::Reflect::get(&data, &"aeplayOffline".into()).is_ok_and(|v| v.is_truthy());
        let same = js_sys::Reflect::get(&data, &"wasm".into()).ok().and_then(|v| v.as_string()).is_some_and(|v| v == wasm_of_page());
        if offline && same {
            ui.offline.set(true);
        }
    });
    container.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget(); // for the page's lifetime
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    let url = format!("sw.js?js={}&wasm={}", enc(&js), enc(&wasm));
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = JsFuture::from(container.register(&url)).await {
            web_sys::console::info_1(&format!("aeplay: no offline copy (the service worker could not be registered: {e:?})").into());
            return;
        }
        // The active worker answers whether its copy is complete (a new one also says so when
        // it takes over).
        let Ok(ready) = container.ready() else { return };
        if let Ok(reg) = JsFuture::from(ready).await {
            let reg: web_sys::ServiceWorkerRegistration = reg.unchecked_into();
            if let Some(active) = reg.active() {
                let _ = active.post_message(&"aeplay-offline?".into());
            }
        }
    });
}

/// The WebAssembly module this page runs.
fn wasm_of_page() -> String {
    client::module().map(|(_, w)| w).unwrap_or_default()
}
