//! The GPU backend on wgpu: WebGPU in the browser, Vulkan natively. The device is acquired
//! once ([`GpuContext`]), pipelines are built once (a matmul variant's on first use), bind
//! groups are cached per buffer set. Ops are recorded, not run: each op appends a dispatch
//! (its parameters go to a per-submission upload arena, selected by a dynamic uniform
//! offset), and `flush` replays them all in one compute pass of one command buffer.
//! Several training steps go into one submission; nothing is read back unless asked, and
//! reads are asynchronous on the web.
//!
//! Fewer dispatches and less memory traffic per step: the forward product carries the
//! bias and activation in its epilogue (`linear_forward`), the input-gradient product the
//! activation's derivative (`linear_backward`), and a weight gradient `Aᵀ·dZ` is deferred
//! like the CPU backend's: under plain SGD it is applied to the weights by one dispatch
//! that never stores it (`matmul_sgd`, with the layer's bias gradient folded in), and
//! anything else that needs it (a read, Adam, an op that overwrites an operand) computes
//! it first. Each product runs the kernel variant picked for the adapter and shape by a
//! short timing on first use (`tune.rs`; `AEPLAY_GPU_KERNELS=<variant>` forces one).
//! `AEPLAY_GPU_FUSE=0` turns the fusions off (one dispatch per trait op, as before).

pub mod kernels;
pub mod timing;
pub mod tune;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU64;

use super::{Backend, Buf, DataId, ReadFuture, View, WorkCounters};
use crate::backend::choice::{classify, AdapterClass, AdapterFacts};
use crate::core::{Activation, LossKind, NoiseKind};
pub use kernels::{Entry, Variant, SHADERS};
pub use timing::Clock;
pub use tune::{tuned_variants, ShapeKey, Tuned};

/// The op-family kernels (everything but the matrix products): entry point, shader file,
/// read-only flags of bindings 1.. (binding 0 is the parameter block).
const KERNELS: &[(&str, &str, &[bool])] = &[
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
/// Dispatches per submission while timing each op (two timestamps each; WebGPU allows
/// 4,096 queries per set).
const PROFILE_SLOTS: usize = 2048;
/// u32 words of batch indices per submission.
const IDX_WORDS: usize = 1 << 18;

/// An acquired device with what the app needs to know about it.
#[derive(Clone)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The optional features the device was created with (TIMESTAMP_QUERY, SUBGROUP where
    /// the adapter has them).
    pub features: wgpu::Features,
    /// Set when the device is lost or reports an error.
    pub fault: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl GpuContext {
    /// Requests an adapter and a device with the adapter's own limits and, where offered,
    /// timestamp queries and (natively) subgroup operations. Natively only Vulkan is used
    /// (so a GL software adapter is never picked); in the browser, WebGPU.
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
        // Subgroups only natively: wgpu's WGSL for them is not yet what browsers accept.
        // AEPLAY_GPU_TIMESTAMPS=0 leaves timestamps out (to see the wall-clock fallback).
        let mut wanted = if cfg!(target_arch = "wasm32") { wgpu::Features::TIMESTAMP_QUERY } else { wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP };
        if std::env::var("AEPLAY_GPU_TIMESTAMPS").is_ok_and(|v| v == "0") {
            wanted.remove(wgpu::Features::TIMESTAMP_QUERY);
        }
        let features = adapter.features() & wanted;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("aeplay"),
                required_features: features,
                required_limits: limits.clone(),
                memory_hints: wgpu::MemoryHints::Performance,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("the GPU adapter '{}' refused a device ({e})", info.name))?;
        let fault = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let f = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let mut slot = f.lock().unwrap();
            if slot.is_none() {
                *slot = Some(format!("the GPU device was lost ({reason:?}: {msg})"));
            }
        });
        let f = fault.clone();
        device.on_uncaptured_error(std::sync::Arc::new(move |e: wgpu::Error| {
            let mut slot = f.lock().unwrap();
            if slot.is_none() {
                *slot = Some(format!("GPU error: {e}"));
            }
        }));
        Ok(GpuContext { device, queue, info, limits, features, fault })
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

    /// Hardware, or a software adapter (lavapipe, SwiftShader, WARP, a fallback adapter).
    pub fn class(&self) -> AdapterClass {
        classify(&AdapterFacts::from(&self.info))
    }

    /// True for software adapters (lavapipe, SwiftShader): fine for tests, not for speed.
    pub fn is_cpu_adapter(&self) -> bool {
        self.class().is_software()
    }

    /// The device has timestamp queries (device timing per pass).
    pub fn timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// The subgroup size, where the device has subgroup operations and their size is fixed
    /// (the subgroup matmul variant needs both).
    pub fn subgroup_size(&self) -> Option<u32> {
        let (lo, hi) = (self.info.subgroup_min_size, self.info.subgroup_max_size);
        (self.features.contains(wgpu::Features::SUBGROUP) && lo == hi && lo > 0).then_some(lo)
    }

    /// How device time is measured here.
    pub fn clock(&self) -> Clock {
        if self.timestamps() { Clock::Timestamps } else { Clock::WallClock }
    }

    /// What tuned choices are cached under: the adapter and its driver.
    pub fn adapter_key(&self) -> String {
        let i = &self.info;
        format!("{}|{}|{}|{:?}|{:x}:{:x}", i.name, i.driver, i.driver_info, i.backend, i.vendor, i.device)
    }
}

struct Kernel {
    pipeline: wgpu::ComputePipeline,
    /// Index into `GpuBackend::layouts`.
    layout: usize,
}

/// A binding of an op: a buffer of ours, a dataset, the index arena, or one of the small
/// buffers that fill a matmul's unused bindings (0: read-only, 1 and 2: written; apart,
/// since writable bindings of one dispatch must not alias).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Res {
    Buf(u32),
    Data(u32),
    Idx,
    Filler(u8),
}

struct Record {
    kernel: usize,
    bind_group: wgpu::BindGroup,
    slot: u32,
    groups: (u32, u32, u32),
    /// Index into the profile's op names (u32::MAX when not profiling).
    label: u32,
}

/// A weight-gradient product `C = Aᵀ·B` (A stored k×m, B k×n) not recorded yet, with what
/// the model asked for right after: the column sums of B (the bias gradient) into `bias`,
/// and the L2 term C += a·x (x the weights). Recorded when anything touches C or `bias` or
/// writes A, B or x; under SGD or Adam over a gradient buffer holding C, applied to the
/// weights by `matmul_sgd` / `matmul_adam` instead, the gradient never stored.
#[derive(Clone, Copy, Debug)]
struct Deferred {
    a: View,
    b: View,
    c: View,
    m: usize,
    k: usize,
    n: usize,
    bias: Option<View>,
    l2: Option<(View, f32)>,
}

impl Deferred {
    fn outputs(&self) -> impl Iterator<Item = View> {
        std::iter::once(self.c).chain(self.bias)
    }

    fn operands(&self) -> impl Iterator<Item = View> {
        [self.a, self.b].into_iter().chain(self.l2.map(|(x, _)| x))
    }

    /// It can be applied by the fused update of `params` from `grads`: its results lie in
    /// `grads`, its operands outside the buffers the update writes, and its L2 term (if
    /// any) decays the very weights it updates.
    fn fusable(&self, params: View, grads: View, written: &[View]) -> bool {
        inside(grads, self.c)
            && self.bias.is_none_or(|b| inside(grads, b))
            && params.buf != grads.buf
            && [self.a, self.b].iter().all(|o| written.iter().all(|w| o.buf != w.buf))
            && self.l2.is_none_or(|(x, _)| x == params.slice(self.c.offset - grads.offset, self.c.len))
    }
}

fn overlaps(a: View, b: View) -> bool {
    a.buf == b.buf && a.len > 0 && b.len > 0 && a.offset < b.offset + b.len && b.offset < a.offset + a.len
}

fn inside(outer: View, inner: View) -> bool {
    outer.buf == inner.buf && outer.offset <= inner.offset && inner.offset + inner.len <= outer.offset + outer.len
}

/// Per-op device time being collected (see [`GpuBackend::start_profile`]).
#[derive(Default)]
struct Profiling {
    names: Vec<String>,
    index: HashMap<String, u32>,
    /// Submitted timestamp sets not read yet, with each dispatch's op name.
    pending: Vec<(timing::Stamps, Vec<u32>)>,
    /// (calls, seconds) per op name.
    totals: Vec<(u64, f64)>,
}

impl Profiling {
    fn label(&mut self, name: String) -> u32 {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        self.names.push(name.clone());
        self.totals.push((0, 0.0));
        self.index.insert(name, self.names.len() as u32 - 1);
        self.names.len() as u32 - 1
    }

    fn add(&mut self, label: u32, seconds: f64) {
        if let Some(t) = self.totals.get_mut(label as usize) {
            t.0 += 1;
            t.1 += seconds;
        }
    }
}

/// Device time per op and shape over the profiled work, in first-use order.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceProfile {
    pub clock: Clock,
    pub ops: Vec<OpTime>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct OpTime {
    /// Op and shape, e.g. "linear_forward[narrow] 16x784x500".
    pub op: String,
    pub calls: u64,
    pub seconds: f64,
}

pub struct GpuBackend {
    ctx: GpuContext,
    /// Bind group layouts by the read-only flags of their storage bindings.
    layouts: Vec<(Vec<bool>, wgpu::BindGroupLayout)>,
    kernels: Vec<Kernel>,
    /// Matmul pipelines built so far, by variant and entry point (indices into `kernels`).
    matmul_kernels: HashMap<(Variant, Entry), usize>,
    bufs: Vec<wgpu::Buffer>,
    /// Datasets: buffer, row width, rows, and whether it holds f32 (else u8 packed 4 per word).
    data: Vec<(wgpu::Buffer, usize, usize, bool)>,
    params_buf: wgpu::Buffer,
    idx_buf: wgpu::Buffer,
    /// What the unused bindings of a matmul entry point are bound to (see `Res::Filler`).
    fillers: [wgpu::Buffer; 3],
    params: Vec<u8>,
    idx: Vec<u32>,
    records: Vec<Record>,
    bind_groups: HashMap<(usize, Vec<Res>), wgpu::BindGroup>,
    /// Dispatches, estimated bytes moved and submissions since the start.
    counters: WorkCounters,
    /// `AEPLAY_GPU_KERNELS` or the caller's: the one matmul variant to use.
    forced: Option<Variant>,
    /// Fused ops and deferred weight gradients (`AEPLAY_GPU_FUSE=0` turns them off).
    fuse: bool,
    deferred: Vec<Deferred>,
    /// The variant each product shape ran with so far.
    used: std::collections::BTreeMap<tune::ShapeKey, Variant>,
    profiling: Option<Profiling>,
    /// Handles of freed buffers and datasets (their slots hold a 4-byte placeholder).
    freed_bufs: HashSet<u32>,
    freed_data: HashSet<u32>,
}

impl GpuBackend {
    /// A backend on an acquired device. The matmul variant is picked per shape (tuned on
    /// first use natively); `AEPLAY_GPU_KERNELS=<variant>` forces one (`tiled`, `tiled8`,
    /// `narrow`, `direct`, `direct8`, `ksplit`, `ksplit_subgroup`), `AEPLAY_GPU_FUSE=0`
    /// turns the fusions off.
    pub fn new(ctx: GpuContext) -> Self {
        let forced = std::env::var("AEPLAY_GPU_KERNELS").ok().and_then(|s| {
            let v = Variant::from_name(&s);
            if v.is_none() {
                let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
                eprintln!("AEPLAY_GPU_KERNELS={s} is not a kernel variant ({}); ignored", names.join(", "));
            }
            v
        });
        let fuse = std::env::var("AEPLAY_GPU_FUSE").map_or(true, |v| v != "0");
        Self::with_options(ctx, forced, fuse)
    }

    /// A backend that runs every product with `variant` (None: picked per shape), with
    /// the fusions on or off. A variant the device cannot run (subgroups) is an error.
    pub fn with_variant(ctx: GpuContext, variant: Option<Variant>) -> Result<Self, String> {
        if let Some(v) = variant.filter(|v| v.needs_subgroups()) {
            if ctx.subgroup_size().is_none() {
                return Err(format!("the '{}' kernels need subgroup operations of a fixed size, which {} lacks", v.name(), ctx.adapter_label()));
            }
        }
        Ok(Self::with_options(ctx, variant, true))
    }

    fn with_options(ctx: GpuContext, forced: Option<Variant>, fuse: bool) -> Self {
        let forced = forced.filter(|v| {
            let ok = !v.needs_subgroups() || ctx.subgroup_size().is_some();
            if !ok {
                eprintln!("the '{}' kernels need subgroup operations of a fixed size, which this adapter lacks; picking per shape", v.name());
            }
            ok
        });
        let device = ctx.device.clone();
        let modules: HashMap<&str, wgpu::ShaderModule> = KERNELS
            .iter()
            .map(|k| k.1)
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|name| {
                let m = kernels::fixed_module(name);
                (name, device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(name), source: wgpu::ShaderSource::Wgsl(m.source.into()) }))
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
        let filler = |label| {
            device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: 16, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false })
        };
        let fillers = [filler("unused (read)"), filler("unused (m)"), filler("unused (v)")];
        let mut be = GpuBackend {
            ctx,
            fillers,
            layouts: Vec::new(),
            kernels: Vec::new(),
            matmul_kernels: HashMap::new(),
            bufs: Vec::new(),
            data: Vec::new(),
            params_buf,
            idx_buf,
            params: Vec::with_capacity(SLOT as usize * 64),
            idx: Vec::new(),
            records: Vec::new(),
            bind_groups: HashMap::new(),
            counters: WorkCounters::default(),
            forced,
            fuse,
            deferred: Vec::new(),
            used: Default::default(),
            profiling: None,
            freed_bufs: Default::default(),
            freed_data: Default::default(),
        };
        for (entry, file, ro) in KERNELS {
            let k = be.build_kernel(&modules[file], entry, ro);
            be.kernels.push(k);
        }
        be
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The variant every product is forced to use, if any.
    pub fn forced_variant(&self) -> Option<Variant> {
        self.forced
    }

    /// Whether the fused ops and deferred weight gradients are on.
    pub fn fused(&self) -> bool {
        self.fuse
    }

    /// Turns the fused ops and deferred weight gradients on or off (off: one dispatch per
    /// trait op, as `AEPLAY_GPU_FUSE=0`). Products deferred so far are recorded first.
    pub fn set_fused(&mut self, on: bool) {
        for d in std::mem::take(&mut self.deferred) {
            self.settle(d);
        }
        self.fuse = on;
    }

    /// The kernel variant each product shape has run with so far.
    pub fn kernels_used(&self) -> Vec<(tune::ShapeKey, Variant)> {
        self.used.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Dispatches recorded, bytes they move (estimated) and submissions made so far.
    pub fn counters(&self) -> WorkCounters {
        self.counters
    }

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

    fn build_kernel(&mut self, module: &wgpu::ShaderModule, entry: &str, ro: &[bool]) -> Kernel {
        let layout = self.layout_for(ro);
        let device = &self.ctx.device;
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
        Kernel { pipeline, layout }
    }

    /// The pipeline of a matmul variant's entry point (built, with its module's other
    /// entry points, on first use).
    fn matmul_kernel(&mut self, v: Variant, e: Entry) -> usize {
        if let Some(&i) = self.matmul_kernels.get(&(v, e)) {
            return i;
        }
        let m = kernels::matmul_module(v, self.subgroup_size());
        let module = self.ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(&m.name), source: wgpu::ShaderSource::Wgsl(m.source.into()) });
        for entry in Entry::ALL {
            let k = self.build_kernel(&module, entry.name(), entry.read_only());
            self.kernels.push(k);
            self.matmul_kernels.insert((v, entry), self.kernels.len() - 1);
        }
        self.matmul_kernels[&(v, e)]
    }

    /// The subgroup size the subgroup variant is built for (1 where there is none).
    fn subgroup_size(&self) -> u32 {
        self.ctx.subgroup_size().unwrap_or(1)
    }

    /// Variants this device can run.
    pub fn variants(&self) -> Vec<Variant> {
        Variant::ALL.into_iter().filter(|v| !v.needs_subgroups() || self.ctx.subgroup_size().is_some()).collect()
    }

    fn resource(&self, r: Res) -> &wgpu::Buffer {
        match r {
            Res::Buf(i) => &self.bufs[i as usize],
            Res::Data(i) => &self.data[i as usize].0,
            Res::Idx => &self.idx_buf,
            Res::Filler(i) => &self.fillers[i as usize],
        }
    }

    fn bind_group(&mut self, kernel: usize, res: &[Res]) -> wgpu::BindGroup {
        let layout = self.kernels[kernel].layout;
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

    /// Records one dispatch of a fixed kernel (see [`Self::record_kernel`]).
    fn record(&mut self, name: &str, words: &[u32], res: &[Res], groups: (u32, u32, u32), bytes: u64) {
        self.record_kernel(kernel_index(name), words, res, groups, bytes, &|| name.to_string());
    }

    /// Records one dispatch of `kernel` with a parameter block and its buffers; `bytes` is
    /// what it reads and writes at the least (each input read once, each output written
    /// once), for the counters; `label` names it in a profile.
    fn record_kernel(&mut self, kernel: usize, words: &[u32], res: &[Res], groups: (u32, u32, u32), bytes: u64, label: &dyn Fn() -> String) {
        if groups.0 == 0 || groups.1 == 0 || groups.2 == 0 {
            return;
        }
        let cap = if self.profiling.is_some() { PROFILE_SLOTS } else { SLOTS };
        if self.records.len() >= cap {
            self.flush();
        }
        let bind_group = self.bind_group(kernel, res);
        let slot = self.params.len() as u32;
        let mut block = [0u8; SLOT as usize];
        for (i, w) in words.iter().enumerate() {
            block[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        self.params.extend_from_slice(&block);
        let label = match &mut self.profiling {
            Some(p) => p.label(label()),
            None => u32::MAX,
        };
        self.records.push(Record { kernel, bind_group, slot, groups, label });
        self.counters.dispatches += 1;
        self.counters.bytes += bytes;
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
        self.touch(&[], &[out]);
        if self.idx.len() + idx.len() > IDX_WORDS {
            self.flush();
        }
        let off = self.idx.len() as u32;
        self.idx.extend_from_slice(idx);
        let (_, row, _, is_f32) = self.data[data.0 as usize];
        let bytes = (4 * out.len + idx.len() * row * if is_f32 { 4 } else { 1 } + 4 * idx.len()) as u64;
        self.record(kernel, &[out.len as u32, dim as u32, off, out.offset as u32], &[Res::Data(data.0), Res::Idx, Self::buf(out)], Self::groups_1d(out.len), bytes);
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

    /// Before a buffer is destroyed: records the deferred products that use it, submits
    /// the work recorded on it and forgets the bind groups that hold it.
    fn release(&mut self, r: Res) {
        if let Res::Buf(b) = r {
            let uses = |d: &Deferred| d.operands().chain(d.outputs()).any(|v| v.buf.0 == b);
            while let Some(i) = self.deferred.iter().position(uses) {
                let d = self.deferred.remove(i);
                self.settle(d);
            }
        }
        self.flush();
        self.bind_groups.retain(|(_, res), _| !res.contains(&r));
    }

    fn check(&self, v: View) {
        assert!(!self.freed_bufs.contains(&v.buf.0), "GPU backend: buffer {} was freed", v.buf.0);
        let size = self.bufs[v.buf.0 as usize].size() / 4;
        assert!((v.offset + v.len) as u64 <= size.max(1), "view {v:?} is out of its buffer of {size}");
    }

    /// Before an op that reads `reads` and writes `writes`: records every deferred product
    /// whose result it reads or overwrites, or whose operands it overwrites.
    fn touch(&mut self, reads: &[View], writes: &[View]) {
        let mut i = 0;
        while i < self.deferred.len() {
            let d = self.deferred[i];
            let hit = writes.iter().any(|&w| d.operands().chain(d.outputs()).any(|o| overlaps(w, o)))
                || reads.iter().any(|&r| d.outputs().any(|o| overlaps(r, o)));
            if hit {
                self.deferred.remove(i);
                self.settle(d);
            } else {
                i += 1;
            }
        }
    }

    /// Records a deferred product (with its bias gradient and L2 term) where it stands.
    fn settle(&mut self, d: Deferred) {
        self.record_matmul(Entry::Matmul, d.a, d.b, d.c, None, &[], d.m, d.k, d.n, true, false, false, &[]);
        if let Some(db) = d.bias {
            self.record_bias_grad(d.b, db, d.n, false);
        }
        if let Some((x, a)) = d.l2 {
            self.record_axpy(x, d.c, a);
        }
    }

    /// Applies the deferred products `fused` to `params` (their gradients in `grads`) by
    /// `entry` (matmul_sgd or matmul_adam, the update's words 15.. in `update`, its moment
    /// buffers in `moments`), and returns the ranges of `grads` they cover.
    fn record_fused_updates(&mut self, entry: Entry, fused: Vec<Deferred>, params: View, grads: View, moments: &[View], update: &[u32]) -> Vec<(usize, usize)> {
        let at = |v: View| params.slice(v.offset - grads.offset, v.len);
        let mut covered = Vec::new();
        for d in fused {
            // Words 12..: act (unused), bias offset, has bias, then the update's.
            let mut words = vec![0, d.bias.map_or(0, |b| at(b).offset as u32), d.bias.is_some() as u32, update[0]];
            words.push(d.l2.map_or(0.0, |(_, a)| a).to_bits());
            words.extend_from_slice(&update[1..]);
            self.record_matmul(entry, d.a, d.b, at(d.c), None, moments, d.m, d.k, d.n, true, false, false, &words);
            covered.extend(d.outputs().map(|v| (v.offset - grads.offset, v.offset - grads.offset + v.len)));
        }
        covered.sort_unstable();
        covered
    }

    /// Removes and returns the deferred products the update of `params` from `grads` can
    /// apply itself (writing `written`).
    fn take_fusable(&mut self, params: View, grads: View, written: &[View]) -> Vec<Deferred> {
        let (fused, keep) = std::mem::take(&mut self.deferred).into_iter().partition(|d| d.fusable(params, grads, written));
        self.deferred = keep;
        fused
    }

    /// The ranges of a `len`-element buffer not in the sorted `covered` ranges.
    fn uncovered(covered: Vec<(usize, usize)>, len: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut from = 0;
        for (start, end) in covered.into_iter().chain([(len, len)]) {
            if start > from {
                out.push((from, start - from));
            }
            from = from.max(end);
        }
        out
    }

    /// Records one product with an epilogue: `aux` is the bias (linear_forward) or the
    /// previous layer's output (linear_backward), `moments` Adam's m and v (matmul_adam);
    /// the bindings an entry point does not use get fillers. `extra` are words 12.. of the
    /// parameter block.
    #[allow(clippy::too_many_arguments)]
    fn record_matmul(&mut self, entry: Entry, a: View, b: View, c: View, aux: Option<View>, moments: &[View], m: usize, k: usize, n: usize, ta: bool, tb: bool, accumulate: bool, extra: &[u32]) {
        let (rsa, csa) = if ta { (1, m) } else { (k, 1) };
        let (rsb, csb) = if tb { (1, k) } else { (n, 1) };
        let mut words = vec![
            m as u32, k as u32, n as u32, accumulate as u32,
            a.offset as u32, b.offset as u32, c.offset as u32, aux.map_or(0, |v| v.offset as u32),
            rsa as u32, csa as u32, rsb as u32, csb as u32,
        ];
        words.extend_from_slice(extra);
        let key = tune::ShapeKey { m, k, n, ta, tb, sgd: matches!(entry, Entry::MatmulSgd | Entry::MatmulAdam) };
        let v = self.variant_for(key);
        self.used.insert(key, v);
        let kernel = self.matmul_kernel(v, entry);
        let mut res = vec![Self::buf(a), Self::buf(b), Self::buf(c), aux.map_or(Res::Filler(0), Self::buf)];
        match moments {
            [m, v] => res.extend([Self::buf(*m), Self::buf(*v)]),
            _ => res.extend([Res::Filler(1), Res::Filler(2)]),
        }
        let mut bytes = 4 * (m * k + k * n + m * n) as u64;
        bytes += match entry {
            Entry::Matmul => 4 * (m * n) as u64 * accumulate as u64,
            Entry::LinearForward => 4 * n as u64,
            Entry::LinearBackward | Entry::MatmulSgd => 4 * (m * n) as u64,
            // Weights read and written, both moments read and written.
            Entry::MatmulAdam => 4 * 5 * (m * n) as u64,
        };
        let groups = v.groups(self.subgroup_size(), m, n);
        let form = match (ta, tb) {
            (false, false) => "A·B",
            (true, false) => "Aᵀ·B",
            (false, true) => "A·Bᵀ",
            (true, true) => "Aᵀ·Bᵀ",
        };
        self.record_kernel(kernel, &words, &res, groups, bytes, &|| format!("{}[{}] {form} {m}x{k}x{n}", entry.name(), v.name()));
    }

    fn record_bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        let rows = dz.len / cols.max(1);
        let words = [rows as u32, cols as u32, accumulate as u32, 0, dz.offset as u32, db.offset as u32, 0, 0];
        let bytes = 4 * (dz.len + cols * (1 + accumulate as usize)) as u64;
        self.record("bias_grad", &words, &[Self::buf(dz), Self::buf(db)], (cols.div_ceil(256) as u32, 1, 1), bytes);
    }

    fn record_axpy(&mut self, x: View, y: View, a: f32) {
        let words = [y.len as u32, x.offset as u32, y.offset as u32, 0, 0, 0, 0, 0, a.to_bits(), 0, 0, 0, 0, 0, 0, 0];
        self.record("axpy", &words, &[Self::buf(x), Self::buf(y)], Self::groups_1d(y.len), 12 * y.len as u64);
    }

    /// Records a plain Adam pass (equal lengths; `step` = lr/(1−β1ᵗ), `sqrt_bc2` = √(1−β2ᵗ)).
    #[allow(clippy::too_many_arguments)]
    fn record_adam(&mut self, params: View, grads: View, m: View, v: View, step: f32, beta1: f32, beta2: f32, eps: f32, sqrt_bc2: f32) {
        let words = [
            params.len as u32, grads.offset as u32, params.offset as u32, m.offset as u32, v.offset as u32, 0, 0, 0,
            step.to_bits(), beta1.to_bits(), beta2.to_bits(), eps.to_bits(), sqrt_bc2.to_bits(), 0, 0, 0,
        ];
        let res = [Self::buf(grads), Self::buf(params), Self::buf(m), Self::buf(v)];
        self.record("adam_step", &words, &res, Self::groups_1d(params.len), 28 * params.len as u64);
    }

    /// Records a plain SGD pass over `params` from `grads` (equal lengths).
    fn record_sgd(&mut self, params: View, grads: View, lr: f32) {
        let words = [params.len as u32, grads.offset as u32, 0, params.offset as u32, 0, 0, lr.to_bits(), 0];
        self.record("sgd_step", &words, &[Self::buf(grads), Self::buf(params)], Self::groups_1d(params.len), 12 * params.len as u64);
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
            let bytes: Vec<u8> = self.idx.iter().flat_map(|w| w.to_le_bytes()).collect();
            self.ctx.queue.write_buffer(&self.idx_buf, 0, &bytes);
        }
        match &mut self.profiling {
            None => {
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
            Some(prof) if self.ctx.timestamps() => {
                let stamps = timing::Stamps::new(&self.ctx.device, 2 * self.records.len() as u32);
                for (i, r) in self.records.iter().enumerate() {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("op"), timestamp_writes: Some(stamps.writes(i as u32)) });
                    pass.set_pipeline(&self.kernels[r.kernel].pipeline);
                    pass.set_bind_group(0, &r.bind_group, &[r.slot]);
                    pass.dispatch_workgroups(r.groups.0, r.groups.1, r.groups.2);
                }
                stamps.resolve(encoder, 2 * self.records.len() as u32);
                prof.pending.push((stamps, self.records.iter().map(|r| r.label).collect()));
            }
            Some(prof) => {
                // No timestamps (natively only): each dispatch alone, the wall clock around it.
                #[cfg(not(target_arch = "wasm32"))]
                for r in &self.records {
                    let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("op") });
                    {
                        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("op"), timestamp_writes: None });
                        pass.set_pipeline(&self.kernels[r.kernel].pipeline);
                        pass.set_bind_group(0, &r.bind_group, &[r.slot]);
                        pass.dispatch_workgroups(r.groups.0, r.groups.1, r.groups.2);
                    }
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
        self.touch(&[], &[dst]);
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

    fn flush(&mut self) {
        if self.records.is_empty() {
            return;
        }
        let mut enc = self.encoder();
        self.submit_records(&mut enc);
        self.ctx.queue.submit([enc.finish()]);
        self.counters.submissions += 1;
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
        let reads = if accumulate { vec![a, b, c] } else { vec![a, b] };
        self.touch(&reads, &[c]);
        if self.fuse && ta && !tb && !accumulate && m > 0 && n > 0 {
            // A weight gradient: deferred until the optimizer step or a use of C.
            self.deferred.push(Deferred { a, b, c, m, k, n, bias: None, l2: None });
            return;
        }
        self.record_matmul(Entry::Matmul, a, b, c, None, &[], m, k, n, ta, tb, accumulate, &[]);
    }

    fn linear_forward(&mut self, x: View, w: View, bias: View, act: Activation, z: View, y: View, m: usize, k: usize, n: usize, tw: bool) {
        if !self.fuse {
            self.matmul(x, w, z, m, k, n, false, tw, false);
            return self.bias_act_forward(z, bias, act, y, n);
        }
        crate::core::ops::assert_matmul_shapes("linear_forward", x.len, w.len, y.len, m, k, n);
        assert_eq!(bias.len, n, "linear_forward: bias of {} for {n} outputs", bias.len);
        assert!(y.buf != x.buf && y.buf != w.buf && y.buf != bias.buf, "linear_forward: y aliases an input");
        for v in [x, w, bias, y] {
            self.check(v);
        }
        self.touch(&[x, w, bias], &[y]);
        self.record_matmul(Entry::LinearForward, x, w, y, Some(bias), &[], m, k, n, false, tw, false, &[act.code()]);
    }

    fn linear_backward(&mut self, dz: View, w: View, y_prev: View, act_prev: Activation, dx: View, dz_prev: View, m: usize, k: usize, n: usize, tw: bool) {
        if !self.fuse {
            self.matmul(dz, w, dx, m, n, k, false, !tw, false);
            return self.act_backward(dx, y_prev, act_prev, dz_prev);
        }
        crate::core::ops::assert_matmul_shapes("linear_backward", dz.len, w.len, dz_prev.len, m, n, k);
        assert_eq!(y_prev.len, dz_prev.len, "linear_backward: y_prev of {} for {} gradients", y_prev.len, dz_prev.len);
        assert!(dz_prev.buf != dz.buf && dz_prev.buf != w.buf && dz_prev.buf != y_prev.buf, "linear_backward: dz_prev aliases an input");
        for v in [dz, w, y_prev, dz_prev] {
            self.check(v);
        }
        self.touch(&[dz, w, y_prev], &[dz_prev]);
        self.record_matmul(Entry::LinearBackward, dz, w, dz_prev, Some(y_prev), &[], m, n, k, false, !tw, false, &[act_prev.code()]);
    }

    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize) {
        assert_eq!(bias.len, cols);
        assert_eq!(x.len, out.len);
        self.touch(&[x, bias], &[out]);
        let words = [x.len as u32, cols as u32, act.code(), 0, x.offset as u32, bias.offset as u32, out.offset as u32, 0];
        self.record("bias_act_forward", &words, &[Self::buf(x), Self::buf(bias), Self::buf(out)], Self::groups_1d(x.len), 4 * (2 * x.len + cols) as u64);
    }

    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View) {
        assert_eq!(dy.len, y.len);
        assert_eq!(dy.len, dz.len);
        self.touch(&[dy, y], &[dz]);
        let words = [dy.len as u32, 1, act.code(), 0, dy.offset as u32, y.offset as u32, dz.offset as u32, 0];
        self.record("act_backward", &words, &[Self::buf(dy), Self::buf(y), Self::buf(dz)], Self::groups_1d(dy.len), 12 * dy.len as u64);
    }

    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        assert_eq!(db.len, cols);
        let rows = dz.len / cols.max(1);
        // The bias gradient of a deferred weight gradient (dZ is its B): folded into it.
        let attach = |d: &Deferred| d.b == dz && d.n == cols && d.k == rows && d.bias.is_none();
        if self.fuse && !accumulate && db.buf != dz.buf {
            if let Some(i) = self.deferred.iter().position(attach) {
                let d = self.deferred.remove(i);
                self.touch(&[dz], &[db]);
                self.deferred.push(Deferred { bias: Some(db), ..d });
                return;
            }
        }
        let reads = if accumulate { vec![dz, db] } else { vec![dz] };
        self.touch(&reads, &[db]);
        self.record_bias_grad(dz, db, cols, accumulate);
    }

    fn loss_forward_backward(&mut self, kind: LossKind, out: View, target: View, cols: usize, scale: f32, dout: View, row_loss: View) {
        assert_eq!(out.len, target.len);
        assert_eq!(out.len, dout.len);
        assert_eq!(row_loss.len * cols, out.len);
        assert!(row_loss.len <= 65_535, "loss: at most 65,535 rows per call");
        self.touch(&[out, target], &[dout, row_loss]);
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
            4 * (3 * out.len + row_loss.len) as u64,
        );
    }

    fn noise(&mut self, kind: NoiseKind, x: View, out: View, seed: u32, stream: u32) {
        assert_eq!(x.len, out.len);
        assert!(x.buf != out.buf, "noise: output aliases the input");
        self.touch(&[x], &[out]);
        let (code, p1) = kind.code();
        let p2 = if let NoiseKind::Dropout { keep } = kind { 1.0 / keep } else { 0.0 };
        let words = [x.len as u32, x.offset as u32, out.offset as u32, code, seed, stream, p1.to_bits(), p2.to_bits()];
        self.record("noise", &words, &[Self::buf(x), Self::buf(out)], Self::groups_1d(x.len), 8 * x.len as u64);
    }

    fn sparsity_grad(&mut self, colsum: View, dy: View, rows: usize, rho: f32, beta: f32) {
        let cols = colsum.len;
        assert_eq!(dy.len, rows * cols, "sparsity_grad: dy of {} for {rows} × {cols}", dy.len);
        assert!(colsum.buf != dy.buf, "sparsity_grad: dy aliases the column sums");
        self.touch(&[colsum, dy], &[dy]);
        let words = [rows as u32, cols as u32, colsum.offset as u32, 0, dy.offset as u32, 0, rho.to_bits(), beta.to_bits()];
        self.record("sparsity_grad", &words, &[Self::buf(colsum), Self::buf(colsum), Self::buf(dy)], Self::groups_1d(dy.len), 4 * (2 * dy.len + cols) as u64);
    }

    fn reparam_forward(&mut self, h: View, eps: View, z: View, row_kl: View, latent: usize, seed: u32, stream: u32, sample: bool) {
        let rows = row_kl.len;
        assert_eq!(h.len, rows * 2 * latent);
        assert_eq!(z.len, rows * latent);
        assert_eq!(eps.len, rows * latent);
        let bufs = [h.buf, eps.buf, z.buf, row_kl.buf];
        assert!((0..4).all(|i| (i + 1..4).all(|j| bufs[i] != bufs[j])), "reparam_forward: buffers alias");
        self.touch(&[h], &[eps, z, row_kl]);
        let words = [
            0, h.offset as u32, z.offset as u32, 0, seed, stream, 0, 0,
            rows as u32, latent as u32, eps.offset as u32, row_kl.offset as u32, sample as u32, 0, 0, 0,
        ];
        self.record(
            "reparam_forward",
            &words,
            &[Self::buf(h), Self::buf(z), Self::buf(eps), Self::buf(row_kl)],
            (rows.div_ceil(64) as u32, 1, 1),
            4 * (h.len + z.len + eps.len + rows) as u64,
        );
    }

    fn reparam_backward(&mut self, h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32) {
        let rows = dz.len / latent.max(1);
        assert_eq!(h.len, rows * 2 * latent);
        assert_eq!(dh.len, h.len);
        assert_eq!(eps.len, dz.len);
        let bufs = [h.buf, eps.buf, dz.buf, dh.buf];
        assert!((0..4).all(|i| (i + 1..4).all(|j| bufs[i] != bufs[j])), "reparam_backward: buffers alias");
        self.touch(&[h, eps, dz], &[dh]);
        let words = [
            0, h.offset as u32, dh.offset as u32, 0, 0, 0, 0, 0,
            rows as u32, latent as u32, eps.offset as u32, 0, 0, scale.to_bits(), dz.offset as u32, 0,
        ];
        self.record(
            "reparam_backward",
            &words,
            &[Self::buf(h), Self::buf(dh), Self::buf(eps), Self::buf(dz)],
            Self::groups_1d(rows * latent),
            4 * (2 * h.len + eps.len + dz.len) as u64,
        );
    }

    fn argmax_correct(&mut self, out: View, target: View, cols: usize, row_out: View) {
        assert_eq!(out.len, target.len);
        assert_eq!(row_out.len * cols, out.len);
        assert!(row_out.buf != out.buf && row_out.buf != target.buf, "argmax_correct: output aliases an input");
        self.touch(&[out, target], &[row_out]);
        let words = [row_out.len as u32, cols as u32, out.offset as u32, target.offset as u32, row_out.offset as u32, 0, 0, 0];
        self.record(
            "argmax_correct",
            &words,
            &[Self::buf(out), Self::buf(target), Self::buf(row_out)],
            (row_out.len.div_ceil(64) as u32, 1, 1),
            4 * (2 * out.len + row_out.len) as u64,
        );
    }

    fn sgd_step(&mut self, params: View, grads: View, lr: f32) {
        assert_eq!(params.len, grads.len);
        self.check(params);
        self.check(grads);
        // Deferred weight gradients inside `grads` (and their biases): applied to the
        // weights by the fused product + update; what they do not cover, by the SGD pass.
        let fused = self.take_fusable(params, grads, &[params]);
        self.touch(&[grads, params], &[params]);
        let covered = self.record_fused_updates(Entry::MatmulSgd, fused, params, grads, &[], &[lr.to_bits()]);
        for (from, len) in Self::uncovered(covered, grads.len) {
            self.record_sgd(params.slice(from, len), grads.slice(from, len), lr);
        }
    }

    fn axpy(&mut self, x: View, y: View, a: f32) {
        assert_eq!(x.len, y.len, "axpy: {} values into {}", x.len, y.len);
        assert!(x.buf != y.buf, "axpy: x aliases y");
        self.check(x);
        self.check(y);
        // The L2 term of a deferred weight gradient: folded into it.
        if self.fuse {
            if let Some(i) = self.deferred.iter().position(|d| d.c == y && d.l2.is_none() && x.buf != d.a.buf && x.buf != d.b.buf) {
                let d = self.deferred.remove(i);
                self.touch(&[x], &[]);
                self.deferred.push(Deferred { l2: Some((x, a)), ..d });
                return;
            }
        }
        self.touch(&[x, y], &[y]);
        self.record_axpy(x, y, a);
    }

    fn momentum_step(&mut self, params: View, grads: View, vel: View, lr: f32, momentum: f32) {
        assert_eq!(params.len, grads.len);
        assert_eq!(params.len, vel.len);
        assert!(params.buf != vel.buf && params.buf != grads.buf && vel.buf != grads.buf, "momentum_step: buffers alias");
        self.touch(&[params, grads, vel], &[params, vel]);
        let words = [
            params.len as u32, grads.offset as u32, params.offset as u32, vel.offset as u32, 0, 0, 0, 0,
            lr.to_bits(), momentum.to_bits(), 0, 0, 0, 0, 0, 0,
        ];
        self.record("momentum_step", &words, &[Self::buf(grads), Self::buf(params), Self::buf(vel)], Self::groups_1d(params.len), 20 * params.len as u64);
    }

    fn adam_step(&mut self, params: View, grads: View, m: View, v: View, lr: f32, beta1: f32, beta2: f32, eps: f32, t: u64) {
        assert_eq!(params.len, grads.len);
        assert_eq!(params.len, m.len);
        assert_eq!(params.len, v.len);
        let bufs = [params.buf, grads.buf, m.buf, v.buf];
        assert!((0..4).all(|i| (i + 1..4).all(|j| bufs[i] != bufs[j])), "adam_step: buffers alias");
        self.check(params);
        self.check(grads);
        let (step, sqrt_bc2) = crate::core::ops::adam_scalars(lr, beta1, beta2, t);
        // Deferred weight gradients inside `grads`: applied by the fused product + Adam.
        let fused = self.take_fusable(params, grads, &[params, m, v]);
        self.touch(&[params, grads, m, v], &[params, m, v]);
        let shift = |x: View| (x.offset as u32).wrapping_sub(params.offset as u32);
        let update = [step.to_bits(), beta1.to_bits(), beta2.to_bits(), eps.to_bits(), sqrt_bc2.to_bits(), shift(m), shift(v)];
        let covered = self.record_fused_updates(Entry::MatmulAdam, fused, params, grads, &[m, v], &update);
        for (from, len) in Self::uncovered(covered, grads.len) {
            self.record_adam(params.slice(from, len), grads.slice(from, len), m.slice(from, len), v.slice(from, len), step, beta1, beta2, eps, sqrt_bc2);
        }
    }

    fn sum_into(&mut self, src: View, dst: View, accumulate: bool) {
        assert_eq!(dst.len, 1, "sum_into: destination must be one element");
        let reads = if accumulate { vec![src, dst] } else { vec![src] };
        self.touch(&reads, &[dst]);
        let words = [src.len as u32, 1, accumulate as u32, 0, src.offset as u32, dst.offset as u32, 0, 0];
        self.record("sum_into", &words, &[Self::buf(src), Self::buf(dst)], (1, 1, 1), 4 * (src.len + 1 + accumulate as usize) as u64);
    }

    fn copy(&mut self, src: View, dst: View) {
        assert_eq!(src.len, dst.len, "copy: {} values into {}", src.len, dst.len);
        self.touch(&[src], &[dst]);
        let words = [src.len as u32, src.offset as u32, 0, dst.offset as u32, 0, 0, 0, 0];
        self.record("copy", &words, &[Self::buf(src), Self::buf(dst)], Self::groups_1d(src.len), 8 * src.len as u64);
    }
}
