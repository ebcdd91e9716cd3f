//! The buffers-and-transfers family of backend ops: device buffers and datasets (made,
//! written, read back, freed), batches gathered from a dataset, copies, and what a backend
//! tells of itself (name, limits, health, work counters).

use super::{Buf, DataId, ReadFuture, View, WorkCounters};

/// Buffers, datasets and the transfers between them and the host.
pub trait Buffers {
    /// Human-readable name, shown in the UI and in benchmark output.
    fn name(&self) -> String;

    /// A new zero-filled buffer of `len` elements.
    fn alloc(&mut self, len: usize) -> View;
    /// Copies host data into `dst` (`data.len() == dst.len`).
    fn write(&mut self, dst: View, data: &[f32]);
    /// Reads `src` back to the host, waiting for queued work (native code and tests; the
    /// browser cannot block on a GPU and uses [`Buffers::read_async`]).
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
    /// Uploads a float dataset of `data.len() / dim` rows (cached codes of a frozen
    /// encoder, synthetic points); `gather` reads it as it is.
    fn upload_f32(&mut self, data: &[f32], dim: usize) -> DataId;
    /// Frees a buffer made by [`Buffers::alloc`] (work already recorded on it still runs);
    /// its views must not be used again (using one panics). Freeing twice is a no-op.
    fn free(&mut self, buf: Buf);
    /// Frees a dataset made by `upload_u8` / `upload_f32`, as [`Buffers::free`].
    fn free_data(&mut self, data: DataId);
    /// Bytes held now in buffers and datasets (freed ones not counted).
    fn allocated_bytes(&self) -> u64;

    /// out[i, :] = data[idx[i], :] / 255 (a u8 dataset; a float one as it is).
    fn gather(&mut self, data: DataId, idx: &[u32], out: View);
    /// out[i, :] = one-hot of `labels[idx[i]]` over `classes` columns (`labels` uploaded
    /// with `upload_u8(labels, 1)`).
    fn gather_onehot(&mut self, labels: DataId, idx: &[u32], out: View, classes: usize);
    /// dst = src.
    fn copy(&mut self, src: View, dst: View);
}
