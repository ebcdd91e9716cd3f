//! The optimizer ops on the GPU (`backend::OptimOps`): SGD and Adam apply the deferred
//! weight gradients inside their gradient buffer by the fused product + update
//! (`matmul_sgd` / `matmul_adam`, `fusion.rs`) and the rest by their plain pass; the L2
//! term folds into a deferred product; momentum is one pass.

use super::deferred::{uncovered, Deferred};
use super::params::{ElementwiseParams, MatmulParams, OptimParams};
use super::encode::{groups_1d, Res};
use super::{assert_apart, MatmulEntry, GpuBackend, Kernel};
use crate::backend::{OptimOps, View};
use crate::core::ops::AdamStep;

impl GpuBackend {
    pub(super) fn record_axpy(&mut self, x: View, y: View, a: f32) {
        let params = OptimParams { len: y.len as u32, x_off: x.offset as u32, y_off: y.offset as u32, rate: a, ..Default::default() };
        self.record(Kernel::Axpy, &params, &[Res::of(x), Res::of(y)], groups_1d(y.len), 12 * y.len as u64);
    }

    /// Records a plain Adam pass over equally long `params`, `grads`, `m`, `v` with the
    /// step's fields in `step` (rate = lr/(1−β1ᵗ), β1, β2, ε, √(1−β2ᵗ)).
    fn record_adam(&mut self, [params, grads, m, v]: [View; 4], step: OptimParams) {
        let p = OptimParams { len: params.len as u32, x_off: grads.offset as u32, y_off: params.offset as u32, m_off: m.offset as u32, v_off: v.offset as u32, ..step };
        let res = [Res::of(grads), Res::of(params), Res::of(m), Res::of(v)];
        self.record(Kernel::AdamStep, &p, &res, groups_1d(params.len), 28 * params.len as u64);
    }

    /// Records a plain SGD pass over `params` from `grads` (equal lengths).
    fn record_sgd(&mut self, params: View, grads: View, lr: f32) {
        let p = ElementwiseParams { len: params.len as u32, a_off: grads.offset as u32, out_off: params.offset as u32, lr };
        self.record(Kernel::SgdStep, &p, &[Res::of(grads), Res::of(params)], groups_1d(params.len), 12 * params.len as u64);
    }
}

impl OptimOps for GpuBackend {
    fn sgd_step(&mut self, params: View, grads: View, lr: f32) {
        assert_eq!(params.len, grads.len);
        self.check(params);
        self.check(grads);
        // Deferred weight gradients inside `grads` (and their biases): applied to the
        // weights by the fused product + update; what they do not cover, by the SGD pass.
        let fused = self.take_fusable(params, grads, &[params]);
        self.touch(&[grads, params], &[params]);
        let covered = self.record_fused_updates(MatmulEntry::MatmulSgd, fused, params, grads, None, MatmulParams { lr, ..Default::default() });
        for (from, len) in uncovered(covered, grads.len) {
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
        let p = OptimParams { len: params.len as u32, x_off: grads.offset as u32, y_off: params.offset as u32, m_off: vel.offset as u32, rate: lr, beta1: momentum, ..Default::default() };
        let res = [Res::of(grads), Res::of(params), Res::of(vel)];
        self.record(Kernel::MomentumStep, &p, &res, groups_1d(params.len), 20 * params.len as u64);
    }

    fn adam_step(&mut self, params: View, grads: View, m: View, v: View, adam: AdamStep) {
        assert_eq!(params.len, grads.len);
        assert_eq!(params.len, m.len);
        assert_eq!(params.len, v.len);
        assert_apart("adam_step", [params, grads, m, v]);
        self.check(params);
        self.check(grads);
        let (step, sqrt_bc2) = adam.scalars();
        let AdamStep { beta1, beta2, eps, .. } = adam;
        // Deferred weight gradients inside `grads`: applied by the fused product + Adam.
        let fused = self.take_fusable(params, grads, &[params, m, v]);
        self.touch(&[params, grads, m, v], &[params, m, v]);
        let shift = |x: View| (x.offset as u32).wrapping_sub(params.offset as u32);
        let update = MatmulParams { lr: step, beta1, beta2, eps, sqrt_bc2, m_shift: shift(m), v_shift: shift(v), ..Default::default() };
        let covered = self.record_fused_updates(MatmulEntry::MatmulAdam, fused, params, grads, Some((m, v)), update);
        let pass = OptimParams { rate: step, beta1, beta2, eps, sqrt_bc2, ..Default::default() };
        for (from, len) in uncovered(covered, grads.len) {
            self.record_adam([params, grads, m, v].map(|x| x.slice(from, len)), pass);
        }
    }
}
