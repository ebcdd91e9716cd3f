// Tiled matrix multiply: C[m×n] = op(A)·op(B) (+ C). Transposes are strides, so the
// forward product and both backward products (Aᵀ·B, A·Bᵀ) use this one kernel.
// A 16×16 workgroup computes a 64×64 tile of C, each thread a 4×4 block, staging 16-deep
// slices of A and B in workgroup memory.

struct Params {
    m: u32, k: u32, n: u32, accumulate: u32,
    a_off: u32, b_off: u32, c_off: u32, _pad: u32,
    // element (i, p) of op(A) is a[a_off + i*rsa + p*csa]; (p, j) of op(B) is b[b_off + p*rsb + j*csb]
    rsa: u32, csa: u32, rsb: u32, csb: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 64u;
const DEPTH: u32 = 16u;

var<workgroup> a_tile: array<f32, 1024>; // [DEPTH][TILE]: a_tile[p*64 + i]
var<workgroup> b_tile: array<f32, 1024>; // [DEPTH][TILE]: b_tile[p*64 + j]

@compute @workgroup_size(16, 16)
fn matmul_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let t = lid.y * 16u + lid.x;
    // Row i of this thread's 4×4 block of C is acc[i] (registers, no indexed arrays).
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var p0 = 0u; p0 < P.k; p0 += DEPTH) {
        for (var s = 0u; s < 4u; s++) {
            let e = t + s * 256u;
            // A tile: 64 rows × 16 depth. Pick the walk so neighbouring threads read
            // neighbouring addresses whichever way A is stored.
            var ai: u32; var ap: u32;
            if (P.csa == 1u) { ai = e / DEPTH; ap = e % DEPTH; } else { ai = e % TILE; ap = e / TILE; }
            let gi = row0 + ai;
            let gp = p0 + ap;
            var av = 0.0;
            if (gi < P.m && gp < P.k) { av = a[P.a_off + gi * P.rsa + gp * P.csa]; }
            a_tile[ap * TILE + ai] = av;
            var bp: u32; var bj: u32;
            if (P.csb == 1u) { bp = e / TILE; bj = e % TILE; } else { bj = e / DEPTH; bp = e % DEPTH; }
            let gj = col0 + bj;
            let gq = p0 + bp;
            var bv = 0.0;
            if (gj < P.n && gq < P.k) { bv = b[P.b_off + gq * P.rsb + gj * P.csb]; }
            b_tile[bp * TILE + bj] = bv;
        }
        workgroupBarrier();
        for (var p = 0u; p < DEPTH; p++) {
            let av = vec4<f32>(a_tile[p * TILE + lid.y * 4u], a_tile[p * TILE + lid.y * 4u + 1u],
                               a_tile[p * TILE + lid.y * 4u + 2u], a_tile[p * TILE + lid.y * 4u + 3u]);
            let bv = vec4<f32>(b_tile[p * TILE + lid.x * 4u], b_tile[p * TILE + lid.x * 4u + 1u],
                               b_tile[p * TILE + lid.x * 4u + 2u], b_tile[p * TILE + lid.x * 4u + 3u]);
            acc0 += av.x * bv;
            acc1 += av.y * bv;
            acc2 += av.z * bv;
            acc3 += av.w * bv;
        }
        workgroupBarrier();
    }
    store_row(row0 + lid.y * 4u, col0 + lid.x * 4u, acc0);
    store_row(row0 + lid.y * 4u + 1u, col0 + lid.x * 4u, acc1);
    store_row(row0 + lid.y * 4u + 2u, col0 + lid.x * 4u, acc2);
    store_row(row0 + lid.y * 4u + 3u, col0 + lid.x * 4u, acc3);
}

// Writes (or adds) four consecutive elements of row gi of C starting at column gj.
fn store_row(gi: u32, gj: u32, v: vec4<f32>) {
    if (gi >= P.m) { return; }
    for (var j = 0u; j < 4u; j++) {
        if (gj + j < P.n) {
            let at = P.c_off + gi * P.n + gj + j;
            if (P.accumulate != 0u) { c[at] = c[at] + v[j]; } else { c[at] = v[j]; }
        }
    }
}

// The same product without workgroup memory or barriers: each invocation reads its rows of
// A and columns of B straight from the buffers and keeps a 4×4 block of C in registers.
// Picked on software adapters (lavapipe, SwiftShader), where a barrier costs a context
// switch between emulated invocations and caches do the staging that workgroup memory
// does on a real GPU.
@compute @workgroup_size(8, 8)
fn matmul_direct(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i0 = gid.y * 4u;
    let j0 = gid.x * 4u;
    if (i0 >= P.m || j0 >= P.n) { return; }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let ir = vec4<u32>(min(i0, P.m - 1u), min(i0 + 1u, P.m - 1u), min(i0 + 2u, P.m - 1u), min(i0 + 3u, P.m - 1u));
    let jc = vec4<u32>(min(j0, P.n - 1u), min(j0 + 1u, P.n - 1u), min(j0 + 2u, P.n - 1u), min(j0 + 3u, P.n - 1u));
    for (var p = 0u; p < P.k; p++) {
        let av = vec4<f32>(a[P.a_off + ir.x * P.rsa + p * P.csa], a[P.a_off + ir.y * P.rsa + p * P.csa],
                           a[P.a_off + ir.z * P.rsa + p * P.csa], a[P.a_off + ir.w * P.rsa + p * P.csa]);
        let bv = vec4<f32>(b[P.b_off + p * P.rsb + jc.x * P.csb], b[P.b_off + p * P.rsb + jc.y * P.csb],
                           b[P.b_off + p * P.rsb + jc.z * P.csb], b[P.b_off + p * P.rsb + jc.w * P.csb]);
        acc0 += av.x * bv;
        acc1 += av.y * bv;
        acc2 += av.z * bv;
        acc3 += av.w * bv;
    }
    store_row(i0, j0, acc0);
    store_row(i0 + 1u, j0, acc1);
    store_row(i0 + 2u, j0, acc2);
    store_row(i0 + 3u, j0, acc3);
}
