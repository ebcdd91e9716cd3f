//! The deferred weight gradients: a product `Aᵀ·dZ` is not recorded when the model asks
//! for it but kept, with the layer's bias gradient and L2 term folded in, until something
//! needs it. Under SGD or Adam over a gradient buffer holding it, the update applies it to
//! the weights by one fused dispatch (`matmul_sgd` / `matmul_adam`) that never stores it;
//! anything else that touches its result or overwrites its operands records it first, as it
//! stands (`touch`, `settle`).

use super::layers::Operands;
use super::params::MatmulParams;
use super::{MatmulEntry, GpuBackend};
use crate::backend::View;
use crate::core::ops::Gemm;

/// A weight-gradient product `C = Aᵀ·B` (A stored k×m, B k×n: `g` has `ta` set) not
/// recorded yet, with what the model asked for right after: the column sums of B (the bias
/// gradient) into `bias`, and the L2 term C += a·x (x the weights). Recorded when anything
/// touches C or `bias` or writes A, B or x; under SGD or Adam over a gradient buffer
/// holding C, applied to the weights by `matmul_sgd` / `matmul_adam` instead, the gradient
/// never stored.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deferred {
    pub a: View,
    pub b: View,
    pub c: View,
    pub g: Gemm,
    pub bias: Option<View>,
    pub l2: Option<(View, f32)>,
}

impl Deferred {
    /// A product just asked for, nothing folded in yet.
    pub fn new(a: View, b: View, c: View, g: Gemm) -> Self {
        Deferred { a, b, c, g, bias: None, l2: None }
    }

    fn outputs(&self) -> impl Iterator<Item = View> {
        std::iter::once(self.c).chain(self.bias)
    }

    fn operands(&self) -> impl Iterator<Item = View> {
        [self.a, self.b].into_iter().chain(self.l2.map(|(x, _)| x))
    }

    /// Whether it uses buffer `buf` at all (as an operand or a result).
    pub fn uses(&self, buf: u32) -> bool {
        self.operands().chain(self.outputs()).any(|v| v.buf.0 == buf)
    }

    /// Whether an op reading `reads` and writing `writes` needs it recorded first: the op
    /// reads or overwrites its results, or overwrites its operands.
    fn hit_by(&self, reads: &[View], writes: &[View]) -> bool {
        writes.iter().any(|&w| self.operands().chain(self.outputs()).any(|o| overlaps(w, o))) || reads.iter().any(|&r| self.outputs().any(|o| overlaps(r, o)))
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

/// The ranges (start, len) of a `len`-element buffer not in the sorted `covered` ranges
/// (start, end).
pub(super) fn uncovered(covered: Vec<(usize, usize)>, len: usize) -> Vec<(usize, usize)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Buf;

    fn view(buf: u32, offset: usize, len: usize) -> View {
        View { buf: Buf(buf), offset, len }
    }

    /// A weight gradient of a 3×2 layer at offset 4 of gradient buffer 9 (weights in
    /// buffer 8 at the same offsets), from operands in buffers 1 and 2.
    fn weight_grad() -> Deferred {
        Deferred::new(view(1, 0, 6), view(2, 0, 4), view(9, 4, 6), Gemm::new(3, 2, 2).ta(true))
    }

    #[test]
    fn the_gaps_between_covered_ranges() {
        assert_eq!(uncovered(vec![], 5), vec![(0, 5)]);
        assert_eq!(uncovered(vec![(0, 5)], 5), vec![]);
        assert_eq!(uncovered(vec![(1, 2), (2, 4), (6, 7)], 8), vec![(0, 1), (4, 2), (7, 1)]);
        // Overlapping covers are merged.
        assert_eq!(uncovered(vec![(0, 4), (2, 3)], 6), vec![(4, 2)]);
    }

    #[test]
    fn overlap_and_containment_of_views() {
        assert!(overlaps(view(1, 0, 4), view(1, 3, 4)));
        assert!(!overlaps(view(1, 0, 4), view(1, 4, 4)), "adjacent views do not overlap");
        assert!(!overlaps(view(1, 0, 4), view(2, 0, 4)), "other buffer");
        assert!(!overlaps(view(1, 0, 0), view(1, 0, 4)), "an empty view overlaps nothing");
        assert!(inside(view(1, 2, 6), view(1, 3, 5)));
        assert!(!inside(view(1, 2, 6), view(1, 3, 6)));
    }

    #[test]
    fn a_weight_gradient_fuses_into_the_update_of_its_own_weights() {
        let (params, grads) = (view(8, 0, 20), view(9, 0, 20));
        let d = weight_grad();
        assert!(d.fusable(params, grads, &[params]));
        // Its bias gradient in the same buffer, and an L2 term on its own weights, too.
        let d = Deferred { bias: Some(view(9, 10, 2)), l2: Some((params.slice(4, 6), 1e-3)), ..d };
        assert!(d.fusable(params, grads, &[params]));
    }

    #[test]
    fn a_weight_gradient_that_cannot_fuse_is_recorded_instead() {
        let (params, grads) = (view(8, 0, 20), view(9, 0, 20));
        let d = weight_grad();
        // Its result outside the gradients updated.
        assert!(!d.fusable(params, view(9, 5, 15), &[params]));
        // The update writes one of its operands (Adam's moments in buffer 1).
        assert!(!d.fusable(params, grads, &[params, view(1, 0, 20)]));
        // Parameters and gradients in one buffer.
        assert!(!d.fusable(view(9, 0, 20), grads, &[params]));
        // An L2 term on other weights.
        let other = Deferred { l2: Some((params.slice(0, 6), 1e-3)), ..d };
        assert!(!other.fusable(params, grads, &[params]));
        // A bias gradient outside the gradients.
        let stray = Deferred { bias: Some(view(3, 0, 2)), ..d };
        assert!(!stray.fusable(params, grads, &[params]));
    }

    #[test]
    fn what_settles_a_deferred_product() {
        let d = Deferred { bias: Some(view(9, 10, 2)), l2: Some((view(8, 4, 6), 1e-3)), ..weight_grad() };
        // Reading its result or its bias gradient, or overwriting an operand (the weights
        // of the L2 term included), needs it recorded first.
        assert!(d.hit_by(&[view(9, 5, 1)], &[]));
        assert!(d.hit_by(&[view(9, 11, 1)], &[]));
        assert!(d.hit_by(&[], &[view(2, 3, 1)]));
        assert!(d.hit_by(&[], &[view(8, 9, 1)]));
        // Reading its operands, or touching other ranges, does not.
        assert!(!d.hit_by(&[view(1, 0, 6), view(2, 0, 4), view(8, 4, 6)], &[]));
        assert!(!d.hit_by(&[view(9, 0, 4)], &[view(9, 12, 8)]));
        assert!(d.uses(8) && d.uses(1) && !d.uses(7));
    }
}
