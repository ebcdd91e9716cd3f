// Fused bias + activation and its backward (the functions are in act.wgsl, prepended).

struct Params {
    len: u32, cols: u32, act: u32, _pad: u32,
    x_off: u32, bias_off: u32, out_off: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// out = act(x + bias[col])
@compute @workgroup_size(256)
fn bias_act_forward(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    out[P.out_off + i] = activate(P.act, x[P.x_off + i] + bias[P.bias_off + i % P.cols]);
}

// dz = dy ⊙ act'(y): here x = dy, bias = y (the layer output), out = dz
@compute @workgroup_size(256)
fn act_backward(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    out[P.out_off + i] = x[P.x_off + i] * derivative(P.act, bias[P.bias_off + i]);
}
