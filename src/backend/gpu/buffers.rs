//! Buffers and transfers on the GPU (`backend::Buffers`): storage buffers and datasets
//! (u8 packed four per word, or f32), queue writes (after submitting what is recorded),
//! asynchronous read-back, batches gathered on the device, copies.

use super::params::ElementwiseParams;
use super::encode::{groups_1d, Res};
use super::{GpuBackend, Kernel};
use crate::backend::{Buf, Buffers, DataId, ReadFuture, View, WorkCounters};

impl Buffers for GpuBackend {
    fn name(&self) -> String {
        let api = if cfg!(target_arch = "wasm32") { "WebGPU" } else { "GPU" };
        format!("{api} ({})", self.ctx.adapter_name())
    }

    fn alloc(&mut self, len: usize) -> View {
        let buf = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (len.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.bufs.push(buf);
        View { buf: Buf(self.bufs.len() as u32 - 1), offset: 0, len }
    }

    fn write(&mut self, dst: View, data: &[f32]) {
        assert_eq!(data.len(), dst.len, "write: {} values into a view of {}", data.len(), dst.len);
        self.check(dst);
        if data.is_empty() {
            return;
        }
        self.touch(&[], &[dst]);
        // Queue writes land before the next submission's commands: submit what is recorded first.
        self.flush();
        self.ctx.queue.write_buffer(&self.bufs[dst.buf.0 as usize], (dst.offset * 4) as u64, bytemuck::cast_slice(data));
    }

    fn read(&mut self, src: View) -> Vec<f32> {
        let fut = self.read_async(src);
        #[cfg(not(target_arch = "wasm32"))]
        {
            pollster::block_on(fut).unwrap_or_else(|e| panic!("{e}"))
        }
        #[cfg(target_arch = "wasm32")]
        {
            drop(fut);
            panic!("GpuBackend::read blocks, which the browser cannot do: use read_async");
        }
    }

    fn read_async(&mut self, src: View) -> ReadFuture {
        self.read_back(src)
    }

    fn flush(&mut self) {
        self.submit();
    }

    fn max_buffer_bytes(&self) -> u64 {
        self.ctx.limits.max_buffer_size.min(self.ctx.limits.max_storage_buffer_binding_size as u64)
    }

    fn health(&self) -> Result<(), String> {
        match self.ctx.fault.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn work_counters(&self) -> Option<WorkCounters> {
        Some(self.counters)
    }

    fn upload_u8(&mut self, data: &[u8], dim: usize) -> DataId {
        assert!(dim > 0 && data.len() % dim == 0, "dataset of {} bytes is not rows of {dim}", data.len());
        let mut bytes = data.to_vec();
        bytes.resize(data.len().div_ceil(4).max(1) * 4, 0);
        self.upload(&bytes, dim, data.len() / dim, false)
    }

    fn upload_f32(&mut self, data: &[f32], dim: usize) -> DataId {
        assert!(dim > 0 && data.len() % dim == 0, "dataset of {} values is not rows of {dim}", data.len());
        let bytes: &[u8] = if data.is_empty() { &[0; 4] } else { bytemuck::cast_slice(data) };
        self.upload(bytes, dim, data.len() / dim, true)
    }

    fn free(&mut self, buf: Buf) {
        if (buf.0 as usize) < self.bufs.len() && self.freed_bufs.insert(buf.0) {
            let placeholder = self.placeholder();
            self.release(Res::Buf(buf.0));
            std::mem::replace(&mut self.bufs[buf.0 as usize], placeholder).destroy();
        }
    }

    fn free_data(&mut self, data: DataId) {
        if (data.0 as usize) < self.data.len() && self.freed_data.insert(data.0) {
            let placeholder = self.placeholder();
            self.release(Res::Data(data.0));
            std::mem::replace(&mut self.data[data.0 as usize].0, placeholder).destroy();
            self.data[data.0 as usize].2 = 0;
        }
    }

    fn allocated_bytes(&self) -> u64 {
        let bufs: u64 = self.bufs.iter().enumerate().filter(|(i, _)| !self.freed_bufs.contains(&(*i as u32))).map(|(_, b)| b.size()).sum();
        let data: u64 = self.data.iter().enumerate().filter(|(i, _)| !self.freed_data.contains(&(*i as u32))).map(|(_, d)| d.0.size()).sum();
        bufs + data
    }

    fn gather(&mut self, data: DataId, idx: &[u32], out: View) {
        assert!(!self.freed_data.contains(&data.0), "GPU backend: dataset {} was freed", data.0);
        let (_, dim, rows, is_f32) = self.data[data.0 as usize];
        assert_eq!(out.len, idx.len() * dim, "gather: output of {} for {} rows of {dim}", out.len, idx.len());
        assert!(idx.iter().all(|&i| (i as usize) < rows), "gather: index out of {rows} rows");
        let kernel = if is_f32 { Kernel::GatherF32 } else { Kernel::GatherForward };
        self.record_gather(kernel, data, idx, out, dim);
    }

    fn gather_onehot(&mut self, labels: DataId, idx: &[u32], out: View, classes: usize) {
        assert!(!self.freed_data.contains(&labels.0), "GPU backend: dataset {} was freed", labels.0);
        let (_, dim, rows, is_f32) = self.data[labels.0 as usize];
        assert!(dim == 1 && !is_f32, "gather_onehot: labels are a u8 dataset of one byte per row");
        assert_eq!(out.len, idx.len() * classes, "gather_onehot: output of {} for {} rows of {classes}", out.len, idx.len());
        assert!(idx.iter().all(|&i| (i as usize) < rows), "gather_onehot: index out of {rows} rows");
        self.record_gather(Kernel::GatherOnehot, labels, idx, out, classes);
    }

    fn copy(&mut self, src: View, dst: View) {
        assert_eq!(src.len, dst.len, "copy: {} values into {}", src.len, dst.len);
        self.touch(&[src], &[dst]);
        let params = ElementwiseParams { len: src.len as u32, a_off: src.offset as u32, out_off: dst.offset as u32, lr: 0.0 };
        self.record(Kernel::Copy, &params, &[Res::of(src), Res::of(dst)], groups_1d(src.len), 8 * src.len as u64);
    }
}
