// Reductions: column sums (bias gradients) and a total into one element (loss sums).

struct Params {
    rows: u32, cols: u32, accumulate: u32, _pad: u32,
    src_off: u32, dst_off: u32, _pad2: u32, _pad3: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> partial: array<f32, 256>;

// dst[c] (+)= Σ_r src[r, c]: one thread per column
@compute @workgroup_size(256)
fn bias_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if (c >= P.cols) { return; }
    var s = 0.0;
    for (var r = 0u; r < P.rows; r++) { s += src[P.src_off + r * P.cols + c]; }
    if (P.accumulate != 0u) { dst[P.dst_off + c] += s; } else { dst[P.dst_off + c] = s; }
}

// dst[0] (+)= Σ src[0 .. rows]: one workgroup
@compute @workgroup_size(256)
fn sum_into(@builtin(local_invocation_id) lid: vec3<u32>) {
    var s = 0.0;
    for (var i = lid.x; i < P.rows; i += 256u) { s += src[P.src_off + i]; }
    partial[lid.x] = s;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
        if (lid.x < w) { partial[lid.x] += partial[lid.x + w]; }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        if (P.accumulate != 0u) { dst[P.dst_off] += partial[0]; } else { dst[P.dst_off] = partial[0]; }
    }
}
