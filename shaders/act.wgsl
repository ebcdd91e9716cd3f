// Activation functions and their derivatives, shared by activation.wgsl and the matmul
// epilogues (a library file: gpu::kernels prepends it, it has no entry points). Codes
// match core::config::Activation::code: 0 identity, 1 sigmoid, 2 tanh, 3 relu, 4 elu.

fn activate(act: u32, v: f32) -> f32 {
    switch act {
        case 1u: { return 1.0 / (1.0 + exp(-v)); }
        case 2u: { return tanh(v); }
        case 3u: { return max(v, 0.0); }
        case 4u: { if (v > 0.0) { return v; } return exp(v) - 1.0; }
        default: { return v; }
    }
}

// act'(x) written in terms of the output y = act(x)
fn derivative(act: u32, y: f32) -> f32 {
    switch act {
        case 1u: { return y * (1.0 - y); }
        case 2u: { return 1.0 - y * y; }
        case 3u: { return select(0.0, 1.0, y > 0.0); }
        case 4u: { return select(y + 1.0, 1.0, y > 0.0); }
        default: { return 1.0; }
    }
}
