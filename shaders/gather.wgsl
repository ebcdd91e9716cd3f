// Builds a batch from a dataset on the GPU: out[r, j] = data[idx[r], j] / 255.
// The dataset is packed 4 pixels per u32 (little-endian); idx lives in the per-submission
// upload arena at idx_off.

struct Params {
    len: u32, dim: u32, idx_off: u32, out_off: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// Byte b of the packed dataset.
fn byte_at(b: u32) -> u32 {
    return (data[b >> 2u] >> ((b & 3u) * 8u)) & 255u;
}

@compute @workgroup_size(256)
fn gather_forward(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    let r = i / P.dim;
    let j = i % P.dim;
    out[P.out_off + i] = f32(byte_at(idx[P.idx_off + r] * P.dim + j)) * (1.0 / 255.0);
}

// A float dataset (cached codes, synthetic points): out[r, j] = data[idx[r], j].
@compute @workgroup_size(256)
fn gather_f32(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    let r = i / P.dim;
    let j = i % P.dim;
    out[P.out_off + i] = bitcast<f32>(data[idx[P.idx_off + r] * P.dim + j]);
}

// One-hot targets from u8 labels (one per row, packed 4 per word): out[r, c] = 1 where
// c = label of idx[r], else 0. dim = number of classes.
@compute @workgroup_size(256)
fn gather_onehot(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    let r = i / P.dim;
    let c = i % P.dim;
    out[P.out_off + i] = select(0.0, 1.0, byte_at(idx[P.idx_off + r]) == c);
}
