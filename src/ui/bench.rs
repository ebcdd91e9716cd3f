//! The page's side of the benchmark and self-test modes (`?bench=…`, `?selftest=…`; the
//! worker runs them, `src/worker/bench.rs`): their results on `window.__aeplayBench` and in
//! `<pre id="bench-result">`, the shared weights and pixels on `window.__aeplayShared`.

use leptos::prelude::*;

use super::dom;
use super::state::{PageState, Ui};

/// Benchmark results from the worker: on `window.__aeplayBench` and in `<pre id="bench-result">`.
pub fn result(ui: Ui, results: &[String], done: bool, error: Option<String>) {
    let parsed: Vec<serde_json::Value> = results.iter().filter_map(|r| serde_json::from_str(r).ok()).collect();
    let obj = serde_json::json!({ "done": done, "results": parsed, "error": error });
    if let Ok(v) = js_sys::JSON::parse(&obj.to_string()) {
        let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayBench".into(), &v);
    }
    let Some(doc) = dom::window().document() else { return };
    let pre = doc.get_element_by_id("bench-result").or_else(|| {
        let el = doc.create_element("pre").ok()?;
        el.set_id("bench-result");
        doc.body()?.append_child(&el).ok()?;
        Some(el)
    });
    if let Some(pre) = pre {
        let text = results.join("\n");
        pre.set_text_content(Some(&match &error {
            Some(e) => format!("{text}\nerror: {e}"),
            None => text,
        }));
    }
    if done {
        ui.state.set(PageState::BenchDone);
    }
}

/// The initial weights and the training pixels for TensorFlow.js: `window.__aeplayShared`.
pub fn shared(params: &[f32], layers: &[[usize; 4]], train: &[u8], train_rows: usize, dim: usize) {
    let obj = js_sys::Object::new();
    let set = |o: &js_sys::Object, k: &str, v: &wasm_bindgen::JsValue| {
        let _ = js_sys::Reflect::set(o, &k.into(), v);
    };
    set(&obj, "params", &js_sys::Float32Array::from(params).into());
    let ls = js_sys::Array::new();
    for l in layers {
        let o = js_sys::Object::new();
        for (k, v) in ["w", "b", "fan_in", "fan_out"].iter().zip(l) {
            set(&o, k, &(*v as f64).into());
        }
        ls.push(&o);
    }
    set(&obj, "layers", &ls.into());
    set(&obj, "train", &js_sys::Uint8Array::from(train).into());
    set(&obj, "train_rows", &(train_rows as f64).into());
    set(&obj, "dim", &(dim as f64).into());
    let _ = js_sys::Reflect::set(&dom::window(), &"__aeplayShared".into(), &obj.into());
}
