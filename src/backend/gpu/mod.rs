//! The GPU backend on wgpu: WebGPU in the browser, Vulkan natively. The device is acquired
//! once ([`GpuContext`]), pipelines are built once, bind groups are cached per buffer set.
//! Ops are recorded, not run: each op appends a dispatch (its parameters go to a
//! per-submission upload arena, selected by a dynamic uniform offset), and `flush` replays
//! them all in one compute pass of one command buffer. Several training steps go into one
//! submission; nothing is read back unless asked, and reads are asynchronous on the web.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::{Backend, Buf, DataId, ReadFuture, View};
use crate::core::{Activation, LossKind, NoiseKind};

/// WGSL sources, one file per op family (validated by naga in tests/shaders.rs).
pub const SHADERS: &[(&str, &str)] = &[
    ("matmul.wgsl", include_str!("../../../shaders/matmul.wgsl")),
    ("activation.wgsl", include_str!("../../../shaders/activation.wgsl")),
    ("loss.wgsl", include_str!("../../../shaders/loss.wgsl")),
    ("reduce.wgsl", include_str!("../../../shaders/reduce.wgsl")),
    ("elementwise.wgsl", include_str!("../../../shaders/elementwise.wgsl")),
    ("gather.wgsl", include_str!("../../../shaders/gather.wgsl")),
    ("optim.wgsl", include_str!("../../../shaders/optim.wgsl")),
    ("noise.wgsl", include_str!("../../../shaders/noise.wgsl")),
    ("classify.wgsl", include_str!("../../../shaders/classify.wgsl")),
];

/// Every kernel: (entry point, shader file, read-only flags of bindings 1.. ; binding 0 is
/// the parameter block).
const KERNELS: &[(&str, &str, &[bool])] = &[
    ("matmul_forward", "matmul.wgsl", &[true, true, false]),
    ("matmul_direct", "matmul.wgsl", &[true, true, false]),
    ("bias_act_forward", "activation.wgsl", &[true, true, false]),
    ("act_backward", "activation.wgsl", &[true, true, false]),
    ("loss_forward_backward", "loss.wgsl", &[true, true, false, false]),
    ("bias_grad", "reduce.wgsl", &[true, false]),
    ("sum_into", "reduce.wgsl", &[true, false]),
    ("noise", "noise.wgsl", &[true, false]),
    ("reparam_forward", "noise.wgsl", &[true, false, false, false]),
    ("reparam_backward", "noise.wgsl", &[true, false, false, false]),
    ("argmax_correct", "classify.wgsl", &[true, true, false]),
    ("sparsity_grad", "classify.wgsl", &[true, true, false]),
    ("gather_f32", "gather.wgsl", &[true, true, false]),
    ("gather_onehot", "gather.wgsl", &[true, true, false]),
    ("sgd_step", "elementwise.wgsl", &[true, false]),
    ("copy", "elementwise.wgsl", &[true, false]),
    ("gather_forward", "gather.wgsl", &[true, true, false]),
    ("axpy", "optim.wgsl", &[true, false]),
    ("momentum_step", "optim.wgsl", &[true, false, false]),
    ("adam_step", "optim.wgsl", &[true, false, false, false]),
];

fn kernel_index(name: &str) -> usize {
    KERNELS.iter().position(|k| k.0 == name).expect("known kernel")
}

/// Bytes per parameter slot (the dynamic-offset alignment WebGPU guarantees).
const SLOT: u64 = 256;
/// Parameter slots per submission; recording more flushes first.
const SLOTS: usize = 4096;
/// u32 words of batch indices per submission.
const IDX_WORDS: usize = 1 << 18;

/// An acquired device with what the app needs to know about it.
#[derive(Clone)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// Set when the device is lost or reports an error.
    pub fault: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Requests an adapter and a device with the adapter's own limits. Natively only Vulkan
    /// is used (so a GL software adapter is never picked); in the browser, WebGPU.
    pub async fn new() -> Result<Self, String> {
        let backends = if cfg!(target_arch = "wasm32") { wgpu::Backends::BROWSER_WEBGPU } else { wgpu::Backends::VULKAN };
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle() });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("no GPU adapter is available ({e}); training runs on the CPU instead"))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("aeplay"),
                required_limits: limits.clone(),
                memory_hints: wgpu::MemoryHints::Performance,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("the GPU adapter '{}' refused a device ({e})", info.name))?;
        let fault = Arc::new(Mutex::new(None::<String>));
        let f = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let mut slot = f.lock().unwrap();
            if slot.is_none() {
                *slot = Some(format!("the GPU device was lost ({reason:?}: {msg})"));
            }
        });
        let f = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = f.lock().unwrap();
            if slot.is_none() {
                *slot = Some(format!("GPU error: {e}"));
            }
        }));
        Ok(GpuContext { device, queue, info, limits, fault })
    }

    /// The adapter's name, or what the browser tells of it (browsers hide the name).
    pub fn adapter_name(&self) -> String {
        let i = &self.info;
        [&i.name, &i.driver, &i.driver_info]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("{:?} adapter", i.device_type))
    }

    /// "name (type, backend)", e.g. "NVIDIA H100 (DiscreteGpu, Vulkan)".
    pub fn adapter_label(&self) -> String {
        format!("{} ({:?}, {:?})", self.adapter_name(), self.info.device_type, self.info.backend)
    }

    /// True for software adapters (lavapipe, SwiftShader): fine for tests, not for speed.
    pub fn is_cpu_adapter(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
            || self.info.name.to_lowercase().contains("llvmpipe")
            || self.info.name.to_lowercase().contains("swiftshader")
    }
}

struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// A binding of an op: a buffer of ours, a dataset, or the index arena.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Res {
    Buf(u32),
    Data(u32),
    Idx,
}

struct Record {
    kernel: usize,
    bind_group: wgpu::BindGroup,
    slot: u32,
    groups: (u32, u32, u32),
}

pub struct GpuBackend {
    ctx: GpuContext,
    kernels: Vec<Kernel>,
    bufs: Vec<wgpu::Buffer>,
    /// Datasets: buffer, row width, rows, and whether it holds f32 (else u8 packed 4 per word).
    data: Vec<(wgpu::Buffer, usize, usize, bool)>,
    params_buf: wgpu::Buffer,
    idx_buf: wgpu::Buffer,
    params: Vec<u8>,
    idx: Vec<u32>,
    records: Vec<Record>,
    bind_groups: HashMap<(usize, Vec<Res>), wgpu::BindGroup>,
    /// Dispatches recorded since the start (for profiling).
    pub dispatches: u64,
    /// Submissions made since the start.
    pub submissions: u64,
    /// A software adapter: use the kernels without workgroup barriers.
    software: bool,
    /// Handles of freed buffers and datasets (their slots hold a 4-byte placeholder).
    freed_bufs: std::collections::HashSet<u32>,
    freed_data: std::collections::HashSet<u32>,
}

impl GpuBackend {
    /// Builds the pipelines on an acquired device, choosing the matmul kernel for the
    /// adapter (`AEPLAY_GPU_KERNELS=direct|tiled` overrides).
    pub fn new(ctx: GpuContext) -> Self {
        let software = match std::env::var("AEPLAY_GPU_KERNELS").as_deref() {
            Ok("direct") => true,
            Ok("tiled") => false,
            _ => ctx.is_cpu_adapter(),
        };
        Self::with_kernels(ctx, software)
    }

    /// `direct_matmul`: the barrier-free matmul (for software adapters) instead of the
    /// workgroup-tiled one.
    pub fn with_kernels(ctx: GpuContext, direct_matmul: bool) -> Self {
        let device = &ctx.device;
        let modules: HashMap<&str, wgpu::ShaderModule> = SHADERS
            .iter()
            .map(|(name, src)| {
                let m = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl((*src).into()),
                });
                (*name, m)
            })
            .collect();
        let kernels = KERNELS
            .iter()
            .map(|(entry, file, ro)| {
                let mut entries = vec![wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: None,
                    },
                    count: None,
                }];
                for (i, &read_only) in ro.iter().enumerate() {
                    entries.push(wgpu::BindGroupLayoutEntry {
                        binding: i as u32 + 1,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Storage { read_only },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    });
                }
                let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(entry), entries: &entries });
                let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(entry),
                    bind_group_layouts: &[Some(&layout)],
                    immediate_size: 0,
                });
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&pl),
                    module: &modules[file],
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                });
                Kernel { pipeline, layout }
            })
            .collect();
        let params_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("op parameters"),
            size: SLOT * SLOTS as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let idx_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("batch indices"),
            size: 4 * IDX_WORDS as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GpuBackend {
            ctx,
            kernels,
            bufs: Vec::new(),
            data: Vec::new(),
            params_buf,
            idx_buf,
            params: Vec::with_capacity(SLOT as usize * 64),
            idx: Vec::new(),
            records: Vec::new(),
            bind_groups: HashMap::new(),
            dispatches: 0,
            submissions: 0,
            software: direct_matmul,
            freed_bufs: Default::default(),
            freed_data: Default::default(),
        }
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    fn resource(&self, r: Res) -> &wgpu::Buffer {
        match r {
            Res::Buf(i) => &self.bufs[i as usize],
            Res::Data(i) => &self.data[i as usize].0,
            Res::Idx => &self.idx_buf,
        }
    }

    /// Records one dispatch of `kernel` with a parameter block and its buffers.
    fn record(&mut self, name: &str, words: &[u32], res: &[Res], groups: (u32, u32, u32)) {
        if groups.0 == 0 || groups.1 == 0 || groups.2 == 0 {
            return;
        }
        if self.records.len() >= SLOTS {
            self.flush();
        }
        let kernel = kernel_index(name);
        let key = (kernel, res.to_vec());
        if !self.bind_groups.contains_key(&key) {
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &self.params_buf,
                    offset: 0,
                    size: NonZeroU64::new(SLOT),
                }),
            }];
            for (i, &r) in res.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: self.resource(r).as_entire_binding() });
            }
            let bg = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(name),
                layout: &self.kernels[kernel].layout,
                entries: &entries,
            });
            self.bind_groups.insert(key.clone(), bg);
        }
        let bind_group = self.bind_groups[&key].clone();
        let slot = self.params.len() as u32;
        let mut block = [0u8; SLOT as usize];
        for (i, w) in words.iter().enumerate() {
            block[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        self.params.extend_from_slice(&block);
        self.records.push(Record { kernel, bind_group, slot, groups });
        self.dispatches += 1;
    }

    /// Workgroups for `len` elements at 256 per group, folded into 2-D past the 65,535 limit.
    fn groups_1d(len: usize) -> (u32, u32, u32) {
        let groups = len.div_ceil(256) as u32;
        if groups <= 65_535 {
            (groups, 1, 1)
        } else {
            (65_535, groups.div_ceil(65_535), 1)
        }
    }

    /// Records a gather-like kernel reading rows `idx` of dataset `data` into `out`
    /// (`dim` outputs per row); the indices go to the upload arena.
    fn record_gather(&mut self, kernel: &str, data: DataId, idx: &[u32], out: View, dim: usize) {
        self.check(out);
        if self.idx.len() + idx.len() > IDX_WORDS {
            self.flush();
        }
        let off = self.idx.len() as u32;
        self.idx.extend_from_slice(idx);
        self.record(
            kernel,
            &[out.len as u32, dim as u32, off, out.offset as u32],
            &[Res::Data(data.0), Res::Idx, Self::buf(out)],
            Self::groups_1d(out.len),
        );
    }

    fn buf(v: View) -> Res {
        Res::Buf(v.buf.0)
    }

    /// A 4-byte buffer that takes a freed one's slot, so handles stay stable.
    fn placeholder(&self) -> wgpu::Buffer {
        self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("freed"),
            size: 4,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Before a buffer is destroyed: submits the work recorded on it and forgets the bind
    /// groups that hold it.
    fn release(&mut self, r: Res) {
        self.flush();
        self.bind_groups.retain(|(_, res), _| !res.contains(&r));
    }

    fn check(&self, v: View) {
        assert!(!self.freed_bufs.contains(&v.buf.0), "GPU backend: buffer {} was freed", v.buf.0);
        let size = self.bufs[v.buf.0 as usize].size() / 4;
        assert!((v.offset + v.len) as u64 <= size.max(1), "view {v:?} is out of its buffer of {size}");
    }

    /// Submits everything recorded so far in one command buffer.
    fn submit_records(&mut self, encoder: &mut wgpu::CommandEncoder) {
        if self.records.is_empty() {
            return;
        }
        self.ctx.queue.write_buffer(&self.params_buf, 0, &self.params);
        if !self.idx.is_empty() {
            let bytes: Vec<u8> = self.idx.iter().flat_map(|w| w.to_le_bytes()).collect();
            self.ctx.queue.write_buffer(&self.idx_buf, 0, &bytes);
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("ops"), timestamp_writes: None });
            let mut current = usize::MAX;
            for r in &self.records {
                if r.kernel != current {
                    pass.set_pipeline(&self.kernels[r.kernel].pipeline);
                    current = r.kernel;
                }
                pass.set_bind_group(0, &r.bind_group, &[r.slot]);
                pass.dispatch_workgroups(r.groups.0, r.groups.1, r.groups.2);
            }
        }
        self.records.clear();
        self.params.clear();
        self.idx.clear();
    }

    fn encoder(&self) -> wgpu::CommandEncoder {
        self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("aeplay") })
    }
}

/// Shared state between a map_async callback and the future waiting for it.
#[derive(Default)]
struct MapState {
    result: Option<Result<(), String>>,
    waker: Option<Waker>,
}

struct GpuRead {
    state: Arc<Mutex<MapState>>,
    staging: wgpu::Buffer,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    device: wgpu::Device,
    len: usize,
}

impl Future for GpuRead {
    type Output = Result<Vec<f32>, String>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            // Natively nothing drives the callbacks but a poll: wait for the copy here.
            let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        }
        let mut st = self.state.lock().unwrap();
        match st.result.take() {
            Some(Ok(())) => {
                let out = match self.staging.slice(..).get_mapped_range() {
                    Ok(view) => Ok(view.chunks_exact(4).take(self.len).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
                    Err(e) => Err(format!("reading back from the GPU failed: {e}")),
                };
                drop(st);
                self.staging.unmap();
                Poll::Ready(out)
            }
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Backend for GpuBackend {
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
        // Queue writes land before the next submission's commands: submit what is recorded first.
        self.flush();
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.ctx.queue.write_buffer(&self.bufs[dst.buf.0 as usize], (dst.offset * 4) as u64, &bytes);
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
        self.check(src);
        if src.len == 0 {
            return Box::pin(std::future::ready(Ok(Vec::new())));
        }
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
        self.submissions += 1;
        let state = Arc::new(Mutex::new(MapState::default()));
        let st = state.clone();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let mut s = st.lock().unwrap();
            s.result = Some(r.map_err(|e| format!("the GPU could not map a readback buffer ({e})")));
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        });
        Box::pin(GpuRead { state, staging, device: self.ctx.device.clone(), len: src.len })
    }

    fn flush(&mut self) {
        if self.records.is_empty() {
            return;
        }
        let mut enc = self.encoder();
        self.submit_records(&mut enc);
        self.ctx.queue.submit([enc.finish()]);
        self.submissions += 1;
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

    fn upload_u8(&mut self, data: &[u8], dim: usize) -> DataId {
        assert!(dim > 0 && data.len() % dim == 0, "dataset of {} bytes is not rows of {dim}", data.len());
        let mut bytes = data.to_vec();
        bytes.resize(data.len().div_ceil(4).max(1) * 4, 0);
        let buf = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dataset (u8, 4 per word)"),
            size: bytes.len() as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.flush();
        self.ctx.queue.write_buffer(&buf, 0, &bytes);
        self.data.push((buf, dim, data.len() / dim, false));
        DataId(self.data.len() as u32 - 1)
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

    fn upload_f32(&mut self, data: &[f32], dim: usize) -> DataId {
        assert!(dim > 0 && data.len() % dim == 0, "dataset of {} values is not rows of {dim}", data.len());
        let bytes: Vec<u8> = if data.is_empty() { vec![0; 4] } else { data.iter().flat_map(|v| v.to_le_bytes()).collect() };
        let buf = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dataset (f32)"),
            size: bytes.len() as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.flush();
        self.ctx.queue.write_buffer(&buf, 0, &bytes);
        self.data.push((buf, dim, data.len() / dim, true));
        DataId(self.data.len() as u32 - 1)
    }

    fn gather(&mut self, data: DataId, idx: &[u32], out: View) {
        assert!(!self.freed_data.contains(&data.0), "GPU backend: dataset {} was freed", data.0);
        let (_, dim, rows, is_f32) = self.data[data.0 as usize];
        assert_eq!(out.len, idx.len() * dim, "gather: output of {} for {} rows of {dim}", out.len, idx.len());
        assert!(idx.iter().all(|&i| (i as usize) < rows), "gather: index out of {rows} rows");
        let kernel = if is_f32 { "gather_f32" } else { "gather_forward" };
        self.record_gather(kernel, data, idx, out, dim);
    }

    fn gather_onehot(&mut self, labels: DataId, idx: &[u32], out: View, classes: usize) {
        assert!(!self.freed_data.contains(&labels.0), "GPU backend: dataset {} was freed", labels.0);
        let (_, dim, rows, is_f32) = self.data[labels.0 as usize];
        assert!(dim == 1 && !is_f32, "gather_onehot: labels are a u8 dataset of one byte per row");
        assert_eq!(out.len, idx.len() * classes, "gather_onehot: output of {} for {} rows of {classes}", out.len, idx.len());
        assert!(idx.iter().all(|&i| (i as usize) < rows), "gather_onehot: index out of {rows} rows");
        self.record_gather("gather_onehot", labels, idx, out, classes);
    }

    fn matmul(&mut self, a: View, b: View, c: View, m: usize, k: usize, n: usize, ta: bool, tb: bool, accumulate: bool) {
        crate::core::ops::assert_matmul_shapes("matmul", a.len, b.len, c.len, m, k, n);
        assert!(c.buf != a.buf && c.buf != b.buf, "matmul: C aliases an input");
        self.check(a);
        self.check(b);
        self.check(c);
        let (rsa, csa) = if ta { (1, m) } else { (k, 1) };
        let (rsb, csb) = if tb { (1, k) } else { (n, 1) };
        let words = [
            m as u32, k as u32, n as u32, accumulate as u32,
            a.offset as u32, b.offset as u32, c.offset as u32, 0,
            rsa as u32, csa as u32, rsb as u32, csb as u32,
        ];
        let res = [Self::buf(a), Self::buf(b), Self::buf(c)];
        if self.software {
            self.record("matmul_direct", &words, &res, (n.div_ceil(32) as u32, m.div_ceil(32) as u32, 1));
        } else {
            self.record("matmul_forward", &words, &res, (n.div_ceil(64) as u32, m.div_ceil(64) as u32, 1));
        }
    }

    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize) {
        assert_eq!(bias.len, cols);
        assert_eq!(x.len, out.len);
        let words = [x.len as u32, cols as u32, act.code(), 0, x.offset as u32, bias.offset as u32, out.offset as u32, 0];
        self.record("bias_act_forward", &words, &[Self::buf(x), Self::buf(bias), Self::buf(out)], Self::groups_1d(x.len));
    }

    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View) {
        assert_eq!(dy.len, y.len);
        assert_eq!(dy.len, dz.len);
        let words = [dy.len as u32, 1, act.code(), 0, dy.offset as u32, y.offset as u32, dz.offset as u32, 0];
        self.record("act_backward", &words, &[Self::buf(dy), Self::buf(y), Self::buf(dz)], Self::groups_1d(dy.len));
    }

    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        assert_eq!(db.len, cols);
        let rows = dz.len / cols.max(1);
        let words = [rows as u32, cols as u32, accumulate as u32, 0, dz.offset as u32, db.offset as u32, 0, 0];
        self.record("bias_grad", &words, &[Self::buf(dz), Self::buf(db)], (cols.div_ceil(256) as u32, 1, 1));
    }

    fn loss_forward_backward(&mut self, kind: LossKind, out: View, target: View, cols: usize, scale: f32, dout: View, row_loss: View) {
        assert_eq!(out.len, target.len);
        assert_eq!(out.len, dout.len);
        assert_eq!(row_loss.len * cols, out.len);
        assert!(row_loss.len <= 65_535, "loss: at most 65,535 rows per call");
        let code = kind.code();
        let words = [
            row_loss.len as u32, cols as u32, code, scale.to_bits(),
            out.offset as u32, target.offset as u32, dout.offset as u32, row_loss.offset as u32,
        ];
        self.record(
            "loss_forward_backward",
            &words,
            &[Self::buf(out), Self::buf(target), Self::buf(dout), Self::buf(row_loss)],
            (row_loss.len as u32, 1, 1),
        );
    }

    fn noise(&mut self, kind: NoiseKind, x: View, out: View, seed: u32, stream: u32) {
        assert_eq!(x.len, out.len);
        assert!(x.buf != out.buf, "noise: output aliases the input");
        let (code, p1) = kind.code();
        let p2 = if let NoiseKind::Dropout { keep } = kind { 1.0 / keep } else { 0.0 };
        let words = [x.len as u32, x.offset as u32, out.offset as u32, code, seed, stream, p1.to_bits(), p2.to_bits()];
        self.record("noise", &words, &[Self::buf(x), Self::buf(out)], Self::groups_1d(x.len));
    }

    fn sparsity_grad(&mut self, colsum: View, dy: View, rows: usize, rho: f32, beta: f32) {
        let cols = colsum.len;
        assert_eq!(dy.len, rows * cols, "sparsity_grad: dy of {} for {rows} × {cols}", dy.len);
        assert!(colsum.buf != dy.buf, "sparsity_grad: dy aliases the column sums");
        let words = [rows as u32, cols as u32, colsum.offset as u32, 0, dy.offset as u32, 0, rho.to_bits(), beta.to_bits()];
        self.record("sparsity_grad", &words, &[Self::buf(colsum), Self::buf(colsum), Self::buf(dy)], Self::groups_1d(dy.len));
    }

    fn reparam_forward(&mut self, h: View, eps: View, z: View, row_kl: View, latent: usize, seed: u32, stream: u32, sample: bool) {
        let rows = row_kl.len;
        assert_eq!(h.len, rows * 2 * latent);
        assert_eq!(z.len, rows * latent);
        assert_eq!(eps.len, rows * latent);
        let bufs = [h.buf, eps.buf, z.buf, row_kl.buf];
        assert!((0..4).all(|i| (i + 1..4).all(|j| bufs[i] != bufs[j])), "reparam_forward: buffers alias");
        let words = [
            0, h.offset as u32, z.offset as u32, 0, seed, stream, 0, 0,
            rows as u32, latent as u32, eps.offset as u32, row_kl.offset as u32, sample as u32, 0, 0, 0,
        ];
        self.record(
            "reparam_forward",
            &words,
            &[Self::buf(h), Self::buf(z), Self::buf(eps), Self::buf(row_kl)],
            (rows.div_ceil(64) as u32, 1, 1),
        );
    }

    fn reparam_backward(&mut self, h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32) {
        let rows = dz.len / latent.max(1);
        assert_eq!(h.len, rows * 2 * latent);
        assert_eq!(dh.len, h.len);
        assert_eq!(eps.len, dz.len);
        let bufs = [h.buf, eps.buf, dz.buf, dh.buf];
        assert!((0..4).all(|i| (i + 1..4).all(|j| bufs[i] != bufs[j])), "reparam_backward: buffers alias");
        let words = [
            0, h.offset as u32, dh.offset as u32, 0, 0, 0, 0, 0,
            rows as u32, latent as u32, eps.offset as u32, 0, 0, scale.to_bits(), dz.offset as u32, 0,
        ];
        self.record(
            "reparam_backward",
            &words,
            &[Self::buf(h), Self::buf(dh), Self::buf(eps), Self::buf(dz)],
            Self::groups_1d(rows * latent),
        );
    }

    fn argmax_correct(&mut self, out: View, target: View, cols: usize, row_out: View) {
        assert_eq!(out.len, target.len);
        assert_eq!(row_out.len * cols, out.len);
        assert!(row_out.buf != out.buf && row_out.buf != target.buf, "argmax_correct: output aliases an input");
        let words = [row_out.len as u32, cols as u32, out.offset as u32, target.offset as u32, row_out.offset as u32, 0, 0, 0];
        self.record(
            "argmax_correct",
            &words,
            &[Self::buf(out), Self::buf(target), Self::buf(row_out)],
            (row_out.len.div_ceil(64) as u32, 1, 1),
        );
    }

    fn sgd_step(&mut self, params: View, grads: View, lr: f32) {
        assert_eq!(params.len, grads.len);
        let words = [params.len as u32, grads.offset as u32, 0, params.offset as u32, 0, 0, lr.to_bits(), 0];
        self.record("sgd_step", &words, &[Self::buf(grads), Self::buf(params)], Self::groups_1d(params.len));
    }

    fn axpy(&mut self, x: View, y: View, a: f32) {
        assert_eq!(x.len, y.len, "axpy: {} values into {}", x.len, y.len);
        assert!(x.buf != y.buf, "axpy: x aliases y");
        self.check(x);
        self.check(y);
        let words = [y.len as u32, x.offset as u32, y.offset as u32, 0, 0, 0, 0, 0, a.to_bits(), 0, 0, 0, 0, 0, 0, 0];
        self.record("axpy", &words, &[Self::buf(x), Self::buf(y)], Self::groups_1d(y.len));
    }

    fn momentum_step(&mut self, params: View, grads: View, vel: View, lr: f32, momentum: f32) {
        assert_eq!(params.len, grads.len);
        assert_eq!(params.len, vel.len);
        assert!(params.buf != vel.buf && params.buf != grads.buf && vel.buf != grads.buf, "momentum_step: buffers alias");
        let words = [
            params.len as u32, grads.offset as u32, params.offset as u32, vel.offset as u32, 0, 0, 0, 0,
            lr.to_bits(), momentum.to_bits(), 0, 0, 0, 0, 0, 0,
        ];
        self.record("momentum_step", &words, &[Self::buf(grads), Self::buf(params), Self::buf(vel)], Self::groups_1d(params.len));
    }

    fn adam_step(&mut self, params: View, grads: View, m: View, v: View, lr: f32, beta1: f32, beta2: f32, eps: f32, t: u64) {
        assert_eq!(params.len, grads.len);
        assert_eq!(params.len, m.len);
        assert_eq!(params.len, v.len);
        let bufs = [params.buf, grads.buf, m.buf, v.buf];
        assert!((0..4).all(|i| (i + 1..4).all(|j| bufs[i] != bufs[j])), "adam_step: buffers alias");
        let (step, sqrt_bc2) = crate::core::ops::adam_scalars(lr, beta1, beta2, t);
        let words = [
            params.len as u32, grads.offset as u32, params.offset as u32, m.offset as u32, v.offset as u32, 0, 0, 0,
            step.to_bits(), beta1.to_bits(), beta2.to_bits(), eps.to_bits(), sqrt_bc2.to_bits(), 0, 0, 0,
        ];
        self.record(
            "adam_step",
            &words,
            &[Self::buf(grads), Self::buf(params), Self::buf(m), Self::buf(v)],
            Self::groups_1d(params.len),
        );
    }

    fn sum_into(&mut self, src: View, dst: View, accumulate: bool) {
        assert_eq!(dst.len, 1, "sum_into: destination must be one element");
        let words = [src.len as u32, 1, accumulate as u32, 0, src.offset as u32, dst.offset as u32, 0, 0];
        self.record("sum_into", &words, &[Self::buf(src), Self::buf(dst)], (1, 1, 1));
    }

    fn copy(&mut self, src: View, dst: View) {
        assert_eq!(src.len, dst.len, "copy: {} values into {}", src.len, dst.len);
        let words = [src.len as u32, src.offset as u32, 0, dst.offset as u32, 0, 0, 0, 0];
        self.record("copy", &words, &[Self::buf(src), Self::buf(dst)], Self::groups_1d(src.len));
    }
}
