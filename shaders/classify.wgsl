// Classifier support: the per-row test of whether the largest output is at the label
// (accuracy), plus the sparsity penalty's gradient.

struct Params {
    rows: u32, cols: u32, a_off: u32, b_off: u32,
    out_off: u32, _pad: u32, rho: f32, beta: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn argmax_row(off: u32, isb: bool) -> u32 {
    var best = 0u;
    var bv = 0.0;
    for (var j = 0u; j < P.cols; j++) {
        var v: f32;
        if (isb) { v = b[off + j]; } else { v = a[off + j]; }
        if (j == 0u || v > bv) { best = j; bv = v; }
    }
    return best;
}

// out[r] = 1 if argmax(a[r, :]) == argmax(b[r, :]) else 0 (ties: the first).
@compute @workgroup_size(64)
fn argmax_correct(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= P.rows) { return; }
    let same = argmax_row(P.a_off + r * P.cols, false) == argmax_row(P.b_off + r * P.cols, true);
    out[P.out_off + r] = select(0.0, 1.0, same);
}

// out (dy, rows × cols) += β·(−ρ/ρ̂ + (1−ρ)/(1−ρ̂))/rows per column, ρ̂ = a[c] / rows
// (a = column sums of the layer's activations), clamped to [1e-6, 1 − 1e-6].
@compute @workgroup_size(256)
fn sparsity_grad(ids: Flat) {
    let i = index(ids);
    if (i >= P.rows * P.cols) { return; }
    let c = i % P.cols;
    let n = f32(P.rows);
    let q = clamp(a[P.a_off + c] / n, 1e-6, 1.0 - 1e-6);
    out[P.out_off + i] += P.beta * (-P.rho / q + (1.0 - P.rho) / (1.0 - q)) / n;
}
