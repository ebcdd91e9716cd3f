//! The backend trait: a small set of model-level ops on device buffers. The model and the
//! training loop are written once against it; the CPU backend runs them on the host, the GPU
//! backend (wgpu) records them into command buffers. Buffers are handles, so a backend can
//! keep its memory where it likes and nothing is read back unless asked.

pub mod choice;
pub mod cpu;
pub mod gpu;
#[cfg(not(target_arch = "wasm32"))]
pub mod profile;

use std::future::Future;
use std::pin::Pin;

use crate::core::{Activation, LossKind, NoiseKind};

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

/// Model-level ops. Shapes are explicit in every call; a mismatch is a programmer error
/// and panics with a message. All matrices are row-major.
pub trait Backend {
    /// Human-readable name, shown in the UI and in benchmark output.
    fn name(&self) -> String;

    /// A new zero-filled buffer of `len` elements.
    fn alloc(&mut self, len: usize) -> View;
    /// Copies host data into `dst` (`data.len() == dst.len`).
    fn write(&mut self, dst: View, data: &[f32]);
    /// Reads `src` back to the host, waiting for queued work (native code and tests; the
    /// browser cannot block on a GPU and uses [`Backend::read_async`]).
    fn read(&mut self, src: View) -> Vec<f32>;
    /// Starts reading `src` back; the future resolves once the device has produced it. Work
    /// recorded after this call does not affect the values read.
    fn read_async(&mut self, src: View) -> ReadFuture {
        Box::pin(std::future::ready(Ok(self.read(src))))
    }
    /// Submits recorded work to the device (a no-op where ops run immediately).
    fn flush(&mut self) {}
    /// Largest buffer the device accepts, in bytes (every backend names its own limit:
    /// a model or dataset over it is refused before anything is allocated).
    fn max_buffer_bytes(&self) -> u64;
    /// Err once the device is lost or has reported an error; training must move elsewhere.
    fn health(&self) -> Result<(), String> {
        Ok(())
    }
    /// Dispatches, bytes moved and submissions so far, where the backend counts them (GPU).
    fn work_counters(&self) -> Option<WorkCounters> {
        None
    }
    /// Uploads a u8 dataset of `data.len() / dim` rows.
    fn upload_u8(&mut self, data: &[u8], dim: usize) -> DataId;
    /// Frees a buffer made by [`Backend::alloc`] (work already recorded on it still runs);
    /// its views must not be used again (using one panics). Freeing twice is a no-op.
    fn free(&mut self, buf: Buf);
    /// Frees a dataset made by `upload_u8` / `upload_f32`, as [`Backend::free`].
    fn free_data(&mut self, data: DataId);
    /// Bytes held now in buffers and datasets (freed ones not counted).
    fn allocated_bytes(&self) -> u64;

    /// out[i, :] = data[idx[i], :] / 255.
    fn gather(&mut self, data: DataId, idx: &[u32], out: View);
    /// C[m×n] = op(A)·op(B) (+ C if `accumulate`); `ta`/`tb` use A (stored k×m) / B (stored
    /// n×k) transposed.
    #[allow(clippy::too_many_arguments)]
    fn matmul(&mut self, a: View, b: View, c: View, m: usize, k: usize, n: usize, ta: bool, tb: bool, accumulate: bool);
    /// A dense layer: y[m×n] = act(x[m×k]·op(W) + bias), W stored k×n (n×k, used
    /// transposed, when `tw`). `z` [m×n] is scratch a backend may use for the
    /// pre-activation; its contents afterwards are unspecified. By default `matmul` then
    /// `bias_act_forward`; the GPU backend does it in one pass (`core::ops::linear_forward`).
    #[allow(clippy::too_many_arguments)]
    fn linear_forward(&mut self, x: View, w: View, bias: View, act: Activation, z: View, y: View, m: usize, k: usize, n: usize, tw: bool) {
        self.matmul(x, w, z, m, k, n, false, tw, false);
        self.bias_act_forward(z, bias, act, y, n);
    }
    /// The input gradient of that layer through the previous layer's activation:
    /// dz_prev[m×k] = (dz[m×n]·op(W)ᵀ) ⊙ act'(y_prev), W as in [`Backend::linear_forward`].
    /// `dx` [m×k] is scratch (contents afterwards unspecified). By default `matmul` then
    /// `act_backward`; the GPU backend does it in one pass (`core::ops::linear_backward`).
    #[allow(clippy::too_many_arguments)]
    fn linear_backward(&mut self, dz: View, w: View, y_prev: View, act_prev: Activation, dx: View, dz_prev: View, m: usize, k: usize, n: usize, tw: bool) {
        self.matmul(dz, w, dx, m, n, k, false, !tw, false);
        self.act_backward(dx, y_prev, act_prev, dz_prev);
    }
    /// out = act(x + bias), bias broadcast over rows of `cols`.
    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize);
    /// dz = dy ⊙ act'(y), from the layer output y.
    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View);
    /// db = column sums of dz (+ db if `accumulate`).
    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool);
    /// Per-row loss of `out` against `target` into `row_loss`, gradient × `scale` into `dout`.
    #[allow(clippy::too_many_arguments)]
    fn loss_forward_backward(&mut self, kind: LossKind, out: View, target: View, cols: usize, scale: f32, dout: View, row_loss: View);
    /// Uploads a float dataset of `data.len() / dim` rows (cached codes of a frozen
    /// encoder, synthetic points); `gather` reads it as it is.
    fn upload_f32(&mut self, data: &[f32], dim: usize) -> DataId;
    /// out[i, :] = one-hot of `labels[idx[i]]` over `classes` columns (`labels` uploaded
    /// with `upload_u8(labels, 1)`).
    fn gather_onehot(&mut self, labels: DataId, idx: &[u32], out: View, classes: usize);
    /// Input corruption with the counter-based generator of `core::rng` (`core::ops::noise`).
    fn noise(&mut self, kind: NoiseKind, x: View, out: View, seed: u32, stream: u32);
    /// Adds the KL sparsity gradient to `dy` (rows × colsum.len) from the column sums of
    /// the layer's activations (`core::ops::sparsity_grad`).
    fn sparsity_grad(&mut self, colsum: View, dy: View, rows: usize, rho: f32, beta: f32);
    /// The variational code from h = [μ | γ] (`core::ops::reparam_forward`).
    #[allow(clippy::too_many_arguments)]
    fn reparam_forward(&mut self, h: View, eps: View, z: View, row_kl: View, latent: usize, seed: u32, stream: u32, sample: bool);
    /// Its backward pass with the KL term × `scale` (`core::ops::reparam_backward`).
    fn reparam_backward(&mut self, h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32);
    /// row_out[r] = 1 where row r's largest output is at its target's largest entry.
    fn argmax_correct(&mut self, out: View, target: View, cols: usize, row_out: View);
    /// params −= lr · grads. Afterwards `grads` is unspecified: a backend may apply a
    /// deferred weight-gradient product to the weights without ever storing it (the GPU
    /// backend does; the CPU backend's `grads` still reads as the gradient).
    fn sgd_step(&mut self, params: View, grads: View, lr: f32);
    /// y += a · x (the L2 term λ·w folded into a weight gradient).
    fn axpy(&mut self, x: View, y: View, a: f32);
    /// SGD with momentum (PyTorch, no dampening): vel = momentum·vel + grads;
    /// params −= lr · vel. `vel` has the parameters' layout.
    fn momentum_step(&mut self, params: View, grads: View, vel: View, lr: f32, momentum: f32);
    /// Adam at step `t` (1-based), bias-corrected as PyTorch does (`core::ops::adam_step`);
    /// `m` and `v` have the parameters' layout. Afterwards `grads` is unspecified, as after
    /// [`Backend::sgd_step`].
    #[allow(clippy::too_many_arguments)]
    fn adam_step(&mut self, params: View, grads: View, m: View, v: View, lr: f32, beta1: f32, beta2: f32, eps: f32, t: u64);
    /// dst[0] = Σ src (+ dst[0] if `accumulate`).
    fn sum_into(&mut self, src: View, dst: View, accumulate: bool);
    /// dst = src.
    fn copy(&mut self, src: View, dst: View);
}

/// A boxed backend is a backend, so the page can hold either kind behind one type.
impl<B: Backend + ?Sized> Backend for Box<B> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn alloc(&mut self, len: usize) -> View {
        (**self).alloc(len)
    }
    fn write(&mut self, dst: View, data: &[f32]) {
        (**self).write(dst, data)
    }
    fn read(&mut self, src: View) -> Vec<f32> {
        (**self).read(src)
    }
    fn read_async(&mut self, src: View) -> ReadFuture {
        (**self).read_async(src)
    }
    fn flush(&mut self) {
        (**self).flush()
    }
    fn max_buffer_bytes(&self) -> u64 {
        (**self).max_buffer_bytes()
    }
    fn health(&self) -> Result<(), String> {
        (**self).health()
    }
    fn work_counters(&self) -> Option<WorkCounters> {
        (**self).work_counters()
    }
    fn upload_u8(&mut self, data: &[u8], dim: usize) -> DataId {
        (**self).upload_u8(data, dim)
    }
    fn free(&mut self, buf: Buf) {
        (**self).free(buf)
    }
    fn free_data(&mut self, data: DataId) {
        (**self).free_data(data)
    }
    fn allocated_bytes(&self) -> u64 {
        (**self).allocated_bytes()
    }
    fn gather(&mut self, data: DataId, idx: &[u32], out: View) {
        (**self).gather(data, idx, out)
    }
    fn matmul(&mut self, a: View, b: View, c: View, m: usize, k: usize, n: usize, ta: bool, tb: bool, accumulate: bool) {
        (**self).matmul(a, b, c, m, k, n, ta, tb, accumulate)
    }
    fn linear_forward(&mut self, x: View, w: View, bias: View, act: Activation, z: View, y: View, m: usize, k: usize, n: usize, tw: bool) {
        (**self).linear_forward(x, w, bias, act, z, y, m, k, n, tw)
    }
    fn linear_backward(&mut self, dz: View, w: View, y_prev: View, act_prev: Activation, dx: View, dz_prev: View, m: usize, k: usize, n: usize, tw: bool) {
        (**self).linear_backward(dz, w, y_prev, act_prev, dx, dz_prev, m, k, n, tw)
    }
    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize) {
        (**self).bias_act_forward(x, bias, act, out, cols)
    }
    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View) {
        (**self).act_backward(dy, y, act, dz)
    }
    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        (**self).bias_grad(dz, db, cols, accumulate)
    }
    fn loss_forward_backward(&mut self, kind: LossKind, out: View, target: View, cols: usize, scale: f32, dout: View, row_loss: View) {
        (**self).loss_forward_backward(kind, out, target, cols, scale, dout, row_loss)
    }
    fn upload_f32(&mut self, data: &[f32], dim: usize) -> DataId {
        (**self).upload_f32(data, dim)
    }
    fn gather_onehot(&mut self, labels: DataId, idx: &[u32], out: View, classes: usize) {
        (**self).gather_onehot(labels, idx, out, classes)
    }
    fn noise(&mut self, kind: NoiseKind, x: View, out: View, seed: u32, stream: u32) {
        (**self).noise(kind, x, out, seed, stream)
    }
    fn sparsity_grad(&mut self, colsum: View, dy: View, rows: usize, rho: f32, beta: f32) {
        (**self).sparsity_grad(colsum, dy, rows, rho, beta)
    }
    fn reparam_forward(&mut self, h: View, eps: View, z: View, row_kl: View, latent: usize, seed: u32, stream: u32, sample: bool) {
        (**self).reparam_forward(h, eps, z, row_kl, latent, seed, stream, sample)
    }
    fn reparam_backward(&mut self, h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32) {
        (**self).reparam_backward(h, eps, dz, dh, latent, scale)
    }
    fn argmax_correct(&mut self, out: View, target: View, cols: usize, row_out: View) {
        (**self).argmax_correct(out, target, cols, row_out)
    }
    fn sgd_step(&mut self, params: View, grads: View, lr: f32) {
        (**self).sgd_step(params, grads, lr)
    }
    fn axpy(&mut self, x: View, y: View, a: f32) {
        (**self).axpy(x, y, a)
    }
    fn momentum_step(&mut self, params: View, grads: View, vel: View, lr: f32, momentum: f32) {
        (**self).momentum_step(params, grads, vel, lr, momentum)
    }
    fn adam_step(&mut self, params: View, grads: View, m: View, v: View, lr: f32, beta1: f32, beta2: f32, eps: f32, t: u64) {
        (**self).adam_step(params, grads, m, v, lr, beta1, beta2, eps, t)
    }
    fn sum_into(&mut self, src: View, dst: View, accumulate: bool) {
        (**self).sum_into(src, dst, accumulate)
    }
    fn copy(&mut self, src: View, dst: View) {
        (**self).copy(src, dst)
    }
}
