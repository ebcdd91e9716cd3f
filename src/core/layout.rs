//! Parameter layout: all parameters live in one flat f32 buffer with named offsets
//! (llm.c style), so one optimizer dispatch updates everything and gradients (and, later,
//! optimizer moments) share the layout.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::config::{Init, ModelConfig};

/// Where one dense layer's weights W[fan_in×fan_out] and bias b[fan_out] live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseSlot {
    pub fan_in: usize,
    pub fan_out: usize,
    /// Offset of W, row-major fan_in × fan_out.
    pub w: usize,
    /// Offset of b, fan_out elements.
    pub b: usize,
}

impl DenseSlot {
    pub fn w_len(&self) -> usize {
        self.fan_in * self.fan_out
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    pub dense: Vec<DenseSlot>,
    pub total: usize,
}

impl ParamLayout {
    pub fn new(cfg: &ModelConfig) -> Self {
        let mut off = 0;
        let dense = cfg
            .dims
            .windows(2)
            .map(|w| {
                let slot = DenseSlot { fan_in: w[0], fan_out: w[1], w: off, b: off + w[0] * w[1] };
                off += w[0] * w[1] + w[1];
                slot
            })
            .collect();
        ParamLayout { dense, total: off }
    }

    /// Initial parameters for `seed` (biases zero). Deterministic on every platform.
    pub fn init(&self, cfg: &ModelConfig, seed: u64) -> Vec<f32> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut p = vec![0.0f32; self.total];
        for s in &self.dense {
            let a = match cfg.init {
                Init::Uniform { a } => a,
                Init::GlorotUniform => (6.0 / (s.fan_in + s.fan_out) as f32).sqrt(),
            };
            for v in &mut p[s.w..s.w + s.w_len()] {
                *v = rng.random_range(-a..=a);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::preset;

    #[test]
    fn layout_is_contiguous_and_init_is_in_range_and_reproducible() {
        let cfg = preset("dae_vincent").unwrap();
        let l = ParamLayout::new(&cfg);
        assert_eq!(l.total, 784 * 500 + 500 + 500 * 784 + 784);
        assert_eq!(l.dense[1].w, 784 * 500 + 500);
        let p = l.init(&cfg, 1);
        assert!(p.iter().all(|v| v.abs() <= 0.01));
        assert!(p[l.dense[0].b..l.dense[0].b + 500].iter().all(|&v| v == 0.0));
        assert_eq!(p, l.init(&cfg, 1));
        assert_ne!(p, l.init(&cfg, 2));
    }
}
