//! The backend trait: a small set of model-level ops on device buffers. The model and the
//! training loop are written once against it; the CPU backend runs them on the host, the GPU
//! backend (wgpu) records them into command buffers. Buffers are handles, so a backend can
//! keep its memory where it likes and nothing is read back unless asked.
//!
//! The ops come in four families, a trait each (Burn's shape): `buffers.rs` (buffers,
//! datasets, transfers), `layers.rs` (products and a dense layer's passes), `losses.rs`
//! (losses, sums, noise), `optim.rs` (parameter updates); [`Backend`] is their sum. Their
//! shapes are the structs of `core::ops` (`Gemm`, `Linear`, `Loss`, `Reparam`,
//! `AdamStep`), whose scalar functions are the oracle. `delegate.rs` lists every op once
//! and forwards them for every [`Wrapper`] of a backend: `Box<B>`, and `profile::Profiled`.

pub mod buffers;
pub mod choice;
pub mod cpu;
pub mod delegate;
pub mod gpu;
pub mod layers;
pub mod losses;
pub mod optim;
#[cfg(not(target_arch = "wasm32"))]
pub mod profile;

use std::future::Future;
use std::pin::Pin;

pub use buffers::Buffers;
pub use layers::LayerOps;
pub use losses::LossOps;
pub use optim::OptimOps;

pub use delegate::Wrapper;

/// A pending read-back: resolves to the values, or to a device error.
pub type ReadFuture = Pin<Box<dyn Future<Output = Result<Vec<f32>, String>>>>;

/// Runs a future to completion by polling it: for work whose reads are ready at once (the
/// CPU backend) or complete by polling the device (the native GPU backend), as in the CLI
/// and the native tests. A browser's GPU never completes this way: await there instead.
pub fn block_on<F: Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(r) = f.as_mut().poll(&mut cx) {
            return r;
        }
    }
}

/// [`block_on`] for a read-back: its values, panicking on a device error (native code and
/// tests; the CPU backend's reads are ready at once, the native GPU backend polls its
/// device).
pub fn read_now(f: ReadFuture) -> Vec<f32> {
    block_on(f).unwrap_or_else(|e| panic!("{e}"))
}

/// A device buffer of f32, owned by the backend that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Buf(pub u32);

/// A contiguous range of a buffer: elements `offset..offset + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub buf: Buf,
    pub offset: usize,
    pub len: usize,
}

impl View {
    /// The sub-range `offset..offset + len` of this view.
    pub fn slice(self, offset: usize, len: usize) -> View {
        assert!(offset + len <= self.len, "slice {offset}+{len} out of a view of {}", self.len);
        View { buf: self.buf, offset: self.offset + offset, len }
    }
    /// The first `len` elements.
    pub fn prefix(self, len: usize) -> View {
        self.slice(0, len)
    }
}

/// Work a backend has queued since it was made: what `aeplay bench` reports per step
/// (fewer of each is the goal). Bytes are estimated per op as each input read once and
/// each output written once (read twice where it accumulates): the compulsory traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkCounters {
    pub dispatches: u64,
    pub bytes: u64,
    pub submissions: u64,
}

/// A dataset of u8 pixels uploaded to the device once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataId(pub u32);

/// Model-level ops, the sum of four families (each a trait in its own file): buffers and
/// transfers ([`Buffers`]), layer ops ([`LayerOps`]), losses and noise ([`LossOps`]),
/// optimizers ([`OptimOps`]). Shapes are explicit in every call; a mismatch is a
/// programmer error and panics with a message. All matrices are row-major. Implement the
/// four families and a type is a `Backend`.
pub trait Backend: Buffers + LayerOps + LossOps + OptimOps {}

impl<T: Buffers + LayerOps + LossOps + OptimOps + ?Sized> Backend for T {}
