//! Counter-based random numbers: `uniform(seed, stream, i)` depends only on its arguments,
//! so the CPU, the GPU (shaders/noise.wgsl implements the same hash) and the scalar
//! reference draw identical noise for element `i` of step `stream` without sharing state.

/// PCG-style 32-bit integer hash (the output permutation of PCG-RXS-M-XS).
#[inline]
pub fn pcg_hash(input: u32) -> u32 {
    let state = input.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28).wrapping_add(4))) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// A random u32 for element `i` of stream `stream` under `seed`.
#[inline]
pub fn random_u32(seed: u32, stream: u32, i: u32) -> u32 {
    pcg_hash(i ^ pcg_hash(stream ^ pcg_hash(seed)))
}

/// A uniform number in [0, 1) with 24 bits of resolution (exact in f32).
#[inline]
pub fn uniform(seed: u32, stream: u32, i: u32) -> f32 {
    (random_u32(seed, stream, i) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A standard normal number for element `i` (Box–Muller from two independent uniforms;
/// shaders/elementwise.wgsl computes the same, up to the rounding of `log` and `cos`).
#[inline]
pub fn normal(seed: u32, stream: u32, i: u32) -> f32 {
    let u1 = uniform(seed, stream, i);
    let u2 = uniform(seed ^ 0x68e3_1da4, stream, i);
    (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// The second uniform of element `i` (salt-or-pepper choice; Box–Muller's angle).
#[inline]
pub fn uniform2(seed: u32, stream: u32, i: u32) -> f32 {
    uniform(seed ^ 0x68e3_1da4, stream, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_in_range_and_roughly_flat() {
        let n = 100_000u32;
        let mut buckets = [0u32; 10];
        for i in 0..n {
            let u = uniform(7, 3, i);
            assert!((0.0..1.0).contains(&u));
            buckets[(u * 10.0) as usize] += 1;
        }
        for b in buckets {
            assert!((9_500..10_500).contains(&b), "bucket count {b} far from 10000");
        }
    }

    #[test]
    fn streams_and_seeds_differ() {
        let a: Vec<u32> = (0..64).map(|i| random_u32(1, 0, i)).collect();
        let b: Vec<u32> = (0..64).map(|i| random_u32(1, 1, i)).collect();
        let c: Vec<u32> = (0..64).map(|i| random_u32(2, 0, i)).collect();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, (0..64).map(|i| random_u32(1, 0, i)).collect::<Vec<_>>());
    }

    #[test]
    fn normal_has_zero_mean_and_unit_variance() {
        let n = 200_000u32;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for i in 0..n {
            let v = normal(5, 9, i) as f64;
            assert!(v.is_finite());
            s += v;
            s2 += v * v;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "mean {mean}, variance {var}");
    }
}
