//! The layer ops on the GPU (`backend::LayerOps`): products (a weight gradient `Aᵀ·dZ`
//! deferred, `fusion.rs`), the dense layer's fused forward (bias and activation in the
//! product's epilogue) and input-gradient passes (the activation's derivative in it), bias
//! and activation, its derivative, and bias gradients (folded into a deferred product
//! when they are its dZ's column sums).

use super::deferred::Deferred;
use super::params::{ActivationParams, MatmulParams, ReduceParams};
use super::encode::{groups_1d, Operands, Res};
use super::kernels::ShapeKey;
use super::{GpuBackend, Kernel, MatmulEntry};
use crate::backend::{LayerOps, View};
use crate::core::ops::{Gemm, Linear};
use crate::core::Activation;

impl GpuBackend {
    /// Records one product `g` by `entry` with its epilogue's fields in `epilogue` (the
    /// product's own are filled in here); the bindings an entry point does not use get
    /// fillers.
    pub(super) fn record_matmul(&mut self, entry: MatmulEntry, ops: Operands, g: Gemm, epilogue: MatmulParams) {
        let Operands { a, b, c, aux, moments } = ops;
        let Gemm { m, k, n, ta, tb, accumulate } = g;
        let params = MatmulParams {
            a_off: a.offset as u32,
            b_off: b.offset as u32,
            c_off: c.offset as u32,
            aux_off: aux.map_or(0, |v| v.offset as u32),
            ..epilogue.with_product(g)
        };
        let key = ShapeKey { m, k, n, ta, tb, sgd: matches!(entry, MatmulEntry::MatmulSgd | MatmulEntry::MatmulAdam) };
        let v = self.variant_for(key);
        self.used.insert(key, v);
        let mut res = vec![Res::of(a), Res::of(b), Res::of(c), aux.map_or(Res::Filler(0), Res::of)];
        match moments {
            Some((m, v)) => res.extend([Res::of(m), Res::of(v)]),
            None => res.extend([Res::Filler(1), Res::Filler(2)]),
        }
        let mut bytes = 4 * (m * k + k * n + m * n) as u64;
        bytes += match entry {
            MatmulEntry::Matmul => 4 * (m * n) as u64 * accumulate as u64,
            MatmulEntry::LinearForward => 4 * n as u64,
            MatmulEntry::LinearBackward | MatmulEntry::MatmulSgd => 4 * (m * n) as u64,
            // Weights read and written, both moments read and written.
            MatmulEntry::MatmulAdam => 4 * 5 * (m * n) as u64,
        };
        let groups = v.groups(self.subgroup_size(), m, n);
        let label = || format!("{}[{}] {} {m}x{k}x{n}", entry.name(), v.name(), g.form());
        self.record_labelled(Kernel::Matmul(v, entry), &params, &res, groups, bytes, &label);
    }

    /// Records a dense layer's fused pass `entry`: the product `g` of `a` and `w` into
    /// `out`, with `aux` (the bias, or the previous layer's output) and `act` in its
    /// epilogue.
    fn record_linear(&mut self, entry: MatmulEntry, [a, w, aux, out]: [View; 4], g: Gemm, act: Activation) {
        g.assert_lens(entry.name(), a.len, w.len, out.len);
        assert!(out.buf != a.buf && out.buf != w.buf && out.buf != aux.buf, "{}: the output aliases an input", entry.name());
        for v in [a, w, aux, out] {
            self.check(v);
        }
        self.touch(&[a, w, aux], &[out]);
        let ops = Operands { a, b: w, c: out, aux: Some(aux), moments: None };
        self.record_matmul(entry, ops, g, MatmulParams { act: act.code(), ..Default::default() });
    }

    pub(super) fn record_bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        let rows = dz.len / cols.max(1);
        let params = ReduceParams { rows: rows as u32, cols: cols as u32, accumulate: accumulate as u32, src_off: dz.offset as u32, dst_off: db.offset as u32, ..Default::default() };
        let bytes = 4 * (dz.len + cols * (1 + accumulate as usize)) as u64;
        self.record(Kernel::BiasGrad, &params, &[Res::of(dz), Res::of(db)], (cols.div_ceil(256) as u32, 1, 1), bytes);
    }
}

impl LayerOps for GpuBackend {
    fn matmul(&mut self, a: View, b: View, c: View, g: Gemm) {
        g.assert_lens("matmul", a.len, b.len, c.len);
        assert!(c.buf != a.buf && c.buf != b.buf, "matmul: C aliases an input");
        self.check(a);
        self.check(b);
        self.check(c);
        let reads = if g.accumulate { vec![a, b, c] } else { vec![a, b] };
        self.touch(&reads, &[c]);
        if self.fuse && g.ta && !g.tb && !g.accumulate && g.m > 0 && g.n > 0 {
            // A weight gradient: deferred until the optimizer step or a use of C.
            self.deferred.push(Deferred::new(a, b, c, g));
            return;
        }
        self.record_matmul(MatmulEntry::Matmul, Operands { a, b, c, aux: None, moments: None }, g, MatmulParams::default());
    }

    fn linear_forward(&mut self, x: View, w: View, bias: View, z: View, y: View, l: Linear) {
        if !self.fuse {
            self.matmul(x, w, z, l.forward());
            return self.bias_act_forward(z, bias, l.act, y, l.n);
        }
        assert_eq!(bias.len, l.n, "linear_forward: bias of {} for {} outputs", bias.len, l.n);
        self.record_linear(MatmulEntry::LinearForward, [x, w, bias, y], l.forward(), l.act);
    }

    fn linear_backward(&mut self, dz: View, w: View, y_prev: View, dx: View, dz_prev: View, l: Linear) {
        if !self.fuse {
            self.matmul(dz, w, dx, l.backward());
            return self.act_backward(dx, y_prev, l.act, dz_prev);
        }
        assert_eq!(y_prev.len, dz_prev.len, "linear_backward: y_prev of {} for {} gradients", y_prev.len, dz_prev.len);
        self.record_linear(MatmulEntry::LinearBackward, [dz, w, y_prev, dz_prev], l.backward(), l.act);
    }

    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize) {
        assert_eq!(bias.len, cols);
        assert_eq!(x.len, out.len);
        self.touch(&[x, bias], &[out]);
        let params = ActivationParams { len: x.len as u32, cols: cols as u32, act: act.code(), x_off: x.offset as u32, bias_off: bias.offset as u32, out_off: out.offset as u32, ..Default::default() };
        self.record(Kernel::BiasActForward, &params, &[Res::of(x), Res::of(bias), Res::of(out)], groups_1d(x.len), 4 * (2 * x.len + cols) as u64);
    }

    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View) {
        assert_eq!(dy.len, y.len);
        assert_eq!(dy.len, dz.len);
        self.touch(&[dy, y], &[dz]);
        let params = ActivationParams { len: dy.len as u32, cols: 1, act: act.code(), x_off: dy.offset as u32, bias_off: y.offset as u32, out_off: dz.offset as u32, ..Default::default() };
        self.record(Kernel::ActBackward, &params, &[Res::of(dy), Res::of(y), Res::of(dz)], groups_1d(dy.len), 12 * dy.len as u64);
    }

    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        assert_eq!(db.len, cols);
        let rows = dz.len / cols.max(1);
        // The bias gradient of a deferred weight gradient (dZ is its B): folded into it.
        let attach = |d: &Deferred| d.b == dz && d.g.n == cols && d.g.k == rows && d.bias.is_none();
        if self.fuse && !accumulate && db.buf != dz.buf {
            if let Some(i) = self.deferred.iter().position(attach) {
                let d = self.deferred.remove(i);
                self.touch(&[dz], &[db]);
                self.deferred.push(Deferred { bias: Some(db), ..d });
                return;
            }
        }
        let reads = if accumulate { vec![dz, db] } else { vec![dz] };
        self.touch(&reads, &[db]);
        self.record_bias_grad(dz, db, cols, accumulate);
    }
}
