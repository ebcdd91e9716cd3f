//! The page's service worker (www/sw.js, versioned by the build: scripts/sw-build.mjs): the page
//! registers it for the module it loaded and the one it loads once cross-origin isolated (the
//! threaded build, where the browser has one), so that the worker keeps an offline copy of the
//! app, those modules and the data, and serves later visits with the headers of cross-origin
//! isolation (COOP/COEP) where the host sends none. Nothing here is needed to train: without
//! service workers (an old browser, a blocked registration) the page trains as before.
//! `#offline` says "works offline" once the copy is complete; `#isolation` whether the page
//! is cross-origin isolated.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::state::Ui;
use super::dom;

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
    let Some(now) = variant("__aeplayModule") else { return };
    let later = variant("__aeplayIsolatedModule").unwrap_or_else(|| now.clone());
    let container = nav.service_worker();
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        let data = e.data();
        let offline = js_sys::Reflect::get(&data, &"aeplayOffline".into()).is_ok_and(|v| v.is_truthy());
        // Complete for this page: its copy holds the module the page runs.
        let variants = js_sys::Reflect::get(&data, &"variants".into()).ok().filter(js_sys::Array::is_array);
        let mine = variants.is_some_and(|v| js_sys::Array::from(&v).includes(&variant("__aeplayModule").unwrap_or_default().into(), 0));
        if offline && mine {
            ui.offline.set(true);
        }
    });
    container.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget(); // for the page's lifetime
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    // The worker already in charge keeps its address where its copy holds this page's
    // module (a new address would be a new worker, fetched from the network: a reload
    // offline would fail to register it). A new build still reaches it: the browser checks
    // the script at that address for changes.
    let url = match container.controller().map(|c| c.script_url()) {
        Some(u) if variants_of(&u).contains(&now) => u,
        _ if later != now => format!("sw.js?v={}&v={}", enc(&now), enc(&later)),
        _ => format!("sw.js?v={}", enc(&now)),
    };
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

/// The variants a service worker's address names (`v=`).
fn variants_of(url: &str) -> Vec<String> {
    web_sys::Url::new(url).map(|u| u.search_params().get_all("v").iter().filter_map(|v| v.as_string()).collect()).unwrap_or_default()
}

/// The variant of a module the loader recorded (`window.<key>.variant`).
fn variant(key: &str) -> Option<String> {
    let m = js_sys::Reflect::get(&dom::window(), &key.into()).ok()?;
    js_sys::Reflect::get(&m, &"variant".into()).ok()?.as_string()
}
