// Optimizer passes over the flat parameter buffer (moments share its layout): the L2 term
// folded into a gradient (axpy), SGD with momentum and Adam, PyTorch semantics. The Adam
// bias corrections are computed once per step on the host (core::ops::adam_scalars).

struct Params {
    len: u32, x_off: u32, y_off: u32, m_off: u32,
    v_off: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    // rate: axpy's a, momentum's lr, Adam's step lr/(1−β1ᵗ); beta1: the momentum, or
    // Adam's β1; Adam's β2, ε and √(1−β2ᵗ)
    rate: f32, beta1: f32, beta2: f32, eps: f32,
    sqrt_bc2: f32, _pad3: f32, _pad4: f32, _pad5: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
// x: the gradient (or, for axpy, the decayed weights)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// y: the parameters (or, for axpy, the gradient)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// first moment (momentum: the velocity)
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
// second moment
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

// y += rate · x
@compute @workgroup_size(256)
fn axpy(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    y[P.y_off + i] += P.rate * x[P.x_off + i];
}

// vel = beta1 · vel + g; p −= rate · vel
@compute @workgroup_size(256)
fn momentum_step(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    let vel = P.beta1 * m[P.m_off + i] + x[P.x_off + i];
    m[P.m_off + i] = vel;
    y[P.y_off + i] -= P.rate * vel;
}

// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= step · m / (√v / √(1−β2ᵗ) + ε)
@compute @workgroup_size(256)
fn adam_step(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    let g = x[P.x_off + i];
    let mi = P.beta1 * m[P.m_off + i] + (1.0 - P.beta1) * g;
    let vi = P.beta2 * v[P.v_off + i] + (1.0 - P.beta2) * g * g;
    m[P.m_off + i] = mi;
    v[P.v_off + i] = vi;
    y[P.y_off + i] -= P.rate * mi / (sqrt(vi) / P.sqrt_bc2 + P.eps);
}
