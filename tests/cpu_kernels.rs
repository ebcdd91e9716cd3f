//! The CPU backend's SIMD kernels against the scalar reference, for every instruction set
//! this machine has (scalar, AVX2+FMA, AVX-512 on x86-64): every m, n in 0..=33 with a
//! spread of k, all four transpose forms with and without accumulation, outputs poisoned
//! with NaN between guard zones; the real training shapes on 1 and 2 threads; and the
//! training step's determinism across thread counts. The same sweep runs in the browser's
//! wasm build through the page's `?selftest=kernels` mode (tests/e2e/kernels.test.mjs).

use aeplay::backend::cpu::{check, gemm, CpuBackend, Isa};
use aeplay::backend::{Buffers, LayerOps, OptimOps, View};
use aeplay::core::ops::Gemm;
use aeplay::core::config::preset;
use aeplay::model::Autoencoder;

#[test]
fn every_isa_matches_the_reference_on_sizes_0_to_33() {
    for isa in Isa::available() {
        let n = check::sweep_matmul(isa, 1, 33).unwrap_or_else(|e| panic!("{e}"));
        assert!(n > 100_000, "{}: only {n} products checked", isa.name());
    }
}

#[test]
fn odd_and_real_shapes_on_one_and_two_threads() {
    let shapes = [
        (16, 784, 500),
        (64, 500, 784),
        (784, 16, 500),
        (500, 64, 784),
        (37, 129, 263),
        (263, 37, 129),
        (1, 784, 500),
        (33, 1000, 47),
        (300, 3, 200),
    ];
    for isa in Isa::available() {
        for threads in [1, 2, 3] {
            for (i, &(m, k, n)) in shapes.iter().enumerate() {
                for form in 0..8 {
                    let (ta, tb, acc) = (form & 1 != 0, form & 2 != 0, form & 4 != 0);
                    check::check_matmul(isa, threads, Gemm::new(m, k, n).ta(ta).tb(tb).accumulate(acc), 1000 + i as u32).unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
    }
}

#[test]
fn products_do_not_depend_on_the_thread_count() {
    for isa in Isa::available() {
        for &(m, k, n, ta, tb) in &[(16, 784, 500, false, false), (784, 64, 500, true, false), (64, 784, 500, false, true)] {
            let a = check::values(m * k, 1, -1.0, 1.0);
            let b = check::values(k * n, 2, -1.0, 1.0);
            let mut c1 = vec![0.0; m * n];
            gemm::sgemm(isa, 1, &a, &b, &mut c1, Gemm::new(m, k, n).ta(ta).tb(tb));
            for threads in [2, 3, 4] {
                let mut c = vec![f32::NAN; m * n];
                gemm::sgemm(isa, threads, &a, &b, &mut c, Gemm::new(m, k, n).ta(ta).tb(tb));
                assert!(
                    c.iter().zip(&c1).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{} {m}×{k}×{n}: {threads} threads differ from 1 thread",
                    isa.name()
                );
            }
        }
    }
}

#[test]
fn elementwise_passes_match_the_reference() {
    let n = check::sweep_elementwise(33).unwrap_or_else(|e| panic!("{e}"));
    assert!(n > 1000);
    let worst = check::check_exp().unwrap_or_else(|e| panic!("{e}"));
    assert!(worst < 5e-7);
}

/// Twenty dae_vincent steps on synthetic data: the parameters are bit-identical whether the
/// kernels run on one thread or several (training is reproducible from its seed).
#[test]
fn training_is_deterministic_across_thread_counts() {
    let cfg = preset("dae_vincent").unwrap();
    let d = cfg.input_dim();
    let rows = 64;
    let pixels: Vec<u8> = check::values(rows * d, 3, 0.0, 255.0).iter().map(|&v| v as u8).collect();
    let run = |threads: usize| {
        let mut be = CpuBackend::with(Isa::detect(), threads);
        let data = be.upload_u8(&pixels, d);
        let mut model = Autoencoder::new(&mut be, &cfg, 9).unwrap();
        for step in 0..20u32 {
            let idx: Vec<u32> = (0..16).map(|i| (step * 16 + i * 5) % rows as u32).collect();
            model.train_step(&mut be, data, &idx, 7, step);
        }
        model.params_host(&mut be)
    };
    let one = run(1);
    assert!(one.iter().all(|v| v.is_finite()));
    for threads in [2, 4] {
        let p = run(threads);
        assert!(one.iter().zip(&p).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads changed the parameters");
    }
}

/// The packed product and the fused product + SGD that the backend uses for weight
/// gradients: every m, n in 0..=33, k from 0 to past the 128 block, A stored either way,
/// on 1 and 3 threads: the same bits as the unfused path, within rounding of the reference,
/// nothing written outside the output (NaN-poisoned C, guard zones).
#[test]
fn fused_product_and_sgd_match_the_unfused_path_on_sizes_0_to_33() {
    for isa in Isa::available() {
        for threads in [1, 3] {
            let n = check::sweep_fused(isa, threads, 33).unwrap_or_else(|e| panic!("{e}"));
            assert!(n > 20_000, "{}: only {n} cases checked", isa.name());
        }
    }
}

/// A deferred weight gradient through the backend's ops, against the same products done on
/// the host: applied by `sgd_step` (twice: the gradient buffer still holds it), read back,
/// overwritten in part by `write`, accumulated into, used as another product's input, and
/// replaced by a new product, in views that start inside their buffers.
#[test]
fn deferred_weight_gradients_behave_like_computed_ones() {
    let (m, k, n) = (37, 16, 45);
    let lr = 0.25;
    let pad = 5;
    for isa in Isa::available() {
        for threads in [1, 2] {
            let mut be = CpuBackend::with(isa, threads);
            let ew = aeplay::backend::cpu::Elementwise { isa, threads };
            let a = check::values(k * m, 1, -1.0, 1.0); // stored k×m: Aᵀ·B
            let b = check::values(k * n, 2, -1.0, 1.0);
            let bias_g = check::values(n, 3, -1.0, 1.0);
            let p0 = check::values(m * n + n, 4, -1.0, 1.0);
            let mut g = vec![0.0f32; m * n];
            gemm::sgemm(isa, threads, &a, &b, &mut g, Gemm::new(m, k, n).ta(true));

            let up = |be: &mut CpuBackend, d: &[f32]| {
                let v = be.alloc(d.len() + 2 * pad);
                be.write(v, &[vec![9.0; pad], d.to_vec(), vec![9.0; pad]].concat());
                v.slice(pad, d.len())
            };
            let (av, bv) = (up(&mut be, &a), up(&mut be, &b));
            let params = up(&mut be, &p0);
            let grads = up(&mut be, &vec![f32::NAN; m * n + n]);
            let (gw, gb) = (grads.slice(0, m * n), grads.slice(m * n, n));
            be.matmul(av, bv, gw, Gemm::new(m, k, n).ta(true));
            be.write(gb, &bias_g);
            let g_all = [g.clone(), bias_g.clone()].concat();
            let mut want = p0.clone();
            for _ in 0..2 {
                be.sgd_step(params, grads, lr);
                ew.sgd_step(&mut want, &g_all, lr);
            }
            let what = format!("{} ×{threads}", isa.name());
            let same = |x: &[f32], y: &[f32]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
            let got = be.read(params);
            assert!(same(&got, &want), "{what}: parameters after two fused SGD steps");
            let whole = be.read(View { offset: 0, len: m * n + n + 2 * pad, ..grads });
            assert!(whole[..pad].iter().chain(&whole[pad + m * n + n..]).all(|&v| v == 9.0), "{what}: wrote outside the gradient");
            assert!(same(&be.read(gw), &g), "{what}: the gradient read after the step");

            // Written in part: the rest is the product.
            be.matmul(av, bv, gw, Gemm::new(m, k, n).ta(true));
            let patch = check::values(50, 5, 3.0, 4.0);
            be.write(gw.slice(100, 50), &patch);
            let mut want_g = g.clone();
            want_g[100..150].copy_from_slice(&patch);
            assert!(same(&be.read(gw), &want_g), "{what}: a gradient written in part");

            // Accumulated into, and used as the A of another product.
            be.matmul(av, bv, gw, Gemm::new(m, k, n).ta(true));
            be.matmul(av, bv, gw, Gemm::new(m, k, n).ta(true).accumulate(true));
            let g2: Vec<f32> = g.iter().map(|&v| v + v).collect();
            assert!(same(&be.read(gw), &g2), "{what}: a product accumulated into a deferred one");
            be.matmul(av, bv, gw, Gemm::new(m, k, n).ta(true));
            let x = check::values(n * 3, 6, -1.0, 1.0);
            let xv = up(&mut be, &x);
            let out = up(&mut be, &vec![f32::NAN; m * 3]);
            be.matmul(gw, xv, out, Gemm::new(m, n, 3));
            let mut want_out = vec![0.0f32; m * 3];
            gemm::sgemm(isa, threads, &g, &x, &mut want_out, Gemm::new(m, n, 3));
            assert!(same(&be.read(out), &want_out), "{what}: a deferred product as another's input");

            // Replaced by a new product before anything used it.
            be.matmul(av, bv, gw, Gemm::new(m, k, n).ta(true));
            be.matmul(bv, av, gw.slice(0, n * m), Gemm::new(n, k, m).ta(true));
            let mut g3 = vec![0.0f32; n * m];
            gemm::sgemm(isa, threads, &b, &a, &mut g3, Gemm::new(n, k, m).ta(true));
            assert!(same(&be.read(gw), &g3), "{what}: a deferred product overwritten by another");
        }
    }
}
