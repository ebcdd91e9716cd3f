//! The deferred weight gradients: a product `Aᵀ·dZ` is not recorded when the model asks
//! for it but kept, with the layer's bias gradient and L2 term folded in, until something
//! needs it. Under SGD or Adam over a gradient buffer holding it, the update applies it to
//! the weights by one fused dispatch (`matmul_sgd` / `matmul_adam`) that never stores it;
//! anything else that touches its result or overwrites its operands records it first, as it
//! stands (`touch`, `settle`).


use super::deferred::Deferred;
use super::encode::Operands;
use super::params::MatmulParams;
use super::{GpuBackend, MatmulEntry};
use crate::backend::View;

impl GpuBackend {
    /// Before an op that reads `reads` and writes `writes`: records every deferred product
    /// whose result it reads or overwrites, or whose operands it overwrites.
    pub(super) fn touch(&mut self, reads: &[View], writes: &[View]) {
        let mut i = 0;
        while i < self.deferred.len() {
            let d = self.deferred[i];
            if d.hit_by(reads, writes) {
                self.deferred.remove(i);
                self.settle(d);
            } else {
                i += 1;
            }
        }
    }

    /// Records a deferred product (with its bias gradient and L2 term) where it stands.
    pub(super) fn settle(&mut self, d: Deferred) {
        let ops = Operands { a: d.a, b: d.b, c: d.c, aux: None, moments: None };
        self.record_matmul(MatmulEntry::Matmul, ops, d.g, MatmulParams::default());
        if let Some(db) = d.bias {
            self.record_bias_grad(d.b, db, d.g.n, false);
        }
        if let Some((x, a)) = d.l2 {
            self.record_axpy(x, d.c, a);
        }
    }

    /// Applies the deferred products `fused` to `params` (their gradients in `grads`) by
    /// `entry` (matmul_sgd or matmul_adam, the update's fields in `update`, Adam's moment
    /// buffers in `moments`), and returns the ranges of `grads` they cover.
    pub(super) fn record_fused_updates(&mut self, entry: MatmulEntry, fused: Vec<Deferred>, params: View, grads: View, moments: Option<(View, View)>, update: MatmulParams) -> Vec<(usize, usize)> {
        let at = |v: View| params.slice(v.offset - grads.offset, v.len);
        let mut covered = Vec::new();
        for d in fused {
            let epilogue = MatmulParams {
                bias_off: d.bias.map_or(0, |b| at(b).offset as u32),
                has_bias: d.bias.is_some() as u32,
                l2: d.l2.map_or(0.0, |(_, a)| a),
                ..update
            };
            let ops = Operands { a: d.a, b: d.b, c: at(d.c), aux: None, moments };
            self.record_matmul(entry, ops, d.g, epilogue);
            covered.extend(d.outputs().map(|v| (v.offset - grads.offset, v.offset - grads.offset + v.len)));
        }
        covered.sort_unstable();
        covered
    }

    /// Removes and returns the deferred products the update of `params` from `grads` can
    /// apply itself (writing `written`).
    pub(super) fn take_fusable(&mut self, params: View, grads: View, written: &[View]) -> Vec<Deferred> {
        let (fused, keep) = std::mem::take(&mut self.deferred).into_iter().partition(|d| d.fusable(params, grads, written));
        self.deferred = keep;
        fused
    }
}
