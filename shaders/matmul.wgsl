// Matrix products C[m×n] = op(A)·op(B) and what is fused onto them, one dispatch each.
// Transposes are strides, so the forward product and both backward products use the same
// code. This file holds what every kernel variant shares: the parameter block, the
// bindings, and the five entry points, which differ only in their epilogue:
//   matmul           C = P (+ C if accumulate)
//   linear_forward   C = act(P + bias[j])             (aux: the bias)
//   linear_backward  C = P ⊙ act'(y)                  (aux: the previous layer's output y)
//   matmul_sgd       W −= lr · (P + l2·W), and b −= lr · Σ_p op(B)[p, j] when has_bias:
//                    the weight gradient Aᵀ·dZ applied to the weights without being
//                    stored (C = the parameters), as the CPU's gemm::sgemm_packed_sgd does
//   matmul_adam      the same gradients through Adam (optim.wgsl's adam_step), with the
//                    moments m, v in the parameters' layout (m[i + m_shift], v[i + v_shift])
// where P is the product. gpu::kernels builds one module per variant: a header of
// constants (TM rows per block, WGX×WGY invocations per workgroup, BK), act.wgsl, this
// file and one variant body (matmul_tiled, matmul_direct, or matmul_ksplit with
// matmul_ksplit_sum or matmul_ksplit_subgroup), which defines `struct Ids` (the entry
// points' builtins) and `fn product(ids: Ids) -> Tile`.
//
// Unrolled by gpu::kernels::unroll: a line with `$r` is repeated for r = 0 .. TM−1 (with
// `$r/4` and `$r%4` for r's vec4 and lane), one with `$q` for q = 0 .. TM/4−1, one with
// `$j` for j = 0 .. 3. Every accumulator is then a plain variable, which keeps it in
// registers on compilers that do not unroll loops or split arrays (SwiftShader's).

struct Params {
    m: u32, k: u32, n: u32, accumulate: u32,
    a_off: u32, b_off: u32, c_off: u32, aux_off: u32,
    // element (i, p) of op(A) is a[a_off + i*rsa + p*csa]; (p, j) of op(B) is b[b_off + p*rsb + j*csb]
    rsa: u32, csa: u32, rsb: u32, csb: u32,
    act: u32, bias_off: u32, has_bias: u32, lr: f32,
    // matmul_sgd / matmul_adam: the L2 term's weight; Adam: β1, β2, ε, √(1−β2ᵗ), and where
    // the moments of parameter i are (lr is Adam's lr/(1−β1ᵗ))
    l2: f32, beta1: f32, beta2: f32, eps: f32,
    sqrt_bc2: f32, m_shift: u32, v_shift: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;
@group(0) @binding(5) var<storage, read_write> mom1: array<f32>;
@group(0) @binding(6) var<storage, read_write> mom2: array<f32>;

// What one invocation produced: rows row .. row+rows-1 (at most TM), columns col .. col+3
// of the product (acc$r is row r); `live` is false for invocations that write nothing.
struct Tile {
    acc$r: vec4<f32>,
    row: u32,
    rows: u32,
    col: u32,
    live: bool,
}

fn a_at(i: u32, p: u32) -> f32 {
    return a[P.a_off + i * P.rsa + p * P.csa];
}

fn b_at(p: u32, j: u32) -> f32 {
    return b[P.b_off + p * P.rsb + j * P.csb];
}

// Four columns of row p of op(B) from column j (clamped to the last column: the
// invocations past the edge compute values they never store).
fn b_row4(p: u32, j: u32) -> vec4<f32> {
    let last = P.n - 1u;
    return vec4<f32>(b_at(p, min(j, last)), b_at(p, min(j + 1u, last)), b_at(p, min(j + 2u, last)), b_at(p, min(j + 3u, last)));
}

// Rows of the tile inside C.
fn rows_in(t: Tile) -> u32 {
    return min(t.rows, P.m - min(t.row, P.m));
}

// The epilogues, by the entry point that runs them.
const MATMUL: u32 = 0u;
const FORWARD: u32 = 1u;
const BACKWARD: u32 = 2u;
const SGD: u32 = 3u;
const ADAM: u32 = 4u;

// Adam on parameter i (in c) with gradient g, as optim.wgsl's adam_step.
fn adam(i: u32, g: f32) {
    let mi = P.beta1 * mom1[i + P.m_shift] + (1.0 - P.beta1) * g;
    let vi = P.beta2 * mom2[i + P.v_shift] + (1.0 - P.beta2) * g * g;
    mom1[i + P.m_shift] = mi;
    mom2[i + P.v_shift] = vi;
    c[i] = c[i] - P.lr * mi / (sqrt(vi) / P.sqrt_bc2 + P.eps);
}

// Element (i, j) of the product is v: what `epilogue` does with it.
fn finish_one(epilogue: u32, i: u32, j: u32, v: f32) {
    let at = P.c_off + i * P.n + j;
    switch epilogue {
        case FORWARD: { c[at] = activate(P.act, v + aux[P.aux_off + j]); }
        case BACKWARD: { c[at] = v * derivative(P.act, aux[P.aux_off + i * P.n + j]); }
        case SGD: { c[at] = c[at] - P.lr * (v + P.l2 * c[at]); }
        case ADAM: { adam(at, v + P.l2 * c[at]); }
        default: { var x = v; if (P.accumulate != 0u) { x += c[at]; } c[at] = x; }
    }
}

// Row i of the product from column j0: four values, those inside C.
fn finish_row(epilogue: u32, i: u32, j0: u32, v: vec4<f32>) {
    if (j0 + $ju < P.n) { finish_one(epilogue, i, j0 + $ju, v[$j]); }
}

// Column sums of op(B) for the four columns from j: the bias gradient of a weight
// gradient Aᵀ·dZ.
fn column_sums(j: u32) -> vec4<f32> {
    var s = vec4<f32>(0.0);
    for (var p = 0u; p < P.k; p++) { s += b_row4(p, j); }
    return s;
}

fn finish(t: Tile, epilogue: u32) {
    if (!t.live) { return; }
    let rows = rows_in(t);
    if ($ru < rows) { finish_row(epilogue, t.row + $ru, t.col, t.acc$r); }
    // The bias of a fused update: one invocation per column block, the one holding row 0.
    if ((epilogue == SGD || epilogue == ADAM) && P.has_bias != 0u && t.row == 0u) {
        let s = column_sums(t.col);
        let at = P.bias_off + t.col;
        if (t.col + $ju < P.n && epilogue == SGD) { c[at + $ju] = c[at + $ju] - P.lr * s[$j]; }
        if (t.col + $ju < P.n && epilogue == ADAM) { adam(at + $ju, s[$j]); }
    }
}

@compute @workgroup_size(WGX, WGY)
fn matmul(ids: Ids) {
    finish(product(ids), MATMUL);
}

@compute @workgroup_size(WGX, WGY)
fn linear_forward(ids: Ids) {
    finish(product(ids), FORWARD);
}

@compute @workgroup_size(WGX, WGY)
fn linear_backward(ids: Ids) {
    finish(product(ids), BACKWARD);
}

@compute @workgroup_size(WGX, WGY)
fn matmul_sgd(ids: Ids) {
    finish(product(ids), SGD);
}

@compute @workgroup_size(WGX, WGY)
fn matmul_adam(ids: Ids) {
    finish(product(ids), ADAM);
}
