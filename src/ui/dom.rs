//! Small browser helpers: elements by id, canvases, downloads, timing, yielding to the event
//! loop.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

pub fn window() -> web_sys::Window {
    web_sys::window().expect("no window")
}

pub use crate::app::clock::{sleep_ms, yield_now};

pub fn canvas(id: &str) -> Option<HtmlCanvasElement> {
    window().document()?.get_element_by_id(id)?.dyn_into::<HtmlCanvasElement>().ok()
}

pub fn ctx2d(c: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    c.get_context("2d").ok()??.dyn_into::<CanvasRenderingContext2d>().ok()
}

/// Draws a grayscale image (values in [0, 1], `w × h`) at (x, y), white ink on black.
pub fn put_gray(ctx: &CanvasRenderingContext2d, img: &[f32], w: usize, h: usize, x: f64, y: f64) {
    let mut rgba = vec![0u8; w * h * 4];
    for (px, &v) in rgba.chunks_exact_mut(4).zip(img) {
        let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        px.copy_from_slice(&[g, g, g, 255]);
    }
    put_rgba(ctx, &rgba, w, h, x, y);
}

/// Puts RGBA pixels (`w × h`) on a canvas at (x, y). The pixels are copied into a buffer of
/// JavaScript's own first: `ImageData` refuses a view of shared memory, which the page's
/// WebAssembly memory is in the threaded build.
pub fn put_rgba(ctx: &CanvasRenderingContext2d, rgba: &[u8], w: usize, h: usize, x: f64, y: f64) {
    let arr = js_sys::Uint8ClampedArray::new_with_length(rgba.len() as u32);
    arr.copy_from(rgba);
    match ImageData::new_with_js_u8_clamped_array_and_sh(&arr, w as u32, h as u32) {
        Ok(data) => {
            let _ = ctx.put_image_data(&data, x, y);
        }
        Err(e) => web_sys::console::error_1(&format!("aeplay: a picture could not be drawn ({e:?})").into()),
    }
}

/// Draws a corrupted image against its clean version: grey levels, with the pixels the
/// corruption destroyed (ink that is gone) in red, so that even light masking shows.
pub fn put_corrupted(ctx: &CanvasRenderingContext2d, noisy: &[f32], clean: &[f32], w: usize, h: usize, x: f64, y: f64) {
    let mut rgba = vec![0u8; w * h * 4];
    for ((px, &v), &c) in rgba.chunks_exact_mut(4).zip(noisy).zip(clean) {
        if c - v > 0.3 {
            px.copy_from_slice(&[220, 38, 38, 255]);
        } else {
            let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            px.copy_from_slice(&[g, g, g, 255]);
        }
    }
    put_rgba(ctx, &rgba, w, h, x, y);
}

/// Draws one 28×28 digit filling the canvas `id`.
pub fn draw_digit(id: &str, img: &[f32]) {
    if let Some(ctx) = canvas(id).as_ref().and_then(ctx2d) {
        put_gray(&ctx, img, 28, 28, 0.0, 0.0);
    }
}

/// Fills a whole canvas with one colour.
pub fn clear(id: &str, colour: &str) {
    if let Some(c) = canvas(id) {
        if let Some(ctx) = ctx2d(&c) {
            ctx.set_fill_style_str(colour);
            ctx.fill_rect(0.0, 0.0, c.width() as f64, c.height() as f64);
        }
    }
}

/// Clears the pad's three small pictures.
pub fn clear_pad() {
    for id in ["pad-input", "pad-noisy", "pad-out"] {
        clear(id, "#000");
    }
}

/// Downloads `href` as `name` through a temporary `<a download>`.
pub fn download_href(href: &str, name: &str) {
    let Some(doc) = window().document() else { return };
    let Ok(a) = doc.create_element("a").map(|a| a.unchecked_into::<web_sys::HtmlAnchorElement>()) else { return };
    a.set_href(href);
    a.set_download(name);
    let _ = a.set_attribute("style", "display:none");
    if let Some(body) = doc.body() {
        let _ = body.append_child(&a);
        a.click();
        let _ = body.remove_child(&a);
    }
}

/// Downloads bytes as a file (a Blob behind an object URL, revoked a minute later).
pub fn download_bytes(bytes: &[u8], mime: &str, name: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    download_href(&url, name);
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    Ok(())
}

/// A 2-D context for a canvas that is read back often (the draw pad).
fn ctx2d_readback(c: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"willReadFrequently".into(), &JsValue::TRUE).ok()?;
    c.get_context_with_context_options("2d", &opts).ok()??.dyn_into::<CanvasRenderingContext2d>().ok()
}

/// Reads a canvas as grayscale ink in [0, 1] (red channel).
pub fn read_gray(id: &str) -> Option<(Vec<f32>, usize, usize)> {
    let c = canvas(id)?;
    let ctx = ctx2d_readback(&c)?;
    let (w, h) = (c.width() as usize, c.height() as usize);
    let data = ctx.get_image_data(0.0, 0.0, w as f64, h as f64).ok()?.data();
    Some((data.0.chunks_exact(4).map(|p| p[0] as f32 / 255.0).collect(), w, h))
}
