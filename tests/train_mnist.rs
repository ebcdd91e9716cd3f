//! Training on real MNIST lowers the clean test loss (a behaviour test, not a timing).

mod common;

use aeplay::backend::cpu::CpuBackend;
use aeplay::core::config::preset;
use aeplay::train::Trainer;

#[test]
fn dae_vincent_learns_on_mnist_and_is_deterministic() {
    let data = common::mnist();
    let cfg = preset("dae_vincent").unwrap();
    let mut t = Trainer::new(CpuBackend::new(), &cfg, &data, 3).unwrap();
    let before = t.test_loss(Some(1000));
    // 784·ln 2 ≈ 543: an untrained sigmoid output of ~0.5 everywhere.
    assert!((500.0..600.0).contains(&before), "initial test loss {before}");
    for _ in 0..400 {
        t.step();
    }
    let (train, n) = t.take_train_loss().unwrap();
    assert_eq!(n, 400 * 16);
    let after = t.test_loss(Some(1000));
    assert!(after < 130.0, "test loss only went from {before} to {after} in 400 steps");
    assert!(train < before, "train loss {train} did not fall below the initial {before}");

    // Same seed, same numbers.
    let mut again = Trainer::new(CpuBackend::new(), &cfg, &data, 3).unwrap();
    for _ in 0..400 {
        again.step();
    }
    assert_eq!(again.test_loss(Some(1000)), after, "training is not deterministic for a fixed seed");
}
