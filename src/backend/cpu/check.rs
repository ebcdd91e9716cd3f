//! Self-check of the SIMD kernels against the scalar reference (`core::ops`), compiled into
//! every build so the same sweep runs natively (`tests/cpu_kernels.rs`) and inside the
//! browser's wasm module (the page's `?selftest=kernels` mode, read by the e2e tests).
//!
//! Every output starts poisoned with NaN (a missed element shows) and sits between guard
//! zones holding a sentinel (an out-of-bounds write shows).

use super::elementwise;
use super::gemm::{pack_a, sgemm, sgemm_packed, sgemm_packed_sgd, Isa};
use super::Elementwise;
use crate::core::ops::{self, Gemm};
use crate::core::{rng, Activation, LossKind};

const GUARD: usize = 64;
const SENTINEL: f32 = 1234.5;

/// Deterministic values in [lo, hi).
pub fn values(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|i| lo + (hi - lo) * rng::uniform(seed, 77, i as u32)).collect()
}

/// A buffer of `len` values between two guard zones; returns (storage, range of the payload).
fn guarded(init: &[f32]) -> Vec<f32> {
    let mut v = vec![SENTINEL; init.len() + 2 * GUARD];
    v[GUARD..GUARD + init.len()].copy_from_slice(init);
    v
}

fn check_guards(v: &[f32], what: &str) -> Result<(), String> {
    let n = v.len() - 2 * GUARD;
    let bad = v[..GUARD].iter().chain(&v[GUARD + n..]).any(|&x| x.to_bits() != SENTINEL.to_bits());
    if bad {
        Err(format!("{what}: wrote outside its output"))
    } else {
        Ok(())
    }
}

/// One product on `isa` with `threads` against the reference: the error of each element
/// must be within 1e-5 × Σ|a·b| (+1e-30), i.e. a few f32 roundings of the terms.
pub fn check_matmul(isa: Isa, threads: usize, g: Gemm, seed: u32) -> Result<(), String> {
    let Gemm { m, k, n, ta, tb, accumulate: acc } = g;
    let a = values(m * k, seed, -1.0, 1.0);
    let b = values(k * n, seed + 1, -1.0, 1.0);
    let c0 = values(m * n, seed + 2, -1.0, 1.0);
    let mut want = c0.clone();
    ops::matmul(&a, &b, &mut want, g);
    let (aa, ba): (Vec<f32>, Vec<f32>) = (a.iter().map(|v| v.abs()).collect(), b.iter().map(|v| v.abs()).collect());
    let mut mag = vec![0.0f32; m * n];
    ops::matmul(&aa, &ba, &mut mag, g.accumulate(false));
    let init = if acc { c0.clone() } else { vec![f32::NAN; m * n] };
    let mut c = guarded(&init);
    sgemm(isa, threads, &a, &b, &mut c[GUARD..GUARD + m * n], g);
    let what = format!("matmul {} ×{threads} {m}×{k}×{n} ta={ta} tb={tb} acc={acc}", isa.name());
    check_guards(&c, &what)?;
    for (i, (&got, &w)) in c[GUARD..GUARD + m * n].iter().zip(&want).enumerate() {
        let tol = 1e-5 * (mag[i] + if acc { c0[i].abs() } else { 0.0 }) + 1e-30;
        if !((got - w).abs() <= tol) {
            return Err(format!("{what}: C[{}, {}] = {got}, reference {w}", i / n, i % n));
        }
    }
    Ok(())
}

/// Every form and `accumulate` for every m, n in 0..=max and k in a spread of sizes up to
/// max; returns the number of products checked.
pub fn sweep_matmul(isa: Isa, threads: usize, max: usize) -> Result<usize, String> {
    let ks: Vec<usize> = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33].into_iter().filter(|&k| k <= max).collect();
    let mut count = 0;
    for m in 0..=max {
        for n in 0..=max {
            for &k in &ks {
                for form in 0..8 {
                    let (ta, tb, acc) = (form & 1 != 0, form & 2 != 0, form & 4 != 0);
                    check_matmul(isa, threads, Gemm::new(m, k, n).ta(ta).tb(tb).accumulate(acc), (m * 131 + n * 17 + k) as u32)?;
                    count += 1;
                }
            }
        }
    }
    Ok(count)
}

/// The packed forms the backend uses for weight gradients, for every m, n in 0..=max, a
/// spread of k (with ones past the k block of 128, where tiles are summed in blocks) and
/// A stored either way: `sgemm_packed` into a NaN-poisoned C, and the fused product + SGD
/// `sgemm_packed_sgd`, both between guard zones. Each must give exactly the bits of the
/// unfused path (`sgemm`, then the SGD pass `p − lr·g`), and be within 1e-5 × Σ|a·b| of the
/// scalar reference (`ops::matmul` then `ops::sgd_step`). Returns the number of cases.
pub fn sweep_fused(isa: Isa, threads: usize, max: usize) -> Result<usize, String> {
    let ks: Vec<usize> = [0, 1, 2, 3, 5, 8, 16, 17, 33, 129, 300].into_iter().filter(|&k| k <= max.max(16) || k > 128).collect();
    let mut count = 0;
    for m in 0..=max {
        for n in 0..=max {
            for &k in &ks {
                if k > 128 && (m + n) % 5 != 0 {
                    continue; // the blocked-k path on a fifth of the shapes keeps the sweep short
                }
                for ta in [true, false] {
                    check_fused(isa, threads, Gemm::new(m, k, n).ta(ta), (m * 37 + n * 11 + k) as u32)?;
                    count += 1;
                }
            }
        }
    }
    Ok(count)
}

/// One shape of [`sweep_fused`]: the product `shape` (its `ta` either way, `tb` and
/// `accumulate` unset).
pub fn check_fused(isa: Isa, threads: usize, shape: Gemm, seed: u32) -> Result<(), String> {
    let Gemm { m, k, n, ta, .. } = shape;
    let lr = 0.37;
    let a = values(m * k, seed, -1.0, 1.0);
    let b = values(k * n, seed + 1, -1.0, 1.0);
    let p0 = values(m * n, seed + 2, -1.0, 1.0);
    let what = format!("{} ×{threads} {m}×{k}×{n} ta={ta}", isa.name());
    // The unfused path: the gradient, then the SGD pass.
    let mut g = vec![0.0f32; m * n];
    sgemm(isa, threads, &a, &b, &mut g, shape);
    let mut p_unfused = p0.clone();
    Elementwise { isa, threads }.sgd_step(&mut p_unfused, &g, lr);
    // The reference.
    let mut g_ref = vec![0.0f32; m * n];
    ops::matmul(&a, &b, &mut g_ref, shape);
    let mut p_ref = p0.clone();
    ops::sgd_step(&mut p_ref, &g_ref, lr);
    let (aa, ba): (Vec<f32>, Vec<f32>) = (a.iter().map(|v| v.abs()).collect(), b.iter().map(|v| v.abs()).collect());
    let mut mag = vec![0.0f32; m * n];
    ops::matmul(&aa, &ba, &mut mag, shape);

    let mut packed = vec![f32::NAN; 3];
    pack_a(isa, threads, &a, shape, &mut packed);
    let mut c = guarded(&vec![f32::NAN; m * n]);
    sgemm_packed(isa, threads, &packed, &b, &mut c[GUARD..GUARD + m * n], shape);
    check_guards(&c, &format!("sgemm_packed {what}"))?;
    if let Some(i) = (0..m * n).find(|&i| c[GUARD + i].to_bits() != g[i].to_bits()) {
        return Err(format!("sgemm_packed {what}: C[{}, {}] = {}, sgemm gives {}", i / n, i % n, c[GUARD + i], g[i]));
    }
    let mut p = guarded(&p0);
    sgemm_packed_sgd(isa, threads, &packed, &b, &mut p[GUARD..GUARD + m * n], shape, lr);
    check_guards(&p, &format!("sgemm_packed_sgd {what}"))?;
    for i in 0..m * n {
        let got = p[GUARD + i];
        if got.to_bits() != p_unfused[i].to_bits() {
            return Err(format!("sgemm_packed_sgd {what}: P[{}, {}] = {got}, the unfused path gives {}", i / n, i % n, p_unfused[i]));
        }
        let tol = 1e-5 * (lr * mag[i] + p0[i].abs()) + 1e-30;
        if !((got - p_ref[i]).abs() <= tol) {
            return Err(format!("sgemm_packed_sgd {what}: P[{}, {}] = {got}, reference {}", i / n, i % n, p_ref[i]));
        }
    }
    Ok(())
}

/// Max |got − want| / max(|want|, floor) over two slices, NaN counting as infinite.
fn rel_err(got: &[f32], want: &[f32], floor: f32) -> f32 {
    got.iter()
        .zip(want)
        .map(|(&g, &w)| {
            let e = (g - w).abs() / w.abs().max(floor);
            if e.is_nan() {
                f32::INFINITY
            } else {
                e
            }
        })
        .fold(0.0, f32::max)
}

fn close(what: String, got: &[f32], want: &[f32], tol: f32) -> Result<(), String> {
    let e = rel_err(got, want, 1e-3);
    if e <= tol {
        Ok(())
    } else {
        Err(format!("{what}: relative error {e} > {tol}"))
    }
}

/// The fused element-wise passes against the reference, on every ISA of this build, for
/// every rows × cols up to `max` (one thread), and when `max` ≥ 33 also for a few shapes
/// big enough to be split over 1, 2 and 3 threads: NaN-poisoned, guarded outputs and
/// inputs that include saturating values. Returns the number of cases checked.
pub fn sweep_elementwise(max: usize) -> Result<usize, String> {
    let mut count = 0;
    for isa in Isa::available() {
        let ew = Elementwise { isa, threads: 1 };
        for rows in 0..=max.min(5) {
            // cols = 0 is left out: the reference chunks rows by cols and panics on 0.
            for cols in 1..=max {
                count += check_elementwise(ew, rows, cols)?;
            }
        }
        if max >= 33 {
            for threads in [1, 2, 3] {
                for (rows, cols) in [(64, 785), (257, 500), (100, 784)] {
                    count += check_elementwise(Elementwise { isa, threads }, rows, cols)?;
                }
            }
        }
    }
    Ok(count)
}

/// Every element-wise pass of `ew` on rows × cols against the reference.
pub fn check_elementwise(ew: Elementwise, rows: usize, cols: usize) -> Result<usize, String> {
    let mut count = 0;
    let acts = [Activation::Identity, Activation::Sigmoid, Activation::Tanh, Activation::Relu, Activation::Elu];
    let tag = format!("{} ×{}", ew.isa.name(), ew.threads);
    let len = rows * cols;
    let seed = (rows * 64 + cols) as u32;
    let mut x = values(len, seed, -12.0, 12.0);
    // a few extreme logits: saturation and the exp clamps
    for (i, v) in [-100.0f32, 100.0, -88.0, 89.0, 0.0].into_iter().enumerate() {
        if i < len {
            x[(i * 7) % len] = v;
        }
    }
    let bias = values(cols, seed + 1, -1.0, 1.0);
    for act in acts {
        let mut want = vec![0.0; len];
        ops::bias_act_forward(&x, &bias, act, &mut want, cols);
        let mut out = guarded(&vec![f32::NAN; len]);
        ew.bias_act_forward(&x, &bias, act, &mut out[GUARD..GUARD + len], cols);
        check_guards(&out, "bias_act_forward")?;
        close(format!("bias_act_forward {tag} {act:?} {rows}×{cols}"), &out[GUARD..GUARD + len], &want, 1e-5)?;

        let dy = values(len, seed + 2, -1.0, 1.0);
        let mut want_dz = vec![0.0; len];
        ops::act_backward(&dy, &want, act, &mut want_dz);
        let mut dz = guarded(&vec![f32::NAN; len]);
        ew.act_backward(&dy, &want, act, &mut dz[GUARD..GUARD + len]);
        check_guards(&dz, "act_backward")?;
        close(format!("act_backward {tag} {act:?} {rows}×{cols}"), &dz[GUARD..GUARD + len], &want_dz, 1e-6)?;
        count += 2;
    }
    for acc in [false, true] {
        let init = values(cols, seed + 3, -1.0, 1.0);
        let mut want = init.clone();
        ops::bias_grad(&x, &mut want, cols, acc);
        let mut db = guarded(&if acc { init.clone() } else { vec![f32::NAN; cols] });
        ew.bias_grad(&x, &mut db[GUARD..GUARD + cols], cols, acc);
        check_guards(&db, "bias_grad")?;
        close(format!("bias_grad {tag} {rows}×{cols} acc={acc}"), &db[GUARD..GUARD + cols], &want, 1e-6)?;
        count += 1;
    }
    let target = values(len, seed + 4, 0.0, 1.0);
    for kind in [LossKind::BceLogits, LossKind::HalfSse, LossKind::Mse] {
        let (mut dwant, mut lwant) = (vec![0.0; len], vec![0.0; rows]);
        ops::loss_forward_backward(kind, &x, &target, cols, 0.5, &mut dwant, &mut lwant);
        let mut d = guarded(&vec![f32::NAN; len]);
        let mut l = guarded(&vec![f32::NAN; rows]);
        ew.loss_forward_backward(ops::Loss { kind, cols, scale: 0.5 }, &x, &target, &mut d[GUARD..GUARD + len], &mut l[GUARD..GUARD + rows]);
        check_guards(&d, "loss gradient")?;
        check_guards(&l, "row loss")?;
        close(format!("loss gradient {tag} {kind:?} {rows}×{cols}"), &d[GUARD..GUARD + len], &dwant, 1e-4)?;
        close(format!("row loss {tag} {kind:?} {rows}×{cols}"), &l[GUARD..GUARD + rows], &lwant, 1e-5)?;
        count += 1;
    }
    let mut want = vec![0.0; len];
    ops::noise_masking(&x, &mut want, 0.7, seed, 3);
    let mut out = guarded(&vec![f32::NAN; len]);
    ew.noise_masking(&x, &mut out[GUARD..GUARD + len], 0.7, seed, 3);
    check_guards(&out, "noise_masking")?;
    if out[GUARD..GUARD + len].iter().zip(&want).any(|(a, b)| a.to_bits() != b.to_bits()) {
        return Err(format!("noise_masking {tag} {rows}×{cols}: differs from the reference's draws"));
    }
    let grads = values(len, seed + 5, -1.0, 1.0);
    let mut want = x.clone();
    ops::sgd_step(&mut want, &grads, 0.1);
    let mut p = guarded(&x);
    ew.sgd_step(&mut p[GUARD..GUARD + len], &grads, 0.1);
    check_guards(&p, "sgd_step")?;
    close(format!("sgd_step {tag} {len}"), &p[GUARD..GUARD + len], &want, 0.0)?;
    let data: Vec<u8> = (0..(rows + 2) * cols).map(|i| (i * 37 % 256) as u8).collect();
    let idx: Vec<u32> = (0..rows as u32).map(|i| (i * 5 + 1) % (rows as u32 + 2)).collect();
    let mut want = vec![0.0; len];
    ops::gather(&data, cols, &idx, &mut want);
    let mut out = guarded(&vec![f32::NAN; len]);
    ew.gather(&data, cols, &idx, &mut out[GUARD..GUARD + len]);
    check_guards(&out, "gather")?;
    close(format!("gather {tag} {rows}×{cols}"), &out[GUARD..GUARD + len], &want, 0.0)?;
    count += 5;
    Ok(count)
}

/// `exp` against f64 over [-87, 88] and its saturation outside; returns the worst
/// relative error seen.
pub fn check_exp() -> Result<f64, String> {
    let mut worst = 0.0f64;
    let steps = 200_000;
    for i in 0..=steps {
        let x = -87.0 + 175.0 * i as f64 / steps as f64;
        let got = elementwise::exp(x as f32) as f64;
        let want = (x as f32 as f64).exp();
        worst = worst.max(((got - want) / want).abs());
    }
    if worst > 5e-7 {
        return Err(format!("exp: relative error {worst}"));
    }
    if elementwise::exp(-100.0) != 0.0 || elementwise::exp(100.0) != f32::INFINITY || elementwise::exp(0.0) != 1.0 {
        return Err("exp: wrong saturation or exp(0) ≠ 1".into());
    }
    Ok(worst)
}

/// Everything above for every ISA of this build; a one-line summary or the first failure.
/// `max` bounds the sweep's sizes (33 in the native tests; smaller keeps the browser fast).
pub fn self_check(max: usize) -> Result<String, String> {
    let mut parts = Vec::new();
    for isa in Isa::available() {
        let n = sweep_matmul(isa, 1, max)?;
        let f = sweep_fused(isa, 1, max)?;
        parts.push(format!("{}: {n} products, {f} fused product + SGD", isa.name()));
    }
    let e = sweep_elementwise(max)?;
    let x = check_exp()?;
    parts.push(format!("{e} element-wise cases, exp rel err {x:.1e}"));
    Ok(parts.join("; "))
}
