// Reconstruction losses with their gradients, one workgroup per row: the per-row loss is
// reduced in workgroup memory. Kinds match core::config::LossKind: 0 BCE with logits,
// 1 half sum of squares, 2 mean squared error, 3 softmax cross-entropy (against a one-hot
// or any non-negative target row: loss Σ t·(lse − z), gradient p·Σt − t).

struct Params {
    rows: u32, cols: u32, kind: u32, scale: f32,
    out_off: u32, target_off: u32, dout_off: u32, loss_off: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;

var<workgroup> partial: array<f32, 256>;

fn softplus(v: f32) -> f32 {
    return max(v, 0.0) + log(1.0 + exp(-abs(v)));
}

// Workgroup reductions of one value per thread (uniform control flow: P.kind is uniform).
fn reduce_max(v: f32, l: u32) -> f32 {
    partial[l] = v;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
        if (l < w) { partial[l] = max(partial[l], partial[l + w]); }
        workgroupBarrier();
    }
    let m = partial[0];
    workgroupBarrier();
    return m;
}

fn reduce_sum(v: f32, l: u32) -> f32 {
    partial[l] = v;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
        if (l < w) { partial[l] += partial[l + w]; }
        workgroupBarrier();
    }
    let m = partial[0];
    workgroupBarrier();
    return m;
}

fn softmax_ce(r: u32, l: u32) {
    let base = r * P.cols;
    var m = -3.4e38;
    for (var j = l; j < P.cols; j += 256u) { m = max(m, z[P.out_off + base + j]); }
    m = reduce_max(m, l);
    var se = 0.0;
    var ts = 0.0;
    for (var j = l; j < P.cols; j += 256u) {
        se += exp(z[P.out_off + base + j] - m);
        ts += tgt[P.target_off + base + j];
    }
    se = reduce_sum(se, l);
    ts = reduce_sum(ts, l);
    let lse = m + log(se);
    var s = 0.0;
    for (var j = l; j < P.cols; j += 256u) {
        let zv = z[P.out_off + base + j];
        let t = tgt[P.target_off + base + j];
        s += t * (lse - zv);
        dout[P.dout_off + base + j] = P.scale * (exp(zv - lse) * ts - t);
    }
    s = reduce_sum(s, l);
    if (l == 0u) { row_loss[P.loss_off + r] = s; }
}

@compute @workgroup_size(256)
fn loss_forward_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let r = wid.x;
    if (P.kind == 3u) {
        softmax_ce(r, lid.x);
        return;
    }
    var s = 0.0;
    let inv_cols = 1.0 / f32(P.cols);
    for (var j = lid.x; j < P.cols; j += 256u) {
        let zv = z[P.out_off + r * P.cols + j];
        let xv = tgt[P.target_off + r * P.cols + j];
        var g: f32;
        switch P.kind {
            case 0u: {
                s += softplus(zv) - xv * zv;
                g = 1.0 / (1.0 + exp(-zv)) - xv;
            }
            case 1u: {
                let d = zv - xv;
                s += 0.5 * d * d;
                g = d;
            }
            default: {
                let d = zv - xv;
                s += d * d * inv_cols;
                g = 2.0 * d * inv_cols;
            }
        }
        dout[P.dout_off + r * P.cols + j] = P.scale * g;
    }
    partial[lid.x] = s;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
        if (lid.x < w) { partial[lid.x] += partial[lid.x + w]; }
        workgroupBarrier();
    }
    if (lid.x == 0u) { row_loss[P.loss_off + r] = partial[0]; }
}
