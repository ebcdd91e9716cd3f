//! The training worker: a dedicated Web Worker that runs the controller (`app::controller`)
//! beside the page. It loads the data (download, Cache Storage), acquires WebGPU where the
//! worker has it (else the CPU path), keeps the last model in IndexedDB, and runs one loop:
//! take the page's commands, carry them out, train a slice, send the events (frames among
//! them) back. Only this loop owns the controller, so nothing is borrowed across an await.
//!
//! The page starts it with www/worker.js, which loads the same WebAssembly module as the
//! page; `main` sees a worker's global scope and calls [`start`].

mod bench;
mod loader;
mod scope;
mod store;
mod threads;

use std::cell::RefCell;
use std::collections::VecDeque;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::clock::{now_ms, sleep_ms};
use crate::app::controller::{Controller, Devices};
use crate::app::envelope::{FromWorker, ToWorker};
use crate::app::protocol::{decode, encode, Command, Event, RunState};
use crate::app::catalogue;
use crate::app::urlstate::BackendChoice;

use scope::{scope, yield_now};

/// While training, the model kept in the browser is refreshed this often.
const STORE_EVERY_MS: f64 = 30_000.0;

thread_local! {
    static INBOX: RefCell<VecDeque<ToWorker>> = const { RefCell::new(VecDeque::new()) };
    /// Images that arrived while training, for the loop to hand to the controller, with what
    /// the page is then told is in ([`loader::Rest::data_in`]).
    static ARRIVED: RefCell<VecDeque<(loader::Grown, (usize, usize))>> = const { RefCell::new(VecDeque::new()) };
    /// The page's Retry for a part that stalled while training: asked (true), and the
    /// waiting download's wake-up.
    static RETRY: RefCell<(bool, Option<js_sys::Function>)> = const { RefCell::new((false, None)) };
    /// Resolves the promise the loop waits on when it has nothing to do.
    static WAKE: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Sends a message to the page (its bytes, transferred).
pub(crate) fn post(ev: &FromWorker) {
    let bytes = encode(ev);
    let arr = js_sys::Uint8Array::from(&bytes[..]);
    let transfer = js_sys::Array::of1(&arr.buffer());
    if let Err(e) = scope().post_message_with_transfer(&arr, &transfer) {
        web_sys::console::error_1(&format!("aeplay worker: could not send an event: {e:?}").into());
    }
}

/// Sends an engine event to the page.
fn post_event(ev: Event) {
    post(&FromWorker::Engine(ev));
}

fn post_all(events: Vec<Event>) {
    events.into_iter().for_each(post_event);
}

/// A message from the page: its command goes to the inbox and wakes the loop.
fn receive(data: JsValue) {
    let bytes = js_sys::Uint8Array::new(&data).to_vec();
    match decode::<ToWorker>(&bytes) {
        Ok(cmd) => {
            INBOX.with(|i| i.borrow_mut().push_back(cmd));
            wake();
        }
        Err(e) => web_sys::console::error_1(&format!("aeplay worker: {e}").into()),
    }
}

/// Wakes the loop if it waits for something to do.
fn wake() {
    if let Some(wake) = WAKE.with(|w| w.borrow_mut().take()) {
        let _ = wake.call0(&JsValue::NULL);
    }
}

fn next_command() -> Option<ToWorker> {
    INBOX.with(|i| i.borrow_mut().pop_front())
}

/// Waits until a command (or more data) arrives.
async fn wait_for_command() {
    if INBOX.with(|i| !i.borrow().is_empty()) || ARRIVED.with(|a| !a.borrow().is_empty()) {
        return;
    }
    let promise = js_sys::Promise::new(&mut |resolve, _| WAKE.with(|w| *w.borrow_mut() = Some(resolve)));
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// The worker's entry: takes over the messages www/worker.js queued and starts the loop.
pub fn start() {
    console_error_panic_hook::set_once();
    let s = scope();
    if let Ok(queued) = js_sys::Reflect::get(&s, &"__aeplayQueue".into()) {
        if let Some(arr) = queued.dyn_ref::<js_sys::Array>() {
            for m in arr.iter() {
                receive(m);
            }
        }
    }
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|e: web_sys::MessageEvent| receive(e.data()));
    s.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget(); // for the worker's lifetime
    wasm_bindgen_futures::spawn_local(run());
}

/// The size of this worker's WebAssembly memory.
fn wasm_memory_bytes() -> u64 {
    let mem: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    js_sys::ArrayBuffer::from(mem.buffer()).byte_length() as u64
}

/// Whether this worker's navigator offers WebGPU.
fn worker_has_webgpu() -> bool {
    js_sys::Reflect::get(&scope().navigator(), &"gpu".into()).is_ok_and(|g| !g.is_undefined() && !g.is_null())
}

struct Progress;

impl loader::Progress for Progress {
    fn report(&self, done: f64, total: f64, status: &str) {
        post(&FromWorker::Progress { done, total, status: status.to_string() });
    }
}

/// Loads the data (all of it with `whole`, else up to the training images' first part); a
/// stalled download is reported and loaded again on the page's Retry (the other commands
/// that arrive meanwhile wait their turn). None: it failed for good (reported).
async fn load_data(whole: bool) -> Option<loader::Loaded> {
    loop {
        match loader::load(&Progress, whole).await {
            Ok(v) => return Some(v),
            Err(loader::LoadError::Failed(e)) => {
                post(&FromWorker::Fatal(e));
                return None;
            }
            Err(loader::LoadError::Stalled { file, message }) => {
                post(&FromWorker::Stalled { file, message });
                let mut kept = Vec::new();
                loop {
                    wait_for_command().await;
                    match next_command() {
                        Some(ToWorker::RetryLoad) => break,
                        Some(other) => kept.push(other),
                        None => {}
                    }
                }
                INBOX.with(|i| {
                    let mut inbox = i.borrow_mut();
                    for cmd in kept.into_iter().rev() {
                        inbox.push_front(cmd);
                    }
                });
            }
        }
    }
}

async fn run() {
    // The thread pool first (threaded build): a benchmark measures the threads from its
    // first step, and the data's download is not held up for long (the pool starts in a
    // fraction of a second; the page's first message waits in the inbox).
    threads::start_pool().await;
    // The page's first message says what to do.
    let (setup, resume, page_has_webgpu) = loop {
        wait_for_command().await;
        match next_command() {
            Some(ToWorker::Start { setup, resume, page_has_webgpu }) => break (setup, resume, page_has_webgpu),
            Some(ToWorker::Threads(n)) => threads::want(n as usize),
            Some(ToWorker::Bench(query)) => {
                threads::want(crate::app::urlstate::decode(&query).setup.threads.unwrap_or(0) as usize);
                let Some(mode) = bench::requested(&query) else { return };
                let Some(loaded) = load_data(true).await else { return };
                return bench::run(mode, loaded.mnist).await;
            }
            _ => {}
        }
    };
    threads::want(setup.threads.unwrap_or(0) as usize);
    // Training starts on the first part of the training images, the rest arriving as it
    // trains; a recipe reads fixed rows of the whole set and a model kept in the browser goes
    // on in its epoch, so they wait for all of it.
    let need_all = setup.recipe.is_some() || (resume && matches!(store::get().await, Ok(Some(_))));
    let Some(loader::Loaded { manifest, mnist, rest }) = load_data(need_all).await else { return };
    let official = manifest.source == "mnist";
    // How much is in, before the page hears the data is loaded (it is complete otherwise).
    if let Some(rest) = &rest {
        let (have, total) = rest.data_in();
        post(&FromWorker::DataIn { have: have as u64, total: total as u64 });
    }
    post(&FromWorker::Data { label: manifest.label.clone(), official });
    // The rest downloads from now on (what arrives waits for the loop).
    let more = rest.is_some();
    if let Some(rest) = rest {
        wasm_bindgen_futures::spawn_local(more_data(rest));
    }
    yield_now().await;

    let gpu_here = worker_has_webgpu();
    let devices = if gpu_here { Devices::Any } else { Devices::CpuOnly };
    let wants_gpu = setup.backend != BackendChoice::Cpu;
    let (mut c, events) = match Controller::new(mnist, setup, devices).await {
        Ok(v) => v,
        Err(e) => return post(&FromWorker::Fatal(format!("The model could not be built: {e}"))),
    };
    if wants_gpu && !gpu_here {
        post_event(Event::Note(if page_has_webgpu {
            "This browser offers WebGPU to the page but not to its workers, so training runs on the CPU (WebAssembly SIMD) in a worker.".into()
        } else {
            "WebGPU is not available in this browser, so training runs on the CPU (WebAssembly SIMD).".into()
        }));
    }
    post_all(events);
    if more {
        c.expect_more();
    }

    let mut keeper = Keeper::default();
    keeper.resume(&mut c, resume).await;

    loop {
        while let Some((g, (have, total))) = ARRIVED.with(|a| a.borrow_mut().pop_front()) {
            post_all(c.grow(g.test, &g.pixels, &g.labels, g.complete).await);
            post(&FromWorker::DataIn { have: have as u64, total: total as u64 });
        }
        while let Some(cmd) = next_command() {
            match cmd {
                ToWorker::Start { .. } | ToWorker::Bench(_) => {}
                ToWorker::RetryLoad => RETRY.with(|r| {
                    let mut r = r.borrow_mut();
                    r.0 = true;
                    if let Some(f) = r.1.take() {
                        let _ = f.call0(&JsValue::NULL);
                    }
                }),
                ToWorker::Threads(n) => {
                    threads::want(n as usize);
                    post_event(Event::Status(c.status()));
                }
                ToWorker::ForgetStored => {
                    keeper.forget().await;
                    post_all(c.handle(Command::Reset).await);
                }
                ToWorker::Test(hook) => {
                    if let Some(held) = c.test_hook(hook) {
                        post(&FromWorker::Probe { wasm_bytes: wasm_memory_bytes(), held, stored_bytes: keeper.stored_bytes });
                    }
                }
                ToWorker::Engine(cmd) => {
                    let settles = matches!(cmd, Command::Pause | Command::Step);
                    post_all(c.handle(cmd).await);
                    if settles {
                        keeper.soon();
                    }
                }
            }
        }
        if c.busy() {
            post_all(c.tick().await);
            keeper.maybe_store(&mut c).await;
            match c.pause_hint() {
                Some(ms) if ms >= 1.0 => sleep_ms(ms).await,
                _ => yield_now().await,
            }
        } else {
            keeper.maybe_store(&mut c).await;
            if !c.busy() && INBOX.with(|i| i.borrow().is_empty()) {
                wait_for_command().await;
            }
        }
    }
}

/// Brings the rest of the training images while the model trains, part by part, to the
/// loop; a part that stalls is reported (the page offers Retry, and training goes on
/// meanwhile); a part that is damaged ends it, said so, with training on what is in.
async fn more_data(mut rest: loader::Rest) {
    loop {
        match rest.next(&mut |_, _| {}).await {
            Ok(Some(g)) => {
                let complete = g.complete;
                ARRIVED.with(|a| a.borrow_mut().push_back((g, rest.data_in())));
                wake();
                if complete {
                    return;
                }
            }
            Ok(None) => return,
            Err(loader::LoadError::Failed(e)) => {
                let (have, total) = rest.counts();
                return post_event(Event::Error(format!(
                    "The rest of the training images could not be loaded: {e} Training goes on with the {} of {} that are in.",
                    crate::app::thousands(have),
                    crate::app::thousands(total)
                )));
            }
            Err(loader::LoadError::Stalled { file, message }) => {
                post(&FromWorker::Stalled { file, message });
                wait_for_retry().await;
            }
        }
    }
}

/// Waits for the page's Retry (see [`RETRY`]).
async fn wait_for_retry() {
    if RETRY.with(|r| std::mem::take(&mut r.borrow_mut().0)) {
        return;
    }
    let promise = js_sys::Promise::new(&mut |resolve, _| RETRY.with(|r| r.borrow_mut().1 = Some(resolve)));
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    RETRY.with(|r| r.borrow_mut().0 = false);
}

/// Keeps the last trained single model in IndexedDB: soon after training pauses or steps,
/// and every [`STORE_EVERY_MS`] while it trains; resumes it when the page opens without a
/// set-up of its own.
#[derive(Default)]
struct Keeper {
    stored_step: u64,
    /// Bytes of the model kept (0: none).
    stored_bytes: u64,
    last_ms: Option<f64>,
    due: bool,
    /// Storage failed once: stop trying (a full or private profile).
    broken: bool,
}

impl Keeper {
    async fn resume(&mut self, c: &mut Controller, resume: bool) {
        post(&FromWorker::Stored(0));
        let bytes = match store::get().await {
            Ok(Some(b)) => b,
            Ok(None) => return,
            Err(e) => return web_sys::console::info_1(&format!("aeplay: no stored model ({e})").into()),
        };
        let peek = crate::io::saved::from_safetensors(&bytes);
        if !resume {
            if let Ok(m) = &peek {
                self.stored_step = m.step;
                post(&FromWorker::Stored(m.step));
                post_event(Event::Note(format!(
                    "This link sets up its own model, so the {} kept in this browser (step {}) was not resumed; open the page without a link to resume it.",
                    catalogue::title(&m.config.name),
                    m.step
                )));
            }
            return;
        }
        match c.load(&bytes) {
            Ok((title, step)) => {
                self.stored_step = step;
                post(&FromWorker::Stored(step));
                post_event(Event::Note(format!("Resumed {title} at step {step} from this browser's storage (Start fresh forgets it).")));
                post_event(Event::Status(c.status()));
            }
            Err(e) => {
                let _ = store::delete().await;
                let why = if peek.is_err() { "could not be read" } else { "could not be resumed" };
                post_event(Event::Note(format!("The model kept in this browser {why} ({e}), so it was discarded.")));
            }
        }
    }

    fn soon(&mut self) {
        self.due = true;
    }

    async fn forget(&mut self) {
        if let Err(e) = store::delete().await {
            web_sys::console::warn_1(&format!("aeplay: could not clear the stored model: {e}").into());
        }
        self.stored_step = 0;
        self.stored_bytes = 0;
        self.last_ms = None;
        post(&FromWorker::Stored(0));
    }

    async fn maybe_store(&mut self, c: &mut Controller) {
        if self.broken {
            return;
        }
        let training = c.state() == RunState::Training;
        let due = self.due || (training && self.last_ms.is_none_or(|t| now_ms() - t >= STORE_EVERY_MS));
        if !due || c.busy() && !training {
            return;
        }
        self.due = false;
        self.last_ms = Some(now_ms());
        let Ok((_, step, bytes)) = c.saved().await else { return };
        if step == 0 || step == self.stored_step {
            return;
        }
        match store::put(&bytes).await {
            Ok(()) => {
                self.stored_step = step;
                self.stored_bytes = bytes.len() as u64;
                post(&FromWorker::Stored(step));
            }
            Err(e) => {
                self.broken = true;
                web_sys::console::warn_1(&format!("aeplay: the model could not be kept in this browser: {e}").into());
            }
        }
    }
}
