//! A picture of the model, drawn from its description (`ModelConfig`): the layers as blocks
//! sized by their width, each with its activation, the noise on the input, tied weights,
//! the variational code, a sparsity target, the loss, and the layers a recipe's phase keeps
//! frozen. It is how the page says what is training (an SVG; its numbers and words come
//! from the description, escaped).

use crate::core::config::{Activation, LossKind, NoiseKind};
use crate::core::ModelConfig;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn activation(a: Activation) -> &'static str {
    match a {
        Activation::Identity => "linear",
        Activation::Sigmoid => "sigmoid",
        Activation::Tanh => "tanh",
        Activation::Relu => "ReLU",
        Activation::Elu => "ELU",
    }
}

/// The noise in words.
pub fn noise_words(n: NoiseKind) -> Option<String> {
    match n {
        NoiseKind::None => None,
        NoiseKind::Masking { keep } => Some(format!("masking: {:.0} % of pixels set to 0", 100.0 * (1.0 - keep))),
        NoiseKind::Gaussian { sigma } => Some(format!("Gaussian noise, σ = {sigma:.2}")),
        NoiseKind::SaltPepper { p } => Some(format!("salt and pepper: {:.0} % of pixels", 100.0 * p)),
        NoiseKind::Dropout { keep } => Some(format!("input dropout: {:.0} % dropped", 100.0 * (1.0 - keep))),
    }
}

fn loss_words(cfg: &ModelConfig) -> &'static str {
    match cfg.loss {
        LossKind::BceLogits if cfg.variational => "cross-entropy + KL",
        LossKind::BceLogits => "cross-entropy",
        LossKind::HalfSse => "squared error",
        LossKind::Mse => "mean squared error",
        LossKind::SoftmaxCe => "softmax: digit 0–9",
    }
}

/// The SVG of a model; `frozen`: how many of its first layers a recipe's phase does not
/// train (drawn grey), with `below` the widths under its input that an inner phase builds
/// on (drawn grey, left of the model).
pub fn svg(cfg: &ModelConfig, frozen_below: &[usize]) -> String {
    let dims = &cfg.dims;
    let max = dims.iter().chain(frozen_below).copied().max().unwrap_or(1).max(1) as f64;
    let n_blocks = frozen_below.len() + dims.len();
    let (w, h) = (320.0, 150.0);
    let (top, mid) = (22.0, 76.0);
    let slot = (w - 16.0) / n_blocks as f64;
    let bw = (slot * 0.42).clamp(10.0, 30.0);
    let height = |d: usize| 10.0 + 78.0 * (d as f64 / max).sqrt();
    let code = cfg.code_layer();
    let mut out = String::new();
    out.push_str(&format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-labelledby="model-svg-title" class="model-svg"><title id="model-svg-title">{}</title>"#,
        esc(&describe(cfg))
    ));
    let x_of = |i: usize| 8.0 + slot * (i as f64 + 0.5);
    let mut i = 0;
    for &d in frozen_below {
        let hh = height(d);
        out.push_str(&format!(r##"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{hh:.1}" rx="4" fill="#e5e7eb" stroke="#9ca3af"/>"##, x_of(i) - bw / 2.0, mid - hh / 2.0));
        out.push_str(&format!(r##"<text x="{:.1}" y="{:.1}" class="w">{d}</text>"##, x_of(i), mid + hh / 2.0 + 11.0));
        i += 1;
    }
    if !frozen_below.is_empty() {
        out.push_str(&format!(r##"<text x="{:.1}" y="{:.1}" class="note" text-anchor="middle">frozen, trained before</text>"##, (x_of(0) + x_of(i - 1)) / 2.0, top - 10.0));
    }
    let first = i;
    for (l, &d) in dims.iter().enumerate() {
        let x = x_of(i);
        let hh = height(d);
        let frozen = false;
        let (fill, stroke) = if l == 0 || l + 1 == dims.len() {
            ("#dbeafe", "#2563eb")
        } else if l == code {
            ("#fde68a", "#b45309")
        } else {
            ("#ede9fe", "#7c3aed")
        };
        let (fill, stroke) = if frozen { ("#e5e7eb", "#9ca3af") } else { (fill, stroke) };
        if cfg.variational && l == code {
            // μ and log σ² side by side, then the sampled code.
            let half = hh / 2.0 - 2.0;
            out.push_str(&format!(r##"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{half:.1}" rx="4" fill="{fill}" stroke="{stroke}"/>"##, x - bw / 2.0, mid - hh / 2.0));
            out.push_str(&format!(r##"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{half:.1}" rx="4" fill="{fill}" stroke="{stroke}"/>"##, x - bw / 2.0, mid + 2.0));
            out.push_str(&format!(r##"<text x="{x:.1}" y="{:.1}" class="in">μ</text><text x="{x:.1}" y="{:.1}" class="in">σ</text>"##, mid - hh / 4.0 + 4.0, mid + hh / 4.0 + 4.0));
            out.push_str(&format!(r##"<text x="{x:.1}" y="{:.1}" class="note">z = μ + σ·ε</text>"##, mid - hh / 2.0 - 6.0));
        } else {
            out.push_str(&format!(r##"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{hh:.1}" rx="4" fill="{fill}" stroke="{stroke}"/>"##, x - bw / 2.0, mid - hh / 2.0));
        }
        let label = if l == 0 && d == 784 {
            "784 pixels".to_string()
        } else if l + 1 == dims.len() && d == 784 {
            "784 pixels".to_string()
        } else if l == code && l != 0 && l + 1 != dims.len() {
            format!("{d} code")
        } else {
            d.to_string()
        };
        out.push_str(&format!(r##"<text x="{x:.1}" y="{:.1}" class="w">{}</text>"##, mid + hh / 2.0 + 11.0, esc(&label)));
        if let Some(sp) = cfg.sparsity.filter(|sp| sp.layer + 1 == l) {
            out.push_str(&format!(r##"<text x="{x:.1}" y="{:.1}" class="note">sparse: mean → ρ = {}</text>"##, mid - hh / 2.0 - 6.0, sp.rho));
        }
        // The arrow into this layer, with the layer's activation.
        if l > 0 {
            let x0 = x_of(i - 1) + bw / 2.0 + 2.0;
            let x1 = x - bw / 2.0 - 2.0;
            out.push_str(&format!(r##"<line x1="{x0:.1}" y1="{mid}" x2="{x1:.1}" y2="{mid}" class="arrow" marker-end="url(#head)"/>"##));
            let act = activation(cfg.activations[l - 1]);
            let narrow = if x1 - x0 < 30.0 { " narrow" } else { "" };
            out.push_str(&format!(r##"<text x="{:.1}" y="{:.1}" class="act{narrow}">{act}</text>"##, (x0 + x1) / 2.0, mid - 4.0));
        }
        i += 1;
    }
    // The noise on the input, the loss at the output, tied weights.
    if let Some(n) = noise_words(cfg.noise) {
        out.push_str(&format!(r##"<text x="{:.1}" y="{:.1}" class="note left">noise in training: {}</text>"##, x_of(first) - bw / 2.0, h - 4.0, esc(&n)));
    }
    out.push_str(&format!(r##"<text x="{:.1}" y="{top:.1}" class="note right">{}</text>"##, w - 4.0, loss_words(cfg)));
    if cfg.tied {
        out.push_str(&format!(
            r##"<text x="{:.1}" y="{:.1}" class="note">decoder weights = encoder weightsᵀ (tied)</text>"##,
            (x_of(first) + x_of(i - 1)) / 2.0,
            top - 10.0
        ));
    }
    out.push_str(r##"<defs><marker id="head" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#6b7280"/></marker></defs>"##);
    out.push_str("</svg>");
    out
}

/// The model in one sentence (the SVG's title, read by screen readers).
pub fn describe(cfg: &ModelConfig) -> String {
    let widths: Vec<String> = cfg.dims.iter().map(|d| d.to_string()).collect();
    let acts: Vec<&str> = cfg.activations.iter().map(|&a| activation(a)).collect();
    let mut s = format!("Layers {} with {} activations; loss: {}", widths.join(" → "), acts.join(", "), loss_words(cfg));
    if let Some(n) = noise_words(cfg.noise) {
        s.push_str(&format!("; {n}"));
    }
    if cfg.tied {
        s.push_str("; tied weights");
    }
    if cfg.variational {
        s.push_str("; a variational code");
    }
    s
}
