//! The parameter block of every GPU kernel: one `#[repr(C)]` struct per shader module,
//! field for field the module's WGSL `struct Params` (binding 0, a uniform), written to the
//! per-submission upload arena as bytes (`bytemuck`). `tests/shaders.rs` checks every
//! struct's size and field offsets against its WGSL through naga's reflection.

use bytemuck::{Pod, Zeroable};

use crate::core::ops::Gemm;

/// The shader module a parameter block belongs to: an op-family file, or the matrix
/// products (every variant shares matmul.wgsl's block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Activation,
    Loss,
    Reduce,
    Noise,
    Classify,
    Gather,
    Elementwise,
    Optim,
    Matmul,
}

impl Shader {
    /// The file that holds its `struct Params` (and, but for `Matmul`, its entry points).
    pub fn file(self) -> &'static str {
        match self {
            Shader::Activation => "activation.wgsl",
            Shader::Loss => "loss.wgsl",
            Shader::Reduce => "reduce.wgsl",
            Shader::Noise => "noise.wgsl",
            Shader::Classify => "classify.wgsl",
            Shader::Gather => "gather.wgsl",
            Shader::Elementwise => "elementwise.wgsl",
            Shader::Optim => "optim.wgsl",
            Shader::Matmul => "matmul.wgsl",
        }
    }

    /// The Rust layout of its parameter block.
    pub fn params(self) -> Layout {
        match self {
            Shader::Activation => ActivationParams::LAYOUT,
            Shader::Loss => LossParams::LAYOUT,
            Shader::Reduce => ReduceParams::LAYOUT,
            Shader::Noise => NoiseParams::LAYOUT,
            Shader::Classify => ClassifyParams::LAYOUT,
            Shader::Gather => GatherParams::LAYOUT,
            Shader::Elementwise => ElementwiseParams::LAYOUT,
            Shader::Optim => OptimParams::LAYOUT,
            Shader::Matmul => MatmulParams::LAYOUT,
        }
    }
}

/// A parameter block as Rust lays it out: the struct's name, size, and each field's name
/// and byte offset, in order.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub name: &'static str,
    pub size: usize,
    pub fields: &'static [(&'static str, usize)],
}

/// A kernel's parameter block: plain bytes, for the module `SHADER`.
pub trait Params: Pod {
    const SHADER: Shader;
    const LAYOUT: Layout;
}

/// Declares a parameter block: the struct (`#[repr(C)]`, `Pod`, zero by default) and its
/// [`Params`] impl with the layout the naga test compares.
macro_rules! params {
    ($(#[$doc:meta])* $name:ident for $shader:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
        }
        impl Params for $name {
            const SHADER: Shader = Shader::$shader;
            const LAYOUT: Layout = Layout {
                name: stringify!($name),
                size: std::mem::size_of::<$name>(),
                fields: &[$((stringify!($field), std::mem::offset_of!($name, $field))),*],
            };
        }
    };
}

params! {
    /// `bias_act_forward` (out = act(x + bias)) and `act_backward` (x = dy, bias = y, out = dz; cols 1).
    ActivationParams for Activation {
        len: u32, cols: u32, act: u32, _pad: u32,
        x_off: u32, bias_off: u32, out_off: u32, _pad2: u32,
    }
}

params! {
    /// `loss_forward_backward`, one workgroup per row.
    LossParams for Loss {
        rows: u32, cols: u32, kind: u32, scale: f32,
        out_off: u32, target_off: u32, dout_off: u32, loss_off: u32,
    }
}

params! {
    /// `bias_grad` (column sums) and `sum_into` (cols 1).
    ReduceParams for Reduce {
        rows: u32, cols: u32, accumulate: u32, _pad: u32,
        src_off: u32, dst_off: u32, _pad2: u32, _pad3: u32,
    }
}

params! {
    /// `noise` (the first eight fields) and the variational code's `reparam_forward` and
    /// `reparam_backward`.
    NoiseParams for Noise {
        len: u32, x_off: u32, out_off: u32, kind: u32,
        seed: u32, stream: u32, p1: f32, p2: f32,
        rows: u32, latent: u32, eps_off: u32, kl_off: u32,
        sample: u32, scale: f32, dz_off: u32, _pad: u32,
    }
}

params! {
    /// `argmax_correct` and `sparsity_grad` (rho, beta).
    ClassifyParams for Classify {
        rows: u32, cols: u32, a_off: u32, b_off: u32,
        out_off: u32, _pad: u32, rho: f32, beta: f32,
    }
}

params! {
    /// `gather_u8`, `gather_f32` and `gather_onehot` (dim: the number of classes).
    GatherParams for Gather {
        len: u32, dim: u32, idx_off: u32, out_off: u32,
    }
}

params! {
    /// `sgd_step` (out −= lr · a) and `copy` (out = a).
    ElementwiseParams for Elementwise {
        len: u32, a_off: u32, out_off: u32, lr: f32,
    }
}

params! {
    /// `axpy` (y += rate · x), `momentum_step` (rate lr, beta1 the momentum) and
    /// `adam_step` (rate lr/(1−β1ᵗ), sqrt_bc2 √(1−β2ᵗ): `core::ops::AdamStep::scalars`).
    OptimParams for Optim {
        len: u32, x_off: u32, y_off: u32, m_off: u32,
        v_off: u32, _pad0: u32, _pad1: u32, _pad2: u32,
        rate: f32, beta1: f32, beta2: f32, eps: f32,
        sqrt_bc2: f32, _pad3: f32, _pad4: f32, _pad5: f32,
    }
}

params! {
    /// Every matrix product entry point: the product (element (i, p) of op(A) is
    /// a[a_off + i·rsa + p·csa]; (p, j) of op(B) is b[b_off + p·rsb + j·csb]) and the
    /// epilogues' fields (see matmul.wgsl).
    MatmulParams for Matmul {
        m: u32, k: u32, n: u32, accumulate: u32,
        a_off: u32, b_off: u32, c_off: u32, aux_off: u32,
        rsa: u32, csa: u32, rsb: u32, csb: u32,
        act: u32, bias_off: u32, has_bias: u32, lr: f32,
        l2: f32, beta1: f32, beta2: f32, eps: f32,
        sqrt_bc2: f32, m_shift: u32, v_shift: u32, _pad: u32,
    }
}

impl MatmulParams {
    /// These epilogue fields with the product `g`'s (its shape, `accumulate`, and the
    /// strides that make its transposes).
    pub fn with_product(self, g: Gemm) -> Self {
        let Gemm { m, k, n, ta, tb, accumulate } = g;
        let (rsa, csa) = if ta { (1, m) } else { (k, 1) };
        let (rsb, csb) = if tb { (1, k) } else { (n, 1) };
        let w = |x: usize| x as u32;
        MatmulParams { m: w(m), k: w(k), n: w(n), accumulate: accumulate as u32, rsa: w(rsa), csa: w(csa), rsb: w(rsb), csb: w(csb), ..self }
    }
}

/// Every parameter block, for the layout test.
pub const ALL: [Shader; 9] = [
    Shader::Activation,
    Shader::Loss,
    Shader::Reduce,
    Shader::Noise,
    Shader::Classify,
    Shader::Gather,
    Shader::Elementwise,
    Shader::Optim,
    Shader::Matmul,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_fits_a_slot_and_is_whole_words() {
        for s in ALL {
            let l = s.params();
            assert!(l.size <= 256 && l.size % 16 == 0, "{}: {} bytes", l.name, l.size);
            // Consecutive 4-byte fields: no gaps, so the bytes are exactly the WGSL words.
            for (i, (name, off)) in l.fields.iter().enumerate() {
                assert_eq!(*off, 4 * i, "{}.{name}", l.name);
            }
            assert_eq!(l.fields.len() * 4, l.size, "{}", l.name);
        }
    }

    #[test]
    fn named_fields_land_in_their_words() {
        let p = ElementwiseParams { len: 3, a_off: 1, out_off: 2, lr: 0.5 };
        let words: &[u32] = bytemuck::cast_slice(bytemuck::bytes_of(&p));
        assert_eq!(words, &[3, 1, 2, 0.5f32.to_bits()]);
        let o = OptimParams { rate: 2.0, sqrt_bc2: 0.25, ..Default::default() };
        let words: &[u32] = bytemuck::cast_slice(bytemuck::bytes_of(&o));
        assert_eq!((words[8], words[12]), (2.0f32.to_bits(), 0.25f32.to_bits()));
    }
}
