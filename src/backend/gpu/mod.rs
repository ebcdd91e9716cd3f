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
//!
//! The files: `context.rs` acquires the device; `kernels.rs` names every WGSL entry point
//! ([`Kernel`]) and puts the modules together, `params.rs` holds each module's parameter
//! block; `encode.rs` holds what a recorded op is made of (pipelines, bindings, records)
//! and `recorder.rs` encodes, submits and reads back; `deferred.rs` is a deferred weight
//! gradient and its rules, `fusion.rs` records them; the op files `buffers.rs`, `layers.rs`, `losses.rs`, `optim.rs`
//! implement the four op families of `backend` (one file each); `tune.rs` picks a matmul
//! variant per shape and `timing.rs` measures device time.

mod buffers;
pub mod context;
mod deferred;
mod encode;
mod fusion;
pub mod kernels;
mod layers;
mod losses;
mod optim;
pub mod params;
mod recorder;
pub mod timing;
pub mod tune;

use std::collections::{HashMap, HashSet};

use super::{View, WorkCounters};
pub use context::GpuContext;
pub use kernels::{MatmulEntry, Kernel, ShapeKey, Variant, SHADERS};
pub use encode::{DeviceProfile, OpTime};
use encode::Res;
pub use timing::Clock;
pub use tune::{tuned_variants, Tuned};

/// The GPU backend: the device, its pipelines and buffers, and the work recorded since the
/// last submission.
pub struct GpuBackend {
    ctx: GpuContext,
    /// Bind group layouts by the read-only flags of their storage bindings.
    layouts: Vec<(Vec<bool>, wgpu::BindGroupLayout)>,
    pipelines: Vec<encode::Pipeline>,
    /// The kernels built so far (every op-family one, the matmul variants used), by kernel
    /// (indices into `pipelines`).
    built: HashMap<Kernel, usize>,
    bufs: Vec<wgpu::Buffer>,
    /// Datasets: buffer, row width, rows, and whether it holds f32 (else u8 packed 4 per word).
    data: Vec<(wgpu::Buffer, usize, usize, bool)>,
    params_buf: wgpu::Buffer,
    idx_buf: wgpu::Buffer,
    /// What the unused bindings of a matmul entry point are bound to (see `Res::Filler`).
    fillers: [wgpu::Buffer; 3],
    params: Vec<u8>,
    idx: Vec<u32>,
    records: Vec<encode::Record>,
    bind_groups: HashMap<(usize, Vec<Res>), wgpu::BindGroup>,
    /// Dispatches, estimated bytes moved and submissions since the start.
    counters: WorkCounters,
    /// `AEPLAY_GPU_KERNELS` or the caller's: the one matmul variant to use.
    forced: Option<Variant>,
    /// Fused ops and deferred weight gradients (`AEPLAY_GPU_FUSE=0` turns them off).
    fuse: bool,
    deferred: Vec<deferred::Deferred>,
    /// The variant each product shape ran with so far.
    used: std::collections::BTreeMap<ShapeKey, Variant>,
    profiling: Option<encode::Profiling>,
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
        let params_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("op parameters"),
            size: encode::SLOT * encode::SLOTS as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let idx_buf = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("batch indices"),
            size: 4 * encode::IDX_WORDS as u64,
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
            pipelines: Vec::new(),
            built: HashMap::new(),
            bufs: Vec::new(),
            data: Vec::new(),
            params_buf,
            idx_buf,
            params: Vec::with_capacity(encode::SLOT as usize * 64),
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
        be.build_fixed();
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
    pub fn kernels_used(&self) -> Vec<(ShapeKey, Variant)> {
        self.used.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Dispatches recorded, bytes they move (estimated) and submissions made so far.
    pub fn counters(&self) -> WorkCounters {
        self.counters
    }


    /// The subgroup size the subgroup variant is built for (1 where there is none).
    fn subgroup_size(&self) -> u32 {
        self.ctx.subgroup_size().unwrap_or(1)
    }

    /// Variants this device can run.
    pub fn variants(&self) -> Vec<Variant> {
        Variant::ALL.into_iter().filter(|v| !v.needs_subgroups() || self.ctx.subgroup_size().is_some()).collect()
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

    /// Panics unless `v` lies in a live buffer.
    fn check(&self, v: View) {
        assert!(!self.freed_bufs.contains(&v.buf.0), "GPU backend: buffer {} was freed", v.buf.0);
        let size = self.bufs[v.buf.0 as usize].size() / 4;
        assert!((v.offset + v.len) as u64 <= size.max(1), "view {v:?} is out of its buffer of {size}");
    }
}

/// Panics unless the four views lie in distinct buffers (the kernel writes some of them).
fn assert_apart(op: &str, views: [View; 4]) {
    let bufs = views.map(|v| v.buf);
    assert!((0..4).all(|i| (i + 1..4).all(|j| bufs[i] != bufs[j])), "{op}: buffers alias");
}
