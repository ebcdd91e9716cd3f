//! Recording and submitting: pipelines and bind group layouts (built once, a matmul
//! variant's on first use), bind groups cached per buffer set, the per-submission upload
//! arenas (parameter blocks selected by a dynamic uniform offset, batch indices), the
//! replay of the recorded dispatches in one compute pass of one command buffer (one timed
//! pass per dispatch while profiling), and the read-back.

use std::collections::HashMap;
use std::num::NonZeroU64;

use super::kernels::{self, MatmulEntry, Kernel};
use super::params::{GatherParams, Params};
use super::encode::{groups_1d, DeviceProfile, OpTime, Pipeline, Profiling, Record, Res, IDX_WORDS, PROFILE_SLOTS, SLOT, SLOTS};
use super::timing::{self, Clock};
use super::GpuBackend;
use crate::backend::{Buffers, DataId, ReadFuture, View};

impl GpuBackend {
    /// The bind group layout for storage bindings with these read-only flags.
    fn layout_for(&mut self, ro: &[bool]) -> usize {
        if let Some(i) = self.layouts.iter().position(|(r, _)| r == ro) {
            return i;
        }
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Uniform, has_dynamic_offset: true, min_binding_size: None },
            count: None,
        }];
        for (i, &read_only) in ro.iter().enumerate() {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: i as u32 + 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer { ty: wgpu::BufferBindingType::Storage { read_only }, has_dynamic_offset: false, min_binding_size: None },
                count: None,
            });
        }
        let layout = self.ctx.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: None, entries: &entries });
        self.layouts.push((ro.to_vec(), layout));
        self.layouts.len() - 1
    }

    /// Builds `kernel` from its compiled `module`.
    fn build_pipeline(&mut self, module: &wgpu::ShaderModule, kernel: Kernel) -> usize {
        let layout = self.layout_for(kernel.read_only());
        let device = &self.ctx.device;
        let entry = kernel.entry();
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(entry),
            bind_group_layouts: &[Some(&self.layouts[layout].1)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: Some(&pl),
            module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        self.pipelines.push(Pipeline { pipeline, layout });
        self.built.insert(kernel, self.pipelines.len() - 1);
        self.pipelines.len() - 1
    }

    fn shader_module(&self, m: kernels::Module) -> wgpu::ShaderModule {
        self.ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(&m.name), source: wgpu::ShaderSource::Wgsl(m.source.into()) })
    }

    /// Builds every op-family kernel (a module per shader file).
    pub(super) fn build_fixed(&mut self) {
        let mut modules = HashMap::new();
        for kernel in Kernel::FIXED {
            let shader = kernel.shader();
            let module = modules.entry(shader).or_insert_with(|| self.shader_module(kernels::fixed_module(shader))).clone();
            self.build_pipeline(&module, kernel);
        }
    }

    /// The pipeline of `kernel` (a matmul variant's built, with its module's other entry
    /// points, on first use).
    pub(super) fn pipeline(&mut self, kernel: Kernel) -> usize {
        if let Some(&i) = self.built.get(&kernel) {
            return i;
        }
        let Kernel::Matmul(v, _) = kernel else { panic!("{kernel:?} is built with the backend") };
        let module = self.shader_module(kernels::matmul_module(v, self.subgroup_size()));
        for entry in MatmulEntry::ALL {
            self.build_pipeline(&module, Kernel::Matmul(v, entry));
        }
        self.built[&kernel]
    }

    fn resource(&self, r: Res) -> &wgpu::Buffer {
        match r {
            Res::Buf(i) => &self.bufs[i as usize],
            Res::Data(i) => &self.data[i as usize].0,
            Res::Idx => &self.idx_buf,
            Res::Filler(i) => &self.fillers[i as usize],
        }
    }

    fn bind_group(&mut self, pipeline: usize, res: &[Res]) -> wgpu::BindGroup {
        let layout = self.pipelines[pipeline].layout;
        let key = (layout, res.to_vec());
        if let Some(bg) = self.bind_groups.get(&key) {
            return bg.clone();
        }
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer: &self.params_buf, offset: 0, size: NonZeroU64::new(SLOT) }),
        }];
        for (i, &r) in res.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: self.resource(r).as_entire_binding() });
        }
        let bg = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &self.layouts[layout].1, entries: &entries });
        self.bind_groups.insert(key, bg.clone());
        bg
    }

    /// Records one dispatch of `kernel` with its parameter block and its buffers; `bytes`
    /// is what it reads and writes at the least (each input read once, each output written
    /// once), for the counters. A profile files it under the kernel's entry point.
    pub(super) fn record<P: Params>(&mut self, kernel: Kernel, params: &P, res: &[Res], groups: (u32, u32, u32), bytes: u64) {
        self.record_labelled(kernel, params, res, groups, bytes, &|| kernel.entry().to_string());
    }

    /// [`Self::record`] filed in a profile under `label`.
    pub(super) fn record_labelled<P: Params>(&mut self, kernel: Kernel, params: &P, res: &[Res], groups: (u32, u32, u32), bytes: u64, label: &dyn Fn() -> String) {
        assert_eq!(kernel.shader(), P::SHADER, "{kernel:?} takes the parameter block of {:?}", kernel.shader());
        let pipeline = self.pipeline(kernel);
        if groups.0 == 0 || groups.1 == 0 || groups.2 == 0 {
            return;
        }
        let cap = if self.profiling.is_some() { PROFILE_SLOTS } else { SLOTS };
        if self.records.len() >= cap {
            self.flush();
        }
        let bind_group = self.bind_group(pipeline, res);
        let slot = self.params.len() as u32;
        let block = bytemuck::bytes_of(params);
        self.params.extend_from_slice(block);
        self.params.resize(slot as usize + SLOT as usize, 0);
        let label = match &mut self.profiling {
            Some(p) => p.label(label()),
            None => u32::MAX,
        };
        self.records.push(Record { pipeline, bind_group, slot, groups, label });
        self.counters.dispatches += 1;
        self.counters.bytes += bytes;
    }

    /// Records a gather-like kernel reading rows `idx` of dataset `data` into `out`
    /// (`dim` outputs per row); the indices go to the upload arena.
    pub(super) fn record_gather(&mut self, kernel: Kernel, data: DataId, idx: &[u32], out: View, dim: usize) {
        self.check(out);
        self.touch(&[], &[out]);
        if self.idx.len() + idx.len() > IDX_WORDS {
            self.flush();
        }
        let off = self.idx.len() as u32;
        self.idx.extend_from_slice(idx);
        let (_, row, _, is_f32) = self.data[data.0 as usize];
        let bytes = (4 * out.len + idx.len() * row * if is_f32 { 4 } else { 1 } + 4 * idx.len()) as u64;
        let params = GatherParams { len: out.len as u32, dim: dim as u32, idx_off: off, out_off: out.offset as u32 };
        self.record(kernel, &params, &[Res::Data(data.0), Res::Idx, Res::of(out)], groups_1d(out.len), bytes);
    }

    /// Before a buffer is destroyed: records the deferred products that use it, submits
    /// the work recorded on it and forgets the bind groups that hold it.
    pub(super) fn release(&mut self, r: Res) {
        if let Res::Buf(b) = r {
            while let Some(i) = self.deferred.iter().position(|d| d.uses(b)) {
                let d = self.deferred.remove(i);
                self.settle(d);
            }
        }
        self.flush();
        self.bind_groups.retain(|(_, res), _| !res.contains(&r));
    }

    /// Starts timing every op on the device (each dispatch in its own pass, with GPU
    /// timestamps; natively without timestamps, each submitted alone and waited for) until
    /// [`Self::finish_profile`]. Work recorded before is submitted untimed. In the browser
    /// an adapter without `timestamp-query` cannot be profiled: Err says so.
    pub fn start_profile(&mut self) -> Result<Clock, String> {
        if cfg!(target_arch = "wasm32") && !self.ctx.timestamps() {
            return Err("this adapter has no timestamp queries: no device time per op (time whole steps instead)".into());
        }
        self.flush();
        self.profiling = Some(Profiling::default());
        Ok(self.ctx.clock())
    }

    /// Ends timing: submits what is recorded, waits for the device and adds up the time
    /// per op name (op, variant, shape).
    pub async fn finish_profile(&mut self) -> Result<DeviceProfile, String> {
        self.flush();
        let Some(mut p) = self.profiling.take() else {
            return Err("no profile was started".into());
        };
        for (stamps, labels) in std::mem::take(&mut p.pending) {
            let times = stamps.durations(&self.ctx, labels.len() as u32).await?;
            for (l, s) in labels.into_iter().zip(times) {
                p.add(l, s);
            }
        }
        let ops = p.names.into_iter().zip(p.totals).map(|(op, (calls, seconds))| OpTime { op, calls, seconds }).collect();
        Ok(DeviceProfile { clock: self.ctx.clock(), ops })
    }

    /// Submits everything recorded so far in one command buffer (while profiling: one pass
    /// per dispatch, timed).
    fn submit_records(&mut self, encoder: &mut wgpu::CommandEncoder) {
        if self.records.is_empty() {
            return;
        }
        self.ctx.queue.write_buffer(&self.params_buf, 0, &self.params);
        if !self.idx.is_empty() {
            self.ctx.queue.write_buffer(&self.idx_buf, 0, bytemuck::cast_slice(&self.idx));
        }
        match &mut self.profiling {
            None => {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("ops"), timestamp_writes: None });
                let mut current = usize::MAX;
                for r in &self.records {
                    if r.pipeline != current {
                        pass.set_pipeline(&self.pipelines[r.pipeline].pipeline);
                        current = r.pipeline;
                    }
                    pass.set_bind_group(0, &r.bind_group, &[r.slot]);
                    pass.dispatch_workgroups(r.groups.0, r.groups.1, r.groups.2);
                }
            }
            Some(prof) if self.ctx.timestamps() => {
                let stamps = timing::Stamps::new(&self.ctx.device, 2 * self.records.len() as u32);
                for (i, r) in self.records.iter().enumerate() {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("op"), timestamp_writes: Some(stamps.writes(i as u32)) });
                    r.run(&mut pass, &self.pipelines);
                }
                stamps.resolve(encoder, 2 * self.records.len() as u32);
                prof.pending.push((stamps, self.records.iter().map(|r| r.label).collect()));
            }
            Some(prof) => {
                // No timestamps (natively only): each dispatch alone, the wall clock around it.
                #[cfg(not(target_arch = "wasm32"))]
                for r in &self.records {
                    let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("op") });
                    r.run(&mut enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("op"), timestamp_writes: None }), &self.pipelines);
                    let _ = self.ctx.device.poll(wgpu::PollType::wait_indefinitely());
                    let t0 = timing::now_seconds();
                    self.ctx.queue.submit([enc.finish()]);
                    let _ = self.ctx.device.poll(wgpu::PollType::wait_indefinitely());
                    prof.add(r.label, timing::now_seconds() - t0);
                    self.counters.submissions += 1;
                }
                #[cfg(target_arch = "wasm32")]
                let _ = prof;
            }
        }
        self.records.clear();
        self.params.clear();
        self.idx.clear();
    }

    fn encoder(&self) -> wgpu::CommandEncoder {
        self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("aeplay") })
    }

    /// Submits what is recorded (`Buffers::flush`).
    pub(super) fn submit(&mut self) {
        if self.records.is_empty() {
            return;
        }
        let mut enc = self.encoder();
        self.submit_records(&mut enc);
        self.ctx.queue.submit([enc.finish()]);
        self.counters.submissions += 1;
    }

    /// Submits what is recorded with a copy of `src` to a staging buffer, and returns the
    /// future of its values (`Buffers::read_async`).
    pub(super) fn read_back(&mut self, src: View) -> ReadFuture {
        self.check(src);
        if src.len == 0 {
            return Box::pin(std::future::ready(Ok(Vec::new())));
        }
        self.touch(&[src], &[]);
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: (src.len * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.encoder();
        self.submit_records(&mut enc);
        enc.copy_buffer_to_buffer(&self.bufs[src.buf.0 as usize], (src.offset * 4) as u64, &staging, 0, (src.len * 4) as u64);
        self.ctx.queue.submit([enc.finish()]);
        self.counters.submissions += 1;
        let device = self.ctx.device.clone();
        let len = src.len;
        Box::pin(async move {
            let bytes = timing::map_bytes(&device, staging, len * 4).await?;
            Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        })
    }

    /// Uploads a dataset of `rows` rows of `dim` (`bytes`, at least one word, a multiple of
    /// four bytes), f32 or u8 packed four per word.
    pub(super) fn upload(&mut self, bytes: &[u8], dim: usize, rows: usize, is_f32: bool) -> DataId {
        let buf = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(if is_f32 { "dataset (f32)" } else { "dataset (u8, 4 per word)" }),
            size: bytes.len() as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.flush();
        self.ctx.queue.write_buffer(&buf, 0, bytes);
        self.data.push((buf, dim, rows, is_f32));
        DataId(self.data.len() as u32 - 1)
    }
}
