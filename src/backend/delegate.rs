//! Backends that wrap another and forward every op to it: a boxed backend is a backend
//! (so the page can hold either kind as `Box<dyn Backend>`), and `profile::Profiled` times
//! each op. A [`Wrapper`] says how to reach the wrapped backend and how to run an op on
//! it; the four families are implemented for every wrapper from the one list of ops below.
//! A new op is declared in its family's trait (buffers, layers, losses, optim) and listed
//! here once (clippy's `missing_trait_methods`, denied on the generated impls, catches one
//! left out).

use super::{Backend, Buf, Buffers, DataId, LayerOps, LossOps, OptimOps, ReadFuture, View, WorkCounters};
use crate::core::ops::{AdamStep, Gemm, Linear, Loss, Reparam};
use crate::core::{Activation, NoiseKind};

/// A backend around another: every op of the four families goes to [`Wrapper::inner_mut`]
/// through [`Wrapper::run`].
pub trait Wrapper {
    type Inner: Backend + ?Sized;
    fn inner(&self) -> &Self::Inner;
    fn inner_mut(&mut self) -> &mut Self::Inner;
    /// Runs op `f` on the wrapped backend; `label` names the op and its shape, for a
    /// wrapper that reports per op (it is not called otherwise).
    fn run<R>(&mut self, label: impl FnOnce() -> String, f: impl FnOnce(&mut Self::Inner) -> R) -> R {
        let _ = label;
        f(self.inner_mut())
    }
}

/// A boxed backend is a backend, so the page can hold either kind behind one type.
impl<B: Backend + ?Sized> Wrapper for Box<B> {
    type Inner = B;
    fn inner(&self) -> &B {
        self
    }
    fn inner_mut(&mut self) -> &mut B {
        self
    }
}

/// Implements every family for every [`Wrapper`] from the list of ops: the `ref` methods
/// (`&self`) and the `mut` ones (`&mut self`), a `mut` one run under the label an
/// expression over its arguments gives, or forwarded as it is when it has none (ops a
/// profile does not time).
macro_rules! forward {
    ($($family:ident {
        ref { $(fn $r:ident($($ra:ident: $rt:ty),*) -> $rr:ty;)* }
        mut { $(fn $m:ident($($ma:ident: $mt:ty),*) $(-> $mr:ty)? $(=> $label:expr)?;)* }
    })*) => {
        // Every method, the provided ones too (or a wrapper would run the default instead
        // of the wrapped backend's own): clippy checks the list is whole.
        $(#[deny(clippy::missing_trait_methods)]
        impl<W: Wrapper> $family for W {
            $(fn $r(&self, $($ra: $rt),*) -> $rr {
                self.inner().$r($($ra),*)
            })*
            $(fn $m(&mut self, $($ma: $mt),*) $(-> $mr)? {
                forward!(@call self, $m($($ma),*) $(, $label)?)
            })*
        })*
    };
    (@call $s:ident, $m:ident($($a:ident),*)) => {
        $s.inner_mut().$m($($a),*)
    };
    (@call $s:ident, $m:ident($($a:ident),*), $label:expr) => {
        $s.run(|| $label, |b| b.$m($($a),*))
    };
}

forward! {
    Buffers {
        ref {
            fn name() -> String;
            fn max_buffer_bytes() -> u64;
            fn health() -> Result<(), String>;
            fn work_counters() -> Option<WorkCounters>;
            fn allocated_bytes() -> u64;
        }
        mut {
            fn alloc(len: usize) -> View;
            fn write(dst: View, data: &[f32]) => format!("write {}", dst.len);
            fn read(src: View) -> Vec<f32> => format!("read {}", src.len);
            fn read_async(src: View) -> ReadFuture => format!("read_async {}", src.len);
            fn flush() => "flush".to_string();
            fn upload_u8(data: &[u8], dim: usize) -> DataId;
            fn upload_f32(data: &[f32], dim: usize) -> DataId;
            fn free(buf: Buf);
            fn free_data(data: DataId);
            fn gather(data: DataId, idx: &[u32], out: View) => format!("gather {}x{}", idx.len(), out.len / idx.len().max(1));
            fn gather_onehot(labels: DataId, idx: &[u32], out: View, classes: usize) => format!("gather_onehot {}x{classes}", idx.len());
            fn copy(src: View, dst: View) => format!("copy {}", src.len);
        }
    }
    LayerOps {
        ref {}
        mut {
            fn matmul(a: View, b: View, c: View, g: Gemm) => format!("matmul {} {}x{}x{}{}", g.form(), g.m, g.k, g.n, if g.accumulate { " +=" } else { "" });
            fn linear_forward(x: View, w: View, bias: View, z: View, y: View, l: Linear) => format!("linear_forward {:?} {}x{}x{}", l.act, l.m, l.k, l.n);
            fn linear_backward(dz: View, w: View, y_prev: View, dx: View, dz_prev: View, l: Linear) => format!("linear_backward {:?} {}x{}x{}", l.act, l.m, l.k, l.n);
            fn bias_act_forward(x: View, bias: View, act: Activation, out: View, cols: usize) => format!("bias_act_forward {act:?} {}x{cols}", x.len / cols.max(1));
            fn act_backward(dy: View, y: View, act: Activation, dz: View) => format!("act_backward {act:?} {}", dy.len);
            fn bias_grad(dz: View, db: View, cols: usize, accumulate: bool) => format!("bias_grad {}x{cols}", dz.len / cols.max(1));
        }
    }
    LossOps {
        ref {}
        mut {
            fn loss_forward_backward(loss: Loss, out: View, target: View, dout: View, row_loss: View) => format!("loss {:?} {}x{}", loss.kind, out.len / loss.cols.max(1), loss.cols);
            fn argmax_correct(out: View, target: View, cols: usize, row_out: View) => format!("argmax_correct {}x{cols}", row_out.len);
            fn sum_into(src: View, dst: View, accumulate: bool) => format!("sum_into {}", src.len);
            fn sparsity_grad(colsum: View, dy: View, rows: usize, rho: f32, beta: f32) => format!("sparsity_grad {rows}x{}", colsum.len);
            fn noise(kind: NoiseKind, x: View, out: View, seed: u32, stream: u32) => format!("noise {} {}", kind.label(), x.len);
            fn reparam_forward(h: View, eps: View, z: View, row_kl: View, draw: Reparam) => format!("reparam_forward {}x{}", row_kl.len, draw.latent);
            fn reparam_backward(h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32) => format!("reparam_backward {}", dz.len);
        }
    }
    OptimOps {
        ref {}
        mut {
            fn sgd_step(params: View, grads: View, lr: f32) => format!("sgd_step {}", params.len);
            fn axpy(x: View, y: View, a: f32) => format!("axpy {}", x.len);
            fn momentum_step(params: View, grads: View, vel: View, lr: f32, momentum: f32) => format!("momentum_step {}", params.len);
            fn adam_step(params: View, grads: View, m: View, v: View, adam: AdamStep) => format!("adam_step {}", params.len);
        }
    }
}
