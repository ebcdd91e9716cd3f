//! One test suite for every backend: each op against the scalar reference in `core::ops`,
//! and ten training steps against the reference model. Written once as functions of a
//! backend; the `suite!` macro fans them out per backend (the GPU backend adds a line).

mod common;

use aeplay::backend::cpu::CpuBackend;
use aeplay::backend::{Backend, Buffers};
use aeplay::core::config::{Activation, Init, LossKind, ModelConfig, NoiseKind, Optimizer, Reduction};
use aeplay::core::layout::ParamLayout;
use aeplay::core::ops::{self, AdamStep, Gemm, Linear, Loss, Reparam};
use aeplay::core::reference::{self, Batch};
use aeplay::model::Autoencoder;
use common::{max_rel_err, values};

const TOL: f32 = 1e-4;

/// The floor of the relative error of a sum of `k` products of values of order 1: summed in
/// another order (tiles, split sums) the result differs by a few ulps of the terms, which
/// near a zero result is a large relative difference.
fn dot_floor(k: usize) -> f32 {
    1e-3 * k.max(1) as f32
}

fn upload<B: Backend>(be: &mut B, data: &[f32]) -> aeplay::backend::View {
    let v = be.alloc(data.len());
    be.write(v, data);
    v
}

/// Output buffers start as NaN so a missed element shows.
fn poisoned<B: Backend>(be: &mut B, len: usize) -> aeplay::backend::View {
    upload(be, &vec![f32::NAN; len])
}

fn matmul_all_forms<B: Backend>(be: &mut B) {
    for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (16, 33, 9), (17, 64, 31), (0, 3, 2), (2, 0, 3), (65, 70, 129), (3, 300, 5)] {
        for ta in [false, true] {
            for tb in [false, true] {
                for acc in [false, true] {
                    let a = values(m * k, 1, -1.0, 1.0);
                    let b = values(k * n, 2, -1.0, 1.0);
                    let c0 = values(m * n, 3, -1.0, 1.0);
                    let mut want = c0.clone();
                    ops::matmul(&a, &b, &mut want, Gemm::new(m, k, n).ta(ta).tb(tb).accumulate(acc));
                    let (av, bv) = (upload(be, &a), upload(be, &b));
                    let cv = if acc { upload(be, &c0) } else { poisoned(be, m * n) };
                    be.matmul(av, bv, cv, Gemm::new(m, k, n).ta(ta).tb(tb).accumulate(acc));
                    let got = be.read(cv);
                    let err = max_rel_err(&got, &want, dot_floor(k));
                    assert!(err <= TOL, "matmul {m}×{k}×{n} ta={ta} tb={tb} acc={acc}: rel err {err}");
                }
            }
        }
    }
}

/// The fused layer ops against their reference compositions: the forward product with
/// bias and activation, and the input gradient through the previous activation, with W
/// plain and transposed, at shapes that cross the kernels' tile and split edges.
fn fused_layer_ops<B: Backend>(be: &mut B) {
    let acts = [Activation::Identity, Activation::Sigmoid, Activation::Tanh, Activation::Relu, Activation::Elu];
    for (i, &(m, k, n)) in [(1, 1, 1), (5, 13, 7), (16, 33, 9), (17, 70, 67), (64, 300, 130)].iter().enumerate() {
        for tw in [false, true] {
            let act = acts[(i + tw as usize) % acts.len()];
            let x = values(m * k, 60, -1.0, 1.0);
            let w = values(k * n, 61, -0.5, 0.5);
            let bias = values(n, 62, -1.0, 1.0);
            let mut want = vec![0.0; m * n];
            let l = Linear { m, k, n, tw, act };
            ops::linear_forward(&x, &w, &bias, &mut want, l);
            let (xv, wv, bv) = (upload(be, &x), upload(be, &w), upload(be, &bias));
            let (z, y) = (poisoned(be, m * n), poisoned(be, m * n));
            be.linear_forward(xv, wv, bv, z, y, l);
            let err = max_rel_err(&be.read(y), &want, dot_floor(k));
            assert!(err <= TOL, "linear_forward {m}×{k}×{n} tw={tw} {act:?}: rel err {err}");

            let dz = values(m * n, 63, -1.0, 1.0);
            let mut y_prev = values(m * k, 64, -0.9, 0.9);
            y_prev.iter_mut().for_each(|v| *v = ops::activate(act, *v));
            let mut want = vec![0.0; m * k];
            let l = Linear { m, k, n, tw, act };
            ops::linear_backward(&dz, &w, &y_prev, &mut want, l);
            let (dzv, yv) = (upload(be, &dz), upload(be, &y_prev));
            let (dx, dz_prev) = (poisoned(be, m * k), poisoned(be, m * k));
            be.linear_backward(dzv, wv, yv, dx, dz_prev, l);
            let err = max_rel_err(&be.read(dz_prev), &want, dot_floor(n));
            assert!(err <= TOL, "linear_backward {m}×{k}×{n} tw={tw} {act:?}: rel err {err}");
        }
    }
}

/// Weight gradients (Aᵀ·dZ) and bias gradients followed by the SGD step, as a layer's
/// backward pass makes them: applied right (a backend may fuse the product into the
/// update), also when an operand is overwritten before the step, the gradient is read
/// first, another product adds to it, or Adam takes it.
fn weight_grads_then_step<B: Backend>(be: &mut B) {
    for &(fan_in, rows, fan_out) in &[(7, 3, 5), (70, 16, 67), (300, 64, 130)] {
        let wlen = fan_in * fan_out;
        // grads / params: [pad 3 | W | b | other 11], the other range updated by plain SGD.
        let total = 3 + wlen + fan_out + 11;
        let x = values(rows * fan_in, 70, -1.0, 1.0);
        let dz = values(rows * fan_out, 71, -1.0, 1.0);
        let p0 = values(total, 72, -1.0, 1.0);
        let other = values(11, 73, -1.0, 1.0);
        let mut gw = vec![0.0; wlen];
        ops::matmul(&x, &dz, &mut gw, Gemm::new(fan_in, rows, fan_out).ta(true));
        let mut gb = vec![0.0; fan_out];
        ops::bias_grad(&dz, &mut gb, fan_out, false);
        let (lr, l2) = (0.05, 0.01);
        let w_at = |v: aeplay::backend::View| v.slice(3, wlen);
        let b_at = |v: aeplay::backend::View| v.slice(3 + wlen, fan_out);
        let o_at = |v: aeplay::backend::View| v.slice(3 + wlen + fan_out, 11);
        for case in ["plain", "operand overwritten", "gradient read", "accumulated", "l2", "adam", "adam l2"] {
            let (xv, dzv) = (upload(be, &x), upload(be, &dz));
            let (pv, gv) = (upload(be, &p0), upload(be, &vec![0.0; total]));
            be.write(o_at(gv), &other);
            be.matmul(xv, dzv, w_at(gv), Gemm::new(fan_in, rows, fan_out).ta(true));
            be.bias_grad(dzv, b_at(gv), fan_out, false);
            let mut want_w = gw.clone();
            if case.ends_with("l2") {
                // The L2 term as the model adds it: λ·w into the weight gradient.
                be.axpy(w_at(pv), w_at(gv), l2);
                want_w.iter_mut().zip(&p0[3..3 + wlen]).for_each(|(g, w)| *g += l2 * w);
            }
            match case {
                "operand overwritten" => {
                    // The gradient is of the values before the overwrite.
                    let junk = upload(be, &vec![9.0; x.len()]);
                    be.copy(junk, xv);
                    be.write(dzv, &vec![-3.0; dz.len()]);
                }
                "gradient read" => {
                    let err = max_rel_err(&be.read(w_at(gv)), &gw, dot_floor(rows));
                    assert!(err <= TOL, "{case} {fan_in}×{rows}×{fan_out}: weight gradient rel err {err}");
                    let err = max_rel_err(&be.read(b_at(gv)), &gb, dot_floor(rows));
                    assert!(err <= TOL, "{case} {fan_in}×{rows}×{fan_out}: bias gradient rel err {err}");
                }
                "accumulated" => {
                    be.matmul(xv, dzv, w_at(gv), Gemm::new(fan_in, rows, fan_out).ta(true).accumulate(true));
                    want_w.iter_mut().for_each(|v| *v *= 2.0);
                }
                _ => {}
            }
            let g: Vec<f32> = [vec![0.0; 3], want_w, gb.clone(), other.clone()].concat();
            let mut want = p0.clone();
            if case.starts_with("adam") {
                // Two steps: the second starts from moments the first left.
                let (mv, vv) = (upload(be, &vec![0.0; total]), upload(be, &vec![0.0; total]));
                let (mut m, mut v) = (vec![0.0; total], vec![0.0; total]);
                be.adam_step(pv, gv, mv, vv, AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 1 });
                ops::adam_step(&mut want, &g, &mut m, &mut v, AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 1 });
                be.write(gv, &g);
                be.adam_step(pv, gv, mv, vv, AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 2 });
                ops::adam_step(&mut want, &g, &mut m, &mut v, AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 2 });
                let err = max_rel_err(&be.read(mv), &m, dot_floor(rows));
                assert!(err <= TOL, "{case} {fan_in}×{rows}×{fan_out}: first moment rel err {err}");
            } else {
                be.sgd_step(pv, gv, lr);
                ops::sgd_step(&mut want, &g, lr);
            }
            // Parameters and updates are of order 1: the floor is their scale.
            let err = max_rel_err(&be.read(pv), &want, 0.1);
            assert!(err <= TOL, "{case} {fan_in}×{rows}×{fan_out}: parameters after the step rel err {err}");
        }
    }
}

fn elementwise_ops<B: Backend>(be: &mut B) {
    let (rows, cols) = (5, 13);
    let x = values(rows * cols, 4, -3.0, 3.0);
    let bias = values(cols, 5, -1.0, 1.0);
    let (xv, bv) = (upload(be, &x), upload(be, &bias));
    for act in [Activation::Identity, Activation::Sigmoid, Activation::Tanh, Activation::Relu, Activation::Elu] {
        let mut want = vec![0.0; x.len()];
        ops::bias_act_forward(&x, &bias, act, &mut want, cols);
        let out = poisoned(be, x.len());
        be.bias_act_forward(xv, bv, act, out, cols);
        assert!(max_rel_err(&be.read(out), &want, 1e-3) <= TOL, "bias_act_forward {act:?}");

        let dy = values(x.len(), 6, -1.0, 1.0);
        let mut want_dz = vec![0.0; x.len()];
        ops::act_backward(&dy, &want, act, &mut want_dz);
        let (dyv, dz) = (upload(be, &dy), poisoned(be, x.len()));
        be.act_backward(dyv, out, act, dz);
        assert!(max_rel_err(&be.read(dz), &want_dz, 1e-3) <= TOL, "act_backward {act:?}");
    }
    for acc in [false, true] {
        let init = values(cols, 7, -1.0, 1.0);
        let mut want = init.clone();
        ops::bias_grad(&x, &mut want, cols, acc);
        let db = if acc { upload(be, &init) } else { poisoned(be, cols) };
        be.bias_grad(xv, db, cols, acc);
        assert!(max_rel_err(&be.read(db), &want, 1e-3) <= TOL, "bias_grad acc={acc}");
    }
    let target = values(x.len(), 8, 0.0, 1.0);
    let tv = upload(be, &target);
    for kind in [LossKind::BceLogits, LossKind::HalfSse, LossKind::Mse] {
        let (mut dwant, mut lwant) = (vec![0.0; x.len()], vec![0.0; rows]);
        ops::loss_forward_backward(kind, &x, &target, cols, 0.25, &mut dwant, &mut lwant);
        let (d, l) = (poisoned(be, x.len()), poisoned(be, rows));
        be.loss_forward_backward(Loss { kind, cols, scale: 0.25 }, xv, tv, d, l);
        assert!(max_rel_err(&be.read(d), &dwant, 1e-3) <= TOL, "loss grad {kind:?}");
        assert!(max_rel_err(&be.read(l), &lwant, 1e-3) <= TOL, "loss {kind:?}");
        let s = poisoned(be, 1);
        be.sum_into(l, s, false);
        be.sum_into(l, s, true);
        let total: f32 = lwant.iter().sum();
        assert!(max_rel_err(&be.read(s), &[2.0 * total], 1e-3) <= TOL, "sum_into {kind:?}");
    }
    let mut want = vec![0.0; x.len()];
    ops::noise_masking(&x, &mut want, 0.7, 11, 3);
    let out = poisoned(be, x.len());
    be.noise(NoiseKind::Masking { keep: 0.7 }, xv, out, 11, 3);
    assert_eq!(be.read(out), want, "masking noise must draw the same noise as the reference");

    let grads = values(x.len(), 9, -1.0, 1.0);
    let mut want = x.clone();
    ops::sgd_step(&mut want, &grads, 0.1);
    let (p, g) = (upload(be, &x), upload(be, &grads));
    be.sgd_step(p, g, 0.1);
    assert!(max_rel_err(&be.read(p), &want, 1e-3) <= TOL, "sgd_step");

    let data: Vec<u8> = (0..6 * 4).map(|i| (i * 11 % 256) as u8).collect();
    let id = be.upload_u8(&data, 4);
    let idx = [5u32, 0, 3];
    let mut want = vec![0.0; 12];
    ops::gather(&data, 4, &idx, &mut want);
    let out = poisoned(be, 12);
    be.gather(id, &idx, out);
    assert_eq!(be.read(out), want, "gather");

    let c = poisoned(be, x.len());
    be.copy(xv, c);
    assert_eq!(be.read(c), x, "copy");
}

/// The optimizer passes against the reference: axpy, momentum and Adam over several steps
/// (moments carried between calls), on views that start inside their buffers.
fn optimizer_ops<B: Backend>(be: &mut B) {
    // A small size, and one past the CPU backend's threading threshold.
    for n in [517, 100_003] {
        optimizer_ops_of(be, n);
    }
}

fn optimizer_ops_of<B: Backend>(be: &mut B, n: usize) {
    let len = n;
    let x = values(len, 20, -1.0, 1.0);
    let y0 = values(len, 21, -1.0, 1.0);
    let mut want = y0.clone();
    ops::axpy(&x, &mut want, 0.3);
    let (xv, yv) = (upload(be, &x), upload(be, &y0));
    be.axpy(xv, yv, 0.3);
    assert!(max_rel_err(&be.read(yv), &want, 1e-3) <= TOL, "axpy");

    // Views at an offset of 7 into bigger buffers, whose other elements must stay untouched.
    let at = |v: aeplay::backend::View| v.slice(7, n);
    let p0 = values(n, 22, -1.0, 1.0);
    let pad = |d: &[f32]| [vec![5.0f32; 7], d.to_vec(), vec![5.0f32; 3]].concat();
    let unpad = |d: Vec<f32>| {
        assert!(d[..7].iter().chain(&d[7 + n..]).all(|&v| v == 5.0), "wrote outside its view");
        d[7..7 + n].to_vec()
    };

    let (mut pw, mut vw) = (p0.clone(), vec![0.0f32; n]);
    let (pv, vv) = (upload(be, &pad(&p0)), upload(be, &pad(&vec![0.0; n])));
    for step in 0..3u64 {
        let g = values(n, 30 + step as u32, -1.0, 1.0);
        ops::momentum_step(&mut pw, &g, &mut vw, 0.1, 0.9);
        let gv = upload(be, &pad(&g));
        be.momentum_step(at(pv), at(gv), at(vv), 0.1, 0.9);
    }
    assert!(max_rel_err(&unpad(be.read(pv)), &pw, 1e-3) <= TOL, "momentum_step params");
    assert!(max_rel_err(&unpad(be.read(vv)), &vw, 1e-3) <= TOL, "momentum_step velocity");

    let (mut pw, mut mw, mut vw) = (p0.clone(), vec![0.0f32; n], vec![0.0f32; n]);
    let (pv, mv, vv) = (upload(be, &pad(&p0)), upload(be, &pad(&vec![0.0; n])), upload(be, &pad(&vec![0.0; n])));
    for t in 1..=4u64 {
        // Gradients of mixed scales (Adam's division makes small ones matter).
        let g: Vec<f32> = values(n, 40 + t as u32, -1.0, 1.0).iter().enumerate().map(|(i, &v)| v * [1.0, 1e-3, 10.0][i % 3]).collect();
        ops::adam_step(&mut pw, &g, &mut mw, &mut vw, AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t });
        let gv = upload(be, &pad(&g));
        be.adam_step(at(pv), at(gv), at(mv), at(vv), AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t });
    }
    assert!(max_rel_err(&unpad(be.read(pv)), &pw, 1e-3) <= TOL, "adam_step params");
    assert!(max_rel_err(&unpad(be.read(mv)), &mw, 1e-3) <= TOL, "adam_step m");
    assert!(max_rel_err(&unpad(be.read(vv)), &vw, 1e-3) <= TOL, "adam_step v");
}

fn small_config() -> ModelConfig {
    ModelConfig {
        name: "suite".into(),
        dims: vec![20, 12, 20],
        activations: vec![Activation::Sigmoid, Activation::Sigmoid],
        loss: LossKind::BceLogits,
        noise: NoiseKind::Masking { keep: 0.8 },
        optimizer: Optimizer::Sgd { lr: 0.05 },
        init: Init::GlorotUniform,
        reduction: Reduction::Sum,
        batch: 4,
        ..ModelConfig::default()
    }
}

/// Ten steps through the backend against ten steps of the f32 reference model, with the
/// same noise (the reference corrupts with `ops::noise_masking` on the same streams).
fn ten_steps_match_reference<B: Backend>(be: &mut B) {
    let cfg = small_config();
    let layout = ParamLayout::new(&cfg);
    let rows = 16;
    let pixels: Vec<u8> = values(rows * 20, 12, 0.0, 255.0).iter().map(|&v| v as u8).collect();
    let data = be.upload_u8(&pixels, 20);
    let mut model = Autoencoder::new(be, &cfg, 5).unwrap();
    let mut params = layout.init(&cfg, 5);
    let mut ref_loss = 0.0f64;
    for step in 0..10u32 {
        let idx: Vec<u32> = (0..4).map(|i| (step * 4 + i * 3) % rows as u32).collect();
        model.train_step(be, data, &idx, 77, step);
        let mut x = vec![0.0f32; 4 * 20];
        ops::gather(&pixels, 20, &idx, &mut x);
        let mut xn = vec![0.0f32; x.len()];
        ops::noise_masking(&x, &mut xn, 0.8, 77, step);
        let (loss, grads) = reference::loss_and_grad(&cfg, &layout, &params, Batch { input: &xn, target: &x, rows: 4, scale: 1.0f32 });
        ops::sgd_step(&mut params, &grads, 0.05);
        ref_loss += loss as f64;
    }
    let (mean, n) = model.take_train_loss(be).unwrap();
    assert_eq!(n, 40);
    let rel = ((mean - ref_loss / 40.0) / (ref_loss / 40.0)).abs();
    assert!(rel <= 1e-3, "loss after 10 steps: backend {mean}, reference {} (rel {rel})", ref_loss / 40.0);
    let err = max_rel_err(&model.params_host(be), &params, 1e-2);
    assert!(err <= 1e-3, "parameters after 10 steps differ from the reference: rel err {err}");
}

/// A tied, L2-decayed ELU model trained by Adam (then one with momentum): ten steps
/// through the backend against the f32 reference model and its optimizer.
fn ten_steps_adam_tied_l2_match_reference<B: Backend>(be: &mut B) {
    let base = ModelConfig {
        name: "suite_adam".into(),
        dims: vec![20, 12, 6, 12, 20],
        activations: vec![Activation::Elu, Activation::Tanh, Activation::Elu, Activation::Identity],
        loss: LossKind::Mse,
        noise: NoiseKind::None,
        optimizer: Optimizer::adam(0.01),
        init: Init::HeNormal,
        reduction: Reduction::Mean,
        batch: 5,
        tied: true,
        l2: 0.01,
        ..ModelConfig::default()
    };
    let momentum = ModelConfig { optimizer: Optimizer::Momentum { lr: 0.05, momentum: 0.9 }, tied: false, init: Init::GlorotUniform, ..base.clone() };
    for cfg in [base, momentum] {
        let layout = ParamLayout::new(&cfg);
        let rows = 16;
        let pixels: Vec<u8> = values(rows * 20, 13, 0.0, 255.0).iter().map(|&v| v as u8).collect();
        let data = be.upload_u8(&pixels, 20);
        let mut model = Autoencoder::new(be, &cfg, 9).unwrap();
        let mut params = layout.init(&cfg, 9);
        let mut opt = reference::OptimState::<f32>::new(&cfg, layout.total);
        let mut ref_loss = 0.0f64;
        for step in 0..10u32 {
            let idx: Vec<u32> = (0..5).map(|i| (step * 5 + i * 3) % rows as u32).collect();
            model.train_step(be, data, &idx, 77, step);
            let mut x = vec![0.0f32; 5 * 20];
            ops::gather(&pixels, 20, &idx, &mut x);
            let (loss, grads) = reference::loss_and_grad(&cfg, &layout, &params, Batch { input: &x, target: &x, rows: 5, scale: 0.2f32 });
            opt.step(&cfg, &mut params, &grads);
            ref_loss += loss as f64;
        }
        let (mean, n) = model.take_train_loss(be).unwrap();
        assert_eq!(n, 50);
        let rel = ((mean - ref_loss / 50.0) / (ref_loss / 50.0)).abs();
        assert!(rel <= 1e-3, "{:?}: loss after 10 steps: backend {mean}, reference {} (rel {rel})", cfg.optimizer, ref_loss / 50.0);
        let err = max_rel_err(&model.params_host(be), &params, 1e-2);
        assert!(err <= 1e-3, "{:?}: parameters after 10 steps differ from the reference: rel err {err}", cfg.optimizer);
        // The optimizer state survives a round trip through the host (a backend switch).
        let state = model.optim_state_host(be);
        assert_eq!(state.t, 10);
        assert_eq!(state.moments.len(), cfg.optimizer.moment_buffers());
        for (got, want) in state.moments.iter().zip(&opt.moments) {
            assert!(max_rel_err(got, want, 1e-2) <= 1e-3, "moments differ from the reference");
        }
    }
}

/// The ops of the model zoo against the reference: every noise kind, the sparsity
/// gradient, the variational code forward and backward, softmax cross-entropy, accuracy
/// counting, one-hot labels and float datasets.
fn model_zoo_ops<B: Backend>(be: &mut B) {
    let (rows, cols) = (7, 37);
    let x = values(rows * cols, 50, 0.0, 1.0);
    let xv = upload(be, &x);
    for kind in [
        NoiseKind::Masking { keep: 0.6 },
        NoiseKind::Gaussian { sigma: 0.3 },
        NoiseKind::SaltPepper { p: 0.4 },
        NoiseKind::Dropout { keep: 0.7 },
    ] {
        let mut want = vec![0.0; x.len()];
        ops::noise(kind, &x, &mut want, 21, 5);
        let out = poisoned(be, x.len());
        be.noise(kind, xv, out, 21, 5);
        let got = be.read(out);
        // Uniform draws are bit-exact; a normal goes through log and cos (rounding differs).
        assert!(max_rel_err(&got, &want, 1e-2) <= TOL, "noise {kind:?}");
        assert_ne!(want, x, "noise {kind:?} changed nothing");
    }

    // Sparsity: column sums of sigmoid-range activations, gradient added to dy.
    let y = values(rows * cols, 51, 0.02, 0.98);
    let mut colsum = vec![0.0; cols];
    ops::bias_grad(&y, &mut colsum, cols, false);
    let dy0 = values(rows * cols, 52, -1.0, 1.0);
    let mut want = dy0.clone();
    ops::sparsity_grad(&colsum, &mut want, rows, 0.1, 0.2);
    let (yv, cs, dyv) = (upload(be, &y), poisoned(be, cols), upload(be, &dy0));
    be.bias_grad(yv, cs, cols, false);
    be.sparsity_grad(cs, dyv, rows, 0.1, 0.2);
    assert!(max_rel_err(&be.read(dyv), &want, 1e-3) <= TOL, "sparsity_grad");

    // The variational code: sampled and mean, forward and backward.
    let latent = 5;
    let h = values(rows * 2 * latent, 53, -1.5, 1.5);
    let dz = values(rows * latent, 54, -1.0, 1.0);
    for sample in [true, false] {
        let (mut eps, mut z, mut kl) = (vec![0.0; rows * latent], vec![0.0; rows * latent], vec![0.0; rows]);
        let draw = Reparam { latent, seed: 8, stream: 2, sample };
        ops::reparam_forward(&h, &mut eps, &mut z, &mut kl, draw);
        let mut dh = vec![0.0; h.len()];
        ops::reparam_backward(&h, &eps, &dz, &mut dh, latent, 0.25);
        let (hv, ev, zv, kv) = (upload(be, &h), poisoned(be, eps.len()), poisoned(be, z.len()), poisoned(be, rows));
        be.reparam_forward(hv, ev, zv, kv, draw);
        assert!(max_rel_err(&be.read(ev), &eps, 1e-2) <= TOL, "reparam eps (sample {sample})");
        assert!(max_rel_err(&be.read(zv), &z, 1e-2) <= TOL, "reparam z (sample {sample})");
        assert!(max_rel_err(&be.read(kv), &kl, 1e-2) <= TOL, "reparam KL (sample {sample})");
        let (dzv, dhv) = (upload(be, &dz), poisoned(be, h.len()));
        be.reparam_backward(hv, ev, dzv, dhv, latent, 0.25);
        assert!(max_rel_err(&be.read(dhv), &dh, 1e-2) <= TOL, "reparam backward (sample {sample})");
    }

    // Softmax cross-entropy against one-hot labels built on the device, and accuracy.
    let classes = 10;
    let labels: Vec<u8> = (0..23).map(|i| (i * 7 % 10) as u8).collect();
    let lid = be.upload_u8(&labels, 1);
    let idx: Vec<u32> = vec![3, 0, 22, 9, 9, 14, 1];
    let mut onehot = vec![0.0; rows * classes];
    ops::gather_onehot(&labels, &idx, classes, &mut onehot);
    let oh = poisoned(be, rows * classes);
    be.gather_onehot(lid, &idx, oh, classes);
    assert_eq!(be.read(oh), onehot, "gather_onehot");
    let mut logits = values(rows * classes, 55, -4.0, 4.0);
    // Rows 0 and 2 put their largest logit on their label: the case has rows classified
    // right as well as wrong.
    for r in [0, 2] {
        logits[r * classes + labels[idx[r] as usize] as usize] = 5.0;
    }
    let lv = upload(be, &logits);
    let (mut dwant, mut lwant) = (vec![0.0; logits.len()], vec![0.0; rows]);
    ops::loss_forward_backward(LossKind::SoftmaxCe, &logits, &onehot, classes, 0.5, &mut dwant, &mut lwant);
    let (d, l) = (poisoned(be, logits.len()), poisoned(be, rows));
    be.loss_forward_backward(Loss { kind: LossKind::SoftmaxCe, cols: classes, scale: 0.5 }, lv, oh, d, l);
    assert!(max_rel_err(&be.read(d), &dwant, 1e-3) <= TOL, "softmax CE gradient");
    assert!(max_rel_err(&be.read(l), &lwant, 1e-3) <= TOL, "softmax CE loss");
    let mut cwant = vec![0.0; rows];
    ops::argmax_correct(&logits, &onehot, classes, &mut cwant);
    let cv = poisoned(be, rows);
    be.argmax_correct(lv, oh, classes, cv);
    assert_eq!(be.read(cv), cwant, "argmax_correct");
    assert!(cwant.contains(&1.0) && cwant.contains(&0.0), "the case must have rows classified right and wrong: {cwant:?}");

    // A float dataset gathers as it is.
    let fdata = values(9 * 3, 56, -2.0, 2.0);
    let fid = be.upload_f32(&fdata, 3);
    let fidx = [8u32, 0, 4, 4];
    let mut want = vec![0.0; 12];
    ops::gather_f32(&fdata, 3, &fidx, &mut want);
    let out = poisoned(be, 12);
    be.gather(fid, &fidx, out);
    assert_eq!(be.read(out), want, "gather of a float dataset");
}

/// Every preset, shrunk (inputs 784 → 20, hidden widths ÷ 50, batch 4) but otherwise as it
/// is (activations, loss, noise, optimizer, tied weights, L2, sparsity, variational code,
/// classifier head): a few steps through the backend against the f32 reference.
fn every_preset_shrunk_matches_reference<B: Backend>(be: &mut B) {
    use aeplay::core::config::{preset, PRESET_NAMES};
    use aeplay::model::{Split, CODE_SEED};
    let mut cfgs: Vec<ModelConfig> = PRESET_NAMES.iter().map(|n| preset(n).unwrap()).collect();
    // A classifier head on the stacked encoder (the pre-training presets' fine-tuning).
    cfgs.push(ModelConfig {
        name: "classifier".into(),
        dims: vec![784, 300, 150, 10],
        activations: vec![Activation::Elu, Activation::Sigmoid, Activation::Identity],
        loss: LossKind::SoftmaxCe,
        noise: NoiseKind::Masking { keep: 0.9 },
        optimizer: Optimizer::Momentum { lr: 0.1, momentum: 0.9 },
        ..ModelConfig::default()
    });
    for mut cfg in cfgs {
        let d = 20;
        let last = cfg.dims.len() - 1;
        for (i, w) in cfg.dims.iter_mut().enumerate() {
            *w = if *w == 784 { d } else if i == last { *w } else { (*w / 50).max(2) };
        }
        cfg.batch = 4;
        cfg.validate().unwrap_or_else(|e| panic!("{}: {e}", cfg.name));
        let layout = ParamLayout::new(&cfg);
        let rows = 12;
        let pixels: Vec<u8> = values(rows * d, 14, 0.0, 255.0).iter().map(|&v| v as u8).collect();
        let labels: Vec<u8> = (0..rows).map(|i| (i * 3 % 10) as u8).collect();
        let split = Split { data: be.upload_u8(&pixels, d), labels: Some(be.upload_u8(&labels, 1)) };
        let mut model = Autoencoder::new(be, &cfg, 3).unwrap();
        // Each step's loss kept apart too (what divergence detection reads).
        model.enable_step_log(be);
        let mut params = layout.init(&cfg, 3);
        let mut opt = reference::OptimState::<f32>::new(&cfg, layout.total);
        let mut ref_loss = 0.0f64;
        let mut ref_steps = Vec::new();
        let n = cfg.batch;
        let scale = if cfg.reduction == Reduction::Sum { 1.0 } else { 1.0 / n as f32 };
        for step in 0..4u32 {
            let idx: Vec<u32> = (0..n as u32).map(|i| (step * 5 + i * 2) % rows as u32).collect();
            model.train_step(be, split, &idx, 31, step);
            let mut x = vec![0.0f32; n * d];
            ops::gather(&pixels, d, &idx, &mut x);
            let mut xn = vec![0.0f32; x.len()];
            ops::noise(cfg.noise, &x, &mut xn, 31, step);
            let target = if cfg.is_classifier() {
                let mut t = vec![0.0f32; n * 10];
                ops::gather_onehot(&labels, &idx, 10, &mut t);
                t
            } else {
                x.clone()
            };
            let noise = reference::CodeNoise { seed: 31 ^ CODE_SEED, stream: step, sample: true };
            let r = reference::loss_and_grad_with(&cfg, &layout, &params, Batch { input: &xn, target: &target, rows: n, scale }, noise);
            opt.step(&cfg, &mut params, &r.grads);
            ref_loss += r.loss as f64;
            ref_steps.push(r.loss as f64 / n as f64);
        }
        let steps = model.take_step_losses(be);
        assert_eq!(steps.len(), 4, "{}", cfg.name);
        for (i, (got, want)) in steps.iter().zip(&ref_steps).enumerate() {
            assert!(((got - want) / want).abs() <= 2e-3, "{}: step {i}'s loss: backend {got}, reference {want}", cfg.name);
        }
        let (mean, count) = model.take_train_loss(be).unwrap();
        assert_eq!(count, 4 * n);
        let want = ref_loss / count as f64;
        let rel = ((mean - want) / want).abs();
        assert!(rel <= 2e-3, "{}: loss after 4 steps: backend {mean}, reference {want} (rel {rel})", cfg.name);
        let err = max_rel_err(&model.params_host(be), &params, 1e-2);
        assert!(err <= 2e-3, "{}: parameters after 4 steps differ from the reference: rel err {err}", cfg.name);
        if cfg.is_classifier() {
            // The backend's evaluation against the reference model's: the same accuracy
            // (one row's worth of slack for a near-tie) and the same mean loss.
            let (loss, acc) = model.eval_metrics(be, split, rows);
            let all: Vec<u32> = (0..rows as u32).collect();
            let mut x = vec![0.0f32; rows * d];
            ops::gather(&pixels, d, &all, &mut x);
            let logits = reference::forward(&cfg, &layout, &params, &x, rows).pop().unwrap();
            let mut onehot = vec![0.0f32; rows * 10];
            ops::gather_onehot(&labels, &all, 10, &mut onehot);
            let mut correct = vec![0.0f32; rows];
            ops::argmax_correct(&logits, &onehot, 10, &mut correct);
            let want_acc = correct.iter().sum::<f32>() as f64 / rows as f64;
            let (mut dl, mut l) = (vec![0.0f32; logits.len()], vec![0.0f32; rows]);
            ops::loss_forward_backward(LossKind::SoftmaxCe, &logits, &onehot, 10, 1.0, &mut dl, &mut l);
            let want_loss = l.iter().map(|&v| v as f64).sum::<f64>() / rows as f64;
            assert!((acc - want_acc).abs() <= 1.0 / rows as f64 + 1e-9, "{}: accuracy {acc}, reference {want_acc}", cfg.name);
            assert!(((loss - want_loss) / want_loss).abs() <= 2e-3, "{}: eval loss {loss}, reference {want_loss}", cfg.name);
        }
    }
}

/// Freed buffers, datasets and models give their bytes back; what is left keeps working;
/// a freed buffer cannot be used.
fn free_releases_memory<B: Backend>(be: &mut B) {
    let base = be.allocated_bytes();
    let v = be.alloc(1000);
    assert_eq!(be.allocated_bytes(), base + 4000);
    let keep = upload(be, &[1.0, 2.0, 3.0]);
    let pixels = be.upload_u8(&[0, 51, 102, 153, 204, 255], 3);
    let codes = be.upload_f32(&[0.5; 300], 3);
    let held = be.allocated_bytes();
    assert!(held >= base + 4000 + 12 + 6 + 1200, "{held} bytes held after {base}");
    be.free(v.buf);
    be.free(v.buf); // twice: a no-op
    be.free_data(codes);
    assert_eq!(be.allocated_bytes(), held - 4000 - 1200);
    // What was not freed still works.
    assert_eq!(be.read(keep), vec![1.0, 2.0, 3.0]);
    let out = be.alloc(3);
    be.gather(pixels, &[1], out);
    let got = be.read(out);
    assert!(got.iter().zip([0.6, 0.8, 1.0]).all(|(g, w)| (g - w).abs() < 1e-6), "{got:?}");
    let used = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| be.read(v)));
    assert!(used.is_err(), "reading a freed buffer must fail");
    // A model gives back every buffer it allocated.
    let before = be.allocated_bytes();
    let cfg = small_config();
    let mut m = Autoencoder::new(be, &cfg, 1).unwrap();
    m.enable_step_log(be);
    let x = be.upload_f32(&vec![0.25; 4 * cfg.input_dim()], cfg.input_dim());
    m.train_step(be, x, &[0, 1, 2, 3], 1, 0);
    assert!(be.allocated_bytes() > before);
    m.release(be);
    be.free_data(x);
    assert_eq!(be.allocated_bytes(), before);
}

/// One test per case function for a backend. `$make` yields `Result<backend, reason>`; Err
/// means the backend is unavailable here: each test then says so with the reason on the test
/// output (`common::report_skip`), and where a GPU is required (`AEPLAY_REQUIRE_GPU=1`)
/// `common::gpu` fails instead.
/// One step in slow motion (issue 22) against the scalar reference, for each kind of model
/// (plain, tied, variational, sparse; hidden layers narrowed, SGD so that the update is
/// −lr × the gradient): what the page draws of it — the corruption, the code, the error at
/// the output, the update ΔW of the units it shows, the loss before and after — is the
/// reference's for that batch.
fn a_step_in_slow_motion_reads_back_the_references_numbers<B: Backend>(be: &mut B) {
    use aeplay::app::inside::{resolve, CodeView, INSIDE_ROWS, INSIDE_UNITS};
    use aeplay::core::config::preset;
    use aeplay::model::{Split, CODE_SEED};
    let close = |got: &[f32], want: &[f32], floor: f32, what: &str, name: &str| {
        assert_eq!(got.len(), want.len(), "{name}: {what}: {} values, want {}", got.len(), want.len());
        let err = max_rel_err(got, want, floor);
        assert!(err <= 2e-3, "{name}: {what} differs from the reference (rel err {err})");
    };
    for name in ["dae_vincent", "tied_ae", "vae_20", "sparse_kl"] {
        let mut cfg = preset(name).unwrap();
        let (first, last) = (0, cfg.dims.len() - 1);
        for (i, w) in cfg.dims.iter_mut().enumerate() {
            if i != first && i != last && *w > 100 {
                *w /= 20;
            }
        }
        cfg.batch = 10;
        // Small enough that no model of the four blows up in one step on these digits.
        let lr = 0.002;
        cfg.optimizer = Optimizer::Sgd { lr };
        cfg.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let layout = ParamLayout::new(&cfg);
        let (d, n, rows) = (784, cfg.batch, 20);
        let pixels: Vec<u8> = values(rows * d, 21, -400.0, 255.0).iter().map(|&v| v.max(0.0) as u8).collect();
        let split = Split { data: be.upload_u8(&pixels, d), labels: None };
        let mut model = Autoencoder::new(be, &cfg, 5).unwrap();
        let params = model.params_host(be);
        let idx: Vec<u32> = (0..n as u32).map(|i| (i * 3 + 1) % rows as u32).collect();
        let (seed, stream) = (17u32, 4u32);
        let reads = model.train_step_inside(be, split, &idx, seed, stream, INSIDE_ROWS);
        let s = aeplay::backend::block_on(resolve(reads, &model, 5, 0)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((s.rows, s.batch), (INSIDE_ROWS, n));

        // The reference: the same batch, corrupted the same way, through the same weights.
        let mut x = vec![0.0f32; n * d];
        ops::gather(&pixels, d, &idx, &mut x);
        let mut xn = vec![0.0f32; x.len()];
        ops::noise(cfg.noise, &x, &mut xn, seed, stream);
        let shown = INSIDE_ROWS * d;
        close(&s.clean, &x[..shown], 1e-6, "the clean digits", name);
        match &s.noisy {
            Some(noisy) => close(noisy, &xn[..shown], 1e-6, "the corrupted digits", name),
            None => assert_eq!(cfg.noise, NoiseKind::None, "{name}: the corruption is shown"),
        }
        let noise = reference::CodeNoise { seed: seed ^ CODE_SEED, stream, sample: true };
        let scale = if cfg.reduction == Reduction::Sum { 1.0 } else { 1.0 / n as f32 };
        let f = reference::forward_full(&cfg, &layout, &params, &xn, n, noise);
        let out = f.acts.last().unwrap();
        let (mut dy, mut row_loss) = (vec![0.0f32; out.len()], vec![0.0f32; n]);
        ops::loss_forward_backward(cfg.loss, out, &x, d, scale, &mut dy, &mut row_loss);
        let mut err = vec![0.0f32; out.len()];
        ops::act_backward(&dy, out, cfg.output_activation_in_graph(), &mut err);
        close(&s.error, &err[..shown], 1e-3, "the error at the output", name);
        let mut pixels_out = out[..shown].to_vec();
        model.output_to_pixels(&mut pixels_out);
        close(&s.out, &pixels_out, 1e-3, "the reconstructions", name);
        // The code: the code layer's output (a variational code's μ and σ, and z).
        let code = &f.acts[cfg.code_layer()];
        match &s.code {
            CodeView::Plain { width, values } => {
                assert_eq!(*width, cfg.code_dim(), "{name}: the code's width");
                close(values, &code[..INSIDE_ROWS * width], 1e-3, "the code", name);
            }
            CodeView::Variational { latent, mu, sigma, z } => {
                assert!(cfg.variational && *latent == cfg.code_dim());
                let (want_mu, want_sigma): (Vec<f32>, Vec<f32>) = (
                    code.chunks(2 * latent).take(INSIDE_ROWS).flat_map(|r| r[..*latent].to_vec()).collect(),
                    code.chunks(2 * latent).take(INSIDE_ROWS).flat_map(|r| r[*latent..].iter().map(|g| (0.5 * g).exp()).collect::<Vec<_>>()).collect(),
                );
                close(mu, &want_mu, 1e-3, "μ", name);
                close(sigma, &want_sigma, 1e-3, "σ", name);
                close(z, &f.code[..INSIDE_ROWS * latent], 1e-3, "the sampled code", name);
            }
        }
        if let Some(sp) = cfg.sparsity {
            let h = &f.acts[sp.layer + 1];
            let width = layout.dense[sp.layer].fan_out;
            let mut mean = vec![0.0f32; width];
            ops::bias_grad(h, &mut mean, width, false);
            mean.iter_mut().for_each(|m| *m /= n as f32);
            let (got, rho) = s.sparsity.as_ref().expect("a sparse model's mean activations");
            assert_eq!(*rho, sp.rho);
            close(got, &mean, 1e-3, "the mean activations", name);
        }
        // The update of the units shown: −lr × the reference's gradient for this batch; they
        // are the units that moved most.
        let r = reference::loss_and_grad_with(&cfg, &layout, &params, Batch { input: &xn, target: &x, rows: n, scale }, noise);
        let w0 = &layout.dense[0];
        assert_eq!(s.units.len(), INSIDE_UNITS.min(w0.fan_out), "{name}: units shown");
        let norm = |j: usize| (0..d).map(|i| (r.grads[w0.w + i * w0.fan_out + j] as f64).powi(2)).sum::<f64>();
        let least_shown = s.units.iter().map(|&j| norm(j)).fold(f64::INFINITY, f64::min);
        let others = (0..w0.fan_out).filter(|j| !s.units.contains(j)).map(norm).fold(0.0, f64::max);
        assert!(least_shown >= others * (1.0 - 1e-3), "{name}: the units shown moved most");
        for (u, &j) in s.units.iter().enumerate() {
            let want: Vec<f32> = (0..d).map(|i| -lr * r.grads[w0.w + i * w0.fan_out + j]).collect();
            let before: Vec<f32> = (0..d).map(|i| params[w0.w + i * w0.fan_out + j]).collect();
            close(&s.weights[u * d..(u + 1) * d], &before, 1e-6, "the unit's weights", name);
            // ΔW is after − before in f32: it is known to a few ulps of the weight itself.
            for (i, ((&got, &w), &b)) in s.delta[u * d..(u + 1) * d].iter().zip(&want).zip(&before).enumerate() {
                let tol = 2e-3 * w.abs() + 8.0 * f32::EPSILON * b.abs().max(1e-3);
                assert!((got - w).abs() <= tol, "{name}: ΔW of unit {j}, pixel {i}: {got}, reference {w}");
            }
        }
        // The loss before and after the step, on the same batch and draws.
        let want_before = r.loss as f64 / n as f64;
        assert!(((s.loss_before - want_before) / want_before).abs() <= 2e-3, "{name}: loss before {} (reference {want_before})", s.loss_before);
        let mut after = params.clone();
        ops::sgd_step(&mut after, &r.grads, lr);
        let r2 = reference::loss_and_grad_with(&cfg, &layout, &after, Batch { input: &xn, target: &x, rows: n, scale }, noise);
        let want_after = r2.loss as f64 / n as f64;
        assert!(((s.loss_after - want_after) / want_after).abs() <= 2e-3, "{name}: loss after {} (reference {want_after})", s.loss_after);
        // The step counts as one: the model goes on from the updated weights.
        close(&model.params_host(be), &after, 1e-2, "the weights after the step", name);
    }
}

macro_rules! suite {
    ($backend:ident, $make:expr) => {
        suite!(@tests $backend, $make, matmul_all_forms, fused_layer_ops, weight_grads_then_step, elementwise_ops,
            ten_steps_match_reference, optimizer_ops, model_zoo_ops, every_preset_shrunk_matches_reference,
            free_releases_memory, ten_steps_adam_tied_l2_match_reference, a_step_in_slow_motion_reads_back_the_references_numbers);
    };
    (@tests $backend:ident, $make:expr, $($case:ident),*) => {
        mod $backend {
            use super::*;
            /// The backend, or None after saying on the test output why it is not tested here.
            fn make() -> Option<impl Backend> {
                match $make {
                    Ok(be) => Some(be),
                    Err(why) => {
                        common::report_skip(concat!("backend_suite::", stringify!($backend)), &why);
                        None
                    }
                }
            }
            $(
                #[test]
                fn $case() {
                    if let Some(mut be) = make() {
                        super::$case(&mut be);
                        // A GPU error (a shader the driver rejects) also fails the case.
                        assert_eq!(be.health(), Ok(()));
                    }
                }
            )*
        }
    };
}

suite!(cpu, Ok::<_, String>(CpuBackend::new()));
// The CPU backend's other kernel variants: the one-lane fallback, and AVX2+FMA on two
// threads where the CPU has it (None elsewhere: nothing to test there).
suite!(cpu_scalar, Ok::<_, String>(CpuBackend::with(aeplay::backend::cpu::Isa::Scalar, 1)));
suite!(cpu_avx2, aeplay::backend::cpu::Isa::from_name("avx2").map(|i| CpuBackend::with(i, 2)).ok_or_else(|| "this CPU has no AVX2+FMA".to_string()));
// The GPU backend with its kernels picked per shape, with every matmul kernel variant
// forced in turn (each runs the whole suite on lavapipe), and with the fusions off.
suite!(gpu, common::gpu());
suite!(gpu_tiled, common::gpu_variant("tiled"));
suite!(gpu_tiled8, common::gpu_variant("tiled8"));
suite!(gpu_narrow, common::gpu_variant("narrow"));
suite!(gpu_direct, common::gpu_variant("direct"));
suite!(gpu_direct8, common::gpu_variant("direct8"));
suite!(gpu_ksplit, common::gpu_variant("ksplit"));
suite!(gpu_ksplit_subgroup, common::gpu_variant("ksplit_subgroup"));
suite!(gpu_unfused, common::gpu_unfused());
