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
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }
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
            for (var i = 0u; i < 4u; i++) {
                acc[i * 4u + 0u] += av[i] * bv[0];
                acc[i * 4u + 1u] += av[i] * bv[1];
                acc[i * 4u + 2u] += av[i] * bv[2];
                acc[i * 4u + 3u] += av[i] * bv[3];
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let gi = row0 + lid.y * 4u + i;
        if (gi >= P.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let gj = col0 + lid.x * 4u + j;
            if (gj < P.n) {
                let at = P.c_off + gi * P.n + gj;
                if (P.accumulate != 0u) { c[at] = c[at] + acc[i * 4u + j]; } else { c[at] = acc[i * 4u + j]; }
            }
        }
    }
}
