//! Parameter layout: all parameters live in one flat f32 buffer with named offsets
//! (llm.c style), so one optimizer dispatch updates everything and gradients (and, later,
//! optimizer moments) share the layout.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;

use super::config::{Init, ModelConfig};

/// Where one dense layer's weights W[fan_in×fan_out] and bias b[fan_out] live.
/// With tied weights a decoder layer has no W of its own: `w` points at its encoder
/// partner's W (stored fan_out × fan_in), which it uses transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseSlot {
    pub fan_in: usize,
    pub fan_out: usize,
    /// Offset of W, row-major fan_in × fan_out (fan_out × fan_in when `transposed`).
    pub w: usize,
    /// Offset of b, fan_out elements.
    pub b: usize,
    /// The layer uses another layer's W transposed (tied weights).
    pub transposed: bool,
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
    /// The layout of a model. The sums are checked: a validated config (whose parameter
    /// count [`ModelConfig::validate`] bounds) never overflows, even in a browser's 32-bit
    /// `usize`; an unvalidated one that would is a programming error and panics.
    pub fn new(cfg: &ModelConfig) -> Self {
        let layers = cfg.layers();
        let mut off: usize = 0;
        let mut dense: Vec<DenseSlot> = Vec::with_capacity(layers);
        let overflow = || panic!("the parameter count of {:?} overflows usize: validate the config first", cfg.dims);
        for l in 0..layers {
            // A variational code's layer produces μ and log σ²: twice the code width.
            let (fan_in, fan_out) = (cfg.dims[l], cfg.layer_out_width(l));
            if cfg.tied && 2 * l >= layers {
                // Decoder layer l mirrors encoder layer layers−1−l: W shared, own bias.
                let partner = dense[layers - 1 - l];
                assert_eq!((partner.fan_in, partner.fan_out), (fan_out, fan_in), "tied weights need mirrored widths");
                dense.push(DenseSlot { fan_in, fan_out, w: partner.w, b: off, transposed: true });
                off = off.checked_add(fan_out).unwrap_or_else(overflow);
            } else {
                let w_len = fan_in.checked_mul(fan_out).unwrap_or_else(overflow);
                let b = off.checked_add(w_len).unwrap_or_else(overflow);
                dense.push(DenseSlot { fan_in, fan_out, w: off, b, transposed: false });
                off = b.checked_add(fan_out).unwrap_or_else(overflow);
            }
        }
        ParamLayout { dense, total: off }
    }

    /// The weight matrices that own storage, as (offset, length): what L2 decays.
    pub fn weight_ranges(&self) -> Vec<(usize, usize)> {
        self.dense.iter().filter(|s| !s.transposed).map(|s| (s.w, s.w_len())).collect()
    }

    /// Initial parameters for `seed` (biases zero). Deterministic on every platform.
    pub fn init(&self, cfg: &ModelConfig, seed: u64) -> Vec<f32> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut p = vec![0.0f32; self.total];
        for s in self.dense.iter().filter(|s| !s.transposed) {
            let w = &mut p[s.w..s.w + s.w_len()];
            let a = match cfg.init {
                Init::Uniform { a } => a,
                Init::GlorotUniform => (6.0 / (s.fan_in + s.fan_out) as f32).sqrt(),
                Init::HeNormal => {
                    let normal = Normal::new(0.0f32, (2.0 / s.fan_in as f32).sqrt()).expect("finite sd");
                    w.iter_mut().for_each(|v| *v = normal.sample(&mut rng));
                    continue;
                }
            };
            for v in w {
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

    #[test]
    fn the_total_agrees_with_the_config_s_checked_count() {
        for name in crate::core::config::PRESET_NAMES {
            let cfg = preset(name).unwrap();
            assert_eq!(Some(ParamLayout::new(&cfg).total as u64), cfg.param_count(), "{name}");
        }
    }

    #[test]
    #[should_panic(expected = "overflows usize")]
    fn an_overflowing_layout_panics_instead_of_wrapping() {
        let mut cfg = preset("dae_vincent").unwrap();
        cfg.dims = vec![usize::MAX / 2, 3, 784];
        ParamLayout::new(&cfg);
    }

    #[test]
    fn tied_decoder_owns_only_its_bias() {
        let cfg = preset("tied_ae").unwrap();
        let l = ParamLayout::new(&cfg);
        assert_eq!(l.total, 784 * 500 + 500 + 784);
        assert_eq!(l.dense[1].w, l.dense[0].w);
        assert!(l.dense[1].transposed && !l.dense[0].transposed);
        assert_eq!(l.dense[1].b, 784 * 500 + 500);
        assert_eq!(l.weight_ranges(), vec![(0, 784 * 500)]);
    }

    #[test]
    fn he_normal_has_the_right_spread() {
        let cfg = preset("stacked_elu").unwrap();
        let l = ParamLayout::new(&cfg);
        let p = l.init(&cfg, 1);
        let s = l.dense[0];
        let w = &p[s.w..s.w + s.w_len()];
        let var = w.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / w.len() as f64;
        let want = 2.0 / 784.0;
        assert!((var / want - 1.0).abs() < 0.02, "variance {var}, want {want}");
        assert!(p[s.b..s.b + s.fan_out].iter().all(|&v| v == 0.0));
    }
}
