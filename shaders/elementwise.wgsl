// Element-wise ops over flat buffers: the SGD step and copies.

struct Params {
    len: u32, a_off: u32, out_off: u32, lr: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// out (params) −= lr · a (grads)
@compute @workgroup_size(256)
fn sgd_step(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    out[P.out_off + i] -= P.lr * a[P.a_off + i];
}

// out = a
@compute @workgroup_size(256)
fn copy(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    out[P.out_off + i] = a[P.a_off + i];
}
