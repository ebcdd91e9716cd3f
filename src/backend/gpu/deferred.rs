//! A deferred weight gradient (`Deferred`): a product `Aᵀ·dZ` the model asked for, kept
//! with the layer's bias gradient and L2 term folded in until something needs it, and the
//! rules that decide what settles it and what an optimizer update may apply itself. Plain
//! data, tested without a GPU; `fusion.rs` records them.

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

    pub fn outputs(&self) -> impl Iterator<Item = View> {
        std::iter::once(self.c).chain(self.bias)
    }

    pub fn operands(&self) -> impl Iterator<Item = View> {
        [self.a, self.b].into_iter().chain(self.l2.map(|(x, _)| x))
    }

    /// Whether it uses buffer `buf` at all (as an operand or a result).
    pub fn uses(&self, buf: u32) -> bool {
        self.operands().chain(self.outputs()).any(|v| v.buf.0 == buf)
    }

    /// Whether an op reading `reads` and writing `writes` needs it recorded first: the op
    /// reads or overwrites its results, or overwrites its operands.
    pub fn hit_by(&self, reads: &[View], writes: &[View]) -> bool {
        writes.iter().any(|&w| self.operands().chain(self.outputs()).any(|o| overlaps(w, o))) || reads.iter().any(|&r| self.outputs().any(|o| overlaps(r, o)))
    }

    /// It can be applied by the fused update of `params` from `grads`: its results lie in
    /// `grads`, its operands outside the buffers the update writes, and its L2 term (if
    /// any) decays the very weights it updates.
    pub fn fusable(&self, params: View, grads: View, written: &[View]) -> bool {
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
