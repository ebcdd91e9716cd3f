//! The CPU backend: buffers are host vectors, matrix products go through the
//! `matrixmultiply` crate (strided, so transposes cost nothing; runtime-selected AVX/FMA
//! natively, simd128 in wasm builds), element-wise ops use the scalar reference loops,
//! which the compiler vectorises.

use std::cell::{Ref, RefCell, RefMut};

use super::{Backend, Buf, DataId, View};
use crate::core::{ops, Activation, LossKind};

#[derive(Default)]
pub struct CpuBackend {
    bufs: Vec<RefCell<Vec<f32>>>,
    data: Vec<(Vec<u8>, usize)>,
}

impl CpuBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, v: View) -> Ref<'_, [f32]> {
        let cell = &self.bufs[v.buf.0 as usize];
        let b = cell.try_borrow().expect("CPU backend: an op's input aliases its output buffer");
        assert!(v.offset + v.len <= b.len(), "view {v:?} is out of its buffer of {}", b.len());
        Ref::map(b, |b| &b[v.offset..v.offset + v.len])
    }

    fn get_mut(&self, v: View) -> RefMut<'_, [f32]> {
        let cell = &self.bufs[v.buf.0 as usize];
        let b = cell.try_borrow_mut().expect("CPU backend: an op's output aliases one of its inputs");
        assert!(v.offset + v.len <= b.len(), "view {v:?} is out of its buffer of {}", b.len());
        RefMut::map(b, |b| &mut b[v.offset..v.offset + v.len])
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        if cfg!(target_arch = "wasm32") {
            "CPU (wasm simd128)".into()
        } else {
            "CPU (native)".into()
        }
    }

    fn alloc(&mut self, len: usize) -> View {
        self.bufs.push(RefCell::new(vec![0.0; len]));
        View { buf: Buf(self.bufs.len() as u32 - 1), offset: 0, len }
    }

    fn write(&mut self, dst: View, data: &[f32]) {
        assert_eq!(data.len(), dst.len, "write: {} values into a view of {}", data.len(), dst.len);
        self.get_mut(dst).copy_from_slice(data);
    }

    fn read(&mut self, src: View) -> Vec<f32> {
        self.get(src).to_vec()
    }

    fn upload_u8(&mut self, data: &[u8], dim: usize) -> DataId {
        assert!(dim > 0 && data.len() % dim == 0, "dataset of {} bytes is not rows of {dim}", data.len());
        self.data.push((data.to_vec(), dim));
        DataId(self.data.len() as u32 - 1)
    }

    fn gather(&mut self, data: DataId, idx: &[u32], out: View) {
        let (bytes, dim) = &self.data[data.0 as usize];
        let rows = (bytes.len() / dim) as u32;
        assert!(idx.iter().all(|&i| i < rows), "gather: index out of {rows} rows");
        ops::gather(bytes, *dim, idx, &mut self.get_mut(out));
    }

    fn matmul(&mut self, a: View, b: View, c: View, m: usize, k: usize, n: usize, ta: bool, tb: bool, accumulate: bool) {
        assert_eq!(a.len, m * k, "matmul: A is {} elements, expected {m}×{k}", a.len);
        assert_eq!(b.len, k * n, "matmul: B is {} elements, expected {k}×{n}", b.len);
        assert_eq!(c.len, m * n, "matmul: C is {} elements, expected {m}×{n}", c.len);
        let (av, bv) = (self.get(a), self.get(b));
        let mut cv = self.get_mut(c);
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if !accumulate {
                cv.fill(0.0);
            }
            return;
        }
        let (rsa, csa) = if ta { (1, m as isize) } else { (k as isize, 1) };
        let (rsb, csb) = if tb { (1, k as isize) } else { (n as isize, 1) };
        let beta = if accumulate { 1.0 } else { 0.0 };
        // SAFETY: the strides describe exactly the m×k, k×n and m×n matrices whose lengths
        // were checked above, and C does not alias A or B (RefCell borrows guarantee it).
        unsafe {
            matrixmultiply::sgemm(
                m, k, n, 1.0, av.as_ptr(), rsa, csa, bv.as_ptr(), rsb, csb, beta, cv.as_mut_ptr(), n as isize, 1,
            );
        }
    }

    fn bias_act_forward(&mut self, x: View, bias: View, act: Activation, out: View, cols: usize) {
        ops::bias_act_forward(&self.get(x), &self.get(bias), act, &mut self.get_mut(out), cols);
    }

    fn act_backward(&mut self, dy: View, y: View, act: Activation, dz: View) {
        ops::act_backward(&self.get(dy), &self.get(y), act, &mut self.get_mut(dz));
    }

    fn bias_grad(&mut self, dz: View, db: View, cols: usize, accumulate: bool) {
        ops::bias_grad(&self.get(dz), &mut self.get_mut(db), cols, accumulate);
    }

    fn loss_forward_backward(&mut self, kind: LossKind, out: View, target: View, cols: usize, scale: f32, dout: View, row_loss: View) {
        ops::loss_forward_backward(
            kind,
            &self.get(out),
            &self.get(target),
            cols,
            scale,
            &mut self.get_mut(dout),
            &mut self.get_mut(row_loss),
        );
    }

    fn noise_masking(&mut self, x: View, out: View, keep: f32, seed: u32, stream: u32) {
        ops::noise_masking(&self.get(x), &mut self.get_mut(out), keep, seed, stream);
    }

    fn sgd_step(&mut self, params: View, grads: View, lr: f32) {
        ops::sgd_step(&mut self.get_mut(params), &self.get(grads), lr);
    }

    fn sum_into(&mut self, src: View, dst: View, accumulate: bool) {
        assert_eq!(dst.len, 1, "sum_into: destination must be one element");
        // Sum in f64 so long accumulations stay exact enough.
        let s: f64 = self.get(src).iter().map(|&v| v as f64).sum();
        let mut d = self.get_mut(dst);
        d[0] = if accumulate { d[0] + s as f32 } else { s as f32 };
    }

    fn copy(&mut self, src: View, dst: View) {
        assert_eq!(src.len, dst.len, "copy: {} values into {}", src.len, dst.len);
        self.get_mut(dst).copy_from_slice(&self.get(src));
    }
}
