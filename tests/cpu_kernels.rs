//! The CPU backend's SIMD kernels against the scalar reference, for every instruction set
//! this machine has (scalar, AVX2+FMA, AVX-512 on x86-64): every m, n in 0..=33 with a
//! spread of k, all four transpose forms with and without accumulation, outputs poisoned
//! with NaN between guard zones; the real training shapes on 1 and 2 threads; and the
//! training step's determinism across thread counts. The same sweep runs in the browser's
//! wasm build through the page's `?selftest=kernels` mode (tests/e2e/kernels.test.mjs).

use aeplay::backend::cpu::{check, gemm, CpuBackend, Isa};
use aeplay::backend::Backend;
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
                    check::check_matmul(isa, threads, m, k, n, ta, tb, acc, 1000 + i as u32).unwrap_or_else(|e| panic!("{e}"));
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
            gemm::sgemm(isa, 1, &a, &b, &mut c1, m, k, n, ta, tb, false);
            for threads in [2, 3, 4] {
                let mut c = vec![f32::NAN; m * n];
                gemm::sgemm(isa, threads, &a, &b, &mut c, m, k, n, ta, tb, false);
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
