//! What a recorded op is made of, apart from the backend that records it: a built kernel
//! (`Pipeline`), the bindings of a dispatch (`Res`, a product's `Operands`), one recorded
//! dispatch (`Record`), the per-op device times while profiling, the sizes of the
//! per-submission arenas, and the 1-D dispatch size. `recorder.rs` uses them to encode,
//! submit and read back; the op files to say what they bind.

use std::collections::HashMap;

use super::timing::{self, Clock};
use crate::backend::View;

/// Bytes per parameter slot (the dynamic-offset alignment WebGPU guarantees).
pub(super) const SLOT: u64 = 256;
/// Parameter slots per submission; recording more flushes first.
pub(super) const SLOTS: usize = 4096;
/// Dispatches per submission while timing each op (two timestamps each; WebGPU allows
/// 4,096 queries per set).
pub(super) const PROFILE_SLOTS: usize = 2048;
/// u32 words of batch indices per submission.
pub(super) const IDX_WORDS: usize = 1 << 18;

/// A built kernel.
pub(super) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    /// Index into `GpuBackend::layouts`.
    pub layout: usize,
}

/// A binding of an op: a buffer of ours, a dataset, the index arena, or one of the small
/// buffers that fill a matmul's unused bindings (0: read-only, 1 and 2: written; apart,
/// since writable bindings of one dispatch must not alias).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Res {
    Buf(u32),
    Data(u32),
    Idx,
    Filler(u8),
}

impl Res {
    /// The buffer a view lies in.
    pub fn of(v: View) -> Res {
        Res::Buf(v.buf.0)
    }
}

/// One recorded dispatch.
pub(super) struct Record {
    pub pipeline: usize,
    pub bind_group: wgpu::BindGroup,
    pub slot: u32,
    pub groups: (u32, u32, u32),
    /// Index into the profile's op names (u32::MAX when not profiling).
    pub label: u32,
}

impl Record {
    pub fn run(&self, pass: &mut wgpu::ComputePass, pipelines: &[Pipeline]) {
        pass.set_pipeline(&pipelines[self.pipeline].pipeline);
        pass.set_bind_group(0, &self.bind_group, &[self.slot]);
        pass.dispatch_workgroups(self.groups.0, self.groups.1, self.groups.2);
    }
}

/// Per-op device time being collected (see [`GpuBackend::start_profile`]).
#[derive(Default)]
pub(super) struct Profiling {
    pub names: Vec<String>,
    pub index: HashMap<String, u32>,
    /// Submitted timestamp sets not read yet, with each dispatch's op name.
    pub pending: Vec<(timing::Stamps, Vec<u32>)>,
    /// (calls, seconds) per op name.
    pub totals: Vec<(u64, f64)>,
}

impl Profiling {
    pub fn label(&mut self, name: String) -> u32 {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        self.names.push(name.clone());
        self.totals.push((0, 0.0));
        self.index.insert(name, self.names.len() as u32 - 1);
        self.names.len() as u32 - 1
    }

    pub fn add(&mut self, label: u32, seconds: f64) {
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

/// Workgroups for `len` elements at 256 per group, folded into 2-D past the 65,535 limit
/// (common.wgsl's `index` unfolds them).
pub(super) fn groups_1d(len: usize) -> (u32, u32, u32) {
    let groups = len.div_ceil(256) as u32;
    if groups <= 65_535 {
        (groups, 1, 1)
    } else {
        (65_535, groups.div_ceil(65_535), 1)
    }
}

/// The buffers of one product: A, B and C, and the epilogue's: `aux` (the bias of
/// linear_forward, the previous layer's output of linear_backward) and Adam's moments m
/// and v (matmul_adam).
pub(super) struct Operands {
    pub a: View,
    pub b: View,
    pub c: View,
    pub aux: Option<View>,
    pub moments: Option<(View, View)>,
}
