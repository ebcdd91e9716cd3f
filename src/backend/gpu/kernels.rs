//! The kernels and their WGSL modules: [`Kernel`] names every entry point the backend
//! dispatches (its module, parameter block and bindings' access), and the shader files are
//! put together here (validated by naga in tests/shaders.rs). An op-family module is the
//! shared prelude `common.wgsl` and its file (with `act.wgsl` for activation.wgsl). The
//! matrix-product kernels come in variants (tile shapes, barrier-free, split-k, subgroups),
//! each its own module: a header of constants, `act.wgsl`, `matmul.wgsl` (bindings,
//! epilogues, entry points) and the variant's body. Which variant runs a product is picked
//! per adapter and shape (see `tune.rs`); tuning constants live here, apart from the code.

use super::params::Shader;
use crate::core::ops::Gemm;

/// Every WGSL file, by name.
pub const SHADERS: &[(&str, &str)] = &[
    ("common.wgsl", include_str!("../../../shaders/common.wgsl")),
    ("act.wgsl", include_str!("../../../shaders/act.wgsl")),
    ("matmul.wgsl", include_str!("../../../shaders/matmul.wgsl")),
    ("matmul_tiled.wgsl", include_str!("../../../shaders/matmul_tiled.wgsl")),
    ("matmul_direct.wgsl", include_str!("../../../shaders/matmul_direct.wgsl")),
    ("matmul_ksplit.wgsl", include_str!("../../../shaders/matmul_ksplit.wgsl")),
    ("matmul_ksplit_sum.wgsl", include_str!("../../../shaders/matmul_ksplit_sum.wgsl")),
    ("matmul_ksplit_subgroup.wgsl", include_str!("../../../shaders/matmul_ksplit_subgroup.wgsl")),
    ("activation.wgsl", include_str!("../../../shaders/activation.wgsl")),
    ("loss.wgsl", include_str!("../../../shaders/loss.wgsl")),
    ("reduce.wgsl", include_str!("../../../shaders/reduce.wgsl")),
    ("elementwise.wgsl", include_str!("../../../shaders/elementwise.wgsl")),
    ("gather.wgsl", include_str!("../../../shaders/gather.wgsl")),
    ("optim.wgsl", include_str!("../../../shaders/optim.wgsl")),
    ("noise.wgsl", include_str!("../../../shaders/noise.wgsl")),
    ("classify.wgsl", include_str!("../../../shaders/classify.wgsl")),
];

fn file(name: &str) -> &'static str {
    SHADERS.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no shader file {name}")).1
}

/// A module to compile: its name (a file, or "matmul[variant]"), its source, and whether it
/// needs wgpu's SUBGROUP feature (naga's `Capabilities::SUBGROUP`).
#[derive(Clone, Debug)]
pub struct Module {
    pub name: String,
    pub source: String,
    pub subgroups: bool,
}

/// The module of an op-family file: the shared prelude (`common.wgsl`), the activation
/// functions where used, then the file.
pub fn fixed_module(shader: Shader) -> Module {
    assert!(shader != Shader::Matmul, "the matrix products are built per variant: matmul_module");
    let mut parts = vec![file("common.wgsl")];
    if shader == Shader::Activation {
        parts.push(file("act.wgsl"));
    }
    parts.push(file(shader.file()));
    Module { name: shader.file().into(), source: parts.join("\n"), subgroups: false }
}

/// Every module the backend can build: the op families and each matmul variant (the
/// subgroup one for a subgroup size of `subgroup_size`).
pub fn all_modules(subgroup_size: u32) -> Vec<Module> {
    let mut out: Vec<Module> = super::params::ALL.into_iter().filter(|&s| s != Shader::Matmul).map(fixed_module).collect();
    out.extend(Variant::ALL.iter().map(|&v| matmul_module(v, subgroup_size)));
    out
}

/// A matrix-product kernel variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// 64×64 blocks of C per workgroup in workgroup memory, 4×4 per invocation: large products.
    Tiled,
    /// 64×64 blocks, 8×4 per invocation (128 invocations): more arithmetic per value read.
    Tiled8,
    /// 16×64 blocks: more workgroups for a batch of 16–64 rows.
    Narrow,
    /// No workgroup memory, no barriers, 4×4 per invocation: software adapters.
    Direct,
    /// `Direct` with 8×4 per invocation (fewer loads per multiply-add).
    Direct8,
    /// 8×4 blocks with the reduction split over 64 invocations (workgroup-memory sum): few
    /// rows and a long reduction.
    Ksplit,
    /// `Ksplit` with the sum done by subgroup operations, one subgroup per workgroup.
    KsplitSubgroup,
}

/// Shape of a variant's work: invocations per workgroup (wgx × wgy), rows per invocation
/// block (tm), reduction depth staged per slice (bk), and the block of C per workgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The variant's body files, in order.
    pub body: &'static [&'static str],
    pub wgx: u32,
    pub wgy: u32,
    pub tm: u32,
    pub bk: u32,
    /// Rows and columns of C per workgroup.
    pub block_rows: u32,
    pub block_cols: u32,
}

impl Variant {
    pub const ALL: [Variant; 7] = [Variant::Tiled, Variant::Tiled8, Variant::Narrow, Variant::Direct, Variant::Direct8, Variant::Ksplit, Variant::KsplitSubgroup];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Tiled => "tiled",
            Variant::Tiled8 => "tiled8",
            Variant::Narrow => "narrow",
            Variant::Direct => "direct",
            Variant::Direct8 => "direct8",
            Variant::Ksplit => "ksplit",
            Variant::KsplitSubgroup => "ksplit_subgroup",
        }
    }

    pub fn from_name(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }

    /// Needs wgpu's SUBGROUP feature and a fixed subgroup size.
    pub fn needs_subgroups(self) -> bool {
        self == Variant::KsplitSubgroup
    }

    /// The work shape for an adapter whose subgroups have `subgroup_size` invocations.
    pub fn geometry(self, subgroup_size: u32) -> Geometry {
        let g = |body: &'static [&'static str], wgx, wgy, tm, bk| Geometry { body, wgx, wgy, tm, bk, block_rows: wgy * tm, block_cols: wgx * 4 };
        match self {
            Variant::Tiled => g(&["matmul_tiled.wgsl"], 16, 16, 4, 16),
            Variant::Tiled8 => g(&["matmul_tiled.wgsl"], 16, 8, 8, 16),
            Variant::Narrow => g(&["matmul_tiled.wgsl"], 16, 4, 4, 16),
            Variant::Direct => g(&["matmul_direct.wgsl"], 8, 8, 4, 1),
            Variant::Direct8 => g(&["matmul_direct.wgsl"], 8, 8, 8, 1),
            Variant::Ksplit => Geometry { body: &["matmul_ksplit.wgsl", "matmul_ksplit_sum.wgsl"], wgx: 64, wgy: 1, tm: 8, bk: 1, block_rows: 8, block_cols: 4 },
            Variant::KsplitSubgroup => {
                let sg = subgroup_size.clamp(1, 128);
                let tm = sg.min(8);
                Geometry { body: &["matmul_ksplit.wgsl", "matmul_ksplit_subgroup.wgsl"], wgx: sg, wgy: 1, tm, bk: 1, block_rows: tm, block_cols: 4 }
            }
        }
    }

    /// Worth timing on a product with a reduction of `k`: the split-k variants need at
    /// least two terms per invocation (else most of each workgroup idles).
    pub fn suits(self, subgroup_size: u32, k: usize) -> bool {
        match self {
            Variant::Ksplit | Variant::KsplitSubgroup => k >= 2 * self.geometry(subgroup_size).wgx as usize,
            _ => true,
        }
    }

    /// Has no workgroup barrier: the only kind worth timing on a software adapter, where a
    /// barrier switches between emulated invocations (and the others are 2–10× slower on
    /// lavapipe and SwiftShader, BENCHMARKS.md).
    pub fn barrier_free(self) -> bool {
        matches!(self, Variant::Direct | Variant::Direct8 | Variant::KsplitSubgroup)
    }

    /// Workgroups for an m×n product.
    pub fn groups(self, subgroup_size: u32, m: usize, n: usize) -> (u32, u32, u32) {
        let g = self.geometry(subgroup_size);
        (n.div_ceil(g.block_cols as usize) as u32, m.div_ceil(g.block_rows as usize) as u32, 1)
    }
}

/// The module of a matmul variant: constants, activation functions, the shared part, the body.
pub fn matmul_module(v: Variant, subgroup_size: u32) -> Module {
    let g = v.geometry(subgroup_size);
    let header = format!(
        "// matmul variant '{}' (generated by gpu::kernels::matmul_module)\nconst TM: u32 = {}u;\nconst WGX: u32 = {}u;\nconst WGY: u32 = {}u;\nconst BK: u32 = {}u;\n",
        v.name(),
        g.tm,
        g.wgx,
        g.wgy,
        g.bk
    );
    let parts: Vec<&str> = std::iter::once("matmul.wgsl").chain(g.body.iter().copied()).map(file).collect();
    let body = unroll(&parts.join("\n"), g.tm);
    let source = [header.as_str(), file("act.wgsl"), &body].join("\n");
    Module { name: format!("matmul[{}]", v.name()), source, subgroups: v.needs_subgroups() }
}

/// Unrolls the matmul sources (see matmul.wgsl): a line with `$r` is repeated for r = 0 ..
/// tm−1 (`$r/4` and `$r%4` giving r's vec4 and lane), one with `$q` for q = 0 .. tm/4−1,
/// one with `$j` for j = 0 .. 3. Comment lines are left as they are.
pub fn unroll(src: &str, tm: u32) -> String {
    let mut out = String::with_capacity(src.len() * 2);
    for line in src.lines() {
        let code = !line.trim_start().starts_with("//");
        let marks: Vec<&str> = ["$r", "$q", "$j"].into_iter().filter(|m| code && line.contains(m)).collect();
        assert!(marks.len() <= 1, "a matmul source line mixes unroll markers: {line}");
        let (copies, mark) = match marks.first() {
            None => (1, ""),
            Some(&"$r") => (tm, "$r"),
            Some(&"$q") => (tm.div_ceil(4), "$q"),
            Some(_) => (4, "$j"),
        };
        for i in 0..copies {
            let l = if mark.is_empty() {
                line.to_string()
            } else {
                line.replace(&format!("{mark}/4"), &(i / 4).to_string()).replace(&format!("{mark}%4"), &(i % 4).to_string()).replace(mark, &i.to_string())
            };
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// Every WGSL entry point the backend dispatches: the op-family kernels, and the matrix
/// products by variant and entry point. Each names its shader module (and so its
/// parameter block, `params.rs`), entry point and the access of its storage bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    BiasActForward,
    ActBackward,
    LossForwardBackward,
    BiasGrad,
    SumInto,
    Noise,
    ReparamForward,
    ReparamBackward,
    ArgmaxCorrect,
    SparsityGrad,
    /// A u8 dataset's rows, scaled by 1/255.
    GatherForward,
    GatherF32,
    GatherOnehot,
    SgdStep,
    Copy,
    Axpy,
    MomentumStep,
    AdamStep,
    Matmul(Variant, MatmulEntry),
}

impl Kernel {
    /// The op-family kernels (built when the backend is made; a matmul variant's on first use).
    pub const FIXED: [Kernel; 18] = [
        Kernel::BiasActForward,
        Kernel::ActBackward,
        Kernel::LossForwardBackward,
        Kernel::BiasGrad,
        Kernel::SumInto,
        Kernel::Noise,
        Kernel::ReparamForward,
        Kernel::ReparamBackward,
        Kernel::ArgmaxCorrect,
        Kernel::SparsityGrad,
        Kernel::GatherF32,
        Kernel::GatherOnehot,
        Kernel::SgdStep,
        Kernel::Copy,
        Kernel::GatherForward,
        Kernel::Axpy,
        Kernel::MomentumStep,
        Kernel::AdamStep,
    ];

    /// The WGSL function it runs.
    pub fn entry(self) -> &'static str {
        match self {
            Kernel::BiasActForward => "bias_act_forward",
            Kernel::ActBackward => "act_backward",
            Kernel::LossForwardBackward => "loss_forward_backward",
            Kernel::BiasGrad => "bias_grad",
            Kernel::SumInto => "sum_into",
            Kernel::Noise => "noise",
            Kernel::ReparamForward => "reparam_forward",
            Kernel::ReparamBackward => "reparam_backward",
            Kernel::ArgmaxCorrect => "argmax_correct",
            Kernel::SparsityGrad => "sparsity_grad",
            Kernel::GatherForward => "gather_forward",
            Kernel::GatherF32 => "gather_f32",
            Kernel::GatherOnehot => "gather_onehot",
            Kernel::SgdStep => "sgd_step",
            Kernel::Copy => "copy",
            Kernel::Axpy => "axpy",
            Kernel::MomentumStep => "momentum_step",
            Kernel::AdamStep => "adam_step",
            Kernel::Matmul(_, e) => e.name(),
        }
    }

    /// The module whose `struct Params` it reads (for an op-family kernel, also the file
    /// that holds it).
    pub fn shader(self) -> Shader {
        match self {
            Kernel::BiasActForward | Kernel::ActBackward => Shader::Activation,
            Kernel::LossForwardBackward => Shader::Loss,
            Kernel::BiasGrad | Kernel::SumInto => Shader::Reduce,
            Kernel::Noise | Kernel::ReparamForward | Kernel::ReparamBackward => Shader::Noise,
            Kernel::ArgmaxCorrect | Kernel::SparsityGrad => Shader::Classify,
            Kernel::GatherForward | Kernel::GatherF32 | Kernel::GatherOnehot => Shader::Gather,
            Kernel::SgdStep | Kernel::Copy => Shader::Elementwise,
            Kernel::Axpy | Kernel::MomentumStep | Kernel::AdamStep => Shader::Optim,
            Kernel::Matmul(..) => Shader::Matmul,
        }
    }

    /// Read-only flags of its storage bindings 1.. (binding 0 is the parameter block).
    pub fn read_only(self) -> &'static [bool] {
        match self {
            Kernel::BiasActForward | Kernel::ActBackward | Kernel::ArgmaxCorrect | Kernel::SparsityGrad => &[true, true, false],
            Kernel::GatherForward | Kernel::GatherF32 | Kernel::GatherOnehot => &[true, true, false],
            Kernel::LossForwardBackward => &[true, true, false, false],
            Kernel::BiasGrad | Kernel::SumInto | Kernel::Noise | Kernel::SgdStep | Kernel::Copy | Kernel::Axpy => &[true, false],
            Kernel::ReparamForward | Kernel::ReparamBackward | Kernel::AdamStep => &[true, false, false, false],
            Kernel::MomentumStep => &[true, false, false],
            Kernel::Matmul(_, e) => e.read_only(),
        }
    }
}

/// The entry points of every matmul module, with the read-only flags of bindings 1..
/// (binding 0 is the parameter block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulEntry {
    Matmul,
    LinearForward,
    LinearBackward,
    MatmulSgd,
    MatmulAdam,
}

impl MatmulEntry {
    pub const ALL: [MatmulEntry; 5] = [MatmulEntry::Matmul, MatmulEntry::LinearForward, MatmulEntry::LinearBackward, MatmulEntry::MatmulSgd, MatmulEntry::MatmulAdam];

    pub fn name(self) -> &'static str {
        match self {
            MatmulEntry::Matmul => "matmul",
            MatmulEntry::LinearForward => "linear_forward",
            MatmulEntry::LinearBackward => "linear_backward",
            MatmulEntry::MatmulSgd => "matmul_sgd",
            MatmulEntry::MatmulAdam => "matmul_adam",
        }
    }

    /// Read-only flags of bindings 1.. (binding 0 is the parameter block): the same for
    /// every entry point (A, B, C, aux, m, v), since the epilogues share code that names
    /// them all; an entry point's unused ones get small filler buffers.
    pub fn read_only(self) -> &'static [bool] {
        &[true, true, false, true, false, false]
    }
}

/// Products below this many flops are not tuned (timing them says little): they take the
/// heuristic choice.
pub const TUNE_MIN_FLOPS: f64 = 4.0e6;
/// Timed runs per candidate when tuning (after one warm-up dispatch), best kept.
pub const TUNE_RUNS: u32 = 5;
/// Seconds a timed run aims at (dispatches per run: this over the warm-up's time, 1 to
/// `TUNE_MAX_REPS`).
pub const TUNE_RUN_SECONDS: f64 = 2e-3;
pub const TUNE_MAX_REPS: u32 = 16;
/// A candidate whose warm-up takes this many times the best so far is not timed further.
pub const TUNE_GIVE_UP: f64 = 4.0;

/// The variant to use without timing: barrier-free 8×4 blocks on software adapters (the
/// fastest on SwiftShader for every product of a `dae_vincent` step, BENCHMARKS.md); on a
/// GPU, split-k for a few rows and a long reduction, 16-row tiles for a small batch, 64×64
/// tiles otherwise.
pub fn heuristic(software: bool, subgroups: bool, m: usize, k: usize) -> Variant {
    if software {
        Variant::Direct8
    } else if m <= 64 && k >= 256 {
        if subgroups { Variant::KsplitSubgroup } else { Variant::Ksplit }
    } else if m <= 64 {
        Variant::Narrow
    } else {
        Variant::Tiled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_geometries_divide_their_tiles() {
        // matmul_tiled.wgsl loads each tile in a constant number of rounds (uniform control
        // flow before its barrier) and reads A four rows at a time.
        for v in [Variant::Tiled, Variant::Tiled8, Variant::Narrow] {
            let g = v.geometry(1);
            let threads = g.wgx * g.wgy;
            assert_eq!((g.block_rows * g.bk) % threads, 0, "{v:?}");
            assert_eq!((g.block_cols * g.bk) % threads, 0, "{v:?}");
            assert_eq!(g.tm % 4, 0, "{v:?}");
        }
        for sg in [4, 8, 32, 64] {
            let g = Variant::KsplitSubgroup.geometry(sg);
            assert!(g.wgx >= g.tm, "one row per invocation needs as many invocations as rows");
        }
    }

    #[test]
    fn unroll_repeats_marked_lines() {
        let src = "a$r = b$r/4[$r%4];\n// $r stays\nx$j\ny$q\nz";
        assert_eq!(unroll(src, 8), "a0 = b0[0];\na1 = b0[1];\na2 = b0[2];\na3 = b0[3];\na4 = b1[0];\na5 = b1[1];\na6 = b1[2];\na7 = b1[3];\n// $r stays\nx0\nx1\nx2\nx3\ny0\ny1\nz\n");
    }
}

/// A product to pick a kernel for: C[m×k · k×n] with A, B transposed or not; `sgd` for the
/// fused weight-gradient + SGD update (which also reads and writes C).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ShapeKey {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub ta: bool,
    pub tb: bool,
    pub sgd: bool,
}

impl ShapeKey {
    pub fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    /// The product (C overwritten).
    pub fn gemm(&self) -> Gemm {
        Gemm::new(self.m, self.k, self.n).ta(self.ta).tb(self.tb)
    }

    /// "16x784x500 A·Bᵀ (+sgd)".
    pub fn describe(&self) -> String {
        format!("{}x{}x{} {}{}", self.m, self.k, self.n, self.gemm().form(), if self.sgd { " +sgd" } else { "" })
    }
}
