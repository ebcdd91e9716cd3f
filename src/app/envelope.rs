//! The worker envelope: what crosses `postMessage` between the page and the training worker
//! around the engine's own [`Command`]s and [`Event`]s. The worker's business (its start,
//! the model kept in the browser, benchmark modes, loading the data) and the test hooks are
//! separate audiences: the controller never sees them.

use serde::{Deserialize, Serialize};

use super::protocol::{Command, Event};
use crate::app::urlstate::Setup;

/// What the page sends the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// The first message: the set-up from the page's link; `resume`: the page was opened
    /// without a set-up (or reloaded), so the model kept in the browser may be resumed.
    Start { setup: Setup, resume: bool, page_has_webgpu: bool },
    /// Benchmark and self-test modes (`?bench=…`, `?selftest=…`): the query string, as the
    /// first message instead of `Start`.
    Bench(String),
    /// Forget the model kept in the browser (and start over).
    ForgetStored,
    /// Load the data again after a download stalled ([`FromWorker::Stalled`]).
    RetryLoad,
    /// Threads for the CPU path (0: all the pool has); results do not depend on it.
    Threads(u32),
    /// A command for the engine.
    Engine(Command),
    /// A test hook (sent only by a page under automation: see `ui::hooks`).
    Test(TestHook),
}

/// What the end-to-end tests may ask of the worker; no control of the page sends these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TestHook {
    /// Destroy the GPU device, as a driver reset would.
    LoseDevice,
    /// Make frames this often (ms) while training, to run thousands of read-backs in a
    /// short test.
    SetFrameInterval(f64),
    /// Report the memory held ([`FromWorker::Probe`]).
    Probe,
    /// Pause training when the step count reaches this (None: no such stop), so that a test
    /// compares runs at one exact step.
    PauseAt(Option<u64>),
}

/// What the engine holds, for [`TestHook::Probe`]: the backend's buffers and the points of
/// the loss history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub allocated_bytes: u64,
    pub history_points: usize,
}

/// The browser's CPU threads, for the status strip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threads {
    /// Threads the CPU kernels use now.
    pub used: u32,
    /// Threads in the worker's pool (1: no pool).
    pub pool: u32,
    /// The cores the browser reports (`navigator.hardwareConcurrency`).
    pub cores: u32,
    /// Why the pool has one thread, in words.
    pub why_one: Option<String>,
}

/// What the worker sends the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// An event of the engine.
    Engine(Event),
    /// Downloading the data: bytes so far, bytes in all, a status line.
    Progress { done: f64, total: f64, status: String },
    /// The data is loaded: what it is, and whether it is the official MNIST.
    Data { label: String, official: bool },
    /// Training images in so far, of how many (sent while the rest of them arrives, after the
    /// first part; equal when all are in).
    DataIn { have: u64, total: u64 },
    /// Loading failed for good (the data, or no backend at all): what to do.
    Fatal(String),
    /// A download stalled on every try: the file and what happened; the worker waits for
    /// [`ToWorker::RetryLoad`] (what arrived is kept).
    Stalled { file: String, message: String },
    /// The step of the model kept in the browser (0: none).
    Stored(u64),
    /// The answer to [`TestHook::Probe`]: the worker's WebAssembly memory, what the engine
    /// holds, the bytes of the model kept in the browser.
    Probe { wasm_bytes: u64, held: Held, stored_bytes: u64 },
    /// The CPU path's threads (when the pool has started or failed, and when they change).
    Threads(Threads),
    /// Benchmark results so far (JSON lines), whether they are complete, and an error.
    Bench { results: Vec<String>, done: bool, error: Option<String> },
    /// Benchmark mode: the initial parameters and the training pixels, so TensorFlow.js in
    /// the page trains from the same weights (`layers`: w offset, b offset, fan_in, fan_out).
    Shared { params: Vec<f32>, layers: Vec<[usize; 4]>, #[serde(with = "serde_bytes")] train: Vec<u8>, train_rows: usize, dim: usize },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::protocol::{decode, encode};

    #[test]
    fn envelopes_round_trip() {
        let to = vec![
            ToWorker::Start { setup: Setup::default(), resume: true, page_has_webgpu: false },
            ToWorker::Engine(Command::SetCap(Some(7))),
            ToWorker::Test(TestHook::SetFrameInterval(5.0)),
        ];
        for m in to {
            assert_eq!(decode::<ToWorker>(&encode(&m)).unwrap(), m);
        }
        let from = FromWorker::Probe { wasm_bytes: 1, held: Held { allocated_bytes: 2, history_points: 3 }, stored_bytes: 4 };
        assert_eq!(decode::<FromWorker>(&encode(&from)).unwrap(), from);
        let ev = FromWorker::Engine(Event::Note("n".into()));
        assert_eq!(decode::<FromWorker>(&encode(&ev)).unwrap(), ev);
    }
}
