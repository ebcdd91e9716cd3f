//! Picking the matmul variant per adapter and shape. On first use of a product shape
//! (natively, for products big enough to time) every variant the device can run that
//! suits it (on a software adapter: the barrier-free ones) is timed on it, the default
//! first: a warm-up dispatch, then the best of a few runs of several
//! dispatches each, on scratch buffers, with device time ([`super::timing`]). The fastest is cached in memory per adapter and
//! shape, for every backend made on that adapter. Before a variant is timed for the first
//! time on an adapter, its output on a small odd-shaped product is checked against the
//! scalar reference; one that disagrees is never picked. In the browser nothing may block:
//! the heuristic choice is used until the page awaits [`GpuBackend::tune_for`] (its trial).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::kernels::{self, MatmulEntry, Kernel, ShapeKey, Variant};
use super::params::MatmulParams;
use super::encode::SLOT;
use super::timing::{self, Clock};
use super::{GpuBackend, GpuContext};
use crate::core::layout::ParamLayout;
use crate::core::{ModelConfig, Optimizer};


/// A tuned shape: the variant picked and every candidate's seconds per dispatch (None: not
/// timed further after a slow warm-up, or failed the check).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Tuned {
    pub shape: ShapeKey,
    pub variant: Variant,
    pub clock: Clock,
    pub seconds: Vec<(Variant, Option<f64>)>,
}

#[derive(Default)]
struct Cache {
    tuned: HashMap<(String, ShapeKey), Tuned>,
    /// Whether a variant computed the reference product correctly on an adapter.
    verified: HashMap<(String, Variant), bool>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Every shape tuned so far on `ctx`'s adapter.
pub fn tuned_variants(ctx: &GpuContext) -> Vec<Tuned> {
    let key = ctx.adapter_key();
    let c = cache().lock().unwrap();
    let mut out: Vec<Tuned> = c.tuned.iter().filter(|((a, _), _)| *a == key).map(|(_, t)| t.clone()).collect();
    out.sort_by_key(|t| t.shape);
    out
}

/// The products of one training step of `cfg` at `batch`, as the model records them.
pub fn step_shapes(cfg: &ModelConfig, batch: usize) -> Vec<ShapeKey> {
    let layout = ParamLayout::new(cfg);
    // SGD and Adam take a weight gradient into the fused update (timed as matmul_sgd).
    let fused = matches!(cfg.optimizer, Optimizer::Sgd { .. } | Optimizer::Adam { .. });
    let mut out = Vec::new();
    for (l, s) in layout.dense.iter().enumerate() {
        let (k, n) = (s.fan_in, s.fan_out);
        out.push(ShapeKey { m: batch, k, n, ta: false, tb: s.transposed, sgd: false });
        let shared = !s.transposed && layout.dense.iter().any(|o| o.transposed && o.w == s.w);
        if s.transposed {
            out.push(ShapeKey { m: n, k: batch, n: k, ta: true, tb: false, sgd: false });
        } else {
            out.push(ShapeKey { m: k, k: batch, n, ta: true, tb: false, sgd: fused && !shared });
        }
        if l > 0 {
            out.push(ShapeKey { m: batch, k: n, n: k, ta: false, tb: !s.transposed, sgd: false });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Deterministic values in [-0.5, 0.5) for scratch operands.
fn scratch_values(len: usize, seed: u32) -> Vec<f32> {
    (0..len).map(|i| crate::core::rng::uniform(seed, 7, i as u32) - 0.5).collect()
}

impl GpuBackend {
    /// The variant for a product: the forced one, the cached tuned one, or (natively, for a
    /// product big enough to time) the fastest after tuning now; else the heuristic.
    pub(super) fn variant_for(&mut self, key: ShapeKey) -> Variant {
        if let Some(v) = self.forced {
            return v;
        }
        let adapter = self.ctx.adapter_key();
        if let Some(t) = cache().lock().unwrap().tuned.get(&(adapter, key)) {
            return t.variant;
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            if key.flops() >= kernels::TUNE_MIN_FLOPS {
                match pollster::block_on(self.tune(key)) {
                    Ok(t) => return t.variant,
                    Err(e) => eprintln!("GPU kernel tuning of {} failed ({e}); using the default kernel", key.describe()),
                }
            }
            // Natively the default is checked too (once per adapter), with `direct` as the
            // last resort.
            let first = self.heuristic(key);
            for v in [first, Variant::Direct] {
                if pollster::block_on(self.verify(v)).unwrap_or(false) {
                    return v;
                }
            }
            Variant::Direct
        }
        #[cfg(target_arch = "wasm32")]
        self.heuristic(key)
    }

    fn heuristic(&self, key: ShapeKey) -> Variant {
        kernels::heuristic(self.ctx.is_cpu_adapter(), self.ctx.subgroup_size().is_some(), key.m, key.k)
    }

    /// Tunes the products of a training step of `cfg` at `batch` that are big enough to
    /// time (what first use does natively; the page awaits this during its trial).
    pub async fn tune_for(&mut self, cfg: &ModelConfig, batch: usize) -> Result<Vec<Tuned>, String> {
        let mut out = Vec::new();
        for key in step_shapes(cfg, batch) {
            if self.forced.is_none() && key.flops() >= kernels::TUNE_MIN_FLOPS {
                out.push(self.tune(key).await?);
            }
        }
        Ok(out)
    }

    /// Times every variant this device can run (and that passed its check) on `key`, and
    /// caches the fastest for this adapter.
    pub async fn tune(&mut self, key: ShapeKey) -> Result<Tuned, String> {
        let adapter = self.ctx.adapter_key();
        if let Some(t) = cache().lock().unwrap().tuned.get(&(adapter.clone(), key)) {
            return Ok(t.clone());
        }
        let mut seconds = Vec::new();
        let mut best: Option<(Variant, f64)> = None;
        let mut clock = self.ctx.clock();
        // The default first, so that a slow candidate is given up after its warm-up; on a
        // software adapter only the barrier-free ones.
        let first = self.heuristic(key);
        let software = self.ctx.is_cpu_adapter();
        let mut candidates: Vec<Variant> = self.variants().into_iter().filter(|v| !software || v.barrier_free()).collect();
        candidates.sort_by_key(|&v| v != first);
        for v in candidates {
            if !v.suits(self.subgroup_size(), key.k) || !self.verify(v).await? {
                seconds.push((v, None));
                continue;
            }
            let (warm, c) = self.time_variant(v, key, 1).await?;
            clock = c;
            if best.is_some_and(|(_, b)| warm > kernels::TUNE_GIVE_UP * b) {
                seconds.push((v, None));
                continue;
            }
            let reps = ((kernels::TUNE_RUN_SECONDS / warm.max(1e-9)) as u32).clamp(1, kernels::TUNE_MAX_REPS);
            let mut t = f64::INFINITY;
            for _ in 0..kernels::TUNE_RUNS {
                t = t.min(self.time_variant(v, key, reps).await?.0);
            }
            seconds.push((v, Some(t)));
            if best.is_none_or(|(_, b)| t < b) {
                best = Some((v, t));
            }
        }
        let variant = best.map_or_else(|| self.heuristic(key), |(v, _)| v);
        let tuned = Tuned { shape: key, variant, clock, seconds };
        cache().lock().unwrap().tuned.insert((adapter, key), tuned.clone());
        Ok(tuned)
    }

    /// Seconds per dispatch of variant `v` on a product of shape `key` (operands in scratch
    /// buffers; `reps` dispatches in one pass), and how it was timed.
    pub async fn time_variant(&mut self, v: Variant, key: ShapeKey, reps: u32) -> Result<(f64, Clock), String> {
        let entry = if key.sgd { MatmulEntry::MatmulSgd } else { MatmulEntry::Matmul };
        let run = self.scratch_run(v, entry, key, None)?;
        let kernel = &self.pipelines[run.kernel].pipeline;
        let (secs, clock) = timing::time_pass(&self.ctx, &|pass| {
            pass.set_pipeline(kernel);
            pass.set_bind_group(0, &run.bind_group, &[0]);
            for _ in 0..reps.max(1) {
                pass.dispatch_workgroups(run.groups.0, run.groups.1, run.groups.2);
            }
        })
        .await?;
        Ok((secs / reps.max(1) as f64, clock))
    }

    /// Whether `v` computes products right on this adapter (checked once per adapter): a
    /// 37×45×29 product in each transpose form against the scalar reference.
    async fn verify(&mut self, v: Variant) -> Result<bool, String> {
        let adapter = self.ctx.adapter_key();
        if let Some(&ok) = cache().lock().unwrap().verified.get(&(adapter.clone(), v)) {
            return Ok(ok);
        }
        // A module or pipeline the driver rejects is a failed check, not a device fault.
        let scope = self.ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut ok = true;
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let key = ShapeKey { m: 37, k: 45, n: 29, ta, tb, sgd: false };
            let (a, b) = (scratch_values(key.m * key.k, 1), scratch_values(key.k * key.n, 2));
            let mut want = vec![0.0f32; key.m * key.n];
            crate::core::ops::matmul(&a, &b, &mut want, key.gemm());
            let run = self.scratch_run(v, MatmulEntry::Matmul, key, Some((&a, &b)))?;
            let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("check"),
                size: (want.len() * 4) as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("check") });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("check"), timestamp_writes: None });
                pass.set_pipeline(&self.pipelines[run.kernel].pipeline);
                pass.set_bind_group(0, &run.bind_group, &[0]);
                pass.dispatch_workgroups(run.groups.0, run.groups.1, run.groups.2);
            }
            enc.copy_buffer_to_buffer(&run.c, 0, &staging, 0, (want.len() * 4) as u64);
            self.ctx.queue.submit([enc.finish()]);
            let bytes = timing::map_bytes(&self.ctx.device, staging, want.len() * 4).await?;
            let got = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            ok &= got.zip(&want).all(|(g, &w)| (g - w).abs() <= 1e-4 * w.abs().max(1.0));
        }
        if let Some(e) = scope.pop().await {
            eprintln!("GPU kernel variant '{}' does not build on {} ({e}): not used", v.name(), self.ctx.adapter_label());
            ok = false;
        } else if !ok {
            eprintln!("GPU kernel variant '{}' computed a wrong product on {}: not used", v.name(), self.ctx.adapter_label());
        }
        cache().lock().unwrap().verified.insert((adapter, v), ok);
        Ok(ok)
    }

    /// Scratch operands, parameter block and bind group for one dispatch of `v`'s `entry`
    /// on shape `key` (operands `ab` if given, else made-up values).
    fn scratch_run(&mut self, v: Variant, entry: MatmulEntry, key: ShapeKey, ab: Option<(&[f32], &[f32])>) -> Result<ScratchRun, String> {
        let ShapeKey { m, k, n, .. } = key;
        if m == 0 || n == 0 {
            return Err("an empty product".into());
        }
        let kernel = self.pipeline(Kernel::Matmul(v, entry));
        let device = &self.ctx.device;
        let upload = |data: &[f32], label: &str| {
            let buf = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (data.len().max(1) * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
            if !bytes.is_empty() {
                self.ctx.queue.write_buffer(&buf, 0, &bytes);
            }
            buf
        };
        let (a, b) = match ab {
            Some((a, b)) => (upload(a, "scratch A"), upload(b, "scratch B")),
            None => (upload(&scratch_values(m * k, 3), "scratch A"), upload(&scratch_values(k * n, 4), "scratch B")),
        };
        let c = upload(&scratch_values(m * n + n, 5), "scratch C");
        // matmul_sgd: C is m×n weights followed by n biases, lr small.
        let epilogue = MatmulParams { bias_off: (m * n) as u32, has_bias: (entry == MatmulEntry::MatmulSgd) as u32, lr: 1e-6, ..Default::default() };
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("scratch parameters"),
            size: SLOT,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut block = bytemuck::bytes_of(&epilogue.with_product(key.gemm())).to_vec();
        block.resize(SLOT as usize, 0);
        self.ctx.queue.write_buffer(&params, 0, &block);
        let layout = &self.layouts[self.pipelines[kernel].layout].1;
        let entries: Vec<wgpu::BindGroupEntry> = [&params, &a, &b, &c, &self.fillers[0], &self.fillers[1], &self.fillers[2]]
            .iter()
            .enumerate()
            .map(|(i, buf)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: if i == 0 {
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer: buf, offset: 0, size: std::num::NonZeroU64::new(SLOT) })
                } else {
                    buf.as_entire_binding()
                },
            })
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some("scratch"), layout, entries: &entries });
        let groups = v.groups(self.subgroup_size(), m, n);
        Ok(ScratchRun { kernel, bind_group, groups, c })
    }
}

struct ScratchRun {
    kernel: usize,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32, u32),
    c: wgpu::Buffer,
}
