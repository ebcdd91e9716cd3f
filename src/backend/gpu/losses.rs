//! The losses-and-noise ops on the GPU (`backend::LossOps`): the loss and its gradient
//! (one workgroup per row), accuracy, sums, the sparsity gradient, input corruption and
//! the variational code, each one dispatch.

use super::params::{ClassifyParams, LossParams, NoiseParams, ReduceParams};
use super::encode::{groups_1d, Res};
use super::{assert_apart, GpuBackend, Kernel};
use crate::backend::{LossOps, View};
use crate::core::ops::{Loss, Reparam};
use crate::core::NoiseKind;

impl LossOps for GpuBackend {
    fn loss_forward_backward(&mut self, loss: Loss, out: View, target: View, dout: View, row_loss: View) {
        assert_eq!(out.len, target.len);
        assert_eq!(out.len, dout.len);
        assert_eq!(row_loss.len * loss.cols, out.len);
        assert!(row_loss.len <= 65_535, "loss: at most 65,535 rows per call");
        self.touch(&[out, target], &[dout, row_loss]);
        let params = LossParams {
            rows: row_loss.len as u32,
            cols: loss.cols as u32,
            kind: loss.kind.code(),
            scale: loss.scale,
            out_off: out.offset as u32,
            target_off: target.offset as u32,
            dout_off: dout.offset as u32,
            loss_off: row_loss.offset as u32,
        };
        let res = [Res::of(out), Res::of(target), Res::of(dout), Res::of(row_loss)];
        self.record(Kernel::LossForwardBackward, &params, &res, (row_loss.len as u32, 1, 1), 4 * (3 * out.len + row_loss.len) as u64);
    }

    fn argmax_correct(&mut self, out: View, target: View, cols: usize, row_out: View) {
        assert_eq!(out.len, target.len);
        assert_eq!(row_out.len * cols, out.len);
        assert!(row_out.buf != out.buf && row_out.buf != target.buf, "argmax_correct: output aliases an input");
        self.touch(&[out, target], &[row_out]);
        let params = ClassifyParams { rows: row_out.len as u32, cols: cols as u32, a_off: out.offset as u32, b_off: target.offset as u32, out_off: row_out.offset as u32, ..Default::default() };
        let res = [Res::of(out), Res::of(target), Res::of(row_out)];
        self.record(Kernel::ArgmaxCorrect, &params, &res, (row_out.len.div_ceil(64) as u32, 1, 1), 4 * (2 * out.len + row_out.len) as u64);
    }

    fn sum_into(&mut self, src: View, dst: View, accumulate: bool) {
        assert_eq!(dst.len, 1, "sum_into: destination must be one element");
        let reads = if accumulate { vec![src, dst] } else { vec![src] };
        self.touch(&reads, &[dst]);
        let params = ReduceParams { rows: src.len as u32, cols: 1, accumulate: accumulate as u32, src_off: src.offset as u32, dst_off: dst.offset as u32, ..Default::default() };
        self.record(Kernel::SumInto, &params, &[Res::of(src), Res::of(dst)], (1, 1, 1), 4 * (src.len + 1 + accumulate as usize) as u64);
    }

    fn sparsity_grad(&mut self, colsum: View, dy: View, rows: usize, rho: f32, beta: f32) {
        let cols = colsum.len;
        assert_eq!(dy.len, rows * cols, "sparsity_grad: dy of {} for {rows} × {cols}", dy.len);
        assert!(colsum.buf != dy.buf, "sparsity_grad: dy aliases the column sums");
        self.touch(&[colsum, dy], &[dy]);
        let params = ClassifyParams { rows: rows as u32, cols: cols as u32, a_off: colsum.offset as u32, out_off: dy.offset as u32, rho, beta, ..Default::default() };
        let res = [Res::of(colsum), Res::of(colsum), Res::of(dy)];
        self.record(Kernel::SparsityGrad, &params, &res, groups_1d(dy.len), 4 * (2 * dy.len + cols) as u64);
    }

    fn noise(&mut self, kind: NoiseKind, x: View, out: View, seed: u32, stream: u32) {
        assert_eq!(x.len, out.len);
        assert!(x.buf != out.buf, "noise: output aliases the input");
        self.touch(&[x], &[out]);
        let (code, p1) = kind.code();
        let p2 = if let NoiseKind::Dropout { keep } = kind { 1.0 / keep } else { 0.0 };
        let params = NoiseParams { len: x.len as u32, x_off: x.offset as u32, out_off: out.offset as u32, kind: code, seed, stream, p1, p2, ..Default::default() };
        self.record(Kernel::Noise, &params, &[Res::of(x), Res::of(out)], groups_1d(x.len), 8 * x.len as u64);
    }

    fn reparam_forward(&mut self, h: View, eps: View, z: View, row_kl: View, draw: Reparam) {
        let (rows, latent) = (row_kl.len, draw.latent);
        assert_eq!(h.len, rows * 2 * latent);
        assert_eq!(z.len, rows * latent);
        assert_eq!(eps.len, rows * latent);
        assert_apart("reparam_forward", [h, eps, z, row_kl]);
        self.touch(&[h], &[eps, z, row_kl]);
        let params = NoiseParams {
            x_off: h.offset as u32,
            out_off: z.offset as u32,
            seed: draw.seed,
            stream: draw.stream,
            rows: rows as u32,
            latent: latent as u32,
            eps_off: eps.offset as u32,
            kl_off: row_kl.offset as u32,
            sample: draw.sample as u32,
            ..Default::default()
        };
        let res = [Res::of(h), Res::of(z), Res::of(eps), Res::of(row_kl)];
        self.record(Kernel::ReparamForward, &params, &res, (rows.div_ceil(64) as u32, 1, 1), 4 * (h.len + z.len + eps.len + rows) as u64);
    }

    fn reparam_backward(&mut self, h: View, eps: View, dz: View, dh: View, latent: usize, scale: f32) {
        let rows = dz.len / latent.max(1);
        assert_eq!(h.len, rows * 2 * latent);
        assert_eq!(dh.len, h.len);
        assert_eq!(eps.len, dz.len);
        assert_apart("reparam_backward", [h, eps, dz, dh]);
        self.touch(&[h, eps, dz], &[dh]);
        let params = NoiseParams {
            x_off: h.offset as u32,
            out_off: dh.offset as u32,
            rows: rows as u32,
            latent: latent as u32,
            eps_off: eps.offset as u32,
            scale,
            dz_off: dz.offset as u32,
            ..Default::default()
        };
        let res = [Res::of(h), Res::of(dh), Res::of(eps), Res::of(dz)];
        self.record(Kernel::ReparamBackward, &params, &res, groups_1d(rows * latent), 4 * (2 * h.len + eps.len + dz.len) as u64);
    }
}
